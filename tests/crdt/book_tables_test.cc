// The book's conflict tables (Redis Microservices For Dummies, Table 4-1 counters, Table 4-2
// sets) and the Active/Active rules of docs/active-active.md, at the
// library level: with the Keyspace (as the simulator uses it) and with the standalone types.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/aw_or_set.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "crdt/pn_counter.h"
#include "crdt/string_value.h"

namespace crdt {
namespace {

using Strings = std::vector<std::string>;

// How the deltas of a region reach the other one at a sync.
enum class SyncMode { kDeltasInOrder, kDeltasReversedTwice, kFullState };

std::string SyncModeName(SyncMode m) {
  switch (m) {
    case SyncMode::kDeltasInOrder:
      return "DeltasInOrder";
    case SyncMode::kDeltasReversedTwice:
      return "DeltasReversedTwice";
    case SyncMode::kFullState:
      break;
  }
  return "FullState";
}
void PrintTo(SyncMode m, std::ostream* os) { *os << SyncModeName(m); }

// One region: a Keyspace plus the deltas not yet sent to its peer.
class Region {
 public:
  explicit Region(uint16_t site, int64_t clock_skew_us = 0)
      : ks_(MakeReplicaId(site, 1)), skew_us_(clock_skew_us) {}

  int64_t IncrBy(std::string_view key, int64_t by) {
    int64_t v = 0;
    Keyspace d = ks_.NewDelta();
    EXPECT_EQ(ks_.IncrBy(key, by, &v, &d), IncrStatus::kOk);
    outbox_.push_back(std::move(d));
    return v;
  }
  // `now_us` is virtual time; the region's wall clock adds its skew.
  void Set(std::string_view key, std::string_view value, int64_t now_us = 0) {
    Keyspace d = ks_.NewDelta();
    ks_.Set(key, value, now_us + skew_us_, &d);
    outbox_.push_back(std::move(d));
  }
  bool SAdd(std::string_view key, std::string_view member) {
    Keyspace d = ks_.NewDelta();
    bool r = ks_.SAdd(key, member, &d);
    outbox_.push_back(std::move(d));
    return r;
  }
  bool SRem(std::string_view key, std::string_view member) {
    Keyspace d = ks_.NewDelta();
    bool r = ks_.SRem(key, member, &d);
    outbox_.push_back(std::move(d));
    return r;
  }
  bool Del(std::string_view key) {
    Keyspace d = ks_.NewDelta();
    bool r = ks_.Del(key, &d);
    outbox_.push_back(std::move(d));
    return r;
  }
  std::optional<std::string> Get(std::string_view key) const { return ks_.Get(key); }
  Strings Members(std::string_view key) const { return ks_.Members(key); }
  const Keyspace& ks() const { return ks_; }

  friend void Sync(Region& a, Region& b, SyncMode mode) {
    if (mode == SyncMode::kFullState) {
      Keyspace a_state = a.ks_;
      a.ks_.Merge(b.ks_);
      b.ks_.Merge(a_state);
    } else {
      auto deliver = [mode](const std::vector<Keyspace>& deltas, Keyspace* to) {
        if (mode == SyncMode::kDeltasInOrder) {
          for (const Keyspace& d : deltas) to->Merge(d);
        } else {
          for (int round = 0; round < 2; ++round) {
            for (auto it = deltas.rbegin(); it != deltas.rend(); ++it) to->Merge(*it);
          }
        }
      };
      deliver(a.outbox_, &b.ks_);
      deliver(b.outbox_, &a.ks_);
    }
    a.outbox_.clear();
    b.outbox_.clear();
    EXPECT_EQ(a.ks_, b.ks_);
    EXPECT_EQ(a.ks_.Encode(), b.ks_.Encode());
  }

