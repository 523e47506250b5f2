#include "crdt/node_pool.h"

#include <algorithm>
#include <cassert>
#include <new>
#include <utility>

namespace crdt {

NodePool::NodePool(size_t piece_bytes, size_t piece_align)
    : piece_bytes_((std::max(piece_bytes, sizeof(FreePiece)) + piece_align - 1) &
                   ~(piece_align - 1)),
      piece_align_(piece_align) {
  assert(piece_align >= kPieceAlign && piece_align <= kCacheLine &&
         (piece_align & (piece_align - 1)) == 0);
}

NodePool::NodePool(NodePool&& o) noexcept
    : piece_bytes_(o.piece_bytes_), piece_align_(o.piece_align_) {
  Swap(o);
}

NodePool& NodePool::operator=(NodePool&& o) noexcept {
  if (this != &o) {
    Clear();
    Swap(o);
  }
  return *this;
}

void* NodePool::AllocateSlow() {
  if (chunks_.empty() && live_ < kHeapPieces) {
    void* p = HeapAligned() ? ::operator new (piece_bytes_, std::align_val_t{piece_align_})
                            : ::operator new(piece_bytes_);
    ++live_;
    return p;
  }
  if (left_ == 0) {
    char* chunk = static_cast<char*>(arena_.Allocate(kChunkBytes));
    const auto at = reinterpret_cast<uintptr_t>(chunk);
    chunks_.insert(std::upper_bound(chunks_.begin(), chunks_.end(), at), at);
    next_ = chunk;
    left_ = kChunkBytes / piece_bytes_;
  }
  void* p = next_;
  next_ += piece_bytes_;
  --left_;
  ++live_;
  return p;
}

bool NodePool::InChunk(const void* p) const {
  const auto at = reinterpret_cast<uintptr_t>(p);
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), at);
  return it != chunks_.begin() && at - *(it - 1) < kChunkBytes;
}

void NodePool::Free(void* p) {
  --live_;
  if (!chunks_.empty() && InChunk(p)) {
    free_ = new (p) FreePiece{free_};
  } else if (HeapAligned()) {
    ::operator delete (p, std::align_val_t{piece_align_});
  } else {
    ::operator delete(p);
  }
}

void NodePool::Clear() {
  arena_.Clear();
  chunks_.clear();
  chunks_.shrink_to_fit();
  next_ = nullptr;
  left_ = 0;
  free_ = nullptr;
  live_ = 0;
}

void NodePool::Swap(NodePool& o) noexcept {
  std::swap(piece_bytes_, o.piece_bytes_);
  std::swap(piece_align_, o.piece_align_);
  std::swap(arena_, o.arena_);
  std::swap(chunks_, o.chunks_);
  std::swap(next_, o.next_);
  std::swap(left_, o.left_);
  std::swap(free_, o.free_);
  std::swap(live_, o.live_);
}

}  // namespace crdt
