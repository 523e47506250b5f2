// ListStore: the value of a Redis list key in an Active/Active database, a sequence CRDT
// whose elements are dots of the keyspace's shared causal context.
//
// Every element has an immutable position key, a sequence of levels (digit, dot) compared
// lexicographically (a shorter prefix first), the last level's dot being the element's own
// id (the dot its insert made). This is Logoot's dense identifier space (Weiss, Urso and
// Molli, 2009) with the dot as the disambiguator, so the order is total and the same in
// every region. A push takes one level: RPUSH the first digit of the last element + 1,
// LPUSH the first digit of the first - 1; LINSERT takes one level when a digit is free
// between its neighbours, else extends the left neighbour's key by one level.
//
// Semantics (Redis Enterprise's rules; docs/active-active.md, "Lists"):
// - Concurrent inserts at the same place are all kept, ordered by their dots (two regions
//   that both RPUSH concurrently may interleave their runs, in the same order everywhere).
// - Removal (LPOP/RPOP, LREM, LTRIM, DEL) is observed-remove: it drops the elements its
//   region had seen, so an element pushed concurrently elsewhere survives. Two regions that
//   pop the same end concurrently can both return the same element: at least once, never
//   exactly once.
// - LSET is last-write-wins on the element: the highest timestamp (taken above the
//   element's current write, so an LSET always beats what it observed), ties to the lower
//   replica id (the region whose name sorts first). An element removed concurrently with an
//   LSET stays removed.
//
// Tombstones: none in a state. Positions never refer to other elements, so a removed
// element is dropped at once; the causal context (one counter per replica) is what tells
// "removed" from "not yet seen" (the optimized OR-set of Bieniusa et al., 2012). Deltas are
// key-complete (aw_or_set.h): a delta lists every element whose dot is in its context, a
// removed one as a "removed" entry (key, no value), so joining a delta costs O(delta log n).
//
// Metadata per element in memory: 32 bytes (the first-level digit, the id dot, and a
// pointer to extra levels and an LSET write, both absent for pushed elements); encoded:
// a flag byte, the zigzag digit and the dot (2 varints): about 10 bytes at 5 replicas
// (bench/RESULTS.md), whatever the number of replicas.
//
// Elements live in a deque sorted by key, so the ends, the index of any element (LINDEX,
// LRANGE) and remote pushes at the ends are O(1); a key is found by binary search.
// Value type; not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"

namespace crdt {

class ListStore {
 public:
  // One level of a position key.
  struct Level {
    int64_t digit;
    Dot dot;
    friend auto operator<=>(const Level&, const Level&) = default;
  };

  ListStore() = default;
  ListStore(const ListStore& other) = default;
  ListStore& operator=(const ListStore& other) = default;
  ListStore(ListStore&&) noexcept = default;
  ListStore& operator=(ListStore&&) noexcept = default;

  // Live elements. In a state every entry is live; a delta may also hold removed entries.
  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  // No metadata at all (may be dropped).
  bool Empty() const { return entries_.empty(); }
  // REQUIRES: a state (not a delta) and i < size().
  const std::string& At(size_t i) const { return entries_[i].value; }

  // Inserts value so that it becomes element `index` (0 <= index <= size()), with a new
  // dot of replica r from *cc. Records the effect in *delta / *delta_cc when non-null.
  // REQUIRES (all mutators): a state, not a delta.
  void Insert(size_t index, std::string_view value, ReplicaId r, CausalContext* cc,
              ListStore* delta, CausalContext* delta_cc);
  // Removes elements [first, last).
  void EraseRange(size_t first, size_t last, ListStore* delta, CausalContext* delta_cc);
  // Removes the elements at the given indexes (sorted, distinct, each < size()).
  void EraseIndexes(const std::vector<size_t>& indexes, ListStore* delta, CausalContext* delta_cc);
  // LSET: element `index` (< size()) takes value, a new write of replica r at its wall clock.
  void Assign(size_t index, std::string_view value, ReplicaId r, int64_t timestamp_us,
              CausalContext* cc, ListStore* delta, CausalContext* delta_cc);
  // Removes every element (DEL); returns how many there were.
  size_t Clear(ListStore* delta, CausalContext* delta_cc) {
    size_t n = live_;
    EraseRange(0, live_, delta, delta_cc);
    return n;
  }

  // Join with other. REQUIRES: my_cc / other_cc are the contexts of *this / other.
  // other_complete: other is a key-complete delta (elements it does not list are
  // untouched). keep_empty: keep removed entries (when *this is a delta).
  void Join(const ListStore& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);

