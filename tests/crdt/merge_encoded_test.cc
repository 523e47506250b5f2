// Keyspace::MergeEncoded against Merge(*Decode(...)): the effects of SET, INCRBY, SADD,
// SREM and DEL (of a string, a counter or a small set) are joined straight from their
// bytes (no decoded value; a context of a few dots read as a ContextDots, unless the key
// holds other parts), every other effect is decoded first; both must give the keyspace Merge
// gives, and refuse exactly the bytes Decode refuses, with its error text, changing nothing.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

using crdt::IncrStatus;
using crdt::Keyspace;
using crdt::ReplicaId;

constexpr int kReplicas = 3;

ReplicaId Replica(int i) { return crdt::MakeReplicaId(static_cast<uint32_t>(i + 1), 1); }

// One random command at *ks; returns its delta's encoding ("" if it wrote nothing).
// `members`: how many set members and hash fields a key may hold (a DEL of more than
// ContextDots::kMax dots has a context read as a CausalContext).
std::string RandomEffect(Rng* rng, Keyspace* ks, Keyspace* delta, int64_t now, int members = 3) {
  ks->ResetDelta(delta);
  const std::string key = "k" + std::to_string(rng->Uniform(3));
  const std::string member = "m" + std::to_string(rng->Uniform(static_cast<uint64_t>(members)));
  switch (rng->Uniform(8)) {
    case 0:
    case 1:
      ks->Set(key, "v" + std::to_string(rng->Uniform(100)), now, delta);
      break;
    case 2: {
      int64_t v = 0;
      (void)ks->IncrBy(key, rng->Range(-3, 3), &v, delta);
      break;
    }
    case 3:
    case 4:
      ks->SAdd(key, member, delta);
      break;
    case 5:
      ks->SRem(key, member, delta);
      break;
    case 6:
      ks->Del(key, delta);
      break;
    default:
      ks->HSet(key, member, "x", now, delta);
      break;
  }
  EXPECT_TRUE(ks->HeldExact());
  EXPECT_TRUE(delta->HeldExact());
  return delta->empty() ? std::string() : delta->Encode();
}

// The encoded effect of one write at *origin: write(delta) records it in *delta.
template <typename Write>
std::string EffectOf(Keyspace* origin, Keyspace* delta, Write write) {
  origin->ResetDelta(delta);
  write(delta);
  return delta->Encode();
}

// Merges `bytes` into *target both ways; they must agree (result, or error and no change).
void MergeBothWays(Keyspace* target, const std::string& bytes, Keyspace::MergeScratch* scratch) {
  Keyspace expect = *target;
  std::string decode_error;
  std::optional<Keyspace> decoded = Keyspace::Decode(bytes, target->self(), &decode_error);
  std::string merge_error;
  const bool merged = target->MergeEncoded(bytes, &merge_error, scratch);
  ASSERT_EQ(merged, decoded.has_value()) << merge_error << " / " << decode_error;
  if (decoded) {
    expect.Merge(*decoded);
  } else {
    EXPECT_EQ(merge_error, decode_error);
  }
  EXPECT_TRUE(*target == expect);
  EXPECT_TRUE(target->HeldExact());  // the parts each key holds (KeyValue::held)
  EXPECT_TRUE(expect.HeldExact());
  EXPECT_EQ(target->Encode(), expect.Encode());
  EXPECT_EQ(target->DumpAll(), expect.DumpAll());
}

// Every truncation of `good`, good with a byte added, and good with each byte set to edge
// values or with its low bit flipped.
std::vector<std::string> Damaged(const std::string& good) {
  std::vector<std::string> damaged;
  for (size_t n = 0; n < good.size(); ++n) damaged.push_back(good.substr(0, n));
  damaged.push_back(good + '\0');
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char b : {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(b);
      if (bad != good) damaged.push_back(bad);
    }
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 1);
    damaged.push_back(flipped);
  }
  return damaged;
}

