// Set algebra (SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD), SRANDMEMBER and SSCAN.
// Replies as Redis 7.0's t_set.c, members sorted where Redis's order is its hash table's.
// Active/Active: reads see this region's sets; a STORE is a DEL of the destination
// (observed-remove) plus an SADD of each member (add wins), docs/active-active.md ("Sets").
#include <algorithm>
#include <climits>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

enum class SetOp { kInter, kUnion, kDiff };

// The members of argv[first..last) combined by `op` (sorted); nullopt if one of the keys
// holds another type (Redis checks every key before computing).
std::optional<std::vector<std::string>> Combine(const Ctx& c, size_t first, size_t last, SetOp op) {
  for (size_t i = first; i < last; ++i) {
    if (!TypeIs(c, c.argv[i], Type::kSet)) return std::nullopt;
  }
  std::vector<std::string> acc = c.ks.Members(c.argv[first]);
  for (size_t i = first + 1; i < last; ++i) {
    if (acc.empty() && op != SetOp::kUnion) break;
    std::vector<std::string> next = c.ks.Members(c.argv[i]), out;
    switch (op) {
      case SetOp::kInter:
        std::set_intersection(acc.begin(), acc.end(), next.begin(), next.end(),
                              std::back_inserter(out));
        break;
      case SetOp::kUnion:
        std::set_union(acc.begin(), acc.end(), next.begin(), next.end(), std::back_inserter(out));
        break;
      case SetOp::kDiff:
        std::set_difference(acc.begin(), acc.end(), next.begin(), next.end(),
                            std::back_inserter(out));
        break;
    }
    acc = std::move(out);
  }
  return acc;
}

Reply Read(Ctx& c, SetOp op) {
  auto members = Combine(c, 1, c.argv.size(), op);
  return members ? Reply::BulkArray(*members) : Err(kWrongType);
}

// XSTORE destination key [key ...]: replaces destination with the result; an empty result
// deletes it. Replies the result's size.
Reply Store(Ctx& c, SetOp op) {
  const std::string& dst = c.argv[1];
  auto members = Combine(c, 2, c.argv.size(), op);
  if (!members) return Err(kWrongType);
  if (c.ks.TypeOf(dst) == Type::kBoundedCounter) {
    return Reply::Error("ERR bounded counter '" + dst + "' cannot be deleted");
  }
  c.wrote |= c.ks.Del(dst, c.delta);
  for (const std::string& m : *members) c.ks.SAdd(dst, m, c.delta);
  c.wrote |= !members->empty();
  return Reply::Integer(static_cast<int64_t>(members->size()));
}

// Parses a Redis count in [-LONG_MAX, LONG_MAX] (getRangeLongFromObjectOrReply).
bool ParseCount(const std::string& text, int64_t* count) {
  return crdt::ParseRedisInteger(text, count) && *count != INT64_MIN;
}

}  // namespace

Reply SInter(Ctx& c) { return Read(c, SetOp::kInter); }
Reply SUnion(Ctx& c) { return Read(c, SetOp::kUnion); }
Reply SDiff(Ctx& c) { return Read(c, SetOp::kDiff); }
Reply SInterStore(Ctx& c) { return Store(c, SetOp::kInter); }
Reply SUnionStore(Ctx& c) { return Store(c, SetOp::kUnion); }
Reply SDiffStore(Ctx& c) { return Store(c, SetOp::kDiff); }

// SINTERCARD numkeys key [key ...] [LIMIT limit]
Reply SInterCard(Ctx& c) {
  int64_t numkeys = 0, limit = 0;
  if (!crdt::ParseRedisInteger(c.argv[1], &numkeys) || numkeys < 1) {
    return Err("ERR numkeys should be greater than 0");
  }
  if (numkeys > static_cast<int64_t>(c.argv.size()) - 2) {
    return Err("ERR Number of keys can't be greater than number of args");
  }
  const size_t last = 2 + static_cast<size_t>(numkeys);
  for (size_t i = last; i < c.argv.size(); ++i) {
    if (IEquals(c.argv[i], "limit") && i + 1 < c.argv.size()) {
      if (!crdt::ParseRedisInteger(c.argv[++i], &limit) || limit < 0) {
        return Err("ERR LIMIT can't be negative");
      }
    } else {
      return Err(kSyntax);
    }
  }
  auto members = Combine(c, 2, last, SetOp::kInter);
  if (!members) return Err(kWrongType);
  int64_t n = static_cast<int64_t>(members->size());
  return Reply::Integer(limit > 0 ? std::min(n, limit) : n);
}

// SRANDMEMBER key [count]: drawn deterministically (Draws, seeded with the key and the
// region's wall clock). A negative count may repeat members; aasim refuses one beyond
// ten million members (Redis would try to build the reply).
Reply SRandMember(Ctx& c) {
  const std::string& key = c.argv[1];
  if (c.argv.size() > 3) return Err(kSyntax);
  int64_t count = 1;
  bool with_count = c.argv.size() == 3;
  if (with_count && !ParseCount(c.argv[2], &count)) return RandCountError(c.argv[2]);
  if (with_count && count < -10000000) return Err("ERR value is out of range");
  if (!TypeIs(c, key, Type::kSet)) return Err(kWrongType);
  std::vector<std::string> members = c.ks.Members(key);
  Draws draws(key, c.now_us);
  if (!with_count) {
    return members.empty() ? Reply::Nil() : Reply::Bulk(members[draws.Below(members.size())]);
  }
  return Reply::BulkArray(draws.Sample(std::move(members), count));
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: the cursor scheme of SCAN (engine_keys.cc).
Reply SScan(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kSet)) {  // Redis parses the cursor first
    Reply checked = ScanNames(c, c.argv[2], c.argv.size(), {}, nullptr, nullptr);
    return checked.type == Reply::Type::kError ? checked : Err(kWrongType);
  }
  return ScanNames(c, c.argv[2], 3, c.ks.Members(c.argv[1]), nullptr, nullptr);
}

}  // namespace engine
}  // namespace cluster_sim
