// CausalContext: the compact version vector + dot cloud, kept canonical.
#include "crdt/causal_context.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

// Contains scans a short vector and searches a long one: both must agree with Max and the
// cloud, on either side of the switch (a context decoded from hostile input can be long).
TEST(CausalContextTest, ContainsAgreesWithMaxOnShortAndLongVectors) {
  for (uint16_t replicas : {1, 5, 16, 17, 40}) {
    CausalContext cc;
    for (uint16_t r = 0; r < replicas; r += 2) {
      const ReplicaId id = MakeReplicaId(r, 1);
      for (uint64_t c = 1; c <= r % 5 + 1u; ++c) cc.Add(Dot{id, c});
      cc.Add(Dot{id, 9});  // a cloud dot
    }
    for (uint16_t r = 0; r <= replicas; ++r) {
      const ReplicaId id = MakeReplicaId(r, 1);
      for (uint64_t c = 1; c <= 10; ++c) {
        const bool want = c <= cc.Max(id) || (r % 2 == 0 && r < replicas && c == 9);
        EXPECT_EQ(cc.Contains(Dot{id, c}), want) << replicas << " replicas, dot " << r << ":" << c;
      }
    }
  }
}

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);
constexpr ReplicaId kC = MakeReplicaId(3, 1);

TEST(ReplicaIdTest, SiteAndIncarnation) {
  constexpr ReplicaId r = MakeReplicaId(0xABCD, 0x1234);
  static_assert(SiteOf(r) == 0xABCD && IncarnationOf(r) == 0x1234);
  EXPECT_LT(MakeReplicaId(1, 0xFFFF), MakeReplicaId(2, 0));  // site order first
  EXPECT_LT((Dot{kA, 5}), (Dot{kB, 1}));
  EXPECT_LT((Dot{kA, 1}), (Dot{kA, 2}));
}

TEST(CausalContextTest, NextIsContiguous) {
  CausalContext cc;
  EXPECT_TRUE(cc.empty());
  EXPECT_EQ(cc.Next(kA), (Dot{kA, 1}));
  EXPECT_EQ(cc.Next(kA), (Dot{kA, 2}));
  EXPECT_EQ(cc.Next(kB), (Dot{kB, 1}));
  EXPECT_EQ(cc.Max(kA), 2u);
  EXPECT_EQ(cc.Max(kC), 0u);
  EXPECT_TRUE(cc.Contains(Dot{kA, 1}));
  EXPECT_FALSE(cc.Contains(Dot{kA, 3}));
  EXPECT_EQ(cc.ExplicitSize(), 2u);
}

TEST(CausalContextTest, OutOfOrderDotsFoldIntoTheVectorWhenGapsClose) {
  CausalContext cc;
  cc.Add(Dot{kA, 3});
  cc.Add(Dot{kA, 5});
  cc.Add(Dot{kA, 3});  // duplicate
  EXPECT_EQ(cc.cloud().size(), 2u);
  EXPECT_TRUE(cc.Contains(Dot{kA, 3}));
  EXPECT_FALSE(cc.Contains(Dot{kA, 4}));
  cc.Add(Dot{kA, 1});
  cc.Add(Dot{kA, 2});  // closes 1..3
  EXPECT_EQ(cc.Max(kA), 3u);
  EXPECT_EQ(cc.cloud().size(), 1u);
  cc.Add(Dot{kA, 4});
  EXPECT_EQ(cc.Max(kA), 5u);
  EXPECT_TRUE(cc.cloud().empty());
  EXPECT_EQ(cc.ExplicitSize(), 1u);
}

