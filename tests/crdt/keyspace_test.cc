// Keyspace: the replica's whole dataset. Replies, types and dumps, DEL and SET as
// observed-remove over every part of a key, delta batches, and memory without tombstones.
#include "crdt/keyspace.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/flat_hash.h"
#include "test_util.h"

namespace crdt {
namespace {

using Strings = std::vector<std::string>;

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

// Applies one mutation at `ks` and returns its delta.
template <typename F>
Keyspace Op(Keyspace& ks, F f) {
  Keyspace d = ks.NewDelta();
  f(&d);
  return d;
}

TEST(KeyspaceTest, TypesDumpsAndKeys) {
  Keyspace ks(kA);
  EXPECT_TRUE(ks.empty());
  ks.Set("s", "hello", 1, nullptr);
  ks.SAdd("set", "b", nullptr);
  ks.SAdd("set", "a", nullptr);
  ks.HSet("h", "f2", "v2", 1, nullptr);
  ks.HSet("h", "f1", "v1", 1, nullptr);
  int64_t v = 0;
  EXPECT_EQ(ks.IncrBy("n", 5, &v, nullptr), IncrStatus::kOk);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(ks.TypeOf("s"), Keyspace::Type::kString);
  EXPECT_EQ(ks.TypeOf("set"), Keyspace::Type::kSet);
  EXPECT_EQ(ks.TypeOf("h"), Keyspace::Type::kHash);
  EXPECT_EQ(ks.TypeOf("n"), Keyspace::Type::kString);
  EXPECT_EQ(ks.TypeOf("missing"), Keyspace::Type::kNone);
  EXPECT_STREQ(TypeName(Keyspace::Type::kSet), "set");
  EXPECT_STREQ(TypeName(Keyspace::Type::kNone), "none");
  EXPECT_EQ(ks.Dump("set"), "{a, b}");
  EXPECT_EQ(ks.Dump("h"), "{f1: v1, f2: v2}");
  EXPECT_EQ(ks.Dump("n"), "5");
  EXPECT_EQ(ks.Dump("missing"), "(nil)");
  EXPECT_EQ(ks.Keys(), (Strings{"h", "n", "s", "set"}));
  EXPECT_EQ(ks.KeyCount(), 4u);
  EXPECT_EQ(ks.DumpAll(), "h hash {f1: v1, f2: v2}\nn string 5\ns string hello\nset set {a, b}\n");
  EXPECT_EQ(ks.Card("set"), 2u);
  EXPECT_TRUE(ks.IsMember("set", "a"));
  EXPECT_FALSE(ks.IsMember("set", "c"));
  EXPECT_FALSE(ks.IsMember("missing", "a"));
  EXPECT_EQ(ks.Get("missing"), std::nullopt);
}

// The key lookup remembers the last entry it returned (KeyMap::Recent): an erased key, a
// copy and a moved keyspace must each find their own entry, never a stale one.
TEST(KeyspaceTest, RecentKeyFollowsEraseCopyAndMove) {
  auto members = [](const Keyspace& ks) {
    const KeyValue* kv = ks.Find("z");
    return kv ? kv->zset.size() : 0;
  };
  Keyspace ks(kA);
  ks.ZAdd("z", "m", 1, 1, nullptr);
  ks.ZAdd("z", "n", 2, 1, nullptr);
  EXPECT_TRUE(ks.ZRem("z", "m", nullptr));
  EXPECT_TRUE(ks.ZRem("z", "n", nullptr));
  EXPECT_EQ(ks.KeyCount(), 0u);  // the entry is gone
  ks.ZAdd("z", "p", 3, 1, nullptr);
  EXPECT_EQ(ks.KeyCount(), 1u);
  EXPECT_EQ(members(ks), 1u);
  Keyspace copy = ks;
  copy.ZAdd("z", "q", 4, 1, nullptr);  // into the copy's entry only
  EXPECT_EQ(members(ks), 1u);
  EXPECT_EQ(members(copy), 2u);
  ks.ZAdd("z", "s", 6, 1, nullptr);
  EXPECT_EQ(members(ks), 2u);
  EXPECT_EQ(members(copy), 2u);
  Keyspace moved = std::move(copy);
  moved.ZAdd("z", "r", 5, 1, nullptr);
  EXPECT_EQ(members(moved), 3u);
  copy = ks;  // the moved-from keyspace, assigned again
  copy.ZAdd("z", "t", 7, 1, nullptr);
  EXPECT_EQ(members(copy), 3u);
  EXPECT_EQ(members(ks), 2u);
  for (int i = 0; i < 100; ++i) ks.Set("k" + std::to_string(i), "v", 1, nullptr);  // rehashes
  ks.ZAdd("z", "u", 8, 1, nullptr);
  EXPECT_EQ(members(ks), 3u);
  EXPECT_EQ(ks.KeyCount(), 101u);
}

// KeyMap remembers a slot number (Recent, Only), not an entry: a key found and remembered
// (Locate: FindRemembered), the index then grown under it (a rehash moves every entry) and
// the slot remembered taken by another key, must still be read and written as its own key
// (HSet finds its key through Recent); and with one key left, the slot remembered a
// tombstone, Only must still find it.
TEST(KeyspaceTest, RememberedSlotStaysRightThroughAGrowth) {
  Keyspace ks(kA);
  ks.HSet("h", "f", "v", 1, nullptr);
  ASSERT_NE(ks.Locate("h").entry, nullptr);
  for (int i = 0; i < 100; ++i) ks.Set("o" + std::to_string(i), "x", 1, nullptr);  // grows
  ks.HSet("h", "f", "w", 2, nullptr);  // the slot remembered is o99's
  EXPECT_EQ(ks.Dump("h"), "{f: w}");
  EXPECT_EQ(ks.TypeOf("o99"), Keyspace::Type::kString);
  EXPECT_EQ(ks.Get("o99"), "x");
  ks.Set("o99", "y", 2, nullptr);  // remembered: o99's slot, erased next
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(ks.Del("o" + std::to_string(i), nullptr));
  ASSERT_EQ(ks.KeyCount(), 1u);
  std::string error;
  auto back = Keyspace::Decode(ks.Encode(), kA, &error);  // the one-key encoding: Only
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, ks);
  EXPECT_EQ(back->Dump("h"), "{f: w}");
}

// A one-key keyspace encodes its entry found through the slot last used (KeyMap::Only):
// whether that slot holds the entry, was emptied by an erase, or the walk is needed, the
// encoding is the keyspace's.
TEST(KeyspaceTest, OneKeyEncodeFindsTheEntryWhateverTheLastLookup) {
  for (int last = 0; last < 3; ++last) {
    SCOPED_TRACE(testing::Message() << "last " << last);
    Keyspace ks(kA);
    ks.ZAdd("z", "m", 1, 1, nullptr);
    ks.ZAdd("a", "m", 1, 1, nullptr);
    ks.ZAdd("b", "m", 1, 1, nullptr);
    if (last == 1) ks.ZAdd("a", "n", 2, 1, nullptr);  // the slot used last: a's, erased next
    EXPECT_TRUE(ks.ZRem("b", "m", nullptr));
    EXPECT_TRUE(ks.ZRem("a", "m", nullptr));
    if (last == 1) {
      EXPECT_TRUE(ks.ZRem("a", "n", nullptr));
    }
    if (last == 2) ks.ZAdd("z", "n", 2, 1, nullptr);  // the slot used last: z's
    ASSERT_EQ(ks.KeyCount(), 1u);
    std::string error;
    auto back = Keyspace::Decode(ks.Encode(), kA, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(*back, ks);
    ASSERT_NE(back->Find("z"), nullptr);
    EXPECT_EQ(back->Find("z")->zset.size(), last == 2 ? 2u : 1u);
  }
}

// A keyspace past NodePool::kHeapPieces keys keeps its nodes in huge-page chunks, and one
// of 13,000 keys (past 6,144) its index too: copies, moves, deletes (nodes reused), a delta
// of many keys reset, and a map emptied and filled again must all hold the same state as
// one built from the heap.
TEST(KeyspaceTest, BigKeyspaceNodesSurviveCopyMoveEraseAndReset) {
  constexpr int kKeys = 6500;
  static_assert(kKeys > 2 * NodePool::kHeapPieces);
  auto fill = [](Keyspace* ks, int from, int to, Keyspace* delta) {
    for (int i = from; i < to; ++i) {
      ks->SAdd("set:" + std::to_string(i), "m" + std::to_string(i % 7), delta);
      ks->Set("str:" + std::to_string(i), "v" + std::to_string(i), i, delta);
    }
  };
  Keyspace ks(kA);
  Keyspace delta = ks.NewDelta();
  fill(&ks, 0, kKeys, &delta);
  EXPECT_EQ(ks.KeyCount(), 2u * kKeys);
  Keyspace replica(kB);
  replica.Merge(delta);  // a delta of many keys, into an empty keyspace
  EXPECT_EQ(replica.DumpAll(), ks.DumpAll());
  ks.ResetDelta(&delta);  // frees the delta's nodes and chunks
  EXPECT_EQ(delta.KeyCount(), 0u);
  fill(&ks, kKeys, kKeys + 10, &delta);
  replica.Merge(delta);
  EXPECT_EQ(replica.DumpAll(), ks.DumpAll());

  Keyspace copy = ks;
  EXPECT_EQ(copy.DumpAll(), ks.DumpAll());
  for (int i = 0; i < kKeys; i += 2) EXPECT_TRUE(copy.Del("set:" + std::to_string(i), nullptr));
  fill(&copy, 2 * kKeys, 2 * kKeys + kKeys / 2, nullptr);  // reuses the deleted nodes
  EXPECT_EQ(copy.KeyCount(), 2u * (kKeys + 10) + kKeys / 2);
  EXPECT_EQ(ks.KeyCount(), 2u * (kKeys + 10));  // the original is untouched
  EXPECT_EQ(replica.DumpAll(), ks.DumpAll());

  const std::string dump = copy.DumpAll();
  Keyspace moved = std::move(copy);  // the nodes and their pool move together
  EXPECT_EQ(moved.DumpAll(), dump);
  moved.Set("str:0", "after-move", kKeys + 1, nullptr);
  EXPECT_EQ(moved.Get("str:0"), "after-move");
  copy = moved;  // the moved-from keyspace, assigned a copy
  EXPECT_EQ(copy.DumpAll(), moved.DumpAll());
  moved = Keyspace(kA);  // a big map freed
  EXPECT_EQ(moved.KeyCount(), 0u);
  fill(&moved, 0, kKeys, nullptr);  // and filled again
  EXPECT_EQ(moved.KeyCount(), 2u * kKeys);
  EXPECT_EQ(copy.Get("str:0"), "after-move");
}

// Every node of the key map, the heap's first ones and the chunks' after them, starts on a
// cache line and fits in 3 (KeyMap's pool: a lookup or a merge reads a node at random, and
// a node straddling a fourth line costs a fourth miss). A node is the key (a std::string)
// then its value, so a value starts sizeof(std::string) into its node. The heap pieces are
// what this guards: a chunk starts on a huge page and its pieces are whole lines, but a
// heap piece is on a line only if NodePool takes it with aligned new; and an index slot
// keeps its tag in the low bits of that address.
TEST(KeyspaceTest, EveryKeyNodeStartsOnACacheLine) {
  using Node = std::pair<const std::string, KeyValue>;
  static_assert(sizeof(Node) <= 3 * NodePool::kCacheLine);
  static_assert(sizeof(std::string) % alignof(KeyValue) == 0);
  Keyspace ks(kA);
  Keyspace delta = ks.NewDelta();
  constexpr int kKeys = 3 * NodePool::kHeapPieces;
  for (int i = 0; i < kKeys; ++i) {
    ks.IncrBy("counter:" + std::to_string(i), i, nullptr, &delta);
    ks.SAdd("set:" + std::to_string(i), "m", &delta);
  }
  for (const Keyspace* k : {&ks, &delta}) {
    for (const std::string& key : k->Keys()) {
      const auto at = reinterpret_cast<uintptr_t>(k->Find(key)) - sizeof(std::string);
      ASSERT_EQ(at % NodePool::kCacheLine, 0u) << key;
    }
  }
}

// A set key's store begins at node offset 56, so that what a lookup, an insert and an
// erase read of it (its hot fields, aw_or_set.h) is the node's second line, whole.
TEST(KeyspaceTest, ASetKeysHotFieldsFillTheNodesSecondLine) {
  Keyspace ks(kA);
  ks.SAdd("set", "m", nullptr);
  const KeyValue* v = ks.Find("set");
  ASSERT_NE(v, nullptr);
  const SetStore& set = v->set();
  ASSERT_TRUE(set.Contains("m"));  // the area's set, not the shared empty one
  const auto node = reinterpret_cast<uintptr_t>(v) - sizeof(std::string);
  const size_t at = reinterpret_cast<uintptr_t>(&set) - node;
  EXPECT_EQ(at, 56u);
  const SetStore::Span hot = set.HotFieldsSpanForTest();
  EXPECT_EQ(at + hot.begin, NodePool::kCacheLine);
  EXPECT_LE(at + hot.end, 2 * NodePool::kCacheLine);
}

// The key index keeps 6 bits of a key's hash beside its node's address: among 20,000
// keys many a probe passes a slot of another key with the same tag, which must read as
// that other key (compared, not taken), present or absent, through rehashes, erasures
// (tombstones), a copy of the map (the tags copied with new nodes) and a move.
TEST(KeyspaceTest, TaggedIndexFindsEachKeyAmongCollidingTags) {
  constexpr int kKeys = 20'000;
  Keyspace ks(kA);
  for (int i = 0; i < kKeys; ++i)
    ks.Set("k" + std::to_string(i), "v" + std::to_string(i), 1, nullptr);
  for (int i = 0; i < kKeys; i += 3) ASSERT_TRUE(ks.Del("k" + std::to_string(i), nullptr));
  auto check = [&](const Keyspace& k) {
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = "k" + std::to_string(i);
      if (i % 3 == 0) {
        ASSERT_EQ(k.Get(key), std::nullopt) << key;
      } else {
        ASSERT_EQ(k.Get(key), "v" + std::to_string(i)) << key;
      }
      ASSERT_EQ(k.Get("absent" + std::to_string(i)), std::nullopt);
    }
  };
  check(ks);
  const Keyspace copy = ks;
  check(copy);
  Keyspace moved = std::move(ks);
  check(moved);
  for (int i = kKeys; i < 3 * kKeys; ++i) moved.Set("k" + std::to_string(i), "w", 2, nullptr);
  check(moved);  // after a rehash
  EXPECT_EQ(moved.Get("k" + std::to_string(3 * kKeys - 1)), "w");
}

TEST(KeyspaceTest, BigKeyspaceValuesInItsHeapSurviveCopyMoveMergeAndDeath) {
  // Sets of 40 members hold an entry array and an index (a set has one from its 33rd
  // entry): in a keyspace of more than KeyMap::kValueHeapKeys keys both live in the
  // keyspace's ValueHeap.
  constexpr int kKeys = 1500;
  constexpr size_t kMembers = 40;
  auto fill = [](Keyspace* ks, int from, int to, Keyspace* delta) {
    for (int i = from; i < to; ++i) {
      for (size_t m = 0; m < kMembers; ++m) {
        ks->SAdd("set:" + std::to_string(i), "m" + std::to_string((i + m) % 43), delta);
      }
    }
  };
  auto ks = std::make_unique<Keyspace>(kA);
  Keyspace delta = ks->NewDelta();
  fill(ks.get(), 0, kKeys, &delta);
  Keyspace replica(kB);
  replica.Merge(delta);  // the delta's sets (ordinary heap) joined into replica's heap
  EXPECT_EQ(replica.DumpAll(), ks->DumpAll());
  std::string error;
  auto decoded = Keyspace::Decode(ks->Encode(), kB, &error);
  ASSERT_TRUE(decoded.has_value()) << error;
  EXPECT_TRUE(*decoded == *ks);
  ks->ResetDelta(&delta);
  for (int i = 0; i < kKeys; i += 3) ks->SRem("set:" + std::to_string(i), "m5", &delta);
  ASSERT_TRUE(replica.MergeEncoded(delta.Encode(), &error)) << error;
  EXPECT_EQ(replica.DumpAll(), ks->DumpAll());

  Keyspace copy = *ks;
  EXPECT_TRUE(copy == *ks);
  for (int i = 0; i < kKeys; i += 2) EXPECT_TRUE(copy.Del("set:" + std::to_string(i), nullptr));
  fill(&copy, kKeys, kKeys + 200, nullptr);
  std::swap(copy, replica);  // two big keyspaces, each with its heap
  EXPECT_EQ(copy.DumpAll(), ks->DumpAll());
  const std::string dump = replica.DumpAll();
  Keyspace moved = std::move(replica);
  EXPECT_EQ(moved.DumpAll(), dump);
  replica = moved;  // the moved-from keyspace, assigned a copy
  EXPECT_EQ(replica.DumpAll(), dump);

  // A value's parts outlive their keyspace (no Keyspace API moves a value out: the test
  // takes it by force): the keyspace's heap lives until they are freed.
  const KeyValue* v = ks->Find("set:1");
  ASSERT_NE(v, nullptr);
  SetStore kept(std::move(const_cast<KeyValue*>(v)->mutable_set()));
  ks.reset();
  EXPECT_EQ(kept.size(), kMembers);
  EXPECT_TRUE(kept.HasIndexForTest());
  CausalContext cc;
  kept.Add("more", kA, &cc, nullptr, nullptr);  // grows in the released heap
  EXPECT_EQ(kept.size(), kMembers + 1);
}

TEST(KeyspaceTest, RepliesAreThoseOfTheLocalView) {
  Keyspace ks(kA);
  EXPECT_TRUE(ks.SAdd("k", "x", nullptr));
  EXPECT_FALSE(ks.SAdd("k", "x", nullptr));  // already a member
  EXPECT_TRUE(ks.SRem("k", "x", nullptr));
  EXPECT_FALSE(ks.SRem("k", "x", nullptr));
  EXPECT_FALSE(ks.SRem("missing", "x", nullptr));
  EXPECT_TRUE(ks.HSet("h", "f", "1", 1, nullptr));
  EXPECT_FALSE(ks.HSet("h", "f", "2", 2, nullptr));
  int64_t v = 0;
  EXPECT_EQ(ks.HIncrBy("h", "f", 10, &v, nullptr), IncrStatus::kOk);
  EXPECT_EQ(v, 12);
  EXPECT_TRUE(ks.HDel("h", "f", nullptr));
  EXPECT_FALSE(ks.HDel("h", "f", nullptr));
  EXPECT_FALSE(ks.Del("h", nullptr));
  ks.Set("s", "abc", 1, nullptr);
  EXPECT_EQ(ks.IncrBy("s", 1, &v, nullptr), IncrStatus::kNotInteger);
  EXPECT_EQ(ks.HIncrBy("h", "g", 1, &v, nullptr), IncrStatus::kOk);
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(ks.Del("s", nullptr));
  EXPECT_FALSE(ks.Del("s", nullptr));
  EXPECT_EQ(ks.KeyCount(), 1u);  // h {g: 1}
}

// A key found once (Locate) and then checked and written through its Located, as the
// engine's SET, INCRBY, SADD and SREM do, against the same commands through the
// string_view overloads (each looks the key up itself): the same replies, types,
// membership, states and deltas, on absent, present, hidden (due TTL) and erased keys
// (an SREM that empties a set drops its key; the Located then reads it absent), on float
// counters (INCRBYFLOAT, then INCRBY's float branch), and with one Located reused for two
// writes in a row.
TEST(KeyspaceTest, LocatedWritesActAsLookedUpOnes) {
  for (uint64_t seed : crdt_test::TestSeeds(8, 0x10c)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    Keyspace located(kA);
    Keyspace looked_up(kA);
    Keyspace d1 = located.NewDelta();
    Keyspace d2 = looked_up.NewDelta();
    for (int step = 0; step < 600; ++step) {
      const std::string key = "k" + std::to_string(rng.Uniform(4));
      const int64_t now_ms = step;
      located.HideDue(now_ms);
      looked_up.HideDue(now_ms);
      located.ResetDelta(&d1);
      looked_up.ResetDelta(&d2);
      Keyspace::Located at = located.Locate(key);
      ASSERT_EQ(located.TypeOf(at), looked_up.TypeOf(key));
      std::vector<std::string> members;
      for (uint64_t i = 0, n = 1 + rng.Uniform(3); i < n; ++i) {
        members.push_back("m" + std::to_string(rng.Uniform(3)));
      }
      // SET, INCRBY, SADD or SREM through `at` and through a lookup of its own.
      auto write = [&](uint64_t kind) {
        switch (kind) {
          case 0: {
            const bool keep_ttl = rng.OneIn(2);
            located.Set(at, "v" + std::to_string(step), step, &d1, keep_ttl);
            looked_up.Set(key, "v" + std::to_string(step), step, &d2, keep_ttl);
            break;
          }
          case 1: {
            const int64_t by = rng.OneIn(8) ? PnCounter::kBound : rng.Range(-2, 2);
            int64_t v1 = 0, v2 = 0;
            const IncrStatus s1 = located.IncrBy(at, by, &v1, &d1);
            ASSERT_EQ(s1, looked_up.IncrBy(key, by, &v2, &d2));
            ASSERT_EQ(v1, v2);
            if (s1 != IncrStatus::kOk) at = located.Locate(key);  // a refused step may drop it
            break;
          }
          case 2:
            for (const std::string& m : members) {
              ASSERT_EQ(located.SAdd(&at, m, &d1), looked_up.SAdd(key, m, &d2));
            }
            break;
          default:
            for (const std::string& m : members) {
              const bool member = located.IsMember(at, m);
              ASSERT_EQ(member, looked_up.IsMember(key, m));
              if (member) {
                ASSERT_EQ(located.SRem(&at, m, &d1), looked_up.SRem(key, m, &d2));
              }
            }
            ASSERT_EQ(located.TypeOf(at), looked_up.TypeOf(key));  // emptied: absent
            break;
        }
      };
      switch (rng.Uniform(9)) {
        case 0:
        case 1:
        case 2:
        case 3:
          ASSERT_NO_FATAL_FAILURE(write(rng.Uniform(4)));
          break;
        case 4: {
          const int64_t deadline_ms = now_ms + rng.Range(0, 5);  // some due at once
          located.Expire(key, deadline_ms, &d1);
          looked_up.Expire(key, deadline_ms, &d2);
          break;
        }
        case 5:
          ASSERT_EQ(located.Del(key, &d1), looked_up.Del(key, &d2));
          break;
        case 6: {  // a float counter: INCRBY through `at` then takes its float branch
          const long double by = rng.OneIn(2) ? 0.5L : static_cast<long double>(rng.Range(-2, 2));
          std::string v1, v2;
          ASSERT_EQ(located.IncrByFloat(key, by, &v1, &d1),
                    looked_up.IncrByFloat(key, by, &v2, &d2));
          ASSERT_EQ(v1, v2);
          at = located.Locate(key);  // a refused step may drop the key
          ASSERT_NO_FATAL_FAILURE(write(1));
          break;
        }
        case 7: {  // one Located reused for two writes, against two lookups each
          const uint64_t first = rng.Uniform(4);
          ASSERT_NO_FATAL_FAILURE(write(first));
          // SET and INCRBY take the Located as it is: one that found no key still says so
          // after they made it (SADD and SREM update theirs).
          if (first <= 1 && at.entry == nullptr) at = located.Locate(key);
          ASSERT_NO_FATAL_FAILURE(write(rng.Uniform(4)));
          break;
        }
        default:
          ASSERT_EQ(located.HSet(key, "f", "x", step, &d1),
                    looked_up.HSet(key, "f", "x", step, &d2));
          break;
      }
      ASSERT_TRUE(located == looked_up);
      ASSERT_EQ(d1.Encode(), d2.Encode());
      ASSERT_TRUE(located.HeldExact());
    }
  }
}

// SameBytes (flat_hash.h: the sets' element compare, and the key index's) against ==: every length
// from 0 to 40, equal and with one byte changed at each position, the lengths told apart too.
TEST(KeyspaceTest, SameBytesIsEquality) {
  crdt_test::Rng rng(0x5a3e);
  for (size_t n = 0; n <= 40; ++n) {
    std::string a;
    for (size_t i = 0; i < n; ++i) a.push_back(static_cast<char>(rng.Uniform(256)));
    const std::string b = a;  // another buffer
    ASSERT_TRUE(SameBytes(a, b)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ (1 << rng.Uniform(8)));
      ASSERT_FALSE(SameBytes(a, c)) << n << " " << i;
      ASSERT_FALSE(SameBytes(c, a)) << n << " " << i;
    }
    ASSERT_FALSE(SameBytes(a, a + "x")) << n;
  }
}

