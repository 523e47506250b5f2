#include "explore_command.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cluster_sim/explore.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "diagram.h"
#include "options.h"
#include "report.h"
#include "shards.h"

namespace aasim {
namespace {

using cluster_sim::Plural;
using Json = nlohmann::ordered_json;

constexpr int kExitOk = 0;
constexpr int kExitBroken = 1;
constexpr int kExitBadInput = 2;

struct ExploreArgs {
  std::string file;
  uint64_t runs = 100;
  uint64_t seed = 1;
  std::vector<std::string> faults = {"partition", "loss", "duplicate", "delay"};
  int max_faults = 3;
  bool no_expectations = false;
  std::string shard;
  int jobs = 0;  // 0: every core
  uint64_t max_events = cluster_sim::kDefaultMaxEvents;
  bool json = false;
  std::string out;
  std::vector<std::string> reports;  // merge
  cluster_sim::RunOptions services;
};

int Bad(const std::string& message) {
  std::cerr << "aasim explore: " << message << "\n";
  return kExitBadInput;
}

// The derived members of a report: "broken", and each failure's "runs", from "schedules".
void Summarize(Json* report) {
  std::map<std::string, uint64_t> per_check;
  uint64_t broken = 0;
  for (const Json& s : (*report)["schedules"]) {
    if (s["broke"].is_null()) continue;
    ++broken;
    ++per_check[s["broke"].get<std::string>()];
  }
  (*report)["broken"] = broken;
  for (Json& f : (*report)["failures"]) f["runs"] = per_check[f["check"].get<std::string>()];
}

Json ToJson(const cluster_sim::Scenario& scenario, const ExploreArgs& args, const Shard& shard,
            const cluster_sim::ExploreReport& report) {
  Json j;
  j["kind"] = "explore";
  j["file"] = scenario.file;
  j["name"] = scenario.name;
  j["seed"] = args.seed;
  j["runs"] = args.runs;
  j["faults"] = args.faults;
  j["max_faults"] = args.max_faults;
  j["expectations"] = !args.no_expectations;
  SetShard(shard, &j);
  j["broken"] = 0;
  j["failures"] = Json::array();
  for (const cluster_sim::FoundFailure& f : report.failures) {
    Json o;
    o["check"] = f.check;
    o["runs"] = 0;
    o["first_run"] = f.first_run;
    o["failure"] = f.failure;
    o["faults"] = f.faults;
    o["steps_kept"] = f.minimal.steps;
    o["steps"] = scenario.steps.size();
    o["replays"] = f.replays;
    o["scenario"] = f.file;
    j["failures"].push_back(std::move(o));
  }
  j["schedules"] = Json::array();
  for (const cluster_sim::RunVerdict& v : report.runs) {
    j["schedules"].push_back({{"run", v.run},
                              {"faults", v.faults},
                              {"broke", v.check.empty() ? Json() : Json(v.check)}});
  }
  Summarize(&j);
  return j;
}

// The file a failure's minimal schedule is written to under --out.
std::string FailureFile(const std::string& dir, const Json& report, size_t i) {
  const std::string stem = std::filesystem::path(report["file"].get<std::string>()).stem();
  return (std::filesystem::path(dir) / (stem + "-failure-" + std::to_string(i + 1) + ".yaml"))
      .string();
}

// Writes every failure's scenario under `dir` (made if missing), and next to it the
// space-time diagram of its replay (the same picture as `aasim run FILE --svg`); false on
// an error.
bool WriteFailures(const std::string& dir, const Json& report,
                   const cluster_sim::RunOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "aasim explore: --out: cannot create " << dir << ": " << ec.message() << "\n";
    return false;
  }
  for (size_t i = 0; i < report["failures"].size(); ++i) {
    const std::string path = FailureFile(dir, report, i);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << report["failures"][i]["scenario"].get<std::string>();
    out.close();
    if (!out) {
      std::cerr << "aasim explore: --out: cannot write " << path << ": " << std::strerror(errno)
                << "\n";
      return false;
    }
    auto scenario =
        cluster_sim::ParseScenario(report["failures"][i]["scenario"].get<std::string>(), path);
    if (!scenario.ok()) continue;  // reported as not replaying already
    RunRecord record;
    cluster_sim::RunReport run = RunRecorded(*scenario, options, &record);
    const std::string svg = std::filesystem::path(path).replace_extension(".svg").string();
    std::ofstream picture(svg, std::ios::binary | std::ios::trunc);
    picture << RenderDiagramSvg(run, record, DiagramOptions{});
    picture.close();
    if (!picture) {
      std::cerr << "aasim explore: --out: cannot write " << svg << ": " << std::strerror(errno)
                << "\n";
      return false;
    }
  }
  return true;
}

std::string Text(const Json& r, const std::string& out_dir) {
  std::string faults;
  for (const Json& f : r["faults"]) faults += (faults.empty() ? "" : ",") + f.get<std::string>();
  std::string t = "explore " + r["file"].get<std::string>() + ": " +
                  Plural(r["schedules"].size(), "schedule") + " (seed " +
                  std::to_string(r["seed"].get<uint64_t>()) + ", faults " + faults + ", at most " +
                  std::to_string(r["max_faults"].get<int>()) + " per schedule" +
                  (r["expectations"].get<bool>() ? "" : "; convergence and invariants only") + ")";
  if (r.contains("shard")) {
    t += ", shard " + std::to_string(r["shard"]["index"].get<uint64_t>()) + "/" +
         std::to_string(r["shard"]["count"].get<uint64_t>()) + " of " +
         std::to_string(r["runs"].get<uint64_t>());
  }
  t += "\n";
  const uint64_t broken = r["broken"].get<uint64_t>();
  if (broken == 0) return t + "every check held in every schedule\n";
  t += std::to_string(broken) + " broke a check:\n";
  for (const Json& f : r["failures"]) {
    t += "  " + std::to_string(f["runs"].get<uint64_t>()) + "  `" + f["check"].get<std::string>() +
         "`\n";
  }
  for (size_t i = 0; i < r["failures"].size(); ++i) {
    const Json& f = r["failures"][i];
    t += "\nfailure " + std::to_string(i + 1) + ": `" + f["check"].get<std::string>() +
         "`: " + f["failure"].get<std::string>() + "\n";
    t += "  minimal schedule (shrunk from run " + std::to_string(f["first_run"].get<uint64_t>()) +
         "; " + Plural(f["faults"].size(), "fault") + ", " +
         std::to_string(f["steps_kept"].get<uint64_t>()) + " of the file's " +
         Plural(f["steps"].get<uint64_t>(), "step") + "):\n";
    for (const Json& d : f["faults"]) t += "    " + d.get<std::string>() + "\n";
    if (f["faults"].empty()) t += "    (no fault: the file's steps alone, then heal and sync)\n";
    if (!f["replays"].get<bool>()) t += "  warning: its scenario file does not replay it\n";
    if (!out_dir.empty()) {
      const std::string file = FailureFile(out_dir, r, i);
      t += "  replay: aasim run " + file +
           "   (diagram: " + std::filesystem::path(file).replace_extension(".svg").string() + ")\n";
    }
  }
  return t;
}

int Print(const Json& report, const ExploreArgs& args) {
  if (!args.out.empty() && !WriteFailures(args.out, report, args.services)) return kExitBadInput;
  if (args.json) {
    std::cout << JsonText(report) << "\n";
  } else {
    std::cout << Text(report, args.out);
  }
  std::cout.flush();
  return report["broken"].get<uint64_t>() == 0 ? kExitOk : kExitBroken;
}

int RunExplore(const ExploreArgs& args) {
  if (args.file.empty()) return Bad("expected a scenario FILE (or `merge REPORT.json...`)");
  auto loaded = cluster_sim::LoadScenarioFile(args.file);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return kExitBadInput;
  }
  const cluster_sim::Scenario scenario = std::move(loaded).value();
  cluster_sim::Status v = cluster_sim::ValidateServiceSteps(scenario, args.services);
  if (!v.ok()) {
    std::cerr << v.message() << "\n";
    return kExitBadInput;
  }
  for (const std::string& w : cluster_sim::UnknownCommandWarnings(scenario)) {
    std::cerr << w << "\n";
  }
  if (std::string why = cluster_sim::NotApplicable(scenario, "memory"); !why.empty()) {
    return Bad(args.file + ": " + why);
  }
  cluster_sim::ExploreOptions o;
  o.seed = args.seed;
  o.runs = args.runs;
  o.max_faults = args.max_faults;
  o.expectations = !args.no_expectations;
  o.faults.clear();
  for (const std::string& name : args.faults) {
    const auto* it =
        std::find(std::begin(cluster_sim::kFaultNames), std::end(cluster_sim::kFaultNames), name);
    o.faults.push_back(static_cast<cluster_sim::FaultKind>(it - cluster_sim::kFaultNames));
  }
  Shard shard;
  if (!args.shard.empty()) shard = *ParseShard(args.shard);
  o.shard_index = shard.index;
  o.shard_count = shard.count;
  o.jobs = args.jobs > 0 ? args.jobs
                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.run = args.services;
  o.run.max_events = args.max_events;
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty) {
    o.progress = [](uint64_t done, uint64_t total) {
      std::cerr << "\rexplore: " << done << "/" << total << " schedules" << std::flush;
    };
  }
  const cluster_sim::ExploreReport report = cluster_sim::Explore(scenario, o);
  if (tty) std::cerr << "\r\033[K" << std::flush;
  return Print(ToJson(scenario, args, shard, report), args);
}

