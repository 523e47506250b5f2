// Simulator throughput (issue 3's target): 5 regions, 50ms links, 1M random client
// operations over 10,000 keys (counters, strings, sets), every effect delivered to the 4
// peers, in-memory store. Target: >= 1M client operations per second of wall time
// (>= 4M deliveries/s) on one core. Reports the process's peak RSS (meaningful for the
// benchmark run first, or alone with --benchmark_filter: it never goes down).
//
// Operations arrive open-loop, spread evenly over virtual time (default 100k ops per
// virtual second across the regions), so replication runs concurrently with the load
// exactly as in `aasim run`.
//
// BM_FiveKeyspacesDirect runs the same operations on five in-memory stores and merges each
// effect straight into the other four (no network, log, acks or event loop): the bare
// Active/Active work. client_ops_per_s of the simulator divided by this one's (issue target:
// >= 0.5) is what the simulation costs over that work: the links' delay and its machinery.
//
// BM_FiveKeyspacesDelayed is the same bare work with the links' delay: each effect is merged
// into the other four stores as many operations later as the simulator's 50 ms links hold
// at this rate (5,000), from a queue, with no network, log, acks or event loop either. It
// splits the gap between the two above: what merging 50 ms after the write costs by itself
// (the key's lines at the other stores are no longer those the write just brought in, and
// registers and sets hold concurrent writes) and what the machinery adds on top (the
// simulator's rate over this one's).
#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "cluster_sim/rng.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/store.h"

namespace {

using cluster_sim::LinkParams;
using cluster_sim::Rng;
using cluster_sim::SimConfig;
using cluster_sim::SimTime;
using cluster_sim::Simulation;
using cluster_sim::Store;

long PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// The process's system (kernel) CPU time so far, in seconds.
double SystemSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
}

constexpr int kRegions = 5;
constexpr int64_t kLinkLatencyUs = 50'000;  // every link of the simulator, one way

// *arg = prefix followed by n's decimal digits, in arg's own room. REQUIRES: the prefix has
// at most 8 bytes (with the 20 an int64_t may take, they fit the buffer).
void SetArg(std::string* arg, std::string_view prefix, int64_t n) {
  char buf[32];
  assert(prefix.size() <= 8);
  prefix.copy(buf, prefix.size());
  auto [end, ec] = std::to_chars(buf + prefix.size(), buf + sizeof buf, n);
  (void)ec;
  arg->assign(buf, end);
}

// The workload of every benchmark here: a random region and command (counters, strings, sets
// over 10,000 keys). The strings of *argv are rewritten in place (no temporaries, no
// allocation once they have grown): building the operation is the driver's work, not the
// simulator's, and must not weigh on any benchmark's rate.
int NextOperation(Rng* rng, std::vector<std::string>* argv) {
  const int kKeys = 10'000;
  int region = static_cast<int>(rng->Uniform(kRegions));
  uint64_t key = rng->Uniform(kKeys);
  argv->resize(3);
  std::string* a = argv->data();
  const auto k = static_cast<int64_t>(key);
  switch (key % 3) {
    case 0:
      a[0].assign("INCRBY");
      SetArg(&a[1], "counter:", k);
      SetArg(&a[2], "", rng->Range(-5, 5));
      break;
    case 1:
      a[0].assign("SET");
      SetArg(&a[1], "string:", k);
      SetArg(&a[2], "v", static_cast<int64_t>(rng->Uniform(1000)));
      break;
    default:
      a[0].assign(rng->OneIn(4) ? "SREM" : "SADD");
      SetArg(&a[1], "set:", k);
      SetArg(&a[2], "m", static_cast<int64_t>(rng->Uniform(20)));
  }
  return region;
}

