#include "crdt/string_value.h"

namespace crdt {

bool ParseRedisInteger(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] == '0' && s.size() > i + 1) return false;  // leading zero
  if (neg && s[i] == '0') return false;               // "-0"
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > uint64_t{1} << 63) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

std::optional<std::string> StringValueStore::Value() const {
  const RegisterStore::Write* w = reg.Winner();
  bool live = counter.Live();
  if (w == nullptr) {
    if (!live) return std::nullopt;
    return FormatInt128(counter.Value());
  }
  if (!live) return w->value;
  int64_t base = 0;
  if (!ParseRedisInteger(w->value, &base)) return w->value;
  return FormatInt128(base + counter.Value());  // exact: no wrap, whatever the merge
}

void StringValueStore::Assign(ReplicaId r, int64_t timestamp_us, std::string_view value,
                              CausalContext* cc, StringValueStore* delta, CausalContext* delta_cc) {
  reg.Assign(r, timestamp_us, value, cc, delta ? &delta->reg : nullptr, delta_cc);
  counter.ResetInto(delta ? &delta->counter : nullptr);
}

void StringValueStore::Assign(ReplicaId r, int64_t timestamp_us, std::string_view value,
                              CausalContext* cc, WriteDots* written) {
  reg.Assign(r, timestamp_us, value, cc, written);
  // Most strings hold no counter slot: no call to walk none.
  if (!counter.empty()) counter.ResetInto(nullptr);
}

IncrStatus StringValueStore::Increment(ReplicaId r, int64_t by, int64_t* new_value,
                                       StringValueStore* delta) {
  int64_t base = 0;
  const RegisterStore::Write* w = reg.Winner();
  if (w != nullptr && !ParseRedisInteger(w->value, &base)) return IncrStatus::kNotInteger;
  if (!counter.IncrementAs(r, by, base, delta ? &delta->counter : nullptr, new_value)) {
    return IncrStatus::kOutOfRange;
  }
  return IncrStatus::kOk;
}

bool StringValueStore::Clear(StringValueStore* delta, CausalContext* delta_cc) {
  bool was = Present();
  reg.Clear(delta ? &delta->reg : nullptr, delta_cc);
  counter.ResetInto(delta ? &delta->counter : nullptr);
  return was;
}

void StringValueStore::Join(const StringValueStore& other, const CausalContext& my_cc,
                            const CausalContext& other_cc) {
  // Both registers empty join to empty; an empty counter merges as nothing.
  if (!reg.empty() || !other.reg.empty()) reg.Join(other.reg, my_cc, other_cc);
  if (!other.counter.empty()) counter.Merge(other.counter);
}

void StringValueStore::Encode(Encoder* enc) const {
  reg.Encode(enc);
  counter.Encode(enc);
}

bool StringValueStore::Decode(Decoder* dec) { return reg.Decode(dec) && counter.Decode(dec); }

StringValue StringValue::Set(std::string_view value, int64_t timestamp_us) {
  StringValue delta(self_);
  store_.Assign(self_, timestamp_us, value, &cc_, &delta.store_, &delta.cc_);
  return delta;
}

std::optional<StringValue> StringValue::IncrBy(int64_t by, IncrStatus* status) {
  StringValue delta(self_);
  IncrStatus s = store_.Increment(self_, by, nullptr, &delta.store_);
  if (status) *status = s;
  if (s != IncrStatus::kOk) return std::nullopt;
  return delta;
}

StringValue StringValue::Del() {
  StringValue delta(self_);
  store_.Clear(&delta.store_, &delta.cc_);
  return delta;
}

void StringValue::Merge(const StringValue& other) {
  if (this == &other) return;
  store_.Join(other.store_, cc_, other.cc_);
  cc_.Join(other.cc_);
}

std::string StringValue::Encode() const {
  Encoder enc;
  store_.Encode(&enc);
  cc_.Encode(&enc);
  return enc.Release();
}

std::optional<StringValue> StringValue::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  StringValue v;
  if (!v.store_.Decode(&dec) || !v.cc_.Decode(&dec) || !dec.done()) {
    if (error) *error = dec.error().empty() ? "trailing bytes after string value" : dec.error();
    return std::nullopt;
  }
  for (const auto& w : v.store_.reg.writes()) {
    if (!v.cc_.Contains(w.dot)) {
      if (error) *error = "register write outside its causal context";
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace crdt
