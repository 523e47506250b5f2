// Tests for the embedded in-memory store and its Redis command engine (memory_store.cc,
// command_engine.cc, client.cc), through the Store interface only.
//
// Expected replies and error texts are those of redis-server 7.0.15 (checked by running
// the same commands against it), except where a comment names a deliberate deviation.
// Replication tests run two stores, A and B, exchanging effects as the replicator would.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "split_words.h"

namespace cluster_sim {

// Readable failures: gtest prints a Reply as the CLI does.
static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);
constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(1, 1);
constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";

Reply Int(int64_t v) { return Reply::Integer(v); }
Reply Bulk(std::string s) { return Reply::Bulk(std::move(s)); }
Reply Stat(std::string s) { return Reply::Status(std::move(s)); }
Reply Err(std::string_view s) { return Reply::Error(std::string(s)); }
Reply Nil() { return Reply::Nil(); }
Reply Arr(std::initializer_list<Reply> e) { return Reply::Array(std::vector<Reply>(e)); }
Reply Bulks(const std::vector<std::string>& items) { return Reply::BulkArray(items); }
Reply Arity(std::string_view name) {
  return Err("ERR wrong number of arguments for '" + std::string(name) + "' command");
}

using cluster_sim::test_util::Split;

// One region: a memory store plus the effects it has produced and not yet shipped.
class Region {
 public:
  explicit Region(crdt::ReplicaId id) : store_(NewMemoryStore(id)) {}

  // Runs a command at wall clock `now_us`; keeps its effect (if any) for shipping.
  Reply Run(std::string_view line, int64_t now_us = 1000) { return RunArgv(Split(line), now_us); }
  Reply RunArgv(const Argv& argv, int64_t now_us = 1000) {
    std::string effect;
    Reply r = store_->Execute(argv, now_us, &effect);
    last_effect_ = effect;
    if (!effect.empty()) outbox_.push_back(std::move(effect));
    return r;
  }
  // Delivers every pending effect of this region to `to`.
  void ShipTo(Region& to) {
    for (const std::string& e : outbox_) ASSERT_TRUE(to.store().Merge(e).ok());
    outbox_.clear();
  }

  Store& store() { return *store_; }
  const std::string& last_effect() const { return last_effect_; }
  std::vector<std::string>& outbox() { return outbox_; }

 private:
  std::unique_ptr<Store> store_;
  std::vector<std::string> outbox_;
  std::string last_effect_;
};

void Sync(Region& a, Region& b) {
  a.ShipTo(b);
  b.ShipTo(a);
}

// ---------------------------------------------------------------- Reply::ToString

