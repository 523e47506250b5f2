// aasim: shows, before anyone deploys it, what an Active/Active (multi-master,
// geo-replicated) Redis does to a service's data and latency.
//
// This file only wires the command line to the libraries: parsing, loading, rendering.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "anomalies_command.h"
#include "cluster_sim/parallel.h"
#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "diagram.h"
#include "explore_command.h"
#include "hotkey_command.h"
#include "html_report.h"
#include "latency_command.h"
#include "lending/lending_service.h"
#include "lending_command.h"
#include "options.h"
#include "redis_backend.h"
#include "report.h"
#include "run_record.h"
#include "serve_command.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitExpectationFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitRedisFailed = 3;  // --backend redis: a server failed during the run

struct RunArgs {
  std::vector<std::string> files;
  std::optional<uint64_t> seed;
  bool json = false;
  bool trace = false;
  bool quiet = false;
  bool causal = false;
  bool messages = false;  // --json: add every replication message
  uint64_t max_events = cluster_sim::kDefaultMaxEvents;
  std::string svg;   // write the space-time diagram here
  std::string html;  // write the HTML report here
  aasim::BackendArgs backend;
};

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes `text` to `path`; false (and a message on stderr) if it cannot.
bool WriteFile(const std::string& path, const std::string& text, const char* option) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "aasim run: " << option << ": cannot write " << path << ": "
              << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

// The services scenario steps may use (`lending@A: ...`, `check: lending-invariants`).
void RegisterServices(cluster_sim::RunOptions* options) {
  options->services["lending"] = [] { return lending::NewLendingService(); };
}

