// LatencyQueue: the latency model's event queue (latency.cc), specialised for its events: an
// event word (Event: 32 or 64 bits, at most kEventBits of it used), pushed at or after now, popped
// in (time, push order) order: events of the same instant pop in the order they were pushed
// (FoundationDB's TaskQueue), as in the simulator's EventQueue (event_queue.h), which also has
// lanes, limits and NextTime that the model does not use. Single-threaded; deterministic (no
// pointer or hash order reaches the order of events). Time moves only when an event pops.
//
// Three structures share the one order; an event waits in at most three of them in turn:
//   wheel  events due before `horizon` (between kWheelSpan / 2 and kWheelSpan after now):
//          one FIFO per microsecond slot, its first event in the slot itself and the others
//          in nodes (the event word and the next node) from a pool; at about 0.2 events a
//          microsecond most slots hold one, so most events take no node. A slot's time is
//          implied by its index and now, so no time or sequence number is stored; a bitmap
//          (one bit per slot: occupied) finds the first occupied slot.
//   coarse the next 2^kCoarseBits spans of kWheelSpan / 2 after the horizon: one array per
//          span of 8-byte records (the time's offset in its span above the event word's
//          kEventBits), in push order. Each time the horizon passes a span, the whole span is
//          spread over the wheel in one batch (each slot keeps its push order); arrays keep their
//          capacity, so the steady state allocates nothing.
//   far    events beyond the coarse spans (a region going down an hour ahead): a binary
//          min-heap on (time, far sequence number), moved to the coarse lists as the horizon
//          reaches them.
// Events pushed for the same time go to the far heap, then the coarse list, then the wheel,
// in that order as now advances, and every move keeps the push order of each instant: so
// only the far heap needs a sequence number. Push is O(1) (far events O(log f)); Pop is O(1)
// while the next event is in now's 64-slot word of the bitmap (nearly always), else a scan
// of the bitmap's kWheelSpan / 64 words.
//
// The coarse lists are a TimingWheel's (timing_wheel.h, shared with EventQueue), with the
// 8-byte record above; its own wheel stays empty though allocated (EnsureAllocated
// allocates both: 8 bytes and a bit a slot unused): the wheel, the time bookkeeping
// (implied times, the horizon) and the far heap's sequence numbers are this queue's own.
//
// kWheelBits sets the wheel's span (2^kWheelBits microseconds) and memory (12 bytes with a
// 32-bit word, 16 with a 64-bit one, and a bit a slot, allocated at construction: Pop reads
// the bitmap first; plus the TimingWheel's unused wheel above): small keeps it in cache. A 64-bit
// Event lets an event carry what its handler needs instead of an index to it (kEventBits: 64 less
// the bits of an offset in a coarse span).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "cluster_sim/timing_wheel.h"

namespace cluster_sim {

template <int kWheelBits, int kCoarseBits = 9, typename Event = uint32_t>
class LatencyQueue {
  // At most 2^16 slots: the search for the next occupied slot scans the bitmap's words
  // (kWords, at most 1,024) one by one.
  static_assert(kWheelBits >= 7 && kWheelBits <= 16, "wheel of 128 us .. 65 ms");
  static_assert(kCoarseBits >= 1 && kCoarseBits <= 16, "2 .. 65536 coarse spans");
  static_assert(std::is_same_v<Event, uint32_t> || std::is_same_v<Event, uint64_t>,
                "a 32- or 64-bit event word");

 public:
  static constexpr int64_t kWheelSpan = int64_t{1} << kWheelBits;
  // The bits of an event word it may use: Push REQUIRES event < 2^kEventBits.
  static constexpr int kEventBits = sizeof(Event) == 4 ? 32 : 64 - (kWheelBits - 1);
  // Times must stay below it (the horizon's arithmetic then never overflows).
  static constexpr int64_t kMaxTime = int64_t{1} << 62;

  LatencyQueue() : slots_(static_cast<size_t>(kWheelSpan)), bits_(kWords, 0) {
    coarse_.EnsureAllocated();
  }
  LatencyQueue(const LatencyQueue&) = delete;
  LatencyQueue& operator=(const LatencyQueue&) = delete;

  // The time of the last event popped (0 before the first).
  int64_t now() const { return now_; }
  size_t size() const { return wheel_count_ + coarse_.coarse_count() + far_.size(); }
  // The nodes the wheel's pool holds, in use or free (it doubles when empty and never
  // shrinks): for tests that check freed nodes are reused.
  size_t node_capacity() const { return nodes_.size(); }
  bool empty() const { return size() == 0; }

  // Schedules `event` at `at`. REQUIRES: now() <= at < kMaxTime; event < 2^kEventBits.
  // Inlined: a call of it costs about as much as its usual case (a wheel append).
  [[gnu::always_inline]] void Push(int64_t at, Event event) {
    if (at < horizon_) [[likely]] {
      Append(at, event);
    } else {
      PushBeyond(at, event);
    }
  }

