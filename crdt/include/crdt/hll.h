// The value of a Redis HyperLogLog key in an Active/Active database (PFADD, PFCOUNT,
// PFMERGE), with Redis Enterprise's rule: registers merge by maximum, and a DEL wins over
// a concurrent PFADD.
//
// The sketch is Redis's (hyperloglog.c): MurmurHash64A with seed 0xadc83b19, 2^14
// registers indexed by the hash's low 14 bits, each holding 1 + the number of trailing
// zeros of the remaining 50 bits (at most 51), and the same estimator (Ertl's improved
// raw estimator with the tau/sigma corrections), so PFCOUNT answers exactly as Redis on
// the same inputs. Registers are a dense byte array here (Redis packs 6 bits each).
//
// Delete wins, outside the causal context (like the bounded counter): the value is
//
//   (epoch, exists, registers)    join: the higher epoch wins whole; equal epochs OR
//                                 `exists` and take each register's maximum
//
// DEL (and SET over the key) moves to epoch + 1 with no registers, so every PFADD its
// region had not yet seen, concurrent ones included, is discarded when they meet: the
// lexicographic product of a total order and a lattice is a lattice, so joins stay
// idempotent, commutative and associative. An add that observed the DEL is at the new
// epoch and survives. The cost: a deleted HLL key keeps its epoch (one integer) as
// metadata, as a bounded counter is kept.
//
// Encoding (deltas of PFADD carry only the registers they raised):
//
//   varint epoch | byte exists (0/1) | varint n | n x (varint index gap, byte value 1..51)
//
// Value type; not thread-safe; deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/encoding.h"

namespace crdt {

// Austin Appleby's MurmurHash64A, as Redis uses it (little-endian reads).
uint64_t MurmurHash64A(std::string_view data, uint64_t seed);

class HllStore {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;
  static constexpr int kMaxRegister = 64 - kPrecision + 1;  // 51

  bool Present() const { return exists_; }
  bool Empty() const { return epoch_ == 0 && !exists_ && regs_.empty(); }  // no metadata
  uint64_t epoch() const { return epoch_; }

  // PFADD: creates the key if absent and adds each element. Returns true if the key was
  // created or a register changed (PFADD's reply). Changes go into *delta when non-null.
  bool Add(const std::vector<std::string_view>& elements, HllStore* delta);
  // PFMERGE: raises registers to `src`'s and creates the key. Returns true on a change.
  bool MergeFrom(const HllStore& src, HllStore* delta);
  // DEL: a new epoch with no registers. Returns true if the key was present.
  bool Clear(HllStore* delta);

  void Join(const HllStore& other);
  // Redis's estimate of the number of distinct elements added.
  uint64_t Count() const;
  // Registers as a dense array of kRegisters bytes (empty when all are zero).
  const std::vector<uint8_t>& registers() const { return regs_; }
  size_t HeapBytes() const { return regs_.capacity(); }
  // Redis's dense string representation (12304 bytes), which PFCOUNT and PFADD accept:
  //   "HYLL" | encoding 0 (dense) | 3 unused bytes | 8-byte cached cardinality, marked
  //   invalid (top bit of the last byte) | 16384 x 6-bit registers, little-endian bit order
  std::string RedisDense() const;

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const HllStore& a, const HllStore& b);

  // Redis's estimator on a register array of kRegisters bytes (or empty: all zero).
  static uint64_t Estimate(const std::vector<uint8_t>& regs);

 private:
  bool Raise(size_t index, uint8_t value, HllStore* delta);
  uint64_t epoch_ = 0;
  bool exists_ = false;
  std::vector<uint8_t> regs_;
};

}  // namespace crdt
