// Fuzz target: the command engine, against the Active/Active model. Three in-memory stores
// (regions a, b, c) run command lines from the input; the effects of their writes are
// merged into the other two in orders the input chooses (in order, newest first, again).
// Checks: no crash or hang; every reply is well formed (an error names its code, statuses
// are one line, arrays hold well-formed replies); every effect merges; after every effect
// reached every region, the three regions' full dumps are equal, and merging each other's
// full states changes nothing.
//
// Input: lines. `R CMD ARG...` runs a command (redis-cli quoting) in region R % 3 (R is the
// line's first byte); `*R CMD ARG|CMD ARG|...` runs a MULTI/EXEC batch there; `~` merges
// every pending effect in order; `~XY` those from X to Y in order; `!XY` from X to Y
// newest first; `=XY` re-merges every effect X ever sent Y (duplicates). fuzz/engine.dict
// holds the command names (aasim-fuzz-seeds writes it from the command table).
#include <array>
#include <cctype>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/store.h"
#include "fuzz_util.h"

namespace {

using cluster_sim::Reply;

constexpr int kRegions = 3;
constexpr size_t kMaxLines = 200;

bool IsScript(const std::string& name) {
  std::string lower;
  for (char c : name)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower.rfind("eval", 0) == 0 || lower.rfind("fcall", 0) == 0 || lower == "function" ||
         lower == "script";
}

void CheckReply(const Reply& r, bool script, const std::string& cmd) {
  switch (r.type) {
    case Reply::Type::kStatus:
      FUZZ_CHECK(r.str.find_first_of("\r\n") == std::string::npos, cmd + " -> +" + r.str);
      break;
    case Reply::Type::kError: {
      FUZZ_CHECK(!r.str.empty(), cmd + ": an empty error");
      if (script) break;  // a script's own error_reply text is free
      size_t code = 0;
      while (code < r.str.size() && std::isupper(static_cast<unsigned char>(r.str[code]))) ++code;
      FUZZ_CHECK(code > 0 && (code == r.str.size() || r.str[code] == ' '),
                 cmd + ": an error without a code: " + r.str);
      break;
    }
    case Reply::Type::kArray:
    case Reply::Type::kMap:
    case Reply::Type::kSet:
      FUZZ_CHECK(script || r.type == Reply::Type::kArray, cmd + ": a RESP3 value from a command");
      for (const auto& e : r.elements) CheckReply(e, script, cmd);
      break;
    case Reply::Type::kDouble:
    case Reply::Type::kBool:
      FUZZ_CHECK(script, cmd + ": a RESP3 value from a command");
      break;
    case Reply::Type::kInteger:
    case Reply::Type::kBulk:
    case Reply::Type::kNil:
    case Reply::Type::kNilArray:
      break;
  }
}

struct Link {
  std::deque<std::string> pending;  // effects not merged yet, oldest first
  std::vector<std::string> sent;    // every effect ever sent
};

struct World {
  std::array<std::unique_ptr<cluster_sim::Store>, kRegions> stores;
  Link links[kRegions][kRegions];
  int64_t now_us = 1'700'000'000'000'000;

  World() {
    for (int i = 0; i < kRegions; ++i) {
      stores[i] = cluster_sim::NewMemoryStore(crdt::MakeReplicaId(static_cast<uint16_t>(i), 1));
      stores[i]->SetRegionNames({"a", "b", "c"});
    }
  }
  void Merge(int to, const std::string& effect) {
    cluster_sim::Status s = stores[to]->Merge(effect);
    FUZZ_CHECK(s.ok(), s.message());
  }
  void Wrote(int from, std::string effect) {
    if (effect.empty()) return;
    for (int to = 0; to < kRegions; ++to) {
      if (to == from) continue;
      links[from][to].pending.push_back(effect);
      links[from][to].sent.push_back(effect);
    }
  }
  void Deliver(int from, int to, bool newest_first) {
    Link& l = links[from][to];
    while (!l.pending.empty()) {
      if (newest_first) {
        Merge(to, l.pending.back());
        l.pending.pop_back();
      } else {
        Merge(to, l.pending.front());
        l.pending.pop_front();
      }
    }
  }
  void DeliverAll() {
    for (int from = 0; from < kRegions; ++from) {
      for (int to = 0; to < kRegions; ++to) Deliver(from, to, false);
    }
  }
  void Run(int region, const std::vector<std::string>& argv) {
    now_us += 1000;
    std::string effect;
    Reply r = stores[region]->Execute(argv, now_us, &effect);
    CheckReply(r, IsScript(argv[0]), argv[0]);
    Wrote(region, std::move(effect));
  }
  void RunBatch(int region, const std::vector<std::vector<std::string>>& cmds) {
    now_us += 1000;
    std::string effect;
    auto replies = stores[region]->ExecuteBatch(cmds, now_us, &effect);
    for (size_t i = 0; i < replies.size() && i < cmds.size(); ++i) {
      CheckReply(replies[i], IsScript(cmds[i][0]), cmds[i][0]);
    }
    Wrote(region, std::move(effect));
  }
};

int RegionOf(char c) { return static_cast<unsigned char>(c) % kRegions; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  World w;
  size_t lines = 0;
  while (!text.empty() && lines++ < kMaxLines) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty()) continue;
    char op = line[0];
    if ((op == '~' || op == '!' || op == '=') && line.size() >= 3) {
      int from = RegionOf(line[1]), to = RegionOf(line[2]);
      if (from == to) continue;
      if (op == '=') {
        for (const auto& e : w.links[from][to].sent) w.Merge(to, e);
      } else {
        w.Deliver(from, to, op == '!');
      }
      continue;
    }
    if (op == '~') {
      w.DeliverAll();
      continue;
    }
    if (op == '*' && line.size() >= 2) {
      int region = RegionOf(line[1]);
      std::vector<std::vector<std::string>> cmds;
      std::string_view rest = line.substr(2);
      while (!rest.empty()) {
        size_t bar = rest.find('|');
        auto argv = cluster_sim::SplitCommand(rest.substr(0, bar));
        rest.remove_prefix(bar == std::string_view::npos ? rest.size() : bar + 1);
        if (argv.ok() && !argv->empty()) cmds.push_back(std::move(*argv));
      }
      if (!cmds.empty()) w.RunBatch(region, cmds);
      continue;
    }
    auto argv = cluster_sim::SplitCommand(line.substr(1));
    if (!argv.ok() || argv->empty()) continue;
    w.Run(RegionOf(op), *argv);
  }

  w.DeliverAll();
  std::string dumps[kRegions];
  for (int i = 0; i < kRegions; ++i) dumps[i] = w.stores[i]->DumpAll();
  for (int i = 1; i < kRegions; ++i) {
    FUZZ_CHECK(dumps[i] == dumps[0], "regions differ after every effect was merged:\n--- a\n" +
                                         dumps[0] + "\n--- " + "abc"[i] + "\n" + dumps[i]);
  }
  std::string states[kRegions];
  for (int i = 0; i < kRegions; ++i) states[i] = w.stores[i]->FullState();
  for (int to = 0; to < kRegions; ++to) {
    for (int from = 0; from < kRegions; ++from) {
      if (from != to) w.Merge(to, states[from]);
    }
    FUZZ_CHECK(w.stores[to]->DumpAll() == dumps[0], "merging converged full states changed data");
  }
  return 0;
}
