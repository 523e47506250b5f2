// Counts a test binary's allocations, and can make one of them throw. Linking counting_new
// (tests/CMakeLists.txt) replaces the global operator new and delete, every form but the
// aligned ones (which only the page arena uses: not counted), so only a binary of its own
// may link it: the replacement must not change how the other tests allocate (nor what a
// sanitizer checks for them).
#pragma once

#include <cstddef>

namespace aasim_test {

// Every operator new of this binary so far (the tests that read it are single-threaded).
size_t AllocationCount();

// The n-th operator new from now (1: the next) fails instead of allocating, once: a
// throwing form throws std::bad_alloc, a nothrow form returns nullptr. 0 cancels a failure
// not yet reached. For tests of what a bad_alloc leaves behind.
void FailAllocation(size_t n);

// The allocations of f().
template <typename F>
size_t AllocationsOf(F f) {
  const size_t before = AllocationCount();
  f();
  return AllocationCount() - before;
}

}  // namespace aasim_test
