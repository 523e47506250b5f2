// ValueHeap (crdt/value_heap.h): size classes, pieces that never overlap and keep their
// bytes through any mix of Allocate and Free, freed pieces reused first, every class in
// the same chunks, pieces above the largest class on the ordinary heap, and a released
// heap that lives until its last reference is dropped (ASan reports a leak or a use after
// free if not). SetStore on heaps: copies, moves, swaps and assignments between stores of two
// heaps keep the elements and free every piece into the heap that made it.
#include "crdt/value_heap.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/aw_or_set.h"
#include "crdt/causal_context.h"
#include "test_util.h"

namespace crdt {
namespace {

TEST(ValueHeapTest, SizeClasses) {
  EXPECT_EQ(ValueHeap::PieceBytes(1), 64u);
  EXPECT_EQ(ValueHeap::PieceBytes(64), 64u);
  EXPECT_EQ(ValueHeap::PieceBytes(65), 96u);
  EXPECT_EQ(ValueHeap::PieceBytes(96), 96u);
  EXPECT_EQ(ValueHeap::PieceBytes(97), 128u);
  EXPECT_EQ(ValueHeap::PieceBytes(129), 192u);
  EXPECT_EQ(ValueHeap::PieceBytes(672), 768u);  // a 28-entry set's array
  EXPECT_EQ(ValueHeap::PieceBytes(769), 1024u);
  EXPECT_EQ(ValueHeap::PieceBytes(3072), 3072u);
  EXPECT_EQ(ValueHeap::PieceBytes(3073), 4096u);
  EXPECT_EQ(ValueHeap::PieceBytes(ValueHeap::kMaxPieceBytes), 4096u);
  for (size_t b = 1; b <= ValueHeap::kMaxPieceBytes; ++b) {
    ASSERT_GE(ValueHeap::PieceBytes(b), b);
    ASSERT_LE(ValueHeap::PieceBytes(b), b < 64 ? 64 : b + b / 2);
  }
}

TEST(ValueHeapTest, ClassesShareChunksAndReuseFreedPieces) {
  ValueHeap* h = ValueHeap::New();
  EXPECT_EQ(h->ChunkBytes(), 0u);
  std::vector<std::pair<void*, size_t>> pieces;
  for (size_t b = 64; b <= ValueHeap::kMaxPieceBytes; b += b / 2) {
    pieces.emplace_back(ValueHeap::Allocate(h, b), b);
  }
  EXPECT_EQ(h->ChunkBytes(), ValueHeap::kChunkBytes);  // one run per class, one chunk
  EXPECT_EQ(h->Live(), pieces.size());
  void* p = ValueHeap::Allocate(h, 100);
  ValueHeap::Free(h, p, 100);
  EXPECT_EQ(ValueHeap::Allocate(h, 128), p);  // the same class: the freed piece first
  ValueHeap::Free(h, p, 128);
  void* big = ValueHeap::Allocate(h, ValueHeap::kMaxPieceBytes + 1);  // the ordinary heap
  EXPECT_EQ(h->Live(), pieces.size());
  ValueHeap::Free(h, big, ValueHeap::kMaxPieceBytes + 1);
  for (const auto& [q, b] : pieces) ValueHeap::Free(h, q, b);
  EXPECT_EQ(h->Live(), 0u);
  ValueHeap::Release(h);
}

TEST(ValueHeapTest, ReleasedHeapLivesUntilItsLastReference) {
  ValueHeap* h = ValueHeap::New();
  ValueHeap::Ref(h);
  ValueHeap::Ref(h);
  EXPECT_EQ(h->Refs(), 2u);
  void* a = ValueHeap::Allocate(h, 200);
  std::memset(a, 1, 200);
  ValueHeap::Release(h);                   // two references: not yet
  void* b = ValueHeap::Allocate(h, 3000);  // a part may still allocate
  std::memset(b, 2, 3000);
  ValueHeap::Free(h, a, 200);
  EXPECT_EQ(h->Refs(), 2u);
  ValueHeap::Unref(h);  // one reference left: h lives (ASan: a use after free if not)
  ValueHeap::Free(h, b, 3000);
  ValueHeap::Unref(h);  // the last one: h dies here (ASan: a leak if not)
  ValueHeap::Release(nullptr);
  ValueHeap::Unref(nullptr);
}

TEST(ValueHeapTest, RandomizedPiecesNeverOverlap) {
  for (uint64_t seed : crdt_test::TestSeeds(6, 1600)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    ValueHeap* h = ValueHeap::Ref(ValueHeap::New());
    struct Piece {
      unsigned char* p;
      size_t bytes;
      unsigned char fill;
    };
    std::vector<Piece> live;
    const size_t target = 100 + rng.Uniform(3000);
    for (int step = 0; step < 20'000; ++step) {
      if (live.empty() || (live.size() < target && !rng.OneIn(3)) || rng.OneIn(5)) {
        const size_t bytes = rng.OneIn(50) ? 1 + rng.Uniform(10'000) : 1 + rng.Uniform(1200);
        auto* p = static_cast<unsigned char*>(ValueHeap::Allocate(h, bytes));
        ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
        const auto fill = static_cast<unsigned char>(rng.Next());
        std::memset(p, fill, bytes);
        live.push_back(Piece{p, bytes, fill});
      } else {
        const size_t i = rng.Uniform(live.size());
        ValueHeap::Free(h, live[i].p, live[i].bytes);
        live[i] = live.back();
        live.pop_back();
      }
      if (step % 997 == 0) {
        std::map<uintptr_t, uintptr_t> ranges;  // start -> end of every live piece
        for (const Piece& x : live) {
          ASSERT_EQ(x.p[0], x.fill);
          ASSERT_EQ(x.p[x.bytes / 2], x.fill);
          ASSERT_EQ(x.p[x.bytes - 1], x.fill);
          ranges[reinterpret_cast<uintptr_t>(x.p)] = reinterpret_cast<uintptr_t>(x.p) + x.bytes;
        }
        ASSERT_EQ(ranges.size(), live.size());
        uintptr_t end = 0;
        for (const auto& [start, stop] : ranges) {
          ASSERT_LE(end, start);
          end = stop;
        }
      }
    }
    ValueHeap::Release(h);  // with pieces live and a reference: they are freed, then h ends
    for (const Piece& x : live) ValueHeap::Free(h, x.p, x.bytes);
    EXPECT_EQ(h->Live(), 0u);
    ValueHeap::Unref(h);
  }
}

// A set of n members m0..m(n-1) (entries, and an index past 32) built on heap h.
SetStore SetOn(ValueHeap* h, int n, int from, CausalContext* cc) {
  SetStore s;
  s.UseHeap(h);
  for (int i = 0; i < n; ++i) s.Add("m" + std::to_string(from + i), 1, cc, nullptr, nullptr);
  return s;
}

std::vector<std::string> Members(int n, int from) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("m" + std::to_string(from + i));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ValueHeapTest, SetStoresMoveBetweenHeaps) {
  ValueHeap* ha = ValueHeap::New();
  ValueHeap* hb = ValueHeap::New();
  CausalContext cc;
  {
    SetStore a = SetOn(ha, 20, 0, &cc);    // moved out of SetOn: keeps ha
    SetStore b = SetOn(hb, 40, 100, &cc);  // indexed; a's 20 are found by their tags
    EXPECT_EQ(a.heap(), ha);
    EXPECT_EQ(b.heap(), hb);
    EXPECT_GT(ha->Live(), 0u);
    std::swap(a, b);  // each keeps its heap: the elements are copied across
    EXPECT_EQ(a.heap(), ha);
    EXPECT_EQ(b.heap(), hb);
    EXPECT_EQ(a.Elements(), Members(40, 100));
    EXPECT_EQ(b.Elements(), Members(20, 0));
    SetStore c(b);  // a copy starts on the ordinary heap
    EXPECT_EQ(c.heap(), nullptr);
    EXPECT_EQ(c, b);
    a = std::move(c);  // from the ordinary heap into ha
    EXPECT_EQ(a.heap(), ha);
    EXPECT_EQ(a.Elements(), Members(20, 0));
    a.Add("x", 2, &cc, nullptr, nullptr);
    c = a;  // a copy assigned keeps c's heap (the ordinary one)
    EXPECT_EQ(c.heap(), nullptr);
    EXPECT_EQ(c, a);
    SetStore d(std::move(a));  // moved-to new store: keeps ha's pieces
    EXPECT_EQ(d.heap(), ha);
    EXPECT_EQ(d, c);
    for (int i = 0; i < 20; ++i) d.Remove("m" + std::to_string(i), nullptr, nullptr);
    EXPECT_EQ(d.Elements(), std::vector<std::string>{"x"});
    EXPECT_EQ(ha->Refs(), 2u);  // a (moved from, empty) and d
    ValueHeap::Release(ha);     // d still holds pieces of ha
    b.UseHeap(nullptr);         // to the ordinary heap
    EXPECT_EQ(hb->Live(), 0u);
    EXPECT_EQ(b.Elements(), Members(20, 0));
  }  // d's pieces go back to ha, which dies with d's reference
  EXPECT_EQ(hb->Live(), 0u);
  ValueHeap::Release(hb);
}

}  // namespace
}  // namespace crdt
