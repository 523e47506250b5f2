// RespParser and the reply writer: framing, pipelining, inline commands, every protocol
// error Redis gives, requests split at every byte, and fuzzing (random bytes, truncated
// frames, huge declared lengths): never a crash, never more memory than was received.
#include "server/resp.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"

namespace server {
namespace {

using Argv = std::vector<std::string>;
using R = RespParser::Result;

// Feeds `bytes` and returns every complete command; *error gets the protocol error if any.
std::vector<Argv> ParseAll(RespParser& p, std::string_view bytes, std::string* error) {
  p.Append(bytes);
  std::vector<Argv> out;
  Argv argv;
  for (;;) {
    R r = p.Next(&argv, error);
    if (r != R::kCommand) break;
    out.push_back(argv);
  }
  return out;
}

std::string Encode(const Argv& argv) {
  std::string s = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

TEST(RespParser, Multibulk) {
  RespParser p;
  std::string error;
  auto cmds = ParseAll(p, "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$5\r\nb\r\nar\r\n", &error);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"SET", "foo", "b\r\nar"}));
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_FALSE(p.failed());
}

TEST(RespParser, BinarySafeAndEmptyArguments) {
  RespParser p;
  std::string error;
  std::string bin("a\0b", 3);
  auto cmds = ParseAll(p, Encode({"SET", "", bin}), &error);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"SET", "", bin}));
}

TEST(RespParser, PipelinedCommandsComeOutInOrder) {
  RespParser p;
  std::string error;
  std::string all;
  for (int i = 0; i < 10000; ++i) all += Encode({"INCRBY", "k", std::to_string(i)});
  auto cmds = ParseAll(p, all, &error);
  ASSERT_EQ(cmds.size(), 10000u);
  for (int i = 0; i < 10000; ++i) EXPECT_EQ(cmds[static_cast<size_t>(i)][2], std::to_string(i));
}

TEST(RespParser, InlineCommandsWithQuotes) {
  RespParser p;
  std::string error;
  auto cmds = ParseAll(p, "PING\r\nSET k \"a b\\n\"\nGET 'k'\r\n\r\n", &error);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0], (Argv{"PING"}));
  EXPECT_EQ(cmds[1], (Argv{"SET", "k", "a b\n"}));
  EXPECT_EQ(cmds[2], (Argv{"GET", "k"}));
}

TEST(RespParser, EmptyMultibulkIsSkipped) {
  RespParser p;
  std::string error;
  auto cmds = ParseAll(p, "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", &error);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Argv{"PING"}));
}

TEST(RespParser, EverySplitPointGivesTheSameCommands) {
  std::string all = Encode({"SET", "key", "value"}) + "PING\r\n" + Encode({"SADD", "s", "x", ""});
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    for (size_t cut2 = cut; cut2 <= all.size(); cut2 += 7) {
      RespParser p;
      std::string error;
      auto a = ParseAll(p, std::string_view(all).substr(0, cut), &error);
      auto b = ParseAll(p, std::string_view(all).substr(cut, cut2 - cut), &error);
      auto c = ParseAll(p, std::string_view(all).substr(cut2), &error);
      a.insert(a.end(), b.begin(), b.end());
      a.insert(a.end(), c.begin(), c.end());
      ASSERT_EQ(a.size(), 3u) << "cut at " << cut << "," << cut2;
      EXPECT_EQ(a[2], (Argv{"SADD", "s", "x", ""}));
      EXPECT_EQ(p.buffered(), 0u);
    }
  }
}

TEST(RespParser, TruncatedFrameWaitsForMore) {
  RespParser p;
  std::string error;
  Argv argv{"untouched"};
  p.Append("*2\r\n$3\r\nGET\r\n$3\r\nfo");
  EXPECT_EQ(p.Next(&argv, &error), R::kNeedMore);
  EXPECT_EQ(argv, (Argv{"untouched"}));
  p.Append("o\r\n");
  EXPECT_EQ(p.Next(&argv, &error), R::kCommand);
  EXPECT_EQ(argv, (Argv{"GET", "foo"}));
}

struct ErrorCase {
  const char* input;
  const char* error;
};

