#include "cluster_sim/anomalies.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "cluster_sim/parallel.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/runner.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/svg_chart.h"

namespace cluster_sim {

const std::vector<std::string_view> kLendingInvariants = {
    "lent-twice",         // a book granted to a second user before its holder returned it
    "user-limit",         // a user holding more than 5 books
    "count-matches",      // user:<u>:count equals the lent_books entries naming u
    "book-in-one-place",  // a book not both in automated storage and lent
    "storage-capacity",   // automated storage holds at most 20 books
};

std::string_view ClassifyLendingViolation(std::string_view line) {
  auto has = [&](std::string_view s) { return line.find(s) != std::string_view::npos; };
  if (has("lent twice")) return kLendingInvariants[0];
  if (has("holds more than") || has("books: more than")) return kLendingInvariants[1];
  if (has("but lent_books gives")) return kLendingInvariants[2];
  if (has("is both in")) return kLendingInvariants[3];
  if (has("more than its capacity")) return kLendingInvariants[4];
  return "other";
}

std::string_view ToString(AnomalyWorkload w) {
  return w == AnomalyWorkload::kOverdraft ? "overdraft" : "lending";
}
std::string_view ToString(AnomalyStrategy s) {
  switch (s) {
    case AnomalyStrategy::kActiveActive:
      return "active-active";
    case AnomalyStrategy::kHome:
      return "home";
    case AnomalyStrategy::kBounded:
      break;
  }
  return "bounded";
}
namespace {
template <typename E>
bool ParseEnum(std::string_view text, std::initializer_list<E> all, E* out) {
  for (E e : all) {
    if (ToString(e) == text) {
      *out = e;
      return true;
    }
  }
  return false;
}
}  // namespace

bool ParseWorkload(std::string_view text, AnomalyWorkload* out) {
  return ParseEnum(text, {AnomalyWorkload::kOverdraft, AnomalyWorkload::kLending}, out);
}
bool ParseStrategy(std::string_view text, AnomalyStrategy* out) {
  return ParseEnum(
      text, {AnomalyStrategy::kActiveActive, AnomalyStrategy::kHome, AnomalyStrategy::kBounded},
      out);
}

uint64_t AnomalyPoint::total_violations() const {
  uint64_t n = 0;
  for (const auto& [name, k] : violations) n += k;
  return n;
}

double AnomalyPoint::model_concurrent() const {
  const double d = static_cast<double>(latency.count()) / 1e6;
  return 1 - std::exp(-2 * rate * d * (regions - 1));
}

void WilsonInterval(uint64_t k, uint64_t n, double* lo, double* hi) {
  if (n == 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  constexpr double z = 1.96;
  const double nn = static_cast<double>(n), p = static_cast<double>(k) / nn;
  const double denom = 1 + z * z / nn;
  const double center = (p + z * z / (2 * nn)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom;
  *lo = std::max(0.0, center - half);
  *hi = std::min(1.0, center + half);
}

std::vector<AnomalyPoint> EnumeratePoints(const AnomalyConfig& config) {
  std::vector<AnomalyPoint> out;
  for (int regions : config.regions) {
    for (SimTime latency : config.latencies) {
      for (double loss : config.losses) {
        for (double rate : config.rates) {
          for (AnomalyStrategy s : config.strategies) {
            if (s == AnomalyStrategy::kBounded && config.workload == AnomalyWorkload::kLending) {
              continue;  // the lending service keeps no counter a bounded counter could replace
            }
            AnomalyPoint p;
            p.index = static_cast<int>(out.size());
            p.strategy = s;
            p.regions = regions;
            p.latency = latency;
            p.loss = loss;
            p.rate = rate;
            out.push_back(p);
          }
        }
      }
    }
  }
  return out;
}

Scenario MakeLendingScenario(const LendingTraffic& a) {
  auto service_step = [](const std::string& region, const std::string& from, std::string text) {
    Step s;
    s.kind = Step::Kind::kService;
    s.service = "lending";
    s.region = region;
    s.from_region = from;
    s.text = std::move(text);
    return s;
  };
  Scenario sc;
  for (const std::string& r : a.regions) sc.regions.push_back({r, {}, {}, {}, {}});
  sc.seed = a.seed;
  sc.link_defaults.spec = LinkSpec{a.latency, SimTime(0), a.loss, 0};
  for (const std::string& r : a.regions) {
    sc.steps.push_back(service_step(r, "", "start " + std::to_string(a.instances)));
  }
  Rng rng(a.seed);
  const auto n_regions = static_cast<uint64_t>(a.regions.size());
  for (int i = 0; i < a.requests; ++i) {
    Step at;
    at.kind = Step::Kind::kAt;
    at.duration = a.interval * i;
    sc.steps.push_back(at);
    uint64_t user = rng.Uniform(static_cast<uint64_t>(a.users));
    const std::string& where = a.regions[rng.Uniform(n_regions)];
    const std::string& home = a.regions[user % n_regions];
    std::string books;
    for (uint64_t k = 0, n = 1 + rng.Uniform(3); k < n; ++k) {
      books += (k ? "," : "") + std::string("b") +
               std::to_string(rng.Uniform(static_cast<uint64_t>(a.books)));
    }
    std::string verb = rng.Uniform(4) == 0 ? "return" : "request";
    std::string text = verb + " u" + std::to_string(user) + " " + books;
    if (a.home_routing && home != where) {
      sc.steps.push_back(service_step(home, where, text));
    } else {
      sc.steps.push_back(service_step(where, "", text));
    }
  }
  Step sync;
  sync.kind = Step::Kind::kSync;
  sc.steps.push_back(sync);
  Step check;
  check.kind = Step::Kind::kCheck;
  check.service = "lending-invariants";
  sc.steps.push_back(check);
  return sc;
}

namespace {

std::string RegionLabel(int r) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('A' + r % 26));
    r = r / 26 - 1;
  } while (r >= 0);
  return s;
}

// The traffic of a point depends on everything but the strategy, so strategies are
// compared on the same requests.
std::string TrafficLabel(const AnomalyPoint& p) {
  return "anomalies:" + std::to_string(p.regions) + "/" + std::to_string(p.latency.count()) + "/" +
         std::to_string(p.loss) + "/" + std::to_string(p.rate);
}

void SetPercentiles(std::vector<SimTime> latencies, AnomalyPoint* p) {
  if (latencies.empty()) return;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies.size()))) - 1;
    return latencies[std::min(i, latencies.size() - 1)];
  };
  p->p50 = at(0.50);
  p->p99 = at(0.99);
  p->max = latencies.back();
}

