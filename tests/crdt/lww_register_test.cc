// LwwRegister / RegisterStore: causal precedence first, then wall clock, then site order.
#include "crdt/lww_register.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "test_util.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);
constexpr ReplicaId kB = MakeReplicaId(2, 1);

TEST(LwwRegisterTest, SetAndClear) {
  LwwRegister r(kA);
  EXPECT_EQ(r.Value(), std::nullopt);
  r.Set("x", 10);
  EXPECT_EQ(r.Value(), "x");
  r.Set("y", 5);  // observed x: wins whatever the clock says
  EXPECT_EQ(r.Value(), "y");
  EXPECT_EQ(r.store().writes().size(), 1u);
  r.Clear();
  EXPECT_EQ(r.Value(), std::nullopt);
  EXPECT_TRUE(r.store().empty());
  EXPECT_EQ(r.context().Max(kA), 2u);
}

TEST(LwwRegisterTest, ConcurrentWritesCoexistUntilObserved) {
  LwwRegister a(kA), b(kB);
  LwwRegister da = a.Set("a", 100);
  LwwRegister db = b.Set("b", 200);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a.store().writes().size(), 2u);
  EXPECT_EQ(a.Value(), "b");  // higher timestamp
  EXPECT_EQ(a, b);
  EXPECT_GT(a.store().HeapBytes(), 0u);  // the second write needs a heap block
  LwwRegister cleared = a;
  cleared.Clear();
  EXPECT_EQ(cleared.store().HeapBytes(), 0u);
  LwwRegister dc = a.Set("c", 1);  // observed both
  b.Merge(dc);
  EXPECT_EQ(b.store().writes().size(), 1u);
  EXPECT_EQ(b.Value(), "c");
  // Back to one write, both sides free the block (the write and the join).
  EXPECT_EQ(a.store().HeapBytes(), 0u);
  EXPECT_EQ(b.store().HeapBytes(), 0u);
}

// JoinWrite into a register of two concurrent writes: with a write that observed both (the
// next write after a conflict, its shortcut) that write alone, inline again, and with a
// write that observed one of them the other kept beside it: register_rule::Join's result
// each time.
TEST(LwwRegisterTest, JoinWriteIntoConcurrentWrites) {
  const ReplicaId kC = MakeReplicaId(3, 1);
  LwwRegister a(kA), b(kB), c(kC);
  LwwRegister da = a.Set("a", 100);
  LwwRegister db = b.Set("b", 200);
  a.Merge(db);
  b.Merge(da);
  c.Merge(da);
  const LwwRegister observed_both = a.Set("c", 300);
  const LwwRegister observed_one = c.Set("d", 400);
  for (const LwwRegister* delta : {&observed_both, &observed_one}) {
    const RegisterStore::Write& w = delta->store().writes()[0];
    RegisterStore joined = b.store();
    ASSERT_EQ(joined.writes().size(), 2u);
    joined.JoinWrite(w.dot, w.timestamp_us, w.value, b.context(), delta->context());
    RegisterStore::Writes general = b.store().writes();
    register_rule::Join(&general, delta->store().writes(), b.context(), delta->context());
    EXPECT_TRUE(joined.writes() == general);
    if (delta == &observed_both) {
      ASSERT_EQ(joined.writes().size(), 1u);
      EXPECT_EQ(joined.writes()[0].value, "c");
      EXPECT_EQ(joined.HeapBytes(), 0u);  // back inline
    } else {
      ASSERT_EQ(joined.writes().size(), 2u);
      EXPECT_EQ(joined.writes()[0].value, "b");
      EXPECT_EQ(joined.writes()[1].value, "d");
    }
  }
}

TEST(LwwRegisterTest, WriteThatObservedAnotherBeatsItWithALowerTimestamp) {
  LwwRegister a(kA), b(kB);
  b.Merge(a.Set("old", 1'000'000));
  LwwRegister late = b.Set("new", 500);  // B's clock is behind
  a.Merge(late);
  EXPECT_EQ(a.Value(), "new");
  EXPECT_EQ(b.Value(), "new");
}

