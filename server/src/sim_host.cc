#include "server/sim_host.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include <boost/asio.hpp>

#include "cluster_sim/runner.h"
#include "cluster_sim/strings.h"
#include "cluster_sim/time.h"

namespace server {

namespace asio = boost::asio;
using cluster_sim::Reply;
using cluster_sim::SimTime;
using cluster_sim::Step;
using cluster_sim::StepReport;

namespace {

using cluster_sim::IEquals;

// The longest AASIM WAITSYNC may wait (one hour; the default is 10 s).
constexpr int64_t kMaxWaitSyncMs = 3'600'000;

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// The line `aasim serve` prints for a step (after its "[TIME] ").
std::string StepLine(const Step& step, const StepReport& sr) {
  std::string line;
  switch (step.kind) {
    case Step::Kind::kCommand:
      line = step.region + ": " + step.text + " -> " + sr.reply->ToString();
      break;
    case Step::Kind::kSync:
    case Step::Kind::kConverged:
      line = step.kind == Step::Kind::kSync ? "sync:" : "converged:";
      if (sr.verdict != StepReport::Verdict::kFail) {
        return line + (step.kind == Step::Kind::kSync ? " caught up" : " ok");
      }
      return line + " FAIL " + sr.failure;
    case Step::Kind::kNote:
      return step.text;
    default:
      line = sr.operation;
      if (sr.reply) line += " -> " + sr.reply->ToString();
      if (!sr.notes.empty()) line += " (" + Join(sr.notes, "; ") + ")";
      for (const std::string& output : sr.output) line += "\n  " + output;
      break;
  }
  if (sr.verdict == StepReport::Verdict::kPass) line += "  ok";
  if (sr.verdict == StepReport::Verdict::kFail) line += "  FAIL " + sr.failure;
  return line;
}

}  // namespace

struct SimHost::Impl {
  class RegionBackend : public Backend {
   public:
    RegionBackend(Impl& host, int r) : host_(host), r_(r), name_(host.sim.region_name(r)) {}
    const std::string& region() const override { return name_; }
    Reply Execute(const std::vector<std::string>& argv) override {
      host_.Batch(r_);
      Reply reply = host_.sim.Execute(r_, argv);
      if (host_.observer) host_.Observe(Step::Kind::kCommand, r_, Join(argv, " "), reply);
      return reply;
    }
    std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override {
      host_.Batch(r_);
      std::vector<Reply> replies = host_.sim.ExecuteBatch(r_, cmds);
      if (host_.observer) {
        std::string text = "MULTI";
        for (const auto& c : cmds) text += "; " + Join(c, " ");
        host_.Observe(Step::Kind::kCommand, r_, text + "; EXEC", Reply::Array(replies));
      }
      return replies;
    }
    uint64_t KeyVersion(std::string_view key) override {
      host_.Advance();
      return host_.sim.KeyVersion(r_, key);
    }
    std::string StreamLastId(std::string_view key) override {
      host_.Advance();
      return host_.sim.StreamLastId(r_, key);
    }
    Reply Admin(const std::vector<std::string>& argv) override { return host_.Admin(argv); }
    std::string InfoActiveActive() override;
    void AfterCommands() override { host_.AfterCommands(); }
    bool MaybePark(const std::vector<std::string>& argv, Resume resume) override {
      return host_.MaybePark(argv, std::move(resume));
    }
    void SetDeliver(Deliver deliver) override { deliver_ = std::move(deliver); }
    void Publish(const std::string& channel, const std::string& message) override {
      host_.Publish(r_, channel, message);
    }
    // Hands a message published in another region to this region's subscribers.
    void Receive(const std::string& channel, const std::string& message) {
      if (deliver_) deliver_(channel, message);
    }

   private:
    Deliver deliver_;
    Impl& host_;
    int r_;
    std::string name_;
  };

  struct Waiter {
    SimTime deadline;
    Resume resume;
  };

