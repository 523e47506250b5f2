#include "crdt/keyspace.h"

#include <algorithm>

namespace crdt {

// ---- KeyValue ----

KeyValue::Type KeyValue::VisibleType() const {
  if (str.Present()) return Type::kString;
  if (!hash.empty()) return Type::kHash;
  if (!set.empty()) return Type::kSet;
  return Type::kNone;
}

const char* TypeName(KeyValue::Type t) {
  switch (t) {
    case KeyValue::Type::kString:
      return "string";
    case KeyValue::Type::kHash:
      return "hash";
    case KeyValue::Type::kSet:
      return "set";
    case KeyValue::Type::kNone:
      break;
  }
  return "none";
}

void KeyValue::Join(const KeyValue& other, const CausalContext& my_cc,
                    const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  str.Join(other.str, my_cc, other_cc);
  set.Join(other.set, my_cc, other_cc, other_complete, keep_empty);
  hash.Join(other.hash, my_cc, other_cc, other_complete, keep_empty);
}

void KeyValue::Encode(Encoder* enc) const {
  str.Encode(enc);
  set.Encode(enc);
  hash.Encode(enc);
}

bool KeyValue::Decode(Decoder* dec) {
  return str.Decode(dec) && set.Decode(dec) && hash.Decode(dec);
}

// ---- Keyspace ----

Keyspace Keyspace::NewDelta() const {
  Keyspace d(self_);
  d.key_complete_ = true;
  return d;
}

size_t Keyspace::KeyCount() const {
  size_t n = 0;
  for (const auto& [k, v] : keys_) n += v.VisibleType() != Type::kNone ? 1 : 0;
  return n;
}

const KeyValue* Keyspace::Find(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

Keyspace::Type Keyspace::TypeOf(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->VisibleType() : Type::kNone;
}

std::optional<std::string> Keyspace::Get(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->str.Value() : std::nullopt;
}

std::vector<std::string> Keyspace::Members(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->set.Elements() : std::vector<std::string>();
}

bool Keyspace::IsMember(std::string_view key, std::string_view member) const {
  const KeyValue* v = Find(key);
  return v && v->set.Contains(member);
}

size_t Keyspace::Card(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->set.size() : 0;
}

std::vector<std::string> Keyspace::Keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : keys_) {
    if (v.VisibleType() != Type::kNone) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

KeyValue& Keyspace::Slot(std::string_view key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), KeyValue()).first;
  return it->second;
}

KeyValue& Keyspace::DeltaSlot(Keyspace* delta, std::string_view key) { return delta->Slot(key); }

void Keyspace::DropIfEmpty(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end() && it->second.Empty() && !key_complete_) keys_.erase(it);
}

void Keyspace::Set(std::string_view key, std::string_view value, int64_t timestamp_us,
                   Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  CausalContext* dcc = delta ? &delta->cc_ : nullptr;
  v.set.Clear(d ? &d->set : nullptr, dcc);
  v.hash.Clear(d ? &d->hash : nullptr, dcc);
  v.str.Assign(self_, timestamp_us, value, &cc_, d ? &d->str : nullptr, dcc);
}

IncrStatus Keyspace::IncrBy(std::string_view key, int64_t by, int64_t* new_value,
                            Keyspace* delta) {
  KeyValue& v = Slot(key);
  StringValueStore scratch;
  IncrStatus s = v.str.Increment(self_, by, new_value, delta ? &scratch : nullptr);
  if (s == IncrStatus::kOk && delta) DeltaSlot(delta, key).str.counter.Merge(scratch.counter);
  DropIfEmpty(key);
  return s;
}

bool Keyspace::SAdd(std::string_view key, std::string_view member, Keyspace* delta) {
  KeyValue& v = Slot(key);
  return v.set.Add(member, self_, &cc_, delta ? &DeltaSlot(delta, key).set : nullptr,
                   delta ? &delta->cc_ : nullptr);
}

bool Keyspace::SRem(std::string_view key, std::string_view member, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  bool removed = it->second.set.Remove(
      member, delta ? &DeltaSlot(delta, key).set : nullptr, delta ? &delta->cc_ : nullptr);
  DropIfEmpty(key);
  return removed;
}

bool Keyspace::HSet(std::string_view key, std::string_view field, std::string_view value,
                    int64_t timestamp_us, Keyspace* delta) {
  KeyValue& v = Slot(key);
  return v.hash.Set(field, value, self_, timestamp_us, &cc_,
                    delta ? &DeltaSlot(delta, key).hash : nullptr, delta ? &delta->cc_ : nullptr);
}

IncrStatus Keyspace::HIncrBy(std::string_view key, std::string_view field, int64_t by,
                             int64_t* new_value, Keyspace* delta) {
  KeyValue& v = Slot(key);
  IncrStatus s = v.hash.IncrBy(field, by, self_, new_value,
                               delta ? &DeltaSlot(delta, key).hash : nullptr);
  DropIfEmpty(key);
  return s;
}

bool Keyspace::HDel(std::string_view key, std::string_view field, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  bool removed = it->second.hash.Del(field, delta ? &DeltaSlot(delta, key).hash : nullptr,
                                     delta ? &delta->cc_ : nullptr);
  DropIfEmpty(key);
  return removed;
}

bool Keyspace::Del(std::string_view key, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  bool existed = it->second.VisibleType() != Type::kNone;
  if (!existed) return false;
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  CausalContext* dcc = delta ? &delta->cc_ : nullptr;
  KeyValue& v = keys_.find(key)->second;  // DeltaSlot may not rehash *this, but be safe
  v.str.Clear(d ? &d->str : nullptr, dcc);
  v.set.Clear(d ? &d->set : nullptr, dcc);
  v.hash.Clear(d ? &d->hash : nullptr, dcc);
  DropIfEmpty(key);
  return true;
}

