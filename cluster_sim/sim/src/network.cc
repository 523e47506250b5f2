#include "cluster_sim/network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <new>

#include "cluster_sim/status.h"

namespace cluster_sim {

double GreatCircleKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusKm = 6371.0088;  // IUGG mean radius
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * kRad;
  double dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(lat1 * kRad) *
                                                           std::cos(lat2 * kRad) *
                                                           std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

SimTime FibreLatency(double km, double route_factor) {
  constexpr double kFibreKmPerUs = 0.2;  // 200,000 km/s
  return SimTime(static_cast<int64_t>(std::llround(km * route_factor / kFibreKmPerUs)));
}

Network::Network(EventLoop& loop, const Rng& rng, std::vector<std::string> names)
    : loop_(loop), n_(static_cast<int>(names.size())), names_(std::move(names)) {
  AASIM_CHECK(n_ <= UINT16_MAX) << "too many regions:" << n_;
  links_.resize(static_cast<size_t>(n_ * n_));
  for (int a = 0; a < n_; ++a) {
    for (int b = 0; b < n_; ++b) {
      links_[Index(a, b)].rng = rng.Fork("link:" + names_[a] + "->" + names_[b]);
    }
  }
  // One Network per EventLoop: its rings become owned lanes of the loop, for the loop's
  // life (lanes are never removed). The loop must not run once the Network is gone; it may
  // be destroyed with messages still in flight (the queue never calls its handler then).
  kept_.reserve(64);  // traced or observed runs keep a record for every message in flight
  for (size_t r = 0; r < kRings; ++r) rings_[r].lane = loop_.AddOwnedLane(this, kFifo | r);
}

void Network::SetLink(int from, int to, const LinkParams& p) {
  links_[Index(from, to)].SetParams(p);
  ++links_version_;
}

void Network::Cut(int a, int b) {
  for (Link* l : {&links_[Index(a, b)], &links_[Index(b, a)]}) {
    l->SetCut(true);
  }
}

void Network::Restore(int a, int b) {
  for (Link* l : {&links_[Index(a, b)], &links_[Index(b, a)]}) {
    l->SetCut(false);
  }
}

void Network::TraceLine(int from, int to, const char* event, const std::string& what,
                        size_t bytes) {
  trace_(FormatDuration(loop_.Now()) + " " + names_[from] + "->" + names_[to] + " " + event + " " +
         what + " (" + std::to_string(bytes) + " B)");
}

void Network::Keep(uint64_t key, std::string&& what, size_t bytes, uint32_t id) {
  // A ring's key is its event's sequence number, a pool entry's is kPoolKey + a count:
  // neither repeats while the message is in flight, so a key already kept is a bug.
  auto [it, inserted] = kept_.try_emplace(key, Kept{std::move(what), bytes, id});
  AASIM_CHECK(inserted) << "a second message in flight kept under key " << key;
}

void Network::BadLink(int from, int to) const {
  AASIM_CHECK(ValidLink(from, to))
      << "bad link" << from << "->" << to << "in a network of" << n_ << "regions";
  // Only called on a bad link, so the check above never returns.
  __builtin_unreachable();
}

void Network::Send(int from, int to, std::shared_ptr<const void> msg, size_t bytes,
                   std::string&& what) {
  SendPacket(from, to, Packet::Header{}, std::move(msg), bytes, std::move(what));
}

size_t Network::PickRing(int64_t delay, int64_t at) {
  for (size_t r = 0; r < kRings; ++r) {
    if (rings_[r].delay == delay && rings_[r].Takes(at)) return r;
  }
  for (size_t r = 0; r < kRings; ++r) {
    if (rings_[r].size() == 0) {
      rings_[r].delay = delay;
      return r;
    }
  }
  for (size_t r = 0; r < kRings; ++r) {
    if (rings_[r].Takes(at)) return r;
  }
  return kRings;
}

void Network::Ring::Grow() {
  const size_t capacity = std::max<size_t>(16, capacity_ * 2);
  InFlight* slots = std::allocator<InFlight>().allocate(capacity);
  // A copy delivered from the front's packet (Delivering): that packet stays in the old
  // slots, which the ring keeps until Delivered, and the front is copied, not moved. (A
  // second Grow in the same delivery moves it from the slots the first one made.)
  const bool retire = delivering_ && retired_ == nullptr;
  // The messages in flight move to the front, in order (each slot is constructed once).
  for (size_t k = 0; k < count_; ++k) {
    InFlight& f = slots_[(head_ + k) & (capacity_ - 1)];
    if (k == 0 && retire) {
      new (&slots[k]) InFlight(f);
    } else {
      new (&slots[k]) InFlight(std::move(f));
    }
  }
  for (size_t k = count_; k < capacity; ++k) new (&slots[k]) InFlight();
  if (retire) {
    retired_ = slots_;
    retired_capacity_ = capacity_;
    retired_front_ = head_;
  } else {
    Free();
  }
  slots_ = slots;
  capacity_ = capacity;
  head_ = 0;
}

void Network::Ring::FreeRetired() {
  // Every other slot was moved from or never given a body (Grow).
  retired_[retired_front_].~InFlight();
  std::allocator<InFlight>().deallocate(retired_, retired_capacity_);
  retired_ = nullptr;
}

void Network::Ring::Free() {
  if (slots_ == nullptr) return;
  // Only the live entries hold a body (slots_): the other slots' destructors would free
  // nothing, and reading them would bring the whole ring back through the cache.
  for (size_t k = 0; k < count_; ++k) slots_[(head_ + k) & (capacity_ - 1)].~InFlight();
  std::allocator<InFlight>().deallocate(slots_, capacity_);
  slots_ = nullptr;
  capacity_ = 0;
}

Network::InFlight* Network::PlaceSlow(int64_t delay, int64_t at, int from, int to) {
  // A ring the message does not overtake: the one of its delay (every message of a
  // delay arrives no earlier than the previous one), else an idle one, else any. Its
  // event then runs after theirs (same time: a later sequence number), so the ring's
  // front is always the message that arrives. Otherwise it waits in the pool.
  const size_t r = PickRing(delay, at);
  if (r < kRings) {
    last_ring_ = &rings_[r];
    return PushRing(rings_[r], at, from, to);
  }
  uint32_t i;
  if (free_pool_ != 0) {
    i = free_pool_ - 1;
    free_pool_ = static_cast<uint32_t>(pool_[i].seq);
  } else {
    i = static_cast<uint32_t>(pool_.size());
    pool_.emplace_back();
  }
  loop_.AtEvent(SimTime(at), this, i);
  pool_[i].seq = kPoolKey | pool_keys_++;  // its key in kept_, if it needs one
  return &pool_[i];
}

void Network::SendDrawn(Link& link, int from, int to, const Packet::Header& header,
                        std::shared_ptr<const void>&& body, size_t bytes, std::string&& what) {
  if (link.cut()) {
    link.stats.dropped_cut++;
    if (trace_) TraceLine(from, to, "dropped (link cut)", what, bytes);
    if (observer_)
      Observe(MessageEvent::Type::kDroppedCut, ++observed_, from, to, bytes, false, what);
    return;
  }
  if (link.rng.Chance(link.params().loss)) {
    link.stats.dropped_loss++;
    if (trace_) TraceLine(from, to, "dropped (loss)", what, bytes);
    if (observer_)
      Observe(MessageEvent::Type::kDroppedLoss, ++observed_, from, to, bytes, false, what);
    return;
  }
  if (link.rng.Chance(link.params().duplicate)) [[unlikely]] {
    return SendTwice(link, from, to, header, std::move(body), bytes, std::move(what));
  }
  SendCopy(link, from, to, header, std::move(body), bytes, std::move(what), false);
}

void Network::SendTwice(Link& link, int from, int to, const Packet::Header& header,
                        std::shared_ptr<const void>&& body, size_t bytes, std::string&& what) {
  link.stats.duplicated++;
  SendCopy(link, from, to, header, std::shared_ptr<const void>(body), bytes, std::string(what),
           false);
  SendCopy(link, from, to, header, std::move(body), bytes, std::move(what), true);
}

[[gnu::always_inline]] inline void Network::SendCopy(Link& link, int from, int to,
                                                     const Packet::Header& header,
                                                     std::shared_ptr<const void>&& body,
                                                     size_t bytes, std::string&& what,
                                                     bool duplicate) {
  int64_t delay = link.params().latency.count();
  if (link.params().jitter.count() > 0) {
    delay += link.rng.Range(-link.params().jitter.count(), link.params().jitter.count());
  }
  if (delay < 0) delay = 0;
  uint32_t id = 0;
  if (tracing_) [[unlikely]] {
    if (trace_) TraceLine(from, to, duplicate ? "duplicated" : "sent", what, bytes);
    if (observer_) {
      id = ++observed_;
      Observe(MessageEvent::Type::kSent, id, from, to, bytes, duplicate, what);
    }
  }
  const int64_t at = loop_.Now().count() + delay;
  InFlight* f = Place(delay, at, from, to);
  const bool kept = !what.empty() || bytes >= kKept || id != 0;
  Fill(f, from, to, header, std::move(body), kept ? kKept : static_cast<uint32_t>(bytes));
  if (kept) [[unlikely]] {
    Keep(f->seq, std::move(what), bytes, id);
  }
}

void Network::OnEvent(uint64_t arg) {
  if (arg & kFifo) return OnRingEvent(rings_[arg & ~kFifo]);
  // A pool entry: take the message out and free the entry first (delivery may send and
  // reuse it).
  InFlight* f = &pool_[arg];
  const uint64_t key = f->seq;  // in kept_, if it has one
  f->seq = free_pool_;
  free_pool_ = static_cast<uint32_t>(arg) + 1;
  Arrive(f, key);
}

[[gnu::always_inline]] inline void Network::Arrive(InFlight* f, uint64_t key) {
  const int from = f->from, to = f->to;
  Link& l = links_[Index(from, to)];
  if (f->bytes == kKept || l.cut() || tracing_) [[unlikely]] {
    return OnEventTraced(f, key, l);
  }
  // The usual case: nothing describes, traces or observes the message, and it arrives.
  const Packet packet = std::move(f->packet);
  DeliverPlain(l, from, to, packet, f->bytes);
}

void Network::OnRingEvent(Ring& ring) {
  // The copies of one record are consecutive events (numbered in sequence, at one time),
  // so after each but the last the loop would run the next at once: it lets this call run
  // it (EventLoop::RunOwnedNow) unless it must return first (RunOne, the event budget).
  // Each copy is its own event as before: taken out, the next reported, then delivered.
  for (;;) {
    InFlight& front = ring.Front();  // again each time: a delivery may grow the ring
    if (front.copies > 1) {
      if (!OnEventCopy(ring)) return;
      if (!loop_.RunOwnedNow(ring.lane)) return;
      continue;
    }
    // The record's last copy, or a message of one: take it out first (delivery may send
    // and reuse its entry).
    InFlight* f = &ring.Pop();
    Popped(ring);
    return Arrive(f, f->seq);
  }
}

[[gnu::always_inline]] inline bool Network::OnEventCopy(Ring& ring) {
  const InFlight& front = ring.Front();
  // Its sender and receiver, whichever way the record fans (PopCopy moved them on).
  const int from = front.from, to = front.to;
  assert(ValidLink(from, to) && "a record's copies are on links of the network");
  Link& l = links_[Index(from, to)];
  if (l.cut() || tracing_) [[unlikely]] {
    OnEventCopyTraced(ring, l);
    return false;
  }
  // Never kKept (JoinBack takes plain messages only). Delivered from the record, which
  // stays for the copies after it: the delivery may send, and a Grow then leaves this
  // packet where it is until the delivery returns (Ring::Delivering).
  const uint32_t bytes = front.bytes;
  ring.PopCopy();
  loop_.OwnedNext(front.at, front.seq);
  ring.Delivering();
  DeliverPlain(l, from, to, front.packet, bytes);
  ring.Delivered();
  return true;
}

void Network::OnEventCopyTraced(Ring& ring, Link& l) {
  const InFlight& front = ring.Front();
  InFlight copy = front;
  ring.PopCopy();
  loop_.OwnedNext(front.at, front.seq);  // the record's next copy (Popped, known here)
  OnEventTraced(&copy, copy.seq, l);
}

void Network::OnEventTraced(InFlight* f, uint64_t key, Link& l) {
  const int from = f->from, to = f->to;
  size_t bytes = f->bytes;
  uint32_t id = 0;
  std::string what;  // empty (no allocation) unless the sender described the message
  if (f->bytes == kKept) {
    auto kept = kept_.extract(key);
    AASIM_CHECK(!kept.empty()) << "a message in flight lost what it carried beside it";
    what = std::move(kept.mapped().what);
    bytes = kept.mapped().bytes;
    id = kept.mapped().id;
  }
  Packet packet = std::move(f->packet);
  if (l.cut()) {
    l.stats.dropped_cut++;
    if (trace_) TraceLine(from, to, "dropped in flight (link cut)", what, bytes);
    if (observer_) Observe(MessageEvent::Type::kDroppedInFlight, id, from, to, bytes, false, what);
    return;
  }
  l.stats.messages_delivered++;
  l.stats.bytes_delivered += bytes;
  if (trace_) TraceLine(from, to, "delivered", what, bytes);
  if (observer_) Observe(MessageEvent::Type::kDelivered, id, from, to, bytes, false, what);
  DeliverTo(from, to, packet);
}

}  // namespace cluster_sim