  Impl(asio::io_context& io_context, cluster_sim::Simulation& simulation)
      : io(io_context), sim(simulation), timer(io_context), step_timer(io_context) {
    for (int r = 0; r < sim.region_count(); ++r) {
      backends.push_back(std::make_unique<RegionBackend>(*this, r));
    }
  }

  SimTime Elapsed() const {
    return std::chrono::duration_cast<SimTime>(std::chrono::steady_clock::now() - start);
  }
  void Advance() {
    EndBatch();
    SimTime now = Elapsed();
    if (now > sim.Now()) sim.AdvanceTo(now);
  }
  // The store commands of one read from a client run at one instant, and their writes
  // reach each peer in one message (Simulation::BeginBatch): the batch ends after the
  // read's commands (AfterCommands), when time next moves (Advance), or at the latest once
  // the current handler returns.
  void Batch(int r) {
    if (batch_region == r) return;
    Advance();
    sim.BeginBatch(r);
    batch_region = r;
    if (batch_end_posted) return;
    batch_end_posted = true;
    asio::post(io, [this] {
      batch_end_posted = false;
      if (batch_region < 0) return;
      EndBatch();
      ArmTimer();
    });
  }
  void EndBatch() {
    if (batch_region < 0) return;
    sim.EndBatch(batch_region);
    batch_region = -1;
  }
  // Carries a message published in region r to every other region after the link's
  // latency (not across a cut link, nor to or from a region that is down: lost).
  void Publish(int r, const std::string& channel, const std::string& message) {
    Advance();  // it leaves now, not at the last instant a command or a timer set
    for (int q = 0; q < sim.region_count(); ++q) {
      if (q == r || !sim.alive(r) || !sim.alive(q) || sim.network().IsCut(r, q)) continue;
      sim.loop().At(sim.Now() + sim.network().link(r, q).latency, [this, q, channel, message] {
        if (sim.alive(q)) backends[static_cast<size_t>(q)]->Receive(channel, message);
      });
    }
  }

  void AfterCommands() {
    EndBatch();
    ArmTimer();
    if (!waiters.empty() && !check_posted) {
      // A command (a heal, a partition) may have made the regions quiescent with no event
      // left to run: check once the current client's turn is over.
      check_posted = true;
      asio::post(io, [this] {
        check_posted = false;
        Advance();
        CheckWaiters();
        ArmTimer();
      });
    }
  }

