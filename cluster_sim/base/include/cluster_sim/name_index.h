// NameIndex: finds a name among a fixed set of lower-case names, ignoring ASCII case (as
// Redis looks up commands), in time linear in the name's length: an open-addressing hash
// table built once. The command tables look every command up in one (a binary search of a
// few hundred names costs about ten string comparisons a lookup). Thread-safe to read: the
// one thing a lookup changes is which name the next lookup tries first.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cluster_sim/strings.h"

namespace cluster_sim {

class NameIndex {
 public:
  // REQUIRES: `names` are lower-case and outlive the index. Of equal names, Find gives the
  // first.
  explicit NameIndex(const std::vector<std::string_view>& names) : names_(names) {
    size_t size = 8;
    while (size < names.size() * 4) size *= 2;
    slots_.assign(size, -1);
    for (size_t i = 0; i < names.size(); ++i) {
      size_t s = Hash(names[i]) & (size - 1);
      while (slots_[s] >= 0) s = (s + 1) & (size - 1);
      slots_[s] = static_cast<int32_t>(i);
    }
  }

  // The position of `name` (any case) among the names, or -1.
  int Find(std::string_view name) const {
    // A pipeline repeats its command, and each layer a request passes looks its name up
    // again: the name found last (by any thread; the comparison decides) is tried first.
    const int32_t last = last_.load(std::memory_order_relaxed);
    if (last >= 0 && Matches(names_[static_cast<size_t>(last)], name)) return last;
    const size_t mask = slots_.size() - 1;
    for (size_t s = Hash(name) & mask;; s = (s + 1) & mask) {
      int32_t i = slots_[s];
      if (i < 0) return -1;
      if (Matches(names_[static_cast<size_t>(i)], name)) {
        last_.store(i, std::memory_order_relaxed);
        return i;
      }
    }
  }

 private:
  // IEquals for a `lower` known to be lower-case: half the lowering.
  static bool Matches(std::string_view lower, std::string_view name) {
    if (lower.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      if (lower[i] != AsciiLower(name[i])) return false;
    }
    return true;
  }
  // FNV-1a over the lowered bytes.
  static size_t Hash(std::string_view name) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (char c : name) h = (h ^ static_cast<uint8_t>(AsciiLower(c))) * 0x100000001B3ull;
    return static_cast<size_t>(h ^ (h >> 32));
  }

  std::vector<std::string_view> names_;
  std::vector<int32_t> slots_;             // index into names_, -1: empty
  mutable std::atomic<int32_t> last_{-1};  // the name Find returned last, -1: none yet
};

}  // namespace cluster_sim
