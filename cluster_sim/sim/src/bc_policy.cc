#include "cluster_sim/bc_policy.h"

#include <algorithm>

#include "cluster_sim/simulation.h"

namespace cluster_sim {

std::string_view ToString(BcPolicy p) {
  switch (p) {
    case BcPolicy::kNone:
      return "none";
    case BcPolicy::kProportional:
      return "proportional";
    case BcPolicy::kOnDemand:
      break;
  }
  return "on-demand";
}

bool ParseBcPolicy(std::string_view text, BcPolicy* out) {
  for (BcPolicy p : {BcPolicy::kNone, BcPolicy::kProportional, BcPolicy::kOnDemand}) {
    if (ToString(p) == text) {
      *out = p;
      return true;
    }
  }
  return false;
}

SimTime ClientLeg(Rng& rng, SimTime d, double loss) {
  SimTime leg = d;
  for (int i = 0; i < 64 && rng.Chance(loss); ++i) leg += std::max(2 * d, SimTime(1000));
  return leg;
}

BcRebalancer::BcRebalancer(Simulation& sim, BcPolicy policy, SimTime period, uint64_t seed)
    : sim_(sim),
      policy_(policy),
      period_(std::max(period, SimTime(1000))),
      rng_(Rng(seed).Fork("bc-policy")),
      alive_(std::make_shared<bool>(true)) {}

BcRebalancer::~BcRebalancer() { *alive_ = false; }

void BcRebalancer::Start(SimTime until) {
  if (policy_ != BcPolicy::kProportional) return;
  until_ = until;
  for (int r = 0; r < sim_.region_count(); ++r) ScheduleTick(r);
}

void BcRebalancer::ScheduleTick(int r) {
  std::shared_ptr<bool> alive = alive_;
  sim_.loop().At(sim_.Now() + period_, [this, alive, r] {
    if (!*alive) return;
    Tick(r);
    if (sim_.Now() + period_ < until_) ScheduleTick(r);
  });
}

std::vector<int64_t> BcRebalancer::RightsAt(int r, const std::string& key) {
  std::vector<int64_t> rights(static_cast<size_t>(sim_.region_count()), 0);
  Reply reply = sim_.Execute(r, {"BC.RIGHTS", key});
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const int s = sim_.RegionIndex(reply.elements[i].str);
    if (s >= 0) rights[s] = reply.elements[i + 1].integer;
  }
  return rights;
}

void BcRebalancer::NoteRefused(int r, const std::string& key, int64_t n) {
  refused_[{r, key}] += n;
}

void BcRebalancer::Transfer(int from, const std::string& key, int64_t n, int to) {
  Reply reply = sim_.Execute(from, {"BC.TRANSFER", key, std::to_string(n), sim_.region_name(to)});
  if (!reply.is_error()) ++transfers_;
}

void BcRebalancer::Tick(int r) {
  if (!sim_.alive(r)) return;
  const int n = sim_.region_count();
  for (const std::string& key : sim_.Keys(r)) {
    if (sim_.Execute(r, {"TYPE", key}).str != "bcounter") continue;
    const int64_t value = sim_.Execute(r, {"BC.GET", key}).integer;
    std::vector<int64_t> rights = RightsAt(r, key);
    std::vector<int64_t>& prev = seen_[{r, key}];
    if (prev.empty()) prev = rights;
    // What the regions spent since the previous look: the fall of all rights (a transfer
    // moves rights, never changes their sum), shared among the regions whose rights fell.
    int64_t fell = 0, net = 0;
    for (int s = 0; s < n; ++s) {
      fell += std::max<int64_t>(0, prev[s] - rights[s]);
      net += prev[s] - rights[s];
    }
    std::vector<int64_t> weight(static_cast<size_t>(n), 1);
    int64_t sum = n;
    for (int s = 0; s < n && net > 0 && fell > 0; ++s) {
      const int64_t spent = net * std::max<int64_t>(0, prev[s] - rights[s]) / fell;
      weight[s] += spent;
      sum += spent;
    }
    int64_t& refused = refused_[{r, key}];
    weight[r] += refused;
    sum += refused;
    refused = 0;
    int64_t surplus = rights[r] - value * weight[r] / sum;
    for (int s = 0; s < n && surplus > 0; ++s) {
      const int64_t give = std::min(surplus, value * weight[s] / sum - rights[s]);
      if (s == r || give <= 0) continue;
      Transfer(r, key, give, s);
      surplus -= give;
    }
    prev = RightsAt(r, key);
  }
}

bool BcRebalancer::Ask(int r, const std::string& key, int64_t n, std::function<void(bool)> answered,
                       int* peer_out) {
  std::vector<int64_t> rights = RightsAt(r, key);
  int peer = -1;
  for (int s = 0; s < sim_.region_count(); ++s) {
    if (s != r && rights[s] > 0 && (peer < 0 || rights[s] > rights[peer])) peer = s;
  }
  if (peer < 0) return false;
  if (peer_out) *peer_out = peer;
  const int64_t need = n - rights[r];
  const LinkParams& out = sim_.network().link(r, peer);
  std::shared_ptr<bool> alive = alive_;
  sim_.loop().At(sim_.Now() + ClientLeg(rng_, out.latency, out.loss), [this, alive, r, peer, key,
                                                                       need, answered] {
    if (!*alive) return;
    const int64_t give = sim_.alive(peer) ? std::min(need, RightsAt(peer, key)[peer]) : 0;
    if (give > 0) {
      Transfer(peer, key, give, r);
      answered(true);
      return;
    }
    const LinkParams& back = sim_.network().link(peer, r);
    sim_.loop().At(sim_.Now() + ClientLeg(rng_, back.latency, back.loss), [alive, answered] {
      if (*alive) answered(false);
    });
  });
  return true;
}

}  // namespace cluster_sim
