#include "counting_new.h"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

size_t g_allocations = 0;  // every operator new of this binary (single-threaded tests)
size_t g_fail_at = 0;      // the value of g_allocations whose operator new throws; 0: none

void* CountedAlloc(std::size_t n) {
  if (++g_allocations == g_fail_at) {
    g_fail_at = 0;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

}  // namespace

namespace aasim_test {

size_t AllocationCount() { return g_allocations; }

void FailAllocation(size_t n) { g_fail_at = n == 0 ? 0 : g_allocations + n; }

}  // namespace aasim_test

// GCC takes the free() below for a mismatch with the operator new it inlined into a
// caller; here they match (both sides are these replacements).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) { return CountedAlloc(n); }
void* operator new[](std::size_t n) { return CountedAlloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  // An armed failure that falls on a nothrow form fails it the nothrow way, so it still fires.
  if (++g_allocations == g_fail_at) {
    g_fail_at = 0;
    return nullptr;
  }
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
