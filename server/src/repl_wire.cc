#include "server/repl_wire.h"

#include <charconv>
#include <memory>
#include <system_error>

namespace server {

using cluster_sim::ReplMessage;

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

std::string DecodeReplMsg(const std::vector<std::string>& argv, DecodedRepl* out) {
  uint64_t f[6] = {};
  if (argv.size() < 9) return "ERR AASIM.REPL: MSG needs 7 fields";
  for (int i = 0; i < 6; ++i) {
    if (!ParseU64(argv[3 + i], &f[i])) return "ERR AASIM.REPL: bad MSG field";
  }
  if (f[0] > static_cast<uint64_t>(ReplMessage::Kind::kProbe) || f[1] > 0xFFFF || f[2] > 0xFFFF ||
      f[4] > 3 || f[5] != argv.size() - 9 || (f[5] == 0) != (argv.size() == 9) ||
      (f[0] == static_cast<uint64_t>(ReplMessage::Kind::kFullState) && f[5] != 1)) {
    return "ERR AASIM.REPL: malformed MSG";  // (a full state is one payload)
  }
  if (out == nullptr) return "";
  ReplMessage& m = out->msg;
  m = ReplMessage();
  m.kind = static_cast<ReplMessage::Kind>(f[0]);
  m.sender_epoch = static_cast<uint32_t>(f[1]);
  m.epoch = static_cast<uint32_t>(f[2]);
  (m.kind == ReplMessage::Kind::kEffects ? m.first_seq : m.seq) = f[3];
  m.full_ack = (f[4] & 1) != 0;
  m.causal = (f[4] & 2) != 0;
  m.count = static_cast<uint32_t>(f[5]);
  out->one.clear();
  out->many.clear();
  if (m.count == 1) {
    out->one = argv[9];
    m.body = &out->one;
  } else if (m.count > 1) {
    for (size_t i = 9; i < argv.size(); ++i) {
      out->many.push_back(std::make_shared<const std::string>(argv[i]));
    }
    m.body = &out->many;
  }
  return "";
}

std::string DecodeReplHello(const std::vector<std::string>& argv, uint64_t* incarnation,
                            uint64_t* head) {
  if (argv.size() != 5 || !ParseU64(argv[3], incarnation) || !ParseU64(argv[4], head) ||
      *incarnation > 0xFFFF) {
    return "ERR AASIM.REPL: expected HELLO FROM INCARNATION HEAD";
  }
  return "";
}

}  // namespace server
