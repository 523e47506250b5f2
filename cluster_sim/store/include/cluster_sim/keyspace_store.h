// KeyspaceStore: the common core of the stores that keep a region's replicated data as a
// crdt::Keyspace run by the CommandEngine: the in-memory store (memory_store.cc) and the
// Redis store's working copy (redis_store.h). It runs commands and batches, records each
// write's effect, merges effects and full states, keeps the WATCH versions, and answers
// Dump, DumpAll, Keys and FullState from the keyspace. Where the data lives beyond the
// keyspace, and the region-local streams, are a subclass's, through the hooks below.
//
// KeyVersion: per-key counters, bumped by every local write and merged delta that lists
// the key, and by the stream changes a subclass reports (BumpVersion); a merged full state
// bumps every key (it may drop keys it does not list). To cost nothing to runs that never
// WATCH, tracking starts at the first KeyVersion call: before it every key reads the same
// version, which is all a later comparison needs.
//
// Not thread-safe; deterministic as long as the hooks are.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/command_engine.h"
#include "cluster_sim/command_table.h"
#include "cluster_sim/scripting.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace cluster_sim {

class KeyspaceStore : public Store {
 public:
  // A single command: a stream command (LocalStreams::Handles) goes to RunStream unless
  // streams are replicated (SetStreamOptions: then the engine runs it); then
  // BeforeEngine may answer it; else the engine runs it on the keyspace and a write's
  // effect is appended to *effect (on a durable store, after CommitWrite made it durable).
  Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                std::string* effect) final;
  // A write of the in-memory keyspace records no delta (the engine runs with none), unless
  // the store is durable (CommitWrite keeps the effect) or a WATCH needs the keys it names.
  Reply ExecuteWithoutEffect(const std::vector<std::string>& argv, int64_t wall_clock_us,
                             bool* wrote) final;
  // Holds the effects of an in-memory store, not while a WATCH needs the keys each write
  // names (a durable store's every write is committed with its own effect: never held).
  bool ExecuteHeld(const std::vector<std::string>& argv, int64_t wall_clock_us, Reply* reply,
                   bool* wrote) final;
  void TakeHeld(std::string* effect) final;
  // Lua scripts (EVAL*, SCRIPT; scripting.h) run here too: a script's commands run on the
  // keyspace as the engine's do (stream commands through RunStream, BeforeEngine asked
  // first), so all its writes make ONE effect, and a script that wrote nothing makes none.
  // The script cache is this store's (one per region), never replicated, lost by Wipe.
  //
  // Writes a store refuses (MayWrite, after CheckWrites): a command that may write a
  // refused key answers MayWrite's error and runs not at all, before any route above, so
  // it changes nothing, as a Redis command that fails at run time: a single command
  // answers the error, a batch holds it in the command's place, a script's redis.call
  // raises it and redis.pcall returns it. Which keys a command may write: the command
  // table's (WrittenKeys, command_table.h: not the keys it only reads). A command with the
  // wrong arity is not asked about (it answers its arity error), nor one the table lacks:
  // BeforeEngine and RunStream refuse what they would write.
  //
  // Like Redis EXEC: every command runs in order (stream commands through RunStream, in
  // their place; BeforeEngine is not asked), an error reply does not stop the others (a
  // write MayWrite refuses is one: its error in its place), and the replicated writes make
  // one delta (one effect). If CommitWrite fails, every reply but the stream commands' is
  // its error.
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& commands,
                                  int64_t wall_clock_us, std::string* effect) final;
  int64_t NextExpiry() const final;
  // Keyspace::ExpireDue through CommitWrite, so a backend stores it as any other write.
  Status ExpireDue(int64_t wall_clock_us, std::string* effect) final;
  Status Merge(std::string_view encoded) final { return MergeFrom("", 0, encoded); }
  // CanMerge, then the merge, then Merged (with origin "" and seq 0 for a plain Merge).
  Status MergeFrom(std::string_view origin, uint64_t seq, std::string_view encoded) final;
  uint64_t KeyVersion(std::string_view key) const final;
  // The replicated keyspace's (region-local streams have no XREAD: "0-0"); a store whose
  // region-local streams live elsewhere answers from there (RedisStore).
  std::string StreamLastId(std::string_view key) const override {
    return cluster_sim::StreamLastId(ks_, key).ToString();
  }
  std::string FullState() const final { return ks_.Encode(); }
  std::string Dump(std::string_view key) const final { return ks_.Dump(key); }
  std::string DumpAll() const final { return ks_.DumpAll(); }
  std::vector<std::string> Keys() const final { return ks_.Keys(); }
  // Starts an empty keyspace as `self`, moves every version, then calls Wiped().
  void Wipe(crdt::ReplicaId self) final;
  crdt::ReplicaId self() const final { return ks_.self(); }
  void SetRegionNames(std::vector<std::string> names) final {
    const crdt::StreamIdMode mode = engine_.stream_id_mode();
    engine_ = CommandEngine(std::move(names));
    engine_.SetStreamIdMode(mode);
  }
  void SetStreamOptions(bool replicate, crdt::StreamIdMode id_mode) final {
    replicate_streams_ = replicate;
    engine_.SetStreamIdMode(id_mode);
  }

  // The keys an encoded keyspace (an effect, several concatenated, or a full state) lists,
  // in order; *full (if non-null) is set if it holds a full state. False if malformed.
  static bool EncodedKeys(std::string_view encoded, std::vector<std::string>* keys,
                          bool* full = nullptr);

 protected:
  explicit KeyspaceStore(crdt::ReplicaId self) : ks_(self) {}

  crdt::Keyspace& keyspace() { return ks_; }
  // The wall clock (Unix ms, rounded down) of the latest command or ExpireDue (0 before
  // the first): the Redis store gives native keys the time their TTL has left on it.
  int64_t wall_clock_ms() const;
  const crdt::Keyspace& keyspace() const { return ks_; }
  bool replicates_streams() const { return replicate_streams_; }  // SetStreamOptions
  // Makes every command ask MayWrite about the keys it may write; until then none asks,
  // so a store that refuses nothing pays one test of a flag per command. Called once, by
  // the constructor of a store that refuses keys.
  void CheckWrites() { check_writes_ = true; }
  // A stream change (or a reload) the keyspace does not see: moves `key`'s version, or
  // every key's.
  void BumpVersion(std::string key);
  void BumpAllVersions();

  // ---- hooks ----
  // Runs a region-local stream command (LocalStreams::Handles(argv[0]); the arity is
  // already checked), reporting the keys whose stream or groups changed by BumpVersion.
  virtual Reply RunStream(const std::vector<std::string>& argv, int64_t wall_clock_us) = 0;
  // A reply for a single command that the store gives beside the keyspace (e.g. TYPE of a
  // stream key), or nullopt to let the engine run it. Asked after MayWrite refused what
  // the command table says the command writes: a command it runs that the table lacks
  // must be refused here if it would write a key MayWrite refuses.
  virtual std::optional<Reply> BeforeEngine(const std::vector<std::string>& argv) = 0;
  // Whether a local write may create or change `key`: Ok, or the error (its message, a
  // Redis error reply's text) that a command which may write it answers instead of running.
  // Asked only after CheckWrites(), before the command touches the keyspace (see
  // ExecuteBatch). Default: every key.
  virtual Status MayWrite(std::string_view key) const {
    (void)key;
    return Status::Ok();
  }
  // Makes a local write durable. `apply` runs the write on the keyspace (moving the
  // versions) and returns its encoded effect, empty if it wrote nothing; it may be called
  // again after a failure (on a keyspace reloaded from where the data lives). Returns the
  // effect to replicate, or the error to reply instead. Default: apply() once (and Execute
  // does not call it on a store that is not durable: its single commands' effects are
  // encoded straight into the caller's string).
  virtual Result<std::string> CommitWrite(const std::function<std::string()>& apply) {
    return apply();
  }
  // Before a merge: Ok, or why it cannot be stored now (then nothing is merged).
  virtual Status CanMerge() { return Status::Ok(); }
  // After `encoded` (effect `seq` of `origin`, or "" and 0) was merged into the keyspace.
  virtual void Merged(std::string_view origin, uint64_t seq, std::string_view encoded) {
    (void)origin;
    (void)seq;
    (void)encoded;
  }
  // After Wipe reset the keyspace and the versions.
  virtual void Wiped() {}

 private:
  // Runs `run` (commands on the keyspace recording into the delta it gets; true if one
  // wrote) and returns the encoded delta ("" if nothing was written), moving the versions.
  template <typename Run>  // bool(crdt::Keyspace* delta)
  std::string Record(Run run);
  // True if a command is a stream command for the region-local streams (RunStream): spec
  // is FindStoreCommand(argv[0]), or null.
  bool LocalStream(const CommandSpec* spec) const;
  // The reply of a stream command (spec: its row, FindStoreCommand(argv[0])): its arity
  // error, or RunStream's.
  Reply Stream(const std::vector<std::string>& argv, const CommandSpec* spec,
               int64_t wall_clock_us);
  // MayWrite's error for a command (spec: FindStoreCommand(argv[0]), or null) that may
  // write a key it refuses, or nullopt if the command may run (always before
  // CheckWrites()).
  std::optional<Reply> Refused(const std::vector<std::string>& argv,
                               const CommandSpec* spec) const {
    if (!check_writes_) return std::nullopt;
    return RefusedByMayWrite(argv, spec);
  }
  std::optional<Reply> RefusedByMayWrite(const std::vector<std::string>& argv,
                                         const CommandSpec* spec) const;
  // Moves the version of every key `encoded` lists (all keys for a full state).
  void Touch(std::string_view encoded);
  // Execute's work: a write's effect is appended to *effect; with effect null a write is
  // recorded into `held` (ExecuteHeld), or nowhere if that is null too (ExecuteWithoutEffect).
  Reply ExecuteOne(const std::vector<std::string>& argv, int64_t wall_clock_us, std::string* effect,
                   crdt::Keyspace* held, bool* wrote);
  // ExecuteOne's engine command or script with an effect: on a store that is not durable
  // (RecordOne: nothing to commit) or through CommitWrite (CommitOne). Apart, so the
  // common one returns its one reply without a move.
  // spec: FindStoreCommand(argv[0]) (null for an empty argv or an unknown name), as RunOne.
  Reply RecordOne(const std::vector<std::string>& argv, const CommandSpec* spec,
                  int64_t wall_clock_us, std::string* effect, bool* wrote);
  Reply CommitOne(const std::vector<std::string>& argv, const CommandSpec* spec,
                  int64_t wall_clock_us, std::string* effect, bool* wrote);
  // Runs one engine command or script on the keyspace, recording into `delta`. spec is
  // FindStoreCommand(argv[0]), looked up by the caller (null for an empty argv).
  Reply RunOne(const std::vector<std::string>& argv, const CommandSpec* spec, int64_t wall_clock_us,
               crdt::Keyspace* delta, bool* wrote);

  crdt::Keyspace ks_;
  CommandEngine engine_;
  bool replicate_streams_ = false;
  bool check_writes_ = false;         // CheckWrites
  std::unique_ptr<Scripts> scripts_;  // made at the first script command
  crdt::Keyspace::MergeScratch merge_scratch_;
  crdt::Keyspace delta_;  // Record's delta, reset (ResetDelta) and reused by every write
  std::optional<crdt::Keyspace> held_;  // ExecuteHeld's joined delta, once a write was held
  mutable bool tracking_ = false;
  int64_t wall_clock_us_ = 0;
  uint64_t clock_ = 0;
  uint64_t floor_ = 0;
  std::map<std::string, uint64_t, std::less<>> versions_;
};

}  // namespace cluster_sim
