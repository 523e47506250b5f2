#include "anomalies_command.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cluster_sim/anomalies.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/time.h"
#include "lending/lending_service.h"
#include "report.h"
#include "shards.h"

namespace aasim {
namespace {

using cluster_sim::AnomalyConfig;
using cluster_sim::AnomalyPoint;
using cluster_sim::Plural;
using cluster_sim::SimTime;
using Json = nlohmann::ordered_json;

struct AnomaliesArgs {
  std::string workload = "overdraft";
  // --strategies as given; empty: all three (the model skips bounded for lending).
  std::vector<std::string> strategies;
  std::string policy = "none";
  std::string latency = "50ms";
  std::string loss = "0";
  std::string rate = "1";
  std::string regions = "2";
  int steps = 5;
  int accounts = 10;
  int requests = 10'000;
  uint64_t seed = 1;
  int threads = 0;
  std::string shard;
  bool json = false;
  bool csv = false;
  std::string svg;
  std::vector<std::string> merge_files;
};

struct BadOption {
  std::string message;
};

// "A,B,LO..HI": values, a range giving `steps` evenly spaced values (every integer when
// `integers`).
template <typename T, typename Parse>
std::vector<T> ParseSweep(const std::string& option, const std::string& text, int steps,
                          bool integers, Parse parse, auto to_double, auto from_double) {
  std::vector<T> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t dots = item.find("..");
    if (dots == std::string::npos) {
      out.push_back(parse(item));
      continue;
    }
    const T lo = parse(item.substr(0, dots)), hi = parse(item.substr(dots + 2));
    const double a = to_double(lo), b = to_double(hi);
    if (b < a) throw BadOption{option + ": range " + item + " goes down"};
    if (integers) {
      for (double v = a; v <= b; ++v) out.push_back(from_double(v));
    } else {
      for (int i = 0; i < steps; ++i) {
        out.push_back(from_double(steps == 1 ? a : a + (b - a) * i / (steps - 1)));
      }
    }
  }
  if (out.empty() || out.size() > 1000) throw BadOption{option + ": expected 1 to 1000 values"};
  return out;
}

double ParseNumber(const std::string& option, const std::string& s, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
    throw BadOption{
        fmt::format("{}: expected a number in [{}, {}], got \"{}\"", option, lo, hi, s)};
  }
  return v;
}

AnomalyConfig MakeConfig(const AnomaliesArgs& a) {
  AnomalyConfig c;
  if (!cluster_sim::ParseWorkload(a.workload, &c.workload)) {
    throw BadOption{"--workload: expected overdraft or lending, got \"" + a.workload + "\""};
  }
  c.strategies.clear();
  for (const std::string& s : a.strategies) {
    cluster_sim::AnomalyStrategy st;
    if (!cluster_sim::ParseStrategy(s, &st)) {
      throw BadOption{"--strategies: expected active-active, home or bounded, got \"" + s + "\""};
    }
    // The model would skip it: an empty table, or a strategy silently missing from it.
    if (st == cluster_sim::AnomalyStrategy::kBounded &&
        c.workload != cluster_sim::AnomalyWorkload::kOverdraft) {
      throw BadOption{
          "--strategies bounded: only for --workload overdraft (the lending service keeps no "
          "counter a bounded counter could replace)"};
    }
    c.strategies.push_back(st);
  }
  if (a.strategies.empty()) {
    c.strategies = {cluster_sim::AnomalyStrategy::kActiveActive,
                    cluster_sim::AnomalyStrategy::kHome, cluster_sim::AnomalyStrategy::kBounded};
  }
  if (!cluster_sim::ParseBcPolicy(a.policy, &c.policy)) {
    throw BadOption{"--policy: expected none, proportional or on-demand, got \"" + a.policy + "\""};
  }
  if (a.steps < 1 || a.steps > 100) throw BadOption{"--steps: expected 1 to 100"};
  auto ident = [](double v) { return v; };
  c.latencies = ParseSweep<SimTime>(
      "--latency", a.latency, a.steps, false,
      [](const std::string& s) {
        std::optional<SimTime> d = cluster_sim::ParseDuration(s);
        if (!d || *d < SimTime(0) || *d > SimTime(60'000'000)) {
          throw BadOption{"--latency: expected a duration like \"50ms\" (at most 60s), got \"" + s +
                          "\""};
        }
        return *d;
      },
      [](SimTime t) { return static_cast<double>(t.count()); },
      [](double v) { return SimTime(static_cast<int64_t>(std::llround(v))); });
  c.losses = ParseSweep<double>(
      "--loss", a.loss, a.steps, false,
      [](const std::string& s) { return ParseNumber("--loss", s, 0, 0.9); }, ident, ident);
  c.rates = ParseSweep<double>(
      "--rate", a.rate, a.steps, false,
      [](const std::string& s) { return ParseNumber("--rate", s, 0.001, 10000); }, ident, ident);
  c.regions = ParseSweep<int>(
      "--regions", a.regions, a.steps, true,
      [](const std::string& s) { return static_cast<int>(ParseNumber("--regions", s, 1, 16)); },
      [](int v) { return static_cast<double>(v); }, [](double v) { return static_cast<int>(v); });
  for (int r : c.regions) {
    if (r != static_cast<int>(r) || r < 1) throw BadOption{"--regions: expected integers"};
  }
  if (a.accounts < 1 || a.accounts > 10000) throw BadOption{"--accounts: expected 1 to 10000"};
  if (a.requests < 1 || a.requests > 10'000'000) {
    throw BadOption{"--requests: expected 1 to 10000000"};
  }
  c.accounts = a.accounts;
  c.requests = a.requests;
  c.seed = a.seed;
  c.lending = [] { return lending::NewLendingService(); };
  return c;
}