// HashOf64 (flat_hash.h: the key index's hash, and the sets' through HashOf): every bit of
// a string of each length from 0 to 64 reaches it (each one flipped changes it), the length
// too, and so does every pair of a byte's top bit and any other bit at lengths where an
// xor of per-word products let such pairs cancel; HashOf and HashOf64 keep their values
// (golden values: the sets' and the key map's layouts are built from them, a change must
// be seen); and a keyspace stores, finds and deletes keys of each of those lengths.
TEST(KeyspaceTest, KeyHashReadsEveryByte) {
  crdt_test::Rng rng(0x7e11);
  Keyspace ks(kA);
  std::vector<std::string> keys;
  for (size_t n = 0; n <= 64; ++n) {
    std::string a;
    for (size_t i = 0; i < n; ++i) a.push_back(static_cast<char>(rng.Uniform(256)));
    const uint64_t h = HashOf64(a);
    for (size_t i = 0; i < n; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string c = a;
        c[i] = static_cast<char>(c[i] ^ (1 << bit));
        ASSERT_NE(HashOf64(c), h) << n << " " << i << " " << bit;
      }
    }
    ASSERT_NE(HashOf64(a + std::string(1, '\0')), h) << n;
    ks.Set(a, std::to_string(n), 1, nullptr);
    keys.push_back(a);
  }
  for (const size_t n : {13, 14, 15, 16, 17, 32, 33, 40}) {
    std::string a;
    for (size_t i = 0; i < n; ++i) a.push_back(static_cast<char>(rng.Uniform(256)));
    const uint64_t h = HashOf64(a);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        for (int bit = 0; bit < 8; ++bit) {
          if (j == i && bit == 7) continue;
          std::string c = a;
          c[i] = static_cast<char>(c[i] ^ 0x80);
          c[j] = static_cast<char>(c[j] ^ (1 << bit));
          ASSERT_NE(HashOf64(c), h) << n << " " << i << " " << j << " " << bit;
        }
      }
    }
  }
  struct Golden {
    const char* s;
    uint64_t h64;
    uint32_t h32;
  };
  for (const Golden& g : std::vector<Golden>{
           {"", 0x62D6BA981056D5A6ull, 0x72806F3Eu},
           {"a", 0xFD7B4C8977611B6Full, 0x8A1A57E6u},
           {"counter:1234", 0xA924BE71AC97EA41ull, 0x05B35430u},
           {"abcdefghijklmnop", 0x1EA4FA40A4F446ECull, 0xBA50BCACu},
           {"abcdefghijklmnopq", 0xDC794BDC96AD8C59ull, 0x4AD4C785u},
           {"0123456789abcdefghijklmnopqrstuvwxyzABCD", 0xBEE2CEA05FA1C106ull, 0xE1430FA6u}}) {
    EXPECT_EQ(HashOf64(g.s), g.h64) << g.s;
    EXPECT_EQ(HashOf(g.s), g.h32) << g.s;
  }
  for (size_t n = 0; n <= 64; ++n) ASSERT_EQ(ks.Get(keys[n]), std::to_string(n)) << n;
  for (size_t n = 0; n <= 64; n += 2) ASSERT_TRUE(ks.Del(keys[n], nullptr)) << n;
  for (size_t n = 0; n <= 64; ++n) {
    ASSERT_EQ(ks.Get(keys[n]), n % 2 == 0 ? std::nullopt : std::optional(std::to_string(n))) << n;
  }
}

