// Sorted sets and HyperLogLogs in the keyspace: the conflict rules of zset.h and hll.h,
// lattice laws, and a randomized convergence test against an independent, event-based
// model of the rule "score = last-write-wins base + increments not observed-removed".
#include "crdt/zset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/hll.h"
#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

ReplicaId R(uint16_t site) { return MakeReplicaId(site, 1); }

std::optional<double> ScoreOf(const Keyspace& ks, std::string_view key, std::string_view m) {
  const KeyValue* kv = ks.Find(key);
  return kv ? kv->zset.Score(m) : std::nullopt;
}

// Applies `delta` to every other replica.
void Broadcast(std::vector<Keyspace*> to, const Keyspace& delta) {
  for (Keyspace* ks : to) ks->Merge(delta);
}

TEST(ZsetTest, ConcurrentIncrementsAddUp) {
  Keyspace a(R(0)), b(R(1)), c(R(2));
  Keyspace d = a.NewDelta();
  a.ZAdd("lb", "m", 1.1, 100, &d);
  Broadcast({&b, &c}, d);
  Keyspace db = b.NewDelta(), dc = c.NewDelta();
  b.ZIncrBy("lb", "m", 1.0, &db);
  c.ZIncrBy("lb", "m", 1.0, &dc);
  Broadcast({&a, &c}, db);
  Broadcast({&a, &b}, dc);
  for (Keyspace* ks : {&a, &b, &c}) {
    EXPECT_EQ(FormatScore(*ScoreOf(*ks, "lb", "m")), "3.1000000000000001");
    EXPECT_EQ(ks->Dump("lb"), "{m: 3.1000000000000001}");
  }
  EXPECT_TRUE(a == b && b == c);
}

TEST(ZsetTest, RemoveConcurrentWithIncrementLeavesTheIncrement) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = a.NewDelta();
  a.ZAdd("lb", "m", 4.1, 100, &d);
  b.Merge(d);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  EXPECT_TRUE(a.ZRem("lb", "m", &da));
  b.ZIncrBy("lb", "m", 2.0, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(*ScoreOf(a, "lb", "m"), 2.0);
  EXPECT_EQ(*ScoreOf(b, "lb", "m"), 2.0);
  EXPECT_TRUE(a == b);
}

// A ZADD that observed an increment already cancelled (by a ZREM) carries that
// cancellation in its own delta: a replica that receives the ZADD before the ZREM (effects
// are not delivered causally) must not count the increment the ZADD replaced. Found by the
// convergence property (seeds 3298 and 3557 of 5000): B read -1 where the model said -2.
TEST(ZsetTest, AnAddCarriesTheCancellationsItObserved) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = b.NewDelta();
  b.ZIncrBy("lb", "m", 1.0, &d);
  a.Merge(d);
  Keyspace rem = a.NewDelta(), add = a.NewDelta();
  EXPECT_TRUE(a.ZRem("lb", "m", &rem));
  a.ZAdd("lb", "m", 0, 100, &add);
  b.Merge(add);  // the ZREM is still on its way
  EXPECT_EQ(*ScoreOf(a, "lb", "m"), 0);
  EXPECT_EQ(*ScoreOf(b, "lb", "m"), 0);
  b.Merge(rem);
  EXPECT_TRUE(a == b);
}

TEST(ZsetTest, ConcurrentAddsLastWriteWinsTiesToTheLowerSite) {
  for (int64_t tb : {50, 100, 150}) {
    Keyspace a(R(0)), b(R(1));
    Keyspace da = a.NewDelta(), db = b.NewDelta();
    a.ZAdd("lb", "m", 1, 100, &da);
    b.ZAdd("lb", "m", 2, tb, &db);
    a.Merge(db);
    b.Merge(da);
    const double want = tb > 100 ? 2 : 1;  // a tie goes to site 0 (the name sorting first)
    EXPECT_EQ(*ScoreOf(a, "lb", "m"), want) << tb;
    EXPECT_EQ(*ScoreOf(b, "lb", "m"), want) << tb;
  }
}

