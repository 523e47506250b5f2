// The eight CRDT types the typed property suites run over (convergence, lattice laws,
// encoding), with readable test names (ConvergenceTest/PnCounter.*).
#pragma once

#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include "properties.h"

namespace crdt_test {

using AllTypes =
    testing::Types<PnCounterTraits, LwwRegisterTraits, AwOrSetTraits, StringValueTraits,
                   OrMapTraits, KeyspaceTraits, BoundedCounterTraits, HashFloatTraits>;

class TypeNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, PnCounterTraits>) return "PnCounter";
    if (std::is_same_v<T, LwwRegisterTraits>) return "LwwRegister";
    if (std::is_same_v<T, AwOrSetTraits>) return "AwOrSet";
    if (std::is_same_v<T, StringValueTraits>) return "StringValue";
    if (std::is_same_v<T, OrMapTraits>) return "OrMap";
    if (std::is_same_v<T, BoundedCounterTraits>) return "BoundedCounter";
    if (std::is_same_v<T, HashFloatTraits>) return "HashFloat";
    return "Keyspace";
  }
};

}  // namespace crdt_test
