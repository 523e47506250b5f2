// PnCounter: sums across replicas, observed reset, the +/-2^59 bound.
#include "crdt/pn_counter.h"

#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "test_util.h"

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

// The counter's layout (one slot inline; a block with the replica ids, the value and the
// live count kept beside it) against a model that holds the slots in a sorted map and
// restates the join and step rules from the header: after every operation the slots, the
// exact value, liveness and the block's size agree. Slots arrive in scrambled replica order
// (ids from 0 to UINT32_MAX, up to 14 of them: past the ids kept inline), counts near
// 2^59, 2^63 and 2^64, epochs 0 to 2; copies, moves, encodings and merges in between.
TEST(PnCounterTest, LayoutMatchesASortedSlotModel) {
  using Slot = PnCounter::Slot;
  using Model = std::map<ReplicaId, Slot>;
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  constexpr uint32_t kEpochMax = std::numeric_limits<uint32_t>::max();
  const ReplicaId ids[] = {0,  kB, 7, kA, UINT32_MAX,     3, 1000, MakeReplicaId(9, 3),
                           42, 5,  2, 1,  UINT32_MAX - 1, 77};
  auto value_of = [](const Model& m) {
    Int128 v = 0;
    for (const auto& [r, s] : m) v += Int128(s.p) - Int128(s.bp) - (Int128(s.n) - Int128(s.bn));
    return v;
  };
  auto live_of = [](const Model& m) {
    for (const auto& [r, s] : m) {
      if (s.p != s.bp || s.n != s.bn) return true;
    }
    return false;
  };
  auto join = [](Model* m, const Slot& s) {  // the header's rule, restated
    auto [it, fresh] = m->try_emplace(s.replica, s);
    if (fresh) return;
    Slot& t = it->second;
    if (s.epoch != t.epoch) {
      if (s.epoch > t.epoch) t = s;
      return;
    }
    t = Slot{
        s.replica,           s.epoch, std::max(t.p, s.p), std::max(t.n, s.n), std::max(t.bp, s.bp),
        std::max(t.bn, s.bn)};
  };
  auto agree = [&](const PnCounter& c, const Model& m) -> std::string {
    std::vector<Slot> want;
    for (const auto& [r, s] : m) want.push_back(s);
    const auto got = c.slots();
    if (!std::equal(got.begin(), got.end(), want.begin(), want.end())) return "slots differ";
    if (c.Value() != value_of(m)) return "value " + FormatInt128(c.Value()) + " != model";
    if (c.Live() != live_of(m)) return "liveness differs";
    if (c.empty() != m.empty() || c.EmptyByHead() != m.empty()) return "emptiness differs";
    const size_t cap = m.size() <= 1 ? 0 : std::bit_ceil(m.size());
    if (c.HeapBytes() != cap * sizeof(Slot)) return "block size differs";
    return "";
  };
  for (uint64_t seed : crdt_test::TestSeeds(200, 0x5107)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    auto count = [&]() -> uint64_t {
      const uint64_t near[] = {
          0,         1,        2,   uint64_t(kBound) - 1, uint64_t(kBound), kHalf - 1, kHalf,
          kHalf + 1, kMax - 1, kMax};
      return rng.Index(3) == 0 ? rng.Next() : near[rng.Index(std::size(near))] - rng.Index(2);
    };
    auto random_slot = [&](size_t replicas) {
      Slot s{ids[rng.Index(replicas)], static_cast<uint32_t>(rng.Index(3)), count(), count(), 0, 0};
      s.bp = rng.Index(2) == 0 ? s.p : s.p - rng.Uniform(s.p / 2 + 1);
      s.bn = rng.Index(2) == 0 ? s.n : s.n - rng.Uniform(s.n / 2 + 1);
      return s;
    };
    const size_t replicas = 1 + rng.Index(std::size(ids));
    PnCounter c(ids[0]);
    Model m;
    for (int step = 0; step < 300; ++step) {
      const int op = rng.Index(9);
      if (op <= 2) {  // a joined slot
        const Slot s = random_slot(replicas);
        c.JoinSlot(s);
        join(&m, s);
      } else if (op == 3) {  // a step at some replica, with the bound check on base + value
        const ReplicaId r = ids[rng.Index(replicas)];
        const int64_t steps[] = {0,
                                 1,
                                 -1,
                                 5,
                                 kBound,
                                 -kBound,
                                 std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min()};
        const int64_t by = steps[rng.Index(std::size(steps))];
        const int64_t base = rng.Index(2) == 0 ? 0 : kBound - rng.Index(10);
        // The model's step: the bound on the exact view, then the slot arithmetic.
        const Int128 cur = Int128(base) + value_of(m), next = cur + by;
        bool ok =
            (next >= -kBound && next <= kBound) || (next <= std::numeric_limits<int64_t>::max() &&
                                                    next >= std::numeric_limits<int64_t>::min() &&
                                                    (next > kBound ? next <= cur : next >= cur));
        const uint64_t mag = by >= 0 ? uint64_t(by) : 0 - uint64_t(by);
        const uint64_t up = by > 0 ? mag : by == 0 ? 1 : 0;
        const uint64_t down = by < 0 ? mag : by == 0 ? 1 : 0;
        Slot want{r, 0, up, down, 0, 0};
        if (ok && m.count(r)) {
          const Slot& o = m[r];
          const bool cancelled = o.p == o.bp && o.n == o.bn;
          const bool overflow = o.p > kMax - up || o.n > kMax - down;
          if (cancelled && o.epoch != kEpochMax && (o.p >= kHalf || o.n >= kHalf || overflow)) {
            want = Slot{r, o.epoch + 1, up, down, 0, 0};
          } else if (overflow) {
            ok = false;
          } else {
            want = Slot{r, o.epoch, o.p + up, o.n + down, o.bp, o.bn};
          }
        }
        PnCounter delta(r);
        int64_t result = 0;
        ASSERT_EQ(c.IncrementAs(r, by, base, &delta, &result), ok) << "step " << step;
        if (ok) {
          m[r] = want;
          ASSERT_EQ(result, static_cast<int64_t>(next));
          ASSERT_EQ(agree(delta, Model{{r, want}}), "") << "the step's delta, step " << step;
        }
      } else if (op == 4) {  // a reset, and its delta
        PnCounter delta;
        c.ResetInto(&delta);
        for (auto& [r, s] : m) {
          s.bp = s.p;
          s.bn = s.n;
        }
        ASSERT_EQ(agree(delta, m), "") << "the reset's delta, step " << step;
      } else if (op == 5) {  // copies
        PnCounter copy(c);
        ASSERT_EQ(agree(copy, m), "") << "a copy, step " << step;
        PnCounter other;
        other.JoinSlot(random_slot(replicas));
        other.JoinSlot(random_slot(replicas));
        other = copy;
        ASSERT_EQ(agree(other, m), "") << "a copy assigned, step " << step;
        c = other;
      } else if (op == 6) {  // moves
        PnCounter moved(std::move(c));
        ASSERT_EQ(agree(c, Model{}), "") << "a moved-from counter, step " << step;
        ASSERT_EQ(agree(moved, m), "") << "a move, step " << step;
        c.JoinSlot(random_slot(replicas));  // a moved-from counter is usable
        c = std::move(moved);
      } else if (op == 7) {  // the encoding, decoded afresh or into the counter itself
        std::string error;
        const std::string bytes = c.Encode();
        if (rng.Index(2) == 0) {
          auto back = PnCounter::Decode(bytes, &error);
          ASSERT_TRUE(back) << error;
          ASSERT_EQ(agree(*back, m), "") << "decoded, step " << step;
          c = std::move(*back);
        } else {
          Decoder dec(bytes);
          ASSERT_TRUE(c.Decode(&dec)) << dec.error();
          ASSERT_TRUE(dec.done());
          ASSERT_EQ(agree(c, m), "") << "decoded in place, step " << step;
          const PnCounter& same = c;
          c = same;  // self-assignment keeps it
          ASSERT_EQ(agree(c, m), "") << "self-assigned, step " << step;
        }
      } else {  // a merge of another counter
        PnCounter other;
        Model om;
        for (int k = rng.Index(6); k > 0; --k) {
          const Slot s = random_slot(replicas);
          other.JoinSlot(s);
          join(&om, s);
        }
        ASSERT_EQ(agree(other, om), "") << "the other counter, step " << step;
        c.Merge(other);
        for (const auto& [r, s] : om) join(&m, s);
      }
      ASSERT_EQ(agree(c, m), "") << "step " << step << ", op " << op;
    }
  }
}

}  // namespace
}  // namespace crdt
