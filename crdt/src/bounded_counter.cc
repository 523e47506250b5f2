#include "crdt/bounded_counter.h"

#include <algorithm>
#include <cstddef>

namespace crdt {

namespace {

// n as a cell amount; 0 if n <= 0.
uint64_t Amount(int64_t n) { return n > 0 ? static_cast<uint64_t>(n) : 0; }

}  // namespace

uint64_t* BoundedCounter::GrantCell(ReplicaId from, ReplicaId to) {
  size_t i = 0;
  while (i < grants_.size() &&
         (grants_[i].from < from || (grants_[i].from == from && grants_[i].to < to))) {
    ++i;
  }
  if (i == grants_.size() || grants_[i].from != from || grants_[i].to != to) {
    grants_.insert(grants_.begin() + static_cast<std::ptrdiff_t>(i), Grant{from, to, 0});
  }
  return &grants_[i].amount;
}

uint64_t* BoundedCounter::SpentCell(ReplicaId r) {
  size_t i = 0;
  while (i < spent_.size() && spent_[i].replica < r) ++i;
  if (i == spent_.size() || spent_[i].replica != r) {
    spent_.insert(spent_.begin() + static_cast<std::ptrdiff_t>(i), Spent{r, 0});
  }
  return &spent_[i].amount;
}

void BoundedCounter::JoinGrant(const Grant& g) {
  uint64_t* cell = GrantCell(g.from, g.to);
  *cell = std::max(*cell, g.amount);
}

void BoundedCounter::JoinSpent(const Spent& s) {
  uint64_t* cell = SpentCell(s.replica);
  *cell = std::max(*cell, s.amount);
}

void BoundedCounter::Prune() {
  std::erase_if(grants_, [](const Grant& g) { return g.amount == 0; });
  std::erase_if(spent_, [](const Spent& s) { return s.amount == 0; });
}

Int128 BoundedCounter::Value() const {
  Int128 v = 0;  // exact: each cell is below 2^64, and there are far fewer than 2^63 of them
  for (const Grant& g : grants_) v += g.from == g.to ? g.amount : 0;
  for (const Spent& s : spent_) v -= s.amount;
  return v;
}

Int128 BoundedCounter::Rights(ReplicaId r) const {
  Int128 v = 0;
  for (const Grant& g : grants_) {
    if (g.to == r) v += g.amount;  // its increments (from == to == r) and what it received
    if (g.from == r && g.to != r) v -= g.amount;
  }
  for (const Spent& s : spent_) {
    if (s.replica == r) v -= s.amount;
  }
  return v;
}

std::vector<ReplicaId> BoundedCounter::Replicas() const {
  std::vector<ReplicaId> out;
  for (const Grant& g : grants_) {
    out.push_back(g.from);
    out.push_back(g.to);
  }
  for (const Spent& s : spent_) out.push_back(s.replica);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

BoundedStatus BoundedCounter::Bump(uint64_t* cell, int64_t n, BoundedCounter* delta) {
  uint64_t next = 0;
  if (__builtin_add_overflow(*cell, Amount(n), &next)) {  // 2^64 cumulative: refuse, never wrap
    Prune();
    return BoundedStatus::kOutOfRange;
  }
  *cell = next;
  if (delta) delta->Merge(*this);
  return BoundedStatus::kOk;
}

BoundedStatus BoundedCounter::IncrementAs(ReplicaId r, int64_t n, BoundedCounter* delta) {
  if (n <= 0) return BoundedStatus::kInvalid;
  const Int128 cur = Value();
  if (!PnCounter::Admits(cur, cur + n)) return BoundedStatus::kOutOfRange;
  return Bump(GrantCell(r, r), n, delta);
}

BoundedStatus BoundedCounter::DecrementAs(ReplicaId r, int64_t n, BoundedCounter* delta) {
  if (n <= 0) return BoundedStatus::kInvalid;
  if (Rights(r) < n) return BoundedStatus::kInsufficientRights;
  const Int128 cur = Value();
  if (!PnCounter::Admits(cur, cur - n)) return BoundedStatus::kOutOfRange;  // no 64-bit reply
  return Bump(SpentCell(r), n, delta);
}

BoundedStatus BoundedCounter::TransferAs(ReplicaId from, ReplicaId to, int64_t n,
                                         BoundedCounter* delta) {
  if (n <= 0 || from == to) return BoundedStatus::kInvalid;
  if (Rights(from) < n) return BoundedStatus::kInsufficientRights;
  return Bump(GrantCell(from, to), n, delta);
}

namespace {

// One standalone mutation: the delta, or nullopt with *status.
template <typename Op>
std::optional<BoundedCounter> Standalone(ReplicaId self, BoundedStatus* status, Op op) {
  std::optional<BoundedCounter> delta(std::in_place, self);
  BoundedStatus s = op(&*delta);
  if (status) *status = s;
  if (s != BoundedStatus::kOk) delta.reset();
  return delta;
}

}  // namespace

std::optional<BoundedCounter> BoundedCounter::Increment(int64_t n, BoundedStatus* status) {
  return Standalone(self_, status, [&](BoundedCounter* d) { return IncrementAs(self_, n, d); });
}

std::optional<BoundedCounter> BoundedCounter::Decrement(int64_t n, BoundedStatus* status) {
  return Standalone(self_, status, [&](BoundedCounter* d) { return DecrementAs(self_, n, d); });
}

std::optional<BoundedCounter> BoundedCounter::Transfer(int64_t n, ReplicaId to,
                                                       BoundedStatus* status) {
  return Standalone(self_, status, [&](BoundedCounter* d) { return TransferAs(self_, to, n, d); });
}

void BoundedCounter::Merge(const BoundedCounter& other) {
  if (this == &other) return;
  for (const Grant& g : other.grants_) JoinGrant(g);
  for (const Spent& s : other.spent_) JoinSpent(s);
}

void BoundedCounter::Encode(Encoder* enc) const {
  enc->PutVarint(grants_.size());
  for (const Grant& g : grants_) {
    enc->PutVarint(g.from);
    enc->PutVarint(g.to);
    enc->PutVarint(g.amount);
  }
  enc->PutVarint(spent_.size());
  for (const Spent& s : spent_) {
    enc->PutVarint(s.replica);
    enc->PutVarint(s.amount);
  }
}

bool BoundedCounter::Decode(Decoder* dec) {
  grants_.clear();
  spent_.clear();
  uint64_t count = 0;
  if (!dec->GetCount(&count, 3)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    Grant g{};
    if (!dec->GetVarint32(&g.from) || !dec->GetVarint32(&g.to) || !dec->GetVarint(&g.amount)) {
      return false;
    }
    if (g.amount == 0) return dec->Fail("bounded counter cell of 0");
    if (i > 0) {
      const Grant& p = grants_.back();
      if (!(p.from < g.from || (p.from == g.from && p.to < g.to))) {
        return dec->Fail("bounded counter grants not sorted");
      }
    }
    grants_.push_back(g);
  }
  if (!dec->GetCount(&count, 2)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    Spent s{};
    if (!dec->GetVarint32(&s.replica) || !dec->GetVarint(&s.amount)) return false;
    if (s.amount == 0) return dec->Fail("bounded counter cell of 0");
    if (i > 0 && !(spent_.back().replica < s.replica)) {
      return dec->Fail("bounded counter spends not sorted");
    }
    spent_.push_back(s);
  }
  // Every replica's rights >= 0 (so the value too): what operations make.
  for (ReplicaId r : Replicas()) {
    if (Rights(r) < 0) return dec->Fail("bounded counter rights out of range");
  }
  return true;
}

std::string BoundedCounter::Encode() const {
  Encoder enc;
  Encode(&enc);
  return enc.Release();
}

std::optional<BoundedCounter> BoundedCounter::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  BoundedCounter c;
  if (!c.Decode(&dec) || !dec.done()) {
    if (error) *error = dec.error().empty() ? "trailing bytes after bounded counter" : dec.error();
    return std::nullopt;
  }
  return c;
}

}  // namespace crdt
