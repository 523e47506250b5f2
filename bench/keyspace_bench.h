// Shared shapes of the per-type keyspace benchmarks (list_bench, stream_bench): fill a
// fresh keyspace with one key's writes, merge encoded deltas into a fresh replica, merge
// one full state into another. Each reports items per second.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "crdt/keyspace.h"

namespace aasim_bench {

// Times write(ks, i, delta) for i in [0, n) on a fresh keyspace of replica 1 (its
// construction and destruction are not timed); delta is null when per_delta is 0, else a
// fresh delta every per_delta writes (as a replicator batches them).
template <typename Write>
void FillFresh(benchmark::State& state, size_t n, size_t per_delta, Write write) {
  for (auto _ : state) {
    state.PauseTiming();
    crdt::Keyspace ks(crdt::MakeReplicaId(1, 1));
    state.ResumeTiming();
    if (per_delta == 0) {
      for (size_t i = 0; i < n; ++i) write(ks, i, nullptr);
    } else {
      for (size_t i = 0; i < n; i += per_delta) {
        crdt::Keyspace delta = ks.NewDelta();
        for (size_t j = i; j < i + per_delta && j < n; ++j) write(ks, j, &delta);
        benchmark::DoNotOptimize(delta);
      }
    }
    benchmark::DoNotOptimize(ks);
    state.PauseTiming();
    { crdt::Keyspace gone = std::move(ks); }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}

// The encoded deltas of write(source, i, &delta) for i in [0, n), `per_delta` writes each.
template <typename Write>
std::vector<std::string> EncodedDeltas(size_t n, size_t per_delta, Write write) {
  crdt::Keyspace source(crdt::MakeReplicaId(1, 1));
  std::vector<std::string> deltas;
  for (size_t i = 0; i < n; i += per_delta) {
    crdt::Keyspace delta = source.NewDelta();
    for (size_t j = i; j < i + per_delta && j < n; ++j) write(source, j, &delta);
    deltas.push_back(delta.Encode());
  }
  return deltas;
}

// Times a fresh replica 2 joining every delta (MergeEncoded, as the replicator does).
inline void MergeDeltas(benchmark::State& state, const std::vector<std::string>& deltas,
                        size_t items) {
  for (auto _ : state) {
    crdt::Keyspace target(crdt::MakeReplicaId(2, 1));
    crdt::Keyspace::MergeScratch scratch;
    std::string error;
    for (const std::string& d : deltas) {
      if (!target.MergeEncoded(d, &error, &scratch)) state.SkipWithError(error.c_str());
    }
    benchmark::DoNotOptimize(target);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
}

// Times a copy of `a` joining `b` (a full sync).
inline void MergeFullState(benchmark::State& state, const crdt::Keyspace& a,
                           const crdt::Keyspace& b, size_t items) {
  for (auto _ : state) {
    crdt::Keyspace x = a;
    x.Merge(b);
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
}

}  // namespace aasim_bench
