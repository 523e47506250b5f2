// LatencyQueue: the latency model's event queue (latency.cc), specialised for its events: a
// 32-bit event word, pushed at or after now, popped in (time, push order) order: events of
// the same instant pop in the order they were pushed (FoundationDB's TaskQueue), as in the
// simulator's EventQueue (event_queue.h), which also has lanes, limits and NextTime that
// the model does not use. Single-threaded; deterministic (no pointer or hash order reaches
// the order of events). Time moves only when an event pops.
//
// Three structures share the one order; an event waits in at most three of them in turn:
//   wheel  events due before `horizon` (between kWheelSpan / 2 and kWheelSpan after now):
//          one FIFO list per microsecond, of 8-byte nodes (the event word and the next
//          node; a slot's time is implied by its index and now, so no time or sequence
//          number is stored); a two-level bitmap finds the first occupied slot (its summary
//          level is cleared lazily, when a search finds a word empty).
//   coarse the next 2^kCoarseBits spans of kWheelSpan / 2 after the horizon: one array per
//          span of 8-byte records (the time's offset in its span and the event word), in
//          push order. Each time the horizon passes a span, the whole span is spread over
//          the wheel in one batch (each slot keeps its push order); arrays keep their
//          capacity, so the steady state allocates nothing.
//   far    events beyond the coarse spans (a region going down an hour ahead): a binary
//          min-heap on (time, far sequence number), moved to the coarse lists as the horizon
//          reaches them.
// Events pushed for the same time go to the far heap, then the coarse list, then the wheel,
// in that order as now advances, and every move keeps the push order of each instant: so
// only the far heap needs a sequence number. Push and Pop are O(1) (far events O(log f)).
//
// kWheelBits sets the wheel's span (2^kWheelBits microseconds) and memory (8 bytes and a
// bit a slot, allocated on the first push): small keeps it in cache.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cluster_sim {

template <int kWheelBits, int kCoarseBits = 9>
class LatencyQueue {
  static_assert(kWheelBits >= 7 && kWheelBits <= 24, "wheel of 128 us .. 16 s");
  static_assert(kCoarseBits >= 1 && kCoarseBits <= 16, "2 .. 65536 coarse spans");

 public:
  static constexpr int64_t kWheelSpan = int64_t{1} << kWheelBits;
  // Times must stay below it (the horizon's arithmetic then never overflows).
  static constexpr int64_t kMaxTime = int64_t{1} << 62;

  LatencyQueue() = default;
  LatencyQueue(const LatencyQueue&) = delete;
  LatencyQueue& operator=(const LatencyQueue&) = delete;

  // The time of the last event popped (0 before the first).
  int64_t now() const { return now_; }
  size_t size() const { return wheel_count_ + coarse_count_ + far_.size(); }
  bool empty() const { return size() == 0; }

  // Schedules `event` at `at`. REQUIRES: now() <= at < kMaxTime. Inlined: a call of it
  // costs about as much as its usual case (a wheel append).
  [[gnu::always_inline]] void Push(int64_t at, uint32_t event) {
    if (at < horizon_) [[likely]] {
      WheelAppend(NewNode(event), at);
    } else {
      PushBeyond(at, event);
    }
  }