// A member's score register holds two concurrent ZADDs in a heap block, and gives the
// block back once a ZADD that observed both (here, and where it is merged) leaves one
// write: the store's memory returns to its one-write figure on both replicas.
TEST(ZsetTest, ConcurrentAddsBlockIsFreedWhenOneAddObservesBoth) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = a.NewDelta();
  a.ZAdd("lb", "m", 1, 100, &d);
  b.Merge(d);
  const auto memory = [](const Keyspace& ks) { return ks.Find("lb")->zset.MemoryBytes(); };
  const size_t one_write = memory(a);
  ASSERT_EQ(memory(b), one_write);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.ZAdd("lb", "m", 2, 200, &da);
  b.ZAdd("lb", "m", 3, 300, &db);
  a.Merge(db);
  b.Merge(da);
  ASSERT_GT(memory(a), one_write);  // two writes: a block
  ASSERT_GT(memory(b), one_write);
  Keyspace d2 = a.NewDelta();
  a.ZAdd("lb", "m", 4, 400, &d2);  // observes both
  EXPECT_EQ(memory(a), one_write);
  b.Merge(d2);
  EXPECT_EQ(memory(b), one_write);
  EXPECT_EQ(*ScoreOf(b, "lb", "m"), 4);
  EXPECT_TRUE(a == b);
}

TEST(ZsetTest, AddConcurrentWithIncrementKeepsTheIncrement) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = a.NewDelta();
  a.ZAdd("lb", "m", 10, 100, &d);
  b.Merge(d);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.ZAdd("lb", "m", 20, 200, &da);
  b.ZIncrBy("lb", "m", 5, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(*ScoreOf(a, "lb", "m"), 25);
  EXPECT_TRUE(a == b);
}

TEST(ZsetTest, DelIsObservedRemoveAndTheIndexFollowsMerges) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = a.NewDelta();
  for (int i = 0; i < 50; ++i) a.ZAdd("lb", "m" + std::to_string(i), 50 - i, 1, &d);
  b.Merge(d);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  EXPECT_TRUE(a.Del("lb", &da));
  b.ZAdd("lb", "late", 7, 2, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a.Dump("lb"), "{late: 7}");
  EXPECT_EQ(b.Dump("lb"), "{late: 7}");
  EXPECT_EQ(a.TypeOf("lb"), KeyValue::Type::kZset);
}

TEST(ZsetTest, EncodeDecodeRoundTripsAndRejectsHostileInput) {
  Keyspace a(R(0));
  Keyspace d = a.NewDelta();
  a.ZAdd("lb", "x", 1.5, 1, &d);
  a.ZIncrBy("lb", "x", -0.25, &d);
  a.ZAdd("lb", "y", -INFINITY, 1, &d);
  std::vector<std::string_view> els = {"p", "q"};
  a.PfAdd("h", els, &d);
  std::string err;
  auto back = Keyspace::Decode(a.Encode(), R(0), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_TRUE(*back == a);
  EXPECT_EQ(back->DumpAll(), a.DumpAll());
  auto dback = Keyspace::Decode(d.Encode(), R(0), &err);
  ASSERT_TRUE(dback) << err;
  EXPECT_TRUE(*dback == d);
  // Every truncation and every single-byte corruption decodes or fails cleanly.
  const std::string bytes = a.Encode();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(Keyspace::Decode(bytes.substr(0, n), R(0), &err)) << n;
  }
  Rng rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = bytes;
    bad[rng.Uniform(bad.size())] = static_cast<char>(rng.Uniform(256));
    if (rng.OneIn(3)) bad[rng.Uniform(bad.size())] = static_cast<char>(rng.Uniform(256));
    auto r = Keyspace::Decode(bad, R(0), &err);
    if (r) (void)r->DumpAll();  // whatever decodes must be usable
    Keyspace m(R(1));
    (void)m.MergeEncoded(bad, &err);
  }
}

