#include "crdt/keyspace.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <tuple>

#include "crdt/flat_hash.h"
#include "crdt/keyspace_header.h"
#include "crdt/page_arena.h"

namespace crdt {

// ---- KeyValue ----

namespace {

// True if a part of a key value holds no metadata at all (as a new one).
template <typename T>
bool NoMetadata(const T& part) {
  if constexpr (requires { part.Empty(); }) {
    return part.Empty();
  } else {
    return part.empty();
  }
}

}  // namespace

KeyValue::Type KeyValue::VisibleType() const {
  // A part without its bit holds nothing, so shows nothing.
  if (held & kHeldBoundedCounter) return Type::kBoundedCounter;
  if (((held & kHeldStr) && str().Present()) || ((held & kHeldFloatCounter) && fc().Live())) {
    return Type::kString;
  }
  if ((held & kHeldHash) && !hash().empty()) return Type::kHash;
  if ((held & kHeldSet) && !set().empty()) return Type::kSet;
  if (!zset.empty()) return Type::kZset;
  if ((held & kHeldHll) && hll().Present()) return Type::kHll;
  if ((held & kHeldList) && !list().empty()) return Type::kList;
  if ((held & kHeldStream) && stream().Visible()) return Type::kStream;
  return Type::kNone;
}

const char* TypeName(KeyValue::Type t) {
  switch (t) {
    case KeyValue::Type::kString:
    case KeyValue::Type::kHll:
      return "string";
    case KeyValue::Type::kZset:
      return "zset";
    case KeyValue::Type::kHash:
      return "hash";
    case KeyValue::Type::kSet:
      return "set";
    case KeyValue::Type::kBoundedCounter:
      return "bcounter";
    case KeyValue::Type::kList:
      return "list";
    case KeyValue::Type::kStream:
      return "stream";
    case KeyValue::Type::kNone:
      break;
  }
  return "none";
}

namespace {

// The parts after the string and the set (the sorted set has no bit: ZsetStore::Empty).
constexpr uint16_t kLaterParts = KeyValue::kHeldAll & ~(KeyValue::kHeldStr | KeyValue::kHeldSet);

// True if v holds no part after the string and the set: a join that changes only those
// then needs only RefreshFirstParts.
bool OnlyFirstParts(const KeyValue& v) { return (v.held & kLaterParts) == 0 && v.zset.Empty(); }

// The bits of v's string and set after a join that touched no other part.
// REQUIRES: OnlyFirstParts(*v).
void RefreshFirstParts(KeyValue* v) { v->held = v->FirstPartsNow(v->held); }

// KeyValue::Join's parts after the string and the set (most keys hold neither of these),
// then the bits of every part either side held. REQUIRES: other.held exact.
void JoinLaterParts(KeyValue* v, const KeyValue& other, const CausalContext& my_cc,
                    const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  // A part empty on both sides joins to empty, and merging an empty counter, bounded
  // counter or HyperLogLog changes nothing: most keys hold one part, so skip the rest.
  const uint16_t either = v->held | other.held;
  if (OnlyFirstParts(*v) && OnlyFirstParts(other)) {
    RefreshFirstParts(v);       // most keys: only the string or the set can have changed
    v->DropRarePartsIfEmpty();  // a block an HDEL or LPOP emptied earlier
    return;
  }
  if ((either & kLaterParts) != 0) {
    if (either & KeyValue::kHeldHash) {
      v->mutable_hash().Join(other.hash(), my_cc, other_cc, other_complete, keep_empty);
    }
    if (other.held & KeyValue::kHeldBoundedCounter) v->mutable_bc().Merge(other.bc());
    if (other.held & KeyValue::kHeldFloatCounter) v->mutable_fc().Merge(other.fc());
    if (other.held & KeyValue::kHeldHll) v->mutable_hll().Join(other.hll());
    if (either & KeyValue::kHeldList) {
      v->mutable_list().Join(other.list(), my_cc, other_cc, other_complete, keep_empty);
    }
    if (either & KeyValue::kHeldStream) {
      v->mutable_stream().Join(other.stream(), my_cc, other_cc, other_complete, keep_empty);
    }
    if (either & KeyValue::kHeldExpiry) v->mutable_expiry().Join(other.expiry(), my_cc, other_cc);
  }
  if (!v->zset.Empty() || !other.zset.Empty()) {
    v->zset.Join(other.zset, my_cc, other_cc, other_complete, keep_empty);
  }
  v->Refresh(either | v->held);
  v->DropRarePartsIfEmpty();  // a join that emptied them (a SET over a hash, say)
}

// A value with no metadata, joined where the other side lists nothing for a part or key.
const KeyValue& EmptyValue() {
  static const KeyValue kEmpty{};
  return kEmpty;
}

// The skip rule of KeyValue::Join and JoinSimple: members without dots (an SREM's or DEL's
// effect; other_has_dots false) on a key whose set lists nothing (a string-only key) remove
// nothing, so no empty set is placed (in a block) for them. Not when keep_empty (a merge
// into a delta): there the dotless members must stay listed, or a replica the delta later
// reaches would keep members the effects removed.
[[gnu::always_inline]] inline bool SetJoinChangesNothing(const KeyValue& v, bool other_has_dots,
                                                         bool keep_empty) {
  return !other_has_dots && !keep_empty && v.set().entry_count() == 0;
}

// The order of KeyValue::Join and JoinSimple: the part in the value's area first. A join
// that empties it (a SET's effect clearing the members of the area's set, a DEL's clearing
// its string) leaves the area to the other part, which would else be placed in a block and
// moved back when the block is tidied.
template <typename JoinStr, typename JoinSet>
[[gnu::always_inline]] inline void JoinAreaPartFirst(const KeyValue& v, JoinStr&& join_str,
                                                     JoinSet&& join_set) {
  const bool str_first = v.StrInline();
  if (str_first) join_str();
  join_set();
  if (!str_first) join_str();
}

}  // namespace

void KeyValue::Join(const KeyValue& other, const CausalContext& my_cc,
                    const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  const uint16_t either = held | other.held;
  auto join_str = [&] {
    if (either & kHeldStr) mutable_str().Join(other.str(), my_cc, other_cc);
  };
  auto join_set = [&] {
    if ((either & kHeldSet) == 0) return;
    if (SetJoinChangesNothing(*this, !other.set().empty(), keep_empty)) return;
    mutable_set().Join(other.set(), my_cc, other_cc, other_complete, keep_empty);
  };
  JoinAreaPartFirst(*this, join_str, join_set);
  held |= static_cast<uint16_t>(either & (kHeldStr | kHeldSet));  // refreshed below
  JoinLaterParts(this, other, my_cc, other_cc, other_complete, keep_empty);
}

std::string FormatLongDouble(long double v) {
  char buf[5 * 1024];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  std::string s(buf, static_cast<size_t>(n));
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

bool ParseLongDouble(std::string_view s, long double* out) {
  if (s.empty() || s.size() >= 5 * 1024 || std::isspace(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  std::string text(s);
  char* end = nullptr;
  errno = 0;
  long double v = std::strtold(text.c_str(), &end);
  if (static_cast<size_t>(end - text.c_str()) != text.size() || std::isnan(v) ||
      (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0))) {
    return false;
  }
  *out = v;
  return true;
}

std::optional<std::string> WithFloatIncrements(std::optional<std::string> base,
                                               const FloatCounter& fc) {
  if (!fc.Live()) return base;
  long double b = 0;
  if (base && !ParseLongDouble(*base, &b)) return base;
  long double v = b + fc.Value();
  if (!std::isfinite(v)) return base ? base : std::optional<std::string>("0");
  return FormatLongDouble(v);
}

IncrStatus IntegerStepOnFloats(const std::optional<std::string>& visible, int64_t by,
                               int64_t* next) {
  int64_t whole = 0;
  if (!visible || !ParseRedisInteger(*visible, &whole)) return IncrStatus::kNotInteger;
  const Int128 sum = Int128(whole) + by;
  if (!PnCounter::Admits(whole, sum)) return IncrStatus::kOutOfRange;
  *next = static_cast<int64_t>(sum);  // Admits: it fits
  return IncrStatus::kOk;
}

void KeyValue::RareDeleter::operator()(RareParts* r) const { delete r; }

KeyValue::RarePtr KeyValue::NewRareParts(const RareParts* from) {
  return RarePtr(from != nullptr ? new RareParts(*from) : new RareParts());
}

KeyValue& KeyValue::operator=(KeyValue&& other) {
  if (this == &other) return *this;
  held = other.held;
  zset = std::move(other.zset);
  rare_ = std::move(other.rare_);
  if (area_ == other.area_) {
    if (area_ == kAreaStr) {
      str_ = std::move(other.str_);
    } else {
      set_ = std::move(other.set_);  // keeps this set's heap
    }
  } else if (other.area_ == kAreaStr) {
    DestroyArea();
    new (&str_) StringValueStore(std::move(other.str_));
    area_ = kAreaStr;
  } else {
    DestroyArea();
    new (&set_) SetStore();  // the ordinary heap: this value had no set to keep one
    area_ = kAreaSet;
    set_ = std::move(other.set_);
  }
  return *this;
}

StringValueStore& KeyValue::MutableStrSlow() {
  if (rare_ != nullptr) {
    if (auto* p = rare_->spill.get_if<StringValueStore>()) return *p;
  }
  if (set_.entry_count() == 0) {  // CASE 1: the area's set holds nothing: the string takes it
    set_.~SetStore();
    new (&str_) StringValueStore();
    area_ = kAreaStr;
    return str_;
  }
  return MutableRare().spill.emplace<StringValueStore>();  // CASE 2: a type conflict
}

SetStore& KeyValue::MutableSetSlow() {
  if (rare_ != nullptr) {
    if (auto* p = rare_->spill.get_if<SetStore>()) return *p;
  }
  if (str_.Empty()) {  // CASE 1: the area's string holds nothing: the set takes it
    str_.~StringValueStore();
    new (&set_) SetStore();
    area_ = kAreaSet;
    return set_;
  }
  return MutableRare().spill.emplace<SetStore>();  // CASE 2: a type conflict
}

void KeyValue::TidyRareParts() {
  RareParts& r = *rare_;
  if (auto* s = r.spill.get_if<StringValueStore>()) {
    if (!s->Empty() && set_.entry_count() == 0) {  // the area's set holds nothing
      set_.~SetStore();
      new (&str_) StringValueStore(std::move(*s));
      area_ = kAreaStr;
      r.spill.reset();
    } else if (s->Empty()) {
      r.spill.reset();
    }
  } else if (auto* t = r.spill.get_if<SetStore>()) {
    if (t->entry_count() != 0 && str_.Empty()) {  // the area's string holds nothing
      str_.~StringValueStore();
      new (&set_) SetStore(std::move(*t));
      area_ = kAreaSet;
      r.spill.reset();
    } else if (t->entry_count() == 0) {
      r.spill.reset();
    }
  }
  if ((held & kHeldRare) == 0 && r.spill.empty()) rare_.reset();
}

uint16_t KeyValue::SpilledNow(uint16_t bits) const {
  if (const auto* s = rare_->spill.get_if<StringValueStore>()) {
    return (bits & kHeldStr) && !s->Empty() ? kHeldStr : 0;
  }
  if (const auto* t = rare_->spill.get_if<SetStore>()) {
    return (bits & kHeldSet) && t->entry_count() != 0 ? kHeldSet : 0;
  }
  return 0;
}

void KeyValue::UseHeap(ValueHeap* h) {
  if (area_ == kAreaSet) {
    set_.UseHeap(h);
  } else if (rare_ != nullptr) {
    if (auto* t = rare_->spill.get_if<SetStore>()) t->UseHeap(h);
  }
}

size_t KeyValue::HeapBytes() const {
  size_t n = (area_ == kAreaStr ? str_.HeapBytes() : set_.MemoryBytes()) + zset.MemoryBytes();
  if (rare_ == nullptr) return n;  // most keys
  const RareParts& r = *rare_;
  if (const auto* s = r.spill.get_if<StringValueStore>()) n += s->HeapBytes();
  if (const auto* t = r.spill.get_if<SetStore>()) n += t->MemoryBytes();
  return n + sizeof(RareParts) + 16 + r.spill.HeapBytes() + r.hash.HeapBytes() + r.bc.HeapBytes() +
         r.hll.HeapBytes() + r.list.HeapBytes() + r.expiry.HeapBytes() + r.stream.HeapBytes();
}

std::optional<std::string> KeyValue::StringValue() const {
  if ((held & kHeldFloatCounter) == 0) return str().Value();  // no increment: most strings
  return WithFloatIncrements(str().Value(), fc());
}

KeyValue::Parts16 KeyValue::Parts() const {
  Parts16 parts = zset.Empty() ? 0 : kPartZset;
  if ((held & ~(kHeldStr | kHeldSet)) == 0) return parts;  // most keys: no optional part
  if (held & kHeldBoundedCounter) parts |= kPartBoundedCounter;
  if (held & kHeldFloatCounter) parts |= kPartFloatCounter;
  if ((held & kHeldHash) && hash().HasFloats()) parts |= kPartHashFloat;
  if (held & kHeldHll) parts |= kPartHll;
  if (held & kHeldList) parts |= kPartList;
  if (held & kHeldExpiry) parts |= kPartExpiry;
  if (held & kHeldStream) parts |= kPartStream;
  return parts;
}

namespace {

// The encodings of an empty string, set and hash part in KeyValue::Encode (their counts of
// zero), shared with the effects Keyspace writes out without a delta (WriteOut).
void PutNoRegister(Encoder* enc) { enc->PutByte(0); }  // no register write
void PutNoCounter(Encoder* enc) { enc->PutByte(0); }   // no counter slot
void PutNoSet(Encoder* enc) { enc->PutByte(0); }       // no element
void PutNoHash(Encoder* enc) { enc->PutByte(0); }      // no field

// A string part holding metadata, as StringValueStore::Encode writes it: its two parts,
// register then counter; a SET's delta holds no counter slot (unless it reset some) and an
// INCRBY's no register write: that one is its count of zero.
void PutStringPart(Encoder* enc, const StringValueStore& s) {
  if (s.counter.empty()) {
    s.reg.Encode(enc);
    PutNoCounter(enc);
  } else if (s.reg.empty()) {
    PutNoRegister(enc);
    s.counter.Encode(enc);
  } else {
    s.Encode(enc);
  }
}

}  // namespace

void KeyValue::Encode(Encoder* enc, Parts16 parts) const {
  // A part `held` does not name is empty (HeldNow): its encoding is its count(s) of zero,
  // written here without walking it (most effects hold one of the three).
  assert((HeldNow(kHeldStr | kHeldSet | kHeldHash) & ~held) == 0);
  if (held & kHeldStr) {
    PutStringPart(enc, str());
  } else {
    PutNoRegister(enc);
    PutNoCounter(enc);
  }
  if (held & kHeldSet) {
    set().Encode(enc);
  } else {
    PutNoSet(enc);
  }
  if (held & kHeldHash) {
    hash().Encode(enc);
  } else {
    PutNoHash(enc);
  }
  if (parts & kPartBoundedCounter) bc().Encode(enc);
  if (parts & kPartExpiry) expiry().Encode(enc);
  if (parts & kPartZset) zset.Encode(enc);
  if (parts & kPartHll) hll().Encode(enc);
  if (parts & kPartList) list().Encode(enc);
  if (parts & kPartFloatCounter) fc().Encode(enc);
  if (parts & kPartStream) stream().Encode(enc);
  if (parts & kPartHashFloat) hash().EncodeFloats(enc);
}

bool KeyValue::Decode(Decoder* dec, Parts16 parts) {
  // The string and the set: an empty one's encoding (counts of zero: two bytes for the
  // string, one for the set) is read without placing a part, so a value keeps the type of
  // its area unless the bytes hold the other type.
  size_t at = dec->position();
  uint8_t first = 1;
  uint8_t second = 1;
  if (dec->GetByte(&first) && first == 0 && dec->GetByte(&second) && second == 0) {
    if (!str().Empty()) mutable_str() = StringValueStore();
  } else {
    dec->Rewind(at);
    if (area_ == kAreaSet && set_.entry_count() != 0 && !HasSpilledStr()) {
      // The set is replaced below: the string takes the area rather than the block.
      set_.~SetStore();
      new (&str_) StringValueStore();
      area_ = kAreaStr;
    }
    if (!mutable_str().Decode(dec)) return false;
  }
  at = dec->position();
  if (dec->GetByte(&first) && first == 0) {
    if (set().entry_count() != 0) mutable_set() = SetStore();
  } else {
    dec->Rewind(at);
    if (!mutable_set().Decode(dec)) return false;
  }
  // The hash: no field (most values) is one byte of zero, read without building a block
  // for a value that has none (Decode would clear its hash; this one is empty).
  if (rare_ == nullptr) {
    at = dec->position();
    uint8_t count = 0;
    if (!dec->GetByte(&count) || count != 0) {
      dec->Rewind(at);
      if (!mutable_hash().Decode(dec)) return false;
    }
  } else if (!rare_->hash.Decode(dec)) {
    return false;
  }
  // An optional part follows if the header says so (in bit order); else it is empty. An
  // absent part already empty (holding no metadata, as a new one) is left as it is: a
  // value decoded again and again (MergeEncoded's scratch) does not rebuild every part it
  // does not use, nor builds a block for the parts behind the pointer. Each Decode
  // replaces the whole part.
  auto rare_part = [&](auto RareParts::*member, Part bit) {
    using T = std::decay_t<decltype(rare_.get()->*member)>;
    if ((parts & bit) == 0) {
      if (rare_ != nullptr && !NoMetadata(rare_.get()->*member)) rare_.get()->*member = T();
      return true;
    }
    T& value = MutableRare().*member;
    // A list's Decode starts afresh: no new part to build first.
    if constexpr (!std::is_same_v<T, ListStore>) value = T();
    return value.Decode(dec);
  };
  auto zset_part = [&]() {
    if ((parts & kPartZset) == 0) {
      if (!zset.Empty()) zset = ZsetStore();
      return true;
    }
    return zset.Decode(dec);  // starts afresh
  };
  const bool ok = rare_part(&RareParts::bc, kPartBoundedCounter) &&
                  rare_part(&RareParts::expiry, kPartExpiry) && zset_part() &&
                  rare_part(&RareParts::hll, kPartHll) && rare_part(&RareParts::list, kPartList) &&
                  rare_part(&RareParts::fc, kPartFloatCounter) &&
                  rare_part(&RareParts::stream, kPartStream) &&
                  // the hash's Decode cleared them
                  ((parts & kPartHashFloat) == 0 || mutable_hash().DecodeFloats(dec));
  // The parts the header lists may hold metadata; the others are empty now (when the
  // decode failed midway, the parts read so far are refreshed too: every bit).
  uint16_t maybe = kHeldStr | kHeldSet | kHeldHash;
  if (parts & kPartBoundedCounter) maybe |= kHeldBoundedCounter;
  if (parts & kPartExpiry) maybe |= kHeldExpiry;
  if (parts & kPartHll) maybe |= kHeldHll;
  if (parts & kPartList) maybe |= kHeldList;
  if (parts & kPartFloatCounter) maybe |= kHeldFloatCounter;
  if (parts & kPartStream) maybe |= kHeldStream;
  held = HeldNow(ok ? maybe : uint16_t{kHeldAll});
  return ok;
}

namespace {

// Every dot must lie inside the context, or merges could resurrect or lose data.
bool DotsInContext(const KeyValue& v, const CausalContext& cc) {
  bool ok = true;
  // Only the parts the value holds (v.held) have dots.
  if (v.held & KeyValue::kHeldStr) {
    for (const auto& w : v.str().reg.writes()) ok &= cc.Contains(w.dot);
  }
  if (v.held & KeyValue::kHeldSet) {
    v.set().ForEach([&](std::string_view, const SetStore::DotList& dots) {
      for (const Dot& d : dots) ok &= cc.Contains(d);
    });
  }
  if (v.held & KeyValue::kHeldHash) {
    for (const auto& [f, fv] : v.hash().fields()) {
      for (const auto& w : fv.reg.writes()) ok &= cc.Contains(w.dot);
    }
  }
  if (!v.zset.Empty()) v.zset.ForEachDot([&](const Dot& d) { ok &= cc.Contains(d); });
  if (v.held & KeyValue::kHeldList) {
    v.list().ForEachDot([&](const Dot& d) { ok &= cc.Contains(d); });
  }
  if (v.held & KeyValue::kHeldStream) {
    v.stream().ForEachDot([&](const Dot& d) { ok &= cc.Contains(d); });
  }
  if (v.held & KeyValue::kHeldExpiry) {
    for (const auto& w : v.expiry().entries().writes()) ok &= cc.Contains(w.dot);
  }
  return ok;
}

}  // namespace

// ---- Keyspace::KeyMap ----

template <typename... Args>
Keyspace::KeyMap::value_type* Keyspace::KeyMap::MakeNode(Args&&... args) {
  static_assert(alignof(value_type) <= kNodeAlign);
  void* p = pool_.Allocate();
  assert((reinterpret_cast<uintptr_t>(p) & Slot::kTagMask) == 0);  // room for a slot's tag
  value_type* node;
  try {
    node = new (p) value_type(std::forward<Args>(args)...);
  } catch (...) {
    pool_.Free(p);
    throw;
  }
  if (heap_ == nullptr && pool_.Live() >= kValueHeapKeys) {
    // The map became big: every value's parts move to one heap in huge pages.
    heap_ = ValueHeap::New();
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].node() != nullptr) UseValueHeap(&slots_[i].node()->second);
    }
    if (spare_ != nullptr) UseValueHeap(&spare_->second);
  }
  if (heap_ != nullptr) UseValueHeap(&node->second);
  return node;
}

