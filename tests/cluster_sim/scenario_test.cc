// Tests for the strict scenario loader (scenario.h), its strict-YAML helper (strict_yaml.h),
// durations (time.h) and the step interpreter's time policies (runner.h).
#include "cluster_sim/scenario.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/runner.h"
#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"
#include "cluster_sim/strict_yaml.h"
#include "cluster_sim/time.h"

namespace cluster_sim {
namespace {

using ::std::chrono::microseconds;
using Strings = std::vector<std::string>;

// Test YAML is written as R"(...)" starting on the line after the opening; drop that first
// newline so that line 1 of the text is line 1 of the file.
std::string Yaml(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return std::string(text);
}

// The steps' marks, which FormatScenario leaves out.
std::vector<std::string> StepMarks(const Scenario& s) {
  std::vector<std::string> marks;
  for (const Step& step : s.steps) {
    marks.push_back(std::to_string(step.mark.line) + ":" + std::to_string(step.mark.column) + " " +
                    std::to_string(step.value_mark.line) + ":" +
                    std::to_string(step.value_mark.column));
  }
  return marks;
}

// ParseScenario both ways, the steps streamed where the file allows it (as always) and the
// whole tree built: every test of the loader checks that the two agree, on the scenario
// and its step marks or on the error.
Result<Scenario> ParseBothWays(const std::string& text, const std::string& file,
                               ParseOptions options = {}) {
  options.stream_steps = true;
  Result<Scenario> streamed = ParseScenario(text, file, options);
  options.stream_steps = false;
  Result<Scenario> tree = ParseScenario(text, file, options);
  EXPECT_EQ(streamed.ok(), tree.ok()) << text;
  if (streamed.ok() && tree.ok()) {
    EXPECT_EQ(FormatScenario(*streamed), FormatScenario(*tree)) << text;
    EXPECT_EQ(StepMarks(*streamed), StepMarks(*tree)) << text;
  } else if (!streamed.ok() && !tree.ok()) {
    EXPECT_EQ(streamed.status().message(), tree.status().message()) << text;
  }
  return streamed;
}

Scenario MustParse(std::string_view text) {
  Result<Scenario> result = ParseBothWays(Yaml(text), "t.yaml");
  EXPECT_TRUE(result.ok()) << result.status().message();
  return result.ok() ? std::move(result).value() : Scenario{};
}

// The error message of a scenario that must fail.
std::string ErrorOf(std::string_view text) {
  Result<Scenario> result = ParseBothWays(Yaml(text), "t.yaml");
  if (result.ok()) return "<parsed without error>";
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  return result.status().message();
}

// A valid scenario around the given steps (regions A, B, C).
std::string WithSteps(std::string_view steps) {
  return "name: t\nregions: [A, B, C]\nsteps:\n" + std::string(steps);
}

// ---------------------------------------------------------------------------------------
// Durations

TEST(ParseDurationTest, AcceptsUnitsIntegersAndDecimals) {
  EXPECT_EQ(ParseDuration("250us"), microseconds(250));
  EXPECT_EQ(ParseDuration("1.5ms"), microseconds(1500));
  EXPECT_EQ(ParseDuration("2s"), microseconds(2000000));
  EXPECT_EQ(ParseDuration("0ms"), microseconds(0));
  EXPECT_EQ(ParseDuration("0us"), microseconds(0));
  EXPECT_EQ(ParseDuration("40ms"), microseconds(40000));
  EXPECT_EQ(ParseDuration("0.000001s"), microseconds(1));
  EXPECT_EQ(ParseDuration("3.000012s"), microseconds(3000012));
  EXPECT_EQ(ParseDuration("007ms"), microseconds(7000));
  EXPECT_EQ(ParseDuration("1.250ms"), microseconds(1250));
}

TEST(ParseDurationTest, RoundsSubMicrosecondFractionsToNearest) {
  EXPECT_EQ(ParseDuration("1.0004ms"), microseconds(1000));
  EXPECT_EQ(ParseDuration("1.0005ms"), microseconds(1001));
  EXPECT_EQ(ParseDuration("0.4us"), microseconds(0));
  EXPECT_EQ(ParseDuration("0.5us"), microseconds(1));
  EXPECT_EQ(ParseDuration("2.9999999s"), microseconds(3000000));
  EXPECT_EQ(ParseDuration("-0.5us", true), microseconds(-1));
}

TEST(ParseDurationTest, NegativeOnlyWhenAllowed) {
  EXPECT_EQ(ParseDuration("-40ms", /*allow_negative=*/true), microseconds(-40000));
  EXPECT_EQ(ParseDuration("-1.5s", /*allow_negative=*/true), microseconds(-1500000));
  EXPECT_EQ(ParseDuration("-0ms", /*allow_negative=*/true), microseconds(0));
  EXPECT_EQ(ParseDuration("-40ms"), std::nullopt);
  EXPECT_EQ(ParseDuration("-40ms", /*allow_negative=*/false), std::nullopt);
}

TEST(ParseDurationTest, AcceptsMinutesAndHoursOnInput) {
  EXPECT_EQ(ParseDuration("1h"), SimTime(3'600'000'000));
  EXPECT_EQ(ParseDuration("1.5h"), SimTime(5'400'000'000));
  EXPECT_EQ(ParseDuration("2min"), SimTime(120'000'000));
  EXPECT_EQ(ParseDuration("0.0000001min"), SimTime(6));
  EXPECT_EQ(ParseDuration("-1h", /*allow_negative=*/true), SimTime(-3'600'000'000));
  EXPECT_EQ(ParseDuration("-1h"), std::nullopt);
  EXPECT_EQ(ParseDuration("1.0000000001h"), std::nullopt);    // more than 9 fraction digits
  EXPECT_EQ(ParseDuration("99999999999999h"), std::nullopt);  // overflow
  EXPECT_EQ(FormatDuration(SimTime(3'600'000'000)), "3600s");
}

TEST(ParseDurationTest, RejectsEverythingElse) {
  for (std::string_view bad :
       {"",     "40",     "1.5",  "ms",    "-ms",  "1.ms", ".5ms",  "1 ms",  " 1ms",  "1ms ",
        "1m",   "1H",     "1Min", "1MS",   "1Ms",  "+1ms", "--1ms", "1e3ms", "1,5ms", "1.2.3ms",
        "1ms2", "0x10ms", "fast", "1\tms", "1mss", "1us1", "- 1ms", "∞ms"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << '"' << bad << '"';
    EXPECT_EQ(ParseDuration(bad, /*allow_negative=*/true), std::nullopt) << '"' << bad << '"';
  }
}

TEST(ParseDurationTest, RejectsOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(ParseDuration("9223372036854775807us"), microseconds(kMax));
  EXPECT_EQ(ParseDuration("9223372036854775808us"), std::nullopt);
  EXPECT_EQ(ParseDuration("-9223372036854775808us", true), microseconds(kMin));
  EXPECT_EQ(ParseDuration("-9223372036854775809us", true), std::nullopt);
  EXPECT_EQ(ParseDuration("9223372036854.775807s"), microseconds(kMax));
  EXPECT_EQ(ParseDuration("9223372036854.775808s"), std::nullopt);
  EXPECT_EQ(ParseDuration("9223372036854776s"), std::nullopt);
  EXPECT_EQ(ParseDuration("99999999999999999999999999s"), std::nullopt);
  EXPECT_EQ(ParseDuration("18446744073709551616us"), std::nullopt);   // 2^64 wraps otherwise
  EXPECT_EQ(ParseDuration("9223372036854775807.5us"), std::nullopt);  // rounds past max
}

TEST(FormatDurationTest, ShortestExactForm) {
  EXPECT_EQ(FormatDuration(microseconds(0)), "0ms");
  EXPECT_EQ(FormatDuration(microseconds(80000)), "80ms");
  EXPECT_EQ(FormatDuration(microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatDuration(microseconds(2000000)), "2s");
  EXPECT_EQ(FormatDuration(microseconds(250)), "250us");
  EXPECT_EQ(FormatDuration(microseconds(3000012)), "3.000012s");
  EXPECT_EQ(FormatDuration(microseconds(1)), "1us");
  EXPECT_EQ(FormatDuration(microseconds(999)), "999us");
  EXPECT_EQ(FormatDuration(microseconds(1000)), "1ms");
  EXPECT_EQ(FormatDuration(microseconds(1001)), "1.001ms");
  EXPECT_EQ(FormatDuration(microseconds(100000)), "100ms");
  EXPECT_EQ(FormatDuration(microseconds(1250000)), "1.25s");
  EXPECT_EQ(FormatDuration(microseconds(60000000)), "60s");
}

TEST(FormatDurationTest, Negative) {
  EXPECT_EQ(FormatDuration(microseconds(-40000)), "-40ms");
  EXPECT_EQ(FormatDuration(microseconds(-1500)), "-1.5ms");
  EXPECT_EQ(FormatDuration(microseconds(-1)), "-1us");
  EXPECT_EQ(FormatDuration(microseconds(std::numeric_limits<int64_t>::min())),
            "-9223372036854.775808s");
  EXPECT_EQ(FormatDuration(microseconds(std::numeric_limits<int64_t>::max())),
            "9223372036854.775807s");
}

TEST(FormatDurationTest, RoundTripsThroughParseDuration) {
  std::vector<int64_t> values = {0,
                                 1,
                                 9,
                                 10,
                                 999,
                                 1000,
                                 1001,
                                 1500,
                                 80000,
                                 999999,
                                 1000000,
                                 1000001,
                                 3000012,
                                 60000000,
                                 123456789,
                                 -1,
                                 -40000,
                                 -1500000,
                                 std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min()};
  // Plus pseudo-random values of every magnitude (SplitMix64, fixed seed).
  const uint64_t seed = 20240611;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  uint64_t state = seed;
  for (int i = 0; i < 2000; ++i) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    values.push_back(static_cast<int64_t>(z >> (i % 64)));
    values.push_back(-static_cast<int64_t>(z >> (1 + i % 63)));
  }
  for (int64_t v : values) {
    const std::string text = FormatDuration(microseconds(v));
    EXPECT_EQ(ParseDuration(text, /*allow_negative=*/true), microseconds(v)) << text;
  }
}

TEST(FormatDurationTest, ParseThenFormatIsCanonical) {
  EXPECT_EQ(FormatDuration(*ParseDuration("1500us")), "1.5ms");
  EXPECT_EQ(FormatDuration(*ParseDuration("0.08s")), "80ms");
  EXPECT_EQ(FormatDuration(*ParseDuration("2000ms")), "2s");
  EXPECT_EQ(FormatDuration(*ParseDuration("1.50ms")), "1.5ms");
  EXPECT_EQ(FormatDuration(*ParseDuration("0s")), "0ms");
}

// ---------------------------------------------------------------------------------------
// Command tokenization (redis-cli rules)

Strings Split(std::string_view line) {
  Result<Strings> result = SplitCommand(line);
  EXPECT_TRUE(result.ok()) << line << ": " << result.status().message();
  return result.ok() ? result.value() : Strings{"<error>"};
}

std::string SplitError(std::string_view line) {
  Result<Strings> result = SplitCommand(line);
  return result.ok() ? "<ok>" : result.status().message();
}

TEST(SplitCommandTest, Whitespace) {
  EXPECT_EQ(Split("INCR foo"), (Strings{"INCR", "foo"}));
  EXPECT_EQ(Split("  SET   foo\tbar  "), (Strings{"SET", "foo", "bar"}));
  EXPECT_EQ(Split(""), Strings{});
  EXPECT_EQ(Split("   "), Strings{});
}

TEST(SplitCommandTest, DoubleQuotes) {
  EXPECT_EQ(Split("SET k \"hello world\""), (Strings{"SET", "k", "hello world"}));
  EXPECT_EQ(Split(R"(SET k "a\"b\\c")"), (Strings{"SET", "k", "a\"b\\c"}));
  EXPECT_EQ(Split(R"(SET k "\n\r\t\b\a")"), (Strings{"SET", "k", "\n\r\t\b\a"}));
  EXPECT_EQ(Split(R"(SET k "\x41\x7a\x00!")"), (Strings{"SET", "k", std::string("Az\0!", 4)}));
  EXPECT_EQ(Split(R"(SET k "\xZZ\q")"), (Strings{"SET", "k", "xZZq"}));
  EXPECT_EQ(Split("SET k \"\""), (Strings{"SET", "k", ""}));
  EXPECT_EQ(Split("SET k foo\"bar baz\""), (Strings{"SET", "k", "foobar baz"}));
}

TEST(SplitCommandTest, SingleQuotesAreLiteral) {
  EXPECT_EQ(Split(R"(SET k 'a "b" \n')"), (Strings{"SET", "k", R"(a "b" \n)"}));
  EXPECT_EQ(Split(R"(SET k 'it\'s')"), (Strings{"SET", "k", "it's"}));
  EXPECT_EQ(Split("SET k ''"), (Strings{"SET", "k", ""}));
}

TEST(SplitCommandTest, Errors) {
  EXPECT_EQ(SplitError("SET k \"abc"), "unbalanced quotes");
  EXPECT_EQ(SplitError("SET k 'abc"), "unbalanced quotes");
  EXPECT_EQ(SplitError("SET k \"abc\\"), "unbalanced quotes");
  EXPECT_EQ(SplitError("SET k \"a\"b"), "closing quote must be followed by a space");
  EXPECT_EQ(SplitError("SET k 'a'b"), "closing quote must be followed by a space");
}

// ---------------------------------------------------------------------------------------
// Happy paths

TEST(ParseScenarioTest, MinimalScenario) {
  Scenario s = MustParse(R"(
name: Minimal
regions: [A]
steps:
  - A: INCR foo
)");
  EXPECT_EQ(s.file, "t.yaml");
  EXPECT_EQ(s.name, "Minimal");
  EXPECT_EQ(s.source, "");
  EXPECT_FALSE(s.seed.has_value());
  ASSERT_EQ(s.regions.size(), 1u);
  EXPECT_EQ(s.regions[0].name, "A");
  EXPECT_FALSE(s.regions[0].lat.has_value());
  EXPECT_FALSE(s.regions[0].lon.has_value());
  EXPECT_EQ(s.regions[0].clock_skew, SimTime(0));
  EXPECT_EQ(s.regions[0].mark.line, 2);
  EXPECT_EQ(s.regions[0].mark.column, 11);
  EXPECT_FALSE(s.link_defaults.spec.has_value());
  EXPECT_EQ(s.link_defaults.route_factor, 1.5);
  EXPECT_TRUE(s.links.empty());
  ASSERT_EQ(s.steps.size(), 1u);
  EXPECT_EQ(s.steps[0].kind, Step::Kind::kCommand);
  EXPECT_EQ(s.steps[0].region, "A");
  EXPECT_EQ(s.steps[0].argv, (Strings{"INCR", "foo"}));
  EXPECT_EQ(s.steps[0].text, "INCR foo");
  EXPECT_FALSE(s.steps[0].expect.has_value());
  EXPECT_EQ(s.steps[0].mark.line, 4);
  EXPECT_EQ(s.steps[0].mark.column, 5);
}

TEST(ParseScenarioTest, TopLevelFields) {
  Scenario s = MustParse(R"(
# A comment first.
name: Resolving counter conflicts
source: Redis Microservices For Dummies, Table 4-1
seed: 18446744073709551615
regions: [us-west, eu_1, "2"]
steps: [sync]
)");
  EXPECT_EQ(s.name, "Resolving counter conflicts");
  EXPECT_EQ(s.source, "Redis Microservices For Dummies, Table 4-1");
  EXPECT_EQ(s.seed, std::numeric_limits<uint64_t>::max());
  ASSERT_EQ(s.regions.size(), 3u);
  EXPECT_EQ(s.regions[0].name, "us-west");
  EXPECT_EQ(s.regions[1].name, "eu_1");
  EXPECT_EQ(s.regions[2].name, "2");
  EXPECT_EQ(s.RegionIndex("us-west"), 0);
  EXPECT_EQ(s.RegionIndex("eu_1"), 1);
  EXPECT_EQ(s.RegionIndex("2"), 2);
  EXPECT_EQ(s.RegionIndex("eu"), -1);
  EXPECT_EQ(s.RegionIndex(""), -1);
}

TEST(ParseScenarioTest, SeedZero) {
  Scenario s = MustParse("name: t\nseed: 0\nregions: [A]\nsteps: [sync]\n");
  EXPECT_EQ(s.seed, 0u);
}

TEST(ParseScenarioTest, RegionsMapWithOptions) {
  Scenario s = MustParse(R"(
name: Geo
regions:
  us-west: { lat: 37.77, lon: -122.42 }
  eu:      { lat: 50.11, lon: 8.68, clock_skew: 40ms }
  ap:      { clock_skew: -1.5ms }
  edge:
  poles: { lat: -90, lon: 180 }
steps: [sync]
)");
  ASSERT_EQ(s.regions.size(), 5u);
  const RegionSpec& us = s.regions[0];
  EXPECT_EQ(us.name, "us-west");
  EXPECT_DOUBLE_EQ(*us.lat, 37.77);
  EXPECT_DOUBLE_EQ(*us.lon, -122.42);
  EXPECT_EQ(us.clock_skew, SimTime(0));
  EXPECT_EQ(us.mark.line, 3);
  EXPECT_EQ(us.mark.column, 3);
  const RegionSpec& eu = s.regions[1];
  EXPECT_EQ(eu.name, "eu");
  EXPECT_DOUBLE_EQ(*eu.lat, 50.11);
  EXPECT_DOUBLE_EQ(*eu.lon, 8.68);
  EXPECT_EQ(eu.clock_skew, microseconds(40000));
  EXPECT_EQ(eu.mark.line, 4);
  const RegionSpec& ap = s.regions[2];
  EXPECT_EQ(ap.name, "ap");
  EXPECT_FALSE(ap.lat.has_value());
  EXPECT_FALSE(ap.lon.has_value());
  EXPECT_EQ(ap.clock_skew, microseconds(-1500));
  EXPECT_EQ(s.regions[3].name, "edge");
  EXPECT_FALSE(s.regions[3].lat.has_value());
  EXPECT_EQ(s.regions[3].clock_skew, SimTime(0));
  EXPECT_DOUBLE_EQ(*s.regions[4].lat, -90);
  EXPECT_DOUBLE_EQ(*s.regions[4].lon, 180);
}

TEST(ParseScenarioTest, Links) {
  Scenario s = MustParse(R"(
name: Links
regions: [A, B, C]
links:
  default: { latency: 50ms, jitter: 2ms, loss: 0.5, route_factor: 2 }
  A <-> B: { latency: 80ms, jitter: 5ms, loss: 0.01 }
  B -> C: { latency: 1.5ms }
  C -> B: { latency: 0ms, loss: 1 }
  A<->C: { latency: 2s, loss: 0 }
steps: [sync]
)");
  ASSERT_TRUE(s.link_defaults.spec.has_value());
  EXPECT_EQ(s.link_defaults.spec->latency, microseconds(50000));
  EXPECT_EQ(s.link_defaults.spec->jitter, microseconds(2000));
  EXPECT_EQ(s.link_defaults.spec->loss, 0.5);
  EXPECT_EQ(s.link_defaults.route_factor, 2.0);
  ASSERT_EQ(s.links.size(), 4u);

  EXPECT_EQ(s.links[0].from, "A");
  EXPECT_EQ(s.links[0].to, "B");
  EXPECT_TRUE(s.links[0].both_ways);
  EXPECT_EQ(s.links[0].spec.latency, microseconds(80000));
  EXPECT_EQ(s.links[0].spec.jitter, microseconds(5000));
  EXPECT_EQ(s.links[0].spec.loss, 0.01);
  EXPECT_EQ(s.links[0].mark.line, 5);
  EXPECT_EQ(s.links[0].mark.column, 3);

  EXPECT_EQ(s.links[1].from, "B");
  EXPECT_EQ(s.links[1].to, "C");
  EXPECT_FALSE(s.links[1].both_ways);
  EXPECT_EQ(s.links[1].spec.latency, microseconds(1500));
  EXPECT_EQ(s.links[1].spec.jitter, SimTime(0));
  EXPECT_EQ(s.links[1].spec.loss, 0.0);
  EXPECT_EQ(s.links[1].mark.line, 6);

  EXPECT_EQ(s.links[2].from, "C");
  EXPECT_EQ(s.links[2].to, "B");
  EXPECT_FALSE(s.links[2].both_ways);
  EXPECT_EQ(s.links[2].spec.latency, SimTime(0));
  EXPECT_EQ(s.links[2].spec.loss, 1.0);

  EXPECT_EQ(s.links[3].from, "A");
  EXPECT_EQ(s.links[3].to, "C");
  EXPECT_TRUE(s.links[3].both_ways);
  EXPECT_EQ(s.links[3].spec.latency, microseconds(2000000));
}

TEST(ParseScenarioTest, LinkDefaultWithOnlyRouteFactorHasNoSpec) {
  Scenario s = MustParse(R"(
name: t
regions: [A, B]
links:
  default: { route_factor: 1 }
steps: [sync]
)");
  EXPECT_FALSE(s.link_defaults.spec.has_value());
  EXPECT_EQ(s.link_defaults.route_factor, 1.0);
  EXPECT_TRUE(s.links.empty());
}

TEST(ParseScenarioTest, LinkDefaultLatencyOnly) {
  Scenario s = MustParse(R"(
name: t
regions: [A, B]
links:
  default: { latency: 50ms }
steps: [sync]
)");
  ASSERT_TRUE(s.link_defaults.spec.has_value());
  EXPECT_EQ(s.link_defaults.spec->latency, microseconds(50000));
  EXPECT_EQ(s.link_defaults.spec->jitter, SimTime(0));
  EXPECT_EQ(s.link_defaults.spec->loss, 0.0);
  EXPECT_EQ(s.link_defaults.route_factor, 1.5);
}

TEST(ParseScenarioTest, EmptyLinksIsNoLinks) {
  Scenario s = MustParse("name: t\nregions: [A, B]\nlinks:\nsteps: [sync]\n");
  EXPECT_FALSE(s.link_defaults.spec.has_value());
  EXPECT_TRUE(s.links.empty());
}

TEST(ParseScenarioTest, AllStepKinds) {
  Scenario s = MustParse(R"(
name: Every step
regions: [A, B, C, D]
steps:
  - note: Two writes at the same instant
  - A: SET balance 100
  - B: INCRBY balance 5
    expect: 5
  - partition: [A, B]
  - partition: [[A, B], [C, D]]
  - heal: [A, B]
  - heal: [[A], [C, D]]
  - heal: all
  - wait: 100ms
  - at: 2s
  - sync
  - sync: {}
  - sync: null
  - converged: [balance, group]
  - converged: []
  - crash: C
  - restart: C
  - partition: [A, [B, C]]
)");
  ASSERT_EQ(s.steps.size(), 18u);
  const std::vector<Step>& st = s.steps;

  EXPECT_EQ(st[0].kind, Step::Kind::kNote);
  EXPECT_EQ(st[0].text, "Two writes at the same instant");
  EXPECT_EQ(st[0].mark.line, 4);
  EXPECT_EQ(st[0].mark.column, 5);

  EXPECT_EQ(st[1].kind, Step::Kind::kCommand);
  EXPECT_EQ(st[1].region, "A");
  EXPECT_EQ(st[1].argv, (Strings{"SET", "balance", "100"}));
  EXPECT_EQ(st[1].text, "SET balance 100");
  EXPECT_FALSE(st[1].expect.has_value());

  EXPECT_EQ(st[2].kind, Step::Kind::kCommand);
  EXPECT_EQ(st[2].region, "B");
  EXPECT_EQ(st[2].argv, (Strings{"INCRBY", "balance", "5"}));
  ASSERT_TRUE(st[2].expect.has_value());
  EXPECT_EQ(st[2].expect->kind, Expectation::Kind::kScalar);
  EXPECT_EQ(st[2].expect->text, "5");
  EXPECT_EQ(st[2].expect->mark.line, 7);
  EXPECT_EQ(st[2].expect->mark.column, 13);
  EXPECT_EQ(st[2].mark.line, 6);

  EXPECT_EQ(st[3].kind, Step::Kind::kPartition);
  EXPECT_EQ(st[3].groups, (std::vector<Strings>{{"A"}, {"B"}}));
  EXPECT_FALSE(st[3].all);
  EXPECT_EQ(st[4].kind, Step::Kind::kPartition);
  EXPECT_EQ(st[4].groups, (std::vector<Strings>{{"A", "B"}, {"C", "D"}}));

  EXPECT_EQ(st[5].kind, Step::Kind::kHeal);
  EXPECT_EQ(st[5].groups, (std::vector<Strings>{{"A"}, {"B"}}));
  EXPECT_FALSE(st[5].all);
  EXPECT_EQ(st[6].kind, Step::Kind::kHeal);
  EXPECT_EQ(st[6].groups, (std::vector<Strings>{{"A"}, {"C", "D"}}));
  EXPECT_EQ(st[7].kind, Step::Kind::kHeal);
  EXPECT_TRUE(st[7].all);
  EXPECT_TRUE(st[7].groups.empty());

  EXPECT_EQ(st[8].kind, Step::Kind::kWait);
  EXPECT_EQ(st[8].duration, microseconds(100000));
  EXPECT_EQ(st[9].kind, Step::Kind::kAt);
  EXPECT_EQ(st[9].duration, microseconds(2000000));

  EXPECT_EQ(st[10].kind, Step::Kind::kSync);
  EXPECT_EQ(st[10].mark.line, 15);
  EXPECT_EQ(st[10].mark.column, 5);
  EXPECT_EQ(st[11].kind, Step::Kind::kSync);
  EXPECT_EQ(st[12].kind, Step::Kind::kSync);

  EXPECT_EQ(st[13].kind, Step::Kind::kConverged);
  EXPECT_EQ(st[13].keys, (Strings{"balance", "group"}));
  EXPECT_EQ(st[14].kind, Step::Kind::kConverged);
  EXPECT_TRUE(st[14].keys.empty());

  EXPECT_EQ(st[15].kind, Step::Kind::kCrash);
  EXPECT_EQ(st[15].region, "C");
  EXPECT_EQ(st[16].kind, Step::Kind::kRestart);
  EXPECT_EQ(st[16].region, "C");

  EXPECT_EQ(st[17].kind, Step::Kind::kPartition);
  EXPECT_EQ(st[17].groups, (std::vector<Strings>{{"A"}, {"B", "C"}}));

  for (size_t i = 0; i < st.size(); ++i) {
    if (st[i].kind != Step::Kind::kCommand) {
      EXPECT_FALSE(st[i].expect.has_value()) << i;
    }
  }
}

TEST(ParseScenarioTest, FlowStyleSteps) {
  Scenario s = MustParse(R"(
name: t
regions: [A, B]
steps: [{A: INCR x, expect: 1}, sync, {wait: 1s}]
)");
  ASSERT_EQ(s.steps.size(), 3u);
  EXPECT_EQ(s.steps[0].kind, Step::Kind::kCommand);
  EXPECT_EQ(s.steps[0].expect->text, "1");
  EXPECT_EQ(s.steps[1].kind, Step::Kind::kSync);
  EXPECT_EQ(s.steps[1].mark.line, 3);
  EXPECT_EQ(s.steps[1].mark.column, 33);
  EXPECT_EQ(s.steps[2].duration, microseconds(1000000));
}

TEST(ParseScenarioTest, ExpectationKinds) {
  Scenario s = MustParse(R"(
name: Expectations
regions: [A]
steps:
  - A: GET n
    expect: 25
  - A: GET s
    expect: "25"
  - A: GET b
    expect: true
  - A: GET missing
    expect: null
  - A: GET missing
    expect: ~
  - A: GET literal
    expect: "null"
  - A: SMEMBERS s
    expect: [x, "y z", 3]
  - A: SMEMBERS empty
    expect: []
  - A: INCR s
    expect: {error: WRONGTYPE}
  - A: GET f
    expect: 1.50
  - A: GET e
    expect: ""
  - A: GET n
    expect: 'single'
  - A: GET n
    expect: Null
)");
  ASSERT_EQ(s.steps.size(), 13u);
  auto expect = [&](size_t i) -> const Expectation& { return *s.steps[i].expect; };
  for (size_t i = 0; i < s.steps.size(); ++i) ASSERT_TRUE(s.steps[i].expect.has_value()) << i;

  EXPECT_EQ(expect(0).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(0).text, "25");
  EXPECT_EQ(expect(1).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(1).text, "25");
  EXPECT_EQ(expect(2).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(2).text, "true");
  EXPECT_EQ(expect(3).kind, Expectation::Kind::kNull);
  EXPECT_EQ(expect(3).text, "");
  EXPECT_EQ(expect(3).mark.line, 11);
  EXPECT_EQ(expect(3).mark.column, 13);
  EXPECT_EQ(expect(4).kind, Expectation::Kind::kNull);
  EXPECT_EQ(expect(5).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(5).text, "null");
  EXPECT_EQ(expect(6).kind, Expectation::Kind::kList);
  EXPECT_EQ(expect(6).items, (Strings{"x", "y z", "3"}));
  EXPECT_EQ(expect(7).kind, Expectation::Kind::kList);
  EXPECT_TRUE(expect(7).items.empty());
  EXPECT_EQ(expect(8).kind, Expectation::Kind::kError);
  EXPECT_EQ(expect(8).text, "WRONGTYPE");
  EXPECT_EQ(expect(9).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(9).text, "1.50");
  EXPECT_EQ(expect(10).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(10).text, "");
  EXPECT_EQ(expect(11).kind, Expectation::Kind::kScalar);
  EXPECT_EQ(expect(11).text, "single");
  EXPECT_EQ(expect(12).kind, Expectation::Kind::kNull);
}

TEST(ParseScenarioTest, ExpectBeforeCommandKey) {
  Scenario s = MustParse(R"(
name: t
regions: [A]
steps:
  - expect: 1
    A: INCR x
)");
  ASSERT_EQ(s.steps.size(), 1u);
  EXPECT_EQ(s.steps[0].kind, Step::Kind::kCommand);
  EXPECT_EQ(s.steps[0].region, "A");
  EXPECT_EQ(s.steps[0].expect->text, "1");
  EXPECT_EQ(s.steps[0].mark.line, 4);
}

TEST(ParseScenarioTest, CommandQuotingInScenario) {
  Scenario s = MustParse(R"(
name: t
regions: [A]
steps:
  - A: SET greeting "hello world"
  - A: "SET k 'it\\'s' \"q\\\"x\""
  - A: SET k "tab\there"
  - A: SET k 'say "hi"'
)");
  ASSERT_EQ(s.steps.size(), 4u);
  EXPECT_EQ(s.steps[0].argv, (Strings{"SET", "greeting", "hello world"}));
  EXPECT_EQ(s.steps[0].text, "SET greeting \"hello world\"");
  // YAML unescapes first (double-quoted YAML scalar), then redis-cli rules apply to
  //   SET k 'it\'s' "q\"x"
  EXPECT_EQ(s.steps[1].text, R"(SET k 'it\'s' "q\"x")");
  EXPECT_EQ(s.steps[1].argv, (Strings{"SET", "k", "it's", "q\"x"}));
  // A plain YAML scalar keeps backslashes: redis-cli turns \t into a tab.
  EXPECT_EQ(s.steps[2].text, R"(SET k "tab\there")");
  EXPECT_EQ(s.steps[2].argv, (Strings{"SET", "k", "tab\there"}));
  EXPECT_EQ(s.steps[3].argv, (Strings{"SET", "k", "say \"hi\""}));
}

TEST(ParseScenarioTest, MarksUseFileLinesAndColumns) {
  Scenario s = MustParse(R"(
name: t
regions:
  - A
  -   B
steps:

    -   crash: B
)");
  EXPECT_EQ(s.regions[0].mark.line, 3);
  EXPECT_EQ(s.regions[0].mark.column, 5);
  EXPECT_EQ(s.regions[1].mark.line, 4);
  EXPECT_EQ(s.regions[1].mark.column, 7);
  EXPECT_EQ(s.steps[0].mark.line, 7);
  EXPECT_EQ(s.steps[0].mark.column, 9);
}

// ---------------------------------------------------------------------------------------
// Errors: one test per case, exact `file:line:col: message`.

TEST(ScenarioErrorTest, YamlSyntaxError) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B\nsteps: [sync]\n"),
            "t.yaml:3:6: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: a: b\n"),
            "t.yaml:3:9: invalid YAML: illegal map value");
  // yaml-cpp quotes the offending byte raw: the message escapes it (one printable line).
  EXPECT_EQ(ErrorOf("name: \"\\\x14\"\n"),
            "t.yaml:1:10: invalid YAML: unknown escape character: \\x14");
}

// Bytes that are not UTF-8 (a stray 0xFF, a cut or overlong sequence, a surrogate) are
// quoted as \xNN, in a key and in a value alike; valid UTF-8 is quoted as it is.
TEST(ScenarioErrorTest, BytesThatAreNotUtf8AreEscaped) {
  EXPECT_EQ(ErrorOf("name: x\nregions: [A, B]\nst\xff"
                    "eps:\n  - A: INCR k\n"),
            "t.yaml:3:1: unknown key 'st\\xff"
            "eps' (expected one of: name, source, seed, "
            "regions, links, steps, replication, ports, backends, bounded_counters, streams)");
  EXPECT_EQ(ErrorOf("name: x\nregions: [A, B]\nlinks:\n  default: { latency: 1\xffms }\n"
                    "steps:\n  - A: INCR k\n"),
            "t.yaml:4:23: links.default.latency: expected a duration like \"40ms\", got "
            "\"1\\xffms\"");
  EXPECT_EQ(ErrorOf("name: x\nregions: [A, B]\nsteps:\n  - C\xff\xfe: INCR k\n").substr(0, 36),
            "t.yaml:4:5: unknown step 'C\\xff\\xfe'");
  EXPECT_EQ(ErrorOf("name: x\nregions: [A, B\xe2\x82]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: invalid region name 'B\\xe2\\x82' (use letters, digits, '-' "
            "and '_')");
  EXPECT_EQ(
      ErrorOf("name: x\nregions: [A, \xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80]\nsteps: [sync]\n"),
      "t.yaml:2:14: regions: invalid region name '\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80' "
      "(use letters, digits, '-' and '_')");
  EXPECT_EQ(
      ErrorOf("name: x\nregions: [A, B\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82]\nsteps: [sync]\n"),
      "t.yaml:2:14: regions: invalid region name 'B\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82' (use "
      "letters, digits, '-' and '_')");
}

TEST(ScenarioErrorTest, LongTextIsShortenedWithoutSplittingASequence) {
  using strict_yaml::Printable;
  EXPECT_EQ(Printable(std::string(58, 'a') + "\xe2\x82\xac!"), std::string(58, 'a') + "...");
  EXPECT_EQ(Printable(std::string(57, 'a') + "\xe2\x82\xac!"),
            std::string(57, 'a') + "\xe2\x82\xac...");
  EXPECT_EQ(Printable(std::string(59, 'a') + "\xff\xff"), std::string(59, 'a') + "\\xff...");
  EXPECT_EQ(Printable(std::string(70, '\x80')).substr(0, 8), "\\x80\\x80");
  EXPECT_EQ(Printable("a\tb\nc\x01\x7f\xff"), "a\\tb\\nc\\x01\\x7f\\xff");
}

// The loader streams the steps when `steps:` is the last top-level key (each item parsed
// as it is read, no whole YAML tree) and loads the whole tree otherwise; both give the same
// steps, marks and first error.
TEST(ScenarioStreamingTest, AnchorsAndAliasesAcrossSteps) {
  Scenario s = MustParse(R"(
name: t
source: &cmd INCR k
regions: [A, B]
steps:
  - &first {A: INCR k, expect: 1}
  - *first
  - B: *cmd
  - sync
)");
  ASSERT_EQ(s.steps.size(), 4u);
  EXPECT_EQ(s.steps[0].argv, (std::vector<std::string>{"INCR", "k"}));
  EXPECT_EQ(s.steps[1].region, "A");
  // An alias is the anchored node itself, with its mark, as in YAML::Load's tree.
  EXPECT_EQ(s.steps[1].mark.line, 5);
  EXPECT_EQ(s.steps[1].mark.column, 5);
  EXPECT_EQ(s.steps[2].text, "INCR k");
  EXPECT_EQ(s.steps[3].kind, Step::Kind::kSync);
  EXPECT_EQ(s.steps[3].mark.line, 8);
}

// An alias makes the loader build the whole tree: streamed, each item's nodes would take in
// every earlier item's through the alias (quadratic: 20,000 such steps took 55 s, and none
// were freed), and `&a [*a]` needs the anchor known before its node ends.
TEST(ScenarioStreamingTest, AnAliasUsedByManyStepsLoadsInLinearTime) {
  std::string text = "name: t\nregions: [A]\nsteps:\n  - A: &c INCR k\n";
  for (int i = 0; i < 20'000; ++i) text += "  - A: *c\n";
  const auto start = std::chrono::steady_clock::now();
  Result<Scenario> s = ParseScenario(text, "t.yaml");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->steps.size(), 20'001u);
  EXPECT_EQ(s->steps.back().argv, (std::vector<std::string>{"INCR", "k"}));
  EXPECT_LT(seconds, 10.0) << "20,000 aliased steps";
}

TEST(ScenarioStreamingTest, ARecursiveAliasGivesTheTreesError) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n  - &a {A: *a}\n"),
            "t.yaml:4:5: A: expected a command like \"INCR foo\", got a map");
}

TEST(ScenarioStreamingTest, AKeyAfterTheStepsIsReadAsBefore) {
  Scenario s = MustParse("name: t\nsteps:\n  - A: INCR k\n  - wait: 10ms\nregions: [A]\n");
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[1].mark.line, 4);
  // The top level is checked before the steps, wherever they are.
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n  - B: INCR k\nlinks: 5\n"),
            "t.yaml:5:8: links: expected a map of \"A <-> B\" -> options, got \"5\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n  - A: INCR k\nsteps: [sync]\n"),
            "t.yaml:5:1: duplicate key 'steps' (first given at line 3)");
}

TEST(ScenarioStreamingTest, FirstErrorIsTheTreesFirstError) {
  // A step error, then a YAML syntax error further down: the syntax error, as YAML::Load.
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n  - B: INCR k\n  - [unclosed\n"),
            "t.yaml:6:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n  - B: INCR k\n  - C: INCR k\n"),
            "t.yaml:4:5: unknown step 'B' (not a region of this scenario nor a step kind: "
            "partition, heal, wait, at, sync, converged, crash, restart, note, load, check, "
            "lending@REGION)");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: []\n"),
            "t.yaml:3:8: steps: expected at least one step");
  EXPECT_EQ(ErrorOf("name: t\nregions: [B, B]\nsteps:\n  - B: INCR k\n"),
            "t.yaml:2:14: regions: duplicate region 'B'");
}

TEST(ScenarioErrorTest, EmptyFile) {
  EXPECT_EQ(ErrorOf(""), "t.yaml:1:1: empty file: expected a map with name, regions and steps");
  EXPECT_EQ(ErrorOf("# only a comment\n"),
            "t.yaml:1:1: empty file: expected a map with name, regions and steps");
}

TEST(ScenarioErrorTest, TopLevelNotAMap) {
  EXPECT_EQ(ErrorOf("- name: t\n"),
            "t.yaml:1:1: expected a map with name, regions and steps at the top level, got a list");
  EXPECT_EQ(ErrorOf("just text\n"),
            "t.yaml:1:1: expected a map with name, regions and steps at the top level, got "
            "\"just text\"");
}

// yaml-cpp 0.7's LoadAll() loops forever on these; the loader must not.
TEST(ScenarioErrorTest, StrayCommaIsAnErrorNotAHang) {
  EXPECT_EQ(ErrorOf(",name: t\nregions: [A]\nsteps: [sync]\n"),
            "t.yaml:1:1: invalid YAML: unexpected ','");
  EXPECT_EQ(ErrorOf("[a, b], c\n"), "t.yaml:1:7: invalid YAML: unexpected ','");
  EXPECT_EQ(ErrorOf("{name: t, regions: [A], steps: [sync]},\n"),
            "t.yaml:1:39: invalid YAML: unexpected ','");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: [sync]\n,\n"),
            "t.yaml:4:1: invalid YAML: end of map not found");
}

TEST(ScenarioErrorTest, MoreThanOneDocument) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: [sync]\n---\nname: u\n"),
            "t.yaml:5:1: expected one YAML document (one scenario), found a second one");
}