TEST(ReplyTest, ToString) {
  EXPECT_EQ(Int(25).ToString(), "25");
  EXPECT_EQ(Int(-3).ToString(), "-3");
  EXPECT_EQ(Bulk("25").ToString(), "25");
  EXPECT_EQ(Bulk("").ToString(), "");
  EXPECT_EQ(Stat("OK").ToString(), "OK");
  EXPECT_EQ(Nil().ToString(), "(nil)");
  EXPECT_EQ(Err(kWrongType).ToString(),
            "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(Arr({}).ToString(), "[]");
  EXPECT_EQ(Bulks({"a", "b"}).ToString(), "[a, b]");
  EXPECT_EQ(Arr({Int(1), Nil(), Bulk("x"), Arr({Bulk("y"), Arr({})}), Err("ERR e")}).ToString(),
            "[1, (nil), x, [y, []], (error) ERR e]");
}

// ---------------------------------------------------------------- single-region commands

class EngineTest : public ::testing::Test {
 protected:
  Reply Run(std::string_view line) { return a_.Run(line); }
  Region a_{kA};
};

TEST_F(EngineTest, PingEcho) {
  EXPECT_EQ(Run("PING"), Stat("PONG"));
  EXPECT_EQ(Run("ping hello"), Bulk("hello"));
  EXPECT_EQ(Run("ping a b"), Arity("ping"));
  EXPECT_EQ(Run("ECHO hi"), Bulk("hi"));
  EXPECT_EQ(Run("echo"), Arity("echo"));
  EXPECT_EQ(Run("echo a b"), Arity("echo"));
}

TEST_F(EngineTest, CommandNamesAreCaseInsensitive) {
  EXPECT_EQ(Run("SeT k v"), Stat("OK"));
  EXPECT_EQ(Run("gEt k"), Bulk("v"));
  EXPECT_EQ(Run("sAdD s x"), Int(1));
  EXPECT_EQ(Run("SET k v NX"), Nil());
  EXPECT_EQ(Run("set k w xX"), Stat("OK"));
}

TEST_F(EngineTest, UnknownCommandAndArity) {
  EXPECT_EQ(Run("FOO a b"), Err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "));
  EXPECT_EQ(Run("foo"), Err("ERR unknown command 'foo', with args beginning with: "));
  EXPECT_EQ(a_.RunArgv({"FoO", "x y"}),
            Err("ERR unknown command 'FoO', with args beginning with: 'x y' "));
  // CR/LF are sanitized, and the argument list stops once it reaches 128 bytes.
  EXPECT_EQ(a_.RunArgv({"bad\r\nname"}),
            Err("ERR unknown command 'bad  name', with args beginning with: "));
  Reply long_args = a_.RunArgv({"zap", std::string(200, 'x'), "next"});
  EXPECT_EQ(long_args, Err("ERR unknown command 'zap', with args beginning with: '" +
                           std::string(128, 'x') + "' "));
  EXPECT_TRUE(a_.RunArgv({}).is_error());

  // Too few (or, for fixed arity, too many) arguments: the lowercase name, as Redis 7.
  for (const char* name :
       {"GET",        "SET",    "SETNX",  "MGET",    "MSET",   "STRLEN",   "INCR",
        "INCRBY",     "DECR",   "DECRBY", "SADD",    "SREM",   "SMEMBERS", "SISMEMBER",
        "SMISMEMBER", "SCARD",  "DEL",    "UNLINK",  "EXISTS", "TYPE",     "HSET",
        "HMSET",      "HSETNX", "HGET",   "HMGET",   "HDEL",   "HEXISTS",  "HLEN",
        "HGETALL",    "HKEYS",  "HVALS",  "HINCRBY", "KEYS",   "ECHO"}) {
    EXPECT_EQ(a_.RunArgv({name}), Arity(AsciiLower(name))) << name;
    EXPECT_TRUE(a_.last_effect().empty()) << name;
  }
  EXPECT_EQ(Run("GET a b"), Arity("get"));
  EXPECT_EQ(Run("INCR a b"), Arity("incr"));
  EXPECT_EQ(Run("DBSIZE x"), Arity("dbsize"));
  EXPECT_EQ(Run("HSET h f"), Arity("hset"));
  EXPECT_EQ(Run("HSET h f v g"), Arity("hset"));
  EXPECT_EQ(Run("HMSET h f"), Arity("hmset"));
  EXPECT_EQ(Run("MSET a 1 b"), Arity("mset"));
  EXPECT_EQ(Run("DBSIZE"), Int(0));  // none of the above wrote anything
}

TEST_F(EngineTest, Strings) {
  EXPECT_EQ(Run("GET k"), Nil());
  EXPECT_EQ(Run("SET k v"), Stat("OK"));
  EXPECT_EQ(Run("GET k"), Bulk("v"));
  EXPECT_EQ(Run("SET k w"), Stat("OK"));
  EXPECT_EQ(Run("GET k"), Bulk("w"));
  EXPECT_EQ(Run("STRLEN k"), Int(1));
  EXPECT_EQ(Run("STRLEN nope"), Int(0));
  EXPECT_EQ(Run("SETNX k z"), Int(0));
  EXPECT_EQ(Run("SETNX k3 z"), Int(1));
  EXPECT_EQ(Run("GET k3"), Bulk("z"));
  EXPECT_EQ(Run("MSET a 1 b 2"), Stat("OK"));
  EXPECT_EQ(Run("SADD s x"), Int(1));
  // MGET reads a key of another type as nil, not WRONGTYPE.
  EXPECT_EQ(Run("MGET a b nope s k"), Arr({Bulk("1"), Bulk("2"), Nil(), Nil(), Bulk("w")}));
  EXPECT_EQ(Run("SET s str"), Stat("OK"));  // SET overwrites any type
  EXPECT_EQ(Run("TYPE s"), Stat("string"));
  EXPECT_EQ(Run("GET s"), Bulk("str"));
}

TEST_F(EngineTest, SetOptions) {
  EXPECT_EQ(Run("SET n v XX"), Nil());
  EXPECT_EQ(Run("GET n"), Nil());
  EXPECT_EQ(Run("SET n v NX"), Stat("OK"));
  EXPECT_EQ(Run("SET n w NX"), Nil());
  EXPECT_EQ(Run("SET n w XX"), Stat("OK"));
  EXPECT_EQ(Run("GET n"), Bulk("w"));
  EXPECT_EQ(Run("SET n x GET"), Bulk("w"));
  EXPECT_EQ(Run("SET n y NX GET"), Bulk("x"));  // not set, old value returned
  EXPECT_EQ(Run("GET n"), Bulk("x"));
  EXPECT_EQ(Run("SET m v NX GET"), Nil());  // set, no old value
  EXPECT_EQ(Run("GET m"), Bulk("v"));
  EXPECT_EQ(Run("SET n v KEEPTTL"), Stat("OK"));
  EXPECT_EQ(Run("SADD s a"), Int(1));
  EXPECT_EQ(Run("SET s v GET"), Err(kWrongType));
  EXPECT_EQ(Run("TYPE s"), Stat("set"));

  EXPECT_EQ(Run("SET n v NX XX"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SET n v NX NX"), Nil());  // a repeated flag is accepted
  EXPECT_EQ(Run("SET n v FOO"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SET n v EX"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SET n v KEEPTTL EX 5"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SET n v EX 5 PX 5"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SET n v EX abc"), Err(kNotInteger));
  EXPECT_EQ(Run("SET n v EX 0"), Err("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(Run("SET n v PX -1"), Err("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(Run("GET n"), Bulk("v"));
}

TEST_F(EngineTest, Counters) {
  EXPECT_EQ(Run("INCR c"), Int(1));
  EXPECT_EQ(Run("INCR c"), Int(2));
  EXPECT_EQ(Run("INCRBY c 10"), Int(12));
  EXPECT_EQ(Run("INCRBY c -3"), Int(9));
  EXPECT_EQ(Run("DECR c"), Int(8));
  EXPECT_EQ(Run("DECRBY c 5"), Int(3));
  EXPECT_EQ(Run("DECRBY c -5"), Int(8));
  EXPECT_EQ(Run("GET c"), Bulk("8"));
  EXPECT_EQ(Run("TYPE c"), Stat("string"));

  // Arguments are parsed as Redis's string2ll: no '+', spaces, decimals or leading zeros.
  for (const char* bad : {"abc", "1.5", "+1", "01", "-0", "", "99999999999999999999"}) {
    EXPECT_EQ(a_.RunArgv({"INCRBY", "c", bad}), Err(kNotInteger)) << bad;
    EXPECT_EQ(a_.RunArgv({"DECRBY", "c", bad}), Err(kNotInteger)) << bad;
  }
  EXPECT_EQ(Run("DECRBY c -9223372036854775808"), Err("ERR decrement would overflow"));

  // A value that is not an integer.
  EXPECT_EQ(Run("SET k v"), Stat("OK"));
  EXPECT_EQ(Run("INCR k"), Err(kNotInteger));
  EXPECT_EQ(Run("DECRBY k 2"), Err(kNotInteger));
  EXPECT_EQ(Run("SET z 00"), Stat("OK"));
  EXPECT_EQ(Run("INCR z"), Err(kNotInteger));
  EXPECT_EQ(Run("SET z 41"), Stat("OK"));
  EXPECT_EQ(Run("INCR z"), Int(42));
  EXPECT_EQ(Run("GET z"), Bulk("42"));
  EXPECT_EQ(Run("SET z 7"), Stat("OK"));  // SET cancels the observed increments
  EXPECT_EQ(Run("GET z"), Bulk("7"));
  EXPECT_EQ(Run("INCRBY z 3"), Int(10));
}

// Redis Enterprise Active/Active limits counters to 59 bits so that a sum across regions
// cannot overflow; aasim refuses beyond +/-2^59 where plain Redis would go on to 2^63.
TEST_F(EngineTest, CounterBoundIs59Bits) {
  constexpr int64_t kBound = int64_t{1} << 59;
  EXPECT_EQ(a_.RunArgv({"INCRBY", "c", std::to_string(kBound)}), Int(kBound));
  EXPECT_EQ(Run("INCR c"), Err(kOverflow));
  EXPECT_EQ(Run("GET c"), Bulk(std::to_string(kBound)));
  EXPECT_EQ(a_.RunArgv({"DECRBY", "c", std::to_string(2 * kBound)}), Int(-kBound));
  EXPECT_EQ(Run("DECR c"), Err(kOverflow));
  EXPECT_EQ(Run("INCRBY d 9223372036854775807"), Err(kOverflow));
  EXPECT_EQ(Run("EXISTS d"), Int(0));
  EXPECT_EQ(Run("SET big 9223372036854775807"), Stat("OK"));
  EXPECT_EQ(Run("INCR big"), Err(kOverflow));
  EXPECT_EQ(Run("GET big"), Bulk("9223372036854775807"));
}

TEST_F(EngineTest, Sets) {
  EXPECT_EQ(Run("SMEMBERS s"), Arr({}));
  EXPECT_EQ(Run("SADD s a"), Int(1));
  EXPECT_EQ(Run("SADD s c b a b"), Int(2));
  EXPECT_EQ(Run("SMEMBERS s"), Bulks({"a", "b", "c"}));  // sorted
  EXPECT_EQ(Run("SISMEMBER s a"), Int(1));
  EXPECT_EQ(Run("SISMEMBER s z"), Int(0));
  EXPECT_EQ(Run("SISMEMBER nope z"), Int(0));
  EXPECT_EQ(Run("SMISMEMBER s a z b"), Arr({Int(1), Int(0), Int(1)}));
  EXPECT_EQ(Run("SMISMEMBER nope a"), Arr({Int(0)}));
  EXPECT_EQ(Run("SCARD s"), Int(3));
  EXPECT_EQ(Run("SCARD nope"), Int(0));
  EXPECT_EQ(Run("SREM s a z a"), Int(1));
  EXPECT_EQ(Run("SREM nope a"), Int(0));
  EXPECT_EQ(Run("TYPE s"), Stat("set"));
  EXPECT_EQ(Run("SREM s b c"), Int(2));
  EXPECT_EQ(Run("EXISTS s"), Int(0));  // an emptied set is gone, as in Redis
  EXPECT_EQ(Run("TYPE s"), Stat("none"));
  EXPECT_EQ(Run("SADD s q"), Int(1));
  EXPECT_EQ(Run("SMEMBERS s"), Bulks({"q"}));
}

TEST_F(EngineTest, Hashes) {
  EXPECT_EQ(Run("HSET h f 1"), Int(1));
  EXPECT_EQ(Run("HSET h f 2 g 3 h 4"), Int(2));
  EXPECT_EQ(Run("HSET h b 2 a 1 b 3"), Int(2));  // a field named twice counts once
  EXPECT_EQ(Run("HGET h b"), Bulk("3"));
  EXPECT_EQ(Run("HMSET h x 1"), Stat("OK"));
  EXPECT_EQ(Run("HSETNX h f 9"), Int(0));
  EXPECT_EQ(Run("HSETNX h new 9"), Int(1));
  EXPECT_EQ(Run("HGET h f"), Bulk("2"));
  EXPECT_EQ(Run("HGET h nope"), Nil());
  EXPECT_EQ(Run("HGET nope f"), Nil());
  EXPECT_EQ(Run("HMGET h f nope g"), Arr({Bulk("2"), Nil(), Bulk("3")}));
  EXPECT_EQ(Run("HMGET nope f"), Arr({Nil()}));
  EXPECT_EQ(Run("HLEN h"), Int(7));
  EXPECT_EQ(Run("HDEL h a b a nope"), Int(2));
  EXPECT_EQ(Run("HDEL h nope"), Int(0));
  EXPECT_EQ(Run("HDEL nope f"), Int(0));
  EXPECT_EQ(Run("HEXISTS h g"), Int(1));
  EXPECT_EQ(Run("HEXISTS h a"), Int(0));
  EXPECT_EQ(Run("HLEN h"), Int(5));
  EXPECT_EQ(Run("HLEN nope"), Int(0));
  EXPECT_EQ(Run("HGETALL h"), Bulks({"f", "2", "g", "3", "h", "4", "new", "9", "x", "1"}));
  EXPECT_EQ(Run("HKEYS h"), Bulks({"f", "g", "h", "new", "x"}));
  EXPECT_EQ(Run("HVALS h"), Bulks({"2", "3", "4", "9", "1"}));
  EXPECT_EQ(Run("HGETALL nope"), Arr({}));
  EXPECT_EQ(Run("HKEYS nope"), Arr({}));
  EXPECT_EQ(Run("HVALS nope"), Arr({}));
  EXPECT_EQ(Run("TYPE h"), Stat("hash"));

  EXPECT_EQ(Run("HINCRBY h g 5"), Int(8));
  EXPECT_EQ(Run("HINCRBY h cnt 1"), Int(1));
  EXPECT_EQ(Run("HINCRBY h cnt -11"), Int(-10));
  EXPECT_EQ(Run("HGET h cnt"), Bulk("-10"));
  EXPECT_EQ(Run("HINCRBY h g x"), Err(kNotInteger));
  EXPECT_EQ(Run("HSET h s abc"), Int(1));
  EXPECT_EQ(Run("HINCRBY h s 1"), Err("ERR hash value is not an integer"));
  EXPECT_EQ(Run("HINCRBY h g 9223372036854775807"), Err(kOverflow));
  EXPECT_EQ(Run("HGET h g"), Bulk("8"));

  EXPECT_EQ(Run("HDEL h f g h new x cnt s"), Int(7));
  EXPECT_EQ(Run("EXISTS h"), Int(0));
}

TEST_F(EngineTest, KeysCommands) {
  EXPECT_EQ(Run("DBSIZE"), Int(0));
  EXPECT_EQ(Run("MSET a 1 b 2"), Stat("OK"));
  EXPECT_EQ(Run("SADD s x"), Int(1));
  EXPECT_EQ(Run("HSET h f v"), Int(1));
  EXPECT_EQ(Run("DBSIZE"), Int(4));
  EXPECT_EQ(Run("EXISTS a a b nope"), Int(3));  // repeats count, as in Redis
  EXPECT_EQ(Run("TYPE a"), Stat("string"));
  EXPECT_EQ(Run("TYPE s"), Stat("set"));
  EXPECT_EQ(Run("TYPE h"), Stat("hash"));
  EXPECT_EQ(Run("TYPE nope"), Stat("none"));
  EXPECT_EQ(Run("KEYS *"), Bulks({"a", "b", "h", "s"}));
  EXPECT_EQ(Run("DEL nope"), Int(0));
  EXPECT_EQ(Run("DEL a a s nope"), Int(2));
  EXPECT_EQ(Run("UNLINK b h"), Int(2));
  EXPECT_EQ(Run("EXISTS a b s h"), Int(0));
  EXPECT_EQ(Run("DBSIZE"), Int(0));
  EXPECT_EQ(Run("KEYS *"), Arr({}));
}

// Redis's glob (util.c stringmatchlen); every case was checked with KEYS on redis-server.
TEST_F(EngineTest, KeysGlob) {
  struct Case {
    const char* key;
    const char* pattern;
    bool match;
  };
  const Case cases[] = {
      {"a", "*", true},
      {"a", "a", true},
      {"a", "b", false},
      {"a", "?", true},
      {"a", "[a]", true},
      {"a", "[^a]", false},
      {"a", "[b-a]", true},
      {"a", "[a-", true},
      {"a", "[", false},
      {"a", "\\a", true},
      {"a", "a*", true},
      {"a", "*a", true},
      {"a", "**", true},
      {"a", "a\\", false},
      {"a", "[\\a]", true},
      {"a", "[^b]", true},
      {"a", "a?", false},
      {"a", "*?", true},
      {"a", "*??", false},
      {"hello", "h?llo", true},
      {"hello", "h*llo", true},
      {"hello", "h[ae]llo", true},
      {"hello", "h[^e]llo", false},
      {"hello", "h[a-b]llo", false},
      {"hello", "h[a-f]llo", true},
      {"hello", "h[f-a]llo", true},
      {"hello", "*ll*", true},
      {"hello", "*lo", true},
      {"hello", "*l", false},
      {"hello", "h*l*o*", true},
      {"hello", "********o", true},
      {"hello", "h[e", false},
      {"hello", "h[e]", false},
      {"hello", "h[]llo", false},
      {"hello", "h[-]llo", false},
      {"hello", "h[e-]llo", false},
      {"hello", "h[!e]llo", true},
      {"hello", "*x*", false},
      {"hello", "[h][e][l][l][o]", true},
      {"hello", "he\\llo", true},
      {"hello", "hel\\*o", false},
      {"h\\llo", "h\\\\llo", true},
      {"h\\llo", "h\\llo", false},
      {"h\\llo", "h*o", true},
      {"h\\llo", "h[\\\\]llo", true},
  };
  for (const Case& c : cases) {
    Region r(kA);
    r.RunArgv({"SET", c.key, "1"});
    EXPECT_EQ(r.RunArgv({"KEYS", c.pattern}), c.match ? Bulks({c.key}) : Arr({}))
        << "key " << c.key << " pattern " << c.pattern;
  }
  EXPECT_EQ(Run("MSET b 1 a 1 ab 1 ba 1"), Stat("OK"));
  EXPECT_EQ(Run("KEYS *a*"), Bulks({"a", "ab", "ba"}));  // sorted
}

// WRONGTYPE whenever the key's visible type differs from the command's; nothing changes
// and no effect is produced.
TEST_F(EngineTest, WrongType) {
  EXPECT_EQ(Run("SET str v"), Stat("OK"));
  EXPECT_EQ(Run("SADD set m"), Int(1));
  EXPECT_EQ(Run("HSET hash f v"), Int(1));
  const std::string before = a_.store().DumpAll();

  const std::vector<std::string> on_string = {
      "SADD str x",       "SREM str x",   "SMEMBERS str",   "SISMEMBER str x", "SCARD str",
      "SMISMEMBER str x", "HSET str f v", "HMSET str f v",  "HSETNX str f v",  "HGET str f",
      "HMGET str f",      "HDEL str f",   "HEXISTS str f",  "HLEN str",        "HGETALL str",
      "HKEYS str",        "HVALS str",    "HINCRBY str f 1"};
  const std::vector<std::string> on_set = {"GET set",       "INCR set",     "INCRBY set 2",
                                           "DECR set",      "DECRBY set 2", "STRLEN set",
                                           "SET set v GET", "HSET set f v", "HGET set f",
                                           "HGETALL set",   "HLEN set",     "HINCRBY set f 1"};
  const std::vector<std::string> on_hash = {"GET hash",         "INCR hash",     "SADD hash x",
                                            "SREM hash x",      "SMEMBERS hash", "SCARD hash",
                                            "SISMEMBER hash x", "STRLEN hash",   "DECRBY hash 1"};
  for (const auto* list : {&on_string, &on_set, &on_hash}) {
    for (const std::string& cmd : *list) {
      EXPECT_EQ(Run(cmd), Err(kWrongType)) << cmd;
      EXPECT_TRUE(a_.last_effect().empty()) << cmd;
    }
  }
  // The argument is checked before the type, as in Redis.
  EXPECT_EQ(Run("INCRBY set x"), Err(kNotInteger));
  EXPECT_EQ(Run("HINCRBY set f x"), Err(kNotInteger));
  EXPECT_EQ(a_.store().DumpAll(), before);
  // Commands on any type.
  EXPECT_EQ(Run("EXISTS str set hash"), Int(3));
  EXPECT_EQ(Run("MGET str set hash"), Arr({Bulk("v"), Nil(), Nil()}));
  EXPECT_EQ(Run("SETNX set v"), Int(0));
  EXPECT_EQ(Run("SET hash v"), Stat("OK"));
  EXPECT_EQ(Run("GET hash"), Bulk("v"));
  EXPECT_EQ(Run("DEL set hash"), Int(2));
}

// ---------------------------------------------------------------- effects

TEST(EffectTest, ReadsAndNoOpWritesProduceNoEffect) {
  Region a(kA);
  ASSERT_EQ(a.Run("SET k v"), Stat("OK"));
  ASSERT_EQ(a.Run("SADD s x"), Int(1));
  ASSERT_EQ(a.Run("HSET h f v"), Int(1));
  ASSERT_EQ(a.Run("INCR c"), Int(1));
  a.outbox().clear();
  for (const char* cmd :
       {"PING", "ECHO x", "GET k", "MGET k s", "STRLEN k", "SMEMBERS s", "SISMEMBER s x",
        "SMISMEMBER s x y", "SCARD s", "EXISTS k s", "TYPE k", "HGET h f", "HMGET h f",
        "HEXISTS h f", "HLEN h", "HGETALL h", "HKEYS h", "HVALS h", "DBSIZE", "KEYS *",
        // writes that change nothing
        "SREM s nope", "SREM nope x", "DEL nope", "UNLINK nope nope2", "HDEL h nope", "HDEL nope f",
        "SETNX k w", "HSETNX h f w", "SET k w NX", "SET nope w XX", "SET k w NX GET",
        // refused writes
        "INCR k", "INCRBY c x", "HINCRBY h f 1", "SADD k x", "NOSUCH k", "GET", "SET k v EX 0",
        "SET k v BOGUS", "EXPIRE nope 10", "PERSIST k", "TTL k", "PTTL k", "EXPIRETIME k",
        "EXPIRE k 10 NX XX", "GETEX nope EX 10", "GETEX k"}) {
    std::string effect = "untouched";
    a.store().Execute(Split(cmd), 1000, &effect);
    EXPECT_EQ(effect, "untouched") << cmd;
  }
  EXPECT_EQ(a.store().Execute(Split("GET k"), 1000, nullptr), Bulk("v"));  // null is fine

  // Every real write does produce one.
  for (const char* cmd : {"SET k w", "SADD s x", "SADD s y", "SREM s y", "INCR c", "DECRBY c 2",
                          "HSET h f w", "HINCRBY h n 1", "HDEL h n", "DEL c", "MSET a 1",
                          "SETNX b 1", "HSETNX h g 1", "HMSET h f v", "EXPIRE k 100", "PERSIST k",
                          "SETEX e 10 v", "GETEX e PX 5000", "SET k v EX 5"}) {
    a.Run(cmd);
    EXPECT_FALSE(a.last_effect().empty()) << cmd;
  }
}

TEST(EffectTest, EffectIsAppended) {
  auto store = NewMemoryStore(kA);
  std::string effect = "x";
  store->Execute({"SET", "k", "v"}, 1, &effect);
  ASSERT_GT(effect.size(), 1u);
  EXPECT_EQ(effect[0], 'x');
  auto b = NewMemoryStore(kB);
  EXPECT_TRUE(b->Merge(std::string_view(effect).substr(1)).ok());
  EXPECT_EQ(b->Dump("k"), "v");
}

// Table 4-1 of the book: A and B disconnected until step 6; the increments add up.
TEST(ReplicationTest, BookTable41Counters) {
  Region a(kA), b(kB);
  EXPECT_EQ(a.Run("INCR foo"), Int(1));
  EXPECT_EQ(a.Run("INCRBY foo 2"), Int(3));
  EXPECT_EQ(a.Run("DECR foo"), Int(2));
  EXPECT_EQ(b.Run("INCRBY foo 10"), Int(10));
  EXPECT_EQ(b.Run("INCRBY foo 13"), Int(23));
  EXPECT_EQ(a.Run("GET foo"), Bulk("2"));
  EXPECT_EQ(b.Run("GET foo"), Bulk("23"));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET foo"), Bulk("25"));
  EXPECT_EQ(b.Run("GET foo"), Bulk("25"));
  EXPECT_EQ(a.store().DumpAll(), b.store().DumpAll());
  EXPECT_EQ(a.store().FullState(), b.store().FullState());
  // The next increment counts from the converged value.
  EXPECT_EQ(b.Run("INCR foo"), Int(26));
}

// Counters after merges (crdt/pn_counter.h): three regions each take their own view from
// 3*2^59 to -2^59 and then to 2^59, every step inside the bound; the merged sum, 21*2^59,
// is past 64 bits. It is shown exactly (once it wrapped to -6341068275337658368), a step
// farther out or with no 64-bit result is refused, and a step back in is accepted.
TEST(ReplicationTest, CounterMergedPastTheBoundIsExact) {
  constexpr int64_t kBound = int64_t{1} << 59;
  Region a(kA), b(kB), c(crdt::MakeReplicaId(2, 1));
  auto all = [&](const std::string& cmd, int64_t want) {
    for (Region* r : {&a, &b, &c}) EXPECT_EQ(r->Run(cmd), Int(want)) << cmd;
    for (Region* from : {&a, &b, &c}) {
      for (Region* to : {&a, &b, &c}) {
        if (from != to) {
          for (const std::string& e : from->outbox()) ASSERT_TRUE(to->store().Merge(e).ok());
        }
      }
    }
    for (Region* r : {&a, &b, &c}) r->outbox().clear();
  };
  all("INCRBY n " + std::to_string(kBound), kBound);       // merged: 3 * 2^59
  all("DECRBY n " + std::to_string(4 * kBound), -kBound);  // merged: -9 * 2^59
  all("INCRBY n " + std::to_string(10 * kBound), kBound);  // merged: 21 * 2^59
  for (Region* r : {&a, &b, &c}) EXPECT_EQ(r->Run("GET n"), Bulk("12105675798371893248"));
  EXPECT_EQ(a.Run("INCR n"), Err(kOverflow));  // farther out
  EXPECT_EQ(a.Run("DECR n"), Err(kOverflow));  // back in, but no 64-bit reply
  EXPECT_EQ(a.Run("INCRBY n 0"), Err(kOverflow));
  EXPECT_EQ(a.Run("DECRBY n 9223372036854775807"), Int(2882303761517117441));  // 5*2^59 + 1
  EXPECT_EQ(a.Run("INCR n"), Err(kOverflow));
  EXPECT_EQ(a.Run("DECR n"), Int(2882303761517117440));  // outside, but not farther
  EXPECT_EQ(a.Run("INCRBY n 0"), Int(2882303761517117440));
  EXPECT_EQ(a.RunArgv({"DECRBY", "n", std::to_string(6 * kBound)}), Int(-kBound));
  EXPECT_EQ(a.Run("DECR n"), Err(kOverflow));
  // The same for a hash field (HINCRBY).
  all("HINCRBY h f " + std::to_string(kBound), kBound);
  all("HINCRBY h f " + std::to_string(-4 * kBound), -kBound);
  all("HINCRBY h f " + std::to_string(10 * kBound), kBound);
  EXPECT_EQ(b.Run("HGET h f"), Bulk("12105675798371893248"));
  EXPECT_EQ(b.Run("HINCRBY h f 1"), Err(kOverflow));
}

// INCRBY 0 converges as INCRBY 1 does: it survives a concurrent SET (added to it) and a
// concurrent DEL (the key stays, holding the step), on a missing key and an existing one.
TEST(ReplicationTest, IncrByZeroConvergesAsAnyIncrement) {
  for (int step : {0, 1}) {
    SCOPED_TRACE(testing::Message() << "INCRBY " << step);
    const std::string incr = std::to_string(step);
    Region a(kA), b(kB);
    EXPECT_EQ(a.Run("INCRBY k " + incr, 2000), Int(step));  // later: it would win a LWW
    EXPECT_EQ(b.Run("SET k 25", 1000), Stat("OK"));
    Sync(a, b);
    EXPECT_EQ(a.Run("GET k"), Bulk(std::to_string(25 + step)));
    EXPECT_EQ(b.Run("GET k"), Bulk(std::to_string(25 + step)));
    EXPECT_EQ(a.Run("HINCRBY h f " + incr, 2000), Int(step));
    EXPECT_EQ(b.Run("HSET h f 25", 1000), Int(1));
    Sync(a, b);
    EXPECT_EQ(a.Run("HGET h f"), Bulk(std::to_string(25 + step)));
    // An existing key: DEL in B while A increments.
    EXPECT_EQ(a.Run("SET d 7"), Stat("OK"));
    Sync(a, b);
    EXPECT_EQ(a.Run("INCRBY d " + incr), Int(7 + step));
    EXPECT_EQ(b.Run("DEL d"), Int(1));
    Sync(a, b);
    EXPECT_EQ(a.Run("GET d"), Bulk(incr));
    EXPECT_EQ(b.Run("GET d"), Bulk(incr));
    // A missing key: DEL of it in B after it was created there, concurrent with A's step.
    EXPECT_EQ(b.Run("INCRBY m 5"), Int(5));
    Sync(a, b);
    EXPECT_EQ(a.Run("INCRBY m " + incr), Int(5 + step));
    EXPECT_EQ(b.Run("DEL m"), Int(1));
    Sync(a, b);
    EXPECT_EQ(a.Run("GET m"), Bulk(incr));
    EXPECT_EQ(a.store().DumpAll(), b.store().DumpAll());
  }
}

// Near the 64-bit limits: Redis's errors for what is not an int64, the 59-bit bound for what
// is, and DECRBY of the minimum (Redis cannot negate it).
TEST_F(EngineTest, CounterArgumentsNearTheLimits) {
  EXPECT_EQ(Run("INCRBY k 9223372036854775807"), Err(kOverflow));
  EXPECT_EQ(Run("DECRBY k -9223372036854775808"), Err("ERR decrement would overflow"));
  EXPECT_EQ(Run("INCRBY k 18446744073709551616"), Err(kNotInteger));
  EXPECT_EQ(Run("INCRBY k 9223372036854775808"), Err(kNotInteger));
  EXPECT_EQ(Run("INCRBY k -9223372036854775809"), Err(kNotInteger));
  EXPECT_EQ(Run("HINCRBY h f 18446744073709551616"), Err(kNotInteger));
  EXPECT_EQ(Run("EXISTS k h"), Int(0));
  EXPECT_EQ(Run("INCRBY k -576460752303423488"), Int(-576460752303423488));
  EXPECT_EQ(Run("DECRBY k 1"), Err(kOverflow));
  EXPECT_EQ(Run("SET m -9223372036854775808"), Stat("OK"));
  EXPECT_EQ(Run("INCRBY m 0"), Int(INT64_MIN));  // outside, not farther
  EXPECT_EQ(Run("DECR m"), Err(kOverflow));
  EXPECT_EQ(Run("INCRBY m 9223372036854775807"), Int(-1));
}

// A key that took 2^64 of increments in one life refuses more (never a wrap); after DEL
// or SET it counts from 0 again (a new life of its slot).
TEST_F(EngineTest, CounterLifeTotalsRestartAfterDel) {
  const std::string up = std::to_string(int64_t{1} << 59);
  for (int i = 0; i < 31; ++i) {
    ASSERT_EQ(a_.RunArgv({"INCRBY", "k", up}), Int(int64_t{1} << 59));
    ASSERT_EQ(a_.RunArgv({"DECRBY", "k", up}), Int(0));
  }
  ASSERT_EQ(a_.RunArgv({"INCRBY", "k", "576460752303423487"}), Int((int64_t{1} << 59) - 1));
  EXPECT_EQ(Run("INCR k"), Err(kOverflow));  // 2^64 - 1 of increments in this life
  EXPECT_EQ(Run("GET k"), Bulk("576460752303423487"));
  EXPECT_EQ(Run("DEL k"), Int(1));
  EXPECT_EQ(Run("INCR k"), Int(1));
  EXPECT_EQ(Run("INCRBY k 41"), Int(42));
  EXPECT_EQ(Run("SET k 5"), Stat("OK"));
  EXPECT_EQ(Run("INCR k"), Int(6));
}

// Table 4-2 of the book: observed remove, add wins.
TEST(ReplicationTest, BookTable42Sets) {
  Region a(kA), b(kB);
  EXPECT_EQ(a.Run("SMEMBERS group"), Arr({}));
  EXPECT_EQ(b.Run("SMEMBERS group"), Arr({}));
  EXPECT_EQ(a.Run("SADD group paul"), Int(1));
  EXPECT_EQ(b.Run("SADD group jorma"), Int(1));
  EXPECT_EQ(a.Run("SMEMBERS group"), Bulks({"paul"}));
  EXPECT_EQ(b.Run("SMEMBERS group"), Bulks({"jorma"}));
  Sync(a, b);
  EXPECT_EQ(a.Run("SMEMBERS group"), Bulks({"jorma", "paul"}));
  EXPECT_EQ(b.Run("SMEMBERS group"), Bulks({"jorma", "paul"}));
  EXPECT_EQ(a.Run("SREM group paul"), Int(1));
  EXPECT_EQ(b.Run("SADD group grace"), Int(1));
  // Step 7 does nothing: A has never seen grace.
  EXPECT_EQ(a.Run("SREM group grace"), Int(0));
  EXPECT_TRUE(a.last_effect().empty());
  Sync(a, b);
  EXPECT_EQ(a.Run("SMEMBERS group"), Bulks({"grace", "jorma"}));
  EXPECT_EQ(b.Run("SMEMBERS group"), Bulks({"grace", "jorma"}));
  EXPECT_EQ(a.store().FullState(), b.store().FullState());
}

TEST(ReplicationTest, DelVersusConcurrentSAdd) {
  Region a(kA), b(kB);
  a.Run("SADD s x y");
  Sync(a, b);
  EXPECT_EQ(a.Run("DEL s"), Int(1));
  EXPECT_EQ(b.Run("SADD s z"), Int(1));
  Sync(a, b);
  // DEL removed what A had observed; B's concurrent addition survives and brings s back.
  EXPECT_EQ(a.Run("SMEMBERS s"), Bulks({"z"}));
  EXPECT_EQ(b.Run("SMEMBERS s"), Bulks({"z"}));
}

TEST(ReplicationTest, DelVersusConcurrentIncr) {
  Region a(kA), b(kB);
  a.Run("INCRBY c 10");
  Sync(a, b);
  EXPECT_EQ(a.Run("DEL c"), Int(1));
  EXPECT_EQ(b.Run("INCRBY c 5"), Int(15));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET c"), Bulk("5"));
  EXPECT_EQ(b.Run("GET c"), Bulk("5"));
}

TEST(ReplicationTest, SetVersusConcurrentIncrBy) {
  Region a(kA), b(kB);
  a.Run("SET balance 50");
  Sync(a, b);
  EXPECT_EQ(a.Run("SET balance 100"), Stat("OK"));
  EXPECT_EQ(b.Run("INCRBY balance 5"), Int(55));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET balance"), Bulk("105"));
  EXPECT_EQ(b.Run("GET balance"), Bulk("105"));
}

TEST(ReplicationTest, ConcurrentSetsLastWriterWinsTiesToFirstRegion) {
  Region a(kA), b(kB);
  a.Run("SET k from-a", 2000);
  b.Run("SET k from-b", 1000);
  Sync(a, b);
  EXPECT_EQ(a.Run("GET k"), Bulk("from-a"));
  EXPECT_EQ(b.Run("GET k"), Bulk("from-a"));
  // A write that observed another beats it whatever the clocks say.
  b.Run("SET k later-b", 1);
  Sync(a, b);
  EXPECT_EQ(a.Run("GET k"), Bulk("later-b"));
  // Equal timestamps: the region whose name sorts first (site 0 = A) wins.
  a.Run("SET t a", 5000);
  b.Run("SET t b", 5000);
  Sync(a, b);
  EXPECT_EQ(a.Run("GET t"), Bulk("a"));
  EXPECT_EQ(b.Run("GET t"), Bulk("a"));
  // Hash fields are last-write-wins too.
  a.Run("HSET h f a", 1000);
  b.Run("HSET h f b", 3000);
  Sync(a, b);
  EXPECT_EQ(a.Run("HGET h f"), Bulk("b"));
  EXPECT_EQ(b.Run("HGET h f"), Bulk("b"));
}

TEST(ReplicationTest, ReAddWinsOverConcurrentRemove) {
  Region a(kA), b(kB);
  a.Run("SADD s x");
  Sync(a, b);
  EXPECT_EQ(a.Run("SADD s x"), Int(0));  // already there, but a new add all the same
  EXPECT_FALSE(a.last_effect().empty());
  EXPECT_EQ(b.Run("SREM s x"), Int(1));
  Sync(a, b);
  EXPECT_EQ(a.Run("SMEMBERS s"), Bulks({"x"}));
  EXPECT_EQ(b.Run("SMEMBERS s"), Bulks({"x"}));
}

TEST(ReplicationTest, HashFieldsAddWinsAndHIncrByAddsUp) {
  Region a(kA), b(kB);
  a.Run("HSET h f 1 g 2");
  a.Run("HINCRBY h n 10");
  Sync(a, b);
  EXPECT_EQ(a.Run("HDEL h f"), Int(1));
  EXPECT_EQ(b.Run("HSET h f 9"), Int(0));
  EXPECT_EQ(a.Run("HINCRBY h n 1"), Int(11));
  EXPECT_EQ(b.Run("HINCRBY h n 2"), Int(12));
  Sync(a, b);
  EXPECT_EQ(a.Run("HGETALL h"), Bulks({"f", "9", "g", "2", "n", "13"}));
  EXPECT_EQ(b.Run("HGETALL h"), Bulks({"f", "9", "g", "2", "n", "13"}));
}

TEST(ReplicationTest, ConcurrentTypesTheVisibleTypeIsFixed) {
  Region a(kA), b(kB);
  a.Run("SET k v");
  b.Run("SADD k m");
  Sync(a, b);
  // Both parts survive; the string is visible (keyspace.h precedence), so set commands
  // see WRONGTYPE until the key is deleted or overwritten.
  EXPECT_EQ(a.Run("TYPE k"), Stat("string"));
  EXPECT_EQ(b.Run("TYPE k"), Stat("string"));
  EXPECT_EQ(b.Run("SADD k n"), Err(kWrongType));
  EXPECT_EQ(b.Run("DEL k"), Int(1));
  Sync(a, b);
  EXPECT_EQ(a.Run("EXISTS k"), Int(0));
}

TEST(ReplicationTest, EffectsAreIdempotentAndCommute) {
  Region a(kA), b(kB), c(crdt::MakeReplicaId(2, 1));
  a.Run("SADD s a b");
  a.Run("INCRBY n 4");
  a.Run("SREM s a");
  a.Run("HSET h f v");
  a.Run("DEL h");
  std::vector<std::string> effects = a.outbox();
  ASSERT_EQ(effects.size(), 5u);
  for (const std::string& e : effects) ASSERT_TRUE(b.store().Merge(e).ok());
  for (auto it = effects.rbegin(); it != effects.rend(); ++it) {
    ASSERT_TRUE(c.store().Merge(*it).ok());
    ASSERT_TRUE(c.store().Merge(*it).ok());
  }
  EXPECT_EQ(b.store().DumpAll(), a.store().DumpAll());
  EXPECT_EQ(c.store().DumpAll(), a.store().DumpAll());
  EXPECT_EQ(c.store().FullState(), a.store().FullState());
  EXPECT_EQ(a.store().DumpAll(), "n string 4\ns set {b}\n");
}

// Three regions run random writes; their effects are delivered late, out of order and
// duplicated. Once everything is delivered the regions must hold identical states.
TEST(ReplicationTest, RandomWritesConvergeUnderShuffledDuplicatedDelivery) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    uint64_t state = seed;
    auto uniform = [&state](uint64_t n) {  // SplitMix64; no std distributions
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return (z ^ (z >> 31)) % n;
    };
    std::vector<std::unique_ptr<Region>> regions;
    for (uint16_t site = 0; site < 3; ++site) {
      regions.push_back(std::make_unique<Region>(crdt::MakeReplicaId(site, 1)));
    }
    std::vector<std::vector<std::string>> inbox(3);
    auto deliver_one = [&](size_t to) {
      auto& box = inbox[to];
      size_t i = uniform(box.size());
      ASSERT_TRUE(regions[to]->store().Merge(box[i]).ok());
      if (uniform(4) != 0) box.erase(box.begin() + static_cast<std::ptrdiff_t>(i));  // else dup
    };
    const char* kTemplates[] = {"SET s%k %v",     "INCRBY s%k %n", "DEL s%k",
                                "DEL x%k",        "SADD x%k %m",   "SREM x%k %m",
                                "HSET h%k %m %v", "HDEL h%k %m",   "HINCRBY h%k c %n",
                                "SADD s%k %m",    "SET x%k %v",    "DEL h%k"};
    for (int step = 0; step < 300; ++step) {
      size_t r = uniform(3);
      Argv argv;
      for (const std::string& word : Split(kTemplates[uniform(std::size(kTemplates))])) {
        if (word == "%m") {
          argv.emplace_back(1, static_cast<char>('a' + uniform(4)));
        } else if (word == "%v") {
          argv.push_back(std::to_string(uniform(100)));
        } else if (word == "%n") {
          argv.push_back(std::to_string(static_cast<int64_t>(uniform(21)) - 10));
        } else if (word.size() == 3 && word.compare(1, 2, "%k") == 0) {
          std::string key(1, word[0]);
          key += std::to_string(uniform(3));
          argv.push_back(std::move(key));
        } else {
          argv.push_back(word);
        }
      }
      regions[r]->RunArgv(argv, /*now_us=*/step * 10 + static_cast<int64_t>(r) * 7);
      for (std::string& e : regions[r]->outbox()) {
        for (size_t to = 0; to < 3; ++to) {
          if (to != r) inbox[to].push_back(e);
        }
      }
      regions[r]->outbox().clear();
      for (size_t to = 0; to < 3; ++to) {
        if (!inbox[to].empty() && uniform(3) == 0) deliver_one(to);
      }
    }
    for (size_t to = 0; to < 3; ++to) {
      for (const std::string& e : inbox[to]) ASSERT_TRUE(regions[to]->store().Merge(e).ok());
    }
    EXPECT_FALSE(regions[0]->store().Keys().empty());
    EXPECT_EQ(regions[0]->store().DumpAll(), regions[1]->store().DumpAll());
    EXPECT_EQ(regions[0]->store().DumpAll(), regions[2]->store().DumpAll());
    EXPECT_EQ(regions[0]->store().FullState(), regions[1]->store().FullState());
    EXPECT_EQ(regions[0]->store().FullState(), regions[2]->store().FullState());
  }
}

// ---------------------------------------------------------------- batches

TEST(BatchTest, OneEffectAndErrorsDoNotAbort) {
  auto a = NewMemoryStore(kA);
  auto b = NewMemoryStore(kB);
  std::string effect;
  std::vector<Reply> replies = a->ExecuteBatch({{"SADD", "s", "x", "y"},
                                                {"INCR", "s"},
                                                {"NOPE"},
                                                {"SET", "k", "v"},
                                                {"GET", "k"},
                                                {"SREM", "s", "x"},
                                                {"INCRBY", "n", "3"}},
                                               1000, &effect);
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_EQ(replies[0], Int(2));
  EXPECT_EQ(replies[1], Err(kWrongType));
  EXPECT_EQ(replies[2], Err("ERR unknown command 'NOPE', with args beginning with: "));
  EXPECT_EQ(replies[3], Stat("OK"));
  EXPECT_EQ(replies[4], Bulk("v"));
  EXPECT_EQ(replies[5], Int(1));
  EXPECT_EQ(replies[6], Int(3));
  ASSERT_FALSE(effect.empty());
  // One effect carries the whole batch.
  ASSERT_TRUE(b->Merge(effect).ok());
  EXPECT_EQ(b->DumpAll(), a->DumpAll());
  EXPECT_EQ(b->DumpAll(), "k string v\nn string 3\ns set {y}\n");

  std::string none;
  replies = a->ExecuteBatch({{"GET", "k"}, {"SREM", "s", "zz"}, {"INCR", "k"}}, 1000, &none);
  EXPECT_EQ(replies, (std::vector<Reply>{Bulk("v"), Int(0), Err(kNotInteger)}));
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(a->ExecuteBatch({}, 1000, &none).empty());
  EXPECT_TRUE(none.empty());
}

// ---------------------------------------------------------------- store plumbing

TEST(StoreTest, MalformedMergeIsRejectedAndChangesNothing) {
  Region a(kA), b(kB);
  a.Run("SADD s x");
  a.Run("SET k v");
  b.Run("INCR c");
  const std::string effect = b.last_effect();
  const std::string state = a.store().FullState();
  const std::string dump = a.store().DumpAll();
  for (std::string_view bad :
       {std::string_view("garbage"), std::string_view(""),
        std::string_view(effect).substr(0, effect.size() - 1), std::string_view("\x02\x00", 2)}) {
    Status s = a.store().Merge(bad);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    // The keyspace decoder's own error (MergeEncoded reports Decode's).
    std::string why;
    EXPECT_FALSE(crdt::Keyspace::Decode(bad, kA, &why).has_value());
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(s.message(), "malformed effect or state: " + why);
    EXPECT_EQ(a.store().FullState(), state);
    EXPECT_EQ(a.store().DumpAll(), dump);
  }
  std::string trailing = effect + "x";
  EXPECT_FALSE(a.store().Merge(trailing).ok());
  EXPECT_EQ(a.store().FullState(), state);
  EXPECT_TRUE(a.store().Merge(effect).ok());
  EXPECT_EQ(a.Run("GET c"), Bulk("1"));
}

TEST(StoreTest, FullStateSyncsAFreshStore) {
  Region a(kA), b(kB);
  a.Run("SADD s x y");
  a.Run("SREM s x");
  a.Run("HSET h f v");
  a.Run("INCRBY n 7");
  a.Run("SET k v");
  a.Run("DEL k");
  ASSERT_TRUE(b.store().Merge(a.store().FullState()).ok());
  EXPECT_EQ(b.store().DumpAll(), a.store().DumpAll());
  EXPECT_EQ(b.store().Keys(), (std::vector<std::string>{"h", "n", "s"}));
  EXPECT_EQ(b.store().Dump("s"), "{y}");
  EXPECT_EQ(b.store().Dump("h"), "{f: v}");
  EXPECT_EQ(b.store().Dump("n"), "7");
  EXPECT_EQ(b.store().Dump("k"), "(nil)");
  EXPECT_EQ(b.Run("INCR n"), Int(8));
}

TEST(StoreTest, WipeSelfDurableMemory) {
  auto s = NewMemoryStore(kA);
  EXPECT_EQ(s->self(), kA);
  EXPECT_FALSE(s->durable());
  size_t empty_bytes = s->MemoryBytes();
  for (int i = 0; i < 100; ++i)
    s->Execute({"SADD", "s", "member-" + std::to_string(i)}, 1, nullptr);
  EXPECT_GT(s->MemoryBytes(), empty_bytes);
  EXPECT_EQ(s->Execute({"SCARD", "s"}, 1, nullptr), Int(100));

  constexpr crdt::ReplicaId kA2 = crdt::MakeReplicaId(0, 2);
  s->Wipe(kA2);
  EXPECT_EQ(s->self(), kA2);
  EXPECT_EQ(s->DumpAll(), "");
  EXPECT_TRUE(s->Keys().empty());
  EXPECT_EQ(s->Execute({"DBSIZE"}, 1, nullptr), Int(0));

  // The new incarnation's writes are new events for a peer that saw the old ones.
  auto peer = NewMemoryStore(kB);
  std::string e1, e2;
  auto old = NewMemoryStore(kA);
  old->Execute({"SADD", "t", "x"}, 1, &e1);
  ASSERT_TRUE(peer->Merge(e1).ok());
  s->Execute({"SADD", "t", "y"}, 1, &e2);
  ASSERT_TRUE(peer->Merge(e2).ok());
  EXPECT_EQ(peer->Dump("t"), "{x, y}");
}

}  // namespace
}  // namespace cluster_sim

// ---------------------------------------------------------------- expiry (engine_expiry.cc)

namespace cluster_sim {
namespace {

constexpr int64_t kT0 = 1'000'000'000;  // 1000 s of wall clock, in microseconds

TEST(ExpiryCommandsTest, RepliesAsRedis) {
  Region a(kA);
  auto run = [&](std::string_view line, int64_t t = kT0) { return a.Run(line, t); };
  EXPECT_EQ(run("EXPIRE k 10"), Int(0));
  EXPECT_EQ(run("TTL k"), Int(-2));
  EXPECT_EQ(run("PTTL k"), Int(-2));
  EXPECT_EQ(run("SET k v"), Stat("OK"));
  EXPECT_EQ(run("TTL k"), Int(-1));
  EXPECT_EQ(run("EXPIRETIME k"), Int(-1));
  EXPECT_EQ(run("PERSIST k"), Int(0));
  EXPECT_EQ(run("EXPIRE k 10 XX"), Int(0));
  EXPECT_EQ(run("EXPIRE k 10 GT"), Int(0));  // no TTL counts as infinite
  EXPECT_EQ(run("EXPIRE k 10 NX"), Int(1));
  EXPECT_EQ(run("EXPIRE k 20 NX"), Int(0));
  EXPECT_EQ(run("TTL k"), Int(10));
  EXPECT_EQ(run("PTTL k", kT0 + 2'500'000), Int(7500));
  EXPECT_EQ(run("TTL k", kT0 + 2'500'000), Int(8));  // rounded to the nearest second
  EXPECT_EQ(run("EXPIRETIME k"), Int(1010));
  EXPECT_EQ(run("PEXPIRETIME k"), Int(1010000));
  EXPECT_EQ(run("EXPIRE k 5 GT"), Int(0));
  EXPECT_EQ(run("EXPIRE k 50 GT"), Int(1));
  EXPECT_EQ(run("EXPIRE k 60 LT"), Int(0));
  EXPECT_EQ(run("PEXPIRE k 30000 LT"), Int(1));
  EXPECT_EQ(run("TTL k"), Int(30));
  EXPECT_EQ(run("EXPIREAT k 2000"), Int(1));
  EXPECT_EQ(run("PEXPIREAT k 1500000"), Int(1));
  EXPECT_EQ(run("TTL k"), Int(500));
  EXPECT_EQ(run("PERSIST k"), Int(1));
  EXPECT_EQ(run("TTL k"), Int(-1));
  EXPECT_EQ(run("EXPIRE k 10 NX XX"),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(run("EXPIRE k 10 GT LT"),
            Err("ERR GT and LT options at the same time are not compatible"));
  EXPECT_EQ(run("EXPIRE k 10 FOO"), Err("ERR Unsupported option FOO"));
  EXPECT_EQ(run("EXPIRE k ten"), Err(kNotInteger));
  EXPECT_EQ(run("EXPIRE k 9223372036854775807"),
            Err("ERR invalid expire time in 'expire' command"));
  EXPECT_EQ(run("PEXPIRE k 9223372036854775807"),
            Err("ERR invalid expire time in 'pexpire' command"));
  EXPECT_EQ(run("EXPIRE k"), Arity("expire"));
  // An expiry in the past deletes the key at once.
  EXPECT_EQ(run("EXPIRE k -1"), Int(1));
  EXPECT_EQ(run("EXISTS k"), Int(0));

  // SET options, SETEX, PSETEX.
  EXPECT_EQ(run("SET k v EX 100"), Stat("OK"));
  EXPECT_EQ(run("TTL k"), Int(100));
  EXPECT_EQ(run("SET k w KEEPTTL"), Stat("OK"));
  EXPECT_EQ(run("TTL k"), Int(100));
  EXPECT_EQ(run("SET k x"), Stat("OK"));
  EXPECT_EQ(run("TTL k"), Int(-1));
  EXPECT_EQ(run("SET k v PX 5000 EX 5"), Err("ERR syntax error"));
  EXPECT_EQ(run("SET k v EX 5 EX 7"), Stat("OK"));  // the same option again replaces it
  EXPECT_EQ(run("TTL k"), Int(7));
  EXPECT_EQ(run("SET k v EXAT 3000"), Stat("OK"));
  EXPECT_EQ(run("EXPIRETIME k"), Int(3000));
  EXPECT_EQ(run("SET k v PXAT 3000500"), Stat("OK"));
  EXPECT_EQ(run("PEXPIRETIME k"), Int(3000500));
  EXPECT_EQ(run("SET k v EX 10 NX"), Nil());
  EXPECT_EQ(run("SETEX s 10 v"), Stat("OK"));
  EXPECT_EQ(run("TTL s"), Int(10));
  EXPECT_EQ(run("PSETEX s 1500 v"), Stat("OK"));
  EXPECT_EQ(run("PTTL s"), Int(1500));
  EXPECT_EQ(run("SETEX s 0 v"), Err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(run("PSETEX s -5 v"), Err("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(run("SETEX s x v"), Err(kNotInteger));

  // GETEX.
  EXPECT_EQ(run("GETEX nope"), Nil());
  EXPECT_EQ(run("GETEX s EX 100"), Bulk("v"));
  EXPECT_EQ(run("TTL s"), Int(100));
  EXPECT_EQ(run("GETEX s PERSIST"), Bulk("v"));
  EXPECT_EQ(run("TTL s"), Int(-1));
  EXPECT_EQ(run("GETEX s EX 10 PX 10"), Err("ERR syntax error"));
  EXPECT_EQ(run("GETEX s EX 0"), Err("ERR invalid expire time in 'getex' command"));
  EXPECT_EQ(run("SADD set m"), Int(1));
  EXPECT_EQ(run("GETEX set"), Err(kWrongType));
  EXPECT_EQ(run("EXPIRE set 100"), Int(1));
  EXPECT_EQ(run("TTL set"), Int(100));
  EXPECT_EQ(run("GETEX s PXAT 1"), Bulk("v"));  // in the past: deleted
  EXPECT_EQ(run("EXISTS s"), Int(0));
}

TEST(ExpiryCommandsTest, DueKeysReadAsAbsentAndWritesStartAfresh) {
  Region a(kA);
  ASSERT_EQ(a.Run("SADD s old", kT0), Int(1));
  ASSERT_EQ(a.Run("EXPIRE s 10", kT0), Int(1));
  ASSERT_EQ(a.Run("SET k v EX 10", kT0), Stat("OK"));
  const int64_t later = kT0 + 10'000'000;
  EXPECT_EQ(a.Run("GET k", later - 1), Bulk("v"));
  EXPECT_EQ(a.Run("GET k", later), Nil());
  EXPECT_EQ(a.Run("EXISTS k s", later), Int(0));
  EXPECT_EQ(a.Run("TYPE k", later), Stat("none"));
  EXPECT_EQ(a.Run("DBSIZE", later), Int(0));
  EXPECT_EQ(a.Run("KEYS *", later), Bulks({}));
  EXPECT_EQ(a.Run("TTL k", later), Int(-2));
  EXPECT_TRUE(a.last_effect().empty());  // reads write nothing
  EXPECT_EQ(a.Run("SADD s new", later), Int(1));
  EXPECT_EQ(a.Run("SMEMBERS s", later), Bulks({"new"}));
  EXPECT_EQ(a.Run("TTL s", later), Int(-1));
  EXPECT_EQ(a.Run("DEL k", later), Int(0));
}

// A write that changes nothing itself (SREM of a missing member, HDEL of a missing field,
// ...) on a due key still deletes the key first (lazy expiry), and that delete must
// replicate: it once stayed local, so the region that made it lost a member another region
// added concurrently while every other region kept it (found by ExpiryConvergenceTest).
TEST(ExpiryCommandsTest, ALazyExpiryDeleteReplicatesEvenWhenTheWriteChangesNothing) {
  const int64_t later = kT0 + 10'000'000;
  for (const char* write : {"SREM s absent", "HDEL s absent", "ZREM s absent", "LREM s 0 x",
                            "SMOVE s t absent", "DEL absent s"}) {
    Region a(kA), b(kB);
    ASSERT_EQ(a.Run("SADD s old", kT0), Int(1));
    ASSERT_EQ(a.Run("EXPIRE s 10", kT0), Int(1));
    Sync(a, b);
    ASSERT_EQ(b.Run("SMEMBERS s", later), Bulks({}));  // due: hidden in B, not yet deleted
    b.RunArgv(Split(write), later);
    ASSERT_FALSE(b.last_effect().empty()) << write;
    ASSERT_EQ(b.store().Dump("s"), "(nil)") << write;
    b.ShipTo(a);
    EXPECT_EQ(a.store().Dump("s"), "(nil)") << write;
  }
}

// A key whose members were all removed while a TTL entry of it survived (its last SREM
// concurrent with the EXPIRE) holds nothing but that entry; re-created after the deadline,
// it starts without a TTL, as a new key in Redis does, instead of being due at once.
TEST(ExpiryCommandsTest, AKeyReCreatedAfterItsDeadlineHasNoTtl) {
  Region a(kA), b(kB);
  ASSERT_EQ(a.Run("SADD s m0", kT0), Int(1));
  Sync(a, b);
  ASSERT_EQ(b.Run("EXPIRE s 3", kT0), Int(1));
  ASSERT_EQ(a.Run("SREM s m0", kT0), Int(1));
  Sync(a, b);
  const int64_t later = kT0 + 3'500'000;  // past B's deadline, before A's grace
  EXPECT_EQ(a.Run("SADD s m4", later), Int(1));
  EXPECT_EQ(a.Run("SMEMBERS s", later), Bulks({"m4"}));
  EXPECT_EQ(a.Run("TTL s", later), Int(-1));
  b.outbox().clear();  // B's own expiry delete, made while cut off, arrives after:
  std::string effect;
  ASSERT_TRUE(b.store().ExpireDue(later, &effect).ok());
  ASSERT_TRUE(a.store().Merge(effect).ok());
  a.ShipTo(b);
  EXPECT_EQ(a.Run("SMEMBERS s", later), Bulks({"m4"}));
  EXPECT_EQ(b.Run("SMEMBERS s", later), Bulks({"m4"}));
}

TEST(ExpiryCommandsTest, ExpireDueDeletesInTheWinningRegionOnly) {
  Region a(kA), b(kB);
  ASSERT_EQ(a.Run("SET k v", kT0), Stat("OK"));
  Sync(a, b);
  ASSERT_EQ(a.Run("EXPIRE k 10", kT0), Int(1));
  ASSERT_EQ(b.Run("EXPIRE k 30", kT0), Int(1));
  Sync(a, b);
  EXPECT_EQ(a.Run("TTL k", kT0), Int(30));
  EXPECT_EQ(b.store().NextExpiry(), kT0 + 30'000'000);
  EXPECT_EQ(a.store().NextExpiry(), kT0 + 30'000'000 + Store::kExpiryGraceUs);
  std::string effect;
  ASSERT_TRUE(b.store().ExpireDue(kT0 + 29'999'999, &effect).ok());
  EXPECT_TRUE(effect.empty());
  ASSERT_TRUE(b.store().ExpireDue(kT0 + 30'000'000, &effect).ok());
  ASSERT_FALSE(effect.empty());
  EXPECT_EQ(b.store().NextExpiry(), -1);
  ASSERT_TRUE(a.store().Merge(effect).ok());
  EXPECT_EQ(a.store().Dump("k"), "(nil)");
  EXPECT_EQ(a.store().NextExpiry(), -1);
}

TEST(ExpiryCommandsTest, PersistWinsOverAConcurrentExpire) {
  Region a(kA), b(kB);
  ASSERT_EQ(a.Run("SET k v EX 100", kT0), Stat("OK"));
  Sync(a, b);
  ASSERT_EQ(a.Run("PERSIST k", kT0), Int(1));
  ASSERT_EQ(b.Run("EXPIRE k 1000", kT0), Int(1));
  Sync(a, b);
  EXPECT_EQ(a.Run("TTL k", kT0), Int(-1));
  EXPECT_EQ(b.Run("TTL k", kT0), Int(-1));
  EXPECT_EQ(a.store().NextExpiry(), -1);
  ASSERT_EQ(b.Run("EXPIRE k 5", kT0), Int(1));  // observed the PERSIST: supersedes it
  Sync(a, b);
  EXPECT_EQ(a.Run("TTL k", kT0), Int(5));
}

}  // namespace
}  // namespace cluster_sim
