// KeyspaceStore's refusal of writes (keyspace_store.h, MayWrite): a store that refuses a
// key (here an in-memory one refusing "no:..." keys, as the Redis store refuses its
// metadata keys) answers the error before the command runs, in every way a command reaches
// the keyspace: a single command (Execute, ExecuteWithoutEffect, ExecuteHeld), a MULTI
// batch (the error in its place, the others run) and a script (redis.call raises,
// redis.pcall returns the error). The keys a command may write: FindWrittenKey.
#include "cluster_sim/keyspace_store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/command_table.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);

// The key FindWrittenKey finds among argv's for a matcher of the keys starting "no:"
// ("" for none).
std::string WrittenNoKey(const Argv& argv) {
  const CommandSpec* spec = FindStoreCommand(argv[0]);
  EXPECT_NE(spec, nullptr) << argv[0];
  if (spec == nullptr) return "";
  const std::string* key =
      FindWrittenKey(*spec, argv, [](std::string_view k) { return k.substr(0, 3) == "no:"; });
  return key == nullptr ? "" : *key;
}

TEST(FindWrittenKeyTest, KeyRangeMovableDestinationsPopsAndXgroup) {
  EXPECT_EQ(WrittenNoKey({"SET", "no:a", "1"}), "no:a");
  EXPECT_EQ(WrittenNoKey({"MSET", "k", "no:v", "no:b", "1"}), "no:b");  // keys, not values
  EXPECT_EQ(WrittenNoKey({"RENAME", "k", "no:b"}), "no:b");
  EXPECT_EQ(WrittenNoKey({"BITOP", "AND", "no:d", "k"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"SORT", "k", "BY", "no:*", "STORE", "no:d"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"SORT", "k", "GET", "no:*"}), "");
  EXPECT_EQ(WrittenNoKey({"GEORADIUS", "g", "1", "2", "3", "km", "STORE", "no:d"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"GEORADIUSBYMEMBER", "g", "m", "3", "km", "STOREDIST", "no:d"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"XADD", "no:s", "*", "f", "v"}), "no:s");
  EXPECT_EQ(WrittenNoKey({"XGROUP", "CREATE", "no:s", "g", "$"}), "no:s");
  // Sources that are only read are not written keys; the destinations are.
  EXPECT_EQ(WrittenNoKey({"SORT", "no:a"}), "");
  EXPECT_EQ(WrittenNoKey({"SORT", "no:a", "STORE", "d"}), "");
  EXPECT_EQ(WrittenNoKey({"GEORADIUS", "no:g", "1", "2", "3", "km"}), "");
  EXPECT_EQ(WrittenNoKey({"BITOP", "AND", "d", "no:s"}), "");
  EXPECT_EQ(WrittenNoKey({"COPY", "no:s", "d"}), "");
  EXPECT_EQ(WrittenNoKey({"COPY", "s", "no:d"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"SUNIONSTORE", "d", "no:s"}), "");
  EXPECT_EQ(WrittenNoKey({"SDIFFSTORE", "no:d", "s"}), "no:d");
  EXPECT_EQ(WrittenNoKey({"ZRANGESTORE", "d", "no:s", "0", "-1"}), "");
  EXPECT_EQ(WrittenNoKey({"PFMERGE", "d", "no:s"}), "");
  EXPECT_EQ(WrittenNoKey({"RENAME", "no:a", "b"}), "no:a");  // the source is deleted
  // The movable pops' numkeys keys and XREADGROUP's streams (it writes their pending lists);
  // a numkeys that does not count the keys there names none (the command's own error).
  EXPECT_EQ(WrittenNoKey({"LMPOP", "2", "k", "no:b", "LEFT"}), "no:b");
  EXPECT_EQ(WrittenNoKey({"ZMPOP", "1", "no:z", "MIN"}), "no:z");
  EXPECT_EQ(WrittenNoKey({"BLMPOP", "0", "1", "no:a", "LEFT"}), "no:a");
  EXPECT_EQ(WrittenNoKey({"BZMPOP", "0.5", "2", "k", "no:z", "MAX"}), "no:z");
  EXPECT_EQ(WrittenNoKey({"LMPOP", "1", "k", "no:b"}), "");  // no:b is the direction here
  EXPECT_EQ(WrittenNoKey({"LMPOP", "9", "no:a", "LEFT"}), "");
  EXPECT_EQ(WrittenNoKey({"LMPOP", "-1", "no:a", "LEFT"}), "");
  EXPECT_EQ(WrittenNoKey({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "no:s", "0", "0"}),
            "no:s");
  EXPECT_EQ(WrittenNoKey({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "no:s", ">"}),
            "no:s");
  // Reads write nothing.
  EXPECT_EQ(WrittenNoKey({"GET", "no:a"}), "");
  EXPECT_EQ(WrittenNoKey({"SORT_RO", "no:a"}), "");
  EXPECT_EQ(WrittenNoKey({"XRANGE", "no:s", "-", "+"}), "");
}

