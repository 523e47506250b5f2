// Keyspace: the whole dataset of one Active/Active replica, as one delta-state CRDT: an
// observed-remove map from key to a KeyValue (string, set and hash parts), all sharing ONE
// causal context (the ORMap of Almeida et al. 2018). A deleted key leaves nothing behind
// but the dots in that context (one counter per replica in steady state), so DEL frees
// memory, and a write concurrent with a DEL elsewhere survives it and brings the key back.
//
// Types: a key normally holds one type. Concurrent writes of different types in two
// regions (SET k in A while SADD k in B) leave both parts; the visible type is then the
// bounded counter, else the string (or float counter), else the hash, else the set, else
// the sorted set, else the HyperLogLog, else the list, else the stream (fixed precedence,
// documented in README). A bounded counter (bounded_counter.h) is never
// deleted or reset: no region can take back rights another one may already have spent;
// the callers refuse DEL and overwrites of one.
//
// Mutators take an optional `Keyspace* delta` (from NewDelta()) and join their effect into
// it, so a transaction's effects form one delta. Deltas are key-complete: joining one
// touches only its keys. Merge() accepts deltas and full states alike.
//
// Determinism: keys live in a hash map, but every output (Keys, Dump, Encode) is sorted.
// Value type; not thread-safe.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "crdt/aw_or_set.h"
#include "crdt/bounded_counter.h"
#include "crdt/causal_context.h"
#include "crdt/expiry.h"
#include "crdt/flat_hash.h"
#include "crdt/float_counter.h"
#include "crdt/hll.h"
#include "crdt/list.h"
#include "crdt/node_pool.h"
#include "crdt/or_map.h"
#include "crdt/stream.h"
#include "crdt/string_value.h"
#include "crdt/value_heap.h"
#include "crdt/zset.h"

namespace crdt {

// KeyValue: what one key holds, one part per type. Layout: what most keys use is inline
// after `held`, so that a node of the key map (the key, then this value) starts with what
// a command or a merge reads first: the sorted set's pointer and ONE area that holds
// either the string part (register plus INCRBY counter) or the set part, whichever the
// key needed first (a key holds one type, nearly always). The others (hash, bounded
// counter, TTL, float counter, HyperLogLog, list, stream, and the string or set part that
// a type conflict between regions adds to a key whose area holds the other one) live in
// one block behind a pointer (RareParts), allocated by the first mutable access that
// needs it (mutable_hash() and the like) and freed with the value, or by
// DropRarePartsIfEmpty once none of them holds metadata (which also moves a spilled part
// into the area when the area's own part is empty). The area changes type only when its
// part holds no metadata, in Decode (which replaces an area's set with the string it
// decodes and then decodes the set again, into the block), or when a value is assigned
// over it. A const accessor of a part the value does not have returns a shared empty part:
// reads never allocate. Copies copy the block; moves move the pointer. A node of the key
// map (176 bytes on x86-64 with libstdc++: the area is the string part's 120 bytes, the
// set's 120 too, whose hot fields fill the node's second line (aw_or_set.h); the KeyValue
// tests hold it within 192, the 3 cache lines KeyMap gives it):
//
//   [ key (std::string) | held, area | zset | rare_ | area: str (register, counter) or set ]
//                                             |
//                                             +--> [ hash | bc | expiry | fc | hll | list |
//                                                    stream | spill: the other of str, set ]
struct KeyValue {
 private:
  struct RareParts;
  // Builds, copies and frees the block out of line: a value with none (most) does not
  // carry the code of its seven parts into every function that builds or destroys one.
  struct RareDeleter {
    void operator()(RareParts* r) const;
  };
  using RarePtr = std::unique_ptr<RareParts, RareDeleter>;
  static RarePtr NewRareParts(const RareParts* from);  // a copy of *from, or empty parts

 public:
  // Which parts hold metadata (are not as new), one bit each: an emptiness test, a join or
  // a dot check reads one mask instead of testing every part. Keyspace keeps it exact:
  // each of its mutators, joins, decodes and resets refreshes the bits of the parts it
  // touched (Refresh), and a value built outside a Keyspace is refreshed before use. The
  // sorted set has no bit: its own test (ZsetStore::Empty) is one pointer compare.
  enum Held : uint16_t {
    kHeldStr = 1 << 0,
    kHeldSet = 1 << 1,
    kHeldHash = 1 << 2,
    kHeldBoundedCounter = 1 << 3,
    kHeldExpiry = 1 << 4,
    kHeldFloatCounter = 1 << 5,
    kHeldHll = 1 << 6,
    kHeldList = 1 << 7,
    kHeldStream = 1 << 8,
    kHeldAll = (1 << 9) - 1,
    // The parts in the RareParts block.
    kHeldRare = kHeldHash | kHeldBoundedCounter | kHeldExpiry | kHeldFloatCounter | kHeldHll |
                kHeldList | kHeldStream,
  };
  uint16_t held = 0;

 private:
  // What the inline area holds. A new value's area holds an (empty) set, so that a new
  // node of a big key map puts its set on the map's ValueHeap (KeyMap::UseValueHeap).
  enum Area : uint8_t { kAreaSet = 0, kAreaStr = 1 };
  Area area_ = kAreaSet;

 public:
  ZsetStore zset;

 private:
  RarePtr rare_;  // null: every part in it is empty
  union {
    SetStore set_;          // area_ == kAreaSet
    StringValueStore str_;  // area_ == kAreaStr
  };

 public:
  KeyValue() : set_() {}
  KeyValue(const KeyValue& other)
      : held(other.held),
        area_(other.area_),
        zset(other.zset),
        rare_(other.rare_ ? NewRareParts(other.rare_.get()) : nullptr) {
    if (area_ == kAreaStr) {
      new (&str_) StringValueStore(other.str_);
    } else {
      new (&set_) SetStore(other.set_);
    }
  }
  KeyValue& operator=(const KeyValue& other) {
    if (this != &other) *this = KeyValue(other);
    return *this;
  }
  // A moved-from value may only be destroyed or assigned to (its `held` is stale). A set
  // moved into a value whose area held the string starts on the ordinary heap (as a
  // set assigned to a store keeps the store's heap, aw_or_set.h).
  KeyValue(KeyValue&& other) noexcept
      : held(other.held),
        area_(other.area_),
        zset(std::move(other.zset)),
        rare_(std::move(other.rare_)) {
    if (area_ == kAreaStr) {
      new (&str_) StringValueStore(std::move(other.str_));
    } else {
      new (&set_) SetStore(std::move(other.set_));
    }
  }
  KeyValue& operator=(KeyValue&& other);
  ~KeyValue() { DestroyArea(); }