TEST(LwwRegisterTest, EqualTimestampsGoToTheLowerSite) {
  for (bool a_first : {true, false}) {
    SCOPED_TRACE(a_first);
    LwwRegister a(MakeReplicaId(1, 9)), b(MakeReplicaId(2, 1));
    LwwRegister da = a.Set("from-site-1", 42);
    LwwRegister db = b.Set("from-site-2", 42);
    LwwRegister x;
    if (a_first) {
      x.Merge(da);
      x.Merge(db);
    } else {
      x.Merge(db);
      x.Merge(da);
    }
    EXPECT_EQ(x.Value(), "from-site-1");
  }
}

TEST(LwwRegisterTest, BeatsOrder) {
  using W = RegisterStore::Write;
  const W hi{Dot{MakeReplicaId(9, 1), 1}, 10, "hi"};
  const W lo{Dot{MakeReplicaId(1, 1), 1}, 9, "lo"};
  EXPECT_TRUE(RegisterStore::Beats(hi, lo));  // timestamp first
  EXPECT_FALSE(RegisterStore::Beats(lo, hi));
  const W s1{Dot{MakeReplicaId(1, 7), 5}, 10, "s1"};
  const W s2{Dot{MakeReplicaId(2, 1), 1}, 10, "s2"};
  EXPECT_TRUE(RegisterStore::Beats(s1, s2));  // then the lower site
  EXPECT_FALSE(RegisterStore::Beats(s2, s1));
  const W old_inc{Dot{MakeReplicaId(1, 1), 3}, 10, "old"};
  const W new_inc{Dot{MakeReplicaId(1, 2), 1}, 10, "new"};
  EXPECT_TRUE(RegisterStore::Beats(old_inc, new_inc));  // then the lower replica id / dot
  EXPECT_FALSE(RegisterStore::Beats(s1, s1));
}

TEST(LwwRegisterTest, ClockSkewPicksTheSkewedWinner) {
  // A's clock runs 40 ms ahead. B writes 10 ms later in real time, concurrently.
  constexpr int64_t kSkewUs = 40'000;
  LwwRegister a(kA), b(kB);
  LwwRegister da = a.Set("written-first-at-A", 1'000'000 + kSkewUs);
  LwwRegister db = b.Set("written-later-at-B", 1'010'000);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a.Value(), "written-first-at-A");
  EXPECT_EQ(b.Value(), "written-first-at-A");
}

TEST(LwwRegisterTest, ClearOnlyRemovesObservedWrites) {
  LwwRegister a(kA), b(kB);
  LwwRegister db = b.Set("b", 1);  // not seen by A
  a.Merge(a.Set("a", 2));
  LwwRegister clear = a.Clear();
  a.Merge(db);
  b.Merge(clear);
  EXPECT_EQ(a.Value(), "b");
  EXPECT_EQ(a, b);
}

