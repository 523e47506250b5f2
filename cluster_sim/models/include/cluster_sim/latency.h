// Regional latency comparison (Redis Microservices For Dummies, chapter 4, Figures 4-1 and 4-2):
// what do the users in each region wait with Active/Active, with one far primary, or with a primary
// and local read replicas, and what is given up (stale reads, concurrent conflicting writes, lag)?
//
// The model (a discrete-event simulation, not a formula). Every region runs a service and
// has a cluster of `shards` shards; a key lives in the shard that owns its Redis Cluster hash
// slot. Requests arrive at each region open loop (Poisson, or evenly spaced) and are made of
// `calls` sequential database calls; each call is a read (probability `reads`) or a write of
// a key drawn from a Zipf popularity over `keys` keys. A call travels one way to the cluster
// the deployment routes it to, waits in the owning shard's FIFO queue, takes `service_time`
// there, and its reply travels back; the next call leaves when the reply arrives. A request's
// latency is its arrival to its last reply.
//   active-active                 every call goes to the region's own cluster; each write is
//                                 replicated to every other cluster;
//   single-primary P              every call goes to P's cluster; nothing is replicated;
//   primary-with-local-replicas P reads go to the region's own cluster (a replica, possibly
//                                 stale), writes to P; P replicates every write to the others.
// A replicated write is one message over the link (one-way latency, +/- uniform jitter,
// loss: a lost message is re-sent one round trip later), applied by the receiving cluster's
// owning shard in the same FIFO queue as local calls (`replicated_service_time` each).
// Every operation of a shard executes at the end of its service, in queue order.
//
// Definitions (the report's columns; each is exact, counted as the simulation runs):
//   replication lag   a write's apply at a peer cluster minus its commit at its origin,
//                     per receiving region;
//   stale read        a read executed at cluster c while some write to the same key,
//                     committed at another cluster before it, had not yet been applied at c;
//   conflicting pair  two writes to the same key committed at different clusters, neither
//                     applied where the other committed before that one committed (counted
//                     once, at the later commit, per region of the later write).
//
// Failover (`region_down`): from `from` to `to` the region's cluster is down. Work already
// queued at its shards finishes; a call reaching it afterwards bounces back to its service,
// which re-sends it to the nearest live cluster (by one-way latency from the service's
// region); calls are routed so meanwhile. A call that needs a cluster nobody can stand in for
// (a write to a down primary, any call of single-primary with the primary down) fails, and
// its request is counted as failed (no latency). Replication messages to a down cluster are
// kept by their sender and re-sent at `to`; the cluster then applies them through its shard
// queues (resynchronising by itself) and its services return to it when it has applied every
// write committed anywhere before `to` (the resync time). At the end of a run every event is
// drained and the report counts, per cluster, the writes present (and an order-independent
// digest of their ids): with nothing lost, every copy holds every accepted write.
//
// Deterministic: the same config (seed included) gives the same report; each region's
// arrivals, keys and each link's jitter/loss draw from their own Rng fork. Each deployment
// is one single-threaded run, independent of the others: RunLatency may run them on
// separate threads, and the report is the same whatever their number. No I/O except
// LoadLatencyFile; no wall clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/scenario.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

enum class DeploymentKind { kActiveActive, kSinglePrimary, kPrimaryWithLocalReplicas };
enum class ArrivalProcess { kPoisson, kUniform };

std::string_view ToString(DeploymentKind k);  // "active-active", "single-primary", ...

struct Deployment {
  DeploymentKind kind = DeploymentKind::kActiveActive;
  int primary = -1;  // region index; -1 for active-active
  SourceMark mark;
};

// A region's per-request workload.
struct RegionWorkload {
  double rate = 100;   // requests per second, >= 0
  int calls = 3;       // database calls per request, >= 1
  double reads = 0.8;  // fraction of calls that are reads, [0, 1]
};

struct LatencyRegion {
  std::string name;
  std::optional<double> lat, lon;
  RegionWorkload workload;
  SourceMark mark;
};

struct RegionDown {
  int region = 0;
  SimTime from{0}, to{0};  // from < to
  SourceMark mark;
};

// An `expect:` item: a bound on one metric of one deployment (all regions, or one).
struct LatencyExpectation {
  int deployment = 0;  // index into deployments
  int region = -1;     // -1: every region
  std::string metric;  // p50 p95 p99 max over_budget stale conflicts lost resync failed
  bool is_max = true;  // `<metric>_max` (<=) or `<metric>_min` (>=)
  double value = 0;    // durations in microseconds, fractions in [0, 1], counts
  std::string text;    // as written, for messages
  SourceMark mark;
};

