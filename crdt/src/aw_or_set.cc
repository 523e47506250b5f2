#include "crdt/aw_or_set.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>

namespace crdt {

namespace {

constexpr uint32_t kIndexBits = 26;
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr uint64_t kCounterMask = (uint64_t{1} << 48) - 1;
constexpr size_t kMaxReplicaSlots = 0x7FFF;

inline uint64_t HashOf(std::string_view s) { return std::hash<std::string_view>{}(s); }
inline uint32_t TagOf(uint64_t h) { return static_cast<uint32_t>(h >> 58) << kIndexBits; }

bool HasDot(const SetStore::DotList& dots, const Dot& d) {
  for (const Dot& x : dots) {
    if (x == d) return true;
  }
  return false;
}

}  // namespace

// ---- lifetime ----

SetStore::SetStore(const SetStore& other) { *this = other; }

SetStore& SetStore::operator=(const SetStore& other) {
  if (this == &other) return *this;
  FreeAll();
  if (other.size_ > 0) {
    cap_ = other.size_;
    entries_ = static_cast<Entry*>(std::malloc(cap_ * sizeof(Entry)));
    if (entries_ == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < other.size_; ++i) {
      new (&entries_[i]) Entry{other.entries_[i].elem.Clone(), other.entries_[i].dot};
    }
  }
  size_ = other.size_;
  live_ = other.live_;
  if (other.index_) {
    mask_ = other.mask_;
    index_ = static_cast<uint32_t*>(std::malloc((mask_ + 1) * sizeof(uint32_t)));
    if (index_ == nullptr) throw std::bad_alloc();
    std::memcpy(index_, other.index_, (mask_ + 1) * sizeof(uint32_t));
  }
  replicas_ = other.replicas_;
  if (other.multi_) multi_ = std::make_unique<std::map<std::string, DotList, std::less<>>>(*other.multi_);
  return *this;
}

SetStore::SetStore(SetStore&& other) noexcept { *this = std::move(other); }

SetStore& SetStore::operator=(SetStore&& other) noexcept {
  if (this == &other) return *this;
  FreeAll();
  entries_ = other.entries_;
  size_ = other.size_;
  cap_ = other.cap_;
  live_ = other.live_;
  index_ = other.index_;
  mask_ = other.mask_;
  replicas_ = std::move(other.replicas_);
  multi_ = std::move(other.multi_);
  other.entries_ = nullptr;
  other.index_ = nullptr;
  other.size_ = other.cap_ = other.live_ = other.mask_ = 0;
  other.replicas_.clear();
  return *this;
}

SetStore::~SetStore() { FreeAll(); }

void SetStore::FreeAll() {
  for (size_t i = 0; i < size_; ++i) entries_[i].~Entry();
  std::free(entries_);
  std::free(index_);
  entries_ = nullptr;
  index_ = nullptr;
  size_ = cap_ = live_ = mask_ = 0;
  multi_.reset();
}

// ---- dots ----

uint64_t SetStore::Pack(const Dot& d) {
  if (d.counter > kCounterMask) return 0;
  size_t idx = 0;
  while (idx < replicas_.size() && replicas_[idx] != d.replica) ++idx;
  if (idx == replicas_.size()) {
    if (idx >= kMaxReplicaSlots) return 0;
    replicas_.push_back(d.replica);
  }
  return (static_cast<uint64_t>(idx + 1) << 48) | d.counter;
}

Dot SetStore::Unpack(uint64_t packed) const {
  return Dot{replicas_[(packed >> 48) - 1], packed & kCounterMask};
}

void SetStore::GetDots(size_t i, DotList* out) const {
  out->clear();
  uint64_t p = entries_[i].dot;
  if (p == 0) return;
  if (p == kMulti) {
    *out = multi_->find(entries_[i].elem.view())->second;
    return;
  }
  out->push_back(Unpack(p));
}

void SetStore::SetDots(size_t i, const DotList& dots) {
  Entry& e = entries_[i];
  bool was_live = e.dot != 0;
  if (e.dot == kMulti && dots.size() != 1) {
    if (dots.empty()) {
      multi_->erase(multi_->find(e.elem.view()));
      e.dot = 0;
    } else {
      multi_->find(e.elem.view())->second = dots;
    }
  } else {
    uint64_t packed = dots.size() == 1 ? Pack(dots[0]) : 0;
    if (e.dot == kMulti && packed != 0) multi_->erase(multi_->find(e.elem.view()));
    if (dots.empty()) {
      e.dot = 0;
    } else if (packed != 0) {
      e.dot = packed;
    } else {
      if (!multi_) multi_ = std::make_unique<std::map<std::string, DotList, std::less<>>>();
      (*multi_)[std::string(e.elem.view())] = dots;
      e.dot = kMulti;
    }
  }
  bool is_live = e.dot != 0;
  live_ += static_cast<size_t>(is_live) - static_cast<size_t>(was_live);
}

// ---- hash table ----

int64_t SetStore::Find(std::string_view e) const { return Find(e, HashOf(e)); }

int64_t SetStore::Find(std::string_view e, uint64_t h) const {
  if (index_ == nullptr) {
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i].elem.view() == e) return static_cast<int64_t>(i);
    }
    return -1;
  }
  const uint32_t tag = TagOf(h);
  for (size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    uint32_t slot = index_[pos];
    if (slot == 0) return -1;
    if ((slot & ~kIndexMask) == tag) {
      size_t i = (slot & kIndexMask) - 1;
      if (entries_[i].elem.view() == e) return static_cast<int64_t>(i);
    }
  }
}

