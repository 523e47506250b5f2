// The simulator on the Redis backend: a crash keeps the region's data (nothing lost), a
// kill -9 of one region's redis-server mid-run and its restart from the AOF (the run
// completes, converges, nothing acknowledged is lost), and an aasim restart between two
// runs on the same servers (replication resumes from the log and progress kept in Redis:
// nothing lost, nothing sent again once acknowledged).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/time.h"
#include "redis_test_util.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using testing::OptionsFor;

constexpr SimTime Ms(int64_t ms) { return SimTime(ms * 1000); }

class RedisSimulationTest : public ::testing::Test {
 protected:
  // Starts one server per region (skips or fails the test if it cannot).
  bool Launch(int n) {
    for (int i = 0; i < n; ++i) {
      auto s = RedisServer::Launch();
      if (!s.ok()) {
        error_ = s.status().message();
        return false;
      }
      servers_.push_back(std::move(s).value());
    }
    return true;
  }

  SimConfig Config(const std::vector<std::string>& names) {
    SimConfig c;
    c.seed = 11;
    for (const auto& n : names) c.regions.push_back(RegionConfig{n, SimTime(0)});
    c.store_factory = [this, names](int r, crdt::ReplicaId id) -> std::unique_ptr<Store> {
      auto store = RedisStore::Open(id, OptionsFor(*servers_[r], names[r]));
      AASIM_CHECK(store.ok()) << store.status().message();
      stores_[r] = store->get();
      return std::move(store).value();
    };
    return c;
  }

  static void Link(Simulation& sim, SimTime latency) {
    for (int a = 0; a < sim.region_count(); ++a) {
      for (int b = 0; b < sim.region_count(); ++b) {
        if (a == b) continue;
        LinkParams p = sim.network().link(a, b);
        p.latency = latency;
        sim.network().SetLink(a, b, p);
      }
    }
  }

  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::map<int, RedisStore*> stores_;
  std::string error_;
};

#define LAUNCH_OR_SKIP(n)                                                  \
  if (!Launch(n)) {                                                        \
    if (testing::RedisRequired()) FAIL() << "no redis-server: " << error_; \
    GTEST_SKIP() << "no redis-server: " << error_;                         \
  }

// scenarios/crash-restart.yaml on Redis: the crash loses nothing (the writes A had not
// replicated are in its Redis), and after the restart they reach everyone.
TEST_F(RedisSimulationTest, CrashKeepsTheRegionsData) {
  LAUNCH_OR_SKIP(3);
  Simulation sim(Config({"A", "B", "C"}));
  Link(sim, Ms(30));
  sim.Execute(0, {"SADD", "team", "ana"});
  sim.Execute(0, {"INCRBY", "visits", "5"});
  ASSERT_TRUE(sim.Sync().done);
  sim.Partition({{0}, {1, 2}});
  sim.Execute(0, {"SADD", "team", "bo"});
  sim.Execute(0, {"INCRBY", "visits", "100"});
  sim.Execute(1, {"SADD", "team", "cy"});
  EXPECT_EQ(sim.Crash(0), 0u);  // nothing lost
  EXPECT_TRUE(sim.Execute(0, {"GET", "visits"}).is_error());
  sim.HealAll();
  sim.Restart(0);
  ASSERT_TRUE(sim.Sync().done);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(sim.Execute(r, {"SMEMBERS", "team"}), Reply::BulkArray({"ana", "bo", "cy"})) << r;
    EXPECT_EQ(sim.Execute(r, {"GET", "visits"}), Reply::Bulk("105")) << r;
  }
  EXPECT_TRUE(sim.Divergent({}).empty());
  EXPECT_EQ(sim.Metrics(0).lost_writes, 0u);
  EXPECT_EQ(sim.Metrics(0).incarnation, 1u);  // same replica: its dots are kept
  testing::RawRedis raw(servers_[1]->port());
  EXPECT_EQ(raw.Run({"GET", "visits"}), Reply::Bulk("105"));
}

