// Property checkers for the crdt module, shared by lattice_laws_test.cc, convergence_test.cc,
// encoding_test.cc and negative_test.cc:
//
// - SemanticsModel: a trivial sequential model of the Active/Active semantics, written
//   independently of the library (no dots, no causal contexts, no slots): every operation
//   is a numbered event; each replica knows a set of events; an operation "observes" the
//   events its replica knows, and overwrites/removes those still alive in its view. A write or add
//   is overwritten/removed iff some operation that observed it overwrote/removed it; an increment
//   is cancelled iff some SET/DEL observed it. Counter observation is per origin and prefix-closed
//   (a counter delta carries the origin's cumulative total), everything else is exact.
//   HINCRBYFLOAT increments of a hash field count in quarters (exact in any order) as a
//   counter of their own ('H'), which an HSET/HDEL of the field also cancels; the model
//   parses and prints those quarters itself.
//   Bounded-counter events are causal: a replica that learns one learns every event its
//   maker knew when it made it (a bounded-counter delta is its replica's whole state); the
//   value and each replica's rights are sums over the known events.
// - Traits per CRDT type (PnCounterTraits ... BoundedCounterTraits): how to make a replica, apply a
//   random mutator (and record it in the model), encode, and print the visible value.
// - CheckLatticeLaws<Traits>(seed, &why) and CheckConvergence<Traits>(seed, &why): one
//   randomized run each; false plus an explanation (the law, the values, the operation
//   trace) on the first violation. negative_test.cc runs the same checkers on deliberately
//   broken types to show that they catch wrong merges.
//
// Deterministic for a given seed; not thread-safe.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "crdt/aw_or_set.h"
#include "crdt/bounded_counter.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "crdt/lww_register.h"
#include "crdt/or_map.h"
#include "crdt/pn_counter.h"
#include "crdt/string_value.h"
#include "test_util.h"

namespace crdt_test {

// Replica i of a test runs at site i + 1, first incarnation: lower index = lower site.
inline crdt::ReplicaId ReplicaOf(int index) {
  return crdt::MakeReplicaId(static_cast<uint16_t>(index + 1), 1);
}

// ---------------------------------------------------------------------------------------
// The sequential model.
// ---------------------------------------------------------------------------------------
class SemanticsModel {
 public:
  // An object the model tracks: 's' the string value of a key (register + counter), 'h' a
  // hash field (register + counter), 'H' a hash field's float increments (in quarters), 'm'
  // one member of a key's set.
  struct Obj {
    char kind = 's';
    std::string key;
    std::string sub;  // field or member
    friend auto operator<=>(const Obj&, const Obj&) = default;
  };
  static Obj Str(std::string key) { return Obj{'s', std::move(key), ""}; }
  static Obj Field(std::string key, std::string field) {
    return Obj{'h', std::move(key), std::move(field)};
  }
  static Obj FloatField(std::string key, std::string field) {
    return Obj{'H', std::move(key), std::move(field)};
  }
  static Obj Member(std::string key, std::string member) {
    return Obj{'m', std::move(key), std::move(member)};
  }

  struct Winner {
    std::string value;
    int64_t ts;
    int who;
  };

  explicit SemanticsModel(int replicas)
      : replicas_(replicas), known_(replicas), prefix_(replicas), incr_count_(replicas) {}
  int replicas() const { return replicas_; }
  size_t op_count() const { return ops_.size(); }

  // ---- operations made at replica `who`; each returns the event id ----

  // SET of a string value / HSET of a field: overwrites the observed writes of o and
  // cancels the observed increments of o.
  int Write(int who, const Obj& o, const std::string& value, int64_t ts) {
    Op op = Begin(who);
    auto same = [&](const Obj& x) { return SameValue(x, o); };
    KillObserved(who, &op, same);
    ResetObserved(who, &op, same, /*assign=*/true);
    op.effect = Effect::kWrite;
    op.obj = o;
    op.value = value;
    op.ts = ts;
    return Commit(std::move(op));
  }
  int Incr(int who, const Obj& o, int64_t by) {
    Op op = Begin(who);
    op.effect = Effect::kIncr;
    op.obj = o;
    op.by = by;
    op.index = ++incr_count_[who][o];
    // Its delta carries who's slot of the counter, with the part of it who knows cancelled.
    op.cut = KnownCancelled(who, o)[who];
    return Commit(std::move(op));
  }
  // DEL of a string value / HDEL / register clear / counter reset.
  int ClearValue(int who, const Obj& o) {
    Op op = Begin(who);
    auto same = [&](const Obj& x) { return SameValue(x, o); };
    KillObserved(who, &op, same);
    ResetObserved(who, &op, same);
    return Commit(std::move(op));
  }
  int Add(int who, const std::string& key, const std::string& member) {
    Op op = Begin(who);
    Obj o = Member(key, member);
    KillObserved(who, &op, [&](const Obj& x) { return x == o; });
    op.effect = Effect::kAdd;
    op.obj = o;
    return Commit(std::move(op));
  }
  int Remove(int who, const std::string& key, const std::string& member) {
    Op op = Begin(who);
    Obj o = Member(key, member);
    KillObserved(who, &op, [&](const Obj& x) { return x == o; });
    return Commit(std::move(op));
  }
  int ClearSet(int who, const std::string& key) {
    Op op = Begin(who);
    KillObserved(who, &op, [&](const Obj& x) { return x.kind == 'm' && x.key == key; });
    return Commit(std::move(op));
  }
  // Keyspace SET: replaces everything the key held (observed), then writes the string.
  int SetKey(int who, const std::string& key, const std::string& value, int64_t ts) {
    Op op = Begin(who);
    auto of_key = [&](const Obj& x) { return x.key == key; };
    KillObserved(who, &op, of_key);
    ResetObserved(who, &op, of_key);
    op.effect = Effect::kWrite;
    op.obj = Str(key);
    op.value = value;
    op.ts = ts;
    return Commit(std::move(op));
  }
  // Keyspace DEL: removes everything of the key it observed.
  int DelKey(int who, const std::string& key) {
    Op op = Begin(who);
    auto of_key = [&](const Obj& x) { return x.key == key; };
    KillObserved(who, &op, of_key);
    ResetObserved(who, &op, of_key);
    return Commit(std::move(op));
  }

  // Bounded counter: an increment, a decrement and a transfer of n rights to replica `to`.
  int BcIncr(int who, int64_t n) { return BcOp(who, Effect::kBcIncr, n, who); }
  int BcDecr(int who, int64_t n) { return BcOp(who, Effect::kBcDecr, n, who); }
  int BcTransfer(int who, int to, int64_t n) { return BcOp(who, Effect::kBcTransfer, n, to); }
  // The value and replica r's rights as `viewer` sees them (-1: everything delivered).
  int64_t BcValue(int viewer) const {
    int64_t v = 0;
    for (const Op& op : ops_) {
      if (!Visible(op.id, viewer)) continue;
      if (op.effect == Effect::kBcIncr) v += op.by;
      if (op.effect == Effect::kBcDecr) v -= op.by;
    }
    return v;
  }
  int64_t BcRights(int r, int viewer) const {
    int64_t v = 0;
    for (const Op& op : ops_) {
      if (!Visible(op.id, viewer)) continue;
      if (op.effect == Effect::kBcIncr && op.who == r) v += op.by;
      if (op.effect == Effect::kBcDecr && op.who == r) v -= op.by;
      if (op.effect == Effect::kBcTransfer && op.who == r) v -= op.by;
      if (op.effect == Effect::kBcTransfer && op.to == r) v += op.by;
    }
    return v;
  }
  // Replicas some bounded-counter event involves (maker or receiver), sorted.
  std::set<int> BcReplicas(int viewer) const {
    std::set<int> out;
    for (const Op& op : ops_) {
      if (!Visible(op.id, viewer) || op.to < 0) continue;
      out.insert(op.who);
      out.insert(op.to);
    }
    return out;
  }

