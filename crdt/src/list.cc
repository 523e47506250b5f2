#include "crdt/list.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

namespace crdt {

namespace {

constexpr uint8_t kFlagRemoved = 1;
constexpr uint8_t kFlagWrite = 2;
constexpr uint8_t kFlagPrefix = 4;
constexpr uint8_t kKnownFlags = kFlagRemoved | kFlagWrite | kFlagPrefix;

}  // namespace

ListStore::Entry::Entry(const Entry& o)
    : replica(o.replica),
      removed(o.removed),
      counter(o.counter),
      digit(o.digit),
      extra(o.extra ? std::make_unique<Extra>(*o.extra) : nullptr),
      value(o.value) {}

ListStore::Entry& ListStore::Entry::operator=(const Entry& o) {
  if (this != &o) *this = Entry(o);
  return *this;
}

bool ListStore::EntryEquals(const Entry& a, const Entry& b) {
  if (a.replica != b.replica || a.counter != b.counter || a.removed != b.removed ||
      a.digit != b.digit || a.value != b.value) {
    return false;
  }
  static const Extra kNone;
  return (a.extra ? *a.extra : kNone) == (b.extra ? *b.extra : kNone);
}

int ListStore::Compare(const Entry& a, const Entry& b) {
  const size_t na = a.depth(), nb = b.depth();
  if (na == 1 && nb == 1) {  // the common case: one level each
    if (a.digit != b.digit) return a.digit < b.digit ? -1 : 1;
    if (a.id() != b.id()) return a.id() < b.id() ? -1 : 1;
    return 0;
  }
  for (size_t i = 0; i < na && i < nb; ++i) {
    Level la = a.level(i), lb = b.level(i);
    if (la != lb) return la < lb ? -1 : 1;
  }
  return na == nb ? 0 : (na < nb ? -1 : 1);
}

bool ListStore::Beats(const Entry& a, const Entry& b) {
  auto ts = [](const Entry& e) {
    return e.extra && e.extra->has_write ? e.extra->timestamp_us : 0;
  };
  auto dot = [](const Entry& e) { return e.extra && e.extra->has_write ? e.extra->write : e.id(); };
  if (ts(a) != ts(b)) return ts(a) > ts(b);
  Dot da = dot(a), db = dot(b);
  if (da.replica != db.replica) return da.replica < db.replica;
  return da.counter < db.counter;
}

size_t ListStore::LowerBound(const Entry& e) const {
  if (entries_.empty() || Compare(entries_.back(), e) < 0) return entries_.size();  // appends
  auto it = std::lower_bound(entries_.begin(), entries_.end(), e,
                             [](const Entry& x, const Entry& y) { return Compare(x, y) < 0; });
  return static_cast<size_t>(it - entries_.begin());
}

// A key strictly between left and right (either may be null: an end of the list).
ListStore::Entry ListStore::MakeBetween(const Entry* left, const Entry* right, Dot id) const {
  Entry e;
  e.replica = id.replica;
  e.counter = id.counter;
  int64_t d = 0;
  // CASE 1: one level, a digit past the left neighbour's first one (RPUSH, free gaps).
  if (left != nullptr && !__builtin_add_overflow(left->level(0).digit, 1, &d)) {
    e.digit = d;
    if (right == nullptr || Compare(e, *right) < 0) return e;
  }
  // CASE 2: one level, a digit before the right neighbour's first one (LPUSH).
  if (right != nullptr && !__builtin_sub_overflow(right->level(0).digit, 1, &d)) {
    e.digit = d;
    if (left == nullptr || Compare(*left, e) < 0) return e;
  }
  if (left == nullptr && right == nullptr) {
    e.digit = 0;
    return e;
  }
  // CASE 3: at an end whose first digit is saturated (only hostile digits get there): the
  // first deeper level of the neighbour's key with room, so pushes do not deepen keys.
  const Entry* end = right == nullptr ? left : (left == nullptr ? right : nullptr);
  for (size_t depth = 1; end != nullptr && depth < end->depth(); ++depth) {
    const int64_t digit = end->level(depth).digit;
    if (right == nullptr ? __builtin_add_overflow(digit, 1, &d)
                         : __builtin_sub_overflow(digit, 1, &d)) {
      continue;
    }
    e.digit = d;
    e.extra = std::make_unique<Extra>();
    for (size_t i = 0; i < depth; ++i) e.extra->prefix.push_back(end->level(i));
    return e;
  }
  // CASE 4: extend the left key by one level: greater than left, and below right unless
  // left is a prefix of right, where the new level goes below right's next one.
  std::vector<Level> prefix;
  if (left != nullptr) {
    for (size_t i = 0; i < left->depth(); ++i) prefix.push_back(left->level(i));
  }
  e.digit = 0;
  if (right != nullptr && right->depth() > prefix.size()) {
    bool is_prefix = true;
    for (size_t i = 0; i < prefix.size() && is_prefix; ++i)
      is_prefix = prefix[i] == right->level(i);
    if (is_prefix) {
      int64_t next = right->level(prefix.size()).digit;
      // Only hostile digits reach INT64_MIN; the order is then still total, if not the asked one.
      e.digit = next == std::numeric_limits<int64_t>::min() ? next : next - 1;
    }
  }
  if (!prefix.empty()) {
    e.extra = std::make_unique<Extra>();
    e.extra->prefix = std::move(prefix);
  }
  return e;
}

void ListStore::PutDelta(ListStore* delta, Entry e) {
  const bool live = e.removed == 0;
  size_t i = delta->LowerBound(e);
  if (i < delta->entries_.size() && Compare(delta->entries_[i], e) == 0) {
    delta->live_ -= delta->entries_[i].removed == 0 ? 1 : 0;
    delta->entries_[i] = std::move(e);
  } else if (i == delta->entries_.size()) {
    delta->entries_.push_back(std::move(e));
  } else {
    delta->entries_.insert(delta->entries_.begin() + static_cast<ptrdiff_t>(i), std::move(e));
  }
  delta->live_ += live ? 1 : 0;
}

void ListStore::MakeRemoved(Entry* e) {
  e->removed = 1;
  e->value.clear();
  if (e->extra) {
    e->extra->has_write = false;
    e->extra->write = Dot{};
    e->extra->timestamp_us = 0;
    if (e->extra->prefix.empty()) e->extra.reset();
  }
}

void ListStore::CopyRemoved(const Entry& e, ListStore* delta, CausalContext* delta_cc) {
  if (delta == nullptr) return;
  Entry r;
  r.replica = e.replica;
  r.counter = e.counter;
  r.removed = 1;
  r.digit = e.digit;
  if (e.extra && !e.extra->prefix.empty()) {
    r.extra = std::make_unique<Extra>();
    r.extra->prefix = e.extra->prefix;
  }
  delta_cc->Add(e.id());
  PutDelta(delta, std::move(r));
}

void ListStore::Insert(size_t index, std::string_view value, ReplicaId r, CausalContext* cc,
                       ListStore* delta, CausalContext* delta_cc) {
  const Dot id = cc->Next(r);
  Entry e = MakeBetween(index > 0 ? &entries_[index - 1] : nullptr,
                        index < entries_.size() ? &entries_[index] : nullptr, id);
  e.value.assign(value.data(), value.size());
  if (delta != nullptr) {
    delta_cc->Add(id);
    PutDelta(delta, e);
  }
  if (index == entries_.size()) {
    entries_.push_back(std::move(e));
  } else if (index == 0) {
    entries_.push_front(std::move(e));
  } else {
    entries_.insert(entries_.begin() + static_cast<ptrdiff_t>(index), std::move(e));
  }
  ++live_;
}

void ListStore::EraseRange(size_t first, size_t last, ListStore* delta, CausalContext* delta_cc) {
  if (first >= last) return;
  for (size_t i = first; i < last; ++i) CopyRemoved(entries_[i], delta, delta_cc);
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(first),
                 entries_.begin() + static_cast<ptrdiff_t>(last));
  live_ -= last - first;
}

