#include "crdt/or_map.h"

#include "crdt/keyspace.h"  // WithFloatIncrements, IntegerStepOnFloats: the texts of INCRBYFLOAT

namespace crdt {

size_t HashStore::size() const {
  size_t n = 0;
  for (const auto& [f, v] : fields_) n += v.Present() || FloatLive(f) ? 1 : 0;
  for (const auto& [f, fc] : floats_) {
    const StringValueStore* v = Find(f);
    n += fc.Live() && !(v && v->Present()) ? 1 : 0;
  }
  return n;
}

bool HashStore::empty() const {
  for (const auto& [f, v] : fields_) {
    if (v.Present()) return false;
  }
  for (const auto& [f, fc] : floats_) {
    if (fc.Live()) return false;
  }
  return true;
}

bool HashStore::FloatLive(std::string_view field) const {
  auto it = floats_.find(field);
  return it != floats_.end() && it->second.Live();
}

const StringValueStore* HashStore::Find(std::string_view field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? nullptr : &it->second;
}

std::optional<std::string> HashStore::Get(std::string_view field) const {
  const StringValueStore* v = Find(field);
  std::optional<std::string> base = v ? v->Value() : std::nullopt;
  auto it = floats_.find(field);
  return it == floats_.end() ? base : WithFloatIncrements(std::move(base), it->second);
}

std::vector<std::pair<std::string, std::string>> HashStore::Items() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (floats_.empty()) {
    for (const auto& [f, v] : fields_) {
      if (auto s = v.Value()) out.emplace_back(f, std::move(*s));
    }
    return out;
  }
  // Walk both sorted maps: a field may have a value part, a float counter or both.
  auto it = fields_.begin();
  auto jt = floats_.begin();
  while (it != fields_.end() || jt != floats_.end()) {
    const bool value_part = jt == floats_.end() || (it != fields_.end() && it->first <= jt->first);
    const std::string& f = value_part ? it->first : jt->first;
    if (auto s = Get(f)) out.emplace_back(f, std::move(*s));
    if (value_part && jt != floats_.end() && jt->first == it->first) ++jt;
    if (value_part) {
      ++it;
    } else {
      ++jt;
    }
  }
  return out;
}

StringValueStore& HashStore::Touch(HashStore* delta, std::string_view field) {
  auto it = delta->fields_.find(field);
  if (it == delta->fields_.end())
    it = delta->fields_.emplace(std::string(field), StringValueStore()).first;
  return it->second;
}

FloatCounter& HashStore::TouchFloat(HashStore* delta, std::string_view field) {
  auto it = delta->floats_.find(field);
  if (it == delta->floats_.end())
    it = delta->floats_.emplace(std::string(field), FloatCounter()).first;
  return it->second;
}

void HashStore::ResetFloat(std::string_view field, HashStore* delta) {
  auto it = floats_.find(field);
  if (it != floats_.end()) it->second.ResetInto(delta ? &TouchFloat(delta, field) : nullptr);
}

void HashStore::IncrementFloat(std::string_view field, long double by, ReplicaId r,
                               HashStore* delta) {
  auto it = floats_.find(field);
  if (it == floats_.end()) it = floats_.emplace(std::string(field), FloatCounter()).first;
  it->second.IncrementAs(r, by, delta ? &TouchFloat(delta, field) : nullptr);
}

bool HashStore::Set(std::string_view field, std::string_view value, ReplicaId r,
                    int64_t timestamp_us, CausalContext* cc, HashStore* delta,
                    CausalContext* delta_cc) {
  auto it = fields_.find(field);
  if (it == fields_.end()) it = fields_.emplace(std::string(field), StringValueStore()).first;
  bool was = it->second.Present() || FloatLive(field);
  it->second.Assign(r, timestamp_us, value, cc, delta ? &Touch(delta, field) : nullptr, delta_cc);
  ResetFloat(field, delta);
  return !was;
}

