// CountedBTree: an ordered set of small trivially copyable values with ranks, as a B+-tree
// whose inner nodes keep, per child, the child's smallest value and its number of values.
// It is the ordered index of a sorted set (ZsetStore): ranks (ZRANK, ZRANGE by index,
// ZREMRANGEBYRANK) come from the counts, score ranges from lower_bound.
//
//   inner node: n children, per child { smallest value, count of values, pointer }
//   leaf:       n values in order, and its neighbours (leaves form a doubly linked list)
//
// A leaf holds up to kLeafCap values (64 of 16 bytes: one kilobyte), an inner node up to
// kInnerCap children, so a million values are three or four levels: an insert or lookup
// reads four or five nodes where a binary tree reads twenty, and the values a search
// compares sit together in cache lines. Insert and erase are O(log n) node visits plus a
// shift inside one leaf (at most kLeafCap values moved); a leaf below a quarter full is
// merged with, or refilled from, a neighbour. A tree that is one leaf starts with room
// for 4 values and doubles it as it fills (a three-member sorted set holds 88 bytes).
//
// The smallest value of every child is exact (not a mere bound): values may hold pointers
// to data that dies with them (a sorted set's member names), so the tree never keeps a
// copy of a value it no longer holds.
//
// Search inside a node: when Less has a static Key(const T&) returning a number such that
// Key(a) < Key(b) implies Less(a, b) and Less(a, b) implies Key(a) <= Key(b) (a sorted
// set's score), a node is searched key first, without branches, over the keys alone;
// Less itself (which may read through pointers) only orders values of equal keys. An
// inner node keeps its children's smallest keys in an array of their own beside its
// header (64 doubles for a sorted set: 8 cache lines, where the values they come from span
// 24), and finds the child in two rounds of independent loads instead of a binary search's
// chain of dependent ones: the first key of each run of 8, then the 8 keys of the run
// where x falls.
//
//   inner node (keyed): header | key[N] (padded past n) | min[N] (values) | count[N] | kid[N]
//
// Hinted insert: Locate(y) walks down to the leaf where y belongs, requests its cache
// lines and records the path; insert(x, hint) for some x >= y then starts at that leaf
// (the walk is not repeated) when the hint still holds: no node was created, freed or
// rebalanced since (a shape number, bumped by each such change, tells; values inserted
// or erased inside leaves leave the recorded path valid), x lies in the leaf's range (at
// or above its first value, below the next leaf's smallest, read through the path), and
// the leaf has room. Otherwise it walks as insert(x) does. So several values can be
// located first and inserted afterwards, each with its own hint.
//
// Node memory: full-size leaves and inner nodes are pieces of two NodePools owned by the
// tree (node_pool.h), one per kind so that neither is rounded up to the other's size; a big
// tree's nodes sit in huge pages (a leaf is a random access at every insert); clear() gives
// them all back. A lone small leaf is on the heap, and so are a small tree's first pooled
// nodes: it holds no huge page.
//
// Interface of __gnu_pbds's order-statistics tree where it overlaps (insert, erase,
// lower_bound, find, order_of_key, find_by_order, bidirectional iteration; --end() is the
// last value). Every modification invalidates all iterators.
// REQUIRES: T trivially copyable; Less a strict weak order, stateless, and its
// equivalence is equality for the values stored (a value is found by comparisons only).
// Not thread-safe; not copyable, movable.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include "crdt/node_pool.h"

namespace crdt {

namespace counted_btree_internal {
template <typename T, typename Less, bool kKeyed>
struct KeyTypeOf {
  using type = char;  // no key: a placeholder
};
template <typename T, typename Less>
struct KeyTypeOf<T, Less, true> {
  using type = std::remove_cvref_t<decltype(Less::Key(std::declval<const T&>()))>;
};
}  // namespace counted_btree_internal

template <typename T, typename Less, int kLeafCap = 64, int kInnerCap = 32>
class CountedBTree {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert(kLeafCap >= 8 && kInnerCap >= 8);

