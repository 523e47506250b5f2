// The anomaly-rate experiment (`aasim anomalies`): how often does Active/Active break an
// invariant, as a function of link latency, loss, request rate and number of regions, and
// what does each remedy cost? Every point of a sweep is one seeded run of the simulator
// (simulation.h: the real stores, commands and replication protocol) over generated traffic.
//
// Workloads:
//   overdraft  K accounts, each opened with $50 at its home region (account a lives in
//              region a mod R). In every region, withdrawals of $10 arrive on every account
//              as a Poisson process of rate `rate` (per second, per region, per account),
//              and deposits of $10 as another at the same rate. A withdrawal is approved
//              when the region's balance covers it. Invariant: `balance >= 0`, counted once
//              per approved withdrawal that took the true balance (every approved deposit and
//              withdrawal in every region, in real-time order) below zero.
//              Each attempt also counts itself in a per-region counter (INCR, in the same
//              transaction), so the experiment sees which withdrawals were concurrent: one
//              is concurrent with another when neither had reached the other's region when
//              it was decided. Model: with two regions and one-way latency d, a fraction
//              1 - e^(-2rd) of withdrawals is concurrent with another (R regions:
//              1 - e^(-2rd(R-1))); loss makes replication slower than d, so more.
//   lending    the lending service (the embedder passes its factory) under the traffic of
//              `aasim lending` (20 users, 60 books, 1 in 4 requests a return) at `rate`
//              requests per second per region; after a sync, every broken invariant is
//              counted under its own name (kLendingInvariants).
//
// Strategies:
//   active-active  every request decided in the region that received it (INCRBY / the
//                  lending service as written).
//   home           every request sent to the home region of its account (or user), paying a
//                  round trip (each leg: d, plus 2d per loss, the client's retry timeout).
//                  Keeps every invariant of ONE key group decided at one home (balance >= 0;
//                  a user's own count), never one that spans homes (a book two users of
//                  different homes both want).
//   bounded        the balance is a bounded counter (BC.*): a region spends only rights it
//                  holds, so balance >= 0 holds at every instant; the cost is withdrawals
//                  refused for want of local rights while the balance would cover them
//                  ("refused"), and with policy on-demand the latency of fetching rights.
//                  Overdraft only.
//
// Bounded-counter policies (BcPolicy, bc_policy.h's BcRebalancer) move rights in the
// background, as BC.TRANSFER effects: none; proportional (every 2d, within [10ms, 1s]);
// on-demand: a withdrawal refused for want of rights asks a peer, and is retried once when
// the rights have arrived (polled every d/4, at least 1ms; refused after 8d + 1s): the client
// sees it approved after that wait, or refused.
//
// Determinism: a point depends only on its configuration and the seed (its Rng is forked
// from the seed and the point's regions, latency, loss and rate: every strategy of a
// point sees the same requests at the same instants), so RunAnomalies gives the same points with
// any number of threads, in any shard. Threads run independent simulations.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/bc_policy.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/service.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

enum class AnomalyWorkload { kOverdraft, kLending };
enum class AnomalyStrategy { kActiveActive, kHome, kBounded };

std::string_view ToString(AnomalyWorkload w);
std::string_view ToString(AnomalyStrategy s);
bool ParseWorkload(std::string_view text, AnomalyWorkload* out);
bool ParseStrategy(std::string_view text, AnomalyStrategy* out);

// The invariants each workload counts, in report order.
inline constexpr std::string_view kOverdraftInvariant = "balance>=0";
extern const std::vector<std::string_view> kLendingInvariants;  // lent-twice, user-limit, ...
// Which lending invariant a line of the `lending-invariants` check breaks ("other" if none).
std::string_view ClassifyLendingViolation(std::string_view line);