void Keyspace::Merge(const Keyspace& other) {
  if (this == &other) return;
  bool complete = key_complete_ && other.key_complete_;
  for (const auto& [k, ov] : other.keys_) {
    auto it = keys_.find(k);
    if (it == keys_.end()) it = keys_.emplace(k, KeyValue()).first;
    it->second.Join(ov, cc_, other.cc_, other.key_complete_, complete);
    if (!complete && it->second.Empty()) keys_.erase(it);
  }
  if (!other.key_complete_) {
    static const KeyValue kEmpty{};
    for (auto it = keys_.begin(); it != keys_.end();) {
      if (other.keys_.find(it->first) != other.keys_.end()) {
        ++it;
        continue;
      }
      it->second.Join(kEmpty, cc_, other.cc_, /*other_complete=*/false, complete);
      it = (!complete && it->second.Empty()) ? keys_.erase(it) : std::next(it);
    }
  }
  cc_.Join(other.cc_);
  key_complete_ = complete;
}

std::string Keyspace::Encode() const {
  std::vector<const std::pair<const std::string, KeyValue>*> order;
  order.reserve(keys_.size());
  for (const auto& kv : keys_) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  Encoder enc;
  enc.PutByte(key_complete_ ? 1 : 0);
  enc.PutVarint(order.size());
  for (const auto* kv : order) {
    enc.PutBytes(kv->first);
    kv->second.Encode(&enc);
  }
  cc_.Encode(&enc);
  return enc.Release();
}

std::optional<Keyspace> Keyspace::Decode(std::string_view bytes, ReplicaId self,
                                         std::string* error) {
  Decoder dec(bytes);
  Keyspace ks(self);
  auto fail = [&](const char* why) -> std::optional<Keyspace> {
    if (error) *error = dec.error().empty() ? why : dec.error();
    return std::nullopt;
  };
  uint8_t flags = 0;
  uint64_t n = 0;
  if (!dec.GetByte(&flags) || flags > 1 || !dec.GetCount(&n, 4)) return fail("bad keyspace header");
  ks.key_complete_ = flags == 1;
  std::string prev;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!dec.GetBytes(&key)) return fail("bad key");
    if (i > 0 && !(prev < key)) {
      dec.Fail("keys not sorted");
      return fail("keys not sorted");
    }
    KeyValue v;
    if (!v.Decode(&dec)) return fail("bad key value");
    prev.assign(key.data(), key.size());
    ks.keys_.emplace(prev, std::move(v));
  }
  if (!ks.cc_.Decode(&dec)) return fail("bad causal context");
  if (!dec.done()) return fail("trailing bytes after keyspace");
  // Every dot must lie inside the context, or merges could resurrect or lose data.
  bool ok = true;
  for (const auto& [k, v] : ks.keys_) {
    for (const auto& w : v.str.reg.writes()) ok &= ks.cc_.Contains(w.dot);
    v.set.ForEach([&](std::string_view, const SetStore::DotList& dots) {
      for (const Dot& d : dots) ok &= ks.cc_.Contains(d);
    });
  }
  if (!ok) return fail("dot outside the causal context");
  return ks;
}

std::string Keyspace::Dump(std::string_view key) const {
  const KeyValue* v = Find(key);
  Type t = v ? v->VisibleType() : Type::kNone;
  switch (t) {
    case Type::kString:
      return *v->str.Value();
    case Type::kSet: {
      std::string s = "{";
      bool first = true;
      for (const std::string& m : v->set.Elements()) {
        s += first ? "" : ", ";
        s += m;
        first = false;
      }
      return s + "}";
    }
    case Type::kHash: {
      std::string s = "{";
      bool first = true;
      for (const auto& [f, val] : v->hash.Items()) {
        s += first ? "" : ", ";
        s += f + ": " + val;
        first = false;
      }
      return s + "}";
    }
    case Type::kNone:
      break;
  }
  return "(nil)";
}

std::string Keyspace::DumpAll() const {
  std::string out;
  for (const std::string& k : Keys()) {
    out += k;
    out += " ";
    out += TypeName(TypeOf(k));
    out += " ";
    out += Dump(k);
    out += "\n";
  }
  return out;
}

size_t Keyspace::MemoryBytes() const {
  size_t n = keys_.bucket_count() * sizeof(void*) + cc_.HeapBytes();
  for (const auto& [k, v] : keys_) {
    n += sizeof(std::pair<const std::string, KeyValue>) + 16 + (k.capacity() > 15 ? k.capacity() + 1 : 0);
    n += v.str.HeapBytes() + v.set.MemoryBytes() + v.hash.HeapBytes();
  }
  return n;
}

bool operator==(const Keyspace& a, const Keyspace& b) {
  if (!(a.cc_ == b.cc_)) return false;
  auto non_empty = [](const Keyspace& ks) {
    size_t n = 0;
    for (const auto& [k, v] : ks.keys_) n += v.Empty() ? 0 : 1;
    return n;
  };
  if (non_empty(a) != non_empty(b)) return false;
  for (const auto& [k, v] : a.keys_) {
    if (v.Empty()) continue;
    auto it = b.keys_.find(k);
    if (it == b.keys_.end() || !(v == it->second)) return false;
  }
  return true;
}

}  // namespace crdt
