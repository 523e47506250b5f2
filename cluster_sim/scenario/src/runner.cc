#include "cluster_sim/runner.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/bc_policy.h"
#include "cluster_sim/command_table.h"
#include "cluster_sim/network.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/scripting.h"
#include "cluster_sim/session.h"
#include "cluster_sim/strings.h"
#include "crdt/string_value.h"

namespace cluster_sim {

namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The key a command step's value columns follow: the command's first key (the command
// table's key range; for a movable-keys form the first after its count or STREAMS; for
// OBJECT the one after the subcommand), or nullopt for a command that names none (KEYS,
// SCAN, DBSIZE, TIME, ...), whose step shows the previous step's key. A command the table
// does not know shows its first argument.
std::optional<std::string> StepKey(const std::vector<std::string>& argv) {
  const CommandSpec* spec = FindStoreCommand(AsciiLower(argv[0]));
  if (spec == nullptr) return argv.size() > 1 ? std::optional(argv[1]) : std::nullopt;
  size_t at = static_cast<size_t>(spec->first_key);
  if (at == 0 && spec->HasFlag("movablekeys")) {
    at = 2;  // COUNT key ...
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
      if (IEquals(argv[i], "streams")) at = i + 1;
    }
  } else if (at == 0 && spec->name == "object") {
    at = 2;
  }
  if (at == 0 || at >= argv.size()) return std::nullopt;
  return argv[at];
}

bool ReplyIsUnordered(const std::vector<std::string>& argv) {
  static const char* kSetReplies[] = {"SMEMBERS", "SINTER", "SUNION", "SDIFF",
                                      "HKEYS",    "HVALS",  "KEYS",   "HGETALL"};
  if (argv.empty()) return false;
  std::string cmd = Upper(argv[0]);
  for (const char* c : kSetReplies) {
    if (cmd == c) return true;
  }
  return false;
}

std::string Where(const Scenario& s, const SourceMark& m) {
  return s.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

std::string JoinGroups(const std::vector<std::vector<std::string>>& groups) {
  std::string out;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g) out += " | ";
    for (size_t i = 0; i < groups[g].size(); ++i) {
      if (i) out += ",";
      out += groups[g][i];
    }
  }
  return out;
}

std::vector<std::vector<int>> Indexes(const Simulation& sim,
                                      const std::vector<std::vector<std::string>>& groups) {
  std::vector<std::vector<int>> out;
  for (const auto& g : groups) {
    std::vector<int> v;
    for (const auto& name : g) v.push_back(sim.RegionIndex(name));
    out.push_back(std::move(v));
  }
  return out;
}

// What services see of the simulation: connections (Sessions), liveness, round trips.
class SimServiceHost final : public ServiceHost {
 public:
  explicit SimServiceHost(Simulation& sim) : sim_(sim) {}
  int region_count() const override { return sim_.region_count(); }
  std::string region_name(int r) const override { return sim_.region_name(r); }
  bool alive(int r) const override { return sim_.alive(r); }
  std::unique_ptr<Client> Connect(int r) override {
    return std::make_unique<Session>(SimulationBackend(sim_, r));
  }
  SimTime RoundTrip(int from, int to) const override {
    if (from == to) return SimTime(0);
    return sim_.network().link(from, to).latency + sim_.network().link(to, from).latency;
  }

 private:
  Simulation& sim_;
};

// The services of one run, made on first use.
class Services {
 public:
  explicit Services(const RunOptions& options) : options_(options) {}
  Service* Get(std::string_view name) {
    auto it = made_.find(name);
    if (it != made_.end()) return it->second.get();
    auto f = options_.services.find(name);
    if (f == options_.services.end()) return nullptr;
    return made_.emplace(std::string(name), f->second()).first->second.get();
  }
  // The service offering check `name`.
  Service* ForCheck(std::string_view name) {
    for (const auto& [service, factory] : options_.services) {
      Service* s = Get(service);
      for (const std::string& c : s->CheckNames()) {
        if (c == name) return s;
      }
    }
    return nullptr;
  }

 private:
  const RunOptions& options_;
  std::map<std::string, std::unique_ptr<Service>, std::less<>> made_;
};

