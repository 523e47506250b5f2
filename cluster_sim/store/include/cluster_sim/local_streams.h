// LocalStreams: region-local Redis streams with consumer groups (XADD, XLEN, XRANGE,
// XGROUP CREATE/DESTROY/CREATECONSUMER, XREADGROUP, XACK, XPENDING), the messaging half of the
// lending service (the book keeps messaging apart from data; docs/active-active.md, "Streams").
// A store runs them when it does not replicate streams (`streams: { replicate: false }`, the
// default of a scenario that does not say); replicated streams are the engine's
// (engine_stream.cc). XDEL, XREAD, XREVRANGE and XTRIM exist only for replicated streams.
//
// Contract:
// - Streams are NOT replicated: a stream command never produces an effect and streams are
//   not part of FullState, Dump or DumpAll, so they never make regions look divergent
//   and never change a run's digest. They live beside the Keyspace in the memory store
//   and are lost with it when a region crashes (Wipe).
// - Replies and error texts are Redis 7's (t_stream.c), so a Redis backend can forward
//   the same commands verbatim.
// - Entry ids come from the region's wall clock as in Redis: `<ms>-<seq>`, ms =
//   wall_clock_us / 1000 (never below the last id; a negative clock reads as 0).
// - XREADGROUP's BLOCK cannot wait in a simulation that is not running: it returns what
//   is there, or a nil reply when nothing is.
// - Deterministic; ordered containers only. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/command_table.h"
#include "crdt/stream.h"

namespace cluster_sim {

class LocalStreams {
 public:
  // True if the command of row `spec` (FindStoreCommand; null for a name not in the table)
  // is a stream command handled here: a kStreams row of the store's command table
  // (command_table.h), which also gives its arity.
  static bool Handles(const CommandSpec* spec) {
    return spec != nullptr && spec->runner == CommandRunner::kStreams;
  }

  // Runs a stream command. `taken(key)` is true when the replicated keyspace holds a
  // value under `key` (a stream command on it is WRONGTYPE). *touched (if non-null)
  // receives the keys whose stream or groups changed.
  // REQUIRES: Handles(FindStoreCommand(argv[0])).
  Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                const std::function<bool(std::string_view)>& taken,
                std::vector<std::string>* touched);

  bool Exists(std::string_view key) const { return streams_.count(key) > 0; }
  void Clear() { streams_.clear(); }

  using Id = crdt::StreamId;

 private:
  struct Pending {
    std::string consumer;
    int64_t delivery_ms = 0;
    uint64_t deliveries = 0;
  };
  struct Group {
    Id last_delivered;
    std::map<Id, Pending> pel;
    std::map<std::string, int64_t, std::less<>> consumers;  // name -> last seen (ms)
  };
  struct Stream {
    std::map<Id, std::vector<std::string>> entries;  // id -> field, value, ...
    Id last_id;
    std::map<std::string, Group, std::less<>> groups;
  };

  struct Call;
  Reply XAdd(Call& c);
  Reply XLen(Call& c);
  Reply XRange(Call& c);
  Reply XGroup(Call& c);
  Reply XReadGroup(Call& c);
  Reply XAck(Call& c);
  Reply XPending(Call& c);
  Stream* Find(std::string_view key);

  std::map<std::string, Stream, std::less<>> streams_;
};

}  // namespace cluster_sim
