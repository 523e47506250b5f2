// The convergence property of the simulator: hundreds of seeded random scenarios end
// converged, equal to an independent model of the rules of docs/active-active.md:
//
//   Random scenarios (2-5 regions, random ops on a few keys, partitions, loss, duplication,
//   jitter, clock skew, small backlogs, MULTI batches, crashes right after a sync) are
//   played on a Simulation. Every command reply is checked against a model, and so is every
//   region's visible state after every wait and sync. After a final heal + sync every region
//   holds exactly the model's value of every key over ALL writes (no write is lost: crashes
//   only follow a completed sync with every link healed, and the test checks that every
//   write reached every region), and Simulation::Divergent({}) is empty.
//
// How the model knows what each region has seen. The memory store is wrapped (through
// SimConfig::store_factory) in a ModelStore that records visibility: every local write
// becomes a model op; the effect bytes it produced map to that op; merging those bytes in a
// region makes the op visible there. FullState() maps its bytes to a snapshot of the
// region's visible ops, so merging a full state makes all of them visible. Wipe() (restart
// after a crash) forgets them.
//
// The model (written here from docs/active-active.md, not using the crdt library). Each op
// records, when it runs, the writes it removes:
//   - SET removes the SETs of its key; DEL every write of its key; SADD/SREM of a member the
//     SADDs of that member. A write is present in a region iff it is visible there and no
//     op visible there removed it. So a re-add observed by nobody keeps a member present
//     (add wins), and a write concurrent with a DEL survives it.
//   - Which writes: every one its region had observed (Semantics::kObserved, the documented
//     rule), or only those still present there (Semantics::kPresent, what an effect
//     carrying just the removed dots gives when effects are applied in any order). Both
//     give the same final state; they differ while effects overtake each other.
//   - Counters: every region's increments add up; a SET or DEL cancels the increments its
//     region had observed. Increments are tracked per writer incarnation as a prefix
//     ("knows the first k increments of X, the first j of them cancelled"): an increment's
//     effect carries its writer's running total (so it also reveals the writer's earlier
//     increments) and a reset carries what it cancelled.
//   - A string's value: the present SET with the highest timestamp (virtual time +
//     clock_skew; ties to the region whose name sorts first, then the older incarnation),
//     plus the live increments when it is an integer; the increments alone when there is no
//     present SET; absent when nothing is live. A non-integer value refuses INCR.
//   - INCRBYFLOAT increments (multiples of 1/4 here, so every order of addition is exact;
//     the model counts them in quarters) are a second counter with the same prefix rule.
//     While one is live the value is the integer value (or 0) plus their sum, written as
//     Redis writes a float ("14", "19.75"); INCR on such a value, when it reads as an
//     integer, joins the float increments.
//   - Sorted set members (key z1) are modelled as strings of their own: ZADD is a SET of
//     the score, ZINCRBY an increment (a SET of the step when the member is absent), ZREM a
//     DEL of the member, DEL of z1 a DEL of every member; so concurrent ZINCRBYs add up,
//     concurrent ZADDs are last-write-wins and a ZREM leaves a concurrent increment.
//   - List elements (key l1) are dots like SADD's, ordered by a position digit (a push
//     takes the first element's digit - 1 or the last one's + 1; 0 in an empty list), then
//     by region name, incarnation and age. LPOP/RPOP/LREM remove the elements they return
//     or count; DEL every element (see Semantics), so a concurrent push survives both.
//   - A HyperLogLog (key h1; elements with registers of their own, so its count is exact)
//     is the PFADDs of the highest epoch: a PFADD takes its region's epoch, a DEL starts
//     the next one, so a DEL drops every PFADD its region had not seen. A PFADD carries
//     only the elements its region lacked (the registers it raised), so a region that sees
//     it before an earlier PFADD of the same element lacks that element until then.
// EXPIRE (of a day and more: never due) changes no value; after the final sync every region
// must answer the same PEXPIRETIME for every key (longest TTL wins, SET and DEL remove it).
// String/counter keys (SET, GETSET, APPEND, GETDEL, INCR*, DECR*, INCRBYFLOAT, GET, DEL,
// EXPIRE, EXISTS, TYPE) and set keys (SADD, SREM, SMEMBERS, SISMEMBER, SCARD, SUNIONSTORE,
// SINTERSTORE, SDIFFSTORE, DEL, EXISTS), the sorted set (ZADD, ZINCRBY, ZREM, ZSCORE,
// ZRANGE, ZCARD, DEL), the list (LPUSH, RPUSH, LPOP, RPOP, LREM, LRANGE, LLEN, DEL) and the
// HyperLogLog (PFADD, PFCOUNT, DEL) come from separate pools: no type conflicts.
//
// KNOWN LIMIT: with the documented rule (Semantics::kObserved), a region can apply a DEL and
// still show a value that DEL had observed: a SET/DEL/SREM effect names only the writes
// still present where it ran, and effects of different origins apply in arrival order. The
// observed-model test therefore checks only the final state
// (RandomScenariosEndInTheStateOfTheObservedModel), and even that can fail when a region
// writes on such a transient value: 1 of 10,000 seeds (AASIM_SEED=8341: eu's DEL of s1
// reaches B before us-east's SET it had observed, so B's DECRBY meets the older "x7" and
// fails where the model saw nothing left). Effects of one origin apply in its order (the
// replicator holds one that overtakes a lost predecessor), which removed the same-origin
// cases (before that, 10 of 10,000, e.g. AASIM_SEED=635 and 3435). Minimal reproductions
// and diagnosis: SimulationTest.AnApplied*WithoutCausalDelivery in simulation_test.cc;
// causal delivery (`replication: {causal: true}`) is the remedy.
// RandomScenariosConvergeToTheModel runs the same scenarios against the kPresent model,
// checking every reply and every region after every step: 0 of 10,000 seeds fail.
//
// Seeds 1..300 in an optimized build, 1..60 otherwise (sanitizers); AASIM_SEEDS=n runs
// seeds 1..n, AASIM_SEED=n replays one. A failure prints the seed, the first mismatch with
// the model's view of the key (every op on it, seen or not there) and the whole scenario as
// YAML-like steps.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/network.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "cluster_sim/time.h"
#include "crdt/dot.h"
#include "crdt/hll.h"