  // Pops the earliest event: sets *out and moves now() to its time. False (and no change)
  // if the queue is empty.
  bool Pop(uint32_t* out) {
    if (wheel_count_ == 0) [[unlikely]] {
      if (!Jump()) return false;
    }
    constexpr size_t kMask = static_cast<size_t>(kWheelSpan - 1);
    const size_t p = static_cast<size_t>(now_) & kMask;
    const size_t s = FirstWheelSlot(p);
    now_ += static_cast<int64_t>((s - p) & kMask);
    const uint32_t n = wheel_[s].head;
    *out = nodes_[n].event;
    UnlinkWheelHead(s, n);
    if (horizon_ - now_ <= kHalfSpan) Refill();
    return true;
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr int64_t kHalfSpan = kWheelSpan / 2;  // a coarse span
  static constexpr size_t kCoarseSpans = size_t{1} << kCoarseBits;
  static constexpr size_t kWords = size_t{1} << (kWheelBits - 6);  // of the slot bitmap
  static constexpr size_t kSummaryWords = (kWords + 63) / 64;
  static constexpr size_t kCoarseWords = (kCoarseSpans + 63) / 64;

  struct Node {  // a wheel event, or a free node
    uint32_t event;
    uint32_t next;
  };
  struct List {  // a FIFO of nodes linked through Node::next
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  struct FarItem {
    int64_t at;
    uint64_t seq;
    uint32_t event;
  };

  // ---- wheel nodes: a pool with an intrusive free list

  uint32_t NewNode(uint32_t event) {
    uint32_t n = free_;
    if (n == kNil) [[unlikely]] {
      n = GrowNodes();
    }
    Node& node = nodes_[n];
    free_ = node.next;
    node.event = event;
    node.next = kNil;
    return n;
  }
  // The wheel and the coarse lists, on the first event.
  void Allocate() {
    wheel_.resize(static_cast<size_t>(kWheelSpan));
    bits_.assign(kWords, 0);
    summary_.assign(kSummaryWords, 0);
    coarse_.resize(kCoarseSpans);
    coarse_bits_.assign(kCoarseWords, 0);
  }
  [[gnu::noinline]] uint32_t GrowNodes() {
    if (wheel_.empty()) Allocate();
    const size_t old = nodes_.size();
    nodes_.resize(std::max<size_t>(64, old * 2));  // a power of 2 (WheelAppend masks with it)
    for (size_t i = old; i < nodes_.size(); ++i) {
      nodes_[i].next = i + 1 < nodes_.size() ? static_cast<uint32_t>(i + 1) : kNil;
    }
    return static_cast<uint32_t>(old);
  }

  // ---- the wheel

  // Whether a slot is empty is a coin to a branch predictor (events land on random
  // microseconds), so the two functions below choose with selects instead of branches.

  // Appends node n to the slot of `at`. REQUIRES: now() <= at < horizon_.
  void WheelAppend(uint32_t n, int64_t at) {
    const size_t s = static_cast<size_t>(at & (kWheelSpan - 1));
    List& slot = wheel_[s];
    // The slot's head if it is empty, else its tail's next (the pool's size is a power of 2:
    // the masked index is in range either way).
    uint32_t* const tail_next = &nodes_[slot.tail & (nodes_.size() - 1)].next;
    *(slot.tail == kNil ? &slot.head : tail_next) = n;
    slot.tail = n;
    const size_t w = s >> 6;
    bits_[w] |= uint64_t{1} << (s & 63);
    summary_[w >> 6] |= uint64_t{1} << (w & 63);
    ++wheel_count_;
  }

  // Removes node n, the head of slot s, and frees it.
  void UnlinkWheelHead(size_t s, uint32_t n) {
    List& slot = wheel_[s];
    const uint32_t next = nodes_[n].next;
    const bool emptied = next == kNil;
    slot.head = next;
    slot.tail = emptied ? kNil : slot.tail;
    bits_[s >> 6] &= ~(uint64_t{emptied} << (s & 63));  // summary_ is cleared lazily
    --wheel_count_;
    nodes_[n].next = free_;
    free_ = n;
  }

  // Index of the first set bit >= from in `bits`, or SIZE_MAX.
  static size_t NextSetBit(const std::vector<uint64_t>& bits, size_t from) {
    size_t w = from >> 6;
    if (w >= bits.size()) return SIZE_MAX;
    uint64_t word = bits[w] & (~uint64_t{0} << (from & 63));
    while (word == 0) {
      if (++w == bits.size()) return SIZE_MAX;
      word = bits[w];
    }
    return (w << 6) + static_cast<size_t>(std::countr_zero(word));
  }

  // The slot of the earliest wheel event; p is now's slot. REQUIRES: wheel_count_ > 0.
  size_t FirstWheelSlot(size_t p) {
    // Slots p..end hold the times now..; slots 0..p-1 the later times that wrapped around.
    const uint64_t word = bits_[p >> 6] & (~uint64_t{0} << (p & 63));
    if (word != 0) [[likely]] {
      return (p & ~size_t{63}) + static_cast<size_t>(std::countr_zero(word));
    }
    return FirstWheelSlotBeyond(p);
  }
  // The same, past the word of p: the summary's bits may be stale (set for a word that has
  // emptied since: pops do not clear them), and are cleared here when found so.
  [[gnu::noinline]] size_t FirstWheelSlotBeyond(size_t p) {
    for (;;) {
      size_t w = NextSetBit(summary_, (p >> 6) + 1);
      if (w == SIZE_MAX) w = NextSetBit(summary_, 0);
      if (bits_[w] != 0) return (w << 6) + static_cast<size_t>(std::countr_zero(bits_[w]));
      summary_[w >> 6] &= ~(uint64_t{1} << (w & 63));
    }
  }

  // ---- beyond the wheel

  int64_t CoarseEnd() const { return horizon_ + static_cast<int64_t>(kCoarseSpans) * kHalfSpan; }
  static size_t CoarseIndex(int64_t at) {
    return static_cast<size_t>(at / kHalfSpan) & (kCoarseSpans - 1);
  }
  // A coarse record: the time's offset in its span (high half) and the event (low half).
  static uint64_t CoarseRecord(int64_t at, uint32_t event) {
    return static_cast<uint64_t>(at & (kHalfSpan - 1)) << 32 | event;
  }

  void CoarseAppend(int64_t at, uint32_t event) {
    const size_t c = CoarseIndex(at);
    std::vector<uint64_t>& list = coarse_[c];
    coarse_bits_[c >> 6] |= uint64_t{1} << (c & 63);
    list.push_back(CoarseRecord(at, event));
    ++coarse_count_;
  }

  [[gnu::noinline]] void PushBeyond(int64_t at, uint32_t event) {
    if (wheel_.empty()) Allocate();
    if (at < CoarseEnd()) {
      CoarseAppend(at, event);
    } else {
      far_.push_back(FarItem{at, far_seq_++, event});
      std::push_heap(far_.begin(), far_.end(), FarLater);
    }
  }

  static bool FarLater(const FarItem& a, const FarItem& b) {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }

  // Moves the far events the coarse lists now cover out of the far heap, in (time,
  // sequence) order. REQUIRES: every far event is due at or after the horizon.
  void MigrateFar() {
    const int64_t end = CoarseEnd();
    while (!far_.empty() && far_.front().at < end) {
      const FarItem item = far_.front();
      std::pop_heap(far_.begin(), far_.end(), FarLater);
      far_.pop_back();
      CoarseAppend(item.at, item.event);
    }
  }

  // Spreads the coarse span that starts at the horizon over the wheel (one batch, in push
  // order) and moves the horizon past it.
  void SpreadSpan() {
    const size_t c = CoarseIndex(horizon_);
    std::vector<uint64_t>& list = coarse_[c];
    if (!list.empty()) {
      const size_t count = list.size();
      for (const uint64_t record : list) {
        WheelAppend(NewNode(static_cast<uint32_t>(record)),
                    horizon_ + static_cast<int64_t>(record >> 32));
      }
      coarse_count_ -= count;
      list.clear();
      coarse_bits_[c >> 6] &= ~(uint64_t{1} << (c & 63));
    }
    horizon_ += kHalfSpan;
    MigrateFar();
  }
  // Keeps the horizon more than a coarse span after now. REQUIRES: no event is due before now.
  [[gnu::noinline]] void Refill() {
    while (horizon_ - now_ <= kHalfSpan) SpreadSpan();
  }

  // With the wheel empty: moves now to the start of the earliest span that holds an event
  // (coarse, else far) and refills the wheel from it. False if the queue is empty.
  [[gnu::noinline]] bool Jump() {
    int64_t start = 0;
    if (coarse_count_ > 0) {
      const size_t h = CoarseIndex(horizon_);
      size_t c = NextSetBit(coarse_bits_, h);
      if (c == SIZE_MAX) c = NextSetBit(coarse_bits_, 0);
      start = horizon_ + static_cast<int64_t>((c - h) & (kCoarseSpans - 1)) * kHalfSpan;
    } else if (!far_.empty()) {
      start = far_.front().at / kHalfSpan * kHalfSpan;
    } else {
      return false;
    }
    // The spans skipped (horizon_ .. start) are empty; the wheel is too, so it may restart
    // anywhere.
    now_ = start;
    horizon_ = start;
    MigrateFar();
    Refill();
    return true;
  }

  int64_t now_ = 0;
  // Events due before it are on the wheel; kHalfSpan < horizon_ - now_ <= kWheelSpan, a
  // multiple of kHalfSpan.
  int64_t horizon_ = kWheelSpan;
  uint64_t far_seq_ = 0;
  size_t wheel_count_ = 0;
  size_t coarse_count_ = 0;
  uint32_t free_ = kNil;  // the first free node

  std::vector<Node> nodes_;                    // wheel events and free nodes
  std::vector<List> wheel_;                    // kWheelSpan slots, allocated on the first push
  std::vector<uint64_t> bits_;                 // one bit per slot: occupied
  std::vector<uint64_t> summary_;              // one bit per word of bits_: set if non-zero
  std::vector<std::vector<uint64_t>> coarse_;  // kCoarseSpans lists of records, in push order
  std::vector<uint64_t> coarse_bits_;          // one bit per coarse list: non-empty
  std::vector<FarItem> far_;                   // a heap: events past the coarse lists
};

}  // namespace cluster_sim