std::string Quoted(const std::vector<std::string>& lines) {
  std::string out = "[";
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? ", \"" : "\"") + lines[i] + "\"";
  return out + "]";
}

}  // namespace

Status ValidateServiceSteps(const Scenario& scenario, const RunOptions& options) {
  Services services(options);
  for (const Step& step : scenario.steps) {
    const SourceMark& m = step.value_mark.line > 0 ? step.value_mark : step.mark;
    if (step.kind == Step::Kind::kService) {
      std::string what = step.service + "@" + step.region;
      Service* s = services.Get(step.service);
      if (s == nullptr) {
        return Status::InvalidArgument(Where(scenario, step.mark) + what + ": no service '" +
                                       step.service + "' in this build");
      }
      Status v = s->Validate(step.text);
      if (!v.ok()) return Status::InvalidArgument(Where(scenario, m) + what + ": " + v.message());
    } else if (step.kind == Step::Kind::kCheck) {
      if (services.ForCheck(step.service) == nullptr) {
        std::string known;
        for (const auto& [name, factory] : options.services) {
          for (const std::string& c : services.Get(name)->CheckNames()) {
            known += (known.empty() ? "" : ", ") + c;
          }
        }
        return Status::InvalidArgument(
            Where(scenario, m) + "check: unknown check '" + step.service +
            "' (known checks: " + (known.empty() ? "none" : known) + ")");
      }
    }
  }
  return Status::Ok();
}

std::vector<std::string> UnknownCommandWarnings(
    const Scenario& scenario, const std::function<bool(std::string_view)>& forwarded) {
  std::vector<std::string> warnings;
  for (const Step& step : scenario.steps) {
    if (step.kind != Step::Kind::kCommand || step.expect || FindStoreCommand(step.argv[0]) ||
        (forwarded && forwarded(step.argv[0]))) {
      continue;
    }
    const SourceMark& m = step.value_mark.line > 0 ? step.value_mark : step.mark;
    warnings.push_back(Where(scenario, m) + "warning: " + step.region + ": unknown command '" +
                       strict_yaml::Printable(step.argv[0]) +
                       "': its reply will be an error (if that is meant, say so with `expect: "
                       "{error: unknown command}`)");
  }
  return warnings;
}

bool Matches(const Expectation& expect, const Reply& reply, const std::vector<std::string>& argv,
             std::string* why) {
  auto fail = [&](const std::string& expected) {
    if (why) *why = "expected " + expected + ", got " + reply.ToString();
    return false;
  };
  switch (expect.kind) {
    case Expectation::Kind::kNull:
      return reply.is_nil() ? true : fail("(nil)");
    case Expectation::Kind::kError:
      if (reply.type == Reply::Type::kError && reply.str.find(expect.text) != std::string::npos) {
        return true;
      }
      return fail("an error containing \"" + expect.text + "\"");
    case Expectation::Kind::kScalar: {
      bool ok = false;
      if (reply.type == Reply::Type::kInteger) ok = std::to_string(reply.integer) == expect.text;
      if (reply.type == Reply::Type::kBulk || reply.type == Reply::Type::kStatus) {
        ok = reply.str == expect.text;
      }
      return ok ? true : fail(expect.text);
    }
    case Expectation::Kind::kList: {
      std::string shown = "[";
      for (size_t i = 0; i < expect.items.size(); ++i) {
        shown += (i ? ", " : "") + expect.items[i];
      }
      shown += "]";
      if (reply.type != Reply::Type::kArray) return fail(shown);
      std::vector<std::string> got;
      for (const Reply& e : reply.elements) got.push_back(e.ToString());
      std::vector<std::string> want = expect.items;
      if (ReplyIsUnordered(argv)) {
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
      }
      return got == want ? true : fail(shown);
    }
  }
  return false;
}

SimConfig MakeSimConfig(const Scenario& scenario, const RunOptions& options) {
  SimConfig c;
  c.seed = options.seed ? *options.seed : scenario.seed.value_or(kDefaultSeed);
  for (const RegionSpec& r : scenario.regions)
    c.regions.push_back(RegionConfig{r.name, r.clock_skew});
  c.store_factory = [base = options.store_factory, streams = scenario.streams](
                        int region, crdt::ReplicaId self) {
    std::unique_ptr<Store> store = base ? base(region, self) : NewMemoryStore(self);
    store->SetStreamOptions(streams.replicate, streams.id_mode);
    return store;
  };
  const ReplicationSpec& rs = scenario.replication;
  if (rs.backlog_bytes) c.replication.backlog_bytes = *rs.backlog_bytes;
  if (rs.max_batch_bytes) c.replication.max_batch_bytes = *rs.max_batch_bytes;
  if (rs.max_rto) c.replication.max_rto = *rs.max_rto;
  c.replication.causal = rs.causal || options.causal;
  return c;
}

