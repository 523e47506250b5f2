// The HTML report of `aasim run --html`: one self-contained page (inline CSS, SVG and
// script; nothing fetched) with the scenario's name, source and file, the space-time
// diagram, the book-style table whose rows are linked to their marks in the diagram
// (hover, click, Enter or Space highlights both; arrow keys move between rows), the
// replication metrics and the summary with seed and digest. Latency files get their table
// and CDF chart. Pure functions: the same run gives the same bytes.
#pragma once

#include <string>

#include "cluster_sim/latency.h"
#include "cluster_sim/runner.h"
#include "run_record.h"

namespace aasim {

// `scenario_text`: the scenario file as written (shown at the end of the page).
std::string RenderHtmlReport(const cluster_sim::RunReport& report, const RunRecord& record,
                             const std::string& scenario_text);
std::string RenderLatencyHtml(const cluster_sim::LatencyReport& report,
                              const std::string& scenario_text);

}  // namespace aasim
