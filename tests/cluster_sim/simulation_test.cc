// Unit tests of the simulator's building blocks (rng.h, event_loop.h, network.h) and of the
// replication protocol of simulation.h, driven through the public Simulation API only:
// exact one-way latency, partitions and heals, loss/duplication/jitter, backlog overflow
// (full vs partial sync), crashes (lost writes, restart, the restart push), crashed-region
// replies, ops-lag metrics, digests and Sync's time limit; with a fake durable store (no Redis),
// a durable store's numbering that jumps and Resume after a restart.
//
// Two tests pin down a documented behaviour: without causal delivery across origins, a
// region may briefly show a write that a write elsewhere had observed transitively
// (TransientAnomalyWithoutCausalDelivery*); after a sync everything agrees.
#include "cluster_sim/simulation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/event_loop.h"
#include "cluster_sim/keyspace_store.h"
#include "cluster_sim/network.h"
#include "cluster_sim/replicator.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/store.h"
#include "cluster_sim/time.h"
#include "split_words.h"

namespace cluster_sim {

// Readable failures: gtest prints a Reply as the CLI does.
static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using std::chrono::seconds;

constexpr SimTime kUs{1};
constexpr SimTime Ms(int64_t ms) { return SimTime(ms * 1000); }

using cluster_sim::test_util::Split;

// ---------------------------------------------------------------------------------- Rng

TEST(SimulationRngTest, SameSeedSameSequence) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(a.seed(), 42u);
}

TEST(SimulationRngTest, MatchesSplitMix64ReferenceOutput) {
  // Reference values of Vigna's splitmix64.c with x = 0.
  Rng r(0);
  EXPECT_EQ(r.Next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(r.Next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(r.Next(), 0x06C45D188009454Full);
}

TEST(SimulationRngTest, ForkDependsOnlyOnSeedAndName) {
  Rng parent(7);
  Rng before = parent.Fork("link:A->B");
  for (int i = 0; i < 100; ++i) parent.Next();
  Rng after = parent.Fork("link:A->B");
  Rng other_name = parent.Fork("link:B->A");
  Rng other_seed = Rng(8).Fork("link:A->B");
  Rng fresh_parent(7);
  bool differs_name = false, differs_seed = false, differs_parent = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = before.Next();
    EXPECT_EQ(x, after.Next()) << "a fork must not depend on the parent's draws";
    differs_name |= x != other_name.Next();
    differs_seed |= x != other_seed.Next();
    differs_parent |= x != fresh_parent.Next();
  }
  EXPECT_TRUE(differs_name);
  EXPECT_TRUE(differs_seed);
  EXPECT_TRUE(differs_parent);
}

TEST(SimulationRngTest, DrawingFromAForkLeavesTheParentAlone) {
  Rng parent(99), reference(99);
  Rng fork = parent.Fork("x");
  for (int i = 0; i < 50; ++i) fork.Next();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(parent.Next(), reference.Next());
}

TEST(SimulationRngTest, UniformStaysInBounds) {
  Rng r(3);
  for (uint64_t n : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{1000},
                     (uint64_t{1} << 63) + 1, UINT64_MAX}) {
    for (int i = 0; i < 2000; ++i) ASSERT_LT(r.Uniform(n), n) << "n=" << n;
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.Uniform(1), 0u);
  // Every value of a small range shows up, and only those.
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    int64_t v = r.Range(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
  for (int i = 0; i < 10000; ++i) {
    double d = r.UniformDouble();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
  }
}

TEST(SimulationRngTest, BoundModIsTheRemainderForEveryOperand) {
  Rng x(17);
  for (uint64_t n : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{4001},
                     uint64_t{1} << 32, (uint64_t{1} << 32) + 1, (uint64_t{1} << 63) - 1,
                     uint64_t{1} << 63, (uint64_t{1} << 63) + 1, UINT64_MAX - 1, UINT64_MAX}) {
    const Rng::Bound b(n);
    for (uint64_t v : {uint64_t{0}, uint64_t{1}, n - 1, n, n + 1, UINT64_MAX - 1, UINT64_MAX,
                       b.limit - 1, b.limit}) {
      ASSERT_EQ(b.Mod(v), v % n) << "n=" << n << " x=" << v;
    }
    for (int i = 0; i < 20000; ++i) {
      const uint64_t v = x.Next();
      ASSERT_EQ(b.Mod(v), v % n) << "n=" << n << " x=" << v;
      ASSERT_EQ(b.Mod(v >> (i % 64)), (v >> (i % 64)) % n) << "n=" << n;
    }
    // Both forms of Uniform draw the same numbers.
    Rng a(n), c(n);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Uniform(n), c.Uniform(b)) << "n=" << n;
  }
}

TEST(SimulationRngTest, UniformIsRoughlyUniform) {
  Rng r(11);
  constexpr int kBuckets = 10, kDraws = 100000;
  std::vector<int> count(kBuckets);
  for (int i = 0; i < kDraws; ++i) count[r.Uniform(kBuckets)]++;
  for (int c : count) {
    EXPECT_GT(c, kDraws / kBuckets * 95 / 100);
    EXPECT_LT(c, kDraws / kBuckets * 105 / 100);
  }
}

TEST(SimulationRngTest, ChanceAndOneIn) {
  Rng r(5);
  int hits = 0, one_in = 0;
  for (int i = 0; i < 20000; ++i) {
    EXPECT_FALSE(r.Chance(0));
    EXPECT_TRUE(r.Chance(1));
    hits += r.Chance(0.25) ? 1 : 0;
    one_in += r.OneIn(4) ? 1 : 0;
  }
  EXPECT_NEAR(hits / 20000.0, 0.25, 0.02);
  EXPECT_NEAR(one_in / 20000.0, 0.25, 0.02);
}

TEST(SimulationRngTest, Below53ComparesAsUniformDouble) {
  Rng r(23);
  std::vector<double> ps = {0.0, -0.5, 1e-300, 0x1.0p-53, 0x1.8p-53,   0.2,
                            0.8, 0.99, 1.0,    1.5,       std::nan("")};
  for (int i = 0; i < 200; ++i) ps.push_back(r.UniformDouble());
  for (double p : ps) {
    const uint64_t below = Rng::Below53(p);
    for (int i = 0; i < 2000; ++i) {
      Rng a(static_cast<uint64_t>(i)), b(static_cast<uint64_t>(i));
      ASSERT_EQ(a.UniformDouble() < p, b.Next53() < below) << "p=" << p;
    }
    // The bits around the threshold itself.
    for (uint64_t k : {below - 1, below, below + 1}) {
      if (k >= uint64_t{1} << 53) continue;
      ASSERT_EQ(static_cast<double>(k) * 0x1.0p-53 < p, k < below) << "p=" << p << " k=" << k;
    }
  }
}

// ---------------------------------------------------------------------------- EventLoop

TEST(SimulationEventLoopTest, RunsByTimeThenFifo) {
  EventLoop loop;
  std::vector<std::pair<std::string, SimTime>> ran;
  auto rec = [&](std::string tag) {
    return [&ran, &loop, tag] { ran.emplace_back(tag, loop.Now()); };
  };
  loop.At(Ms(30), rec("30"));
  loop.At(Ms(10), rec("10a"));
  loop.At(Ms(20), rec("20"));
  loop.At(Ms(10), rec("10b"));
  loop.At(Ms(10), rec("10c"));
  EXPECT_EQ(loop.pending(), 5u);
  ASSERT_EQ(loop.NextTime(), Ms(10));
  while (loop.RunOne()) {
  }
  std::vector<std::pair<std::string, SimTime>> want = {
      {"10a", Ms(10)}, {"10b", Ms(10)}, {"10c", Ms(10)}, {"20", Ms(20)}, {"30", Ms(30)}};
  EXPECT_EQ(ran, want);
  EXPECT_EQ(loop.events_run(), 5u);
  EXPECT_EQ(loop.Now(), Ms(30));
  EXPECT_FALSE(loop.NextTime().has_value());
  EXPECT_FALSE(loop.RunOne());
}

TEST(SimulationEventLoopTest, EventsScheduledByCallbacksAtTheSameInstantRunLast) {
  EventLoop loop;
  std::vector<std::string> ran;
  loop.At(Ms(5), [&] {
    ran.push_back("first");
    loop.After(SimTime(0), [&] { ran.push_back("scheduled by first"); });
  });
  loop.At(Ms(5), [&] { ran.push_back("second"); });
  loop.RunUntil(Ms(5));
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "second", "scheduled by first"}));
}

TEST(SimulationEventLoopTest, RunUntilRunsDueEventsAndSetsTheTime) {
  EventLoop loop;
  std::vector<int> ran;
  loop.At(Ms(10), [&] { ran.push_back(10); });
  loop.At(Ms(15), [&] { ran.push_back(15); });
  loop.At(Ms(20), [&] { ran.push_back(20); });
  loop.RunUntil(Ms(15));
  EXPECT_EQ(ran, (std::vector<int>{10, 15}));  // an event exactly at t runs
  EXPECT_EQ(loop.Now(), Ms(15));
  EXPECT_EQ(loop.NextTime(), Ms(20));
  EXPECT_EQ(loop.pending(), 1u);
  loop.RunUntil(Ms(17));
  EXPECT_EQ(loop.Now(), Ms(17));  // time moves without events
  loop.RunUntil(Ms(12));
  EXPECT_EQ(loop.Now(), Ms(17));  // never backwards
  EXPECT_EQ(ran.size(), 2u);
  loop.After(Ms(1), [&] { ran.push_back(18); });
  loop.RunUntil(Ms(100));
  EXPECT_EQ(ran, (std::vector<int>{10, 15, 18, 20}));
  EXPECT_EQ(loop.Now(), Ms(100));
}

TEST(SimulationEventLoopTest, RunOneByALimitRunsOnlyAnEventDueByIt) {
  EventLoop loop;
  std::vector<int> ran;
  loop.At(Ms(10), [&] { ran.push_back(10); });
  loop.At(Ms(20), [&] { ran.push_back(20); });
  EXPECT_FALSE(loop.RunOne(Ms(9)));  // the earliest comes later: nothing runs, no time passes
  EXPECT_EQ(loop.Now(), Ms(0));
  EXPECT_TRUE(loop.RunOne(Ms(10)));  // an event exactly at the limit runs
  EXPECT_EQ(loop.Now(), Ms(10));
  EXPECT_FALSE(loop.RunOne(Ms(19)));
  EXPECT_EQ(loop.Now(), Ms(10));
  EXPECT_EQ(ran, (std::vector<int>{10}));
  loop.set_event_budget(1);  // spent: not even a due event runs
  EXPECT_FALSE(loop.RunOne(Ms(30)));
  loop.set_event_budget(0);
  EXPECT_TRUE(loop.RunOne(Ms(30)));
  EXPECT_FALSE(loop.RunOne(Ms(30)));  // none left
  EXPECT_EQ(ran, (std::vector<int>{10, 20}));
  EXPECT_EQ(loop.Now(), Ms(20));
}

TEST(SimulationEventLoopDeathTest, SchedulingInThePastAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EventLoop loop;
  loop.RunUntil(Ms(10));
  EXPECT_DEATH(loop.At(Ms(9), [] {}), "scheduled in the past");
}

TEST(SimulationEventLoopTest, AnOwnedLaneNeedsItsHandler) {
  EventLoop loop;
  EXPECT_DEATH(loop.AddOwnedLane(nullptr, 0), "handler != nullptr");
}

// The owner of one lane whose events are all at one instant, numbered in sequence while
// nothing is scheduled between them (a network record's copies): as each runs, it takes it
// out, reports the next, records it, and runs the next itself while the loop lets it
// (EventLoop::RunOwnedNow) and that one follows with nothing between.
struct RunsOwnedEvents final : EventLoop::Handler {
  explicit RunsOwnedEvents(EventLoop& l) : loop(l), lane(l.AddOwnedLane(this, 0)) {}
  // An event named `name` at `at`, after the pending ones. REQUIRES: at >= theirs.
  void Add(SimTime at, std::string name) {
    // The front is queued if the FIFO holds one (its events take it out as they run).
    const uint64_t seq = fifo.empty() ? loop.AtOwned(lane, at) : loop.AtOwnedBehind(lane);
    fifo.push_back({at.count(), seq, std::move(name)});
  }
  void OnEvent(uint64_t) override {
    ++calls;
    for (;;) {
      const Event e = fifo.front();
      fifo.erase(fifo.begin());
      if (fifo.empty()) {
        loop.OwnedDrained();
      } else {
        loop.OwnedNext(fifo.front().at, fifo.front().seq);
      }
      ran->push_back(e.name);
      if (on_event) on_event();
      if (fifo.empty() || fifo.front().at != e.at || fifo.front().seq != e.seq + 1 ||
          !loop.RunOwnedNow(lane)) {
        return;
      }
    }
  }
  struct Event {
    int64_t at;
    uint64_t seq;
    std::string name;
  };
  EventLoop& loop;
  uint32_t lane;
  std::vector<Event> fifo;
  std::vector<std::string>* ran = nullptr;
  std::function<void()> on_event;
  int calls = 0;  // calls of OnEvent: fewer than events once it runs some itself
};

// At 10 ms: owned events o0..o3, a callback, o4 and o5 (numbered after the callback: the
// owner may not run them with o3's call); o6 at 20 ms.
struct OwnedEventsAndACallback {
  OwnedEventsAndACallback() {
    owner.ran = &ran;
    for (int i = 0; i < 4; ++i) owner.Add(Ms(10), "o" + std::to_string(i));
    loop.At(Ms(10), [this] { ran.push_back("cb"); });
    owner.Add(Ms(10), "o4");
    owner.Add(Ms(10), "o5");
    owner.Add(Ms(20), "o6");
  }
  const std::vector<std::string> all = {"o0", "o1", "o2", "o3", "cb", "o4", "o5", "o6"};
  EventLoop loop;
  std::vector<std::string> ran;
  RunsOwnedEvents owner{loop};
};

// RunUntil lets an owner run its next events within one call of its handler, each counted
// as an event, in the order the loop would have run them; RunOne and RunOne(limit) promise
// one event, and run one, even when called by an event that RunUntil runs.
TEST(SimulationEventLoopTest, AnOwnerRunsItsNextEventsItselfOnlyInsideRunUntil) {
  {
    OwnedEventsAndACallback t;
    t.loop.RunUntil(Ms(20));
    EXPECT_EQ(t.ran, t.all);
    EXPECT_EQ(t.loop.events_run(), 8u);
    EXPECT_EQ(t.loop.pending(), 0u);
    EXPECT_EQ(t.owner.calls, 3);  // o0..o3, o4 and o5, o6
  }
  {
    SCOPED_TRACE("RunOne");
    OwnedEventsAndACallback t;
    for (size_t i = 1; i <= t.all.size(); ++i) {
      ASSERT_TRUE(i % 2 == 0 ? t.loop.RunOne() : t.loop.RunOne(Ms(20)));
      EXPECT_EQ(t.loop.events_run(), i);
      EXPECT_EQ(t.ran.size(), i);
    }
    EXPECT_FALSE(t.loop.RunOne());
    EXPECT_EQ(t.ran, t.all);
  }
  {
    SCOPED_TRACE("RunOne inside RunUntil");
    OwnedEventsAndACallback t;
    EventLoop& loop = t.loop;
    size_t before = 0;
    loop.At(Ms(5), [&] {
      loop.RunOne(Ms(10));  // runs o0 alone, inside RunUntil's call
      before = t.ran.size();
      loop.RunOne();  // o1 alone
      EXPECT_EQ(t.ran.size(), 2u);
    });
    loop.RunUntil(Ms(20));
    EXPECT_EQ(before, 1u);
    EXPECT_EQ(t.ran, t.all);
    EXPECT_EQ(loop.events_run(), 9u);
    // Back in RunUntil, the owner runs its next events itself again: o0, o1, o2 and o3,
    // o4 and o5, o6.
    EXPECT_EQ(t.owner.calls, 5);
  }
}

// An event budget spent among the owner's events stops them where the loop would have
// stopped: the rest stay queued, in order, and run once the budget allows.
TEST(SimulationEventLoopTest, ABudgetSpentAmongAnOwnersEventsStopsThemThere) {
  for (uint64_t budget = 1; budget <= 8; ++budget) {
    SCOPED_TRACE(budget);
    OwnedEventsAndACallback t;
    t.loop.set_event_budget(budget);
    t.loop.RunUntil(Ms(30));
    EXPECT_EQ(t.loop.events_run(), budget);
    EXPECT_EQ(t.ran, std::vector<std::string>(t.all.begin(), t.all.begin() + budget));
    EXPECT_EQ(t.loop.pending(), 8u - budget);
    t.loop.set_event_budget(0);
    t.loop.RunUntil(Ms(30));
    EXPECT_EQ(t.ran, t.all);
    EXPECT_EQ(t.loop.events_run(), 8u);
  }
  {
    SCOPED_TRACE("a budget set by an owner's event");
    OwnedEventsAndACallback t;
    t.owner.on_event = [&] {
      if (t.ran.size() == 2) t.loop.set_event_budget(3);
    };
    t.loop.RunUntil(Ms(30));
    EXPECT_EQ(t.ran, std::vector<std::string>(t.all.begin(), t.all.begin() + 3));
    EXPECT_EQ(t.loop.events_run(), 3u);
  }
  {
    SCOPED_TRACE("a budget lowered by an event that RunOne runs inside RunUntil");
    OwnedEventsAndACallback t;
    EventLoop& loop = t.loop;
    t.owner.on_event = [&] {
      if (t.ran.size() == 1) loop.set_event_budget(4);  // o0, run by the RunOne below
    };
    loop.At(Ms(5), [&] { loop.RunOne(); });
    loop.RunUntil(Ms(30));
    // The callback, o0, then RunUntil's o1 and o2: the owner may not run o3 with o2.
    EXPECT_EQ(t.ran, std::vector<std::string>(t.all.begin(), t.all.begin() + 3));
    EXPECT_EQ(loop.events_run(), 4u);
  }
}

// ------------------------------------------------------------------------------ Network

// A network of three regions A, B, C recording every delivery.
struct NetFixture {
  struct Delivery {
    int from, to;
    int id;
    SimTime at;
  };
  explicit NetFixture(uint64_t seed = 7) : rng(seed), net(loop, rng, {"A", "B", "C"}) {
    net.SetDeliver([this](int from, int to, const std::shared_ptr<const void>& m) {
      got.push_back({from, to, *static_cast<const int*>(m.get()), loop.Now()});
    });
  }
  void Send(int from, int to, int id, size_t bytes = 100) {
    net.Send(from, to, std::make_shared<const int>(id), bytes, "msg " + std::to_string(id));
  }
  // Undescribed, as the simulator sends when nothing traces: the network's inline path.
  void SendPlain(int from, int to, int id) {
    net.Send(from, to, std::make_shared<const int>(id), 100, std::string());
  }
  EventLoop loop;
  Rng rng;
  Network net;
  std::vector<Delivery> got;
};

