// NameIndex: finds a name among a fixed set of lower-case names, ignoring ASCII case (as
// Redis looks up commands): an open-addressing hash table built once, keyed by the name's
// length and two words that hold its bytes lowered. A name of up to 16 bytes (every Redis
// command but a few) is found or refused with a few loads and word operations, whatever
// the order of the lookups (a workload that alternates commands); a longer one also has its
// bytes compared. The command tables look every command up in one. Thread-safe to read:
// a lookup changes nothing.
#pragma once

#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "cluster_sim/strings.h"

namespace cluster_sim {

class NameIndex {
 public:
  // REQUIRES: `names` are lower-case (checked in debug builds: an upper-case byte would be
  // found in a name of up to 16 bytes, by its key, and not in a longer one, by Matches) and
  // outlive the index. Of equal names, Find gives the first.
  explicit NameIndex(const std::vector<std::string_view>& names) : names_(names) {
#ifndef NDEBUG
    for (std::string_view name : names) {
      for (char c : name) assert(c == AsciiLower(c));
    }
#endif
    size_t size = 8;
    int bits = 3;
    while (size < names.size() * 2) {  // at most half full: short probes
      size *= 2;
      ++bits;
    }
    shift_ = 64 - bits;
    slots_.assign(size, Slot{});
    for (size_t i = 0; i < names.size(); ++i) {
      const Key k = KeyOf(names[i]);
      size_t s = SlotOf(k);
      while (slots_[s].index >= 0) s = (s + 1) & (size - 1);
      slots_[s] = Slot{k, static_cast<int32_t>(i)};
    }
  }

  // The position of `name` (any case) among the names, or -1.
  int Find(std::string_view name) const {
    const Key k = KeyOf(name);
    const size_t mask = slots_.size() - 1;
    for (size_t s = SlotOf(k);; s = (s + 1) & mask) {
      const Slot& slot = slots_[s];
      if (slot.index < 0) return -1;
      if (slot.key == k &&
          (name.size() <= 16 || Matches(names_[static_cast<size_t>(slot.index)], name))) {
        return slot.index;
      }
    }
  }

 private:
  // A name's length and its bytes lowered, packed into two words by overlapping loads: for
  // up to 16 bytes every byte lands in a word (8 to 16: the first and the last eight; 4 to
  // 7: the first and the last four; 1 to 3: the first, middle and last), so equal keys are
  // equal names; a longer name keeps its first and last eight bytes.
  struct Key {
    uint64_t lo = 0;
    uint64_t hi = 0;
    uint64_t size = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct Slot {
    Key key;
    int32_t index = -1;  // into names_, -1: empty
  };

  static uint64_t Load8(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static uint64_t Load4(const char* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  }
  // AsciiLower on each of a word's bytes: 0x20 added to those from 'A' to 'Z' (bit 7 of
  // each byte's sum says >= 'A' and > 'Z'; no sum carries into the next byte).
  static uint64_t Lower8(uint64_t w) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    const uint64_t low7 = w & (0x7F * kOnes);
    const uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;
    const uint64_t above_z = low7 + (0x80 - 'Z' - 1) * kOnes;
    const uint64_t upper = at_least_a & ~above_z & ~w & (0x80 * kOnes);
    return w | (upper >> 2);
  }
  static Key KeyOf(std::string_view name) {
    const char* p = name.data();
    const size_t n = name.size();
    Key k;
    k.size = n;
    if (n >= 8) {
      k.lo = Lower8(Load8(p));
      k.hi = Lower8(Load8(p + n - 8));
    } else if (n >= 4) {
      k.lo = Lower8(Load4(p) | (Load4(p + n - 4) << 32));
    } else if (n > 0) {
      k.lo = Lower8(uint64_t{static_cast<uint8_t>(p[0])} |
                    (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
                    (uint64_t{static_cast<uint8_t>(p[n - 1])} << 16));
    }
    return k;
  }
  // The top bits of a multiplicative hash of the key.
  size_t SlotOf(const Key& k) const {
    const uint64_t h = (k.lo ^ std::rotl(k.hi, 29) ^ k.size) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> shift_);
  }
  // IEquals for a `lower` known to be lower-case: half the lowering.
  static bool Matches(std::string_view lower, std::string_view name) {
    if (lower.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      if (lower[i] != AsciiLower(name[i])) return false;
    }
    return true;
  }

  std::vector<std::string_view> names_;
  std::vector<Slot> slots_;
  int shift_ = 61;  // 64 - log2(slots_.size())
};

}  // namespace cluster_sim