namespace cluster_sim {
namespace {

using Argv = std::vector<std::string>;

constexpr SimTime Ms(int64_t ms) { return SimTime(ms * 1000); }

const char* const kStringKeys[] = {"s1", "s2"};
const char* const kSetKeys[] = {"t1", "t2"};
const char* const kMembers[] = {"a", "b", "c"};
// Sorted sets, lists and HyperLogLogs: one key each, pools of their own.
const char* const kZsetKey = "z1";
const char* const kListKey = "l1";
const char* const kHllKey = "h1";
// HyperLogLog elements whose registers (Redis's hash, low 14 bits) are all different, so
// a PFADD changes the sketch iff it adds an element it lacks and PFCOUNT is exact
// (checked by HllElementsHaveRegistersOfTheirOwn).
const char* const kHllElements[] = {"e0", "e1", "e2", "e3", "e4", "e5"};
// Names in several byte orders ("B" < "C1" < "ap" < "eu" < ...), listed out of order so the
// configuration order differs from the site (name) order.
const char* const kNamePool[] = {"eu", "us-west", "ap", "B", "us-east", "zz", "C1"};

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";

// ------------------------------------------------------------------------------ scenario

struct Step {
  enum class Kind { kCommand, kBatch, kWait, kPartition, kHeal, kHealAll, kSync, kCrash, kRestart };
  Kind kind = Kind::kWait;
  int region = -1;
  std::vector<Argv> commands;  // kCommand: one; kBatch: several (MULTI/EXEC)
  SimTime duration{0};
  std::vector<std::vector<int>> groups;  // kPartition, kHeal
};

struct LinkRule {
  int from = 0, to = 0;
  bool both_ways = true;
  LinkParams params;
};

struct Scenario {
  uint64_t seed = 0;
  std::vector<RegionConfig> regions;
  ReplicationConfig replication;
  std::vector<LinkRule> links;
  std::vector<Step> steps;
};

std::string Join(const Argv& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string FormatProbability(double p) {
  std::ostringstream os;
  os << p;
  return os.str();
}

std::string FormatLink(const LinkParams& p) {
  std::string s = "{ latency: " + FormatDuration(p.latency);
  if (p.jitter.count() > 0) s += ", jitter: " + FormatDuration(p.jitter);
  if (p.loss > 0) s += ", loss: " + FormatProbability(p.loss);
  if (p.duplicate > 0) s += ", duplicate: " + FormatProbability(p.duplicate);
  return s + " }";
}

std::string FormatGroups(const Scenario& sc, const std::vector<std::vector<int>>& groups) {
  std::string s = "[";
  for (size_t g = 0; g < groups.size(); ++g) {
    s += g ? ", [" : "[";
    for (size_t i = 0; i < groups[g].size(); ++i) {
      s += (i ? ", " : "") + sc.regions[groups[g][i]].name;
    }
    s += "]";
  }
  return s + "]";
}

std::string FormatStep(const Scenario& sc, const Step& st) {
  const std::string region = st.region >= 0 ? sc.regions[st.region].name : "";
  switch (st.kind) {
    case Step::Kind::kCommand:
      return region + ": " + Join(st.commands[0]);
    case Step::Kind::kBatch: {
      std::string s = "multi@" + region + ": [";
      for (size_t i = 0; i < st.commands.size(); ++i) s += (i ? ", " : "") + Join(st.commands[i]);
      return s + "]";
    }
    case Step::Kind::kWait:
      return "wait: " + FormatDuration(st.duration);
    case Step::Kind::kPartition:
      return "partition: " + FormatGroups(sc, st.groups);
    case Step::Kind::kHeal:
      return "heal: " + FormatGroups(sc, st.groups);
    case Step::Kind::kHealAll:
      return "heal: all";
    case Step::Kind::kSync:
      return "sync";
    case Step::Kind::kCrash:
      return "crash: " + region;
    case Step::Kind::kRestart:
      return "restart: " + region;
  }
  return "?";
}

// The whole scenario in the shape of a scenario file (plus `duplicate:` and `replication:`,
// which only this test sets).
std::string Describe(const Scenario& sc) {
  std::string s =
      "# convergence property scenario; replay with AASIM_SEED=" + std::to_string(sc.seed) + "\n";
  s += "seed: " + std::to_string(sc.seed) + "\nregions:\n";
  for (const RegionConfig& r : sc.regions) {
    s += "  " + r.name + ": { clock_skew: " + FormatDuration(r.clock_skew) + " }\n";
  }
  ReplicationConfig defaults;
  if (sc.replication.backlog_bytes != defaults.backlog_bytes ||
      sc.replication.max_batch_bytes != defaults.max_batch_bytes) {
    s += "replication: { backlog_bytes: " + std::to_string(sc.replication.backlog_bytes) +
         ", max_batch_bytes: " + std::to_string(sc.replication.max_batch_bytes) + " }\n";
  }
  s += "links:\n";
  for (const LinkRule& l : sc.links) {
    s += "  " + sc.regions[l.from].name + (l.both_ways ? " <-> " : " -> ") + sc.regions[l.to].name +
         ": " + FormatLink(l.params) + "\n";
  }
  s += "steps:\n";
  for (size_t i = 0; i < sc.steps.size(); ++i) {
    std::string line = "  - " + FormatStep(sc, sc.steps[i]);
    line.resize(std::max<size_t>(line.size() + 1, 48), ' ');
    s += line + "# " + std::to_string(i) + "\n";
  }
  return s;
}

// ----------------------------------------------------------------------------- generator

LinkParams RandomLink(Rng& rng) {
  LinkParams p;
  p.latency = Ms(rng.Range(1, 100));
  if (rng.OneIn(2)) p.latency += SimTime(rng.Range(0, 999));
  p.jitter = rng.OneIn(3) ? SimTime(0) : SimTime(rng.Range(0, p.latency.count() / 2));
  // Probabilities with three decimals, so the printed scenario is exact.
  p.loss = rng.OneIn(3) ? 0 : static_cast<double>(rng.Range(0, 300)) / 1000;
  if (rng.OneIn(10)) p.loss = static_cast<double>(rng.Range(300, 700)) / 1000;  // a bad link
  p.duplicate = rng.OneIn(3) ? 0 : static_cast<double>(rng.Range(0, 300)) / 1000;
  return p;
}

template <typename T, size_t N>
std::string Pick(Rng& rng, T (&items)[N]) {
  return items[rng.Uniform(N)];
}

void AddMembers(Rng& rng, Argv* argv) {
  uint64_t a = rng.Uniform(3);
  argv->push_back(kMembers[a]);
  if (rng.OneIn(3)) argv->push_back(kMembers[(a + 1 + rng.Uniform(2)) % 3]);  // distinct
}

// A Lua script writing a counter and a set member: it must replicate as one effect, and the
// model runs it as the two commands it calls (OnExecute), its reply as their two replies.
constexpr const char* kScript =
    "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "return {n, redis.call('SADD', KEYS[2], ARGV[2])}";

// A sorted-set, list or HyperLogLog command (integer scores and steps: every sum is exact).
Argv RandomNewTypeCommand(Rng& rng) {
  uint64_t c = rng.Uniform(100);
  const std::string m = Pick(rng, kMembers);
  if (rng.OneIn(3)) {  // sorted set
    if (c < 30) return {"ZADD", kZsetKey, std::to_string(rng.Range(-5, 5)), m};
    if (c < 60) {
      return {"ZINCRBY", kZsetKey, std::to_string(rng.Range(1, 4) * (rng.OneIn(3) ? -1 : 1)), m};
    }
    if (c < 75) return {"ZREM", kZsetKey, m};
    if (c < 83) return {"ZSCORE", kZsetKey, m};
    if (c < 90) return {"ZRANGE", kZsetKey, "0", "-1", "WITHSCORES"};
    if (c < 94) return {"ZCARD", kZsetKey};
    return {"DEL", kZsetKey};
  }
  if (rng.OneIn(2)) {  // list
    if (c < 40) {
      Argv argv = {rng.OneIn(2) ? "LPUSH" : "RPUSH", kListKey, m};
      if (rng.OneIn(3)) argv.push_back(Pick(rng, kMembers));
      return argv;
    }
    if (c < 60) return {rng.OneIn(2) ? "LPOP" : "RPOP", kListKey};
    if (c < 72) return {"LREM", kListKey, std::to_string(rng.Range(-2, 2)), m};
    if (c < 85) return {"LRANGE", kListKey, "0", "-1"};
    if (c < 92) return {"LLEN", kListKey};
    return {"DEL", kListKey};
  }
  if (c < 50) {
    Argv argv = {"PFADD", kHllKey, Pick(rng, kHllElements)};
    if (rng.OneIn(3)) argv.push_back(Pick(rng, kHllElements));
    return argv;
  }
  if (c < 85) return {"PFCOUNT", kHllKey};
  return {"DEL", kHllKey};
}

Argv RandomCommand(Rng& rng) {
  if (rng.OneIn(3)) return RandomNewTypeCommand(rng);
  uint64_t c = rng.Uniform(100);
  if (rng.OneIn(2)) {
    std::string k = Pick(rng, kStringKeys);
    if (c < 25) {
      std::string v =
          rng.OneIn(6) ? "x" + std::to_string(rng.Uniform(10)) : std::to_string(rng.Range(-20, 20));
      return {"SET", k, v};
    }
    if (c < 55) {
      // Non-zero steps only: INCRBY 0 is covered by a test of its own (simulation_test.cc).
      int64_t by = rng.Range(1, 5) * (rng.OneIn(3) ? -1 : 1);
      if (by == 1 && rng.OneIn(2)) return {"INCR", k};
      if (by == -1 && rng.OneIn(2)) return {"DECR", k};
      if (by < 0 && rng.OneIn(2)) return {"DECRBY", k, std::to_string(-by)};
      return {"INCRBY", k, std::to_string(by)};
    }
    if (c < 62) {
      static const char* const kSteps[] = {"0.5", "1.25", "-0.75", "2.5", "-1.5", "3"};
      return {"INCRBYFLOAT", k, Pick(rng, kSteps)};
    }
    if (c < 75) return {"GET", k};
    if (c < 84) return {"DEL", k};
    if (c < 87) {
      static const char* const kWrites[] = {"GETSET", "APPEND", "GETDEL"};
      std::string cmd = Pick(rng, kWrites);
      if (cmd == "GETDEL") return {cmd, k};
      // APPEND makes "z<n>"-style strings, never numbers: not "x", since "0x4" reads as a
      // hex float to INCRBYFLOAT (as in Redis: strtold) and the model reads only integers
      // and quarters.
      return {cmd, k, (cmd == "APPEND" ? "z" : "") + std::to_string(rng.Range(0, 9))};
    }
    if (c < 90) return {"EXPIRE", k, std::to_string(rng.Range(100000, 100003))};
    if (c < 92) {
      return {"EVAL",
              kScript,
              "2",
              k,
              Pick(rng, kSetKeys),
              std::to_string(rng.Range(1, 3)),
              Pick(rng, kMembers)};
    }
    if (c < 94) return {"EXISTS", k};
    return {"TYPE", k};
  }
  std::string k = Pick(rng, kSetKeys);
  Argv argv;
  if (c < 35) {
    argv = {"SADD", k};
    AddMembers(rng, &argv);
  } else if (c < 60) {
    argv = {"SREM", k};
    AddMembers(rng, &argv);
  } else if (c < 75) {
    argv = {"SMEMBERS", k};
  } else if (c < 85) {
    argv = {"SISMEMBER", k, Pick(rng, kMembers)};
  } else if (c < 90) {
    argv = {"SCARD", k};
  } else if (c < 93) {
    static const char* const kStores[] = {"SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"};
    argv = {Pick(rng, kStores), k, Pick(rng, kSetKeys), Pick(rng, kSetKeys)};
  } else {
    uint64_t d = rng.Uniform(10);
    argv = d < 2   ? Argv{"EXISTS", k}
           : d < 4 ? Argv{"EXPIRE", k, std::to_string(rng.Range(100000, 100003))}
                   : Argv{"DEL", k};
  }
  return argv;
}

Scenario Generate(uint64_t seed) {
  Scenario sc;
  sc.seed = seed;
  Rng rng = Rng(seed).Fork("convergence-scenario");
  const int n = static_cast<int>(rng.Range(2, 5));
  std::vector<std::string> names(std::begin(kNamePool), std::end(kNamePool));
  for (size_t i = names.size() - 1; i > 0; --i) std::swap(names[i], names[rng.Uniform(i + 1)]);
  const bool no_skew = rng.OneIn(4);  // equal clocks: same-instant SETs tie on the timestamp
  for (int i = 0; i < n; ++i) {
    SimTime skew{0};
    if (!no_skew) {
      skew = rng.OneIn(2) ? Ms(rng.Range(-50, 50)) : SimTime(rng.Range(-50'000, 50'000));
    }
    sc.regions.push_back(RegionConfig{names[i], skew});
  }
  if (rng.OneIn(4)) {  // a small backlog: long partitions end in full syncs
    sc.replication.backlog_bytes = static_cast<size_t>(rng.Range(100, 2000));
    sc.replication.max_batch_bytes = static_cast<size_t>(rng.Range(50, 500));
  }
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      if (rng.OneIn(5)) {
        sc.links.push_back(LinkRule{a, b, false, RandomLink(rng)});
        sc.links.push_back(LinkRule{b, a, false, RandomLink(rng)});
      } else {
        sc.links.push_back(LinkRule{a, b, true, RandomLink(rng)});
      }
    }
  }
  auto add = [&](Step::Kind kind, int region = -1) {
    Step st;
    st.kind = kind;
    st.region = region;
    sc.steps.push_back(st);
    return &sc.steps.back();
  };
  auto random_region = [&] { return static_cast<int>(rng.Uniform(n)); };
  const int count = static_cast<int>(rng.Range(30, 150));
  int down = -1;  // at most one region down at a time
  for (int i = 0; i < count; ++i) {
    if (down >= 0 && rng.OneIn(10)) {
      add(Step::Kind::kRestart, down);
      down = -1;
      continue;
    }
    uint64_t c = rng.Uniform(100);
    if (c < 55) {
      add(Step::Kind::kCommand, random_region())->commands.push_back(RandomCommand(rng));
    } else if (c < 60) {
      Step* st = add(Step::Kind::kBatch, random_region());
      for (int j = static_cast<int>(rng.Range(2, 3)); j > 0; --j) {
        st->commands.push_back(RandomCommand(rng));
      }
    } else if (c < 75) {
      add(Step::Kind::kWait)->duration = rng.OneIn(4) ? Ms(rng.Range(0, 5)) : Ms(rng.Range(1, 250));
    } else if (c < 82) {
      Step* st = add(Step::Kind::kPartition);
      if (rng.OneIn(3) || n == 2) {
        int a = random_region();
        int b = (a + 1 + static_cast<int>(rng.Uniform(n - 1))) % n;
        st->groups = {{a}, {b}};
      } else {
        std::vector<int> order(n);
        for (int r = 0; r < n; ++r) order[r] = r;
        for (int r = n - 1; r > 0; --r) std::swap(order[r], order[rng.Uniform(r + 1)]);
        int split = static_cast<int>(rng.Range(1, n - 1));
        st->groups = {std::vector<int>(order.begin(), order.begin() + split),
                      std::vector<int>(order.begin() + split, order.end())};
      }
    } else if (c < 88) {
      int a = random_region();
      int b = (a + 1 + static_cast<int>(rng.Uniform(n - 1))) % n;
      add(Step::Kind::kHeal)->groups = {{a}, {b}};
    } else if (c < 90) {
      add(Step::Kind::kHealAll);
    } else if (c < 95 || down >= 0) {
      add(Step::Kind::kSync);
    } else {
      // A crash right after a completed sync with every link healed: nothing is lost.
      add(Step::Kind::kHealAll);
      add(Step::Kind::kSync);
      down = random_region();
      add(Step::Kind::kCrash, down);
    }
  }
  if (down >= 0) add(Step::Kind::kRestart, down);
  add(Step::Kind::kHealAll);
  add(Step::Kind::kSync);
  return sc;
}

// --------------------------------------------------------------------------------- model

using DotRef = std::pair<int, int>;   // (op id, member index); a SET's dot has index 0
using Replica = std::pair<int, int>;  // (region, incarnation): one counter writer

// What a region knows of one writer's increments on one key: its first `known` increments,
// of which the first `cancelled` were cancelled by a SET or DEL.
struct Slot {
  int known = 0;
  int cancelled = 0;
};

struct Op {
  enum class Kind { kSet, kIncr, kDel, kSAdd, kSRem, kExpire, kPush, kPop, kPfAdd };
  int id = 0;
  Kind kind = Kind::kSet;
  int region = 0;
  int incarnation = 1;
  std::string key;
  std::string value;                 // kSet
  int64_t by = 0;                    // kIncr
  std::vector<std::string> members;  // kSAdd (one dot per member), kSRem, kPush, kPfAdd
  std::vector<int64_t> digits;       // kPush: each element's position digit
  int64_t epoch = 0;                 // kPfAdd, and kDel of the HyperLogLog key
  int64_t ts = 0;                    // the writer's wall clock
  int counter_index = 0;             // kIncr: 1-based, among its writer's increments of key
  std::vector<DotRef> removes;       // writes it removes (see Semantics)
  std::map<Replica, Slot> counter;   // counter knowledge its effect carries
  std::map<Replica, Slot> floats;    // the same for INCRBYFLOAT increments
  bool is_float = false;             // kIncr: an INCRBYFLOAT increment (`by` in quarters)
  int step = 0;
  SimTime time{0};
};

// A key as the model sees it in one region (or over all ops).
struct KeyView {
  std::vector<int> sets;  // surviving SETs
  const Op* winner = nullptr;
  std::map<Replica, Slot> counter;
  int64_t counter_sum = 0;
  bool counter_live = false;
  std::map<Replica, Slot> floats;
  int64_t float_quarters = 0;
  bool float_live = false;
  std::optional<std::string> str;  // the string's value (nullopt: no string)
  std::vector<DotRef> set_dots;    // surviving SADD dots
  std::set<std::string> members;   // the set's members
  std::vector<DotRef> list;        // surviving pushed elements, in list order
  std::vector<std::string> items;  // their values
  int64_t epoch = 0;               // the HyperLogLog's epoch (the highest visible)
  std::set<std::string> hll;       // the elements of the PFADDs of that epoch