TEST(SimulationNetworkTest, LatencyIsExactWithoutJitter) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  f.Send(0, 1, 1);
  f.loop.RunUntil(Ms(3));
  f.Send(0, 1, 2);
  f.Send(1, 0, 3);  // default link: 50ms
  f.loop.RunUntil(Ms(10) - kUs);
  EXPECT_TRUE(f.got.empty());
  f.loop.RunUntil(Ms(10));
  ASSERT_EQ(f.got.size(), 1u);
  EXPECT_EQ(f.got[0].at, Ms(10));
  f.loop.RunUntil(seconds(1));
  ASSERT_EQ(f.got.size(), 3u);
  EXPECT_EQ(f.got[1].id, 2);
  EXPECT_EQ(f.got[1].at, Ms(13));
  EXPECT_EQ(f.got[2].id, 3);
  EXPECT_EQ(f.got[2].at, Ms(53));
  EXPECT_EQ(f.net.link(1, 0).latency, Ms(50));
  const LinkStats& s = f.net.stats(0, 1);
  EXPECT_EQ(s.messages_sent, 2u);
  EXPECT_EQ(s.messages_delivered, 2u);
  EXPECT_EQ(s.bytes_sent, 200u);
  EXPECT_EQ(s.bytes_delivered, 200u);
}

// Messages and timers due at the same instant run in the order they were scheduled,
// whether a message waits in one of the network's rings (an owned lane of the loop's queue)
// or in its pool (an event of the loop's own): the order the network had when every message
// was an event of the loop.
TEST(SimulationNetworkTest, MessagesAndTimersOfOneInstantRunInTheOrderScheduled) {
  NetFixture f;
  // Four rings, for delays of 10, 60, 70 and 80 ms; then 5 ms and 0 ms.
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  f.net.SetLink(0, 2, LinkParams{Ms(60), SimTime(0), 0, 0});
  f.net.SetLink(1, 0, LinkParams{Ms(70), SimTime(0), 0, 0});
  f.net.SetLink(1, 2, LinkParams{Ms(80), SimTime(0), 0, 0});
  f.net.SetLink(2, 0, LinkParams{Ms(5), SimTime(0), 0, 0});
  f.net.SetLink(2, 1, LinkParams{SimTime(0), SimTime(0), 0, 0});
  std::vector<std::string> order;
  f.net.SetDeliver([&](int, int, const std::shared_ptr<const void>& m) {
    order.push_back("msg " + std::to_string(*static_cast<const int*>(m.get())) + " at " +
                    FormatDuration(f.loop.Now()));
  });
  f.Send(0, 1, 1);  // ring of 10 ms: arrives at 10 ms
  f.loop.At(Ms(10), [&] { order.push_back("t1"); });
  f.Send(0, 2, 2);  // 60 ms
  f.Send(1, 0, 3);  // 70 ms
  f.Send(1, 2, 4);  // 80 ms
  f.loop.RunUntil(Ms(1));
  f.Send(0, 1, 5);  // ring of 10 ms: arrives at 11 ms
  f.loop.RunUntil(Ms(5));
  f.Send(2, 0, 6);  // arrives at 10 ms, before the rings' last: to the pool
  f.loop.At(Ms(10), [&] {
    order.push_back("t2");
    f.Send(2, 1, 7);  // no delay: arrives at once, after t2
    f.loop.At(Ms(10), [&] { order.push_back("t3"); });
  });
  f.loop.RunUntil(Ms(11));
  EXPECT_EQ(order, (std::vector<std::string>{"msg 1 at 10ms", "t1", "msg 6 at 10ms", "t2",
                                             "msg 7 at 10ms", "t3", "msg 5 at 11ms"}));
  f.loop.RunUntil(seconds(1));
  EXPECT_EQ(order.size(), 10u);
}

// A message's size is counted in full, however big (a full sync of a large data set): a
// message in flight keeps a 24-bit size, and from 16 MiB - 1 bytes on (the largest 24-bit
// value, which marks it) its full size in a side table. On a plain link (the inline send
// path unless described), either side of that bound and of 4 GiB.
TEST(SimulationNetworkTest, MessagesOfSixteenMebibytesOrMoreCountTheirFullSize) {
  for (bool described : {false, true}) {
    SCOPED_TRACE(described ? "described" : "not described");
    NetFixture f;
    const std::vector<size_t> sizes = {(size_t{1} << 24) - 2,
                                       (size_t{1} << 24) - 1,
                                       size_t{1} << 24,
                                       size_t{5} << 30,
                                       UINT32_MAX,
                                       size_t{UINT32_MAX} - 1,
                                       size_t{UINT32_MAX} + 1,
                                       100};
    uint64_t total = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
      f.net.Send(0, 1, std::make_shared<const int>(static_cast<int>(k)), sizes[k],
                 described ? "msg " + std::to_string(k) : std::string());
      total += sizes[k];
    }
    EXPECT_EQ(f.net.stats(0, 1).bytes_sent, total);
    f.loop.RunUntil(seconds(1));
    ASSERT_EQ(f.got.size(), sizes.size());
    EXPECT_EQ(f.net.stats(0, 1).bytes_delivered, total);
    // One at a time, through a trace that prints each size.
    std::vector<std::string> lines;
    f.net.SetTrace([&lines](const std::string& line) { lines.push_back(line); });
    for (size_t k = 0; k < sizes.size(); ++k) {
      const uint64_t before = f.net.stats(0, 1).bytes_delivered;
      f.net.Send(0, 1, std::make_shared<const int>(static_cast<int>(k)), sizes[k],
                 described ? "msg" : std::string());
      f.loop.RunUntil(f.loop.Now() + seconds(1));
      EXPECT_EQ(f.net.stats(0, 1).bytes_delivered - before, sizes[k]);
      ASSERT_FALSE(lines.empty());
      EXPECT_NE(lines.back().find("(" + std::to_string(sizes[k]) + " B)"), std::string::npos)
          << lines.back();
    }
  }
}

TEST(SimulationNetworkTest, LinksOfManyDelaysShareRingsInArrivalOrder) {
  // Six links, five fixed delays (more than the network's rings) and one jittered: random
  // traffic over two seconds: every message of a fixed delay arrives exactly that delay
  // after it was sent, each link's in the order sent, and arrivals never go back in time.
  NetFixture f;
  const SimTime latency[3][3] = {
      {SimTime(0), Ms(10), Ms(50)}, {Ms(30), SimTime(0), Ms(7)}, {Ms(3), Ms(200), SimTime(0)}};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      if (a != b) f.net.SetLink(a, b, LinkParams{latency[a][b], SimTime(0), 0, 0});
    }
  }
  f.net.SetLink(2, 0, LinkParams{Ms(3), Ms(2), 0, 0});
  Rng rng(11);
  std::map<int, SimTime> due;  // id -> arrival, for the fixed delays
  int id = 0;
  for (SimTime t(0); t < seconds(2); t += SimTime(250)) {
    f.loop.RunUntil(t);
    for (int k = static_cast<int>(rng.Uniform(6)); k > 0; --k) {
      const int a = static_cast<int>(rng.Uniform(3));
      const int b = (a + 1 + static_cast<int>(rng.Uniform(2))) % 3;
      if (!(a == 2 && b == 0)) due[id] = t + f.net.link(a, b).latency;
      f.Send(a, b, id++);
    }
  }
  f.loop.RunUntil(seconds(3));
  ASSERT_EQ(f.got.size(), static_cast<size_t>(id));
  std::map<std::pair<int, int>, int> last;  // per link: the last id delivered
  for (size_t i = 0; i < f.got.size(); ++i) {
    const auto& d = f.got[i];
    if (i > 0) {
      EXPECT_GE(d.at, f.got[i - 1].at);
    }
    if (d.from == 2 && d.to == 0) continue;
    EXPECT_EQ(d.at, due[d.id]) << d.id;
    auto [it, fresh] = last.emplace(std::make_pair(d.from, d.to), d.id);
    if (!fresh) {
      EXPECT_GT(d.id, it->second);
    }
    it->second = d.id;
  }
}

TEST(SimulationNetworkTest, ABurstBeyondAHugePageOfMessagesArrivesInOrder) {
  // 40,000 messages in flight at once: the ring grows past 2 MiB (huge pages) while full.
  NetFixture f;
  constexpr int kN = 40'000;
  for (int i = 0; i < kN; ++i) {
    f.Send(i % 2, 1 - i % 2, i);
    if (i % 10'000 == 9'999) f.loop.RunUntil(f.loop.Now() + kUs);
  }
  f.loop.RunUntil(seconds(1));
  ASSERT_EQ(f.got.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) EXPECT_EQ(f.got[i].id, i);
}

TEST(SimulationNetworkTest, JitterStaysWithinBounds) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(20), Ms(5), 0, 0});
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i) f.Send(0, 1, i);
  f.loop.RunUntil(seconds(1));
  ASSERT_EQ(f.got.size(), static_cast<size_t>(kN));
  SimTime lo = f.got.front().at, hi = f.got.front().at;
  std::set<int64_t> distinct;
  for (const auto& d : f.got) {
    EXPECT_GE(d.at, Ms(15));
    EXPECT_LE(d.at, Ms(25));
    lo = std::min(lo, d.at);
    hi = std::max(hi, d.at);
    distinct.insert(d.at.count());
  }
  EXPECT_LT(lo, Ms(15) + SimTime(100));  // the whole range is used
  EXPECT_GT(hi, Ms(25) - SimTime(100));
  EXPECT_GT(distinct.size(), 500u);
  // Jitter reorders messages.
  bool reordered = false;
  for (size_t i = 1; i < f.got.size(); ++i) reordered |= f.got[i].id < f.got[i - 1].id;
  EXPECT_TRUE(reordered);
}

TEST(SimulationNetworkTest, JitterLargerThanLatencyNeverDeliversInThePast) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(1), Ms(5), 0, 0});
  f.loop.RunUntil(Ms(100));
  for (int i = 0; i < 500; ++i) f.Send(0, 1, i);
  f.loop.RunUntil(seconds(1));
  ASSERT_EQ(f.got.size(), 500u);
  for (const auto& d : f.got) {
    EXPECT_GE(d.at, Ms(100));
    EXPECT_LE(d.at, Ms(106));
  }
}

TEST(SimulationNetworkTest, LossDropsAboutThatFraction) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0.3, 0});
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) f.Send(0, 1, i);
  f.loop.RunUntil(seconds(1));
  const LinkStats& s = f.net.stats(0, 1);
  EXPECT_EQ(s.messages_sent, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.messages_delivered + s.dropped_loss, s.messages_sent);
  EXPECT_EQ(s.messages_delivered, f.got.size());
  EXPECT_NEAR(static_cast<double>(s.dropped_loss) / kN, 0.3, 0.015);
  EXPECT_EQ(s.dropped_cut, 0u);
}

TEST(SimulationNetworkTest, LossOneDropsEverythingLossZeroNothing) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 1.0, 0});
  f.net.SetLink(0, 2, LinkParams{Ms(10), SimTime(0), 0.0, 0});
  for (int i = 0; i < 1000; ++i) {
    f.Send(0, 1, i);
    f.Send(0, 2, i);
  }
  f.loop.RunUntil(seconds(1));
  EXPECT_EQ(f.net.stats(0, 1).messages_delivered, 0u);
  EXPECT_EQ(f.net.stats(0, 1).dropped_loss, 1000u);
  EXPECT_EQ(f.net.stats(0, 2).messages_delivered, 1000u);
}

TEST(SimulationNetworkTest, DuplicateDeliversASecondCopy) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 1.0});
  f.net.SetLink(0, 2, LinkParams{Ms(10), Ms(2), 0, 0.3});
  for (int i = 0; i < 10; ++i) f.Send(0, 1, i);
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) f.Send(0, 2, i);
  f.loop.RunUntil(seconds(1));
  std::map<int, int> copies;
  size_t to_c = 0;
  for (const auto& d : f.got) {
    if (d.to == 1) {
      copies[d.id]++;
      EXPECT_EQ(d.at, Ms(10));
    } else {
      ++to_c;
    }
  }
  EXPECT_EQ(copies.size(), 10u);
  for (auto [id, n] : copies) EXPECT_EQ(n, 2) << "message " << id;
  EXPECT_EQ(f.net.stats(0, 1).duplicated, 10u);
  EXPECT_EQ(f.net.stats(0, 1).messages_delivered, 20u);
  const LinkStats& s = f.net.stats(0, 2);
  EXPECT_EQ(to_c, kN + s.duplicated);
  EXPECT_NEAR(static_cast<double>(s.duplicated) / kN, 0.3, 0.015);
}

TEST(SimulationNetworkTest, CutDropsBothWaysUntilRestored) {
  NetFixture f;
  f.net.Cut(0, 1);
  EXPECT_TRUE(f.net.IsCut(0, 1));
  EXPECT_TRUE(f.net.IsCut(1, 0));
  EXPECT_FALSE(f.net.Connected(0, 1));
  EXPECT_TRUE(f.net.Connected(0, 2));
  f.Send(0, 1, 1);
  f.Send(1, 0, 2);
  f.Send(0, 2, 3);
  f.loop.RunUntil(seconds(1));
  ASSERT_EQ(f.got.size(), 1u);
  EXPECT_EQ(f.got[0].id, 3);
  EXPECT_EQ(f.net.stats(0, 1).dropped_cut, 1u);
  EXPECT_EQ(f.net.stats(1, 0).dropped_cut, 1u);
  f.net.Restore(0, 1);
  EXPECT_TRUE(f.net.Connected(0, 1));
  f.Send(0, 1, 4);
  f.loop.RunUntil(seconds(2));
  ASSERT_EQ(f.got.size(), 2u);
  EXPECT_EQ(f.got[1].id, 4);
}

// Described (its description kept beside it) or not (the inline path), a message in flight
// is dropped if its link is cut when it arrives.
TEST(SimulationNetworkTest, MessageInFlightIsDroppedIfTheLinkIsCutWhenItArrives) {
  for (bool described : {true, false}) {
    SCOPED_TRACE(described ? "described" : "undescribed");
    NetFixture f;
    auto send = [&](int id) { described ? f.Send(0, 1, id) : f.SendPlain(0, 1, id); };
    f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
    send(1);
    f.loop.RunUntil(Ms(5));
    f.net.Cut(0, 1);
    f.loop.RunUntil(Ms(20));
    EXPECT_TRUE(f.got.empty());
    EXPECT_EQ(f.net.stats(0, 1).dropped_cut, 1u);
    EXPECT_EQ(f.net.stats(0, 1).messages_delivered, 0u);
    // Cut and healed again before it arrives: the link is up when it lands, so it arrives.
    f.net.Restore(0, 1);
    send(2);
    f.loop.RunUntil(Ms(22));
    f.net.Cut(0, 1);
    f.loop.RunUntil(Ms(24));
    f.net.Restore(0, 1);
    f.loop.RunUntil(Ms(40));
    ASSERT_EQ(f.got.size(), 1u);
    EXPECT_EQ(f.got[0].id, 2);
    EXPECT_EQ(f.got[0].at, Ms(30));
  }
}

// Turning tracing on or off while messages are in flight: those sent on the inline path
// (nothing kept beside them) are traced when they arrive once tracing is on, with their
// size; those sent while tracing arrive untraced once it is off; every one arrives once.
TEST(SimulationNetworkTest, TracingTurnedOnAndOffWhileMessagesAreInFlight) {
  NetFixture f;
  std::vector<std::string> lines;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  auto send = [&](int id) {
    f.net.Send(0, 1, std::make_shared<const int>(id), static_cast<size_t>(100 + id),
               f.net.tracing() ? "msg " + std::to_string(id) : std::string());
  };
  send(1);
  send(2);
  f.loop.RunUntil(Ms(5));
  f.net.SetTrace([&](const std::string& l) { lines.push_back(l); });
  send(3);
  f.loop.RunUntil(Ms(12));  // 1 and 2 arrive traced
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("A->B sent msg 3 (103 B)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("A->B delivered  (101 B)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("A->B delivered  (102 B)"), std::string::npos) << lines[2];
  f.net.SetTrace(nullptr);
  send(4);
  f.loop.RunUntil(Ms(40));  // 3 (kept beside it) and 4 arrive untraced
  EXPECT_EQ(lines.size(), 3u);
  ASSERT_EQ(f.got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.got[static_cast<size_t>(i)].id, i + 1);
  EXPECT_EQ(f.got[2].at, Ms(15));
  EXPECT_EQ(f.net.stats(0, 1).messages_delivered, 4u);
  EXPECT_EQ(f.net.stats(0, 1).bytes_delivered, 101u + 102u + 103u + 104u);
}

// The observer's ids travel beside the messages (in the side table, keyed by a ring's
// sequence number or a pool entry's key): with jitter (messages overtake, so some wait in
// the pool) and duplicates, each copy's delivery or drop in flight carries the id its
// send had, described or not. Removing the observer while observed messages are in
// flight delivers them all, with their sizes.
TEST(SimulationNetworkTest, ObserverIdsFollowEachCopyThroughRingsAndPool) {
  NetFixture f(4321);
  using Type = Network::MessageEvent::Type;
  struct Event {
    Type type;
    uint32_t id;
    int from, to;
    bool duplicate;
    std::string what;
  };
  std::vector<Event> events;
  std::map<uint32_t, int> body_of;  // a sent copy's id -> the message's body
  std::vector<uint32_t> delivered;  // ids of kDelivered events, in order (as f.got)
  int sending = -1;
  f.net.SetObserver([&](const Network::MessageEvent& e) {
    events.push_back({e.type, e.id, e.from, e.to, e.duplicate, e.what});
    if (e.type == Type::kSent) body_of[e.id] = sending;
    if (e.type == Type::kDelivered) delivered.push_back(e.id);
  });
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});  // a ring
  f.net.SetLink(0, 2, LinkParams{Ms(30), Ms(20), 0, 0.3});    // overtakes: the pool
  for (int i = 0; i < 200; ++i) {
    sending = i;
    const int to = 1 + i % 2;
    if (i % 3 == 0) {
      f.Send(0, to, i);
    } else {
      f.SendPlain(0, to, i);
    }
    f.loop.RunUntil(f.loop.Now() + Ms(1));
  }
  f.net.Cut(0, 2);  // what is in flight on A->C is dropped when it arrives
  f.loop.RunUntil(f.loop.Now() + Ms(60));
  f.net.Restore(0, 2);
  // Observed messages in flight when the observer goes: they arrive, unobserved.
  const size_t events_before = events.size();
  for (int i = 200; i < 260; ++i) {
    sending = i;
    f.SendPlain(0, 1 + i % 2, i);
    f.loop.RunUntil(f.loop.Now() + SimTime(100));
  }
  f.net.SetObserver(nullptr);
  const size_t got_before = f.got.size();
  f.loop.RunUntil(f.loop.Now() + seconds(1));

  std::map<uint32_t, const Event*> sent;
  size_t duplicates = 0, dropped = 0, out_of_order = 0;
  uint32_t last_id = 0;
  for (const Event& e : events) {
    if (e.type == Type::kSent) {
      EXPECT_EQ(e.id, ++last_id) << "ids count from 1 in send order";
      sent[e.id] = &e;
      duplicates += e.duplicate;
      continue;
    }
    ASSERT_TRUE(e.type == Type::kDelivered || e.type == Type::kDroppedInFlight);
    auto it = sent.find(e.id);
    ASSERT_NE(it, sent.end()) << "an end event for an id never sent: " << e.id;
    EXPECT_EQ(e.from, it->second->from);
    EXPECT_EQ(e.to, it->second->to);
    EXPECT_EQ(e.what, it->second->what);
    dropped += e.type == Type::kDroppedInFlight;
    sent.erase(it);  // one end event per copy
  }
  // Sent, observed, then in flight when the observer went.
  EXPECT_GT(sent.size(), 0u);
  EXPECT_GT(events.size(), events_before);
  ASSERT_LE(delivered.size(), f.got.size());
  for (size_t k = 0; k < delivered.size(); ++k) {
    EXPECT_EQ(f.got[k].id, body_of[delivered[k]]) << "delivery " << k;
    if (k > 0 && delivered[k] < delivered[k - 1]) ++out_of_order;
  }
  EXPECT_GT(duplicates, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(out_of_order, 0u) << "no message overtook another: the pool went untested";
  // Every copy sent before the observer went is delivered or dropped exactly once.
  EXPECT_GT(f.got.size(), got_before);
  uint64_t sent_bytes = 0, delivered_bytes = 0, dropped_cut = 0, copies = 0;
  for (int to : {1, 2}) {
    const LinkStats& s = f.net.stats(0, to);
    sent_bytes += s.bytes_sent + 100 * s.duplicated;
    delivered_bytes += s.bytes_delivered + 100 * s.dropped_cut;
    dropped_cut += s.dropped_cut;
    copies += s.messages_sent + s.duplicated;
  }
  EXPECT_EQ(dropped_cut, dropped);
  EXPECT_EQ(delivered_bytes, sent_bytes);
  EXPECT_EQ(f.got.size() + dropped, copies);
}

