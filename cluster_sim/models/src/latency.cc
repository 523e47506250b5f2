// The engine of latency.h: seeded open-loop requests through shard queues and replication
// links, one run per deployment, and the checks of a file's expectations.
//
// Events go through a LatencyQueue (latency_queue.h), kept lean (bench/latency_bench.cc): an
// event is a 64-bit word (kind and argument). Its timing wheel of 4 ms (a local call, a
// shard's queue) stays in L1/L2; its coarse lists carry replication messages across
// regions; every push and pop is O(1). Requests and replication messages live in pools
// with free lists: no allocation per event. With no cluster ever down, a call's arrival and
// a replication message carry what their handler needs in the event word itself (CallArg,
// ApplyArg), so the request or message is not read cold when they arrive.
#include "cluster_sim/latency.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/hotkey.h"
#include "cluster_sim/latency_queue.h"
#include "cluster_sim/parallel.h"
#include "cluster_sim/rng.h"

namespace cluster_sim {

// ---------------------------------------------------------------- histogram

void LatencyHistogram::AddSlow(SimTime t) {
  const int64_t v = std::max<int64_t>(0, t.count());
  min_ = SimTime{count_ == 0 ? v : std::min(min_.count(), v)};
  max_ = SimTime{std::max(max_.count(), v)};  // max_ is 0 while empty
  ++count_;
  sum_ += v;
  if (v < kExactLimit) {
    const size_t i = static_cast<size_t>(v);
    if (i >= fine_.size()) fine_.resize(std::max<size_t>(std::bit_ceil(i + 1), 1024), 0);
    ++fine_[i];
  } else {
    const size_t i =
        static_cast<size_t>(std::min<int64_t>((v - kExactLimit) / 1000, kCoarseBuckets - 1));
    if (i >= coarse_.size()) coarse_.resize(std::bit_ceil(i + 1), 0);
    ++coarse_[i];
  }
}

int64_t LatencyHistogram::BucketValue(size_t i) const {
  if (i < fine_.size()) return static_cast<int64_t>(i);
  return kExactLimit + static_cast<int64_t>(i - fine_.size()) * 1000;
}

SimTime LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return SimTime{0};
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < fine_.size(); ++i) {
    seen += fine_[i];
    if (seen >= rank) return SimTime{static_cast<int64_t>(i)};
  }
  for (size_t i = 0; i < coarse_.size(); ++i) {
    seen += coarse_[i];
    if (seen >= rank) return std::min(max_, SimTime{kExactLimit + static_cast<int64_t>(i) * 1000});
  }
  return max_;
}

uint64_t LatencyHistogram::CountAbove(SimTime t) const {
  uint64_t n = 0;
  const int64_t v = t.count();
  for (size_t i = v < 0 ? 0 : static_cast<size_t>(v) + 1; i < fine_.size(); ++i) n += fine_[i];
  for (size_t i = 0; i < coarse_.size(); ++i) {
    if (kExactLimit + static_cast<int64_t>(i) * 1000 > v) n += coarse_[i];
  }
  return n;
}

std::vector<std::pair<SimTime, double>> LatencyHistogram::Cdf() const {
  std::vector<std::pair<SimTime, double>> out;
  uint64_t seen = 0;
  const double n = static_cast<double>(count_);
  for (size_t i = 0; i < fine_.size(); ++i) {
    if (fine_[i] == 0) continue;
    seen += fine_[i];
    out.emplace_back(SimTime{static_cast<int64_t>(i)}, static_cast<double>(seen) / n);
  }
  for (size_t i = 0; i < coarse_.size(); ++i) {
    if (coarse_[i] == 0) continue;
    seen += coarse_[i];
    out.emplace_back(SimTime{kExactLimit + static_cast<int64_t>(i) * 1000},
                     static_cast<double>(seen) / n);
  }
  return out;
}

