// PageArena, AllocHugePages and PrefaultForWrite (crdt/page_arena.h): alignment, zero
// fill, pieces that do not overlap and keep their bytes, block growth from the heap into
// huge-page blocks, Clear and moves; prefaulting only the whole pages of a range. Whether the
// kernel backs a block with huge pages is not checked (THP may be off); only what the code promises
// whatever it does.
#include "crdt/page_arena.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace crdt {
namespace {

bool Aligned(const void* p, size_t align) { return reinterpret_cast<uintptr_t>(p) % align == 0; }

TEST(AllocHugePagesTest, AlignedZeroedAndWritable) {
  EXPECT_EQ(HugePagesRoundUp(1), kHugePageBytes);
  EXPECT_EQ(HugePagesRoundUp(kHugePageBytes), kHugePageBytes);
  EXPECT_EQ(HugePagesRoundUp(kHugePageBytes + 1), 2 * kHugePageBytes);
  for (size_t bytes : {size_t{1}, kHugePageBytes, 3 * kHugePageBytes + 5}) {
    SCOPED_TRACE(testing::Message() << "bytes=" << bytes);
    auto* p = static_cast<unsigned char*>(AllocHugePages(bytes));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(Aligned(p, kHugePageBytes));
    const size_t n = HugePagesRoundUp(bytes);
    for (size_t i = 0; i < n; i += 4096) ASSERT_EQ(p[i], 0) << i;
    EXPECT_EQ(p[n - 1], 0);
    std::memset(p, 0xAB, n);  // every byte of the rounded size is ours
    EXPECT_EQ(p[n - 1], 0xAB);
    FreeHugePages(p, bytes);
  }
  FreeHugePages(nullptr, 0);  // no-op
}

TEST(PageArenaTest, PiecesAreAlignedDistinctAndKeepTheirBytes) {
  PageArena arena;
  EXPECT_EQ(arena.UsedBytes(), 0u);
  EXPECT_EQ(arena.BlockBytes(), 0u);
  struct Piece {
    unsigned char* p;
    size_t bytes;
    unsigned char fill;
  };
  std::vector<Piece> pieces;
  size_t used = 0;
  // Sizes that do not divide the blocks, up to well past the first huge block.
  for (size_t i = 0; used < 12 * kHugePageBytes; ++i) {
    const size_t bytes = 1 + (i * 7919) % 200'000;
    auto* p = static_cast<unsigned char*>(arena.Allocate(bytes));
    ASSERT_TRUE(Aligned(p, PageArena::kAlign));
    const auto fill = static_cast<unsigned char>(i * 31 + 1);
    std::memset(p, fill, bytes);
    pieces.push_back(Piece{p, bytes, fill});
    used += (bytes + PageArena::kAlign - 1) / PageArena::kAlign * PageArena::kAlign;
  }
  EXPECT_EQ(arena.UsedBytes(), used);
  EXPECT_GE(arena.BlockBytes(), used);
  EXPECT_GT(arena.HugeBytes(), 0u);  // the blocks grew into huge-page blocks
  EXPECT_EQ(arena.HugeBytes() % kHugePageBytes, 0u);
  EXPECT_LT(arena.HugeBytes(), arena.BlockBytes());  // the first blocks are on the heap
  for (const Piece& piece : pieces) {                // no later piece overwrote an earlier one
    for (size_t k = 0; k < piece.bytes; k += 97) ASSERT_EQ(piece.p[k], piece.fill);
    ASSERT_EQ(piece.p[piece.bytes - 1], piece.fill);
  }
  arena.Clear();
  EXPECT_EQ(arena.UsedBytes(), 0u);
  EXPECT_EQ(arena.BlockBytes(), 0u);
  EXPECT_EQ(arena.HugeBytes(), 0u);
  auto* p = static_cast<unsigned char*>(arena.Allocate(10));  // usable after Clear
  std::memset(p, 1, 10);
  EXPECT_EQ(arena.UsedBytes(), PageArena::kAlign);
}

TEST(PageArenaTest, SmallUseHoldsNoHugeBlock) {
  PageArena arena;
  for (int i = 0; i < 100; ++i) arena.Allocate(1000);
  EXPECT_EQ(arena.HugeBytes(), 0u);
  EXPECT_LT(arena.BlockBytes(), 4 * 100 * 1024u);
}

TEST(PageArenaTest, OnePieceBiggerThanABlock) {
  PageArena arena;
  const size_t big = PageArena::kMaxBlock + 12345;
  auto* p = static_cast<unsigned char*>(arena.Allocate(big));
  p[0] = 1;
  p[big - 1] = 2;
  EXPECT_GE(arena.BlockBytes(), big);
  EXPECT_EQ(p[0], 1);
  EXPECT_EQ(p[big - 1], 2);
}

TEST(PageArenaTest, MovesTakeTheBlocks) {
  PageArena a;
  auto* p = static_cast<unsigned char*>(a.Allocate(3 * kHugePageBytes));
  std::memset(p, 7, 3 * kHugePageBytes);
  const size_t held = a.BlockBytes();
  PageArena b(std::move(a));
  EXPECT_EQ(a.BlockBytes(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(b.BlockBytes(), held);
  EXPECT_EQ(p[3 * kHugePageBytes - 1], 7);
  PageArena c;
  c.Allocate(100);
  c = std::move(b);  // c's own block is given back, b's taken
  EXPECT_EQ(c.BlockBytes(), held);
  EXPECT_EQ(b.BlockBytes(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(p[0], 7);
}

#if defined(__linux__)
TEST(PrefaultForWriteTest, FaultsInTheWholePagesInsideAndKeepsTheBytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ASSERT_EQ(page, 4096u);  // PrefaultForWrite's page size
  constexpr size_t kPages = 64;
  void* raw =
      mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(raw, MAP_FAILED);
  madvise(raw, kPages * page, MADV_NOHUGEPAGE);  // residency page by page
  auto* p = static_cast<unsigned char*>(raw);
  auto resident = [&] {
    std::vector<unsigned char> vec(kPages);
    EXPECT_EQ(mincore(raw, kPages * page, vec.data()), 0);
    std::vector<bool> out;
    for (unsigned char v : vec) out.push_back((v & 1) != 0);
    return out;
  };
  std::memset(p, 0x5A, 10);                             // page 0 is resident and holds bytes
  EXPECT_FALSE(PrefaultForWrite(p + 100, page - 200));  // no whole page inside
  // Pages 1 .. kPages - 2 are whole inside; 0 and the last are cut.
  const bool done = PrefaultForWrite(p + 100, kPages * page - 200);
  const std::vector<bool> r = resident();
  EXPECT_TRUE(r[0]);
  if (done) {
    for (size_t i = 1; i + 1 < kPages; ++i) EXPECT_TRUE(r[i]) << i;
    EXPECT_FALSE(r[kPages - 1]);
  }
  for (size_t i = 0; i < kPages * page; ++i) {
    ASSERT_EQ(p[i], i < 10 ? 0x5A : 0) << i;
  }
  munmap(raw, kPages * page);
}
#endif

}  // namespace
}  // namespace crdt
