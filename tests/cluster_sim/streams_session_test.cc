// Tests for what the lending service needs from a store: region-local streams
// (local_streams.cc), SMOVE and SPOP (command_engine.cc), Store::KeyVersion and
// Session (MULTI/EXEC/DISCARD/WATCH/UNWATCH), through public interfaces only.
//
// Expected replies and error texts are redis-server 7.0.15's (checked with redis-cli
// against it), except where a comment names a deliberate deviation.
//
// The store under test is the memory store; compiled into cluster_sim_redis_tests with
// AASIM_STREAMS_ON_REDIS it is a RedisStore on a redis-server of the test process's own
// (suites RedisLendingStoreTest and RedisSessionTest; under CI a missing Redis fails).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/session.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "split_words.h"
#ifdef AASIM_STREAMS_ON_REDIS
#include <cstdlib>

#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#endif

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);
constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(1, 1);

#ifdef AASIM_STREAMS_ON_REDIS
#define LendingStoreTest RedisLendingStoreTest
#define SessionTest RedisSessionTest
constexpr bool kOnRedis = true;
// A RedisStore on a freshly flushed database of one redis-server per test process.
std::unique_ptr<Store> StoreUnderTest(crdt::ReplicaId self, std::string* why) {
  static auto server = RedisServer::Launch();
  if (!server.ok()) {
    *why = server.status().message();
    return nullptr;
  }
  RedisStoreOptions o;
  o.address.port = server.value()->port();
  o.region = "A";
  o.flush_db = true;
  auto store = RedisStore::Open(self, o);
  if (!store.ok()) {
    *why = store.status().message();
    return nullptr;
  }
  return std::move(store).value();
}
bool StoreRequired() {
  return std::getenv("CI") != nullptr || std::getenv("AASIM_REDIS_URL") != nullptr;
}
#else
constexpr bool kOnRedis = false;
std::unique_ptr<Store> StoreUnderTest(crdt::ReplicaId self, std::string*) {
  return NewMemoryStore(self);
}
bool StoreRequired() { return true; }
#endif

// In a fixture's SetUp: var = the store under test, or fail (required) or skip the test.
#define AASIM_OPEN_STORE_UNDER_TEST(var, self)                              \
  do {                                                                      \
    std::string why_;                                                       \
    var = StoreUnderTest(self, &why_);                                      \
    if (!var && StoreRequired()) FAIL() << "no store under test: " << why_; \
    if (!var) GTEST_SKIP() << "no store under test: " << why_;              \
  } while (false)

Reply Int(int64_t v) { return Reply::Integer(v); }
Reply Bulk(std::string s) { return Reply::Bulk(std::move(s)); }
Reply Stat(std::string s) { return Reply::Status(std::move(s)); }
Reply Err(std::string_view s) { return Reply::Error(std::string(s)); }
Reply Nil() { return Reply::Nil(); }
Reply Arr(std::initializer_list<Reply> e) { return Reply::Array(std::vector<Reply>(e)); }
Reply Bulks(const std::vector<std::string>& items) { return Reply::BulkArray(items); }

using cluster_sim::test_util::Split;

class LendingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { AASIM_OPEN_STORE_UNDER_TEST(a_, kA); }
  Reply Run(std::string_view line, int64_t now_us = 0) {
    effect_.clear();
    return a_->Execute(Split(line), now_us, &effect_);
  }
  std::unique_ptr<Store> a_;  // the store under test
  std::unique_ptr<Store> b_ = NewMemoryStore(kB);
  std::string effect_;
};

// ------------------------------------------------------------------ streams

