#include "crdt/aw_or_set.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

#include "crdt/flat_hash.h"

namespace crdt {

namespace {

constexpr uint32_t kIndexBits = 26;  // at most 2^26 - 2 entries in one set
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr uint64_t kCounterMask = (uint64_t{1} << 48) - 1;
constexpr uint64_t kEntryMask = 0xFFFFFFFF;  // index slot: entry + 1 in the low half
constexpr size_t kMaxReplicaSlots = 0x7FFF;

bool HasDot(const SetStore::DotList& dots, const Dot& d) {
  for (const Dot& x : dots) {
    if (x == d) return true;
  }
  return false;
}

// The join rule of one element, on dot lists (the optimized OR-set's): a dot of mine
// survives if the other side holds it too or never observed it (else it removed it); one
// of theirs if I neither hold it nor observed it (else I removed it). *out gets the
// survivors, sorted (as mine and theirs are). Every join of SetStore applies it, or one of
// its three fast forms: the one-dot form in JoinListed, Join's shortcut when both sides hold
// the same single packed dot (kept, nothing unpacked), and Join's second pass over the
// elements only I list (a packed dot is kept iff it is above other_cc's contiguous maximum
// for its replica and not in other_cc's cloud).
template <typename OtherCc>
void JoinDots(const SetStore::DotList& mine, const SetStore::DotList& theirs,
              const CausalContext& my_cc, const OtherCc& other_cc, SetStore::DotList* out) {
  out->clear();
  for (const Dot& m : mine) {
    if (HasDot(theirs, m) || !other_cc.Contains(m)) out->push_back(m);
  }
  const size_t kept = out->size();
  for (const Dot& t : theirs) {
    if (!HasDot(mine, t) && !my_cc.Contains(t)) out->push_back(t);
  }
  if (kept != 0 && out->size() != kept) std::sort(out->begin(), out->end());
}

}  // namespace

// ---- lifetime ----

SetStore::SetStore(const SetStore& other) { *this = other; }

SetStore& SetStore::operator=(const SetStore& other) {
  if (this == &other) return *this;
  FreeAll();
  // If an allocation throws, *this is left empty: size_ counts only the entries built so
  // far and mask_ is set only with the index it describes, so FreeAll frees what was made.
  try {
    if (other.size_ > 0) {
      if (other.size_ == 1) {
        entries_ = reinterpret_cast<Entry*>(inline_entry_);
      } else {
        entries_ = static_cast<Entry*>(Allocate(other.size_ * sizeof(Entry)));
      }
      cap_ = other.size_;
      for (size_t i = 0; i < other.size_; ++i) {  // holes too: the free list stays valid
        new (&entries_[i]) Entry{other.entries_[i].elem.Clone(), other.entries_[i].dot};
        size_ = static_cast<uint32_t>(i + 1);
      }
    }
    if (other.HasIndex()) {
      auto* index = static_cast<uint64_t*>(Allocate((other.mask_ + 1) * sizeof(uint64_t)));
      std::memcpy(index, other.index_, (other.mask_ + 1) * sizeof(uint64_t));
      index_ = index;
      mask_ = other.mask_;
    }
    replicas_ = other.replicas_;
    if (other.multi_) {
      multi_ = std::make_unique<std::map<std::string, DotList, std::less<>>>(*other.multi_);
    }
  } catch (...) {
    FreeAll();
    throw;
  }
  if (!other.HasIndex()) tags_ = other.tags_;
  if (HasMoreTags()) std::memcpy(more_tags_, other.more_tags_, sizeof(more_tags_));  // theirs too
  live_ = other.live_;
  holes_ = other.holes_;
  free_ = other.free_;
  elem_heap_bytes_ = other.elem_heap_bytes_;
  return *this;
}

SetStore::SetStore(SetStore&& other) noexcept : heap_(ValueHeap::Ref(other.heap_)) {
  *this = std::move(other);  // the same heap: nothing is copied, nothing can throw
}

SetStore& SetStore::operator=(SetStore&& other) {
  if (this == &other) return *this;
  FreeAll();
  // The entries and index are pieces of other's heap: copied into ours first, while other
  // still holds them (it keeps its heap pointer; nothing below throws before they are
  // ours). If that throws, *this is left empty and other as it was.
  if (other.heap_ != heap_ && other.HoldsBlocks()) other.MoveBlocks(other.heap_, heap_);
  if (other.InlineEntries()) {
    std::memcpy(inline_entry_, other.inline_entry_, sizeof(Entry));  // relocatable
    entries_ = reinterpret_cast<Entry*>(inline_entry_);
  } else {
    entries_ = other.entries_;
    if (other.HasMoreTags()) std::memcpy(more_tags_, other.more_tags_, sizeof(more_tags_));
  }
  size_ = other.size_;
  cap_ = other.cap_;
  live_ = other.live_;
  holes_ = other.holes_;
  free_ = other.free_;
  elem_heap_bytes_ = std::exchange(other.elem_heap_bytes_, 0);
  if (other.HasIndex()) {
    index_ = other.index_;
  } else {
    tags_ = other.tags_;
  }
  mask_ = other.mask_;
  replicas_ = std::move(other.replicas_);
  multi_ = std::move(other.multi_);
  other.entries_ = nullptr;
  other.tags_ = 0;
  other.size_ = other.cap_ = 0;
  other.live_ = other.holes_ = other.free_ = other.mask_ = 0;
  other.replicas_.clear();
  return *this;
}

void SetStore::UseHeap(ValueHeap* h) {
  if (h == heap_) return;
  if (HoldsBlocks()) MoveBlocks(heap_, h);  // the usual store holds none: one entry, inline
  ValueHeap::Ref(h);
  ValueHeap::Unref(std::exchange(heap_, h));
}

void SetStore::MoveBlocks(ValueHeap* from, ValueHeap* to) {
  // Both new blocks are allocated before anything is freed or switched: if the second
  // allocation throws, the first is given back and the store is as it was (every block a
  // piece of `from`), so its owner frees each into the heap that made it.
  const size_t entry_bytes = EntryBlockBytes();
  const size_t index_bytes = IndexBytes();
  void* entries = entry_bytes != 0 ? ValueHeap::Allocate(to, entry_bytes) : nullptr;
  void* index = nullptr;
  if (index_bytes != 0) {
    try {
      index = ValueHeap::Allocate(to, index_bytes);
    } catch (...) {
      if (entries != nullptr) ValueHeap::Free(to, entries, entry_bytes);
      throw;
    }
  }
  // Entry and the index words are trivially relocatable (see bytes.h): memcpy moves them.
  if (entries != nullptr) {
    std::memcpy(entries, static_cast<void*>(entries_), size_ * sizeof(Entry));
    ValueHeap::Free(from, entries_, entry_bytes);
    entries_ = static_cast<Entry*>(entries);
  }
  if (index != nullptr) {
    std::memcpy(index, index_, index_bytes);
    ValueHeap::Free(from, index_, index_bytes);
    index_ = static_cast<uint64_t*>(index);
  }
}

SetStore::~SetStore() {
  FreeAll();
  ValueHeap::Unref(heap_);
}

void SetStore::FreeAll() {
  for (size_t i = 0; i < size_; ++i) entries_[i].~Entry();  // holes hold an empty Bytes
  if (const size_t bytes = EntryBlockBytes(); bytes != 0) Free(entries_, bytes);
  if (const size_t bytes = IndexBytes(); bytes != 0) Free(index_, bytes);
  entries_ = nullptr;
  tags_ = 0;  // index_ too (the union): null, and no tag
  size_ = cap_ = 0;
  live_ = holes_ = free_ = mask_ = 0;
  elem_heap_bytes_ = 0;
  replicas_.clear();
  multi_.reset();
}

// ---- dots ----

uint64_t SetStore::Pack(const Dot& d) {
  if (d.counter > kCounterMask) return 0;
  const ReplicaId* slots = replicas_.data();
  const size_t n = replicas_.size();
  size_t idx = 0;
  while (idx < n && slots[idx] != d.replica) ++idx;
  if (idx == n) {
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

int64_t SetStore::Find(std::string_view e, uint32_t h) const {
  size_t empty_slot;
  return Find(e, h, &empty_slot);
}

int64_t SetStore::Find(std::string_view e, uint32_t h, size_t* empty_slot) const {
  *empty_slot = kNoSlot;
  if (!HasIndex()) {
    // The bytes of a tag word equal to e's tag, found all at once: x's zero bytes (high
    // bit of each byte of `match`, exact: no carry crosses a byte). Holes and unused bytes
    // are 0, never a tag, so only entries in use are read. The words of entries 8 to 31
    // (the third line of a key's node) are read only as far as the set has entries.
    constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7F;
    const uint64_t pattern = TagOf(h) * 0x0101010101010101;
    const auto match_in = [&](uint64_t word, size_t base) -> int64_t {
      const uint64_t x = word ^ pattern;
      for (uint64_t match = ~(((x & kLow7) + kLow7) | x | kLow7); match != 0; match &= match - 1) {
        const size_t i = base + static_cast<size_t>(std::countr_zero(match)) / 8;
        if (SameBytes(entries_[i].elem.view(), e)) return static_cast<int64_t>(i);
      }
      return -1;
    };
    // The first word on its own: a set of at most 8 entries (most) reads no other.
    int64_t i = match_in(tags_, 0);
    if (i >= 0 || size_ <= 8) return i;
    for (size_t base = 8; base < size_; base += 8) {  // size_ > 8: HasMoreTags()
      if ((i = match_in(more_tags_[base / 8 - 1], base)) >= 0) return i;
    }
    return -1;
  }
  for (size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    uint64_t slot = index_[pos];
    if (slot == 0) {
      *empty_slot = pos;  // where IndexInsert would put e: the end of the same probe
      return -1;
    }
    if ((slot >> 32) == h) {
      size_t i = (slot & kEntryMask) - 1;
      if (SameBytes(entries_[i].elem.view(), e)) return static_cast<int64_t>(i);
    }
  }
}

void SetStore::IndexInsert(uint32_t h, size_t entry) {
  size_t pos = h & mask_;
  while (index_[pos] != 0) pos = (pos + 1) & mask_;
  index_[pos] = (uint64_t{h} << 32) | (entry + 1);
}

void SetStore::IndexErase(uint32_t h, size_t entry) {
  size_t pos = h & mask_;
  while ((index_[pos] & kEntryMask) != entry + 1) pos = (pos + 1) & mask_;
  // Backward-shift deletion keeps linear probing free of tombstones; the hash in each
  // slot gives its home without touching the entries.
  size_t hole = pos;
  for (size_t next = (hole + 1) & mask_; index_[next] != 0; next = (next + 1) & mask_) {
    size_t home = (index_[next] >> 32) & mask_;
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
  uint64_t* old = HasIndex() ? index_ : nullptr;
  size_t old_capacity = old ? mask_ + 1 : 0;
  auto* fresh = static_cast<uint64_t*>(Allocate(capacity * sizeof(uint64_t)));  // may throw
  index_ = fresh;  // the tags (no index before) are no longer needed
  std::memset(index_, 0, capacity * sizeof(uint64_t));
  mask_ = capacity - 1;
  if (old) {
    for (size_t pos = 0; pos < old_capacity; ++pos) {
      uint64_t slot = old[pos];
      if (slot == 0) continue;
      size_t p = (slot >> 32) & mask_;
      while (index_[p] != 0) p = (p + 1) & mask_;
      index_[p] = slot;
    }
    Free(old, old_capacity * sizeof(uint64_t));
  } else {
    for (size_t i = 0; i < size_; ++i) {
      if (!IsHole(i)) IndexInsert(HashOf(entries_[i].elem.view()), i);
    }
  }
}

void SetStore::Grow() {
  size_t cap = cap_ == 0 ? 1 : cap_ < 4 ? 4 : cap_ + cap_ / 2;
  if (cap > kIndexMask - 1) cap = kIndexMask - 1;
  if (cap <= size_) std::abort();  // more than 2^26 elements in one set: unsupported
  if (cap_ == 0) {
    entries_ = reinterpret_cast<Entry*>(inline_entry_);
  } else {
    void* p = Allocate(cap * sizeof(Entry));
    // Entry is trivially relocatable (see bytes.h).
    std::memcpy(p, static_cast<void*>(entries_), size_ * sizeof(Entry));
    if (const size_t bytes = EntryBlockBytes(); bytes != 0) Free(entries_, bytes);
    // The inline entry's bytes, moved out, become the tags of entries 8 to 31: none yet.
    if (InlineEntries()) std::memset(more_tags_, 0, sizeof(more_tags_));
    entries_ = static_cast<Entry*>(p);
  }
  cap_ = cap;
}

size_t SetStore::Insert(std::string_view e, uint32_t h) { return Insert(e, h, kNoSlot); }

size_t SetStore::Insert(std::string_view e, uint32_t h, size_t empty_slot) {
  // The index grows first, and an entry is taken only once it is built: if an allocation
  // throws, the set holds what it held (an index grown early indexes the same entries).
  const size_t n = size_ - holes_ + 1;  // entries after the insert
  if (!HasIndex() ? n > kSmall : n * 5 > (mask_ + 1) * 4) {
    // Indexes every entry but the new one; the old index's slot means nothing in the new.
    Rehash(HasIndex() ? (mask_ + 1) * 2 : 2 * kSmall);  // load 0.52 at the first
    empty_slot = kNoSlot;
  }
  size_t i;
  if (free_ != 0) {
    // CASE 1: reuse a hole (its Bytes is empty, so constructing over it leaks nothing).
    i = free_ - 1;
    const uint32_t next_free = entries_[i].dot & kEntryMask;
    new (&entries_[i]) Entry{Bytes(e), 0};
    free_ = next_free;
    --holes_;
  } else {
    // CASE 2: append.
    if (size_ == cap_) Grow();
    new (&entries_[size_]) Entry{Bytes(e), 0};
    i = size_++;
  }
  // Tested first: a short element (most) does not touch the count's line.
  if (const size_t b = entries_[i].elem.HeapBytes(); b != 0) elem_heap_bytes_ += b;
  if (!HasIndex()) {
    SetTag(i, TagOf(h));  // i < kSmall: without an index holes are reused before an append
  } else if (empty_slot != kNoSlot) {
    index_[empty_slot] = (uint64_t{h} << 32) | (i + 1);  // CASE 3: the slot Find ended on
  } else {
    IndexInsert(h, i);
  }
  return i;
}

void SetStore::Erase(size_t i) { Erase(i, HashOf(entries_[i].elem.view())); }

void SetStore::Erase(size_t i, uint32_t h) {
  Entry& e = entries_[i];
  if (e.dot != 0) --live_;
  if (e.dot == kMulti) multi_->erase(multi_->find(e.elem.view()));
  if (HasIndex()) {
    IndexErase(h, i);
  } else {
    SetTag(i, 0);
  }
  if (const size_t b = e.elem.HeapBytes(); b != 0) elem_heap_bytes_ -= b;
  e.elem = Bytes();
  if (i + 1 == size_) {
    --size_;  // the last entry: no hole needed
  } else {
    e.dot = kHole | free_;
    free_ = i + 1;
    ++holes_;
  }
  if (size_ == holes_) FreeAll();  // empty: start afresh (also forgets the replica slots)
}

size_t SetStore::FindOrInsert(std::string_view e, uint32_t h) {
  const int64_t i = Find(e, h);
  return i >= 0 ? static_cast<size_t>(i) : Insert(e, h);
}

void SetStore::SetOne(size_t i, const Dot& d) {
  Entry& entry = entries_[i];
  const uint64_t packed = entry.dot != kMulti ? Pack(d) : 0;
  if (packed == 0) {  // CASE 2: a multi-dot entry, or a dot that does not pack
    DotList dots;
    dots.push_back(d);
    SetDots(i, dots);
    return;
  }
  live_ += entry.dot == 0;  // CASE 1: one packed word replaces at most one other
  entry.dot = packed;
}

void SetStore::SetBoth(size_t i, const Dot& a, const Dot& b) {
  DotList both;
  both.push_back(a < b ? a : b);
  both.push_back(a < b ? b : a);
  SetDots(i, both);
}

void SetStore::PutDots(std::string_view e, const DotList& dots) {
  uint32_t h = HashOf(e);
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
  return AddDots(e, r, cc, delta, delta_cc, nullptr);
}

bool SetStore::AddWritten(std::string_view e, ReplicaId r, CausalContext* cc, WriteDots* written,
                          Dot* took) {
  return AddDots(e, r, cc, nullptr, written, took);
}

bool SetStore::Remove(std::string_view e, SetStore* delta, CausalContext* delta_cc) {
  return RemoveDots(e, delta, delta_cc);
}

bool SetStore::RemoveWritten(std::string_view e, WriteDots* written) {
  return RemoveDots(e, nullptr, written);
}

template <typename DeltaCc>
bool SetStore::AddDots(std::string_view e, ReplicaId r, CausalContext* cc, SetStore* delta,
                       DeltaCc* delta_cc, Dot* took) {
  const uint32_t h = HashOf(e);
  size_t empty_slot;
  const int64_t found = Find(e, h, &empty_slot);
  bool was_present = false;
  size_t i;
  if (found >= 0) {
    i = static_cast<size_t>(found);
    const uint64_t old = entries_[i].dot;
    was_present = old != 0;
    if (delta_cc && was_present) {
      if (old != kMulti) {
        delta_cc->Add(Unpack(old));
      } else {
        DotList dots;
        GetDots(i, &dots);
        for (const Dot& d : dots) delta_cc->Add(d);
      }
    }
  } else {
    i = Insert(e, h, empty_slot);  // no second probe of the index
  }
  const Dot fresh = cc->Next(r);
  SetOne(i, fresh);
  if (delta) delta->SetOne(delta->FindOrInsert(e, h), fresh);
  if (delta_cc) delta_cc->Add(fresh);
  if (took) *took = fresh;
  return !was_present;
}

template <typename DeltaCc>
bool SetStore::RemoveDots(std::string_view e, SetStore* delta, DeltaCc* delta_cc) {
  const uint32_t h = HashOf(e);
  const int64_t found = Find(e, h);
  if (found < 0) return false;
  const size_t i = static_cast<size_t>(found);
  const uint64_t old = entries_[i].dot;
  const bool was_present = old != 0;
  if (delta_cc && was_present) {
    if (old != kMulti) {
      delta_cc->Add(Unpack(old));
    } else {
      DotList dots;
      GetDots(i, &dots);
      for (const Dot& d : dots) delta_cc->Add(d);
    }
  }
  Erase(i, h);
  if (delta && was_present) delta->SetDots(delta->FindOrInsert(e, h), DotList());
  return was_present;
}

size_t SetStore::Clear(SetStore* delta, CausalContext* delta_cc) {
  size_t n = live_;
  DotList old;
  for (size_t i = 0; i < size_; ++i) {
    if (IsHole(i) || entries_[i].dot == 0) continue;
    if (delta_cc) {
      GetDots(i, &old);
      for (const Dot& d : old) delta_cc->Add(d);
    }
    if (delta) delta->PutDots(entries_[i].elem.view(), DotList());
  }
  FreeAll();
  return n;
}

// ---- join ----

// CASE: *this has no entries, so every dot of other is kept unless my_cc has seen it (then
// I removed it). Copying the whole table (entries, index, replica slots) is a few memcpys.
void SetStore::JoinIntoEmpty(const SetStore& other, const CausalContext& my_cc,
                             const CausalContext& other_cc, bool keep_empty) {
  *this = other;
  const bool drop_empty = !keep_empty && live_ != size_ - holes_;
  if (my_cc.empty() && !drop_empty) return;
  const DotList none{};
  DotList dots, out;
  for (size_t i = 0; i < size_; ++i) {
    if (IsHole(i)) continue;
    if (entries_[i].dot != 0 && !my_cc.empty()) {
      GetDots(i, &dots);
      JoinDots(none, dots, my_cc, other_cc, &out);  // I list nothing
      if (out.size() != dots.size()) SetDots(i, out);
    }
    if (entries_[i].dot == 0 && !keep_empty) {
      Erase(i);
      if (size_ == 0) return;  // Erase of the last entry reset the store
    }
  }
}

template <typename OtherCc>
inline int64_t SetStore::JoinListed(std::string_view e, uint32_t h, int64_t found,
                                    size_t empty_slot, const Dot* d, const DotList* theirs,
                                    const CausalContext& my_cc, const OtherCc& other_cc,
                                    bool keep_empty) {
  if (theirs == nullptr) {
    const bool keep_theirs = d != nullptr && !my_cc.Contains(*d);
    if (found < 0) {
      // CASE 1: an element I do not list: its dot, unless I observed (removed) it or it has
      // none (a delta still lists the element).
      if (!keep_theirs && !keep_empty) return -1;
      const size_t i = Insert(e, h, empty_slot);
      if (keep_theirs) SetOne(i, *d);
      return static_cast<int64_t>(i);
    }
    const size_t i = static_cast<size_t>(found);
    const uint64_t packed = entries_[i].dot;
    if (packed != kMulti) {
      // CASE 2: each side holds at most one dot (most elements): JoinDots's rule on those
      // two, without building the lists. Mine survives if theirs is the same dot or they
      // never observed it; theirs (above) if I never observed it.
      const bool has_mine = packed != 0;
      const Dot m = has_mine ? Unpack(packed) : Dot{};
      const bool same = has_mine && d != nullptr && m == *d;
      const bool keep_mine = has_mine && (same || !other_cc.Contains(m));
      const bool add_theirs = keep_theirs && !same;
      if (keep_mine && add_theirs) {  // both (concurrent adds)
        SetBoth(i, m, *d);
      } else if (add_theirs) {
        SetOne(i, *d);
      } else if (!keep_mine) {
        if (!keep_empty) {
          Erase(i, h);
          return -1;
        }
        if (has_mine) {
          entries_[i].dot = 0;  // SetDots(i, {}): touched, no dots
          --live_;
        }
      }
      return found;
    }
  }
  return JoinListedDots(e, h, found, empty_slot, d, theirs, my_cc, other_cc, keep_empty);
}

template <typename OtherCc>
int64_t SetStore::JoinListedDots(std::string_view e, uint32_t h, int64_t found, size_t empty_slot,
                                 const Dot* d, const DotList* theirs, const CausalContext& my_cc,
                                 const OtherCc& other_cc, bool keep_empty) {
  // CASE 3: the rule on dot lists (several dots on a side).
  DotList mine, one, out;
  if (found >= 0) GetDots(static_cast<size_t>(found), &mine);
  if (theirs == nullptr) {
    if (d != nullptr) one.push_back(*d);
    theirs = &one;
  }
  JoinDots(mine, *theirs, my_cc, other_cc, &out);
  if (found >= 0) {
    if (out.empty() && !keep_empty) {
      Erase(static_cast<size_t>(found), h);
      return -1;
    }
    if (!(out == mine)) SetDots(static_cast<size_t>(found), out);
    return found;
  }
  if (out.empty() && !keep_empty) return -1;
  const size_t i = Insert(e, h, empty_slot);
  SetDots(i, out);
  return static_cast<int64_t>(i);
}

template <typename OtherCc>
void SetStore::JoinElement(std::string_view e, const Dot* d, const CausalContext& my_cc,
                           const OtherCc& other_cc, bool keep_empty) {
  const uint32_t h = HashOf(e);
  size_t empty_slot;
  const int64_t found = Find(e, h, &empty_slot);  // one probe: a miss inserts at its end
  (void)JoinListed(e, h, found, empty_slot, d, nullptr, my_cc, other_cc, keep_empty);
}
template void SetStore::JoinElement(std::string_view, const Dot*, const CausalContext&,
                                    const CausalContext&, bool);
template void SetStore::JoinElement(std::string_view, const Dot*, const CausalContext&,
                                    const ContextDots&, bool);

void SetStore::Join(const SetStore& other, const CausalContext& my_cc,
                    const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  if (other.entry_count() == 0 && other_complete) return;
  if (entry_count() == 0) {
    if (other.entry_count() > 0) JoinIntoEmpty(other, my_cc, other_cc, keep_empty);
    return;
  }
  // Other's replica slots in my numbering (0: I have no dot of that replica), so that a
  // dot both sides hold is recognized by comparing packed words.
  SmallVec<uint64_t, 8> xlat;
  xlat.resize(other.replicas_.size());
  for (size_t k = 0; k < other.replicas_.size(); ++k) {
    xlat[k] = 0;
    for (size_t m = 0; m < replicas_.size(); ++m) {
      if (replicas_[m] == other.replicas_[k]) xlat[k] = static_cast<uint64_t>(m + 1) << 48;
    }
  }
  // Entries other lists (state joins only): the second pass skips them.
  std::vector<uint64_t> listed;
  if (!other_complete) listed.assign((size_ + other.size_) / 64 + 1, 0);
  auto mark = [&listed](size_t i) {
    if (!listed.empty()) listed[i / 64] |= uint64_t{1} << (i % 64);
  };
  // Software pipelining: the lookups of a big join are independent, so the index slot of
  // entry j + kAhead and the entry that slot names at j + kAhead / 2 are prefetched, and
  // their cache misses overlap instead of being paid one after the other. Prefetches are
  // hints: a rehash in between only makes them useless.
  constexpr size_t kAhead = 32;
  uint32_t ahead[kAhead];  // hashes of the other's entries j .. j + kAhead - 1
  const bool pipeline = other.size_ > 2 * kAhead;
  auto prefetch_slot = [&](size_t k) {
    ahead[k % kAhead] = HashOf(other.entries_[k].elem.view());  // holes hash as ""
    if (HasIndex()) __builtin_prefetch(&index_[ahead[k % kAhead] & mask_]);
  };
  if (pipeline) {
    for (size_t k = 0; k < kAhead; ++k) prefetch_slot(k);
  }
  DotList theirs;
  for (size_t j = 0; j < other.size_; ++j) {
    uint32_t h = 0;
    if (pipeline) {
      h = ahead[j % kAhead];
      const size_t half = j + kAhead / 2;
      if (HasIndex() && half < other.size_) {
        const uint64_t slot = index_[ahead[half % kAhead] & mask_];
        if (slot != 0) __builtin_prefetch(&entries_[(slot & kEntryMask) - 1]);
      }
      if (j + kAhead < other.size_) prefetch_slot(j + kAhead);
    }
    const uint64_t od = other.entries_[j].dot;
    if ((od & kHole) == kHole) continue;
    std::string_view e = other.entries_[j].elem.view();
    if (!pipeline) h = HashOf(e);
    size_t empty_slot;
    const int64_t found = Find(e, h, &empty_slot);
    if (found >= 0) {
      // Both hold the same single dot (most elements of a state join): JoinListed's CASE 2
      // keeps it, here without unpacking either.
      const uint64_t md = entries_[found].dot;
      if (od != 0 && od != kMulti && md != 0 && md != kMulti &&
          (od & kCounterMask) == (md & kCounterMask) &&
          xlat[(od >> 48) - 1] == (md & ~kCounterMask)) {
        mark(static_cast<size_t>(found));
        continue;
      }
    }
    Dot one;
    const Dot* d = nullptr;
    const DotList* dots = nullptr;
    if (od == kMulti) {
      other.GetDots(j, &theirs);
      dots = &theirs;
    } else if (od != 0) {
      one = other.Unpack(od);
      d = &one;
    }
    const int64_t i = JoinListed(e, h, found, empty_slot, d, dots, my_cc, other_cc, keep_empty);
    if (i >= 0) {
      mark(static_cast<size_t>(i));
    } else if (size_ == 0) {  // the store reset: entry and replica slot numbers start afresh
      listed.assign(listed.size(), 0);
      for (uint64_t& x : xlat) x = 0;
    }
  }
  if (other_complete) return;
  // Elements only we list: drop the dots the other side observed (it removed them). The
  // contiguous part of other_cc is looked up per replica slot, not per dot.
  SmallVec<uint64_t, 8> other_max;
  other_max.resize(replicas_.size());
  for (size_t m = 0; m < replicas_.size(); ++m) other_max[m] = other_cc.Max(replicas_[m]);
  const bool has_cloud = !other_cc.cloud().empty();
  const DotList none{};
  DotList mine, out;
  for (size_t i = 0; i < size_; ++i) {
    const uint64_t md = entries_[i].dot;
    if ((md & kHole) == kHole) continue;
    if (listed[i / 64] & (uint64_t{1} << (i % 64))) continue;  // handled above
    if (md == 0) {
      // A delta's "removed" marker that other does not list (a state merged into a delta):
      // the result is a state, which keeps no element without dots.
      if (!keep_empty) {
        Erase(i);
        if (size_ == 0) return;
      }
      continue;
    }
    if (md != kMulti) {
      // JoinDots with theirs empty, on the packed dot: kept iff other never observed it.
      if ((md & kCounterMask) > other_max[(md >> 48) - 1] &&
          (!has_cloud || !other_cc.Contains(Unpack(md)))) {
        continue;  // not observed by other: a concurrent add, kept
      }
      if (keep_empty) {
        SetDots(i, DotList());
      } else {
        Erase(i);
        if (size_ == 0) return;
      }
      continue;
    }
    GetDots(i, &mine);
    JoinDots(mine, none, my_cc, other_cc, &out);  // other lists nothing
    if (out.size() == mine.size()) continue;
    if (out.empty() && !keep_empty) {
      Erase(i);
      if (size_ == 0) return;
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
    if (entries_[i].dot != 0 && !IsHole(i)) out.emplace_back(entries_[i].elem.view());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t SetStore::MemoryBytes() const {
  size_t n = EntryBlockBytes() + IndexBytes();
  n += elem_heap_bytes_;
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
    if (a.entries_[i].dot == 0 || a.IsHole(i)) continue;
    int64_t j = b.Find(a.entries_[i].elem.view());
    if (j < 0) return false;
    a.GetDots(i, &da);
    b.GetDots(static_cast<size_t>(j), &db);
    if (!(da == db)) return false;
  }
  return true;
}

bool SetStore::IndexConsistent() const {
  if (!HasIndex()) {
    // The tags first: a lookup with a tag of 0 would read unused entries.
    for (size_t i = 0; i < (HasMoreTags() ? kSmall : 8); ++i) {
      const uint64_t tag = (TagWord(i) >> (8 * (i % 8))) & 0xFF;
      const bool used = i < size_ && !IsHole(i);
      if ((tag != 0) != used) return false;  // a tag of 0 would match holes and unused bytes
      if (tag != (used ? TagOf(HashOf(entries_[i].elem.view())) : 0)) return false;
    }
  }
  for (size_t i = 0; i < size_; ++i) {
    if (IsHole(i)) continue;
    if (Find(entries_[i].elem.view()) != static_cast<int64_t>(i)) return false;
  }
  size_t elem_heap_bytes = 0;
  for (size_t i = 0; i < size_; ++i) elem_heap_bytes += entries_[i].elem.HeapBytes();  // holes: 0
  if (elem_heap_bytes != elem_heap_bytes_) return false;
  if (!HasIndex()) return true;
  size_t slots = 0;
  for (size_t pos = 0; pos <= mask_; ++pos) slots += index_[pos] != 0;
  return slots == entry_count();
}

SetStore::Span SetStore::HotFieldsSpanForTest() const {
  const auto at = [this](const void* p) {
    return static_cast<size_t>(static_cast<const unsigned char*>(p) -
                               reinterpret_cast<const unsigned char*>(this));
  };
  return Span{at(&size_), at(&replicas_) + sizeof(replicas_)};
}

// ---- encoding ----

namespace {

// One entry's bytes in SetStore::Encode: the element, then its dots.
void PutEntry(Encoder* enc, std::string_view e, const Dot* dots, size_t n) {
  enc->PutBytes(e);
  enc->PutVarint(n);
  for (size_t k = 0; k < n; ++k) enc->PutDot(dots[k]);
}

}  // namespace

void SetStore::EncodeOne(Encoder* enc, std::string_view e, const Dot* dots, size_t n) {
  enc->PutVarint(1);  // Encode's count of entries
  PutEntry(enc, e, dots, n);
}

void SetStore::Encode(Encoder* enc) const {
  DotList dots;
  auto put = [&](size_t i) {
    GetDots(i, &dots);
    PutEntry(enc, entries_[i].elem.view(), dots.data(), dots.size());
  };
  const size_t n = entry_count();
  enc->PutVarint(n);
  if (n <= 1) {  // CASE 1: an effect on one element (SADD, SREM): nothing to sort
    for (size_t i = 0; i < size_; ++i) {
      if (!IsHole(i)) put(i);
    }
    return;
  }
  // CASE 2: sorted by element through an order of entry numbers (inline up to 16).
  SmallVec<uint32_t, 16> order;
  for (size_t i = 0; i < size_; ++i) {
    if (!IsHole(i)) order.push_back(static_cast<uint32_t>(i));
  }
  std::sort(order.begin(), order.end(), [this](uint32_t x, uint32_t y) {
    return entries_[x].elem.view() < entries_[y].elem.view();
  });
  for (uint32_t i : order) put(i);
}

bool SetStore::Decode(Decoder* dec) {
  if (size_ != 0 || HasIndex() || multi_ || !replicas_.empty()) FreeAll();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 2)) return false;
  std::string_view prev;  // in the decoder's bytes, which outlive the loop
  DotList dots;
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view e;
    uint64_t nd = 0;
    if (!dec->GetBytes(&e) || !dec->GetCount(&nd, 2)) return false;
    if (k > 0 && !(prev < e)) return dec->Fail("set elements not sorted");
    Dot one;
    if (nd == 1) {  // CASE 1: one dot (every element of an SADD's effect): no list
      if (!dec->GetDot(&one)) return false;
    } else {  // CASE 2: none (an SREM's effect) or several
      dots.clear();
      for (uint64_t t = 0; t < nd; ++t) {
        Dot d;
        if (!dec->GetDot(&d)) return false;
        if (!dots.empty() && !(dots.back() < d)) return dec->Fail("element dots not sorted");
        dots.push_back(d);
      }
    }
    if (size_ >= kIndexMask - 2) return dec->Fail("too many set elements");
    const size_t i = Insert(e, HashOf(e));
    if (nd == 1) {
      SetOne(i, one);
    } else {
      SetDots(i, dots);
    }
    prev = e;
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
