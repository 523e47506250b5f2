// Observed-remove map of string values: the value of a Redis hash key in an Active/Active
// database. The field set is observed-remove, add-wins (HDEL removes only the writes it
// observed; a concurrent HSET elsewhere brings the field back); each field value is a
// StringValue: last-write-wins for HSET, a PN-counter for HINCRBY; plus, per field, a
// FloatCounter for HINCRBYFLOAT (float_counter.h): concurrent increments of one field in two
// regions add up, and an HSET or HDEL of the field cancels exactly the increments it observed.
// A field is present when its StringValue is or its float counter has a live increment; its
// value is then the StringValue's text plus the live float increments, formatted as Redis
// formats a long double (WithFloatIncrements, keyspace.h). The float counters live outside
// the causal context and are never dropped (as FloatCounter's slots): a removed field keeps
// its counter as metadata, so that a late delta cannot bring back cancelled increments.
//
// HashStore is the dot store (the fields share the enclosing causal context); OrMap is the
// standalone type. Fields are kept in a std::map, so iteration is sorted and deterministic.
// Deltas are key-complete (see aw_or_set.h): a delta lists every field it touches.
// Value types; not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/causal_context.h"
#include "crdt/encoding.h"
#include "crdt/float_counter.h"
#include "crdt/string_value.h"

namespace crdt {

class HashStore {
 public:
  using Fields = std::map<std::string, StringValueStore, std::less<>>;
  using Floats = std::map<std::string, FloatCounter, std::less<>>;

  // Present fields.
  size_t size() const;
  bool empty() const;  // no present field; stops at the first one (size() visits all)
  // No metadata at all (may be dropped).
  bool Empty() const { return fields_.empty() && floats_.empty(); }
  const StringValueStore* Find(std::string_view field) const;
  // Every field, metadata-only ones included (sorted).
  const Fields& fields() const { return fields_; }
  // The HINCRBYFLOAT counter of every field that ever had one (sorted; never empty ones).
  const Floats& floats() const { return floats_; }
  bool HasFloats() const { return !floats_.empty(); }
  bool FloatLive(std::string_view field) const;  // the field has a live float increment
  std::optional<std::string> Get(std::string_view field) const;
  std::vector<std::pair<std::string, std::string>> Items() const;  // sorted by field

  // Returns true if the field was not present.
  bool Set(std::string_view field, std::string_view value, ReplicaId r, int64_t timestamp_us,
           CausalContext* cc, HashStore* delta, CausalContext* delta_cc);
  // HINCRBY. On a field with live float increments the step joins them (as INCRBY on a
  // string with INCRBYFLOAT increments), when the visible value reads as an integer.
  IncrStatus IncrBy(std::string_view field, int64_t by, ReplicaId r, int64_t* new_value,
                    HashStore* delta);
  // HINCRBYFLOAT: adds `by` to the field's float counter as replica r. REQUIRES: the field's
  // visible value is absent or a number, and the sum is finite (Keyspace::HIncrByFloat).
  void IncrementFloat(std::string_view field, long double by, ReplicaId r, HashStore* delta);
  // Returns true if the field was present.
  bool Del(std::string_view field, HashStore* delta, CausalContext* delta_cc);
  // Removes every field; returns how many were present.
  size_t Clear(HashStore* delta, CausalContext* delta_cc);

  void Join(const HashStore& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);
  size_t HeapBytes() const;

  // The fields (Decode also clears the float counters). The float counters encode apart
  // (the optional part KeyValue::kPartHashFloat): a count, then (field, FloatCounter) sorted.
  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  void EncodeFloats(Encoder* enc) const;
  bool DecodeFloats(Decoder* dec);
  // Equality of non-empty fields and of the float counters.
  friend bool operator==(const HashStore& a, const HashStore& b);

 private:
  StringValueStore& Touch(HashStore* delta, std::string_view field);
  FloatCounter& TouchFloat(HashStore* delta, std::string_view field);
  // Cancels the observed float increments of `field`, if it has a counter.
  void ResetFloat(std::string_view field, HashStore* delta);
  Fields fields_;
  Floats floats_;
};

// The standalone type (no HINCRBYFLOAT: its encoding has no float counters).
class OrMap {
 public:
  OrMap() = default;
  explicit OrMap(ReplicaId self) : self_(self) {}

  OrMap Set(std::string_view field, std::string_view value, int64_t timestamp_us);
  std::optional<OrMap> IncrBy(std::string_view field, int64_t by, IncrStatus* status = nullptr);
  OrMap Del(std::string_view field);
  void Merge(const OrMap& other);

  std::optional<std::string> Get(std::string_view field) const { return store_.Get(field); }
  std::vector<std::pair<std::string, std::string>> Items() const { return store_.Items(); }
  size_t Size() const { return store_.size(); }
  const HashStore& store() const { return store_; }
  const CausalContext& context() const { return cc_; }

  std::string Encode() const;
  static std::optional<OrMap> Decode(std::string_view bytes, std::string* error);
  friend bool operator==(const OrMap& a, const OrMap& b) {
    return a.store_ == b.store_ && a.cc_ == b.cc_;
  }

 private:
  ReplicaId self_ = 0;
  HashStore store_;
  CausalContext cc_;
  bool key_complete_ = false;
};

}  // namespace crdt
