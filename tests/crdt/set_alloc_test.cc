// What a std::bad_alloc leaves in a SetStore: a set whose index cannot be built or grown
// keeps every entry it had, each found, and takes the element once memory is there; a copy
// assignment that cannot allocate the index leaves an empty store, not one that says it
// has an index it does not hold; a move to another heap that cannot allocate leaves every
// block in the heap that made it. Its own test binary: it makes an allocation throw
// (counting_new.h).
#include <cstddef>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "counting_new.h"
#include "crdt/aw_or_set.h"
#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/value_heap.h"

namespace crdt {
namespace {

constexpr ReplicaId kA = MakeReplicaId(1, 1);

std::string Elem(size_t i) { return "e" + std::to_string(i); }  // short: inline, no heap

// Adds Elem(first) .. Elem(end - 1) to *s, each with a fresh dot of kA.
void AddElems(SetStore* s, CausalContext* cc, size_t first, size_t end) {
  for (size_t i = first; i < end; ++i) s->Add(Elem(i), kA, cc, nullptr, nullptr);
}
void AddElems(SetStore* s, CausalContext* cc, size_t n) { AddElems(s, cc, 0, n); }

// Every one of Elem(0) .. Elem(n - 1) is found in s.
void ExpectHoldsElems(const SetStore& s, size_t n) {
  for (size_t i = 0; i < n; ++i) EXPECT_TRUE(s.Contains(Elem(i))) << i;
}

// Adds e while the next allocation throws: the insert needs one (the index) and must leave
// the set as it was, every element found; then adds e with memory there.
void ExpectAddSurvivesBadAlloc(SetStore* s, CausalContext* cc, size_t n) {
  ASSERT_EQ(s->size(), n);
  aasim_test::FailAllocation(1);
  EXPECT_THROW(s->Add(Elem(n), kA, cc, nullptr, nullptr), std::bad_alloc);
  aasim_test::FailAllocation(0);
  ASSERT_TRUE(s->IndexConsistent());
  EXPECT_EQ(s->size(), n);
  EXPECT_EQ(s->entry_count(), n);
  EXPECT_FALSE(s->Contains(Elem(n)));
  ExpectHoldsElems(*s, n);
  EXPECT_TRUE(s->Add(Elem(n), kA, cc, nullptr, nullptr));
  ASSERT_TRUE(s->IndexConsistent());
  EXPECT_EQ(s->entry_count(), n + 1);
  ExpectHoldsElems(*s, n + 1);
}

// The 33rd entry builds the index (from the tags); the 52nd grows it (load above 0.8 of 64
// slots). Neither needs a larger entry array at that size (capacities 42 and 63), so the
// one allocation that throws is the index's.
TEST(SetStoreAllocTest, AnInsertWhoseIndexCannotBeBuiltOrGrownLeavesTheSetAsItWas) {
  CausalContext cc;
  SetStore s;
  AddElems(&s, &cc, 32);
  ASSERT_NO_FATAL_FAILURE(ExpectAddSurvivesBadAlloc(&s, &cc, 32));
  AddElems(&s, &cc, 33, 51);
  ASSERT_NO_FATAL_FAILURE(ExpectAddSurvivesBadAlloc(&s, &cc, 51));
}

// The copy of a 40-entry set allocates its entry array, then its index (short elements
// and one replica allocate nothing more): the index's allocation throws. The store left
// behind is empty and consistent (not one whose index is null while it says it has one),
// and takes a copy once memory is there.
TEST(SetStoreAllocTest, ACopyAssignmentWhoseIndexCannotBeAllocatedLeavesAnEmptyStore) {
  CausalContext cc;
  SetStore from;
  AddElems(&from, &cc, 40);
  SetStore to;
  to.Add("old", kA, &cc, nullptr, nullptr);
  aasim_test::FailAllocation(2);
  EXPECT_THROW(to = from, std::bad_alloc);
  aasim_test::FailAllocation(0);
  ASSERT_TRUE(to.IndexConsistent());
  EXPECT_EQ(to.entry_count(), 0u);
  EXPECT_EQ(to.MemoryBytes(), 0u);
  EXPECT_FALSE(to.Contains(Elem(0)));
  EXPECT_FALSE(to.Contains("old"));
  to = from;
  ASSERT_TRUE(to.IndexConsistent());
  EXPECT_TRUE(to == from);
}

// An armed failure that falls on a nothrow operator new fails it too (returns null), so a
// count given to FailAllocation is not skipped past by a nothrow allocation.
TEST(SetStoreAllocTest, AFailureArmedOnANothrowNewMakesItReturnNull) {
  aasim_test::FailAllocation(1);
  int* p = new (std::nothrow) int(1);
  aasim_test::FailAllocation(0);
  EXPECT_EQ(p, nullptr);
  delete p;
}

// A 40-entry set on a ValueHeap holds two pieces of it (entry array, index). Moving it to
// the ordinary heap allocates the entry array, then the index: the index's allocation
// throws (the ordinary heap is operator new). Nothing moved: both pieces are still the
// heap's, the store still uses it and finds every element, and the move succeeds once
// memory is there.
TEST(SetStoreAllocTest, AUseHeapThatCannotAllocateLeavesTheStoreOnItsHeap) {
  ValueHeap* h = ValueHeap::New();
  {
    CausalContext cc;
    SetStore s;
    s.UseHeap(h);
    AddElems(&s, &cc, 40);
    ASSERT_EQ(h->Live(), 2u);
    aasim_test::FailAllocation(2);
    EXPECT_THROW(s.UseHeap(nullptr), std::bad_alloc);
    aasim_test::FailAllocation(0);
    EXPECT_EQ(s.heap(), h);
    EXPECT_EQ(h->Live(), 2u);
    ASSERT_TRUE(s.IndexConsistent());
    ExpectHoldsElems(s, 40);
    s.UseHeap(nullptr);
    EXPECT_EQ(h->Live(), 0u);
    ASSERT_TRUE(s.IndexConsistent());
    ExpectHoldsElems(s, 40);
  }
  ValueHeap::Release(h);
}

// The same failure in a move assignment from a store on a ValueHeap to one on the ordinary
// heap: the target is left empty, the source as it was (its two pieces still the heap's),
// and the move succeeds once memory is there.
TEST(SetStoreAllocTest, AMoveBetweenHeapsThatCannotAllocateLeavesTheSourceAsItWas) {
  ValueHeap* h = ValueHeap::New();
  {
    CausalContext cc;
    SetStore from;
    from.UseHeap(h);
    AddElems(&from, &cc, 40);
    SetStore to;
    to.Add("old", kA, &cc, nullptr, nullptr);
    aasim_test::FailAllocation(2);
    EXPECT_THROW(to = std::move(from), std::bad_alloc);
    aasim_test::FailAllocation(0);
    EXPECT_EQ(h->Live(), 2u);
    ASSERT_TRUE(to.IndexConsistent());
    EXPECT_EQ(to.entry_count(), 0u);
    ASSERT_TRUE(from.IndexConsistent());
    EXPECT_EQ(from.heap(), h);
    ExpectHoldsElems(from, 40);
    to = std::move(from);
    EXPECT_EQ(h->Live(), 0u);
    EXPECT_EQ(to.heap(), nullptr);
    ASSERT_TRUE(to.IndexConsistent());
    ExpectHoldsElems(to, 40);
  }
  ValueHeap::Release(h);
}

}  // namespace
}  // namespace crdt
