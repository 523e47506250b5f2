// The store's command table (command_table.h) against what the store enforces: every
// command the engine, the streams or a Session runs has a row, the row's arity is the
// one the store checks, and the key positions are Redis's.
#include "cluster_sim/command_table.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/command_engine.h"
#include "cluster_sim/local_streams.h"
#include "cluster_sim/scripting.h"
#include "cluster_sim/session.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace cluster_sim {
namespace {

using Argv = std::vector<std::string>;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(0, 1);

// `name` and `n` - 1 arguments ("1" each, valid for every command's first check).
Argv Line(std::string_view name, size_t n) {
  Argv argv(n, "1");
  argv[0] = std::string(name);
  return argv;
}

bool IsArityError(const Reply& r, std::string_view name) { return r == ArityError(name); }

bool IsUnknown(const Reply& r) {
  return r.is_error() && r.str.rfind("ERR unknown command", 0) == 0;
}

// Runs a command line on a fresh store through a Session (so that every row's runner,
// the engine, the streams or the Session, gets it); streams region-local or replicated.
Reply RunOnStore(const Argv& argv, bool replicate_streams = false) {
  std::unique_ptr<Store> store = NewMemoryStore(kA);
  store->SetStreamOptions(replicate_streams, crdt::StreamIdMode::kStrict);
  Session session(StoreBackend(*store, [] { return int64_t{1000}; }));
  return session.Execute(argv);
}

TEST(CommandTable, RowsAreSortedLowercaseAndUnique) {
  std::string_view previous;
  for (const CommandSpec& spec : kStoreCommands) {
    EXPECT_EQ(AsciiLower(spec.name), spec.name);
    EXPECT_LT(previous, spec.name);
    EXPECT_NE(spec.arity, 0) << spec.name;
    previous = spec.name;
  }
}

TEST(CommandTable, LookupIgnoresCase) {
  ASSERT_NE(FindStoreCommand("get"), nullptr);
  EXPECT_EQ(FindStoreCommand("GeT"), FindStoreCommand("get"));
  EXPECT_EQ(FindStoreCommand("XREADGROUP")->name, "xreadgroup");
  EXPECT_EQ(FindStoreCommand("nosuch"), nullptr);
  EXPECT_EQ(FindStoreCommand(""), nullptr);
  EXPECT_EQ(FindStoreCommand(std::string(40, 'g')), nullptr);  // longer than the fast path
}

TEST(CommandTable, EveryRowRunsOnItsRunner) {
  CommandEngine engine;
  for (const CommandSpec& spec : kStoreCommands) {
    SCOPED_TRACE(std::string(spec.name));
    crdt::Keyspace ks(kA);
    const size_t n = static_cast<size_t>(spec.arity < 0 ? -spec.arity : spec.arity);
    Reply direct = engine.Execute(ks, Line(spec.name, n), 1000, nullptr, nullptr);
    // The engine runs the stream rows too: they are replicated streams' commands.
    const bool engine_runs =
        spec.runner == CommandRunner::kEngine || spec.runner == CommandRunner::kStreams;
    EXPECT_EQ(IsUnknown(direct), !engine_runs);
    EXPECT_EQ(LocalStreams::Handles(FindStoreCommand(spec.name)),
              spec.runner == CommandRunner::kStreams);
    // The store routes a command to its scripts by this row (KeyspaceStore::RunOne).
    EXPECT_EQ(Scripts::Handles(spec.name), spec.runner == CommandRunner::kScript);
    EXPECT_FALSE(IsUnknown(RunOnStore(Line(spec.name, n))));
    EXPECT_FALSE(IsUnknown(RunOnStore(Line(spec.name, n), /*replicate_streams=*/true)));
  }
  EXPECT_TRUE(IsUnknown(RunOnStore({"nosuch"})));
  EXPECT_TRUE(IsUnknown(RunOnStore({"xinfo", "stream", "s"}, /*replicate_streams=*/true)));
}

// Scripts::Handles names the commands Scripts::Run answers, in any case, and nothing else:
// the scenario runner sends a step to the scripts by it.
TEST(CommandTable, ScriptsHandleTheScriptCommandsOnly) {
  for (const char* name : {"eval", "EVALSHA", "Eval_Ro", "evalsha_ro", "SCRIPT"}) {
    EXPECT_TRUE(Scripts::Handles(name)) << name;
  }
  for (const char* name : {"", "e", "evalx", "scripts", "set", "exists", "fcall", "xadd"}) {
    EXPECT_FALSE(Scripts::Handles(name)) << name;
  }
  EXPECT_FALSE(Scripts::Handles(static_cast<const CommandSpec*>(nullptr)));
}

// The arity in the table is the one the store enforces: one argument short is refused
// (and, for a fixed arity, one too many), exactly |arity| is accepted.
TEST(CommandTable, AritiesAreWhatTheStoreEnforces) {
  for (const CommandSpec& spec : kStoreCommands) {
    SCOPED_TRACE(std::string(spec.name));
    const size_t n = static_cast<size_t>(spec.arity < 0 ? -spec.arity : spec.arity);
    if (n > 1) {
      EXPECT_TRUE(IsArityError(RunOnStore(Line(spec.name, n - 1)), spec.name));
    }
    if (spec.arity > 0) {
      EXPECT_TRUE(IsArityError(RunOnStore(Line(spec.name, n + 1)), spec.name));
    }
    EXPECT_FALSE(IsArityError(RunOnStore(Line(spec.name, n)), spec.name));
    EXPECT_TRUE(spec.AcceptsArgc(n));
    EXPECT_FALSE(spec.AcceptsArgc(n - 1));
    EXPECT_EQ(spec.AcceptsArgc(n + 1), spec.arity < 0);
  }
  // In MULTI a Session refuses by the same table: the transaction is then aborted.
  std::unique_ptr<Store> store = NewMemoryStore(kA);
  Session session(StoreBackend(*store, [] { return int64_t{1000}; }));
  EXPECT_EQ(session.Execute({"MULTI"}), Reply::Status("OK"));
  EXPECT_EQ(session.Execute({"XLEN"}), ArityError("xlen"));
  EXPECT_EQ(session.Execute({"SMOVE", "a", "b"}), ArityError("smove"));
  EXPECT_EQ(session.Execute({"EXEC"}).str,
            "EXECABORT Transaction discarded because of previous errors.");
}

TEST(CommandTable, KeyPositionsAreRedis) {
  struct Keys {
    std::string_view name;
    int first, last, step;
  };
  for (const Keys& k :
       {Keys{"get", 1, 1, 1}, Keys{"dbsize", 0, 0, 0}, Keys{"mset", 1, -1, 2},
        Keys{"del", 1, -1, 1}, Keys{"smove", 1, 2, 1}, Keys{"watch", 1, -1, 1},
        Keys{"xadd", 1, 1, 1}, Keys{"xreadgroup", 0, 0, 0}, Keys{"keys", 0, 0, 0}}) {
    const CommandSpec* spec = FindStoreCommand(k.name);
    ASSERT_NE(spec, nullptr) << k.name;
    EXPECT_EQ(spec->first_key, k.first) << k.name;
    EXPECT_EQ(spec->last_key, k.last) << k.name;
    EXPECT_EQ(spec->step, k.step) << k.name;
  }
  EXPECT_EQ(FindStoreCommand("get")->flags, "readonly fast");
  EXPECT_EQ(FindStoreCommand("set")->flags, "write denyoom");
}

}  // namespace
}  // namespace cluster_sim
