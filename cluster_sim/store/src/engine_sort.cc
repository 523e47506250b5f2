// SORT and SORT_RO (Redis 7.0's sort.c replies and errors) on lists, sets and sorted sets,
// with BY (a constant: no sorting; a pattern: the weights of other keys, `weight_*` a
// string, `weight_*->field` a hash field, a missing one weighing 0, or first with ALPHA),
// GET (`#` the element, a pattern as BY's; missing: nil, or "" in a STORE), ASC, DESC,
// ALPHA, LIMIT and STORE as in Redis. ALPHA compares bytes (Redis uses the server's locale
// collation when there is no STORE: the same order under the C locale); equal ALPHA
// weights keep the elements' order (Redis leaves it to qsort). The keys BY and GET read are
// this region's view of them. Active/Active meaning: SORT ... STORE replaces its
// destination with a new list (a DEL, observed-remove, then the pushes: one effect), as
// LPUSH into a deleted key.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
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

// Redis's sortCompare for numbers: strtod of the whole element, refusing trailing bytes,
// out-of-range values and NaN.
bool SortScore(const std::string& s, double* v) {
  errno = 0;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return *end == '\0' && errno != ERANGE && !std::isnan(*v);
}

// Redis's lookupKeyByPattern: "#" is `element`; otherwise the first '*' of `pattern` is
// replaced by `element` and the key read: a string's value, or with "->field" after the
// '*' a hash's field. Nothing for a pattern without '*', a missing key or field, or a key
// of another type.
std::optional<std::string> LookupByPattern(const Ctx& c, std::string_view pattern,
                                           const std::string& element) {
  if (pattern == "#") return element;
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  std::string_view rest = pattern.substr(star + 1);
  std::string_view field;
  const size_t arrow = rest.find("->");
  if (arrow != std::string_view::npos && arrow + 2 < rest.size()) {
    field = rest.substr(arrow + 2);
    rest = rest.substr(0, arrow);
  }
  std::string key(pattern.substr(0, star));
  key.append(element).append(rest);
  const Type t = c.ks.TypeOf(key);
  if (!field.empty()) return t == Type::kHash ? HashGet(c, key, field) : std::nullopt;
  return t == Type::kString ? c.ks.Get(key) : std::nullopt;
}

// One element to sort and its weight: a number, or with ALPHA and BY a string (none
// sorts first).
struct Sorted {
  std::string element;
  double score = 0;
  std::optional<std::string> alpha_by;
};

Reply SortGeneric(Ctx& c, bool read_only) {
  bool desc = false, alpha = false, dontsort = false;
  int64_t limit_start = 0, limit_count = -1;
  const std::string* store = nullptr;
  const std::string* sortby = nullptr;
  std::vector<std::string_view> gets;
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
      sortby = &c.argv[++j];
      if (sortby->find('*') == std::string::npos) dontsort = true;  // a constant: no sorting
    } else if (IEquals(a, "get") && left >= 1) {
      gets.push_back(c.argv[++j]);
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
    sortby = nullptr;
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
  } else {
    std::vector<Sorted> sorted(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      Sorted& s = sorted[i];
      s.element = std::move(items[i]);
      std::optional<std::string> by;
      if (sortby != nullptr) by = LookupByPattern(c, *sortby, s.element);
      if (alpha) {
        s.alpha_by = std::move(by);
      } else if ((sortby == nullptr || by) && !SortScore(by ? *by : s.element, &s.score)) {
        return Err("ERR One or more scores can't be converted into double");
      }
    }
    // Redis's sortCompare; `desc` reverses it whole.
    auto less = [alpha, by = sortby != nullptr](const Sorted& a, const Sorted& b) {
      if (!alpha) {
        if (a.score != b.score) return a.score < b.score;
        return a.element < b.element;
      }
      if (!by) return a.element < b.element;
      if (!a.alpha_by || !b.alpha_by) return !a.alpha_by && b.alpha_by;
      return *a.alpha_by < *b.alpha_by;
    };
    std::stable_sort(sorted.begin(), sorted.end(), [desc, &less](const Sorted& a, const Sorted& b) {
      return desc ? less(b, a) : less(a, b);
    });
    for (size_t i = 0; i < items.size(); ++i) items[i] = std::move(sorted[i].element);
  }
  std::vector<Reply> out;
  for (int64_t j = std::max<int64_t>(start, 0); j <= end; ++j) {
    const std::string& element = items[static_cast<size_t>(j)];
    if (gets.empty()) out.push_back(Reply::Bulk(element));
    for (std::string_view pattern : gets) {
      std::optional<std::string> v = LookupByPattern(c, pattern, element);
      // STORE pushes "" for a missing one (a list holds no nil).
      out.push_back(v ? Reply::Bulk(std::move(*v)) : store ? Reply::Bulk("") : Reply::Nil());
    }
  }
  if (store == nullptr) return Reply::Array(std::move(out));
  if (c.ks.TypeOf(*store) != Type::kNone) c.wrote |= c.ks.Del(*store, c.delta);
  for (size_t i = 0; i < out.size(); ++i) c.ks.LInsert(*store, i, out[i].str, c.delta);
  c.wrote |= !out.empty();
  return Reply::Integer(static_cast<int64_t>(out.size()));
}

}  // namespace

Reply Sort(Ctx& c) { return SortGeneric(c, false); }
Reply SortRo(Ctx& c) { return SortGeneric(c, true); }

}  // namespace engine
}  // namespace cluster_sim
