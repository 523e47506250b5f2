// Shards: one deterministic batch of numbered items (explore's schedules, or any other
// command's runs) split over machines with `--shard I/N`, and the shards' JSON reports
// merged back into exactly the report one machine gives. No cluster manager: any launcher
// (GNU parallel --sshlogin, a Slurm job array) runs the N shards and collects their files.
//
// Contract of a shardable report (a JSON object):
//   - "shard": {"index": I, "count": N} is present only in a shard's report (N > 1);
//   - one member (`items_key`) is an array of objects, one per item the shard ran, each
//     with an integer member `index_key` (the item's number, 0-based), in index order;
//   - every other member is either the same in every shard (the command line that made
//     them: file, seed, number of items...) or listed in `derived` (summaries the caller
//     recomputes from the merged items and from each shard's own members).
// Item i belongs to shard i % N == I, so N shards cover every item exactly once.
// Header only; no state; thread-compatible.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aasim {

struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;  // 1: the whole batch
  bool Owns(uint64_t item) const { return item % count == index; }
};

// The most shards of one batch (a merge allocates a flag per shard).
inline constexpr uint64_t kMaxShards = 1'000'000;

// "I/N" with 0 <= I < N <= kMaxShards; nullopt otherwise.
inline std::optional<Shard> ParseShard(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, uint64_t* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  Shard s;
  if (!number(text.substr(0, slash), &s.index) || !number(text.substr(slash + 1), &s.count) ||
      s.count == 0 || s.count > kMaxShards || s.index >= s.count) {
    return std::nullopt;
  }
  return s;
}

// For `->check(ShardCheck())` on a --shard option.
inline CLI::Validator ShardCheck() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (ParseShard(text)) return "";
        return "expected I/N with 0 <= I < N (e.g. 0/4), got \"" + text + "\"";
      },
      "I/N");
}

// The "shard" member of a shard's report; nothing for the whole batch.
inline void SetShard(const Shard& shard, nlohmann::ordered_json* report) {
  if (shard.count > 1) (*report)["shard"] = {{"index", shard.index}, {"count", shard.count}};
}

// Merges shard reports (see the contract above) into one: the common members in the first
// report's order, `items_key` holding every shard's items sorted by `index_key`, no
// "shard"; `derived` members are copied from the first report (the caller recomputes them).
// On error returns false and says why in *error: a report that is not a shard (or whose
// items are not objects with an unsigned `index_key`), shards of different counts (or more
// than kMaxShards), a shard missing or given twice, common members that differ.
inline bool MergeShards(const std::vector<nlohmann::ordered_json>& reports,
                        std::string_view items_key, std::string_view index_key,
                        const std::vector<std::string>& derived, nlohmann::ordered_json* merged,
                        std::string* error) {
  if (reports.empty()) {
    *error = "no reports to merge";
    return false;
  }
  const std::string items_name(items_key);
  const std::string index_name(index_key);
  uint64_t count = 0;
  std::vector<bool> seen;
  for (size_t r = 0; r < reports.size(); ++r) {
    const auto& rep = reports[r];
    const std::string which = "report " + std::to_string(r + 1);
    if (!rep.is_object() || !rep.contains(items_name) || !rep[items_name].is_array()) {
      *error = which + ": not a report of this command";
      return false;
    }
    for (const auto& item : rep[items_name]) {
      if (!item.is_object() || !item.contains(index_name) ||
          !item[index_name].is_number_unsigned()) {
        *error =
            which + ": an item of \"" + items_name + "\" has no unsigned \"" + index_name + "\"";
        return false;
      }
    }
    uint64_t index = 0, n = 1;
    if (rep.contains("shard")) {
      const auto& sh = rep["shard"];
      if (!sh.is_object() || !sh.contains("index") || !sh.contains("count") ||
          !sh["index"].is_number_unsigned() || !sh["count"].is_number_unsigned()) {
        *error = which + ": \"shard\" is not {\"index\": I, \"count\": N}";
        return false;
      }
      index = sh["index"].get<uint64_t>();
      n = sh["count"].get<uint64_t>();
    }
    if (r == 0) {
      if (n == 0 || n > kMaxShards) {
        *error = which + ": a batch has 1 to " + std::to_string(kMaxShards) + " shards, not " +
                 std::to_string(n);
        return false;
      }
      count = n;
      seen.assign(count, false);
    }
    if (n != count || index >= count) {
      *error = which + ": shard " + std::to_string(index) + "/" + std::to_string(n) +
               " does not belong with shards of " + std::to_string(count);
      return false;
    }
    if (seen[index]) {
      *error =
          which + ": shard " + std::to_string(index) + "/" + std::to_string(n) + " given twice";
      return false;
    }
    seen[index] = true;
    for (const auto& [key, value] : reports[0].items()) {
      if (key == "shard" || key == items_name) continue;
      bool is_derived = false;
      for (const std::string& d : derived) is_derived = is_derived || d == key;
      if (is_derived) continue;
      if (!rep.contains(key) || rep[key] != value) {
        *error = which + ": \"" + key + "\" differs from report 1 (not shards of one batch)";
        return false;
      }
    }
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!seen[i]) {
      *error = "shard " + std::to_string(i) + "/" + std::to_string(count) + " is missing";
      return false;
    }
  }
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& rep : reports) {
    for (const auto& item : rep[items_name]) items.push_back(item);
  }
  std::stable_sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
    return a.value(index_name, uint64_t{0}) < b.value(index_name, uint64_t{0});
  });
  *merged = nlohmann::ordered_json::object();
  for (const auto& [key, value] : reports[0].items()) {
    if (key == "shard") continue;
    (*merged)[key] = key == items_name ? items : value;
  }
  return true;
}

}  // namespace aasim
