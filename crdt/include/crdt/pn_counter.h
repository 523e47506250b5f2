// PnCounter: a positive-negative counter with observed reset (the counter half of a Redis
// Active/Active string, and of HINCRBY fields).
//
// State: one slot per replica (epoch, p, n, bp, bn): p and n are that replica's cumulative
// increments and decrements in the slot's life (`epoch`), bp and bn the part of them
// already cancelled by a reset that observed it. Value = sum(p - bp) - sum(n - bn), summed
// exactly in 128 bits (every term is below 2^64 and there are at most 2^32 replicas, so the
// sum cannot wrap). Join, per replica: the later epoch wins whole; within one epoch the
// pointwise max of all four (a lexicographic product of a total order and a lattice), so it
// is idempotent, commutative and associative under any delivery order, duplication or
// loss. A reset sets bp := p and bn := n for every slot its replica has seen: exactly the
// observed contributions are cancelled, and increments made concurrently elsewhere (a
// larger p at their replica) survive it.
//
// Life of a slot: only its replica starts a new epoch, only when its view shows the slot
// fully cancelled (p == bp, n == bn: a SET or DEL observed all it did) and p or n is past
// 2^63 or would pass 2^64. Nothing of the old epoch is visible then, so dropping it loses
// nothing, and a late reset of the old epoch is dominated. So a key that took 2^64 of steps
// works again after DEL or SET (2^63 of room at least); within one life a step taking p or
// n past 2^64 is refused, never wrapped. Ordinary states (p, n < 2^63) never change epoch,
// so they encode as they always did.
//
// Zero steps: INCRBY 0 is an increment like any other in the conflict rules: it adds 1 to
// both p and n of its replica's slot, so the slot is live (the key exists, holding 0 if it
// held nothing) and the value does not move. A concurrent SET 25 then converges to 25 and
// a concurrent DEL leaves 0, as with INCRBY 1 they give 26 and 1.
//
// Bound (Redis Enterprise: counters are 59-bit): Admits() is the rule every integer
// increment is checked against at its origin, on the origin's exact view `cur` and the
// result `next` = cur + by:
//   CASE 1: |next| <= 2^59: accepted.
//   CASE 2: otherwise next must not be farther out than cur (it lies between cur and the
//           range, or equals cur) and must fit int64 (it is the reply): accepted;
//   CASE 3: anything else is refused, changing nothing.
// Concurrent increments in other regions can still take the merged value outside the
// range (two regions each adding 2^59); the value is then shown exactly, never wrapped,
// and only steps back towards the range are accepted.
//
// Cost: 5 words per replica that ever incremented, kept after a reset (this is what lets
// a late, duplicated or concurrent increment be told from an observed one).
// Value type; not thread-safe.
//
// Encoding (canonical; slots sorted by replica):
//   counter := varint(N) N x entry
//   entry   := varint(replica - previous replica) varint(p) varint(n) varint(p - bp)
//              varint(n - bn)                      a slot (epoch 0)
//            | varint(0) varint(epoch)              after a slot: that slot's epoch (> 0)
//   A replica delta of 0 after the first entry never names a slot (slots are strictly
//   increasing), so epochs cost nothing until a slot starts its second life.
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

__extension__ typedef __int128 Int128;  // exact counter sums (GCC and Clang)

// Decimal text of v (as std::to_string does for 64-bit integers).
std::string FormatInt128(Int128 v);

