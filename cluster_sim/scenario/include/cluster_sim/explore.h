// Explore: runs one scenario under many seeded random fault schedules and shrinks each
// distinct failure to a minimal schedule (FoundationDB's simulation, TigerBeetle's VOPR,
// Jepsen's generators and shrinking).
//
// A schedule is a list of Faults. It is applied to the scenario as ordinary steps and
// options (ApplySchedule), so every schedule IS a scenario, and FormatScenario writes it
// as a file that `aasim run` replays:
//   - partition: `partition: [[A], [B, C]]` before a step, `heal: all` before a later one;
//   - crash: `crash: A` before a step, `restart: A` before a later one;
//   - loss, duplicate, delay: every link gets that loss or duplicate probability, or its
//     latency multiplied (with jitter of half of it), from the start;
//   - clock-skew: one region's wall clock offset.
// A fault lands before a step or, when that step is a `wait`, at an instant inside it (the
// wait is split). Then come the checks: the file's own expectations, and after the last
// step `heal: all`, a restart of every region still down, `sync` and `converged: []`, then
// every check of the services the file uses (`check: lending-invariants`).
// The file's `at: T` steps become `at: {time: T, if_past: now}`: when the faults (a delay, a
// loss) make the steps before one overrun T, it runs at once instead of failing, since the
// schedule, not the system, moved the clock past T.
//
// A run's verdict is the first failed step's operation ("GET x", "converged (all keys)",
// "check lending-invariants"): the same in the generated scenario and in its file.
//
// Deterministic: run i draws its schedule from Rng(seed).Fork("explore:i") alone, and
// results are gathered in run order, so the report does not depend on jobs or shards.
// Thread-safe as far as `options.run.services` factories are (each run makes its own).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

enum class FaultKind { kPartition, kLoss, kDuplicate, kDelay, kCrash, kClockSkew };
// In FaultKind order: the names of --faults.
inline constexpr std::string_view kFaultNames[] = {"partition", "loss",  "duplicate",
                                                   "delay",     "crash", "clock-skew"};

struct Fault {
  FaultKind kind = FaultKind::kPartition;
  size_t start = 0;   // before the file's step `start` (steps.size(): after the last one)
  SimTime offset{0};  // when step `start` is a wait: this far into it
  size_t end = 0;     // partition, crash: healed or restarted before step `end` (> start)
  std::vector<std::vector<std::string>> groups;  // partition: two groups of regions
  std::string region;                            // crash, clock-skew
  double probability = 0;                        // loss, duplicate
  int factor = 1;                                // delay: latency multiplier
  SimTime skew{0};                               // clock-skew
};

// "partition A | B,C before step 3 until step 5", "loss 0.25 on every link", ...
std::string DescribeFault(const Fault& fault);

struct Schedule {
  std::vector<Fault> faults;
  size_t steps = 0;  // the file's steps kept (the first `steps`); shrinking drops the rest
  // False: the file's expectations are left out (`expect:` and `output:` of its command and
  // service steps, its `converged:` steps); convergence and the services' checks remain.
  bool expectations = true;
};

// The scenario `schedule` makes of `base` (see the top of this file). `checks` are the check
// names to append (ExploreChecks). REQUIRES: schedule.steps <= base.steps.size().
Scenario ApplySchedule(const Scenario& base, const Schedule& schedule,
                       const std::vector<std::string>& checks);
// The checks of every service `base` uses, by name, from `options.services`.
std::vector<std::string> ExploreChecks(const Scenario& base, const RunOptions& options);

// The verdict of one run of `scenario`: "" if every check held, else the first failed
// step's operation; *failure (if given) gets that step's failure text without its place,
// *events (if given) the events the run took.
std::string Verdict(const Scenario& scenario, const RunOptions& options,
                    std::string* failure = nullptr, uint64_t* events = nullptr);

struct ExploreOptions {
  uint64_t seed = 1;
  uint64_t runs = 100;
  std::vector<FaultKind> faults = {FaultKind::kPartition, FaultKind::kLoss, FaultKind::kDuplicate,
                                   FaultKind::kDelay};
  int max_faults = 3;        // 1..max_faults faults per schedule
  bool expectations = true;  // check the file's expectations (Schedule::expectations)
  // Runs i with i % shard_count == shard_index (--shard I/N); 0/1: all.
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  int jobs = 1;    // threads
  RunOptions run;  // services; seed and budget of each run
  // Called from the calling thread only, between batches: runs done so far, of total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The schedule of run `run` (depends on the file, the options' seed, faults and max_faults).
Schedule DrawSchedule(const Scenario& base, const ExploreOptions& options, uint64_t run);

struct RunVerdict {
  uint64_t run = 0;
  size_t faults = 0;
  std::string check;  // "" when every check held
};

struct FoundFailure {
  std::string check;       // the verdict
  std::string failure;     // what the minimal schedule's failed step says
  uint64_t first_run = 0;  // the lowest run that broke it (its schedule was shrunk)
  Schedule minimal;
  std::vector<std::string> faults;  // DescribeFault of each of minimal.faults
  std::string file;                 // FormatScenario of the minimal schedule
  bool replays = false;             // ParseScenario(file) breaks the same check
};

struct ExploreReport {
  std::vector<RunVerdict> runs;        // the runs of this shard, in run order
  std::vector<FoundFailure> failures;  // one per distinct check, by first_run
};

// REQUIRES: ValidateServiceSteps(base, options.run) is ok; options are valid (1 <= max_faults,
// non-empty faults, shard_index < shard_count, jobs >= 1).
ExploreReport Explore(const Scenario& base, const ExploreOptions& options);

// Shrinks a schedule that breaks `check` (fewer faults, fewer steps, faults later) and
// fills a FoundFailure (first_run left to the caller). It spends at most 400 runs and 10
// times options.max_events events: a schedule whose runs spend their whole event budget
// is shrunk by 10 runs, not 400.
FoundFailure Shrink(const Scenario& base, const Schedule& schedule, const std::string& check,
                    const std::vector<std::string>& checks, const RunOptions& options);

}  // namespace cluster_sim
