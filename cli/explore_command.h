// `aasim explore FILE`: the file's steps under many seeded random fault schedules
// (cluster_sim/explore.h); how many schedules broke which check, and for each distinct
// failure a minimal schedule written as a scenario file that `aasim run` replays.
// `--shard I/N` runs a share of the schedules; `aasim explore merge REPORT.json...` merges
// the shards' --json reports into the report one machine gives (shards.h).
#pragma once

#include <CLI/CLI.hpp>

#include "cluster_sim/runner.h"

namespace aasim {

// Registers `explore` (and `explore merge`) on `app`. When parsed, its callback stores the
// exit code in *exit_code: 0 no schedule broke a check, 1 some did, 2 bad input.
// `services` are the services scenario steps may use (as for `aasim run`).
CLI::App* AddExploreCommand(CLI::App& app, const cluster_sim::RunOptions& services, int* exit_code);

}  // namespace aasim
