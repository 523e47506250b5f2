// The hot-key experiment of hotkey.h: hash slots, the Zipf sampler, the shard model and its
// event engine, the arithmetic, the sweep and its SVG chart.
#include "cluster_sim/hotkey.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster_sim/plural.h"
#include "cluster_sim/svg_chart.h"

namespace cluster_sim {

int FirstSlot(int shard, int shards) {
  AASIM_CHECK(shards >= 1 && shards <= kHashSlots && shard >= 0 && shard <= shards);
  // round(shard * 16384 / shards), halves up, in integers.
  const int64_t twice = 2 * static_cast<int64_t>(shard) * kHashSlots;
  return static_cast<int>((twice + shards) / (2 * static_cast<int64_t>(shards)));
}

int ShardOfSlot(int slot, int shards) {
  AASIM_CHECK(slot >= 0 && slot < kHashSlots && shards >= 1 && shards <= kHashSlots);
  // The last shard whose first slot is <= slot; the floor estimate is off by at most one.
  int shard = static_cast<int>(static_cast<int64_t>(slot) * shards / kHashSlots);
  while (shard + 1 < shards && FirstSlot(shard + 1, shards) <= slot) ++shard;
  while (shard > 0 && FirstSlot(shard, shards) > slot) --shard;
  return shard;
}

// ---------------------------------------------------------------- Zipf

ZipfSampler::ZipfSampler(uint64_t n, double s) {
  AASIM_CHECK(n >= 1 && s >= 0 && std::isfinite(s));
  cdf_.resize(n);
  double total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    total += s == 0 ? 1.0 : std::pow(static_cast<double>(i + 1), -s);
    cdf_[i] = total;
  }
  for (double& c : cdf_) c /= total;
  cdf_.back() = 1.0;  // so every u in [0, 1) finds a rank
}

uint64_t ZipfSampler::Sample(Rng& rng) const {
  const double u = rng.UniformDouble();
  // The first rank whose cumulative probability exceeds u.
  return static_cast<uint64_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
}

double ZipfSampler::Probability(uint64_t rank) const {
  AASIM_CHECK(rank < cdf_.size());
  return rank == 0 ? cdf_[0] : cdf_[rank] - cdf_[rank - 1];
}

// ---------------------------------------------------------------- config

std::string_view ToString(ServiceDist d) {
  return d == ServiceDist::kConstant ? "constant" : "exponential";
}
std::string_view ToString(ReplicationMode m) {
  return m == ReplicationMode::kPerOp ? "per-op" : "coalesced";
}
std::string_view ToString(Arrival a) {
  switch (a) {
    case Arrival::kBurst:
      return "burst";
    case Arrival::kClosedLoop:
      return "closed-loop";
    case Arrival::kOpenLoop:
      return "open-loop";
  }
  return "";
}