  // ---- replication ----
  void Deliver(int op, int to) { Know(to, op); }
  void MergeState(int from, int to) {
    std::vector<int> ids(known_[from].begin(), known_[from].end());
    for (int id : ids) Know(to, id);
  }

  // ---- views; viewer -1 means "after everything was delivered everywhere" ----

  std::optional<Winner> RegisterWinner(const Obj& o, int viewer) const {
    const Op* best = nullptr;
    for (const Op& op : ops_) {
      if (op.effect != Effect::kWrite || op.obj != o || !Alive(op, viewer)) continue;
      if (best == nullptr || Beats(op, *best)) best = &op;
    }
    if (best == nullptr) return std::nullopt;
    return Winner{best->value, best->ts, best->who};
  }
  // Final counter of o: the sum of the increments no SET/DEL observed.
  int64_t CounterSum(const Obj& o, bool* live) const { return KnownSum(o, -1, live); }
  // The sum of the increments of o that `viewer` knows (-1: all; a prefix per origin) and
  // no reset it knows cancelled; *live if there is one (a zero step too).
  int64_t KnownSum(const Obj& o, int viewer, bool* live) const {
    int64_t sum = 0;
    *live = false;
    for (const Op& op : ops_) {
      if (op.effect != Effect::kIncr || op.obj != o || Cancelled(op, viewer)) continue;
      if (!KnownIncrement(op, viewer)) continue;
      sum += op.by;
      *live = true;  // a zero step too (pn_counter.h)
    }
    return sum;
  }
  // Visible string of a 's' or 'h' object (GET / HGET) as `viewer` sees it (-1: final).
  std::optional<std::string> Value(const Obj& o, int viewer = -1) const {
    bool live = false;
    int64_t sum = KnownSum(o, viewer, &live);
    std::optional<Winner> w = RegisterWinner(o, viewer);
    std::optional<std::string> value;
    if (!w) {
      if (live) value = std::to_string(sum);
    } else if (!live) {
      value = w->value;
    } else {
      std::optional<int64_t> base = AsInteger(w->value);
      // increments cannot be added to a non-integer
      value = base ? std::to_string(*base + sum) : w->value;
    }
    if (o.kind != 'h') return value;
    bool float_live = false;
    int64_t quarters = KnownSum(FloatField(o.key, o.sub), viewer, &float_live);
    if (!float_live) return value;
    std::optional<int64_t> base = value ? AsQuarters(*value) : int64_t{0};
    if (!base) return value;  // float increments cannot be added to a non-number either
    return QuartersText(*base + quarters);
  }
  bool FloatLive(const Obj& field, int viewer) const {
    bool live = false;
    KnownSum(FloatField(field.key, field.sub), viewer, &live);
    return live;
  }
  std::vector<std::string> Members(const std::string& key, int viewer) const {
    std::set<std::string> out;
    for (const Op& op : ops_) {
      if (op.effect == Effect::kAdd && op.obj.key == key && Alive(op, viewer)) {
        out.insert(op.obj.sub);
      }
    }
    return std::vector<std::string>(out.begin(), out.end());
  }
  std::vector<std::pair<std::string, std::string>> HashItems(const std::string& key) const {
    std::set<std::string> fields;
    for (const Op& op : ops_) {
      if ((op.obj.kind == 'h' || op.obj.kind == 'H') && op.obj.key == key) {
        fields.insert(op.obj.sub);
      }
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& f : fields) {
      if (auto v = Value(Field(key, f))) out.emplace_back(f, *v);
    }
    return out;
  }
  // The visible type: a string wins over a hash, which wins over a set.
  std::string TypeOf(const std::string& key) const {
    if (Value(Str(key))) return "string";
    if (!HashItems(key).empty()) return "hash";
    if (!Members(key, -1).empty()) return "set";
    return "none";
  }
  std::string Dump(const std::string& key) const {
    std::string t = TypeOf(key);
    if (t == "string") return *Value(Str(key));
    std::string s = "{";
    if (t == "hash") {
      for (const auto& [f, v] : HashItems(key)) s += (s.size() > 1 ? ", " : "") + f + ": " + v;
    } else if (t == "set") {
      for (const std::string& m : Members(key, -1)) s += (s.size() > 1 ? ", " : "") + m;
    } else {
      return "(nil)";
    }
    return s + "}";
  }
  std::string DumpAll() const {
    std::set<std::string> keys;
    for (const Op& op : ops_) keys.insert(op.obj.key);
    std::string out;
    for (const std::string& k : keys) {
      std::string t = TypeOf(k);
      if (t != "none") out += k + " " + t + " " + Dump(k) + "\n";
    }
    return out;
  }

