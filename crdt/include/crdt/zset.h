// The value of a Redis sorted-set key in an Active/Active database (ZADD, ZINCRBY, ZREM),
// with Redis Enterprise's conflict rules, as a dot store sharing the keyspace's causal
// context (like SetStore and HashStore).
//
// A member's state is a StringValueStore-like pair (one idea, one shape):
//
//   member -> ZsetMember
//             +-- base : ScoreRegister  ZADD: one dotted write (timestamp, score)
//             +-- incr : ScoreCounter   ZINCRBY: per replica (p, n, bp, bn) doubles, behind
//                                       a pointer allocated on the first increment
//
//   score(member) = base winner (0 when none) + sum over replicas, in replica order, of
//                   (p - bp) - (n - bn)                 (a term is 0 when p == bp, n == bn)
//   present       = base has a write, or some counter term is not cancelled
//
// Semantics (docs/active-active.md, "Sorted sets"):
// - Membership is observed-remove, add-wins: ZREM (and DEL) remove the base writes and
//   cancel the increments their region had observed; a concurrent ZADD or ZINCRBY
//   elsewhere survives it. So 4.1, then ZREM in A concurrent with ZINCRBY 2.0 in B: 2.0.
// - Concurrent ZADDs: the base register is last-write-wins by wall clock, ties to the
//   lower site (the region whose name sorts first), as RegisterStore::Beats. A ZADD
//   cancels the increments it observed (it sets the score, as in Redis).
// - ZINCRBY adds up like a counter: 1.1 plus two concurrent +1.0 gives 3.1.
// - Floating point: increments of one replica are summed into its p (or n) before being
//   added to the base, so a long run of ZINCRBY with non-dyadic steps (0.1) can differ
//   from a sequential Redis in the last bit. A sum that is NaN (+inf and -inf increments
//   made concurrently) reads as 0; the engine refuses local steps that would give NaN, and
//   turns infinite steps (and results) into ZADDs, since a running sum that reached
//   infinity would swallow every later step of its replica.
//
// Memory layout: the members live in a flat table whose entries never move, and two
// indexes point into it.
//
//   entries (chunks of 1, 2, 4, ..., 2048 entries, then of 4096)
//   +-------------------+-------------------------------------+
//   | name: std::string | ZsetMember (register write inline)  |   a removed member leaves
//   +-------------------+-------------------------------------+   a hole the next reuses
//        ^                       ^
//        | Item::member          | entry number
//   CountedBTree (score, &name, name prefix)  FlatIndex (32-bit hash -> entry number; none up to 8)
//
// The hash index's slots and the B+-tree's nodes, read at random, are in huge pages once
// they reach 2 MiB (crdt/page_arena.h); the entries, written in sequence, are not: on the
// project's VMs a huge page's first touch is a costly and variable fault, and the entries
// would be most of them (bench/RESULTS.md, zsetfast and zset3m). Instead a full-size
// chunk of entries is faulted in whole when it is allocated (PrefaultForWrite).
//
// Entries are never moved (a full chunk is followed by a new one, never reallocated), so
// the ordered index holds a plain pointer to the member's name, and its comparisons of
// tied scores read the names directly; a slot number would cost a chunk lookup per
// comparison. The hash index holds entry numbers and hashes and grows without
// reading entries.
//
// The ordered index: every present member is in a B+-tree with subtree counts
// (CountedBTree) keyed by (score, member bytes), as Redis's skiplist: ranks, score and lex
// ranges are O(log n), an insert reads 4-5 nodes at 1M members. It is maintained
// incrementally by every mutator and join (only members whose visible score changed
// move), and never encoded.
//
// Join is the dot-store join of each member's register (DotFun) plus the counter's
// pointwise max. Deltas are key-complete (a delta lists every member it touches).
// Cost: per member one write (dot 16 B + timestamp 8 B + score 8 B) plus 36 B per replica
// that ever incremented it (kept after a ZREM, as for HINCRBY fields); in memory, an entry
// of 96 B (+ 56 B once incremented), 8-16 B of hash index and about 40 B of ordered index.
// Value types; not thread-safe. Iteration order and encodings are sorted (deterministic).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/causal_context.h"
#include "crdt/counted_btree.h"
#include "crdt/encoding.h"
#include "crdt/flat_hash.h"
#include "crdt/lww_register.h"
#include "crdt/pn_counter.h"
#include "crdt/small_vec.h"

