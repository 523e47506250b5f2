// Tests of the hot-key experiment (hotkey.h): Redis Cluster hash slots against Redis's own
// values (checked once against `redis-cli CLUSTER KEYSLOT` of redis-server 7), the slot
// ranges, the Zipf sampler, the exact numbers of the book's Figure 4-4, the sweep against
// the arithmetic (where per-op replication stops paying and how coalescing moves that
// point, closed and open loop), determinism, validation and the SVG chart.
#include "cluster_sim/hotkey.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"
#include "cluster_sim/time.h"

namespace cluster_sim {
namespace {

using std::chrono::milliseconds;

constexpr std::array<ReplicationMode, 2> kBothModes = {ReplicationMode::kPerOp,
                                                       ReplicationMode::kCoalesced};

HotKeyReport MustRun(const HotKeyConfig& c) {
  Result<HotKeyReport> r = RunHotKey(c);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : HotKeyReport{};
}

// ---------------------------------------------------------------- hash slots

TEST(HashSlotTest, Crc16IsXmodem) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);  // the XMODEM check value (Redis crc16.c)
  EXPECT_EQ(Crc16(""), 0);
}

TEST(HashSlotTest, PublishedKeySlots) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("somekey"), 11058);       // CLUSTER KEYSLOT documentation
  EXPECT_EQ(KeySlot("foo{hash_tag}"), 2515);  // idem
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);
  EXPECT_EQ(KeySlot(""), 0);
  EXPECT_EQ(KeySlot("key:0"), 2592);
  EXPECT_EQ(KeySlot("key:1"), 6657);
}

TEST(HashSlotTest, HashTagsFollowTheClusterSpec) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), 3443);
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));  // the first tag only
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), 5061);
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));  // the first '{' to the first '}'
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(KeySlot("foo{}{bar}"), Crc16("foo{}{bar}") & 16383);  // empty tag: whole key
  EXPECT_EQ(KeySlot("foo{}{bar}"), 8363);
  EXPECT_EQ(KeySlot("{}"), 15257);
  EXPECT_EQ(KeySlot("foo{bar"), Crc16("foo{bar") & 16383);  // no closing '}': whole key
}

TEST(HashSlotTest, SlotRangesAreContiguousAsRedisCliAssignsThem) {
  // redis-cli --cluster create with 3 masters: 0-5460, 5461-10922, 10923-16383.
  EXPECT_EQ(FirstSlot(0, 3), 0);
  EXPECT_EQ(FirstSlot(1, 3), 5461);
  EXPECT_EQ(FirstSlot(2, 3), 10923);
  EXPECT_EQ(FirstSlot(3, 3), 16384);
  EXPECT_EQ(ShardOfSlot(5460, 3), 0);
  EXPECT_EQ(ShardOfSlot(5461, 3), 1);
  EXPECT_EQ(ShardOfSlot(10922, 3), 1);
  EXPECT_EQ(ShardOfSlot(10923, 3), 2);
  for (int shards : {1, 2, 3, 5, 7, 8, 100, 16383, 16384}) {
    SCOPED_TRACE(testing::Message() << "shards=" << shards);
    std::vector<int> owned(static_cast<size_t>(shards), 0);
    for (int slot = 0; slot < kHashSlots; ++slot) {
      const int j = ShardOfSlot(slot, shards);
      ASSERT_GE(slot, FirstSlot(j, shards));
      ASSERT_LT(slot, FirstSlot(j + 1, shards));
      ++owned[static_cast<size_t>(j)];
    }
    for (int n : owned) {  // even split: sizes differ by at most one
      EXPECT_GE(n, kHashSlots / shards);
      EXPECT_LE(n, kHashSlots / shards + 1);
    }
  }
}

// ---------------------------------------------------------------- Zipf

