#include "cluster_sim/effect_arena.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/rng.h"
#include "crdt/page_arena.h"

namespace cluster_sim {
namespace {

// Releases the arena at the end of a test, as the replicator's destructor does.
struct Owned {
  EffectArena* arena = EffectArena::New();
  ~Owned() { arena->Release(); }
};

std::string Bytes(Rng& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.Uniform(256));
  return s;
}

TEST(EffectArenaTest, BlocksHoldTheirBytesAndNeighboursFollowEachOther) {
  Owned o;
  auto a = o.arena->Make("first effect");
  auto b = o.arena->Make("");
  auto c = o.arena->Make(std::string(100, 'c'));
  EXPECT_EQ(a->bytes(), "first effect");
  EXPECT_TRUE(b->bytes().empty());
  EXPECT_EQ(c->bytes(), std::string(100, 'c'));
  EXPECT_EQ(o.arena->live(), 1u);  // one chunk holds all three
  EXPECT_EQ(o.arena->chunks(), 1u);
  EXPECT_EQ(o.arena->chunk_bytes(), EffectArena::kFirstChunkBytes);
  // One piece each, cut in sequence: the bytes follow their block, the next piece follows.
  const char* pa = reinterpret_cast<const char*>(a.get());
  const char* pc = reinterpret_cast<const char*>(c.get());
  EXPECT_GT(a->bytes().data(), pa);
  EXPECT_LT(a->bytes().data(), pa + 128);
  EXPECT_GT(pc, pa);
  EXPECT_LT(pc, pa + 256);
  // The blocks of a chunk share its count: the arena's hold and one per block.
  EXPECT_EQ(c.use_count(), 4);
  a.reset();
  b.reset();
  EXPECT_EQ(c.use_count(), 2);
  c.reset();
  EXPECT_EQ(o.arena->live(), 1u);  // the current chunk stays, and is cut from further
  auto d = o.arena->Make("after");
  EXPECT_EQ(d->bytes(), "after");
  EXPECT_EQ(o.arena->chunks(), 1u);
}

TEST(EffectArenaTest, APieceIsItsBlockThenItsBytes) {
  // Pieces are cut in sequence, 8-aligned, so a piece starts where the one before ends
  // (its bytes' end, rounded up to 8), and its bytes follow its 8-byte block: no count,
  // header or padding in between for a reader to fetch.
  Owned o;
  auto previous = o.arena->Make("the piece before");
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 100, 1000}) {
    auto b = o.arena->Make(std::string(n, 'x'));
    const char* block = reinterpret_cast<const char*>(b.get());
    const auto previous_end =
        reinterpret_cast<uintptr_t>(previous->bytes().data() + previous->bytes().size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block), (previous_end + 7) & ~uintptr_t{7}) << n;
    EXPECT_EQ(b->bytes().data(), block + sizeof(EffectBlock)) << n;
    EXPECT_EQ(b->bytes(), std::string(n, 'x')) << n;
    previous = std::move(b);
  }
}

TEST(EffectArenaTest, APieceOfASmallEffectIsAtMost64Bytes) {
  // Every reader of an effect (each peer's delivery) comes long after it was written: a
  // piece is as many bytes of memory traffic as it takes (pieces are packed, 8-aligned, so
  // a piece may straddle two lines; read in sequence, 64 bytes are a line on average). The
  // block takes 8 bytes, so an effect of up to 56 bytes takes 64: consecutive pieces are
  // that far apart at most.
  Owned o;
  for (size_t n : {0, 1, 8, 17, 24, 40, 56}) {
    auto a = o.arena->Make(std::string(n, 'a'));
    auto b = o.arena->Make(std::string(n, 'b'));
    const auto apart =
        reinterpret_cast<const char*>(b.get()) - reinterpret_cast<const char*>(a.get());
    EXPECT_LE(apart, 64) << n;
    EXPECT_EQ(a->bytes(), std::string(n, 'a'));
    EXPECT_EQ(b->bytes(), std::string(n, 'b'));
  }
}

TEST(EffectArenaTest, BigEffectsAreHeapPiecesOfTheirOwn) {
  Owned o;
  Rng rng(3);
  const std::string big = Bytes(rng, EffectArena::kMaxPieceBytes + 1);
  auto b = o.arena->Make(big);
  EXPECT_EQ(b->bytes(), big);
  EXPECT_EQ(o.arena->chunks(), 0u);
  auto s = o.arena->Make("small");
  EXPECT_EQ(o.arena->chunks(), 1u);
  EXPECT_EQ(o.arena->live(), 2u);
  b.reset();
  EXPECT_EQ(o.arena->live(), 1u);
  EXPECT_EQ(s->bytes(), "small");
}

