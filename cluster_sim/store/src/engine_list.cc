// List commands (Redis 7's t_list.c replies) on the keyspace's list part (crdt/list.h).
// Active/Active meaning: pushes are all kept; pops, LREM, LTRIM and DEL remove only what
// this region had seen, so two regions popping the same end concurrently can both return
// the same element (at least once, never exactly once); LSET is last-write-wins per element.
// The blocking forms run here as Redis runs them inside MULTI: as the non-blocking form,
// a null array when nothing can be popped; an endpoint does the waiting.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {

std::optional<Reply> BadTimeout(const std::string& s) {
  char* end = nullptr;
  long double t = s.empty() || std::isspace(static_cast<unsigned char>(s[0]))
                      ? NAN
                      : std::strtold(s.c_str(), &end);
  if (std::isnan(t) || std::isinf(t) || end != s.c_str() + s.size()) {
    return Err("ERR timeout is not a float or out of range");
  }
  // Redis converts the seconds to milliseconds in a long long: beyond 2^63 ms its cast
  // gives a negative number, and Redis 7.0 (the redis-server the differential tests run)
  // says "negative" for those too (7.2 says "ERR timeout is out of range").
  if (t < 0 || t * 1000 >= 0x1p63L) return Err("ERR timeout is negative");
  return std::nullopt;
}

std::optional<Reply> ParseMPop(const Ctx& c, size_t at, bool (*is_where)(std::string_view),
                               size_t* where, int64_t* count) {
  int64_t numkeys = 0;
  // Redis's getRangeLongFromObjectOrReply with a message: the message for any bad value.
  if (!crdt::ParseRedisInteger(c.argv[at], &numkeys) || numkeys < 1) {
    return Err("ERR numkeys should be greater than 0");
  }
  if (static_cast<uint64_t>(numkeys) >= c.argv.size() - at - 1) return Err(kSyntax);
  *where = at + 1 + static_cast<size_t>(numkeys);
  if (!is_where(c.argv[*where])) return Err(kSyntax);
  *count = -1;
  for (size_t j = *where + 1; j < c.argv.size(); ++j) {
    if (*count == -1 && IEquals(c.argv[j], "count") && j + 1 < c.argv.size()) {
      ++j;
      if (!crdt::ParseRedisInteger(c.argv[j], count) || *count < 1) {
        return Err("ERR count should be greater than 0");
      }
    } else {
      return Err(kSyntax);
    }
  }
  if (*count == -1) *count = 1;
  if (at == 2) return BadTimeout(c.argv[1]);
  return std::nullopt;
}

