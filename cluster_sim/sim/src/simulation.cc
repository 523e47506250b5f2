#include "cluster_sim/simulation.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "cluster_sim/session.h"
#include "cluster_sim/status.h"
#include "crdt/dot.h"

namespace cluster_sim {

namespace {

// What travels between regions. Effects carry consecutive sequence numbers of the
// sender's log; the epoch is the sender's incarnation (a restarted region starts over).
// On the wire (Network::Packet) the fields below are the packet's header, copied by value;
// the payloads are its body, shared with the sender's log: one effect (or a full state) is
// the std::string itself, several are a vector of them.
struct Message {
  enum class Kind : uint8_t { kEffects, kAck, kFullState, kSyncRequest, kProbe };
  using Payloads = std::vector<std::shared_ptr<const std::string>>;
  Kind kind = Kind::kEffects;
  uint32_t sender_epoch = 0;   // incarnation of the sender when it sent this
  uint32_t epoch = 0;          // kAck: the epoch of the log being acknowledged
  uint64_t first_seq = 0;      // kEffects: seq of payload 0
  uint64_t seq = 0;            // kAck: contiguous prefix held; kFullState: log head it covers
  bool full_ack = false;       // kAck: acknowledges a full state
  uint32_t count = 0;          // kEffects, kFullState: number of payloads
  const void* body = nullptr;  // the packet's body while it is being handled

  std::array<uint64_t, 3> Header() const {
    return {static_cast<uint64_t>(kind) | (full_ack ? uint64_t{1} << 8 : 0) |
                (static_cast<uint64_t>(sender_epoch) << 32),
            static_cast<uint64_t>(epoch) | (static_cast<uint64_t>(count) << 32),
            kind == Kind::kEffects ? first_seq : seq};
  }
  static Message FromPacket(const Network::Packet& p) {
    Message m;
    m.kind = static_cast<Kind>(p.header[0] & 0xFF);
    m.full_ack = (p.header[0] >> 8 & 1) != 0;
    m.sender_epoch = static_cast<uint32_t>(p.header[0] >> 32);
    m.epoch = static_cast<uint32_t>(p.header[1]);
    m.count = static_cast<uint32_t>(p.header[1] >> 32);
    (m.kind == Kind::kEffects ? m.first_seq : m.seq) = p.header[2];
    m.body = p.body.get();
    return m;
  }
  std::string_view payload(size_t i) const {
    if (count == 1) return *static_cast<const std::string*>(body);
    return *(*static_cast<const Payloads*>(body))[i];
  }
};

struct LogEntry {
  uint64_t seq;
  SimTime created;
  std::shared_ptr<const std::string> effect;
};

struct OutPeer {
  uint64_t acked = 0;      // contiguous prefix of our log the peer holds (this epoch)
  uint64_t chunk_end = 0;  // last seq of the replay chunk in flight
  bool needs_full = false;
  uint64_t full_as_of = 0;         // head covered by the last full state sent
  bool full_in_flight = false;     // a full state was sent and is not acknowledged
  bool in_episode = false;         // catching up (partial or full sync)
  bool resend_now = false;         // the link just healed: replay without waiting an RTO
  bool awaiting_response = false;  // data was re-sent and the peer has not answered since
  bool probe_outstanding = false;  // a probe was sent and not answered
  bool probe_next = false;         // alternate probes and data while the peer is silent
  SimTime rto{0};
  uint64_t timer_gen = 0;  // invalidates superseded timer events
  SimTime timer_at{-1};    // when the armed timer fires (-1: not armed)
  PeerMetrics m;
};

struct InPeer {
  uint32_t epoch = 0;
  uint64_t contiguous = 0;
  std::set<uint64_t> ahead;  // received beyond the contiguous prefix
  bool need_full = false;    // we restarted and wait for this peer's full state
  uint64_t received = 0;
  uint64_t filtered = 0;
};

struct Region {
  std::string name;
  int index = 0;
  uint16_t site = 0;
  uint32_t incarnation = 1;
  SimTime clock_skew{0};
  bool alive = true;
  std::unique_ptr<Store> store;
  std::deque<LogEntry> log;
  size_t log_bytes = 0;
  uint64_t head = 0;
  std::vector<OutPeer> out;
  std::vector<InPeer> in;
  uint64_t local_writes = 0;
  uint64_t lost_writes = 0;
  uint64_t crashes = 0;
  uint64_t store_failures = 0;  // merges a durable store could not keep (not acknowledged)
  uint64_t log_trimmed = 0;     // a durable store's log holds nothing up to this seq

