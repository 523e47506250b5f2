// Simulation: a deterministic, in-process model of several Active/Active geo-clusters.
//
// Each region is one participating cluster: a Store (embedded in-memory by default) that
// runs Redis commands with Active/Active meaning, plus a replicator that ships the
// *effects* of local writes (encoded CRDT deltas, never commands) to every peer over
// simulated links (network.h), on one virtual clock (event_loop.h).
//
// Replication is the Replicator's protocol (replicator.h), one per region, over the
// simulated links (a ReplTransport) and the event loop (its timers). The simulation adds
// what only an observer of every region can do: crashes (an in-memory region loses its data
// and the writes no peer had received, counted as lost; it restarts as a new incarnation),
// the pull model (a message from a region that crashed or restarted since it was sent is
// discarded on arrival), partitions and heals, and the convergence watch.
//   - with a durable store (Redis, redis_store.h) a crash loses nothing: the region keeps
//     its replica id, data, log and progress, and on restart resumes; a new Simulation on
//     the same stores resumes from their log and progress (an aasim restart).
// Nothing is lost to partitions, loss, duplication or reordering: after a heal and a
// sync, connected regions converge.
//
// Determinism: one seeded Rng, forked per component; no wall clock; single-threaded;
// ordered containers wherever order reaches output. Same config + seed => same Digest().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/event_loop.h"
#include "cluster_sim/network.h"
#include "cluster_sim/replicator.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/session.h"
#include "cluster_sim/store.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

struct RegionConfig {
  std::string name;
  SimTime clock_skew{0};  // offset of this region's wall clock (last-write-wins timestamps)
};

struct SimConfig {
  uint64_t seed = 1;
  std::vector<RegionConfig> regions;  // sites are numbered in name order (LWW ties)
  ReplicationConfig replication;
  // Default: NewMemoryStore. A store it makes may call back into the Simulation (Execute,
  // Dump...) but must not run the loop (AdvanceTo, AdvanceBy, Sync) from inside its Merge:
  // a delivery runs it, and a copy of a message is delivered from the network's record in
  // place, which a nested run could pop and free under it (Network::Deliver).
  StoreFactory store_factory;
};

// A peer as one region sees it: the replicator's figures and the simulated link's.
struct PeerMetrics : ReplPeerStats {
  LinkStats link_out;  // the link from this region to the peer
};

struct RegionMetrics {
  std::string name;
  bool alive = true;
  uint32_t incarnation = 1;
  uint64_t local_writes = 0;
  uint64_t lost_writes = 0;  // writes lost in crashes (never received by any peer)
  uint64_t crashes = 0;
  uint64_t store_failures = 0;  // merges a durable store (Redis) could not keep, retried later
  uint64_t max_ops_lag = 0;     // Redis Enterprise names: the least up-to-date peer's lag
  uint64_t min_ops_lag = 0;     // and the most up-to-date peer's
  uint64_t backlog_bytes = 0;
  uint64_t backlog_limit = 0;  // what the backlog may hold (ReplicationConfig::backlog_bytes)
  size_t memory_bytes = 0;
  std::vector<PeerMetrics> peers;  // every other region, in region order
};

struct SyncResult {
  bool done = false;  // false: the time limit passed first
  SimTime took{0};
  std::string pending;  // when !done: what was still outstanding
};

class Simulation {
 public:
  explicit Simulation(SimConfig config);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  int region_count() const;
  const std::string& region_name(int r) const;
  int RegionIndex(std::string_view name) const;  // -1 if unknown
  Network& network();
  EventLoop& loop();
  SimTime Now() const;

  // Runs a command in region r, as its local service would: no network delay.
  Reply Execute(int r, const std::vector<std::string>& argv);
  // Runs commands atomically in region r (MULTI/EXEC): one replicated effect.
  std::vector<Reply> ExecuteBatch(int r, const std::vector<std::vector<std::string>>& commands);
  // Store::KeyVersion of region r (for WATCH); 0 while r is down.
  uint64_t KeyVersion(int r, std::string_view key) const;
  // Store::StreamLastId of region r (XREAD's `$`, not a command: nothing is recorded);
  // "0-0" while r is down.
  std::string StreamLastId(int r, std::string_view key) const;
  // Batches region r's replication until EndBatch (Replicator::BeginBatch): what a server
  // runs of one read, at one instant, reaches each peer in one message. The writes of
  // Execute in a batch join into one effect (Store::ExecuteHeld; one log entry, counted as
  // that many local writes), logged at EndBatch or before anything else region r does
  // (ExecuteBatch, Crash). Scenarios never batch. REQUIRES: time does not move (AdvanceTo,
  // Sync) while a batch is open.
  void BeginBatch(int r);
  void EndBatch(int r);
  // A Client bound to region r (valid while the simulation lives).
  Client& client(int r);

  // Cuts every link between any two groups (both ways). A single group of one region per
  // element cuts every pair among them.
  void Partition(const std::vector<std::vector<int>>& groups);
  void Heal(const std::vector<std::vector<int>>& groups);
  void HealAll();

  // AdvanceTo, AdvanceBy and Sync run the loop. REQUIRES: not called from inside a
  // delivery (a store's Merge; see SimConfig::store_factory).
  void AdvanceTo(SimTime t);
  void AdvanceBy(SimTime d) { AdvanceTo(SaturatedAdd(Now(), d)); }
  // Runs until every connected pair of live regions is caught up, or `limit` passes.
  SyncResult Sync(SimTime limit = SimTime(3'600'000'000));
  bool Quiescent(std::string* pending = nullptr) const;

  // Stops region r; returns the number of its writes no peer had received (lost).
  uint64_t Crash(int r);
  void Restart(int r);
  bool alive(int r) const;
  // Why region r cannot crash now ("region 'A' is already down") or restart now ("region
  // 'A' is not down"); "" if it can. The one answer of every front end: a scenario step
  // fails with it, `AASIM CRASH` replies it as an error; neither changes anything.
  std::string CannotCrash(int r) const;
  std::string CannotRestart(int r) const;

  std::string Dump(int r, std::string_view key) const;
  std::string DumpAll(int r) const;
  std::vector<std::string> Keys(int r) const;
  // Keys on which live regions disagree, among `keys` (all keys of all regions if empty).
  std::vector<std::string> Divergent(const std::vector<std::string>& keys) const;

  RegionMetrics Metrics(int r) const;
  // FNV-1a over every region's visible data and liveness, plus the number of events run.
  uint64_t Digest() const;
  // Time from the last heal until quiescence was reached (set by Sync).
  std::optional<SimTime> converged_after_heal() const;

  void SetTrace(std::function<void(const std::string&)> trace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string FormatDigest(uint64_t digest);  // 16 hex digits

// A Session backend for region r of a Simulation (Execute/ExecuteBatch/KeyVersion).
std::unique_ptr<Session::Backend> SimulationBackend(Simulation& sim, int region);

}  // namespace cluster_sim
