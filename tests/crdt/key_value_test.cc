// KeyValue's layout: the parts behind the pointer (hash, bounded counter, TTL, float
// counter, HyperLogLog, list, stream) get their block on the first write, keep `held`
// exact, survive copy, move, join and an encode/decode round trip, count in MemoryBytes,
// and go when a SET or a merged SET leaves them empty; a const read of an absent part
// allocates nothing.
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace {

size_t g_allocations = 0;  // every operator new of this binary (single-threaded tests)

}  // namespace

// Counts allocations for ConstReadsOfAbsentPartsAllocateNothing (the whole test binary
// allocates through these; the array forms call them).
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC takes the free() below for a mismatch with the operator new it inlined into a
// caller; here they match (both sides are these replacements).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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

TEST(KeyValueTest, ConstReadsOfAbsentPartsAllocateNothing) {
  Keyspace ks(kA);
  ks.Set("k", "v", 1, nullptr);
  ks.SAdd("s", "m", nullptr);
  const KeyValue* v = ks.Find("k");
  ASSERT_NE(v, nullptr);
  auto read_all = [&]() {
    size_t n = 0;
    n += v->hash().Empty() ? 1 : 0;
    n += v->hash().empty() ? 1 : 0;
    n += v->bc().empty() ? 1 : 0;
    n += v->expiry().Deadline() ? 0 : 1;
    n += v->fc().Live() ? 0 : 1;
    n += v->hll().Present() ? 0 : 1;
    n += v->list().size();
    n += v->stream().Visible() ? 0 : 1;
    n += v->HeldNow();
    n += static_cast<size_t>(v->VisibleType());
    n += v->Parts();
    n += *v == *v ? 1 : 0;
    n += v->HeapBytes();
    n += ks.Deadline("k") ? 0 : 1;
    n += static_cast<size_t>(ks.TypeOf("s"));
    n += ks.List("k") != nullptr ? 1 : 0;
    n += ks.Stream("k") != nullptr ? 1 : 0;
    n += ks.MemoryBytes();
    n += ks.HeldExact() ? 1 : 0;
    return n;
  };
  const size_t warm = read_all();  // builds the shared empty parts once
  const size_t before = g_allocations;
  const size_t again = read_all();
  const size_t after = g_allocations;
  EXPECT_EQ(after, before);
  EXPECT_EQ(again, warm);
  EXPECT_FALSE(v->HasRareParts());
  // The counter sees allocations: a mutable access builds the block.
  KeyValue copy = *v;
  const size_t before_mutable = g_allocations;
  (void)copy.mutable_hash();
  EXPECT_GT(g_allocations, before_mutable);
  EXPECT_TRUE(copy.HasRareParts());
  copy.DropRarePartsIfEmpty();  // held names no part of it
  EXPECT_FALSE(copy.HasRareParts());
}

}  // namespace
}  // namespace crdt
