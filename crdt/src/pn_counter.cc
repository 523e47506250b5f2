#include "crdt/pn_counter.h"

#include <algorithm>

namespace crdt {

PnCounter::Slot* PnCounter::Find(ReplicaId r) {
  for (Slot& s : slots_) {
    if (s.replica == r) return &s;
    if (s.replica > r) break;
  }
  return nullptr;
}

void PnCounter::JoinSlot(const Slot& s) {
  if (slots_.empty()) {  // CASE 1: a fresh delta
    slots_.push_back(s);
    return;
  }
  JoinCounterSlot(&slots_, s);
}

int64_t PnCounter::Value() const {
  // Modular arithmetic is exact whenever the true value fits int64, which the bound and
  // the site limit guarantee.
  uint64_t v = 0;
  for (const Slot& s : slots_) v += (s.p - s.bp) - (s.n - s.bn);
  return static_cast<int64_t>(v);
}

bool PnCounter::Live() const {
  for (const Slot& s : slots_) {
    if (s.p != s.bp || s.n != s.bn) return true;
  }
  return false;
}

bool PnCounter::IncrementAs(ReplicaId r, int64_t by, int64_t base, PnCounter* delta) {
  int64_t now = 0, next = 0;
  if (__builtin_add_overflow(base, Value(), &now) || __builtin_add_overflow(now, by, &next) ||
      next > kBound || next < -kBound) {
    return false;
  }
  if (by == 0) return true;  // no slot for a zero step: states stay equal without an effect
  const uint64_t mag = by >= 0 ? static_cast<uint64_t>(by) : 0 - static_cast<uint64_t>(by);
  Slot* s = Find(r);
  if (s == nullptr) {  // CASE 1: r's first increment (a total of 0 cannot wrap)
    Slot fresh{r, 0, 0, 0, 0};
    (by >= 0 ? fresh.p : fresh.n) = mag;
    JoinSlot(fresh);
    if (delta) delta->JoinSlot(fresh);
    return true;
  }
  // CASE 2: r has a slot; its totals are monotonic.
  uint64_t& total = by >= 0 ? s->p : s->n;
  if (total + mag < total) return false;  // 2^64 cumulative: refuse rather than wrap
  total += mag;
  if (delta) delta->JoinSlot(*s);
  return true;
}

std::optional<PnCounter> PnCounter::Increment(int64_t by) {
  std::optional<PnCounter> delta(std::in_place, self_);  // one named result: NRVO, no move
  if (!IncrementAs(self_, by, 0, &*delta)) delta.reset();
  return delta;
}

void PnCounter::ResetInto(PnCounter* delta) {
  for (Slot& s : slots_) {
    s.bp = s.p;
    s.bn = s.n;
    if (delta) delta->JoinSlot(s);
  }
}

PnCounter PnCounter::Reset() {
  PnCounter delta(self_);
  ResetInto(&delta);
  return delta;
}

void PnCounter::Merge(const PnCounter& other) {
  if (this == &other) return;
  for (const Slot& s : other.slots_) JoinSlot(s);
}

void PnCounter::Encode(Encoder* enc) const {
  enc->PutVarint(slots_.size());
  ReplicaId prev = 0;
  for (const Slot& s : slots_) {
    enc->PutVarint(s.replica - prev);
    prev = s.replica;
    enc->PutVarint(s.p);
    enc->PutVarint(s.n);
    enc->PutVarint(s.p - s.bp);  // usually 0 or small
    enc->PutVarint(s.n - s.bn);
  }
}

bool PnCounter::Decode(Decoder* dec) {
  slots_.clear();
  uint64_t count = 0;
  if (!dec->GetCount(&count, 5)) return false;
  uint64_t replica = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0, p = 0, n = 0, lp = 0, ln = 0;
    if (!dec->GetVarint(&delta) || !dec->GetVarint(&p) || !dec->GetVarint(&n) ||
        !dec->GetVarint(&lp) || !dec->GetVarint(&ln)) {
      return false;
    }
    if (i > 0 && delta == 0) return dec->Fail("counter slots not sorted");
    replica += delta;
    if (replica > UINT32_MAX) return dec->Fail("replica id overflow");
    if (lp > p || ln > n) return dec->Fail("counter base above total");
    slots_.push_back(Slot{static_cast<ReplicaId>(replica), p, n, p - lp, n - ln});
  }
  return true;
}

std::string PnCounter::Encode() const {
  Encoder enc;
  Encode(&enc);
  return enc.Release();
}

std::optional<PnCounter> PnCounter::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  PnCounter c;
  if (!c.Decode(&dec) || !dec.done()) {
    if (error) *error = dec.error().empty() ? "trailing bytes after counter" : dec.error();
    return std::nullopt;
  }
  return c;
}

}  // namespace crdt