namespace {

constexpr std::string_view kNoSuchKey = "ERR no such key";
constexpr std::string_view kIndexOutOfRange = "ERR index out of range";

const crdt::ListStore* ListOf(const Ctx& c, std::string_view key) {
  const crdt::ListStore* l = c.ks.List(key);
  return l != nullptr && !l->empty() ? l : nullptr;
}

size_t LengthOf(const Ctx& c, std::string_view key) {
  const crdt::ListStore* l = ListOf(c, key);
  return l ? l->size() : 0;
}

// LEFT or RIGHT (any case), as Redis's getListPositionFromObjectOrReply.
bool ParseEnd(std::string_view s, bool* left) {
  if (IEquals(s, "left")) {
    *left = true;
  } else if (IEquals(s, "right")) {
    *left = false;
  } else {
    return false;
  }
  return true;
}

// Pushes values (in argument order) at one end; returns the new length.
int64_t Push(Ctx& c, const std::string& key, bool left, size_t first_arg) {
  size_t n = LengthOf(c, key);
  for (size_t i = first_arg; i < c.argv.size(); ++i, ++n) {
    c.ks.LInsert(key, left ? 0 : n, c.argv[i], c.delta);
  }
  c.wrote = true;
  return static_cast<int64_t>(n);
}

// Pops up to `count` elements from one end (in pop order). REQUIRES: a list key.
std::vector<std::string> Pop(Ctx& c, const std::string& key, bool left, size_t count) {
  const crdt::ListStore* l = ListOf(c, key);
  std::vector<std::string> out;
  if (l == nullptr || count == 0) return out;
  const size_t n = l->size();
  count = count < n ? count : n;
  for (size_t i = 0; i < count; ++i) out.push_back(l->At(left ? i : n - 1 - i));
  if (left) {
    c.ks.LEraseRange(key, 0, count, c.delta);
  } else {
    c.ks.LEraseRange(key, n - count, n, c.delta);
  }
  c.wrote = true;
  return out;
}

// Redis's normalisation of a [start, stop] range; false if it selects nothing.
bool NormalizeRange(int64_t start, int64_t stop, size_t size, size_t* first, size_t* last) {
  const int64_t n = static_cast<int64_t>(size);
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return false;
  if (stop >= n) stop = n - 1;
  *first = static_cast<size_t>(start);
  *last = static_cast<size_t>(stop) + 1;
  return true;
}

Reply PushCmd(Ctx& c, bool left, bool only_existing) {
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
  if (only_existing && ListOf(c, key) == nullptr) return Reply::Integer(0);
  return Reply::Integer(Push(c, key, left, 2));
}

Reply PopCmd(Ctx& c, bool left) {
  if (c.argv.size() > 3) return ArityError(c.argv[0]);
  const bool has_count = c.argv.size() == 3;
  int64_t count = 1;
  if (has_count) {
    if (!crdt::ParseRedisInteger(c.argv[2], &count) || count < 0) return Err(kNotPositive);
  }
  const std::string& key = c.argv[1];
  if (ListOf(c, key) == nullptr) {
    if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
    return has_count ? Reply::NilArray() : Reply::Nil();
  }
  if (has_count && count == 0) return Reply::Array({});
  std::vector<std::string> out = Pop(c, key, left, static_cast<size_t>(count));
  return has_count ? Reply::BulkArray(out) : Reply::Bulk(std::move(out[0]));
}

// LMOVE's work after its arguments are parsed: nil if the source is empty.
Reply Move(Ctx& c, const std::string& src, const std::string& dst, bool from_left, bool to_left) {
  if (!TypeIs(c, src, Type::kList)) return Err(kWrongType);
  if (ListOf(c, src) == nullptr) return Reply::Nil();
  if (!TypeIs(c, dst, Type::kList)) return Err(kWrongType);
  std::string v = std::move(Pop(c, src, from_left, 1)[0]);
  c.ks.LInsert(dst, to_left ? 0 : LengthOf(c, dst), v, c.delta);
  return Reply::Bulk(std::move(v));
}

// BLPOP/BRPOP's keys in order: [key, element] from the first non-empty list.
Reply FirstPop(Ctx& c, bool left, size_t first_key, size_t end_key) {
  for (size_t i = first_key; i < end_key; ++i) {
    if (!TypeIs(c, c.argv[i], Type::kList)) return Err(kWrongType);
    if (ListOf(c, c.argv[i]) == nullptr) continue;
    std::vector<std::string> out = Pop(c, c.argv[i], left, 1);
    return Reply::BulkArray({c.argv[i], out[0]});
  }
  return Reply::NilArray();
}

bool IsEnd(std::string_view s) {
  bool left = false;
  return ParseEnd(s, &left);
}

// LMPOP numkeys key... LEFT|RIGHT [COUNT n], its arguments from `at` (numkeys); BLMPOP's
// timeout (argument 1) is checked after them, as Redis does.
Reply MPop(Ctx& c, size_t at) {
  size_t where = 0;
  int64_t count = 1;
  if (auto bad = ParseMPop(c, at, IsEnd, &where, &count)) return *bad;
  bool left = true;
  ParseEnd(c.argv[where], &left);
  for (size_t i = at + 1; i < where; ++i) {
    if (!TypeIs(c, c.argv[i], Type::kList)) return Err(kWrongType);
    if (ListOf(c, c.argv[i]) == nullptr) continue;
    std::vector<std::string> out = Pop(c, c.argv[i], left, static_cast<size_t>(count));
    return Reply::Array({Reply::Bulk(c.argv[i]), Reply::BulkArray(out)});
  }
  return Reply::NilArray();
}

}  // namespace

