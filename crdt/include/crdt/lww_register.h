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
// Value types; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/small_vec.h"

namespace crdt {

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
  // Removes every observed write (DEL). Returns true if there was one.
  bool Clear(RegisterStore* delta, CausalContext* delta_cc);

  // DotFun join. REQUIRES: my_cc / other_cc are the contexts of *this / other.
  void Join(const RegisterStore& other, const CausalContext& my_cc, const CausalContext& other_cc);
  // The same join with a register that holds the one write (dot, timestamp_us, value): an
  // encoded effect's write joined from its bytes, without a decoded register.
  void JoinWrite(const Dot& dot, int64_t timestamp_us, std::string_view value,
                 const CausalContext& my_cc, const CausalContext& other_cc);

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