// The score register keeps a double but writes the bytes a RegisterStore of 8-byte values
// wrote (encodings must not change), reads them back, and refuses what is not a score.
TEST(ZsetTest, ScoreRegisterEncodesAsARegisterOfScoreBytes) {
  for (double score : {1.5, -0.25, 0.0, -HUGE_VAL, 1e300, 5e-324}) {
    SCOPED_TRACE(testing::Message() << "score=" << score);
    uint64_t bits;
    std::memcpy(&bits, &score, sizeof(bits));
    std::string value(8, '\0');
    for (int i = 0; i < 8; ++i) value[i] = static_cast<char>(bits >> (8 * i));
    CausalContext cc1, cc2;
    RegisterStore text;
    text.Assign(R(2), 1234, value, &cc1, nullptr, nullptr);
    ScoreRegister num;
    num.Assign(R(2), 1234, score, &cc2, nullptr, nullptr);
    Encoder e1, e2;
    text.Encode(&e1);
    num.Encode(&e2);
    const std::string bytes = e1.Release();
    EXPECT_EQ(e2.Release(), bytes);
    Decoder dec(bytes);
    ScoreRegister back;
    ASSERT_TRUE(back.Decode(&dec)) << dec.error();
    EXPECT_TRUE(back == num);
  }
  for (std::string value : {std::string(7, '\1'), std::string(9, '\1'),
                            std::string("\0\0\0\0\0\0\xf8\x7f", 8)}) {  // NaN
    CausalContext cc;
    RegisterStore text;
    text.Assign(R(2), 1234, value, &cc, nullptr, nullptr);
    Encoder enc;
    text.Encode(&enc);
    const std::string bytes = enc.Release();
    Decoder dec(bytes);
    ScoreRegister back;
    EXPECT_FALSE(back.Decode(&dec)) << value.size();
  }
}

// A member's increment counter is allocated on its first ZINCRBY: a copy of the keyspace
// owns its own counter, and a member never incremented encodes as before (empty counter).
TEST(ZsetTest, IncrementCounterIsOwnedByEachCopy) {
  Keyspace a(R(0));
  a.ZAdd("lb", "x", 1, 1, nullptr);
  a.ZIncrBy("lb", "x", 2, nullptr);
  a.ZAdd("lb", "y", 5, 1, nullptr);
  Keyspace b = a;
  b.ZIncrBy("lb", "x", 10, nullptr);
  EXPECT_EQ(ScoreOf(a, "lb", "x"), 3);
  EXPECT_EQ(ScoreOf(b, "lb", "x"), 13);
  EXPECT_FALSE(a == b);
  std::string err;
  auto back = Keyspace::Decode(a.Encode(), R(0), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_TRUE(*back == a);
  EXPECT_EQ(back->Encode(), a.Encode());
  EXPECT_EQ(ScoreOf(*back, "lb", "x"), 3);
  EXPECT_EQ(ScoreOf(*back, "lb", "y"), 5);
}

// Tied scores order by member bytes: the index's 8-byte prefixes must agree with the
// names wherever they differ (short names, embedded zeros, bytes above 0x7F, names equal
// in their first 8 bytes), for inserts in any order, ranks and lower_bound alike.
TEST(ZsetTest, TiedScoresOrderByMemberBytes) {
  using namespace std::string_literals;
  std::vector<std::string> names = {
      ""s,           "a"s,         "a\0"s,      "a\0b"s,      "ab"s,       "abcdefg"s, "abcdefgh"s,
      "abcdefgh\0"s, "abcdefghi"s, "abcdefgi"s, "abcdefh"s,   "b"s,        "\x7f"s,    "\x80"s,
      "\xff\xff"s,   "\xff"s,      "player:1"s, "player:10"s, "player:2"s, "player:9"s};
  for (uint64_t seed : TestSeeds(10, 0x71ED)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<std::string> order = names;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(i)]);
    Keyspace ks(R(0));
    for (const std::string& m : order) ks.ZAdd("z", m, 7, 1, nullptr);
    ks.ZAdd("z", "low", 6, 1, nullptr);
    ks.ZAdd("z", "high", 8, 1, nullptr);
    std::vector<std::string> want = names;
    std::sort(want.begin(), want.end());
    const ZsetStore& z = ks.Find("z")->zset;
    std::vector<std::string> got;
    for (const ZsetStore::Item& item : z.index()) got.push_back(*item.member);
    ASSERT_EQ(got.size(), want.size() + 2);
    EXPECT_EQ(got.front(), "low");
    EXPECT_EQ(got.back(), "high");
    got.erase(got.begin());
    got.pop_back();
    EXPECT_EQ(got, want);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(z.Rank(want[i]), i + 1) << i;
      auto it = z.index().lower_bound(ZsetStore::Item{7, &want[i]});
      ASSERT_NE(it, z.index().end());
      EXPECT_EQ(*it->member, want[i]);
    }
    EXPECT_EQ(PrefixOf("abcdefghi"), PrefixOf("abcdefgh"));
    EXPECT_LT(PrefixOf("a"), PrefixOf("a\x01"));
    EXPECT_LT(PrefixOf("\x7f"), PrefixOf("\x80"));
  }
}

