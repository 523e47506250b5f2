// Region-local streams on the Redis backend (redis_store.cc) against the memory store's
// (local_streams.cc): the same stream commands at the same virtual clock give the same
// replies on both, byte for byte: XADD ids from the simulator's clock (`*`, `ms-*`,
// explicit), Redis 7's and the memory store's errors, XREADGROUP with BLOCK answering at
// once, XPENDING, XACK, stream commands inside a MULTI batch, TYPE, and WATCH versions
// (Store::KeyVersion) moved by the commands that change a stream.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "redis_test_util.h"

namespace cluster_sim {
namespace {

using testing::OptionsFor;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);

struct Step {
  int64_t clock_us;
  std::vector<std::string> argv;
};

// Runs the same steps on a memory store and a Redis store; every reply must be equal.
// Returns the Redis replies.
std::vector<Reply> RunBoth(Store& memory, Store& redis, const std::vector<Step>& steps) {
  std::vector<Reply> out;
  for (const Step& s : steps) {
    std::string e1, e2;
    Reply m = memory.Execute(s.argv, s.clock_us, &e1);
    Reply r = redis.Execute(s.argv, s.clock_us, &e2);
    std::string cmd;
    for (const auto& a : s.argv) cmd += a + " ";
    EXPECT_EQ(m.ToString(), r.ToString()) << "at " << s.clock_us << "us: " << cmd;
    EXPECT_EQ(m.type, r.type) << cmd;
    EXPECT_EQ(e1, e2) << cmd;
    out.push_back(r);
  }
  return out;
}

class RedisStreamsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> memory_ = NewMemoryStore(kA);
};

TEST_F(RedisStreamsTest, XAddIdsComeFromTheVirtualClock) {
  AASIM_LAUNCH_REDIS(server);
  auto redis = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  std::vector<Reply> r = RunBoth(*memory_, **redis,
                                 {
                                     {0, {"XADD", "s", "*", "f", "1"}},
                                     {0, {"XADD", "s", "*", "f", "2"}},
                                     {1500, {"xadd", "s", "*", "f", "3"}},
                                     {1999, {"XADD", "s", "*", "f", "4"}},
                                     {250000, {"XADD", "s", "*", "f", "5"}},
                                     // the clock went back (skew): ids never do
                                     {100000, {"XADD", "s", "*", "f", "6"}},
                                     {100000, {"XADD", "s", "300-*", "f", "7"}},
                                     {100000, {"XADD", "s", "250-*", "f", "8"}},
                                     {100000, {"XADD", "s", "400-5", "f", "9"}},
                                     {100000, {"XADD", "s", "400-5", "f", "10"}},
                                     {500000, {"XADD", "s", "*", "f", "11"}},
                                     {-7, {"XADD", "fresh", "*", "f", "x"}},
                                     {0, {"XADD", "zero", "0-0", "f", "x"}},
                                     {0, {"XADD", "zero", "0-*", "f", "x"}},
                                     {0, {"XADD", "s", "nope", "f", "x"}},
                                     {0, {"XADD", "s", "*", "f"}},
                                     {0, {"XADD", "s", "MAXLEN", "10", "*", "f", "x"}},
                                     {0, {"XADD", "missing", "NOMKSTREAM", "*", "f", "x"}},
                                     {0, {"XADD", "s"}},
                                     {0, {"XLEN", "s"}},
                                     {0, {"XRANGE", "s", "-", "+", "COUNT", "3"}},
                                     {0, {"XRANGE", "s", "(0-1", "+"}},
                                     {0, {"SET", "str", "v"}},
                                     {0, {"XADD", "str", "*", "f", "x"}},
                                 });
  EXPECT_EQ(r[0], Reply::Bulk("0-1"));  // 0-0 is not an id
  EXPECT_EQ(r[1], Reply::Bulk("0-2"));
  EXPECT_EQ(r[2], Reply::Bulk("1-0"));
  EXPECT_EQ(r[3], Reply::Bulk("1-1"));
  EXPECT_EQ(r[4], Reply::Bulk("250-0"));
  EXPECT_EQ(r[5], Reply::Bulk("250-1"));
  EXPECT_EQ(r[6], Reply::Bulk("300-0"));
  EXPECT_TRUE(r[7].is_error());
  EXPECT_EQ(r[10], Reply::Bulk("500-0"));
  EXPECT_EQ(r[11], Reply::Bulk("0-1"));
  EXPECT_TRUE(r[23].is_error());
  EXPECT_EQ(r[23].str.substr(0, 9), "WRONGTYPE");
}