  // Canonical integers only (what std::to_string prints), as Redis's string2ll.
  static std::optional<int64_t> AsInteger(const std::string& s) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || std::to_string(v) != s) {
      return std::nullopt;
    }
    return v;
  }
  // A number of quarters as text: "-1.25", "3", "0.5" (what Redis prints for such values).
  static std::string QuartersText(int64_t q) {
    static const char* const kFraction[] = {"", ".25", ".5", ".75"};
    const uint64_t a = q < 0 ? 0 - static_cast<uint64_t>(q) : static_cast<uint64_t>(q);
    return (q < 0 ? "-" : "") + std::to_string(a / 4) + kFraction[a % 4];
  }
  // The inverse, for the texts the tests write: integers and QuartersText's output.
  static std::optional<int64_t> AsQuarters(const std::string& s) {
    if (std::optional<int64_t> v = AsInteger(s)) return *v * 4;
    const size_t dot = s.find('.');
    if (dot == std::string::npos) return std::nullopt;
    const std::string fraction = s.substr(dot);
    const int64_t f = fraction == ".25" ? 1 : fraction == ".5" ? 2 : fraction == ".75" ? 3 : 0;
    const bool negative = s[0] == '-';
    std::optional<int64_t> whole = AsInteger(s.substr(negative ? 1 : 0, dot - (negative ? 1 : 0)));
    if (f == 0 || !whole || *whole < 0) return std::nullopt;
    return (negative ? -1 : 1) * (*whole * 4 + f);
  }

 private:
  // o itself, or the float increments of hash field o (an HSET/HDEL cancels those too).
  static bool SameValue(const Obj& x, const Obj& o) {
    return x == o || (o.kind == 'h' && x.kind == 'H' && x.key == o.key && x.sub == o.sub);
  }
  enum class Effect { kNone, kWrite, kIncr, kAdd, kBcIncr, kBcDecr, kBcTransfer };
  struct Op {
    int id = 0;
    int who = 0;
    Effect effect = Effect::kNone;
    Obj obj;
    std::string value;
    int64_t ts = 0;
    int64_t by = 0;
    int index = 0;           // kIncr: 1-based position among who's increments of obj
    int cut = 0;             // kIncr: who's increments of obj it knew cancelled (a prefix)
    std::vector<int> kills;  // writes/adds this op observed and overwrote or removed
    std::vector<std::pair<Obj, std::vector<int>>> resets;  // obj, observed prefix per origin
    int to = -1;              // bounded counter: the receiving replica (who for kBcIncr/kBcDecr)
    std::vector<int> causes;  // bounded counter: the events who knew when it made this one
  };

  int BcOp(int who, Effect effect, int64_t n, int to) {
    Op op = Begin(who);
    op.effect = effect;
    op.by = n;
    op.to = to;
    op.causes.assign(known_[who].begin(), known_[who].end());
    return Commit(std::move(op));
  }

  Op Begin(int who) const {
    Op op;
    op.id = static_cast<int>(ops_.size());
    op.who = who;
    return op;
  }
  int Commit(Op op) {
    int id = op.id;
    killers_.emplace_back();
    for (int k : op.kills) killers_[k].push_back(id);
    ops_.push_back(std::move(op));
    Know(ops_[id].who, id);
    return id;
  }
  template <typename Pred>
  void KillObserved(int who, Op* op, Pred pred) const {
    for (int id : known_[who]) {
      const Op& x = ops_[id];
      // Only what is still alive in who's view: a write already overwritten there is not
      // overwritten again (its delta does not mention it).
      if ((x.effect == Effect::kWrite || x.effect == Effect::kAdd) && pred(x.obj) &&
          Alive(x, who)) {
        op->kills.push_back(id);
      }
    }
  }
  // A hash field's counter is reset by a removal only if the field's value part is present
  // in who's view (a delta does not mention a value that is already gone there), by an
  // assignment always; other counters always.
  // What a counter's slots at `who` say, per origin: increments up to this index are known
  // (prefix_) or known cancelled (cuts carried by the resets and increments who knows).
  std::vector<int> CancelKnowledge(int who, const Obj& o) const {
    std::vector<int> v = KnownCancelled(who, o);
    if (auto it = prefix_[who].find(o); it != prefix_[who].end()) {
      for (int w = 0; w < replicas_; ++w) v[w] = std::max(v[w], it->second[w]);
    }
    return v;
  }
  // The cancelled part alone: per origin, the increments up to this index some reset or
  // cut that `who` knows cancelled.
  std::vector<int> KnownCancelled(int who, const Obj& o) const {
    std::vector<int> v(replicas_, 0);
    for (int id : known_[who]) {
      const Op& x = ops_[id];
      for (const auto& [obj, prefix] : x.resets) {
        for (int w = 0; obj == o && w < replicas_; ++w) v[w] = std::max(v[w], prefix[w]);
      }
      if (x.effect == Effect::kIncr && x.obj == o) v[x.who] = std::max(v[x.who], x.cut);
    }
    return v;
  }
  template <typename Pred>
  void ResetObserved(int who, Op* op, Pred pred, bool assign = false) const {
    std::set<Obj> objs;  // the counters who has slots of
    for (const auto& [obj, prefix] : prefix_[who]) objs.insert(obj);
    for (int id : known_[who]) {
      for (const auto& [obj, prefix] : ops_[id].resets) objs.insert(obj);
    }
    for (const Obj& obj : objs) {
      if (!pred(obj)) continue;
      bool live = false;
      if (!assign && obj.kind == 'h' && !RegisterWinner(obj, who) &&
          (KnownSum(obj, who, &live), !live)) {
        continue;
      }
      op->resets.emplace_back(obj, CancelKnowledge(who, obj));
    }
  }
  void Know(int who, int id) {
    if (!known_[who].insert(id).second) return;
    const Op& op = ops_[id];
    for (int cause : op.causes) Know(who, cause);
    if (op.effect == Effect::kIncr) {
      std::vector<int>& p = prefix_[who][op.obj];
      p.resize(replicas_, 0);
      p[op.who] = std::max(p[op.who], op.index);
    }
  }
  bool Visible(int id, int viewer) const { return viewer < 0 || known_[viewer].count(id) > 0; }
  bool Alive(const Op& op, int viewer) const {
    if (!Visible(op.id, viewer)) return false;
    for (int k : killers_[op.id]) {
      if (Visible(k, viewer)) return false;
    }
    return true;
  }
  // True if `viewer` (-1: everyone) knows increment `inc`: a counter's deltas carry its
  // origin's cumulative total, so knowledge is a prefix per origin.
  bool KnownIncrement(const Op& inc, int viewer) const {
    if (viewer < 0) return true;
    auto it = prefix_[viewer].find(inc.obj);
    return it != prefix_[viewer].end() && it->second[inc.who] >= inc.index;
  }
  // Cancelled by a reset that `viewer` knows (-1: any), or by the cut that a later
  // increment of the same origin that it knows carried.
  bool Cancelled(const Op& inc, int viewer = -1) const {
    for (const Op& op : ops_) {
      if (op.effect == Effect::kIncr && op.obj == inc.obj && op.who == inc.who &&
          op.cut >= inc.index && KnownIncrement(op, viewer)) {
        return true;
      }
      if (!Visible(op.id, viewer)) continue;
      for (const auto& [obj, prefix] : op.resets) {
        if (obj == inc.obj && prefix[inc.who] >= inc.index) return true;
      }
    }
    return false;
  }
  // Last writer wins: higher timestamp, then lower site, then the earlier event.
  static bool Beats(const Op& a, const Op& b) {
    if (a.ts != b.ts) return a.ts > b.ts;
    if (a.who != b.who) return a.who < b.who;
    return a.id < b.id;
  }

  int replicas_;
  std::vector<Op> ops_;
  std::vector<std::vector<int>> killers_;  // killers_[id]: ops that overwrote/removed id
  std::vector<std::set<int>> known_;       // known_[replica]: events it has observed
  std::vector<std::map<Obj, std::vector<int>>> prefix_;  // observed increments per origin
  std::vector<std::map<Obj, int>> incr_count_;
};

// ---------------------------------------------------------------------------------------
// Traits: one per CRDT type.
// ---------------------------------------------------------------------------------------

struct OpContext {
  Rng& rng;
  SemanticsModel& model;
  int who;     // replica index
  int64_t ts;  // the replica's wall clock now (virtual time + skew)
};

template <typename T>
struct OpResult {
  std::optional<T> delta;  // nullopt: refused, nothing changed
  int op = -1;             // model event id
  std::string desc;
  std::string error;  // non-empty: a local reply contradicts the model
};

inline int64_t NonZero(Rng& rng, int64_t mag) {
  int64_t v = rng.Range(1, mag);
  return rng.OneIn(2) ? v : -v;
}
// Mostly small integers (so INCR applies), sometimes a non-integer.
inline std::string RandomValue(Rng& rng, bool allow_text) {
  if (allow_text && rng.OneIn(10)) return "v" + std::to_string(rng.Uniform(3));
  return std::to_string(rng.Range(-3, 9));
}
inline std::string WinnerString(const crdt::RegisterStore::Write* w) {
  return w ? w->value + "@" + std::to_string(w->timestamp_us) : "-";
}
inline std::string WinnerString(const std::optional<SemanticsModel::Winner>& w) {
  return w ? w->value + "@" + std::to_string(w->ts) : "-";
}
inline std::string JoinStrings(const std::vector<std::string>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "}";
}
inline std::string JoinItems(const std::vector<std::pair<std::string, std::string>>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i].first + ": " + v[i].second;
  return s + "}";
}
inline std::string OptString(const std::optional<std::string>& s) { return s ? *s : "(nil)"; }