  // The string part (register plus INCRBY counter) and the set part, in the area or in the
  // block. Const: the part, or a shared empty one (never allocates). mutable_*: the part,
  // placed if absent: in the area when the area's part holds no metadata (the area then
  // changes type: a reference to its old part is invalid), else in the block. A reference
  // is valid as long as one into the block is (below), and until a mutable access to the
  // other part.
  const StringValueStore& str() const { return area_ == kAreaStr ? str_ : SpilledStr(); }
  const SetStore& set() const { return area_ == kAreaSet ? set_ : SpilledSet(); }
  StringValueStore& mutable_str() { return area_ == kAreaStr ? str_ : MutableStrSlow(); }
  SetStore& mutable_set() { return area_ == kAreaSet ? set_ : MutableSetSlow(); }
  // True if the string (false: the set) part is in the inline area (for tests).
  bool StrInline() const { return area_ == kAreaStr; }
  // Moves the set part (wherever it is) onto h: SetStore::UseHeap.
  void UseHeap(ValueHeap* h);

  // The parts behind the pointer. Const: the part, or a shared empty one if the value has
  // no block (never allocates). mutable_*: the part, the block allocated if absent. A
  // reference is valid until the block is freed: DropRarePartsIfEmpty, a copy or move into
  // the value, or any write, merge or decode of the key by its Keyspace (a write that
  // empties the parts frees the block), besides erasing it.
  const HashStore& hash() const { return rare().hash; }
  const BoundedCounter& bc() const { return rare().bc; }       // its own rule, outside the context
  const ExpiryStore& expiry() const { return rare().expiry; }  // the key's TTL; not a type
  const FloatCounter& fc() const { return rare().fc; }         // INCRBYFLOAT increments; own rule
  const HllStore& hll() const { return rare().hll; }           // its own rule (delete wins)
  const ListStore& list() const { return rare().list; }
  const StreamStore& stream() const { return rare().stream; }  // replicated streams
  HashStore& mutable_hash() { return MutableRare().hash; }
  BoundedCounter& mutable_bc() { return MutableRare().bc; }
  ExpiryStore& mutable_expiry() { return MutableRare().expiry; }
  FloatCounter& mutable_fc() { return MutableRare().fc; }
  HllStore& mutable_hll() { return MutableRare().hll; }
  ListStore& mutable_list() { return MutableRare().list; }
  StreamStore& mutable_stream() { return MutableRare().stream; }
  // True if the value has the block of the parts behind the pointer (for MemoryBytes and
  // tests).
  bool HasRareParts() const { return rare_ != nullptr; }
  // Frees the block if `held` names none of its parts and it holds no string or set part
  // with metadata; before that, a spilled string or set part with none is dropped, and one
  // with some moves into the area if the area's part has none. REQUIRES: the bits of the
  // block's parts exact; no reference to one of them, or to the string or set part, is
  // used afterwards.
  void DropRarePartsIfEmpty() {
    if (rare_ != nullptr) TidyRareParts();
  }
  // The heap bytes of the block and of every part's own allocations.
  size_t HeapBytes() const;

  // The visible string: the string part's value (register plus INCRBY counter) plus the
  // live INCRBYFLOAT increments, formatted as Redis formats a long double; the string part
  // as is when it is not a number. nullopt when neither part is present. REQUIRES: `held`
  // exact for the float counter (a value built outside a Keyspace: Refresh first).
  std::optional<std::string> StringValue() const;

  enum class Type { kNone, kString, kHash, kSet, kBoundedCounter, kZset, kHll, kList, kStream };
  Type VisibleType() const;

  // The bits of `bits` whose parts hold metadata now, tested part by part.
  uint16_t HeldNow(uint16_t bits = kHeldAll) const {
    uint16_t now = FirstPartsNow(bits);
    if (rare_ == nullptr || (bits & kHeldRare) == 0) return now;  // no block: all empty
    const RareParts& r = *rare_;
    if ((bits & kHeldHash) && !r.hash.Empty()) now |= kHeldHash;
    if ((bits & kHeldBoundedCounter) && !r.bc.empty()) now |= kHeldBoundedCounter;
    if ((bits & kHeldExpiry) && !r.expiry.empty()) now |= kHeldExpiry;
    if ((bits & kHeldFloatCounter) && !r.fc.empty()) now |= kHeldFloatCounter;
    if ((bits & kHeldHll) && !r.hll.Empty()) now |= kHeldHll;
    if ((bits & kHeldList) && !r.list.Empty()) now |= kHeldList;
    if ((bits & kHeldStream) && !r.stream.Empty()) now |= kHeldStream;
    return now;
  }
  // The bits of kHeldStr and kHeldSet in `bits` whose parts hold metadata now: the area's
  // part, then (with a block) a spilled one.
  uint16_t FirstPartsNow(uint16_t bits) const {
    uint16_t now = 0;
    if (area_ == kAreaStr) {
      if ((bits & kHeldStr) && !str_.Empty()) now = kHeldStr;
    } else if ((bits & kHeldSet) && set_.entry_count() != 0) {
      now = kHeldSet;
    }
    if (rare_ != nullptr) now |= SpilledNow(bits);
    return now;
  }
  // Makes the bits of `bits` exact again after their parts changed; the others are kept.
  void Refresh(uint16_t bits) { held = static_cast<uint16_t>((held & ~bits) | HeldNow(bits)); }
  bool HeldExact() const { return held == HeldNow(); }  // for tests

