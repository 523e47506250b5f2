// Differential test of the everyday commands (engine_keys.cc, engine_string_ops.cc,
// engine_set_ops.cc, engine_hash_ops.cc) against a real redis-server started by the test:
// seeded random command lines, error and edge cases included, run on one memory-store
// region and on the server must give the same replies. Replies whose order Redis takes
// from its hash tables are compared sorted; random draws (SRANDMEMBER, HRANDFIELD,
// RANDOMKEY) by size and membership; SCAN, SSCAN and HSCAN by what a whole scan returns.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/redis_server.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "redis_test_util.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

// Few keys, so that commands meet on them and on each other's types.
Argv RandomLine(Rng& rng) {
  auto pick = [&rng](std::initializer_list<const char*> from) {
    return std::string(*(from.begin() + rng.Uniform(from.size())));
  };
  auto key = [&] { return pick({"s1", "s2", "n1", "f1", "t1", "t2", "h1", "nokey"}); };
  auto member = [&] { return pick({"a", "b", "c", "1", "2"}); };
  auto field = [&] { return pick({"f", "g", "h"}); };
  auto value = [&] { return pick({"v", "hello", "10", "-3", "2.5", "", "1e3"}); };
  auto num = [&] { return pick({"0", "1", "2", "-1", "-2", "3", "-100", "100", "x", "5"}); };
  auto flt = [&] {
    return pick({"0.1", "1.5", "-2.25", "3", "1e3", "-0.5", "abc", "10.75", "0", "inf", " 1",
                 "1e400", "0x10", "-0.1"});
  };
  switch (rng.Uniform(40)) {
    case 0:
      return {"SET", key(), value()};
    case 1:
      return {"GET", key()};
    case 2:
      return {"GETSET", key(), value()};
    case 3:
      return {"GETDEL", key()};
    case 4:
      return {"APPEND", key(), value()};
    case 5:
      return {"SETRANGE", key(), num(), value()};
    case 6:
      return {"GETRANGE", key(), num(), num()};
    case 7:
      return {rng.OneIn(2) ? "SUBSTR" : "GETRANGE", key(), num(), num()};
    case 8:
      return {"MSETNX", key(), value(), key(), value()};
    case 9:
      return {"INCRBYFLOAT", key(), flt()};
    case 10:
      return {"INCRBYFLOAT", "f1", flt()};
    case 11:
      return {"INCRBY", key(), num()};
    case 12:
      return {"HINCRBYFLOAT", key(), field(), flt()};
    case 13:
      return {"HSET", key(), field(), value()};
    case 14:
      return {"HSTRLEN", key(), field()};
    case 15:
      return {"HGETALL", key()};
    case 16:
      return {"SADD", key(), member(), member()};
    case 17:
      return {"SINTER", key(), key()};
    case 18:
      return {"SUNION", key(), key(), key()};
    case 19:
      return {"SDIFF", key(), key()};
    case 20:
      return {pick({"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"}), key(), key(), key()};
    case 21:
      return {"SINTERCARD", pick({"1", "2", "0", "3", "x"}), key(), key(), "LIMIT", num()};
    case 22:
      return {"SMEMBERS", key()};
    case 23:
      return {"RENAME", key(), key()};
    case 24:
      return {"RENAMENX", key(), key()};
    case 25:
      return {"COPY", key(), key()};
    case 26:
      return {"COPY", key(), key(), "REPLACE"};
    case 27:
      return {"DEL", key()};
    case 28:
      return {"TYPE", key()};
    case 29:
      return {"EXISTS", key(), key()};
    case 30:
      return {"SRANDMEMBER", key(), num()};
    case 31:
      return {"HRANDFIELD", key(), num(), "WITHVALUES"};
    case 32:
      return {"SMISMEMBER", key(), member(), member()};
    case 33:
      return {"STRLEN", key()};
    case 34:
      return {"SREM", key(), member()};
    case 35:
      return {"HDEL", key(), field()};
    case 36:
      return {"KEYS", "*"};
    case 37:
      return {"SMOVE", key(), key(), member()};
    case 38:
      return {"DBSIZE"};
    default:
      return {rng.OneIn(8) ? "FLUSHALL" : "RANDOMKEY"};
  }
}

std::vector<std::string> Strings(const Reply& r) {
  std::vector<std::string> out;
  for (const Reply& e : r.elements) out.push_back(e.str);
  return out;
}