 private:
  Keyspace ks_;
  int64_t skew_us_;
  std::vector<Keyspace> outbox_;
};

class BookTest : public testing::TestWithParam<SyncMode> {};

INSTANTIATE_TEST_SUITE_P(AllSyncModes, BookTest,
                         testing::Values(SyncMode::kDeltasInOrder, SyncMode::kDeltasReversedTwice,
                                         SyncMode::kFullState),
                         [](const testing::TestParamInfo<SyncMode>& param_info) {
                           return SyncModeName(param_info.param);
                         });

// Table 4-1: resolving counter conflicts (A and B disconnected until step 6).
TEST_P(BookTest, Table4_1CounterConflicts) {
  Region a(1), b(2);
  EXPECT_EQ(a.Get("foo"), std::nullopt);  // step 0: not set (0)
  EXPECT_EQ(b.Get("foo"), std::nullopt);
  EXPECT_EQ(a.IncrBy("foo", 1), 1);   // 1: A INCR foo
  EXPECT_EQ(a.IncrBy("foo", 2), 3);   // 2: A INCRBY foo 2
  EXPECT_EQ(a.IncrBy("foo", -1), 2);  // 3: A DECR foo
  EXPECT_EQ(b.Get("foo"), std::nullopt);
  EXPECT_EQ(b.IncrBy("foo", 10), 10);  // 4: B INCRBY foo 10
  EXPECT_EQ(b.IncrBy("foo", 13), 23);  // 5: B INCRBY foo 13
  EXPECT_EQ(a.Get("foo"), "2");
  EXPECT_EQ(b.Get("foo"), "23");
  Sync(a, b, GetParam());  // 6: sync
  EXPECT_EQ(a.Get("foo"), "25");
  EXPECT_EQ(b.Get("foo"), "25");
}

// Table 4-2: resolving set conflicts (observed remove, add wins).
TEST_P(BookTest, Table4_2SetConflicts) {
  Region a(1), b(2);
  EXPECT_EQ(a.Members("group"), Strings{});  // 0
  EXPECT_EQ(b.Members("group"), Strings{});
  EXPECT_TRUE(a.SAdd("group", "paul"));            // 1
  EXPECT_TRUE(b.SAdd("group", "jorma"));           // 2
  EXPECT_EQ(a.Members("group"), Strings{"paul"});  // 3
  EXPECT_EQ(b.Members("group"), Strings{"jorma"});
  Sync(a, b, GetParam());                                     // 4
  EXPECT_EQ(a.Members("group"), (Strings{"jorma", "paul"}));  // 5
  EXPECT_EQ(b.Members("group"), (Strings{"jorma", "paul"}));
  EXPECT_TRUE(a.SRem("group", "paul"));   // 6: A SREM paul
  EXPECT_TRUE(b.SAdd("group", "grace"));  // 6: B SADD grace
  const std::string a_before_step7 = a.ks().Encode();
  EXPECT_FALSE(a.SRem("group", "grace"));  // 7: A has never seen grace: a no-op
  EXPECT_EQ(a.ks().Encode(), a_before_step7);
  EXPECT_EQ(a.Members("group"), Strings{"jorma"});
  EXPECT_EQ(b.Members("group"), (Strings{"grace", "jorma", "paul"}));
  Sync(a, b, GetParam());                                      // 8
  EXPECT_EQ(a.Members("group"), (Strings{"grace", "jorma"}));  // 9
  EXPECT_EQ(b.Members("group"), (Strings{"grace", "jorma"}));
}

// The overdraft pitfall: both regions approve a $60 withdrawal from $100.
TEST_P(BookTest, OverdraftBothWithdrawalsApply) {
  Region a(1), b(2);
  a.Set("balance", "100");
  Sync(a, b, GetParam());
  ASSERT_EQ(a.Get("balance"), "100");  // each region reads enough and approves
  ASSERT_EQ(b.Get("balance"), "100");
  EXPECT_EQ(a.IncrBy("balance", -60), 40);
  EXPECT_EQ(b.IncrBy("balance", -60), 40);
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("balance"), "-20");
  EXPECT_EQ(b.Get("balance"), "-20");
}

TEST_P(BookTest, ConcurrentSetAndIncrByConvergeTo105) {
  Region a(1), b(2);
  a.Set("balance", "50", 1);
  Sync(a, b, GetParam());
  a.Set("balance", "100", 2);
  EXPECT_EQ(b.IncrBy("balance", 5), 55);
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("balance"), "105");
  EXPECT_EQ(b.Get("balance"), "105");
}

TEST_P(BookTest, DelVersusConcurrentSAddTheAddSurvives) {
  Region a(1), b(2);
  a.SAdd("cart", "book");
  a.SAdd("cart", "pen");
  Sync(a, b, GetParam());
  EXPECT_TRUE(a.Del("cart"));
  EXPECT_TRUE(b.SAdd("cart", "lamp"));   // a new member
  EXPECT_FALSE(b.SAdd("cart", "book"));  // a re-add of an observed one: a new dot too
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Members("cart"), (Strings{"book", "lamp"}));
  EXPECT_EQ(b.Members("cart"), (Strings{"book", "lamp"}));
}

TEST_P(BookTest, DelOfACounterVersusConcurrentIncrOnlyTheConcurrentIncrementSurvives) {
  Region a(1), b(2);
  a.IncrBy("hits", 10);
  b.IncrBy("hits", 5);
  Sync(a, b, GetParam());
  ASSERT_EQ(a.Get("hits"), "15");
  EXPECT_TRUE(a.Del("hits"));
  EXPECT_EQ(a.Get("hits"), std::nullopt);
  EXPECT_EQ(b.IncrBy("hits", 1), 16);
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("hits"), "1");
  EXPECT_EQ(b.Get("hits"), "1");
}

