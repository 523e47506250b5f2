// Test helper: "SET k v" -> {"SET", "k", "v"}, split on single spaces with no quoting (the
// command lines of the store tests never quote; cluster_sim::SplitCommand parses real
// redis-cli lines). Header-only, shared by the store and simulation tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cluster_sim::test_util {

inline std::vector<std::string> Split(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace cluster_sim::test_util
