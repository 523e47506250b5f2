// SimHost: runs a cluster_sim::Simulation in real time and serves each of its regions as a
// Backend (backend.h), so RESP clients can talk to simulated Active/Active regions.
//
// Clock: virtual time is the steady clock's elapsed time since Start(). Before every client
// command the simulation advances to "now" (running every replication event due), and a
// timer wakes the io_context when the next event is due, so a write's effect reaches the
// other regions after the link's latency even when no client is active. Inside, the
// simulator's rules hold (seeded jitter and loss); which instant a command lands on is
// decided by the wall clock, so runs are not reproducible byte for byte as `aasim run` is.
//
// Admin commands, on any region's endpoint (groups: one argument each, regions joined by
// commas, e.g. `AASIM PARTITION A,B C`):
//   AASIM PARTITION G1 G2 [G3 ...]   cut every link between the groups
//   AASIM HEAL ALL | HEAL G1 G2 ...  restore links
//   AASIM CRASH R / AASIM RESTART R  crash a region (in-memory data lost), restart it
//   AASIM STATUS                     time, regions, cut links, replication metrics (text)
//   AASIM TIME                       virtual time in microseconds
//   AASIM WAITSYNC [MS]              block until every connected region has caught up
//                                    (default limit 10000ms, at most 3600000ms): +OK,
//                                    or an error naming what is still pending
// Steps (a scenario's `steps`, or a --script file's) run against the wall clock: see RunSteps.
//
// Threading: the io_context's thread only. REQUIRES: the Simulation and the io_context
// outlive the host.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/simulation.h"
#include "server/backend.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace server {

class SimHost {
 public:
  SimHost(boost::asio::io_context& io, cluster_sim::Simulation& sim);
  ~SimHost();
  SimHost(const SimHost&) = delete;
  SimHost& operator=(const SimHost&) = delete;

  // Virtual time 0 is now.
  void Start();
  Backend& backend(int region);

  // Brings the simulation up to the wall clock, then re-arms the wake-up timer.
  void Advance();
  void ArmTimer();
  cluster_sim::Reply Admin(const std::vector<std::string>& argv);
  std::string StatusText();

  // What clients did, for a recording (`aasim serve --record`): every command a region's
  // endpoint ran (a transaction as one event "MULTI ... EXEC", its replies in an array),
  // and every admin action that changed the regions or links (partition, heal: region
  // -1; crash, restart: the region). Called after the action, on the io_context's thread.
  struct Event {
    cluster_sim::Step::Kind kind = cluster_sim::Step::Kind::kCommand;
    int region = -1;
    std::string text;  // "INCR foo", "partition A | B", "crash A", ...
    std::optional<cluster_sim::Reply> reply;
  };
  void SetObserver(std::function<void(const Event&)> observer);
  // Adds `AASIM NAME ...`, answered by `handler` (argv as the client sent it).
  void AddAdminCommand(std::string name,
                       std::function<cluster_sim::Reply(const std::vector<std::string>&)> handler);

  // Runs the steps of `scenario` with the step interpreter of `aasim run`
  // (cluster_sim::StepInterpreter, so every step means the same there and here) over the
  // wall clock: `wait` and `at` wait on a timer (`at` counts from Start()), `load` spreads
  // its commands in real time, `sync` polls for quiescence (up to 60s). `options` gives the
  // services of service and check steps. Every step prints one line "[TIME] ..." through
  // `out`; `done(failures)` is called at the end.
  // REQUIRES: `scenario` outlives the steps; no other RunSteps is running.
  void RunSteps(const cluster_sim::Scenario& scenario, cluster_sim::RunOptions options,
                std::function<void(const std::string&)> out, std::function<void(int)> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace server