// A state (not a delta) may hold no removed list entry or stream item; of two keys that
// do, the decoder's error names the first in the encoding's (sorted) order, whatever the
// key map's hash order: the text reaches users.
TEST(KeyspaceTest, DecodeNamesTheFirstBadKeyInEncodedOrder) {
  for (const bool list_first : {true, false}) {
    const std::string list_key = list_first ? "a" : "b";
    const std::string stream_key = list_first ? "b" : "a";
    Keyspace ks(kA);
    ks.LInsert(list_key, 0, "x", nullptr);
    ks.XAdd(stream_key, StreamId{1, 0}, {"f", "v"}, nullptr);
    Keyspace d = ks.NewDelta();
    ks.LEraseRange(list_key, 0, 1, &d);
    ks.XRemove(stream_key, ks.Stream(stream_key)->entries().begin()->first, &d);
    std::string bytes = d.Encode();
    std::string error;
    ASSERT_TRUE(Keyspace::Decode(bytes, kA, &error)) << error;  // as a delta it is good
    bytes[0] = static_cast<char>(bytes[0] & ~1);                // header bit 0: a state
    ASSERT_FALSE(Keyspace::Decode(bytes, kA, &error));
    EXPECT_EQ(error,
              list_first ? "removed list entry in a state" : "removed stream item in a state");
  }
}