Reply LPush(Ctx& c) { return PushCmd(c, true, false); }
Reply RPush(Ctx& c) { return PushCmd(c, false, false); }
Reply LPushX(Ctx& c) { return PushCmd(c, true, true); }
Reply RPushX(Ctx& c) { return PushCmd(c, false, true); }
Reply LPop(Ctx& c) { return PopCmd(c, true); }
Reply RPop(Ctx& c) { return PopCmd(c, false); }

Reply LLen(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kList)) return Err(kWrongType);
  return Reply::Integer(static_cast<int64_t>(LengthOf(c, c.argv[1])));
}

Reply LRange(Ctx& c) {
  int64_t start = 0, stop = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &start) || !crdt::ParseRedisInteger(c.argv[3], &stop)) {
    return Err(kNotInteger);
  }
  if (!TypeIs(c, c.argv[1], Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, c.argv[1]);
  size_t first = 0, last = 0;
  std::vector<std::string> out;
  if (l != nullptr && NormalizeRange(start, stop, l->size(), &first, &last)) {
    out.reserve(last - first);
    for (size_t i = first; i < last; ++i) out.push_back(l->At(i));
  }
  return Reply::BulkArray(out);
}

Reply LIndex(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, c.argv[1]);
  if (l == nullptr) return Reply::Nil();
  int64_t i = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &i)) return Err(kNotInteger);
  const int64_t n = static_cast<int64_t>(l->size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return Reply::Nil();
  return Reply::Bulk(l->At(static_cast<size_t>(i)));
}

Reply LSet(Ctx& c) {
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, key);
  if (l == nullptr) return Err(kNoSuchKey);
  int64_t i = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &i)) return Err(kNotInteger);
  const int64_t n = static_cast<int64_t>(l->size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return Err(kIndexOutOfRange);
  c.ks.LSet(key, static_cast<size_t>(i), c.argv[3], c.now_us, c.delta);
  c.wrote = true;
  return Ok();
}

Reply LInsert(Ctx& c) {
  bool after = false;
  if (IEquals(c.argv[2], "after")) {
    after = true;
  } else if (!IEquals(c.argv[2], "before")) {
    return Err(kSyntax);
  }
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, key);
  if (l == nullptr) return Reply::Integer(0);
  for (size_t i = 0; i < l->size(); ++i) {
    if (l->At(i) != c.argv[3]) continue;
    const size_t n = l->size();
    c.ks.LInsert(key, after ? i + 1 : i, c.argv[4], c.delta);
    c.wrote = true;
    return Reply::Integer(static_cast<int64_t>(n + 1));
  }
  return Reply::Integer(-1);
}

Reply LRem(Ctx& c) {
  int64_t count = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &count)) return Err(kNotInteger);
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, key);
  if (l == nullptr) return Reply::Integer(0);
  std::vector<size_t> hits;
  const size_t n = l->size();
  const uint64_t limit = count == 0  ? UINT64_MAX
                         : count > 0 ? static_cast<uint64_t>(count)
                                     : 0 - static_cast<uint64_t>(count);
  for (size_t k = 0; k < n && hits.size() < limit; ++k) {
    const size_t i = count < 0 ? n - 1 - k : k;
    if (l->At(i) == c.argv[3]) hits.push_back(i);
  }
  if (hits.empty()) return Reply::Integer(0);
  if (count < 0) std::reverse(hits.begin(), hits.end());
  c.ks.LEraseIndexes(key, hits, c.delta);
  c.wrote = true;
  return Reply::Integer(static_cast<int64_t>(hits.size()));
}

