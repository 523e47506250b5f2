// The commands an endpoint knows, with Redis's metadata (arity, flags, key positions): what
// COMMAND returns (redis-cli and client libraries read it), and which commands the endpoint
// runs itself (Op). The store's commands and their metadata are the store's command table
// (cluster_sim/command_table.h); this table adds the endpoint's own commands and says which
// store commands the endpoint answers itself (PING, ECHO, the transaction commands). A
// store row that is not `listed` runs but is left out of COMMAND.
#pragma once

#include <string_view>
#include <vector>

#include "cluster_sim/command_table.h"

namespace server {

// Who runs a command: the store (through the Backend), or the endpoint itself.
enum class Op {
  kStore,
  kAasim,
  kAuth,
  kClient,
  kCommand,
  kConfig,
  kDiscard,
  kEcho,
  kExec,
  kHello,
  kInfo,
  kMulti,
  kPing,
  kPsubscribe,
  kPublish,
  kPubsub,
  kPunsubscribe,
  kQuit,
  kReset,
  kSelect,
  kSubscribe,
  kUnsubscribe,
  kUnwatch,
  kWatch
};

// A store row (its `runner` says which part of the store runs it) or an endpoint row
// (`runner` means nothing), and who answers it on the endpoint.
struct CommandInfo : cluster_sim::CommandSpec {
  Op op = Op::kStore;
};

// Every command COMMAND lists, sorted by name.
const std::vector<CommandInfo>& CommandTable();
// Case-insensitive lookup; null if unknown.
const CommandInfo* FindCommand(std::string_view name);

}  // namespace server