TEST(ScenarioErrorTest, UnknownTopLevelKey) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nstepz: [sync]\n"),
            "t.yaml:3:1: unknown key 'stepz' (expected one of: name, source, seed, regions, links, "
            "steps, replication, ports, backends, bounded_counters, streams)");
}

TEST(ScenarioErrorTest, DuplicateTopLevelKey) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nname: u\nsteps: [sync]\n"),
            "t.yaml:3:1: duplicate key 'name' (first given at line 1)");
}

TEST(ScenarioErrorTest, MissingRequiredKeys) {
  EXPECT_EQ(ErrorOf("regions: [A]\nsteps: [sync]\n"), "t.yaml:1:1: missing required key 'name'");
  EXPECT_EQ(ErrorOf("# c\nname: t\nsteps: [sync]\n"), "t.yaml:2:1: missing required key 'regions'");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\n"), "t.yaml:1:1: missing required key 'steps'");
}

TEST(ScenarioErrorTest, BadName) {
  EXPECT_EQ(ErrorOf("name:\nregions: [A]\nsteps: [sync]\n"),
            "t.yaml:1:1: name: expected text, got nothing");
  EXPECT_EQ(ErrorOf("name: [a]\nregions: [A]\nsteps: [sync]\n"),
            "t.yaml:1:7: name: expected text, got a list");
  EXPECT_EQ(ErrorOf("name: \"  \"\nregions: [A]\nsteps: [sync]\n"),
            "t.yaml:1:7: name: must not be empty");
  EXPECT_EQ(ErrorOf("name: t\nsource: {a: 1}\nregions: [A]\nsteps: [sync]\n"),
            "t.yaml:2:9: source: expected text, got a map");
}

