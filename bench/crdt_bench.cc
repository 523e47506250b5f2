// crdt_bench: throughput and metadata cost of the CRDT core against the targets in
// bench/RESULTS.md. Every operation goes through the public API (AwOrSet::Add / Remove /
// Merge return or consume deltas, PnCounter::Increment returns its delta).
//
// Workload: the "1M state" is 1,000,000 elements ("el:" + 8 digits, 11 bytes, inline in
// Bytes), added 200,000 each by 5 replicas and merged, so dots come from 5 replicas and the
// context holds 5 counters. Operation streams are shuffled with a fixed seed (SplitMix64),
// so hash-table accesses are random, as in a real keyspace. A benchmark that changes the
// state restores it every kPool (2^18) operations with the timer paused, so the live size
// stays between 1M and 1M + kPool. The per-operation benchmarks also run on a 10K state,
// which stays in cache: the gap between the two is the cost of DRAM latency.
//
// Counters: items_per_second (operations or dots, see each benchmark), `live` (elements
// in the set at the end), and for the memory benchmark bytes per live element, measured
// both by AwOrSet::MemoryBytes() and by mallinfo2() deltas around building the set.
// Single-threaded; deterministic inputs; timings are of course not.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <malloc.h>

#include "crdt/aw_or_set.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "crdt/pn_counter.h"

namespace {

using crdt::AwOrSet;
using crdt::PnCounter;
using crdt::ReplicaId;

constexpr size_t kLive = 1'000'000;
constexpr int kReplicas = 5;
constexpr size_t kPool = size_t{1} << 18;  // operations between (untimed) state restores
constexpr uint64_t kSeed = 20240611;

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return Next() % n; }  // bias is irrelevant here

 private:
  uint64_t s_;
};

ReplicaId Replica(int i) { return crdt::MakeReplicaId(static_cast<uint16_t>(i + 1), 1); }

// Writes the element name of id into buf (no heap): "el:" + 8 digits, or with long_name a
// 32-byte name that does not fit inline. Returns its length.
size_t FormatElement(uint64_t id, bool long_name, char* buf, size_t cap) {
  int n = long_name ? std::snprintf(buf, cap, "customer/eu-west/session:%07llu",
                                    static_cast<unsigned long long>(id))
                    : std::snprintf(buf, cap, "el:%08llu", static_cast<unsigned long long>(id));
  return static_cast<size_t>(n);
}

std::string Element(uint64_t id) {
  char buf[64];
  return std::string(buf, FormatElement(id, false, buf, sizeof(buf)));
}

// Ids first..first+n-1 in a seeded random order.
std::vector<uint64_t> ShuffledIds(uint64_t first, size_t n, uint64_t seed) {
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = first + i;
  SplitMix64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(ids[i - 1], ids[rng.Uniform(i)]);
  return ids;
}

std::vector<std::string> Names(const std::vector<uint64_t>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (uint64_t id : ids) out.push_back(Element(id));
  return out;
}

// The base state of `live` elements: replica r adds the ids i with i % 5 == r (in id
// order), then all merge. Built once per size.
const AwOrSet& BaseState(size_t live = kLive) {
  static std::map<size_t, std::unique_ptr<AwOrSet>> cache;
  std::unique_ptr<AwOrSet>& slot = cache[live];
  if (!slot) {
    std::vector<AwOrSet> replicas;
    for (int r = 0; r < kReplicas; ++r) {
      replicas.emplace_back(Replica(r));
      for (uint64_t id = static_cast<uint64_t>(r); id < live; id += kReplicas) {
        replicas.back().Add(Element(id));
      }
    }
    slot = std::make_unique<AwOrSet>(Replica(0));
    for (const AwOrSet& s : replicas) slot->Merge(s);
  }
  return *slot;
}

// Replica r's copy of the base state (merging into an empty set gives it r's identity).
AwOrSet BaseAs(int r, size_t live = kLive) {
  AwOrSet s(Replica(r));
  s.Merge(BaseState(live));
  return s;
}

// Operations between untimed restores: at most a quarter of the live size.
size_t PoolFor(size_t live) { return std::min(kPool, live / 4); }

