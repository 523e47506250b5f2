// SORT and SORT_RO (Redis 7.0's sort.c replies and errors) on lists, sets and sorted sets,
// without the options that read other keys: BY with a pattern (one holding '*') and GET are
// refused with an error saying so; BY with a constant (no sorting), ASC, DESC, ALPHA, LIMIT
// and STORE are as in Redis. ALPHA compares bytes (Redis uses the server's locale collation
// when there is no STORE: the same order under the C locale). Active/Active meaning: SORT
// ... STORE replaces its destination with a new list (a DEL, observed-remove, then the
// pushes: one effect), as LPUSH into a deleted key.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

constexpr std::string_view kPatternRefused =
    "ERR SORT BY with a pattern and SORT GET read other keys: not supported by aasim";

// Redis's sortCompare for numbers: strtod of the whole element, refusing trailing bytes,
// out-of-range values and NaN.
bool SortScore(const std::string& s, double* v) {
  errno = 0;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return *end == '\0' && errno != ERANGE && !std::isnan(*v);
}

Reply SortGeneric(Ctx& c, bool read_only) {
  bool desc = false, alpha = false, dontsort = false;
  int64_t limit_start = 0, limit_count = -1;
  const std::string* store = nullptr;
  for (size_t j = 2; j < c.argv.size(); ++j) {
    const size_t left = c.argv.size() - j - 1;
    const std::string& a = c.argv[j];
    if (IEquals(a, "asc")) {
      desc = false;
    } else if (IEquals(a, "desc")) {
      desc = true;
    } else if (IEquals(a, "alpha")) {
      alpha = true;
    } else if (IEquals(a, "limit") && left >= 2) {
      if (!crdt::ParseRedisInteger(c.argv[j + 1], &limit_start) ||
          !crdt::ParseRedisInteger(c.argv[j + 2], &limit_count)) {
        return Err(kNotInteger);
      }
      j += 2;
    } else if (!read_only && IEquals(a, "store") && left >= 1) {
      store = &c.argv[++j];
    } else if (IEquals(a, "by") && left >= 1) {
      if (c.argv[j + 1].find('*') != std::string::npos) return Err(kPatternRefused);
      dontsort = true;
      ++j;
    } else if (IEquals(a, "get") && left >= 1) {
      return Err(kPatternRefused);
    } else {
      return Err(kSyntax);
    }
  }
  const std::string& key = c.argv[1];
  const Type t = c.ks.TypeOf(key);
  if (t != Type::kNone && t != Type::kList && t != Type::kSet && t != Type::kZset) {
    return Err(kWrongType);
  }
  // A set has no order of its own: with STORE (or in a script, in Redis) it is sorted.
  if (dontsort && t == Type::kSet && store != nullptr) {
    dontsort = false;
    alpha = true;
  }
  std::vector<std::string> items;
  if (t == Type::kList) {
    items = c.ks.List(key)->Values();
  } else if (t == Type::kSet) {
    items = c.ks.Members(key);
  } else if (t == Type::kZset) {
    for (const auto& item : c.ks.Find(key)->zset.index()) items.push_back(*item.member);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  int64_t start = std::min(std::max<int64_t>(limit_start, 0), n);
  const int64_t count = std::min(std::max<int64_t>(limit_count, -1), n);
  int64_t end = count < 0 ? n - 1 : start + count - 1;
  if (start >= n) {
    start = n - 1;
    end = n - 2;
  }
  if (end >= n) end = n - 1;
  if (dontsort) {
    // Lists and sorted sets keep their order (DESC reverses it); a set its members' order.
    if (desc && t != Type::kSet) std::reverse(items.begin(), items.end());
  } else if (alpha) {
    std::sort(items.begin(), items.end(),
              [desc](const std::string& a, const std::string& b) { return desc ? b < a : a < b; });
  } else {
    std::vector<std::pair<double, std::string>> scored;
    scored.reserve(items.size());
    for (std::string& s : items) {
      double v = 0;
      if (!SortScore(s, &v)) return Err("ERR One or more scores can't be converted into double");
      scored.emplace_back(v, std::move(s));
    }
    std::sort(scored.begin(), scored.end(),
              [desc](const auto& a, const auto& b) { return desc ? b < a : a < b; });
    items.clear();
    for (auto& [v, s] : scored) items.push_back(std::move(s));
  }
  std::vector<std::string> out;
  for (int64_t j = std::max<int64_t>(start, 0); j <= end; ++j) {
    out.push_back(std::move(items[static_cast<size_t>(j)]));
  }
  if (store == nullptr) return Reply::BulkArray(out);
  if (c.ks.TypeOf(*store) != Type::kNone) c.wrote |= c.ks.Del(*store, c.delta);
  for (size_t i = 0; i < out.size(); ++i) c.ks.LInsert(*store, i, out[i], c.delta);
  c.wrote |= !out.empty();
  return Reply::Integer(static_cast<int64_t>(out.size()));
}

}  // namespace

Reply Sort(Ctx& c) { return SortGeneric(c, false); }
Reply SortRo(Ctx& c) { return SortGeneric(c, true); }

}  // namespace engine
}  // namespace cluster_sim
