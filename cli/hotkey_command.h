// `aasim hotkey`: the hot-key write-splitting experiment of cluster_sim/hotkey.h (the book's
// Figure 4-4) on the command line: one run or a sweep over the number of clusters, as text
// tables, --json or an --svg chart. Rendering only; the model lives in cluster_sim.
#pragma once

#include <CLI/CLI.hpp>

namespace aasim {

// Registers the `hotkey` subcommand on `app`. When it is parsed, its callback runs the
// experiment, prints the result and stores the exit code in *exit_code: 0 done, 2 a bad
// option (a one-line message on stderr, nothing run). `exit_code` must outlive app.parse().
// Returns the subcommand, so main can tell whether it ran (->parsed()).
CLI::App* AddHotkeyCommand(CLI::App& app, int* exit_code);

}  // namespace aasim
