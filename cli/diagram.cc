#include "diagram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "cluster_sim/plural.h"
#include "report.h"

namespace aasim {

using cluster_sim::FormatDuration;
using cluster_sim::RunReport;
using cluster_sim::SimTime;
using cluster_sim::StepReport;
using Outcome = MessageRecord::Outcome;

namespace {

constexpr double kTitleH = 62;     // title and subtitle
constexpr double kHeaderH = 34;    // lane names
constexpr double kMinGutter = 92;  // left: step number and time
constexpr double kLaneGap = 230;   // between two lanes
constexpr double kRow = 26;        // least distance between two steps' rows
constexpr double kBreak = 34;      // height of a compressed stretch
constexpr double kTypicalPx = 56;  // height of a typical message's flight
constexpr double kMaxActivePx = 1800;
constexpr double kCharW = 6.3;      // average glyph width at 11px
constexpr double kBundleBand = 90;  // bundles: messages sent within this many pixels
constexpr size_t kLabelMax = 46;
constexpr size_t kMaxBreaks = 40;  // characters of a step's label
constexpr size_t kLabelArrowsMax = 60;
constexpr double kZoomOverPx = kTypicalPx;  // zoom a heal's stretch drawn shorter than this
constexpr double kZoomMaxPx = 640;          // the tallest zoom
constexpr double kZoomHead = 50;            // a zoom's title and lane names
constexpr size_t kMaxZooms = 4;

std::string Num(double v) { return fmt::format("{:.1f}", v); }

std::string Cut(std::string s, size_t max) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

// An instant of the diagram: virtual time, then the step running (several steps can run
// at one virtual instant; each gets its own row).
struct Key {
  int64_t t;
  int k;
  bool operator<(const Key& o) const { return std::tie(t, k) < std::tie(o.t, o.k); }
  bool operator==(const Key& o) const { return t == o.t && k == o.k; }
};

struct Break {
  double y0, y1;
  int64_t skipped_us;
};

// Maps instants to heights: linear in virtual time, a stretch longer than `gap_us` without
// any instant is drawn as a fixed-height break, and step rows keep kRow apart.
class TimeMap {
 public:
  void Add(Key key, bool row) { points_.push_back({key, row, 0}); }

  // Sorts and merges the instants; returns the gaps between consecutive ones, largest first.
  std::vector<int64_t> Gaps() {
    std::sort(points_.begin(), points_.end(),
              [](const Point& a, const Point& b) { return a.key < b.key; });
    std::vector<Point> merged;
    for (const Point& p : points_) {
      if (!merged.empty() && merged.back().key == p.key) {
        merged.back().row = merged.back().row || p.row;
      } else {
        merged.push_back(p);
      }
    }
    points_ = std::move(merged);
    std::vector<int64_t> gaps;
    for (size_t i = 1; i < points_.size(); ++i) {
      const int64_t dt = points_[i].key.t - points_[i - 1].key.t;
      if (dt > 0) gaps.push_back(dt);
    }
    std::sort(gaps.rbegin(), gaps.rend());
    return gaps;
  }

  // REQUIRES: Gaps() was called since the last Add. `scale` pixels per microsecond; a gap
  // longer than `break_over` microseconds is drawn kBreak high.
  void Layout(double top, double scale, int64_t break_over) {
    breaks_.clear();
    double y = top, last_row = top - kRow;
    for (size_t i = 0; i < points_.size(); ++i) {
      if (i > 0) {
        const int64_t dt = points_[i].key.t - points_[i - 1].key.t;
        if (dt > break_over) {
          breaks_.push_back({y, y + kBreak, dt});
          y += kBreak;
        } else {
          y += static_cast<double>(dt) * scale;
        }
      }
      if (points_[i].row) {
        y = std::max(y, last_row + kRow);
        last_row = y;
      }
      points_[i].y = y;
    }
    bottom_ = y;
  }

  // The height of an instant: exact for added ones, interpolated in time between others.
  double Y(Key key) const {
    if (points_.empty()) return bottom_;
    auto it = std::lower_bound(points_.begin(), points_.end(), key,
                               [](const Point& p, const Key& k) { return p.key < k; });
    if (it == points_.end()) return points_.back().y;
    if (it->key == key || it == points_.begin()) return it->y;
    const Point& a = *(it - 1);
    const Point& b = *it;
    if (b.key.t == a.key.t) return b.y;
    const double f = static_cast<double>(key.t - a.key.t) / static_cast<double>(b.key.t - a.key.t);
    return a.y + f * (b.y - a.y);
  }

  double bottom() const { return bottom_; }
  const std::vector<Break>& breaks() const { return breaks_; }