void Keyspace::KeyMap::UseValueHeap(KeyValue* v) { v->UseHeap(heap_); }

void Keyspace::KeyMap::DropNode(value_type* node) {
  if (node == nullptr) return;
  std::destroy_at(node);
  pool_.Free(node);
}

namespace {

// An index of at least this many slots (128 KiB: a map of more than 6,144 keys) is in
// huge pages: it is read at random, one slot per lookup (32 TLB entries on 4 KiB pages,
// one on a 2 MiB page, which costs at most 1.875 MiB more resident memory).
constexpr size_t kHugeIndexSlots = 16'384;

}  // namespace

Keyspace::KeyMap::Slot* Keyspace::KeyMap::NewSlots(size_t capacity) {
  static_assert(std::is_trivially_copyable_v<Slot> && sizeof(Slot) == sizeof(uintptr_t));
  const size_t bytes = capacity * sizeof(Slot);
  if (capacity >= kHugeIndexSlots) return static_cast<Slot*>(AllocHugePages(bytes));  // zeroed
  return new Slot[capacity]();
}

void Keyspace::KeyMap::DeleteSlots(Slot* slots, size_t capacity) {
  const size_t bytes = capacity * sizeof(Slot);
  if (capacity >= kHugeIndexSlots) {
    FreeHugePages(slots, bytes);
  } else {
    delete[] slots;
  }
}