  bool Empty() const { return held == 0 && zset.Empty(); }
  void Join(const KeyValue& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);
  // Optional parts: a keyspace's header byte has the bit of each optional part that some
  // key of it holds (bit 0 says "delta"), and every key value then encodes those parts,
  // in bit order, after the string, set and hash parts; so a keyspace that uses none of
  // them encodes as it did before they existed. Bit 6 of the header byte is not a part: it
  // says a second header byte follows, holding parts 8 to 15 (never zero when present).
  // A new type takes the next free bit from 8 up, and adds it to kKnownParts.
  enum Part : uint16_t {
    kPartBoundedCounter = 1 << 1,
    kPartExpiry = 1 << 2,
    kPartZset = 1 << 3,
    kPartHll = 1 << 4,
    kPartList = 1 << 5,
    kPartsMore = 1 << 6,  // header flag only: the second header byte follows
    kPartFloatCounter = 1 << 7,
    kPartStream = 1 << 8,
    kPartHashFloat = 1 << 9,  // the hash's HINCRBYFLOAT counters (HashStore::EncodeFloats)
    kKnownParts = kPartBoundedCounter | kPartExpiry | kPartZset | kPartHll | kPartList |
                  kPartFloatCounter | kPartStream | kPartHashFloat,
  };
  using Parts16 = uint16_t;
  Parts16 Parts() const;  // the optional parts this value holds
  // REQUIRES: `held` names every non-empty string, set and hash part (Refresh after a
  // change): a part it does not name is encoded as empty without being read.
  void Encode(Encoder* enc, Parts16 parts) const;
  bool Decode(Decoder* dec, Parts16 parts);
  friend bool operator==(const KeyValue& a, const KeyValue& b) {
    if (!(a.str() == b.str() && a.set() == b.set() && a.zset == b.zset)) return false;
    if (a.rare_ == nullptr && b.rare_ == nullptr) return true;
    const RareParts& x = a.rare();
    const RareParts& y = b.rare();
    return x.hash == y.hash && x.bc == y.bc && x.fc == y.fc && x.hll == y.hll && x.list == y.list &&
           x.stream == y.stream && x.expiry == y.expiry;
  }

 private:
  class Spill {
   public:
    Spill() = default;
    Spill(const Spill& o) : p_(o.p_ ? std::make_unique<Parts>(*o.p_) : nullptr) {}
    Spill& operator=(const Spill& o) {
      if (this != &o) p_ = o.p_ ? std::make_unique<Parts>(*o.p_) : nullptr;
      return *this;
    }
    Spill(Spill&&) noexcept = default;
    Spill& operator=(Spill&&) noexcept = default;
    ~Spill() = default;

    template <class T>
    T* get_if() {
      return p_ != nullptr ? std::get_if<T>(p_.get()) : nullptr;
    }
    template <class T>
    const T* get_if() const {
      return p_ != nullptr ? std::get_if<T>(p_.get()) : nullptr;
    }
    template <class T>
    T& emplace() {
      if (p_ == nullptr) return std::get<T>(*(p_ = std::make_unique<Parts>(std::in_place_type<T>)));
      return p_->template emplace<T>();
    }
    void reset() { p_.reset(); }
    bool empty() const { return p_ == nullptr; }
    // The heap bytes of the holder (the part's own allocations are counted by the caller).
    size_t HeapBytes() const { return p_ != nullptr ? sizeof(Parts) + 16 : 0; }

   private:
    using Parts = std::variant<StringValueStore, SetStore>;
    std::unique_ptr<Parts> p_;  // null: no spilled part
  };
  struct RareParts {
    HashStore hash;
    BoundedCounter bc;
    ExpiryStore expiry;
    FloatCounter fc;
    HllStore hll;
    ListStore list;
    StreamStore stream;
    // The string or set part when the area holds the other one (a type conflict): behind
    // its own pointer, so that a block without one (a key with a TTL, a hash, a list...)
    // carries 8 bytes for it, not the larger of the two parts.
    Spill spill;
  };
  // The shared empty block of a value that has none (built once, never changed).
  static const RareParts& EmptyRareParts() {
    static const RareParts kEmpty{};
    return kEmpty;
  }
  const RareParts& rare() const { return rare_ != nullptr ? *rare_ : EmptyRareParts(); }
  RareParts& MutableRare() {
    if (rare_ == nullptr) rare_ = NewRareParts(nullptr);
    return *rare_;
  }
  // The part in the block, or a shared empty one.
  const StringValueStore& SpilledStr() const {
    const auto* p = rare_ != nullptr ? rare_->spill.get_if<StringValueStore>() : nullptr;
    if (p != nullptr) return *p;
    static const StringValueStore kEmpty{};
    return kEmpty;
  }
  const SetStore& SpilledSet() const {
    const auto* p = rare_ != nullptr ? rare_->spill.get_if<SetStore>() : nullptr;
    if (p != nullptr) return *p;
    static const SetStore kEmpty{};
    return kEmpty;
  }
  bool HasSpilledStr() const {
    return rare_ != nullptr && rare_->spill.get_if<StringValueStore>() != nullptr;
  }
  uint16_t SpilledNow(uint16_t bits) const;
  StringValueStore& MutableStrSlow();
  SetStore& MutableSetSlow();
  void TidyRareParts();
  void DestroyArea() {
    if (area_ == kAreaStr) {
      str_.~StringValueStore();
    } else {
      set_.~SetStore();
    }
  }
};

// "none", "string", "hash", "set", "bcounter", "zset", "list", "stream"; a HyperLogLog is a
// "string" (as Redis's TYPE says).
const char* TypeName(KeyValue::Type t);

// Redis's text of a long double (util.c ld2string, human-friendly mode: "%.17Lf" with the
// trailing zeroes, a trailing '.' and the sign of "-0" removed). REQUIRES: finite.
std::string FormatLongDouble(long double v);
// Redis's string2ld: strtold over the whole text (no leading space, no NaN, no overflow).
bool ParseLongDouble(std::string_view s, long double* out);
// The visible text of a value (a string, a hash field) whose register and counter read
// `base` (nullopt: absent) and which has the INCRBYFLOAT increments `fc`: base as is when no
// increment is live or base is not a number (the increments stay in the metadata); else
// base (0 when absent) plus the live increments, by FormatLongDouble; base (or "0") when
// that sum is not finite.
std::optional<std::string> WithFloatIncrements(std::optional<std::string> base,
                                               const FloatCounter& fc);
// INCRBY `by` on a value that shows `visible` and has live INCRBYFLOAT increments: the
// step joins them, when visible reads as an integer and PnCounter::Admits the step (a long
// double holds every int64 exactly). kOk and *next: the caller adds `by` to the
// increments, or a zero step (live, pn_counter.h) to the integer counter.
IncrStatus IntegerStepOnFloats(const std::optional<std::string>& visible, int64_t by,
                               int64_t* next);

enum class FloatStatus { kOk, kNotFloat, kNanOrInfinity };

class Keyspace {
 public:
  using Type = KeyValue::Type;

