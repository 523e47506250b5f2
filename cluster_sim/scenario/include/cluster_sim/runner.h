// Runner: plays a Scenario (scenario.h) on a Simulation (simulation.h) and reports what
// happened at every step, in the shape of the book's tables: the step, the virtual time,
// the region, the operation, its reply, then the value of the step's key in every region
// and the verdict of its expectation. Rendering (table, JSON) is the CLI's job.
//
// The steps are played by a StepInterpreter over a TimePolicy (virtual time here, the wall
// clock in `aasim serve`).
//
// A failed expectation does not stop the run: every step runs and each failure is
// recorded with the file, line and column of its step. Deterministic: same scenario and
// seed, same report and digest. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/service.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"

namespace cluster_sim {

// A step shows a value (its Dump) of at most this many bytes; a longer one as its first
// kStepValueBytes bytes and "... (N bytes)". A big set dumped in full at every step would
// make a run's time and output grow with steps times key size.
inline constexpr size_t kStepValueBytes = 1024;

struct StepReport {
  int number = 0;                   // 1-based position in the file's step list
  SourceMark mark;                  // where the step is
  SimTime time{0};                  // virtual time after the step
  std::string region;               // acting region ("" for global steps)
  std::string operation;            // "INCR foo", "sync", "partition A | B", ...
  std::optional<Reply> reply;       // command steps
  std::string key;                  // the key whose values are shown ("" before any command)
  std::vector<std::string> values;  // value of `key` in every region (at most kStepValueBytes)
  std::vector<std::string> notes;   // extra facts: "took 80ms", "lost 3 unreplicated writes"
  std::vector<std::string> output;  // service steps: the lines the service printed
  enum class Verdict { kNone, kPass, kFail } verdict = Verdict::kNone;
  std::string failure;  // "FILE:LINE:COL: expected 25, got 23"
};

struct RunReport {
  std::string file;
  std::string name;
  std::string source;
  uint64_t seed = 0;
  std::vector<std::string> regions;
  // Every step that ran, in order; only the failed ones when the run was asked not to keep
  // the others (RunOptions::keep_passed_steps).
  std::vector<StepReport> steps;
  size_t steps_run = 0;  // how many steps ran (SummaryLine's count)
  int expectations = 0;
  int failures = 0;
  SimTime end_time{0};
  uint64_t events = 0;
  uint64_t digest = 0;
  std::optional<SimTime> converged_after_heal;
  std::vector<RegionMetrics> metrics;
  bool causal = false;  // the run used causal delivery
  // Final visible data per region (DumpAll), region order.
  std::vector<std::string> final_state;
};

// The default event budget of a run: about a minute of simulation on one core; every
// scenario of the repository needs less than 1% of it.
inline constexpr uint64_t kDefaultMaxEvents = 100'000'000;

struct RunOptions {
  std::optional<uint64_t> seed;                   // overrides the file's seed
  std::function<void(const std::string&)> trace;  // every message event, when set
  StoreFactory store_factory;                     // default: the in-memory store
  bool causal = false;  // causal delivery even if the file does not ask for it
  // RunScenario's budget of events (`aasim run --max-events`): once spent, the step that
  // spent it fails with "event budget of N events spent ..." and no later step runs, so
  // a file can not run for ever. 0: no budget.
  uint64_t max_events = kDefaultMaxEvents;
  // Bounded-counter policy (bc_policy.h) overriding the file's `bounded_counters.policy`
  // ("" keeps the file's).
  std::string bc_policy;
  // Services for `NAME@REGION:` steps and `check:` steps, by name (the CLI registers
  // lending). One Service is made per run.
  std::map<std::string, ServiceFactory, std::less<>> services;
  // false: RunReport::steps keeps only failed steps (a StepReport is ~400 bytes; `aasim
  // run --quiet`, which prints only failures and the summary, needs no more). OnStep
  // still sees every step.
  bool keep_passed_steps = true;
};

// Checks every service and check step against `options.services` before anything runs:
// an unregistered service or check, or a step text the service rejects, is an
// InvalidArgument "FILE:LINE:COL: NAME@REGION: reason".
Status ValidateServiceSteps(const Scenario& scenario, const RunOptions& options);

// The command steps whose command no store of aasim runs (a name the store's command table,
// FindStoreCommand, does not know), most likely a typo: the memory store answers them "ERR
// unknown command". A store that sends some commands elsewhere before asking the table (the
// Redis store forwards region-local streams' X... commands to redis-server) says which with
// `forwarded` (null: none is), and those get no warning. Warnings, not errors: the step
// still runs and its error reply does not stop the run. A step with `expect:` gets none (its
// author says what the reply is). One line per step, in file order:
// "FILE:LINE:COL: warning: A: unknown command 'STE' (...)", at the step's value (for a
// quoted or block scalar, its quote or indicator).
std::vector<std::string> UnknownCommandWarnings(
    const Scenario& scenario, const std::function<bool(std::string_view)>& forwarded = nullptr);

// The seed used when neither the command line nor the file gives one.
constexpr uint64_t kDefaultSeed = 1;

// Builds the simulation's configuration (regions, clock skews, seed) and applies the
// scenario's links to `sim` (explicit pairs, defaults, geo model).
SimConfig MakeSimConfig(const Scenario& scenario, const RunOptions& options);
void ApplyLinks(const Scenario& scenario, Simulation& sim);
// The link from region a to region b (indexes into scenario.regions) that ApplyLinks sets.
LinkParams LinkFor(const Scenario& scenario, int a, int b);

// Plays the scenario in virtual time (a VirtualTime StepInterpreter over a fresh Simulation)
// and fills the whole report.
RunReport RunScenario(const Scenario& scenario, const RunOptions& options);

// TimePolicy: how the step interpreter lets time pass. Two implementations: VirtualTime
// (below: runs the simulation's event loop up to the instant at once; `aasim run`) and the
// wall clock of `aasim serve` (server/sim_host.h: waits on timers while the host advances
// the simulation in real time). The interpreter never knows which.
class TimePolicy {
 public:
  virtual ~TimePolicy() = default;
  // The present, after bringing the simulation up to it.
  virtual SimTime Now() = 0;
  // Brings the simulation to `t` (>= Now()) and returns true, or returns false when that
  // takes real time: the policy's owner then calls StepInterpreter::Run again once `t` has
  // come, and the interpreter asks again.
  virtual bool WaitUntil(SimTime t) = 0;
  // A `sync` step: the result once every connected pair of live regions is caught up or the
  // policy's limit passed; nullopt as WaitUntil's false (ask again when resumed).
  virtual std::optional<SyncResult> Sync() = 0;
  // After every step (it may have scheduled events sooner than the policy expected).
  virtual void StepDone() {}
};

// Virtual time: WaitUntil and Sync run the event loop; nothing ever waits.
class VirtualTime final : public TimePolicy {
 public:
  explicit VirtualTime(Simulation& sim) : sim_(sim) {}
  SimTime Now() override { return sim_.Now(); }
  bool WaitUntil(SimTime t) override;
  std::optional<SyncResult> Sync() override { return sim_.Sync(); }