// An undescribed message on a link that draws nothing goes into flight inline: that path
// honours a cut when the message is sent (not only when it would arrive), a cut kept across
// SetLink, and the parameters a link was last given.
TEST(SimulationNetworkTest, UndescribedMessagesHonourCutsAndTheLinksLastParameters) {
  NetFixture f;
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  f.net.Cut(0, 1);
  f.net.SetLink(0, 1, LinkParams{Ms(20), SimTime(0), 0, 0});
  EXPECT_TRUE(f.net.IsCut(0, 1));
  f.SendPlain(0, 1, 1);
  f.net.Restore(0, 1);  // up again before it would land: it was dropped when sent
  f.loop.RunUntil(Ms(100));
  EXPECT_TRUE(f.got.empty());
  EXPECT_EQ(f.net.stats(0, 1).dropped_cut, 1u);
  f.SendPlain(0, 1, 2);
  f.net.SetLink(0, 1, LinkParams{Ms(5), SimTime(0), 1.0, 0});
  f.SendPlain(0, 1, 3);  // lost
  f.net.SetLink(0, 1, LinkParams{Ms(5), SimTime(0), 0, 0});
  f.SendPlain(0, 1, 4);
  f.loop.RunUntil(Ms(200));
  ASSERT_EQ(f.got.size(), 2u);
  EXPECT_EQ(f.got[0].id, 4);
  EXPECT_EQ(f.got[0].at, Ms(105));
  EXPECT_EQ(f.got[1].id, 2);
  EXPECT_EQ(f.got[1].at, Ms(120));
  EXPECT_EQ(f.net.stats(0, 1).dropped_loss, 1u);
  EXPECT_EQ(f.net.stats(0, 1).messages_delivered, 2u);
  f.net.Cut(1, 0);  // both ways
  f.SendPlain(0, 1, 5);
  f.net.Restore(0, 1);
  f.loop.RunUntil(Ms(300));
  EXPECT_EQ(f.got.size(), 2u);
  EXPECT_EQ(f.net.stats(0, 1).dropped_cut, 2u);
}

// A Receiver, while set, gets every packet (its header and body as sent; a message sent
// with Send has a zero header) instead of the Deliver callback.
TEST(SimulationNetworkTest, AReceiverGetsEveryPacketInsteadOfTheCallback) {
  struct Received {
    int from, to;
    Network::Packet::Header header;
    int body;
  };
  struct Recorder final : Network::Receiver {
    void Deliver(int from, int to, const Network::Packet& p) override {
      got.push_back({from, to, p.header, *static_cast<const int*>(p.body.get())});
    }
    std::vector<Received> got;
  } receiver;
  NetFixture f;
  f.net.SetReceiver(&receiver);
  f.net.SendPacket(0, 2, Network::Packet::Header{1, 2, 3}, std::make_shared<const int>(7), 10,
                   std::string());
  f.Send(1, 0, 8);
  f.loop.RunUntil(seconds(1));
  EXPECT_TRUE(f.got.empty());
  ASSERT_EQ(receiver.got.size(), 2u);
  EXPECT_EQ(receiver.got[0].from, 0);
  EXPECT_EQ(receiver.got[0].to, 2);
  EXPECT_EQ(receiver.got[0].header, (Network::Packet::Header{1, 2, 3}));
  EXPECT_EQ(receiver.got[0].body, 7);
  EXPECT_EQ(receiver.got[1].from, 1);
  EXPECT_EQ(receiver.got[1].to, 0);
  EXPECT_EQ(receiver.got[1].header, Network::Packet::Header{});
  EXPECT_EQ(receiver.got[1].body, 8);
  f.net.SetReceiver(nullptr);
  f.SendPlain(0, 1, 9);
  f.loop.RunUntil(seconds(2));
  ASSERT_EQ(f.got.size(), 1u);
  EXPECT_EQ(f.got[0].id, 9);
  EXPECT_EQ(receiver.got.size(), 2u);
}

// Records every packet a network delivers, with its time (the packets of the tests of
// records holding several copies, below).
struct CopyRecorder final : Network::Receiver {
  struct Received {
    int from, to;
    Network::Packet::Header header;
    int body;  // -1: none
    SimTime at;
  };
  explicit CopyRecorder(EventLoop& l) : loop(l) {}
  void Deliver(int from, int to, const Network::Packet& p) override {
    // A delivery may send (the hook, once): the packet must stay valid meanwhile.
    if (on_deliver) std::exchange(on_deliver, nullptr)();
    const int body = p.body ? *static_cast<const int*>(p.body.get()) : -1;
    got.push_back({from, to, p.header, body, loop.Now()});
    if (reply) reply(from, to);
  }
  std::vector<int> from() const {
    std::vector<int> f;
    for (const Received& r : got) f.push_back(r.from);
    return f;
  }
  std::vector<int> to() const {
    std::vector<int> t;
    for (const Received& r : got) t.push_back(r.to);
    return t;
  }
  EventLoop& loop;
  std::function<void()> on_deliver;
  // Called after every delivery is recorded (a receiver acknowledging, say).
  std::function<void(int from, int to)> reply;
  std::vector<Received> got;
};

// A writer sends one packet to every peer in turn (the replicator's effects): the network
// keeps those copies in one record while nothing comes between them, and each still arrives
// as a message of its own, in send order, at its time, counted on its link; a copy whose
// link is cut by then is dropped alone. Something sent or scheduled between two copies,
// or a different packet, starts a new record, with the same arrivals.
TEST(SimulationNetworkTest, CopiesOfAPacketSentToEveryPeerArriveEachInTurn) {
  using Recorder = CopyRecorder;
  EventLoop loop;
  Network net(loop, Rng(1), {"A", "B", "C", "D", "E"});
  Recorder receiver(loop);
  net.SetReceiver(&receiver);
  std::vector<size_t> timer;  // deliveries before the timer ran
  const Network::Packet::Header h{1, 2, 3};
  auto body = std::make_shared<const int>(7);
  auto other = std::make_shared<const int>(8);
  // From C (2) to A, B, D, E: one record of four copies; the ring keeps one reference.
  for (int to : {0, 1, 3, 4}) net.SendPacket(2, to, h, std::shared_ptr<const void>(body), 10, {});
  EXPECT_EQ(body.use_count(), 2);
  // At 1 ms: to A and B, a timer, then to D; a different header to E; a different body to A.
  loop.RunUntil(Ms(1));
  net.SendPacket(2, 0, h, std::shared_ptr<const void>(body), 10, {});
  net.SendPacket(2, 1, h, std::shared_ptr<const void>(body), 10, {});
  loop.At(Ms(51), [&] { timer.push_back(receiver.got.size()); });
  net.SendPacket(2, 3, h, std::shared_ptr<const void>(body), 10, {});
  net.SendPacket(2, 4, Network::Packet::Header{1, 2, 4}, std::shared_ptr<const void>(body), 10, {});
  net.SendPacket(2, 0, h, std::shared_ptr<const void>(other), 10, {});
  net.Cut(2, 3);
  loop.RunUntil(Ms(50));
  ASSERT_EQ(receiver.got.size(), 3u);  // the copy to D was dropped
  const std::vector<int> first = {0, 1, 4};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(receiver.got[i].from, 2);
    EXPECT_EQ(receiver.got[i].to, first[i]) << i;
    EXPECT_EQ(receiver.got[i].header, h);
    EXPECT_EQ(receiver.got[i].body, 7);
    EXPECT_EQ(receiver.got[i].at, Ms(50));
  }
  EXPECT_EQ(net.stats(2, 3).dropped_cut, 1u);
  net.Restore(2, 3);
  loop.RunUntil(Ms(51));
  ASSERT_EQ(receiver.got.size(), 3u + 5u);
  EXPECT_EQ(timer, std::vector<size_t>{3u + 2u});  // between the copies to B and to D
  const std::vector<int> to = {0, 1, 3, 4, 0};
  const std::vector<int> bodies = {7, 7, 7, 7, 8};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(receiver.got[3 + i].to, to[i]) << i;
    EXPECT_EQ(receiver.got[3 + i].body, bodies[i]) << i;
    EXPECT_EQ(receiver.got[3 + i].header[2], i == 3 ? 4u : 3u) << i;
    EXPECT_EQ(receiver.got[3 + i].at, Ms(51)) << i;
  }
  for (int peer : {0, 1, 4}) {
    EXPECT_EQ(net.stats(2, peer).messages_delivered, peer == 0 ? 3u : 2u) << peer;
    EXPECT_EQ(net.stats(2, peer).bytes_delivered, peer == 0 ? 30u : 20u) << peer;
  }
  EXPECT_EQ(net.stats(2, 3).messages_delivered, 1u);
  EXPECT_EQ(body.use_count(), 1);  // every copy delivered: nothing holds the body
}

// Five regions A..E, a receiver, and C's sends of one packet (header, body, size).
struct CopyNet {
  CopyNet() { net.SetReceiver(&receiver); }
  void Send(int from, int to, size_t bytes = 10) {
    net.SendPacket(from, to, header, std::shared_ptr<const void>(body), bytes, std::string());
  }
  // Traces into *lines and observes into *events from now on, an event as "TYPE ID FROM->TO
  // BYTES" (TYPE: the number of Network::MessageEvent::Type, as Code gives it).
  void Watch(std::vector<std::string>* lines, std::vector<std::string>* events) {
    net.SetTrace([lines](const std::string& line) { lines->push_back(line); });
    net.SetObserver([events](const Network::MessageEvent& e) {
      events->push_back(Code(e.type) + " " + std::to_string(e.id) + " " + std::to_string(e.from) +
                        "->" + std::to_string(e.to) + " " + std::to_string(e.bytes));
    });
  }
  static std::string Code(Network::MessageEvent::Type type) {
    return std::to_string(static_cast<int>(type));
  }
  EventLoop loop;
  Network net{loop, Rng(1), {"A", "B", "C", "D", "E"}};
  CopyRecorder receiver{loop};
  const Network::Packet::Header header{1, 2, 3};
  std::shared_ptr<const int> body = std::make_shared<const int>(7);
};

// A copy joins a fan-out record only as the copy to the region after its last one, of the
// same sender, size and arrival: whatever happens between two sends that schedules no event
// (a copy dropped when sent, a link's new parameters, a duplicate) leaves each copy to
// arrive at its own region, time and link, counted there, once (twice if duplicated).
// Fan-in records: FanInCopiesJoinOnlyFromTheNextSenderOfOnePacket.
TEST(SimulationNetworkTest, FanOutCopiesJoinOnlyAsTheNextReceiverOfOneSenderSizeAndArrival) {
  // C -> A, then C -> B dropped when sent (a cut link, then a link losing everything): no
  // event between, so C -> D follows C -> A in sequence, but D is not the region after A.
  for (bool cut : {true, false}) {
    SCOPED_TRACE(cut ? "cut" : "loss 1");
    CopyNet n;
    if (cut) {
      n.net.Cut(2, 1);
    } else {
      n.net.SetLink(2, 1, LinkParams{Ms(50), SimTime(0), 1.0, 0});
    }
    n.Send(2, 0);
    n.Send(2, 1);
    n.Send(2, 3);
    n.loop.RunUntil(seconds(1));
    EXPECT_EQ(n.receiver.to(), (std::vector<int>{0, 3}));
    EXPECT_EQ(n.net.stats(2, 1).messages_delivered, 0u);
    EXPECT_EQ(n.net.stats(2, 3).messages_delivered, 1u);
    EXPECT_EQ(n.net.stats(2, 3).bytes_delivered, 10u);
    EXPECT_EQ(n.body.use_count(), 1);
  }
  {
    SCOPED_TRACE("another size");
    CopyNet n;
    n.Send(2, 0, 10);
    n.Send(2, 1, 11);
    n.loop.RunUntil(seconds(1));
    EXPECT_EQ(n.receiver.to(), (std::vector<int>{0, 1}));
    EXPECT_EQ(n.net.stats(2, 1).bytes_delivered, 11u);
  }
  {
    // B is the region after A for D's copies as for C's.
    SCOPED_TRACE("another sender");
    CopyNet n;
    n.Send(2, 0);
    n.Send(3, 1);
    n.loop.RunUntil(seconds(1));
    ASSERT_EQ(n.receiver.got.size(), 2u);
    EXPECT_EQ(n.receiver.got[1].from, 3);
    EXPECT_EQ(n.receiver.got[1].to, 1);
    EXPECT_EQ(n.net.stats(3, 1).messages_delivered, 1u);
    EXPECT_EQ(n.net.stats(2, 1).messages_delivered, 0u);
  }
  {
    // C -> B slower since the copy to A: it arrives later, and D's copy at A's time.
    SCOPED_TRACE("a link's new latency");
    CopyNet n;
    n.Send(2, 0);
    n.net.SetLink(2, 1, LinkParams{Ms(60), SimTime(0), 0, 0});
    n.Send(2, 1);
    n.Send(2, 3);
    n.loop.RunUntil(seconds(1));
    ASSERT_EQ(n.receiver.to(), (std::vector<int>{0, 3, 1}));
    EXPECT_EQ(n.receiver.got[0].at, Ms(50));
    EXPECT_EQ(n.receiver.got[1].at, Ms(50));
    EXPECT_EQ(n.receiver.got[2].at, Ms(60));
  }
  {
    // C -> B duplicated (two records, sent past the join): D's copy still goes to D.
    SCOPED_TRACE("a duplicate between copies");
    CopyNet n;
    n.net.SetLink(2, 1, LinkParams{Ms(50), SimTime(0), 0, 1.0});
    n.Send(2, 0);
    n.Send(2, 1);
    n.Send(2, 3);
    n.Send(2, 4);
    n.loop.RunUntil(seconds(1));
    EXPECT_EQ(n.receiver.to(), (std::vector<int>{0, 1, 1, 3, 4}));
    EXPECT_EQ(n.net.stats(2, 1).duplicated, 1u);
    EXPECT_EQ(n.net.stats(2, 1).messages_delivered, 2u);
    for (int peer : {0, 3, 4}) EXPECT_EQ(n.net.stats(2, peer).messages_delivered, 1u) << peer;
    EXPECT_EQ(n.body.use_count(), 1);
  }
}

// A copy joins no record of a ring its messages have all left: over links of no latency, a
// packet with no body (an acknowledgement's kind) delivered at once empties the ring with no
// event scheduled since, so the next copy of it, to the region after its receiver and
// arriving at the same time, follows it in sequence, and arrives as a message of its own.
TEST(SimulationNetworkTest, ACopyJoinsNoRecordOfARingItsMessagesLeft) {
  CopyNet n;
  for (int to : {0, 1}) n.net.SetLink(2, to, LinkParams{SimTime(0), SimTime(0), 0, 0});
  n.net.SendPacket(2, 0, n.header, nullptr, 10, std::string());
  n.loop.RunUntil(SimTime(0));
  ASSERT_EQ(n.receiver.to(), (std::vector<int>{0}));
  n.net.SendPacket(2, 1, n.header, nullptr, 10, std::string());
  n.loop.RunUntil(seconds(1));
  EXPECT_EQ(n.receiver.to(), (std::vector<int>{0, 1}));
  EXPECT_EQ(n.receiver.got.back().body, -1);
  EXPECT_EQ(n.net.stats(2, 1).messages_delivered, 1u);
}

// A record holds at most 127 copies (InFlight::copies' width): a packet sent to 257 peers
// in turn, or from 257 peers in turn to one region, arrives once over each link, in send
// order (three records each way: 127, 127 and 3 copies).
TEST(SimulationNetworkTest, APacketSentToOrFromMoreThan127PeersArrivesOverEachLink) {
  for (bool fan_in : {false, true}) {
    SCOPED_TRACE(fan_in ? "from every peer" : "to every peer");
    EventLoop loop;
    std::vector<std::string> names;
    for (int i = 0; i < 258; ++i) names.push_back("R" + std::to_string(i));
    Network net(loop, Rng(1), names);
    CopyRecorder receiver(loop);
    net.SetReceiver(&receiver);
    auto body = std::make_shared<const int>(7);
    for (int peer = 1; peer < 258; ++peer) {
      net.SendPacket(fan_in ? peer : 0, fan_in ? 0 : peer, Network::Packet::Header{1, 2, 3},
                     std::shared_ptr<const void>(body), 10, std::string());
      // The test's own reference and one per record: a new record every 127 copies.
      ASSERT_EQ(body.use_count(), 1 + (peer + 126) / 127) << peer;
    }
    EXPECT_EQ(body.use_count(), 4);  // 127 + 127 + 3 copies
    loop.RunUntil(seconds(1));
    std::vector<int> peers(257);
    std::iota(peers.begin(), peers.end(), 1);
    ASSERT_EQ(receiver.got.size(), peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      EXPECT_EQ(receiver.got[i].from, fan_in ? peers[i] : 0) << i;
      EXPECT_EQ(receiver.got[i].to, fan_in ? 0 : peers[i]) << i;
      EXPECT_EQ(receiver.got[i].at, Ms(50)) << i;
    }
    for (int peer = 1; peer < 258; ++peer)
      EXPECT_EQ(net.stats(fan_in ? peer : 0, fan_in ? 0 : peer).messages_delivered, 1u) << peer;
    EXPECT_EQ(body.use_count(), 1);
  }
}

