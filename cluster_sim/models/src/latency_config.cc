// The strict loader of latency files (latency.h): YAML (yaml-cpp) -> LatencyConfig. Every
// rejection is an InvalidArgument `FILE:LINE:COL: message` at the offending node (yaml-cpp
// marks are 0-based, ours 1-based), in the style of scenario.cc. No exception leaves this file.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "cluster_sim/latency.h"
#include "cluster_sim/network.h"
#include "cluster_sim/strict_yaml.h"

namespace cluster_sim {
namespace {

using strict_yaml::Contains;
using strict_yaml::Describe;
using strict_yaml::Join;
using strict_yaml::Printable;
using Entry = YamlEntry;
using Sign = StrictYaml::Sign;

constexpr std::string_view kTopKeys[] = {"name",        "seed",   "duration", "budget",
                                         "regions",     "links",  "cluster",  "workload",
                                         "deployments", "events", "expect"};
constexpr uint64_t kMaxKeyCopies = 50'000'000;
constexpr std::string_view kRegionKeys[] = {"lat", "lon", "rate", "calls", "reads"};
constexpr std::string_view kLinkKeys[] = {"rtt", "local_rtt", "route_factor", "jitter", "loss"};
constexpr std::string_view kClusterKeys[] = {"shards", "service_time", "replicated_service_time"};
constexpr std::string_view kWorkloadKeys[] = {"rate", "calls", "reads", "keys", "zipf", "arrivals"};
constexpr std::string_view kDownKeys[] = {"region", "from", "to"};
constexpr std::string_view kMetrics[] = {"p50",   "p95",       "p99",  "max",    "over_budget",
                                         "stale", "conflicts", "lost", "resync", "failed"};

// The latency-file grammar over the strict YAML reading (StrictYaml: entries, typed values,
// FILE:LINE:COL errors). Every null value is located at its key.
class Parser : public StrictYaml {
 public:
  Parser(const std::string& file, std::string_view text)
      : StrictYaml(file, text, NullMarks::kAlwaysAtKey) {}

  Result<LatencyConfig> Parse(const std::string& text) {
    config_.file = file();
    const YAML::Node root = YAML::Load(text);
    AASIM_RETURN_IF_ERROR(ParseTop(root));
    Status work = CheckLatencyWork(config_);
    if (!work.ok()) return Error(root.Mark(), work.message());
    return std::move(config_);
  }

 private:
  // Entries of a map whose keys must be among `allowed`.
  Status Options(const Entry& entry, std::string_view what,
                 std::span<const std::string_view> allowed, std::vector<Entry>* out) const {
    return StrictYaml::Options(entry, what, allowed, "key", out);
  }

  Status Duration(const Entry& e, std::string_view what, SimTime* out) const {
    return StrictYaml::Duration(e, what, Sign::kNoSign, out);
  }

  Status Integer(const Entry& e, std::string_view what, uint64_t lo, uint64_t hi,
                 uint64_t* out) const {
    return StrictYaml::Integer(
        e, what, lo, hi, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
        out);
  }

  Status Region(const YAML::Node& node, const YAML::Mark& mark, std::string_view what,
                int* out) const {
    std::vector<std::string_view> names;
    for (const auto& region : config_.regions) names.push_back(region.name);
    return KnownRegion(node, mark, what, names, out);
  }

  Status ParseWorkloadField(const Entry& e, std::string_view what, RegionWorkload* w) {
    const std::string name = std::string(what) + "." + e.key;
    if (e.key == "rate") {
      AASIM_RETURN_IF_ERROR(Number(e, name, 0, 1e9, kLatencyRateRange, &w->rate));
      if (!ValidLatencyRate(w->rate)) {
        return Error(ValueMark(e), name + ": expected a number " + std::string(kLatencyRateRange) +
                                       ", got " + Describe(e.value));
      }
      return Status::Ok();
    }
    if (e.key == "reads") return Number(e, name, 0, 1, "in [0, 1]", &w->reads);
    if (e.key == "calls") {
      uint64_t calls = 0;
      AASIM_RETURN_IF_ERROR(Integer(e, name, 1, 1000, &calls));
      w->calls = static_cast<int>(calls);
    }
    return Status::Ok();
  }

