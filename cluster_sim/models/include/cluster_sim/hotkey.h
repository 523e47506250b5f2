// Hot-key write splitting (Redis Microservices For Dummies, Figure 4-4): does spreading the writers
// of one very hot key over k Active/Active clusters make its writes finish sooner, and what does it
// cost?
//
// The model. Every cluster has S shards; a key lives in the shard that owns its Redis
// Cluster hash slot (KeySlot: CRC16 of the key or of its {hash tag}, mod 16384; the slots
// are split into S contiguous ranges as `redis-cli --cluster create` does). A shard is one
// single-threaded FIFO server: every operation takes a service time (constant, or
// exponential with that mean, drawn from the shard's own Rng fork). W writers are split
// over the k clusters (writer i writes to cluster i % k) and issue their writes in bursts
// (all at t=0, the figure), closed loop (the next write when the previous one completes)
// or open loop (evenly spaced, a fixed rate per writer). A local write's effect then has to
// be applied by every other cluster's owning shard, after the one-way link latency:
//   per-op     every effect is one message, applied once per peer (replicated service time
//              each, by default the same as a local write);
//   coalesced  a counter's effects are summed per key per interval into one delta per peer,
//              applied once (one replicated service time per delta, whatever it carries).
//              Cluster c's syncer ticks every interval T at phase c*T/k, so the clusters'
//              deltas do not all arrive at once; a write completed between two ticks leaves
//              at the next one.
// Events are ordered by (time, sequence number), ties FIFO, as in EventLoop, but the
// engine keeps its own queues: a FIFO of events due now, a FIFO of replicated messages (all
// due now + latency, so already in order) and a small heap of 32-byte POD events for the
// rest. bench/hotkey_bench.cc runs one per-op experiment both ways: ~36M events/s on these
// queues, 11-15M events/s written on EventLoop with one std::function per event.
//
// What the arithmetic says (and hotkey_test.cc checks against the simulation): at a total
// write rate X on one key, each of the k shards that own it does X/k local writes and
// X(k-1)/k replicated effects per second, so per-op it is busy X(s + (k-1)s_r)/k of the
// time and its capacity is k/(s + (k-1)s_r) writes/s: with s_r = s, adding clusters never
// adds capacity (the replicated work equals the local work saved); only a burst's local
// completion improves. Coalesced, the replicated work is (k-1) deltas per interval T
// whatever X is, so capacity is k(T - (k-1)s_r)/(sT): it rises, then falls once the deltas
// saturate the shard. (That counts a delta from every peer every interval; when queueing
// bunches completions into fewer intervals, fewer deltas are sent.)
// Client latency is issue to completion: queueing plus service at the owning shard (the
// client-to-proxy hop is not modelled).
//
// Deterministic: the same config (seed included) gives the same report. No
// std::*_distribution; the Zipf CDF (std::pow) and exponential draws (std::log1p) are only
// as portable as the math library's rounding. Single-threaded; no I/O; no wall clock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

// The first slot of shard `shard` when `shards` shards split the 16384 slots into
// contiguous ranges: round(shard * 16384 / shards), as redis-cli --cluster create assigns
// them (3 shards: 0-5460, 5461-10922, 10923-16383). REQUIRES: 1 <= shards <= 16384,
// 0 <= shard <= shards (FirstSlot(shards, shards) == 16384).
int FirstSlot(int shard, int shards);
// The shard owning `slot`. REQUIRES: 0 <= slot < 16384, 1 <= shards <= 16384.
int ShardOfSlot(int slot, int shards);

// Zipf over ranks 0..n-1: P(i) proportional to 1/(i+1)^s (s = 0: uniform). The CDF is
// computed once; a draw is one Rng::UniformDouble and a binary search. Deterministic.
class ZipfSampler {
 public:
  // REQUIRES: n >= 1, s >= 0 and finite.
  ZipfSampler(uint64_t n, double s);
  uint64_t Sample(Rng& rng) const;
  double Probability(uint64_t rank) const;
  uint64_t size() const { return cdf_.size(); }