// The empty key looked up with a default string_view (null data): equal to "", with no
// memcmp given a null pointer (UBSan flags one, even for 0 bytes).
TEST(KeyspaceTest, SameBytesTakesADefaultStringView) {
  const std::string empty;
  EXPECT_TRUE(SameBytes(std::string_view(), empty));
  EXPECT_TRUE(SameBytes(empty, std::string_view()));
  EXPECT_FALSE(SameBytes(std::string_view(), "x"));
  Keyspace ks(kA);
  ks.Set("", "v", 1, nullptr);
  ASSERT_NE(ks.Find(std::string_view()), nullptr);
  EXPECT_EQ(ks.Get(std::string_view()), "v");
}

#ifndef NDEBUG
// A Located of another keyspace, or one whose key was erased since, would write to memory
// the keyspace does not hold, and one that found its key absent, the key made since, would
// insert it twice: debug builds stop at the write.
TEST(KeyspaceDeathTest, AForeignOrStaleLocatedIsCaughtInDebugBuilds) {
  Keyspace ks(kA);
  Keyspace other(kB);
  ks.SAdd("k", "x", nullptr);
  other.SAdd("k", "x", nullptr);
  Keyspace::Located foreign = other.Locate("k");
  int64_t v = 0;
  EXPECT_DEATH(ks.Set(foreign, "v", 1, nullptr), "LocatedIsCurrent");
  EXPECT_DEATH(ks.IncrBy(foreign, 1, &v, nullptr), "LocatedIsCurrent");
  EXPECT_DEATH(ks.SAdd(&foreign, "y", nullptr), "LocatedIsCurrent");
  EXPECT_DEATH(ks.SRem(&foreign, "x", nullptr), "LocatedIsCurrent");
  Keyspace::Located stale = ks.Locate("k");
  ks.SRem("k", "x", nullptr);  // erases the key
  EXPECT_DEATH(ks.SAdd(&stale, "y", nullptr), "LocatedIsCurrent");
  // Found absent, then made by another write: a write through it would insert it twice.
  Keyspace::Located fresh = ks.Locate("n");
  ks.Set("n", "v", 1, nullptr);
  EXPECT_DEATH(ks.Set(fresh, "w", 2, nullptr), "LocatedIsCurrent");
  EXPECT_DEATH(ks.IncrBy(fresh, 1, &v, nullptr), "LocatedIsCurrent");
  EXPECT_DEATH(ks.SAdd(&fresh, "y", nullptr), "LocatedIsCurrent");
}
#endif

