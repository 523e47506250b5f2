#include "crdt/float_counter.h"

#include <cmath>

namespace crdt {

namespace {

// A long double, exactly: sign, 64-bit mantissa, binary exponent (frexpl).
void PutLongDouble(Encoder* enc, long double x) {
  int exp = 0;
  long double m = std::frexp(std::fabs(x), &exp);
  enc->PutByte(std::signbit(x) ? 1 : 0);
  enc->PutVarint(static_cast<uint64_t>(std::ldexp(m, 64)));
  enc->PutSigned(exp);
}

bool GetLongDouble(Decoder* dec, long double* x) {
  uint8_t sign = 0;
  uint64_t mant = 0;
  int64_t exp = 0;
  if (!dec->GetByte(&sign) || sign > 1 || !dec->GetVarint(&mant) || !dec->GetSigned(&exp) ||
      exp < -20000 || exp > 20000) {
    return false;
  }
  long double v = std::ldexp(static_cast<long double>(mant), static_cast<int>(exp) - 64);
  if (!std::isfinite(v)) return false;
  *x = sign ? -v : v;
  return true;
}

}  // namespace

void FloatCounter::JoinSlot(const Slot& s) {
  size_t i = 0;
  while (i < slots_.size() && slots_[i].replica < s.replica) ++i;
  if (i == slots_.size() || slots_[i].replica != s.replica) {
    slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(i), s);
    return;
  }
  Slot& m = slots_[i];
  if (s.seq > m.seq) {
    m.seq = s.seq;
    m.start = s.start;
    m.total = s.total;
  }
  if (s.cut_seq > m.cut_seq) {
    m.cut_seq = s.cut_seq;
    m.cut_total = s.cut_total;
  }
}

void FloatCounter::IncrementAs(ReplicaId r, long double by, FloatCounter* delta) {
  Slot* s = nullptr;
  for (Slot& x : slots_) s = x.replica == r ? &x : s;
  if (s == nullptr) {
    JoinSlot(Slot{r});
    for (Slot& x : slots_) s = x.replica == r ? &x : s;
  }
  if (s->cut_seq >= s->seq) {  // fully cancelled: a new epoch
    s->start = s->seq;
    s->total = 0;
  }
  s->seq += 1;
  s->total += by;
  if (delta) delta->JoinSlot(*s);
}

void FloatCounter::ResetInto(FloatCounter* delta) {
  // Every slot goes into the delta, cancelled or not: a receiver may not have seen the
  // earlier reset that cancelled it (effects are not delivered causally).
  for (Slot& s : slots_) {
    if (s.cut_seq < s.seq) {
      s.cut_seq = s.seq;
      s.cut_total = s.total;
    }
    if (delta) delta->JoinSlot(s);
  }
}

void FloatCounter::Merge(const FloatCounter& other) {
  if (this == &other) return;
  for (const Slot& s : other.slots_) JoinSlot(s);
}

long double FloatCounter::Value() const {
  long double v = 0;
  for (const Slot& s : slots_) v += s.Contribution();
  return v;
}

bool FloatCounter::Live() const {
  for (const Slot& s : slots_) {
    if (s.cut_seq < s.seq) return true;
  }
  return false;
}

void FloatCounter::Encode(Encoder* enc) const {
  enc->PutVarint(slots_.size());
  for (const Slot& s : slots_) {
    enc->PutVarint(s.replica);
    enc->PutVarint(s.seq);
    enc->PutVarint(s.start);
    PutLongDouble(enc, s.total);
    enc->PutVarint(s.cut_seq);
    PutLongDouble(enc, s.cut_total);
  }
}

bool FloatCounter::Decode(Decoder* dec) {
  uint64_t n = 0;
  if (!dec->GetCount(&n, 6)) return false;
  slots_.clear();
  for (uint64_t i = 0; i < n; ++i) {
    Slot s;
    uint64_t replica = 0;
    if (!dec->GetVarint(&replica) || replica > UINT32_MAX || !dec->GetVarint(&s.seq) ||
        !dec->GetVarint(&s.start) || !GetLongDouble(dec, &s.total) || !dec->GetVarint(&s.cut_seq) ||
        !GetLongDouble(dec, &s.cut_total) || s.start >= s.seq ||
        (!slots_.empty() && slots_.back().replica >= replica)) {
      return false;
    }
    s.replica = static_cast<ReplicaId>(replica);
    slots_.push_back(s);
  }
  return true;
}

}  // namespace crdt