TEST(EffectArenaTest, ChunksGrowToTheLargestAndTheArenaHoldsLittleMoreThanTheLog) {
  Owned o;
  Rng rng(5);
  std::deque<std::pair<std::string, std::shared_ptr<const EffectBlock>>> log;
  size_t log_bytes = 0;
  size_t piece_bytes = 0;  // the log's pieces: each block and its bytes, 8-aligned
  auto piece = [](size_t n) { return sizeof(EffectBlock) + (n + 7) / 8 * 8; };
  bool full = false;
  // A log of about 1 MiB (the least automatic backlog), trimmed in order, as the backlog
  // is, through 40 MiB of effects.
  for (int i = 0; i < 400'000; ++i) {
    std::string e = Bytes(rng, 20 + rng.Uniform(180));
    log_bytes += e.size();
    piece_bytes += piece(e.size());
    auto block = o.arena->Make(e);
    log.emplace_back(std::move(e), std::move(block));
    while (log_bytes > (size_t{1} << 20)) {
      ASSERT_EQ(log.front().second->bytes(), log.front().first);
      log_bytes -= log.front().first.size();
      piece_bytes -= piece(log.front().first.size());
      log.pop_front();
      full = true;
    }
    if (!full) continue;
    // Drained chunks are given back: beyond the pieces, the arena holds the oldest chunk's
    // drained start, the current chunk's room, the spare, and each chunk's head and
    // unused end (less than a line and a piece).
    ASSERT_LE(o.arena->chunk_bytes(),
              piece_bytes + (2 + EffectArena::kSpareChunks) * EffectArena::kMaxChunkBytes +
                  o.arena->chunks() * (crdt::kCacheLineBytes + piece(200)));
    // The chunks grew to the largest size: few of them hold the log (~8 here; chunks that
    // stopped at the first size, 64 KiB, would take ~19).
    ASSERT_LE(o.arena->chunks(), piece_bytes / EffectArena::kMaxChunkBytes + 4);
    // And chunks are small beside such a log: the arena holds less than twice its pieces
    // (chunks of 2 MiB held three to four times as much).
    ASSERT_LE(o.arena->chunk_bytes(), 2 * piece_bytes);
  }
  EXPECT_LE(o.arena->chunks(), o.arena->live() + EffectArena::kSpareChunks);
  for (const auto& [bytes, block] : log) ASSERT_EQ(block->bytes(), bytes);
}

TEST(EffectArenaTest, AChunkIsCutAgainOnlyOnceNoBlockOfItIsHeld) {
  Owned o;
  const std::string e(1000, 'e');
  // Grow to a chunk of the largest size, every block dropped at once.
  while (o.arena->chunk_bytes() < EffectArena::kMaxChunkBytes) o.arena->Make(e);
  auto held = o.arena->Make("held");
  // Fill three chunks' worth past it, dropping each block: the chunk it is in must not be
  // cut again while it is held, the ones drained behind it may.
  for (size_t i = 0; i < 3 * EffectArena::kMaxChunkBytes / e.size(); ++i) {
    ASSERT_EQ(o.arena->Make(e)->bytes(), e);
  }
  EXPECT_EQ(held->bytes(), "held");
  EXPECT_EQ(o.arena->live(), 2u);  // its chunk and the current one
  EXPECT_EQ(o.arena->chunks(), 2u);
  held.reset();
  EXPECT_EQ(o.arena->live(), 1u);
  EXPECT_EQ(o.arena->chunks(), 2u);  // the drained one is the spare
}

TEST(EffectArenaTest, RandomHoldersKeepTheirBytesWhateverTheOrderOfRelease) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    Owned o;
    std::vector<std::pair<std::string, std::shared_ptr<const EffectBlock>>> held;
    for (int step = 0; step < 20'000; ++step) {
      if (held.empty() || rng.Uniform(100) < 55) {
        // Mostly small, sometimes big enough to take a heap piece of its own.
        size_t n = rng.OneIn(200) ? EffectArena::kMaxPieceBytes + rng.Uniform(1000)
                                  : rng.Uniform(rng.OneIn(10) ? 5000 : 120);
        std::string e = Bytes(rng, n);
        auto block = o.arena->Make(e);
        held.emplace_back(std::move(e), std::move(block));
      } else {
        // Oldest first mostly (the backlog), any one sometimes (a message in flight).
        size_t i = rng.OneIn(4) ? rng.Uniform(held.size()) : 0;
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      }
      if (step % 97 == 0) {
        // Each live chunk or heap piece is the current chunk or holds a held block.
        ASSERT_LE(o.arena->live(), held.size() + 1);
        for (const auto& [bytes, block] : held) ASSERT_EQ(block->bytes(), bytes);
      }
    }
    for (const auto& [bytes, block] : held) ASSERT_EQ(block->bytes(), bytes);
    held.clear();
    // Nothing held: every chunk but the current one is given back (or kept as the spare).
    EXPECT_EQ(o.arena->live(), 1u);
    EXPECT_LE(o.arena->chunks(), 2u);
  }
}

TEST(EffectArenaTest, BlocksOutliveTheReleasedArena) {
  Rng rng(9);
  EffectArena* arena = EffectArena::New();
  std::vector<std::pair<std::string, std::shared_ptr<const EffectBlock>>> held;
  for (int i = 0; i < 5'000; ++i) {
    std::string e = Bytes(rng, rng.Uniform(300));
    auto block = arena->Make(e);
    if (i % 7 == 0) held.emplace_back(std::move(e), std::move(block));
  }
  held.emplace_back(std::string(EffectArena::kMaxPieceBytes + 5, 'x'),
                    arena->Make(std::string(EffectArena::kMaxPieceBytes + 5, 'x')));
  arena->Release();  // the messages in flight still hold their blocks
  for (const auto& [bytes, block] : held) ASSERT_EQ(block->bytes(), bytes);
  held.clear();  // the last one deletes the arena (a leak or a double free fails under ASan)
}

}  // namespace
}  // namespace cluster_sim