void ListStore::EraseIndexes(const std::vector<size_t>& indexes, ListStore* delta,
                             CausalContext* delta_cc) {
  if (indexes.empty()) return;
  if (indexes.back() - indexes.front() + 1 == indexes.size()) {  // one run
    EraseRange(indexes.front(), indexes.back() + 1, delta, delta_cc);
    return;
  }
  size_t out = indexes.front(), next = 0;
  for (size_t i = indexes.front(); i < entries_.size(); ++i) {
    if (next < indexes.size() && indexes[next] == i) {
      CopyRemoved(entries_[i], delta, delta_cc);
      ++next;
      continue;
    }
    if (out != i) entries_[out] = std::move(entries_[i]);
    ++out;
  }
  entries_.resize(out);
  live_ -= indexes.size();
}

void ListStore::Assign(size_t index, std::string_view value, ReplicaId r, int64_t timestamp_us,
                       CausalContext* cc, ListStore* delta, CausalContext* delta_cc) {
  Entry& e = entries_[index];
  if (!e.extra) e.extra = std::make_unique<Extra>();
  const int64_t current = e.extra->has_write ? e.extra->timestamp_us : 0;
  e.extra->has_write = true;
  e.extra->write = cc->Next(r);
  e.extra->timestamp_us = timestamp_us > current ? timestamp_us : current + 1;
  e.value.assign(value.data(), value.size());
  if (delta != nullptr) {
    delta_cc->Add(e.id());
    delta_cc->Add(e.extra->write);
    PutDelta(delta, e);
  }
}

