// Sorted-set commands (Redis 7.0's t_zset.c replies and errors) on the keyspace's
// ZsetStore. Writes replicate their effects: ZADD as base writes, ZINCRBY as counter steps,
// ZREM / ZPOP* / ZREMRANGE* as observed removals, *STORE as DEL + ZADDs of the result.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include "cluster_sim/command_engine.h"
#include "cluster_sim/strings.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {

namespace {

using crdt::ZsetStore;

constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kRangeNotFloat = "ERR min or max is not a float";
constexpr std::string_view kLexRange = "ERR min or max not valid string range item";
constexpr std::string_view kNaN = "ERR resulting score is not a number (NaN)";

const ZsetStore* ZsetOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv && kv->VisibleType() == Type::kZset ? &kv->zset : nullptr;
}

bool ParseLong(std::string_view s, int64_t* out) { return crdt::ParseRedisInteger(s, out); }

// A score bound of a range: "(1.5" exclusive, "-inf", "+inf", "1".
struct ScoreRange {
  double min = 0, max = 0;
  bool minex = false, maxex = false;
  bool GteMin(double v) const { return minex ? v > min : v >= min; }
  bool LteMax(double v) const { return maxex ? v < max : v <= max; }
  bool Contains(double v) const { return GteMin(v) && LteMax(v); }
};

// As t_zset.c zslParseRange: plain strtod of the rest (so "(" is an exclusive 0, leading
// spaces and out-of-range exponents pass), refusing trailing bytes and NaN.
bool ParseBound(std::string_view s, double* v, bool* ex) {
  *ex = !s.empty() && s[0] == '(';
  if (*ex) s.remove_prefix(1);
  const std::string text(s);
  char* end = nullptr;
  *v = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && !std::isnan(*v);
}

bool ParseScoreRange(std::string_view min, std::string_view max, ScoreRange* r) {
  return ParseBound(min, &r->min, &r->minex) && ParseBound(max, &r->max, &r->maxex);
}

// A lex bound: "-" (before all), "+" (after all), "[x" inclusive, "(x" exclusive.
struct LexBound {
  enum Kind { kMinusInf, kPlusInf, kValue } kind = kValue;
  std::string value;
  bool ex = false;
};

bool ParseLexBound(std::string_view s, LexBound* b) {
  if (s == "-") {
    b->kind = LexBound::kMinusInf;
  } else if (s == "+") {
    b->kind = LexBound::kPlusInf;
  } else if (!s.empty() && (s[0] == '[' || s[0] == '(')) {
    b->ex = s[0] == '(';
    b->value = std::string(s.substr(1));
  } else {
    return false;
  }
  return true;
}

struct LexRange {
  LexBound min, max;
  bool GteMin(std::string_view v) const {
    if (min.kind != LexBound::kValue) return min.kind == LexBound::kMinusInf;
    return min.ex ? v > min.value : v >= min.value;
  }
  bool LteMax(std::string_view v) const {
    if (max.kind != LexBound::kValue) return max.kind == LexBound::kPlusInf;
    return max.ex ? v < max.value : v <= max.value;
  }
};

void PushScored(std::vector<Reply>* out, const ZsetStore::Item& item, bool withscores) {
  out->push_back(Reply::Bulk(*item.member));
  if (withscores) out->push_back(Reply::Bulk(crdt::FormatScore(item.score)));
}

// Rank range [start, end] (inclusive, already clamped) in ascending index order.
std::vector<ZsetStore::Item> ByRank(const ZsetStore& z, int64_t start, int64_t end, bool rev) {
  std::vector<ZsetStore::Item> out;
  const int64_t len = static_cast<int64_t>(z.size());
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (start > end || start >= len) return out;
  if (end >= len) end = len - 1;
  out.reserve(static_cast<size_t>(end - start + 1));
  if (!rev) {
    auto it = z.index().find_by_order(static_cast<size_t>(start));
    for (int64_t i = start; i <= end; ++i, ++it) out.push_back(*it);
  } else {
    auto it = z.index().find_by_order(static_cast<size_t>(len - 1 - start));
    for (int64_t i = start; i <= end; ++i) {
      out.push_back(*it);
      if (i < end) --it;
    }
  }
  return out;
}

