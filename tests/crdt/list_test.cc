// ListStore (the list part of a Keyspace): sequential behaviour against std::vector, deltas
// equal to the full state, the lattice laws, convergence under shuffled and duplicated
// delivery against an independent model of which elements survive, the Active/Active
// rules (concurrent pushes all kept, a push concurrent with DEL survives, two regions pop
// the same element), and hostile encodings.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

std::vector<std::string> Values(const Keyspace& ks, const std::string& key) {
  const ListStore* l = ks.List(key);
  return l ? l->Values() : std::vector<std::string>();
}

// The element's identity: the value up to '#' (an LSET appends "#n").
std::string Identity(const std::string& v) { return v.substr(0, v.find('#')); }

// One random list operation on replica `ks`, mirrored in `model`; the effect goes to delta.
// `removed` collects the identities it removed.
void RandomOp(Rng& rng, Keyspace& ks, std::vector<std::string>* model, Keyspace* delta, int* serial,
              std::set<std::string>* removed) {
  const std::string key = "l";
  size_t n = model->size();
  auto name = [&] { return "r" + std::to_string(ks.self()) + "-" + std::to_string((*serial)++); };
  switch (n == 0 ? 0 : rng.Uniform(8)) {
    case 0:
    case 1: {  // RPUSH
      std::string v = name();
      ks.LInsert(key, n, v, delta);
      model->push_back(v);
      break;
    }
    case 2: {  // LPUSH
      std::string v = name();
      ks.LInsert(key, 0, v, delta);
      model->insert(model->begin(), v);
      break;
    }
    case 3: {  // LINSERT anywhere
      size_t i = rng.Uniform(n + 1);
      std::string v = name();
      ks.LInsert(key, i, v, delta);
      model->insert(model->begin() + static_cast<ptrdiff_t>(i), v);
      break;
    }
    case 4: {  // pops / LTRIM: a range
      size_t a = rng.Uniform(n), b = a + 1 + rng.Uniform(std::min<size_t>(3, n - a));
      for (size_t i = a; i < b; ++i) removed->insert(Identity((*model)[i]));
      ks.LEraseRange(key, a, b, delta);
      model->erase(model->begin() + static_cast<ptrdiff_t>(a),
                   model->begin() + static_cast<ptrdiff_t>(b));
      break;
    }
    case 5: {  // LREM: scattered indexes
      std::vector<size_t> idx;
      for (size_t i = 0; i < n; ++i) {
        if (rng.OneIn(3)) idx.push_back(i);
      }
      for (size_t k = idx.size(); k-- > 0;) {
        removed->insert(Identity((*model)[idx[k]]));
        model->erase(model->begin() + static_cast<ptrdiff_t>(idx[k]));
      }
      ks.LEraseIndexes(key, idx, delta);
      break;
    }
    case 6: {  // LSET
      size_t i = rng.Uniform(n);
      std::string v = Identity((*model)[i]) + "#" + std::to_string((*serial)++);
      ks.LSet(key, i, v, static_cast<int64_t>(rng.Uniform(100)), delta);
      (*model)[i] = v;
      break;
    }
    default: {  // DEL
      if (!rng.OneIn(4)) return;
      for (const std::string& v : *model) removed->insert(Identity(v));
      ks.Del(key, delta);
      model->clear();
      break;
    }
  }
}

TEST(ListTest, SequentialMatchesVectorAndDeltasRebuildTheState) {
  for (uint64_t seed : TestSeeds(20, 0x11571)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    Keyspace a(MakeReplicaId(1, 1)), copy(MakeReplicaId(2, 1));
    std::vector<std::string> model;
    std::set<std::string> removed;
    int serial = 0;
    for (int step = 0; step < 400; ++step) {
      Keyspace delta = a.NewDelta();
      RandomOp(rng, a, &model, &delta, &serial, &removed);
      ASSERT_EQ(Values(a, "l"), model) << "step " << step;
      std::string err;
      ASSERT_TRUE(copy.MergeEncoded(delta.Encode(), &err)) << err;
      ASSERT_EQ(Values(copy, "l"), model) << "step " << step;
    }
    std::string err;
    std::optional<Keyspace> back = Keyspace::Decode(a.Encode(), a.self(), &err);
    ASSERT_TRUE(back) << err;
    EXPECT_TRUE(*back == a);
    EXPECT_TRUE(copy == a);
  }
}