TEST(ScenarioErrorTest, EmptySteps) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: []\n"),
            "t.yaml:3:8: steps: expected at least one step");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps:\n"),
            "t.yaml:3:1: steps: expected a list of steps, got nothing");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nsteps: {A: INCR x}\n"),
            "t.yaml:3:8: steps: expected a list of steps, got a map");
}

TEST(ScenarioErrorTest, BadSeed) {
  const std::string tail = "\nregions: [A]\nsteps: [sync]\n";
  EXPECT_EQ(ErrorOf("name: t\nseed: -1" + tail),
            "t.yaml:2:7: seed: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(ErrorOf("name: t\nseed: 1.5" + tail),
            "t.yaml:2:7: seed: expected a non-negative integer, got \"1.5\"");
  EXPECT_EQ(ErrorOf("name: t\nseed: seven" + tail),
            "t.yaml:2:7: seed: expected a non-negative integer, got \"seven\"");
  EXPECT_EQ(ErrorOf("name: t\nseed: 18446744073709551616" + tail),
            "t.yaml:2:7: seed: expected a non-negative integer, got \"18446744073709551616\"");
  EXPECT_EQ(ErrorOf("name: t\nseed: +7" + tail),
            "t.yaml:2:7: seed: expected a non-negative integer, got \"+7\"");
  EXPECT_EQ(ErrorOf("name: t\nseed:" + tail),
            "t.yaml:2:1: seed: expected a non-negative integer, got nothing");
}