void SetStore::IndexInsert(uint64_t h, size_t entry) {
  size_t pos = h & mask_;
  while (index_[pos] != 0) pos = (pos + 1) & mask_;
  index_[pos] = TagOf(h) | static_cast<uint32_t>(entry + 1);
}

void SetStore::IndexReplace(uint64_t h, size_t from, size_t to) {
  for (size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    if ((index_[pos] & kIndexMask) == from + 1) {
      index_[pos] = (index_[pos] & ~kIndexMask) | static_cast<uint32_t>(to + 1);
      return;
    }
  }
}

void SetStore::IndexErase(uint64_t h, size_t entry) {
  size_t pos = h & mask_;
  while ((index_[pos] & kIndexMask) != entry + 1) pos = (pos + 1) & mask_;
  // Backward-shift deletion keeps linear probing free of tombstones.
  size_t hole = pos;
  for (size_t next = (hole + 1) & mask_; index_[next] != 0; next = (next + 1) & mask_) {
    size_t e = (index_[next] & kIndexMask) - 1;
    size_t home = HashOf(entries_[e].elem.view()) & mask_;
    // Move next into the hole if its home is not in (hole, next] cyclically.
    bool in_range = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!in_range) {
      index_[hole] = index_[next];
      hole = next;
    }
  }
  index_[hole] = 0;
}

void SetStore::Rehash(size_t capacity) {
  std::free(index_);
  index_ = static_cast<uint32_t*>(std::calloc(capacity, sizeof(uint32_t)));
  if (index_ == nullptr) throw std::bad_alloc();
  mask_ = capacity - 1;
  for (size_t i = 0; i < size_; ++i) IndexInsert(HashOf(entries_[i].elem.view()), i);
}

void SetStore::Grow() {
  size_t cap = cap_ < 4 ? 4 : cap_ + cap_ / 2;
  if (cap > kIndexMask - 1) cap = kIndexMask - 1;
  if (cap <= size_) std::abort();  // more than 2^26 elements in one set: unsupported
  void* p = std::realloc(static_cast<void*>(entries_), cap * sizeof(Entry));
  if (p == nullptr) throw std::bad_alloc();
  entries_ = static_cast<Entry*>(p);  // Entry is trivially relocatable (see bytes.h)
  cap_ = cap;
}

size_t SetStore::Insert(std::string_view e, uint64_t h) {
  if (size_ == cap_) Grow();
  new (&entries_[size_]) Entry{Bytes(e), 0};
  size_t i = size_++;
  if (index_ == nullptr) {
    if (size_ > kSmall) Rehash(32);
  } else if (size_ * 5 > (mask_ + 1) * 4) {
    Rehash((mask_ + 1) * 2);
  } else {
    IndexInsert(h, i);
  }
  return i;
}

void SetStore::Erase(size_t i) {
  Entry& e = entries_[i];
  if (e.dot != 0) --live_;
  if (e.dot == kMulti) multi_->erase(multi_->find(e.elem.view()));
  size_t last = size_ - 1;
  if (index_) {
    IndexErase(HashOf(e.elem.view()), i);
    if (i != last) IndexReplace(HashOf(entries_[last].elem.view()), last, i);
  }
  e.~Entry();
  if (i != last) {
    std::memcpy(static_cast<void*>(&entries_[i]), &entries_[last], sizeof(Entry));
  }
  --size_;
  if (size_ == 0) {
    std::free(index_);
    index_ = nullptr;
    mask_ = 0;
    replicas_.clear();
  }
}

void SetStore::PutDots(std::string_view e, const DotList& dots) {
  uint64_t h = HashOf(e);
  int64_t i = Find(e, h);
  size_t idx = i >= 0 ? static_cast<size_t>(i) : Insert(e, h);
  SetDots(idx, dots);
}