// Random commands at three replicas; every effect reaches the others late, shuffled and
// sometimes twice, and also collects in a delta (a merge that keeps empty entries) with the
// replica's own effects. Each merge is checked against Merge(Decode); now and then the
// collected delta, applied to a snapshot of the replica taken when it started collecting,
// must give the replica (which applied the effects one by one); then the replicas must
// converge.
void EffectsJoinAsTheirDecodedKeyspaces(int members, uint64_t seed_base) {
  for (uint64_t seed : TestSeeds(12, seed_base)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> ks;
    std::vector<Keyspace> collected;
    std::vector<Keyspace> snapshot;  // ks[i] when collected[i] started
    for (int i = 0; i < kReplicas; ++i) {
      ks.emplace_back(Replica(i));
      collected.push_back(ks.back().NewDelta());
      snapshot.push_back(ks.back());
    }
    std::vector<std::vector<std::string>> pending(kReplicas);
    Keyspace delta;
    Keyspace::MergeScratch scratch;
    size_t applied = 0;
    // The collected delta applied to the snapshot (encoded and not) gives the replica.
    auto apply_collected = [&](int i, int step) {
      SCOPED_TRACE(testing::Message() << "collected at r" << i << ", step " << step);
      Keyspace by_delta = snapshot[i];
      Keyspace by_bytes = snapshot[i];
      by_delta.Merge(collected[i]);
      std::string error;
      ASSERT_TRUE(by_bytes.MergeEncoded(collected[i].Encode(), &error, &scratch)) << error;
      EXPECT_EQ(by_delta.DumpAll(), ks[i].DumpAll());
      EXPECT_EQ(by_bytes.DumpAll(), ks[i].DumpAll());
      EXPECT_EQ(by_delta.Encode(), ks[i].Encode());  // parts DumpAll hides (a conflict's set)
      EXPECT_EQ(by_bytes.Encode(), ks[i].Encode());
      snapshot[i] = ks[i];
      collected[i] = ks[i].NewDelta();
      ++applied;
    };
    for (int step = 0; step < 400; ++step) {
      const int at = rng.Index(kReplicas);
      if (rng.OneIn(12)) {
        ASSERT_NO_FATAL_FAILURE(apply_collected(at, step));
        continue;
      }
      if (rng.OneIn(3) && !pending[at].empty()) {
        rng.Shuffle(&pending[at]);
        const std::string bytes = pending[at].back();
        if (!rng.OneIn(4)) pending[at].pop_back();  // else delivered again later
        ASSERT_NO_FATAL_FAILURE(MergeBothWays(&ks[at], bytes, &scratch));
        ASSERT_NO_FATAL_FAILURE(MergeBothWays(&collected[at], bytes, &scratch));
        continue;
      }
      const std::string bytes = RandomEffect(&rng, &ks[at], &delta, step, members);
      if (bytes.empty()) continue;
      ASSERT_NO_FATAL_FAILURE(MergeBothWays(&collected[at], bytes, &scratch));
      for (int to = 0; to < kReplicas; ++to) {
        if (to != at) pending[to].push_back(bytes);
      }
    }
    for (int to = 0; to < kReplicas; ++to) {
      for (const std::string& bytes : pending[to]) {
        ASSERT_NO_FATAL_FAILURE(MergeBothWays(&ks[to], bytes, &scratch));
        ASSERT_NO_FATAL_FAILURE(MergeBothWays(&collected[to], bytes, &scratch));
      }
    }
    for (int i = 0; i < kReplicas; ++i) ASSERT_NO_FATAL_FAILURE(apply_collected(i, -1));
    EXPECT_GT(applied, 3u * kReplicas);
    for (int i = 1; i < kReplicas; ++i) EXPECT_EQ(ks[i].DumpAll(), ks[0].DumpAll());
  }
}

TEST(MergeEncodedTest, EffectsJoinAsTheirDecodedKeyspaces) {
  EffectsJoinAsTheirDecodedKeyspaces(/*members=*/3, 0x5e7);
}

