// SmallVec: inline storage up to N, then one heap block; non-trivial elements are moved and
// destroyed one by one. Checked against std::vector (the model) and by counting live
// elements, so a leaked, doubly destroyed or lost element fails a test.
#include "crdt/small_vec.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

// A non-trivial element that counts its live instances and owns a heap string (long enough
// to leave the small-string buffer), so a lost or doubly destroyed element shows.
struct Tracked {
  static int live;
  std::string text;
  explicit Tracked(int v = 0) : text("tracked-element-number-" + std::to_string(v)) { ++live; }
  Tracked(const Tracked& o) : text(o.text) { ++live; }
  Tracked(Tracked&& o) noexcept : text(std::move(o.text)) { ++live; }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) noexcept = default;
  ~Tracked() { --live; }
  friend bool operator==(const Tracked& a, const Tracked& b) { return a.text == b.text; }
};
int Tracked::live = 0;

template <typename V>
std::vector<std::string> Texts(const V& v) {
  std::vector<std::string> out;
  for (const Tracked& t : v) out.push_back(t.text);
  return out;
}

TEST(SmallVecTest, LayoutSharesInlineBytesWithTheHeapPointer) {
  // N elements plus 8 bytes (size and capacity); never less than a pointer inline.
  static_assert(sizeof(SmallVec<Dot, 4>) == 4 * sizeof(Dot) + 8);
  static_assert(sizeof(SmallVec<uint64_t, 8>) == 8 * 8 + 8);
  static_assert(sizeof(SmallVec<uint32_t, 1>) == 8 + 8);
  static_assert(sizeof(SmallVec<std::string, 1>) == sizeof(std::string) + 8);
  SmallVec<uint64_t, 2> v;
  EXPECT_EQ(v.capacity(), 2u);
  EXPECT_EQ(v.HeapBytes(), 0u);
  v.push_back(1);
  v.push_back(2);
  EXPECT_EQ(v.HeapBytes(), 0u);  // still inline
  v.push_back(3);
  EXPECT_GE(v.capacity(), 3u);
  EXPECT_EQ(v.HeapBytes(), v.capacity() * sizeof(uint64_t));
  EXPECT_EQ((std::vector<uint64_t>(v.begin(), v.end())), (std::vector<uint64_t>{1, 2, 3}));
}

// insert(i, v) of one of the vector's own elements when it must grow: the element is read
// before the storage moves (inline to heap, where the heap pointer overwrites the inline
// bytes, and heap to heap, where the old block is freed).
TEST(SmallVecTest, InsertingAnOwnElementWhileGrowing) {
  SmallVec<int64_t, 2> v;
  v.push_back(11);
  v.push_back(22);
  v.insert(1, v[0]);  // inline -> heap
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], 11);
  EXPECT_EQ(v[1], 11);
  EXPECT_EQ(v[2], 22);
  while (v.size() < v.capacity()) v.push_back(33);
  const int64_t last = v[v.size() - 1];
  v.insert(0, v[v.size() - 1]);  // heap -> heap
  EXPECT_EQ(v[0], last);
  EXPECT_EQ(v[1], 11);
}

TEST(SmallVecTest, NonTrivialGrowthKeepsEveryElement) {
  Tracked::live = 0;
  {
    SmallVec<Tracked, 2> v;
    for (int i = 0; i < 40; ++i) {
      v.push_back(Tracked(i));
      ASSERT_EQ(Tracked::live, i + 1);
      ASSERT_EQ(v.size(), static_cast<size_t>(i + 1));
    }
    for (int i = 0; i < 40; ++i) EXPECT_EQ(v[i].text, Tracked(i).text);
    // push_back of one of its own elements while full (the reference must survive Grow).
    while (v.size() < v.capacity()) v.push_back(Tracked(-1));
    const size_t n = v.size();
    v.push_back(v[0]);
    EXPECT_EQ(v.back().text, Tracked(0).text);
    EXPECT_EQ(Tracked::live, static_cast<int>(n + 1));
  }
  EXPECT_EQ(Tracked::live, 0);
}

TEST(SmallVecTest, MovesAndCopiesInlineAndOnTheHeap) {
  Tracked::live = 0;
  for (int count : {0, 1, 2, 3, 9}) {
    SCOPED_TRACE(testing::Message() << "count=" << count);
    SmallVec<Tracked, 2> a;
    for (int i = 0; i < count; ++i) a.push_back(Tracked(i));
    const std::vector<std::string> want = Texts(a);

    SmallVec<Tracked, 2> copy(a);
    EXPECT_EQ(Texts(copy), want);
    SmallVec<Tracked, 2> moved(std::move(a));
    EXPECT_EQ(Texts(moved), want);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(Tracked::live, 2 * count);

    // Move assignment over a vector holding elements (inline and heap targets).
    SmallVec<Tracked, 2> target;
    for (int i = 0; i < 5 - count % 4; ++i) target.push_back(Tracked(100 + i));
    target = std::move(moved);
    EXPECT_EQ(Texts(target), want);
    EXPECT_EQ(Tracked::live, 2 * count);
    // Copy assignment over a longer and a shorter vector.
    SmallVec<Tracked, 2> longer;
    for (int i = 0; i < 7; ++i) longer.push_back(Tracked(200 + i));
    longer = copy;
    EXPECT_EQ(Texts(longer), want);
    target = target;  // self-assignment keeps the elements
    EXPECT_EQ(Texts(target), want);
    EXPECT_EQ(Tracked::live, 3 * count);
    // The moved-from vector is usable again.
    a.push_back(Tracked(7));
    EXPECT_EQ(a.size(), 1u);
  }
  EXPECT_EQ(Tracked::live, 0);
}