// Why `r` is not an explore --json report, or "": every member that Summarize, Text and
// WriteFailures read, with its type. A report is a file, and nlohmann's typed getters
// throw (or, on a missing member of a const object, read out of bounds) on anything else.
std::string Malformed(const Json& r) {
  using Is = bool (Json::*)() const noexcept;
  auto members = [](const Json& o, const std::string& where,
                    std::initializer_list<std::pair<const char*, Is>> want) -> std::string {
    if (!o.is_object()) return where + " is not an object";
    for (const auto& [key, is] : want) {
      if (!o.contains(key) || !(o[key].*is)()) return where + "." + key + " is missing or mistyped";
    }
    return "";
  };
  auto strings = [](const Json& a, const std::string& where) -> std::string {
    for (const Json& s : a) {
      if (!s.is_string()) return where + " holds a non-string";
    }
    return "";
  };
  std::string why = members(r, "the report",
                            {{"file", &Json::is_string},
                             {"seed", &Json::is_number_unsigned},
                             {"runs", &Json::is_number_unsigned},
                             {"faults", &Json::is_array},
                             {"max_faults", &Json::is_number_integer},
                             {"expectations", &Json::is_boolean},
                             {"failures", &Json::is_array},
                             {"schedules", &Json::is_array}});
  if (why.empty()) why = strings(r["faults"], "faults");
  for (size_t i = 0; why.empty() && i < r["failures"].size(); ++i) {
    const std::string where = "failures[" + std::to_string(i) + "]";
    why = members(r["failures"][i], where,
                  {{"check", &Json::is_string},
                   {"first_run", &Json::is_number_unsigned},
                   {"failure", &Json::is_string},
                   {"faults", &Json::is_array},
                   {"steps_kept", &Json::is_number_unsigned},
                   {"steps", &Json::is_number_unsigned},
                   {"replays", &Json::is_boolean},
                   {"scenario", &Json::is_string}});
    if (why.empty()) why = strings(r["failures"][i]["faults"], where + ".faults");
  }
  for (size_t i = 0; why.empty() && i < r["schedules"].size(); ++i) {
    const Json& s = r["schedules"][i];
    const std::string where = "schedules[" + std::to_string(i) + "]";
    why = members(s, where, {{"run", &Json::is_number_unsigned}});
    if (why.empty() &&
        (!s.contains("broke") || !(s["broke"].is_null() || s["broke"].is_string()))) {
      why = where + ".broke is missing or mistyped";
    }
  }
  return why;
}