int Run(const RunArgs& args) {
  const bool redis = args.backend.backend == "redis" || !args.backend.redis.empty();
  // Load everything first: a bad file means nothing runs (exit 2).
  std::vector<cluster_sim::Scenario> scenarios;
  // Latency files (a top-level `deployments:`) run with the latency engine, in file order.
  std::vector<std::pair<size_t, cluster_sim::LatencyConfig>> latency_files;
  bool bad = false;
  cluster_sim::RunOptions service_options;
  RegisterServices(&service_options);
  for (const auto& f : args.files) {
    if (aasim::IsLatencyFile(f)) {
      auto l = cluster_sim::LoadLatencyFile(f);
      if (!l.ok()) {
        std::cerr << l.status().message() << "\n";
        bad = true;
        continue;
      }
      cluster_sim::LatencyOverrides overrides;
      overrides.seed = args.seed;
      (void)cluster_sim::ApplyLatencyOverrides(overrides, &l.value());
      latency_files.emplace_back(scenarios.size(), std::move(l).value());
      continue;
    }
    auto s = cluster_sim::LoadScenarioFile(f);
    if (!s.ok()) {
      std::cerr << s.status().message() << "\n";
      bad = true;
      continue;
    }
    cluster_sim::Status v = cluster_sim::ValidateServiceSteps(*s, service_options);
    if (!v.ok()) {
      std::cerr << v.message() << "\n";
      bad = true;
      continue;
    }
    // The Redis store sends region-local streams' X... commands to Redis, which answers them.
    const bool replicated_streams = s->streams.replicate;
    auto forwarded = [&](std::string_view command) {
      return cluster_sim::RedisStore::ForwardsAsIs(command, replicated_streams);
    };
    for (const std::string& w : redis ? cluster_sim::UnknownCommandWarnings(*s, forwarded)
                                      : cluster_sim::UnknownCommandWarnings(*s)) {
      std::cerr << w << "\n";
    }
    scenarios.push_back(std::move(s).value());
  }
  if (bad) return kExitBadInput;
  const bool pictures = !args.svg.empty() || !args.html.empty();
  if (pictures && args.files.size() != 1) {
    std::cerr << "aasim run: --svg and --html draw one file; " << args.files.size() << " given\n";
    return kExitBadInput;
  }
  if (args.messages && !args.json) {
    std::cerr << "aasim run: --messages needs --json\n";
    return kExitBadInput;
  }
  bool wrote_all = true;
  if (args.backend.keep_redis && !redis) {
    std::cerr << "--keep-redis needs --backend redis\n";
    return kExitBadInput;
  }

  int failures = 0;
  nlohmann::ordered_json doc;
  doc["scenarios"] = nlohmann::ordered_json::array();
  size_t next_latency = 0;
  auto run_latency_before = [&](size_t index) {
    for (; next_latency < latency_files.size() && latency_files[next_latency].first == index;
         ++next_latency) {
      const cluster_sim::LatencyReport report =
          cluster_sim::RunLatency(latency_files[next_latency].second, cluster_sim::DefaultJobs());
      failures += report.failures;
      if (!args.svg.empty()) {
        wrote_all &= WriteFile(args.svg, cluster_sim::RenderLatencySvg(report), "--svg");
      }
      if (!args.html.empty()) {
        wrote_all &= WriteFile(args.html, aasim::RenderLatencyHtml(report, ReadText(args.files[0])),
                               "--html");
      }
      if (args.json) {
        doc["scenarios"].push_back(aasim::LatencyToJson(report));
      } else {
        std::cout << cluster_sim::RenderLatencyText(report, args.quiet);
        if (!args.quiet) std::cout << "\n";
      }
    }
  };
  for (size_t index = 0; index < scenarios.size(); ++index) {
    run_latency_before(index);
    const auto& scenario = scenarios[index];
    if (std::string why = cluster_sim::NotApplicable(scenario, redis ? "redis" : "memory");
        !why.empty()) {
      // Not a failure: the file says which stores its expectations are written for.
      if (args.json) {
        doc["scenarios"].push_back({{"file", scenario.file}, {"not_applicable", why}});
      } else {
        std::cout << "N/A " << scenario.file << ": " << why << "\n";
        if (!args.quiet && &scenario != &scenarios.back()) std::cout << "\n";
      }
      continue;
    }
    cluster_sim::RunOptions options;
    RegisterServices(&options);
    options.seed = args.seed;
    options.causal = args.causal;
    options.max_events = args.max_events;
    // --quiet prints failures and the summary: the passed steps' reports need not be kept
    // unless JSON, a picture or the message list shows them.
    options.keep_passed_steps = !args.quiet || args.json || pictures || args.messages;
    std::unique_ptr<aasim::RedisBackend> backend;
    if (redis) {
      auto prepared = aasim::RedisBackend::Prepare(args.backend, scenario);
      if (!prepared.ok()) {
        std::cerr << prepared.status().message() << "\n";
        return kExitBadInput;
      }
      backend = std::move(prepared).value();
      options.store_factory = backend->Factory();
    }
    if (args.trace) {
      // With --json the trace goes to stderr so stdout stays one JSON document.
      options.trace = [json = args.json](const std::string& line) {
        (json ? std::cerr : std::cout) << "trace: " << line << "\n";
      };
    }
    // Pictures and message lists need every message: a recorded run (same report).
    const bool record = pictures || args.messages;
    aasim::RunRecord recorded;
    cluster_sim::RunReport report = record ? aasim::RunRecorded(scenario, options, &recorded)
                                           : cluster_sim::RunScenario(scenario, options);
    failures += report.failures;
    if (backend && !backend->failures().empty()) {
      // The report came from the regions' working copies; Redis lacks some of it.
      for (const std::string& why : backend->failures()) std::cerr << "aasim: " << why << "\n";
      return kExitRedisFailed;
    }
    if (!args.svg.empty()) {
      wrote_all &= WriteFile(args.svg, aasim::RenderDiagramSvg(report, recorded, {}), "--svg");
    }
    if (!args.html.empty()) {
      wrote_all &= WriteFile(
          args.html, aasim::RenderHtmlReport(report, recorded, ReadText(scenario.file)), "--html");
    }
    if (args.json) {
      doc["scenarios"].push_back(aasim::ToJson(report));
      if (args.messages)
        doc["scenarios"].back()["messages"] = aasim::MessagesJson(report, recorded);
    } else {
      aasim::RenderOptions ro;
      ro.quiet = args.quiet;
      std::cout << aasim::RenderText(report, ro);
      if (!args.quiet && &scenario != &scenarios.back()) std::cout << "\n";
    }
    if (backend && args.backend.keep_redis) backend->Keep(args.json ? std::cerr : std::cout);
  }
  run_latency_before(scenarios.size());
  if (args.json) {
    doc["failures"] = failures;
    std::cout << aasim::JsonText(doc) << "\n";
  }
  std::cout.flush();
  if (!wrote_all) return kExitBadInput;
  return failures == 0 ? kExitOk : kExitExpectationFailed;
}

// A report that did not reach stdout (a full disk, a pipe closed while SIGPIPE is ignored)
// must not pass for a whole one: the reason on stderr and exit 2, as for an unwritable
// --svg. Returns `code` when everything was written.
// No reason is given: the commands flush their report themselves, and a failed write's
// errno is gone by now (glibc drops the buffer it could not write, so a flush here
// succeeds); what remains is the stream's error flag.
int CheckStdout(int code) {
  std::cout.flush();
  const bool flush_failed = std::fflush(stdout) != 0;
  if (!flush_failed && std::ferror(stdout) == 0 && std::cout) return code;
  std::cerr << "aasim: cannot write to stdout (a write failed): the output is incomplete\n";
  return code == kExitOk || code == kExitExpectationFailed ? kExitBadInput : code;
}

