#include "cluster_sim/effect_arena.h"

#include <algorithm>
#include <cstring>
#include <new>

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

struct alignas(16) EffectArena::Header {
  Chunk* chunk;  // null: a heap piece of its own
  EffectArena* arena;
};

namespace {

constexpr size_t kAlign = 16;
constexpr size_t RoundUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr size_t kPrefetchAhead = 512;
constexpr size_t kLine = 64;
constexpr size_t kChunkStart = 64;  // a chunk's first piece starts a cache line after its Chunk

}  // namespace

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
  void deallocate(T* p, size_t) { EffectArena::Free(p); }
  friend bool operator==(const BlockAllocator& a, const BlockAllocator& b) {
    return a.arena == b.arena;
  }
  EffectArena* arena;
};

std::shared_ptr<const EffectBlock> EffectArena::Make(std::string_view bytes) {
  pending_tail_ = bytes.size();
  std::shared_ptr<EffectBlock> block =
      std::allocate_shared<EffectBlock>(BlockAllocator<EffectBlock>(this));
  if (!bytes.empty()) std::memcpy(tail_, bytes.data(), bytes.size());
  block->bytes = std::string_view(tail_, bytes.size());
  return block;
}

void* EffectArena::Allocate(size_t bytes) {
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
  h->arena = this;
  ++live_;
  return h + 1;
}

void EffectArena::Free(void* p) {
  Header* h = static_cast<Header*>(p) - 1;
  EffectArena* a = h->arena;
  if (h->chunk == nullptr) {
    ::operator delete(h);
  } else if (--h->chunk->live == 0 && h->chunk != a->current_) {
    a->Drop(h->chunk);
  }
  if (--a->live_ == 0 && a->released_) delete a;
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
