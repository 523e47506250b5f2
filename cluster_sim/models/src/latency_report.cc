// Rendering of latency.h reports: the text table, CSV and the SVG chart. Deterministic text.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cluster_sim/latency.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/xml.h"

namespace cluster_sim {
namespace {

std::string Ms(SimTime t) {
  char buf[32];
  if (t >= SimTime(10'000'000)) {
    std::snprintf(buf, sizeof(buf), "%.2fs", static_cast<double>(t.count()) / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2fms", static_cast<double>(t.count()) / 1000.0);
  }
  return buf;
}

std::string Percent(uint64_t a, uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%",
                b == 0 ? 0.0 : 100.0 * static_cast<double>(a) / static_cast<double>(b));
  return buf;
}

std::string Pad(std::string s, size_t width, bool left = false) {
  if (s.size() >= width) return s + " ";
  const std::string fill(width - s.size(), ' ');
  return (left ? s + fill : fill + s) + " ";
}

const std::string& RegionName(const LatencyConfig& c, int r) {
  return c.regions[static_cast<size_t>(r)].name;
}

std::string CheckValue(const LatencyExpectation& x, double v) {
  char buf[64];
  if (x.metric == "over_budget" || x.metric == "stale") {
    std::snprintf(buf, sizeof(buf), "%.4f", v);
  } else if (x.metric == "conflicts" || x.metric == "lost" || x.metric == "failed") {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    return FormatDuration(SimTime{static_cast<int64_t>(v)});
  }
  return buf;
}

}  // namespace

std::string RenderLatencyText(const LatencyReport& report, bool quiet) {
  const LatencyConfig& c = report.config;
  std::string out;
  const int n = static_cast<int>(c.regions.size());
  if (!quiet) {
    out += "latency: " + c.name + " (" + c.file + "), seed " + std::to_string(c.seed) + ", " +
           FormatDuration(c.duration) + " of arrivals, budget " + FormatDuration(c.budget) + "\n";
    out += "round trips:";
    for (int a = 0; a < n; ++a) {
      for (int b = a; b < n; ++b) {
        out += " " + RegionName(c, a) + (a == b ? "" : "<->" + RegionName(c, b)) + " " +
               FormatDuration(c.rtt[static_cast<size_t>(a)][static_cast<size_t>(b)]) +
               (a + 1 == n && b + 1 == n ? "" : ",");
      }
    }
    out += "\nworkload:";
    for (int r = 0; r < n; ++r) {
      const RegionWorkload& w = c.regions[static_cast<size_t>(r)].workload;
      char buf[160];
      std::snprintf(buf, sizeof(buf), " %s %g req/s x %s, %g%% reads%s", RegionName(c, r).c_str(),
                    w.rate, Plural(w.calls, "call").c_str(), w.reads * 100, r + 1 == n ? "" : ";");
      out += buf;
    }
    out += "\n         " + Plural(c.keys, "key") + " (zipf " + std::to_string(c.zipf).substr(0, 4) +
           "), " + Plural(c.shards, "shard") + " per cluster, service " +
           FormatDuration(c.service_time) + " (replicated " +
           FormatDuration(c.ReplicatedServiceTime()) + "), " +
           (c.arrivals == ArrivalProcess::kPoisson ? "poisson" : "uniform") + " arrivals\n\n";
    // The name columns widen to the longest name, so every row's figures stay under their
    // headers.
    size_t name_width = 36, region_width = 10;
    for (const DeploymentResult& d : report.deployments) {
      name_width = std::max(name_width, c.DeploymentName(d.deployment).size());
      for (const RegionResult& r : d.regions) {
        region_width = std::max(region_width, RegionName(c, r.region).size());
      }
    }
    out += Pad("deployment", name_width, true) + Pad("region", region_width, true) +
           Pad("requests", 9) + Pad("p50", 9) + Pad("p95", 9) + Pad("p99", 9) + Pad("max", 10) +
           Pad("over " + FormatDuration(c.budget), 15) + Pad("lag p50", 9) + Pad("lag p99", 9) +
           Pad("stale", 7) + Pad("conflicts", 9) + Pad("failed", 7);
    while (out.back() == ' ') out.pop_back();
    out += "\n";
    for (const DeploymentResult& d : report.deployments) {
      const std::string name = c.DeploymentName(d.deployment);
      for (const RegionResult& r : d.regions) {
        std::string line =
            Pad(name, name_width, true) + Pad(RegionName(c, r.region), region_width, true) +
            Pad(std::to_string(r.requests), 9) + Pad(Ms(r.latency.Percentile(50)), 9) +
            Pad(Ms(r.latency.Percentile(95)), 9) + Pad(Ms(r.latency.Percentile(99)), 9) +
            Pad(Ms(r.latency.max()), 10) +
            Pad(std::to_string(r.over_budget) + " (" + Percent(r.over_budget, r.requests) + ")",
                15) +
            Pad(r.lag.count() ? Ms(r.lag.Percentile(50)) : "-", 9) +
            Pad(r.lag.count() ? Ms(r.lag.Percentile(99)) : "-", 9) +
            Pad(Percent(r.stale_reads, r.reads), 7) + Pad(std::to_string(r.conflicting_pairs), 9) +
            Pad(std::to_string(r.failed), 7);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
      }
    }
    out += "\n";
    for (const DeploymentResult& d : report.deployments) {
      const std::string name = c.DeploymentName(d.deployment);
      for (const ResyncResult& rr : d.resyncs) {
        out += "failover (" + name + "): " + RegionName(c, rr.region) + " down " +
               FormatDuration(rr.from) + ".." + FormatDuration(rr.to) + "; backlog " +
               Plural(rr.backlog, "write") + ", resynchronised at " +
               FormatDuration(rr.resynced_at) + " (resync " + FormatDuration(rr.resync_time) +
               ")\n";
      }
      uint64_t min_present = UINT64_MAX;
      for (const RegionResult& r : d.regions) {
        const bool copy =
            d.copies > 1 || c.deployments[static_cast<size_t>(d.deployment)].primary == r.region;
        if (copy) min_present = std::min(min_present, r.writes_present);
      }
      out += "writes (" + name + "): " + std::to_string(d.writes_accepted) + " accepted, " +
             std::to_string(min_present) + " present in each of " +
             Plural(d.copies, "copy", "copies") + ": " +
             (d.nothing_lost ? "nothing lost" : "WRITES LOST") + "\n";
    }
  }
  for (const ExpectationResult& check : report.checks) {
    const LatencyExpectation& x = c.expectations[static_cast<size_t>(check.index)];
    if (quiet && check.ok) continue;
    out += std::string(check.ok ? "ok" : "FAILED") + ": " + c.file + ":" +
           std::to_string(x.mark.line) + ": " + c.DeploymentName(x.deployment) + " " +
           RegionName(c, check.region) + " " + x.metric + (x.is_max ? " <= " : " >= ") + x.text +
           " (got " + CheckValue(x, check.actual) + ")\n";
  }
  uint64_t events = 0;
  for (const DeploymentResult& d : report.deployments) events += d.events;
  char digest[32];
  std::snprintf(digest, sizeof(digest), "%016" PRIx64, report.digest);
  SimTime end{0};
  for (const DeploymentResult& d : report.deployments) end = std::max(end, d.end);
  out += std::string(report.failures == 0 ? "PASS" : "FAIL") + " " + c.file + ": " +
         Plural(report.deployments.size(), "deployment") + ", " +
         Plural(report.checks.size(), "check") + ", " + std::to_string(report.failures) +
         " failed; virtual time " + FormatDuration(end) + "; " + Plural(events, "event") +
         "; seed " + std::to_string(c.seed) + "; digest " + digest + "\n";
  return out;
}

std::string RenderLatencyCsv(const LatencyReport& report) {
  const LatencyConfig& c = report.config;
  std::string out =
      "deployment,region,requests,failed,p50_us,p95_us,p99_us,max_us,mean_us,over_budget,"
      "lag_p50_us,lag_p99_us,reads,stale_reads,writes,conflicting_pairs,rerouted_calls,"
      "writes_present\n";
  for (const DeploymentResult& d : report.deployments) {
    for (const RegionResult& r : d.regions) {
      char buf[512];
      std::snprintf(
          buf, sizeof(buf),
          "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
          ",%.3f,%" PRIu64 ",%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
          ",%" PRIu64 ",%" PRIu64 "\n",
          c.DeploymentName(d.deployment).c_str(), RegionName(c, r.region).c_str(), r.requests,
          r.failed, r.latency.Percentile(50).count(), r.latency.Percentile(95).count(),
          r.latency.Percentile(99).count(), r.latency.max().count(), r.latency.mean_us(),
          r.over_budget, r.lag.Percentile(50).count(), r.lag.Percentile(99).count(), r.reads,
          r.stale_reads, r.writes, r.conflicting_pairs, r.rerouted_calls, r.writes_present);
      out += buf;
    }
  }
  return out;
}

namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

}  // namespace