TEST(ScenarioErrorTest, RegionsShape) {
  EXPECT_EQ(ErrorOf("name: t\nregions: []\nsteps: [sync]\n"),
            "t.yaml:2:10: regions: expected at least one region");
  EXPECT_EQ(ErrorOf("name: t\nregions: {}\nsteps: [sync]\n"),
            "t.yaml:2:10: regions: expected at least one region");
  EXPECT_EQ(ErrorOf("name: t\nregions: A\nsteps: [sync]\n"),
            "t.yaml:2:10: regions: expected a list of region names or a map of name -> options, "
            "got \"A\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, [B]]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: expected a region name, got a list");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: 5\nsteps: [sync]\n"),
            "t.yaml:3:6: regions.A: expected a map of options (lat, lon, clock_skew), got \"5\"");
}

TEST(ScenarioErrorTest, InvalidRegionName) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, \"b c\"]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: invalid region name 'b c' (use letters, digits, '-' and '_')");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, \"eu@1\"]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: invalid region name 'eu@1' (use letters, digits, '-' and '_')");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, \"\"]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: invalid region name '' (use letters, digits, '-' and '_')");
}

TEST(ScenarioErrorTest, ReservedRegionName) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, sync]\nsteps: [sync]\n"),
            "t.yaml:2:14: regions: 'sync' cannot be a region name (it is a step keyword)");
  EXPECT_EQ(ErrorOf("name: t\nregions: [expect]\nsteps: [sync]\n"),
            "t.yaml:2:11: regions: 'expect' cannot be a region name (it is a step keyword)");
}

