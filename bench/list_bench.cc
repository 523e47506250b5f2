// Lists (crdt/list.h): pushes and pops per second, merge throughput, and the metadata bytes
// per element of a list written by 5 replicas. Fixed inputs, no randomness; figures and
// the machine they were measured on in bench/RESULTS.md.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "crdt/keyspace.h"
#include "keyspace_bench.h"

namespace {

using crdt::Keyspace;
using crdt::MakeReplicaId;

constexpr size_t kBatch = 1'000'000;

// RPUSH of 8-byte values on one key of a keyspace, no delta recorded (a region with no
// peer), as the command engine calls it.
void BM_ListRPush(benchmark::State& state) {
  aasim_bench::FillFresh(state, kBatch, 0, [](Keyspace& ks, size_t i, Keyspace* delta) {
    ks.LInsert("q", i, "job:0001", delta);
  });
}
BENCHMARK(BM_ListRPush)->Unit(benchmark::kMillisecond);

// The same, each push also recording its effect into a delta (one delta per 100 pushes, as
// a replicator batches them).
void BM_ListRPushWithDeltas(benchmark::State& state) {
  aasim_bench::FillFresh(state, kBatch, 100, [](Keyspace& ks, size_t i, Keyspace* delta) {
    ks.LInsert("q", i, "job:0001", delta);
  });
}
BENCHMARK(BM_ListRPushWithDeltas)->Unit(benchmark::kMillisecond);

// LPOP then RPUSH on a list of 100k elements (a queue in steady state), with deltas.
void BM_ListQueueChurn(benchmark::State& state) {
  Keyspace ks(MakeReplicaId(1, 1));
  for (size_t i = 0; i < 100'000; ++i) ks.LInsert("q", i, "job", nullptr);
  for (auto _ : state) {
    Keyspace delta = ks.NewDelta();
    ks.LEraseRange("q", 0, 1, &delta);
    ks.LInsert("q", ks.List("q")->size(), "job", &delta);
    benchmark::DoNotOptimize(delta);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2));
}
BENCHMARK(BM_ListQueueChurn);

// Merge throughput: a replica joins encoded deltas of 100 RPUSHes each (1M elements).
void BM_ListMergeDeltas(benchmark::State& state) {
  const std::vector<std::string> deltas = aasim_bench::EncodedDeltas(
      kBatch, 100,
      [](Keyspace& ks, size_t i, Keyspace* delta) { ks.LInsert("q", i, "job:0001", delta); });
  aasim_bench::MergeDeltas(state, deltas, kBatch);
}
BENCHMARK(BM_ListMergeDeltas)->Unit(benchmark::kMillisecond);

// Full-state merge of two replicas' lists of 500k elements each (a full sync).
void BM_ListMergeFullState(benchmark::State& state) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  for (size_t i = 0; i < kBatch / 2; ++i) {
    a.LInsert("q", i, "a", nullptr);
    b.LInsert("q", i, "b", nullptr);
  }
  aasim_bench::MergeFullState(state, a, b, kBatch);
}
BENCHMARK(BM_ListMergeFullState)->Unit(benchmark::kMillisecond);

// Metadata per element at 5 replicas: each pushes 200k 8-byte values (some LINSERTs in the
// middle), all merge; memory and encoded size minus the values' own bytes, per element.
void BM_ListBytesPerElement5Replicas(benchmark::State& state) {
  constexpr size_t kPerReplica = 200'000;
  for (auto _ : state) {
    std::vector<Keyspace> rs;
    for (uint16_t r = 1; r <= 5; ++r) rs.emplace_back(MakeReplicaId(r, 1));
    for (auto& ks : rs) {
      for (size_t i = 0; i < kPerReplica; ++i) {
        size_t n = ks.List("q") ? ks.List("q")->size() : 0;
        ks.LInsert("q", i % 100 == 99 ? n / 2 : n, "job:0001", nullptr);
      }
    }
    for (size_t i = 1; i < rs.size(); ++i) rs[0].Merge(rs[i]);
    const size_t n = rs[0].List("q")->size();
    const double value_bytes = 8.0;  // in the string's inline buffer, inside the entry
    state.counters["elements"] = static_cast<double>(n);
    state.counters["memory_B_per_elem"] = static_cast<double>(rs[0].MemoryBytes()) / n;
    state.counters["metadata_B_per_elem"] =
        static_cast<double>(rs[0].MemoryBytes()) / n - 32.0;  // minus the std::string (32 B)
    state.counters["encoded_B_per_elem"] =
        static_cast<double>(rs[0].Encode().size()) / n - (value_bytes + 1);
  }
}
BENCHMARK(BM_ListBytesPerElement5Replicas)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