// A delta that collects a SET of k (concurrent with m's add, so it removes nothing) and then
// a peer's SREM of m lists m with no dot: applied to a replica holding m, it must remove m,
// as the two effects applied one by one do. (The guard that skips dotless members on a key
// whose set lists nothing must not act on a merge into a delta, which keeps empty entries.)
TEST(MergeEncodedTest, ACollectedSetThenSremRemovesTheMemberFromAReplica) {
  Keyspace adder(Replica(0));
  Keyspace setter(Replica(1));
  Keyspace holder(Replica(2));
  Keyspace delta;
  Keyspace::MergeScratch scratch;
  const std::string add = EffectOf(&adder, &delta, [&](Keyspace* d) { adder.SAdd("k", "m", d); });
  const std::string set =
      EffectOf(&setter, &delta, [&](Keyspace* d) { setter.Set("k", "v", 1, d); });
  const std::string rem = EffectOf(&adder, &delta, [&](Keyspace* d) { adder.SRem("k", "m", d); });
  ASSERT_NO_FATAL_FAILURE(MergeBothWays(&holder, add, &scratch));
  ASSERT_NE(holder.Dump("k"), "(nil)");
  Keyspace one_by_one = holder;
  ASSERT_NO_FATAL_FAILURE(MergeBothWays(&one_by_one, set, &scratch));
  ASSERT_NO_FATAL_FAILURE(MergeBothWays(&one_by_one, rem, &scratch));
  EXPECT_EQ(one_by_one.Dump("k"), "v");
  for (bool encoded : {false, true}) {
    SCOPED_TRACE(encoded ? "encoded" : "decoded");
    Keyspace collected = setter.NewDelta();
    ASSERT_NO_FATAL_FAILURE(MergeBothWays(&collected, set, &scratch));
    ASSERT_NO_FATAL_FAILURE(MergeBothWays(&collected, rem, &scratch));
    Keyspace target = holder;
    if (encoded) {
      std::string error;
      ASSERT_TRUE(target.MergeEncoded(collected.Encode(), &error, &scratch)) << error;
    } else {
      target.Merge(collected);
    }
    EXPECT_EQ(target.DumpAll(), one_by_one.DumpAll());
    // DumpAll shows a conflict key's string only: the encoding shows whether m is left.
    EXPECT_EQ(target.Encode(), one_by_one.Encode());
  }
}

// The fallback of a few-dot context, fixed: concurrent writes of other types leave the
// target's key holding a hash and a set, or a register write, so an SADD's, an SREM's and a
// DEL's one-key effects (contexts of a few dots) take the general join, which must agree
// with Merge(Decode) as the fast one does.
TEST(MergeEncodedTest, FewDotEffectsOnKeysHoldingOtherPartsJoinAsDecoded) {
  Keyspace origin(Replica(0));
  Keyspace target(Replica(1));
  Keyspace delta;
  Keyspace::MergeScratch scratch;
  target.HSet("k", "f", "x", 1, nullptr);
  target.Set("r", "v", 1, nullptr);
  // A dot 1 folds into a context's vector, which no ContextDots reads: the origin's first
  // write is elsewhere, so the effects below carry their dots as a few-dot cloud.
  origin.Set("w", "x", 1, nullptr);
  // One write at the origin, its effect merged into the target both ways.
  auto deliver = [&](auto write) {
    MergeBothWays(&target, EffectOf(&origin, &delta, write), &scratch);
  };
  ASSERT_NO_FATAL_FAILURE(deliver([&](Keyspace* d) { origin.SAdd("k", "m", d); }));
  ASSERT_NO_FATAL_FAILURE(deliver([&](Keyspace* d) { origin.SRem("k", "m", d); }));
  ASSERT_NO_FATAL_FAILURE(deliver([&](Keyspace* d) { origin.SAdd("r", "m", d); }));
  origin.Merge(target);  // the DEL then observes the target's register write (dot 2)
  ASSERT_NO_FATAL_FAILURE(deliver([&](Keyspace* d) { origin.Del("r", d); }));
  EXPECT_NE(target.DumpAll(), Keyspace(Replica(1)).DumpAll());
}