size_t DotCount(const AwOrSet& s) {
  size_t n = 0;
  s.store().ForEach([&](std::string_view, const crdt::SetStore::DotList& d) { n += d.size(); });
  return n;
}

// ---- AwOrSet::Add / Remove with 1M live elements ----

// Adds elements that are not in the set (a fresh entry each).
void BM_AwOrSetAddFresh(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t pool_size = PoolFor(live);
  AwOrSet s = BaseAs(0, live);
  const std::vector<std::string> pool = Names(ShuffledIds(live, pool_size, kSeed + 1));
  size_t k = 0;
  for (auto _ : state) {
    if (k == pool.size()) {
      state.PauseTiming();
      for (const std::string& e : pool) s.Remove(e);
      k = 0;
      state.ResumeTiming();
    }
    AwOrSet delta = s.Add(pool[k++]);
    benchmark::DoNotOptimize(delta);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["live"] = static_cast<double>(s.Size());
}
BENCHMARK(BM_AwOrSetAddFresh)->ArgName("live")->Arg(kLive)->Arg(10'000);

// Re-adds elements already present (drops the old dot, tags a new one), random order.
void BM_AwOrSetAddExisting(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  AwOrSet s = BaseAs(0, live);
  const std::vector<std::string> stream = Names(ShuffledIds(0, live, kSeed + 2));
  size_t k = 0;
  for (auto _ : state) {
    if (k == stream.size()) k = 0;
    AwOrSet delta = s.Add(stream[k++]);
    benchmark::DoNotOptimize(delta);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["live"] = static_cast<double>(s.Size());
}
BENCHMARK(BM_AwOrSetAddExisting)->ArgName("live")->Arg(kLive)->Arg(10'000);

// Removes present elements, random order.
void BM_AwOrSetRemove(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t pool_size = PoolFor(live);
  AwOrSet s = BaseAs(0, live);
  // The same pool ids, added in one random order and removed in another.
  const std::vector<std::string> added = Names(ShuffledIds(live, pool_size, kSeed + 3));
  const std::vector<std::string> removes = Names(ShuffledIds(live, pool_size, kSeed + 4));
  for (const std::string& e : added) s.Add(e);
  size_t k = 0;
  for (auto _ : state) {
    if (k == removes.size()) {
      state.PauseTiming();
      for (const std::string& e : added) s.Add(e);
      k = 0;
      state.ResumeTiming();
    }
    AwOrSet delta = s.Remove(removes[k++]);
    benchmark::DoNotOptimize(delta);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["live"] = static_cast<double>(s.Size());
}
BENCHMARK(BM_AwOrSetRemove)->ArgName("live")->Arg(kLive)->Arg(10'000);

// Steady churn: each iteration adds a fresh element and removes a random old one (2 ops).
void BM_AwOrSetChurn(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t pool_size = PoolFor(live);
  AwOrSet s = BaseAs(0, live);
  const std::vector<std::string> adds = Names(ShuffledIds(live, pool_size, kSeed + 5));
  std::vector<uint64_t> victim_ids = ShuffledIds(0, live, kSeed + 6);
  victim_ids.resize(pool_size);
  const std::vector<std::string> removes = Names(victim_ids);
  size_t k = 0;
  for (auto _ : state) {
    if (k == adds.size()) {
      state.PauseTiming();
      for (size_t i = 0; i < k; ++i) {
        s.Remove(adds[i]);
        s.Add(removes[i]);
      }
      k = 0;
      state.ResumeTiming();
    }
    AwOrSet added = s.Add(adds[k]);
    AwOrSet removed = s.Remove(removes[k]);
    ++k;
    benchmark::DoNotOptimize(added);
    benchmark::DoNotOptimize(removed);
  }
  state.SetItemsProcessed(2 * static_cast<int64_t>(state.iterations()));
  state.counters["live"] = static_cast<double>(s.Size());
}
BENCHMARK(BM_AwOrSetChurn)->ArgName("live")->Arg(kLive)->Arg(10'000);

// ---- AwOrSet::Merge ----

// Replica 1's one-operation deltas (50% fresh adds, 25% re-adds, 25% removes) merged into
// replica 0's 1M state in order. Dots per delta: fresh add 1, re-add 2 (the new dot and the
// one it supersedes), remove 1 (the removed dot).
void BM_AwOrSetMergeSmallDeltas(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t pool_size = PoolFor(live);
  AwOrSet b = BaseAs(1, live);
  const AwOrSet a0 = BaseAs(0, live);
  const std::vector<uint64_t> fresh = ShuffledIds(live, pool_size, kSeed + 7);
  const std::vector<uint64_t> existing = ShuffledIds(0, live, kSeed + 8);
  std::vector<AwOrSet> deltas;
  deltas.reserve(pool_size);
  size_t total_dots = 0, next_fresh = 0, next_existing = 0;
  SplitMix64 rng(kSeed + 9);
  for (size_t i = 0; i < pool_size; ++i) {
    uint64_t dice = rng.Uniform(4);
    if (dice < 2) {
      deltas.push_back(b.Add(Element(fresh[next_fresh++])));
      total_dots += 1;
    } else if (dice == 2) {
      deltas.push_back(b.Add(Element(existing[next_existing++])));
      total_dots += 2;
    } else {
      deltas.push_back(b.Remove(Element(existing[next_existing++])));
      total_dots += 1;
    }
  }
  AwOrSet a = a0;
  size_t k = 0, dots = 0, rounds = 0;
  for (auto _ : state) {
    if (k == deltas.size()) {
      state.PauseTiming();
      a = a0;
      k = 0;
      ++rounds;
      state.ResumeTiming();
    }
    a.Merge(deltas[k++]);
  }
  dots = rounds * total_dots;
  // Dots of the partial round (deltas[0..k)), recomputed from the same dice.
  SplitMix64 replay(kSeed + 9);
  for (size_t i = 0; i < k; ++i) dots += replay.Uniform(4) == 2 ? 2 : 1;
  state.SetItemsProcessed(static_cast<int64_t>(dots));
  state.counters["merges_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["live"] = static_cast<double>(a.Size());
}
BENCHMARK(BM_AwOrSetMergeSmallDeltas)->ArgName("live")->Arg(kLive)->Arg(10'000);

// The same delta stream, batched as a replication link would send it: every 1024
// consecutive deltas joined into one delta group, and the groups merged into the 1M state.
void BM_AwOrSetMergeDeltaGroups(benchmark::State& state) {
  constexpr size_t kBatch = 1024;
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t pool_size = PoolFor(live);
  AwOrSet b = BaseAs(1, live);
  const AwOrSet a0 = BaseAs(0, live);
  const std::vector<uint64_t> fresh = ShuffledIds(live, pool_size, kSeed + 7);
  const std::vector<uint64_t> existing = ShuffledIds(0, live, kSeed + 8);
  std::vector<AwOrSet> groups;
  std::vector<size_t> group_dots;
  size_t next_fresh = 0, next_existing = 0;
  SplitMix64 rng(kSeed + 9);
  for (size_t i = 0; i < pool_size; ++i) {
    uint64_t dice = rng.Uniform(4);
    AwOrSet delta = dice < 2    ? b.Add(Element(fresh[next_fresh++]))
                    : dice == 2 ? b.Add(Element(existing[next_existing++]))
                                : b.Remove(Element(existing[next_existing++]));
    if (i % kBatch == 0) {
      groups.push_back(std::move(delta));
      group_dots.push_back(0);
    } else {
      groups.back().Merge(delta);
    }
    group_dots.back() += dice == 2 ? 2 : 1;
  }
  AwOrSet a = a0;
  size_t k = 0, dots = 0;
  for (auto _ : state) {
    if (k == groups.size()) {
      state.PauseTiming();
      a = a0;
      k = 0;
      state.ResumeTiming();
    }
    dots += group_dots[k];
    a.Merge(groups[k++]);
  }
  state.SetItemsProcessed(static_cast<int64_t>(dots));
  state.counters["live"] = static_cast<double>(a.Size());
}
BENCHMARK(BM_AwOrSetMergeDeltaGroups)->ArgName("live")->Arg(kLive)->Arg(10'000);

// Full-state anti-entropy: replicas 0 and 1 share the 1M state, then each adds 10% fresh
// elements and removes 10% (half of the removes are common). Replica 0 merges replica 1's
// whole state; items = dots in the incoming state.
void BM_AwOrSetMergeFullSync(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t diverge = live / 10;
  AwOrSet a0 = BaseAs(0, live);
  AwOrSet b = BaseAs(1, live);
  const std::vector<uint64_t> fresh = ShuffledIds(live, 2 * diverge, kSeed + 10);
  const std::vector<uint64_t> victims = ShuffledIds(0, live, kSeed + 11);
  for (size_t i = 0; i < diverge; ++i) {
    a0.Add(Element(fresh[i]));
    b.Add(Element(fresh[diverge + i]));
    a0.Remove(Element(victims[i]));
    b.Remove(Element(victims[diverge / 2 + i]));
  }
  const size_t incoming = DotCount(b);
  AwOrSet a;
  for (auto _ : state) {
    state.PauseTiming();
    a = a0;
    state.ResumeTiming();
    a.Merge(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * incoming));
  state.counters["live"] = static_cast<double>(a.Size());
}
BENCHMARK(BM_AwOrSetMergeFullSync)
    ->ArgName("live")
    ->Arg(kLive)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond);

// A new replica receives the 1M state: merge into an empty set.
void BM_AwOrSetMergeIntoEmpty(benchmark::State& state) {
  const AwOrSet& base = BaseState();
  const size_t incoming = DotCount(base);
  AwOrSet a;
  for (auto _ : state) {
    state.PauseTiming();
    a = AwOrSet(Replica(2));  // frees the previous copy, untimed
    state.ResumeTiming();
    a.Merge(base);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * incoming));
  state.counters["live"] = static_cast<double>(a.Size());
}
BENCHMARK(BM_AwOrSetMergeIntoEmpty)->Unit(benchmark::kMillisecond);

// ---- metadata ----

size_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;  // arena chunks in use + mmapped chunks
}

// Builds the 1M set as the other benchmarks do (5 replicas x 200K adds, merged into
// replica 0) and reports bytes per live element: total, and metadata (total minus the
// element's own bytes). Element names are formatted on the stack so that the mallinfo2()
// delta holds only the surviving set. state.range(0): 1 for 32-byte (heap) elements.
void BM_AwOrSetMemory(benchmark::State& state) {
  const bool long_names = state.range(0) != 0;
  double api_total = 0, malloc_total = 0, elem_bytes = 0, live = 0;
  for (auto _ : state) {
    size_t own_bytes = 0;
    const size_t before = HeapInUse();
    std::unique_ptr<AwOrSet> merged;
    {
      std::vector<AwOrSet> replicas;
      replicas.reserve(kReplicas);
      char buf[64];
      for (int r = 0; r < kReplicas; ++r) {
        replicas.emplace_back(Replica(r));
        for (uint64_t id = static_cast<uint64_t>(r); id < kLive; id += kReplicas) {
          size_t n = FormatElement(id, long_names, buf, sizeof(buf));
          own_bytes += n;
          replicas.back().Add(std::string_view(buf, n));
        }
      }
      merged = std::make_unique<AwOrSet>(Replica(0));
      for (const AwOrSet& s : replicas) merged->Merge(s);
    }
    const size_t after = HeapInUse();
    live = static_cast<double>(merged->Size());
    api_total = static_cast<double>(merged->MemoryBytes());
    malloc_total = static_cast<double>(after - before);
    elem_bytes = static_cast<double>(own_bytes);
    benchmark::DoNotOptimize(merged.get());
  }
  state.counters["live"] = live;
  state.counters["elem_bytes_per_elem"] = elem_bytes / live;
  state.counters["api_bytes_per_elem"] = api_total / live;
  state.counters["api_meta_per_elem"] = (api_total - elem_bytes) / live;
  state.counters["malloc_bytes_per_elem"] = malloc_total / live;
  state.counters["malloc_meta_per_elem"] = (malloc_total - elem_bytes) / live;
}
BENCHMARK(BM_AwOrSetMemory)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- String and hash writes ----

// String and hash writes through the keyspace: each is one register write (RegisterStore).
// SET of new keys ("key:N"), SET overwriting one of 100K keys at random, HSET of new fields
// ("f:N") into one hash; memory per key or field by Keyspace::MemoryBytes at the end.

void BM_KeyspaceSet(benchmark::State& state) {
  const bool fresh = state.range(0) != 0;
  constexpr size_t kKeys = 100'000;
  crdt::Keyspace ks(crdt::MakeReplicaId(0, 1));
  std::vector<std::string> names;
  for (size_t i = 0; i < kKeys; ++i) names.push_back("key:" + std::to_string(i));
  if (!fresh) {
    for (const std::string& k : names) ks.Set(k, "v", 1, nullptr);
  }
  SplitMix64 rng(kSeed);
  uint64_t n = 0;
  std::string key;
  for (auto _ : state) {
    if (fresh) {
      key = "key:" + std::to_string(n);
      ks.Set(key, "value", static_cast<int64_t>(n), nullptr);
    } else {
      ks.Set(names[rng.Uniform(kKeys)], "value", static_cast<int64_t>(n), nullptr);
    }
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["memory_bytes_per_key"] =
      static_cast<double>(ks.MemoryBytes()) / static_cast<double>(fresh ? n : kKeys);
}
BENCHMARK(BM_KeyspaceSet)->ArgName("fresh")->Arg(1)->Arg(0);

void BM_KeyspaceHSetFresh(benchmark::State& state) {
  crdt::Keyspace ks(crdt::MakeReplicaId(0, 1));
  uint64_t n = 0;
  std::string field;
  for (auto _ : state) {
    field = "f:" + std::to_string(n);
    ks.HSet("h", field, "value", static_cast<int64_t>(n), nullptr);
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["memory_bytes_per_field"] =
      static_cast<double>(ks.MemoryBytes()) / static_cast<double>(n);
}
BENCHMARK(BM_KeyspaceHSetFresh);

// ---- PnCounter::Increment ----

// state.range(0) replicas have incremented the counter (merged) before the timed loop.
void BM_PnCounterIncrement(benchmark::State& state) {
  PnCounter c(Replica(0));
  for (int r = 1; r < state.range(0); ++r) {
    PnCounter other(Replica(r));
    other.Increment(r);
    c.Merge(other);
  }
  int64_t step = 1;
  for (auto _ : state) {
    std::optional<PnCounter> delta = c.Increment(step);
    benchmark::DoNotOptimize(delta);
    step = -step;  // keep the value bounded; both halves (p and n) get exercised
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["value"] = static_cast<double>(c.Value());
}
BENCHMARK(BM_PnCounterIncrement)->Arg(1)->Arg(5);

// ---- machine calibration ----

// Random 8-byte loads over a 32 MiB array (the size of the 1M set's table): dependent
// (pointer chasing, what one lookup after another pays) and independent (what a join with
// prefetching can overlap). Not a CRDT figure: it bounds the ones above on this machine.
void BM_MachineRandomLoad(benchmark::State& state) {
  const bool dependent = state.range(0) != 0;
  const size_t n = (size_t{32} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> next(n);
  const std::vector<uint64_t> order = ShuffledIds(0, n, kSeed + 12);
  for (size_t i = 0; i < n; ++i) next[order[i]] = order[(i + 1) % n];  // one n-cycle
  uint64_t p = 0, sum = 0;
  size_t k = 0;
  for (auto _ : state) {
    if (dependent) {
      p = next[p];
    } else {
      sum += next[order[k]];
      k = k + 1 == n ? 0 : k + 1;
    }
  }
  benchmark::DoNotOptimize(p);
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MachineRandomLoad)->ArgName("dependent")->Arg(1)->Arg(0);

}  // namespace

BENCHMARK_MAIN();