// ------------------------------------------------------------------ JSON

Json ConfigJson(const AnomalyConfig& c) {
  Json j;
  j["workload"] = std::string(ToString(c.workload));
  j["strategies"] = Json::array();
  for (auto s : c.strategies) j["strategies"].push_back(std::string(ToString(s)));
  j["policy"] = std::string(ToString(c.policy));
  j["latencies_us"] = Json::array();
  for (SimTime t : c.latencies) j["latencies_us"].push_back(t.count());
  j["losses"] = c.losses;
  j["rates"] = c.rates;
  j["regions"] = c.regions;
  j["accounts"] = c.accounts;
  j["requests"] = c.requests;
  j["seed"] = c.seed;
  return j;
}

AnomalyConfig ConfigFromJson(const Json& j) {
  AnomalyConfig c;
  cluster_sim::ParseWorkload(j.at("workload").get<std::string>(), &c.workload);
  c.strategies.clear();
  for (const auto& s : j.at("strategies")) {
    cluster_sim::AnomalyStrategy st;
    cluster_sim::ParseStrategy(s.get<std::string>(), &st);
    c.strategies.push_back(st);
  }
  cluster_sim::ParseBcPolicy(j.at("policy").get<std::string>(), &c.policy);
  c.latencies.clear();
  for (const auto& t : j.at("latencies_us")) c.latencies.push_back(SimTime(t.get<int64_t>()));
  c.losses = j.at("losses").get<std::vector<double>>();
  c.rates = j.at("rates").get<std::vector<double>>();
  c.regions = j.at("regions").get<std::vector<int>>();
  c.accounts = j.at("accounts").get<int>();
  c.requests = j.at("requests").get<int>();
  c.seed = j.at("seed").get<uint64_t>();
  return c;
}

Json PointJson(const AnomalyPoint& p) {
  Json j;
  j["index"] = p.index;
  j["strategy"] = std::string(ToString(p.strategy));
  j["regions"] = p.regions;
  j["latency_us"] = p.latency.count();
  j["loss"] = p.loss;
  j["rate"] = p.rate;
  j["requests"] = p.requests;
  j["violations"] = p.total_violations();
  double lo = 0, hi = 0;
  cluster_sim::WilsonInterval(p.total_violations(), p.requests, &lo, &hi);
  const double n = static_cast<double>(std::max<uint64_t>(p.requests, 1));
  j["violations_per_10k"] = 1e4 * static_cast<double>(p.total_violations()) / n;
  j["wilson95_per_10k"] = {1e4 * lo, 1e4 * hi};
  j["by_invariant"] = Json::object();
  for (const auto& [name, k] : p.violations) j["by_invariant"][name] = k;
  j["refused"] = p.refused;
  j["latency_p50_us"] = p.p50.count();
  j["latency_p99_us"] = p.p99.count();
  j["latency_max_us"] = p.max.count();
  j["withdrawals"] = p.withdrawals;
  j["concurrent"] = p.concurrent;
  j["concurrent_model"] = p.model_concurrent();
  j["transfers"] = p.transfers;
  return j;
}

