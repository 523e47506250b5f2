// Last-write-wins register with causal precedence first.
//
// RegisterStore is the dot store: every write is a dot carrying (timestamp, value). A write
// removes the writes its replica had observed (they move into the causal context), so a
// write that observed another always beats it, whatever the clocks say. Concurrent writes
// survive side by side until a later write observes them; the visible value is the one
// with the highest wall-clock timestamp, ties going to the lower site number (the region
// whose name sorts first, see dot.h), then the lower replica id and dot. Join is the
// delta-CRDT DotFun join (Almeida et al. 2018): a write is kept if both sides hold it, or
// if the other side has never observed its dot.
//
// LwwRegister is the standalone register: a RegisterStore plus its own causal context.
// Cost: one (dot, timestamp, value) per concurrent write, normally one, which lives inside
// the store (no allocation for it; a value of up to 15 bytes allocates nothing at all).
// Concurrent writes live in a heap block, freed as soon as the register is back to one (by
// Assign, Clear and Join; a register decoded into a reused value keeps its block, see
// Decode).
// Value types; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/small_vec.h"

namespace crdt {

// The register's rule over writes of any value type (a Write has dot, timestamp_us and a
// value): RegisterStore's strings and the sorted set's scores (ScoreRegister, zset.h) share
// it. Writes are a SmallVec sorted by dot.
namespace register_rule {

// True if a beats b in the last-write-wins order.
template <typename W>
bool Beats(const W& a, const W& b) {
  if (a.timestamp_us != b.timestamp_us) return a.timestamp_us > b.timestamp_us;
  if (SiteOf(a.dot.replica) != SiteOf(b.dot.replica)) {
    return SiteOf(a.dot.replica) < SiteOf(b.dot.replica);
  }
  return a.dot < b.dot;
}

// The winning write, or nullptr when ws is empty.
template <typename Writes>
auto Winner(const Writes& ws) -> decltype(&ws[0]) {
  decltype(&ws[0]) best = nullptr;
  for (const auto& w : ws) {
    if (best == nullptr || Beats(w, *best)) best = &w;
  }
  return best;
}

// A write's value set to v: a score assigned; a string in place when v fits its inline
// buffer, else replaced by a new string of v (so its capacity is a new string's, which
// memory figures count). v may be a view of *to.
inline void SetValue(double* to, double v) { *to = v; }
void SetValue(std::string* to, std::string_view v);

// Replaces every write in *ws by a new one (dot from *cc, timestamp_us, value set into its
// field kValue, e.g. &RegisterStore::Write::value, by SetValue); the delta's writes too.
// In place: a register's one write (most hold one) and a batch's delta's one write take
// the new fields, so no temporary write is built. value may be a view of one of *ws.
// DeltaCc: a CausalContext, or WriteDots (a write whose effect is written straight).
template <auto kValue, typename Writes, typename V, typename DeltaCc>
void Assign(Writes* ws, ReplicaId r, int64_t timestamp_us, const V& value, CausalContext* cc,
            Writes* delta, DeltaCc* delta_cc) {
  if (delta_cc) {
    for (const auto& old : *ws) delta_cc->Add(old.dot);
  }
  if (ws->size() == 1) {
    SetValue(&((*ws)[0].*kValue), value);
  } else {  // none, or concurrent writes: the new one built before value's write goes
    std::remove_reference_t<decltype((*ws)[0])> fresh{};
    SetValue(&(fresh.*kValue), value);
    ws->clear();
    ws->shrink_to_fit();  // the one write back inline: see Join
    ws->push_back(std::move(fresh));
  }
  auto& w = (*ws)[0];
  w.dot = cc->Next(r);
  w.timestamp_us = timestamp_us;
  if (delta != nullptr && delta->size() == 1) {
    // A batch's delta holding a write: this write observed it, and takes its place.
    auto& d = (*delta)[0];
    d.dot = w.dot;
    d.timestamp_us = timestamp_us;
    SetValue(&(d.*kValue), w.*kValue);
  } else if (delta != nullptr) {  // most deltas are new: a copy of the write
    delta->clear();
    delta->push_back(w);
  }
  if (delta_cc) delta_cc->Add(w.dot);
}

// Removes every write in *ws; see RegisterStore::Clear.
template <typename Writes>
bool Clear(Writes* ws, Writes* delta, CausalContext* delta_cc) {
  const bool had = !ws->empty();
  if (delta_cc) {
    for (const auto& w : *ws) delta_cc->Add(w.dot);
  }
  ws->clear();
  ws->shrink_to_fit();  // see Join
  if (delta) delta->clear();
  return had;
}

// DotFun join of *ws with other, in place (no temporary list); see RegisterStore::Join.
// OtherCc: a CausalContext, or a ContextDots (an effect's context read from its bytes).
// Other: Writes, or a span of writes viewed where they are (RegisterStore::JoinWrite's one
// write, which converts to a Write when it goes in).
template <typename Writes, typename Other, typename OtherCc>
void Join(Writes* ws, const Other& other, const CausalContext& my_cc, const OtherCc& other_cc) {
  if constexpr (std::is_same_v<Writes, Other>) {
    if (ws == &other) return;
  }
  Writes& writes = *ws;
  // The DotFun join. Mine first: a write survives if other holds it too or
  // never observed it (compacted in place, order kept); then each of other's writes that
  // I neither hold nor observed goes in at its sorted place.
  size_t kept = 0;
  size_t j = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    while (j < other.size() && other[j].dot < writes[i].dot) ++j;
    const bool both = j < other.size() && other[j].dot == writes[i].dot;
    if (both || !other_cc.Contains(writes[i].dot)) {
      if (kept != i) writes[kept] = std::move(writes[i]);
      ++kept;
    }
  }
  writes.resize(kept);
  size_t i = 0;
  for (const auto& w : other) {
    while (i < writes.size() && writes[i].dot < w.dot) ++i;
    if (i < writes.size() && writes[i].dot == w.dot) continue;  // held: kept above
    if (my_cc.Contains(w.dot)) continue;
    writes.insert(i, w);
    ++i;
  }
  // Concurrent writes went to a heap block; once one write is left it goes back inline, or
  // every later write and join of the register would read the block's lines as well.
  writes.shrink_to_fit();
}

}  // namespace register_rule