TEST(ScenarioErrorTest, DuplicateRegion) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B, A]\nsteps: [sync]\n"),
            "t.yaml:2:17: regions: duplicate region 'A'");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: {}\n  A: {}\nsteps: [sync]\n"),
            "t.yaml:4:3: regions: duplicate key 'A' (first given at line 3)");
}

TEST(ScenarioErrorTest, UnknownRegionOption) {
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: 1, lon: 2, skew: 4ms }\nsteps: [sync]\n"),
            "t.yaml:3:24: regions.A: unknown option 'skew' (expected one of: lat, lon, "
            "clock_skew)");
}

TEST(ScenarioErrorTest, LatLonRange) {
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: 90.5, lon: 0 }\nsteps: [sync]\n"),
            "t.yaml:3:13: regions.A.lat: expected a number in [-90, 90], got \"90.5\"");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: 0, lon: -181 }\nsteps: [sync]\n"),
            "t.yaml:3:21: regions.A.lon: expected a number in [-180, 180], got \"-181\"");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: north, lon: 0 }\nsteps: [sync]\n"),
            "t.yaml:3:13: regions.A.lat: expected a number in [-90, 90], got \"north\"");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: nan, lon: 0 }\nsteps: [sync]\n"),
            "t.yaml:3:13: regions.A.lat: expected a number in [-90, 90], got \"nan\"");
}

TEST(ScenarioErrorTest, LatWithoutLon) {
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lat: 1 }\nsteps: [sync]\n"),
            "t.yaml:3:6: regions.A: lat and lon come together (lon is missing)");
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { lon: 1 }\nsteps: [sync]\n"),
            "t.yaml:3:6: regions.A: lat and lon come together (lat is missing)");
}

TEST(ScenarioErrorTest, BadClockSkew) {
  EXPECT_EQ(ErrorOf("name: t\nregions:\n  A: { clock_skew: 40 }\nsteps: [sync]\n"),
            "t.yaml:3:20: regions.A.clock_skew: expected a duration like \"40ms\", got \"40\"");
}

TEST(ScenarioErrorTest, LinksUnknownRegion) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> C: { latency: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:3: links: unknown region 'C' (regions are: A, B)");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  X -> B: { latency: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:3: links: unknown region 'X' (regions are: A, B)");
}

TEST(ScenarioErrorTest, LinksBadPairKey) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A - B: { latency: 1ms }\nsteps: [sync]\n"),
            "t.yaml:4:3: links: expected \"default\" or a pair like \"A <-> B\" or \"A -> B\", "
            "got \"A - B\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> : { latency: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:3: links: expected \"default\" or a pair like \"A <-> B\" or \"A -> B\", "
            "got \"A <->\"");
}

TEST(ScenarioErrorTest, LinkToItself) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> A: { latency: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:3: links[A <-> A]: a region cannot be linked to itself");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  B -> B: { latency: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:3: links[B -> B]: a region cannot be linked to itself");
}

TEST(ScenarioErrorTest, DuplicateLink) {
  const std::string head = "name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 1ms }\n";
  EXPECT_EQ(ErrorOf(head + "  B <-> A: { latency: 2ms }\nsteps: [sync]\n"),
            "t.yaml:5:3: links[B <-> A]: duplicate link, 'A <-> B' at line 4 already sets it");
  EXPECT_EQ(ErrorOf(head + "  B -> A: { latency: 2ms }\nsteps: [sync]\n"),
            "t.yaml:5:3: links[B -> A]: duplicate link, 'A <-> B' at line 4 already sets it");
  EXPECT_EQ(ErrorOf(head + "  A<->B: { latency: 2ms }\nsteps: [sync]\n"),
            "t.yaml:5:3: links[A <-> B]: duplicate link, 'A <-> B' at line 4 already sets it");
  EXPECT_EQ(ErrorOf(head + "  A <-> B: { latency: 2ms }\nsteps: [sync]\n"),
            "t.yaml:5:3: links: duplicate key 'A <-> B' (first given at line 4)");
  // One way each direction is fine; then a both-ways rule duplicates them.
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A -> B: { latency: 1ms }\n"
                    "  B -> A: { latency: 2ms }\n  A <-> B: { latency: 3ms }\nsteps: [sync]\n"),
            "t.yaml:6:3: links[A <-> B]: duplicate link, 'A -> B' at line 4 already sets it");
}

TEST(ScenarioErrorTest, LossOutOfRange) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 1ms, loss: 1.5 }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:34: links[A <-> B].loss: expected a number in [0, 1], got \"1.5\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { latency: 1ms, loss: -0.1 }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:34: links.default.loss: expected a number in [0, 1], got \"-0.1\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A -> B: { latency: 1ms, loss: 10% }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:33: links[A -> B].loss: expected a number in [0, 1], got \"10%\"");
}

TEST(ScenarioErrorTest, BadLinkDuration) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: fast }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:23: links[A <-> B].latency: expected a duration like \"40ms\", got \"fast\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 40 }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:23: links[A <-> B].latency: expected a duration like \"40ms\", got \"40\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: -5ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:23: links[A <-> B].latency: must not be negative, got \"-5ms\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { latency: 5ms, jitter: [1] }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:36: links.default.jitter: expected a duration like \"40ms\", got a list");
}

TEST(ScenarioErrorTest, JitterAboveLatency) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 5ms, jitter: 6ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:36: links[A <-> B].jitter: must not exceed latency (5ms), got \"6ms\"");
}

TEST(ScenarioErrorTest, LinkLatencyRequired) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { loss: 0.1 }\nsteps: [sync]\n"),
            "t.yaml:4:12: links[A <-> B]: latency is required");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { jitter: 1ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:12: links.default: latency is required when jitter or loss is given");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B:\nsteps: [sync]\n"),
            "t.yaml:4:3: links[A <-> B]: expected a map of latency, jitter, loss, duplicate, got "
            "nothing");
}

