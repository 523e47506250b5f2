#include "serve_command.h"

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "options.h"

#if AASIM_WITH_REDIS
#include "cluster_sim/host_port.h"
#include "cluster_sim/redis_store.h"
#endif
#include "cluster_sim/plural.h"
#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/simulation.h"
#include "diagram.h"
#include "run_record.h"
#include "server/node.h"
#include "server/server.h"
#include "server/sim_host.h"

namespace aasim {

namespace {

// The error for a port given alone (aasim puts the host before it): the text as typed.
std::string PortError(const std::string& port) {
  return "expected a port 0..65535, got '" + port + "'";
}

constexpr int kExitOk = 0;
constexpr int kExitStepFailed = 1;
constexpr int kExitBadInput = 2;

struct ServeArgs {
  std::string file;
  std::optional<uint64_t> seed;
  std::string host = "127.0.0.1";
  std::vector<std::string> ports;  // REGION=PORT
  std::string requirepass;
  std::string script;
  bool exit_after_steps = false;
  bool causal = false;
  bool record = false;
  std::string bc_policy;
  std::string streams;                  // --streams: "" = the file's `streams:` key
  cluster_sim::RunOptions run_options;  // the services steps may use
};

// --streams MODE of serve and node: `local` (region-local streams) or an XADD id mode
// (replicated streams with it); "" leaves *spec as it is.
void ApplyStreamsOption(const std::string& mode, cluster_sim::StreamsSpec* spec) {
  if (mode.empty()) return;
  spec->replicate = mode != "local";
  if (spec->replicate) spec->id_mode = *crdt::ParseStreamIdMode(mode);
}

constexpr const char* kStreamsHelp =
    "Streams: local (region-local, never replicated) or replicated with XADD's id mode "
    "strict, semi-strict or liberal (as the file's `streams: { replicate: true, id_mode: "
    "... }`)";

// `--record`: what clients did and what the links carried, for AASIM DIAGRAM PATH. Bounded:
// after kMaxSteps client commands and admin actions recording stops (the diagram then
// shows the start of the run and says so).
struct Recording {
  static constexpr size_t kMaxSteps = 20'000;
  RunRecord record;
  std::optional<Recorder> recorder;
  std::vector<cluster_sim::StepReport> steps;
};

// AASIM DIAGRAM PATH: writes the space-time diagram of everything recorded so far.
cluster_sim::Reply WriteDiagram(const std::vector<std::string>& argv, const std::string& name,
                                const cluster_sim::Simulation& sim, const Recording* rec) {
  using cluster_sim::Reply;
  if (argv.size() != 3) return Reply::Error("ERR expected AASIM DIAGRAM PATH");
  if (rec == nullptr) {
    return Reply::Error("ERR AASIM DIAGRAM needs `aasim serve --record` (nothing was recorded)");
  }
  if (rec->steps.empty()) return Reply::Error("ERR nothing to draw yet: no command has run");
  cluster_sim::RunReport report;
  report.name = name + (rec->recorder ? ""
                                      : " (recording stopped after its first " +
                                            std::to_string(Recording::kMaxSteps) + " commands)");
  for (int r = 0; r < sim.region_count(); ++r) report.regions.push_back(sim.region_name(r));
  report.steps = rec->steps;
  report.steps_run = report.steps.size();
  report.end_time = sim.Now();
  report.digest = sim.Digest();
  RunRecord record = rec->record;
  Recorder::Finish(sim.Now(), &record);
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out << RenderDiagramSvg(report, record, DiagramOptions{});
  out.close();
  if (!out) return Reply::Error("ERR cannot write '" + argv[2] + "'");
  return Reply::Status("OK");
}

int Fail(const std::string& message) {
  std::cerr << "aasim serve: " << message << "\n";
  return kExitBadInput;
}

// The steps a served file may not hold: `load` (generated traffic is a virtual-time
// measurement) and service steps (`lending@A: ...`, driven by `aasim run`). Refused before
// anything listens, at the step: "FILE:LINE:COL: aasim serve cannot run ...".
cluster_sim::Status CheckServable(const cluster_sim::Scenario& s) {
  for (const cluster_sim::Step& step : s.steps) {
    std::string what;
    if (step.kind == cluster_sim::Step::Kind::kLoad) what = "`load` steps";
    if (step.kind == cluster_sim::Step::Kind::kService) {
      what = "service steps (`" + step.service + "@" + step.region + ": ...`)";
    }
    if (what.empty()) continue;
    return cluster_sim::Status::InvalidArgument(
        s.file + ":" + std::to_string(step.mark.line) + ":" + std::to_string(step.mark.column) +
        ": aasim serve cannot run " + what + "; run this file with `aasim run`");
  }
  return cluster_sim::Status::Ok();
}

int RunServe(const ServeArgs& args) {
  cluster_sim::ParseOptions parse;
  parse.steps_optional = true;
  auto loaded = cluster_sim::LoadScenarioFile(args.file, parse);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return kExitBadInput;
  }
  cluster_sim::Scenario scenario = std::move(loaded).value();
  ApplyStreamsOption(args.streams, &scenario.streams);
  if (cluster_sim::Status st = CheckServable(scenario); !st.ok()) {
    std::cerr << st.message() << "\n";
    return kExitBadInput;
  }
  for (const std::string& w : cluster_sim::UnknownCommandWarnings(scenario)) {
    std::cerr << w << "\n";
  }

