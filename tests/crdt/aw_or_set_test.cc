// AwOrSet / SetStore: add-wins observed-remove semantics, deltas, the hash table behind the
// store (checked against std::set), multi-dot elements, memory without tombstones.
#include "crdt/aw_or_set.h"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/flat_hash.h"
#include "crdt/value_heap.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;
using Strings = std::vector<std::string>;

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);
constexpr ReplicaId kC = MakeReplicaId(3, 1);

TEST(AwOrSetTest, AddRemoveContains) {
  AwOrSet s(kA);
  EXPECT_EQ(s.Size(), 0u);
  s.Add("x");
  s.Add("y");
  s.Add("x");
  EXPECT_TRUE(s.Contains("x"));
  EXPECT_EQ(s.Elements(), (Strings{"x", "y"}));
  s.Remove("x");
  EXPECT_FALSE(s.Contains("x"));
  EXPECT_EQ(s.Size(), 1u);
  s.Remove("nope");
  EXPECT_EQ(s.Elements(), (Strings{"y"}));
  s.Clear();
  EXPECT_EQ(s.Size(), 0u);
  EXPECT_EQ(s.store().entry_count(), 0u);
}

TEST(AwOrSetTest, ReAddDropsTheOldDot) {
  AwOrSet s(kA);
  s.Add("x");
  s.Add("x");
  int dots = 0;
  s.store().ForEach([&](std::string_view, const SetStore::DotList& d) { dots += d.size(); });
  EXPECT_EQ(dots, 1);
  EXPECT_EQ(s.context().Max(kA), 2u);
}

TEST(AwOrSetTest, ConcurrentAddWinsOverRemove) {
  AwOrSet a(kA), b(kB);
  b.Merge(a.Add("x"));
  AwOrSet rm = a.Remove("x");  // A removes the add it saw
  AwOrSet add = b.Add("x");    // B re-adds concurrently: a new dot
  a.Merge(add);
  b.Merge(rm);
  EXPECT_EQ(a.Elements(), (Strings{"x"}));
  EXPECT_EQ(a, b);
}

TEST(AwOrSetTest, RemoveOnlyRemovesObservedAdds) {
  AwOrSet a(kA), b(kB);
  AwOrSet add_b = b.Add("x");  // not yet seen by A
  AwOrSet rm_a = a.Remove("x");
  EXPECT_EQ(rm_a.store().entry_count(), 0u);  // nothing observed, nothing removed
  a.Merge(add_b);
  b.Merge(rm_a);
  EXPECT_TRUE(a.Contains("x"));
  EXPECT_TRUE(b.Contains("x"));
}

