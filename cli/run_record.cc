#include "run_record.h"

#include <cstdlib>
#include <map>
#include <utility>

#include "cluster_sim/network.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"

namespace aasim {

using cluster_sim::Network;
using cluster_sim::SimTime;

namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The message's kind and, for effects and full states, the sequence numbers it covers
// ([first, last]; 0, 0 for others), from the replicator's descriptions.
std::string Classify(const std::string& what, uint64_t* first, uint64_t* last) {
  *first = *last = 0;
  auto number_after = [&](size_t at) { return std::strtoull(what.c_str() + at, nullptr, 10); };
  if (StartsWith(what, "effect #")) {
    *first = *last = number_after(8);
    return "effects";
  }
  if (StartsWith(what, "effects #")) {
    *first = number_after(9);
    const size_t dots = what.find("..#");
    *last = dots == std::string::npos ? *first : number_after(dots + 3);
    return "effects";
  }
  if (StartsWith(what, "full state up to #")) {
    *first = *last = number_after(18);
    return "full_state";
  }
  if (StartsWith(what, "ack")) return "ack";
  if (StartsWith(what, "sync request")) return "sync_request";
  if (StartsWith(what, "probe")) return "probe";
  return "other";
}

}  // namespace

bool Dropped(MessageRecord::Outcome o) {
  return o == MessageRecord::Outcome::kLost || o == MessageRecord::Outcome::kCut ||
         o == MessageRecord::Outcome::kCutInFlight;
}

const char* OutcomeName(MessageRecord::Outcome o) {
  switch (o) {
    case MessageRecord::Outcome::kInFlight:
      return "in_flight";
    case MessageRecord::Outcome::kDelivered:
      return "delivered";
    case MessageRecord::Outcome::kDiscarded:
      return "discarded";
    case MessageRecord::Outcome::kLost:
      return "lost";
    case MessageRecord::Outcome::kCut:
      return "cut";
    case MessageRecord::Outcome::kCutInFlight:
      return "cut_in_flight";
  }
  return "";
}

Recorder::Recorder(cluster_sim::Simulation& sim, RunRecord* record)
    : sim_(sim), record_(record), crashes_(static_cast<size_t>(sim.region_count()), 0) {
  record_->messages.clear();
  record_->steps.clear();
  Network& network = sim_.network();
  network.SetObserver([this, &network](const Network::MessageEvent& e) {
    using Type = Network::MessageEvent::Type;
    const SimTime now = sim_.Now();
    if (e.type == Type::kSent || e.type == Type::kDroppedLoss || e.type == Type::kDroppedCut) {
      MessageRecord m;
      m.id = e.id;
      m.from = e.from;
      m.to = e.to;
      m.what = e.what;
      uint64_t first, last;
      m.kind = Classify(e.what, &first, &last);
      m.bytes = e.bytes;
      m.sent = now;
      m.sent_step = step_;
      m.ended = now;
      m.end_step = step_;
      m.duplicate = e.duplicate;
      m.link_latency = network.link(e.from, e.to).latency;
      if (!e.duplicate && first != 0) {
        auto& high = (m.kind == "full_state" ? highest_full_ : highest_)[{e.from, e.to}];
        m.retransmit = first <= high;
        high = std::max(high, last);
      }
      if (e.type == Type::kDroppedLoss) m.outcome = MessageRecord::Outcome::kLost;
      if (e.type == Type::kDroppedCut) m.outcome = MessageRecord::Outcome::kCut;
      record_->messages.push_back(std::move(m));
      crashes_at_send_.push_back(crashes_[e.from]);
      return;
    }
    if (e.id == 0 || e.id > record_->messages.size()) return;
    MessageRecord& m = record_->messages[e.id - 1];
    m.ended = now;
    m.end_step = step_;
    if (e.type == Type::kDroppedInFlight) {
      m.outcome = MessageRecord::Outcome::kCutInFlight;
    } else if (!sim_.alive(e.to) || !sim_.alive(e.from) ||
               crashes_[e.from] != crashes_at_send_[e.id - 1]) {
      m.outcome = MessageRecord::Outcome::kDiscarded;
    } else {
      m.outcome = MessageRecord::Outcome::kDelivered;
    }
  });
}

