// The lending service's cost in the simulator: borrow/return requests per second of
// wall time through the whole stack (XADD, XREADGROUP, WATCH/MULTI/EXEC on a Session,
// the memory store, replication of each transaction's effect to a peer region), and the
// cost of one optimistic transaction on a Session. Fixed seeds; memory store.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cluster_sim/rng.h"
#include "cluster_sim/session.h"
#include "cluster_sim/simulation.h"
#include "lending/lending.h"

namespace {

using cluster_sim::Rng;
using cluster_sim::Session;
using cluster_sim::SimConfig;
using cluster_sim::SimTime;
using cluster_sim::Simulation;

// state.range(0) instances in region A (peer B receives every effect); 200 users, 2,000
// books, 1-3 books per request, one request in four a return of books the user holds.
void BM_LendingRequests(benchmark::State& state) {
  const int instances = static_cast<int>(state.range(0));
  int64_t requests = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SimConfig config;
    config.seed = 7;
    config.regions = {{"A", SimTime(0)}, {"B", SimTime(0)}};
    Simulation sim(config);
    std::vector<std::unique_ptr<Session>> sessions;
    std::vector<std::unique_ptr<lending::LendingWorker>> workers;
    std::vector<std::string> out;
    std::string error;
    for (int i = 0; i < instances; ++i) {
      sessions.push_back(std::make_unique<Session>(cluster_sim::SimulationBackend(sim, 0)));
      workers.push_back(
          std::make_unique<lending::LendingWorker>("A-" + std::to_string(i + 1), *sessions.back()));
      workers.back()->Start(&error);
    }
    Session producer(cluster_sim::SimulationBackend(sim, 0));
    Rng rng(42);
    state.ResumeTiming();
    for (int n = 0; n < 10'000; ++n) {
      sim.AdvanceBy(SimTime(100));  // 10,000 requests per virtual second
      bool is_return = rng.Uniform(4) == 0;
      std::string user = "u" + std::to_string(rng.Uniform(200));
      std::vector<std::string> books;
      for (uint64_t i = 0, k = 1 + rng.Uniform(3); i < k; ++i) {
        books.push_back("b" + std::to_string(rng.Uniform(2000)));
      }
      lending::SubmitRequest(producer, is_return, user, books, &error);
      for (bool progress = true; progress;) {
        progress = false;
        for (auto& w : workers) progress = w->Poll(&out).progressed || progress;
      }
      out.clear();
      ++requests;
    }
    sim.Sync();
  }
  state.counters["requests/s"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LendingRequests)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond);

// WATCH k; GET k; MULTI; INCR k; SADD s m; EXEC on one Session of a simulated region.
void BM_SessionOptimisticTransaction(benchmark::State& state) {
  SimConfig config;
  config.seed = 7;
  config.regions = {{"A", SimTime(0)}, {"B", SimTime(0)}};
  Simulation sim(config);
  Session s(cluster_sim::SimulationBackend(sim, 0));
  int64_t n = 0;
  for (auto _ : state) {
    std::string k = "k" + std::to_string(n % 1000);
    s.Execute({"WATCH", k});
    s.Execute({"GET", k});
    s.Execute({"MULTI"});
    s.Execute({"INCR", k});
    s.Execute({"SADD", "s", k});
    benchmark::DoNotOptimize(s.Execute({"EXEC"}));
    if (++n % 1000 == 0) sim.AdvanceBy(SimTime(100'000));
  }
  state.counters["tx/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SessionOptimisticTransaction);

}  // namespace

BENCHMARK_MAIN();
