// Sorted-set and HyperLogLog benchmarks (crdt/zset.h, crdt/hll.h) through the keyspace:
// ZADD throughput on 1M members, merge throughput of ZADD deltas, and metadata bytes per
// member at 5 replicas. Fixed seeds; figures in bench/RESULTS.md.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "crdt/keyspace.h"

namespace {

// Members of the big sorted set: 1M, or AASIM_ZSET_BENCH_MEMBERS (a smaller set for a run
// under callgrind, e.g. `--benchmark_filter=ZaddFresh` with 100000).
const size_t kMembers = [] {
  const char* env = std::getenv("AASIM_ZSET_BENCH_MEMBERS");
  const long long n = env ? std::atoll(env) : 0;
  return n > 0 ? static_cast<size_t>(n) : size_t{1'000'000};
}();

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back("player:" + std::to_string(i));
  return out;
}

// A field of /proc/self/smaps_rollup ("Rss", "AnonHugePages") in MiB; 0 where there is none.
double SmapsMiB(const std::string& field) {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string name;
  double kib = 0;
  while (in >> name) {
    if (name == field + ":") {
      in >> kib;
      return kib / 1024;
    }
  }
  return 0;
}

// ZADD of new members until the set holds kMembers, scores drawn from as many values (37%
// of inserts tie an existing score at 1M), no delta, as a replica's local apply.
void BM_ZaddFresh(benchmark::State& state) {
  const std::vector<std::string> names = Names(kMembers);
  for (auto _ : state) {
    state.PauseTiming();
    crdt::Keyspace ks(crdt::MakeReplicaId(0, 1));
    state.ResumeTiming();
    for (size_t i = 0; i < kMembers; ++i) {
      ks.ZAdd("lb", names[i], static_cast<double>(Mix(i) % kMembers), 1, nullptr);
    }
    benchmark::DoNotOptimize(ks);
    state.PauseTiming();
    // The process's resident memory with the full set, and how much of it is huge pages.
    state.counters["rss_mib"] = SmapsMiB("Rss");
    state.counters["huge_mib"] = SmapsMiB("AnonHugePages");
    ks = crdt::Keyspace();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMembers));
}
BENCHMARK(BM_ZaddFresh)->Unit(benchmark::kMillisecond)->Iterations(1);

// ZADD of a new score for an existing member of a 1M-member set (the index moves it),
// with and without recording the delta.
void BM_ZaddUpdate(benchmark::State& state) {
  const std::vector<std::string> names = Names(kMembers);
  crdt::Keyspace ks(crdt::MakeReplicaId(0, 1));
  for (size_t i = 0; i < kMembers; ++i) ks.ZAdd("lb", names[i], static_cast<double>(i), 1, nullptr);
  const bool with_delta = state.range(0) != 0;
  uint64_t n = 0;
  for (auto _ : state) {
    const size_t i = Mix(n) % kMembers;
    if (with_delta) {
      crdt::Keyspace d = ks.NewDelta();
      ks.ZAdd("lb", names[i], static_cast<double>(Mix(n + 1) % 1'000'000), 2, &d);
      benchmark::DoNotOptimize(d);
    } else {
      ks.ZAdd("lb", names[i], static_cast<double>(Mix(n + 1) % 1'000'000), 2, nullptr);
    }
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ZaddUpdate)->ArgName("delta")->Arg(0)->Arg(1);

// A replica merging encoded one-member ZADD deltas from a peer into a 1M-member set.
void BM_ZsetMergeDeltas(benchmark::State& state) {
  const std::vector<std::string> names = Names(kMembers);
  crdt::Keyspace a(crdt::MakeReplicaId(0, 1)), b(crdt::MakeReplicaId(1, 1));
  crdt::Keyspace all = a.NewDelta();
  for (size_t i = 0; i < kMembers; ++i) a.ZAdd("lb", names[i], static_cast<double>(i), 1, &all);
  b.Merge(all);
  std::vector<std::string> deltas;
  for (size_t k = 0; k < 4096; ++k) {
    crdt::Keyspace d = a.NewDelta();
    a.ZAdd("lb", names[Mix(k) % kMembers], static_cast<double>(k), 2, &d);
    deltas.push_back(d.Encode());
  }
  crdt::Keyspace::MergeScratch scratch;
  std::string error;
  size_t k = 0;
  for (auto _ : state) {
    b.MergeEncoded(deltas[k++ % deltas.size()], &error, &scratch);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ZsetMergeDeltas);

// Metadata per member: 5 replicas each ZADD a fifth of 100k members and ZINCRBY some;
// after full exchange, the encoded state's bytes minus the bytes of the member names and
// scores (the data Redis itself would hold), per member.
void BM_ZsetMetadataBytes(benchmark::State& state) {
  constexpr size_t kN = 100'000;
  constexpr int kReplicas = 5;
  const std::vector<std::string> names = Names(kN);
  for (auto _ : state) {
    std::vector<crdt::Keyspace> rs;
    for (int r = 0; r < kReplicas; ++r)
      rs.emplace_back(crdt::MakeReplicaId(static_cast<uint16_t>(r), 1));
    for (size_t i = 0; i < kN; ++i) {
      crdt::Keyspace& k = rs[i % kReplicas];
      k.ZAdd("lb", names[i], static_cast<double>(i), 1, nullptr);
      if (state.range(0) != 0) k.ZIncrBy("lb", names[i], 1, nullptr);
    }
    for (int r = 1; r < kReplicas; ++r) rs[0].Merge(rs[r]);
    size_t data = 0;
    for (const std::string& n : names) data += n.size() + 8;
    const std::string enc = rs[0].Encode();
    state.counters["bytes_per_member_encoded"] =
        static_cast<double>(enc.size() - data) / static_cast<double>(kN);
    state.counters["memory_bytes_per_member"] =
        static_cast<double>(rs[0].MemoryBytes()) / static_cast<double>(kN);
  }
}
BENCHMARK(BM_ZsetMetadataBytes)
    ->ArgName("incremented")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_PfAdd(benchmark::State& state) {
  crdt::Keyspace ks(crdt::MakeReplicaId(0, 1));
  uint64_t n = 0;
  std::string e;
  for (auto _ : state) {
    e = "visitor:" + std::to_string(n++);
    ks.PfAdd("v", {e}, nullptr);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PfAdd);

}  // namespace

BENCHMARK_MAIN();