  Status ParseTop(const YAML::Node& root) {
    if (!root.IsMap()) {
      return Error(root.Mark(),
                   "expected a map with name, regions and deployments, got " + Describe(root));
    }
    if (!root["deployments"] && root["steps"]) {
      return Error(root.Mark(),
                   "this is a scenario file (it has `steps:` and no `deployments:`), not a "
                   "latency file: run it with `aasim run`");
    }
    std::vector<Entry> entries;
    std::map<std::string_view, const Entry*> found;
    AASIM_RETURN_IF_ERROR(TopLevel(root, kTopKeys, &entries, &found));
    for (std::string_view required : {"name", "regions", "deployments"}) {
      if (found.count(required) == 0) {
        return Error(root.Mark(), "missing required key '" + std::string(required) + "'");
      }
    }
    const Entry& name = *found["name"];
    if (!name.value.IsScalar() || name.value.Scalar().empty()) {
      return Error(ValueMark(name), "name: expected text, got " + Describe(name.value));
    }
    config_.name = name.value.Scalar();
    if (found.count("seed")) {
      AASIM_RETURN_IF_ERROR(Integer(*found["seed"], "seed", 0, UINT64_MAX, &config_.seed));
    }
    if (found.count("duration")) {
      AASIM_RETURN_IF_ERROR(Duration(*found["duration"], "duration", &config_.duration));
      if (config_.duration.count() <= 0) {
        return Error(ValueMark(*found["duration"]), "duration: must be > 0");
      }
    }
    if (found.count("budget")) {
      AASIM_RETURN_IF_ERROR(Duration(*found["budget"], "budget", &config_.budget));
    }
    // The workload defaults come before the regions, which may override them.
    RegionWorkload defaults;
    if (found.count("workload"))
      AASIM_RETURN_IF_ERROR(ParseWorkload(*found["workload"], &defaults));
    AASIM_RETURN_IF_ERROR(ParseRegions(*found["regions"], defaults));
    // The engine keeps a counter per (key, cluster).
    if (config_.keys * config_.regions.size() > kMaxKeyCopies) {
      return Error(found.count("workload") ? ValueMark(*found["workload"]) : root.Mark(),
                   "workload.keys: keys x regions must be at most " +
                       std::to_string(kMaxKeyCopies) + ", got " + std::to_string(config_.keys) +
                       " x " + std::to_string(config_.regions.size()));
    }
    AASIM_RETURN_IF_ERROR(ParseLinks(found.count("links") ? found["links"] : nullptr, root));
    if (found.count("cluster")) AASIM_RETURN_IF_ERROR(ParseCluster(*found["cluster"]));
    AASIM_RETURN_IF_ERROR(ParseDeployments(*found["deployments"]));
    if (found.count("events")) AASIM_RETURN_IF_ERROR(ParseEvents(*found["events"]));
    if (found.count("expect")) AASIM_RETURN_IF_ERROR(ParseExpect(*found["expect"]));
    return Status::Ok();
  }

  Status ParseWorkload(const Entry& entry, RegionWorkload* defaults) {
    std::vector<Entry> options;
    AASIM_RETURN_IF_ERROR(Options(entry, "workload", kWorkloadKeys, &options));
    for (const Entry& e : options) {
      if (e.key == "keys") {
        AASIM_RETURN_IF_ERROR(Integer(e, "workload.keys", 1, 10'000'000, &config_.keys));
      } else if (e.key == "zipf") {
        AASIM_RETURN_IF_ERROR(Number(e, "workload.zipf", 0, 10, "in [0, 10]", &config_.zipf));
      } else if (e.key == "arrivals") {
        const std::string v = e.value.IsScalar() ? e.value.Scalar() : "";
        if (v == "poisson") {
          config_.arrivals = ArrivalProcess::kPoisson;
        } else if (v == "uniform") {
          config_.arrivals = ArrivalProcess::kUniform;
        } else {
          return Error(ValueMark(e),
                       "workload.arrivals: expected poisson or uniform, got " + Describe(e.value));
        }
      } else {
        AASIM_RETURN_IF_ERROR(ParseWorkloadField(e, "workload", defaults));
      }
    }
    return Status::Ok();
  }

