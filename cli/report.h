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
// One line: "PASS file: ..." or "FAIL file: ...".
std::string SummaryLine(const cluster_sim::RunReport& report);
nlohmann::ordered_json ToJson(const cluster_sim::RunReport& report);

}  // namespace aasim
