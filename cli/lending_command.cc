#include "lending_command.h"

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cluster_sim/anomalies.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/time.h"
#include "lending/lending_service.h"
#include "options.h"
#include "report.h"

namespace aasim {
namespace {

using cluster_sim::Plural;

struct LendingArgs {
  std::vector<std::string> regions = {"A", "B"};
  std::string latency = "50ms";
  int instances = 1;
  int users = 20;
  int books = 60;
  int requests = 200;
  std::string interval = "10ms";
  bool home_routing = false;
  uint64_t seed = 1;
  bool table = false;
  std::string streams = "local";  // or a replicated streams' id mode
};

bool ValidName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

int RunLending(const LendingArgs& a) {
  auto bad = [](const std::string& m) {
    std::cerr << "aasim lending: " << m << "\n";
    return 2;
  };
  std::optional<cluster_sim::SimTime> latency = ParseOptionDuration(a.latency);
  std::optional<cluster_sim::SimTime> interval = ParseOptionDuration(a.interval);
  if (!latency) {
    return bad("--latency: expected a duration like \"50ms\" (at most 1000h), got \"" + a.latency +
               "\"");
  }
  if (!interval) {
    return bad("--interval: expected a duration like \"10ms\" (at most 1000h), got \"" +
               a.interval + "\"");
  }
  if (a.regions.size() > cluster_sim::kMaxRegions) {
    return bad("--regions: at most " + std::to_string(cluster_sim::kMaxRegions) + " regions, got " +
               std::to_string(a.regions.size()));
  }
  std::map<std::string, int> seen;
  for (const std::string& r : a.regions) {
    if (!ValidName(r)) return bad("--regions: bad region name '" + r + "' (letters, digits, -, _)");
    if (seen[r]++ > 0) return bad("--regions: region '" + r + "' given twice");
  }
  if (a.instances < 1 || a.instances > 64) return bad("--instances: expected 1 to 64");
  if (a.users < 1 || a.books < 1 || a.requests < 1) {
    return bad("--users, --books and --requests must be at least 1");
  }
  if (a.requests > 10'000'000) return bad("--requests: at most 10000000");

  cluster_sim::LendingTraffic traffic;
  traffic.regions = a.regions;
  traffic.latency = *latency;
  traffic.instances = a.instances;
  traffic.users = a.users;
  traffic.books = a.books;
  traffic.requests = a.requests;
  traffic.interval = *interval;
  traffic.home_routing = a.home_routing;
  traffic.seed = a.seed;
  cluster_sim::Scenario sc = cluster_sim::MakeLendingScenario(traffic);
  sc.file = "(aasim lending)";
  sc.streams.replicate = a.streams != "local";
  if (sc.streams.replicate) sc.streams.id_mode = *crdt::ParseStreamIdMode(a.streams);
  sc.name = fmt::format("Lending in {}{}", Plural(a.regions.size(), "region"),
                        a.home_routing ? ", each user's requests routed to the home region" : "");

  cluster_sim::RunOptions options;
  options.services["lending"] = [] { return lending::NewLendingService(); };
  cluster_sim::RunReport report = cluster_sim::RunScenario(sc, options);
  if (a.table) {
    RenderOptions ro;
    std::cout << RenderText(report, ro) << "\n";
  }

  // Outcomes per region, routing cost, then the invariants after sync.
  std::map<std::string, std::map<std::string, int>> outcomes;
  int routed = 0;
  cluster_sim::SimTime routed_cost{0};
  for (size_t i = 0; i < report.steps.size(); ++i) {
    const cluster_sim::StepReport& s = report.steps[i];
    const cluster_sim::Step& step = sc.steps[i];
    if (step.kind != cluster_sim::Step::Kind::kService || step.text.rfind("start", 0) == 0) {
      continue;
    }
    if (s.reply) outcomes[s.region][s.reply->str]++;
    if (!step.from_region.empty()) {
      ++routed;
      routed_cost += 2 * *latency;  // every link has --latency, both ways
    }
  }
  std::cout << fmt::format("lending: {} ({} each), {}, {}, {}, one every {}, seed {}\n",
                           Plural(a.regions.size(), "region"), Plural(a.instances, "instance"),
                           Plural(a.users, "user"), Plural(a.books, "book"),
                           Plural(a.requests, "request"), cluster_sim::FormatDuration(*interval),
                           a.seed);
  for (const std::string& r : a.regions) {
    std::string line;
    for (const auto& [outcome, n] : outcomes[r]) {
      line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, outcome);
    }
    std::cout << fmt::format("  {}: {}\n", r, line.empty() ? "no requests" : line);
  }
  if (a.home_routing) {
    std::cout << fmt::format("  routed to the home region: {}, +{} of round trips in all\n",
                             Plural(routed, "request"), cluster_sim::FormatDuration(routed_cost));
  }
  const cluster_sim::StepReport& last = report.steps.back();
  if (sc.streams.replicate) {
    // Every region's consumer group reads every region's entries: a request is handled
    // in each region whose instances read it (the Ledger's "handled twice" lines).
    size_t twice = 0;
    for (const std::string& l : last.output) twice += l.rfind("stream entry ", 0) == 0;
    std::cout << fmt::format("  replicated streams ({} ids): {} handled in more than one region\n",
                             a.streams, Plural(twice, "entry", "entries"));
  }
  std::cout << fmt::format("after sync: {}\n",
                           last.output.empty() ? std::string("every invariant holds")
                                               : Plural(last.output.size(), "broken invariant"));
  for (const std::string& l : last.output) std::cout << "  " << l << "\n";
  std::cout << fmt::format(
      "virtual time {}; {}; seed {}; digest {}\n", cluster_sim::FormatDuration(report.end_time),
      Plural(report.events, "event"), report.seed, cluster_sim::FormatDigest(report.digest));
  return last.output.empty() ? 0 : 1;
}

}  // namespace

