#include "cluster_sim/effect_arena.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#include "cluster_sim/status.h"
#include "crdt/page_arena.h"

namespace cluster_sim {

struct EffectArena::Chunk {
  char* base;      // the chunk's memory; this struct sits at its start
  size_t bytes;    // its size
  size_t used;     // bytes cut so far, this struct included
  size_t fetched;  // lines before this offset were fetched for writing (Make)
};

struct EffectArena::ChunkDone {
  void operator()(Chunk* c) const { arena->Done(c); }
  EffectArena* arena;
};

struct EffectArena::HeapDone {
  void operator()(EffectBlock* b) const {
    b->~EffectBlock();
    ::operator delete(b);
    --arena->live_;
    arena->Dead();
  }
  EffectArena* arena;
};

namespace {

// A piece is its block and its bytes, and no more: every byte of padding is memory read
// and written again by each reader of the piece.
constexpr size_t kAlign = alignof(EffectBlock);
constexpr size_t RoundUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr size_t kPrefetchAhead = 512;
constexpr size_t kLine = crdt::kCacheLineBytes;
constexpr size_t kChunkStart = kLine;  // a chunk's first piece starts a cache line after its Chunk

}  // namespace

std::shared_ptr<const EffectBlock> EffectArena::Make(std::string_view bytes) {
  AASIM_CHECK(bytes.size() <= UINT32_MAX) << "an effect of" << bytes.size() << "bytes";
  const size_t need = sizeof(EffectBlock) + RoundUp(bytes.size());
  if (need > kMaxPieceBytes) return MakeOnHeap(bytes);
  if (current_ == nullptr || current_->used + need > current_->bytes) NewChunk(need);
  Chunk* c = current_;
  auto* block = new (c->base + c->used) EffectBlock;
  c->used += need;
  // The next pieces are cut from lines not touched since their chunk was last drained,
  // long out of cache: fetch each of them for writing, a few effects ahead.
  const size_t ahead = std::min(c->used + kPrefetchAhead, c->bytes);
  for (; c->fetched < ahead; c->fetched += kLine) __builtin_prefetch(c->base + c->fetched, 1);
  block->size = static_cast<uint32_t>(bytes.size());
  if (!bytes.empty()) std::memcpy(reinterpret_cast<char*>(block + 1), bytes.data(), bytes.size());
  // The chunk's count, pointing at the block.
  return std::shared_ptr<const EffectBlock>(current_count_, block);
}

std::shared_ptr<const EffectBlock> EffectArena::MakeOnHeap(std::string_view bytes) {
  auto* block = new (::operator new(sizeof(EffectBlock) + bytes.size())) EffectBlock;
  block->size = static_cast<uint32_t>(bytes.size());
  std::memcpy(reinterpret_cast<char*>(block + 1), bytes.data(), bytes.size());
  ++live_;
  // Should the count's allocation throw, the deleter frees the piece.
  return std::shared_ptr<const EffectBlock>(block, HeapDone{this});
}

void EffectArena::NewChunk(size_t need) {
  static_assert(sizeof(Chunk) <= kChunkStart);
  while (next_chunk_bytes_ < kMaxChunkBytes && next_chunk_bytes_ < kChunkStart + need) {
    next_chunk_bytes_ *= 2;
  }
  Chunk* old = current_;
  if (old != nullptr && current_count_.use_count() == 1 && old->bytes >= next_chunk_bytes_) {
    old->used = kChunkStart;  // no block of it is held: cut again from its start
    old->fetched = kChunkStart;
    return;
  }
  Chunk* c;
  if (next_chunk_bytes_ == kMaxChunkBytes && !spares_.empty()) {
    c = spares_.back();
    spares_.pop_back();
  } else {
    const size_t bytes = next_chunk_bytes_;
    char* base = static_cast<char*>(::operator new(bytes));
    c = new (base) Chunk{base, bytes, 0, 0};
    ++chunks_;
    chunk_bytes_ += bytes;
    if (next_chunk_bytes_ < kMaxChunkBytes) next_chunk_bytes_ *= 2;
  }
  c->used = kChunkStart;
  c->fetched = kChunkStart;
  ++live_;
  // Should the count's allocation throw, its deleter gives the chunk back (it is not the
  // current one yet).
  std::shared_ptr<Chunk> count(c, ChunkDone{this});
  current_ = c;
  // The arena's hold on the old chunk goes: if no block of it is held, it goes now.
  current_count_ = std::move(count);
}

void EffectArena::Done(Chunk* c) {
  --live_;
  Drop(c);
  Dead();
}

void EffectArena::Dead() {
  if (live_ == 0 && released_) delete this;
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
  char* base = c->base;
  c->~Chunk();
  ::operator delete(base);
}

void EffectArena::Release() {
  released_ = true;
  for (Chunk* c : spares_) FreeChunk(c);
  spares_.clear();
  current_ = nullptr;
  if (current_count_ == nullptr) {
    Dead();
    return;
  }
  // Dropping the arena's hold may delete the arena (no block of the chunk held, no other
  // chunk or heap piece live): nothing after it reads a member.
  std::shared_ptr<Chunk> count = std::move(current_count_);
  count.reset();
}

EffectArena::~EffectArena() = default;

}  // namespace cluster_sim