// Three replicas make concurrent operations and exchange deltas in shuffled order, some
// twice; after a full exchange all agree, and the surviving elements are exactly the ones
// inserted somewhere and removed nowhere (the independent model). The relative order of
// two elements a replica once held stays the same in the merged list.
TEST(ListTest, ConvergesUnderShuffledDuplicatedDelivery) {
  for (uint64_t seed : TestSeeds(30, 0x11572)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> rs;
    for (uint16_t i = 1; i <= 3; ++i) rs.emplace_back(MakeReplicaId(i, 1));
    std::vector<std::vector<std::string>> models(3);
    std::vector<std::string> pending[3];  // encoded deltas not yet delivered to replica i
    std::set<std::string> inserted, removed;
    std::vector<std::vector<std::string>> snapshots;
    int serial = 0;
    for (int round = 0; round < 12; ++round) {
      for (int op = 0; op < 15; ++op) {
        int r = rng.Index(3);
        models[r] = Values(rs[r], "l");
        Keyspace delta = rs[r].NewDelta();
        RandomOp(rng, rs[r], &models[r], &delta, &serial, &removed);
        for (const std::string& v : Values(rs[r], "l")) inserted.insert(Identity(v));
        std::string bytes = delta.Encode();
        for (int to = 0; to < 3; ++to) {
          if (to == r) continue;
          pending[to].push_back(bytes);
          if (rng.OneIn(5)) pending[to].push_back(bytes);  // duplicated
        }
      }
      for (int to = 0; to < 3; ++to) {
        snapshots.push_back(Values(rs[to], "l"));
        rng.Shuffle(&pending[to]);
        size_t keep = round == 11 ? 0 : rng.Uniform(pending[to].size() + 1);  // delayed
        while (pending[to].size() > keep) {
          std::string err;
          ASSERT_TRUE(rs[to].MergeEncoded(pending[to].back(), &err)) << err;
          pending[to].pop_back();
        }
      }
    }
    ASSERT_TRUE(rs[0] == rs[1]);
    ASSERT_TRUE(rs[1] == rs[2]);
    std::vector<std::string> final_list = Values(rs[0], "l");
    std::set<std::string> got, want;
    for (const std::string& v : final_list) got.insert(Identity(v));
    for (const std::string& v : inserted) {
      if (!removed.count(v)) want.insert(v);
    }
    EXPECT_EQ(got, want);
    std::map<std::string, size_t> pos;
    for (size_t i = 0; i < final_list.size(); ++i) pos[Identity(final_list[i])] = i;
    for (const auto& snap : snapshots) {
      size_t last = 0;
      bool first = true;
      for (const std::string& v : snap) {
        auto it = pos.find(Identity(v));
        if (it == pos.end()) continue;
        if (!first) {
          ASSERT_LT(last, it->second) << "order of " << v << " changed";
        }
        last = it->second;
        first = false;
      }
    }
  }
}

TEST(ListTest, LatticeLawsOnStates) {
  for (uint64_t seed : TestSeeds(20, 0x11573)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> rs;
    for (uint16_t i = 1; i <= 3; ++i) rs.emplace_back(MakeReplicaId(i, 1));
    int serial = 0;
    std::set<std::string> removed;
    for (int step = 0; step < 60; ++step) {
      int r = rng.Index(3);
      std::vector<std::string> m = Values(rs[r], "l");
      RandomOp(rng, rs[r], &m, nullptr, &serial, &removed);
      if (rng.OneIn(6)) rs[r].Merge(rs[rng.Index(3)]);
    }
    auto join = [](Keyspace a, const Keyspace& b) {
      a.Merge(b);
      return a;
    };
    const Keyspace &a = rs[0], &b = rs[1], &c = rs[2];
    EXPECT_TRUE(join(a, b) == join(b, a));
    EXPECT_TRUE(join(join(a, b), c) == join(a, join(b, c)));
    EXPECT_TRUE(join(a, a) == a);
    EXPECT_EQ(Values(join(a, b), "l"), Values(join(b, a), "l"));
  }
}

TEST(ListTest, ConcurrentPushesAreAllKeptInOneOrder) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  a.LInsert("q", 0, "x", nullptr);
  b.Merge(a);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.LInsert("q", 1, "from-a", &da);
  b.LInsert("q", 1, "from-b", &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Values(a, "l"), Values(b, "l"));
  EXPECT_EQ(Values(a, "q"), (std::vector<std::string>{"x", "from-a", "from-b"}));
  EXPECT_EQ(Values(b, "q"), Values(a, "q"));
}

TEST(ListTest, PushConcurrentWithDelSurvives) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  a.LInsert("q", 0, "old", nullptr);
  b.Merge(a);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.Del("q", &da);
  b.LInsert("q", 0, "new", &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Values(a, "q"), (std::vector<std::string>{"new"}));
  EXPECT_TRUE(a == b);
}

TEST(ListTest, TwoRegionsPopTheSameElement) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  a.LInsert("q", 0, "job1", nullptr);
  a.LInsert("q", 1, "job2", nullptr);
  b.Merge(a);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  EXPECT_EQ(a.List("q")->At(0), "job1");
  EXPECT_EQ(b.List("q")->At(0), "job1");  // both regions take job1: at least once
  a.LEraseRange("q", 0, 1, &da);
  b.LEraseRange("q", 0, 1, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Values(a, "q"), (std::vector<std::string>{"job2"}));
  EXPECT_TRUE(a == b);
}