TEST(RespParser, ProtocolErrorsUseRedisTexts) {
  const ErrorCase cases[] = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*2147483648\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$99999999999\r\n", "Protocol error: invalid bulk length"},
      {"*1x\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*-0\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*-\r\n", "Protocol error: invalid multibulk length"},
      {"*123456789012345678901\r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$01\r\nx\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$00\r\n\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$+1\r\nx\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-0\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$ 1\r\nx\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$1234567890123456789\r\n", "Protocol error: invalid bulk length"},
      {"SET \"a b\r\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const auto& c : cases) {
    RespParser p;
    std::string error;
    auto cmds = ParseAll(p, c.input, &error);
    EXPECT_TRUE(cmds.empty()) << c.input;
    EXPECT_TRUE(p.failed()) << c.input;
    EXPECT_EQ(error, c.error) << c.input;
    // Stuck in the error state: nothing more comes out.
    Argv argv;
    p.Append("PING\r\n");
    EXPECT_EQ(p.Next(&argv, &error), R::kError);
  }
}

// What Redis lets through, the parser lets through: a header line ends at its first CR
// whatever follows it, the two bytes after an argument are not checked, a negative count
// is an empty request, and a NUL byte hides the end of a line (the request waits).
TEST(RespParser, RedisLeniencies) {
  RespParser p;
  std::string error;
  auto cmds = ParseAll(p, "*-5\r\n*0\r\n*1\rX$4\rYPINGxx*1\r\n$0\r\n\r\n", &error);
  ASSERT_EQ(cmds.size(), 2u) << error;
  EXPECT_EQ(cmds[0], (Argv{"PING"}));
  EXPECT_EQ(cmds[1], (Argv{""}));
  EXPECT_FALSE(p.failed());
  for (std::string_view held :
       {std::string_view("PING\0\r\n", 7), std::string_view("*1\0\r\n$4\r\nPING\r\n", 16),
        std::string_view("*1\r\n$4\0\r\nPING\r\n", 16)}) {
    RespParser q;
    EXPECT_TRUE(ParseAll(q, held, &error).empty()) << held;
    EXPECT_FALSE(q.failed()) << held;
  }
}

// A client that has not authenticated yet gets Redis's tighter limits.
TEST(RespParser, UnauthenticatedLimits) {
  for (bool required : {false, true}) {
    RespParser p;
    p.RequireAuth(required);
    std::string error;
    ParseAll(p, "*10\r\n" + std::string(10, 'x'), &error);
    EXPECT_FALSE(p.failed());
    RespParser q;
    q.RequireAuth(required);
    ParseAll(q, "*11\r\n", &error);
    EXPECT_EQ(q.failed(), required);
    if (required) {
      EXPECT_EQ(error, "Protocol error: unauthenticated multibulk length");
    }
    RespParser r;
    r.RequireAuth(required);
    ParseAll(r, "*1\r\n$16384\r\n", &error);
    EXPECT_FALSE(r.failed());
    RespParser t;
    t.RequireAuth(required);
    ParseAll(t, "*1\r\n$16385\r\n", &error);
    EXPECT_EQ(t.failed(), required);
    if (required) {
      EXPECT_EQ(error, "Protocol error: unauthenticated bulk length");
    }
  }
}

TEST(RespParser, LongLinesWithoutNewlineAreRejected) {
  RespLimits limits;
  limits.max_inline_bytes = 1024;
  {
    RespParser p(limits);
    std::string error;
    ParseAll(p, std::string(2000, 'a'), &error);
    EXPECT_EQ(error, "Protocol error: too big inline request");
  }
  {
    RespParser p(limits);
    std::string error;
    ParseAll(p, "*" + std::string(2000, '1'), &error);
    EXPECT_EQ(error, "Protocol error: too big mbulk count string");
  }
  {
    RespParser p(limits);
    std::string error;
    ParseAll(p, "*1\r\n$" + std::string(2000, '1'), &error);
    EXPECT_EQ(error, "Protocol error: too big bulk count string");
  }
  {  // the type byte is judged once the line has ended, as Redis does
    RespParser p(limits);
    std::string error;
    ParseAll(p, "*1\r\n+" + std::string(2000, 'x'), &error);
    EXPECT_EQ(error, "Protocol error: too big bulk count string");
  }
  {  // a NUL hides the newline after it
    RespParser p(limits);
    std::string error;
    ParseAll(p, std::string("GET \0k\r\n", 8) + std::string(2000, 'a'), &error);
    EXPECT_EQ(error, "Protocol error: too big inline request");
  }
}