  Status ParseRegions(const Entry& entry, const RegionWorkload& defaults) {
    std::vector<std::pair<YAML::Node, YAML::Node>> items;  // name, options
    if (entry.value.IsSequence()) {
      for (const YAML::Node& item : entry.value) items.emplace_back(item, YAML::Node());
    } else if (entry.value.IsMap()) {
      std::vector<Entry> entries;
      AASIM_RETURN_IF_ERROR(Entries(entry.value, "regions", &entries));
      for (const Entry& e : entries) items.emplace_back(e.key_node, e.value);
    } else {
      return Error(ValueMark(entry),
                   "regions: expected a list of names or a map of name -> options, got " +
                       Describe(entry.value));
    }
    if (items.empty()) return Error(ValueMark(entry), "regions: expected at least one region");
    if (items.size() > kMaxRegions) {
      return Error(ValueMark(entry), "regions: at most " + std::to_string(kMaxRegions) +
                                         " regions, got " + std::to_string(items.size()));
    }
    for (const auto& [name_node, options] : items) {
      if (!name_node.IsScalar() || !strict_yaml::IsPlainName(name_node.Scalar())) {
        return Error(name_node.Mark(),
                     "regions: expected a region name of letters, digits, '-' and '_', got " +
                         Describe(name_node));
      }
      LatencyRegion region;
      region.name = name_node.Scalar();
      region.mark = ToSourceMark(name_node.Mark());
      region.workload = defaults;
      if (config_.RegionIndex(region.name) >= 0) {
        return Error(name_node.Mark(), "regions: duplicate region '" + region.name + "'");
      }
      const std::string what = "regions." + region.name;
      if (options.IsDefined() && !options.IsNull()) {
        std::vector<Entry> opts;
        AASIM_RETURN_IF_ERROR(
            Options(Entry{region.name, name_node, options}, what, kRegionKeys, &opts));
        for (const Entry& e : opts) {
          if (e.key == "lat" || e.key == "lon") {
            const double limit = e.key == "lat" ? 90 : 180;
            double v = 0;
            AASIM_RETURN_IF_ERROR(Number(e, what + "." + e.key, -limit, limit,
                                         e.key == "lat" ? "in [-90, 90]" : "in [-180, 180]", &v));
            (e.key == "lat" ? region.lat : region.lon) = v;
          } else {
            AASIM_RETURN_IF_ERROR(ParseWorkloadField(e, what, &region.workload));
          }
        }
        if (region.lat.has_value() != region.lon.has_value()) {
          return Error(name_node.Mark(), what + ": lat and lon must be given together");
        }
      }
      config_.regions.push_back(std::move(region));
    }
    return Status::Ok();
  }

