// redis_bench: the Redis backend against plain Redis, measured in the same run on the same
// kind of server (a redis-server started here: AOF on, appendfsync always, on tmpfs when
// there is one; see redis_server.h).
//
//   1. Baseline: redis-benchmark -P 16 -c 50 for INCR, SADD and EVALSHA (a one-INCR script).
//   2. Replicated effects applied to one region's Redis: counter increments made in two
//      peer regions, merged into region A's RedisStore in batches (as the simulator does
//      per replication message: MergeFrom each effect, then Flush), effects per second, and
//      the ratio to the EVALSHA baseline (target >= 50%).
//   3. Memory per counter key at 3 regions: 100k keys, each incremented in A, B and C and
//      merged into A's store, vs the same 100k keys written by plain INCR, as INFO memory
//      used_memory deltas (target <= 88 bytes more per key).
//
// Usage: redis_bench [--keys N] [--effects N] [--batch N] [--batch-keys N] [--requests N]
//                    [--rounds N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>

#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"

namespace {

using cluster_sim::RedisServer;
using cluster_sim::RedisStore;
using Clock = std::chrono::steady_clock;

struct Args {
  int keys = 100000;
  int effects = 100000;
  int batch = 1000;
  int requests = 1000000;
  int batch_keys = 1024;
  int rounds = 3;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "redis_bench: %s\n", why.c_str());
  std::exit(1);
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) Die("cannot run " + cmd);
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) Die("failed: " + cmd + "\n" + out);
  return out;
}

// "INCR: 951474.81 requests per second, p50=..." -> 951474.81
double RequestsPerSecond(const std::string& out) {
  size_t at = out.rfind(" requests per second");
  if (at == std::string::npos) Die("unexpected redis-benchmark output:\n" + out);
  size_t start = out.rfind(' ', at - 1);
  return std::strtod(out.c_str() + start + 1, nullptr);
}

class Conn {
 public:
  explicit Conn(int port) {
    timeval tv{5, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c_ == nullptr || c_->err != 0) Die("cannot connect to redis");
  }
  ~Conn() { redisFree(c_); }
  template <typename... T>
  std::string Str(const char* format, T... args) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, format, args...));
    if (r == nullptr) Die("connection lost");
    std::string s = r->str != nullptr ? std::string(r->str, r->len) : std::to_string(r->integer);
    freeReplyObject(r);
    return s;
  }
  int64_t UsedMemory() {
    std::string info = Str("INFO memory");
    size_t at = info.find("used_memory:");
    return std::strtoll(info.c_str() + at + 12, nullptr, 10);
  }
  // Plain INCR of every key, pipelined in batches of 1000.
  void IncrAll(const std::vector<std::string>& keys) {
    for (size_t i = 0; i < keys.size(); i += 1000) {
      size_t end = std::min(keys.size(), i + 1000);
      for (size_t j = i; j < end; ++j) redisAppendCommand(c_, "INCR %s", keys[j].c_str());
      for (size_t j = i; j < end; ++j) {
        void* r = nullptr;
        if (redisGetReply(c_, &r) != REDIS_OK) Die("connection lost");
        freeReplyObject(r);
      }
    }
  }

 private:
  redisContext* c_ = nullptr;
};

std::unique_ptr<RedisStore> OpenStore(const RedisServer& server, crdt::ReplicaId id,
                                      size_t batch_keys = 1024) {
  cluster_sim::RedisStoreOptions o;
  o.batch_keys = batch_keys;
  o.address.port = server.port();
  o.region = "A";
  auto s = RedisStore::Open(id, o);
  if (!s.ok()) Die(s.status().message());
  return std::move(s).value();
}