namespace crdt {

// Observed-reset counter of doubles: PnCounter's rule (pointwise max of monotonic sums and
// of their cancelled parts) with double sums, for ZINCRBY.
class ScoreCounter {
 public:
  struct Slot {
    ReplicaId replica;
    double p, n;    // cumulative positive / negative (magnitude) steps of `replica`
    double bp, bn;  // cancelled part (bp <= p, bn <= n)
    friend bool operator==(const Slot&, const Slot&) = default;
  };

  // Adds `by` as replica r; the slot is joined into *delta when non-null.
  // REQUIRES: by is not NaN.
  void Add(ReplicaId r, double by, ScoreCounter* delta);
  void ResetInto(ScoreCounter* delta);  // cancels every term (ZADD, ZREM)
  void Merge(const ScoreCounter& other);
  double Value() const;
  bool Live() const;
  bool empty() const { return slots_.empty(); }
  const SmallVec<Slot, 1>& slots() const { return slots_; }
  size_t HeapBytes() const { return slots_.HeapBytes(); }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const ScoreCounter& a, const ScoreCounter& b) {
    return a.slots_ == b.slots_;
  }

 private:
  void JoinSlot(const Slot& s);
  SmallVec<Slot, 1> slots_;  // sorted by replica
};

// A member's ZADD register: RegisterStore's rule (register_rule) with the score kept as a
// double, so reading a member's score parses nothing. Its encoding is exactly
// RegisterStore's with 8-byte values (the score's IEEE-754 bits, little-endian), so the
// wire bytes did not change when the sorted set stopped storing the score as text.
class ScoreRegister {
 public:
  struct Write {
    Dot dot;
    int64_t timestamp_us;  // the writer's wall clock
    double score;          // never NaN
    friend bool operator==(const Write&, const Write&) = default;
  };
  using Writes = SmallVec<Write, 1>;

  // As RegisterStore::Assign, Clear and Join.
  void Assign(ReplicaId r, int64_t timestamp_us, double score, CausalContext* cc,
              ScoreRegister* delta, CausalContext* delta_cc);
  bool Clear(ScoreRegister* delta, CausalContext* delta_cc);
  void Join(const ScoreRegister& other, const CausalContext& my_cc, const CausalContext& other_cc);
  const Write* Winner() const { return register_rule::Winner(writes_); }
  bool empty() const { return writes_.empty(); }
  const Writes& writes() const { return writes_; }
  size_t HeapBytes() const { return writes_.HeapBytes(); }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);  // refuses a value that is not 8 bytes of a number
  friend bool operator==(const ScoreRegister&, const ScoreRegister&) = default;

 private:
  Writes writes_;  // sorted by dot
};

struct ZsetMember {
  ScoreRegister base;
  // Allocated when the member is first incremented (most never are); null reads as empty.
  std::unique_ptr<ScoreCounter> incr;
  bool present = false;  // cached from base and incr (see Refresh)
  // ZsetStore's free list, kept in what would be padding (an entry is 8 bytes smaller): a
  // removed member's entry is a hole, linked to the next hole (its number + 1, or 0). A
  // copy or a fresh member is no hole.
  bool hole = false;
  uint32_t next_hole = 0;
  double score = 0;  // cached visible score; meaningful when present

  ZsetMember() = default;
  ZsetMember(const ZsetMember& o);
  ZsetMember& operator=(const ZsetMember& o);
  ZsetMember(ZsetMember&&) noexcept = default;
  ZsetMember& operator=(ZsetMember&&) noexcept = default;

