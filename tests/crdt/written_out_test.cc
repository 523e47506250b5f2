// A delta reset with an `out` string (Keyspace::ResetDelta): a one-key write (Set on a key
// of the string alone, IncrBy, SAdd, SRem) writes its effect's bytes there straight, without
// the delta. Those bytes must be the ones the delta would encode (EncodeTo), also when a
// command writes twice (the delta takes the first write back: SADD or SREM of two members,
// two INCRBYs, SET..EX), merges into the delta (taken back first) or is not taken (cut).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kC = MakeReplicaId(2, 1);

// Two replicas of A with the same history: `fast` records each command with ResetDelta's
// `out` (as KeyspaceStore::RecordOne does), `built` through its delta and EncodeTo. Each
// command's effect bytes (after a prefix already in the string) and the states must be
// equal. A third replica C writes the same keys concurrently (merged into both and from
// them), so that registers hold concurrent writes, members several tags and counters
// other replicas' slots; a key of one type is sometimes written as the other (the general
// path), with a TTL, or an INCRBYFLOAT's float counter.
TEST(WrittenOutTest, OneKeyWritesWriteTheBytesTheirDeltaEncodes) {
  for (uint64_t seed : crdt_test::TestSeeds(8, 0x5e7)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    Keyspace fast(kA);
    Keyspace built(kA);
    Keyspace c(kC);
    Keyspace fast_delta = fast.NewDelta();
    Keyspace built_delta = built.NewDelta();
    // String keys and set keys; one in ten writes picks a key of the other type.
    const std::vector<std::string> strings = {"s0", "s1", "s2", std::string(200, 'S')};
    const std::vector<std::string> sets = {"t0", "t1", "t2", std::string(200, 'T')};
    const std::vector<std::string> members = {"a", "b", "c", "d", std::string(130, 'm')};
    auto key_of = [&](bool set) { return rng.Pick(set != rng.OneIn(10) ? sets : strings); };
    auto member = [&] { return rng.Pick(members); };
    auto value = [&]() -> std::string {
      switch (rng.Uniform(8)) {
        case 0:
          return "x";
        case 1:
          return std::string(300, 'v');  // past the encoder's inline buffer
        case 2:
          return "7";
        default:
          return std::to_string(rng.Range(-1000, 1000));
      }
    };
    auto step = [&]() -> int64_t {
      if (rng.OneIn(30)) return rng.OneIn(2) ? INT64_MAX : INT64_MIN;  // refused, or big
      return rng.Range(-50, 50);
    };
    int written_out[4] = {};  // commands 0 to 3 (one write each) written out
    for (int i = 0; i < 3000; ++i) {
      SCOPED_TRACE(testing::Message() << "step=" << i);
      const int64_t ts = i;
      if (rng.OneIn(6)) {  // C writes; merged into both A replicas, sometimes A into C
        Keyspace d = c.NewDelta();
        switch (rng.Uniform(4)) {
          case 0:
            c.Set(key_of(false), value(), ts, &d);
            break;
          case 1: {
            int64_t n = 0;
            c.IncrBy(key_of(false), step(), &n, &d);
            break;
          }
          case 2:
            c.SAdd(key_of(true), member(), &d);
            break;
          default:
            c.SRem(key_of(true), member(), &d);
        }
        fast.Merge(d);
        built.Merge(d);
        if (rng.OneIn(3)) c.Merge(built);
        continue;
      }
      std::string fast_out = "prefix";
      std::string built_out = "prefix";
      fast.ResetDelta(&fast_delta, &fast_out);
      built.ResetDelta(&built_delta);
      // One command: the same writes on both, each into its delta.
      const uint64_t command = rng.Uniform(14);
      // Commands 2 to 5 write sets, the others strings.
      const bool set = (command >= 2 && command <= 5) || command == 10;
      const std::string k = key_of(set);
      const std::string k2 = key_of(set);
      const std::string m = member();
      const std::string m2 = member();
      const std::string v = value();
      const int64_t by = step();
      const bool expire = rng.OneIn(5);
      const bool float_on_k = rng.OneIn(20);
      const int64_t by2 = step();
      // Command 13's: a write of C (not merged into A's states), merged into A's delta as a
      // Keyspace or as its bytes.
      Keyspace c_delta = c.NewDelta();
      if (command == 13) c.Set(k2, value(), ts, &c_delta);
      const std::string c_bytes = c_delta.Encode();
      const bool by_bytes = rng.OneIn(2);
      auto run = [&](Keyspace& ks, Keyspace* delta) {
        int64_t n = 0;
        std::string f;
        switch (command) {
          case 0:
            ks.Set(k, v, ts, delta);
            break;
          case 1:
            ks.IncrBy(k, by, &n, delta);
            break;
          case 2:
            ks.SAdd(k, m, delta);
            break;
          case 3:
            ks.SRem(k, m, delta);
            break;
          case 4:  // SADD k m m2: the second write takes the first back
            ks.SAdd(k, m, delta);
            ks.SAdd(k, m2, delta);
            break;
          case 5:  // SMOVE k k2 m
            ks.SRem(k, m, delta);
            ks.SAdd(k2, m, delta);
            break;
          case 6:  // SET k v EX: a write that does not write out, after one that does
            ks.Set(k, v, ts, delta);
            if (expire) ks.Expire(k, 1000000 + ts, delta);
            break;
          case 7:  // INCRBY then SET (MULTI)
            ks.IncrBy(k, by, &n, delta);
            ks.Set(k2, v, ts, delta);
            break;
          case 8:  // a float counter's key: its SET and INCRBY never write out
            ks.IncrByFloat(float_on_k ? k : "f", 1.5L, &f, delta);
            break;
          case 9:  // a write then DEL of another key
            ks.Set(k, v, ts, delta);
            ks.Del(k2, delta);
            break;
          case 10:  // SREM k m m2 (on a set key): the second takes the first back
            ks.SRem(k, m, delta);
            ks.SRem(k, m2, delta);
            break;
          case 11:  // two INCRBYs on one key in one command (MULTI)
            ks.IncrBy(k, by, &n, delta);
            ks.IncrBy(k, by2, &n, delta);
            break;
          case 12:  // SET k v KEEPTTL (a key with a TTL takes the general path)
            ks.Set(k, v, ts, delta, /*keep_ttl=*/true);
            break;
          default:  // SET, then a delta of C merged into the delta (taken back first)
            ks.Set(k, v, ts, delta);
            if (by_bytes) {
              std::string error;
              ASSERT_TRUE(delta->MergeEncoded(c_bytes, &error)) << error;
            } else {
              delta->Merge(c_delta);
            }
        }
      };
      run(fast, &fast_delta);
      run(built, &built_delta);
      ASSERT_EQ(fast_delta.empty(), built_delta.empty());
      if (!built_delta.empty() && rng.OneIn(20)) {  // not taken: the bytes are cut
        fast.ResetDelta(&fast_delta);
        EXPECT_EQ(fast_out, "prefix");
        continue;
      }
      if (command < 4 && fast_out != "prefix") ++written_out[command];
      if (!built_delta.empty()) {
        fast_delta.TakeEncoding(&fast_out);
        built_delta.EncodeTo(&built_out);
      }
      ASSERT_EQ(fast_out, built_out) << "command " << command;
      if (built_out.size() > 6 && rng.OneIn(4)) {
        std::string error;
        ASSERT_TRUE(c.MergeEncoded(std::string_view(built_out).substr(6), &error)) << error;
      }
    }
    EXPECT_EQ(fast.Encode(), built.Encode());
    EXPECT_EQ(fast.DumpAll(), built.DumpAll());
    for (int n : written_out) EXPECT_GT(n, 20);  // each write's straight bytes were compared
  }
}

