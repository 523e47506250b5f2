// Replicated streams (crdt/stream.h): XADDs per second, merge throughput, and the metadata
// bytes per entry of a stream written by 5 replicas. Fixed inputs, no randomness; figures
// and the machine they were measured on in bench/RESULTS.md.
//
// Entries have one field and one value of 8 bytes each ("f", "job:0001"), the shape of a
// work queue; ids are as the strict id mode makes them (milliseconds rising, the sequence
// naming the region), so the entries of two replicas interleave in the merged stream.
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "crdt/keyspace.h"
#include "keyspace_bench.h"

namespace {

using crdt::Keyspace;
using crdt::MakeReplicaId;
using crdt::StreamId;

constexpr size_t kBatch = 1'000'000;

crdt::StreamStore::Fields Entry() { return {"f", "job:0001"}; }

// XADD on one key of a keyspace, no delta recorded (a region with no peer).
void BM_StreamXAdd(benchmark::State& state) {
  aasim_bench::FillFresh(state, kBatch, 0, [](Keyspace& ks, size_t i, Keyspace* delta) {
    ks.XAdd("s", StreamId{1 + i, 1}, Entry(), delta);
  });
}
BENCHMARK(BM_StreamXAdd)->Unit(benchmark::kMillisecond);

// The same, each XADD also recording its effect into a delta (one delta per 100 XADDs, as
// a replicator batches them).
void BM_StreamXAddWithDeltas(benchmark::State& state) {
  aasim_bench::FillFresh(state, kBatch, 100, [](Keyspace& ks, size_t i, Keyspace* delta) {
    ks.XAdd("s", StreamId{1 + i, 1}, Entry(), delta);
  });
}
BENCHMARK(BM_StreamXAddWithDeltas)->Unit(benchmark::kMillisecond);

// Merge throughput: a replica joins encoded deltas of 100 XADDs each (1M entries).
void BM_StreamMergeDeltas(benchmark::State& state) {
  const std::vector<std::string> deltas =
      aasim_bench::EncodedDeltas(kBatch, 100, [](Keyspace& ks, size_t i, Keyspace* delta) {
        ks.XAdd("s", StreamId{1 + i, 1}, Entry(), delta);
      });
  aasim_bench::MergeDeltas(state, deltas, kBatch);
}
BENCHMARK(BM_StreamMergeDeltas)->Unit(benchmark::kMillisecond);

// Full-state merge of two replicas' streams of 500k entries each (a full sync).
void BM_StreamMergeFullState(benchmark::State& state) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  for (size_t i = 0; i < kBatch / 2; ++i) {
    a.XAdd("s", StreamId{1 + i, 1}, Entry(), nullptr);
    b.XAdd("s", StreamId{1 + i, 2}, Entry(), nullptr);
  }
  aasim_bench::MergeFullState(state, a, b, kBatch);
}
BENCHMARK(BM_StreamMergeFullState)->Unit(benchmark::kMillisecond);

// Metadata per entry at 5 replicas: each appends 200k entries, all merge; memory and
// encoded size per entry beyond the entry's own field and value bytes.
void BM_StreamBytesPerEntry5Replicas(benchmark::State& state) {
  constexpr size_t kPerReplica = 200'000;
  for (auto _ : state) {
    std::vector<Keyspace> rs;
    for (uint16_t r = 1; r <= 5; ++r) rs.emplace_back(MakeReplicaId(r, 1));
    for (size_t r = 0; r < rs.size(); ++r) {
      for (size_t i = 0; i < kPerReplica; ++i) {
        rs[r].XAdd("s", StreamId{1 + i, 1 + r}, Entry(), nullptr);
      }
    }
    for (size_t i = 1; i < rs.size(); ++i) rs[0].Merge(rs[i]);
    const size_t n = rs[0].Stream("s")->size();
    const double field_bytes = 1 + 8;  // "f" and "job:0001", each inline in its std::string
    state.counters["entries"] = static_cast<double>(n);
    state.counters["memory_B_per_entry"] = static_cast<double>(rs[0].MemoryBytes()) / n;
    state.counters["encoded_B_per_entry"] =
        static_cast<double>(rs[0].Encode().size()) / n - (field_bytes + 2);  // + 2 lengths
  }
}
BENCHMARK(BM_StreamBytesPerEntry5Replicas)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