TEST(LwwRegisterTest, EncodeDecode) {
  LwwRegister a(kA), b(kB);
  a.Merge(b.Set(std::string("bin\0ary", 7), -5));
  a.Set("x", INT64_MIN);
  b.Set("y", INT64_MAX);
  a.Merge(b);
  std::string error;
  auto back = LwwRegister::Decode(a.Encode(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  EXPECT_EQ(back->Value(), "y");
}

TEST(LwwRegisterTest, DecodeRejectsAWriteOutsideItsContext) {
  Encoder enc;
  enc.PutVarint(1);  // one write
  enc.PutDot(Dot{kA, 3});
  enc.PutSigned(1);
  enc.PutBytes("v");
  enc.PutVarint(1);  // context {A: 2}
  enc.PutVarint(kA);
  enc.PutVarint(2);
  enc.PutVarint(0);
  std::string error;
  EXPECT_FALSE(LwwRegister::Decode(enc.str(), &error));
  EXPECT_EQ(error, "register write outside its causal context");
}

// The rule RegisterStore::Assign implements, written plainly: every write (and the delta's)
// replaced by a new write of a new string; a register's block of concurrent writes freed.
void AssignByReplacing(RegisterStore::Writes* ws, ReplicaId r, RegisterStore::Write w,
                       CausalContext* cc, RegisterStore::Writes* delta, CausalContext* delta_cc) {
  if (delta_cc) {
    for (const auto& old : *ws) delta_cc->Add(old.dot);
  }
  ws->clear();
  ws->shrink_to_fit();
  w.dot = cc->Next(r);
  ws->push_back(std::move(w));
  if (delta) {
    delta->clear();
    delta->push_back(ws->back());
  }
  if (delta_cc) delta_cc->Add(ws->back().dot);
}

// RegisterStore::Assign builds its write in place (a register's one write and its delta's
// take the new fields); AssignByReplacing replaces the writes by a new one. On registers of 0 to 3
// concurrent writes, deltas of 0 to 2 and values short and long (inline and heap strings, either
// way): the same writes, contexts and capacities.
TEST(LwwRegisterTest, AssignInPlaceMatchesTheGeneralRule) {
  for (uint64_t seed : crdt_test::TestSeeds(8, 0xa55)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    auto value = [&] {
      return std::string(rng.Uniform(40), static_cast<char>('a' + rng.Uniform(26)));
    };
    std::vector<LwwRegister> regs;
    for (uint32_t site = 1; site <= 3; ++site) regs.emplace_back(MakeReplicaId(site, 1));
    for (int step = 0; step < 300; ++step) {
      const uint64_t r = rng.Uniform(regs.size());
      LwwRegister& at = regs[r];
      const ReplicaId self = MakeReplicaId(static_cast<uint32_t>(r + 1), 1);
      if (rng.OneIn(3)) {  // concurrent writes meet
        at.Merge(regs[rng.Uniform(regs.size())]);
        continue;
      }
      const LwwRegister& other = regs[rng.Uniform(regs.size())];
      RegisterStore store = at.store();
      CausalContext cc = at.context();
      RegisterStore delta = rng.OneIn(2) ? RegisterStore() : other.store();  // a batch's
      CausalContext delta_cc = other.context();
      RegisterStore::Writes writes = store.writes();
      CausalContext general_cc = cc;
      RegisterStore::Writes general_delta = delta.writes();
      CausalContext general_delta_cc = delta_cc;
      const std::string v = value();
      const int64_t ts = rng.Range(0, 1000);
      const bool with_delta = !rng.OneIn(4);
      store.Assign(self, ts, v, &cc, with_delta ? &delta : nullptr,
                   with_delta ? &delta_cc : nullptr);
      AssignByReplacing(&writes, self, RegisterStore::Write{Dot{}, ts, v}, &general_cc,
                        with_delta ? &general_delta : nullptr,
                        with_delta ? &general_delta_cc : nullptr);
      ASSERT_TRUE(store.writes() == writes);
      ASSERT_TRUE(cc == general_cc);
      ASSERT_TRUE(delta.writes() == general_delta);
      ASSERT_TRUE(delta_cc == general_delta_cc);
      ASSERT_EQ(store.writes().HeapBytes(), writes.HeapBytes());
      for (size_t i = 0; i < writes.size(); ++i) {
        ASSERT_EQ(store.writes()[i].value.capacity(), writes[i].value.capacity());
      }
      for (size_t i = 0; i < general_delta.size(); ++i) {
        ASSERT_EQ(delta.writes()[i].value.capacity(), general_delta[i].value.capacity());
      }
      at.Set(v, ts);  // the register itself moves on
    }
  }
}

// Assign given a view of the register's own value: a long one (on the heap, replaced by a
// new string) written over the register's one write and a batch's delta holding one, and
// one of two concurrent writes (dropped for the new one). The value written is the view's
// text, read before anything it points into changes (ASan flags a read of freed memory).
TEST(LwwRegisterTest, AssignTakesAViewOfItsOwnValue) {
  const std::string long_value(40, 'x');
  CausalContext cc;
  RegisterStore store;
  store.Assign(MakeReplicaId(1, 1), 1, long_value, &cc, nullptr, nullptr);
  RegisterStore delta;
  CausalContext delta_cc;
  store.Assign(MakeReplicaId(1, 1), 2, long_value + "y", &cc, &delta, &delta_cc);
  store.Assign(MakeReplicaId(1, 1), 3, store.writes()[0].value, &cc, &delta, &delta_cc);
  ASSERT_EQ(store.writes().size(), 1u);
  EXPECT_EQ(store.writes()[0].value, long_value + "y");
  ASSERT_EQ(delta.writes().size(), 1u);
  EXPECT_EQ(delta.writes()[0].value, long_value + "y");

  LwwRegister a(MakeReplicaId(1, 1));
  LwwRegister b(MakeReplicaId(2, 1));
  a.Set(long_value + "a", 5);
  b.Set(long_value + "b", 5);
  a.Merge(b);
  RegisterStore both = a.store();
  CausalContext both_cc = a.context();
  ASSERT_EQ(both.writes().size(), 2u);
  both.Assign(MakeReplicaId(1, 1), 6, both.writes()[1].value, &both_cc, nullptr, nullptr);
  ASSERT_EQ(both.writes().size(), 1u);
  EXPECT_EQ(both.writes()[0].value, long_value + "b");
}

// RegisterStore::JoinWrite (an effect's one write joined from its bytes, in place) against
// register_rule::Join of copies of both sides' writes (not RegisterStore::Join, which
// takes JoinWrite for one write each side): registers of 0 to 3 concurrent writes, from
// three replicas that write, merge, miss each other's writes and get them late or twice.
TEST(LwwRegisterTest, JoinWriteMatchesTheGeneralJoin) {
  for (uint64_t seed : crdt_test::TestSeeds(8, 0x10e)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    size_t concurrent = 0;  // joins into two or more writes
    crdt_test::Rng rng(seed);
    std::vector<LwwRegister> regs;
    for (uint32_t site = 1; site <= 3; ++site) regs.emplace_back(MakeReplicaId(site, 1));
    std::vector<LwwRegister> deltas;  // each holds one write
    for (int step = 0; step < 300; ++step) {
      LwwRegister& at = regs[rng.Uniform(regs.size())];
      LwwRegister& from = regs[rng.Uniform(regs.size())];
      if (rng.OneIn(3)) {
        // A new write, or an old one delivered late or again (observed, maybe overwritten).
        if (deltas.empty() || rng.OneIn(2)) {
          deltas.push_back(from.Set("v" + std::to_string(step), rng.Range(0, 50)));
        }
        const LwwRegister& delta = deltas[rng.Uniform(deltas.size())];
        const RegisterStore::Write& w = delta.store().writes()[0];
        RegisterStore joined = at.store();
        joined.JoinWrite(w.dot, w.timestamp_us, w.value, at.context(), delta.context());
        RegisterStore::Writes general = at.store().writes();  // the rule, on copied writes
        register_rule::Join(&general, delta.store().writes(), at.context(), delta.context());
        ASSERT_TRUE(joined.writes() == general) << step;
        // A register of one write or none holds no heap block (its values are short).
        if (joined.writes().size() <= 1) {
          ASSERT_EQ(joined.HeapBytes(), 0u) << step;
        }
        concurrent += at.store().writes().size() >= 2 ? 1 : 0;
        if (rng.OneIn(2)) at.Merge(delta);  // else this replica misses it for now
      } else if (rng.OneIn(2)) {
        at.Merge(from);
      } else {
        at.Set("w" + std::to_string(step), rng.Range(0, 50));
      }
      if (at.store().writes().size() <= 1) {
        ASSERT_EQ(at.store().HeapBytes(), 0u) << step;
      }
    }
    EXPECT_GT(concurrent, 5u);  // the in-place join of concurrent writes ran
  }
}

}  // namespace
}  // namespace crdt