// Tracing and observing switched on while a record of several copies is in flight: each
// copy is traced and observed as it arrives (delivered, or dropped on a link cut since),
// with its own regions and size and no id (it was not observed when sent).
TEST(SimulationNetworkTest, CopiesOfOneRecordAreTracedOnceTracingStarts) {
  using Type = Network::MessageEvent::Type;
  CopyNet n;
  for (int to : {0, 1, 3, 4}) n.Send(2, to);
  n.loop.RunUntil(Ms(1));
  std::vector<std::string> lines;
  std::vector<std::string> events;
  n.Watch(&lines, &events);
  n.net.Cut(2, 1);
  n.loop.RunUntil(seconds(1));
  EXPECT_EQ(n.receiver.to(), (std::vector<int>{0, 3, 4}));
  for (const auto& r : n.receiver.got) {
    EXPECT_EQ(r.body, 7);
    EXPECT_EQ(r.header, n.header);
    EXPECT_EQ(r.at, Ms(50));
  }
  EXPECT_EQ(lines,
            (std::vector<std::string>{
                "50ms C->A delivered  (10 B)", "50ms C->B dropped in flight (link cut)  (10 B)",
                "50ms C->D delivered  (10 B)", "50ms C->E delivered  (10 B)"}));
  const auto delivered = CopyNet::Code(Type::kDelivered);
  const auto dropped = CopyNet::Code(Type::kDroppedInFlight);
  EXPECT_EQ(events, (std::vector<std::string>{delivered + " 0 2->0 10", dropped + " 0 2->1 10",
                                              delivered + " 0 2->3 10", delivered + " 0 2->4 10"}));
  EXPECT_EQ(n.net.stats(2, 1).dropped_cut, 1u);
  EXPECT_EQ(n.body.use_count(), 1);
}

// A copy's delivery sends enough to grow the ring that holds its record twice (every entry
// moves): the copy delivered, read from its record in place, keeps its packet (the first
// Grow keeps the old slots until the delivery returns), the record's next copies arrive as
// sent, and the kept slots release their reference to the body.
TEST(SimulationNetworkTest, ARingGrownByACopysDeliveryKeepsItsRecordsNextCopies) {
  CopyNet n;
  for (int to : {0, 1, 3, 4}) n.Send(2, to);
  std::vector<std::shared_ptr<const int>> sent;
  n.receiver.on_deliver = [&] {
    // B -> A arrives after the record's copies, in the same ring (its delay), a record each.
    for (int i = 0; i < 40; ++i) {
      sent.push_back(std::make_shared<const int>(100 + i));
      n.net.SendPacket(1, 0, n.header, std::shared_ptr<const void>(sent.back()), 10, std::string());
    }
  };
  n.loop.RunUntil(seconds(1));
  ASSERT_EQ(n.receiver.got.size(), 44u);
  const std::vector<int> to = {0, 1, 3, 4};
  for (size_t i = 0; i < n.receiver.got.size(); ++i) {
    const auto& r = n.receiver.got[i];
    EXPECT_EQ(r.from, i < 4 ? 2 : 1) << i;
    EXPECT_EQ(r.to, i < 4 ? to[i] : 0) << i;
    EXPECT_EQ(r.body, i < 4 ? 7 : 100 + static_cast<int>(i - 4)) << i;
    EXPECT_EQ(r.header, n.header) << i;
    EXPECT_EQ(r.at, i < 4 ? Ms(50) : Ms(100)) << i;
  }
  EXPECT_EQ(n.body.use_count(), 1);
}

// Traffic of records of several copies, both ways, some sent by deliveries into the ring
// being delivered (enough to grow it), a timer among them and a link cut in flight: run by
// RunUntil, which lets the network deliver a record's copies in one call of its handler
// (EventLoop::RunOwnedNow), it makes the same deliveries at the same times, in the same
// order, and counts the same events, as run one event at a time (RunOne, which never lets
// it); an event budget spent anywhere, inside a record too, stops it after the same
// events, and the rest arrive as before once the budget is lifted. (That the copies do run
// in one call is the loop tests' subject, SimulationEventLoopTest, and this one's
// premise: it checks only that doing so changes nothing.)
struct RepliedCopies {
  RepliedCopies() {
    // Every region sends one packet to every peer; each receiver acknowledges to the
    // sender (those acknowledgements fan in), until the third round.
    for (int from = 0; from < 5; ++from) SendToAll(from, 0);
    n.receiver.reply = [this](int from, int to) {
      const int round = n.receiver.got.back().body;
      if (round < 3) n.net.SendPacket(to, from, n.header, Body(round + 1), 10, std::string());
      if (n.receiver.got.size() == 7) {
        // Enough to grow the ring its record is in (every entry moves), in one delivery.
        for (int i = 0; i < 40; ++i) SendToAll(to, 10);
      }
    };
    n.loop.At(Ms(100), [this] { n.net.Cut(3, 1); });  // among the acknowledgements' copies
    n.loop.At(Ms(150), [this] { n.net.Restore(3, 1); });
  }
  void SendToAll(int from, int round) {
    for (int to = 0; to < 5; ++to) {
      if (to != from) n.net.SendPacket(from, to, n.header, Body(round), 10, std::string());
    }
  }
  std::shared_ptr<const void> Body(int round) {
    if (bodies.size() <= static_cast<size_t>(round)) bodies.resize(round + 1);
    if (bodies[round] == nullptr) bodies[round] = std::make_shared<const int>(round);
    return bodies[round];
  }
  // from, to, body and time of every delivery so far, one line each.
  std::vector<std::string> Got() const {
    std::vector<std::string> lines;
    for (const CopyRecorder::Received& r : n.receiver.got) {
      lines.push_back(std::to_string(r.from) + "->" + std::to_string(r.to) + " " +
                      std::to_string(r.body) + " @" + std::to_string(r.at.count()));
    }
    return lines;
  }
  std::vector<uint64_t> Stats() const {
    std::vector<uint64_t> v;
    for (int a = 0; a < 5; ++a) {
      for (int b = 0; b < 5; ++b) {
        if (a == b) continue;
        const LinkStats& s = n.net.stats(a, b);
        v.insert(v.end(),
                 {s.messages_sent, s.messages_delivered, s.dropped_cut, s.bytes_delivered});
      }
    }
    return v;
  }
  CopyNet n;
  std::vector<std::shared_ptr<const void>> bodies;
};

TEST(SimulationNetworkTest, RecordsCopiesRunAsTheLoopWouldRunThemOneByOne) {
  // The reference: one event at a time, the deliveries after each.
  RepliedCopies ref;
  std::vector<std::vector<std::string>> after{{}};  // after[k]: after k events
  while (ref.n.loop.RunOne()) after.push_back(ref.Got());
  const uint64_t events = ref.n.loop.events_run();
  ASSERT_EQ(after.size(), events + 1);
  // Four rounds of 20, but for D <-> B's from the first acknowledgements (dropped by the
  // cut), and D's 160 copies but for its 40 to B (dropped too).
  EXPECT_EQ(ref.n.receiver.got.size(), 4u * 20u - 2u * 3u + 160u - 40u);
  EXPECT_EQ(ref.n.net.stats(3, 1).dropped_cut, 1u + 40u);
  EXPECT_EQ(ref.n.net.stats(1, 3).dropped_cut, 1u);
  {
    RepliedCopies run;
    run.n.loop.RunUntil(seconds(10));
    EXPECT_EQ(run.n.loop.events_run(), events);
    EXPECT_EQ(run.Got(), after.back());
    EXPECT_EQ(run.Stats(), ref.Stats());
  }
  for (uint64_t budget = 1; budget < events; ++budget) {
    SCOPED_TRACE(budget);
    RepliedCopies run;
    run.n.loop.set_event_budget(budget);
    run.n.loop.RunUntil(seconds(10));
    ASSERT_EQ(run.n.loop.events_run(), budget);
    ASSERT_EQ(run.Got(), after[budget]);
    run.n.loop.set_event_budget(0);
    run.n.loop.RunUntil(seconds(10));
    ASSERT_EQ(run.n.loop.events_run(), events);
    ASSERT_EQ(run.Got(), after.back());
    ASSERT_EQ(run.Stats(), ref.Stats());
  }
}

// Every peer of C sends it one packet in turn (the replicator's acknowledgements of C's
// effect): the network keeps those copies in one record, fanning in, and each still arrives
// as a message of its own from its own sender, in send order, counted on its link; a copy
// whose link is cut by then is dropped alone.
TEST(SimulationNetworkTest, CopiesOfAPacketSentByEveryPeerToOneRegionArriveEachInTurn) {
  CopyNet n;
  for (int from : {0, 1, 3, 4}) n.Send(from, 2);
  EXPECT_EQ(n.body.use_count(), 2);  // one record holds the four copies
  n.loop.RunUntil(Ms(1));
  n.net.Cut(3, 2);  // D -> C, its copy in flight (third of four)
  n.loop.RunUntil(seconds(1));
  EXPECT_EQ(n.receiver.from(), (std::vector<int>{0, 1, 4}));
  for (const auto& r : n.receiver.got) {
    EXPECT_EQ(r.to, 2);
    EXPECT_EQ(r.header, n.header);
    EXPECT_EQ(r.body, 7);
    EXPECT_EQ(r.at, Ms(50));
  }
  for (int peer : {0, 1, 3, 4}) {
    SCOPED_TRACE(peer);
    const LinkStats& s = n.net.stats(peer, 2);
    EXPECT_EQ(s.messages_sent, 1u);
    EXPECT_EQ(s.bytes_sent, 10u);
    EXPECT_EQ(s.messages_delivered, peer == 3 ? 0u : 1u);
    EXPECT_EQ(s.bytes_delivered, peer == 3 ? 0u : 10u);
    EXPECT_EQ(s.dropped_cut, peer == 3 ? 1u : 0u);
    // Nothing counted on the reverse links or on links between peers.
    EXPECT_EQ(n.net.stats(2, peer).messages_delivered, 0u);
    for (int other = 0; other < 5; ++other) {
      if (other != 2 && other != peer) {
        EXPECT_EQ(n.net.stats(peer, other).messages_sent, 0u);
      }
    }
  }
  EXPECT_EQ(n.body.use_count(), 1);
}

// A copy joins a fan-in record only from the region after its last sender, to the same
// receiver, of the same packet, size and arrival, with no event scheduled between; a record
// of copies fanning one way takes none fanning the other. Whatever else is sent arrives as
// sent, from its own sender.
TEST(SimulationNetworkTest, FanInCopiesJoinOnlyFromTheNextSenderOfOnePacket) {
  struct Sent {
    int from, to;
  };
  auto run = [](CopyNet& n, const std::vector<Sent>& sends) {
    for (const Sent& s : sends) n.Send(s.from, s.to);
    n.loop.RunUntil(seconds(1));
    std::vector<std::pair<int, int>> got;
    for (const auto& r : n.receiver.got) got.emplace_back(r.from, r.to);
    return got;
  };
  using Got = std::vector<std::pair<int, int>>;
  {
    // A -> C, then B -> C dropped when sent: D is not the sender after A.
    for (bool cut : {true, false}) {
      SCOPED_TRACE(cut ? "cut" : "loss 1");
      CopyNet n;
      if (cut) {
        n.net.Cut(1, 2);
      } else {
        n.net.SetLink(1, 2, LinkParams{Ms(50), SimTime(0), 1.0, 0});
      }
      EXPECT_EQ(run(n, {{0, 2}, {1, 2}, {3, 2}}), (Got{{0, 2}, {3, 2}}));
      EXPECT_EQ(n.net.stats(1, 2).messages_delivered, 0u);
      EXPECT_EQ(n.net.stats(3, 2).messages_delivered, 1u);
      EXPECT_EQ(n.body.use_count(), 1);
    }
  }
  {
    // B -> C duplicated (two records, past the join): D's and E's copies still from them.
    SCOPED_TRACE("a duplicate between copies");
    CopyNet n;
    n.net.SetLink(1, 2, LinkParams{Ms(50), SimTime(0), 0, 1.0});
    EXPECT_EQ(run(n, {{0, 2}, {1, 2}, {3, 2}, {4, 2}}),
              (Got{{0, 2}, {1, 2}, {1, 2}, {3, 2}, {4, 2}}));
    EXPECT_EQ(n.net.stats(1, 2).duplicated, 1u);
    EXPECT_EQ(n.net.stats(1, 2).messages_delivered, 2u);
    for (int peer : {0, 3, 4}) EXPECT_EQ(n.net.stats(peer, 2).messages_delivered, 1u) << peer;
    EXPECT_EQ(n.body.use_count(), 1);
  }
  {
    // Senders out of index order: E after A, then B after E.
    SCOPED_TRACE("sender order");
    CopyNet n;
    EXPECT_EQ(run(n, {{0, 2}, {4, 2}, {1, 2}}), (Got{{0, 2}, {4, 2}, {1, 2}}));
    EXPECT_EQ(n.net.stats(4, 2).messages_delivered, 1u);
    EXPECT_EQ(n.net.stats(1, 2).messages_delivered, 1u);
  }
  {
    // C skipped: B's next sender is D (one record of three copies, however it arrives).
    SCOPED_TRACE("the receiver skipped");
    CopyNet n;
    for (int from : {1, 3, 4}) n.Send(from, 2);
    EXPECT_EQ(n.body.use_count(), 2);
    EXPECT_EQ(run(n, {{0, 1}}), (Got{{1, 2}, {3, 2}, {4, 2}, {0, 1}}));
    EXPECT_EQ(n.body.use_count(), 1);
  }
  {
    // A -> C twice: the second is no copy of the first's record (A is not the sender after
    // A), and B -> C joins the second.
    SCOPED_TRACE("the same link twice");
    CopyNet n;
    n.Send(0, 2);
    n.Send(0, 2);
    n.Send(1, 2);
    EXPECT_EQ(n.body.use_count(), 3);
    EXPECT_EQ(run(n, {}), (Got{{0, 2}, {0, 2}, {1, 2}}));
    EXPECT_EQ(n.net.stats(0, 2).messages_delivered, 2u);
    EXPECT_EQ(n.net.stats(1, 2).messages_delivered, 1u);
    EXPECT_EQ(n.body.use_count(), 1);
  }
  {
    // A timer scheduled between A -> C and B -> C, at their arrival: B's copy is a record
    // of its own, after the timer, which runs between the two deliveries.
    SCOPED_TRACE("an event between copies");
    CopyNet n;
    std::vector<size_t> timer;  // deliveries before the timer ran
    n.Send(0, 2);
    n.loop.At(Ms(50), [&] { timer.push_back(n.receiver.got.size()); });
    n.Send(1, 2);
    EXPECT_EQ(n.body.use_count(), 3);
    EXPECT_EQ(run(n, {}), (Got{{0, 2}, {1, 2}}));
    EXPECT_EQ(timer, std::vector<size_t>{1u});
    EXPECT_EQ(n.net.stats(1, 2).messages_delivered, 1u);
    EXPECT_EQ(n.body.use_count(), 1);
  }
  {
    // C -> A, C -> B fan out: E -> A is no copy of theirs (though it would be the third of
    // a record fanning in to A from C); nor, after A -> C, B -> C fanning in, is A -> E.
    SCOPED_TRACE("a record fanning the other way");
    CopyNet n;
    EXPECT_EQ(run(n, {{2, 0}, {2, 1}, {4, 0}}), (Got{{2, 0}, {2, 1}, {4, 0}}));
    CopyNet m;
    EXPECT_EQ(run(m, {{0, 2}, {1, 2}, {0, 4}}), (Got{{0, 2}, {1, 2}, {0, 4}}));
    EXPECT_EQ(m.net.stats(0, 4).messages_delivered, 1u);
    EXPECT_EQ(m.net.stats(1, 2).messages_delivered, 1u);
    // Nor is the copy that would have joined the record's first copy the other way: D -> A
    // after C -> A, C -> B; A -> D after A -> C, B -> C. Each arrives once, from its sender.
    for (const bool in : {false, true}) {
      SCOPED_TRACE(in ? "after fanning in" : "after fanning out");
      CopyNet k;
      const std::vector<Sent> sends = in ? std::vector<Sent>{{0, 2}, {1, 2}, {0, 3}}
                                         : std::vector<Sent>{{2, 0}, {2, 1}, {3, 0}};
      EXPECT_EQ(k.body.use_count(), 1);
      Got want;
      for (const Sent& s : sends) want.emplace_back(s.from, s.to);
      for (const Sent& s : sends) k.Send(s.from, s.to);
      EXPECT_EQ(k.body.use_count(), 3);  // two records
      EXPECT_EQ(run(k, {}), want);
      for (const Sent& s : sends) EXPECT_EQ(k.net.stats(s.from, s.to).messages_delivered, 1u);
      EXPECT_EQ(k.body.use_count(), 1);
    }
  }
  {
    SCOPED_TRACE("another size");
    CopyNet n;
    n.Send(0, 2, 10);
    n.Send(1, 2, 24);
    n.loop.RunUntil(seconds(1));
    EXPECT_EQ(n.receiver.from(), (std::vector<int>{0, 1}));
    EXPECT_EQ(n.net.stats(0, 2).bytes_delivered, 10u);
    EXPECT_EQ(n.net.stats(1, 2).bytes_delivered, 24u);
  }
  {
    SCOPED_TRACE("another header");
    CopyNet n;
    n.Send(0, 2);
    n.net.SendPacket(1, 2, Network::Packet::Header{1, 2, 4}, std::shared_ptr<const void>(n.body),
                     10, std::string());
    n.loop.RunUntil(seconds(1));
    ASSERT_EQ(n.receiver.from(), (std::vector<int>{0, 1}));
    EXPECT_EQ(n.receiver.got[0].header, n.header);
    EXPECT_EQ(n.receiver.got[1].header, (Network::Packet::Header{1, 2, 4}));
  }
  {
    SCOPED_TRACE("another body");
    CopyNet n;
    n.Send(0, 2);
    n.net.SendPacket(1, 2, n.header, std::make_shared<const int>(8), 10, std::string());
    n.loop.RunUntil(seconds(1));
    ASSERT_EQ(n.receiver.from(), (std::vector<int>{0, 1}));
    EXPECT_EQ(n.receiver.got[0].body, 7);
    EXPECT_EQ(n.receiver.got[1].body, 8);
  }
}

// Tracing and observing switched on while a fan-in record is in flight: each copy is
// traced and observed as it arrives, from its own sender (delivered, or dropped on a link
// cut since), with its own size and no id (it was not observed when sent).
TEST(SimulationNetworkTest, FanInCopiesOfOneRecordAreTracedOnceTracingStarts) {
  CopyNet n;
  for (int from : {0, 1, 3, 4}) n.Send(from, 2);
  n.loop.RunUntil(Ms(1));
  std::vector<std::string> lines;
  std::vector<std::string> events;
  n.Watch(&lines, &events);
  n.net.Cut(1, 2);
  n.loop.RunUntil(seconds(1));
  EXPECT_EQ(n.receiver.from(), (std::vector<int>{0, 3, 4}));
  EXPECT_EQ(lines,
            (std::vector<std::string>{
                "50ms A->C delivered  (10 B)", "50ms B->C dropped in flight (link cut)  (10 B)",
                "50ms D->C delivered  (10 B)", "50ms E->C delivered  (10 B)"}));
  const auto delivered = CopyNet::Code(Network::MessageEvent::Type::kDelivered);
  const auto dropped = CopyNet::Code(Network::MessageEvent::Type::kDroppedInFlight);
  EXPECT_EQ(events, (std::vector<std::string>{delivered + " 0 0->2 10", dropped + " 0 1->2 10",
                                              delivered + " 0 3->2 10", delivered + " 0 4->2 10"}));
  EXPECT_EQ(n.net.stats(1, 2).dropped_cut, 1u);
  EXPECT_EQ(n.body.use_count(), 1);
}

