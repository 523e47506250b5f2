// EventQueue: the discrete-event queue of the simulator (under EventLoop) and of the
// latency model. Events are ordered by (time, sequence number), the sequence
// bumped on every Push, so events of the same instant pop in the order they were pushed
// (FoundationDB's TaskQueue). Time moves only when an event pops or on AdvanceTo.
// Single-threaded; deterministic (no pointer or hash order reaches the order of events).
//
// An event is a trivially copyable Payload: no allocation per event once the pools have
// grown. Three structures share the one order; the caller chooses per event:
//   lane   a FIFO ring for events the caller pushes in (time, sequence) order, typically
//          those scheduled a fixed delay after now (a link's latency). Only a lane's
//          front sits in the heap; the rest wait in the ring, read and written in order.
//   wheel  events due within kWheelSpan of now, with no lane: one FIFO list per
//          microsecond, appended in sequence order; a two-level bitmap finds the first.
//   heap   every other event: a binary min-heap on (time, sequence).
// Pop takes the earlier of the wheel's first event and the heap's top. Push and Pop are
// O(1) for the wheel, O(log h) otherwise, h the heap's size (lanes' fronts included).
//
// kWheelBits sets the wheel's span (2^kWheelBits microseconds) and memory (8 bytes and a
// bit a slot, allocated on the first wheel event): small keeps it in cache, large catches more.
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

template <typename Payload, int kWheelBits>
class EventQueue {
  static_assert(std::is_trivially_copyable_v<Payload>, "events are copied as PODs");
  static_assert(kWheelBits >= 6 && kWheelBits <= 24, "wheel of 64 us .. 16 s");

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

  // Schedules `payload` at `at`, on `lane` or (kNoLane) on the wheel or the heap.
  // REQUIRES: at >= now(); on a lane, `at` >= the time of the lane's pending events.
  void Push(int64_t at, const Payload& payload, uint32_t lane = kNoLane) {
    const Item item{at, seq_++, payload, lane};
    ++size_;
    if (lane != kNoLane) {
      Lane& l = lanes_[lane];
      if (l.in_heap) {
        l.Push(item);
      } else {
        l.in_heap = true;
        HeapPush(item);
      }
    } else if (at - now_ < kWheelSpan) {
      WheelPush(item);
    } else {
      HeapPush(item);
    }
  }

  // Pops the earliest event if it is due at or before `limit`: sets *out and moves now()
  // to its time. False (and no change) if there is none.
  bool Pop(int64_t limit, Payload* out) {
    if (wheel_count_ > 0) {
      const size_t s = FirstWheelSlot();
      const Item& w = nodes_[wheel_[s].head];
      if (heap_.empty() || Before(w, heap_[0])) {
        if (w.at > limit) return false;
        now_ = w.at;
        *out = w.payload;
        UnlinkWheelHead(s);
        --size_;
        return true;
      }
    }
    if (heap_.empty() || heap_[0].at > limit) return false;
    const Item& top = heap_[0];
    now_ = top.at;
    *out = top.payload;
    if (top.link == kNoLane) {
      HeapPop();
    } else {
      Lane& l = lanes_[top.link];
      if (l.count > 0) {
        HeapReplaceTop(l.Pop());
      } else {
        l.in_heap = false;
        HeapPop();
      }
    }
    --size_;
    return true;
  }
  bool Pop(Payload* out) { return Pop(INT64_MAX, out); }

  // The time of the earliest event, if any.
  std::optional<int64_t> NextTime() const {
    const Item* next = heap_.empty() ? nullptr : &heap_[0];
    if (wheel_count_ > 0) {
      const Item& w = nodes_[wheel_[FirstWheelSlot()].head];
      if (next == nullptr || Before(w, *next)) next = &w;
    }
    if (next == nullptr) return std::nullopt;
    return next->at;
  }

  // Moves now() to t if later. REQUIRES: no event is due before t.
  void AdvanceTo(int64_t t) { now_ = std::max(now_, t); }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr size_t kWords = size_t{1} << (kWheelBits - 6);  // of the slot bitmap
  static constexpr size_t kSummaryWords = (kWords + 63) / 64;