TEST(ZipfSamplerTest, ProbabilitiesFollowThePowerLaw) {
  ZipfSampler z(100, 1.2);
  double sum = 0;
  for (uint64_t i = 0; i < z.size(); ++i) sum += z.Probability(i);
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(z.Probability(0) / z.Probability(1), std::pow(2.0, 1.2), 1e-9);
  EXPECT_NEAR(z.Probability(9) / z.Probability(99), std::pow(10.0, 1.2), 1e-9);
  ZipfSampler uniform(4, 0);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(uniform.Probability(i), 0.25);
  ZipfSampler one(1, 3);
  Rng rng(1);
  EXPECT_EQ(one.Sample(rng), 0u);
}

TEST(ZipfSamplerTest, SampledFrequenciesMatch) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    ZipfSampler z(50, 1.0);
    Rng rng(seed);
    constexpr int kDraws = 400'000;
    std::vector<int> count(50, 0);
    for (int i = 0; i < kDraws; ++i) {
      const uint64_t k = z.Sample(rng);
      ASSERT_LT(k, 50u);
      ++count[k];
    }
    for (uint64_t k = 0; k < 50; ++k) {
      const double p = z.Probability(k);
      const double sigma = std::sqrt(kDraws * p * (1 - p));
      EXPECT_NEAR(count[k], kDraws * p, 5 * sigma) << "rank " << k;
    }
  }
}

TEST(ZipfSamplerTest, SameSeedSameDraws) {
  ZipfSampler z(1000, 0.9);
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(z.Sample(a), z.Sample(b));
}

// ---------------------------------------------------------------- latency percentiles

TEST(HotKeyLatencyTest, NearestRankPercentiles) {
  std::vector<SimTime> s;
  for (int i = 100; i >= 1; --i) s.push_back(SimTime(i));
  LatencySummary l = SummarizeLatency(s);
  EXPECT_EQ(l.count, 100u);
  EXPECT_EQ(l.p50, SimTime(50));
  EXPECT_EQ(l.p99, SimTime(99));
  EXPECT_EQ(l.max, SimTime(100));
  std::vector<SimTime> few = {SimTime(3), SimTime(1), SimTime(2)};
  l = SummarizeLatency(few);
  EXPECT_EQ(l.p50, SimTime(2));  // ceil(1.5) = 2nd
  EXPECT_EQ(l.p99, SimTime(3));
  std::vector<SimTime> none;
  EXPECT_EQ(SummarizeLatency(none).count, 0u);
}

// ---------------------------------------------------------------- Figure 4-4

HotKeyConfig Figure44(int clusters) {
  HotKeyConfig c;
  c.writers = 8;
  c.clusters = clusters;
  c.shards = 1;
  c.service_time = milliseconds(1);
  c.keys = 1;
  c.arrival = Arrival::kBurst;
  c.ops_per_writer = 1;
  return c;
}

TEST(Figure44Test, OneClusterFinishesAt8ms) {
  HotKeyReport r = MustRun(Figure44(1));
  EXPECT_EQ(r.writes, 8u);
  EXPECT_EQ(r.last_write, milliseconds(8));
  EXPECT_EQ(r.latency.p50, milliseconds(4));
  EXPECT_EQ(r.latency.max, milliseconds(8));
  EXPECT_EQ(r.converged_at, milliseconds(8));
  EXPECT_EQ(r.convergence_lag, SimTime(0));
  EXPECT_EQ(r.HotShard(0).local_writes, 8u);
  EXPECT_EQ(r.HotShard(0).replicated_applies, 0u);
  EXPECT_DOUBLE_EQ(r.throughput, 1000.0);
  EXPECT_EQ(r.hot_slot, 12182);
}