  struct Node {
    bool leaf;
    bool above_leaves;  // an inner node whose children are leaves
    uint16_t n;         // values (leaf) or children (inner)
    uint16_t cap;       // leaves: room for values (kLeafCap but in a lone small root leaf)
  };
  // The values follow the leaf in the same allocation.
  struct Leaf : Node {
    Leaf* prev;
    Leaf* next;
    T* v() { return reinterpret_cast<T*>(this + 1); }
    const T* v() const { return reinterpret_cast<const T*>(this + 1); }
  };
  static_assert(alignof(T) <= alignof(Leaf) && sizeof(Leaf) % alignof(T) == 0);
  static constexpr bool kKeyed = requires(const T& v) { Less::Key(v); };
  // Less::Key's type when kKeyed (a node's keys are searched before any value).
  using Key = typename counted_btree_internal::KeyTypeOf<T, Less, kKeyed>::type;
  // An inner node's keys are searched in runs of 8 (about a cache line of doubles: the
  // array starts after the node's header, so a run may straddle two); its key slots past
  // its children hold kPadKey (+inf, or the key type's maximum), above or equal to any key,
  // so a count of the keys below k needs no bound.
  static constexpr size_t kKeyRun = 8;
  static constexpr size_t kKeySlots = (kInnerCap + kKeyRun - 1) / kKeyRun * kKeyRun;
  static constexpr Key kPadKey = std::numeric_limits<Key>::has_infinity
                                     ? std::numeric_limits<Key>::infinity()
                                     : std::numeric_limits<Key>::max();
  struct Inner : Node {
    // Key of each child's smallest value (kKeyed), next to the header: a search reads these
    // few lines (256 bytes for 32 doubles) and a value only among equal keys. Whole runs of
    // kKeyRun (KeysBelow); the slots past n hold kPadKey.
    Key key[kKeyed ? kKeySlots : 1];
    T min[kInnerCap];         // smallest value of each child
    size_t count[kInnerCap];  // values in each child
    Node* kid[kInnerCap];
  };
  // Bytes of a pooled full-size leaf and of an inner node, whole cache lines (each kind has
  // a pool of its own, so neither is rounded up to the other's size).
  static constexpr size_t WholeLines(size_t bytes) {
    return (bytes + PageArena::kAlign - 1) & ~(PageArena::kAlign - 1);
  }
  static constexpr size_t kLeafSlotBytes = WholeLines(sizeof(Leaf) + kLeafCap * sizeof(T));
  static constexpr size_t kInnerSlotBytes = WholeLines(sizeof(Inner));
  // Deeper than any tree of 2^64 values (inner nodes hold at least kInnerCap / 4 children).
  static constexpr int kMaxDepth = 32;

 public:
  // Where Locate found a leaf (see the header comment); default: no hint.
  class Hint {
   public:
    Hint() = default;

