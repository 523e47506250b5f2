// The BC.* commands (command_engine.cc) through the Store interface: the expected replies
// of bounded_counter_script.h, region names before and after Store::SetRegionNames, and
// the invariant (value and every region's rights >= 0 at every region after every step)
// under shuffled, duplicated and late delivery of effects.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "bounded_counter_script.h"
#include "cluster_sim/client.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "split_words.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

using cluster_sim::test_util::Split;

// Region index `i` of `names.size()` regions, told the names.
std::unique_ptr<Store> NamedStore(uint16_t site, const std::vector<std::string>& names) {
  std::unique_ptr<Store> s = NewMemoryStore(crdt::MakeReplicaId(site, 1));
  s->SetRegionNames(names);
  return s;
}

TEST(BoundedCounterCommands, ScriptRepliesAndEffects) {
  std::vector<std::unique_ptr<Store>> stores;
  stores.push_back(NamedStore(0, {"A", "B"}));
  stores.push_back(NamedStore(1, {"A", "B"}));
  std::vector<std::vector<std::string>> outbox(2);
  int64_t clock = 1000;
  for (const testing::BcStep& step : testing::BoundedCounterScript()) {
    SCOPED_TRACE(std::string(1, step.region) + ": " + step.command);
    if (step.region == 'S') {
      for (int from = 0; from < 2; ++from) {
        for (const std::string& e : outbox[from]) ASSERT_TRUE(stores[1 - from]->Merge(e).ok());
        outbox[from].clear();
      }
      EXPECT_EQ(stores[0]->FullState(), stores[1]->FullState());
      continue;
    }
    const int r = step.region - 'A';
    std::string effect;
    Reply got = stores[r]->Execute(Split(step.command), clock += 1000, &effect);
    EXPECT_EQ(got, step.want);
    if (got.type == Reply::Type::kError) {
      EXPECT_TRUE(effect.empty()) << "an error wrote";
    }
    if (!effect.empty()) outbox[r].push_back(std::move(effect));
  }
}

TEST(BoundedCounterCommands, RegionsAreSitesUntilNamed) {
  std::unique_ptr<Store> a = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  ASSERT_EQ(a->Execute({"BC.INCRBY", "k", "5"}, 0, nullptr), Reply::Integer(5));
  EXPECT_EQ(a->Execute({"BC.DECRBY", "k", "6"}, 0, nullptr),
            Reply::Error("ERR insufficient rights: region site0 holds 5 of 6"));
  EXPECT_EQ(a->Execute({"BC.RIGHTS", "k"}, 0, nullptr),
            Reply::Array({Reply::Bulk("site0"), Reply::Integer(5)}));
  EXPECT_EQ(a->Execute({"BC.TRANSFER", "k", "1", "B"}, 0, nullptr),
            Reply::Error("ERR unknown region 'B'"));
  a->SetRegionNames({"eu", "us"});
  EXPECT_EQ(a->Execute({"BC.TRANSFER", "k", "2", "us"}, 0, nullptr), Reply::Integer(3));
  EXPECT_EQ(
      a->Execute({"BC.RIGHTS", "k"}, 0, nullptr),
      Reply::Array({Reply::Bulk("eu"), Reply::Integer(3), Reply::Bulk("us"), Reply::Integer(2)}));
  // The names survive a crash that wipes the data.
  a->Wipe(crdt::MakeReplicaId(0, 2));
  EXPECT_EQ(a->Execute({"BC.DECRBY", "k", "1"}, 0, nullptr),
            Reply::Error("ERR insufficient rights: region eu holds 0 of 1"));
}

// Three regions spend, top up and transfer at random; effects arrive late, shuffled,
// duplicated. After every step, at every region: BC.GET >= 0, every BC.RIGHTS entry >= 0,
// and the rights add up to the value. In the end all regions hold the same state.
TEST(BoundedCounterCommands, NeverNegativeAtAnyRegionUnderAnyDelivery) {
  const std::vector<std::string> names = {"A", "B", "C"};
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    uint64_t state = seed;
    auto uniform = [&state](uint64_t n) {  // SplitMix64; no std distributions
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return (z ^ (z >> 31)) % n;
    };
    std::vector<std::unique_ptr<Store>> stores;
    for (uint16_t site = 0; site < 3; ++site) stores.push_back(NamedStore(site, names));
    std::vector<std::vector<std::string>> inbox(3);
    for (int step = 0; step < 300; ++step) {
      const size_t r = uniform(3);
      const std::string key = "acct" + std::to_string(uniform(2));
      const std::string n = std::to_string(1 + uniform(9));
      Argv argv;
      switch (uniform(6)) {
        case 0:
          argv = {"BC.INCRBY", key, n};
          break;
        case 1:
          argv = {"BC.TRANSFER", key, n, names[uniform(3)]};
          break;
        default:
          argv = {"BC.DECRBY", key, n};
          break;
      }
      std::string effect;
      stores[r]->Execute(argv, step, &effect);
      for (size_t to = 0; to < 3 && !effect.empty(); ++to) {
        if (to != r) inbox[to].push_back(effect);
      }
      for (size_t to = 0; to < 3; ++to) {
        if (inbox[to].empty() || uniform(3) != 0) continue;
        const size_t i = uniform(inbox[to].size());
        ASSERT_TRUE(stores[to]->Merge(inbox[to][i]).ok());
        if (uniform(4) != 0) inbox[to].erase(inbox[to].begin() + static_cast<std::ptrdiff_t>(i));
      }
      for (size_t at = 0; at < 3; ++at) {
        for (const char* k : {"acct0", "acct1"}) {
          Reply value = stores[at]->Execute({"BC.GET", k}, 0, nullptr);
          if (value.type == Reply::Type::kNil) continue;
          ASSERT_EQ(value.type, Reply::Type::kInteger);
          ASSERT_GE(value.integer, 0) << "region " << names[at] << " key " << k;
          Reply rights = stores[at]->Execute({"BC.RIGHTS", k}, 0, nullptr);
          int64_t sum = 0;
          for (size_t i = 1; i < rights.elements.size(); i += 2) {
            ASSERT_GE(rights.elements[i].integer, 0) << rights.ToString();
            sum += rights.elements[i].integer;
          }
          ASSERT_EQ(sum, value.integer) << rights.ToString();
        }
      }
    }
    for (size_t to = 0; to < 3; ++to) {
      for (const std::string& e : inbox[to]) ASSERT_TRUE(stores[to]->Merge(e).ok());
    }
    EXPECT_EQ(stores[0]->FullState(), stores[1]->FullState());
    EXPECT_EQ(stores[0]->FullState(), stores[2]->FullState());
    EXPECT_EQ(stores[0]->DumpAll(), stores[2]->DumpAll());
  }
}

}  // namespace
}  // namespace cluster_sim