TEST(CausalContextTest, JoinIsCanonicalWhateverTheOrder) {
  for (uint64_t seed : TestSeeds(100, 77)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Dot> dots;
    for (ReplicaId r : {kA, kB, kC}) {
      uint64_t n = rng.Range(0, 12);
      for (uint64_t c = 1; c <= n; ++c) {
        if (!rng.OneIn(4)) dots.push_back(Dot{r, c});
      }
    }
    // One context by Add in order, one by Add shuffled, one by joining random parts.
    CausalContext in_order, shuffled, joined;
    for (const Dot& d : dots) in_order.Add(d);
    std::vector<Dot> s = dots;
    rng.Shuffle(&s);
    for (const Dot& d : s) shuffled.Add(d);
    std::vector<CausalContext> parts(3);
    for (const Dot& d : dots) parts[rng.Index(3)].Add(d);
    for (const Dot& d : dots) {
      if (rng.OneIn(3)) parts[rng.Index(3)].Add(d);  // overlap
    }
    rng.Shuffle(&parts);
    for (const auto& p : parts) joined.Join(p);
    EXPECT_EQ(in_order, shuffled);
    EXPECT_EQ(in_order, joined);
    for (const Dot& d : dots) EXPECT_TRUE(joined.Contains(d));
    for (ReplicaId r : {kA, kB, kC}) {
      for (uint64_t c = 1; c <= 13; ++c) {
        bool want = std::find(dots.begin(), dots.end(), Dot{r, c}) != dots.end();
        EXPECT_EQ(joined.Contains(Dot{r, c}), want) << r << "." << c;
      }
    }
    // Canonical: no cloud dot is covered by or adjacent to the vector.
    for (const Dot& d : joined.cloud()) EXPECT_GT(d.counter, joined.Max(d.replica) + 1);
    // Join laws.
    CausalContext self = joined;
    self.Join(self);
    EXPECT_EQ(self, joined);
    CausalContext ab = parts[0], ba = parts[1];
    ab.Join(parts[1]);
    ba.Join(parts[0]);
    EXPECT_EQ(ab, ba);
  }
}

TEST(CausalContextTest, EncodeDecodeRoundTrip) {
  CausalContext cc;
  cc.Next(kA);
  cc.Next(kA);
  cc.Next(kC);
  cc.Add(Dot{kB, 7});
  cc.Add(Dot{MakeReplicaId(0xFFFF, 0xFFFF), uint64_t{1} << 62});
  Encoder enc;
  cc.Encode(&enc);
  Decoder dec(enc.str());
  CausalContext back;
  ASSERT_TRUE(back.Decode(&dec)) << dec.error();
  EXPECT_TRUE(dec.done());
  EXPECT_EQ(back, cc);
  EXPECT_EQ(back.DebugString(), cc.DebugString());
}

// A hostile encoding whose cloud holds dots the vector covers (or that extend it) decodes
// to the canonical context.
TEST(CausalContextTest, DecodeCanonicalizes) {
  Encoder enc;
  enc.PutVarint(1);   // one vector entry
  enc.PutVarint(kA);  // replica (delta from 0)
  enc.PutVarint(3);   // max
  enc.PutVarint(3);   // three cloud dots
  enc.PutDot(Dot{kA, 2});
  enc.PutDot(Dot{kA, 4});
  enc.PutDot(Dot{kB, 1});
  Decoder dec(enc.str());
  CausalContext cc;
  ASSERT_TRUE(cc.Decode(&dec)) << dec.error();
  CausalContext want;
  for (uint64_t c = 1; c <= 4; ++c) want.Add(Dot{kA, c});
  want.Add(Dot{kB, 1});
  EXPECT_EQ(cc, want);
  EXPECT_TRUE(cc.cloud().empty());
}

// A replica id is a delta from the previous one: a delta that wraps the sum past 2^64 to a
// smaller id is malformed, as one past 2^32 is (not a vector out of order).
TEST(CausalContextTest, DecodeRejectsAReplicaDeltaThatWraps) {
  for (uint64_t second : {uint64_t{0} - 2, uint64_t{UINT32_MAX} - 4, uint64_t{UINT32_MAX} - 5}) {
    SCOPED_TRACE(second);
    Encoder enc;
    enc.PutVarint(2);  // two vector entries
    enc.PutVarint(5);  // replica 5
    enc.PutVarint(1);
    enc.PutVarint(second);  // 5 + second: 3 (wrapped), 2^32, UINT32_MAX
    enc.PutVarint(1);
    enc.PutVarint(0);  // no cloud
    Decoder dec(enc.str());
    CausalContext cc;
    const bool fits = second == uint64_t{UINT32_MAX} - 5;
    EXPECT_EQ(cc.Decode(&dec), fits) << dec.error();
    if (!fits) {
      EXPECT_EQ(dec.error().rfind("replica id overflow", 0), 0u) << dec.error();
    }
  }
}