TEST_P(BookTest, SetCancelsObservedIncrementsOnly) {
  Region a(1), b(2);
  a.IncrBy("n", 5);
  b.IncrBy("n", 3);
  Sync(a, b, GetParam());
  EXPECT_EQ(b.IncrBy("n", 7), 15);  // not seen by A when it SETs
  a.Set("n", "100");
  EXPECT_EQ(a.Get("n"), "100");
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("n"), "107");
  EXPECT_EQ(b.Get("n"), "107");
}

TEST_P(BookTest, ClockSkewDecidesConcurrentSets) {
  Region a(1, /*clock_skew_us=*/40'000), b(2);
  a.Set("k", "written-first-at-A", 1'000'000);
  b.Set("k", "written-10ms-later-at-B", 1'010'000);
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("k"), "written-first-at-A");  // A's clock is 40 ms ahead
  EXPECT_EQ(b.Get("k"), "written-first-at-A");
}

TEST_P(BookTest, EqualTimestampsGoToTheLowerSite) {
  Region a(1), b(2);
  b.Set("k", "from-B", 5);
  a.Set("k", "from-A", 5);
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("k"), "from-A");
  EXPECT_EQ(b.Get("k"), "from-A");
}

TEST_P(BookTest, AWriteThatObservedAnotherBeatsItDespiteALowerTimestamp) {
  Region a(1), b(2, /*clock_skew_us=*/-500'000);
  a.Set("k", "old", 1'000'000);
  Sync(a, b, GetParam());
  b.Set("k", "new", 1'000'001);  // B's wall clock: 500'001, lower than A's write
  Sync(a, b, GetParam());
  EXPECT_EQ(a.Get("k"), "new");
  EXPECT_EQ(b.Get("k"), "new");
}

// ---- the tables with the standalone types ----

TEST(BookStandaloneTest, Table4_1WithPnCounter) {
  PnCounter a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  std::vector<PnCounter> from_a, from_b;
  for (int64_t by : {1, 2, -1}) from_a.push_back(*a.Increment(by));
  EXPECT_EQ(a.Value(), 2);
  for (int64_t by : {10, 13}) from_b.push_back(*b.Increment(by));
  EXPECT_EQ(b.Value(), 23);
  for (const auto& d : from_b) a.Merge(d);
  for (auto it = from_a.rbegin(); it != from_a.rend(); ++it) b.Merge(*it);  // any order
  EXPECT_EQ(a.Value(), 25);
  EXPECT_EQ(b.Value(), 25);
  EXPECT_EQ(a, b);
}

TEST(BookStandaloneTest, Table4_1WithStringValue) {
  StringValue a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  std::vector<StringValue> from_a, from_b;
  for (int64_t by : {1, 2, -1}) from_a.push_back(*a.IncrBy(by));
  for (int64_t by : {10, 13}) from_b.push_back(*b.IncrBy(by));
  EXPECT_EQ(a.Get(), "2");
  EXPECT_EQ(b.Get(), "23");
  for (const auto& d : from_b) a.Merge(d);
  for (const auto& d : from_a) b.Merge(d);
  EXPECT_EQ(a.Get(), "25");
  EXPECT_EQ(b.Get(), "25");
}

TEST(BookStandaloneTest, Table4_2WithAwOrSet) {
  AwOrSet a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  std::vector<AwOrSet> from_a, from_b;
  from_a.push_back(a.Add("paul"));
  from_b.push_back(b.Add("jorma"));
  EXPECT_EQ(a.Elements(), Strings{"paul"});
  EXPECT_EQ(b.Elements(), Strings{"jorma"});
  for (const auto& d : from_a) b.Merge(d);
  for (const auto& d : from_b) a.Merge(d);
  from_a.clear();
  from_b.clear();
  EXPECT_EQ(a.Elements(), (Strings{"jorma", "paul"}));
  EXPECT_EQ(b.Elements(), (Strings{"jorma", "paul"}));
  from_a.push_back(a.Remove("paul"));
  from_b.push_back(b.Add("grace"));
  AwOrSet step7 = a.Remove("grace");
  EXPECT_EQ(step7.store().entry_count(), 0u);  // nothing observed: an empty delta
  EXPECT_TRUE(step7.context().empty());
  from_a.push_back(step7);
  for (const auto& d : from_a) b.Merge(d);
  for (const auto& d : from_b) a.Merge(d);
  EXPECT_EQ(a.Elements(), (Strings{"grace", "jorma"}));
  EXPECT_EQ(b.Elements(), (Strings{"grace", "jorma"}));
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace crdt