   private:
    friend class CountedBTree;
    Leaf* leaf_ = nullptr;  // null: none
    uint64_t shape_ = 0;
    int depth_ = 0;
    Inner* path_[kMaxDepth];  // the inner nodes from the root down, and the child taken
    uint16_t child_[kMaxDepth];
  };

  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    reference operator*() const { return leaf_->v()[pos_]; }
    pointer operator->() const { return &leaf_->v()[pos_]; }
    const_iterator& operator++() {
      if (++pos_ == leaf_->n) {
        leaf_ = leaf_->next;
        pos_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    const_iterator& operator--() {  // REQUIRES: not begin()
      if (leaf_ == nullptr) {
        leaf_ = tree_->last_;
        pos_ = leaf_->n - 1;
      } else if (pos_ == 0) {
        leaf_ = leaf_->prev;
        pos_ = leaf_->n - 1;
      } else {
        --pos_;
      }
      return *this;
    }
    const_iterator operator--(int) {
      const_iterator old = *this;
      --*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.leaf_ == b.leaf_ && a.pos_ == b.pos_;
    }

   private:
    friend class CountedBTree;
    const_iterator(const CountedBTree* tree, const Leaf* leaf, size_t pos)
        : tree_(tree), leaf_(leaf), pos_(pos) {}
    const CountedBTree* tree_ = nullptr;
    const Leaf* leaf_ = nullptr;  // null: end()
    size_t pos_ = 0;
  };
  using iterator = const_iterator;

  CountedBTree() = default;
  CountedBTree(const CountedBTree&) = delete;
  CountedBTree& operator=(const CountedBTree&) = delete;
  CountedBTree(CountedBTree&& other) noexcept { Swap(other); }
  CountedBTree& operator=(CountedBTree&& other) noexcept {
    if (this != &other) {
      clear();
      Swap(other);
    }
    return *this;
  }
  ~CountedBTree() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    if (root_ != nullptr) Free(root_);
    leaf_pool_.Clear();  // every node was freed: the chunks go back
    inner_pool_.Clear();
    root_ = nullptr;
    first_ = last_ = nullptr;
    size_ = 0;
    ++shape_;
  }

  const_iterator begin() const { return const_iterator(this, first_, 0); }
  const_iterator end() const { return const_iterator(this, nullptr, 0); }
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }

  // Inserts x; returns false (and changes nothing) if an equivalent value is present.
  bool insert(const T& x) {
    if (root_ == nullptr) {
      root_ = first_ = last_ = NewLeaf(kFirstLeafCap);
    } else if (root_->leaf && root_->n == root_->cap && root_->cap < kLeafCap) {
      // A lone leaf grows by doubling, so a small set holds a small node.
      Leaf* old = static_cast<Leaf*>(root_);
      Leaf* l = NewLeaf(std::min<size_t>(2 * size_t{old->cap}, kLeafCap));
      Move(l->v(), old->v(), old->n);
      l->n = old->n;
      DeleteLeaf(old);
      root_ = first_ = last_ = l;
    }
    Node* split = nullptr;
    if (!Insert(root_, x, &split)) return false;
    if (split != nullptr) {
      Inner* r = NewInner(root_->leaf);
      r->n = 2;
      r->kid[0] = root_;
      r->kid[1] = split;
      r->count[1] = Count(split);
      r->count[0] = size_ + 1 - r->count[1];
      SetMin(r, 0, Min(root_));
      SetMin(r, 1, Min(split));
      root_ = r;
    }
    ++size_;
    return true;
  }

  // Records in *hint the leaf where y belongs and the path to it, and starts loading the
  // leaf's cache lines, for an insert(x, *hint) with x >= y after other work.
  void Locate(const T& y, Hint* hint) const {
    hint->leaf_ = nullptr;
    if (root_ == nullptr) return;
    Node* node = root_;
    size_t values = size_;  // in node
    int depth = 0;
    // The leaf's own bytes are not read here (its header would be a demand miss that
    // stalls the walk): the parent says its children are leaves, and how many values each
    // holds, so only the lines in use (and the next value's) are requested.
    for (bool at_leaf = node->leaf; !at_leaf;) {
      if (depth == kMaxDepth) return;
      Inner* in = static_cast<Inner*>(node);
      const size_t c = ChildFor(in, y);
      hint->path_[depth] = in;
      hint->child_[depth] = static_cast<uint16_t>(c);
      ++depth;
      node = in->kid[c];
      values = in->count[c];
      at_leaf = in->above_leaves;
    }
    PrefetchLeaf(node, values);
    hint->leaf_ = static_cast<Leaf*>(node);
    hint->shape_ = shape_;
    hint->depth_ = depth;
  }