LinkParams LinkFor(const Scenario& scenario, int a, int b) {
  const auto& regions = scenario.regions;
  LinkParams p;  // 50ms, no jitter, no loss
  if (scenario.link_defaults.spec) {
    const LinkSpec& d = *scenario.link_defaults.spec;
    p = LinkParams{d.latency, d.jitter, d.loss, d.duplicate};
  } else if (regions[a].lat && regions[b].lat) {
    double km = GreatCircleKm(*regions[a].lat, *regions[a].lon, *regions[b].lat, *regions[b].lon);
    p.latency = FibreLatency(km, scenario.link_defaults.route_factor);
  }
  // Explicit rules win; a later rule for the same direction wins over an earlier one.
  for (const LinkRule& rule : scenario.links) {
    bool fwd = rule.from == regions[a].name && rule.to == regions[b].name;
    bool back = rule.both_ways && rule.to == regions[a].name && rule.from == regions[b].name;
    if (fwd || back) {
      p = LinkParams{rule.spec.latency, rule.spec.jitter, rule.spec.loss, rule.spec.duplicate};
    }
  }
  return p;
}

void ApplyLinks(const Scenario& scenario, Simulation& sim) {
  int n = static_cast<int>(scenario.regions.size());
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a != b) sim.network().SetLink(a, b, LinkFor(scenario, a, b));
    }
  }
}

bool VirtualTime::WaitUntil(SimTime t) {
  sim_.AdvanceTo(t);
  return true;
}

struct StepInterpreter::Impl {
  Impl(const Scenario& scenario_in, Simulation& sim_in, TimePolicy& time_in,
       const RunOptions& options)
      : scenario(scenario_in),
        sim(sim_in),
        time(time_in),
        load_rng(MakeSimConfig(scenario_in, options).seed),
        host(sim_in),
        services(options),
        keep_passed_steps(options.keep_passed_steps) {
    BcPolicy policy = BcPolicy::kNone;
    ParseBcPolicy(options.bc_policy.empty() ? scenario.bounded_counters.policy : options.bc_policy,
                  &policy);
    if (policy != BcPolicy::kNone) {
      rebalancer = std::make_unique<BcRebalancer>(sim, policy, scenario.bounded_counters.period,
                                                  MakeSimConfig(scenario_in, options).seed);
      rebalancer->Start();
    }
    report.file = scenario.file;
    report.causal = scenario.replication.causal || options.causal;
    report.name = scenario.name;
    report.source = scenario.source;
    report.seed = options.seed ? *options.seed : scenario.seed.value_or(kDefaultSeed);
    for (const RegionSpec& r : scenario.regions) report.regions.push_back(r.name);
  }

  void Fail(const Step& step, const std::string& why) {
    sr.verdict = StepReport::Verdict::kFail;
    sr.failure = Where(scenario, step.mark) + why;
  }

  // Plays `step` into `sr`; false when it must wait (Perform is called again on resume).
  bool Perform(const Step& step);
  bool PerformLoad(const Step& step);
  void Command(const Step& step);
  void CheckExpect(const Step& step);
  // On-demand: after a BC.DECRBY refused for rights, waits for the rights asked of a peer
  // and retries once. False when it must wait.
  bool AwaitRights(const Step& step);
  void Converged(const Step& step);
  void RunService(const Step& step);
  void RunCheck(const Step& step);

  const Scenario& scenario;
  Simulation& sim;
  TimePolicy& time;
  const Rng load_rng;
  SimServiceHost host;
  Services services;
  std::function<void(const Step&, const StepReport&)> on_step;
  const bool keep_passed_steps;  // RunOptions::keep_passed_steps
  RunReport report;
  std::string key;  // the key the table follows: the last command's
  size_t next = 0;  // the step being played

