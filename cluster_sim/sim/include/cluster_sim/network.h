// Network: the simulated links between regions. Every ordered pair (from, to) has its own
// one-way latency, uniform jitter (+/-) and loss probability, its own random generator
// (forked per link, so traffic on one link never changes the draws of another) and its
// own counters. A message may also be duplicated (a second copy with its own delay, so
// copies can overtake each other and later messages). A link can be cut (partition); a message sent
// into a cut link, or in flight on a link that is cut when it would arrive, is dropped. Nothing
// here retransmits: the replication protocol above does.
//
// Geo model (docs/scenarios.md, "Links"): without an explicit latency, a pair with coordinates gets
// great-circle distance / 200,000 km/s (light in fibre) x route factor.
// Deterministic; single-threaded.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "cluster_sim/event_loop.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

struct LinkParams {
  SimTime latency{50'000};
  SimTime jitter{0};
  double loss = 0;
  double duplicate = 0;  // probability a delivered message arrives a second time
};

struct LinkStats {
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t dropped_loss = 0;
  uint64_t dropped_cut = 0;
  uint64_t duplicated = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_delivered = 0;
};

// Great-circle distance in km between two (lat, lon) points in degrees (haversine).
double GreatCircleKm(double lat1, double lon1, double lat2, double lon2);
// One-way latency over fibre for that distance and route factor, rounded to 1 us.
SimTime FibreLatency(double km, double route_factor);

class Network : private EventLoop::Handler {
 public:
  // Delivery callback: (from, to, payload). Payload ownership is shared with the sender.
  // REQUIRES: it does not run the loop (no RunUntil, RunNext or Sync from inside): a copy
  // of a record is delivered from the record in place, and a nested run could pop the
  // record's last copy and move its packet out from under the delivery; and after a copy's
  // delivery the network runs the record's next copy itself, as the loop's next event
  // (EventLoop::RunOwnedNow), which a nested run could have run or passed already.
  using Deliver = std::function<void(int from, int to, const std::shared_ptr<const void>& msg)>;
  // A message as SendPacket carries it: a small header copied by value (no allocation)
  // and an optional body shared with the sender.
  struct Packet {
    using Header = std::array<uint64_t, 3>;
    Header header{};
    std::shared_ptr<const void> body;
  };
  // The receiver of every packet (SetReceiver): one virtual call per delivery, where a
  // std::function would add its own indirection and pass the regions through memory.
  // `packet` stays valid until Deliver returns, whatever it sends meanwhile (it may be the
  // network's own record of the message: Ring::Delivering). REQUIRES: Deliver, like the
  // Deliver callback, does not run the loop (the same reason).
  class Receiver {
   public:
    virtual ~Receiver() = default;
    virtual void Deliver(int from, int to, const Packet& packet) = 0;
  };
  // Trace callback: one line per event ("sent", "delivered", "dropped (loss)", ...).
  using Trace = std::function<void(const std::string& line)>;
  // One event in the life of one copy of a message, for an observer that records every
  // message (diagrams). A copy is sent then delivered or dropped in flight, both events with
  // the same id; a message dropped when sent (loss, cut link) has only its drop event. Ids
  // count from 1 in send order. `what` is as Send was given it.
  struct MessageEvent {
    enum class Type : uint8_t { kSent, kDelivered, kDroppedLoss, kDroppedCut, kDroppedInFlight };
    Type type;
    uint32_t id;
    int from;
    int to;
    size_t bytes;
    bool duplicate;  // kSent: the second copy of a duplicated message
    const std::string& what;
  };
  using Observer = std::function<void(const MessageEvent& event)>;

  // One Network per EventLoop (its rings are owned lanes of the loop, never removed).
  // REQUIRES: `loop` runs no event after the Network is destroyed.
  Network(EventLoop& loop, const Rng& rng, std::vector<std::string> names);