// With no vector, a cloud's dot 1 folds, and its replica's next dots after it; a cloud
// without a dot 1 stays as it is.
TEST(CausalContextTest, DecodeWithoutAVectorFoldsFromDotOne) {
  auto decode = [](std::initializer_list<Dot> dots) {
    Encoder enc;
    enc.PutVarint(0);  // no vector entry
    enc.PutVarint(dots.size());
    for (const Dot& d : dots) enc.PutDot(d);
    Decoder dec(enc.str());
    CausalContext cc;
    EXPECT_TRUE(cc.Decode(&dec)) << dec.error();
    CausalContext want;
    for (const Dot& d : dots) want.Add(d);
    EXPECT_EQ(cc, want) << cc.DebugString() << " " << want.DebugString();
    return cc;
  };
  CausalContext folded = decode({Dot{kA, 1}, Dot{kA, 2}, Dot{kA, 4}, Dot{kB, 3}});
  EXPECT_EQ(folded.Max(kA), 2u);
  EXPECT_EQ(folded.cloud().size(), 2u);
  CausalContext kept = decode({Dot{kA, 2}, Dot{kB, 5}});
  EXPECT_TRUE(kept.vector().empty());
  EXPECT_EQ(kept.cloud().size(), 2u);
  CausalContext second = decode({Dot{kA, 3}, Dot{kB, 1}, Dot{kB, 2}});
  EXPECT_EQ(second.Max(kB), 2u);
  EXPECT_EQ(second.cloud().size(), 1u);
}

// ContextDots against CausalContext::Decode on random encoded contexts: no vector or a short
// one, 0 to 7 cloud dots (dot 1s among them), and every truncation and one-byte change of
// them. ContextDots takes exactly the contexts of no vector and at most kMax dots that
// Decode accepts, stops where Decode stops, answers Contains as the decoded context does,
// and Join(ContextDots) gives what Join of the decoded context gives, into a random context.
TEST(ContextDotsTest, ReadsAndJoinsAsTheDecodedContext) {
  const ReplicaId replicas[] = {kA, kB, kC};
  for (uint64_t seed : TestSeeds(200, 0xcd07)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    // A random context, encoded (the cloud sorted and strictly increasing, as Encode writes
    // it; a hostile vector may cover cloud dots, which Decode folds).
    Encoder enc;
    const uint64_t vector_entries = rng.OneIn(4) ? rng.Range(1, 2) : 0;
    enc.PutVarint(vector_entries);
    for (uint64_t i = 0; i < vector_entries; ++i) {
      enc.PutVarint(i == 0 ? kA : kC - kA);
      enc.PutVarint(rng.Range(1, 4));
    }
    std::vector<Dot> cloud;
    const uint64_t cloud_dots = rng.Range(0, 7);
    for (uint64_t i = 0; i < cloud_dots; ++i) {
      cloud.push_back(Dot{replicas[rng.Index(3)], static_cast<uint64_t>(rng.Range(1, 6))});
    }
    std::sort(cloud.begin(), cloud.end());
    cloud.erase(std::unique(cloud.begin(), cloud.end()), cloud.end());
    enc.PutVarint(cloud.size());
    for (const Dot& d : cloud) enc.PutDot(d);
    const std::string good = enc.str();
    // A context to join into: random dots, so that joins fold, extend and fill gaps.
    CausalContext into;
    for (int i = 0; i < 6; ++i) {
      if (!rng.OneIn(3))
        into.Add(Dot{replicas[rng.Index(3)], static_cast<uint64_t>(rng.Range(1, 6))});
    }
    std::vector<std::string> inputs = {good};
    for (size_t n = 0; n < good.size(); ++n) inputs.push_back(good.substr(0, n));
    for (size_t at = 0; at < good.size(); ++at) {
      std::string bad = good;
      bad[at] = static_cast<char>(rng.Uniform(256));
      inputs.push_back(bad);
    }
    for (const std::string& in : inputs) {
      Decoder full_dec(in);
      CausalContext full;
      const bool full_ok = full.Decode(&full_dec);
      Decoder dots_dec(in);
      ContextDots dots;
      const bool dots_ok = dots.Decode(&dots_dec);
      // What a ContextDots must take: a context Decode accepts, with no vector entry and
      // at most kMax cloud dots (read back from the input itself).
      bool shape = false;
      {
        Decoder d(in);
        uint64_t n = 0, m = 0;
        shape = d.GetVarint(&n) && n == 0 && d.GetVarint(&m) && m <= ContextDots::kMax;
      }
      ASSERT_EQ(dots_ok, full_ok && shape) << full_dec.error();
      if (!dots_ok) continue;
      EXPECT_EQ(dots_dec.position(), full_dec.position());
      size_t listed = 0;
      for (ReplicaId r : replicas) {
        for (uint64_t c = 0; c <= 7; ++c) {
          const Dot d{r, c};
          EXPECT_EQ(dots.Contains(d), full.Contains(d)) << r << "." << c;
          listed += c > 0 && full.Contains(d) ? 1 : 0;
        }
      }
      // The same set: every dot of an undamaged context is one of those asked.
      if (in == good) {
        EXPECT_EQ(listed, dots.size());
      }
      CausalContext want = into, got = into;
      want.Join(full);
      got.Join(dots);
      EXPECT_EQ(got, want) << got.DebugString() << " " << want.DebugString();
    }
  }
}