// The replicator's pattern, in one ring: C's effect to every peer (fanning out), each peer
// acknowledging it as it arrives (fanning in, back to C), while A's effect and its acks
// follow a millisecond behind. Every copy arrives over its own link, in send order.
TEST(SimulationNetworkTest, FanOutAndFanInRecordsMixInOneRing) {
  CopyNet n;
  const Network::Packet::Header ack{9, 9, 9};
  auto ack_body = std::make_shared<const int>(-2);
  n.receiver.reply = [&](int from, int to) {
    if (n.receiver.got.back().header == n.header) {
      n.net.SendPacket(to, from, ack, std::shared_ptr<const void>(ack_body), 24, std::string());
    }
  };
  for (int to : {0, 1, 3, 4}) n.Send(2, to);
  n.loop.RunUntil(Ms(1));
  for (int to : {1, 2, 3, 4}) n.Send(0, to);
  n.loop.RunUntil(Ms(75));
  EXPECT_EQ(ack_body.use_count(), 3);  // two records: the four acks to C, the four to A
  n.loop.RunUntil(seconds(1));
  std::vector<std::pair<int, int>> got;
  for (const auto& r : n.receiver.got) got.emplace_back(r.from, r.to);
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{{2, 0},
                                                   {2, 1},
                                                   {2, 3},
                                                   {2, 4},
                                                   {0, 1},
                                                   {0, 2},
                                                   {0, 3},
                                                   {0, 4},
                                                   {0, 2},
                                                   {1, 2},
                                                   {3, 2},
                                                   {4, 2},
                                                   {1, 0},
                                                   {2, 0},
                                                   {3, 0},
                                                   {4, 0}}));
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& r = n.receiver.got[i];
    EXPECT_EQ(r.header, i < 8 ? n.header : ack) << i;
    EXPECT_EQ(r.at, Ms(i < 4 ? 50 : i < 8 ? 51 : i < 12 ? 100 : 101)) << i;
  }
  for (int a = 0; a < 5; ++a) {
    for (int b = 0; b < 5; ++b) {
      if (a == b) continue;
      const bool effect = a == 2 || a == 0;
      const bool acked = b == 2 || b == 0;
      const uint64_t want = (effect ? 10u : 0u) + (acked ? 24u : 0u);
      EXPECT_EQ(n.net.stats(a, b).bytes_delivered, want) << a << "->" << b;
    }
  }
  EXPECT_EQ(n.body.use_count(), 1);
  EXPECT_EQ(ack_body.use_count(), 1);
}

TEST(SimulationNetworkTest, TrafficOnOneLinkDoesNotChangeAnotherLinksDraws) {
  auto deliveries_on_a_to_c = [](bool busy_a_to_b) {
    NetFixture f(1234);
    LinkParams p{Ms(30), Ms(10), 0.2, 0.2};
    f.net.SetLink(0, 1, p);
    f.net.SetLink(0, 2, p);
    std::vector<std::pair<int, int64_t>> out;
    for (int i = 0; i < 200; ++i) {
      if (busy_a_to_b) f.Send(0, 1, i);
      f.Send(0, 2, i);
      f.loop.RunUntil(f.loop.Now() + Ms(1));
    }
    f.loop.RunUntil(seconds(5));
    for (const auto& d : f.got) {
      if (d.to == 2) out.emplace_back(d.id, d.at.count());
    }
    return out;
  };
  EXPECT_EQ(deliveries_on_a_to_c(false), deliveries_on_a_to_c(true));
}

TEST(SimulationNetworkTest, TraceReportsEveryEvent) {
  NetFixture f;
  std::vector<std::string> lines;
  EXPECT_FALSE(f.net.tracing());
  f.net.SetTrace([&](const std::string& l) { lines.push_back(l); });
  EXPECT_TRUE(f.net.tracing());
  f.net.SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  f.Send(0, 1, 1);
  f.loop.RunUntil(Ms(10));
  f.net.Cut(0, 2);
  f.Send(0, 2, 2);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("A->B sent msg 1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("A->B delivered msg 1"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("10ms"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("dropped (link cut)"), std::string::npos) << lines[2];
}

// Descriptions travel beside the messages (a side table, its slots reused): with jitter
// (messages overtake each other) and duplicates, every delivery's trace line names the
// message that arrived.
TEST(SimulationNetworkTest, TraceNamesTheMessageDelivered) {
  NetFixture f;
  std::vector<int> traced;
  f.net.SetTrace([&](const std::string& l) {
    const size_t at = l.find(" delivered msg ");
    if (at != std::string::npos) traced.push_back(std::stoi(l.substr(at + 15)));
  });
  f.net.SetLink(0, 1, LinkParams{Ms(10), Ms(8), 0, 0.3});
  for (int i = 0; i < 200; ++i) {
    f.Send(0, 1, i);
    f.loop.RunUntil(f.loop.Now() + kUs * 300);
  }
  f.loop.RunUntil(seconds(1));
  ASSERT_GT(f.net.stats(0, 1).duplicated, 0u);
  ASSERT_EQ(traced.size(), f.got.size());
  bool overtaken = false;
  for (size_t i = 0; i < f.got.size(); ++i) {
    EXPECT_EQ(traced[i], f.got[i].id) << "delivery " << i;
    if (i > 0 && f.got[i].id < f.got[i - 1].id) overtaken = true;
  }
  EXPECT_TRUE(overtaken);
}

TEST(SimulationGeoTest, GreatCircleMatchesPublishedDistances) {
  // London - New York: 5,570 km; Paris - London: 344 km; Sydney - Los Angeles: 12,051 km
  // (great-circle distances between the city centres as published by distance
  // calculators).
  struct Case {
    double lat1, lon1, lat2, lon2, km;
  };
  const Case cases[] = {
      {51.5074, -0.1278, 40.7128, -74.0060, 5570},
      {48.8566, 2.3522, 51.5074, -0.1278, 344},
      {-33.8688, 151.2093, 34.0522, -118.2437, 12051},
  };
  for (const Case& c : cases) {
    double d = GreatCircleKm(c.lat1, c.lon1, c.lat2, c.lon2);
    EXPECT_NEAR(d, c.km, c.km * 0.01)
        << c.lat1 << "," << c.lon1 << " -> " << c.lat2 << "," << c.lon2;
    EXPECT_DOUBLE_EQ(d, GreatCircleKm(c.lat2, c.lon2, c.lat1, c.lon1));  // symmetric
  }
  EXPECT_DOUBLE_EQ(GreatCircleKm(37.77, -122.42, 37.77, -122.42), 0.0);
  // Antipodes: half the circumference of the mean-radius sphere.
  EXPECT_NEAR(GreatCircleKm(0, 0, 0, 180), 3.14159265358979 * 6371.0, 20.0);
  EXPECT_NEAR(GreatCircleKm(90, 0, -90, 0), 3.14159265358979 * 6371.0, 20.0);
}

TEST(SimulationGeoTest, FibreLatencyArithmetic) {
  // 200,000 km/s = 0.2 km/us; times the route factor; rounded to 1 us.
  EXPECT_EQ(FibreLatency(1000, 1.5), SimTime(7500));
  EXPECT_EQ(FibreLatency(5570, 1.0), SimTime(27850));
  EXPECT_EQ(FibreLatency(5570, 1.5), SimTime(41775));
  EXPECT_EQ(FibreLatency(0, 1.5), SimTime(0));
  EXPECT_EQ(FibreLatency(1.11, 1.0), SimTime(6));  // 5.55 us, rounded to the nearest us
  EXPECT_EQ(FibreLatency(1.01, 1.0), SimTime(5));  // 5.05 us
  double london_ny = GreatCircleKm(51.5074, -0.1278, 40.7128, -74.0060);
  EXPECT_EQ(FibreLatency(london_ny, 1.5).count(),
            static_cast<int64_t>(std::llround(london_ny * 1.5 / 0.2)));
}

// --------------------------------------------------------------------------- Simulation

SimConfig Config(std::vector<std::string> names, uint64_t seed = 1) {
  SimConfig c;
  c.seed = seed;
  for (auto& n : names) c.regions.push_back(RegionConfig{std::move(n), SimTime(0)});
  return c;
}

void SetAllLinks(Simulation& sim, const LinkParams& p) {
  for (int a = 0; a < sim.region_count(); ++a) {
    for (int b = 0; b < sim.region_count(); ++b) {
      if (a != b) sim.network().SetLink(a, b, p);
    }
  }
}

Reply Cmd(Simulation& sim, int r, std::string_view line) { return sim.Execute(r, Split(line)); }

// The value of `key` in every region, e.g. {"5", "5", "(nil)"}.
std::vector<std::string> Values(const Simulation& sim, std::string_view key) {
  std::vector<std::string> out;
  for (int r = 0; r < sim.region_count(); ++r) out.push_back(sim.Dump(r, key));
  return out;
}

std::vector<std::string> Repeat(std::string v, int n) { return std::vector<std::string>(n, v); }

// The metrics of region m about `peer` (a copy: Metrics() returns a temporary).
PeerMetrics Peer(const RegionMetrics& m, std::string_view peer) {
  for (const PeerMetrics& p : m.peers) {
    if (p.peer == peer) return p;
  }
  ADD_FAILURE() << "no peer " << peer << " in the metrics of " << m.name;
  return PeerMetrics();
}

TEST(SimulationTest, RegionsAndNames) {
  Simulation sim(Config({"us", "eu", "ap"}));
  EXPECT_EQ(sim.region_count(), 3);
  EXPECT_EQ(sim.region_name(1), "eu");
  EXPECT_EQ(sim.RegionIndex("ap"), 2);
  EXPECT_EQ(sim.RegionIndex("nowhere"), -1);
  EXPECT_EQ(sim.Now(), SimTime(0));
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(sim.alive(r));
  EXPECT_EQ(Cmd(sim, 0, "SET k v"), Reply::Status("OK"));
  EXPECT_EQ(sim.client(0).Execute({"GET", "k"}), Reply::Bulk("v"));
  EXPECT_EQ(sim.Keys(0), std::vector<std::string>{"k"});
  EXPECT_TRUE(sim.Keys(1).empty());
  EXPECT_EQ(sim.DumpAll(0), "k string v\n");
  EXPECT_EQ(sim.Now(), SimTime(0)) << "commands take no virtual time";
}

TEST(SimulationTest, EffectReachesThePeerAfterExactlyTheOneWayLatency) {
  Simulation sim(Config({"A", "B"}));
  sim.network().SetLink(0, 1, LinkParams{Ms(30), SimTime(0), 0, 0});
  sim.network().SetLink(1, 0, LinkParams{Ms(70), SimTime(0), 0, 0});
  sim.AdvanceTo(seconds(1));
  ASSERT_EQ(Cmd(sim, 0, "SET k a"), Reply::Status("OK"));
  ASSERT_EQ(Cmd(sim, 1, "SET j b"), Reply::Status("OK"));
  sim.AdvanceBy(Ms(30) - kUs);
  EXPECT_EQ(sim.Dump(1, "k"), "(nil)");
  EXPECT_EQ(Cmd(sim, 1, "GET k"), Reply::Nil());
  sim.AdvanceBy(kUs);
  EXPECT_EQ(sim.Now(), seconds(1) + Ms(30));
  EXPECT_EQ(sim.Dump(1, "k"), "a");
  EXPECT_EQ(Cmd(sim, 1, "GET k"), Reply::Bulk("a"));
  // The other direction has its own latency.
  sim.AdvanceTo(seconds(1) + Ms(70) - kUs);
  EXPECT_EQ(sim.Dump(0, "j"), "(nil)");
  sim.AdvanceBy(kUs);
  EXPECT_EQ(sim.Dump(0, "j"), "b");
  EXPECT_EQ(sim.Divergent({}), std::vector<std::string>{});
}

TEST(SimulationTest, PartitionThenHealThenSyncConverges) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(20), SimTime(0), 0, 0});
  sim.Partition({{0}, {1, 2}});
  EXPECT_TRUE(sim.network().IsCut(0, 1));
  EXPECT_TRUE(sim.network().IsCut(2, 0));
  EXPECT_TRUE(sim.network().Connected(1, 2));
  EXPECT_EQ(Cmd(sim, 0, "INCRBY n 5"), Reply::Integer(5));
  EXPECT_EQ(Cmd(sim, 1, "INCRBY n 7"), Reply::Integer(7));
  EXPECT_EQ(Cmd(sim, 0, "SADD s a"), Reply::Integer(1));
  EXPECT_EQ(Cmd(sim, 2, "SADD s c"), Reply::Integer(1));
  sim.AdvanceBy(seconds(10));
  EXPECT_EQ(Values(sim, "n"), (std::vector<std::string>{"5", "7", "7"}));
  EXPECT_EQ(Values(sim, "s"), (std::vector<std::string>{"{a}", "{c}", "{c}"}));
  EXPECT_EQ(sim.Divergent({"n", "s"}), (std::vector<std::string>{"n", "s"}));
  // A sync while cut: the connected side converges, the cut stays.
  SyncResult partial = sim.Sync();
  EXPECT_TRUE(partial.done) << partial.pending;
  EXPECT_FALSE(sim.network().Connected(0, 1));
  sim.AdvanceBy(Ms(500));
  sim.HealAll();
  EXPECT_TRUE(sim.network().Connected(0, 1));
  EXPECT_TRUE(sim.network().Connected(0, 2));
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_TRUE(sim.Quiescent());
  EXPECT_EQ(Values(sim, "n"), Repeat("12", 3));
  EXPECT_EQ(Values(sim, "s"), Repeat("{a, c}", 3));
  EXPECT_TRUE(sim.Divergent({}).empty());
  ASSERT_TRUE(sim.converged_after_heal().has_value());
  EXPECT_EQ(*sim.converged_after_heal(), res.took);
  // Healed effects travel at once (no retransmission-timer wait): a round trip or so.
  EXPECT_LE(res.took, Ms(100));
}

TEST(SimulationTest, PartitionOfSingletonGroupsCutsEveryPairAndHealIsPerPair) {
  Simulation sim(Config({"A", "B", "C"}));
  sim.Partition({{0}, {1}, {2}});
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      if (a != b) {
        EXPECT_TRUE(sim.network().IsCut(a, b)) << a << "->" << b;
      }
    }
  }
  sim.Heal({{0}, {2}});
  EXPECT_TRUE(sim.network().Connected(0, 2));
  EXPECT_FALSE(sim.network().Connected(0, 1));
  EXPECT_FALSE(sim.network().Connected(1, 2));
  Cmd(sim, 0, "SET k v");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "k"), (std::vector<std::string>{"v", "(nil)", "v"}));
}

TEST(SimulationTest, LossDuplicationAndJitterStillConverge) {
  Simulation sim(Config({"A", "B", "C"}, 17));
  SetAllLinks(sim, LinkParams{Ms(40), Ms(20), 0.3, 0.3});
  int64_t total = 0;
  for (int i = 0; i < 50; ++i) {
    for (int r = 0; r < 3; ++r) {
      ASSERT_FALSE(Cmd(sim, r, "INCRBY c " + std::to_string(r + 1)).is_error());
      total += r + 1;
      ASSERT_FALSE(Cmd(sim, r, "SADD s " + sim.region_name(r) + std::to_string(i)).is_error());
    }
    sim.AdvanceBy(Ms(10));
  }
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Values(sim, "c"), Repeat(std::to_string(total), 3));
  EXPECT_EQ(Cmd(sim, 0, "SCARD s"), Reply::Integer(150));
  EXPECT_TRUE(sim.Divergent({}).empty());
  uint64_t filtered = 0, dropped = 0, duplicated = 0, sent = 0, received = 0;
  for (int r = 0; r < 3; ++r) {
    RegionMetrics m = sim.Metrics(r);
    EXPECT_EQ(m.local_writes, 100u);
    EXPECT_EQ(m.max_ops_lag, 0u);
    for (const PeerMetrics& p : m.peers) {
      filtered += p.effects_filtered;
      dropped += p.link_out.dropped_loss;
      duplicated += p.link_out.duplicated;
      sent += p.effects_sent;
      received += p.effects_received;
    }
  }
  EXPECT_GT(filtered, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(duplicated, 0u);
  EXPECT_GT(sent, 3u * 100u * 2u) << "lost effects must have been sent again";
  EXPECT_GE(received, 3u * 100u * 2u);
}

TEST(SimulationTest, DuplicatesAreFilteredExactly) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 1.0});  // every message twice
  for (int i = 0; i < 10; ++i) Cmd(sim, 0, "INCR n");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "n"), Repeat("10", 2));
  PeerMetrics at_b = Peer(sim.Metrics(1), "A");
  EXPECT_EQ(at_b.effects_received, 10u);
  EXPECT_EQ(at_b.effects_filtered, 10u);
  PeerMetrics at_a = Peer(sim.Metrics(0), "B");
  EXPECT_EQ(at_a.effects_sent, 10u) << "no retransmission on a lossless link";
  EXPECT_EQ(at_a.link_out.duplicated, at_a.link_out.messages_sent);
  EXPECT_EQ(at_a.partial_syncs, 0u);
  EXPECT_GT(sim.Metrics(0).backlog_bytes, 0u);
  EXPECT_GT(sim.Metrics(0).memory_bytes, 0u);
}

TEST(SimulationTest, PartialSyncReplaysInChunks) {
  SimConfig c = Config({"A", "B"});
  c.replication.max_batch_bytes = 64;
  Simulation sim(std::move(c));
  SetAllLinks(sim, LinkParams{Ms(5), SimTime(0), 0, 0});
  sim.Partition({{0}, {1}});
  for (int i = 0; i < 100; ++i) Cmd(sim, 0, "SADD s m" + std::to_string(i));
  sim.AdvanceBy(Ms(100));
  uint64_t sent_before = Peer(sim.Metrics(0), "B").link_out.messages_sent;
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  PeerMetrics b = Peer(sim.Metrics(0), "B");
  EXPECT_EQ(b.full_syncs, 0u);
  EXPECT_GE(b.partial_syncs, 1u);
  EXPECT_GT(b.link_out.messages_sent - sent_before, 10u) << "64-byte batches";
  // Each chunk goes as the ack of the one before arrives (a round trip of 10 ms), not at the
  // retransmission timer: 340 ms of virtual time here, 500 ms by the timer alone.
  EXPECT_LE(res.took, Ms(400)) << FormatDuration(res.took);
  EXPECT_EQ(Cmd(sim, 1, "SCARD s"), Reply::Integer(100));
  EXPECT_TRUE(sim.Divergent({}).empty());
}

