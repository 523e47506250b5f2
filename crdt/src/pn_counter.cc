#include "crdt/pn_counter.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <limits>
#include <new>
#include <utility>

namespace crdt {

std::string FormatInt128(Int128 v) {
  if (v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max()) {
    return std::to_string(static_cast<int64_t>(v));
  }
  __extension__ typedef unsigned __int128 Uint128;
  Uint128 mag = v < 0 ? Uint128(0) - static_cast<Uint128>(v) : static_cast<Uint128>(v);
  std::string digits;
  for (; mag != 0; mag /= 10) digits.push_back(static_cast<char>('0' + mag % 10));
  if (v < 0) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

bool PnCounter::Admits(Int128 cur, Int128 next) {
  if (next >= -kBound && next <= kBound) return true;  // CASE 1
  if (next > std::numeric_limits<int64_t>::max() || next < std::numeric_limits<int64_t>::min()) {
    return false;  // CASE 3: no 64-bit reply
  }
  return next > kBound ? next <= cur : next >= cur;  // CASE 2, or 3 when it goes farther
}

PnCounter::PnCounter(const PnCounter& o) : self_(o.self_), any_(o.any_) {
  if (o.size_ > 1) {
    const size_t cap = BlockCapacity(o.size_);
    auto* p = static_cast<Slot*>(std::malloc(cap * sizeof(Slot)));
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(static_cast<void*>(p), o.block_.slots, o.size_ * sizeof(Slot));
    block_ = o.block_;  // the ids
    block_.slots = p;
  } else if (o.size_ == 1) {
    one_ = o.one_;
  }  // else one_ stays as built (o's union may hold its freed block's fields)
  size_ = o.size_;
  live_ = o.live_;
  value_[0] = o.value_[0];
  value_[1] = o.value_[1];
}

size_t PnCounter::LowerBound(ReplicaId r) const {
  static_assert(offsetof(PnCounter, one_) == kHotFrom && sizeof(PnCounter) == kBytes);
  if (size_ <= 1) return size_ == 1 && one_.replica < r ? 1 : 0;
  size_t i = 0;
  if (size_ <= kIdsInline) {  // the ids beside the pointer: no line of the block read
    while (i < size_ && block_.ids[i] < r) ++i;
  } else {
    while (i < size_ && block_.slots[i].replica < r) ++i;
  }
  return i;
}

const PnCounter::Slot* PnCounter::Find(ReplicaId r) const {
  const size_t i = LowerBound(r);
  const Slot* s = data() + i;
  return i < size_ && s->replica == r ? s : nullptr;
}

PnCounter::Slot* PnCounter::Find(ReplicaId r) {
  return const_cast<Slot*>(std::as_const(*this).Find(r));
}

void PnCounter::Overwrite(Slot* at, const Slot& s) {
  AddValue(Contribution(s) - Contribution(*at));
  live_ = live_ + (IsLive(s) ? 1 : 0) - (IsLive(*at) ? 1 : 0);
  *at = s;
}

void PnCounter::Insert(size_t i, const Slot& s) {
  const size_t n = size_;
  if (n == UINT32_MAX) throw std::bad_alloc();  // size_ would wrap
  if (n == 0) {
    one_ = s;
    any_ = 1;
  } else if (n == 1 || std::has_single_bit(n)) {  // full: a block twice as large
    auto* p = static_cast<Slot*>(std::malloc(2 * n * sizeof(Slot)));
    if (p == nullptr) throw std::bad_alloc();
    Slot* old = data();
    std::memcpy(static_cast<void*>(p), old, i * sizeof(Slot));
    std::memcpy(static_cast<void*>(p + i + 1), old + i, (n - i) * sizeof(Slot));
    p[i] = s;
    if (n > 1) std::free(old);
    block_.slots = p;
    if (n + 1 <= kIdsInline) {
      for (size_t k = 0; k <= n; ++k) block_.ids[k] = p[k].replica;
    }
  } else {
    Slot* d = block_.slots;
    std::memmove(static_cast<void*>(d + i + 1), d + i, (n - i) * sizeof(Slot));
    d[i] = s;
    if (n + 1 <= kIdsInline) {
      std::memmove(block_.ids + i + 1, block_.ids + i, (n - i) * sizeof(ReplicaId));
      block_.ids[i] = s.replica;
    }
  }
  size_ = static_cast<uint32_t>(n + 1);
  AddValue(Contribution(s));
  live_ += IsLive(s) ? 1 : 0;
}

void PnCounter::Clear() {
  FreeBlock();
  any_ = 0;
  size_ = 0;
  live_ = 0;
  value_[0] = value_[1] = 0;
}

void PnCounter::CheckKept() const {
#ifndef NDEBUG
  Int128 v = 0;  // each term is below 2^64 in magnitude; at most 2^32 of them
  uint32_t live = 0;
  for (const Slot& s : slots()) {
    v += Contribution(s);
    live += IsLive(s) ? 1 : 0;
  }
  assert(v == Value());
  assert(live == live_);
  assert((any_ != 0) == (size_ != 0));
  if (size_ > 1 && size_ <= kIdsInline) {
    for (size_t i = 0; i < size_; ++i) assert(block_.ids[i] == block_.slots[i].replica);
  }
#endif
}

void PnCounter::JoinSlot(const Slot& s) {
  const size_t i = LowerBound(s.replica);
  Slot* m = data() + i;
  if (i < size_ && m->replica == s.replica) {
    Slot joined = *m;
    JoinReplicaSlot(&joined, s);
    Overwrite(m, joined);
  } else {
    Insert(i, s);
  }
  CheckKept();
}

bool PnCounter::IncrementAs(ReplicaId r, int64_t by, int64_t base, PnCounter* delta,
                            int64_t* result) {
  const Int128 cur = Int128(base) + Value();  // kept: no slot read
  const Int128 next = cur + by;
  if (!Admits(cur, next) || !AddAs(r, by, delta)) return false;
  if (result) *result = static_cast<int64_t>(next);  // Admits: it fits
  return true;
}

bool PnCounter::AddAs(ReplicaId r, int64_t by, PnCounter* delta) {
  // A zero step moves both totals, so that it is live as any other increment.
  const uint64_t mag = by >= 0 ? static_cast<uint64_t>(by) : 0 - static_cast<uint64_t>(by);
  const uint64_t up = by > 0 ? mag : by == 0 ? 1 : 0;
  const uint64_t down = by < 0 ? mag : by == 0 ? 1 : 0;
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  const size_t at = LowerBound(r);
  Slot* s = at < size_ && data()[at].replica == r ? data() + at : nullptr;
  Slot next = s ? *s : Slot{r, 0, 0, 0, 0, 0};
  const bool cancelled = s != nullptr && s->p == s->bp && s->n == s->bn;
  if (cancelled && (s->p >= kHalf || s->n >= kHalf) &&
      s->epoch != std::numeric_limits<uint32_t>::max()) {
    // CASE 1: a fully cancelled slot past half its range starts a new life (only its
    // replica does this; see the header).
    next = Slot{r, s->epoch + 1, up, down, 0, 0};
  } else if (__builtin_add_overflow(next.p, up, &next.p) ||
             __builtin_add_overflow(next.n, down, &next.n)) {
    // CASE 2: the life total would pass 2^64: a new life as in CASE 1 if the slot is fully
    // cancelled, else refused.
    if (!cancelled || s->epoch == std::numeric_limits<uint32_t>::max()) return false;
    next = Slot{r, s->epoch + 1, up, down, 0, 0};
  }
  // CASE 3: the slot grows (or starts). Next dominates r's slot here (a later life, or
  // the same with p or n grown), so the join is next itself: written in place, without
  // JoinSlot's second search.
  if (s != nullptr) {
    Overwrite(s, next);
  } else {
    Insert(at, next);
  }
  CheckKept();
  if (delta) delta->JoinSlot(next);
  return true;
}

std::optional<PnCounter> PnCounter::Increment(int64_t by) {
  std::optional<PnCounter> delta(std::in_place, self_);  // one named result: NRVO, no move
  if (!IncrementAs(self_, by, 0, &*delta)) delta.reset();
  return delta;
}

void PnCounter::ResetInto(PnCounter* delta) {
  // The counter first, whole: a delta's join may throw (an allocation) without leaving
  // the kept value and count behind the slots.
  Slot* d = data();
  for (size_t i = 0; i < size_; ++i) {
    d[i].bp = d[i].p;
    d[i].bn = d[i].n;
  }
  live_ = 0;  // every slot cancelled
  value_[0] = value_[1] = 0;
  CheckKept();
  if (delta == nullptr) return;
  for (const Slot& s : slots()) delta->JoinSlot(s);
}

PnCounter PnCounter::Reset() {
  PnCounter delta(self_);
  ResetInto(&delta);
  return delta;
}

void PnCounter::Merge(const PnCounter& other) {
  if (this == &other) return;
  for (const Slot& s : other.slots()) JoinSlot(s);
}

namespace {

// The longest encoding of one slot (PutSlotAt): seven varints.
constexpr size_t kMaxSlotBytes = 7 * Encoder::kMaxVarint;

// One slot's entries of PnCounter::Encode, after the slot of replica prev (0: none), at p
// (Encoder::Room of kMaxSlotBytes); returns the position after them.
char* PutSlotAt(char* p, ReplicaId prev, const PnCounter::Slot& s) {
  p = Encoder::VarintAt(p, s.replica - prev);
  p = Encoder::VarintAt(p, s.p);
  p = Encoder::VarintAt(p, s.n);
  p = Encoder::VarintAt(p, s.p - s.bp);  // usually 0 or small
  p = Encoder::VarintAt(p, s.n - s.bn);
  if (s.epoch != 0) {  // the epoch entry (see the header)
    p = Encoder::VarintAt(p, 0);
    p = Encoder::VarintAt(p, s.epoch);
  }
  return p;
}

}  // namespace

void PnCounter::Encode(Encoder* enc) const {
  size_t entries = size_;
  for (const Slot& s : slots()) entries += s.epoch != 0 ? 1 : 0;
  // Room per slot: a counter of many slots does not grow the buffer for its longest form.
  enc->Commit(Encoder::VarintAt(enc->Room(Encoder::kMaxVarint), entries));
  ReplicaId prev = 0;
  for (const Slot& s : slots()) {
    enc->Commit(PutSlotAt(enc->Room(kMaxSlotBytes), prev, s));
    prev = s.replica;
  }
}

void PnCounter::EncodeSlotOf(Encoder* enc, ReplicaId r) const {
  const Slot* s = Find(r);
  assert(s != nullptr);
  char* p = enc->Room(Encoder::kMaxVarint + kMaxSlotBytes);
  p = Encoder::VarintAt(p, s->epoch != 0 ? 2 : 1);  // Encode's count of entries
  enc->Commit(PutSlotAt(p, 0, *s));
}

bool PnCounter::Decode(Decoder* dec) {
  Clear();
  uint64_t count = 0;
  if (!dec->GetCount(&count, 2)) return false;
  uint64_t replica = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    if (!dec->GetVarint(&delta)) return false;
    if (i > 0 && delta == 0) {  // the previous slot's epoch
      uint64_t epoch = 0;
      if (!dec->GetVarint(&epoch)) return false;
      Slot& last = data()[size_ - 1];
      if (last.epoch != 0 || epoch == 0 || epoch > UINT32_MAX) {
        return dec->Fail("bad counter epoch");
      }
      last.epoch = static_cast<uint32_t>(epoch);  // value and liveness unchanged
      continue;
    }
    // Replicas strictly increase, each within 32 bits: a delta that would pass 2^32 (or
    // wrap 2^64 back to a smaller id) is malformed.
    if (delta > uint64_t{UINT32_MAX} - replica) return dec->Fail("replica id overflow");
    replica += delta;
    Slot slot{};
    if (!DecodeSlot(dec, replica, &slot)) return false;
    Insert(size_, slot);  // replicas strictly increasing (checked above): at the end
  }
  CheckKept();
  return true;
}

std::string PnCounter::Encode() const {
  Encoder enc;
  Encode(&enc);
  return enc.Release();
}

std::optional<PnCounter> PnCounter::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  PnCounter c;
  if (!c.Decode(&dec) || !dec.done()) {
    if (error) *error = dec.error().empty() ? "trailing bytes after counter" : dec.error();
    return std::nullopt;
  }
  return c;
}

}  // namespace crdt
