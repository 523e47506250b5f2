// The everyday commands (engine_keys.cc, engine_string_ops.cc, engine_set_ops.cc,
// engine_hash_ops.cc) through the Store interface: replies and errors of redis-server 7.0.15
// (checked by running the same lines against it; tests/server/differential_test.py does so
// over many random lines), and their Active/Active rules with two regions exchanging
// effects as the replicator would.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);
constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(1, 1);
constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

Reply Int(int64_t v) { return Reply::Integer(v); }
Reply Bulk(std::string s) { return Reply::Bulk(std::move(s)); }
Reply Ok() { return Reply::Status("OK"); }
Reply Err(std::string_view s) { return Reply::Error(std::string(s)); }
Reply Nil() { return Reply::Nil(); }
Reply Bulks(const std::vector<std::string>& items) { return Reply::BulkArray(items); }

// A region whose effects are kept until shipped.
struct Node {
  explicit Node(crdt::ReplicaId id) : store(NewMemoryStore(id)) {}
  Reply Run(std::string_view line, int64_t now_us = 1000) {
    auto argv = SplitCommand(line);
    EXPECT_TRUE(argv.ok()) << line;
    std::string effect;
    Reply r = store->Execute(argv.ok() ? *argv : std::vector<std::string>{}, now_us, &effect);
    if (!effect.empty()) outbox.push_back(std::move(effect));
    return r;
  }
  void ShipTo(Node& to) {
    for (const std::string& e : outbox) ASSERT_TRUE(to.store->Merge(e).ok());
    outbox.clear();
  }
  std::unique_ptr<Store> store;
  std::vector<std::string> outbox;
};

void Sync(Node& a, Node& b) {
  a.ShipTo(b);
  b.ShipTo(a);
}

class Everyday : public ::testing::Test {
 protected:
  Reply Run(std::string_view line) { return a_.Run(line); }
  bool Wrote() {
    bool w = !a_.outbox.empty();
    a_.outbox.clear();
    return w;
  }
  Node a_{kA};
};

TEST_F(Everyday, GetSetGetDelAppend) {
  EXPECT_EQ(Run("GETSET k v"), Nil());
  EXPECT_EQ(Run("GETSET k w"), Bulk("v"));
  EXPECT_EQ(Run("GETDEL k"), Bulk("w"));
  EXPECT_EQ(Run("GETDEL k"), Nil());
  Wrote();
  EXPECT_EQ(Run("GETDEL k"), Nil());
  EXPECT_FALSE(Wrote());
  EXPECT_EQ(Run("APPEND k ab"), Int(2));
  EXPECT_EQ(Run("APPEND k cd"), Int(4));
  EXPECT_EQ(Run("GET k"), Bulk("abcd"));
  EXPECT_EQ(Run("INCR n"), Int(1));
  EXPECT_EQ(Run("APPEND n 0"), Int(2));
  EXPECT_EQ(Run("GET n"), Bulk("10"));
  EXPECT_EQ(Run("SADD s x"), Int(1));
  Wrote();
  EXPECT_EQ(Run("GETSET s v"), Err(kWrongType));
  EXPECT_EQ(Run("GETDEL s"), Err(kWrongType));
  EXPECT_EQ(Run("APPEND s v"), Err(kWrongType));
  EXPECT_FALSE(Wrote());
}