Status ValidateHotKeyConfig(const HotKeyConfig& c) {
  auto bad = [](std::string m) { return Status::InvalidArgument(std::move(m)); };
  if (c.writers < 1) return bad("writers must be >= 1, got " + std::to_string(c.writers));
  if (c.clusters < 1 || c.clusters > 1024) {
    return bad("clusters must be in 1..1024, got " + std::to_string(c.clusters));
  }
  if (c.shards < 1 || c.shards > kHashSlots) {
    return bad("shards must be in 1..16384, got " + std::to_string(c.shards));
  }
  if (c.service_time <= SimTime(0)) {
    return bad("service time must be > 0, got " + FormatDuration(c.service_time));
  }
  if (c.ReplicatedServiceTime() < SimTime(0)) {
    return bad("replicated service time must be >= 0, got " +
               FormatDuration(c.ReplicatedServiceTime()));
  }
  if (c.link_latency < SimTime(0)) {
    return bad("link latency must be >= 0, got " + FormatDuration(c.link_latency));
  }
  if (c.keys < 1 || c.keys > 10'000'000) {
    return bad("keys must be in 1..10000000, got " + std::to_string(c.keys));
  }
  if (!(c.zipf_s >= 0) || !std::isfinite(c.zipf_s)) {
    return bad("zipf exponent must be a finite number >= 0, got " + std::to_string(c.zipf_s));
  }
  if (c.duration.has_value()) {
    if (*c.duration <= SimTime(0)) {
      return bad("duration must be > 0, got " + FormatDuration(*c.duration));
    }
    if (c.arrival == Arrival::kBurst) {
      return bad("a burst issues every write at t=0: give an operation count, not a duration");
    }
  } else if (c.ops_per_writer < 1) {
    return bad("ops per writer must be >= 1, got " + std::to_string(c.ops_per_writer));
  }
  if (c.arrival == Arrival::kOpenLoop && c.open_loop_interval <= SimTime(0)) {
    return bad("open-loop interval must be > 0, got " + FormatDuration(c.open_loop_interval));
  }
  if (c.coalesce_interval <= SimTime(0)) {
    return bad("coalesce interval must be > 0, got " + FormatDuration(c.coalesce_interval));
  }
  if (!c.duration.has_value() &&
      c.ops_per_writer > c.max_writes / static_cast<uint64_t>(c.writers)) {
    return Status::FailedPrecondition("writers (" + std::to_string(c.writers) +
                                      ") x ops per writer (" + std::to_string(c.ops_per_writer) +
                                      ") is more than the limit of " +
                                      std::to_string(c.max_writes) + " writes");
  }
  if (c.duration.has_value() && c.arrival == Arrival::kOpenLoop) {
    // Each writer starts within the first interval, so it issues at least duration /
    // interval writes: refuse here what the run would stop at, after gigabytes of queue.
    const uint64_t per_writer = static_cast<uint64_t>(c.duration->count()) /
                                static_cast<uint64_t>(c.open_loop_interval.count());
    if (per_writer > c.max_writes / static_cast<uint64_t>(c.writers)) {
      return Status::FailedPrecondition(
          "writers (" + std::to_string(c.writers) + ") x writes per writer in the duration (" +
          std::to_string(per_writer) + ") is more than the limit of " +
          std::to_string(c.max_writes) + " writes");
    }
  }
  return Status::Ok();
}

std::string HotKeyName(const HotKeyConfig& config, uint64_t rank) {
  return config.keys == 1 ? std::string("foo") : "key:" + std::to_string(rank);
}

namespace {

// REQUIRES: `sorted` ascending.
LatencySummary SummarizeSorted(const std::vector<SimTime>& sorted) {
  LatencySummary out;
  out.count = sorted.size();
  if (sorted.empty()) return out;
  const uint64_t n = sorted.size();
  auto nearest_rank = [&](uint64_t percent) {  // ceil(percent * n / 100), at least 1
    const uint64_t rank = std::max<uint64_t>(1, (percent * n + 99) / 100);
    return sorted[rank - 1];
  };
  out.p50 = nearest_rank(50);
  out.p99 = nearest_rank(99);
  out.max = sorted.back();
  return out;
}

}  // namespace

LatencySummary SummarizeLatency(std::vector<SimTime>& samples) {
  std::sort(samples.begin(), samples.end());
  return SummarizeSorted(samples);
}

const ShardStats& HotKeyReport::HotShard(int c) const {
  AASIM_CHECK(c >= 0 && c < config.clusters);
  return shards[static_cast<size_t>(c) * static_cast<size_t>(config.shards) +
                static_cast<size_t>(hot_shard)];
}

// ---------------------------------------------------------------- the engine

