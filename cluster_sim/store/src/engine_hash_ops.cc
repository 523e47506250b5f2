// Hash commands beyond HSET/HGET/HINCRBY: HINCRBYFLOAT, HSTRLEN, HRANDFIELD, HSCAN. Replies
// as Redis 7.0's t_hash.c, fields sorted where Redis's order is its hash table's.
// Active/Active meaning in docs/active-active.md ("Hashes").
#include <climits>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

std::optional<std::string> FieldValue(const Ctx& c, const std::string& field) {
  return HashGet(c, c.argv[1], field);
}

}  // namespace

// HINCRBYFLOAT key field increment: the field's float counter (crdt/or_map.h): concurrent
// increments of one field in two regions add up; an HSET or HDEL cancels those it observed.
Reply HIncrByFloat(Ctx& c) {
  const std::string& key = c.argv[1];
  long double by = 0;
  if (!crdt::ParseLongDouble(c.argv[3], &by)) return Err("ERR value is not a valid float");
  if (std::isinf(by)) return Err("ERR value is NaN or Infinity");
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  std::string value;
  switch (c.ks.HIncrByFloat(key, c.argv[2], by, &value, c.delta)) {
    case crdt::FloatStatus::kOk:
      c.wrote = true;
      return Reply::Bulk(std::move(value));
    case crdt::FloatStatus::kNotFloat:
      return Err("ERR hash value is not a float");
    case crdt::FloatStatus::kNanOrInfinity:
      break;
  }
  return Err("ERR increment would produce NaN or Infinity");
}

Reply HStrLen(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  std::optional<std::string> v = HashGet(c, c.argv[1], c.argv[2]);
  return Reply::Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

// HRANDFIELD key [count [WITHVALUES]]: drawn deterministically as SRANDMEMBER draws.
Reply HRandField(Ctx& c) {
  const std::string& key = c.argv[1];
  int64_t count = 1;
  bool with_count = c.argv.size() >= 3, with_values = false;
  if (with_count) {
    if (!crdt::ParseRedisInteger(c.argv[2], &count) || count == INT64_MIN) {
      return RandCountError(c.argv[2]);
    }
    if (c.argv.size() > 4 || (c.argv.size() == 4 && !IEquals(c.argv[3], "withvalues"))) {
      return Err(kSyntax);
    }
    with_values = c.argv.size() == 4;
    if (with_values && (count < -(INT64_MAX / 2) || count > INT64_MAX / 2)) {
      return Err("ERR value is out of range");
    }
    if (count < -10000000) return Err("ERR value is out of range");
  }
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  const crdt::HashStore* h = HashOf(c, key);
  std::vector<std::pair<std::string, std::string>> items;
  if (h) items = h->Items();
  Draws draws(key, c.now_us);
  if (!with_count)
    return items.empty() ? Reply::Nil() : Reply::Bulk(items[draws.Below(items.size())].first);
  auto picked = draws.Sample(std::move(items), count);
  std::vector<std::string> out;
  for (auto& [f, v] : picked) {
    out.push_back(std::move(f));
    if (with_values) out.push_back(std::move(v));
  }
  return Reply::BulkArray(out);
}

// HSCAN key cursor [MATCH pattern] [COUNT count]: the cursor scheme of SCAN, with values.
Reply HScan(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) {  // Redis parses the cursor first
    Reply checked = ScanNames(c, c.argv[2], c.argv.size(), {}, nullptr, nullptr);
    return checked.type == Reply::Type::kError ? checked : Err(kWrongType);
  }
  std::vector<std::string> fields;
  if (const crdt::HashStore* h = HashOf(c, c.argv[1])) {
    for (auto& [f, v] : h->Items()) fields.push_back(std::move(f));
  }
  return ScanNames(c, c.argv[2], 3, fields, nullptr, FieldValue);
}

}  // namespace engine
}  // namespace cluster_sim
