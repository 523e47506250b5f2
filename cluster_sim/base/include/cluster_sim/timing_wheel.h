// TimingWheel: the simulator's EventQueue's (event_queue.h) per-microsecond wheel of FIFO
// lists over a pool of nodes, with a two-level bitmap that finds the first occupied slot,
// and the coarse lists (one array per half-wheel span after the horizon) that are spread
// onto the wheel a span at a time. The latency model's LatencyQueue (latency_queue.h) uses
// only the coarse lists (it keeps a wheel of its own whose slots hold their first event). The
// queues own the order and everything around it (now, the horizon, the far heap, lanes); the wheel
// stores and finds. Single-threaded; deterministic (slots and lists keep append order; no pointer
// or hash order reaches it).
//
// It is parameterised by what it stores, so each queue keeps its records' size:
//   Node    a wheel node: any trivially copyable struct with a `uint32_t link` member (the
//           next node of its slot, or of the free list). EventQueue's node carries time,
//           sequence number and payload (24 bytes and more). LatencyQueue uses only the
//           coarse lists, and keeps its wheel itself (its slots hold their first event).
//   Record  a coarse-list entry, in append order: EventQueue's node itself, LatencyQueue's
//           8-byte (offset in span, event word).
//   kLazySummary  the summary bitmap (one bit per non-zero word of the slot bitmap) is
//           cleared when a pop empties a word (false: FirstSlot then needs no repair and is
//           const) or when a search finds a word empty (true: one store less per pop).
//
//   slots   wheel_[at & (kSpan-1)] = {head, tail} of a FIFO of nodes linked by Node::link
//   bits_   1 bit per slot: occupied        summary_  1 bit per word of bits_: non-zero
//   coarse_ kCoarseSpans arrays of Record   coarse_bits_  1 bit per array: non-empty
//
// The coarse lists are the hot path of every event pushed a wheel or more ahead (in the
// latency model, each ocean crossing): an append is a store at the end of its span's array
// (its growth out of line), and a spread takes the nodes it needs from the pool before it
// starts, so its loop holds the pool, slots and bitmaps in registers and never checks for
// an empty free list.
//
// Memory: 8 bytes and a bit a slot, plus one array header per coarse span, allocated on the
// first node or the first EnsureAllocated(); the pool and the coarse arrays double when full
// and never shrink, so the steady state allocates nothing.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace cluster_sim {

template <typename Node, typename Record, int kWheelBits, int kCoarseBits, bool kLazySummary>
class TimingWheel {
  static_assert(std::is_trivially_copyable_v<Node>, "nodes are copied as PODs");
  static_assert(kWheelBits >= 7 && kWheelBits <= 24, "wheel of 128 us .. 16 s");
  static_assert(kCoarseBits >= 1 && kCoarseBits <= 16, "2 .. 65536 coarse spans");

 public:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr int64_t kSpan = int64_t{1} << kWheelBits;
  static constexpr int64_t kHalfSpan = kSpan / 2;  // a coarse span
  static constexpr size_t kSlotMask = static_cast<size_t>(kSpan - 1);
  static constexpr size_t kCoarseSpans = size_t{1} << kCoarseBits;

  TimingWheel() = default;
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  size_t wheel_count() const { return wheel_count_; }
  size_t coarse_count() const { return coarse_count_; }
  Node& node(uint32_t n) { return nodes_[n]; }
  const Node& node(uint32_t n) const { return nodes_[n]; }
  uint32_t head(size_t s) const { return wheel_[s].head; }

  // Allocates the wheel and the coarse lists if not yet done. Nodes allocate it themselves;
  // a caller appends to a coarse list only after calling this.
  void EnsureAllocated() {
    if (!allocated()) Allocate();
  }
  bool allocated() const { return !wheel_.empty(); }

  // ---- wheel nodes: a pool with an intrusive free list

