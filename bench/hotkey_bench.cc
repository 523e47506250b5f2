// The hot-key engine (cluster_sim/hotkey.h, issue 7). Target: >= 5M simulated events per
// second of wall time on one core (ROSS, a parallel discrete-event simulator, reports 1.25M/s
// on a quad-processor PC).
//
//   BM_EventLoop*      EventLoop itself: chains of std::function events, `pending` events
//                      in the queue at any time.
//   BM_PerOpOnEventLoop the hot-key per-op model (closed loop, constant service, one key)
//                      written on EventLoop, one callback per event: what the shard model
//                      would cost on the shared loop.
//   BM_HotKey*         RunHotKey, the shard model on its own POD heap: events/s, and the
//                      shard operations (local writes + replicated applies) per second.
// Fixed seeds; rates are per CPU second of the benchmark thread.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "cluster_sim/event_loop.h"
#include "cluster_sim/hotkey.h"
#include "cluster_sim/time.h"

namespace {

using cluster_sim::Arrival;
using cluster_sim::EventLoop;
using cluster_sim::HotKeyConfig;
using cluster_sim::HotKeyReport;
using cluster_sim::ReplicationMode;
using cluster_sim::ServiceDist;
using cluster_sim::SimTime;

// `pending` chains; each event schedules the next of its chain 1..8us later.
struct Chains {
  EventLoop* loop;
  int64_t left;
  void Tick(uint32_t id) {
    if (--left <= 0) return;
    loop->After(SimTime(1 + (id & 7)), [this, id] { Tick(id); });
  }
};

void BM_EventLoop(benchmark::State& state) {
  const int64_t pending = state.range(0);
  uint64_t events = 0;
  for (auto _ : state) {
    EventLoop loop;
    Chains chains{&loop, 1'000'000};
    for (int64_t i = 0; i < pending; ++i) {
      loop.At(SimTime(i), [&chains, i] { chains.Tick(static_cast<uint32_t>(i)); });
    }
    while (loop.RunOne()) {
    }
    events += loop.events_run();
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EventLoop)->Arg(16)->Arg(1024)->Unit(benchmark::kMillisecond);

// The per-op model on EventLoop: k clusters of one shard, W closed-loop writers of one key,
// constant service s, replicated effects s, zero latency (FIFO shards by Lindley's
// recursion, as RunHotKey does).
struct PerOpOnLoop {
  EventLoop loop;
  int clusters;
  int64_t service;
  uint64_t ops_per_writer;
  std::vector<int64_t> free_at;
  std::vector<uint64_t> issued;
  uint64_t applies = 0;

  int64_t Enqueue(int shard) {
    const int64_t now = loop.Now().count();
    int64_t& f = free_at[static_cast<size_t>(shard)];
    f = std::max(now, f) + service;
    ++applies;
    return f;
  }
  void Arrive(int writer) {
    const int cluster = writer % clusters;
    const int64_t done = Enqueue(cluster);
    loop.At(SimTime(done), [this, writer] { Done(writer); });
  }
  void Done(int writer) {
    const int cluster = writer % clusters;
    for (int p = 0; p < clusters; ++p) {
      if (p != cluster) loop.After(SimTime(0), [this, p] { Enqueue(p); });
    }
    if (++issued[static_cast<size_t>(writer)] < ops_per_writer) {
      loop.After(SimTime(0), [this, writer] { Arrive(writer); });
    }
  }
};

void BM_PerOpOnEventLoop(benchmark::State& state) {
  uint64_t events = 0, applies = 0;
  for (auto _ : state) {
    PerOpOnLoop m;
    m.clusters = static_cast<int>(state.range(0));
    m.service = 1000;
    m.ops_per_writer = 2000;
    const int writers = 64;
    m.free_at.assign(static_cast<size_t>(m.clusters), 0);
    m.issued.assign(static_cast<size_t>(writers), 0);
    for (int w = 0; w < writers; ++w) m.loop.At(SimTime(0), [&m, w] { m.Arrive(w); });
    while (m.loop.RunOne()) {
    }
    events += m.loop.events_run();
    applies += m.applies;
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["applies/s"] =
      benchmark::Counter(static_cast<double>(applies), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PerOpOnEventLoop)->Arg(8)->Unit(benchmark::kMillisecond);

void RunEngine(benchmark::State& state, const HotKeyConfig& config) {
  uint64_t events = 0, applies = 0, writes = 0;
  for (auto _ : state) {
    cluster_sim::Result<HotKeyReport> r = cluster_sim::RunHotKey(config);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    events += r->events;
    applies += r->applies;
    writes += r->writes;
    benchmark::DoNotOptimize(r->last_write);
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["applies/s"] =
      benchmark::Counter(static_cast<double>(applies), benchmark::Counter::kIsRate);
  state.counters["writes/s"] =
      benchmark::Counter(static_cast<double>(writes), benchmark::Counter::kIsRate);
}

// The same experiment as BM_PerOpOnEventLoop: 64 writers x 2000 writes of one key, per-op,
// k clusters (k = 8: 128k writes, 1.15M events, 1M shard operations per run).
void BM_HotKeyPerOp(benchmark::State& state) {
  HotKeyConfig c;
  c.writers = 64;
  c.clusters = static_cast<int>(state.range(0));
  c.arrival = Arrival::kClosedLoop;
  c.ops_per_writer = 2000;
  c.mode = ReplicationMode::kPerOp;
  RunEngine(state, c);
}
BENCHMARK(BM_HotKeyPerOp)->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond);

// Coalesced: far fewer replicated applies per write.
void BM_HotKeyCoalesced(benchmark::State& state) {
  HotKeyConfig c;
  c.writers = 64;
  c.clusters = 8;
  c.arrival = Arrival::kClosedLoop;
  c.ops_per_writer = 2000;
  c.mode = ReplicationMode::kCoalesced;
  c.coalesce_interval = SimTime(10'000);
  RunEngine(state, c);
}
BENCHMARK(BM_HotKeyCoalesced)->Unit(benchmark::kMillisecond);

// Everything random: 4 clusters x 16 shards, 10,000 Zipf keys, exponential service,
// 40ms links, per-op.
void BM_HotKeyZipfShards(benchmark::State& state) {
  HotKeyConfig c;
  c.writers = 256;
  c.clusters = 4;
  c.shards = 16;
  c.service_dist = ServiceDist::kExponential;
  c.link_latency = SimTime(40'000);
  c.keys = 10'000;
  c.zipf_s = 1.0;
  c.arrival = Arrival::kClosedLoop;
  c.ops_per_writer = 1000;
  c.mode = ReplicationMode::kPerOp;
  c.seed = 42;
  RunEngine(state, c);
}
BENCHMARK(BM_HotKeyZipfShards)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
