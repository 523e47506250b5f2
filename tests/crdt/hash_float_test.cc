// HINCRBYFLOAT counters of hash fields (or_map.h, the kPartHashFloat part of a KeyValue):
// concurrent increments add up, HSET/HDEL/DEL cancel exactly what they observed, every
// read sees the merged value, and the encoding (a part of its own in the second header
// byte) round-trips and rejects malformed bytes. The lattice laws and convergence against
// the model run in the typed suites (HashFloatTraits, properties.h).
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/keyspace.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

using Items = std::vector<std::pair<std::string, std::string>>;

std::string Incr(Keyspace& ks, const std::string& field, long double by, Keyspace* delta,
                 FloatStatus want = FloatStatus::kOk) {
  std::string value;
  EXPECT_EQ(ks.HIncrByFloat("h", field, by, &value, delta), want) << field;
  return value;
}

std::optional<std::string> Field(const Keyspace& ks, const std::string& field) {
  const KeyValue* v = ks.Find("h");
  return v ? v->hash().Get(field) : std::nullopt;
}

// Two regions that both saw HSET h f 1.0.
struct TwoRegions {
  Keyspace a{kA}, b{kB};
  TwoRegions() {
    Keyspace d = a.NewDelta();
    a.HSet("h", "f", "1.0", 1, &d);
    b.Merge(d);
  }
};

TEST(HashFloatTest, ConcurrentIncrementsAddUp) {
  TwoRegions r;
  Keyspace da = r.a.NewDelta(), db = r.b.NewDelta();
  EXPECT_EQ(Incr(r.a, "f", 1.5L, &da), "2.5");
  EXPECT_EQ(Incr(r.b, "f", 2.0L, &db), "3");
  r.a.Merge(db);
  r.b.Merge(da);
  EXPECT_EQ(r.a, r.b);
  EXPECT_EQ(Field(r.a, "f"), "4.5");
  EXPECT_EQ(r.a.DumpAll(), "h hash {f: 4.5}\n");
  EXPECT_EQ(r.a.Encode(), r.b.Encode());
}

TEST(HashFloatTest, FloatOnlyFieldsAreFieldsForEveryRead) {
  Keyspace ks(kA);
  ks.HSet("h", "a", "x", 1, nullptr);
  EXPECT_EQ(Incr(ks, "b", 0.1L, nullptr), "0.1");
  EXPECT_EQ(Incr(ks, "b", 0.2L, nullptr), "0.3");
  EXPECT_EQ(Incr(ks, "c", 1e20L, nullptr), "100000000000000000000");
  EXPECT_EQ(Incr(ks, "z", 0, nullptr), "0");  // as in Redis: the field exists, holding 0
  const HashStore& h = ks.Find("h")->hash();
  EXPECT_EQ(h.size(), 4u);
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h.Items(),
            (Items{{"a", "x"}, {"b", "0.3"}, {"c", "100000000000000000000"}, {"z", "0"}}));
  EXPECT_EQ(ks.TypeOf("h"), Keyspace::Type::kHash);
  // HSET of a float-only field is not a new field.
  EXPECT_FALSE(ks.HSet("h", "b", "7", 2, nullptr));
  EXPECT_EQ(Field(ks, "b"), "7");
}

TEST(HashFloatTest, RefusesWhatRedisRefuses) {
  Keyspace ks(kA);
  ks.HSet("h", "s", "abc", 1, nullptr);
  EXPECT_EQ(Incr(ks, "s", 1, nullptr, FloatStatus::kNotFloat), "");
  EXPECT_EQ(Incr(ks, "f", 1e4932L, nullptr), FormatLongDouble(1e4932L));
  EXPECT_EQ(Incr(ks, "f", 1e4932L, nullptr, FloatStatus::kNanOrInfinity), "");
  EXPECT_EQ(Field(ks, "f"), FormatLongDouble(1e4932L));  // unchanged
}

// An HSET cancels the increments it observed; one made concurrently elsewhere survives it.
TEST(HashFloatTest, HSetCancelsObservedIncrementsOnly) {
  TwoRegions r;
  Keyspace d1 = r.a.NewDelta();
  Incr(r.a, "f", 1.5L, &d1);
  r.b.Merge(d1);
  Keyspace da = r.a.NewDelta(), db = r.b.NewDelta();
  Incr(r.a, "f", 2.25L, &da);        // concurrent with the HSET
  r.b.HSet("h", "f", "10", 5, &db);  // observed 1.0 + 1.5
  r.a.Merge(db);
  r.b.Merge(da);
  EXPECT_EQ(r.a, r.b);
  EXPECT_EQ(Field(r.a, "f"), "12.25");
}