  void ArmTimer() {
    std::optional<SimTime> next = sim.loop().NextTime();
    for (const auto& w : waiters) {
      if (!next || w.deadline < *next) next = w.deadline;
    }
    if (!next) {
      if (timer_pending) timer.cancel();
      timer_pending = false;
      return;
    }
    // Re-arm only for an earlier instant: an early wake-up just re-arms, and that is
    // cheaper than a timerfd update after every batch of commands.
    if (timer_pending && armed_for <= *next) return;
    timer.expires_at(start + *next);
    timer_pending = true;
    armed_for = *next;
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      timer_pending = false;
      Advance();
      CheckWaiters();
      ArmTimer();
    });
  }

  void CheckWaiters() {
    if (waiters.empty()) return;
    std::string pending;
    bool quiet = sim.Quiescent(&pending);
    SimTime now = sim.Now();
    std::vector<std::pair<Resume, Reply>> ready;
    std::vector<Waiter> keep;
    for (auto& w : waiters) {
      if (quiet) {
        ready.emplace_back(std::move(w.resume), Reply::Status("OK"));
      } else if (now >= w.deadline) {
        ready.emplace_back(std::move(w.resume),
                           Reply::Error("TIMEOUT regions have not caught up: " + pending));
      } else {
        keep.push_back(std::move(w));
      }
    }
    waiters = std::move(keep);
    for (auto& [resume, reply] : ready) resume(std::move(reply));
  }

  bool MaybePark(const std::vector<std::string>& argv, Resume resume) {
    if (argv.size() < 2 || !IEquals(argv[1], "WAITSYNC") || argv.size() > 3) return false;
    int64_t ms = 10'000;
    if (argv.size() == 3) {
      auto [end, ec] = std::from_chars(argv[2].data(), argv[2].data() + argv[2].size(), ms);
      if (ec != std::errc() || end != argv[2].data() + argv[2].size() || ms < 0 ||
          ms > kMaxWaitSyncMs) {
        return false;
      }
    }
    Advance();
    if (sim.Quiescent()) return false;  // Admin answers +OK at once
    waiters.push_back({sim.Now() + SimTime(ms * 1000), std::move(resume)});
    ArmTimer();
    return true;
  }

  // Parses region groups: each argument one group, regions joined by commas.
  bool Groups(const std::vector<std::string>& argv, size_t from,
              std::vector<std::vector<int>>* groups, std::string* error) {
    std::vector<bool> seen(static_cast<size_t>(sim.region_count()), false);
    for (size_t i = from; i < argv.size(); ++i) {
      std::vector<int> g;
      std::string_view s = argv[i];
      while (!s.empty()) {
        size_t comma = s.find(',');
        std::string name(s.substr(0, comma));
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
        int r = sim.RegionIndex(name);
        if (r < 0) {
          *error = "ERR unknown region '" + name + "'";
          return false;
        }
        if (seen[static_cast<size_t>(r)]) {
          *error = "ERR region '" + name + "' is in two groups";
          return false;
        }
        seen[static_cast<size_t>(r)] = true;
        g.push_back(r);
      }
      if (!g.empty()) groups->push_back(std::move(g));
    }
    if (groups->size() < 2) {
      *error = "ERR expected at least two groups of regions (e.g. A B, or A,B C)";
      return false;
    }
    return true;
  }

  asio::io_context& io;
  cluster_sim::Simulation& sim;
  asio::steady_timer timer;
  asio::steady_timer step_timer;
  bool timer_pending = false;
  bool check_posted = false;
  int batch_region = -1;  // the region whose batch is open (-1: none)
  bool batch_end_posted = false;
  SimTime armed_for{0};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<RegionBackend>> backends;
  std::vector<Waiter> waiters;

  // The wall clock as the step interpreter's time policy: a wait arms step_timer and the
  // interpreter resumes when it fires; meanwhile the host runs the simulation in real time.
  class WallClock final : public cluster_sim::TimePolicy {
   public:
    static constexpr SimTime kSyncLimit{60'000'000};
    static constexpr SimTime kSyncPoll{1000};

    explicit WallClock(Impl& host) : host_(host) {}
    SimTime Now() override {
      host_.Advance();
      return host_.sim.Now();
    }
    bool WaitUntil(SimTime t) override {
      if (Now() >= t) return true;
      host_.ResumeStepsAt(t);
      return false;
    }
    std::optional<cluster_sim::SyncResult> Sync() override {
      const SimTime now = Now();
      if (!syncing_) sync_start_ = now;
      syncing_ = true;
      cluster_sim::SyncResult res;
      res.done = host_.sim.Quiescent(&res.pending);
      if (!res.done && now < sync_start_ + kSyncLimit) {
        host_.ResumeStepsAt(now + kSyncPoll);
        return std::nullopt;
      }
      syncing_ = false;
      res.took = now - sync_start_;
      return res;
    }
    void StepDone() override { host_.ArmTimer(); }

   private:
    Impl& host_;
    bool syncing_ = false;
    SimTime sync_start_{0};
  };

  // The running steps (RunSteps). Members in construction order: the interpreter keeps
  // references to the options and the clock.
  struct Script {
    Script(Impl& host, const cluster_sim::Scenario& scenario, cluster_sim::RunOptions run_options)
        : options(std::move(run_options)), clock(host), steps(scenario, host.sim, clock, options) {}
    cluster_sim::RunOptions options;
    WallClock clock;
    cluster_sim::StepInterpreter steps;
    std::function<void(int)> done;
  };
  std::unique_ptr<Script> script;
  void ResumeStepsAt(SimTime t);
  void RunScript();

  Reply Admin(const std::vector<std::string>& argv);
  Reply AdminCommand(const std::vector<std::string>& argv);
  std::string StatusText();

  std::function<void(const Event&)> observer;
  void Observe(Step::Kind kind, int region, std::string text, std::optional<Reply> reply) {
    observer(Event{kind, region, std::move(text), std::move(reply)});
  }
  std::map<std::string, std::function<Reply(const std::vector<std::string>&)>> admin_extra;
};

