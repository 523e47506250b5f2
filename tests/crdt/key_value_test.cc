// KeyValue's layout: the parts behind the pointer (hash, bounded counter, TTL, float
// counter, HyperLogLog, list, stream) get their block on the first write, keep `held`
// exact, survive copy, move, join and an encode/decode round trip, count in MemoryBytes,
// and go when a SET or a merged SET leaves them empty. The inline area holds the string or
// the set; a type conflict puts the other one in the block until one of them goes. (That a
// const read of an absent part allocates nothing is checked in key_value_alloc_test.cc,
// its own binary.)
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

// One write per part behind the pointer, on key "k" (which holds the string "1"), and the
// bit it sets.
struct RareWrite {
  const char* name;
  uint16_t bit;
  std::function<void(Keyspace&, Keyspace*)> write;
};

std::vector<RareWrite> RareWrites() {
  return {
      {"hash", KeyValue::kHeldHash,
       [](Keyspace& ks, Keyspace* d) { ks.HSet("k", "f", "v", 2, d); }},
      {"bounded counter", KeyValue::kHeldBoundedCounter,
       [](Keyspace& ks, Keyspace* d) { ks.BcIncrBy("k", 4, d); }},
      {"expiry", KeyValue::kHeldExpiry,
       [](Keyspace& ks, Keyspace* d) { ks.Expire("k", 1'000'000, d); }},
      {"float counter", KeyValue::kHeldFloatCounter,
       [](Keyspace& ks, Keyspace* d) {
         std::string out;
         ks.IncrByFloat("k", 0.5, &out, d);
       }},
      {"hll", KeyValue::kHeldHll, [](Keyspace& ks, Keyspace* d) { ks.PfAdd("k", {"e"}, d); }},
      {"list", KeyValue::kHeldList, [](Keyspace& ks, Keyspace* d) { ks.LInsert("k", 0, "x", d); }},
      {"stream", KeyValue::kHeldStream,
       [](Keyspace& ks, Keyspace* d) {
         ks.XAdd("k", StreamId{1, 0}, {"f", "v"}, d);
       }},
  };
}

// The delta of one write at ks, merged into `to` through its encoding.
template <typename F>
void WriteAndShip(Keyspace& ks, Keyspace& to, F write) {
  Keyspace d = ks.NewDelta();
  write(ks, &d);
  std::string error;
  ASSERT_TRUE(to.MergeEncoded(d.Encode(), &error)) << error;
}

