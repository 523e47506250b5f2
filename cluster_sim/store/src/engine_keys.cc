// Whole-key and keyspace commands: RENAME, RENAMENX, COPY, FLUSHDB/FLUSHALL, RANDOMKEY, SCAN
// (and the cursor scheme SSCAN and HSCAN share), OBJECT, TIME, WAIT. Their
// Active/Active meaning is in docs/active-active.md ("Keys").
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_engine.h"
#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

Reply BoundedCounterRefused(std::string_view key, std::string_view what) {
  std::string text = "ERR bounded counter '";
  text.append(key).append("' cannot be ").append(what);
  return Reply::Error(std::move(text));
}

// Writes a copy of src's visible value at dst, replacing what dst held: an observed-remove
// of dst's old value (a concurrent write to dst elsewhere survives) and a new write of each
// part of the value (a string as a register, set members, hash fields, list elements,
// sorted-set members with their scores, HyperLogLog registers), and src's TTL, as Redis's
// RENAME and COPY carry it. REQUIRES: src exists, src != dst, neither is a bounded counter.
void WriteCopy(Ctx& c, const std::string& src, const std::string& dst) {
  Type t = c.ks.TypeOf(src);
  const std::optional<int64_t> deadline = c.ks.Deadline(src);
  if (t == Type::kString) {  // SET replaces every observed part of dst
    c.ks.Set(dst, *c.ks.Get(src), c.now_us, c.delta);
  } else {
    c.ks.Del(dst, c.delta);
  }
  const crdt::KeyValue* v = c.ks.Find(src);
  if (t == Type::kSet) {
    for (const std::string& m : c.ks.Members(src)) c.ks.SAdd(dst, m, c.delta);
  } else if (t == Type::kHash) {
    for (const auto& [f, value] : v->hash().Items()) c.ks.HSet(dst, f, value, c.now_us, c.delta);
  } else if (t == Type::kList) {
    const std::vector<std::string> values = v->list().Values();
    for (size_t i = 0; i < values.size(); ++i) c.ks.LInsert(dst, i, values[i], c.delta);
  } else if (t == Type::kZset) {
    std::vector<std::pair<std::string, double>> items;
    for (const crdt::ZsetStore::Item& item : v->zset.index()) {
      items.emplace_back(*item.member, item.score);
    }
    for (const auto& [m, score] : items) c.ks.ZAdd(dst, m, score, c.now_us, c.delta);
  } else if (t == Type::kHll) {
    c.ks.PfMergeInto(dst, v->hll(), c.delta);
  }
  if (deadline) c.ks.Expire(dst, *deadline, c.delta);
}

// RENAME and RENAMENX (Redis 7 renameGenericCommand). Under Active/Active: a DEL of the old
// key and a write of the new one, both observed-remove.
Reply RenameGeneric(Ctx& c, bool nx) {
  const std::string& src = c.argv[1];
  const std::string& dst = c.argv[2];
  bool same = src == dst;
  if (c.ks.TypeOf(src) == Type::kNone) return Err("ERR no such key");
  if (same) return nx ? Reply::Integer(0) : Ok();
  if (c.ks.TypeOf(dst) != Type::kNone && nx) return Reply::Integer(0);
  if (c.ks.TypeOf(src) == Type::kBoundedCounter || c.ks.TypeOf(dst) == Type::kBoundedCounter) {
    return BoundedCounterRefused(c.ks.TypeOf(src) == Type::kBoundedCounter ? src : dst, "renamed");
  }
  WriteCopy(c, src, dst);
  c.ks.Del(src, c.delta);
  c.wrote = true;
  return nx ? Reply::Integer(1) : Ok();
}

// Redis's parseScanCursorOrReply: strtoul, base 10, the whole argument.
bool ParseCursor(std::string_view text, uint64_t* cursor) {
  std::string s(text);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  *cursor = std::strtoull(s.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}

// The position of a name in the scan order: FNV-1a 64 of its bytes, top bit cleared (so
// a cursor fits a signed 64-bit integer in any client).
uint64_t ScanHash(std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h >> 1;
}

std::string KeyTypeName(const Ctx& c, const std::string& key) {
  return crdt::TypeName(c.ks.TypeOf(key));
}

}  // namespace

Reply Rename(Ctx& c) { return RenameGeneric(c, /*nx=*/false); }
Reply RenameNx(Ctx& c) { return RenameGeneric(c, /*nx=*/true); }