  Keyspace() = default;
  explicit Keyspace(ReplicaId self) : self_(self) {}
  // An empty delta of this replica, for the mutators' `delta` argument.
  Keyspace NewDelta() const;
  // Makes *delta what NewDelta() returns, keeping its key index's allocation: a caller that
  // records one delta per command reuses one Keyspace instead of building and freeing one
  // (an index allocation and its release) per command. (A take-back, below, replaces the
  // index: the allocation is kept only while no write was taken back.)
  //
  // With `out` (a caller that wants the delta only for its bytes, as an effect): the first
  // write into the emptied delta, if it is one of
  //   - Set on a key that holds the string alone (nothing beside it: no TTL, no set, ...),
  //   - IncrBy that steps the integer counter, on a key with no float counter part (on one
  //     with a float counter (INCRBYFLOAT) it records as usual),
  //   - SAdd,
  //   - SRem that removes the member (one not there records the key's empty entry),
  // appends the encoding the delta would have (EncodeTo's bytes) to *out straight from the
  // write, instead of building the delta's entry and context; the delta then holds that
  // write "written out". A later write into it (a command of two writes: SADD or SREM of
  // two members, SET..EX (Set then its TTL), SMOVE) first takes it back (decodes it from
  // *out, and cuts it from there: a Decode per such command) and records as usual;
  // ResetDelta cuts it from *out; TakeEncoding leaves it there. Merge and MergeEncoded into
  // it take it back first too. While it holds one, the delta's other readers must not be
  // used: Find and the reads, KeyCount, Keys, context() see it empty, and EncodeTo and a
  // Merge from it (into another keyspace) abort (in every build); empty() (false),
  // is_delta(), self(), the mutators, Merge and MergeEncoded into it, TakeEncoding and
  // ResetDelta are right. *out must outlive the delta's use
  // up to TakeEncoding or the next ResetDelta, and nothing else may append to *out between
  // the write and that TakeEncoding or ResetDelta: a take-back and a ResetDelta cut *out
  // back to its size before the write (a resize), which would cut those bytes too. A copy
  // of such a delta shares *out and the cut: use only one of them with it.
  void ResetDelta(Keyspace* delta, std::string* out = nullptr) const;
  // EncodeTo(out) for a delta reset with this `out` (ResetDelta): a write it holds
  // written out is in *out already; the delta must be reset before its next use.
  void TakeEncoding(std::string* out) {
    if (!written_out_) return EncodeTo(out);
    assert(out == direct_ && keys_.empty());
    written_out_ = false;
  }

  ReplicaId self() const { return self_; }
  bool is_delta() const { return key_complete_; }
  const CausalContext& context() const { return cc_; }
  size_t KeyCount() const;  // visible keys
  bool empty() const { return keys_.empty() && cc_.empty() && !written_out_; }

  // A key with its hash, computed once (Ref): the string_view overloads below hash their
  // key once this way and hand it on. REQUIRES: hash == Ref(key).hash; the key's bytes
  // outlive the KeyRef.
  struct KeyRef {
    std::string_view key;
    size_t hash;
  };
  static KeyRef Ref(std::string_view key) { return KeyRef{key, KeyMap::Hash(key)}; }
  // A key found once (Locate) for a command that checks it and then writes it (SET, INCRBY,
  // SADD, SREM): the overloads below taking a Located use `entry` instead of finding the
  // key again. entry: the key's value (hidden or not), or null if the keyspace holds none;
  // a write given null and not absent looks the key up itself (the string_view and KeyRef
  // overloads of Set, IncrBy and SAdd pass null). Set and IncrBy take it by const: an
  // entry that was null stays null after they create the key (Locate again to read it),
  // and a refused IncrBy given null erases the key it created.
  // absent: Locate found no key, so a write given null inserts it without looking it up;
  // such a Located is good for the one write that makes the key (Locate again for the
  // next, as for reading it). Read only while entry is null (SAdd sets entry, leaves it).
  // REQUIRES: the Located came from this keyspace's Locate (or a KeyRef overload), and no
  // key of it was erased since (SRem, which may erase the key, updates its Located) nor,
  // if absent, inserted; else a write goes to freed or foreign memory, or inserts the key
  // twice. Debug builds check it (LocatedIsCurrent).
  struct Located : KeyRef {
    KeyValue* entry = nullptr;
    bool absent = false;
  };
  Located Locate(std::string_view key);

  // ---- reads ----
  // Expiry (expiry.h): while HideDue(now_ms) is in force, every read below treats a key
  // whose TTL is due (deadline <= now_ms, Unix milliseconds of the reader's wall clock) as
  // absent; the command engine sets it for each command and ShowAll() ends it. Merges,
  // mutators, Encode and operator== always see every key.
  void HideDue(int64_t now_ms) { hide_due_ms_ = now_ms; }
  void ShowAll() { hide_due_ms_ = kShowAll; }
  // The key's deadline (Unix milliseconds) if it has a TTL (hidden keys read as absent).
  std::optional<int64_t> Deadline(std::string_view key) const;
  Type TypeOf(std::string_view key) const { return TypeOf(Ref(key)); }
  Type TypeOf(const KeyRef& key) const;
  Type TypeOf(const Located& key) const;
  const KeyValue* Find(std::string_view key) const { return Find(Ref(key)); }
  const KeyValue* Find(const KeyRef& key) const;
  std::optional<std::string> Get(std::string_view key) const;
  std::vector<std::string> Members(std::string_view key) const;  // sorted
  bool IsMember(std::string_view key, std::string_view member) const {
    return IsMember(Ref(key), member);
  }
  bool IsMember(const KeyRef& key, std::string_view member) const;
  bool IsMember(const Located& key, std::string_view member) const;
  size_t Card(std::string_view key) const;
  std::vector<std::string> Keys() const;  // visible keys, sorted