TEST(Figure44Test, TwoClustersFinishAt4msThenApplyEachOthersWrites) {
  HotKeyReport r = MustRun(Figure44(2));
  EXPECT_EQ(r.last_write, milliseconds(4));
  EXPECT_EQ(r.latency.p50, milliseconds(2));
  EXPECT_EQ(r.latency.p99, milliseconds(4));
  EXPECT_EQ(r.latency.max, milliseconds(4));
  EXPECT_DOUBLE_EQ(r.throughput, 2000.0);
  for (int c = 0; c < 2; ++c) {
    const ShardStats& s = r.HotShard(c);
    EXPECT_EQ(r.clusters[static_cast<size_t>(c)].writers, 4);
    EXPECT_EQ(r.clusters[static_cast<size_t>(c)].last_write, milliseconds(4));
    EXPECT_EQ(s.local_writes, 4u);
    EXPECT_EQ(s.local_busy, milliseconds(4));
    // Per-op: the other cluster's 4 writes cost this shard 4 more ms.
    EXPECT_EQ(s.replicated_applies, 4u);
    EXPECT_EQ(s.replicated_busy, milliseconds(4));
    EXPECT_EQ(s.busy_until, milliseconds(8));
    EXPECT_DOUBLE_EQ(s.local_utilisation, 0.5);
    EXPECT_DOUBLE_EQ(s.replicated_utilisation, 0.5);
  }
  EXPECT_EQ(r.converged_at, milliseconds(8));
  EXPECT_EQ(r.convergence_lag, milliseconds(4));
}

TEST(Figure44Test, CompletionIsCeilWritersOverClustersTimesServiceTime) {
  for (int k = 1; k <= 10; ++k) {
    SCOPED_TRACE(testing::Message() << "clusters=" << k);
    HotKeyReport r = MustRun(Figure44(k));
    EXPECT_EQ(r.clusters.size(), static_cast<size_t>(k));
    EXPECT_EQ(r.last_write, milliseconds((8 + k - 1) / k));
    // Replicated work afterwards: every shard applies the writes it did not take.
    for (int c = 0; c < k; ++c) {
      EXPECT_EQ(r.HotShard(c).replicated_effects, 8u - r.HotShard(c).local_writes);
    }
    // s_r = s: 8 writes of work per shard, no idle time; beyond 8 clusters a cluster
    // without writers applies all 8 from 1ms on.
    EXPECT_EQ(r.converged_at, milliseconds(k <= 8 ? 8 : 9));
  }
}

TEST(Figure44Test, LatencyDelaysOnlyTheReplicatedWork) {
  HotKeyConfig c = Figure44(2);
  c.link_latency = milliseconds(40);
  HotKeyReport r = MustRun(c);
  EXPECT_EQ(r.last_write, milliseconds(4));
  // Effects leave at 1..4ms, arrive at 41..44ms, each takes 1ms: the last is done at 45ms.
  EXPECT_EQ(r.converged_at, milliseconds(45));
  EXPECT_EQ(r.HotShard(0).replicated_busy, milliseconds(4));
}

TEST(Figure44Test, CoalescedSendsOneDeltaPerPeer) {
  HotKeyConfig c = Figure44(2);
  c.mode = ReplicationMode::kCoalesced;
  c.coalesce_interval = milliseconds(10);
  HotKeyReport r = MustRun(c);
  EXPECT_EQ(r.last_write, milliseconds(4));
  for (int cl = 0; cl < 2; ++cl) {
    EXPECT_EQ(r.HotShard(cl).replicated_applies, 1u);
    EXPECT_EQ(r.HotShard(cl).replicated_effects, 4u);
    EXPECT_EQ(r.HotShard(cl).replicated_busy, milliseconds(1));
  }
  // Cluster 0 ticks at 10ms (phase 0), cluster 1 at 5ms (phase T/2): 1's delta is applied
  // at 5..6ms in cluster 0, 0's at 10..11ms in cluster 1.
  EXPECT_EQ(r.clusters[0].applied_all, milliseconds(6));
  EXPECT_EQ(r.clusters[1].applied_all, milliseconds(11));
  EXPECT_EQ(r.converged_at, milliseconds(11));
}

// ---------------------------------------------------------------- the arithmetic