std::string KeyName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "counter:%06d", i);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (v <= 0) Die("bad value for " + flag);
    if (flag == "--keys") {
      args.keys = v;
    } else if (flag == "--effects") {
      args.effects = v;
    } else if (flag == "--batch") {
      args.batch = v;
    } else if (flag == "--rounds") {
      args.rounds = v;
    } else if (flag == "--batch-keys") {
      args.batch_keys = v;
    } else if (flag == "--requests") {
      args.requests = v;
    } else {
      Die("unknown option " + flag);
    }
  }
  auto launched = RedisServer::Launch();
  if (!launched.ok()) Die(launched.status().message());
  std::unique_ptr<RedisServer> server = std::move(launched).value();
  std::string port = std::to_string(server->port());
  std::printf("redis-server on 127.0.0.1:%s (%s; appendonly yes, appendfsync always)\n",
              port.c_str(), server->dir().c_str());

  // ---- 1. baseline
  std::string bench = "redis-benchmark -h 127.0.0.1 -p " + port + " -P 16 -c 50 -r 100000 -q -n " +
                      std::to_string(args.requests);
  double incr = RequestsPerSecond(Run(bench + " -t incr 2>&1"));
  double sadd = RequestsPerSecond(Run(bench + " -t sadd 2>&1"));
  std::string sha;
  {
    Conn c(server->port());
    sha = c.Str("SCRIPT LOAD %s", "return redis.call('INCR', KEYS[1])");
  }
  std::string evalsha_cmd = bench + " evalsha " + sha + " 1 key:__rand_int__ 2>&1 | tail -1";
  std::printf("baseline redis-benchmark -P 16 -c 50: INCR %.0f/s  SADD %.0f/s\n", incr, sadd);

  // ---- 2. replicated effects applied, alternating with the EVALSHA baseline (the machine
  // is shared: each ratio compares two measurements taken seconds apart).
  constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);
  constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(1, 1);
  constexpr crdt::ReplicaId kC = crdt::MakeReplicaId(2, 1);
  std::vector<std::string> keys;
  for (int i = 0; i < args.keys; ++i) keys.push_back(KeyName(i));
  auto b = cluster_sim::NewMemoryStore(kB);
  auto c = cluster_sim::NewMemoryStore(kC);
  std::vector<std::pair<const char*, std::string>> effects;  // origin, effect
  {
    cluster_sim::Rng rng(7);
    effects.reserve(args.effects);
    for (int i = 0; i < args.effects; ++i) {
      bool from_b = (i & 1) == 0;
      std::string e;
      (from_b ? b : c)->Execute({"INCR", keys[rng.Uniform(keys.size())]}, i, &e);
      effects.emplace_back(from_b ? "B#1" : "C#1", std::move(e));
    }
  }
  std::vector<double> ratios;
  for (int round = 1; round <= args.rounds; ++round) {
    Run("redis-cli -p " + port + " FLUSHALL");
    double evalsha = RequestsPerSecond(Run(evalsha_cmd));
    Run("redis-cli -p " + port + " FLUSHALL");
    auto store = OpenStore(*server, kA, static_cast<size_t>(args.batch_keys));
    auto start = Clock::now();
    uint64_t seq_b = 0, seq_c = 0;
    for (size_t i = 0; i < effects.size(); ++i) {
      bool from_b = effects[i].first[0] == 'B';
      uint64_t seq = from_b ? ++seq_b : ++seq_c;
      if (!store->MergeFrom(effects[i].first, seq, effects[i].second).ok()) Die("merge failed");
      if ((i + 1) % args.batch == 0 || i + 1 == effects.size()) {
        if (!store->Flush().ok()) Die("flush failed");
      }
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    double rate = static_cast<double>(effects.size()) / secs;
    ratios.push_back(rate / evalsha);
    std::printf(
        "round %d: EVALSHA %.0f/s; replicated effects applied to A's Redis: %zu INCR effects "
        "from B and C over %d keys, batches of %d: %.0f effects/s = %.0f%% of EVALSHA\n",
        round, evalsha, effects.size(), args.keys, args.batch, rate, 100.0 * rate / evalsha);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median ratio: %.0f%% of EVALSHA (target >= 50%%)\n",
              100.0 * ratios[ratios.size() / 2]);
  {
    // Check: what Redis holds is what a memory store would.
    auto a = cluster_sim::NewMemoryStore(kA);
    a->Merge(b->FullState());
    a->Merge(c->FullState());
    auto reloaded = OpenStore(*server, kA);
    if (reloaded->DumpAll() != a->DumpAll()) Die("Redis and memory disagree after the merges");
  }
  Run("redis-cli -p " + port + " FLUSHALL");

  // ---- 3. memory per counter key at 3 regions
  Conn conn(server->port());
  int64_t before_plain = conn.UsedMemory();
  conn.IncrAll(keys);
  int64_t plain = conn.UsedMemory() - before_plain;
  Run("redis-cli -p " + port + " FLUSHALL");
  int64_t before = conn.UsedMemory();
  {
    std::unique_ptr<cluster_sim::Store> regions[3] = {cluster_sim::NewMemoryStore(kA),
                                                      cluster_sim::NewMemoryStore(kB),
                                                      cluster_sim::NewMemoryStore(kC)};
    for (auto& r : regions) {
      for (const auto& k : keys) r->Execute({"INCR", k}, 1, nullptr);
    }
    auto store = OpenStore(*server, kA);
    for (int r = 0; r < 3; ++r) {
      if (!store
               ->MergeFrom(r == 0 ? "" : (r == 1 ? "B#1" : "C#1"), args.keys,
                           regions[r]->FullState())
               .ok()) {
        Die("merge failed");
      }
    }
    if (!store->Flush().ok()) Die("flush failed");
    if (store->Dump(keys[0]) != "3")
      Die("expected 3 on every counter, got " + store->Dump(keys[0]));
  }
  int64_t ours = conn.UsedMemory() - before;
  double per_plain = static_cast<double>(plain) / args.keys;
  double per_ours = static_cast<double>(ours) / args.keys;
  std::printf(
      "memory, %d counter keys: plain INCR %.1f B/key, aasim at 3 regions %.1f B/key: "
      "+%.1f B/key (target <= 88)\n",
      args.keys, per_plain, per_ours, per_ours - per_plain);
  std::string bucket = "aasim:m:" + std::to_string(RedisStore::MetadataBucket(keys[0], 4096));
  std::string meta = conn.Str(("HGET " + bucket + " " + keys[0]).c_str());
  std::printf("  (%s: %s entries, %s encoding; metadata of %s: %zu bytes)\n", bucket.c_str(),
              conn.Str(("HLEN " + bucket).c_str()).c_str(),
              conn.Str(("OBJECT ENCODING " + bucket).c_str()).c_str(), keys[0].c_str(),
              meta.size());
  return 0;
}
