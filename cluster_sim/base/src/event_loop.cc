#include "cluster_sim/event_loop.h"

#include <algorithm>
#include <bit>

#include "cluster_sim/status.h"

namespace cluster_sim {

namespace {

constexpr size_t kWords = size_t{1} << (17 - 6);  // words of the slot bitmap
constexpr size_t kSummaryWords = kWords / 64;

// Index of the first set bit >= from in a bitmap of `words` words, or SIZE_MAX.
size_t NextSetBit(const std::vector<uint64_t>& bits, size_t from) {
  size_t w = from >> 6;
  if (w >= bits.size()) return SIZE_MAX;
  uint64_t word = bits[w] & (~uint64_t{0} << (from & 63));
  while (word == 0) {
    if (++w == bits.size()) return SIZE_MAX;
    word = bits[w];
  }
  return (w << 6) + static_cast<size_t>(std::countr_zero(word));
}

}  // namespace

static_assert(kWords * 64 == size_t{1} << 17, "kWords must match kWheelBits");

void EventLoop::SetBit(size_t slot) {
  size_t w = slot >> 6;
  if (bits_[w] == 0) summary_[w >> 6] |= uint64_t{1} << (w & 63);
  bits_[w] |= uint64_t{1} << (slot & 63);
}

void EventLoop::ClearBit(size_t slot) {
  size_t w = slot >> 6;
  bits_[w] &= ~(uint64_t{1} << (slot & 63));
  if (bits_[w] == 0) summary_[w >> 6] &= ~(uint64_t{1} << (w & 63));
}

void EventLoop::LanePush(Lane& lane, const Event& ev) {
  if (lane.count == lane.ring.size()) {
    // Grow: unwrap the ring into a twice larger one.
    std::vector<Event> bigger(std::max<size_t>(64, lane.ring.size() * 2));
    const size_t mask = lane.ring.size() - 1;
    for (size_t i = 0; i < lane.count; ++i) bigger[i] = lane.ring[(lane.head + i) & mask];
    lane.ring = std::move(bigger);
    lane.head = 0;
  }
  const size_t mask = lane.ring.size() - 1;
  lane.ring[(lane.head + lane.count) & mask] = ev;
  // Rings can be far larger than the cache: fetch the entries about to be written.
  __builtin_prefetch(&lane.ring[(lane.head + lane.count + 4) & mask], 1);
  ++lane.count;
}

void EventLoop::Schedule(SimTime at, Handler* handler, uint64_t arg) {
  AASIM_CHECK(at >= now_) << "event scheduled in the past";
  const Event ev{at.count(), seq_++, handler, arg};
  ++pending_;
  // A lane already holding this delay, else a free lane: its events stay in (time,
  // sequence) order because time never goes back and the sequence only grows.
  const int64_t delay = at.count() - now_.count();
  Lane* free_lane = nullptr;
  for (Lane& lane : lanes_) {
    if (lane.count == 0) {
      if (free_lane == nullptr) free_lane = &lane;
    } else if (lane.delay == delay) {
      LanePush(lane, ev);
      return;
    }
  }
  if (free_lane != nullptr) {
    free_lane->delay = delay;
    LanePush(*free_lane, ev);
    return;
  }
  uint32_t n;
  if (free_node_ != kNone) {
    n = free_node_;
    free_node_ = nodes_[n].next;
  } else {
    AASIM_CHECK(nodes_.size() < kNone) << "too many pending events";
    n = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[n] = Node{ev, kNone};
  if (delay < kWheelSpan) {
    if (wheel_.empty()) {
      wheel_.resize(static_cast<size_t>(kWheelSpan));
      bits_.assign(kWords, 0);
      summary_.assign(kSummaryWords, 0);
    }
    size_t s = static_cast<size_t>(ev.at & (kWheelSpan - 1));
    Slot& slot = wheel_[s];
    if (slot.tail == kNone) {
      slot.head = n;
      SetBit(s);
    } else {
      nodes_[slot.tail].next = n;
    }
    slot.tail = n;
    ++wheel_count_;
  } else {
    HeapPush(HeapItem{ev.at, ev.seq, n});
  }
}

void EventLoop::At(SimTime at, Callback cb) {
  AASIM_CHECK(at >= now_) << "event scheduled in the past";
  uint64_t index;
  if (!free_callbacks_.empty()) {
    index = free_callbacks_.back();
    free_callbacks_.pop_back();
    callbacks_[index] = std::move(cb);
  } else {
    index = callbacks_.size();
    callbacks_.push_back(std::move(cb));
  }
  Schedule(at, nullptr, index);
}

void EventLoop::AtEvent(SimTime at, Handler* handler, uint64_t arg) {
  AASIM_CHECK(handler != nullptr);
  Schedule(at, handler, arg);
}

namespace {
struct HeapLater {
  bool operator()(const auto& a, const auto& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};
// True if event a runs before event b.
template <typename A, typename B>
bool Before(const A& a, const B& b) {
  return a.at != b.at ? a.at < b.at : a.seq < b.seq;
}
}  // namespace

void EventLoop::HeapPush(const HeapItem& item) {
  heap_.push_back(item);
  std::push_heap(heap_.begin(), heap_.end(), HeapLater());
}

void EventLoop::HeapPop() {
  std::pop_heap(heap_.begin(), heap_.end(), HeapLater());
  heap_.pop_back();
}

int64_t EventLoop::FirstWheelTime() const {
  if (wheel_count_ == 0) return -1;
  const size_t mask = static_cast<size_t>(kWheelSpan - 1);
  const size_t p = static_cast<size_t>(now_.count()) & mask;
  size_t s = SIZE_MAX;
  // Slots p..end hold the times now..; slots 0..p-1 the later times that wrapped around.
  uint64_t word = bits_[p >> 6] & (~uint64_t{0} << (p & 63));
  if (word != 0) {
    s = (p & ~size_t{63}) + static_cast<size_t>(std::countr_zero(word));
  } else {
    size_t w = NextSetBit(summary_, (p >> 6) + 1);
    if (w == SIZE_MAX) w = NextSetBit(summary_, 0);
    AASIM_CHECK(w != SIZE_MAX) << "event wheel bitmap out of sync";
    s = (w << 6) + static_cast<size_t>(std::countr_zero(bits_[w]));
  }
  return now_.count() + static_cast<int64_t>((s - p) & mask);
}

EventLoop::Next EventLoop::Peek() const {
  Next next;
  for (int i = 0; i < kLanes; ++i) {
    const Lane& lane = lanes_[i];
    if (lane.count == 0) continue;
    const Event& ev = lane.ring[lane.head];
    if (next.ev == nullptr || Before(ev, *next.ev)) next = Next{i, &ev};
  }
  if (wheel_count_ > 0) {
    int64_t wt = FirstWheelTime();
    const Event& ev = nodes_[wheel_[static_cast<size_t>(wt & (kWheelSpan - 1))].head].ev;
    if (next.ev == nullptr || Before(ev, *next.ev)) next = Next{kFromWheel, &ev};
  }
  if (!heap_.empty()) {
    const Event& ev = nodes_[heap_.front().node].ev;
    if (next.ev == nullptr || Before(ev, *next.ev)) next = Next{kFromHeap, &ev};
  }
  return next;
}

void EventLoop::UnlinkWheelHead(int64_t at) {
  size_t s = static_cast<size_t>(at & (kWheelSpan - 1));
  Slot& slot = wheel_[s];
  uint32_t n = slot.head;
  slot.head = nodes_[n].next;
  if (slot.head == kNone) {
    slot.tail = kNone;
    ClearBit(s);
  }
  --wheel_count_;
  nodes_[n].next = free_node_;
  free_node_ = n;
}

bool EventLoop::RunNext(int64_t limit) {
  const Next next = Peek();
  if (next.ev == nullptr || next.ev->at > limit) return false;
  const Event ev = *next.ev;
  if (next.from < kLanes) {
    Lane& lane = lanes_[next.from];
    const size_t mask = lane.ring.size() - 1;
    lane.head = (lane.head + 1) & mask;
    --lane.count;
    __builtin_prefetch(&lane.ring[(lane.head + 4) & mask]);
  } else if (next.from == kFromWheel) {
    UnlinkWheelHead(ev.at);
  } else {
    uint32_t n = heap_.front().node;
    HeapPop();
    nodes_[n].next = free_node_;
    free_node_ = n;
  }
  --pending_;
  now_ = SimTime(ev.at);
  ++events_run_;
  if (ev.handler != nullptr) {
    ev.handler->OnEvent(ev.arg);
  } else {
    Callback cb = std::move(callbacks_[ev.arg]);
    callbacks_[ev.arg] = nullptr;
    free_callbacks_.push_back(static_cast<uint32_t>(ev.arg));
    cb();
  }
  return true;
}

bool EventLoop::RunOne() { return RunNext(INT64_MAX); }

void EventLoop::RunUntil(SimTime t) {
  while (RunNext(t.count())) {
  }
  if (t > now_) now_ = t;
}

std::optional<SimTime> EventLoop::NextTime() const {
  const Next next = Peek();
  if (next.ev == nullptr) return std::nullopt;
  return SimTime(next.ev->at);
}

}  // namespace cluster_sim