TEST(HotKeyArithmeticTest, CapacityAndLoadByHand) {
  HotKeyConfig c;
  c.service_time = milliseconds(1);
  c.coalesce_interval = milliseconds(9);
  // Per-op with s_r = s: k/(s + (k-1)s) = 1/s whatever k.
  for (int k = 1; k <= 8; ++k) {
    EXPECT_NEAR(CapacityWritesPerSecond(c, k, ReplicationMode::kPerOp), 1000, 1e-9);
  }
  EXPECT_EQ(BestClusterCount(c, 8, ReplicationMode::kPerOp), 1);
  // Coalesced: k(T - (k-1)s_r)/(sT) = k(10 - k)/9 per ms: 1, 1.78, 2.33, 2.67, 2.78, 2.67...
  EXPECT_NEAR(CapacityWritesPerSecond(c, 5, ReplicationMode::kCoalesced), 25000.0 / 9, 1e-9);
  EXPECT_NEAR(CapacityWritesPerSecond(c, 4, ReplicationMode::kCoalesced), 24000.0 / 9, 1e-9);
  EXPECT_EQ(BestClusterCount(c, 8, ReplicationMode::kCoalesced), 5);
  EXPECT_EQ(BestClusterCount(c, 3, ReplicationMode::kCoalesced), 3);
  // Cheaper replicated applies: per-op keeps paying, towards 1/s_r.
  c.replicated_service_time = SimTime(250);
  EXPECT_NEAR(CapacityWritesPerSecond(c, 4, ReplicationMode::kPerOp), 4e6 / 1750, 1e-9);
  EXPECT_EQ(BestClusterCount(c, 8, ReplicationMode::kPerOp), 8);

  // The formula: at X = r*W writes/s each shard does X/k local and X(k-1)/k
  // replicated work. X = 1500/s, s = s_r = 1ms, k = 4: 0.375 + 1.125 = 1.5, as for k = 1.
  c.replicated_service_time.reset();
  c.coalesce_interval = milliseconds(10);
  ShardLoad l = OfferedShardLoad(c, 4, ReplicationMode::kPerOp, 1500);
  EXPECT_NEAR(l.local, 0.375, 1e-12);
  EXPECT_NEAR(l.replicated, 1.125, 1e-12);
  EXPECT_NEAR(OfferedShardLoad(c, 1, ReplicationMode::kPerOp, 1500).total(), 1.5, 1e-12);
  // Coalesced: 3 peers x one 1ms delta per 10ms = 0.3, whatever X.
  l = OfferedShardLoad(c, 4, ReplicationMode::kCoalesced, 1500);
  EXPECT_NEAR(l.local, 0.375, 1e-12);
  EXPECT_NEAR(l.replicated, 0.3, 1e-12);
}

// ---------------------------------------------------------------- the sweep

// Closed loop, saturated shards: measured throughput is the arithmetic capacity.
HotKeyConfig ClosedLoop() {
  HotKeyConfig c;
  c.writers = 60;  // divisible by 1..6: every cluster has as many writers
  c.service_time = milliseconds(1);
  c.arrival = Arrival::kClosedLoop;
  c.ops_per_writer = 300;
  c.coalesce_interval = milliseconds(9);
  return c;
}