std::string SimHost::Impl::RegionBackend::InfoActiveActive() {
  host_.Advance();
  auto& sim = host_.sim;
  cluster_sim::RegionMetrics m = sim.Metrics(r_);
  uint64_t in = 0, out = 0, filtered = 0, partial = 0, full = 0;
  std::string peers;
  int i = 0;
  for (const auto& p : m.peers) {
    in += p.effects_received;
    out += p.effects_sent;
    filtered += p.effects_filtered;
    partial += p.partial_syncs;
    full += p.full_syncs;
    int peer = sim.RegionIndex(p.peer);
    bool linked = peer >= 0 && sim.network().Connected(r_, peer) && sim.alive(peer);
    peers += "peer" + std::to_string(i++) + ":name=" + p.peer +
             ",status=" + (linked ? "up" : "down") + ",ops_lag=" + std::to_string(p.ops_lag) +
             ",effects_out=" + std::to_string(p.effects_sent) +
             ",effects_in=" + std::to_string(p.effects_received) +
             ",filtered=" + std::to_string(p.effects_filtered) +
             ",partial_syncs=" + std::to_string(p.partial_syncs) +
             ",full_syncs=" + std::to_string(p.full_syncs) + "\r\n";
  }
  return "# ActiveActive\r\nregion:" + m.name +
         "\r\nmode:simulation\r\nalive:" + (m.alive ? "1" : "0") +
         "\r\nincarnation:" + std::to_string(m.incarnation) +
         "\r\nvirtual_time_us:" + std::to_string(sim.Now().count()) +
         "\r\nlocal_writes:" + std::to_string(m.local_writes) +
         "\r\nlost_writes:" + std::to_string(m.lost_writes) +
         "\r\nmax_ops_lag:" + std::to_string(m.max_ops_lag) +
         "\r\nmin_ops_lag:" + std::to_string(m.min_ops_lag) +
         "\r\neffects_in:" + std::to_string(in) + "\r\neffects_out:" + std::to_string(out) +
         "\r\neffects_filtered:" + std::to_string(filtered) +
         "\r\npartial_syncs:" + std::to_string(partial) + "\r\nfull_syncs:" + std::to_string(full) +
         "\r\nbacklog_bytes:" + std::to_string(m.backlog_bytes) +
         "\r\nbacklog_limit:" + std::to_string(m.backlog_limit) +
         "\r\npeers:" + std::to_string(m.peers.size()) + "\r\n" + peers;
}

Reply SimHost::Impl::Admin(const std::vector<std::string>& argv) {
  Reply reply = AdminCommand(argv);
  if (observer && !reply.is_error() && argv.size() >= 2) {
    std::string sub = cluster_sim::AsciiLower(argv[1]);
    const std::pair<const char*, Step::Kind> kinds[] = {{"partition", Step::Kind::kPartition},
                                                        {"heal", Step::Kind::kHeal},
                                                        {"crash", Step::Kind::kCrash},
                                                        {"restart", Step::Kind::kRestart}};
    for (const auto& [name, kind] : kinds) {
      if (sub != name) continue;
      const bool local = kind == Step::Kind::kCrash || kind == Step::Kind::kRestart;
      std::vector<std::string> rest(argv.begin() + 2, argv.end());
      Observe(kind, local ? sim.RegionIndex(argv[2]) : -1,
              sub + " " + Join(rest, kind == Step::Kind::kPartition ? " | " : " "), std::nullopt);
    }
  }
  return reply;
}