// Members in a score range, ascending (or descending), after skipping `offset` and at
// most `limit` of them (limit < 0: all), as genericZrangebyscoreCommand.
// LIMIT offset count over the items of a range, in walk order (count < 0: all).
class Window {
 public:
  Window(int64_t offset, int64_t limit) : offset_(offset), limit_(limit) {}
  // False once the window is full (stop walking).
  bool Offer(const ZsetStore::Item& item) {
    if (offset_ > 0) {
      --offset_;
      return true;
    }
    if (limit_ == 0) return false;
    out_.push_back(item);
    if (limit_ > 0) --limit_;
    return true;
  }
  std::vector<ZsetStore::Item> Take() { return std::move(out_); }

 private:
  int64_t offset_, limit_;
  std::vector<ZsetStore::Item> out_;
};

// As genericZrangebyscoreCommand: a negative offset, or one past the end, is empty.
bool OffsetOutside(const ZsetStore& z, int64_t offset) {
  return offset < 0 || (offset > 0 && offset >= static_cast<int64_t>(z.size()));
}

// Members in a score range, ascending (or descending), after skipping `offset` and at
// most `limit` of them (limit < 0: all).
std::vector<ZsetStore::Item> ByScore(const ZsetStore& z, const ScoreRange& r, bool rev,
                                     int64_t offset, int64_t limit) {
  if (OffsetOutside(z, offset)) return {};
  Window w(offset, limit);
  const ZsetStore::Index& idx = z.index();
  static const std::string kNoMember;
  if (!rev) {
    auto it = idx.lower_bound(ZsetStore::Item{r.min, &kNoMember});
    while (it != idx.end() && !r.GteMin(it->score)) ++it;
    for (; it != idx.end() && r.LteMax(it->score) && w.Offer(*it); ++it) {
    }
  } else {
    // From the first item above max, walk down.
    auto it = idx.lower_bound(ZsetStore::Item{r.max, &kNoMember});
    while (it != idx.end() && it->score <= r.max) ++it;
    while (it != idx.begin()) {
      --it;
      if (!r.LteMax(it->score)) continue;
      if (!r.GteMin(it->score) || !w.Offer(*it)) break;
    }
  }
  return w.Take();
}

// As Redis walks a listpack (zzlFirstInLexRange, zzlLastInLexRange and the range loop of
// genericZrangebylexCommand), in score order: lex ranges are meant for members of equal
// scores, and with mixed scores this gives Redis's answers, not a filter. Empty when the
// bounds cross, the last member is below min or the first above max; else from the first
// member >= min (the last <= max when reversed), which must be in range, skip `offset`
// members unchecked, then take members while they stay <= max (>= min).
std::vector<ZsetStore::Item> ByLex(const ZsetStore& z, const LexRange& r, bool rev, int64_t offset,
                                   int64_t limit) {
  if (OffsetOutside(z, offset)) return {};
  const std::vector<ZsetStore::Item> all(z.index().begin(), z.index().end());
  auto rank = [](const LexBound& b) {
    return b.kind == LexBound::kMinusInf ? 0 : b.kind == LexBound::kValue ? 1 : 2;
  };
  const int cmp = rank(r.min) != rank(r.max) ? rank(r.min) - rank(r.max)
                  : rank(r.min) == 1         ? r.min.value.compare(r.max.value)
                                             : 0;
  if (all.empty() || cmp > 0 || (cmp == 0 && (r.min.ex || r.max.ex)) ||
      !r.GteMin(*all.back().member) || !r.LteMax(*all.front().member)) {
    return {};
  }
  const int64_t n = static_cast<int64_t>(all.size());
  const int64_t step = rev ? -1 : 1;
  int64_t i = rev ? n - 1 : 0;
  while (i >= 0 && i < n && !(rev ? r.LteMax(*all[i].member) : r.GteMin(*all[i].member))) i += step;
  if (i < 0 || i >= n || !(rev ? r.GteMin(*all[i].member) : r.LteMax(*all[i].member))) return {};
  i += step * offset;
  std::vector<ZsetStore::Item> out;
  for (; i >= 0 && i < n && limit != 0; i += step, --limit) {
    if (!(rev ? r.GteMin(*all[i].member) : r.LteMax(*all[i].member))) break;
    out.push_back(all[i]);
  }
  return out;
}

}  // namespace

int64_t ZStoreItems(Ctx& c, const std::string& dst, const std::vector<ZsetStore::Item>& items) {
  std::vector<std::pair<std::string, double>> copy;  // items may point into dst itself
  copy.reserve(items.size());
  for (const auto& item : items) copy.emplace_back(*item.member, item.score);
  if (c.ks.TypeOf(dst) != Type::kNone) {
    c.ks.Del(dst, c.delta);
    c.wrote = true;
  }
  for (const auto& [m, s] : copy) c.ks.ZAdd(dst, m, s, c.now_us, c.delta);
  c.wrote |= !copy.empty();
  return static_cast<int64_t>(copy.size());
}