Reply LTrim(Ctx& c) {
  int64_t start = 0, stop = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &start) || !crdt::ParseRedisInteger(c.argv[3], &stop)) {
    return Err(kNotInteger);
  }
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, key);
  if (l == nullptr) return Ok();
  const size_t n = l->size();
  size_t first = 0, last = 0;
  if (!NormalizeRange(start, stop, n, &first, &last)) first = last = 0;  // keeps nothing
  if (last < n) c.ks.LEraseRange(key, last, n, c.delta);
  if (first > 0) c.ks.LEraseRange(key, 0, first, c.delta);
  c.wrote = c.wrote || first > 0 || last < n;
  return Ok();
}

Reply LPos(Ctx& c) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t j = 3; j < c.argv.size(); ++j) {
    const bool more = j + 1 < c.argv.size();
    if (IEquals(c.argv[j], "rank") && more) {
      if (!crdt::ParseRedisInteger(c.argv[++j], &rank)) return Err(kNotInteger);
      if (rank == std::numeric_limits<int64_t>::min()) {
        return Err(
            "ERR value is out of range, value must between -9223372036854775807 and "
            "9223372036854775807");
      }
      if (rank == 0) {
        return Err(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
    } else if (IEquals(c.argv[j], "count") && more) {
      if (!crdt::ParseRedisInteger(c.argv[++j], &count) || count < 0) {
        return Err("ERR COUNT can't be negative");
      }
    } else if (IEquals(c.argv[j], "maxlen") && more) {
      if (!crdt::ParseRedisInteger(c.argv[++j], &maxlen) || maxlen < 0) {
        return Err("ERR MAXLEN can't be negative");
      }
    } else {
      return Err(kSyntax);
    }
  }
  if (!TypeIs(c, c.argv[1], Type::kList)) return Err(kWrongType);
  const crdt::ListStore* l = ListOf(c, c.argv[1]);
  std::vector<Reply> out;
  const size_t n = l ? l->size() : 0;
  uint64_t skip = rank > 0 ? static_cast<uint64_t>(rank) - 1 : 0 - static_cast<uint64_t>(rank) - 1;
  for (size_t k = 0; k < n && (maxlen == 0 || k < static_cast<uint64_t>(maxlen)); ++k) {
    const size_t i = rank > 0 ? k : n - 1 - k;
    if (l->At(i) != c.argv[2]) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(Reply::Integer(static_cast<int64_t>(i)));
    if (count != 0 && out.size() >= static_cast<uint64_t>(count == -1 ? 1 : count)) break;
  }
  if (count != -1) return Reply::Array(std::move(out));
  return out.empty() ? Reply::Nil() : std::move(out[0]);
}

Reply LMove(Ctx& c) {
  bool from_left = true, to_left = true;
  if (!ParseEnd(c.argv[3], &from_left) || !ParseEnd(c.argv[4], &to_left)) return Err(kSyntax);
  return Move(c, c.argv[1], c.argv[2], from_left, to_left);
}

Reply RPopLPush(Ctx& c) { return Move(c, c.argv[1], c.argv[2], false, true); }

Reply LMPop(Ctx& c) { return MPop(c, 1); }

Reply BLPop(Ctx& c) {
  if (auto bad = BadTimeout(c.argv.back())) return *bad;
  return FirstPop(c, true, 1, c.argv.size() - 1);
}

Reply BRPop(Ctx& c) {
  if (auto bad = BadTimeout(c.argv.back())) return *bad;
  return FirstPop(c, false, 1, c.argv.size() - 1);
}

Reply BLMove(Ctx& c) {
  bool from_left = true, to_left = true;
  if (!ParseEnd(c.argv[3], &from_left) || !ParseEnd(c.argv[4], &to_left)) return Err(kSyntax);
  if (auto bad = BadTimeout(c.argv[5])) return *bad;
  return Move(c, c.argv[1], c.argv[2], from_left, to_left);
}

Reply BRPopLPush(Ctx& c) {
  if (auto bad = BadTimeout(c.argv[3])) return *bad;
  return Move(c, c.argv[1], c.argv[2], false, true);
}

Reply BLMPop(Ctx& c) { return MPop(c, 2); }

}  // namespace engine
}  // namespace cluster_sim