 private:
  struct Point {
    Key key;
    bool row;
    double y;
  };
  std::vector<Point> points_;
  std::vector<Break> breaks_;
  double bottom_ = 0;
};

// How a message is drawn.
struct Style {
  const char* name;
  const char* color;
  const char* width;
  const char* dash;  // "" for solid
};

const Style& StyleOf(const MessageRecord& m) {
  static const Style kEffects{"effects", "#1f5fa8", "1.6", ""};
  static const Style kResend{"resend", "#d95f02", "1.8", "7 3"};
  static const Style kFull{"full", "#7b3294", "3.2", ""};
  static const Style kAck{"ack", "#8c8c8c", "0.9", ""};
  static const Style kProbe{"probe", "#8c8c8c", "1.1", "2 3"};
  static const Style kSyncRequest{"syncreq", "#7b3294", "1.4", "2 3"};
  static const Style kOther{"other", "#444444", "1.2", ""};
  if (m.kind == "effects") return m.retransmit ? kResend : kEffects;
  if (m.kind == "full_state") return kFull;
  if (m.kind == "ack") return kAck;
  if (m.kind == "probe") return kProbe;
  if (m.kind == "sync_request") return kSyncRequest;
  return kOther;
}

// The step's label on its row.
std::string StepLabel(const StepReport& s) {
  if (s.operation == "note") return "note: " + (s.notes.empty() ? "" : s.notes[0]);
  std::string label = s.operation;
  if (s.reply) label += " -> " + ReplyText(s);
  for (const std::string& note : s.notes) label += "  (" + note + ")";
  return label;
}

// The verdict's text: "ok" or "FAIL ...", then the key's value in every region.
std::string CheckText(const RunReport& r, const StepReport& s) {
  std::string text;
  if (s.verdict == StepReport::Verdict::kFail) {
    text = "FAIL";
    const size_t at = s.failure.find(": ");
    if (at != std::string::npos) text += ": " + s.failure.substr(at + 2);
  } else {
    text = "ok";
  }
  if (!s.key.empty()) {
    text += "   " + s.key + ":";
    for (size_t i = 0; i < r.regions.size() && i < s.values.size(); ++i) {
      text += " " + r.regions[i] + "=" + Cut(s.values[i], 24);
    }
  }
  return Cut(text, 110);
}

bool IsLocal(const StepReport& s) { return !s.region.empty(); }

int LaneOf(const RunReport& r, const std::string& region) {
  for (size_t i = 0; i < r.regions.size(); ++i) {
    if (r.regions[i] == region) return static_cast<int>(i);
  }
  return 0;
}

}  // namespace

std::string RenderDiagramSvg(const RunReport& r, const RunRecord& rec,
                             const DiagramOptions& options) {
  const int n = static_cast<int>(r.regions.size());
  const int steps = static_cast<int>(r.steps.size());
  size_t longest_time = 0;
  for (const StepReport& s : r.steps) {
    longest_time = std::max(longest_time, FormatDuration(s.time).size());
  }
  const double gutter = std::max(kMinGutter, 40 + static_cast<double>(longest_time) * kCharW + 24);
  auto lane_x = [&](int i) { return gutter + 70 + i * kLaneGap; };
  auto step_key = [&](int k) { return Key{r.steps[k].time.count(), k}; };
  auto start_key = [&](int k) {
    const int64_t start = k < static_cast<int>(rec.steps.size()) ? rec.steps[k].start.count()
                                                                 : r.steps[k].time.count();
    return Key{start, k};
  };

  // ---- vertical layout ----
  TimeMap map;
  for (int k = 0; k < steps; ++k) {
    map.Add(step_key(k), true);
    map.Add(start_key(k), false);
  }
  std::vector<int64_t> flights;
  for (const MessageRecord& m : rec.messages) {
    map.Add({m.sent.count(), m.sent_step}, false);
    map.Add({m.ended.count(), m.end_step}, false);
    if (!Dropped(m.outcome) && m.outcome != Outcome::kInFlight && m.ended > m.sent) {
      flights.push_back((m.ended - m.sent).count());
    }
  }
  int64_t typical = 50'000;
  if (!flights.empty()) {
    std::nth_element(flights.begin(), flights.begin() + flights.size() / 2, flights.end());
    typical = std::max<int64_t>(flights[flights.size() / 2], 1);
  }
  const double top = kTitleH + kHeaderH + 18;
  // Time scale and breaks: the K longest gaps (each longer than a few typical flights, at
  // most kMaxBreaks) are drawn as breaks, the rest linearly; K is the one that leaves the
  // most pixels per microsecond within kMaxActivePx (a typical flight never taller than
  // kTypicalPx).
  const std::vector<int64_t> gaps = map.Gaps();
  const int64_t idle = typical * 6;
  int64_t total = 0;
  for (int64_t g : gaps) total += g;
  const double finest = kTypicalPx / static_cast<double>(typical);
  double scale = 0;
  int64_t break_over = std::numeric_limits<int64_t>::max();
  int64_t broken = 0;
  for (size_t k = 0; k <= std::min(gaps.size(), kMaxBreaks); ++k) {
    if (k > 0) {
      if (gaps[k - 1] <= idle) break;
      broken += gaps[k - 1];
    }
    const double budget = kMaxActivePx - static_cast<double>(k) * kBreak;
    const int64_t linear = total - broken;
    const double s = linear > 0 ? std::min(finest, budget / static_cast<double>(linear)) : finest;
    if (s > scale * 1.05) {
      scale = s;
      // Exactly the k longest (ties at the boundary stay linear).
      break_over = k == 0 ? std::numeric_limits<int64_t>::max()
                          : std::max(idle, k < gaps.size() ? gaps[k] : int64_t{0});
    }
  }
  map.Layout(top, scale, break_over);
  const double bottom = map.bottom() + 24;

  // Zooms: what follows a heal (its resends and full syncs, up to the next step that ends
  // later) is often a few hundred milliseconds in a run of an hour, squeezed to a few
  // pixels. Each such stretch is drawn again below the diagram at the scale of a typical
  // flight (at most kZoomMaxPx tall), with every message it sent.
  struct Zoom {
    int step;                                // the heal
    Key from, to;                            // the stretch
    std::vector<const MessageRecord*> msgs;  // every message sent in it
    std::vector<int> rows;                   // its steps
    TimeMap map;
    double scale = 0, top = 0, bottom = 0;
  };
  std::vector<Zoom> zooms;
  double below = bottom;  // the top of the next zoom, then of the legend
  for (int k = 0; k < steps && zooms.size() < kMaxZooms; ++k) {
    if (r.steps[k].operation.rfind("heal", 0) != 0) continue;
    Zoom z;
    z.step = k;
    z.from = step_key(k);
    int j = k + 1;
    while (j < steps && r.steps[j].time <= r.steps[k].time) ++j;
    z.to = j < steps ? step_key(j) : Key{z.from.t + idle, steps};
    if (map.Y(z.to) - map.Y(z.from) >= kZoomOverPx) continue;
    for (const MessageRecord& m : rec.messages) {
      const Key sent{m.sent.count(), m.sent_step};
      if (sent < z.from || z.to < sent) continue;
      z.msgs.push_back(&m);
      z.map.Add(sent, false);
      z.map.Add({m.ended.count(), m.end_step}, false);
    }
    if (z.msgs.empty()) continue;
    for (int i = k; i < steps && !(z.to < step_key(i)); ++i) {
      z.rows.push_back(i);
      z.map.Add(step_key(i), true);
    }
    int64_t span = 0;
    for (int64_t g : z.map.Gaps()) span += g;
    z.scale = span > 0 ? std::min(finest, kZoomMaxPx / static_cast<double>(span)) : finest;
    z.top = below + 8;
    z.map.Layout(z.top + kZoomHead, z.scale, std::numeric_limits<int64_t>::max());
    z.bottom = z.map.bottom() + 30;
    below = z.bottom;
    zooms.push_back(std::move(z));
  }

  // ---- horizontal layout ----
  double x_check = lane_x(n - 1) + 90;
  double right = x_check;
  for (int k = 0; k < steps; ++k) {
    const StepReport& s = r.steps[k];
    const int lane = IsLocal(s) ? LaneOf(r, s.region) : 0;
    const double end =
        lane_x(lane) + 12 + static_cast<double>(Cut(StepLabel(s), kLabelMax).size()) * kCharW;
    if (s.operation != "note") x_check = std::max(x_check, end + 18);
  }
  for (int k = 0; k < steps; ++k) {
    const StepReport& s = r.steps[k];
    if (s.verdict != StepReport::Verdict::kNone) {
      right = std::max(right, x_check + static_cast<double>(CheckText(r, s).size()) * kCharW);
    }
    if (s.operation == "note") {
      right = std::max(
          right, lane_x(0) + 12 + static_cast<double>(Cut(StepLabel(s), 110).size()) * kCharW);
    }
  }
  const double legend_h = 64;
  const double width = std::max(right + 24, 940.0);
  const double height = below + legend_h;

  std::string o;
  if (options.standalone) o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"aasim-diagram\" width=\"{0}\" "
      "height=\"{1}\" viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" "
      "font-size=\"11\" role=\"img\" aria-labelledby=\"diagram-title\">\n",
      Num(width), Num(height));
  o += fmt::format("<title id=\"diagram-title\">Space-time diagram: {}</title>\n",
                   XmlEscape(r.name));
  o += "<style>.h{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
       ".step .hlbg{fill:none}</style>\n";
  o += "<defs>\n";
  o += "<pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"#fbe3e0\"/>"
       "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#e08a80\" stroke-width=\"2.5\"/>"
       "</pattern>\n";
  for (const char* style : {"effects", "resend", "full", "ack", "probe", "syncreq", "other"}) {
    MessageRecord probe;
    probe.kind = std::string(style) == "resend"    ? "effects"
                 : std::string(style) == "full"    ? "full_state"
                 : std::string(style) == "syncreq" ? "sync_request"
                                                   : style;
    probe.retransmit = std::string(style) == "resend";
    const Style& st = StyleOf(probe);
    o += fmt::format(
        "<marker id=\"ah-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
        "markerHeight=\"7\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0 L10,5 "
        "L0,10 z\" fill=\"{}\"/></marker>\n",
        st.name, st.color);
  }
  o += "<marker id=\"ah-discarded\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" "
       "markerWidth=\"8\" markerHeight=\"8\" markerUnits=\"userSpaceOnUse\"><circle cx=\"5\" "
       "cy=\"5\" r=\"4\" fill=\"#fff\" stroke=\"#555\" stroke-width=\"1.5\"/></marker>\n";
  o += "</defs>\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";