void ListStore::Join(const ListStore& other, const CausalContext& my_cc,
                     const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (other.entries_.empty() && (other_complete || entries_.empty())) return;
  // An element of `from` that this side does not hold: kept (as given) unless this side's
  // context has seen its dot, then removed here (a removed entry when keep_empty).
  auto absent_here = [&](const Entry& from) -> std::optional<Entry> {
    if (from.removed == 0 && !my_cc.Contains(from.id())) return from;
    if (!keep_empty) return std::nullopt;
    Entry r = from;
    MakeRemoved(&r);
    return r;
  };
  // Both sides hold the element.
  auto join_both = [&](Entry& mine, const Entry& theirs) {
    if (mine.removed != 0) return;  // removed here (this side is a delta)
    if (theirs.removed != 0) {
      if (other_cc.Contains(mine.id())) mine.removed = 2;  // marks for erasure below
      return;
    }
    if (Beats(theirs, mine)) {
      mine.value = theirs.value;
      mine.extra = theirs.extra ? std::make_unique<Extra>(*theirs.extra) : nullptr;
    }
  };
  auto finish_removed = [&](Entry& e) {  // a live entry that `other` removed
    if (!keep_empty) return false;
    MakeRemoved(&e);
    return true;
  };

  if (other_complete) {
    // CASE 1: a delta: visit its entries only, each by binary search, erasing or
    // inserting in place (O(1) at the ends, where queues push and pop).
    for (const Entry& o : other.entries_) {
      const size_t i = LowerBound(o);
      const auto at = entries_.begin() + static_cast<ptrdiff_t>(i);
      if (i < entries_.size() && Compare(*at, o) == 0) {
        join_both(*at, o);
        if (at->removed == 2) {  // it was live
          --live_;
          if (!finish_removed(*at)) entries_.erase(at);
        }
        continue;
      }
      std::optional<Entry> e = absent_here(o);
      if (!e) continue;
      live_ += e->removed == 0 ? 1 : 0;
      if (i == entries_.size()) {
        entries_.push_back(std::move(*e));
      } else {
        entries_.insert(at, std::move(*e));
      }
    }
    return;
  } else {
    // CASE 2: a full state: merge the two sorted sequences; an element that only one side
    // holds survives unless the other side's context has seen it.
    std::deque<Entry> out;
    size_t i = 0, j = 0;
    while (i < entries_.size() || j < other.entries_.size()) {
      int c = i == entries_.size()         ? 1
              : j == other.entries_.size() ? -1
                                           : Compare(entries_[i], other.entries_[j]);
      if (c == 0) {
        Entry& mine = entries_[i++];
        join_both(mine, other.entries_[j++]);
        if (mine.removed == 2 && !finish_removed(mine)) continue;
        out.push_back(std::move(mine));
      } else if (c < 0) {
        Entry& mine = entries_[i++];
        if (mine.removed == 0 && other_cc.Contains(mine.id())) {
          if (!finish_removed(mine)) continue;
        } else if (mine.removed != 0 && !keep_empty) {
          continue;
        }
        out.push_back(std::move(mine));
      } else {
        std::optional<Entry> e = absent_here(other.entries_[j++]);
        if (e) out.push_back(std::move(*e));
      }
    }
    entries_ = std::move(out);
  }
  live_ = 0;
  for (const Entry& e : entries_) live_ += e.removed == 0 ? 1 : 0;
}

