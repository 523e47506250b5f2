#include "cluster_sim/event_loop.h"

#include "cluster_sim/status.h"

namespace cluster_sim {

void EventLoop::Schedule(SimTime at, Handler* handler, uint64_t arg) {
  AASIM_CHECK(at >= Now()) << "event scheduled in the past";
  // A lane already holding this delay, else an idle lane: its events stay in (time,
  // sequence) order because time never goes back and the sequence only grows.
  const int64_t delay = at.count() - queue_.now();
  // Most events repeat the previous one's delay (a link's latency): try its lane first.
  if (!queue_.LaneIdle(last_lane_) && lane_delay_[last_lane_] == delay) [[likely]] {
    queue_.Push(at.count(), Typed{handler, arg}, last_lane_);
    return;
  }
  uint32_t lane = Queue::kNoLane;
  for (uint32_t i = 0; i < kLanes; ++i) {
    if (queue_.LaneIdle(i)) {
      if (lane == Queue::kNoLane) lane = i;
    } else if (lane_delay_[i] == delay) {
      last_lane_ = i;
      queue_.Push(at.count(), Typed{handler, arg}, i);
      return;
    }
  }
  if (lane != Queue::kNoLane) {
    lane_delay_[lane] = delay;
    last_lane_ = lane;
  }
  queue_.Push(at.count(), Typed{handler, arg}, lane);
}

void EventLoop::At(SimTime at, Callback cb) {
  AASIM_CHECK(at >= Now()) << "event scheduled in the past";
  uint64_t index;
  if (!free_callbacks_.empty()) {
    index = free_callbacks_.back();
    free_callbacks_.pop_back();
    callbacks_[index] = std::move(cb);
  } else {
    index = callbacks_.size();
    callbacks_.push_back(std::move(cb));
  }
  Schedule(at, nullptr, index);
}

void EventLoop::AtEventSlow(SimTime at, Handler* handler, uint64_t arg) {
  AASIM_CHECK(handler != nullptr);
  Schedule(at, handler, arg);
}

void EventLoop::RunCallback(uint64_t index) {
  Callback cb = std::move(callbacks_[index]);
  callbacks_[index] = nullptr;
  free_callbacks_.push_back(static_cast<uint32_t>(index));
  cb();
}

bool EventLoop::RunNext(int64_t limit) {
  if (budget_spent()) return false;
  Typed ev;
  if (!queue_.Pop(limit, &ev)) return false;
  // One event, whatever runs it: no owner runs its next (RunOwnedNow), even if an event
  // of RunUntil's calls this one.
  const bool in_run_until = owner_limit_ != 0;
  owner_limit_ = 0;
  Dispatch(ev);
  // Back in RunUntil's run (if this was called from one of its events): the budget as it
  // is now, which the event may have lowered (set_event_budget leaves owner_limit_ at 0
  // here), not as it was.
  owner_limit_ = in_run_until ? events_limit_ : 0;
  return true;
}

bool EventLoop::RunOne() { return RunNext(INT64_MAX); }

void EventLoop::RunUntil(SimTime t) {
  // RunNext's steps in one loop (one call for a stretch of events, not one per event).
  const int64_t limit = t.count();
  Typed ev;
  // An owner may run its next events itself while the budget allows (RunOwnedNow).
  const bool in_run_until = owner_limit_ != 0;  // this run is nested in another RunUntil's
  owner_limit_ = events_limit_;
  while (!budget_spent() && queue_.Pop(limit, &ev)) Dispatch(ev);
  owner_limit_ = in_run_until ? events_limit_ : 0;
  if (!budget_spent()) queue_.AdvanceTo(limit);
}

std::optional<SimTime> EventLoop::NextTime() const {
  const std::optional<int64_t> t = queue_.NextTime();
  if (!t) return std::nullopt;
  return SimTime(*t);
}

}  // namespace cluster_sim