namespace {

enum class Kind : uint8_t {
  kLocalArrive,   // a writer's write reaches its shard: queue it (target = writer)
  kLocalDone,     // it completed: replicate, maybe issue the next one (target = writer)
  kRemoteArrive,  // an effect or a delta reaches a peer's shard (target = global shard)
  kFlush,         // coalesced: send a shard's pending deltas (target = global shard)
};

// 32 bytes, trivially copyable: the heap moves these around, nothing else.
struct Event {
  int64_t at;
  uint64_t seq;
  uint32_t target;
  uint32_t key;
  uint32_t count;  // effects carried (kRemoteArrive)
  Kind kind;
};

struct EventLater {
  bool operator()(const Event& a, const Event& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

// A FIFO of events pushed in (time, seq) order: a vector and a read index, compacted when
// half of it has been read.
class EventFifo {
 public:
  bool empty() const { return head_ == events_.size(); }
  const Event& front() const { return events_[head_]; }
  void Push(const Event& ev) { events_.push_back(ev); }
  void Pop() {
    if (++head_ == events_.size()) {
      events_.clear();
      head_ = 0;
    } else if (head_ >= 4096 && head_ * 2 >= events_.size()) {
      events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  std::vector<Event> events_;
  size_t head_ = 0;
};

struct Writer {
  int cluster = 0;
  uint64_t issued = 0;
  Rng rng{0};
};

struct Shard {
  int64_t free_at = 0;  // when the work queued so far completes (FIFO: Lindley's recursion)
  Rng rng{0};
  ShardStats stats;
  // Coalesced mode: keys with effects not yet sent, in the order they got dirty.
  std::vector<std::pair<uint32_t, uint32_t>> pending;    // (key, effects)
  std::unordered_map<uint32_t, uint32_t> pending_index;  // key -> position in pending
};

class Engine {
 public:
  explicit Engine(const HotKeyConfig& c)
      : c_(c),
        k_(c.clusters),
        s_(c.shards),
        service_(c.service_time.count()),
        replicated_service_(c.ReplicatedServiceTime().count()),
        latency_(c.link_latency.count()),
        interval_(c.coalesce_interval.count()) {
    const Rng root(c.seed);
    if (c.keys > 1) zipf_.emplace(c.keys, c.zipf_s);
    key_shard_.resize(c.keys);
    for (uint64_t r = 0; r < c.keys; ++r) {
      key_shard_[r] = ShardOfSlot(KeySlot(HotKeyName(c, r)), s_);
    }
    writers_.resize(static_cast<size_t>(c.writers));
    for (int w = 0; w < c.writers; ++w) {
      writers_[static_cast<size_t>(w)].cluster = w % k_;
      writers_[static_cast<size_t>(w)].rng = root.Fork("hotkey/writer/" + std::to_string(w));
    }
    shards_.resize(static_cast<size_t>(k_) * static_cast<size_t>(s_));
    for (int cl = 0; cl < k_; ++cl) {
      for (int j = 0; j < s_; ++j) {
        Shard& sh = shards_[static_cast<size_t>(cl * s_ + j)];
        sh.rng = root.Fork("hotkey/shard/" + std::to_string(cl) + "/" + std::to_string(j));
        sh.stats.cluster = cl;
        sh.stats.shard = j;
        sh.stats.first_slot = FirstSlot(j, s_);
        sh.stats.last_slot = FirstSlot(j + 1, s_) - 1;
      }
    }
    samples_.resize(static_cast<size_t>(k_));
    last_write_.resize(static_cast<size_t>(k_));
    heap_.reserve(1024);
  }

  Result<HotKeyReport> Run() {
    // Every writer's first write at its start time, in writer order.
    for (uint32_t w = 0; w < writers_.size(); ++w) {
      int64_t start = 0;
      if (c_.arrival == Arrival::kOpenLoop) {
        start = c_.open_loop_interval.count() * static_cast<int64_t>(w) / c_.writers;
      }
      if (MayIssue(writers_[w], start)) Issue(w, start);
    }
    Event ev{};
    while (PopNext(&ev)) {
      now_ = ev.at;
      ++events_;
      switch (ev.kind) {
        case Kind::kLocalArrive:
          OnLocalArrive(ev);
          break;
        case Kind::kLocalDone:
          OnLocalDone(ev);
          break;
        case Kind::kRemoteArrive:
          OnRemoteArrive(ev);
          break;
        case Kind::kFlush:
          OnFlush(ev);
          break;
      }
      if (issued_ > c_.max_writes) {
        return Status::FailedPrecondition("the run issued more than " +
                                          std::to_string(c_.max_writes) +
                                          " writes: shorten the duration or use fewer writers");
      }
    }
    return Finish();
  }

 private:
  // Three queues, one order: an event due now goes to `now_queue_`, a replicated message
  // (always due now + latency, so later than every one before it) to `link_queue_`: both
  // FIFOs stay sorted by (time, seq) by construction. The rest (completions, ticks,
  // open-loop arrivals) goes to the heap. The next event is the least of the three heads.
  void Push(int64_t at, Kind kind, uint32_t target, uint32_t key = 0, uint32_t count = 0) {
    const Event ev{at, seq_++, target, key, count, kind};
    if (at == now_) {
      now_queue_.Push(ev);
    } else if (kind == Kind::kRemoteArrive) {
      link_queue_.Push(ev);
    } else {
      heap_.push_back(ev);
      std::push_heap(heap_.begin(), heap_.end(), EventLater());
    }
  }

  bool PopNext(Event* out) {
    const Event* best = heap_.empty() ? nullptr : &heap_.front();
    int from = 0;
    auto consider = [&](const EventFifo& q, int which) {
      if (!q.empty() && (best == nullptr || EventLater()(*best, q.front()))) {
        best = &q.front();
        from = which;
      }
    };
    consider(now_queue_, 1);
    consider(link_queue_, 2);
    if (best == nullptr) return false;
    *out = *best;
    if (from == 1) {
      now_queue_.Pop();
    } else if (from == 2) {
      link_queue_.Pop();
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), EventLater());
      heap_.pop_back();
    }
    return true;
  }

  bool MayIssue(const Writer& w, int64_t at) const {
    return c_.duration.has_value() ? at < c_.duration->count() : w.issued < c_.ops_per_writer;
  }

  // A new write of writer w reaching its shard at `at` (no client-to-shard delay).
  void Issue(uint32_t w, int64_t at) {
    Writer& wr = writers_[w];
    ++wr.issued;
    ++issued_;
    const uint32_t key = zipf_ ? static_cast<uint32_t>(zipf_->Sample(wr.rng)) : 0;
    Push(at, Kind::kLocalArrive, w, key);
  }

  int64_t Draw(Shard& sh, int64_t mean) {
    if (c_.service_dist == ServiceDist::kConstant || mean == 0) return mean;
    const double u = sh.rng.UniformDouble();  // [0, 1): -log1p(-u) is finite
    const double x = -std::log1p(-u) * static_cast<double>(mean);
    return std::max<int64_t>(1, std::llround(x));
  }

  // Queues `service` of work on the shard: returns when it completes.
  int64_t Enqueue(Shard& sh, int64_t service) {
    const int64_t start = std::max(now_, sh.free_at);
    sh.free_at = start + service;
    ++applies_;
    return sh.free_at;
  }

  Shard& ShardOf(int cluster, uint32_t key) {
    return shards_[static_cast<size_t>(cluster * s_ + key_shard_[key])];
  }

  void OnLocalArrive(const Event& ev) {
    Writer& wr = writers_[ev.target];
    Shard& sh = ShardOf(wr.cluster, ev.key);
    const int64_t service = Draw(sh, service_);
    const int64_t done = Enqueue(sh, service);
    sh.stats.local_busy += SimTime(service);
    samples_[static_cast<size_t>(wr.cluster)].push_back(SimTime(done - now_));
    Push(done, Kind::kLocalDone, ev.target, ev.key);
    // Burst and open loop: the writer's next write does not wait for this one.
    if (c_.arrival == Arrival::kBurst && MayIssue(wr, now_)) Issue(ev.target, now_);
    if (c_.arrival == Arrival::kOpenLoop) {
      const int64_t next = now_ + c_.open_loop_interval.count();
      if (MayIssue(wr, next)) Issue(ev.target, next);
    }
  }

  void OnLocalDone(const Event& ev) {
    Writer& wr = writers_[ev.target];
    const int cl = wr.cluster;
    Shard& sh = ShardOf(cl, ev.key);
    ++sh.stats.local_writes;
    sh.stats.busy_until = std::max(sh.stats.busy_until, SimTime(now_));
    last_write_[static_cast<size_t>(cl)] = SimTime(now_);  // events run in time order
    const uint32_t j = static_cast<uint32_t>(key_shard_[ev.key]);
    if (c_.mode == ReplicationMode::kPerOp) {
      for (int p = 0; p < k_; ++p) {
        if (p != cl) {
          Push(now_ + latency_, Kind::kRemoteArrive, static_cast<uint32_t>(p * s_) + j, ev.key, 1);
        }
      }
    } else if (k_ > 1) {
      auto [it, fresh] =
          sh.pending_index.try_emplace(ev.key, static_cast<uint32_t>(sh.pending.size()));
      if (fresh) sh.pending.emplace_back(ev.key, 0);
      ++sh.pending[it->second].second;
      if (fresh && sh.pending.size() == 1) {
        // Cluster c's syncer ticks at phase_c + n*T, phase_c = c*T/k (the clusters' ticks
        // spread evenly): effects completed in [tick, next tick) leave at the next tick.
        const int64_t phase = interval_ * cl / k_;
        const int64_t since = now_ - phase;                         // >= -interval_
        const int64_t ticks = since >= 0 ? since / interval_ : -1;  // floor(since / T)
        const int64_t flush = (ticks + 1) * interval_ + phase;
        Push(flush, Kind::kFlush, static_cast<uint32_t>(cl * s_) + j);
      }
    }
    if (c_.arrival == Arrival::kClosedLoop && MayIssue(wr, now_)) Issue(ev.target, now_);
  }

  void OnRemoteArrive(const Event& ev) {
    Shard& sh = shards_[ev.target];
    const int64_t service = Draw(sh, replicated_service_);
    const int64_t done = Enqueue(sh, service);
    sh.stats.replicated_busy += SimTime(service);
    ++sh.stats.replicated_applies;
    sh.stats.replicated_effects += ev.count;
    sh.stats.busy_until = std::max(sh.stats.busy_until, SimTime(done));
  }

  void OnFlush(const Event& ev) {
    Shard& sh = shards_[ev.target];
    const uint32_t cl = ev.target / static_cast<uint32_t>(s_);
    const uint32_t j = ev.target % static_cast<uint32_t>(s_);
    for (const auto& [key, effects] : sh.pending) {
      for (uint32_t p = 0; p < static_cast<uint32_t>(k_); ++p) {
        if (p != cl)
          Push(now_ + latency_, Kind::kRemoteArrive, p * static_cast<uint32_t>(s_) + j, key,
               effects);
      }
    }
    sh.pending.clear();
    sh.pending_index.clear();
  }

  HotKeyReport Finish() {
    HotKeyReport r;
    r.config = c_;
    r.hot_slot = KeySlot(HotKeyName(c_, 0));
    r.hot_shard = ShardOfSlot(r.hot_slot, s_);
    r.events = events_;
    r.applies = applies_;
    std::vector<SimTime> all;
    r.clusters.resize(static_cast<size_t>(k_));
    for (int cl = 0; cl < k_; ++cl) {
      ClusterStats& cs = r.clusters[static_cast<size_t>(cl)];
      cs.cluster = cl;
      for (const Writer& w : writers_) cs.writers += w.cluster == cl ? 1 : 0;
      std::vector<SimTime>& mine = samples_[static_cast<size_t>(cl)];
      cs.latency = SummarizeLatency(mine);  // sorts `mine`
      std::vector<SimTime> merged(all.size() + mine.size());
      std::merge(all.begin(), all.end(), mine.begin(), mine.end(), merged.begin());
      all = std::move(merged);
      cs.writes = cs.latency.count;
      cs.last_write = last_write_[static_cast<size_t>(cl)];
      for (int j = 0; j < s_; ++j) {
        const ShardStats& st = shards_[static_cast<size_t>(cl * s_ + j)].stats;
        cs.applied_all = std::max(cs.applied_all, st.busy_until);
      }
      r.writes += cs.writes;
      r.last_write = std::max(r.last_write, cs.last_write);
      r.converged_at = std::max(r.converged_at, cs.applied_all);
    }
    r.latency = SummarizeSorted(all);
    r.convergence_lag = r.converged_at - r.last_write;
    if (r.last_write > SimTime(0)) {
      r.throughput =
          static_cast<double>(r.writes) * 1e6 / static_cast<double>(r.last_write.count());
    }
    for (ClusterStats& cs : r.clusters) cs.convergence_lag = cs.applied_all - r.last_write;
    // Every cluster applied every write exactly once.
    for (int cl = 0; cl < k_; ++cl) {
      uint64_t applied = 0;
      for (int j = 0; j < s_; ++j) {
        const ShardStats& st = shards_[static_cast<size_t>(cl * s_ + j)].stats;
        applied += st.local_writes + st.replicated_effects;
      }
      AASIM_CHECK(applied == r.writes)
          << "cluster" << cl << "applied" << applied << "of" << r.writes << "seed" << c_.seed;
    }
    const double span = static_cast<double>(r.converged_at.count());
    for (Shard& sh : shards_) {
      if (span > 0) {
        sh.stats.local_utilisation = static_cast<double>(sh.stats.local_busy.count()) / span;
        sh.stats.replicated_utilisation =
            static_cast<double>(sh.stats.replicated_busy.count()) / span;
      }
      r.shards.push_back(sh.stats);
    }
    return r;
  }

  const HotKeyConfig& c_;
  const int k_, s_;
  const int64_t service_, replicated_service_, latency_, interval_;
  std::optional<ZipfSampler> zipf_;
  std::vector<int> key_shard_;  // rank -> shard index (the same in every cluster)
  std::vector<Writer> writers_;
  std::vector<Shard> shards_;
  std::vector<std::vector<SimTime>> samples_;  // client latencies per cluster
  std::vector<SimTime> last_write_;            // per cluster: completion of its last local write
  std::vector<Event> heap_;
  EventFifo now_queue_;
  EventFifo link_queue_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t events_ = 0;
  uint64_t applies_ = 0;
  uint64_t issued_ = 0;
};

}  // namespace

Result<HotKeyReport> RunHotKey(const HotKeyConfig& config) {
  if (Status st = ValidateHotKeyConfig(config); !st.ok()) return st;
  Engine engine(config);
  return engine.Run();
}

// ---------------------------------------------------------------- the arithmetic

namespace {

__extension__ typedef __int128 Int128;

// Capacity as an exact fraction of writes per microsecond: num / den.
struct Fraction {
  Int128 num;
  Int128 den;
};

Fraction CapacityFraction(const HotKeyConfig& c, int k, ReplicationMode mode) {
  const Int128 s = c.service_time.count();
  const Int128 r = c.ReplicatedServiceTime().count();
  const Int128 t = c.coalesce_interval.count();
  const Int128 peers = k - 1;
  // CASE 1: coalesced, and every cluster writes at least once per interval at saturation:
  // each shard spends (k-1) r of every T on deltas, the rest on local writes.
  if (mode == ReplicationMode::kCoalesced && t >= s + peers * r) {
    return {k * (t - peers * r), s * t};
  }
  // CASE 2: per-op (or too few writes per interval to coalesce): every write costs each of
  // the k shards s/k local + r(k-1)/k replicated.
  return {k, s + peers * r};
}

}  // namespace

double CapacityWritesPerSecond(const HotKeyConfig& config, int clusters, ReplicationMode mode) {
  const Fraction f = CapacityFraction(config, clusters, mode);
  return static_cast<double>(f.num) * 1e6 / static_cast<double>(f.den);
}

ShardLoad OfferedShardLoad(const HotKeyConfig& config, int clusters, ReplicationMode mode,
                           double writes_per_second) {
  const double s = static_cast<double>(config.service_time.count()) * 1e-6;
  const double r = static_cast<double>(config.ReplicatedServiceTime().count()) * 1e-6;
  const double t = static_cast<double>(config.coalesce_interval.count()) * 1e-6;
  const double per_cluster = writes_per_second / clusters;
  ShardLoad load;
  load.local = per_cluster * s;
  // Each peer sends one message per write (per-op) or at most one delta per interval.
  const double messages_per_peer =
      mode == ReplicationMode::kPerOp ? per_cluster : std::min(per_cluster, 1.0 / t);
  load.replicated = (clusters - 1) * messages_per_peer * r;
  return load;
}

int BestClusterCount(const HotKeyConfig& config, int max_clusters, ReplicationMode mode) {
  int best = 1;
  Fraction best_f = CapacityFraction(config, 1, mode);
  for (int k = 2; k <= max_clusters; ++k) {
    const Fraction f = CapacityFraction(config, k, mode);
    if (f.num * best_f.den > best_f.num * f.den) {
      best = k;
      best_f = f;
    }
  }
  return best;
}

// ---------------------------------------------------------------- the sweep

Result<HotKeySweep> RunHotKeySweep(const HotKeyConfig& base, int min_clusters, int max_clusters,
                                   std::span<const ReplicationMode> modes) {
  if (min_clusters < 1 || max_clusters < min_clusters || max_clusters > 1024) {
    return Status::InvalidArgument("a sweep needs 1 <= first <= last <= 1024 clusters, got " +
                                   std::to_string(min_clusters) + ".." +
                                   std::to_string(max_clusters));
  }
  if (modes.empty()) return Status::InvalidArgument("a sweep needs at least one mode");
  HotKeySweep sweep;
  sweep.base = base;
  sweep.modes.assign(modes.begin(), modes.end());
  sweep.min_clusters = min_clusters;
  sweep.max_clusters = max_clusters;
  for (ReplicationMode mode : modes) {
    for (int k = min_clusters; k <= max_clusters; ++k) {
      HotKeyConfig c = base;
      c.clusters = k;
      c.mode = mode;
      Result<HotKeyReport> r = RunHotKey(c);
      if (!r.ok()) return r.status();
      sweep.points.push_back(
          SweepPoint{k, mode, std::move(r).value(), CapacityWritesPerSecond(c, k, mode)});
    }
  }
  return sweep;
}

// ---------------------------------------------------------------- the chart

namespace {

constexpr const char* kSeriesColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

}  // namespace

std::string RenderSweepSvg(const HotKeySweep& sweep, ChartMetric metric) {
  constexpr double kWidth = 800, kHeight = 460;
  constexpr double kLeft = 90, kRight = 230, kTop = 60, kBottom = 70;
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kHeight - kTop - kBottom;
  const bool throughput = metric == ChartMetric::kThroughput;
  // The capacity line is a sustained rate: meaningless for a burst.
  const bool with_capacity =
      throughput && sweep.base.keys == 1 && sweep.base.arrival != Arrival::kBurst;
  auto value = [&](const SweepPoint& p) {
    return throughput ? p.report.throughput
                      : static_cast<double>(p.report.last_write.count()) / 1e3;
  };

  double y_max = 0;
  for (const SweepPoint& p : sweep.points) {
    y_max = std::max(y_max, value(p));
    if (with_capacity) y_max = std::max(y_max, p.capacity);
    if (!throughput) {
      y_max = std::max(y_max, static_cast<double>(p.report.converged_at.count()) / 1e3);
    }
  }
  if (!(y_max > 0)) y_max = 1;
  const double step = NiceStep(y_max, 5);
  y_max = std::ceil(y_max / step - 1e-9) * step;
  const int x_lo = sweep.min_clusters;
  const int x_hi = std::max(sweep.max_clusters, sweep.min_clusters + 1);
  auto px = [&](double k) { return kLeft + (k - x_lo) / (x_hi - x_lo) * plot_w; };
  auto py = [&](double v) { return kTop + plot_h - v / y_max * plot_h; };

  const HotKeyConfig& b = sweep.base;
  const std::string title = throughput ? "Hot-key write throughput vs clusters"
                                       : "Last write and convergence vs clusters";
  const std::string subtitle =
      Plural(b.writers, "writer") + ", " + Plural(b.shards, "shard") + "/cluster, service " +
      FormatDuration(b.service_time) + " " + std::string(ToString(b.service_dist)) +
      ", replicated " + FormatDuration(b.ReplicatedServiceTime()) + ", link " +
      FormatDuration(b.link_latency) + ", " + std::string(ToString(b.arrival)) + ", " +
      (b.keys == 1 ? std::string("one key") : Plural(b.keys, "key") + " zipf " + Num(b.zipf_s, 2)) +
      ", seed " + std::to_string(b.seed);

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth, 0) + "\" height=\"" +
       Num(kHeight, 0) + "\" viewBox=\"0 0 " + Num(kWidth, 0) + " " + Num(kHeight, 0) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + Num(kWidth / 2, 0) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" "
       "font-weight=\"bold\">" +
       XmlEscape(title) + "</text>\n";
  o += "<text x=\"" + Num(kWidth / 2, 0) + "\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">" +
       XmlEscape(subtitle) + "</text>\n";

