// The store's command table: one row per command a Store runs, with Redis's metadata (as
// Redis's commands.def): the name, the arity, the flags and the key positions, and which
// part of the store runs it. The command engine checks arities and dispatches with it,
// LocalStreams and the stores route stream commands with it, Session checks what MULTI
// queues with it, and a RESP endpoint answers COMMAND from it (adding its own commands).
//
// A new command is one row here (kept sorted by name) plus its handler in the part that
// runs it; the engine refuses to compile while its handlers and its rows disagree.
// Constant data; thread-safe.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"

namespace cluster_sim {

// Which part of the store runs a command.
enum class CommandRunner {
  kEngine,   // CommandEngine, on the replicated keyspace (command_engine.h)
  kStreams,  // streams: region-local (local_streams.h) or replicated (the engine), as the
             // store is told (Store::SetStreamOptions)
  kSession,  // transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (session.h)
  kScript,   // Lua scripts: EVAL*, SCRIPT, on the replicated keyspace (scripting.h)
};

// True if a command line of `argc` arguments (the name included) fits `arity`.
constexpr bool ArityAllows(int arity, size_t argc) {
  const size_t n = static_cast<size_t>(arity < 0 ? -arity : arity);
  return arity < 0 ? argc >= n : argc == n;
}

struct CommandSpec {
  std::string_view name;   // lowercase
  int arity;               // N: exactly N arguments (name included); -N: at least N
  std::string_view flags;  // Redis's, space-separated: write readonly denyoom fast ...
  int first_key;           // Redis's legacy key range: argv[first_key..last_key] every
  int last_key;            // `step`; last_key -1 is the last argument; 0 0 0: no keys
  int step;
  CommandRunner runner = CommandRunner::kEngine;
  // False: COMMAND (and COMMAND COUNT, INFO, DOCS, GETKEYS) on a RESP endpoint does not
  // list the command, though it runs (as before the table was shared).
  bool listed = true;