namespace {

// A slot of `pool` for a new record: the last one freed (its number pushed on `free` when
// its record was done), else a new default-constructed one at the end. Its fields are the
// caller's to fill.
template <typename T>
inline uint32_t TakeSlot(std::vector<T>* pool, std::vector<uint32_t>* free) {
  if (!free->empty()) {
    const uint32_t slot = free->back();
    free->pop_back();
    return slot;
  }
  pool->emplace_back();
  return static_cast<uint32_t>(pool->size() - 1);
}

// ---------------------------------------------------------------- events

// An event: kind << kKindShift | argument.
enum Kind : uint32_t {
  kRequestStart,  // arg: region
  kCallArrive,    // arg: request slot
  kCallDone,      // arg: request slot
  kReplArrive,    // arg: message slot
  kReplDone,      // arg: message slot
  kDown,          // arg: index into config.downs
  kUp,            // arg: index into config.downs
  kReplApply,     // arg: a replication message itself (ApplyArg)
  kCallEnter,     // arg: a call itself (CallArg)
};

// A wheel of 4 ms (a local call, a shard's queue); 64-bit events, so that a replication
// message can travel in its event (kReplApply) instead of in the message pool, whose slot
// its arrival, 40 to 100 ms after the send, would read cold.
using Queue = LatencyQueue<12, 9, uint64_t>;
constexpr int kKindShift = Queue::kEventBits - 4;
constexpr uint64_t kArgMask = (uint64_t{1} << kKindShift) - 1;

// The argument of kReplApply, a message that arrives at a cluster that never goes down:
//   bits 0..23   the key          24..30  the destination cluster
//   bits 31..48  its transit: arrival minus commit, in microseconds
// Replicate packs a message so only when each field fits (else the message takes a pool
// slot and kReplArrive).
struct ApplyArg {
  static constexpr int kKeyBits = 24;
  static constexpr int kDestBits = 7;
  static constexpr int kTransitBits = kKindShift - kKeyBits - kDestBits;
  static constexpr int64_t kTransitLimit = int64_t{1} << kTransitBits;
  static uint64_t Pack(uint32_t key, int dest, int64_t transit) {
    return uint64_t{key} | uint64_t(dest) << kKeyBits |
           static_cast<uint64_t>(transit) << (kKeyBits + kDestBits);
  }
  static uint32_t Key(uint64_t arg) { return arg & ((uint64_t{1} << kKeyBits) - 1); }
  static size_t Dest(uint64_t arg) { return (arg >> kKeyBits) & ((size_t{1} << kDestBits) - 1); }
  static int64_t Transit(uint64_t arg) {
    return static_cast<int64_t>(arg >> (kKeyBits + kDestBits));
  }
};
static_assert(ApplyArg::kTransitBits >= 18, "a transit of 262 ms fits");

// The argument of kCallEnter, a call that arrives at a cluster that never goes down:
//   bits 0..16   the request slot   17..40  the key   41..47  the target cluster
//   bit  48      whether DecideLocalRead may decide it (its request's last call, a read, of a
//                region whose reads stay at its own cluster)
// so its arrival does not read its request, last touched a trip ago (40 to 100 ms for one
// that crossed an ocean). IssueCall packs a call so only when its slot fits.
struct CallArg {
  static constexpr int kSlotBits = 17;
  static constexpr int kKeyBits = 24;
  static constexpr int kTargetBits = 7;
  static constexpr uint32_t kSlotLimit = uint32_t{1} << kSlotBits;
  static_assert(kSlotBits + kKeyBits + kTargetBits + 1 <= kKindShift, "fits an event");
  static uint64_t Pack(uint32_t slot, uint32_t key, int target, bool decides) {
    return uint64_t{slot} | uint64_t{key} << kSlotBits |
           uint64_t(target) << (kSlotBits + kKeyBits) |
           uint64_t{decides} << (kSlotBits + kKeyBits + kTargetBits);
  }
  static uint32_t Slot(uint64_t arg) { return arg & (kSlotLimit - 1); }
  static uint32_t Key(uint64_t arg) { return (arg >> kSlotBits) & ((uint64_t{1} << kKeyBits) - 1); }
  static int Target(uint64_t arg) {
    return static_cast<int>((arg >> (kSlotBits + kKeyBits)) & ((uint64_t{1} << kTargetBits) - 1));
  }
  static bool Decides(uint64_t arg) { return (arg >> (kSlotBits + kKeyBits + kTargetBits)) & 1; }
};

// ---------------------------------------------------------------- key popularity

// Zipf over ranks 0..n-1 as an alias table (Walker 1977, Vose 1991): one draw is a bucket
// (the high half of Next() * n, bias < n / 2^64) and a coin, O(1) whatever n is. Built
// from ZipfSampler's probabilities, in a fixed order: deterministic. The coin compares the
// draw's 53 bits with an integer threshold (Rng::Below53: the same outcome as
// UniformDouble() < prob) and picks without a branch (it is a coin: no predictor guesses it).
class AliasSampler {
 public:
  explicit AliasSampler(const ZipfSampler& zipf) {
    const size_t n = zipf.size();
    std::vector<double> prob(n);
    alias_.resize(n);
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = zipf.Probability(i) * static_cast<double>(n);
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : large) prob[i] = 1.0, alias_[i] = i;
    for (uint32_t i : small) prob[i] = 1.0, alias_[i] = i;  // rounding leftovers
    below_.resize(n);
    for (size_t i = 0; i < n; ++i) below_[i] = Rng::Below53(prob[i]);
  }
  uint32_t Sample(Rng& rng) const {
    const uint32_t i = Bucket(rng.Next());
    const uint32_t keep = 0u - static_cast<uint32_t>(rng.Next53() < below_[i]);  // all ones: i
    return (i & keep) | (alias_[i] & ~keep);
  }

 private:
  uint32_t Bucket(uint64_t draw) const {
    __extension__ using U128 = unsigned __int128;
    return static_cast<uint32_t>((static_cast<U128>(draw) * below_.size()) >> 64);
  }

  std::vector<uint64_t> below_;  // Below53(probability): the coin keeps i below it
  std::vector<uint32_t> alias_;
};

// ---------------------------------------------------------------- deferred histogram adds

// The lag and latency histograms are exact to the microsecond (4 bytes a bucket, up to 4 MB
// each), so an Add is often a cache miss that the event's other work waits on. Each Add here
// asks the cache for its bucket and makes the Add of kDepth adds ago, whose bucket has had
// time to arrive. A histogram only sums its adds, so their order changes nothing in it;
// Flush before reading any.
class DeferredAdds {
 public:
  void Add(LatencyHistogram* h, SimTime t) {
    h->Prefetch(t);
    Entry& e = ring_[next_++ & (kDepth - 1)];
    if (e.histogram != nullptr) [[likely]] {
      e.histogram->Add(e.t);
    }
    e = Entry{h, t};
  }
  void Flush() {
    for (Entry& e : ring_) {
      if (e.histogram != nullptr) e.histogram->Add(e.t);
      e.histogram = nullptr;
    }
  }

 private:
  static constexpr size_t kDepth = 16;  // a power of 2
  struct Entry {
    LatencyHistogram* histogram = nullptr;
    SimTime t{0};
  };
  Entry ring_[kDepth];
  size_t next_ = 0;
};

// ---------------------------------------------------------------- the model

struct Request {
  int64_t start = 0;
  uint64_t entry_order = 0;  // Engine::EventOrder() of the pop that entered its current call
  uint32_t key = 0;
  uint32_t applied_mark = 0;  // KeyCopy::applied of (key, target) when the call entered its shard
  int16_t region = 0;
  int16_t target = 0;
  int16_t calls_left = 0;
  bool is_write = false;
};

// One key at one cluster: writes committed elsewhere and sent to it, and how many of those
// entered the key's shard queue there (each is applied when it leaves the queue). Counts
// wrap; their differences do not.
//
// watch_*: a read of the key here decided at its shard entry (Engine::DecideLocalRead) that
// found no write pending: it is stale only if a write to the key commits elsewhere before
// the read would have executed, at watch_end - 1 (ties: by watch_order, the EventOrder() of
// the pop that entered it). The next such commit decides it and clears it; one never
// decided was not stale. watch_end 0: none. Both fit 32 bits: reads are decided only while
// the time and the event count are below 2^32 - 1 (then every later read keeps its event).
struct KeyCopy {
  uint32_t committed = 0;
  uint32_t applied = 0;
  uint32_t watch_end = 0;
  uint32_t watch_order = 0;
};

struct ReplMsg {
  int64_t commit = 0;
  uint64_t write_id = 0;
  uint64_t write_hash = 0;  // HashId(write_id)
  uint32_t key = 0;
  int16_t origin = 0;
  int16_t dest = 0;
};