// Larger sets and hashes: DELs and SETs over them clear more dots than a ContextDots holds,
// so their contexts are decoded (the other shape), next to the few-dot ones.
TEST(MergeEncodedTest, EffectsOfLargerValuesJoinAsTheirDecodedKeyspaces) {
  EffectsJoinAsTheirDecodedKeyspaces(/*members=*/8, 0x5e8);
}

// Every truncation and many one-byte changes of SET, INCRBY, SADD, SREM and DEL effects
// (the shapes joined from the bytes), merged into a keyspace that holds the key: MergeEncoded
// accepts what Decode accepts, joins it as Merge does, and refuses the rest with Decode's text.
TEST(MergeEncodedTest, DamagedSimpleEffectsAreRefusedAsDecodeRefusesThem) {
  Keyspace origin(Replica(0));
  Keyspace target(Replica(1));
  Keyspace delta;
  std::vector<std::string> effects;
  auto record = [&](auto write) {
    effects.push_back(EffectOf(&origin, &delta, write));
    ASSERT_TRUE(target.MergeEncoded(effects.back(), nullptr));
  };
  int64_t v = 0;
  record([&](Keyspace* d) { origin.Set("s", "a value", 1, d); });
  record([&](Keyspace* d) { ASSERT_EQ(origin.IncrBy("n", 7, &v, d), IncrStatus::kOk); });
  record([&](Keyspace* d) { origin.SAdd("set", "member", d); });
  record([&](Keyspace* d) { ASSERT_EQ(origin.IncrBy("s2", 1, &v, d), IncrStatus::kOk); });
  record([&](Keyspace* d) { origin.Set("s2", "over a counter", 2, d); });  // write + reset
  // The target's own writes on the same keys, concurrent with the effects damaged below.
  target.Set("s", "mine", 3, nullptr);
  target.SAdd("set", "member", nullptr);
  ASSERT_EQ(target.IncrBy("n", 2, &v, nullptr), IncrStatus::kOk);
  record([&](Keyspace* d) { origin.Set("s", "later", 4, d); });
  record([&](Keyspace* d) { origin.SAdd("set", "member", d); });
  // SREM and DEL: elements with no dot, a register cleared, a counter reset.
  record([&](Keyspace* d) { origin.SAdd("set", "other", d); });
  record([&](Keyspace* d) { origin.SAdd("set", "third", d); });
  target.SAdd("set", "third", nullptr);
  record([&](Keyspace* d) { ASSERT_TRUE(origin.SRem("set", "member", d)); });
  record([&](Keyspace* d) { ASSERT_TRUE(origin.Del("set", d)); });  // two elements
  record([&](Keyspace* d) { ASSERT_TRUE(origin.Del("s", d)); });
  record([&](Keyspace* d) { ASSERT_TRUE(origin.Del("n", d)); });

  Keyspace::MergeScratch scratch;
  size_t refused = 0;
  for (const std::string& good : effects) {
    SCOPED_TRACE(testing::Message() << "effect of " << good.size() << " bytes");
    for (const std::string& bad : Damaged(good)) {
      Keyspace copy = target;
      std::string error;
      refused += Keyspace::Decode(bad, copy.self(), &error) ? 0 : 1;
      ASSERT_NO_FATAL_FAILURE(MergeBothWays(&copy, bad, &scratch));
      copy = target;  // the same with no scratch
      ASSERT_NO_FATAL_FAILURE(MergeBothWays(&copy, bad, nullptr));
    }
  }
  EXPECT_GT(refused, 100u);  // the damage is mostly caught
}