Keyspace::KeyMap::KeyMap(const KeyMap& other)
    : capacity_(other.capacity_), size_(other.size_), tombstones_(other.tombstones_) {
  if (capacity_ == 0) return;
  slots_ = NewSlots(capacity_);
  for (size_t i = 0; i < capacity_; ++i) {
    const Slot& o = other.slots_[i];
    slots_[i] = o.node() != nullptr ? o.WithNode(MakeNode(*o.node())) : o;
  }
}

Keyspace::KeyMap::KeyMap(KeyMap&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      size_(std::exchange(other.size_, 0)),
      tombstones_(std::exchange(other.tombstones_, 0)),
      spare_(std::exchange(other.spare_, nullptr)),
      pool_(std::move(other.pool_)),
      heap_(std::exchange(other.heap_, nullptr)) {}

Keyspace::KeyMap& Keyspace::KeyMap::operator=(const KeyMap& other) {
  if (this != &other) *this = KeyMap(other);
  return *this;
}

Keyspace::KeyMap& Keyspace::KeyMap::operator=(KeyMap&& other) noexcept {
  if (this != &other) {
    FreeAll();
    slots_ = std::exchange(other.slots_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
    tombstones_ = std::exchange(other.tombstones_, 0);
    spare_ = std::exchange(other.spare_, nullptr);
    pool_ = std::move(other.pool_);
    heap_ = std::exchange(other.heap_, nullptr);
  }
  return *this;
}

Keyspace::KeyMap::~KeyMap() { FreeAll(); }

void Keyspace::KeyMap::FreeAll() {
  for (size_t i = 0; i < capacity_; ++i) DropNode(slots_[i].node());
  DeleteSlots(slots_, capacity_);
  slots_ = nullptr;
  capacity_ = size_ = tombstones_ = 0;
  DropNode(std::exchange(spare_, nullptr));
  pool_.Clear();                                      // every node was given back
  ValueHeap::Release(std::exchange(heap_, nullptr));  // dies with its last piece
}

Keyspace::KeyMap::Slot* Keyspace::KeyMap::FindSlot(std::string_view key, size_t h) const {
  Slot* const end = slots_ + capacity_;
  if (size_ == 0) return end;
  const size_t mask = capacity_ - 1;
  const uintptr_t tag = Slot::Tag(h);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot* s = &slots_[i];
    if (s->Holds(tag)) {
      if (SameBytes(s->node()->first, key)) return s;
    } else if (s->empty()) {
      return end;  // not found (tombstones continue the probe)
    }
  }
}

void Keyspace::KeyMap::PrefetchNode(size_t h) const {
  if (size_ == 0) return;
  const size_t mask = capacity_ - 1;
  const uintptr_t tag = Slot::Tag(h);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.empty()) return;
    if (s.Holds(tag)) {  // (1 in 64 of other keys' nodes too: a wasted hint, no more)
      // The whole node: a merge reads every part of the value.
      const char* p = reinterpret_cast<const char*>(s.node());
      // From a node's start on a line, one address per line reaches each of its lines.
      static_assert(kNodeAlign % NodePool::kCacheLine == 0);
      for (size_t off = 0; off < sizeof(value_type); off += NodePool::kCacheLine) {
        __builtin_prefetch(p + off);
      }
      return;
    }
  }
}

Keyspace::KeyMap::Slot* Keyspace::KeyMap::TakeSlot(size_t h) {
  // Keep the index at most 3/4 full, tombstones included.
  if ((size_ + tombstones_ + 1) * 4 > capacity_ * 3) {
    size_t capacity = 8;
    while (capacity < (size_ + 1) * 2) capacity *= 2;
    Rehash(capacity);
  }
  const size_t mask = capacity_ - 1;
  size_t i = h & mask;
  while (slots_[i].node() != nullptr) i = (i + 1) & mask;
  if (slots_[i].tombstone()) --tombstones_;
  ++size_;
  return &slots_[i];
}

template <typename Build>
Keyspace::KeyMap::Slot* Keyspace::KeyMap::InsertNode(size_t h, Build build) {
  Slot* s = TakeSlot(h);
  value_type* node;
  try {
    node = build();
  } catch (...) {
    ReturnSlot(s);
    throw;
  }
  *s = Slot(node, h);
  return s;
}

std::pair<Keyspace::KeyMap::iterator, bool> Keyspace::KeyMap::emplace(std::string key,
                                                                      KeyValue value) {
  const size_t h = Hash(key);
  Slot* found = FindSlot(key, h);
  if (found != slots_ + capacity_) return {iterator(found, slots_ + capacity_), false};
  Slot* s = InsertNode(h, [&] { return MakeNode(std::move(key), std::move(value)); });
  return {iterator(s, slots_ + capacity_), true};
}

std::pair<Keyspace::KeyMap::iterator, bool> Keyspace::KeyMap::try_emplace(std::string_view key,
                                                                          size_t h) {
  const size_t size = size_;
  Emplace(key, h);  // its slot is recent_'s
  return {iterator(slots_ + recent_, slots_ + capacity_), size_ != size};
}

Keyspace::KeyMap::value_type& Keyspace::KeyMap::Emplace(std::string_view key, size_t h) {
  if (size_ == 0 && tombstones_ == 0 && capacity_ >= 2) {
    // CASE 1: an empty index with room (a delta emptied for its next command): every slot
    // is free, so the key is absent and takes its home slot, without a probe.
    Slot* s = &slots_[h & (capacity_ - 1)];
    *s = Slot(NewNode(key), h);
    size_ = 1;
    recent_ = static_cast<size_t>(s - slots_);
    return *s->node();
  }
  // CASE 2: a probe for the key, then for a free slot if absent.
  Slot* found = FindSlot(key, h);
  if (found != slots_ + capacity_) {
    recent_ = static_cast<size_t>(found - slots_);
    return *found->node();
  }
  return EmplaceAbsent(key, h);
}

Keyspace::KeyMap::value_type& Keyspace::KeyMap::EmplaceAbsent(std::string_view key, size_t h) {
  assert(FindSlot(key, h) == slots_ + capacity_);
  Slot* s = InsertNode(h, [&] { return NewNode(key); });
  recent_ = static_cast<size_t>(s - slots_);
  return *s->node();
}

Keyspace::KeyMap::iterator Keyspace::KeyMap::erase(iterator it) {
  Slot* s = it.slot_;
  DropNode(s->node());
  *s = Slot::Tombstone();
  --size_;
  ++tombstones_;
  return iterator(s + 1, slots_ + capacity_);
}

namespace {

// KeyMap::clear keeps an index of at most this many slots for the next entries.
constexpr size_t kKeepCapacity = 64;

}  // namespace

void Keyspace::KeyMap::clear() {
  // A large index (a delta that listed many keys) is freed: clearing it would cost a pass
  // over every slot at each reuse.
  if (capacity_ > kKeepCapacity) return FreeAll();
  for (size_t i = 0; i < capacity_; ++i) {
    DropNode(slots_[i].node());
    slots_[i] = Slot();
  }
  size_ = tombstones_ = 0;
}

namespace {

// Makes *v hold no metadata, as a new KeyValue, touching only the parts it holds (a part
// with none is left as it is).
void EmptyKeyValue(KeyValue* v) {
  if (!v->zset.Empty()) v->zset = ZsetStore();
  const uint16_t held = v->held;
  if (held == 0) return;  // most values hold one part
  // The string and the set (most deltas' one part) are emptied in place: no new part
  // built and moved in.
  if (held & KeyValue::kHeldStr) {
    v->mutable_str().reg.Clear(nullptr, nullptr);
    if (!v->str().counter.empty()) v->mutable_str().counter = PnCounter();
  }
  if (held & KeyValue::kHeldSet) v->mutable_set().Clear(nullptr, nullptr);
  // The others are in the block behind the pointer, which is kept for the next value (a
  // delta's spare node): a part with a bit set is in it, so no access below allocates.
  if (held & KeyValue::kHeldRare) {  // most deltas hold none of them: one test
    if (held & KeyValue::kHeldHash) v->mutable_hash() = HashStore();
    if (held & KeyValue::kHeldBoundedCounter) v->mutable_bc() = BoundedCounter();
    if (held & KeyValue::kHeldExpiry) v->mutable_expiry() = ExpiryStore();
    if (held & KeyValue::kHeldFloatCounter) v->mutable_fc() = FloatCounter();
    if (held & KeyValue::kHeldHll) v->mutable_hll() = HllStore();
    if (held & KeyValue::kHeldList) v->mutable_list() = ListStore();
    if (held & KeyValue::kHeldStream) v->mutable_stream() = StreamStore();
  }
  v->held = 0;
}

}  // namespace

void Keyspace::KeyMap::ClearKeepingNode() {
  // Nothing to clear: every slot free and the index small (a delta whose command wrote
  // its effect straight, or wrote nothing), as clear() would leave it.
  if (size_ == 0 && tombstones_ == 0 && capacity_ <= kKeepCapacity) return;
  if (size_ != 1 || spare_ != nullptr) return clear();
  Slot* s = OnlySlot();
  spare_ = s->node();
  *s = Slot();
  size_ = 0;
  EmptyKeyValue(&spare_->second);
  // With no tombstone that was the only slot in use: the index is already empty.
  if (tombstones_ != 0 || capacity_ > kKeepCapacity) clear();
}

Keyspace::KeyMap::value_type* Keyspace::KeyMap::NewNode(std::string_view key) {
  if (spare_ == nullptr) {
    return MakeNode(std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple());
  }
  // The spare node takes the new key: its const key member is replaced (destroyed and
  // built again in place, which C++20 allows for a member subobject). A key that is the
  // spare's own (a view of it), or that may need memory (so a bad_alloc cannot leave the
  // node without a key), is copied out first; a short key is built straight in place
  // (every major std::string keeps 15 characters inline).
  constexpr size_t kInlineKey = 15;
  value_type* node = std::exchange(spare_, nullptr);
  std::string* k = const_cast<std::string*>(&node->first);
  const std::less<const char*> before;
  if (key.size() <= kInlineKey &&
      (before(key.data(), k->data()) || !before(key.data(), k->data() + k->size()))) {
    std::destroy_at(k);
    std::construct_at(k, key);
  } else {
    std::string copy(key);
    std::destroy_at(k);
    std::construct_at(k, std::move(copy));
  }
  return node;
}