  std::optional<cluster_sim::Scenario> script;
  if (!args.script.empty()) {
    auto s = cluster_sim::LoadScenarioFile(args.script);
    if (!s.ok()) {
      std::cerr << s.status().message() << "\n";
      return kExitBadInput;
    }
    if (cluster_sim::Status st = CheckServable(*s); !st.ok()) {
      std::cerr << st.message() << "\n";
      return kExitBadInput;
    }
    for (const std::string& w : cluster_sim::UnknownCommandWarnings(*s)) std::cerr << w << "\n";
    for (const auto& r : s->regions) {
      if (scenario.RegionIndex(r.name) < 0) {
        return Fail(args.script + ": region '" + r.name + "' is not a region of " + args.file);
      }
    }
    script = std::move(s).value();
  }

  // Ports: the file's `ports:`, then --port REGION=PORT; 0 = a free port.
  std::map<std::string, uint16_t> ports;
  for (const auto& [region, port] : scenario.ports) ports[region] = port;
  for (const auto& p : args.ports) {
    size_t eq = p.find('=');
    std::string region = p.substr(0, eq);
    if (eq == std::string::npos || scenario.RegionIndex(region) < 0) {
      return Fail("--port " + p + ": expected REGION=PORT with a region of " + args.file);
    }
    std::string host;
    uint16_t port = 0;
    auto st = server::ParseHostPort("127.0.0.1:" + p.substr(eq + 1), &host, &port);
    // The host is ours, so the port is what is wrong: quoted as the user typed it.
    if (!st.ok()) return Fail("--port " + p + ": " + PortError(p.substr(eq + 1)));
    ports[region] = port;
  }
  // Two regions on one port (the file's `ports:` refuses that when it loads): the second
  // could not listen.
  for (const auto& [region, port] : ports) {
    for (const auto& [other, taken] : ports) {
      if (other < region && port != 0 && taken == port) {
        return Fail("--port: port " + std::to_string(port) + " is given to regions " + other +
                    " and " + region);
      }
    }
  }

  cluster_sim::RunOptions options = args.run_options;
  options.causal = args.causal;
  options.bc_policy = args.bc_policy;
  options.seed = args.seed;
  cluster_sim::SimConfig sim_config = cluster_sim::MakeSimConfig(scenario, options);
  // The regions are the file's: one alone never has a peer, so its writes make no effects
  // (INFO's backlog_bytes reads 0 there).
  sim_config.replication.log_without_peers = false;
  cluster_sim::Simulation sim(std::move(sim_config));
  cluster_sim::ApplyLinks(scenario, sim);

  boost::asio::io_context io(1);
  server::SimHost host(io, sim);
  std::unique_ptr<Recording> recording;
  if (args.record) {
    recording = std::make_unique<Recording>();
    recording->recorder.emplace(sim, &recording->record);
    host.SetObserver([&sim, rec = recording.get()](const server::SimHost::Event& e) {
      if (!rec->recorder) return;
      cluster_sim::StepReport sr;
      sr.number = static_cast<int>(rec->steps.size()) + 1;
      sr.time = sim.Now();
      if (e.region >= 0) sr.region = sim.region_name(e.region);
      sr.operation = e.text;
      sr.reply = e.reply;
      rec->steps.push_back(std::move(sr));
      rec->recorder->EndStep(e.kind, e.region);
      // The wait for the first client is not part of the story: the diagram starts there.
      if (rec->steps.size() == 1) rec->record.steps[0].start = sim.Now();
      if (rec->steps.size() >= Recording::kMaxSteps) rec->recorder.reset();
    });
  }
  host.AddAdminCommand("DIAGRAM", [&](const std::vector<std::string>& argv) {
    host.Advance();
    return WriteDiagram(argv, scenario.name, sim, recording.get());
  });
  // --host takes an IPv6 address bare (::1) or in brackets ([::1]).
  std::string listen_host = args.host;
  if (listen_host.size() >= 2 && listen_host.front() == '[' && listen_host.back() == ']') {
    listen_host = listen_host.substr(1, listen_host.size() - 2);
  }
  server::ServerOptions server_options;
  server_options.requirepass = args.requirepass;
  std::vector<std::unique_ptr<server::RespServer>> servers;
  for (int r = 0; r < sim.region_count(); ++r) {
    const std::string& name = sim.region_name(r);
    auto srv = std::make_unique<server::RespServer>(io, host.backend(r), server_options);
    auto st = srv->Listen(listen_host, ports.count(name) ? ports[name] : 0);
    if (!st.ok()) return Fail("region " + name + ": " + st.message());
    servers.push_back(std::move(srv));
  }
  for (int r = 0; r < sim.region_count(); ++r) {
    std::cout << sim.region_name(r) << " "
              << cluster_sim::JoinHostPort(listen_host, servers[r]->port()) << "\n";
  }
  std::cout.flush();

