// The regional latency engine (cluster_sim/latency.h, issue 6). Target: a one-hour virtual
// run of 3 regions at 10,000 requests per second each in under 30 s of wall time on one core.
//
//   BM_Latency/<d>       10 s of virtual time of that workload for deployment d (0 active-
//                        active, 1 single-primary, 2 primary-with-local-replicas): events/s,
//                        requests/s, and the projection of one virtual hour (x360).
//   BM_LatencyFile/<d>   60 s of virtual time of scenarios/latency-three-regions.yaml at
//                        10,000 requests/s per region (its +/-2 ms jitter included), for
//                        deployment d; hour_s projects CPU seconds per virtual hour (x60).
//   BM_LatencyOneHour/<d> the target itself: `aasim latency scenarios/latency-three-regions.yaml
//                        --rate 10000 --duration 1h`, deployment d, one iteration: its CPU
//                        time is the CPU seconds per deployment (target <= 30 s);
//                        registered only when AASIM_BENCH_FULL=1 (it takes minutes).
// The workload: three real regions (Virginia, Dublin, Mumbai; fibre latencies, no jitter),
// 3 sequential calls per request, 80% reads, 10,000 Zipf(0.99) keys, 8 shards per cluster,
// 20 us per operation, Poisson arrivals. Fixed seed; times are CPU time of the thread.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "cluster_sim/latency.h"
#include "cluster_sim/time.h"

namespace {

using cluster_sim::LatencyConfig;

constexpr const char* kWorkload = R"(name: benchmark
seed: 7
duration: 10s
regions:
  us-east:  {lat: 38.9, lon: -77.4}
  eu-west:  {lat: 53.3, lon: -6.3}
  ap-south: {lat: 19.1, lon: 72.9}
links: {route_factor: 1.5, local_rtt: 1ms}
cluster: {shards: 8, service_time: 20us}
workload: {rate: 10000, calls: 3, reads: 0.8, keys: 10000, zipf: 0.99}
deployments:
  - active-active
  - single-primary: us-east
  - primary-with-local-replicas: us-east
)";

LatencyConfig Config(cluster_sim::SimTime duration) {
  auto c = cluster_sim::ParseLatencyConfig(kWorkload, "bench");
  if (!c.ok()) std::abort();
  LatencyConfig config = std::move(c).value();
  config.duration = duration;
  return config;
}

void Run(benchmark::State& state, const LatencyConfig& config) {
  const cluster_sim::SimTime duration = config.duration;
  const int d = static_cast<int>(state.range(0));
  uint64_t events = 0, requests = 0;
  for (auto _ : state) {
    const cluster_sim::DeploymentResult r = cluster_sim::RunLatencyDeployment(config, d);
    events += r.events;
    for (const auto& region : r.regions) requests += region.requests;
    benchmark::DoNotOptimize(r.events);
  }
  state.SetLabel(config.DeploymentName(d));
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["requests/s"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
  // CPU seconds one virtual hour would take at this speed.
  state.counters["hour_s"] = benchmark::Counter(
      static_cast<double>(duration.count()) / 3.6e9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Latency(benchmark::State& state) { Run(state, Config(cluster_sim::SimTime(10'000'000))); }
BENCHMARK(BM_Latency)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1);

// The command line's workload: the scenario file at 10,000 requests/s per region.
LatencyConfig FileConfig(cluster_sim::SimTime duration) {
  auto c = cluster_sim::LoadLatencyFile(AASIM_SCENARIO_DIR "/latency-three-regions.yaml");
  if (!c.ok()) std::abort();
  LatencyConfig config = std::move(c).value();
  cluster_sim::LatencyOverrides o;
  o.rate = 10000;
  o.duration = duration;
  if (!cluster_sim::ApplyLatencyOverrides(o, &config).ok()) std::abort();
  return config;
}

void BM_LatencyFile(benchmark::State& state) {
  Run(state, FileConfig(cluster_sim::SimTime(60'000'000)));
}
BENCHMARK(BM_LatencyFile)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1);

void BM_LatencyOneHour(benchmark::State& state) {
  Run(state, FileConfig(cluster_sim::SimTime(3'600'000'000)));
}

}  // namespace

int main(int argc, char** argv) {
  const char* full = std::getenv("AASIM_BENCH_FULL");
  if (full != nullptr && std::string(full) == "1") {
    benchmark::RegisterBenchmark("BM_LatencyOneHour", BM_LatencyOneHour)
        ->Arg(0)
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kSecond)
        ->Iterations(1);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