// INCRBY effects (a counter of one slot in its first life, joined from the bytes) next to
// the counters that are decoded: a DEL's or SET's reset of several replicas' slots and an
// increment that starts a slot's second life (an epoch entry). Random steps of every size
// (varints of 1 to 10 bytes) at four origins, each effect merged into a target that
// increments the same keys, then every truncation and one-byte change of it into a copy of
// the target: MergeEncoded must agree with Merge(Decode) each time, errors included.
TEST(MergeEncodedTest, CounterEffectsJoinFromTheirBytesAsDecoded) {
  constexpr int kOrigins = 4;
  constexpr int64_t kStep = int64_t{1} << 59;  // the largest step the bound admits
  for (uint64_t seed : TestSeeds(4, 0xc07)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> origins;
    for (int i = 0; i < kOrigins; ++i) origins.emplace_back(Replica(i));
    Keyspace target(Replica(kOrigins));
    Keyspace delta;
    Keyspace::MergeScratch scratch;
    std::vector<std::string> effects;
    int64_t v = 0;
    // A slot past 2^63 in total, fully cancelled: the next increment starts its second life.
    for (int round = 0; round < 16; ++round) {
      effects.push_back(EffectOf(&origins[0], &delta, [&](Keyspace* d) {
        ASSERT_EQ(origins[0].IncrBy("life", kStep, &v, d), IncrStatus::kOk);
      }));
      effects.push_back(EffectOf(&origins[0], &delta,
                                 [&](Keyspace* d) { origins[0].Set("life", "0", round, d); }));
    }
    effects.push_back(EffectOf(&origins[0], &delta, [&](Keyspace* d) {
      ASSERT_EQ(origins[0].IncrBy("life", 5, &v, d), IncrStatus::kOk);
    }));
    for (int step = 0; step < 120; ++step) {
      const int at = rng.Index(kOrigins);
      Keyspace& origin = origins[static_cast<size_t>(at)];
      const std::string key = "n" + std::to_string(rng.Uniform(2));
      const int64_t by = rng.OneIn(4)   ? 0
                         : rng.OneIn(2) ? rng.Range(-3, 3)
                                        : rng.Range(-kStep / 4, kStep / 4) >> rng.Uniform(60);
      if (rng.OneIn(8)) {  // resets of every slot this origin has seen
        effects.push_back(EffectOf(&origin, &delta, [&](Keyspace* d) {
          if (rng.OneIn(2)) {
            origin.Del(key, d);
          } else {
            origin.Set(key, "0", step, d);
          }
        }));
      } else {
        effects.push_back(
            EffectOf(&origin, &delta, [&](Keyspace* d) { (void)origin.IncrBy(key, by, &v, d); }));
      }
      if (rng.OneIn(3)) (void)target.IncrBy(key, rng.Range(-3, 3), &v, nullptr);
      // The origins see each other's effects now and then (so resets observe other slots).
      const std::string& bytes = effects.back();
      if (rng.OneIn(2)) {
        ASSERT_TRUE(origins[static_cast<size_t>(rng.Index(kOrigins))].MergeEncoded(bytes, nullptr));
      }
    }
    for (const std::string& good : effects) {
      for (const std::string& bad : Damaged(good)) {
        Keyspace copy = target;
        ASSERT_NO_FATAL_FAILURE(MergeBothWays(&copy, bad, &scratch));
      }
      ASSERT_NO_FATAL_FAILURE(MergeBothWays(&target, good, &scratch));
    }
  }
}