// The reply as compared: unordered replies sorted, random draws reduced to what Redis
// promises (size, membership, distinctness for a positive count).
Reply Canonical(const Argv& argv, Reply r, Store& memory) {
  if (r.type != Reply::Type::kArray) return r;
  std::string cmd = AsciiLower(argv[0]);
  if (cmd == "sinter" || cmd == "sunion" || cmd == "sdiff" || cmd == "smembers" || cmd == "keys") {
    std::vector<std::string> s = Strings(r);
    std::sort(s.begin(), s.end());
    return Reply::BulkArray(s);
  }
  if (cmd == "hgetall" || cmd == "hrandfield") {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      pairs.emplace_back(r.elements[i].str, r.elements[i + 1].str);
    }
    if (cmd == "hrandfield") {  // each pair is one of the hash's; only the count is fixed
      Reply all = memory.Execute({"HGETALL", argv[1]}, 0, nullptr);
      std::set<std::pair<std::string, std::string>> known;
      for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
        known.emplace(all.elements[i].str, all.elements[i + 1].str);
      }
      for (const auto& p : pairs) {
        if (!known.count(p)) return Reply::Error("not a pair of the hash: " + p.first);
      }
      return Reply::Integer(static_cast<int64_t>(pairs.size()));
    }
    std::sort(pairs.begin(), pairs.end());
    std::vector<std::string> flat;
    for (auto& [f, v] : pairs) {
      flat.push_back(f);
      flat.push_back(v);
    }
    return Reply::BulkArray(flat);
  }
  if (cmd == "srandmember") {
    std::vector<std::string> s = Strings(r);
    for (const std::string& m : s) {
      if (memory.Execute({"SISMEMBER", argv[1], m}, 0, nullptr) != Reply::Integer(1)) {
        return Reply::Error("not a member: " + m);
      }
    }
    std::set<std::string> distinct(s.begin(), s.end());
    if (argv.size() == 3 && argv[2][0] != '-' && distinct.size() != s.size()) {
      return Reply::Error("repeated member");
    }
    return Reply::Integer(static_cast<int64_t>(s.size()));
  }
  return r;
}

// Everything a whole SCAN-family scan returns (each name once: duplicates are an error).
Reply FullScan(std::vector<std::string> prefix, bool pairs,
               const std::function<Reply(const Argv&)>& run, const std::string& match,
               const std::string& count) {
  std::vector<std::string> names;
  std::string cursor = "0";
  for (int calls = 0; calls < 10000; ++calls) {
    Argv argv = prefix;
    argv.push_back(cursor);
    if (!match.empty()) {
      argv.push_back("MATCH");
      argv.push_back(match);
    }
    argv.push_back("COUNT");
    argv.push_back(count);
    Reply r = run(argv);
    if (r.type != Reply::Type::kArray) return r;
    cursor = r.elements[0].str;
    const auto& batch = r.elements[1].elements;
    for (size_t i = 0; i < batch.size(); i += pairs ? 2 : 1) {
      names.push_back(pairs ? batch[i].str + "=" + batch[i + 1].str : batch[i].str);
    }
    if (cursor == "0") break;
  }
  std::sort(names.begin(), names.end());
  return Reply::BulkArray(names);
}

// A redis-server of the test's own, emptied, and one memory-store region beside it.
class VersusRedis : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    AASIM_LAUNCH_REDIS(server);
    server_ = std::move(server);
    raw_ = std::make_unique<testing::RawRedis>(server_->port());
    ASSERT_TRUE(raw_->ok());
    ASSERT_EQ(raw_->Run({"FLUSHALL"}), Reply::Status("OK"));
  }
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<testing::RawRedis> raw_;
  std::unique_ptr<Store> memory_ = NewMemoryStore(crdt::MakeReplicaId(0, 1));
};

class EverydayVersusRedis : public VersusRedis {};

