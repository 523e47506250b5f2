#include "html_report.h"

#include <map>

#include <fmt/format.h>

#include "cluster_sim/plural.h"
#include "diagram.h"
#include "report.h"

namespace aasim {

using cluster_sim::FormatDuration;
using cluster_sim::RunReport;
using cluster_sim::StepReport;

namespace {

constexpr const char* kCss = R"(
:root{color-scheme:light;--ink:#1d2430;--muted:#5b6472;--line:#d6dbe3;--ok:#1a7a3a;--fail:#b2182b;--hl:#ffe36e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 "DejaVu Sans",Verdana,system-ui,sans-serif;color:var(--ink);background:#f6f7f9}
header{padding:18px 24px 8px;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 8px}
main{padding:12px 24px 40px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 16px;margin:0 0 16px}
.facts{color:var(--muted);margin:0}
.verdict{display:inline-block;font-weight:bold;padding:1px 8px;border-radius:4px;color:#fff}
.verdict.pass{background:var(--ok)}.verdict.fail{background:var(--fail)}
.scroll{overflow:auto;max-height:78vh;border:1px solid var(--line);border-radius:4px;background:#fff}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top;white-space:nowrap}
th{position:sticky;top:0;background:#eef2f7;z-index:1}
td.num,th.num{text-align:right}
tbody tr.steprow{cursor:pointer}
tbody tr.steprow:focus{outline:2px solid #1f5fa8;outline-offset:-2px}
tr.note td{color:var(--muted);font-style:italic;white-space:normal}
tr.output td{font-family:"DejaVu Sans Mono",monospace;font-size:12px;color:#333;white-space:pre}
td.check.pass{color:var(--ok);font-weight:bold}td.check.fail{color:var(--fail);font-weight:bold;white-space:normal}
tr.hv{background:#fff7cf}tr.hl{background:var(--hl)}
.aasim-diagram .step{cursor:pointer}
.aasim-diagram .step:focus{outline:none}
.aasim-diagram .step.hv .hlbg{fill:#ffe36e;fill-opacity:.3}
.aasim-diagram .step.hl .hlbg{fill:#ffe36e;fill-opacity:.6;stroke:#c9a400;stroke-width:1.5}
.aasim-diagram .step:focus .hlbg{stroke:#1f5fa8;stroke-width:2}
pre{margin:0;font:12px/1.4 "DejaVu Sans Mono",monospace;white-space:pre-wrap}
.hint{color:var(--muted);font-size:12.5px;margin:4px 0 8px}
)";

constexpr const char* kScript = R"(
(function () {
  'use strict';
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-step]'));
  var marks = Array.prototype.slice.call(document.querySelectorAll('.aasim-diagram .step'));
  function all(n) {
    return rows.filter(function (r) { return r.getAttribute('data-step') === n; })
      .concat(marks.filter(function (m) { return m.getAttribute('data-step') === n; }));
  }
  function mark(cls, n) {
    document.querySelectorAll('.' + cls).forEach(function (e) { e.classList.remove(cls); });
    if (n !== null) all(n).forEach(function (e) { e.classList.add(cls); });
  }
  function select(n, from) {
    mark('hl', n);
    document.body.setAttribute('data-selected', n);
    var target = from === 'row' ? document.getElementById('step-' + n)
                                : document.getElementById('row-' + n);
    if (target && target.scrollIntoView) target.scrollIntoView({block: 'center', inline: 'nearest'});
  }
  function wire(e, from) {
    var n = e.getAttribute('data-step');
    e.addEventListener('mouseenter', function () { mark('hv', n); });
    e.addEventListener('mouseleave', function () { mark('hv', null); });
    e.addEventListener('focus', function () { mark('hv', n); });
    e.addEventListener('click', function () { select(n, from); });
    e.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(n, from); }
      if (from === 'row' && (ev.key === 'ArrowDown' || ev.key === 'ArrowUp')) {
        ev.preventDefault();
        var focusable = rows.filter(function (r) { return r.tabIndex >= 0; });
        var i = focusable.indexOf(e) + (ev.key === 'ArrowDown' ? 1 : -1);
        if (i >= 0 && i < focusable.length) focusable[i].focus();
      }
    });
  }
  rows.forEach(function (r) { wire(r, 'row'); });
  marks.forEach(function (m) { m.setAttribute('tabindex', '0'); wire(m, 'mark'); });
})();
)";

std::string Head(const std::string& title) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{} - aasim</title>\n<style>{}</style>\n</head>\n<body>\n",
      XmlEscape(title), kCss);
}

std::string SourceSection(const std::string& scenario_text) {
  if (scenario_text.empty()) return "";
  return "<section id=\"scenario\"><h2>Scenario file</h2><pre>" + XmlEscape(scenario_text) +
         "</pre></section>\n";
}

// The SVG of a renderer as an element: without its XML prolog.
std::string Inline(const std::string& svg) {
  if (svg.rfind("<?xml", 0) == 0) return svg.substr(svg.find('\n') + 1);
  return svg;
}

std::string StepsTable(const RunReport& r) {
  std::string o =
      "<table id=\"steps\">\n<thead><tr><th class=\"num\">step</th><th>time</th>"
      "<th>region</th><th>operation</th><th>reply</th><th>key</th>";
  for (const auto& name : r.regions) o += "<th>" + XmlEscape(name) + "</th>";
  o += "<th>check</th></tr></thead>\n<tbody>\n";
  const size_t cols = 7 + r.regions.size();
  for (const StepReport& s : r.steps) {
    const std::string attrs = fmt::format(" data-step=\"{}\"", s.number);
    if (s.operation == "note") {
      o += fmt::format(
          "<tr id=\"row-{0}\" class=\"steprow note\"{1} tabindex=\"0\"><td class=\"num\">{0}</td>"
          "<td>{2}</td><td colspan=\"{3}\"># {4}</td></tr>\n",
          s.number, attrs, FormatDuration(s.time), cols - 2,
          XmlEscape(s.notes.empty() ? "" : s.notes[0]));
      continue;
    }
    o += fmt::format(
        "<tr id=\"row-{0}\" class=\"steprow\"{1} tabindex=\"0\"><td class=\"num\">{0}"
        "</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td>",
        s.number, attrs, FormatDuration(s.time), XmlEscape(s.region), XmlEscape(s.operation),
        XmlEscape(ReplyText(s)), XmlEscape(s.key));
    for (size_t i = 0; i < r.regions.size(); ++i) {
      o += "<td>" + XmlEscape(i < s.values.size() ? s.values[i] : "") + "</td>";
    }
    std::string check = VerdictText(s);
    if (s.verdict == StepReport::Verdict::kFail) check += ": " + s.failure;
    for (const auto& note : s.notes) check += (check.empty() ? "" : "  ") + ("(" + note + ")");
    const char* cls = s.verdict == StepReport::Verdict::kPass   ? " pass"
                      : s.verdict == StepReport::Verdict::kFail ? " fail"
                                                                : "";
    o += fmt::format("<td class=\"check{}\">{}</td></tr>\n", cls, XmlEscape(check));
    if (!s.output.empty()) {
      std::string lines;
      for (const auto& l : s.output) lines += (lines.empty() ? "" : "\n") + l;
      o += fmt::format("<tr class=\"output\"{}><td></td><td colspan=\"{}\">{}</td></tr>\n", attrs,
                       cols - 1, XmlEscape(lines));
    }
  }
  o += "</tbody>\n</table>\n";
  return o;
}

std::string MetricsSection(const RunReport& r, const RunRecord& rec) {
  std::string o =
      "<section id=\"metrics\"><h2>Replication</h2>\n<table>\n<thead><tr>"
      "<th>region</th><th class=\"num\">writes</th><th class=\"num\">lost</th>"
      "<th class=\"num\">max_ops_lag</th><th class=\"num\">min_ops_lag</th>"
      "<th class=\"num\">effects_in</th><th class=\"num\">filtered</th>"
      "<th class=\"num\">partial</th><th class=\"num\">full</th>"
      "<th class=\"num\">bytes_out</th><th>state</th></tr></thead>\n<tbody>\n";
  for (const MetricsRow& m : MetricsRows(r)) {
    o += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}"
        "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}{}"
        "</td></tr>\n",
        XmlEscape(m.region), m.writes, m.lost, m.max_ops_lag, m.min_ops_lag, m.effects_in,
        m.filtered, m.partial, m.full, m.bytes_out, m.alive ? "up" : "down",
        m.store_failures ? fmt::format("; {} not stored (its Redis was down), resent",
                                       cluster_sim::Plural(m.store_failures, "message"))
                         : "");
  }
  o += "</tbody>\n</table>\n";
  // The messages by kind and fate.
  std::map<std::string, std::map<std::string, uint64_t>> by_kind;
  for (const MessageRecord& m : rec.messages) {
    std::string kind = m.kind;
    if (m.retransmit) kind += " (resent)";
    by_kind[kind][OutcomeName(m.outcome)]++;
  }
  if (!by_kind.empty()) {
    o += "<p class=\"hint\">Replication messages, by kind and fate:</p>\n<table>\n<thead><tr>"
         "<th>kind</th><th class=\"num\">delivered</th><th class=\"num\">discarded</th>"
         "<th class=\"num\">lost</th><th class=\"num\">cut</th><th class=\"num\">cut_in_flight"
         "</th><th class=\"num\">in_flight</th></tr></thead>\n<tbody>\n";
    for (const auto& [kind, fates] : by_kind) {
      o += "<tr><td>" + XmlEscape(kind) + "</td>";
      for (const char* fate :
           {"delivered", "discarded", "lost", "cut", "cut_in_flight", "in_flight"}) {
        auto it = fates.find(fate);
        o += fmt::format("<td class=\"num\">{}</td>", it == fates.end() ? 0 : it->second);
      }
      o += "</tr>\n";
    }
    o += "</tbody>\n</table>\n";
  }
  if (r.converged_after_heal) {
    o += fmt::format("<p>Converged {} after the last heal.</p>\n",
                     FormatDuration(*r.converged_after_heal));
  }
  o += "</section>\n";
  return o;
}

}  // namespace

std::string RenderHtmlReport(const RunReport& r, const RunRecord& rec,
                             const std::string& scenario_text) {
  const bool pass = r.failures == 0;
  std::string o = Head(r.name);
  o += "<header>\n<h1>" + XmlEscape(r.name) + "</h1>\n";
  o += fmt::format(
      "<p class=\"facts\"><span class=\"verdict {}\">{}</span> {} of {} expectations held"
      "{}{} &middot; file {} &middot; seed {} &middot; digest {}</p>\n</header>\n<main>\n",
      pass ? "pass" : "fail", pass ? "PASS" : "FAIL", r.expectations - r.failures, r.expectations,
      r.source.empty() ? "" : " &middot; source: ", XmlEscape(r.source), XmlEscape(r.file), r.seed,
      cluster_sim::FormatDigest(r.digest));
  DiagramOptions d;
  d.standalone = false;
  o += "<section id=\"diagram\"><h2>Space-time diagram</h2>\n<p class=\"hint\">Time flows down; "
       "hover or click a mark or a table row (or focus it and press Enter) to highlight both. "
       "Hover an arrow for its message.</p>\n<div class=\"scroll\">\n";
  o += RenderDiagramSvg(r, rec, d);
  o += "</div>\n</section>\n";
  o += "<section id=\"table\"><h2>Steps</h2>\n<div class=\"scroll\">\n" + StepsTable(r) +
       "</div>\n</section>\n";
  o += MetricsSection(r, rec);
  o += "<section id=\"summary\"><h2>Summary</h2>\n<pre>";
  for (const StepReport& s : r.steps) {
    if (s.verdict == StepReport::Verdict::kFail) o += XmlEscape(s.failure) + "\n";
  }
  o += XmlEscape(SummaryLine(r)) + "</pre>\n</section>\n";
  o += SourceSection(scenario_text);
  o += "</main>\n<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return o;
}

std::string RenderLatencyHtml(const cluster_sim::LatencyReport& report,
                              const std::string& scenario_text) {
  const bool pass = report.failures == 0;
  std::string o = Head(report.config.name);
  o += "<header>\n<h1>" + XmlEscape(report.config.name) + "</h1>\n";
  o += fmt::format(
      "<p class=\"facts\"><span class=\"verdict {}\">{}</span> latency file</p>\n"
      "</header>\n<main>\n",
      pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
  o += "<section id=\"chart\"><h2>Latency (cumulative fraction of requests)</h2>\n"
       "<div class=\"scroll\">\n" +
       Inline(cluster_sim::RenderLatencySvg(report)) + "</div>\n</section>\n";
  o += "<section id=\"table\"><h2>Table</h2>\n<pre>" +
       XmlEscape(cluster_sim::RenderLatencyText(report, false)) + "</pre>\n</section>\n";
  o += SourceSection(scenario_text);
  o += "</main>\n</body>\n</html>\n";
  return o;
}

}  // namespace aasim