  // insert(x) that starts at hint's leaf when the hint holds (see the header comment).
  // REQUIRES: hint is default or was filled by this tree's Locate(y) with y <= x.
  bool insert(const T& x, const Hint& hint) {
    Leaf* l = hint.leaf_;
    if (l == nullptr || hint.shape_ != shape_ || l->n == l->cap || l->n == 0 ||
        (l != first_ && Less()(x, l->v()[0]))) {
      return insert(x);
    }
    // The next leaf's smallest value is the deepest ancestor's next child's.
    for (int d = hint.depth_ - 1; d >= 0; --d) {
      const Inner* in = hint.path_[d];
      const size_t c = hint.child_[d];
      if (c + 1 < in->n) {
        if (!Less()(x, in->min[c + 1])) return insert(x);
        break;
      }
    }
    const size_t pos = LeafLowerBound(l, x);
    if (pos < l->n && !Less()(x, l->v()[pos])) return false;
    Move(l->v() + pos + 1, l->v() + pos, l->n - pos);
    l->v()[pos] = x;
    ++l->n;
    for (int d = hint.depth_ - 1; d >= 0; --d) {
      Inner* in = hint.path_[d];
      const size_t c = hint.child_[d];
      ++in->count[c];
      if (Less()(x, in->min[c])) SetMin(in, c, x);
    }
    ++size_;
    return true;
  }

  // Erases the value equivalent to x; returns how many were erased (0 or 1).
  size_t erase(const T& x) {
    if (root_ == nullptr || !Erase(root_, x)) return 0;
    --size_;
    if (root_->leaf) {
      if (root_->n == 0) clear();
    } else if (root_->n == 1) {
      Inner* old = static_cast<Inner*>(root_);
      root_ = old->kid[0];
      DeleteInner(old);
    }
    return 1;
  }

  // First value not less than x.
  const_iterator lower_bound(const T& x) const {
    if (root_ == nullptr) return end();
    const Node* node = root_;
    while (!node->leaf) {
      const Inner* in = static_cast<const Inner*>(node);
      node = in->kid[ChildFor(in, x)];
    }
    const Leaf* l = static_cast<const Leaf*>(node);
    const size_t pos = LeafLowerBound(l, x);
    if (pos == l->n) return const_iterator(this, l->next, 0);
    return const_iterator(this, l, pos);
  }
  const_iterator find(const T& x) const {
    const_iterator it = lower_bound(x);
    if (it == end() || Less()(x, *it)) return end();
    return it;
  }
  // Number of values less than x.
  size_t order_of_key(const T& x) const {
    if (root_ == nullptr) return 0;
    size_t rank = 0;
    const Node* node = root_;
    while (!node->leaf) {
      const Inner* in = static_cast<const Inner*>(node);
      const size_t c = ChildFor(in, x);
      for (size_t i = 0; i < c; ++i) rank += in->count[i];
      node = in->kid[c];
    }
    return rank + LeafLowerBound(static_cast<const Leaf*>(node), x);
  }
  // The value of rank k (0-based), or end() when k >= size().
  const_iterator find_by_order(size_t k) const {
    if (k >= size_) return end();
    const Node* node = root_;
    while (!node->leaf) {
      const Inner* in = static_cast<const Inner*>(node);
      size_t c = 0;
      while (k >= in->count[c]) k -= in->count[c++];
      node = in->kid[c];
    }
    return const_iterator(this, static_cast<const Leaf*>(node), k);
  }

  // Starts loading the leaf where x belongs, for a caller that inserts or looks up x after
  // other work: the inner nodes are read now, the leaf's cache lines only requested.
  void Prefetch(const T& x) const {
    if (root_ == nullptr) return;
    const Node* node = root_;
    size_t values = size_;
    for (bool at_leaf = node->leaf; !at_leaf;) {  // as Locate: the leaf is not read
      const Inner* in = static_cast<const Inner*>(node);
      const size_t c = ChildFor(in, x);
      node = in->kid[c];
      values = in->count[c];
      at_leaf = in->above_leaves;
    }
    PrefetchLeaf(node, values);
  }

