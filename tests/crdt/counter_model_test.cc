// Integer counters (crdt/pn_counter.h) against an independent model, with values near and
// beyond the +/-2^59 bound: exact sums after any merge, the bound rule at the origin, a new
// life after a reset, and zero steps that are live. Deltas are delivered late, out of order
// and duplicated, and whole states are merged, as replication does.
//
// The model keeps events, not totals: every increment is (origin, index, by, life), with
// per-origin indexes 1, 2, ... across lives. A replica's knowledge of origin r is two
// indexes: how far into r's increments it knows (a counter delta carries its origin's
// cumulative totals, so knowledge is prefix-closed) and how far it knows them cancelled
// (the prefix a reset observed, or the origin's own cancellation carried by its delta).
// Its view is the exact (128-bit) sum of the known, uncancelled increments of r's latest
// known life. The origin's rules are restated here from the header, independently: the
// bound (inside +/-2^59, or not farther out than now and within 64 bits), and a new life
// when a fully cancelled origin's life totals are past 2^63 or would pass 2^64 (a live
// one refuses).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/dot.h"
#include "crdt/pn_counter.h"
#include "test_util.h"

namespace crdt_test {
namespace {

using crdt::Int128;
using crdt::PnCounter;

constexpr int64_t kBound = PnCounter::kBound;
constexpr Int128 kU64Max = std::numeric_limits<uint64_t>::max();

crdt::ReplicaId Replica(int i) { return crdt::MakeReplicaId(static_cast<uint16_t>(i + 1), 1); }

class CounterModel {
 public:
  struct Event {
    bool reset = false;
    int who = 0;
    int64_t by = 0;           // increments
    int index = 0;            // increments: 1-based among who's increments
    int life = 0;             // increments
    int self_cancel = 0;      // increments: how far who knew its own increments cancelled
    std::vector<int> prefix;  // resets: the observed prefix of every origin
  };

  explicit CounterModel(int n)
      : n_(n), known_(n, std::vector<int>(n, 0)), cancelled_(n, std::vector<int>(n, 0)) {}

  // The exact view of replica v, and whether some increment in it is live.
  Int128 View(int v, bool* live) const {
    Int128 sum = 0;
    *live = false;
    for (int r = 0; r < n_; ++r) {
      const int last = known_[v][r];
      if (last == 0) continue;
      const int life = IncrOf(r, last).life;
      for (const Event& e : events_) {
        if (e.reset || e.who != r || e.index > last || e.index <= cancelled_[v][r]) continue;
        if (e.life != life) continue;
        sum += e.by;
        *live = true;
      }
    }
    return sum;
  }

  // INCRBY at `who`: the event, or nullopt when the origin must refuse it.
  std::optional<int> Incr(int who, int64_t by) {
    bool live = false;
    const Int128 cur = View(who, &live), next = cur + by;
    const bool inside = next >= -kBound && next <= kBound;
    const bool fits =
        next >= std::numeric_limits<int64_t>::min() && next <= std::numeric_limits<int64_t>::max();
    const bool not_farther = next > 0 ? next <= cur : next >= cur;
    if (!inside && !(fits && not_farther)) return std::nullopt;
    // Life totals of who's current life (each step moves up, down, or both for 0).
    const int last = known_[who][who];
    int life = last == 0 ? 0 : IncrOf(who, last).life;
    Int128 up = 0, down = 0;
    for (const Event& e : events_) {
      if (e.reset || e.who != who || e.life != life) continue;
      up += e.by > 0 ? Int128(e.by) : e.by == 0 ? 1 : 0;
      down += e.by < 0 ? -Int128(e.by) : e.by == 0 ? 1 : 0;
    }
    const Int128 my_up = by > 0 ? Int128(by) : by == 0 ? 1 : 0;
    const Int128 my_down = by < 0 ? -Int128(by) : by == 0 ? 1 : 0;
    const bool cancelled = last > 0 && cancelled_[who][who] >= last;
    if (cancelled && (up > kU64Max / 2 || down > kU64Max / 2)) {
      ++life;  // a new life: all of the old one cancelled, past half its range
      ++lives_;
    } else if (up + my_up > kU64Max || down + my_down > kU64Max) {
      if (!cancelled) return std::nullopt;  // live: refused
      ++life;                               // a new life
      ++lives_;
    }
    Event e;
    e.who = who;
    e.by = by;
    e.index = ++count_[who];
    e.life = life;
    e.self_cancel = cancelled_[who][who];
    events_.push_back(e);
    Deliver(static_cast<int>(events_.size()) - 1, who);
    return static_cast<int>(events_.size()) - 1;
  }
  int Reset(int who) {
    Event e;
    e.reset = true;
    e.who = who;
    e.prefix = known_[who];
    events_.push_back(e);
    Deliver(static_cast<int>(events_.size()) - 1, who);
    return static_cast<int>(events_.size()) - 1;
  }
  void Deliver(int id, int to) {
    const Event& e = events_[id];
    if (e.reset) {
      for (int r = 0; r < n_; ++r) {
        known_[to][r] = std::max(known_[to][r], e.prefix[r]);
        cancelled_[to][r] = std::max(cancelled_[to][r], e.prefix[r]);
      }
    } else {
      known_[to][e.who] = std::max(known_[to][e.who], e.index);
      cancelled_[to][e.who] = std::max(cancelled_[to][e.who], e.self_cancel);
    }
  }
  void MergeState(int from, int to) {
    for (int r = 0; r < n_; ++r) {
      known_[to][r] = std::max(known_[to][r], known_[from][r]);
      cancelled_[to][r] = std::max(cancelled_[to][r], cancelled_[from][r]);
    }
  }
  int lives() const { return lives_; }