namespace {

// How many index slots ahead Rehash fetches a node's key (see Rehash).
constexpr size_t kRehashAhead = 8;

}  // namespace

void Keyspace::KeyMap::Rehash(size_t capacity) {
  Slot* old = slots_;
  const size_t old_capacity = capacity_;
  slots_ = NewSlots(capacity);
  capacity_ = capacity;
  tombstones_ = 0;
  const size_t mask = capacity - 1;
  for (size_t j = 0; j < old_capacity; ++j) {
    // Two fetches ahead of the slot placed: the node 2 * kRehashAhead slots on, and the
    // bytes of the key of the node kRehashAhead slots on (fetched by then; a long key's
    // bytes are a heap buffer of their own, a short key's lie in the node).
    if (j + 2 * kRehashAhead < old_capacity) {
      if (const value_type* ahead = old[j + 2 * kRehashAhead].node()) __builtin_prefetch(ahead);
    }
    if (j + kRehashAhead < old_capacity) {
      if (const value_type* ahead = old[j + kRehashAhead].node()) {
        __builtin_prefetch(ahead->first.data());
      }
    }
    const value_type* node = old[j].node();
    if (node == nullptr) continue;
    // The slot keeps 6 bits of the hash: its position is the key's hash again.
    size_t i = Hash(node->first) & mask;
    while (slots_[i].node() != nullptr) i = (i + 1) & mask;
    slots_[i] = old[j];
  }
  DeleteSlots(old, old_capacity);
}

// ---- Keyspace ----

Keyspace Keyspace::NewDelta() const {
  Keyspace d(self_);
  d.key_complete_ = true;
  return d;
}

void Keyspace::ResetDelta(Keyspace* delta, std::string* out) const {
  if (delta->written_out_) delta->CutWrittenOut();  // a write not taken: its bytes go
  delta->direct_ = out;
  delta->self_ = self_;
  delta->keys_.ClearKeepingNode();
  // Emptied in place: no temporary built and moved in. Most deltas' is empty, with no heap
  // block (a write written out adds nothing to it): then it is a new context already.
  if (!delta->cc_.empty() || delta->cc_.HeapBytes() != 0) {
    std::destroy_at(&delta->cc_);
    std::construct_at(&delta->cc_);
  }
  delta->key_complete_ = true;
  delta->hide_due_ms_ = kShowAll;
  delta->expiring_.clear();
}

size_t Keyspace::KeyCount() const {
  size_t n = 0;
  for (const auto& [k, v] : keys_) n += v.VisibleType() != Type::kNone && !Hidden(v) ? 1 : 0;
  return n;
}

bool Keyspace::DueNow(const KeyValue& v) const {
  std::optional<int64_t> deadline = v.expiry().Deadline();
  return deadline && *deadline <= hide_due_ms_;
}

const KeyValue* Keyspace::Find(const KeyRef& key) const {
  auto it = keys_.find(key.key, key.hash);
  return Shown(it == keys_.end() ? nullptr : &it->second);
}

std::optional<int64_t> Keyspace::Deadline(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->expiry().Deadline() : std::nullopt;
}

Keyspace::Located Keyspace::Locate(std::string_view key) {
  Located at{Ref(key)};
  auto it = keys_.FindRemembered(at.key, at.hash);
  if (it != keys_.end()) {
    at.entry = &it->second;
  } else {
    at.absent = true;
  }
  return at;
}

bool Keyspace::LocatedIsCurrent(const Located& key) const {
  if (key.entry == nullptr) return !key.absent || keys_.find(key.key, key.hash) == keys_.end();
  auto it = keys_.find(key.key, key.hash);
  return it != keys_.end() && &it->second == key.entry;
}

Keyspace::Type Keyspace::TypeOf(const KeyRef& key) const {
  const KeyValue* v = Find(key);
  return v ? v->VisibleType() : Type::kNone;
}

Keyspace::Type Keyspace::TypeOf(const Located& key) const {
  const KeyValue* v = Shown(key.entry);
  return v ? v->VisibleType() : Type::kNone;
}

std::optional<std::string> Keyspace::Get(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->StringValue() : std::nullopt;
}

std::vector<std::string> Keyspace::Members(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->set().Elements() : std::vector<std::string>();
}

bool Keyspace::IsMember(const KeyRef& key, std::string_view member) const {
  const KeyValue* v = Find(key);
  return v && v->set().Contains(member);
}

bool Keyspace::IsMember(const Located& key, std::string_view member) const {
  const KeyValue* v = Shown(key.entry);
  return v && v->set().Contains(member);
}

size_t Keyspace::Card(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? v->set().size() : 0;
}

