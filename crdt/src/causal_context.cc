#include "crdt/causal_context.h"

#include <algorithm>

namespace crdt {

namespace {
template <typename V>
size_t LowerBoundReplica(const V& vv, ReplicaId r) {
  size_t lo = 0, hi = vv.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (vv[mid].replica < r) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
}  // namespace

size_t CausalContext::LowerBound(ReplicaId r) const { return LowerBoundReplica(vv_, r); }

bool CausalContext::FoldIntoVector(const Dot& d) {
  const size_t i = FindReplica(d.replica);
  const bool listed = i < vv_.size() && vv_[i].replica == d.replica;
  const uint64_t max = listed ? vv_[i].max : 0;
  if (d.counter <= max) return true;
  if (d.counter != max + 1) return false;
  if (listed) {
    vv_[i].max = d.counter;
  } else {
    vv_.insert(i, Entry{d.replica, d.counter});
  }
  return true;
}

uint64_t CausalContext::Max(ReplicaId r) const {
  size_t i = LowerBoundReplica(vv_, r);
  return (i < vv_.size() && vv_[i].replica == r) ? vv_[i].max : 0;
}

bool CausalContext::CloudContains(const Dot& d) const {
  return std::binary_search(cloud_.begin(), cloud_.end(), d);
}

void CausalContext::SetMax(ReplicaId r, uint64_t max) {
  size_t i = LowerBoundReplica(vv_, r);
  if (i < vv_.size() && vv_[i].replica == r) {
    vv_[i].max = max;
  } else {
    vv_.insert(i, Entry{r, max});
  }
}

Dot CausalContext::Next(ReplicaId r) {
  const size_t i = FindReplica(r);  // a forward pass over a few replicas: every write asks
  if (i < vv_.size() && vv_[i].replica == r) {
    ++vv_[i].max;
    if (!cloud_.empty()) Compact();
    return Dot{r, vv_[i].max};
  }
  vv_.insert(i, Entry{r, 1});
  if (!cloud_.empty()) Compact();
  return Dot{r, 1};
}

void CausalContext::Add(const Dot& d) {
  uint64_t max = Max(d.replica);
  if (d.counter <= max) return;
  if (d.counter == max + 1) {
    SetMax(d.replica, d.counter);
    if (!cloud_.empty()) Compact();
    return;
  }
  if (cloud_.empty() || cloud_[cloud_.size() - 1] < d) {  // CASE: appends (deltas do)
    cloud_.push_back(d);
    return;
  }
  auto it = std::lower_bound(cloud_.begin(), cloud_.end(), d);
  if (it != cloud_.end() && *it == d) return;
  cloud_.insert(static_cast<size_t>(it - cloud_.begin()), d);
}

void CausalContext::Join(const CausalContext& other) {
  if (this == &other) return;
  // Merge the version vectors (both sorted by replica).
  if (!other.vv_.empty()) {
    // CASE 1: every replica of other is already in vv_ (the steady state): max in place.
    bool subset = !vv_.empty();
    for (size_t i = 0, j = 0; subset && j < other.vv_.size(); ++j, ++i) {
      while (i < vv_.size() && vv_[i].replica < other.vv_[j].replica) ++i;
      subset = i < vv_.size() && vv_[i].replica == other.vv_[j].replica;
    }
    if (subset) {
      for (size_t i = 0, j = 0; j < other.vv_.size(); ++j, ++i) {
        while (vv_[i].replica < other.vv_[j].replica) ++i;
        vv_[i].max = std::max(vv_[i].max, other.vv_[j].max);
      }
    } else if (vv_.empty()) {
      // CASE 2: nothing here yet.
      vv_ = other.vv_;
    } else {
      // CASE 3: merge the two sorted vectors.
      SmallVec<Entry, 6> merged;
      size_t i = 0, j = 0;
      while (i < vv_.size() || j < other.vv_.size()) {
        if (j == other.vv_.size() || (i < vv_.size() && vv_[i].replica < other.vv_[j].replica)) {
          merged.push_back(vv_[i++]);
        } else if (i == vv_.size() || other.vv_[j].replica < vv_[i].replica) {
          merged.push_back(other.vv_[j++]);
        } else {
          merged.push_back(Entry{vv_[i].replica, std::max(vv_[i].max, other.vv_[j].max)});
          ++i;
          ++j;
        }
      }
      vv_ = std::move(merged);
    }
  }
  if (!other.cloud_.empty()) {
    if (cloud_.empty()) {
      // CASE 4: other's cloud (a delta's dots) folded straight in: one pass of Compact over
      // its sorted dots, without copying them first.
      // One search of the vector per dot: its entry is read and, if the dot folds, set.
      for (const Dot& d : other.cloud_) {
        if (!FoldIntoVector(d)) cloud_.push_back(d);
      }
      return;
    } else {
      SmallVec<Dot, 2> merged;
      merged.resize(cloud_.size() + other.cloud_.size());
      auto end = std::set_union(cloud_.begin(), cloud_.end(), other.cloud_.begin(),
                                other.cloud_.end(), merged.begin());
      merged.resize(static_cast<size_t>(end - merged.begin()));
      cloud_ = std::move(merged);
    }
  }
  Compact();
}

void CausalContext::JoinDots(const ContextDots& other) {
  const Dot* d = other.begin();
  const Dot* const end = other.end();
  if (cloud_.empty() && vv_.size() <= kLinearScan) {
    // CASE 1: no cloud here (the steady state), a replica listed here: each dot is covered,
    // or it extends its replica's entry (the next write of that replica), as
    // FoldIntoVector folds it. The dots are sorted, so one forward pass over the vector
    // finds every dot's entry: no search from the start and no call per dot. A longer
    // vector (a context decoded from hostile input) goes to CASE 2, whose FindReplica
    // searches it in log time rather than walking it per merge.
    Entry* const e = vv_.data();
    const size_t n = vv_.size();
    size_t i = 0;
    for (; d != end; ++d) {
      while (i < n && e[i].replica < d->replica) ++i;
      if (i == n || e[i].replica != d->replica) break;  // a new replica: CASE 2
      if (d->counter <= e[i].max) continue;
      if (d->counter != e[i].max + 1) break;  // a gap: CASE 2
      e[i].max = d->counter;
    }
    if (d == end) return;
  }
  JoinRest(d, end);
}

void CausalContext::JoinRest(const Dot* d, const Dot* end) {
  for (; d != end; ++d) {
    // CASE 2: each dot folded into the vector (a replica new here) while there is no
    // cloud; a gap, or a cloud to keep canonical, by Add.
    if (cloud_.empty() && FoldIntoVector(*d)) continue;
    Add(*d);
  }
}

void CausalContext::Compact() {
  if (cloud_.empty()) return;
  size_t out = 0;
  for (size_t i = 0; i < cloud_.size(); ++i) {
    const Dot d = cloud_[i];
    uint64_t max = Max(d.replica);
    if (d.counter <= max) continue;  // already covered
    if (d.counter == max + 1) {
      SetMax(d.replica, d.counter);  // sorted cloud: the next dot of r may now fold too
      continue;
    }
    cloud_[out++] = d;
  }
  cloud_.resize(out);
}

// The context's canonical bytes. WriteDots::Encode writes the same for a write's few dots
// (its test compares the two): a change of format changes both.
void CausalContext::Encode(Encoder* enc) const {
  enc->PutVarint(vv_.size());
  ReplicaId prev = 0;
  for (const Entry& e : vv_) {
    enc->PutVarint(e.replica - prev);  // sorted: delta-encode replica ids
    enc->PutVarint(e.max);
    prev = e.replica;
  }
  enc->PutVarint(cloud_.size());
  for (const Dot& d : cloud_) enc->PutDot(d);
}

void WriteDots::Encode(Encoder* enc) const {
  const size_t n = dots_.size();
  // Room for the longest form: the two counts, and per dot a vector entry or a cloud dot
  // (two varints either way). CASE 0 and 1 write it all unchecked; CASE 2 only its count
  // of entries, then through the checked Put functions.
  char* p = enc->Room((2 + 2 * n) * Encoder::kMaxVarint);
  if (n == 0) {  // CASE 0: an INCRBY's (no dot): the counts of an empty context
    enc->Commit(Encoder::VarintAt(Encoder::VarintAt(p, 0), 0));
    return;
  }
  const Dot* dots = dots_.data();
  size_t entries = 0;  // a replica's vector entry if it has dot 1
  for (size_t i = 0; i < n; ++i) entries += dots[i].counter == 1 ? 1 : 0;
  p = Encoder::VarintAt(p, entries);
  if (entries == 0) {  // CASE 1: no vector (most writes): every dot in the cloud
    p = Encoder::VarintAt(p, n);
    for (size_t i = 0; i < n; ++i) p = Encoder::DotAt(p, dots[i]);
    enc->Commit(p);
    return;
  }
  enc->Commit(p);
  // CASE 2: sorted and distinct, so a replica's run of dots 1..k leads its dots; a dot is
  // in it if its counter is 1 or it follows the run's last dot of its replica by one.
  ReplicaId prev = 0;
  size_t in_runs = 0;
  for (size_t i = 0; i < n;) {
    if (dots[i].counter != 1) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < n && dots[j].replica == dots[i].replica &&
           dots[j].counter == dots[j - 1].counter + 1) {
      ++j;
    }
    enc->PutVarint(dots[i].replica - prev);  // as CausalContext::Encode's vector
    enc->PutVarint(j - i);
    prev = dots[i].replica;
    in_runs += j - i;
    i = j;
  }
  enc->PutVarint(n - in_runs);
  bool in_run = false;
  for (size_t i = 0; i < n; ++i) {
    in_run = dots[i].counter == 1 || (in_run && dots[i - 1].replica == dots[i].replica &&
                                      dots[i - 1].counter + 1 == dots[i].counter);
    if (!in_run) enc->PutDot(dots[i]);
  }
}

bool CausalContext::Decode(Decoder* dec) {
  vv_.clear();
  cloud_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 2)) return false;
  uint64_t replica = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0, max = 0;
    if (!dec->GetVarint(&delta) || !dec->GetVarint(&max)) return false;
    if (i > 0 && delta == 0) return dec->Fail("version vector not sorted");
    // Checked before the sum: a delta near 2^64 would wrap it back to a smaller id.
    if (delta > uint64_t{UINT32_MAX} - replica) return dec->Fail("replica id overflow");
    replica += delta;
    if (max == 0) return dec->Fail("version vector entry 0");
    vv_.push_back(Entry{static_cast<ReplicaId>(replica), max});
  }
  if (!dec->GetCount(&n, 2)) return false;
  // With no vector (a delta's context, most often), only a dot 1 can fold (the rest of
  // its replica's dots may then follow it); without one, Compact would change nothing.
  bool may_fold = !vv_.empty();
  for (uint64_t i = 0; i < n; ++i) {
    Dot d;
    if (!dec->GetDot(&d)) return false;
    if (!cloud_.empty() && !(cloud_.back() < d)) return dec->Fail("dot cloud not sorted");
    cloud_.push_back(d);
    may_fold |= d.counter == 1;
  }
  // Re-canonicalize: a hostile encoding may hold cloud dots the vector covers.
  if (may_fold) Compact();
  return true;
}

std::string CausalContext::DebugString() const {
  std::string s = "{";
  for (const Entry& e : vv_) {
    s.append(std::to_string(e.replica)).append(":").append(std::to_string(e.max)).append(" ");
  }
  s.append("|");
  for (const Dot& d : cloud_) {
    s.append(" ").append(std::to_string(d.replica)).append(".").append(std::to_string(d.counter));
  }
  s.append("}");
  return s;
}

}  // namespace crdt