// Joins `s`, one replica's slot of a PN-style counter (fields replica, p, n, bp, bn, and
// optionally epoch), into `slots`, kept sorted by replica: a new replica's slot goes in its
// place; of a known one the later epoch wins whole, and within one epoch the pointwise
// maximum (every field only grows). Shared by the integer counter here and the sorted
// set's score counter (zset.h, no epochs).
template <typename Slots, typename Slot>
void JoinCounterSlot(Slots* slots, const Slot& s) {
  size_t i = 0;
  while (i < slots->size() && (*slots)[i].replica < s.replica) ++i;
  if (i < slots->size() && (*slots)[i].replica == s.replica) {
    Slot& m = (*slots)[i];
    if constexpr (requires { s.epoch; }) {
      if (s.epoch != m.epoch) {
        if (s.epoch > m.epoch) m = s;
        return;
      }
    }
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
    uint32_t epoch;   // the slot's life: 0, then +1 each time `replica` starts it afresh
    uint64_t p, n;    // cumulative increments / decrements by `replica` in this life
    uint64_t bp, bn;  // cancelled part of p / n (bp <= p, bn <= n)
    friend bool operator==(const Slot&, const Slot&) = default;
  };

  PnCounter() = default;
  explicit PnCounter(ReplicaId self) : self_(self) {}

  // The bound rule (see above): true if an origin whose exact view is `cur` may take the
  // value to `next`.
  static bool Admits(Int128 cur, Int128 next);

  // Local mutators on a standalone counter: mutate *this and return the delta.
  // Increment returns nullopt (and changes nothing) when Admits refuses the step or the
  // slot's life total would pass 2^64.
  std::optional<PnCounter> Increment(int64_t by);
  PnCounter Reset();

  // Store-level mutators used by composite values (StringValue, hashes): `base` is added to
  // the counter's value for the bound check, and *result (if non-null) gets base + the new
  // value. Delta slots are joined into *delta. False (nothing changed) as Increment.
  bool IncrementAs(ReplicaId r, int64_t by, int64_t base, PnCounter* delta,
                   int64_t* result = nullptr);
  // The slot arithmetic alone, with no bound check: adds `by` (0: one up and one down) to
  // r's slot, starting a new life if the old one is fully cancelled and would pass 2^64.
  // False (nothing changed) if the life total would pass 2^64.
  bool AddAs(ReplicaId r, int64_t by, PnCounter* delta);
  void ResetInto(PnCounter* delta);

  void Merge(const PnCounter& other);
  // Joins one replica's slot `s` (as Merge with a counter holding only s): an INCRBY's
  // effect joined straight from its bytes, without a decoded counter.
  void JoinSlot(const Slot& s) {
    if (slots_.empty()) {  // CASE 1: a fresh delta, or a key's first increment
      slots_.push_back(s);
      return;
    }
    JoinCounterSlot(&slots_, s);  // CASE 2
  }

  Int128 Value() const;  // exact
  // True when some contribution is not cancelled (a key holding 0 after INCR, DECR is live).
  bool Live() const;
  bool empty() const { return slots_.empty(); }
  // One slot inline (a key incremented in one region); two or more on the heap. Two
  // inline made the string part 160 bytes, 32 more than the set part beside which it
  // lies in a key's node (keyspace.h), and every node of the key map 4 or 5 cache lines
  // instead of 3.
  // The price is paid with two regions (the default): a counter both write has its two
  // slots in an 80-byte heap block, one more dependent miss per read or merge and ~96
  // bytes more per key. Measured (bench/RESULTS.md, "Review of the 3-line node"): with
  // two stores and counters alone, +1.5 L2 misses per op (6.5 -> 8.0); with the
  // sim_bench mix of counters, strings and sets none (8.2 -> 7.9), and with five stores
  // 32.2 -> 28.5. Two slots inline in a 256-byte node (4 lines) gave 6.7, 7.5 and 30.2:
  // it buys back the counters-only case and costs every key a line with five regions.
  using Slots = SmallVec<Slot, 1>;
  const Slots& slots() const { return slots_; }
  ReplicaId self() const { return self_; }
  size_t HeapBytes() const { return slots_.HeapBytes(); }

  void Encode(Encoder* enc) const;
  // Encode's bytes for the counter that holds r's slot alone, as this one holds it (an
  // INCRBY's delta: Keyspace::IncrBy writes its effect from the counter it stepped).
  // REQUIRES: r has a slot here.
  void EncodeSlotOf(Encoder* enc, ReplicaId r) const;
  bool Decode(Decoder* dec);
  // Decode's reads and checks for one slot of `replica` (its id read already, not yet
  // checked): the four counts after the id, into *slot (epoch 0). False on malformed bytes.
  // Dec: a Decoder, or a TryDecoder (an effect's merge, encoding.h).
  // Always inline: a TryDecoder's cursor then stays in registers (not in memory for a call).
  template <typename Dec>
  [[gnu::always_inline]] static bool DecodeSlot(Dec* dec, uint64_t replica, Slot* slot) {
    uint64_t p = 0, n = 0, lp = 0, ln = 0;
    if (!dec->GetVarint(&p) || !dec->GetVarint(&n) || !dec->GetVarint(&lp) ||
        !dec->GetVarint(&ln)) {
      return false;
    }
    if (replica > UINT32_MAX) return dec->Fail("replica id overflow");
    if (lp > p || ln > n) return dec->Fail("counter base above total");
    *slot = Slot{static_cast<ReplicaId>(replica), 0, p, n, p - lp, n - ln};
    return true;
  }
  std::string Encode() const;
  static std::optional<PnCounter> Decode(std::string_view bytes, std::string* error);

  // Equality of replicated state (the local replica id is not state).
  friend bool operator==(const PnCounter& a, const PnCounter& b) { return a.slots_ == b.slots_; }

 private:
  Slot* Find(ReplicaId r);
  const Slot* Find(ReplicaId r) const;

  ReplicaId self_ = 0;
  Slots slots_;  // sorted by replica
};

}  // namespace crdt