 private:
  std::vector<double> cdf_;  // cdf_[i] = P(rank <= i); cdf_.back() == 1
};

enum class ServiceDist { kConstant, kExponential };
enum class ReplicationMode { kPerOp, kCoalesced };
enum class Arrival {
  kBurst,       // each writer issues all its writes at t=0 (Figure 4-4)
  kClosedLoop,  // each writer issues its next write when the previous one completes
  kOpenLoop,    // each writer issues one write every open_loop_interval, whatever happens
};

std::string_view ToString(ServiceDist d);      // "constant", "exponential"
std::string_view ToString(ReplicationMode m);  // "per-op", "coalesced"
std::string_view ToString(Arrival a);          // "burst", "closed-loop", "open-loop"

struct HotKeyConfig {
  int writers = 8;
  int clusters = 2;
  int shards = 1;              // per cluster, 1..16384
  SimTime service_time{1000};  // per local write (the mean when exponential), > 0
  ServiceDist service_dist = ServiceDist::kConstant;
  std::optional<SimTime> replicated_service_time;  // per applied effect/delta; default service_time
  SimTime link_latency{0};                         // one-way, between every pair of clusters
  uint64_t keys = 1;    // 1: the single hot key "foo"; else "key:0".."key:<keys-1>"
  double zipf_s = 1.0;  // popularity exponent when keys > 1 (rank 0 hottest)
  Arrival arrival = Arrival::kClosedLoop;
  uint64_t ops_per_writer = 100;     // used when duration is not set
  std::optional<SimTime> duration;   // writers issue writes only at times < duration
  SimTime open_loop_interval{1000};  // kOpenLoop: time between two writes of one writer
  ReplicationMode mode = ReplicationMode::kPerOp;
  SimTime coalesce_interval{10000};
  uint64_t seed = 1;
  uint64_t max_writes = 20'000'000;  // a run issuing more stops with FailedPrecondition

  SimTime ReplicatedServiceTime() const { return replicated_service_time.value_or(service_time); }
  friend bool operator==(const HotKeyConfig&, const HotKeyConfig&) = default;
};

// InvalidArgument naming the field ("writers must be >= 1, got 0"), FailedPrecondition when
// writers x ops_per_writer (or, for an open loop with a duration, writers x the writes each
// issues in it) exceeds max_writes, or Ok.
Status ValidateHotKeyConfig(const HotKeyConfig& config);

// The name of the key of popularity rank `rank` ("foo" when there is one key).
std::string HotKeyName(const HotKeyConfig& config, uint64_t rank);

// Exact nearest-rank percentiles of client latency (issue to completion, queueing included).
struct LatencySummary {
  uint64_t count = 0;
  SimTime p50{0}, p99{0}, max{0};
  friend bool operator==(const LatencySummary&, const LatencySummary&) = default;
};
// Nearest rank: the ceil(p/100 * n)-th smallest sample. Sorts `samples`.
LatencySummary SummarizeLatency(std::vector<SimTime>& samples);

struct ShardStats {
  int cluster = 0;
  int shard = 0;
  int first_slot = 0, last_slot = 0;  // inclusive
  uint64_t local_writes = 0;
  uint64_t replicated_applies = 0;  // messages applied: effects (per-op) or deltas (coalesced)
  uint64_t replicated_effects = 0;  // writes those messages carried
  SimTime local_busy{0};
  SimTime replicated_busy{0};
  SimTime busy_until{0};  // when its last piece of work completed
  // Busy time over [0, converged_at] of the run.
  double local_utilisation = 0;
  double replicated_utilisation = 0;
  friend bool operator==(const ShardStats&, const ShardStats&) = default;
};