  // ---- title ----
  const int passed = r.expectations - r.failures;
  o += fmt::format("<text x=\"16\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                   XmlEscape(r.name));
  o += fmt::format(
      "<text x=\"16\" y=\"46\" fill=\"#444\">{} · seed {} · virtual time {} · {} · "
      "{} of {} expectations held · digest {}</text>\n",
      XmlEscape(r.file), r.seed, FormatDuration(r.end_time),
      cluster_sim::Plural(rec.messages.size(), "message"), passed, r.expectations,
      cluster_sim::FormatDigest(r.digest));
  o += fmt::format("<text x=\"8\" y=\"{}\" fill=\"#666\">step</text>", Num(kTitleH + 22));
  o += fmt::format("<text x=\"40\" y=\"{}\" fill=\"#666\">time</text>\n", Num(kTitleH + 22));

  // ---- partitions: hatched bands between neighbouring lanes while their link is cut ----
  const int recorded = std::min(steps, static_cast<int>(rec.steps.size()));
  for (int i = 0; i + 1 < n; ++i) {
    const size_t link = static_cast<size_t>(i * n + i + 1);
    int begin = -1;
    for (int k = 0; k <= recorded; ++k) {
      const bool cut = k < recorded && rec.steps[k].cut[link];
      if (cut && begin < 0) begin = k;
      if (!cut && begin >= 0) {
        const double y0 = map.Y(step_key(begin));
        const double y1 = k < recorded ? map.Y(step_key(k)) : bottom;
        const double x0 = lane_x(i) + 6, x1 = lane_x(i + 1) - 6;
        o += fmt::format(
            "<g class=\"partition\"><title>{} and {} partitioned</title><rect x=\"{}\" "
            "y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#hatch)\" fill-opacity=\"0.55\"/>"
            "</g>\n",
            XmlEscape(r.regions[i]), XmlEscape(r.regions[i + 1]), Num(x0), Num(y0), Num(x1 - x0),
            Num(std::max(y1 - y0, 2.0)));
        begin = -1;
      }
    }
  }

  // ---- lanes: solid while up, dashed while down ----
  for (int i = 0; i < n; ++i) {
    const double x = lane_x(i);
    o += fmt::format(
        "<g class=\"lane\" data-region=\"{0}\"><rect x=\"{1}\" y=\"{2}\" width=\"{3}\" "
        "height=\"22\" rx=\"4\" fill=\"#eef2f7\" stroke=\"#44546a\"/><text x=\"{4}\" y=\"{5}\" "
        "text-anchor=\"middle\" font-weight=\"bold\" font-size=\"13\">{0}</text>",
        XmlEscape(r.regions[i]), Num(x - 50), Num(kTitleH + 6), Num(100.0), Num(x),
        Num(kTitleH + 22));
    double y = kTitleH + 28;
    bool alive = true;
    auto segment = [&](double y1) {
      if (y1 <= y) return;
      o += fmt::format(
          "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" "
          "stroke-width=\"{4}\"{5}/>",
          Num(x), Num(y), Num(y1), alive ? "#44546a" : "#b0b0b0", alive ? "2" : "2",
          alive ? "" : " stroke-dasharray=\"6 4\"");
      y = y1;
    };
    for (int k = 0; k < recorded; ++k) {
      const bool now = rec.steps[k].alive[i];
      if (now != alive) {
        segment(map.Y(step_key(k)));
        alive = now;
      }
    }
    segment(bottom);
    o += "</g>\n";
  }

  // ---- compressed stretches ----
  for (const Break& b : map.breaks()) {
    const double mid = (b.y0 + b.y1) / 2;
    o += fmt::format(
        "<g class=\"break\"><rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" "
        "fill=\"#fff\" fill-opacity=\"0.85\"/>",
        Num(gutter), Num(b.y0 + 4), Num(lane_x(n - 1) - gutter + 60), Num(b.y1 - b.y0 - 8));
    for (double dy : {-5.0, 5.0}) {
      std::string d;
      for (double x = gutter; x <= lane_x(n - 1) + 60; x += 12) {
        d += fmt::format("{}{},{} ", d.empty() ? "M" : "L", Num(x),
                         Num(mid + dy + (static_cast<int>((x - gutter) / 12) % 2 ? 3 : -3)));
      }
      o += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#999\" stroke-width=\"1\"/>", d);
    }
    o += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\" font-style=\"italic\" "
        "class=\"h\">{} later (compressed)</text></g>\n",
        Num((gutter + lane_x(n - 1) + 60) / 2), Num(mid + 4),
        FormatDuration(SimTime(b.skipped_us)));
  }

