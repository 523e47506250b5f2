// `aasim anomalies`: the anomaly-rate experiment of cluster_sim/anomalies.h on the command
// line: sweeps, a table, --json, --csv or an --svg chart, --shard I/N, and
// `aasim anomalies merge A.json B.json ...` (the shards' JSON reports back into one run).
// Rendering only; the experiment lives in cluster_sim.
#pragma once

#include <CLI/CLI.hpp>

namespace aasim {

// Registers the `anomalies` subcommand on `app`; when parsed its callback runs and stores
// the exit code in *exit_code: 0 done, 2 a bad option or file. `exit_code` must outlive
// app.parse(). Returns the subcommand (main checks ->parsed()).
CLI::App* AddAnomaliesCommand(CLI::App& app, int* exit_code);

}  // namespace aasim
