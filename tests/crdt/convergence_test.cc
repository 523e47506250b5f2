// Convergence of 3-5 replicas under random operations and hostile delivery (random order,
// duplicates, delta groups, loss then retransmission, full-state merges), checked against the
// independent sequential model of properties.h (see CheckConvergence).
#include <gtest/gtest.h>

#include "all_types.h"
#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

constexpr size_t kSeedsPerType = 200;

template <typename Traits>
class ConvergenceTest : public testing::Test {};

TYPED_TEST_SUITE(ConvergenceTest, AllTypes, TypeNames);

TYPED_TEST(ConvergenceTest, ReplicasConvergeToTheModel) {
  for (uint64_t seed : TestSeeds(kSeedsPerType, 5000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(CheckConvergence<TypeParam>(seed, &why)) << why;
  }
}

// Long runs on the keyspace: more operations between syncs, so more concurrency.
TEST(KeyspaceConvergence, LongRuns) {
  ConvergenceOptions opt;
  opt.min_steps = 200;
  opt.max_steps = 300;
  opt.local_check_every = 10;
  for (uint64_t seed : TestSeeds(20, 9000)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::string why;
    ASSERT_TRUE(CheckConvergence<KeyspaceTraits>(seed, &why, opt)) << why;
  }
}

}  // namespace
}  // namespace crdt_test
