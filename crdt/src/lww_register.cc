#include "crdt/lww_register.h"

#include <algorithm>
#include <span>
#include <utility>

namespace crdt {

bool RegisterStore::Beats(const Write& a, const Write& b) { return register_rule::Beats(a, b); }

const RegisterStore::Write* RegisterStore::Winner() const { return register_rule::Winner(writes_); }

void register_rule::SetValue(std::string* to, std::string_view v) {
  // libc++ keeps 22 characters inline, libstdc++ and MSVC 15: 15 fits every one.
  constexpr size_t kInline = 15;
  if (v.size() <= kInline && to->capacity() <= kInline) {
    to->assign(v.data(), v.size());  // assign copes with v inside *to
  } else {
    std::string fresh(v);  // built before *to's buffer goes
    to->swap(fresh);
  }
}

void RegisterStore::Assign(ReplicaId r, int64_t timestamp_us, std::string_view value,
                           CausalContext* cc, RegisterStore* delta, CausalContext* delta_cc) {
  register_rule::Assign<&Write::value>(&writes_, r, timestamp_us, value, cc,
                                       delta ? &delta->writes_ : nullptr, delta_cc);
}

void RegisterStore::Assign(ReplicaId r, int64_t timestamp_us, std::string_view value,
                           CausalContext* cc, WriteDots* written) {
  register_rule::Assign<&Write::value>(&writes_, r, timestamp_us, value, cc,
                                       static_cast<Writes*>(nullptr), written);
}

bool RegisterStore::Clear(RegisterStore* delta, CausalContext* delta_cc) {
  return register_rule::Clear(&writes_, delta ? &delta->writes_ : nullptr, delta_cc);
}

void RegisterStore::Join(const RegisterStore& other, const CausalContext& my_cc,
                         const CausalContext& other_cc) {
  // One write each side (a SET's effect on a key that holds one write): JoinWrite's cases.
  if (this != &other && writes_.size() == 1 && other.writes_.size() == 1) {
    const Write& theirs = other.writes_[0];
    return JoinWrite(theirs.dot, theirs.timestamp_us, theirs.value, my_cc, other_cc);
  }
  register_rule::Join(&writes_, other.writes_, my_cc, other_cc);
}

namespace {

// A write viewed where it is (an effect's bytes): a RegisterStore::Write once it goes in.
struct OneWrite {
  Dot dot;
  int64_t timestamp_us;
  std::string_view value;
  operator RegisterStore::Write() const {  // NOLINT(google-explicit-constructor)
    return RegisterStore::Write{dot, timestamp_us, std::string(value)};
  }
};

}  // namespace

template <typename OtherCc>
void RegisterStore::JoinWrite(const Dot& dot, int64_t timestamp_us, std::string_view value,
                              const CausalContext& my_cc, const OtherCc& other_cc) {
  // CASE 1: one write here: the result is mine, theirs, or both (in place, no temporary).
  if (writes_.size() == 1) {
    Write& mine = writes_[0];
    if (mine.dot == dot) return;  // the same write
    const bool keep_mine = !other_cc.Contains(mine.dot);
    const bool keep_theirs = !my_cc.Contains(dot);
    if (!keep_theirs) {
      // A live register of one write is inline (Assign, Clear and Join free the block at
      // one; only a decode into a reused scratch value keeps it), so this clear() holds no
      // block: no shrink_to_fit.
      if (!keep_mine) writes_.clear();
    } else if (!keep_mine) {
      mine.dot = dot;  // replaced: the value's buffer is reused
      mine.timestamp_us = timestamp_us;
      mine.value.assign(value.data(), value.size());
    } else if (dot < mine.dot) {
      // Theirs goes first: it takes mine's place and mine moves behind it (insert would
      // copy theirs, then rotate the two writes).
      Write theirs{dot, timestamp_us, std::string(value)};
      std::swap(mine, theirs);
      writes_.push_back(std::move(theirs));
    } else {
      writes_.push_back(Write{dot, timestamp_us, std::string(value)});
    }
    return;
  }
  // CASE 2: none here (a new key): theirs, unless I observed it.
  if (writes_.empty()) {
    if (!my_cc.Contains(dot)) writes_.push_back(Write{dot, timestamp_us, std::string(value)});
    return;
  }
  // CASE 3: concurrent writes here. Often theirs observed them all (the next write after
  // a conflict) and I did not observe theirs: theirs alone, back inline, as
  // register_rule::Join leaves it, without its copy of theirs into the block.
  if (!my_cc.Contains(dot)) {
    bool replaced = true;
    for (const Write& w : writes_) replaced &= w.dot != dot && other_cc.Contains(w.dot);
    if (replaced) {
      writes_.clear();
      writes_.shrink_to_fit();
      writes_.push_back(Write{dot, timestamp_us, std::string(value)});
      return;
    }
  }
  // Otherwise register_rule::Join with theirs viewed in place.
  const OneWrite theirs{dot, timestamp_us, value};
  register_rule::Join(&writes_, std::span<const OneWrite>(&theirs, 1), my_cc, other_cc);
}
template void RegisterStore::JoinWrite(const Dot&, int64_t, std::string_view, const CausalContext&,
                                       const CausalContext&);
template void RegisterStore::JoinWrite(const Dot&, int64_t, std::string_view, const CausalContext&,
                                       const ContextDots&);

size_t RegisterStore::HeapBytes() const {
  size_t n = writes_.HeapBytes();
  for (const Write& w : writes_) {
    if (w.value.capacity() > 15) n += w.value.capacity() + 1;
  }
  return n;
}

void RegisterStore::Encode(Encoder* enc) const {
  // Each write's longest form is known before it is written: written unchecked, with room
  // asked per write (a register of many writes does not grow the buffer for all their
  // longest forms at once).
  enc->Commit(Encoder::VarintAt(enc->Room(Encoder::kMaxVarint), writes_.size()));
  for (const Write& w : writes_) {
    char* p = enc->Room(Encoder::kMaxDot + 2 * Encoder::kMaxVarint + w.value.size());
    p = Encoder::DotAt(p, w.dot);
    p = Encoder::SignedAt(p, w.timestamp_us);
    enc->Commit(Encoder::BytesAt(p, w.value));
  }
}

bool RegisterStore::Decode(Decoder* dec) {
  uint64_t n = 0;
  if (!dec->GetCount(&n, 4)) {
    writes_.clear();
    return false;
  }
  // In place: the writes already here (a reused scratch value) take the decoded fields, so
  // their value buffers are reused; no temporary write.
  if (writes_.size() > n) writes_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (i == writes_.size()) writes_.push_back(Write{});
    Write& w = writes_[i];
    std::string_view v;
    if (!dec->GetDot(&w.dot) || !dec->GetSigned(&w.timestamp_us) || !dec->GetBytes(&v)) {
      writes_.clear();
      return false;
    }
    if (i > 0 && !(writes_[i - 1].dot < w.dot)) {
      writes_.clear();
      return dec->Fail("register writes not sorted");
    }
    w.value.assign(v.data(), v.size());
  }
  return true;
}