  int exit_code = kExitOk;
  auto stop = [&] {
    for (auto& s : servers) s->Close();
    io.stop();
  };
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) stop();
  });

  host.Start();
  auto print = [](const std::string& line) {
    std::cout << line << "\n";
    std::cout.flush();
  };
  auto finished = [&](int failures) {
    std::cout << "steps done: " << cluster_sim::Plural(failures, "failure") << "\n";
    std::cout.flush();
    if (failures > 0) exit_code = kExitStepFailed;
    if (args.exit_after_steps) stop();
  };
  if (!scenario.steps.empty() || script) {
    host.RunSteps(scenario, options, print, [&](int failures) {
      if (!script) return finished(failures);
      host.RunSteps(*script, options, print,
                    [&, failures](int more) { finished(failures + more); });
    });
  } else if (args.exit_after_steps) {
    finished(0);
  }
  io.run();
  return exit_code;
}

struct NodeArgs {
  std::string region;
  std::string topology;  // a scenario file: its regions and `ports:` (loopback)
  std::string listen;
  std::vector<std::string> peers;  // REGION=HOST:PORT
  std::string requirepass;
  size_t backlog_bytes = 0;  // auto
  uint16_t incarnation = 0;
  int64_t join_timeout_ms = 1000;
  bool causal = false;
  std::string redis;  // redis://host:port/db: the node's durable store
  std::string redis_prefix = "aasim";
  std::string streams;  // --streams ("" = the --topology file's `streams:`, else local)
};

int NodeFail(const std::string& message) {
  std::cerr << "aasim node: " << message << "\n";
  return kExitBadInput;
}

