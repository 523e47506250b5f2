// Convergence of 3-5 replicas under random operations and hostile delivery (random order,
// duplicates, delta groups, loss then retransmission, full-state merges), checked against the
// independent sequential model of properties.h (see CheckConvergence).
#include <gtest/gtest.h>

#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

constexpr size_t kSeedsPerType = 200;

template <typename Traits>
class ConvergenceTest : public testing::Test {};

using AllTypes = testing::Types<PnCounterTraits, LwwRegisterTraits, AwOrSetTraits,
                                StringValueTraits, OrMapTraits, KeyspaceTraits>;
class TypeNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, PnCounterTraits>) return "PnCounter";
    if (std::is_same_v<T, LwwRegisterTraits>) return "LwwRegister";
    if (std::is_same_v<T, AwOrSetTraits>) return "AwOrSet";
    if (std::is_same_v<T, StringValueTraits>) return "StringValue";
    if (std::is_same_v<T, OrMapTraits>) return "OrMap";
    return "Keyspace";
  }
};
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
