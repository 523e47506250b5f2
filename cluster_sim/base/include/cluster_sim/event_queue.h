// EventQueue: the discrete-event queue of the simulator (under EventLoop). Events are ordered by
// (time, sequence number), the sequence bumped on every Push, so events of the same instant pop in
// the order they were pushed (FoundationDB's TaskQueue). Time moves only when an event pops or on
// AdvanceTo. Single-threaded; deterministic (no pointer or hash order reaches the order of events).
//
// An event is a trivially copyable Payload: no allocation per event once the pools have
// grown. Four structures share the one order; the caller chooses lanes, the queue the rest:
//   lane   a FIFO ring for events the caller pushes in (time, sequence) order, typically
//          those scheduled a fixed delay after now (a link's latency). Only a lane's
//          front sits in the lane heap; the rest wait in the ring, read and written in order.
//          An owned lane keeps no ring: its owner holds its events in records of its own
//          (the network's messages in flight, each with its time and sequence number), a
//          record per event or several (the copies of a packet, numbered in sequence)
//          instead of a record and a queue entry each; the queue holds only its
//          front, and when the front pops the owner, as that event runs, takes it out and
//          reports the next one (OwnedNext, OwnedDrained). An owner that knows its next
//          event is the earliest of all, due now, may pop it itself (PopOwnedTop).
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
// heap's top, O(1) and O(log l) (l lanes; an owned lane's part of it when its owner reports
// its next event, with no call from the queue to the owner). Events pushed for the same
// time go to the far heap, then the coarse list, then the wheel, in that order as now
// advances: every move keeps the sequence order of each instant.
//
// The wheel, its node pool and the coarse lists are a TimingWheel (timing_wheel.h), shared
// with the latency model's LatencyQueue; here a wheel node and a coarse record are an Item
// (time, sequence, payload, link), since lanes, limits and NextTime compare them.
//
// kWheelBits sets the wheel's span (2^kWheelBits microseconds) and memory (8 bytes and a
// bit a slot, allocated on the first event): small keeps it in cache.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "cluster_sim/timing_wheel.h"

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
  // The sequence number the next event pushed (of any kind) takes.
  uint64_t next_seq() const { return seq_; }
  bool empty() const { return size_ == 0; }

  // Lanes 0..n-1 become usable. REQUIRES: n >= the current count (lanes are never removed,
  // owned lanes included).
  void SetLanes(uint32_t n) {
    assert(n >= lanes_.size() && "SetLanes would remove lanes");
    lanes_.resize(n);
  }
  uint32_t lanes() const { return static_cast<uint32_t>(lanes_.size()); }
  // True if the lane holds no event (it may then take events of another kind).
  bool LaneIdle(uint32_t lane) const { return !lanes_[lane].in_heap; }
  // Adds an owned lane (after the others) whose events all pop as `payload`, and returns its
  // number. Its owner keeps the lane's events in (time, sequence) order, a FIFO whose front
  // is the lane's event in the lane heap, and when Pop gives it that front it takes the
  // front out and reports the FIFO's next event (OwnedNext) or that there is none
  // (OwnedDrained) before anything else touches the queue. The queue is correct only if it
  // does so on every path (a front never reported pops again; an event pushed before the
  // report is misplaced), and only debug builds check it (SetOwed says why).
  uint32_t AddOwnedLane(const Payload& payload) {
    lanes_.emplace_back();
    lanes_.back().owned = true;
    lanes_.back().payload = payload;
    return static_cast<uint32_t>(lanes_.size() - 1);
  }
  // Counts an event at `at` on owned `lane` and returns its sequence number, which its owner
  // keeps with it (to report it in OwnedNext). REQUIRES: at >= now(), at >= the time of the
  // lane's pending events; the owner appends the event to its FIFO.
  uint64_t PushOwned(uint32_t lane, int64_t at) {
    assert(lanes_[lane].owned && "PushOwned on a lane that is not owned");
    assert(owed_ == kNoLane && "PushOwned before the popped owned front's next was reported");
    const uint64_t seq = CountOwned();
    Lane& l = lanes_[lane];
    if (!l.in_heap) [[unlikely]] {
      l.in_heap = true;
      MinHeapPush(lane_heap_, Item{at, seq, l.payload, lane}, ItemBefore{});
    }
    return seq;
  }

  // PushOwned for a lane that holds an event already (its front is in the lane heap): the
  // new one waits behind it, and only its count and sequence number are taken.
  // REQUIRES: as PushOwned's, and the lane holds an event. Once its front pops, the lane
  // holds one only if the owner reported another (OwnedNext): an owner that tells from its
  // FIFO's size must take the popped front out first (Pop's REQUIRES). Otherwise (checked in
  // debug builds only) the new event is never scheduled.
  uint64_t PushOwnedBehind([[maybe_unused]] uint32_t lane) {
    assert(lanes_[lane].owned && lanes_[lane].in_heap &&
           "PushOwnedBehind on a lane that is not owned or holds no event");
    assert(owed_ == kNoLane && "PushOwnedBehind before the popped front's next was reported");
    return CountOwned();
  }

  // The owner of the owned lane whose front Pop gave last reports the lane's next event, the
  // one after that front in its FIFO, at `at` numbered `seq` (as PushOwned numbered it):
  // it takes the front's place. REQUIRES: called once per owned front popped, after the
  // owner took that front out of its FIFO and before anything else is pushed or popped.
  void OwnedNext(int64_t at, uint64_t seq) {
    assert(owed_ != kNoLane && "OwnedNext without an owned lane's front popped");
    Item& top = lane_heap_[0];
    assert(top.link == owed_ && at >= now_ && "the popped front's lane must be on top");
    SetOwed(kNoLane);
    top.at = at;
    top.seq = seq;
    TopMoved();
  }
  // The same when the lane has no event left: it leaves the lane heap.
  void OwnedDrained() {
    assert(owed_ != kNoLane && "OwnedDrained without an owned lane's front popped");
    assert(lane_heap_[0].link == owed_ && "the popped front's lane must be on top");
    SetOwed(kNoLane);
    DropTop();
  }

  // Pops the lane heap's top, owned `lane`'s event that its owner has just reported
  // (OwnedNext) and knows to be the earliest of all: due now, numbered right after the
  // event that ran (EventLoop::RunOwnedNow). No search, no comparison: the owner runs it,
  // and takes it out and reports the next as for a front Pop gave (Pop's REQUIRES).
  void PopOwnedTop([[maybe_unused]] uint32_t lane) {
    assert(owed_ == kNoLane && "PopOwnedTop before the popped owned front's next was reported");
    assert(!lane_heap_.empty() && lane_heap_[0].link == lane && lanes_[lane].owned &&
           "PopOwnedTop: not an owned lane whose event tops the lane heap");
    assert(lane_heap_[0].at == now_ && "PopOwnedTop: the owned lane's event is not due now");
    assert((wheel_.wheel_count() == 0 ||
            Before(lane_heap_[0], wheel_.node(wheel_.head(FirstWheelSlot())))) &&
           "PopOwnedTop: an event of the wheel comes first");
    SetOwed(lane);
    --size_;
  }

  // Schedules `payload` at `at`, on `lane` or (kNoLane) wherever the queue sees fit.
  // REQUIRES: at >= now(); on a lane, `at` >= the time of the lane's pending events.
  void Push(int64_t at, const Payload& payload, uint32_t lane = kNoLane) {
    assert((lane == kNoLane || !lanes_[lane].owned) && "Push on an owned lane");
    assert(owed_ == kNoLane && "Push before the popped owned front's next was reported");
    ++size_;
    if (lane == kNoLane) {
      if (at < horizon_) [[likely]] {
        wheel_.Append(NewNode(Item{at, seq_++, payload, kNil}), at);
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
  // REQUIRES, for an owned lane's event: the caller runs it, and its handler takes the
  // front out of the owner's FIFO and reports the next (OwnedNext, OwnedDrained) before
  // anything else is pushed or popped (the popped front stays on the lane heap's top until
  // then; and an owner that chooses PushOwnedBehind by its FIFO's size, more than one <=>
  // front queued, is right only once the popped front is out).
  bool Pop(int64_t limit, Payload* out) {
    assert(owed_ == kNoLane && "Pop before the popped owned front's next was reported");
    if (wheel_.wheel_count() > 0) [[likely]] {
      const size_t s = FirstWheelSlot();
      const uint32_t n = wheel_.head(s);
      const Item& w = wheel_.node(n);
      if (lane_heap_.empty() || Before(w, lane_heap_[0])) [[likely]] {
        if (w.at > limit) return false;
        now_ = w.at;
        *out = w.payload;
        wheel_.UnlinkHead(s, n);
        --size_;
        if (horizon_ - now_ <= kHalfSpan) Refill();
        return true;
      }
      // The lane heap's top comes first.
      return PopLane(limit, out);
    } else if (wheel_.coarse_count() == 0 && far_.empty() && !lane_heap_.empty()) [[likely]] {
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
    if (wheel_.wheel_count() > 0) {
      other = &wheel_.node(wheel_.head(FirstWheelSlot()));
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
  // Times from here on stay in the far heap (and the horizon stops short of it), so
  // the horizon's arithmetic never overflows, even for events at INT64_MAX.
  static constexpr int64_t kFarLimit = (INT64_MAX / 4) & ~(kHalfSpan - 1);

  // Counts an owned lane's new event and returns its sequence number (its owner keeps the
  // event itself): PushOwned's and PushOwnedBehind's common part.
  uint64_t CountOwned() {
    ++size_;
    return seq_++;
  }

  // An event, and (lane heap, ring) its lane or (wheel, free) the next node of its list.
  struct Item {
    int64_t at;
    uint64_t seq;
    Payload payload;
    uint32_t link;
  };
  struct Lane {
    static constexpr size_t kAhead = 16;  // entries fetched ahead of a write or a read
    // Capacity 0 or a power of 2; the events after the front. Written and read in
    // sequence, so on the heap (crdt/page_arena.h says why not in huge pages).
    std::vector<Item> ring;
    size_t head = 0;
    size_t count = 0;
    bool in_heap = false;  // the lane's front is in the lane heap
    // An owned lane: its owner keeps its events (no ring); they all pop as `payload`.
    bool owned = false;
    Payload payload{};
    void Push(const Item& item) {
      if (count == ring.size()) [[unlikely]] {
        Grow();
      }
      const size_t mask = ring.size() - 1;
      ring[(head + count) & mask] = item;
      // Rings can be far larger than the cache: fetch the entries about to be written.
      __builtin_prefetch(&ring[(head + count + kAhead) & mask], 1);
      ++count;
    }
    // Unwraps the ring into a twice larger one.
    [[gnu::noinline]] void Grow() {
      std::vector<Item> bigger(std::max<size_t>(16, ring.size() * 2));
      for (size_t i = 0; i < count; ++i) bigger[i] = ring[(head + i) & (ring.size() - 1)];
      ring = std::move(bigger);
      head = 0;
    }
    // Moves the front to *to.
    void PopInto(Item* to) {
      const size_t mask = ring.size() - 1;
      *to = ring[head];
      head = (head + 1) & mask;
      --count;
      __builtin_prefetch(&ring[(head + kAhead) & mask]);
    }
  };

  static bool Before(const Item& a, const Item& b) {
    return a.at < b.at || (a.at == b.at && a.seq < b.seq);
  }

  struct ItemBefore {  // Before, for the heaps
    bool operator()(const Item& a, const Item& b) const { return Before(a, b); }
  };

  using Wheel = TimingWheel<Item, Item, kWheelBits, kCoarseBits, /*kLazySummary=*/false>;

  uint32_t NewNode(const Item& item) {
    const uint32_t n = wheel_.NewNode();
    wheel_.node(n) = Item{item.at, item.seq, item.payload, Wheel::kNil};
    return n;
  }
  size_t FirstWheelSlot() const {
    return wheel_.FirstSlot(static_cast<size_t>(now_) & Wheel::kSlotMask);
  }

  // ---- beyond the wheel

  int64_t CoarseEnd() const {
    return std::min(kFarLimit, horizon_ + static_cast<int64_t>(kCoarseSpans) * kHalfSpan);
  }
  void CoarseAppend(const Item& item) {
    wheel_.EnsureAllocated();
    wheel_.CoarseAppend(item.at, item);
  }

  [[gnu::noinline]] void PushSlow(int64_t at, const Payload& payload, uint32_t lane) {
    if (lane != kNoLane) {
      const Item item{at, seq_++, payload, lane};
      Lane& l = lanes_[lane];
      if (l.in_heap) {
        l.Push(item);
      } else {
        l.in_heap = true;
        MinHeapPush(lane_heap_, item, ItemBefore{});
      }
    } else if (at < CoarseEnd()) {
      CoarseAppend(Item{at, seq_++, payload, kNil});
    } else {
      MinHeapPush(far_, Item{at, seq_++, payload, kNil}, ItemBefore{});
    }
  }

  // Moves far events the coarse lists (or the wheel) now cover out of the far heap, in
  // (time, sequence) order.
  void MigrateFar() {
    const int64_t end = CoarseEnd();
    while (!far_.empty() && far_[0].at < end) {
      const Item item = far_[0];
      MinHeapPop(far_, ItemBefore{});
      if (item.at < horizon_) {
        wheel_.Append(NewNode(item), item.at);
      } else {
        CoarseAppend(item);
      }
    }
  }

  // Keeps the horizon more than a coarse span after now, spreading each span it passes
  // over the wheel. REQUIRES: no event is due before now.
  [[gnu::noinline]] void Refill() {
    while (horizon_ - now_ <= kHalfSpan && horizon_ < kFarLimit) {
      if (wheel_.wheel_count() == 0 && wheel_.coarse_count() == 0) {
        // Nothing to carry over: move the horizon at once (time jumped past an idle stretch).
        // Time may be anywhere up to INT64_MAX: past kFarLimit, anchor there (no overflow).
        const int64_t anchored =
            now_ < kFarLimit ? std::min(kFarLimit, (now_ / kHalfSpan + 2) * kHalfSpan) : kFarLimit;
        horizon_ = std::max(horizon_, anchored);
        MigrateFar();
        return;
      }
      wheel_.Spread(Wheel::CoarseIndex(horizon_), [](Item& node, const Item& item) {
        node = item;  // its link is kNil, as a new node's
        return item.at;
      });
      horizon_ += kHalfSpan;
      MigrateFar();
    }
  }

  // With the wheel empty: the earliest event of the coarse lists or, if they are empty, of
  // the far heap; null if none.
  const Item* EarliestBeyondWheel() const {
    if (wheel_.coarse_count() == 0) return far_.empty() ? nullptr : &far_[0];
    const std::span<const Item> list =
        wheel_.coarse_list(wheel_.FirstCoarse(Wheel::CoarseIndex(horizon_)));
    // A list is in push order: the first of its earliest time is the earliest event.
    const Item* best = &list[0];
    for (const Item& item : list) {
      if (item.at < best->at) best = &item;
    }
    return best;
  }

  // Pop when the wheel is empty or the lane heap's top comes first.
  [[gnu::noinline]] bool PopSlow(int64_t limit, Payload* out) {
    if (wheel_.wheel_count() == 0) {
      const Item* beyond = EarliestBeyondWheel();
      if (beyond != nullptr && (lane_heap_.empty() || Before(*beyond, lane_heap_[0]))) {
        if (beyond->at > limit) return false;
        if (wheel_.coarse_count() == 0) {
          // A far event (nothing else is pending): pop it from its heap.
          now_ = beyond->at;
          *out = beyond->payload;
          MinHeapPop(far_, ItemBefore{});
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

  // Pops the lane heap's top if due by `limit`; the lane's next event takes its place (an
  // owned lane's once its owner reports it: OwnedNext, OwnedDrained).
  // REQUIRES: the lane heap is not empty and its top is the earliest event.
  bool PopLane(int64_t limit, Payload* out) {
    Item& top = lane_heap_[0];
    if (top.at > limit) return false;
    now_ = top.at;
    *out = top.payload;
    Lane& l = lanes_[top.link];
    if (l.owned) {
      SetOwed(top.link);
    } else if (l.count > 0) {
      l.PopInto(&top);
      TopMoved();
    } else {
      DropTop();
    }
    --size_;
    if (horizon_ - now_ <= kHalfSpan) Refill();
    return true;
  }
  // The lane heap's top now holds its lane's next event: it goes where it belongs. The heap
  // holds a few lanes (a link delay, the retransmission timers): the busy lane's next event
  // usually stays on top, which two comparisons show without a sift.
  void TopMoved() {
    const Item& top = lane_heap_[0];
    const size_t n = lane_heap_.size();
    if (n > 1 && !(Before(top, lane_heap_[1]) && (n == 2 || Before(top, lane_heap_[2])))) {
      MinHeapReplaceTop(lane_heap_, Item(top), ItemBefore{});
    }
  }
  // The lane heap's top lane has no event left: out of the heap.
  void DropTop() {
    lanes_[lane_heap_[0].link].in_heap = false;
    MinHeapPop(lane_heap_, ItemBefore{});
  }
  // Debug builds: the owned lane whose popped front awaits its owner's report (kNoLane:
  // none). Debug builds only, as a Release check would cost a store per owned event and a
  // test per Pop: every message, on the simulator's hottest path. The member exists in
  // every build, so its layout does not depend on NDEBUG; but a file built with asserts
  // that reports (OwnedNext) must run a Pop built with them too (an EventLoop from a
  // library built with NDEBUG records nothing, and the report's check fails).
  void SetOwed([[maybe_unused]] uint32_t lane) {
#ifndef NDEBUG
    owed_ = lane;
#endif
  }

  int64_t now_ = 0;
  // Events of no lane due before it are on the wheel; kHalfSpan < horizon_ - now_ <=
  // kWheelSpan (until kFarLimit), a multiple of kHalfSpan.
  int64_t horizon_ = kWheelSpan;
  uint64_t seq_ = 0;
  size_t size_ = 0;

  Wheel wheel_;  // wheel events and the coarse lists
  std::vector<Lane> lanes_;
  std::vector<Item> lane_heap_;  // lanes' fronts; Item::link is the lane
  std::vector<Item> far_;        // events past the coarse lists
  uint32_t owed_ = kNoLane;      // SetOwed (debug builds only)
};

}  // namespace cluster_sim