TEST(KeyValueTest, AKeyMovesThroughEveryRarePartAndBack) {
  for (const RareWrite& w : RareWrites()) {
    SCOPED_TRACE(w.name);
    Keyspace a(kA);
    Keyspace b(kB);
    WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "1", 1, d); });
    ASSERT_NE(a.Find("k"), nullptr);
    EXPECT_FALSE(a.Find("k")->HasRareParts());
    EXPECT_FALSE(b.Find("k")->HasRareParts());
    const size_t string_only = a.MemoryBytes();

    // The first write of the part builds the block, on both sides of the merge.
    WriteAndShip(a, b, w.write);
    const KeyValue* v = a.Find("k");
    ASSERT_NE(v, nullptr);
    EXPECT_TRUE(v->HasRareParts());
    EXPECT_EQ(v->held, KeyValue::kHeldStr | w.bit);
    EXPECT_TRUE(a.HeldExact());
    EXPECT_TRUE(b.Find("k")->HasRareParts());
    EXPECT_EQ(b.Find("k")->held, v->held);
    EXPECT_TRUE(b.HeldExact());
    EXPECT_TRUE(a == b);
    EXPECT_GT(a.MemoryBytes(), string_only + sizeof(void*));

    // Copies are deep; moves keep the block.
    KeyValue copy = *v;
    EXPECT_TRUE(copy == *v);
    EXPECT_TRUE(copy.HasRareParts());
    EXPECT_NE(&copy.hash(), &v->hash());
    KeyValue moved = std::move(copy);
    EXPECT_TRUE(moved == *v);
    KeyValue assigned;
    EXPECT_FALSE(assigned == *v);
    assigned = moved;
    EXPECT_TRUE(assigned == *v);
    EXPECT_EQ(assigned.held, v->held);
    Keyspace c = a;
    EXPECT_TRUE(c == a);
    c.Set("k", "2", 3, nullptr);
    EXPECT_FALSE(c == a);  // a kept its own block
    EXPECT_EQ(a.Find("k")->held, KeyValue::kHeldStr | w.bit);
    Keyspace m = std::move(c);
    EXPECT_EQ(m.Get("k"), "2");

    // Encode/decode round trip: the same state, the same bits, the block rebuilt.
    std::string error;
    std::optional<Keyspace> back = Keyspace::Decode(a.Encode(), kA, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_TRUE(*back == a);
    EXPECT_TRUE(back->HeldExact());
    EXPECT_EQ(back->Find("k")->held, v->held);
    EXPECT_TRUE(back->Find("k")->HasRareParts());
    EXPECT_EQ(back->Encode(), a.Encode());

    // And back: a SET clears every part but the bounded counter (never reset); a part
    // left empty takes its block with it, at the writer and at the receiver of the SET.
    WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "3", 4, d); });
    for (const Keyspace* ks : {&a, &b}) {
      const KeyValue* after = ks->Find("k");
      ASSERT_NE(after, nullptr);
      EXPECT_TRUE(ks->HeldExact());
      EXPECT_EQ(after->HasRareParts(), (after->held & KeyValue::kHeldRare) != 0);
      if (w.bit == KeyValue::kHeldHash || w.bit == KeyValue::kHeldExpiry ||
          w.bit == KeyValue::kHeldList) {
        EXPECT_EQ(after->held, KeyValue::kHeldStr);
        EXPECT_FALSE(after->HasRareParts());
      }
      if (w.bit == KeyValue::kHeldBoundedCounter) {
        EXPECT_TRUE(after->held & w.bit);
      }
    }
    EXPECT_TRUE(a == b);
    if (!a.Find("k")->HasRareParts()) {
      EXPECT_EQ(a.MemoryBytes(), string_only);
    }
  }
}

TEST(KeyValueTest, ABlockEmptiedByAWriteGoesAtTheWriterAndTheReceiver) {
  // "k" holds a string and a list (a SET and an LINSERT, concurrent); the list's last
  // element goes while the string keeps the key alive: the writer and the receiver of
  // that pop both free the emptied block (equal replicas report equal memory), and so
  // does a later SET whose dots are past the context's vector (the few-dot merge).
  Keyspace a(kA);
  Keyspace b(kB);
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("z", "0", 1, d); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "1", 1, d); });
  Keyspace push = b.NewDelta();
  b.LInsert("k", 0, "x", &push);
  std::string error;
  ASSERT_TRUE(a.MergeEncoded(push.Encode(), &error)) << error;
  ASSERT_TRUE(a.Find("k")->held & KeyValue::kHeldList);
  ASSERT_TRUE(a.Find("k")->HasRareParts());
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.LEraseRange("k", 0, 1, d); });
  for (Keyspace* ks : {&a, &b}) {
    ASSERT_NE(ks->Find("k"), nullptr);
    EXPECT_EQ(ks->Find("k")->held & KeyValue::kHeldRare, 0);
    EXPECT_FALSE(ks->Find("k")->HasRareParts());
    EXPECT_TRUE(ks->HeldExact());
  }
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.MemoryBytes(), b.MemoryBytes());
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "2", 2, d); });
  EXPECT_FALSE(a.Find("k")->HasRareParts());
  EXPECT_FALSE(b.Find("k")->HasRareParts());
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.MemoryBytes(), b.MemoryBytes());
  // The area is the string part's 120 bytes (the set part's is 120 too): a node of the key
  // map, the 32-byte key and this, fits 3 cache lines
  // (KeyspaceTest.EveryKeyNodeStartsOnACacheLine).
  static_assert(sizeof(KeyValue) <= 152, "a key's value stays compact");
}