// COPY source destination [DB destination-db] [REPLACE]. aasim has one database: DB 0 is
// that one, any other is out of range (as SELECT).
Reply Copy(Ctx& c) {
  const std::string& src = c.argv[1];
  const std::string& dst = c.argv[2];
  bool replace = false;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    if (IEquals(c.argv[i], "replace")) {
      replace = true;
    } else if (IEquals(c.argv[i], "db") && i + 1 < c.argv.size()) {
      int64_t db = 0;
      if (!crdt::ParseRedisInteger(c.argv[++i], &db) || db < INT_MIN || db > INT_MAX) {
        return Err(kNotInteger);
      }
      if (db != 0) return Err("ERR DB index is out of range");
    } else {
      return Err(kSyntax);
    }
  }
  if (src == dst) return Err("ERR source and destination objects are the same");
  if (c.ks.TypeOf(src) == Type::kNone) return Reply::Integer(0);
  if (c.ks.TypeOf(dst) != Type::kNone && !replace) return Reply::Integer(0);
  if (c.ks.TypeOf(src) == Type::kBoundedCounter || c.ks.TypeOf(dst) == Type::kBoundedCounter) {
    return BoundedCounterRefused(c.ks.TypeOf(src) == Type::kBoundedCounter ? src : dst, "copied");
  }
  WriteCopy(c, src, dst);
  c.wrote = true;
  return Reply::Integer(1);
}

// FLUSHDB and FLUSHALL [ASYNC | SYNC]: a DEL of every key this region sees (observed-remove:
// a write made concurrently elsewhere survives). Bounded counters, which no region may
// delete, are kept.
Reply FlushAll(Ctx& c) {
  if (c.argv.size() > 2 ||
      (c.argv.size() == 2 && !IEquals(c.argv[1], "async") && !IEquals(c.argv[1], "sync"))) {
    return Err(kSyntax);
  }
  for (const std::string& key : c.ks.Keys()) {
    if (c.ks.TypeOf(key) == Type::kBoundedCounter) continue;
    c.wrote |= c.ks.Del(key, c.delta);
  }
  return Ok();
}

// RANDOMKEY: one of the keys (in byte order), drawn with the region's wall clock.
Reply RandomKey(Ctx& c) {
  std::vector<std::string> keys = c.ks.Keys();
  if (keys.empty()) return Reply::Nil();
  return Reply::Bulk(std::move(keys[Draws("randomkey", c.now_us).Below(keys.size())]));
}

// The cursor scheme: names are visited in order of ScanHash (ties in byte order); a cursor
// is the hash the next batch starts at, so a batch is every name whose hash lies in
// [cursor, next). A name present for the whole scan has a fixed hash and is returned
// exactly once, whatever is added or removed meanwhile (Redis's SCAN guarantee, without
// Redis's rehashing duplicates); names with one hash always come in one batch. The scan
// ends with cursor 0 (the next hash would be past the last name).
Reply ScanNames(Ctx& c, std::string_view cursor_text, size_t first_option,
                const std::vector<std::string>& names,
                std::string (*type_of)(const Ctx&, const std::string&),
                std::optional<std::string> (*value_of)(const Ctx&, const std::string&)) {
  uint64_t cursor = 0;
  if (!ParseCursor(cursor_text, &cursor)) return Err("ERR invalid cursor");
  int64_t count = 10;
  std::optional<std::string_view> pattern, type;
  for (size_t i = first_option; i < c.argv.size(); i += 2) {
    std::string_view opt = c.argv[i];
    bool has_next = i + 1 < c.argv.size();
    if (IEquals(opt, "count") && has_next) {
      if (!crdt::ParseRedisInteger(c.argv[i + 1], &count)) return Err(kNotInteger);
      if (count < 1) return Err(kSyntax);
    } else if (IEquals(opt, "match") && has_next) {
      pattern = c.argv[i + 1];
      if (*pattern == "*") pattern.reset();
    } else if (IEquals(opt, "type") && type_of != nullptr && has_next) {
      type = c.argv[i + 1];
    } else {
      return Err(kSyntax);
    }
  }
  std::vector<std::pair<uint64_t, const std::string*>> order;
  for (const std::string& n : names) {
    uint64_t h = ScanHash(n);
    if (h >= cursor) order.emplace_back(h, &n);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a < b || (a.first == b.first && *a.second < *b.second);
  });
  size_t end = std::min(order.size(), static_cast<size_t>(count));
  while (end > 0 && end < order.size() && order[end].first == order[end - 1].first) ++end;
  uint64_t next = end < order.size() ? order[end - 1].first + 1 : 0;
  std::vector<Reply> batch;
  for (size_t i = 0; i < end; ++i) {
    const std::string& n = *order[i].second;
    if (pattern && !GlobMatch(*pattern, n)) continue;
    if (type && !IEquals(type_of(c, n), *type)) continue;
    batch.push_back(Reply::Bulk(n));
    if (value_of) batch.push_back(OptionalBulk(value_of(c, n)));
  }
  std::vector<Reply> out;
  out.push_back(Reply::Bulk(std::to_string(next)));
  out.push_back(Reply::Array(std::move(batch)));
  return Reply::Array(std::move(out));
}