struct LatencyConfig {
  std::string file;
  std::string name;
  uint64_t seed = 1;
  std::vector<LatencyRegion> regions;
  // Round trip between regions i and j (rtt[i][i]: a service to its own cluster, links'
  // local_rtt). OneWay splits it: rtt/2 rounded down from the lower-indexed region, the
  // rest back, so the two ways always sum to the round trip.
  std::vector<std::vector<SimTime>> rtt;
  SimTime jitter{0};  // +/- on every inter-region message, <= the smallest one-way latency
  double loss = 0;    // replication messages, [0, 1)
  int shards = 3;
  SimTime service_time{100};
  std::optional<SimTime> replicated_service_time;
  uint64_t keys = 10000;
  double zipf = 0.99;
  ArrivalProcess arrivals = ArrivalProcess::kPoisson;
  SimTime duration{10'000'000};  // requests arrive at times < duration
  SimTime budget{100'000};
  std::vector<Deployment> deployments;
  std::vector<RegionDown> downs;
  std::vector<LatencyExpectation> expectations;

  SimTime ReplicatedServiceTime() const { return replicated_service_time.value_or(service_time); }
  SimTime OneWay(int from, int to) const;
  int RegionIndex(std::string_view name) const;
  std::string DeploymentName(int d) const;  // "single-primary us-east"
  // The index of the deployment `text` names: its DeploymentName, or its kind
  // ("single-primary") when one deployment alone is of that kind. -1: none is named; -2:
  // several are (an ambiguous kind). `expect: deployment` and --deployment both name so.
  int FindDeployment(std::string_view text) const;
  std::string DeploymentNames() const;  // every DeploymentName, ", "-separated
};

// True when the YAML text is a latency file (its top level has a `deployments:` key), which
// `aasim run` then hands to RunLatency. Never fails (unparsable text: false).
bool IsLatencyText(std::string_view yaml_text);
Result<LatencyConfig> ParseLatencyConfig(std::string_view yaml_text, const std::string& file_name);
Result<LatencyConfig> LoadLatencyFile(const std::string& path);
// The file's text, for IsLatencyText; nullopt when unreadable.
std::optional<std::string> ReadTextFile(const std::string& path);

// Integer-microsecond histogram: exact below 2^20 us (~1.05 s), 1 ms buckets above (values
// past ~18 min clamp into the last bucket; max is always exact).
class LatencyHistogram {
 public:
  void Add(SimTime t) {
    const int64_t v = t.count();
    if (v >= 0 && static_cast<uint64_t>(v) < fine_.size()) [[likely]] {  // inline: the hot path
      min_ = SimTime{count_ == 0 || v < min_.count() ? v : min_.count()};
      if (v > max_.count()) max_ = t;
      ++count_;
      sum_ += v;
      ++fine_[static_cast<size_t>(v)];
      return;
    }
    AddSlow(t);
  }
  // Asks the cache for the bucket of t ahead of an Add(t) (LatencyAdds): no effect otherwise.
  void Prefetch(SimTime t) const {
    const uint64_t v = static_cast<uint64_t>(t.count());
    if (v < fine_.size()) __builtin_prefetch(&fine_[v], 1);
  }
  uint64_t count() const { return count_; }
  SimTime max() const { return max_; }
  SimTime min() const { return min_; }
  double mean_us() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // Nearest rank: the ceil(p/100 * n)-th smallest (bucket value above 1.05 s). 0 when empty.
  SimTime Percentile(double p) const;
  uint64_t CountAbove(SimTime t) const;  // samples > t (exact when t < 2^20 us)
  // (value, cumulative fraction) at every distinct value, for charts.
  std::vector<std::pair<SimTime, double>> Cdf() const;
  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