  constexpr bool AcceptsArgc(size_t argc) const { return ArityAllows(arity, argc); }
  // True if `flag` is one of the words of `flags`.
  constexpr bool HasFlag(std::string_view flag) const {
    for (size_t i = 0; i < flags.size();) {
      size_t j = flags.find(' ', i);
      if (j == std::string_view::npos) j = flags.size();
      if (flags.substr(i, j - i) == flag) return true;
      i = j + 1;
    }
    return false;
  }
};

// Sorted by name (command_table.cc checks it at compile time).
inline constexpr CommandSpec kStoreCommands[] = {
    {"append", 3, "write denyoom fast", 1, 1, 1},
    {"bc.decrby", 3, "write denyoom fast", 1, 1, 1},  // aasim: bounded counter (escrow)
    {"bc.get", 2, "readonly fast", 1, 1, 1},
    {"bc.incrby", 3, "write denyoom fast", 1, 1, 1},
    {"bc.rights", 2, "readonly fast", 1, 1, 1},
    {"bc.transfer", 4, "write denyoom fast", 1, 1, 1},
    {"bitcount", -2, "readonly", 1, 1, 1},
    {"bitfield", -2, "write denyoom", 1, 1, 1},
    {"bitfield_ro", -2, "readonly fast", 1, 1, 1},
    {"bitop", -4, "write denyoom", 2, -1, 1},
    {"bitpos", -3, "readonly", 1, 1, 1},
    {"blmove", 6, "write denyoom noscript blocking", 1, 2, 1},
    {"blmpop", -5, "write blocking movablekeys", 0, 0, 0},
    {"blpop", -3, "write noscript blocking", 1, -2, 1},
    {"brpop", -3, "write noscript blocking", 1, -2, 1},
    {"brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1},
    {"bzmpop", -5, "write blocking movablekeys", 0, 0, 0},
    {"bzpopmax", -3, "write noscript blocking fast", 1, -2, 1},
    {"bzpopmin", -3, "write noscript blocking fast", 1, -2, 1},
    {"copy", -3, "write denyoom", 1, 2, 1},
    {"dbsize", 1, "readonly fast", 0, 0, 0},
    {"decr", 2, "write denyoom fast", 1, 1, 1},
    {"decrby", 3, "write denyoom fast", 1, 1, 1},
    {"del", -2, "write", 1, -1, 1},
    {"discard", 1, "noscript loading stale fast", 0, 0, 0, CommandRunner::kSession},
    {"echo", 2, "fast", 0, 0, 0},
    {"eval", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale movablekeys", 0, 0, 0,
     CommandRunner::kScript},
    {"eval_ro", -3, "readonly noscript skip_monitor no_mandatory_keys stale movablekeys", 0, 0, 0,
     CommandRunner::kScript},
    {"evalsha", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale movablekeys", 0, 0,
     0, CommandRunner::kScript},
    {"evalsha_ro", -3, "readonly noscript skip_monitor no_mandatory_keys stale movablekeys", 0, 0,
     0, CommandRunner::kScript},
    {"exec", 1, "noscript loading stale skip_slowlog", 0, 0, 0, CommandRunner::kSession},
    {"exists", -2, "readonly fast", 1, -1, 1},
    {"expire", -3, "write fast", 1, 1, 1},
    {"expireat", -3, "write fast", 1, 1, 1},
    {"expiretime", 2, "readonly fast", 1, 1, 1},
    {"flushall", -1, "write", 0, 0, 0},
    {"flushdb", -1, "write", 0, 0, 0},
    {"geoadd", -5, "write denyoom", 1, 1, 1},
    {"geodist", -4, "readonly", 1, 1, 1},
    {"geohash", -2, "readonly", 1, 1, 1},
    {"geopos", -2, "readonly", 1, 1, 1},
    {"georadius", -6, "write denyoom movablekeys", 1, 1, 1},
    {"georadius_ro", -6, "readonly", 1, 1, 1},
    {"georadiusbymember", -5, "write denyoom movablekeys", 1, 1, 1},
    {"georadiusbymember_ro", -5, "readonly", 1, 1, 1},
    {"geosearch", -7, "readonly", 1, 1, 1},
    {"geosearchstore", -8, "write denyoom", 1, 2, 1},
    {"get", 2, "readonly fast", 1, 1, 1},
    {"getbit", 3, "readonly fast", 1, 1, 1},
    {"getdel", 2, "write fast", 1, 1, 1},
    {"getex", -2, "write fast", 1, 1, 1},
    {"getrange", 4, "readonly", 1, 1, 1},
    {"getset", 3, "write denyoom fast", 1, 1, 1},
    {"hdel", -3, "write fast", 1, 1, 1},
    {"hexists", 3, "readonly fast", 1, 1, 1},
    {"hget", 3, "readonly fast", 1, 1, 1},
    {"hgetall", 2, "readonly", 1, 1, 1},
    {"hincrby", 4, "write denyoom fast", 1, 1, 1},
    {"hincrbyfloat", 4, "write denyoom fast", 1, 1, 1},
    {"hkeys", 2, "readonly", 1, 1, 1},
    {"hlen", 2, "readonly fast", 1, 1, 1},
    {"hmget", -3, "readonly fast", 1, 1, 1},
    {"hmset", -4, "write denyoom fast", 1, 1, 1},
    {"hrandfield", -2, "readonly random", 1, 1, 1},
    {"hscan", -3, "readonly random", 1, 1, 1},
    {"hset", -4, "write denyoom fast", 1, 1, 1},
    {"hsetnx", 4, "write denyoom fast", 1, 1, 1},
    {"hstrlen", 3, "readonly fast", 1, 1, 1},
    {"hvals", 2, "readonly", 1, 1, 1},
    {"incr", 2, "write denyoom fast", 1, 1, 1},
    {"incrby", 3, "write denyoom fast", 1, 1, 1},
    {"incrbyfloat", 3, "write denyoom fast", 1, 1, 1},
    {"keys", 2, "readonly", 0, 0, 0},
    {"lcs", -3, "readonly", 1, 2, 1},
    {"lindex", 3, "readonly", 1, 1, 1},
    {"linsert", 5, "write denyoom", 1, 1, 1},
    {"llen", 2, "readonly fast", 1, 1, 1},
    {"lmove", 5, "write denyoom", 1, 2, 1},
    {"lmpop", -4, "write movablekeys", 0, 0, 0},
    {"lpop", -2, "write fast", 1, 1, 1},
    {"lpos", -3, "readonly", 1, 1, 1},
    {"lpush", -3, "write denyoom fast", 1, 1, 1},
    {"lpushx", -3, "write denyoom fast", 1, 1, 1},
    {"lrange", 4, "readonly", 1, 1, 1},
    {"lrem", 4, "write", 1, 1, 1},
    {"lset", 4, "write denyoom", 1, 1, 1},
    {"ltrim", 4, "write", 1, 1, 1},
    {"mget", -2, "readonly fast", 1, -1, 1},
    {"mset", -3, "write denyoom", 1, -1, 2},
    {"msetnx", -3, "write denyoom", 1, -1, 2},
    {"multi", 1, "noscript loading stale fast", 0, 0, 0, CommandRunner::kSession},
    {"object", -2, "", 0, 0, 0},
    {"persist", 2, "write fast", 1, 1, 1},
    {"pexpire", -3, "write fast", 1, 1, 1},
    {"pexpireat", -3, "write fast", 1, 1, 1},
    {"pexpiretime", 2, "readonly fast", 1, 1, 1},
    {"pfadd", -2, "write denyoom fast", 1, 1, 1},
    {"pfcount", -2, "readonly", 1, -1, 1},
    {"pfmerge", -2, "write denyoom", 1, -1, 1},
    {"ping", -1, "fast", 0, 0, 0},
    {"psetex", 4, "write denyoom", 1, 1, 1},
    {"pttl", 2, "readonly fast", 1, 1, 1},
    {"randomkey", 1, "readonly random", 0, 0, 0},
    {"rename", 3, "write", 1, 2, 1},
    {"renamenx", 3, "write fast", 1, 2, 1},
    {"rpop", -2, "write fast", 1, 1, 1},
    {"rpoplpush", 3, "write denyoom", 1, 2, 1},
    {"rpush", -3, "write denyoom fast", 1, 1, 1},
    {"rpushx", -3, "write denyoom fast", 1, 1, 1},
    {"sadd", -3, "write denyoom fast", 1, 1, 1},
    {"scan", -2, "readonly random", 0, 0, 0},
    {"scard", 2, "readonly fast", 1, 1, 1},
    {"script", -2, "noscript", 0, 0, 0, CommandRunner::kScript},
    {"sdiff", -2, "readonly", 1, -1, 1},
    {"sdiffstore", -3, "write denyoom", 1, -1, 1},
    {"set", -3, "write denyoom", 1, 1, 1},
    {"setbit", 4, "write denyoom", 1, 1, 1},
    {"setex", 4, "write denyoom", 1, 1, 1},
    {"setnx", 3, "write denyoom fast", 1, 1, 1},
    {"setrange", 4, "write denyoom", 1, 1, 1},
    {"sinter", -2, "readonly", 1, -1, 1},
    {"sintercard", -3, "readonly movablekeys", 0, 0, 0},
    {"sinterstore", -3, "write denyoom", 1, -1, 1},
    {"sismember", 3, "readonly fast", 1, 1, 1},
    {"smembers", 2, "readonly", 1, 1, 1},
    {"smismember", -3, "readonly fast", 1, 1, 1},
    {"smove", 4, "write fast", 1, 2, 1},
    {"sort", -2, "write denyoom movablekeys", 1, 1, 1},
    {"sort_ro", -2, "readonly movablekeys", 1, 1, 1},
    {"spop", -2, "write fast", 1, 1, 1},
    {"srandmember", -2, "readonly random", 1, 1, 1},
    {"srem", -3, "write fast", 1, 1, 1},
    {"sscan", -3, "readonly random", 1, 1, 1},
    {"strlen", 2, "readonly fast", 1, 1, 1},
    {"substr", 4, "readonly", 1, 1, 1},
    {"sunion", -2, "readonly", 1, -1, 1},
    {"sunionstore", -3, "write denyoom", 1, -1, 1},
    {"time", 1, "loading stale fast random", 0, 0, 0},
    {"touch", -2, "readonly fast", 1, -1, 1},
    {"ttl", 2, "readonly fast", 1, 1, 1},
    {"type", 2, "readonly fast", 1, 1, 1},
    {"unlink", -2, "write fast", 1, -1, 1},
    {"unwatch", 1, "noscript loading stale fast", 0, 0, 0, CommandRunner::kSession},
    {"wait", 3, "noscript", 0, 0, 0},
    {"watch", -2, "noscript loading stale fast", 1, -1, 1, CommandRunner::kSession},
    {"xack", -4, "write fast", 1, 1, 1, CommandRunner::kStreams},
    {"xadd", -5, "write denyoom fast", 1, 1, 1, CommandRunner::kStreams},
    {"xdel", -3, "write fast", 1, 1, 1, CommandRunner::kStreams},
    {"xgroup", -2, "", 0, 0, 0, CommandRunner::kStreams},
    {"xlen", 2, "readonly fast", 1, 1, 1, CommandRunner::kStreams},
    {"xpending", -3, "readonly", 1, 1, 1, CommandRunner::kStreams},
    {"xrange", -4, "readonly", 1, 1, 1, CommandRunner::kStreams},
    {"xread", -4, "readonly blocking movablekeys", 0, 0, 0, CommandRunner::kStreams},
    {"xreadgroup", -7, "write blocking movablekeys", 0, 0, 0, CommandRunner::kStreams},
    {"xrevrange", -4, "readonly", 1, 1, 1, CommandRunner::kStreams},
    {"xtrim", -4, "write", 1, 1, 1, CommandRunner::kStreams},
    {"zadd", -4, "write denyoom fast", 1, 1, 1},
    {"zcard", 2, "readonly fast", 1, 1, 1},
    {"zcount", 4, "readonly fast", 1, 1, 1},
    {"zdiff", -3, "readonly movablekeys", 0, 0, 0},
    {"zdiffstore", -4, "write denyoom movablekeys", 1, 1, 1},
    {"zincrby", 4, "write denyoom fast", 1, 1, 1},
    {"zinter", -3, "readonly movablekeys", 0, 0, 0},
    {"zintercard", -3, "readonly movablekeys", 0, 0, 0},
    {"zinterstore", -4, "write denyoom movablekeys", 1, 1, 1},
    {"zlexcount", 4, "readonly fast", 1, 1, 1},
    {"zmpop", -4, "write movablekeys", 0, 0, 0},
    {"zmscore", -3, "readonly fast", 1, 1, 1},
    {"zpopmax", -2, "write fast", 1, 1, 1},
    {"zpopmin", -2, "write fast", 1, 1, 1},
    {"zrandmember", -2, "readonly", 1, 1, 1},
    {"zrange", -4, "readonly", 1, 1, 1},
    {"zrangebylex", -4, "readonly", 1, 1, 1},
    {"zrangebyscore", -4, "readonly", 1, 1, 1},
    {"zrangestore", -5, "write denyoom", 1, 2, 1},
    {"zrank", 3, "readonly fast", 1, 1, 1},
    {"zrem", -3, "write fast", 1, 1, 1},
    {"zremrangebylex", 4, "write", 1, 1, 1},
    {"zremrangebyrank", 4, "write", 1, 1, 1},
    {"zremrangebyscore", 4, "write", 1, 1, 1},
    {"zrevrange", -4, "readonly", 1, 1, 1},
    {"zrevrangebylex", -4, "readonly", 1, 1, 1},
    {"zrevrangebyscore", -4, "readonly", 1, 1, 1},
    {"zrevrank", 3, "readonly fast", 1, 1, 1},
    {"zscan", -3, "readonly", 1, 1, 1},
    {"zscore", 3, "readonly fast", 1, 1, 1},
    {"zunion", -3, "readonly movablekeys", 0, 0, 0},
    {"zunionstore", -4, "write denyoom movablekeys", 1, 1, 1},
};

// The row of `name` (any case); null if the store does not know the command.
const CommandSpec* FindStoreCommand(std::string_view name);

// Calls fn(argv[i]) for each argument in the command's legacy key range (first_key..last_key
// every step; none for 0 0 0). REQUIRES: spec.AcceptsArgc(argv.size()).
template <typename Fn>
void ForEachRangeKey(const CommandSpec& spec, const std::vector<std::string>& argv, Fn&& fn) {
  if (spec.first_key <= 0 || spec.step <= 0) return;
  const int argc = static_cast<int>(argv.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.step) {
    fn(argv[static_cast<size_t>(i)]);
  }
}

// The indexes in argv of the keys the command may create or change, in argv's order (the
// keys it only reads are not among them): a write row's legacy key range, except where the
// range also names sources (BITOP's and the *STORE commands': the destination alone; COPY's
// destination; SORT's and GEORADIUS[BYMEMBER]'s source key is read, and every argument
// after a STORE or STOREDIST word is taken as their movable destination, a superset found
// without parsing the rest); the movable pops' (LMPOP, ZMPOP and their blocking forms)
// numkeys keys; XREADGROUP's stream keys (it writes their pending lists); XGROUP's key (a
// row without flags: its subcommands write). A malformed command (numkeys not a count of
// the arguments there) gives no index: it is refused by its own error when it runs.
// REQUIRES: spec.AcceptsArgc(argv.size()).
std::vector<size_t> WrittenKeys(const CommandSpec& spec, const std::vector<std::string>& argv);

// The first of WrittenKeys' keys that match(key) accepts; null if none.
template <typename Match>
const std::string* FindWrittenKey(const CommandSpec& spec, const std::vector<std::string>& argv,
                                  Match&& match) {
  for (size_t i : WrittenKeys(spec, argv)) {
    if (match(std::string_view(argv[i]))) return &argv[i];
  }
  return nullptr;
}

// A subcommand of a container command, as Redis 7.0's table has it (commands.def): its
// arity counts the command and the subcommand (CONFIG GET's -3: at least one pattern).
struct SubcommandSpec {
  std::string_view command;  // lowercase: "client"
  std::string_view name;     // lowercase: "setname"
  int arity;                 // as CommandSpec::arity
};

// Redis 7.0's subcommands of CLIENT, COMMAND, CONFIG, OBJECT, PUBSUB, SCRIPT and XGROUP
// (the container commands aasim answers), every one Redis knows, including those aasim
// does not provide (CLIENT KILL, XGROUP SETID, ...). Sorted by command, then name.
inline constexpr SubcommandSpec kSubcommands[] = {
    {"client", "caching", 3},
    {"client", "getname", 2},
    {"client", "getredir", 2},
    {"client", "help", 2},
    {"client", "id", 2},
    {"client", "info", 2},
    {"client", "kill", -3},
    {"client", "list", -2},
    {"client", "no-evict", 3},
    {"client", "pause", -3},
    {"client", "reply", 3},
    {"client", "setname", 3},
    {"client", "tracking", -3},
    {"client", "trackinginfo", 2},
    {"client", "unblock", -3},
    {"client", "unpause", 2},
    {"command", "count", 2},
    {"command", "docs", -2},
    {"command", "getkeys", -4},
    {"command", "getkeysandflags", -4},
    {"command", "help", 2},
    {"command", "info", -2},
    {"command", "list", -2},
    {"config", "get", -3},
    {"config", "help", 2},
    {"config", "resetstat", 2},
    {"config", "rewrite", 2},
    {"config", "set", -4},
    {"object", "encoding", 3},
    {"object", "freq", 3},
    {"object", "help", 2},
    {"object", "idletime", 3},
    {"object", "refcount", 3},
    {"pubsub", "channels", -2},
    {"pubsub", "help", 2},
    {"pubsub", "numpat", 2},
    {"pubsub", "numsub", -2},
    {"pubsub", "shardchannels", -2},
    {"pubsub", "shardnumsub", -2},
    {"script", "debug", 3},
    {"script", "exists", -3},
    {"script", "flush", -2},
    {"script", "help", 2},
    {"script", "kill", 2},
    {"script", "load", 3},
    {"xgroup", "create", -5},
    {"xgroup", "createconsumer", 5},
    {"xgroup", "delconsumer", 5},
    {"xgroup", "destroy", 4},
    {"xgroup", "help", 2},
    {"xgroup", "setid", -5},
};

// The row of subcommand `sub` (any case) of `command` (lowercase); null if Redis 7.0 does
// not know it (or `command` has no subcommands).
const SubcommandSpec* FindSubcommand(std::string_view command, std::string_view sub);
// True if `command` (lowercase) has rows in kSubcommands.
bool HasSubcommands(std::string_view command);

// Redis 7.0's check of a container command's subcommand (processCommand, before the
// command runs): nullopt if argv[1] is a subcommand of `command` (lowercase) whose
// argument count fits its arity (it may still be one aasim does not provide: the caller
// replies to it); else the error reply: UnknownSubcommand(argv[1], COMMAND) for one Redis
// does not know, ArityError("command|sub") for a wrong count.
// REQUIRES: argv.size() >= 2.
std::optional<Reply> CheckSubcommand(std::string_view command,
                                     const std::vector<std::string>& argv);

// Redis 7's error replies for a command line the table refuses:
// "ERR wrong number of arguments for 'get' command" (`name` as given, written lowercase),
// and "ERR unknown command 'FOO', with args beginning with: 'a' 'b' " (server.c
// processCommand: the name up to 128 bytes, each argument quoted while the list is under
// 128 bytes; CR and LF become spaces). REQUIRES (UnknownCommand): !argv.empty().
Reply ArityError(std::string_view name);
Reply UnknownCommand(const std::vector<std::string>& argv);

// `text` with CR and LF as spaces: an error reply is one line (Redis's
// addReplyErrorFormat). The store's and the scripts' error texts that hold a client's
// bytes go through it.
std::string OneLine(std::string_view text);

// A client's argument as Redis's "%.<max>s" writes it into an error text: at most `max`
// bytes, and only up to its first NUL byte (a C string ends there).
std::string_view ErrorArg(std::string_view arg, size_t max = 128);
// "ERR unknown subcommand 'SUB'. Try CMD HELP." (a subcommand Redis does not know) and
// "ERR unknown subcommand or wrong number of arguments for 'SUB'. Try CMD HELP." (Redis's
// addReplySubcommandSyntaxError: a known one whose arguments do not fit); `sub` as
// ErrorArg writes it, CR and LF as spaces. `command` is written as given.
Reply UnknownSubcommand(std::string_view sub, std::string_view command);
Reply SubcommandSyntaxError(std::string_view sub, std::string_view command);
// The reply to `COMMAND HELP` in Redis's form (addReplyHelp): status lines, first
// "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" (`command` upper
// case), then `lines` (what aasim provides, in its own words), then HELP's own two lines.
Reply SubcommandHelp(std::string_view command, std::initializer_list<std::string_view> lines);

}  // namespace cluster_sim
