// TimingWheel: FIFO slots, the first occupied slot from any position (both summary
// policies), coarse lists spread in append order, and the min-heap helpers.
#include "cluster_sim/timing_wheel.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"

namespace cluster_sim {
namespace {

struct Node {
  uint32_t value;
  uint32_t link;
};

template <typename Wheel>
class TimingWheelTest : public ::testing::Test {};
// A wheel of 1024 us (16 bitmap words) and 4 coarse spans, with each summary policy.
using Wheels = ::testing::Types<TimingWheel<Node, uint64_t, 10, 2, false>,
                                TimingWheel<Node, uint64_t, 10, 2, true>>;
TYPED_TEST_SUITE(TimingWheelTest, Wheels);

// Pops every node from now's slot p on: (slot, value) in the order the wheel gives them.
template <typename Wheel>
std::vector<std::pair<size_t, uint32_t>> Drain(Wheel& wheel, size_t p) {
  std::vector<std::pair<size_t, uint32_t>> out;
  while (wheel.wheel_count() > 0) {
    const size_t s = wheel.FirstSlot(p);
    const uint32_t n = wheel.head(s);
    out.emplace_back(s, wheel.node(n).value);
    wheel.UnlinkHead(s, n);
    p = s;
  }
  return out;
}

using Timed = std::pair<int64_t, uint32_t>;  // (time, value)

template <typename Wheel>
void Add(Wheel& wheel, int64_t at, uint32_t value) {
  const uint32_t n = wheel.NewNode();
  wheel.node(n).value = value;
  wheel.Append(n, at);
}

TYPED_TEST(TimingWheelTest, SlotsAreFifoAndTheSearchWrapsAroundFromNow) {
  TypeParam wheel;
  // now's slot is 700: 700.. come first, then the times that wrapped to slots 0..699.
  Add(wheel, 900, 0);
  Add(wheel, 1024 + 5, 1);  // slot 5, after the wrap
  Add(wheel, 900, 2);
  Add(wheel, 700, 3);
  Add(wheel, 1024 + 699, 4);  // slot 699: the last
  EXPECT_EQ(Drain(wheel, 700), (std::vector<std::pair<size_t, uint32_t>>{
                                   {700, 3}, {900, 0}, {900, 2}, {5, 1}, {699, 4}}));
  // Emptied words leave no stale hit: a later search still finds the one node.
  Add(wheel, 1024 + 600, 5);
  EXPECT_EQ(Drain(wheel, 699), (std::vector<std::pair<size_t, uint32_t>>{{600, 5}}));
}

TYPED_TEST(TimingWheelTest, RandomNodesComeOutInTimeThenAppendOrder) {
  TypeParam wheel;
  Rng rng(7);
  int64_t now = 0;
  uint32_t next_value = 0;
  std::vector<Timed> expected;  // (time, value), sorted stably
  std::vector<Timed> got;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 20; ++i) {
      const int64_t at = now + static_cast<int64_t>(rng.Uniform(1024));
      Add(wheel, at, next_value);
      expected.emplace_back(at, next_value++);
    }
    for (int i = 0; i < 15 && wheel.wheel_count() > 0; ++i) {
      const size_t p = static_cast<size_t>(now) & TypeParam::kSlotMask;
      const size_t s = wheel.FirstSlot(p);
      now += static_cast<int64_t>((s - p) & TypeParam::kSlotMask);
      const uint32_t n = wheel.head(s);
      got.emplace_back(now, wheel.node(n).value);
      wheel.UnlinkHead(s, n);
    }
    // Later pushes stay within a wheel of now.
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    ASSERT_EQ(got, std::vector<Timed>(expected.begin(), expected.begin() + got.size()));
    expected.erase(expected.begin(), expected.begin() + static_cast<ptrdiff_t>(got.size()));
    got.clear();
  }
}

TYPED_TEST(TimingWheelTest, CoarseListsSpreadInAppendOrderAndAreFoundCyclically) {
  TypeParam wheel;
  wheel.EnsureAllocated();
  // Spans of 512 us: 2048.. is list 0, 2560.. list 1, 3072.. list 2. A record: the
  // time's offset from 2048 (high half) and the value (low half).
  const auto record = [](int64_t at, uint32_t value) {
    return static_cast<uint64_t>(at - 2048) << 32 | value;
  };
  wheel.CoarseAppend(3072 + 10, record(3072 + 10, 10));
  wheel.CoarseAppend(2048 + 7, record(2048 + 7, 7));
  wheel.CoarseAppend(2048 + 3, record(2048 + 3, 3));
  wheel.CoarseAppend(2048 + 7, record(2048 + 7, 8));
  EXPECT_EQ(wheel.coarse_count(), 4u);
  EXPECT_EQ(wheel.FirstCoarse(1), 2u);
  EXPECT_EQ(wheel.FirstCoarse(3), 0u);  // wraps around
  wheel.Spread(0, [](Node& node, uint64_t r) {
    node.value = static_cast<uint32_t>(r);
    return 2048 + static_cast<int64_t>(r >> 32);
  });
  EXPECT_EQ(wheel.coarse_count(), 1u);
  EXPECT_TRUE(wheel.coarse_list(0).empty());
  EXPECT_EQ(wheel.FirstCoarse(0), 2u);
  EXPECT_EQ(Drain(wheel, 0), (std::vector<std::pair<size_t, uint32_t>>{{3, 3}, {7, 7}, {7, 8}}));
}