  // Bytes of the nodes (leaves and inner nodes) this tree holds.
  size_t MemoryBytes() const { return root_ == nullptr ? 0 : Bytes(root_); }

 private:
  static constexpr size_t kFirstLeafCap = 4;
  static constexpr size_t kLeafMin = kLeafCap / 4;
  static constexpr size_t kInnerMin = kInnerCap / 4;

  Leaf* NewLeaf(size_t cap) {
    ++shape_;
    void* p =
        cap == kLeafCap ? leaf_pool_.Allocate() : ::operator new(sizeof(Leaf) + cap * sizeof(T));
    Leaf* l = new (p) Leaf;
    l->leaf = true;
    l->above_leaves = false;
    l->n = 0;
    l->cap = static_cast<uint16_t>(cap);
    l->prev = l->next = nullptr;
    return l;
  }
  void DeleteLeaf(Leaf* l) {
    ++shape_;
    if (l->cap == kLeafCap) {
      leaf_pool_.Free(l);
    } else {
      ::operator delete(l);
    }
  }
  // Requests the cache lines of a leaf holding `values` values, up to the line of the
  // value an insert would add: a leaf is on average two thirds full, and each line is a
  // memory access at 1M values, which takes one of the core's few line fill buffers.
  static void PrefetchLeaf(const Node* node, size_t values) {
    // A prefetch never faults, so a small lone leaf needs no bound.
    const char* p = reinterpret_cast<const char*>(node);
    const size_t end = sizeof(Leaf) + std::min<size_t>(values + 1, kLeafCap) * sizeof(T);
    for (size_t off = 0; off < end; off += kCacheLineBytes) __builtin_prefetch(p + off);
  }
  Inner* NewInner(bool above_leaves) {
    ++shape_;
    Inner* in = new (inner_pool_.Allocate()) Inner;
    in->leaf = false;
    in->above_leaves = above_leaves;
    in->n = 0;
    PadKeys(in);
    return in;
  }
  // Sets in's key slots past its children to kPadKey (after its number of children fell).
  static void PadKeys(Inner* in) {
    if constexpr (kKeyed) std::fill(in->key + in->n, in->key + kKeySlots, kPadKey);
  }
  void DeleteInner(Inner* in) {
    ++shape_;
    inner_pool_.Free(in);
  }
  // Frees node and every node under it: a small pool's pieces are heap allocations of
  // their own (node_pool.h), so each goes back one by one (one visit per node).
  void Free(Node* node) {
    if (node->leaf) return DeleteLeaf(static_cast<Leaf*>(node));
    Inner* in = static_cast<Inner*>(node);
    for (size_t i = 0; i < in->n; ++i) Free(in->kid[i]);
    DeleteInner(in);
  }
  static size_t Bytes(const Node* node) {
    if (node->leaf)
      return node->cap == kLeafCap ? kLeafSlotBytes : sizeof(Leaf) + node->cap * sizeof(T);
    const Inner* in = static_cast<const Inner*>(node);
    size_t n = kInnerSlotBytes;
    for (size_t i = 0; i < in->n; ++i) n += Bytes(in->kid[i]);
    return n;
  }
  void Swap(CountedBTree& o) {
    std::swap(root_, o.root_);
    std::swap(first_, o.first_);
    std::swap(last_, o.last_);
    std::swap(size_, o.size_);
    std::swap(leaf_pool_, o.leaf_pool_);
    std::swap(inner_pool_, o.inner_pool_);
    ++shape_;
    ++o.shape_;
  }

