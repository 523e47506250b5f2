// Add-wins observed-remove set of byte strings, without tombstones.
//
// SetStore is the dot store (a DotMap<element, DotSet> of Almeida, Shoker and Baquero,
// "Delta state replicated data types", 2018; the optimized OR-set of Bieniusa et al.,
// 2012). Every add tags its element with a fresh dot and drops the element's observed
// dots; a remove drops the element's observed dots and frees the element. Nothing else is
// kept: the causal context (one counter per replica, plus out-of-order dots while deltas
// are in flight) is what tells "removed" from "not yet seen". So a remove deletes only
// the additions its replica had observed, and a concurrent add elsewhere survives (add
// wins); a re-add makes a new dot so a concurrent remove cannot cancel it.
//
// Join: an element's dot is kept if both sides hold it or the other side never observed
// it. Deltas are "key-complete": every dot of a delta's context belongs to an element the
// delta lists (possibly with no dots, meaning "removed"), so joining a delta touches only
// its own elements, O(delta) instead of O(state).
//
// Memory layout (measured in bench/crdt_bench.cc; RESULTS.md there has the figures):
//
//   entries_ (dense array, 24 bytes each)        index_ (open addressing, 8 bytes a slot)
//   +----------------------+--------------+      +------------------+---------------+
//   | Bytes elem (16 B,    | uint64 dot:  |  <-- | 32-bit hash      | entry + 1     |
//   |  <= 15 bytes inline) |  [r+1:15][counter:48] | (linear probing, load <= 0.8)    |
//   +----------------------+--------------+      +------------------+---------------+
//   An element with several concurrent dots (or an unpackable one) sets the top bit of
//   `dot` and keeps its dots in a small side map. A removed element leaves a hole (the two
//   top bits of `dot` set, the rest links the free list) that the next insert reuses, so no
//   entry moves and no other entry is read on removal; the hash kept in the index lets the
//   table grow and delete without rehashing elements. A set that has not yet needed a 33rd
//   entry (since it was last emptied or cleared: an index, once built, stays until then)
//   has no index but a tag byte per entry (8 bits of its hash, never 0; 0 for a hole) in
//   the object: the first 8 in the index pointer's place, the next 24 in the inline
//   entry's (unused once the entries are on the heap). A lookup compares 8 tags at once
//   and reads only the entry whose tag matches (a miss, usually none), not every entry's
//   cache line nor an index's line: one dependent line after the object, not two. The
//   first entry lives inside the object (a one-element delta allocates nothing).
//   In a key's node (keyspace.h) the store begins in the line of the key; what a lookup,
//   an insert, an erase and Pack read (the counts, the first tags or index, the replica
//   slots) fills the next line, and the rest (heap, side map, inline entry or the tags of
//   entries 8 to 31, read by a lookup only in a set above 8 entries, and written by an insert,
//   an erase or a growth there) the third.
//
// AwOrSet is the standalone set: a SetStore, its causal context and its replica id.
// Value types; not thread-safe. Element order of Elements() is sorted (deterministic).
#pragma once

#include <cassert>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/small_vec.h"
#include "crdt/value_heap.h"

namespace crdt {

class SetStore {
 public:
  using DotList = SmallVec<Dot, 4>;

  // Memory: the entry array and the index come from a ValueHeap (value_heap.h; null, the
  // default: the ordinary heap), which the store remembers and frees them into. A copy
  // starts on the ordinary heap; a copy or move assigned to a store keeps the target's
  // heap (the moved parts are copied into it when the heaps differ); a moved-to new store
  // keeps the source's heap. Assigned and swapped stores of two keyspaces thus each keep
  // their own keyspace's heap. If an allocation throws, a copy-assigned store is left
  // empty, and one that could not make a new element's entry or its index keeps the
  // entries it had, each found. A move between two heaps that cannot allocate leaves the
  // target empty and the source as it was; a UseHeap that cannot leaves the store as it
  // was, on its old heap. That covers only the failure to make those blocks: if an Add or
  // a join throws after the element's entry was made (a fresh dot from the context, the
  // replica slots growing, the side map of dots), the store keeps that entry with no dots.
  SetStore() = default;
  SetStore(const SetStore& other);
  SetStore& operator=(const SetStore& other);
  SetStore(SetStore&& other) noexcept;
  SetStore& operator=(SetStore&& other);
  ~SetStore();
  // Moves the entry array and index into pieces of h and allocates from h from now on
  // (h: null or a heap not released).
  void UseHeap(ValueHeap* h);
  ValueHeap* heap() const { return heap_; }