// A removed member's entry becomes a hole (its link kept inside the member, zset.h) that
// the next new members reuse: the table does not grow, and every score and the order stay
// right through removals, reuse and a second round of both.
TEST(ZsetTest, RemovedMembersLeaveHolesTheNextAddsReuse) {
  ZsetStore z;
  CausalContext cc;
  auto name = [](const char* prefix, int i) { return std::string(prefix) + std::to_string(i); };
  std::map<std::string, double> model;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(z.Add(name("m", i), i % 7, R(0), i, &cc, nullptr, nullptr));
    model[name("m", i)] = i % 7;
  }
  // The entries' bytes (the B+-tree's nodes may split and merge on the way).
  auto table_bytes = [&] { return z.MemoryBytes() - z.index().MemoryBytes(); };
  const size_t bytes = table_bytes();
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(testing::Message() << "round=" << round);
    for (int i = 10 + round; i < 70; i += 2) {  // 30 holes spread through the table
      const std::string m = name("m", i);
      ASSERT_EQ(model.erase(m), 1u);
      EXPECT_TRUE(z.Remove(m, nullptr, nullptr));
    }
    for (int i = 0; i < 30; ++i) {
      const std::string m = name(round == 0 ? "n" : "p", i);
      EXPECT_TRUE(z.Add(m, -i, R(0), 1000 + i, &cc, nullptr, nullptr));
      model[m] = -i;
    }
    EXPECT_EQ(table_bytes(), bytes);  // the holes were reused: no new chunk of entries
    ASSERT_EQ(z.size(), model.size());
    for (const auto& [m, score] : model) EXPECT_EQ(z.Score(m), score) << m;
    std::map<std::string, double> got;
    for (const auto& item : z.index()) got[*item.member] = item.score;
    EXPECT_EQ(got, model);
    EXPECT_TRUE(std::is_sorted(z.index().begin(), z.index().end(), ZsetStore::ItemLess()));
    EXPECT_EQ(z.Score("m10"), std::nullopt);
  }
  const ZsetStore copy = z;
  EXPECT_TRUE(copy == z);
}