// Checks an increment's local reply against the model's view of that replica: refused with
// kNotInteger exactly when the replica's visible register winner is not an integer.
inline std::string CheckIncrStatus(crdt::IncrStatus s, const SemanticsModel& m,
                                   const SemanticsModel::Obj& o, int who) {
  auto w = m.RegisterWinner(o, who);
  bool integer = !w || SemanticsModel::AsInteger(w->value).has_value();
  if (s == crdt::IncrStatus::kOk && integer) return "";
  if (s == crdt::IncrStatus::kNotInteger && !integer) return "";
  return "increment status " + std::to_string(static_cast<int>(s)) +
         " but the model's local winner is " + WinnerString(w);
}

struct PnCounterTraits {
  using Crdt = crdt::PnCounter;
  static constexpr bool kHasLocalView = false;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    const auto obj = SemanticsModel::Str("");
    if (c.rng.Uniform(5) > 0) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "INCRBY " + std::to_string(by);
      r.delta = x.Increment(by);
      if (!r.delta) {
        r.error = "increment refused";
        return r;
      }
      r.op = c.model.Incr(c.who, obj, by);
    } else {
      r.desc = "RESET";
      r.delta = x.Reset();
      r.op = c.model.ClearValue(c.who, obj);
    }
    return r;
  }
  static std::string Visible(const Crdt& x) {
    return crdt::FormatInt128(x.Value()) + (x.Live() ? " live" : " dead");
  }
  static std::string ModelVisible(const SemanticsModel& m) {
    bool live = false;
    int64_t sum = m.CounterSum(SemanticsModel::Str(""), &live);
    return std::to_string(sum) + (live ? " live" : " dead");
  }
  static std::string LocalVisible(const Crdt&) { return ""; }
  static std::string ModelLocalVisible(const SemanticsModel&, int) { return ""; }
};

struct LwwRegisterTraits {
  using Crdt = crdt::LwwRegister;
  static constexpr bool kHasLocalView = true;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    const auto obj = SemanticsModel::Str("");
    if (c.rng.Uniform(5) > 0) {
      std::string v = std::string(1, static_cast<char>('a' + c.rng.Uniform(4)));
      r.desc = "SET " + v + " @" + std::to_string(c.ts);
      r.delta = x.Set(v, c.ts);
      r.op = c.model.Write(c.who, obj, v, c.ts);
    } else {
      r.desc = "CLEAR";
      r.delta = x.Clear();
      r.op = c.model.ClearValue(c.who, obj);
    }
    return r;
  }
  static std::string Visible(const Crdt& x) { return WinnerString(x.store().Winner()); }
  static std::string ModelVisible(const SemanticsModel& m) {
    return WinnerString(m.RegisterWinner(SemanticsModel::Str(""), -1));
  }
  static std::string LocalVisible(const Crdt& x) { return Visible(x); }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    return WinnerString(m.RegisterWinner(SemanticsModel::Str(""), who));
  }
};

struct AwOrSetTraits {
  using Crdt = crdt::AwOrSet;
  static constexpr bool kHasLocalView = true;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    std::string m(1, static_cast<char>('w' + c.rng.Uniform(4)));
    uint64_t k = c.rng.Uniform(20);
    if (k < 11) {
      r.desc = "SADD " + m;
      r.delta = x.Add(m);
      r.op = c.model.Add(c.who, "", m);
    } else if (k < 18) {
      r.desc = "SREM " + m;
      r.delta = x.Remove(m);
      r.op = c.model.Remove(c.who, "", m);
    } else {
      r.desc = "CLEAR";
      r.delta = x.Clear();
      r.op = c.model.ClearSet(c.who, "");
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

struct StringValueTraits {
  using Crdt = crdt::StringValue;
  static constexpr bool kHasLocalView = true;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    const auto obj = SemanticsModel::Str("");
    uint64_t k = c.rng.Uniform(10);
    if (k < 3) {
      std::string v = RandomValue(c.rng, true);
      r.desc = "SET " + v + " @" + std::to_string(c.ts);
      r.delta = x.Set(v, c.ts);
      r.op = c.model.Write(c.who, obj, v, c.ts);
    } else if (k < 8) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "INCRBY " + std::to_string(by);
      crdt::IncrStatus s = crdt::IncrStatus::kOk;
      r.delta = x.IncrBy(by, &s);
      r.error = CheckIncrStatus(s, c.model, obj, c.who);
      if (r.delta) r.op = c.model.Incr(c.who, obj, by);
    } else {
      r.desc = "DEL";
      r.delta = x.Del();
      r.op = c.model.ClearValue(c.who, obj);
    }
    return r;
  }
  static std::string Visible(const Crdt& x) { return OptString(x.Get()); }
  static std::string ModelVisible(const SemanticsModel& m) {
    return OptString(m.Value(SemanticsModel::Str("")));
  }
  static std::string LocalVisible(const Crdt& x) { return WinnerString(x.store().reg.Winner()); }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    return WinnerString(m.RegisterWinner(SemanticsModel::Str(""), who));
  }
};

struct OrMapTraits {
  using Crdt = crdt::OrMap;
  static constexpr bool kHasLocalView = true;
  static inline const std::vector<std::string> kFields = {"f", "g", "h"};
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    const std::string& f = c.rng.Pick(kFields);
    const auto obj = SemanticsModel::Field("", f);
    uint64_t k = c.rng.Uniform(10);
    if (k < 4) {
      std::string v = RandomValue(c.rng, true);
      r.desc = "HSET " + f + " " + v + " @" + std::to_string(c.ts);
      r.delta = x.Set(f, v, c.ts);
      r.op = c.model.Write(c.who, obj, v, c.ts);
    } else if (k < 8) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "HINCRBY " + f + " " + std::to_string(by);
      crdt::IncrStatus s = crdt::IncrStatus::kOk;
      r.delta = x.IncrBy(f, by, &s);
      r.error = CheckIncrStatus(s, c.model, obj, c.who);
      if (r.delta) r.op = c.model.Incr(c.who, obj, by);
    } else {
      r.desc = "HDEL " + f;
      r.delta = x.Del(f);
      r.op = c.model.ClearValue(c.who, obj);
    }
    return r;
  }
  static std::string Visible(const Crdt& x) { return JoinItems(x.Items()); }
  static std::string ModelVisible(const SemanticsModel& m) { return JoinItems(m.HashItems("")); }
  static std::string LocalVisible(const Crdt& x) {
    std::string s;
    for (const std::string& f : kFields) {
      const crdt::StringValueStore* v = x.store().Find(f);
      s += f + "=" + WinnerString(v ? v->reg.Winner() : nullptr) + " ";
    }
    return s;
  }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    std::string s;
    for (const std::string& f : kFields) {
      s += f + "=" + WinnerString(m.RegisterWinner(SemanticsModel::Field("", f), who)) + " ";
    }
    return s;
  }
};

