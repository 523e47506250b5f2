// ExpiryStore (crdt/expiry.h) and the keyspace's expiry part: the lattice laws of the join,
// convergence against an independent sequential model of the conflict rules (PERSIST wins,
// else the longest TTL, ties to the lower site), and the keyspace's driver (ownership of the
// delete, the grace, hiding due keys, the header bit). Randomized tests print their seed;
// AASIM_SEED=n replays one.
#include "crdt/expiry.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/causal_context.h"
#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt_test {
namespace {

using crdt::CausalContext;
using crdt::ExpiryStore;
using crdt::Keyspace;
using crdt::ReplicaId;

ReplicaId Rep(int i) { return crdt::MakeReplicaId(static_cast<uint16_t>(i + 1), 1); }

// A replica: the dot store with its own context (as a key's part with the keyspace's).
struct Replica {
  ExpiryStore store;
  CausalContext cc;
  void Join(const Replica& o) {
    store.Join(o.store, cc, o.cc);
    cc.Join(o.cc);
  }
  friend bool operator==(const Replica&, const Replica&) = default;
};

// The independent model: every operation is a numbered event that knows the events its
// replica knew; an event is alive unless an event that knew it replaced or cleared it.
struct Model {
  enum Kind { kExpire, kPersist, kClear };
  struct Event {
    int replica;
    uint64_t counter;  // the replica's n-th event (its dot counter)
    Kind kind;
    int64_t deadline;
    std::set<int> knew;
  };
  std::vector<Event> events;
  std::vector<std::set<int>> known;