std::vector<std::string> Keyspace::Keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : keys_) {
    if (v.VisibleType() != Type::kNone && !Hidden(v)) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

KeyValue& Keyspace::Slot(std::string_view key) {
  if (KeyMap::value_type* recent = keys_.Recent(key)) return recent->second;
  return keys_.Emplace(key, KeyMap::Hash(key)).second;
}

KeyValue& Keyspace::DeltaSlot(Keyspace* delta, std::string_view key) {
  // Every mutator but the four that write out (Set, IncrBy, SAdd, SRem, which take it back
  // themselves) reaches the delta through here first.
  if (delta->written_out_) [[unlikely]]
    delta->TakeBackWrittenOut();
  return delta->Slot(key);
}

namespace {

// The bytes of a keyspace of one key up to that key's value (Keyspace::EncodeTo's CASE 1,
// and the effects written out). Always inline: every write's effect begins with it, and
// GCC kept it a call of four arguments (11 instructions per write less inline).
[[gnu::always_inline]] inline void PutOneKeyHead(Encoder* enc, bool delta, KeyValue::Parts16 parts,
                                                 std::string_view key) {
  PutKeyspaceHeader(enc, delta, parts);
  char* p = Encoder::VarintAt(enc->Room(2 * Encoder::kMaxVarint + key.size()), 1);
  enc->Commit(Encoder::BytesAt(p, key));
}

}  // namespace

template <typename ValueParts>
void Keyspace::WriteOut(Keyspace* delta, std::string_view key, const WriteDots& cc,
                        ValueParts value_parts) {
  assert(WritesOut(delta));
  // EncodeTo's CASE 1 for the delta of that value: no optional part (a key of the string
  // alone, or a set), so the header's parts are none.
  Encoder enc;
  enc.Reserve(64 + key.size());
  PutOneKeyHead(&enc, /*delta=*/true, 0, key);
  value_parts(&enc);
  cc.Encode(&enc);
  delta->direct_from_ = delta->direct_->size();
  enc.AppendTo(delta->direct_);
  delta->written_out_ = true;
}

void Keyspace::TakeBackWrittenOut() {
  std::string error;
  std::optional<Keyspace> back =
      Decode(std::string_view(*direct_).substr(direct_from_), self_, &error);
  if (!back) [[unlikely]] {
    // The bytes WriteOut just wrote: a rejection is a bug in WriteOut or Decode, and
    // going on would lose the write.
    std::fprintf(stderr, "Keyspace: a written-out write does not decode: %s\n", error.c_str());
    std::abort();
  }
  assert(back->key_complete_ && keys_.empty() && cc_.empty());
  // Replaces the key index (ResetDelta's kept allocation goes with it): the rare path.
  keys_ = std::move(back->keys_);
  cc_ = std::move(back->cc_);
  CutWrittenOut();
}

void Keyspace::CutWrittenOut() {
  direct_->resize(direct_from_);
  written_out_ = false;
}

namespace {

// After a mutator changed the parts `bits` of a key's value v and of its delta entry d
// (null without a delta): their KeyValue::held made exact again.
void Refreshed(KeyValue* v, KeyValue* d, uint16_t bits) {
  v->Refresh(bits);
  if (d != nullptr) d->Refresh(bits);
}

// Refreshed's result when the mutator changed the one part `bit` and left it holding
// metadata in v and in d (a register's new write, a counter's stepped slot, a set's new
// tag): the bit set, without testing the parts (the writes' usual case).
void Written(KeyValue* v, KeyValue* d, uint16_t bit) {
  v->held |= bit;
  if (d != nullptr) d->held |= bit;
  assert(v->HeldNow(bit) == bit && (d == nullptr || d->HeldNow(bit) == bit));
}

// After a mutator that clears every part (SET, DEL) and refreshed the bits of `held` (what
// v or d held before): v's block freed if none of its parts holds metadata now, whatever
// emptied them (this SET, or an earlier HDEL or LPOP that left an empty block); d's only if
// it held one of them, so that a delta's kept block is reused by its next command.
void DropEmptyRareParts(KeyValue* v, KeyValue* d, uint16_t held) {
  v->DropRarePartsIfEmpty();
  if (d != nullptr && (held & KeyValue::kHeldRare)) d->DropRarePartsIfEmpty();
}

}  // namespace

void Keyspace::DropIfEmpty(const KeyRef& key) {
  auto it = keys_.find(key.key, key.hash);
  if (it == keys_.end()) return;
  if (it->second.Empty() && !key_complete_) {
    keys_.erase(it);
  } else {
    it->second.DropRarePartsIfEmpty();  // an HDEL or LPOP that emptied its part
  }
}

void Keyspace::Set(const Located& key, std::string_view value, int64_t timestamp_us,
                   Keyspace* delta, bool keep_ttl) {
  assert(LocatedIsCurrent(key));
  KeyValue& v = EntryOf(key);
  if (WritesOut(delta) && !HasPartsBesideStr(v, v.held)) {
    // The delta would hold the new write alone, the counter's slots as the write reset
    // them, and a context of the dots it replaced and its own: its effect written from
    // the value's string part (which holds just these now) and that context (WriteOut).
    WriteDots written;
    v.mutable_str().Assign(self_, timestamp_us, value, &cc_, &written);
    Written(&v, nullptr, KeyValue::kHeldStr);
    const StringValueStore& str = v.str();
    WriteOut(delta, key.key, written, [&](Encoder* enc) {
      PutStringPart(enc, str);
      PutNoSet(enc);
      PutNoHash(enc);
    });
    return;  // no block of rare parts to free: HasPartsBesideStr
  }
  if (delta != nullptr && delta->written_out_) delta->TakeBackWrittenOut();
  KeyValue* d = delta ? &delta->keys_.Emplace(key.key, key.hash).second : nullptr;
  CausalContext* dcc = delta ? &delta->cc_ : nullptr;
  // A part that neither v nor d holds has nothing to clear (a register's Clear empties
  // the delta's writes too, so d's parts count); most keys hold the string alone, and then
  // ClearParts is not called.
  const uint16_t held = v.held | (d ? d->held : 0);
  const bool others = HasPartsBesideStr(v, held);
  if (others) {
    ClearParts(v, d, dcc, held, keep_ttl, /*keep_str=*/true);  // the string is assigned below
  }
  v.mutable_str().Assign(self_, timestamp_us, value, &cc_, d ? &d->mutable_str() : nullptr, dcc);
  if (others) {
    Refreshed(&v, d, held | KeyValue::kHeldStr);
  } else {
    Written(&v, d, KeyValue::kHeldStr);  // held named the string alone, or nothing
  }
  DropEmptyRareParts(&v, d, held);
}

// Keyspace::Set skips ClearParts when this is false: a part ClearParts clears must be tested
// here too.
bool Keyspace::HasPartsBesideStr(const KeyValue& v, uint16_t held) {
  return (held & ~KeyValue::kHeldStr) != 0 || v.HasRareParts() || !v.zset.Empty();
}

void Keyspace::ClearParts(KeyValue& v, KeyValue* d, CausalContext* dcc, uint16_t held,
                          bool keep_ttl, bool keep_str) {
  if (!keep_ttl && (held & KeyValue::kHeldExpiry))
    v.mutable_expiry().Clear(d ? &d->mutable_expiry() : nullptr, dcc);
  if (!keep_str && (held & KeyValue::kHeldStr))
    v.mutable_str().Clear(d ? &d->mutable_str() : nullptr, dcc);
  if (held & KeyValue::kHeldSet) v.mutable_set().Clear(d ? &d->mutable_set() : nullptr, dcc);
  if (held & KeyValue::kHeldHash) v.mutable_hash().Clear(d ? &d->mutable_hash() : nullptr, dcc);
  if (held & KeyValue::kHeldFloatCounter) v.mutable_fc().ResetInto(d ? &d->mutable_fc() : nullptr);
  if (!v.zset.Empty()) v.zset.Clear(d ? &d->zset : nullptr, dcc);
  if ((v.held & KeyValue::kHeldHll) && v.hll().Present())
    v.mutable_hll().Clear(d ? &d->mutable_hll() : nullptr);
  if (held & KeyValue::kHeldList) v.mutable_list().Clear(d ? &d->mutable_list() : nullptr, dcc);
  if (!v.stream().Empty())
    v.mutable_stream().Clear(self_, &cc_, d ? &d->mutable_stream() : nullptr, dcc);
}

IncrStatus Keyspace::IncrBy(const Located& ref, int64_t by, int64_t* new_value, Keyspace* delta) {
  assert(LocatedIsCurrent(ref));
  const std::string_view key = ref.key;
  const size_t h = ref.hash;
  KeyValue& v = EntryOf(ref);
  if (WritesOut(delta) && (v.held & KeyValue::kHeldFloatCounter) == 0) {
    // The delta would hold this replica's stepped counter slot alone, with an empty
    // context: its effect written from the value's slot (WriteOut). A refused step writes
    // nothing.
    const IncrStatus s = v.mutable_str().Increment(self_, by, new_value, nullptr);
    if (s == IncrStatus::kOk) {
      Written(&v, nullptr, KeyValue::kHeldStr);
      const PnCounter& counter = v.str().counter;
      WriteOut(delta, key, WriteDots(), [&](Encoder* enc) {
        PutNoRegister(enc);
        counter.EncodeSlotOf(enc, self_);
        PutNoSet(enc);
        PutNoHash(enc);
      });
      return s;
    }
    Refreshed(&v, nullptr, KeyValue::kHeldStr);
    DropIfEmpty(ref);  // as below
    return s;
  }
  if (delta != nullptr && delta->written_out_) delta->TakeBackWrittenOut();
  // The step's delta entry is taken before the step. A refused step writes nothing into
  // it, and an entry it inserted is taken out again (one the delta held alone keeps its
  // node for the next command: ClearKeepingNode), so the delta holds what it held before.
  KeyValue* d = nullptr;
  bool d_new = false;
  if (delta) {
    const size_t had = delta->keys_.size();
    d = &delta->keys_.Emplace(key, h).second;  // try_emplace's work, without its iterator
    d_new = delta->keys_.size() != had;
  }
  auto undo_new_entry = [&]() {
    if (!d_new) return;
    if (delta->keys_.size() == 1) {
      assert(&delta->keys_.Only().second == d);
      delta->keys_.ClearKeepingNode();
    } else {
      delta->keys_.erase(delta->keys_.find(key, h));
    }
  };
  if ((v.held & KeyValue::kHeldFloatCounter) && v.fc().Live()) {  // INCRBYFLOAT increments
    int64_t next = 0;
    if (IncrStatus s = IntegerStepOnFloats(v.StringValue(), by, &next); s != IncrStatus::kOk) {
      undo_new_entry();
      return s;
    }
    if (by == 0) {  // a zero step is live (pn_counter.h): it goes to the integer counter
      const bool added =
          v.mutable_str().counter.AddAs(self_, 0, d ? &d->mutable_str().counter : nullptr);
      Refreshed(&v, d, KeyValue::kHeldStr);
      if (!added) {
        undo_new_entry();
        return IncrStatus::kOutOfRange;
      }
    } else {
      v.mutable_fc().IncrementAs(self_, static_cast<long double>(by),
                                 d ? &d->mutable_fc() : nullptr);
      Refreshed(&v, d, KeyValue::kHeldFloatCounter);
    }
    if (new_value) *new_value = next;
    return IncrStatus::kOk;
  }
  IncrStatus s = v.mutable_str().Increment(self_, by, new_value, d ? &d->mutable_str() : nullptr);
  if (s == IncrStatus::kOk) {
    Written(&v, d, KeyValue::kHeldStr);
    return s;
  }
  Refreshed(&v, d, KeyValue::kHeldStr);
  undo_new_entry();
  DropIfEmpty(ref);  // a refused step leaves no entry behind (an increment leaves a live one)
  return s;
}

namespace {

// Whether INCRBYFLOAT `by` applies to a value that shows `visible` (Redis's checks).
FloatStatus FloatStep(const std::optional<std::string>& visible, long double by) {
  long double now = 0;
  if (visible && !ParseLongDouble(*visible, &now)) return FloatStatus::kNotFloat;
  return std::isfinite(now + by) ? FloatStatus::kOk : FloatStatus::kNanOrInfinity;
}

}  // namespace

FloatStatus Keyspace::IncrByFloat(std::string_view key, long double by, std::string* new_value,
                                  Keyspace* delta) {
  KeyValue& v = Slot(key);
  if (FloatStatus s = FloatStep(v.StringValue(), by); s != FloatStatus::kOk) {
    DropIfEmpty(key);
    return s;
  }
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_fc().IncrementAs(self_, by, d ? &d->mutable_fc() : nullptr);
  Refreshed(&v, d, KeyValue::kHeldFloatCounter);
  if (new_value) *new_value = *v.StringValue();
  return FloatStatus::kOk;
}

FloatStatus Keyspace::HIncrByFloat(std::string_view key, std::string_view field, long double by,
                                   std::string* new_value, Keyspace* delta) {
  KeyValue& v = Slot(key);
  if (FloatStatus s = FloatStep(v.hash().Get(field), by); s != FloatStatus::kOk) {
    DropIfEmpty(key);
    return s;
  }
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_hash().IncrementFloat(field, by, self_, d ? &d->mutable_hash() : nullptr);
  Refreshed(&v, d, KeyValue::kHeldHash);
  if (new_value) *new_value = *v.hash().Get(field);
  return FloatStatus::kOk;
}

bool Keyspace::SAdd(Located* key, std::string_view member, Keyspace* delta) {
  assert(LocatedIsCurrent(*key));
  if (key->entry == nullptr) key->entry = &EntryOf(*key);
  KeyValue& v = *key->entry;
  if (WritesOut(delta)) {
    // The delta would hold the member with its new tag, and a context of the tags it
    // replaced and the new one: its effect written from them (WriteOut).
    WriteDots written;
    Dot tag;  // the member's new tag
    const bool added = v.mutable_set().AddWritten(member, self_, &cc_, &written, &tag);
    Written(&v, nullptr, KeyValue::kHeldSet);
    WriteOut(delta, key->key, written, [&](Encoder* enc) {
      PutNoRegister(enc);
      PutNoCounter(enc);
      SetStore::EncodeOne(enc, member, &tag, 1);
      PutNoHash(enc);
    });
    return added;
  }
  if (delta != nullptr && delta->written_out_) delta->TakeBackWrittenOut();
  KeyValue* d = delta ? &delta->keys_.Emplace(key->key, key->hash).second : nullptr;
  const bool added = v.mutable_set().Add(member, self_, &cc_, d ? &d->mutable_set() : nullptr,
                                         delta ? &delta->cc_ : nullptr);
  Written(&v, d, KeyValue::kHeldSet);  // the member's new tag, in both
  return added;
}

bool Keyspace::SRem(Located* key, std::string_view member, Keyspace* delta) {
  assert(LocatedIsCurrent(*key));
  if (key->entry == nullptr) return false;
  KeyValue& v = *key->entry;
  KeyValue* d = nullptr;
  bool removed = false;
  if (WritesOut(delta)) {
    // The delta would hold the member with no tag, and a context of the tags it removed:
    // its effect written from them (WriteOut). A member not here leaves the delta an
    // empty entry of the key, as below.
    WriteDots written;
    removed = v.mutable_set().RemoveWritten(member, &written);
    if (removed) {
      WriteOut(delta, key->key, written, [&](Encoder* enc) {
        PutNoRegister(enc);
        PutNoCounter(enc);
        SetStore::EncodeOne(enc, member, nullptr, 0);
        PutNoHash(enc);
      });
    } else {
      d = &delta->keys_.Emplace(key->key, key->hash).second;
    }
  } else {
    if (delta != nullptr && delta->written_out_) delta->TakeBackWrittenOut();
    d = delta ? &delta->keys_.Emplace(key->key, key->hash).second : nullptr;
    removed = v.mutable_set().Remove(member, d ? &d->mutable_set() : nullptr,
                                     delta ? &delta->cc_ : nullptr);
  }
  Refreshed(&v, d, KeyValue::kHeldSet);
  if (v.Empty() && !key_complete_) {  // DropIfEmpty's test, done once
    keys_.erase(keys_.find(key->key, key->hash));
    key->entry = nullptr;
    key->absent = true;
  } else {
    v.DropRarePartsIfEmpty();  // a set emptied beside a part of the other type
  }
  return removed;
}

bool Keyspace::HSet(std::string_view key, std::string_view field, std::string_view value,
                    int64_t timestamp_us, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  const bool added =
      v.mutable_hash().Set(field, value, self_, timestamp_us, &cc_,
                           d ? &d->mutable_hash() : nullptr, delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldHash);
  return added;
}

IncrStatus Keyspace::HIncrBy(std::string_view key, std::string_view field, int64_t by,
                             int64_t* new_value, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  IncrStatus s =
      v.mutable_hash().IncrBy(field, by, self_, new_value, d ? &d->mutable_hash() : nullptr);
  Refreshed(&v, d, KeyValue::kHeldHash);
  DropIfEmpty(key);
  return s;
}

bool Keyspace::HDel(std::string_view key, std::string_view field, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  bool removed = it->second.mutable_hash().Del(field, d ? &d->mutable_hash() : nullptr,
                                               delta ? &delta->cc_ : nullptr);
  Refreshed(&it->second, d, KeyValue::kHeldHash);
  DropIfEmpty(key);
  return removed;
}

template <typename Op>
BoundedStatus Keyspace::BcUpdate(std::string_view key, Keyspace* delta, Op op) {
  KeyValue& v = Slot(key);
  BoundedCounter scratch;
  BoundedStatus s = op(v.mutable_bc(), delta ? &scratch : nullptr);
  v.Refresh(KeyValue::kHeldBoundedCounter);
  if (s == BoundedStatus::kOk && delta) {
    KeyValue& d = DeltaSlot(delta, key);
    d.mutable_bc().Merge(scratch);
    d.Refresh(KeyValue::kHeldBoundedCounter);
  }
  DropIfEmpty(key);
  return s;
}

BoundedStatus Keyspace::BcIncrBy(std::string_view key, int64_t n, Keyspace* delta) {
  return BcUpdate(key, delta, [&](BoundedCounter& bc, BoundedCounter* d) {
    return bc.IncrementAs(self_, n, d);
  });
}

BoundedStatus Keyspace::BcDecrBy(std::string_view key, int64_t n, Keyspace* delta) {
  return BcUpdate(key, delta, [&](BoundedCounter& bc, BoundedCounter* d) {
    return bc.DecrementAs(self_, n, d);
  });
}

BoundedStatus Keyspace::BcTransfer(std::string_view key, int64_t n, ReplicaId to, Keyspace* delta) {
  return BcUpdate(key, delta, [&](BoundedCounter& bc, BoundedCounter* d) {
    return bc.TransferAs(self_, to, n, d);
  });
}

bool Keyspace::ZAdd(std::string_view key, std::string_view member, double score,
                    int64_t timestamp_us, Keyspace* delta) {
  KeyValue& v = Slot(key);
  return v.zset.Add(member, score, self_, timestamp_us, &cc_,
                    delta ? &DeltaSlot(delta, key).zset : nullptr, delta ? &delta->cc_ : nullptr);
}

double Keyspace::ZIncrBy(std::string_view key, std::string_view member, double by,
                         Keyspace* delta) {
  KeyValue& v = Slot(key);
  return v.zset.IncrBy(member, by, self_, delta ? &DeltaSlot(delta, key).zset : nullptr);
}

bool Keyspace::ZRem(std::string_view key, std::string_view member, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  bool removed = it->second.zset.Remove(member, delta ? &DeltaSlot(delta, key).zset : nullptr,
                                        delta ? &delta->cc_ : nullptr);
  DropIfEmpty(key);
  return removed;
}

bool Keyspace::PfAdd(std::string_view key, const std::vector<std::string_view>& elements,
                     Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  const bool changed = v.mutable_hll().Add(elements, d ? &d->mutable_hll() : nullptr);
  Refreshed(&v, d, KeyValue::kHeldHll);
  return changed;
}

bool Keyspace::PfMergeInto(std::string_view key, const HllStore& src, Keyspace* delta) {
  const HllStore copy = src;  // src may be this key's own value
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  const bool changed = v.mutable_hll().MergeFrom(copy, d ? &d->mutable_hll() : nullptr);
  Refreshed(&v, d, KeyValue::kHeldHll);
  return changed;
}

const ListStore* Keyspace::List(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v ? &v->list() : nullptr;
}

void Keyspace::LInsert(std::string_view key, size_t index, std::string_view value,
                       Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_list().Insert(index, value, self_, &cc_, d ? &d->mutable_list() : nullptr,
                          delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldList);
}

void Keyspace::LEraseRange(std::string_view key, size_t first, size_t last, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_list().EraseRange(first, last, d ? &d->mutable_list() : nullptr,
                              delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldList);
  DropIfEmpty(key);
}

void Keyspace::LEraseIndexes(std::string_view key, const std::vector<size_t>& indexes,
                             Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_list().EraseIndexes(indexes, d ? &d->mutable_list() : nullptr,
                                delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldList);
  DropIfEmpty(key);
}

void Keyspace::LSet(std::string_view key, size_t index, std::string_view value,
                    int64_t timestamp_us, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_list().Assign(index, value, self_, timestamp_us, &cc_, d ? &d->mutable_list() : nullptr,
                          delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldList);
}

const StreamStore* Keyspace::Stream(std::string_view key) const {
  const KeyValue* v = Find(key);
  return v && !v->stream().Empty() ? &v->stream() : nullptr;
}

StreamStore* Keyspace::MutableStream(std::string_view key) {
  auto it = keys_.find(key);
  if (it == keys_.end() || Hidden(it->second) || it->second.stream().Empty()) return nullptr;
  return &it->second.mutable_stream();
}

void Keyspace::XAdd(std::string_view key, StreamId id, StreamStore::Fields fields,
                    Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_stream().Add(id, std::move(fields), self_, &cc_, d ? &d->mutable_stream() : nullptr,
                         delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
}

void Keyspace::XMakeExist(std::string_view key, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_stream().MakeExist(self_, &cc_, d ? &d->mutable_stream() : nullptr,
                               delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
}

void Keyspace::XRemove(std::string_view key, const StreamStore::Key& entry, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_stream().Remove(entry, d ? &d->mutable_stream() : nullptr,
                            delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
}

void Keyspace::XCreateGroup(std::string_view key, std::string_view group, StreamId start,
                            Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_stream().CreateGroup(group, start, self_, &cc_, d ? &d->mutable_stream() : nullptr,
                                 delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
}

bool Keyspace::XDestroyGroup(std::string_view key, std::string_view group, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  const bool destroyed = v.mutable_stream().DestroyGroup(
      group, self_, &cc_, d ? &d->mutable_stream() : nullptr, delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
  return destroyed;
}

void Keyspace::XWriteFrontier(std::string_view key, std::string_view group,
                              const StreamStore::Positions& acked, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_stream().WriteFrontier(group, acked, self_, &cc_, d ? &d->mutable_stream() : nullptr,
                                   delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldStream);
}

bool Keyspace::Del(std::string_view key, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  bool existed = it->second.VisibleType() != Type::kNone;
  if (!existed) return false;
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  CausalContext* dcc = delta ? &delta->cc_ : nullptr;
  KeyValue& v = keys_.find(key)->second;  // DeltaSlot may not rehash *this, but be safe
  // Only the parts v or d holds have something to clear (as in Set).
  const uint16_t held = v.held | (d ? d->held : 0);
  ClearParts(v, d, dcc, held, /*keep_ttl=*/false, /*keep_str=*/false);
  Refreshed(&v, d, held);
  DropEmptyRareParts(&v, d, held);
  DropIfEmpty(key);
  return true;
}

void Keyspace::Expire(std::string_view key, int64_t deadline_ms, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_expiry().Expire(self_, deadline_ms, &cc_, d ? &d->mutable_expiry() : nullptr,
                            delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldExpiry);
  expiring_.emplace(key);
}

void Keyspace::Persist(std::string_view key, Keyspace* delta) {
  KeyValue& v = Slot(key);
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  v.mutable_expiry().Persist(self_, &cc_, d ? &d->mutable_expiry() : nullptr,
                             delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldExpiry);
  expiring_.emplace(key);
}

bool Keyspace::ClearExpiry(std::string_view key, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.expiry().empty()) return false;
  KeyValue* d = delta ? &DeltaSlot(delta, key) : nullptr;
  KeyValue& v = keys_.find(key)->second;
  v.mutable_expiry().Clear(d ? &d->mutable_expiry() : nullptr, delta ? &delta->cc_ : nullptr);
  Refreshed(&v, d, KeyValue::kHeldExpiry);
  DropIfEmpty(key);
  return true;
}

bool Keyspace::DropHidden(std::string_view key, Keyspace* delta) {
  auto it = keys_.find(key);
  if (it == keys_.end() || !Hidden(it->second)) return false;  // Hidden: it has a TTL
  // Nothing visible but due TTL entries (an EXPIRE that outlived a concurrent DEL or the
  // key's last member): clear them too, or the write would re-create a key that is due.
  return Del(key, delta) || ClearExpiry(key, delta);
}

std::optional<int64_t> Keyspace::DeleteTime(const KeyValue& v, int64_t grace_ms) const {
  const RegisterStore::Write* w = v.expiry().Winner();
  if (w == nullptr) return std::nullopt;
  if (SiteOf(w->dot.replica) == SiteOf(self_)) return w->timestamp_us;  // ms: expiry.h
  return w->timestamp_us > INT64_MAX - grace_ms ? INT64_MAX : w->timestamp_us + grace_ms;
}

std::optional<int64_t> Keyspace::NextExpiry(int64_t grace_ms) const {
  std::optional<int64_t> next;
  for (const std::string& k : expiring_) {
    auto it = keys_.find(k);
    if (it == keys_.end()) continue;
    std::optional<int64_t> t = DeleteTime(it->second, grace_ms);
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

bool Keyspace::ExpireDue(int64_t now_ms, int64_t grace_ms, Keyspace* delta) {
  bool wrote = false;
  for (auto k = expiring_.begin(); k != expiring_.end();) {
    auto it = keys_.find(*k);
    if (it == keys_.end() || it->second.expiry().empty()) {
      k = expiring_.erase(k);
      continue;
    }
    std::optional<int64_t> t = DeleteTime(it->second, grace_ms);
    if (!t || *t > now_ms) {
      ++k;
      continue;
    }
    // The key may hold nothing visible but its TTL entries (a DEL concurrent with an
    // EXPIRE): clearing them still writes.
    std::string key = *k;
    k = expiring_.erase(k);
    if (!Del(key, delta)) ClearExpiry(key, delta);
    wrote = true;
  }
  return wrote;
}

void Keyspace::Merge(const Keyspace& other) {
  if (this == &other) return;
  if (written_out_) [[unlikely]]
    TakeBackWrittenOut();  // a delta of one write written out: joined as it holds it
  if (other.written_out_) [[unlikely]] {
    // It reads as empty to a const reader, so merging from it would drop its write.
    std::fprintf(stderr, "Keyspace::Merge from a delta holding a written-out write\n");
    std::abort();
  }
  bool complete = key_complete_ && other.key_complete_;
  for (const auto& [k, ov] : other.keys_) {
    auto it = keys_.try_emplace(k, KeyMap::Hash(k)).first;
    it->second.Join(ov, cc_, other.cc_, other.key_complete_, complete);
    if (!ov.expiry().empty() && !it->second.expiry().empty()) expiring_.emplace(k);
    if (!complete && it->second.Empty()) keys_.erase(it);
  }
  if (!other.key_complete_) {
    const KeyValue& kEmpty = EmptyValue();
    for (auto it = keys_.begin(); it != keys_.end();) {
      if (other.keys_.find(it->first) != other.keys_.end()) {
        ++it;
        continue;
      }
      it->second.Join(kEmpty, cc_, other.cc_, /*other_complete=*/false, complete);
      it = (!complete && it->second.Empty()) ? keys_.erase(it) : std::next(it);
    }
  }
  cc_.Join(other.cc_);
  key_complete_ = complete;
}

std::string Keyspace::Encode() const {
  std::string out;
  EncodeTo(&out);
  return out;
}

void Keyspace::EncodeTo(std::string* out) const {
  if (written_out_) [[unlikely]] {
    // A const reader cannot take it back: its bytes are TakeEncoding's (keyspace.h).
    std::fprintf(stderr, "Keyspace::EncodeTo on a delta holding a written-out write\n");
    std::abort();
  }
  Encoder enc;
  if (keys_.size() == 1) {
    // CASE 1: a one-key delta (most effects): nothing to sort, and its node found once
    // (KeyMap::Only: the slot its write used, no walk over the index). Most fit the
    // encoder's inline buffer: no allocation but *out's.
    const auto& [key, value] = keys_.Only();
    const KeyValue::Parts16 parts = value.Parts();
    // Most effects' size, reserved first. Up to 256 bytes it is the inline buffer (no
    // allocation); past it (a key over 192 bytes, or a large value) the encoder allocates
    // its heap buffer, and AppendTo copies it into *out (a second allocation if *out lacks
    // room) unless *out is empty without room, which takes the buffer.
    enc.Reserve(64 + key.size());
    PutOneKeyHead(&enc, key_complete_, parts, key);
    value.Encode(&enc, parts);
    cc_.Encode(&enc);
    enc.AppendTo(out);
    return;
  }
  KeyValue::Parts16 parts = 0;
  for (const auto& kv : keys_) parts |= kv.second.Parts();
  PutKeyspaceHeader(&enc, key_complete_, parts);
  enc.PutVarint(keys_.size());
  // CASE 2: any other number of keys, in key order.
  std::vector<const std::pair<const std::string, KeyValue>*> order;
  order.reserve(keys_.size());
  for (const auto& kv : keys_) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* kv : order) {
    enc.PutBytes(kv->first);
    kv->second.Encode(&enc, parts);
  }
  cc_.Encode(&enc);
  enc.AppendTo(out);
}

std::optional<Keyspace> Keyspace::Decode(std::string_view bytes, ReplicaId self,
                                         std::string* error) {
  Decoder dec(bytes);
  Keyspace ks(self);
  auto fail = [&](const char* why) -> std::optional<Keyspace> {
    if (error) *error = dec.error().empty() ? why : dec.error();
    return std::nullopt;
  };
  KeyValue::Parts16 parts = 0;
  uint64_t n = 0;
  if (!GetKeyspaceHeader(&dec, &ks.key_complete_, &parts) || !dec.GetCount(&n, 4))
    return fail("bad keyspace header");
  std::string prev;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!dec.GetBytes(&key)) return fail("bad key");
    if (i > 0 && !(prev < key)) {
      dec.Fail("keys not sorted");
      return fail("keys not sorted");
    }
    KeyValue v;
    if (!v.Decode(&dec, parts)) return fail("bad key value");
    // Checked here, in the keys' encoded order, so that of two bad keys the error (which
    // reaches users) names the first encoded, not the first in the key map's hash order.
    if (!ks.key_complete_ && v.list().HasRemoved()) return fail("removed list entry in a state");
    if (!ks.key_complete_ && v.stream().HasRemoved()) return fail("removed stream item in a state");
    v.DropRarePartsIfEmpty();  // a part the header lists for some other key
    prev.assign(key.data(), key.size());
    if (!v.expiry().empty()) ks.expiring_.insert(prev);
    ks.keys_.emplace(prev, std::move(v));
  }
  if (!ks.cc_.Decode(&dec)) return fail("bad causal context");
  if (!dec.done()) return fail("trailing bytes after keyspace");
  bool ok = true;
  for (const auto& [k, v] : ks.keys_) ok &= DotsInContext(v, ks.cc_);
  if (!ok) return fail("dot outside the causal context");
  return ks;
}

namespace {

// The one key value of a SET, INCRBY, SADD, SREM or DEL effect: no optional part, no
// hash field, at most one register write (none: DEL's cleared register) and set elements
// with one dot each (SADD's) or none (SREM's and DEL's), and any counter. Its write is a
// view of the encoded bytes; its elements are read from them again (ForEachElement).
// Its flags and counts have no initializer (a merge would store them twice): a
// DecodeSimple that returns true has written each flag and field that a set flag or a
// non-zero count names (first_has_dot only when there are elements), and nothing reads
// them otherwise (MergeEncoded's CASE 1 starts again from a value-initialized
// SimpleValue).
struct SimpleValue {
  // At most this many set elements (a DEL of a larger set is decoded as before).
  static constexpr uint64_t kMaxElements = 64;

  bool has_write;
  Dot write_dot;
  int64_t timestamp_us;
  std::string_view value;
  // The counter: none, one slot of its first life (an INCRBY's, read from the bytes into
  // `slot`), or any other (decoded into the caller's scratch counter: `decoded_counter`).
  bool has_slot;
  bool decoded_counter;
  PnCounter::Slot slot;
  uint64_t elements;
  std::string_view first;  // the first element (most effects' only one), if any
  bool first_has_dot;
  Dot first_dot;
  std::string_view rest;  // the bytes from the second element on

  // Calls f(element, dot) for each element, dot null when it has none. REQUIRES: the
  // bytes passed DecodeSimple (so every read below succeeds).
  // The first element inline (most effects have one), the others out of line.
  template <typename F>
  [[gnu::always_inline]] void ForEachElement(F&& f) const {
    if (elements == 0) return;
    f(first, first_has_dot ? &first_dot : nullptr);
    if (elements == 1) return;  // most effects
    ForEachLater(f);
  }
  template <typename F>
  [[gnu::noinline]] void ForEachLater(F& f) const {  // the second element on
    Decoder dec(rest);
    for (uint64_t k = 1; k < elements; ++k) {
      std::string_view e;
      uint64_t dots = 0;
      Dot d;
      (void)dec.GetBytes(&e);
      (void)dec.GetCount(&dots, 2);
      if (dots == 1) (void)dec.GetDot(&d);
      f(e, dots == 1 ? &d : nullptr);
    }
  }
  template <typename Cc>
  [[gnu::always_inline]] bool DotsIn(const Cc& cc) const {  // DotsInContext of this value
    bool ok = !has_write || cc.Contains(write_dot);
    ForEachElement([&](std::string_view, const Dot* d) { ok &= d == nullptr || cc.Contains(*d); });
    return ok;
  }
};

// Reads a counter of one slot in its first life into *slot; false on a malformed one.
// Always inline: a TryDecoder's cursor then stays in registers (not in memory for a call).
template <typename Dec>
[[gnu::always_inline]] inline bool DecodeOneSlot(Dec* dec, PnCounter::Slot* slot) {
  uint64_t replica = 0;
  return dec->GetVarint(&replica) && PnCounter::DecodeSlot(dec, replica, slot);
}

// Reads a key value encoded without optional parts (KeyValue::Encode) into *out, if it has
// SimpleValue's shape; a counter of more than one entry goes into *counter. Each read and
// check as in KeyValue::Decode (`bytes`: all of the input dec reads), but counts: read by
// GetCountOfReads, whose bound the reads after each count imply, and the hash field count
// as a plain varint (it must be 0, which every bound accepts). False on any other
// shape and on malformed bytes: the caller then decodes it with KeyValue::Decode from where
// this started, which reports the error. Dec: a Decoder, or a TryDecoder (which takes no
// counter of several entries: their decoding needs a Decoder).
template <typename Dec>
bool DecodeSimple(std::string_view bytes, Dec* dec, SimpleValue* out, PnCounter* counter) {
  uint64_t n = 0;
  if (!GetCountOfReads(dec, &n, 4) || n > 1) return false;  // RegisterStore::Decode
  out->has_write = n == 1;
  if (out->has_write && (!dec->GetDot(&out->write_dot) || !dec->GetSigned(&out->timestamp_us) ||
                         !dec->GetBytes(&out->value))) {
    return false;
  }
  // PnCounter::Decode: an entry count (then, for one entry, the slot in place).
  [[maybe_unused]] const size_t counter_at = dec->position();
  if (!GetCountOfReads(dec, &n, 2)) return false;  // a TryDecoder reads one entry or none
  out->has_slot = n == 1;
  out->decoded_counter = n > 1;
  if (out->has_slot && !DecodeOneSlot(dec, &out->slot)) return false;
  if (out->decoded_counter) {  // several slots (a DEL's reset) or an epoch entry: decoded
    if constexpr (!std::is_same_v<Dec, Decoder>) {
      return false;
    } else {
      dec->Rewind(counter_at);
      if (!counter->Decode(dec)) return false;
    }
  }
  // SetStore::Decode's reads and checks, for elements of at most one dot.
  if (!GetCountOfReads(dec, &n, 2) || n > SimpleValue::kMaxElements) return false;
  out->elements = n;
  if (n > 0) {
    // The first element (most effects' only one) ahead of the loop over the others.
    uint64_t dots = 0;
    if (!dec->GetBytes(&out->first) || !GetCountOfReads(dec, &dots, 2) || dots > 1) return false;
    out->first_has_dot = dots == 1;
    if (out->first_has_dot && !dec->GetDot(&out->first_dot)) return false;
    const size_t at = bytes.size() - dec->remaining();  // within bytes: no substr's check
    out->rest = std::string_view(bytes.data() + at, bytes.size() - at);
    std::string_view prev = out->first;
    for (uint64_t k = 1; k < n; ++k) {
      std::string_view e;
      Dot d;
      if (!dec->GetBytes(&e) || !GetCountOfReads(dec, &dots, 2) || dots > 1) return false;
      if (!(prev < e)) return false;  // "set elements not sorted"
      if (dots == 1 && !dec->GetDot(&d)) return false;
      prev = e;
    }
  }
  // HashStore::Decode's count (GetCount(&n, 3)), which must be 0 here: a count of 0 passes
  // its bound test for any input, so the varint alone decides. GCC put that test, in a
  // block it deemed cold, as a 64-bit division by 3 (tens of cycles on every merge).
  return dec->GetVarint(&n) && n == 0;  // no field
}

// KeyValue::Join with a key-complete value that holds `simple` (and `counter`, if
// simple.decoded_counter), every other part empty, its context other_cc (a CausalContext or
// a ContextDots). REQUIRES: with a ContextDots, OnlyFirstParts(*v) and a write in `simple`
// or none in v (the other joins take a CausalContext).
template <typename OtherCc>
void JoinSimple(KeyValue* v, const SimpleValue& simple, const PnCounter& counter,
                const CausalContext& my_cc, const OtherCc& other_cc, bool keep_empty) {
  // Always inline: JoinAreaPartFirst calls join_str from two places, and GCC then kept it
  // out of line (sim_bench: 73 instructions more per operation under callgrind).
  auto join_str = [&]() __attribute__((always_inline)) {
    if (simple.has_write) {
      v->mutable_str().reg.JoinWrite(simple.write_dot, simple.timestamp_us, simple.value, my_cc,
                                     other_cc);
    } else if constexpr (std::is_same_v<OtherCc, CausalContext>) {
      if ((v->held & KeyValue::kHeldStr) && !v->str().reg.empty()) {
        v->mutable_str().reg.Join(EmptyValue().str().reg, my_cc, other_cc);
      }
    }
    if (simple.has_slot) {
      v->mutable_str().counter.JoinSlot(simple.slot);
    } else if (simple.decoded_counter) {
      v->mutable_str().counter.Merge(counter);
    }
  };
  auto join_set = [&] {
    simple.ForEachElement([&](std::string_view e, const Dot* d) {
      if (d == nullptr && SetJoinChangesNothing(*v, /*other_has_dots=*/false, keep_empty)) {
        return;  // d tested here first: passed into the helper, sim_bench ran 13 more
                 // instructions per operation (callgrind)
      }
      v->mutable_set().JoinElement(e, d, my_cc, other_cc, keep_empty);
    });
  };
  JoinAreaPartFirst(*v, join_str, join_set);
  v->held |= KeyValue::kHeldStr | KeyValue::kHeldSet;  // refreshed below
  if constexpr (std::is_same_v<OtherCc, CausalContext>) {
    JoinLaterParts(v, EmptyValue(), my_cc, other_cc, /*other_complete=*/true, keep_empty);
  } else {
    RefreshFirstParts(v);
    v->DropRarePartsIfEmpty();  // as JoinLaterParts does: no empty block outlives a join
  }
}

}  // namespace

bool Keyspace::MergeEncoded(std::string_view bytes, std::string* error, MergeScratch* scratch) {
  if (written_out_) [[unlikely]] {  // as Merge
    TakeBackWrittenOut();
  }
  if (scratch == nullptr) {  // buffers for this call only (no empty ones built otherwise)
    MergeScratch local;
    return MergeEncoded(bytes, error, &local);
  }
  MergeScratch& s = *scratch;
  // A delta is decoded and checked in full first (as Decode does, same order, same errors),
  // so that malformed input changes nothing; then joined key by key (as Merge does). The
  // lookups of its keys are dependent cache misses (index slot, then node) on a large
  // keyspace: each is started as soon as its key is read and overlaps the decoding.
  const bool complete = key_complete_;  // and the delta is key-complete
  // The key of a one-key delta whose value is a SimpleValue, joined at the end (CASE 1a).
  std::string_view key;
  size_t h = 0;
  SimpleValue simple;
  ContextDots dots;
  size_t cc_at = 0;       // where its context starts
  bool few_dots = false;  // its context read into dots (else decoded into s.cc_)
  // CASE 0: most effects: a well-formed one-key delta whose value is a SimpleValue and
  // whose context a ContextDots (checked: its dots in it), read with a TryDecoder. Anything
  // else, malformed bytes included, is read again from the start with a Decoder (CASE 1
  // and 2), which reports the errors.
  {
    TryDecoder r(bytes);
    uint8_t header = 0;
    uint64_t n = 0;
    if (r.GetByte(&header) && header == kPlainDeltaHeader && GetCountOfReads(&r, &n, 4) && n == 1 &&
        r.GetBytes(&key)) {
      h = KeyMap::Hash(key);
      keys_.PrefetchSlot(h);
      if (DecodeSimple(bytes, &r, &simple, &s.counter_)) {
        keys_.PrefetchNode(h);
        cc_at = r.position();
        few_dots = dots.Decode(&r) && r.done() && simple.DotsIn(dots);
      }
    }
  }
  if (!few_dots) {
    Decoder dec(bytes);
    auto fail = [&](const char* why) {
      if (error) *error = dec.error().empty() ? why : dec.error();
      return false;
    };
    bool delta = false;
    KeyValue::Parts16 parts = 0;
    uint64_t n = 0;
    if (!GetKeyspaceHeader(&dec, &delta, &parts) || !dec.GetCount(&n, 4))
      return fail("bad keyspace header");
    if (!delta) {
      // A full state: its join also visits the keys it does not list (rare: full syncs).
      std::optional<Keyspace> other = Decode(bytes, self_, error);
      if (!other) return false;
      Merge(*other);
      return true;
    }
    auto join = [&](std::string_view k, size_t kh, const KeyValue& value) {
      auto it = keys_.try_emplace(k, kh).first;
      it->second.Join(value, cc_, s.cc_, /*other_complete=*/true, complete);
      if ((value.held & it->second.held & KeyValue::kHeldExpiry) != 0) expiring_.emplace(k);
      if (!complete && it->second.Empty()) keys_.erase(it);
    };
    if (s.values_.size() < std::max<uint64_t>(n, 1)) s.values_.resize(std::max<uint64_t>(n, 1));
    if (n != 1) {
      // CASE 2: any other number of keys.
      s.keys_.clear();
      s.hashes_.clear();
      for (uint64_t i = 0; i < n; ++i) {
        if (!dec.GetBytes(&key)) return fail("bad key");
        if (i > 0 && !(s.keys_.back() < key)) {
          dec.Fail("keys not sorted");
          return fail("keys not sorted");
        }
        h = KeyMap::Hash(key);
        keys_.PrefetchSlot(h);
        if (!s.values_[i].Decode(&dec, parts)) return fail("bad key value");
        s.keys_.push_back(key);
        s.hashes_.push_back(h);
      }
      for (uint64_t i = 0; i < n; ++i) keys_.PrefetchNode(s.hashes_[i]);
      if (!s.cc_.Decode(&dec)) return fail("bad causal context");
      if (!dec.done()) return fail("trailing bytes after keyspace");
      bool ok = true;
      for (size_t i = 0; i < n; ++i) ok &= DotsInContext(s.values_[i], s.cc_);
      if (!ok) return fail("dot outside the causal context");

      for (size_t i = 0; i < n; ++i) join(s.keys_[i], s.hashes_[i], s.values_[i]);
      cc_.Join(s.cc_);
      key_complete_ = complete;
      return true;
    }
    // CASE 1: a one-key delta that CASE 0 did not take: the same steps for its one key,
    // without the key and hash lists of CASE 2.
    if (!dec.GetBytes(&key)) return fail("bad key");
    h = KeyMap::Hash(key);
    keys_.PrefetchSlot(h);
    KeyValue& value = s.values_[0];
    // CASE 1a: the value of a SET, INCRBY, SADD, SREM or DEL effect (SimpleValue) is
    // joined straight from the bytes, not decoded into the scratch value (a counter of
    // several slots is, into the scratch's own counter_). Any other value, malformed ones
    // included, is decoded from the same place (the same errors).
    simple = SimpleValue();  // CASE 0 may have read part of it
    const size_t value_at = dec.position();
    const bool is_simple = parts == 0 && DecodeSimple(bytes, &dec, &simple, &s.counter_);
    if (!is_simple) {
      dec.Rewind(value_at);
      if (!value.Decode(&dec, parts)) return fail("bad key value");
    }
    keys_.PrefetchNode(h);
    // CASE 1b: a simple value's context of a few dots and no vector is read as a
    // ContextDots, not decoded into the scratch context; any other (and a malformed one) is
    // decoded from the same place.
    cc_at = dec.position();
    few_dots = is_simple && dots.Decode(&dec);
    if (!few_dots) {
      dec.Rewind(cc_at);
      if (!s.cc_.Decode(&dec)) return fail("bad causal context");
    }
    if (!dec.done()) return fail("trailing bytes after keyspace");
    const bool dots_in = few_dots    ? simple.DotsIn(dots)
                         : is_simple ? simple.DotsIn(s.cc_)
                                     : DotsInContext(value, s.cc_);
    if (!dots_in) return fail("dot outside the causal context");
    if (!is_simple) {
      join(key, h, value);
      cc_.Join(s.cc_);
      key_complete_ = complete;
      return true;
    }
  }
  // CASE 1a's join, of CASE 0's key or CASE 1's.
  KeyValue& v = keys_.Emplace(key, h).second;
  if (few_dots && (!OnlyFirstParts(v) ||
                   (!simple.has_write && (v.held & KeyValue::kHeldStr) && !v.str().reg.empty()))) {
    // A key holding other parts (or a write that an SREM's or DEL's effect may clear):
    // their joins take a CausalContext, decoded from the same bytes (read above).
    Decoder dec(bytes);
    dec.Rewind(cc_at);
    (void)s.cc_.Decode(&dec);
    few_dots = false;
  }
  if (few_dots) {
    JoinSimple(&v, simple, s.counter_, cc_, dots, complete);
  } else {
    JoinSimple(&v, simple, s.counter_, cc_, s.cc_, complete);
  }
  if (!complete && v.Empty()) keys_.erase(keys_.find(key, h));  // rare: a probe
  if (few_dots) {
    cc_.Join(dots);
  } else {
    cc_.Join(s.cc_);
  }
  key_complete_ = complete;
  return true;
}

std::string Keyspace::Dump(std::string_view key) const {
  const KeyValue* v = Find(key);
  Type t = v ? v->VisibleType() : Type::kNone;
  switch (t) {
    case Type::kBoundedCounter:
      return FormatInt128(v->bc().Value());
    case Type::kString:
      return *v->StringValue();
    case Type::kSet: {
      std::string s = "{";
      bool first = true;
      for (const std::string& m : v->set().Elements()) {
        s += first ? "" : ", ";
        s += m;
        first = false;
      }
      return s + "}";
    }
    case Type::kList: {
      std::string s = "[";
      for (size_t i = 0; i < v->list().size(); ++i) {
        s += i ? ", " : "";
        s += v->list().At(i);
      }
      return s + "]";
    }
    case Type::kHash: {
      std::string s = "{";
      bool first = true;
      for (const auto& [f, val] : v->hash().Items()) {
        s += first ? "" : ", ";
        s += f + ": " + val;
        first = false;
      }
      return s + "}";
    }
    case Type::kZset: {
      std::string s = "{";
      bool first = true;
      for (const ZsetStore::Item& item : v->zset.index()) {
        s += first ? "" : ", ";
        s += *item.member + ": " + FormatScore(item.score);
        first = false;
      }
      return s + "}";
    }
    case Type::kHll:
      return "hll(" + std::to_string(v->hll().Count()) + ")";
    case Type::kStream: {
      // [id {f: v, ...}, ...], then the visible groups.
      std::string s = "[";
      bool first = true;
      v->stream().ForEach([&](const StreamStore::Key& k, const StreamStore::Fields& fields) {
        s += first ? "" : ", ";
        s += k.first.ToString() + " {";
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
          s += (i ? ", " : "") + fields[i] + ": " + fields[i + 1];
        }
        s += "}";
        first = false;
      });
      s += "]";
      std::vector<std::string> groups = v->stream().Groups();
      for (size_t i = 0; i < groups.size(); ++i) s += (i ? ", " : " groups: ") + groups[i];
      return s;
    }
    case Type::kNone:
      break;
  }
  return "(nil)";
}

std::string Keyspace::DumpAll() const {
  std::string out;
  for (const std::string& k : Keys()) {
    out += k;
    out += " ";
    out += TypeName(TypeOf(k));
    out += " ";
    out += Dump(k);
    out += "\n";
  }
  return out;
}

bool Keyspace::HeldExact() const {
  for (const auto& [k, v] : keys_) {
    if (!v.HeldExact()) return false;
  }
  return true;
}

size_t Keyspace::MemoryBytes() const {
  size_t n = keys_.IndexBytes() + cc_.HeapBytes();
  n += keys_.size() * keys_.NodeBytes();
  for (const auto& [k, v] : keys_) {
    n += k.capacity() > 15 ? k.capacity() + 1 : 0;
    n += v.HeapBytes();
  }
  return n;
}

bool operator==(const Keyspace& a, const Keyspace& b) {
  if (!(a.cc_ == b.cc_)) return false;
  auto non_empty = [](const Keyspace& ks) {
    size_t n = 0;
    for (const auto& [k, v] : ks.keys_) n += v.Empty() ? 0 : 1;
    return n;
  };
  if (non_empty(a) != non_empty(b)) return false;
  for (const auto& [k, v] : a.keys_) {
    if (v.Empty()) continue;
    auto it = b.keys_.find(k);
    if (it == b.keys_.end() || !(v == it->second)) return false;
  }
  return true;
}

}  // namespace crdt
