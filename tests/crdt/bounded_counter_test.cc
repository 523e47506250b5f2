// BoundedCounter: rights and refusals, the 64-bit edges (refuse, never wrap), hostile
// decoding, the keyspace value, and the invariant: value >= 0 and every region's rights
// >= 0 at every replica after every step, under any delivery order, loss, duplication,
// partition and crash. (Lattice laws, convergence to the model and encoding round trips
// run in the typed suites over all_types.h.)
#include "crdt/bounded_counter.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt_test {
namespace {

using crdt::BoundedCounter;
using crdt::BoundedStatus;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(1, 1);
constexpr crdt::ReplicaId kB = crdt::MakeReplicaId(2, 1);
constexpr int64_t kBound = BoundedCounter::kBound;

// A state made of raw cells (through the decoder, so it is one a peer could send).
std::optional<BoundedCounter> Raw(const std::vector<BoundedCounter::Grant>& grants,
                                  const std::vector<BoundedCounter::Spent>& spent,
                                  std::string* error = nullptr) {
  crdt::Encoder enc;
  enc.PutVarint(grants.size());
  for (const auto& g : grants) {
    enc.PutVarint(g.from);
    enc.PutVarint(g.to);
    enc.PutVarint(g.amount);
  }
  enc.PutVarint(spent.size());
  for (const auto& s : spent) {
    enc.PutVarint(s.replica);
    enc.PutVarint(s.amount);
  }
  return BoundedCounter::Decode(enc.str(), error);
}

TEST(BoundedCounterTest, TheOverdraftIsRefusedLocally) {
  BoundedCounter a(kA), b(kB);
  b.Merge(*a.Increment(100));
  EXPECT_EQ(b.Value(), 100);
  EXPECT_EQ(b.Rights(kA), 100);
  EXPECT_EQ(b.Rights(kB), 0);
  b.Merge(*a.Transfer(40, kB));
  EXPECT_EQ(a.Rights(kA), 60);
  EXPECT_EQ(b.Rights(kB), 40);
  // Concurrent withdrawals of 60: A approves, B refuses (and changes nothing).
  std::optional<BoundedCounter> da = a.Decrement(60);
  BoundedStatus s = BoundedStatus::kOk;
  const BoundedCounter before = b;
  EXPECT_FALSE(b.Decrement(60, &s));
  EXPECT_EQ(s, BoundedStatus::kInsufficientRights);
  EXPECT_EQ(b, before);
  ASSERT_TRUE(da);
  b.Merge(*da);
  EXPECT_EQ(a.Value(), 40);
  EXPECT_EQ(b.Value(), 40);
  EXPECT_EQ(b.Rights(kA), 0);
  EXPECT_EQ(b.Rights(kB), 40);
  EXPECT_TRUE(b.Decrement(40));
  EXPECT_EQ(b.Value(), 0);
  EXPECT_FALSE(b.Decrement(1, &s));
}

TEST(BoundedCounterTest, InvalidStepsAreRefused) {
  BoundedCounter a(kA);
  BoundedStatus s = BoundedStatus::kOk;
  EXPECT_FALSE(a.Increment(0, &s));
  EXPECT_EQ(s, BoundedStatus::kInvalid);
  EXPECT_FALSE(a.Increment(-5, &s));
  EXPECT_FALSE(a.Decrement(0, &s));
  ASSERT_TRUE(a.Increment(5));
  EXPECT_FALSE(a.Transfer(1, kA, &s));  // to oneself
  EXPECT_EQ(s, BoundedStatus::kInvalid);
  EXPECT_FALSE(a.Transfer(6, kB, &s));
  EXPECT_EQ(s, BoundedStatus::kInsufficientRights);
  EXPECT_EQ(a.Value(), 5);
  EXPECT_EQ(a.Replicas(), std::vector<crdt::ReplicaId>{kA});
}

// The value stops at 2^59 (as PnCounter's bound) and a cumulative cell at 2^64: refused,
// never wrapped, nothing changed.
TEST(BoundedCounterTest, SixtyFourBitEdgesRefuseNeverWrap) {
  BoundedCounter a(kA);
  BoundedStatus s = BoundedStatus::kOk;
  ASSERT_TRUE(a.Increment(kBound));
  EXPECT_EQ(a.Value(), kBound);
  const BoundedCounter full = a;
  EXPECT_FALSE(a.Increment(1, &s));
  EXPECT_EQ(s, BoundedStatus::kOutOfRange);
  EXPECT_FALSE(a.Increment(INT64_MAX, &s));
  EXPECT_EQ(s, BoundedStatus::kOutOfRange);
  EXPECT_EQ(a, full);
  ASSERT_TRUE(a.Decrement(kBound));
  EXPECT_EQ(a.Value(), 0);
  EXPECT_FALSE(a.Decrement(INT64_MAX, &s));
  EXPECT_EQ(s, BoundedStatus::kInsufficientRights);

  // Cumulative increments near 2^64 (value 0): one more would wrap the cell.
  std::optional<BoundedCounter> worn = Raw({{kA, kA, UINT64_MAX - 2}}, {{kA, UINT64_MAX - 2}});
  ASSERT_TRUE(worn);
  BoundedCounter w(kA);
  w.Merge(*worn);
  const BoundedCounter before = w;
  EXPECT_FALSE(w.Increment(5, &s));
  EXPECT_EQ(s, BoundedStatus::kOutOfRange);
  EXPECT_EQ(w, before);
  ASSERT_TRUE(w.Increment(2));  // up to 2^64 - 1 exactly
  EXPECT_EQ(w.Value(), 2);
  ASSERT_TRUE(w.Decrement(2));
  EXPECT_EQ(w.Value(), 0);
}

TEST(BoundedCounterTest, HostileStatesAreRejected) {
  std::string error;
  EXPECT_FALSE(Raw({{kA, kA, 0}}, {}, &error));  // zero cell
  EXPECT_NE(error.find("cell of 0"), std::string::npos) << error;
  EXPECT_FALSE(Raw({{kB, kB, 1}, {kA, kA, 1}}, {}, &error));  // unsorted
  EXPECT_FALSE(Raw({{kA, kA, 1}, {kA, kA, 2}}, {}, &error));  // duplicate
  EXPECT_FALSE(Raw({}, {{kB, 1}, {kA, 1}}, &error));
  EXPECT_FALSE(Raw({{kA, kA, 5}}, {{kA, 6}}, &error));  // negative rights
  EXPECT_NE(error.find("rights out of range"), std::string::npos) << error;
  EXPECT_FALSE(Raw({{kA, kA, 5}, {kA, kB, 6}}, {}, &error));           // gave more than it had
  EXPECT_FALSE(Raw({{kA, kA, UINT64_MAX}, {kB, kA, 2}}, {}, &error));  // B's rights < 0
  EXPECT_TRUE(Raw({{kA, kA, 10}, {kA, kB, 4}}, {{kA, 6}, {kB, 4}}, &error)) << error;
  // Values past 2^63 are what concurrent increments in many regions merge to: accepted,
  // and exact.
  std::optional<BoundedCounter> big =
      Raw({{kA, kA, uint64_t{1} << 63}, {kB, kB, UINT64_MAX}}, {}, &error);
  ASSERT_TRUE(big) << error;
  EXPECT_EQ(crdt::FormatInt128(big->Value()), "27670116110564327423");
}

// Concurrent increments in many regions merge past the 2^59 bound, even past 2^63: the
// value is exact after any merge and travels (encode, decode) as it is; a further
// increment is refused at its origin, on its exact view; a decrement is admitted while the
// value it leaves fits 64 bits (the reply), as PnCounter::Admits rules for INCRBY.
TEST(BoundedCounterTest, ConcurrentIncrementsMergeExactlyPastSixtyFourBits) {
  constexpr int kRegions = 17;
  std::vector<BoundedCounter> r;
  for (int i = 0; i < kRegions; ++i) r.emplace_back(crdt::MakeReplicaId(i + 1, 1));
  for (BoundedCounter& x : r) ASSERT_TRUE(x.Increment(kBound));  // each alone: at the bound
  BoundedCounter merged = r[0];
  for (int i = 1; i < 16; ++i) merged.Merge(r[i]);
  EXPECT_EQ(merged.Value(), crdt::Int128(16) * kBound);  // 2^63: one past int64
  EXPECT_EQ(crdt::FormatInt128(merged.Value()), "9223372036854775808");
  std::string error;
  std::optional<BoundedCounter> wire = BoundedCounter::Decode(merged.Encode(), &error);
  ASSERT_TRUE(wire) << error;  // a peer accepts it (a wrapped sum was refused as hostile)
  EXPECT_EQ(*wire, merged);
  BoundedStatus s = BoundedStatus::kOk;
  const BoundedCounter before = merged;
  EXPECT_FALSE(merged.Increment(1, &s));
  EXPECT_EQ(s, BoundedStatus::kOutOfRange);
  EXPECT_EQ(merged, before);
  ASSERT_TRUE(merged.Decrement(1));  // 2^63 - 1: fits the reply, back towards the range
  EXPECT_EQ(merged.Value(), crdt::Int128(INT64_MAX));

  merged.Merge(r[16]);  // 17 x 2^59 - 1, and r[16] knows all of it
  r[16].Merge(merged);
  EXPECT_EQ(r[16].Value(), crdt::Int128(17) * kBound - 1);
  EXPECT_EQ(r[16].Rights(r[16].self()), kBound);
  EXPECT_FALSE(r[16].Decrement(1, &s));  // 17 x 2^59 - 2 is no 64-bit reply
  EXPECT_EQ(s, BoundedStatus::kOutOfRange);
  EXPECT_TRUE(r[16].Transfer(kBound, r[0].self()));  // the value does not move
  EXPECT_EQ(r[16].Value(), crdt::Int128(17) * kBound - 1);
}

// ---- the invariant, under hostile delivery ----

// A step of a random run: the state (or a delta) shipped from one replica to another.
struct Message {
  int to;
  BoundedCounter payload;
};

// Random increments, decrements (mostly of more than held) and transfers at 2-5 replicas;
// deltas and full states delivered in random order, duplicated, lost, or held back by a
// partition; replicas crash and come back as new incarnations with no state. After every
// step, every replica's value and every replica's rights must be >= 0, and the value the
// sum of the rights. The end: everything delivered, all equal.
//
// `big`: up to 20 replicas and amounts near 2^59, so that concurrent increments merge past
// 2^63 and 2^64: the value stays exact (the checks above would see a wrapped sum), and
// each step is admitted or refused at its origin by the bound rule on its exact view.
bool CheckInvariant(uint64_t seed, std::string* why, bool big = false) {
  Rng rng(seed);
  const int n = static_cast<int>(big ? rng.Range(2, 20) : rng.Range(2, 5));
  std::vector<BoundedCounter> replicas;
  std::vector<uint16_t> incarnation(n, 1);
  for (int i = 0; i < n; ++i) replicas.emplace_back(crdt::MakeReplicaId(i + 1, 1));
  std::vector<Message> pending;
  std::vector<bool> cut(n, false);  // a partitioned replica neither sends nor receives
  Trace trace;
  auto fail = [&](const std::string& what) {
    *why = what + "\n" + trace.ToString();
    return false;
  };
  auto check = [&](int i) -> std::string {
    const BoundedCounter& x = replicas[i];
    crdt::Int128 sum = 0;
    for (crdt::ReplicaId r : x.Replicas()) {
      if (x.Rights(r) < 0) {
        return "r" + std::to_string(i) + " sees rights " + crdt::FormatInt128(x.Rights(r)) +
               " for replica " + std::to_string(r);
      }
      sum += x.Rights(r);
    }
    if (x.Value() < 0) return "r" + std::to_string(i) + " value " + crdt::FormatInt128(x.Value());
    if (sum != x.Value()) return "r" + std::to_string(i) + " rights do not add up to the value";
    return "";
  };
  const int steps = static_cast<int>(rng.Range(40, 120));
  for (int step = 0; step < steps; ++step) {
    const uint64_t kind = rng.Uniform(100);
    const int who = rng.Index(n);
    if (kind < 40) {
      BoundedCounter& x = replicas[who];
      std::optional<BoundedCounter> d;
      std::string desc;
      const uint64_t op = rng.Uniform(10);
      const int64_t amount = !big             ? rng.Range(1, 8)
                             : rng.Uniform(2) ? kBound - rng.Range(0, 3)
                                              : rng.Range(1, kBound);
      const crdt::Int128 cur = x.Value();
      BoundedStatus s = BoundedStatus::kOk;
      if (op < 3) {
        d = x.Increment(amount, &s);
        desc = "INCR ";
        if ((s == BoundedStatus::kOutOfRange) != (cur + amount > kBound)) {
          return fail("r" + std::to_string(who) + " at " + crdt::FormatInt128(cur) + ": INCR " +
                      std::to_string(amount) + " against the bound rule");
        }
      } else if (op < 7) {
        d = x.Decrement(amount, &s);
        desc = "DECR ";
        if (s == BoundedStatus::kOk
                ? cur - amount > INT64_MAX
                : s == BoundedStatus::kOutOfRange && cur - amount <= INT64_MAX) {
          return fail("r" + std::to_string(who) + " at " + crdt::FormatInt128(cur) + ": DECR " +
                      std::to_string(amount) + " against the 64-bit reply rule");
        }
      } else {
        const int to = (who + 1 + rng.Index(n - 1)) % n;
        d = x.Transfer(amount, crdt::MakeReplicaId(to + 1, incarnation[to]));
        desc = "TRANSFER to r" + std::to_string(to) + " ";
      }
      trace.Add("r" + std::to_string(who) + ": " + desc + std::to_string(amount) +
                (d ? "" : " (refused)"));
      if (d && !cut[who]) {
        for (int to = 0; to < n; ++to) {
          if (to != who) pending.push_back(Message{to, *d});
        }
      }
    } else if (kind < 80) {
      if (pending.empty()) continue;
      const size_t i = rng.Uniform(pending.size());
      const Message m = pending[i];
      const uint64_t fate = rng.Uniform(6);
      if (cut[m.to]) continue;
      if (fate > 0) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      if (fate == 1) {
        trace.Add("lost: a message to r" + std::to_string(m.to));
        continue;
      }
      trace.Add("r" + std::to_string(m.to) + " <- message" + (fate == 0 ? " (duplicate)" : ""));
      replicas[m.to].Merge(m.payload);
    } else if (kind < 88) {
      const int from = (who + 1 + rng.Index(n - 1)) % n;
      if (cut[who] || cut[from]) continue;
      trace.Add("r" + std::to_string(who) + " <- full state of r" + std::to_string(from));
      replicas[who].Merge(replicas[from]);
    } else if (kind < 96) {
      cut[who] = !cut[who];
      trace.Add("r" + std::to_string(who) + (cut[who] ? " partitioned" : " healed"));
    } else {
      // A crash that loses the state: a new incarnation with nothing (its rights before the
      // crash are stranded). Messages it had sent are still in flight.
      ++incarnation[who];
      replicas[who] = BoundedCounter(crdt::MakeReplicaId(who + 1, incarnation[who]));
      trace.Add("r" + std::to_string(who) + " crashes, back as incarnation " +
                std::to_string(incarnation[who]));
    }
    for (int i = 0; i < n; ++i) {
      if (std::string bad = check(i); !bad.empty()) return fail("invariant broken: " + bad);
    }
  }
  // Heal: every replica gets every other's state; all converge, invariant still holds.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) replicas[i].Merge(replicas[j]);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (std::string bad = check(i); !bad.empty()) return fail("invariant broken: " + bad);
    if (!(replicas[i] == replicas[0])) return fail("r" + std::to_string(i) + " did not converge");
  }
  return true;
}