  bool HasIncr() const { return incr && !incr->empty(); }
  bool Empty() const { return base.empty() && !HasIncr(); }  // no metadata
  ScoreCounter* Incr();                                      // allocated on first use
  // Cancels every increment (ZADD, ZREM); the slots go to delta's counter when non-null.
  void ResetIncr(ZsetMember* delta);
  // Recomputes present and score; returns true if either changed.
  bool Refresh();
  // Same replicated state (null and empty counters alike).
  bool SameState(const ZsetMember& o) const;
};

// The first 8 bytes of s as a big-endian number, zero-padded (ZsetStore::Item's prefix).
inline uint64_t PrefixOf(std::string_view s) {
  if (s.size() >= 8) {
    uint64_t v;
    std::memcpy(&v, s.data(), sizeof(v));
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    return v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i) v |= uint64_t{static_cast<uint8_t>(s[i])} << (56 - 8 * i);
  return v;
}

class ZsetStore {
 public:
  // One present member in score order.
  // The member's first 8 bytes ride along (big-endian, zero-padded): tied scores are
  // ordered by them without reading the member's entry, a cache miss at 1M members, unless
  // they are equal too.
  struct Item {
    Item() = default;
    Item(double s, const std::string* m) : score(s), member(m), prefix(PrefixOf(*m)) {}
    double score = 0;
    const std::string* member = nullptr;
    uint64_t prefix = 0;
  };
  struct ItemLess {
    bool operator()(const Item& a, const Item& b) const {
      if (a.score != b.score) return a.score < b.score;
      // Prefixes that differ order as the members do (bytes compare unsigned; a member
      // that ends within 8 bytes reads as zeros, below any longer member it begins).
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return *a.member < *b.member;
    }
    static double Key(const Item& a) { return a.score; }  // nodes are searched by score first
  };
  // Leaves of 40 items (1 KiB) and inner nodes of 64 children: at 1M members an insert
  // reads and shifts about 11 of a leaf's cache lines, not 17 as with 64-item leaves, and
  // the wider inner nodes keep the tree as shallow (bench/RESULTS.md, zset4).
  using Index = CountedBTree<Item, ItemLess, 40, 64>;

  ZsetStore() = default;
  ZsetStore(const ZsetStore& other);
  ZsetStore& operator=(const ZsetStore& other);
  ZsetStore(ZsetStore&& other) noexcept;
  ZsetStore& operator=(ZsetStore&& other) noexcept;

  size_t size() const { return t_ ? t_->index.size() : 0; }  // present members
  bool empty() const { return size() == 0; }
  bool Empty() const { return t_ == nullptr; }  // no metadata at all
  std::optional<double> Score(std::string_view member) const;
  // Ordered, present members only.
  const Index& index() const { return t_ ? t_->index : EmptyIndex(); }
  // 0-based rank of a present member in ascending order. REQUIRES: present.
  size_t Rank(std::string_view member) const;

  // ZADD: sets member's score (a new base write that cancels the observed increments).
  // Returns true if the member was not present.
  bool Add(std::string_view member, double score, ReplicaId r, int64_t timestamp_us,
           CausalContext* cc, ZsetStore* delta, CausalContext* delta_cc);
  // ZINCRBY: adds `by` to member's score. Returns the new score.
  // REQUIRES: the result is not NaN (the caller checks Score(member) + by); by != 0 when
  // the member is absent (ZINCRBY 0 of an absent member is a ZADD of 0).
  double IncrBy(std::string_view member, double by, ReplicaId r, ZsetStore* delta);
  // ZREM: returns true if the member was present.
  bool Remove(std::string_view member, ZsetStore* delta, CausalContext* delta_cc);
  // DEL: removes every member; returns how many were present.
  size_t Clear(ZsetStore* delta, CausalContext* delta_cc);

  void Join(const ZsetStore& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);

