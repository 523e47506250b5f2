// SmallVec<T, N>: a vector of trivially copyable T that keeps up to N elements inline, so
// the tiny vectors CRDT deltas are made of (one dot, one counter slot) never allocate.
// Value type; not thread-safe. Iteration order is insertion order (callers keep it sorted).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace crdt {

template <typename T, size_t N>
class SmallVec {
  static_assert(std::is_trivially_copyable_v<T>, "SmallVec holds trivially copyable types");
  static_assert(N > 0);

 public:
  SmallVec() = default;
  SmallVec(const SmallVec& o) { Assign(o.data(), o.size_); }
  SmallVec(SmallVec&& o) noexcept { Steal(o); }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) Assign(o.data(), o.size_);
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) {
      FreeHeap();
      Steal(o);
    }
    return *this;
  }
  ~SmallVec() { FreeHeap(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return heap_ ? cap_ : N; }
  T* data() { return heap_ ? heap_ : reinterpret_cast<T*>(inline_); }
  const T* data() const { return heap_ ? heap_ : reinterpret_cast<const T*>(inline_); }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }

  void clear() { size_ = 0; }
  void push_back(const T& v) {
    if (size_ == capacity()) Grow(size_ + 1);
    data()[size_++] = v;
  }
  // Inserts v before position i (0 <= i <= size()).
  void insert(size_t i, const T& v) {
    if (size_ == capacity()) Grow(size_ + 1);
    T* d = data();
    std::memmove(static_cast<void*>(d + i + 1), d + i, (size_ - i) * sizeof(T));
    d[i] = v;
    ++size_;
  }
  void erase(size_t i) {
    T* d = data();
    std::memmove(static_cast<void*>(d + i), d + i + 1, (size_ - i - 1) * sizeof(T));
    --size_;
  }
  void resize(size_t n) {
    if (n > capacity()) Grow(n);
    size_ = n;
  }
  // Bytes held on the heap (0 while inline).
  size_t HeapBytes() const { return heap_ ? cap_ * sizeof(T) : 0; }

  friend bool operator==(const SmallVec& a, const SmallVec& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  void Grow(size_t need) {
    size_t cap = std::max<size_t>(need, capacity() * 2);
    T* p = static_cast<T*>(std::malloc(cap * sizeof(T)));
    if (p == nullptr) throw std::bad_alloc();
    if (size_) std::memcpy(static_cast<void*>(p), data(), size_ * sizeof(T));
    FreeHeap();
    heap_ = p;
    cap_ = cap;
  }
  void Assign(const T* src, size_t n) {
    if (n > capacity()) {
      FreeHeap();
      size_ = 0;
      Grow(n);
    }
    if (n) std::memmove(static_cast<void*>(data()), src, n * sizeof(T));
    size_ = n;
  }
  void Steal(SmallVec& o) {
    size_ = o.size_;
    if (o.heap_) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      o.heap_ = nullptr;
    } else {
      heap_ = nullptr;
      // A fixed-size copy of small inline storage compiles to a few register moves; a
      // size_-long one is a call to memmove.
      if constexpr (sizeof(inline_) <= 128) {
        std::memcpy(inline_, o.inline_, sizeof(inline_));
      } else if (size_) {
        std::memcpy(inline_, o.inline_, size_ * sizeof(T));
      }
    }
    o.size_ = 0;
  }
  void FreeHeap() {
    if (heap_ != nullptr) std::free(heap_);
    heap_ = nullptr;
  }

  T* heap_ = nullptr;
  size_t cap_ = 0;
  size_t size_ = 0;
  alignas(T) unsigned char inline_[N * sizeof(T)];
};

}  // namespace crdt