TEST(RespParser, HugeDeclaredLengthCostsOnlyWhatArrives) {
  RespParser p;  // 512MB bulk limit
  std::string error;
  Argv argv;
  p.Append("*1\r\n$60000000\r\nabc");
  EXPECT_EQ(p.Next(&argv, &error), R::kNeedMore);
  EXPECT_LT(p.buffered(), 100u);
  // And over the limit it is an error, not an allocation.
  RespParser q;
  q.Append("*1\r\n$9223372036854775807\r\n");
  EXPECT_EQ(q.Next(&argv, &error), R::kError);
  EXPECT_EQ(error, "Protocol error: invalid bulk length");
}

TEST(RespParser, RequestSizeIsBounded) {
  RespLimits limits;
  limits.max_request_bytes = 10000;
  RespParser p(limits);
  std::string error;
  std::string req = "*100\r\n";
  for (int i = 0; i < 100; ++i) req += "$200\r\n" + std::string(200, 'x') + "\r\n";
  auto cmds = ParseAll(p, req, &error);
  EXPECT_TRUE(cmds.empty());
  EXPECT_EQ(error, "Protocol error: request larger than 10000 bytes");
  // Empty arguments count their string objects, not just their six bytes on the wire.
  RespParser q(limits);
  req = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) req += "$0\r\n\r\n";
  EXPECT_TRUE(ParseAll(q, req, &error).empty());
  EXPECT_EQ(error, "Protocol error: request larger than 10000 bytes");
}

// Random bytes, random mutations of valid requests, random truncations: the parser must
// end every input in a defined state without crashing, and never hold much more than
// what it was given.
TEST(RespParser, FuzzNeverCrashesAndStaysBounded) {
  uint64_t seed = 20260601;
  if (const char* s = std::getenv("AASIM_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  cluster_sim::Rng rng(seed);
  const std::string valid = Encode({"SET", "k", "v"}) + "PING\r\n" +
                            Encode({"SADD", "group", "paul", "jorma"}) + "*1\r\n$4\r\nPING\r\n";
  int commands = 0, errors = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string input;
    switch (rng.Uniform(4)) {
      case 0:  // random bytes
        for (uint64_t n = rng.Uniform(200); n > 0; --n) {
          input.push_back(static_cast<char>(rng.Uniform(256)));
        }
        break;
      case 1:  // a valid stream with a few bytes flipped
        input = valid;
        for (uint64_t n = 1 + rng.Uniform(3); n > 0; --n) {
          input[rng.Uniform(input.size())] = static_cast<char>(rng.Uniform(256));
        }
        break;
      case 2:  // truncated
        input = valid.substr(0, rng.Uniform(valid.size()));
        break;
      default:  // huge or odd lengths
        input = "*" + std::to_string(rng.Uniform(3'000'000)) + "\r\n$" +
                std::to_string(static_cast<int64_t>(rng.Next() >> 1) - (int64_t{1} << 40)) +
                "\r\nxyz";
        break;
    }
    RespParser p;
    std::string error;
    // Feed in random pieces.
    size_t at = 0;
    Argv argv;
    bool failed = false;
    while (at < input.size() && !failed) {
      size_t n = 1 + rng.Uniform(input.size() - at);
      p.Append(std::string_view(input).substr(at, n));
      at += n;
      for (;;) {
        R r = p.Next(&argv, &error);
        if (r == R::kCommand) {
          ++commands;
          ASSERT_FALSE(argv.empty());
          continue;
        }
        if (r == R::kError) {
          ++errors;
          failed = true;
          ASSERT_EQ(error.rfind("Protocol error: ", 0), 0u) << error;
        }
        break;
      }
      ASSERT_LE(p.buffered(), input.size());
    }
  }
  EXPECT_GT(commands, 1000);
  EXPECT_GT(errors, 1000);
}

TEST(ReplyWriter, EncodesEveryType) {
  using cluster_sim::Reply;
  std::string out;
  WriteReply(Reply::Status("OK"), &out);
  WriteReply(Reply::Error("ERR bad\r\nthing"), &out);
  WriteReply(Reply::Integer(-42), &out);
  WriteReply(Reply::Bulk(std::string("a\0b", 3)), &out);
  WriteReply(Reply::Nil(), &out);
  WriteReply(Reply::Array({Reply::Integer(1), Reply::Array({}), Reply::Bulk("")}), &out);
  EXPECT_EQ(out, "+OK\r\n-ERR bad  thing\r\n:-42\r\n$3\r\na" + std::string(1, '\0') +
                     "b\r\n$-1\r\n*3\r\n:1\r\n*0\r\n$0\r\n\r\n");
}

}  // namespace
}  // namespace server
