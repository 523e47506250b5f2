#include "cluster_sim/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace cluster_sim {

std::string Num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

double NiceStep(double max, int ticks) {
  const double raw = max / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string TickLabel(double v) {
  std::string s = Num(v, 3);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string RenderLineChartSvg(const LineChart& chart) {
  constexpr double kWidth = 860, kHeight = 460;
  constexpr double kLeft = 90, kRight = 290, kTop = 60, kBottom = 70;
  constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double x_max = 0, y_max = 0;
  for (const LineChart::Series& s : chart.series) {
    for (const LineChart::Point& p : s.points) {
      x_max = std::max(x_max, p.x);
      y_max = std::max({y_max, p.y, p.hi});
    }
  }
  if (!(x_max > 0)) x_max = 1;
  if (!(y_max > 0)) y_max = 1;
  const double x_step = NiceStep(x_max, 8), y_step = NiceStep(y_max, 5);
  x_max = std::ceil(x_max / x_step - 1e-9) * x_step;
  y_max = std::ceil(y_max / y_step - 1e-9) * y_step;
  auto px = [&](double x) { return kLeft + x / x_max * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - y / y_max * plot_h; };

  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth, 0) + "\" height=\"" +
       Num(kHeight, 0) + "\" viewBox=\"0 0 " + Num(kWidth, 0) + " " + Num(kHeight, 0) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + Num(kWidth / 2, 0) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
       XmlEscape(chart.title) + "</text>\n";
  o += "<text x=\"" + Num(kWidth / 2, 0) + "\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">" +
       XmlEscape(chart.subtitle) + "</text>\n";
  for (double v = 0; v <= y_max + y_step / 2; v += y_step) {
    o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(py(v)) + "\" x2=\"" + Num(kLeft + plot_w) +
         "\" y2=\"" + Num(py(v)) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + Num(kLeft - 8) + "\" y=\"" + Num(py(v) + 4) + "\" text-anchor=\"end\">" +
         TickLabel(v) + "</text>\n";
  }
  for (double v = 0; v <= x_max + x_step / 2; v += x_step) {
    o += "<line x1=\"" + Num(px(v)) + "\" y1=\"" + Num(kTop + plot_h) + "\" x2=\"" + Num(px(v)) +
         "\" y2=\"" + Num(kTop + plot_h + 5) + "\" stroke=\"black\"/>\n";
    o += "<text x=\"" + Num(px(v)) + "\" y=\"" + Num(kTop + plot_h + 20) +
         "\" text-anchor=\"middle\">" + TickLabel(v) + "</text>\n";
  }
  o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop) + "\" x2=\"" + Num(kLeft) + "\" y2=\"" +
       Num(kTop + plot_h) + "\" stroke=\"black\"/>\n";
  o += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop + plot_h) + "\" x2=\"" +
       Num(kLeft + plot_w) + "\" y2=\"" + Num(kTop + plot_h) + "\" stroke=\"black\"/>\n";
  o += "<text x=\"" + Num(kLeft + plot_w / 2) + "\" y=\"" + Num(kHeight - 22) +
       "\" text-anchor=\"middle\">" + XmlEscape(chart.x_label) + "</text>\n";
  o += "<text transform=\"translate(22 " + Num(kTop + plot_h / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(chart.y_label) + "</text>\n";
  double legend_y = kTop + 10;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const LineChart::Series& s = chart.series[i];
    const std::string color = kColors[i % std::size(kColors)];
    std::string line, marks;
    for (const LineChart::Point& p : s.points) {
      line += (line.empty() ? "" : " ") + Num(px(p.x)) + "," + Num(py(p.y));
      marks += "<circle cx=\"" + Num(px(p.x)) + "\" cy=\"" + Num(py(p.y)) + "\" r=\"3.5\" fill=\"" +
               color + "\"/>\n";
      if (p.lo != p.y || p.hi != p.y) {
        marks += "<line x1=\"" + Num(px(p.x)) + "\" y1=\"" + Num(py(p.lo)) + "\" x2=\"" +
                 Num(px(p.x)) + "\" y2=\"" + Num(py(p.hi)) + "\" stroke=\"" + color +
                 "\" opacity=\"0.6\"/>\n";
      }
    }
    o += "<polyline points=\"" + line + "\" fill=\"none\" stroke=\"" + color +
         "\" stroke-width=\"2\"/>\n" + marks;
    const double lx = kLeft + plot_w + 20;
    o += "<line x1=\"" + Num(lx) + "\" y1=\"" + Num(legend_y) + "\" x2=\"" + Num(lx + 26) +
         "\" y2=\"" + Num(legend_y) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
    o += "<text x=\"" + Num(lx + 32) + "\" y=\"" + Num(legend_y + 4) + "\">" + XmlEscape(s.name) +
         "</text>\n";
    legend_y += 20;
  }
  o += "</svg>\n";
  return o;
}

}  // namespace cluster_sim
