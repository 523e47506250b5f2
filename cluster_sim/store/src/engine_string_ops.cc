// String commands beyond GET/SET/INCR: GETSET, GETDEL, APPEND, SETRANGE, GETRANGE (and
// SUBSTR), MSETNX, INCRBYFLOAT, LCS. Replies and errors as Redis 7.0's t_string.c; Active/Active
// meaning in docs/active-active.md ("Strings"): INCRBYFLOAT is a counter whose increments
// add up across regions; the others write the whole new value (last write wins).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

bool IsCounter(const Ctx& c, std::string_view key) {
  return c.ks.TypeOf(key) == Type::kBoundedCounter;
}

// The value of a string key for a read that Redis does with getGenericCommand: nullopt and
// *refused set when the key holds another type.
std::optional<std::string> ReadString(const Ctx& c, std::string_view key, bool* refused) {
  *refused = !TypeIs(c, key, Type::kString);
  return *refused ? std::nullopt : c.ks.Get(key);
}

}  // namespace

// GETSET key value: the old value, then a SET.
Reply GetSet(Ctx& c) {
  bool refused = false;
  std::optional<std::string> old = ReadString(c, c.argv[1], &refused);
  if (refused) return Err(kWrongType);
  c.ks.Set(c.argv[1], c.argv[2], c.now_us, c.delta);
  c.wrote = true;
  return OptionalBulk(std::move(old));
}

// GETDEL key: the value, then a DEL (observed-remove: a concurrent write elsewhere survives).
Reply GetDel(Ctx& c) {
  bool refused = false;
  std::optional<std::string> old = ReadString(c, c.argv[1], &refused);
  if (refused) return Err(kWrongType);
  if (old) c.wrote = c.ks.Del(c.argv[1], c.delta);
  return OptionalBulk(std::move(old));
}

// APPEND key value: writes the concatenation (a register write: concurrent APPENDs in two
// regions keep the later one, as concurrent SETs). The key keeps its TTL, as in Redis.
Reply Append(Ctx& c) {
  const std::string& key = c.argv[1];
  bool refused = IsCounter(c, key);
  std::optional<std::string> old = refused ? std::nullopt : ReadString(c, key, &refused);
  if (refused) return Err(kWrongType);
  std::string value = old.value_or("");
  if (old && static_cast<int64_t>(value.size() + c.argv[2].size()) > kMaxStringBytes) {
    return Err(kTooBig);
  }
  value += c.argv[2];
  c.ks.Set(key, value, c.now_us, c.delta, /*keep_ttl=*/true);
  c.wrote = true;
  return Reply::Integer(static_cast<int64_t>(value.size()));
}

// SETRANGE key offset value (Redis 7.0 setrangeCommand): zero-padded, at most 512 MB; the
// key keeps its TTL.
Reply SetRange(Ctx& c) {
  const std::string& key = c.argv[1];
  const std::string& patch = c.argv[3];
  int64_t offset = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &offset)) return Err(kNotInteger);
  if (offset < 0) return Err("ERR offset is out of range");
  bool refused = IsCounter(c, key);
  std::optional<std::string> old = refused ? std::nullopt : ReadString(c, key, &refused);
  if (refused) return Err(kWrongType);
  if (patch.empty()) return Reply::Integer(old ? static_cast<int64_t>(old->size()) : 0);
  if (offset > kMaxStringBytes - static_cast<int64_t>(patch.size())) return Err(kTooBig);
  std::string value = old.value_or("");
  size_t end = static_cast<size_t>(offset) + patch.size();
  if (value.size() < end) value.resize(end, '\0');
  value.replace(static_cast<size_t>(offset), patch.size(), patch);
  c.ks.Set(key, value, c.now_us, c.delta, /*keep_ttl=*/true);
  c.wrote = true;
  return Reply::Integer(static_cast<int64_t>(value.size()));
}

// GETRANGE key start end (and SUBSTR): Redis 7.0 getrangeCommand's clamping.
Reply GetRange(Ctx& c) {
  int64_t start = 0, end = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &start) || !crdt::ParseRedisInteger(c.argv[3], &end)) {
    return Err(kNotInteger);
  }
  bool refused = false;
  std::optional<std::string> value = ReadString(c, c.argv[1], &refused);
  if (refused) return Err(kWrongType);
  if (!value) return Reply::Bulk("");
  const int64_t len = static_cast<int64_t>(value->size());
  if (start < 0 && end < 0 && start > end) return Reply::Bulk("");
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return Reply::Bulk("");
  return Reply::Bulk(
      value->substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

// MSETNX key value [key value ...]: all or nothing, when none of the keys exists.
Reply MSetNx(Ctx& c) {
  if (c.argv.size() % 2 == 0) return ArityError("msetnx");
  for (size_t i = 1; i < c.argv.size(); i += 2) {
    if (c.ks.TypeOf(c.argv[i]) != Type::kNone) return Reply::Integer(0);
  }
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) {
    c.ks.Set(c.argv[i], c.argv[i + 1], c.now_us, c.delta);
  }
  c.wrote = true;
  return Reply::Integer(1);
}

