// OrMap / HashStore: add-wins fields, LWW values, HINCRBY counters.
#include "crdt/or_map.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"

namespace crdt {
namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

TEST(OrMapTest, SetGetDel) {
  OrMap m(kA);
  m.Set("f", "1", 1);
  m.Set("g", "x", 1);
  EXPECT_EQ(m.Get("f"), "1");
  EXPECT_EQ(m.Get("missing"), std::nullopt);
  EXPECT_EQ(m.Size(), 2u);
  EXPECT_EQ(m.Items(), (Items{{"f", "1"}, {"g", "x"}}));
  m.Del("f");
  EXPECT_EQ(m.Items(), (Items{{"g", "x"}}));
  EXPECT_EQ(m.store().Find("f"), nullptr);  // no metadata left for a plain field
}

TEST(OrMapTest, ConcurrentSetBeatsDel) {
  OrMap a(kA), b(kB);
  b.Merge(a.Set("f", "1", 1));
  OrMap del = a.Del("f");
  OrMap set = b.Set("f", "2", 2);
  a.Merge(set);
  b.Merge(del);
  EXPECT_EQ(a.Get("f"), "2");
  EXPECT_EQ(a, b);
}

TEST(OrMapTest, HIncrByAddsUpAndHSetCancelsObservedIncrements) {
  OrMap a(kA), b(kB);
  IncrStatus s = IncrStatus::kNotInteger;
  auto d1 = a.IncrBy("n", 3, &s);
  ASSERT_TRUE(d1);
  EXPECT_EQ(s, IncrStatus::kOk);
  b.Merge(*d1);
  auto concurrent = b.IncrBy("n", 4);
  OrMap set = a.Set("n", "100", 1);  // cancels the 3 it observed
  a.Merge(*concurrent);
  b.Merge(set);
  EXPECT_EQ(a.Get("n"), "104");
  EXPECT_EQ(b.Get("n"), "104");
  a.Set("t", "text", 1);
  EXPECT_FALSE(a.IncrBy("t", 1, &s));
  EXPECT_EQ(s, IncrStatus::kNotInteger);
  EXPECT_FALSE(a.IncrBy("u", PnCounter::kBound + 1, &s));
  EXPECT_EQ(s, IncrStatus::kOutOfRange);
  EXPECT_EQ(a.store().Find("u"), nullptr);
}

TEST(OrMapTest, DelOfACounterFieldKeepsOnlyConcurrentIncrements) {
  OrMap a(kA), b(kB);
  b.Merge(*a.IncrBy("n", 10));
  OrMap del = a.Del("n");
  auto concurrent = b.IncrBy("n", 1);
  a.Merge(*concurrent);
  b.Merge(del);
  EXPECT_EQ(a.Get("n"), "1");
  EXPECT_EQ(b.Get("n"), "1");
  EXPECT_EQ(a, b);
}

TEST(OrMapTest, EncodeDecode) {
  OrMap a(kA), b(kB);
  a.Set("f", "v", 1);
  b.IncrBy("n", 2);
  a.Merge(b);
  OrMap d = a.Del("f");
  std::string error;
  auto back = OrMap::Decode(a.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  auto dback = OrMap::Decode(d.Encode(), &error);
  ASSERT_TRUE(dback) << error;
  EXPECT_EQ(*dback, d);
  EXPECT_EQ(dback->Encode(), d.Encode());
}

}  // namespace
}  // namespace crdt
