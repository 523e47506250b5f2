// FormatScenario reads back as the same scenario; Explore is deterministic whatever the
// jobs and shards, and its minimal schedules replay.
#include "cluster_sim/explore.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"

namespace cluster_sim {
namespace {

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(AASIM_SCENARIO_DIR)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every scenario of the repository, written out and read back, runs to the same digest.
TEST(FormatScenarioTest, RoundTripsEveryScenario) {
  for (const std::string& file : ScenarioFiles()) {
    SCOPED_TRACE(file);
    Result<Scenario> s = LoadScenarioFile(file);
    if (!s.ok()) continue;  // latency files
    const std::string text = FormatScenario(*s);
    Result<Scenario> back = ParseScenario(text, file);
    ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << text;
    EXPECT_EQ(FormatScenario(*back), text);
    RunOptions o;
    EXPECT_EQ(RunScenario(*back, o).digest, RunScenario(*s, o).digest);
  }
}

ExploreReport ExploreFile(const std::string& name, uint64_t runs, int jobs, uint64_t shard,
                          uint64_t shards) {
  Result<Scenario> s = LoadScenarioFile(std::string(AASIM_SCENARIO_DIR) + "/" + name);
  EXPECT_TRUE(s.ok());
  ExploreOptions o;
  o.runs = runs;
  o.jobs = jobs;
  o.shard_index = shard;
  o.shard_count = shards;
  o.faults = {FaultKind::kPartition, FaultKind::kLoss,  FaultKind::kDuplicate,
              FaultKind::kDelay,     FaultKind::kCrash, FaultKind::kClockSkew};
  return Explore(*s, o);
}

TEST(ExploreTest, FindsTheSlowReplicationAndShrinksIt) {
  const ExploreReport r = ExploreFile("overdraft-fast-replication.yaml", 60, 1, 0, 1);
  ASSERT_EQ(r.runs.size(), 60u);
  bool found = false;
  for (const FoundFailure& f : r.failures) {
    EXPECT_TRUE(f.replays) << f.check << "\n" << f.file;
    EXPECT_LE(f.minimal.faults.size(), 1u) << f.check;
    found = found || f.check == "B: GET balance";
  }
  EXPECT_TRUE(found);
}

TEST(ExploreTest, SameReportWithAnyJobsOrShards) {
  const ExploreReport one = ExploreFile("overdraft-fast-replication.yaml", 40, 1, 0, 1);
  const ExploreReport two = ExploreFile("overdraft-fast-replication.yaml", 40, 2, 0, 1);
  ASSERT_EQ(one.runs.size(), two.runs.size());
  for (size_t i = 0; i < one.runs.size(); ++i) {
    EXPECT_EQ(one.runs[i].run, two.runs[i].run);
    EXPECT_EQ(one.runs[i].check, two.runs[i].check);
  }
  ASSERT_EQ(one.failures.size(), two.failures.size());
  for (size_t i = 0; i < one.failures.size(); ++i) {
    EXPECT_EQ(one.failures[i].file, two.failures[i].file);
  }
  // Shard 1 of 3 runs exactly runs 1, 4, 7, ... with the same verdicts.
  const ExploreReport shard = ExploreFile("overdraft-fast-replication.yaml", 40, 2, 1, 3);
  ASSERT_EQ(shard.runs.size(), 13u);
  for (const RunVerdict& v : shard.runs) {
    EXPECT_EQ(v.run % 3, 1u);
    EXPECT_EQ(v.check, one.runs[v.run].check);
  }
}

// clock-skew.yaml's `at: 1s` follows two syncs: a delay fault makes them overrun 1s. That is
// the schedule's doing, not a broken check: explore runs the `at:` at once, and the file it
// writes says so (`if_past: now`), so `aasim run` replays it the same way.
TEST(ExploreTest, AnAtTheFaultsOverranRunsAtOnce) {
  Result<Scenario> base = LoadScenarioFile(std::string(AASIM_SCENARIO_DIR) + "/clock-skew.yaml");
  ASSERT_TRUE(base.ok());
  Schedule slow;
  slow.steps = base->steps.size();
  slow.expectations = false;
  Fault delay;
  delay.kind = FaultKind::kDelay;
  delay.factor = 10;
  slow.faults.push_back(delay);
  RunOptions options;
  const Scenario applied = ApplySchedule(*base, slow, {});
  const std::string file = FormatScenario(applied);
  EXPECT_NE(file.find("at: { time: 1s, if_past: now }"), std::string::npos) << file;
  Result<Scenario> replay = ParseScenario(file, base->file);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_EQ(Verdict(applied, options), "");
  EXPECT_EQ(Verdict(*replay, options), "");
  bool noted = false;
  for (const StepReport& sr : RunScenario(*replay, options).steps) {
    for (const std::string& n : sr.notes) noted = noted || n.starts_with("already past");
  }
  EXPECT_TRUE(noted) << "the delay no longer overruns 1s: the test needs a longer one";
  // The same steps with a plain `at: 1s` fail there, as `aasim run` always did.
  Scenario strict = applied;
  for (Step& step : strict.steps) step.past_runs_now = false;
  EXPECT_EQ(Verdict(strict, options), "at 1s");

  const ExploreReport r = ExploreFile("clock-skew.yaml", 50, 2, 0, 1);
  for (const RunVerdict& v : r.runs) EXPECT_NE(v.check, "at 1s") << "run " << v.run;
}

// Found by explore on travelling-cart.yaml: a restarted region waiting for a peer's full
// state answered each of that peer's acks with an empty chunk of effects, which the peer
// acked again; a duplicating link multiplied the ping-pong until the event budget ran out.
TEST(ExploreTest, ARestartOnADuplicatingLinkDoesNotStorm) {
  Result<Scenario> s = ParseScenario(R"(name: storm
seed: 7
regions: [A, B, C]
links:
  default: { latency: 5ms, duplicate: 0.35 }
steps:
  - A: SADD s x
  - wait: 10s
  - crash: B
  - restart: B
  - C: SADD s y
  - crash: C
  - wait: 60s
  - restart: C
  - sync
  - converged: []
)",
                                     "storm.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  RunOptions options;
  options.max_events = 1'000'000;
  const RunReport report = RunScenario(*s, options);
  EXPECT_EQ(report.failures, 0);
  EXPECT_LT(report.events, 10'000u);
}

// Found by explore on travelling-cart.yaml: A restarts and pushes what it merged to every
// peer after each peer's full state. C's state (without A's old write) comes first, so the
// push to D carries no write; B's state (with it) comes next, while that push is in flight.
// The ack of the first push ended the second: D never got the write, and sync said done.
TEST(ExploreTest, ARestartPushesTheStateItMergedLast) {
  Result<Scenario> s = ParseScenario(R"(name: push
seed: 7
regions: [A, B, C, D]
links:
  default: { latency: 5ms }
  A <-> B: { latency: 20ms }
  A <-> D: { latency: 50ms }
steps:
  - partition: [[A, B], [C, D]]
  - A: SADD s x
  - wait: 1s
  - crash: A
  - heal: all
  - restart: A
  - sync
  - converged: []
)",
                                     "push.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  const RunReport report = RunScenario(*s, RunOptions());
  EXPECT_EQ(report.failures, 0);
}

// A schedule whose runs spend their whole event budget is shrunk within 10 budgets' worth of
// events (with the default budget, a run of one is a minute), and still replays.
TEST(ExploreTest, ShrinkingSpendsAtMostTenEventBudgets) {
  Result<Scenario> s = LoadScenarioFile(std::string(AASIM_SCENARIO_DIR) + "/travelling-cart.yaml");
  ASSERT_TRUE(s.ok());
  ExploreOptions o;
  o.runs = 100;
  o.jobs = 2;
  o.expectations = false;
  o.max_faults = 5;
  o.faults = {FaultKind::kPartition, FaultKind::kLoss,  FaultKind::kDuplicate,
              FaultKind::kDelay,     FaultKind::kCrash, FaultKind::kClockSkew};
  o.run.max_events = 20'000;  // the file's 6 hours of probes during a partition spend it
  const ExploreReport r = Explore(*s, o);
  ASSERT_FALSE(r.failures.empty());
  for (const FoundFailure& f : r.failures) {
    EXPECT_TRUE(f.failure.starts_with("event budget of 20000 events spent")) << f.failure;
    EXPECT_TRUE(f.replays) << f.file;
  }
}

}  // namespace
}  // namespace cluster_sim
