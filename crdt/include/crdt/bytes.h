// Bytes: a 16-byte owning byte string for set elements. Up to 15 bytes live inline; longer
// strings live in one heap block of exactly their size. Trivially relocatable (a plain
// memcpy moves it), which the set's hash table relies on. Not copyable by accident: use
// Clone(). Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace crdt {

class Bytes {
 public:
  Bytes() { raw_[kTag] = 0; }
  explicit Bytes(std::string_view s) { Init(s); }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  Bytes(Bytes&& o) noexcept {
    std::memcpy(raw_, o.raw_, sizeof(raw_));
    o.raw_[kTag] = 0;
  }
  Bytes& operator=(Bytes&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(raw_, o.raw_, sizeof(raw_));
      o.raw_[kTag] = 0;
    }
    return *this;
  }
  ~Bytes() { Free(); }

  Bytes Clone() const { return Bytes(view()); }
  std::string_view view() const {
    if (raw_[kTag] != kHeap)
      return std::string_view(reinterpret_cast<const char*>(raw_), raw_[kTag]);
    char* p;
    uint32_t n = 0;
    std::memcpy(&p, raw_, sizeof(p));
    std::memcpy(&n, raw_ + 8, sizeof(n));
    return std::string_view(p, n);
  }
  size_t size() const { return view().size(); }
  size_t HeapBytes() const { return raw_[kTag] == kHeap ? size() : 0; }

  // Releases ownership without freeing (the caller has memcpy'd *this elsewhere).
  void Forget() { raw_[kTag] = 0; }

 private:
  static constexpr int kTag = 15;
  static constexpr uint8_t kHeap = 0x80;

  void Init(std::string_view s) {
    if (s.size() <= 15) {
      // Two overlapping fixed-size copies instead of a memcpy call of variable length.
      const size_t n = s.size();
      const char* p = s.data();
      if (n >= 8) {
        std::memcpy(raw_, p, 8);
        std::memcpy(raw_ + n - 8, p + n - 8, 8);
      } else if (n >= 4) {
        std::memcpy(raw_, p, 4);
        std::memcpy(raw_ + n - 4, p + n - 4, 4);
      } else {
        for (size_t i = 0; i < n; ++i) raw_[i] = static_cast<uint8_t>(p[i]);
      }
      raw_[kTag] = static_cast<uint8_t>(n);
      return;
    }
    if (s.size() > UINT32_MAX) throw std::bad_alloc();
    char* p = static_cast<char*>(std::malloc(s.size()));
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(p, s.data(), s.size());
    uint32_t n = static_cast<uint32_t>(s.size());
    std::memcpy(raw_, &p, sizeof(p));
    std::memcpy(raw_ + 8, &n, sizeof(n));
    raw_[kTag] = kHeap;
  }
  void Free() {
    if (raw_[kTag] == kHeap) {
      char* p;
      std::memcpy(&p, raw_, sizeof(p));
      std::free(p);
      raw_[kTag] = 0;
    }
  }

  alignas(8) uint8_t raw_[16];
};

static_assert(sizeof(Bytes) == 16);

}  // namespace crdt
