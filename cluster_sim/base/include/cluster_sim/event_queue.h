// EventQueue: the discrete-event queue of the simulator (under EventLoop) and of the
// latency model. Events are ordered by (time, sequence number), the sequence
// bumped on every Push, so events of the same instant pop in the order they were pushed
// (FoundationDB's TaskQueue). Time moves only when an event pops or on AdvanceTo.
// Single-threaded; deterministic (no pointer or hash order reaches the order of events).
//
// An event is a trivially copyable Payload: no allocation per event once the pools have
// grown. Four structures share the one order; the caller chooses lanes, the queue the rest:
//   lane   a FIFO ring for events the caller pushes in (time, sequence) order, typically
//          those scheduled a fixed delay after now (a link's latency). Only a lane's
//          front sits in the lane heap; the rest wait in the ring, read and written in order.
//   wheel  events of no lane due before `horizon` (between kWheelSpan / 2 and kWheelSpan
//          after now): one FIFO list per microsecond, appended in sequence order; a
//          two-level bitmap finds the first.
//   coarse the next 2^kCoarseBits spans of kWheelSpan / 2 after the horizon: one array per
//          span, appended in sequence order. As time moves, the horizon moves a span at a
//          time and that span's array is spread over the wheel's slots (each slot keeps its
//          push order); arrays keep their capacity, so the steady state allocates nothing.
//   far    events beyond the coarse spans: a binary min-heap on (time, sequence), moved
//          to the coarse lists as the horizon reaches them.
// An event of no lane is thus carried at most twice before it pops, each in O(1) (far
// events: O(log f) more). Pop takes the earlier of the wheel's first event and the lane
// heap's top, O(1) and O(log l) (l lanes). Events pushed for the same time go to the far
// heap, then the coarse list, then the wheel, in that order as now advances: every move
// keeps the sequence order of each instant.
//
// kWheelBits sets the wheel's span (2^kWheelBits microseconds) and memory (8 bytes and a
// bit a slot, allocated on the first event): small keeps it in cache.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace cluster_sim {

template <typename Payload, int kWheelBits, int kCoarseBits = 9>
class EventQueue {
  static_assert(std::is_trivially_copyable_v<Payload>, "events are copied as PODs");
  static_assert(kWheelBits >= 7 && kWheelBits <= 24, "wheel of 128 us .. 16 s");
  static_assert(kCoarseBits >= 1 && kCoarseBits <= 16, "2 .. 65536 coarse spans");

 public:
  static constexpr uint32_t kNoLane = UINT32_MAX;
  static constexpr int64_t kWheelSpan = int64_t{1} << kWheelBits;

