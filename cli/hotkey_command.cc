#include "hotkey_command.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster_sim/hotkey.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/time.h"
#include "options.h"
#include "report.h"

namespace aasim {
namespace {

using cluster_sim::Arrival;
using cluster_sim::ChartMetric;
using cluster_sim::FormatDuration;
using cluster_sim::HotKeyConfig;
using cluster_sim::HotKeyReport;
using cluster_sim::HotKeySweep;
using cluster_sim::Plural;
using cluster_sim::ReplicationMode;
using cluster_sim::Result;
using cluster_sim::ServiceDist;
using cluster_sim::ShardStats;
using cluster_sim::SimTime;
using cluster_sim::SweepPoint;

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 2;
constexpr size_t kMaxShardRows = 16;  // text only; --json has every shard with work

// What the command line said; an option's Option* tells whether it was given.
struct HotkeyArgs {
  std::string preset;
  int writers = 0;
  int clusters = 0;
  std::string sweep;
  int shards = 0;
  std::string service_time, service_dist, replicated_service_time, latency;
  uint64_t keys = 0;
  double zipf = 0;
  uint64_t ops_per_writer = 0;
  std::string duration, arrival;
  double rate = 0;
  std::string mode, coalesce_interval;
  uint64_t seed = 0;
  bool json = false;
  std::string svg, chart;

  CLI::Option *writers_opt, *clusters_opt, *sweep_opt, *shards_opt, *service_time_opt,
      *service_dist_opt, *replicated_opt, *latency_opt, *keys_opt, *zipf_opt, *ops_opt,
      *duration_opt, *arrival_opt, *rate_opt, *mode_opt, *interval_opt, *seed_opt, *chart_opt;
};

// The input error of one option, printed as "aasim hotkey: --OPTION: message".
struct BadOption {
  std::string message;
};

SimTime Duration(const std::string& option, const std::string& text) {
  std::optional<SimTime> d = ParseOptionDuration(text);
  if (!d) {
    throw BadOption{
        fmt::format("{}: expected a duration with a unit like \"1ms\" or \"250us\" "
                    "(at most 1000h), got \"{}\"",
                    option, text)};
  }
  return *d;
}

// The experiment to run: a base config, the cluster counts and the modes.
struct Plan {
  HotKeyConfig config;
  int min_clusters = 2, max_clusters = 2;
  std::vector<ReplicationMode> modes{ReplicationMode::kPerOp};
  bool figure = false;  // --preset figure-4-4
  ChartMetric metric = ChartMetric::kThroughput;
};

Plan MakePlan(const HotkeyArgs& a) {
  Plan p;
  HotKeyConfig& c = p.config;
  bool sweep = false;
  if (!a.preset.empty()) {
    if (a.preset != "figure-4-4") {
      throw BadOption{fmt::format("--preset: expected figure-4-4, got \"{}\"", a.preset)};
    }
    // Figure 4-4: 8 writers write one key at t=0, 1ms a write; 1 cluster vs 2.
    p.figure = true;
    c.writers = 8;
    c.shards = 1;
    c.service_time = SimTime(1000);
    c.keys = 1;
    c.arrival = Arrival::kBurst;
    c.ops_per_writer = 1;
    p.min_clusters = 1;
    p.max_clusters = 2;
    sweep = true;
  }
  // Options given explicitly override the preset.
  if (*a.writers_opt) c.writers = a.writers;
  if (*a.clusters_opt) {
    p.min_clusters = p.max_clusters = a.clusters;
    sweep = false;
  }
  if (*a.sweep_opt) {
    const size_t dots = a.sweep.find("..");
    std::string lo = "1", hi = a.sweep;
    if (dots != std::string::npos) {
      lo = a.sweep.substr(0, dots);
      hi = a.sweep.substr(dots + 2);
    }
    auto number = [&](const std::string& s) {
      if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) {
        throw BadOption{
            fmt::format("--sweep: expected FIRST..LAST clusters like 1..8 (or LAST), "
                        "got \"{}\"",
                        a.sweep)};
      }
      return std::stoi(s);
    };
    p.min_clusters = number(lo);
    p.max_clusters = number(hi);
    if (p.min_clusters < 1 || p.max_clusters < p.min_clusters || p.max_clusters > 1024) {
      throw BadOption{
          fmt::format("--sweep: expected 1 <= FIRST <= LAST <= 1024, got \"{}\"", a.sweep)};
    }
    sweep = true;
  }
  if (*a.shards_opt) c.shards = a.shards;
  if (*a.service_time_opt) c.service_time = Duration("--service-time", a.service_time);
  if (*a.service_dist_opt) {
    c.service_dist =
        a.service_dist == "exponential" ? ServiceDist::kExponential : ServiceDist::kConstant;
  }
  if (*a.replicated_opt) {
    c.replicated_service_time = Duration("--replicated-service-time", a.replicated_service_time);
  }
  if (*a.latency_opt) c.link_latency = Duration("--latency", a.latency);
  if (*a.keys_opt) c.keys = a.keys;
  if (*a.zipf_opt) {
    if (c.keys == 1) throw BadOption{"--zipf: needs --keys of 2 or more (1 is the hot key)"};
    c.zipf_s = a.zipf;
  }
  if (*a.ops_opt) {
    c.ops_per_writer = a.ops_per_writer;
    c.duration.reset();
  }
  if (*a.duration_opt) c.duration = Duration("--duration", a.duration);
  if (*a.arrival_opt) {
    c.arrival = a.arrival == "burst"    ? Arrival::kBurst
                : a.arrival == "closed" ? Arrival::kClosedLoop
                                        : Arrival::kOpenLoop;
  }
  if (*a.rate_opt) {
    if (*a.arrival_opt && c.arrival != Arrival::kOpenLoop) {
      throw BadOption{"--rate: sets an open loop; it cannot go with --arrival " + a.arrival};
    }
    if (!(a.rate > 0) || !std::isfinite(a.rate) || a.rate > 1e6) {
      throw BadOption{
          fmt::format("--rate: expected writes per second per writer in (0, 1e6], "
                      "got {}",
                      a.rate)};
    }
    c.arrival = Arrival::kOpenLoop;
    c.open_loop_interval = SimTime(std::max<int64_t>(1, std::llround(1e6 / a.rate)));
  } else if (c.arrival == Arrival::kOpenLoop) {
    throw BadOption{"--arrival open: needs --rate (writes per second per writer)"};
  }
  if (*a.interval_opt) c.coalesce_interval = Duration("--coalesce-interval", a.coalesce_interval);
  if (*a.seed_opt) c.seed = a.seed;