// Both replicas hold the same state, exact bits, the same memory and `held` == bits.
void ExpectEqualReplicas(const Keyspace& a, const Keyspace& b, const char* key, uint16_t bits) {
  for (const Keyspace* ks : {&a, &b}) {
    const KeyValue* v = ks->Find(key);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->held, bits);
    EXPECT_TRUE(v->HeldExact());
    EXPECT_TRUE(ks->HeldExact());
  }
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.Encode(), b.Encode());
  EXPECT_EQ(a.Find(key)->HasRareParts(), b.Find(key)->HasRareParts());
  EXPECT_EQ(a.MemoryBytes(), b.MemoryBytes());
}

TEST(KeyValueTest, ABlockWithoutASpilledPartCarriesNoRoomForOne) {
  // A key with a TTL has a block; the string or set part that a type conflict spills into
  // it is allocated apart, so the TTL alone does not pay for the larger of the two parts:
  // the spilled set then costs at least its own size.
  Keyspace a(kA);
  a.Set("t", "v", 1, nullptr);
  a.Expire("t", 1'000'000, nullptr);
  ASSERT_TRUE(a.Find("t")->HasRareParts());
  const size_t with_ttl = a.MemoryBytes();
  Keyspace b(kB);
  Keyspace db = b.NewDelta();
  b.SAdd("t", "m", &db);
  std::string error;
  ASSERT_TRUE(a.MergeEncoded(db.Encode(), &error)) << error;
  ASSERT_EQ(a.Find("t")->held & KeyValue::kHeldSet, KeyValue::kHeldSet);
  EXPECT_TRUE(a.Find("t")->StrInline());
  EXPECT_GE(a.MemoryBytes(), with_ttl + sizeof(SetStore));
}

TEST(KeyValueTest, AnSremThatEmptiesASetBesideAStringFreesTheBlockAtTheWriterToo) {
  // A deleted counter keeps its reset slots, so its string part keeps the area and a set
  // added later goes into the block. The SREM that empties that set frees the block at the
  // writer as its merge does at the receiver: equal replicas report equal memory.
  Keyspace a(kA);
  Keyspace b(kB);
  int64_t n = 0;
  WriteAndShip(a, b, [&](Keyspace& ks, Keyspace* d) { ks.IncrBy("c", 5, &n, d); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ASSERT_TRUE(ks.Del("c", d)); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.SAdd("c", "m", d); });
  ASSERT_TRUE(a.Find("c")->HasRareParts());
  ExpectEqualReplicas(a, b, "c", KeyValue::kHeldStr | KeyValue::kHeldSet);
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.SRem("c", "m", d); });
  EXPECT_FALSE(a.Find("c")->HasRareParts());
  ExpectEqualReplicas(a, b, "c", KeyValue::kHeldStr);

  // The other way round: the set holds the area (its SADD came first at A), the string
  // arrives in the block, and A's SREM empties the area's set.
  Keyspace x(kA);
  Keyspace y(kB);
  Keyspace dx = x.NewDelta();
  x.SAdd("k", "m", &dx);
  Keyspace dy = y.NewDelta();
  y.Set("k", "v", 1, &dy);
  std::string error;
  ASSERT_TRUE(x.MergeEncoded(dy.Encode(), &error)) << error;
  ASSERT_TRUE(y.MergeEncoded(dx.Encode(), &error)) << error;
  ASSERT_TRUE(x.Find("k")->HasRareParts());
  WriteAndShip(x, y, [](Keyspace& ks, Keyspace* d) { ks.SRem("k", "m", d); });
  EXPECT_FALSE(x.Find("k")->HasRareParts());
  ExpectEqualReplicas(x, y, "k", KeyValue::kHeldStr);
}