  // Elements present (with at least one dot).
  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  // Entries including "touched, no dots" ones of deltas.
  size_t entry_count() const { return size_ - holes_; }
  bool Contains(std::string_view e) const;

  // Adds e with a fresh dot of replica r taken from *cc, dropping e's observed dots.
  // Records the effect in *delta / *delta_cc when non-null. Returns true if e was absent.
  // (A caller that writes the effect itself, Keyspace::SAdd, calls AddWritten.)
  bool Add(std::string_view e, ReplicaId r, CausalContext* cc, SetStore* delta,
           CausalContext* delta_cc);
  // Removes e's observed dots. Returns true if e was present.
  bool Remove(std::string_view e, SetStore* delta, CausalContext* delta_cc);
  // Add and Remove with no delta store, for a write whose effect is written straight
  // (Keyspace::SAdd, SRem): the dots the delta's context would get go to *written, and
  // AddWritten's new dot (the effect's tag) to *took if it is not null.
  bool AddWritten(std::string_view e, ReplicaId r, CausalContext* cc, WriteDots* written,
                  Dot* took);
  bool RemoveWritten(std::string_view e, WriteDots* written);
  // Removes every element (DEL of a set key). Returns how many there were.
  size_t Clear(SetStore* delta, CausalContext* delta_cc);

  // Join with other. REQUIRES: my_cc / other_cc are the contexts of *this / other.
  // other_complete: other is key-complete (a delta), so elements it does not list are
  // untouched. keep_empty: keep elements left with no dots (when *this is a delta).
  void Join(const SetStore& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);
  // The same join with a key-complete store that lists the one element e with the one dot
  // *d (an SADD's effect), or with no dot when d is null (an SREM's or DEL's effect): an
  // encoded effect joined from its bytes, without a decoded store. OtherCc: a
  // CausalContext, or a ContextDots (the effect's context read from its bytes too).
  template <typename OtherCc>
  void JoinElement(std::string_view e, const Dot* d, const CausalContext& my_cc,
                   const OtherCc& other_cc, bool keep_empty);

  std::vector<std::string> Elements() const;  // sorted
  // Calls f(std::string_view element, const DotList& dots) for every entry, any order.
  template <typename F>
  void ForEach(F&& f) const {
    DotList dots;
    for (size_t i = 0; i < size_; ++i) {
      if (IsHole(i)) continue;
      GetDots(i, &dots);
      f(entries_[i].elem.view(), dots);
    }
  }
  // Heap bytes owned by this store (entries, index, long elements, side tables).
  size_t MemoryBytes() const;

  void Encode(Encoder* enc) const;  // canonical: entries sorted by element
  // Encode's bytes for the set of the one entry e with the n dots at `dots` (sorted; n may
  // be 0: an SREM's delta), without a set built (Keyspace's SAdd and SRem write their
  // effects so).
  static void EncodeOne(Encoder* enc, std::string_view e, const Dot* dots, size_t n);
  bool Decode(Decoder* dec);
  friend bool operator==(const SetStore& a, const SetStore& b);
  // For tests: every entry is found through the index (the tags while there is none) at
  // its own position, the index holds exactly entry_count() slots, without an index each
  // entry's tag is its hash's and every other tag byte is 0, and the count of the long
  // elements' heap bytes is their sum.
  bool IndexConsistent() const;
  // For tests of the layout: whether the set looks its elements up through an index (it
  // has had more entries than tag bytes) rather than through the tags.
  bool HasIndexForTest() const { return HasIndex(); }
  // For tests of the layout: where the hot fields (size_ to replicas_, see the layout
  // above) begin and end, in bytes from the store's start.
  struct Span {
    size_t begin, end;
  };
  Span HotFieldsSpanForTest() const;

 private:
  // Add's and Remove's work. DeltaCc: a CausalContext, or WriteDots.
  template <typename DeltaCc>
  bool AddDots(std::string_view e, ReplicaId r, CausalContext* cc, SetStore* delta,
               DeltaCc* delta_cc, Dot* took);
  template <typename DeltaCc>
  bool RemoveDots(std::string_view e, SetStore* delta, DeltaCc* delta_cc);

  struct Entry {
    Bytes elem;
    // 0: no dot; kMulti: see multi_; kHole | (next free entry + 1): unused (empty elem);
    // else packed (replica slot + 1: 15 bits, counter: 48 bits).
    uint64_t dot;
  };
  static constexpr uint64_t kMulti = uint64_t{1} << 63;
  static constexpr uint64_t kHole = uint64_t{3} << 62;  // packed dots never set bit 63
  // Entries with a tag byte: 8 in tags_, 24 in more_tags_.
  static constexpr size_t kSmall = 32;