// `text` as lines of at most `width` characters (longer words alone), each ending in '\n',
// broken at spaces outside braces and not before one ("streams {replicate, id_mode}"
// stays on one line).
std::string Wrap(const std::string& text, size_t width) {
  std::string out, line;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = at;
    for (int depth = 0; end < text.size(); ++end) {
      depth += text[end] == '{' ? 1 : text[end] == '}' ? -1 : 0;
      if (text[end] == ' ' && depth == 0 && text.compare(end, 2, " {") != 0) break;
    }
    const std::string word = text.substr(at, end - at);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    at = end + 1;
  }
  return line.empty() ? out : out + line + "\n";
}

// The names of `app`'s subcommands, in the order they were added: "run, anomalies, ...".
std::string CommandNames(CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

// "aasim run": the command line words that lead to `sub`.
std::string CommandPath(const CLI::App* sub) {
  std::string path = sub->get_name();
  for (const CLI::App* p = sub->get_parent(); p != nullptr; p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  return path;
}

// CLI11's "files is required" names a variable, not what the user left out. Says instead
// which command lacks what (the argument's or option's help), then the command's usage
// line; for a missing command, the commands there are. Returns kExitBadInput; falls back
// to CLI11's message for a requirement it does not recognise.
// The last command given on the line (app itself if none).
CLI::App* LastCommand(CLI::App& app) {
  CLI::App* at = &app;
  for (std::vector<CLI::App*> given = at->get_subcommands(); !given.empty();
       given = at->get_subcommands()) {
    at = given.back();
  }
  return at;
}

std::string Usage(CLI::App* at, const std::string& path) {
  if (auto f = std::dynamic_pointer_cast<CLI::Formatter>(at->get_formatter())) {
    return f->make_usage(at, path);
  }
  return "";
}

// An argument the command line's commands do not take ("--quiett", a mistyped nested
// command, one file too many): named with its command and the usage line, as a missing one
// is. Returns false (nothing printed) if there is none.
bool ReportUnexpected(CLI::App& app) {
  const std::vector<std::string> extra = app.remaining(true);
  if (extra.empty()) return false;
  CLI::App* at = LastCommand(app);
  const std::string path = CommandPath(at);
  const std::string& first = extra.front();
  std::cerr << path << ": "
            << (first.size() > 1 && first[0] == '-' ? "unknown option '" : "unexpected argument '")
            << first << "'";
  std::cerr << "\n" << Usage(at, path) << "Run `" << path << " --help` for more.\n";
  return true;
}

int MissingArgument(CLI::App& app, const CLI::RequiredError& e) {
  // What the user typed wrong comes before what they left out: `run --quiett` has no file
  // because --quiett is not an option.
  if (ReportUnexpected(app)) return kExitBadInput;
  CLI::App* at = LastCommand(app);
  const std::string path = CommandPath(at);
  for (const CLI::Option* opt : at->get_options()) {
    if (!opt->get_required() || opt->count() > 0) continue;
    std::cerr << path << ": missing " << opt->get_name() << ": " << opt->get_description() << "\n"
              << Usage(at, path) << "Run `" << path << " --help` for more.\n";
    return kExitBadInput;
  }
  if (at->get_require_subcommand_min() > 0 && at->get_subcommands().empty()) {
    std::cerr << path << ": a command is required (commands: " << CommandNames(*at) << "); run `"
              << path << " --help` for more.\n";
    return kExitBadInput;
  }
  app.exit(e);
  return kExitBadInput;
}

int Main(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) { return CheckStdout(Main(argc, argv)); }

namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "aasim: see what an Active/Active (multi-master, geo-replicated) Redis does to your "
      "data and latency, before you deploy it.\n\n"
      "Scenario files (YAML) say what happens in which region and when; aasim replays them "
      "on a deterministic simulation of several geo-clusters and prints, step by step, what "
      "every region holds.\n\nExamples:\n"
      "  aasim run scenarios/table-4-1-counter.yaml\n"
      "  aasim run --seed 42 --trace scenarios/long-partition.yaml\n"
      "  aasim run --json scenarios/*.yaml > report.json\n"
      "  aasim run scenarios/overdraft.yaml --html overdraft.html",
      "aasim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "aasim 0.1.0");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run scenario files and print, for every step, the reply and the value of its key in "
      "every region, then replication metrics and a summary line with the seed and the final "
      "digest.\nExit code: 0 every expectation held, 1 an expectation failed, 2 a file or the "
      "command line is wrong (FILE:LINE:COL: message, nothing run), 3 with --backend redis: a "
      "server failed during the run, so Redis lacks writes the run acknowledged (the reason on "
      "stderr).");
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
      "note, load {regions, ops, duration, keys, commands}, lending@REGION: request USER\n"
      "BOOKS (and return, start N, crash, restart; README \"The lending service\"), check:\n"
      "lending-invariants.\n" +
      Wrap("Top level: " + cluster_sim::ScenarioKeys() +
               ". Durations need a unit: us, ms, s, min, h. docs/scenarios.md has every key "
               "and what it means.",
           88) +
      "A file with a top-level `deployments:` key is a latency file: it runs as `aasim latency`\n"
      "would (see `aasim latency --help`).");
  run->add_option("files", run_args.files, "Scenario files (YAML), run in order")
      ->required()
      ->type_name("FILE...");
  run->add_option("--seed", run_args.seed,
                  "Seed for jitter, loss and generated load (overrides the file's `seed`; "
                  "the same file and seed give the same output, byte for byte)")
      ->check(aasim::SeedCheck());
  run->add_flag("--json", run_args.json, "Print one JSON document with every fact instead");
  run->add_option("--max-events", run_args.max_events,
                  "Event budget of each scenario (default 100000000): once spent, the step "
                  "that spent it fails and the run stops, so no file runs for ever (0: none)")
      ->check(aasim::Uint64Check("an event budget", ""))
      ->type_name("N");
  run->add_flag("--trace", run_args.trace,
                "Also print every replication message sent, delivered, dropped and "
                "retransmitted, with its virtual time");
  run->add_flag("-q,--quiet", run_args.quiet, "Print only failures and the summary line");
  run->add_flag("--causal", run_args.causal,
                "Causal delivery, as if every file said `replication: {causal: true}`: a region "
                "applies an effect only after everything its writer had applied; the report "
                "shows the price (effects held back, messages and bytes per link)");
  run->add_option("--svg", run_args.svg,
                  "Also write the run's space-time diagram (SVG): one lane per region, time "
                  "down, every step and replication message (one FILE; a latency file writes "
                  "its CDF chart)")
      ->type_name("OUT.svg");
  run->add_option("--html", run_args.html,
                  "Also write one self-contained HTML page: the source, the diagram, the table "
                  "linked to it, the metrics and the summary (one FILE)")
      ->type_name("OUT.html");
  run->add_flag("--messages", run_args.messages,
                "With --json: add every replication message (send, delivery or drop, kind, "
                "bytes) as each scenario's \"messages\"");
  aasim::AddBackendOptions(run, &run_args.backend);
  int anomalies_exit = kExitOk;
  CLI::App* anomalies = aasim::AddAnomaliesCommand(app, &anomalies_exit);
  int hotkey_exit = kExitOk;
  CLI::App* hotkey = aasim::AddHotkeyCommand(app, &hotkey_exit);
  int lending_exit = kExitOk;
  CLI::App* lending_cmd = aasim::AddLendingCommand(app, &lending_exit);
  int latency_exit = kExitOk;
  CLI::App* latency = aasim::AddLatencyCommand(app, &latency_exit);
  int explore_exit = kExitOk;
  cluster_sim::RunOptions explore_options;
  RegisterServices(&explore_options);
  CLI::App* explore = aasim::AddExploreCommand(app, explore_options, &explore_exit);
  int serve_exit = kExitOk;
  cluster_sim::RunOptions serve_options;
  RegisterServices(&serve_options);
  CLI::App* serve = aasim::AddServeCommand(app, serve_options, &serve_exit);
  CLI::App* node = aasim::AddNodeCommand(app, &serve_exit);

  // A first word that is no command: CLI11 would only say that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    if (app.get_subcommands([&](const CLI::App* sub) { return sub->get_name() == word; }).empty()) {
      std::cerr << "aasim: unknown command '" << word << "' (commands: " << CommandNames(app)
                << "); run `aasim --help` for more.\n";
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError& e) {
    return MissingArgument(app, e);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    if (!ReportUnexpected(app)) app.exit(e);
    return kExitBadInput;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  if (run->parsed()) return Run(run_args);
  if (anomalies->parsed()) return anomalies_exit;
  if (hotkey->parsed()) return hotkey_exit;
  if (explore->parsed()) return explore_exit;
  if (lending_cmd->parsed()) return lending_exit;
  if (latency->parsed()) return latency_exit;
  if (serve->parsed() || node->parsed()) return serve_exit;
  return kExitBadInput;
}

}  // namespace