  // ---- writes (callers check types first; these do what they are told) ----
  // SET: replaces whatever the key held (all observed parts, the TTL too unless keep_ttl).
  void Set(std::string_view key, std::string_view value, int64_t timestamp_us, Keyspace* delta,
           bool keep_ttl = false) {
    Set(Ref(key), value, timestamp_us, delta, keep_ttl);
  }
  void Set(const KeyRef& key, std::string_view value, int64_t timestamp_us, Keyspace* delta,
           bool keep_ttl = false) {
    Set(Located{key}, value, timestamp_us, delta, keep_ttl);
  }
  void Set(const Located& key, std::string_view value, int64_t timestamp_us, Keyspace* delta,
           bool keep_ttl = false);
  IncrStatus IncrBy(std::string_view key, int64_t by, int64_t* new_value, Keyspace* delta) {
    return IncrBy(Located{Ref(key)}, by, new_value, delta);
  }
  IncrStatus IncrBy(const Located& key, int64_t by, int64_t* new_value, Keyspace* delta);
  // INCRBYFLOAT: adds `by` to the key's float counter; *new_value gets the visible string.
  // Refuses (changes nothing) a value that is not a number or a result that is not finite.
  FloatStatus IncrByFloat(std::string_view key, long double by, std::string* new_value,
                          Keyspace* delta);
  // HINCRBYFLOAT: the same for one field of the key's hash (its float counter, or_map.h).
  FloatStatus HIncrByFloat(std::string_view key, std::string_view field, long double by,
                           std::string* new_value, Keyspace* delta);
  bool SAdd(std::string_view key, std::string_view member, Keyspace* delta) {  // true if added
    Located at{Ref(key)};
    return SAdd(&at, member, delta);
  }
  bool SAdd(Located* key, std::string_view member, Keyspace* delta);           // sets a null entry
  bool SRem(std::string_view key, std::string_view member, Keyspace* delta) {  // true if removed
    Located at = Locate(key);
    return SRem(&at, member, delta);
  }
  bool SRem(Located* key, std::string_view member, Keyspace* delta);  // entry null if erased
  bool HSet(std::string_view key, std::string_view field, std::string_view value,
            int64_t timestamp_us, Keyspace* delta);  // true if the field is new
  IncrStatus HIncrBy(std::string_view key, std::string_view field, int64_t by, int64_t* new_value,
                     Keyspace* delta);
  bool HDel(std::string_view key, std::string_view field, Keyspace* delta);
  // DEL: removes the observed parts and TTL entries, hidden or not; true if the key existed.
  bool Del(std::string_view key, Keyspace* delta);
  // TTL writes (expiry.h): a deadline (Unix milliseconds), a PERSIST, or removing the
  // observed entries (true if there was one). Callers check that the key exists.
  void Expire(std::string_view key, int64_t deadline_ms, Keyspace* delta);
  void Persist(std::string_view key, Keyspace* delta);
  bool ClearExpiry(std::string_view key, Keyspace* delta);
  // Lazy expiry before a write: if `key` is hidden (HideDue: its TTL is due), deletes it
  // (as Del, or, when nothing of it is visible, by clearing its TTL entries) so that the
  // write starts from an absent key without a TTL, as in Redis. True if it wrote.
  // A key left with nothing but TTL entries (a DEL concurrent with an EXPIRE) keeps them
  // until the deadline, when ExpireDue clears them: a key re-created before the deadline
  // has that TTL; one re-created after it starts afresh.
  bool DropHidden(std::string_view key, Keyspace* delta);
  // The expiry driver. Only the region whose entry won a key's TTL deletes the key when it
  // is due; any region deletes it once the deadline plus `grace_ms` has passed (the winner
  // may be down or cut off). NextExpiry: the earliest wall-clock time (Unix ms) at which
  // ExpireDue would delete something here, nullopt if never. ExpireDue: deletes (as Del,
  // observed-remove) each such key due at now_ms; true if it wrote into *delta.
  // Cost: both visit every key that ever had a TTL entry here (pruned by ExpireDue).
  std::optional<int64_t> NextExpiry(int64_t grace_ms) const;
  bool HasExpiring() const { return !expiring_.empty(); }  // false: no key ever had a TTL
  bool ExpireDue(int64_t now_ms, int64_t grace_ms, Keyspace* delta);
  // Bounded counter (BC.INCRBY, BC.DECRBY, BC.TRANSFER) as this replica; `to` is the
  // receiving replica. The delta gets the key's whole counter (a causal delta).
  BoundedStatus BcIncrBy(std::string_view key, int64_t n, Keyspace* delta);
  BoundedStatus BcDecrBy(std::string_view key, int64_t n, Keyspace* delta);
  BoundedStatus BcTransfer(std::string_view key, int64_t n, ReplicaId to, Keyspace* delta);
  // Sorted sets (zset.h): ZADD, ZINCRBY (REQUIRES as ZsetStore::IncrBy), ZREM.
  bool ZAdd(std::string_view key, std::string_view member, double score, int64_t timestamp_us,
            Keyspace* delta);  // true if the member is new
  double ZIncrBy(std::string_view key, std::string_view member, double by, Keyspace* delta);
  bool ZRem(std::string_view key, std::string_view member, Keyspace* delta);
  // HyperLogLog (hll.h): PFADD (true if the key was created or a register changed) and
  // PFMERGE's write into `key` (true on a change).
  bool PfAdd(std::string_view key, const std::vector<std::string_view>& elements, Keyspace* delta);
  bool PfMergeInto(std::string_view key, const HllStore& src, Keyspace* delta);
  // Lists (list.h): the key's list, or null; inserts value as element `index` (0..size);
  // removes elements [first, last) or the given sorted distinct indexes; LSET of `index`.
  // REQUIRES: indexes within the list. The list returned is valid until the next write,
  // merge or decode of the key (they may free its block), or its erasure.
  const ListStore* List(std::string_view key) const;
  void LInsert(std::string_view key, size_t index, std::string_view value, Keyspace* delta);
  void LEraseRange(std::string_view key, size_t first, size_t last, Keyspace* delta);
  void LEraseIndexes(std::string_view key, const std::vector<size_t>& indexes, Keyspace* delta);
  void LSet(std::string_view key, size_t index, std::string_view value, int64_t timestamp_us,
            Keyspace* delta);
  // Streams (stream.h): the key's stream (null if absent or hidden; the mutable one gives
  // the regional consumer-group state); XADD of an entry, MKSTREAM, XDEL/XTRIM of one
  // entry, XGROUP CREATE/DESTROY and an acknowledgement record (REQUIRES as StreamStore).
  // DEL (Del) and SET (Set) clear a stream as StreamStore::Clear. The stream returned is
  // valid until the next write, merge or decode of the key, or its erasure.
  const StreamStore* Stream(std::string_view key) const;
  StreamStore* MutableStream(std::string_view key);
  void XAdd(std::string_view key, StreamId id, StreamStore::Fields fields, Keyspace* delta);
  void XMakeExist(std::string_view key, Keyspace* delta);
  void XRemove(std::string_view key, const StreamStore::Key& entry, Keyspace* delta);
  void XCreateGroup(std::string_view key, std::string_view group, StreamId start, Keyspace* delta);
  bool XDestroyGroup(std::string_view key, std::string_view group, Keyspace* delta);
  void XWriteFrontier(std::string_view key, std::string_view group,
                      const StreamStore::Positions& acked, Keyspace* delta);