 private:
  const Event& IncrOf(int who, int index) const {
    for (const Event& e : events_) {
      if (!e.reset && e.who == who && e.index == index) return e;
    }
    return events_.front();  // unreachable: indexes are known only once made
  }

  int n_;
  std::vector<Event> events_;
  std::vector<std::vector<int>> known_, cancelled_;  // [viewer][origin]
  int count_[8] = {};
  int lives_ = 0;
};

struct Figures {
  int ops = 0, refused = 0, outside_bound = 0, beyond_int64 = 0, lives = 0, zero_steps = 0;
};

// Steps: mode 0 small (-3..3, zeros included), 1 near the bound and the 64-bit limits, 2 one
// replica swinging by 2^59 until its life totals pass 2^64, 3 (in RunOne) replicas swinging
// their views from one end of the range to the other, so that concurrent swings compound
// past 64 bits.
int64_t RandomStep(Rng& rng, int mode) {
  if (mode == 0 || mode == 3) return rng.Range(-3, 3);
  if (mode == 2) return rng.OneIn(8) ? rng.Range(-2, 2) : (rng.OneIn(2) ? kBound : -kBound);
  switch (rng.Uniform(7)) {
    case 0:
      return rng.OneIn(2) ? kBound : -kBound;
    case 1:
      return (rng.OneIn(2) ? kBound : -kBound) - rng.Range(-3, 3);
    case 2:
      return rng.OneIn(2) ? std::numeric_limits<int64_t>::max()
                          : std::numeric_limits<int64_t>::min();
    case 3:
      return rng.Range(-3, 3);
    case 4:
      return rng.Range(-2 * kBound, 2 * kBound);
    default:
      return (rng.OneIn(2) ? 1 : -1) * (kBound / 2 + rng.Range(0, kBound / 2));
  }
}

bool RunOne(uint64_t seed, Figures* fig, std::string* why) {
  Rng rng(seed);
  const int n = 2 + rng.Index(3);
  const int mode = static_cast<int>(seed % 4);
  CounterModel model(n);
  std::vector<PnCounter> reps;
  for (int i = 0; i < n; ++i) reps.emplace_back(Replica(i));
  struct Pending {
    PnCounter delta;
    int event;
    int to;
  };
  std::vector<Pending> pending;
  Trace trace;
  auto check = [&](int v) {
    bool live = false;
    const Int128 want = model.View(v, &live);
    std::string err;
    if (reps[v].Value() != want || reps[v].Live() != live) {
      *why = "replica " + std::to_string(v) + " shows " + crdt::FormatInt128(reps[v].Value()) +
             (reps[v].Live() ? " live" : " dead") + ", the model " + crdt::FormatInt128(want) +
             (live ? " live" : " dead") + "\n" + trace.ToString();
      return false;
    }
    auto back = PnCounter::Decode(reps[v].Encode(), &err);
    if (!back || !(*back == reps[v])) {
      *why = "encode/decode of replica " + std::to_string(v) + ": " + err + "\n" + trace.ToString();
      return false;
    }
    if (want > kBound || want < -kBound) ++fig->outside_bound;
    if (want > std::numeric_limits<int64_t>::max() || want < std::numeric_limits<int64_t>::min()) {
      ++fig->beyond_int64;
    }
    return true;
  };
  for (int step = 0; step < 400; ++step) {
    const uint64_t what = rng.Uniform(10);
    if (what < 4) {  // an increment
      const int who = mode == 2 && !rng.OneIn(4) ? 0 : rng.Index(n);
      int64_t by = RandomStep(rng, mode);
      if (mode == 3 && !rng.OneIn(4)) {  // a swing of the view to the far end of the range
        const Int128 view = reps[who].Value();
        const Int128 swing = (view > 0 ? -Int128(kBound) : Int128(kBound)) - view;
        by = swing > std::numeric_limits<int64_t>::max()   ? std::numeric_limits<int64_t>::max()
             : swing < std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::min()
                                                           : static_cast<int64_t>(swing);
      }
      ++fig->ops;
      fig->zero_steps += by == 0;
      const Int128 before = reps[who].Value();
      std::optional<int> ev = model.Incr(who, by);
      PnCounter delta(Replica(who));
      int64_t result = 0;
      const bool ok = reps[who].IncrementAs(Replica(who), by, 0, &delta, &result);
      trace.Add(std::to_string(who) + " INCRBY " + std::to_string(by) + (ok ? " ok" : " refused"));
      if (ok != ev.has_value()) {
        *why = "replica " + std::to_string(who) + " " + (ok ? "accepted" : "refused") + " INCRBY " +
               std::to_string(by) + " on " + crdt::FormatInt128(before) +
               "; the model disagrees\n" + trace.ToString();
        return false;
      }
      if (!ok) {
        ++fig->refused;
        if (!delta.empty() || reps[who].Value() != before) {
          *why = "a refused step changed something\n" + trace.ToString();
          return false;
        }
        continue;
      }
      if (Int128(result) != before + by) {
        *why = "reply " + std::to_string(result) + " is not the view plus the step\n" +
               trace.ToString();
        return false;
      }
      for (int to = 0; to < n; ++to) {
        if (to != who) pending.push_back({delta, *ev, to});
      }
      if (!check(who)) return false;
    } else if (what < 5) {  // a reset (DEL / SET)
      const int who = mode == 2 && rng.OneIn(2) ? 0 : rng.Index(n);
      const int ev = model.Reset(who);
      PnCounter delta = reps[who].Reset();
      trace.Add(std::to_string(who) + " RESET");
      for (int to = 0; to < n; ++to) {
        if (to != who) pending.push_back({delta, ev, to});
      }
      if (!check(who)) return false;
    } else if (what < 9 && !pending.empty()) {  // a delta, in any order, maybe twice
      const size_t i = rng.Uniform(pending.size());
      Pending p = pending[i];
      if (!rng.OneIn(4)) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      reps[p.to].Merge(p.delta);
      model.Deliver(p.event, p.to);
      trace.Add("deliver event " + std::to_string(p.event) + " to " + std::to_string(p.to));
      if (!check(p.to)) return false;
    } else {  // a whole state
      const int from = rng.Index(n), to = rng.Index(n);
      reps[to].Merge(reps[from]);
      model.MergeState(from, to);
      trace.Add("state of " + std::to_string(from) + " to " + std::to_string(to));
      if (!check(to)) return false;
    }
  }
  // Everything everywhere: one value, the model's.
  for (int round = 0; round < 2; ++round) {
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        reps[b].Merge(reps[a]);
        model.MergeState(a, b);
      }
    }
  }
  for (int v = 0; v < n; ++v) {
    if (!check(v)) return false;
    if (!(reps[v] == reps[0])) {
      *why = "replicas differ after full delivery\n" + trace.ToString();
      return false;
    }
  }
  fig->lives += model.lives();
  for (const PnCounter::Slot& s : reps[0].slots()) {
    if (static_cast<int>(s.epoch) > model.lives()) {
      *why = "a slot has more lives than the model\n" + trace.ToString();
      return false;
    }
  }
  return true;
}

TEST(CounterModelTest, ExactViewsBoundLivesAndZeroSteps) {
  Figures fig;
  for (uint64_t seed : TestSeeds(300, 0x17c0)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(RunOne(seed, &fig, &why)) << "seed=" << seed << ": " << why;
  }
  std::printf(
      "counter model: %d increments (%d zero steps), %d refused at the origin, %d views "
      "outside +/-2^59, %d beyond 64 bits, %d new lives\n",
      fig.ops, fig.zero_steps, fig.refused, fig.outside_bound, fig.beyond_int64, fig.lives);
  // The runs reach every case they are about.
  EXPECT_GT(fig.zero_steps, 0);
  EXPECT_GT(fig.refused, 0);
  EXPECT_GT(fig.outside_bound, 0);
  EXPECT_GT(fig.beyond_int64, 0);
  EXPECT_GT(fig.lives, 0);
}

}  // namespace
}  // namespace crdt_test