  crdt::ReplicaId id() const {
    return crdt::MakeReplicaId(site, static_cast<uint16_t>(incarnation));
  }
  uint64_t log_first() const { return log.empty() ? head + 1 : log.front().seq; }
};

class RegionClient : public Client {
 public:
  RegionClient(Simulation* sim, int r) : sim_(sim), r_(r) {}
  Reply Execute(const std::vector<std::string>& argv) override { return sim_->Execute(r_, argv); }

 private:
  Simulation* sim_;
  int r_;
};

uint64_t Fnv(uint64_t h, std::string_view s) {
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return h;
}

}  // namespace

struct Simulation::Impl {
  Impl(Simulation* self, SimConfig c)
      : config(std::move(c)), rng(config.seed), network(loop, rng.Fork("network"), Names(config)) {
    AASIM_CHECK(!config.regions.empty()) << "a simulation needs at least one region";
    if (!config.store_factory) {
      config.store_factory = [](int, crdt::ReplicaId id) { return NewMemoryStore(id); };
    }
    // Sites are numbered in byte order of the names: last-write-wins ties go to the
    // region whose name sorts first.
    std::vector<std::string> sorted;
    for (const auto& rc : config.regions) sorted.push_back(rc.name);
    std::sort(sorted.begin(), sorted.end());
    int n = static_cast<int>(config.regions.size());
    for (int i = 0; i < n; ++i) {
      Region reg;
      reg.name = config.regions[i].name;
      reg.index = i;
      reg.site = static_cast<uint16_t>(std::lower_bound(sorted.begin(), sorted.end(), reg.name) -
                                       sorted.begin());
      reg.clock_skew = config.regions[i].clock_skew;
      reg.store = config.store_factory(i, reg.id());
      reg.out.resize(n);
      reg.in.resize(n);
      for (int p = 0; p < n; ++p) reg.in[p].epoch = 1;
      regions.push_back(std::move(reg));
      clients.push_back(std::make_unique<RegionClient>(self, i));
    }
    network.SetDeliverPacket([this](int from, int to, const Network::Packet& p) {
      OnDeliver(from, to, Message::FromPacket(p));
    });
    for (Region& r : regions) Resume(r);
  }

  // A durable store may hold a previous run's replication state (an aasim process that
  // restarted on the same Redis servers): take its log and progress and carry on where
  // that run stopped. Nothing to do on a fresh store (the in-memory one is always fresh).
  void Resume(Region& r) {
    if (!r.store->durable()) return;
    r.head = r.store->LogHead();
    for (int p = 0; p < n(); ++p) {
      if (p == r.index) continue;
      r.in[p].contiguous = r.store->Progress(Origin(p, r.in[p].epoch));
      // What the peer's store durably holds of our log is what it acknowledged.
      r.out[p].acked = std::min(
          r.head, regions[p].store->durable() ? regions[p].store->Progress(Origin(r.index, 1)) : 0);
    }
    if (r.head == 0) return;
    uint64_t min_acked = r.head;
    for (int p = 0; p < n(); ++p) {
      if (p != r.index) min_acked = std::min(min_acked, r.out[p].acked);
    }
    auto entries = r.store->ReadLog(min_acked + 1, r.head);
    AASIM_CHECK(entries.ok()) << "region" << r.name << entries.status().message();
    for (auto& [seq, effect] : *entries) {
      if (!r.log.empty() && seq != r.log.back().seq + 1) r.log.clear();  // keep a suffix
      r.log_bytes += effect.size();
      r.log.push_back(
          LogEntry{seq, SimTime(0), std::make_shared<const std::string>(std::move(effect))});
    }
    if (!r.log.empty() && r.log.back().seq != r.head) r.log.clear();
    r.log_bytes = 0;
    for (const LogEntry& e : r.log) r.log_bytes += e.effect->size();
    r.log_trimmed = r.log_first() - 1;
    for (int p = 0; p < n(); ++p) {
      if (p == r.index || r.out[p].acked >= r.head) continue;
      r.out[p].rto = Rtt(r.index, p);
      ArmTimer(r, p, SimTime(0));
    }
  }

  // The name a store records another region's progress under: its name and incarnation.
  std::string Origin(int p, uint32_t epoch) const {
    return regions[p].name + "#" + std::to_string(epoch);
  }

  static std::vector<std::string> Names(const SimConfig& c) {
    std::vector<std::string> v;
    for (const auto& r : c.regions) v.push_back(r.name);
    return v;
  }

  int n() const { return static_cast<int>(regions.size()); }

  void Trace(const std::string& line) {
    if (trace) trace(line);
  }

