// EffectArena: where one region's replicator keeps the effects of its log. An effect is
// written once, read by the messages that carry it to the peers and by retransmissions,
// and dropped when the backlog no longer holds it and no message in flight does: in the
// order it was written, give or take the messages still in flight.
//
// An effect is one EffectBlock: the shared_ptr's control block, the block and the effect's
// bytes in one piece of memory (a std::string behind make_shared is two allocations and
// two dependent cache misses for every reader). Pieces are cut in sequence from chunks, so
// consecutive effects are neighbours in memory (read in that order by the peers'
// deliveries and by the backlog's trimming):
//
//   chunk:  | Chunk | header | control block | EffectBlock | bytes ... | header | ...
//                    8 B       (std::allocate_shared)  8 B            the next piece
//
//   - a piece is 8-aligned and as small as the control block allows (libstdc++: 40 bytes
//     before the effect's bytes), so an effect of up to 24 bytes takes one cache line: the
//     piece is written once and read again by the deliveries and by the trimming, each
//     time long out of cache, so every line of it costs memory throughput three times;
//   - a chunk counts its live pieces; once it has none and a newer chunk takes the new
//     pieces, it is given back (or, a huge one, kept as a spare for the next chunk);
//   - the first chunk is 64 KiB on the heap, each next one twice as big up to 2 MiB, from
//     then on whole huge pages (crdt/page_arena.h): a small simulation holds no huge page,
//     a busy region's log is read through few TLB entries and stays out of the heap the
//     stores allocate from;
//   - a piece bigger than kMaxPieceBytes (a big value's effect) is a heap allocation of
//     its own.
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

// One effect: its bytes follow the block in the same piece (or are empty). Their size and
// place are 32-bit (an effect is far below 4 GiB: Make checks), so the block is 8 bytes.
// Only EffectArena::Make makes one, and it is neither copied nor moved: its bytes are
// found from the block's own address.
struct EffectBlock {
  EffectBlock() = default;
  EffectBlock(const EffectBlock&) = delete;
  EffectBlock& operator=(const EffectBlock&) = delete;
  EffectBlock(EffectBlock&&) = delete;
  EffectBlock& operator=(EffectBlock&&) = delete;
  // REQUIRES: the block was made by EffectArena::Make (elsewhere `offset` from it is no
  // effect's bytes).
  std::string_view bytes() const {
    return std::string_view(reinterpret_cast<const char*>(this) + offset, size);
  }
  uint32_t size = 0;
  uint32_t offset = 0;  // from the block to its bytes
};

class EffectArena {
 public:
  static constexpr size_t kFirstChunkBytes = size_t{64} << 10;
  static constexpr size_t kMaxChunkBytes = size_t{2} << 20;  // crdt::kHugePageBytes
  static constexpr size_t kMaxPieceBytes = kMaxChunkBytes / 16;
  static constexpr size_t kSpareChunks = 1;
  // Where a piece starts before its block: the header, then the control block up to the
  // block (libstdc++'s layout: its vtable pointer, counts and allocator; elsewhere
  // PrefetchRelease only fetches less of the piece).
  static constexpr size_t kBlockOffset = 32;

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

  // A hint: fetches, for writing, the lines that reading `block` and dropping its last
  // reference touch (its piece's header, the shared_ptr's control block, the block), which
  // the backlog does long after the effect was written. Changes nothing.
  static void PrefetchRelease(const EffectBlock* block) {
    const char* b = reinterpret_cast<const char*>(block);
    __builtin_prefetch(b - kBlockOffset, 1);
    __builtin_prefetch(b + sizeof(EffectBlock) - 1, 1);
  }

  size_t live() const { return live_; }  // pieces allocated and not freed
  size_t chunks() const { return chunks_; }
  size_t chunk_bytes() const { return chunk_bytes_; }  // held, spares included

 private:
  struct Chunk;
  struct Header;  // before every piece: which chunk (or none)
  template <typename T>
  friend struct BlockAllocator;

  EffectArena() = default;
  ~EffectArena();
  // A piece of `bytes` bytes, 8-aligned, after its header. Inline, defined in
  // effect_arena.cc, the only file that calls it (declared inline here too, as the
  // language requires of a function defined inline).
  inline void* Allocate(size_t bytes);
  // Frees a piece of this arena (the control block's allocator knows which: the header
  // need not).
  void Free(void* p);
  void NewChunk(size_t need);
  void Drop(Chunk* c);  // c has no live piece left
  void FreeChunk(Chunk* c);

  Chunk* current_ = nullptr;  // pieces are cut from it
  std::vector<Chunk*> spares_;
  size_t next_chunk_bytes_ = kFirstChunkBytes;
  size_t live_ = 0;
  size_t chunks_ = 0;
  size_t chunk_bytes_ = 0;
  bool released_ = false;
  // Make: the bytes the control block's allocation must hold after itself, and where
  // they start once allocated.
  size_t pending_tail_ = 0;
  char* tail_ = nullptr;
};

}  // namespace cluster_sim