Reply SimHost::Impl::AdminCommand(const std::vector<std::string>& argv) {
  Advance();
  if (argv.size() < 2) {
    return Reply::Error("ERR wrong number of arguments for 'aasim' command");
  }
  std::string_view sub = argv[1];
  std::string error;
  if (IEquals(sub, "PARTITION")) {
    std::vector<std::vector<int>> groups;
    if (!Groups(argv, 2, &groups, &error)) return Reply::Error(error);
    sim.Partition(groups);
    return Reply::Status("OK");
  }
  if (IEquals(sub, "HEAL")) {
    if (argv.size() == 3 && IEquals(argv[2], "ALL")) {
      sim.HealAll();
      return Reply::Status("OK");
    }
    std::vector<std::vector<int>> groups;
    if (!Groups(argv, 2, &groups, &error)) return Reply::Error(error);
    sim.Heal(groups);
    return Reply::Status("OK");
  }
  if (IEquals(sub, "CRASH") || IEquals(sub, "RESTART")) {
    if (argv.size() != 3) return Reply::Error("ERR expected AASIM " + argv[1] + " REGION");
    int r = sim.RegionIndex(argv[2]);
    if (r < 0) return Reply::Error("ERR unknown region '" + argv[2] + "'");
    if (IEquals(sub, "CRASH")) {
      if (std::string why = sim.CannotCrash(r); !why.empty()) return Reply::Error("ERR " + why);
      return Reply::Integer(static_cast<int64_t>(sim.Crash(r)));  // writes lost
    }
    if (std::string why = sim.CannotRestart(r); !why.empty()) return Reply::Error("ERR " + why);
    sim.Restart(r);
    return Reply::Status("OK");
  }
  if (IEquals(sub, "STATUS") && argv.size() == 2) return Reply::Bulk(StatusText());
  if (IEquals(sub, "TIME") && argv.size() == 2) return Reply::Integer(sim.Now().count());
  if (IEquals(sub, "WAITSYNC") && argv.size() <= 3) {
    // MaybePark declined: either already caught up, or a bad timeout.
    if (argv.size() == 3) {
      int64_t ms = 0;
      auto [end, ec] = std::from_chars(argv[2].data(), argv[2].data() + argv[2].size(), ms);
      if (ec != std::errc() || end != argv[2].data() + argv[2].size() || ms < 0 ||
          ms > kMaxWaitSyncMs) {
        return Reply::Error("ERR timeout is not an integer from 0 to " +
                            std::to_string(kMaxWaitSyncMs) + " (milliseconds)");
      }
    }
    std::string pending;
    if (!sim.Quiescent(&pending))
      return Reply::Error("TIMEOUT regions have not caught up: " + pending);
    return Reply::Status("OK");
  }
  auto extra = admin_extra.find(cluster_sim::AsciiLower(sub));
  if (extra != admin_extra.end()) return extra->second(argv);
  for (std::string_view known : {"STATUS", "TIME", "WAITSYNC"}) {
    if (IEquals(sub, known)) {  // a known one with extra arguments is not an unknown one
      return Reply::Error("ERR wrong number of arguments for 'aasim|" +
                          cluster_sim::AsciiLower(sub) + "' command");
    }
  }
  std::string names = "PARTITION, HEAL, CRASH, RESTART, STATUS, TIME, WAITSYNC";
  for (const auto& [name, handler] : admin_extra) {
    names += ", ";
    for (char c : name) names += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return Reply::Error("ERR unknown AASIM subcommand '" + argv[1] + "' (" + names + ")");
}

std::string SimHost::StatusText() { return impl_->StatusText(); }

std::string SimHost::Impl::StatusText() {
  Advance();
  std::string out = "time: " + cluster_sim::FormatDuration(sim.Now()) + "\n";
  std::vector<std::string> cut;
  for (int a = 0; a < sim.region_count(); ++a) {
    for (int b = a + 1; b < sim.region_count(); ++b) {
      if (!sim.network().Connected(a, b))
        cut.push_back(sim.region_name(a) + "|" + sim.region_name(b));
    }
  }
  out += "cut: " + (cut.empty() ? std::string("none") : Join(cut, " ")) + "\n";
  std::string pending;
  out += std::string("caught_up: ") + (sim.Quiescent(&pending) ? "yes" : "no (" + pending + ")") +
         "\n";
  for (int r = 0; r < sim.region_count(); ++r) {
    auto m = sim.Metrics(r);
    out += m.name + ": " + (m.alive ? "up" : "down") + " writes=" + std::to_string(m.local_writes) +
           " max_ops_lag=" + std::to_string(m.max_ops_lag) +
           " min_ops_lag=" + std::to_string(m.min_ops_lag) +
           " lost=" + std::to_string(m.lost_writes) + "\n";
    for (const auto& p : m.peers) {
      out += "  -> " + p.peer + ": ops_lag=" + std::to_string(p.ops_lag) +
             " sent=" + std::to_string(p.effects_sent) +
             " received=" + std::to_string(p.effects_received) +
             " partial_syncs=" + std::to_string(p.partial_syncs) +
             " full_syncs=" + std::to_string(p.full_syncs) + "\n";
    }
  }
  return out;
}

// ---- steps against the wall clock ----

void SimHost::Impl::ResumeStepsAt(SimTime t) {
  step_timer.expires_at(start + t);
  step_timer.async_wait([this](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted || !script) return;
    RunScript();
  });
}

