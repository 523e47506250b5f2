// EventQueue: (time, sequence) order across its lanes, wheel, coarse lists and far heap.
#include "cluster_sim/event_queue.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"
#include "queue_test_util.h"

namespace cluster_sim {
namespace {

using test_util::Drain;

using SmallQueue = EventQueue<uint32_t, 8>;  // a wheel of 256 us

TEST(EventQueueTest, SameInstantEventsPopInPushOrderWhereverTheyWait) {
  SmallQueue q;
  q.SetLanes(2);
  q.Push(1000, 0, 0);  // lane 0 (its front goes to the heap)
  q.Push(1000, 1);     // far: heap
  q.Push(1000, 2, 1);  // lane 1
  q.Push(1000, 3, 0);  // lane 0's ring
  q.Push(100, 4);      // wheel
  ASSERT_EQ(q.NextTime(), 100);
  uint32_t v;
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(q.now(), 100);
  q.Push(1000, 5);  // now on the wheel, same instant, pushed last
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{0, 1, 2, 3, 5}));
  EXPECT_EQ(q.now(), 1000);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueueTest, FarFutureEventsWaitInTheHeapAndWrapTheWheel) {
  SmallQueue q;
  q.Push(int64_t{1} << 40, 0);
  q.Push(300, 1);  // past the wheel's span: a coarse list
  q.Push(200, 2);  // wheel
  q.Push(0, 3);
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{3, 2, 1, 0}));
  EXPECT_EQ(q.now(), int64_t{1} << 40);
  // Wheel slots wrap: 255 and 256 + 10 share no slot, 10 and 266 would.
  SmallQueue w;
  w.AdvanceTo(250);
  w.Push(266, 0);
  w.Push(255, 1);
  w.Push(260, 2);
  EXPECT_EQ(Drain(w), (std::vector<uint32_t>{1, 2, 0}));
}

TEST(EventQueueTest, PopStopsAtTheLimit) {
  SmallQueue q;
  q.Push(10, 0);
  q.Push(20, 1);
  uint32_t v;
  ASSERT_TRUE(q.Pop(15, &v));
  EXPECT_FALSE(q.Pop(15, &v));
  EXPECT_EQ(q.now(), 10);
  q.AdvanceTo(15);
  EXPECT_EQ(q.now(), 15);
  EXPECT_EQ(q.NextTime(), 20);
}

// Time can reach the end of time (INT64_MAX) by a pop or AdvanceTo with nothing else
// pending: the horizon's arithmetic stays in range (UBSan checks it in Debug builds).
TEST(EventQueueTest, TimeReachesTheEndOfTime) {
  SmallQueue q;
  q.Push(INT64_MAX - 1, 0);
  q.Push(INT64_MAX, 1);
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(q.now(), INT64_MAX);
  SmallQueue a;
  a.AdvanceTo(INT64_MAX - 3);
  a.Push(INT64_MAX - 2, 0);
  a.AdvanceTo(INT64_MAX - 2);
  a.Push(INT64_MAX - 2, 1);
  EXPECT_EQ(Drain(a), (std::vector<uint32_t>{0, 1}));
  a.AdvanceTo(INT64_MAX);
  EXPECT_EQ(a.now(), INT64_MAX);
  EXPECT_EQ(a.NextTime(), std::nullopt);
}