// FlatIndex's find-or-insert (FindOrSlot, then InsertAt where the probe stopped) builds the
// same index as Find then Insert: with hashes that collide and share home slots, across
// the growths of the slot array, and after deletions that shift slots back.
TEST(ZsetTest, FlatIndexInsertsWhereItsProbeStopped) {
  FlatIndex a;  // Find, then Insert
  FlatIndex b;  // FindOrSlot, then InsertAt
  std::vector<uint32_t> hash_of;
  std::vector<bool> erased;
  for (size_t i = 0; i < 3000; ++i) {
    // Few distinct hashes, many sharing the low bits: long probe runs and wrap-arounds.
    const uint32_t h = static_cast<uint32_t>((i % 97) * 0x10000u + (i % 5) * 0x400u + i % 3);
    hash_of.push_back(h);
    erased.push_back(false);
    const auto same = [&](size_t e) { return e == i; };
    ASSERT_EQ(a.Find(h, same), -1);
    a.Insert(h, i);
    size_t slot = 0;
    ASSERT_EQ(b.FindOrSlot(h, same, &slot), -1);
    b.InsertAt(slot, h, i);
    ASSERT_EQ(b.size(), a.size());
    if (i % 7 == 3) {  // erase an older entry from both
      const size_t gone = i / 2;
      if (gone != i && !erased[gone]) {
        ASSERT_EQ(b.Find(hash_of[gone], [&](size_t e) { return e == gone; }),
                  static_cast<int64_t>(gone));  // else Erase would not find it
        a.Erase(hash_of[gone], gone);
        b.Erase(hash_of[gone], gone);
        erased[gone] = true;
      }
    }
  }
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.MemoryBytes(), b.MemoryBytes());
  for (size_t i = 0; i < hash_of.size(); ++i) {
    if (erased[i]) continue;
    const uint32_t h = hash_of[i];
    const auto same = [&](size_t e) { return e == i; };
    size_t slot = 0;
    EXPECT_EQ(b.FindOrSlot(h, same, &slot), static_cast<int64_t>(i)) << i;
    EXPECT_EQ(b.Find(h, same), a.Find(h, same)) << i;
  }
}

TEST(HllTest, CountsAsRedisAndMergesByMaximum) {
  // PFADD of u0..u9 then PFCOUNT on Redis 7 answers 10; 1000 distinct answers 1001 on
  // Redis (differential test: tests/server/zset_redis_test.py checks many sizes).
  HllStore h;
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back("u" + std::to_string(i));
  std::vector<std::string_view> views(names.begin(), names.end());
  EXPECT_TRUE(h.Add(views, nullptr));
  EXPECT_EQ(h.Count(), 10u);
  EXPECT_FALSE(h.Add(views, nullptr));
  HllStore empty;
  EXPECT_EQ(empty.Count(), 0u);
  EXPECT_EQ(h.RedisDense().size(), 12304u);
}

TEST(HllTest, DeleteWinsOverAConcurrentAdd) {
  Keyspace a(R(0)), b(R(1));
  Keyspace d = a.NewDelta();
  std::vector<std::string_view> x = {"x"}, y = {"y"}, z = {"z"};
  a.PfAdd("h", x, &d);
  b.Merge(d);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  EXPECT_TRUE(a.Del("h", &da));
  b.PfAdd("h", y, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a.TypeOf("h"), KeyValue::Type::kNone);
  EXPECT_EQ(b.TypeOf("h"), KeyValue::Type::kNone);
  EXPECT_TRUE(a == b);
  // An add that observed the DEL survives.
  Keyspace d2 = b.NewDelta();
  b.PfAdd("h", z, &d2);
  a.Merge(d2);
  EXPECT_EQ(a.Dump("h"), "hll(1)");
  EXPECT_TRUE(a == b);
}

// ---- randomized: convergence and the independent model ----

struct Event {
  enum Kind { kAdd, kIncr, kRem, kDel } kind;
  int origin;
  int seq;  // per origin, from 1
  std::string member;
  double value;
  int64_t ts;
  std::set<int> observed;  // ids of events the origin had received (its own included)
};