  // A node off the free list, its link kNil; the caller fills the rest. REQUIRES: it goes
  // onto the wheel (Append) before the next Spread, which counts every node not on the
  // wheel as free.
  uint32_t NewNode() {
    uint32_t n = free_;
    if (n == kNil) [[unlikely]] {
      n = GrowNodes();
    }
    Node& node = nodes_[n];
    free_ = node.link;
    node.link = kNil;
    return n;
  }

  // ---- the wheel

  // Whether a slot is empty is a coin to a branch predictor (events land on random
  // microseconds), so the two functions below choose with selects instead of branches.

  // Appends node n to the slot of `at`. REQUIRES: the caller's now <= at < its horizon.
  void Append(uint32_t n, int64_t at) {
    const size_t s = static_cast<size_t>(at) & kSlotMask;
    List& slot = wheel_[s];
    // The slot's head if it is empty, else its tail's link (the pool's size is a power of 2:
    // the masked index is in range either way).
    uint32_t* const tail_link = &nodes_[slot.tail & (nodes_.size() - 1)].link;
    *(slot.tail == kNil ? &slot.head : tail_link) = n;
    slot.tail = n;
    const size_t w = s >> 6;
    bits_[w] |= uint64_t{1} << (s & 63);
    summary_[w >> 6] |= uint64_t{1} << (w & 63);
    ++wheel_count_;
  }

  // Removes node n, the head of slot s, and frees it.
  void UnlinkHead(size_t s, uint32_t n) {
    List& slot = wheel_[s];
    const uint32_t next = nodes_[n].link;
    const bool emptied = next == kNil;
    slot.head = next;
    slot.tail = emptied ? kNil : slot.tail;
    const size_t w = s >> 6;
    const uint64_t word = bits_[w] & ~(uint64_t{emptied} << (s & 63));
    bits_[w] = word;
    if constexpr (!kLazySummary) summary_[w >> 6] &= ~(uint64_t{word == 0} << (w & 63));
    --wheel_count_;
    nodes_[n].link = free_;
    free_ = n;
  }

  // The occupied slots of p's word of the bitmap at or after p: bit i set if slot
  // (p & ~63) + i holds a node, for i >= p & 63.
  uint64_t WordFrom(size_t p) const { return bits_[p >> 6] & (~uint64_t{0} << (p & 63)); }

  // The slot of the earliest node; p is now's slot. Slots p..end hold the times now..,
  // slots 0..p-1 the later times that wrapped around. REQUIRES: wheel_count() > 0.
  size_t FirstSlot(size_t p) const {
    const uint64_t word = WordFrom(p);
    if (word != 0) [[likely]] {
      return (p & ~size_t{63}) + static_cast<size_t>(std::countr_zero(word));
    }
    return FirstSlotBeyond(p);
  }

  // Index of the first set bit >= from in `bits`, or SIZE_MAX.
  static size_t NextSetBit(const std::vector<uint64_t>& bits, size_t from) {
    size_t w = from >> 6;
    if (w >= bits.size()) return SIZE_MAX;
    uint64_t word = bits[w] & (~uint64_t{0} << (from & 63));
    while (word == 0) {
      if (++w == bits.size()) return SIZE_MAX;
      word = bits[w];
    }
    return (w << 6) + static_cast<size_t>(std::countr_zero(word));
  }

  // ---- the coarse lists

  // REQUIRES: at >= 0 (a shift, not a signed division).
  static size_t CoarseIndex(int64_t at) {
    return static_cast<size_t>(static_cast<uint64_t>(at) >> (kWheelBits - 1)) & (kCoarseSpans - 1);
  }

  // Appends a record to the list of the span of `at`. REQUIRES: EnsureAllocated() was
  // called; `at` is in one of the kCoarseSpans spans after the caller's horizon.
  // Its slow path (a full list) is a tail call, so the usual one needs no saved registers.
  void CoarseAppend(int64_t at, const Record& record) {
    const size_t c = CoarseIndex(at);
    CoarseList& list = coarse_[c];
    if (list.size == list.capacity) [[unlikely]] {
      return CoarseAppendGrowing(c, record);
    }
    if (list.size == 0) coarse_bits_[c >> 6] |= uint64_t{1} << (c & 63);
    list.data[list.size++] = record;
    ++coarse_count_;
  }