IncrStatus HashStore::IncrBy(std::string_view field, int64_t by, ReplicaId r, int64_t* new_value,
                             HashStore* delta) {
  const bool floats = FloatLive(field);
  if (floats) {
    int64_t next = 0;
    IncrStatus s = IntegerStepOnFloats(Get(field), by, &next);
    if (s != IncrStatus::kOk) return s;
    if (new_value) *new_value = next;
    if (by != 0) {
      IncrementFloat(field, static_cast<long double>(by), r, delta);
      return s;
    }
  }
  // An integer step; or a zero step on a field with float increments, which is live
  // (pn_counter.h) and so goes to the integer counter, as on a string.
  auto it = fields_.find(field);
  bool created = it == fields_.end();
  if (created) it = fields_.emplace(std::string(field), StringValueStore()).first;
  StringValueStore scratch;
  IncrStatus s = IncrStatus::kOk;
  if (!floats) {
    s = it->second.Increment(r, by, new_value, delta ? &scratch : nullptr);
  } else if (!it->second.counter.AddAs(r, 0, delta ? &scratch.counter : nullptr)) {
    s = IncrStatus::kOutOfRange;
  }
  if (s != IncrStatus::kOk) {
    if (created) fields_.erase(it);
    return s;
  }
  if (delta) Touch(delta, field).counter.Merge(scratch.counter);
  return s;
}

bool HashStore::Del(std::string_view field, HashStore* delta, CausalContext* delta_cc) {
  auto it = fields_.find(field);
  const bool value_part = it != fields_.end() && it->second.Present();
  if (!value_part && !FloatLive(field)) return false;
  if (value_part) {
    it->second.Clear(delta ? &Touch(delta, field) : nullptr, delta_cc);
    if (it->second.Empty()) fields_.erase(it);
  }
  ResetFloat(field, delta);
  return true;
}

size_t HashStore::Clear(HashStore* delta, CausalContext* delta_cc) {
  size_t n = size();
  for (auto it = fields_.begin(); it != fields_.end();) {
    if (it->second.Present())
      it->second.Clear(delta ? &Touch(delta, it->first) : nullptr, delta_cc);
    it = it->second.Empty() ? fields_.erase(it) : std::next(it);
  }
  for (auto& [f, fc] : floats_) fc.ResetInto(delta ? &TouchFloat(delta, f) : nullptr);
  return n;
}

void HashStore::Join(const HashStore& other, const CausalContext& my_cc,
                     const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  for (const auto& [f, fc] : other.floats_) {  // outside the causal context: a pointwise max
    auto ft = floats_.find(f);
    if (ft == floats_.end()) ft = floats_.emplace(f, FloatCounter()).first;
    ft->second.Merge(fc);
  }
  static const StringValueStore kEmpty{};
  if (other_complete) {
    for (const auto& [f, v] : other.fields_) {
      auto it = fields_.find(f);
      if (it == fields_.end()) it = fields_.emplace(f, StringValueStore()).first;
      it->second.Join(v, my_cc, other_cc);
      if (it->second.Empty() && !keep_empty) fields_.erase(it);
    }
    return;
  }
  // Full join: walk both sorted maps.
  auto it = fields_.begin();
  auto jt = other.fields_.begin();
  while (it != fields_.end() || jt != other.fields_.end()) {
    if (jt == other.fields_.end() || (it != fields_.end() && it->first < jt->first)) {
      it->second.Join(kEmpty, my_cc, other_cc);
      it = (it->second.Empty() && !keep_empty) ? fields_.erase(it) : std::next(it);
    } else if (it == fields_.end() || jt->first < it->first) {
      auto ins = fields_.emplace_hint(it, jt->first, StringValueStore());
      ins->second.Join(jt->second, my_cc, other_cc);
      if (ins->second.Empty() && !keep_empty) fields_.erase(ins);
      ++jt;
    } else {
      it->second.Join(jt->second, my_cc, other_cc);
      it = (it->second.Empty() && !keep_empty) ? fields_.erase(it) : std::next(it);
      ++jt;
    }
  }
}

size_t HashStore::HeapBytes() const {
  size_t n = 0;
  for (const auto& [f, v] : fields_) {
    n += 48 + sizeof(StringValueStore) + (f.capacity() > 15 ? f.capacity() + 1 : 0) + v.HeapBytes();
  }
  for (const auto& [f, fc] : floats_) {
    n += 48 + sizeof(FloatCounter) + (f.capacity() > 15 ? f.capacity() + 1 : 0) +
         fc.slots().capacity() * sizeof(FloatCounter::Slot);
  }
  return n;
}

