// Scripts: a region's Lua scripting, as Redis 7 runs it: EVAL, EVALSHA, EVAL_RO,
// EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP, on one Lua 5.1 interpreter (the
// version Redis embeds) with Redis's `redis` library (call, pcall, error_reply,
// status_reply, setresp, sha1hex, log, ...), `KEYS`/`ARGV`, and the `cjson` and `bit` libraries.
//
// Contract:
// - Replies and error texts are Redis 7.0's (eval.c, script.c, script_lua.c), e.g.
//   "NOSCRIPT No matching script. Please use EVAL.", "ERR Error compiling script (new
//   function): user_script:1: ...", "ERR user_script:1: boom script: <sha1>, on
//   @user_script:1." Conversions both ways follow Redis's rules (integer -> number,
//   bulk -> string, nil -> false, array -> table, status -> {ok=...}, error -> {err=...};
//   number -> integer (truncated), false -> nil, true -> 1, {ok=..}/{err=..} -> status/error,
//   a table -> an array up to its first nil).
// - redis.setresp(3) (until the run ends; every run starts at 2) makes redis.call answer as
//   Redis 7 answers a RESP3 client (cluster_sim/resp3.h), in Redis's Lua forms: null ->
//   nil, map -> {map={k=v}}, set -> {set={m=true}}, double -> {double=n}; and the script's
//   booleans become RESP3 booleans (Reply::Bool). A returned {double=n}, {map=..},
//   {set=..} is a Reply::Double, Map, Set whatever the setresp ({big_number=..} and
//   {verbatim_string=..} a bulk, as a RESP2 client reads them). Any other setresp argument
//   fails with "RESP version must be 2 or 3.".
// - Sandbox as Redis 7.0's: only the base (without print, dofile, loadfile, getfenv,
//   setfenv, require, module, newproxy), string, table, math, cjson and bit libraries;
//   globals are read-only ("Attempt to modify a readonly table") and reading an unset
//   one fails ("Script attempted to access nonexistent global variable 'x'"), and so are
//   the library tables. math.random is Redis's: the same sequence at every script run.
// - Inside a script, commands run through the `Call` the caller passes (the region's
//   keyspace, so every write joins the caller's one effect). Refused as Redis refuses
//   them: commands flagged `noscript` (MULTI, EXEC, WATCH, EVAL*, SCRIPT: no nested
//   scripts, no transactions), XREADGROUP ... BLOCK, and writes from EVAL_RO/EVALSHA_RO.
// - A runaway script is stopped deterministically: every script run may execute at most
//   `instruction_budget` Lua VM instructions (counted by a lua_sethook count hook, never by
//   a clock). Past it the script is aborted with
//   "BUSY Script exceeded the instruction budget of N Lua instructions and was stopped
//   script: <sha1>, on @user_script:<line>." (pcall inside the script cannot catch it). As
//   with any script error in Redis, the writes it made before stay. Memory is capped too
//   (kMemoryLimitBytes; past it Lua fails with "not enough memory").
// - The script cache (SCRIPT LOAD, and every EVAL's body) belongs to this object: one per
//   region, never replicated, emptied by SCRIPT FLUSH.
// - redis.log writes nothing unless a log sink is set (deterministic output).
// Not thread-safe; deterministic (no clock, no global RNG), except what Lua itself derives
// from addresses: tostring() of a table or function, and pairs() over a table keyed by
// tables. Owns its lua_State.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/command_table.h"

namespace cluster_sim {

class Scripts {
 public:
  // Runs one command for redis.call / redis.pcall (its name and arity already checked
  // against the store's command table) and returns its reply.
  using Call = std::function<Reply(const std::vector<std::string>& argv)>;
  // Where redis.log lines go: Redis's level (0 debug .. 3 warning) and the message.
  using LogSink = std::function<void(int level, std::string_view message)>;

  static constexpr uint64_t kDefaultInstructionBudget = 100'000'000;
  static constexpr size_t kMemoryLimitBytes = size_t{256} << 20;

  explicit Scripts(uint64_t instruction_budget = kDefaultInstructionBudget);
  ~Scripts();
  Scripts(const Scripts&) = delete;
  Scripts& operator=(const Scripts&) = delete;

  // True if `name` (any case) is one of the commands Run answers: a kScript row of the
  // store's command table (command_table.h), which also gives its arity.
  static bool Handles(std::string_view name);
  // The same test on the command's row, for a caller that looked it up already
  // (FindStoreCommand; null for a name not in the table).
  static bool Handles(const CommandSpec* spec) {
    return spec != nullptr && spec->runner == CommandRunner::kScript;
  }
  // Runs EVAL / EVALSHA / EVAL_RO / EVALSHA_RO / SCRIPT argv (arity already checked by
  // the command table). `call` runs the script's commands; it is not used by SCRIPT.
  Reply Run(const std::vector<std::string>& argv, const Call& call);

  void set_log_sink(LogSink sink) { log_ = std::move(sink); }
  size_t cached_scripts() const;

  // The lowercase hex SHA-1 of `data` (what EVALSHA names a script by).
  static std::string Sha1Hex(std::string_view data);

  struct Lua;  // the interpreter and the cache (defined in scripting.cc only)

 private:
  std::unique_ptr<Lua> lua_;
  LogSink log_;
};

}  // namespace cluster_sim
