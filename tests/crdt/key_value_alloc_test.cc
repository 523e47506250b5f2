// KeyValue's const accessors of the parts behind the pointer allocate nothing when the
// value has no block, nor those of the string or set part a value does not hold; merges on a
// key of a type conflict build no block only to free it (or keep it in the merge scratch).
// Its own test binary: it counts allocations (counting_new.h).
#include <cstddef>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "counting_new.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

TEST(KeyValueTest, ConstReadsOfAbsentPartsAllocateNothing) {
  Keyspace ks(kA);
  ks.Set("k", "v", 1, nullptr);
  ks.SAdd("s", "m", nullptr);
  Keyspace other(kB);
  Keyspace d = other.NewDelta();
  other.SAdd("both", "m", &d);
  ks.Set("both", "v", 1, nullptr);
  std::string error;
  ASSERT_TRUE(ks.MergeEncoded(d.Encode(), &error)) << error;
  const KeyValue* v = ks.Find("k");
  const KeyValue* s = ks.Find("s");
  const KeyValue* both = ks.Find("both");
  ASSERT_NE(v, nullptr);
  ASSERT_NE(s, nullptr);
  ASSERT_NE(both, nullptr);
  ASSERT_EQ(both->held, KeyValue::kHeldStr | KeyValue::kHeldSet);
  ASSERT_TRUE(both->HasRareParts());  // the set, in the block
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
    // The string and set parts: the other type's part of a one-type key, and both of a
    // key holding both (a type conflict: one of them in the block).
    for (const KeyValue* x : {v, s, both}) {
      n += x->str().Empty() ? 1 : 0;
      n += x->str().reg.writes().size();
      n += x->set().entry_count();
      n += x->set().Contains("m") ? 1 : 0;
      n += x->StringValue().has_value() ? 1 : 0;
      n += x->HeldNow();
    }
    n += ks.Members("k").size() + ks.Card("s") + ks.Card("both");
    n += ks.Get("s").has_value() ? 1 : 0;
    return n;
  };
  const size_t warm = read_all();  // builds the shared empty parts once
  const size_t before = aasim_test::AllocationCount();
  const size_t again = read_all();
  const size_t after = aasim_test::AllocationCount();
  EXPECT_EQ(after, before);
  EXPECT_EQ(again, warm);
  EXPECT_FALSE(v->HasRareParts());
  // The counter sees allocations: a mutable access builds the block.
  KeyValue copy = *v;
  const size_t before_mutable = aasim_test::AllocationCount();
  (void)copy.mutable_hash();
  EXPECT_GT(aasim_test::AllocationCount(), before_mutable);
  EXPECT_TRUE(copy.HasRareParts());
  copy.DropRarePartsIfEmpty();  // held names no part of it
  EXPECT_FALSE(copy.HasRareParts());
}

using aasim_test::AllocationsOf;

// An effect merged into `to` both ways (MergeEncoded, joined from the bytes, and Merge of
// the decoded keyspace, KeyValue::Join) into copies of it: how many allocations each took,
// and the copies must end equal, with no block behind `key` unless its parts need one.
struct MergedTwoWays {
  size_t encoded = 0;
  size_t decoded = 0;
};
MergedTwoWays MergeTwoWays(const Keyspace& to, const std::string& effect, const char* key,
                           Keyspace::MergeScratch* scratch) {
  MergedTwoWays n;
  std::string error;
  std::optional<Keyspace> decoded = Keyspace::Decode(effect, to.self(), &error);
  EXPECT_TRUE(decoded) << error;
  Keyspace x = to;
  Keyspace y = to;
  n.encoded = AllocationsOf([&] { EXPECT_TRUE(x.MergeEncoded(effect, &error, scratch)) << error; });
  n.decoded = AllocationsOf([&] { y.Merge(*decoded); });
  EXPECT_TRUE(x == y);
  for (const Keyspace* ks : {&x, &y}) {
    const KeyValue* v = ks->Find(key);
    if (v == nullptr) continue;
    EXPECT_TRUE(v->HeldExact());
    const bool both = (v->held & (KeyValue::kHeldStr | KeyValue::kHeldSet)) ==
                      (KeyValue::kHeldStr | KeyValue::kHeldSet);
    EXPECT_EQ(v->HasRareParts(), both || (v->held & KeyValue::kHeldRare) != 0);
  }
  return n;
}