TEST(ScenarioErrorTest, UnknownLinkOption) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 1ms, delay: 2ms }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:28: links[A <-> B]: unknown option 'delay' (expected one of: latency, "
            "jitter, loss, duplicate)");
  EXPECT_EQ(
      ErrorOf("name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 1ms, route_factor: 2 }\n"
              "steps: [sync]\n"),
      "t.yaml:4:28: links[A <-> B]: unknown option 'route_factor' (expected one of: "
      "latency, jitter, loss, duplicate)");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { speed: 1 }\nsteps: [sync]\n"),
            "t.yaml:4:14: links.default: unknown option 'speed' (expected one of: latency, "
            "jitter, loss, duplicate, route_factor)");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks: [A, B]\nsteps: [sync]\n"),
            "t.yaml:3:8: links: expected a map of \"A <-> B\" -> options, got a list");
}

TEST(ScenarioErrorTest, RouteFactorBelowOne) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { route_factor: 0.9 }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:28: links.default.route_factor: expected a number >= 1, got \"0.9\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A, B]\nlinks:\n  default: { route_factor: inf }\n"
                    "steps: [sync]\n"),
            "t.yaml:4:28: links.default.route_factor: expected a number >= 1, got \"inf\"");
}

TEST(ScenarioErrorTest, StepNotAMap) {
  EXPECT_EQ(ErrorOf(WithSteps("  - [A, INCR x]\n")),
            "t.yaml:4:5: expected a step (REGION: COMMAND or one of: partition, heal, wait, at, "
            "sync, converged, crash, restart, note, load, check, lending@REGION), got a list");
  EXPECT_EQ(ErrorOf(WithSteps("  - {}\n")),
            "t.yaml:4:5: empty step (expected REGION: COMMAND or one of: partition, heal, wait, "
            "at, sync, converged, crash, restart, note, load, check, lending@REGION)");
}

TEST(ScenarioErrorTest, UnknownStepKind) {
  EXPECT_EQ(ErrorOf(WithSteps("  - A: INCR x\n  - foo: 1\n")),
            "t.yaml:5:5: unknown step 'foo' (not a region of this scenario nor a step kind: "
            "partition, heal, wait, at, sync, converged, crash, restart, note, load, check, "
            "lending@REGION)");
  EXPECT_EQ(ErrorOf(WithSteps("  - snyc\n")),
            "t.yaml:4:5: unknown step 'snyc' (not a region of this scenario nor a step kind: "
            "partition, heal, wait, at, sync, converged, crash, restart, note, load, check, "
            "lending@REGION)");
}

TEST(ScenarioErrorTest, FileTextInMessagesStaysOnOneLine) {
  EXPECT_EQ(ErrorOf(WithSteps("  - \"a\\tb\\nc\": 1\n")),
            "t.yaml:4:5: unknown step 'a\\tb\\nc' (not a region of this scenario nor a step kind: "
            "partition, heal, wait, at, sync, converged, crash, restart, note, load, check, "
            "lending@REGION)");
  EXPECT_EQ(ErrorOf(WithSteps("  - wait: " + std::string(70, 'x') + "\n")),
            "t.yaml:4:11: wait: expected a duration like \"40ms\", got \"" + std::string(60, 'x') +
                "...\"");
}

TEST(ScenarioErrorTest, UnknownRegionInCommand) {
  EXPECT_EQ(ErrorOf(WithSteps("  - D: INCR x\n")),
            "t.yaml:4:5: unknown step 'D' (not a region of this scenario nor a step kind: "
            "partition, heal, wait, at, sync, converged, crash, restart, note, load, check, "
            "lending@REGION)");
}

TEST(ScenarioErrorTest, BareStepNeedsValue) {
  EXPECT_EQ(ErrorOf(WithSteps("  - wait\n")),
            "t.yaml:4:5: step 'wait' needs a value (write '- wait: ...')");
  EXPECT_EQ(ErrorOf(WithSteps("  - A\n")),
            "t.yaml:4:5: step 'A' needs a command (write '- A: COMMAND')");
}

TEST(ScenarioErrorTest, TwoKindsInOneStep) {
  EXPECT_EQ(ErrorOf(WithSteps("  - A: INCR x\n    B: INCR x\n")),
            "t.yaml:5:5: step has both 'A' and 'B' (write one step per list item)");
  EXPECT_EQ(ErrorOf(WithSteps("  - wait: 1ms\n    sync: {}\n")),
            "t.yaml:5:5: step has both 'wait' and 'sync' (write one step per list item)");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: INCR x\n    A: INCR y\n")),
            "t.yaml:5:5: step: duplicate key 'A' (first given at line 4)");
}

TEST(ScenarioErrorTest, ExpectOnlyOnCommands) {
  EXPECT_EQ(ErrorOf(WithSteps("  - wait: 1ms\n    expect: 1\n")),
            "t.yaml:5:5: expect: only allowed on a command step (REGION: COMMAND), not on 'wait'");
  EXPECT_EQ(ErrorOf(WithSteps("  - expect: 1\n")),
            "t.yaml:4:5: expect: only allowed on a command step (REGION: COMMAND), and this "
            "step has no command");
}

TEST(ScenarioErrorTest, UnknownRegionInCrashAndRestart) {
  EXPECT_EQ(ErrorOf(WithSteps("  - crash: D\n")),
            "t.yaml:4:12: crash: unknown region 'D' (regions are: A, B, C)");
  EXPECT_EQ(ErrorOf(WithSteps("  - restart: E\n")),
            "t.yaml:4:14: restart: unknown region 'E' (regions are: A, B, C)");
  EXPECT_EQ(ErrorOf(WithSteps("  - crash: [A]\n")),
            "t.yaml:4:12: crash: expected a region name, got a list");
  EXPECT_EQ(ErrorOf(WithSteps("  - restart:\n")),
            "t.yaml:4:5: restart: expected a region name, got nothing");
}

TEST(ScenarioErrorTest, UnknownRegionInPartitionAndHeal) {
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [A, D]\n")),
            "t.yaml:4:20: partition: unknown region 'D' (regions are: A, B, C)");
  EXPECT_EQ(ErrorOf(WithSteps("  - heal: [[A, B], [Z]]\n")),
            "t.yaml:4:21: heal: unknown region 'Z' (regions are: A, B, C)");
}

TEST(ScenarioErrorTest, PartitionGroups) {
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [A]\n")),
            "t.yaml:4:16: partition: expected at least two groups (like [A, B]), got 1");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [[A, B, C]]\n")),
            "t.yaml:4:16: partition: expected at least two groups (like [A, B]), got 1");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: []\n")),
            "t.yaml:4:16: partition: expected at least two groups (like [A, B]), got 0");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [A, B, A]\n")),
            "t.yaml:4:23: partition: region 'A' appears twice");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [[A, B], [B, C]]\n")),
            "t.yaml:4:26: partition: region 'B' appears twice");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [[A], []]\n")),
            "t.yaml:4:22: partition: empty group");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: [[A], [[B]]]\n")),
            "t.yaml:4:23: partition: expected a region name, got a list");
  EXPECT_EQ(ErrorOf(WithSteps("  - partition: A\n")),
            "t.yaml:4:16: partition: expected a list of regions like [A, B] or groups like "
            "[[A, B], [C]], got \"A\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - heal: everything\n")),
            "t.yaml:4:11: heal: expected all, a list of regions like [A, B] or groups like "
            "[[A, B], [C]], got \"everything\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - heal: [A]\n")),
            "t.yaml:4:11: heal: expected at least two groups (like [A, B]), got 1");
}

TEST(ScenarioErrorTest, EmptyCommand) {
  EXPECT_EQ(ErrorOf(WithSteps("  - A:\n")), "t.yaml:4:5: A: empty command");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: \"  \"\n")), "t.yaml:4:8: A: empty command");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: [INCR, x]\n")),
            "t.yaml:4:8: A: expected a command like \"INCR foo\", got a list");
}

TEST(ScenarioErrorTest, CommandQuotes) {
  EXPECT_EQ(ErrorOf(WithSteps("  - A: SET k \"abc\n")),
            "t.yaml:4:8: A: cannot split command: unbalanced quotes");
  EXPECT_EQ(ErrorOf(WithSteps("  - B: SET k 'a'b\n")),
            "t.yaml:4:8: B: cannot split command: closing quote must be followed by a space");
}

TEST(ScenarioErrorTest, BadWaitAndAt) {
  EXPECT_EQ(ErrorOf(WithSteps("  - wait: 100\n")),
            "t.yaml:4:11: wait: expected a duration like \"40ms\", got \"100\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - wait: -1ms\n")),
            "t.yaml:4:11: wait: must not be negative, got \"-1ms\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - at: 2 s\n")),
            "t.yaml:4:9: at: expected a duration like \"40ms\", got \"2 s\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - at:\n")),
            "t.yaml:4:5: at: expected a duration like \"40ms\", got nothing");
}

TEST(ScenarioErrorTest, SyncTakesNoValue) {
  EXPECT_EQ(ErrorOf(WithSteps("  - sync: 1s\n")), "t.yaml:4:11: sync: takes no value, got \"1s\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - sync: {a: 1}\n")),
            "t.yaml:4:11: sync: takes no value, got a map");
}

TEST(ScenarioErrorTest, ConvergedNeedsList) {
  EXPECT_EQ(ErrorOf(WithSteps("  - converged: foo\n")),
            "t.yaml:4:16: converged: expected a list of keys ([] for all keys), got \"foo\"");
  EXPECT_EQ(ErrorOf(WithSteps("  - converged: [a, [b]]\n")),
            "t.yaml:4:20: converged: expected a key, got a list");
}

TEST(ScenarioErrorTest, NoteNeedsText) {
  EXPECT_EQ(ErrorOf(WithSteps("  - note: {a: b}\n")),
            "t.yaml:4:11: note: expected text, got a map");
}