TEST(HotKeySweepTest, PerOpStopsPayingAtOnceWhenReplicatedWorkCostsAsMuch) {
  Result<HotKeySweep> sw = RunHotKeySweep(ClosedLoop(), 1, 6, kBothModes);
  ASSERT_TRUE(sw.ok()) << sw.status().message();
  ASSERT_EQ(sw->points.size(), 12u);
  for (const SweepPoint& p : sw->points) {
    SCOPED_TRACE(testing::Message() << ToString(p.mode) << " k=" << p.clusters);
    EXPECT_EQ(p.report.writes, 60u * 300u);
    EXPECT_NEAR(p.report.throughput, p.capacity, 0.03 * p.capacity);
    const ShardStats& hot = p.report.HotShard(0);
    const double busy = hot.local_utilisation + hot.replicated_utilisation;
    EXPECT_GT(busy, 0.99);  // the hot shard never idles
    if (p.mode == ReplicationMode::kPerOp) {
      // Each shard does 1/k of the writes and applies the other (k-1)/k.
      EXPECT_NEAR(hot.local_utilisation, 1.0 / p.clusters, 0.01);
      EXPECT_EQ(hot.replicated_effects, 60u * 300u - hot.local_writes);
      EXPECT_NEAR(p.report.throughput, 1000, 30);
    }
  }
  // Coalesced: the measured best is the arithmetic's best, k = 5.
  const SweepPoint* best = nullptr;
  for (const SweepPoint& p : sw->points) {
    if (p.mode == ReplicationMode::kCoalesced &&
        (best == nullptr || p.report.throughput > best->report.throughput)) {
      best = &p;
    }
  }
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->clusters, 5);
  EXPECT_EQ(BestClusterCount(sw->base, 6, ReplicationMode::kCoalesced), 5);
  EXPECT_EQ(BestClusterCount(sw->base, 6, ReplicationMode::kPerOp), 1);
}

TEST(HotKeySweepTest, CheaperReplicatedAppliesMakePerOpPay) {
  HotKeyConfig c = ClosedLoop();
  c.replicated_service_time = SimTime(250);
  const std::array<ReplicationMode, 1> per_op = {ReplicationMode::kPerOp};
  Result<HotKeySweep> sw = RunHotKeySweep(c, 1, 6, per_op);
  ASSERT_TRUE(sw.ok()) << sw.status().message();
  double previous = 0;
  for (const SweepPoint& p : sw->points) {
    SCOPED_TRACE(testing::Message() << "k=" << p.clusters);
    EXPECT_NEAR(p.report.throughput, 1e6 * p.clusters / (1000 + (p.clusters - 1) * 250.0),
                0.02 * p.report.throughput);
    EXPECT_GT(p.report.throughput, previous);
    previous = p.report.throughput;
  }
}

// Open loop: W = 2520 writers (divisible by 1..10) each writing every 1.68s for 4s, so
// X = rW = 1500 writes/s on one key, s = 1ms: one shard alone would be 150% busy. A shard
// keeps up iff its offered load rW/k s + (replicated work) < 1; otherwise its backlog grows
// and the run ends at about load x duration.
TEST(HotKeySweepTest, OpenLoopSaturationMatchesTheArithmetic) {
  HotKeyConfig c;
  c.writers = 2520;
  c.service_time = milliseconds(1);
  c.arrival = Arrival::kOpenLoop;
  c.open_loop_interval = SimTime(1'680'000);
  c.duration = std::chrono::seconds(4);
  c.coalesce_interval = milliseconds(10);
  const double x = 1500;
  const double d = 4e6;  // us
  for (SimTime replicated : {SimTime(1000), SimTime(400)}) {
    c.replicated_service_time = replicated;
    Result<HotKeySweep> sw = RunHotKeySweep(c, 1, 10, kBothModes);
    ASSERT_TRUE(sw.ok()) << sw.status().message();
    std::vector<int> sustained[2];
    for (const SweepPoint& p : sw->points) {
      SCOPED_TRACE(testing::Message() << "s_r=" << replicated.count() << "us " << ToString(p.mode)
                                      << " k=" << p.clusters);
      EXPECT_EQ(p.report.writes, 6000u);
      const ShardLoad load = OfferedShardLoad(c, p.clusters, p.mode, x);
      const ShardStats& hot = p.report.HotShard(0);
      // Local work: X/k writes per second, s each.
      EXPECT_NEAR(static_cast<double>(hot.local_writes), 6000.0 / p.clusters, 1.0);
      EXPECT_EQ(hot.local_busy.count(), static_cast<int64_t>(hot.local_writes) * 1000);
      EXPECT_NEAR(hot.local_busy.count() / d, load.local, 1e-3);
      const double last = static_cast<double>(p.report.last_write.count());
      if (p.mode == ReplicationMode::kPerOp) {
        // Every write made elsewhere, s_r each: X(k-1)/k s_r per second.
        EXPECT_EQ(hot.replicated_applies, 6000u - hot.local_writes);
        EXPECT_NEAR(hot.replicated_busy.count() / d, load.replicated, 1e-3);
      } else {
        // At most one delta per peer per interval while writes complete (fewer when
        // queueing bunches completions into fewer intervals).
        const double ticks = std::ceil(last / 10'000) + 1;
        EXPECT_LE(hot.replicated_applies, static_cast<uint64_t>((p.clusters - 1) * ticks));
      }
      const double end = static_cast<double>(p.report.converged_at.count());
      if (load.total() > 1.02) {
        // Overloaded: the work that arrived takes load x duration. Coalesced drains slower
        // still: the deltas keep coming while the local backlog drains.
        if (p.mode == ReplicationMode::kPerOp) {
          EXPECT_NEAR(end / d, load.total(), 0.01);
        } else {
          EXPECT_GE(end / d, load.total() - 0.01);
        }
      } else if (load.total() < 0.98) {
        EXPECT_LT(end, d + 50'000);  // keeps up: done right after the last arrival
        sustained[p.mode == ReplicationMode::kPerOp ? 0 : 1].push_back(p.clusters);
      }
    }
    if (replicated == SimTime(1000)) {
      // Per-op never keeps up: every k leaves each shard 150% busy.
      EXPECT_EQ(sustained[0], std::vector<int>{});
      // Coalesced: 1.5/k + 0.1(k-1) < 1 for k = 2..9; 1.05 at k = 10.
      EXPECT_EQ(sustained[1], (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9}));
    } else {
      // s_r = 0.4ms: per-op needs 3 clusters (1.5(1 + 0.4(k-1))/k: 1.5, 1.05, 0.9, ...),
      // coalesced 2 (1.5/k + 0.04(k-1): 0.79 at k = 2, 0.51 at k = 10).
      EXPECT_EQ(sustained[0], (std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10}));
      EXPECT_EQ(sustained[1], (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9, 10}));
    }
  }
}

