#include "command_table.h"

#include <algorithm>

namespace server {

const std::vector<CommandInfo>& CommandTable() {
  static const std::vector<CommandInfo> kTable = [] {
    std::vector<CommandInfo> t = {
        // The store's commands (cluster_sim's command engine).
        {"dbsize", 1, "readonly fast", 0, 0, 0},
        {"decr", 2, "write denyoom fast", 1, 1, 1},
        {"decrby", 3, "write denyoom fast", 1, 1, 1},
        {"del", -2, "write", 1, -1, 1},
        {"exists", -2, "readonly fast", 1, -1, 1},
        {"get", 2, "readonly fast", 1, 1, 1},
        {"hdel", -3, "write fast", 1, 1, 1},
        {"hexists", 3, "readonly fast", 1, 1, 1},
        {"hget", 3, "readonly fast", 1, 1, 1},
        {"hgetall", 2, "readonly", 1, 1, 1},
        {"hincrby", 4, "write denyoom fast", 1, 1, 1},
        {"hkeys", 2, "readonly", 1, 1, 1},
        {"hlen", 2, "readonly fast", 1, 1, 1},
        {"hmget", -3, "readonly fast", 1, 1, 1},
        {"hmset", -4, "write denyoom fast", 1, 1, 1},
        {"hset", -4, "write denyoom fast", 1, 1, 1},
        {"hsetnx", 4, "write denyoom fast", 1, 1, 1},
        {"hvals", 2, "readonly", 1, 1, 1},
        {"incr", 2, "write denyoom fast", 1, 1, 1},
        {"incrby", 3, "write denyoom fast", 1, 1, 1},
        {"keys", 2, "readonly", 0, 0, 0},
        {"mget", -2, "readonly fast", 1, -1, 1},
        {"mset", -3, "write denyoom", 1, -1, 2},
        {"sadd", -3, "write denyoom fast", 1, 1, 1},
        {"scard", 2, "readonly fast", 1, 1, 1},
        {"set", -3, "write denyoom", 1, 1, 1},
        {"setnx", 3, "write denyoom fast", 1, 1, 1},
        {"sismember", 3, "readonly fast", 1, 1, 1},
        {"smembers", 2, "readonly", 1, 1, 1},
        {"smismember", -3, "readonly fast", 1, 1, 1},
        {"srem", -3, "write fast", 1, 1, 1},
        {"strlen", 2, "readonly fast", 1, 1, 1},
        {"type", 2, "readonly fast", 1, 1, 1},
        {"unlink", -2, "write fast", 1, -1, 1},
        // The endpoint's own commands (server.cc).
        {"aasim", -2, "admin noscript", 0, 0, 0, Op::kAasim},
        {"auth", -2, "noscript loading stale fast no_auth", 0, 0, 0, Op::kAuth},
        {"client", -2, "admin noscript loading stale", 0, 0, 0, Op::kClient},
        {"command", -1, "loading stale", 0, 0, 0, Op::kCommand},
        {"config", -2, "admin noscript loading stale", 0, 0, 0, Op::kConfig},
        {"discard", 1, "noscript loading stale fast", 0, 0, 0, Op::kDiscard},
        {"echo", 2, "fast", 0, 0, 0, Op::kEcho},
        {"exec", 1, "noscript loading stale skip_slowlog", 0, 0, 0, Op::kExec},
        {"hello", -1, "noscript loading stale fast no_auth", 0, 0, 0, Op::kHello},
        {"info", -1, "loading stale", 0, 0, 0, Op::kInfo},
        {"multi", 1, "noscript loading stale fast", 0, 0, 0, Op::kMulti},
        {"ping", -1, "fast", 0, 0, 0, Op::kPing},
        {"quit", -1, "noscript loading stale fast no_auth", 0, 0, 0, Op::kQuit},
        {"reset", 1, "noscript loading stale fast no_auth", 0, 0, 0, Op::kReset},
        {"select", 2, "loading stale fast", 0, 0, 0, Op::kSelect},
        {"unwatch", 1, "noscript loading stale fast", 0, 0, 0, Op::kUnwatch},
        {"watch", -2, "noscript loading stale fast", 1, -1, 1, Op::kWatch},
    };
    std::sort(t.begin(), t.end(),
              [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; });
    return t;
  }();
  return kTable;
}

const CommandInfo* FindCommand(std::string_view name) {
  if (name.size() > 32) return nullptr;
  char lower[32];
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view key(lower, name.size());
  const auto& t = CommandTable();
  auto it = std::lower_bound(t.begin(), t.end(), key,
                             [](const CommandInfo& c, std::string_view k) { return c.name < k; });
  if (it == t.end() || it->name != key) return nullptr;
  return &*it;
}

}  // namespace server