  // List c's records, in append order.
  std::span<const Record> coarse_list(size_t c) const { return {coarse_[c].data, coarse_[c].size}; }

  // The first non-empty list at or (cyclically) after c. REQUIRES: coarse_count() > 0.
  size_t FirstCoarse(size_t c) const {
    size_t first = NextSetBit(coarse_bits_, c);
    if (first == SIZE_MAX) first = NextSetBit(coarse_bits_, 0);
    return first;
  }

  // Empties list c, keeping its capacity: for a caller that moved its records itself
  // (coarse_list(c)) onto a wheel of its own. REQUIRES: EnsureAllocated() was called. A
  // span from coarse_list(c) is valid only until the next CoarseAppend to list c (which
  // may grow it), so a caller reads it whole before it appends there again.
  void ClearCoarse(size_t c) {
    coarse_count_ -= coarse_[c].size;
    coarse_[c].size = 0;
    coarse_bits_[c >> 6] &= ~(uint64_t{1} << (c & 63));
  }

  // Moves list c onto the wheel in append order (each slot keeps it) and empties it,
  // keeping its capacity. to_node(node, record) fills a new node from a record and
  // returns the record's time.
  // REQUIRES: every record's time is in the wheel's range (as for Append).
  template <typename ToNode>
  void Spread(size_t c, ToNode to_node) {
    CoarseList& list = coarse_[c];
    const size_t count = list.size;
    if (count == 0) return;
    // Every node is on the wheel or free: take the count's nodes before the loop.
    while (nodes_.size() - wheel_count_ < count) GrowNodes();
    // The same steps as NewNode and Append, with the arrays and the free list in locals
    // (the stores through Node would otherwise reload every member each record).
    Node* const nodes = nodes_.data();
    const size_t node_mask = nodes_.size() - 1;
    List* const wheel = wheel_.data();
    uint64_t* const bits = bits_.data();
    uint64_t* const summary = summary_.data();
    uint32_t free = free_;
    const Record* const records = list.data;
    for (size_t i = 0; i < count; ++i) {
      const uint32_t n = free;
      Node& node = nodes[n];
      free = node.link;
      node.link = kNil;
      const size_t s = static_cast<size_t>(to_node(node, records[i])) & kSlotMask;
      List& slot = wheel[s];
      uint32_t* const tail_link = &nodes[slot.tail & node_mask].link;
      *(slot.tail == kNil ? &slot.head : tail_link) = n;
      slot.tail = n;
      const size_t w = s >> 6;
      bits[w] |= uint64_t{1} << (s & 63);
      summary[w >> 6] |= uint64_t{1} << (w & 63);
    }
    free_ = free;
    wheel_count_ += count;
    coarse_count_ -= count;
    list.size = 0;
    coarse_bits_[c >> 6] &= ~(uint64_t{1} << (c & 63));
  }

 private:
  static constexpr size_t kWords = size_t{1} << (kWheelBits - 6);  // of the slot bitmap
  static constexpr size_t kSummaryWords = (kWords + 63) / 64;
  static constexpr size_t kCoarseWords = (kCoarseSpans + 63) / 64;

  struct List {  // a FIFO of nodes linked through Node::link
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  struct CoarseList {  // data[0, size) in append order, in coarse_store_[its index]
    Record* data = nullptr;
    uint32_t size = 0;
    uint32_t capacity = 0;
  };