  Status ParseLinks(const Entry* entry, const YAML::Node& root) {
    const size_t n = config_.regions.size();
    SimTime local_rtt{1000};
    double route_factor = 1.5;
    std::vector<std::vector<std::optional<SimTime>>> given(n,
                                                           std::vector<std::optional<SimTime>>(n));
    YAML::Mark where = root.Mark();
    if (entry != nullptr) {
      where = ValueMark(*entry);
      std::vector<Entry> options;
      AASIM_RETURN_IF_ERROR(Options(*entry, "links", kLinkKeys, &options));
      for (const Entry& e : options) {
        if (e.key == "local_rtt") {
          AASIM_RETURN_IF_ERROR(Duration(e, "links.local_rtt", &local_rtt));
        } else if (e.key == "route_factor") {
          AASIM_RETURN_IF_ERROR(
              Number(e, "links.route_factor", 1, 100, "in [1, 100]", &route_factor));
        } else if (e.key == "jitter") {
          AASIM_RETURN_IF_ERROR(Duration(e, "links.jitter", &config_.jitter));
        } else if (e.key == "loss") {
          AASIM_RETURN_IF_ERROR(Number(e, "links.loss", 0, 0.9, "in [0, 0.9]", &config_.loss));
        } else {  // rtt
          if (!e.value.IsMap()) {
            return Error(
                ValueMark(e),
                "links.rtt: expected a map REGION: {REGION: DURATION}, got " + Describe(e.value));
          }
          std::vector<Entry> rows;
          AASIM_RETURN_IF_ERROR(Entries(e.value, "links.rtt", &rows));
          for (const Entry& row : rows) {
            int a = 0;
            AASIM_RETURN_IF_ERROR(Region(row.key_node, row.key_node.Mark(), "links.rtt", &a));
            if (!row.value.IsMap()) {
              return Error(ValueMark(row), "links.rtt." + row.key +
                                               ": expected a map REGION: DURATION, got " +
                                               Describe(row.value));
            }
            std::vector<Entry> cells;
            AASIM_RETURN_IF_ERROR(Entries(row.value, "links.rtt." + row.key, &cells));
            for (const Entry& cell : cells) {
              int b = 0;
              const std::string what = "links.rtt." + row.key + "." + cell.key;
              AASIM_RETURN_IF_ERROR(Region(cell.key_node, cell.key_node.Mark(), what, &b));
              if (a == b)
                return Error(cell.key_node.Mark(), what +
                                                       ": a region linked to itself "
                                                       "(use links.local_rtt)");
              if (given[a][b]) {
                return Error(cell.key_node.Mark(), what +
                                                       ": given twice (a round trip is the "
                                                       "same both ways)");
              }
              SimTime rtt{0};
              AASIM_RETURN_IF_ERROR(Duration(cell, what, &rtt));
              given[a][b] = rtt;
              given[b][a] = rtt;
            }
          }
        }
      }
    }
    config_.rtt.assign(n, std::vector<SimTime>(n, SimTime{0}));
    SimTime min_one_way = SimTime::max();
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        const LatencyRegion& ra = config_.regions[a];
        const LatencyRegion& rb = config_.regions[b];
        if (a == b) {
          config_.rtt[a][b] = local_rtt;
          continue;
        }
        if (given[a][b]) {
          config_.rtt[a][b] = *given[a][b];
        } else if (ra.lat && rb.lat) {
          config_.rtt[a][b] =
              2 * FibreLatency(GreatCircleKm(*ra.lat, *ra.lon, *rb.lat, *rb.lon), route_factor);
        } else {
          return Error(where, "links: no latency between " + ra.name + " and " + rb.name +
                                  ": give both regions lat/lon or a links.rtt entry");
        }
        min_one_way = std::min(min_one_way, config_.rtt[a][b] / 2);
      }
    }
    if (n > 1 && config_.jitter > min_one_way) {
      return Error(where, "links.jitter: must not exceed the smallest one-way latency (" +
                              FormatDuration(min_one_way) + ")");
    }
    return Status::Ok();
  }

  Status ParseCluster(const Entry& entry) {
    std::vector<Entry> options;
    AASIM_RETURN_IF_ERROR(Options(entry, "cluster", kClusterKeys, &options));
    for (const Entry& e : options) {
      if (e.key == "shards") {
        uint64_t shards = 0;
        AASIM_RETURN_IF_ERROR(Integer(e, "cluster.shards", 1, 16384, &shards));
        config_.shards = static_cast<int>(shards);
      } else {
        SimTime t{0};
        AASIM_RETURN_IF_ERROR(Duration(e, "cluster." + e.key, &t));
        if (t.count() <= 0) return Error(ValueMark(e), "cluster." + e.key + ": must be > 0");
        if (e.key == "service_time") {
          config_.service_time = t;
        } else {
          config_.replicated_service_time = t;
        }
      }
    }
    return Status::Ok();
  }

