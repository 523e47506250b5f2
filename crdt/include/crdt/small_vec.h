// SmallVec<T, N>: a vector that keeps up to N elements inline, so the tiny vectors CRDT
// deltas are made of (one dot, one counter slot, one register write) never allocate.
// Trivially copyable T moves as bytes (memcpy/memmove); any other T (a register write
// holds a std::string) is move-constructed and destroyed element by element.
// REQUIRES: T's move constructor and move assignment do not throw.
// Layout: the inline elements share their bytes with the heap block's pointer (a union), and
// cap_ says which is in use (0: inline), so the vector is N * sizeof(T) (at least 8) plus 8
// bytes: sizeof(SmallVec<Dot, 4>) is 72, not 80.
// Value type; not thread-safe. Iteration order is insertion order (callers keep it sorted).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace crdt {

template <typename T, size_t N>
class SmallVec {
  static_assert(N > 0);
  static_assert(std::is_nothrow_move_constructible_v<T>);
  static constexpr bool kTrivial = std::is_trivially_copyable_v<T>;

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
      clear();
      FreeHeap();
      Steal(o);
    }
    return *this;
  }
  ~SmallVec() {
    clear();
    FreeHeap();
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_ != 0 ? cap_ : N; }
  T* data() { return cap_ != 0 ? heap_ : reinterpret_cast<T*>(inline_); }
  const T* data() const { return cap_ != 0 ? heap_ : reinterpret_cast<const T*>(inline_); }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }

  void clear() {
    if constexpr (!kTrivial) std::destroy_n(data(), size_);
    size_ = 0;
  }
  void push_back(const T& v) {
    if (size_ == capacity()) {
      T copy(v);  // v may be an element of *this
      Grow(size_ + 1);
      new (data() + size_) T(std::move(copy));
    } else {
      new (data() + size_) T(v);
    }
    ++size_;
  }
  void push_back(T&& v) {
    if (size_ == capacity()) {
      T moved(std::move(v));
      Grow(size_ + 1);
      new (data() + size_) T(std::move(moved));
    } else {
      new (data() + size_) T(std::move(v));
    }
    ++size_;
  }
  // Inserts v before position i (0 <= i <= size()).
  void insert(size_t i, const T& v) {
    if constexpr (kTrivial) {
      const T copy = v;  // v may be one of ours, which Grow frees or overwrites
      if (size_ == capacity()) Grow(size_ + 1);
      T* d = data();
      std::memmove(static_cast<void*>(d + i + 1), d + i, (size_ - i) * sizeof(T));
      d[i] = copy;
      ++size_;
    } else {
      push_back(v);
      std::rotate(begin() + i, end() - 1, end());
    }
  }
  void erase(size_t i) {
    T* d = data();
    if constexpr (kTrivial) {
      std::memmove(static_cast<void*>(d + i), d + i + 1, (size_ - i - 1) * sizeof(T));
    } else {
      std::move(d + i + 1, d + size_, d + i);
      d[size_ - 1].~T();
    }
    --size_;
  }
  // REQUIRES (non-trivial T): n <= size().
  void resize(size_t n) {
    if constexpr (kTrivial) {
      if (n > capacity()) Grow(n);
    } else {
      std::destroy(data() + n, data() + size_);
    }
    size_ = static_cast<uint32_t>(n);
  }
  // Moves the elements back inline and frees the heap block when they fit (size() <= N);
  // otherwise changes nothing. A vector that once grew keeps its block through clear() and
  // resize(), so every later access reads the block's lines too: callers whose vectors
  // usually shrink back to N (a register's concurrent writes) call this when they do.
  void shrink_to_fit() noexcept {
    if (cap_ == 0 || size_ > N) return;
    T* p = heap_;
    Relocate(reinterpret_cast<T*>(inline_), p, size_);
    std::free(p);
    cap_ = 0;
  }
  // Bytes held on the heap (0 while inline).
  size_t HeapBytes() const { return size_t{cap_} * sizeof(T); }

  friend bool operator==(const SmallVec& a, const SmallVec& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  // Moves the elements to a new heap block of at least `need` (size_ unchanged).
  void Grow(size_t need) {
    const size_t cap = std::max<size_t>(need, capacity() * 2);
    if (cap > UINT32_MAX) throw std::bad_alloc();
    T* p = static_cast<T*>(std::malloc(cap * sizeof(T)));
    if (p == nullptr) throw std::bad_alloc();
    Relocate(p, data(), size_);
    FreeHeap();
    heap_ = p;
    cap_ = static_cast<uint32_t>(cap);
  }
  // Moves n elements from src to uninitialized dst and ends them at src.
  static void Relocate(T* dst, T* src, size_t n) {
    if constexpr (kTrivial) {
      if (n) std::memcpy(static_cast<void*>(dst), src, n * sizeof(T));
    } else {
      std::uninitialized_move_n(src, n, dst);
      std::destroy_n(src, n);
    }
  }
  void Assign(const T* src, size_t n) {
    if constexpr (kTrivial) {
      if (n > capacity()) {
        FreeHeap();
        size_ = 0;
        Grow(n);
      }
      if (n) std::memmove(static_cast<void*>(data()), src, n * sizeof(T));
    } else {
      clear();
      if (n > capacity()) Grow(n);
      std::uninitialized_copy_n(src, n, data());
    }
    size_ = static_cast<uint32_t>(n);
  }
  // REQUIRES: *this holds no element and no heap block.
  void Steal(SmallVec& o) {
    size_ = o.size_;
    if (o.cap_ != 0) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      o.cap_ = 0;
    } else {
      cap_ = 0;
      if constexpr (!kTrivial) {
        Relocate(reinterpret_cast<T*>(inline_), reinterpret_cast<T*>(o.inline_), size_);
      } else if constexpr (sizeof(inline_) <= 128) {
        // A fixed-size copy of small inline storage compiles to a few register moves; a
        // size_-long one is a call to memmove.
        std::memcpy(inline_, o.inline_, sizeof(inline_));
      } else if (size_) {
        std::memcpy(inline_, o.inline_, size_ * sizeof(T));
      }
    }
    o.size_ = 0;
  }
  void FreeHeap() {
    if (cap_ != 0) std::free(heap_);
    cap_ = 0;
  }

  union {
    T* heap_;                                         // while cap_ != 0
    alignas(T) unsigned char inline_[N * sizeof(T)];  // while cap_ == 0
  };
  uint32_t size_ = 0;
  uint32_t cap_ = 0;  // the heap block's capacity; 0: the elements are inline
};

}  // namespace crdt