  void SetLink(int from, int to, const LinkParams& p);
  const LinkParams& link(int from, int to) const { return links_[Index(from, to)].params(); }
  // Bumped by every SetLink: what is computed from links' parameters (a round trip) stays
  // valid while this is unchanged.
  uint64_t links_version() const { return links_version_; }
  // REQUIRES: d does not run the loop (see Deliver).
  void SetDeliver(Deliver d) { deliver_ = std::move(d); }
  // When set (not null), every delivery goes here instead of to the Deliver callback (a
  // message sent with Send arrives as a packet with a zero header and the message as its
  // body). REQUIRES: `receiver` outlives every delivery.
  void SetReceiver(Receiver* receiver) { receiver_ = receiver; }
  void SetTrace(Trace t) {
    trace_ = std::move(t);
    tracing_ = trace_ || observer_;
  }
  // Called for every message event (in event order, at the loop's present) until replaced.
  // Costs nothing when unset; when set, tracing() is true so senders describe messages.
  // Observing changes no draw, counter, delivery or trace.
  void SetObserver(Observer o) {
    observer_ = std::move(o);
    tracing_ = trace_ || observer_;
  }

  void Cut(int a, int b);      // both directions
  void Restore(int a, int b);  // both directions
  bool IsCut(int from, int to) const { return links_[Index(from, to)].cut(); }
  bool Connected(int a, int b) const { return !IsCut(a, b) && !IsCut(b, a); }

  // Sends msg (of `bytes` bytes) from -> to. `what` describes it in traces; build it only
  // when tracing() (it is carried with the message, in a side table: a message in flight
  // is 64 bytes). A message of 16 MiB - 1 bytes or more keeps its size in that side table
  // too, as an observed one its id.
  void Send(int from, int to, std::shared_ptr<const void> msg, size_t bytes, std::string&& what);
  // The same for a packet (a header, and a body moved in, never copied): same links, draws,
  // counters and traces.
  void SendPacket(int from, int to, const Packet::Header& header,
                  std::shared_ptr<const void>&& body, size_t bytes, std::string&& what);
  bool tracing() const { return tracing_; }
  // Where tracing() is kept, for a reader that holds no Network (a replicator's transport):
  // valid while the Network lives (it cannot be moved).
  const bool* tracing_flag() const { return &tracing_; }

  const LinkStats& stats(int from, int to) const { return links_[Index(from, to)].stats; }
  int size() const { return n_; }

