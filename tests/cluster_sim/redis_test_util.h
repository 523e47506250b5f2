// Test helpers for the Redis backend: a redis-server of the test's own (from PATH), and
// the rule that a missing Redis fails the test under CI (CI or AASIM_REDIS_URL set) and
// skips it elsewhere.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"

namespace cluster_sim::testing {

inline bool RedisRequired() {
  return std::getenv("CI") != nullptr || std::getenv("AASIM_REDIS_URL") != nullptr;
}

// Starts a server; on failure fails (under CI) or skips the calling test.
#define AASIM_LAUNCH_REDIS(var)                                             \
  auto var##_result = ::cluster_sim::RedisServer::Launch();                 \
  if (!var##_result.ok()) {                                                 \
    if (::cluster_sim::testing::RedisRequired()) {                          \
      FAIL() << "no redis-server: " << var##_result.status().message();     \
    }                                                                       \
    GTEST_SKIP() << "no redis-server: " << var##_result.status().message(); \
  }                                                                         \
  std::unique_ptr<::cluster_sim::RedisServer> var = std::move(var##_result).value()

inline RedisStoreOptions OptionsFor(const RedisServer& server, const std::string& region) {
  RedisStoreOptions o;
  o.address.port = server.port();
  o.region = region;
  return o;
}

// A plain hiredis connection, to look at what Redis itself shows.
// hiredis reads RESP2's null array (`*-1`) as a nil, as it reads `$-1`: an aasim reply as
// RawRedis::Run would show it (server.NullReplies compares the two nulls on the wire).
inline Reply AsHiredisReadsIt(Reply r) {
  if (r.type == Reply::Type::kNilArray) return Reply::Nil();
  for (Reply& e : r.elements) e = AsHiredisReadsIt(std::move(e));
  return r;
}

class RawRedis {
 public:
  explicit RawRedis(int port) {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
  }
  ~RawRedis() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  RawRedis(const RawRedis&) = delete;
  RawRedis& operator=(const RawRedis&) = delete;
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  Reply Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
    if (r == nullptr) return Reply::Error("connection lost");
    Reply out = ReplyFromHiredis(r);
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* ctx_ = nullptr;
};

}  // namespace cluster_sim::testing