TEST(ScenarioErrorTest, BadExpect) {
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: {value: 1}\n")),
            "t.yaml:5:14: expect: expected a reply, null, a list or {error: TEXT}, got key "
            "'value'");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: {error: X, more: 1}\n")),
            "t.yaml:5:24: expect: expected a reply, null, a list or {error: TEXT}, got key "
            "'more'");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: {}\n")),
            "t.yaml:5:13: expect: expected a reply, null, a list or {error: TEXT}, got an "
            "empty map");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: {error: [X]}\n")),
            "t.yaml:5:21: expect.error: expected the text of the error, got a list");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: [a, [b]]\n")),
            "t.yaml:5:17: expect[1]: expected a scalar, got a list");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect: [a, ~]\n")),
            "t.yaml:5:17: expect[1]: expected a scalar, got nothing");
  EXPECT_EQ(ErrorOf(WithSteps("  - A: GET x\n    expect:\n")),
            "t.yaml:5:5: expect: expected a value (write 'expect: null' for a nil reply)");
}

TEST(ScenarioErrorTest, NonScalarKey) {
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\n[x]: 1\nsteps: [sync]\n"),
            "t.yaml:3:1: expected a plain key, got a list");
}

TEST(ScenarioErrorTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep =
      "name: t\nregions: [A]\nsteps: [sync]\nsource: " + std::string(5000, '[') +
      std::string(5000, ']') + "\n";
  Result<Scenario> result = ParseScenario(deep, "deep.yaml");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().rfind("deep.yaml:4:", 0), 0u) << result.status().message();
  EXPECT_NE(result.status().message().find(": invalid YAML: nested too deeply"), std::string::npos)
      << result.status().message();
}

TEST(LoadScenarioFileTest, MissingFile) {
  Result<Scenario> result = LoadScenarioFile("/nonexistent/dir/x.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "/nonexistent/dir/x.yaml: cannot read file: No such file or directory");
}

TEST(LoadScenarioFileTest, DirectoryIsUnreadable) {
  Result<Scenario> result = LoadScenarioFile(testing::TempDir());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(": cannot read file: "), std::string::npos)
      << result.status().message();
}

TEST(LoadScenarioFileTest, ReadsAndNamesTheFile) {
  const std::string path = testing::TempDir() + "/scenario_test_ok.yaml";
  {
    std::ofstream out(path);
    out << "name: From a file\nregions: [A]\nsteps:\n  - A: INCR x\n    expect: 1\n";
  }
  Result<Scenario> result = LoadScenarioFile(path);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->file, path);
  EXPECT_EQ(result->name, "From a file");
  ASSERT_EQ(result->steps.size(), 1u);
  EXPECT_EQ(result->steps[0].expect->text, "1");

  {
    std::ofstream out(path);
    out << "name: From a file\nregions: [A]\nsteps: []\n";
  }
  result = LoadScenarioFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), path + ":3:8: steps: expected at least one step");
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------------------------------
// scenarios/*.yaml: the same scenario and step marks, the steps streamed or the whole tree
// built.

#ifdef AASIM_SCENARIO_DIR
TEST(ScenarioStreamingTest, EveryScenarioOfTheRepositoryLoadsTheSameBothWays) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(AASIM_SCENARIO_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("deployments:") != std::string::npos) continue;  // a latency file
    SCOPED_TRACE(entry.path().string());
    EXPECT_TRUE(ParseBothWays(text, entry.path().string()).ok());
    ++files;
  }
  EXPECT_GE(files, 20u);
}
#endif

// ---------------------------------------------------------------------------------------
// scenarios/invalid/*.yaml: each must fail with the message its first line announces.

#ifdef AASIM_SCENARIO_DIR
TEST(InvalidScenarioFilesTest, EachFailsWithItsExpectedError) {
  const std::filesystem::path dir = std::filesystem::path(AASIM_SCENARIO_DIR) / "invalid";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 10u);
  const std::string kPrefix = "# expect-error: ";
  for (const std::filesystem::path& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file);
    std::string first_line;
    std::getline(in, first_line);
    ASSERT_EQ(first_line.rfind(kPrefix, 0), 0u) << "first line must be '" << kPrefix << "REGEX'";
    const std::string pattern = first_line.substr(kPrefix.size());
    ASSERT_FALSE(pattern.empty());
    Result<Scenario> result = LoadScenarioFile(file.string());
    ASSERT_FALSE(result.ok()) << "loaded without error";
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    const std::string& message = result.status().message();
    EXPECT_TRUE(std::regex_search(message, std::regex(pattern, std::regex::ECMAScript)))
        << "message: " << message << "\nregex:   " << pattern;
    // Every message names the place: FILE:LINE:COL.
    EXPECT_EQ(message.rfind(file.string() + ":", 0), 0u) << message;
    // The same message with the steps streamed and with the whole tree.
    std::ifstream again(file);
    const std::string text((std::istreambuf_iterator<char>(again)),
                           std::istreambuf_iterator<char>());
    ParseBothWays(text, file.string());
  }
}
#endif

// `aasim serve`: fixed ports and optional steps (ParseOptions).
TEST(ScenarioServeTest, PortsAndOptionalSteps) {
  Scenario s = MustParse("name: t\nregions: [A, B]\nports: {B: 7002, A: 0}\nsteps: [sync]\n");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0], (std::pair<std::string, uint16_t>{"B", 7002}));
  EXPECT_EQ(s.ports[1], (std::pair<std::string, uint16_t>{"A", 0}));
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nports: {A: 70000}\nsteps: [sync]\n"),
            "t.yaml:3:12: ports.A: expected a port number 0..65535, got \"70000\"");
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\nports: {C: 1}\nsteps: [sync]\n"),
            "t.yaml:3:9: ports: unknown region 'C'");
  // Steps are required by default, optional (missing or empty) when asked.
  EXPECT_EQ(ErrorOf("name: t\nregions: [A]\n"), "t.yaml:1:1: missing required key 'steps'");
  ParseOptions serve;
  serve.steps_optional = true;
  auto missing = ParseScenario("name: t\nregions: [A]\n", "t.yaml", serve);
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_TRUE(missing->steps.empty());
  auto empty = ParseScenario("name: t\nregions: [A]\nsteps: []\n", "t.yaml", serve);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
}

// ---- StrictYaml ----

// The entry `key` of a one-entry map.
YamlEntry EntryOf(const YAML::Node& map) {
  return YamlEntry{map.begin()->first.Scalar(), map.begin()->first, map.begin()->second};
}

TEST(StrictYamlTest, EntriesAreOrderedPlainAndUnique) {
  const std::string text = "b: 1\na: 2\nb: 3\n";
  StrictYaml yaml("f.yaml", text);
  std::vector<YamlEntry> entries;
  Status st = yaml.Entries(YAML::Load(text), "top", &entries);
  EXPECT_EQ(st.message(), "f.yaml:3:1: top: duplicate key 'b' (first given at line 1)");
  entries.clear();
  ASSERT_TRUE(yaml.Entries(YAML::Load("b: 1\na: 2\n"), "", &entries).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, "b");
  EXPECT_EQ(entries[1].key, "a");
}

TEST(StrictYamlTest, OptionsRejectUnknownKeysWithTheCallersNoun) {
  const std::string text = "opts: {a: 1, c: 2}\n";
  StrictYaml yaml("f.yaml", text);
  constexpr std::string_view kAllowed[] = {"a", "b"};
  std::vector<YamlEntry> out;
  EXPECT_EQ(yaml.Options(EntryOf(YAML::Load(text)), "opts", kAllowed, "option", &out).message(),
            "f.yaml:1:14: opts: unknown option 'c' (expected one of: a, b)");
  out.clear();
  EXPECT_EQ(yaml.Options(EntryOf(YAML::Load("opts: 3\n")), "opts", kAllowed, "key", &out).message(),
            "f.yaml:1:7: opts: expected a map of a, b, got \"3\"");
}

TEST(StrictYamlTest, DurationSigns) {
  const std::string text = "d: -5ms\n";
  StrictYaml yaml("f.yaml", text);
  const YamlEntry e = EntryOf(YAML::Load(text));
  SimTime t{0};
  ASSERT_TRUE(yaml.Duration(e, "d", StrictYaml::Sign::kAny, &t).ok());
  EXPECT_EQ(t, SimTime(-5000));
  EXPECT_EQ(yaml.Duration(e, "d", StrictYaml::Sign::kNonNegative, &t).message(),
            "f.yaml:1:4: d: must not be negative, got \"-5ms\"");
  EXPECT_EQ(yaml.Duration(e, "d", StrictYaml::Sign::kNoSign, &t).message(),
            "f.yaml:1:4: d: expected a duration like \"40ms\", got \"-5ms\"");
}

TEST(StrictYamlTest, NullValuesPointAtTheKeyOrTheWrittenNull) {
  const std::string text = "a: ~\nb:\nc: 1\n";
  const YAML::Node root = YAML::Load(text);
  std::vector<YamlEntry> entries;
  StrictYaml explicit_at_value("f.yaml", text);
  ASSERT_TRUE(explicit_at_value.Entries(root, "", &entries).ok());
  EXPECT_EQ(StrictYaml::ToSourceMark(explicit_at_value.ValueMark(entries[0])).column, 4);
  EXPECT_EQ(StrictYaml::ToSourceMark(explicit_at_value.ValueMark(entries[1])).line, 2);
  EXPECT_EQ(StrictYaml::ToSourceMark(explicit_at_value.ValueMark(entries[1])).column, 1);
  StrictYaml at_key("f.yaml", text, StrictYaml::NullMarks::kAlwaysAtKey);
  EXPECT_EQ(StrictYaml::ToSourceMark(at_key.ValueMark(entries[0])).column, 1);
  EXPECT_EQ(StrictYaml::ToSourceMark(at_key.ValueMark(entries[2])).column, 4);
}

TEST(StrictYamlTest, IntegersAndRegions) {
  const std::string text = "n: 0x10\n";
  StrictYaml yaml("f.yaml", text);
  uint64_t n = 0;
  EXPECT_EQ(yaml.Integer(EntryOf(YAML::Load(text)), "n", 0, 9, "a digit", &n).message(),
            "f.yaml:1:4: n: expected a digit, got \"0x10\"");
  int index = -1;
  const YAML::Node name = YAML::Load("C");
  EXPECT_EQ(yaml.KnownRegion(name, name.Mark(), "w", {"A", "B"}, &index).message(),
            "f.yaml:1:1: w: unknown region 'C' (regions are: A, B)");
  const YAML::Node b = YAML::Load("B");
  ASSERT_TRUE(yaml.KnownRegion(b, b.Mark(), "w", {"A", "B"}, &index).ok());
  EXPECT_EQ(index, 1);
}

