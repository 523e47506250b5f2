// The value of a Redis string key in an Active/Active database: a last-write-wins register
// (SET) plus an observed-reset PN-counter (INCR/INCRBY/DECR/DECRBY), as in Redis Enterprise.
//
// Semantics (docs/active-active.md, "Strings"):
// - SET writes the register and cancels the increments its replica had observed; increments
//   made concurrently elsewhere survive it: concurrent `SET balance 100` and
//   `INCRBY balance 5` converge to 105.
// - The visible value is the register's winner plus the counter, when the winner is an
//   integer; the counter alone ("GET of a key with increments but no SET counts from 0");
//   or the winner as is when it is not an integer (a concurrent INCR cannot be added to
//   "abc"; the increments stay in the metadata and reappear if an integer is SET over
//   it, never silently lost).
// - The sum is exact (128-bit, pn_counter.h): concurrent increments may take it past the
//   +/-2^59 bound, even past 64 bits, and it is shown as the exact decimal, never wrapped.
// - An increment when the visible value is not an integer is refused, as in Redis; so is
//   one the counter's bound rule refuses (PnCounter::Admits, on the origin's view).
// - An increment of 0 is live as any other (pn_counter.h): INCRBY 0 on a missing key makes
//   it hold "0", and converges with a concurrent SET or DEL as INCRBY 1 does.
// - DEL (Clear) removes the observed writes and cancels the observed increments; a later
//   increment counts from 0 whatever the key's past (a new life of the slot if needed).
//
// StringValueStore is the dot store used inside hashes and the keyspace; StringValue is the
// standalone type with its own causal context. Value types; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/causal_context.h"
#include "crdt/encoding.h"
#include "crdt/lww_register.h"
#include "crdt/pn_counter.h"

namespace crdt {

// Parses a Redis integer (as Redis's string2ll: optional '-', no '+', no spaces, no
// leading zeros, fits int64).
bool ParseRedisInteger(std::string_view s, int64_t* out);

enum class IncrStatus { kOk, kNotInteger, kOutOfRange };

struct StringValueStore {
  RegisterStore reg;
  PnCounter counter;

  bool Present() const { return !reg.empty() || counter.Live(); }
  // Empty of all metadata (may be dropped from a map).
  bool Empty() const { return reg.empty() && counter.empty(); }
  std::optional<std::string> Value() const;

  void Assign(ReplicaId r, int64_t timestamp_us, std::string_view value, CausalContext* cc,
              StringValueStore* delta, CausalContext* delta_cc);
  // The same with no delta: the dots its context would get go to *written (a SET whose
  // effect is written straight, Keyspace::Set).
  void Assign(ReplicaId r, int64_t timestamp_us, std::string_view value, CausalContext* cc,
              WriteDots* written);
  IncrStatus Increment(ReplicaId r, int64_t by, int64_t* new_value, StringValueStore* delta);
  // Returns true if the value was present.
  bool Clear(StringValueStore* delta, CausalContext* delta_cc);
  void Join(const StringValueStore& other, const CausalContext& my_cc,
            const CausalContext& other_cc);
  size_t HeapBytes() const { return reg.HeapBytes() + counter.HeapBytes(); }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const StringValueStore&, const StringValueStore&) = default;
};

class StringValue {
 public:
  StringValue() = default;
  explicit StringValue(ReplicaId self) : self_(self) {}

  StringValue Set(std::string_view value, int64_t timestamp_us);
  // On error returns nullopt and changes nothing; *status says why.
  std::optional<StringValue> IncrBy(int64_t by, IncrStatus* status = nullptr);
  StringValue Del();
  void Merge(const StringValue& other);

  std::optional<std::string> Get() const { return store_.Value(); }
  const StringValueStore& store() const { return store_; }
  const CausalContext& context() const { return cc_; }

  std::string Encode() const;
  static std::optional<StringValue> Decode(std::string_view bytes, std::string* error);
  friend bool operator==(const StringValue& a, const StringValue& b) {
    return a.store_ == b.store_ && a.cc_ == b.cc_;
  }

 private:
  ReplicaId self_ = 0;
  StringValueStore store_;
  CausalContext cc_;
};

}  // namespace crdt
