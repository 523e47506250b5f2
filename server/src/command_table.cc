#include "command_table.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "cluster_sim/name_index.h"
#include "cluster_sim/strings.h"

namespace server {
namespace {

using cluster_sim::CommandSpec;

// The endpoint's own commands (server.cc).
constexpr CommandInfo kEndpointCommands[] = {
    {{"aasim", -2, "admin noscript", 0, 0, 0}, Op::kAasim},
    {{"auth", -2, "noscript loading stale fast no_auth", 0, 0, 0}, Op::kAuth},
    {{"client", -2, "admin noscript loading stale", 0, 0, 0}, Op::kClient},
    {{"command", -1, "loading stale", 0, 0, 0}, Op::kCommand},
    {{"config", -2, "admin noscript loading stale", 0, 0, 0}, Op::kConfig},
    {{"hello", -1, "noscript loading stale fast no_auth", 0, 0, 0}, Op::kHello},
    {{"info", -1, "loading stale", 0, 0, 0}, Op::kInfo},
    {{"psubscribe", -2, "pubsub noscript loading stale", 0, 0, 0}, Op::kPsubscribe},
    {{"publish", 3, "pubsub loading stale fast may_replicate", 0, 0, 0}, Op::kPublish},
    {{"pubsub", -2, "pubsub loading stale", 0, 0, 0}, Op::kPubsub},
    {{"punsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0}, Op::kPunsubscribe},
    {{"quit", -1, "noscript loading stale fast no_auth", 0, 0, 0}, Op::kQuit},
    {{"reset", 1, "noscript loading stale fast no_auth", 0, 0, 0}, Op::kReset},
    {{"select", 2, "loading stale fast", 0, 0, 0}, Op::kSelect},
    {{"subscribe", -2, "pubsub noscript loading stale", 0, 0, 0}, Op::kSubscribe},
    {{"unsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0}, Op::kUnsubscribe},
};

// Store commands the endpoint answers itself (their metadata is the store's).
constexpr std::pair<std::string_view, Op> kAnsweredByEndpoint[] = {
    {"discard", Op::kDiscard}, {"echo", Op::kEcho}, {"exec", Op::kExec},
    {"multi", Op::kMulti},     {"ping", Op::kPing}, {"unwatch", Op::kUnwatch},
    {"watch", Op::kWatch},
};

}  // namespace

const std::vector<CommandInfo>& CommandTable() {
  static const std::vector<CommandInfo> kTable = [] {
    std::vector<CommandInfo> t(std::begin(kEndpointCommands), std::end(kEndpointCommands));
    for (const CommandSpec& spec : cluster_sim::kStoreCommands) {
      if (!spec.listed) continue;
      Op op = Op::kStore;
      for (const auto& [name, endpoint_op] : kAnsweredByEndpoint) {
        if (name == spec.name) op = endpoint_op;
      }
      t.push_back(CommandInfo{spec, op});
    }
    std::sort(t.begin(), t.end(),
              [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; });
    return t;
  }();
  return kTable;
}

const CommandInfo* FindCommand(std::string_view name) {
  const auto& t = CommandTable();
  static const cluster_sim::NameIndex kIndex = [&t] {
    std::vector<std::string_view> names;
    for (const CommandInfo& c : t) names.push_back(c.name);
    return cluster_sim::NameIndex(names);
  }();
  int i = kIndex.Find(name);
  return i < 0 ? nullptr : &t[static_cast<size_t>(i)];
}

}  // namespace server