  bool exists() const {
    return str.has_value() || !members.empty() || !items.empty() || !hll.empty();
  }
  std::string Dump() const {
    if (str) return *str;
    if (!items.empty()) {
      std::string s = "[";
      for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
      return s + "]";
    }
    if (!hll.empty()) return "hll(" + std::to_string(hll.size()) + ")";
    if (members.empty()) return "(nil)";
    std::string s = "{";
    for (const auto& m : members) s += (s.size() > 1 ? ", " : "") + m;
    return s + "}";
  }
};

// Redis's integer syntax (string2ll): optional '-', digits, no leading zero, no "-0".
bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || (s[i] == '0' && s.size() > i + 1) || (i == 1 && s[1] == '0')) return false;
  int64_t v = 0;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return false;
    v = v * 10 + (s[j] - '0');
  }
  *out = i ? -v : v;
  return true;
}

enum class Fault {
  kNone,
  // Negative control: the store silently ignores remote SREM/DEL effects (the model still
  // believes they were applied). The property must catch it.
  kIgnoreRemoteRemovals,
};

// What a SET, DEL, SADD or SREM removes (see the file comment).
enum class Semantics {
  // The documented rule: every write of the key (member) its region had observed.
  kObserved,
  // Only the writes still present in its region: what an effect carrying just the removed
  // dots gives when effects are applied in any order (no causal delivery).
  kPresent,
};

class World {
 public:
  explicit World(const Scenario& sc) : sc_(sc), regions_(sc.regions.size()) {}