  // What a step shows of `key` in region r: its Dump, abbreviated past kStepValueBytes.
  std::string StepValue(int r);
  // The last long value shown per region, reused while its KeyVersion stays the same, so
  // steps that leave a big key alone cost nothing in its size.
  struct ShownValue {
    std::string key;
    uint64_t version = 0;
    std::string value;  // abbreviated; empty: nothing cached
  };
  std::vector<ShownValue> shown;

  // The step being played, kept across waits.
  bool started = false;
  StepReport sr;
  std::optional<SimTime> until;              // wait, at: the instant waited for
  std::unique_ptr<BcRebalancer> rebalancer;  // bounded_counters.policy other than none
  struct Ask {                               // on-demand: the rights a refused step waits for
    bool waiting = false;
    int answer = -1;  // -1 not yet, 0 none given, 1 a transfer is on its way
    int peer = -1;
    SimTime since{0};
    int64_t amount = 0;
  } ask;
  struct Load {  // a load step's progress
    Rng rng{0};
    SimTime start{0};
    uint64_t done = 0;  // ops run
    std::vector<uint64_t> per_region;
    uint64_t errors = 0;
    std::vector<std::string> argv;
  } load;
};

bool StepInterpreter::Impl::Perform(const Step& step) {
  switch (step.kind) {
    case Step::Kind::kCommand:
      if (!ask.waiting) Command(step);
      return ask.waiting ? AwaitRights(step) : true;
    case Step::Kind::kPartition:
      sr.operation = "partition " + JoinGroups(step.groups);
      sim.Partition(Indexes(sim, step.groups));
      return true;
    case Step::Kind::kHeal:
      if (step.all) {
        sr.operation = "heal all";
        sim.HealAll();
      } else {
        sr.operation = "heal " + JoinGroups(step.groups);
        sim.Heal(Indexes(sim, step.groups));
      }
      return true;
    case Step::Kind::kWait:
      sr.operation = "wait " + FormatDuration(step.duration);
      if (!until) until = SaturatedAdd(time.Now(), step.duration);
      return time.WaitUntil(*until);
    case Step::Kind::kAt:
      sr.operation = "at " + FormatDuration(step.duration);
      if (!until) {
        const SimTime now = time.Now();
        if (step.duration >= now) {
          until = step.duration;
        } else if (step.past_runs_now) {
          sr.notes.push_back("already past (virtual time is " + FormatDuration(now) +
                             "): runs now");
          until = now;
        } else {
          Fail(step, "at " + FormatDuration(step.duration) + " is in the past (virtual time is " +
                         FormatDuration(now) + ")");
          return true;
        }
      }
      return time.WaitUntil(*until);
    case Step::Kind::kSync: {
      sr.operation = "sync";
      std::optional<SyncResult> res = time.Sync();
      if (!res) return false;
      if (res->done) {
        sr.notes.push_back("took " + FormatDuration(res->took));
      } else {
        Fail(step, "sync did not finish within " + FormatDuration(res->took) + ": " + res->pending);
      }
      return true;
    }
    case Step::Kind::kConverged:
      Converged(step);
      return true;
    case Step::Kind::kCrash: {
      sr.region = step.region;
      sr.operation = "crash " + step.region;
      const int r = sim.RegionIndex(step.region);
      if (std::string why = sim.CannotCrash(r); !why.empty()) {
        Fail(step, why);
        return true;
      }
      uint64_t lost = sim.Crash(r);
      sr.notes.push_back("lost " + Plural(lost, "unreplicated write"));
      return true;
    }
    case Step::Kind::kRestart:
      sr.region = step.region;
      sr.operation = "restart " + step.region;
      if (std::string why = sim.CannotRestart(sim.RegionIndex(step.region)); !why.empty()) {
        Fail(step, why);
        return true;
      }
      sim.Restart(sim.RegionIndex(step.region));
      return true;
    case Step::Kind::kNote:
      sr.operation = "note";
      sr.notes.push_back(step.text);
      return true;
    case Step::Kind::kService:
      RunService(step);
      return true;
    case Step::Kind::kCheck:
      RunCheck(step);
      return true;
    case Step::Kind::kLoad:
      return PerformLoad(step);
  }
  return true;
}

