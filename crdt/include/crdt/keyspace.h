// Keyspace: the whole dataset of one Active/Active replica, as one delta-state CRDT: an
// observed-remove map from key to a KeyValue (string, set and hash parts), all sharing ONE
// causal context (the ORMap of Almeida et al. 2018). A deleted key leaves nothing behind
// but the dots in that context (one counter per replica in steady state), so DEL frees
// memory, and a write concurrent with a DEL elsewhere survives it and brings the key back.
//
// Types: a key normally holds one type. Concurrent writes of different types in two
// regions (SET k in A while SADD k in B) leave both parts; the visible type is then the
// string, else the hash, else the set (fixed precedence, documented in README).
//
// Mutators take an optional `Keyspace* delta` (from NewDelta()) and join their effect into
// it, so a transaction's effects form one delta. Deltas are key-complete: joining one
// touches only its keys. Merge() accepts deltas and full states alike.
//
// Determinism: keys live in a hash map, but every output (Keys, Dump, Encode) is sorted.
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crdt/aw_or_set.h"
#include "crdt/causal_context.h"
#include "crdt/or_map.h"
#include "crdt/string_value.h"

namespace crdt {

struct KeyValue {
  StringValueStore str;
  SetStore set;
  HashStore hash;

  enum class Type { kNone, kString, kHash, kSet };
  Type VisibleType() const;
  bool Empty() const { return str.Empty() && set.entry_count() == 0 && hash.Empty(); }
  void Join(const KeyValue& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);
  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const KeyValue& a, const KeyValue& b) {
    return a.str == b.str && a.set == b.set && a.hash == b.hash;
  }
};

const char* TypeName(KeyValue::Type t);  // "none", "string", "hash", "set"

class Keyspace {
 public:
  using Type = KeyValue::Type;

  Keyspace() = default;
  explicit Keyspace(ReplicaId self) : self_(self) {}
  // An empty delta of this replica, for the mutators' `delta` argument.
  Keyspace NewDelta() const;

  ReplicaId self() const { return self_; }
  bool is_delta() const { return key_complete_; }
  const CausalContext& context() const { return cc_; }
  size_t KeyCount() const;  // visible keys
  bool empty() const { return keys_.empty() && cc_.empty(); }

  // ---- reads ----
  Type TypeOf(std::string_view key) const;
  const KeyValue* Find(std::string_view key) const;
  std::optional<std::string> Get(std::string_view key) const;
  std::vector<std::string> Members(std::string_view key) const;  // sorted
  bool IsMember(std::string_view key, std::string_view member) const;
  size_t Card(std::string_view key) const;
  std::vector<std::string> Keys() const;  // visible keys, sorted

  // ---- writes (callers check types first; these do what they are told) ----
  // SET: replaces whatever the key held (all observed parts).
  void Set(std::string_view key, std::string_view value, int64_t timestamp_us, Keyspace* delta);
  IncrStatus IncrBy(std::string_view key, int64_t by, int64_t* new_value, Keyspace* delta);
  bool SAdd(std::string_view key, std::string_view member, Keyspace* delta);  // true if added
  bool SRem(std::string_view key, std::string_view member, Keyspace* delta);  // true if removed
  bool HSet(std::string_view key, std::string_view field, std::string_view value,
            int64_t timestamp_us, Keyspace* delta);  // true if the field is new
  IncrStatus HIncrBy(std::string_view key, std::string_view field, int64_t by, int64_t* new_value,
                     Keyspace* delta);
  bool HDel(std::string_view key, std::string_view field, Keyspace* delta);
  bool Del(std::string_view key, Keyspace* delta);  // true if the key existed

  // ---- replication ----
  void Merge(const Keyspace& other);
  std::string Encode() const;  // canonical (sorted); deltas and states alike
  static std::optional<Keyspace> Decode(std::string_view bytes, ReplicaId self,
                                        std::string* error);

  // Canonical, human-readable value of one key ("(nil)" when absent): strings as is, sets
  // as "{a, b}" sorted, hashes as "{f1: v1, f2: v2}".
  std::string Dump(std::string_view key) const;
  // Every visible key with its type and value, sorted; equal iff the visible data is equal.
  std::string DumpAll() const;
  size_t MemoryBytes() const;

  // Equality of replicated state (all metadata), not of the replica id.
  friend bool operator==(const Keyspace& a, const Keyspace& b);

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, KeyValue, KeyHash, std::equal_to<>>;

  KeyValue& Slot(std::string_view key);
  static KeyValue& DeltaSlot(Keyspace* delta, std::string_view key);
  void DropIfEmpty(std::string_view key);

  ReplicaId self_ = 0;
  Map keys_;
  CausalContext cc_;
  bool key_complete_ = false;
};

}  // namespace crdt