TEST(SimulationTest, BacklogOverflowMakesAFullSync) {
  SimConfig c = Config({"A", "B"});
  c.replication.backlog_bytes = 256;
  Simulation sim(std::move(c));
  SetAllLinks(sim, LinkParams{Ms(20), SimTime(0), 0, 0});
  sim.Partition({{0}, {1}});
  for (int i = 0; i < 100; ++i) Cmd(sim, 0, "SET k" + std::to_string(i) + " v" + std::to_string(i));
  sim.AdvanceBy(seconds(1));
  RegionMetrics during = sim.Metrics(0);
  EXPECT_EQ(during.max_ops_lag, 100u);
  EXPECT_LE(during.backlog_bytes, 256u);
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  RegionMetrics m = sim.Metrics(0);
  EXPECT_GE(Peer(m, "B").full_syncs, 1u);
  EXPECT_EQ(m.max_ops_lag, 0u);
  EXPECT_EQ(sim.Keys(1).size(), 100u);
  EXPECT_EQ(sim.Dump(1, "k0"), "v0");
  EXPECT_EQ(sim.Dump(1, "k99"), "v99");
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// A message keeps the effect it carries after the backlog drops it: the log's arena
// (effect_arena.h) reuses a chunk only once no block of it is held (this test stays within
// one chunk; the arena's own tests cut chunks again). Bursts of 8 writes at one
// instant into a backlog of about three effects drop effects still in flight (reusing one
// would send a later write's effect under its seq); between bursts everything is delivered
// and acknowledged (no retransmission, no full sync to repair a wrong effect).
TEST(SimulationTest, BacklogDropsEffectsMessagesStillCarry) {
  SimConfig c = Config({"A", "B"});
  c.replication.backlog_bytes = 100;
  Simulation sim(std::move(c));
  SetAllLinks(sim, LinkParams{Ms(20), SimTime(0), 0, 0});
  int n = 0;
  for (int burst = 0; burst < 30; ++burst) {
    for (int i = 0; i < 8; ++i, ++n) {
      Cmd(sim, 0, "SET k" + std::to_string(n) + " v" + std::to_string(n));
    }
    sim.AdvanceBy(Ms(100));
  }
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Peer(sim.Metrics(0), "B").full_syncs, 0u);
  ASSERT_EQ(sim.Keys(1).size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(sim.Dump(1, "k" + std::to_string(i)), "v" + std::to_string(i)) << i;
  }
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// An in-memory store that reports `*bytes` of data (a large dataset, without its memory).
class SizedStore final : public KeyspaceStore {
 public:
  SizedStore(crdt::ReplicaId self, const size_t* bytes, int* measured)
      : KeyspaceStore(self), bytes_(bytes), measured_(measured) {}
  bool durable() const override { return false; }
  size_t MemoryBytes() const override {
    ++*measured_;
    return *bytes_;
  }

 private:
  Reply RunStream(const std::vector<std::string>&, int64_t) override {
    return Reply::Error("ERR no streams here");
  }
  std::optional<Reply> BeforeEngine(const std::vector<std::string>&) override {
    return std::nullopt;
  }
  const size_t* bytes_;
  int* measured_;
};

// The automatic backlog (the default): 1% of the data, from 1MB to 250MB, as Redis
// Enterprise sizes it. 3MB of writes during a cut fit in the backlog of a region holding
// 500MB (a partial sync at the heal), not in that of a small one (a full sync).
TEST(SimulationTest, AutoBacklogIsOnePercentOfTheData) {
  for (size_t data : {size_t{0}, size_t{500} << 20, size_t{100} << 30}) {
    int measured = 0;
    SimConfig c = Config({"A", "B"});
    ASSERT_EQ(c.replication.backlog_bytes, 0u) << "auto by default";
    c.store_factory = [&](int r, crdt::ReplicaId id) -> std::unique_ptr<Store> {
      if (r == 0) return std::make_unique<SizedStore>(id, &data, &measured);
      return NewMemoryStore(id);
    };
    Simulation sim(std::move(c));
    SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
    EXPECT_EQ(sim.Metrics(0).backlog_limit, ReplicationConfig::kMinAutoBacklog);
    sim.Partition({{0}, {1}});
    const std::string value(1000, 'v');
    for (int i = 0; i < 3000; ++i) Cmd(sim, 0, "SET k" + std::to_string(i % 100) + " " + value);
    RegionMetrics m = sim.Metrics(0);
    const size_t want = std::clamp(data / 100, ReplicationConfig::kMinAutoBacklog,
                                   ReplicationConfig::kMaxAutoBacklog);
    EXPECT_EQ(m.backlog_limit, want) << data;
    EXPECT_LE(m.backlog_bytes, want);
    EXPECT_LE(measured, 4) << "measured once per backlog's worth of writes, not per write";
    sim.HealAll();
    ASSERT_TRUE(sim.Sync().done);
    EXPECT_EQ(Peer(sim.Metrics(0), "B").full_syncs, data == 0 ? 1u : 0u) << data;
    EXPECT_TRUE(sim.Divergent({}).empty());
  }
}

// A durable store without Redis: what it keeps across runs (of a Simulation: a process
// restarted on the same data) is a FakeDisk. Writes are numbered in its log as a durable
// store numbers them, after its last, unless the test makes the numbering jump (`skip`).
struct FakeDisk {
  std::string state;                                      // the keyspace, as of the last change
  std::map<uint64_t, std::string> log;                    // local effects by seq
  uint64_t head = 0;                                      // the last seq
  uint64_t skip = 0;                                      // the next write's seq jumps this many
  std::map<std::string, uint64_t, std::less<>> progress;  // per origin, as MergeFrom told
};

class FakeDurableStore final : public KeyspaceStore {
 public:
  FakeDurableStore(crdt::ReplicaId self, FakeDisk* disk) : KeyspaceStore(self), disk_(disk) {
    if (disk->state.empty()) return;
    std::string error;
    std::optional<crdt::Keyspace> ks = crdt::Keyspace::Decode(disk->state, self, &error);
    if (!ks.has_value()) {
      ADD_FAILURE() << "the fake disk's state does not decode: " << error;
      return;
    }
    keyspace() = std::move(*ks);
  }
  bool durable() const override { return true; }
  size_t MemoryBytes() const override { return 0; }
  uint64_t LogHead() const override { return disk_->head; }
  uint64_t Progress(std::string_view origin) const override {
    auto it = disk_->progress.find(origin);
    return it == disk_->progress.end() ? 0 : it->second;
  }
  Result<std::vector<std::pair<uint64_t, std::string>>> ReadLog(uint64_t first,
                                                                uint64_t last) override {
    std::vector<std::pair<uint64_t, std::string>> out;
    for (auto it = disk_->log.lower_bound(first); it != disk_->log.end() && it->first <= last;
         ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }
  Status TrimLog(uint64_t seq) override {
    disk_->log.erase(disk_->log.begin(), disk_->log.upper_bound(seq));
    return Status::Ok();
  }

 private:
  Reply RunStream(const std::vector<std::string>&, int64_t) override {
    return Reply::Error("ERR no streams here");
  }
  std::optional<Reply> BeforeEngine(const std::vector<std::string>&) override {
    return std::nullopt;
  }
  Result<std::string> CommitWrite(const std::function<std::string()>& apply) override {
    std::string e = apply();
    if (e.empty()) return e;
    disk_->head += 1 + std::exchange(disk_->skip, 0);
    disk_->log[disk_->head] = e;
    disk_->state = FullState();
    return e;
  }
  void Merged(std::string_view origin, uint64_t seq, std::string_view) override {
    if (!origin.empty()) {
      uint64_t& p = disk_->progress[std::string(origin)];
      p = std::max(p, seq);
    }
    disk_->state = FullState();
  }

  FakeDisk* disk_;
};

SimConfig FakeDurableConfig(std::vector<std::string> names, std::vector<FakeDisk>* disks) {
  SimConfig c = Config(std::move(names));
  c.store_factory = [disks](int r, crdt::ReplicaId id) -> std::unique_ptr<Store> {
    return std::make_unique<FakeDurableStore>(id, &(*disks)[static_cast<size_t>(r)]);
  };
  return c;
}

// A durable store's numbering that jumps (its log would hold a gap): the replicator drops
// the entries before the jump (its log holds seqs log_first()..head with no gap), so the
// peer that needs them gets a full sync.
TEST(DurableStoreTest, AJumpInTheNumberingDropsTheLogBeforeIt) {
  std::vector<FakeDisk> disks(2);
  Simulation sim(FakeDurableConfig({"A", "B"}, &disks));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  sim.Partition({{0}, {1}});
  for (const char* k : {"k1", "k2", "k3"})
    ASSERT_EQ(Cmd(sim, 0, std::string("SET ") + k + " v"), Reply::Status("OK"));
  EXPECT_EQ(sim.Metrics(0).backlog_bytes,
            disks[0].log[1].size() + disks[0].log[2].size() + disks[0].log[3].size());
  disks[0].skip = 5;
  ASSERT_EQ(Cmd(sim, 0, "SET k4 v"), Reply::Status("OK"));
  ASSERT_EQ(Cmd(sim, 0, "SET k5 v"), Reply::Status("OK"));
  ASSERT_EQ(disks[0].head, 10u);  // 1, 2, 3, then 9, 10
  EXPECT_EQ(sim.Metrics(0).backlog_bytes, disks[0].log[9].size() + disks[0].log[10].size());
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Peer(sim.Metrics(0), "B").full_syncs, 1u);
  for (const char* k : {"k1", "k2", "k3", "k4", "k5"})
    EXPECT_EQ(Values(sim, k), Repeat("v", 2)) << k;
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// The previous run of DurableStoreTest.Resume*: A wrote k1..k5 numbered 1, 2, 3, 9, 10 (a
// jump after 3), B merged 1..2, C 1..9 (its progress: 9). The stores' FakeDisks.
std::vector<FakeDisk> ALogWithAJump() {
  std::vector<FakeDisk> disks(3);
  FakeDurableStore a(crdt::MakeReplicaId(0, 1), &disks[0]);
  FakeDurableStore b(crdt::MakeReplicaId(1, 1), &disks[1]);
  FakeDurableStore c(crdt::MakeReplicaId(2, 1), &disks[2]);
  const std::string origin = Replicator::Origin("A", 1);
  for (int i = 1; i <= 5; ++i) {
    if (i == 4) disks[0].skip = 5;
    std::string effect;
    EXPECT_EQ(a.Execute({"SET", "k" + std::to_string(i), "v"}, i, &effect), Reply::Status("OK"));
    const uint64_t seq = disks[0].head;
    if (seq <= 2) {
      EXPECT_TRUE(b.MergeFrom(origin, seq, effect).ok());
    }
    if (seq <= 9) {
      EXPECT_TRUE(c.MergeFrom(origin, seq, effect).ok());
    }
  }
  EXPECT_EQ(disks[0].head, 10u);
  return disks;
}

// Resume (a process restarted on its durable stores) takes back a gapless suffix of the
// store's log: of 3, 9, 10 (what B, the peer furthest behind, lacks) it keeps 9 and 10. B,
// behind that suffix, gets a full sync; C gets 10. What shows a log kept with its hole is
// the backlog's size: B's full sync and the convergence would hold even then (the log is
// numbered from its end, so 3 would be resent as 8, an older effect again, nothing lost).
TEST(DurableStoreTest, ResumeTakesAGaplessSuffixOfTheLog) {
  std::vector<FakeDisk> disks = ALogWithAJump();
  Simulation sim(FakeDurableConfig({"A", "B", "C"}, &disks));
  EXPECT_EQ(sim.Metrics(0).backlog_bytes, disks[0].log[9].size() + disks[0].log[10].size());
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Peer(sim.Metrics(0), "B").full_syncs, 1u);
  EXPECT_EQ(Peer(sim.Metrics(0), "C").full_syncs, 0u);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(Values(sim, "k" + std::to_string(i)), Repeat("v", 3)) << i;
  }
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// A log that does not reach the store's last seq (its numbering jumped past the last
// entry, 11 here) gives no suffix at all: every peer behind gets a full sync, C too (not
// 9 and 10 taken for 10 and 11, and 11 never sent).
TEST(DurableStoreTest, ResumeKeepsNoLogThatStopsShortOfTheHead) {
  std::vector<FakeDisk> disks = ALogWithAJump();
  disks[0].head = 11;
  Simulation sim(FakeDurableConfig({"A", "B", "C"}, &disks));
  EXPECT_EQ(sim.Metrics(0).backlog_bytes, 0u);
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Peer(sim.Metrics(0), "B").full_syncs, 1u);
  EXPECT_EQ(Peer(sim.Metrics(0), "C").full_syncs, 1u);
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// A region with no peer whose effects nobody reads (log_without_peers off, as in `aasim
// serve`): its writes make no effects and keep no backlog, and everything else reads as in
// a region that logs them: replies, data, writes counted, writes a crash loses, WATCH.
TEST(SimulationTest, PeerlessRegionMakesNoEffects) {
  SimConfig logging = Config({"A"});
  SimConfig silent = Config({"A"});
  silent.replication.log_without_peers = false;
  Simulation a(std::move(logging)), b(std::move(silent));
  const char* lines[] = {"SET s v",   "INCR n",     "INCRBY n 5", "SADD k x y", "SREM k x",
                         "SREM k zz", "HSET h f 1", "DEL s",      "DEL s",      "INCR k",
                         "RPUSH l a", "GET n",      "SMEMBERS k", "EXPIRE n 1", "PFADD p a"};
  for (const char* line : lines) {
    EXPECT_EQ(Cmd(a, 0, line).ToString(), Cmd(b, 0, line).ToString()) << line;
  }
  EXPECT_EQ(a.DumpAll(0), b.DumpAll(0));
  EXPECT_EQ(a.Metrics(0).local_writes, b.Metrics(0).local_writes);
  EXPECT_GT(a.Metrics(0).backlog_bytes, 0u);
  EXPECT_EQ(b.Metrics(0).backlog_bytes, 0u);
  // WATCH: a write after the first KeyVersion moves the key's version.
  uint64_t v = b.KeyVersion(0, "n");
  Cmd(b, 0, "INCR n");
  EXPECT_NE(b.KeyVersion(0, "n"), v);
  Cmd(a, 0, "INCR n");
  EXPECT_EQ(a.Crash(0), b.Crash(0)) << "every write of the incarnation is lost";
  EXPECT_EQ(b.Crash(0), 0u);
}

// A batch (what a server runs of one read): its writes join into one effect, which reaches
// each peer in one message, and the peer acknowledges it once; without a batch, one effect,
// one message and one ack per write. Either way every write counts.
TEST(SimulationTest, BatchSendsOneMessageAndGetsOneAck) {
  for (bool batch : {false, true}) {
    Simulation sim(Config({"A", "B"}));
    SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
    if (batch) sim.BeginBatch(0);
    for (int i = 0; i < 16; ++i) Cmd(sim, 0, "INCR n");
    if (batch) {
      EXPECT_EQ(Peer(sim.Metrics(0), "B").link_out.messages_sent, 0u) << "held until EndBatch";
      sim.EndBatch(0);
    }
    ASSERT_TRUE(sim.Sync().done);
    EXPECT_EQ(Values(sim, "n"), Repeat("16", 2));
    const uint64_t messages = batch ? 1 : 16;
    EXPECT_EQ(Peer(sim.Metrics(0), "B").link_out.messages_sent, messages);
    EXPECT_EQ(Peer(sim.Metrics(0), "B").effects_sent, messages);
    EXPECT_EQ(Peer(sim.Metrics(1), "A").link_out.messages_sent, messages) << "acks";
    EXPECT_EQ(Peer(sim.Metrics(1), "A").effects_received, messages);
    EXPECT_EQ(sim.Metrics(0).local_writes, 16u);
  }
}

// A batch's effects larger than max_batch_bytes travel in several messages (each MULTI/EXEC
// is an effect of its own); a crash in a batch loses what it held (never sent), as any
// unreplicated write.
TEST(SimulationTest, BatchIsSplitAndLostInACrash) {
  SimConfig c = Config({"A", "B"});
  c.replication.max_batch_bytes = 64;
  Simulation sim(std::move(c));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  sim.BeginBatch(0);
  for (int i = 0; i < 20; ++i) sim.ExecuteBatch(0, {Split("SADD s m" + std::to_string(i))});
  sim.EndBatch(0);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_GT(Peer(sim.Metrics(0), "B").link_out.messages_sent, 2u);
  EXPECT_EQ(Cmd(sim, 1, "SCARD s"), Reply::Integer(20));
  const uint64_t sent = Peer(sim.Metrics(0), "B").link_out.messages_sent;
  sim.BeginBatch(0);
  Cmd(sim, 0, "SADD s lost");
  EXPECT_EQ(sim.Crash(0), 1u);
  sim.EndBatch(0);
  EXPECT_EQ(Peer(sim.Metrics(0), "B").link_out.messages_sent, sent);
  sim.Restart(0);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "s").size(), 2u);
  EXPECT_TRUE(sim.Divergent({}).empty());
  EXPECT_EQ(Cmd(sim, 0, "SISMEMBER s lost"), Reply::Integer(0));
}

// The joined effect of a batch (Store::ExecuteHeld, commands recording straight into it
// where CommandEngine can) makes the same replies and the same data, in both regions, as
// one effect per write, with concurrent writes in the peer and effects crossing.
TEST(SimulationTest, BatchedEffectsConvergeAsSingleOnes) {
  // The last two give keys a TTL, after which every write takes the engine's scratch path
  // (lazy expiry): only the seeds above 20 draw them.
  const char* lines[] = {
      "SET a 1",     "SET a 2",           "INCR a",    "INCRBY a 5",    "DECR b",     "DECRBY b 3",
      "SADD c x y",  "SADD c x",          "SREM c y",  "SET c v",       "DEL a",      "INCR c",
      "HSET h f 1",  "SET h w",           "SADD h z",  "INCR a",        "INCR b",     "SADD a m",
      "RPUSH l p q", "SET l 1",           "SETNX d 1", "MSET a 1 b 2",  "ZADD z 1 m", "SET z 2",
      "GETSET a 9",  "INCRBYFLOAT b 1.5", "PERSIST a", "SET a 7 EX 100"};
  const size_t all = sizeof(lines) / sizeof(lines[0]);
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    // Every store, to compare the whole replicated state (metadata too).
    std::vector<Store*> stores;
    auto config = [&] {
      SimConfig c = Config({"A", "B"});
      c.store_factory = [&](int, crdt::ReplicaId id) {
        std::unique_ptr<Store> store = NewMemoryStore(id);
        stores.push_back(store.get());
        return store;
      };
      return c;
    };
    Simulation batched(config()), single(config());
    ASSERT_EQ(stores.size(), 4u);
    for (Simulation* sim : {&batched, &single}) {
      SetAllLinks(*sim, LinkParams{Ms(10), SimTime(0), 0, 0});
    }
    Rng rng(seed);
    const size_t n = seed <= 20 ? all - 2 : all;
    for (int step = 0; step < 60; ++step) {
      const int count = 1 + static_cast<int>(rng.Uniform(12));
      const bool peer = rng.Uniform(4) == 0;
      batched.BeginBatch(0);
      for (int i = 0; i < count; ++i) {
        const char* line = lines[rng.Uniform(n)];
        ASSERT_EQ(Cmd(batched, 0, line).ToString(), Cmd(single, 0, line).ToString())
            << "seed " << seed << " step " << step << ": " << line;
      }
      batched.EndBatch(0);
      if (peer) {
        const char* line = lines[rng.Uniform(n)];
        ASSERT_EQ(Cmd(batched, 1, line).ToString(), Cmd(single, 1, line).ToString()) << line;
      }
      const SimTime by = Ms(static_cast<int64_t>(rng.Uniform(15)));
      batched.AdvanceBy(by);
      single.AdvanceBy(by);
    }
    ASSERT_TRUE(batched.Sync().done);
    ASSERT_TRUE(single.Sync().done);
    EXPECT_EQ(batched.DumpAll(0), single.DumpAll(0)) << "seed " << seed;
    EXPECT_EQ(batched.DumpAll(1), single.DumpAll(1)) << "seed " << seed;
    EXPECT_EQ(batched.Metrics(0).local_writes, single.Metrics(0).local_writes) << seed;
    EXPECT_EQ(stores[0]->FullState(), stores[2]->FullState()) << "seed " << seed;
    EXPECT_EQ(stores[1]->FullState(), stores[3]->FullState()) << "seed " << seed;
    EXPECT_TRUE(batched.Divergent({}).empty()) << "seed " << seed;
  }
}

