// HOST:PORT text, written and read as URLs and Redis write it: an IPv6 host goes in
// brackets ("[::1]:6379"), since its own colons would otherwise swallow the port. Every
// place that prints or parses an address uses these two. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "cluster_sim/status.h"

namespace cluster_sim {

// "HOST:PORT", with the host in brackets if it holds a ':' (an IPv6 address).
inline std::string JoinHostPort(std::string_view host, int port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out.append(":").append(std::to_string(port));
}

// Splits "HOST:PORT", "[IPV6]:PORT", "HOST" or "[IPV6]" into *host (brackets removed) and
// *port (the text after the colon; empty if there is none). Checks only the shape: an
// unclosed '[', text after ']' other than ":PORT", and an unbracketed host with several
// colons ("::1:6379" is itself an IPv6 address) are errors: "'TEXT': why".
inline Status SplitHostPort(std::string_view text, std::string* host, std::string* port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("'" + std::string(text) + "': " + std::string(why));
  };
  std::string_view h = text;
  std::string_view p;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("no ']' after '['");
    h = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':PORT' after ']'");
      p = after.substr(1);
      has_port = true;
    }
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return bad("an IPv6 host goes in brackets, as in [::1]:6379");
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    has_port = true;
  }
  if (has_port && p.empty()) return bad("no port after ':'");
  *host = std::string(h);
  *port = std::string(p);
  return Status::Ok();
}

}  // namespace cluster_sim