// std::llround(x) for an arrival time x >= 0, without the library call: a double's
// fraction is exact, and a half rounds up (away from zero) as in llround.
int64_t RoundArrival(double x) {
  if (!(x < 0x1p62)) return std::llround(x);  // (never for a valid run)
  const int64_t i = static_cast<int64_t>(x);
  return i + (x - static_cast<double>(i) >= 0.5 ? 1 : 0);
}

uint64_t HashId(uint64_t id) {
  uint64_t z = id + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Engine {
 public:
  Engine(const LatencyConfig& config, int deployment, LatencyProgress* progress)
      : c_(config),
        dep_(config.deployments[static_cast<size_t>(deployment)]),
        n_(static_cast<int>(config.regions.size())),
        clusters_(config.regions.size()),
        shards_(config.shards),
        service_(config.service_time.count()),
        repl_service_(config.ReplicatedServiceTime().count()),
        keys_(ZipfSampler(config.keys, config.zipf)),
        jitter_bound_(static_cast<uint64_t>(config.jitter.count()) * 2 + 1),
        progress_(progress) {
    const size_t n = static_cast<size_t>(n_);
    result_.deployment = deployment;
    result_.regions.resize(n);
    for (int r = 0; r < n_; ++r) result_.regions[static_cast<size_t>(r)].region = r;
    one_way_.resize(n * n);
    for (int a = 0; a < n_; ++a) {
      for (int b = 0; b < n_; ++b) one_way_[Pair(a, b)] = config.OneWay(a, b).count();
    }
    shard_of_key_.resize(config.keys);
    for (uint64_t k = 0; k < config.keys; ++k) {
      const int slot = KeySlot("key:" + std::to_string(k));
      shard_of_key_[k] = static_cast<uint16_t>(ShardOfSlot(slot, shards_));
    }
    copies_.assign(config.keys * n, KeyCopy{});
    pending_total_.assign(n, 0);
    busy_.assign(n * static_cast<size_t>(shards_), 0);
    down_.assign(n, 0);
    synced_.assign(n, 1);
    backlog_.resize(n);
    resync_slot_.assign(n, -1);
    resync_remaining_.assign(n, 0);
    resync_watermark_.assign(n, 0);
    present_.assign(n, 0);
    present_digest_.assign(n, 0);
    const Rng root(config.seed);
    for (int r = 0; r < n_; ++r) {
      const std::string& name = config.regions[static_cast<size_t>(r)].name;
      arrival_rng_.push_back(root.Fork("arrivals:" + name));
      op_rng_.push_back(root.Fork("ops:" + name));
    }
    for (int a = 0; a < n_; ++a) {
      for (int b = 0; b < n_; ++b) {
        link_rng_.push_back(root.Fork("link:" + config.regions[static_cast<size_t>(a)].name + "->" +
                                      config.regions[static_cast<size_t>(b)].name));
      }
    }
    next_arrival_.assign(n, 0.0);
    arrivals_issued_.assign(n, 0);
    jittered_ = config.jitter.count() > 0;
    apply_at_entry_ = config.downs.empty();
    packs_applies_ = apply_at_entry_ && config.keys <= (uint64_t{1} << ApplyArg::kKeyBits) &&
                     n_ <= (1 << ApplyArg::kDestBits);
    packs_calls_ = apply_at_entry_ && config.keys <= (uint64_t{1} << CallArg::kKeyBits) &&
                   n_ <= (1 << CallArg::kTargetBits);
    // With no cluster ever down every call goes to its preferred cluster (Route is never
    // asked), so a region's reads are at its own cluster exactly when it prefers that.
    replicates_ = dep_.kind != DeploymentKind::kSinglePrimary;
    for (int g = 0; g < n_; ++g) {
      const RegionWorkload& w = config.regions[static_cast<size_t>(g)].workload;
      // Rng::Chance(w.reads), drawn as Next53() < Below53(w.reads) when it draws.
      reads_.push_back(ReadCoin{Rng::Below53(w.reads), w.reads > 0 && w.reads < 1, w.reads >= 1});
      calls_.push_back(static_cast<int16_t>(w.calls));
      decides_read_.push_back(config.downs.empty() && PreferredWhenUp(g, false) == g ? 1 : 0);
      for (const bool is_write : {false, true}) {
        preferred_.push_back(static_cast<int16_t>(PreferredWhenUp(g, is_write)));
      }
      for (const bool is_write : {false, true}) {
        for (const bool last : {false, true}) {
          const int target = PreferredWhenUp(g, is_write);
          const bool decides = last && !is_write && decides_read_.back() != 0;
          routes_.push_back(CallRoute{OneWay(g, target),
                                      Event(kCallEnter, CallArg::Pack(0, 0, target, decides)),
                                      static_cast<int16_t>(target)});
        }
      }
    }
  }

  DeploymentResult Run() {
    for (int r = 0; r < n_; ++r) ScheduleNextStart(r);
    for (size_t i = 0; i < c_.downs.size(); ++i) {
      const RegionDown& d = c_.downs[i];
      Schedule(d.from.count(), kDown, static_cast<uint32_t>(i));
      Schedule(d.to.count(), kUp, static_cast<uint32_t>(i));
      ResyncResult rr;
      rr.region = d.region;
      rr.from = d.from;
      rr.to = d.to;
      resync_slot_[static_cast<size_t>(d.region)] = static_cast<int>(result_.resyncs.size());
      result_.resyncs.push_back(rr);
    }
    uint64_t e;
    while (queue_.Pop(&e)) {
      if (++result_.events >= next_progress_) [[unlikely]] {
        next_progress_ = result_.events + kProgressEvents;
        if (progress_ != nullptr) ReportProgress(std::min(Now(), c_.duration.count()));
      }
      const uint32_t arg = static_cast<uint32_t>(e & kArgMask);
      switch (static_cast<Kind>(e >> kKindShift)) {
        case kReplApply:
          ReplApply(e & kArgMask);
          break;
        case kCallEnter: {
          const uint64_t call = e & kArgMask;
          EnterShard(CallArg::Slot(call), CallArg::Key(call), CallArg::Target(call),
                     CallArg::Decides(call));
          break;
        }
        case kRequestStart:
          StartRequest(static_cast<int>(arg));
          break;
        case kCallArrive:
          CallArrive(arg);
          break;
        case kCallDone:
          CallDone(arg);
          break;
        case kReplArrive:
          ReplArrive(arg);
          break;
        case kReplDone:
          ReplDone(arg);
          break;
        case kDown:
          Down(arg);
          break;
        case kUp:
          Up(arg);
          break;
        default:  // every event is pushed with a Kind: no range check before the jump
          __builtin_unreachable();
      }
    }
    result_.end = SimTime{std::max(Now(), done_until_)};
    adds_.Flush();
    Finish();
    if (progress_ != nullptr) ReportProgress(c_.duration.count());
    return std::move(result_);
  }

 private:
  static constexpr uint64_t kProgressEvents = uint64_t{1} << 16;
  static constexpr int64_t kWatchLimit = int64_t{UINT32_MAX};  // KeyCopy::watch_*

  // Adds what was done since the last report to *progress_: virtual time up to `until`.
  [[gnu::noinline]] void ReportProgress(int64_t until) {
    progress_->virtual_us.fetch_add(until - reported_until_, std::memory_order_relaxed);
    progress_->events.fetch_add(result_.events - reported_events_, std::memory_order_relaxed);
    reported_until_ = until;
    reported_events_ = result_.events;
  }

  size_t Pair(int a, int b) const { return static_cast<size_t>(a * n_ + b); }
  size_t CopyIndex(uint32_t key, int cluster) const {
    return static_cast<size_t>(key) * clusters_ + static_cast<size_t>(cluster);
  }
  int64_t OneWay(int a, int b) const { return one_way_[Pair(a, b)]; }
  RegionResult& Stats(int region) { return result_.regions[static_cast<size_t>(region)]; }

  // REQUIRES: t >= Now(); arg <= kArgMask.
  void Schedule(int64_t t, Kind kind, uint64_t arg) { queue_.Push(t, Event(kind, arg)); }
  static uint64_t Event(Kind kind, uint64_t arg) { return uint64_t{kind} << kKindShift | arg; }

  // ---- requests

  // Inlined: GCC's heuristics leave it out of line otherwise (about 1% more instructions).
  [[gnu::always_inline]] void ScheduleNextStart(int r) {
    const RegionWorkload& w = c_.regions[static_cast<size_t>(r)].workload;
    if (w.rate <= 0) return;
    const size_t i = static_cast<size_t>(r);
    int64_t t = 0;
    if (c_.arrivals == ArrivalProcess::kUniform) {
      // The k-th request at (k + (r+1)/(n+1)) / rate: regions interleave, never coincide.
      const double phase = static_cast<double>(r + 1) / (n_ + 1);
      t = static_cast<int64_t>(
          std::floor((static_cast<double>(arrivals_issued_[i]) + phase) * 1e6 / w.rate));
    } else {
      // Exponential gaps accumulated in double, rounded to the microsecond once.
      next_arrival_[i] += -std::log1p(-arrival_rng_[i].UniformDouble()) * 1e6 / w.rate;
      t = RoundArrival(next_arrival_[i]);
    }
    ++arrivals_issued_[i];
    if (t >= c_.duration.count()) return;
    Schedule(std::max(t, Now()), kRequestStart, static_cast<uint32_t>(r));
  }

  void StartRequest(int r) {
    ScheduleNextStart(r);
    const uint32_t slot = TakeSlot(&requests_, &free_requests_);
    Request& q = requests_[slot];
    q.start = Now();
    q.region = static_cast<int16_t>(r);
    q.calls_left = calls_[static_cast<size_t>(r)];
    IssueCall(slot, n_, 0);
  }

  // The call leaves the service of q.region `delay` after now; `prev` is the cluster whose
  // reply it follows (n_: the request's start), for its jitter.
  // Inlined into its two callers: a call of it costs ~20 instructions of prologue and
  // epilogue, about an eighth of its work, three times per request.
  [[gnu::always_inline]] void IssueCall(uint32_t slot, int prev, int64_t delay) {
    Request& q = requests_[slot];
    const int g = q.region;
    Rng& rng = op_rng_[static_cast<size_t>(g)];
    const ReadCoin& coin = reads_[static_cast<size_t>(g)];
    q.is_write = !(coin.draws ? rng.Next53() < coin.below : coin.sure);
    q.key = keys_.Sample(rng);
    const CallRoute& route =
        routes_[static_cast<size_t>(g * 4 + q.is_write * 2 + (q.calls_left == 1 ? 1 : 0))];
    int target = route.target;
    int64_t one_way = route.one_way;
    if (unusable_ > 0) [[unlikely]] {
      target = Route(g, q.is_write);
      if (target < 0) {
        ++Stats(g).failed;
        free_requests_.push_back(slot);
        return;
      }
      if (target != Preferred(g, q.is_write)) ++Stats(g).rerouted_calls;
      one_way = OneWay(g, target);
    }
    q.target = static_cast<int16_t>(target);
    // Read when the call enters its shard, at least a one-way trip from now.
    __builtin_prefetch(&copies_[CopyIndex(q.key, target)]);
    int64_t t = Now() + delay + one_way;
    if (jittered_) {
      if (prev < n_ && prev != g) t += Jitter(prev, g);
      if (target != g) t += Jitter(g, target);
    }
    uint64_t event = Event(kCallArrive, slot);
    if (packs_calls_ && slot < CallArg::kSlotLimit) [[likely]] {
      // No cluster ever goes down (packs_calls_), so the call goes to route.target, and
      // route.enter holds its kind, target and whether it decides.
      event = route.enter | CallArg::Pack(slot, q.key, 0, false);
    }
    queue_.Push(t, event);  // one push site: each is inlined
  }

  // Range(-jitter, jitter) on the link's generator.
  [[gnu::always_inline]] int64_t Jitter(int a, int b) {
    if (a == b) return 0;
    return static_cast<int64_t>(link_rng_[Pair(a, b)].Uniform(jitter_bound_)) - c_.jitter.count();
  }

  // Where the deployment sends a call when every cluster is up.
  int Preferred(int g, bool is_write) const {
    return preferred_[static_cast<size_t>(g * 2 + is_write)];
  }
  int PreferredWhenUp(int g, bool is_write) const {
    switch (dep_.kind) {
      case DeploymentKind::kActiveActive:
        return g;
      case DeploymentKind::kSinglePrimary:
        return dep_.primary;
      case DeploymentKind::kPrimaryWithLocalReplicas:
        return is_write ? dep_.primary : g;
    }
    return g;
  }

  bool Usable(int cluster) const {
    return !down_[static_cast<size_t>(cluster)] && synced_[static_cast<size_t>(cluster)];
  }

  // Where the call goes now: the preferred cluster, else (if another copy may serve it) the
  // usable cluster nearest to the service, else -1 (the call fails).
  [[gnu::noinline]] int Route(int g, bool is_write) const {
    const int preferred = Preferred(g, is_write);
    if (Usable(preferred)) return preferred;
    const bool any_copy = dep_.kind == DeploymentKind::kActiveActive ||
                          (dep_.kind == DeploymentKind::kPrimaryWithLocalReplicas && !is_write);
    if (!any_copy) return -1;
    int best = -1;
    for (int c = 0; c < n_; ++c) {
      if (Usable(c) && (best < 0 || OneWay(g, c) < OneWay(g, best))) best = c;
    }
    return best;
  }

  [[gnu::noinline]] void CallArrive(uint32_t slot) {
    Request& q = requests_[slot];
    const int c = q.target;
    if (down_[static_cast<size_t>(c)]) {
      // CASE 1: the cluster is down: the call bounces back to its service, which re-sends it.
      const int g = q.region;
      const int target = Route(g, q.is_write);
      if (target < 0) {
        ++Stats(g).failed;
        free_requests_.push_back(slot);
        return;
      }
      ++Stats(g).rerouted_calls;
      q.target = static_cast<int16_t>(target);
      int64_t t = Now() + OneWay(c, g) + OneWay(g, target);
      if (jittered_) t += Jitter(c, g) + Jitter(g, target);
      Schedule(t, kCallArrive, slot);
      return;
    }
    // CASE 2: it enters the shard.
    EnterShard(
        slot, q.key, c,
        (q.calls_left == 1) & !q.is_write & (decides_read_[static_cast<size_t>(q.region)] != 0));
  }

  // The call of the request in `slot`, to `key` at cluster c (up), enters the owning shard's
  // FIFO queue; it executes at the end of its service. `decides`: the request's last call, a
  // read, of a region whose reads stay at its own cluster (DecideLocalRead may decide it).
  [[gnu::always_inline]] void EnterShard(uint32_t slot, uint32_t key, int c, bool decides) {
    const size_t sh = static_cast<size_t>(c * shards_ + shard_of_key_[key]);
    const int64_t done = std::max(Now(), busy_[sh]) + service_;
    busy_[sh] = done;
    Request& q = requests_[slot];
    q.applied_mark = copies_[CopyIndex(key, c)].applied;
    q.entry_order = EventOrder();
    // One branch for the three conditions (each is a coin to a predictor).
    if (decides) {
      if (DecideLocalRead(slot, done)) return;
    }
    Schedule(done, kCallDone, slot);
  }

  // A pop's place in the order of pops: strictly increasing from one pop to the next.
  uint64_t EventOrder() const { return result_.events; }
  // The time of the event being run (the queue's: no copy of it to keep per pop).
  int64_t Now() const { return queue_.now(); }

  // The request's last call, a read at its own region's cluster, has just entered its shard
  // queue and executes at `done`. Its CallDone would draw nothing (no jitter inside a
  // region), schedule nothing, add only to sums (reads, requests, the latency histogram) and
  // read one thing another event writes: the key's KeyCopy::committed at this cluster, for
  // the stale check. If writes are pending already, the read is stale whatever commits
  // meanwhile (committed only grows); else it is stale exactly if a write to the key commits
  // elsewhere before `done` (in pop order), which Replicate decides through KeyCopy::watch_*. So
  // the call is completed now and counted as the event it would have been. False (the call keeps
  // its CallDone event) when another read of the key here still awaits that decision.
  [[gnu::always_inline]] bool DecideLocalRead(uint32_t slot, int64_t done) {
    Request& q = requests_[slot];
    const int c = q.target;
    const size_t i = CopyIndex(q.key, c);
    KeyCopy& copy = copies_[i];
    const bool stale = copy.committed - q.applied_mark != 0;
    if (!stale && replicates_) {
      // A watch not decided yet, or values past 32 bits: the read keeps its event.
      if (int64_t{copy.watch_end} > Now() || done >= kWatchLimit || q.entry_order >= kWatchLimit) {
        return false;
      }
      copy.watch_end = static_cast<uint32_t>(done + 1);
      copy.watch_order = static_cast<uint32_t>(q.entry_order);
    }
    RegionResult& s = Stats(c);
    ++s.reads;
    s.stale_reads += stale ? 1 : 0;
    ++result_.events;
    done_until_ = std::max(done_until_, done);
    FinishRequest(s, slot, done + OneWay(c, c));
    return true;
  }

  [[gnu::always_inline]] void CallDone(uint32_t slot) {
    Request& q = requests_[slot];
    const int c = q.target;
    const int g = q.region;
    // Writes to the key committed elsewhere and not applied here yet: the shard's queue is
    // FIFO, so those applied by now are exactly those that entered it before this call.
    const uint32_t pending = copies_[CopyIndex(q.key, c)].committed - q.applied_mark;
    RegionResult& s = Stats(g);
    if (q.is_write) {
      ++s.writes;
      ++result_.writes_accepted;
      Stats(c).conflicting_pairs += pending;
      const uint64_t id = next_write_id_++;
      const uint64_t h = HashId(id);
      total_digest_ += h;
      ++present_[static_cast<size_t>(c)];
      present_digest_[static_cast<size_t>(c)] += h;
      Replicate(c, q.key, id, h, q.entry_order);
    } else {
      ++s.reads;
      s.stale_reads += pending != 0 ? 1 : 0;  // a coin to a predictor: no branch
    }
    // The reply travels back; the next call leaves when it arrives.
    int64_t back = OneWay(c, g);
    if (--q.calls_left > 0) {
      IssueCall(slot, c, back);
      return;
    }
    if (jittered_ && c != g) back += Jitter(c, g);
    FinishRequest(s, slot, Now() + back);
  }

  // The request in `slot`, of the region whose results are `s`, gets its reply at `end`:
  // its latency is counted and its slot freed.
  [[gnu::always_inline]] void FinishRequest(RegionResult& s, uint32_t slot, int64_t end) {
    const SimTime latency{end - requests_[slot].start};
    adds_.Add(&s.latency, latency);
    ++s.requests;
    if (latency > c_.budget) ++s.over_budget;
    free_requests_.push_back(slot);
  }

  // ---- replication

  // `entry_order`: the EventOrder() of the pop that entered the write at its shard (its
  // CallDone pops after every event of its time entered before it).
  void Replicate(int origin, uint32_t key, uint64_t write_id, uint64_t write_hash,
                 uint64_t entry_order) {
    const bool sends =
        dep_.kind == DeploymentKind::kActiveActive ||
        (dep_.kind == DeploymentKind::kPrimaryWithLocalReplicas && origin == dep_.primary);
    if (!sends) return;
    for (int d = 0; d < n_; ++d) {
      if (d == origin) continue;
      ++copies_[CopyIndex(key, d)].committed;
      DecideWatch(CopyIndex(key, d), d, entry_order);
      const int64_t t = ReplArrival(origin, d);
      uint64_t event;
      if (packs_applies_ && t - Now() < ApplyArg::kTransitLimit) [[likely]] {
        // Counted as present now: it is applied on its arrival, and every event is run.
        ++present_[static_cast<size_t>(d)];
        present_digest_[static_cast<size_t>(d)] += write_hash;
        event = Event(kReplApply, ApplyArg::Pack(key, d, t - Now()));
      } else {
        ++pending_total_[static_cast<size_t>(d)];
        event = Event(kReplArrive, NewMsg(origin, d, key, write_id, write_hash));
      }
      queue_.Push(t, event);  // one push site: each is inlined
    }
  }

  // A pool slot for a message of the write committed now.
  [[gnu::noinline]] uint32_t NewMsg(int origin, int d, uint32_t key, uint64_t write_id,
                                    uint64_t write_hash) {
    const uint32_t m = TakeSlot(&msgs_, &free_msgs_);
    ReplMsg& msg = msgs_[m];
    msg.commit = Now();
    msg.write_id = write_id;
    msg.write_hash = write_hash;
    msg.key = key;
    msg.origin = static_cast<int16_t>(origin);
    msg.dest = static_cast<int16_t>(d);
    return m;
  }

  // A write to the key of copies_[i] commits now at another cluster than d: the read
  // watched there (of region d, at d's cluster), if it executes after this commit, is stale.
  void DecideWatch(size_t i, int d, uint64_t entry_order) {
    KeyCopy& copy = copies_[i];
    const int64_t end = int64_t{copy.watch_end} - 1;
    if (end < Now()) return;  // none, or it executed before now: not stale
    if (end > Now() || uint64_t{copy.watch_order} > entry_order) ++Stats(d).stale_reads;
    copy.watch_end = 0;
  }

  // Sends (or re-sends) message m now.
  void SendRepl(uint32_t m) {
    const ReplMsg& msg = msgs_[m];
    Schedule(ReplArrival(msg.origin, msg.dest), kReplArrive, m);
  }

  // When a message sent now from o arrives at d (drawn on the link's generator). A lost copy
  // is noticed one round trip later and re-sent.
  int64_t ReplArrival(int o, int d) {
    Rng& rng = link_rng_[Pair(o, d)];
    int64_t t = Now() + OneWay(o, d);
    while (rng.Chance(c_.loss)) t += OneWay(o, d) + OneWay(d, o);
    if (jittered_) t += Jitter(o, d);
    return t;
  }

  // A message packed into its event (packs_applies_) arrives: the same as its ReplArrive
  // and Apply, less what Replicate did at the send (present_) and what only a cluster that
  // goes down needs (pending_total_, the resync count).
  void ReplApply(uint64_t arg) {
    const uint32_t key = ApplyArg::Key(arg);
    const size_t d = ApplyArg::Dest(arg);
    const size_t sh = d * static_cast<size_t>(shards_) + shard_of_key_[key];
    const int64_t done = std::max(Now(), busy_[sh]) + repl_service_;
    busy_[sh] = done;
    ++copies_[CopyIndex(key, static_cast<int>(d))].applied;
    ++result_.events;
    done_until_ = std::max(done_until_, done);
    const int64_t commit = Now() - ApplyArg::Transit(arg);
    adds_.Add(&result_.regions[d].lag, SimTime{done - commit});
  }

  [[gnu::noinline]] void ReplArrive(uint32_t m) {
    const ReplMsg& msg = msgs_[m];
    const size_t d = static_cast<size_t>(msg.dest);
    if (down_[d]) {
      backlog_[d].push_back(m);  // the sender keeps it until the cluster returns
      return;
    }
    const size_t sh = d * static_cast<size_t>(shards_) + shard_of_key_[msg.key];
    const int64_t done = std::max(Now(), busy_[sh]) + repl_service_;
    busy_[sh] = done;
    ++copies_[CopyIndex(msg.key, msg.dest)].applied;
    if (!apply_at_entry_) {
      Schedule(done, kReplDone, m);
      return;
    }
    // No cluster ever goes down: the apply at `done` reads and writes only what no event
    // before it reads (sums, the lag histogram; calls see it through KeyCopy::applied), so
    // it is done now, and counted as the event it would have been.
    ++result_.events;
    done_until_ = std::max(done_until_, done);
    Apply(m, done);
  }

  [[gnu::noinline]] void ReplDone(uint32_t m) { Apply(m, Now()); }

  // Message m is applied at its destination at time `at` (now, or the end of its queue).
  void Apply(uint32_t m, int64_t at) {
    const ReplMsg msg = msgs_[m];
    free_msgs_.push_back(m);
    const size_t d = static_cast<size_t>(msg.dest);
    --pending_total_[d];
    ++present_[d];
    present_digest_[d] += msg.write_hash;
    adds_.Add(&Stats(msg.dest).lag, SimTime{at - msg.commit});
    if (!synced_[d] && !down_[d] && msg.write_id < resync_watermark_[d]) {
      if (--resync_remaining_[d] == 0) Resynced(static_cast<int>(d));
    }
  }

  // ---- failover

  [[gnu::noinline]] void Down(uint32_t i) {
    const size_t r = static_cast<size_t>(c_.downs[i].region);
    down_[r] = 1;
    synced_[r] = 0;
    CountUnusable();
  }

  [[gnu::noinline]] void Up(uint32_t i) {
    const int region = c_.downs[i].region;
    const size_t r = static_cast<size_t>(region);
    down_[r] = 0;
    CountUnusable();
    // Every write committed so far elsewhere and not yet applied here must be, before the
    // services return: those kept by the senders (re-sent now), in flight or queued.
    resync_watermark_[r] = next_write_id_;
    resync_remaining_[r] = pending_total_[r];
    ResyncResult& rr = result_.resyncs[static_cast<size_t>(resync_slot_[r])];
    rr.backlog = pending_total_[r];
    std::vector<uint32_t> kept = std::move(backlog_[r]);
    backlog_[r].clear();
    for (uint32_t m : kept) SendRepl(m);
    if (resync_remaining_[r] == 0) Resynced(region);
  }

  void CountUnusable() {
    unusable_ = 0;
    for (int c = 0; c < n_; ++c) unusable_ += Usable(c) ? 0 : 1;
  }

  void Resynced(int region) {
    const size_t r = static_cast<size_t>(region);
    synced_[r] = 1;
    CountUnusable();
    ResyncResult& rr = result_.resyncs[static_cast<size_t>(resync_slot_[r])];
    rr.resynced_at = SimTime{Now()};
    rr.resync_time = rr.resynced_at - rr.to;
  }

  void Finish() {
    for (int r = 0; r < n_; ++r) {
      Stats(r).writes_present = present_[static_cast<size_t>(r)];
      Stats(r).present_digest = present_digest_[static_cast<size_t>(r)];
    }
    bool ok = true;
    if (dep_.kind == DeploymentKind::kSinglePrimary) {
      result_.copies = 1;
      const size_t p = static_cast<size_t>(dep_.primary);
      ok = present_[p] == result_.writes_accepted && present_digest_[p] == total_digest_;
    } else {
      result_.copies = n_;
      for (int r = 0; r < n_; ++r) {
        const size_t i = static_cast<size_t>(r);
        ok = ok && present_[i] == result_.writes_accepted && present_digest_[i] == total_digest_;
      }
    }
    result_.nothing_lost = ok;
  }

  const LatencyConfig& c_;
  const Deployment& dep_;
  const int n_;
  const size_t clusters_;  // n_, for index arithmetic without a sign extension
  const int shards_;
  const int64_t service_;
  const int64_t repl_service_;
  AliasSampler keys_;
  bool jittered_ = false;
  Rng::Bound jitter_bound_;          // 2 * jitter + 1 values
  LatencyProgress* const progress_;  // may be null
  int64_t reported_until_ = 0;
  uint64_t reported_events_ = 0;
  uint64_t next_progress_ = kProgressEvents;
  DeploymentResult result_;

  std::vector<int64_t> one_way_;
  struct ReadCoin {
    uint64_t below;
    bool draws;
    bool sure;  // the outcome when it does not draw
  };
  std::vector<ReadCoin> reads_;        // per region: the workload's share of reads
  std::vector<int16_t> calls_;         // per region: calls per request
  std::vector<uint8_t> decides_read_;  // per region: DecideLocalRead may decide its last reads
  std::vector<int16_t> preferred_;     // [region * 2 + is_write]: PreferredWhenUp
  // A call's route with every cluster up: PreferredWhenUp, the one-way trip there, and its
  // kCallEnter event less the slot and the key (whether DecideLocalRead may decide it: the
  // request's last call, a read, of a region whose reads stay at its own cluster).
  struct CallRoute {
    int64_t one_way;
    uint64_t enter;
    int16_t target;
  };
  std::vector<CallRoute> routes_;  // [region * 4 + is_write * 2 + last call]
  std::vector<uint16_t> shard_of_key_;
  std::vector<KeyCopy> copies_;          // [CopyIndex(key, cluster)]
  std::vector<uint64_t> pending_total_;  // per cluster: writes committed elsewhere, not
                                         // yet applied there
  bool apply_at_entry_ = false;  // no cluster goes down: a message is applied on its arrival
  bool packs_applies_ = false;   // and its key and destination fit ApplyArg: kReplApply
  bool packs_calls_ = false;     // and a call's key and target fit CallArg: kCallEnter
  bool replicates_ = false;      // some cluster receives commits made at another
  int64_t done_until_ = 0;       // the latest event done at its scheduling instead of popped
  std::vector<int64_t> busy_;    // per shard: when its queue empties
  std::vector<uint8_t> down_, synced_;
  int unusable_ = 0;  // clusters down or not yet resynced: calls may take another route
  std::vector<std::vector<uint32_t>> backlog_;  // per down cluster: messages kept by senders
  std::vector<int> resync_slot_;
  std::vector<uint64_t> resync_remaining_, resync_watermark_;
  std::vector<uint64_t> present_, present_digest_;
  uint64_t total_digest_ = 0;
  uint64_t next_write_id_ = 0;

  Queue queue_;
  DeferredAdds adds_;  // into result_'s histograms

  std::vector<Rng> arrival_rng_, op_rng_, link_rng_;
  std::vector<double> next_arrival_;
  std::vector<uint64_t> arrivals_issued_;

  std::vector<Request> requests_;
  std::vector<uint32_t> free_requests_;
  std::vector<ReplMsg> msgs_;
  std::vector<uint32_t> free_msgs_;
};

uint64_t Mix(uint64_t h, uint64_t v) { return HashId(h ^ (v + 0x9E3779B97F4A7C15ull)); }

uint64_t Mix(uint64_t h, const LatencyHistogram& hist) {
  h = Mix(h, hist.count());
  h = Mix(h, static_cast<uint64_t>(hist.max().count()));
  for (const auto& [t, f] : hist.Cdf()) {
    h = Mix(h, static_cast<uint64_t>(t.count()));
    h = Mix(h, static_cast<uint64_t>(f * 1e12));
  }
  return h;
}

}  // namespace

