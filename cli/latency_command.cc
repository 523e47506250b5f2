#include "latency_command.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <unistd.h>

#include "cluster_sim/latency.h"
#include "cluster_sim/parallel.h"
#include "cluster_sim/time.h"
#include "options.h"
#include "report.h"

namespace aasim {
namespace {

using cluster_sim::LatencyHistogram;
using cluster_sim::LatencyReport;
using cluster_sim::SimTime;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

struct LatencyArgs {
  std::string file;
  std::optional<uint64_t> seed;
  std::string duration;
  std::optional<double> rate;
  std::string deployment;
  int jobs = 0;  // 0: one per core
  bool json = false;
  bool csv = false;
  bool quiet = false;
  std::string svg;
};

nlohmann::ordered_json HistogramJson(const LatencyHistogram& h) {
  nlohmann::ordered_json j;
  j["count"] = h.count();
  j["p50_us"] = h.Percentile(50).count();
  j["p95_us"] = h.Percentile(95).count();
  j["p99_us"] = h.Percentile(99).count();
  j["max_us"] = h.max().count();
  j["mean_us"] = h.mean_us();
  return j;
}

double Fraction(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

// "1:02:03" (hours, minutes, seconds) for the progress line.
std::string Hms(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

// Runs the config; on a terminal, with a progress line on stderr once the run has taken a
// second: virtual time done (summed over deployments), events per second of wall time and
// the time left, redrawn in place every quarter second and cleared at the end. Nothing is
// written when stderr is not a terminal (a pipe, a file, a test).
LatencyReport RunWithProgress(const cluster_sim::LatencyConfig& config, int jobs) {
  if (isatty(STDERR_FILENO) == 0) return cluster_sim::RunLatency(config, jobs);
  using std::chrono::steady_clock;
  cluster_sim::LatencyProgress progress;
  LatencyReport report;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread runner([&] {
    LatencyReport r = cluster_sim::RunLatency(config, jobs, &progress);
    const std::lock_guard<std::mutex> lock(mu);
    report = std::move(r);
    done = true;
    cv.notify_one();
  });
  const steady_clock::time_point start = steady_clock::now();
  const double total_s = static_cast<double>(config.duration.count()) / 1e6 *
                         static_cast<double>(config.deployments.size());
  bool shown = false;
  std::unique_lock<std::mutex> lock(mu);
  while (!cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return done; })) {
    const double elapsed = std::chrono::duration<double>(steady_clock::now() - start).count();
    if (elapsed < 1.0) continue;
    const double virtual_s = static_cast<double>(progress.virtual_us.load()) / 1e6;
    const double events = static_cast<double>(progress.events.load());
    const std::string eta = virtual_s > 0 ? Hms(elapsed * (total_s - virtual_s) / virtual_s) : "?";
    std::cerr
        << fmt::format(
               "\raasim latency: virtual time {} of {} ({:.0f}%), {:.1f}M events/s, ETA {}\033[K",
               Hms(virtual_s), Hms(total_s), 100 * virtual_s / total_s, events / elapsed / 1e6, eta)
        << std::flush;
    shown = true;
  }
  lock.unlock();
  runner.join();
  if (shown) std::cerr << "\r\033[K" << std::flush;
  return report;
}

int Run(const LatencyArgs& args) {
  auto loaded = cluster_sim::LoadLatencyFile(args.file);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return kExitBadInput;
  }
  cluster_sim::LatencyConfig config = std::move(loaded).value();
  cluster_sim::LatencyOverrides o;
  o.seed = args.seed;
  o.rate = args.rate;
  if (!args.duration.empty()) {
    o.duration = ParseOptionDuration(args.duration);
    if (!o.duration) {
      std::cerr << "aasim latency: --duration: expected a duration with a unit like \"1h\" (at "
                   "most 1000h), got \""
                << args.duration << "\"\n";
      return kExitBadInput;
    }
  }
  if (!args.deployment.empty()) o.deployment = args.deployment;
  cluster_sim::Status status = cluster_sim::ApplyLatencyOverrides(o, &config);
  if (!status.ok()) {
    std::cerr << "aasim latency: " << status.message() << "\n";
    return kExitBadInput;
  }
  const LatencyReport report =
      RunWithProgress(config, args.jobs > 0 ? args.jobs : cluster_sim::DefaultJobs());
  if (!args.svg.empty()) {
    std::ofstream out(args.svg, std::ios::binary | std::ios::trunc);
    out << cluster_sim::RenderLatencySvg(report);
    out.close();
    if (!out) {
      std::cerr << "aasim latency: --svg: cannot write " << args.svg << ": " << std::strerror(errno)
                << "\n";
      return kExitBadInput;
    }
  }
  if (args.json) {
    std::cout << JsonText(LatencyToJson(report)) << "\n";
  } else if (args.csv) {
    std::cout << cluster_sim::RenderLatencyCsv(report);
  } else {
    std::cout << cluster_sim::RenderLatencyText(report, args.quiet);
    if (!args.svg.empty()) std::cout << "chart written to " << args.svg << "\n";
  }
  std::cout.flush();
  return report.failures == 0 ? kExitOk : kExitFailed;
}

}  // namespace