  // Calls f(const Dot&) for every dot held (for decoders' context checks).
  template <typename F>
  void ForEachDot(F&& f) const {
    if (!t_) return;
    for (size_t i = 0; i < t_->used; ++i) {
      for (const auto& w : t_->At(i).v.base.writes()) f(w.dot);  // a hole holds no write
    }
  }
  size_t MemoryBytes() const;

  void Encode(Encoder* enc) const;  // members sorted by name
  bool Decode(Decoder* dec);
  // Equality of replicated state (members with metadata).
  friend bool operator==(const ZsetStore& a, const ZsetStore& b);

 private:
  struct Entry {
    std::string name;
    ZsetMember v;  // v.hole: a removed member (name and v empty otherwise)
  };
  // Set up when the first member arrives, freed when the last one is dropped: an empty
  // ZsetStore (most keys) is one null pointer.
  struct Table {
    // Chunk c < kDoublings holds 2^c entries, every later one 2^kDoublings: a small set
    // wastes little, a big one at most one chunk.
    static constexpr int kDoublings = 12;
    static constexpr size_t kSmall = 8;  // up to this many entries, no hash index
    std::vector<Entry*> chunk;
    size_t used = 0;   // entries constructed, holes included
    size_t holes = 0;  // of them
    size_t free = 0;   // first hole + 1; 0: none
    FlatIndex hash;    // built when more than kSmall entries are in use
    Index index;

    Table() = default;
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    ~Table();
    static size_t ChunkSize(size_t c) { return size_t{1} << (c < kDoublings ? c : kDoublings); }
    // Chunk and offset of entry i.
    static void Locate(size_t i, size_t* c, size_t* off) {
      const size_t j = i + 1;
      if (j < (size_t{1} << kDoublings)) {
        *c = static_cast<size_t>(63 - __builtin_clzll(j));
        *off = j - (size_t{1} << *c);
      } else {
        const size_t k = j - (size_t{1} << kDoublings);
        *c = kDoublings + (k >> kDoublings);
        *off = k & ((size_t{1} << kDoublings) - 1);
      }
    }
    Entry& At(size_t i) const {
      size_t c, off;
      Locate(i, &c, &off);
      return chunk[c][off];
    }
  };

  // Entry number of member, or -1.
  int64_t Find(std::string_view member, uint32_t h) const;
  int64_t Find(std::string_view member) const { return Find(member, HashOf(member)); }
  // Entry number of member, added if absent. h: HashOf(member).
  size_t FindOrAdd(std::string_view member, uint32_t h);
  size_t FindOrAdd(std::string_view member) { return FindOrAdd(member, HashOf(member)); }
  // Entry i of the table. REQUIRES: t_ (FindOrAdd's number is valid after it returns).
  Entry& At(size_t i) const { return t_->At(i); }
  // After entry e changed: move it in the index (was: the state before the change). hint:
  // from Locate of a value at or below e's new one, when the caller made one.
  void Reindex(Entry& e, bool was_present, double was_score, const Index::Hint* hint = nullptr);
  // Reindex's second half: e's cached present and score changed, its item follows.
  void Place(Entry& e, bool was_present, double was_score, const Index::Hint* hint);
  // Makes entry i, with no metadata (and no index item), a hole; frees the table when it
  // was the last entry.
  void Drop(size_t i);
  void JoinMember(std::string_view member, const ZsetMember& other, const CausalContext& my_cc,
                  const CausalContext& other_cc, bool keep_empty);
  void CopyFrom(const ZsetStore& other);
  static const Index& EmptyIndex();

  std::unique_ptr<Table> t_;
};

// Redis 7.0's score text (networking.c addReplyDouble): "inf", "-inf", else "%.17g".
std::string FormatScore(double score);
// Parses a score as Redis's getDoubleFromObject / zslParseRange: strtod syntax, "inf",
// "+inf", "-inf" (any case); no spaces; NaN refused. -0 reads as 0 (what a small Redis
// sorted set, listpack-encoded, shows).
bool ParseScore(std::string_view text, double* out);

}  // namespace crdt