  bool IsHole(size_t i) const { return (entries_[i].dot & kHole) == kHole; }
  // The set has an index (it has had more than kSmall entries); else the tags are in use.
  bool HasIndex() const { return mask_ != 0; }
  // more_tags_ holds the tags of entries 8 to 31 (the entries are on the heap, no index);
  // else its bytes are the inline entry's or mean nothing.
  bool HasMoreTags() const { return cap_ > 1 && !HasIndex(); }
  // An entry's tag byte: the hash's top 8 bits, 1 for 0 (0 marks a hole or no entry).
  static uint64_t TagOf(uint32_t h) {
    const uint64_t t = h >> 24;
    return t != 0 ? t : 1;
  }
  // The word of entry i's tag (REQUIRES: no index, and i < 8 or HasMoreTags()).
  uint64_t& TagWord(size_t i) { return i < 8 ? tags_ : more_tags_[i / 8 - 1]; }
  uint64_t TagWord(size_t i) const { return i < 8 ? tags_ : more_tags_[i / 8 - 1]; }
  void SetTag(size_t i, uint64_t tag) {
    assert(i < kSmall);  // a 33rd entry is indexed, never tagged
    uint64_t& w = TagWord(i);
    w = (w & ~(uint64_t{0xFF} << (8 * (i % 8)))) | (tag << (8 * (i % 8)));
  }
  static constexpr size_t kNoSlot = ~size_t{0};
  int64_t Find(std::string_view e, uint32_t h) const;
  int64_t Find(std::string_view e) const;
  // Find that also gives, on a miss, the index slot where inserting e goes (the empty slot
  // that ended the probe; kNoSlot when the set has no index or on a hit).
  int64_t Find(std::string_view e, uint32_t h, size_t* empty_slot) const;
  size_t Insert(std::string_view e, uint32_t h);  // REQUIRES: e absent; returns entry index
  // Insert with the slot a Find of e returned, if no entry nor index changed since (kNoSlot:
  // probe for it): one probe of the index for a find-or-insert.
  size_t Insert(std::string_view e, uint32_t h, size_t empty_slot);
  void Erase(size_t i, uint32_t h);  // h: the hash of entry i's element
  void Erase(size_t i);
  void GetDots(size_t i, DotList* out) const;
  void SetDots(size_t i, const DotList& dots);
  void PutDots(std::string_view e, const DotList& dots);  // find-or-insert, then SetDots
  size_t FindOrInsert(std::string_view e, uint32_t h);
  void SetOne(size_t i, const Dot& d);  // SetDots(i, {d}) without building a list
  // SetDots(i, {a, b}) sorted (REQUIRES: a != b), out of line: the join's common case
  // builds no list.
  [[gnu::noinline]] void SetBoth(size_t i, const Dot& a, const Dot& b);
  uint64_t Pack(const Dot& d);
  Dot Unpack(uint64_t packed) const;
  // Join when *this has no entries. other_cc is never read (mine is empty, so the rule
  // keeps or drops only their dots, by my_cc); it is taken so the call reads as JoinDots'.
  void JoinIntoEmpty(const SetStore& other, const CausalContext& my_cc,
                     const CausalContext& other_cc, bool keep_empty);
  // The join of one element e (hash h) that the other side lists, for Join and JoinElement:
  // found is e's entry here, or -1 with the empty_slot of the Find that missed it (no entry
  // nor index changed since); the other side holds the one dot *d (none when d is null) or,
  // when theirs is not null, the dots *theirs (d then null). Returns e's entry after the join,
  // or -1 if it has none (not inserted, or erased: the store may then have reset). Inlined
  // into both: out of line, a whole-set Join of small deltas took 2-3% more instructions.
  template <typename OtherCc>
  [[gnu::always_inline]] int64_t JoinListed(std::string_view e, uint32_t h, int64_t found,
                                            size_t empty_slot, const Dot* d, const DotList* theirs,
                                            const CausalContext& my_cc, const OtherCc& other_cc,
                                            bool keep_empty);
  // JoinListed's case of dot lists (several dots on a side): out of line, so that the
  // common case carries none of its lists.
  template <typename OtherCc>
  [[gnu::noinline]] int64_t JoinListedDots(std::string_view e, uint32_t h, int64_t found,
                                           size_t empty_slot, const Dot* d, const DotList* theirs,
                                           const CausalContext& my_cc, const OtherCc& other_cc,
                                           bool keep_empty);
  void Grow();
  void Rehash(size_t capacity);
  void IndexInsert(uint32_t h, size_t entry);
  void IndexErase(uint32_t h, size_t entry);
  void FreeAll();
  bool InlineEntries() const { return entries_ == reinterpret_cast<const Entry*>(inline_entry_); }
  // Memory of heap_ (or the ordinary heap when null) / its release.
  void* Allocate(size_t bytes) { return ValueHeap::Allocate(heap_, bytes); }
  void Free(void* p, size_t bytes) { ValueHeap::Free(heap_, p, bytes); }
  // The bytes of the entry array's heap block (0: the entries are inline or there are none)
  // and of the index's (0: no index): what Allocate gave them, and Free takes back.
  size_t EntryBlockBytes() const {
    return entries_ == nullptr || InlineEntries() ? 0 : cap_ * sizeof(Entry);
  }
  size_t IndexBytes() const { return HasIndex() ? (mask_ + 1) * sizeof(uint64_t) : 0; }
  // An entry array or index on the heap (what MoveBlocks moves).
  bool HoldsBlocks() const { return EntryBlockBytes() != 0 || IndexBytes() != 0; }
  // Moves the entry array and index from pieces of `from` to pieces of `to`; if an
  // allocation throws, nothing moved (every block still a piece of `from`).
  void MoveBlocks(ValueHeap* from, ValueHeap* to);

