// The client-facing contract of a region: Redis-shaped replies and the interfaces through
// which services (lending) and scenario steps talk to a store. Services include only this
// header (and service.h, status.h, time.h), never the simulator's internals, so the same service
// code can run against any Redis-speaking store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cluster_sim {

// A RESP2-shaped reply. Redis has two nulls: the null bulk string (`$-1`, GET of a missing
// key) and the null array (`*-1`, LPOP key COUNT of a missing key, an aborted EXEC, a
// missing member in GEOPOS); clients and Lua see both as nil, the wire tells them apart.
// Commands never reply kMap, kSet, kDouble or kBool: only a Lua script returning RESP3
// values ({map=...}, {set=...}, {double=...}, a boolean after redis.setresp(3)) does; a
// RESP2 client reads them as an array (the map flat), an array, a bulk string and 1 or 0.
struct Reply {
  enum class Type {
    kStatus,
    kError,
    kInteger,
    kBulk,
    kNil,
    kArray,
    kNilArray,
    kMap,
    kSet,
    kDouble,
    kBool
  };

  Type type = Type::kNil;
  std::string str;      // kStatus, kError (full text, e.g. "ERR unknown command 'FOO'"), kBulk,
                        // kDouble (as Redis writes it: "%.17g", "inf", "-inf")
  int64_t integer = 0;  // kInteger; kBool: 0 or 1
  std::vector<Reply> elements;  // kArray, kSet; kMap: key, value, key, value, ...

  static Reply Status(std::string s) { return Reply{Type::kStatus, std::move(s), 0, {}}; }
  static Reply Error(std::string s) { return Reply{Type::kError, std::move(s), 0, {}}; }
  static Reply Integer(int64_t v) { return Reply{Type::kInteger, {}, v, {}}; }
  static Reply Bulk(std::string s) { return Reply{Type::kBulk, std::move(s), 0, {}}; }
  static Reply Nil() { return Reply{}; }
  static Reply NilArray() { return Reply{Type::kNilArray, {}, 0, {}}; }
  static Reply Array(std::vector<Reply> e) { return Reply{Type::kArray, {}, 0, std::move(e)}; }
  static Reply Map(std::vector<Reply> e) { return Reply{Type::kMap, {}, 0, std::move(e)}; }
  static Reply Set(std::vector<Reply> e) { return Reply{Type::kSet, {}, 0, std::move(e)}; }
  static Reply Double(std::string text) { return Reply{Type::kDouble, std::move(text), 0, {}}; }
  static Reply Bool(bool b) { return Reply{Type::kBool, {}, b ? 1 : 0, {}}; }
  static Reply BulkArray(const std::vector<std::string>& items) {
    std::vector<Reply> e;
    e.reserve(items.size());
    for (const auto& s : items) e.push_back(Bulk(s));
    return Array(std::move(e));
  }

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil || type == Type::kNilArray; }
  // Text as a person reads it: integers and strings plain, nil as "(nil)", errors as
  // "(error) TEXT", arrays as "[a, b]".
  std::string ToString() const;
  friend bool operator==(const Reply&, const Reply&) = default;
};

// Something that runs Redis commands: a region's local endpoint.
class Client {
 public:
  virtual ~Client() = default;
  virtual Reply Execute(const std::vector<std::string>& argv) = 0;
};

}  // namespace cluster_sim
