// Command-line values shared by every aasim subcommand: seeds and durations are checked the
// same way everywhere, with the bounds files have (cluster_sim/time.h, kMaxFileDuration).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cluster_sim/time.h"

namespace aasim {

// A number of `what` ("a seed") is decimal digits only and fits 64 bits: "-1", "0x10" and
// "abc" are errors (CLI11 would otherwise read "-1" as 2^64-1). `name` follows the option's
// type name in --help ("" for none). Use as `->check(Uint64Check("a seed", "SEED"))`.
inline CLI::Validator Uint64Check(const std::string& what, const std::string& name) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        bool digits = !text.empty() && text.size() <= 20;
        for (char c : text) digits = digits && c >= '0' && c <= '9';
        if (digits && (text.size() < 20 || text <= "18446744073709551615")) return "";
        return "expected " + what + ": a non-negative integer below 2^64, got \"" + text + "\"";
      },
      name);
}

inline CLI::Validator SeedCheck() { return Uint64Check("a seed", "SEED"); }

// ParseDuration (no sign) bounded as a file's durations are: nullopt beyond 1000h.
inline std::optional<cluster_sim::SimTime> ParseOptionDuration(const std::string& text) {
  std::optional<cluster_sim::SimTime> d = cluster_sim::ParseDuration(text);
  if (!d || *d > cluster_sim::kMaxFileDuration) return std::nullopt;
  return d;
}

}  // namespace aasim