 private:
  // The widths of InFlight::bytes, InFlight::copies and InFlight::fan_in, which share one
  // 32-bit word (a record is one cache line): its size below kKept, up to kMaxCopies copies,
  // and which way they fan.
  static constexpr int kBytesBits = 24;
  static constexpr int kCopiesBits = 7;
  static constexpr int kFanInBits = 1;
  static_assert(kBytesBits + kCopiesBits + kFanInBits == 32,
                "InFlight::bytes, copies and fan_in share 32 bits");
  // A message in flight, its only record (in a ring, a record may hold several copies of
  // it, below): in a ring, its arrival time and the sequence number of its event are the
  // event queue's key (the ring is an owned lane of the loop's queue, which holds only the
  // ring's front). One cache line, aligned to one (a ring's slots too, as the heap gives
  // them: an over-aligned type's allocation), so each record in one is one line written
  // and one read.
  //
  // In a ring, one record may hold several copies of a message (JoinBack): the same
  // packet, size and arrival time, their events numbered in sequence from `seq`, either
  // fanning out (one sender, `from`, to `to` and the regions after it in index order, `from`
  // skipped) or fanning in (to one receiver, `to`, from `from` and the regions after it in
  // index order, `to` skipped). A writer's effect goes to every peer the first way, and its
  // peers' acknowledgements come back the second: one line each for all their copies.
  struct alignas(64) InFlight {
    Packet packet;
    int64_t at = 0;  // arrival time (in a ring)
    // In a ring: its (first copy's) event's sequence number. In pool_: while free, the
    // next free + 1; while in flight, its key in kept_ if it has one.
    uint64_t seq = 0;
    // kKept: its size, description and id are in kept_, under its key.
    uint32_t bytes : kBytesBits = 0;
    uint32_t copies : kCopiesBits = 1;  // in a ring: the copies still in it (1 in the pool)
    // Of a record of copies > 1: its copies fan in (successive senders, one receiver), not
    // out (one sender, successive receivers). Meaningless while copies == 1.
    uint32_t fan_in : kFanInBits = 0;
    uint16_t from = 0;  // in a ring: its (first copy's) sender
    uint16_t to = 0;    // in a ring: its (first copy's) receiver
    // In a ring: the region of its copy k (0: the first) at the end that moves from copy to
    // copy, its sender if its copies fan in (`in`), else its receiver; the other end is
    // every copy's, and skipped. Said here for a record (Ring::PopCopy, which branches on
    // `in` to store that end, as a branch-free reference to it measured more instructions in
    // the delivery path) and in NextLink for a link (the join's keys), the same rule.
    int CopyRegion(bool in, int k) const {
      return in ? RegionAfter(from, k, to) : RegionAfter(to, k, from);
    }
  };
  // InFlight::bytes of a message described, observed (an id), or of 16 MiB - 1 bytes or
  // more (rare: a full sync of a large data set). Its key in kept_ is its seq: in a ring,
  // its event's sequence number (below kPoolKey); in the pool, kPoolKey + a count.
  static constexpr uint32_t kKept = (uint32_t{1} << kBytesBits) - 1;
  static_assert(kKept == (uint32_t{16} << 20) - 1, "Send's contract says 16 MiB - 1 bytes");
  static constexpr uint32_t kMaxCopies = (uint32_t{1} << kCopiesBits) - 1;  // copies' largest
  static constexpr uint64_t kPoolKey = uint64_t{1} << 63;
  static_assert(sizeof(InFlight) == 64, "a message in flight and its event in a cache line");
  // Its parameters and cut are private so that every change recomputes `plain` and
  // `delay`, which the inline send path trusts.
  class Link {
   public:
    Link() { Update(); }
    const LinkParams& params() const { return params_; }
    bool cut() const { return cut_; }
    void SetParams(const LinkParams& p) {
      params_ = p;
      Update();
    }
    void SetCut(bool cut) {
      cut_ = cut;
      Update();
    }
    // Not cut, and its parameters draw nothing (no loss, duplicate or jitter): a message
    // goes into flight after params().latency (at least 0), in `delay`.
    bool plain() const { return plain_; }
    int64_t delay() const { return delay_; }

    Rng rng{0};
    LinkStats stats;

