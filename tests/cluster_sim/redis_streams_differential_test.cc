// Differential test of replicated streams (engine_stream.cc) in one region against a real
// redis-server started by the test: seeded random stream command lines, error cases
// included, on a memory store that replicates streams in the liberal id mode (open-source
// Redis's id rules) and on the server, must give the same replies. Excluded: `*` ids (the
// server's clock), BLOCK (the server would wait) and the idle times and delivery counts of
// XPENDING's extended form (clocks; Redis counts history reads as deliveries).
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/redis_server.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "crdt/stream.h"
#include "redis_test_util.h"

namespace cluster_sim {

static void PrintTo(const Reply& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using Argv = std::vector<std::string>;

Argv RandomStreamLine(Rng& rng, int step) {
  auto pick = [&rng](std::initializer_list<const char*> from) {
    return std::string(*(from.begin() + rng.Uniform(from.size())));
  };
  auto key = [&] { return pick({"s1", "s1", "s2", "k1", "nokey"}); };
  auto id = [&] {
    return rng.OneIn(8)
               ? pick({"abc", "0-0", "-", "1-x", "18446744073709551615-18446744073709551615"})
               : std::to_string(rng.Uniform(static_cast<uint64_t>(step) + 3)) +
                     (rng.OneIn(3) ? "" : "-" + std::to_string(rng.Uniform(3)));
  };
  auto bound = [&] { return rng.OneIn(4) ? pick({"-", "+", "(3", "(5-1"}) : id(); };
  auto group = [&] { return pick({"g1", "g2"}); };
  auto n = [&] { return pick({"0", "1", "2", "5", "-1", "x"}); };
  switch (rng.Uniform(20)) {
    case 0:
    case 1:
    case 2:
      return {"XADD", key(), std::to_string(step + 1) + (rng.OneIn(2) ? "-*" : "-1"), "f",
              std::to_string(step)};
    case 3:
      return {"XADD", key(), id(), "f", "v"};
    case 4:
      return {"XADD", key(), "NOMKSTREAM", "MAXLEN", n(), std::to_string(step + 1), "a", "b"};
    case 5:
      return {"XRANGE", key(), bound(), bound()};
    case 6:
      return {"XREVRANGE", key(), bound(), bound(), "COUNT", n()};
    case 7:
      return {"XLEN", key()};
    case 8:
      return {"XDEL", key(), id(), id()};
    case 9:
      return {"XTRIM", key(), pick({"MAXLEN", "MINID", "maxlen"}), rng.OneIn(2) ? n() : id()};
    case 10:
      return {"XREAD", "COUNT", n(), "STREAMS", key(), key(), rng.OneIn(3) ? "$" : id(), id()};
    case 11:
      return {pick({"DEL", "TYPE", "EXISTS"}), key()};
    case 12:
      return {"SET", "k1", "v"};
    case 13:
      return {"XGROUP",
              "CREATE",
              key(),
              group(),
              pick({"0", "$", "3-0"}),
              rng.OneIn(2) ? "MKSTREAM" : "x"};
    case 14:
      return {"XGROUP", pick({"DESTROY", "destroy"}), key(), group()};
    case 15:
      return {"XGROUP", "CREATECONSUMER", key(), group(), pick({"alice", "bob"})};
    case 16:
    case 17:
      return {"XREADGROUP", "GROUP",   group(), pick({"alice", "bob"}),  "COUNT",
              n(),          "STREAMS", key(),   rng.OneIn(3) ? "0" : ">"};
    case 18:
      return {"XACK", key(), group(), id(), id()};
    default:
      return {"XPENDING", key(), group()};
  }
}

class StreamsVersusRedis : public ::testing::TestWithParam<int> {};

TEST_P(StreamsVersusRedis, SameReplies) {
  AASIM_LAUNCH_REDIS(server);
  testing::RawRedis raw(server->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw.Run({"FLUSHALL"}), Reply::Status("OK"));
  std::unique_ptr<Store> memory = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  memory->SetStreamOptions(true, crdt::StreamIdMode::kLiberal);
  Rng rng(static_cast<uint64_t>(GetParam()));
  int64_t clock = 1'000'000;
  std::string history;  // printed on a failure when AASIM_TRACE is set
  for (int step = 0; step < 2000; ++step) {
    clock += 1000;
    Argv argv = RandomStreamLine(rng, step);
    if (argv.size() == 8 && argv[6] == "$" && argv[0] == "XREAD") argv[6] = "0";
    Reply want = raw.Run(argv);
    Reply got = memory->Execute(argv, clock, nullptr);
    std::string line;
    for (const std::string& a : argv) line += "'" + a + "' ";
    history += std::to_string(step) + ": " + line + "-> " + want.ToString() + "\n";
    ASSERT_EQ(testing::AsHiredisReadsIt(got), want)
        << "seed " << GetParam() << " step " << step << ": " << line << "\n"
        << (std::getenv("AASIM_TRACE") ? history : "");
  }
  // The extended XPENDING, idle times and delivery counts aside.
  for (const char* g : {"g1", "g2"}) {
    Argv argv = {"XPENDING", "s1", g, "-", "+", "100"};
    Reply want = raw.Run(argv), got = memory->Execute(argv, clock, nullptr);
    ASSERT_EQ(got.type, want.type);
    if (got.type != Reply::Type::kArray) continue;
    ASSERT_EQ(got.elements.size(), want.elements.size());
    for (size_t i = 0; i < got.elements.size(); ++i) {
      EXPECT_EQ(got.elements[i].elements[0], want.elements[i].elements[0]);
      EXPECT_EQ(got.elements[i].elements[1], want.elements[i].elements[1]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, StreamsVersusRedis, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace cluster_sim
