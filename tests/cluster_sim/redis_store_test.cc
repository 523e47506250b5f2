// RedisStore against real redis-servers started by the tests: URL parsing; a differential
// test (seeded random command streams and peer effects through the in-memory and the Redis
// store: same replies, same effects, same canonical dumps, native Redis values equal to the
// in-memory store's, and a store reloaded from the server equal too); script loss
// (NOSCRIPT), a kill -9 of the server with and without a restart, and region-local stream
// commands forwarded to Redis.
#include "cluster_sim/redis_store.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "bounded_counter_script.h"
#include "cluster_sim/client.h"
#include "cluster_sim/redis_server.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/session.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "redis_test_util.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using testing::AsHiredisReadsIt;
using testing::OptionsFor;
using testing::RawRedis;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);
constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(1, 1);

TEST(RedisUrlTest, ParsesHostPortDbAndPassword) {
  auto a = ParseRedisUrl("redis://:s3cret@10.0.0.2:6380/3");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "10.0.0.2");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 3);
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_EQ(a->ToString(), "10.0.0.2:6380/3");
  auto b = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 0);
  auto c = ParseRedisUrl("redis://user:pw@h:1/0");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->password, "pw");
  // An IPv6 host is in brackets, read and written.
  auto d = ParseRedisUrl("redis://:pw@[::1]:6380/2");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 6380);
  EXPECT_EQ(d->db, 2);
  EXPECT_EQ(d->ToString(), "[::1]:6380/2");
  auto e = ParseRedisUrl("redis://[::1]");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 6379);
}

TEST(RedisUrlTest, RejectsBadUrls) {
  for (const char* bad : {"http://h:1/0", "redis://", "redis://h:0", "redis://h:70000",
                          "redis://h:12ab", "redis://h:1/x", "h:6379", "redis://::1:6379/0",
                          "redis://[::1", "redis://[::1]x/0", "redis://[]:1"}) {
    auto r = ParseRedisUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("bad Redis URL"), std::string::npos);
    }
  }
}

TEST(RedisStoreTest, UnreachableServerIsUnavailable) {
  RedisStoreOptions o;
  o.address.port = FreeLoopbackPort();
  o.region = "A";
  auto s = RedisStore::Open(kA, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("region A"), std::string::npos);
  EXPECT_FALSE(PingRedis(o.address).ok());
}

// ------------------------------------------------------------------ differential test

std::vector<std::string> RandomCommand(Rng& rng) {
  auto key = [&] { return "k" + std::to_string(rng.Uniform(8)); };
  auto member = [&] { return "m" + std::to_string(rng.Uniform(6)); };
  auto field = [&] { return "f" + std::to_string(rng.Uniform(4)); };
  auto num = [&] { return std::to_string(rng.Range(-20, 20)); };
  auto amount = [&] { return std::to_string(1 + rng.Uniform(12)); };
  if (rng.OneIn(5)) {  // lists
    switch (rng.Uniform(6)) {
      case 0:
        return {"RPUSH", key(), member(), member()};
      case 1:
        return {"LPUSH", key(), member()};
      case 2:
        return {"LPOP", key(), amount()};
      case 3:
        return {"LREM", key(), num(), member()};
      case 4:
        return {"LSET", key(), num(), member()};
      default:
        return {"LRANGE", key(), num(), num()};
    }
  }
  switch (rng.Uniform(38)) {
    case 0:
      return {"SET", key(), "v" + std::to_string(rng.Uniform(100))};
    case 28:
      return {"INCRBYFLOAT", key(), rng.OneIn(2) ? "1.5" : "-0.25"};
    case 29:
      return {"GETSET", key(), num()};
    case 30:
      return {"APPEND", key(), "a"};
    case 31:
      return {"RENAME", key(), key()};
    case 32:
      return {"COPY", key(), key(), "REPLACE"};
    case 33:
      return {"SUNIONSTORE", key(), key(), key()};
    case 34:
      return {"HINCRBYFLOAT", key(), field(), "0.5"};
    case 35:
      return {"GETDEL", key()};
    case 36:
      return {"SETRANGE", key(), "2", "xy"};
    case 1:
      return {"SET", key(), num()};
    case 2:
      return {"GET", key()};
    case 3:
      return {"INCR", key()};
    case 4:
      return {"INCRBY", key(), num()};
    case 5:
      return {"DECR", key()};
    case 6:
      return {"DEL", key(), key()};
    case 7:
      return {"SADD", key(), member(), member()};
    case 8:
      return {"SREM", key(), member()};
    case 9:
      return {"SMEMBERS", key()};
    case 10:
      return {"SISMEMBER", key(), member()};
    case 11:
      return {"SCARD", key()};
    case 12:
      return {"HSET", key(), field(), "x" + std::to_string(rng.Uniform(9)), field(), num()};
    case 13:
      return {"HGET", key(), field()};
    case 14:
      return {"HDEL", key(), field()};
    case 15:
      return {"HINCRBY", key(), field(), num()};
    case 16:
      return {"HGETALL", key()};
    case 17:
      return {"EXISTS", key(), key()};
    case 18:
      return {"TYPE", key()};
    case 19:
      return {"KEYS", "*"};
    case 20:
      return {"MSET", key(), num(), key(), "w"};
    case 21:
      return {"SETNX", key(), "n"};
    case 22:
      return {"HSETNX", key(), field(), "y"};
    case 23:
      return {"BC.INCRBY", key(), amount()};
    case 24:
      return {"BC.DECRBY", key(), amount()};
    case 25:  // A is site0, B site1 (the stores are not told names)
      return {"BC.TRANSFER", key(), amount(), rng.OneIn(2) ? "site0" : "site1"};
    case 26:
      return {"BC.RIGHTS", key()};
    default:
      return {"MGET", key(), key()};
  }
}

// Native Redis values equal what the in-memory store answers, key by key, and Redis holds
// no other user key.
void ExpectNativeValuesEqual(Store& memory, RawRedis& raw, const std::string& prefix) {
  std::vector<std::string> keys = memory.Keys();
  Reply all = raw.Run({"KEYS", "*"});
  std::vector<std::string> native;
  for (const Reply& k : all.elements) {
    if (k.str.rfind(prefix + ":", 0) != 0) native.push_back(k.str);
  }
  std::sort(native.begin(), native.end());
  EXPECT_EQ(native, keys);
  for (const std::string& k : keys) {
    Reply type = memory.Execute({"TYPE", k}, 0, nullptr);
    if (type.str == "bcounter") {  // a bounded counter is a string of its value
      EXPECT_EQ(raw.Run({"TYPE", k}), Reply::Status("string")) << k;
      EXPECT_EQ(raw.Run({"GET", k}), memory.Execute({"GET", k}, 0, nullptr)) << k;
      continue;
    }
    EXPECT_EQ(raw.Run({"TYPE", k}), type) << k;
    if (type.str == "string") {
      EXPECT_EQ(raw.Run({"GET", k}), memory.Execute({"GET", k}, 0, nullptr)) << k;
    } else if (type.str == "set") {
      Reply got = raw.Run({"SMEMBERS", k});
      std::sort(got.elements.begin(), got.elements.end(),
                [](const Reply& a, const Reply& b) { return a.str < b.str; });
      EXPECT_EQ(got, memory.Execute({"SMEMBERS", k}, 0, nullptr)) << k;
    } else if (type.str == "list") {  // in order: the region's list as redis-cli shows it
      EXPECT_EQ(raw.Run({"LRANGE", k, "0", "-1"}),
                memory.Execute({"LRANGE", k, "0", "-1"}, 0, nullptr))
          << k;
    } else if (type.str == "hash") {
      Reply got = raw.Run({"HGETALL", k});
      std::vector<std::pair<std::string, std::string>> pairs;
      for (size_t i = 0; i + 1 < got.elements.size(); i += 2) {
        pairs.emplace_back(got.elements[i].str, got.elements[i + 1].str);
      }
      std::sort(pairs.begin(), pairs.end());
      std::vector<std::string> flat;
      for (auto& [f, v] : pairs) {
        flat.push_back(f);
        flat.push_back(v);
      }
      EXPECT_EQ(Reply::BulkArray(flat), memory.Execute({"HGETALL", k}, 0, nullptr)) << k;
    }
  }
}

class RedisDifferentialTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RedisDifferentialTest, SameRepliesEffectsDumpsAndNativeValues) {
  AASIM_LAUNCH_REDIS(server);
  auto opened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<RedisStore> redis = std::move(opened).value();
  std::unique_ptr<Store> memory = NewMemoryStore(kA);
  std::unique_ptr<Store> peer = NewMemoryStore(kB);  // region B, writing concurrently
  RawRedis raw(server->port());
  ASSERT_TRUE(raw.ok());

  Rng rng(GetParam());
  uint64_t local_writes = 0, peer_seq = 0;
  for (int step = 0; step < 700; ++step) {
    int64_t clock = 1'000'000 + step * 1000;
    uint64_t what = rng.Uniform(10);
    if (what < 6) {  // a command in A, on both stores
      std::vector<std::string> argv = RandomCommand(rng);
      std::string e_mem, e_redis;
      Reply want = memory->Execute(argv, clock, &e_mem);
      Reply got = redis->Execute(argv, clock, &e_redis);
      ASSERT_EQ(got, want) << "step " << step << ": " << argv[0];
      ASSERT_EQ(e_redis, e_mem) << "step " << step;
      if (!e_mem.empty()) ++local_writes;
    } else if (what < 7) {  // a MULTI/EXEC batch in A
      std::vector<std::vector<std::string>> batch = {RandomCommand(rng), RandomCommand(rng),
                                                     RandomCommand(rng)};
      std::string e_mem, e_redis;
      auto want = memory->ExecuteBatch(batch, clock, &e_mem);
      auto got = redis->ExecuteBatch(batch, clock, &e_redis);
      ASSERT_EQ(got, want) << "step " << step;
      ASSERT_EQ(e_redis, e_mem) << "step " << step;
      if (!e_mem.empty()) ++local_writes;
    } else {  // a write in B, replicated to A (merged in both stores)
      std::string effect;
      peer->Execute(RandomCommand(rng), clock + 7, &effect);
      if (effect.empty()) continue;
      ++peer_seq;
      ASSERT_TRUE(memory->Merge(effect).ok());
      ASSERT_TRUE(redis->MergeFrom("B#1", peer_seq, effect).ok());
      if (rng.Chance(0.3)) {
        ASSERT_TRUE(redis->Flush().ok());
      }
    }
    if (step % 100 == 99) {
      ASSERT_TRUE(redis->Flush().ok());
      ExpectNativeValuesEqual(*memory, raw, "aasim");
    }
  }
  // B's full state (a full sync) merges the same way.
  ASSERT_TRUE(memory->Merge(peer->FullState()).ok());
  ASSERT_TRUE(redis->MergeFrom("B#1", peer_seq, peer->FullState()).ok());
  ASSERT_TRUE(redis->Flush().ok());

  EXPECT_EQ(redis->DumpAll(), memory->DumpAll());
  EXPECT_EQ(redis->FullState(), memory->FullState());
  EXPECT_EQ(redis->Keys(), memory->Keys());
  ExpectNativeValuesEqual(*memory, raw, "aasim");
  EXPECT_EQ(redis->LogHead(), local_writes);
  EXPECT_EQ(redis->Progress("B#1"), peer_seq);

  // A fresh store on the same server (a restarted aasim) holds exactly the same.
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ((*reopened)->DumpAll(), memory->DumpAll());
  EXPECT_EQ((*reopened)->FullState(), memory->FullState());
  EXPECT_EQ((*reopened)->LogHead(), local_writes);
  EXPECT_EQ((*reopened)->Progress("B#1"), peer_seq);
  // And it continues with the same dots: the next write's effect is the memory store's
  // (on a key the random commands never touch: one of theirs may hold a bounded counter).
  std::string e_mem, e_redis;
  EXPECT_EQ((*reopened)->Execute({"INCR", "fresh"}, 5'000'000, &e_redis),
            memory->Execute({"INCR", "fresh"}, 5'000'000, &e_mem));
  EXPECT_EQ(e_redis, e_mem);
  // The log holds every local effect, in order.
  auto log = (*reopened)->ReadLog(1, local_writes + 1);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), local_writes + 1);
  EXPECT_EQ(log->back().first, local_writes + 1);
  EXPECT_EQ(log->back().second, e_mem);
  ASSERT_TRUE((*reopened)->TrimLog(local_writes).ok());
  auto trimmed = (*reopened)->ReadLog(1, local_writes + 1);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(trimmed->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RedisDifferentialTest, ::testing::Values(1, 2, 3, 42));

// Single-region TTL commands: the memory store, run at the real wall clock, answers as a
// real redis-server. TTLs are long (the real clock moves little between the two calls);
// PTTL is compared with a tolerance, as Redis's own answer depends on when it runs.
TEST(RedisExpiryDifferentialTest, TtlCommandsReplyAsRedis) {
  AASIM_LAUNCH_REDIS(server);
  RawRedis raw(server->port());
  ASSERT_TRUE(raw.ok());
  std::unique_ptr<Store> memory = NewMemoryStore(kA);
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::string far = std::to_string(now_us() / 1'000'000 + 100000);
  const std::string far_ms = std::to_string(now_us() / 1000 + 200'000'000);
  const std::vector<std::vector<std::string>> script = {
      {"EXPIRE", "k", "100"},
      {"TTL", "k"},
      {"PTTL", "k"},
      {"PERSIST", "k"},
      {"SET", "k", "v"},
      {"TTL", "k"},
      {"EXPIRETIME", "k"},
      {"PEXPIRETIME", "k"},
      {"EXPIRE", "k", "100", "XX"},
      {"EXPIRE", "k", "100", "GT"},
      {"EXPIRE", "k", "100", "NX"},
      {"EXPIRE", "k", "200", "NX"},
      {"TTL", "k"},
      {"EXPIRE", "k", "50", "GT"},
      {"EXPIRE", "k", "500", "GT"},
      {"TTL", "k"},
      {"EXPIRE", "k", "600", "LT"},
      {"PEXPIRE", "k", "300000", "LT"},
      {"PTTL", "k"},
      {"EXPIREAT", "k", far},
      {"EXPIRETIME", "k"},
      {"PEXPIREAT", "k", far_ms},
      {"PEXPIRETIME", "k"},
      {"EXPIRE", "k", "1", "NX", "XX"},
      {"EXPIRE", "k", "1", "GT", "LT"},
      {"EXPIRE", "k", "1", "BOGUS"},
      {"EXPIRE", "k", "x"},
      {"EXPIRE", "k", "9223372036854775807"},
      {"PEXPIRE", "k", "9223372036854775807"},
      {"EXPIRE", "k"},
      {"TTL"},
      {"PERSIST", "k"},
      {"TTL", "k"},
      {"PERSIST", "k"},
      {"SET", "k", "v", "EX", "100"},
      {"TTL", "k"},
      {"SET", "k", "w", "KEEPTTL"},
      {"TTL", "k"},
      {"SET", "k", "x"},
      {"TTL", "k"},
      {"SET", "k", "v", "EX", "5", "EX", "700"},
      {"TTL", "k"},
      {"SET", "k", "v", "EX", "0"},
      {"SET", "k", "v", "PX", "-3"},
      {"SET", "k", "v", "EX", "x"},
      {"SET", "k", "v", "EX"},
      {"SET", "k", "v", "KEEPTTL", "EX", "5"},
      {"SET", "k", "v", "EX", "5", "PX", "5"},
      {"SET", "k", "v", "EXAT", far},
      {"EXPIRETIME", "k"},
      {"SET", "k", "v", "PXAT", far_ms},
      {"PEXPIRETIME", "k"},
      {"SET", "k", "v", "EX", "10", "NX"},
      {"SET", "k2", "v", "EX", "10", "XX"},
      {"SETEX", "s", "100", "v"},
      {"TTL", "s"},
      {"PSETEX", "s", "100000", "v"},
      {"TTL", "s"},
      {"SETEX", "s", "0", "v"},
      {"PSETEX", "s", "-1", "v"},
      {"SETEX", "s", "x", "v"},
      {"SETEX", "s", "10"},
      {"GETEX", "nope"},
      {"GETEX", "s", "EX", "300"},
      {"TTL", "s"},
      {"GETEX", "s", "PERSIST"},
      {"TTL", "s"},
      {"GETEX", "s", "PX", "200000"},
      {"TTL", "s"},
      {"GETEX", "s", "EXAT", far},
      {"EXPIRETIME", "s"},
      {"GETEX", "s", "PXAT", far_ms},
      {"PEXPIRETIME", "s"},
      {"GETEX", "s", "EX", "1", "PX", "1"},
      {"GETEX", "s", "EX", "0"},
      {"GETEX", "s", "PERSIST", "EX", "5"},
      {"GETEX", "s", "BOGUS"},
      {"SADD", "t", "m"},
      {"GETEX", "t"},
      {"EXPIRE", "t", "100"},
      {"TTL", "t"},
      {"SADD", "t", "n"},
      {"TTL", "t"},
      {"HSET", "h", "f", "v"},
      {"EXPIRE", "h", "100"},
      {"HSET", "h", "g", "w"},
      {"TTL", "h"},
      {"INCR", "c"},
      {"EXPIRE", "c", "100"},
      {"INCR", "c"},
      {"TTL", "c"},
      {"EXPIRE", "c", "-1"},
      {"EXISTS", "c"},
      {"GETEX", "s", "PXAT", "1"},
      {"EXISTS", "s"},
      {"DEL", "t"},
      {"TTL", "t"},
      {"MSET", "h2", "1", "k", "2"},
      {"TTL", "k"},
  };
  for (const auto& argv : script) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    Reply want = raw.Run(argv);
    Reply got = memory->Execute(argv, now_us(), nullptr);
    if (argv[0] == "PTTL" && want.type == Reply::Type::kInteger &&
        got.type == Reply::Type::kInteger && want.integer > 0) {
      EXPECT_NEAR(got.integer, want.integer, 1000) << line;
      continue;
    }
    EXPECT_EQ(got, want) << line;
  }
}

