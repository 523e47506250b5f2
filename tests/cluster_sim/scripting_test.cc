// Lua scripting (scripting.h) through the memory store and a two-region simulation: the
// conversions both ways, the sandbox, Redis 7.0's error texts, the instruction budget,
// one effect per script, the per-region (unreplicated) script cache, and scripts queued
// in MULTI.
#include "cluster_sim/scripting.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/keyspace_store.h"
#include "cluster_sim/session.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/store.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

class ScriptingTest : public testing::Test {
 protected:
  Reply Run(std::vector<std::string> argv) {
    std::string effect;
    Reply r = store_->Execute(argv, 0, &effect);
    effects_.push_back(effect);
    return r;
  }
  Reply Eval(const std::string& body, std::vector<std::string> rest = {"0"}) {
    std::vector<std::string> argv = {"EVAL", body};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return Run(argv);
  }
  static std::string Suffix(const std::string& body, int line = 1) {
    return " script: " + Scripts::Sha1Hex(body) + ", on @user_script:" + std::to_string(line) + ".";
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  std::vector<std::string> effects_;
};

TEST_F(ScriptingTest, Sha1MatchesKnownDigests) {
  EXPECT_EQ(Scripts::Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Scripts::Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Scripts::Sha1Hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(Scripts::Sha1Hex(std::string(1000, 'a')).size(), 40u);
}

TEST_F(ScriptingTest, LuaToRedisConversions) {
  EXPECT_EQ(Eval("return 3.9"), Reply::Integer(3));
  EXPECT_EQ(Eval("return -3.9"), Reply::Integer(-3));
  EXPECT_EQ(Eval("return 2^63"), Reply::Integer(INT64_MIN));
  EXPECT_EQ(Eval("return 'x'"), Reply::Bulk("x"));
  EXPECT_EQ(Eval("return true"), Reply::Integer(1));
  EXPECT_EQ(Eval("return false"), Reply::Nil());
  EXPECT_EQ(Eval("return nil"), Reply::Nil());
  EXPECT_EQ(Eval("return {1,'a',{2},false}"),
            Reply::Array({Reply::Integer(1), Reply::Bulk("a"), Reply::Array({Reply::Integer(2)}),
                          Reply::Nil()}));
  EXPECT_EQ(Eval("return {1,nil,3}"), Reply::Array({Reply::Integer(1)}));
  EXPECT_EQ(Eval("return {ok='fine'}"), Reply::Status("fine"));
  EXPECT_EQ(Eval("return {err='MY bad'}"), Reply::Error("MY bad"));
  EXPECT_EQ(Eval("return {ok=5}"), Reply::Array({}));
  EXPECT_EQ(Eval("return redis.status_reply('A B')"), Reply::Status("A B"));
  EXPECT_EQ(Eval("return redis.error_reply('oops')"), Reply::Error("ERR oops"));
  EXPECT_EQ(Eval("return redis.error_reply('-X y')"), Reply::Error("X y"));
  EXPECT_EQ(Eval("return redis.error_reply('MY err')"), Reply::Error("MY err"));  // code MY
}

// redis.setresp(3): redis.call's replies as Redis 7 gives a RESP3 client, in Redis's Lua
// forms; RESP3 values returned keep their kinds (the endpoint writes them per protocol).
TEST_F(ScriptingTest, SetRespThree) {
  Run({"HSET", "h", "f", "v"});
  Run({"SADD", "s", "a"});
  Run({"ZADD", "z", "1.5", "m"});
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('GET', 'nokey') == nil"), Reply::Bool(true));
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('HGETALL', 'h').map.f"), Reply::Bulk("v"));
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('SMEMBERS', 's')"),
            Reply::Set({Reply::Bulk("a")}));
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('ZSCORE', 'z', 'm')"), Reply::Double("1.5"));
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('ZRANGE', 'z', 0, -1, 'WITHSCORES')"),
            Reply::Array({Reply::Array({Reply::Bulk("m"), Reply::Double("1.5")})}));
  EXPECT_EQ(Eval("redis.setresp(2) return redis.call('HGETALL', 'h')"),
            Reply::BulkArray({"f", "v"}));
  // Every run starts in RESP2.
  EXPECT_EQ(Eval("redis.setresp(3) return 1"), Reply::Integer(1));
  EXPECT_EQ(Eval("return redis.call('GET', 'nokey')"), Reply::Nil());
  EXPECT_EQ(Eval("redis.setresp(3) return false"), Reply::Bool(false));
  EXPECT_EQ(Eval("return {map={a=1}}"), Reply::Map({Reply::Bulk("a"), Reply::Integer(1)}));
  EXPECT_EQ(Eval("return {double=0.1}"), Reply::Double("0.10000000000000001"));
  EXPECT_EQ(Eval("return {double=-1/0}"), Reply::Double("-inf"));
  EXPECT_EQ(Eval("return {big_number='12'}"), Reply::Bulk("12"));
  EXPECT_EQ(Eval("redis.setresp(4)"),
            Reply::Error("ERR RESP version must be 2 or 3." + Suffix("redis.setresp(4)")));
  EXPECT_EQ(Eval("redis.setresp()"),
            Reply::Error("ERR redis.setresp() requires one argument." + Suffix("redis.setresp()")));
}

