#include "redis_backend.h"

#include <cstdlib>
#include <iostream>
#include <map>
#include <ostream>
#include <utility>

#include "cluster_sim/host_port.h"
#include "cluster_sim/redis_store.h"

namespace aasim {

void AddBackendOptions(CLI::App* run, BackendArgs* args) {
  run->add_option("--backend", args->backend,
                  "Where regions keep their data: memory (default) or redis (a real "
                  "redis-server per region, started by aasim unless --redis names one)")
      ->check(CLI::IsMember({"memory", "redis"}));
  run->add_flag("--keep-redis", args->keep_redis,
                "With --backend redis: leave the started servers running and print "
                "`REGION 127.0.0.1:PORT DIR` for each (on stderr with --json); DIR holds the "
                "server's AOF files, under $AASIM_REDIS_DIR if set, else /dev/shm (RAM), else "
                "$TMPDIR or /tmp: remove it by hand once the server is shut down");
  run->add_option("--redis", args->redis,
                  "REGION=redis://[:password@]host:port/db: use this existing server for "
                  "REGION (repeatable; implies --backend redis; its data is kept and resumed)")
      ->type_name("REGION=URL");
  run->add_option("--redis-prefix", args->prefix,
                  "Key prefix of aasim's metadata in Redis (default aasim)");
}

#if !AASIM_WITH_REDIS
cluster_sim::Result<std::unique_ptr<RedisBackend>> RedisBackend::Prepare(
    const BackendArgs&, const cluster_sim::Scenario&) {
  return cluster_sim::Status::FailedPrecondition(
      "--backend redis: this aasim was built without Redis (AASIM_WITH_REDIS=OFF)");
}
cluster_sim::StoreFactory RedisBackend::Factory() { return nullptr; }
#else
cluster_sim::Result<std::unique_ptr<RedisBackend>> RedisBackend::Prepare(
    const BackendArgs& args, const cluster_sim::Scenario& scenario) {
  using cluster_sim::Status;
  std::map<std::string, std::pair<std::string, cluster_sim::RedisAddress>> given;
  for (const std::string& spec : args.redis) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--redis " + spec + ": expected REGION=redis://host:port/db");
    }
    std::string region = spec.substr(0, eq);
    bool known = false;
    for (const auto& r : scenario.regions) known = known || r.name == region;
    if (!known) {
      return Status::InvalidArgument("--redis " + spec + ": " + scenario.file + " has no region '" +
                                     region + "'");
    }
    auto address = cluster_sim::ParseRedisUrl(spec.substr(eq + 1));
    if (!address.ok()) return Status::InvalidArgument("--redis " + address.status().message());
    for (const auto& [other, url_address] : given) {
      const cluster_sim::RedisAddress& o = url_address.second;
      if (other != region && o.host == address->host && o.port == address->port &&
          o.db == address->db) {
        return Status::InvalidArgument("--redis: regions " + other + " and " + region + " share " +
                                       address->ToString() +
                                       " (each region needs a database of its own)");
      }
    }
    given[region] = {spec.substr(eq + 1), *address};
  }
  auto backend = std::unique_ptr<RedisBackend>(new RedisBackend());
  backend->prefix_ = args.prefix;
  std::string started;  // the regions whose servers aasim starts, for messages
  size_t to_start = 0;
  for (const auto& spec : scenario.regions) {
    Region r;
    r.name = spec.name;
    if (auto it = given.find(spec.name); it != given.end()) {
      r.url = it->second.first;
      r.address = it->second.second;
      if (Status s = cluster_sim::PingRedis(r.address); !s.ok()) {
        return Status::Unavailable("region " + r.name + ": " + s.message());
      }
    } else {
      started += (to_start++ == 0 ? "" : ", ") + r.name;
    }
    backend->regions_.push_back(std::move(r));
  }
  // Started together: each takes tens of milliseconds to come up.
  auto servers = cluster_sim::RedisServer::LaunchMany(to_start);
  if (!servers.ok()) {
    return Status::Unavailable("region" + std::string(to_start > 1 ? "s " : " ") + started + ": " +
                               servers.status().message());
  }
  size_t next = 0;
  for (Region& r : backend->regions_) {
    if (!r.url.empty()) continue;
    r.server = std::move(servers.value()[next++]);
    r.address.port = r.server->port();
    r.url = "redis://127.0.0.1:" + std::to_string(r.server->port());
  }
  return backend;
}

cluster_sim::StoreFactory RedisBackend::Factory() {
  return [this](int region, crdt::ReplicaId id) -> std::unique_ptr<cluster_sim::Store> {
    const Region& r = regions_[region];
    cluster_sim::RedisStoreOptions o;
    o.address = r.address;
    o.region = r.name;
    o.prefix = prefix_;
    // The simulator's acknowledgements are virtual: commits are pipelined, their replies
    // read in batches (a failure is reported after the run, never ignored).
    o.write_behind = 1024;
    o.on_write_behind_failure = [this](const std::string& why) { failures_.push_back(why); };
    auto store = cluster_sim::RedisStore::Open(id, o);
    if (!store.ok()) {
      // The server answered a moment ago (Prepare): it died or holds foreign data.
      std::cerr << "aasim: " << store.status().message() << "\n";
      std::exit(2);
    }
    return std::move(store).value();
  };
}

#endif

RedisBackend::~RedisBackend() {
  // All shut down at once, then each is waited for (its destructor).
  for (Region& r : regions_) {
    if (r.server) r.server->RequestStop();
  }
}

void RedisBackend::Keep(std::ostream& out) {
  for (Region& r : regions_) {
    out << r.name << " " << cluster_sim::JoinHostPort(r.address.host, r.address.port);
    if (r.server) {
      r.server->Detach();
      out << " " << r.server->dir();  // left behind: the user removes it
    }
    out << "\n";
  }
}

}  // namespace aasim
