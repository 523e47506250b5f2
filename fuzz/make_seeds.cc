// aasim-fuzz-seeds OUT_DIR: writes the seed corpora of the fuzz targets that take binary
// or structured input, made by running real commands on in-memory stores:
//   OUT_DIR/engine/    command scripts (engine_fuzz.cc's format)
//   OUT_DIR/keyspace/  effects and full states of those scripts (a replica byte first)
//   OUT_DIR/repl/      MSG records carrying them (repl_fuzz.cc's format)
//   OUT_DIR/resp/      the scripts' commands as RESP multibulk and inline requests
//   OUT_DIR/engine.dict  every store command's name (libFuzzer's -dict)
//   OUT_DIR/keyspace.dict  varints near 2^32, 2^63 and 2^64 (keyspace's and repl's -dict)
// The keyspace and repl seeds also hold states written by several replicas (up to site
// 0xFFFF): counters of several slots and contexts of several vector entries, whose replica
// deltas are what a hostile input would push toward 2^32 or 2^64.
// The scenario and latency targets start from the files of scenarios/ (fuzz/run.sh).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/store.h"
#include "crdt/encoding.h"
#include "crdt/keyspace.h"
#include "crdt/pn_counter.h"
#include "fuzz_util.h"
#include "server/resp.h"

namespace {

namespace fs = std::filesystem;

// engine_fuzz.cc scripts: region letter, then a redis-cli command line.
const char* const kScripts[] = {
    "a SET k v\nb INCRBY n 5\nc APPEND k x\n~ab\nb DEL k\n~\na GET k\nc INCR n\n",
    "a SADD s x y z\nb SREM s y\n!ab\nc HSET h f v g w\na HINCRBY h c 3\n~\nb HDEL h f\n=ab\n",
    "a ZADD z 1 m 2 n\nb ZINCRBY z 1.5 m\nc PFADD p a b c\n~\na ZREM z n\nb PFMERGE q p\n",
    "a RPUSH l 1 2 3\nb LPUSH l 0\n~\nc LSET l 1 x\na LPOP l\nb EXPIRE l 100\nc PERSIST l\n",
    "*a SET x 1|INCRBYFLOAT f 1.5|EXPIRE x 10\n*b MSET y 2 z 3|GETSET y 4\n~\na BC.INCRBY bc 10\n",
    "a XADD st * f v\nb SETEX t 5 v\nc EVAL \"return redis.call('INCR', KEYS[1])\" 1 e\n~\n",
};

void Write(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs a script's command lines (deliveries ignored) on one store of site `site`;
// returns the effects of its writes, then its full state.
std::vector<std::string> Effects(std::string_view script, uint16_t site,
                                 std::vector<std::vector<std::string>>* commands) {
  auto store = cluster_sim::NewMemoryStore(crdt::MakeReplicaId(site, 1));
  std::vector<std::string> out;
  int64_t now = 1'700'000'000'000'000;
  while (!script.empty()) {
    size_t eol = script.find('\n');
    std::string_view line = script.substr(0, eol);
    script.remove_prefix(eol == std::string_view::npos ? script.size() : eol + 1);
    if (line.size() < 2 || line[0] == '~' || line[0] == '!' || line[0] == '=') continue;
    std::string_view rest = line.substr(line[0] == '*' ? 2 : 1);
    while (!rest.empty()) {
      size_t bar = line[0] == '*' ? rest.find('|') : std::string_view::npos;
      auto argv = cluster_sim::SplitCommand(rest.substr(0, bar));
      rest.remove_prefix(bar == std::string_view::npos ? rest.size() : bar + 1);
      if (!argv.ok() || argv->empty()) continue;
      std::string effect;
      store->Execute(*argv, now += 1000, &effect);
      if (!effect.empty()) out.push_back(effect);
      commands->push_back(*argv);
    }
  }
  out.push_back(store->FullState());
  return out;
}

// A repl_fuzz.cc record: a numeric MSG from B.
void PutMsg(uint8_t kind, uint64_t seq, const std::vector<std::string>& payloads,
            std::string* out) {
  out->push_back(0);  // op: numeric MSG from B
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((seq >> (8 * i)) & 0xFF));
  out->push_back(static_cast<char>(payloads.size()));
  out->push_back(static_cast<char>(kind));
  out->push_back(1);  // sender epoch
  out->push_back(1);  // epoch
  out->push_back(0);  // flags
  for (const auto& p : payloads) fuzz::PutStr(p, out);
}

// A keyspace merged from writes of several replicas (sites 0, 1, 2 and 0xFFFF): a counter
// of four slots, a set and a register written by each, a context of four vector entries.
// Returns the merged state's encoding and one replica's delta.
std::vector<std::string> ManyReplicas() {
  const crdt::ReplicaId ids[] = {crdt::MakeReplicaId(0, 1), crdt::MakeReplicaId(1, 2),
                                 crdt::MakeReplicaId(2, 1), crdt::MakeReplicaId(0xFFFF, 0xFFFF)};
  crdt::Keyspace all(ids[0]);
  std::string last_delta;
  int64_t at = 1000;
  for (crdt::ReplicaId id : ids) {
    crdt::Keyspace ks(id);
    crdt::Keyspace delta = ks.NewDelta();
    int64_t n = 0;
    ks.IncrBy("n", static_cast<int64_t>(id % 97) - 40, &n, &delta);
    ks.IncrBy("n", 3, &n, &delta);
    ks.SAdd("s", std::to_string(id), &delta);
    ks.Set("r", std::to_string(id), at += 1000, &delta);
    last_delta = delta.Encode();
    all.Merge(ks);
  }
  return {all.Encode(), last_delta};
}

// libFuzzer dictionary entries (a quoted string with \xNN escapes) for the varints of v.
std::string DictVarint(uint64_t v) {
  std::string out = "\"";
  char buf[8];
  do {
    uint8_t b = static_cast<uint8_t>((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
    std::snprintf(buf, sizeof(buf), "\\x%02X", b);
    out += buf;
    v >>= 7;
  } while (v != 0);
  return out + "\"\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: aasim-fuzz-seeds OUT_DIR\n");
    return 2;
  }
  fs::path dir(argv[1]);
  for (const char* sub : {"engine", "keyspace", "repl", "resp"}) fs::create_directories(dir / sub);

  std::string dict;
  for (const auto& c : cluster_sim::kStoreCommands) {
    std::string upper;
    for (char ch : c.name)
      upper.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch);
    dict += "\"" + upper + " \"\n";
  }
  Write(dir / "engine.dict", dict);
  std::string varints;
  for (uint64_t v :
       {uint64_t{UINT32_MAX} - 1, uint64_t{UINT32_MAX}, uint64_t{1} << 32, (uint64_t{1} << 63) - 1,
        uint64_t{1} << 63, uint64_t{0} - (uint64_t{1} << 32), uint64_t{0} - 2, uint64_t{0} - 1}) {
    varints += DictVarint(v);
  }
  Write(dir / "keyspace.dict", varints);