void StepInterpreter::Impl::Command(const Step& step) {
  sr.region = step.region;
  sr.operation = step.text;
  const int r = sim.RegionIndex(step.region);
  sr.reply = sim.Execute(r, step.argv);
  if (!Scripts::Handles(step.argv[0])) {
    if (std::optional<std::string> k = StepKey(step.argv)) key = std::move(*k);
  } else if (step.argv.size() > 3 && step.argv[2] != "0" && !IEquals(step.argv[0], "script")) {
    key = step.argv[3];  // EVAL*: the script's first key (SCRIPT names none)
  }
  int64_t n = 0;
  if (rebalancer && step.argv.size() == 3 && IEquals(step.argv[0], "BC.DECRBY") &&
      sr.reply->is_error() && sr.reply->str.rfind("ERR insufficient rights", 0) == 0 &&
      crdt::ParseRedisInteger(step.argv[2], &n)) {
    if (rebalancer->policy() == BcPolicy::kProportional) {
      rebalancer->NoteRefused(r, step.argv[1], n);
    } else {
      ask = Ask{};
      ask.since = sim.Now();
      ask.amount = n;
      ask.waiting = rebalancer->Ask(
          r, step.argv[1], n, [this](bool t) { ask.answer = t; }, &ask.peer);
      if (ask.waiting) return;
      sr.notes.push_back("on-demand: no peer holds rights to ask");
    }
  }
  CheckExpect(step);
}

bool StepInterpreter::Impl::AwaitRights(const Step& step) {
  const int r = sim.RegionIndex(step.region);
  const SimTime deadline = ask.since + SimTime(10'000'000);
  while (ask.answer < 0 ||
         (ask.answer == 1 && rebalancer->RightsAt(r, step.argv[1])[r] < ask.amount &&
          sim.Now() < deadline)) {
    if (!time.WaitUntil(sim.Now() + SimTime(1000))) return false;
  }
  const std::string peer = sim.region_name(ask.peer);
  const std::string waited = FormatDuration(sim.Now() - ask.since);
  if (ask.answer == 1) {
    sr.reply = sim.Execute(r, step.argv);
    sr.notes.push_back("on-demand: asked " + peer + " for rights, retried after " + waited);
  } else {
    sr.notes.push_back("on-demand: " + peer + " had no rights to give (answer after " + waited +
                       ")");
  }
  ask.waiting = false;
  CheckExpect(step);
  return true;
}

void StepInterpreter::Impl::CheckExpect(const Step& step) {
  if (!step.expect) return;
  report.expectations++;
  std::string why;
  if (Matches(*step.expect, *sr.reply, step.argv, &why)) {
    sr.verdict = StepReport::Verdict::kPass;
  } else {
    Fail(step, why);
  }
}

void StepInterpreter::Impl::Converged(const Step& step) {
  sr.operation = "converged";
  for (size_t i = 0; i < step.keys.size(); ++i) {
    sr.operation += (i ? ", " : " ") + step.keys[i];
  }
  if (step.keys.empty()) sr.operation += " (all keys)";
  report.expectations++;
  std::vector<std::string> diverged = sim.Divergent(step.keys);
  if (diverged.empty()) {
    sr.verdict = StepReport::Verdict::kPass;
  } else {
    std::string why = "regions disagree on";
    for (const auto& k : diverged) {
      why += " " + k + " (";
      for (int r = 0; r < sim.region_count(); ++r) {
        if (!sim.alive(r)) continue;
        why += (r ? ", " : "") + sim.region_name(r) + "=" + sim.Dump(r, k);
      }
      why += ")";
    }
    Fail(step, why);
  }
  if (step.keys.size() == 1) key = step.keys[0];
}