// shrink_to_fit: elements that fit inline go back there and the block is freed; more than N
// stay on the heap; an inline vector is left as it is.
TEST(SmallVecTest, ShrinkToFitMovesElementsBackInline) {
  SmallVec<uint64_t, 2> t;
  for (uint64_t i = 1; i <= 3; ++i) t.push_back(i);
  t.shrink_to_fit();  // 3 > N: stays
  EXPECT_GT(t.HeapBytes(), 0u);
  t.resize(2);
  t.shrink_to_fit();
  EXPECT_EQ(t.HeapBytes(), 0u);
  EXPECT_EQ(t.capacity(), 2u);
  EXPECT_EQ((std::vector<uint64_t>(t.begin(), t.end())), (std::vector<uint64_t>{1, 2}));
  t.shrink_to_fit();  // inline: unchanged
  EXPECT_EQ((std::vector<uint64_t>(t.begin(), t.end())), (std::vector<uint64_t>{1, 2}));

  Tracked::live = 0;
  for (size_t keep : {0u, 1u, 2u}) {
    SCOPED_TRACE(testing::Message() << "keep=" << keep);
    {
      SmallVec<Tracked, 2> v;
      for (int i = 0; i < 5; ++i) v.push_back(Tracked(i));
      v.resize(keep);
      v.shrink_to_fit();
      EXPECT_EQ(v.HeapBytes(), 0u);
      EXPECT_EQ(Tracked::live, static_cast<int>(keep));
      std::vector<std::string> want;
      for (size_t i = 0; i < keep; ++i) want.push_back(Tracked(static_cast<int>(i)).text);
      EXPECT_EQ(Texts(v), want);
      v.push_back(Tracked(9));  // usable inline, then growing again
      v.push_back(Tracked(10));
      EXPECT_EQ(v.size(), keep + 2);
      EXPECT_EQ(v.back().text, Tracked(10).text);
    }
    EXPECT_EQ(Tracked::live, 0);
  }
}

// Random operations against std::vector, for a trivial and a non-trivial element type.
template <typename Make>
void RandomAgainstVector(uint64_t seed, Make make) {
  using T = decltype(make(0));
  Rng rng(seed);
  SmallVec<T, 3> v;
  std::vector<T> model;
  int block_shrinks = 0;  // shrink steps on a vector holding a block it no longer needs
  for (int step = 0; step < 2000; ++step) {
    const int op = static_cast<int>(rng.Uniform(8));
    const int x = static_cast<int>(rng.Uniform(1000));
    if (op <= 2 || model.empty()) {
      v.push_back(make(x));
      model.push_back(make(x));
    } else if (op == 3) {
      const size_t i = rng.Uniform(model.size() + 1);
      v.insert(i, make(x));
      model.insert(model.begin() + static_cast<std::ptrdiff_t>(i), make(x));
    } else if (op == 4) {
      const size_t i = rng.Uniform(model.size());
      v.erase(i);
      model.erase(model.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (op == 5) {
      const size_t n = rng.Uniform(model.size() + 1);
      v.resize(n);
      model.resize(n, make(0));
    } else if (op == 6) {
      SmallVec<T, 3> tmp(std::move(v));
      v = std::move(tmp);
    } else if (rng.OneIn(20)) {
      v.clear();
      model.clear();
    } else if (rng.OneIn(4)) {
      if (v.HeapBytes() > 0 && v.size() <= 3) ++block_shrinks;
      v.shrink_to_fit();
      if (v.size() <= 3) {
        ASSERT_EQ(v.HeapBytes(), 0u) << "step " << step;
      }
    }
    ASSERT_EQ(v.size(), model.size()) << "step " << step;
    ASSERT_TRUE(std::equal(v.begin(), v.end(), model.begin())) << "step " << step;
    ASSERT_GE(v.capacity(), v.size());
  }
  EXPECT_GT(block_shrinks, 0);  // the case shrink_to_fit exists for was reached
}

TEST(SmallVecTest, RandomOperationsMatchVector) {
  for (uint64_t seed : TestSeeds(10, 0x5A11)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    RandomAgainstVector(seed, [](int x) { return Dot{static_cast<ReplicaId>(x % 7), 1u + x}; });
    Tracked::live = 0;
    RandomAgainstVector(seed, [](int x) { return Tracked(x); });
    EXPECT_EQ(Tracked::live, 0);
  }
}

TEST(SmallVecTest, CausalContextKeepsItsDotsThroughCopiesAndMoves) {
  // A user of SmallVec: vector entries beyond the six inline ones go to the heap.
  CausalContext cc;
  for (uint16_t site = 1; site <= 9; ++site) cc.Next(MakeReplicaId(site, 1));
  cc.Add(Dot{MakeReplicaId(1, 1), 5});
  cc.Add(Dot{MakeReplicaId(2, 1), 7});
  cc.Add(Dot{MakeReplicaId(3, 1), 9});
  CausalContext copy = cc;
  CausalContext moved = std::move(copy);
  EXPECT_EQ(moved, cc);
  EXPECT_TRUE(moved.Contains(Dot{MakeReplicaId(9, 1), 1}));
  EXPECT_TRUE(moved.Contains(Dot{MakeReplicaId(3, 1), 9}));
  EXPECT_FALSE(moved.Contains(Dot{MakeReplicaId(3, 1), 8}));
}

}  // namespace
}  // namespace crdt