  SimTime Rtt(int a, int b) const {
    const LinkParams& ab = network.link(a, b);
    const LinkParams& ba = network.link(b, a);
    return ab.latency + ba.latency + 2 * (ab.jitter + ba.jitter) + SimTime(5'000);
  }

  // ---- sending ----

  // body: null, one payload (a std::string) or several (Message::Payloads); bytes counts
  // a 24-byte header and 4 bytes of framing per payload.
  void SendMsg(int from, int to, const Message& m, std::shared_ptr<const void> body,
               size_t payload_bytes, const std::string& what) {
    size_t bytes = 24 + payload_bytes + 4 * size_t{m.count};
    network.SendPacket(from, to, Network::Packet{m.Header(), std::move(body)}, bytes,
                       network.tracing() ? what : std::string());
  }

  void SendEffects(Region& r, int peer, uint64_t first, uint64_t last) {
    Message m;
    m.kind = Message::Kind::kEffects;
    m.sender_epoch = r.incarnation;
    m.first_seq = first;
    m.count = static_cast<uint32_t>(last - first + 1);
    uint64_t base = r.log_first();
    size_t payload_bytes = 0;
    std::shared_ptr<const void> body;
    if (first == last) {
      const auto& e = r.log[first - base].effect;
      payload_bytes = e->size();
      body = e;
    } else {
      auto payloads = std::make_shared<Message::Payloads>();
      payloads->reserve(m.count);
      for (uint64_t s = first; s <= last; ++s) {
        payloads->push_back(r.log[s - base].effect);
        payload_bytes += payloads->back()->size();
      }
      body = std::move(payloads);
    }
    r.out[peer].m.effects_sent += m.count;
    std::string what;
    if (network.tracing()) {
      what = first == last ? "effect #" + std::to_string(first)
                           : "effects #" + std::to_string(first) + "..#" + std::to_string(last);
    }
    SendMsg(r.index, peer, m, std::move(body), payload_bytes, what);
  }

  void SendFullState(Region& r, int peer) {
    OutPeer& o = r.out[peer];
    Message m;
    m.kind = Message::Kind::kFullState;
    m.sender_epoch = r.incarnation;
    m.seq = r.head;
    m.count = 1;
    auto state = std::make_shared<const std::string>(r.store->FullState());
    size_t payload_bytes = state->size();
    o.full_as_of = r.head;
    o.full_in_flight = true;
    SendMsg(r.index, peer, m, std::move(state), payload_bytes,
            network.tracing() ? "full state up to #" + std::to_string(r.head) : "");
  }

  void SendSyncRequest(Region& r, int peer) {
    Message m;
    m.kind = Message::Kind::kSyncRequest;
    m.sender_epoch = r.incarnation;
    SendMsg(r.index, peer, m, nullptr, 0, "sync request (restarted)");
  }

  void SendAck(Region& r, int origin, bool full) {
    InPeer& in = r.in[origin];
    Message m;
    m.kind = Message::Kind::kAck;
    m.sender_epoch = r.incarnation;
    m.epoch = in.epoch;
    m.seq = in.contiguous;
    m.full_ack = full;
    SendMsg(r.index, origin, m, nullptr, 0,
            network.tracing() ? "ack #" + std::to_string(in.contiguous) : "");
  }

  // ---- timers ----

  void ArmTimer(Region& r, int peer, SimTime at) {
    OutPeer& o = r.out[peer];
    if (o.timer_at.count() >= 0 && o.timer_at <= at) return;  // an earlier one is armed
    o.timer_at = at;
    uint64_t gen = ++o.timer_gen;
    uint32_t inc = r.incarnation;
    int ri = r.index;
    loop.At(at, [this, ri, peer, gen, inc] {
      Region& reg = regions[ri];
      OutPeer& op = reg.out[peer];
      if (op.timer_gen != gen || reg.incarnation != inc || !reg.alive) return;
      op.timer_at = SimTime(-1);
      OnTimer(reg, peer);
    });
  }

  bool Behind(const Region& r, int peer) const {
    const OutPeer& o = r.out[peer];
    return o.needs_full || o.acked < r.head || r.in[peer].need_full;
  }

  void OnTimer(Region& r, int peer) {
    OutPeer& o = r.out[peer];
    if (o.rto.count() == 0) o.rto = Rtt(r.index, peer);
    if (!Behind(r, peer)) {
      o.in_episode = false;
      o.rto = Rtt(r.index, peer);
      return;
    }
    SimTime now = loop.Now();
    // Our own restart: keep asking this peer for its state.
    if (r.in[peer].need_full) SendSyncRequest(r, peer);
    if (o.acked < r.head && !o.needs_full && o.acked + 1 < r.log_first()) {
      // The peer needs effects that have left the backlog: full sync.
      o.needs_full = true;
      o.m.full_syncs++;
      Trace(FormatDuration(now) + " " + r.name + "->" + regions[peer].name +
            " backlog overflow: full sync");
    }
    if (o.needs_full || o.acked < r.head) {
      // Overdue? The oldest unacknowledged effect was sent at least one RTO ago.
      bool overdue = o.needs_full || o.resend_now;
      bool healed = o.resend_now;
      o.resend_now = false;
      if (!overdue) {
        const LogEntry& e = r.log[o.acked + 1 - r.log_first()];
        overdue = e.created + o.rto <= now;
        if (!overdue) {
          ArmTimer(r, peer, e.created + o.rto);
          return;
        }
      }
      if (!o.in_episode) {
        o.in_episode = true;
        if (!o.needs_full) o.m.partial_syncs++;
      }
      if (o.awaiting_response && !healed && o.probe_next) {
        // Data already re-sent and no answer: the peer or the link may be down. Every
        // other retry is a cheap probe; its answer (an ack) resumes the catch-up, so a
        // long partition costs probes, not repeated full states, while a merely lossy
        // link still gets data on every second try.
        SendProbe(r, peer);
        o.probe_next = false;
      } else {
        SendNext(r, peer);
        o.probe_next = o.needs_full || o.acked + 1 <= o.chunk_end;
      }
    }
    SimTime next = o.rto;
    o.rto = std::min(o.rto * 2, std::max(config.replication.max_rto, Rtt(r.index, peer)));
    ArmTimer(r, peer, now + next);
  }

  // Sends the next piece of a catch-up: the full state, or the next replay chunk.
  void SendNext(Region& r, int peer) {
    OutPeer& o = r.out[peer];
    o.awaiting_response = true;
    if (o.needs_full) {
      SendFullState(r, peer);
    } else {
      SendChunk(r, peer);
    }
  }

  void SendProbe(Region& r, int peer) {
    r.out[peer].probe_outstanding = true;
    Message m;
    m.kind = Message::Kind::kProbe;
    m.sender_epoch = r.incarnation;
    SendMsg(r.index, peer, m, nullptr, 0, "probe");
  }

  void SendChunk(Region& r, int peer) {
    OutPeer& o = r.out[peer];
    uint64_t first = o.acked + 1;
    uint64_t last = first;
    size_t bytes = 0;
    uint64_t base = r.log_first();
    while (last <= r.head) {
      bytes += r.log[last - base].effect->size();
      if (bytes > config.replication.max_batch_bytes && last > first) break;
      ++last;
    }
    --last;
    o.chunk_end = last;
    SendEffects(r, peer, first, last);
  }

  // A durable store's log keeps what some peer may still need: nothing every peer
  // acknowledged, nothing the in-memory backlog dropped (those peers get a full sync).
  void TrimDurableLog(Region& r) {
    if (!r.store->durable()) return;
    uint64_t upto = r.log_first() - 1;
    uint64_t min_acked = r.head;
    for (int p = 0; p < n(); ++p) {
      if (p != r.index) min_acked = std::min(min_acked, r.out[p].acked);
    }
    upto = std::max(upto, min_acked);
    if (upto <= r.log_trimmed) return;
    if (r.store->TrimLog(upto).ok()) r.log_trimmed = upto;
  }

  // ---- local writes ----

  void OnLocalWrite(Region& r, std::string effect) {
    r.local_writes++;
    r.head++;
    auto e = std::make_shared<const std::string>(std::move(effect));
    r.log_bytes += e->size();
    r.log.push_back(LogEntry{r.head, loop.Now(), e});
    while (r.log_bytes > config.replication.backlog_bytes && r.log.size() > 1) {
      r.log_bytes -= r.log.front().effect->size();
      r.log.pop_front();
    }
    for (int p = 0; p < n(); ++p) {
      if (p == r.index) continue;
      SendEffects(r, p, r.head, r.head);
      OutPeer& o = r.out[p];
      if (o.rto.count() == 0) o.rto = Rtt(r.index, p);
      ArmTimer(r, p, loop.Now() + o.rto);
    }
  }

  Reply Execute(int ri, const std::vector<std::string>& argv) {
    Region& r = regions[ri];
    if (!r.alive) return Reply::Error("CLUSTERDOWN region " + r.name + " is down");
    std::string effect;
    Reply reply = r.store->Execute(argv, (loop.Now() + r.clock_skew).count(), &effect);
    if (!effect.empty()) OnLocalWrite(r, std::move(effect));
    return reply;
  }

  std::vector<Reply> ExecuteBatch(int ri, const std::vector<std::vector<std::string>>& cmds) {
    Region& r = regions[ri];
    if (!r.alive) {
      return std::vector<Reply>(cmds.size(),
                                Reply::Error("CLUSTERDOWN region " + r.name + " is down"));
    }
    std::string effect;
    auto replies = r.store->ExecuteBatch(cmds, (loop.Now() + r.clock_skew).count(), &effect);
    if (!effect.empty()) OnLocalWrite(r, std::move(effect));
    return replies;
  }

  // ---- receiving ----

  void OnDeliver(int from, int to, const Message& m) {
    Region& sender = regions[from];
    Region& r = regions[to];
    // Pull model: what a crashed region had not handed over is gone with it.
    if (!r.alive || !sender.alive || sender.incarnation != m.sender_epoch) {
      Trace(FormatDuration(loop.Now()) + " " + sender.name + "->" + r.name +
            " discarded (region down or restarted)");
      return;
    }
    struct Watch {
      Impl* impl;
      ~Watch() { impl->CheckConvergence(); }
    } watch{this};
    switch (m.kind) {
      case Message::Kind::kEffects:
        OnEffects(r, from, m);
        break;
      case Message::Kind::kAck:
        OnAck(r, from, m);
        break;
      case Message::Kind::kFullState:
        OnFullState(r, from, m);
        break;
      case Message::Kind::kSyncRequest:
        OnSyncRequest(r, from, m);
        break;
      case Message::Kind::kProbe:
        if (m.sender_epoch > r.in[from].epoch) ResetInbound(r.in[from], m.sender_epoch);
        SendAck(r, from, false);
        break;
    }
  }

  void ResetInbound(InPeer& in, uint32_t epoch) {
    in.epoch = epoch;
    in.contiguous = 0;
    in.ahead.clear();
  }

  void Advance(InPeer& in) {
    while (!in.ahead.empty() && *in.ahead.begin() == in.contiguous + 1) {
      in.ahead.erase(in.ahead.begin());
      ++in.contiguous;
    }
  }

  void ApplyOrDie(Region& r, std::string_view bytes) {
    Status s = r.store->Merge(bytes);
    AASIM_CHECK(s.ok()) << "merge failed in region" << r.name << s.message();
  }

  // A durable store that could not keep a merge (its Redis is down): the message is
  // treated as never received (progress rolled back, no ack), so its sender retransmits.
  bool StoreFailed(Region& r, int from, const Status& s) {
    if (s.ok()) return false;
    AASIM_CHECK(s.code() == StatusCode::kUnavailable)
        << "merge failed in region" << r.name << s.message();
    r.store_failures++;
    Trace(FormatDuration(loop.Now()) + " " + regions[from].name + "->" + r.name +
          " not stored: " + s.message());
    return true;
  }

  void OnEffects(Region& r, int from, const Message& m) {
    InPeer& in = r.in[from];
    if (m.sender_epoch > in.epoch) ResetInbound(in, m.sender_epoch);
    bool durable = r.store->durable();
    std::optional<InPeer> before;
    std::string origin;
    if (durable) {
      before = in;
      origin = Origin(from, in.epoch);
    }
    for (size_t i = 0; i < m.count; ++i) {
      uint64_t seq = m.first_seq + i;
      if (seq <= in.contiguous || in.ahead.count(seq)) {
        in.filtered++;
        continue;
      }
      if (durable) {
        uint64_t c = in.contiguous;
        if (seq == c + 1) {
          for (c = seq; in.ahead.count(c + 1) != 0;) ++c;
        }
        if (StoreFailed(r, from, r.store->MergeFrom(origin, c, m.payload(i)))) {
          in = *before;
          return;
        }
      } else {
        ApplyOrDie(r, m.payload(i));
      }
      in.received++;
      if (seq == in.contiguous + 1) {
        ++in.contiguous;
        Advance(in);
      } else {
        in.ahead.insert(seq);
      }
    }
    if (durable && StoreFailed(r, from, r.store->Flush())) {
      in = *before;
      return;
    }
    SendAck(r, from, false);
  }

  void OnAck(Region& r, int from, const Message& m) {
    if (m.epoch != r.incarnation) return;  // acknowledges a previous life
    OutPeer& o = r.out[from];
    bool answered_probe = o.probe_outstanding;
    o.awaiting_response = false;
    o.probe_outstanding = false;
    bool progress = m.seq > o.acked;
    if (progress) o.acked = std::min(m.seq, r.head);
    if (m.full_ack && o.full_in_flight && m.seq >= o.full_as_of) {
      o.full_in_flight = false;
      o.needs_full = false;
      progress = true;
    }
    if (progress) {
      o.rto = Rtt(r.index, from);
      TrimDurableLog(r);
    }
    if (!Behind(r, from)) {
      o.in_episode = false;
      return;
    }
    if (!o.in_episode) return;
    if (!o.needs_full && o.acked + 1 < r.log_first()) {
      o.needs_full = true;
      o.m.full_syncs++;
    }
    // Catching up: send the next chunk as soon as the previous one landed, or resume
    // after the peer answered a probe (what was sent before it was lost).
    if (o.needs_full ? (!o.full_in_flight || answered_probe)
                     : (o.acked >= o.chunk_end || answered_probe)) {
      SendNext(r, from);
    }
  }

  void OnFullState(Region& r, int from, const Message& m) {
    InPeer& in = r.in[from];
    if (m.sender_epoch > in.epoch) ResetInbound(in, m.sender_epoch);
    if (r.store->durable()) {
      uint64_t c = std::max(in.contiguous, m.seq);
      while (in.ahead.count(c + 1) != 0) ++c;
      Status s = r.store->MergeFrom(Origin(from, in.epoch), c, m.payload(0));
      if (s.ok()) s = r.store->Flush();
      if (StoreFailed(r, from, s)) return;
    } else {
      ApplyOrDie(r, m.payload(0));
    }
    in.received++;
    if (m.seq > in.contiguous) {
      in.contiguous = m.seq;
      in.ahead.erase(in.ahead.begin(), in.ahead.upper_bound(m.seq));
      Advance(in);
    }
    bool was_recovering = in.need_full;
    in.need_full = false;
    SendAck(r, from, true);
    if (was_recovering) {
      // Push what we now hold (it may include writes of our previous life that only
      // this peer had) to every other peer.
      for (int q = 0; q < n(); ++q) {
        if (q == r.index || q == from) continue;
        OutPeer& o = r.out[q];
        if (!o.needs_full) o.m.full_syncs++;
        o.needs_full = true;
        ArmTimer(r, q, loop.Now());
      }
    }
  }

  void OnSyncRequest(Region& r, int from, const Message& m) {
    InPeer& in = r.in[from];
    if (m.sender_epoch > in.epoch) ResetInbound(in, m.sender_epoch);
    OutPeer& o = r.out[from];
    if (!o.needs_full || !o.full_in_flight) {
      if (!o.needs_full) o.m.full_syncs++;
      o.needs_full = true;
      o.acked = 0;
      o.in_episode = true;
      SendFullState(r, from);
      o.rto = Rtt(r.index, from);
      ArmTimer(r, from, loop.Now() + o.rto);
    }
  }

  // ---- faults ----

  uint64_t Crash(int ri) {
    Region& r = regions[ri];
    if (!r.alive) return 0;
    uint64_t lost = 0;
    if (!r.store->durable()) {
      uint64_t max_contig = 0;
      for (int p = 0; p < n(); ++p) {
        if (p == ri || regions[p].in[ri].epoch != r.incarnation) continue;
        max_contig = std::max(max_contig, regions[p].in[ri].contiguous);
      }
      for (uint64_t s = max_contig + 1; s <= r.head; ++s) {
        bool somewhere = false;
        for (int p = 0; p < n() && !somewhere; ++p) {
          if (p == ri || regions[p].in[ri].epoch != r.incarnation) continue;
          somewhere = s <= regions[p].in[ri].contiguous || regions[p].in[ri].ahead.count(s);
        }
        lost += somewhere ? 0 : 1;
      }
    }
    r.alive = false;
    r.crashes++;
    r.lost_writes += lost;
    Trace(FormatDuration(loop.Now()) + " " + r.name + " crashed (" + std::to_string(lost) +
          " unreplicated writes lost)");
    return lost;
  }

  void Restart(int ri) {
    Region& r = regions[ri];
    if (r.alive) return;
    r.alive = true;
    if (!r.store->durable()) {
      r.incarnation++;
      AASIM_CHECK(r.incarnation <= 0xFFFF) << "too many restarts of region" << r.name;
      r.store->Wipe(r.id());
      r.log.clear();
      r.log_bytes = 0;
      r.head = 0;
    }
    bool durable = r.store->durable();
    for (int p = 0; p < n(); ++p) {
      if (p == ri) continue;
      OutPeer fresh;
      fresh.m = r.out[p].m;
      fresh.timer_gen = r.out[p].timer_gen + 1;
      r.out[p] = fresh;
      InPeer& in = r.in[p];
      uint64_t received = in.received, filtered = in.filtered;
      in = InPeer();
      in.epoch = regions[p].incarnation;
      in.received = received;
      in.filtered = filtered;
      r.out[p].rto = Rtt(ri, p);
      if (durable) {
        // The data, the log and the progress survived: resume. Ask each peer where it
        // stands (a probe; its ack sets our cursor) before replaying our log, and let
        // its syncer reconnect at once to replay what we had not acknowledged.
        in.contiguous = r.store->Progress(Origin(p, in.epoch));
        SendProbe(r, p);
        ArmTimer(r, p, loop.Now() + r.out[p].rto);
        Region& peer = regions[p];
        if (peer.alive && Behind(peer, ri)) {
          peer.out[ri].resend_now = true;
          peer.out[ri].rto = Rtt(p, ri);
          ArmTimer(peer, ri, loop.Now());
        }
      } else {
        in.need_full = true;  // rebuild from every peer
        ArmTimer(r, p, loop.Now());
      }
    }
    Trace(FormatDuration(loop.Now()) + " " + r.name + " restarted as incarnation " +
          std::to_string(r.incarnation));
  }

  // ---- partitions ----

  template <typename F>
  void ForGroupPairs(const std::vector<std::vector<int>>& groups, F f) {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t h = g + 1; h < groups.size(); ++h) {
        for (int a : groups[g]) {
          for (int b : groups[h]) {
            if (a != b) f(a, b);
          }
        }
      }
    }
  }