  Status ParseDeployments(const Entry& entry) {
    if (!entry.value.IsSequence() || entry.value.size() == 0) {
      return Error(ValueMark(entry),
                   "deployments: expected a list like [active-active, single-primary: REGION, "
                   "primary-with-local-replicas: REGION], got " +
                       Describe(entry.value));
    }
    for (const YAML::Node& item : entry.value) {
      Deployment d;
      d.mark = ToSourceMark(item.Mark());
      if (item.IsScalar() && item.Scalar() == "active-active") {
        d.kind = DeploymentKind::kActiveActive;
      } else if (item.IsMap() && item.size() == 1) {
        const YAML::Node key = item.begin()->first;
        const YAML::Node value = item.begin()->second;
        const std::string k = key.IsScalar() ? key.Scalar() : "";
        if (k == "single-primary") {
          d.kind = DeploymentKind::kSinglePrimary;
        } else if (k == "primary-with-local-replicas") {
          d.kind = DeploymentKind::kPrimaryWithLocalReplicas;
        } else {
          return Error(key.Mark(), "deployments: unknown deployment '" + Printable(k) +
                                       "' (expected active-active, single-primary: REGION or "
                                       "primary-with-local-replicas: REGION)");
        }
        AASIM_RETURN_IF_ERROR(Region(value, value.IsNull() ? key.Mark() : value.Mark(),
                                     "deployments." + k, &d.primary));
      } else {
        return Error(item.Mark(),
                     "deployments: expected active-active, single-primary: REGION or "
                     "primary-with-local-replicas: REGION, got " +
                         Describe(item));
      }
      for (size_t i = 0; i < config_.deployments.size(); ++i) {
        const Deployment& o = config_.deployments[i];
        if (o.kind == d.kind && o.primary == d.primary) {
          return Error(item.Mark(),
                       "deployments: " + std::string(ToString(d.kind)) + " is listed twice");
        }
      }
      config_.deployments.push_back(d);
    }
    return Status::Ok();
  }

  Status ParseEvents(const Entry& entry) {
    if (!entry.value.IsSequence()) {
      return Error(ValueMark(entry),
                   "events: expected a list of region_down: {region, from, to}, "
                   "got " +
                       Describe(entry.value));
    }
    for (const YAML::Node& item : entry.value) {
      if (!item.IsMap() || item.size() != 1 || !item.begin()->first.IsScalar() ||
          item.begin()->first.Scalar() != "region_down") {
        return Error(item.Mark(),
                     "events: expected region_down: {region, from, to}, got " + Describe(item));
      }
      const Entry e{"region_down", item.begin()->first, item.begin()->second};
      std::vector<Entry> options;
      AASIM_RETURN_IF_ERROR(Options(e, "region_down", kDownKeys, &options));
      RegionDown down;
      down.mark = ToSourceMark(item.Mark());
      bool has[3] = {false, false, false};
      for (const Entry& o : options) {
        if (o.key == "region") {
          AASIM_RETURN_IF_ERROR(Region(o.value, ValueMark(o), "region_down.region", &down.region));
          has[0] = true;
        } else if (o.key == "from") {
          AASIM_RETURN_IF_ERROR(Duration(o, "region_down.from", &down.from));
          has[1] = true;
        } else {
          AASIM_RETURN_IF_ERROR(Duration(o, "region_down.to", &down.to));
          has[2] = true;
        }
      }
      for (int i = 0; i < 3; ++i) {
        if (!has[i]) {
          return Error(item.Mark(), "region_down: missing '" + std::string(kDownKeys[i]) + "'");
        }
      }
      if (down.to <= down.from) {
        return Error(item.Mark(), "region_down: 'to' must be after 'from'");
      }
      for (const RegionDown& o : config_.downs) {
        if (o.region == down.region) {
          return Error(item.Mark(), "region_down: region " +
                                        config_.regions[static_cast<size_t>(down.region)].name +
                                        " already goes down once (one outage per region)");
        }
      }
      config_.downs.push_back(down);
    }
    return Status::Ok();
  }

