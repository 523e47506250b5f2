// EffectArena: where one region's replicator keeps the effects of its log. An effect is
// written once, read by the messages that carry it to the peers and by retransmissions,
// and dropped when the backlog no longer holds it and no message in flight does: in the
// order it was written, give or take the messages still in flight.
//
// An effect is one EffectBlock followed by its bytes, cut in sequence from a chunk, so
// consecutive effects are neighbours in memory (read in that order by the peers'
// deliveries):
//
//   chunk:  | Chunk | EffectBlock | bytes ... | EffectBlock | bytes ... | ...
//                    8 B                        the next piece
//
//   - a piece is 8-aligned and holds no count of its own: every block of a chunk shares
//     the chunk's one reference count (a std::shared_ptr aliasing the chunk's), so taking
//     or dropping a block's reference touches only that count, one line per chunk that
//     every writer and reader of the chunk keeps in cache. The backlog, whose trimming
//     drops each effect about a backlog after it was written (long out of cache), drops
//     it without reading its piece (the log keeps each effect's size);
//   - a chunk is given back (or, one of the largest size, kept as a spare for the next
//     chunk) once no block of it is held and a newer chunk takes the new pieces: as before
//     each piece had its own count, a chunk lives as long as its longest-held piece;
//   - the first chunk is 64 KiB, each next one twice as big up to 256 KiB: a small
//     simulation holds little. The arena holds every chunk a held block is in, so a busy
//     region holds its backlog rounded up to whole chunks, plus the current chunk and the
//     spare: chunks of 256 KiB keep that near the backlog itself (chunks of 2 MiB held 4-6
//     MiB per region for the least automatic backlog, 1 MiB of effects in 1.35 MB of
//     pieces: memory that took the stores' lines their place in the cache). Chunks come
//     from the heap, not huge pages: they are written and read in sequence, and a fresh
//     huge page's first touch costs more than the TLB misses it saves (crdt/page_arena.h);
//   - a piece bigger than kMaxPieceBytes (a big value's effect) is a heap allocation of
//     its own, with a count of its own.
//
// Ownership: the creator owns the arena until Release(); blocks still held then (messages
// in flight) keep it alive, and the last one freed deletes it. Not thread-safe (a region's
// effects never leave its simulation's thread); no global state. Deterministic: addresses
// never decide an order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace cluster_sim {

// One effect: its bytes follow the block in the same piece (or are empty). Their size is
// 32-bit (an effect is far below 4 GiB: Make checks); the block is 8 bytes, so the bytes
// after it stay 8-aligned. Only EffectArena::Make makes one, and it is neither copied nor
// moved: its bytes are found from the block's own address.
struct alignas(8) EffectBlock {
  EffectBlock() = default;
  EffectBlock(const EffectBlock&) = delete;
  EffectBlock& operator=(const EffectBlock&) = delete;
  EffectBlock(EffectBlock&&) = delete;
  EffectBlock& operator=(EffectBlock&&) = delete;
  // REQUIRES: the block was made by EffectArena::Make (elsewhere what follows it is no
  // effect's bytes).
  std::string_view bytes() const {
    return std::string_view(reinterpret_cast<const char*>(this + 1), size);
  }
  uint32_t size = 0;  // alignas(8) pads the block to 8 bytes
};
static_assert(sizeof(EffectBlock) == 8);

class EffectArena {
 public:
  static constexpr size_t kFirstChunkBytes = size_t{64} << 10;
  static constexpr size_t kMaxChunkBytes = size_t{256} << 10;
  static constexpr size_t kMaxPieceBytes = kMaxChunkBytes / 16;
  static constexpr size_t kSpareChunks = 1;

  // A new arena, owned by the caller until Release().
  static EffectArena* New() { return new EffectArena(); }
  EffectArena(const EffectArena&) = delete;
  EffectArena& operator=(const EffectArena&) = delete;

  // The owner is done with the arena: it is deleted now if no block is live, else when
  // the last one is freed. REQUIRES: called once; no Make after it.
  void Release();

  // A block holding a copy of `bytes`. Throws std::bad_alloc. REQUIRES: bytes.size() <
  // 4 GiB (checked).
  std::shared_ptr<const EffectBlock> Make(std::string_view bytes);

  // Chunks and heap pieces with a block still held (the arena's current chunk counts
  // while it has one).
  size_t live() const { return live_; }
  size_t chunks() const { return chunks_; }
  size_t chunk_bytes() const { return chunk_bytes_; }  // held, spares included

 private:
  struct Chunk;
  struct ChunkDone;  // the deleter of a chunk's count: its last block was dropped
  struct HeapDone;   // the deleter of a heap piece

  EffectArena() = default;
  ~EffectArena();
  std::shared_ptr<const EffectBlock> MakeOnHeap(std::string_view bytes);
  // Makes the current chunk one with room for a piece of `need` bytes.
  void NewChunk(size_t need);
  // The last block of `c` was dropped (and it is not the current chunk).
  void Done(Chunk* c);
  void Drop(Chunk* c);  // no block of c is held
  void FreeChunk(Chunk* c);
  // A chunk or heap piece is gone: deletes the arena if it was the last and the owner
  // released it.
  void Dead();

  Chunk* current_ = nullptr;  // pieces are cut from it
  // The current chunk's count, held by the arena: every block cut from the chunk shares
  // it. Null with current_.
  std::shared_ptr<Chunk> current_count_;
  std::vector<Chunk*> spares_;
  size_t next_chunk_bytes_ = kFirstChunkBytes;
  size_t live_ = 0;
  size_t chunks_ = 0;
  size_t chunk_bytes_ = 0;
  bool released_ = false;
};

}  // namespace cluster_sim