// Join(ContextDots) into contexts of a version vector over several replicas and (mostly)
// no cloud, as the keyspace's context is in the steady state, with dots that each are
// covered, extend their replica's entry (one or two in a row), leave a gap, or name a
// replica the vector lacks: the same context as Join of the decoded context. The other
// test's random contexts rarely have no cloud, so this one reaches the forward pass over
// the vector. Each seed draws 40 cases, and each kind of dot is counted and asserted drawn
// in every seed (so a replayed seed, or the fewer seeds of an unoptimised build, checks the
// same).
TEST(ContextDotsTest, JoinsIntoVectorsAsTheDecodedContext) {
  for (uint64_t seed : TestSeeds(300, 0xcd08)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    auto range = [&](uint64_t lo, uint64_t hi) {
      return static_cast<uint64_t>(rng.Range(static_cast<int64_t>(lo), static_cast<int64_t>(hi)));
    };
    size_t extends = 0, covered = 0, gaps = 0, new_replicas = 0;
    for (int round = 0; round < 40; ++round) {
      CausalContext into;
      uint64_t max[7] = {};
      for (uint16_t site = 1; site <= 6; ++site) {
        if (rng.OneIn(4)) continue;  // a replica the vector lacks
        max[site] = range(1, 5);
        for (uint64_t c = 1; c <= max[site]; ++c) into.Add(Dot{MakeReplicaId(site, 1), c});
      }
      if (rng.OneIn(5)) into.Add(Dot{MakeReplicaId(static_cast<uint16_t>(range(1, 6)), 1), 9});
      // Up to kMax dots, sorted: by replica, each replica's counters increasing.
      std::vector<Dot> dots;
      for (uint16_t site = 1; site <= 6 && dots.size() < ContextDots::kMax; ++site) {
        if (!rng.OneIn(2)) continue;
        const ReplicaId r = MakeReplicaId(site, 1);
        switch (rng.Uniform(4)) {
          case 0:  // covered (or, for a replica the vector lacks, its first dot)
            dots.push_back(Dot{r, max[site] == 0 ? 1 : range(1, max[site])});
            covered += max[site] == 0 ? 0 : 1;
            new_replicas += max[site] == 0 ? 1 : 0;
            break;
          case 1:  // extends the entry, once or twice in a row
            dots.push_back(Dot{r, max[site] + 1});
            extends += max[site] == 0 ? 0 : 1;
            new_replicas += max[site] == 0 ? 1 : 0;
            if (dots.size() < ContextDots::kMax && rng.OneIn(2))
              dots.push_back(Dot{r, max[site] + 2});
            break;
          case 2:  // a gap
            dots.push_back(Dot{r, max[site] + range(2, 4)});
            gaps += 1;
            break;
          default:  // covered, then extends
            if (max[site] == 0 || dots.size() + 2 > ContextDots::kMax) break;
            dots.push_back(Dot{r, max[site]});
            dots.push_back(Dot{r, max[site] + 1});
            covered += 1;
            extends += 1;
            break;
        }
      }
      Encoder enc;
      enc.PutVarint(0);
      enc.PutVarint(dots.size());
      for (const Dot& d : dots) enc.PutDot(d);
      Decoder full_dec(enc.str()), dots_dec(enc.str());
      CausalContext full;
      ContextDots read;
      ASSERT_TRUE(full.Decode(&full_dec));
      ASSERT_TRUE(read.Decode(&dots_dec));
      CausalContext want = into, got = into;
      want.Join(full);
      got.Join(read);
      EXPECT_EQ(got, want) << into.DebugString() << " + " << full.DebugString() << ": "
                           << got.DebugString() << " " << want.DebugString();
    }
    EXPECT_GT(extends, 0u);
    EXPECT_GT(covered, 0u);
    EXPECT_GT(gaps, 0u);
    EXPECT_GT(new_replicas, 0u);
  }
}

