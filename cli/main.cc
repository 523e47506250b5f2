// aasim: shows, before anyone deploys it, what an Active/Active (multi-master,
// geo-replicated) Redis does to a service's data and latency.
//
// This file only wires the command line to the libraries: parsing, loading, rendering.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "hotkey_command.h"
#include "report.h"
#include "serve_command.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitExpectationFailed = 1;
constexpr int kExitBadInput = 2;

struct RunArgs {
  std::vector<std::string> files;
  std::optional<uint64_t> seed;
  bool json = false;
  bool trace = false;
  bool quiet = false;
};

int Run(const RunArgs& args) {
  // Load everything first: a bad file means nothing runs (exit 2).
  std::vector<cluster_sim::Scenario> scenarios;
  bool bad = false;
  for (const auto& f : args.files) {
    auto s = cluster_sim::LoadScenarioFile(f);
    if (!s.ok()) {
      std::cerr << s.status().message() << "\n";
      bad = true;
      continue;
    }
    scenarios.push_back(std::move(s).value());
  }
  if (bad) return kExitBadInput;

  int failures = 0;
  nlohmann::ordered_json doc;
  doc["scenarios"] = nlohmann::ordered_json::array();
  for (const auto& scenario : scenarios) {
    cluster_sim::RunOptions options;
    options.seed = args.seed;
    if (args.trace) {
      // With --json the trace goes to stderr so stdout stays one JSON document.
      options.trace = [json = args.json](const std::string& line) {
        (json ? std::cerr : std::cout) << "trace: " << line << "\n";
      };
    }
    cluster_sim::RunReport report = cluster_sim::RunScenario(scenario, options);
    failures += report.failures;
    if (args.json) {
      doc["scenarios"].push_back(aasim::ToJson(report));
    } else {
      aasim::RenderOptions ro;
      ro.quiet = args.quiet;
      std::cout << aasim::RenderText(report, ro);
      if (!args.quiet && &scenario != &scenarios.back()) std::cout << "\n";
    }
  }
  if (args.json) {
    doc["failures"] = failures;
    std::cout << doc.dump(2) << "\n";
  }
  std::cout.flush();
  return failures == 0 ? kExitOk : kExitExpectationFailed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "aasim: see what an Active/Active (multi-master, geo-replicated) Redis does to your "
      "data and latency, before you deploy it.\n\n"
      "Scenario files (YAML) say what happens in which region and when; aasim replays them "
      "on a deterministic simulation of several geo-clusters and prints, step by step, what "
      "every region holds.\n\nExamples:\n"
      "  aasim run scenarios/table-4-1-counter.yaml\n"
      "  aasim run --seed 42 --trace scenarios/long-partition.yaml\n"
      "  aasim run --json scenarios/*.yaml > report.json",
      "aasim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "aasim 0.1.0");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run scenario files and print, for every step, the reply and the value of its key in "
      "every region, then replication metrics and a summary line with the seed and the final "
      "digest.\nExit code: 0 every expectation held, 1 an expectation failed, 2 a file or the "
      "command line is wrong (FILE:LINE:COL: message, nothing run).");
  run->footer(
      "\nA scenario file:\n"
      "  name: Resolving counter conflicts\n"
      "  regions: [A, B]                      # or a map with lat/lon/clock_skew per region\n"
      "  links:\n"
      "    default: { latency: 40ms }          # also jitter, loss, duplicate, route_factor\n"
      "  steps:\n"
      "    - partition: [A, B]\n"
      "    - A: INCRBY foo 2                   # a Redis command in region A\n"
      "      expect: 2                         # optional: null, [a, b] or {error: TEXT}\n"
      "    - B: INCRBY foo 10\n"
      "    - heal: all\n"
      "    - sync                              # until every connected region caught up\n"
      "    - converged: [foo]\n\n"
      "Steps: REGION: COMMAND, partition, heal, wait, at, sync, converged, crash, restart,\n"
      "note, load {regions, ops, duration, keys, commands}. Top level: name, source, seed,\n"
      "regions, links, replication {backlog, max_batch, max_retry}, steps. Durations need a\n"
      "unit: us, ms, s, min, h. See README.md for every key and the replication model.");
  run->add_option("files", run_args.files, "Scenario files (YAML), run in order")
      ->required()
      ->type_name("FILE...");
  run->add_option("--seed", run_args.seed,
                  "Seed for jitter, loss and generated load (overrides the file's `seed`; "
                  "the same file and seed give the same output, byte for byte)");
  run->add_flag("--json", run_args.json, "Print one JSON document with every fact instead");
  run->add_flag("--trace", run_args.trace,
                "Also print every replication message sent, delivered, dropped and "
                "retransmitted, with its virtual time");
  run->add_flag("-q,--quiet", run_args.quiet, "Print only failures and the summary line");
  int hotkey_exit = kExitOk;
  CLI::App* hotkey = aasim::AddHotkeyCommand(app, &hotkey_exit);
  int serve_exit = kExitOk;
  CLI::App* serve = aasim::AddServeCommand(app, &serve_exit);
  CLI::App* node = aasim::AddNodeCommand(app, &serve_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  if (run->parsed()) return Run(run_args);
  if (hotkey->parsed()) return hotkey_exit;
  if (serve->parsed() || node->parsed()) return serve_exit;
  return kExitBadInput;
}
