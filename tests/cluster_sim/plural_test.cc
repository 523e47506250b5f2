#include "cluster_sim/plural.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace cluster_sim {
namespace {

TEST(PluralTest, OneTakesTheSingularEveryOtherCountThePlural) {
  EXPECT_EQ(Plural(0, "step"), "0 steps");
  EXPECT_EQ(Plural(1, "step"), "1 step");
  EXPECT_EQ(Plural(2, "step"), "2 steps");
  EXPECT_EQ(Plural(-1, "step"), "-1 steps");
  EXPECT_EQ(Plural(size_t{1}, "unreplicated write"), "1 unreplicated write");
  EXPECT_EQ(Plural(std::numeric_limits<uint64_t>::max(), "write"), "18446744073709551615 writes");
}

TEST(PluralTest, AnIrregularPluralIsGiven) {
  EXPECT_EQ(Plural(1, "entry", "entries"), "1 entry");
  EXPECT_EQ(Plural(3, "entry", "entries"), "3 entries");
  EXPECT_EQ(Plural(0, "entry", "entries"), "0 entries");
}

}  // namespace
}  // namespace cluster_sim
