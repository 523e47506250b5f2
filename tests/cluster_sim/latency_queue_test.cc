// LatencyQueue: (time, push order) across its wheel, coarse lists and far heap.
#include "cluster_sim/latency_queue.h"

#include <cstdint>
#include <iterator>
#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"
#include "queue_test_util.h"

namespace cluster_sim {
namespace {

using test_util::Drain;

// A wheel of 256 us and 8 coarse spans of 128 us: events past about 1.3 ms are far.
using SmallQueue = LatencyQueue<8, 3>;

TEST(LatencyQueueOrderTest, SameInstantEventsPopInPushOrderWhereverTheyWait) {
  SmallQueue q;
  q.Push(5000, 0);  // far
  q.Push(100, 1);   // wheel
  q.Push(5000, 2);  // far
  uint32_t v;
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(q.now(), 100);
  q.Push(5000, 3);  // still far
  // Jump near 5000: the far events move to a coarse list, then to the wheel.
  q.Push(4000, 4);
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(q.now(), 4000);
  q.Push(5000, 5);  // a coarse list now, after the far ones moved there
  q.Push(4700, 6);
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_EQ(v, 6u);
  q.Push(5000, 7);  // the same coarse list, last
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{0, 2, 3, 5, 7}));
  EXPECT_EQ(q.now(), 5000);
  EXPECT_TRUE(q.empty());
}

TEST(LatencyQueueOrderTest, EmptyPopChangesNothingAndTimeJumpsOverIdleStretches) {
  SmallQueue q;
  uint32_t v;
  EXPECT_FALSE(q.Pop(&v));
  EXPECT_EQ(q.now(), 0);
  q.Push(3, 0);
  ASSERT_TRUE(q.Pop(&v));
  EXPECT_FALSE(q.Pop(&v));
  EXPECT_EQ(q.now(), 3);
  q.Push(int64_t{1} << 40, 1);
  q.Push((int64_t{1} << 40) + 255, 2);  // the same span, the other end of the wheel
  q.Push(400, 3);                       // a coarse list
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{3, 1, 2}));
  EXPECT_EQ(q.now(), (int64_t{1} << 40) + 255);
  // The wheel wraps: 255 and 266 share no slot, 10 and 266 would.
  q.Push(q.now() + 11, 4);
  q.Push(q.now(), 5);
  q.Push(q.now() + 5, 6);
  EXPECT_EQ(Drain(q), (std::vector<uint32_t>{5, 6, 4}));
  EXPECT_EQ(q.size(), 0u);
}