// A store's command that does not write, after ResetDelta(out) (KeyspaceStore::RecordOne
// resets its delta with the effect string before each command): a refused INCRBY and an
// SREM of a member not there leave *out as it was, a write not taken is cut, and the next
// command's write still writes the bytes its delta encodes.
TEST(WrittenOutTest, CommandsThatDoNotWriteLeaveTheEffectStringAsItWas) {
  Keyspace fast(kA);
  Keyspace built(kA);
  for (Keyspace* ks : {&fast, &built}) {
    ks->Set("s", "x", 1, nullptr);
    ks->SAdd("t", "a", nullptr);
  }
  Keyspace delta = fast.NewDelta();
  std::string out = "prefix";
  int64_t n = 0;
  fast.ResetDelta(&delta, &out);
  EXPECT_EQ(fast.IncrBy("s", 1, &n, &delta), IncrStatus::kNotInteger);
  EXPECT_TRUE(delta.empty());
  EXPECT_EQ(out, "prefix");
  fast.ResetDelta(&delta, &out);
  EXPECT_FALSE(fast.SRem("t", "absent", &delta));
  EXPECT_EQ(out, "prefix");
  fast.ResetDelta(&delta, &out);
  built.SAdd("t", "b", nullptr);
  EXPECT_TRUE(fast.SAdd("t", "b", &delta));  // written out, then not taken: cut
  EXPECT_NE(out, "prefix");
  fast.ResetDelta(&delta, &out);
  EXPECT_EQ(out, "prefix");
  EXPECT_TRUE(delta.empty());
  Keyspace built_delta = built.NewDelta();
  fast.Set("s", "y", 2, &delta);
  built.Set("s", "y", 2, &built_delta);
  delta.TakeEncoding(&out);
  EXPECT_EQ(out, "prefix" + built_delta.Encode());
  EXPECT_EQ(fast.Encode(), built.Encode());
}

// A delta holding a written-out write reads as empty to a const reader: encoding it or
// merging from it would drop the write, so both stop the process instead.
TEST(WrittenOutDeathTest, EncodingOrMergingFromAWrittenOutDeltaAborts) {
  Keyspace ks(kA);
  Keyspace delta = ks.NewDelta();
  std::string out;
  ks.ResetDelta(&delta, &out);
  ks.Set("s", "x", 1, &delta);
  ASSERT_FALSE(out.empty());  // written out
  Keyspace other(kC);
  EXPECT_DEATH(other.Merge(delta), "Merge from a delta holding a written-out write");
  EXPECT_DEATH(delta.Encode(), "EncodeTo on a delta holding a written-out write");
}

}  // namespace
}  // namespace crdt