  void OnHealed(int a, int b) {
    // The syncers reconnect at once: retry now, with a fresh backoff, both ways.
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      Region& r = regions[x];
      if (!r.alive) continue;
      r.out[y].rto = Rtt(x, y);
      if (Behind(r, y)) {
        r.out[y].resend_now = true;
        ArmTimer(r, y, loop.Now());
      }
    }
  }

  bool Quiescent(std::string* pending) const {
    for (const Region& r : regions) {
      if (!r.alive) continue;
      for (int p = 0; p < n(); ++p) {
        if (p == r.index || !regions[p].alive || !network.Connected(r.index, p)) continue;
        if (Behind(r, p)) {
          if (pending) {
            const OutPeer& o = r.out[p];
            *pending =
                r.name + "->" + regions[p].name + ": " +
                (r.in[p].need_full ? "waiting for the peer's full state"
                 : o.needs_full    ? "full sync in progress"
                                : std::to_string(r.head - o.acked) + " effects not acknowledged");
          }
          return false;
        }
      }
    }
    return true;
  }

  SimConfig config;
  Rng rng;
  EventLoop loop;
  Network network;
  std::vector<Region> regions;
  std::vector<std::unique_ptr<RegionClient>> clients;
  std::function<void(const std::string&)> trace;
  std::optional<SimTime> last_heal;
  std::optional<SimTime> converged_after_heal;
  bool watching_convergence = false;  // a heal happened; quiescence not reached since

  // Called after every delivered message while watching: records when the regions
  // became quiescent after the last heal (a wait may pass that moment, a sync too).
  void CheckConvergence() {
    if (watching_convergence && Quiescent(nullptr)) {
      watching_convergence = false;
      converged_after_heal = loop.Now() - *last_heal;
    }
  }
};