// Every kind of write (each type's mutators, TTLs, lazy expiry, DEL over mixed types) at
// three replicas, on a few keys so that values mix parts; every effect merged at the
// others through MergeEncoded or Merge, and full states now and then: after each step the
// parts each key records holding (KeyValue::held) are the parts it holds, in the replicas
// and in the deltas.
TEST(MergeEncodedTest, HeldPartsStayExactThroughEveryWrite) {
  for (uint64_t seed : TestSeeds(8, 0x4e1d)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> ks;
    for (int i = 0; i < kReplicas; ++i) ks.emplace_back(Replica(i));
    Keyspace delta;
    Keyspace::MergeScratch scratch;
    for (int step = 0; step < 600; ++step) {
      SCOPED_TRACE(testing::Message() << "step " << step);
      const int at = rng.Index(kReplicas);
      Keyspace& x = ks[at];
      if (rng.OneIn(20)) {  // a full state
        const int to = (at + 1) % kReplicas;
        if (rng.OneIn(2)) {
          ks[to].Merge(x);
        } else {
          ASSERT_TRUE(ks[to].MergeEncoded(x.Encode(), nullptr, &scratch));
        }
        ASSERT_TRUE(ks[to].HeldExact());
        continue;
      }
      x.ResetDelta(&delta);
      const std::string key = "k" + std::to_string(rng.Uniform(4));
      const std::string m = "m" + std::to_string(rng.Uniform(3));
      const int64_t now = step;
      int64_t n = 0;
      std::string out;
      x.HideDue(now);
      switch (rng.Uniform(22)) {
        case 0:
          x.Set(key, "v", now, &delta, rng.OneIn(2));
          break;
        case 1:
          (void)x.IncrBy(key, rng.Range(-2, 2), &n, &delta);
          break;
        case 2:
          (void)x.IncrByFloat(key, 0.5, &out, &delta);
          break;
        case 3:
          x.SAdd(key, m, &delta);
          break;
        case 4:
          x.SRem(key, m, &delta);
          break;
        case 5:
          x.HSet(key, m, "v", now, &delta);
          break;
        case 6:
          (void)x.HIncrBy(key, m, 1, &n, &delta);
          break;
        case 7:
          (void)x.HIncrByFloat(key, m, 0.25, &out, &delta);
          break;
        case 8:
          x.HDel(key, m, &delta);
          break;
        case 9:
        case 10:
          x.Del(key, &delta);
          break;
        case 11:
          x.Expire(key, now + rng.Range(-2, 5), &delta);
          break;
        case 12:
          x.Persist(key, &delta);
          break;
        case 13:
          x.ClearExpiry(key, &delta);
          break;
        case 14:
          x.DropHidden(key, &delta);
          break;
        case 15:
          x.ExpireDue(now, 3, &delta);
          break;
        case 16:
          (void)x.BcIncrBy(key, 2, &delta);
          break;
        case 17:
          x.PfAdd(key, {m}, &delta);
          break;
        case 18: {
          const crdt::ListStore* list = x.List(key);
          const size_t size = list != nullptr ? list->size() : 0;
          if (size > 0 && rng.OneIn(2)) {
            x.LEraseRange(key, 0, 1, &delta);
          } else {
            x.LInsert(key, size, m, &delta);
          }
          break;
        }
        case 19:
          x.XAdd(key, {static_cast<uint64_t>(step + 1), static_cast<uint64_t>(at)}, {"f", m},
                 &delta);
          break;
        case 20:
          x.XCreateGroup(key, "g", {0, 0}, &delta);
          break;
        default:
          x.ZAdd(key, m, 1.5, now, &delta);
          break;
      }
      x.ShowAll();
      ASSERT_TRUE(x.HeldExact());
      ASSERT_TRUE(delta.HeldExact());
      if (delta.empty()) continue;
      const std::string bytes = delta.Encode();
      for (int to = 0; to < kReplicas; ++to) {
        if (to == at) continue;
        if (rng.OneIn(2)) {
          ASSERT_TRUE(ks[to].MergeEncoded(bytes, nullptr, &scratch));
        } else {
          ks[to].Merge(delta);
        }
        ASSERT_TRUE(ks[to].HeldExact());
      }
    }
  }
}

