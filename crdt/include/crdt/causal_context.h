// CausalContext: the set of dots a replica has observed, kept compact as a version vector
// (every dot (r, 1..n)) plus a "dot cloud" of observed dots beyond the contiguous prefix,
// which arrive when deltas are delivered out of order (Almeida, Shoker, Baquero, "Delta
// state replicated data types", 2018, section 5). Compact() folds the cloud into the vector
// as soon as gaps close, so in steady state the context is one counter per replica.
//
// The representation is canonical (sorted, no zero entries, cloud dots strictly above
// the vector), so operator== is set equality. Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/small_vec.h"

namespace crdt {

class ContextDots;

class CausalContext {
 public:
  struct Entry {
    ReplicaId replica;
    uint64_t max;  // every dot (replica, 1..max) is in the context
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  // Inline (a merge asks it a few times per key): a vector of a few replicas in one
  // forward pass, a longer one (a context decoded from hostile input) by binary search; the
  // cloud only when d is above its replica's maximum.
  bool Contains(const Dot& d) const {
    const size_t i = FindReplica(d.replica);
    const uint64_t max = i < vv_.size() && vv_[i].replica == d.replica ? vv_[i].max : 0;
    if (d.counter <= max) return true;
    return !cloud_.empty() && CloudContains(d);
  }
  static constexpr size_t kLinearScan = 16;  // FindReplica scans a vector this long or shorter
  // The contiguous maximum for r (0 if none).
  uint64_t Max(ReplicaId r) const;
  // A new dot for r, recorded in the context.
  // REQUIRES: no cloud dot of r (a replica's own dots are contiguous in its own context).
  Dot Next(ReplicaId r);
  void Add(const Dot& d);
  void Join(const CausalContext& other);
  // The same join with a context decoded as ContextDots (adds its few dots). Inline: an
  // INCRBY's effect has none, and its merge then makes no call.
  void Join(const ContextDots& other);
  bool empty() const { return vv_.empty() && cloud_.empty(); }
  // Number of dots held explicitly (vector entries + cloud dots): its size cost.
  size_t ExplicitSize() const { return vv_.size() + cloud_.size(); }
  size_t HeapBytes() const { return vv_.HeapBytes() + cloud_.HeapBytes(); }

  const SmallVec<Entry, 6>& vector() const { return vv_; }
  const SmallVec<Dot, 2>& cloud() const { return cloud_; }

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);  // replaces *this; false on malformed input
  std::string DebugString() const;

  friend bool operator==(const CausalContext& a, const CausalContext& b) {
    return a.vv_ == b.vv_ && a.cloud_ == b.cloud_;
  }

 private:
  // The index of the first vector entry not below r: one forward pass over a vector of a
  // few replicas, a binary search (LowerBound) of a longer one.
  size_t FindReplica(ReplicaId r) const {
    if (vv_.size() > kLinearScan) [[unlikely]]
      return LowerBound(r);
    size_t i = 0;
    while (i < vv_.size() && vv_[i].replica < r) ++i;
    return i;
  }
  size_t LowerBound(ReplicaId r) const;
  // Join(ContextDots) of one dot or more; JoinRest joins its dots from d on, out of line
  // (noinline: the usual pass keeps a small frame).
  void JoinDots(const ContextDots& other);
  [[gnu::noinline]] void JoinRest(const Dot* d, const Dot* end);
  // Adds d to the vector if it is covered or extends its replica's entry (the next write
  // of that replica); false if a gap is before it (it belongs in the cloud).
  bool FoldIntoVector(const Dot& d);
  bool CloudContains(const Dot& d) const;
  void SetMax(ReplicaId r, uint64_t max);
  void Compact();

  SmallVec<Entry, 6> vv_;   // sorted by replica, max > 0
  SmallVec<Dot, 2> cloud_;  // sorted, each counter > Max(replica) + 1
};

// ContextDots: a delta's causal context read from its bytes when it is a few dots and no
// version vector: the context of most one-key effects (a SET's new dot and the dots of the
// writes it replaced, an SADD's or SREM's element dots; an INCRBY's is empty). It holds the
// same dots as the CausalContext that Decode makes of those bytes, so Contains answers as
// that context's Contains does and CausalContext::Join(ContextDots) gives what Join of that
// context gives; without its vectors (no heap, nothing cleared or compacted). Value type.
class ContextDots {
 public:
  static constexpr size_t kMax = 4;

  // Reads a context encoded by CausalContext::Encode if it has no vector entry and at most
  // kMax cloud dots, with CausalContext::Decode's reads and checks. False on any other
  // shape and on malformed bytes: the caller then decodes a CausalContext from where this
  // started, which reports the error. Dec: a Decoder, or a TryDecoder (encoding.h).
  // Always inline: a TryDecoder's cursor then stays in registers (not in memory for a call).
  template <typename Dec>
  [[gnu::always_inline]] bool Decode(Dec* dec) {
    size_ = 0;
    uint64_t n = 0;
    if (!GetCountOfReads(dec, &n, 2) || n != 0 || !GetCountOfReads(dec, &n, 2) || n > kMax) {
      return false;
    }
    for (; size_ < n; ++size_) {
      if (!dec->GetDot(&dots_[size_])) return false;
      if (size_ > 0 && !(dots_[size_ - 1] < dots_[size_])) return false;  // "not sorted"
    }
    return true;
  }
  bool Contains(const Dot& d) const {
    if (d.counter == 0) return true;  // as CausalContext::Contains (no real dot has it)
    for (size_t i = 0; i < size_; ++i) {
      if (dots_[i] == d) return true;
    }
    return false;
  }
  const Dot* begin() const { return dots_; }
  const Dot* end() const { return dots_ + size_; }
  size_t size() const { return size_; }

 private:
  Dot dots_[kMax];  // sorted
  size_t size_ = 0;
};

inline void CausalContext::Join(const ContextDots& other) {
  if (other.size() != 0) JoinDots(other);
}

// WriteDots: the dots one write adds to its delta's context (the dots of the writes or
// tags it replaced and the dot it took), gathered without a CausalContext, for an effect
// written straight from its write (Keyspace's written-out writes). Add takes a dot as
// CausalContext::Add does (a dot already held, or of counter 0, changes nothing); Encode
// writes the bytes CausalContext::Encode writes of an empty context after those Adds: its
// canonical form, each replica's dots 1..k as its vector entry and the rest as the cloud.
// A few dots inline (a write replaces one or a few). Value type.
class WriteDots {
 public:
  void Add(const Dot& d) {
    if (d.counter == 0) return;  // as CausalContext::Add (no real dot has it)
    const size_t n = dots_.size();
    size_t i = n;
    while (i > 0 && d < dots_[i - 1]) --i;
    if (i > 0 && dots_[i - 1] == d) return;
    if (i == n) {
      dots_.push_back(d);  // most come in order
    } else {
      dots_.insert(i, d);
    }
  }
  void Encode(Encoder* enc) const;

 private:
  SmallVec<Dot, 4> dots_;  // sorted, distinct, counters > 0
};

}  // namespace crdt
