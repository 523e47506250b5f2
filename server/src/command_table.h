// The commands an endpoint knows, with Redis's metadata (arity, flags, key positions): what
// COMMAND returns (redis-cli and client libraries read it), and which commands the endpoint
// runs itself (Op). MULTI's queueing checks are cluster_sim::Session's (the command
// engine's arities); this table only adds the endpoint's own commands to them. A store
// command missing here still runs (the store answers); it only lacks COMMAND metadata.
#pragma once

#include <string_view>
#include <vector>

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
  kQuit,
  kReset,
  kSelect,
  kUnwatch,
  kWatch
};

struct CommandInfo {
  std::string_view name;   // lowercase
  int arity;               // N: exactly N arguments (name included); -N: at least N
  std::string_view flags;  // space-separated: write readonly fast admin noscript loading ...
  int first_key, last_key, step;
  Op op = Op::kStore;
};

const std::vector<CommandInfo>& CommandTable();
// Case-insensitive lookup; null if unknown.
const CommandInfo* FindCommand(std::string_view name);

}  // namespace server