// INCRBYFLOAT key increment: a float counter (crdt/float_counter.h) under the string;
// increments in every region add up, as INCRBY's.
Reply IncrByFloat(Ctx& c) {
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kString)) return Err(kWrongType);
  constexpr std::string_view kNotFloat = "ERR value is not a valid float";
  long double now = 0, by = 0;
  std::optional<std::string> old = c.ks.Get(key);
  if (old && !crdt::ParseLongDouble(*old, &now)) return Err(kNotFloat);
  if (!crdt::ParseLongDouble(c.argv[2], &by)) return Err(kNotFloat);
  std::string value;
  switch (c.ks.IncrByFloat(key, by, &value, c.delta)) {
    case crdt::FloatStatus::kOk:
      c.wrote = true;
      return Reply::Bulk(std::move(value));
    case crdt::FloatStatus::kNotFloat:
      return Err(kNotFloat);
    case crdt::FloatStatus::kNanOrInfinity:
      break;
  }
  return Err("ERR increment would produce NaN or Infinity");
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] (Redis 7.0 lcsCommand): the
// longest common subsequence by the same dynamic programme, so ties resolve as in Redis.
// Absent keys are empty strings; the table may use at most 512 MB, as in Redis.
Reply Lcs(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kString) || !TypeIs(c, c.argv[2], Type::kString)) {
    return Err("ERR The specified keys must contain string values");
  }
  const std::string a = c.ks.Get(c.argv[1]).value_or("");
  const std::string b = c.ks.Get(c.argv[2]).value_or("");
  bool getlen = false, getidx = false, withmatchlen = false;
  int64_t minmatchlen = 0;
  for (size_t j = 3; j < c.argv.size(); ++j) {
    const std::string& opt = c.argv[j];
    if (IEquals(opt, "idx")) {
      getidx = true;
    } else if (IEquals(opt, "len")) {
      getlen = true;
    } else if (IEquals(opt, "withmatchlen")) {
      withmatchlen = true;
    } else if (IEquals(opt, "minmatchlen") && j + 1 < c.argv.size()) {
      if (!crdt::ParseRedisInteger(c.argv[++j], &minmatchlen)) return Err(kNotInteger);
      if (minmatchlen < 0) minmatchlen = 0;
    } else {
      return Err(kSyntax);
    }
  }
  if (getlen && getidx) {
    return Err("ERR If you want both the length and indexes, please just use IDX.");
  }
  const size_t alen = a.size(), blen = b.size();
  if ((alen + 1) * (blen + 1) * sizeof(uint32_t) > static_cast<size_t>(kMaxStringBytes)) {
    return Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  std::vector<uint32_t> table((alen + 1) * (blen + 1), 0);
  auto at = [&table, blen](size_t i, size_t j) -> uint32_t& { return table[j + i * (blen + 1)]; };
  for (size_t i = 1; i <= alen; ++i) {
    for (size_t j = 1; j <= blen; ++j) {
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  const uint32_t len = at(alen, blen);
  if (getlen) return Reply::Integer(len);
  // Walk back from the end, collecting the string and the matching ranges (last first).
  std::string result(len, '\0');
  std::vector<Reply> matches;
  size_t idx = len, i = alen, j = blen;
  size_t astart = alen, aend = 0, bstart = 0, bend = 0;  // astart == alen: no range open
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (astart == alen) {
        astart = aend = i - 1;
        bstart = bend = j - 1;
      } else if (astart == i && bstart == j) {
        --astart;
        --bstart;
      } else {
        emit = true;
      }
      if (astart == 0 || bstart == 0) emit = true;
      --idx;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (astart != alen) emit = true;
    }
    const int64_t match_len = static_cast<int64_t>(aend - astart + 1);
    if (emit) {
      if (minmatchlen == 0 || match_len >= minmatchlen) {
        std::vector<Reply> m = {Reply::Array({Reply::Integer(static_cast<int64_t>(astart)),
                                              Reply::Integer(static_cast<int64_t>(aend))}),
                                Reply::Array({Reply::Integer(static_cast<int64_t>(bstart)),
                                              Reply::Integer(static_cast<int64_t>(bend))})};
        if (withmatchlen) m.push_back(Reply::Integer(match_len));
        matches.push_back(Reply::Array(std::move(m)));
      }
      astart = alen;
    }
  }
  if (!getidx) return Reply::Bulk(std::move(result));
  return Reply::Array({Reply::Bulk("matches"), Reply::Array(std::move(matches)), Reply::Bulk("len"),
                       Reply::Integer(len)});
}

}  // namespace engine
}  // namespace cluster_sim