// A refused increment changes nothing, not even metadata.
TEST(KeyspaceTest, RefusedIncrementChangesNothing) {
  Keyspace ks(kA);
  ks.Set("s", "abc", 1, nullptr);
  ks.HSet("h", "f", "x", 1, nullptr);
  const std::string before = ks.Encode();
  Keyspace d = ks.NewDelta();
  int64_t v = 0;
  EXPECT_EQ(ks.IncrBy("s", 1, &v, &d), IncrStatus::kNotInteger);
  EXPECT_EQ(ks.IncrBy("big", PnCounter::kBound + 1, &v, &d), IncrStatus::kOutOfRange);
  EXPECT_TRUE(d.empty());  // the empty delta's entry, taken for each step, erased again
  EXPECT_EQ(ks.HIncrBy("h", "f", 1, &v, &d), IncrStatus::kNotInteger);
  EXPECT_EQ(ks.HIncrBy("h", "g", -PnCounter::kBound - 1, &v, &d), IncrStatus::kOutOfRange);
  // The delta now lists "h" (the setting of the next case): a refused HIncrBy, unlike a
  // refused IncrBy, leaves the entry it took before the step, empty.
  ASSERT_NE(d.Find("h"), nullptr);
  // A delta that lists another key: the entry taken for the step is erased again.
  EXPECT_EQ(ks.IncrBy("big2", PnCounter::kBound + 1, &v, &d), IncrStatus::kOutOfRange);
  EXPECT_EQ(d.Find("big2"), nullptr);
  EXPECT_EQ(ks.Encode(), before);
  EXPECT_EQ(ks.Find("big"), nullptr);
  EXPECT_EQ(ks.Find("big2"), nullptr);
  Keyspace other(kB);
  other.Merge(d);
  EXPECT_EQ(other.KeyCount(), 0u);
}

