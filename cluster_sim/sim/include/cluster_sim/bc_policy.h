// BcRebalancer: a background policy that moves bounded-counter rights (BC.*) between the
// regions of a Simulation, as BC.TRANSFER effects a region makes of its own rights (so they
// replicate like any write and can never make a value or a region's rights negative: the
// counter refuses a transfer beyond the giver's rights).
//
//   none          nothing moves: rights stay where BC.INCRBY put them.
//   proportional  every `period`, each live region r looks at every bounded counter it
//                 holds: value V, and the rights of every region as r sees them. The
//                 regions' recent demand: what all rights fell by since r's previous look
//                 (spending: a transfer moves rights and never changes their sum), shared
//                 among the regions whose rights fell, plus what r was refused locally
//                 (NoteRefused), plus 1 each. r keeps V x its demand / all demand and gives
//                 the rights it holds beyond that to the regions short of their share, in
//                 region order.
//   on-demand     nothing moves in the background; a region short of rights calls Ask: the
//                 request travels to the peer r sees holding the most rights (ClientLeg
//                 over the simulated link), the peer gives what it can of what r lacks, and
//                 the transfer replicates back; `answered` is told at the peer (true: a
//                 transfer is on its way) or when the refusal is back at r (false).
//
// Deterministic (its Rng is forked from the simulation's seed); single-threaded. Events
// it schedules do nothing once the rebalancer is destroyed. REQUIRES: sim outlives it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/rng.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

class Simulation;

enum class BcPolicy { kNone, kProportional, kOnDemand };
std::string_view ToString(BcPolicy p);
bool ParseBcPolicy(std::string_view text, BcPolicy* out);

// One leg of a client's message over a link of one-way latency d and loss probability
// `loss`: d, plus a retry timeout of 2d (at least 1ms) per lost copy.
SimTime ClientLeg(Rng& rng, SimTime d, double loss);

class BcRebalancer {
 public:
  BcRebalancer(Simulation& sim, BcPolicy policy, SimTime period, uint64_t seed);
  ~BcRebalancer();
  BcRebalancer(const BcRebalancer&) = delete;
  BcRebalancer& operator=(const BcRebalancer&) = delete;

  BcPolicy policy() const { return policy_; }
  // Proportional: schedules a tick of every region every period until `until` (or forever).
  void Start(SimTime until = SimTime::max());
  // Proportional: one look by region r at every bounded counter it holds.
  void Tick(int r);
  // Region r was refused `n` on `key` for want of rights (counts as its demand).
  void NoteRefused(int r, const std::string& key, int64_t n);
  // On-demand: asks a peer for what r lacks to spend n. False (and nothing sent) if r sees
  // no peer holding rights.
  // *peer (if given) is the peer asked.
  bool Ask(int r, const std::string& key, int64_t n, std::function<void(bool)> answered,
           int* peer_out = nullptr);
  // Rights of every region (region order) as region r sees them.
  std::vector<int64_t> RightsAt(int r, const std::string& key);
  uint64_t transfers() const { return transfers_; }

 private:
  void ScheduleTick(int r);
  void Transfer(int from, const std::string& key, int64_t n, int to);

  Simulation& sim_;
  BcPolicy policy_;
  SimTime period_;
  SimTime until_{0};
  Rng rng_;
  uint64_t transfers_ = 0;
  std::shared_ptr<bool> alive_;  // events check it: false once *this is gone
  // (observer, key) -> rights of every region at the observer's previous look
  std::map<std::pair<int, std::string>, std::vector<int64_t>> seen_;
  std::map<std::pair<int, std::string>, int64_t> refused_;  // since the previous look
};

}  // namespace cluster_sim