Simulation::Simulation(SimConfig config) : impl_(std::make_unique<Impl>(this, std::move(config))) {}
Simulation::~Simulation() = default;

int Simulation::region_count() const { return impl_->n(); }
const std::string& Simulation::region_name(int r) const { return impl_->regions[r].name; }
int Simulation::RegionIndex(std::string_view name) const {
  for (const Region& r : impl_->regions) {
    if (r.name == name) return r.index;
  }
  return -1;
}
Network& Simulation::network() { return impl_->network; }
EventLoop& Simulation::loop() { return impl_->loop; }
SimTime Simulation::Now() const { return impl_->loop.Now(); }

Reply Simulation::Execute(int r, const std::vector<std::string>& argv) {
  return impl_->Execute(r, argv);
}
std::vector<Reply> Simulation::ExecuteBatch(int r,
                                            const std::vector<std::vector<std::string>>& cmds) {
  return impl_->ExecuteBatch(r, cmds);
}
Client& Simulation::client(int r) { return *impl_->clients[r]; }
uint64_t Simulation::KeyVersion(int r, std::string_view key) const {
  const auto& reg = impl_->regions[r];
  return reg.alive ? reg.store->KeyVersion(key) : 0;
}

void Simulation::Partition(const std::vector<std::vector<int>>& groups) {
  impl_->ForGroupPairs(groups, [&](int a, int b) {
    impl_->network.Cut(a, b);
    impl_->Trace(FormatDuration(Now()) + " partition " + region_name(a) + " | " + region_name(b));
  });
}