  // ---- replication ----
  void Merge(const Keyspace& other);
  // Canonical (sorted); deltas and states alike. Header byte: bit 0 key-complete (a
  // delta), the other bits say which optional parts the key values carry (KeyValue::Part:
  // bounded counter, expiry, sorted set, HyperLogLog, list, float counter; stream and
  // hash float counters in the second byte), each set iff some key holds that part; bit 6 says a
  // second byte carries parts 8 to 15.
  std::string Encode() const;
  void EncodeTo(std::string* out) const;  // Encode's bytes appended to *out (its room reused)
  static std::optional<Keyspace> Decode(std::string_view bytes, ReplicaId self, std::string* error);
  // The header alone (for code that builds or walks an encoded keyspace): keyspace_header.h.

  // Buffers for MergeEncoded, kept by a caller that merges often (their capacity is reused).
  class MergeScratch {
   private:
    friend class Keyspace;
    std::vector<std::string_view> keys_;
    std::vector<size_t> hashes_;  // KeyMap::Hash of keys_[i]
    std::vector<KeyValue> values_;
    // A one-key effect's counter of several slots, decoded here by DecodeSimple (not into
    // values_[0]); read only when DecodeSimple reports decoded_counter. PnCounter::Decode
    // clears it first, so nothing carries over from one merge to the next.
    PnCounter counter_;
    CausalContext cc_;
  };
  // Merges an encoded keyspace (a delta or a full state, as Encode makes them): the same
  // result, validation and error texts as Merge(*Decode(bytes, self(), error)), but a
  // delta is decoded into `scratch` and joined key by key, with no temporary Keyspace.
  // On malformed input returns false, sets *error (if `error` is not null: a caller that
  // wants only the verdict passes null) and leaves *this unchanged.
  bool MergeEncoded(std::string_view bytes, std::string* error, MergeScratch* scratch = nullptr);

  // Canonical, human-readable value of one key ("(nil)" when absent): strings and bounded
  // counters as is, sets as "{a, b}" sorted, hashes as "{f1: v1, f2: v2}", sorted sets as
  // "{m1: 1, m2: 2.5}" in score order, HyperLogLogs as "hll(PFCOUNT)".
  std::string Dump(std::string_view key) const;
  // Every visible key with its type and value, sorted; equal iff the visible data is equal.
  std::string DumpAll() const;
  size_t MemoryBytes() const;
  // True if every key's KeyValue::held is exact (as the mutators, joins and decodes keep
  // it); for tests.
  bool HeldExact() const;

  // Equality of replicated state (all metadata), not of the replica id.
  friend bool operator==(const Keyspace& a, const Keyspace& b);

 private:
  // Key -> KeyValue, with the subset of std::unordered_map's interface used here. Every
  // entry is a node of its own (a stable address, as in std::unordered_map), found
  // through an open-addressing index of one-word slots with linear probing: the node's
  // address with a 6-bit tag of its key's hash in the bits its cache-line alignment leaves
  // zero (half the bytes of a (hash, node) pair, so twice the slots in each line of a
  // large index read at random). A lookup reads one index slot and the node (another
  // key's node only on a tag collision, 1 in 64 of the other keys it probes past);
  // std::unordered_map read the bucket, the node before it, the hash cached at the end of
  // the (large) node, then the node's key: on keyspaces larger than the cache those misses
  // were a third of the simulator's time. Erase leaves a tombstone, so erasing while
  // iterating is safe. Iteration is in index order: deterministic, and never reaching
  // output (Keys, Encode and DumpAll sort).
  // Memory: the nodes come from the map's NodePool (the heap for a small map, huge-page
  // chunks for a big one) and a large index is in huge pages, so that a big keyspace's
  // random reads do not also miss the TLB. Once the map holds kValueHeapKeys keys, the
  // values' own parts (a set's entries and index) move to the map's ValueHeap (huge
  // pages too) and every value built in the map from then on allocates there. Not yet: a
  // set placed after its node was built (a string key's area turned into a set, or a set a
  // type conflict spills into the block) allocates on the ordinary heap.
  class KeyMap {
   public:
    using value_type = std::pair<const std::string, KeyValue>;

   private:
    // Every node's alignment, one constant for all that rely on it: the pool cuts pieces
    // of it (pool_), an index slot keeps its tag in the address bits it leaves zero
    // (Slot), and PrefetchNode fetches a node's lines from its start.
    static constexpr size_t kNodeAlign = NodePool::kCacheLine;
    // An index slot: 0 empty, 1 a tombstone, else a node's address (a multiple of
    // kNodeAlign) with the tag of its key's hash in the low bits.
    class Slot {
     public:
      static constexpr int kTagBits = 6;
      static constexpr uintptr_t kTagMask = (uintptr_t{1} << kTagBits) - 1;
      static_assert(kTagMask < kNodeAlign);  // the bits a node's alignment frees
      Slot() = default;
      Slot(value_type* node, size_t h) : word_(reinterpret_cast<uintptr_t>(node) | Tag(h)) {}
      static Slot Tombstone() {
        Slot s;
        s.word_ = 1;
        return s;
      }
      // The top kTagBits bits of a hash (the slot's position takes the low ones).
      static uintptr_t Tag(size_t h) {
        return static_cast<uintptr_t>(h >> (std::numeric_limits<size_t>::digits - kTagBits));
      }
      value_type* node() const { return reinterpret_cast<value_type*>(word_ & ~kTagMask); }
      bool empty() const { return word_ == 0; }
      bool tombstone() const { return word_ == 1; }
      // True if the slot holds a node whose key's hash has the tag `tag`.
      bool Holds(uintptr_t tag) const { return word_ > 1 && (word_ & kTagMask) == tag; }
      // The same tag on another node (a copy of the map).
      Slot WithNode(value_type* node) const {
        Slot s;
        s.word_ = reinterpret_cast<uintptr_t>(node) | (word_ & kTagMask);
        return s;
      }

     private:
      uintptr_t word_ = 0;
    };

   public:
    // Keys from which the values' parts live in the map's ValueHeap: a small map or a
    // delta takes no huge page for them (a 2 MiB page holds the parts of ~2,000 set keys).
    static constexpr size_t kValueHeapKeys = 1024;
    template <bool kConst>
    class Iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = KeyMap::value_type;
      using difference_type = std::ptrdiff_t;
      using pointer = std::conditional_t<kConst, const value_type*, value_type*>;
      using reference = std::conditional_t<kConst, const value_type&, value_type&>;

