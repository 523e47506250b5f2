// Service: what a service library (lending) contributes to scenarios, without the
// simulator depending on it. A service handles `NAME@REGION: TEXT` steps (and
// `NAME@REGION from OTHER: TEXT`, a request routed from the client's region OTHER) and
// named checks (`check: NAME`). The CLI registers factories in RunOptions::services; the
// runner makes one Service per run, so state never leaks between scenario files.
//
// A Service reaches the regions only through ServiceHost: fresh client connections
// (each a Session with its own MULTI/WATCH state), liveness and link round trips.
// Contract: deterministic (no clock but the store's, no global RNG); single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  virtual int region_count() const = 0;
  virtual std::string region_name(int r) const = 0;
  virtual bool alive(int r) const = 0;
  // A new connection to region r (valid while the run lives; owned by the caller).
  virtual std::unique_ptr<Client> Connect(int r) = 0;
  // Link latency from -> to plus to -> from (what a request routed there costs).
  virtual SimTime RoundTrip(int from, int to) const = 0;
};

struct ServiceResult {
  std::vector<std::string> lines;  // what the service printed, in order
  std::string outcome;             // e.g. "ACCEPTED"; empty when the step has none
  std::vector<std::string> notes;  // extra facts for the report
  std::string error;               // non-empty: the step could not run (a failure)
};

class Service {
 public:
  virtual ~Service() = default;
  // Checks a step's text before anything runs. The message is the bare reason.
  virtual Status Validate(std::string_view text) const = 0;
  // Runs a step in `region` for a client in `from` (== region unless routed).
  virtual ServiceResult Run(ServiceHost& host, int region, int from, std::string_view text) = 0;
  // The checks it offers (`check: NAME`), and running one: every broken invariant, one
  // line each; empty when all hold.
  virtual std::vector<std::string> CheckNames() const = 0;
  virtual std::vector<std::string> Check(ServiceHost& host, std::string_view name) = 0;
};

using ServiceFactory = std::function<std::unique_ptr<Service>()>;

}  // namespace cluster_sim