CLI::App* AddLendingCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LendingArgs>();
  CLI::App* cmd = app.add_subcommand(
      "lending",
      "Run the book's lending service (chapter 5) in every region under generated traffic, "
      "sync, and report what Active/Active did to its invariants (a book lent twice, a user "
      "over 5 books, counts that disagree with lent_books).\nExit code: 0 every invariant "
      "held, 1 some broke, 2 a bad option.");
  cmd->footer(
      "\nExamples:\n"
      "  aasim lending                          # 2 regions, 200 requests: invariants break\n"
      "  aasim lending --home-routing           # the same traffic routed to home regions\n"
      "  aasim lending --regions us,eu,ap --instances 3 --requests 1000 --table");
  cmd->add_option("--regions", args->regions, "Region names (at most 64)")->delimiter(',');
  cmd->add_option("--latency", args->latency, "One-way latency of every link (e.g. 50ms)");
  cmd->add_option("--instances", args->instances, "Lending instances per region (1-64)");
  cmd->add_option("--users", args->users, "Number of users (user u<N> lives in region N mod R)");
  cmd->add_option("--books", args->books, "Number of books (b0, b1, ...)");
  cmd->add_option("--requests", args->requests, "Requests in all (1 in 4 a return)");
  cmd->add_option("--interval", args->interval, "Virtual time between two requests");
  cmd->add_flag("--home-routing", args->home_routing,
                "Route each request to its user's home region (paying the round trip)");
  cmd->add_option("--seed", args->seed, "Seed of the generated traffic")->check(aasim::SeedCheck());
  cmd->add_flag("--table", args->table, "Also print the step-by-step table");
  cmd->add_option("--streams", args->streams,
                  "The request streams: local (region-local, the default) or replicated with "
                  "XADD's id mode strict, semi-strict or liberal (each region's instances then "
                  "read every region's requests)")
      ->check(CLI::IsMember({"local", "strict", "semi-strict", "liberal"}));
  cmd->callback([args, exit_code] { *exit_code = RunLending(*args); });
  return cmd;
}

}  // namespace aasim