  EventQueue() = default;
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  int64_t now() const { return now_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Lanes 0..n-1 become usable. REQUIRES: n >= the current count (lanes are never removed).
  void SetLanes(uint32_t n) { lanes_.resize(n); }
  uint32_t lanes() const { return static_cast<uint32_t>(lanes_.size()); }
  // True if the lane holds no event (it may then take events of another kind).
  bool LaneIdle(uint32_t lane) const { return !lanes_[lane].in_heap; }

  // Schedules `payload` at `at`, on `lane` or (kNoLane) wherever the queue sees fit.
  // REQUIRES: at >= now(); on a lane, `at` >= the time of the lane's pending events.
  void Push(int64_t at, const Payload& payload, uint32_t lane = kNoLane) {
    ++size_;
    if (lane == kNoLane) {
      if (at < horizon_) [[likely]] {
        WheelAppend(NewNode(at, seq_++, payload), at);
        return;
      }
    } else if (lanes_[lane].in_heap) {
      // Behind the lane's front: appended to its ring, no heap work.
      lanes_[lane].Push(Item{at, seq_++, payload, lane});
      return;
    }
    PushSlow(at, payload, lane);
  }

  // Pops the earliest event if it is due at or before `limit`: sets *out and moves now()
  // to its time. False (and no change) if there is none.
  bool Pop(int64_t limit, Payload* out) {
    if (wheel_count_ > 0) [[likely]] {
      const size_t s = FirstWheelSlot();
      const uint32_t n = wheel_[s].head;
      const Item& w = nodes_[n];
      if (lane_heap_.empty() || Before(w, lane_heap_[0])) [[likely]] {
        if (w.at > limit) return false;
        now_ = w.at;
        *out = w.payload;
        UnlinkWheelHead(s, n);
        --size_;
        if (horizon_ - now_ <= kHalfSpan) Refill();
        return true;
      }
      // The lane heap's top comes first.
      return PopLane(limit, out);
    } else if (coarse_count_ == 0 && far_.empty() && !lane_heap_.empty()) [[likely]] {
      // Only lanes hold events (all traffic has fixed delays): the lane heap's top.
      return PopLane(limit, out);
    }
    return PopSlow(limit, out);
  }
  bool Pop(Payload* out) { return Pop(INT64_MAX, out); }

  // The time of the earliest event, if any.
  std::optional<int64_t> NextTime() const {
    const Item* next = lane_heap_.empty() ? nullptr : &lane_heap_[0];
    const Item* other = nullptr;
    if (wheel_count_ > 0) {
      other = &nodes_[wheel_[FirstWheelSlot()].head];
    } else {
      other = EarliestBeyondWheel();
    }
    if (other != nullptr && (next == nullptr || Before(*other, *next))) next = other;
    if (next == nullptr) return std::nullopt;
    return next->at;
  }

  // Moves now() to t if later. REQUIRES: no event is due before t.
  void AdvanceTo(int64_t t) {
    if (t <= now_) return;
    now_ = t;
    if (horizon_ - now_ <= kHalfSpan) Refill();
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr int64_t kHalfSpan = kWheelSpan / 2;  // a coarse span
  static constexpr size_t kCoarseSpans = size_t{1} << kCoarseBits;
  static constexpr size_t kWords = size_t{1} << (kWheelBits - 6);  // of the slot bitmap
  static constexpr size_t kSummaryWords = (kWords + 63) / 64;
  static constexpr size_t kCoarseWords = (kCoarseSpans + 63) / 64;
  // Times from here on stay in the far heap (and the horizon stops short of it), so
  // the horizon's arithmetic never overflows, even for events at INT64_MAX.
  static constexpr int64_t kFarLimit = (INT64_MAX / 4) & ~(kHalfSpan - 1);

  // An event, and (lane heap, ring) its lane or (wheel, free) the next node of its list.
  struct Item {
    int64_t at;
    uint64_t seq;
    Payload payload;
    uint32_t link;
  };
  struct Lane {
    std::vector<Item> ring;  // capacity 0 or a power of 2; the events after the front
    size_t head = 0;
    size_t count = 0;
    bool in_heap = false;  // the lane's front is in the lane heap
    void Push(const Item& item) {
      if (count == ring.size()) [[unlikely]] {
        Grow();
      }
      const size_t mask = ring.size() - 1;
      ring[(head + count) & mask] = item;
      // Rings can be far larger than the cache: fetch the entries about to be written.
      __builtin_prefetch(&ring[(head + count + 4) & mask], 1);
      ++count;
    }
    // Unwraps the ring into a twice larger one.
    [[gnu::noinline]] void Grow() {
      std::vector<Item> bigger(std::max<size_t>(16, ring.size() * 2));
      for (size_t i = 0; i < count; ++i) bigger[i] = ring[(head + i) & (ring.size() - 1)];
      ring = std::move(bigger);
      head = 0;
    }
    Item Pop() {
      const size_t mask = ring.size() - 1;
      const Item item = ring[head];
      head = (head + 1) & mask;
      --count;
      __builtin_prefetch(&ring[(head + 4) & mask]);
      return item;
    }
  };
  struct List {  // a FIFO of nodes linked through Item::link
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  static bool Before(const Item& a, const Item& b) {
    return a.at != b.at ? a.at < b.at : a.seq < b.seq;
  }

  // ---- wheel nodes: a pool with an intrusive free list

  uint32_t NewNode(int64_t at, uint64_t seq, const Payload& payload) {
    uint32_t n = free_;
    if (n == kNil) [[unlikely]] {
      n = GrowNodes();
    }
    Item& node = nodes_[n];
    free_ = node.link;
    node.at = at;
    node.seq = seq;
    node.payload = payload;
    node.link = kNil;
    return n;
  }
  // The wheel and the coarse lists, on the first event that needs them.
  void Allocate() {
    wheel_.resize(static_cast<size_t>(kWheelSpan));
    bits_.assign(kWords, 0);
    summary_.assign(kSummaryWords, 0);
    coarse_.resize(kCoarseSpans);
    coarse_bits_.assign(kCoarseWords, 0);
  }
  [[gnu::noinline]] uint32_t GrowNodes() {
    if (wheel_.empty()) Allocate();
    const size_t old = nodes_.size();
    nodes_.resize(std::max<size_t>(64, old * 2));  // a power of 2 (WheelAppend masks with it)
    for (size_t i = old; i < nodes_.size(); ++i) {
      nodes_[i].link = i + 1 < nodes_.size() ? static_cast<uint32_t>(i + 1) : kNil;
    }
    return static_cast<uint32_t>(old);
  }
  void FreeNode(uint32_t n) {
    nodes_[n].link = free_;
    free_ = n;
  }

  // ---- the wheel

  // Whether a slot is empty is a coin to a branch predictor (events land on random
  // microseconds), so the two functions below choose with selects instead of branches.

  // Appends node n to the slot of `at`. REQUIRES: now() <= at < horizon_.
  void WheelAppend(uint32_t n, int64_t at) {
    const size_t s = static_cast<size_t>(at & (kWheelSpan - 1));
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
  void UnlinkWheelHead(size_t s, uint32_t n) {
    List& slot = wheel_[s];
    const uint32_t next = nodes_[n].link;
    const bool emptied = next == kNil;
    slot.head = next;
    slot.tail = emptied ? kNil : slot.tail;
    const size_t w = s >> 6;
    const uint64_t word = bits_[w] & ~(uint64_t{emptied} << (s & 63));
    bits_[w] = word;
    summary_[w >> 6] &= ~(uint64_t{word == 0} << (w & 63));
    --wheel_count_;
    FreeNode(n);
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

  // The slot of the earliest wheel event. REQUIRES: wheel_count_ > 0.
  size_t FirstWheelSlot() const {
    const size_t p = static_cast<size_t>(now_) & static_cast<size_t>(kWheelSpan - 1);
    // Slots p..end hold the times now..; slots 0..p-1 the later times that wrapped around.
    const uint64_t word = bits_[p >> 6] & (~uint64_t{0} << (p & 63));
    if (word != 0) return (p & ~size_t{63}) + static_cast<size_t>(std::countr_zero(word));
    size_t w = NextSetBit(summary_, (p >> 6) + 1);
    if (w == SIZE_MAX) w = NextSetBit(summary_, 0);
    return (w << 6) + static_cast<size_t>(std::countr_zero(bits_[w]));
  }

  // ---- beyond the wheel

  int64_t CoarseEnd() const {
    return std::min(kFarLimit, horizon_ + static_cast<int64_t>(kCoarseSpans) * kHalfSpan);
  }
  static size_t CoarseIndex(int64_t at) {
    return static_cast<size_t>(at / kHalfSpan) & (kCoarseSpans - 1);
  }

  void CoarseAppend(const Item& item) {
    if (coarse_.empty()) Allocate();
    const size_t c = CoarseIndex(item.at);
    std::vector<Item>& list = coarse_[c];
    if (list.empty()) coarse_bits_[c >> 6] |= uint64_t{1} << (c & 63);
    list.push_back(item);
    ++coarse_count_;
  }

  [[gnu::noinline]] void PushSlow(int64_t at, const Payload& payload, uint32_t lane) {
    if (lane != kNoLane) {
      const Item item{at, seq_++, payload, lane};
      Lane& l = lanes_[lane];
      if (l.in_heap) {
        l.Push(item);
      } else {
        l.in_heap = true;
        HeapPush(lane_heap_, item);
      }
    } else if (at < CoarseEnd()) {
      CoarseAppend(Item{at, seq_++, payload, kNil});
    } else {
      HeapPush(far_, Item{at, seq_++, payload, kNil});
    }
  }

  // Moves far events the coarse lists (or the wheel) now cover out of the far heap, in
  // (time, sequence) order.
  void MigrateFar() {
    const int64_t end = CoarseEnd();
    while (!far_.empty() && far_[0].at < end) {
      const Item item = far_[0];
      HeapPop(far_);
      if (item.at < horizon_) {
        WheelAppend(NewNode(item.at, item.seq, item.payload), item.at);
      } else {
        CoarseAppend(item);
      }
    }
  }

  // Keeps the horizon more than a coarse span after now, spreading each span it passes
  // over the wheel. REQUIRES: no event is due before now.
  [[gnu::noinline]] void Refill() {
    while (horizon_ - now_ <= kHalfSpan && horizon_ < kFarLimit) {
      if (wheel_count_ == 0 && coarse_count_ == 0) {
        // Nothing to carry over: move the horizon at once (time jumped past an idle stretch).
        // Time may be anywhere up to INT64_MAX: past kFarLimit, anchor there (no overflow).
        const int64_t anchored =
            now_ < kFarLimit ? std::min(kFarLimit, (now_ / kHalfSpan + 2) * kHalfSpan) : kFarLimit;
        horizon_ = std::max(horizon_, anchored);
        MigrateFar();
        return;
      }
      const size_t c = CoarseIndex(horizon_);
      std::vector<Item>& list = coarse_[c];
      if (!list.empty()) {
        for (const Item& item : list)
          WheelAppend(NewNode(item.at, item.seq, item.payload), item.at);
        coarse_count_ -= list.size();
        list.clear();
        coarse_bits_[c >> 6] &= ~(uint64_t{1} << (c & 63));
      }
      horizon_ += kHalfSpan;
      MigrateFar();
    }
  }

  // With the wheel empty: the earliest event of the coarse lists or, if they are empty, of
  // the far heap; null if none.
  const Item* EarliestBeyondWheel() const {
    if (coarse_count_ == 0) return far_.empty() ? nullptr : &far_[0];
    size_t c = NextSetBit(coarse_bits_, CoarseIndex(horizon_));
    if (c == SIZE_MAX) c = NextSetBit(coarse_bits_, 0);
    // A list is in push order: the first of its earliest time is the earliest event.
    const Item* best = &coarse_[c][0];
    for (const Item& item : coarse_[c]) {
      if (item.at < best->at) best = &item;
    }
    return best;
  }

  // Pop when the wheel is empty or the lane heap's top comes first.
  [[gnu::noinline]] bool PopSlow(int64_t limit, Payload* out) {
    if (wheel_count_ == 0) {
      const Item* beyond = EarliestBeyondWheel();
      if (beyond != nullptr && (lane_heap_.empty() || Before(*beyond, lane_heap_[0]))) {
        if (beyond->at > limit) return false;
        if (coarse_count_ == 0) {
          // A far event (nothing else is pending): pop it from its heap.
          now_ = beyond->at;
          *out = beyond->payload;
          HeapPop(far_);
          --size_;
          if (horizon_ - now_ <= kHalfSpan) Refill();
          return true;
        }
        // Jump to it: its list then spreads over the wheel, where it is the first.
        AdvanceTo(beyond->at);
        return Pop(limit, out);
      }
    }
    if (lane_heap_.empty()) return false;
    return PopLane(limit, out);
  }

  // Pops the lane heap's top if due by `limit`; the lane's next event takes its place.
  // REQUIRES: the lane heap is not empty and its top is the earliest event.
  bool PopLane(int64_t limit, Payload* out) {
    const Item& top = lane_heap_[0];
    if (top.at > limit) return false;
    now_ = top.at;
    *out = top.payload;
    Lane& l = lanes_[top.link];
    if (l.count > 0) {
      HeapReplaceTop(lane_heap_, l.Pop());
    } else {
      l.in_heap = false;
      HeapPop(lane_heap_);
    }
    --size_;
    if (horizon_ - now_ <= kHalfSpan) Refill();
    return true;
  }

  // ---- binary min-heaps on (at, seq)

  static void HeapPush(std::vector<Item>& heap, const Item& item) {
    heap.push_back(item);
    size_t i = heap.size() - 1;
    while (i > 0) {
      const size_t p = (i - 1) / 2;
      if (!Before(item, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = item;
  }
  // Removes the top and inserts item (one sift down).
  static void HeapReplaceTop(std::vector<Item>& heap, const Item& item) {
    const size_t n = heap.size();
    size_t i = 0;
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && Before(heap[c + 1], heap[c])) ++c;
      if (!Before(heap[c], item)) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = item;
  }
  static void HeapPop(std::vector<Item>& heap) {
    const Item last = heap.back();
    heap.pop_back();
    if (!heap.empty()) HeapReplaceTop(heap, last);
  }

  int64_t now_ = 0;
  // Events of no lane due before it are on the wheel; kHalfSpan < horizon_ - now_ <=
  // kWheelSpan (until kFarLimit), a multiple of kHalfSpan.
  int64_t horizon_ = kWheelSpan;
  uint64_t seq_ = 0;
  size_t size_ = 0;
  size_t wheel_count_ = 0;
  size_t coarse_count_ = 0;
  uint32_t free_ = kNil;  // the first free node

  std::vector<Item> nodes_;                // wheel events and free nodes
  std::vector<List> wheel_;                // kWheelSpan slots, allocated with the first node
  std::vector<uint64_t> bits_;             // one bit per slot: occupied
  std::vector<uint64_t> summary_;          // one bit per word of bits_: non-zero
  std::vector<std::vector<Item>> coarse_;  // kCoarseSpans lists, in push order
  std::vector<uint64_t> coarse_bits_;
  std::vector<Lane> lanes_;
  std::vector<Item> lane_heap_;  // lanes' fronts; Item::link is the lane
  std::vector<Item> far_;        // events past the coarse lists
};

}  // namespace cluster_sim
