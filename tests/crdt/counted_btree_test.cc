// CountedBTree (crdt/counted_btree.h) against std::set as the model: random inserts and
// erases (with many ties on the first field, and -inf/+inf), then every query (rank,
// find_by_order, lower_bound, find, forward and backward iteration). Small node
// capacities make splits, merges and refills frequent; the default capacities run too.
#include "crdt/counted_btree.h"

#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

// As a sorted set's index item: a score and a tie-breaker.
struct Item {
  double score;
  int id;
};
struct ItemLess {
  bool operator()(const Item& a, const Item& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.id < b.id;
  }
};
bool Same(const Item& a, const Item& b) { return a.score == b.score && a.id == b.id; }

double RandomScore(Rng& rng) {
  switch (rng.Uniform(8)) {
    case 0:
      return -std::numeric_limits<double>::infinity();
    case 1:
      return std::numeric_limits<double>::infinity();
    case 2:
      return static_cast<double>(rng.Range(-1'000'000, 1'000'000)) / 7.0;
    default:
      return static_cast<double>(rng.Range(-3, 3));  // many ties
  }
}

template <typename Tree>
void CheckAll(const Tree& t, const std::set<Item, ItemLess>& model, Rng& rng) {
  ASSERT_EQ(t.size(), model.size());
  ASSERT_EQ(t.empty(), model.empty());
  std::vector<Item> in_order(model.begin(), model.end());
  // Forward and backward iteration.
  size_t i = 0;
  for (auto it = t.begin(); it != t.end(); ++it, ++i) {
    ASSERT_LT(i, in_order.size());
    ASSERT_TRUE(Same(*it, in_order[i])) << "at " << i;
  }
  ASSERT_EQ(i, in_order.size());
  ASSERT_EQ(static_cast<size_t>(std::distance(t.begin(), t.end())), in_order.size());
  auto it = t.end();
  for (size_t j = in_order.size(); j > 0; --j) {
    --it;
    ASSERT_TRUE(Same(*it, in_order[j - 1])) << "backward at " << j - 1;
  }
  ASSERT_TRUE(it == t.begin());
  // Ranks of every value.
  for (size_t k = 0; k < in_order.size(); ++k) {
    ASSERT_EQ(t.order_of_key(in_order[k]), k);
    auto f = t.find_by_order(k);
    ASSERT_TRUE(f != t.end());
    ASSERT_TRUE(Same(*f, in_order[k]));
    ASSERT_TRUE(t.find(in_order[k]) == f);
  }
  ASSERT_TRUE(t.find_by_order(in_order.size()) == t.end());
  // Probes, present or not.
  for (int p = 0; p < 50; ++p) {
    const Item x{RandomScore(rng), static_cast<int>(rng.Range(-1, 60))};
    const auto m = model.lower_bound(x);
    const auto lb = t.lower_bound(x);
    if (m == model.end()) {
      ASSERT_TRUE(lb == t.end());
    } else {
      ASSERT_TRUE(lb != t.end());
      ASSERT_TRUE(Same(*lb, *m));
    }
    ASSERT_EQ(t.order_of_key(x), static_cast<size_t>(std::distance(model.begin(), m)));
    ASSERT_EQ(t.find(x) == t.end(), model.find(x) == model.end());
  }
}

template <typename Tree>
void RunRandom(uint64_t seed, int ops, int ids) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  Tree t;
  std::set<Item, ItemLess> model;
  for (int op = 0; op < ops; ++op) {
    // Phases that grow and shrink, so merges and refills happen, down to empty.
    const bool grow = (op / 500) % 2 == 0;
    const Item x{RandomScore(rng), static_cast<int>(rng.Uniform(static_cast<uint64_t>(ids)))};
    if (rng.Uniform(10) < (grow ? 7u : 3u)) {
      ASSERT_EQ(t.insert(x), model.insert(x).second);
    } else if (!model.empty() && rng.OneIn(2)) {
      // Erase a present value (by rank).
      auto m = model.begin();
      std::advance(m, static_cast<std::ptrdiff_t>(rng.Uniform(model.size())));
      const Item y = *m;
      model.erase(m);
      ASSERT_EQ(t.erase(y), 1u);
    } else {
      ASSERT_EQ(t.erase(x), model.erase(x));
    }
    if (op % 97 == 0 || model.size() < 3) CheckAll(t, model, rng);
    if (::testing::Test::HasFatalFailure()) return;
  }
  CheckAll(t, model, rng);
  // Drain in random order.
  std::vector<Item> rest(model.begin(), model.end());
  rng.Shuffle(&rest);
  for (const Item& x : rest) {
    ASSERT_EQ(t.erase(x), 1u);
    model.erase(x);
    if (model.size() % 37 == 0) CheckAll(t, model, rng);
  }
  ASSERT_TRUE(t.empty());
  ASSERT_TRUE(t.begin() == t.end());
}

using SmallTree = CountedBTree<Item, ItemLess, 8, 8>;
using DefaultTree = CountedBTree<Item, ItemLess>;

TEST(CountedBTree, RandomSmallNodesMatchesSet) {
  for (uint64_t seed : TestSeeds(30, 0xB7EE)) RunRandom<SmallTree>(seed, 4000, 400);
}

TEST(CountedBTree, RandomDefaultNodesMatchesSet) {
  for (uint64_t seed : TestSeeds(6, 0xB7EF)) RunRandom<DefaultTree>(seed, 12000, 5000);
}

TEST(CountedBTree, EmptyTree) {
  DefaultTree t;
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(t.begin() == t.end());
  EXPECT_TRUE(t.lower_bound(Item{0, 0}) == t.end());
  EXPECT_TRUE(t.find_by_order(0) == t.end());
  EXPECT_EQ(t.order_of_key(Item{0, 0}), 0u);
  EXPECT_EQ(t.erase(Item{0, 0}), 0u);
  EXPECT_EQ(t.MemoryBytes(), 0u);
}

TEST(CountedBTree, DuplicateInsertIsRefused) {
  DefaultTree t;
  EXPECT_TRUE(t.insert(Item{1, 1}));
  EXPECT_FALSE(t.insert(Item{1, 1}));
  EXPECT_TRUE(t.insert(Item{1, 2}));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_LT(t.MemoryBytes(), 128u);  // a small lone leaf
}

// Ascending and descending runs (every insert at one end) and a move keep order.
TEST(CountedBTree, SequentialInsertsAndMove) {
  SmallTree t;
  for (int i = 0; i < 1000; ++i) t.insert(Item{static_cast<double>(i), 0});
  for (int i = 0; i < 1000; ++i) t.insert(Item{static_cast<double>(-i - 1), 0});
  ASSERT_EQ(t.size(), 2000u);
  EXPECT_EQ(t.begin()->score, -1000);
  EXPECT_EQ(std::prev(t.end())->score, 999);
  EXPECT_EQ(t.order_of_key(Item{0, 0}), 1000u);
  EXPECT_EQ(t.find_by_order(1500)->score, 500);
  SmallTree moved = std::move(t);
  EXPECT_EQ(moved.size(), 2000u);
  EXPECT_GT(moved.MemoryBytes(), 0u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(moved.erase(Item{static_cast<double>(i), 0}), 1u);
  EXPECT_EQ(std::prev(moved.end())->score, -1);
}

}  // namespace
}  // namespace crdt