bool IsLatencyFile(const std::string& path) {
  std::optional<std::string> text = cluster_sim::ReadTextFile(path);
  return text && cluster_sim::IsLatencyText(*text);
}

nlohmann::ordered_json LatencyToJson(const LatencyReport& report) {
  const cluster_sim::LatencyConfig& c = report.config;
  nlohmann::ordered_json j;
  j["kind"] = "latency";
  j["file"] = c.file;
  j["name"] = c.name;
  j["seed"] = c.seed;
  j["duration_us"] = c.duration.count();
  j["budget_us"] = c.budget.count();
  j["shards"] = c.shards;
  j["service_time_us"] = c.service_time.count();
  j["replicated_service_time_us"] = c.ReplicatedServiceTime().count();
  j["keys"] = c.keys;
  j["zipf"] = c.zipf;
  j["arrivals"] = c.arrivals == cluster_sim::ArrivalProcess::kPoisson ? "poisson" : "uniform";
  j["jitter_us"] = c.jitter.count();
  j["loss"] = c.loss;
  j["regions"] = nlohmann::ordered_json::array();
  for (size_t r = 0; r < c.regions.size(); ++r) {
    nlohmann::ordered_json region;
    region["name"] = c.regions[r].name;
    region["rate"] = c.regions[r].workload.rate;
    region["calls"] = c.regions[r].workload.calls;
    region["reads"] = c.regions[r].workload.reads;
    nlohmann::ordered_json rtt = nlohmann::ordered_json::object();
    for (size_t o = 0; o < c.regions.size(); ++o) rtt[c.regions[o].name] = c.rtt[r][o].count();
    region["rtt_us"] = rtt;
    j["regions"].push_back(region);
  }
  j["deployments"] = nlohmann::ordered_json::array();
  for (const cluster_sim::DeploymentResult& d : report.deployments) {
    nlohmann::ordered_json dj;
    dj["deployment"] = c.DeploymentName(d.deployment);
    dj["writes_accepted"] = d.writes_accepted;
    dj["copies"] = d.copies;
    dj["nothing_lost"] = d.nothing_lost;
    dj["events"] = d.events;
    dj["end_us"] = d.end.count();
    dj["regions"] = nlohmann::ordered_json::array();
    for (const cluster_sim::RegionResult& r : d.regions) {
      nlohmann::ordered_json rj;
      rj["region"] = c.regions[static_cast<size_t>(r.region)].name;
      rj["requests"] = r.requests;
      rj["failed"] = r.failed;
      rj["latency"] = HistogramJson(r.latency);
      rj["over_budget"] = r.over_budget;
      rj["over_budget_fraction"] = Fraction(r.over_budget, r.requests);
      rj["replication_lag"] = HistogramJson(r.lag);
      rj["reads"] = r.reads;
      rj["stale_reads"] = r.stale_reads;
      rj["stale_fraction"] = Fraction(r.stale_reads, r.reads);
      rj["writes"] = r.writes;
      rj["conflicting_pairs"] = r.conflicting_pairs;
      rj["rerouted_calls"] = r.rerouted_calls;
      rj["writes_present"] = r.writes_present;
      dj["regions"].push_back(rj);
    }
    dj["resyncs"] = nlohmann::ordered_json::array();
    for (const cluster_sim::ResyncResult& rr : d.resyncs) {
      nlohmann::ordered_json x;
      x["region"] = c.regions[static_cast<size_t>(rr.region)].name;
      x["from_us"] = rr.from.count();
      x["to_us"] = rr.to.count();
      x["backlog"] = rr.backlog;
      x["resynced_at_us"] = rr.resynced_at.count();
      x["resync_time_us"] = rr.resync_time.count();
      dj["resyncs"].push_back(x);
    }
    j["deployments"].push_back(dj);
  }
  j["checks"] = nlohmann::ordered_json::array();
  for (const cluster_sim::ExpectationResult& check : report.checks) {
    const cluster_sim::LatencyExpectation& x = c.expectations[static_cast<size_t>(check.index)];
    nlohmann::ordered_json cj;
    cj["line"] = x.mark.line;
    cj["deployment"] = c.DeploymentName(x.deployment);
    cj["region"] = c.regions[static_cast<size_t>(check.region)].name;
    cj["metric"] = x.metric;
    cj["bound"] = x.is_max ? "max" : "min";
    cj["value"] = x.value;
    cj["actual"] = check.actual;
    cj["ok"] = check.ok;
    j["checks"].push_back(cj);
  }
  j["failures"] = report.failures;
  j["digest"] = fmt::format("{:016x}", report.digest);
  return j;
}