// Steps refused and then one taken, on one delta (a batch's), make the effect of the
// taken step alone: refused on its key and on another, with the delta listing the key
// already, and not.
TEST(KeyspaceTest, RefusedThenTakenStepIsTheTakenStepsEffect) {
  for (bool listed : {false, true}) {
    SCOPED_TRACE(listed ? "listed" : "new");
    Keyspace a(kA), b(kA);
    Keyspace da = a.NewDelta(), db = b.NewDelta();
    int64_t v = 0;
    if (listed) {  // the same first step in both
      ASSERT_EQ(a.IncrBy("c", 5, &v, &da), IncrStatus::kOk);
      ASSERT_EQ(b.IncrBy("c", 5, &v, &db), IncrStatus::kOk);
    }
    EXPECT_EQ(a.IncrBy("c", PnCounter::kBound + 1, &v, &da), IncrStatus::kOutOfRange);
    EXPECT_EQ(a.IncrBy("big", PnCounter::kBound + 1, &v, &da), IncrStatus::kOutOfRange);
    ASSERT_EQ(a.IncrBy("c", 3, &v, &da), IncrStatus::kOk);
    ASSERT_EQ(b.IncrBy("c", 3, &v, &db), IncrStatus::kOk);
    EXPECT_EQ(v, listed ? 8 : 3);
    EXPECT_EQ(da.Encode(), db.Encode());
    EXPECT_EQ(a.Encode(), b.Encode());
  }
}

// INCRBY 0 on a key with INCRBYFLOAT increments is a step of the integer counter (a live
// zero step, pn_counter.h); refused (the replica's slot is at the end of its life total),
// it leaves no entry in the delta, as any refused step.
TEST(KeyspaceTest, RefusedZeroStepOnFloatsLeavesNoDeltaEntry) {
  Keyspace ks(kA);
  int64_t v = 0;
  // The slot's increments total 2^64 - 1 (and its decrements as much), its value 0.
  for (int i = 0; i < 31; ++i) {
    ASSERT_EQ(ks.IncrBy("f", PnCounter::kBound, &v, nullptr), IncrStatus::kOk);
    ASSERT_EQ(ks.IncrBy("f", -PnCounter::kBound, &v, nullptr), IncrStatus::kOk);
  }
  ASSERT_EQ(ks.IncrBy("f", PnCounter::kBound - 1, &v, nullptr), IncrStatus::kOk);
  ASSERT_EQ(ks.IncrBy("f", 1 - PnCounter::kBound, &v, nullptr), IncrStatus::kOk);
  std::string sv;
  ASSERT_EQ(ks.IncrByFloat("f", 2, &sv, nullptr), FloatStatus::kOk);
  const std::string before = ks.Encode();
  for (bool empty : {true, false}) {
    SCOPED_TRACE(empty ? "empty delta" : "delta listing another key");
    Keyspace d = ks.NewDelta();
    if (!empty) ks.Set("other", "x", 1, &d);
    const std::string delta_before = d.Encode();
    EXPECT_EQ(ks.IncrBy("f", 0, &v, &d), IncrStatus::kOutOfRange);
    EXPECT_EQ(d.Find("f"), nullptr);
    EXPECT_EQ(d.Encode(), delta_before);
    if (empty) {
      EXPECT_EQ(ks.Encode(), before);
    }
  }
}

TEST(KeyspaceTest, SetReplacesTheObservedPartsOfAKey) {
  Keyspace ks(kA);
  ks.SAdd("k", "x", nullptr);
  ks.HSet("k", "f", "1", 1, nullptr);
  EXPECT_EQ(ks.TypeOf("k"), Keyspace::Type::kHash);  // hash before set
  ks.Set("k", "v", 2, nullptr);
  EXPECT_EQ(ks.TypeOf("k"), Keyspace::Type::kString);
  EXPECT_EQ(ks.Members("k"), Strings{});
  EXPECT_TRUE(ks.Find("k")->hash().empty());
  EXPECT_EQ(ks.DumpAll(), "k string v\n");
}

// Concurrent writes of different types keep both parts; the visible type is the string,
// else the hash, else the set.
TEST(KeyspaceTest, ConcurrentTypesFollowTheFixedPrecedence) {
  Keyspace a(kA), b(kB);
  Keyspace da = Op(a, [&](Keyspace* d) { a.SAdd("k", "x", d); });
  Keyspace db = Op(b, [&](Keyspace* d) { b.HSet("k", "f", "1", 5, d); });
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a.TypeOf("k"), Keyspace::Type::kHash);
  EXPECT_EQ(a.Members("k"), Strings{"x"});
  EXPECT_EQ(a, b);
  Keyspace ds = Op(a, [&](Keyspace* d) { a.Set("other", "1", 1, d); });
  Keyspace dc = Op(b, [&](Keyspace* d) { b.Set("k", "s", 6, d); });  // observed both
  a.Merge(dc);
  EXPECT_EQ(a.TypeOf("k"), Keyspace::Type::kString);
  EXPECT_EQ(a.Dump("k"), "s");
  EXPECT_EQ(a.Members("k"), Strings{});
  EXPECT_EQ(a.Find("k")->set().entry_count(), 0u);
  b.Merge(ds);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.DumpAll(), b.DumpAll());
}

