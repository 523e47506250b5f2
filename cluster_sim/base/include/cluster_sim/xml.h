// Text for XML and HTML (SVG charts, diagrams, reports): one escaping rule for every
// picture aasim draws. Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cluster_sim {

// `text` escaped for XML and HTML content and attribute values: & < > " ' as entities;
// control characters, which XML 1.0 forbids, as spaces (newline and tab are kept).
inline std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') ? ' ' : c;
    }
  }
  return out;
}

}  // namespace cluster_sim