// ---- mutators ----

bool SetStore::Contains(std::string_view e) const {
  int64_t i = Find(e);
  return i >= 0 && entries_[i].dot != 0;
}

bool SetStore::Add(std::string_view e, ReplicaId r, CausalContext* cc, SetStore* delta,
                   CausalContext* delta_cc) {
  uint64_t h = HashOf(e);
  int64_t found = Find(e, h);
  bool was_present = false;
  size_t i;
  if (found >= 0) {
    i = static_cast<size_t>(found);
    was_present = entries_[i].dot != 0;
    if (delta_cc && was_present) {
      DotList old;
      GetDots(i, &old);
      for (const Dot& d : old) delta_cc->Add(d);
    }
  } else {
    i = Insert(e, h);
  }
  DotList fresh;
  fresh.push_back(cc->Next(r));
  SetDots(i, fresh);
  if (delta) delta->PutDots(e, fresh);
  if (delta_cc) delta_cc->Add(fresh[0]);
  return !was_present;
}

bool SetStore::Remove(std::string_view e, SetStore* delta, CausalContext* delta_cc) {
  int64_t found = Find(e);
  if (found < 0) return false;
  size_t i = static_cast<size_t>(found);
  bool was_present = entries_[i].dot != 0;
  if (delta_cc && was_present) {
    DotList old;
    GetDots(i, &old);
    for (const Dot& d : old) delta_cc->Add(d);
  }
  Erase(i);
  if (delta && was_present) delta->PutDots(e, DotList());
  return was_present;
}

size_t SetStore::Clear(SetStore* delta, CausalContext* delta_cc) {
  size_t n = live_;
  DotList old;
  for (size_t i = 0; i < size_; ++i) {
    if (entries_[i].dot == 0) continue;
    if (delta_cc) {
      GetDots(i, &old);
      for (const Dot& d : old) delta_cc->Add(d);
    }
    if (delta) delta->PutDots(entries_[i].elem.view(), DotList());
  }
  FreeAll();
  replicas_.clear();
  return n;
}

// ---- join ----

void SetStore::Join(const SetStore& other, const CausalContext& my_cc,
                    const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  DotList mine, theirs, out;
  const size_t my_size_before = size_;
  (void)my_size_before;
  for (size_t j = 0; j < other.size_; ++j) {
    std::string_view e = other.entries_[j].elem.view();
    other.GetDots(j, &theirs);
    uint64_t h = HashOf(e);
    int64_t found = Find(e, h);
    out.clear();
    if (found >= 0) {
      GetDots(static_cast<size_t>(found), &mine);
      // Fast path: both hold the same single dot.
      if (mine.size() == 1 && theirs.size() == 1 && mine[0] == theirs[0]) continue;
      for (const Dot& d : mine) {
        if (HasDot(theirs, d) || !other_cc.Contains(d)) out.push_back(d);
      }
    } else {
      mine.clear();
    }
    for (const Dot& d : theirs) {
      if (!HasDot(mine, d) && !my_cc.Contains(d)) out.push_back(d);
    }
    std::sort(out.begin(), out.end());
    if (found >= 0) {
      if (out.empty() && !keep_empty) {
        Erase(static_cast<size_t>(found));
      } else if (!(out == mine)) {
        SetDots(static_cast<size_t>(found), out);
      }
    } else if (!out.empty() || keep_empty) {
      SetDots(Insert(e, h), out);
    }
  }
  if (other_complete) return;
  // Elements only we list: drop the dots the other side observed (it removed them).
  for (size_t i = size_; i-- > 0;) {
    if (entries_[i].dot == 0) continue;
    GetDots(i, &mine);
    bool any_seen = false;
    for (const Dot& d : mine) any_seen |= other_cc.Contains(d);
    if (!any_seen) continue;
    if (other.Find(entries_[i].elem.view()) >= 0) continue;  // handled above
    out.clear();
    for (const Dot& d : mine) {
      if (!other_cc.Contains(d)) out.push_back(d);
    }
    if (out.empty() && !keep_empty) {
      Erase(i);  // moves the last entry (already visited) into i
    } else {
      SetDots(i, out);
    }
  }
}

// ---- queries ----