namespace {

enum class RangeType { kAuto, kRank, kScore, kLex };

// The one range engine behind ZRANGE, ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
// ZREVRANGE and ZRANGEBYLEX (t_zset.c zrangeGenericCommand). argv[first] and
// argv[first + 1] are the range; options follow.
Reply RangeGeneric(Ctx& c, size_t first, const std::string& src, const std::string* dst,
                   RangeType type, int direction /* 0 auto, 1 forward, -1 reverse */) {
  bool withscores = false;
  int64_t offset = 0, limit = -1;
  for (size_t j = first + 2; j < c.argv.size(); ++j) {
    const size_t left = c.argv.size() - j - 1;
    const std::string& a = c.argv[j];
    if (dst == nullptr && IEquals(a, "withscores")) {
      withscores = true;
    } else if (IEquals(a, "limit") && left >= 2) {
      if (!ParseLong(c.argv[j + 1], &offset) || !ParseLong(c.argv[j + 2], &limit)) {
        return Err(kNotInteger);
      }
      j += 2;
    } else if (direction == 0 && IEquals(a, "rev")) {
      direction = -1;
    } else if (type == RangeType::kAuto && IEquals(a, "bylex")) {
      type = RangeType::kLex;
    } else if (type == RangeType::kAuto && IEquals(a, "byscore")) {
      type = RangeType::kScore;
    } else {
      return Err(kSyntax);
    }
  }
  if (direction == 0) direction = 1;
  if (type == RangeType::kAuto) type = RangeType::kRank;
  if (limit != -1 && type == RangeType::kRank) {  // as Redis: LIMIT x -1 passes
    return Err(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or "
        "BYLEX");
  }
  if (withscores && type == RangeType::kLex) {
    return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  const bool rev = direction < 0;
  std::string_view lo = c.argv[first], hi = c.argv[first + 1];
  if (rev && type != RangeType::kRank) std::swap(lo, hi);
  int64_t start = 0, end = 0;
  ScoreRange sr;
  LexRange lr;
  switch (type) {
    case RangeType::kRank:
      if (!ParseLong(lo, &start) || !ParseLong(hi, &end)) return Err(kNotInteger);
      break;
    case RangeType::kScore:
      if (!ParseScoreRange(lo, hi, &sr)) return Err(kRangeNotFloat);
      break;
    case RangeType::kLex:
      if (!ParseLexBound(lo, &lr.min) || !ParseLexBound(hi, &lr.max)) return Err(kLexRange);
      break;
    case RangeType::kAuto:
      break;
  }
  const Type t = c.ks.TypeOf(src);
  if (t != Type::kNone && t != Type::kZset) return Err(kWrongType);
  std::vector<ZsetStore::Item> items;
  if (const ZsetStore* z = ZsetOf(c, src)) {
    switch (type) {
      case RangeType::kRank:
        items = ByRank(*z, start, end, rev);
        break;
      case RangeType::kScore:
        items = ByScore(*z, sr, rev, offset, limit);
        break;
      case RangeType::kLex:
        items = ByLex(*z, lr, rev, offset, limit);
        break;
      case RangeType::kAuto:
        break;
    }
  }
  if (dst != nullptr) return Reply::Integer(ZStoreItems(c, *dst, items));
  std::vector<Reply> out;
  for (const auto& item : items) PushScored(&out, item, withscores);
  return Reply::Array(std::move(out));
}

// The wrong-type check of commands that read one sorted set: the reply to give, if any.
std::optional<Reply> CheckZset(const Ctx& c, std::string_view key) {
  if (!TypeIs(c, key, Type::kZset)) return Err(kWrongType);
  return std::nullopt;
}

// Adds `by` to a present member whose score becomes `next` (not NaN). Finite steps go to
// the member's counter, so concurrent increments add up; an infinite step, or a result or
// step too large for the counter's running sums to stay finite, is a ZADD of `next`
// instead (the running sums of a counter cannot come back from infinity).
void Increment(Ctx& c, const std::string& key, const std::string& member, double by, double next) {
  if (std::isfinite(next) && std::fabs(by) < 1e300) {
    c.ks.ZIncrBy(key, member, by, c.delta);
  } else {
    c.ks.ZAdd(key, member, next, c.now_us, c.delta);
  }
}

}  // namespace

Reply ZAdd(Ctx& c) {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  size_t i = 2;
  for (; i < c.argv.size(); ++i) {
    const std::string& a = c.argv[i];
    if (IEquals(a, "nx")) {
      nx = true;
    } else if (IEquals(a, "xx")) {
      xx = true;
    } else if (IEquals(a, "gt")) {
      gt = true;
    } else if (IEquals(a, "lt")) {
      lt = true;
    } else if (IEquals(a, "ch")) {
      ch = true;
    } else if (IEquals(a, "incr")) {
      incr = true;
    } else {
      break;
    }
  }
  const size_t elements = c.argv.size() - i;
  if (elements % 2 != 0 || elements == 0) return Err(kSyntax);
  if (nx && xx) return Err("ERR XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return Err("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  if (incr && elements > 2) return Err("ERR INCR option supports a single increment-element pair");
  std::vector<double> scores;
  for (size_t j = i; j < c.argv.size(); j += 2) {
    double s = 0;
    if (!crdt::ParseScore(c.argv[j], &s)) return Err(kNotFloat);
    scores.push_back(s);
  }
  const std::string& key = c.argv[1];
  if (auto e = CheckZset(c, key)) return *e;
  int64_t added = 0, updated = 0, processed = 0;
  double incr_result = 0;
  for (size_t k = 0; k < scores.size(); ++k) {
    const std::string& member = c.argv[i + 2 * k + 1];
    const ZsetStore* z = ZsetOf(c, key);
    std::optional<double> cur = z ? z->Score(member) : std::nullopt;
    double score = scores[k];
    if (cur) {
      if (nx) continue;
      if (incr) {
        score += *cur;
        if (std::isnan(score)) return Err(kNaN);
      }
      if ((lt && score >= *cur) || (gt && score <= *cur)) continue;
      ++processed;
      incr_result = score;
      if (!incr) {
        c.ks.ZAdd(key, member, score, c.now_us, c.delta);  // re-tags: add wins over a ZREM
        c.wrote = true;
      } else if (score != *cur) {
        Increment(c, key, member, scores[k], score);
        c.wrote = true;
      }
      if (score != *cur) ++updated;
    } else {
      if (xx) continue;
      ++processed;
      incr_result = score;
      c.ks.ZAdd(key, member, score, c.now_us, c.delta);
      c.wrote = true;
      ++added;
    }
  }
  if (incr) {
    return processed > 0 ? Reply::Bulk(crdt::FormatScore(incr_result)) : Reply::Nil();
  }
  return Reply::Integer(ch ? added + updated : added);
}

Reply ZIncrBy(Ctx& c) {
  double by = 0;
  if (!crdt::ParseScore(c.argv[2], &by)) return Err(kNotFloat);
  const std::string& key = c.argv[1];
  if (auto e = CheckZset(c, key)) return *e;
  const ZsetStore* z = ZsetOf(c, key);
  std::optional<double> cur = z ? z->Score(c.argv[3]) : std::nullopt;
  const double next = (cur ? *cur : 0) + by;
  if (std::isnan(next)) return Err(kNaN);
  c.wrote = true;
  if (!cur) {
    // An absent member starts from 0: a base write of `by` (ZADD), so ZINCRBY 0 creates it.
    c.ks.ZAdd(key, c.argv[3], by, c.now_us, c.delta);
    return Reply::Bulk(crdt::FormatScore(by));
  }
  if (by == 0) {
    c.wrote = false;
    return Reply::Bulk(crdt::FormatScore(*cur));
  }
  Increment(c, key, c.argv[3], by, next);
  return Reply::Bulk(crdt::FormatScore(*ZsetOf(c, key)->Score(c.argv[3])));
}

Reply ZRem(Ctx& c) {
  const std::string& key = c.argv[1];
  if (auto e = CheckZset(c, key)) return *e;
  int64_t removed = 0;
  for (size_t i = 2; i < c.argv.size(); ++i) removed += c.ks.ZRem(key, c.argv[i], c.delta);
  c.wrote = removed > 0;
  return Reply::Integer(removed);
}

Reply ZScore(Ctx& c) {
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::optional<double> s = z ? z->Score(c.argv[2]) : std::nullopt;
  return s ? Reply::Bulk(crdt::FormatScore(*s)) : Reply::Nil();
}

Reply ZMScore(Ctx& c) {
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::vector<Reply> out;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    std::optional<double> s = z ? z->Score(c.argv[i]) : std::nullopt;
    out.push_back(s ? Reply::Bulk(crdt::FormatScore(*s)) : Reply::Nil());
  }
  return Reply::Array(std::move(out));
}

Reply ZCard(Ctx& c) {
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return Reply::Integer(z ? static_cast<int64_t>(z->size()) : 0);
}

Reply ZCount(Ctx& c) {
  ScoreRange r;
  if (!ParseScoreRange(c.argv[2], c.argv[3], &r)) return Err(kRangeNotFloat);
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return Reply::Integer(z ? static_cast<int64_t>(ByScore(*z, r, false, 0, -1).size()) : 0);
}

Reply ZLexCount(Ctx& c) {
  LexRange r;
  if (!ParseLexBound(c.argv[2], &r.min) || !ParseLexBound(c.argv[3], &r.max)) {
    return Err(kLexRange);
  }
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return Reply::Integer(z ? static_cast<int64_t>(ByLex(*z, r, false, 0, -1).size()) : 0);
}

namespace {
Reply RankOf(Ctx& c, bool rev) {
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  if (z == nullptr || !z->Score(c.argv[2])) return Reply::Nil();
  const size_t rank = z->Rank(c.argv[2]);
  return Reply::Integer(static_cast<int64_t>(rev ? z->size() - 1 - rank : rank));
}

Reply Pop(Ctx& c, bool max) {
  int64_t count = 1;
  const bool with_count = c.argv.size() >= 3;
  if (c.argv.size() > 3) return Err(kSyntax);
  if (with_count) {
    if (!ParseLong(c.argv[2], &count)) return Err(kNotInteger);
    if (count < 0) return Err(kNotPositive);
  }
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  if (z == nullptr || count == 0) return Reply::Array({});
  std::vector<ZsetStore::Item> items =
      ByRank(*z, 0, std::min<int64_t>(count, static_cast<int64_t>(z->size())) - 1, max);
  std::vector<Reply> out;
  std::vector<std::string> members;
  for (const auto& item : items) {
    PushScored(&out, item, true);
    members.push_back(*item.member);
  }
  for (const std::string& m : members) c.ks.ZRem(c.argv[1], m, c.delta);
  c.wrote = !members.empty();
  return Reply::Array(std::move(out));
}

// Pops up to `count` members of the first present key among argv[first..end) (min or max
// first): [key, member, score, ...] flat (BZPOPMIN, BZPOPMAX), or [key, [[member, score],
// ...]] (ZMPOP, BZMPOP). A null array when every key is absent.
Reply PopFirst(Ctx& c, size_t first, size_t end, bool max, int64_t count, bool nested) {
  for (size_t i = first; i < end; ++i) {
    if (auto e = CheckZset(c, c.argv[i])) return *e;
    const ZsetStore* z = ZsetOf(c, c.argv[i]);
    if (z == nullptr) continue;
    std::vector<ZsetStore::Item> items =
        ByRank(*z, 0, std::min<int64_t>(count, static_cast<int64_t>(z->size())) - 1, max);
    std::vector<std::string> members;
    std::vector<Reply> out;
    for (const auto& item : items) {
      if (nested) {
        out.push_back(Reply::BulkArray({*item.member, crdt::FormatScore(item.score)}));
      } else {
        PushScored(&out, item, true);
      }
      members.push_back(*item.member);
    }
    for (const std::string& m : members) c.ks.ZRem(c.argv[i], m, c.delta);
    c.wrote = !members.empty();
    if (nested) return Reply::Array({Reply::Bulk(c.argv[i]), Reply::Array(std::move(out))});
    out.insert(out.begin(), Reply::Bulk(c.argv[i]));
    return Reply::Array(std::move(out));
  }
  return Reply::NilArray();  // Redis's null array: nothing to pop
}

bool IsMinMax(std::string_view s) { return IEquals(s, "min") || IEquals(s, "max"); }

// ZMPOP numkeys key... MIN|MAX [COUNT n], its arguments from `at` (numkeys); BZMPOP's
// timeout (argument 1) is checked after them, as Redis does.
Reply MPop(Ctx& c, size_t at) {
  size_t where = 0;
  int64_t count = 1;
  if (auto bad = ParseMPop(c, at, IsMinMax, &where, &count)) return *bad;
  return PopFirst(c, at + 1, where, IEquals(c.argv[where], "max"), count, true);
}

// BZPOPMIN / BZPOPMAX key... timeout.
Reply BPop(Ctx& c, bool max) {
  if (auto bad = BadTimeout(c.argv.back())) return *bad;
  return PopFirst(c, 1, c.argv.size() - 1, max, 1, false);
}

Reply RemoveItems(Ctx& c, const std::vector<ZsetStore::Item>& items) {
  std::vector<std::string> members;
  for (const auto& item : items) members.push_back(*item.member);
  for (const std::string& m : members) c.ks.ZRem(c.argv[1], m, c.delta);
  c.wrote = !members.empty();
  return Reply::Integer(static_cast<int64_t>(members.size()));
}
}  // namespace

Reply ZRank(Ctx& c) { return RankOf(c, false); }
Reply ZRevRank(Ctx& c) { return RankOf(c, true); }
Reply ZPopMin(Ctx& c) { return Pop(c, false); }
Reply ZPopMax(Ctx& c) { return Pop(c, true); }
Reply ZMPop(Ctx& c) { return MPop(c, 1); }
Reply BZMPop(Ctx& c) { return MPop(c, 2); }
Reply BZPopMin(Ctx& c) { return BPop(c, false); }
Reply BZPopMax(Ctx& c) { return BPop(c, true); }

// ZRANDMEMBER key [count [WITHSCORES]]: Redis's draws are random; these are Draws' (the
// same count rules: a negative count may repeat, a count >= the size is the whole set,
// else distinct members).
Reply ZRandMember(Ctx& c) {
  int64_t count = 0;
  bool withscores = false;
  if (c.argv.size() >= 3) {
    if (!ParseLong(c.argv[2], &count)) return Err(kNotInteger);
    if (count == std::numeric_limits<int64_t>::min()) {
      return Err(
          "ERR value is out of range, value must between -9223372036854775807 and "
          "9223372036854775807");
    }
    if (c.argv.size() > 4 || (c.argv.size() == 4 && !IEquals(c.argv[3], "withscores"))) {
      return Err(kSyntax);
    }
    withscores = c.argv.size() == 4;
    if (withscores && (count < -std::numeric_limits<int64_t>::max() / 2 ||
                       count > std::numeric_limits<int64_t>::max() / 2)) {
      return Err("ERR value is out of range");
    }
  }
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::vector<ZsetStore::Item> items;
  // From the highest rank down, as Redis's zuiNext walks a sorted set (the whole set, for
  // a count >= its size, comes in that order).
  if (z != nullptr) items.assign(z->index().rbegin(), z->index().rend());
  // aasim's bound (as SRANDMEMBER's): Redis would start a reply of -count items.
  if (!items.empty() && count < -10000000) return Err("ERR value is out of range");
  Draws draws(c.argv[1], c.now_us);
  if (c.argv.size() == 2) {
    if (items.empty()) return Reply::Nil();
    return Reply::Bulk(*items[draws.Below(items.size())].member);
  }
  std::vector<Reply> out;
  for (const auto& item : draws.Sample(std::move(items), count)) {
    PushScored(&out, item, withscores);
  }
  return Reply::Array(std::move(out));
}

Reply ZRange(Ctx& c) { return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kAuto, 0); }
Reply ZRangeStore(Ctx& c) { return RangeGeneric(c, 3, c.argv[2], &c.argv[1], RangeType::kAuto, 0); }
Reply ZRangeByScore(Ctx& c) { return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kScore, 1); }
Reply ZRevRangeByScore(Ctx& c) {
  return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kScore, -1);
}
Reply ZRevRange(Ctx& c) { return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kRank, -1); }
Reply ZRangeByLex(Ctx& c) { return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kLex, 1); }
Reply ZRevRangeByLex(Ctx& c) { return RangeGeneric(c, 2, c.argv[1], nullptr, RangeType::kLex, -1); }