// The encoded delta of write(ks, delta) at ks.
template <typename W>
std::string EffectAt(Keyspace& ks, W write) {
  Keyspace d = ks.NewDelta();
  write(ks, &d);
  return d.Encode();
}

TEST(KeyValueTest, AMergeThatEmptiesTheAreaPartPutsTheOtherOneThereWithoutABlock) {
  // The receiver's "k" holds a set in its area; a SET at B clears the member and writes
  // the string. Joining the set first empties the area, so the string takes it: no block
  // is built for the string and freed again (joined from the bytes, and as a Keyspace).
  Keyspace a(kA);
  Keyspace b(kB);
  std::string error;
  ASSERT_TRUE(
      a.MergeEncoded(EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.SAdd("k", "m", d); }), &error));
  ASSERT_FALSE(a.Find("k")->StrInline());
  Keyspace::MergeScratch scratch;
  const std::string set = EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "v", 1, d); });
  (void)MergeTwoWays(a, set, "k", &scratch);  // the scratch's own first allocations
  MergedTwoWays n = MergeTwoWays(a, set, "k", &scratch);
  EXPECT_EQ(n.encoded, 0u);
  EXPECT_EQ(n.decoded, 0u);

  // The other way round: the area holds the string, and B's transaction deletes it and
  // adds a member (one effect): the string's join empties the area for the set.
  Keyspace c(kA);
  ASSERT_TRUE(c.MergeEncoded(EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.Set("t", "v", 1, d); }),
                             &error));
  ASSERT_TRUE(c.Find("t")->StrInline());
  const std::string del_sadd = EffectAt(b, [](Keyspace& ks, Keyspace* d) {
    ASSERT_TRUE(ks.Del("t", d));
    ks.SAdd("t", "m", d);
  });
  (void)MergeTwoWays(c, del_sadd, "t", &scratch);
  n = MergeTwoWays(c, del_sadd, "t", &scratch);
  // The set's own entry array is its one allocation (inline for one element: none).
  EXPECT_EQ(n.encoded, 0u);
  EXPECT_EQ(n.decoded, 0u);
}

TEST(KeyValueTest, AnSremOfAStringOnlyKeyBuildsNoBlock) {
  // "k" held a string at A and a member at B; A's SET cleared the member, so A's key holds
  // the string alone when B's SREM of the member arrives: nothing of the set to join, and
  // no empty set is put in a block and freed.
  Keyspace a(kA);
  Keyspace b(kB);
  std::string error;
  ASSERT_TRUE(
      a.MergeEncoded(EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.SAdd("k", "m", d); }), &error));
  a.Set("k", "v", 1, nullptr);
  ASSERT_EQ(a.Find("k")->held, KeyValue::kHeldStr);
  ASSERT_FALSE(a.Find("k")->HasRareParts());
  Keyspace::MergeScratch scratch;
  const std::string srem = EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.SRem("k", "m", d); });
  (void)MergeTwoWays(a, srem, "k", &scratch);
  const MergedTwoWays n = MergeTwoWays(a, srem, "k", &scratch);
  EXPECT_EQ(n.encoded, 0u);
  EXPECT_EQ(n.decoded, 0u);
}

TEST(KeyValueTest, TheOneKeyMergeOfAScratchThatDecodedASetBuildsNoBlock) {
  // A two-key delta decodes a set into the scratch's first value; a later one-key effect
  // joined from its bytes must not place a string beside that set (a block the scratch
  // would keep).
  Keyspace a(kA);
  Keyspace b(kB);
  Keyspace::MergeScratch scratch;
  std::string error;
  const std::string first = EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "v", 1, d); });
  ASSERT_TRUE(a.MergeEncoded(first, &error, &scratch)) << error;
  const std::string two_keys = EffectAt(b, [](Keyspace& ks, Keyspace* d) {
    ks.SAdd("a", "m", d);
    ks.Set("b", "w", 2, d);
  });
  ASSERT_TRUE(a.MergeEncoded(two_keys, &error, &scratch)) << error;
  const std::string set = EffectAt(b, [](Keyspace& ks, Keyspace* d) { ks.Set("k", "x", 3, d); });
  EXPECT_EQ(AllocationsOf([&] { ASSERT_TRUE(a.MergeEncoded(set, &error, &scratch)) << error; }),
            0u);
}

}  // namespace
}  // namespace crdt