TEST(HashFloatTest, HDelAndDelCancelObservedIncrementsOnly) {
  for (bool whole_key : {false, true}) {
    SCOPED_TRACE(whole_key ? "DEL" : "HDEL");
    TwoRegions r;
    Keyspace d1 = r.a.NewDelta();
    Incr(r.a, "f", 3, &d1);
    r.b.Merge(d1);
    Keyspace da = r.a.NewDelta(), db = r.b.NewDelta();
    Incr(r.a, "f", 0.5L, &da);
    if (whole_key) {
      EXPECT_TRUE(r.b.Del("h", &db));
    } else {
      EXPECT_TRUE(r.b.HDel("h", "f", &db));
    }
    EXPECT_EQ(r.b.TypeOf("h"), Keyspace::Type::kNone);
    r.a.Merge(db);
    r.b.Merge(da);
    EXPECT_EQ(r.a, r.b);
    EXPECT_EQ(Field(r.a, "f"), "0.5");  // only the concurrent increment, counted from 0
    Keyspace again = r.a.NewDelta();
    EXPECT_TRUE(r.a.HDel("h", "f", &again));
    r.b.Merge(again);
    EXPECT_EQ(r.b.TypeOf("h"), Keyspace::Type::kNone);
    EXPECT_FALSE(r.b.HDel("h", "f", nullptr));
  }
}

// HINCRBY on a field with float increments joins them while the value reads as an integer.
TEST(HashFloatTest, HIncrByOnFloatIncrements) {
  Keyspace ks(kA);
  Incr(ks, "f", 1.5L, nullptr);
  int64_t v = 0;
  EXPECT_EQ(ks.HIncrBy("h", "f", 1, &v, nullptr), IncrStatus::kNotInteger);
  Incr(ks, "f", 0.5L, nullptr);
  EXPECT_EQ(ks.HIncrBy("h", "f", 3, &v, nullptr), IncrStatus::kOk);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(Field(ks, "f"), "5");
  EXPECT_EQ(ks.HIncrBy("h", "f", INT64_MAX, &v, nullptr), IncrStatus::kOutOfRange);
}

// HINCRBY 0 on a field with float increments is live, as INCRBY 0 (pn_counter.h): a
// concurrent HDEL leaves the field at 0, a concurrent HSET 25 gives 25; on a string with
// INCRBYFLOAT increments likewise.
TEST(HashFloatTest, ZeroStepOnFloatIncrementsIsLive) {
  for (bool hdel : {true, false}) {
    SCOPED_TRACE(hdel ? "HDEL" : "HSET");
    Keyspace a(kA), b(kB);
    Keyspace d1 = a.NewDelta();
    Incr(a, "f", 2, &d1);
    std::string sv;
    ASSERT_EQ(a.IncrByFloat("s", 2, &sv, &d1), FloatStatus::kOk);
    b.Merge(d1);
    Keyspace da = a.NewDelta(), db = b.NewDelta();
    int64_t v = -1;
    EXPECT_EQ(a.HIncrBy("h", "f", 0, &v, &da), IncrStatus::kOk);
    EXPECT_EQ(v, 2);
    v = -1;
    EXPECT_EQ(a.IncrBy("s", 0, &v, &da), IncrStatus::kOk);
    EXPECT_EQ(v, 2);
    EXPECT_FALSE(da.Find("h")->hash().Find("f")->counter.empty());  // the step is in the effect
    if (hdel) {
      EXPECT_TRUE(b.HDel("h", "f", &db));
      EXPECT_TRUE(b.Del("s", &db));
    } else {
      b.HSet("h", "f", "25", 5, &db);
      b.Set("s", "25", 5, &db);
    }
    a.Merge(db);
    b.Merge(da);
    EXPECT_EQ(a, b);
    EXPECT_EQ(Field(a, "f"), hdel ? "0" : "25");
    EXPECT_EQ(a.Get("s"), hdel ? "0" : "25");
  }
}

