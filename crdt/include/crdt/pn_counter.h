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
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crdt/dot.h"
#include "crdt/encoding.h"

namespace crdt {

__extension__ typedef __int128 Int128;  // exact counter sums (GCC and Clang)

// Decimal text of v (as std::to_string does for 64-bit integers).
std::string FormatInt128(Int128 v);

// Joins `s` into `m`, two slots of one replica of a PN-style counter (fields p, n, bp,
// bn, and optionally epoch): the later epoch wins whole, and within one epoch the
// pointwise maximum (every field only grows). The one join rule of the integer counter
// here and the sorted set's score counter (zset.h, no epochs).
template <typename Slot>
void JoinReplicaSlot(Slot* m, const Slot& s) {
  if constexpr (requires { s.epoch; }) {
    if (s.epoch != m->epoch) {
      if (s.epoch > m->epoch) *m = s;
      return;
    }
  }
  m->p = std::max(m->p, s.p);
  m->n = std::max(m->n, s.n);
  m->bp = std::max(m->bp, s.bp);
  m->bn = std::max(m->bn, s.bn);
}

// Joins `s`, one replica's slot, into `slots`, kept sorted by replica: a new replica's slot
// goes in its place, a known one's by JoinReplicaSlot.
template <typename Slots, typename Slot>
void JoinCounterSlot(Slots* slots, const Slot& s) {
  size_t i = 0;
  while (i < slots->size() && (*slots)[i].replica < s.replica) ++i;
  if (i < slots->size() && (*slots)[i].replica == s.replica) {
    JoinReplicaSlot(&(*slots)[i], s);
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
  PnCounter(const PnCounter& o);
  PnCounter(PnCounter&& o) noexcept { Steal(o); }
  PnCounter& operator=(const PnCounter& o) {
    if (this != &o) *this = PnCounter(o);
    return *this;
  }
  PnCounter& operator=(PnCounter&& o) noexcept {
    if (this != &o) {
      FreeBlock();
      Steal(o);
    }
    return *this;
  }
  ~PnCounter() { FreeBlock(); }

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
  void JoinSlot(const Slot& s);

  // Exact. Kept with the slots (see Layout), so reading it reads no slot.
  Int128 Value() const {
    Int128 v;
    std::memcpy(&v, value_, sizeof(v));
    return v;
  }
  // True when some contribution is not cancelled (a key holding 0 after INCR, DECR is live).
  // Kept with the slots too.
  bool Live() const { return live_ != 0; }
  bool empty() const { return size_ == 0; }
  // empty() read from the counter's first 8 bytes, beside self_, instead of its hot run:
  // for a caller that reads the bytes before the counter but not the counter (a SET of a
  // string key, whose register's write is in the line before, keyspace.h).
  bool EmptyByHead() const { return any_ == 0; }

  // Layout: one slot inline (a key incremented in one region); two or more in a heap block
  // of 2, 4, 8, ... slots, whose replica ids, while there are at most kIdsInline, are kept
  // beside the block's pointer in the 40 bytes the inline slot takes otherwise; with them
  // the exact value and the number of live slots. So all a join or an INCRBY reads of the
  // counter besides its own replica's slot (where that slot is, the value for the bound
  // check, whether the key is live) is one 64-byte run, all but the first 8 bytes, which
  // in a key's node (keyspace.h) is a cache line of its own; the block is read at the one
  // slot joined or stepped (40 bytes: one line or two), where a scan by replica crossed up
  // to five lines with five regions and the value's sum read them all (bench/RESULTS.md,
  // "A counter's replica ids and value beside its slots"). The price: 16 bytes (the
  // string part is 136, a key's node 192 of its 3 lines) and the upkeep of the value and
  // the count in every mutator. Two slots inline instead made every node 4 lines
  // ("Review of the 3-line node").
  static constexpr size_t kIdsInline = 8;
  // Where in the counter those 64 bytes start (after self_ and EmptyByHead's word), and
  // how long the counter is.
  static constexpr size_t kHotFrom = 8;
  static constexpr size_t kBytes = kHotFrom + 64;
  std::span<const Slot> slots() const { return {data(), size_}; }
  ReplicaId self() const { return self_; }
  size_t HeapBytes() const { return BlockCapacity(size_) * sizeof(Slot); }

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

  // Equality of replicated state (the local replica id is not state; value and count
  // follow from the slots).
  friend bool operator==(const PnCounter& a, const PnCounter& b) {
    const std::span<const Slot> x = a.slots(), y = b.slots();
    return std::equal(x.begin(), x.end(), y.begin(), y.end());
  }

 private:
  // The slots of a counter of n: inline up to 1, else a block of the power of 2 at least n
  // (0 while inline).
  static size_t BlockCapacity(size_t n) { return n <= 1 ? 0 : std::bit_ceil(n); }
  const Slot* data() const { return size_ <= 1 ? &one_ : block_.slots; }
  Slot* data() { return size_ <= 1 ? &one_ : block_.slots; }
  // The position of r's slot, or of where it would go (slots sorted by replica).
  size_t LowerBound(ReplicaId r) const;
  Slot* Find(ReplicaId r);
  const Slot* Find(ReplicaId r) const;
  // *at := s (a slot of this counter), value and live count kept.
  void Overwrite(Slot* at, const Slot& s);
  // Inserts s at position i (LowerBound of its replica, which has no slot here).
  void Insert(size_t i, const Slot& s);
  void Clear();
  void FreeBlock() {
    if (size_ > 1) std::free(block_.slots);
  }
  // REQUIRES: *this holds no block.
  void Steal(PnCounter& o) noexcept {
    self_ = o.self_;
    any_ = o.any_;
    std::memcpy(static_cast<void*>(&one_), &o.one_, sizeof(one_));  // the slot or the block
    size_ = o.size_;
    live_ = o.live_;
    value_[0] = o.value_[0];
    value_[1] = o.value_[1];
    o.any_ = 0;
    o.size_ = 0;
    o.live_ = 0;
    o.value_[0] = o.value_[1] = 0;
  }
  void AddValue(Int128 d) {
    const Int128 v = Value() + d;
    std::memcpy(value_, &v, sizeof(v));
  }
  static Int128 Contribution(const Slot& s) { return Int128(s.p - s.bp) - Int128(s.n - s.bn); }
  static bool IsLive(const Slot& s) { return s.p != s.bp || s.n != s.bn; }
  // Debug builds: value and live count as the slots make them.
  void CheckKept() const;

  struct Block {
    Slot* slots;
    ReplicaId ids[kIdsInline];  // the slots' replicas while size_ <= kIdsInline
  };
  static_assert(sizeof(Block) == sizeof(Slot));

  ReplicaId self_ = 0;
  uint32_t any_ = 0;  // size_ != 0 (EmptyByHead)
  // From here, 64 bytes: what a join or a step reads besides its slot.
  union {
    Slot one_{};   // size_ <= 1
    Block block_;  // size_ >= 2
  };
  uint32_t size_ = 0;
  uint32_t live_ = 0;           // slots with IsLive
  uint64_t value_[2] = {0, 0};  // Value(): an Int128 in two words (8-byte alignment)
};

}  // namespace crdt