// The native key carries the TTL `redis-cli TTL` shows (the time left on the region's
// clock), and the TTL survives a reload from the metadata.
TEST(RedisStoreTest, NativeKeysCarryTheTtlAndMetadataRoundTrips) {
  AASIM_LAUNCH_REDIS(server);
  auto opened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<RedisStore> redis = std::move(opened).value();
  RawRedis raw(server->port());
  ASSERT_TRUE(raw.ok());
  const int64_t clock = 5'000'000;  // 5 s of virtual wall clock
  EXPECT_EQ(redis->Execute({"SET", "k", "v", "EX", "100"}, clock, nullptr), Reply::Status("OK"));
  EXPECT_EQ(redis->Execute({"SADD", "s", "m"}, clock, nullptr), Reply::Integer(1));
  EXPECT_EQ(redis->Execute({"PEXPIRE", "s", "30000"}, clock + 1000, nullptr), Reply::Integer(1));
  ASSERT_TRUE(redis->Flush().ok());
  EXPECT_EQ(raw.Run({"TTL", "k"}), Reply::Integer(100));
  Reply pttl = raw.Run({"PTTL", "s"});
  ASSERT_EQ(pttl.type, Reply::Type::kInteger);
  EXPECT_NEAR(pttl.integer, 29999, 1000);
  EXPECT_EQ(redis->Execute({"PERSIST", "k"}, clock, nullptr), Reply::Integer(1));
  ASSERT_TRUE(redis->Flush().ok());
  EXPECT_EQ(raw.Run({"TTL", "k"}), Reply::Integer(-1));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ((*reopened)->FullState(), redis->FullState());
  EXPECT_EQ((*reopened)->Execute({"PTTL", "s"}, clock + 1000, nullptr), Reply::Integer(30000));
  EXPECT_EQ((*reopened)->Execute({"TTL", "k"}, clock, nullptr), Reply::Integer(-1));
}

// A hash with HINCRBYFLOAT counters needs the keyspace header's second byte: the store
// reloads it from the metadata, and its effect names its key (KeyspaceStore::EncodedKeys).
TEST(RedisStoreTest, HashFloatCountersReloadFromTheMetadata) {
  AASIM_LAUNCH_REDIS(server);
  auto opened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<RedisStore> redis = std::move(opened).value();
  std::string effect;
  EXPECT_EQ(redis->Execute({"HINCRBYFLOAT", "h", "f", "1.5"}, 1000, &effect), Reply::Bulk("1.5"));
  std::vector<std::string> keys;
  ASSERT_TRUE(KeyspaceStore::EncodedKeys(effect, &keys));
  EXPECT_EQ(keys, std::vector<std::string>{"h"});
  EXPECT_EQ(redis->Execute({"SET", "k", "v", "EX", "100"}, 1000, nullptr), Reply::Status("OK"));
  ASSERT_TRUE(redis->Flush().ok());
  RawRedis raw(server->port());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.Run({"HGET", "h", "f"}), Reply::Bulk("1.5"));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ((*reopened)->FullState(), redis->FullState());
  EXPECT_EQ((*reopened)->Execute({"HINCRBYFLOAT", "h", "f", "1"}, 1000, nullptr),
            Reply::Bulk("2.5"));
}

// ------------------------------------------------------------------------- features

// Region A on Redis and on memory, region B on memory, each told the regions A and B
// (redis is null if Redis refused to open).
struct AOnRedisAndMemory {
  std::unique_ptr<RedisStore> redis;
  std::unique_ptr<Store> memory;
  std::unique_ptr<Store> b;
};
AOnRedisAndMemory OpenAOnRedisAndMemory(const RedisStoreOptions& options) {
  AOnRedisAndMemory s;
  auto opened = RedisStore::Open(kA, options);
  if (opened.ok()) s.redis = std::move(opened).value();
  s.memory = NewMemoryStore(kA);
  s.b = NewMemoryStore(kB);
  for (Store* x : {static_cast<Store*>(s.redis.get()), s.memory.get(), s.b.get()}) {
    if (x != nullptr) x->SetRegionNames({"A", "B"});
  }
  return s;
}