struct KeyspaceTraits {
  using Crdt = crdt::Keyspace;
  static constexpr bool kHasLocalView = true;
  static inline const std::vector<std::string> kKeys = {"a", "b"};
  static inline const std::vector<std::string> kMembers = {"x", "y", "z"};
  static inline const std::vector<std::string> kFields = {"f", "g"};
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, 0, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    Crdt delta = x.NewDelta();
    const std::string& key = c.rng.Pick(kKeys);
    const std::string& member = c.rng.Pick(kMembers);
    const std::string& field = c.rng.Pick(kFields);
    SemanticsModel& m = c.model;
    uint64_t k = c.rng.Uniform(100);
    if (k < 12) {
      std::string v = RandomValue(c.rng, true);
      r.desc = "SET " + key + " " + v + " @" + std::to_string(c.ts);
      x.Set(key, v, c.ts, &delta);
      r.op = m.SetKey(c.who, key, v, c.ts);
    } else if (k < 27) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "INCRBY " + key + " " + std::to_string(by);
      int64_t nv = 0;
      crdt::IncrStatus s = x.IncrBy(key, by, &nv, &delta);
      r.error = CheckIncrStatus(s, m, SemanticsModel::Str(key), c.who);
      if (s != crdt::IncrStatus::kOk) return r;
      r.op = m.Incr(c.who, SemanticsModel::Str(key), by);
    } else if (k < 47) {
      r.desc = "SADD " + key + " " + member;
      x.SAdd(key, member, &delta);
      r.op = m.Add(c.who, key, member);
    } else if (k < 62) {
      r.desc = "SREM " + key + " " + member;
      x.SRem(key, member, &delta);
      r.op = m.Remove(c.who, key, member);
    } else if (k < 74) {
      std::string v = RandomValue(c.rng, true);
      r.desc = "HSET " + key + " " + field + " " + v + " @" + std::to_string(c.ts);
      x.HSet(key, field, v, c.ts, &delta);
      r.op = m.Write(c.who, SemanticsModel::Field(key, field), v, c.ts);
    } else if (k < 84) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "HINCRBY " + key + " " + field + " " + std::to_string(by);
      int64_t nv = 0;
      crdt::IncrStatus s = x.HIncrBy(key, field, by, &nv, &delta);
      r.error = CheckIncrStatus(s, m, SemanticsModel::Field(key, field), c.who);
      if (s != crdt::IncrStatus::kOk) return r;
      r.op = m.Incr(c.who, SemanticsModel::Field(key, field), by);
    } else if (k < 92) {
      r.desc = "HDEL " + key + " " + field;
      x.HDel(key, field, &delta);
      r.op = m.ClearValue(c.who, SemanticsModel::Field(key, field));
    } else {
      r.desc = "DEL " + key;
      x.Del(key, &delta);
      r.op = m.DelKey(c.who, key);
    }
    r.delta = std::move(delta);
    return r;
  }
  static std::string Visible(const Crdt& x) { return x.DumpAll(); }
  static std::string ModelVisible(const SemanticsModel& m) { return m.DumpAll(); }
  static std::string LocalVisible(const Crdt& x) {
    std::string s;
    for (const std::string& key : kKeys) {
      const crdt::KeyValue* v = x.Find(key);
      s += key + ": set=" + JoinStrings(x.Members(key)) +
           " str=" + WinnerString(v ? v->str().reg.Winner() : nullptr);
      for (const std::string& f : kFields) {
        const crdt::StringValueStore* fv = v ? v->hash().Find(f) : nullptr;
        s += " " + f + "=" + WinnerString(fv ? fv->reg.Winner() : nullptr);
      }
      s += "; ";
    }
    return s;
  }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    std::string s;
    for (const std::string& key : kKeys) {
      s += key + ": set=" + JoinStrings(m.Members(key, who)) +
           " str=" + WinnerString(m.RegisterWinner(SemanticsModel::Str(key), who));
      for (const std::string& f : kFields) {
        s += " " + f + "=" + WinnerString(m.RegisterWinner(SemanticsModel::Field(key, f), who));
      }
      s += "; ";
    }
    return s;
  }
};

// The hashes of a Keyspace with HINCRBYFLOAT: per-field float counters next to HSET,
// HINCRBY, HDEL, DEL and SET. Float increments are multiples of 1/4 (exact in any order of
// addition), sometimes large; HSET writes integers, quarters and text. The local view is
// every field's visible value, which the model predicts exactly; every reply is checked.
struct HashFloatTraits {
  using Crdt = crdt::Keyspace;
  static constexpr bool kHasLocalView = true;
  static inline const std::vector<std::string> kKeys = {"a", "b"};
  static inline const std::vector<std::string> kFields = {"f", "g"};
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, 0, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    Crdt delta = x.NewDelta();
    const std::string& key = c.rng.Pick(kKeys);
    const std::string& field = c.rng.Pick(kFields);
    SemanticsModel& m = c.model;
    const SemanticsModel::Obj obj = SemanticsModel::Field(key, field);
    const crdt::KeyValue* kv = x.Find(key);
    const bool live = kv && kv->hash().FloatLive(field);
    if (live != m.FloatLive(obj, c.who)) {
      r.error = key + "." + field + ": float increments live " + std::to_string(live) +
                " but the model says " + std::to_string(!live);
      return r;
    }
    const std::optional<std::string> before = m.Value(obj, c.who);
    uint64_t k = c.rng.Uniform(100);
    if (k < 20) {
      std::string v = c.rng.OneIn(3) ? SemanticsModel::QuartersText(c.rng.Range(-20, 20))
                                     : RandomValue(c.rng, true);
      r.desc = "HSET " + key + " " + field + " " + v + " @" + std::to_string(c.ts);
      x.HSet(key, field, v, c.ts, &delta);
      r.op = m.Write(c.who, obj, v, c.ts);
    } else if (k < 32) {
      int64_t by = NonZero(c.rng, 5);
      r.desc = "HINCRBY " + key + " " + field + " " + std::to_string(by);
      int64_t nv = 0;
      crdt::IncrStatus s = x.HIncrBy(key, field, by, &nv, &delta);
      if (!live) {
        r.error = CheckIncrStatus(s, m, obj, c.who);
      } else if ((s == crdt::IncrStatus::kOk) != (before && SemanticsModel::AsInteger(*before))) {
        r.error =
            "HINCRBY on " + OptString(before) + ": status " + std::to_string(static_cast<int>(s));
      }
      if (s != crdt::IncrStatus::kOk) return r;
      r.op = live ? m.Incr(c.who, SemanticsModel::FloatField(key, field), by * 4)
                  : m.Incr(c.who, obj, by);
    } else if (k < 72) {
      int64_t quarters = c.rng.Range(-40, 40) * (c.rng.OneIn(10) ? 1'000'000'000 : 1);
      r.desc = "HINCRBYFLOAT " + key + " " + field + " " + SemanticsModel::QuartersText(quarters);
      std::string nv;
      crdt::FloatStatus s =
          x.HIncrByFloat(key, field, static_cast<long double>(quarters) / 4, &nv, &delta);
      const bool number = !before || SemanticsModel::AsQuarters(*before);
      if ((s == crdt::FloatStatus::kOk) != number) {
        r.error = "HINCRBYFLOAT on " + OptString(before) + ": status " +
                  std::to_string(static_cast<int>(s));
      }
      if (s != crdt::FloatStatus::kOk) return r;
      r.op = m.Incr(c.who, SemanticsModel::FloatField(key, field), quarters);
      if (std::optional<std::string> want = m.Value(obj, c.who); nv != OptString(want)) {
        r.error = "HINCRBYFLOAT replied " + nv + ", the model " + OptString(want);
      }
    } else if (k < 86) {
      // HDEL and DEL of what is not there write nothing (no effect to replicate).
      r.desc = "HDEL " + key + " " + field;
      if (x.HDel(key, field, &delta) != before.has_value()) {
        r.error = "HDEL of " + OptString(before) + " answered the opposite";
      }
      if (!before) return r;
      r.op = m.ClearValue(c.who, obj);
    } else if (k < 94) {
      r.desc = "DEL " + key;
      bool present = m.Value(SemanticsModel::Str(key), c.who).has_value();
      for (const std::string& f : kFields) {
        present |= m.Value(SemanticsModel::Field(key, f), c.who).has_value();
      }
      if (x.Del(key, &delta) != present) r.error = "DEL answered the opposite of the model";
      if (!present) return r;
      r.op = m.DelKey(c.who, key);
    } else {
      std::string v = RandomValue(c.rng, true);
      r.desc = "SET " + key + " " + v + " @" + std::to_string(c.ts);
      x.Set(key, v, c.ts, &delta);
      r.op = m.SetKey(c.who, key, v, c.ts);
    }
    r.delta = std::move(delta);
    return r;
  }
  static std::string Visible(const Crdt& x) { return x.DumpAll(); }
  static std::string ModelVisible(const SemanticsModel& m) { return m.DumpAll(); }
  static std::string LocalVisible(const Crdt& x) {
    std::string s;
    for (const std::string& key : kKeys) {
      const crdt::KeyValue* v = x.Find(key);
      for (const std::string& f : kFields) {
        s += key + "." + f + "=" + OptString(v ? v->hash().Get(f) : std::nullopt) + " ";
      }
    }
    return s;
  }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    std::string s;
    for (const std::string& key : kKeys) {
      for (const std::string& f : kFields) {
        s += key + "." + f + "=" + OptString(m.Value(SemanticsModel::Field(key, f), who)) + " ";
      }
    }
    return s;
  }
};

