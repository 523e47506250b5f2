// Splitting a sweep across machines: `--shard I/N` runs the points whose index i has
// i % N == I - 1; `merge` puts the JSON reports of all N shards back into one, which
// renders exactly as a single run would. Header-only, no dependency beyond the JSON
// library: the one place for shard arithmetic and the merge checks.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aasim {

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};

// Parses "I/N" (1 <= I <= N <= 10000). False, with *error, on anything else.
inline bool ParseShard(const std::string& text, Shard* out, std::string* error) {
  int i = 0, n = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || n > 10000 || i < 1 ||
      i > n) {
    *error = "--shard: expected I/N with 1 <= I <= N, like 1/2, got \"" + text + "\"";
    return false;
  }
  *out = Shard{i - 1, n};
  return true;
}

// Merges shard reports: each a JSON object with "config" (identical in all), "shard"
// ({"index", "count"}) and "points" (objects with an "index"). Checks that the config
// matches, that every shard 1..N is there exactly once, and returns one report with
// "shard" {"index": 0, "count": 1} and the points in index order. False, with *error.
inline bool MergeShardReports(const std::vector<nlohmann::ordered_json>& docs,
                              nlohmann::ordered_json* out, std::string* error) {
  if (docs.empty()) {
    *error = "nothing to merge";
    return false;
  }
  const int count = docs[0]["shard"].value("count", 0);
  std::vector<bool> seen(static_cast<size_t>(std::max(count, 0)), false);
  std::vector<nlohmann::ordered_json> points;
  for (size_t d = 0; d < docs.size(); ++d) {
    const nlohmann::ordered_json& doc = docs[d];
    if (doc["config"] != docs[0]["config"]) {
      *error = "report " + std::to_string(d + 1) + " has another configuration than report 1";
      return false;
    }
    const int i = doc["shard"].value("index", -1);
    if (doc["shard"].value("count", 0) != count || i < 0 || i >= count || seen[i]) {
      *error = "report " + std::to_string(d + 1) + ": shard " + std::to_string(i + 1) + "/" +
               std::to_string(doc["shard"].value("count", 0)) + " is missing from or repeats a " +
               std::to_string(count) + "-way split";
      return false;
    }
    seen[i] = true;
    for (const auto& p : doc["points"]) points.push_back(p);
  }
  for (int i = 0; i < count; ++i) {
    if (!seen[i]) {
      *error = "shard " + std::to_string(i + 1) + "/" + std::to_string(count) + " is missing";
      return false;
    }
  }
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a["index"].template get<int>() < b["index"].template get<int>();
  });
  *out = docs[0];
  (*out)["shard"] = {{"index", 0}, {"count", 1}};
  (*out)["points"] = points;
  return true;
}

}  // namespace aasim