std::vector<std::string> SetStore::Elements() const {
  std::vector<std::string> out;
  out.reserve(live_);
  for (size_t i = 0; i < size_; ++i) {
    if (entries_[i].dot != 0) out.emplace_back(entries_[i].elem.view());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t SetStore::MemoryBytes() const {
  size_t n = cap_ * sizeof(Entry) + (index_ ? (mask_ + 1) * sizeof(uint32_t) : 0);
  for (size_t i = 0; i < size_; ++i) n += entries_[i].elem.HeapBytes();
  n += replicas_.HeapBytes();
  if (multi_) {
    for (const auto& [k, v] : *multi_) n += 64 + k.capacity() + v.HeapBytes();
  }
  return n;
}

bool operator==(const SetStore& a, const SetStore& b) {
  if (a.live_ != b.live_) return false;
  SetStore::DotList da, db;
  for (size_t i = 0; i < a.size_; ++i) {
    if (a.entries_[i].dot == 0) continue;
    int64_t j = b.Find(a.entries_[i].elem.view());
    if (j < 0) return false;
    a.GetDots(i, &da);
    b.GetDots(static_cast<size_t>(j), &db);
    if (!(da == db)) return false;
  }
  return true;
}

// ---- encoding ----

void SetStore::Encode(Encoder* enc) const {
  std::vector<uint32_t> order(size_);
  for (size_t i = 0; i < size_; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [this](uint32_t x, uint32_t y) {
    return entries_[x].elem.view() < entries_[y].elem.view();
  });
  enc->PutVarint(size_);
  DotList dots;
  for (uint32_t i : order) {
    enc->PutBytes(entries_[i].elem.view());
    GetDots(i, &dots);
    enc->PutVarint(dots.size());
    for (const Dot& d : dots) enc->PutDot(d);
  }
}

bool SetStore::Decode(Decoder* dec) {
  FreeAll();
  replicas_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 2)) return false;
  std::string prev;
  DotList dots;
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view e;
    uint64_t nd = 0;
    if (!dec->GetBytes(&e) || !dec->GetCount(&nd, 2)) return false;
    if (k > 0 && !(prev < e)) return dec->Fail("set elements not sorted");
    dots.clear();
    for (uint64_t t = 0; t < nd; ++t) {
      Dot d;
      if (!dec->GetDot(&d)) return false;
      if (!dots.empty() && !(dots.back() < d)) return dec->Fail("element dots not sorted");
      dots.push_back(d);
    }
    if (size_ >= kIndexMask - 2) return dec->Fail("too many set elements");
    SetDots(Insert(e, HashOf(e)), dots);
    prev.assign(e.data(), e.size());
  }
  return true;
}

// ---- AwOrSet ----

AwOrSet AwOrSet::Add(std::string_view e) {
  AwOrSet delta(self_);
  delta.key_complete_ = true;
  store_.Add(e, self_, &cc_, &delta.store_, &delta.cc_);
  return delta;
}

AwOrSet AwOrSet::Remove(std::string_view e) {
  AwOrSet delta(self_);
  delta.key_complete_ = true;
  store_.Remove(e, &delta.store_, &delta.cc_);
  return delta;
}

AwOrSet AwOrSet::Clear() {
  AwOrSet delta(self_);
  delta.key_complete_ = true;
  store_.Clear(&delta.store_, &delta.cc_);
  return delta;
}

void AwOrSet::Merge(const AwOrSet& other) {
  if (this == &other) return;
  bool complete = key_complete_ && other.key_complete_;
  store_.Join(other.store_, cc_, other.cc_, other.key_complete_, complete);
  cc_.Join(other.cc_);
  key_complete_ = complete;
}

std::string AwOrSet::Encode() const {
  Encoder enc;
  enc.PutByte(key_complete_ ? 1 : 0);
  store_.Encode(&enc);
  cc_.Encode(&enc);
  return enc.Release();
}

std::optional<AwOrSet> AwOrSet::Decode(std::string_view bytes, std::string* error) {
  Decoder dec(bytes);
  AwOrSet s;
  uint8_t flags = 0;
  if (!dec.GetByte(&flags) || !s.store_.Decode(&dec) || !s.cc_.Decode(&dec) || !dec.done() ||
      flags > 1) {
    if (error) {
      *error = !dec.error().empty() ? dec.error()
               : flags > 1          ? "unknown flags"
                                    : "trailing bytes after set";
    }
    return std::nullopt;
  }
  s.key_complete_ = flags == 1;
  bool ok = true;
  s.store_.ForEach([&](std::string_view, const SetStore::DotList& dots) {
    for (const Dot& d : dots) ok &= s.cc_.Contains(d);
  });
  if (!ok) {
    if (error) *error = "set dot outside its causal context";
    return std::nullopt;
  }
  if (!s.key_complete_ && s.store_.entry_count() != s.store_.size()) {
    if (error) *error = "state holds an element without dots";
    return std::nullopt;
  }
  return s;
}

}  // namespace crdt
