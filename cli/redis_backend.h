// The `--backend redis` options of `aasim run`: a real redis-server behind every region,
// either started by aasim (one per region, free loopback port, AOF on, stopped at the
// end unless --keep-redis) or an existing one (--redis REGION=redis://...).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"

namespace aasim {

struct BackendArgs {
  std::string backend = "memory";
  bool keep_redis = false;
  std::vector<std::string> redis;  // REGION=redis://...
  std::string prefix = "aasim";
};

void AddBackendOptions(CLI::App* run, BackendArgs* args);

// The Redis servers of one scenario run. Prepare() checks the options against the
// scenario, reaches every given server and starts the others; an error (exit 2) names
// what is wrong. The factory opens each region's RedisStore.
class RedisBackend {
 public:
  static cluster_sim::Result<std::unique_ptr<RedisBackend>> Prepare(
      const BackendArgs& args, const cluster_sim::Scenario& scenario);
  ~RedisBackend();
  cluster_sim::StoreFactory Factory();
  // --keep-redis: leaves the started servers running and prints "REGION 127.0.0.1:PORT DIR"
  // (DIR: the server's directory, which nothing removes); "REGION HOST:PORT" for a server
  // given with --redis.
  void Keep(std::ostream& out);
  // The stores commit write-behind (RedisStoreOptions::write_behind): what failed, one
  // line per region, once the run's stores are closed. Empty if every commit was stored.
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  struct Region {
    std::string name;
    std::string url;  // for messages
    cluster_sim::RedisAddress address;
    std::unique_ptr<cluster_sim::RedisServer> server;  // null: an existing server
  };
  std::vector<Region> regions_;
  std::string prefix_;
  std::vector<std::string> failures_;
};

}  // namespace aasim