std::vector<std::string> ListStore::Values() const {
  std::vector<std::string> out;
  out.reserve(live_);
  for (const Entry& e : entries_) {
    if (e.removed == 0) out.push_back(e.value);
  }
  return out;
}

size_t ListStore::HeapBytes() const {
  size_t n = entries_.size() * sizeof(Entry);
  for (const Entry& e : entries_) {
    if (e.value.capacity() > 15) n += e.value.capacity() + 1;
    if (e.extra) n += sizeof(Extra) + e.extra->prefix.capacity() * sizeof(Level);
  }
  return n;
}

//   list  := varint(n) entry*n                 (entries in key order, ids distinct)
//   entry := flags [varint(k) level*k] level [dot svarint(ts)] [bytes(value)]
//   level := svarint(digit) dot
//   flags := 1 removed (no value) | 2 an LSET write follows | 4 prefix levels follow
void ListStore::Encode(Encoder* enc) const {
  enc->PutVarint(entries_.size());
  for (const Entry& e : entries_) {
    const bool has_prefix = e.extra && !e.extra->prefix.empty();
    const bool has_write = e.extra && e.extra->has_write;
    enc->PutByte(static_cast<uint8_t>((e.removed ? kFlagRemoved : 0) |
                                      (has_write ? kFlagWrite : 0) |
                                      (has_prefix ? kFlagPrefix : 0)));
    if (has_prefix) {
      enc->PutVarint(e.extra->prefix.size());
      for (const Level& l : e.extra->prefix) {
        enc->PutSigned(l.digit);
        enc->PutDot(l.dot);
      }
    }
    enc->PutSigned(e.digit);
    enc->PutDot(e.id());
    if (has_write) {
      enc->PutDot(e.extra->write);
      enc->PutSigned(e.extra->timestamp_us);
    }
    if (!e.removed) enc->PutBytes(e.value);
  }
}

bool ListStore::Decode(Decoder* dec) {
  entries_.clear();
  live_ = 0;
  uint64_t n = 0;
  if (!dec->GetCount(&n, 4)) return false;
  std::vector<Dot> ids;
  ids.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    Entry e;
    uint8_t flags = 0;
    if (!dec->GetByte(&flags)) return false;
    if ((flags & ~kKnownFlags) != 0) return dec->Fail("unknown list entry flags");
    if (flags & (kFlagWrite | kFlagPrefix)) e.extra = std::make_unique<Extra>();
    if (flags & kFlagPrefix) {
      uint64_t k = 0;
      if (!dec->GetCount(&k, 3)) return false;
      if (k == 0) return dec->Fail("empty list key prefix");
      e.extra->prefix.resize(k);
      for (Level& l : e.extra->prefix) {
        if (!dec->GetSigned(&l.digit) || !dec->GetDot(&l.dot)) return false;
      }
    }
    Dot id;
    if (!dec->GetSigned(&e.digit) || !dec->GetDot(&id)) return false;
    e.replica = id.replica;
    e.counter = id.counter;
    if (flags & kFlagWrite) {
      if ((flags & kFlagRemoved) || !dec->GetDot(&e.extra->write) ||
          !dec->GetSigned(&e.extra->timestamp_us)) {
        return dec->Fail("bad list write");
      }
      e.extra->has_write = true;
    }
    if (flags & kFlagRemoved) {
      e.removed = 1;
    } else {
      std::string_view v;
      if (!dec->GetBytes(&v)) return false;
      e.value.assign(v.data(), v.size());
      ++live_;
    }
    if (!entries_.empty() && Compare(entries_.back(), e) >= 0) {
      return dec->Fail("list entries not sorted");
    }
    ids.push_back(id);
    entries_.push_back(std::move(e));
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    return dec->Fail("list element id repeated");
  }
  return true;
}

}  // namespace crdt
