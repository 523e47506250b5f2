// Memory for big arrays read at random (a sorted set's member hash index and B+-tree nodes,
// a keyspace's index and nodes) in whole 2 MiB pages that the kernel is asked to back with
// transparent huge pages. At a million members those arrays are about 50 MB read at random,
// and with 4 KiB pages nearly every access also misses the TLB (a page walk, expensive under
// nested paging); with 2 MiB pages they fit in the TLB.
//
// Only arrays read at random belong here. One read or written in sequence (the simulator's
// rings of events and messages, a region's log of effects, a sorted set's entries) misses
// the TLB once per 64 lines on ordinary pages, while a fresh huge page's first touch can
// cost milliseconds: with THP `madvise` the kernel may compact memory to find one, and on a
// virtual machine the host may fault its whole block too. Such arrays stay on the heap.
//
//   AllocHugePages(bytes): an anonymous mapping of bytes rounded up to 2 MiB, aligned to
//   2 MiB, zero-filled, advised MADV_HUGEPAGE (Linux). The advice may be ignored (THP
//   off, madvise refused): the memory is then ordinary pages, still correct.
//
//   PageArena: bump allocation from blocks that double in size; blocks below 2 MiB come
//   from the heap (a small sorted set holds no huge page), larger ones from
//   AllocHugePages, rounded up to whole huge pages. Memory is given back only when the
//   arena dies (or is cleared): pieces of one size freed and reused one at a time go
//   through a NodePool (node_pool.h), which cuts them from an arena's blocks.
//
// Not thread-safe; no global state. Deterministic: addresses never decide an order.
#pragma once

#include <cstddef>
#include <vector>

namespace crdt {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
// A cache line on the machines this is tuned for (x86-64, most ARM64): what the pools and
// rings here align to, so that a record read at random costs whole lines and no more.
inline constexpr size_t kCacheLineBytes = 64;

// bytes rounded up to whole huge pages.
inline size_t HugePagesRoundUp(size_t bytes) {
  return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
}
// Zero-filled memory of HugePagesRoundUp(bytes) bytes, aligned to kHugePageBytes.
// Throws std::bad_alloc. REQUIRES: bytes > 0.
void* AllocHugePages(size_t bytes);
// REQUIRES: p came from AllocHugePages(bytes), with the same bytes.
void FreeHugePages(void* p, size_t bytes);

// Faults in, writable, the whole pages inside [p, p + bytes) in one system call
// (MADV_POPULATE_WRITE, Linux 5.14 and later) rather than one page fault per page at its
// first write: for memory about to be written in full, such as a sorted set's chunk of
// entries (on a VM each fault is a trap out of the guest, a few microseconds). The bytes
// are unchanged. Returns false when nothing was done (older kernel, other systems; the
// pages then fault in as they are written). REQUIRES: [p, p + bytes) is memory we own.
bool PrefaultForWrite(void* p, size_t bytes);

class PageArena {
 public:
  static constexpr size_t kAlign = kCacheLineBytes;  // every piece starts a cache line
  // A block is at most this big (unless one piece is bigger): a huge set's last block
  // wastes at most this much address space, and no resident memory it never touched.
  static constexpr size_t kMaxBlock = size_t{32} << 20;

  PageArena() = default;
  PageArena(const PageArena&) = delete;
  PageArena& operator=(const PageArena&) = delete;
  PageArena(PageArena&& o) noexcept { Swap(o); }
  PageArena& operator=(PageArena&& o) noexcept {
    if (this != &o) {
      Clear();
      Swap(o);
    }
    return *this;
  }
  ~PageArena() { Clear(); }

  // bytes (rounded up to kAlign) of uninitialised memory aligned to kAlign, valid until
  // Clear or destruction. Throws std::bad_alloc. REQUIRES: bytes > 0.
  void* Allocate(size_t bytes);
  // Gives every block back.
  void Clear();
  // Bytes handed out by Allocate (rounded up to kAlign) since the last Clear.
  size_t UsedBytes() const { return used_; }
  // Bytes of the blocks held (address space; a huge block is resident only where touched).
  size_t BlockBytes() const { return block_bytes_; }
  // Bytes of the blocks held that are in huge-page blocks.
  size_t HugeBytes() const;

 private:
  struct Block {
    char* base;
    size_t bytes;
    bool huge;  // from AllocHugePages, else the heap
  };
  void Swap(PageArena& o) noexcept;

  std::vector<Block> blocks_;
  char* next_ = nullptr;  // in the last block
  size_t left_ = 0;       // bytes after next_ in the last block
  size_t used_ = 0;
  size_t block_bytes_ = 0;
};

}  // namespace crdt