// A delta can hold a batch (a transaction): one delta, several effects.
TEST(KeyspaceTest, OneDeltaForABatchOfWrites) {
  Keyspace a(kA), b(kB);
  a.Set("s", "1", 1, nullptr);
  b.Merge(a);
  Keyspace batch = a.NewDelta();
  a.Set("s", "2", 2, &batch);
  a.Set("s", "3", 3, &batch);  // observed the previous write of the batch
  int64_t v = 0;
  a.IncrBy("s", 4, &v, &batch);
  EXPECT_EQ(v, 7);
  a.SAdd("t", "x", &batch);
  a.SAdd("t", "y", &batch);
  a.SRem("t", "x", &batch);
  a.HSet("h", "f", "v", 3, &batch);
  a.Del("h", &batch);
  EXPECT_TRUE(batch.is_delta());
  b.Merge(batch);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.DumpAll(), "s string 7\nt set {y}\n");
  EXPECT_EQ(a.Encode(), b.Encode());
}

// ResetDelta keeps a one-key delta's node for the next write, which may be of another key
// and type: the reused delta must be what a new one is (every part of the kept value
// emptied, the new key in place of the old).
TEST(KeyspaceTest, ResetDeltaReusesTheNodeAsNew) {
  Keyspace a(kA), b(kA);  // the same writes on both, into a reused and a new delta
  using Write = void (*)(Keyspace&, Keyspace*);
  const std::vector<Write> writes = {
      [](Keyspace& ks, Keyspace* d) { ks.Set("s", "1", 1, d); },
      [](Keyspace& ks, Keyspace* d) { ks.SAdd("t", "x", d); },
      [](Keyspace& ks, Keyspace* d) { ks.SRem("t", "x", d); },
      [](Keyspace& ks, Keyspace* d) { ks.HSet("h", "f", "v", 2, d); },
      [](Keyspace& ks, Keyspace* d) {
        int64_t v = 0;
        ks.IncrBy("n", 3, &v, d);
      },
      [](Keyspace& ks, Keyspace* d) { ks.Expire("s", 5'000, d); },
      [](Keyspace& ks, Keyspace* d) { ks.ZAdd("z", "m", 1.5, 3, d); },
      [](Keyspace& ks, Keyspace* d) {
        ks.PfAdd("p", {"e1", "e2"}, d);
      },
      [](Keyspace& ks, Keyspace* d) { ks.LInsert("l", 0, "v", d); },
      [](Keyspace& ks, Keyspace* d) { ks.XMakeExist("x", d); },
      [](Keyspace& ks, Keyspace* d) { ks.BcIncrBy("bc", 4, d); },
      [](Keyspace& ks, Keyspace* d) {
        std::string out;
        ks.IncrByFloat("f", 0.5, &out, d);
      },
      [](Keyspace& ks, Keyspace* d) {
        std::string out;
        ks.HIncrByFloat("hf", "g", 0.25, &out, d);
      },
      [](Keyspace& ks, Keyspace* d) { ks.Del("z", d); },
      [](Keyspace& ks, Keyspace* d) { ks.Set("s", "2", 4, d); },
  };
  Keyspace reused = a.NewDelta();
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < writes.size(); ++i) {
      SCOPED_TRACE(testing::Message() << "round " << round << ", write " << i);
      a.ResetDelta(&reused);
      EXPECT_TRUE(reused.empty());
      writes[i](a, &reused);
      Keyspace fresh = b.NewDelta();
      writes[i](b, &fresh);
      EXPECT_TRUE(reused == fresh);
      EXPECT_EQ(reused.Encode(), fresh.Encode());
      EXPECT_EQ(reused.DumpAll(), fresh.DumpAll());
      Keyspace copy = reused;  // a copy holds the entries, not the kept node
      EXPECT_EQ(copy.Encode(), fresh.Encode());
    }
  }
  a.ResetDelta(&reused);
  EXPECT_EQ(reused.Find("s"), nullptr);  // the kept node is in no slot
  EXPECT_EQ(reused.Encode(), b.NewDelta().Encode());
  EXPECT_EQ(a, b);
}

