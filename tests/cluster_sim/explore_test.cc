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

}  // namespace
}  // namespace cluster_sim