  // Pops the earliest event: sets *out and moves now() to its time. False (and no change)
  // if the queue is empty.
  bool Pop(Event* out) {
    const size_t p = static_cast<size_t>(now_) & kSlotMask;
    const uint64_t word = WordFrom(p);
    size_t s;
    if (word != 0) [[likely]] {
      // The usual case: the next event is in now's word of the bitmap (so the wheel is not
      // empty), `bit` slots from its first, now moves by the bit's distance from p. Now
      // stays in its 64 us block, and the horizon less a coarse span (a multiple of 64) was
      // past that block after the last pop: no refill is due.
      const int bit = std::countr_zero(word);
      s = (p & ~size_t{63}) + static_cast<size_t>(bit);
      now_ += bit - static_cast<int64_t>(p & 63);
    } else if (!PopSlow(&s)) {
      return false;
    }
    Slot& slot = slots_[s];
    *out = slot.first;
    const uint32_t n = slot.more;
    if (n == kNil) [[likely]] {
      bits_[s >> 6] &= ~(uint64_t{1} << (s & 63));  // the slot's only event
    } else {
      Node& node = nodes_[n];  // the next one moves into the slot
      slot.first = node.event;
      slot.more = node.link;
      node.link = free_;
      free_ = n;
    }
    --wheel_count_;
    return true;
  }

 private:
  static constexpr int64_t kHalfSpan = kWheelSpan / 2;  // a coarse span
  static_assert(kHalfSpan % 64 == 0, "Pop: a refill is due only when now leaves its word");
  static constexpr size_t kCoarseSpans = size_t{1} << kCoarseBits;
  static constexpr size_t kSlotMask = static_cast<size_t>(kWheelSpan - 1);
  static constexpr size_t kWords = static_cast<size_t>(kWheelSpan) / 64;  // of the bitmap
  static constexpr uint32_t kNil = UINT32_MAX;

  // A wheel slot: its first event in place (most slots hold one at a time), the others in
  // a FIFO of nodes. Occupied exactly when its bit is set; `more` is kNil while it holds
  // fewer than two (more_tail is then unused).
  struct Slot {
    Event first = 0;
    uint32_t more = kNil;
    uint32_t more_tail = kNil;
  };
  struct Node {  // a slot's second or later event, or a free node
    Event event;
    uint32_t link;  // the next node of its slot or of the free list
  };
  struct FarItem {
    int64_t at;
    uint64_t seq;
    Event event;
  };
  struct FarBefore {
    bool operator()(const FarItem& a, const FarItem& b) const {
      return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    }
  };
  // Only the coarse lists of the TimingWheel are used (a record: the time's offset in its
  // span above the event's kEventBits); its own wheel stays empty.
  using Coarse = TimingWheel<Node, uint64_t, kWheelBits, kCoarseBits, /*kLazySummary=*/true>;

  // ---- the wheel

  uint64_t WordFrom(size_t p) const { return bits_[p >> 6] & (~uint64_t{0} << (p & 63)); }

  // Appends `event` to the slot of `at`. REQUIRES: now <= at < horizon.
  [[gnu::always_inline]] void Append(int64_t at, Event event) {
    const size_t s = static_cast<size_t>(at) & kSlotMask;
    uint64_t& word = bits_[s >> 6];
    const uint64_t bit = uint64_t{1} << (s & 63);
    Slot& slot = slots_[s];
    if ((word & bit) == 0) [[likely]] {
      slot.first = event;  // (more is kNil already)
      word |= bit;
    } else {
      AppendMore(slot, event);
    }
    ++wheel_count_;
  }
  void AppendMore(Slot& slot, Event event) {
    uint32_t n = free_;
    if (n == kNil) [[unlikely]] {
      n = GrowNodes();
    }
    Node& node = nodes_[n];
    free_ = node.link;
    node.event = event;
    node.link = kNil;
    if (slot.more == kNil) {
      slot.more = n;
    } else {
      nodes_[slot.more_tail].link = n;
    }
    slot.more_tail = n;
  }
  // Doubles the node pool and puts the new nodes on the free list (empty); returns the first.
  [[gnu::noinline]] uint32_t GrowNodes() {
    const size_t old = nodes_.size();
    nodes_.resize(std::max<size_t>(64, old * 2));
    for (size_t i = old; i < nodes_.size(); ++i) {
      nodes_[i].link = i + 1 < nodes_.size() ? static_cast<uint32_t>(i + 1) : kNil;
    }
    free_ = static_cast<uint32_t>(old);
    return free_;
  }
  // The first occupied slot at or (cyclically) after p, now's slot: slots p.. hold the
  // times now.., slots ..p-1 the later times that wrapped around. REQUIRES: wheel_count_ > 0
  // (a bit is set); a count that disagrees with the bitmap is a bug, which aborts here
  // rather than loop forever.
  size_t FirstSlot(size_t p) const {
    const size_t start = p >> 6;
    size_t w = start;
    uint64_t word = WordFrom(p);
    while (word == 0) {
      w = (w + 1) & (kWords - 1);
      word = bits_[w];
      if (word == 0 && w == start) [[unlikely]] {
        EmptyBitmap();  // every word read, now's whole word again last
      }
    }
    return (w << 6) + static_cast<size_t>(std::countr_zero(word));
  }
  [[noreturn, gnu::cold, gnu::noinline]] void EmptyBitmap() const {
    std::fprintf(stderr, "LatencyQueue: %zu events on the wheel but no slot occupied\n",
                 wheel_count_);
    std::abort();
  }

