// ASCII case helpers for command names, subcommands and options. Redis compares these
// case-insensitively in ASCII only (strcasecmp in the C locale), so these never consult
// the locale: bytes outside 'A'..'Z' are left as they are. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cluster_sim {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `s` with 'A'..'Z' lowered.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// True if `a` and `b` are equal ignoring ASCII case ("Get" and "GET").
constexpr bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace cluster_sim