// The bounded counter: increments, decrements and transfers among the replicas of a run.
// Its local view is exact (bounded-counter events are causal in the model), so the local
// checks also check every refusal and the rights each replica holds.
struct BoundedCounterTraits {
  using Crdt = crdt::BoundedCounter;
  static constexpr bool kHasLocalView = true;
  static Crdt Make(crdt::ReplicaId r) { return Crdt(r); }
  static std::string Encode(const Crdt& x) { return x.Encode(); }
  static std::optional<Crdt> Decode(std::string_view b, std::string* e) {
    return Crdt::Decode(b, e);
  }
  static OpResult<Crdt> RandomOp(Crdt& x, OpContext& c) {
    OpResult<Crdt> r;
    const int64_t held = c.model.BcRights(c.who, c.who);
    uint64_t k = c.rng.Uniform(10);
    crdt::BoundedStatus s = crdt::BoundedStatus::kOk;
    if (k < 4) {
      int64_t n = c.rng.Range(1, 5);
      r.desc = "BC.INCRBY " + std::to_string(n);
      r.delta = x.Increment(n, &s);
      if (r.delta) r.op = c.model.BcIncr(c.who, n);
      if (!r.delta) r.error = "increment refused";
      return r;
    }
    int64_t n = c.rng.Range(1, 6);
    if (k < 7 || c.model.replicas() < 2) {
      r.desc = "BC.DECRBY " + std::to_string(n) + " (model rights " + std::to_string(held) + ")";
      r.delta = x.Decrement(n, &s);
      if (r.delta) r.op = c.model.BcDecr(c.who, n);
    } else {
      int to = (c.who + 1 + c.rng.Index(static_cast<size_t>(c.model.replicas() - 1))) %
               c.model.replicas();
      r.desc = "BC.TRANSFER " + std::to_string(n) + " to r" + std::to_string(to) +
               " (model rights " + std::to_string(held) + ")";
      r.delta = x.Transfer(n, ReplicaOf(to), &s);
      if (r.delta) r.op = c.model.BcTransfer(c.who, to, n);
    }
    const bool want_ok = held >= n;
    if (want_ok != r.delta.has_value() ||
        (!want_ok && s != crdt::BoundedStatus::kInsufficientRights)) {
      r.error = r.desc + ": status " + std::to_string(static_cast<int>(s));
    }
    return r;
  }
  // "v=<value> r<i>=<rights> ..." for every replica the state mentions.
  static std::string Visible(const Crdt& x) {
    std::string s = "v=" + crdt::FormatInt128(x.Value());
    for (crdt::ReplicaId id : x.Replicas()) {
      s += " r" + std::to_string(crdt::SiteOf(id) - 1) + "=" + crdt::FormatInt128(x.Rights(id));
    }
    return s;
  }
  static std::string ModelVisible(const SemanticsModel& m) { return ModelLocalVisible(m, -1); }
  static std::string LocalVisible(const Crdt& x) { return Visible(x); }
  static std::string ModelLocalVisible(const SemanticsModel& m, int who) {
    std::string s = "v=" + std::to_string(m.BcValue(who));
    for (int i : m.BcReplicas(who)) {
      s += " r" + std::to_string(i) + "=" + std::to_string(m.BcRights(i, who));
    }
    return s;
  }
};

// ---------------------------------------------------------------------------------------
// Checkers.
// ---------------------------------------------------------------------------------------

// Equal replicated state: operator== and identical canonical encodings.
template <typename Traits>
bool SameState(const typename Traits::Crdt& a, const typename Traits::Crdt& b, std::string* why) {
  const std::string ea = Traits::Encode(a), eb = Traits::Encode(b);
  if (!(a == b)) {
    *why = "operator== is false: " + Traits::Visible(a) + " vs " + Traits::Visible(b) +
           "\n    lhs=" + Hex(ea) + "\n    rhs=" + Hex(eb);
    return false;
  }
  if (ea != eb) {
    *why = "operator== is true but Encode() differs (non-canonical state): " + Traits::Visible(a) +
           "\n    lhs=" + Hex(ea) + "\n    rhs=" + Hex(eb);
    return false;
  }
  return true;
}

template <typename T>
T Joined(const T& a, const T& b) {
  T x = a;
  x.Merge(b);
  return x;
}

