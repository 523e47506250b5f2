// FormatScenario: a Scenario back to the text of a scenario file (scenario.h).
#include <cstdio>
#include <string>
#include <vector>

#include "cluster_sim/scenario.h"

namespace cluster_sim {
namespace {

// A YAML double-quoted scalar: always a string, whatever it holds.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string List(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + Quote(items[i]);
  return out + "]";
}

std::string Number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
}

std::string Link(const LinkSpec& l) {
  return "{ latency: " + FormatDuration(l.latency) + ", jitter: " + FormatDuration(l.jitter) +
         ", loss: " + Number(l.loss) + ", duplicate: " + Number(l.duplicate) + " }";
}

std::string Groups(const std::vector<std::vector<std::string>>& groups) {
  std::string out = "[";
  for (size_t g = 0; g < groups.size(); ++g) out += (g ? ", " : "") + List(groups[g]);
  return out + "]";
}

std::string Expect(const Expectation& e) {
  switch (e.kind) {
    case Expectation::Kind::kScalar:
      return Quote(e.text);
    case Expectation::Kind::kNull:
      return "null";
    case Expectation::Kind::kList:
      return List(e.items);
    case Expectation::Kind::kError:
      return "{ error: " + Quote(e.text) + " }";
  }
  return "null";
}

void AppendStep(const Step& s, std::string* out) {
  std::string& o = *out;
  o += "  - ";
  switch (s.kind) {
    case Step::Kind::kCommand:
      o += s.region + ": " + Quote(s.text) + "\n";
      if (s.expect) o += "    expect: " + Expect(*s.expect) + "\n";
      return;
    case Step::Kind::kPartition:
      o += "partition: " + Groups(s.groups) + "\n";
      return;
    case Step::Kind::kHeal:
      o += "heal: " + (s.all ? std::string("all") : Groups(s.groups)) + "\n";
      return;
    case Step::Kind::kWait:
      o += "wait: " + FormatDuration(s.duration) + "\n";
      return;
    case Step::Kind::kAt:
      o += s.past_runs_now ? "at: { time: " + FormatDuration(s.duration) + ", if_past: now }\n"
                           : "at: " + FormatDuration(s.duration) + "\n";
      return;
    case Step::Kind::kSync:
      o += "sync\n";
      return;
    case Step::Kind::kConverged:
      o += "converged: " + List(s.keys) + "\n";
      return;
    case Step::Kind::kCrash:
      o += "crash: " + s.region + "\n";
      return;
    case Step::Kind::kRestart:
      o += "restart: " + s.region + "\n";
      return;
    case Step::Kind::kNote:
      o += "note: " + Quote(s.text) + "\n";
      return;
    case Step::Kind::kLoad: {
      const LoadSpec& l = s.load;
      o += "load: { regions: " + List(l.regions) + ", ops: " + std::to_string(l.ops) +
           ", duration: " + FormatDuration(l.duration) + ", keys: " + std::to_string(l.keys);
      if (!l.commands.empty()) o += ", commands: " + List(l.commands);
      o += " }\n";
      return;
    }
    case Step::Kind::kService:
      o += s.service + "@" + s.region + (s.from_region.empty() ? "" : " from " + s.from_region) +
           ": " + Quote(s.text) + "\n";
      if (s.expect) o += "    expect: " + Quote(s.expect->text) + "\n";
      if (s.output) o += "    output: " + List(*s.output) + "\n";
      return;
    case Step::Kind::kCheck:
      o += "check: " + Quote(s.service) + "\n";
      if (s.expect) o += "    expect: " + List(s.expect->items) + "\n";
      return;
  }
}

}  // namespace

std::string FormatScenario(const Scenario& s) {
  std::string o = "name: " + Quote(s.name) + "\n";
  if (!s.source.empty()) o += "source: " + Quote(s.source) + "\n";
  if (s.seed) o += "seed: " + std::to_string(*s.seed) + "\n";
  if (!s.backends.empty()) {
    o += "backends: [";
    for (size_t i = 0; i < s.backends.size(); ++i) o += (i ? ", " : "") + s.backends[i];
    o += "]\n";
  }
  o += "regions:\n";
  for (const RegionSpec& r : s.regions) {
    o += "  " + r.name + ": {";
    std::string opts;
    if (r.lat) opts += " lat: " + Number(*r.lat) + ", lon: " + Number(*r.lon);
    if (r.clock_skew.count() != 0) {
      opts += (opts.empty() ? " " : ", ") + std::string("clock_skew: ") +
              (r.clock_skew.count() < 0 ? "-" + FormatDuration(-r.clock_skew)
                                        : FormatDuration(r.clock_skew));
    }
    o += opts + (opts.empty() ? "}\n" : " }\n");
  }
  o += "links:\n  default: ";
  if (s.link_defaults.spec) {
    std::string l = Link(*s.link_defaults.spec);
    l.insert(l.size() - 2, ", route_factor: " + Number(s.link_defaults.route_factor));
    o += l + "\n";
  } else {
    o += "{ route_factor: " + Number(s.link_defaults.route_factor) + " }\n";
  }
  for (const LinkRule& r : s.links) {
    o += "  " + r.from + (r.both_ways ? " <-> " : " -> ") + r.to + ": " + Link(r.spec) + "\n";
  }
  const ReplicationSpec& rs = s.replication;
  if (rs.backlog_bytes || rs.max_batch_bytes || rs.max_rto || rs.causal) {
    o += "replication:\n";
    if (rs.backlog_bytes) {
      o += "  backlog: " +
           (*rs.backlog_bytes == 0 ? "auto" : std::to_string(*rs.backlog_bytes) + "B") + "\n";
    }
    if (rs.max_batch_bytes) o += "  max_batch: " + std::to_string(*rs.max_batch_bytes) + "B\n";
    if (rs.max_rto) o += "  max_retry: " + FormatDuration(*rs.max_rto) + "\n";
    if (rs.causal) o += "  causal: true\n";
  }
  const BoundedCountersSpec& bc = s.bounded_counters;
  if (bc.policy != BoundedCountersSpec().policy || bc.period != BoundedCountersSpec().period) {
    o += "bounded_counters: { policy: " + bc.policy + ", period: " + FormatDuration(bc.period) +
         " }\n";
  }
  if (s.streams.replicate || s.streams.id_mode != crdt::StreamIdMode::kStrict) {
    o += std::string("streams: { replicate: ") + (s.streams.replicate ? "true" : "false") +
         ", id_mode: " + crdt::StreamIdModeName(s.streams.id_mode) + " }\n";
  }
  // No steps (a file for `aasim serve`): an empty list, which such a file reads back.
  o += s.steps.empty() ? "steps: []\n" : "steps:\n";
  for (const Step& step : s.steps) AppendStep(step, &o);
  return o;
}

}  // namespace cluster_sim