// WriteDots against CausalContext on random dot sets added in a random order: runs from
// dot 1 (which fold into the vector), gaps, repeats, counter 0, counters of several bytes,
// a replica id of several bytes, and more dots than WriteDots holds inline. Its Encode
// writes the bytes CausalContext::Encode writes of a context after the same Adds.
TEST(WriteDotsTest, EncodesAsTheContextOfItsDots) {
  // The largest replica id and counters near 2^64 too: the longest forms WriteDots writes
  // unchecked (a debug build's Commit checks they stay within the room asked).
  const ReplicaId replicas[] = {kA, kB, kC, MakeReplicaId(900, 7), UINT32_MAX};
  for (uint64_t seed : TestSeeds(300, 0x3d07)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    CausalContext want;
    WriteDots got;
    const uint64_t n = rng.Uniform(10);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t counter = rng.OneIn(8)   ? (uint64_t{1} << 40) + rng.Uniform(3)
                               : rng.OneIn(8) ? UINT64_MAX - rng.Uniform(3)
                                              : rng.Uniform(6);
      const Dot d{replicas[rng.Index(5)], counter};
      want.Add(d);
      got.Add(d);
    }
    Encoder want_bytes, got_bytes;
    want.Encode(&want_bytes);
    got.Encode(&got_bytes);
    EXPECT_EQ(got_bytes.str(), want_bytes.str()) << want.DebugString();
  }
}

TEST(CausalContextTest, DecodeRejectsMalformedInput) {
  auto decode = [](const Encoder& enc) {
    Decoder dec(enc.str());
    CausalContext cc;
    bool ok = cc.Decode(&dec);
    if (!ok) {
      EXPECT_FALSE(dec.error().empty());
    }
    return ok;
  };
  Encoder unsorted;  // second replica delta 0
  unsorted.PutVarint(2);
  unsorted.PutVarint(kA);
  unsorted.PutVarint(1);
  unsorted.PutVarint(0);
  unsorted.PutVarint(1);
  unsorted.PutVarint(0);
  EXPECT_FALSE(decode(unsorted));
  Encoder zero;  // a vector entry 0
  zero.PutVarint(1);
  zero.PutVarint(kA);
  zero.PutVarint(0);
  zero.PutVarint(0);
  EXPECT_FALSE(decode(zero));
  Encoder overflow;  // replica ids summing past 32 bits
  overflow.PutVarint(2);
  overflow.PutVarint(0xFFFFFFFFu);
  overflow.PutVarint(1);
  overflow.PutVarint(1);
  overflow.PutVarint(1);
  overflow.PutVarint(0);
  EXPECT_FALSE(decode(overflow));
  Encoder cloud;  // cloud not sorted
  cloud.PutVarint(0);
  cloud.PutVarint(2);
  cloud.PutDot(Dot{kB, 5});
  cloud.PutDot(Dot{kA, 5});
  EXPECT_FALSE(decode(cloud));
  Encoder huge;  // a count the input cannot hold
  huge.PutVarint(uint64_t{1} << 60);
  huge.PutVarint(1);
  EXPECT_FALSE(decode(huge));
  Encoder dot0;  // a cloud dot with counter 0
  dot0.PutVarint(0);
  dot0.PutVarint(1);
  dot0.PutDot(Dot{kA, 0});
  EXPECT_FALSE(decode(dot0));
}

}  // namespace
}  // namespace crdt
