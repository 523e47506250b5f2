// `aasim latency FILE`: the regional latency comparison of cluster_sim/latency.h on the
// command line (a table, --json, --csv, --svg), and the hooks `aasim run` uses to run a
// latency file among scenario files. Rendering only; the model lives in cluster_sim.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cluster_sim/latency.h"

namespace aasim {

// Registers the `latency` subcommand on `app`. When it is parsed, its callback runs the
// file, prints the result and stores the exit code in *exit_code: 0 every expectation held
// and nothing was lost, 1 otherwise, 2 a bad file or option (FILE:LINE:COL: message on
// stderr, nothing run). `exit_code` must outlive app.parse(). Returns the subcommand.
CLI::App* AddLatencyCommand(CLI::App& app, int* exit_code);

// True when `path` is a readable latency file (a top-level `deployments:` key).
bool IsLatencyFile(const std::string& path);

// Every fact of the report as one JSON object ("kind": "latency").
nlohmann::ordered_json LatencyToJson(const cluster_sim::LatencyReport& report);

}  // namespace aasim