LwwRegister LwwRegister::Set(std::string_view value, int64_t timestamp_us) {
  LwwRegister delta(self_);
  store_.Assign(self_, timestamp_us, value, &cc_, &delta.store_, &delta.cc_);
  return delta;
}

LwwRegister LwwRegister::Clear() {
  LwwRegister delta(self_);
  store_.Clear(&delta.store_, &delta.cc_);
  return delta;
}

void LwwRegister::Merge(const LwwRegister& other) {
  if (this == &other) return;
  store_.Join(other.store_, cc_, other.cc_);
  cc_.Join(other.cc_);
}

std::optional<std::string> LwwRegister::Value() const {
  const RegisterStore::Write* w = store_.Winner();
  if (w == nullptr) return std::nullopt;
  return w->value;
}

std::string LwwRegister::Encode() const {
  Encoder enc;
  store_.Encode(&enc);
  cc_.Encode(&enc);
  return enc.Release();
}

std::optional<LwwRegister> LwwRegister::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  LwwRegister r;
  if (!r.store_.Decode(&dec) || !r.cc_.Decode(&dec) || !dec.done()) {
    if (error) *error = dec.error().empty() ? "trailing bytes after register" : dec.error();
    return std::nullopt;
  }
  for (const auto& w : r.store_.writes()) {
    if (!r.cc_.Contains(w.dot)) {
      if (error) *error = "register write outside its causal context";
      return std::nullopt;
    }
  }
  return r;
}

}  // namespace crdt