// The model: a member's score from the events alone (no CRDT code).
std::map<std::string, double> ModelScores(const std::vector<Event>& ev) {
  auto covers = [&](const Event& x, size_t i) {  // does x (a reset of i's member) cancel i?
    const Event& e = ev[i];
    if (x.kind == Event::kIncr || &x == &e) return false;
    if (x.kind != Event::kDel && x.member != e.member) return false;
    if (e.kind == Event::kIncr) {               // counters are cumulative: a later step of the same
      for (size_t j = 0; j < ev.size(); ++j) {  // origin on the same member covers it
        const Event& f = ev[j];
        if (f.kind == Event::kIncr && f.origin == e.origin && f.member == e.member &&
            f.seq >= e.seq && x.observed.count(static_cast<int>(j))) {
          return true;
        }
      }
      return false;
    }
    return x.observed.count(static_cast<int>(i)) > 0;
  };
  std::map<std::string, double> out;
  std::set<std::string> members;
  for (const Event& e : ev) members.insert(e.member);
  for (const std::string& m : members) {
    const Event* winner = nullptr;
    bool live_incr = false;
    std::map<int, std::pair<double, double>> sums;  // origin -> (positive, negative)
    for (size_t i = 0; i < ev.size(); ++i) {
      const Event& e = ev[i];
      if (e.member != m || (e.kind != Event::kAdd && e.kind != Event::kIncr)) continue;
      bool cancelled = false;
      for (const Event& x : ev) cancelled |= covers(x, i);
      if (cancelled) continue;
      if (e.kind == Event::kAdd) {
        if (winner == nullptr || e.ts > winner->ts ||
            (e.ts == winner->ts && e.origin < winner->origin)) {
          winner = &e;
        }
      } else {
        live_incr = true;
        (e.value > 0 ? sums[e.origin].first : sums[e.origin].second) += std::fabs(e.value);
      }
    }
    if (winner == nullptr && !live_incr) continue;
    double s = winner ? winner->value : 0;
    for (const auto& [o, pn] : sums) s += pn.first - pn.second;
    out[m] = s;
  }
  return out;
}