  // Grid, y ticks and labels.
  for (double v = 0; v <= y_max + step / 2; v += step) {
    const std::string y = Num(py(v));
    o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + y + "\" x2=\"" + Num(kLeft + plot_w) +
         "\" y2=\"" + y + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + Num(kLeft - 8) + "\" y=\"" + Num(py(v) + 4) + "\" text-anchor=\"end\">" +
         TickLabel(v) + "</text>\n";
  }
  // x ticks: every cluster count (at most ~20 labels).
  const int x_every = std::max(1, (x_hi - x_lo) / 20 + 1);
  for (int k = x_lo; k <= x_hi; k += x_every) {
    const std::string x = Num(px(k));
    o += "<line x1=\"" + x + "\" y1=\"" + Num(kTop + plot_h) + "\" x2=\"" + x + "\" y2=\"" +
         Num(kTop + plot_h + 5) + "\" stroke=\"black\"/>\n";
    o += "<text x=\"" + x + "\" y=\"" + Num(kTop + plot_h + 20) + "\" text-anchor=\"middle\">" +
         std::to_string(k) + "</text>\n";
  }
  // Axes and their labels.
  o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop) + "\" x2=\"" + Num(kLeft) + "\" y2=\"" +
       Num(kTop + plot_h) + "\" stroke=\"black\"/>\n";
  o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop + plot_h) + "\" x2=\"" +
       Num(kLeft + plot_w) + "\" y2=\"" + Num(kTop + plot_h) + "\" stroke=\"black\"/>\n";
  o += "<text x=\"" + Num(kLeft + plot_w / 2) + "\" y=\"" + Num(kHeight - 22) +
       "\" text-anchor=\"middle\">clusters (k)</text>\n";
  const std::string y_label =
      throughput ? "throughput (writes/s of simulated time)" : "time (ms of simulated time)";
  o += "<text transform=\"translate(22 " + Num(kTop + plot_h / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(y_label) + "</text>\n";

  // Series and legend.
  double legend_y = kTop + 10;
  const double legend_x = kLeft + plot_w + 20;
  auto legend = [&](const std::string& color, const std::string& dash, const std::string& label) {
    o += "<line x1=\"" + Num(legend_x) + "\" y1=\"" + Num(legend_y) + "\" x2=\"" +
         Num(legend_x + 26) + "\" y2=\"" + Num(legend_y) + "\" stroke=\"" + color +
         "\" stroke-width=\"2\"" + dash + "/>\n";
    o += "<text x=\"" + Num(legend_x + 32) + "\" y=\"" + Num(legend_y + 4) + "\">" +
         XmlEscape(label) + "</text>\n";
    legend_y += 20;
  };
  // Per mode: the simulated metric (solid, with markers: circles, then squares...), and a
  // dashed companion: the arithmetic capacity (throughput) or when every cluster had
  // applied every write (last write). Earlier modes are drawn wider, so equal series stay
  // visible.
  const size_t modes = sweep.modes.size();
  for (size_t m = 0; m < modes; ++m) {
    const std::string color = kSeriesColors[m % std::size(kSeriesColors)];
    const std::string width = Num(2.0 + 2.0 * static_cast<double>(modes - 1 - m));
    std::string measured, companion, markers;
    for (const SweepPoint& p : sweep.points) {
      if (p.mode != sweep.modes[m]) continue;
      const double x = px(p.clusters), y = py(value(p));
      measured += (measured.empty() ? "" : " ") + Num(x) + "," + Num(y);
      if (m % 2 == 0) {
        markers += "<circle cx=\"" + Num(x) + "\" cy=\"" + Num(y) + "\" r=\"4\" fill=\"" + color +
                   "\"/>\n";
      } else {
        markers += "<rect x=\"" + Num(x - 3) + "\" y=\"" + Num(y - 3) +
                   "\" width=\"6\" height=\"6\" fill=\"" + color + "\"/>\n";
      }
      const double other =
          with_capacity ? p.capacity : static_cast<double>(p.report.converged_at.count()) / 1e3;
      companion += (companion.empty() ? "" : " ") + Num(x) + "," + Num(py(other));
    }
    const std::string name(ToString(sweep.modes[m]));
    const bool with_companion = with_capacity || !throughput;
    if (with_companion) {
      o += "<polyline points=\"" + companion + "\" fill=\"none\" stroke=\"" + color +
           "\" stroke-width=\"" + width + "\" stroke-dasharray=\"6 4\" opacity=\"0.6\"/>\n";
    }
    o += "<polyline points=\"" + measured + "\" fill=\"none\" stroke=\"" + color +
         "\" stroke-width=\"" + width + "\"/>\n" + markers;
    legend(color, "", name + (throughput ? " (simulated)" : ": last write"));
    if (with_companion) {
      legend(color, " stroke-dasharray=\"6 4\"",
             name + (throughput ? " (arithmetic)" : ": all converged"));
    }
  }
  o += "</svg>\n";
  return o;
}

}  // namespace cluster_sim