void Simulation::Heal(const std::vector<std::vector<int>>& groups) {
  impl_->ForGroupPairs(groups, [&](int a, int b) {
    if (impl_->network.Connected(a, b)) return;
    impl_->network.Restore(a, b);
    impl_->Trace(FormatDuration(Now()) + " heal " + region_name(a) + " | " + region_name(b));
    impl_->OnHealed(a, b);
    impl_->last_heal = Now();
    impl_->watching_convergence = true;
    impl_->converged_after_heal.reset();
  });
}

void Simulation::HealAll() {
  std::vector<std::vector<int>> all;
  for (int i = 0; i < region_count(); ++i) all.push_back({i});
  Heal(all);
}

void Simulation::AdvanceTo(SimTime t) { impl_->loop.RunUntil(t); }

SyncResult Simulation::Sync(SimTime limit) {
  SyncResult res;
  SimTime start = Now();
  SimTime deadline = start + limit;
  while (!impl_->Quiescent(nullptr)) {
    auto next = impl_->loop.NextTime();
    if (!next || *next > deadline) {
      impl_->Quiescent(&res.pending);
      if (next) impl_->loop.RunUntil(deadline);
      res.took = Now() - start;
      return res;
    }
    impl_->loop.RunOne();
  }
  res.done = true;
  res.took = Now() - start;
  impl_->CheckConvergence();  // a heal with nothing to exchange is converged at once
  return res;
}