void StepInterpreter::Impl::RunService(const Step& step) {
  int r = sim.RegionIndex(step.region);
  int from = step.from_region.empty() ? r : sim.RegionIndex(step.from_region);
  sr.region = step.region;
  sr.operation = step.service + " " + step.text;
  if (from != r) sr.operation += " (from " + step.from_region + ")";
  Service* service = services.Get(step.service);
  if (service == nullptr) return Fail(step, "no service '" + step.service + "' in this build");
  ServiceResult res = service->Run(host, r, from, step.text);
  if (!res.outcome.empty()) sr.reply = Reply::Status(res.outcome);
  sr.output = res.lines;
  sr.notes = res.notes;
  if (!res.error.empty()) {
    report.expectations++;
    return Fail(step, step.service + "@" + step.region + ": " + res.error);
  }
  std::string why;
  if (step.expect) {
    report.expectations++;
    if (res.outcome != step.expect->text) {
      why = "expected outcome " + step.expect->text + ", got " +
            (res.outcome.empty() ? "none" : res.outcome);
    }
  }
  if (step.output) {
    report.expectations++;
    if (res.lines != *step.output) {
      why += (why.empty() ? "" : "; ") + std::string("expected output ") + Quoted(*step.output) +
             ", got " + Quoted(res.lines);
    }
  }
  if (!why.empty()) {
    Fail(step, why);
  } else if (step.expect || step.output) {
    sr.verdict = StepReport::Verdict::kPass;
  }
}

void StepInterpreter::Impl::RunCheck(const Step& step) {
  sr.operation = "check " + step.service;
  Service* service = services.ForCheck(step.service);
  report.expectations++;
  if (service == nullptr) return Fail(step, "unknown check '" + step.service + "'");
  std::vector<std::string> broken = service->Check(host, step.service);
  sr.reply = Reply::Status(broken.empty() ? "all invariants hold"
                                          : std::to_string(broken.size()) + " broken");
  sr.output = broken;
  const std::vector<std::string> want =
      step.expect ? step.expect->items : std::vector<std::string>{};
  if (broken == want) {
    sr.verdict = StepReport::Verdict::kPass;
  } else {
    Fail(step, "expected broken invariants " + Quoted(want) + ", got " + Quoted(broken));
  }
}

// A `load` step: ops spread evenly over the duration, round-robin over the regions,
// commands drawn from the step's list, keys from per-type pools.
bool StepInterpreter::Impl::PerformLoad(const Step& step) {
  const LoadSpec& spec = step.load;
  if (!until) {
    sr.operation =
        "load " + std::to_string(spec.ops) + " ops over " + FormatDuration(spec.duration);
    load = Load{};
    load.rng = load_rng.Fork("load:" + std::to_string(sr.number));
    load.start = time.Now();
    load.per_region.assign(spec.regions.size(), 0);
    until = SaturatedAdd(load.start, spec.duration);
  }
  Rng& rng = load.rng;
  for (; load.done < spec.ops && !sim.loop().budget_spent(); ++load.done) {
    const uint64_t i = load.done;
    // The i-th op runs at start + i * duration / ops (exact integer arithmetic).
    const uint64_t d = static_cast<uint64_t>(spec.duration.count());
    const uint64_t offset = d / spec.ops * i + d % spec.ops * i / spec.ops;
    if (!time.WaitUntil(SaturatedAdd(load.start, SimTime(static_cast<int64_t>(offset))))) {
      return false;
    }
    size_t which = i % spec.regions.size();
    const std::string& cmd = spec.commands[rng.Uniform(spec.commands.size())];
    std::string n = std::to_string(rng.Uniform(spec.keys));
    std::string member = "m" + std::to_string(rng.Uniform(16));
    std::vector<std::string>& argv = load.argv;
    if (cmd == "INCR") {
      argv = {"INCRBY", "load:counter:" + n, std::to_string(rng.Range(1, 10))};
    } else if (cmd == "SET") {
      argv = {"SET", "load:string:" + n, "v" + std::to_string(rng.Uniform(1'000'000))};
    } else if (cmd == "SADD") {
      argv = {"SADD", "load:set:" + n, member};
    } else if (cmd == "SREM") {
      argv = {"SREM", "load:set:" + n, member};
    } else {
      static const char* kPools[] = {"load:counter:", "load:string:", "load:set:"};
      argv = {"DEL", kPools[rng.Uniform(3)] + n};
    }
    Reply r = sim.Execute(sim.RegionIndex(spec.regions[which]), argv);
    load.errors += r.is_error() ? 1 : 0;
    load.per_region[which]++;
  }
  if (!time.WaitUntil(*until)) return false;
  std::string spread;
  for (size_t i = 0; i < spec.regions.size(); ++i) {
    spread += (i ? ", " : "") + std::to_string(load.per_region[i]) + " in " + spec.regions[i];
  }
  sr.notes = {std::to_string(spec.ops) + " ops (" + spread + ")"};
  if (load.errors) sr.notes.push_back(std::to_string(load.errors) + " error replies");
  return true;
}

