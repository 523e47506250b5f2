// Rendering of run reports: the book-style table, the metrics, the summary line and the
// JSON document of `aasim run`. Pure functions of the report: deterministic output.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster_sim/runner.h"

namespace aasim {

struct RenderOptions {
  bool quiet = false;  // only the summary line and the failures
};

// The table, the metrics and the summary line, as printed by `aasim run`.
std::string RenderText(const cluster_sim::RunReport& report, const RenderOptions& options);
// One region's row of the replication metrics (its peers' counters added up).
struct MetricsRow {
  std::string region;
  uint64_t writes = 0, lost = 0, max_ops_lag = 0, min_ops_lag = 0;
  uint64_t effects_in = 0, filtered = 0, partial = 0, full = 0, bytes_out = 0;
  uint64_t store_failures = 0;
  bool alive = true;
};
std::vector<MetricsRow> MetricsRows(const cluster_sim::RunReport& report);
// The text of a reply ("" when the step has none) and of a verdict ("ok", "FAIL" or "").
std::string ReplyText(const cluster_sim::StepReport& step);
std::string VerdictText(const cluster_sim::StepReport& step);

// One line: "PASS file: ..." or "FAIL file: ...".
std::string SummaryLine(const cluster_sim::RunReport& report);
nlohmann::ordered_json ToJson(const cluster_sim::RunReport& report);
// `doc` as every --json prints it (indented by 2). JSON text is UTF-8, and values are bytes
// (`SET k "\xff"`): each sequence that is not valid UTF-8 prints as U+FFFD (the table and
// final_state's digest keep the bytes) instead of aborting the run with an exception.
std::string JsonText(const nlohmann::ordered_json& doc);

}  // namespace aasim
