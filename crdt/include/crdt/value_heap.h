// ValueHeap: memory for the out-of-line parts of one big keyspace's values (a set's entry
// array and index, a counter's replica slots), so that a key's data lives in the same
// 2 MiB pages as its keyspace instead of all over the 4 KiB pages of the heap. A big
// keyspace's values are tens of MB read at random; on 4 KiB pages nearly every read of a
// part also misses the TLB.
//
//   - Pieces come in size classes (64 bytes to 4 KiB, steps of 1.5x and 2x: at most a
//     third wasted). A class cuts its pieces from 64 KiB runs, and the runs are cut from
//     2 MiB chunks of a PageArena (whole huge pages, page_arena.h): every class shares the
//     same huge pages, so a class that holds little wastes at most one run. A freed piece
//     goes to its class's free list (LIFO) and is handed out again first. A piece larger
//     than the largest class is an ordinary heap allocation.
//   - A part that allocates here holds a reference to the heap (Ref, Unref) and frees its
//     pieces into it; the owner (a keyspace's map, which makes one only once it holds many
//     keys: a small map and a delta keep their parts on the ordinary heap) gives the heap
//     up with Release. The heap dies when it is released and no part refers to it, never
//     before: a part moved out of its keyspace frees its pieces into the heap that made
//     them, and may still allocate there, whichever keyspace holds it by then.
//
// The static Allocate and Free below take the part's heap pointer (null: the ordinary
// heap). Not thread-safe; no global state. Deterministic: addresses never decide an order
// (free lists are LIFO).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "crdt/page_arena.h"

namespace crdt {

class ValueHeap {
 public:
  static constexpr size_t kMaxPieceBytes = 4096;  // larger pieces: the ordinary heap
  static constexpr size_t kRunBytes = size_t{64} << 10;
  static constexpr size_t kChunkBytes = kHugePageBytes;

  // A new heap, owned by the caller until Release.
  static ValueHeap* New() { return new ValueHeap(); }
  // The owner gives h up (null: nothing): h dies now if no part refers to it, else at the
  // last Unref.
  static void Release(ValueHeap* h);
  // A part's reference to h (null: nothing); returns h. Unref may destroy a released h.
  // REQUIRES: every piece a part holds is freed before its reference is dropped.
  static ValueHeap* Ref(ValueHeap* h) {
    if (h != nullptr) ++h->refs_;
    return h;
  }
  static void Unref(ValueHeap* h);

  // At least `bytes` bytes of uninitialised memory, aligned to 16, from h (null: the
  // ordinary heap). Throws std::bad_alloc. REQUIRES: bytes > 0.
  static void* Allocate(ValueHeap* h, size_t bytes) {
    return h != nullptr && bytes <= kMaxPieceBytes ? h->AllocatePiece(bytes)
                                                   : ::operator new(bytes);
  }
  // REQUIRES: p came from Allocate(h, bytes) with the same h and bytes, and is live.
  static void Free(ValueHeap* h, void* p, size_t bytes) {
    if (h != nullptr && bytes <= kMaxPieceBytes) {
      h->FreePiece(p, bytes);
    } else {
      ::operator delete(p);
    }
  }

  ValueHeap(const ValueHeap&) = delete;
  ValueHeap& operator=(const ValueHeap&) = delete;

  size_t Live() const { return live_; }  // pieces allocated and not freed
  size_t Refs() const { return refs_; }  // parts referring to the heap
  // Bytes of the chunks held (address space: a huge page is resident once touched).
  size_t ChunkBytes() const { return arena_.BlockBytes(); }
  // The bytes a piece of `bytes` takes (its class's size). REQUIRES: 0 < bytes <=
  // kMaxPieceBytes.
  static size_t PieceBytes(size_t bytes) { return kClassBytes[ClassOf(bytes)]; }

 private:
  static constexpr size_t kClasses = 13;
  static constexpr size_t kClassBytes[kClasses] = {64,  96,   128,  192,  256,  384, 512,
                                                   768, 1024, 1536, 2048, 3072, 4096};
  struct FreeLink {
    FreeLink* next;
  };
  struct Class {
    FreeLink* free = nullptr;  // freed pieces
    char* next = nullptr;      // the next uncut piece of the class's last run
    size_t left = 0;           // uncut pieces after it
  };

  ValueHeap() = default;
  ~ValueHeap() = default;
  // The smallest class of at least `bytes`: with 2^k the power of 2 at or above bytes,
  // 3 * 2^(k-2) if that is enough, else 2^k.
  static size_t ClassOf(size_t bytes) {
    if (bytes <= kClassBytes[0]) return 0;
    const int k = std::bit_width(bytes - 1);
    const size_t pow2_class = static_cast<size_t>(2 * (k - 6));
    return bytes <= (size_t{3} << (k - 2)) ? pow2_class - 1 : pow2_class;
  }
  void* AllocatePiece(size_t bytes) {
    const size_t cls = ClassOf(bytes);
    Class& c = classes_[cls];
    void* p;
    if (c.free != nullptr) {
      p = std::exchange(c.free, c.free->next);
    } else if (c.left != 0) {
      --c.left;
      p = std::exchange(c.next, c.next + kClassBytes[cls]);
    } else {
      p = NewRun(cls);
    }
    ++live_;
    return p;
  }
  void FreePiece(void* p, size_t bytes) {
    Class& c = classes_[ClassOf(bytes)];
    c.free = new (p) FreeLink{c.free};
    --live_;
  }
  void* NewRun(size_t cls);  // a new run for class cls, its first piece handed out

  PageArena arena_;
  char* chunk_next_ = nullptr;  // the next uncut run of the last chunk
  size_t chunk_left_ = 0;       // uncut runs after it
  Class classes_[kClasses];
  size_t live_ = 0;
  size_t refs_ = 0;
  bool released_ = false;
};

}  // namespace crdt