  void set_simulation(Simulation* sim) { sim_ = sim; }
  void set_step(int step) { step_ = step; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  size_t op_count() const { return ops_.size(); }
  Fault fault = Fault::kNone;
  Semantics semantics = Semantics::kObserved;
  // Check replies and regions at every step (else only the final state): kObserved holds
  // only once every effect has arrived, since effects are not delivered causally.
  bool check_every_step = true;

  void Fail(const std::string& what) const {
    if (failure_.empty()) failure_ = "step " + std::to_string(step_) + ": " + what;
  }

  // ---- hooks called by ModelStore ----

  void OnExecute(int r, const std::vector<Argv>& given, int64_t wall_clock_us,
                 const std::vector<Reply>& given_replies, const std::string& effect) {
    // Scripts (kScript) are modelled as the commands they call: INCRBY, then SADD unless
    // the INCRBY failed (the script stops at its error); their replies are the script's
    // array. A failed script answers an error of its own: only "an error" is compared.
    std::vector<Argv> commands;
    std::vector<Reply> actual;
    std::vector<bool> script_error;  // per modelled command: its script failed
    for (size_t i = 0; i < given.size(); ++i) {
      const Argv& c = given[i];
      const Reply* got = i < given_replies.size() ? &given_replies[i] : nullptr;
      if (c[0] != "EVAL" || c.size() != 7 || c[1] != kScript) {
        commands.push_back(c);
        if (got != nullptr) actual.push_back(*got);
        script_error.push_back(false);
        continue;
      }
      const bool failed = got != nullptr && got->is_error();
      commands.push_back({"INCRBY", c[3], c[5]});
      script_error.push_back(failed);
      if (failed) {
        actual.push_back(*got);
        continue;
      }
      commands.push_back({"SADD", c[4], c[6]});
      script_error.push_back(false);
      for (size_t e = 0; e < 2; ++e) {
        actual.push_back(got != nullptr && got->elements.size() == 2 ? got->elements[e]
                                                                     : Reply::Nil());
      }
    }
    if (sim_ != nullptr) {
      int64_t want = (sim_->Now() + sc_.regions[r].clock_skew).count();
      if (wall_clock_us != want) {
        Fail("region " + Name(r) + " ran a command at wall clock " + std::to_string(wall_clock_us) +
             "us, expected virtual time + clock_skew = " + std::to_string(want) + "us");
      }
    }
    std::vector<int> new_ops;
    for (size_t i = 0; i < commands.size(); ++i) {
      Reply want = Execute(r, commands[i], wall_clock_us, &new_ops);
      const bool unmodelled = commands[i][0] == "PEXPIRETIME";  // CheckFinal compares regions
      const bool same =
          i < actual.size() && (script_error[i] ? want.is_error() : actual[i] == want);
      if (check_every_step && !unmodelled && !same) {
        Fail("region " + Name(r) + ": " + Join(commands[i]) + " replied " +
             (i < actual.size() ? actual[i].ToString() : "nothing") + ", the model expects " +
             want.ToString() + "\n" + DescribeKey(r, commands[i][1]));
      }
    }
    if (new_ops.empty() != effect.empty()) {
      Fail("region " + Name(r) + ": the store " + (effect.empty() ? "produced no" : "produced an") +
           " effect for " + Join(commands[0]) + (commands.size() > 1 ? " ..." : "") +
           ", the model says it " + (new_ops.empty() ? "changed nothing" : "wrote"));
    }
    if (!effect.empty()) {
      std::vector<int>& ids = effect_ops_[effect];
      ids.insert(ids.end(), new_ops.begin(), new_ops.end());
    }
  }

  // Returns false if the store should not really apply it (fault injection).
  bool OnMerge(int r, std::string_view bytes) {
    if (auto it = effect_ops_.find(bytes); it != effect_ops_.end()) {
      bool apply = true;
      for (int id : it->second) {
        MarkVisible(r, id);
        const Op& op = ops_[id];
        if (fault == Fault::kIgnoreRemoteRemovals &&
            (op.kind == Op::Kind::kDel || op.kind == Op::Kind::kSRem)) {
          apply = false;
        }
      }
      return apply;
    }
    if (auto it = full_states_.find(bytes); it != full_states_.end()) {
      for (int id : it->second) MarkVisible(r, id);
      return true;
    }
    Fail("region " + Name(r) + " merged " + std::to_string(bytes.size()) +
         " bytes that no store produced as an effect or a full state");
    return true;
  }

  void OnFullState(int r, const std::string& bytes) {
    std::set<int>& snapshot = full_states_[bytes];
    const std::vector<char>& vis = regions_[r].visible;
    for (size_t id = 0; id < vis.size(); ++id) {
      if (vis[id]) snapshot.insert(static_cast<int>(id));
    }
  }

  void OnWipe(int r) {
    regions_[r].visible.clear();
    regions_[r].incarnation++;
  }

  // ---- checks ----

  // Every live region's visible data equals the model over the ops visible there.
  void CheckRegions() {
    if (!check_every_step) return;
    for (int r = 0; r < static_cast<int>(regions_.size()) && !failed(); ++r) {
      if (!sim_->alive(r)) continue;
      for (const std::string& key : AllKeys()) {
        std::string want = DumpOf(&regions_[r].visible, key);
        std::string got = sim_->Dump(r, key);
        if (got != want) {
          Fail("region " + Name(r) + " holds " + key + " = " + got + ", the model expects " + want +
               "\n" + DescribeKey(r, key));
          return;
        }
      }
    }
  }

  // After the final heal + sync: every write reached every region and every region holds
  // the model's value over all writes.
  void CheckFinal() {
    for (int r = 0; r < static_cast<int>(regions_.size()) && !failed(); ++r) {
      if (!sim_->alive(r)) {
        Fail("region " + Name(r) + " is down at the end");
        return;
      }
      for (const Op& op : ops_) {
        if (!Visible(regions_[r].visible, op.id)) {
          Fail("write lost: " + OpString(op) + " never reached region " + Name(r));
          return;
        }
      }
      for (const std::string& key : AllKeys()) {
        std::string want = DumpOf(nullptr, key);
        std::string got = sim_->Dump(r, key);
        if (got != want) {
          Fail("after heal + sync, region " + Name(r) + " holds " + key + " = " + got +
               ", the model over all writes gives " + want + "\n" + DescribeKey(r, key));
          return;
        }
      }
    }
    if (failed()) return;
    for (const std::string& key : AllKeys()) {
      Reply first = sim_->Execute(0, {"PEXPIRETIME", key});
      for (int r = 1; r < static_cast<int>(regions_.size()) && !failed(); ++r) {
        Reply got = sim_->Execute(r, {"PEXPIRETIME", key});
        if (!(got == first)) {
          Fail("after heal + sync, PEXPIRETIME " + key + " is " + first.ToString() + " in " +
               Name(0) + " but " + got.ToString() + " in " + Name(r));
        }
      }
    }
    std::vector<std::string> divergent = sim_->Divergent({});
    if (!divergent.empty()) Fail("Divergent({}) is not empty: " + Join(divergent));
    for (int r = 0; r < static_cast<int>(regions_.size()) && !failed(); ++r) {
      for (const std::string& key : sim_->Keys(r)) {
        std::vector<std::string> all = AllKeys();
        if (std::find(all.begin(), all.end(), key) == all.end()) {
          Fail("region " + Name(r) + " holds an unexpected key " + key);
        }
      }
    }
  }

 private:
  struct RegionModel {
    int incarnation = 1;
    std::vector<char> visible;  // by op id
  };

  static std::vector<std::string> AllKeys() {
    std::vector<std::string> keys(std::begin(kStringKeys), std::end(kStringKeys));
    keys.insert(keys.end(), std::begin(kSetKeys), std::end(kSetKeys));
    keys.insert(keys.end(), {kZsetKey, kListKey, kHllKey});
    return keys;
  }
  static bool Visible(const std::vector<char>& vis, int id) {
    return static_cast<size_t>(id) < vis.size() && vis[id];
  }
  const std::string& Name(int r) const { return sc_.regions[r].name; }

  void MarkVisible(int r, int id) {
    std::vector<char>& vis = regions_[r].visible;
    if (vis.size() <= static_cast<size_t>(id)) vis.resize(id + 1, 0);
    vis[id] = 1;
  }

  // LWW order: higher timestamp, then the region whose name sorts first, then the older
  // incarnation, then the older write.
  bool Beats(const Op& a, const Op& b) const {
    if (a.ts != b.ts) return a.ts > b.ts;
    if (Name(a.region) != Name(b.region)) return Name(a.region) < Name(b.region);
    if (a.incarnation != b.incarnation) return a.incarnation < b.incarnation;
    return a.id < b.id;
  }

  // The model's view of `key` over the visible ops (all ops when vis is null).
  KeyView View(const std::vector<char>* vis, const std::string& key) const {
    KeyView v;
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return v;
    std::set<DotRef> removed;
    for (int id : it->second) {
      if (vis && !Visible(*vis, id)) continue;
      const Op& op = ops_[id];
      removed.insert(op.removes.begin(), op.removes.end());
      for (const auto& [replica, slot] : op.counter) {
        Slot& s = v.counter[replica];
        s.known = std::max(s.known, slot.known);
        s.cancelled = std::max(s.cancelled, slot.cancelled);
      }
      for (const auto& [replica, slot] : op.floats) {
        Slot& s = v.floats[replica];
        s.known = std::max(s.known, slot.known);
        s.cancelled = std::max(s.cancelled, slot.cancelled);
      }
    }
    for (int id : it->second) {
      if (vis && !Visible(*vis, id)) continue;
      const Op& op = ops_[id];
      if (op.kind == Op::Kind::kSet && !removed.count({id, 0})) {
        v.sets.push_back(id);
        if (v.winner == nullptr || Beats(op, *v.winner)) v.winner = &op;
      } else if (op.kind == Op::Kind::kSAdd) {
        for (int m = 0; m < static_cast<int>(op.members.size()); ++m) {
          if (removed.count({id, m})) continue;
          v.set_dots.push_back({id, m});
          v.members.insert(op.members[m]);
        }
      } else if (op.kind == Op::Kind::kPush) {
        for (int m = 0; m < static_cast<int>(op.members.size()); ++m) {
          if (!removed.count({id, m})) v.list.push_back({id, m});
        }
      }
      if (op.kind == Op::Kind::kPfAdd || op.kind == Op::Kind::kDel) {
        v.epoch = std::max(v.epoch, op.epoch);
      }
    }
    // List order: by position digit, then by the element's dot: the region whose name
    // sorts first, its older incarnation, its older write.
    std::sort(v.list.begin(), v.list.end(), [this](const DotRef& a, const DotRef& b) {
      const Op &x = ops_[a.first], &y = ops_[b.first];
      if (x.digits[a.second] != y.digits[b.second]) return x.digits[a.second] < y.digits[b.second];
      if (Name(x.region) != Name(y.region)) return Name(x.region) < Name(y.region);
      if (x.incarnation != y.incarnation) return x.incarnation < y.incarnation;
      return a < b;
    });
    for (const DotRef& d : v.list) v.items.push_back(ops_[d.first].members[d.second]);
    // A HyperLogLog is the PFADDs of the highest epoch (a DEL starts the next one).
    for (int id : it->second) {
      const Op& op = ops_[id];
      if ((vis && !Visible(*vis, id)) || op.kind != Op::Kind::kPfAdd || op.epoch != v.epoch)
        continue;
      v.hll.insert(op.members.begin(), op.members.end());
    }
    for (const auto& [replica, slot] : v.counter) {
      auto inc = increments_.find({key, replica});
      if (inc == increments_.end() || slot.known > static_cast<int>(inc->second.size())) {
        Fail("model: counter knowledge beyond the writer's increments");
        continue;
      }
      for (int i = slot.cancelled; i < slot.known; ++i) {
        v.counter_sum += inc->second[i];
        v.counter_live |= inc->second[i] != 0;
      }
    }
    for (const auto& [replica, slot] : v.floats) {
      auto inc = float_increments_.find({key, replica});
      if (inc == float_increments_.end() || slot.known > static_cast<int>(inc->second.size())) {
        Fail("model: float knowledge beyond the writer's increments");
        continue;
      }
      for (int i = slot.cancelled; i < slot.known; ++i) {
        v.float_quarters += inc->second[i];
        v.float_live = true;
      }
    }
    int64_t base = 0;
    if (v.winner != nullptr) {
      bool integer = ParseInt(v.winner->value, &base);
      v.str = integer && v.counter_live ? std::to_string(base + v.counter_sum) : v.winner->value;
    } else if (v.counter_live) {
      v.str = std::to_string(v.counter_sum);
    }
    if (v.float_live && (!v.str || ParseInt(*v.str, &base))) {
      if (!v.str) base = 0;
      v.str = Quarters(base * 4 + v.float_quarters);
    }
    return v;
  }

  // The writes of `key` that an op running now in region r removes: every write it observed
  // (kObserved) or only those still present there (kPresent). With `members`, only the
  // SADDs of those members.
  std::vector<DotRef> Removes(int r, const KeyView& v, const std::string& key,
                              const std::vector<std::string>* members) const {
    auto wanted = [&](const std::string& m) {
      return members == nullptr || std::find(members->begin(), members->end(), m) != members->end();
    };
    std::vector<DotRef> out;
    if (semantics == Semantics::kPresent) {
      if (members == nullptr) {
        for (int id : v.sets) out.push_back({id, 0});
        out.insert(out.end(), v.list.begin(), v.list.end());
      }
      for (const DotRef& d : v.set_dots) {
        if (wanted(ops_[d.first].members[d.second])) out.push_back(d);
      }
      return out;
    }
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return out;
    for (int id : it->second) {
      if (!Visible(regions_[r].visible, id)) continue;
      const Op& op = ops_[id];
      if (op.kind == Op::Kind::kSet && members == nullptr) out.push_back({id, 0});
      if (op.kind == Op::Kind::kPush && members == nullptr) {
        for (int m = 0; m < static_cast<int>(op.members.size()); ++m) out.push_back({id, m});
      }
      if (op.kind != Op::Kind::kSAdd) continue;
      for (int m = 0; m < static_cast<int>(op.members.size()); ++m) {
        if (wanted(op.members[m])) out.push_back({id, m});
      }
    }
    return out;
  }
  static std::map<Replica, Slot> Reset(const std::map<Replica, Slot>& counter) {
    std::map<Replica, Slot> out;
    for (const auto& [replica, slot] : counter) out[replica] = Slot{slot.known, slot.known};
    return out;
  }
  // n/4 as Redis prints a long double: no trailing zeroes, no trailing '.', "0" for zero.
  static std::string Quarters(int64_t n) {
    std::string s = n < 0 ? "-" : "";
    uint64_t a = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
    s += std::to_string(a / 4);
    static const char* const kFraction[] = {"", ".25", ".5", ".75"};
    s += kFraction[a % 4];
    return s == "-0" ? "0" : s;
  }
  // Records an increment of `by` (quarters if is_float) by region r as the op `op`.
  void AddIncrement(int r, const KeyView& v, const std::string& key, int64_t by, bool is_float,
                    Op* op) {
    Replica me{r, regions_[r].incarnation};
    std::vector<int64_t>& mine = (is_float ? float_increments_ : increments_)[{key, me}];
    const std::map<Replica, Slot>& view = is_float ? v.floats : v.counter;
    Slot known = view.count(me) ? view.at(me) : Slot{};
    if (known.known != static_cast<int>(mine.size())) {
      Fail("model: region " + Name(r) + " does not see all of its own increments");
    }
    mine.push_back(by);
    op->kind = Op::Kind::kIncr;
    op->is_float = is_float;
    op->by = by;
    op->counter_index = static_cast<int>(mine.size());
    (is_float ? op->floats : op->counter)[me] = Slot{op->counter_index, known.cancelled};
  }

  int AddOp(int r, Op op, int64_t wall_clock_us, std::vector<int>* new_ops) {
    op.id = static_cast<int>(ops_.size());
    op.region = r;
    op.incarnation = regions_[r].incarnation;
    op.ts = wall_clock_us;
    op.step = step_;
    op.time = sim_ ? sim_->Now() : SimTime(0);
    by_key_[op.key].push_back(op.id);
    ops_.push_back(std::move(op));
    MarkVisible(r, ops_.back().id);
    new_ops->push_back(ops_.back().id);
    return ops_.back().id;
  }

  // Runs one command on the model of region r: the expected reply; writes become ops.
  Reply Execute(int r, const Argv& argv, int64_t wall_clock_us, std::vector<int>* new_ops) {
    const std::string& cmd = argv[0];
    const std::string& key = argv[1];
    const std::vector<char>* vis = &regions_[r].visible;
    if (cmd == "PEXPIRETIME") return Reply::Nil();  // not modelled (see OnExecute)
    if (key == kZsetKey) return ExecuteZset(r, argv, wall_clock_us, new_ops);
    KeyView v = View(vis, key);
    Op op;
    op.key = key;
    if (cmd == "LPUSH" || cmd == "RPUSH") {
      // A push takes the digit past the end it pushes at (0 in an empty list).
      bool empty = v.list.empty();
      int64_t first = empty ? 0 : ops_[v.list.front().first].digits[v.list.front().second];
      int64_t last = empty ? 0 : ops_[v.list.back().first].digits[v.list.back().second];
      for (size_t i = 2; i < argv.size(); ++i) {
        op.members.push_back(argv[i]);
        op.digits.push_back(empty ? 0 : cmd == "RPUSH" ? ++last : --first);
        empty = false;
      }
      op.kind = Op::Kind::kPush;
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Integer(static_cast<int64_t>(v.items.size() + argv.size() - 2));
    }
    if (cmd == "LPOP" || cmd == "RPOP" || cmd == "LREM") {
      // The elements it removes, in the order it finds them.
      std::vector<DotRef> hits;
      if (cmd != "LREM") {
        if (!v.list.empty()) hits.push_back(cmd == "LPOP" ? v.list.front() : v.list.back());
      } else {
        const int64_t count = std::stoll(argv[2]);
        std::vector<DotRef> order = v.list;
        if (count < 0) std::reverse(order.begin(), order.end());
        for (const DotRef& d : order) {
          if (count != 0 && static_cast<int64_t>(hits.size()) == std::abs(count)) break;
          if (ops_[d.first].members[d.second] == argv[3]) hits.push_back(d);
        }
      }
      if (hits.empty()) return cmd == "LREM" ? Reply::Integer(0) : Reply::Nil();
      op.kind = Op::Kind::kPop;
      op.removes = hits;
      const std::string value = ops_[hits[0].first].members[hits[0].second];
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return cmd == "LREM" ? Reply::Integer(static_cast<int64_t>(hits.size())) : Reply::Bulk(value);
    }
    if (cmd == "LRANGE") return Reply::BulkArray(v.items);
    if (cmd == "LLEN") return Reply::Integer(static_cast<int64_t>(v.items.size()));
    if (cmd == "PFADD") {
      // Its effect carries the registers it raised: the elements its region lacked.
      for (size_t i = 2; i < argv.size(); ++i) {
        const bool known =
            v.hll.count(argv[i]) != 0 ||
            std::find(op.members.begin(), op.members.end(), argv[i]) != op.members.end();
        if (!known) op.members.push_back(argv[i]);
      }
      if (op.members.empty()) return Reply::Integer(0);
      op.kind = Op::Kind::kPfAdd;
      op.epoch = v.epoch;
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Integer(1);
    }
    if (cmd == "PFCOUNT") return Reply::Integer(static_cast<int64_t>(v.hll.size()));
    if (cmd == "GET") return v.str ? Reply::Bulk(*v.str) : Reply::Nil();
    if (cmd == "EXISTS") return Reply::Integer(v.exists() ? 1 : 0);
    if (cmd == "TYPE") {
      return Reply::Status(v.str ? "string" : !v.members.empty() ? "set" : "none");
    }
    if (cmd == "SMEMBERS") {
      return Reply::BulkArray(std::vector<std::string>(v.members.begin(), v.members.end()));
    }
    if (cmd == "SISMEMBER") return Reply::Integer(v.members.count(argv[2]) ? 1 : 0);
    if (cmd == "SCARD") return Reply::Integer(static_cast<int64_t>(v.members.size()));
    // SET, and the writes made of it: GETSET (the old value), APPEND (the concatenation).
    if (cmd == "SET" || cmd == "GETSET" || cmd == "APPEND") {
      op.kind = Op::Kind::kSet;
      op.value = cmd == "APPEND" ? v.str.value_or("") + argv[2] : argv[2];
      op.removes = Removes(r, v, key, nullptr);
      op.counter = Reset(v.counter);
      op.floats = Reset(v.floats);
      int64_t length = static_cast<int64_t>(op.value.size());
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      if (cmd == "APPEND") return Reply::Integer(length);
      return cmd == "SET" ? Reply::Status("OK") : v.str ? Reply::Bulk(*v.str) : Reply::Nil();
    }
    if (cmd == "GETDEL" && !v.exists()) return Reply::Nil();
    if (cmd == "GETDEL") {  // GET, then DEL
      op.kind = Op::Kind::kDel;
      op.removes = Removes(r, v, key, nullptr);
      op.counter = Reset(v.counter);
      op.floats = Reset(v.floats);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Bulk(*v.str);
    }
    // XSTORE dst a b: a DEL of dst (if it exists) and an SADD of the result's members.
    if (cmd == "SUNIONSTORE" || cmd == "SINTERSTORE" || cmd == "SDIFFSTORE") {
      std::set<std::string> a = View(vis, argv[2]).members, b = View(vis, argv[3]).members, out;
      for (const std::string& m : a) {
        bool in_b = b.count(m) != 0;
        if (cmd == "SUNIONSTORE" || (cmd == "SINTERSTORE") == in_b) out.insert(m);
      }
      if (cmd == "SUNIONSTORE") out.insert(b.begin(), b.end());
      std::vector<std::string> members(out.begin(), out.end());
      if (v.exists()) {
        Op del;
        del.key = key;
        del.kind = Op::Kind::kDel;
        del.removes = Removes(r, v, key, nullptr);
        del.counter = Reset(v.counter);
        del.floats = Reset(v.floats);
        AddOp(r, std::move(del), wall_clock_us, new_ops);
      }
      if (!members.empty()) {
        op.kind = Op::Kind::kSAdd;
        op.removes = Removes(r, v, key, &members);
        op.members = members;
        AddOp(r, std::move(op), wall_clock_us, new_ops);
      }
      return Reply::Integer(static_cast<int64_t>(members.size()));
    }
    if (cmd == "DEL") {
      if (!v.exists()) return Reply::Integer(0);
      op.kind = Op::Kind::kDel;
      op.epoch = v.epoch + 1;  // a HyperLogLog's next epoch
      op.removes = Removes(r, v, key, nullptr);
      op.counter = Reset(v.counter);
      op.floats = Reset(v.floats);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Integer(1);
    }
    if (cmd == "INCR" || cmd == "DECR" || cmd == "INCRBY" || cmd == "DECRBY") {
      int64_t by = cmd == "INCR" ? 1 : cmd == "DECR" ? -1 : std::stoll(argv[2]);
      if (cmd == "DECRBY") by = -by;
      int64_t base = 0;
      if (v.float_live) {  // joins the float increments if the value is an integer
        if (!v.str || !ParseInt(*v.str, &base)) return Reply::Error(std::string(kNotInteger));
        AddIncrement(r, v, key, by * 4, /*is_float=*/true, &op);
        AddOp(r, std::move(op), wall_clock_us, new_ops);
        return Reply::Integer(base + by);
      }
      if (v.winner != nullptr && !ParseInt(v.winner->value, &base)) {
        return Reply::Error(std::string(kNotInteger));
      }
      AddIncrement(r, v, key, by, /*is_float=*/false, &op);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      KeyView after = View(vis, key);
      int64_t value = 0;
      if (!after.str || !ParseInt(*after.str, &value)) {
        Fail("model: no integer after " + Join(argv));
      }
      return Reply::Integer(value);
    }
    if (cmd == "INCRBYFLOAT") {
      // The model's values are integers, "x<n>" strings and quarters ("5.25").
      if (v.str &&
          (v.str->empty() || v.str->find_first_not_of("-0123456789.") != std::string::npos)) {
        return Reply::Error("ERR value is not a valid float");
      }
      AddIncrement(r, v, key, static_cast<int64_t>(std::stod(argv[2]) * 4), /*is_float=*/true, &op);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      KeyView after = View(vis, key);
      if (!after.str) Fail("model: no value after " + Join(argv));
      return Reply::Bulk(after.str.value_or(""));
    }
    if (cmd == "SADD" || cmd == "SREM") {
      std::vector<std::string> members(argv.begin() + 2, argv.end());
      int64_t changed = 0;
      for (const auto& m : members) changed += (v.members.count(m) != 0) == (cmd == "SREM");
      if (cmd == "SREM" && changed == 0) return Reply::Integer(0);
      op.removes = Removes(r, v, key, &members);
      op.kind = cmd == "SADD" ? Op::Kind::kSAdd : Op::Kind::kSRem;
      op.members = std::move(members);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Integer(changed);
    }
    if (cmd == "EXPIRE") {
      // TTLs of a day and more: never due during a run. The model keeps no TTL (the value
      // is unchanged); CheckFinal checks that every region ends with the same deadline.
      if (!v.exists()) return Reply::Integer(0);
      op.kind = Op::Kind::kExpire;
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      return Reply::Integer(1);
    }
    Fail("model: unknown command " + cmd);
    return Reply::Error("model: unknown command");
  }

  // The sorted set is modelled member by member: member m of kZsetKey is the string key
  // "z1/m" of the model, with the string's rules. ZADD is a SET of the score (it removes
  // the ZADDs and cancels the increments it observed: last write wins), ZINCRBY a counter
  // increment (a SET when the member is absent), ZREM and DEL a DEL of the member.
  static std::string Sub(const std::string& member) { return std::string(kZsetKey) + "/" + member; }

  // The present members of the sorted set, in Redis's order (score, then member).
  std::vector<std::pair<int64_t, std::string>> ZsetMembers(const std::vector<char>* vis) const {
    std::vector<std::pair<int64_t, std::string>> out;
    for (const char* m : kMembers) {
      KeyView v = View(vis, Sub(m));
      int64_t score = 0;
      if (!v.str) continue;
      if (!ParseInt(*v.str, &score)) Fail("model: member score " + *v.str + " is not an integer");
      out.emplace_back(score, m);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // A key's value as Store::Dump shows it.
  std::string DumpOf(const std::vector<char>* vis, const std::string& key) const {
    if (key != kZsetKey) return View(vis, key).Dump();
    auto members = ZsetMembers(vis);
    if (members.empty()) return "(nil)";
    std::string s = "{";
    for (const auto& [score, m] : members) {
      s += (s.size() > 1 ? ", " : "") + m + ": " + std::to_string(score);
    }
    return s + "}";
  }

  Reply ExecuteZset(int r, const Argv& argv, int64_t wall_clock_us, std::vector<int>* new_ops) {
    const std::string& cmd = argv[0];
    const std::vector<char>* vis = &regions_[r].visible;
    if (cmd == "ZRANGE" || cmd == "ZCARD" || cmd == "DEL") {
      auto members = ZsetMembers(vis);
      if (cmd == "ZCARD") return Reply::Integer(static_cast<int64_t>(members.size()));
      if (cmd == "ZRANGE") {
        std::vector<std::string> out;
        for (const auto& [score, m] : members) {
          out.push_back(m);
          out.push_back(std::to_string(score));
        }
        return Reply::BulkArray(out);
      }
      if (members.empty()) return Reply::Integer(0);
      for (const char* m : kMembers) {  // DEL: a DEL of every member present
        KeyView v = View(vis, Sub(m));
        // An absent member (removed, or only cancelled increments left) is not part of
        // the value here: like a DEL of an absent string key, nothing of it is named.
        if (!v.str) continue;
        Op del;
        del.key = Sub(m);
        del.kind = Op::Kind::kDel;
        del.removes = Removes(r, v, del.key, nullptr);
        del.counter = Reset(v.counter);
        AddOp(r, std::move(del), wall_clock_us, new_ops);
      }
      return Reply::Integer(1);
    }
    const std::string sub = Sub(argv[cmd == "ZADD" || cmd == "ZINCRBY" ? 3 : 2]);
    KeyView v = View(vis, sub);
    Op op;
    op.key = sub;
    if (cmd == "ZSCORE") return v.str ? Reply::Bulk(*v.str) : Reply::Nil();
    if (cmd == "ZREM" && !v.str) return Reply::Integer(0);
    if (cmd == "ZREM" || cmd == "ZADD" || !v.str) {
      op.kind = cmd == "ZREM" ? Op::Kind::kDel : Op::Kind::kSet;
      op.value = argv[2];
      op.removes = Removes(r, v, sub, nullptr);
      op.counter = Reset(v.counter);
      AddOp(r, std::move(op), wall_clock_us, new_ops);
      if (cmd == "ZINCRBY") return Reply::Bulk(argv[2]);
      return Reply::Integer(cmd == "ZREM" ? 1 : v.str ? 0 : 1);
    }
    AddIncrement(r, v, sub, std::stoll(argv[2]), /*is_float=*/false, &op);  // ZINCRBY
    AddOp(r, std::move(op), wall_clock_us, new_ops);
    KeyView after = View(vis, sub);
    if (!after.str) Fail("model: no score after " + Join(argv));
    return Reply::Bulk(after.str.value_or(""));
  }

  std::string OpString(const Op& op) const {
    static const char* const kKinds[] = {"SET",    "INCRBY", "DEL", "SADD", "SREM",
                                         "EXPIRE", "PUSH",   "POP", "PFADD"};
    std::string s = "#" + std::to_string(op.id) + " " + Name(op.region) + "/" +
                    std::to_string(op.incarnation) + " step " + std::to_string(op.step) + " at " +
                    FormatDuration(op.time) + ": " + kKinds[static_cast<int>(op.kind)] + " " +
                    op.key;
    if (op.kind == Op::Kind::kSet) s += " " + op.value + " (ts " + std::to_string(op.ts) + "us)";
    if (op.kind == Op::Kind::kIncr) {
      s += " " + (op.is_float ? Quarters(op.by) + " (float" : std::to_string(op.by) + " (") +
           " increment " + std::to_string(op.counter_index) + ")";
    }
    for (size_t i = 0; i < op.members.size(); ++i) {
      s += " " + op.members[i];
      if (op.kind == Op::Kind::kPush) s += "@" + std::to_string(op.digits[i]);
    }
    if (op.kind == Op::Kind::kPfAdd || (op.kind == Op::Kind::kDel && op.key == kHllKey)) {
      s += " (epoch " + std::to_string(op.epoch) + ")";
    }
    if (!op.removes.empty()) {
      s += "; removes";
      for (const DotRef& d : op.removes) {
        s += " #" + std::to_string(d.first);
        if (ops_[d.first].kind == Op::Kind::kSAdd || ops_[d.first].kind == Op::Kind::kPush) {
          s += ":" + ops_[d.first].members[d.second];
        }
      }
    }
    for (const auto* counter : {&op.counter, &op.floats}) {
      if (counter->empty()) continue;
      s += counter == &op.counter ? "; counter" : "; floats";
      for (const auto& [rep, slot] : *counter) {
        s += " " + Name(rep.first) + "/" + std::to_string(rep.second) + "=" +
             std::to_string(slot.known) + "(cancelled " + std::to_string(slot.cancelled) + ")";
      }
    }
    return s;
  }

  // Every op on `key`, marked with its visibility in region r, and the model's value there.
  std::string DescribeKey(int r, const std::string& key) const {
    std::string s = "  model of " + key + " in " + Name(r) + " (incarnation " +
                    std::to_string(regions_[r].incarnation) +
                    "): " + DumpOf(&regions_[r].visible, key) +
                    "; over all writes: " + DumpOf(nullptr, key) + "\n";
    std::vector<int> ids;
    for (const auto& [k, key_ids] : by_key_) {
      if (k == key || k.rfind(key + "/", 0) == 0)
        ids.insert(ids.end(), key_ids.begin(), key_ids.end());
    }
    std::sort(ids.begin(), ids.end());
    for (int id : ids) {
      s += std::string("    ") + (Visible(regions_[r].visible, id) ? "[seen] " : "[----] ") +
           OpString(ops_[id]) + "\n";
    }
    return s;
  }

  const Scenario& sc_;
  Simulation* sim_ = nullptr;
  int step_ = -1;
  mutable std::string failure_;
  std::vector<RegionModel> regions_;
  std::vector<Op> ops_;
  std::map<std::string, std::vector<int>> by_key_;
  std::map<std::pair<std::string, Replica>, std::vector<int64_t>> increments_;
  std::map<std::pair<std::string, Replica>, std::vector<int64_t>> float_increments_;  // quarters
  std::map<std::string, std::vector<int>, std::less<>> effect_ops_;
  std::map<std::string, std::set<int>, std::less<>> full_states_;
};

// The memory store, reporting to the World what it runs, merges and hands out.
class ModelStore final : public Store {
 public:
  ModelStore(World* world, int region, crdt::ReplicaId self)
      : world_(world), region_(region), inner_(NewMemoryStore(self)) {}

  Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                std::string* effect) override {
    std::string local;
    Reply reply = inner_->Execute(argv, wall_clock_us, &local);
    world_->OnExecute(region_, {argv}, wall_clock_us, {reply}, local);
    if (effect != nullptr) effect->append(local);
    return reply;
  }
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& commands,
                                  int64_t wall_clock_us, std::string* effect) override {
    std::string local;
    std::vector<Reply> replies = inner_->ExecuteBatch(commands, wall_clock_us, &local);
    world_->OnExecute(region_, commands, wall_clock_us, replies, local);
    if (effect != nullptr) effect->append(local);
    return replies;
  }
  Status Merge(std::string_view encoded) override {
    if (!world_->OnMerge(region_, encoded)) return Status::Ok();
    return inner_->Merge(encoded);
  }
  uint64_t KeyVersion(std::string_view key) const override { return inner_->KeyVersion(key); }
  std::string FullState() const override {
    std::string s = inner_->FullState();
    world_->OnFullState(region_, s);
    return s;
  }
  std::string Dump(std::string_view key) const override { return inner_->Dump(key); }
  std::string DumpAll() const override { return inner_->DumpAll(); }
  std::vector<std::string> Keys() const override { return inner_->Keys(); }
  void Wipe(crdt::ReplicaId self) override {
    world_->OnWipe(region_);
    inner_->Wipe(self);
  }
  bool durable() const override { return inner_->durable(); }
  crdt::ReplicaId self() const override { return inner_->self(); }
  size_t MemoryBytes() const override { return inner_->MemoryBytes(); }

 private:
  World* world_;
  int region_;
  std::unique_ptr<Store> inner_;
};

// ---------------------------------------------------------------------------------- runner

struct Totals {
  int scenarios = 0, steps = 0, commands = 0, writes = 0, crashes = 0, partitions = 0;
  uint64_t full_syncs = 0, partial_syncs = 0, filtered = 0, dropped = 0;
};

// Plays one seed's scenario; returns "" or what went wrong (with the scenario).
std::string RunSeed(uint64_t seed, Semantics semantics, Fault fault, Totals* totals) {
  const Scenario sc = Generate(seed);
  World world(sc);
  world.fault = fault;
  world.semantics = semantics;
  world.check_every_step = semantics == Semantics::kPresent;
  SimConfig config;
  config.seed = seed;
  config.regions = sc.regions;
  config.replication = sc.replication;
  config.store_factory = [&world](int region, crdt::ReplicaId self) {
    return std::make_unique<ModelStore>(&world, region, self);
  };
  Simulation sim(std::move(config));
  world.set_simulation(&sim);
  for (const LinkRule& l : sc.links) {
    sim.network().SetLink(l.from, l.to, l.params);
    if (l.both_ways) sim.network().SetLink(l.to, l.from, l.params);
  }

  for (size_t i = 0; i < sc.steps.size() && !world.failed(); ++i) {
    const Step& st = sc.steps[i];
    world.set_step(static_cast<int>(i));
    switch (st.kind) {
      case Step::Kind::kCommand:
      case Step::Kind::kBatch: {
        bool alive = sim.alive(st.region);
        std::vector<Reply> replies;
        if (st.kind == Step::Kind::kCommand) {
          replies.push_back(sim.Execute(st.region, st.commands[0]));
        } else {
          replies = sim.ExecuteBatch(st.region, st.commands);
        }
        if (totals) totals->commands += static_cast<int>(st.commands.size());
        if (!alive) {
          for (const Reply& reply : replies) {
            if (!reply.is_error()) {
              world.Fail("a command on crashed region " + sc.regions[st.region].name + " replied " +
                         reply.ToString() + " instead of an error");
            }
          }
          if (replies.size() != st.commands.size()) world.Fail("wrong number of replies");
        }
        break;
      }
      case Step::Kind::kWait:
        sim.AdvanceBy(st.duration);
        world.CheckRegions();
        break;
      case Step::Kind::kPartition:
        sim.Partition(st.groups);
        if (totals) totals->partitions++;
        break;
      case Step::Kind::kHeal:
        sim.Heal(st.groups);
        break;
      case Step::Kind::kHealAll:
        sim.HealAll();
        break;
      case Step::Kind::kSync: {
        SyncResult res = sim.Sync();
        if (!res.done) world.Fail("sync did not finish: " + res.pending);
        world.CheckRegions();
        break;
      }
      case Step::Kind::kCrash: {
        uint64_t lost = sim.Crash(st.region);
        if (totals) totals->crashes++;
        if (lost != 0) {
          world.Fail("crash right after a full sync lost " + std::to_string(lost) + " writes");
        }
        break;
      }
      case Step::Kind::kRestart:
        sim.Restart(st.region);
        break;
    }
  }
  world.set_step(static_cast<int>(sc.steps.size()));
  if (!world.failed()) world.CheckFinal();

  if (totals) {
    totals->scenarios++;
    totals->steps += static_cast<int>(sc.steps.size());
    totals->writes += static_cast<int>(world.op_count());
    for (int r = 0; r < sim.region_count(); ++r) {
      for (const PeerMetrics& p : sim.Metrics(r).peers) {
        totals->full_syncs += p.full_syncs;
        totals->partial_syncs += p.partial_syncs;
        totals->filtered += p.effects_filtered;
        totals->dropped += p.link_out.dropped_loss + p.link_out.dropped_cut;
      }
    }
  }
  if (!world.failed()) return "";
  return "seed " + std::to_string(seed) + " (replay: AASIM_SEED=" + std::to_string(seed) +
         "): " + world.failure() + "\n" + Describe(sc);
}

std::vector<uint64_t> Seeds() {
  if (const char* env = std::getenv("AASIM_SEED"); env != nullptr && *env != '\0') {
    return {std::strtoull(env, nullptr, 10)};
  }
#ifdef NDEBUG
  uint64_t kSeeds = 300;
#else
  uint64_t kSeeds = 60;  // unoptimized (sanitizer) builds
#endif
  if (const char* env = std::getenv("AASIM_SEEDS"); env != nullptr && *env != '\0') {
    kSeeds = std::strtoull(env, nullptr, 10);
  }
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= kSeeds; ++s) seeds.push_back(s);
  return seeds;
}

