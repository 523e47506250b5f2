#include "crdt/page_arena.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace crdt {

void* AllocHugePages(size_t bytes) {
  const size_t n = HugePagesRoundUp(bytes);
#if defined(__linux__)
  // Map one huge page more than needed and unmap the unaligned head and tail, so the
  // mapping starts on a 2 MiB boundary (a huge page can only back an aligned 2 MiB range).
  const size_t span = n + kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(raw);
  const uintptr_t addr = reinterpret_cast<uintptr_t>(base);
  char* aligned = base + ((kHugePageBytes - (addr & (kHugePageBytes - 1))) & (kHugePageBytes - 1));
  if (aligned != base) munmap(base, static_cast<size_t>(aligned - base));
  const size_t tail = static_cast<size_t>(base + span - (aligned + n));
  if (tail > 0) munmap(aligned + n, tail);
  madvise(aligned, n, MADV_HUGEPAGE);  // a refusal leaves ordinary pages
  return aligned;
#else
  void* p = std::aligned_alloc(kHugePageBytes, n);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, n);
  return p;
#endif
}

void FreeHugePages(void* p, size_t bytes) {
  if (p == nullptr) return;
#if defined(__linux__)
  munmap(p, HugePagesRoundUp(bytes));
#else
  (void)bytes;
  std::free(p);
#endif
}

bool PrefaultForWrite(void* p, size_t bytes) {
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // linux/mman.h, for C libraries older than Linux 5.14
#endif
  constexpr uintptr_t kPage = 4096;  // whole pages of any size above this are inside too
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kPage - 1);
  if (end <= begin) return false;
  return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void* PageArena::Allocate(size_t bytes) {
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  if (bytes > left_) {
    const size_t last = blocks_.empty() ? 0 : blocks_.back().bytes;
    size_t size = std::max(bytes, std::min(2 * last, kMaxBlock));
    const bool huge = size >= kHugePageBytes;
    blocks_.reserve(blocks_.size() + 1);  // so that recording the block cannot throw
    char* base;
    if (huge) {
      size = HugePagesRoundUp(size);
      base = static_cast<char*>(AllocHugePages(size));
    } else {
      base = static_cast<char*>(::operator new (size, std::align_val_t{kAlign}));
    }
    blocks_.push_back(Block{base, size, huge});
    next_ = base;
    left_ = size;
    block_bytes_ += size;
  }
  void* p = next_;
  next_ += bytes;
  left_ -= bytes;
  used_ += bytes;
  return p;
}

void PageArena::Clear() {
  for (const Block& b : blocks_) {
    if (b.huge) {
      FreeHugePages(b.base, b.bytes);
    } else {
      ::operator delete (b.base, std::align_val_t{kAlign});
    }
  }
  blocks_.clear();
  blocks_.shrink_to_fit();
  next_ = nullptr;
  left_ = 0;
  used_ = 0;
  block_bytes_ = 0;
}

size_t PageArena::HugeBytes() const {
  size_t n = 0;
  for (const Block& b : blocks_) n += b.huge ? b.bytes : 0;
  return n;
}

void PageArena::Swap(PageArena& o) noexcept {
  std::swap(blocks_, o.blocks_);
  std::swap(next_, o.next_);
  std::swap(left_, o.left_);
  std::swap(used_, o.used_);
  std::swap(block_bytes_, o.block_bytes_);
}

}  // namespace crdt
