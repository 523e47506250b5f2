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
// Layout: an EventQueue (event_queue.h) of small PODs. Events of one delay are scheduled
// in (time, sequence) order, so each delay gets a lane while it has events pending: since
// messages in flight live in the network's owned lanes (below), these lanes mostly carry
// timers (retransmissions, periodic work). Other
// events go to the queue's timing wheel if due within 65 to 131 ms (one FIFO list per
// microsecond), else to its coarse lists (up to ~33 s), else to its far heap. An owner that
// keeps its events in order itself (the network's rings of messages in flight) makes each
// FIFO an owned lane (AddOwnedLane): the queue then holds only that FIFO's front, and the
// owner's handler reports the next one as each front's event runs (OwnedNext). Inside
// RunUntil, an owner whose next event follows the running one with nothing between (the
// copies of one network record) may run it within the same call (RunOwnedNow): one pop and
// one call of the handler for them all, each still counted as an event.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "cluster_sim/event_queue.h"
#include "cluster_sim/status.h"
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

  EventLoop() { queue_.SetLanes(kLanes); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Final: the simulator calls it through EventLoop& on every send and timer (no virtual call).
  SimTime Now() const final { return SimTime(queue_.now()); }

  // REQUIRES: at >= Now(). After/AfterEvent saturate: a delay past the end of time
  // (SimTime::max()) schedules the event at the end of time, which never comes.
  void At(SimTime at, Callback cb);
  void After(SimTime delay, Callback cb) { At(Later(delay), std::move(cb)); }
  // Schedules handler->OnEvent(arg). REQUIRES: at >= Now(). Outside tests, its only caller
  // is the network's pool (messages that fit none of its rings).
  void AtEvent(SimTime at, Handler* handler, uint64_t arg) {
    // Inline when the event repeats the last lane's delay (a link's latency, every send).
    const int64_t delay = at.count() - queue_.now();
    if (handler != nullptr && delay >= 0 && !queue_.LaneIdle(last_lane_) &&
        lane_delay_[last_lane_] == delay) [[likely]] {
      queue_.Push(at.count(), Typed{handler, arg}, last_lane_);
      return;
    }
    AtEventSlow(at, handler, arg);
  }
  void AfterEvent(SimTime delay, Handler* handler, uint64_t arg) {
    AtEvent(Later(delay), handler, arg);
  }
  // An owned lane (event_queue.h): its events, kept in (time, sequence) order by their
  // owner, run as handler->OnEvent(arg). Returns its number, for AtOwned. `handler` must
  // outlive every event of the lane that runs; lanes are never removed, so one owner (one
  // Network) per loop.
  // THE HANDLER'S CONTRACT, which the queue's correctness rests on: on EVERY path,
  // handler->OnEvent must first take the event out of the owner's FIFO and report the
  // FIFO's next event (OwnedNext) or that it has none (OwnedDrained), exactly once, before
  // it schedules anything (At*, AtOwned*), delivers (anything that may schedule) or returns.
  // Until then the popped event stays on the lane heap's top: a handler that returns
  // without reporting runs the same event again, and one that schedules first misplaces
  // the new event. Only debug builds check (EventQueue::SetOwed: asserts in OwnedNext,
  // OwnedDrained, every Push and Pop); a Release check would cost a store per owned event
  // and a test per Pop, every message, on the simulator's hottest path.
  uint32_t AddOwnedLane(Handler* handler, uint64_t arg) {
    AASIM_CHECK(handler != nullptr);
    return queue_.AddOwnedLane(Typed{handler, arg});
  }
  // The running owned lane event's report (AddOwnedLane): the lane's next event, at `at`
  // with the sequence number AtOwned or AtOwnedBehind gave it. Inline: once per message.
  void OwnedNext(int64_t at, uint64_t seq) { queue_.OwnedNext(at, seq); }
  // The same when the lane has no event left.
  void OwnedDrained() { queue_.OwnedDrained(); }
  // Schedules the next event of owned `lane` at `at` and returns its sequence number, which
  // its owner reports in OwnedNext. REQUIRES: at >= Now(), at >= the time of the lane's
  // pending events.
  uint64_t AtOwned(uint32_t lane, SimTime at) { return queue_.PushOwned(lane, at.count()); }
  // AtOwned for a lane that holds an event already (less work: its front is queued).
  // REQUIRES: as AtOwned's, and the lane's front is queued (EventQueue::PushOwnedBehind): an
  // owner whose front's event is running has taken that front out already.
  uint64_t AtOwnedBehind(uint32_t lane) { return queue_.PushOwnedBehind(lane); }
  // The running owned lane event's handler, once it has reported its lane's next event
  // (OwnedNext): true if that event may run now, within this same call of the handler, as
  // the loop's next event, counted in events_run() as the loop counts the events it pops;
  // the handler then runs it as it runs a popped front (it takes it out of its FIFO and
  // reports the next, OwnedNext or OwnedDrained, before it schedules or delivers anything).
  // False (nothing changed: the event stays queued) outside RunUntil (RunOne, RunOne(limit)
  // and RunNext promise one event, and their callers look between events) or once the
  // event budget is spent. REQUIRES: the reported event is the earliest of all, which its
  // owner knows when it is due now and numbered right after the event running (any event
  // scheduled since took a later number): the copies of one network record (Network's
  // InFlight), not any event of the lane. It is due by RunUntil's limit, as the event running
  // was. A record's copies then cost one pop and one call of the handler, not one each.
  bool RunOwnedNow(uint32_t lane) {
    if (events_run_ >= owner_limit_) return false;
    ++events_run_;
    queue_.PopOwnedTop(lane);
    return true;
  }
  // The sequence number the next event scheduled takes (an owner may tell from it whether
  // its next event follows its last with nothing between).
  uint64_t NextSeq() const { return queue_.next_seq(); }
  // Now() + delay, saturated at SimTime::max(). REQUIRES: delay >= 0.
  SimTime Later(SimTime delay) const { return SaturatedAdd(Now(), delay); }

  // Runs the earliest event, moving time to it. False if there is none, or if the event
  // budget is spent.
  bool RunOne();
  // The same for an event due at or before `limit` only: false (and nothing run, the time
  // unchanged) if the earliest one comes later. One step of a drain with a deadline
  // (Simulation::Sync), with no NextTime() before it.
  bool RunOne(SimTime limit) { return RunNext(limit.count()); }
  // Runs every event due at or before t, then sets the time to t. Once the budget is
  // spent, runs nothing and leaves the time where it is.
  void RunUntil(SimTime t);
  // The event budget: once `events` events have run, the loop runs no more (a run that
  // would go on for ever stops; its owner reports it). 0 (the default): no budget.
  void set_event_budget(uint64_t events) {
    events_limit_ = events != 0 ? events : UINT64_MAX;
    if (owner_limit_ != 0) owner_limit_ = events_limit_;  // set by an event inside RunUntil
  }
  bool budget_spent() const { return events_run_ >= events_limit_; }
  std::optional<SimTime> NextTime() const;
  size_t pending() const { return queue_.size(); }
  uint64_t events_run() const { return events_run_; }

 private:
  static constexpr uint32_t kLanes = 4;

  struct Typed {
    Handler* handler;  // null: a callback, `arg` indexes callbacks_
    uint64_t arg;
  };
  using Queue = EventQueue<Typed, 17>;  // a wheel of 131 ms

  void Schedule(SimTime at, Handler* handler, uint64_t arg);
  void AtEventSlow(SimTime at, Handler* handler, uint64_t arg);
  // Runs the next event if it is due at or before `limit`.
  bool RunNext(int64_t limit);
  // Runs a popped event.
  void Dispatch(const Typed& ev) {
    ++events_run_;
    if (ev.handler != nullptr) [[likely]] {
      ev.handler->OnEvent(ev.arg);
    } else {
      RunCallback(ev.arg);
    }
  }
  void RunCallback(uint64_t index);

  Queue queue_;
  int64_t lane_delay_[kLanes] = {};  // the delay of each lane's events, while it has some
  uint32_t last_lane_ = 0;           // the lane of the last event given one
  uint64_t events_run_ = 0;
  uint64_t events_limit_ = UINT64_MAX;  // the event budget (UINT64_MAX: none)
  // RunOwnedNow's limit on events_run_: events_limit_ while RunUntil runs events, else 0
  // (no owned event runs but the one the loop pops). One compare serves both conditions.
  uint64_t owner_limit_ = 0;
  std::vector<Callback> callbacks_;  // callbacks of pending At() events
  std::vector<uint32_t> free_callbacks_;
};

}  // namespace cluster_sim