  Status FindDeployment(const Entry& e, int* out) const {
    const int match = config_.FindDeployment(e.value.IsScalar() ? e.value.Scalar() : "");
    if (match < 0) {
      return Error(ValueMark(e),
                   "expect.deployment: " + std::string(match == -2 ? "ambiguous" : "unknown") +
                       " deployment " + Describe(e.value) +
                       " (deployments are: " + config_.DeploymentNames() + ")");
    }
    *out = match;
    return Status::Ok();
  }

  Status ParseExpect(const Entry& entry) {
    if (!entry.value.IsSequence()) {
      return Error(ValueMark(entry),
                   "expect: expected a list of {deployment, region, "
                   "METRIC_max|METRIC_min: VALUE}, got " +
                       Describe(entry.value));
    }
    for (const YAML::Node& item : entry.value) {
      if (!item.IsMap()) {
        return Error(item.Mark(),
                     "expect: expected a map {deployment, region, METRIC_max: "
                     "VALUE}, got " +
                         Describe(item));
      }
      std::vector<Entry> options;
      AASIM_RETURN_IF_ERROR(Entries(item, "expect", &options));
      int deployment = -1;
      int region = -1;
      for (const Entry& o : options) {
        if (o.key == "deployment") AASIM_RETURN_IF_ERROR(FindDeployment(o, &deployment));
        if (o.key == "region") {
          AASIM_RETURN_IF_ERROR(Region(o.value, ValueMark(o), "expect.region", &region));
        }
      }
      if (deployment < 0) return Error(item.Mark(), "expect: missing 'deployment'");
      int bounds = 0;
      for (const Entry& o : options) {
        if (o.key == "deployment" || o.key == "region") continue;
        const size_t cut = o.key.rfind('_');
        const std::string metric = cut == std::string::npos ? "" : o.key.substr(0, cut);
        const std::string bound = cut == std::string::npos ? "" : o.key.substr(cut + 1);
        if (!Contains(kMetrics, metric) || (bound != "max" && bound != "min")) {
          return Error(o.key_node.Mark(), "expect: unknown key '" + Printable(o.key) +
                                              "' (expected deployment, region or METRIC_max / "
                                              "METRIC_min with METRIC one of: " +
                                              Join(kMetrics) + ")");
        }
        LatencyExpectation x;
        x.deployment = deployment;
        x.region = region;
        x.metric = metric;
        x.is_max = bound == "max";
        x.mark = ToSourceMark(o.value.Mark());
        x.text = o.value.IsScalar() ? o.value.Scalar() : "";
        const std::string what = "expect." + o.key;
        if (metric == "p50" || metric == "p95" || metric == "p99" || metric == "max" ||
            metric == "resync") {
          SimTime t{0};
          AASIM_RETURN_IF_ERROR(Duration(o, what, &t));
          x.value = static_cast<double>(t.count());
        } else if (metric == "over_budget" || metric == "stale") {
          AASIM_RETURN_IF_ERROR(Number(o, what, 0, 1, "in [0, 1] (a fraction)", &x.value));
        } else {
          uint64_t count = 0;
          AASIM_RETURN_IF_ERROR(Integer(o, what, 0, UINT64_MAX, &count));
          x.value = static_cast<double>(count);
        }
        if (metric == "resync" && region < 0) {
          return Error(o.key_node.Mark(), what + ": needs a region (the one that goes down)");
        }
        config_.expectations.push_back(std::move(x));
        ++bounds;
      }
      if (bounds == 0) return Error(item.Mark(), "expect: no METRIC_max or METRIC_min given");
    }
    return Status::Ok();
  }

  LatencyConfig config_;
};

}  // namespace

