// PnCounter: a positive-negative counter with observed reset (the counter half of a Redis
// Active/Active string, and of HINCRBY fields).
//
// State: one slot per replica (p, n, bp, bn): p and n are that replica's cumulative
// increments and decrements (monotonic), bp and bn the part of them already cancelled by
// a reset that observed it. Value = sum(p - bp) - sum(n - bn). Join is the pointwise max
// of all four, so it is idempotent, commutative and associative under any delivery order,
// duplication or loss. A reset sets bp := p and bn := n for every slot its replica has
// seen: exactly the observed contributions are cancelled, and increments made
// concurrently elsewhere (a larger p at their replica) survive it.
//
// Bound: Redis Enterprise limits counters to 59 bits so that a sum across sites cannot
// overflow. Increment() refuses (returns false, changes nothing) a step that would take
// the visible value outside [-2^59, 2^59]; merged sums of up to 16 sites stay in int64.
//
// Cost: 5 words per replica that ever incremented, kept after a reset (this is what lets
// a late, duplicated or concurrent increment be told from an observed one).
// Value type; not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/small_vec.h"

namespace crdt {

// Joins `s`, one replica's slot of a PN-style counter (fields replica, p, n, bp, bn), into
// `slots`, kept sorted by replica: a new replica's slot goes in its place, a known one
// takes the pointwise maximum (every field only grows). Shared by the integer counter here
// and the sorted set's score counter (zset.h).
template <typename Slots, typename Slot>
void JoinCounterSlot(Slots* slots, const Slot& s) {
  size_t i = 0;
  while (i < slots->size() && (*slots)[i].replica < s.replica) ++i;
  if (i < slots->size() && (*slots)[i].replica == s.replica) {
    Slot& m = (*slots)[i];
    m.p = std::max(m.p, s.p);
    m.n = std::max(m.n, s.n);
    m.bp = std::max(m.bp, s.bp);
    m.bn = std::max(m.bn, s.bn);
  } else {
    slots->insert(i, s);
  }
}

class PnCounter {
 public:
  static constexpr int64_t kBound = int64_t{1} << 59;

  struct Slot {
    ReplicaId replica;
    uint64_t p, n;    // cumulative increments / decrements by `replica`
    uint64_t bp, bn;  // cancelled part of p / n (bp <= p, bn <= n)
    friend bool operator==(const Slot&, const Slot&) = default;
  };

  PnCounter() = default;
  explicit PnCounter(ReplicaId self) : self_(self) {}

  // Local mutators on a standalone counter: mutate *this and return the delta.
  // Increment returns nullopt (and changes nothing) when the result would leave the bound.
  std::optional<PnCounter> Increment(int64_t by);
  PnCounter Reset();

  // Store-level mutators used by composite values (StringValue, hashes): `base` is added to
  // the counter's value for the bound check. Delta slots are joined into *delta.
  bool IncrementAs(ReplicaId r, int64_t by, int64_t base, PnCounter* delta);
  void ResetInto(PnCounter* delta);

  void Merge(const PnCounter& other);

  int64_t Value() const;
  // True when some contribution is not cancelled (a key holding 0 after INCR, DECR is live).
  bool Live() const;
  bool empty() const { return slots_.empty(); }
  const SmallVec<Slot, 2>& slots() const { return slots_; }
  ReplicaId self() const { return self_; }
  size_t HeapBytes() const { return slots_.HeapBytes(); }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  std::string Encode() const;
  static std::optional<PnCounter> Decode(std::string_view bytes, std::string* error);

  // Equality of replicated state (the local replica id is not state).
  friend bool operator==(const PnCounter& a, const PnCounter& b) { return a.slots_ == b.slots_; }

 private:
  Slot* Find(ReplicaId r);
  void JoinSlot(const Slot& s);

  ReplicaId self_ = 0;
  SmallVec<Slot, 2> slots_;  // sorted by replica
};

}  // namespace crdt