// kill -9 of B's redis-server while the regions write, then a restart from its AOF.
TEST_F(RedisSimulationTest, KillNineOfARegionsRedisMidRun) {
  LAUNCH_OR_SKIP(3);
  Simulation sim(Config({"A", "B", "C"}));
  Link(sim, Ms(20));
  Rng rng(5);
  std::map<std::string, int64_t> acknowledged;  // key -> sum of acknowledged INCRBYs
  int refused = 0;
  for (int step = 0; step < 600; ++step) {
    if (step == 200) servers_[1]->Kill();
    if (step == 400) {
      ASSERT_TRUE(servers_[1]->Start().ok());
      // The region comes back at its next operation (bounded backoff in wall time).
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (sim.Execute(1, {"GET", "k0"}).is_error() &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    int r = static_cast<int>(rng.Uniform(3));
    std::string key = "k" + std::to_string(rng.Uniform(10));
    int64_t by = rng.Range(1, 9);
    Reply reply = sim.Execute(r, {"INCRBY", key, std::to_string(by)});
    if (reply.is_error()) {
      EXPECT_EQ(r, 1) << reply.str;  // only B is unavailable
      EXPECT_NE(reply.str.find("CLUSTERDOWN region B"), std::string::npos) << reply.str;
      ++refused;
    } else {
      acknowledged[key] += by;
    }
    sim.AdvanceBy(Ms(7));
  }
  EXPECT_GT(refused, 0);
  SyncResult sync = sim.Sync();
  ASSERT_TRUE(sync.done) << sync.pending;
  EXPECT_TRUE(sim.Divergent({}).empty());
  for (const auto& [key, sum] : acknowledged) {
    for (int r = 0; r < 3; ++r) {
      EXPECT_EQ(sim.Execute(r, {"GET", key}), Reply::Bulk(std::to_string(sum))) << key << r;
    }
  }
  EXPECT_GT(sim.Metrics(1).store_failures, 0u);  // merges refused while down, resent later
  EXPECT_GE(stores_[1]->reconnects(), 1u);
  testing::RawRedis raw(servers_[1]->port());
  for (const auto& [key, sum] : acknowledged) {
    EXPECT_EQ(raw.Run({"GET", key}), Reply::Bulk(std::to_string(sum))) << key;
  }
}

// Two runs of the simulator on the same servers (an aasim restart with --keep-redis):
// A's write that B never received during run 1 reaches B in run 2, from A's log stream.
TEST_F(RedisSimulationTest, ReplicationResumesAfterAnAasimRestart) {
  LAUNCH_OR_SKIP(2);
  {
    Simulation run1(Config({"A", "B"}));
    Link(run1, Ms(40));
    run1.Execute(0, {"INCRBY", "foo", "5"});
    ASSERT_TRUE(run1.Sync().done);
    run1.Partition({{0}, {1}});
    run1.Execute(0, {"INCRBY", "foo", "20"});
    run1.Execute(0, {"SADD", "team", "ana"});
    run1.Execute(1, {"SADD", "team", "bo"});
    run1.AdvanceBy(Ms(500));
    EXPECT_EQ(run1.Execute(1, {"GET", "foo"}), Reply::Bulk("5"));
  }  // aasim stops here, partitioned, with effects not acknowledged
  EXPECT_EQ(stores_.size(), 2u);
  {
    Simulation run2(Config({"A", "B"}));
    Link(run2, Ms(40));
    EXPECT_EQ(stores_[0]->LogHead(), 3u);
    EXPECT_EQ(stores_[1]->Progress("A#1"), 1u);
    ASSERT_TRUE(run2.Sync().done);
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(run2.Execute(r, {"GET", "foo"}), Reply::Bulk("25")) << r;
      EXPECT_EQ(run2.Execute(r, {"SMEMBERS", "team"}), Reply::BulkArray({"ana", "bo"})) << r;
    }
    EXPECT_EQ(run2.Metrics(0).peers[0].effects_sent, 2u);  // only what B lacked
    EXPECT_EQ(run2.Metrics(1).peers[0].effects_sent, 1u);
    EXPECT_EQ(stores_[1]->Progress("A#1"), 3u);
  }
  {
    Simulation run3(Config({"A", "B"}));  // everything was acknowledged: nothing to send
    Link(run3, Ms(40));
    EXPECT_TRUE(run3.Quiescent());
    ASSERT_TRUE(run3.Sync().done);
    EXPECT_EQ(run3.loop().events_run(), 0u);
    EXPECT_EQ(run3.Execute(1, {"GET", "foo"}), Reply::Bulk("25"));
  }
}

}  // namespace
}  // namespace cluster_sim
