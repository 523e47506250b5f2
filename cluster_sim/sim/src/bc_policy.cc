#include "cluster_sim/bc_policy.h"

#include <algorithm>
#include <limits>

#include "cluster_sim/simulation.h"
#include "crdt/pn_counter.h"

namespace cluster_sim {

namespace {

using crdt::Int128;
constexpr int64_t kMaxAmount = std::numeric_limits<int64_t>::max();

// An amount a BC.* reply gives: its integer, or kMaxAmount for one past 64 bits (a bulk
// string: only concurrent increments in many regions make one).
int64_t AmountOf(const Reply& reply) {
  return reply.type == Reply::Type::kBulk ? kMaxAmount : reply.integer;
}

// a * b / c (c > 0), truncated towards zero as integer division: exact while a and b fit
// 64 bits (their product fits 128), else in floating point; kept within 64 bits.
int64_t MulDiv(Int128 a, Int128 b, Int128 c) {
  const Int128 lim = kMaxAmount;
  Int128 q = 0;
  if (a >= -lim && a <= lim && b >= -lim && b <= lim) {
    q = a * b / c;
  } else {
    const long double f =
        static_cast<long double>(a) * static_cast<long double>(b) / static_cast<long double>(c);
    q = f >= static_cast<long double>(lim)    ? lim
        : f <= -static_cast<long double>(lim) ? -lim
                                              : static_cast<Int128>(f);
  }
  return static_cast<int64_t>(std::clamp(q, -lim, lim));
}

}  // namespace

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
    if (s >= 0) rights[s] = AmountOf(reply.elements[i + 1]);
  }
  return rights;
}

void BcRebalancer::NoteRefused(int r, const std::string& key, int64_t n) {
  int64_t& refused = refused_[{r, key}];
  refused = n > kMaxAmount - refused ? kMaxAmount : refused + n;  // saturates
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
    const int64_t value = AmountOf(sim_.Execute(r, {"BC.GET", key}));
    std::vector<int64_t> rights = RightsAt(r, key);
    std::vector<int64_t>& prev = seen_[{r, key}];
    if (prev.empty()) prev = rights;
    // What the regions spent since the previous look: the fall of all rights (a transfer
    // moves rights, never changes their sum), shared among the regions whose rights fell.
    // Sums are exact (128 bits); a region's weight and share stay within 64 bits.
    Int128 fell = 0, net = 0;
    for (int s = 0; s < n; ++s) {
      fell += std::max<Int128>(0, Int128(prev[s]) - rights[s]);
      net += Int128(prev[s]) - rights[s];
    }
    std::vector<Int128> weight(static_cast<size_t>(n), 1);
    Int128 sum = n;
    for (int s = 0; s < n && net > 0 && fell > 0; ++s) {
      const int64_t spent = MulDiv(net, std::max<Int128>(0, Int128(prev[s]) - rights[s]), fell);
      weight[s] += spent;
      sum += spent;
    }
    int64_t& refused = refused_[{r, key}];
    weight[r] += refused;
    sum += refused;
    refused = 0;
    Int128 surplus = rights[r] - Int128(MulDiv(value, weight[r], sum));
    for (int s = 0; s < n && surplus > 0; ++s) {
      const Int128 give =
          std::min<Int128>(surplus, Int128(MulDiv(value, weight[s], sum)) - rights[s]);
      if (s == r || give <= 0) continue;
      Transfer(r, key, static_cast<int64_t>(give), s);  // give <= surplus <= rights[r]
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