TEST(ZsetTest, RandomizedConvergenceMatchesTheModel) {
  for (uint64_t seed : TestSeeds(40, 0x25E7)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    constexpr int kN = 3;
    std::vector<Keyspace> ks;
    for (int r = 0; r < kN; ++r) ks.emplace_back(R(static_cast<uint16_t>(r)));
    std::vector<Event> events;
    std::vector<Keyspace> deltas;
    std::vector<std::set<int>> received(kN);
    std::vector<std::vector<size_t>> inbox(kN);  // per replica: delta ids not yet merged
    std::vector<int> seq(kN, 0);
    const std::vector<std::string> members = {"a", "b", "c"};
    const std::vector<double> steps = {0.5, -0.25, 1, 2, -3};
    for (int step = 0; step < 60; ++step) {
      const int r = static_cast<int>(rng.Uniform(kN));
      if (rng.OneIn(3) && !inbox[r].empty()) {
        // Deliver a random pending delta (origins' deltas in FIFO order per origin).
        size_t k = rng.Uniform(inbox[r].size());
        size_t id = inbox[r][k];
        for (size_t j = 0; j < k; ++j) {
          if (events[inbox[r][j]].origin == events[id].origin) {
            id = inbox[r][j];
            k = j;
            break;
          }
        }
        ks[r].Merge(deltas[id]);
        if (rng.OneIn(4)) ks[r].Merge(deltas[id]);  // duplicated
        received[r].insert(static_cast<int>(id));
        inbox[r].erase(inbox[r].begin() + static_cast<ptrdiff_t>(k));
        continue;
      }
      Event e{Event::kAdd, r, ++seq[r], rng.Pick(members), 0, rng.Range(1, 4), {}};
      Keyspace d = ks[r].NewDelta();
      const uint64_t what = rng.Uniform(10);
      if (what < 4) {
        e.value = static_cast<double>(rng.Range(-3, 3));
        ks[r].ZAdd("z", e.member, e.value, e.ts, &d);
      } else if (what < 8) {
        e.kind = Event::kIncr;
        e.value = rng.Pick(steps);
        ks[r].ZIncrBy("z", e.member, e.value, &d);
      } else if (what < 9) {
        e.kind = Event::kRem;
        ks[r].ZRem("z", e.member, &d);
      } else {
        e.kind = Event::kDel;
        e.member.clear();
        ks[r].Del("z", &d);
      }
      if (rng.OneIn(3)) {
        std::string el = "e" + std::to_string(rng.Uniform(20));
        ks[r].PfAdd("h", {el}, &d);
      }
      if (rng.OneIn(15)) ks[r].Del("h", &d);
      const int id = static_cast<int>(events.size());
      received[r].insert(id);
      e.observed = received[r];
      events.push_back(e);
      deltas.push_back(d);
      for (int o = 0; o < kN; ++o) {
        if (o != r) inbox[o].push_back(static_cast<size_t>(id));
      }
    }
    // Deliver everything left, shuffled (FIFO per origin), then compare.
    for (int r = 0; r < kN; ++r) {
      while (!inbox[r].empty()) {
        size_t k = rng.Uniform(inbox[r].size());
        for (size_t j = 0; j < k; ++j) {
          if (events[inbox[r][j]].origin == events[inbox[r][k]].origin) {
            k = j;
            break;
          }
        }
        ks[r].Merge(deltas[inbox[r][k]]);
        inbox[r].erase(inbox[r].begin() + static_cast<ptrdiff_t>(k));
      }
    }
    for (int r = 1; r < kN; ++r) {
      EXPECT_TRUE(ks[r] == ks[0]) << r;
      EXPECT_EQ(ks[r].DumpAll(), ks[0].DumpAll());
    }
    // Full-state merges agree too.
    Keyspace full(R(9));
    for (const Keyspace& k : ks) full.Merge(k);
    EXPECT_EQ(full.DumpAll(), ks[0].DumpAll());
    std::map<std::string, double> model = ModelScores(events);
    const KeyValue* kv = ks[0].Find("z");
    std::map<std::string, double> got;
    if (kv) {
      for (const auto& item : kv->zset.index()) got[*item.member] = item.score;
      // The index is ordered by (score, member).
      EXPECT_TRUE(
          std::is_sorted(kv->zset.index().begin(), kv->zset.index().end(), ZsetStore::ItemLess()));
    }
    EXPECT_EQ(got, model);
  }
}

TEST(ZsetTest, JoinIsIdempotentCommutativeAssociative) {
  for (uint64_t seed : TestSeeds(20, 0x1A77)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> ks;
    for (int r = 0; r < 3; ++r) ks.emplace_back(R(static_cast<uint16_t>(r)));
    for (int i = 0; i < 40; ++i) {
      Keyspace& k = ks[rng.Uniform(3)];
      std::string m(1, static_cast<char>('a' + rng.Uniform(4)));
      switch (rng.Uniform(5)) {
        case 0:
          k.ZAdd("z", m, static_cast<double>(rng.Range(-5, 5)), rng.Range(1, 3), nullptr);
          break;
        case 1:
          k.ZIncrBy("z", m, 0.5, nullptr);
          break;
        case 2:
          k.ZRem("z", m, nullptr);
          break;
        case 3:
          k.PfAdd("h", {m}, nullptr);
          break;
        default:
          ks[rng.Uniform(3)].Merge(k);
      }
    }
    auto join = [](Keyspace x, const Keyspace& y) {
      x.Merge(y);
      return x;
    };
    const Keyspace &a = ks[0], &b = ks[1], &c = ks[2];
    EXPECT_TRUE(join(a, a) == a);
    EXPECT_TRUE(join(a, b) == join(b, a));
    EXPECT_TRUE(join(join(a, b), c) == join(a, join(b, c)));
    EXPECT_EQ(join(a, b).DumpAll(), join(b, a).DumpAll());
  }
}

}  // namespace
}  // namespace crdt