Reply Scan(Ctx& c) { return ScanNames(c, c.argv[1], 2, c.ks.Keys(), KeyTypeName, nullptr); }

// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP. The encoding is the one Redis 7.0 would
// choose for the value's size with its default thresholds; aasim keeps no access times.
// The command table (CheckSubcommand) answers an unknown subcommand or a wrong count.
Reply Object(Ctx& c) {
  if (std::optional<Reply> error = CheckSubcommand("object", c.argv)) return std::move(*error);
  std::string sub = AsciiLower(c.argv[1]);
  if (sub == "help") {
    std::vector<Reply> lines;  // Redis's addReplyHelp: status replies
    for (const char* line :
         {"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "ENCODING <key>",
          "    Return the kind of internal representation used in order to store the value",
          "    associated with a <key>.", "FREQ <key>",
          "    Return the access frequency index of the <key>. The returned integer is",
          "    proportional to the logarithm of the recent access frequency of the key.",
          "IDLETIME <key>",
          "    Return the idle time of the <key>, that is the approximated number of",
          "    seconds elapsed since the last access to the key.", "REFCOUNT <key>",
          "    Return the number of references of the value associated with the specified",
          "    <key>.", "HELP", "    Prints this help."}) {
      lines.push_back(Reply::Status(line));
    }
    return Reply::Array(std::move(lines));
  }
  const std::string& key = c.argv[2];
  Type t = c.ks.TypeOf(key);
  if (t == Type::kNone) return Reply::Nil();
  if (sub == "freq") {
    return Err(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
        "note that when switching between policies at runtime LRU and LFU data will take "
        "some time to adjust.");
  }
  if (sub == "idletime") return Reply::Integer(0);
  int64_t as_int = 0;
  bool is_int = false;
  std::optional<std::string> str;
  if (t == Type::kString || t == Type::kBoundedCounter) {
    str = t == Type::kString ? c.ks.Get(key) : c.ks.Dump(key);
    is_int = str->size() <= 20 && crdt::ParseRedisInteger(*str, &as_int);
  }
  if (sub == "refcount") {  // Redis shares the integers 0..9999
    return Reply::Integer(is_int && as_int >= 0 && as_int < 10000 ? INT_MAX : 1);
  }
  if (str) return Reply::Bulk(is_int ? "int" : str->size() <= 44 ? "embstr" : "raw");
  if (t == Type::kSet) {
    std::vector<std::string> members = c.ks.Members(key);
    bool ints = members.size() <= 512;
    for (const std::string& m : members) ints = ints && crdt::ParseRedisInteger(m, &as_int);
    return Reply::Bulk(ints ? "intset" : "hashtable");
  }
  if (t == Type::kList) return Reply::Bulk("quicklist");  // Redis 7.0: every list
  if (t == Type::kStream) return Reply::Bulk("stream");
  if (t == Type::kHll) return Reply::Bulk("raw");
  const crdt::KeyValue* kv = c.ks.Find(key);
  if (t == Type::kZset) {
    bool small = kv->zset.size() <= 128;
    for (const crdt::ZsetStore::Item& item : kv->zset.index()) {
      small = small && item.member->size() <= 64;
    }
    return Reply::Bulk(small ? "listpack" : "skiplist");
  }
  auto items = kv->hash().Items();
  bool small = items.size() <= 128;
  for (const auto& [f, v] : items) small = small && f.size() <= 64 && v.size() <= 64;
  return Reply::Bulk(small ? "listpack" : "hashtable");
}

// TIME: the region's wall clock (virtual time plus its clock skew).
Reply Time(Ctx& c) {
  int64_t s = c.now_us / 1000000, us = c.now_us % 1000000;
  if (us < 0) {
    us += 1000000;
    --s;
  }
  return Reply::BulkArray({std::to_string(s), std::to_string(us)});
}

// WAIT numreplicas timeout: 0, at once. Replication across regions is asynchronous: no
// region ever acknowledges a write synchronously (as in Redis Enterprise).
Reply Wait(Ctx& c) {
  int64_t n = 0, timeout = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &timeout)) {
    return Err("ERR timeout is not an integer or out of range");
  }
  if (timeout < 0) return Err("ERR timeout is negative");
  if (!crdt::ParseRedisInteger(c.argv[1], &n)) return Err(kNotInteger);
  return Reply::Integer(0);
}

}  // namespace engine
}  // namespace cluster_sim