// ---------------------------------------------------------------- determinism, keys

HotKeyConfig Randomized(uint64_t seed) {
  HotKeyConfig c;
  c.writers = 24;
  c.clusters = 3;
  c.shards = 4;
  c.service_time = SimTime(800);
  c.service_dist = ServiceDist::kExponential;
  c.replicated_service_time = SimTime(300);
  c.link_latency = milliseconds(30);
  c.keys = 500;
  c.zipf_s = 1.1;
  c.arrival = Arrival::kClosedLoop;
  c.ops_per_writer = 400;
  c.mode = ReplicationMode::kCoalesced;
  c.coalesce_interval = milliseconds(5);
  c.seed = seed;
  return c;
}

TEST(HotKeyDeterminismTest, SameSeedSameReport) {
  for (uint64_t seed : {1u, 7u, 12345u}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    HotKeyReport a = MustRun(Randomized(seed));
    HotKeyReport b = MustRun(Randomized(seed));
    EXPECT_TRUE(a == b);
    EXPECT_EQ(a.last_write, b.last_write);
    EXPECT_EQ(a.events, b.events);
    HotKeyReport other = MustRun(Randomized(seed + 1));
    EXPECT_NE(a.last_write, other.last_write);
  }
}

TEST(HotKeyZipfKeysTest, ZipfKeysSpreadOverShardsAndEveryClusterConverges) {
  HotKeyConfig c = Randomized(3);
  c.mode = ReplicationMode::kPerOp;
  HotKeyReport r = MustRun(c);
  EXPECT_EQ(r.writes, 24u * 400u);
  uint64_t local = 0;
  int shards_with_writes = 0;
  for (const ShardStats& s : r.shards) {
    local += s.local_writes;
    shards_with_writes += s.local_writes > 0 ? 1 : 0;
    // Per-op: each shard applies every write of its keys made elsewhere.
    EXPECT_LE(s.busy_until, r.converged_at);
  }
  EXPECT_EQ(local, r.writes);
  EXPECT_EQ(shards_with_writes, 12);  // 500 keys reach all 4 shards of all 3 clusters
  // The hottest key's shard does the most local work in its cluster.
  for (int cl = 0; cl < 3; ++cl) {
    for (int j = 0; j < 4; ++j) {
      EXPECT_LE(r.shards[static_cast<size_t>(cl * 4 + j)].local_writes,
                r.HotShard(cl).local_writes);
    }
  }
  for (const ClusterStats& cs : r.clusters) {
    EXPECT_GE(cs.convergence_lag, SimTime(0));
    EXPECT_LE(cs.applied_all, r.converged_at);
  }
  // Exponential service: the mean is the configured one (within 3%).
  int64_t busy = 0;
  for (const ShardStats& s : r.shards) busy += s.local_busy.count();
  EXPECT_NEAR(static_cast<double>(busy) / static_cast<double>(r.writes), 800, 24);
}