std::string_view ToString(DeploymentKind k) {
  switch (k) {
    case DeploymentKind::kActiveActive:
      return "active-active";
    case DeploymentKind::kSinglePrimary:
      return "single-primary";
    case DeploymentKind::kPrimaryWithLocalReplicas:
      return "primary-with-local-replicas";
  }
  return "?";
}

SimTime LatencyConfig::OneWay(int from, int to) const {
  const SimTime rtt_ft = rtt[static_cast<size_t>(from)][static_cast<size_t>(to)];
  // The lower-indexed side takes the rounded-down half, so the two ways sum to the rtt.
  const SimTime half{rtt_ft.count() / 2};
  return from <= to ? half : rtt_ft - half;
}

int LatencyConfig::RegionIndex(std::string_view region_name) const {
  for (size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].name == region_name) return static_cast<int>(i);
  }
  return -1;
}

std::string LatencyConfig::DeploymentName(int d) const {
  const Deployment& dep = deployments[static_cast<size_t>(d)];
  std::string text(ToString(dep.kind));
  if (dep.primary >= 0) text += " " + regions[static_cast<size_t>(dep.primary)].name;
  return text;
}

int LatencyConfig::FindDeployment(std::string_view text) const {
  int match = -1;
  int matches = 0;
  for (size_t d = 0; d < deployments.size(); ++d) {
    if (text == DeploymentName(static_cast<int>(d)) || text == ToString(deployments[d].kind)) {
      match = static_cast<int>(d);
      ++matches;
    }
  }
  return matches > 1 ? -2 : match;
}

std::string LatencyConfig::DeploymentNames() const {
  std::string names;
  for (size_t d = 0; d < deployments.size(); ++d) {
    names += (names.empty() ? "" : ", ") + DeploymentName(static_cast<int>(d));
  }
  return names;
}

namespace {

// Whether the document's top level is a map with a key `deployments`, from the parser's
// events: YAML::Load would build the whole tree (about 1.2KB a step of a scenario file,
// which every `aasim run FILE` asks this about) only to look at one key.
class HasDeployments : public YAML::EventHandler {
 public:
  bool yes() const { return yes_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { Node(false, false); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    Node(false, deployments_anchors_.count(anchor) > 0);
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    if (anchor != 0 && value == "deployments") deployments_anchors_.insert(anchor);
    Node(false, value == "deployments");
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(true, false);
    map_root_ = map_root_ && depth_ > 1;
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(true, false);
  }
  void OnMapEnd() override { --depth_; }

 private:
  // A node starts at depth_ (and opens a collection if `opens`).
  void Node(bool opens, bool named_deployments) {
    if (depth_ == 1) {
      if (key_next_ && named_deployments && map_root_) yes_ = true;
      key_next_ = !key_next_;
    }
    if (opens) ++depth_;
  }

  int depth_ = 0;
  bool map_root_ = true;  // until the root turns out to be a list
  bool key_next_ = true;  // at depth 1: the next node is a key
  bool yes_ = false;
  std::set<YAML::anchor_t> deployments_anchors_;
};

}  // namespace

bool IsLatencyText(std::string_view yaml_text) {
  try {
    std::istringstream in{std::string(yaml_text)};
    YAML::Parser parser(in);
    HasDeployments handler;
    parser.HandleNextDocument(handler);
    return handler.yes();
  } catch (...) {
    return false;
  }
}

Result<LatencyConfig> ParseLatencyConfig(std::string_view yaml_text, const std::string& file_name) {
  Parser parser(file_name, yaml_text);
  return parser.Guard<LatencyConfig>([&] { return parser.Parse(std::string(yaml_text)); });
}

std::optional<std::string> ReadTextFile(const std::string& path) {
  Result<std::string> text = strict_yaml::ReadFileText(path);
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

Result<LatencyConfig> LoadLatencyFile(const std::string& path) {
  Result<std::string> text = strict_yaml::ReadFileText(path);
  if (!text.ok()) return text.status();
  return ParseLatencyConfig(*text, path);
}

}  // namespace cluster_sim