TEST(ListTest, LsetIsLastWriterWinsAndBeatsWhatItObserved) {
  Keyspace a(MakeReplicaId(1, 1)), b(MakeReplicaId(2, 1));
  a.LInsert("q", 0, "v", nullptr);
  b.Merge(a);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.LSet("q", 0, "a", 100, &da);
  b.LSet("q", 0, "b", 100, &db);  // a tie: the lower replica (a) wins
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Values(b, "q"), (std::vector<std::string>{"a"}));
  Keyspace d2 = b.NewDelta();
  b.LSet("q", 0, "later", 5, &d2);  // an older clock, but it observed "a"
  a.Merge(d2);
  EXPECT_EQ(Values(a, "q"), (std::vector<std::string>{"later"}));
}

TEST(ListTest, InsertsBetweenAdjacentElementsStayOrdered) {
  Keyspace a(MakeReplicaId(1, 1));
  std::vector<std::string> model;
  a.LInsert("l", 0, "first", nullptr);
  a.LInsert("l", 1, "last", nullptr);
  model = {"first", "last"};
  for (int i = 0; i < 200; ++i) {  // always just after "first": keys must deepen
    a.LInsert("l", 1, std::to_string(i), nullptr);
    model.insert(model.begin() + 1, std::to_string(i));
  }
  EXPECT_EQ(Values(a, "l"), model);
  std::string err;
  std::optional<Keyspace> back = Keyspace::Decode(a.Encode(), a.self(), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(Values(*back, "l"), model);
}

// A peer's element at the largest digit (hostile or not) must not make every later push
// one level deeper than the one before.
TEST(ListTest, SaturatedDigitsDoNotDeepenKeys) {
  for (int64_t digit : {INT64_MAX, INT64_MIN}) {
    Encoder enc;
    enc.PutVarint(1);
    enc.PutByte(0);
    enc.PutSigned(digit);
    enc.PutDot(Dot{MakeReplicaId(9, 1), 1});
    enc.PutBytes("peer");
    Decoder dec(enc.str());
    ListStore l;
    ASSERT_TRUE(l.Decode(&dec)) << dec.error();
    CausalContext cc;
    cc.Add(Dot{MakeReplicaId(9, 1), 1});
    std::vector<std::string> want = {"peer"};
    for (int i = 0; i < 300; ++i) {
      const bool at_tail = digit == INT64_MAX;
      l.Insert(at_tail ? l.size() : 0, std::to_string(i), MakeReplicaId(1, 1), &cc, nullptr,
               nullptr);
      want.insert(at_tail ? want.end() : want.begin(), std::to_string(i));
    }
    EXPECT_EQ(l.Values(), want);
    Encoder out;
    l.Encode(&out);
    EXPECT_LT(out.str().size(), 301u * 40) << "keys deepened";
  }
}

TEST(ListTest, HostileEncodingsAreRejectedOrHarmless) {
  Keyspace a(MakeReplicaId(1, 1));
  Keyspace delta = a.NewDelta();
  for (int i = 0; i < 5; ++i)
    a.LInsert("l", static_cast<size_t>(i), "v" + std::to_string(i), &delta);
  a.LInsert("l", 2, "mid", &delta);
  a.LSet("l", 1, "set", 7, &delta);
  a.LEraseRange("l", 0, 1, &delta);
  const std::string good = delta.Encode();
  for (uint64_t seed : TestSeeds(20, 0x11574)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int t = 0; t < 500; ++t) {
      std::string bad = good;
      int edits = 1 + rng.Index(3);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng.Uniform(bad.size());
        switch (rng.Uniform(3)) {
          case 0:
            bad[at] = static_cast<char>(rng.Uniform(256));
            break;
          case 1:
            bad.erase(at, 1);
            break;
          default:
            bad.insert(at, 1, static_cast<char>(rng.Uniform(256)));
        }
        if (bad.empty()) bad = "x";
      }
      Keyspace b(MakeReplicaId(2, 1));
      b.LInsert("l", 0, "mine", nullptr);
      std::string err;
      if (b.MergeEncoded(bad, &err)) {
        const ListStore* l = b.List("l");
        if (l) (void)l->Values();
        (void)b.DumpAll();
      }
      (void)Keyspace::Decode(bad, 3, &err);
    }
  }
  // A state (not a delta) must not carry removed entries.
  std::string as_state = good;
  as_state[0] = static_cast<char>(as_state[0] & ~1);
  std::string err;
  EXPECT_FALSE(Keyspace::Decode(as_state, 3, &err));
}

}  // namespace
}  // namespace crdt
