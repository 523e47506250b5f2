// Hashing and an open-addressing index for the flat member tables of SetStore and
// ZsetStore: the elements live in an array of entries kept by the owner, and FlatIndex
// maps a 32-bit hash to entry numbers. Keyspace's key map (keyspace.h) hashes its keys
// with HashOf64 too, and SameBytes compares them.
//
//   FlatIndex slot (8 bytes): [ 32-bit hash | entry + 1 ]   (0: empty)
//
// Linear probing at a load of at most 0.8, backward-shift deletion (no tombstones); the
// hash kept in each slot lets the index grow and delete without reading an entry or
// hashing an element again. Iteration order never depends on a hash. A slot array of 2 MiB
// or more is in huge pages (crdt/page_arena.h): at a million entries every probe is a
// random access into 16 MiB.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "crdt/page_arena.h"

namespace crdt {

namespace flat_hash_detail {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The 128-bit product of x and y: *lo its low 64 bits, *hi its high 64 bits.
inline void Mul128(uint64_t x, uint64_t y, uint64_t* lo, uint64_t* hi) {
  __extension__ typedef unsigned __int128 Uint128;
  const Uint128 r = static_cast<Uint128>(x) * y;
  *lo = static_cast<uint64_t>(r);
  *hi = static_cast<uint64_t>(r >> 64);
}
// That product's two halves xor-ed (wyhash's and rapidhash's mum).
inline uint64_t Mum(uint64_t x, uint64_t y) {
  uint64_t lo, hi;
  Mul128(x, y, &lo, &hi);
  return lo ^ hi;
}
inline constexpr uint64_t kMumK0 = 0xE7037ED1A0B428DBull;  // wyhash's secrets
inline constexpr uint64_t kMumK1 = 0xA0761D6478BD642Full;

}  // namespace flat_hash_detail

// 64-bit hash of a string, branch-light for short strings (reads at most two overlapping
// words below 17 bytes): the elements of sets and sorted sets (HashOf), and the keys of a
// keyspace (Keyspace's key map). Defined here, but GCC's release build calls it out of
// line (so HashOf, which inlines, is a call too). The words are combined by Mum, a 64x64->128-bit
// product folded, which is not linear in either word: a combine by xor of per-word
// products let pairs of bit flips cancel (a word's top bit changes only that bit of its
// product). Its limit: Mum(x, y) is 0 for x == 0 whatever y is, so a word equal to kMumK1
// makes the hash forget what came before it (in the last step, every 8-16-byte string
// starting with those 8 bytes, and every longer one whose last 16 bytes do, hashes to one
// constant), and a second word equal to the running seed does the same in the loop. Such
// keys and members can be sent by any client of `aasim serve` or `aasim node`: they cost
// probes (linear in the colliding entries), never a wrong answer (equality is checked).
// The seed is fixed, as std::hash's was. Only indexes use it: no iteration order depends
// on it.
// Deterministic across platforms of the same endianness.
inline uint64_t HashOf64(std::string_view s) {
  using flat_hash_detail::Load64;
  using flat_hash_detail::Mum;
  constexpr uint64_t kMumK1 = flat_hash_detail::kMumK1;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t a = 0, b = 0;
  uint64_t seed = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  if (n <= 16) {
    if (n >= 8) {
      a = Load64(p);
      b = Load64(p + n - 8);
    } else if (n >= 4) {
      a = flat_hash_detail::Load32(p);
      b = flat_hash_detail::Load32(p + n - 4);
    } else if (n > 0) {
      a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) |
          (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) | static_cast<uint8_t>(p[n - 1]);
    }
  } else {
    while (n > 16) {
      seed = Mum(Load64(p) ^ kMumK1, Load64(p + 8) ^ seed);
      p += 16;
      n -= 16;
    }
    a = Load64(p + n - 16);  // the last 16 bytes, which the loop's last 16 may overlap
    b = Load64(p + n - 8);
  }
  // A second product of the first's halves: Mum(a ^ kMumK1, b ^ seed) alone left the
  // low bits (the index's slot) of keys such as "counter:N" measurably uneven.
  uint64_t lo, hi;
  flat_hash_detail::Mul128(a ^ kMumK1, b ^ seed, &lo, &hi);
  return Mum(lo ^ flat_hash_detail::kMumK0, hi ^ kMumK1);
}

// 32-bit hash of an element (the index slots of the flat tables hold 32 bits): HashOf64's
// two halves folded.
inline uint32_t HashOf(std::string_view s) {
  const uint64_t h = HashOf64(s);
  return static_cast<uint32_t>(h >> 32) ^ static_cast<uint32_t>(h);
}

// a == b, inline for the short strings sets hold (string_view's == calls memcmp).
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8 && n <= 16) {
    return ((flat_hash_detail::Load64(p) ^ flat_hash_detail::Load64(q)) |
            (flat_hash_detail::Load64(p + n - 8) ^ flat_hash_detail::Load64(q + n - 8))) == 0;
  }
  if (n >= 4 && n < 8) {
    return ((flat_hash_detail::Load32(p) ^ flat_hash_detail::Load32(q)) |
            (flat_hash_detail::Load32(p + n - 4) ^ flat_hash_detail::Load32(q + n - 4))) == 0;
  }
  // n == 0 first: a default string_view's data() is null, and memcmp must not be given it.
  return n == 0 || std::memcmp(p, q, n) == 0;
}