TEST(HashFloatTest, EncodingIsAPartOfItsOwn) {
  Keyspace ks(kA);
  ks.HSet("h", "f", "1", 1, nullptr);
  const std::string before = ks.Encode();
  EXPECT_EQ(before[0] & KeyValue::kPartsMore, 0);  // no float counter: the old encoding
  Incr(ks, "g", 0.1L, nullptr);
  Incr(ks, "f", -2.5L, nullptr);
  const std::string bytes = ks.Encode();
  ASSERT_NE(bytes[0] & KeyValue::kPartsMore, 0);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), KeyValue::kPartHashFloat >> 8);
  std::string error;
  std::optional<Keyspace> back = Keyspace::Decode(bytes, kA, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, ks);
  EXPECT_EQ(back->Encode(), bytes);
  EXPECT_EQ(back->DumpAll(), "h hash {f: -1.5, g: 0.1}\n");
  Keyspace merged(kB);
  ASSERT_TRUE(merged.MergeEncoded(bytes, &error)) << error;
  EXPECT_EQ(merged.DumpAll(), ks.DumpAll());
}

// Hand-made keyspaces with one key "h": an empty string and set, one hash field "f" holding
// "1", then the float counters written by `floats`.
template <typename F>
std::string KeyspaceWithFloats(bool delta, F floats) {
  Encoder enc;
  enc.PutByte(static_cast<uint8_t>((delta ? 1 : 0) | KeyValue::kPartsMore));
  enc.PutByte(static_cast<uint8_t>(KeyValue::kPartHashFloat >> 8));
  enc.PutVarint(1);
  enc.PutBytes("h");
  enc.PutVarint(0);  // string: no writes
  enc.PutVarint(0);  // string counter
  enc.PutVarint(0);  // set
  enc.PutVarint(0);  // hash fields
  floats(&enc);
  enc.PutVarint(0);  // causal context
  enc.PutVarint(0);
  return enc.Release();
}

// A float counter with one slot of kA: `seq` increments from `start`, total 0.5, no cut.
void Counter(Encoder* enc, uint64_t seq, uint64_t start) {
  enc->PutVarint(1);
  enc->PutVarint(kA);
  enc->PutVarint(seq);
  enc->PutVarint(start);
  enc->PutByte(0);  // total 0.5: sign, 64-bit mantissa, binary exponent
  enc->PutVarint(uint64_t{1} << 63);
  enc->PutSigned(0);
  enc->PutVarint(0);  // cut_seq
  enc->PutByte(0);    // cut_total 0
  enc->PutVarint(0);
  enc->PutSigned(0);
}

TEST(HashFloatTest, MalformedFloatCountersAreRejected) {
  auto field = [](Encoder* enc, const std::string& name, uint64_t seq, uint64_t start) {
    enc->PutBytes(name);
    Counter(enc, seq, start);
  };
  for (bool delta : {false, true}) {
    SCOPED_TRACE(delta ? "delta" : "state");
    const std::string good = KeyspaceWithFloats(delta, [&](Encoder* e) {
      e->PutVarint(2);
      field(e, "a", 2, 0);
      field(e, "b", 1, 0);
    });
    std::string error;
    std::optional<Keyspace> ks = Keyspace::Decode(good, kA, &error);
    ASSERT_TRUE(ks) << error;
    EXPECT_EQ(ks->DumpAll(), "h hash {a: 0.5, b: 0.5}\n");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"unsorted", KeyspaceWithFloats(delta,
                                        [&](Encoder* e) {
                                          e->PutVarint(2);
                                          field(e, "b", 1, 0);
                                          field(e, "a", 1, 0);
                                        })},
        {"duplicate", KeyspaceWithFloats(delta,
                                         [&](Encoder* e) {
                                           e->PutVarint(2);
                                           field(e, "a", 1, 0);
                                           field(e, "a", 1, 0);
                                         })},
        {"no slots", KeyspaceWithFloats(delta,
                                        [&](Encoder* e) {
                                          e->PutVarint(1);
                                          e->PutBytes("a");
                                          e->PutVarint(0);
                                        })},
        {"start past seq", KeyspaceWithFloats(delta,
                                              [&](Encoder* e) {
                                                e->PutVarint(1);
                                                field(e, "a", 1, 5);
                                              })},
        {"huge count", KeyspaceWithFloats(delta, [&](Encoder* e) { e->PutVarint(1u << 30); })},
        {"truncated", good.substr(0, good.size() - 3)},
    };
    for (const auto& [what, bytes] : bad) {
      SCOPED_TRACE(what);
      EXPECT_FALSE(Keyspace::Decode(bytes, kA, &error));
      EXPECT_FALSE(error.empty());
      Keyspace target(kA);
      target.HSet("x", "f", "1", 1, nullptr);
      const std::string before = target.Encode();
      error.clear();
      EXPECT_FALSE(target.MergeEncoded(bytes, &error));
      EXPECT_FALSE(error.empty());
      EXPECT_EQ(target.Encode(), before);  // unchanged
    }
  }
}

}  // namespace
}  // namespace crdt
