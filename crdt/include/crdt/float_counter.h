// FloatCounter: the INCRBYFLOAT half of a Redis Active/Active string: increments made in
// different regions add up (concurrent INCRBYFLOAT 1.5 in A and 2.5 in B give 4 everywhere),
// and SET or DEL cancel exactly the increments they observed (an observed reset, as the
// PnCounter of INCRBY).
//
// State: one slot per replica that ever incremented:
//   (seq, total, start)   written only by the slot's replica: `total` is the long double
//                         sum of its increments numbered start+1..seq (its "epoch").
//   (cut_seq, cut_total)  written by any replica that reset the key: the slot's
//                         (seq, total) it observed; increments up to cut_seq are cancelled.
// Contribution of a slot: 0 if cut_seq >= seq; total - cut_total if the cut lies inside the
// epoch (cut_seq > start); total otherwise. Value: the sum of the contributions in replica
// order (long double, as Redis computes INCRBYFLOAT). When its replica increments a fully
// cancelled slot it starts a new epoch (start := seq, total := 0), so a reset counter does
// not carry the rounding of old large totals into new increments.
//
// Join: each replica's (seq, total, start) by the larger seq and (cut_seq, cut_total) by
// the larger cut_seq. Both are functions of their seq (one writer per seq), so the join is
// a pointwise max: idempotent, commutative, associative under any delivery order.
//
// Cost: 6 words per replica that ever incremented, kept after a reset (as PnCounter).
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "crdt/dot.h"
#include "crdt/encoding.h"

namespace crdt {

class FloatCounter {
 public:
  struct Slot {
    ReplicaId replica = 0;
    uint64_t seq = 0, start = 0;
    long double total = 0;
    uint64_t cut_seq = 0;
    long double cut_total = 0;
    long double Contribution() const {
      if (cut_seq >= seq) return 0;
      return cut_seq > start ? total - cut_total : total;
    }
    friend bool operator==(const Slot&, const Slot&) = default;
  };

  // Adds `by` as replica r; the changed slot is joined into *delta (if non-null).
  void IncrementAs(ReplicaId r, long double by, FloatCounter* delta);
  // Cancels every increment observed; every slot is joined into *delta.
  void ResetInto(FloatCounter* delta);
  void Merge(const FloatCounter& other);

  long double Value() const;
  bool Live() const;  // some increment is not cancelled
  bool empty() const { return slots_.empty(); }
  const std::vector<Slot>& slots() const { return slots_; }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const FloatCounter&, const FloatCounter&) = default;

 private:
  void JoinSlot(const Slot& s);
  std::vector<Slot> slots_;  // sorted by replica
};

}  // namespace crdt