 private:
  static constexpr int64_t kExactLimit = int64_t{1} << 20;
  static constexpr int64_t kCoarseBuckets = int64_t{1} << 20;
  int64_t BucketValue(size_t i) const;
  void AddSlow(SimTime t);        // Add outside the buckets grown so far
  std::vector<uint32_t> fine_;    // grown on demand
  std::vector<uint32_t> coarse_;  // 1 ms buckets from kExactLimit
  uint64_t count_ = 0;
  int64_t sum_ = 0;
  SimTime max_{0}, min_{0};
};

struct RegionResult {
  int region = 0;
  uint64_t requests = 0;  // completed
  uint64_t failed = 0;    // could not be served (no cluster could take a call)
  LatencyHistogram latency;
  uint64_t over_budget = 0;     // latency > budget
  uint64_t rerouted_calls = 0;  // calls served by another region's cluster than planned
  uint64_t reads = 0, stale_reads = 0;
  uint64_t writes = 0;             // committed writes issued by this region's users
  uint64_t conflicting_pairs = 0;  // counted at the later write, whose cluster is this region's
  LatencyHistogram lag;            // replication lag of writes applied at this region's cluster
  uint64_t writes_present = 0;     // at the end, in this region's cluster
  uint64_t present_digest = 0;     // sum of a hash of every present write's id
  friend bool operator==(const RegionResult&, const RegionResult&) = default;
};

struct ResyncResult {
  int region = 0;
  SimTime from{0}, to{0};
  uint64_t backlog = 0;    // writes it had to apply at `to` (committed elsewhere before)
  SimTime resynced_at{0};  // when it had applied them all (services return)
  SimTime resync_time{0};  // resynced_at - to
  friend bool operator==(const ResyncResult&, const ResyncResult&) = default;
};

struct DeploymentResult {
  int deployment = 0;
  std::vector<RegionResult> regions;
  std::vector<ResyncResult> resyncs;
  uint64_t writes_accepted = 0;  // committed anywhere
  int copies = 0;                // clusters meant to hold every write
  bool nothing_lost = false;     // every copy holds every accepted write (count and digest)
  uint64_t events = 0;
  SimTime end{0};  // the last event
  friend bool operator==(const DeploymentResult&, const DeploymentResult&) = default;
};

struct ExpectationResult {
  int index = 0;  // into config.expectations
  int region = 0;
  double actual = 0;
  bool ok = false;
};

struct LatencyReport {
  LatencyConfig config;
  std::vector<DeploymentResult> deployments;
  std::vector<ExpectationResult> checks;  // every (expectation, region) checked
  int failures = 0;                       // failed checks + deployments that lost writes
  uint64_t digest = 0;                    // of every result, for determinism checks
};

// Scales a config from the command line: duration, every region's rate, seed.
struct LatencyOverrides {
  std::optional<SimTime> duration;
  std::optional<double> rate;  // requests per second in every region
  std::optional<uint64_t> seed;
  std::optional<std::string> deployment;  // run only this one (its name as printed)
};
// The most requests one deployment may simulate (duration times the sum of the regions'
// rates): a few minutes of one core. CheckLatencyWork says "duration x rate: ..." beyond it.
inline constexpr double kMaxLatencyRequests = 2e8;
// The most database calls (requests times their `calls`): as many as kMaxLatencyRequests
// requests of 10 calls, a few minutes of one core too (an hour of three regions at 10,000
// requests/s and 3 calls, 3.2e8 calls, takes ~25 s). Without it 2e8 requests of 1000 calls
// each would run for hours ("duration x rate x calls: ..." beyond it).
inline constexpr double kMaxLatencyCalls = 2e9;
Status CheckLatencyWork(const LatencyConfig& config);
// The smallest non-zero rate (requests per second; one request in about 11 days, so less
// than four in the longest duration, 1000h): a chosen bound, well above where the gap
// between two arrivals, in microseconds, would no longer fit the clock (below ~4e-12; a
// rate of 1e-300 made it wrap and arrivals never end). A region's rate is 0 or in [kMinLatencyRate,
// 1e9]; kLatencyRateRange words it.
inline constexpr double kMinLatencyRate = 1e-6;
inline constexpr std::string_view kLatencyRateRange = "0 or in [1e-6, 1e9] (requests/s)";
inline bool ValidLatencyRate(double rate) {
  return rate == 0 || (rate >= kMinLatencyRate && rate <= 1e9);
}

// InvalidArgument (the bare reason) for an override that does not fit, or for more work
// than CheckLatencyWork allows.
Status ApplyLatencyOverrides(const LatencyOverrides& o, LatencyConfig* config);

// How far a run has got, for a progress line: the running deployments add to it as they
// go (every 65536 events, and all that is left when one ends); any thread may read it
// meanwhile. It never changes a result.
struct LatencyProgress {
  // Virtual time simulated, each deployment's counted up to the config's duration (its
  // drain after the last arrival is not), summed over deployments.
  std::atomic<int64_t> virtual_us{0};
  std::atomic<uint64_t> events{0};  // events run, summed over deployments
};

// Runs one deployment, adding to *progress if not null. REQUIRES: a config from
// ParseLatencyConfig (validated).
DeploymentResult RunLatencyDeployment(const LatencyConfig& config, int deployment,
                                      LatencyProgress* progress = nullptr);
// Runs every deployment, at most `jobs` at once on separate threads, and checks the
// expectations; the report is the same for any `jobs`. `progress` as above.
// REQUIRES: jobs >= 1.
LatencyReport RunLatency(const LatencyConfig& config, int jobs = 1,
                         LatencyProgress* progress = nullptr);

// The metric of an expectation for one region's result ("over_budget" is a fraction).
double LatencyMetric(const LatencyReport& report, const DeploymentResult& d, int region,
                     std::string_view metric);

// Rendering (deterministic text).
std::string RenderLatencyText(const LatencyReport& report, bool quiet);
std::string RenderLatencyCsv(const LatencyReport& report);
// One panel per region: the latency CDF (log time axis), one series per deployment, the
// budget marked.
std::string RenderLatencySvg(const LatencyReport& report);

}  // namespace cluster_sim