// Lattice laws over states and deltas produced by random operations on 3 replicas that
// exchange deltas and full states (partial merges):
//   idempotent     x ⊔ x = x (also merging an object into itself)
//   commutative    x ⊔ y = y ⊔ x
//   associative    (x ⊔ y) ⊔ z = x ⊔ (y ⊔ z)
//   absorbing      (x ⊔ y) ⊔ x = x ⊔ y
//   delta-in-state a replica's state ⊔ one of its own deltas = that state (right after the
//                  operation and at the end)
//   delta = state  ⊔ of a replica's inputs (own deltas + what it received), in order, into
//                  an empty object = its state; also shuffled, with duplicates
//   all deltas     ⊔ of every delta ever made, shuffled with duplicates = ⊔ of all states
template <typename Traits>
bool CheckLatticeLaws(uint64_t seed, std::string* failure) {
  using T = typename Traits::Crdt;
  Rng rng(seed);
  const int n = 3;
  SemanticsModel model(n);
  std::vector<T> replicas;
  std::vector<int64_t> skew;
  for (int i = 0; i < n; ++i) {
    replicas.push_back(Traits::Make(ReplicaOf(i)));
    skew.push_back(rng.Range(-2, 2));
  }
  struct Delta {
    T value;
    int op;
  };
  std::vector<std::vector<Delta>> own(n);
  std::vector<std::vector<T>> inputs(n);
  std::vector<std::pair<T, T>> post_op;  // (state right after an operation, its delta)
  std::vector<T> shipped_states;
  Trace trace;
  auto fail = [&](const std::string& why) {
    *failure = why + "\n" + trace.ToString();
    return false;
  };

  int64_t now = 0;
  const int steps = static_cast<int>(rng.Range(20, 40));
  for (int step = 0; step < steps; ++step) {
    now += rng.Range(0, 2);
    const int who = rng.Index(n);
    const int from = (who + 1 + rng.Index(n - 1)) % n;
    const uint64_t kind = rng.Uniform(10);
    if (kind < 6) {
      OpContext ctx{rng, model, who, now + skew[who]};
      OpResult<T> res = Traits::RandomOp(replicas[who], ctx);
      trace.Add("r" + std::to_string(who) + ": " + res.desc +
                (res.delta ? " (event " + std::to_string(res.op) + ")" : " (refused)"));
      if (!res.error.empty()) return fail("local reply differs from the model: " + res.error);
      if (!res.delta) continue;
      own[who].push_back(Delta{*res.delta, res.op});
      inputs[who].push_back(*res.delta);
      if (rng.OneIn(3)) post_op.emplace_back(replicas[who], *res.delta);
    } else if (kind < 8) {
      if (own[from].empty()) continue;
      const Delta& d = rng.Pick(own[from]);
      trace.Add("r" + std::to_string(who) + " <- delta of event " + std::to_string(d.op));
      replicas[who].Merge(d.value);
      inputs[who].push_back(d.value);
      model.Deliver(d.op, who);
    } else {
      trace.Add("r" + std::to_string(who) + " <- state of r" + std::to_string(from));
      T snapshot = replicas[from];
      replicas[who].Merge(snapshot);
      inputs[who].push_back(snapshot);
      shipped_states.push_back(snapshot);
      model.MergeState(from, who);
    }
  }

  // The sample of lattice elements: states, deltas, delta groups, shipped states, empty.
  std::vector<std::pair<std::string, T>> samples;
  samples.emplace_back("empty", T());
  for (int i = 0; i < n; ++i) samples.emplace_back("state r" + std::to_string(i), replicas[i]);
  for (int i = 0; i < 6; ++i) {
    const int r = rng.Index(n);
    if (own[r].empty()) continue;
    const Delta& d = rng.Pick(own[r]);
    samples.emplace_back("delta of event " + std::to_string(d.op), d.value);
  }
  for (int i = 0; i < 4; ++i) {
    const int r = rng.Index(n);
    if (own[r].size() < 2) continue;
    size_t a = rng.Uniform(own[r].size() - 1);
    size_t b = a + 1 + rng.Uniform(std::min<size_t>(own[r].size() - a - 1, 4));
    T group = own[r][a].value;
    for (size_t j = a + 1; j <= b; ++j) group.Merge(own[r][j].value);
    samples.emplace_back("delta group r" + std::to_string(r) + "[" + std::to_string(a) + ".." +
                             std::to_string(b) + "]",
                         group);
  }
  for (size_t i = 0; i < 2 && i < shipped_states.size(); ++i) {
    samples.emplace_back("shipped state", rng.Pick(shipped_states));
  }
  for (size_t i = 0; i < 2 && i < post_op.size(); ++i) {
    samples.emplace_back("post-op state", rng.Pick(post_op).first);
  }

  std::string why;
  for (const auto& [name, x] : samples) {
    if (!SameState<Traits>(Joined(x, x), x, &why)) return fail("idempotence: " + name + ": " + why);
    T self = x;
    self.Merge(self);
    if (!SameState<Traits>(self, x, &why)) return fail("self-merge: " + name + ": " + why);
  }
  for (int i = 0; i < 40; ++i) {
    const auto& [nx, x] = rng.Pick(samples);
    const auto& [ny, y] = rng.Pick(samples);
    const auto& [nz, z] = rng.Pick(samples);
    const std::string names = " (" + nx + ", " + ny + ", " + nz + ")";
    const T xy = Joined(x, y);
    if (!SameState<Traits>(xy, Joined(y, x), &why))
      return fail("commutativity" + names + ": " + why);
    if (!SameState<Traits>(Joined(xy, z), Joined(x, Joined(y, z)), &why)) {
      return fail("associativity" + names + ": " + why);
    }
    if (!SameState<Traits>(Joined(xy, x), xy, &why)) return fail("absorption" + names + ": " + why);
  }
  for (const auto& [state, delta] : post_op) {
    if (!SameState<Traits>(Joined(state, delta), state, &why)) {
      return fail(
          "delta-in-state law: a delta merged into the state right after its operation changed "
          "it: " +
          why);
    }
  }
  for (int i = 0; i < n; ++i) {
    for (const Delta& d : own[i]) {
      if (!SameState<Traits>(Joined(replicas[i], d.value), replicas[i], &why)) {
        return fail("delta-in-state law: the delta of event " + std::to_string(d.op) +
                    " changed the final state of r" + std::to_string(i) + ": " + why);
      }
    }
    T folded;
    for (const T& in : inputs[i]) folded.Merge(in);
    if (!SameState<Traits>(folded, replicas[i], &why)) {
      return fail("delta = state law: the in-order join of r" + std::to_string(i) +
                  "'s inputs into an empty object differs from its state: " + why);
    }
    for (int round = 0; round < 2; ++round) {
      std::vector<T> shuffled = inputs[i];
      for (size_t d = 0, dups = rng.Uniform(4); d < dups && !inputs[i].empty(); ++d) {
        shuffled.push_back(rng.Pick(inputs[i]));
      }
      rng.Shuffle(&shuffled);
      T any_order;
      for (const T& in : shuffled) any_order.Merge(in);
      if (!SameState<Traits>(any_order, replicas[i], &why)) {
        return fail("delta = state law: the join of r" + std::to_string(i) +
                    "'s inputs in a shuffled order with duplicates differs from its state: " + why);
      }
    }
  }
  std::vector<T> all_deltas;
  for (int i = 0; i < n; ++i) {
    for (const Delta& d : own[i]) all_deltas.push_back(d.value);
  }
  for (size_t d = 0, dups = rng.Uniform(5); d < dups && !all_deltas.empty(); ++d) {
    all_deltas.push_back(rng.Pick(all_deltas));
  }
  rng.Shuffle(&all_deltas);
  T from_deltas, from_states;
  for (const T& d : all_deltas) from_deltas.Merge(d);
  for (const T& s : replicas) from_states.Merge(s);
  if (!SameState<Traits>(from_deltas, from_states, &why)) {
    return fail(
        "all-deltas law: the join of all deltas (shuffled, duplicated) differs from the join of "
        "all states: " +
        why);
  }
  return true;
}