// ------------------------------------------------------------------ overdraft

constexpr int64_t kAmount = 10;
constexpr int64_t kOpening = 50;

class OverdraftRun {
 public:
  OverdraftRun(const AnomalyConfig& cfg, AnomalyPoint* p)
      : cfg_(cfg),
        p_(p),
        R_(p->regions),
        K_(cfg.accounts),
        d_(p->latency),
        rng_(Rng(cfg.seed).Fork(TrafficLabel(*p))),
        legs_(rng_.Fork(ToString(p->strategy))),
        sim_(MakeConfig(rng_.Next(), R_)),
        rebalancer_(sim_, cfg.policy, std::clamp(2 * d_, SimTime(10'000), SimTime(1'000'000)),
                    cfg.seed) {
    for (int a = 0; a < R_; ++a) {
      for (int b = 0; b < R_; ++b) {
        if (a != b) {
          sim_.network().SetLink(a, b, LinkParams{d_, SimTime(0), p->loss, cfg.chaos ? 0.1 : 0});
        }
      }
    }
    bounded_ = p->strategy == AnomalyStrategy::kBounded;
    truth_.assign(static_cast<size_t>(K_), kOpening);
    attempts_by_.resize(static_cast<size_t>(K_ * R_));
  }

  void Run() {
    for (int a = 0; a < K_; ++a) {
      sim_.Execute(a % R_, {bounded_ ? "BC.INCRBY" : "INCRBY", Bal(a), std::to_string(kOpening)});
    }
    sim_.Sync();
    start_ = sim_.Now();
    // Withdrawals and deposits: 2 * rate * R * K requests per second in all.
    const double lambda = 2 * p_->rate * R_ * K_;
    end_ = start_ + SimTime(static_cast<int64_t>(cfg_.requests / lambda * 1e6));
    next_ = start_;
    ScheduleNext(lambda);
    if (cfg_.chaos) {
      std::vector<std::vector<int>> each;
      for (int r = 0; r < R_; ++r) each.push_back({r});
      sim_.loop().At(start_ + (end_ - start_) / 3, [this, each] { sim_.Partition(each); });
      sim_.loop().At(start_ + 2 * (end_ - start_) / 3, [this, each] { sim_.Heal(each); });
      const int victim = R_ - 1;
      sim_.loop().At(start_ + (end_ - start_) / 2, [this, victim] { sim_.Crash(victim); });
      sim_.loop().At(start_ + 5 * (end_ - start_) / 6, [this, victim] { sim_.Restart(victim); });
    }
    if (bounded_) rebalancer_.Start(end_);
    sim_.AdvanceTo(end_ + 8 * d_ + SimTime(2'000'000));
    sim_.Sync();
    p_->withdrawals = concurrent_.size();
    p_->concurrent = static_cast<uint64_t>(std::count(concurrent_.begin(), concurrent_.end(), 1));
    p_->violations[std::string(kOverdraftInvariant)] = violations_;
    if (cfg_.chaos) p_->violations["region-balance>=0"] = negative_seen_;
    SetPercentiles(std::move(latencies_), p_);
    p_->transfers = rebalancer_.transfers();
  }

 private:
  static SimConfig MakeConfig(uint64_t seed, int regions) {
    SimConfig c;
    c.seed = seed;
    for (int r = 0; r < regions; ++r) c.regions.push_back({RegionLabel(r), SimTime(0)});
    return c;
  }
  static std::string Bal(int a) { return "bal:" + std::to_string(a); }
  std::string Count(int a, int r) const { return "w:" + std::to_string(a) + ":" + RegionLabel(r); }
  int64_t IntAt(int r, const std::vector<std::string>& argv) {
    Reply reply = sim_.Execute(r, argv);
    if (reply.type == Reply::Type::kInteger) return reply.integer;
    if (reply.type == Reply::Type::kBulk) return std::stoll(reply.str);
    return 0;
  }
  void ScheduleNext(double lambda) {
    next_ += SimTime(static_cast<int64_t>(-std::log(1 - rng_.UniformDouble()) / lambda * 1e6));
    if (next_ >= end_) return;
    sim_.loop().At(next_, [this, lambda] {
      const int r = static_cast<int>(rng_.Uniform(static_cast<uint64_t>(R_)));
      const int a = static_cast<int>(rng_.Uniform(static_cast<uint64_t>(K_)));
      const bool deposit = rng_.OneIn(2);
      ++p_->requests;
      Request(r, a, deposit);
      if (cfg_.chaos) CheckEveryRegion();
      ScheduleNext(lambda);
    });
  }

  void Request(int r, int a, bool deposit) {
    const int home = a % R_;
    if (p_->strategy != AnomalyStrategy::kHome || r == home) {
      Decide(r, a, deposit, sim_.Now());
      return;
    }
    const SimTime t0 = sim_.Now();
    sim_.loop().At(t0 + ClientLeg(legs_, d_, p_->loss), [this, home, a, deposit, t0] {
      Decide(home, a, deposit, t0, ClientLeg(legs_, d_, p_->loss));
    });
  }

  // Decides a request in region r; `back` is the reply's way to the client.
  void Decide(int r, int a, bool deposit, SimTime t0, SimTime back = SimTime(0)) {
    const SimTime waited = sim_.Now() - t0 + back;
    if (deposit) {
      sim_.Execute(r, {bounded_ ? "BC.INCRBY" : "INCRBY", Bal(a), std::to_string(kAmount)});
      truth_[a] += kAmount;
      latencies_.push_back(waited);
      return;
    }
    NoteAttempt(r, a);
    if (!bounded_) {
      const bool covered = IntAt(r, {"GET", Bal(a)}) >= kAmount;
      if (covered) {
        sim_.ExecuteBatch(r, {{"DECRBY", Bal(a), std::to_string(kAmount)}, {"INCR", Count(a, r)}});
        Approve(a);
      } else {
        sim_.Execute(r, {"INCR", Count(a, r)});
      }
      latencies_.push_back(waited);
      return;
    }
    std::vector<Reply> replies = sim_.ExecuteBatch(
        r, {{"INCR", Count(a, r)}, {"BC.DECRBY", Bal(a), std::to_string(kAmount)}});
    if (!replies.back().is_error()) {
      Approve(a);
    } else if (IntAt(r, {"BC.GET", Bal(a)}) >= kAmount) {
      if (cfg_.policy == BcPolicy::kOnDemand && AskRights(r, a, t0)) return;
      rebalancer_.NoteRefused(r, Bal(a), kAmount);
      ++p_->refused;
    }
    latencies_.push_back(waited);
  }

  void CheckEveryRegion() {
    for (int r = 0; r < R_; ++r) {
      for (int a = 0; a < K_ && sim_.alive(r); ++a) {
        if (IntAt(r, {bounded_ ? "BC.GET" : "GET", Bal(a)}) < 0) ++negative_seen_;
      }
    }
  }

  void Approve(int a) {
    truth_[a] -= kAmount;
    if (truth_[a] < 0) ++violations_;
  }

  // Counts a withdrawal attempt and marks which attempts it is concurrent with: those of
  // other regions that had not reached r (a region's attempts reach r in order).
  void NoteAttempt(int r, int a) {
    const uint64_t id = concurrent_.size();
    concurrent_.push_back(0);
    for (int s = 0; s < R_; ++s) {
      if (s == r) continue;
      const std::vector<uint64_t>& theirs = attempts_by_[static_cast<size_t>(a * R_ + s)];
      const auto visible = static_cast<size_t>(IntAt(r, {"GET", Count(a, s)}));
      for (size_t i = std::min(visible, theirs.size()); i < theirs.size(); ++i) {
        concurrent_[theirs[i]] = 1;
        concurrent_[id] = 1;
      }
    }
    attempts_by_[static_cast<size_t>(a * R_ + r)].push_back(id);
  }

  // On-demand: region r asks a peer for the rights it lacks. False if no peer holds any
  // (the withdrawal is refused now).
  bool AskRights(int r, int a, SimTime t0) {
    return rebalancer_.Ask(r, Bal(a), kAmount, [this, r, a, t0](bool transferred) {
      if (transferred) {  // the transfer takes at least d to replicate
        sim_.loop().At(sim_.Now() + d_, [this, r, a, t0] { Retry(r, a, t0); });
        return;
      }
      ++p_->refused;
      latencies_.push_back(sim_.Now() - t0);
    });
  }

  // Waits for the rights to arrive, then retries the withdrawal once.
  void Retry(int r, int a, SimTime t0) {
    const SimTime deadline = t0 + 8 * d_ + SimTime(1'000'000);
    if (rebalancer_.RightsAt(r, Bal(a))[r] < kAmount && sim_.Now() < deadline) {
      sim_.loop().At(sim_.Now() + std::max(d_ / 4, SimTime(1000)),
                     [this, r, a, t0] { Retry(r, a, t0); });
      return;
    }
    Reply reply = sim_.Execute(r, {"BC.DECRBY", Bal(a), std::to_string(kAmount)});
    if (reply.is_error()) {
      ++p_->refused;
    } else {
      Approve(a);
    }
    latencies_.push_back(sim_.Now() - t0);
  }

  const AnomalyConfig& cfg_;
  AnomalyPoint* p_;
  const int R_, K_;
  const SimTime d_;
  Rng rng_;   // the traffic
  Rng legs_;  // the client's messages (home routing, on-demand asks)
  Simulation sim_;
  BcRebalancer rebalancer_;
  bool bounded_ = false;
  SimTime start_{0}, end_{0}, next_{0};
  std::vector<int64_t> truth_;
  std::vector<std::vector<uint64_t>> attempts_by_;  // [a * R + r]: ids of r's attempts on a
  std::vector<char> concurrent_;                    // per attempt id
  std::vector<SimTime> latencies_;
  uint64_t violations_ = 0;
  uint64_t negative_seen_ = 0;
};

// ------------------------------------------------------------------ lending

void RunLendingPoint(const AnomalyConfig& cfg, AnomalyPoint* p) {
  LendingTraffic t;
  t.regions.clear();
  for (int r = 0; r < p->regions; ++r) t.regions.push_back(RegionLabel(r));
  t.latency = p->latency;
  t.loss = p->loss;
  t.requests = cfg.requests;
  t.interval = SimTime(std::max<int64_t>(1, static_cast<int64_t>(1e6 / (p->rate * p->regions))));
  t.home_routing = p->strategy == AnomalyStrategy::kHome;
  t.seed = Rng(cfg.seed).Fork(TrafficLabel(*p)).Next();
  Scenario sc = MakeLendingScenario(t);
  sc.file = "(aasim anomalies)";
  RunOptions options;
  options.services["lending"] = cfg.lending;
  RunReport report = RunScenario(sc, options);
  for (std::string_view name : kLendingInvariants) p->violations[std::string(name)] = 0;
  for (const std::string& line : report.steps.back().output) {
    ++p->violations[std::string(ClassifyLendingViolation(line))];
  }
  p->requests = static_cast<uint64_t>(cfg.requests);
  // A routed request pays its two legs; the others are local.
  Rng legs = Rng(t.seed).Fork(ToString(p->strategy));
  std::vector<SimTime> latencies;
  for (size_t i = 0; i < sc.steps.size(); ++i) {
    const Step& s = sc.steps[i];
    if (s.kind != Step::Kind::kService || s.text.rfind("start", 0) == 0) continue;
    latencies.push_back(s.from_region.empty() ? SimTime(0)
                                              : ClientLeg(legs, p->latency, p->loss) +
                                                    ClientLeg(legs, p->latency, p->loss));
  }
  SetPercentiles(std::move(latencies), p);
}

}  // namespace

void RunAnomalyPoint(const AnomalyConfig& config, AnomalyPoint* point) {
  if (config.workload == AnomalyWorkload::kLending) {
    RunLendingPoint(config, point);
    return;
  }
  OverdraftRun run(config, point);
  run.Run();
}

std::vector<AnomalyPoint> RunAnomalies(const AnomalyConfig& config, int threads, int shard,
                                       int shard_count, std::function<void(int, int)> progress) {
  std::vector<AnomalyPoint> all = EnumeratePoints(config);
  std::vector<AnomalyPoint> mine;
  for (const AnomalyPoint& p : all) {
    if (p.index % shard_count == shard) mine.push_back(p);
  }
  std::atomic<int> done{0};
  ParallelFor(mine.size(), std::max(1, threads), [&](size_t i) {
    RunAnomalyPoint(config, &mine[i]);
    if (progress) progress(++done, static_cast<int>(mine.size()));
  });
  return mine;
}

std::string RenderAnomaliesSvg(const AnomalyConfig& config, const std::vector<AnomalyPoint>& pts) {
  LineChart chart;
  chart.title = "Invariant violations vs link latency: " + std::string(ToString(config.workload));
  chart.subtitle = "violations per 10,000 requests (95% Wilson interval as bars), seed " +
                   std::to_string(config.seed) + ", bounded policy " +
                   std::string(ToString(config.policy));
  chart.x_label = "one-way link latency (ms)";
  chart.y_label = "violations per 10,000 requests";
  const bool many =
      config.regions.size() > 1 || config.losses.size() > 1 || config.rates.size() > 1;
  for (const AnomalyPoint& p : pts) {
    std::string name(ToString(p.strategy));
    if (many) {
      name += " R=" + std::to_string(p.regions) + " loss=" + TickLabel(p.loss) +
              " rate=" + TickLabel(p.rate);
    }
    auto it = std::find_if(chart.series.begin(), chart.series.end(),
                           [&](const LineChart::Series& s) { return s.name == name; });
    if (it == chart.series.end()) {
      chart.series.push_back({name, {}});
      it = chart.series.end() - 1;
    }
    double lo = 0, hi = 0;
    WilsonInterval(p.total_violations(), p.requests, &lo, &hi);
    const double n = static_cast<double>(std::max<uint64_t>(p.requests, 1));
    it->points.push_back({static_cast<double>(p.latency.count()) / 1e3,
                          1e4 * static_cast<double>(p.total_violations()) / n, 1e4 * lo, 1e4 * hi});
  }
  return RenderLineChartSvg(chart);
}

}  // namespace cluster_sim