TEST(SimulationTest, ShortPartitionUsesAPartialSync) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(20), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET before 1");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Peer(sim.Metrics(0), "B").partial_syncs, 0u) << "no catch-up without a fault";
  sim.Partition({{0}, {1}});
  for (int i = 0; i < 5; ++i) Cmd(sim, 0, "INCR n");
  sim.AdvanceBy(Ms(300));
  EXPECT_EQ(sim.Metrics(0).max_ops_lag, 5u);
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  PeerMetrics b = Peer(sim.Metrics(0), "B");
  EXPECT_GE(b.partial_syncs, 1u);
  EXPECT_EQ(b.full_syncs, 0u);
  EXPECT_EQ(Values(sim, "n"), Repeat("5", 2));
}

TEST(SimulationTest, CrashReportsExactlyTheUnreplicatedWritesAndRestartCatchesUp) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET everywhere 1");
  ASSERT_TRUE(sim.Sync().done);
  sim.Partition({{0}, {2}});  // A-C cut: the next write reaches B only
  Cmd(sim, 0, "SET only_b 2");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(sim.Dump(1, "only_b"), "2");
  EXPECT_EQ(sim.Dump(2, "only_b"), "(nil)");
  sim.Partition({{0}, {1, 2}});  // A alone: the next three writes reach nobody
  Cmd(sim, 0, "INCR lost");
  Cmd(sim, 0, "SADD lost_set x");
  Cmd(sim, 0, "SET lost_str y");
  Cmd(sim, 1, "SET from_b 3");
  sim.AdvanceBy(Ms(200));
  EXPECT_EQ(sim.Crash(0), 3u);
  EXPECT_FALSE(sim.alive(0));
  EXPECT_EQ(sim.Crash(0), 0u) << "crashing a crashed region loses nothing more";
  RegionMetrics m = sim.Metrics(0);
  EXPECT_FALSE(m.alive);
  EXPECT_EQ(m.lost_writes, 3u);
  EXPECT_EQ(m.crashes, 1u);
  EXPECT_EQ(m.local_writes, 5u);
  EXPECT_EQ(sim.Dump(0, "everywhere"), "(down)");
  EXPECT_TRUE(sim.Keys(0).empty());
  // A crashed region is left out of the comparison.
  EXPECT_EQ(sim.Divergent({"only_b", "everywhere"}), std::vector<std::string>{"only_b"});

  sim.Restart(0);
  EXPECT_TRUE(sim.alive(0));
  EXPECT_EQ(sim.Metrics(0).incarnation, 2u);
  EXPECT_EQ(sim.Keys(0), std::vector<std::string>{}) << "in-memory data is gone";
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Values(sim, "everywhere"), Repeat("1", 3));
  EXPECT_EQ(Values(sim, "only_b"), Repeat("2", 3));
  EXPECT_EQ(Values(sim, "from_b"), Repeat("3", 3));
  for (const char* k : {"lost", "lost_set", "lost_str"})
    EXPECT_EQ(Values(sim, k), Repeat("(nil)", 3));
  EXPECT_TRUE(sim.Divergent({}).empty());
  // The new incarnation writes with new dots: nothing collides with its previous life.
  EXPECT_EQ(Cmd(sim, 0, "SADD s1 a"), Reply::Integer(1));
  EXPECT_EQ(Cmd(sim, 0, "INCR everywhere"), Reply::Integer(2));
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "everywhere"), Repeat("2", 3));
  EXPECT_TRUE(sim.Divergent({}).empty());
  EXPECT_EQ(sim.Metrics(0).lost_writes, 3u);
}

// Two regions on 10 ms links; A's first write ("SET first 1") is lost on its way to B and
// its second ("SET second 2") arrives. 15 ms later (no retransmission yet: RTO > RTT) B
// shows neither: #2 waits for #1.
void LoseTheFirstOfTwoWrites(Simulation& sim) {
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 1.0, 0});
  Cmd(sim, 0, "SET first 1");
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET second 2");
  sim.AdvanceBy(Ms(15));
  EXPECT_EQ(sim.Dump(1, "second"), "(nil)") << "#2 waits for #1";
  EXPECT_EQ(sim.Dump(1, "first"), "(nil)");
}

// The retransmission timeout follows a link's new latency: the round trip a region's
// transport caches is computed again once the links change.
TEST(SimulationTest, RetransmissionWaitsTheRoundTripOfTheLinksAsTheyAreNow) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET warm 1");
  ASSERT_TRUE(sim.Sync().done);  // an acknowledgement sets the timeout: 10 + 10 + 5 ms
  SetAllLinks(sim, LinkParams{Ms(200), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET slow 1");
  ASSERT_TRUE(sim.Sync().done);  // the timeout is now 200 + 200 + 5 ms
  sim.network().SetLink(0, 1, LinkParams{Ms(200), SimTime(0), 1.0, 0});
  Cmd(sim, 0, "SET lost 1");
  sim.network().SetLink(0, 1, LinkParams{Ms(200), SimTime(0), 0, 0});
  // Resent after 405 ms, arriving at 605 ms. A timeout stale from the first links (25 ms)
  // or from the Simulation's (50 ms links: 105 ms) would have it there before 350 ms.
  sim.AdvanceBy(Ms(350));
  EXPECT_EQ(sim.Dump(1, "lost"), "(nil)") << "resent after 405 ms, not 25 or 105 ms";
  sim.AdvanceBy(Ms(350));
  EXPECT_EQ(sim.Dump(1, "lost"), "1");
}

TEST(SimulationTest, RetransmissionWaitsTheJitterOfTheLinksAsTheyAreNow) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET warm 1");
  ASSERT_TRUE(sim.Sync().done);  // an acknowledgement sets the timeout: 10 + 10 + 5 ms
  // Only the jitter of the acknowledgements' link changes: the timeout is now
  // 10 + 10 + 2 * 200 + 5 = 425 ms.
  sim.network().SetLink(1, 0, LinkParams{Ms(10), Ms(200), 0, 0});
  Cmd(sim, 0, "SET jittery 1");
  ASSERT_TRUE(sim.Sync().done);
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 1.0, 0});
  Cmd(sim, 0, "SET lost 1");
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  // Resent after 425 ms, arriving at 435 ms; a stale timeout (25 or 105 ms) would have it
  // there before 400 ms.
  sim.AdvanceBy(Ms(400));
  EXPECT_EQ(sim.Dump(1, "lost"), "(nil)") << "resent after 425 ms, not 25 or 105 ms";
  sim.AdvanceBy(Ms(100));
  EXPECT_EQ(sim.Dump(1, "lost"), "1");
}

TEST(SimulationTest, CrashCountsOnlyWritesNoPeerHolds) {
  // A's first write is lost on the way; its second arrives out of order, and B keeps it
  // unapplied (an origin's effects apply in its order). A crashes before retransmitting:
  // the write B kept behind the gap can never be applied, so both writes are lost.
  Simulation sim(Config({"A", "B"}));
  LoseTheFirstOfTwoWrites(sim);
  EXPECT_EQ(sim.Metrics(0).max_ops_lag, 2u) << "B acknowledges only a contiguous prefix";
  EXPECT_EQ(Peer(sim.Metrics(1), "A").effects_held, 1u);
  EXPECT_EQ(sim.Crash(0), 2u);
  EXPECT_EQ(sim.Metrics(0).lost_writes, 2u);
  sim.Restart(0);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "first"), Repeat("(nil)", 2));
  EXPECT_EQ(Values(sim, "second"), Repeat("(nil)", 2));
}

// An origin's effects apply in its order: the later one waits for the resend of the lost
// one, then both apply (a stream read between them never skips an entry).
TEST(SimulationTest, AnEffectBehindAGapWaitsForIt) {
  Simulation sim(Config({"A", "B"}));
  LoseTheFirstOfTwoWrites(sim);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "first"), Repeat("1", 2));
  EXPECT_EQ(Values(sim, "second"), Repeat("2", 2));
  EXPECT_EQ(Peer(sim.Metrics(1), "A").effects_held, 1u);
  EXPECT_EQ(Peer(sim.Metrics(1), "A").effects_received, 2u);
  EXPECT_EQ(Peer(sim.Metrics(0), "B").partial_syncs, 1u);
}

TEST(SimulationTest, RestartPushesWritesThatOnlyOnePeerHad) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(15), SimTime(0), 0, 0});
  sim.Partition({{0}, {2}});
  Cmd(sim, 0, "SET k v");
  Cmd(sim, 0, "SADD s a");
  Cmd(sim, 0, "INCRBY n 4");
  ASSERT_TRUE(sim.Sync().done);  // A-B only: A-C is cut
  EXPECT_EQ(Values(sim, "k"), (std::vector<std::string>{"v", "v", "(nil)"}));
  EXPECT_EQ(sim.Crash(0), 0u) << "B holds every write of A";
  sim.Restart(0);
  SyncResult mid = sim.Sync();  // A rebuilds from B (A-C still cut)
  ASSERT_TRUE(mid.done) << mid.pending;
  EXPECT_EQ(Values(sim, "k"), (std::vector<std::string>{"v", "v", "(nil)"}));
  sim.HealAll();
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Values(sim, "k"), Repeat("v", 3));
  EXPECT_EQ(Values(sim, "s"), Repeat("{a}", 3));
  EXPECT_EQ(Values(sim, "n"), Repeat("4", 3));
  EXPECT_TRUE(sim.Divergent({}).empty());
  EXPECT_GE(Peer(sim.Metrics(0), "C").full_syncs, 1u);
}

TEST(SimulationTest, RestartRebuildsEvenWhenThePeersStateArrivesLate) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(25), Ms(5), 0.5, 0.2});
  for (int i = 0; i < 20; ++i) Cmd(sim, i % 2, "INCR n");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(sim.Crash(1), 0u);
  sim.Restart(1);
  EXPECT_EQ(Cmd(sim, 1, "INCR n"), Reply::Integer(1)) << "B starts empty";
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done) << res.pending;
  EXPECT_EQ(Values(sim, "n"), Repeat("21", 2));
}

TEST(SimulationTest, CommandsOnACrashedRegionGetAnErrorReply) {
  Simulation sim(Config({"A", "B"}));
  Cmd(sim, 1, "SET k v");
  ASSERT_TRUE(sim.Sync().done);
  sim.Crash(1);
  Reply r = Cmd(sim, 1, "GET k");
  EXPECT_TRUE(r.is_error()) << r.ToString();
  EXPECT_TRUE(Cmd(sim, 1, "SET k w").is_error());
  EXPECT_TRUE(sim.client(1).Execute({"PING"}).is_error());
  std::vector<Reply> batch = sim.ExecuteBatch(1, {{"INCR", "n"}, {"GET", "k"}});
  ASSERT_EQ(batch.size(), 2u);
  for (const Reply& b : batch) EXPECT_TRUE(b.is_error()) << b.ToString();
  EXPECT_EQ(sim.Metrics(1).local_writes, 1u) << "refused writes are not writes";
  EXPECT_EQ(Cmd(sim, 0, "GET k"), Reply::Bulk("v")) << "the other region serves";
  ASSERT_TRUE(sim.Sync().done) << "a crashed region does not hold up a sync";
  sim.Restart(1);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Cmd(sim, 1, "GET k"), Reply::Bulk("v"));
}

TEST(SimulationTest, ExecuteBatchReplicatesAsOneEffect) {
  Simulation sim(Config({"A", "B"}));
  std::vector<Reply> replies = sim.ExecuteBatch(
      0, {{"SET", "k", "10"}, {"INCRBY", "k", "5"}, {"GET", "k"}, {"SADD", "s", "x"}});
  EXPECT_EQ(replies, (std::vector<Reply>{Reply::Status("OK"), Reply::Integer(15), Reply::Bulk("15"),
                                         Reply::Integer(1)}));
  EXPECT_EQ(sim.Metrics(0).local_writes, 1u);
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "k"), Repeat("15", 2));
  EXPECT_EQ(Peer(sim.Metrics(1), "A").effects_received, 1u);
}

TEST(SimulationTest, OpsLagDuringAPartition) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  sim.Partition({{0, 1}, {2}});
  for (int i = 0; i < 4; ++i) Cmd(sim, 0, "INCR n");
  RegionMetrics at_once = sim.Metrics(0);
  EXPECT_EQ(at_once.max_ops_lag, 4u);
  EXPECT_EQ(at_once.min_ops_lag, 4u) << "nothing acknowledged before a round trip";
  sim.AdvanceBy(Ms(200));
  RegionMetrics m = sim.Metrics(0);
  EXPECT_EQ(m.max_ops_lag, 4u);
  EXPECT_EQ(m.min_ops_lag, 0u);
  EXPECT_EQ(Peer(m, "B").ops_lag, 0u);
  EXPECT_EQ(Peer(m, "C").ops_lag, 4u);
  EXPECT_EQ(sim.Metrics(1).max_ops_lag, 0u) << "B wrote nothing";
  sim.HealAll();
  ASSERT_TRUE(sim.Sync().done);
  m = sim.Metrics(0);
  EXPECT_EQ(m.max_ops_lag, 0u);
  EXPECT_EQ(m.min_ops_lag, 0u);
}

// ---- Known bugs: these tests fail until the library is fixed (see each comment). ----

// Documented behaviour (README, "Replication semantics"): effects are applied in arrival
// order, not causally across origins, as in Redis Enterprise without causal consistency.
// A SET's effect names the writes still present at its writer; C had already dropped A's
// write (B's SET removed it), so when C's SET reaches A before B's does, A keeps showing
// its own older write (its clock is ahead) until B's effect arrives. After the heal and a
// sync, "a write that observed another always beats it" holds everywhere.
TEST(SimulationTest, TransientAnomalyWithoutCausalDeliveryForStrings) {
  SimConfig c = Config({"A", "B", "C"});
  c.regions[0].clock_skew = seconds(1);  // A's clock is ahead: its SET has the highest timestamp
  Simulation sim(std::move(c));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  Cmd(sim, 0, "SET k old");
  ASSERT_TRUE(sim.Sync().done);
  sim.Partition({{0}, {1}});  // A-B cut; C talks to both
  Cmd(sim, 1, "SET k mid");   // B observed `old`; reaches C only
  ASSERT_TRUE(sim.Sync().done);
  ASSERT_EQ(Values(sim, "k"), (std::vector<std::string>{"old", "mid", "mid"}));
  Cmd(sim, 2, "SET k new");  // C observed `old` (through `mid`)
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "k"), (std::vector<std::string>{"old", "new", "new"}))
      << "A applied `new` but B's `mid`, which removed `old`, has not reached it";
  sim.HealAll();
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "k"), Repeat("new", 3));
}

// The same for sets: C's SREM names the add it saw (B's re-add), not A's earlier add of
// the same member, which B's re-add had replaced.
TEST(SimulationTest, TransientAnomalyWithoutCausalDeliveryForSets) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  EXPECT_EQ(Cmd(sim, 0, "SADD s x"), Reply::Integer(1));
  ASSERT_TRUE(sim.Sync().done);
  sim.Partition({{0}, {1}});
  EXPECT_EQ(Cmd(sim, 1, "SADD s x"), Reply::Integer(0));  // a re-add: replaces A's tag
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Cmd(sim, 2, "SREM s x"), Reply::Integer(1));  // observed both additions
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "s"), (std::vector<std::string>{"{x}", "(nil)", "(nil)"}));
  sim.HealAll();
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "s"), Repeat("(nil)", 3));
}

// Redis: `INCRBY k 0` on a missing key creates it with "0" (and replies 0). A zero step is
// a live increment of the counter (crdt/pn_counter.h), so the key exists and holds 0.
TEST(SimulationTest, IncrByZeroCreatesTheKeyAsInRedis) {
  Simulation sim(Config({"A", "B"}));
  EXPECT_EQ(Cmd(sim, 0, "INCRBY k 0"), Reply::Integer(0));
  EXPECT_EQ(Cmd(sim, 0, "GET k"), Reply::Bulk("0"));
  EXPECT_EQ(Cmd(sim, 0, "EXISTS k"), Reply::Integer(1));
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "k"), Repeat("0", 2));
  // INCR then DECR: a live counter at 0, as in Redis.
  EXPECT_EQ(Cmd(sim, 1, "INCR j"), Reply::Integer(1));
  EXPECT_EQ(Cmd(sim, 1, "DECR j"), Reply::Integer(0));
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(Values(sim, "j"), Repeat("0", 2));
}

// simulation.h: converged_after_heal() is the "time from the last heal until quiescence was
// reached", even when a wait after the heal passes that moment before a sync.
TEST(SimulationTest, ConvergedAfterHealIsWhenQuiescenceWasReached) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(20), SimTime(0), 0, 0});
  sim.Partition({{0}, {1}});
  Cmd(sim, 0, "SET k v");
  sim.AdvanceBy(seconds(1));
  sim.HealAll();
  sim.AdvanceBy(seconds(10));  // converges within a round trip or two
  EXPECT_EQ(sim.Dump(1, "k"), "v");
  EXPECT_TRUE(sim.Quiescent());
  SyncResult res = sim.Sync();
  ASSERT_TRUE(res.done);
  EXPECT_EQ(res.took, SimTime(0));
  ASSERT_TRUE(sim.converged_after_heal().has_value());
  EXPECT_LE(*sim.converged_after_heal(), Ms(100));
}

// A fixed workload on jittery links; returns (digest while messages are in flight, digest
// after a sync).
std::pair<uint64_t, uint64_t> Workload(uint64_t seed) {
  Simulation sim(Config({"A", "B", "C"}, seed));
  SetAllLinks(sim, LinkParams{Ms(50), Ms(40), 0.1, 0.1});
  for (int i = 0; i < 30; ++i) {
    for (int r = 0; r < 3; ++r) {
      Cmd(sim, r, "SET k" + std::to_string(i % 5) + " " + sim.region_name(r) + std::to_string(i));
      Cmd(sim, r, "INCR c");
    }
    sim.AdvanceBy(Ms(3));
  }
  uint64_t mid = sim.Digest();
  EXPECT_TRUE(sim.Sync().done);
  return {mid, sim.Digest()};
}

TEST(SimulationTest, DigestIsReproducibleAndDependsOnTheSeed) {
  auto a = Workload(1);
  auto b = Workload(1);
  auto c = Workload(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a.first, c.first);
  EXPECT_NE(a.second, c.second);
  EXPECT_EQ(FormatDigest(0x0123456789ABCDEFull), "0123456789abcdef");
  EXPECT_EQ(FormatDigest(0).size(), 16u);
}