struct AnomalyConfig {
  AnomalyWorkload workload = AnomalyWorkload::kOverdraft;
  std::vector<AnomalyStrategy> strategies = {AnomalyStrategy::kActiveActive, AnomalyStrategy::kHome,
                                             AnomalyStrategy::kBounded};
  BcPolicy policy = BcPolicy::kNone;
  std::vector<SimTime> latencies = {SimTime(50'000)};  // one-way, every link
  std::vector<double> losses = {0};
  std::vector<double> rates = {1};  // per second (per region, per account for overdraft)
  std::vector<int> regions = {2};
  int accounts = 10;      // overdraft
  int requests = 10'000;  // per point (approximately: the Poisson traffic of that duration)
  uint64_t seed = 1;
  // Overdraft, for property tests: links also duplicate 10% of messages, every link is cut
  // for the middle third of the traffic, the last region crashes at half time (losing its
  // in-memory state) and restarts at 5/6, and after every request every live region's
  // visible balance is checked (a negative one counts as a violation "region-balance>=0").
  bool chaos = false;
  ServiceFactory lending;  // REQUIRED for the lending workload
};

// One point of the sweep: a strategy at one (regions, latency, loss, rate).
struct AnomalyPoint {
  int index = 0;  // position in Enumerate order
  AnomalyStrategy strategy = AnomalyStrategy::kActiveActive;
  int regions = 2;
  SimTime latency{0};
  double loss = 0;
  double rate = 0;
  // Results.
  uint64_t requests = 0;
  uint64_t refused = 0;  // bounded: refused for want of rights while funds covered it
  std::map<std::string, uint64_t> violations;  // per invariant (every one, 0 included)
  SimTime p50{0}, p99{0}, max{0};              // latency a request adds over a local one
  uint64_t withdrawals = 0;                    // overdraft: attempts
  uint64_t concurrent = 0;                     // overdraft: attempts concurrent with another
  uint64_t transfers = 0;                      // bounded: BC.TRANSFER effects the policy made

  uint64_t total_violations() const;
  double model_concurrent() const;  // 1 - e^(-2 rate d (regions-1))
};

// Every point of the sweep (regions, then latency, loss, rate, strategy), results empty.
std::vector<AnomalyPoint> EnumeratePoints(const AnomalyConfig& config);

// Runs one point (fills its results).
void RunAnomalyPoint(const AnomalyConfig& config, AnomalyPoint* point);

// Runs the points whose index i has i % shard_count == shard, on `threads` threads;
// returns them in index order. `progress` (if set) is called after each point, from
// whichever thread ran it, with (points done, points to do): it must be thread-safe.
std::vector<AnomalyPoint> RunAnomalies(const AnomalyConfig& config, int threads, int shard = 0,
                                       int shard_count = 1,
                                       std::function<void(int, int)> progress = {});

// Wilson score interval (95%: z = 1.96) of a proportion k/n, as [lo, hi] in [0, 1].
void WilsonInterval(uint64_t k, uint64_t n, double* lo, double* hi);

// The generated traffic of `aasim lending` as a scenario: every region starts `instances`
// lending instances, then one request every `interval` (user and region drawn from `seed`;
// user u<N> lives in region N mod R; 1 to 3 books; 1 in 4 a return), with home_routing a
// request from another region is routed to its user's home; then a sync and the
// `lending-invariants` check. Steps run the service named "lending".
struct LendingTraffic {
  std::vector<std::string> regions = {"A", "B"};
  SimTime latency{50'000};
  double loss = 0;
  int instances = 1;
  int users = 20;
  int books = 60;
  int requests = 200;
  SimTime interval{10'000};
  bool home_routing = false;
  uint64_t seed = 1;
};
Scenario MakeLendingScenario(const LendingTraffic& traffic);

// SVG chart: violations per 10,000 requests vs latency, one line per strategy (and per
// regions/loss/rate combination when the sweep has several).
std::string RenderAnomaliesSvg(const AnomalyConfig& config, const std::vector<AnomalyPoint>& pts);

}  // namespace cluster_sim