class RegisterStore {
 public:
  struct Write {
    Dot dot;
    int64_t timestamp_us;  // the writer's wall clock
    std::string value;
    friend bool operator==(const Write&, const Write&) = default;
  };

  // Replaces every observed write by a new one made by replica r at time ts.
  // The new dot comes from *cc. Delta writes/dots are added to *delta / *delta_cc.
  void Assign(ReplicaId r, int64_t timestamp_us, std::string_view value, CausalContext* cc,
              RegisterStore* delta, CausalContext* delta_cc);
  // The same with no delta register: the dots the delta's context would get go to *written.
  void Assign(ReplicaId r, int64_t timestamp_us, std::string_view value, CausalContext* cc,
              WriteDots* written);
  // Removes every observed write (DEL). Returns true if there was one.
  bool Clear(RegisterStore* delta, CausalContext* delta_cc);

  // DotFun join. REQUIRES: my_cc / other_cc are the contexts of *this / other.
  void Join(const RegisterStore& other, const CausalContext& my_cc, const CausalContext& other_cc);
  // The same join with a register that holds the one write (dot, timestamp_us, value): an
  // encoded effect's write joined from its bytes, without a decoded register. OtherCc: a
  // CausalContext, or a ContextDots (the effect's context read from its bytes too).
  template <typename OtherCc>
  void JoinWrite(const Dot& dot, int64_t timestamp_us, std::string_view value,
                 const CausalContext& my_cc, const OtherCc& other_cc);

  // The winning write, or nullptr when empty.
  const Write* Winner() const;
  bool empty() const { return writes_.empty(); }
  using Writes = SmallVec<Write, 1>;
  const Writes& writes() const { return writes_; }
  size_t HeapBytes() const;

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const RegisterStore&, const RegisterStore&) = default;

  // True if a beats b in the last-write-wins order.
  static bool Beats(const Write& a, const Write& b);

 private:
  Writes writes_;  // sorted by dot
};

class LwwRegister {
 public:
  LwwRegister() = default;
  explicit LwwRegister(ReplicaId self) : self_(self) {}

  // Writes value at the writer's wall-clock time; returns the delta.
  LwwRegister Set(std::string_view value, int64_t timestamp_us);
  // Removes the observed writes; returns the delta.
  LwwRegister Clear();
  void Merge(const LwwRegister& other);

  std::optional<std::string> Value() const;
  const RegisterStore& store() const { return store_; }
  const CausalContext& context() const { return cc_; }

  std::string Encode() const;
  static std::optional<LwwRegister> Decode(std::string_view bytes, std::string* error);

  friend bool operator==(const LwwRegister& a, const LwwRegister& b) {
    return a.store_ == b.store_ && a.cc_ == b.cc_;
  }

 private:
  ReplicaId self_ = 0;
  RegisterStore store_;
  CausalContext cc_;
};

}  // namespace crdt
