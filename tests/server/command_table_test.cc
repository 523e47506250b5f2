// The endpoint's command table (server/src/command_table.h): the store's listed rows with
// their metadata unchanged, plus the endpoint's own commands, which is what COMMAND,
// COMMAND COUNT/INFO/DOCS/GETKEYS report.
#include "command_table.h"

#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "cluster_sim/command_table.h"

namespace server {
namespace {

TEST(EndpointCommandTable, ListsTheStoreRowsAndTheEndpointsOwn) {
  const auto& table = CommandTable();
  std::set<std::string_view> names;
  for (const CommandInfo& c : table) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  // Every listed store command and the 16 of the endpoint.
  size_t listed = 0;
  for (const cluster_sim::CommandSpec& spec : cluster_sim::kStoreCommands) listed += spec.listed;
  EXPECT_EQ(table.size(), listed + 16u);
  for (const cluster_sim::CommandSpec& spec : cluster_sim::kStoreCommands) {
    const CommandInfo* c = FindCommand(spec.name);
    if (!spec.listed) {
      EXPECT_EQ(c, nullptr) << spec.name;
      continue;
    }
    ASSERT_NE(c, nullptr) << spec.name;
    EXPECT_EQ(c->arity, spec.arity) << spec.name;
    EXPECT_EQ(c->flags, spec.flags) << spec.name;
    EXPECT_EQ(c->first_key, spec.first_key) << spec.name;
    EXPECT_EQ(c->last_key, spec.last_key) << spec.name;
    EXPECT_EQ(c->step, spec.step) << spec.name;
  }
}

TEST(EndpointCommandTable, WhoAnswers) {
  EXPECT_EQ(FindCommand("GET")->op, Op::kStore);
  EXPECT_EQ(FindCommand("ping")->op, Op::kPing);
  EXPECT_EQ(FindCommand("Echo")->op, Op::kEcho);
  EXPECT_EQ(FindCommand("multi")->op, Op::kMulti);
  EXPECT_EQ(FindCommand("WATCH")->op, Op::kWatch);
  EXPECT_EQ(FindCommand("auth")->op, Op::kAuth);
  EXPECT_EQ(FindCommand("auth")->flags, "noscript loading stale fast no_auth");
  EXPECT_EQ(FindCommand("xadd")->op, Op::kStore);  // listed, as Redis lists it
  EXPECT_EQ(FindCommand("nosuch"), nullptr);
}

}  // namespace
}  // namespace server