TEST(KeyValueTest, ATypeConflictPutsTheSecondPartInTheBlockAndBack) {
  // "k" is a string at A and, concurrently, a set at B: each replica's area holds the part
  // it wrote first, the other one arrives in the block; both are visible as the string
  // (the type order of keyspace.h). Then A adds the member again (a new dot) while B
  // deletes the key: the string goes and the member stays (add wins), so A's set moves
  // from the block into the area and both free their blocks.
  Keyspace a(kA);
  Keyspace b(kB);
  Keyspace da = a.NewDelta();
  a.Set("k", "v", 1, &da);
  Keyspace db = b.NewDelta();
  b.SAdd("k", "m1", &db);
  EXPECT_TRUE(a.Find("k")->StrInline());
  EXPECT_FALSE(b.Find("k")->StrInline());
  EXPECT_FALSE(a.Find("k")->HasRareParts());
  EXPECT_FALSE(b.Find("k")->HasRareParts());
  std::string error;
  ASSERT_TRUE(a.MergeEncoded(db.Encode(), &error)) << error;
  ASSERT_TRUE(b.MergeEncoded(da.Encode(), &error)) << error;
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldStr | KeyValue::kHeldSet);
  EXPECT_TRUE(a.Find("k")->StrInline());   // the set in the block
  EXPECT_FALSE(b.Find("k")->StrInline());  // the string in the block
  EXPECT_TRUE(a.Find("k")->HasRareParts());
  EXPECT_TRUE(b.Find("k")->HasRareParts());
  for (const Keyspace* ks : {&a, &b}) {
    EXPECT_EQ(ks->TypeOf("k"), KeyValue::Type::kString);
    EXPECT_EQ(ks->Get("k"), "v");
    EXPECT_EQ(ks->Members("k"), std::vector<std::string>{"m1"});
  }
  // Copies, moves and an encode/decode round trip keep both parts where they are.
  KeyValue copy = *b.Find("k");
  EXPECT_TRUE(copy == *b.Find("k"));
  EXPECT_TRUE(copy == *a.Find("k"));
  KeyValue moved = std::move(copy);
  EXPECT_TRUE(moved == *a.Find("k"));
  KeyValue assigned = *a.Find("k");
  assigned = std::move(moved);
  EXPECT_FALSE(assigned.StrInline());
  EXPECT_TRUE(assigned == *a.Find("k"));
  std::optional<Keyspace> back = Keyspace::Decode(b.Encode(), kB, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_TRUE(*back == b);
  EXPECT_TRUE(back->HeldExact());
  EXPECT_EQ(back->Encode(), b.Encode());
  EXPECT_EQ(back->MemoryBytes(), b.MemoryBytes());

  da = a.NewDelta();
  a.SAdd("k", "m1", &da);
  db = b.NewDelta();
  ASSERT_TRUE(b.Del("k", &db));
  ASSERT_TRUE(a.MergeEncoded(db.Encode(), &error)) << error;
  ASSERT_TRUE(b.MergeEncoded(da.Encode(), &error)) << error;
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldSet);
  for (const Keyspace* ks : {&a, &b}) {
    EXPECT_FALSE(ks->Find("k")->StrInline());
    EXPECT_FALSE(ks->Find("k")->HasRareParts());
    EXPECT_EQ(ks->Members("k"), std::vector<std::string>{"m1"});
    EXPECT_EQ(ks->TypeOf("k"), KeyValue::Type::kSet);
  }

  // A SET over the set: the string takes the area at both, nothing in a block.
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "w", 3, d); });
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldStr);
  EXPECT_TRUE(a.Find("k")->StrInline());
  EXPECT_TRUE(b.Find("k")->StrInline());
  EXPECT_FALSE(a.Find("k")->HasRareParts());
  EXPECT_FALSE(b.Find("k")->HasRareParts());
}

TEST(KeyValueTest, AConflictOnAKeyWithATtlKeepsTheBlockForTheTtl) {
  // The block holds the TTL and the spilled set; the set's removal leaves the TTL, and a
  // SET (no KEEPTTL) the string alone, with no block.
  Keyspace a(kA);
  Keyspace b(kB);
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "v", 1, d); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Expire("k", 1'000'000, d); });
  WriteAndShip(b, a, [](Keyspace& ks, Keyspace* d) { ks.SAdd("k", "m", d); });
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldStr | KeyValue::kHeldSet | KeyValue::kHeldExpiry);
  WriteAndShip(b, a, [](Keyspace& ks, Keyspace* d) { ks.SRem("k", "m", d); });
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldStr | KeyValue::kHeldExpiry);
  EXPECT_TRUE(a.Find("k")->HasRareParts());
  EXPECT_TRUE(b.Find("k")->HasRareParts());
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "w", 2, d); });
  ExpectEqualReplicas(a, b, "k", KeyValue::kHeldStr);
  EXPECT_FALSE(a.Find("k")->HasRareParts());
  EXPECT_FALSE(b.Find("k")->HasRareParts());
}