// Many events, dense and sparse, scheduled while popping at every distance (now, the
// wheel, the coarse lists, far): the pops come in (time, push order) and at the right time,
// as an ordered reference says.
TEST(LatencyQueueOrderTest, RandomEventsPopInTimeThenPushOrder) {
  for (const uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    SmallQueue q;
    Rng rng(seed);
    std::set<std::pair<int64_t, uint32_t>> pending;  // (time, id): ids grow with pushes
    uint32_t next_id = 0;
    auto push = [&](int64_t at) {
      q.Push(at, next_id);
      pending.emplace(at, next_id++);
    };
    const int64_t kReach[] = {1, 10, 256, 1500, 100'000};
    for (int i = 0; i < 50; ++i) push(static_cast<int64_t>(rng.Uniform(3000)));
    uint32_t v;
    while (q.Pop(&v)) {
      ASSERT_FALSE(pending.empty());
      ASSERT_EQ(v, pending.begin()->second);
      ASSERT_EQ(q.now(), pending.begin()->first);
      pending.erase(pending.begin());
      ASSERT_EQ(q.size(), pending.size());
      if (next_id >= 100'000) continue;
      const uint64_t pushes = rng.Uniform(pending.size() < 20 ? 4 : 3);
      for (uint64_t k = 0; k < pushes; ++k) {
        const int64_t reach = kReach[rng.Uniform(5)];
        push(q.now() + static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(reach))));
      }
    }
    EXPECT_TRUE(pending.empty());
    EXPECT_GE(next_id, 100'000u);
  }
}

// A wheel slot keeps its first event in place and the others in a list of pool nodes:
// slots filled far past the pool's first 64 nodes, by wheel pushes and by spread coarse
// lists, in turns with pops that empty some of them and leave others holding one, must pop
// in push order, and the nodes freed must serve the slots filled next.
TEST(LatencyQueueOrderTest, CrowdedSlotsPopInPushOrderAsThePoolGrowsAndIsReused) {
  SmallQueue q;
  std::set<std::pair<int64_t, uint32_t>> pending;  // (time, id): ids grow with pushes
  uint32_t next_id = 0;
  auto push = [&](int64_t at) {
    q.Push(at, next_id);
    pending.emplace(at, next_id++);
  };
  uint32_t v;
  size_t capacity = 0;  // the node pool's after round 0
  for (int round = 0; round < 4; ++round) {
    const int64_t base = q.now();
    // Three instants on the wheel, one 200 us ahead (on the wheel or a coarse list, by
    // where the horizon is) and one 300 us ahead (past the horizon: a coarse list in
    // every round), interleaved.
    for (int i = 0; i < 300; ++i) {
      push(base + 5 + i % 3);
      if (i % 4 == 0) push(base + 200);
      if (i % 8 == 0) push(base + 300);
    }
    // Pop all but the last event of the second instant, then push to it again.
    for (int i = 0; i < 100 + 99; ++i) {
      ASSERT_TRUE(q.Pop(&v));
      ASSERT_EQ(v, pending.begin()->second);
      ASSERT_EQ(q.now(), pending.begin()->first);
      pending.erase(pending.begin());
    }
    for (int i = 0; i < 70; ++i) push(base + 6);
    while (q.Pop(&v)) {
      ASSERT_FALSE(pending.empty());
      ASSERT_EQ(v, pending.begin()->second);
      ASSERT_EQ(q.now(), pending.begin()->first);
      pending.erase(pending.begin());
      ASSERT_EQ(q.size(), pending.size());
    }
    ASSERT_TRUE(pending.empty());
    // Every round holds at most as many events at once as round 0, which grew the pool:
    // the later rounds run on the nodes it freed.
    if (round == 0) capacity = q.node_capacity();
    ASSERT_EQ(q.node_capacity(), capacity) << "round " << round << " grew the node pool";
  }
}

// Pop finds the next event in now's 64-slot word of the bitmap without a refill check, and
// refills only when now leaves that word: chains of events stepping over every word, half
// span and span boundary (a step of 1 to 300 us, 64 and 128 among them; the horizon moves
// by 128 us) must pop at their times, in push order on ties, with the spread lists (events
// pushed past the horizon just before it moves) in their place.
TEST(LatencyQueueOrderTest, PopsAcrossWordAndSpanBoundariesInOrder) {
  const int64_t kSteps[] = {1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 255, 256, 300};
  constexpr size_t kChains = 3;
  SmallQueue q;
  std::set<std::pair<int64_t, uint32_t>> pending;  // (time, id): ids grow with pushes
  std::vector<uint32_t> chain_of;                  // by id
  size_t step[kChains] = {0, 5, 9};
  auto push = [&](int64_t at, uint32_t chain) {
    const uint32_t id = static_cast<uint32_t>(chain_of.size());
    q.Push(at, id);
    pending.emplace(at, id);
    chain_of.push_back(chain);
  };
  for (uint32_t c = 0; c < kChains; ++c) push(62 + c, c);
  uint32_t v;
  int pops = 0;
  while (q.Pop(&v)) {
    ASSERT_FALSE(pending.empty());
    ASSERT_EQ(v, pending.begin()->second);
    ASSERT_EQ(q.now(), pending.begin()->first);
    pending.erase(pending.begin());
    if (++pops >= 30'000) continue;
    const uint32_t c = chain_of[v];
    push(q.now() + kSteps[step[c]++ % std::size(kSteps)], c);
    // Now and then a second event at the same time, or a chain's step twice (a tie).
    if (pops % 7 == 0) push(q.now() + kSteps[(step[c] + 3) % std::size(kSteps)], c);
  }
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(static_cast<size_t>(pops), chain_of.size());
}

// 64-bit events keep every one of their kEventBits through the wheel, the coarse lists
// (where the time's offset shares their record) and the far heap, in (time, push order).
TEST(LatencyQueueOrderTest, WideEventsKeepTheirBitsWhereverTheyWait) {
  using WideQueue = LatencyQueue<8, 3, uint64_t>;
  static_assert(WideQueue::kEventBits == 57, "64 less a 128 us span's 7 offset bits");
  const uint64_t top = uint64_t{1} << (WideQueue::kEventBits - 1);
  for (const uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    WideQueue q;
    Rng rng(seed);
    std::set<std::pair<int64_t, uint64_t>> pending;  // (time, push number)
    std::vector<uint64_t> events;                    // by push number
    auto push = [&](int64_t at) {
      // The push number in the low bits, random high bits up to the top one, always set.
      const uint64_t event = top | (rng.Next() & (top - 1) & ~uint64_t{0xFFFFF}) | events.size();
      q.Push(at, event);
      pending.emplace(at, events.size());
      events.push_back(event);
    };
    for (int i = 0; i < 50; ++i) push(static_cast<int64_t>(rng.Uniform(3000)));
    uint64_t v;
    while (q.Pop(&v)) {
      ASSERT_FALSE(pending.empty());
      ASSERT_EQ(v, events[pending.begin()->second]);
      ASSERT_EQ(q.now(), pending.begin()->first);
      pending.erase(pending.begin());
      if (events.size() >= 20'000) continue;
      for (uint64_t k = rng.Uniform(pending.size() < 20 ? 4 : 3); k > 0; --k) {
        push(q.now() + static_cast<int64_t>(rng.Uniform(rng.OneIn(4) ? 5000 : 300)));
      }
    }
    EXPECT_TRUE(pending.empty());
  }
}

}  // namespace
}  // namespace cluster_sim
