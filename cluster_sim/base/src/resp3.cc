#include "cluster_sim/resp3.h"

#include <string>
#include <vector>

#include "cluster_sim/strings.h"

namespace cluster_sim {
namespace {

bool HasArg(const std::vector<std::string>& argv, size_t from, std::string_view word) {
  for (size_t i = from; i < argv.size(); ++i) {
    if (IEquals(argv[i], word)) return true;
  }
  return false;
}

Resp3Value Of(Resp3Value::Kind kind) {
  Resp3Value v;
  v.kind = kind;
  return v;
}

// A bulk number as a double (anything else typed plain).
Resp3Value Number(const Reply& r) {
  if (r.type != Reply::Type::kBulk) return TypeResp3(r, Resp3Shape::kPlain);
  Resp3Value v = Of(Resp3Value::Kind::kDouble);
  v.text = r.str;
  return v;
}

// [a, b] as a two-item array, b a double when `score`.
Resp3Value Pair(const Reply& a, const Reply& b, bool score) {
  Resp3Value v = Of(Resp3Value::Kind::kArray);
  v.items.push_back(TypeResp3(a, Resp3Shape::kPlain));
  v.items.push_back(score ? Number(b) : TypeResp3(b, Resp3Shape::kPlain));
  return v;
}

}  // namespace

Resp3Shape Resp3ShapeOf(const std::vector<std::string>& argv) {
  if (argv.empty()) return Resp3Shape::kPlain;
  std::string cmd = AsciiLower(argv[0]);
  const size_t n = argv.size();
  if (cmd == "hgetall" || (cmd == "config" && n > 1 && IEquals(argv[1], "get"))) {
    return Resp3Shape::kMap;
  }
  if (cmd == "smembers" || cmd == "sinter" || cmd == "sunion" || cmd == "sdiff" ||
      (cmd == "spop" && n == 3)) {
    return Resp3Shape::kSet;
  }
  if (cmd == "zscore" || cmd == "zincrby" || (cmd == "zadd" && HasArg(argv, 2, "incr"))) {
    return Resp3Shape::kDouble;
  }
  if (cmd == "zmscore") return Resp3Shape::kDoubles;
  if (cmd == "zpopmin" || cmd == "zpopmax") {
    return n == 2 ? Resp3Shape::kMemberScore : Resp3Shape::kScorePairs;
  }
  if (cmd == "bzpopmin" || cmd == "bzpopmax") return Resp3Shape::kKeyMemberScore;
  if (cmd == "zmpop" || cmd == "bzmpop") return Resp3Shape::kKeyScorePairs;
  if ((cmd == "zrange" || cmd == "zrangebyscore" || cmd == "zrevrange" ||
       cmd == "zrevrangebyscore" || cmd == "zrandmember" || cmd == "zunion" || cmd == "zinter" ||
       cmd == "zdiff") &&
      HasArg(argv, 2, "withscores")) {
    return Resp3Shape::kScorePairs;
  }
  if (cmd == "hrandfield" && HasArg(argv, 3, "withvalues")) return Resp3Shape::kPairs;
  if (cmd == "xread" || cmd == "xreadgroup") return Resp3Shape::kPairsToMap;
  if (cmd == "geopos") return Resp3Shape::kPositions;
  return Resp3Shape::kPlain;
}

Resp3Value TypeResp3(const Reply& reply, Resp3Shape shape) {
  using K = Resp3Value::Kind;
  if (reply.is_nil()) return Of(K::kNull);
  if (reply.type == Reply::Type::kBulk && shape == Resp3Shape::kDouble) return Number(reply);
  // A script's RESP3 values are typed already.
  if (reply.type == Reply::Type::kDouble) {
    Resp3Value v = Of(K::kDouble);
    v.text = reply.str;
    return v;
  }
  if (reply.type == Reply::Type::kBool) {
    Resp3Value v = Of(K::kBool);
    v.plain = &reply;
    return v;
  }
  if (reply.type == Reply::Type::kMap || reply.type == Reply::Type::kSet) {
    Resp3Value v = Of(reply.type == Reply::Type::kMap ? K::kMap : K::kSet);
    for (const auto& x : reply.elements) v.items.push_back(TypeResp3(x, Resp3Shape::kPlain));
    return v;
  }
  if (reply.type != Reply::Type::kArray) {
    Resp3Value v = Of(K::kPlain);
    v.plain = &reply;
    return v;
  }
  const auto& e = reply.elements;
  auto all_pairs = [&e] {
    for (const auto& x : e) {
      if (x.type != Reply::Type::kArray || x.elements.size() != 2) return false;
    }
    return true;
  };
  Resp3Value v = Of(K::kArray);
  switch (shape) {
    case Resp3Shape::kMap:
      if (e.size() % 2 != 0) break;
      v.kind = K::kMap;
      for (const auto& x : e) v.items.push_back(TypeResp3(x, Resp3Shape::kPlain));
      return v;
    case Resp3Shape::kSet:
      v.kind = K::kSet;
      for (const auto& x : e) v.items.push_back(TypeResp3(x, Resp3Shape::kPlain));
      return v;
    case Resp3Shape::kDoubles:
      for (const auto& x : e) v.items.push_back(Number(x));
      return v;
    case Resp3Shape::kScorePairs:
    case Resp3Shape::kPairs:
      if (e.size() % 2 != 0) break;
      for (size_t i = 0; i < e.size(); i += 2) {
        v.items.push_back(Pair(e[i], e[i + 1], shape == Resp3Shape::kScorePairs));
      }
      return v;
    case Resp3Shape::kMemberScore:
      if (e.size() != 2) break;
      return Pair(e[0], e[1], /*score=*/true);
    case Resp3Shape::kKeyMemberScore:
      if (e.size() != 3) break;
      v.items.push_back(TypeResp3(e[0], Resp3Shape::kPlain));
      v.items.push_back(TypeResp3(e[1], Resp3Shape::kPlain));
      v.items.push_back(Number(e[2]));
      return v;
    case Resp3Shape::kKeyScorePairs:
      if (e.size() != 2 || e[1].type != Reply::Type::kArray) break;
      v.items.push_back(TypeResp3(e[0], Resp3Shape::kPlain));
      v.items.push_back(Of(K::kArray));
      for (const auto& x : e[1].elements) {
        v.items.back().items.push_back(TypeResp3(x, Resp3Shape::kMemberScore));
      }
      return v;
    case Resp3Shape::kPairsToMap:
      if (!all_pairs()) break;
      v.kind = K::kMap;
      for (const auto& x : e) {
        v.items.push_back(TypeResp3(x.elements[0], Resp3Shape::kPlain));
        v.items.push_back(TypeResp3(x.elements[1], Resp3Shape::kPlain));
      }
      return v;
    case Resp3Shape::kPositions:
      for (const auto& x : e) v.items.push_back(TypeResp3(x, Resp3Shape::kDoubles));
      return v;
    case Resp3Shape::kPlain:
    case Resp3Shape::kDouble:
      break;
  }
  for (const auto& x : e) v.items.push_back(TypeResp3(x, Resp3Shape::kPlain));
  return v;
}

}  // namespace cluster_sim
