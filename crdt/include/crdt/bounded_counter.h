// BoundedCounter: a counter that never goes below zero under Active/Active, with no round
// trip on the common path (escrow: Balegas et al., "Putting consistency back into eventual
// consistency", SRDS 2015; AntidoteDB's counter_b). A PN-counter plus a matrix of rights:
// each replica may subtract only what it holds rights for, and replicas give rights to each
// other by transfers that replicate like any other change.
//
// State (every cell cumulative, monotonic, written only by the replica in its first column):
//
//   grant (r, r, n)   r added n in total (BC.INCRBY): n more value, n more rights for r
//   grant (r, s, n)   r gave s rights for n in total (BC.TRANSFER), r != s
//   spent (r, n)      r subtracted n in total (BC.DECRBY)
//
//   Rights(r) = grant(r, r) + sum_s grant(s, r) - sum_s grant(r, s) - spent(r)
//   Value     = sum_r grant(r, r) - sum_r spent(r)  (= sum_r Rights(r))
//
// Join is the pointwise max of the cells: idempotent, commutative, associative.
//
// Invariant: Value >= 0 and every Rights(r) >= 0 in every state any replica ever holds,
// under any delivery order, loss, duplication or partition. Decrement and Transfer refuse
// (change nothing) a step beyond the local replica's rights. A delta is the whole state of
// its replica right after the operation (a causal delta, a few words per region pair), so
// every state is a join of states some replica held: r's row in it is r's row at some
// moment t, joined with at least what r knew at t, so Rights(r) there is at least what r
// had at t, never negative; and Value is the sum of the rights. (Per-cell deltas would
// break this: a decrement arriving before the increment or transfer that funded it.)
//
// Crashes: rows are per replica id (site and incarnation). A region that lost its state
// comes back as a new incarnation with no rights; rights held by the lost incarnation stay
// in the value but can never be spent (stranded), which keeps the invariant.
//
// Bound (as PnCounter, whose rule PnCounter::Admits this shares): the value and the rights
// are summed exactly in 128 bits. An increment is checked at its origin, on its exact view:
// refused if it takes the value above 2^59. Concurrent increments in other regions can
// still take the merged value past 2^59 (even past 2^63, with enough regions); it is then
// shown exactly, never wrapped, a further increment is refused at its origin, and a
// decrement is refused if the value it leaves does not fit 64 bits (it is the reply). A
// cumulative cell that would pass 2^64 is refused too: never a wrap.
//
// Cost: 3 words per (giver, receiver) pair that ever transferred, 2 per spender.
// Value type; not thread-safe. Laws tested in lattice_laws_test.cc, convergence and the
// invariant in convergence_test.cc and bounded_counter_test.cc.
//
// Encoding (canonical; cells sorted, amounts > 0):
//   bcounter := varint(G) G x (varint(from) varint(to) varint(amount))
//               varint(S) S x (varint(replica) varint(amount))
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/pn_counter.h"

namespace crdt {

enum class BoundedStatus {
  kOk,
  kInsufficientRights,  // Decrement / Transfer beyond the local rights
  kOutOfRange,          // the value would pass 2^59, or a cell 2^64
  kInvalid,             // n <= 0, or a transfer to oneself
};

class BoundedCounter {
 public:
  static constexpr int64_t kBound = int64_t{1} << 59;

  struct Grant {
    ReplicaId from, to;
    uint64_t amount;
    friend bool operator==(const Grant&, const Grant&) = default;
  };
  struct Spent {
    ReplicaId replica;
    uint64_t amount;
    friend bool operator==(const Spent&, const Spent&) = default;
  };

  BoundedCounter() = default;
  explicit BoundedCounter(ReplicaId self) : self_(self) {}

  // Store-level mutators as replica `r`. On kOk the whole new state is joined into *delta
  // (if non-null); otherwise nothing changes. REQUIRES: n > 0 (else kInvalid).
  BoundedStatus IncrementAs(ReplicaId r, int64_t n, BoundedCounter* delta);
  BoundedStatus DecrementAs(ReplicaId r, int64_t n, BoundedCounter* delta);
  BoundedStatus TransferAs(ReplicaId from, ReplicaId to, int64_t n, BoundedCounter* delta);

  // The same on a standalone counter as self(): the delta, or nullopt (with *status).
  std::optional<BoundedCounter> Increment(int64_t n, BoundedStatus* status = nullptr);
  std::optional<BoundedCounter> Decrement(int64_t n, BoundedStatus* status = nullptr);
  std::optional<BoundedCounter> Transfer(int64_t n, ReplicaId to, BoundedStatus* status = nullptr);

  void Merge(const BoundedCounter& other);

  Int128 Value() const;              // exact, >= 0
  Int128 Rights(ReplicaId r) const;  // exact, >= 0
  // Every replica the state mentions (as giver, receiver or spender), sorted.
  std::vector<ReplicaId> Replicas() const;
  bool empty() const { return grants_.empty() && spent_.empty(); }
  const std::vector<Grant>& grants() const { return grants_; }
  const std::vector<Spent>& spent() const { return spent_; }
  ReplicaId self() const { return self_; }
  size_t HeapBytes() const {
    return grants_.capacity() * sizeof(Grant) + spent_.capacity() * sizeof(Spent);
  }

  void Encode(Encoder* enc) const;
  // Replaces *this. Rejects unsorted or zero cells and states where a replica's rights are
  // negative (no sequence of operations makes them).
  bool Decode(Decoder* dec);
  std::string Encode() const;
  static std::optional<BoundedCounter> Decode(std::string_view bytes, std::string* error);

  // Equality of replicated state (the local replica id is not state).
  friend bool operator==(const BoundedCounter& a, const BoundedCounter& b) {
    return a.grants_ == b.grants_ && a.spent_ == b.spent_;
  }

 private:
  uint64_t* GrantCell(ReplicaId from, ReplicaId to);  // inserted as 0 if absent
  uint64_t* SpentCell(ReplicaId r);
  void JoinGrant(const Grant& g);
  void JoinSpent(const Spent& s);
  // Adds n to *cell and, if it fits, the whole state into *delta.
  BoundedStatus Bump(uint64_t* cell, int64_t n, BoundedCounter* delta);
  void Prune();  // drops cells a refused step inserted as 0

  ReplicaId self_ = 0;
  std::vector<Grant> grants_;  // sorted by (from, to), amount > 0 (heap: keeps KeyValue small)
  std::vector<Spent> spent_;   // sorted by replica, amount > 0
};

}  // namespace crdt