// Type conflicts (a key holding a string in one region and a set in another) reaching a
// replica in a delta of two keys (a transaction's: MergeEncoded decodes it into the scratch
// and joins each value with KeyValue::Join), in a transaction's delta of one key changed by
// two commands (DEL then SADD, SET then SREM), and in full states (Merge, and MergeEncoded of
// an encoded state): three replicas run SET, INCRBY, SADD, SREM and DEL on keys "a" and
// "b", their effects arrive late, shuffled and sometimes twice, and the replicas exchange
// full states now and then. Checked against the independent model of properties.h (local
// views along the way, the converged value at the end), with every key's parts exact and a
// block only where a conflict or a rare part needs one.
TEST(MergeEncodedTest, TypeConflictKeysInTwoKeyDeltasAndFullStatesConvergeToTheModel) {
  using crdt::KeyValue;
  constexpr int kN = 3;
  const std::vector<std::string> kKeys = {"a", "b"};  // KeyspaceTraits's, for its views
  const std::vector<std::string> kMembers = {"x", "y"};
  size_t two_key_conflicts = 0;     // two-key deltas merged into or onto a conflict key
  size_t full_state_conflicts = 0;  // full-state merges with a conflict key on either side
  size_t one_key_transactions = 0;  // transactions of two commands on one key
  auto conflict = [](const Keyspace& ks, const std::string& key) {
    const KeyValue* v = ks.Find(key);
    constexpr uint16_t kBoth = KeyValue::kHeldStr | KeyValue::kHeldSet;
    return v != nullptr && (v->held & kBoth) == kBoth;
  };
  auto any_conflict = [&](const Keyspace& ks) {
    return conflict(ks, kKeys[0]) || conflict(ks, kKeys[1]);
  };
  // Every key's bits exact, and a block exactly where a conflict or a rare part needs one.
  auto check_layout = [&](const Keyspace& ks) {
    EXPECT_TRUE(ks.HeldExact());
    for (const std::string& key : kKeys) {
      const KeyValue* v = ks.Find(key);
      if (v == nullptr) continue;
      EXPECT_EQ(v->HasRareParts(), conflict(ks, key) || (v->held & KeyValue::kHeldRare) != 0)
          << key;
    }
  };
  for (uint64_t seed : TestSeeds(60, 0xc0f1)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    SemanticsModel model(kN);
    std::vector<Keyspace> ks;
    std::vector<Keyspace::MergeScratch> scratch(kN);
    for (int i = 0; i < kN; ++i) ks.emplace_back(ReplicaOf(i));
    struct Msg {
      int to;
      std::vector<int> ops;
      std::string bytes;
      bool two_keys;
    };
    std::vector<Msg> pending;
    Trace trace;
    auto deliver = [&](const Msg& m) {
      const bool before = any_conflict(ks[m.to]);
      std::string error;
      ASSERT_TRUE(ks[m.to].MergeEncoded(m.bytes, &error, &scratch[m.to])) << error;
      for (int op : m.ops) model.Deliver(op, m.to);
      if (m.two_keys && (before || any_conflict(ks[m.to]))) ++two_key_conflicts;
      check_layout(ks[m.to]);
    };
    int64_t now = 0;
    for (int step = 0; step < 150; ++step) {
      now += rng.Range(0, 2);
      const uint64_t kind = rng.Uniform(100);
      if (kind < 45) {
        // One command, or a transaction of two: on both keys (one delta of two keys) or, a
        // third of the time, both on one key (DEL then SADD, SET then SREM: one delta that
        // changes a key's type and joins its set).
        const int who = rng.Index(kN);
        Keyspace delta = ks[who].NewDelta();
        std::vector<int> ops;
        const bool two = rng.OneIn(2);
        const int first = rng.Index(2);
        const bool one_key = two && rng.OneIn(3);
        if (one_key) ++one_key_transactions;
        for (int c = 0; c < (two ? 2 : 1); ++c) {
          const int at = one_key ? first : (first + c) % 2;
          const std::string& key = kKeys[static_cast<size_t>(at)];
          const std::string& member = rng.Pick(kMembers);
          const uint64_t k = rng.Uniform(100);
          if (k < 25) {
            const std::string v = RandomValue(rng, true);
            trace.Add("r" + std::to_string(who) + ": SET " + key + " " + v);
            ks[who].Set(key, v, now, &delta);
            ops.push_back(model.SetKey(who, key, v, now));
          } else if (k < 40) {
            const int64_t by = NonZero(rng, 5);
            trace.Add("r" + std::to_string(who) + ": INCRBY " + key + " " + std::to_string(by));
            int64_t nv = 0;
            const IncrStatus st = ks[who].IncrBy(key, by, &nv, &delta);
            const std::string why = CheckIncrStatus(st, model, SemanticsModel::Str(key), who);
            ASSERT_TRUE(why.empty()) << why << "\n" << trace.ToString();
            if (st == IncrStatus::kOk) ops.push_back(model.Incr(who, SemanticsModel::Str(key), by));
          } else if (k < 70) {
            trace.Add("r" + std::to_string(who) + ": SADD " + key + " " + member);
            ks[who].SAdd(key, member, &delta);
            ops.push_back(model.Add(who, key, member));
          } else if (k < 85) {
            trace.Add("r" + std::to_string(who) + ": SREM " + key + " " + member);
            ks[who].SRem(key, member, &delta);
            ops.push_back(model.Remove(who, key, member));
          } else {
            trace.Add("r" + std::to_string(who) + ": DEL " + key);
            ks[who].Del(key, &delta);
            ops.push_back(model.DelKey(who, key));
          }
        }
        check_layout(ks[who]);
        const std::string bytes = delta.Encode();
        for (int to = 0; to < kN; ++to) {
          if (to != who) pending.push_back(Msg{to, ops, bytes, two && !one_key});
        }
      } else if (kind < 90) {
        if (pending.empty()) continue;
        const size_t i = rng.Uniform(pending.size());
        trace.Add("deliver to r" + std::to_string(pending[i].to));
        ASSERT_NO_FATAL_FAILURE(deliver(pending[i]));
        if (!rng.OneIn(4)) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        const int from = rng.Index(kN);
        const int to = (from + 1 + rng.Index(kN - 1)) % kN;
        const bool encoded = rng.OneIn(2);
        trace.Add("r" + std::to_string(to) + " <- full state of r" + std::to_string(from) +
                  (encoded ? " (encoded)" : ""));
        if (any_conflict(ks[from]) || any_conflict(ks[to])) ++full_state_conflicts;
        if (encoded) {
          std::string error;
          ASSERT_TRUE(ks[to].MergeEncoded(ks[from].Encode(), &error, &scratch[to])) << error;
        } else {
          ks[to].Merge(ks[from]);
        }
        model.MergeState(from, to);
        check_layout(ks[to]);
      }
      if (step % 4 == 0) {
        for (int i = 0; i < kN; ++i) {
          ASSERT_EQ(KeyspaceTraits::LocalVisible(ks[static_cast<size_t>(i)]),
                    KeyspaceTraits::ModelLocalVisible(model, i))
              << "r" << i << "\n"
              << trace.ToString();
        }
      }
    }
    rng.Shuffle(&pending);
    for (const Msg& m : pending) ASSERT_NO_FATAL_FAILURE(deliver(m));
    for (int i = 0; i < kN; ++i) {
      EXPECT_TRUE(ks[static_cast<size_t>(i)] == ks[0]) << "r" << i;
      ASSERT_EQ(ks[static_cast<size_t>(i)].DumpAll(), model.DumpAll()) << "r" << i << "\n"
                                                                       << trace.ToString();
    }
  }
  // The runs reached what this test is for.
  EXPECT_GT(two_key_conflicts, 0u);
  EXPECT_GT(full_state_conflicts, 0u);
  EXPECT_GT(one_key_transactions, 0u);
}

}  // namespace
}  // namespace crdt_test
