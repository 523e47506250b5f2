// `aasim lending`: the book's lending service under generated traffic in every region
// (lending/lending_service.h), then what Active/Active did to its invariants. It builds a
// scenario in memory (start N instances per region, one request per interval from a
// random user in a random region, sync, check) and runs it like `aasim run`.
#pragma once

#include <CLI/CLI.hpp>

namespace aasim {

// Registers the `lending` subcommand on `app`. When parsed, its callback runs and stores
// the exit code in *exit_code: 0 every invariant held, 1 some broke, 2 a bad option.
CLI::App* AddLendingCommand(CLI::App& app, int* exit_code);

}  // namespace aasim