TEST_P(EverydayVersusRedis, SameReplies) {
  testing::RawRedis& raw = *raw_;
  std::unique_ptr<Store>& memory = memory_;
  Rng rng(GetParam());
  int64_t clock = 1'000'000;
  for (int step = 0; step < 3000; ++step) {
    clock += 1000;
    if (rng.OneIn(25)) {  // a whole scan of the keys, a set or a hash
      std::string match = rng.OneIn(2) ? "" : (rng.OneIn(2) ? "*1" : "[ah]*");
      std::string count = rng.OneIn(2) ? "1" : "3";
      std::vector<Argv> scans = {{"SCAN"}, {"SSCAN", "t1"}, {"HSCAN", "h1"}};
      size_t which = rng.Uniform(scans.size());
      bool pairs = which == 2;
      Reply want = FullScan(
          scans[which], pairs, [&](const Argv& a) { return raw.Run(a); }, match, count);
      Reply got = FullScan(
          scans[which], pairs, [&](const Argv& a) { return memory->Execute(a, clock, nullptr); },
          match, count);
      ASSERT_EQ(got, want) << "step " << step << ": scan " << scans[which][0];
      continue;
    }
    Argv argv = RandomLine(rng);
    Reply want = raw.Run(argv);
    Reply got = memory->Execute(argv, clock, nullptr);
    std::string line;
    for (const std::string& a : argv) line += "'" + a + "' ";
    if (AsciiLower(argv[0]) == "randomkey") {
      ASSERT_EQ(got.type, want.type) << "step " << step << ": " << line;
      continue;
    }
    ASSERT_EQ(Canonical(argv, got, *memory), Canonical(argv, want, *memory))
        << "step " << step << ": " << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, EverydayVersusRedis, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8));

// Integer counters near the limits (INCR, INCRBY, DECR, DECRBY, HINCRBY, and INCRBY 0): one
// region answers as Redis, except that a result outside +/-2^59 that goes farther out is
// refused (Redis Enterprise's 59-bit counters, crdt/pn_counter.h). On that deviation the
// server must have gone past the bound; it is then given the region's value back.
class CountersVersusRedis : public VersusRedis {};

TEST_P(CountersVersusRedis, SameRepliesInsideTheBound) {
  constexpr int64_t kBound = int64_t{1} << 59;
  testing::RawRedis& raw = *raw_;
  std::unique_ptr<Store>& memory = memory_;
  Rng rng(GetParam());
  const std::vector<std::string> steps = {"0",
                                          "1",
                                          "-1",
                                          "7",
                                          "-7",
                                          "576460752303423488",
                                          "-576460752303423488",
                                          "576460752303423487",
                                          "288230376151711744",
                                          "-288230376151711744",
                                          "4611686018427387904",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "9223372036854775808",
                                          "-9223372036854775809",
                                          "18446744073709551616",
                                          "x",
                                          "1.5",
                                          "007",
                                          "-0",
                                          "+1",
                                          " 1",
                                          ""};
  const std::vector<std::string> values = {
      "0",   "10", "-10", "576460752303423488", "9223372036854775807", "-9223372036854775808",
      "abc", "3.0"};
  int deviations = 0, same = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = rng.OneIn(2) ? "c1" : "c2";
    const std::string step = steps[rng.Uniform(steps.size())];
    Argv argv;
    switch (rng.Uniform(10)) {
      case 0:
        argv = {"INCR", key};
        break;
      case 1:
        argv = {"DECR", key};
        break;
      case 2:
      case 3:
        argv = {"INCRBY", key, step};
        break;
      case 4:
        argv = {"DECRBY", key, step};
        break;
      case 5:
        argv = {"HINCRBY", "h", key, step};
        break;
      case 6:
        argv = {"SET", key, values[rng.Uniform(values.size())]};
        break;
      case 7:
        argv = {rng.OneIn(2) ? "DEL" : "EXISTS", key};
        break;
      case 8:
        argv = {"HGET", "h", key};
        break;
      default:
        argv = {"GET", key};
    }
    Reply want = raw.Run(argv);
    Reply got = memory->Execute(argv, 1'000'000 + i, nullptr);
    std::string line;
    for (const std::string& a : argv) line += "'" + a + "' ";
    if (got == want) {
      ++same;
      continue;
    }
    ++deviations;
    ASSERT_EQ(got, Reply::Error("ERR increment or decrement would overflow")) << line;
    ASSERT_EQ(want.type, Reply::Type::kInteger) << line;
    ASSERT_TRUE(want.integer > kBound || want.integer < -kBound) << line << want.integer;
    const bool field = argv[0] == "HINCRBY";
    Reply back = memory->Execute(field ? Argv{"HGET", "h", key} : Argv{"GET", key}, 0, nullptr);
    if (back.type == Reply::Type::kNil) {
      raw.Run(field ? Argv{"HDEL", "h", key} : Argv{"DEL", key});
    } else {
      raw.Run(field ? Argv{"HSET", "h", key, back.str} : Argv{"SET", key, back.str});
    }
  }
  std::printf("counters versus Redis, seed %llu: %d same replies, %d bound refusals\n",
              static_cast<unsigned long long>(GetParam()), same, deviations);
  EXPECT_GT(same, 1000);
}

INSTANTIATE_TEST_SUITE_P(Seeds, CountersVersusRedis, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace cluster_sim
