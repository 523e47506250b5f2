// Tests of the regional latency comparison (latency.h): the strict loader's FILE:LINE:COL
// errors, latencies equal to the round-trip arithmetic (computed here independently), the
// M/D/1 mean wait at one shard, the exact definitions of conflicting pairs, failover with
// resynchronisation and nothing lost, determinism, and the renderings (CSV, SVG as XML).
#include "cluster_sim/latency.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cluster_sim {
namespace {

LatencyConfig MustParse(const std::string& yaml) {
  Result<LatencyConfig> c = ParseLatencyConfig(yaml, "test.yaml");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : LatencyConfig{};
}

std::string ParseError(const std::string& yaml) {
  Result<LatencyConfig> c = ParseLatencyConfig(yaml, "test.yaml");
  return c.ok() ? "(accepted)" : c.status().message();
}

// ---------------------------------------------------------------- loader

constexpr const char* kThree = R"(name: t
regions: [a, b, c]
links:
  local_rtt: 2ms
  rtt:
    a: {b: 80ms, c: 150ms}
    b: {c: 100ms}
deployments:
  - active-active
  - single-primary: a
  - primary-with-local-replicas: b
)";

TEST(LatencyConfigTest, ParsesMatrixAndDefaults) {
  LatencyConfig c = MustParse(kThree);
  ASSERT_EQ(c.regions.size(), 3u);
  EXPECT_EQ(c.rtt[0][1], SimTime(80'000));
  EXPECT_EQ(c.rtt[1][0], SimTime(80'000));
  EXPECT_EQ(c.rtt[2][1], SimTime(100'000));
  EXPECT_EQ(c.rtt[1][1], SimTime(2'000));
  EXPECT_EQ(c.OneWay(0, 2) + c.OneWay(2, 0), SimTime(150'000));
  ASSERT_EQ(c.deployments.size(), 3u);
  EXPECT_EQ(c.DeploymentName(1), "single-primary a");
  EXPECT_EQ(c.DeploymentName(2), "primary-with-local-replicas b");
  EXPECT_EQ(c.budget, SimTime(100'000));
  EXPECT_TRUE(IsLatencyText(kThree));
  EXPECT_FALSE(IsLatencyText("name: x\nregions: [a]\nsteps: [sync]\n"));
  EXPECT_FALSE(IsLatencyText("[unbalanced"));
}

// IsLatencyText reads the parser's events, without a tree: a top-level key `deployments`
// however written, nothing deeper, nothing in a second document.
TEST(LatencyConfigTest, IsLatencyTextLooksAtTheTopLevelOnly) {
  EXPECT_TRUE(IsLatencyText("name: t\n\"deployments\": [active-active]\n"));
  EXPECT_TRUE(IsLatencyText("a: &d deployments\n*d : [active-active]\n"));
  EXPECT_TRUE(IsLatencyText("{x: [deployments], deployments: }"));
  EXPECT_TRUE(IsLatencyText("? [k]\n: deployments\ndeployments: 1\n"));
  EXPECT_FALSE(IsLatencyText("name: t\nsteps:\n  - deployments: 1\n  - {deployments: 2}\n"));
  EXPECT_FALSE(IsLatencyText("x: deployments\ny: [deployments]\n"));
  EXPECT_FALSE(IsLatencyText("- deployments\n- deployments: 1\n"));
  EXPECT_FALSE(IsLatencyText("deployments"));
  EXPECT_FALSE(IsLatencyText("name: t\n---\ndeployments: 1\n"));
  EXPECT_FALSE(IsLatencyText(""));
}

// A byte that is not UTF-8 is quoted as \xNN wherever a message holds file text, also in
// a field's name built from keys ("links.rtt.a.b\xff").
TEST(LatencyConfigTest, BytesThatAreNotUtf8AreEscaped) {
  std::string text = kThree;
  text.replace(text.find("{b: 80ms"), 3, "{b\xff: 80ms");
  EXPECT_EQ(ParseError(text),
            "test.yaml:6:9: links.rtt.a.b\\xff: unknown region 'b\\xff' (regions are: a, b, c)");
  text = kThree;
  text.replace(text.find("150ms"), 5, "150\xffms");
  EXPECT_EQ(ParseError(text),
            "test.yaml:6:21: links.rtt.a.c: expected a duration like \"40ms\", got \"150\\xffms\"");
}

TEST(LatencyConfigTest, RejectsWithFileLineColumn) {
  EXPECT_EQ(ParseError("name: t\nregions: [a]\ndeployments: [active-active]\nsteps: 1\n"),
            "test.yaml:4:1: unknown key 'steps' (expected one of: name, seed, duration, budget, "
            "regions, links, cluster, workload, deployments, events, expect)");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\nduration: 10\ndeployments: [active-active]\n"),
            "test.yaml:3:11: duration: expected a duration like \"40ms\", got \"10\"");
  EXPECT_EQ(ParseError("name: t\nregions: [a, b]\ndeployments: [active-active]\n"),
            "test.yaml:1:1: links: no latency between a and b: give both regions lat/lon or a "
            "links.rtt entry");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\ndeployments:\n  - single-primary: z\n"),
            "test.yaml:4:21: deployments.single-primary: unknown region 'z' (regions are: a)");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\ndeployments:\n  - primary: a\n"),
            "test.yaml:4:5: deployments: unknown deployment 'primary' (expected active-active, "
            "single-primary: REGION or primary-with-local-replicas: REGION)");
  EXPECT_EQ(ParseError("name: t\nregions: [a, b]\nlinks: {rtt: {a: {b: 1ms}, b: {a: 2ms}}}\n"
                       "deployments: [active-active]\n"),
            "test.yaml:3:32: links.rtt.b.a: given twice (a round trip is the same both ways)");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\ndeployments: [active-active]\nevents:\n"
                       "  - region_down: {region: a, from: 5s, to: 5s}\n"),
            "test.yaml:5:5: region_down: 'to' must be after 'from'");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\ndeployments: [active-active]\nexpect:\n"
                       "  - {deployment: active-active, speed_max: 1}\n"),
            "test.yaml:5:33: expect: unknown key 'speed_max' (expected deployment, region or "
            "METRIC_max / METRIC_min with METRIC one of: p50, p95, p99, max, over_budget, stale, "
            "conflicts, lost, resync, failed)");
  EXPECT_EQ(ParseError("name: t\nregions:\n  a: {lat: 10}\ndeployments: [active-active]\n"),
            "test.yaml:3:3: regions.a: lat and lon must be given together");
  EXPECT_EQ(ParseError("name: t\nregions: [a]\nworkload: {reads: 1.5}\n"
                       "deployments: [active-active]\n"),
            "test.yaml:3:19: workload.reads: expected a number in [0, 1], got \"1.5\"");
  EXPECT_EQ(ParseError("name: t\nregions: [a, b, c, d, e, f]\nworkload: {keys: 10000000}\n"
                       "deployments: [active-active]\n"),
            "test.yaml:3:11: workload.keys: keys x regions must be at most 50000000, got "
            "10000000 x 6");
  EXPECT_EQ(ParseError("name: t\nregions: [a, b]\nlinks: {jitter: 5ms, rtt: {a: {b: 4ms}}}\n"
                       "deployments: [active-active]\n"),
            "test.yaml:3:8: links.jitter: must not exceed the smallest one-way latency (2ms)");
}

#ifdef AASIM_SCENARIO_DIR
// scenarios/invalid/latency/*.yaml (apart from scenarios/invalid/, whose files are scenario
// files): each is rejected with the message its first line gives.
TEST(LatencyConfigTest, InvalidFilesFailWithTheirExpectedError) {
  const std::filesystem::path dir =
      std::filesystem::path(AASIM_SCENARIO_DIR) / "invalid" / "latency";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 2u);
  const std::string kPrefix = "# expect-error: ";
  for (const std::filesystem::path& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file);
    std::string first_line;
    std::getline(in, first_line);
    ASSERT_EQ(first_line.rfind(kPrefix, 0), 0u);
    Result<LatencyConfig> result = LoadLatencyFile(file.string());
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(
        std::regex_search(result.status().message(), std::regex(first_line.substr(kPrefix.size()))))
        << result.status().message();
    EXPECT_EQ(result.status().message().rfind(file.string() + ":", 0), 0u);
  }
}
#endif

// ---------------------------------------------------------------- arithmetic

// Three regions with constant links, evenly spaced arrivals far apart and 1us of service:
// nothing ever queues, so every request takes exactly calls x (round trip + service).
std::string Arithmetic(double reads, const std::string& deployments) {
  return "name: arithmetic\nseed: 3\nduration: 30s\nregions: [a, b, c]\n"
         "links:\n  local_rtt: 1ms\n  rtt:\n    a: {b: 81ms, c: 150ms}\n    b: {c: 99ms}\n"
         "cluster: {shards: 1, service_time: 1us}\n"
         "workload: {rate: 2, calls: 3, reads: " +
         std::to_string(reads) +
         ", keys: 100, zipf: 0, arrivals: uniform}\n"
         "deployments: " +
         deployments + "\n";
}

// Independently of the loader: the round trips of the file above, in microseconds.
int64_t Rtt(int a, int b) {
  const int64_t m[3][3] = {{1000, 81000, 150000}, {81000, 1000, 99000}, {150000, 99000, 1000}};
  return m[a][b];
}

TEST(LatencyArithmeticTest, SinglePrimaryPaysTheRoundTripToThePrimaryOnEveryCall) {
  for (int primary = 0; primary < 3; ++primary) {
    const char* names[] = {"a", "b", "c"};
    LatencyConfig c =
        MustParse(Arithmetic(0.5, std::string("[{single-primary: ") + names[primary] + "}]"));
    const DeploymentResult d = RunLatencyDeployment(c, 0);
    for (int g = 0; g < 3; ++g) {
      SCOPED_TRACE(testing::Message() << "primary=" << primary << " region=" << g);
      const RegionResult& r = d.regions[static_cast<size_t>(g)];
      const SimTime expected{3 * (Rtt(g, primary) + 1)};
      EXPECT_EQ(r.requests, 60u);
      EXPECT_EQ(r.latency.min(), expected);
      EXPECT_EQ(r.latency.max(), expected);
      EXPECT_EQ(r.latency.Percentile(50), expected);
      EXPECT_EQ(r.over_budget, expected > SimTime(100'000) ? 60u : 0u);
      EXPECT_EQ(r.stale_reads, 0u);
      EXPECT_EQ(r.conflicting_pairs, 0u);
    }
    EXPECT_TRUE(d.nothing_lost);
    EXPECT_EQ(d.copies, 1);
  }
}

TEST(LatencyArithmeticTest, ActiveActiveReadsAreLocal) {
  LatencyConfig c = MustParse(Arithmetic(1.0, "[active-active]"));
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  for (const RegionResult& r : d.regions) {
    EXPECT_EQ(r.latency.min(), SimTime(3 * (1000 + 1)));
    EXPECT_EQ(r.latency.max(), SimTime(3 * (1000 + 1)));
    EXPECT_EQ(r.writes, 0u);
  }
}

TEST(LatencyArithmeticTest, LocalReplicasReadLocallyAndWriteToThePrimary) {
  LatencyConfig c = MustParse(Arithmetic(0.5, "[{primary-with-local-replicas: c}]"));
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  uint64_t writes = 0;
  for (int g = 0; g < 3; ++g) {
    const RegionResult& r = d.regions[static_cast<size_t>(g)];
    // k of the 3 calls are reads (local), the rest writes (to c).
    std::set<int64_t> possible;
    for (int k = 0; k <= 3; ++k) possible.insert(k * (1000 + 1) + (3 - k) * (Rtt(g, 2) + 1));
    std::set<int64_t> seen;
    for (const auto& [t, fraction] : r.latency.Cdf()) seen.insert(t.count());
    for (int64_t t : seen) EXPECT_TRUE(possible.count(t)) << "region " << g << ": " << t;
    if (g == 2) {
      EXPECT_EQ(seen, std::set<int64_t>{3 * 1001});
    } else {
      EXPECT_GE(seen.size(), 3u);  // 60 requests of 3 fair coins show several mixes
    }
    writes += r.writes;
  }
  EXPECT_GT(writes, 0u);
  EXPECT_EQ(d.writes_accepted, writes);
  EXPECT_TRUE(d.nothing_lost);
  // Every replica applied every write one one-way latency (+ 1us of service) after its commit.
  for (int g = 0; g < 2; ++g) {
    const RegionResult& r = d.regions[static_cast<size_t>(g)];
    EXPECT_EQ(r.lag.count(), writes);
    EXPECT_EQ(r.lag.min(), c.OneWay(2, g) + SimTime(1));
    EXPECT_EQ(r.lag.max(), c.OneWay(2, g) + SimTime(1));
    EXPECT_EQ(r.writes_present, writes);
  }
}

TEST(LatencyArithmeticTest, CoordinatesGiveFibreRoundTrips) {
  LatencyConfig c = MustParse(
      "name: geo\nregions:\n  ny: {lat: 40.7, lon: -74.0}\n  ldn: {lat: 51.5, lon: -0.1}\n"
      "links: {route_factor: 1.5, local_rtt: 0us}\ncluster: {service_time: 1us}\n"
      "workload: {rate: 1, calls: 2, reads: 1, arrivals: uniform}\nduration: 10s\n"
      "deployments: [{single-primary: ldn}]\n");
  // Haversine, here, on a 6371 km sphere; light in fibre at 200,000 km/s, x1.5 route.
  const double kPi = 3.14159265358979323846;
  const double p1 = 40.7 * kPi / 180, p2 = 51.5 * kPi / 180;
  const double dp = p2 - p1, dl = (-0.1 + 74.0) * kPi / 180;
  const double h = std::sin(dp / 2) * std::sin(dp / 2) +
                   std::cos(p1) * std::cos(p2) * std::sin(dl / 2) * std::sin(dl / 2);
  const double km = 2 * 6371.0 * std::asin(std::sqrt(h));
  const int64_t one_way = std::llround(km * 1.5 / 0.2);
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  EXPECT_EQ(d.regions[0].latency.max(), SimTime(2 * (2 * one_way + 1)));
  EXPECT_EQ(d.regions[0].latency.min(), SimTime(2 * (2 * one_way + 1)));
  EXPECT_EQ(d.regions[1].latency.max(), SimTime(2 * 1));
}

// ---------------------------------------------------------------- queueing

// One region, one shard, one call per request, no network: the latency is the wait in an
// M/D/1 queue plus the service. Pollaczek-Khinchine: Wq = rho s / (2 (1 - rho)). 400 s of
// Poisson arrivals (2-3.2 million requests) put the estimate's standard error near 1%
// (the waits are correlated over ~1/(1-sqrt(rho))^2 services), so 5% is a 4-5 sigma bound.
TEST(LatencyQueueTest, MeanWaitMatchesMD1) {
  for (double rho : {0.5, 0.8}) {
    SCOPED_TRACE(testing::Message() << "rho=" << rho << " seed=5");
    const double s = 100;  // us
    const double rate = rho / (s * 1e-6);
    LatencyConfig c = MustParse(
        "name: md1\nseed: 5\nduration: 400s\nregions: [a]\nlinks: {local_rtt: 0us}\n"
        "cluster: {shards: 1, service_time: 100us}\n"
        "workload: {rate: " +
        std::to_string(rate) + ", calls: 1, reads: 1, keys: 1}\ndeployments: [active-active]\n");
    const DeploymentResult d = RunLatencyDeployment(c, 0);
    const RegionResult& r = d.regions[0];
    ASSERT_GT(r.requests, 1'900'000u);
    const double wait = r.latency.mean_us() - s;
    const double expected = rho * s / (2 * (1 - rho));
    EXPECT_NEAR(wait / expected, 1.0, 0.05) << "wait " << wait << "us, M/D/1 " << expected;
  }
}

// ---------------------------------------------------------------- definitions

// Two regions 100 ms apart write one key, 1 write per request, at evenly spaced instants:
// commit times and applies are known exactly, so the conflicting pairs can be counted here.
TEST(LatencyDefinitionsTest, ConflictingPairsAreWritesNeitherSawTheOther) {
  LatencyConfig c = MustParse(
      "name: conflicts\nduration: 2s\nregions: [a, b]\n"
      "links: {local_rtt: 0us, rtt: {a: {b: 100ms}}}\ncluster: {shards: 1, service_time: 1us}\n"
      "workload: {rate: 7, calls: 1, reads: 0, keys: 1, arrivals: uniform}\n"
      "deployments: [active-active]\n");
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  // Region r's k-th write arrives at floor((k + (r+1)/3) * 1e6/7), commits 1us later, and is
  // applied at the other region 50ms + 1us after its commit.
  std::vector<int64_t> commits[2];
  for (int r = 0; r < 2; ++r) {
    for (int k = 0;; ++k) {
      const int64_t t = static_cast<int64_t>(std::floor((k + (r + 1) / 3.0) * 1e6 / 7));
      if (t >= 2'000'000) break;
      commits[r].push_back(t + 1);
    }
  }
  uint64_t pairs = 0;
  for (int64_t ta : commits[0]) {
    for (int64_t tb : commits[1]) {
      // Concurrent: each committed before the other's apply reached it.
      if (tb < ta + 50'001 && ta < tb + 50'001) ++pairs;
    }
  }
  EXPECT_GT(pairs, 0u);
  EXPECT_EQ(d.regions[0].conflicting_pairs + d.regions[1].conflicting_pairs, pairs);
  EXPECT_EQ(d.writes_accepted, commits[0].size() + commits[1].size());
  EXPECT_TRUE(d.nothing_lost);
}

TEST(LatencyDefinitionsTest, StaleReadsNeedAWriteInFlight) {
  // Region a writes only, b reads only, one key: b's read is stale exactly when one of a's
  // writes committed before it and had not yet been applied at b.
  LatencyConfig c = MustParse(
      "name: stale\nduration: 5s\nregions:\n  a: {reads: 0, rate: 3}\n  b: {reads: 1, rate: 11}\n"
      "links: {local_rtt: 0us, rtt: {a: {b: 100ms}}}\ncluster: {shards: 1, service_time: 1us}\n"
      "workload: {calls: 1, keys: 1, arrivals: uniform}\ndeployments: [active-active]\n");
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  std::vector<int64_t> commits;
  for (int k = 0;; ++k) {
    const int64_t t = static_cast<int64_t>(std::floor((k + 1 / 3.0) * 1e6 / 3));
    if (t >= 5'000'000) break;
    commits.push_back(t + 1);
  }
  uint64_t reads = 0, stale = 0;
  for (int k = 0;; ++k) {
    const int64_t t = static_cast<int64_t>(std::floor((k + 2 / 3.0) * 1e6 / 11));
    if (t >= 5'000'000) break;
    const int64_t exec = t + 1;
    ++reads;
    bool is_stale = false;
    for (int64_t w : commits) is_stale = is_stale || (w < exec && exec < w + 50'001);
    stale += is_stale;
  }
  EXPECT_EQ(d.regions[1].reads, reads);
  EXPECT_GT(stale, 0u);
  EXPECT_EQ(d.regions[1].stale_reads, stale);
  EXPECT_EQ(d.regions[0].stale_reads, 0u);
}

// ---------------------------------------------------------------- failover

constexpr const char* kFailover = R"(name: failover
seed: 9
duration: 30s
regions: [west, east, south]
links:
  local_rtt: 1ms
  rtt:
    west: {east: 60ms, south: 20ms}
    east: {south: 40ms}
cluster: {shards: 2, service_time: 50us}
workload: {rate: 100, calls: 2, reads: 0.5, keys: 1000, zipf: 1.0}
deployments:
  - active-active
  - single-primary: south
  - primary-with-local-replicas: south
events:
  - region_down: {region: south, from: 5s, to: 15s}
)";

TEST(LatencyFailoverTest, ActiveActiveServesTheDownRegionFromTheNearestAndResyncs) {
  LatencyConfig c = MustParse(kFailover);
  const DeploymentResult d = RunLatencyDeployment(c, 0);
  const RegionResult& south = d.regions[2];
  EXPECT_EQ(south.failed, 0u);
  EXPECT_GT(south.rerouted_calls, 0u);
  // Meanwhile its calls go to the west: 2 x (20ms + 50us); otherwise 2 x (1ms + 50us).
  EXPECT_EQ(south.latency.min(), SimTime(2 * 1050));
  EXPECT_GE(south.latency.max(), SimTime(2 * 20'050));
  ASSERT_EQ(d.resyncs.size(), 1u);
  const ResyncResult& rr = d.resyncs[0];
  EXPECT_GT(rr.backlog, 0u);
  EXPECT_GE(rr.resynced_at, SimTime(15'000'000 + 20'000));  // the west's backlog travels 20ms
  EXPECT_EQ(rr.resync_time, rr.resynced_at - SimTime(15'000'000));
  EXPECT_TRUE(d.nothing_lost);
  for (const RegionResult& r : d.regions) EXPECT_EQ(r.writes_present, d.writes_accepted);
  EXPECT_EQ(d.regions[0].present_digest, d.regions[2].present_digest);
  // The lag of writes kept during the outage shows in the south's replication lag.
  EXPECT_GT(south.lag.max(), SimTime(9'000'000));
}

TEST(LatencyFailoverTest, PrimaryDeploymentsFailWhatOnlyThePrimaryCanServe) {
  LatencyConfig c = MustParse(kFailover);
  const DeploymentResult single = RunLatencyDeployment(c, 1);
  for (const RegionResult& r : single.regions) EXPECT_GT(r.failed, 0u);
  EXPECT_TRUE(single.nothing_lost);
  const DeploymentResult replicas = RunLatencyDeployment(c, 2);
  EXPECT_GT(replicas.regions[0].failed, 0u);  // writes to the down primary
  EXPECT_TRUE(replicas.nothing_lost);
  // Requests of only reads still complete everywhere, the south's at the west.
  EXPECT_GT(replicas.regions[2].rerouted_calls, 0u);
}

TEST(LatencyFailoverTest, LossAndJitterDelayButLoseNothing) {
  LatencyConfig c = MustParse(
      "name: lossy\nseed: 4\nduration: 10s\nregions: [a, b, c]\n"
      "links:\n  jitter: 3ms\n  loss: 0.3\n  rtt:\n    a: {b: 40ms, c: 60ms}\n    b: {c: 30ms}\n"
      "workload: {rate: 200, calls: 2, reads: 0.5, keys: 500}\n"
      "deployments: [active-active, {primary-with-local-replicas: b}]\n"
      "events:\n  - region_down: {region: c, from: 2s, to: 4s}\n");
  for (int d = 0; d < 2; ++d) {
    SCOPED_TRACE(testing::Message() << "deployment " << d << " seed=4");
    const DeploymentResult r = RunLatencyDeployment(c, d);
    EXPECT_TRUE(r.nothing_lost);
    for (const RegionResult& region : r.regions) {
      EXPECT_EQ(region.writes_present, r.writes_accepted);
    }
    // Region a receives from b (one way 20ms +/- 3ms); a lost copy waits one more round trip.
    EXPECT_GT(r.regions[0].lag.max(), SimTime(20'000 + 40'000 - 3'000));
    EXPECT_EQ(r, RunLatencyDeployment(c, d));
  }
}

// `c` with `region` down for one nanosecond long after its traffic ends: a run with a
// region ever down keeps the events that a run without one decides at queue entry.
LatencyConfig WithDownAfterTraffic(LatencyConfig c, int region) {
  RegionDown after;
  after.region = region;
  after.from = SimTime(1'000'000'000);
  after.to = SimTime(1'000'000'001);
  c.downs.push_back(after);
  return c;
}

// Without a region down, a replication message is applied as it enters its shard's queue
// (no event at its end), and a request's last read at its own region's cluster is decided
// there too (no event at its end: its staleness is settled by the next write to the key
// committed elsewhere); a region down once all the traffic is over keeps both events. Both
// must count the same stale reads, conflicts, lags and writes: hot keys on one slow shard
// make calls and applies queue behind each other.
TEST(LatencyDefinitionsTest, ApplyAtQueueEntryMatchesAnApplyEvent) {
  LatencyConfig c = MustParse(
      "name: queued\nseed: 11\nduration: 3s\nregions: [a, b, c]\n"
      "links:\n  jitter: 2ms\n  loss: 0.1\n  rtt:\n    a: {b: 40ms, c: 60ms}\n    b: {c: 30ms}\n"
      "cluster: {shards: 1, service_time: 150us, replicated_service_time: 90us}\n"
      "workload: {rate: 1000, calls: 3, reads: 0.6, keys: 7}\n"
      "deployments: [active-active, {primary-with-local-replicas: b}]\n");
  const LatencyConfig late = WithDownAfterTraffic(c, 1);
  for (int d = 0; d < 2; ++d) {
    SCOPED_TRACE(testing::Message() << "deployment " << d);
    const DeploymentResult at_entry = RunLatencyDeployment(c, d);
    const DeploymentResult with_events = RunLatencyDeployment(late, d);
    EXPECT_GT(at_entry.regions[0].stale_reads, 0u);
    EXPECT_EQ(at_entry.regions, with_events.regions);
    EXPECT_EQ(at_entry.writes_accepted, with_events.writes_accepted);
    EXPECT_EQ(at_entry.events + 2, with_events.events);  // the down and the up
    EXPECT_LT(at_entry.end, SimTime(1'000'000'000));
    EXPECT_TRUE(at_entry.nothing_lost);
  }
}

// With no cluster ever down, a replication message travels in its event when its transit
// fits (kReplApply) and in the message pool otherwise (here: the long link, re-sent after a
// loss); a region down after the traffic keeps every message in the pool. Both give the
// same lags, stale reads, conflicts and present writes.
TEST(LatencyDefinitionsTest, MessagesInTheirEventsMatchPooledMessages) {
  LatencyConfig c = MustParse(
      "name: far\nseed: 5\nduration: 3s\nregions: [a, b, c]\n"
      "links:\n  jitter: 3ms\n  loss: 0.3\n  rtt:\n    a: {b: 30ms, c: 400ms}\n    b: {c: 380ms}\n"
      "cluster: {shards: 2, service_time: 100us, replicated_service_time: 60us}\n"
      "workload: {rate: 800, calls: 2, reads: 0.5, keys: 50}\n"
      "deployments: [active-active, {primary-with-local-replicas: a}]\n");
  const LatencyConfig late = WithDownAfterTraffic(c, 1);
  for (int d = 0; d < 2; ++d) {
    SCOPED_TRACE(testing::Message() << "deployment " << d);
    const DeploymentResult packed = RunLatencyDeployment(c, d);
    const DeploymentResult pooled = RunLatencyDeployment(late, d);
    EXPECT_GT(packed.regions[2].lag.max(), SimTime(262'144));  // some over the packed limit
    EXPECT_LT(packed.regions[2].lag.min(), SimTime(262'144));
    EXPECT_EQ(packed.regions, pooled.regions);
    EXPECT_EQ(packed.events + 2, pooled.events);
    EXPECT_TRUE(packed.nothing_lost);
  }
}

// A call carries its request's slot in its event only below CallArg's limit (2^17 slots);
// past it, the arrival reads the request. Here 150,000 requests of the far region are in
// flight at once (2 s round trips to the primary): the run matches one with every event.
TEST(LatencyDefinitionsTest, CallsPastTheSlotLimitMatchTheirEvents) {
  LatencyConfig c = MustParse(
      "name: crowd\nseed: 3\nduration: 2500ms\nregions: [a, b]\n"
      "links:\n  rtt:\n    a: {b: 2s}\n"
      "cluster: {shards: 4, service_time: 1us}\n"
      "workload: {rate: 60000, calls: 3, reads: 0.8, keys: 100}\n"
      "deployments: [{single-primary: b}]\n");
  const DeploymentResult packed = RunLatencyDeployment(c, 0);
  const DeploymentResult with_events = RunLatencyDeployment(WithDownAfterTraffic(c, 0), 0);
  EXPECT_GT(packed.regions[0].requests, 140'000u);
  EXPECT_GT(packed.regions[0].latency.min(), SimTime(6'000'000));  // all in flight at 2.5 s
  EXPECT_EQ(packed.regions, with_events.regions);
  EXPECT_EQ(packed.events + 2, with_events.events);
}

// The same over many seeds with the reads' ends and the writes' commits often in the same
// microsecond (a few keys, one shard, no jitter, equal round trips): the reads decided at
// their entry order such ties as their events would have.
TEST(LatencyDefinitionsTest, ReadsDecidedAtEntryMatchTheirEventsOnTies) {
  LatencyConfig c = MustParse(
      "name: ties\nseed: 1\nduration: 2s\nregions: [a, b, c]\n"
      "links:\n  local_rtt: 200us\n  rtt:\n    a: {b: 2ms, c: 2ms}\n    b: {c: 2ms}\n"
      "cluster: {shards: 1, service_time: 40us, replicated_service_time: 40us}\n"
      "workload: {rate: 4000, calls: 2, reads: 0.5, keys: 3}\n"
      "deployments: [active-active, {primary-with-local-replicas: a}]\n");
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    c.seed = seed;
    const LatencyConfig late = WithDownAfterTraffic(c, 2);
    for (int d = 0; d < 2; ++d) {
      SCOPED_TRACE(testing::Message() << "deployment " << d);
      const DeploymentResult at_entry = RunLatencyDeployment(c, d);
      const DeploymentResult with_events = RunLatencyDeployment(late, d);
      EXPECT_GT(at_entry.regions[1].stale_reads, 0u);
      EXPECT_EQ(at_entry.regions, with_events.regions);
      EXPECT_EQ(at_entry.events + 2, with_events.events);
    }
  }
}

// ---------------------------------------------------------------- determinism, output

TEST(LatencyReportTest, SameSeedSameReportOtherSeedOtherReport) {
  LatencyConfig c = MustParse(std::string(kFailover) +
                              "expect:\n  - {deployment: active-active, "
                              "region: south, resync_max: 1s}\n");
  const LatencyReport r1 = RunLatency(c);
  const LatencyReport r2 = RunLatency(c);
  EXPECT_EQ(RenderLatencyText(r1, false), RenderLatencyText(r2, false));
  EXPECT_EQ(RenderLatencyCsv(r1), RenderLatencyCsv(r2));
  EXPECT_EQ(RenderLatencySvg(r1), RenderLatencySvg(r2));
  EXPECT_EQ(r1.digest, r2.digest);
  EXPECT_EQ(r1.deployments, r2.deployments);
  ASSERT_EQ(r1.checks.size(), 1u);
  EXPECT_EQ(r1.checks[0].ok, r1.deployments[0].resyncs[0].resync_time <= SimTime(1'000'000));
  c.seed = 10;
  EXPECT_NE(RunLatency(c).digest, r1.digest);
}

// Deployments on threads: the same report as one by one, and the progress adds up to
// every deployment's duration and events.
TEST(LatencyReportTest, ThreadsGiveTheSameReportAndProgressAddsUp) {
  LatencyConfig c = MustParse(kThree);
  c.duration = SimTime(2'000'000);
  const LatencyReport one = RunLatency(c, 1);
  for (int jobs : {2, 3, 8}) {
    LatencyProgress progress;
    const LatencyReport many = RunLatency(c, jobs, &progress);
    EXPECT_EQ(many.deployments, one.deployments) << jobs;
    EXPECT_EQ(many.digest, one.digest) << jobs;
    EXPECT_EQ(RenderLatencyText(many, false), RenderLatencyText(one, false)) << jobs;
    EXPECT_EQ(progress.virtual_us.load(), 3 * c.duration.count());
    uint64_t events = 0;
    for (const DeploymentResult& d : many.deployments) events += d.events;
    EXPECT_EQ(progress.events.load(), events);
  }
}

TEST(LatencyReportTest, FailedExpectationsCountAndAreShown) {
  LatencyConfig c = MustParse(std::string(kThree) +
                              "expect:\n  - {deployment: single-primary, "
                              "region: c, p50_max: 1ms}\n");
  c.duration = SimTime(2'000'000);
  const LatencyReport r = RunLatency(c);
  EXPECT_EQ(r.failures, 1);
  const std::string text = RenderLatencyText(r, true);
  EXPECT_NE(text.find("FAILED: test.yaml:13: single-primary a c p50 <= 1ms (got"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("FAIL test.yaml: 3 deployments"), std::string::npos) << text;
}

TEST(LatencyReportTest, CsvHasOneRowPerDeploymentAndRegionAndSvgIsXml) {
  LatencyConfig c = MustParse(kThree);
  c.duration = SimTime(2'000'000);
  const LatencyReport r = RunLatency(c);
  const std::string csv = RenderLatencyCsv(r);
  size_t lines = 0;
  for (char ch : csv) lines += ch == '\n';
  EXPECT_EQ(lines, 1u + 3 * 3);
  EXPECT_EQ(csv.rfind("deployment,region,requests,", 0), 0u);
  const std::string svg = RenderLatencySvg(r);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("single-primary a"), std::string::npos);
  // Validate (and render, where librsvg is installed) the chart.
  const std::string path = testing::TempDir() + "latency_test.svg";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(svg.data(), 1, svg.size(), f);
  std::fclose(f);
  if (std::system("command -v xmllint > /dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("xmllint --noout " + path).c_str()), 0);
  }
  if (std::system("command -v rsvg-convert > /dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("rsvg-convert " + path + " -o " + path + ".png").c_str()), 0);
  }
}

TEST(LatencyReportTest, OverridesScaleTheRun) {
  LatencyConfig c = MustParse(kThree);
  LatencyOverrides o;
  o.rate = 5;
  o.duration = SimTime(4'000'000);
  o.deployment = "single-primary a";
  ASSERT_TRUE(ApplyLatencyOverrides(o, &c).ok());
  EXPECT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.regions[1].workload.rate, 5);
  o.deployment = "single-primary z";
  EXPECT_EQ(ApplyLatencyOverrides(o, &c).message(),
            "--deployment: no deployment 'single-primary z' (deployments are: single-primary a)");
}

// --deployment names a deployment as `expect:` does: its name, or a kind only it has.
TEST(LatencyReportTest, DeploymentOverrideTakesAnUnambiguousKind) {
  LatencyConfig c = MustParse(kThree);
  EXPECT_EQ(c.FindDeployment("single-primary"), 1);
  EXPECT_EQ(c.FindDeployment("primary-with-local-replicas b"), 2);
  EXPECT_EQ(c.FindDeployment("single-primary b"), -1);
  LatencyOverrides o;
  o.deployment = "primary-with-local-replicas";
  ASSERT_TRUE(ApplyLatencyOverrides(o, &c).ok());
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.DeploymentName(0), "primary-with-local-replicas b");

  std::string two = kThree;
  two.replace(two.find("  - single-primary: a\n"), 0, "  - single-primary: b\n");
  c = MustParse(two);
  EXPECT_EQ(c.FindDeployment("single-primary"), -2);
  o.deployment = "single-primary";
  EXPECT_EQ(ApplyLatencyOverrides(o, &c).message(),
            "--deployment: 'single-primary' names several deployments (deployments are: "
            "active-active, single-primary b, single-primary a, primary-with-local-replicas b)");
  o.deployment = "single-primary a";
  ASSERT_TRUE(ApplyLatencyOverrides(o, &c).ok());
  EXPECT_EQ(c.DeploymentName(0), "single-primary a");
}

}  // namespace
}  // namespace cluster_sim
