// FloatCounter (crdt/float_counter.h): the lattice laws of Merge on random states, a round
// trip through the encoding, and convergence against an independent model: replicas
// increment (multiples of 1/4, so every order of addition is exact), reset what they have
// observed and exchange states at random; each replica's value must equal the model's sum
// of the increments it knows and no reset it knows has cancelled.
#include "crdt/float_counter.h"

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/encoding.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

constexpr int kReplicas = 3;

// The model of one replica: for each writer, how many of its increments it knows and how
// many of those a reset it knows cancelled (prefixes, since each writer's increments are
// ordered and every state carries a prefix).
struct ModelReplica {
  std::map<int, std::pair<int, int>> known_cancelled;
};

struct World {
  std::vector<FloatCounter> replicas = std::vector<FloatCounter>(kReplicas);
  std::vector<ModelReplica> model = std::vector<ModelReplica>(kReplicas);
  std::vector<std::vector<int64_t>> increments = std::vector<std::vector<int64_t>>(kReplicas);

  void Increment(int r, int64_t quarters) {
    replicas[r].IncrementAs(MakeReplicaId(static_cast<uint16_t>(r), 1),
                            static_cast<long double>(quarters) / 4, nullptr);
    increments[r].push_back(quarters);
    model[r].known_cancelled[r].first = static_cast<int>(increments[r].size());
  }
  void Reset(int r) {
    replicas[r].ResetInto(nullptr);
    for (auto& [w, kc] : model[r].known_cancelled) kc.second = kc.first;
  }
  void Send(int from, int to) {
    replicas[to].Merge(replicas[from]);
    for (const auto& [w, kc] : model[from].known_cancelled) {
      auto& mine = model[to].known_cancelled[w];
      mine.first = std::max(mine.first, kc.first);
      mine.second = std::max(mine.second, kc.second);
    }
  }
  int64_t ModelQuarters(int r) const {
    int64_t sum = 0;
    for (const auto& [w, kc] : model[r].known_cancelled) {
      for (int i = kc.second; i < kc.first; ++i) sum += increments[w][i];
    }
    return sum;
  }
};

World RandomWorld(uint64_t seed, int steps) {
  Rng rng(seed);
  World w;
  for (int i = 0; i < steps; ++i) {
    int r = rng.Index(kReplicas);
    switch (rng.Uniform(6)) {
      case 0:
        w.Reset(r);
        break;
      case 1:
      case 2:
        w.Send(r, rng.Index(kReplicas));
        break;
      default:
        w.Increment(r, rng.Range(-40, 40) * (rng.OneIn(10) ? 1'000'000'000 : 1));
    }
  }
  return w;
}

TEST(FloatCounterTest, ConvergesToTheModel) {
  for (uint64_t seed : TestSeeds(200, 1)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    World w = RandomWorld(seed, 60);
    for (int r = 0; r < kReplicas; ++r) {
      EXPECT_EQ(w.replicas[r].Value(), static_cast<long double>(w.ModelQuarters(r)) / 4) << r;
    }
    for (int from = 0; from < kReplicas; ++from) {  // everyone hears everyone: one value
      for (int to = 0; to < kReplicas; ++to) w.Send(from, to);
    }
    for (int r = 0; r < kReplicas; ++r) {
      EXPECT_EQ(w.replicas[r], w.replicas[0]);
      EXPECT_EQ(w.replicas[r].Value(), static_cast<long double>(w.ModelQuarters(0)) / 4);
    }
  }
}

TEST(FloatCounterTest, MergeIsALattice) {
  for (uint64_t seed : TestSeeds(100, 7)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    World w = RandomWorld(seed, 40);
    const FloatCounter& a = w.replicas[0];
    const FloatCounter& b = w.replicas[1];
    const FloatCounter& c = w.replicas[2];
    FloatCounter aa = a;
    aa.Merge(a);
    EXPECT_EQ(aa, a);  // idempotent
    FloatCounter ab = a, ba = b;
    ab.Merge(b);
    ba.Merge(a);
    EXPECT_EQ(ab, ba);  // commutative
    FloatCounter ab_c = ab, bc = b, a_bc = a;
    ab_c.Merge(c);
    bc.Merge(c);
    a_bc.Merge(bc);
    EXPECT_EQ(ab_c, a_bc);  // associative
  }
}

TEST(FloatCounterTest, DeltasEqualTheFullState) {
  FloatCounter a, b, delta;
  a.IncrementAs(MakeReplicaId(0, 1), 1.5L, &delta);
  a.IncrementAs(MakeReplicaId(0, 1), 0.1L, &delta);
  a.ResetInto(&delta);
  a.IncrementAs(MakeReplicaId(0, 1), -2.25L, &delta);
  b.Merge(delta);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.Value(), -2.25L);
}

TEST(FloatCounterTest, EncodingRoundTripsExactly) {
  FloatCounter a;
  a.IncrementAs(MakeReplicaId(0, 1), 0.1L, nullptr);
  a.IncrementAs(MakeReplicaId(2, 3), -1e300L, nullptr);
  a.ResetInto(nullptr);
  a.IncrementAs(MakeReplicaId(2, 3), 1.0L / 3, nullptr);
  Encoder enc;
  a.Encode(&enc);
  Decoder dec(enc.str());
  FloatCounter b;
  ASSERT_TRUE(b.Decode(&dec));
  EXPECT_TRUE(dec.done());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Value(), b.Value());
  std::string bytes = enc.str();
  bytes.resize(bytes.size() - 1);
  Decoder cut(bytes);
  FloatCounter c;
  EXPECT_FALSE(c.Decode(&cut));
}

// A reset followed by a new increment starts a new epoch: old large totals leave no
// rounding in the new value.
TEST(FloatCounterTest, ANewEpochForgetsOldTotals) {
  FloatCounter a;
  a.IncrementAs(MakeReplicaId(0, 1), 1e30L, nullptr);
  a.ResetInto(nullptr);
  EXPECT_FALSE(a.Live());
  a.IncrementAs(MakeReplicaId(0, 1), 0.1L, nullptr);
  EXPECT_EQ(a.Value(), 0.1L);
}

}  // namespace
}  // namespace crdt