TEST_F(ScriptingTest, RedisToLuaConversions) {
  Run({"SET", "s", "v"});
  Run({"SADD", "set", "b", "a"});
  EXPECT_EQ(Eval("return type(redis.call('INCR', 'n'))"), Reply::Bulk("number"));
  EXPECT_EQ(Eval("return redis.call('GET', 's')"), Reply::Bulk("v"));
  EXPECT_EQ(Eval("return redis.call('GET', 'missing') == false"), Reply::Integer(1));
  EXPECT_EQ(Eval("return redis.call('SET', 'x', 1).ok"), Reply::Bulk("OK"));
  EXPECT_EQ(Eval("return redis.call('SMEMBERS', 'set')"),
            Reply::Array({Reply::Bulk("a"), Reply::Bulk("b")}));
  EXPECT_EQ(Eval("return redis.pcall('INCR', 's').err"),
            Reply::Bulk("ERR value is not an integer or out of range"));
  EXPECT_EQ(Eval("redis.call('SET', 'f', 1.5) return redis.call('GET', 'f')"), Reply::Bulk("1.5"));
  EXPECT_EQ(Eval("return redis.call('ECHO', 7)"), Reply::Bulk("7"));
}

TEST_F(ScriptingTest, KeysAndArgv) {
  EXPECT_EQ(
      Eval("return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", {"2", "k1", "k2", "a1", "a2"}),
      Reply::Array({Reply::Bulk("k1"), Reply::Bulk("k2"), Reply::Bulk("a1"), Reply::Integer(2)}));
  EXPECT_EQ(Eval("return 1", {"-1"}), Reply::Error("ERR Number of keys can't be negative"));
  EXPECT_EQ(Eval("return 1", {"2", "a"}),
            Reply::Error("ERR Number of keys can't be greater than number of args"));
  EXPECT_EQ(Eval("return 1", {"x"}), Reply::Error("ERR value is not an integer or out of range"));
  EXPECT_EQ(Run({"EVAL", "return 1"}),
            Reply::Error("ERR wrong number of arguments for 'eval' command"));
}

TEST_F(ScriptingTest, Sandbox) {
  std::string body = "x = 1";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR user_script:1: Attempt to modify a readonly table" + Suffix(body)));
  body = "return x";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR user_script:1: Script attempted to access nonexistent global "
                         "variable 'x'" +
                         Suffix(body)));
  for (std::string g : {"os", "io", "loadfile", "dofile", "print", "require", "setfenv"}) {
    body = "return " + g;
    EXPECT_EQ(Eval(body),
              Reply::Error("ERR user_script:1: Script attempted to access nonexistent global "
                           "variable '" +
                           g + "'" + Suffix(body)));
  }
  body = "redis.call = nil";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR user_script:1: Attempt to modify a readonly table" + Suffix(body)));
  body = "function f() end";
  EXPECT_TRUE(Eval(body).is_error());
  EXPECT_EQ(Eval("local t = {} t.x = 1 return t.x"), Reply::Integer(1));
  EXPECT_EQ(Eval("return setmetatable(_G, nil)").is_error(), true);
}