void SimHost::Impl::RunScript() {
  if (!script->steps.Run()) return;  // waiting: ResumeStepsAt comes back here
  auto done = std::move(script->done);
  const int failures = script->steps.report().failures;
  script.reset();
  if (done) done(failures);
}

// ---- SimHost ----

SimHost::SimHost(asio::io_context& io, cluster_sim::Simulation& sim)
    : impl_(std::make_unique<Impl>(io, sim)) {}
SimHost::~SimHost() = default;

void SimHost::Start() {
  impl_->start = std::chrono::steady_clock::now() - impl_->sim.Now();
  impl_->ArmTimer();
}
Backend& SimHost::backend(int region) { return *impl_->backends[static_cast<size_t>(region)]; }
void SimHost::Advance() { impl_->Advance(); }
void SimHost::ArmTimer() { impl_->ArmTimer(); }
Reply SimHost::Admin(const std::vector<std::string>& argv) { return impl_->Admin(argv); }
void SimHost::SetObserver(std::function<void(const Event&)> observer) {
  impl_->observer = std::move(observer);
}
void SimHost::AddAdminCommand(std::string name,
                              std::function<Reply(const std::vector<std::string>&)> handler) {
  impl_->admin_extra[cluster_sim::AsciiLower(name)] = std::move(handler);
}

void SimHost::RunSteps(const cluster_sim::Scenario& scenario, cluster_sim::RunOptions options,
                       std::function<void(const std::string&)> out, std::function<void(int)> done) {
  impl_->script = std::make_unique<Impl::Script>(*impl_, scenario, std::move(options));
  impl_->script->done = std::move(done);
  impl_->script->steps.OnStep([out = std::move(out)](const Step& step, const StepReport& sr) {
    out("[" + cluster_sim::FormatDuration(sr.time) + "] " + StepLine(step, sr));
  });
  asio::post(impl_->io, [impl = impl_.get()] {
    if (impl->script) impl->RunScript();
  });
}

}  // namespace server
