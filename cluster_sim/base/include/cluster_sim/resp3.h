// RESP3 types of replies. aasim's replies are RESP2-shaped (Reply); Redis 7 types some of
// them at the source when a client speaks RESP3 (after HELLO 3) and when a Lua script
// asked for RESP3 (redis.setresp(3)): HGETALL a map, SMEMBERS a set, ZSCORE a double,
// WITHSCORES [member, score] pairs, both nulls one null. This header names the shape of
// a command's reply and types a reply by it; the endpoint writes the typed value as RESP3
// bytes, the Lua glue converts it into Lua values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"

namespace cluster_sim {

enum class Resp3Shape {
  kPlain,           // as is (nil and null arrays become null)
  kMap,             // a flat array of 2n items: a map of n pairs
  kSet,             // an array: a set
  kDouble,          // a bulk number: a double (nil stays null)
  kDoubles,         // an array of bulk numbers or nils: doubles
  kScorePairs,      // a flat [member, score, ...]: an array of [member, double] pairs
  kPairs,           // a flat [field, value, ...]: an array of [field, value] pairs
  kMemberScore,     // a flat [member, score]: the same with a double (nil stays null)
  kPairsToMap,      // an array of [key, value] arrays: a map (XREAD, XREADGROUP)
  kPositions,       // an array of [longitude, latitude] arrays or nulls: doubles (GEOPOS)
  kKeyScorePairs,   // [key, [[member, score], ...]]: the scores doubles (ZMPOP, BZMPOP)
  kKeyMemberScore,  // [key, member, score]: the score a double (BZPOPMIN, BZPOPMAX)
};

// The RESP3 shape of the reply to `argv` (the command as the client sent it).
Resp3Shape Resp3ShapeOf(const std::vector<std::string>& argv);

// A reply typed for RESP3. `plain` points into the reply it was made from (which must
// outlive it) for kPlain and kBool; `text` is a double's text as the command wrote it ("1.5",
// "inf", "-inf").
struct Resp3Value {
  enum class Kind { kNull, kPlain, kArray, kMap, kSet, kDouble, kBool };
  Kind kind = Kind::kNull;
  const Reply* plain = nullptr;
  std::string_view text;
  std::vector<Resp3Value> items;  // kArray, kSet; kMap: key, value, key, value, ...
};

// Types `reply` as `shape` says; a reply that does not have the shape's form (an error,
// an odd-length flat map) stays plain. Nested arrays are plain arrays of typed items.
Resp3Value TypeResp3(const Reply& reply, Resp3Shape shape);

}  // namespace cluster_sim
