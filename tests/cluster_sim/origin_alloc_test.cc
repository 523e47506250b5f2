// What one client write allocates at its origin: a store's Execute of SET, INCRBY, SADD and
// SREM on a warm key (one whose entry exists, into an effect buffer with room) allocates
// nothing, and the simulator's write path reuses its effect buffer (no string built and
// freed per write).
// Its own test binary: it counts allocations (counting_new.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/simulation.h"
#include "cluster_sim/store.h"
#include "counting_new.h"
#include "crdt/dot.h"

namespace cluster_sim {
namespace {

using aasim_test::AllocationCount;

// Writes as sim_bench makes them (short keys and values, which the keyspace keeps inline),
// on keys made warm first; each effect outgrows a short string's inline buffer (16 bytes
// and more), so a new effect string would allocate.
const std::vector<std::vector<std::string>>& Writes() {
  static const auto* writes = new std::vector<std::vector<std::string>>{
      {"SET", "string:1", "v1"}, {"INCRBY", "counter:2", "-3"}, {"SADD", "set:3", "m0"},
      {"SADD", "set:3", "m1"},   {"SREM", "set:3", "m1"},  // m0 stays: the key too
  };
  return *writes;
}

// Three rounds of Writes() on store, whose keys are warm, at times from `time` on: each
// allocates nothing.
void ExpectWarmWritesAllocateNothing(Store* store, std::string* effect, int64_t time) {
  effect->reserve(256);
  for (int round = 0; round < 3; ++round) {
    for (const auto& argv : Writes()) {
      effect->clear();
      const size_t before = AllocationCount();
      const Reply reply = store->Execute(argv, time + round, effect);
      EXPECT_EQ(AllocationCount() - before, 0u) << argv[0] << " allocated";
      EXPECT_FALSE(reply.is_error()) << argv[0];
      EXPECT_FALSE(effect->empty()) << argv[0] << " made no effect";
    }
  }
}

TEST(OriginAllocTest, WarmWritesOfAStoreAllocateNothing) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  std::string effect;
  for (const auto& argv : Writes()) store->Execute(argv, 1, &effect);  // the keys made
  ExpectWarmWritesAllocateNothing(store.get(), &effect, 2);
}

// An INCRBY refused (past the counter's bound) takes its entry in the command's empty delta
// out again keeping the node (ClearKeepingNode), as a delta emptied after a write does: the
// writes after it allocate nothing either.
TEST(OriginAllocTest, RefusedIncrByKeepsTheDeltasNode) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  std::string effect;
  for (const auto& argv : Writes()) store->Execute(argv, 1, &effect);  // the keys made
  const std::vector<std::string> refused = {"INCRBY", "counter:2", "9223372036854775807"};
  effect.clear();
  EXPECT_TRUE(store->Execute(refused, 2, &effect).is_error());
  EXPECT_TRUE(effect.empty());
  ExpectWarmWritesAllocateNothing(store.get(), &effect, 3);
}

// A refused command that took an entry in the empty delta before its step (HINCRBY on a
// field that holds no integer): the engine empties the delta keeping its node and index, so
// the writes after it allocate nothing either.
TEST(OriginAllocTest, RefusedHIncrByKeepsTheDeltasNode) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  std::string effect;
  for (const auto& argv : Writes()) store->Execute(argv, 1, &effect);  // the keys made
  store->Execute({"HSET", "hash:1", "f", "not a number"}, 1, &effect);
  effect.clear();
  EXPECT_TRUE(store->Execute({"HINCRBY", "hash:1", "f", "1"}, 2, &effect).is_error());
  EXPECT_TRUE(effect.empty());
  ExpectWarmWritesAllocateNothing(store.get(), &effect, 3);
}

TEST(OriginAllocTest, SimulatorReusesItsEffectBuffer) {
  // One region: a write is logged, sent nowhere (the network and acks allocate apart).
  SimConfig config;
  config.regions.push_back({"A", SimTime(0)});
  Simulation sim(config);
  for (const auto& argv : Writes()) sim.Execute(0, argv);
  constexpr int kRounds = 200;
  const size_t before = AllocationCount();
  for (int round = 0; round < kRounds; ++round) {
    for (const auto& argv : Writes()) sim.Execute(0, argv);
  }
  const size_t writes = kRounds * Writes().size();
  // The log's own growth (its blocks of entries and effect bytes) allocates now and then;
  // one string per write would be an allocation each.
  EXPECT_LT(AllocationCount() - before, writes / 8) << "allocations for " << writes << " writes";
}

}  // namespace
}  // namespace cluster_sim
