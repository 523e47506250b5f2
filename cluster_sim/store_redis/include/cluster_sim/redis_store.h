// RedisStore: a region's data in a real redis-server, behind the Store interface.
//
// The store is a KeyspaceStore (keyspace_store.h), as the in-memory store is: a working
// copy of the region's crdt::Keyspace, loaded from Redis when it opens, run by the same
// CommandEngine, so every command (and every reply) is exactly the in-memory store's, but
// for a write to a key under the metadata prefix, which this store refuses (below). What
// is Redis's is the persistence hook: committing writes and merges, and the streams. Redis is the
// source of truth: every change is committed with ONE `EVALSHA` of the commit script (kCommitScript
// in redis_store.cc, loaded with SCRIPT LOAD, reloaded on NOSCRIPT) that writes, atomically,
//   - each touched key's native value, exactly as Redis shows it: a counter or register
//     is a string (`GET foo` -> "25"), a bounded counter the string of its value, a set a
//     Redis set, a hash a Redis hash, a deleted key is deleted;
//   - each touched key's CRDT metadata, the keyspace's causal context;
//   - a local write's effect appended to the region's replication log (a stream), or the
//     per-origin progress of applied peer effects.
// A local write is acknowledged only after its script returned (with `appendfsync
// always`, after it is on disk), unless write-behind is on (below). Merges of peer effects are
// batched (several effects per script call) and pipelined; Flush() waits for them (the simulator
// calls it before it acknowledges an effect to its sender). Each script call carries every key
// changed since the previous one together with the causal context, so Redis always holds a
// consistent snapshot: a context never covers a change that is not stored.
//
// Key layout under `prefix` (default "aasim"; README "Redis backend"):
//   <key>                 native value (string / set / hash), the user's own key name
//   <prefix>:m:<bucket>   hash: field = key, value = the key's encoded crdt::KeyValue
//                         with every optional part (KeyValue::Encode kKnownParts);
//                         bucket = FNV-1a(key) mod `buckets` (small hashes: listpack)
//   <prefix>:cc           string: the encoded causal context of the whole keyspace
//   <prefix>:log          stream: ID <seq>-0, field "e" = encoded effect (local writes)
//   <prefix>:progress     hash: field = origin region, value = last applied seq
//   <prefix>:meta         hash: "seq" = last local log seq
// So the keys under `<prefix>:` are aasim's: a command that may write one is refused before
// it runs (MayWrite; KeyspaceStore, "Writes a store refuses"). One that a peer wrote (a node
// on the in-memory store, or with another prefix) is merged and kept as any key, with its
// metadata but no native value (which would overwrite aasim's own key).
// Replicated streams (Store::SetStreamOptions) are keyspace values like the others: their
// native value is a Redis stream of the region's merged entries (one entry per id), with
// the last id and the visible groups (at the id up to which the group is acknowledged,
// replicated); the pending lists and consumers stay in the working copy only. Region-local streams
// (the default): stream commands (X...) run on the server and make no effect. Those the memory
// store knows (local_streams.h) reply as it does: XADD `*` ids come from the virtual wall clock
// (one Lua script reads the last id and adds the entry), XREADGROUP's BLOCK is dropped so it never
// waits, and they run inside ExecuteBatch in their place and move KeyVersion as LocalStreams
// reports changes. Other X... commands are sent as they are, but for those that would
// change a stream under the metadata prefix (refused, as above: XSETID or XCLAIM of the log).
//
// Failures: a dropped connection is reconnected with bounded backoff (and the working
// copy reloaded from Redis, which may have restarted); a Redis that stays down makes every
// command fail with a CLUSTERDOWN error naming the region and the address, and Merge
// and Flush return Unavailable (the simulator then does not acknowledge, so the sender
// retransmits later). Nothing acknowledged is ever lost silently.
//
// Write-behind (options.write_behind > 0, for the simulator only): commits are sent
// pipelined and their replies read when `write_behind` of them are outstanding, before any
// other exchange with the server, and when the store closes. A write is acknowledged by
// the simulator before Redis confirmed it; that is sound because the simulator's clock is
// virtual (what its acknowledgement promises is checked when the replies are read, not
// when the write ran) and because a failed write-behind commit is never papered over: the
// store stays down from then on (it does not reload the copy Redis lacks), every later
// command answers CLUSTERDOWN with the reason, and on_write_behind_failure reports it so
// the run can fail loudly. `aasim serve` and `aasim node` keep write_behind = 0: a real
// client's OK means the data is in Redis.
//
// Not thread-safe; one connection per store. Not deterministic in time (real I/O), but
// replies and state are the in-memory store's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/keyspace_store.h"
#include "cluster_sim/status.h"
#include "crdt/dot.h"