  // ---- steps that take time: a bracket from their start to their end ----
  for (int k = 0; k < steps; ++k) {
    const double y0 = map.Y(start_key(k)), y1 = map.Y(step_key(k));
    if (y1 - y0 < 4) continue;
    const double x = gutter + 18;
    o += fmt::format(
        "<path class=\"span\" d=\"M{0},{1} L{2},{1} L{2},{3} L{0},{3}\" fill=\"none\" "
        "stroke=\"#777\" stroke-width=\"1.2\"/>\n",
        Num(x + 6), Num(y0), Num(x), Num(y1));
  }

  // ---- messages ----
  // Drawn on the main time map, then on each zoom's: `mp`, `msc` and `mcls` say which
  // (a zoom's shapes are class "zmsg", so that "msg" shapes count every message once).
  const TimeMap* mp = &map;
  double msc = scale;
  std::string mcls = "msg";
  bool label_arrows = false;
  auto msg_title = [&](const MessageRecord& m, const std::string& prefix) {
    std::string t = prefix + r.regions[m.from] + " -> " + r.regions[m.to] + ": " + m.what +
                    (m.what.empty() ? m.kind : "") + ", " + std::to_string(m.bytes) + " B, sent " +
                    FormatDuration(m.sent);
    switch (m.outcome) {
      case Outcome::kDelivered:
        t += ", delivered " + FormatDuration(m.ended);
        break;
      case Outcome::kDiscarded:
        t += ", arrived " + FormatDuration(m.ended) + " and was discarded (region down)";
        break;
      case Outcome::kLost:
        t += ", lost";
        break;
      case Outcome::kCut:
        t += ", dropped: link cut";
        break;
      case Outcome::kCutInFlight:
        t += ", dropped " + FormatDuration(m.ended) + ": link cut in flight";
        break;
      case Outcome::kInFlight:
        t += ", still in flight at the end";
        break;
    }
    if (m.retransmit) t += " (retransmission)";
    if (m.duplicate) t += " (duplicate copy)";
    return "<title>" + XmlEscape(t) + "</title>";
  };
  auto cross_at = [&](const MessageRecord& m, double* x, double* y) {
    const double x0 = lane_x(m.from), x1 = lane_x(m.to);
    const double y0 = mp->Y({m.sent.count(), m.sent_step});
    const double f = m.outcome == Outcome::kCut ? 0.3 : 0.5;
    *x = x0 + (x1 - x0) * f;
    if (m.outcome == Outcome::kCutInFlight) {
      *y = mp->Y({m.ended.count(), m.end_step});
      *x = x0 + (x1 - x0) * 0.8;
    } else {
      *y = y0 + std::clamp(static_cast<double>(m.link_latency.count()) * msc * f, 8.0, 40.0);
    }
  };
  auto cross_path = [&](double x, double y) {
    return fmt::format(
        "<path d=\"M{0},{1} L{2},{3} M{0},{3} L{2},{1}\" stroke=\"#d7191c\" "
        "stroke-width=\"2.4\"/>",
        Num(x - 5), Num(y - 5), Num(x + 5), Num(y + 5));
  };
  std::set<std::tuple<int, int64_t, int, bool, std::string>> arrow_labels;
  std::map<std::tuple<int, int64_t, int, bool>, int> label_stack;
  // A short label by the sender's end of an arrow, on the side the arrow leaves to.
  auto ArrowLabel = [&](const MessageRecord& m, double x0, double y0, double x1, double y1,
                        const Style& st) {
    std::string text = m.what.empty() ? m.kind : m.what;
    if (text.rfind("effect #", 0) == 0) text = text.substr(7);
    if (text.rfind("effects #", 0) == 0) text = text.substr(8);
    if (m.kind == "effects") text = (m.retransmit ? "resend " : "effect ") + text;
    if (m.kind == "full_state") {
      text = "full sync " + std::to_string(m.bytes) + " B";
    }
    if (m.kind == "sync_request") text = "sync request";
    const double f = 0.12;
    const bool rightward = x1 > x0;
    // Copies of one effect to several peers leave together: one label for them; other
    // messages leaving the same point stack their labels.
    if (!arrow_labels.insert({m.from, m.sent.count(), m.sent_step, rightward, text}).second) {
      return;
    }
    const double stack = 10.0 * label_stack[{m.from, m.sent.count(), m.sent_step, rightward}]++;
    o += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"9.5\" fill=\"{}\" text-anchor=\"{}\" "
        "class=\"h\">{}</text>\n",
        Num(x0 + (x1 - x0) * f + (rightward ? 2 : -2)), Num(y0 + (y1 - y0) * f + 11 + stack),
        st.color, rightward ? "start" : "end", XmlEscape(text));
  };
  auto single = [&](const MessageRecord& m) {
    const Style& st = StyleOf(m);
    const double x0 = lane_x(m.from), x1 = lane_x(m.to);
    const double y0 = mp->Y({m.sent.count(), m.sent_step});
    const std::string dash = *st.dash ? fmt::format(" stroke-dasharray=\"{}\"", st.dash) : "";
    if (Dropped(m.outcome)) {
      double cx, cy;
      cross_at(m, &cx, &cy);
      o += fmt::format(
          "<g class=\"{} cross {}\" data-count=\"1\" data-id=\"{}\"><line x1=\"{}\" y1=\"{}\" "
          "x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>{}{}</g>\n",
          mcls, st.name, m.id, Num(x0), Num(y0), Num(cx), Num(cy), st.color, st.width, dash,
          cross_path(cx, cy), msg_title(m, ""));
      if (label_arrows && m.kind != "ack") ArrowLabel(m, x0, y0, cx, cy, st);
      return;
    }
    const double y1 = mp->Y({m.ended.count(), m.end_step});
    const bool in_flight = m.outcome == Outcome::kInFlight;
    const char* marker = m.outcome == Outcome::kDiscarded ? "discarded" : st.name;
    o += fmt::format(
        "<line class=\"{} {} {}\" data-count=\"1\" data-id=\"{}\" x1=\"{}\" y1=\"{}\" "
        "x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}{}>{}</line>\n",
        mcls, in_flight ? "inflight" : "arrow", st.name, m.id, Num(x0), Num(y0), Num(x1), Num(y1),
        st.color, st.width, in_flight ? " stroke-dasharray=\"2 4\"" : dash,
        in_flight ? "" : fmt::format(" marker-end=\"url(#ah-{})\"", marker), msg_title(m, ""));
    if (label_arrows && m.kind != "ack") ArrowLabel(m, x0, y0, x1, y1, st);
  };
  // `msgs` on the current map; bundles when there are more than bundle_over, labels when
  // there are few; bands of kBundleBand pixels from `band_top`.
  auto draw_messages = [&](const std::vector<const MessageRecord*>& msgs, double band_top) {
    const bool bundle = msgs.size() > options.bundle_over;
    size_t labelled = 0;
    for (const MessageRecord* m : msgs) labelled += m->kind != "ack" ? 1 : 0;
    label_arrows = !bundle && labelled <= kLabelArrowsMax;
    arrow_labels.clear();
    label_stack.clear();
    if (!bundle) {
      for (const MessageRecord* m : msgs) single(*m);
    } else {
      // Bundles: by band of send heights, link, style (every dropped message of a band and
      // link makes one cross) and outcome, in a deterministic order.
      std::map<std::tuple<int, int, std::string, int>, std::vector<const MessageRecord*>> groups;
      for (const MessageRecord* mr : msgs) {
        const MessageRecord& m = *mr;
        const bool dropped = Dropped(m.outcome);
        const int shape = dropped                            ? 1
                          : m.outcome == Outcome::kInFlight  ? 2
                          : m.outcome == Outcome::kDiscarded ? 3
                                                             : 0;
        const int band =
            static_cast<int>((mp->Y({m.sent.count(), m.sent_step}) - band_top) / kBundleBand);
        groups[{band, m.from * n + m.to, dropped ? "dropped" : StyleOf(m).name, shape}].push_back(
            &m);
      }
      for (const auto& [key, members] : groups) {
        if (members.size() == 1) {
          single(*members[0]);
          continue;
        }
        const MessageRecord& first = *members[0];
        const Style& st = StyleOf(first);
        const double x0 = lane_x(first.from), x1 = lane_x(first.to);
        double s_sum = 0, e_sum = 0, s0 = 1e18, s1 = -1e18, e0 = 1e18, e1 = -1e18;
        SimTime t0 = first.sent, t1 = first.sent;
        uint64_t bytes = 0;
        std::map<std::string, size_t> kinds;
        for (const MessageRecord* m : members) {
          const double ys = mp->Y({m->sent.count(), m->sent_step});
          double ye;
          if (Dropped(m->outcome)) {
            double cx;
            cross_at(*m, &cx, &ye);
          } else {
            ye = mp->Y({m->ended.count(), m->end_step});
          }
          s0 = std::min(s0, ys);
          s1 = std::max(s1, ys);
          e0 = std::min(e0, ye);
          e1 = std::max(e1, ye);
          s_sum += ys;
          e_sum += ye;
          t0 = std::min(t0, m->sent);
          t1 = std::max(t1, m->sent);
          bytes += m->bytes;
          kinds[StyleOf(*m).name]++;
        }
        const size_t count = members.size();
        const double ys = s_sum / static_cast<double>(count);
        const double ye = e_sum / static_cast<double>(count);
        std::string what;
        for (const auto& [kind, c] : kinds)
          what += fmt::format("{}{} {}", what.empty() ? "" : ", ", c, kind);
        const std::string title =
            fmt::format("<title>{} messages {} -> {} ({}), {} B, sent {} to {}{}</title>", count,
                        XmlEscape(r.regions[first.from]), XmlEscape(r.regions[first.to]), what,
                        bytes, FormatDuration(t0), FormatDuration(t1),
                        Dropped(first.outcome)                 ? ", all dropped (lost or cut)"
                        : first.outcome == Outcome::kInFlight  ? ", still in flight at the end"
                        : first.outcome == Outcome::kDiscarded ? ", discarded on arrival"
                                                               : "");
        if (Dropped(first.outcome)) {
          double cx, cy;
          cross_at(first, &cx, &cy);
          cy = ye;
          o += fmt::format(
              "<g class=\"{} cross bundle\" data-count=\"{}\"><line x1=\"{}\" y1=\"{}\" "
              "x2=\"{}\" y2=\"{}\" stroke=\"#c77\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
              "{}<text x=\"{}\" y=\"{}\" fill=\"#d7191c\" font-size=\"10\" text-anchor=\"middle\" "
              "class=\"h\">{}</text>{}</g>\n",
              mcls, count, Num(x0), Num(ys), Num(cx), Num(cy), cross_path(cx, cy), Num(cx),
              Num(cy + 16), count, title);
          continue;
        }
        const bool in_flight = first.outcome == Outcome::kInFlight;
        const char* marker = first.outcome == Outcome::kDiscarded ? "discarded" : st.name;
        const double stroke = std::min(2.0 + std::log2(static_cast<double>(count)), 8.0);
        const bool rightward = x1 > x0;
        o += fmt::format(
            "<g class=\"{} {} bundle {}\" data-count=\"{}\"><polygon points=\"{},{} {},{} {},{} "
            "{},{}\" fill=\"{}\" fill-opacity=\"0.06\"/><line x1=\"{}\" y1=\"{}\" x2=\"{}\" "
            "y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\" stroke-opacity=\"0.75\"{}{}/>"
            "<text x=\"{}\" y=\"{}\" font-size=\"9.5\" fill=\"{}\" text-anchor=\"{}\" "
            "class=\"h\">{} {}</text>{}</g>\n",
            mcls, in_flight ? "inflight" : "arrow", st.name, count, Num(x0), Num(s0), Num(x1),
            Num(e0), Num(x1), Num(e1 + 1), Num(x0), Num(s1 + 1), st.color, Num(x0), Num(ys),
            Num(x1), Num(ye), st.color, Num(stroke), in_flight ? " stroke-dasharray=\"2 4\"" : "",
            in_flight ? "" : fmt::format(" marker-end=\"url(#ah-{})\"", marker),
            Num(x0 + (x1 - x0) * 0.1 + (rightward ? 2 : -2)), Num(ys + (ye - ys) * 0.1 - 4),
            st.color, rightward ? "start" : "end", count, st.name, title);
      }
    }
  };
  std::vector<const MessageRecord*> all;
  for (const MessageRecord& m : rec.messages) all.push_back(&m);
  draw_messages(all, top);

  // ---- steps ----
  for (int k = 0; k < steps; ++k) {
    const StepReport& s = r.steps[k];
    const double y = map.Y(step_key(k));
    const bool local = IsLocal(s);
    const int lane = local ? LaneOf(r, s.region) : 0;
    const double x = lane_x(lane);
    std::string label = StepLabel(s);
    o += fmt::format("<g class=\"step\" id=\"step-{0}\" data-step=\"{0}\"><title>{1}</title>",
                     s.number,
                     XmlEscape(std::to_string(s.number) + " at " + FormatDuration(s.time) + ": " +
                               (local ? s.region + ": " : "") + label));
    o += fmt::format("<rect class=\"hlbg\" x=\"2\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>",
                     Num(y - kRow / 2 + 1), Num(width - 4), Num(kRow - 2));
    o += fmt::format(
        "<text x=\"8\" y=\"{0}\" fill=\"#666\">{1}</text>"
        "<text x=\"40\" y=\"{0}\" fill=\"#666\">{2}</text>",
        Num(y + 4), s.number, FormatDuration(s.time));
    const char* verdict_color = s.verdict == StepReport::Verdict::kFail   ? "#d7191c"
                                : s.verdict == StepReport::Verdict::kPass ? "#1a9641"
                                                                          : "#333";
    const std::string& op = s.operation;
    const bool crash = op.rfind("crash ", 0) == 0 && local && s.output.empty() && !s.reply;
    const bool restart = op.rfind("restart ", 0) == 0 && local && s.output.empty() && !s.reply;
    double label_x = lane_x(0) + 12;
    const char* label_color = "#222";
    std::string label_style;
    if (crash) {
      o += fmt::format(
          "<path d=\"M{0},{1} L{2},{3} M{0},{3} L{2},{1}\" stroke=\"#d7191c\" "
          "stroke-width=\"4\"/>",
          Num(x - 8), Num(y - 8), Num(x + 8), Num(y + 8));
      label = "CRASH " + label.substr(6);
      label_x = x + 14;
      label_color = "#b2182b";
      label_style = " font-weight=\"bold\"";
    } else if (restart) {
      o += fmt::format(
          "<path d=\"M{},{} L{},{} L{},{} z\" fill=\"#1a9641\" stroke=\"#fff\" "
          "stroke-width=\"1\"/>",
          Num(x - 8), Num(y + 7), Num(x + 8), Num(y + 7), Num(x), Num(y - 8));
      label = "RESTART " + label.substr(8);
      label_x = x + 14;
      label_color = "#1a7a3a";
      label_style = " font-weight=\"bold\"";
    } else if (local) {
      o += fmt::format(
          "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
          Num(x), Num(y), s.verdict == StepReport::Verdict::kFail ? "7" : "5.5", verdict_color);
      label_x = x + 12;
    } else if (op.rfind("partition", 0) == 0 || op.rfind("heal", 0) == 0) {
      const bool part = op[0] == 'p';
      label = part ? "PARTITION " + label.substr(10) : "HEAL " + label.substr(5);
      const double gap0 = label_x - 4;
      const double gap1 = label_x + 4 + static_cast<double>(label.size()) * kCharW * 1.1;
      for (auto [a, b] : {std::pair{lane_x(0) - 20, gap0}, std::pair{gap1, lane_x(n - 1) + 20}}) {
        if (b <= a) continue;
        o += fmt::format(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\" "
            "stroke-dasharray=\"8 4\"/>",
            Num(a), Num(y), Num(b), Num(y), part ? "#d7191c" : "#1a9641");
      }
      label_color = part ? "#b2182b" : "#1a7a3a";
      label_style = " font-weight=\"bold\"";
    } else if (op.rfind("converged", 0) == 0) {
      for (int i = 0; i < n; ++i) {
        o += fmt::format(
            "<path d=\"M{0},{1} L{2},{3} L{0},{4} L{5},{3} z\" fill=\"{6}\" stroke=\"#fff\"/>",
            Num(lane_x(i)), Num(y - 6), Num(lane_x(i) + 6), Num(y), Num(y + 6), Num(lane_x(i) - 6),
            verdict_color);
      }
    } else if (op == "note") {
      label_color = "#555";
      label_style = " font-style=\"italic\"";
    } else {
      // sync, wait, at, load, check: a square at the gutter's bracket.
      o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"{}\"/>",
                       Num(gutter + 14), Num(y - 4), verdict_color);
    }
    o += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\"{} class=\"h\">{}</text>", Num(label_x),
                     Num(y + 4), label_color, label_style,
                     XmlEscape(Cut(label, op == "note" ? 110 : kLabelMax)));
    if (s.verdict != StepReport::Verdict::kNone) {
      const bool fail = s.verdict == StepReport::Verdict::kFail;
      o += fmt::format(
          "<text x=\"{}\" y=\"{}\" fill=\"{}\" font-weight=\"{}\" class=\"h check {}\">{}</text>",
          Num(x_check), Num(y + 4), verdict_color, fail ? "bold" : "normal", fail ? "fail" : "pass",
          XmlEscape(CheckText(r, s)));
    }
    o += "</g>\n";
  }

  // ---- zooms ----
  for (size_t zi = 0; zi < zooms.size(); ++zi) {
    const Zoom& z = zooms[zi];
    const StepReport& heal = r.steps[z.step];
    const double hy = map.Y(step_key(z.step));
    o += fmt::format(
        "<text x=\"{}\" y=\"{}\" fill=\"#44546a\" font-style=\"italic\" class=\"h\">zoom {} "
        "below</text>\n",
        Num(lane_x(n - 1) + 26), Num(hy + 4), zi + 1);
    o += fmt::format(
        "<g class=\"zoom\" data-step=\"{}\" data-messages=\"{}\"><rect x=\"4\" y=\"{}\" "
        "width=\"{}\" height=\"{}\" rx=\"4\" fill=\"#f7f9fc\" stroke=\"#b8c2d0\"/>",
        heal.number, z.msgs.size(), Num(z.top), Num(width - 8), Num(z.bottom - z.top - 6));
    o += fmt::format(
        "<text x=\"16\" y=\"{}\" font-weight=\"bold\">Zoom {}: {} after step {} ({}), {}, "
        "{}x the scale above</text>",
        Num(z.top + 18), zi + 1, FormatDuration(SimTime(z.to.t - z.from.t)), heal.number,
        XmlEscape(Cut(StepLabel(heal), kLabelMax)), cluster_sim::Plural(z.msgs.size(), "message"),
        fmt::format("{:.0f}", z.scale / scale));
    for (int i = 0; i < n; ++i) {
      o += fmt::format(
          "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" font-weight=\"bold\">{2}</text>"
          "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{4}\" stroke=\"#44546a\" "
          "stroke-width=\"1.5\"/>",
          Num(lane_x(i)), Num(z.top + 38), XmlEscape(r.regions[i]), Num(z.top + 44),
          Num(z.bottom - 12));
    }
    for (int k : z.rows) {
      const StepReport& s = r.steps[k];
      const double y = z.map.Y(step_key(k));
      const double x = IsLocal(s) ? lane_x(LaneOf(r, s.region)) + 12 : lane_x(0) + 12;
      o += fmt::format(
          "<g class=\"zstep\" data-step=\"{0}\"><text x=\"8\" y=\"{1}\" fill=\"#666\">{0}"
          "</text><text x=\"40\" y=\"{1}\" fill=\"#666\">{2}</text><text x=\"{3}\" "
          "y=\"{1}\" fill=\"#222\" class=\"h\">{4}</text></g>",
          s.number, Num(y + 4), FormatDuration(s.time), Num(x),
          XmlEscape(Cut(StepLabel(s), kLabelMax)));
    }
    o += "\n";
    mp = &z.map;
    msc = z.scale;
    mcls = "zmsg";
    draw_messages(z.msgs, z.top + kZoomHead);
    o += "</g>\n";
  }

  // ---- legend ----
  {
    double lx = 16;
    const double ly = below + 26;
    o += "<g class=\"legend\" font-size=\"10\">";
    auto sample = [&](const char* style, const char* text, const char* color, const char* w,
                      const char* dash) {
      o += fmt::format(
          "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{} "
          "marker-end=\"url(#ah-{})\"/><text x=\"{}\" y=\"{}\">{}</text>",
          Num(lx), Num(ly - 6), Num(lx + 30), Num(ly + 2), color, w,
          *dash ? fmt::format(" stroke-dasharray=\"{}\"", dash) : "", style, Num(lx + 36),
          Num(ly + 2), text);
      lx += 36 + static_cast<double>(std::string(text).size()) * 5.9 + 18;
    };
    sample("effects", "effects", "#1f5fa8", "1.6", "");
    sample("resend", "resent (partial sync)", "#d95f02", "1.8", "7 3");
    sample("full", "full sync", "#7b3294", "3.2", "");
    sample("ack", "ack", "#8c8c8c", "0.9", "");
    sample("probe", "probe", "#8c8c8c", "1.1", "2 3");
    sample("syncreq", "sync request", "#7b3294", "1.4", "2 3");
    o += fmt::format("{}<text x=\"{}\" y=\"{}\">lost or cut</text>", cross_path(lx + 6, ly - 2),
                     Num(lx + 16), Num(ly + 2));
    lx += 90;
    o += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"26\" height=\"14\" fill=\"url(#hatch)\"/>"
        "<text x=\"{}\" y=\"{}\">partition</text>",
        Num(lx), Num(ly - 10), Num(lx + 32), Num(ly + 2));
    lx += 92;
    o += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#b0b0b0\" stroke-width=\"2\" "
        "stroke-dasharray=\"6 4\"/><text x=\"{3}\" y=\"{4}\">region down</text>",
        Num(lx + 4), Num(ly - 12), Num(ly + 4), Num(lx + 12), Num(ly + 2));
    o += fmt::format(
        "<text x=\"16\" y=\"{}\" fill=\"#555\">Time flows down. Marks: commands on their "
        "region's lane (green: expectation held, red: failed), global steps across the lanes; "
        "the right column states each check in words.</text>",
        Num(ly + 24));
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace aasim