   private:
    void Update() {
      plain_ =
          !cut_ && !(params_.loss > 0) && !(params_.duplicate > 0) && !(params_.jitter.count() > 0);
      delay_ = std::max<int64_t>(params_.latency.count(), 0);
    }
    LinkParams params_;
    bool cut_ = false;
    bool plain_ = false;
    int64_t delay_ = 0;
  };
  // Messages in flight that arrive in the order they were put in (none arrives before one
  // already in): a FIFO ring, so its front is always the next of them to arrive, and an
  // owned lane of the event loop (its front's event is in the loop's lane heap; the rest
  // wait here, in records of one copy or several, InFlight). Links share the network's few
  // rings (one per delay while it has messages, every link of a 50 ms latency in one): each
  // ring is written and read in sequence, one stream each way through the cache, on the
  // heap (crdt/page_arena.h says why not in huge pages).
  class Ring {
   public:
    Ring() = default;
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() { Free(); }
    size_t size() const { return messages_; }  // messages (copies), not entries
    // A new entry at the back (moved-from entries are reused as they are).
    InFlight& Push(int64_t at) {
      if (count_ == capacity_) [[unlikely]] {
        Grow();
      }
      const size_t mask = capacity_ - 1;
      InFlight& f = slots_[(head_ + count_) & mask];
      // The ring is far larger than the cache: fetch the entries about to be written.
      __builtin_prefetch(&slots_[(head_ + count_ + kAhead) & mask], 1);
      ++count_;
      ++messages_;
      last_at_ = at;
      back_ = &f;
      return f;
    }
    // The newest entry. REQUIRES: size() > 0.
    InFlight& Back() { return *back_; }
    // What a copy must be to join Back() (Network::JoinBack), set as Back() is written
    // (OpenJoin, AddCopy) so that each send compares instead of computing: its event's
    // number, and its link fanning out or in (LinkKey; kNoJoin: not that way). Both links are
    // kNoJoin while the ring is empty (Pop): a copy joins no record that has left it.
    uint64_t join_seq() const { return join_seq_; }
    uint64_t join_out() const { return join_out_; }
    uint64_t join_in() const { return join_in_; }
    // Back() was just pushed, its only copy from -> to numbered `seq`: the next may join it
    // either way.
    void OpenJoin(uint64_t seq, int from, int to) {
      join_seq_ = seq + 1;
      join_out_ = NextLink(false, from, to);
      join_in_ = NextLink(true, from, to);
    }
    // One more copy in Back() (Network::JoinBack), from -> to, fanning in or out: the next
    // may join only the same way, and none once the record is full.
    void AddCopy(bool fan_in, int from, int to) {
      InFlight& b = *back_;
      ++b.copies;
      b.fan_in = fan_in;
      ++messages_;
      ++join_seq_;
      const uint64_t next = b.copies == kMaxCopies ? kNoJoin : NextLink(fan_in, from, to);
      join_out_ = fan_in ? kNoJoin : next;
      join_in_ = fan_in ? next : kNoJoin;
    }
    // The entry of the next message to arrive. REQUIRES: size() > 0.
    InFlight& Front() { return slots_[head_]; }
    // Takes Front()'s first copy out, when it holds more than one: the entry stays, for the
    // copies after it. REQUIRES: as Pop's, and Front().copies > 1.
    void PopCopy() {
      InFlight& f = slots_[head_];
      --f.copies;
      ++f.seq;
      // The next copy's sender (fanning in) or receiver (out): the region after this one's.
      if (f.fan_in) {
        f.from = static_cast<uint16_t>(f.CopyRegion(f.fan_in, 1));
      } else {
        f.to = static_cast<uint16_t>(f.CopyRegion(f.fan_in, 1));
      }
      --messages_;
    }
    // Takes the front out; valid until the next Push. REQUIRES: called as the front's event
    // runs, before anything else (a delivery may send): PushRing reads size() > 1 as "the
    // front's event is queued", true only once the popped copy is out (as PopCopy's).
    // Front().copies == 1.
    InFlight& Pop() {
      const size_t mask = capacity_ - 1;
      InFlight& f = slots_[head_];
      head_ = (head_ + 1) & mask;
      --count_;
      --messages_;
      // An empty ring has no back to join: JoinBack, asked at every send, then needs no
      // test of size() (a popped packet with no body would match a copy's).
      if (count_ == 0) join_out_ = join_in_ = kNoJoin;
      // The next arrivals come a few events later: fetch them now.
      __builtin_prefetch(&slots_[(head_ + kAhead) & mask]);
      return f;
    }
    int64_t last_at() const { return last_at_; }  // arrival time of the newest message
    // True if a message arriving at `at` may go in (it overtakes none already in).
    bool Takes(int64_t at) const { return count_ == 0 || at >= last_at_; }
    // While a copy is delivered from Front()'s packet in place (OnEventCopy): a Grow meanwhile
    // leaves that packet where it is until Delivered (it copies the front instead of moving
    // it, and keeps the old slots).
    void Delivering() { delivering_ = true; }
    void Delivered() {
      delivering_ = false;
      if (retired_ != nullptr) [[unlikely]] {
        FreeRetired();
      }
    }
    // The key of the front's (first) copy, the next message to arrive, for the loop's
    // owned lane (Network::Popped); false if the ring holds none.
    bool FrontKey(int64_t* at, uint64_t* seq) const {
      if (count_ == 0) return false;
      const InFlight& f = slots_[head_];
      *at = f.at;
      *seq = f.seq;
      return true;
    }
    int64_t delay = -1;  // the delay of the messages it was last given (-1: none yet)
    uint32_t lane = 0;   // its owned lane in the loop