Recorder::~Recorder() { sim_.network().SetObserver(nullptr); }

void Recorder::EndStep(cluster_sim::Step::Kind kind, int region) {
  const int n = sim_.region_count();
  Network& network = sim_.network();
  StepState st;
  st.start = step_start_;
  st.alive.resize(n);
  st.cut.resize(static_cast<size_t>(n * n));
  for (int a = 0; a < n; ++a) {
    st.alive[a] = sim_.alive(a);
    for (int b = 0; b < n; ++b) st.cut[a * n + b] = a != b && network.IsCut(a, b);
  }
  record_->steps.push_back(std::move(st));
  if (region >= 0 && kind == cluster_sim::Step::Kind::kCrash) crashes_[region]++;
  if (region >= 0 && kind == cluster_sim::Step::Kind::kRestart) {
    // A region that lost its memory numbers its writes from 1 again.
    for (int p = 0; p < n; ++p) highest_[{region, p}] = highest_full_[{region, p}] = 0;
  }
  ++step_;
  step_start_ = sim_.Now();
}

void Recorder::Finish(SimTime end, RunRecord* record) {
  const int steps = static_cast<int>(record->steps.size());
  for (MessageRecord& m : record->messages) {
    if (m.outcome != MessageRecord::Outcome::kInFlight) continue;
    m.ended = end;
    m.end_step = steps == 0 ? 0 : steps - 1;
  }
  for (MessageRecord& m : record->messages) {
    if (m.end_step >= steps && steps > 0) m.end_step = steps - 1;
    if (m.sent_step >= steps && steps > 0) m.sent_step = steps - 1;
  }
}

cluster_sim::RunReport RunRecorded(const cluster_sim::Scenario& scenario,
                                   const cluster_sim::RunOptions& options, RunRecord* record) {
  // The steps of cluster_sim::RunScenario, with a recorder on the network.
  cluster_sim::Simulation sim(cluster_sim::MakeSimConfig(scenario, options));
  cluster_sim::ApplyLinks(scenario, sim);
  if (options.trace) sim.SetTrace(options.trace);
  cluster_sim::RunReport report;
  {
    Recorder recorder(sim, record);
    cluster_sim::VirtualTime time(sim);
    cluster_sim::StepInterpreter steps(scenario, sim, time, options);
    steps.OnStep([&](const cluster_sim::Step& s, const cluster_sim::StepReport&) {
      recorder.EndStep(s.kind, s.region.empty() ? -1 : sim.RegionIndex(s.region));
    });
    const bool done = steps.Run();
    AASIM_CHECK(done) << "virtual time never waits";
    report = steps.Finish();
  }
  Recorder::Finish(report.end_time, record);
  return report;
}

nlohmann::ordered_json MessagesJson(const cluster_sim::RunReport& report, const RunRecord& record) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  auto name = [&](int r) {
    return r >= 0 && static_cast<size_t>(r) < report.regions.size() ? report.regions[r]
                                                                    : std::to_string(r);
  };
  for (const MessageRecord& m : record.messages) {
    nlohmann::ordered_json j;
    j["id"] = m.id;
    j["from"] = name(m.from);
    j["to"] = name(m.to);
    j["kind"] = m.kind;
    j["what"] = m.what;
    j["bytes"] = m.bytes;
    j["sent_us"] = m.sent.count();
    j["sent_step"] = m.sent_step + 1;
    j["outcome"] = OutcomeName(m.outcome);
    if (m.outcome != MessageRecord::Outcome::kInFlight) {
      j["end_us"] = m.ended.count();
      j["end_step"] = m.end_step + 1;
    }
    if (m.retransmit) j["retransmit"] = true;
    if (m.duplicate) j["duplicate"] = true;
    list.push_back(std::move(j));
  }
  return list;
}

}  // namespace aasim