// Every benchmark here: 1M operations at 100k per virtual second, once, timed by the clock.
// SIM_BENCH_OPS=N runs N operations instead (a short run under valgrind --tool=callgrind).
void MillionOps(benchmark::internal::Benchmark* b) {
  const char* ops = std::getenv("SIM_BENCH_OPS");
  const int64_t n = ops != nullptr && std::atoll(ops) > 0 ? std::atoll(ops) : 1'000'000;
  b->Args({n, 100'000})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
}

// Virtual microseconds between operations at `ops_per_virtual_second` (at least 1).
int64_t OpStepUs(int64_t ops_per_virtual_second) {
  return 1'000'000 / ops_per_virtual_second > 0 ? 1'000'000 / ops_per_virtual_second : 1;
}

// The counters every benchmark here reports, once "deliveries" is set.
// `sys_start`: SystemSeconds() as the benchmark began. Its system time is reported because
// it is mostly first touches of fresh memory, which some machines (a VM whose host backs its
// memory lazily) make far costlier than others: where the rates swing, look there first.
void SetRates(benchmark::State& state, int64_t total_ops, double sys_start) {
  state.counters["sys_s"] =
      benchmark::Counter(SystemSeconds() - sys_start, benchmark::Counter::kAvgIterations);
  state.counters["client_ops_per_s"] =
      benchmark::Counter(static_cast<double>(total_ops), benchmark::Counter::kIsRate);
  state.counters["deliveries_per_s"] =
      benchmark::Counter(state.counters["deliveries"], benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = static_cast<double>(PeakRssKb()) / 1024.0;
}

void BM_FiveRegionsMillionOps(benchmark::State& state) {
  const int64_t total_ops = state.range(0);
  const int64_t ops_per_virtual_second = state.range(1);
  const double sys_start = SystemSeconds();
  for (auto _ : state) {
    SimConfig config;
    config.seed = 42;
    for (const char* name : {"A", "B", "C", "D", "E"}) config.regions.push_back({name, SimTime(0)});
    Simulation sim(config);
    for (int a = 0; a < kRegions; ++a) {
      for (int b = 0; b < kRegions; ++b) {
        if (a != b) sim.network().SetLink(a, b, LinkParams{SimTime(kLinkLatencyUs), SimTime(0), 0});
      }
    }
    Rng rng(7);
    std::vector<std::string> argv;
    const SimTime step(OpStepUs(ops_per_virtual_second));
    SimTime now(0);
    for (int64_t i = 0; i < total_ops; ++i) {
      if (i % 4 == 0) {  // a few operations share an instant, as concurrent clients do
        now += step * 4;
        sim.AdvanceTo(now);
      }
      int region = NextOperation(&rng, &argv);
      benchmark::DoNotOptimize(sim.Execute(region, argv));
    }
    auto res = sim.Sync();
    if (!res.done) state.SkipWithError("did not converge");
    state.PauseTiming();  // reading the counters is not part of the work (Metrics also
                          // measures each store's memory, a walk of all its keys)
    uint64_t delivered = 0;
    for (int r = 0; r < kRegions; ++r) {
      for (const auto& p : sim.Metrics(r).peers) delivered += p.effects_received;
    }
    state.counters["deliveries"] = static_cast<double>(delivered);
    state.counters["events"] = static_cast<double>(sim.loop().events_run());
    state.counters["virtual_s"] = static_cast<double>(sim.Now().count()) / 1e6;
    state.ResumeTiming();
  }
  SetRates(state, total_ops, sys_start);
}
BENCHMARK(BM_FiveRegionsMillionOps)->Apply(MillionOps);

// Both bare benchmarks: each operation runs at its origin store, and its effect is merged
// into the other four `delay_ops` operations later (0: at once), whether or not the
// operations between made effects (a refused SREM makes none): the delay is time, as on a
// link. Every operation takes the oldest slot of a ring of strings that keep their room, so
// the queue allocates nothing once full.
void FiveKeyspaces(benchmark::State& state, int64_t delay_ops) {
  const int64_t total_ops = state.range(0);
  const double sys_start = SystemSeconds();
  for (auto _ : state) {
    std::vector<std::unique_ptr<Store>> stores;
    for (int r = 0; r < kRegions; ++r) {
      stores.push_back(cluster_sim::NewMemoryStore(crdt::MakeReplicaId(r, 1)));
    }
    Rng rng(7);
    std::vector<std::string> argv;
    std::string effect;
    struct Waiting {
      int origin = -1;  // -1: no effect waits here
      std::string effect;
    };
    std::vector<Waiting> queue(static_cast<size_t>(delay_ops));
    size_t next = 0;  // the oldest slot, which the next operation takes
    const int64_t step = OpStepUs(state.range(1));
    int64_t now = 0;
    uint64_t delivered = 0;
    auto merge = [&](int origin, const std::string& e) {
      for (int r = 0; r < kRegions; ++r) {
        if (r == origin) continue;
        if (!stores[r]->Merge(e).ok()) state.SkipWithError("merge failed");
        ++delivered;
      }
    };
    for (int64_t i = 0; i < total_ops; ++i) {
      if (i % 4 == 0) now += step * 4;
      int region = NextOperation(&rng, &argv);
      effect.clear();
      benchmark::DoNotOptimize(stores[region]->Execute(argv, now, &effect));
      if (queue.empty()) {
        if (!effect.empty()) merge(region, effect);
        continue;
      }
      Waiting& w = queue[next];
      if (w.origin >= 0) merge(w.origin, w.effect);
      w.origin = effect.empty() ? -1 : region;
      w.effect.swap(effect);
      next = next + 1 == queue.size() ? 0 : next + 1;
    }
    for (size_t k = 0; k < queue.size(); ++k) {  // the effects still waiting, oldest first
      const Waiting& w = queue[(next + k) % queue.size()];
      if (w.origin >= 0) merge(w.origin, w.effect);
    }
    state.PauseTiming();  // the check is not part of the work
    for (int r = 1; r < kRegions; ++r) {
      if (stores[r]->DumpAll() != stores[0]->DumpAll()) state.SkipWithError("did not converge");
    }
    state.counters["deliveries"] = static_cast<double>(delivered);
    // Store::MemoryBytes (the keyspace's own count of what it holds) per key, region 0.
    state.counters["memory_bytes_per_key"] = static_cast<double>(stores[0]->MemoryBytes()) /
                                             static_cast<double>(stores[0]->Keys().size());
    state.ResumeTiming();
  }
  SetRates(state, total_ops, sys_start);
}

void BM_FiveKeyspacesDirect(benchmark::State& state) { FiveKeyspaces(state, 0); }
BENCHMARK(BM_FiveKeyspacesDirect)->Apply(MillionOps);

// The operations the simulator's links hold in flight at this rate: 50 ms / 10 us = 5,000.
void BM_FiveKeyspacesDelayed(benchmark::State& state) {
  FiveKeyspaces(state, kLinkLatencyUs / OpStepUs(state.range(1)));
}
BENCHMARK(BM_FiveKeyspacesDelayed)->Apply(MillionOps);

}  // namespace

BENCHMARK_MAIN();
