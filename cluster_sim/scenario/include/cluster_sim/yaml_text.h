// How the YAML loaders (scenario.cc, latency_config.cc) name what they found in their
// one-line FILE:LINE:COL messages. Internal to cluster_sim.
#pragma once

#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace cluster_sim::yaml_text {

// File text as it appears inside a one-line message: control characters escaped, long text
// shortened (without splitting a UTF-8 sequence).
std::string Printable(std::string_view text);

// How a node is named in "got ..." messages: "\"text\"", "a list", "an empty map", "nothing".
std::string Describe(const YAML::Node& node);

// "a, b, c".
template <typename Container>
std::string Join(const Container& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

template <typename Container>
bool Contains(const Container& items, std::string_view value) {
  for (const auto& item : items) {
    if (item == value) return true;
  }
  return false;
}

}  // namespace cluster_sim::yaml_text