void RunProperty(Semantics semantics) {
  Totals totals;
  std::vector<uint64_t> failing;
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string failure = RunSeed(seed, semantics, Fault::kNone, &totals);
    if (failure.empty()) continue;
    failing.push_back(seed);
    if (failing.size() <= 3) ADD_FAILURE() << failure;  // in full for the first three
  }
  if (!failing.empty()) {
    std::string list;
    for (uint64_t seed : failing) list += " " + std::to_string(seed);
    ADD_FAILURE() << failing.size() << " of " << totals.scenarios << " seeds fail:" << list;
  }
  std::cout << "[ property ] " << totals.scenarios << " scenarios, " << totals.steps << " steps, "
            << totals.commands << " commands, " << totals.writes << " writes, " << totals.crashes
            << " crashes, " << totals.partitions << " partitions; " << totals.partial_syncs
            << " partial and " << totals.full_syncs << " full syncs, " << totals.filtered
            << " duplicate effects filtered, " << totals.dropped << " messages dropped\n";
  // The scenarios exercise what they are meant to (skipped when replaying one seed).
  if (totals.scenarios >= 50) {
    EXPECT_GT(totals.crashes, 0);
    EXPECT_GT(totals.full_syncs, 0u);
    EXPECT_GT(totals.partial_syncs, 0u);
    EXPECT_GT(totals.filtered, 0u);
  }
}

