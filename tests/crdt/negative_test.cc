// Negative tests (FoundationDB's SimBugInjector idea): deliberately broken CRDTs run through
// the very checkers the real types pass (CheckLatticeLaws, CheckConvergence in
// properties.h), which must find a counterexample within a few dozen seeds. This shows
// the property suite can fail, and what it reports when it does.
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

// Fixed seeds even under AASIM_SEED: these tests expect a failure somewhere among them.
std::vector<uint64_t> NegativeSeeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= 30; ++s) seeds.push_back(s);
  return seeds;
}

// ---- broken type 1: a last-write-wins register without a tie-break ----
// Merge keeps the other side's value when the timestamps are equal, so x ⊔ y != y ⊔ x, and
// it ignores causality (a write that observed another does not always beat it).
class LwwNoTieBreak {
 public:
  LwwNoTieBreak() = default;
  explicit LwwNoTieBreak(crdt::ReplicaId) {}

  LwwNoTieBreak Set(const std::string& value, int64_t ts) {
    has_ = true;
    ts_ = ts;
    value_ = value;
    return *this;
  }
  void Merge(const LwwNoTieBreak& o) {
    if (o.has_ && (!has_ || o.ts_ >= ts_)) {  // BUG: ties go to `o`
      has_ = true;
      ts_ = o.ts_;
      value_ = o.value_;
    }
  }
  std::string Visible() const { return has_ ? value_ + "@" + std::to_string(ts_) : "-"; }
  friend bool operator==(const LwwNoTieBreak&, const LwwNoTieBreak&) = default;

 private:
  bool has_ = false;
  int64_t ts_ = 0;
  std::string value_;
};

struct LwwNoTieBreakTraits {
  using Crdt = LwwNoTieBreak;
  static constexpr bool kHasLocalView = false;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Visible(); }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    std::string v(1, static_cast<char>('a' + c.rng.Uniform(4)));
    r.desc = "SET " + v + " @" + std::to_string(c.ts);
    r.delta = x.Set(v, c.ts);
    r.op = c.model.Write(c.who, SemanticsModel::Str(""), v, c.ts);
    return r;
  }
  static std::string Visible(const Crdt& x) { return x.Visible(); }
  static std::string ModelVisible(const SemanticsModel& m) {
    return WinnerString(m.RegisterWinner(SemanticsModel::Str(""), -1));
  }
  static std::string LocalVisible(const Crdt&) { return ""; }
  static std::string ModelLocalVisible(const SemanticsModel&, int) { return ""; }
};

// ---- broken type 2: an observed-remove set whose merge ignores the causal context ----
// Merge is a plain union of tagged adds: a valid join-semilattice, so idempotence,
// commutativity and associativity hold, but a remove cannot travel: the join of a
// replica's deltas is not its state, and removed elements come back.
class UnionOrSet {
 public:
  UnionOrSet() = default;
  explicit UnionOrSet(crdt::ReplicaId self) : self_(self) {}

  UnionOrSet Add(const std::string& e) {
    const crdt::Dot d{self_, ++counter_};
    tags_[e] = {d};
    UnionOrSet delta;
    delta.tags_[e] = {d};
    return delta;
  }
  UnionOrSet Remove(const std::string& e) {
    tags_.erase(e);
    return UnionOrSet();  // BUG: a plain union has no way to carry the removal
  }
  void Merge(const UnionOrSet& o) {
    for (const auto& [e, dots] : o.tags_) tags_[e].insert(dots.begin(), dots.end());
  }
  std::vector<std::string> Elements() const {
    std::vector<std::string> out;
    for (const auto& [e, dots] : tags_) out.push_back(e);
    return out;
  }
  std::string Encode() const {
    std::string s;
    for (const auto& [e, dots] : tags_) {
      s += e + ":";
      for (const crdt::Dot& d : dots) {
        s += std::to_string(d.replica) + "." + std::to_string(d.counter) + ",";
      }
      s += ";";
    }
    return s;
  }
  friend bool operator==(const UnionOrSet& a, const UnionOrSet& b) { return a.tags_ == b.tags_; }

 private:
  crdt::ReplicaId self_ = 0;
  uint64_t counter_ = 0;
  std::map<std::string, std::set<crdt::Dot>> tags_;
};

struct UnionOrSetTraits {
  using Crdt = UnionOrSet;
  static constexpr bool kHasLocalView = true;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    std::string m(1, static_cast<char>('w' + c.rng.Uniform(4)));
    if (c.rng.Uniform(10) < 6) {
      r.desc = "SADD " + m;
      r.delta = x.Add(m);
      r.op = c.model.Add(c.who, "", m);
    } else {
      r.desc = "SREM " + m;
      r.delta = x.Remove(m);
      r.op = c.model.Remove(c.who, "", m);
    }
    return r;
  }
  static std::string Visible(const Crdt& x) { return JoinStrings(x.Elements()); }
  static std::string ModelVisible(const SemanticsModel& m) {
    return JoinStrings(m.Members("", -1));
  }
  static std::string LocalVisible(const Crdt& x) { return Visible(x); }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    return JoinStrings(m.Members("", who));
  }
};