  // States of several replicas: as keyspace inputs, and their counter and context alone
  // (keyspace_fuzz.cc also decodes its bytes as two counters and as two contexts).
  const std::vector<std::string> many = ManyReplicas();
  for (size_t i = 0; i < many.size(); ++i) {
    Write(dir / "keyspace" / ("replicas-" + std::to_string(i)), std::string(1, '\0') + many[i]);
  }
  std::string many_repl;
  PutMsg(2, 1, {many[0]}, &many_repl);
  PutMsg(0, 2, {many[1]}, &many_repl);
  Write(dir / "repl" / "replicas", many_repl);
  {
    std::string error;
    auto merged = crdt::Keyspace::Decode(many[0], crdt::MakeReplicaId(0, 1), &error);
    if (!merged) {
      std::fprintf(stderr, "aasim-fuzz-seeds: %s\n", error.c_str());
      return 1;
    }
    crdt::Encoder ctx;
    merged->context().Encode(&ctx);
    merged->context().Encode(&ctx);
    Write(dir / "keyspace" / "contexts", std::string(1, '\0') + ctx.Release());
    crdt::PnCounter counter;
    for (uint16_t site : {0, 1, 7, 0xFFFF}) {
      counter.JoinSlot({crdt::MakeReplicaId(site, 1), 0, 10u + site, 4, 3, 1});
    }
    Write(dir / "keyspace" / "counters",
          std::string(1, '\0') + counter.Encode() + counter.Encode());
  }

  int n = 0;
  for (std::string_view script : kScripts) {
    std::string name = "seed-" + std::to_string(n++);
    Write(dir / "engine" / name, script);
    std::vector<std::vector<std::string>> commands;
    auto effects = Effects(script, 1, &commands);
    std::string repl;
    for (size_t i = 0; i < effects.size(); ++i) {
      Write(dir / "keyspace" / (name + "-" + std::to_string(i)), std::string(1, '\0') + effects[i]);
      if (i + 1 < effects.size())
        PutMsg(0, i + 2, {effects[i]}, &repl);  // seq 1: the initial state
    }
    PutMsg(2, effects.size(), {effects.back()}, &repl);  // the full state
    repl.push_back(static_cast<char>(3 | (20 << 2)));    // timers: 200 ms
    Write(dir / "repl" / name, repl);
    std::string multibulk(1, '\0'), inline_text(1, '\1');
    for (const auto& argv_ : commands) {
      server::WriteArrayHeader(argv_.size(), &multibulk);
      for (const auto& a : argv_) server::WriteBulk(a, &multibulk);
      for (const auto& a : argv_) inline_text += a + " ";
      inline_text += "\r\n";
    }
    Write(dir / "resp" / (name + "-multibulk"), multibulk);
    Write(dir / "resp" / (name + "-inline"), inline_text);
  }
  std::printf("aasim-fuzz-seeds: %d scripts written to %s\n", n, dir.c_str());
  return 0;
}