TEST(BoundedCounterInvariant, ValueAndRightsNeverNegativeAtAnyReplica) {
  for (uint64_t seed : TestSeeds(300, 7000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(CheckInvariant(seed, &why)) << why;
  }
}

TEST(BoundedCounterInvariant, ExactPastSixtyFourBitsWithManyRegions) {
  for (uint64_t seed : TestSeeds(300, 7100)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(CheckInvariant(seed, &why, /*big=*/true)) << why;
  }
}

// ---- the keyspace value ----

TEST(BoundedCounterKeyspace, EncodesOnlyWhenPresentAndMergesLikeAnyKey) {
  crdt::Keyspace a(kA), b(kB);
  crdt::Keyspace d = a.NewDelta();
  a.Set("s", "x", 1, &d);
  EXPECT_EQ(static_cast<uint8_t>(d.Encode()[0]), 1);  // no counter: the header as before
  EXPECT_EQ(static_cast<uint8_t>(a.Encode()[0]), 0);
  crdt::Keyspace d2 = a.NewDelta();
  ASSERT_EQ(a.BcIncrBy("acct", 100, &d2), BoundedStatus::kOk);
  ASSERT_EQ(a.BcTransfer("acct", 40, kB, &d2), BoundedStatus::kOk);
  EXPECT_EQ(static_cast<uint8_t>(d2.Encode()[0]), 3);
  EXPECT_EQ(static_cast<uint8_t>(a.Encode()[0]), 2);
  EXPECT_EQ(a.TypeOf("acct"), crdt::Keyspace::Type::kBoundedCounter);
  EXPECT_EQ(a.Dump("acct"), "100");
  std::string error;
  ASSERT_TRUE(b.MergeEncoded(d2.Encode(), &error)) << error;
  EXPECT_EQ(b.BcDecrBy("acct", 41, nullptr), BoundedStatus::kInsufficientRights);
  EXPECT_EQ(b.BcDecrBy("acct", 40, nullptr), BoundedStatus::kOk);
  EXPECT_EQ(b.DumpAll(), "acct bcounter 60\n");
  std::optional<crdt::Keyspace> back = crdt::Keyspace::Decode(b.Encode(), kB, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_TRUE(*back == b);
  // A refused step leaves no key behind.
  EXPECT_EQ(a.BcDecrBy("none", 1, nullptr), BoundedStatus::kInsufficientRights);
  EXPECT_EQ(a.TypeOf("none"), crdt::Keyspace::Type::kNone);
  EXPECT_EQ(a.Keys(), (std::vector<std::string>{"acct", "s"}));
}

}  // namespace
}  // namespace crdt_test
