// The BC.* commands' expected replies, as one script over two regions A (site 0) and B
// (site 1) that know their names: the overdraft kept, every error text, WRONGTYPE both
// ways, GET of a bounded counter, and the 2^59 bound. Run on memory stores by
// bounded_counter_commands_test.cc and on a RedisStore by redis_store_test.cc (the
// differential: same replies, same effects, and the native value readable with GET).
#pragma once

#include <string>
#include <vector>

#include "cluster_sim/client.h"

namespace cluster_sim::testing {

struct BcStep {
  char region;          // 'A' or 'B'; 'S' syncs both ways (no command)
  std::string command;  // words separated by single spaces
  Reply want;
};

inline std::vector<BcStep> BoundedCounterScript() {
  const Reply wrong_type =
      Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value");
  const Reply not_integer = Reply::Error("ERR value is not an integer or out of range");
  const Reply not_positive = Reply::Error("ERR value is out of range, must be positive");
  const Reply overflow = Reply::Error("ERR increment or decrement would overflow");
  auto rights = [](int64_t a, int64_t b) {
    return Reply::Array({Reply::Bulk("A"), Reply::Integer(a), Reply::Bulk("B"), Reply::Integer(b)});
  };
  auto insufficient = [](const char* region, int64_t held, int64_t n) {
    return Reply::Error(std::string("ERR insufficient rights: region ") + region + " holds " +
                        std::to_string(held) + " of " + std::to_string(n));
  };
  const Reply sync = Reply::Nil();
  return {
      // The overdraft, kept.
      {'A', "BC.INCRBY acct 100", Reply::Integer(100)},
      {'A', "BC.RIGHTS acct", rights(100, 0)},
      {'A', "BC.TRANSFER acct 40 B", Reply::Integer(60)},
      {'A', "GET acct", Reply::Bulk("100")},
      {'A', "TYPE acct", Reply::Status("bcounter")},
      {'S', "", sync},
      {'B', "BC.RIGHTS acct", rights(60, 40)},
      {'A', "BC.DECRBY acct 60", Reply::Integer(40)},
      {'B', "BC.DECRBY acct 60", insufficient("B", 40, 60)},
      {'B', "BC.DECRBY acct 40", Reply::Integer(60)},
      {'S', "", sync},
      {'A', "BC.GET acct", Reply::Integer(0)},
      {'B', "BC.GET acct", Reply::Integer(0)},
      {'B', "BC.RIGHTS acct", rights(0, 0)},
      {'B', "BC.DECRBY acct 1", insufficient("B", 0, 1)},
      {'A', "BC.TRANSFER acct 1 B", insufficient("A", 0, 1)},
      {'A', "BC.INCRBY acct 5", Reply::Integer(5)},
      // Arguments (checked before the type, as INCRBY's in Redis).
      {'A', "BC.INCRBY acct x", not_integer},
      {'A', "BC.INCRBY acct 99999999999999999999", not_integer},
      {'A', "BC.INCRBY acct 0", not_positive},
      {'A', "BC.INCRBY acct -5", not_positive},
      {'A', "BC.DECRBY acct -1", not_positive},
      {'A', "BC.TRANSFER acct 0 B", not_positive},
      {'A', "BC.TRANSFER acct 1 C", Reply::Error("ERR unknown region 'C'")},
      {'A', "BC.TRANSFER acct 1 A", Reply::Error("ERR cannot transfer rights to the local region")},
      {'A', "BC.INCRBY acct",
       Reply::Error("ERR wrong number of arguments for 'bc.incrby' command")},
      {'A', "BC.TRANSFER acct 1",
       Reply::Error("ERR wrong number of arguments for 'bc.transfer' command")},
      {'A', "BC.GET", Reply::Error("ERR wrong number of arguments for 'bc.get' command")},
      // WRONGTYPE both ways; a bounded counter is read by GET and MGET, never overwritten
      // or deleted.
      {'A', "SET s v", Reply::Status("OK")},
      {'A', "BC.INCRBY s 1", wrong_type},
      {'A', "BC.DECRBY s 1", wrong_type},
      {'A', "BC.TRANSFER s 1 B", wrong_type},
      {'A', "BC.GET s", wrong_type},
      {'A', "BC.RIGHTS s", wrong_type},
      {'A', "SADD acct x", wrong_type},
      {'A', "INCR acct", wrong_type},
      {'A', "STRLEN acct", wrong_type},
      {'A', "HSET acct f v", wrong_type},
      {'A', "SET acct 7", wrong_type},
      {'A', "MSET s w acct 7", wrong_type},
      {'A', "DEL acct", Reply::Error("ERR bounded counter 'acct' cannot be deleted")},
      {'A', "UNLINK s acct", Reply::Error("ERR bounded counter 'acct' cannot be deleted")},
      {'A', "SETNX acct 1", Reply::Integer(0)},
      {'A', "SET acct 1 NX", Reply::Nil()},
      {'A', "MGET acct s nope", Reply::Array({Reply::Bulk("5"), Reply::Bulk("v"), Reply::Nil()})},
      {'A', "EXISTS acct s", Reply::Integer(2)},
      {'A', "KEYS *", Reply::BulkArray({"acct", "s"})},
      {'A', "BC.GET nope", Reply::Nil()},
      {'A', "BC.RIGHTS nope", Reply::Array({})},
      {'A', "BC.DECRBY nope 3", insufficient("A", 0, 3)},
      {'A', "EXISTS nope", Reply::Integer(0)},
      // The bound: 2^59, refused beyond, never wrapped.
      {'A', "BC.INCRBY big 576460752303423488", Reply::Integer(576460752303423488)},
      {'A', "BC.INCRBY big 1", overflow},
      {'A', "BC.INCRBY big 9223372036854775807", overflow},
      {'A', "BC.DECRBY big 9223372036854775807",
       insufficient("A", 576460752303423488, 9223372036854775807)},
      {'A', "BC.TRANSFER big 576460752303423488 B", Reply::Integer(0)},
      {'S', "", sync},
      {'B', "BC.DECRBY big 576460752303423488", Reply::Integer(0)},
      {'S', "", sync},
      {'A', "GET big", Reply::Bulk("0")},
      {'A', "TYPE big", Reply::Status("bcounter")},
  };
}

}  // namespace cluster_sim::testing