// Many events, scheduled while popping, on lanes of fixed delays, the wheel and the heap:
// the pops come in (time, push order), as a sort of everything pushed says.
TEST(EventQueueTest, ManyEventsPopInTimeThenPushOrder) {
  SmallQueue q;
  const int64_t kDelays[] = {0, 40, 300, 5000};  // one lane each
  q.SetLanes(4);
  Rng rng(7);
  std::vector<std::tuple<int64_t, uint32_t>> pushed;  // (time, id): ids grow with pushes
  uint32_t next_id = 0;
  auto push = [&](int64_t at, uint32_t lane) {
    q.Push(at, next_id, lane);
    pushed.emplace_back(at, next_id++);
  };
  for (int i = 0; i < 100; ++i) push(static_cast<int64_t>(rng.Uniform(1000)), SmallQueue::kNoLane);
  std::vector<uint32_t> popped;
  uint32_t v;
  while (q.Pop(&v)) {
    popped.push_back(v);
    if (next_id >= 200'000) continue;
    for (int k = 0; k < 2; ++k) {
      const uint64_t r = rng.Uniform(8);
      if (r < 4) {
        push(q.now() + kDelays[r], static_cast<uint32_t>(r));
      } else {
        push(q.now() + static_cast<int64_t>(rng.Uniform(r == 4 ? 10 : 100'000)),
             SmallQueue::kNoLane);
      }
    }
    if (rng.OneIn(3) && q.Pop(&v)) popped.push_back(v);
  }
  std::stable_sort(pushed.begin(), pushed.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  ASSERT_EQ(popped.size(), pushed.size());
  for (size_t i = 0; i < pushed.size(); ++i) ASSERT_EQ(popped[i], std::get<1>(pushed[i])) << i;
}

// The owned lanes' requirements are checked in debug builds: no Push on an owned lane, no
// PushOwned on an ordinary one, no PushOwnedBehind on a lane that holds no event, no SetLanes
// that would remove an owned lane; once an owned front pops, nothing is pushed or popped
// before its owner reports the lane's next event, and nothing reports one otherwise; an
// owner pops its lane's next event itself (PopOwnedTop) only when it is the earliest, due now.
TEST(EventQueueTest, OwnedLanesCheckTheirRequirementsInDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "asserts are off in this build";
#else
  SmallQueue q;
  q.SetLanes(2);
  const uint32_t owned = q.AddOwnedLane(7);
  EXPECT_DEATH(q.Push(10, 1, owned), "Push on an owned lane");
  EXPECT_DEATH(q.PushOwned(0, 10), "PushOwned on a lane that is not owned");
  EXPECT_DEATH(q.SetLanes(2), "SetLanes would remove lanes");
  // The lane holds no event: one behind its front would never be scheduled.
  EXPECT_DEATH(q.PushOwnedBehind(owned),
               "PushOwnedBehind on a lane that is not owned or holds no event");
  EXPECT_DEATH(q.OwnedNext(10, 0), "OwnedNext without an owned lane's front popped");
  EXPECT_DEATH(q.OwnedDrained(), "OwnedDrained without an owned lane's front popped");
  q.PushOwned(owned, 10);
  q.PushOwnedBehind(owned);
  uint32_t v;
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 7u);
  EXPECT_DEATH(q.Push(20, 1), "Push before the popped owned front's next was reported");
  EXPECT_DEATH(q.PushOwned(owned, 20), "PushOwned before the popped owned front's next");
  EXPECT_DEATH(q.PushOwnedBehind(owned), "PushOwnedBehind before the popped front's next");
  EXPECT_DEATH(q.Pop(&v), "Pop before the popped owned front's next was reported");
  EXPECT_DEATH(q.PopOwnedTop(owned), "PopOwnedTop before the popped owned front's next");
  q.OwnedNext(10, 1);
  ASSERT_TRUE(q.Pop(&v));
  q.OwnedDrained();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.Pop(&v));
  // PopOwnedTop (EventLoop::RunOwnedNow) only for the owned lane's event that is the
  // earliest of all, due now.
  q.PushOwned(owned, 10);    // 2
  q.Push(10, 1);             // 3
  q.PushOwnedBehind(owned);  // 4, at 10
  q.PushOwnedBehind(owned);  // 5, at 20
  ASSERT_TRUE(q.Pop(&v));
  q.OwnedNext(10, 4);
  EXPECT_DEATH(q.PopOwnedTop(owned), "PopOwnedTop: an event of the wheel comes first");
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 1u);
  // Event 4 is due now and first, but only its own lane may pop it.
  EXPECT_DEATH(q.PopOwnedTop(0), "PopOwnedTop: not an owned lane whose event tops the lane heap");
  q.PopOwnedTop(owned);  // 4
  q.OwnedNext(20, 5);
  EXPECT_DEATH(q.PopOwnedTop(owned), "PopOwnedTop: the owned lane's event is not due now");
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(q.now(), 20);
  q.OwnedDrained();
  EXPECT_TRUE(q.empty());
#endif
}

// Owned lanes (event_queue.h) among the queue's own lanes, wheel and far heap: each owned
// lane's events wait in a FIFO the test keeps (as the network keeps its messages in
// flight), the queue holding only its front, which the test replaces after each pop with
// the FIFO's next (OwnedNext, OwnedDrained); everything pops in (time, push order).
TEST(EventQueueTest, OwnedLanesPopInTimeThenPushOrder) {
  SmallQueue q;
  q.SetLanes(2);
  const int64_t kDelays[] = {0, 40};  // the queue's lanes
  // An owned lane: the ids and keys of its events, front first.
  struct Fifo {
    struct Event {
      int64_t at;
      uint64_t seq;
      uint32_t id;
    };
    std::vector<Event> events;
    size_t head = 0;
  };
  // Two lanes of a fixed delay and two of varying delays that never overtake their own.
  constexpr uint32_t kOwnedBase = 1u << 31;  // an owned lane's payload: kOwnedBase + its index
  const int64_t kOwnedDelays[] = {300, 37};
  Fifo fifos[4];
  uint32_t owned[4];
  for (uint32_t i = 0; i < 4; ++i) owned[i] = q.AddOwnedLane(kOwnedBase + i);
  Rng rng(19);
  Rng choose(23);  // PushOwned or PushOwnedBehind: apart, so rng's workload stays the same
  std::vector<std::tuple<int64_t, uint32_t>> pushed;  // (time, id): ids grow with pushes
  uint32_t next_id = 0;
  auto push = [&](int64_t at, uint32_t lane) {
    q.Push(at, next_id, lane);
    pushed.emplace_back(at, next_id++);
  };
  auto push_owned = [&](uint32_t i, int64_t at) {
    Fifo& f = fifos[i];
    const bool behind = f.head < f.events.size();       // the lane holds an event
    if (behind) at = std::max(at, f.events.back().at);  // no overtaking
    // Behind a front, either way of counting the event (the network uses the second).
    const uint64_t seq =
        behind && choose.OneIn(2) ? q.PushOwnedBehind(owned[i]) : q.PushOwned(owned[i], at);
    f.events.push_back({at, seq, next_id});
    pushed.emplace_back(at, next_id++);
  };
  for (int i = 0; i < 100; ++i) push(static_cast<int64_t>(rng.Uniform(1000)), SmallQueue::kNoLane);
  std::vector<uint32_t> popped;
  auto pop = [&]() {
    uint32_t v;
    if (!q.Pop(&v)) return false;
    if (v >= kOwnedBase) {
      Fifo& f = fifos[v - kOwnedBase];
      EXPECT_EQ(q.now(), f.events[f.head].at);
      v = f.events[f.head++].id;
      if (f.head < f.events.size()) {
        q.OwnedNext(f.events[f.head].at, f.events[f.head].seq);
      } else {
        q.OwnedDrained();
      }
    }
    popped.push_back(v);
    return true;
  };
  while (pop()) {
    if (next_id >= 200'000) continue;
    for (int k = 0; k < 2; ++k) {
      const uint64_t r = rng.Uniform(8);
      if (r < 2) {
        push(q.now() + kDelays[r], static_cast<uint32_t>(r));
      } else if (r < 4) {
        push_owned(static_cast<uint32_t>(r - 2), q.now() + kOwnedDelays[r - 2]);
      } else if (r < 6) {
        push_owned(static_cast<uint32_t>(r - 2), q.now() + static_cast<int64_t>(rng.Uniform(500)));
      } else {
        push(q.now() + static_cast<int64_t>(rng.Uniform(r == 6 ? 10 : 100'000)),
             SmallQueue::kNoLane);
      }
    }
    if (rng.OneIn(3)) pop();
  }
  std::stable_sort(pushed.begin(), pushed.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  ASSERT_EQ(popped.size(), pushed.size());
  for (size_t i = 0; i < pushed.size(); ++i) ASSERT_EQ(popped[i], std::get<1>(pushed[i])) << i;
  EXPECT_TRUE(q.empty());
}

// Sparse events (the wheel mostly empty, time jumping over idle stretches), pops with
// limits, NextTime and AdvanceTo between them, events at the end of time: the pops come in
// (time, push order) and time never passes an event.
TEST(EventQueueTest, SparseEventsLimitsAndJumpsKeepTheOrder) {
  SmallQueue q;
  Rng rng(11);
  // The reference: (time, id) not yet popped, ordered as the queue must pop them (ids grow
  // with pushes). An ordered set keeps each round O(log n): the test runs in well under a
  // second even in a Debug build with sanitizers, where re-sorting a vector of the
  // thousands of pending events every round took about a minute.
  std::set<std::pair<int64_t, uint32_t>> pending;
  uint32_t next_id = 0;
  auto push = [&](int64_t at) {
    q.Push(at, next_id);
    pending.emplace(at, next_id++);
  };
  push(INT64_MAX);
  push(INT64_MAX);
  for (int round = 0; round < 20'000; ++round) {
    // Delays from the wheel's span to far past the coarse lists (512 x 128 us).
    const uint64_t kind = rng.Uniform(5);
    const int64_t delay = static_cast<int64_t>(kind == 0   ? rng.Uniform(100)
                                               : kind == 1 ? rng.Uniform(1000)
                                               : kind == 2 ? rng.Uniform(70'000)
                                               : kind == 3 ? 65'536 + rng.Uniform(3)
                                                           : rng.Uniform(int64_t{1} << 30));
    push(q.now() + delay);
    if (rng.OneIn(3)) push(q.now() + delay);  // the same instant again
    ASSERT_EQ(q.NextTime(), pending.begin()->first);
    const int64_t limit = q.now() + static_cast<int64_t>(rng.Uniform(200'000));
    uint32_t v;
    while (!pending.empty() && pending.begin()->first <= limit &&
           pending.begin()->first != INT64_MAX) {
      ASSERT_TRUE(q.Pop(limit, &v));
      ASSERT_EQ(v, pending.begin()->second) << round;
      ASSERT_EQ(q.now(), pending.begin()->first);
      pending.erase(pending.begin());
    }
    ASSERT_FALSE(q.Pop(limit, &v));
    if (rng.OneIn(2)) {
      q.AdvanceTo(limit);
      ASSERT_EQ(q.now(), limit);
    }
    ASSERT_EQ(q.size(), pending.size());
  }
  uint32_t v;
  while (pending.size() > 2) {
    ASSERT_TRUE(q.Pop(&v));
    ASSERT_EQ(v, pending.begin()->second);
    pending.erase(pending.begin());
  }
  // The two events at the end of time, in push order.
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(q.now(), INT64_MAX);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.NextTime(), std::nullopt);
}

// Events pushed for one instant from far away, then nearer and nearer (far heap, coarse
// list, wheel), pop in push order.
TEST(EventQueueTest, OneInstantReachedFromEveryDistance) {
  SmallQueue q;
  const int64_t t = 200'000;  // past the coarse lists at first
  uint32_t id = 0;
  std::vector<uint32_t> expected;
  for (int64_t now = 0; now < t; now += 7'919) {
    q.AdvanceTo(now);
    q.Push(t, id);
    expected.push_back(id++);
  }
  q.AdvanceTo(t - 10);
  q.Push(t, id);
  expected.push_back(id++);
  EXPECT_EQ(Drain(q), expected);
}

}  // namespace
}  // namespace cluster_sim