  static const T& Min(const Node* node) {
    return node->leaf ? static_cast<const Leaf*>(node)->v()[0]
                      : static_cast<const Inner*>(node)->min[0];
  }
  static size_t Count(const Node* node) {
    if (node->leaf) return node->n;
    const Inner* in = static_cast<const Inner*>(node);
    size_t n = 0;
    for (size_t i = 0; i < in->n; ++i) n += in->count[i];
    return n;
  }
  // Index of the first of v[0, n) whose key (KeyOf) is not below k (kAbove: whose key is
  // above k), without branches. REQUIRES: kKeyed.
  static Key KeyOf(const T& v) { return Less::Key(v); }
  static Key KeyOf(const Key& k) { return k; }
  template <bool kAbove, typename U>
  [[gnu::always_inline]] static size_t KeyBound(const U* v, size_t n, Key k) {
    if (n == 0) return 0;
    const U* base = v;
    while (n > 1) {
      const size_t half = n / 2;
      const Key key = KeyOf(base[half - 1]);
      base += (kAbove ? key <= k : key < k) ? half : 0;
      n -= half;
    }
    const Key key = KeyOf(*base);
    return static_cast<size_t>(base - v) + ((kAbove ? key <= k : key < k) ? 1 : 0);
  }
  // Index of the first of v[lo, hi) that x is below (Less(x, v)), else hi.
  static size_t FirstAbove(const T* v, size_t lo, size_t hi, const T& x) {
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (Less()(x, v[mid])) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }
  // Index of the first of v[lo, hi) that is not below x (!Less(v, x)), else hi.
  static size_t FirstNotBelow(const T* v, size_t lo, size_t hi, const T& x) {
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (Less()(v[mid], x)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // Number of in's children whose key is below k, in two rounds of independent loads (not
  // a binary search's chain of dependent ones): the first key of each run of kKeyRun (one
  // cache line each), then the keys of the run where k falls. REQUIRES: kKeyed.
  [[gnu::always_inline]] static size_t KeysBelow(const Inner* in, Key k) {
    size_t runs = 0;  // runs after the first whose first key is below k
    for (size_t j = kKeyRun; j < kKeySlots; j += kKeyRun) runs += in->key[j] < k;
    const Key* run = in->key + runs * kKeyRun;
    size_t below = runs * kKeyRun;
    for (size_t t = 0; t < kKeyRun; ++t) below += run[t] < k;
    return below;
  }
  // The child whose range holds x: the last child whose smallest value is <= x (child 0
  // when x is below every child).
  [[gnu::always_inline]] static size_t ChildFor(const Inner* in, const T& x) {
    const size_t n = in->n;
    if constexpr (kKeyed) {
      // Children [1, lo) have smaller keys, [hi, n) larger ones; Less orders the ties.
      const Key k = Less::Key(x);
      const size_t lo = std::max<size_t>(KeysBelow(in, k), 1);
      if (lo == n || in->key[lo] != k) return lo - 1;
      const size_t hi = lo + KeyBound<true>(in->key + lo, n - lo, k);
      return FirstAbove(in->min, lo, hi, x) - 1;
    } else {
      return FirstAbove(in->min, 1, n, x) - 1;
    }
  }
  [[gnu::always_inline]] static size_t LeafLowerBound(const Leaf* l, const T& x) {
    const size_t n = l->n;
    const T* v = l->v();
    if constexpr (kKeyed) {
      const Key k = Less::Key(x);
      const size_t lo = KeyBound<false>(v, n, k);
      if (lo == n || Less::Key(v[lo]) != k) return lo;
      const size_t hi = lo + KeyBound<true>(v + lo, n - lo, k);
      return FirstNotBelow(v, lo, hi, x);
    } else {
      return FirstNotBelow(v, 0, n, x);
    }
  }
  // Moves values [from, from + n) of an array of T (memmove: ranges may overlap).
  static void Move(T* dst, const T* src, size_t n) { std::memmove(dst, src, n * sizeof(T)); }
  template <typename U>
  static void MoveRaw(U* dst, const U* src, size_t n) {
    std::memmove(dst, src, n * sizeof(U));
  }
  // Moves children [from, from + n) of src to [to, to + n) of dst (ranges may overlap).
  static void MoveChildren(Inner* dst, size_t to, const Inner* src, size_t from, size_t n) {
    if constexpr (kKeyed) MoveRaw(dst->key + to, src->key + from, n);
    MoveRaw(dst->min + to, src->min + from, n);
    MoveRaw(dst->count + to, src->count + from, n);
    MoveRaw(dst->kid + to, src->kid + from, n);
  }
  static void SetMin(Inner* in, size_t c, const T& v) {
    in->min[c] = v;
    if constexpr (kKeyed) in->key[c] = Less::Key(v);
  }

  // Inserts x under node; on a split, *split is the new right sibling of node.
  bool Insert(Node* node, const T& x, Node** split) {
    if (node->leaf) return LeafInsert(static_cast<Leaf*>(node), x, split);
    Inner* in = static_cast<Inner*>(node);
    const size_t c = ChildFor(in, x);
    Node* kid_split = nullptr;
    if (!Insert(in->kid[c], x, &kid_split)) return false;
    if (Less()(x, in->min[c])) SetMin(in, c, x);
    if (kid_split == nullptr) {
      ++in->count[c];
      return true;
    }
    const size_t right = Count(kid_split);
    const size_t total = in->count[c] + 1;
    if (in->n < kInnerCap) {
      InnerPut(in, c + 1, kid_split, right);
      in->count[c] = total - right;
      return true;
    }
    // Split this inner node in halves, then put the new child into its half.
    Inner* r = NewInner(in->above_leaves);
    const size_t keep = kInnerCap / 2;
    r->n = static_cast<uint16_t>(kInnerCap - keep);
    MoveChildren(r, 0, in, keep, r->n);
    in->n = static_cast<uint16_t>(keep);
    PadKeys(in);
    if (c < keep) {
      in->count[c] = total - right;
      InnerPut(in, c + 1, kid_split, right);
    } else {
      r->count[c - keep] = total - right;
      InnerPut(r, c + 1 - keep, kid_split, right);
    }
    *split = r;
    return true;
  }
  static void InnerPut(Inner* in, size_t at, Node* kid, size_t count) {
    const size_t tail = in->n - at;
    MoveChildren(in, at + 1, in, at, tail);
    SetMin(in, at, Min(kid));
    in->count[at] = count;
    in->kid[at] = kid;
    ++in->n;
  }
  bool LeafInsert(Leaf* l, const T& x, Node** split) {
    size_t pos = LeafLowerBound(l, x);
    if (pos < l->n && !Less()(x, l->v()[pos])) return false;
    if (l->n == l->cap) {  // a full-size leaf (insert grows a small lone one first)
      Leaf* r = NewLeaf(kLeafCap);
      const size_t keep = kLeafCap / 2;
      r->n = static_cast<uint16_t>(kLeafCap - keep);
      Move(r->v(), l->v() + keep, r->n);
      l->n = static_cast<uint16_t>(keep);
      r->prev = l;
      r->next = l->next;
      if (l->next != nullptr) {
        l->next->prev = r;
      } else {
        last_ = r;
      }
      l->next = r;
      *split = r;
      if (pos > keep) {
        l = r;
        pos -= keep;
      }
    }
    Move(l->v() + pos + 1, l->v() + pos, l->n - pos);
    l->v()[pos] = x;
    ++l->n;
    return true;
  }

  // Erases x under node; the caller repairs node if it falls below its minimum.
  bool Erase(Node* node, const T& x) {
    if (node->leaf) {
      Leaf* l = static_cast<Leaf*>(node);
      const size_t pos = LeafLowerBound(l, x);
      if (pos == l->n || Less()(x, l->v()[pos])) return false;
      Move(l->v() + pos, l->v() + pos + 1, l->n - pos - 1);
      --l->n;
      return true;
    }
    Inner* in = static_cast<Inner*>(node);
    const size_t c = ChildFor(in, x);
    Node* kid = in->kid[c];
    if (!Erase(kid, x)) return false;
    --in->count[c];
    if (kid->n > 0) SetMin(in, c, Min(kid));
    if (kid->n < (kid->leaf ? kLeafMin : kInnerMin) && in->n > 1) Repair(in, c);
    return true;
  }
  // Child c of in is below its minimum: merge it with a neighbour, or take values from
  // the neighbour so both end at least half full.
  void Repair(Inner* in, size_t c) {
    ++shape_;                                    // values move between nodes, or a node goes
    const size_t a = c + 1 < in->n ? c : c - 1;  // merge or balance children a and a + 1
    Node* left = in->kid[a];
    Node* right = in->kid[a + 1];
    const size_t cap = left->leaf ? kLeafCap : kInnerCap;
    if (left->n + right->n <= cap) {
      Append(left, right, right->n);
      in->count[a] += in->count[a + 1];
      if (left->n > 0) SetMin(in, a, Min(left));
      MoveChildren(in, a + 1, in, a + 2, in->n - a - 2);
      --in->n;
      PadKeys(in);
      if (left->leaf) {
        Leaf* r = static_cast<Leaf*>(right);
        Leaf* l = static_cast<Leaf*>(left);
        l->next = r->next;
        if (r->next != nullptr) {
          r->next->prev = l;
        } else {
          last_ = l;
        }
        DeleteLeaf(r);
      } else {
        DeleteInner(static_cast<Inner*>(right));
      }
      return;
    }
    const size_t half = (left->n + right->n) / 2;
    if (left->n < half) {
      Append(left, right, half - left->n);
    } else {
      Prepend(right, left, left->n - half);
    }
    SetMin(in, a, Min(left));
    SetMin(in, a + 1, Min(right));
    const size_t total = in->count[a] + in->count[a + 1];
    in->count[a] = Count(left);
    in->count[a + 1] = total - in->count[a];
  }
  // Moves the first k entries of `from` to the end of `to` (same kind, room for them).
  static void Append(Node* to, Node* from, size_t k) {
    if (to->leaf) {
      Leaf* t = static_cast<Leaf*>(to);
      Leaf* f = static_cast<Leaf*>(from);
      Move(t->v() + t->n, f->v(), k);
      Move(f->v(), f->v() + k, f->n - k);
    } else {
      Inner* t = static_cast<Inner*>(to);
      Inner* f = static_cast<Inner*>(from);
      MoveChildren(t, t->n, f, 0, k);
      MoveChildren(f, 0, f, k, f->n - k);
    }
    to->n = static_cast<uint16_t>(to->n + k);
    from->n = static_cast<uint16_t>(from->n - k);
    if (!from->leaf) PadKeys(static_cast<Inner*>(from));
  }
  // Moves the last k entries of `from` to the front of `to`.
  static void Prepend(Node* to, Node* from, size_t k) {
    const size_t src = from->n - k;
    if (to->leaf) {
      Leaf* t = static_cast<Leaf*>(to);
      Leaf* f = static_cast<Leaf*>(from);
      Move(t->v() + k, t->v(), t->n);
      Move(t->v(), f->v() + src, k);
    } else {
      Inner* t = static_cast<Inner*>(to);
      Inner* f = static_cast<Inner*>(from);
      MoveChildren(t, k, t, 0, t->n);
      MoveChildren(t, 0, f, src, k);
    }
    to->n = static_cast<uint16_t>(to->n + k);
    from->n = static_cast<uint16_t>(src);
    if (!from->leaf) PadKeys(static_cast<Inner*>(from));
  }

  Node* root_ = nullptr;
  Leaf* first_ = nullptr;
  Leaf* last_ = nullptr;
  size_t size_ = 0;
  NodePool leaf_pool_{kLeafSlotBytes};  // the full-size leaves
  NodePool inner_pool_{kInnerSlotBytes};
  uint64_t shape_ = 1;  // bumped when a node is created, freed or rebalanced
};

}  // namespace crdt