Reply ZRemRangeByLex(Ctx& c) {
  LexRange r;
  if (!ParseLexBound(c.argv[2], &r.min) || !ParseLexBound(c.argv[3], &r.max)) {
    return Err(kLexRange);
  }
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return z ? RemoveItems(c, ByLex(*z, r, false, 0, -1)) : Reply::Integer(0);
}

Reply ZRemRangeByScore(Ctx& c) {
  ScoreRange r;
  if (!ParseScoreRange(c.argv[2], c.argv[3], &r)) return Err(kRangeNotFloat);
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return z ? RemoveItems(c, ByScore(*z, r, false, 0, -1)) : Reply::Integer(0);
}

Reply ZRemRangeByRank(Ctx& c) {
  int64_t start = 0, end = 0;
  if (!ParseLong(c.argv[2], &start) || !ParseLong(c.argv[3], &end)) return Err(kNotInteger);
  if (auto e = CheckZset(c, c.argv[1])) return *e;
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  return z ? RemoveItems(c, ByRank(*z, start, end, false)) : Reply::Integer(0);
}

// The set algebra of ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (t_zset.c
// zunionInterDiffGenericCommand): numkeys at argv[at], the keys after it, then the options
// (WEIGHTS and AGGREGATE but for ZDIFF, WITHSCORES without a destination, LIMIT for
// ZINTERCARD only). Sets count as sorted sets with every score 1, as in Redis.
namespace {
enum class SetOpKind { kUnion, kInter, kDiff };

Reply SetOp(Ctx& c, size_t at, SetOpKind op, const std::string* dst, bool card_only,
            std::string_view name) {
  int64_t numkeys = 0;
  if (!ParseLong(c.argv[at], &numkeys)) return Err(kNotInteger);
  if (numkeys < 1) {
    return Reply::Error("ERR at least 1 input key is needed for '" + std::string(name) +
                        "' command");
  }
  if (numkeys > static_cast<int64_t>(c.argv.size() - at - 1)) return Err(kSyntax);
  const size_t n = static_cast<size_t>(numkeys);
  // Inputs: member -> score, per key (absent keys are empty). Types are checked before
  // the options are parsed, as in Redis.
  std::vector<std::vector<std::pair<std::string, double>>> inputs(n);
  for (size_t k = 0; k < n; ++k) {
    const std::string& key = c.argv[at + 1 + k];
    const Type t = c.ks.TypeOf(key);
    if (t == Type::kZset) {
      for (const auto& item : ZsetOf(c, key)->index())
        inputs[k].emplace_back(*item.member, item.score);
    } else if (t == Type::kSet) {
      for (std::string& m : c.ks.Members(key)) inputs[k].emplace_back(std::move(m), 1.0);
    } else if (t != Type::kNone) {
      return Err(kWrongType);
    }
    std::sort(inputs[k].begin(), inputs[k].end());
  }
  std::vector<double> weights(n, 1.0);
  enum { kSum, kMin, kMax } aggregate = kSum;
  bool withscores = false;
  int64_t limit = 0;  // ZINTERCARD: 0 is no limit
  const bool weighted = op != SetOpKind::kDiff && !card_only;
  for (size_t j = at + 1 + n; j < c.argv.size(); ++j) {
    const size_t left = c.argv.size() - j - 1;
    if (weighted && IEquals(c.argv[j], "weights") && left >= n) {
      for (size_t k = 0; k < n; ++k) {
        if (!crdt::ParseScore(c.argv[j + 1 + k], &weights[k])) {
          return Err("ERR weight value is not a float");
        }
      }
      j += n;
    } else if (weighted && IEquals(c.argv[j], "aggregate") && left >= 1) {
      const std::string& a = c.argv[j + 1];
      if (IEquals(a, "sum")) {
        aggregate = kSum;
      } else if (IEquals(a, "min")) {
        aggregate = kMin;
      } else if (IEquals(a, "max")) {
        aggregate = kMax;
      } else {
        return Err(kSyntax);
      }
      ++j;
    } else if (dst == nullptr && !card_only && IEquals(c.argv[j], "withscores")) {
      withscores = true;
    } else if (card_only && IEquals(c.argv[j], "limit") && left >= 1) {
      // getPositiveLongFromObjectOrReply with a message: the message for any bad value.
      if (!ParseLong(c.argv[j + 1], &limit) || limit < 0) {
        return Err("ERR LIMIT can't be negative");
      }
      ++j;
    } else {
      return Err(kSyntax);
    }
  }
  // As t_zunionInterDiffGenericCommand: the inputs are visited from the smallest to the
  // largest (glibc's qsort keeps equal sizes in key order); a weighted score that is NaN
  // (0 * inf) counts as 0 when it starts a member's aggregate, a SUM that becomes NaN
  // (inf + -inf) is 0, and MIN / MAX ignore the NaN values of later inputs of ZINTERSTORE.
  std::vector<size_t> order(n);
  for (size_t k = 0; k < n; ++k) order[k] = k;
  if (op != SetOpKind::kDiff) {
    std::stable_sort(order.begin(), order.end(),
                     [&inputs](size_t a, size_t b) { return inputs[a].size() < inputs[b].size(); });
  }
  auto first_value = [](double v, double w) {
    double s = v * w;
    return std::isnan(s) ? 0.0 : s;
  };
  auto combine = [aggregate](double* target, double v) {
    if (aggregate == kSum) {
      *target += v;
      if (std::isnan(*target)) *target = 0;
    } else if (aggregate == kMin) {
      *target = v < *target ? v : *target;
    } else {
      *target = v > *target ? v : *target;
    }
  };
  auto score_in = [&inputs](size_t k, const std::string& m) -> std::optional<double> {
    auto it =
        std::lower_bound(inputs[k].begin(), inputs[k].end(), m,
                         [](const auto& item, const std::string& key) { return item.first < key; });
    if (it == inputs[k].end() || it->first != m) return std::nullopt;
    return it->second;
  };
  std::map<std::string, double> acc;
  int64_t cardinality = 0;
  if (op == SetOpKind::kUnion) {
    for (size_t k : order) {
      for (const auto& [m, s] : inputs[k]) {
        const double v = first_value(s, weights[k]);
        auto [it, fresh] = acc.emplace(m, v);
        if (!fresh) combine(&it->second, v);
      }
    }
  } else if (op == SetOpKind::kInter) {
    for (const auto& [m, s] : inputs[order[0]]) {
      double score = first_value(s, weights[order[0]]);
      bool everywhere = true;
      for (size_t j = 1; j < n && everywhere; ++j) {
        std::optional<double> other = score_in(order[j], m);
        if (other) combine(&score, *other * weights[order[j]]);
        everywhere = other.has_value();
      }
      if (!everywhere) continue;
      if (!card_only) {
        acc.emplace(m, score);
      } else if (++cardinality == limit) {
        break;
      }
    }
  } else {
    for (const auto& [m, s] : inputs[0]) {
      bool elsewhere = false;
      for (size_t j = 1; j < n && !elsewhere; ++j) elsewhere = score_in(j, m).has_value();
      if (!elsewhere) acc.emplace(m, s);
    }
  }
  if (card_only) return Reply::Integer(cardinality);
  if (dst == nullptr) {
    std::vector<std::pair<double, std::string>> result;  // in the result's score order
    result.reserve(acc.size());
    for (auto& [m, score] : acc) result.emplace_back(score, m);
    std::sort(result.begin(), result.end());
    std::vector<Reply> out;
    for (const auto& [s, m] : result) {
      out.push_back(Reply::Bulk(m));
      if (withscores) out.push_back(Reply::Bulk(crdt::FormatScore(s)));
    }
    return Reply::Array(std::move(out));
  }
  // Stored: -0 becomes 0, as a listpack-encoded Redis sorted set shows it.
  if (c.ks.TypeOf(*dst) != Type::kNone) {
    c.ks.Del(*dst, c.delta);
    c.wrote = true;
  }
  for (const auto& [m, s] : acc) c.ks.ZAdd(*dst, m, s == 0 ? 0 : s, c.now_us, c.delta);
  c.wrote |= !acc.empty();
  return Reply::Integer(static_cast<int64_t>(acc.size()));
}
}  // namespace