      Iterator() = default;
      template <bool kOtherConst, typename = std::enable_if_t<kConst && !kOtherConst>>
      Iterator(const Iterator<kOtherConst>& o) : slot_(o.slot_), end_(o.end_) {}  // NOLINT
      reference operator*() const { return *slot_->node(); }
      pointer operator->() const { return slot_->node(); }
      Iterator& operator++() {
        ++slot_;
        Skip();
        return *this;
      }
      Iterator operator++(int) {
        Iterator old = *this;
        ++*this;
        return old;
      }
      friend bool operator==(const Iterator& a, const Iterator& b) { return a.slot_ == b.slot_; }

     private:
      friend class KeyMap;
      template <bool>
      friend class Iterator;
      Iterator(Slot* slot, Slot* end) : slot_(slot), end_(end) { Skip(); }
      void Skip() {
        while (slot_ != end_ && slot_->node() == nullptr) ++slot_;
      }
      Slot* slot_ = nullptr;
      Slot* end_ = nullptr;
    };
    using iterator = Iterator<false>;
    using const_iterator = Iterator<true>;

    KeyMap() = default;
    KeyMap(const KeyMap& other);
    KeyMap(KeyMap&& other) noexcept;
    KeyMap& operator=(const KeyMap& other);
    KeyMap& operator=(KeyMap&& other) noexcept;
    ~KeyMap();

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    size_t IndexBytes() const { return capacity_ * sizeof(Slot); }
    // The memory one entry's node takes (a piece of the map's pool).
    size_t NodeBytes() const { return pool_.PieceBytes(); }

    iterator begin() { return iterator(slots_, slots_ + capacity_); }
    iterator end() { return iterator(slots_ + capacity_, slots_ + capacity_); }
    const_iterator begin() const { return const_iterator(slots_, slots_ + capacity_); }
    const_iterator end() const { return const_iterator(slots_ + capacity_, slots_ + capacity_); }

    iterator find(std::string_view key) { return find(key, Hash(key)); }
    const_iterator find(std::string_view key) const {
      return const_iterator(FindSlot(key, Hash(key)), slots_ + capacity_);
    }
    // The same, with h == Hash(key) computed once by the caller.
    iterator find(std::string_view key, size_t h) {
      return iterator(FindSlot(key, h), slots_ + capacity_);
    }
    const_iterator find(std::string_view key, size_t h) const {
      return const_iterator(FindSlot(key, h), slots_ + capacity_);
    }
    // find(key, h), remembering the slot of a found entry for Recent as try_emplace does
    // (Keyspace::Locate: SET k v EX then finds k for its TTL without hashing or a probe).
    iterator FindRemembered(std::string_view key, size_t h) {
      Slot* s = FindSlot(key, h);
      if (s != slots_ + capacity_) recent_ = static_cast<size_t>(s - slots_);
      return iterator(s, slots_ + capacity_);
    }
    // The key's hash: HashOf64 (flat_hash.h), an out-of-line call in a release build; no
    // output depends on it.
    static size_t Hash(std::string_view key) { return HashOf64(key); }
    // Hints for a caller about to look up the key of hash h, to overlap the two dependent
    // cache misses of a lookup with other work: PrefetchSlot fetches the index slot;
    // PrefetchNode (later, once that slot arrived) fetches the node it points to. Neither
    // changes anything.
    void PrefetchSlot(size_t h) const {
      if (capacity_ != 0) __builtin_prefetch(&slots_[h & (capacity_ - 1)]);
    }
    void PrefetchNode(size_t h) const;
    std::pair<iterator, bool> emplace(std::string key, KeyValue value);
    // The entry of key (h == Hash(key)), inserted with an empty value if absent: no
    // temporary KeyValue to build and move.
    std::pair<iterator, bool> try_emplace(std::string_view key, size_t h);
    // try_emplace's entry alone, for a caller that needs no iterator (a merge's join of a
    // key: no pair built and returned through memory, no iterator's skip over free slots).
    value_type& Emplace(std::string_view key, size_t h);
    // Emplace of a key known to be absent (REQUIRES: it is): inserted without a probe for it.
    value_type& EmplaceAbsent(std::string_view key, size_t h);
    iterator erase(iterator it);  // returns the next entry
    void clear();                 // keeps a small index's allocation for the next entries
    // The entry in the slot that try_emplace, Emplace or FindRemembered last found or
    // filled, if its key is key (else null): a run
    // of commands on one key (a ZADD batch) skips the hashing and the probe. It remembers
    // a slot number, not an entry, and reads the slot: whatever removed or moved entries
    // since (erase, a rehash, freeing the map), a live entry holding key is key's entry.
    value_type* Recent(std::string_view key) const {
      if (recent_ >= capacity_) return nullptr;
      value_type* node = slots_[recent_].node();
      return node != nullptr && node->first == key ? node : nullptr;
    }
    // The entry of a map holding one (REQUIRES: size() == 1): the slot try_emplace, Emplace
    // or FindRemembered used last if it holds a node (then it is that entry), else found by
    // a walk of the index.
    const value_type& Only() const { return *OnlySlot()->node(); }
    // clear(), but a lone entry's node is kept (its value emptied) for the next entry
    // inserted: a delta emptied and filled again per command does not free and allocate
    // its one key's node (and its block of rare parts, if it had one) each time.
    void ClearKeepingNode();

   private:
    Slot* FindSlot(std::string_view key, size_t h) const;  // slots_ + capacity_ if absent
    Slot* OnlySlot() const {                               // Only's slot
      if (recent_ < capacity_ && slots_[recent_].node() != nullptr) return &slots_[recent_];
      return begin().slot_;
    }
    // A free slot for a new entry (growing the index if needed), counted in size_: the
    // caller puts the entry's node and hash h in it, or, if building the node throws,
    // gives the slot back with ReturnSlot.
    Slot* TakeSlot(size_t h);
    // TakeSlot, then the node build() returns and h in the slot; if build throws, the slot
    // is given back (ReturnSlot) and the exception goes on. Defined in keyspace.cc, its
    // only user.
    template <typename Build>
    Slot* InsertNode(size_t h, Build build);
    // Undoes TakeSlot's counts for s, which still holds what it held (empty or a
    // tombstone): the map is as before but for a rehash TakeSlot may have done.
    void ReturnSlot(const Slot* s) {
      --size_;
      if (s->tombstone()) ++tombstones_;
    }
    // Moves every entry to a new index of `capacity` slots (a growth, or the same size to
    // clear tombstones after a run of erases and inserts). A slot keeps 6 bits of the
    // hash, so each key is hashed again: every node is read, and a long key's heap bytes.
    // Fetched a few slots ahead, a rehash of 786,432 keys costs ~21 ns per key (short
    // keys; ~33 for 47-byte ones), ~34 (~100) without the fetches and ~7 when a slot held
    // the whole hash. A delete/insert churn of 100,000 keys pays one every ~96,000
    // inserts: 9-14% of its time (perf) without the fetches, ~5% with them.
    void Rehash(size_t capacity);
    void FreeAll();
    // A zeroed index of capacity slots (huge pages when large) / its release.
    static Slot* NewSlots(size_t capacity);
    static void DeleteSlots(Slot* slots, size_t capacity);
    // A node for a new entry of key: spare_ re-keyed, or a new one.
    value_type* NewNode(std::string_view key);
    // A node from pool_ built from args / destroyed and given back to pool_.
    template <typename... Args>
    value_type* MakeNode(Args&&... args);
    void DropNode(value_type* node);
    // Moves v's out-of-line parts into heap_ (REQUIRES: heap_ not null).
    void UseValueHeap(KeyValue* v);