struct ClusterStats {
  int cluster = 0;
  int writers = 0;
  uint64_t writes = 0;    // local writes completed
  SimTime last_write{0};  // completion of its last local write
  LatencySummary latency;
  SimTime applied_all{0};      // when it had applied every write of every cluster
  SimTime convergence_lag{0};  // applied_all - the report's last_write
  friend bool operator==(const ClusterStats&, const ClusterStats&) = default;
};

struct HotKeyReport {
  HotKeyConfig config;
  int hot_slot = 0;   // slot of the rank-0 key
  int hot_shard = 0;  // shard index owning it (the same in every cluster)
  uint64_t writes = 0;
  SimTime last_write{0};  // completion of the last local write anywhere
  LatencySummary latency;
  double throughput = 0;       // writes / last_write, per second of simulated time
  SimTime converged_at{0};     // every cluster has applied every write
  SimTime convergence_lag{0};  // converged_at - last_write
  uint64_t events = 0;         // engine events run
  uint64_t applies = 0;        // shard operations: local writes + replicated applies
  std::vector<ClusterStats> clusters;
  std::vector<ShardStats> shards;  // cluster-major: shards[c * S + j]

  // The rank-0 key's shard in cluster c. REQUIRES: 0 <= c < config.clusters.
  const ShardStats& HotShard(int c) const;
  friend bool operator==(const HotKeyReport&, const HotKeyReport&) = default;
};

// Runs one experiment. InvalidArgument for a bad config; FailedPrecondition when the run
// would issue more than config.max_writes writes.
Result<HotKeyReport> RunHotKey(const HotKeyConfig& config);

// --- The arithmetic (single hot key: what the sweep's "arith" column shows) ---

// The highest total write rate (writes/s) on one key that `clusters` clusters sustain with
// `mode`, from the mean service times: per-op k/(s + (k-1)s_r); coalesced
// k(T - (k-1)s_r)/(sT) when T >= s + (k-1)s_r (every interval of every cluster has a
// write to send), else as per-op (about one write per delta: nothing to coalesce).
double CapacityWritesPerSecond(const HotKeyConfig& config, int clusters, ReplicationMode mode);
// Busy fraction of each hot shard at a total write rate of `writes_per_second` on one key,
// split into local and replicated work (sum > 1: the shard saturates).
struct ShardLoad {
  double local = 0;
  double replicated = 0;
  double total() const { return local + replicated; }
};
ShardLoad OfferedShardLoad(const HotKeyConfig& config, int clusters, ReplicationMode mode,
                           double writes_per_second);
// The cluster count in [1, max_clusters] with the highest capacity (exact integer
// comparison; the smallest on ties): where adding clusters stops paying.
int BestClusterCount(const HotKeyConfig& config, int max_clusters, ReplicationMode mode);

// --- The sweep ---

struct SweepPoint {
  int clusters = 0;
  ReplicationMode mode = ReplicationMode::kPerOp;
  HotKeyReport report;
  double capacity = 0;  // CapacityWritesPerSecond (meaningful for one key)
};
struct HotKeySweep {
  HotKeyConfig base;
  std::vector<ReplicationMode> modes;
  int min_clusters = 1, max_clusters = 1;
  std::vector<SweepPoint> points;  // mode-major, then clusters ascending
};
// Runs base with clusters = min..max for every mode. REQUIRES nothing: bad input is a Status.
Result<HotKeySweep> RunHotKeySweep(const HotKeyConfig& base, int min_clusters, int max_clusters,
                                   std::span<const ReplicationMode> modes);

enum class ChartMetric { kLastWrite, kThroughput };
// A standalone SVG line chart of the sweep: metric vs clusters, one series per mode (and,
// for throughput with one key, the arithmetic capacity dashed), with axes, ticks, labels
// and a legend. Deterministic text.
std::string RenderSweepSvg(const HotKeySweep& sweep, ChartMetric metric);

}  // namespace cluster_sim
