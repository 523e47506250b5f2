// The anomaly-rate experiment: determinism (per seed, per thread count, per shard), the
// model check 1 - e^(-2rd), what each strategy keeps, and the bounded-counter policies
// under partition, loss, duplication and crash (every region's balance >= 0 at every step).
#include "cluster_sim/anomalies.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/bc_policy.h"
#include "cluster_sim/simulation.h"

namespace cluster_sim {
namespace {

bool SamePoint(const AnomalyPoint& a, const AnomalyPoint& b) {
  return a.index == b.index && a.strategy == b.strategy && a.requests == b.requests &&
         a.refused == b.refused && a.violations == b.violations && a.p50 == b.p50 &&
         a.p99 == b.p99 && a.max == b.max && a.withdrawals == b.withdrawals &&
         a.concurrent == b.concurrent && a.transfers == b.transfers;
}

AnomalyConfig Small() {
  AnomalyConfig c;
  c.latencies = {SimTime(20'000), SimTime(150'000)};
  c.rates = {2};
  c.accounts = 4;
  c.requests = 1500;
  c.policy = BcPolicy::kOnDemand;
  return c;
}

void ExpectSame(const std::vector<AnomalyPoint>& a, const std::vector<AnomalyPoint>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(SamePoint(a[i], b[i])) << "point " << i;
}

TEST(Anomalies, DeterministicPerSeedAndThreads) {
  AnomalyConfig c = Small();
  std::vector<AnomalyPoint> one = RunAnomalies(c, 1);
  ExpectSame(one, RunAnomalies(c, 1));
  ExpectSame(one, RunAnomalies(c, 2));
  c.seed = 2;
  std::vector<AnomalyPoint> other = RunAnomalies(c, 2);
  bool differs = false;
  for (size_t i = 0; i < one.size(); ++i) differs |= !SamePoint(one[i], other[i]);
  EXPECT_TRUE(differs);
}

TEST(Anomalies, ShardsTogetherAreOneRun) {
  AnomalyConfig c = Small();
  std::vector<AnomalyPoint> all = RunAnomalies(c, 2);
  std::vector<AnomalyPoint> merged(all.size());
  for (int s = 0; s < 3; ++s) {
    for (const AnomalyPoint& p : RunAnomalies(c, 1, s, 3)) {
      EXPECT_EQ(p.index % 3, s);
      merged[static_cast<size_t>(p.index)] = p;
    }
  }
  ExpectSame(all, merged);
}

// Two regions, Poisson withdrawals of rate r per region per account, one-way latency d: a
// fraction 1 - e^(-2rd) of withdrawals is concurrent with another. The simulated fraction
// must fall within 4 standard errors (the marks are correlated in pairs, so the Wilson
// interval of the point is widened by 2).
TEST(Anomalies, ConcurrentFractionMatchesModel) {
  AnomalyConfig c;
  c.strategies = {AnomalyStrategy::kActiveActive};
  c.latencies = {SimTime(10'000), SimTime(50'000), SimTime(150'000), SimTime(300'000)};
  c.rates = {1, 3};
  c.accounts = 10;
  c.requests = 8000;
  for (const AnomalyPoint& p : RunAnomalies(c, 2)) {
    SCOPED_TRACE(testing::Message() << "d=" << p.latency.count() << "us r=" << p.rate);
    ASSERT_GT(p.withdrawals, 3000u);
    const double n = static_cast<double>(p.withdrawals);
    const double sim = static_cast<double>(p.concurrent) / n, model = p.model_concurrent();
    const double se = std::sqrt(model * (1 - model) / n);
    EXPECT_NEAR(sim, model, 4 * 2 * se + 1e-3) << "sim " << sim << " model " << model;
  }
}

TEST(Anomalies, WhatEachStrategyKeeps) {
  AnomalyConfig c;
  c.latencies = {SimTime(200'000)};
  c.rates = {2};
  c.accounts = 4;
  c.requests = 3000;
  for (BcPolicy policy : {BcPolicy::kNone, BcPolicy::kProportional, BcPolicy::kOnDemand}) {
    c.policy = policy;
    std::vector<AnomalyPoint> pts = RunAnomalies(c, 2);
    ASSERT_EQ(pts.size(), 3u);
    SCOPED_TRACE(ToString(policy));
    EXPECT_GT(pts[0].total_violations(), 0u);  // active-active overdraws
    EXPECT_EQ(pts[1].total_violations(), 0u);  // home routing: never...
    EXPECT_GE(pts[1].p50, SimTime(0));
    EXPECT_EQ(pts[1].max >= SimTime(400'000), true);  // ...at a round trip
    EXPECT_EQ(pts[2].total_violations(), 0u);         // bounded: never
    EXPECT_EQ(pts[2].p99 == SimTime(0), policy != BcPolicy::kOnDemand);
    if (policy != BcPolicy::kNone) {
      EXPECT_GT(pts[2].transfers, 0u);
    }
  }
}

// Policies that move rights never make a region's balance negative: under loss,
// duplication, a partition and a crash, at every step, in every region.
TEST(Anomalies, BoundedPoliciesNeverNegativeUnderChaos) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    AnomalyConfig c;
    c.seed = seed;
    c.chaos = true;
    c.strategies = {AnomalyStrategy::kBounded};
    c.latencies = {SimTime(30'000)};
    c.losses = {0.2};
    c.rates = {4};
    c.regions = {2, 3};
    c.accounts = 3;
    c.requests = 1200;
    for (BcPolicy policy : {BcPolicy::kNone, BcPolicy::kProportional, BcPolicy::kOnDemand}) {
      c.policy = policy;
      for (const AnomalyPoint& p : RunAnomalies(c, 2)) {
        EXPECT_EQ(p.violations.at("region-balance>=0"), 0u) << ToString(policy);
        EXPECT_EQ(p.violations.at(std::string(kOverdraftInvariant)), 0u) << ToString(policy);
      }
    }
  }
}

SimConfig TwoRegions() {
  SimConfig c;
  c.regions = {{"A", SimTime(0)}, {"B", SimTime(0)}};
  return c;
}

// Proportional: A holds every right; B spends what it gets, so A gives B a share.
TEST(BcRebalancer, ProportionalGivesTheIdleRegionsSurplus) {
  Simulation sim(TwoRegions());
  sim.Execute(0, {"BC.INCRBY", "k", "100"});
  sim.Sync();
  BcRebalancer reb(sim, BcPolicy::kProportional, SimTime(100'000), 1);
  reb.Start();
  sim.AdvanceBy(SimTime(150'000));  // one tick: no demand seen, equal shares
  sim.Sync();
  EXPECT_EQ(reb.RightsAt(0, "k"), (std::vector<int64_t>{50, 50}));
  EXPECT_EQ(reb.transfers(), 1u);
  reb.NoteRefused(0, "k", 30);  // A was refused 30: its share grows
  sim.AdvanceBy(SimTime(100'000));
  sim.Sync();
  EXPECT_EQ(sim.Execute(0, {"BC.GET", "k"}).integer, 100);
  std::vector<int64_t> rights = reb.RightsAt(0, "k");
  EXPECT_EQ(rights[0] + rights[1], 100);
  EXPECT_GE(rights[1], 0);
}

// On-demand: B asks A; the answer comes at A after one leg, the rights one leg later.
TEST(BcRebalancer, OnDemandTransfersWhatIsMissing) {
  Simulation sim(TwoRegions());
  sim.network().SetLink(0, 1, LinkParams{SimTime(40'000), SimTime(0), 0, 0});
  sim.network().SetLink(1, 0, LinkParams{SimTime(40'000), SimTime(0), 0, 0});
  sim.Execute(0, {"BC.INCRBY", "k", "100"});
  sim.Sync();
  BcRebalancer reb(sim, BcPolicy::kOnDemand, SimTime(100'000), 1);
  int answer = -1, peer = -1;
  const SimTime t0 = sim.Now();
  ASSERT_TRUE(reb.Ask(
      1, "k", 30, [&](bool t) { answer = t; }, &peer));
  EXPECT_EQ(peer, 0);
  sim.AdvanceBy(SimTime(40'000));
  EXPECT_EQ(answer, 1);
  EXPECT_EQ(reb.RightsAt(1, "k")[1], 0);
  sim.AdvanceBy(SimTime(40'000));
  EXPECT_EQ(reb.RightsAt(1, "k")[1], 30);
  EXPECT_EQ(sim.Now() - t0, SimTime(80'000));
  EXPECT_TRUE(reb.Ask(0, "k", 100, [](bool) {}));  // B holds 30: A may ask it
}

TEST(Anomalies, WilsonInterval) {
  double lo = 0, hi = 0;
  WilsonInterval(0, 100, &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_NEAR(hi, 0.037, 0.001);
  WilsonInterval(50, 100, &lo, &hi);
  EXPECT_NEAR(lo, 0.404, 0.001);
  EXPECT_NEAR(hi, 0.596, 0.001);
}

TEST(Anomalies, ClassifiesLendingInvariants) {
  EXPECT_EQ(ClassifyLendingViolation("lent_books: book b51 lent twice: to u16 (...)"),
            "lent-twice");
  EXPECT_EQ(ClassifyLendingViolation("A, B: user:u16:count = 5 but lent_books gives u16 4 books"),
            "count-matches");
  EXPECT_EQ(ClassifyLendingViolation("A: user:u1:count = 6: u1 holds more than 5 books"),
            "user-limit");
}

}  // namespace
}  // namespace cluster_sim
