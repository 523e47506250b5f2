// Recorded runs: a scenario run that also keeps every replication message (its send,
// delivery or drop, kind and size) and, for every step, the time it began, which regions
// were up and which links were cut. Diagrams (diagram.h) and `aasim run --json --messages`
// read it. Recording watches the simulation (Network::SetObserver) and changes nothing in
// it: the report and digest are those of RunScenario. Deterministic; single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster_sim/runner.h"
#include "cluster_sim/scenario.h"

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

// Runs `scenario` as cluster_sim::RunScenario does and fills *record.
cluster_sim::RunReport RunRecorded(const cluster_sim::Scenario& scenario,
                                   const cluster_sim::RunOptions& options, RunRecord* record);

// The message list of `aasim run --json --messages`: one object per message, id order.
nlohmann::ordered_json MessagesJson(const cluster_sim::RunReport& report, const RunRecord& record);

}  // namespace aasim