struct redisReply;  // hiredis

namespace cluster_sim {

// Where a Redis is: redis://[[user]:password@]host[:port][/db] (port 6379, db 0 by default;
// an IPv6 host in brackets, redis://[::1]:6379).
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
  std::string ToString() const;  // "host:port", "[v6]:port" (plus "/db" when db != 0)
};
Result<RedisAddress> ParseRedisUrl(std::string_view url);
// Connects, authenticates, selects the db and PINGs: Ok, or Unavailable with the reason.
Status PingRedis(const RedisAddress& address);

struct RedisStoreOptions {
  RedisAddress address;
  std::string region;            // for messages ("region A")
  std::string prefix = "aasim";  // metadata key prefix
  uint32_t buckets = 4096;       // metadata hash buckets
  size_t batch_keys = 1024;      // merged keys per pipelined commit call
  int reconnect_attempts = 6;    // per failure: 10ms, 20ms, ... (bounded backoff)
  bool flush_db = false;         // FLUSHDB when opening (a fresh region)
  // Write-behind: the most commit calls (and log trims) sent but not yet answered; 0 (the
  // default) waits for every commit before the write or merge is acknowledged. For the
  // simulator (`aasim run`), whose acknowledgements are virtual: see "Write-behind" above.
  size_t write_behind = 0;
  // Called once if a write-behind commit fails (the reason, naming the region and server).
  std::function<void(const std::string&)> on_write_behind_failure;
};

class RedisStore final : public KeyspaceStore {
 public:
  // Connects, loads the scripts and the working copy from Redis. Unavailable if the
  // server cannot be reached, InvalidArgument if its data under `prefix` is malformed.
  static Result<std::unique_ptr<RedisStore>> Open(crdt::ReplicaId self, RedisStoreOptions options);
  ~RedisStore() override;

  // Merges (MergeFrom also records the progress of `origin` in Redis) are committed by
  // Flush, pipelined.
  Status Flush() override;
  bool durable() const override { return true; }
  size_t MemoryBytes() const override;
  // With replicated streams, the keyspace's. With region-local ones (they live on the
  // redis-server) the server's: XINFO STREAM's last-generated-id (Redis's own `$`,
  // deleted entries included); "0-0" for a missing key (Redis's `$` on a missing stream),
  // a key that is not a stream, or a server that cannot be reached (the read that follows
  // answers the error).
  std::string StreamLastId(std::string_view key) const override;

  // Durable replication state, as committed in Redis.
  uint64_t LogHead() const override;  // last local effect seq
  uint32_t SavedIncarnation() const override;
  Status SaveIncarnation(uint32_t incarnation) override;
  uint64_t Progress(std::string_view origin) const override;
  // Local effects with seq in [first, last] from the log stream (fewer if trimmed).
  Result<std::vector<std::pair<uint64_t, std::string>>> ReadLog(uint64_t first,
                                                                uint64_t last) override;
  // Every peer holds the local effects up to `seq`: drop them from the log stream.
  Status TrimLog(uint64_t seq) override;

  // The metadata bucket of `key`: FNV-1a (32 bits) of the key, modulo `buckets`.
  static uint32_t MetadataBucket(std::string_view key, uint32_t buckets);

  // True if the store sends `command` to redis-server as it is, before its command table
  // is asked: the X... commands while streams are region-local (not replicated), whatever
  // the table knows of them. So Redis, not the table, says whether such a command exists.
  static bool ForwardsAsIs(std::string_view command, bool replicates_streams) {
    return !replicates_streams && !command.empty() && (command[0] == 'X' || command[0] == 'x');
  }

  bool available() const;
  const RedisAddress& address() const;
  uint64_t reconnects() const;  // successful reconnections after a failure

 private:
  struct Impl;
  RedisStore(crdt::ReplicaId self, RedisStoreOptions options);

  // KeyspaceStore's hooks: streams and other X... commands run on the redis-server; writes
  // are committed by CommitWrite, merges by Flush; Wipe flushes the database.
  Reply RunStream(const std::vector<std::string>& argv, int64_t wall_clock_us) override;
  std::optional<Reply> BeforeEngine(const std::vector<std::string>& argv) override;
  // Refuses the keys under `prefix:` (see "Key layout" above), before the command runs.
  Status MayWrite(std::string_view key) const override;
  Result<std::string> CommitWrite(const std::function<std::string()>& apply) override;
  Status CanMerge() override;
  void Merged(std::string_view origin, uint64_t seq, std::string_view encoded) override;
  void Wiped() override;

  std::unique_ptr<Impl> impl_;
};

// A hiredis reply as a Reply (RESP2 types; anything else is nil).
Reply ReplyFromHiredis(const redisReply* r);

}  // namespace cluster_sim
