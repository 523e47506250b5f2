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
#include <utility>
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
// The same order, with the score as the key a node is searched by first.
struct KeyedItemLess : ItemLess {
  static double Key(const Item& a) { return a.score; }
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
      if (rng.OneIn(2)) {
        ASSERT_EQ(t.insert(x), model.insert(x).second);
      } else {
        // Hinted: located at x or below it (the lowest id of x's score), sometimes made
        // stale by another insert or erase before it is used.
        typename Tree::Hint hint;
        const Item y = rng.OneIn(2) ? x : Item{x.score, std::numeric_limits<int>::min()};
        t.Locate(y, &hint);
        if (rng.OneIn(4)) {
          const Item z{RandomScore(rng), static_cast<int>(rng.Uniform(uint64_t(ids)))};
          if (rng.OneIn(2)) {
            ASSERT_EQ(t.insert(z), model.insert(z).second);
          } else {
            ASSERT_EQ(t.erase(z), model.erase(z));
          }
        }
        ASSERT_EQ(t.insert(x, hint), model.insert(x).second);
      }
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
using KeyedSmallTree = CountedBTree<Item, KeyedItemLess, 8, 8>;
using KeyedDefaultTree = CountedBTree<Item, KeyedItemLess>;

TEST(CountedBTree, RandomSmallNodesMatchesSet) {
  for (uint64_t seed : TestSeeds(30, 0xB7EE)) RunRandom<SmallTree>(seed, 4000, 400);
}

TEST(CountedBTree, RandomDefaultNodesMatchesSet) {
  for (uint64_t seed : TestSeeds(6, 0xB7EF)) RunRandom<DefaultTree>(seed, 12000, 5000);
}

// The key-first node search gives the same answers (many ties on the key).
TEST(CountedBTree, RandomKeyedNodesMatchesSet) {
  for (uint64_t seed : TestSeeds(30, 0xB7F0)) RunRandom<KeyedSmallTree>(seed, 4000, 400);
  for (uint64_t seed : TestSeeds(6, 0xB7F1)) RunRandom<KeyedDefaultTree>(seed, 12000, 5000);
}

// A hint is used only while it holds: not after the tree changed, not for a value past
// the next leaf, not for a full leaf; each case still inserts correctly.
TEST(CountedBTree, HintedInsertFallsBackWhenTheHintIsStale) {
  KeyedSmallTree t;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(t.insert(Item{static_cast<double>(2 * i), 0}));
  KeyedSmallTree::Hint hint;
  t.Locate(Item{11, 0}, &hint);
  ASSERT_TRUE(t.insert(Item{11, 0}, hint));   // the hint holds
  ASSERT_FALSE(t.insert(Item{11, 0}, hint));  // stale now, and a duplicate
  t.Locate(Item{13, 0}, &hint);
  ASSERT_TRUE(t.insert(Item{301, 0}, hint));  // far past the hinted leaf
  t.Locate(Item{-5, 0}, &hint);
  ASSERT_TRUE(t.insert(Item{-3, 0}, hint));  // below every value, in the first leaf
  for (int i = 0; i < 20; ++i) {
    t.Locate(Item{151, 0}, &hint);
    ASSERT_TRUE(t.insert(Item{151, i}, hint));  // fills and splits the leaf
  }
  KeyedSmallTree::Hint none;
  ASSERT_TRUE(t.insert(Item{1000, 0}, none));
  ASSERT_EQ(t.size(), 224u);
  double prev = -1e9;
  size_t rank = 0;
  for (auto it = t.begin(); it != t.end(); ++it, ++rank) {
    ASSERT_LE(prev, it->score);
    prev = it->score;
    ASSERT_EQ(t.order_of_key(*it), rank);
  }
  EXPECT_EQ(t.order_of_key(Item{151, 0}), t.order_of_key(Item{150, 0}) + 1);
}

// A refused duplicate insert that first grew the lone leaf (freeing the old one) must still
// make an earlier hint stale: the hinted insert then falls back instead of writing into the
// freed leaf (AddressSanitizer reports it otherwise).
TEST(CountedBTree, AHintBeforeALoneLeafGrowsIsStale) {
  KeyedSmallTree t;
  std::set<std::pair<double, int>> model;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(t.insert(Item{static_cast<double>(2 * i), 0}));
    model.insert({2.0 * i, 0});
    KeyedSmallTree::Hint hint;
    t.Locate(Item{2.0 * i + 1, 0}, &hint);
    ASSERT_FALSE(t.insert(Item{0, 0}));  // a duplicate: may grow the leaf, then refuses
    ASSERT_TRUE(t.insert(Item{2.0 * i + 1, 0}, hint));
    model.insert({2.0 * i + 1, 0});
    ASSERT_EQ(t.size(), model.size());
    auto m = model.begin();
    for (auto it = t.begin(); it != t.end(); ++it, ++m) {
      ASSERT_EQ(it->score, m->first) << "after " << i;
    }
  }
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