std::string StepInterpreter::Impl::StepValue(int r) {
  if (shown.empty()) shown.resize(static_cast<size_t>(sim.region_count()));
  ShownValue& c = shown[static_cast<size_t>(r)];
  // Only a value once found long is tracked (KeyVersion makes the store track writes).
  if (!c.value.empty() && c.key == key && sim.KeyVersion(r, key) == c.version) return c.value;
  std::string v = sim.Dump(r, key);
  if (v.size() <= kStepValueBytes) {
    c.value.clear();
    return v;
  }
  const size_t total = v.size();
  v.resize(kStepValueBytes);
  v += "... (" + std::to_string(total) + " bytes)";
  c.key = key;
  c.version = sim.KeyVersion(r, key);
  c.value = v;
  return v;
}

StepInterpreter::StepInterpreter(const Scenario& scenario, Simulation& sim, TimePolicy& time,
                                 const RunOptions& options)
    : impl_(std::make_unique<Impl>(scenario, sim, time, options)) {}

StepInterpreter::~StepInterpreter() = default;

void StepInterpreter::OnStep(std::function<void(const Step&, const StepReport&)> on_step) {
  impl_->on_step = std::move(on_step);
}

const RunReport& StepInterpreter::report() const { return impl_->report; }

bool StepInterpreter::Run() {
  Impl& in = *impl_;
  const std::vector<Step>& steps = in.scenario.steps;
  while (in.next < steps.size()) {
    const Step& step = steps[in.next];
    if (!in.started) {
      in.started = true;
      in.sr = StepReport{};
      in.sr.number = static_cast<int>(in.next) + 1;
      in.sr.mark = step.mark;
      in.until.reset();
      in.time.Now();  // brings the simulation up to the present
    }
    if (!in.Perform(step)) return false;
    in.started = false;
    ++in.next;
    StepReport& sr = in.sr;
    const bool spent = in.sim.loop().budget_spent();
    if (spent) {
      in.Fail(step, "event budget of " + std::to_string(in.sim.loop().events_run()) +
                        " events spent at virtual time " + FormatDuration(in.sim.Now()) +
                        "; the run stops here (raise it with --max-events)");
      in.next = steps.size();
    }
    if (sr.verdict == StepReport::Verdict::kFail) in.report.failures++;
    sr.time = in.sim.Now();
    sr.key = in.key;
    if (!in.key.empty()) {
      for (int r = 0; r < in.sim.region_count(); ++r) sr.values.push_back(in.StepValue(r));
    }
    ++in.report.steps_run;
    const bool keep = in.keep_passed_steps || sr.verdict == StepReport::Verdict::kFail;
    if (keep) in.report.steps.push_back(std::move(sr));
    in.time.StepDone();
    if (in.on_step) in.on_step(step, keep ? in.report.steps.back() : sr);
  }
  return true;
}

RunReport StepInterpreter::Finish() {
  Impl& in = *impl_;
  AASIM_CHECK(in.next == in.scenario.steps.size()) << "Finish before the last step";
  RunReport report = std::move(in.report);
  Simulation& sim = in.sim;
  report.end_time = sim.Now();
  report.events = sim.loop().events_run();
  report.digest = sim.Digest();
  report.converged_after_heal = sim.converged_after_heal();
  for (int r = 0; r < sim.region_count(); ++r) {
    report.metrics.push_back(sim.Metrics(r));
    report.final_state.push_back(sim.DumpAll(r));
  }
  return report;
}

RunReport RunScenario(const Scenario& scenario, const RunOptions& options) {
  Simulation sim(MakeSimConfig(scenario, options));
  sim.loop().set_event_budget(options.max_events);
  ApplyLinks(scenario, sim);
  if (options.trace) sim.SetTrace(options.trace);
  VirtualTime time(sim);
  StepInterpreter steps(scenario, sim, time, options);
  const bool done = steps.Run();
  AASIM_CHECK(done) << "virtual time never waits";
  return steps.Finish();
}

}  // namespace cluster_sim
