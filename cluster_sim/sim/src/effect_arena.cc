#include "cluster_sim/effect_arena.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#include "cluster_sim/status.h"
#include "crdt/page_arena.h"

namespace cluster_sim {

static_assert(EffectArena::kMaxChunkBytes == crdt::kHugePageBytes);

struct EffectArena::Chunk {
  char* base;      // the chunk's memory; this struct sits at its start
  size_t bytes;    // its size
  size_t used;     // bytes cut so far, this struct included
  size_t live;     // pieces not freed
  size_t fetched;  // lines before this offset were fetched for writing (Allocate)
  bool huge;       // from crdt::AllocHugePages, else the heap
};

// Only the chunk: the arena is in the control block's allocator, which frees the piece.
struct EffectArena::Header {
  Chunk* chunk;  // null: a heap piece of its own
};

namespace {

// What the control block and the block need (pointers and counts), and no more: every
// byte of padding is memory read and written again by each reader of the piece.
constexpr size_t kAlign = 8;
constexpr size_t RoundUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr size_t kPrefetchAhead = 512;
constexpr size_t kLine = crdt::kCacheLineBytes;
constexpr size_t kChunkStart = kLine;  // a chunk's first piece starts a cache line after its Chunk

}  // namespace

// Inline: Make's one caller (through BlockAllocator) runs it for every effect.
[[gnu::always_inline]] inline void* EffectArena::Allocate(size_t bytes) {
  const size_t need = sizeof(Header) + RoundUp(bytes);
  Header* h;
  if (need > kMaxPieceBytes) {
    h = static_cast<Header*>(::operator new(need));
    h->chunk = nullptr;
  } else {
    if (current_ == nullptr || current_->used + need > current_->bytes) NewChunk(need);
    Chunk* c = current_;
    h = reinterpret_cast<Header*>(c->base + c->used);
    c->used += need;
    // The next pieces are cut from lines not touched since their chunk was last drained,
    // long out of cache: fetch each of them for writing, a few effects ahead.
    const size_t ahead = std::min(c->used + kPrefetchAhead, c->bytes);
    for (; c->fetched < ahead; c->fetched += kLine) __builtin_prefetch(c->base + c->fetched, 1);
    c->live++;
    h->chunk = c;
  }
  ++live_;
  return h + 1;
}

// The allocator std::allocate_shared cuts the control block (and, after it, the effect's
// bytes) with: one piece of the arena.
template <typename T>
struct BlockAllocator {
  using value_type = T;
  explicit BlockAllocator(EffectArena* a) : arena(a) {}
  template <typename U>
  BlockAllocator(const BlockAllocator<U>& o) : arena(o.arena) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    const size_t head = RoundUp(n * sizeof(T));
    char* p = static_cast<char*>(arena->Allocate(head + arena->pending_tail_));
    arena->tail_ = p + head;
    return reinterpret_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { arena->Free(p); }
  friend bool operator==(const BlockAllocator& a, const BlockAllocator& b) {
    return a.arena == b.arena;
  }
  EffectArena* arena;
};

std::shared_ptr<const EffectBlock> EffectArena::Make(std::string_view bytes) {
  AASIM_CHECK(bytes.size() <= UINT32_MAX) << "an effect of" << bytes.size() << "bytes";
  pending_tail_ = bytes.size();
  std::shared_ptr<EffectBlock> block =
      std::allocate_shared<EffectBlock>(BlockAllocator<EffectBlock>(this));
  if (!bytes.empty()) std::memcpy(tail_, bytes.data(), bytes.size());
  block->size = static_cast<uint32_t>(bytes.size());
  // The tail follows the control block, which holds the block: a few bytes after it.
  block->offset = static_cast<uint32_t>(tail_ - reinterpret_cast<char*>(block.get()));
  return block;
}

void EffectArena::Free(void* p) {
  Header* h = static_cast<Header*>(p) - 1;
  if (h->chunk == nullptr) {
    ::operator delete(h);
  } else if (--h->chunk->live == 0 && h->chunk != current_) {
    Drop(h->chunk);
  }
  if (--live_ == 0 && released_) delete this;
}

void EffectArena::NewChunk(size_t need) {
  static_assert(sizeof(Chunk) <= kChunkStart);
  while (next_chunk_bytes_ < kMaxChunkBytes && next_chunk_bytes_ < kChunkStart + need) {
    next_chunk_bytes_ *= 2;
  }
  Chunk* old = current_;
  if (old != nullptr && old->live == 0 && old->bytes >= next_chunk_bytes_) {
    old->used = kChunkStart;  // nothing in it is live: cut again from its start
    old->fetched = kChunkStart;
    return;
  }
  Chunk* c;
  if (next_chunk_bytes_ == kMaxChunkBytes && !spares_.empty()) {
    c = spares_.back();
    spares_.pop_back();
  } else {
    const size_t bytes = next_chunk_bytes_;
    const bool huge = bytes >= crdt::kHugePageBytes;
    char* base = static_cast<char*>(huge ? crdt::AllocHugePages(bytes) : ::operator new(bytes));
    c = new (base) Chunk{base, bytes, 0, 0, 0, huge};
    ++chunks_;
    chunk_bytes_ += bytes;
    if (next_chunk_bytes_ < kMaxChunkBytes) next_chunk_bytes_ *= 2;
  }
  c->used = kChunkStart;
  c->fetched = kChunkStart;
  c->live = 0;
  current_ = c;
  if (old != nullptr && old->live == 0) Drop(old);
}

void EffectArena::Drop(Chunk* c) {
  if (!released_ && c->bytes == kMaxChunkBytes && spares_.size() < kSpareChunks) {
    spares_.push_back(c);
  } else {
    FreeChunk(c);
  }
}

void EffectArena::FreeChunk(Chunk* c) {
  --chunks_;
  chunk_bytes_ -= c->bytes;
  const size_t bytes = c->bytes;
  const bool huge = c->huge;
  char* base = c->base;
  c->~Chunk();
  if (huge) {
    crdt::FreeHugePages(base, bytes);
  } else {
    ::operator delete(base);
  }
}

void EffectArena::Release() {
  released_ = true;
  for (Chunk* c : spares_) FreeChunk(c);
  spares_.clear();
  Chunk* c = current_;
  current_ = nullptr;
  if (c != nullptr && c->live == 0) FreeChunk(c);
  if (live_ == 0) delete this;
}

EffectArena::~EffectArena() = default;

}  // namespace cluster_sim
