#include "crdt/pn_counter.h"

#include <algorithm>
#include <cassert>
#include <limits>
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

const PnCounter::Slot* PnCounter::Find(ReplicaId r) const {
  for (const Slot& s : slots_) {
    if (s.replica == r) return &s;
    if (s.replica > r) break;
  }
  return nullptr;
}

PnCounter::Slot* PnCounter::Find(ReplicaId r) {
  return const_cast<Slot*>(std::as_const(*this).Find(r));
}

Int128 PnCounter::Value() const {
  Int128 v = 0;  // each term is below 2^64 in magnitude; at most 2^32 of them
  for (const Slot& s : slots_) v += Int128(s.p - s.bp) - Int128(s.n - s.bn);
  return v;
}

bool PnCounter::Live() const {
  for (const Slot& s : slots_) {
    if (s.p != s.bp || s.n != s.bn) return true;
  }
  return false;
}

bool PnCounter::IncrementAs(ReplicaId r, int64_t by, int64_t base, PnCounter* delta,
                            int64_t* result) {
  const Int128 cur = Int128(base) + Value();
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
  Slot* s = Find(r);
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
    *s = next;
  } else {
    JoinSlot(next);
  }
  if (delta) delta->JoinSlot(next);
  return true;
}

std::optional<PnCounter> PnCounter::Increment(int64_t by) {
  std::optional<PnCounter> delta(std::in_place, self_);  // one named result: NRVO, no move
  if (!IncrementAs(self_, by, 0, &*delta)) delta.reset();
  return delta;
}

void PnCounter::ResetInto(PnCounter* delta) {
  for (Slot& s : slots_) {
    s.bp = s.p;
    s.bn = s.n;
    if (delta) delta->JoinSlot(s);
  }
}

PnCounter PnCounter::Reset() {
  PnCounter delta(self_);
  ResetInto(&delta);
  return delta;
}

void PnCounter::Merge(const PnCounter& other) {
  if (this == &other) return;
  for (const Slot& s : other.slots_) JoinSlot(s);
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
  size_t entries = slots_.size();
  for (const Slot& s : slots_) entries += s.epoch != 0 ? 1 : 0;
  // Room per slot: a counter of many slots does not grow the buffer for its longest form.
  enc->Commit(Encoder::VarintAt(enc->Room(Encoder::kMaxVarint), entries));
  ReplicaId prev = 0;
  for (const Slot& s : slots_) {
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
  slots_.clear();
  uint64_t count = 0;
  if (!dec->GetCount(&count, 2)) return false;
  uint64_t replica = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    if (!dec->GetVarint(&delta)) return false;
    if (i > 0 && delta == 0) {  // the previous slot's epoch
      uint64_t epoch = 0;
      if (!dec->GetVarint(&epoch)) return false;
      if (slots_.back().epoch != 0 || epoch == 0 || epoch > UINT32_MAX) {
        return dec->Fail("bad counter epoch");
      }
      slots_.back().epoch = static_cast<uint32_t>(epoch);
      continue;
    }
    // Replicas strictly increase, each within 32 bits: a delta that would pass 2^32 (or
    // wrap 2^64 back to a smaller id: unsorted slots) is malformed.
    if (delta > uint64_t{UINT32_MAX} - replica) return dec->Fail("replica id overflow");
    replica += delta;
    Slot slot{};
    if (!DecodeSlot(dec, replica, &slot)) return false;
    slots_.push_back(slot);  // replicas strictly increasing (checked above): at the end
  }
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
