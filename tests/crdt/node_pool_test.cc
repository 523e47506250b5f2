// NodePool (crdt/node_pool.h): a small pool stays on the heap, a big one cuts its pieces
// from huge-page chunks; pieces are aligned, never overlap and keep their bytes through
// any mix of Allocate and Free; freed chunk pieces are reused first; moves and Clear. The
// randomized test checks every live piece against a model after each step. Whether the
// kernel backs a chunk with huge pages is not checked (THP may be off).
#include "crdt/node_pool.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace crdt {
namespace {

bool Aligned(const void* p, size_t align) { return reinterpret_cast<uintptr_t>(p) % align == 0; }

TEST(NodePoolTest, SmallPoolStaysOnTheHeap) {
  NodePool pool(896);
  EXPECT_EQ(pool.PieceBytes(), 896u);
  std::vector<void*> pieces;
  for (size_t i = 0; i + 1 < NodePool::kHeapPieces; ++i) pieces.push_back(pool.Allocate());
  EXPECT_EQ(pool.Live(), NodePool::kHeapPieces - 1);
  EXPECT_EQ(pool.ChunkBytes(), 0u);
  for (void* p : pieces) {
    EXPECT_FALSE(pool.InChunk(p));
    EXPECT_TRUE(Aligned(p, 16));
  }
  for (void* p : pieces) pool.Free(p);
  EXPECT_EQ(pool.Live(), 0u);
  EXPECT_EQ(pool.ChunkBytes(), 0u);
}

TEST(NodePoolTest, BigPoolUsesChunksAndReusesFreedPieces) {
  NodePool pool(896);
  std::vector<void*> pieces;
  for (size_t i = 0; i < 3 * NodePool::kHeapPieces; ++i) pieces.push_back(pool.Allocate());
  EXPECT_EQ(pool.Live(), pieces.size());
  EXPECT_EQ(pool.ChunkBytes(), NodePool::kChunkBytes);
  for (size_t i = 0; i < pieces.size(); ++i) {
    // The first kHeapPieces pieces were live before the pool turned to chunks.
    EXPECT_EQ(pool.InChunk(pieces[i]), i >= NodePool::kHeapPieces) << i;
    if (i > NodePool::kHeapPieces) {
      EXPECT_EQ(static_cast<char*>(pieces[i]) - static_cast<char*>(pieces[i - 1]), 896);
    }
  }
  EXPECT_TRUE(Aligned(pieces[NodePool::kHeapPieces], 64));  // 896 = 14 cache lines
  // A freed chunk piece is the next one handed out (LIFO); a freed heap piece goes back to
  // the heap, and the next piece is a new one cut from the chunk.
  void* chunk_piece = pieces[NodePool::kHeapPieces + 5];
  pool.Free(chunk_piece);
  EXPECT_EQ(pool.Allocate(), chunk_piece);
  pool.Free(pieces[0]);
  void* fresh = pool.Allocate();
  EXPECT_TRUE(pool.InChunk(fresh));
  EXPECT_EQ(static_cast<char*>(fresh) - static_cast<char*>(pieces.back()), 896);
  pieces[0] = fresh;
  EXPECT_EQ(pool.Live(), pieces.size());
  // An address just past the chunk is not in it.
  const char* chunk = static_cast<char*>(pieces[NodePool::kHeapPieces]);
  EXPECT_TRUE(pool.InChunk(chunk + NodePool::kChunkBytes - 1));
  EXPECT_FALSE(pool.InChunk(chunk + NodePool::kChunkBytes));
  EXPECT_FALSE(pool.InChunk(chunk - 1));
  for (void* p : pieces) pool.Free(p);
  EXPECT_EQ(pool.Live(), 0u);
  pool.Clear();
  EXPECT_EQ(pool.ChunkBytes(), 0u);
  void* p = pool.Allocate();  // on the heap again
  EXPECT_FALSE(pool.InChunk(p));
  pool.Free(p);
}

// A pool asked for cache-line pieces rounds the size up to whole lines and starts every
// piece on one, from the heap as from a chunk, and a move keeps that (KeyMap's nodes).
// Heap pieces come from aligned new and must go back through aligned delete: a mismatch
// (plain delete of an aligned piece) passes here and is caught by the ASan build
// (new-delete-type-mismatch).
TEST(NodePoolTest, CacheLinePiecesStartOnALine) {
  NodePool pool(184, NodePool::kCacheLine);
  EXPECT_EQ(pool.PieceBytes(), 192u);
  EXPECT_EQ(pool.PieceAlign(), NodePool::kCacheLine);
  EXPECT_EQ(NodePool(184).PieceBytes(), 192u);  // 16-byte pieces: 184 rounds up the same
  EXPECT_EQ(NodePool(200).PieceBytes(), 208u);
  EXPECT_EQ(NodePool(200, NodePool::kCacheLine).PieceBytes(), 256u);
  std::vector<void*> pieces;
  for (size_t i = 0; i < 3 * NodePool::kHeapPieces; ++i) {
    pieces.push_back(pool.Allocate());
    ASSERT_TRUE(Aligned(pieces.back(), NodePool::kCacheLine)) << i;
    std::memset(pieces.back(), static_cast<int>(i & 0xFF), 192);
  }
  EXPECT_EQ(pool.ChunkBytes(), NodePool::kChunkBytes);
  NodePool moved(std::move(pool));
  EXPECT_EQ(moved.PieceAlign(), NodePool::kCacheLine);
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(static_cast<unsigned char*>(pieces[i])[191], i & 0xFF);
    moved.Free(pieces[i]);  // heap pieces go back as aligned allocations
  }
  void* p = moved.Allocate();
  EXPECT_TRUE(Aligned(p, NodePool::kCacheLine));
  moved.Free(p);
  moved.Clear();
  p = moved.Allocate();  // the heap again
  EXPECT_FALSE(moved.InChunk(p));
  EXPECT_TRUE(Aligned(p, NodePool::kCacheLine));
  moved.Free(p);
}

