// Lattice laws of every CRDT type's Merge (see CheckLatticeLaws in properties.h): idempotent,
// commutative, associative, absorbing; deltas are absorbed by the state they came from; the
// join of a replica's deltas (in order, or shuffled with duplicates) equals its state.
#include <gtest/gtest.h>

#include "all_types.h"
#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

constexpr size_t kSeedsPerType = 200;

template <typename Traits>
class LatticeLawsTest : public testing::Test {};

TYPED_TEST_SUITE(LatticeLawsTest, AllTypes, TypeNames);

TYPED_TEST(LatticeLawsTest, HoldOnRandomStatesAndDeltas) {
  for (uint64_t seed : TestSeeds(kSeedsPerType, 1000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(CheckLatticeLaws<TypeParam>(seed, &why)) << why;
  }
}

}  // namespace
}  // namespace crdt_test
