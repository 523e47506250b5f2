// Expiries that come due during a run still converge. Random runs of three regions with
// skewed clocks, lossy, duplicating, jittery links and partitions that come and go: string,
// set, hash, sorted-set and list keys written with TTLs of 0.1 to 3 s (SET EX/PX/KEEPTTL, EXPIRE
// with NX/XX/GT/LT, PEXPIRE, PERSIST, GETEX, a Lua script that writes and sets a TTL in one
// effect), plain writes, deletes and reads, with virtual time moving 0 to 400 ms between commands,
// so expiries fall due while writes race them in other regions. After the last command every link
// heals, the regions sync, and time moves 10 s past every TTL: every region must hold the same data
// (DumpAll), answer the same TTL for every key, and no key may still carry a TTL that is due.
// AASIM_SEED=n replays one seed; the seed is printed on failure. AASIM_SEEDS=n runs n seeds instead
// of 200 (a sweep outside CI). Found so far: a lazy-expiry delete made by a write that changed
// nothing itself (SREM of a missing member) stayed local, and a key re-created after its deadline
// inherited its due TTL (seed 7749946; ExpiryCommandsTest has both as regression tests).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"
#include "cluster_sim/simulation.h"

namespace {

using cluster_sim::LinkParams;
using cluster_sim::Reply;
using cluster_sim::Rng;
using cluster_sim::SimConfig;
using cluster_sim::SimTime;
using cluster_sim::Simulation;
using Argv = std::vector<std::string>;

constexpr int kRegions = 3;
const char* const kStrings[] = {"k0", "k1", "k2", "k3"};
const char* const kSets[] = {"s0", "s1"};

SimTime Ms(int64_t ms) { return SimTime(ms * 1000); }

std::string Num(Rng& rng, int64_t lo, int64_t hi) { return std::to_string(rng.Range(lo, hi)); }

Argv RandomCommand(Rng& rng) {
  const std::string k = kStrings[rng.Uniform(4)];
  const std::string s = kSets[rng.Uniform(2)];
  const std::string v = "v" + Num(rng, 0, 9);
  switch (rng.Uniform(20)) {
    case 0:
      return {"SET", k, v};
    case 1:
      return {"SET", k, v, "PX", Num(rng, 100, 3000)};
    case 2:
      return {"SET", k, v, "EX", Num(rng, 1, 3)};
    case 3:
      return {"SET", k, v, "KEEPTTL"};
    case 4: {
      const char* const flags[] = {"NX", "XX", "GT", "LT"};
      Argv argv = {"EXPIRE", k, Num(rng, 1, 3)};
      if (rng.OneIn(2)) argv.push_back(flags[rng.Uniform(4)]);
      return argv;
    }
    case 5:
      return {"PEXPIRE", rng.OneIn(3) ? s : k, Num(rng, 100, 3000)};
    case 6:
      return {"PERSIST", rng.OneIn(3) ? s : k};
    case 7:
      return rng.OneIn(2) ? Argv{"GETEX", k, "PX", Num(rng, 100, 3000)}
                          : Argv{"GETEX", k, "PERSIST"};
    case 8:
      return {"DEL", rng.OneIn(3) ? s : k};
    case 9:
    case 10:
      return {"SADD", s, "m" + Num(rng, 0, 5)};
    case 11:
      return {"SREM", s, "m" + Num(rng, 0, 5)};
    case 12:
      return {"EXPIRE", s, Num(rng, 1, 3)};
    case 13:
      return {"EVAL",
              "redis.call('SET', KEYS[1], ARGV[1]) "
              "return redis.call('PEXPIRE', KEYS[1], ARGV[2])",
              "1",
              k,
              v,
              Num(rng, 100, 3000)};
    case 14:
      return {"APPEND", k, v};
    case 15:
      return {rng.OneIn(2) ? "PTTL" : "GET", k};
    case 16:
      return rng.OneIn(2) ? Argv{"HSET", "h0", "f" + Num(rng, 0, 3), v}
                          : Argv{"HDEL", "h0", "f" + Num(rng, 0, 3)};
    case 17:
      return rng.OneIn(2) ? Argv{"ZADD", "z0", Num(rng, 0, 9), "m" + Num(rng, 0, 3)}
                          : Argv{"ZREM", "z0", "m" + Num(rng, 0, 3)};
    case 18:
      return rng.OneIn(2) ? Argv{"RPUSH", "l0", v} : Argv{"LPOP", "l0"};
    default: {
      const char* const others[] = {"h0", "z0", "l0"};
      return {"PEXPIRE", others[rng.Uniform(3)], Num(rng, 100, 3000)};
    }
  }
}

// One run; "" when it converged, else what differed.
std::string RunOnce(uint64_t seed, int* commands_out) {
  Rng rng(seed);
  SimConfig config;
  config.seed = seed;
  for (const char* name : {"A", "B", "C"}) {
    config.regions.push_back({name, Ms(rng.Range(-300, 300))});
  }
  Simulation sim(config);
  for (int a = 0; a < kRegions; ++a) {
    for (int b = 0; b < kRegions; ++b) {
      if (a == b) continue;
      sim.network().SetLink(a, b,
                            LinkParams{Ms(rng.Range(5, 150)), Ms(rng.Range(0, 20)),
                                       static_cast<double>(rng.Uniform(20)) / 100.0,
                                       static_cast<double>(rng.Uniform(10)) / 100.0});
    }
  }
  int commands = 0;
  for (int step = 0; step < 150; ++step) {
    if (rng.OneIn(12)) {
      if (rng.OneIn(2)) {
        sim.HealAll();
      } else {
        const int alone = static_cast<int>(rng.Uniform(kRegions));
        std::vector<int> rest;
        for (int r = 0; r < kRegions; ++r) {
          if (r != alone) rest.push_back(r);
        }
        sim.Partition({{alone}, rest});
      }
    }
    // Drawn in this order (an argument list's order of evaluation is unspecified).
    const Argv argv = RandomCommand(rng);
    sim.Execute(static_cast<int>(rng.Uniform(kRegions)), argv);
    ++commands;
    sim.AdvanceBy(Ms(rng.Range(0, 400)));
  }
  sim.HealAll();
  for (int round = 0; round < 2; ++round) {  // past every TTL, then the deletes' replication
    if (!sim.Sync().done) return "no sync after the heal";
    sim.AdvanceBy(Ms(10'000));
  }
  if (!sim.Sync().done) return "no sync after the TTLs";
  const std::string all = sim.DumpAll(0);
  for (int r = 1; r < kRegions; ++r) {
    if (sim.DumpAll(r) != all) {
      return "region " + sim.region_name(r) + " holds\n" + sim.DumpAll(r) + "\nregion A holds\n" +
             all;
    }
  }
  std::vector<std::string> keys(std::begin(kStrings), std::end(kStrings));
  keys.insert(keys.end(), std::begin(kSets), std::end(kSets));
  keys.insert(keys.end(), {"h0", "z0", "l0"});
  for (const std::string& key : keys) {
    const Reply ttl = sim.Execute(0, {"PTTL", key});
    if (ttl.type != Reply::Type::kInteger || ttl.integer >= 0) {
      return key + " still has a TTL 10 s after the last command: " + ttl.ToString();
    }
    for (int r = 1; r < kRegions; ++r) {
      const Reply other = sim.Execute(r, {"PTTL", key});
      if (other != ttl) {
        return "PTTL " + key + ": " + ttl.ToString() + " in A, " + other.ToString() + " in " +
               sim.region_name(r);
      }
    }
  }
  *commands_out += commands;
  return "";
}

std::vector<uint64_t> Seeds() {
  if (const char* s = std::getenv("AASIM_SEED")) return {std::strtoull(s, nullptr, 10)};
  uint64_t n = 200;
  if (const char* s = std::getenv("AASIM_SEEDS")) n = std::strtoull(s, nullptr, 10);
  std::vector<uint64_t> seeds;
  for (uint64_t i = 1; i <= n; ++i) seeds.push_back(i * 104729);
  return seeds;
}

TEST(ExpiryConvergenceTest, DueExpiriesRacingWritesConverge) {
  int runs = 0, commands = 0;
  for (uint64_t seed : Seeds()) {
    const std::string verdict = RunOnce(seed, &commands);
    ASSERT_EQ(verdict, "") << "AASIM_SEED=" << seed;
    ++runs;
  }
  std::cout << "[ expiry ] " << runs << " runs, " << commands
            << " commands, every region converged\n";
}

}  // namespace