TEST(SimulationTest, DigestReflectsDataAndLiveness) {
  Simulation sim(Config({"A", "B"}));
  uint64_t empty = sim.Digest();
  Cmd(sim, 0, "SET k v");
  uint64_t written = sim.Digest();
  EXPECT_NE(empty, written);
  sim.Crash(1);
  EXPECT_NE(sim.Digest(), written);
}

TEST(SimulationTest, SyncGivesUpAtTheLimitWhenALinkLosesEverything) {
  Simulation sim(Config({"A", "B", "C"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 1.0, 0});
  Cmd(sim, 0, "SET k v");
  Cmd(sim, 0, "SET j w");
  SyncResult res = sim.Sync(seconds(10));
  EXPECT_FALSE(res.done);
  EXPECT_EQ(res.took, seconds(10));
  EXPECT_NE(res.pending.find("A->B"), std::string::npos) << res.pending;
  EXPECT_NE(res.pending.find("2 effects not acknowledged"), std::string::npos) << res.pending;
  std::string pending;
  EXPECT_FALSE(sim.Quiescent(&pending));
  EXPECT_EQ(pending, res.pending);
  EXPECT_FALSE(sim.Quiescent()) << "the same answer without the description";
  EXPECT_EQ(sim.Dump(2, "k"), "v");
  EXPECT_EQ(sim.Dump(1, "k"), "(nil)");
  PeerMetrics b = Peer(sim.Metrics(0), "B");
  EXPECT_GT(b.link_out.messages_sent, 10u) << "kept retrying";
  EXPECT_EQ(b.link_out.dropped_loss, b.link_out.messages_sent);
  // Repair the link: the retries get through.
  sim.network().SetLink(0, 1, LinkParams{Ms(10), SimTime(0), 0, 0});
  SyncResult again = sim.Sync();
  ASSERT_TRUE(again.done) << again.pending;
  EXPECT_LE(again.took, seconds(3)) << "the retransmission backoff is capped (max_rto)";
  EXPECT_EQ(Values(sim, "k"), Repeat("v", 3));
}

// A key's TTL that a region only merged arms that region's expiry (Deliver re-arms it after
// every merge): with its writer down, the receiver deletes the key itself once the grace
// (Store::kExpiryGraceUs) has passed, as one local write of its own.
TEST(SimulationTest, ATtlReceivedByAMergeIsExpiredByTheReceiver) {
  Simulation sim(Config({"A", "B"}));
  SetAllLinks(sim, LinkParams{Ms(10), SimTime(0), 0, 0});
  std::vector<std::string> lines;
  sim.SetTrace([&](const std::string& l) {
    if (l.find("expired due keys") != std::string::npos) lines.push_back(l);
  });
  Cmd(sim, 0, "SET k v");
  Cmd(sim, 0, "EXPIRE k 1");
  ASSERT_TRUE(sim.Sync().done);
  sim.Crash(0);  // A, the TTL's winner, never deletes the key
  EXPECT_EQ(sim.Metrics(1).local_writes, 0u);
  sim.AdvanceBy(SimTime(Store::kExpiryGraceUs) + seconds(2));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" B expired due keys"), std::string::npos) << lines[0];
  EXPECT_EQ(sim.Metrics(1).local_writes, 1u);
  EXPECT_EQ(sim.Dump(1, "k"), "(nil)");
}

// Tracing changes nothing but the trace: a run with lossy, duplicating links, a crash and a
// restart (a new incarnation, full states and their acks) ends with the same digest and
// figures traced or not. Its acks take two paths: untraced, the simulator's transport packs
// an ack's header from its fields (SimTransport::SendAck); traced, from the message
// AckHeader builds (Send). A field packed wrong (an epoch, the full flag, the sequence
// number) would lose acks or end a full sync in one run only.
TEST(SimulationTest, TracedAndUntracedRunsAgree) {
  auto run = [](bool traced) {
    Simulation sim(Config({"A", "B", "C"}, 7));
    SetAllLinks(sim, LinkParams{Ms(10), Ms(3), 0.1, 0.05});
    uint64_t lines = 0;
    if (traced) sim.SetTrace([&](const std::string&) { ++lines; });
    auto writes = [&](int round) {
      for (int i = 0; i < 30; ++i) {
        Cmd(sim, i % 3, "INCR c" + std::to_string(i % 7));
        Cmd(sim, (i + round) % 3, "SADD s" + std::to_string(round) + " " + std::to_string(i));
        sim.AdvanceBy(Ms(2));
      }
    };
    writes(0);
    sim.Crash(1);
    writes(1);
    sim.Restart(1);
    writes(2);
    EXPECT_TRUE(sim.Sync().done);
    EXPECT_EQ(traced, lines > 0);
    std::string out = FormatDigest(sim.Digest()) + "\n";
    uint64_t full_syncs = 0;
    for (int r = 0; r < sim.region_count(); ++r) {
      const RegionMetrics m = sim.Metrics(r);
      out += m.name + " " + std::to_string(m.incarnation) + " " + std::to_string(m.local_writes);
      for (const PeerMetrics& p : m.peers) {
        full_syncs += p.full_syncs;
        out += " | " + p.peer + " " + std::to_string(p.ops_lag) + " " +
               std::to_string(p.effects_sent) + " " + std::to_string(p.effects_received) + " " +
               std::to_string(p.effects_filtered) + " " + std::to_string(p.partial_syncs) + " " +
               std::to_string(p.full_syncs) + " " + std::to_string(p.link_out.messages_sent) + " " +
               std::to_string(p.link_out.messages_delivered);
      }
      out += "\n";
    }
    EXPECT_GT(full_syncs, 0u) << "the restart took full states";
    return out;
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(SimulationTest, TraceShowsProtocolEvents) {
  Simulation sim(Config({"A", "B"}));
  std::vector<std::string> lines;
  sim.SetTrace([&](const std::string& l) { lines.push_back(l); });
  sim.Partition({{0}, {1}});
  Cmd(sim, 0, "SET k v");
  sim.Crash(0);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("partition A | B"), std::string::npos) << all;
  EXPECT_NE(all.find("effect #1"), std::string::npos) << all;
  EXPECT_NE(all.find("dropped (link cut)"), std::string::npos) << all;
  EXPECT_NE(all.find("A crashed (1 unreplicated writes lost)"), std::string::npos) << all;
}

// The replicators read the network's tracing flag through their transports on every send:
// an observer set after the regions were built still gets described messages.
TEST(SimulationTest, MessagesAreDescribedWhileTheNetworkIsObserved) {
  Simulation sim(Config({"A", "B"}));
  Cmd(sim, 0, "SET k v");
  ASSERT_TRUE(sim.Sync().done);
  std::vector<std::string> sent;
  sim.network().SetObserver([&](const Network::MessageEvent& e) {
    if (e.type == Network::MessageEvent::Type::kSent) sent.push_back(e.what);
  });
  Cmd(sim, 0, "SET k w");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(sent, (std::vector<std::string>{"effect #2", "ack #2"}));
}

// A store whose write writes again on the same region through the simulation (nothing in
// the tree does, but Logged allows it): each write's effect is its own, both replicate.
TEST(SimulationTest, AWriteMadeDuringAWriteOnTheSameRegionReplicatesBoth) {
  class ReentrantStore final : public Store {
   public:
    ReentrantStore(Simulation** sim, int region, crdt::ReplicaId self)
        : sim_(sim), region_(region), inner_(NewMemoryStore(self)) {}
    Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                  std::string* effect) override {
      if (argv[0] != "NESTED") return inner_->Execute(argv, wall_clock_us, effect);
      // Its own effect first, then the write it causes.
      Reply reply = inner_->Execute({"SET", "outer", "1"}, wall_clock_us, effect);
      (*sim_)->Execute(region_, {"SET", "inner", "2"});
      return reply;
    }
    std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& commands,
                                    int64_t wall_clock_us, std::string* effect) override {
      return inner_->ExecuteBatch(commands, wall_clock_us, effect);
    }
    Status Merge(std::string_view encoded) override { return inner_->Merge(encoded); }
    uint64_t KeyVersion(std::string_view key) const override { return inner_->KeyVersion(key); }
    std::string FullState() const override { return inner_->FullState(); }
    std::string Dump(std::string_view key) const override { return inner_->Dump(key); }
    std::string DumpAll() const override { return inner_->DumpAll(); }
    std::vector<std::string> Keys() const override { return inner_->Keys(); }
    void Wipe(crdt::ReplicaId self) override { inner_->Wipe(self); }
    bool durable() const override { return false; }
    crdt::ReplicaId self() const override { return inner_->self(); }
    size_t MemoryBytes() const override { return inner_->MemoryBytes(); }

   private:
    Simulation** sim_;
    int region_;
    std::unique_ptr<Store> inner_;
  };
  Simulation* sim_ptr = nullptr;
  SimConfig c = Config({"A", "B"});
  c.store_factory = [&](int r, crdt::ReplicaId id) -> std::unique_ptr<Store> {
    return std::make_unique<ReentrantStore>(&sim_ptr, r, id);
  };
  Simulation sim(std::move(c));
  sim_ptr = &sim;
  Cmd(sim, 0, "SET before 0");  // the region's buffer has room, as after any write
  Cmd(sim, 0, "NESTED");
  ASSERT_TRUE(sim.Sync().done);
  EXPECT_EQ(sim.Metrics(0).local_writes, 3u);
  EXPECT_EQ(sim.Dump(1, "outer"), sim.Dump(0, "outer"));
  EXPECT_EQ(sim.Dump(1, "inner"), sim.Dump(0, "inner"));
  EXPECT_NE(sim.Dump(1, "outer"), "(nil)");
  EXPECT_NE(sim.Dump(1, "inner"), "(nil)");
  EXPECT_TRUE(sim.Divergent({}).empty());
}

// The timers of a replicator driven by hand: the clock stays at 0 and nothing fires.
class StillTimers : public ReplTimers {
 public:
  SimTime Now() const override { return SimTime(0); }
  void At(SimTime, std::function<void()>) override {}
};

// A transport that keeps no tracing flag (the server's) never asks for descriptions; one
// that does is read afresh on every call.
TEST(ReplTransportTest, TracingReadsTheTransportsFlag) {
  class Transport : public ReplTransport {
   public:
    Transport() = default;
    explicit Transport(const bool* flag) : ReplTransport(flag) {}
    void Send(int, const ReplMessage&, std::shared_ptr<const void>&&, size_t,
              std::string&&) override {}
    SimTime Rtt(int) const override { return SimTime(0); }
  };
  EXPECT_FALSE(Transport().tracing());
  bool flag = false;
  Transport traced(&flag);
  EXPECT_FALSE(traced.tracing());
  flag = true;
  EXPECT_TRUE(traced.tracing());
}

// A replicator's sends, seen by a transport that keeps some bodies and leaves others (as
// Network does when a message joins a copy already in flight): every peer gets the effect,
// every ack no body, and no undescribed message a description. This transport overrides
// only Send, so its acks come through the default SendAck (a fresh null body each); the
// simulator's own SendAck, which reuses one, is checked by TracedAndUntracedRunsAgree.
TEST(ReplTransportTest, EachSendGetsItsBodyWhetherTheTransportTookTheLastOrNot) {
  struct Sent {
    int peer;
    ReplMessage::Kind kind;
    std::string payload;  // payload 0, or "(none)"
    std::string what;
  };
  class Transport : public ReplTransport {
   public:
    void Send(int peer, const ReplMessage& m, std::shared_ptr<const void>&& body, size_t,
              std::string&& what) override {
      ReplMessage got = m;
      got.body = body.get();
      sent.push_back(
          {peer, m.kind, body == nullptr ? "(none)" : std::string(got.payload(0)), what});
      // Take every other body and description: the sender's next send must not depend on
      // which.
      if (++calls % 2 == 1) {
        kept.push_back(std::move(body));
        std::string taken = std::move(what);
      }
    }
    SimTime Rtt(int) const override { return SimTime(1'000); }
    std::vector<Sent> sent;
    std::vector<std::shared_ptr<const void>> kept;
    int calls = 0;
  };
  Transport transport;
  StillTimers timers;
  auto store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  Replicator::Options opts;
  opts.self = 0;
  opts.names = {"A", "B", "C", "D"};
  Replicator repl(opts, store.get(), &transport, &timers);
  repl.OnLocalWrite(std::string("first"));
  repl.OnLocalWrite(std::string("second"));
  ASSERT_EQ(transport.sent.size(), 6u);
  for (size_t i = 0; i < transport.sent.size(); ++i) {
    const Sent& s = transport.sent[i];
    EXPECT_EQ(s.peer, static_cast<int>(i % 3) + 1) << i;
    EXPECT_EQ(s.kind, ReplMessage::Kind::kEffects) << i;
    EXPECT_EQ(s.payload, i < 3 ? "first" : "second") << i;
    EXPECT_EQ(s.what, "") << i;
  }
  // Acks (no body) from a receiver, after effects from two peers, twice each.
  transport.sent.clear();
  auto other = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  std::string effect;
  ASSERT_EQ(other->Execute({"SET", "k", "v"}, 0, &effect).type, Reply::Type::kStatus);
  auto block = std::make_shared<const std::string>(effect);
  for (uint64_t seq = 1; seq <= 2; ++seq) {
    for (int from = 1; from <= 2; ++from) {
      ReplMessage m;
      m.kind = ReplMessage::Kind::kEffects;
      m.sender_epoch = 1;
      m.first_seq = seq;
      m.count = 1;
      m.body = block.get();
      repl.OnMessage(from, m);
    }
  }
  ASSERT_EQ(transport.sent.size(), 4u);
  for (const Sent& s : transport.sent) {
    EXPECT_EQ(s.kind, ReplMessage::Kind::kAck);
    EXPECT_EQ(s.payload, "(none)");
    EXPECT_EQ(s.what, "");
  }
}

// An ack that nothing describes goes through ReplTransport::SendAck; one that is traced
// through Send with AckHeader's message. The default SendAck (a transport that overrides only
// Send, as the server's does) hands Send the same ack: kind, incarnations, sequence number,
// full flag, size and no body, with no description. Acks of a full state and of effects,
// from a receiver of another incarnation than its origin's.
TEST(ReplTransportTest, TheDefaultSendAckSendsWhatATracedAckSends) {
  struct Sent {
    ReplMessage m;
    bool body;
    size_t wire_bytes;
    std::string what;
  };
  class Transport : public ReplTransport {
   public:
    explicit Transport(const bool* flag) : ReplTransport(flag) {}
    void Send(int, const ReplMessage& m, std::shared_ptr<const void>&& body, size_t wire_bytes,
              std::string&& what) override {
      if (m.kind == ReplMessage::Kind::kAck) sent.push_back({m, body != nullptr, wire_bytes, what});
    }
    SimTime Rtt(int) const override { return SimTime(1'000); }
    std::vector<Sent> sent;
  };
  auto run = [](bool traced) {
    bool flag = traced;
    Transport transport(&flag);
    StillTimers timers;
    auto store = NewMemoryStore(crdt::MakeReplicaId(0, 3));
    Replicator::Options opts;
    opts.self = 0;
    opts.names = {"A", "B"};
    opts.incarnation = 3;
    Replicator repl(opts, store.get(), &transport, &timers);
    auto origin = NewMemoryStore(crdt::MakeReplicaId(1, 2));
    std::string effect;
    origin->Execute({"SET", "k", "v"}, 0, &effect);
    auto state = std::make_shared<const std::string>(origin->FullState());
    auto block = std::make_shared<const std::string>(effect);
    ReplMessage m;
    m.kind = ReplMessage::Kind::kFullState;  // B's incarnation 2, up to its write #5
    m.sender_epoch = 2;
    m.seq = 5;
    m.count = 1;
    m.body = state.get();
    repl.OnMessage(1, m);
    m = ReplMessage();
    m.kind = ReplMessage::Kind::kEffects;
    m.sender_epoch = 2;
    m.first_seq = 6;
    m.count = 1;
    m.body = block.get();
    repl.OnMessage(1, m);
    return transport.sent;
  };
  const std::vector<Sent> untraced = run(false);
  const std::vector<Sent> traced = run(true);
  ASSERT_EQ(untraced.size(), 2u);
  ASSERT_EQ(traced.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    for (const Sent* s : {&untraced[i], &traced[i]}) {
      EXPECT_EQ(s->m.kind, ReplMessage::Kind::kAck) << i;
      EXPECT_EQ(s->m.full_ack, i == 0) << i;
      EXPECT_EQ(s->m.sender_epoch, 3u) << i;
      EXPECT_EQ(s->m.epoch, 2u) << i;
      EXPECT_EQ(s->m.seq, i == 0 ? 5u : 6u) << i;
      EXPECT_EQ(s->m.count, 0u) << i;
      EXPECT_FALSE(s->m.causal || s->m.blocks) << i;
      EXPECT_FALSE(s->body) << i;
      EXPECT_EQ(s->wire_bytes, ReplMessage::kWireHeaderBytes) << i;
    }
    EXPECT_EQ(untraced[i].what, "") << i;
    EXPECT_EQ(traced[i].what, i == 0 ? "ack #5" : "ack #6") << i;
  }
}

// Effects that arrive after a gap wait (held); the one that fills the gap applies them all
// at once and acknowledges the whole prefix.
TEST(ReplicatorTest, TheEffectThatFillsAGapAppliesTheHeldOnesAndAcksThemAll) {
  class Transport : public ReplTransport {
   public:
    void Send(int, const ReplMessage& m, std::shared_ptr<const void>&&, size_t,
              std::string&&) override {
      if (m.kind == ReplMessage::Kind::kAck) acks.push_back(m.seq);
    }
    SimTime Rtt(int) const override { return SimTime(1'000); }
    std::vector<uint64_t> acks;
  };
  Transport transport;
  StillTimers timers;
  auto store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  Replicator::Options opts;
  opts.self = 0;
  opts.names = {"A", "B"};
  Replicator repl(opts, store.get(), &transport, &timers);
  // B's first three writes, as B's log numbers them.
  auto origin = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  std::vector<std::shared_ptr<const std::string>> effects;
  for (const char* v : {"1", "2", "3"}) {
    std::string effect;
    origin->Execute({"RPUSH", "l", v}, 0, &effect);
    effects.push_back(std::make_shared<const std::string>(effect));
  }
  auto deliver = [&](uint64_t seq) {
    ReplMessage m;
    m.kind = ReplMessage::Kind::kEffects;
    m.sender_epoch = 1;
    m.first_seq = seq;
    m.count = 1;
    m.body = effects[seq - 1].get();
    repl.OnMessage(1, m);
  };
  deliver(3);
  deliver(2);
  EXPECT_EQ(repl.Contiguous(1), 0u);
  EXPECT_EQ(store->Dump("l"), "(nil)");
  deliver(1);
  EXPECT_EQ(repl.Contiguous(1), 3u);
  EXPECT_EQ(store->Dump("l"), origin->Dump("l"));
  EXPECT_EQ(transport.acks, (std::vector<uint64_t>{0, 0, 3}));
}

}  // namespace
}  // namespace cluster_sim