bool Simulation::Quiescent(std::string* pending) const { return impl_->Quiescent(pending); }

uint64_t Simulation::Crash(int r) { return impl_->Crash(r); }
void Simulation::Restart(int r) { impl_->Restart(r); }
bool Simulation::alive(int r) const { return impl_->regions[r].alive; }

std::string Simulation::Dump(int r, std::string_view key) const {
  const Region& reg = impl_->regions[r];
  return reg.alive ? reg.store->Dump(key) : "(down)";
}
std::string Simulation::DumpAll(int r) const {
  const Region& reg = impl_->regions[r];
  return reg.alive ? reg.store->DumpAll() : "(down)\n";
}
std::vector<std::string> Simulation::Keys(int r) const {
  const Region& reg = impl_->regions[r];
  return reg.alive ? reg.store->Keys() : std::vector<std::string>();
}

std::vector<std::string> Simulation::Divergent(const std::vector<std::string>& keys) const {
  std::set<std::string> candidates(keys.begin(), keys.end());
  if (keys.empty()) {
    for (int r = 0; r < region_count(); ++r) {
      for (auto& k : Keys(r)) candidates.insert(k);
    }
  }
  std::vector<std::string> out;
  for (const std::string& k : candidates) {
    std::optional<std::string> first;
    for (int r = 0; r < region_count(); ++r) {
      if (!alive(r)) continue;
      std::string v = Dump(r, k);
      if (!first) {
        first = v;
      } else if (*first != v) {
        out.push_back(k);
        break;
      }
    }
  }
  return out;
}