   private:
    static constexpr size_t kAhead = 16;  // entries fetched ahead of a write or a read
    [[gnu::noinline]] void Grow();
    void Free();
    [[gnu::noinline]] void FreeRetired();
    // capacity_ entries (0 or a power of 2), all constructed. Only the count_ from head_
    // hold a body: every other was moved from (the delivery takes every popped packet, Grow
    // every live one) or never given one.
    InFlight* slots_ = nullptr;
    size_t capacity_ = 0;
    size_t head_ = 0;
    size_t count_ = 0;          // entries
    size_t messages_ = 0;       // the copies of those entries
    int64_t last_at_ = -1;      // arrival time of the newest message in the ring
    InFlight* back_ = nullptr;  // the newest entry, while count_ > 0
    uint64_t join_seq_ = 0;     // join_seq() (meaningless while count_ == 0)
    uint64_t join_out_ = kNoJoin;
    uint64_t join_in_ = kNoJoin;
    bool delivering_ = false;  // Delivering() .. Delivered()
    // The slots a Grow replaced while delivering_ (null: none), kept until Delivered: only
    // their front, at retired_front_, still holds a body (the one being delivered).
    InFlight* retired_ = nullptr;
    size_t retired_capacity_ = 0;
    size_t retired_front_ = 0;
  };
  static constexpr size_t kRings = 4;
  // Event argument: a ring's front (kFifo | ring index) or an entry of pool_ (its event
  // in the loop's own lanes or wheel).
  static constexpr uint64_t kFifo = uint64_t{1} << 63;