TEST(KeyValueTest, SetAndDelClearEveryPartTheirWay) {
  Keyspace a(kA);
  Keyspace b(kB);
  // SET ... KEEPTTL keeps the TTL; a plain SET clears it (and frees the block).
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("t", "1", 1, d); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Expire("t", 1'000'000, d); });
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("t", "2", 2, d, /*keep_ttl=*/true); });
  ExpectEqualReplicas(a, b, "t", KeyValue::kHeldStr | KeyValue::kHeldExpiry);
  EXPECT_EQ(a.Deadline("t"), 1'000'000);
  EXPECT_EQ(b.Get("t"), "2");
  WriteAndShip(a, b, [](Keyspace& ks, Keyspace* d) { ks.Set("t", "3", 3, d); });
  ExpectEqualReplicas(a, b, "t", KeyValue::kHeldStr);
  EXPECT_EQ(a.Deadline("t"), std::nullopt);
  EXPECT_FALSE(a.Find("t")->HasRareParts());
  EXPECT_FALSE(b.Find("t")->HasRareParts());

  // A SET over an INCRBY counter: the string replaces the count.
  int64_t n = 0;
  WriteAndShip(a, b, [&](Keyspace& ks, Keyspace* d) { ks.IncrBy("c", 5, &n, d); });
  EXPECT_EQ(b.Get("c"), "5");
  WriteAndShip(b, a, [](Keyspace& ks, Keyspace* d) { ks.Set("c", "x", 4, d); });
  ExpectEqualReplicas(a, b, "c", KeyValue::kHeldStr);
  EXPECT_EQ(a.Get("c"), "x");
  EXPECT_EQ(a.IncrBy("c", 1, &n, nullptr), IncrStatus::kNotInteger);

  // A DEL of a counter: gone at both; an INCRBY after it counts from zero.
  WriteAndShip(a, b, [&](Keyspace& ks, Keyspace* d) { ks.IncrBy("d", 7, &n, d); });
  WriteAndShip(b, a, [](Keyspace& ks, Keyspace* d) { ASSERT_TRUE(ks.Del("d", d)); });
  for (const Keyspace* ks : {&a, &b}) {
    EXPECT_EQ(ks->Get("d"), std::nullopt);
    EXPECT_EQ(ks->TypeOf("d"), KeyValue::Type::kNone);
    EXPECT_TRUE(ks->HeldExact());
  }
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.MemoryBytes(), b.MemoryBytes());
  WriteAndShip(a, b, [&](Keyspace& ks, Keyspace* d) { ks.IncrBy("d", 2, &n, d); });
  EXPECT_EQ(n, 2);
  EXPECT_EQ(b.Get("d"), "2");
  ExpectEqualReplicas(a, b, "d", KeyValue::kHeldStr);
}

TEST(KeyValueTest, ADecodedKeyWithoutRarePartsHasNoBlock) {
  // A full state whose header lists a part (the TTL of "t") decodes every key's copy of
  // it; a key whose part is empty keeps no block.
  Keyspace a(kA);
  a.Set("s", "v", 1, nullptr);
  a.Set("t", "v", 1, nullptr);
  a.Expire("t", 1'000'000, nullptr);
  std::string error;
  std::optional<Keyspace> back = Keyspace::Decode(a.Encode(), kA, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_FALSE(back->Find("s")->HasRareParts());
  EXPECT_TRUE(back->Find("t")->HasRareParts());
  EXPECT_TRUE(*back == a);
  EXPECT_EQ(back->MemoryBytes(), a.MemoryBytes());
}

}  // namespace
}  // namespace crdt