DeploymentResult RunLatencyDeployment(const LatencyConfig& config, int deployment,
                                      LatencyProgress* progress) {
  Engine engine(config, deployment, progress);
  return engine.Run();
}

double LatencyMetric(const LatencyReport& report, const DeploymentResult& d, int region,
                     std::string_view metric) {
  const RegionResult& r = d.regions[static_cast<size_t>(region)];
  const auto frac = [](uint64_t a, uint64_t b) {
    return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
  };
  if (metric == "p50") return static_cast<double>(r.latency.Percentile(50).count());
  if (metric == "p95") return static_cast<double>(r.latency.Percentile(95).count());
  if (metric == "p99") return static_cast<double>(r.latency.Percentile(99).count());
  if (metric == "max") return static_cast<double>(r.latency.max().count());
  if (metric == "over_budget") return frac(r.over_budget, r.requests);
  if (metric == "stale") return frac(r.stale_reads, r.reads);
  if (metric == "conflicts") return static_cast<double>(r.conflicting_pairs);
  if (metric == "failed") return static_cast<double>(r.failed);
  if (metric == "lost") {
    const bool copy =
        d.copies > 1 ||
        report.config.deployments[static_cast<size_t>(d.deployment)].primary == region;
    return copy ? static_cast<double>(d.writes_accepted -
                                      std::min(d.writes_accepted, r.writes_present))
                : 0.0;
  }
  if (metric == "resync") {
    for (const ResyncResult& rr : d.resyncs) {
      if (rr.region == region) return static_cast<double>(rr.resync_time.count());
    }
    return 0;
  }
  return 0;
}

