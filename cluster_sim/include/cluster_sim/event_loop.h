// EventLoop: the virtual clock and the event queue of one simulation. Events are ordered
// by (time, sequence number), the sequence bumped on every schedule, so events at the
// same instant run in the order they were scheduled (FoundationDB's TaskQueue). Time
// moves only when the loop runs an event or is told to advance.
// Single-threaded; callbacks may schedule more events.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "cluster_sim/time.h"

namespace cluster_sim {

class EventLoop : public Clock {
 public:
  using Callback = std::function<void()>;

  SimTime Now() const override { return now_; }

  // REQUIRES: at >= Now().
  void At(SimTime at, Callback cb);
  void After(SimTime delay, Callback cb) { At(now_ + delay, std::move(cb)); }

  // Runs the earliest event, moving time to it. False if there is none.
  bool RunOne();
  // Runs every event due at or before t, then sets the time to t.
  void RunUntil(SimTime t);
  std::optional<SimTime> NextTime() const;
  size_t pending() const { return queue_.size(); }
  uint64_t events_run() const { return events_run_; }

 private:
  struct Event {
    SimTime at;
    uint64_t seq;
    Callback cb;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  SimTime now_{0};
  uint64_t seq_ = 0;
  uint64_t events_run_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
};

}  // namespace cluster_sim