// Encode writes a string, set or hash part that `held` does not name as its zero counts
// without walking it: the bytes must be those of the walk (a value claiming every part), and
// EncodeTo appends exactly Encode's bytes, to an empty string or after others, with or
// without room to spare.
TEST(KeyspaceTest, EncodeWritesEmptyPartsAsTheWalkDoesAndAppends) {
  Keyspace a(kA);
  std::vector<Keyspace> deltas;
  auto write = [&](auto&& f) {
    deltas.push_back(a.NewDelta());
    f(&deltas.back());
  };
  write([&](Keyspace* d) { a.Set("s", "1", 1, d); });
  write([&](Keyspace* d) { a.SAdd("t", "x", d); });
  write([&](Keyspace* d) { a.SRem("t", "x", d); });
  write([&](Keyspace* d) { a.HSet("h", "f", "v", 2, d); });
  write([&](Keyspace* d) {
    int64_t v = 0;
    a.IncrBy("n", 3, &v, d);
  });
  write([&](Keyspace* d) { a.Set("t", "over a set", 3, d); });
  write([&](Keyspace* d) { a.SAdd("h", "y", d); });  // refused: a hash
  write([&](Keyspace* d) { a.Expire("s", 5'000, d); });
  write([&](Keyspace* d) { a.Del("n", d); });
  write([&](Keyspace* d) {
    a.SAdd("u", "1", d);
    a.Set("v", "2", 4, d);
  });
  std::vector<const Keyspace*> all = {&a};
  for (const Keyspace& d : deltas) all.push_back(&d);
  for (size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "keyspace " << i);
    const Keyspace& ks = *all[i];
    for (const std::string& key : ks.Keys()) {
      const KeyValue* v = ks.Find(key);
      ASSERT_NE(v, nullptr) << key;
      KeyValue walked = *v;
      walked.held = KeyValue::kHeldAll;
      Encoder got, want;
      v->Encode(&got, v->Parts());
      walked.Encode(&want, v->Parts());
      EXPECT_EQ(got.str(), want.str()) << key;
    }
    const std::string bytes = ks.Encode();
    std::string out;
    ks.EncodeTo(&out);
    EXPECT_EQ(out, bytes);
    out = "before";
    ks.EncodeTo(&out);
    EXPECT_EQ(out, "before" + bytes);
    std::string roomy;
    roomy.reserve(1000);
    roomy = "x";
    ks.EncodeTo(&roomy);
    EXPECT_EQ(roomy, "x" + bytes);
  }
}

// KeyValue::Encode writes an empty register or counter of the string part as its count of
// zero itself: the bytes StringValueStore::Encode writes, for a register alone, a counter
// alone and both.
TEST(KeyspaceTest, StringPartEncodesAsStringValueStoreDoes) {
  Keyspace a(kA);
  int64_t n = 0;
  a.Set("reg", "v", 1, nullptr);
  a.IncrBy("ctr", 5, &n, nullptr);
  a.Set("both", "7", 2, nullptr);
  a.IncrBy("both", 2, &n, nullptr);
  for (const char* key : {"reg", "ctr", "both"}) {
    SCOPED_TRACE(key);
    const KeyValue* v = a.Find(key);
    ASSERT_NE(v, nullptr);
    ASSERT_EQ(v->Parts(), 0);
    Encoder got, want;
    v->Encode(&got, 0);
    v->str().Encode(&want);
    want.PutByte(0);  // no set element
    want.PutByte(0);  // no hash field
    EXPECT_EQ(got.str(), want.str());
  }
  EXPECT_FALSE(a.Find("reg")->str().reg.empty());
  EXPECT_TRUE(a.Find("reg")->str().counter.empty());
  EXPECT_TRUE(a.Find("ctr")->str().reg.empty());
  EXPECT_FALSE(a.Find("both")->str().reg.empty());
  EXPECT_FALSE(a.Find("both")->str().counter.empty());
}

TEST(KeyspaceTest, EncodeDecodeKeepsStateAndSelf) {
  Keyspace a(kA);
  a.Set("s", "1", 1, nullptr);
  a.SAdd("t", "x", nullptr);
  a.HSet("h", "f", "v", 3, nullptr);
  std::string error;
  auto back = Keyspace::Decode(a.Encode(), kB, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  EXPECT_EQ(back->self(), kB);
  EXPECT_FALSE(back->is_delta());
  Keyspace d = Op(a, [&](Keyspace* dd) { a.SAdd("t", "y", dd); });
  auto dback = Keyspace::Decode(d.Encode(), kA, &error);
  ASSERT_TRUE(dback) << error;
  EXPECT_TRUE(dback->is_delta());
  EXPECT_EQ(*dback, d);
}

// Keyspace version of AwOrSetTest.StateMergedIntoADeltaIsCanonical.
TEST(KeyspaceTest, StateMergedIntoADeltaIsCanonical) {
  Keyspace a(kA), b(kB);
  a.SAdd("k", "x", nullptr);
  Keyspace d = Op(a, [&](Keyspace* dd) { a.SRem("k", "x", dd); });
  b.Set("other", "1", 1, nullptr);
  Keyspace delta_then_state = d;
  delta_then_state.Merge(b);
  Keyspace state_then_delta = b;
  state_then_delta.Merge(d);
  EXPECT_EQ(delta_then_state, state_then_delta);
  EXPECT_EQ(delta_then_state.Encode(), state_then_delta.Encode());
  EXPECT_EQ(delta_then_state.Find("k"), nullptr);
}

// No tombstone growth: after DEL of every key and a sync, no key is visible and no set or
// register metadata remains; counters keep one slot per replica that incremented them
// (pn_counter.h), bounded by the replicas, not by the number of operations.
TEST(KeyspaceTest, NoTombstoneGrowthAfterDeletingEveryKey) {
  constexpr int kReplicas = 3;
  constexpr int kKeys = 60;
  std::vector<Keyspace> r;
  for (int i = 0; i < kReplicas; ++i) r.emplace_back(MakeReplicaId(i + 1, 1));
  auto sync = [&](std::vector<Keyspace>& deltas) {
    for (auto& rep : r) {
      for (const auto& d : deltas) rep.Merge(d);
    }
    deltas.clear();
  };
  auto key = [](int k) { return "key:" + std::to_string(k); };
  std::vector<Keyspace> deltas;
  size_t bytes_after_first_cycle = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    for (int round = 0; round < 5; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        Keyspace& rep = r[(k + round) % kReplicas];
        Keyspace d = rep.NewDelta();
        int64_t v = 0;
        switch (k % 5) {
          case 0:
            rep.Set(key(k), "value-" + std::to_string(round), round, &d);
            break;
          case 1:
            ASSERT_EQ(rep.IncrBy(key(k), 1, &v, &d), IncrStatus::kOk);
            break;
          case 2:
            rep.SAdd(key(k), "member-" + std::to_string(round), &d);
            break;
          case 3:
            rep.HSet(key(k), "field-" + std::to_string(round % 2), "v", round, &d);
            break;
          default:
            ASSERT_EQ(rep.HIncrBy(key(k), "n", 2, &v, &d), IncrStatus::kOk);
            break;
        }
        deltas.push_back(std::move(d));
      }
    }
    sync(deltas);
    ASSERT_EQ(r[0].KeyCount(), static_cast<size_t>(kKeys));
    for (int k = 0; k < kKeys; ++k) {
      Keyspace& rep = r[k % kReplicas];
      Keyspace d = rep.NewDelta();
      ASSERT_TRUE(rep.Del(key(k), &d));
      deltas.push_back(std::move(d));
    }
    sync(deltas);
    for (const auto& rep : r) {
      EXPECT_EQ(rep.KeyCount(), 0u);
      EXPECT_EQ(rep.DumpAll(), "");
      EXPECT_LE(rep.context().ExplicitSize(), static_cast<size_t>(kReplicas));
      for (int k = 0; k < kKeys; ++k) {
        const KeyValue* v = rep.Find(key(k));
        if (v == nullptr) continue;
        EXPECT_TRUE(v->str().reg.empty()) << key(k);
        EXPECT_EQ(v->set().entry_count(), 0u) << key(k);
        EXPECT_LE(v->str().counter.slots().size(), static_cast<size_t>(kReplicas)) << key(k);
        EXPECT_FALSE(v->str().counter.Live()) << key(k);
        if (const StringValueStore* f = v->hash().Find("n")) {
          EXPECT_TRUE(f->reg.empty());
          EXPECT_LE(f->counter.slots().size(), static_cast<size_t>(kReplicas));
        }
        EXPECT_EQ(v->hash().Find("field-0"), nullptr) << key(k);
        EXPECT_EQ(v->hash().Find("field-1"), nullptr) << key(k);
        // Only counter keys (k % 5 == 1 or 4) may keep metadata.
        EXPECT_TRUE(k % 5 == 1 || k % 5 == 4) << key(k);
      }
    }
    EXPECT_EQ(r[0], r[1]);
    EXPECT_EQ(r[0].Encode(), r[2].Encode());
    if (cycle == 0) bytes_after_first_cycle = r[0].MemoryBytes();
    EXPECT_LE(r[0].MemoryBytes(), bytes_after_first_cycle) << "cycle " << cycle;
  }
}

}  // namespace
}  // namespace crdt