    Slot* slots_ = nullptr;
    size_t capacity_ = 0;  // 0 or a power of 2
    size_t size_ = 0;
    size_t tombstones_ = 0;
    size_t recent_ = 0;            // see Recent: a slot number, maybe out of range or stale
    value_type* spare_ = nullptr;  // ClearKeepingNode's node (in no slot), value empty
    // Every node's memory (huge pages once many), each node on whole cache lines: a
    // lookup or a merge reads the node at random, and a node of 192 bytes read from a
    // 64-byte boundary is 3 lines (KeyspaceTest.EveryKeyNodeStartsOnACacheLine); and an
    // index slot keeps its tag in the address bits that alignment leaves zero.
    NodePool pool_{sizeof(value_type), kNodeAlign};
    // The values' parts' memory, from kValueHeapKeys keys on (null before): owned, given
    // up (ValueHeap::Release) when the map is freed.
    ValueHeap* heap_ = nullptr;
  };
  using Map = KeyMap;

  // True if key.entry is null or the entry this keyspace holds for key.key (assert only).
  bool LocatedIsCurrent(const Located& key) const;
  // SET's and DEL's clearing of v's parts (d: the delta's value, dcc: its context, null
  // without a delta): each part that `held` (v's and d's bits) names, the sorted set, the
  // HyperLogLog and the stream as v holds them; the TTL unless keep_ttl, the string unless
  // keep_str (a SET assigns it after). The caller refreshes the bits.
  void ClearParts(KeyValue& v, KeyValue* d, CausalContext* dcc, uint16_t held, bool keep_ttl,
                  bool keep_str);
  // True if ClearParts with keep_str may find something to clear in v (`held`: v's and its
  // delta's bits): a part beside the string, the block of rare parts, or a sorted set.
  static bool HasPartsBesideStr(const KeyValue& v, uint16_t held);
  KeyValue& Slot(std::string_view key);
  static KeyValue& DeltaSlot(Keyspace* delta, std::string_view key);
  // True if a write of this keyspace may write its effect straight to delta's `out`
  // (ResetDelta): delta has one and holds nothing yet.
  static bool WritesOut(const Keyspace* delta) {
    return delta != nullptr && delta->direct_ != nullptr && delta->keys_.empty() &&
           delta->cc_.empty() && !delta->written_out_;
  }
  // The effect of a one-key write, appended to delta->direct_ (EncodeTo's bytes for the
  // delta that holds key's value with the parts value_parts writes, and the context of the
  // dots cc holds): the delta then holds it written out. value_parts(Encoder*) writes the
  // string, set and hash parts, as KeyValue::Encode does with no optional part.
  template <typename ValueParts>
  static void WriteOut(Keyspace* delta, std::string_view key, const WriteDots& cc,
                       ValueParts value_parts);
  // A delta holding a write written out takes it back: decoded from its bytes (then cut
  // from *direct_) into the delta's keys and context.
  void TakeBackWrittenOut();
  // Cuts the write written out from *direct_ (back to its size before the write): a
  // take-back, or a ResetDelta of a write not taken.
  void CutWrittenOut();
  // After a write that may have emptied key (its `held` exact): the key erased if it holds
  // nothing (unless the keyspace lists every key), else its block of rare parts freed if
  // they are all empty now, as a merge of the same write frees it at a receiver.
  void DropIfEmpty(std::string_view key) { DropIfEmpty(Ref(key)); }
  void DropIfEmpty(const KeyRef& key);
  // A located key's value, inserted empty if the keyspace holds none (without a probe if
  // Locate found it absent): the writes' first step.
  KeyValue& EntryOf(const Located& key) {
    if (key.entry != nullptr) return *key.entry;
    return (key.absent ? keys_.EmplaceAbsent(key.key, key.hash) : keys_.Emplace(key.key, key.hash))
        .second;
  }
  template <typename Op>  // BoundedStatus(BoundedCounter&, BoundedCounter* delta)
  BoundedStatus BcUpdate(std::string_view key, Keyspace* delta, Op op);

  // True if `v` is due and hidden from reads (HideDue). Inline: most keys have no TTL.
  bool Hidden(const KeyValue& v) const {
    return hide_due_ms_ != kShowAll && (v.held & KeyValue::kHeldExpiry) != 0 && DueNow(v);
  }
  // True if v's TTL is due at hide_due_ms_. REQUIRES: v holds a TTL.
  bool DueNow(const KeyValue& v) const;
  // v if it is not null nor hidden (the reads' rule: Find, and the Located overloads).
  const KeyValue* Shown(const KeyValue* v) const {
    return v != nullptr && !Hidden(*v) ? v : nullptr;
  }
  // The time (Unix ms) at which this replica deletes `v` (see NextExpiry), if ever.
  std::optional<int64_t> DeleteTime(const KeyValue& v, int64_t grace_ms) const;

  static constexpr int64_t kShowAll = INT64_MIN;

  ReplicaId self_ = 0;
  Map keys_;
  CausalContext cc_;
  bool key_complete_ = false;
  // A delta's: where a one-key write may write its effect (ResetDelta's `out`), or null;
  // whether it holds a write written there, from byte direct_from_ on.
  std::string* direct_ = nullptr;
  size_t direct_from_ = 0;
  bool written_out_ = false;
  int64_t hide_due_ms_ = kShowAll;
  // Every key that got a TTL entry here (a superset: ExpireDue prunes it), for the driver.
  std::set<std::string, std::less<>> expiring_;
};

}  // namespace crdt
