// EventLoop: the virtual clock and the event queue of one simulation. Events are ordered
// by (time, sequence number), the sequence bumped on every schedule, so events at the
// same instant run in the order they were scheduled (FoundationDB's TaskQueue). Time
// moves only when the loop runs an event or is told to advance.
// Single-threaded; callbacks may schedule more events.
//
// Two kinds of event share that one order: a std::function callback (At/After), or a
// typed event (AtEvent/AfterEvent): a long-lived Handler and a 64-bit argument, which
// costs no allocation. The simulator's hot paths (message deliveries) use the latter.
//
// Layout: events are small PODs. Most traffic is scheduled with one of a few fixed delays
// (a link's latency), and events of one delay are scheduled in (time, sequence) order, so
// each such delay gets a lane: a FIFO ring, read and written sequentially. Other events
// go to a timing wheel of one FIFO list per microsecond if due within kWheelSpan (a list
// holds one instant only and is appended in sequence order), else to a binary heap. The
// next event is the least (time, sequence) among the lanes' fronts, the wheel's first
// occupied slot (found through a two-level bitmap) and the heap's top. Scheduling and
// running an event are O(1) for lanes and the wheel, O(log n) for the heap.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "cluster_sim/time.h"

namespace cluster_sim {

class EventLoop : public Clock {
 public:
  using Callback = std::function<void()>;

  // The target of typed events; must outlive every event scheduled for it.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnEvent(uint64_t arg) = 0;
  };

  EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  SimTime Now() const override { return now_; }

  // REQUIRES: at >= Now().
  void At(SimTime at, Callback cb);
  void After(SimTime delay, Callback cb) { At(now_ + delay, std::move(cb)); }
  // Schedules handler->OnEvent(arg). REQUIRES: at >= Now().
  void AtEvent(SimTime at, Handler* handler, uint64_t arg);
  void AfterEvent(SimTime delay, Handler* handler, uint64_t arg) {
    AtEvent(now_ + delay, handler, arg);
  }

  // Runs the earliest event, moving time to it. False if there is none.
  bool RunOne();
  // Runs every event due at or before t, then sets the time to t.
  void RunUntil(SimTime t);
  std::optional<SimTime> NextTime() const;
  size_t pending() const { return pending_; }
  uint64_t events_run() const { return events_run_; }

 private:
  static constexpr int kWheelBits = 17;  // 131 ms of one-microsecond slots
  static constexpr int64_t kWheelSpan = int64_t{1} << kWheelBits;
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr int kLanes = 4;

  struct Event {
    int64_t at;
    uint64_t seq;
    Handler* handler;  // null: a callback, `arg` indexes callbacks_
    uint64_t arg;
  };
  // Events scheduled with the same delay, in (time, sequence) order: a ring buffer.
  struct Lane {
    int64_t delay = 0;        // meaningful while count > 0
    std::vector<Event> ring;  // capacity: 0 or a power of 2
    size_t head = 0;
    size_t count = 0;
  };
  struct Node {
    Event ev;
    uint32_t next;  // next node of the same wheel slot, or of the free list
  };
  struct Slot {
    uint32_t head = kNone;
    uint32_t tail = kNone;
  };
  struct HeapItem {
    int64_t at;
    uint64_t seq;
    uint32_t node;
  };
  // Where the next event is: a lane (0..kLanes-1), the wheel or the heap.
  static constexpr int kFromWheel = kLanes;
  static constexpr int kFromHeap = kLanes + 1;
  struct Next {
    int from = -1;  // -1: no event
    const Event* ev = nullptr;
  };

  void Schedule(SimTime at, Handler* handler, uint64_t arg);
  // Runs the next event if it is due at or before `limit`.
  bool RunNext(int64_t limit);
  Next Peek() const;
  int64_t FirstWheelTime() const;  // -1 if the wheel is empty
  void UnlinkWheelHead(int64_t at);
  static void LanePush(Lane& lane, const Event& ev);
  void HeapPush(const HeapItem& item);
  void HeapPop();
  void SetBit(size_t slot);
  void ClearBit(size_t slot);

  SimTime now_{0};
  uint64_t seq_ = 0;
  uint64_t events_run_ = 0;
  size_t pending_ = 0;
  size_t wheel_count_ = 0;

  Lane lanes_[kLanes];
  std::vector<Node> nodes_;
  uint32_t free_node_ = kNone;
  std::vector<Slot> wheel_;          // kWheelSpan slots, allocated on first use
  std::vector<uint64_t> bits_;       // one bit per slot: occupied
  std::vector<uint64_t> summary_;    // one bit per word of bits_: non-zero
  std::vector<HeapItem> heap_;       // min-heap on (at, seq)
  std::vector<Callback> callbacks_;  // callbacks of pending At() events
  std::vector<uint32_t> free_callbacks_;
};

}  // namespace cluster_sim