Reply ZUnionStore(Ctx& c) {
  return SetOp(c, 2, SetOpKind::kUnion, &c.argv[1], false, "zunionstore");
}
Reply ZInterStore(Ctx& c) {
  return SetOp(c, 2, SetOpKind::kInter, &c.argv[1], false, "zinterstore");
}
Reply ZDiffStore(Ctx& c) { return SetOp(c, 2, SetOpKind::kDiff, &c.argv[1], false, "zdiffstore"); }
Reply ZUnion(Ctx& c) { return SetOp(c, 1, SetOpKind::kUnion, nullptr, false, "zunion"); }
Reply ZInter(Ctx& c) { return SetOp(c, 1, SetOpKind::kInter, nullptr, false, "zinter"); }
Reply ZDiff(Ctx& c) { return SetOp(c, 1, SetOpKind::kDiff, nullptr, false, "zdiff"); }
Reply ZInterCard(Ctx& c) { return SetOp(c, 1, SetOpKind::kInter, nullptr, true, "zintercard"); }

namespace {
std::optional<std::string> MemberScore(const Ctx& c, const std::string& member) {
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::optional<double> s = z ? z->Score(member) : std::nullopt;
  return s ? std::optional<std::string>(crdt::FormatScore(*s)) : std::nullopt;
}
}  // namespace

// ZSCAN key cursor [MATCH pattern] [COUNT n]: pages of members with their scores, with the
// cursor scheme of SSCAN and HSCAN.
Reply ZScan(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kZset)) {  // Redis parses the cursor first
    Reply checked = ScanNames(c, c.argv[2], c.argv.size(), {}, nullptr, nullptr);
    return checked.type == Reply::Type::kError ? checked : Err(kWrongType);
  }
  std::vector<std::string> members;
  if (const ZsetStore* z = ZsetOf(c, c.argv[1])) {
    members.reserve(z->size());
    for (const auto& item : z->index()) members.push_back(*item.member);
  }
  return ScanNames(c, c.argv[2], 3, members, nullptr, MemberScore);
}

}  // namespace engine
}  // namespace cluster_sim
