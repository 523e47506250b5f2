#include "report.h"

#include <algorithm>

#include <fmt/format.h>

#include "cluster_sim/plural.h"

namespace aasim {

using cluster_sim::FormatDuration;
using cluster_sim::Plural;
using cluster_sim::Reply;
using cluster_sim::RunReport;
using cluster_sim::StepReport;

std::string ReplyText(const StepReport& s) { return s.reply ? s.reply->ToString() : ""; }

std::string VerdictText(const StepReport& s) {
  switch (s.verdict) {
    case StepReport::Verdict::kPass:
      return "ok";
    case StepReport::Verdict::kFail:
      return "FAIL";
    case StepReport::Verdict::kNone:
      break;
  }
  return "";
}

std::vector<MetricsRow> MetricsRows(const RunReport& r) {
  std::vector<MetricsRow> rows;
  for (const auto& m : r.metrics) {
    MetricsRow row;
    row.region = m.name;
    row.writes = m.local_writes;
    row.lost = m.lost_writes;
    row.max_ops_lag = m.max_ops_lag;
    row.min_ops_lag = m.min_ops_lag;
    for (const auto& p : m.peers) {
      row.effects_in += p.effects_received;
      row.filtered += p.effects_filtered;
      row.partial += p.partial_syncs;
      row.full += p.full_syncs;
      row.bytes_out += p.link_out.bytes_sent;
    }
    row.store_failures = m.store_failures;
    row.alive = m.alive;
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

// Cuts long cells so one huge value does not wreck the table (JSON has everything).
std::string Cell(std::string s, size_t max = 48) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

nlohmann::ordered_json ReplyJson(const Reply& r) {
  nlohmann::ordered_json j;
  switch (r.type) {
    case Reply::Type::kStatus:
      j = {{"type", "status"}, {"value", r.str}};
      break;
    case Reply::Type::kError:
      j = {{"type", "error"}, {"value", r.str}};
      break;
    case Reply::Type::kInteger:
      j = {{"type", "integer"}, {"value", r.integer}};
      break;
    case Reply::Type::kBulk:
      j = {{"type", "bulk"}, {"value", r.str}};
      break;
    case Reply::Type::kNil:
    case Reply::Type::kNilArray:
      j = {{"type", "nil"}, {"value", nullptr}};
      break;
    case Reply::Type::kDouble:
      j = {{"type", "double"}, {"value", r.str}};
      break;
    case Reply::Type::kBool:
      j = {{"type", "boolean"}, {"value", r.integer != 0}};
      break;
    case Reply::Type::kArray:
    case Reply::Type::kMap:
    case Reply::Type::kSet: {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const Reply& e : r.elements) arr.push_back(ReplyJson(e));
      const char* type = r.type == Reply::Type::kMap   ? "map"
                         : r.type == Reply::Type::kSet ? "set"
                                                       : "array";
      j = {{"type", type}, {"value", arr}};
      break;
    }
  }
  return j;
}

}  // namespace

std::string SummaryLine(const RunReport& r) {
  return fmt::format("{} {}: {}, {}, {} failed; virtual time {}; {}; seed {}; digest {}",
                     r.failures == 0 ? "PASS" : "FAIL", r.file, Plural(r.steps_run, "step"),
                     Plural(r.expectations, "expectation"), r.failures, FormatDuration(r.end_time),
                     Plural(r.events, "event"), r.seed, cluster_sim::FormatDigest(r.digest));
}

std::string RenderText(const RunReport& r, const RenderOptions& options) {
  std::string out;
  if (!options.quiet) {
    out += fmt::format("== {} ==\n", r.name);
    if (!r.source.empty()) out += fmt::format("source: {}\n", r.source);
    out += fmt::format("file: {}   seed: {}\n\n", r.file, r.seed);

    // Columns: step, time, region, operation, reply, key, one per region, check.
    std::vector<std::string> header = {"step", "time", "region", "operation", "reply", "key"};
    for (const auto& name : r.regions) header.push_back(name);
    header.push_back("check");
    std::vector<std::vector<std::string>> rows;
    for (const StepReport& s : r.steps) {
      if (s.operation == "note") {
        std::string text = s.notes.empty() ? "" : s.notes[0];
        rows.push_back({fmt::format("{:>4}  {}  # {}", s.number, FormatDuration(s.time), text)});
        continue;
      }
      std::vector<std::string> row = {std::to_string(s.number), FormatDuration(s.time), s.region,
                                      Cell(s.operation),        Cell(ReplyText(s)),     s.key};
      for (size_t i = 0; i < r.regions.size(); ++i) {
        row.push_back(i < s.values.size() ? Cell(s.values[i], 32) : "");
      }
      std::string check = VerdictText(s);
      for (const auto& note : s.notes) check += (check.empty() ? "" : "  ") + ("(" + note + ")");
      row.push_back(check);
      rows.push_back(std::move(row));
      for (std::string l : s.output) {  // a service's lines, under its step
        for (size_t at = l.find('\t'); at != std::string::npos; at = l.find('\t', at)) {
          l.replace(at, 1, "    ");
        }
        rows.push_back({"      | " + l});
      }
    }
    std::vector<size_t> width(header.size());
    for (size_t c = 0; c < header.size(); ++c) {
      width[c] = header[c].size();
      for (const auto& row : rows) {
        if (row.size() > 1) width[c] = std::max(width[c], row[c].size());
      }
    }
    auto line = [&](const std::vector<std::string>& cells) -> std::string {
      if (cells.size() == 1) return cells[0] + "\n";  // a note: free text across the table
      std::string l;
      for (size_t c = 0; c < cells.size(); ++c) {
        bool last = c + 1 == cells.size();
        if (c == 0) {
          l += fmt::format("{:>{}}", cells[c], width[c]);
        } else {
          l += "  " + (last ? cells[c] : fmt::format("{:<{}}", cells[c], width[c]));
        }
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      return l + "\n";
    };
    out += line(header);
    for (const auto& row : rows) out += line(row);

    // Replication metrics, named like Redis Enterprise's; the region column is as wide as
    // the longest name (at least 10), so the other columns stay aligned.
    out += "\nreplication:\n";
    const std::vector<MetricsRow> metrics = MetricsRows(r);
    size_t region_width = 10;
    for (const MetricsRow& m : metrics) region_width = std::max(region_width, m.region.size());
    out += fmt::format("  {:<{}} {:>7} {:>5} {:>11} {:>11} {:>10} {:>9} {:>8} {:>5} {:>10}\n",
                       "region", region_width, "writes", "lost", "max_ops_lag", "min_ops_lag",
                       "effects_in", "filtered", "partial", "full", "bytes_out");
    for (const MetricsRow& m : metrics) {
      out += fmt::format("  {:<{}} {:>7} {:>5} {:>11} {:>11} {:>10} {:>9} {:>8} {:>5} {:>10}{}\n",
                         m.region, region_width, m.writes, m.lost, m.max_ops_lag, m.min_ops_lag,
                         m.effects_in, m.filtered, m.partial, m.full, m.bytes_out,
                         m.alive ? "" : "  (down)");
    }
    for (const MetricsRow& m : metrics) {  // a Redis backend that was down (never on memory)
      if (m.store_failures == 0) continue;
      out += fmt::format("  {}: {} not stored (its Redis was down), resent\n", m.region,
                         Plural(m.store_failures, "replication message"));
    }
    if (r.causal) {
      // The price of causal delivery: effects held back at their receiver, and the traffic
      // (each effect and full state carries its writer's applied vector).
      out += "  causal delivery: effects held for their dependencies:";
      for (const auto& m : r.metrics) {
        uint64_t held = 0;
        for (const auto& p : m.peers) held += p.effects_held;
        out += fmt::format(" {} {}", m.name, held);
      }
      out += "\n  links (messages/bytes):";
      for (const auto& m : r.metrics) {
        for (const auto& p : m.peers) {
          out += fmt::format(" {}->{} {}/{}", m.name, p.peer, p.link_out.messages_sent,
                             p.link_out.bytes_sent);
        }
      }
      out += "\n";
    }
    if (r.converged_after_heal) {
      out += fmt::format("  converged {} after the last heal\n",
                         FormatDuration(*r.converged_after_heal));
    }
    out += "\n";
  }
  for (const StepReport& s : r.steps) {
    if (s.verdict == StepReport::Verdict::kFail) out += s.failure + "\n";
  }
  out += SummaryLine(r) + "\n";
  return out;
}

std::string JsonText(const nlohmann::ordered_json& doc) {
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

nlohmann::ordered_json ToJson(const RunReport& r) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["file"] = r.file;
  j["name"] = r.name;
  if (!r.source.empty()) j["source"] = r.source;
  j["seed"] = r.seed;
  j["regions"] = r.regions;
  if (r.causal) j["causal"] = true;
  ordered_json steps = ordered_json::array();
  for (const StepReport& s : r.steps) {
    ordered_json st;
    st["step"] = s.number;
    st["line"] = s.mark.line;
    st["time_us"] = s.time.count();
    if (!s.region.empty()) st["region"] = s.region;
    st["operation"] = s.operation;
    if (s.reply) st["reply"] = ReplyJson(*s.reply);
    if (!s.key.empty()) {
      st["key"] = s.key;
      ordered_json values;
      for (size_t i = 0; i < s.values.size() && i < r.regions.size(); ++i) {
        values[r.regions[i]] = s.values[i];
      }
      st["values"] = values;
    }
    if (!s.notes.empty()) st["notes"] = s.notes;
    if (!s.output.empty()) st["output"] = s.output;
    if (s.verdict != StepReport::Verdict::kNone) {
      st["check"] = s.verdict == StepReport::Verdict::kPass ? "pass" : "fail";
    }
    if (!s.failure.empty()) st["failure"] = s.failure;
    steps.push_back(std::move(st));
  }
  j["steps"] = std::move(steps);
  ordered_json metrics = ordered_json::array();
  for (const auto& m : r.metrics) {
    ordered_json mj;
    mj["region"] = m.name;
    mj["alive"] = m.alive;
    mj["incarnation"] = m.incarnation;
    mj["local_writes"] = m.local_writes;
    mj["lost_writes"] = m.lost_writes;
    mj["crashes"] = m.crashes;
    if (m.store_failures != 0) mj["store_failures"] = m.store_failures;
    mj["max_ops_lag"] = m.max_ops_lag;
    mj["min_ops_lag"] = m.min_ops_lag;
    mj["backlog_bytes"] = m.backlog_bytes;
    ordered_json peers = ordered_json::array();
    for (const auto& p : m.peers) {
      peers.push_back({{"peer", p.peer},
                       {"ops_lag", p.ops_lag},
                       {"effects_sent", p.effects_sent},
                       {"effects_received", p.effects_received},
                       {"effects_filtered", p.effects_filtered},
                       {"partial_syncs", p.partial_syncs},
                       {"full_syncs", p.full_syncs},
                       {"messages_sent", p.link_out.messages_sent},
                       {"messages_delivered", p.link_out.messages_delivered},
                       {"dropped_loss", p.link_out.dropped_loss},
                       {"dropped_cut", p.link_out.dropped_cut},
                       {"bytes_sent", p.link_out.bytes_sent}});
    }
    if (r.causal) {
      for (size_t i = 0; i < m.peers.size(); ++i) {
        peers[i]["effects_held"] = m.peers[i].effects_held;
      }
    }
    mj["peers"] = std::move(peers);
    metrics.push_back(std::move(mj));
  }
  j["metrics"] = std::move(metrics);
  if (r.converged_after_heal) j["converged_after_heal_us"] = r.converged_after_heal->count();
  ordered_json final_state;
  for (size_t i = 0; i < r.regions.size() && i < r.final_state.size(); ++i) {
    final_state[r.regions[i]] = r.final_state[i];
  }
  j["final_state"] = std::move(final_state);
  j["expectations"] = r.expectations;
  j["failures"] = r.failures;
  j["virtual_time_us"] = r.end_time.count();
  j["events"] = r.events;
  j["final_digest"] = cluster_sim::FormatDigest(r.digest);
  return j;
}

}  // namespace aasim
