// Recorded runs: a scenario run that also keeps every replication message (its send,
// delivery or drop, kind and size) and, for every step, the time it began, which regions
// were up and which links were cut. Diagrams (diagram.h) and `aasim run --json --messages`
// read it. Recording watches the simulation (Network::SetObserver) and changes nothing in
// it: the report and digest are those of RunScenario. Deterministic; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"
#include "cluster_sim/simulation.h"

namespace aasim {

struct MessageRecord {
  uint32_t id = 0;  // 1-based, in send order
  int from = 0;
  int to = 0;
  // effects, ack, full_state, sync_request, probe or other (from the sender's description).
  std::string kind;
  std::string what;  // the sender's description: "effect #3", "ack #2", ...
  size_t bytes = 0;
  cluster_sim::SimTime sent{0};
  int sent_step = 0;  // index in RunReport::steps of the step that was running
  enum class Outcome {
    kInFlight,     // neither delivered nor dropped when the run ended
    kDelivered,    // delivered and handled
    kDiscarded,    // delivered, but its receiver was down or its sender crashed since
    kLost,         // dropped by the link's loss
    kCut,          // dropped when sent: the link was cut
    kCutInFlight,  // dropped on arrival: the link was cut while it flew
  } outcome = Outcome::kInFlight;
  cluster_sim::SimTime ended{0};  // delivery or drop (kInFlight: the run's end)
  int end_step = 0;
  bool duplicate = false;                // the network's second copy of a message
  bool retransmit = false;               // effects or a full state this link had carried already
  cluster_sim::SimTime link_latency{0};  // the link's nominal one-way latency when sent
};

bool Dropped(MessageRecord::Outcome o);
// "in_flight", "delivered", "discarded", "lost", "cut", "cut_in_flight".
const char* OutcomeName(MessageRecord::Outcome o);

struct StepState {
  cluster_sim::SimTime start{0};  // virtual time when the step began
  std::vector<bool> alive;        // after the step, per region
  std::vector<bool> cut;          // after the step, link from*n+to
};

struct RunRecord {
  std::vector<MessageRecord> messages;  // id order
  std::vector<StepState> steps;         // one per RunReport step
};

// Records a simulation as it runs: every message its network carries (send, delivery or
// drop) and, at each step boundary, which regions are up and which links are cut. Watches
// Network::SetObserver for its lifetime and changes nothing in the simulation. A step is
// whatever the caller calls one: a scenario step (RunRecorded), a client's command or an
// admin action (`aasim serve --record`). REQUIRES: `sim` and `record` outlive it.
class Recorder {
 public:
  Recorder(cluster_sim::Simulation& sim, RunRecord* record);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // The step running since the previous EndStep (or the start) ended now. A crash or a
  // restart (`kind`) of region `region` makes it number its writes from 1 again.
  void EndStep(cluster_sim::Step::Kind kind, int region);
  // Ends the record at `end`: messages still in flight end there, and step indices stay
  // within the steps recorded. (Recording may go on afterwards on a copy's original.)
  static void Finish(cluster_sim::SimTime end, RunRecord* record);
  size_t steps() const { return static_cast<size_t>(step_); }

 private:
  cluster_sim::Simulation& sim_;
  RunRecord* record_;
  int step_ = 0;                                     // the step running
  cluster_sim::SimTime step_start_{0};               // when it began
  std::vector<uint64_t> crashes_;                    // per region, crash steps so far
  std::vector<uint64_t> crashes_at_send_;            // per message: its sender's crashes when sent
  std::map<std::pair<int, int>, uint64_t> highest_;  // per link: highest seq carried
  std::map<std::pair<int, int>, uint64_t> highest_full_;
};

// Runs `scenario` as cluster_sim::RunScenario does and fills *record.
cluster_sim::RunReport RunRecorded(const cluster_sim::Scenario& scenario,
                                   const cluster_sim::RunOptions& options, RunRecord* record);

// The message list of `aasim run --json --messages`: one object per message, id order.
nlohmann::ordered_json MessagesJson(const cluster_sim::RunReport& report, const RunRecord& record);

}  // namespace aasim