TEST_F(ScriptingTest, Libraries) {
  EXPECT_EQ(Eval("return cjson.encode({1,2,3})"), Reply::Bulk("[1,2,3]"));
  EXPECT_EQ(Eval("return cjson.decode('{\"a\":[5,6]}').a[2]"), Reply::Integer(6));
  EXPECT_EQ(Eval("return bit.band(7, 3)"), Reply::Integer(3));
  EXPECT_EQ(Eval("return bit.bxor(5, 1)"), Reply::Integer(4));
  EXPECT_EQ(Eval("return redis.sha1hex('')"),
            Reply::Bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  EXPECT_EQ(Eval("return string.format('%d-%s', 5, 'x')"), Reply::Bulk("5-x"));
  EXPECT_EQ(Eval("return redis.log(redis.LOG_WARNING, 'hi')"), Reply::Nil());
  // Redis's PRNG, seeded 0 at every run: the same numbers every time.
  EXPECT_EQ(Eval("math.randomseed(0) return {math.random(10), math.random(10)}"),
            Reply::Array({Reply::Integer(2), Reply::Integer(8)}));
  EXPECT_EQ(Eval("return math.random(1000)"), Eval("return math.random(1000)"));
}

TEST_F(ScriptingTest, ErrorTexts) {
  std::string body = "return redis.call('nosuch')";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR Unknown Redis command called from script" + Suffix(body)));
  body = "return redis.call('get')";
  EXPECT_EQ(Eval(body), Reply::Error("ERR Wrong number of args calling Redis command from script" +
                                     Suffix(body)));
  body = "return redis.call('multi')";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR This Redis command is not allowed from script" + Suffix(body)));
  body = "return redis.call('eval', 'return 1', 0)";
  EXPECT_EQ(Eval(body),
            Reply::Error("ERR This Redis command is not allowed from script" + Suffix(body)));
  body = "\n\nerror('boom')";
  EXPECT_EQ(Eval(body), Reply::Error("ERR user_script:3: boom" + Suffix(body, 3)));
  body = "error({err='MY custom'})";
  EXPECT_EQ(Eval(body), Reply::Error("MY custom" + Suffix(body)));
  body = "redis.call('set', 's', 'x') return redis.call('incr', 's')";
  EXPECT_EQ(Eval(body), Reply::Error("ERR value is not an integer or out of range" + Suffix(body)));
  EXPECT_EQ(Eval("local ok, e = pcall(redis.call, 'nosuch') return e"),
            Reply::Bulk("ERR Unknown Redis command called from script"));
  EXPECT_EQ(Eval("return redis.pcall('nosuch')"),
            Reply::Error("ERR Unknown Redis command called from script"));
  EXPECT_EQ(Eval("syntax error here"),
            Reply::Error("ERR Error compiling script (new function): user_script:1: '=' "
                         "expected near 'error'"));
  body = "return redis.call('xreadgroup', 'group', 'g', 'c', 'block', '0', 'streams', 's', '>')";
  EXPECT_EQ(Eval(body), Reply::Error("ERR xreadgroup command is not allowed with BLOCK option "
                                     "from scripts" +
                                     Suffix(body)));
  // The name as the script wrote it (Redis's argv[0]).
  body = "return redis.call('XReadGroup', 'group', 'g', 'c', 'block', '0', 'streams', 's', '>')";
  EXPECT_EQ(Eval(body), Reply::Error("ERR XReadGroup command is not allowed with BLOCK option "
                                     "from scripts" +
                                     Suffix(body)));
  body = "return redis.call('set', 'k', 'v')";
  EXPECT_EQ(
      Run({"EVAL_RO", body, "1", "k"}),
      Reply::Error("ERR Write commands are not allowed from read-only scripts." + Suffix(body)));
  EXPECT_EQ(Run({"EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"}), Reply::Nil());
}

TEST_F(ScriptingTest, ScriptCacheCommands) {
  EXPECT_EQ(Run({"SCRIPT", "LOAD", "return 1"}),
            Reply::Bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
  EXPECT_EQ(Run({"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"}), Reply::Integer(1));
  EXPECT_EQ(Run({"EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}),
            Reply::Integer(1));
  EXPECT_EQ(Run({"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "abc"}),
            Reply::Array({Reply::Integer(1), Reply::Integer(0)}));
  EXPECT_EQ(Eval("return 2"), Reply::Integer(2));  // EVAL caches its body too
  EXPECT_EQ(Run({"SCRIPT", "EXISTS", Scripts::Sha1Hex("return 2")}),
            Reply::Array({Reply::Integer(1)}));
  EXPECT_EQ(Run({"SCRIPT", "FLUSH"}), Reply::Status("OK"));
  EXPECT_EQ(Run({"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}),
            Reply::Error("NOSCRIPT No matching script. Please use EVAL."));
  EXPECT_EQ(Run({"EVALSHA", "abc", "0"}),
            Reply::Error("NOSCRIPT No matching script. Please use EVAL."));
  EXPECT_EQ(Run({"SCRIPT", "LOAD", "x ="}).str.rfind("ERR Error compiling script", 0), 0u);
  EXPECT_EQ(Run({"SCRIPT", "FOO"}), Reply::Error("ERR unknown subcommand 'FOO'. Try SCRIPT HELP."));
  EXPECT_EQ(Run({"SCRIPT", "LOAD"}),
            Reply::Error("ERR wrong number of arguments for 'script|load' command"));
  EXPECT_EQ(Run({"SCRIPT", "FLUSH", "X"}),
            Reply::Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
  EXPECT_EQ(Run({"SCRIPT", "KILL"}), Reply::Error("NOTBUSY No scripts in execution right now."));
  for (const std::string& e : effects_) EXPECT_EQ(e, "") << "script commands write nothing";
}

TEST_F(ScriptingTest, WritesMakeOneEffectAndReadsNone) {
  EXPECT_EQ(Eval("redis.call('SET', 'a', '1') redis.call('INCR', 'b') redis.call('SADD', 'c', 'x')"
                 " return 1"),
            Reply::Integer(1));
  ASSERT_EQ(effects_.size(), 1u);
  std::vector<std::string> keys;
  ASSERT_TRUE(KeyspaceStore::EncodedKeys(effects_[0], &keys));
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Eval("return redis.call('GET', 'a')"), Reply::Bulk("1"));
  EXPECT_EQ(effects_.back(), "");
  // A script that fails half way keeps the writes before the error (as Redis does).
  EXPECT_TRUE(Eval("redis.call('SET', 'd', '1') error('stop')").is_error());
  EXPECT_NE(effects_.back(), "");
  EXPECT_EQ(store_->Dump("d"), "1");
}

TEST(ScriptingBudgetTest, RunawayScriptIsStoppedDeterministically) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  std::string effect;
  const std::string body = "redis.call('SET', 'k', 'v')\nwhile true do end";
  Reply r = store->Execute({"EVAL", body, "0"}, 0, &effect);
  EXPECT_EQ(r, Reply::Error("BUSY Script exceeded the instruction budget of " +
                            std::to_string(Scripts::kDefaultInstructionBudget) +
                            " Lua instructions and was stopped script: " + Scripts::Sha1Hex(body) +
                            ", on @user_script:2."));
  EXPECT_NE(effect, "") << "the writes before the stop stay";
  // pcall inside the script cannot swallow the stop.
  const std::string sneaky = "while true do pcall(function() while true do end end) end";
  r = store->Execute({"EVAL", sneaky, "0"}, 0, nullptr);
  EXPECT_EQ(r.str.rfind("BUSY Script exceeded the instruction budget", 0), 0u) << r.str;
  // The region still works afterwards.
  EXPECT_EQ(store->Execute({"EVAL", "return 5", "0"}, 0, nullptr), Reply::Integer(5));
}

TEST(ScriptingBudgetTest, SmallBudgetCountsInstructions) {
  Scripts scripts(10'000);
  Scripts::Call none = [](const std::vector<std::string>&) { return Reply::Nil(); };
  EXPECT_EQ(
      scripts.Run({"EVAL", "local n = 0 for i = 1, 100 do n = n + i end return n", "0"}, none),
      Reply::Integer(5050));
  Reply r =
      scripts.Run({"EVAL", "local n = 0 for i = 1, 100000 do n = n + i end return n", "0"}, none);
  EXPECT_EQ(r.str.rfind("BUSY Script exceeded the instruction budget of 10000 ", 0), 0u) << r.str;
}

TEST(ScriptingBudgetTest, MemoryIsCapped) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  Reply r = store->Execute(
      {"EVAL", "local t = {} for i = 1, 40 do t[i] = string.rep('x', 2^20 * 8) .. i end", "0"}, 0,
      nullptr);
  EXPECT_TRUE(r.is_error()) << r.ToString();
  EXPECT_EQ(store->Execute({"EVAL", "return 6", "0"}, 0, nullptr), Reply::Integer(6));
}

TEST(ScriptingSessionTest, EvalShaQueuedInMulti) {
  std::unique_ptr<Store> store = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  std::vector<std::string> effects;
  Session s(StoreBackend(
      *store, [] { return int64_t{0}; }, [&](std::string e) { effects.push_back(std::move(e)); }));
  Reply sha = s.Execute({"SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"});
  ASSERT_EQ(sha.type, Reply::Type::kBulk);
  EXPECT_EQ(s.Execute({"MULTI"}), Reply::Status("OK"));
  EXPECT_EQ(s.Execute({"EVALSHA", sha.str, "1", "n"}), Reply::Status("QUEUED"));
  EXPECT_EQ(s.Execute({"SET", "m", "x"}), Reply::Status("QUEUED"));
  EXPECT_EQ(s.Execute({"EVALSHA", sha.str, "1", "n"}), Reply::Status("QUEUED"));
  EXPECT_EQ(s.Execute({"EVALSHA", "0000000000000000000000000000000000000000", "0"}),
            Reply::Status("QUEUED"));
  EXPECT_EQ(s.Execute({"EXEC"}),
            Reply::Array({Reply::Integer(1), Reply::Status("OK"), Reply::Integer(2),
                          Reply::Error("NOSCRIPT No matching script. Please use EVAL.")}));
  EXPECT_EQ(effects.size(), 1u) << "the transaction, scripts included, is one effect";
  EXPECT_EQ(s.Execute({"EVAL", "return 1"}),
            Reply::Error("ERR wrong number of arguments for 'eval' command"));
}

// ------------------------------------------------------------------ two regions

SimConfig TwoRegions() {
  SimConfig c;
  c.regions.push_back(RegionConfig{"A", SimTime(0)});
  c.regions.push_back(RegionConfig{"B", SimTime(0)});
  return c;
}

TEST(ScriptingSimulationTest, ScriptWritesArriveAsOneEffect) {
  Simulation sim(TwoRegions());
  sim.network().SetLink(0, 1, LinkParams{SimTime(30'000), SimTime(0), 0, 0});
  const std::string body =
      "redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCRBY', KEYS[2], 5) "
      "redis.call('SADD', KEYS[3], 'm') return 'ok'";
  EXPECT_EQ(sim.Execute(0, {"EVAL", body, "3", "x", "y", "z", "v"}), Reply::Bulk("ok"));
  EXPECT_EQ(sim.Metrics(0).local_writes, 1u) << "one script, one replicated effect";
  sim.AdvanceBy(SimTime(29'999));
  EXPECT_EQ(sim.Dump(1, "x"), "(nil)");
  EXPECT_EQ(sim.Dump(1, "y"), "(nil)");
  sim.AdvanceBy(SimTime(1));
  EXPECT_EQ(sim.Dump(1, "x"), "v");
  EXPECT_EQ(sim.Execute(1, {"GET", "y"}), Reply::Bulk("5"));
  EXPECT_EQ(sim.Execute(1, {"SISMEMBER", "z", "m"}), Reply::Integer(1));
  // A read-only script replicates nothing.
  EXPECT_EQ(sim.Execute(0, {"EVAL", "return redis.call('GET', 'x')", "0"}), Reply::Bulk("v"));
  EXPECT_EQ(sim.Metrics(0).local_writes, 1u);
}

TEST(ScriptingSimulationTest, ScriptCacheIsPerRegion) {
  Simulation sim(TwoRegions());
  Reply sha = sim.Execute(0, {"SCRIPT", "LOAD", "return 'hi'"});
  ASSERT_EQ(sha.type, Reply::Type::kBulk);
  sim.Sync();
  EXPECT_EQ(sim.Execute(0, {"EVALSHA", sha.str, "0"}), Reply::Bulk("hi"));
  EXPECT_EQ(sim.Execute(1, {"EVALSHA", sha.str, "0"}),
            Reply::Error("NOSCRIPT No matching script. Please use EVAL."));
  EXPECT_EQ(sim.Execute(1, {"SCRIPT", "EXISTS", sha.str}), Reply::Array({Reply::Integer(0)}));
  // A crash loses the cache, as a restarted Redis does.
  sim.Crash(0);
  sim.Restart(0);
  EXPECT_EQ(sim.Execute(0, {"EVALSHA", sha.str, "0"}),
            Reply::Error("NOSCRIPT No matching script. Please use EVAL."));
}

}  // namespace
}  // namespace cluster_sim