void HashStore::Encode(Encoder* enc) const {
  enc->PutVarint(fields_.size());
  for (const auto& [f, v] : fields_) {
    enc->PutBytes(f);
    v.Encode(enc);
  }
}

bool HashStore::Decode(Decoder* dec) {
  // Most decoded values are no hash: a reused scratch value's maps are already empty.
  if (!fields_.empty()) fields_.clear();
  if (!floats_.empty()) floats_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 3)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view f;
    if (!dec->GetBytes(&f)) return false;
    if (!fields_.empty() && !(fields_.rbegin()->first < f)) {
      return dec->Fail("hash fields not sorted");
    }
    StringValueStore v;
    if (!v.Decode(dec)) return false;
    fields_.emplace_hint(fields_.end(), std::string(f), std::move(v));
  }
  return true;
}

void HashStore::EncodeFloats(Encoder* enc) const {
  enc->PutVarint(floats_.size());
  for (const auto& [f, fc] : floats_) {
    enc->PutBytes(f);
    fc.Encode(enc);
  }
}

bool HashStore::DecodeFloats(Decoder* dec) {
  floats_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 2)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view f;
    FloatCounter fc;
    if (!dec->GetBytes(&f)) return false;
    if (!floats_.empty() && !(floats_.rbegin()->first < f)) {
      return dec->Fail("hash float counters not sorted");
    }
    if (!fc.Decode(dec)) return dec->Fail("bad hash float counter");
    if (fc.empty()) return dec->Fail("hash float counter without slots");
    floats_.emplace_hint(floats_.end(), std::string(f), std::move(fc));
  }
  return true;
}

bool operator==(const HashStore& a, const HashStore& b) {
  if (a.floats_ != b.floats_) return false;
  auto it = a.fields_.begin();
  auto jt = b.fields_.begin();
  while (true) {
    while (it != a.fields_.end() && it->second.Empty()) ++it;
    while (jt != b.fields_.end() && jt->second.Empty()) ++jt;
    if (it == a.fields_.end() || jt == b.fields_.end()) {
      return it == a.fields_.end() && jt == b.fields_.end();
    }
    if (it->first != jt->first || !(it->second == jt->second)) return false;
    ++it;
    ++jt;
  }
}

OrMap OrMap::Set(std::string_view field, std::string_view value, int64_t timestamp_us) {
  OrMap delta(self_);
  delta.key_complete_ = true;
  store_.Set(field, value, self_, timestamp_us, &cc_, &delta.store_, &delta.cc_);
  return delta;
}

std::optional<OrMap> OrMap::IncrBy(std::string_view field, int64_t by, IncrStatus* status) {
  OrMap delta(self_);
  delta.key_complete_ = true;
  IncrStatus s = store_.IncrBy(field, by, self_, nullptr, &delta.store_);
  if (status) *status = s;
  if (s != IncrStatus::kOk) return std::nullopt;
  return delta;
}

OrMap OrMap::Del(std::string_view field) {
  OrMap delta(self_);
  delta.key_complete_ = true;
  store_.Del(field, &delta.store_, &delta.cc_);
  return delta;
}

void OrMap::Merge(const OrMap& other) {
  if (this == &other) return;
  bool complete = key_complete_ && other.key_complete_;
  store_.Join(other.store_, cc_, other.cc_, other.key_complete_, complete);
  cc_.Join(other.cc_);
  key_complete_ = complete;
}

std::string OrMap::Encode() const {
  Encoder enc;
  enc.PutByte(key_complete_ ? 1 : 0);
  store_.Encode(&enc);
  cc_.Encode(&enc);
  return enc.Release();
}

std::optional<OrMap> OrMap::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  OrMap m;
  uint8_t flags = 0;
  if (!dec.GetByte(&flags) || flags > 1 || !m.store_.Decode(&dec) || !m.cc_.Decode(&dec) ||
      !dec.done()) {
    if (error) *error = dec.error().empty() ? "malformed map" : dec.error();
    return std::nullopt;
  }
  m.key_complete_ = flags == 1;
  for (const auto& [f, v] : m.store_.fields()) {
    for (const auto& w : v.reg.writes()) {
      if (!m.cc_.Contains(w.dot)) {
        if (error) *error = "hash field write outside its causal context";
        return std::nullopt;
      }
    }
  }
  return m;
}

}  // namespace crdt