LatencyReport RunLatency(const LatencyConfig& config, int jobs, LatencyProgress* progress) {
  LatencyReport report;
  report.config = config;
  // Each deployment is its own run and writes only its own slot: any number of threads
  // gives the same results, gathered in file order.
  report.deployments.resize(config.deployments.size());
  ParallelFor(config.deployments.size(), jobs, [&](size_t d) {
    report.deployments[d] = RunLatencyDeployment(config, static_cast<int>(d), progress);
  });
  for (const DeploymentResult& d : report.deployments) {
    if (!d.nothing_lost) ++report.failures;
  }
  for (size_t i = 0; i < config.expectations.size(); ++i) {
    const LatencyExpectation& x = config.expectations[i];
    const DeploymentResult& d = report.deployments[static_cast<size_t>(x.deployment)];
    for (int r = 0; r < static_cast<int>(config.regions.size()); ++r) {
      if (x.region >= 0 && x.region != r) continue;
      ExpectationResult check;
      check.index = static_cast<int>(i);
      check.region = r;
      check.actual = LatencyMetric(report, d, r, x.metric);
      check.ok = x.is_max ? check.actual <= x.value : check.actual >= x.value;
      if (!check.ok) ++report.failures;
      report.checks.push_back(check);
    }
  }
  uint64_t h = config.seed;
  for (const DeploymentResult& d : report.deployments) {
    h = Mix(h, d.events);
    h = Mix(h, d.writes_accepted);
    h = Mix(h, static_cast<uint64_t>(d.end.count()));
    for (const RegionResult& r : d.regions) {
      for (uint64_t v :
           {r.requests, r.failed, r.over_budget, r.rerouted_calls, r.reads, r.stale_reads, r.writes,
            r.conflicting_pairs, r.writes_present, r.present_digest}) {
        h = Mix(h, v);
      }
      h = Mix(h, r.latency);
      h = Mix(h, r.lag);
    }
    for (const ResyncResult& rr : d.resyncs) {
      h = Mix(h, rr.backlog);
      h = Mix(h, static_cast<uint64_t>(rr.resynced_at.count()));
    }
  }
  report.digest = h;
  return report;
}