// Every reply and every region's data at every step, against the model of what effects
// applied in any order give: an applied SET/DEL/SREM removes the writes it names (those
// still present where it ran). This is aasim's documented replication semantics, as Redis
// Enterprise without causal consistency: no causal delivery across origins, so a region
// may briefly show a write that a later write elsewhere had observed transitively (see
// SimulationTest.TransientAnomalyWithoutCausalDelivery*).
TEST(ConvergencePropertyTest, RandomScenariosConvergeToTheModel) {
  RunProperty(Semantics::kPresent);
}

// The documented rule (a SET or DEL removes every write its region had observed) holds
// for the converged state: checked on the final state of the same scenarios.
TEST(ConvergencePropertyTest, RandomScenariosEndInTheStateOfTheObservedModel) {
  RunProperty(Semantics::kObserved);
}

TEST(ConvergencePropertyTest, HllElementsHaveRegistersOfTheirOwn) {
  std::set<uint64_t> registers;
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  int64_t n = 0;
  for (const char* e : kHllElements) {
    registers.insert(crdt::MurmurHash64A(e, 0xadc83b19ull) & (crdt::HllStore::kRegisters - 1));
    EXPECT_EQ(store->Execute({"PFADD", "h", e}, 0, nullptr), Reply::Integer(1));
    EXPECT_EQ(store->Execute({"PFCOUNT", "h"}, 0, nullptr), Reply::Integer(++n));
  }
  EXPECT_EQ(registers.size(), std::size(kHllElements));
}

TEST(ConvergencePropertyTest, GeneratorIsDeterministic) {
  for (uint64_t seed : {1, 2, 99}) {
    EXPECT_EQ(Describe(Generate(seed)), Describe(Generate(seed)));
  }
  EXPECT_NE(Describe(Generate(1)), Describe(Generate(2)));
  EXPECT_EQ(RunSeed(5, Semantics::kObserved, Fault::kNone, nullptr),
            RunSeed(5, Semantics::kObserved, Fault::kNone, nullptr));
}

TEST(ConvergencePropertyTest, CatchesAStoreThatIgnoresRemoteRemovals) {
  // Negative control: if the harness could not see this, it could not see real bugs.
  int caught = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    caught +=
        RunSeed(seed, Semantics::kPresent, Fault::kIgnoreRemoteRemovals, nullptr).empty() ? 0 : 1;
  }
  EXPECT_GE(caught, 10);
}

}  // namespace
}  // namespace cluster_sim
