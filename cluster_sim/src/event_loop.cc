#include "cluster_sim/event_loop.h"

#include "cluster_sim/status.h"

namespace cluster_sim {

void EventLoop::At(SimTime at, Callback cb) {
  AASIM_CHECK(at >= now_) << "event scheduled in the past";
  queue_.push(Event{at, seq_++, std::move(cb)});
}

bool EventLoop::RunOne() {
  if (queue_.empty()) return false;
  // priority_queue::top is const: move the callback out before popping.
  Event ev = std::move(const_cast<Event&>(queue_.top()));
  queue_.pop();
  now_ = ev.at;
  ++events_run_;
  ev.cb();
  return true;
}

void EventLoop::RunUntil(SimTime t) {
  while (!queue_.empty() && queue_.top().at <= t) RunOne();
  if (t > now_) now_ = t;
}

std::optional<SimTime> EventLoop::NextTime() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().at;
}

}  // namespace cluster_sim