CLI::App* AddLatencyCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LatencyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "latency",
      "Compare regional latencies (Redis Microservices For Dummies, chapter 4, Figures 4-1 and "
      "4-2): what users in each region wait with Active/Active, one far primary, or a primary "
      "with local read replicas, and what is given up (stale reads, conflicting writes, "
      "replication lag). Requests run through a discrete-event model: seeded open-loop "
      "arrivals, sequential database calls over the links, FIFO shard queues and real "
      "replication messages; a region_down event shows failover and the region's "
      "resynchronisation.\n"
      "Deployments run at once on separate threads (--jobs), with the same output as one "
      "by one. When a run takes more than a second and stderr is a terminal, a progress "
      "line there shows the virtual time done, events per second and the time left; it is "
      "cleared at the end, and never written to a pipe or a file.\n"
      "Exit code: 0 every expectation held and nothing was lost, 1 otherwise, 2 a bad file "
      "or option (FILE:LINE:COL: message, nothing run).");
  cmd->footer(
      "\nExamples:\n"
      "  aasim latency scenarios/latency-three-regions.yaml\n"
      "  aasim latency scenarios/latency-failover.yaml --svg failover.svg\n"
      "  aasim latency scenarios/latency-three-regions.yaml --duration 1h --rate 10000 -q\n"
      "See docs/scenarios.md (Latency files) for the file format, README.md (Latency "
      "comparison) for the model and every column.");
  LatencyArgs& a = *args;
  cmd->add_option("file", a.file, "Latency file (YAML with a top-level `deployments:`)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--seed", a.seed, "Seed (overrides the file's; same seed, same output)")
      ->check(aasim::SeedCheck());
  cmd->add_option("--duration", a.duration,
                  "Arrivals for this long of virtual time (overrides the file's `duration`)")
      ->type_name("DUR");
  cmd->add_option("--rate", a.rate,
                  "Requests per second in every region: 0, or 1e-6 to 1e9 (overrides the file)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--deployment", a.deployment,
                  "Run only this deployment, named as printed (\"single-primary us-east\") or, "
                  "as in `expect:`, by its kind when no other deployment is of that kind")
      ->type_name("NAME");
  cmd->add_option("--jobs", a.jobs,
                  "Deployments run at once, one thread each (default: one per core; the same "
                  "output with any)")
      ->check(CLI::Range(1, 256));
  CLI::Option* json = cmd->add_flag("--json", a.json, "Print one JSON document instead");
  cmd->add_flag("--csv", a.csv, "Print CSV (one row per deployment and region) instead")
      ->excludes(json);
  cmd->add_flag("-q,--quiet", a.quiet, "Print only failed expectations and the summary line");
  cmd->add_option("--svg", a.svg,
                  "Write a chart: per region, the latency distribution of every deployment")
      ->type_name("FILE");
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
  return cmd;
}

}  // namespace aasim