TEST(StrictYamlTest, GuardTurnsExceptionsIntoStatus) {
  StrictYaml yaml("f.yaml", "");
  Result<int> r = yaml.Guard<int>([]() -> Result<int> { return YAML::Load("[a").size(); });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().message().starts_with("f.yaml:1:"));
  EXPECT_NE(r.status().message().find("invalid YAML: "), std::string::npos);
}

// ---- StepInterpreter ----

// A policy that makes the interpreter stop at every new instant (as the wall clock does)
// before reaching it in virtual time: the report must be that of plain virtual time.
class StutteringTime final : public TimePolicy {
 public:
  explicit StutteringTime(Simulation& sim) : virtual_time_(sim) {}
  SimTime Now() override { return virtual_time_.Now(); }
  bool WaitUntil(SimTime t) override {
    if (!asked_ || *asked_ != t) {
      asked_ = t;
      ++stops;
      return false;
    }
    asked_.reset();
    return virtual_time_.WaitUntil(t);
  }
  std::optional<SyncResult> Sync() override {
    if (!sync_asked_) {
      sync_asked_ = true;
      ++stops;
      return std::nullopt;
    }
    sync_asked_ = false;
    return virtual_time_.Sync();
  }
  int stops = 0;

 private:
  VirtualTime virtual_time_;
  std::optional<SimTime> asked_;
  bool sync_asked_ = false;
};

TEST(StepInterpreterTest, ResumedStepsReportWhatVirtualTimeReports) {
  Scenario s = MustParse(R"(
name: t
regions: [A, B]
links: {A <-> B: {latency: 30ms}}
steps:
  - A: INCR n
  - wait: 10ms
  - B: GET n
    expect: null
  - at: 5ms
  - load: {regions: [A, B], ops: 7, duration: 20ms}
  - sync
  - crash: A
  - crash: A
  - restart: A
  - sync
  - converged: []
)");
  RunOptions options;
  const RunReport want = RunScenario(s, options);
  ASSERT_EQ(want.steps.size(), 11u);
  EXPECT_EQ(want.failures, 2);  // `at 5ms` is in the past, A is already down
  EXPECT_EQ(want.steps[3].failure, "t.yaml:9:5: at 5ms is in the past (virtual time is 10ms)");
  EXPECT_EQ(want.steps[7].failure, "t.yaml:13:5: region 'A' is already down");

  Simulation sim(MakeSimConfig(s, options));
  ApplyLinks(s, sim);
  StutteringTime time(sim);
  StepInterpreter steps(s, sim, time, options);
  std::vector<int> seen;
  steps.OnStep([&](const Step&, const StepReport& sr) { seen.push_back(sr.number); });
  int runs = 1;
  while (!steps.Run()) ++runs;
  EXPECT_EQ(runs, time.stops + 1);
  EXPECT_GT(time.stops, 8);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  const RunReport got = steps.Finish();
  EXPECT_EQ(got.digest, want.digest);
  EXPECT_EQ(got.events, want.events);
  EXPECT_EQ(got.failures, want.failures);
  ASSERT_EQ(got.steps.size(), want.steps.size());
  for (size_t i = 0; i < got.steps.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "step " << i + 1);
    EXPECT_EQ(got.steps[i].time, want.steps[i].time);
    EXPECT_EQ(got.steps[i].operation, want.steps[i].operation);
    EXPECT_EQ(got.steps[i].notes, want.steps[i].notes);
    EXPECT_EQ(got.steps[i].values, want.steps[i].values);
    EXPECT_EQ(got.steps[i].failure, want.steps[i].failure);
  }
}

// A step shows a long value abbreviated (its first kStepValueBytes bytes and its size), the
// same while it is unchanged and the new one after a write; short values stay whole.
TEST(RunScenarioTest, LongStepValuesAreAbbreviatedAndFollowChanges) {
  std::string sadd = "  - A: SADD big";
  for (int i = 0; i < 300; ++i) sadd += " member" + std::to_string(1000 + i);
  Scenario s = MustParse("name: t\nregions: [A, B]\nsteps:\n" + sadd +
                         "\n  - sync\n  - B: SISMEMBER big member1000\n  - A: SADD big zz\n"
                         "  - A: SCARD big\n  - A: SET small v\n");
  const RunReport r = RunScenario(s, RunOptions());
  ASSERT_EQ(r.steps.size(), 6u);
  const std::string& a = r.steps[2].values[0];  // after the sync: 300 members of 10 bytes
  EXPECT_EQ(a.size(), kStepValueBytes + std::string("... (3600 bytes)").size());
  EXPECT_EQ(a.substr(kStepValueBytes), "... (3600 bytes)");
  EXPECT_EQ(a.substr(0, 12), "{member1000,");
  EXPECT_EQ(r.steps[2].values[1], a);
  EXPECT_EQ(r.steps[3].values[0].substr(kStepValueBytes), "... (3604 bytes)");  // + ", zz"
  EXPECT_EQ(r.steps[4].values[0], r.steps[3].values[0]);
  EXPECT_EQ(r.steps[4].values[1], a);  // B has not received zz yet
  EXPECT_EQ(r.steps[5].values[0], "v");
}

// Without keep_passed_steps (aasim run --quiet) the report holds only the failed steps, and
// the same count, failures and digest.
TEST(RunScenarioTest, AReportCanKeepOnlyFailedSteps) {
  Scenario s = MustParse(
      "name: t\nregions: [A, B]\nsteps:\n  - A: INCR k\n    expect: 1\n  - A: INCR k\n"
      "    expect: 5\n  - sync\n  - B: GET k\n    expect: \"3\"\n  - B: INCR k\n");
  const RunReport all = RunScenario(s, RunOptions());
  RunOptions options;
  options.keep_passed_steps = false;
  const RunReport failed = RunScenario(s, options);
  EXPECT_EQ(all.steps.size(), 5u);
  EXPECT_EQ(all.steps_run, 5u);
  EXPECT_EQ(failed.steps_run, 5u);
  ASSERT_EQ(failed.steps.size(), 2u);
  EXPECT_EQ(failed.steps[0].failure, all.steps[1].failure);
  EXPECT_EQ(failed.steps[1].number, 4);
  EXPECT_EQ(failed.failures, 2);
  EXPECT_EQ(failed.expectations, all.expectations);
  EXPECT_EQ(failed.digest, all.digest);
  EXPECT_EQ(failed.final_state, all.final_state);
}

// A step's value columns follow the key the command names, wherever it names it; a command
// that names none keeps the previous step's key.
TEST(RunScenarioTest, StepsFollowTheKeyTheCommandNames) {
  Scenario s = MustParse(
      "name: t\nregions: [A]\nsteps:\n  - A: SET k v\n  - A: KEYS *\n  - A: DBSIZE\n"
      "  - A: OBJECT ENCODING k\n  - A: ZADD z 1 m\n  - A: ZUNION 1 z\n  - A: SCAN 0\n"
      "  - A: XADD s * f v\n  - A: XREAD COUNT 1 STREAMS s 0\n  - A: SINTERCARD 1 t\n"
      "  - A: EVAL \"return 1\" 1 e\n  - A: TIME\n");
  const RunReport r = RunScenario(s, RunOptions());
  std::vector<std::string> keys;
  for (const StepReport& step : r.steps) keys.push_back(step.key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"k", "k", "k", "k", "z", "z", "z", "s", "s", "t", "e", "e"}));
}

// An origin's effects apply in its order: on a lossy link with jitter, B's copy of A's
// stream is at every step a prefix of A's (an entry that overtakes a lost one waits for it),
// so an XREAD that resumes from the last id B returned never skips one of A's entries.
TEST(RunScenarioTest, AReceiverSeesAnOriginsStreamInItsOrder) {
  std::string yaml =
      "name: t\nregions: [A, B]\nlinks:\n  A <-> B: { latency: 10ms, jitter: 8ms, loss: 0.5 }\n"
      "streams: { replicate: true }\nsteps:\n";
  for (int i = 0; i < 40; ++i)
    yaml += "  - A: XADD s * f v" + std::to_string(i) + "\n  - wait: 3ms\n";
  yaml += "  - sync\n";
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    RunOptions options;
    options.seed = seed;
    const RunReport r = RunScenario(MustParse(yaml), options);
    size_t behind = 0;
    for (const StepReport& step : r.steps) {
      ASSERT_EQ(step.values.size(), 2u);
      const std::string& a = step.values[0];
      const std::string& b = step.values[1];
      if (b != a) behind++;
      if (b == "(nil)") continue;
      ASSERT_EQ(a.compare(0, b.size() - 1, b, 0, b.size() - 1), 0) << "A " << a << "\nB " << b;
    }
    EXPECT_GT(behind, 0u) << "B should lag A at some step";
    EXPECT_EQ(r.steps.back().values[0], r.steps.back().values[1]);
  }
}

// ---------------------------------------------------------------------------------------
// Warnings: a step's command that no store runs

TEST(UnknownCommandWarningsTest, NamesTheCommandAtItsMarkUnlessExpected) {
  const Scenario s = MustParse(
      WithSteps("  - A: INCR foo\n"     // line 4: known
                "  - B:   STE foo 3\n"  // line 5: unknown, the command at column 10
                "  - C: nosuch\n"       // line 6
                "    expect: {error: unknown command}\n"
                "  - A: eval \"return 1\" 0\n"  // scripts, transactions, streams: in the table
                "  - A: MULTI\n"
                "  - A: xadd s * f v\n"
                "  - lending@A: request u b\n"));  // not a command step
  EXPECT_EQ(UnknownCommandWarnings(s),
            Strings({"t.yaml:5:10: warning: B: unknown command 'STE': its reply will be an "
                     "error (if that is meant, say so with `expect: {error: unknown command}`)"}));
}

// run --help lists the loader's own keys: a key added to the loader appears there.
TEST(ScenarioKeysTest, ListsEveryTopLevelKeyAndFixedOptions) {
  EXPECT_EQ(ScenarioKeys(),
            "name, source, seed, regions, links, steps, "
            "replication {backlog, max_batch, max_retry, causal}, ports, backends, "
            "bounded_counters {policy, period}, streams {replicate, id_mode}");
}

}  // namespace
}  // namespace cluster_sim
