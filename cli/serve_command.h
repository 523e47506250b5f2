// `aasim serve` and `aasim node`: simulated Active/Active regions behind RESP endpoints
// (server/), for redis-cli, redis-benchmark and any Redis client library. Wiring only: the
// protocol, the real-time simulation host and the node replicator live in aasim::server.
#pragma once

#include <CLI/CLI.hpp>

#include "cluster_sim/runner.h"

namespace aasim {

// Registers `serve` on `app`. When parsed, its callback serves until SIGINT/SIGTERM (or,
// with --exit-after-steps, until the steps are done) and stores the exit code in
// *exit_code: 0 ok, 1 a step's expectation failed, 2 bad input (nothing served).
// `exit_code` must outlive app.parse(). The steps run with `run_options` (its services; the
// seed is --seed's). Returns the subcommand.
CLI::App* AddServeCommand(CLI::App& app, const cluster_sim::RunOptions& run_options,
                          int* exit_code);
// Registers `node` (one region per process, replicating over TCP); same exit code contract.
CLI::App* AddNodeCommand(CLI::App& app, int* exit_code);

}  // namespace aasim
