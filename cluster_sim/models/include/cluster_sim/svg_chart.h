// Small SVG helpers shared by the models' charts (hot-key sweeps, anomaly rates): number
// and text formatting, tick steps, and a standalone line chart with optional error bars.
// Pure functions; deterministic (fixed decimals, no locale).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/xml.h"  // XmlEscape, for the charts' text

namespace cluster_sim {

std::string Num(double v, int decimals = 1);  // "%.*f"
// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks up to max.
double NiceStep(double max, int ticks);
// Tick labels without trailing zeros: 0, 0.5, 2, 2500.
std::string TickLabel(double v);

// A line chart: one polyline with markers per series, in series order, legend on the right.
// A point whose [lo, hi] differs from y gets a vertical error bar. Axes start at 0.
struct LineChart {
  struct Point {
    double x = 0, y = 0, lo = 0, hi = 0;
  };
  struct Series {
    std::string name;
    std::vector<Point> points;  // drawn in this order
  };
  std::string title, subtitle, x_label, y_label;
  std::vector<Series> series;
};
std::string RenderLineChartSvg(const LineChart& chart);

}  // namespace cluster_sim
