// Runner: plays a Scenario (scenario.h) on a Simulation (simulation.h) and reports what
// happened at every step, in the shape of the book's tables: the step, the virtual time,
// the region, the operation, its reply, then the value of the step's key in every region
// and the verdict of its expectation. Rendering (table, JSON) is the CLI's job.
//
// A failed expectation does not stop the run: every step runs and each failure is
// recorded with the file, line and column of its step. Deterministic: same scenario and
// seed, same report and digest. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/service.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"

namespace cluster_sim {

struct StepReport {
  int number = 0;                   // 1-based position in the file's step list
  SourceMark mark;                  // where the step is
  SimTime time{0};                  // virtual time after the step
  std::string region;               // acting region ("" for global steps)
  std::string operation;            // "INCR foo", "sync", "partition A | B", ...
  std::optional<Reply> reply;       // command steps
  std::string key;                  // the key whose values are shown ("" before any command)
  std::vector<std::string> values;  // value of `key` in every region, region order
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
  std::vector<StepReport> steps;
  int expectations = 0;
  int failures = 0;
  SimTime end_time{0};
  uint64_t events = 0;
  uint64_t digest = 0;
  std::optional<SimTime> converged_after_heal;
  std::vector<RegionMetrics> metrics;
  // Final visible data per region (DumpAll), region order.
  std::vector<std::string> final_state;
};

struct RunOptions {
  std::optional<uint64_t> seed;                   // overrides the file's seed
  std::function<void(const std::string&)> trace;  // every message event, when set
  StoreFactory store_factory;                     // default: the in-memory store
  // Services for `NAME@REGION:` steps and `check:` steps, by name (the CLI registers
  // lending). One Service is made per run.
  std::map<std::string, ServiceFactory, std::less<>> services;
};

// Checks every service and check step against `options.services` before anything runs:
// an unregistered service or check, or a step text the service rejects, is an
// InvalidArgument "FILE:LINE:COL: NAME@REGION: reason".
Status ValidateServiceSteps(const Scenario& scenario, const RunOptions& options);

// The seed used when neither the command line nor the file gives one.
constexpr uint64_t kDefaultSeed = 1;

// Builds the simulation's configuration (regions, clock skews, seed) and applies the
// scenario's links to `sim` (explicit pairs, defaults, geo model).
SimConfig MakeSimConfig(const Scenario& scenario, const RunOptions& options);
void ApplyLinks(const Scenario& scenario, Simulation& sim);

RunReport RunScenario(const Scenario& scenario, const RunOptions& options);

// True if `reply` satisfies `expect` (see SCENARIOS.md "Expectations"); for commands whose
// reply is a set (SMEMBERS, ...) the order of a list is ignored. On mismatch *why says so.
bool Matches(const Expectation& expect, const Reply& reply, const std::vector<std::string>& argv,
             std::string* why);

}  // namespace cluster_sim