// The BC.* script (bounded_counter_script.h) with region A on Redis and on memory, B on
// memory: the expected replies, the same effects, the native value a string of the
// counter's value (GET from a plain client), and a reopened store holding the same.
TEST(RedisStoreTest, BoundedCounterScriptAndNativeValue) {
  AASIM_LAUNCH_REDIS(server);
  AOnRedisAndMemory stores = OpenAOnRedisAndMemory(OptionsFor(*server, "A"));
  ASSERT_NE(stores.redis, nullptr);
  std::unique_ptr<RedisStore>& redis = stores.redis;
  std::unique_ptr<Store>& memory = stores.memory;
  std::unique_ptr<Store>& b = stores.b;
  RawRedis raw(server->port());
  std::vector<std::string> from_a, from_b;
  uint64_t b_seq = 0;
  int64_t clock = 1000;
  for (const testing::BcStep& step : testing::BoundedCounterScript()) {
    SCOPED_TRACE(std::string(1, step.region) + ": " + step.command);
    std::vector<std::string> argv;
    for (size_t i = 0; i < step.command.size();) {
      size_t j = std::min(step.command.find(' ', i), step.command.size());
      argv.push_back(step.command.substr(i, j - i));
      i = j + 1;
    }
    clock += 1000;
    if (step.region == 'S') {
      for (const std::string& e : from_a) ASSERT_TRUE(b->Merge(e).ok());
      for (const std::string& e : from_b) {
        ASSERT_TRUE(memory->Merge(e).ok());
        ASSERT_TRUE(redis->MergeFrom("B#1", ++b_seq, e).ok());
      }
      ASSERT_TRUE(redis->Flush().ok());
      from_a.clear();
      from_b.clear();
    } else if (step.region == 'B') {
      std::string effect;
      EXPECT_EQ(b->Execute(argv, clock, &effect), step.want);
      if (!effect.empty()) from_b.push_back(std::move(effect));
    } else {
      std::string e_mem, e_redis;
      EXPECT_EQ(memory->Execute(argv, clock, &e_mem), step.want);
      EXPECT_EQ(redis->Execute(argv, clock, &e_redis), step.want);
      EXPECT_EQ(e_redis, e_mem);
      if (!e_mem.empty()) from_a.push_back(std::move(e_mem));
    }
  }
  EXPECT_EQ(redis->FullState(), memory->FullState());
  EXPECT_EQ(raw.Run({"GET", "acct"}), Reply::Bulk("5"));
  EXPECT_EQ(raw.Run({"TYPE", "acct"}), Reply::Status("string"));
  EXPECT_EQ(raw.Run({"GET", "big"}), Reply::Bulk("0"));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  (*reopened)->SetRegionNames({"A", "B"});
  EXPECT_EQ((*reopened)->FullState(), memory->FullState());
  EXPECT_EQ((*reopened)->Execute({"BC.RIGHTS", "acct"}, clock, nullptr),
            memory->Execute({"BC.RIGHTS", "acct"}, clock, nullptr));
}

TEST(RedisStoreTest, CounterIsANativeStringAndKeyVersionsMove) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok()) << store.status().message();
  RawRedis raw(server->port());
  uint64_t v0 = (*store)->KeyVersion("foo");
  EXPECT_EQ((*store)->Execute({"INCRBY", "foo", "25"}, 1, nullptr), Reply::Integer(25));
  EXPECT_EQ(raw.Run({"GET", "foo"}), Reply::Bulk("25"));
  EXPECT_EQ(raw.Run({"OBJECT", "ENCODING", "foo"}), Reply::Bulk("int"));
  uint64_t v1 = (*store)->KeyVersion("foo");
  EXPECT_NE(v1, v0);
  (*store)->Execute({"GET", "foo"}, 2, nullptr);
  EXPECT_EQ((*store)->KeyVersion("foo"), v1);  // a read does not move it
  (*store)->Execute({"DEL", "foo"}, 3, nullptr);
  EXPECT_EQ(raw.Run({"EXISTS", "foo"}), Reply::Integer(0));
  EXPECT_NE((*store)->KeyVersion("foo"), v1);
}

// Counters past the bound (crdt/pn_counter.h): three regions' concurrent steps, each inside
// the bound in its own view, merge to 21 * 2^59. The native value is the exact sum GET
// shows, past 64 bits too (Redis itself then refuses INCR on it: not an integer), the
// region refuses a step farther out, and INCRBY 0 makes a native "0" as Redis does.
TEST(RedisStoreTest, CounterPastTheBoundIsExactNatively) {
  constexpr int64_t kBound = int64_t{1} << 59;
  AASIM_LAUNCH_REDIS(server);
  auto a = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  RawRedis raw(server->port());
  std::unique_ptr<Store> b = NewMemoryStore(kB);
  std::unique_ptr<Store> c = NewMemoryStore(crdt::MakeReplicaId(2, 1));
  std::vector<Store*> regions = {a->get(), b.get(), c.get()};
  int64_t clock = 1;
  for (int64_t by : {kBound, -4 * kBound, 10 * kBound}) {
    std::vector<std::string> effects(3);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(regions[i]->Execute({"INCRBY", "n", std::to_string(by)}, ++clock, &effects[i]),
                Reply::Integer(by > 0 ? kBound : -kBound));
    }
    for (size_t i = 0; i < 3; ++i) {
      for (size_t j = 0; j < 3; ++j) {
        if (i != j) {
          ASSERT_TRUE(regions[j]->Merge(effects[i]).ok());
        }
      }
    }
  }
  ASSERT_TRUE((*a)->Flush().ok());  // merges are committed in batches
  EXPECT_EQ((*a)->Execute({"GET", "n"}, ++clock, nullptr), Reply::Bulk("12105675798371893248"));
  EXPECT_EQ(raw.Run({"GET", "n"}), Reply::Bulk("12105675798371893248"));
  EXPECT_EQ(raw.Run({"INCR", "n"}), Reply::Error("ERR value is not an integer or out of range"));
  EXPECT_EQ((*a)->Execute({"INCR", "n"}, ++clock, nullptr),
            Reply::Error("ERR increment or decrement would overflow"));
  EXPECT_EQ((*a)->Execute({"DECRBY", "n", "9223372036854775807"}, ++clock, nullptr),
            Reply::Integer(5 * kBound + 1));
  EXPECT_EQ(raw.Run({"GET", "n"}), Reply::Bulk(std::to_string(5 * kBound + 1)));
  EXPECT_EQ((*a)->Execute({"INCRBY", "z", "0"}, ++clock, nullptr), Reply::Integer(0));
  EXPECT_EQ(raw.Run({"GET", "z"}), Reply::Bulk("0"));
  EXPECT_EQ((*a)->Execute({"DEL", "n"}, ++clock, nullptr), Reply::Integer(1));
  EXPECT_EQ((*a)->Execute({"INCR", "n"}, ++clock, nullptr), Reply::Integer(1));
  EXPECT_EQ(raw.Run({"GET", "n"}), Reply::Bulk("1"));
}

// Geo sets are native sorted sets on the server: Redis's own GEO commands read what the
// store wrote, and the store answers as Redis does.
TEST(RedisStoreTest, GeoSetsAreNativeSortedSets) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok()) << store.status().message();
  RawRedis raw(server->port());
  const std::vector<std::string> add = {"GEOADD",  "sicily",      "13.361389", "38.115556",
                                        "Palermo", "15.087269",   "37.502669", "Catania",
                                        "-180",    "85.05112878", "edge"};
  EXPECT_EQ((*store)->Execute(add, 1, nullptr), Reply::Integer(3));
  EXPECT_EQ(raw.Run({"TYPE", "sicily"}), Reply::Status("zset"));
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"GEOPOS", "sicily", "Palermo", "edge", "nope"},
           {"GEODIST", "sicily", "Palermo", "Catania", "km"},
           {"GEOHASH", "sicily", "Palermo", "Catania", "edge"},
           {"GEOSEARCH", "sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC",
            "WITHCOORD", "WITHDIST", "WITHHASH"},
           {"ZRANGE", "sicily", "0", "-1", "WITHSCORES"}}) {
    EXPECT_EQ(AsHiredisReadsIt((*store)->Execute(argv, 2, nullptr)), raw.Run(argv)) << argv[0];
  }
  EXPECT_EQ((*store)->Execute({"GEOSEARCHSTORE", "near", "sicily", "FROMMEMBER", "Catania",
                               "BYRADIUS", "100", "km", "STOREDIST"},
                              3, nullptr),
            Reply::Integer(1));
  EXPECT_EQ(raw.Run({"ZRANGE", "near", "0", "-1", "WITHSCORES"}),
            Reply::BulkArray({"Catania", "0"}));
}