int RunMerge(const ExploreArgs& args) {
  std::vector<Json> reports;
  for (const std::string& path : args.reports) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Bad("merge: cannot read " + path + ": " + std::strerror(errno));
    Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("kind") || j["kind"] != "explore") {
      return Bad("merge: " + path + " is not an `aasim explore --json` report");
    }
    if (std::string why = Malformed(j); !why.empty()) {
      return Bad("merge: " + path + " is not an `aasim explore --json` report: " + why);
    }
    reports.push_back(std::move(j));
  }
  Json merged;
  std::string error;
  if (!MergeShards(reports, "schedules", "run", {"broken", "failures"}, &merged, &error)) {
    return Bad("merge: " + error);
  }
  // Each check's failure: the one of its lowest first run (what one machine shrinks).
  std::map<std::string, Json> best;
  for (const Json& r : reports) {
    for (const Json& f : r["failures"]) {
      const std::string check = f["check"].get<std::string>();
      auto it = best.find(check);
      if (it == best.end() ||
          f["first_run"].get<uint64_t>() < it->second["first_run"].get<uint64_t>()) {
        best[check] = f;
      }
    }
  }
  std::vector<Json> failures;
  for (auto& [check, f] : best) failures.push_back(std::move(f));
  std::sort(failures.begin(), failures.end(), [](const Json& a, const Json& b) {
    return a["first_run"].get<uint64_t>() < b["first_run"].get<uint64_t>();
  });
  merged["failures"] = failures;
  Summarize(&merged);
  return Print(merged, args);
}

}  // namespace