  size_t Index(int from, int to) const { return static_cast<size_t>(from * n_ + to); }
  // The region k copies after `r` in a record of several (InFlight): the regions in index
  // order, `skip` skipped. Fanning out, the receivers after `to` (the sender skipped); fanning
  // in, the senders after `from` (the receiver skipped).
  static int RegionAfter(int r, int k, int skip) {
    const int t = r + k;
    return r < skip && t >= skip ? t + 1 : t;
  }
  // A link as one word, for JoinBack's comparisons. Regions past the last (NextLink's) give
  // keys of no link.
  static uint64_t LinkKey(int from, int to) {
    return uint64_t{static_cast<uint32_t>(from)} << 32 | static_cast<uint32_t>(to);
  }
  static constexpr uint64_t kNoJoin = ~uint64_t{0};  // the key of no link
  // The link of the copy after one from -> to in a record of several (InFlight): fanning
  // in, from the region after `from` (`to` skipped); fanning out, to the region after `to`
  // (`from` skipped). InFlight::CopyRegion's rule, from a link instead of a record.
  static uint64_t NextLink(bool in, int from, int to) {
    return in ? LinkKey(RegionAfter(from, 1, to), to) : LinkKey(from, RegionAfter(to, 1, from));
  }
  // Word by word: std::array's == calls memcmp, at every send that may join.
  static bool SameHeader(const Packet::Header& a, const Packet::Header& b) {
    static_assert(std::tuple_size_v<Packet::Header> == 3);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2])) == 0;
  }
  // True if a message sent now from -> to, arriving at `at` after `delay`, is one more copy
  // of the newest record of the last ring written (the same packet, size and arrival, with
  // no event numbered between), fanning out (the same sender, to the region after its last
  // copy's receiver) or in (the same receiver, from the region after its last copy's
  // sender), as the record does if it already holds several: then it is one (AddCopy), and
  // its event takes the next number. The caller's `body` is left to it, the record holding
  // the same. Inline: the plain send path asks it first. The link, event number and
  // arrival are compared with what the ring keeps for its back (Ring::join_seq), the
  // packet and size with the record.
  bool JoinBack(int64_t delay, int64_t at, int from, int to, const Packet::Header& header,
                const std::shared_ptr<const void>& body, uint32_t bytes) {
    Ring& ring = *last_ring_;
    const uint64_t link = LinkKey(from, to);
    // A record of one copy may go either way, one of several only its own (the other is
    // kNoJoin), an empty ring's neither (both kNoJoin: Ring::Pop). The same link twice is
    // neither: RegionAfter never gives back its first region.
    if (ring.join_seq() != loop_.NextSeq() || (link != ring.join_out() && link != ring.join_in()) ||
        ring.last_at() != at || ring.delay != delay) {
      return false;
    }
    InFlight& b = ring.Back();
    if (b.bytes != bytes || !SameHeader(b.packet.header, header) ||
        b.packet.body.get() != body.get() || b.packet.body.owner_before(body) ||
        body.owner_before(b.packet.body)) {
      return false;
    }
    ring.AddCopy(link == ring.join_in(), from, to);
    // The ring holds a message, so its front is queued.
    [[maybe_unused]] const uint64_t seq = loop_.AtOwnedBehind(ring.lane);
    assert(seq == b.seq + b.copies - 1 && "a copy's event must follow the record's last");
    return true;
  }
  // True if from -> to is a link: two different regions of the network.
  bool ValidLink(int from, int to) const {
    return static_cast<unsigned>(from) < static_cast<unsigned>(n_) &&
           static_cast<unsigned>(to) < static_cast<unsigned>(n_) && from != to;
  }
  // Fails the check SendPacket makes of its link, ValidLink (out of line: the message's
  // formatting would cost every send its stack frame).
  [[noreturn, gnu::noinline, gnu::cold]] void BadLink(int from, int to) const;
  void TraceLine(int from, int to, const char* event, const std::string& what, size_t bytes);
  // The event of a ring's front or of a pool entry: one arrival, or (OnRingEvent) a record's
  // copies that the loop lets run in one call.
  void OnEvent(uint64_t arg) override;
  // The ring's front message was just taken out (Ring::Pop, Ring::PopCopy) as its event
  // runs: the loop gets the ring's next (its owned lane's report, EventLoop::OwnedNext).
  void Popped(const Ring& ring) {
    int64_t at;
    uint64_t seq;
    if (ring.FrontKey(&at, &seq)) {
      loop_.OwnedNext(at, seq);
    } else {
      loop_.OwnedDrained();
    }
  }
  // The arrival of a ring's front, and of the copies after it in its record while the loop
  // lets them run (EventLoop::RunOwnedNow).
  void OnRingEvent(Ring& ring);
  // An arrival of a copy that is not its record's last (InFlight): it is delivered from the
  // record, which stays for the copies after it. Inline in OnRingEvent: three of four of a
  // writer's messages (effects and acknowledgements) arrive this way. False if it was
  // traced, observed or dropped (OnEventCopyTraced): the next copy then goes through the
  // loop, as every copy does while tracing.
  inline bool OnEventCopy(Ring& ring);  // defined (always inline) in network.cc
  // OnEventCopy's copy that is traced or observed, or that a cut link drops (apart, so that
  // the usual case keeps a small frame): on `l`, its link.
  [[gnu::noinline, gnu::cold]] void OnEventCopyTraced(Ring& ring, Link& l);
  // The arrival of a message taken out of its slot (a pool entry, or a ring's record of one
  // copy left): delivered plainly, or through OnEventTraced. `key`: f's key in kept_, if
  // it has one. Defined (always inline) in network.cc, for both callers.
  inline void Arrive(InFlight* f, uint64_t key);
  // An arrival that is described, traced or observed, or that a cut link drops.
  // `key`: f's key in kept_, if it has one.
  [[gnu::noinline]] void OnEventTraced(InFlight* f, uint64_t key, Link& l);
  void DeliverTo(int from, int to, const Packet& packet) {
    if (receiver_ != nullptr) [[likely]] {
      receiver_->Deliver(from, to, packet);
    } else {
      deliver_(from, to, packet.body);
    }
  }
  // The arrival of a message that nothing describes, traces or observes (its size is
  // `bytes`, not kept_) on a link not cut: counted on the link, then delivered. Arrive's
  // and OnEventCopy's usual case.
  void DeliverPlain(Link& l, int from, int to, const Packet& packet, uint32_t bytes) {
    assert(bytes != kKept && "a kept message's size is in kept_ (OnEventTraced)");
    l.stats.messages_delivered++;
    l.stats.bytes_delivered += bytes;
    DeliverTo(from, to, packet);
  }
  // SendPacket on a link that is cut, draws, or is traced or observed, or for a message
  // described or of kKept bytes or more.
  [[gnu::noinline]] void SendDrawn(Link& link, int from, int to, const Packet::Header& header,
                                   std::shared_ptr<const void>&& body, size_t bytes,
                                   std::string&& what);
  // SendPacket past the link's cut, loss and duplicate draws: one copy into flight
  // (SendTwice: both copies of a duplicated message, the second marked `duplicate`).
  void SendCopy(Link& link, int from, int to, const Packet::Header& header,
                std::shared_ptr<const void>&& body, size_t bytes, std::string&& what,
                bool duplicate);
  [[gnu::noinline]] void SendTwice(Link& link, int from, int to, const Packet::Header& header,
                                   std::shared_ptr<const void>&& body, size_t bytes,
                                   std::string&& what);
  // A slot for a message arriving at `at` after `delay`: the back of a ring it does not
  // overtake (its event counted in the loop) or a pool entry (its event scheduled). Inline
  // when it goes where the last one went.
  InFlight* Place(int64_t delay, int64_t at, int from, int to) {
    Ring& ring = *last_ring_;
    if (ring.delay == delay && ring.Takes(at)) [[likely]]
      return PushRing(ring, at, from, to);
    return PlaceSlow(delay, at, from, to);
  }
  [[gnu::noinline]] InFlight* PlaceSlow(int64_t delay, int64_t at, int from, int to);
  // The back of `ring`, for a message arriving at `at`, its event counted in the loop.
  // Its copy's link is from -> to (the next copy may join it: Ring::OpenJoin).
  [[gnu::always_inline]] InFlight* PushRing(Ring& ring, int64_t at, int from, int to) {
    InFlight* f = &ring.Push(at);
    f->at = at;
    // Behind a message already in the ring, its event only takes a sequence number. The
    // ring's size (its copies, not its records) tells whether its front is queued: size() >
    // 1 <=> the front's event is in the loop, because OnRingEvent takes the copy it delivers
    // out first (Ring::Pop, or Ring::PopCopy for a record's copy before its last), so while a
    // front's event runs the ring no longer counts it. Were the copy still counted while it
    // is delivered (from its slot or not), a ring of one would count it, and its new back
    // would never be scheduled (EventQueue::PushOwnedBehind's requirement, checked in debug
    // builds only).
    f->seq =
        ring.size() > 1 ? loop_.AtOwnedBehind(ring.lane) : loop_.AtOwned(ring.lane, SimTime(at));
    // Its key in kept_, if it needs one: below every pool entry's.
    assert(f->seq < kPoolKey && "a ring's key would collide with a pool entry's");
    ring.OpenJoin(f->seq, from, to);
    return f;
  }
  // Writes a message into the slot Place gave it (`bytes`: its size, or kKept). Shared by
  // SendPacket's inline path and SendCopy; always inline, as both are per message.
  [[gnu::always_inline]] static void Fill(InFlight* f, int from, int to,
                                          const Packet::Header& header,
                                          std::shared_ptr<const void>&& body, uint32_t bytes) {
    f->packet.header = header;
    f->packet.body = std::move(body);
    f->bytes = bytes;
    f->copies = 1;
    f->fan_in = 0;
    f->from = static_cast<uint16_t>(from);
    f->to = static_cast<uint16_t>(to);
  }
  // Keeps a message's description, size and id until it arrives, under `key`.
  void Keep(uint64_t key, std::string&& what, size_t bytes, uint32_t id);
  // The ring (< kRings) a message of this delay arriving at `at` goes in; kRings: none.
  size_t PickRing(int64_t delay, int64_t at);

  void Observe(MessageEvent::Type type, uint32_t id, int from, int to, size_t bytes, bool duplicate,
               const std::string& what) {
    observer_(MessageEvent{type, id, from, to, bytes, duplicate, what});
  }

  EventLoop& loop_;
  int n_;
  std::vector<std::string> names_;
  std::vector<Link> links_;
  uint64_t links_version_ = 0;
  Deliver deliver_;
  Receiver* receiver_ = nullptr;
  Trace trace_;
  Observer observer_;
  bool tracing_ = false;   // trace_ || observer_
  uint32_t observed_ = 0;  // ids given to the observer so far
  std::array<Ring, kRings> rings_;
  // The ring of the last message put in one (a pointer, not an index: the inline send path
  // then computes its address once). It stays valid for the Network's life: rings_ is a
  // fixed array of rings that are never moved (Ring is not movable, nor is Network).
  Ring* last_ring_ = &rings_[0];
  std::vector<InFlight> pool_;
  uint32_t free_pool_ = 0;  // first free pool entry + 1; 0: none
  // What the messages in flight of InFlight::bytes == kKept carry beside their record, by
  // key. Senders build descriptions only when tracing(), and ids exist only while observed,
  // so otherwise this stays empty but for messages of 16 MiB - 1 bytes or more.
  struct Kept {
    std::string what;
    size_t bytes = 0;
    uint32_t id = 0;
  };
  // Only looked up and erased by key, never iterated, so its order cannot reach any output;
  // hashed, a described message costs no node search (the constructor reserves room).
  std::unordered_map<uint64_t, Kept> kept_;
  uint64_t pool_keys_ = 0;  // keys given to kept messages in the pool
};
// last_ring_ points into the Network's own rings_.
static_assert(!std::is_move_constructible_v<Network>,
              "a moved Network would keep a stale last_ring_");

// Inline: the simulator's transport calls it for every message.
inline void Network::SendPacket(int from, int to, const Packet::Header& header,
                                std::shared_ptr<const void>&& body, size_t bytes,
                                std::string&& what) {
  if (!ValidLink(from, to)) [[unlikely]] {
    BadLink(from, to);
  }
  Link& link = links_[Index(from, to)];
  link.stats.messages_sent++;
  link.stats.bytes_sent += bytes;
  // The usual case: nothing to draw, trace, observe or keep beside the message (what
  // SendCopy does then).
  if (link.plain() && !tracing_ && what.empty() && bytes < kKept) [[likely]] {
    const int64_t at = loop_.Now().count() + link.delay();
    if (JoinBack(link.delay(), at, from, to, header, body, static_cast<uint32_t>(bytes))) return;
    Fill(Place(link.delay(), at, from, to), from, to, header, std::move(body),
         static_cast<uint32_t>(bytes));
    return;
  }
  SendDrawn(link, from, to, header, std::move(body), bytes, std::move(what));
}

}  // namespace cluster_sim