  if (sweep) p.modes = {ReplicationMode::kPerOp, ReplicationMode::kCoalesced};
  if (*a.mode_opt) {
    if (a.mode == "per-op") p.modes = {ReplicationMode::kPerOp};
    if (a.mode == "coalesced") p.modes = {ReplicationMode::kCoalesced};
    if (a.mode == "both") p.modes = {ReplicationMode::kPerOp, ReplicationMode::kCoalesced};
  }
  p.metric = c.arrival == Arrival::kBurst ? ChartMetric::kLastWrite : ChartMetric::kThroughput;
  if (*a.chart_opt) {
    p.metric = a.chart == "last-write" ? ChartMetric::kLastWrite : ChartMetric::kThroughput;
  }
  if (!a.svg.empty() && p.max_clusters == p.min_clusters) {
    throw BadOption{"--svg: draws a sweep over clusters: add --sweep 1..K"};
  }
  if (cluster_sim::Status st = cluster_sim::ValidateHotKeyConfig(c); !st.ok()) {
    throw BadOption{st.message()};
  }
  return p;
}

// ---------------------------------------------------------------- text

std::string Percent(double fraction) { return fmt::format("{:.0f}%", fraction * 100); }

std::string DescribeConfig(const HotKeyConfig& c) {
  std::string keys =
      c.keys == 1
          ? fmt::format("one key \"foo\" (slot {})", cluster_sim::KeySlot("foo"))
          : fmt::format("{} key:0..key:{}, zipf s={}", Plural(c.keys, "key"), c.keys - 1, c.zipf_s);
  std::string load;
  switch (c.arrival) {
    case Arrival::kBurst:
      load = fmt::format("burst: {} per writer at t=0", Plural(c.ops_per_writer, "write"));
      break;
    case Arrival::kClosedLoop:
      load = c.duration
                 ? fmt::format("closed loop for {}", FormatDuration(*c.duration))
                 : fmt::format("closed loop, {} per writer", Plural(c.ops_per_writer, "write"));
      break;
    case Arrival::kOpenLoop:
      load = fmt::format("open loop, one write per writer every {}",
                         FormatDuration(c.open_loop_interval)) +
             (c.duration ? " for " + FormatDuration(*c.duration)
                         : fmt::format(", {} per writer", Plural(c.ops_per_writer, "write")));
      break;
  }
  return fmt::format(
      "{}, {} per cluster; {}; service {} {}, replicated {}; link {}; {}; "
      "coalesce interval {}; seed {}",
      Plural(c.writers, "writer"), Plural(c.shards, "shard"), keys, FormatDuration(c.service_time),
      cluster_sim::ToString(c.service_dist), FormatDuration(c.ReplicatedServiceTime()),
      FormatDuration(c.link_latency), load, FormatDuration(c.coalesce_interval), c.seed);
}

std::string RenderRun(const HotKeyReport& r) {
  std::string o;
  o += fmt::format("== {}, {} ==\n", Plural(r.config.clusters, "cluster"), ToString(r.config.mode));
  o += fmt::format("last write {}; {}; throughput {:.0f} writes/s; latency p50 {} p99 {} max {}\n",
                   FormatDuration(r.last_write), Plural(r.writes, "write"), r.throughput,
                   FormatDuration(r.latency.p50), FormatDuration(r.latency.p99),
                   FormatDuration(r.latency.max));
  o += fmt::format("converged at {} (lag {} after the last write); {}, {}\n\n",
                   FormatDuration(r.converged_at), FormatDuration(r.convergence_lag),
                   Plural(r.events, "event"), Plural(r.applies, "shard operation"));
  o += fmt::format("{:<8} {:>7} {:>7} {:>10} {:>8} {:>8} {:>8} {:>11} {:>8}\n", "cluster",
                   "writers", "writes", "last write", "p50", "p99", "max", "applied all", "lag");
  for (const auto& cs : r.clusters) {
    o += fmt::format("{:<8} {:>7} {:>7} {:>10} {:>8} {:>8} {:>8} {:>11} {:>8}\n", cs.cluster,
                     cs.writers, cs.writes, FormatDuration(cs.last_write),
                     FormatDuration(cs.latency.p50), FormatDuration(cs.latency.p99),
                     FormatDuration(cs.latency.max), FormatDuration(cs.applied_all),
                     FormatDuration(cs.convergence_lag));
  }
  std::vector<const ShardStats*> busy;
  for (const ShardStats& s : r.shards) {
    if (s.local_writes + s.replicated_applies > 0) busy.push_back(&s);
  }
  std::stable_sort(busy.begin(), busy.end(), [](const ShardStats* a, const ShardStats* b) {
    return a->local_busy + a->replicated_busy > b->local_busy + b->replicated_busy;
  });
  const size_t shown = std::min(busy.size(), kMaxShardRows);
  std::sort(busy.begin(), busy.begin() + static_cast<std::ptrdiff_t>(shown),
            [](const ShardStats* a, const ShardStats* b) {
              return a->cluster != b->cluster ? a->cluster < b->cluster : a->shard < b->shard;
            });
  o += fmt::format("\n{:<8} {:>5} {:>11} {:>7} {:>10} {:>14} {:>10} {:>6} {:>6} {:>10}\n",
                   "cluster", "shard", "slots", "local", "local busy", "repl (effects)",
                   "repl busy", "util L", "util R", "busy until");
  for (size_t i = 0; i < shown; ++i) {
    const ShardStats& s = *busy[i];
    o += fmt::format("{:<8} {:>5} {:>11} {:>7} {:>10} {:>14} {:>10} {:>6} {:>6} {:>10}\n",
                     s.cluster, s.shard, fmt::format("{}-{}", s.first_slot, s.last_slot),
                     s.local_writes, FormatDuration(s.local_busy),
                     fmt::format("{} ({})", s.replicated_applies, s.replicated_effects),
                     FormatDuration(s.replicated_busy), Percent(s.local_utilisation),
                     Percent(s.replicated_utilisation), FormatDuration(s.busy_until));
  }
  if (busy.size() > shown) {
    o += fmt::format("({} with work, see --json)\n", Plural(busy.size() - shown, "more shard"));
  }
  o += "utilisation = busy time / [0, converged at]\n";
  return o;
}

std::string RenderSweep(const HotKeySweep& sw) {
  std::string o;
  o += fmt::format("{:<10} {:>3} {:>10} {:>10} {:>11} {:>8} {:>8} {:>8} {:>14} {:>9}\n", "mode",
                   "k", "last write", "writes/s", "arith cap/s", "p50", "p99", "max",
                   "hot shard L/R", "conv lag");
  for (const SweepPoint& p : sw.points) {
    const HotKeyReport& r = p.report;
    const ShardStats& hot = r.HotShard(0);
    o += fmt::format("{:<10} {:>3} {:>10} {:>10.0f} {:>11.0f} {:>8} {:>8} {:>8} {:>14} {:>9}\n",
                     ToString(p.mode), p.clusters, FormatDuration(r.last_write), r.throughput,
                     p.capacity, FormatDuration(r.latency.p50), FormatDuration(r.latency.p99),
                     FormatDuration(r.latency.max),
                     Percent(hot.local_utilisation) + "/" + Percent(hot.replicated_utilisation),
                     FormatDuration(r.convergence_lag));
  }
  o += "hot shard L/R: cluster 0's shard of the hottest key, local/replicated busy time over\n"
       "[0, converged]; arith cap/s: the sustained capacity the arithmetic gives (one key).\n";
  const HotKeyConfig& c = sw.base;
  for (ReplicationMode m : sw.modes) {
    const int best = cluster_sim::BestClusterCount(c, sw.max_clusters, m);
    if (m == ReplicationMode::kPerOp) {
      o += fmt::format(
          "per-op: capacity k/(s + (k-1)s_r) = {:.0f}/s at k=1, {:.0f}/s at k={}; highest at "
          "k={}{}\n",
          cluster_sim::CapacityWritesPerSecond(c, 1, m),
          cluster_sim::CapacityWritesPerSecond(c, sw.max_clusters, m), sw.max_clusters, best,
          best == 1 ? ":\n  more clusters never add capacity (each shard's replicated work "
                      "equals the local work saved)"
                    : "");
    } else {
      o += fmt::format(
          "coalesced: capacity k(T - (k-1)s_r)/(sT) with T = {}: highest at k={} of 1..{}\n",
          FormatDuration(c.coalesce_interval), best, sw.max_clusters);
    }
  }
  return o;
}

std::string RenderFigure(const HotKeySweep& sw) {
  const HotKeyConfig& c = sw.base;
  std::string o = fmt::format(
      "Figure 4-4: {} {} the hot key \"foo\" (slot {}) at t=0; a write takes {} on its "
      "shard.\n",
      Plural(c.writers, "writer"), c.writers == 1 ? "writes" : "write", cluster_sim::KeySlot("foo"),
      FormatDuration(c.service_time));
  // The book's numbers hold for its own setting only.
  const bool book = c.writers == 8 && c.service_time == SimTime(1000) &&
                    c.service_dist == ServiceDist::kConstant && c.ops_per_writer == 1 &&
                    c.keys == 1 && c.shards == 1 && c.arrival == Arrival::kBurst;
  for (const SweepPoint& p : sw.points) {
    if (p.mode != sw.modes.front()) continue;
    std::string check;
    if (book && (p.clusters == 1 || p.clusters == 2)) {
      const SimTime expected(p.clusters == 1 ? 8000 : 4000);
      check = fmt::format("   (book: {}, {})", FormatDuration(expected),
                          p.report.last_write == expected ? "ok" : "DIFFERENT");
    }
    // The writers of each cluster: "2 writers each" when they are spread evenly, else
    // each cluster's count ("2 + 1 writers").
    std::string writers = Plural(p.report.clusters[0].writers, "writer");
    bool even = true;
    for (const auto& cl : p.report.clusters)
      even = even && cl.writers == p.report.clusters[0].writers;
    if (p.clusters > 1 && even) {
      writers += " each";
    } else if (!even) {
      writers.clear();
      for (const auto& cl : p.report.clusters) {
        writers += (writers.empty() ? "" : " + ") + std::to_string(cl.writers);
      }
      writers += " writers";
    }
    o += fmt::format("  {:<11} {:<19} last write at {}{}\n", Plural(p.clusters, "cluster") + ":",
                     writers, FormatDuration(p.report.last_write), check);
  }
  o += "Only local writes count for completion. What replicated work then costs each shard:\n";
  for (const SweepPoint& p : sw.points) {
    if (p.clusters < 2) continue;
    const ShardStats& hot = p.report.HotShard(0);
    SimTime last_busy(0);
    for (int cl = 0; cl < p.clusters; ++cl) {
      last_busy = std::max(last_busy, p.report.HotShard(cl).busy_until);
    }
    o += fmt::format(
        "  {}, {}: {} carrying the other {} {} = {} of shard time;\n"
        "    the last shard is busy until {}; every cluster has {} at {}\n",
        ToString(p.mode), Plural(p.clusters, "cluster"),
        Plural(hot.replicated_applies, p.mode == ReplicationMode::kPerOp ? "effect" : "delta"),
        p.clusters == 2 ? "cluster's" : "clusters'", Plural(hot.replicated_effects, "write"),
        FormatDuration(hot.replicated_busy), FormatDuration(last_busy),
        p.report.writes == 1 ? std::string("the write") : "all " + Plural(p.report.writes, "write"),
        FormatDuration(p.report.converged_at));
  }
  return o;
}

// ---------------------------------------------------------------- JSON

nlohmann::ordered_json LatencyJson(const cluster_sim::LatencySummary& l) {
  return {
      {"count", l.count}, {"p50", l.p50.count()}, {"p99", l.p99.count()}, {"max", l.max.count()}};
}

nlohmann::ordered_json ConfigJson(const HotKeyConfig& c) {
  nlohmann::ordered_json j;
  j["writers"] = c.writers;
  j["shards"] = c.shards;
  j["service_time_us"] = c.service_time.count();
  j["service_dist"] = std::string(ToString(c.service_dist));
  j["replicated_service_time_us"] = c.ReplicatedServiceTime().count();
  j["link_latency_us"] = c.link_latency.count();
  j["keys"] = c.keys;
  j["hot_key"] = cluster_sim::HotKeyName(c, 0);
  j["hot_slot"] = cluster_sim::KeySlot(cluster_sim::HotKeyName(c, 0));
  if (c.keys > 1) j["zipf_s"] = c.zipf_s;
  j["arrival"] = std::string(ToString(c.arrival));
  if (c.duration) {
    j["duration_us"] = c.duration->count();
  } else {
    j["ops_per_writer"] = c.ops_per_writer;
  }
  if (c.arrival == Arrival::kOpenLoop) j["open_loop_interval_us"] = c.open_loop_interval.count();
  j["coalesce_interval_us"] = c.coalesce_interval.count();
  j["seed"] = c.seed;
  return j;
}

nlohmann::ordered_json RunJson(const SweepPoint& p) {
  const HotKeyReport& r = p.report;
  nlohmann::ordered_json j;
  j["clusters"] = p.clusters;
  j["mode"] = std::string(ToString(p.mode));
  j["writes"] = r.writes;
  j["last_write_us"] = r.last_write.count();
  j["throughput_writes_per_s"] = r.throughput;
  j["capacity_writes_per_s"] = p.capacity;
  j["latency_us"] = LatencyJson(r.latency);
  j["converged_at_us"] = r.converged_at.count();
  j["convergence_lag_us"] = r.convergence_lag.count();
  j["hot_shard"] = r.hot_shard;
  j["events"] = r.events;
  j["shard_operations"] = r.applies;
  j["per_cluster"] = nlohmann::ordered_json::array();
  for (const auto& cs : r.clusters) {
    j["per_cluster"].push_back({{"cluster", cs.cluster},
                                {"writers", cs.writers},
                                {"writes", cs.writes},
                                {"last_write_us", cs.last_write.count()},
                                {"latency_us", LatencyJson(cs.latency)},
                                {"applied_all_us", cs.applied_all.count()},
                                {"convergence_lag_us", cs.convergence_lag.count()}});
  }
  j["shards"] = nlohmann::ordered_json::array();  // shards that did any work
  for (const ShardStats& s : r.shards) {
    if (s.local_writes + s.replicated_applies == 0) continue;
    j["shards"].push_back({{"cluster", s.cluster},
                           {"shard", s.shard},
                           {"slots", {s.first_slot, s.last_slot}},
                           {"local_writes", s.local_writes},
                           {"replicated_applies", s.replicated_applies},
                           {"replicated_effects", s.replicated_effects},
                           {"local_busy_us", s.local_busy.count()},
                           {"replicated_busy_us", s.replicated_busy.count()},
                           {"busy_until_us", s.busy_until.count()},
                           {"local_utilisation", s.local_utilisation},
                           {"replicated_utilisation", s.replicated_utilisation}});
  }
  return j;
}

int RunHotkey(const HotkeyArgs& args) {
  Plan plan;
  try {
    plan = MakePlan(args);
  } catch (const BadOption& e) {
    std::cerr << "aasim hotkey: " << e.message << "\n";
    return kExitBadInput;
  }
  Result<HotKeySweep> sweep =
      cluster_sim::RunHotKeySweep(plan.config, plan.min_clusters, plan.max_clusters, plan.modes);
  if (!sweep.ok()) {
    std::cerr << "aasim hotkey: " << sweep.status().message() << "\n";
    return kExitBadInput;
  }
  const bool is_sweep = plan.max_clusters > plan.min_clusters;
  if (!args.svg.empty()) {
    std::ofstream out(args.svg, std::ios::binary | std::ios::trunc);
    out << cluster_sim::RenderSweepSvg(*sweep, plan.metric);
    out.close();
    if (!out) {
      std::cerr << "aasim hotkey: --svg: cannot write " << args.svg << ": " << std::strerror(errno)
                << "\n";
      return kExitBadInput;
    }
  }
  if (args.json) {
    nlohmann::ordered_json doc;
    doc["command"] = "hotkey";
    doc["preset"] = plan.figure ? nlohmann::ordered_json("figure-4-4") : nullptr;
    doc["config"] = ConfigJson(plan.config);
    doc["runs"] = nlohmann::ordered_json::array();
    for (const SweepPoint& p : sweep->points) doc["runs"].push_back(RunJson(p));
    if (is_sweep) {
      nlohmann::ordered_json best;
      for (ReplicationMode m : plan.modes) {
        best[std::string(ToString(m))] =
            cluster_sim::BestClusterCount(plan.config, plan.max_clusters, m);
      }
      doc["best_clusters_arith"] = best;
    }
    std::cout << JsonText(doc) << "\n";
  } else {
    std::cout << "aasim hotkey: " << DescribeConfig(plan.config) << "\n\n";
    if (plan.figure) std::cout << RenderFigure(*sweep) << "\n";
    if (is_sweep) {
      std::cout << RenderSweep(*sweep);
    } else {
      for (const SweepPoint& p : sweep->points) {
        std::cout << RenderRun(p.report);
        if (&p != &sweep->points.back()) std::cout << "\n";
      }
    }
    if (!args.svg.empty()) std::cout << "\nchart written to " << args.svg << "\n";
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace

CLI::App* AddHotkeyCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<HotkeyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "hotkey",
      "Benchmark hot-key write splitting (Redis Microservices For Dummies, Figure 4-4): writers "
      "of one hot key (or of Zipf-popular keys) spread over k Active/Active clusters; each shard "
      "is a single-threaded FIFO server, and every cluster must also apply the other clusters' "
      "writes. Prints the last write's completion, client latency, throughput, per-shard "
      "utilisation (local vs replicated work) and the convergence lag, for one cluster count or "
      "a sweep.\n"
      "Exit code: 0 done, 2 a bad option (nothing run).");
  cmd->footer(
      "\nExamples:\n"
      "  aasim hotkey --preset figure-4-4                 # the book: 8ms on 1 cluster, 4ms on 2\n"
      "  aasim hotkey --sweep 1..8 --writers 64 --ops-per-writer 200 --svg hotkey.svg\n"
      "  aasim hotkey --sweep 1..6 --rate 400 --duration 2s --replicated-service-time 250us\n"
      "  aasim hotkey --clusters 3 --shards 4 --keys 1000 --zipf 1.1 --service-dist exponential\n"
      "Durations need a unit: us, ms, s, min, h.");
  HotkeyArgs& a = *args;
  cmd->add_option("--preset", a.preset,
                  "figure-4-4: 8 writers, one key, 1ms writes, all at t=0, clusters 1..2 (other "
                  "options override it)")
      ->type_name("NAME");
  a.writers_opt = cmd->add_option("--writers", a.writers,
                                  "Writers, writer i -> cluster i % k "
                                  "(default 8)")
                      ->check(CLI::Range(1, 1000000));
  a.clusters_opt = cmd->add_option("--clusters", a.clusters, "Clusters, one run (default 2)")
                       ->check(CLI::Range(1, 1024));
  a.sweep_opt = cmd->add_option("--sweep", a.sweep,
                                "Run every cluster count FIRST..LAST (or 1..LAST) as a table")
                    ->type_name("FIRST..LAST")
                    ->excludes(a.clusters_opt);
  a.shards_opt = cmd->add_option("--shards", a.shards,
                                 "Shards per cluster; slots split in contiguous ranges (default 1)")
                     ->check(CLI::Range(1, 16384));
  a.service_time_opt = cmd->add_option("--service-time", a.service_time,
                                       "Shard time of one write (the mean if exponential; "
                                       "default 1ms)")
                           ->type_name("DUR");
  a.service_dist_opt =
      cmd->add_option("--service-dist", a.service_dist, "constant | exponential (default constant)")
          ->check(CLI::IsMember({"constant", "exponential"}));
  a.replicated_opt = cmd->add_option("--replicated-service-time", a.replicated_service_time,
                                     "Shard time to apply one replicated effect or delta "
                                     "(default: the service time)")
                         ->type_name("DUR");
  a.latency_opt =
      cmd->add_option("--latency", a.latency, "One-way link latency between clusters (default 0ms)")
          ->type_name("DUR");
  a.keys_opt = cmd->add_option("--keys", a.keys,
                               "Keys: 1 = the single hot key \"foo\"; more = Zipf-popular "
                               "key:0.. (default 1)")
                   ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  a.zipf_opt = cmd->add_option("--zipf", a.zipf, "Zipf exponent s for --keys > 1 (default 1)")
                   ->check(CLI::Range(0.0, 100.0));
  a.ops_opt =
      cmd->add_option("--ops-per-writer", a.ops_per_writer, "Writes per writer (default 100)")
          ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  a.duration_opt = cmd->add_option("--duration", a.duration,
                                   "Instead of a count: writers issue writes until this time")
                       ->type_name("DUR")
                       ->excludes(a.ops_opt);
  a.arrival_opt = cmd->add_option("--arrival", a.arrival,
                                  "burst (all at t=0) | closed (next write when the previous "
                                  "completes) | open (--rate); default closed")
                      ->check(CLI::IsMember({"burst", "closed", "open"}));
  a.rate_opt =
      cmd->add_option("--rate", a.rate, "Open loop: writes per second per writer, evenly spaced");
  a.mode_opt =
      cmd->add_option("--mode", a.mode, "per-op | coalesced | both (default per-op; a sweep: both)")
          ->check(CLI::IsMember({"per-op", "coalesced", "both"}));
  a.interval_opt = cmd->add_option("--coalesce-interval", a.coalesce_interval,
                                   "Coalesced: one delta per key per peer per interval "
                                   "(default 10ms)")
                       ->type_name("DUR");
  a.seed_opt = cmd->add_option("--seed", a.seed,
                               "Seed of the service-time and key draws "
                               "(default 1)")
                   ->check(aasim::SeedCheck());
  cmd->add_flag("--json", a.json, "Print one JSON document instead of tables");
  cmd->add_option("--svg", a.svg, "Write a chart of the sweep (needs --sweep or the preset)")
      ->type_name("FILE");
  a.chart_opt = cmd->add_option("--chart", a.chart,
                                "SVG metric: last-write | throughput (default: last-write for "
                                "a burst, else throughput)")
                    ->check(CLI::IsMember({"last-write", "throughput"}));
  cmd->callback([args, exit_code] { *exit_code = RunHotkey(*args); });
  return cmd;
}

}  // namespace aasim