TEST(HotKeyRunTest, DurationStopsIssuing) {
  HotKeyConfig c;
  c.writers = 4;
  c.clusters = 2;
  c.arrival = Arrival::kClosedLoop;
  c.duration = milliseconds(100);
  HotKeyReport r = MustRun(c);
  // 1ms writes, 2 writers per shard, shard shared with the peer's effects: ~100 writes.
  EXPECT_GE(r.writes, 95u);
  EXPECT_LE(r.writes, 105u);
  EXPECT_LT(r.last_write, milliseconds(110));
}

// ---------------------------------------------------------------- validation, chart

TEST(HotKeyValidationTest, BadConfigsAreInvalidArguments) {
  auto fails = [](HotKeyConfig c, const std::string& text) {
    Result<HotKeyReport> r = RunHotKey(c);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
  };
  HotKeyConfig c;
  c.writers = 0;
  fails(c, "writers must be >= 1");
  c = HotKeyConfig{};
  c.service_time = SimTime(0);
  fails(c, "service time must be > 0");
  c = HotKeyConfig{};
  c.shards = 16385;
  fails(c, "shards must be in 1..16384");
  c = HotKeyConfig{};
  c.arrival = Arrival::kBurst;
  c.duration = milliseconds(10);
  fails(c, "burst");
  c = HotKeyConfig{};
  c.zipf_s = -1;
  fails(c, "zipf");
  c = HotKeyConfig{};
  c.ops_per_writer = 1'000'000'000;
  fails(c, "limit");
  EXPECT_FALSE(RunHotKeySweep(HotKeyConfig{}, 3, 2, kBothModes).ok());
}

TEST(HotKeyChartTest, SvgIsAStandaloneDocumentWithOneSeriesPerMode) {
  HotKeyConfig c = ClosedLoop();
  c.ops_per_writer = 20;
  Result<HotKeySweep> sw = RunHotKeySweep(c, 1, 4, kBothModes);
  ASSERT_TRUE(sw.ok());
  const std::string svg = RenderSweepSvg(*sw, ChartMetric::kThroughput);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = svg.find(needle); at != std::string::npos; at = svg.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("<polyline"), 4u);                    // simulated + arithmetic, per mode
  EXPECT_EQ(count("<circle") + count("<rect x="), 8u);  // markers
  EXPECT_EQ(count("<text"), count("</text>"));
  EXPECT_NE(svg.find("per-op (simulated)"), std::string::npos);
  EXPECT_NE(svg.find("coalesced (arithmetic)"), std::string::npos);
  EXPECT_EQ(svg, RenderSweepSvg(*sw, ChartMetric::kThroughput));  // deterministic
  const std::string ms = RenderSweepSvg(*sw, ChartMetric::kLastWrite);
  EXPECT_NE(ms.find("coalesced: all converged"), std::string::npos);
  EXPECT_EQ(ms.find("(arithmetic)"), std::string::npos);
}

}  // namespace
}  // namespace cluster_sim