std::string RenderLatencySvg(const LatencyReport& report) {
  const LatencyConfig& c = report.config;
  const int n = static_cast<int>(c.regions.size());
  constexpr double kPanelW = 360, kPanelH = 260, kLeft = 60, kTop = 50, kGap = 40;
  constexpr double kPlotW = kPanelW - 30, kPlotH = kPanelH - 60;
  static constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                            "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  const double legend_h = 20.0 * static_cast<double>(report.deployments.size()) + 10;
  const double width = kLeft + n * (kPanelW + kGap);
  const double height = kTop + kPanelH + 40 + legend_h;
  // Log time axis from 0.1 ms to the next power of 10 above every max (at least 1 s).
  double top_ms = 1000;
  for (const DeploymentResult& d : report.deployments) {
    for (const RegionResult& r : d.regions) {
      top_ms = std::max(top_ms, static_cast<double>(r.latency.max().count()) / 1000.0);
    }
  }
  const double lo = -1, hi = std::ceil(std::log10(top_ms));
  auto x_of = [&](double ms) {
    const double v = std::clamp(std::log10(std::max(ms, 0.1)), lo, hi);
    return (v - lo) / (hi - lo) * kPlotW;
  };
  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(width) + "\" height=\"" +
       Num(height) + "\" viewBox=\"0 0 " + Num(width) + " " + Num(height) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + Num(kLeft) +
       "\" y=\"24\" font-size=\"16\">Request latency by region: " + XmlEscape(c.name) +
       " (cumulative fraction; dashed: " + XmlEscape(FormatDuration(c.budget)) +
       " budget; failed requests not drawn)</text>\n";
  for (int r = 0; r < n; ++r) {
    const double ox = kLeft + r * (kPanelW + kGap), oy = kTop;
    s += "<g transform=\"translate(" + Num(ox) + "," + Num(oy) + ")\">\n";
    s += "<text x=\"" + Num(kPlotW / 2) +
         "\" y=\"-6\" text-anchor=\"middle\" "
         "font-weight=\"bold\">" +
         XmlEscape(RegionName(c, r)) + "</text>\n";
    s += "<rect x=\"0\" y=\"0\" width=\"" + Num(kPlotW) + "\" height=\"" + Num(kPlotH) +
         "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double e = lo; e <= hi; e += 1) {
      const double x = (e - lo) / (hi - lo) * kPlotW;
      const double ms = std::pow(10.0, e);
      const std::string label = ms < 1 ? "0.1ms"
                                : ms >= 1000
                                    ? Num(ms / 1000).substr(0, Num(ms / 1000).size() - 2) + "s"
                                    : Num(ms).substr(0, Num(ms).size() - 2) + "ms";
      s += "<line x1=\"" + Num(x) + "\" y1=\"0\" x2=\"" + Num(x) + "\" y2=\"" + Num(kPlotH) +
           "\" stroke=\"#ddd\"/>\n";
      s += "<text x=\"" + Num(x) + "\" y=\"" + Num(kPlotH + 16) + "\" text-anchor=\"middle\">" +
           label + "</text>\n";
    }
    for (int q = 0; q <= 4; ++q) {
      const double y = kPlotH - q * kPlotH / 4;
      s += "<line x1=\"0\" y1=\"" + Num(y) + "\" x2=\"" + Num(kPlotW) + "\" y2=\"" + Num(y) +
           "\" stroke=\"#eee\"/>\n";
      s += "<text x=\"-6\" y=\"" + Num(y + 4) + "\" text-anchor=\"end\">" +
           (q == 0   ? "0"
            : q == 4 ? "1"
            : q == 2 ? "0.5"
            : q == 1 ? "0.25"
                     : "0.75") +
           "</text>\n";
    }
    const double bx = x_of(static_cast<double>(c.budget.count()) / 1000.0);
    s += "<line x1=\"" + Num(bx) + "\" y1=\"0\" x2=\"" + Num(bx) + "\" y2=\"" + Num(kPlotH) +
         "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n";
    s += "<text x=\"" + Num(kPlotW / 2) + "\" y=\"" + Num(kPlotH + 32) +
         "\" text-anchor=\"middle\">request latency (log scale)</text>\n";
    for (size_t di = 0; di < report.deployments.size(); ++di) {
      const RegionResult& rr = report.deployments[di].regions[static_cast<size_t>(r)];
      const auto cdf = rr.latency.Cdf();
      if (cdf.empty()) continue;
      // A step line; points closer than half a pixel are merged.
      std::string path = "M0," + Num(kPlotH);
      double last_x = -1, prev_y = kPlotH;
      for (size_t i = 0; i < cdf.size(); ++i) {
        const double x = x_of(static_cast<double>(cdf[i].first.count()) / 1000.0);
        const double y = kPlotH - cdf[i].second * kPlotH;
        if (x - last_x < 0.5 && i + 1 < cdf.size()) {
          continue;
        }
        path += " L" + Num(x) + "," + Num(prev_y) + " L" + Num(x) + "," + Num(y);
        prev_y = y;
        last_x = x;
      }
      path += " L" + Num(kPlotW) + "," + Num(prev_y);
      s += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + kColors[di % 8] +
           "\" stroke-width=\"2\"/>\n";
    }
    s += "</g>\n";
  }
  for (size_t di = 0; di < report.deployments.size(); ++di) {
    const double y = kTop + kPanelH + 30 + 20.0 * static_cast<double>(di);
    s += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y) + "\" x2=\"" + Num(kLeft + 30) +
         "\" y2=\"" + Num(y) + "\" stroke=\"" + kColors[di % 8] + "\" stroke-width=\"3\"/>\n";
    s += "<text x=\"" + Num(kLeft + 38) + "\" y=\"" + Num(y + 4) + "\">" +
         XmlEscape(c.DeploymentName(report.deployments[di].deployment)) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace cluster_sim
