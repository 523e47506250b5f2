// NodePool: memory for the nodes of one map, pieces of one size allocated and freed one at
// a time and read at random (a keyspace's key -> value nodes; a sorted set's B+-tree nodes,
// counted_btree.h). A big keyspace's nodes are tens of MB read at random; with 4 KiB pages
// nearly every lookup also misses the TLB, with 2 MiB pages they fit in it.
//
//   - While fewer than kHeapPieces pieces are live and the pool holds no chunk, a piece is
//     one heap allocation of its own (operator new, its aligned form when the pieces'
//     alignment is more than plain new gives): a small map or a delta holds no huge page.
//   - From then on new pieces are cut from 2 MiB chunks taken from a PageArena (whole huge
//     pages, page_arena.h). A freed chunk piece goes to a free list and is handed out again
//     first; a freed heap piece goes back to the heap. The chunks are given back only by
//     Clear or the pool's death.
//
// A piece never moves: moving the pool moves the ownership of its chunks, not the pieces.
// The pool is never copied (a copy of a map takes its own pool). Not thread-safe; no
// global state. Deterministic: addresses never decide an order (the free list is LIFO
// and the chunk lookup only tells where a piece came from).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crdt/page_arena.h"

namespace crdt {

class NodePool {
 public:
  // Live pieces past which new pieces come from huge-page chunks: at most this many
  // pieces of a big map stay on the heap, and a map that never holds this many keys
  // holds no chunk.
  static constexpr size_t kHeapPieces = 256;
  static constexpr size_t kChunkBytes = kHugePageBytes;
  // Pieces are aligned to piece_align (at least kPieceAlign): the piece size is rounded up
  // to a multiple of it, chunks start on a huge page and heap pieces are allocated with
  // that alignment. A map whose nodes are read at random asks for kCacheLine: a node of
  // 192 bytes then spans exactly 3 cache lines, where 16-byte alignment would let most of
  // them straddle a fourth.
  static constexpr size_t kPieceAlign = 16;
  static constexpr size_t kCacheLine = kCacheLineBytes;

  // REQUIRES: 0 < piece_bytes <= kChunkBytes; piece_align a power of 2, kPieceAlign <=
  // piece_align <= kCacheLine; what the pieces hold needs no more than piece_align.
  explicit NodePool(size_t piece_bytes, size_t piece_align = kPieceAlign);
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;
  // Takes o's pieces and chunks; o is left empty, with its piece size.
  NodePool(NodePool&& o) noexcept;
  // REQUIRES: every piece of *this freed (as for Clear). REQUIRES: same piece size and
  // alignment.
  NodePool& operator=(NodePool&& o) noexcept;
  ~NodePool() { Clear(); }

  // Uninitialised memory of PieceBytes() bytes. Throws std::bad_alloc.
  void* Allocate() {
    if (free_ != nullptr) {
      FreePiece* f = free_;
      free_ = f->next;
      ++live_;
      return f;
    }
    return AllocateSlow();
  }
  // REQUIRES: p came from this pool's Allocate (or a pool moved into it) and is live.
  void Free(void* p);
  // Gives the chunks back. REQUIRES: every piece freed (heap pieces are not tracked).
  void Clear();

  size_t PieceBytes() const { return piece_bytes_; }
  size_t PieceAlign() const { return piece_align_; }
  size_t Live() const { return live_; }  // pieces allocated and not freed
  // Bytes of the chunks held (address space: a huge page is resident once touched).
  size_t ChunkBytes() const { return chunks_.size() * kChunkBytes; }
  // True if p lies in one of this pool's chunks (else it is a heap piece, or not ours).
  bool InChunk(const void* p) const;

 private:
  struct FreePiece {
    FreePiece* next;
  };
  void* AllocateSlow();
  void Swap(NodePool& o) noexcept;
  // True if a heap piece takes the aligned forms of operator new and delete: plain new
  // aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__ only. AllocateSlow and Free both ask here,
  // so a piece is always given back with the form it was taken with.
  bool HeapAligned() const { return piece_align_ > __STDCPP_DEFAULT_NEW_ALIGNMENT__; }

  size_t piece_bytes_;
  size_t piece_align_;
  PageArena arena_;                // the chunks' memory
  std::vector<uintptr_t> chunks_;  // chunk start addresses, ascending
  char* next_ = nullptr;           // the next uncut piece of the last chunk
  size_t left_ = 0;                // uncut pieces after next_ in the last chunk
  FreePiece* free_ = nullptr;      // freed chunk pieces
  size_t live_ = 0;
};

}  // namespace crdt