AnomalyPoint PointFromJson(const Json& j) {
  AnomalyPoint p;
  p.index = j.at("index").get<int>();
  cluster_sim::ParseStrategy(j.at("strategy").get<std::string>(), &p.strategy);
  p.regions = j.at("regions").get<int>();
  p.latency = SimTime(j.at("latency_us").get<int64_t>());
  p.loss = j.at("loss").get<double>();
  p.rate = j.at("rate").get<double>();
  p.requests = j.at("requests").get<uint64_t>();
  for (const auto& [name, k] : j.at("by_invariant").items()) p.violations[name] = k.get<uint64_t>();
  p.refused = j.at("refused").get<uint64_t>();
  p.p50 = SimTime(j.at("latency_p50_us").get<int64_t>());
  p.p99 = SimTime(j.at("latency_p99_us").get<int64_t>());
  p.max = SimTime(j.at("latency_max_us").get<int64_t>());
  p.withdrawals = j.at("withdrawals").get<uint64_t>();
  p.concurrent = j.at("concurrent").get<uint64_t>();
  p.transfers = j.at("transfers").get<uint64_t>();
  return p;
}

Json ReportJson(const AnomalyConfig& c, const Shard& shard, const std::vector<AnomalyPoint>& pts) {
  Json doc;
  doc["config"] = ConfigJson(c);
  SetShard(shard, &doc);
  doc["confidence_interval"] = "Wilson score, 95%, on violations / requests";
  doc["points"] = Json::array();
  for (const AnomalyPoint& p : pts) doc["points"].push_back(PointJson(p));
  return doc;
}

// ------------------------------------------------------------------ text, CSV

std::string Ms(SimTime t) { return cluster_sim::FormatDuration(t); }

// A lending invariant's column: its whole name, and room for a count of 8 digits.
size_t InvariantWidth(std::string_view name) { return std::max<size_t>(name.size(), 8); }

// The table's header says what --requests means: lending runs exactly that many requests per
// point; overdraft's Poisson arrivals run for the time that many take on average, so a
// point holds about that many (its own count is in the requests column).
std::string RenderTable(const AnomalyConfig& c, const std::vector<AnomalyPoint>& pts) {
  const bool overdraft = c.workload == cluster_sim::AnomalyWorkload::kOverdraft;
  std::string o =
      fmt::format("anomalies: workload {}, {} per point{}, seed {}{}\n", ToString(c.workload),
                  (overdraft ? "about " : "") + Plural(c.requests, "request"),
                  overdraft ? " (Poisson arrivals)" : "", c.seed,
                  overdraft ? fmt::format(", {}, bounded policy {}", Plural(c.accounts, "account"),
                                          ToString(c.policy))
                            : "");
  o += "violations per 10,000 requests with a 95% Wilson interval; latency a request adds "
       "over a local one\n";
  // Each point's violations and interval; their column widens past 22 characters when one
  // needs it ("3850.0 [3203.3, 4540.0]"), so that the columns after it stay aligned.
  std::vector<std::string> rates;
  size_t rate_width = 22;
  for (const AnomalyPoint& p : pts) {
    double lo = 0, hi = 0;
    cluster_sim::WilsonInterval(p.total_violations(), p.requests, &lo, &hi);
    const double n = static_cast<double>(std::max<uint64_t>(p.requests, 1));
    rates.push_back(fmt::format("{:.1f} [{:.1f}, {:.1f}]",
                                1e4 * static_cast<double>(p.total_violations()) / n, 1e4 * lo,
                                1e4 * hi));
    rate_width = std::max(rate_width, rates.back().size());
  }
  o += fmt::format("{:>3} {:>8} {:>5} {:>7} {:<14} {:>8} {:>{}} {:>8} {:>8} {:>7}", "R", "latency",
                   "loss", "rate", "strategy", "requests", "violations/10k [95%]", rate_width,
                   "p50", "p99", "refused");
  if (overdraft) {
    o += fmt::format(" {:>17} {:>9}", "concurrent: sim", "model");
  } else {
    for (std::string_view name : cluster_sim::kLendingInvariants) {
      o += fmt::format(" {:>{}}", name, InvariantWidth(name));
    }
  }
  o += "\n";
  for (size_t i = 0; i < pts.size(); ++i) {
    const AnomalyPoint& p = pts[i];
    o += fmt::format("{:>3} {:>8} {:>5} {:>7} {:<14} {:>8} {:>{}} {:>8} {:>8} {:>7}", p.regions,
                     Ms(p.latency), fmt::format("{:g}", p.loss), fmt::format("{:g}", p.rate),
                     ToString(p.strategy), p.requests, rates[i], rate_width, Ms(p.p50), Ms(p.p99),
                     p.refused);
    if (overdraft) {
      const double w = static_cast<double>(std::max<uint64_t>(p.withdrawals, 1));
      o +=
          fmt::format(" {:>17} {:>9}", fmt::format("{:.4f}", static_cast<double>(p.concurrent) / w),
                      fmt::format("{:.4f}", p.model_concurrent()));
    } else {
      for (std::string_view name : cluster_sim::kLendingInvariants) {
        auto it = p.violations.find(std::string(name));
        o +=
            fmt::format(" {:>{}}", it == p.violations.end() ? 0 : it->second, InvariantWidth(name));
      }
    }
    o += "\n";
  }
  return o;
}