  // ---- beyond the wheel

  int64_t CoarseEnd() const { return horizon_ + static_cast<int64_t>(kCoarseSpans) * kHalfSpan; }
  static constexpr uint64_t kEventMask = ~uint64_t{0} >> (64 - kEventBits);
  static uint64_t CoarseRecord(int64_t at, Event event) {
    return static_cast<uint64_t>(at & (kHalfSpan - 1)) << kEventBits | event;
  }

  // A coarse append, out of line but short: the rest (the far heap, a list's growth) are
  // tail calls, so it needs no saved registers.
  [[gnu::noinline]] void PushBeyond(int64_t at, Event event) {
    if (at < CoarseEnd()) [[likely]] {
      coarse_.CoarseAppend(at, CoarseRecord(at, event));
    } else {
      PushBeyondSlow(at, event);
    }
  }
  [[gnu::noinline]] void PushBeyondSlow(int64_t at, Event event) {
    MinHeapPush(far_, FarItem{at, far_seq_++, event}, FarBefore{});
  }

  // Moves the far events the coarse lists now cover out of the far heap, in (time,
  // sequence) order. REQUIRES: every far event is due at or after the horizon.
  void MigrateFar() {
    const int64_t end = CoarseEnd();
    while (!far_.empty() && far_.front().at < end) {
      const FarItem item = far_.front();
      MinHeapPop(far_, FarBefore{});
      coarse_.CoarseAppend(item.at, CoarseRecord(item.at, item.event));
    }
  }

  // Spreads the coarse span that starts at the horizon over the wheel (in push order, so
  // each slot keeps it) and moves the horizon past it.
  void SpreadSpan() {
    const int64_t start = horizon_;
    const size_t c = Coarse::CoarseIndex(start);
    for (const uint64_t record : coarse_.coarse_list(c)) {
      Append(start + static_cast<int64_t>(record >> kEventBits),
             static_cast<Event>(record & kEventMask));
    }
    coarse_.ClearCoarse(c);
    horizon_ += kHalfSpan;
    MigrateFar();
  }
  // Keeps the horizon more than a coarse span after now. REQUIRES: no event is due before now.
  // Flattened: the spread's appends are inlined here; the caller keeps one call per refill.
  [[gnu::noinline, gnu::flatten]] void Refill() {
    while (horizon_ - now_ <= kHalfSpan) SpreadSpan();
  }

  // Pop's first slot when now's word of the bitmap holds none: later on the wheel, else
  // (the wheel empty) after a Jump. Moves now to it; false (no change) if the queue is empty.
  [[gnu::noinline]] bool PopSlow(size_t* slot) {
    size_t s;
    if (wheel_count_ == 0) [[unlikely]] {
      if (!Jump()) return false;
      s = FirstSlot(static_cast<size_t>(now_) & kSlotMask);
    } else {
      // Pop found none in now's word. The next word (cyclically) first: the model's events
      // are dense (about 18 a word), so it usually holds the next one.
      const size_t next = ((static_cast<size_t>(now_) | 63) + 1) & kSlotMask;
      const uint64_t word = WordFrom(next);
      s = word != 0 ? next + static_cast<size_t>(std::countr_zero(word))
                    : FirstSlot(static_cast<size_t>(now_) & kSlotMask);
    }
    const size_t p = static_cast<size_t>(now_) & kSlotMask;
    now_ += static_cast<int64_t>((s - p) & kSlotMask);
    *slot = s;
    // Now left its 64 us block: keep the horizon more than a coarse span ahead. The spread
    // appends only at or after the horizon as it was, past every slot on the wheel, so s
    // stays the first.
    if (horizon_ - now_ <= kHalfSpan) Refill();
    return true;
  }

  // With the wheel empty: moves now to the start of the earliest span that holds an event
  // (coarse, else far) and refills the wheel from it. False if the queue is empty.
  [[gnu::noinline]] bool Jump() {
    int64_t start = 0;
    if (coarse_.coarse_count() > 0) {
      const size_t h = Coarse::CoarseIndex(horizon_);
      const size_t c = coarse_.FirstCoarse(h);
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
  size_t wheel_count_ = 0;  // events on the wheel
  uint32_t free_ = kNil;    // the first free node

  std::vector<Slot> slots_;     // kWheelSpan slots
  std::vector<uint64_t> bits_;  // one bit per slot: occupied
  std::vector<Node> nodes_;     // slots' second and later events, and free nodes
  Coarse coarse_;               // the coarse lists
  std::vector<FarItem> far_;    // a min-heap: events past the coarse lists
};

}  // namespace cluster_sim