// Random Allocate and Free over many piece sizes, each live piece filled with its own
// byte; after each step every live piece must still hold its fill (pieces that overlap,
// or a freed piece handed out twice, would overwrite one another).
TEST(NodePoolTest, RandomizedPiecesNeverOverlap) {
  for (uint64_t seed : crdt_test::TestSeeds(6, 1500)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    crdt_test::Rng rng(seed);
    for (size_t piece_bytes : {size_t{1}, size_t{8}, size_t{24}, size_t{100}, size_t{896},
                               size_t{4000}, size_t{40'000}}) {
      SCOPED_TRACE(testing::Message() << "piece_bytes=" << piece_bytes);
      NodePool pool(piece_bytes);
      ASSERT_GE(pool.PieceBytes(), piece_bytes);
      std::vector<std::pair<unsigned char*, unsigned char>> live;
      const size_t target = 40 + rng.Uniform(3 * NodePool::kHeapPieces);
      const int steps = piece_bytes > 10'000 ? 1500 : 4000;
      for (int step = 0; step < steps; ++step) {
        if (live.empty() || (live.size() < target && !rng.OneIn(3)) || rng.OneIn(5)) {
          auto* p = static_cast<unsigned char*>(pool.Allocate());
          ASSERT_TRUE(Aligned(p, 16));
          const auto fill = static_cast<unsigned char>(rng.Next());
          std::memset(p, fill, piece_bytes);
          live.emplace_back(p, fill);
        } else {
          const size_t i = rng.Uniform(live.size());
          pool.Free(live[i].first);
          live[i] = live.back();
          live.pop_back();
        }
        ASSERT_EQ(pool.Live(), live.size());
        if (step % 97 == 0 || step == steps - 1) {
          std::map<uintptr_t, uintptr_t> ranges;  // start -> end of every live piece
          for (const auto& [p, fill] : live) {
            ASSERT_EQ(p[0], fill);
            ASSERT_EQ(p[piece_bytes / 2], fill);
            ASSERT_EQ(p[piece_bytes - 1], fill);
            ranges[reinterpret_cast<uintptr_t>(p)] = reinterpret_cast<uintptr_t>(p) + piece_bytes;
          }
          ASSERT_EQ(ranges.size(), live.size());
          uintptr_t end = 0;
          for (const auto& [start, stop] : ranges) {
            ASSERT_LE(end, start);
            end = stop;
          }
        }
      }
      for (const auto& [p, fill] : live) pool.Free(p);
      EXPECT_EQ(pool.Live(), 0u);
    }
  }
}

TEST(NodePoolTest, MovedPoolKeepsItsPieces) {
  NodePool pool(64);
  std::vector<void*> pieces;
  for (size_t i = 0; i < 2 * NodePool::kHeapPieces; ++i) {
    pieces.push_back(pool.Allocate());
    std::memset(pieces.back(), static_cast<int>(i & 0xFF), 64);
  }
  const size_t chunk_bytes = pool.ChunkBytes();
  EXPECT_GT(chunk_bytes, 0u);
  NodePool moved(std::move(pool));
  EXPECT_EQ(pool.Live(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(pool.ChunkBytes(), 0u);
  EXPECT_EQ(moved.Live(), pieces.size());
  EXPECT_EQ(moved.ChunkBytes(), chunk_bytes);
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(static_cast<unsigned char*>(pieces[i])[63], i & 0xFF);
    EXPECT_EQ(moved.InChunk(pieces[i]), i >= NodePool::kHeapPieces);
  }
  NodePool assigned(64);
  assigned.Free(assigned.Allocate());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Live(), pieces.size());
  for (void* p : pieces) assigned.Free(p);
  EXPECT_EQ(assigned.Live(), 0u);
  void* reused = assigned.Allocate();  // the last freed chunk piece
  EXPECT_EQ(reused, pieces.back());
  assigned.Free(reused);
  // The moved-from pool works again, from the heap.
  void* p = pool.Allocate();  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(pool.InChunk(p));
  pool.Free(p);
}

}  // namespace
}  // namespace crdt
