// Counts in the human-readable output (never JSON or CSV keys): "1 step", "2 steps",
// "0 steps". Every report that prints "N things" goes through Plural so that a count of
// one is never followed by a plural noun. Pure; thread-safe.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

namespace cluster_sim {

// `n`, a space, then `one` when n is 1, else `many` (default: `one` + "s"). Give `many`
// for the nouns that do not just take an s ("entry", "entries").
template <std::integral T>
std::string Plural(T n, std::string_view one, std::string_view many = {}) {
  std::string out = std::to_string(n) + " ";
  if (n == 1) return out.append(one);
  if (many.empty()) return out.append(one).append("s");
  return out.append(many);
}

}  // namespace cluster_sim