  // An event, and (heap, ring) its lane or (wheel) the next node of its slot.
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
    bool in_heap = false;  // the lane's front is in the heap
    void Push(const Item& item) {
      if (count == ring.size()) {
        // Grow: unwrap the ring into a twice larger one.
        std::vector<Item> bigger(std::max<size_t>(16, ring.size() * 2));
        for (size_t i = 0; i < count; ++i) bigger[i] = ring[(head + i) & (ring.size() - 1)];
        ring = std::move(bigger);
        head = 0;
      }
      const size_t mask = ring.size() - 1;
      ring[(head + count) & mask] = item;
      // Rings can be far larger than the cache: fetch the entries about to be written.
      __builtin_prefetch(&ring[(head + count + 4) & mask], 1);
      ++count;
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
  struct Slot {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  static bool Before(const Item& a, const Item& b) {
    return a.at != b.at ? a.at < b.at : a.seq < b.seq;
  }

  void HeapPush(const Item& item) {
    heap_.push_back(item);
    size_t i = heap_.size() - 1;
    while (i > 0) {
      const size_t p = (i - 1) / 2;
      if (!Before(item, heap_[p])) break;
      heap_[i] = heap_[p];
      i = p;
    }
    heap_[i] = item;
  }
  // Removes the top and inserts item (one sift down).
  void HeapReplaceTop(const Item& item) {
    const size_t n = heap_.size();
    size_t i = 0;
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && Before(heap_[c + 1], heap_[c])) ++c;
      if (!Before(heap_[c], item)) break;
      heap_[i] = heap_[c];
      i = c;
    }
    heap_[i] = item;
  }
  void HeapPop() {
    const Item last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) HeapReplaceTop(last);
  }

  // REQUIRES: now() <= item.at < now() + kWheelSpan. Inlined into Push: the hot path.
  [[gnu::always_inline]] void WheelPush(const Item& item) {
    if (wheel_.empty()) {
      wheel_.resize(static_cast<size_t>(kWheelSpan));
      bits_.assign(kWords, 0);
      summary_.assign(kSummaryWords, 0);
    }
    uint32_t n;
    if (!free_nodes_.empty()) {
      n = free_nodes_.back();
      free_nodes_.pop_back();
    } else {
      n = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    nodes_[n] = Item{item.at, item.seq, item.payload, kNil};
    const size_t s = static_cast<size_t>(item.at & (kWheelSpan - 1));
    Slot& slot = wheel_[s];
    if (slot.tail == kNil) {
      slot.head = n;
      const size_t w = s >> 6;
      if (bits_[w] == 0) summary_[w >> 6] |= uint64_t{1} << (w & 63);
      bits_[w] |= uint64_t{1} << (s & 63);
    } else {
      nodes_[slot.tail].link = n;
    }
    slot.tail = n;
    ++wheel_count_;
  }

  void UnlinkWheelHead(size_t s) {
    Slot& slot = wheel_[s];
    const uint32_t n = slot.head;
    slot.head = nodes_[n].link;
    if (slot.head == kNil) {
      slot.tail = kNil;
      const size_t w = s >> 6;
      bits_[w] &= ~(uint64_t{1} << (s & 63));
      if (bits_[w] == 0) summary_[w >> 6] &= ~(uint64_t{1} << (w & 63));
    }
    --wheel_count_;
    free_nodes_.push_back(n);
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

  int64_t now_ = 0;
  uint64_t seq_ = 0;
  size_t size_ = 0;
  size_t wheel_count_ = 0;

  std::vector<Lane> lanes_;
  std::vector<Item> heap_;   // min-heap on (at, seq): lanes' fronts and events of no lane
  std::vector<Item> nodes_;  // wheel events and free nodes
  std::vector<uint32_t> free_nodes_;
  std::vector<Slot> wheel_;        // kWheelSpan slots, allocated on first use
  std::vector<uint64_t> bits_;     // one bit per slot: occupied
  std::vector<uint64_t> summary_;  // one bit per word of bits_: non-zero
};

}  // namespace cluster_sim