  explicit Model(int n) : known(n) {}
  int Add(int r, Kind kind, int64_t deadline) {
    uint64_t counter = 1;
    for (const Event& e : events) counter += e.replica == r ? 1 : 0;
    events.push_back(Event{r, counter, kind, deadline, known[r]});
    int id = static_cast<int>(events.size()) - 1;
    known[r].insert(id);
    return id;
  }
  void Learn(int r, const std::set<int>& ids) { known[r].insert(ids.begin(), ids.end()); }
  // The rule, stated directly: nullopt = no TTL; else (deadline, site of the winner).
  std::optional<std::pair<int64_t, int>> Resolve(const std::set<int>& view) const {
    std::optional<std::pair<int64_t, int>> best;
    uint64_t best_counter = 0;
    for (int id : view) {
      const Event& e = events[id];
      if (e.kind == kClear) continue;
      bool alive = true;
      for (int other : view) alive &= events[other].knew.count(id) == 0;
      if (!alive) continue;
      if (e.kind == kPersist) return std::nullopt;
      bool better =
          !best || e.deadline > best->first ||
          (e.deadline == best->first &&
           (e.replica < best->second || (e.replica == best->second && e.counter < best_counter)));
      if (better) {
        best = std::make_pair(e.deadline, e.replica);
        best_counter = e.counter;
      }
    }
    return best;
  }
};

// One random operation at replica r: applies it and returns its delta.
Replica RandomOp(Rng& rng, int r, Replica& rep, Model& model, Trace& trace) {
  Replica delta;
  int64_t deadline = 1000 * rng.Range(1, 6);  // few values: ties happen
  switch (rng.Index(3)) {
    case 0:
      rep.store.Expire(Rep(r), deadline, &rep.cc, &delta.store, &delta.cc);
      model.Add(r, Model::kExpire, deadline);
      trace.Add("r" + std::to_string(r) + " expire " + std::to_string(deadline));
      break;
    case 1:
      rep.store.Persist(Rep(r), &rep.cc, &delta.store, &delta.cc);
      model.Add(r, Model::kPersist, 0);
      trace.Add("r" + std::to_string(r) + " persist");
      break;
    default:
      rep.store.Clear(&delta.store, &delta.cc);
      model.Add(r, Model::kClear, 0);
      trace.Add("r" + std::to_string(r) + " clear");
      break;
  }
  return delta;
}

std::string Show(const Replica& r) {
  std::string s = "{";
  for (const auto& w : r.store.entries().writes()) {
    s += "(" + std::to_string(crdt::SiteOf(w.dot.replica)) + ":" + std::to_string(w.dot.counter) +
         " " + (w.value.empty() ? std::to_string(w.timestamp_us) : "persist") + ")";
  }
  return s + " cc=" + r.cc.DebugString() + "}";
}

// The state of one randomized run: three replicas and the model.
struct RandomRun {
  static constexpr int kReplicas = 3;
  explicit RandomRun(uint64_t seed) : rng(seed), model(kReplicas), reps(kReplicas) {}
  Rng rng;
  Trace trace;
  Model model;
  std::vector<Replica> reps;
};

TEST(ExpiryStoreTest, LatticeLaws) {
  for (uint64_t seed : TestSeeds(60, 7000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    RandomRun run(seed);
    auto& [rng, trace, model, reps] = run;
    const int n = RandomRun::kReplicas;
    std::vector<Replica> states;  // states and deltas seen along the way
    for (int step = 0; step < 40; ++step) {
      int r = rng.Index(n);
      if (rng.OneIn(3)) {
        int from = rng.Index(n);
        reps[r].Join(reps[from]);
        trace.Add("r" + std::to_string(r) + " joins r" + std::to_string(from));
      } else {
        states.push_back(RandomOp(rng, r, reps[r], model, trace));
      }
      states.push_back(reps[r]);
    }
    for (int i = 0; i < 30; ++i) {
      const Replica& a = rng.Pick(states);
      const Replica& b = rng.Pick(states);
      const Replica& c = rng.Pick(states);
      Replica aa = a;
      aa.Join(a);
      ASSERT_EQ(aa, a) << "idempotence " << Show(a) << "\n" << trace.ToString();
      Replica ab = a, ba = b;
      ab.Join(b);
      ba.Join(a);
      ASSERT_EQ(ab, ba) << "commutativity " << Show(a) << " " << Show(b) << "\n"
                        << trace.ToString();
      Replica ab_c = ab, bc = b;
      ab_c.Join(c);
      bc.Join(c);
      Replica a_bc = a;
      a_bc.Join(bc);
      ASSERT_EQ(ab_c, a_bc) << "associativity " << Show(a) << " " << Show(b) << " " << Show(c)
                            << "\n"
                            << trace.ToString();
    }
  }
}

TEST(ExpiryStoreTest, ConvergesToTheModel) {
  for (uint64_t seed : TestSeeds(200, 8000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    RandomRun run(seed);
    auto& [rng, trace, model, reps] = run;
    const int n = RandomRun::kReplicas;
    struct Pending {
      int to;
      Replica delta;
      std::set<int> events;
    };
    std::vector<Pending> inflight;
    for (int step = 0; step < 30; ++step) {
      if (!inflight.empty() && rng.OneIn(2)) {  // deliver one, in any order, maybe twice
        size_t i = rng.Uniform(inflight.size());
        Pending p = inflight[i];
        if (!rng.OneIn(4)) inflight.erase(inflight.begin() + static_cast<ptrdiff_t>(i));
        reps[p.to].Join(p.delta);
        model.Learn(p.to, p.events);
        trace.Add("deliver to r" + std::to_string(p.to));
        continue;
      }
      int r = rng.Index(n);
      Replica delta = RandomOp(rng, r, reps[r], model, trace);
      // A delta carries its event only; the events it observed are in its context, and
      // the model's "knew" says the same thing.
      std::set<int> ev = {static_cast<int>(model.events.size()) - 1};
      for (int to = 0; to < n; ++to) {
        if (to != r) inflight.push_back(Pending{to, delta, ev});
      }
      std::set<int> view = model.known[r];
      std::optional<std::pair<int64_t, int>> want = model.Resolve(view);
      std::optional<int64_t> got = reps[r].store.Deadline();
      ASSERT_EQ(want.has_value(), got.has_value()) << Show(reps[r]) << "\n" << trace.ToString();
    }
    for (const Pending& p : inflight) {
      reps[p.to].Join(p.delta);
      model.Learn(p.to, p.events);
    }
    std::set<int> all;
    for (size_t i = 0; i < model.events.size(); ++i) all.insert(static_cast<int>(i));
    std::optional<std::pair<int64_t, int>> want = model.Resolve(all);
    for (int r = 0; r < n; ++r) {
      ASSERT_EQ(reps[r].store, reps[0].store) << trace.ToString();
      std::optional<int64_t> got = reps[r].store.Deadline();
      ASSERT_EQ(want.has_value(), got.has_value()) << Show(reps[r]) << "\n" << trace.ToString();
      if (want) {
        ASSERT_EQ(want->first, *got) << trace.ToString();
        ASSERT_EQ(crdt::SiteOf(Rep(want->second)),
                  crdt::SiteOf(reps[r].store.Winner()->dot.replica))
            << trace.ToString();
      }
    }
  }
}

TEST(ExpiryStoreTest, PersistWinsOverConcurrentExpiriesButNotOverLaterOnes) {
  Replica a, b;
  Replica da, db;
  a.store.Expire(Rep(0), 5000, &a.cc, &da.store, &da.cc);
  b.Join(da);
  Replica p, e;
  a.store.Persist(Rep(0), &a.cc, &p.store, &p.cc);
  b.store.Expire(Rep(1), 9000, &b.cc, &e.store, &e.cc);  // concurrent with the PERSIST
  a.Join(e);
  b.Join(p);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.store.Deadline());
  Replica later;
  b.store.Expire(Rep(1), 7000, &b.cc, &later.store, &later.cc);  // observed the PERSIST
  a.Join(later);
  EXPECT_EQ(a.store.Deadline(), 7000);
}

TEST(ExpiryStoreTest, LongestTtlWinsAndTiesGoToTheLowerSite) {
  Replica a, b, da, db;
  a.store.Expire(Rep(0), 4000, &a.cc, &da.store, &da.cc);
  b.store.Expire(Rep(1), 6000, &b.cc, &db.store, &db.cc);
  a.Join(db);
  b.Join(da);
  EXPECT_EQ(a.store.Deadline(), 6000);
  EXPECT_EQ(crdt::SiteOf(a.store.Winner()->dot.replica), crdt::SiteOf(Rep(1)));
  Replica c, d, dc, dd;
  c.store.Expire(Rep(0), 6000, &c.cc, &dc.store, &dc.cc);
  d.store.Expire(Rep(1), 6000, &d.cc, &dd.store, &dd.cc);
  c.Join(dd);
  EXPECT_EQ(crdt::SiteOf(c.store.Winner()->dot.replica), crdt::SiteOf(Rep(0)));
}

// ---- the keyspace's expiry part ----

TEST(KeyspaceExpiryTest, HeaderBitOnlyWhenAKeyHasATtl) {
  Keyspace ks(Rep(0));
  ks.Set("k", "v", 1, nullptr);
  std::string plain = ks.Encode();
  EXPECT_EQ(plain[0] & crdt::KeyValue::kPartExpiry, 0);
  Keyspace delta = ks.NewDelta();
  ks.Expire("k", 5000, &delta);
  std::string with = ks.Encode();
  EXPECT_NE(with[0] & crdt::KeyValue::kPartExpiry, 0);
  std::string error;
  std::optional<Keyspace> back = Keyspace::Decode(with, Rep(0), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, ks);
  EXPECT_EQ(back->Deadline("k"), 5000);
  Keyspace other(Rep(1));
  ASSERT_TRUE(other.MergeEncoded(delta.Encode(), &error)) << error;
  EXPECT_EQ(other.Deadline("k"), 5000);
  // SET without KEEPTTL removes the TTL; with KEEPTTL keeps it.
  ks.Set("k", "w", 2, nullptr, /*keep_ttl=*/true);
  EXPECT_EQ(ks.Deadline("k"), 5000);
  ks.Set("k", "x", 3, nullptr);
  EXPECT_FALSE(ks.Deadline("k"));
  EXPECT_EQ(ks.Encode()[0] & crdt::KeyValue::kPartExpiry, 0);
}

TEST(KeyspaceExpiryTest, DueKeysAreHiddenOnlyWhileHideDueIsInForce) {
  Keyspace ks(Rep(0));
  ks.Set("k", "v", 1, nullptr);
  ks.SAdd("s", "m", nullptr);
  ks.Expire("k", 5000, nullptr);
  ks.HideDue(4999);
  EXPECT_EQ(ks.Get("k"), "v");
  ks.HideDue(5000);
  EXPECT_FALSE(ks.Get("k"));
  EXPECT_EQ(ks.TypeOf("k"), Keyspace::Type::kNone);
  EXPECT_EQ(ks.Keys(), std::vector<std::string>{"s"});
  EXPECT_EQ(ks.KeyCount(), 1u);
  ks.ShowAll();
  EXPECT_EQ(ks.Get("k"), "v");
  EXPECT_EQ(ks.KeyCount(), 2u);
}

TEST(KeyspaceExpiryTest, OnlyTheWinnerDeletesUntilTheGraceHasPassed) {
  Keyspace a(Rep(0)), b(Rep(1));
  Keyspace d = a.NewDelta();
  a.Set("k", "v", 1, &d);
  a.Expire("k", 5000, &d);
  std::string error;
  ASSERT_TRUE(b.MergeEncoded(d.Encode(), &error)) << error;
  const int64_t grace = 10000;
  EXPECT_EQ(a.NextExpiry(grace), 5000);
  EXPECT_EQ(b.NextExpiry(grace), 15000);
  Keyspace none = b.NewDelta();
  EXPECT_FALSE(b.ExpireDue(5000, grace, &none));
  EXPECT_EQ(b.Get("k"), "v");
  Keyspace del = a.NewDelta();
  EXPECT_FALSE(a.ExpireDue(4999, grace, &del));
  EXPECT_TRUE(a.ExpireDue(5000, grace, &del));
  EXPECT_FALSE(a.Get("k"));
  EXPECT_FALSE(a.NextExpiry(grace));
  // A concurrent write in B survives A's expiry delete (observed-remove).
  b.SAdd("k2", "x", nullptr);
  Keyspace bw = b.NewDelta();
  b.Set("k", "new", 9, &bw);
  ASSERT_TRUE(b.MergeEncoded(del.Encode(), &error)) << error;
  ASSERT_TRUE(a.MergeEncoded(bw.Encode(), &error)) << error;
  EXPECT_EQ(a.Get("k"), "new");
  EXPECT_EQ(b.Get("k"), "new");
  EXPECT_FALSE(a.Deadline("k"));
  // A region that does not own the deadline deletes once the grace has passed.
  Keyspace c(Rep(2));
  Keyspace cd = c.NewDelta();
  c.Set("j", "v", 1, &cd);
  c.Expire("j", 1000, &cd);
  ASSERT_TRUE(b.MergeEncoded(cd.Encode(), &error)) << error;
  Keyspace bd = b.NewDelta();
  EXPECT_FALSE(b.ExpireDue(10999, grace, &bd));
  EXPECT_TRUE(b.ExpireDue(11000, grace, &bd));
  EXPECT_FALSE(b.Get("j"));
}

TEST(KeyspaceExpiryTest, DropHiddenDeletesADueKey) {
  Keyspace ks(Rep(0));
  ks.SAdd("s", "old", nullptr);
  ks.Expire("s", 5000, nullptr);
  ks.HideDue(6000);
  Keyspace d = ks.NewDelta();
  EXPECT_TRUE(ks.DropHidden("s", &d));
  ks.ShowAll();
  EXPECT_EQ(ks.TypeOf("s"), Keyspace::Type::kNone);
  EXPECT_FALSE(ks.DropHidden("s", &d));
  ks.SAdd("s", "new", nullptr);
  EXPECT_EQ(ks.Members("s"), std::vector<std::string>{"new"});
  EXPECT_FALSE(ks.Deadline("s"));
}

TEST(KeyspaceExpiryTest, DropHiddenClearsDueTtlEntriesOfAKeyWithNothingElse) {
  Keyspace a(Rep(0)), b(Rep(1));
  a.SAdd("s", "m", nullptr);
  std::string error;
  ASSERT_TRUE(b.MergeEncoded(a.Encode(), &error)) << error;
  b.Expire("s", 5000, nullptr);  // concurrent with the SREM below: the TTL entry survives
  a.SRem("s", "m", nullptr);
  ASSERT_TRUE(a.MergeEncoded(b.Encode(), &error)) << error;
  ASSERT_EQ(a.TypeOf("s"), Keyspace::Type::kNone);
  a.HideDue(4999);
  Keyspace early = a.NewDelta();
  EXPECT_FALSE(a.DropHidden("s", &early));  // not due yet: a re-created key has that TTL
  a.HideDue(6000);
  Keyspace d = a.NewDelta();
  EXPECT_TRUE(a.DropHidden("s", &d));
  a.ShowAll();
  a.SAdd("s", "new", nullptr);
  EXPECT_FALSE(a.Deadline("s"));
  ASSERT_TRUE(b.MergeEncoded(d.Encode(), &error)) << error;  // the clear replicates
  EXPECT_FALSE(b.Deadline("s"));
}

}  // namespace
}  // namespace crdt_test