// ClearCoarse (a queue that moves a list's records onto a wheel of its own): the list is
// empty and no longer found, the others stay, and the list takes appends again, from its
// start.
TYPED_TEST(TimingWheelTest, ClearedCoarseListIsEmptyAndTakesAppendsAgain) {
  TypeParam wheel;
  wheel.EnsureAllocated();
  wheel.CoarseAppend(2048 + 1, 1);  // list 0
  wheel.CoarseAppend(2048 + 2, 2);
  wheel.CoarseAppend(3072 + 5, 5);  // list 2
  wheel.ClearCoarse(0);
  EXPECT_EQ(wheel.coarse_count(), 1u);
  EXPECT_TRUE(wheel.coarse_list(0).empty());
  EXPECT_EQ(wheel.FirstCoarse(0), 2u);
  EXPECT_EQ(wheel.wheel_count(), 0u);  // nothing went onto the wheel
  wheel.CoarseAppend(2048 + 9, 9);
  EXPECT_EQ(wheel.coarse_count(), 2u);
  EXPECT_EQ(wheel.FirstCoarse(3), 0u);
  ASSERT_EQ(wheel.coarse_list(0).size(), 1u);
  EXPECT_EQ(wheel.coarse_list(0)[0], 9u);
  wheel.ClearCoarse(2);
  wheel.ClearCoarse(0);
  EXPECT_EQ(wheel.coarse_count(), 0u);
}

// The coarse lists under load: lists that grow many times over (with equal times among
// their records), list indices that wrap around past the last span, and spreads that need
// more nodes than the free list holds while it still holds some. Each spread must put
// every record on the wheel, in (time, append order).
TYPED_TEST(TimingWheelTest, CoarseListsGrowWrapAndSpreadInTimeThenAppendOrder) {
  TypeParam wheel;
  wheel.EnsureAllocated();
  constexpr int64_t kHalf = TypeParam::kHalfSpan;  // 512 us
  Rng rng(11);
  uint32_t next_value = 0;
  // Some nodes on the wheel and some free: the first spread grows the pool past them.
  for (int i = 0; i < 40; ++i) Add(wheel, 10 + i, next_value++);
  for (int i = 0; i < 30; ++i) {
    const size_t s = wheel.FirstSlot(0);
    wheel.UnlinkHead(s, wheel.head(s));
  }
  std::vector<Timed> expected;  // after the 10 left on the wheel, the spans in turn
  for (int i = 30; i < 40; ++i) expected.emplace_back(10 + i, static_cast<uint32_t>(i));
  // Spans 1..6 of the lists' 4 (indices 1, 2, 3, 0, 1, 2: the last three wrap): each span
  // is filled, spread and drained before its index is used again.
  for (int64_t span = 1; span <= 6; ++span) {
    const int64_t start = span * kHalf;
    const size_t c = TypeParam::CoarseIndex(start);
    ASSERT_EQ(c, static_cast<size_t>(span) % TypeParam::kCoarseSpans);
    const int count = span == 2 ? 1 : 300 * static_cast<int>(span);  // past 16, 32, ...
    for (int i = 0; i < count; ++i) {
      // A third of the records on 5 times (ties), the rest anywhere in the span.
      const int64_t off = rng.OneIn(3) ? static_cast<int64_t>(rng.Uniform(5)) * 100
                                       : static_cast<int64_t>(rng.Uniform(kHalf));
      wheel.CoarseAppend(start + off, uint64_t{static_cast<uint64_t>(off)} << 32 | next_value);
      expected.emplace_back(start + off, next_value++);
    }
    ASSERT_EQ(wheel.coarse_count(), static_cast<size_t>(count));
    ASSERT_EQ(wheel.coarse_list(c).size(), static_cast<size_t>(count));
    ASSERT_EQ(wheel.FirstCoarse((c + 1) % TypeParam::kCoarseSpans), c);
    wheel.Spread(c, [start](Node& node, uint64_t r) {
      node.value = static_cast<uint32_t>(r);
      return start + static_cast<int64_t>(r >> 32);
    });
    ASSERT_EQ(wheel.coarse_count(), 0u);
    ASSERT_TRUE(wheel.coarse_list(c).empty());
    // Drain from now's slot (the span's start, or the first left-over node's): times come
    // back from the slots, which are the times modulo the wheel.
    const int64_t from = span == 1 ? 40 : start;
    std::vector<Timed> got;
    for (const auto& [slot, value] :
         Drain(wheel, static_cast<size_t>(from) & TypeParam::kSlotMask)) {
      const int64_t at =
          from + static_cast<int64_t>((slot - (static_cast<size_t>(from) & TypeParam::kSlotMask)) &
                                      TypeParam::kSlotMask);
      got.emplace_back(at, value);
    }
    std::stable_sort(expected.begin(), expected.end(),
                     [](const Timed& a, const Timed& b) { return a.first < b.first; });
    ASSERT_EQ(got, expected) << "span " << span;
    expected.clear();
  }
}

TEST(MinHeapTest, PopsInOrder) {
  Rng rng(3);
  std::vector<std::pair<uint64_t, uint64_t>> heap;
  std::vector<std::pair<uint64_t, uint64_t>> items;
  const auto before = [](const auto& a, const auto& b) { return a < b; };
  for (uint64_t seq = 0; seq < 500; ++seq) {
    items.emplace_back(rng.Uniform(50), seq);
    MinHeapPush(heap, items.back(), before);
  }
  // Replacing the top keeps the order too.
  items.emplace_back(25, 1000);
  std::sort(items.begin(), items.end());
  items.erase(items.begin());
  MinHeapReplaceTop(heap, std::pair<uint64_t, uint64_t>{25, 1000}, before);
  std::vector<std::pair<uint64_t, uint64_t>> popped;
  while (!heap.empty()) {
    popped.push_back(heap.front());
    MinHeapPop(heap, before);
  }
  std::sort(items.begin(), items.end());
  EXPECT_EQ(popped, items);
}

}  // namespace
}  // namespace cluster_sim
