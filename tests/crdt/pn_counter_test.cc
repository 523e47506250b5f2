// PnCounter: sums across replicas, observed reset, the +/-2^59 bound.
#include "crdt/pn_counter.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "crdt/dot.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);
constexpr int64_t kBound = PnCounter::kBound;

static_assert(kBound == int64_t{1} << 59);

TEST(PnCounterTest, IncrementsAddUpAcrossReplicas) {
  PnCounter a(kA), b(kB);
  auto d1 = a.Increment(5);
  auto d2 = a.Increment(-2);
  auto d3 = b.Increment(10);
  ASSERT_TRUE(d1 && d2 && d3);
  EXPECT_EQ(a.Value(), 3);
  EXPECT_EQ(b.Value(), 10);
  b.Merge(*d2);  // out of order: d2 carries a's cumulative totals
  EXPECT_EQ(b.Value(), 13);
  b.Merge(*d1);
  EXPECT_EQ(b.Value(), 13);
  a.Merge(*d3);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.slots().size(), 2u);
}

TEST(PnCounterTest, ZeroAfterIncrAndDecrIsLive) {
  PnCounter a(kA);
  EXPECT_FALSE(a.Live());
  a.Increment(1);
  a.Increment(-1);
  EXPECT_EQ(a.Value(), 0);
  EXPECT_TRUE(a.Live());
  a.Reset();
  EXPECT_FALSE(a.Live());
}

TEST(PnCounterTest, ResetCancelsOnlyObservedIncrements) {
  PnCounter a(kA), b(kB);
  a.Merge(*b.Increment(7));
  auto concurrent = b.Increment(4);  // not seen by a
  PnCounter reset = a.Reset();
  EXPECT_EQ(a.Value(), 0);
  a.Merge(*concurrent);
  b.Merge(reset);
  EXPECT_EQ(a.Value(), 4);
  EXPECT_EQ(b.Value(), 4);
  EXPECT_EQ(a, b);
  // A late duplicate of an observed increment stays cancelled.
  a.Merge(*concurrent);
  EXPECT_EQ(a.Value(), 4);
}

TEST(PnCounterTest, SlotsAreBoundedByReplicasNotOperations) {
  PnCounter a(kA), b(kB);
  for (int i = 0; i < 1000; ++i) {
    b.Merge(*a.Increment(i % 7 - 3));
    a.Merge(*b.Increment(1));
    if (i % 100 == 0) b.Merge(a.Reset());
  }
  EXPECT_EQ(a.slots().size(), 2u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.HeapBytes(), 0u);  // two slots live inline
}

TEST(PnCounterTest, BoundIsReachableButNotCrossable) {
  PnCounter c(kA);
  ASSERT_TRUE(c.Increment(kBound));
  EXPECT_EQ(c.Value(), kBound);
  const std::string at_bound = c.Encode();
  EXPECT_FALSE(c.Increment(1));
  EXPECT_FALSE(c.Increment(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(c.Encode(), at_bound);  // refused: nothing changed
  ASSERT_TRUE(c.Increment(-2 * kBound));
  EXPECT_EQ(c.Value(), -kBound);
  EXPECT_FALSE(c.Increment(-1));
  EXPECT_FALSE(c.Increment(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(c.Value(), -kBound);
  ASSERT_TRUE(c.Increment(kBound));
  EXPECT_EQ(c.Value(), 0);

  PnCounter d(kB);
  EXPECT_FALSE(d.Increment(kBound + 1));
  EXPECT_FALSE(d.Increment(-kBound - 1));
  EXPECT_TRUE(d.empty());
}

// The bound is per replica's view: merged sums of several sites may exceed it (and still
// fit int64), after which every local increment that stays outside is refused.
TEST(PnCounterTest, MergedSumsMayExceedTheBound) {
  PnCounter a(kA), b(kB);
  auto da = a.Increment(kBound);
  auto db = b.Increment(kBound);
  ASSERT_TRUE(da && db);
  a.Merge(*db);
  EXPECT_EQ(a.Value(), 2 * kBound);
  EXPECT_FALSE(a.Increment(1));
  EXPECT_FALSE(a.Increment(-1));  // still outside the bound
  EXPECT_TRUE(a.Increment(-kBound));
  EXPECT_EQ(a.Value(), kBound);
}

TEST(PnCounterTest, IncrementAsAddsTheBaseForTheBoundCheck) {
  PnCounter c(kA), delta(kA);
  EXPECT_TRUE(c.IncrementAs(kA, 10, kBound - 10, &delta));
  EXPECT_FALSE(c.IncrementAs(kA, 1, kBound - 10, &delta));
  EXPECT_FALSE(c.IncrementAs(kA, 1, std::numeric_limits<int64_t>::max(), &delta));
  EXPECT_EQ(c.Value(), 10);
  EXPECT_EQ(delta, c);
}

TEST(PnCounterTest, EncodeDecode) {
  PnCounter a(kA), b(kB);
  a.Increment(kBound);
  a.Increment(-3);
  b.Merge(a);
  b.Increment(-kBound);
  b.Merge(a.Reset());
  std::string error;
  auto back = PnCounter::Decode(b.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, b);
  EXPECT_EQ(back->Value(), b.Value());
  EXPECT_FALSE(PnCounter::Decode(b.Encode() + "x", &error));
  EXPECT_EQ(error, "trailing bytes after counter");
}

}  // namespace
}  // namespace crdt