  // entries_, then the hot fields (size_ to replicas_, 64 bytes: see the layout above),
  // then the rest. In a key's node the store begins at offset 56, so entries_ is the last
  // word of the key's line and the hot fields fill the node's second line
  // (KeyspaceTest.ASetKeysHotFieldsFillTheNodesSecondLine). The counts fit 32 bits as a
  // set holds at most 2^26 entries.
  Entry* entries_ = nullptr;  // inline_entry_ while cap_ == 1
  uint32_t size_ = 0;         // entries in use, holes included (at most 2^26)
  uint32_t cap_ = 0;
  uint32_t live_ = 0;
  uint32_t holes_ = 0;
  uint32_t free_ = 0;  // first hole + 1; 0: none
  uint32_t mask_ = 0;  // index capacity - 1; 0 while the set has no index (HasIndex)
  union {
    uint64_t* index_;    // HasIndex(): the index
    uint64_t tags_ = 0;  // else: byte i is entry i's tag (TagOf), 0 for a hole or unused
  };
  SmallVec<ReplicaId, 6> replicas_;
  ValueHeap* heap_ = nullptr;  // a reference (ValueHeap::Ref) when not null
  // The heap bytes of the elements too long to be inline (Bytes::HeapBytes), kept as they
  // come and go so that MemoryBytes reads no entry.
  size_t elem_heap_bytes_ = 0;
  std::unique_ptr<std::map<std::string, DotList, std::less<>>> multi_;
  union {
    alignas(Entry) unsigned char inline_entry_[sizeof(Entry)];  // while cap_ == 1
    uint64_t more_tags_[(kSmall - 8) / 8];                      // HasMoreTags()
  };
  // The tags of entries 8 to kSmall - 1 take exactly the inline entry's bytes: a kSmall
  // that no longer fits them (or leaves bytes of the union unaccounted for) fails here.
  static_assert(sizeof(more_tags_) == sizeof(inline_entry_));
};

class AwOrSet {
 public:
  AwOrSet() = default;
  explicit AwOrSet(ReplicaId self) : self_(self) {}

  // Mutate *this and return the delta.
  AwOrSet Add(std::string_view e);
  AwOrSet Remove(std::string_view e);
  AwOrSet Clear();
  void Merge(const AwOrSet& other);

  bool Contains(std::string_view e) const { return store_.Contains(e); }
  size_t Size() const { return store_.size(); }
  std::vector<std::string> Elements() const { return store_.Elements(); }
  const SetStore& store() const { return store_; }
  const CausalContext& context() const { return cc_; }
  bool is_delta() const { return key_complete_; }
  size_t MemoryBytes() const { return store_.MemoryBytes() + cc_.HeapBytes(); }

  std::string Encode() const;
  static std::optional<AwOrSet> Decode(std::string_view bytes, std::string* error);

  // Equality of replicated state: elements with their dots, and the context.
  friend bool operator==(const AwOrSet& a, const AwOrSet& b) {
    return a.store_ == b.store_ && a.cc_ == b.cc_;
  }

 private:
  ReplicaId self_ = 0;
  SetStore store_;
  CausalContext cc_;
  bool key_complete_ = false;  // true for deltas made by the mutators (and joins of them)
};

}  // namespace crdt