TEST(RedisStoreTest, StreamCommandsAreForwardedAndNotReplicated) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  std::string effect;
  Reply id = (*store)->Execute({"XADD", "events", "1-1", "kind", "signup"}, 1, &effect);
  EXPECT_EQ(id, Reply::Bulk("1-1"));
  EXPECT_TRUE(effect.empty());
  EXPECT_EQ((*store)->Execute({"xlen", "events"}, 1, &effect), Reply::Integer(1));
  Reply range = (*store)->Execute({"XRANGE", "events", "-", "+"}, 1, &effect);
  ASSERT_EQ(range.elements.size(), 1u);
  EXPECT_EQ(range.elements[0].elements[1], Reply::BulkArray({"kind", "signup"}));
  Reply err = (*store)->Execute({"XADD", "events", "1-1", "k", "v"}, 1, &effect);
  EXPECT_TRUE(err.is_error());  // Redis's own error text
  EXPECT_NE(err.str.find("ERR The ID specified in XADD"), std::string::npos) << err.str;
  EXPECT_TRUE(effect.empty());
}

// Replicated streams: the native value is a Redis stream of the region's merged entries
// (its own and a peer's), with the last id and the visible groups; XDEL and a DEL show
// there too, and a reopened store (from the metadata) holds the same state.
TEST(RedisStoreTest, ReplicatedStreamsAreNativeStreams) {
  AASIM_LAUNCH_REDIS(server);
  AOnRedisAndMemory stores = OpenAOnRedisAndMemory(OptionsFor(*server, "A"));
  ASSERT_NE(stores.redis, nullptr);
  std::unique_ptr<RedisStore>& redis = stores.redis;
  std::unique_ptr<Store>& memory = stores.memory;
  for (Store* s : {static_cast<Store*>(redis.get()), memory.get(), stores.b.get()}) {
    s->SetStreamOptions(true, crdt::StreamIdMode::kStrict);
  }
  RawRedis raw(server->port());
  auto both = [&](const std::vector<std::string>& argv, int64_t clock) {
    std::string e_mem, e_redis;
    Reply want = memory->Execute(argv, clock, &e_mem);
    EXPECT_EQ(redis->Execute(argv, clock, &e_redis), want) << argv[0];
    EXPECT_EQ(e_redis, e_mem) << argv[0];
    return want;
  };
  EXPECT_EQ(both({"XADD", "s", "*", "f", "a"}, 5'000), Reply::Bulk("5-1"));
  std::string from_b;
  EXPECT_EQ(stores.b->Execute({"XADD", "s", "*", "f", "b"}, 7'000, &from_b), Reply::Bulk("7-2"));
  ASSERT_TRUE(memory->Merge(from_b).ok());
  ASSERT_TRUE(redis->MergeFrom("B#1", 1, from_b).ok());
  EXPECT_EQ(both({"XGROUP", "CREATE", "s", "g", "0"}, 8'000), Reply::Status("OK"));
  EXPECT_EQ(both({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"}, 8'000)
                .elements.size(),
            1u);
  EXPECT_EQ(both({"XACK", "s", "g", "5-1"}, 8'000), Reply::Integer(1));
  ASSERT_TRUE(redis->Flush().ok());
  EXPECT_EQ(raw.Run({"TYPE", "s"}), Reply::Status("stream"));
  const Reply both_entries =
      Reply::Array({Reply::Array({Reply::Bulk("5-1"), Reply::BulkArray({"f", "a"})}),
                    Reply::Array({Reply::Bulk("7-2"), Reply::BulkArray({"f", "b"})})});
  EXPECT_EQ(raw.Run({"XRANGE", "s", "-", "+"}), both_entries);
  EXPECT_EQ(redis->Execute({"XRANGE", "s", "-", "+"}, 9'000, nullptr), both_entries);
  Reply groups = raw.Run({"XINFO", "GROUPS", "s"});
  ASSERT_EQ(groups.elements.size(), 1u);
  EXPECT_EQ(groups.elements[0].elements[1], Reply::Bulk("g"));
  // The group is acknowledged up to A's entry (5-1): the native group is there at it.
  EXPECT_EQ(groups.elements[0].elements[7], Reply::Bulk("5-1"));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  (*reopened)->SetStreamOptions(true, crdt::StreamIdMode::kStrict);
  EXPECT_EQ((*reopened)->FullState(), memory->FullState());
  (*reopened).reset();
  EXPECT_EQ(both({"XDEL", "s", "5-1"}, 9'000), Reply::Integer(1));
  ASSERT_TRUE(redis->Flush().ok());
  EXPECT_EQ(raw.Run({"XLEN", "s"}), Reply::Integer(1));
  EXPECT_EQ(raw.Run({"XINFO", "STREAM", "s"}).elements[7], Reply::Bulk("7-2"));  // last id
  EXPECT_EQ(both({"DEL", "s"}, 10'000), Reply::Integer(1));
  ASSERT_TRUE(redis->Flush().ok());
  EXPECT_EQ(raw.Run({"EXISTS", "s"}), Reply::Integer(0));
  // Unknown X... commands are the engine's unknown commands, not sent to Redis.
  EXPECT_TRUE(redis->Execute({"XINFO", "STREAM", "s"}, 10'000, nullptr).is_error());
}

TEST(RedisStoreTest, KeysUnderTheMetadataPrefixAreRefused) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  RawRedis raw(server->port());
  EXPECT_EQ((*store)->Execute({"INCR", "n"}, 1, nullptr), Reply::Integer(1));
  Reply cc = raw.Run({"GET", "aasim:cc"});
  std::string effect;
  Reply r = (*store)->Execute({"SET", "aasim:cc", "boom"}, 2, &effect);
  ASSERT_TRUE(r.is_error());
  EXPECT_NE(r.str.find("reserved for aasim's metadata"), std::string::npos) << r.str;
  EXPECT_TRUE(effect.empty());
  EXPECT_EQ(raw.Run({"GET", "aasim:cc"}), cc);
  // In a batch, only the refused command fails (in its place), as a run-time error.
  auto replies = (*store)->ExecuteBatch({{"INCR", "n"}, {"SADD", "aasim:m:1", "x"}}, 3, &effect);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0], Reply::Integer(2));
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_FALSE(effect.empty());
  EXPECT_EQ(raw.Run({"HEXISTS", "aasim:m:1", "x"}), Reply::Integer(0));
  EXPECT_EQ((*store)->Execute({"GET", "n"}, 4, nullptr), Reply::Bulk("2"));
  EXPECT_EQ((*store)->Execute({"EXISTS", "aasim:cc"}, 4, nullptr), Reply::Integer(0));
  EXPECT_EQ((*store)->Execute({"INCR", "n"}, 5, nullptr), Reply::Integer(3));
  EXPECT_EQ((*store)->Execute({"SET", "aasim2:x", "fine"}, 6, nullptr), Reply::Status("OK"));
}

TEST(RedisStoreTest, ScriptFlushIsRepairedByReloadingTheScript) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  RawRedis raw(server->port());
  EXPECT_EQ((*store)->Execute({"SADD", "s", "a"}, 1, nullptr), Reply::Integer(1));
  EXPECT_EQ(raw.Run({"SCRIPT", "FLUSH"}), Reply::Status("OK"));
  EXPECT_EQ((*store)->Execute({"SADD", "s", "b"}, 2, nullptr), Reply::Integer(1));
  EXPECT_EQ(raw.Run({"SCARD", "s"}), Reply::Integer(2));
  EXPECT_EQ((*store)->reconnects(), 0u);  // no reconnection was needed
}

// A write after a kill -9 and restart (AOF): the store reconnects, reloads, and runs it.
TEST(RedisStoreTest, ServerRestartBetweenWritesIsInvisible) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 20; ++i) (*store)->Execute({"INCR", "c"}, i, nullptr);
  server->Kill();
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ((*store)->Execute({"INCR", "c"}, 100, nullptr), Reply::Integer(21));
  EXPECT_EQ((*store)->reconnects(), 1u);
  RawRedis raw(server->port());
  EXPECT_EQ(raw.Run({"GET", "c"}), Reply::Bulk("21"));
}

// A Redis that stays down: commands get an error naming the region and the address,
// merges are refused (not acknowledged), nothing acknowledged is lost, and the store comes
// back once the server does.
TEST(RedisStoreTest, ServerDownMakesTheRegionUnavailableThenRecovers) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  std::unique_ptr<Store> peer = NewMemoryStore(kB);
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ((*store)->Execute({"SADD", "s", "m" + std::to_string(i)}, i, nullptr),
              Reply::Integer(1));
  }
  server->Kill();
  std::string effect;
  Reply r = (*store)->Execute({"SADD", "s", "lost"}, 50, &effect);
  ASSERT_TRUE(r.is_error());
  EXPECT_NE(r.str.find("CLUSTERDOWN region A: redis 127.0.0.1:" + std::to_string(server->port())),
            std::string::npos)
      << r.str;
  EXPECT_TRUE(effect.empty());  // not acknowledged, not replicated
  EXPECT_FALSE((*store)->available());
  std::string peer_effect;
  peer->Execute({"SADD", "s", "from-b"}, 60, &peer_effect);
  Status merged = (*store)->MergeFrom("B#1", 1, peer_effect);
  if (merged.ok()) merged = (*store)->Flush();
  EXPECT_EQ(merged.code(), StatusCode::kUnavailable);
  EXPECT_TRUE((*store)->Execute({"SCARD", "s"}, 61, nullptr).is_error());

  ASSERT_TRUE(server->Start().ok());
  Reply card;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    card = (*store)->Execute({"SCARD", "s"}, 70, nullptr);
    if (!card.is_error()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(card, Reply::Integer(30));  // all 30 acknowledged, the refused one absent
  EXPECT_TRUE((*store)->available());
  // The sender retransmits; now it is kept.
  ASSERT_TRUE((*store)->MergeFrom("B#1", 1, peer_effect).ok());
  ASSERT_TRUE((*store)->Flush().ok());
  EXPECT_EQ((*store)->Progress("B#1"), 1u);
  RawRedis raw(server->port());
  EXPECT_EQ(raw.Run({"SCARD", "s"}), Reply::Integer(31));
  EXPECT_EQ(raw.Run({"SISMEMBER", "s", "from-b"}), Reply::Integer(1));
}

// Region A's options with write-behind of `window` commits, every failure it reports
// appended to *failures.
RedisStoreOptions WriteBehindOptionsFor(const RedisServer& server, size_t window,
                                        std::vector<std::string>* failures) {
  RedisStoreOptions o = OptionsFor(server, "A");
  o.write_behind = window;
  o.on_write_behind_failure = [failures](const std::string& why) { failures->push_back(why); };
  return o;
}

// Write-behind (the simulator's mode): commits are pipelined, yet every one is in Redis
// once anything reads from it, and when the store closes; merges and log trims too.
TEST(RedisStoreTest, WriteBehindCommitsArriveInOrderAndAtClose) {
  AASIM_LAUNCH_REDIS(server);
  std::vector<std::string> failures;
  const RedisStoreOptions o = WriteBehindOptionsFor(*server, 8, &failures);
  std::unique_ptr<Store> peer = NewMemoryStore(kB);
  {
    auto store = RedisStore::Open(kA, o);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 21; ++i) {  // not a multiple of the window: some are owed at the end
      ASSERT_EQ((*store)->Execute({"INCR", "c"}, i, nullptr), Reply::Integer(i + 1));
    }
    std::string effect;
    peer->Execute({"SADD", "s", "from-b"}, 30, &effect);
    ASSERT_TRUE((*store)->MergeFrom("B#1", 1, effect).ok());
    ASSERT_TRUE((*store)->Flush().ok());
    ASSERT_TRUE((*store)->TrimLog(20).ok());
    // A read from Redis (the log) sees every commit sent before it.
    auto log = (*store)->ReadLog(1, 21);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 1u);  // 1..20 trimmed, in order after their XADDs
    EXPECT_EQ((*log)[0].first, 21u);
    EXPECT_EQ((*store)->Execute({"INCR", "c"}, 40, nullptr), Reply::Integer(22));
  }  // closing reads the owed replies
  EXPECT_TRUE(failures.empty());
  RawRedis raw(server->port());
  EXPECT_EQ(raw.Run({"GET", "c"}), Reply::Bulk("22"));
  EXPECT_EQ(raw.Run({"SISMEMBER", "s", "from-b"}), Reply::Integer(1));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->LogHead(), 22u);
  EXPECT_EQ((*reopened)->Progress("B#1"), 1u);
}

// A write to a metadata key is refused before it runs: it changes nothing, in the working
// copy or in Redis, not even the causal context (no dot of it; a store reopened from
// Redis equals an in-memory store that ran the same commands minus the refused ones), and
// with write-behind writes pending too. Every way a command may name the key is refused:
// its key range, SORT's and GEORADIUS's STORE, COPY's destination, a movable pop's keys,
// and the region-local stream commands that would change the replication log (a stream in
// Redis, XSETID and XCLAIM too, though the command table lacks them); a key only read (a
// source) is not refused, and a read of the log goes to Redis.
TEST(RedisStoreTest, ARefusedWriteChangesNothing) {
  AASIM_LAUNCH_REDIS(server);
  std::vector<std::string> failures;
  const RedisStoreOptions o = WriteBehindOptionsFor(*server, 1000, &failures);
  std::unique_ptr<Store> mirror = NewMemoryStore(kA);  // the same commands, minus the refused
  RawRedis raw(server->port());
  {
    auto store = RedisStore::Open(kA, o);
    ASSERT_TRUE(store.ok());
    int64_t t = 0;
    auto both = [&](const std::vector<std::string>& argv) {
      ++t;
      Reply r = (*store)->Execute(argv, t, nullptr);
      EXPECT_EQ(mirror->Execute(argv, t, nullptr), r) << argv[0];
    };
    both({"INCR", "n"});
    both({"RPUSH", "l", "b", "a"});
    both({"GEOADD", "g", "13.36", "38.11", "p"});
    std::string before = (*store)->FullState();
    const std::vector<std::vector<std::string>> refused = {
        {"SET", "aasim:x", "1"},
        {"MSET", "k", "1", "aasim:x", "2"},
        {"RENAME", "l", "aasim:l"},
        {"SORT", "l", "ALPHA", "STORE", "aasim:s"},
        {"GEORADIUS", "g", "13", "38", "100", "km", "STOREDIST", "aasim:g"},
        {"XADD", "aasim:log", "*", "e", "x"},
        {"XTRIM", "aasim:log", "MAXLEN", "0"},
        {"XGROUP", "CREATE", "aasim:log", "g", "0"},
        {"XSETID", "aasim:log", "99999999999-0"},  // not in the command table
        {"XCLAIM", "aasim:log", "g", "c", "0", "1-0"},
        {"LMPOP", "2", "l", "aasim:l", "LEFT"},
        {"COPY", "l", "aasim:l"},
    };
    for (const std::vector<std::string>& argv : refused) {
      ++t;
      std::string effect;
      Reply r = (*store)->Execute(argv, t, &effect);
      ASSERT_TRUE(r.is_error()) << argv[0];
      EXPECT_NE(r.str.find("reserved for aasim's metadata"), std::string::npos) << r.str;
      EXPECT_TRUE(effect.empty()) << argv[0];
      EXPECT_EQ((*store)->FullState(), before) << argv[0];
    }
    // A key only read is not refused: a source, as any read, finds nothing there.
    both({"SORT", "aasim:x"});
    both({"COPY", "aasim:x", "k2"});
    both({"SUNIONSTORE", "k3", "aasim:x"});
    both({"INCR", "n"});  // written behind, with the refused writes' neighbours
    EXPECT_EQ((*store)->Execute({"EXISTS", "aasim:x", "aasim:l", "aasim:s"}, t, nullptr),
              Reply::Integer(0));
    // The log (XADD of each of the 4 writes) is Redis's: a region-local stream read shows it.
    EXPECT_EQ((*store)->Execute({"XLEN", "aasim:log"}, t, nullptr), Reply::Integer(4));
  }  // closing commits and reads what is owed
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(raw.Run({"XLEN", "aasim:log"}), Reply::Integer(4));
  EXPECT_EQ(raw.Run({"XINFO", "GROUPS", "aasim:log"}), Reply::Array({}));
  for (const char* key : {"aasim:x", "aasim:l", "aasim:s", "aasim:g", "k"}) {
    EXPECT_EQ(raw.Run({"EXISTS", key}), Reply::Integer(0)) << key;
  }
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->FullState(), mirror->FullState());
  EXPECT_EQ((*reopened)->LogHead(), 4u);
}

// A MULTI with a refused command in the middle: the others run, and EXEC's array holds the
// error in its place, the shape a redis-server gives for a command failing at run time
// (there, a WRONGTYPE).
TEST(RedisStoreTest, ARefusedCommandInMultiFailsInItsPlace) {
  AASIM_LAUNCH_REDIS(server);
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(store.ok());
  std::vector<std::string> effects;
  int64_t t = 0;
  Session session(StoreBackend(
      **store, [&t] { return ++t; }, [&](std::string e) { effects.push_back(std::move(e)); }));
  ASSERT_EQ(session.Execute({"MULTI"}), Reply::Status("OK"));
  ASSERT_EQ(session.Execute({"INCR", "n"}), Reply::Status("QUEUED"));
  ASSERT_EQ(session.Execute({"SET", "aasim:x", "1"}), Reply::Status("QUEUED"));
  ASSERT_EQ(session.Execute({"INCR", "n"}), Reply::Status("QUEUED"));
  Reply exec = session.Execute({"EXEC"});
  RawRedis raw(server->port());
  ASSERT_EQ(raw.Run({"SELECT", "1"}), Reply::Status("OK"));  // away from the store's db 0
  ASSERT_EQ(raw.Run({"RPUSH", "list", "a"}), Reply::Integer(1));
  ASSERT_EQ(raw.Run({"MULTI"}), Reply::Status("OK"));
  ASSERT_EQ(raw.Run({"INCR", "n"}), Reply::Status("QUEUED"));
  ASSERT_EQ(raw.Run({"INCR", "list"}), Reply::Status("QUEUED"));  // WRONGTYPE when run
  ASSERT_EQ(raw.Run({"INCR", "n"}), Reply::Status("QUEUED"));
  Reply real = raw.Run({"EXEC"});
  ASSERT_EQ(real.type, Reply::Type::kArray);
  ASSERT_EQ(exec.type, real.type) << exec.ToString();
  ASSERT_EQ(exec.elements.size(), real.elements.size()) << exec.ToString();
  for (size_t i = 0; i < real.elements.size(); ++i) {
    EXPECT_EQ(exec.elements[i].type, real.elements[i].type) << i << ": " << exec.ToString();
  }
  EXPECT_EQ(exec.elements[0], Reply::Integer(1));
  EXPECT_NE(exec.elements[1].str.find("reserved for aasim's metadata"), std::string::npos);
  EXPECT_EQ(exec.elements[2], Reply::Integer(2));
  ASSERT_EQ(effects.size(), 1u);  // the batch's one effect: the two INCRs
  std::unique_ptr<Store> peer = NewMemoryStore(kB);
  ASSERT_TRUE(peer->Merge(effects[0]).ok());
  EXPECT_EQ(peer->DumpAll(), (*store)->DumpAll());
  EXPECT_EQ(raw.Run({"SELECT", "0"}), Reply::Status("OK"));
  EXPECT_EQ(raw.Run({"GET", "n"}), Reply::Bulk("2"));
  EXPECT_EQ(raw.Run({"EXISTS", "aasim:x"}), Reply::Integer(0));
}

// In a script, redis.call of a refused write raises (the script stops there; what it wrote
// before stays, as with any failing call in Redis) and redis.pcall returns the error (the
// script goes on). A script that changed a key a write-behind write had changed, then hit
// the refused key, leaves no divergence: its earlier write is its effect, sent to peers as
// stored here (before, the reload kept it in this region's stored value only).
TEST(RedisStoreTest, ARefusedWriteInAScriptRaisesOrIsReturned) {
  AASIM_LAUNCH_REDIS(server);
  std::vector<std::string> failures;
  const RedisStoreOptions o = WriteBehindOptionsFor(*server, 1000, &failures);
  std::unique_ptr<Store> mirror = NewMemoryStore(kA);  // the same, minus the refused calls
  std::unique_ptr<Store> peer = NewMemoryStore(kB);    // what A sends
  {
    auto store = RedisStore::Open(kA, o);
    ASSERT_TRUE(store.ok());
    std::vector<std::string> effects(3);
    ASSERT_EQ((*store)->Execute({"INCR", "n"}, 1, &effects[0]), Reply::Integer(1));  // pending
    ASSERT_EQ(mirror->Execute({"INCR", "n"}, 1, nullptr), Reply::Integer(1));
    Reply r = (*store)->Execute(
        {"EVAL",
         "redis.call('INCR', 'n'); redis.call('SET', 'aasim:x', '1'); redis.call('INCR', 'm')",
         "0"},
        2, &effects[1]);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.str.rfind("ERR key 'aasim:x' is reserved for aasim's metadata (prefix 'aasim:') "
                          "script: ",
                          0),
              0u)
        << r.str;
    EXPECT_NE(r.str.find(", on @user_script:1."), std::string::npos) << r.str;
    ASSERT_TRUE(mirror->Execute({"EVAL", "redis.call('INCR', 'n')", "0"}, 2, nullptr).is_nil());
    Reply p = (*store)->Execute({"EVAL",
                                 "local r = redis.pcall('SADD', 'aasim:m:1', 'x'); "
                                 "return {r['err'], redis.call('INCR', 'm')}",
                                 "0"},
                                3, &effects[2]);
    EXPECT_EQ(p, Reply::Array({Reply::Bulk("ERR key 'aasim:m:1' is reserved for aasim's metadata "
                                           "(prefix 'aasim:')"),
                               Reply::Integer(1)}));
    ASSERT_EQ(mirror->Execute({"INCR", "m"}, 3, nullptr), Reply::Integer(1));
    for (const std::string& e : effects) {
      if (!e.empty()) {
        ASSERT_TRUE(peer->Merge(e).ok());
      }
    }
    EXPECT_EQ((*store)->Execute({"GET", "n"}, 4, nullptr), Reply::Bulk("2"));
    EXPECT_EQ((*store)->Execute({"EXISTS", "aasim:x"}, 4, nullptr), Reply::Integer(0));
  }  // closing commits and reads what is owed
  EXPECT_TRUE(failures.empty());
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->FullState(), mirror->FullState());
  EXPECT_EQ((*reopened)->DumpAll(), peer->DumpAll());  // no divergence between the regions
  RawRedis raw(server->port());
  EXPECT_EQ(raw.Run({"HEXISTS", "aasim:m:1", "x"}), Reply::Integer(0));
}

// A key under the metadata prefix that a peer wrote (one that does not refuse it: here an
// in-memory store; or a node with another prefix) is merged and kept as any key, but only
// in its metadata: its native value would overwrite aasim's own key (here the causal
// context). A local command that changes it without naming it (FLUSHALL) is a write as
// any other, with write-behind writes and merges pending: nothing is refused after the
// fact, nothing answered is lost, and the regions agree.
TEST(RedisStoreTest, AMetadataKeyAPeerWroteIsKeptWithoutANativeValue) {
  AASIM_LAUNCH_REDIS(server);
  std::vector<std::string> failures;
  const RedisStoreOptions o = WriteBehindOptionsFor(*server, 1000, &failures);
  std::unique_ptr<Store> peer = NewMemoryStore(kB);
  RawRedis raw(server->port());
  {
    auto store = RedisStore::Open(kA, o);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 20; ++i) {  // over a commit's batch: some sent behind, some pending
      std::string effect;
      ASSERT_EQ((*store)->Execute({"INCR", "n"}, i, &effect), Reply::Integer(i + 1));
      ASSERT_TRUE(peer->Merge(effect).ok());
    }
    std::string effect;
    peer->Execute({"SET", "aasim:cc", "from-b"}, 21, &effect);
    ASSERT_TRUE((*store)->MergeFrom("B#1", 1, effect).ok());
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_EQ((*store)->Execute({"GET", "aasim:cc"}, 22, nullptr), Reply::Bulk("from-b"));
    EXPECT_TRUE((*store)->Execute({"SET", "aasim:cc", "x"}, 22, nullptr).is_error());
  }  // closing commits and reads what is owed
  EXPECT_NE(raw.Run({"GET", "aasim:cc"}), Reply::Bulk("from-b"));
  auto store = RedisStore::Open(kA, OptionsFor(*server, "A"));  // the context decodes
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->DumpAll(), peer->DumpAll());
  EXPECT_EQ((*store)->Progress("B#1"), 1u);
  std::string effect;
  ASSERT_EQ((*store)->Execute({"FLUSHALL"}, 23, &effect), Reply::Status("OK"));
  ASSERT_TRUE(peer->Merge(effect).ok());
  EXPECT_EQ((*store)->DumpAll(), "");
  EXPECT_EQ(peer->DumpAll(), "");
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(raw.Run({"EXISTS", "n"}), Reply::Integer(0));
  EXPECT_EQ(raw.Run({"EXISTS", "aasim:cc"}), Reply::Integer(1));
  auto reopened = RedisStore::Open(kA, OptionsFor(*server, "A"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ((*reopened)->DumpAll(), "");
  EXPECT_EQ((*reopened)->LogHead(), 21u);  // 20 INCRs and the FLUSHALL, without a gap
}

// A failed write-behind commit is never papered over: the store stays down (it does not
// reload a copy that lacks writes it answered), says why, and reports it once.
TEST(RedisStoreTest, WriteBehindFailureKeepsTheStoreDownAndIsReported) {
  AASIM_LAUNCH_REDIS(server);
  std::vector<std::string> failures;
  const RedisStoreOptions o = WriteBehindOptionsFor(*server, 1000, &failures);
  auto store = RedisStore::Open(kA, o);
  ASSERT_TRUE(store.ok());
  ASSERT_EQ((*store)->Execute({"SET", "k", "v"}, 1, nullptr), Reply::Status("OK"));
  // Killed with the commit's reply owed: whether it ran or not, the store cannot know.
  server->Kill();
  ASSERT_TRUE(server->Start().ok());
  Reply r = (*store)->Execute({"GET", "k"}, 2, nullptr);  // served by the working copy
  EXPECT_EQ(r, Reply::Bulk("v"));
  auto log = (*store)->ReadLog(1, 1);  // the first exchange reads the owed reply
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("write-behind commit failed"), std::string::npos)
      << log.status().message();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("CLUSTERDOWN region A: redis 127.0.0.1:"), std::string::npos)
      << failures[0];
  std::string effect;
  Reply w = (*store)->Execute({"SET", "k", "w"}, 3, &effect);
  EXPECT_TRUE(w.is_error());
  EXPECT_TRUE(effect.empty());
  EXPECT_FALSE((*store)->available());
  EXPECT_EQ((*store)->Flush().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failures.size(), 1u);
}

TEST(RedisStoreTest, PasswordAndDbAreUsed) {
  auto launched = RedisServer::Launch({"--requirepass", "pw"});
  if (!launched.ok()) {
    if (testing::RedisRequired()) FAIL() << launched.status().message();
    GTEST_SKIP() << launched.status().message();
  }
  std::unique_ptr<RedisServer> server = std::move(launched).value();
  auto address = ParseRedisUrl("redis://:pw@127.0.0.1:" + std::to_string(server->port()) + "/2");
  ASSERT_TRUE(address.ok());
  RedisStoreOptions o;
  o.address = *address;
  o.region = "A";
  auto store = RedisStore::Open(kA, o);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Execute({"INCRBY", "foo", "7"}, 1, nullptr), Reply::Integer(7));
  RawRedis raw(server->port());
  EXPECT_EQ(raw.Run({"AUTH", "pw"}), Reply::Status("OK"));
  EXPECT_EQ(raw.Run({"GET", "foo"}), Reply::Nil());  // db 0 untouched
  EXPECT_EQ(raw.Run({"SELECT", "2"}), Reply::Status("OK"));
  EXPECT_EQ(raw.Run({"GET", "foo"}), Reply::Bulk("7"));

  o.address.password = "wrong";
  auto refused = RedisStore::Open(kA, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("AUTH"), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(PingRedis(o.address).ok());
}

// Stop() asks with the SHUTDOWN command, which runs at once (a SIGTERM waits for the
// server's cron, up to 100 ms per run), and falls back to SIGTERM when the command is
// refused (NOAUTH): each server's log says which way it was asked.
TEST(RedisServerTest, StopAsksWithTheCommandAndFallsBackToSigterm) {
  for (bool password : {false, true}) {
    SCOPED_TRACE(password ? "--requirepass" : "no password");
    auto launched = password ? RedisServer::Launch({"--requirepass", "pw"}) : RedisServer::Launch();
    if (!launched.ok()) {
      if (testing::RedisRequired()) FAIL() << launched.status().message();
      GTEST_SKIP() << launched.status().message();
    }
    std::unique_ptr<RedisServer> server = std::move(launched).value();
    server->Stop();
    EXPECT_FALSE(server->running());
    std::ifstream in(server->dir() + "/redis.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("User requested shutdown"), std::string::npos) << log;
    EXPECT_EQ(log.find("Received SIGTERM") != std::string::npos, password) << log;
  }
}

// The server CI starts (AASIM_REDIS_URL), shared with other suites: a prefix and key names
// of this process's own, removed at the end.
TEST(RedisStoreTest, ExternalServerFromTheEnvironment) {
  const char* url = std::getenv("AASIM_REDIS_URL");
  if (url == nullptr) GTEST_SKIP() << "AASIM_REDIS_URL not set";
  auto address = ParseRedisUrl(url);
  ASSERT_TRUE(address.ok()) << address.status().message();
  ASSERT_TRUE(PingRedis(*address).ok()) << "AASIM_REDIS_URL=" << url << " unreachable";
  std::string tag = "aasim-test-" + std::to_string(getpid());
  RedisStoreOptions o;
  o.address = *address;
  o.region = "A";
  o.prefix = tag;
  std::string key = tag + "-counter", set = tag + "-set";
  {
    auto store = RedisStore::Open(kA, o);
    ASSERT_TRUE(store.ok()) << store.status().message();
    EXPECT_EQ((*store)->Execute({"INCRBY", key, "25"}, 1, nullptr), Reply::Integer(25));
    EXPECT_EQ((*store)->Execute({"SADD", set, "a", "b"}, 2, nullptr), Reply::Integer(2));
  }
  auto again = RedisStore::Open(kA, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Dump(key), "25");
  EXPECT_EQ((*again)->Dump(set), "{a, b}");
  EXPECT_EQ((*again)->Execute({"DEL", key, set}, 3, nullptr), Reply::Integer(2));
  // Leave nothing behind.
  RawRedis raw(address->port);
  if (!address->password.empty()) raw.Run({"AUTH", address->password});
  raw.Run({"SELECT", std::to_string(address->db)});
  EXPECT_EQ(raw.Run({"EXISTS", key, set}), Reply::Integer(0));
  Reply meta = raw.Run({"KEYS", tag + ":*"});
  for (const Reply& k : meta.elements) raw.Run({"DEL", k.str});
}

}  // namespace
}  // namespace cluster_sim