std::string RenderCsv(const AnomalyConfig& c, const std::vector<AnomalyPoint>& pts) {
  std::string o =
      "workload,strategy,policy,regions,latency_us,loss,rate,requests,violations,"
      "violations_per_10k,wilson95_lo,wilson95_hi,refused,p50_us,p99_us,withdrawals,concurrent,"
      "concurrent_model";
  for (std::string_view name : cluster_sim::kLendingInvariants) o += "," + std::string(name);
  o += "\n";
  for (const AnomalyPoint& p : pts) {
    double lo = 0, hi = 0;
    cluster_sim::WilsonInterval(p.total_violations(), p.requests, &lo, &hi);
    const double n = static_cast<double>(std::max<uint64_t>(p.requests, 1));
    o += fmt::format("{},{},{},{},{},{:g},{:g},{},{},{:.3f},{:.3f},{:.3f},{},{},{},{},{},{:.6f}",
                     ToString(c.workload), ToString(p.strategy), ToString(c.policy), p.regions,
                     p.latency.count(), p.loss, p.rate, p.requests, p.total_violations(),
                     1e4 * static_cast<double>(p.total_violations()) / n, 1e4 * lo, 1e4 * hi,
                     p.refused, p.p50.count(), p.p99.count(), p.withdrawals, p.concurrent,
                     p.model_concurrent());
    for (std::string_view name : cluster_sim::kLendingInvariants) {
      auto it = p.violations.find(std::string(name));
      o += fmt::format(",{}", it == p.violations.end() ? 0 : it->second);
    }
    o += "\n";
  }
  return o;
}

// Prints a report (from a run or a merge): JSON, CSV or the table, and the SVG file.
int Output(const AnomaliesArgs& a, const Json& doc) {
  if (a.json) {
    std::cout << JsonText(doc) << "\n";
  }
  AnomalyConfig c = ConfigFromJson(doc["config"]);
  std::vector<AnomalyPoint> pts;
  for (const Json& p : doc["points"]) pts.push_back(PointFromJson(p));
  if (a.csv) {
    std::cout << RenderCsv(c, pts);
  } else if (!a.json) {
    std::cout << RenderTable(c, pts);
  }
  if (!a.svg.empty()) {
    std::ofstream out(a.svg, std::ios::binary);
    out << cluster_sim::RenderAnomaliesSvg(c, pts);
    if (!out) {
      std::cerr << "aasim anomalies: --svg: cannot write " << a.svg << ": " << std::strerror(errno)
                << "\n";
      return 2;
    }
  }
  return 0;
}

int RunAnomaliesCommand(const AnomaliesArgs& a) {
  AnomalyConfig c;
  Shard shard;
  try {
    c = MakeConfig(a);
    if (!a.shard.empty()) {
      std::optional<Shard> s = ParseShard(a.shard);
      if (!s)
        throw BadOption{"--shard: expected I/N with 0 <= I < N, like 0/2, got \"" + a.shard + "\""};
      shard = *s;
    }
    if (a.threads < 0 || a.threads > 256) throw BadOption{"--threads: expected 0 to 256"};
  } catch (const BadOption& e) {
    std::cerr << "aasim anomalies: " << e.message << "\n";
    return 2;
  }
  const int threads = a.threads > 0
                          ? a.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::function<void(int, int)> progress;
  std::mutex mu;
  if (isatty(STDERR_FILENO)) {
    progress = [&mu](int done, int total) {
      std::lock_guard<std::mutex> lock(mu);
      std::cerr << "\r" << done << "/" << total << " points" << (done == total ? "\n" : "")
                << std::flush;
    };
  }
  std::vector<AnomalyPoint> pts = cluster_sim::RunAnomalies(
      c, threads, static_cast<int>(shard.index), static_cast<int>(shard.count), progress);
  return Output(a, ReportJson(c, shard, pts));
}