 private:
  Simulation& sim_;
};

// StepInterpreter: the one interpreter of a scenario's steps (docs/scenarios.md), for every
// front end. Each step acts on `sim` and yields a StepReport: commands run in their region
// and their expectation is checked, partition/heal/crash/restart change the simulation,
// wait/at/sync/load let time pass through the TimePolicy, service and check steps run the
// services of `options`. A failed expectation (or an `at` in the past) is recorded with the
// step's FILE:LINE:COL and the run goes on.
//
// REQUIRES: `scenario`, `sim`, `time` and `options` outlive *this; `sim` was made from the
// scenario (MakeSimConfig, ApplyLinks). Deterministic under VirtualTime. Single-threaded.
class StepInterpreter {
 public:
  StepInterpreter(const Scenario& scenario, Simulation& sim, TimePolicy& time,
                  const RunOptions& options);
  ~StepInterpreter();
  StepInterpreter(const StepInterpreter&) = delete;
  StepInterpreter& operator=(const StepInterpreter&) = delete;

  // Called after every step with the step and its report.
  void OnStep(std::function<void(const Step&, const StepReport&)> on_step);

  // Runs steps until all are done (true) or the time policy must wait (false; call Run again
  // when it says so: the waiting step goes on where it stopped).
  bool Run();

  // The report so far: the file's facts, the steps run, expectations and failures.
  const RunReport& report() const;
  // REQUIRES: Run() returned true. The whole report, with the simulation's final state.
  RunReport Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if `reply` satisfies `expect` (see docs/scenarios.md, "Expectations"); for commands whose
// reply is a set (SMEMBERS, ...) the order of a list is ignored. On mismatch *why says so.
bool Matches(const Expectation& expect, const Reply& reply, const std::vector<std::string>& argv,
             std::string* why);

}  // namespace cluster_sim