  [[gnu::noinline]] void Allocate() {
    wheel_.resize(static_cast<size_t>(kSpan));
    bits_.assign(kWords, 0);
    summary_.assign(kSummaryWords, 0);
    coarse_.resize(kCoarseSpans);
    coarse_store_.resize(kCoarseSpans);
    coarse_bits_.assign(kCoarseWords, 0);
  }
  // Doubles the pool and puts the new nodes in front of the free list; returns the first.
  [[gnu::noinline]] uint32_t GrowNodes() {
    EnsureAllocated();
    const size_t old = nodes_.size();
    nodes_.resize(std::max<size_t>(64, old * 2));  // a power of 2 (Append masks with it)
    for (size_t i = old; i < nodes_.size(); ++i) {
      nodes_[i].link = i + 1 < nodes_.size() ? static_cast<uint32_t>(i + 1) : free_;
    }
    free_ = static_cast<uint32_t>(old);
    return free_;
  }
  // CoarseAppend to a full list: doubles its store first.
  [[gnu::noinline]] void CoarseAppendGrowing(size_t c, Record record) {
    std::vector<Record>& store = coarse_store_[c];
    store.resize(std::max<size_t>(16, store.size() * 2));
    CoarseList& list = coarse_[c];
    list.data = store.data();
    list.capacity = static_cast<uint32_t>(store.size());
    if (list.size == 0) coarse_bits_[c >> 6] |= uint64_t{1} << (c & 63);
    list.data[list.size++] = record;
    ++coarse_count_;
  }

  // FirstSlot past the word of p. With kLazySummary the summary's bits may be stale (set
  // for a word that has emptied since) and are cleared here when found so: a repair of a
  // hint, not a change of what the wheel holds, hence summary_ is mutable.
  [[gnu::noinline]] size_t FirstSlotBeyond(size_t p) const {
    for (;;) {
      size_t w = NextSetBit(summary_, (p >> 6) + 1);
      if (w == SIZE_MAX) w = NextSetBit(summary_, 0);
      if (kLazySummary && bits_[w] == 0) {
        summary_[w >> 6] &= ~(uint64_t{1} << (w & 63));
        continue;
      }
      return (w << 6) + static_cast<size_t>(std::countr_zero(bits_[w]));
    }
  }

  size_t wheel_count_ = 0;
  size_t coarse_count_ = 0;
  uint32_t free_ = kNil;  // the first free node

  std::vector<Node> nodes_;                        // wheel nodes and free nodes
  std::vector<List> wheel_;                        // kSpan slots, allocated with the first node
  std::vector<uint64_t> bits_;                     // one bit per slot: occupied
  mutable std::vector<uint64_t> summary_;          // one bit per word of bits_: non-zero
  std::vector<CoarseList> coarse_;                 // kCoarseSpans lists, in append order
  std::vector<std::vector<Record>> coarse_store_;  // their records
  std::vector<uint64_t> coarse_bits_;              // one bit per coarse list: non-empty
};

// Binary min-heap on `before` (a strict order): the queues' far heaps and EventQueue's lane
// heap. With unique keys (a sequence number breaks ties) the pop order is the sort order.
template <typename T, typename Before>
void MinHeapPush(std::vector<T>& heap, const T& item, Before before) {
  heap.push_back(item);
  size_t i = heap.size() - 1;
  while (i > 0) {
    const size_t p = (i - 1) / 2;
    if (!before(item, heap[p])) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = item;
}
// Removes the top and inserts item (one sift down). REQUIRES: the heap is not empty.
template <typename T, typename Before>
void MinHeapReplaceTop(std::vector<T>& heap, const T& item, Before before) {
  const size_t n = heap.size();
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(heap[c + 1], heap[c])) ++c;
    if (!before(heap[c], item)) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = item;
}
// Removes the top. REQUIRES: the heap is not empty.
template <typename T, typename Before>
void MinHeapPop(std::vector<T>& heap, Before before) {
  const T last = heap.back();
  heap.pop_back();
  if (!heap.empty()) MinHeapReplaceTop(heap, last, before);
}

}  // namespace cluster_sim