TEST_F(RedisStreamsTest, GroupsReadAckPendingAndBlockAnswerAtOnce) {
  AASIM_LAUNCH_REDIS(server);
  auto redis = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  std::vector<Reply> r = RunBoth(
      *memory_, **redis,
      {
          {0, {"XGROUP", "CREATE", "q", "g", "$"}},
          {0, {"XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"}},
          {0, {"XGROUP", "CREATE", "q", "g", "0"}},
          {0, {"XGROUP", "CREATECONSUMER", "q", "g", "c1"}},
          {0, {"XGROUP", "CREATECONSUMER", "q", "g", "c1"}},
          {0, {"XGROUP", "CREATECONSUMER", "q", "nogroup", "c1"}},
          {0, {"XGROUP", "BOGUS", "q", "g"}},
          {1000, {"XADD", "q", "*", "n", "1"}},
          {1000, {"XADD", "q", "*", "n", "2"}},
          {2000,
           {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "BLOCK", "5000", "STREAMS", "q", ">"}},
          {2000, {"XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "q", ">"}},
          // nothing new: BLOCK would wait in Redis; here it answers nil at once
          {2000, {"XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "q", ">"}},
          {2000, {"XREADGROUP", "GROUP", "g", "c1", "BLOCK", "-1", "STREAMS", "q", ">"}},
          {2000, {"XREADGROUP", "GROUP", "g", "c1", "BLOCK", "x", "STREAMS", "q", ">"}},
          {2000, {"XREADGROUP", "GROUP", "g", "c1", "STREAMS", "q", "0"}},
          {2000, {"XREADGROUP", "GROUP", "nope", "c1", "STREAMS", "q", ">"}},
          {2000, {"XREADGROUP", "GROUP", "g", "c1", "STREAMS", "q"}},
          {2000, {"XPENDING", "q", "g"}},
          {2000, {"XACK", "q", "g", "1-0", "9-9"}},
          {2000, {"XACK", "q", "g", "1-0"}},
          {2000, {"XACK", "q", "g", "bad"}},
          {2000, {"XPENDING", "q", "g"}},
          {2000, {"XPENDING", "q", "nope"}},
          {2000, {"XGROUP", "DESTROY", "q", "g"}},
          {2000, {"XGROUP", "DESTROY", "q", "g"}},
          {2000, {"TYPE", "q"}},
          {2000, {"TYPE", "nothing"}},
      });
  EXPECT_EQ(r[11], Reply::NilArray());
}

TEST_F(RedisStreamsTest, StreamCommandsRunInsideABatchInOrder) {
  AASIM_LAUNCH_REDIS(server);
  auto redis = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  std::vector<std::vector<std::string>> batch = {
      {"XGROUP", "CREATE", "q", "g", "0", "MKSTREAM"},
      {"INCR", "n"},
      {"XADD", "q", "*", "k", "v"},
      {"HSET", "h", "a", "1"},
      {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">"},
      {"XACK", "q", "g", "3-0"},
      {"GET", "n"},
  };
  std::string e1, e2;
  std::vector<Reply> m = memory_->ExecuteBatch(batch, 3000, &e1);
  std::vector<Reply> r = (*redis)->ExecuteBatch(batch, 3000, &e2);
  ASSERT_EQ(m.size(), r.size());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].ToString(), r[i].ToString()) << i;
  EXPECT_EQ(r[2], Reply::Bulk("3-0"));
  EXPECT_EQ(r[5], Reply::Integer(1));
  EXPECT_EQ(r[6], Reply::Bulk("1"));
  // The replicated writes' effects merge on a peer to the same data on both backends.
  auto peer1 = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  auto peer2 = NewMemoryStore(crdt::MakeReplicaId(1, 1));
  ASSERT_TRUE(peer1->Merge(e1).ok());
  ASSERT_TRUE(peer2->Merge(e2).ok());
  EXPECT_EQ(peer1->DumpAll(), peer2->DumpAll());
  EXPECT_EQ((*redis)->DumpAll(), memory_->DumpAll());
}

TEST_F(RedisStreamsTest, StreamChangesMoveTheWatchVersionReadsDoNot) {
  AASIM_LAUNCH_REDIS(server);
  auto redis = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  Store& s = **redis;
  auto moved = [&](const std::vector<std::string>& argv) {
    uint64_t before = s.KeyVersion("q");
    s.Execute(argv, 1000, nullptr);
    return s.KeyVersion("q") != before;
  };
  EXPECT_TRUE(moved({"XGROUP", "CREATE", "q", "g", "0", "MKSTREAM"}));
  EXPECT_TRUE(moved({"XADD", "q", "*", "k", "v"}));
  EXPECT_FALSE(moved({"XLEN", "q"}));
  EXPECT_FALSE(moved({"XRANGE", "q", "-", "+"}));
  EXPECT_FALSE(moved({"XPENDING", "q", "g"}));
  EXPECT_TRUE(moved({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">"}));
  EXPECT_FALSE(moved({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">"}));  // nothing new
  EXPECT_FALSE(moved({"XACK", "q", "g", "9-9"}));
  EXPECT_TRUE(moved({"XACK", "q", "g", "1-0"}));
  EXPECT_FALSE(moved({"XADD", "q", "0-1", "k", "v"}));  // refused
}

// XREAD's `$` (Store::StreamLastId, fixed by a blocking endpoint before its first read)
// is the redis-server's last id, as Redis's own `$`: with deleted entries, "0-0" for a
// missing key; and an XREAD with BLOCK answers at once (the store's connection never
// waits: the endpoint does).
TEST_F(RedisStreamsTest, XReadDollarIsTheServersLastIdAndBlockNeverWaits) {
  AASIM_LAUNCH_REDIS(server);
  auto redis = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  Store& s = **redis;
  EXPECT_EQ(s.StreamLastId("q"), "0-0");
  s.Execute({"XADD", "q", "1-1", "f", "old"}, 1000, nullptr);
  s.Execute({"XADD", "q", "2-1", "f", "old2"}, 1000, nullptr);
  EXPECT_EQ(s.StreamLastId("q"), "2-1");
  s.Execute({"XDEL", "q", "2-1"}, 1000, nullptr);
  EXPECT_EQ(s.StreamLastId("q"), "2-1");
  s.Execute({"SET", "str", "v"}, 1000, nullptr);
  EXPECT_EQ(s.StreamLastId("str"), "0-0");
  EXPECT_TRUE(s.Execute({"XREAD", "BLOCK", "0", "STREAMS", "q", "$"}, 1000, nullptr).is_nil());
  EXPECT_EQ(s.Execute({"XREAD", "BLOCK", "0", "STREAMS", "q", "0"}, 1000, nullptr).ToString(),
            s.Execute({"XREAD", "STREAMS", "q", "0"}, 1000, nullptr).ToString());
  // An invalid BLOCK is Redis's to refuse.
  EXPECT_TRUE(s.Execute({"XREAD", "BLOCK", "x", "STREAMS", "q", "$"}, 1000, nullptr).is_error());
  // The connection still answers (nothing waits behind a BLOCK).
  EXPECT_EQ(s.Execute({"XLEN", "q"}, 1000, nullptr).integer, 1);
}

}  // namespace
}  // namespace cluster_sim