int RunNode(const NodeArgs& args) {
  server::NodeConfig config;
  config.region = args.region;
  for (char c : args.region) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return NodeFail("--region '" + args.region + "': letters, digits, '-' and '_' only");
    }
  }
  std::vector<std::string> peer_args = args.peers;
  std::string listen = args.listen;
  cluster_sim::StreamsSpec streams;
  if (!args.topology.empty()) {
    // Every region of the file on 127.0.0.1 at its `ports:` entry.
    cluster_sim::ParseOptions parse;
    parse.steps_optional = true;
    auto topo = cluster_sim::LoadScenarioFile(args.topology, parse);
    if (!topo.ok()) return NodeFail(topo.status().message());
    if (topo->RegionIndex(args.region) < 0) {
      return NodeFail("--region " + args.region + " is not a region of " + args.topology);
    }
    streams = topo->streams;
    std::map<std::string, uint16_t> ports(topo->ports.begin(), topo->ports.end());
    for (const auto& r : topo->regions) {
      if (ports.count(r.name) == 0 || ports[r.name] == 0) {
        return NodeFail(args.topology + ": region " + r.name + " needs a port in `ports:`");
      }
      std::string addr = "127.0.0.1:" + std::to_string(ports[r.name]);
      if (r.name == args.region) {
        if (listen.empty()) listen = addr;
      } else {
        peer_args.push_back(r.name + "=" + addr);
      }
    }
  }
  if (listen.empty()) return NodeFail("--listen or --topology is required");
  // A bare port listens on loopback; another address must be written out.
  const bool bare_listen = listen.find(':') == std::string::npos;
  auto st = server::ParseHostPort(bare_listen ? "127.0.0.1:" + listen : listen, &config.listen_host,
                                  &config.listen_port);
  if (!st.ok()) return NodeFail("--listen: " + (bare_listen ? PortError(listen) : st.message()));
  for (const auto& p : peer_args) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return NodeFail("--peer " + p + ": expected REGION=HOST:PORT");
    }
    server::PeerAddress peer;
    peer.region = p.substr(0, eq);
    const std::string addr = p.substr(eq + 1);
    const bool bare = addr.find(':') == std::string::npos;  // a port on loopback
    st = server::ParseHostPort(bare ? "127.0.0.1:" + addr : addr, &peer.host, &peer.port);
    if (!st.ok()) return NodeFail("--peer " + p + ": " + (bare ? PortError(addr) : st.message()));
    // Port 0 means "any free port" for --listen; a peer cannot be reached there.
    if (peer.port == 0) return NodeFail("--peer " + p + ": expected a port 1..65535");
    config.peers.push_back(std::move(peer));
  }
  config.backlog_bytes = args.backlog_bytes;
  config.incarnation = args.incarnation;
  config.join_timeout = std::chrono::milliseconds(args.join_timeout_ms);
  config.causal = args.causal;
  config.server.requirepass = args.requirepass;
  if (!args.redis.empty()) {
#if AASIM_WITH_REDIS
    auto address = cluster_sim::ParseRedisUrl(args.redis);
    if (!address.ok()) return NodeFail("--redis " + address.status().message());
    st = cluster_sim::PingRedis(*address);
    if (!st.ok()) return NodeFail("--redis " + args.redis + ": " + st.message());
    cluster_sim::RedisStoreOptions options;
    options.address = *address;
    options.region = args.region;
    options.prefix = args.redis_prefix;
    config.store_factory = [options](int, crdt::ReplicaId self) {
      auto store = cluster_sim::RedisStore::Open(self, options);
      if (!store.ok()) {
        // It answered a moment ago: it died since, or holds data that is not aasim's.
        std::cerr << "aasim node: --redis " << store.status().message() << "\n";
        std::exit(kExitBadInput);
      }
      return std::unique_ptr<cluster_sim::Store>(std::move(*store));
    };
#else
    return NodeFail("--redis: this aasim was built without Redis (AASIM_WITH_REDIS=OFF)");
#endif
  }

  ApplyStreamsOption(args.streams, &streams);
  config.store_factory = [base = std::move(config.store_factory), streams](int site,
                                                                           crdt::ReplicaId self) {
    std::unique_ptr<cluster_sim::Store> store =
        base ? base(site, self) : cluster_sim::NewMemoryStore(self);
    store->SetStreamOptions(streams.replicate, streams.id_mode);
    return store;
  };

  boost::asio::io_context io(1);
  server::Node node(io, config);
  st = node.Start();
  if (!st.ok()) return NodeFail(st.message());
  std::cout << config.region << " " << cluster_sim::JoinHostPort(config.listen_host, node.port())
            << std::endl;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) {
      node.Stop();
      io.stop();
    }
  });
  io.run();
  return kExitOk;
}

}  // namespace

CLI::App* AddNodeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<NodeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "node",
      "Run one Active/Active region in this process: a RESP endpoint for clients on --listen, "
      "and replication with the peers over TCP (the simulator's protocol: acknowledged "
      "effects, resume after reconnect, full sync when the backlog is gone). Start one "
      "process per region, each given every other region as a --peer. Prints `REGION "
      "HOST:PORT` once listening; runs until SIGINT/SIGTERM.\n"
      "Admin commands on the endpoint: AASIM STATUS (incarnation, peers, lag) | DUMP (the "
      "region's data, in the canonical text `aasim run` calls final_state) | DISCONNECT "
      "[PEER|ALL [MS]] (cut the links with one peer or all, both ways, for MS milliseconds, "
      "default 500). PARTITION, HEAL, CRASH, RESTART, TIME, WAITSYNC and DIAGRAM act on a "
      "simulation: `aasim serve` only.");
  cmd->add_option("--region", args->region, "This region's name")->required();
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT for clients and peers (a bare PORT means 127.0.0.1; another "
                  "address exposes the node beyond this machine)")
      ->type_name("HOST:PORT");
  cmd->add_option("--topology", args->topology,
                  "A scenario file whose regions and `ports:` give this node's --listen and "
                  "its peers, all on 127.0.0.1 (steps, if any, are ignored)")
      ->type_name("FILE");
  cmd->add_option("--peer", args->peers, "Another region and its --listen address (repeatable)")
      ->type_name("REGION=HOST:PORT");
  cmd->add_option("--requirepass", args->requirepass,
                  "Password for clients (AUTH); peers use it too, so give every node the same");
  cmd->add_option("--backlog", args->backlog_bytes,
                  "Bytes of effects kept for partial syncs (default 0: auto, 1% of the data "
                  "from 1MB to 250MB, as Redis Enterprise sizes it)");
  cmd->add_option("--incarnation", args->incarnation,
                  "This run's incarnation, 1..65535 (default: the one recorded in --redis, "
                  "else the next after every incarnation the peers have seen of this region; "
                  "a given one the peers have already seen is refused)")
      ->check(CLI::Range(1, 65535));
  cmd->add_flag("--causal", args->causal,
                "Causal delivery: apply a peer's effect only after everything its writer had "
                "applied (give every node the same setting)");
  cmd->add_option("--join-timeout", args->join_timeout_ms,
                  "Milliseconds a node without a recorded incarnation waits for silent peers "
                  "before choosing one (default 1000)")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000}));
  cmd->add_option("--redis", args->redis,
                  "Keep this region's data, replication log and progress in this Redis "
                  "(redis://[:password@]host:port/db; run it with appendfsync always): a node "
                  "killed and restarted on it resumes, losing nothing it acknowledged")
      ->type_name("URL");
  cmd->add_option("--redis-prefix", args->redis_prefix,
                  "Key prefix of aasim's metadata in that Redis (default aasim)");
  cmd->add_option("--streams", args->streams,
                  std::string(kStreamsHelp) + "; default: the --topology file's, else local")
      ->check(CLI::IsMember({"local", "strict", "semi-strict", "liberal"}));
  cmd->callback([args, exit_code] { *exit_code = RunNode(*args); });
  return cmd;
}

