// Fuzz target: the replication messages of `aasim node` (server/repl_wire.h) and what the
// replicator does with them. Region A of three (A, B, C), on an in-memory store, is sent
// a sequence of `AASIM.REPL MSG` and `HELLO` commands from B and C, with its timers run
// between them. Checks: no crash or failed check however malformed, out of order or
// hostile the messages (bad numbers, wrong counts, undecodable or forged effects and
// states, sequence numbers near 2^64); the decoder accepts a message iff its fields are
// well formed; A's data stays readable, and its state's encoding decodes to a keyspace
// that encodes the same.
//
// Input: records until the bytes run out. A record's first byte `op`:
//   op % 4 == 0: a MSG whose fields are numbers taken from the next bytes (kind, epochs,
//                seq, flags, count) and whose payloads are Input::Str strings;
//   op % 4 == 1: a MSG of raw argument strings (1 + op/4 % 12 of them, Input::Str);
//   op % 4 == 2: a HELLO of two raw argument strings;
//   op % 4 == 3: runs the timers due within the next (op / 4) * 10 ms.
// Bit 6 of op picks the sender (B or C).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/replicator.h"
#include "cluster_sim/store.h"
#include "crdt/keyspace.h"
#include "fuzz_util.h"
#include "server/repl_wire.h"

namespace {

using cluster_sim::ReplMessage;
using cluster_sim::SimTime;

class Transport : public cluster_sim::ReplTransport {
 public:
  void Send(int, const ReplMessage&, std::shared_ptr<const void>&&, size_t,
            std::string&&) override {
    ++sent;
  }
  SimTime Rtt(int) const override { return SimTime(10'000); }
  uint64_t sent = 0;
};

class Timers : public cluster_sim::ReplTimers {
 public:
  SimTime Now() const override { return now_; }
  void At(SimTime at, std::function<void()> cb) override {
    FUZZ_CHECK(at >= now_, "a timer set in the past");
    queue_.emplace(std::make_pair(at, next_++), std::move(cb));
  }
  // Runs the timers due up to now + d (at most a bounded number: a timer may set another).
  void RunFor(SimTime d) {
    SimTime until = now_ + d;
    for (int budget = 10'000; budget > 0 && !queue_.empty(); --budget) {
      auto it = queue_.begin();
      if (it->first.first > until) break;
      now_ = it->first.first;
      auto cb = std::move(it->second);
      queue_.erase(it);
      cb();
    }
    if (now_ < until) now_ = until;
  }

 private:
  SimTime now_{0};
  uint64_t next_ = 0;
  std::map<std::pair<SimTime, uint64_t>, std::function<void()>> queue_;
};

const char* const kNames[] = {"A", "B", "C"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  auto store = cluster_sim::NewMemoryStore(crdt::MakeReplicaId(0, 1));
  Transport transport;
  Timers timers;
  cluster_sim::Replicator::Options options;
  options.self = 0;
  options.names = {"A", "B", "C"};
  cluster_sim::Replicator repl(options, store.get(), &transport, &timers);
  std::string effect;
  store->Execute({"SET", "k", "a"}, 1'000'000, &effect);
  repl.OnLocalWrite(std::move(effect));

  for (int records = 0; records < 64 && !in.empty(); ++records) {
    uint8_t op = in.Byte();
    int from = 1 + ((op >> 6) & 1);
    std::vector<std::string> argv = {"AASIM.REPL", "MSG", kNames[from]};
    switch (op % 4) {
      case 0: {
        uint64_t seq = 0;
        for (int i = 0; i < 8; ++i) seq = (seq << 8) | in.Byte();
        uint8_t count = in.Byte() % 5;
        argv.push_back(std::to_string(in.Byte() % 6));                // kind
        argv.push_back(std::to_string(in.Byte() % 4));                // sender epoch
        argv.push_back(std::to_string(in.Byte() % 4));                // epoch
        argv.push_back(std::to_string(seq));                          // seq
        argv.push_back(std::to_string(in.Byte() % 4));                // flags
        argv.push_back(std::to_string(count));                        // count
        for (int i = 0; i < count; ++i) argv.emplace_back(in.Str());  // payloads
        break;
      }
      case 1:
        for (int i = 0; i < 1 + (op / 4) % 12; ++i) argv.emplace_back(in.Str());
        break;
      case 2:
        argv[1] = "HELLO";
        argv.emplace_back(in.Str());
        argv.emplace_back(in.Str());
        break;
      case 3:
        timers.RunFor(SimTime(int64_t{op / 4} * 10'000));
        continue;
    }
    if (argv[1] == "HELLO") {
      uint64_t incarnation = 0, head = 0;
      std::string bad = server::DecodeReplHello(argv, &incarnation, &head);
      FUZZ_CHECK(bad.empty() || bad.rfind("ERR AASIM.REPL", 0) == 0, bad);
      continue;
    }
    server::DecodedRepl decoded;
    std::string bad = server::DecodeReplMsg(argv, &decoded);
    FUZZ_CHECK(bad == server::DecodeReplMsg(argv, nullptr), bad);
    if (!bad.empty()) {
      FUZZ_CHECK(bad.rfind("ERR AASIM.REPL", 0) == 0, bad);
      continue;
    }
    FUZZ_CHECK(decoded.msg.count == argv.size() - 9, "payload count");
    for (uint32_t i = 0; i < decoded.msg.count; ++i) {
      FUZZ_CHECK(decoded.msg.payload(i) == argv[9 + i], "payload text");
    }
    repl.OnMessage(from, decoded.msg);
  }
  timers.RunFor(SimTime(10'000'000));
  store->DumpAll();
  std::string probe;
  store->Execute({"GET", "k"}, 2'000'000, &probe);
  // Whatever A accepted left a well-formed state: its encoding decodes to a keyspace that
  // encodes the same, with exact held bytes (a counter whose replica delta wrapped once
  // gave unsorted slots here, a state whose encoding did not decode).
  const std::string state = store->FullState();
  std::string error;
  auto back = crdt::Keyspace::Decode(state, crdt::MakeReplicaId(0, 1), &error);
  FUZZ_CHECK(back.has_value(), "A's state does not decode: " + error);
  FUZZ_CHECK(back->Encode() == state, "A's state does not encode as it decodes");
  FUZZ_CHECK(back->HeldExact(), "A's state's held bytes");
  return 0;
}