CLI::App* AddExploreCommand(CLI::App& app, const cluster_sim::RunOptions& services,
                            int* exit_code) {
  auto args = std::make_shared<ExploreArgs>();
  args->services = services;
  CLI::App* cmd = app.add_subcommand(
      "explore",
      "Run a scenario file's steps under many seeded random fault schedules (partitions, "
      "loss, duplicates, delays, crashes, clock skew at random instants between and inside "
      "its steps) and check its expectations, convergence after a final heal and sync, and "
      "the invariants of the services it uses. Reports how many schedules broke which check "
      "and shrinks each distinct failure to a minimal schedule, written (--out) as a "
      "scenario file that `aasim run` replays.\nExit code: 0 no schedule broke a check, 1 "
      "some did, 2 bad input.");
  cmd->footer(
      "\nThe same file, --seed, --runs, --faults and --max-faults give the same report, with "
      "any --jobs and any sharding. A file's `at: T` that the faults made the steps before "
      "overrun runs at once, as `at: {time: T, if_past: now}` (what a minimal schedule's "
      "file says), instead of failing.\nExamples:\n"
      "  aasim explore scenarios/overdraft-fast-replication.yaml --runs 200 --out found/\n"
      "  aasim explore FILE --runs 10000 --shard 0/4 --json > shard0.json   # on 4 machines\n"
      "  aasim explore merge shard0.json shard1.json shard2.json shard3.json");
  cmd->add_option("file", args->file, "The scenario file")->type_name("FILE");
  cmd->add_option("--runs", args->runs, "Number of schedules (default 100)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  cmd->add_option("--seed", args->seed, "Seed of the schedules (default 1)")->check(SeedCheck());
  cmd->add_option("--faults", args->faults,
                  "Fault kinds to draw from (default partition,loss,duplicate,delay; also "
                  "crash, clock-skew)")
      ->delimiter(',')
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(cluster_sim::kFaultNames),
                                                     std::end(cluster_sim::kFaultNames))));
  cmd->add_option("--max-faults", args->max_faults,
                  "At most this many faults per schedule (1-100, default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--no-expectations", args->no_expectations,
                "Leave out the file's expectations (expect:, output:, converged:): check only "
                "convergence and the invariants of the services it uses");
  cmd->add_option("--shard", args->shard,
                  "Run only schedules i with i % N == I (merge the --json reports with "
                  "`aasim explore merge`)")
      ->check(ShardCheck());
  cmd->add_option("--jobs", args->jobs, "Threads (default: every core; same output with any)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--max-events", args->max_events,
                  "Event budget of each schedule's run (default 100000000): the step that "
                  "spends it fails, a broken check like any other")
      ->check(Uint64Check("an event budget", ""))
      ->type_name("N");
  cmd->add_flag("--json", args->json, "Print one JSON document (the input of `merge`)");
  cmd->add_option("--out", args->out,
                  "Write each failure's minimal schedule to DIR/<file>-failure-<n>.yaml, and "
                  "its space-time diagram to DIR/<file>-failure-<n>.svg")
      ->type_name("DIR");
  CLI::App* merge = cmd->add_subcommand(
      "merge",
      "Merge the --json reports of the N shards of one exploration into the report "
      "one machine gives (text, or --json; --out writes the failures' files)");
  merge->add_option("reports", args->reports, "The shards' reports")
      ->required()
      ->type_name("REPORT.json...");
  merge->add_flag("--json", args->json, "Print one JSON document");
  merge->add_option("--out", args->out, "Write each failure's minimal schedule under DIR")
      ->type_name("DIR");
  merge->callback([args, exit_code] { *exit_code = RunMerge(*args); });
  cmd->callback([merge, args, exit_code] {
    if (!merge->parsed()) *exit_code = RunExplore(*args);
  });
  return cmd;
}

}  // namespace aasim