CLI::App* AddServeCommand(CLI::App& app, const cluster_sim::RunOptions& run_options,
                          int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  args->run_options = run_options;
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a scenario's regions over RESP (the Redis protocol), in real time: one endpoint "
      "per region, for redis-cli, redis-benchmark or any Redis client. Links delay and drop "
      "effects as the file says, in wall-clock time. Prints one `REGION HOST:PORT` line per "
      "region, then runs the file's steps (if any) against the wall clock.\n"
      "Admin commands on any endpoint: AASIM PARTITION A B | HEAL ALL | HEAL A B | CRASH A | "
      "RESTART A | STATUS | TIME | WAITSYNC [MS] | DIAGRAM PATH (with --record) (a group of "
      "regions is written A,B).");
  cmd->add_option("file", args->file, "Scenario file (YAML); its `steps` may be empty")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--seed", args->seed, "Seed for jitter and loss (overrides the file's)")
      ->check(aasim::SeedCheck());
  cmd->add_option("--host", args->host,
                  "Address to listen on (default 127.0.0.1; an IPv6 one as ::1 or [::1]; "
                  "anything but loopback exposes the endpoints beyond this machine)");
  cmd->add_option("--port", args->ports,
                  "Fixed port for a region, REGION=PORT (repeatable; also `ports:` in the "
                  "file; default: a free port)")
      ->type_name("REGION=PORT");
  cmd->add_option("--requirepass", args->requirepass,
                  "Password clients must give with AUTH (as Redis's requirepass)");
  cmd->add_option("--script", args->script,
                  "A scenario file whose steps run against the wall clock after the file's "
                  "own (as in `aasim run`, but wait sleeps and the other steps apply live)")
      ->type_name("FILE");
  cmd->add_flag("--causal", args->causal,
                "Causal delivery between the regions, as `replication: {causal: true}` in the "
                "file: a region applies an effect only after everything its writer had applied");
  cmd->add_flag("--record", args->record,
                "Record every client command, admin action and replication message (up to " +
                    std::to_string(Recording::kMaxSteps) +
                    " commands), so that `AASIM DIAGRAM PATH` on any endpoint writes the "
                    "space-time diagram (SVG) of what happened so far");
  cmd->add_option("--bc-policy", args->bc_policy,
                  "Bounded-counter rebalancing while the steps run, as `bounded_counters: "
                  "{policy: ...}` in the file: none, proportional or on-demand")
      ->check(CLI::IsMember({"none", "proportional", "on-demand"}));
  cmd->add_flag("--exit-after-steps", args->exit_after_steps,
                "Stop serving once the steps are done (exit 1 if an expectation failed)");
  cmd->add_option("--streams", args->streams, std::string(kStreamsHelp) + "; default: the file's")
      ->check(CLI::IsMember({"local", "strict", "semi-strict", "liberal"}));
  cmd->callback([args, exit_code] { *exit_code = RunServe(*args); });
  return cmd;
}

}  // namespace aasim