class FlatIndex {
 public:
  FlatIndex() = default;
  FlatIndex(const FlatIndex&) = delete;
  FlatIndex& operator=(const FlatIndex&) = delete;
  ~FlatIndex() { FreeSlots(slots_, Capacity()); }

  size_t size() const { return size_; }
  // Bytes of the slot array.
  size_t MemoryBytes() const { return slots_ ? (mask_ + 1) * sizeof(uint64_t) : 0; }

  // The entry e with hash h for which same(e) is true, or -1.
  template <typename Same>
  int64_t Find(uint32_t h, Same&& same) const {
    size_t unused;  // inlined: the slot is never stored
    return FindOrSlot(h, std::forward<Same>(same), &unused);
  }
  // Find, and when absent the slot where Find stopped, for an InsertAt of the same hash
  // that follows with no change of the index in between (a find-or-insert probes once).
  template <typename Same>
  [[gnu::always_inline]] int64_t FindOrSlot(uint32_t h, Same&& same, size_t* empty_slot) const {
    *empty_slot = kNoSlot;
    if (slots_ == nullptr) return -1;
    for (size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
      const uint64_t slot = slots_[pos];
      if (slot == 0) {
        *empty_slot = pos;
        return -1;
      }
      if ((slot >> 32) == h && same(static_cast<size_t>((slot & kEntryMask) - 1))) {
        return static_cast<int64_t>((slot & kEntryMask) - 1);
      }
    }
  }
  // Insert(h, entry) into empty_slot, FindOrSlot's for h, unless the index must grow first.
  // REQUIRES: as Insert; the index unchanged since that FindOrSlot, which found nothing.
  void InsertAt(size_t empty_slot, uint32_t h, size_t entry) {
    if (empty_slot == kNoSlot || (size_ + 1) * 5 > Capacity() * 4) return Insert(h, entry);
    slots_[empty_slot] = uint64_t{h} << 32 | (entry + 1);
    ++size_;
  }
  static constexpr size_t kNoSlot = ~size_t{0};

  // Starts loading the slot where a search for h begins.
  void Prefetch(uint32_t h) const {
    if (slots_ != nullptr) __builtin_prefetch(&slots_[h & mask_]);
  }
  // REQUIRES: entry < 2^32 - 1 and not indexed.
  void Insert(uint32_t h, size_t entry) {
    if ((size_ + 1) * 5 > Capacity() * 4) Rehash(Capacity() < 16 ? 16 : 2 * Capacity());
    Put(uint64_t{h} << 32 | (entry + 1));
    ++size_;
  }
  // REQUIRES: entry is indexed with hash h.
  void Erase(uint32_t h, size_t entry) {
    size_t pos = h & mask_;
    while ((slots_[pos] & kEntryMask) != entry + 1) pos = (pos + 1) & mask_;
    // Backward shift: move each following slot whose home is not in (hole, next]
    // cyclically into the hole.
    size_t hole = pos;
    for (size_t next = (hole + 1) & mask_; slots_[next] != 0; next = (next + 1) & mask_) {
      const size_t home = (slots_[next] >> 32) & mask_;
      const bool in_range =
          hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
      if (!in_range) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = 0;
    --size_;
  }
  void Clear() {
    FreeSlots(slots_, Capacity());
    slots_ = nullptr;
    mask_ = 0;
    size_ = 0;
  }

 private:
  static constexpr uint64_t kEntryMask = 0xFFFFFFFF;

  size_t Capacity() const { return slots_ ? mask_ + 1 : 0; }
  static bool Huge(size_t capacity) { return capacity * sizeof(uint64_t) >= kHugePageBytes; }
  // capacity zeroed slots. Throws std::bad_alloc.
  static uint64_t* NewSlots(size_t capacity) {
    if (Huge(capacity)) return static_cast<uint64_t*>(AllocHugePages(capacity * sizeof(uint64_t)));
    void* p = std::calloc(capacity, sizeof(uint64_t));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<uint64_t*>(p);
  }
  static void FreeSlots(uint64_t* slots, size_t capacity) {
    if (slots == nullptr) return;
    if (Huge(capacity)) {
      FreeHugePages(slots, capacity * sizeof(uint64_t));
    } else {
      std::free(slots);
    }
  }
  void Put(uint64_t slot) {
    size_t pos = (slot >> 32) & mask_;
    while (slots_[pos] != 0) pos = (pos + 1) & mask_;
    slots_[pos] = slot;
  }
  void Rehash(size_t capacity) {
    uint64_t* old = slots_;
    const size_t old_capacity = Capacity();
    slots_ = NewSlots(capacity);  // on a throw, nothing changed
    mask_ = capacity - 1;
    for (size_t pos = 0; pos < old_capacity; ++pos) {
      if (old[pos] != 0) Put(old[pos]);
    }
    FreeSlots(old, old_capacity);
  }

  uint64_t* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace crdt
