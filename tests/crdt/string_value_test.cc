// StringValue: SET (LWW) + INCR (observed-reset PN-counter); ParseRedisInteger.
#include "crdt/string_value.h"

#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/pn_counter.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);
constexpr ReplicaId kC = MakeReplicaId(3, 1);
constexpr int64_t kBound = PnCounter::kBound;

std::optional<int64_t> Parse(std::string_view s) {
  int64_t v = 0;
  if (!ParseRedisInteger(s, &v)) return std::nullopt;
  return v;
}

TEST(ParseRedisIntegerTest, EdgeCases) {
  EXPECT_EQ(Parse("0"), 0);
  EXPECT_EQ(Parse("7"), 7);
  EXPECT_EQ(Parse("-1"), -1);
  EXPECT_EQ(Parse("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(Parse("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(Parse("576460752303423488"), kBound);
  EXPECT_EQ(Parse("9223372036854775808"), std::nullopt);   // INT64_MAX + 1
  EXPECT_EQ(Parse("-9223372036854775809"), std::nullopt);  // INT64_MIN - 1
  EXPECT_EQ(Parse("18446744073709551615"), std::nullopt);  // UINT64_MAX
  EXPECT_EQ(Parse("18446744073709551616"), std::nullopt);  // wraps uint64
  EXPECT_EQ(Parse("99999999999999999999"), std::nullopt);
  EXPECT_EQ(Parse("-99999999999999999999"), std::nullopt);
  EXPECT_EQ(Parse("100000000000000000000"), std::nullopt);  // 21 characters
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "01", "00", "-0", "-01", "1a", "a1", "0x10",
                          "1e3", "1.0", "--1", "\t1", "1\n"}) {
    EXPECT_EQ(Parse(bad), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(Parse(std::string_view("12\0", 3)), std::nullopt);
  int64_t untouched = 42;
  EXPECT_FALSE(ParseRedisInteger("x", &untouched));
  EXPECT_EQ(untouched, 42);
}

TEST(StringValueTest, GetOfIncrementsWithoutSetCountsFromZero) {
  StringValue a(kA);
  EXPECT_EQ(a.Get(), std::nullopt);
  ASSERT_TRUE(a.IncrBy(-3));
  EXPECT_EQ(a.Get(), "-3");
  a.Set("10", 1);
  EXPECT_EQ(a.Get(), "10");
  ASSERT_TRUE(a.IncrBy(5));
  EXPECT_EQ(a.Get(), "15");
  a.Del();
  EXPECT_EQ(a.Get(), std::nullopt);
  ASSERT_TRUE(a.IncrBy(1));
  EXPECT_EQ(a.Get(), "1");
}

TEST(StringValueTest, IncrementOfANonIntegerIsRefused) {
  for (const char* v : {"abc", "1.5", " 1", "01", "", "9223372036854775808"}) {
    SCOPED_TRACE(v);
    StringValue a(kA);
    a.Set(v, 1);
    const std::string before = a.Encode();
    IncrStatus s = IncrStatus::kOk;
    EXPECT_FALSE(a.IncrBy(1, &s));
    EXPECT_EQ(s, IncrStatus::kNotInteger);
    EXPECT_EQ(a.Encode(), before);
    EXPECT_EQ(a.Get(), v);
  }
}

TEST(StringValueTest, BoundIncludesTheRegisterValue) {
  StringValue a(kA);
  a.Set(std::to_string(kBound - 1), 1);
  IncrStatus s = IncrStatus::kNotInteger;
  ASSERT_TRUE(a.IncrBy(1, &s));
  EXPECT_EQ(s, IncrStatus::kOk);
  EXPECT_EQ(a.Get(), std::to_string(kBound));
  const std::string at_bound = a.Encode();
  EXPECT_FALSE(a.IncrBy(1, &s));
  EXPECT_EQ(s, IncrStatus::kOutOfRange);
  EXPECT_EQ(a.Encode(), at_bound);
  ASSERT_TRUE(a.IncrBy(-2 * kBound, &s));
  EXPECT_EQ(a.Get(), std::to_string(-kBound));
  EXPECT_FALSE(a.IncrBy(-1, &s));
  EXPECT_EQ(s, IncrStatus::kOutOfRange);

  // A SET beyond the bound is a valid string: a step farther out is refused, one that
  // stays or goes back towards the range is taken (as Redis replies to it).
  StringValue b(kB);
  b.Set("9223372036854775807", 1);
  EXPECT_FALSE(b.IncrBy(1, &s));
  EXPECT_EQ(s, IncrStatus::kOutOfRange);
  EXPECT_EQ(b.Get(), "9223372036854775807");
  EXPECT_TRUE(b.IncrBy(0, &s));
  EXPECT_EQ(b.Get(), "9223372036854775807");
  EXPECT_TRUE(b.IncrBy(-1, &s));
  EXPECT_EQ(b.Get(), "9223372036854775806");
}

// INCRBY 0 meets a concurrent SET and DEL as INCRBY 1 does (pn_counter.h): 25 and "0",
// where INCRBY 1 gives 26 and "1".
TEST(StringValueTest, ZeroStepConvergesAsAnyIncrement) {
  for (int64_t step : {0, 1}) {
    SCOPED_TRACE(testing::Message() << "step " << step);
    StringValue a(kA), b(kB);
    StringValue incr = *a.IncrBy(step);  // a missing key
    EXPECT_EQ(a.Get(), std::to_string(step));
    StringValue set = b.Set("25", 1);
    a.Merge(set);
    b.Merge(incr);
    EXPECT_EQ(a.Get(), std::to_string(25 + step));
    EXPECT_EQ(a, b);
    StringValue again = *a.IncrBy(step);
    StringValue del = b.Del();
    a.Merge(del);
    b.Merge(again);
    EXPECT_EQ(a.Get(), std::to_string(step));
    EXPECT_EQ(a, b);
  }
}

TEST(StringValueTest, ConcurrentSetAndIncrementAddUp) {
  StringValue a(kA), b(kB);
  b.Merge(a.Set("50", 1));
  StringValue set = a.Set("100", 2);
  StringValue incr = *b.IncrBy(5);
  a.Merge(incr);
  b.Merge(set);
  EXPECT_EQ(a.Get(), "105");
  EXPECT_EQ(b.Get(), "105");
  EXPECT_EQ(a, b);
}

TEST(StringValueTest, SetCancelsObservedIncrementsOnly) {
  StringValue a(kA), b(kB);
  b.Merge(*a.IncrBy(5));            // observed by both
  StringValue late = *b.IncrBy(7);  // not seen by A
  a.Set("100", 1);
  EXPECT_EQ(a.Get(), "100");
  a.Merge(late);
  EXPECT_EQ(a.Get(), "107");
}

// A concurrent increment cannot be added to a non-integer winner: it stays in the metadata
// and reappears when an integer is written by a replica that had not observed it.
TEST(StringValueTest, IncrementsHiddenByANonIntegerReappear) {
  StringValue a(kA), b(kB), c(kC);
  StringValue text = a.Set("abc", 100);
  StringValue incr = *b.IncrBy(5);
  c.Merge(text);  // C sees "abc" but not the increment
  a.Merge(incr);
  b.Merge(text);
  EXPECT_EQ(a.Get(), "abc");
  EXPECT_EQ(b.Get(), "abc");
  IncrStatus s = IncrStatus::kOk;
  EXPECT_FALSE(b.IncrBy(1, &s));
  EXPECT_EQ(s, IncrStatus::kNotInteger);
  StringValue ten = c.Set("10", 200);
  a.Merge(ten);
  EXPECT_EQ(a.Get(), "15");
  c.Merge(incr);
  EXPECT_EQ(c.Get(), "15");
  // Had the writer observed the increment, it would be cancelled.
  StringValue twenty = b.Set("20", 300);
  a.Merge(twenty);
  EXPECT_EQ(a.Get(), "20");
}

TEST(StringValueTest, DelRemovesObservedWritesAndIncrements) {
  StringValue a(kA), b(kB);
  b.Merge(a.Set("1", 1));
  b.Merge(*a.IncrBy(2));
  StringValue del = a.Del();
  StringValue concurrent = *b.IncrBy(10);
  a.Merge(concurrent);
  b.Merge(del);
  EXPECT_EQ(a.Get(), "10");
  EXPECT_EQ(b.Get(), "10");
  EXPECT_TRUE(a.store().reg.empty());
}

TEST(StringValueTest, EncodeDecode) {
  StringValue a(kA), b(kB);
  a.Set("abc", 1);
  b.IncrBy(-9);
  a.Merge(b);
  std::string error;
  auto back = StringValue::Decode(a.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  EXPECT_EQ(back->Get(), "abc");
}

}  // namespace
}  // namespace crdt
