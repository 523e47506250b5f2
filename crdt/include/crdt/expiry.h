// ExpiryStore: the time to live of one Active/Active key, as a dot store inside KeyValue
// (sharing the keyspace's causal context), with Redis Enterprise's conflict rules.
//
// Each EXPIRE-like write (EXPIRE, PEXPIREAT, SET ... EX, GETEX PX, ...) and each PERSIST is
// an entry (dot, deadline, persist). A write replaces the entries its region had observed
// (they move into the causal context), so a later EXPIRE after a PERSIST, or a PERSIST
// after an EXPIRE, supersedes it causally. Entries made concurrently survive side by side
// and resolve as:
//   1. any PERSIST entry: the key has no TTL (PERSIST wins over every concurrent expiry);
//   2. else the latest deadline (the longest TTL wins); equal deadlines go to the lower
//      site (RegisterStore::Beats: the region whose name sorts first), then the lower dot.
// The winning entry names the region that deletes the key when it is due (Winner()).
// Clear() (a SET without KEEPTTL, a DEL) removes the observed entries only: an EXPIRE
// made concurrently elsewhere survives it.
//
// The entries are a RegisterStore (lww_register.h) whose timestamp is the deadline, in
// milliseconds of the writer's wall clock (Unix time, as Redis's PEXPIREAT), and whose
// value is "" for a deadline or "persist": its DotFun join is exactly the join needed, so
// ExpiryStore is a join-semilattice for the same reasons (lattice_laws_test.cc checks it).
// Cost: one (dot, deadline) per concurrent write, normally one; nothing when no TTL was
// ever set. Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "crdt/causal_context.h"
#include "crdt/encoding.h"
#include "crdt/lww_register.h"

namespace crdt {

class ExpiryStore {
 public:
  // Replaces the observed entries by a deadline (Unix milliseconds) made by replica r.
  void Expire(ReplicaId r, int64_t deadline_ms, CausalContext* cc, ExpiryStore* delta,
              CausalContext* delta_cc);
  // Replaces the observed entries by a PERSIST made by replica r.
  void Persist(ReplicaId r, CausalContext* cc, ExpiryStore* delta, CausalContext* delta_cc);
  // Removes the observed entries. Returns true if there was one.
  bool Clear(ExpiryStore* delta, CausalContext* delta_cc);
  void Join(const ExpiryStore& other, const CausalContext& my_cc, const CausalContext& other_cc) {
    reg_.Join(other.reg_, my_cc, other_cc);
  }

  // The deadline in force (Unix milliseconds), nullopt when the key has no TTL.
  std::optional<int64_t> Deadline() const;
  // The entry whose deadline is in force (its dot names the region that deletes the key),
  // nullptr when the key has no TTL.
  const RegisterStore::Write* Winner() const;

  bool empty() const { return reg_.empty(); }
  const RegisterStore& entries() const { return reg_; }
  size_t HeapBytes() const { return reg_.HeapBytes(); }
  void Encode(Encoder* enc) const { reg_.Encode(enc); }
  bool Decode(Decoder* dec) { return reg_.Decode(dec); }
  friend bool operator==(const ExpiryStore&, const ExpiryStore&) = default;

  static constexpr const char* kPersistValue = "persist";

 private:
  RegisterStore reg_;
};

}  // namespace crdt