TEST_F(LendingStoreTest, XaddIdsComeFromTheWallClockAsInRedis) {
  EXPECT_EQ(Run("XADD s * a 1", 0), Bulk("0-1"));    // 0-0 is never an XADD id
  EXPECT_EQ(Run("XADD s * a 2", 500), Bulk("0-2"));  // same millisecond: next sequence
  EXPECT_EQ(Run("XADD s * a 3", 7'000), Bulk("7-0"));
  EXPECT_EQ(Run("XADD s * a 4", 3'000), Bulk("7-1"));  // a clock behind the top id
  EXPECT_EQ(
      Run("XADD s 7-1 a 5"),
      Err("ERR The ID specified in XADD is equal or smaller than the target stream top item"));
  EXPECT_EQ(Run("XADD t 0-0 a 1"), Err("ERR The ID specified in XADD must be greater than 0-0"));
  EXPECT_EQ(Run("XADD s 9-5 a 5"), Bulk("9-5"));
  EXPECT_EQ(Run("XADD s 9-* a 6"), Bulk("9-6"));
  EXPECT_EQ(Run("XADD s x-1 a 5"),
            Err("ERR Invalid stream ID specified as stream command argument"));
  EXPECT_EQ(Run("XADD s * a"), Err("ERR wrong number of arguments for 'xadd' command"));
  EXPECT_EQ(Run("XADD s 5 a"), Err("ERR wrong number of arguments for 'xadd' command"));
  EXPECT_EQ(Run("XADD s * a 1 b"), Err("ERR wrong number of arguments for 'xadd' command"));
  EXPECT_EQ(Run("XADD nope NOMKSTREAM * a 1"), Nil());
  EXPECT_EQ(Run("XLEN s"), Int(6));
  EXPECT_EQ(Run("XLEN nope"), Int(0));
}

TEST_F(LendingStoreTest, StreamsAreNeverReplicatedNorPartOfTheData) {
  Run("SET k v");
  std::string state_before = a_->FullState();
  std::string dump_before = a_->DumpAll();
  EXPECT_EQ(Run("XADD s * user_id u book_ids b"), Bulk("0-1"));
  EXPECT_TRUE(effect_.empty());
  EXPECT_EQ(Run("XGROUP CREATE s g 0"), Stat("OK"));
  EXPECT_TRUE(effect_.empty());
  Run("XREADGROUP GROUP g c STREAMS s >");
  EXPECT_TRUE(effect_.empty());
  EXPECT_EQ(Run("XACK s g 0-1"), Int(1));
  EXPECT_TRUE(effect_.empty());
  EXPECT_EQ(a_->FullState(), state_before);
  EXPECT_EQ(a_->DumpAll(), dump_before);
  EXPECT_EQ(Run("TYPE s"), Stat("stream"));
  // A crash of the region (Wipe) loses them, as it loses the in-memory data.
  a_->Wipe(crdt::MakeReplicaId(0, 2));
  EXPECT_EQ(Run("XLEN s"), Int(0));
}

TEST_F(LendingStoreTest, StreamCommandsOnAnotherTypeAreWrongType) {
  Run("SADD st a");
  const Reply wrong = Err("WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(Run("XADD st * a 1"), wrong);
  EXPECT_EQ(Run("XLEN st"), wrong);
  EXPECT_EQ(Run("XGROUP CREATE st g $ MKSTREAM"), wrong);
}

TEST_F(LendingStoreTest, XgroupCreateErrors) {
  EXPECT_EQ(Run("XGROUP CREATE nos g 0"),
            Err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                "may want to use the MKSTREAM option to create an empty stream automatically."));
  EXPECT_EQ(Run("XGROUP CREATE s g $ MKSTREAM"), Stat("OK"));
  EXPECT_EQ(Run("XGROUP CREATE s g 0"), Err("BUSYGROUP Consumer Group name already exists"));
  EXPECT_EQ(Run("XGROUP CREATE s g2 0 FOO"),
            Err("ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP "
                "HELP."));
  EXPECT_EQ(Run("XGROUP FOO s"), Err("ERR unknown subcommand 'FOO'. Try XGROUP HELP."));
  EXPECT_EQ(Run("XGROUP CREATE s"),
            Err("ERR wrong number of arguments for 'xgroup|create' command"));
  EXPECT_EQ(Run("XGROUP CREATECONSUMER s nog c"),
            Err("NOGROUP No such consumer group 'nog' for key name 's'"));
  EXPECT_EQ(Run("XGROUP CREATECONSUMER s g c"), Int(1));
  EXPECT_EQ(Run("XGROUP CREATECONSUMER s g c"), Int(0));
  EXPECT_EQ(Run("XGROUP DESTROY s g"), Int(1));
  EXPECT_EQ(Run("XGROUP DESTROY s g"), Int(0));
}

TEST_F(LendingStoreTest, ConsumerGroupDeliveryPendingAndAck) {
  Run("XADD s * f 1", 1'000);  // 1-0
  Run("XADD s * f 2", 2'000);  // 2-0
  Run("XGROUP CREATE s g 0");
  // New entries go to whoever asks first, once.
  EXPECT_EQ(Run("XREADGROUP GROUP g c1 COUNT 1 STREAMS s >", 5'000),
            Arr({Arr({Bulk("s"), Arr({Arr({Bulk("1-0"), Bulks({"f", "1"})})})})}));
  EXPECT_EQ(Run("XREADGROUP GROUP g c2 COUNT 5 BLOCK 100 STREAMS s >", 6'000),
            Arr({Arr({Bulk("s"), Arr({Arr({Bulk("2-0"), Bulks({"f", "2"})})})})}));
  // Nothing new: a nil reply (BLOCK cannot wait in the simulator).
  EXPECT_EQ(Run("XREADGROUP GROUP g c1 BLOCK 0 STREAMS s >"), Reply::NilArray());
  // History: each consumer sees only its own pending entries; the stream is listed even
  // when it has none.
  EXPECT_EQ(Run("XREADGROUP GROUP g c1 STREAMS s 0"),
            Arr({Arr({Bulk("s"), Arr({Arr({Bulk("1-0"), Bulks({"f", "1"})})})})}));
  EXPECT_EQ(Run("XREADGROUP GROUP g c3 STREAMS s 0"), Arr({Arr({Bulk("s"), Arr({})})}));
  EXPECT_EQ(Run("XPENDING s g", 10'000),
            Arr({Int(2), Bulk("1-0"), Bulk("2-0"),
                 Arr({Arr({Bulk("c1"), Bulk("1")}), Arr({Bulk("c2"), Bulk("1")})})}));
  // On Redis, idle times come from its real clock (README, "Streams and the lending
  // service on Redis"): only the memory store is exact. As in Redis, c1's history read
  // (at time 0) counted as its entry's second delivery and restarted its idle time.
  if (!kOnRedis) {
    EXPECT_EQ(Run("XPENDING s g - + 10", 10'000),
              Arr({Arr({Bulk("1-0"), Bulk("c1"), Int(10), Int(2)}),
                   Arr({Bulk("2-0"), Bulk("c2"), Int(4), Int(1)})}));
    EXPECT_EQ(Run("XPENDING s g IDLE 5 - + 10", 10'000),
              Arr({Arr({Bulk("1-0"), Bulk("c1"), Int(10), Int(2)})}));
    EXPECT_EQ(Run("XPENDING s g - + 10 c2", 10'000),
              Arr({Arr({Bulk("2-0"), Bulk("c2"), Int(4), Int(1)})}));
  } else {
    Reply r = Run("XPENDING s g - + 10 c2", 10'000);
    ASSERT_EQ(r.elements.size(), 1u);
    EXPECT_EQ(r.elements[0].elements[0], Bulk("2-0"));
    EXPECT_EQ(r.elements[0].elements[1], Bulk("c2"));
  }
  EXPECT_EQ(Run("XPENDING s g - +"), Err("ERR syntax error"));
  EXPECT_EQ(Run("XACK s g 1-0 9-9"), Int(1));
  EXPECT_EQ(Run("XACK s g 1-0"), Int(0));
  EXPECT_EQ(Run("XACK s nog 2-0"), Int(0));
  EXPECT_EQ(Run("XACK s g bad"), Err("ERR Invalid stream ID specified as stream command argument"));
  EXPECT_EQ(Run("XACK s g 2-0"), Int(1));
  EXPECT_EQ(Run("XPENDING s g"), Arr({Int(0), Nil(), Nil(), Reply::NilArray()}));
  EXPECT_EQ(Run("XPENDING s nog"), Err("NOGROUP No such key 's' or consumer group 'nog'"));
}

TEST_F(LendingStoreTest, XreadgroupErrors) {
  Run("XADD s * f 1");
  Run("XGROUP CREATE s g 0");
  EXPECT_EQ(Run("XREADGROUP GROUP nog c STREAMS s >"),
            Err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"));
  EXPECT_EQ(Run("XREADGROUP GROUP g c STREAMS s nos > >"),
            Err("NOGROUP No such key 'nos' or consumer group 'g' in XREADGROUP with GROUP option"));
  EXPECT_EQ(Run("XREADGROUP GROUP g c COUNT 1 STREAMS s"),
            Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                "specified."));
  EXPECT_EQ(Run("XREADGROUP COUNT 1 STREAMS s >"),
            Err("ERR wrong number of arguments for 'xreadgroup' command"));
  EXPECT_EQ(Run("XREADGROUP GROUP g c BLOCK -1 STREAMS s >"), Err("ERR timeout is negative"));
  // An error reads nothing: the entry is still new.
  EXPECT_EQ(Run("XREADGROUP GROUP g c STREAMS s >"),
            Arr({Arr({Bulk("s"), Arr({Arr({Bulk("0-1"), Bulks({"f", "1"})})})})}));
}

TEST_F(LendingStoreTest, Xrange) {
  Run("XADD s * f 1", 1'000);
  Run("XADD s * f 2", 2'000);
  Run("XADD s * f 3", 3'000);
  EXPECT_EQ(Run("XRANGE s - + COUNT 2"),
            Arr({Arr({Bulk("1-0"), Bulks({"f", "1"})}), Arr({Bulk("2-0"), Bulks({"f", "2"})})}));
  EXPECT_EQ(Run("XRANGE s (1-0 2"), Arr({Arr({Bulk("2-0"), Bulks({"f", "2"})})}));
  EXPECT_EQ(Run("XRANGE s - + COUNT"), Err("ERR syntax error"));
  EXPECT_EQ(Run("XRANGE nope - +"), Arr({}));
}

// ------------------------------------------------------------------ SMOVE, SPOP

TEST_F(LendingStoreTest, SmoveReplicatesTheRemovalAndTheAddition) {
  Run("SADD src a b");
  b_->Merge(effect_);
  EXPECT_EQ(Run("SMOVE src dst a"), Int(1));
  ASSERT_FALSE(effect_.empty());
  ASSERT_TRUE(b_->Merge(effect_).ok());
  EXPECT_EQ(b_->Dump("src"), "{b}");
  EXPECT_EQ(b_->Dump("dst"), "{a}");
  EXPECT_EQ(Run("SMOVE src dst zz"), Int(0));
  EXPECT_TRUE(effect_.empty());
  EXPECT_EQ(Run("SMOVE nosuch dst a"), Int(0));
  EXPECT_EQ(Run("SMOVE src src b"), Int(1));
  EXPECT_TRUE(effect_.empty());
  Run("SET str x");
  EXPECT_EQ(Run("SMOVE src str b"),
            Err("WRONGTYPE Operation against a key holding the wrong kind of value"));
  EXPECT_EQ(Run("SMOVE nosuch str b"), Int(0));  // Redis checks the source first
  EXPECT_EQ(Run("SMOVE src dst"), Err("ERR wrong number of arguments for 'smove' command"));
}

TEST_F(LendingStoreTest, SpopIsDeterministicAndReplicatesAsRemoval) {
  Run("SADD s a b c d e");
  b_->Merge(effect_);
  Reply popped = Run("SPOP s", 42);
  ASSERT_EQ(popped.type, Reply::Type::kBulk);
  ASSERT_TRUE(b_->Merge(effect_).ok());
  EXPECT_EQ(b_->Dump("s"), a_->Dump("s"));
  // Same state, key and clock: same member.
  auto c = NewMemoryStore(kA);
  c->Execute(Split("SADD s a b c d e"), 0, nullptr);
  EXPECT_EQ(c->Execute(Split("SPOP s"), 42, nullptr), popped);
  Reply two = Run("SPOP s 2", 43);
  ASSERT_EQ(two.type, Reply::Type::kArray);
  EXPECT_EQ(two.elements.size(), 2u);
  EXPECT_EQ(Run("SCARD s"), Int(2));
  EXPECT_EQ(Run("SPOP s 0"), Arr({}));
  Reply rest = Run("SPOP s 10");
  ASSERT_EQ(rest.type, Reply::Type::kArray);
  EXPECT_EQ(rest.elements.size(), 2u);
  EXPECT_EQ(Run("SPOP s"), Nil());
  EXPECT_EQ(Run("SPOP s 3"), Arr({}));
  EXPECT_EQ(Run("SPOP x -1"), Err("ERR value is out of range, must be positive"));
  EXPECT_EQ(Run("SPOP x 1 2"), Err("ERR syntax error"));
}

// ------------------------------------------------------------------ KeyVersion

TEST_F(LendingStoreTest, KeyVersionMovesOnWritesAndMergesNeverOnReads) {
  uint64_t v0 = a_->KeyVersion("k");
  Run("GET k");
  EXPECT_EQ(a_->KeyVersion("k"), v0);
  Run("SET k v");
  uint64_t v1 = a_->KeyVersion("k");
  EXPECT_NE(v1, v0);
  Run("SET k v");  // the same value is still a write
  uint64_t v2 = a_->KeyVersion("k");
  EXPECT_NE(v2, v1);
  uint64_t other = a_->KeyVersion("other");
  Run("SET unrelated x");
  EXPECT_EQ(a_->KeyVersion("k"), v2);
  EXPECT_EQ(a_->KeyVersion("other"), other);
  // A peer's effect on k moves it; one on another key does not.
  std::string effect;
  b_->Execute(Split("INCR k2"), 0, &effect);
  ASSERT_TRUE(a_->Merge(effect).ok());
  EXPECT_EQ(a_->KeyVersion("k"), v2);
  effect.clear();
  b_->Execute(Split("SET k w"), 5, &effect);
  ASSERT_TRUE(a_->Merge(effect).ok());
  EXPECT_NE(a_->KeyVersion("k"), v2);
}

// ------------------------------------------------------------------ Session

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { AASIM_OPEN_STORE_UNDER_TEST(store_, kA); }
  std::unique_ptr<Session> Connect() {
    return std::make_unique<Session>(StoreBackend(*store_, [this] { return now_us_; }));
  }
  Reply Do(Session& s, std::string_view line) { return s.Execute(Split(line)); }

  std::unique_ptr<Store> store_;  // the store under test
  int64_t now_us_ = 0;
};

TEST_F(SessionTest, MultiExecRunsTheQueueAtomically) {
  auto s = Connect();
  EXPECT_EQ(Do(*s, "MULTI"), Stat("OK"));
  EXPECT_EQ(Do(*s, "SET a 1"), Stat("QUEUED"));
  EXPECT_EQ(Do(*s, "INCR a"), Stat("QUEUED"));
  EXPECT_EQ(Do(*s, "SADD a x"), Stat("QUEUED"));  // a runtime error does not stop the rest
  EXPECT_EQ(Do(*s, "XADD st * f v"), Stat("QUEUED"));
  Reply r = Do(*s, "EXEC");
  ASSERT_EQ(r.type, Reply::Type::kArray);
  ASSERT_EQ(r.elements.size(), 4u);
  EXPECT_EQ(r.elements[0], Stat("OK"));
  EXPECT_EQ(r.elements[1], Int(2));
  EXPECT_EQ(r.elements[2],
            Err("WRONGTYPE Operation against a key holding the wrong kind of value"));
  EXPECT_EQ(r.elements[3], Bulk("0-1"));
  EXPECT_EQ(Do(*s, "GET a"), Bulk("2"));
}

TEST_F(SessionTest, ExecIsOneReplicatedEffect) {
  std::vector<std::string> effects;
  Session s(StoreBackend(
      *store_, [] { return 0; }, [&effects](std::string e) { effects.push_back(std::move(e)); }));
  Do(s, "MULTI");
  Do(s, "SET a 1");
  Do(s, "SADD b x");
  Do(s, "HSET c f v");
  Do(s, "EXEC");
  ASSERT_EQ(effects.size(), 1u);
  auto peer = NewMemoryStore(kB);
  ASSERT_TRUE(peer->Merge(effects[0]).ok());
  EXPECT_EQ(peer->DumpAll(), store_->DumpAll());
}

TEST_F(SessionTest, QueueingErrorsAbortExec) {
  auto s = Connect();
  Do(*s, "MULTI");
  EXPECT_EQ(Do(*s, "SET a 1"), Stat("QUEUED"));
  EXPECT_EQ(Do(*s, "GET"), Err("ERR wrong number of arguments for 'get' command"));
  EXPECT_EQ(Do(*s, "NOPE x"), Err("ERR unknown command 'NOPE', with args beginning with: 'x' "));
  EXPECT_EQ(Do(*s, "EXEC"), Err("EXECABORT Transaction discarded because of previous errors."));
  EXPECT_EQ(Do(*s, "GET a"), Nil());
}

TEST_F(SessionTest, TransactionCommandErrors) {
  auto s = Connect();
  EXPECT_EQ(Do(*s, "EXEC"), Err("ERR EXEC without MULTI"));
  EXPECT_EQ(Do(*s, "DISCARD"), Err("ERR DISCARD without MULTI"));
  Do(*s, "MULTI");
  EXPECT_EQ(Do(*s, "MULTI"), Err("ERR MULTI calls can not be nested"));
  EXPECT_EQ(Do(*s, "WATCH a"), Err("ERR WATCH inside MULTI is not allowed"));
  EXPECT_EQ(Do(*s, "SET a 1"), Stat("QUEUED"));
  EXPECT_EQ(Do(*s, "UNWATCH"), Stat("QUEUED"));
  EXPECT_EQ(Do(*s, "EXEC"), Arr({Stat("OK"), Stat("OK")}));  // those errors did not abort it
  Do(*s, "MULTI");
  Do(*s, "SET a 2");
  EXPECT_EQ(Do(*s, "DISCARD"), Stat("OK"));
  EXPECT_EQ(Do(*s, "GET a"), Bulk("1"));
  EXPECT_EQ(Do(*s, "MULTI"), Stat("OK"));
  EXPECT_EQ(Do(*s, "EXEC"), Arr({}));
}

TEST_F(SessionTest, WatchedKeyChangedByAnotherClientAbortsExec) {
  auto s = Connect();
  auto other = Connect();
  Do(*other, "SET count 1");
  EXPECT_EQ(Do(*s, "WATCH count"), Stat("OK"));
  Do(*s, "GET count");
  Do(*other, "SET count 1");  // same value: still a write
  Do(*s, "MULTI");
  Do(*s, "INCR count");
  EXPECT_EQ(Do(*s, "EXEC"), Reply::NilArray());
  EXPECT_EQ(Do(*s, "GET count"), Bulk("1"));
  // EXEC forgot the watch: the next transaction runs.
  Do(*s, "MULTI");
  Do(*s, "INCR count");
  EXPECT_EQ(Do(*s, "EXEC"), Arr({Int(2)}));
  // Reads by others and writes to other keys do not abort; UNWATCH forgets.
  Do(*s, "WATCH count");
  Do(*other, "GET count");
  Do(*other, "SET unrelated 1");
  Do(*s, "MULTI");
  Do(*s, "INCR count");
  EXPECT_EQ(Do(*s, "EXEC"), Arr({Int(3)}));
  Do(*s, "WATCH count");
  Do(*other, "INCR count");
  EXPECT_EQ(Do(*s, "UNWATCH"), Stat("OK"));
  Do(*s, "MULTI");
  Do(*s, "INCR count");
  EXPECT_EQ(Do(*s, "EXEC"), Arr({Int(5)}));
}

TEST_F(SessionTest, WatchedKeyChangedByReplicationAbortsExec) {
  auto s = Connect();
  Do(*s, "WATCH count");
  auto peer = NewMemoryStore(kB);
  std::string effect;
  peer->Execute(Split("INCR count"), 0, &effect);
  ASSERT_TRUE(store_->Merge(effect).ok());
  Do(*s, "MULTI");
  Do(*s, "INCR count");
  EXPECT_EQ(Do(*s, "EXEC"), Reply::NilArray());
}

#ifndef AASIM_STREAMS_ON_REDIS  // a Simulation of memory stores
TEST(SessionSimulationTest, SessionsOnASimulatedRegionReplicateOneBatch) {
  SimConfig config;
  config.regions = {{"A", SimTime(0)}, {"B", SimTime(0)}};
  Simulation sim(config);
  Session a(SimulationBackend(sim, 0));
  Session other(SimulationBackend(sim, 0));
  a.Execute({"WATCH", "k"});
  other.Execute({"SET", "k", "1"});
  a.Execute({"MULTI"});
  a.Execute({"SET", "k", "2"});
  EXPECT_EQ(a.Execute({"EXEC"}), Reply::NilArray());
  a.Execute({"MULTI"});
  a.Execute({"SET", "k", "2"});
  a.Execute({"SADD", "s", "x"});
  EXPECT_EQ(a.Execute({"EXEC"}), Arr({Stat("OK"), Int(1)}));
  EXPECT_EQ(sim.Metrics(0).local_writes, 2u);  // SET k 1, then the batch
  sim.Sync();
  EXPECT_EQ(sim.Dump(1, "k"), "2");
  EXPECT_EQ(sim.Dump(1, "s"), "{x}");
}

#endif

}  // namespace
}  // namespace cluster_sim