int MergeCommand(const AnomaliesArgs& a) {
  std::vector<Json> docs;
  for (const std::string& f : a.merge_files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::cerr << "aasim anomalies merge: " << f << ": cannot read file: " << std::strerror(errno)
                << "\n";
      return 2;
    }
    try {
      docs.push_back(Json::parse(in));
      ConfigFromJson(docs.back().at("config"));
      for (const Json& p : docs.back().at("points")) PointFromJson(p);
    } catch (const std::exception& e) {
      std::cerr << "aasim anomalies merge: " << f
                << ": not an anomalies --json report: " << e.what() << "\n";
      return 2;
    }
  }
  Json merged;
  std::string error;
  if (!MergeShards(docs, "points", "index", {}, &merged, &error)) {
    std::cerr << "aasim anomalies merge: " << error << "\n";
    return 2;
  }
  return Output(a, merged);
}

void AddOutputOptions(CLI::App* cmd, AnomaliesArgs* a) {
  cmd->add_flag("--json", a->json, "Print the report as one JSON document (what merge reads)");
  cmd->add_flag("--csv", a->csv, "Print one CSV row per point");
  cmd->add_option("--svg", a->svg, "Write a chart: violations vs latency, one line per strategy")
      ->type_name("OUT.svg");
}

}  // namespace

CLI::App* AddAnomaliesCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<AnomaliesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "anomalies",
      "Measure how often Active/Active breaks an invariant (overdraft: balance >= 0; lending: "
      "each of the lending service's invariants) under generated traffic, and what each "
      "remedy costs: plain active-active, home-region routing (a round trip), bounded "
      "counters (refusals, transfers). Sweeps over link latency, loss, request rate and "
      "regions; violations per 10,000 requests with a 95% Wilson interval, p50/p99 added "
      "latency, refused requests.\nExit code: 0 done, 2 a bad option or file.");
  cmd->footer(
      "\nSweep values: a list (5ms,50ms), a range LO..HI (--steps values, evenly spaced; "
      "every integer for --regions), or both.\n"
      "Examples:\n"
      "  aasim anomalies --latency 5ms..300ms --requests 2000\n"
      "  aasim anomalies --workload lending --latency 10ms,100ms --requests 300\n"
      "  aasim anomalies --policy on-demand --strategies bounded --rate 1,4\n"
      "  aasim anomalies --latency 5ms..300ms --shard 0/2 --json > a.json   # one machine\n"
      "  aasim anomalies merge a.json b.json                                # all shards");
  cmd->require_subcommand(0, 1);
  cmd->add_option("--workload", a->workload, "overdraft or lending");
  cmd->add_option("--strategies", a->strategies,
                  "active-active, home, bounded (default: all three; bounded only with --workload "
                  "overdraft)")
      ->delimiter(',');
  cmd->add_option("--policy", a->policy,
                  "Bounded-counter rebalancing: none, proportional or on-demand");
  cmd->add_option("--latency", a->latency, "One-way link latency (sweep), e.g. 5ms..300ms");
  cmd->add_option("--loss", a->loss, "Message loss probability on every link (sweep)");
  cmd->add_option("--rate", a->rate,
                  "Requests per second: overdraft, withdrawals per region per account (deposits "
                  "as many again); lending, requests per region (sweep)");
  cmd->add_option("--regions", a->regions, "Number of regions (sweep), e.g. 2..4");
  cmd->add_option("--steps", a->steps, "Values per LO..HI range (default 5)");
  cmd->add_option("--accounts", a->accounts, "Overdraft: number of accounts");
  cmd->add_option("--requests", a->requests,
                  "Requests per point: exactly that many for lending; for overdraft, whose "
                  "arrivals are Poisson, the time that many take on average (a point holds "
                  "about that many)");
  cmd->add_option("--seed", a->seed, "Seed (every point forks its own generator from it)");
  cmd->add_option("--threads", a->threads, "Worker threads (0: one per core); same output");
  cmd->add_option("--shard", a->shard,
                  "Run only shard I of N (points i with i % N == I; 0 <= I < N)");
  AddOutputOptions(cmd, a.get());
  CLI::App* merge = cmd->add_subcommand(
      "merge", "Merge the --json reports of every shard into the report of one run");
  merge->add_option("files", a->merge_files, "Shard reports (--json)")->required();
  AddOutputOptions(merge, a.get());
  cmd->callback([a, exit_code, merge] {
    *exit_code = merge->parsed() ? MergeCommand(*a) : RunAnomaliesCommand(*a);
  });
  return cmd;
}

}  // namespace aasim