// ---- broken type 3: a counter whose merge adds the other side's value ----
// Right for exactly-once delivery only: merge is not idempotent, duplicates double-count.
class SummingCounter {
 public:
  SummingCounter() = default;
  explicit SummingCounter(crdt::ReplicaId) {}
  SummingCounter Increment(int64_t by) {
    value_ += by;
    SummingCounter d;
    d.value_ = by;
    return d;
  }
  void Merge(const SummingCounter& o) { value_ += o.value_; }  // BUG: not idempotent
  int64_t value() const { return value_; }
  friend bool operator==(const SummingCounter&, const SummingCounter&) = default;

 private:
  int64_t value_ = 0;
};

struct SummingCounterTraits {
  using Crdt = SummingCounter;
  static constexpr bool kHasLocalView = false;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return std::to_string(x.value()); }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    int64_t by = NonZero(c.rng, 5);
    r.desc = "INCRBY " + std::to_string(by);
    r.delta = x.Increment(by);
    r.op = c.model.Incr(c.who, SemanticsModel::Str(""), by);
    return r;
  }
  static std::string Visible(const Crdt& x) { return std::to_string(x.value()); }
  static std::string ModelVisible(const SemanticsModel& m) {
    bool live = false;
    return std::to_string(m.CounterSum(SemanticsModel::Str(""), &live));
  }
  static std::string LocalVisible(const Crdt&) { return ""; }
  static std::string ModelLocalVisible(const SemanticsModel&, int) { return ""; }
};

// ---- the checks ----

template <typename Traits>
bool LatticeCounterexample(uint64_t* seed, std::string* why) {
  return FirstFailingSeed([](uint64_t s, std::string* w) { return CheckLatticeLaws<Traits>(s, w); },
                          NegativeSeeds(), seed, why);
}
template <typename Traits>
bool ConvergenceCounterexample(uint64_t* seed, std::string* why) {
  return FirstFailingSeed([](uint64_t s, std::string* w) { return CheckConvergence<Traits>(s, w); },
                          NegativeSeeds(), seed, why);
}

// Shows the first line of the counterexample in the test log.
void Report(const char* what, uint64_t seed, const std::string& why) {
  std::cout << "[ caught   ] " << what << ": seed " << seed << ": " << why.substr(0, why.find('\n'))
            << "\n";
}

TEST(NegativeTest, LwwWithoutTieBreakFailsTheLatticeLaws) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(LatticeCounterexample<LwwNoTieBreakTraits>(&seed, &why));
  Report("LWW without tie-break (laws)", seed, why);
  // Among the seeds, some counterexample is the textbook one: x ⊔ y != y ⊔ x on a tie.
  int commutativity = 0;
  for (uint64_t s : NegativeSeeds()) {
    std::string w;
    if (!CheckLatticeLaws<LwwNoTieBreakTraits>(s, &w)) {
      commutativity += w.find("commutativity") != std::string::npos;
    }
  }
  EXPECT_GT(commutativity, 0);
}

TEST(NegativeTest, LwwWithoutTieBreakFailsConvergence) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(ConvergenceCounterexample<LwwNoTieBreakTraits>(&seed, &why));
  Report("LWW without tie-break (convergence)", seed, why);
}

TEST(NegativeTest, UnionSetFailsDeltaEqualsState) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(LatticeCounterexample<UnionOrSetTraits>(&seed, &why));
  Report("OR-set with plain-union merge (laws)", seed, why);
  EXPECT_EQ(why.find("commutativity"), std::string::npos) << "a union is commutative: " << why;
  EXPECT_NE(why.find("delta"), std::string::npos) << why;  // a delta law fails
}

TEST(NegativeTest, UnionSetFailsConvergence) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(ConvergenceCounterexample<UnionOrSetTraits>(&seed, &why));
  Report("OR-set with plain-union merge (convergence)", seed, why);
}

TEST(NegativeTest, SummingCounterFailsIdempotence) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(LatticeCounterexample<SummingCounterTraits>(&seed, &why));
  Report("counter with summing merge (laws)", seed, why);
  EXPECT_NE(why.find("idempotence"), std::string::npos) << why;
}

TEST(NegativeTest, SummingCounterFailsConvergence) {
  uint64_t seed = 0;
  std::string why;
  ASSERT_TRUE(ConvergenceCounterexample<SummingCounterTraits>(&seed, &why));
  Report("counter with summing merge (convergence)", seed, why);
}

// The real types pass the very same seeds.
TEST(NegativeTest, RealTypesPassTheSameSeeds) {
  uint64_t seed = 0;
  std::string why;
  EXPECT_FALSE(LatticeCounterexample<LwwRegisterTraits>(&seed, &why)) << why;
  EXPECT_FALSE(ConvergenceCounterexample<LwwRegisterTraits>(&seed, &why)) << why;
  EXPECT_FALSE(LatticeCounterexample<AwOrSetTraits>(&seed, &why)) << why;
  EXPECT_FALSE(ConvergenceCounterexample<AwOrSetTraits>(&seed, &why)) << why;
  EXPECT_FALSE(LatticeCounterexample<PnCounterTraits>(&seed, &why)) << why;
  EXPECT_FALSE(ConvergenceCounterexample<PnCounterTraits>(&seed, &why)) << why;
}

}  // namespace
}  // namespace crdt_test