TEST(AwOrSetTest, ConcurrentAddsOfTheSameElementKeepTwoDots) {
  AwOrSet a(kA), b(kB), c(kC);
  AwOrSet da = a.Add("x"), db = b.Add("x");
  a.Merge(db);
  b.Merge(da);
  c.Merge(da);
  c.Merge(db);
  size_t dots = 0;
  a.store().ForEach([&](std::string_view, const SetStore::DotList& d) { dots = d.size(); });
  EXPECT_EQ(dots, 2u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  // A remove at C observed both; a late duplicate of either add does not resurrect x.
  AwOrSet rm = c.Remove("x");
  a.Merge(rm);
  a.Merge(da);
  a.Merge(db);
  EXPECT_FALSE(a.Contains("x"));
  EXPECT_EQ(a.store().entry_count(), 0u);
}

TEST(AwOrSetTest, DeltasAreKeyComplete) {
  AwOrSet a(kA);
  a.Add("x");
  AwOrSet d = a.Remove("x");
  EXPECT_TRUE(d.is_delta());
  EXPECT_FALSE(a.is_delta());
  EXPECT_EQ(d.store().entry_count(), 1u);  // x listed with no dots: "removed"
  EXPECT_EQ(d.store().size(), 0u);
}

// A full state merged into a delta (e.g. a delta group absorbing a snapshot) must give the
// same canonical state as the other way round: no element left without dots.
TEST(AwOrSetTest, StateMergedIntoADeltaIsCanonical) {
  AwOrSet a(kA), b(kB);
  a.Add("x");
  AwOrSet d = a.Remove("x");
  b.Add("y");
  AwOrSet delta_then_state = d;
  delta_then_state.Merge(b);
  AwOrSet state_then_delta = b;
  state_then_delta.Merge(d);
  EXPECT_EQ(delta_then_state, state_then_delta);
  EXPECT_EQ(delta_then_state.Encode(), state_then_delta.Encode());
  EXPECT_EQ(delta_then_state.store().entry_count(), delta_then_state.store().size());
  std::string error;
  EXPECT_TRUE(AwOrSet::Decode(delta_then_state.Encode(), &error).has_value()) << error;
}

// The store's open-addressing table (kicks in above 32 entries, grows, backward-shift
// deletes), long elements on the heap, and swap-with-last erasure, against std::set.
TEST(AwOrSetTest, StoreMatchesStdSetUnderRandomChurn) {
  for (uint64_t seed : TestSeeds(20, 300)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    AwOrSet s(kA);
    std::set<std::string> model;
    const int universe = static_cast<int>(rng.Range(5, 400));
    for (int step = 0; step < 1500; ++step) {
      int e = rng.Index(universe);
      std::string elem = (e % 3 == 0 ? "a-long-element-name-" : "e") + std::to_string(e);
      if (rng.Uniform(10) < 6) {
        s.Add(elem);
        model.insert(elem);
      } else {
        s.Remove(elem);
        model.erase(elem);
      }
      if (rng.OneIn(200)) {
        s.Clear();
        model.clear();
      }
      if (step % 97 == 0) {
        ASSERT_EQ(s.Elements(), Strings(model.begin(), model.end())) << "step " << step;
        for (int probe = 0; probe < universe; probe += 7) {
          std::string p = (probe % 3 == 0 ? "a-long-element-name-" : "e") + std::to_string(probe);
          ASSERT_EQ(s.Contains(p), model.count(p) > 0) << p;
        }
      }
    }
    ASSERT_EQ(s.Elements(), Strings(model.begin(), model.end()));
    ASSERT_EQ(s.store().entry_count(), model.size());
    // Copies and moves keep everything.
    AwOrSet copy = s;
    EXPECT_EQ(copy, s);
    EXPECT_EQ(copy.Encode(), s.Encode());
    AwOrSet moved = std::move(copy);
    EXPECT_EQ(moved, s);
    ASSERT_TRUE(moved.store().IndexConsistent());
    ASSERT_TRUE(copy.store().IndexConsistent());
    EXPECT_EQ(copy.store().entry_count(), 0u);
    for (const std::string& e : model) EXPECT_TRUE(moved.Contains(e));
  }
}

TEST(AwOrSetTest, ElementsAreSortedAndBinarySafe) {
  AwOrSet s(kA);
  std::string zero("a\0b", 3);
  s.Add("b");
  s.Add(zero);
  s.Add("");
  s.Add(std::string(100, 'z'));
  EXPECT_EQ(s.Elements(), (Strings{"", zero, "b", std::string(100, 'z')}));
  EXPECT_TRUE(s.Contains(""));
  std::string error;
  auto back = AwOrSet::Decode(s.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, s);
}

// Dots with counters above 48 bits cannot be packed inline and use the side map.
TEST(AwOrSetTest, UnpackableDotsUseTheSideMap) {
  // A state holding x with dot (A, 2^50) and context {A: 2^50}.
  Encoder enc;
  enc.PutByte(0);
  enc.PutVarint(1);
  enc.PutBytes("x");
  enc.PutVarint(1);
  enc.PutDot(Dot{kA, uint64_t{1} << 50});
  enc.PutVarint(1);
  enc.PutVarint(kA);
  enc.PutVarint(uint64_t{1} << 50);
  enc.PutVarint(0);
  std::string error;
  auto s = AwOrSet::Decode(enc.str(), &error);
  ASSERT_TRUE(s) << error;
  EXPECT_TRUE(s->Contains("x"));
  EXPECT_EQ(s->Encode(), enc.str());
  AwOrSet b(kB);
  b.Merge(*s);
  EXPECT_TRUE(b.Contains("x"));
  AwOrSet rm = b.Remove("x");
  s->Merge(rm);
  EXPECT_FALSE(s->Contains("x"));
  EXPECT_EQ(s->store().entry_count(), 0u);
}

// Elements whose hashes share their top 8 bits, the bits of a small set's tag byte: "" and
// n short and long (heap-held) others, so that a lookup in a set without an index meets
// several entries with its own tag and must compare their bytes.
// n short and long elements whose hashes have the top 8 bits `bits`, after those of `out`.
std::vector<std::string> ElementsOfHashTop(uint32_t bits, size_t n, std::vector<std::string> out) {
  for (int i = 0; out.size() < n; ++i) {
    std::string e =
        (i % 2 == 0 ? "t" : "a-long-element-beyond-the-inline-bytes-") + std::to_string(i);
    if (HashOf(e) >> 24 == bits) out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> SameTagElements(size_t n) {
  return ElementsOfHashTop(HashOf("") >> 24, n + 1, {""});
}

void ExpectStoreIs(const SetStore& s, const std::set<std::string>& model,
                   const std::vector<std::string>& universe, int step) {
  ASSERT_TRUE(s.IndexConsistent()) << "step " << step;
  ASSERT_EQ(s.size(), model.size()) << "step " << step;
  ASSERT_EQ(s.entry_count(), model.size()) << "step " << step;
  for (const std::string& e : universe) {
    ASSERT_EQ(s.Contains(e), model.count(e) > 0) << "step " << step << " " << e;
  }
  ASSERT_EQ(s.Elements(), Strings(model.begin(), model.end())) << "step " << step;
}

// A set that has not had more than 32 entries has no index: its entries are found through
// their tag bytes in the store (the first 8 in one word, the next 24 where the inline entry
// was). Elements whose hash has its top 8 bits 0 (their tag is 1, not 0, a hole's, so they
// share it with those of top bits 1), holes in the middle, in the second tag word and at
// the end, their reuse, elements sharing one tag (the empty one among them), the index
// built at the 33rd entry and dropped with the last one, many removals then adds, and
// copies, moves (the moved-from store empty) and swaps of stores on two heaps, with sets
// crossing 1, 8 and 32 entries both ways, all checked against std::set after each step.
TEST(AwOrSetTest, SmallSetTagsThroughHolesSharedTagsAndGrowth) {
  const std::vector<std::string> same = SameTagElements(35);
  const std::vector<std::string> top0 = ElementsOfHashTop(0, 4, {});
  const std::vector<std::string> top1 = ElementsOfHashTop(1, 4, {});
  std::vector<std::string> universe = same;
  universe.insert(universe.end(), top0.begin(), top0.end());
  universe.insert(universe.end(), top1.begin(), top1.end());
  for (int i = 0; i < 6; ++i) universe.push_back("o" + std::to_string(i));
  CausalContext cc;
  std::set<std::string> model;
  SetStore s;
  int step = 0;
  auto add = [&](const std::string& e) {
    s.Add(e, kA, &cc, nullptr, nullptr);
    model.insert(e);
    ExpectStoreIs(s, model, universe, ++step);
  };
  auto remove = [&](const std::string& e) {
    s.Remove(e, nullptr, nullptr);
    model.erase(e);
    ExpectStoreIs(s, model, universe, ++step);
  };
  for (const std::string& e : top0) add(e);
  for (const std::string& e : top1) add(e);
  for (const std::string& e : top0) remove(e);
  for (const std::string& e : top1) remove(e);
  // 32 entries of one tag, holes in the middle (reused; one in each of the four 8-entry tag
  // words) and at the end, then the index.
  for (size_t i = 0; i < 32; ++i) add(same[i]);
  ASSERT_FALSE(s.HasIndexForTest());
  remove(same[3]);
  remove(same[0]);   // "": its hole must not match a lookup of ""
  remove(same[10]);  // entries 8-15: the first word where the inline entry was
  remove(same[20]);  // entries 16-23
  remove(same[27]);  // entries 24-31
  remove(same[31]);  // the last entry: no hole
  add(same[32]);
  add(same[0]);
  add(same[33]);
  add(same[34]);
  add(same[10]);
  add(same[27]);
  ASSERT_FALSE(s.HasIndexForTest());  // 32 entries
  add(same[20]);                      // the 33rd entry: the index takes over from the tags
  ASSERT_TRUE(s.HasIndexForTest());
  for (const std::string& e : universe) remove(e);
  ASSERT_EQ(s.MemoryBytes(), 0u);  // empty again: no index, no entries
  add(same[5]);
  // Random churn: blocks of mostly adds (sets past 32 entries), of even odds and of mostly
  // removes (sets around 8 and below), so that sets cross kSmall and the first tag word's 8
  // entries both ways; Clear (rare enough that an add-heavy block climbs past 32 first)
  // returns to tags. The steps with an index are counted, so that the coverage of an
  // indexed store copied, moved and swapped cannot vanish unseen.
  ValueHeap* ha = ValueHeap::New();
  ValueHeap* hb = ValueHeap::New();
  s.UseHeap(ha);
  SetStore other;
  other.UseHeap(hb);
  std::set<std::string> other_model;
  int indexed_steps = 0;
  int indexed_copies = 0;
  // Each block's share of adds: 90% climbs past 32 entries (~44 of the 49 elements at
  // balance) within a block, even with a single seed (a Debug build runs one).
  const uint64_t kAddPercents[] = {15, 45, 90};
  for (uint64_t seed : TestSeeds(5, 900)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    uint64_t add_percent = 50;
    for (int k = 0; k < 600; ++k) {
      if (k % 100 == 0) add_percent = kAddPercents[rng.Index(std::size(kAddPercents))];
      const std::string& e = universe[rng.Index(universe.size())];
      if (rng.Uniform(100) < add_percent) {
        add(e);
      } else {
        remove(e);
      }
      if (s.HasIndexForTest()) ++indexed_steps;
      if (rng.OneIn(200)) {
        s.Clear(nullptr, nullptr);
        model.clear();
        ExpectStoreIs(s, model, universe, ++step);
      }
      if (rng.OneIn(10)) {
        if (s.HasIndexForTest()) ++indexed_copies;
        SetStore copy(s);  // the ordinary heap
        ExpectStoreIs(copy, model, universe, ++step);
        SetStore moved(std::move(copy));
        ExpectStoreIs(moved, model, universe, ++step);
        ExpectStoreIs(copy, {}, universe, ++step);
        other = moved;  // into hb
        other_model = model;
        ExpectStoreIs(other, other_model, universe, ++step);
      }
      if (rng.OneIn(15)) {
        std::swap(s, other);  // each keeps its heap
        std::swap(model, other_model);
        ASSERT_EQ(s.heap(), ha);
        ASSERT_EQ(other.heap(), hb);
        ExpectStoreIs(s, model, universe, ++step);
        ExpectStoreIs(other, other_model, universe, ++step);
      }
    }
  }
  EXPECT_GT(indexed_steps, 0);
  EXPECT_GT(indexed_copies, 0);
  s = SetStore();
  other = SetStore();
  EXPECT_EQ(ha->Live(), 0u);
  EXPECT_EQ(hb->Live(), 0u);
  ValueHeap::Release(ha);
  ValueHeap::Release(hb);
}

// No tombstones: after every element added on several replicas is removed and the replicas
// sync, nothing but one context entry per replica remains.
TEST(AwOrSetTest, NoTombstoneGrowth) {
  constexpr int kReplicas = 3;
  constexpr int kElements = 300;
  std::vector<AwOrSet> r;
  for (int i = 0; i < kReplicas; ++i) r.emplace_back(MakeReplicaId(i + 1, 1));
  std::vector<AwOrSet> deltas;
  size_t peak_bytes = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    for (int e = 0; e < kElements; ++e) {
      deltas.push_back(r[e % kReplicas].Add("element-" + std::to_string(e)));
      ASSERT_TRUE(deltas.back().store().IndexConsistent());
    }
    for (auto& rep : r) {
      for (const auto& d : deltas) {
        rep.Merge(d);
        ASSERT_TRUE(rep.store().IndexConsistent());
      }
    }
    deltas.clear();
    for (const auto& rep : r) ASSERT_EQ(rep.Size(), static_cast<size_t>(kElements));
    peak_bytes = std::max(peak_bytes, r[0].MemoryBytes());
    for (int e = 0; e < kElements; ++e) {
      deltas.push_back(r[(e + 1) % kReplicas].Remove("element-" + std::to_string(e)));
      ASSERT_TRUE(deltas.back().store().IndexConsistent());
    }
    for (auto& rep : r) {
      for (const auto& d : deltas) {
        rep.Merge(d);
        ASSERT_TRUE(rep.store().IndexConsistent());
      }
    }
    deltas.clear();
    for (const auto& rep : r) {
      EXPECT_EQ(rep.Size(), 0u);
      EXPECT_EQ(rep.store().entry_count(), 0u);
      EXPECT_LE(rep.context().ExplicitSize(), static_cast<size_t>(kReplicas));
      EXPECT_TRUE(rep.context().cloud().empty());
      // Only the (reusable) entry array's capacity may remain: no per-element metadata.
      EXPECT_LE(rep.MemoryBytes(), peak_bytes);
    }
  }
  // A replica that only ever saw full states holds (almost) nothing.
  AwOrSet fresh(MakeReplicaId(9, 1));
  for (const auto& rep : r) {
    fresh.Merge(rep);
    ASSERT_TRUE(fresh.store().IndexConsistent());
  }
  EXPECT_EQ(fresh.store().entry_count(), 0u);
  EXPECT_LE(fresh.MemoryBytes(), 64u);
  EXPECT_EQ(fresh, r[0]);
}

// The same stores, both ways: operator== looks up the members of its first argument in
// its second one, so a store whose index lost an entry passes one way and fails the other.
void ExpectSameStore(const SetStore& got, const SetStore& expect, int step) {
  ASSERT_TRUE(got == expect) << "step " << step;
  ASSERT_TRUE(expect == got) << "step " << step;
  ASSERT_TRUE(got.IndexConsistent()) << "step " << step;
  ASSERT_TRUE(expect.IndexConsistent()) << "step " << step;
  ASSERT_EQ(got.size(), expect.size()) << "step " << step;
  ASSERT_EQ(got.entry_count(), expect.entry_count()) << "step " << step;
  Encoder a, b;
  got.Encode(&a);
  expect.Encode(&b);
  ASSERT_EQ(a.Release(), b.Release()) << "step " << step;
}

// JoinElement of every element of a one-element delta store (an effect's bytes list one).
template <typename OtherCc>
void JoinElements(SetStore* into, const SetStore& delta, const CausalContext& my_cc,
                  const OtherCc& other_cc, bool keep_empty) {
  delta.ForEach([&](std::string_view e, const SetStore::DotList& ds) {
    ASSERT_LE(ds.size(), 1u);
    into->JoinElement(e, ds.empty() ? nullptr : &ds[0], my_cc, other_cc, keep_empty);
  });
}

// The textbook add-wins join, written apart from SetStore's JoinDots and its fast forms, as
// the reference the code's joins are checked against: a dot survives iff both sides hold it,
// or one side holds it and the other's causal context does not cover it. An element listed
// by either side stays listed with no dots only when keep_empty.
using RefSet = std::map<std::string, std::set<Dot>>;

RefSet RefOf(const SetStore& s) {
  RefSet out;
  s.ForEach([&](std::string_view e, const SetStore::DotList& ds) {
    out[std::string(e)].insert(ds.begin(), ds.end());
  });
  return out;
}

RefSet RefJoin(const RefSet& mine, const RefSet& theirs, const CausalContext& my_cc,
               const CausalContext& other_cc, bool keep_empty) {
  RefSet out;
  const std::set<Dot> none;
  auto join = [&](const std::string& e) {
    const auto m = mine.find(e);
    const auto t = theirs.find(e);
    const std::set<Dot>& md = m == mine.end() ? none : m->second;
    const std::set<Dot>& td = t == theirs.end() ? none : t->second;
    std::set<Dot> kept;
    for (const Dot& d : md) {
      if (td.count(d) || !other_cc.Contains(d)) kept.insert(d);
    }
    for (const Dot& d : td) {
      if (md.count(d) || !my_cc.Contains(d)) kept.insert(d);
    }
    if (!kept.empty() || keep_empty) out[e] = std::move(kept);
  };
  for (const auto& [e, ds] : mine) join(e);
  for (const auto& [e, ds] : theirs) join(e);
  return out;
}

// SetStore::JoinElement (an SADD's or SREM's effect joined from its bytes: one probe of the
// index per element, a one-dot element without dot lists) against Join with the effect's
// store decoded from its encoding. Three replicas add and remove among enough elements for
// the index, holes and concurrent (multi-dot) elements; each delta reaches another replica
// late, sometimes twice, joined both ways with its decoded context as a CausalContext and,
// when it fits, as a ContextDots, keeping empty elements or not: the same store (compared
// both ways), entries, encoding and a consistent index. Each replica also keeps a store
// joined only through JoinElement (its own effects included), so that store's index lives
// across all the steps and is checked against the replica's after each one.
TEST(AwOrSetTest, JoinElementMatchesJoinOfTheDecodedStore) {
  constexpr int kReplicas = 3;
  const ReplicaId ids[kReplicas] = {kA, kB, kC};
  int indexed_joins = 0;  // joins into a store with an index (from its 33rd entry)
  for (uint64_t seed : TestSeeds(8, 0x10e)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<AwOrSet> sets;
    for (ReplicaId id : ids) sets.emplace_back(id);
    std::vector<SetStore> joined(kReplicas);
    std::vector<std::vector<AwOrSet>> pending(kReplicas);
    const int universe = static_cast<int>(rng.Range(4, 80));
    size_t compared = 0;
    for (int step = 0; step < 1500; ++step) {
      const int at = rng.Index(kReplicas);
      AwOrSet& set = sets[static_cast<size_t>(at)];
      SetStore& mine = joined[static_cast<size_t>(at)];
      if (rng.OneIn(3) && !pending[static_cast<size_t>(at)].empty()) {
        std::vector<AwOrSet>& queue = pending[static_cast<size_t>(at)];
        const size_t pick = static_cast<size_t>(rng.Index(queue.size()));
        std::string error;
        const std::optional<AwOrSet> decoded = AwOrSet::Decode(queue[pick].Encode(), &error);
        ASSERT_TRUE(decoded.has_value()) << error;
        const AwOrSet& delta = *decoded;
        ASSERT_TRUE(delta.store().IndexConsistent()) << "step " << step;
        if (!rng.OneIn(4)) queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(pick));
        const bool keep_empty = rng.OneIn(3);
        SetStore expect = set.store();
        expect.Join(delta.store(), set.context(), delta.context(), /*other_complete=*/true,
                    keep_empty);
        const RefSet reference = RefJoin(RefOf(set.store()), RefOf(delta.store()), set.context(),
                                         delta.context(), keep_empty);
        ASSERT_EQ(RefOf(expect), reference) << "Join against the reference, step " << step;
        Encoder enc;
        delta.context().Encode(&enc);
        const std::string cc_bytes = enc.Release();
        Decoder dec(cc_bytes);
        ContextDots dots;
        const bool few = dots.Decode(&dec) && dec.done();
        for (int form = 0; form < (few ? 2 : 1); ++form) {
          SCOPED_TRACE(testing::Message() << "form " << form);
          SetStore got = mine;
          if (got.HasIndexForTest()) ++indexed_joins;
          if (form == 0) {
            JoinElements(&got, delta.store(), set.context(), delta.context(), keep_empty);
          } else {
            JoinElements(&got, delta.store(), set.context(), dots, keep_empty);
          }
          ASSERT_NO_FATAL_FAILURE(ExpectSameStore(got, expect, step));
          ASSERT_EQ(RefOf(got), reference) << "JoinElement against the reference, step " << step;
          ++compared;
        }
        JoinElements(&mine, delta.store(), set.context(), delta.context(), false);
        set.Merge(delta);
        ASSERT_NO_FATAL_FAILURE(ExpectSameStore(mine, set.store(), step));
        continue;
      }
      const std::string elem = (step % 5 == 0 ? "a-long-element-name-" : "e") +
                               std::to_string(rng.Index(static_cast<size_t>(universe)));
      const CausalContext before = set.context();
      const AwOrSet delta = rng.Uniform(10) < 6 ? set.Add(elem) : set.Remove(elem);
      JoinElements(&mine, delta.store(), before, delta.context(), false);
      ASSERT_NO_FATAL_FAILURE(ExpectSameStore(mine, set.store(), step));
      if (delta.store().entry_count() == 0) continue;
      for (int to = 0; to < kReplicas; ++to) {
        if (to != at) pending[static_cast<size_t>(to)].push_back(delta);
      }
    }
    EXPECT_GT(compared, 500u);
  }
  EXPECT_GT(indexed_joins, 0);
}

// JoinElement onto a delta that lists an element with no dot (its CASE 2 with no dot of
// mine): one replica's pending deltas joined into one delta (an SADD then an SREM of a
// member leaves it listed, dotless), then another replica's SADD and SREM of a member joined
// from their bytes, against Join (AwOrSet::Merge of two deltas keeps empty elements).
TEST(AwOrSetTest, JoinElementOntoADeltaElementWithNoDot) {
  for (uint64_t seed : TestSeeds(8, 0x10f)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    AwOrSet a(kA), b(kB);
    size_t dotless = 0;
    for (int round = 0; round < 300; ++round) {
      if (rng.OneIn(4)) {
        a.Merge(b);
        b.Merge(a);
      }
      std::optional<AwOrSet> target;
      const int n = static_cast<int>(rng.Range(2, 6));
      for (int k = 0; k < n; ++k) {
        const std::string elem = "e" + std::to_string(rng.Index(6));
        const AwOrSet d = rng.OneIn(2) ? a.Add(elem) : a.Remove(elem);
        if (d.store().entry_count() == 0) continue;
        if (target) {
          target->Merge(d);
        } else {
          target = d;
        }
      }
      if (!target) continue;
      const std::string elem = "e" + std::to_string(rng.Index(6));
      for (int op = 0; op < 2; ++op) {
        const AwOrSet effect = op == 0 ? b.Add(elem) : b.Remove(elem);
        if (effect.store().entry_count() == 0) continue;
        target->store().ForEach([&](std::string_view e, const SetStore::DotList& ds) {
          dotless += e == elem && ds.empty();
        });
        SetStore got = target->store();
        JoinElements(&got, effect.store(), target->context(), effect.context(), true);
        target->Merge(effect);
        ASSERT_NO_FATAL_FAILURE(ExpectSameStore(got, target->store(), round));
      }
    }
    EXPECT_GT(dotless, 20u);
  }
}

}  // namespace
}  // namespace crdt
