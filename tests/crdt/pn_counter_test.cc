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
  // One slot lives inline; the second took a heap block of two, which stays two.
  EXPECT_EQ(a.HeapBytes(), 2 * sizeof(PnCounter::Slot));
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

// The bound is per replica's view: merged sums of several sites may exceed it, after which
// a local step farther out is refused and a step back towards the range is accepted.
TEST(PnCounterTest, MergedSumsMayExceedTheBound) {
  PnCounter a(kA), b(kB);
  auto da = a.Increment(kBound);
  auto db = b.Increment(kBound);
  ASSERT_TRUE(da && db);
  a.Merge(*db);
  EXPECT_EQ(a.Value(), 2 * kBound);
  EXPECT_FALSE(a.Increment(1));
  EXPECT_TRUE(a.Increment(-1));            // outside the bound, but not farther
  EXPECT_FALSE(a.Increment(-4 * kBound));  // past the range on the other side
  EXPECT_TRUE(a.Increment(-kBound + 1));
  EXPECT_EQ(a.Value(), kBound);
}

// Sums are exact in 128 bits: three sites that each keep their own view inside the bound
// merge to 21 * 2^59, past 64 bits (it once wrapped to -6341068275337658368).
TEST(PnCounterTest, MergedSumsAreExactPast64Bits) {
  PnCounter r[3] = {PnCounter(kA), PnCounter(kB), PnCounter(MakeReplicaId(3, 1))};
  auto round = [&](int64_t by) {
    PnCounter d[3];
    for (int i = 0; i < 3; ++i) {
      auto delta = r[i].Increment(by);
      ASSERT_TRUE(delta) << by;
      d[i] = *delta;
    }
    for (auto& x : r) {
      for (auto& y : d) x.Merge(y);
    }
  };
  round(kBound);       // 3 * 2^59
  round(-4 * kBound);  // -9 * 2^59
  round(10 * kBound);  // 21 * 2^59
  EXPECT_EQ(r[0].Value(), Int128(21) * kBound);
  EXPECT_EQ(FormatInt128(r[0].Value()), "12105675798371893248");
  EXPECT_EQ(r[1], r[0]);
  EXPECT_FALSE(r[0].Increment(-1));  // back in, but no 64-bit result
  EXPECT_TRUE(r[0].Increment(std::numeric_limits<int64_t>::min() + 1));
  EXPECT_EQ(r[0].Value(), Int128(5) * kBound + 1);
  EXPECT_EQ(FormatInt128(-Int128(21) * kBound * kBound), "-6978446977870808332744987066471809024");
  EXPECT_EQ(FormatInt128(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
}

// The bound rule alone (Admits): inside, not farther out and 64-bit, or refused.
TEST(PnCounterTest, AdmitsRule) {
  EXPECT_TRUE(PnCounter::Admits(0, kBound));
  EXPECT_TRUE(PnCounter::Admits(0, -kBound));
  EXPECT_FALSE(PnCounter::Admits(0, kBound + 1));
  EXPECT_FALSE(PnCounter::Admits(0, -kBound - 1));
  EXPECT_TRUE(PnCounter::Admits(3 * Int128(kBound), 3 * Int128(kBound)));
  EXPECT_TRUE(PnCounter::Admits(3 * Int128(kBound), 2 * Int128(kBound)));
  EXPECT_FALSE(PnCounter::Admits(3 * Int128(kBound), 3 * Int128(kBound) + 1));
  EXPECT_FALSE(PnCounter::Admits(3 * Int128(kBound), -kBound - 1));
  EXPECT_TRUE(PnCounter::Admits(-3 * Int128(kBound), -kBound - 1));
  EXPECT_FALSE(PnCounter::Admits(Int128(1) << 64, (Int128(1) << 64) - 1));
  EXPECT_TRUE(
      PnCounter::Admits(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()));
}

// A zero step is live: it makes the counter present at 0, survives a concurrent reset as
// any increment does, and does not move the value.
TEST(PnCounterTest, ZeroStepIsLive) {
  PnCounter a(kA), b(kB);
  auto d = a.Increment(0);
  ASSERT_TRUE(d);
  EXPECT_TRUE(a.Live());
  EXPECT_EQ(a.Value(), 0);
  auto di = b.Increment(7);
  ASSERT_TRUE(di);
  a.Merge(*di);
  PnCounter reset = b.Reset();  // b has not seen a's zero step
  a.Merge(reset);
  b.Merge(*d);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.Live());
  EXPECT_EQ(a.Value(), 0);
}

// One replica's life totals pass 2^64 only over a reset: a live slot refuses (never wraps);
// once a reset observed all of it, the next step starts a new life from 0, which wins over
// the old one in every join (and a late reset of the old life cancels nothing new).
TEST(PnCounterTest, NewLifeAfterReset) {
  PnCounter a(kA), b(kB);
  for (int i = 0; i < 31; ++i) {
    ASSERT_TRUE(a.Increment(kBound));
    ASSERT_TRUE(a.Increment(-kBound));
  }
  ASSERT_TRUE(a.Increment(kBound - 1));
  EXPECT_EQ(a.slots()[0].p, std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(a.Increment(1));  // live: refused
  EXPECT_FALSE(a.Increment(0));
  b.Merge(a);
  PnCounter late_reset = b.Reset();  // observed everything of a's first life
  a.Merge(late_reset);
  EXPECT_FALSE(a.Live());
  auto d = a.Increment(5);
  ASSERT_TRUE(d);
  EXPECT_EQ(a.slots()[0].epoch, 1u);
  EXPECT_EQ(a.slots()[0].p, 5u);
  EXPECT_EQ(a.Value(), 5);
  a.Merge(late_reset);  // duplicated: dominated by the new life
  EXPECT_EQ(a.Value(), 5);
  b.Merge(*d);
  EXPECT_EQ(a, b);
  std::string error;
  auto back = PnCounter::Decode(a.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  // The epoch costs two bytes, and only on a slot past its first life.
  PnCounter fresh(kA);
  fresh.Increment(5);
  EXPECT_EQ(a.Encode().size(), fresh.Encode().size() + 2);
}

TEST(PnCounterTest, DecodeRejectsBadEpochs) {
  std::string error;
  // one entry: replica 1, p 1, n 0, 0, 0; then an epoch entry with epoch 0 / a second one.
  EXPECT_FALSE(PnCounter::Decode(std::string("\x02\x01\x01\x00\x00\x00\x00\x00", 8), &error));
  EXPECT_EQ(error.rfind("bad counter epoch", 0), 0u) << error;
  EXPECT_TRUE(PnCounter::Decode(std::string("\x02\x01\x01\x00\x00\x00\x00\x03", 8), &error));
  EXPECT_FALSE(
      PnCounter::Decode(std::string("\x03\x01\x01\x00\x00\x00\x00\x03\x00\x04", 10), &error));
}

// Replicas are deltas from the previous slot's: one that wraps the sum past 2^64 back to a
// smaller id (unsorted slots, a state whose own encoding would not decode) is malformed.
TEST(PnCounterTest, DecodeRejectsAReplicaDeltaThatWraps) {
  for (uint64_t second : {uint64_t{0} - 2, uint64_t{UINT32_MAX} - 4, uint64_t{UINT32_MAX} - 5}) {
    SCOPED_TRACE(second);
    Encoder enc;
    enc.PutVarint(2);                               // two slots
    for (uint64_t delta : {uint64_t{5}, second}) {  // replica 5, then 5 + second
      enc.PutVarint(delta);
      enc.PutVarint(1);  // p
      enc.PutVarint(0);  // n
      enc.PutVarint(1);  // p - bp
      enc.PutVarint(0);  // n - bn
    }
    std::string error;
    auto c = PnCounter::Decode(enc.str(), &error);
    const bool fits = second == uint64_t{UINT32_MAX} - 5;
    EXPECT_EQ(c.has_value(), fits) << error;
    if (c) {
      EXPECT_EQ(c->slots().back().replica, UINT32_MAX);
      EXPECT_EQ(c->Value(), 2);
    } else {
      EXPECT_EQ(error.rfind("replica id overflow", 0), 0u) << error;
    }
  }
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