TEST_F(Everyday, Ranges) {
  EXPECT_EQ(Run("GETRANGE nope 0 -1"), Bulk(""));
  EXPECT_EQ(Run("SET k Hello"), Ok());
  EXPECT_EQ(Run("GETRANGE k 0 -1"), Bulk("Hello"));
  EXPECT_EQ(Run("GETRANGE k 1 2"), Bulk("el"));
  EXPECT_EQ(Run("GETRANGE k -3 -1"), Bulk("llo"));
  EXPECT_EQ(Run("GETRANGE k -1 -3"), Bulk(""));
  EXPECT_EQ(Run("GETRANGE k 3 100"), Bulk("lo"));
  EXPECT_EQ(Run("GETRANGE k -100 1"), Bulk("He"));
  EXPECT_EQ(Run("SUBSTR k 0 0"), Bulk("H"));
  EXPECT_EQ(Run("GETRANGE k a 1"), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run("SETRANGE k 6 World"), Int(11));
  EXPECT_EQ(Run("GET k"), Bulk(std::string("Hello\0World", 11)));
  EXPECT_EQ(Run("SETRANGE k 0 J"), Int(11));
  EXPECT_EQ(Run("SETRANGE k -1 x"), Err("ERR offset is out of range"));
  EXPECT_EQ(Run("SETRANGE k 536870911 xy"),
            Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(Run("SETRANGE new 0 \"\""), Int(0));
  EXPECT_EQ(Run("EXISTS new"), Int(0));
  EXPECT_EQ(Run("SETRANGE new 2 ab"), Int(4));
  EXPECT_EQ(Run("GET new"), Bulk(std::string("\0\0ab", 4)));
}

TEST_F(Everyday, MSetNx) {
  EXPECT_EQ(Run("MSETNX a 1 b 2"), Int(1));
  EXPECT_EQ(Run("MSETNX b 3 c 4"), Int(0));
  EXPECT_EQ(Run("EXISTS c"), Int(0));
  EXPECT_EQ(Run("MSETNX a 1 b"), Err("ERR wrong number of arguments for 'msetnx' command"));
}

TEST_F(Everyday, IncrByFloat) {
  EXPECT_EQ(Run("INCRBYFLOAT f 10.5"), Bulk("10.5"));
  EXPECT_EQ(Run("INCRBYFLOAT f 0.1"), Bulk("10.6"));
  EXPECT_EQ(Run("INCRBYFLOAT f -5"), Bulk("5.6"));
  EXPECT_EQ(Run("GET f"), Bulk("5.6"));
  EXPECT_EQ(Run("TYPE f"), Reply::Status("string"));
  EXPECT_EQ(Run("INCRBYFLOAT f 5e3"), Bulk("5005.60000000000000009"));  // as Redis
  EXPECT_EQ(Run("INCR f"), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run("INCRBYFLOAT f 0.4"), Bulk("5006"));
  EXPECT_EQ(Run("INCR f"), Int(5007));  // an integer again: INCR adds to it
  EXPECT_EQ(Run("GET f"), Bulk("5007"));
  EXPECT_EQ(Run("SET f 1.5"), Ok());  // SET cancels the observed increments
  EXPECT_EQ(Run("INCRBYFLOAT f 1"), Bulk("2.5"));
  EXPECT_EQ(Run("INCRBYFLOAT f abc"), Err("ERR value is not a valid float"));
  EXPECT_EQ(Run("INCRBYFLOAT f \" 1\""), Err("ERR value is not a valid float"));
  EXPECT_EQ(Run("INCRBYFLOAT f inf"), Err("ERR increment would produce NaN or Infinity"));
  EXPECT_EQ(Run("INCRBYFLOAT f 1e4933"), Err("ERR value is not a valid float"));
  EXPECT_EQ(Run("INCRBYFLOAT f 0x10"), Bulk("18.5"));
  EXPECT_EQ(Run("SET s abc"), Ok());
  EXPECT_EQ(Run("INCRBYFLOAT s 1"), Err("ERR value is not a valid float"));
  EXPECT_EQ(Run("SADD set x"), Int(1));
  EXPECT_EQ(Run("INCRBYFLOAT set 1"), Err(kWrongType));
  EXPECT_EQ(Run("DEL f"), Int(1));
  EXPECT_EQ(Run("GET f"), Nil());
  EXPECT_EQ(Run("INCRBYFLOAT f 1.0e-20"), Bulk("0"));
  EXPECT_EQ(Run("INCRBYFLOAT g 0"), Bulk("0"));
  EXPECT_EQ(Run("EXISTS g"), Int(1));
  EXPECT_EQ(Run("INCRBYFLOAT h 1e30"), Bulk("1000000000000000000024696061952"));
  EXPECT_EQ(Run("INCRBYFLOAT h -1e30"), Bulk("0"));
  EXPECT_EQ(Run("INCRBYFLOAT h 0.1"), Bulk("0.1"));
}

TEST_F(Everyday, HashExtras) {
  EXPECT_EQ(Run("HINCRBYFLOAT h f 1.5"), Bulk("1.5"));
  EXPECT_EQ(Run("HINCRBYFLOAT h f 1"), Bulk("2.5"));
  EXPECT_EQ(Run("HSET h s abc"), Int(1));
  EXPECT_EQ(Run("HINCRBYFLOAT h s 1"), Err("ERR hash value is not a float"));
  EXPECT_EQ(Run("HINCRBYFLOAT h f inf"), Err("ERR value is NaN or Infinity"));
  EXPECT_EQ(Run("HINCRBYFLOAT h f x"), Err("ERR value is not a valid float"));
  EXPECT_EQ(Run("HSTRLEN h s"), Int(3));
  EXPECT_EQ(Run("HSTRLEN h nope"), Int(0));
  EXPECT_EQ(Run("HSTRLEN nope f"), Int(0));
  EXPECT_EQ(Run("HRANDFIELD nope"), Nil());
  EXPECT_EQ(Run("HRANDFIELD nope 3"), Bulks({}));
  EXPECT_EQ(Run("HRANDFIELD h 5"), Bulks({"f", "s"}));
  EXPECT_EQ(Run("HRANDFIELD h 5 WITHVALUES"), Bulks({"f", "2.5", "s", "abc"}));
  EXPECT_EQ(Run("HRANDFIELD h -4").elements.size(), 4u);
  EXPECT_EQ(Run("HRANDFIELD h -3 withvalues").elements.size(), 6u);
  EXPECT_EQ(Run("HRANDFIELD h 1 foo"), Err("ERR syntax error"));
  EXPECT_EQ(Run("HRANDFIELD h a"), Err("ERR value is not an integer or out of range"));
  Reply one = Run("HRANDFIELD h");
  EXPECT_TRUE(one == Bulk("f") || one == Bulk("s")) << one.ToString();
  EXPECT_EQ(Run("HRANDFIELD h"), one);  // same state and clock: same draw
  EXPECT_EQ(Run("SET str x"), Ok());
  EXPECT_EQ(Run("HSTRLEN str f"), Err(kWrongType));
  EXPECT_EQ(Run("HRANDFIELD str"), Err(kWrongType));
  EXPECT_EQ(Run("HINCRBYFLOAT str f 1"), Err(kWrongType));
}

TEST_F(Everyday, SetAlgebra) {
  Run("SADD a 1 2 3 4");
  Run("SADD b 3 4 5");
  EXPECT_EQ(Run("SINTER a b"), Bulks({"3", "4"}));
  EXPECT_EQ(Run("SUNION a b"), Bulks({"1", "2", "3", "4", "5"}));
  EXPECT_EQ(Run("SDIFF a b"), Bulks({"1", "2"}));
  EXPECT_EQ(Run("SINTER a nope"), Bulks({}));
  EXPECT_EQ(Run("SDIFF nope a"), Bulks({}));
  EXPECT_EQ(Run("SINTERSTORE d a b"), Int(2));
  EXPECT_EQ(Run("SMEMBERS d"), Bulks({"3", "4"}));
  EXPECT_EQ(Run("SUNIONSTORE d a b"), Int(5));
  EXPECT_EQ(Run("SDIFFSTORE d a b"), Int(2));
  EXPECT_EQ(Run("SMEMBERS d"), Bulks({"1", "2"}));
  EXPECT_EQ(Run("SINTERSTORE d a nope"), Int(0));
  EXPECT_EQ(Run("EXISTS d"), Int(0));
  EXPECT_EQ(Run("SET str x"), Ok());
  EXPECT_EQ(Run("SUNIONSTORE str a"), Int(4));  // any destination type is replaced
  EXPECT_EQ(Run("TYPE str"), Reply::Status("set"));
  Run("SET str x");
  EXPECT_EQ(Run("SINTER a str"), Err(kWrongType));
  EXPECT_EQ(Run("SINTER nope str"), Err(kWrongType));  // every key is checked
  EXPECT_EQ(Run("SINTERCARD 2 a b"), Int(2));
  EXPECT_EQ(Run("SINTERCARD 2 a b LIMIT 1"), Int(1));
  EXPECT_EQ(Run("SINTERCARD 2 a b LIMIT 0"), Int(2));
  EXPECT_EQ(Run("SINTERCARD 0 a"), Err("ERR numkeys should be greater than 0"));
  EXPECT_EQ(Run("SINTERCARD 3 a b"),
            Err("ERR Number of keys can't be greater than number of args"));
  EXPECT_EQ(Run("SINTERCARD 1 a LIMIT -1"), Err("ERR LIMIT can't be negative"));
  EXPECT_EQ(Run("SINTERCARD 1 a FOO"), Err("ERR syntax error"));
}

TEST_F(Everyday, SRandMember) {
  EXPECT_EQ(Run("SRANDMEMBER nope"), Nil());
  EXPECT_EQ(Run("SRANDMEMBER nope 3"), Bulks({}));
  Run("SADD s a b c");
  EXPECT_EQ(Run("SRANDMEMBER s 10"), Bulks({"a", "b", "c"}));
  EXPECT_EQ(Run("SRANDMEMBER s 0"), Bulks({}));
  Reply two = Run("SRANDMEMBER s 2");
  ASSERT_EQ(two.elements.size(), 2u);
  EXPECT_NE(two.elements[0], two.elements[1]);
  EXPECT_EQ(Run("SRANDMEMBER s 2"), two);
  EXPECT_EQ(Run("SRANDMEMBER s -7").elements.size(), 7u);
  EXPECT_EQ(Run("SRANDMEMBER s 1 2"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SRANDMEMBER s x"), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run("SCARD s"), Int(3));
}

// Every key present for a whole SCAN is returned exactly once, whatever COUNT and whatever
// is written between the calls.
TEST_F(Everyday, ScanReturnsEveryKeyPresentThroughout) {
  for (int i = 0; i < 200; ++i) Run("SET k" + std::to_string(i) + " v");
  for (int count : {1, 3, 10, 1000}) {
    std::multiset<std::string> seen;
    std::string cursor = "0";
    int calls = 0, added = 0;
    do {
      Reply r = Run("SCAN " + cursor + " COUNT " + std::to_string(count));
      ASSERT_EQ(r.elements.size(), 2u);
      cursor = r.elements[0].str;
      for (const Reply& k : r.elements[1].elements) seen.insert(k.str);
      Run("SET extra" + std::to_string(count) + "_" + std::to_string(added++) + " v");
      Run("DEL extra" + std::to_string(count) + "_" + std::to_string(added / 2));
      ASSERT_LT(++calls, 1000);
    } while (cursor != "0");
    for (int i = 0; i < 200; ++i) EXPECT_EQ(seen.count("k" + std::to_string(i)), 1u) << i;
  }
  EXPECT_EQ(Run("SCAN x"), Err("ERR invalid cursor"));
  EXPECT_EQ(Run("SCAN 0 COUNT 0"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SCAN 0 COUNT x"), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run("SCAN 0 FOO"), Err("ERR syntax error"));
  Reply filtered = Run("SCAN 0 MATCH k1? COUNT 1000 TYPE string");
  EXPECT_EQ(filtered.elements[1].elements.size(), 10u);
  EXPECT_EQ(Run("SCAN 0 COUNT 1000 TYPE hash").elements[1], Bulks({}));
}

TEST_F(Everyday, SScanAndHScan) {
  EXPECT_EQ(Run("SSCAN nope 0"), Reply::Array({Bulk("0"), Bulks({})}));
  Run("SADD s a b c");
  Reply all = Run("SSCAN s 0 COUNT 100");
  EXPECT_EQ(all.elements[0], Bulk("0"));
  std::vector<std::string> got;
  for (const Reply& r : all.elements[1].elements) got.push_back(r.str);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Run("SSCAN s 0 MATCH b COUNT 100"), Reply::Array({Bulk("0"), Bulks({"b"})}));
  EXPECT_EQ(Run("SSCAN s 0 TYPE string"), Err("ERR syntax error"));
  EXPECT_EQ(Run("SSCAN s x"), Err("ERR invalid cursor"));
  Run("HSET h f v");
  EXPECT_EQ(Run("HSCAN h 0"), Reply::Array({Bulk("0"), Bulks({"f", "v"})}));
  EXPECT_EQ(Run("HSCAN s 0"), Err(kWrongType));
  EXPECT_EQ(Run("SSCAN h x"), Err("ERR invalid cursor"));
  EXPECT_EQ(Run("SSCAN h 0"), Err(kWrongType));
}

TEST_F(Everyday, ZScanPages) {
  EXPECT_EQ(Run("ZSCAN nope 0"), Reply::Array({Bulk("0"), Bulks({})}));
  Run("ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 1.5 h");
  std::map<std::string, std::string> seen;
  std::string cursor = "0";
  int pages = 0;
  do {
    Reply page = Run("ZSCAN z " + cursor + " COUNT 2");
    ASSERT_EQ(page.elements.size(), 2u);
    cursor = page.elements[0].str;
    const auto& items = page.elements[1].elements;
    ASSERT_EQ(items.size() % 2, 0u);
    EXPECT_LE(items.size(), 4u);  // COUNT 2 (a page ends after equal cursors only)
    for (size_t i = 0; i < items.size(); i += 2) {
      EXPECT_TRUE(seen.emplace(items[i].str, items[i + 1].str).second) << items[i].str;
    }
    ++pages;
  } while (cursor != "0" && pages < 100);
  EXPECT_GT(pages, 1);
  EXPECT_EQ(seen, (std::map<std::string, std::string>{{"a", "1"},
                                                      {"b", "2"},
                                                      {"c", "3"},
                                                      {"d", "4"},
                                                      {"e", "5"},
                                                      {"f", "6"},
                                                      {"g", "7"},
                                                      {"h", "1.5"}}));
  EXPECT_EQ(Run("ZSCAN z 0 MATCH h COUNT 100"), Reply::Array({Bulk("0"), Bulks({"h", "1.5"})}));
  EXPECT_EQ(Run("ZSCAN z x"), Err("ERR invalid cursor"));
  EXPECT_EQ(Run("ZSCAN z 0 COUNT 0"), Err("ERR syntax error"));
  Run("SADD s a");
  EXPECT_EQ(Run("ZSCAN s 0"), Err(kWrongType));
  EXPECT_EQ(Run("ZSCAN s x"), Err("ERR invalid cursor"));
}

TEST_F(Everyday, GeoCommands) {
  EXPECT_EQ(Run("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), Int(2));
  EXPECT_EQ(Run("ZSCORE g Palermo"), Bulk("3479099956230698"));
  EXPECT_EQ(
      Run("GEOPOS g Palermo nope"),
      Reply::Array({Bulks({"13.36138933897018433", "38.11555639549629859"}), Reply::NilArray()}));
  EXPECT_EQ(Run("GEODIST g Palermo Catania km"), Bulk("166.2742"));
  EXPECT_EQ(Run("GEODIST g Palermo Catania yd"),
            Err("ERR unsupported unit provided. please use M, KM, FT, MI"));
  EXPECT_EQ(Run("GEOHASH g Palermo Catania"), Bulks({"sqc8b49rny0", "sqdtr74hyu0"}));
  EXPECT_EQ(Run("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST"),
            Reply::Array({Reply::Array({Bulk("Catania"), Bulk("56.4413")}),
                          Reply::Array({Bulk("Palermo"), Bulk("190.4424")})}));
  EXPECT_EQ(Run("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km DESC COUNT 1 WITHHASH"),
            Reply::Array({Reply::Array({Bulk("Palermo"), Int(3479099956230698)})}));
  EXPECT_EQ(Run("GEOADD g 200 0 x"),
            Err("ERR invalid longitude,latitude pair 200.000000,0.000000"));
  EXPECT_EQ(Run("GEOADD g 1 86 x"), Err("ERR invalid longitude,latitude pair 1.000000,86.000000"));
  EXPECT_EQ(Run("GEOADD g NX XX 1 2 x"), Err("ERR syntax error"));
  EXPECT_EQ(Run("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km ANY"),
            Err("ERR the ANY argument requires COUNT argument"));
  EXPECT_EQ(Run("GEOSEARCH g BYRADIUS 1 km FROMMEMBER nope"),
            Err("ERR could not decode requested zset member"));
  EXPECT_EQ(Run("geosearch g BYRADIUS 1 km ASC WITHDIST"),
            Err("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"));
  EXPECT_EQ(Run("GEOSEARCHSTORE d g FROMMEMBER Palermo BYBOX 400 400 km STOREDIST"), Int(2));
  EXPECT_EQ(Run("ZRANGE d 0 -1"), Bulks({"Palermo", "Catania"}));
  EXPECT_EQ(Run("GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 m WITHDIST"),
            Err("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD "
                "options"));
  EXPECT_EQ(Run("GEORADIUS_RO g 15 37 200 km STORE d"), Err("ERR syntax error"));
  EXPECT_EQ(Run("GEORADIUSBYMEMBER g Palermo 100 km"), Bulks({"Palermo"}));
  EXPECT_EQ(Run("GEOSEARCHSTORE d nokey FROMLONLAT 0 0 BYRADIUS 1 m"), Int(0));
  EXPECT_EQ(Run("EXISTS d"), Int(0));
  Run("SET str v");
  EXPECT_EQ(Run("GEOPOS str a"), Err(kWrongType));
  EXPECT_EQ(Run("GEOADD str 1 2 a"), Err(kWrongType));
}

TEST_F(Everyday, RenameCopy) {
  EXPECT_EQ(Run("RENAME nope x"), Err("ERR no such key"));
  EXPECT_EQ(Run("RENAMENX nope x"), Err("ERR no such key"));
  Run("SET a 1");
  EXPECT_EQ(Run("RENAME a a"), Ok());
  EXPECT_EQ(Run("RENAMENX a a"), Int(0));
  EXPECT_EQ(Run("RENAME a b"), Ok());
  EXPECT_EQ(Run("EXISTS a"), Int(0));
  EXPECT_EQ(Run("GET b"), Bulk("1"));
  Run("SADD s x y");
  EXPECT_EQ(Run("RENAMENX b s"), Int(0));
  EXPECT_EQ(Run("RENAME s b"), Ok());
  EXPECT_EQ(Run("SMEMBERS b"), Bulks({"x", "y"}));
  Run("HSET h f v");
  EXPECT_EQ(Run("COPY h h2"), Int(1));
  EXPECT_EQ(Run("HGETALL h2"), Bulks({"f", "v"}));
  EXPECT_EQ(Run("COPY h b"), Int(0));
  EXPECT_EQ(Run("COPY h b REPLACE"), Int(1));
  EXPECT_EQ(Run("TYPE b"), Reply::Status("hash"));
  EXPECT_EQ(Run("COPY nope z"), Int(0));
  EXPECT_EQ(Run("COPY h h"), Err("ERR source and destination objects are the same"));
  EXPECT_EQ(Run("COPY h z DB 1"), Err("ERR DB index is out of range"));
  EXPECT_EQ(Run("COPY h z DB 0"), Int(1));
  EXPECT_EQ(Run("COPY h y FOO"), Err("ERR syntax error"));
  EXPECT_EQ(Run("BC.INCRBY bc 5"), Int(5));
  EXPECT_EQ(Run("RENAME bc q"), Err("ERR bounded counter 'bc' cannot be renamed"));
}

TEST_F(Everyday, FlushRandomKeyObjectTimeWait) {
  EXPECT_EQ(Run("RANDOMKEY"), Nil());
  Run("SET a 1");
  Run("SET b 2");
  Reply k = Run("RANDOMKEY");
  EXPECT_TRUE(k == Bulk("a") || k == Bulk("b"));
  EXPECT_EQ(Run("OBJECT ENCODING a"), Bulk("int"));
  Run("SET e " + std::string(44, 'x'));
  EXPECT_EQ(Run("OBJECT ENCODING e"), Bulk("embstr"));
  Run("SET r " + std::string(45, 'x'));
  EXPECT_EQ(Run("OBJECT ENCODING r"), Bulk("raw"));
  Run("SADD s 1 2");
  EXPECT_EQ(Run("OBJECT ENCODING s"), Bulk("intset"));
  Run("SADD s x");
  EXPECT_EQ(Run("OBJECT ENCODING s"), Bulk("hashtable"));
  Run("HSET h f v");
  EXPECT_EQ(Run("OBJECT ENCODING h"), Bulk("listpack"));
  EXPECT_EQ(Run("OBJECT ENCODING nope"), Nil());
  EXPECT_EQ(Run("OBJECT REFCOUNT a"), Int(2147483647));
  EXPECT_EQ(Run("OBJECT REFCOUNT e"), Int(1));
  EXPECT_EQ(Run("OBJECT IDLETIME a"), Int(0));
  EXPECT_TRUE(Run("OBJECT FREQ a").is_error());
  EXPECT_EQ(Run("OBJECT HELP").elements.size(), 15u);
  EXPECT_EQ(Run("OBJECT foo"), Err("ERR unknown subcommand 'foo'. Try OBJECT HELP."));
  EXPECT_EQ(Run("OBJECT ENCODING"),
            Err("ERR wrong number of arguments for 'object|encoding' command"));
  EXPECT_EQ(a_.Run("TIME", 1234567890123456), Bulks({"1234567890", "123456"}));
  EXPECT_EQ(Run("WAIT 1 0"), Int(0));
  EXPECT_EQ(Run("WAIT 1 -1"), Err("ERR timeout is negative"));
  EXPECT_EQ(Run("WAIT x 0"), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run("BC.INCRBY bc 5"), Int(5));
  EXPECT_EQ(Run("FLUSHALL FOO"), Err("ERR syntax error"));
  EXPECT_EQ(Run("FLUSHDB"), Ok());
  EXPECT_EQ(Run("KEYS *"), Bulks({"bc"}));  // bounded counters are never deleted
  EXPECT_EQ(Run("FLUSHALL ASYNC"), Ok());
}

// ---------------------------------------------------------------- two regions

TEST(EverydayReplication, ConcurrentIncrByFloatAddsUp) {
  Node a(kA), b(kB);
  EXPECT_EQ(a.Run("INCRBYFLOAT f 1.5"), Bulk("1.5"));
  EXPECT_EQ(b.Run("INCRBYFLOAT f 2.5"), Bulk("2.5"));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET f"), Bulk("4"));
  EXPECT_EQ(b.Run("GET f"), Bulk("4"));
  // A SET cancels what it observed; a concurrent increment elsewhere survives it.
  EXPECT_EQ(a.Run("SET f 10"), Ok());
  EXPECT_EQ(b.Run("INCRBYFLOAT f 0.25"), Bulk("4.25"));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET f"), Bulk("10.25"));
  EXPECT_EQ(b.Run("GET f"), Bulk("10.25"));
  // As does a DEL.
  EXPECT_EQ(b.Run("DEL f"), Int(1));
  EXPECT_EQ(a.Run("INCRBYFLOAT f 0.5"), Bulk("10.75"));
  Sync(a, b);
  EXPECT_EQ(a.Run("GET f"), Bulk("0.5"));
  EXPECT_EQ(b.Run("GET f"), Bulk("0.5"));
  EXPECT_EQ(a.store->DumpAll(), b.store->DumpAll());
  EXPECT_EQ(a.store->FullState(), b.store->FullState());
}

TEST(EverydayReplication, FlushAllVersusConcurrentWrite) {
  Node a(kA), b(kB);
  a.Run("SET x 1");
  a.Run("SADD s m");
  Sync(a, b);
  EXPECT_EQ(a.Run("FLUSHALL"), Ok());
  EXPECT_EQ(b.Run("SADD s n"), Int(1));
  Sync(a, b);
  EXPECT_EQ(a.Run("KEYS *"), Bulks({"s"}));
  EXPECT_EQ(a.Run("SMEMBERS s"), Bulks({"n"}));
  EXPECT_EQ(a.store->DumpAll(), b.store->DumpAll());
  EXPECT_EQ(a.store->FullState(), b.store->FullState());
}

TEST(EverydayReplication, RenameVersusConcurrentWrite) {
  Node a(kA), b(kB);
  a.Run("HSET old f 1");
  Sync(a, b);
  EXPECT_EQ(a.Run("RENAME old new"), Ok());
  EXPECT_EQ(b.Run("HSET old g 2"), Int(1));
  Sync(a, b);
  // The rename moved what A saw; B's concurrent field survives under the old name.
  EXPECT_EQ(a.Run("HGETALL new"), Bulks({"f", "1"}));
  EXPECT_EQ(a.Run("HGETALL old"), Bulks({"g", "2"}));
  EXPECT_EQ(a.store->DumpAll(), b.store->DumpAll());
  EXPECT_EQ(a.store->FullState(), b.store->FullState());
}

}  // namespace
}  // namespace cluster_sim