  // Calls f(const Dot&) for every dot held (ids and LSET writes), for validation.
  template <typename F>
  void ForEachDot(F&& f) const {
    for (const Entry& e : entries_) {
      f(e.id());
      if (e.extra && e.extra->has_write) f(e.extra->write);
    }
  }
  bool HasRemoved() const { return entries_.size() != live_; }
  std::vector<std::string> Values() const;  // live values in order
  size_t HeapBytes() const;

  void Encode(Encoder* enc) const;  // entries in key order
  bool Decode(Decoder* dec);        // replaces *this; false on malformed input
  friend bool operator==(const ListStore& a, const ListStore& b) {
    return std::equal(a.entries_.begin(), a.entries_.end(), b.entries_.begin(), b.entries_.end(),
                      EntryEquals);
  }

 private:
  struct Extra {
    std::vector<Level> prefix;  // the levels before the entry's own
    bool has_write = false;     // an LSET wrote the value
    Dot write;
    int64_t timestamp_us = 0;
    friend bool operator==(const Extra&, const Extra&) = default;
  };
  struct Entry {
    ReplicaId replica = 0;  // the id dot, split to pack with `removed`
    uint32_t removed = 0;   // deltas only: the element was removed
    uint64_t counter = 0;
    int64_t digit = 0;             // the last level's digit
    std::unique_ptr<Extra> extra;  // null for a pushed element
    std::string value;

    Entry() = default;
    Entry(const Entry& o);
    Entry& operator=(const Entry& o);
    Entry(Entry&&) noexcept = default;
    Entry& operator=(Entry&&) noexcept = default;

    Dot id() const { return Dot{replica, counter}; }
    size_t depth() const { return (extra ? extra->prefix.size() : 0) + 1; }
    Level level(size_t i) const { return i + 1 < depth() ? extra->prefix[i] : Level{digit, id()}; }
  };
  // The entries: a std::deque allocated on first insertion. A std::deque allocates when
  // constructed and when moved from, and most keys (and decoded or moved values) hold no
  // list. The subset of std::deque's interface used here.
  class Entries {
   public:
    using Deque = std::deque<Entry>;
    Entries() = default;
    Entries(const Entries& o) : d_(o.empty() ? nullptr : std::make_unique<Deque>(*o.d_)) {}
    Entries& operator=(const Entries& o) {
      if (this != &o) *this = Entries(o);
      return *this;
    }
    Entries(Entries&&) noexcept = default;
    Entries& operator=(Entries&&) noexcept = default;
    Entries& operator=(Deque&& d) {
      d_ = std::make_unique<Deque>(std::move(d));
      return *this;
    }

    bool empty() const { return !d_ || d_->empty(); }
    size_t size() const { return d_ ? d_->size() : 0; }
    Deque::const_iterator begin() const { return All().begin(); }
    Deque::const_iterator end() const { return All().end(); }
    Deque::iterator begin() { return Get().begin(); }
    Deque::iterator end() { return Get().end(); }
    const Entry& operator[](size_t i) const { return (*d_)[i]; }
    Entry& operator[](size_t i) { return (*d_)[i]; }
    const Entry& back() const { return d_->back(); }
    void push_back(Entry&& e) { Get().push_back(std::move(e)); }
    void push_front(Entry&& e) { Get().push_front(std::move(e)); }
    Deque::iterator insert(Deque::iterator at, Entry&& e) { return d_->insert(at, std::move(e)); }
    Deque::iterator erase(Deque::iterator at) { return d_->erase(at); }
    Deque::iterator erase(Deque::iterator first, Deque::iterator last) {
      return d_->erase(first, last);
    }
    void resize(size_t n) {
      if (n == 0) {
        d_.reset();
      } else {
        Get().resize(n);
      }
    }
    void clear() { d_.reset(); }

   private:
    const Deque& All() const {
      static const Deque* const kEmpty = new Deque();
      return d_ ? *d_ : *kEmpty;
    }
    Deque& Get() {
      if (!d_) d_ = std::make_unique<Deque>();
      return *d_;
    }
    std::unique_ptr<Deque> d_;
  };

  static bool EntryEquals(const Entry& a, const Entry& b);
  static int Compare(const Entry& a, const Entry& b);
  static bool Beats(const Entry& a, const Entry& b);  // a's write beats b's (LSET order)
  Entry MakeBetween(const Entry* left, const Entry* right, Dot id) const;
  size_t LowerBound(const Entry& e) const;
  static void PutDelta(ListStore* delta, Entry e);
  static void MakeRemoved(Entry* e);  // a delta's removed entry: key only
  static void CopyRemoved(const Entry& e, ListStore* delta, CausalContext* delta_cc);

  Entries entries_;  // sorted by key
  size_t live_ = 0;
};

}  // namespace crdt
