// CommandEngine: runs Redis commands on a crdt::Keyspace with Redis 7's replies and error
// texts and the Active/Active meaning of docs/active-active.md (and README, "Commands and
// their Active/Active meaning"). The engine is what turns a command into a CRDT mutation: it checks
// arity, arguments and types exactly where Redis does, calls the Keyspace mutators, and records
// each write's effect into a delta (Keyspace::NewDelta()) that the store ships to peers.
//
// Contract:
// - A read never records an effect. A write records one only when it changed this
//   region's view (SREM of an absent member, DEL of an absent key, HDEL of an absent
//   field, a refused INCR: nothing). Writes that always make a new event (SET, HSET, SADD
//   of a member already present, INCRBY 0) always record one: in an observed-remove,
//   add-wins set an SADD concurrent with an SREM elsewhere must survive it, even when
//   the adding region already held the member.
// - Error replies (arity, syntax, WRONGTYPE, not an integer) change nothing.
// - Deterministic: no clock but `wall_clock_us`, sorted output wherever Redis's order
//   would depend on a hash table (SMEMBERS, HGETALL, KEYS).
//
// Which commands it runs, with which arity: the kEngine rows of the store's command table
// (command_table.h). Holds only the region names (for the BC.* commands, which name
// regions); one instance may serve any number of keyspaces. Not thread-safe (neither is a
// Keyspace).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/command_table.h"
#include "crdt/keyspace.h"

namespace cluster_sim {

class CommandEngine {
 public:
  CommandEngine() = default;
  // region_names[s]: the name of the region at site s (sites are numbered in name order).
  // Without them, BC.* commands call the region at site s "site<s>".
  explicit CommandEngine(std::vector<std::string> region_names)
      : regions_(std::move(region_names)) {}

  // Runs argv (argv[0] is the command name, any case; one the engine does not run gets
  // Redis's unknown-command error) on `ks` as replica ks.self(), whose wall clock reads
  // `wall_clock_us` (the last-write-wins timestamp of SET and HSET).
  // When the command wrote, its effect is joined into *delta (if non-null) and *wrote
  // (if non-null) is set to true; otherwise *delta is untouched and *wrote set to false.
  // REQUIRES: delta is null or a delta of ks (made by ks.NewDelta()), not ks itself.
  // The kStreams rows run here too (replicated streams, engine_stream.cc); a store that
  // keeps streams region-local sends them to LocalStreams instead.
  Reply Execute(crdt::Keyspace& ks, const std::vector<std::string>& argv, int64_t wall_clock_us,
                crdt::Keyspace* delta, bool* wrote) const;
  // The same, for a caller that looked the command up already. REQUIRES: argv non-empty and
  // spec == FindStoreCommand(argv[0]) (command_table.h; null for a name not in the table).
  Reply Execute(crdt::Keyspace& ks, const std::vector<std::string>& argv, int64_t wall_clock_us,
                crdt::Keyspace* delta, bool* wrote, const CommandSpec* spec) const;
  // XADD's id rules (crdt/stream.h); strict unless told.
  void SetStreamIdMode(crdt::StreamIdMode mode) { stream_id_mode_ = mode; }
  crdt::StreamIdMode stream_id_mode() const { return stream_id_mode_; }

 private:
  std::vector<std::string> regions_;
  crdt::StreamIdMode stream_id_mode_ = crdt::StreamIdMode::kStrict;
};

// Redis's glob matcher (util.c stringmatchlen, case-sensitive), as used by KEYS:
// `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal x.
bool GlobMatch(std::string_view pattern, std::string_view text);

// What XREAD's `$` stands for in `key`: the greatest id the stream at `key` has ever held,
// deleted entries included (Redis's last_id); 0-0 if `key` holds no stream. The engine's
// XREAD and a blocked XREAD's endpoint (Store::StreamLastId) both read it here.
crdt::StreamId StreamLastId(const crdt::Keyspace& ks, std::string_view key);

}  // namespace cluster_sim