// An in-memory store that refuses the keys starting "no:".
class RefusingStore final : public KeyspaceStore {
 public:
  explicit RefusingStore(crdt::ReplicaId self) : KeyspaceStore(self) { CheckWrites(); }
  bool durable() const override { return false; }
  size_t MemoryBytes() const override { return 0; }

 private:
  Reply RunStream(const std::vector<std::string>&, int64_t) override {
    return Reply::Error("ERR no streams here");
  }
  std::optional<Reply> BeforeEngine(const std::vector<std::string>&) override {
    return std::nullopt;
  }
  Status MayWrite(std::string_view key) const override {
    if (key.substr(0, 3) != "no:") return Status::Ok();
    return Status::InvalidArgument("ERR refused '" + std::string(key) + "'");
  }
};

// Every way of running a command refuses it before it runs; `plain` runs the same minus
// the refused commands (and is not asked: the in-memory store refuses nothing).
TEST(KeyspaceStoreRefusalTest, ARefusedWriteRunsNotAtAll) {
  RefusingStore store(kA);
  std::unique_ptr<Store> plain = NewMemoryStore(kA);
  std::string effect;
  const Reply refused = Reply::Error("ERR refused 'no:x'");
  EXPECT_EQ(store.Execute({"SET", "k", "1"}, 1, &effect), Reply::Status("OK"));
  EXPECT_EQ(plain->Execute({"SET", "k", "1"}, 1, nullptr), Reply::Status("OK"));
  const std::string before = store.FullState();
  effect.clear();
  EXPECT_EQ(store.Execute({"SET", "no:x", "1"}, 2, &effect), refused);
  EXPECT_TRUE(effect.empty());
  EXPECT_EQ(store.Execute({"RENAME", "k", "no:x"}, 2, &effect), refused);
  EXPECT_TRUE(effect.empty());
  bool wrote = true;
  EXPECT_EQ(store.ExecuteWithoutEffect({"SADD", "no:x", "m"}, 2, &wrote), refused);
  EXPECT_FALSE(wrote);
  Reply held;
  ASSERT_TRUE(store.ExecuteHeld({"INCR", "no:x"}, 2, &held, &wrote));
  EXPECT_EQ(held, refused);
  EXPECT_FALSE(wrote);
  store.TakeHeld(&effect);
  EXPECT_TRUE(effect.empty());
  EXPECT_EQ(store.FullState(), before);  // not even a dot of them
  // A wrong number of arguments is the command's own error.
  EXPECT_EQ(store.Execute({"SET", "no:x"}, 2, nullptr), ArityError("set"));
  // Reads of the key run (and find nothing).
  EXPECT_EQ(store.Execute({"GET", "no:x"}, 2, nullptr), Reply::Nil());
  // The in-memory store refuses nothing.
  std::unique_ptr<Store> memory = NewMemoryStore(kA);
  EXPECT_EQ(memory->Execute({"SET", "no:x", "1"}, 2, nullptr), Reply::Status("OK"));

  // A batch: the others run, the error in its place.
  std::vector<Reply> replies =
      store.ExecuteBatch({{"INCR", "n"}, {"SET", "no:x", "1"}, {"INCR", "n"}}, 3, &effect);
  EXPECT_EQ(replies, (std::vector<Reply>{Reply::Integer(1), refused, Reply::Integer(2)}));
  EXPECT_FALSE(effect.empty());
  plain->ExecuteBatch({{"INCR", "n"}, {"INCR", "n"}}, 3, nullptr);

  // A script: redis.call raises (what ran before stays), redis.pcall returns the error.
  Reply r = store.Execute(
      {"EVAL", "redis.call('INCR', 'n'); redis.call('SET', 'no:x', '1'); redis.call('INCR', 'm')",
       "0"},
      4, nullptr);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.str.rfind("ERR refused 'no:x' script: ", 0), 0u) << r.str;
  plain->Execute({"EVAL", "redis.call('INCR', 'n')", "0"}, 4, nullptr);
  EXPECT_EQ(store.Execute({"EVAL",
                           "local e = redis.pcall('SET', 'no:x', '1'); "
                           "return {e['err'], redis.call('INCR', 'm')}",
                           "0"},
                          5, nullptr),
            Reply::Array({Reply::Bulk("ERR refused 'no:x'"), Reply::Integer(1)}));
  plain->Execute({"INCR", "m"}, 5, nullptr);
  EXPECT_EQ(store.FullState(), plain->FullState());
}

}  // namespace
}  // namespace cluster_sim
