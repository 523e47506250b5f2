// Store: what a region keeps its data in, behind one interface so the embedded in-memory
// store and a real redis-server (a later backend) are interchangeable.
//
// A store runs Redis commands with Active/Active meaning (docs/active-active.md) and turns each
// write into an *effect*: an encoded crdt::Keyspace delta that the replicator ships to
// peers. Effects and full states merge in any order, any number of times.
// Contract: deterministic (same calls, same results); single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/status.h"
#include "crdt/dot.h"
#include "crdt/stream.h"

namespace cluster_sim {

class Store {
 public:
  virtual ~Store() = default;

  // Runs one command as replica `self` at the writer's wall clock `wall_clock_us`.
  // A write appends its effect to *effect (left empty by reads and refused writes).
  virtual Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                        std::string* effect) = 0;
  // Execute for a writer whose effects no one will receive (Replicator::needs_effects is
  // false): the store may skip making the effect; *wrote says whether the command wrote.
  // Default: Execute, the effect dropped.
  virtual Reply ExecuteWithoutEffect(const std::vector<std::string>& argv, int64_t wall_clock_us,
                                     bool* wrote) {
    std::string effect;
    Reply reply = Execute(argv, wall_clock_us, &effect);
    *wrote = !effect.empty();
    return reply;
  }
  // Held effects, for a writer that sends the writes of several commands to its peers as
  // ONE effect (`aasim serve`: the pipelined commands of one client read). ExecuteHeld runs
  // argv as Execute does, but joins a write's effect into the one the store holds instead
  // of returning it (*wrote says whether the command wrote), and returns true; false if
  // this store cannot hold effects now (it ran nothing: use Execute, after TakeHeld).
  // TakeHeld appends the held effect (one delta: the join of the held writes' effects) to
  // *effect (nothing if none) and holds nothing after. Default: never holds.
  virtual bool ExecuteHeld(const std::vector<std::string>& argv, int64_t wall_clock_us,
                           Reply* reply, bool* wrote) {
    (void)argv, (void)wall_clock_us, (void)reply, (void)wrote;
    return false;
  }
  virtual void TakeHeld(std::string* effect) { (void)effect; }
  // Runs commands as one atomic unit (MULTI/EXEC): one combined effect.
  virtual std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& commands,
                                          int64_t wall_clock_us, std::string* effect) = 0;
  // Key expiry (TTLs, crdt/expiry.h). The region whose entry won a key's TTL deletes the
  // key when it is due; any other region deletes it once kExpiryGraceUs more have passed
  // (the winner may be down or cut off); until then a due key only reads as absent.
  // NextExpiry: the wall-clock time (us) of the next such deletion here, or -1 if none.
  // ExpireDue: runs those due at `wall_clock_us` as one local write (observed-remove, as
  // DEL), its effect appended to *effect. Whoever runs the store calls ExpireDue when
  // NextExpiry says (the simulator schedules an event; the servers use a timer).
  static constexpr int64_t kExpiryGraceUs = 10'000'000;
  virtual int64_t NextExpiry() const { return -1; }
  virtual Status ExpireDue(int64_t wall_clock_us, std::string* effect) {
    (void)wall_clock_us;
    (void)effect;
    return Status::Ok();
  }
  // Merges a peer's effect or full state (both are encoded keyspaces).
  virtual Status Merge(std::string_view encoded) = 0;
  // A number that changes whenever a local write or a merged effect or full state touched
  // `key` (Redis WATCH semantics: any write, even one that leaves the same value; never a
  // read). Only equality of two readings means something. Used by Session (WATCH/EXEC).
  virtual uint64_t KeyVersion(std::string_view key) const = 0;
  // What XREAD's `$` stands for in `key` now (command_engine.h StreamLastId), as text
  // ("5-1"): a read outside the commands (no effect, no version moved), for an endpoint
  // that blocks an XREAD and must fix `$` before its first read. Default: "0-0" (a store
  // without replicated streams).
  virtual std::string StreamLastId(std::string_view key) const {
    (void)key;
    return "0-0";
  }
  // Merges effect number `seq` of the log of `origin` (a region name and incarnation, e.g.
  // "B#1"). A durable store records that progress atomically with the data; the default
  // just merges.
  virtual Status MergeFrom(std::string_view origin, uint64_t seq, std::string_view encoded) {
    (void)origin;
    (void)seq;
    return Merge(encoded);
  }
  // Waits until every merge so far is stored (a durable store may pipeline merges); an
  // error means some of them may be lost and must not be acknowledged.
  virtual Status Flush() { return Status::Ok(); }

  // Durable replication state (a durable store keeps it with the data; the in-memory
  // store keeps nothing): the last seq of the local log, the contiguous prefix of
  // `origin`'s log held here, the local effects numbered first..last still kept, and
  // dropping the effects up to `seq` (every peer holds them).
  virtual uint64_t LogHead() const { return 0; }
  virtual uint64_t Progress(std::string_view origin) const {
    (void)origin;
    return 0;
  }
  virtual Result<std::vector<std::pair<uint64_t, std::string>>> ReadLog(uint64_t first,
                                                                        uint64_t last) {
    (void)first;
    (void)last;
    return std::vector<std::pair<uint64_t, std::string>>();
  }
  virtual Status TrimLog(uint64_t seq) {
    (void)seq;
    return Status::Ok();
  }
  // The incarnation this data belongs to, kept with it by a durable store (0: none
  // recorded, a new or wiped store), so a restarted process resumes as the same incarnation
  // and a wiped one knows it must become a new one.
  virtual uint32_t SavedIncarnation() const { return 0; }
  virtual Status SaveIncarnation(uint32_t incarnation) {
    (void)incarnation;
    return Status::Ok();
  }
  // The full replicated state (for a full sync).
  virtual std::string FullState() const = 0;

  // Canonical value of one key ("(nil)" when absent) and of everything (sorted lines).
  virtual std::string Dump(std::string_view key) const = 0;
  virtual std::string DumpAll() const = 0;
  virtual std::vector<std::string> Keys() const = 0;

  // The region names in site order (names[s] is the region at site s; sites are numbered
  // in name order), for the commands that name regions (BC.TRANSFER, BC.RIGHTS, the
  // BC.DECRBY error). Whoever makes the store tells it once; they survive Wipe. Until
  // then such commands call the region at site s "site<s>".
  virtual void SetRegionNames(std::vector<std::string> names) { (void)names; }
  // Streams (README, "Streams"): replicated (a part of the keyspace, crdt/stream.h, with the
  // given XADD id mode) or region-local (never replicated, local_streams.h; the default, so
  // that what ran before keeps its results). Told once, before the first command; survives
  // Wipe.
  virtual void SetStreamOptions(bool replicate, crdt::StreamIdMode id_mode) {
    (void)replicate;
    (void)id_mode;
  }

  // Forget everything and continue as a new incarnation `self` (a crash that loses data).
  virtual void Wipe(crdt::ReplicaId self) = 0;
  // True if data survives a crash (a Redis with AOF); the in-memory store is not durable.
  virtual bool durable() const = 0;
  virtual crdt::ReplicaId self() const = 0;
  virtual size_t MemoryBytes() const = 0;
};

// Makes the store of region number `region` (its site) for replica `self`: how a simulation
// or a node is given a backend (default: NewMemoryStore).
using StoreFactory = std::function<std::unique_ptr<Store>(int region, crdt::ReplicaId self)>;

// The embedded in-memory store (crdt::Keyspace plus the command engine).
std::unique_ptr<Store> NewMemoryStore(crdt::ReplicaId self);

}  // namespace cluster_sim