struct ConvergenceOptions {
  int min_replicas = 3;
  int max_replicas = 5;
  int min_steps = 40;
  int max_steps = 90;
  int local_check_every = 4;  // compare local views with the model every N steps
};

// Random operations on 3-5 replicas; deltas are sent to every peer and delivered in a
// random order, sometimes duplicated, sometimes coalesced into delta groups, sometimes lost
// and retransmitted later; replicas also exchange full states now and then. In the end
// everything is delivered. All replicas must be equal (operator==, Encode(), visible value)
// and equal to the model. Along the way, the local views the model can predict exactly
// (set members, register winners) are compared with it every few steps.
template <typename Traits>
bool CheckConvergence(uint64_t seed, std::string* failure, const ConvergenceOptions& opt = {}) {
  using T = typename Traits::Crdt;
  Rng rng(seed);
  const int n = static_cast<int>(rng.Range(opt.min_replicas, opt.max_replicas));
  SemanticsModel model(n);
  std::vector<T> replicas;
  std::vector<int64_t> skew;
  for (int i = 0; i < n; ++i) {
    replicas.push_back(Traits::Make(ReplicaOf(i)));
    skew.push_back(rng.Range(-3, 3));
  }
  struct Msg {
    int from;
    int to;
    std::vector<int> ops;
    T delta;
  };
  std::vector<Msg> pending, lost;
  Trace trace;
  auto fail = [&](const std::string& why) {
    *failure = why + "\n" + trace.ToString();
    return false;
  };
  auto ops_string = [](const std::vector<int>& ops) {
    std::string s;
    for (int op : ops) s += (s.empty() ? "" : ",") + std::to_string(op);
    return s;
  };
  // A keyspace's record of the parts each key holds (KeyValue::held) must stay exact
  // through every mutator, delta and merge.
  auto held_exact = [](const T& x) {
    if constexpr (std::is_same_v<T, crdt::Keyspace>) {
      return x.HeldExact();
    } else {
      return true;
    }
  };
  bool held_ok = true;
  auto deliver = [&](const Msg& m, const char* how) {
    trace.Add("r" + std::to_string(m.to) + " <- r" + std::to_string(m.from) + " events {" +
              ops_string(m.ops) + "}" + how);
    replicas[m.to].Merge(m.delta);
    held_ok = held_ok && held_exact(replicas[m.to]);
    for (int op : m.ops) model.Deliver(op, m.to);
  };
  auto check_local = [&]() -> std::string {
    if constexpr (Traits::kHasLocalView) {
      for (int i = 0; i < n; ++i) {
        std::string got = Traits::LocalVisible(replicas[i]);
        std::string want = Traits::ModelLocalVisible(model, i);
        if (got != want) {
          return "local view of r" + std::to_string(i) + " differs from the model:\n    got  " +
                 got + "\n    want " + want;
        }
      }
    }
    return "";
  };

  int64_t now = 0;
  const int steps = static_cast<int>(rng.Range(opt.min_steps, opt.max_steps));
  for (int step = 0; step < steps; ++step) {
    now += rng.Range(0, 2);
    const uint64_t kind = rng.Uniform(100);
    if (kind < 45) {
      const int who = rng.Index(n);
      OpContext ctx{rng, model, who, now + skew[who]};
      OpResult<T> res = Traits::RandomOp(replicas[who], ctx);
      trace.Add("r" + std::to_string(who) + ": " + res.desc +
                (res.delta ? " (event " + std::to_string(res.op) + ")" : " (refused)"));
      if (!res.error.empty()) return fail("local reply differs from the model: " + res.error);
      if (!held_exact(replicas[who])) return fail("a key's held parts are not exact after this op");
      if (!res.delta) continue;
      if (!held_exact(*res.delta)) return fail("a delta's held parts are not exact after this op");
      for (int to = 0; to < n; ++to) {
        if (to == who) continue;
        Msg* last = nullptr;
        for (Msg& m : pending) {
          if (m.from == who && m.to == to) last = &m;
        }
        if (last != nullptr && rng.OneIn(3)) {  // coalesce into a delta group
          last->delta.Merge(*res.delta);
          last->ops.push_back(res.op);
          held_ok = held_ok && held_exact(last->delta);
        } else {
          pending.push_back(Msg{who, to, {res.op}, *res.delta});
        }
      }
    } else if (kind < 85) {
      if (pending.empty()) continue;
      const size_t i = rng.Uniform(pending.size());
      const uint64_t fate = rng.Uniform(8);
      if (fate == 0) {
        trace.Add("lost: r" + std::to_string(pending[i].from) + " -> r" +
                  std::to_string(pending[i].to) + " events {" + ops_string(pending[i].ops) + "}");
        lost.push_back(std::move(pending[i]));
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      } else if (fate <= 2) {
        deliver(pending[i], " (duplicate kept)");
      } else {
        deliver(pending[i], "");
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else if (kind < 93) {
      if (lost.empty()) continue;
      const size_t i = rng.Uniform(lost.size());
      trace.Add("retransmit: r" + std::to_string(lost[i].from) + " -> r" +
                std::to_string(lost[i].to) + " events {" + ops_string(lost[i].ops) + "}");
      pending.push_back(std::move(lost[i]));
      lost.erase(lost.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      const int from = rng.Index(n);
      const int to = (from + 1 + rng.Index(n - 1)) % n;
      trace.Add("r" + std::to_string(to) + " <- full state of r" + std::to_string(from));
      replicas[to].Merge(replicas[from]);
      held_ok = held_ok && held_exact(replicas[to]);
      model.MergeState(from, to);
    }
    if (!held_ok) return fail("a key's held parts are not exact after this merge");
    if (opt.local_check_every > 0 && step % opt.local_check_every == 0) {
      if (std::string why = check_local(); !why.empty()) return fail(why);
    }
  }

  // Heal: retransmit everything lost, deliver all in a random order, some twice.
  for (Msg& m : lost) pending.push_back(std::move(m));
  lost.clear();
  rng.Shuffle(&pending);
  for (const Msg& m : pending) {
    deliver(m, " (final)");
    if (rng.OneIn(8)) deliver(m, " (final duplicate)");
  }
  if (std::string why = check_local(); !why.empty()) return fail(why);
  if (!held_ok) return fail("a key's held parts are not exact after the final merges");

  std::string why;
  for (int i = 1; i < n; ++i) {
    if (!SameState<Traits>(replicas[i], replicas[0], &why)) {
      return fail("r" + std::to_string(i) + " and r0 did not converge: " + why);
    }
    if (Traits::Visible(replicas[i]) != Traits::Visible(replicas[0])) {
      return fail("r" + std::to_string(i) + " and r0 show different values");
    }
  }
  const std::string got = Traits::Visible(replicas[0]);
  const std::string want = Traits::ModelVisible(model);
  if (got != want) {
    return fail("converged value differs from the model:\n    got  " + got + "\n    want " + want);
  }
  return true;
}

}  // namespace crdt_test