Status CheckLatencyWork(const LatencyConfig& config) {
  double rate = 0;
  double call_rate = 0;
  for (const LatencyRegion& r : config.regions) {
    rate += r.workload.rate;
    call_rate += r.workload.rate * r.workload.calls;
  }
  const double seconds = static_cast<double>(config.duration.count()) / 1e6;
  const double requests = rate * seconds;
  if (requests > kMaxLatencyRequests) {
    return Status::InvalidArgument(
        "duration x rate: " + std::to_string(static_cast<uint64_t>(requests)) +
        " requests per deployment, at most " +
        std::to_string(static_cast<uint64_t>(kMaxLatencyRequests)) +
        " (shorten the duration or lower the rate)");
  }
  const double calls = call_rate * seconds;
  if (calls > kMaxLatencyCalls) {
    return Status::InvalidArgument(
        "duration x rate x calls: " + std::to_string(static_cast<uint64_t>(calls)) +
        " database calls per deployment, at most " +
        std::to_string(static_cast<uint64_t>(kMaxLatencyCalls)) +
        " (shorten the duration, lower the rate or the calls per request)");
  }
  return Status::Ok();
}

Status ApplyLatencyOverrides(const LatencyOverrides& o, LatencyConfig* config) {
  if (o.duration) {
    if (o.duration->count() <= 0) return Status::InvalidArgument("--duration must be > 0");
    config->duration = *o.duration;
  }
  if (o.rate) {
    if (!ValidLatencyRate(*o.rate)) {
      return Status::InvalidArgument("--rate must be " + std::string(kLatencyRateRange));
    }
    for (LatencyRegion& r : config->regions) r.workload.rate = *o.rate;
  }
  if (o.seed) config->seed = *o.seed;
  if (o.deployment) {
    const int index = config->FindDeployment(*o.deployment);
    if (index < 0) {
      return Status::InvalidArgument(
          "--deployment: " +
          std::string(index == -2 ? "'" + *o.deployment + "' names several deployments"
                                  : "no deployment '" + *o.deployment + "'") +
          " (deployments are: " + config->DeploymentNames() + ")");
    }
    std::vector<Deployment> kept = {config->deployments[static_cast<size_t>(index)]};
    // Expectations name deployments by index: keep only those of the one kept.
    std::vector<LatencyExpectation> expectations;
    for (LatencyExpectation x : config->expectations) {
      if (x.deployment != index) continue;
      x.deployment = 0;
      expectations.push_back(std::move(x));
    }
    config->deployments = std::move(kept);
    config->expectations = std::move(expectations);
  }
  return CheckLatencyWork(*config);
}

}  // namespace cluster_sim