RegionMetrics Simulation::Metrics(int ri) const {
  const Region& r = impl_->regions[ri];
  RegionMetrics m;
  m.name = r.name;
  m.alive = r.alive;
  m.incarnation = r.incarnation;
  m.local_writes = r.local_writes;
  m.lost_writes = r.lost_writes;
  m.crashes = r.crashes;
  m.store_failures = r.store_failures;
  m.backlog_bytes = r.log_bytes;
  m.memory_bytes = r.alive ? r.store->MemoryBytes() : 0;
  bool first = true;
  for (int p = 0; p < region_count(); ++p) {
    if (p == ri) continue;
    PeerMetrics pm = r.out[p].m;
    pm.peer = impl_->regions[p].name;
    pm.ops_lag = r.head - std::min(r.head, r.out[p].acked);
    pm.effects_received = r.in[p].received;
    pm.effects_filtered = r.in[p].filtered;
    pm.link_out = impl_->network.stats(ri, p);
    m.max_ops_lag = first ? pm.ops_lag : std::max(m.max_ops_lag, pm.ops_lag);
    m.min_ops_lag = first ? pm.ops_lag : std::min(m.min_ops_lag, pm.ops_lag);
    first = false;
    m.peers.push_back(std::move(pm));
  }
  return m;
}

uint64_t Simulation::Digest() const {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int r = 0; r < region_count(); ++r) {
    h = Fnv(h, region_name(r));
    h = Fnv(h, alive(r) ? "\x01" : "\x00");
    h = Fnv(h, DumpAll(r));
  }
  return Fnv(h, std::to_string(impl_->loop.events_run()));
}

std::optional<SimTime> Simulation::converged_after_heal() const {
  return impl_->converged_after_heal;
}

void Simulation::SetTrace(std::function<void(const std::string&)> trace) {
  impl_->trace = trace;
  impl_->network.SetTrace(std::move(trace));
}

namespace {

class SimBackend final : public Session::Backend {
 public:
  SimBackend(Simulation& sim, int region) : sim_(sim), region_(region) {}
  Reply Execute(const std::vector<std::string>& argv) override {
    return sim_.Execute(region_, argv);
  }
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override {
    return sim_.ExecuteBatch(region_, cmds);
  }
  uint64_t KeyVersion(std::string_view key) override { return sim_.KeyVersion(region_, key); }

 private:
  Simulation& sim_;
  int region_;
};

}  // namespace

std::unique_ptr<Session::Backend> SimulationBackend(Simulation& sim, int region) {
  return std::make_unique<SimBackend>(sim, region);
}

std::string FormatDigest(uint64_t digest) {
  static const char* kHex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[i] = kHex[digest & 0xF];
    digest >>= 4;
  }
  return s;
}

}  // namespace cluster_sim
