// Fuzz target: the RESP request parser (server/resp.h) on any bytes, and the reply writers
// on what it parses. Checks: no crash; the same commands, and a protocol error or none, whether the
// bytes arrive at once or in pieces (through Append or Prepare/Commit); every command
// parsed, written back as a multibulk request, parses to itself; the RESP2 and RESP3 reply
// writers take any text. The first byte picks small or default limits and the piece sizes.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "server/resp.h"

namespace {

using server::RespParser;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // the protocol error that ended the stream, if any
};

// Drains every complete command; false once the parser failed.
bool Drain(RespParser* p, Outcome* out) {
  std::vector<std::string> argv;
  std::string error;
  for (;;) {
    switch (p->Next(&argv, &error)) {
      case RespParser::Result::kCommand:
        out->commands.push_back(argv);
        break;
      case RespParser::Result::kNeedMore:
        return true;
      case RespParser::Result::kError:
        out->error = error;
        return false;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  server::RespLimits limits;
  if (mode & 1) limits = {8, 64, 64, 256};

  RespParser whole(limits);
  whole.Append(bytes);
  Outcome at_once;
  Drain(&whole, &at_once);

  RespParser pieces(limits);
  Outcome in_pieces;
  uint32_t rng = mode;
  size_t pos = 0;
  bool alive = true;
  while (alive && pos < bytes.size()) {
    rng = rng * 1103515245 + 12345;
    size_t n = std::min<size_t>(1 + (rng >> 16) % 16, bytes.size() - pos);
    if (rng & 0x8000) {
      pieces.Append(bytes.substr(pos, n));
    } else {
      char* to = pieces.Prepare(n + 7);  // room to spare: Commit takes what was written
      std::memcpy(to, bytes.data() + pos, n);
      pieces.Commit(n);
    }
    pos += n;
    alive = Drain(&pieces, &in_pieces);
  }
  // As in Redis, a line (an inline request, or a multibulk's count or a bulk's length) is
  // judged by its length only while its end has not arrived: a long line that came whole
  // is read, the same line in pieces fails ("too big ..."). Then what the pieces gave
  // before it is what came whole before it, whatever ended the whole stream (it may fail
  // too, further on, or wait for more).
  if (in_pieces.error.rfind("Protocol error: too big ", 0) == 0) {
    FUZZ_CHECK(in_pieces.commands.size() <= at_once.commands.size() &&
                   std::equal(in_pieces.commands.begin(), in_pieces.commands.end(),
                              at_once.commands.begin()),
               "commands differ when read in pieces");
  } else {
    FUZZ_CHECK(at_once.commands == in_pieces.commands, "commands differ when read in pieces");
    // Both fail or neither. The text may differ, as Redis's does: a length line longer
    // than the inline limit is "too big ..." while its end has not arrived, "invalid ..."
    // once whole.
    FUZZ_CHECK(at_once.error.empty() == in_pieces.error.empty(),
               at_once.error + " | " + in_pieces.error);
  }
  FUZZ_CHECK(at_once.error.empty() || at_once.error.rfind("Protocol error: ", 0) == 0,
             at_once.error);

  for (const auto& argv : at_once.commands) {
    FUZZ_CHECK(!argv.empty(), "an empty command");
    std::string wire;
    server::WriteArrayHeader(argv.size(), &wire);
    for (const auto& a : argv) server::WriteBulk(a, &wire);
    RespParser back;
    back.Append(wire);
    Outcome reread;
    Drain(&back, &reread);
    FUZZ_CHECK(reread.commands.size() == 1 && reread.commands[0] == argv && reread.error.empty(),
               "a parsed command does not survive a round trip");

    auto shape = server::Resp3ShapeOf(argv);
    cluster_sim::Reply array = cluster_sim::Reply::BulkArray(argv);
    std::string out;
    server::WriteReply(array, &out);
    server::WriteReply3(array, shape, &out);
    server::WritePush({array}, &out);
    for (const auto& a : argv) {
      server::WriteReply(cluster_sim::Reply::Error(a), &out);
      server::WriteReply(cluster_sim::Reply::Status(a), &out);
      server::WriteReply3(cluster_sim::Reply::Bulk(a), server::Resp3Shape::kDouble, &out);
    }
  }
  return 0;
}
