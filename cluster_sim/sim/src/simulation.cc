#include "cluster_sim/simulation.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

#include "cluster_sim/replicator.h"
#include "cluster_sim/session.h"
#include "cluster_sim/status.h"
#include "crdt/dot.h"

namespace cluster_sim {

namespace {

// On the wire (Network::Packet) a message's fields are the packet's header, copied by value:
// its first 16 bytes (kind, flags, epochs, count) as they lie in ReplMessage, then its
// sequence number; its payloads are the body, shared with the sender's log.
static_assert(std::is_trivially_copyable_v<ReplMessage> && std::is_standard_layout_v<ReplMessage>);
static_assert(offsetof(ReplMessage, first_seq) == ReplMessage::kHeaderBytes &&
                  offsetof(ReplMessage, count) + sizeof(uint32_t) == ReplMessage::kHeaderBytes &&
                  offsetof(ReplMessage, sender_epoch) == 4 && offsetof(ReplMessage, epoch) == 8,
              "ReplMessage's header fields are 16 bytes with no padding");

Network::Packet::Header PacketHeader(const ReplMessage& m) {
  Network::Packet::Header h;
  std::memcpy(h.data(), &m, ReplMessage::kHeaderBytes);
  h[2] = m.kind == ReplMessage::Kind::kEffects ? m.first_seq : m.seq;
  return h;
}

// PacketHeader(ReplMessage::Ack(sender_epoch, epoch, seq, full)), its words made in
// registers: a message written field by field and read back 8 bytes at a time makes each
// read wait for the narrower writes it spans (no store forwarding). The words are those of
// ReplMessage's first 16 bytes on a little-endian machine: kind, full_ack, causal (false),
// blocks (false), sender_epoch; epoch, count (0).
Network::Packet::Header AckPacketHeader(uint32_t sender_epoch, uint32_t epoch, uint64_t seq,
                                        bool full) {
  static_assert(std::endian::native == std::endian::little);
  const Network::Packet::Header h = {uint64_t{sender_epoch} << 32 | uint64_t{full} << 8 |
                                         static_cast<uint64_t>(ReplMessage::Kind::kAck),
                                     uint64_t{epoch}, seq};
  assert(h == PacketHeader(ReplMessage::Ack(sender_epoch, epoch, seq, full)));
  return h;
}

// The message a packet carries. Both sequence numbers are the header's third word: each
// kind reads only its own (first_seq of effects, seq of the others), and setting both
// needs no test of the kind.
ReplMessage FromPacket(const Network::Packet& p) {
  ReplMessage m;
  std::memcpy(static_cast<void*>(&m), p.header.data(), ReplMessage::kHeaderBytes);
  m.first_seq = m.seq = p.header[2];
  m.body = p.body.get();
  return m;
}

// The simulator's transport: the simulated links of one region.
class SimTransport final : public ReplTransport {
 public:
  SimTransport(Network& network, int self)
      : ReplTransport(network.tracing_flag()), network_(network), self_(self) {}
  void Send(int peer, const ReplMessage& m, std::shared_ptr<const void>&& body, size_t wire_bytes,
            std::string&& what) override {
    network_.SendPacket(self_, peer, PacketHeader(m), std::move(body), wire_bytes, std::move(what));
  }
  // Every delivered effect's ack: its header packed from the fields, no message in between.
  // flatten: without it GCC stops inlining SendPacket here (+104 instructions per op).
  [[gnu::flatten]] void SendAck(int peer, uint32_t sender_epoch, uint32_t epoch, uint64_t seq,
                                bool full) override {
    no_what_.clear();
    network_.SendPacket(self_, peer, AckPacketHeader(sender_epoch, epoch, seq, full),
                        std::move(no_body_), ReplMessage::kWireHeaderBytes, std::move(no_what_));
  }
  // Asked on every ack that makes progress: each peer's round trip is computed once per
  // change of the links' parameters.
  SimTime Rtt(int peer) const override {
    if (rtt_version_ != network_.links_version()) [[unlikely]] {
      ComputeRtts();
    }
    return rtt_[peer];
  }

 private:
  [[gnu::noinline]] void ComputeRtts() const {
    rtt_.resize(network_.size());
    for (int peer = 0; peer < network_.size(); ++peer) {
      const LinkParams& ab = network_.link(self_, peer);
      const LinkParams& ba = network_.link(peer, self_);
      rtt_[peer] = ab.latency + ba.latency + 2 * (ab.jitter + ba.jitter) + SimTime(5'000);
    }
    rtt_version_ = network_.links_version();
  }

  Network& network_;
  int self_;
  // An ack's body (null) and description (empty), moved from at every ack (a moved-from
  // shared_ptr is null; the string is cleared first), so no ack builds and destroys its own.
  std::shared_ptr<const void> no_body_;
  std::string no_what_;
  mutable std::vector<SimTime> rtt_;             // by peer, as of links_version() == rtt_version_
  mutable uint64_t rtt_version_ = ~uint64_t{0};  // none computed yet
};

// The simulator's timers: the event loop.
class LoopTimers final : public ReplTimers {
 public:
  explicit LoopTimers(EventLoop& loop) : loop_(loop) {}
  SimTime Now() const override { return loop_.Now(); }
  void At(SimTime at, std::function<void()> cb) override { loop_.At(at, std::move(cb)); }

 private:
  EventLoop& loop_;
};

struct Region {
  std::string name;
  int index = 0;
  uint16_t site = 0;
  SimTime clock_skew{0};
  std::unique_ptr<Store> store;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<Replicator> repl;
  uint64_t lost_writes = 0;
  uint64_t crashes = 0;
  uint64_t held_writes = 0;          // writes whose effect the store holds (in a batch)
  std::string effect;                // Logged's buffer, its room kept from write to write
  bool effect_in_use = false;        // a Logged write on this region is writing `effect`
  uint64_t expiry_timer = 0;         // generation of the armed expiry event (0: none)
  std::optional<SimTime> expiry_at;  // when it fires (virtual time)

  bool alive() const { return repl->alive(); }
  uint32_t incarnation() const { return repl->incarnation(); }
  crdt::ReplicaId id(uint32_t incarnation) const {
    return crdt::MakeReplicaId(site, static_cast<uint16_t>(incarnation));
  }
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

struct Simulation::Impl final : Network::Receiver {
  Impl(Simulation* self, SimConfig c)
      : config(std::move(c)),
        rng(config.seed),
        network(loop, rng.Fork("network"), Names(config)),
        timers(loop) {
    AASIM_CHECK(!config.regions.empty()) << "a simulation needs at least one region";
    if (!config.store_factory) {
      config.store_factory = [](int, crdt::ReplicaId id) { return NewMemoryStore(id); };
    }
    // Sites are numbered in byte order of the names: last-write-wins ties go to the
    // region whose name sorts first.
    std::vector<std::string> names = Names(config);
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    int n = static_cast<int>(config.regions.size());
    for (int i = 0; i < n; ++i) {
      Region reg;
      reg.name = config.regions[i].name;
      reg.index = i;
      reg.site = static_cast<uint16_t>(std::lower_bound(sorted.begin(), sorted.end(), reg.name) -
                                       sorted.begin());
      reg.clock_skew = config.regions[i].clock_skew;
      reg.store = config.store_factory(i, reg.id(1));
      reg.store->SetRegionNames(sorted);
      reg.transport = std::make_unique<SimTransport>(network, i);
      Replicator::Options opts;
      opts.self = i;
      opts.names = names;
      opts.incarnation = 1;
      opts.config = config.replication;
      opts.trace = [this](const std::string& line) { Trace(line); };
      reg.repl = std::make_unique<Replicator>(std::move(opts), reg.store.get(), reg.transport.get(),
                                              &timers);
      repls.push_back(reg.repl.get());
      regions.push_back(std::move(reg));
      clients.push_back(std::make_unique<RegionClient>(self, i));
    }
    network.SetReceiver(this);
    for (Region& r : regions) {
      // A durable store may hold a previous run's replication state (an aasim process that
      // restarted on the same Redis servers): what each peer's store durably holds of this
      // region's log is what it acknowledged.
      std::vector<std::optional<uint64_t>> acked(regions.size());
      for (int p = 0; p < n; ++p) {
        acked[p] = regions[p].store->durable()
                       ? regions[p].store->Progress(Replicator::Origin(r.name, 1))
                       : 0;
      }
      r.repl->Resume(acked);
    }
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

  // What both ExecuteLogged and ExecuteBatch do around their store call `run(&effect)`: the
  // held writes logged first, then run's effect as one local write, the expiry timer re-armed.
  // The effect is written into the region's buffer in place, marked as in use for the
  // write (a write that run caused on the same region would write a string of its own).
  // OnLocalWrite copies the bytes into its log and leaves the string valid (changed or
  // emptied), so the buffer's room serves the next write: no allocation and free, and no
  // string moved out and back, per write. A buffer grown past kKeptEffectBytes (a large
  // write) is let go. (Should run throw, the mark stays and the region's later writes each
  // use a string of their own: correct, without the kept room.)
  template <typename Run>
  [[gnu::always_inline]] auto Logged(Region& r, Run run) {
    LogHeld(r);
    std::string own;
    const bool nested = r.effect_in_use;
    std::string& effect = nested ? own : r.effect;
    r.effect_in_use = true;
    effect.clear();
    auto out = run(&effect);
    if (!effect.empty()) r.repl->OnLocalWrite(std::move(effect));
    if (effect.capacity() > kKeptEffectBytes) [[unlikely]] {
      std::string().swap(effect);
    }
    r.effect_in_use = nested;
    ArmExpiry(r);
    return out;
  }
  static constexpr size_t kKeptEffectBytes = 4096;
  Reply Execute(int ri, const std::vector<std::string>& argv) {
    Region& r = regions[ri];
    // The usual case inline: a live region, not batching, whose writes make effects.
    if (r.alive() && !r.repl->batching() && r.repl->needs_effects()) [[likely]] {
      return ExecuteLogged(r, argv, (loop.Now() + r.clock_skew).count());
    }
    return ExecuteOther(r, argv);
  }
  // Runs argv and logs its effect as a local write (after the held ones).
  Reply ExecuteLogged(Region& r, const std::vector<std::string>& argv, int64_t wall_clock_us) {
    return Logged(
        r, [&](std::string* effect) { return r.store->Execute(argv, wall_clock_us, effect); });
  }
  [[gnu::noinline]] Reply ExecuteOther(Region& r, const std::vector<std::string>& argv) {
    if (!r.alive()) return Reply::Error("CLUSTERDOWN region " + r.name + " is down");
    const int64_t wall_clock_us = (loop.Now() + r.clock_skew).count();
    Reply reply;
    bool wrote = false;
    if (r.repl->batching() && r.repl->needs_effects() &&
        r.store->ExecuteHeld(argv, wall_clock_us, &reply, &wrote)) {
      r.held_writes += wrote ? 1 : 0;
    } else if (r.repl->needs_effects()) {
      return ExecuteLogged(r, argv, wall_clock_us);
    } else {
      reply = r.store->ExecuteWithoutEffect(argv, wall_clock_us, &wrote);
      if (wrote) r.repl->OnLocalWrite("");
    }
    ArmExpiry(r);
    return reply;
  }

  std::vector<Reply> ExecuteBatch(int ri, const std::vector<std::vector<std::string>>& cmds) {
    Region& r = regions[ri];
    if (!r.alive()) {
      return std::vector<Reply>(cmds.size(),
                                Reply::Error("CLUSTERDOWN region " + r.name + " is down"));
    }
    const int64_t wall_clock_us = (loop.Now() + r.clock_skew).count();
    return Logged(
        r, [&](std::string* effect) { return r.store->ExecuteBatch(cmds, wall_clock_us, effect); });
  }

  // Logs the effect that region r's store holds (Execute in a batch) as one local write.
  void LogHeld(Region& r) {
    if (r.held_writes == 0) return;
    std::string effect;
    r.store->TakeHeld(&effect);
    if (!effect.empty()) r.repl->OnLocalWrite(std::move(effect), r.held_writes);
    r.held_writes = 0;
  }

  // Key expiry (Store::NextExpiry): one pending event per region, at the virtual time its
  // wall clock (virtual time plus clock_skew) reaches the next due deletion; re-armed after
  // every local write and merge. A store with no TTL schedules nothing, so runs without
  // TTLs have the events (and digests) they had before expiry existed.
  // Called after every local write and merge; most stores hold no TTL, and that check
  // stays inline.
  void ArmExpiry(Region& r) {
    if (!r.alive()) return;
    const int64_t next_wall_us = r.store->NextExpiry();
    if (next_wall_us >= 0) [[unlikely]] {
      ArmExpiryAt(r, next_wall_us);
    }
  }
  [[gnu::noinline]] void ArmExpiryAt(Region& r, int64_t next_wall_us) {
    SimTime at = std::max(loop.Now(), SimTime(next_wall_us) - r.clock_skew);
    if (r.expiry_at && *r.expiry_at <= at) return;  // an earlier event will re-arm
    r.expiry_at = at;
    uint64_t generation = ++r.expiry_timer;
    int ri = r.index;
    loop.At(at, [this, ri, generation] {
      Region& reg = regions[ri];
      if (reg.expiry_timer != generation) return;  // superseded by an earlier one
      reg.expiry_at.reset();
      if (!reg.alive()) return;
      std::string effect;
      Status s = reg.store->ExpireDue((loop.Now() + reg.clock_skew).count(), &effect);
      if (!s.ok()) Trace(FormatDuration(loop.Now()) + " " + reg.name + " expiry: " + s.message());
      if (!effect.empty()) {
        Trace(FormatDuration(loop.Now()) + " " + reg.name + " expired due keys");
        reg.repl->OnLocalWrite(std::move(effect));
      }
      ArmExpiry(reg);
    });
  }

  // Every message that arrives (Network::Receiver).
  void Deliver(int from, int to, const Network::Packet& p) override {
    OnDeliver(from, to, FromPacket(p));
  }
  [[gnu::always_inline]] void OnDeliver(int from, int to, const ReplMessage& m) {
    Replicator* const sender = repls[from];
    Replicator* const receiver = repls[to];
    // Pull model: what a crashed region had not handed over is gone with it.
    if (!receiver->alive() || !sender->alive() || sender->incarnation() != m.sender_epoch)
        [[unlikely]] {
      return Discarded(regions[from], regions[to]);
    }
    // Alive, and `from` is another region (Network::SendPacket checked the link).
    receiver->OnPeerMessage(from, m);
    // Only a merge can bring a key with a TTL; an ack, probe or sync request changes no key,
    // and the expiry armed after the last write or merge still stands. The receiver is
    // asked again whether it is alive: a store's Merge or a trace callback may have crashed
    // it (nothing forbids that), and a stopped region arms nothing.
    if (m.kind == ReplMessage::Kind::kEffects || m.kind == ReplMessage::Kind::kFullState) {
      ArmExpiry(regions[to]);
    }
    CheckConvergence();
  }

  [[gnu::noinline]] void Discarded(const Region& sender, const Region& r) {
    Trace(FormatDuration(loop.Now()) + " " + sender.name + "->" + r.name +
          " discarded (region down or restarted)");
  }

  // ---- faults ----

  uint64_t Crash(int ri) {
    Region& r = regions[ri];
    if (!r.alive()) return 0;
    LogHeld(r);
    uint64_t lost = 0;
    if (!r.store->durable()) {
      // The writes no live copy holds: no peer received them in this incarnation.
      auto holders = [&](int p) {
        return p != ri && regions[p].repl->InboundEpoch(ri) == r.incarnation();
      };
      uint64_t max_contig = 0;
      for (int p = 0; p < n(); ++p) {
        if (holders(p)) max_contig = std::max(max_contig, regions[p].repl->Contiguous(ri));
      }
      for (uint64_t s = max_contig + 1; s <= r.repl->head(); ++s) {
        bool somewhere = false;
        for (int p = 0; p < n() && !somewhere; ++p) {
          somewhere = holders(p) && regions[p].repl->Holds(ri, s);
        }
        lost += somewhere ? 0 : 1;
      }
    }
    r.repl->Stop();
    r.crashes++;
    r.lost_writes += lost;
    Trace(FormatDuration(loop.Now()) + " " + r.name + " crashed (" + std::to_string(lost) +
          " unreplicated writes lost)");
    return lost;
  }

  void Restart(int ri) {
    Region& r = regions[ri];
    if (r.alive()) return;
    uint32_t incarnation = r.incarnation();
    if (!r.store->durable()) {
      incarnation++;
      AASIM_CHECK(incarnation <= 0xFFFF) << "too many restarts of region" << r.name;
      r.store->Wipe(r.id(incarnation));
    }
    std::vector<uint32_t> epochs;
    for (const Region& p : regions) epochs.push_back(p.incarnation());
    r.repl->Restart(incarnation, epochs);
    r.expiry_at.reset();  // a pending event of the old incarnation re-arms nothing
    ++r.expiry_timer;
    ArmExpiry(r);
    if (r.store->durable()) {
      // Every peer's syncer reconnects at once to replay what the region had not
      // acknowledged.
      for (int p = 0; p < n(); ++p) {
        if (p != ri && regions[p].alive()) regions[p].repl->OnPeerRestarted(ri);
      }
    }
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
    regions[a].repl->OnLinkUp(b);
    regions[b].repl->OnLinkUp(a);
  }

  bool Quiescent(std::string* pending) const {
    for (const Region& r : regions) {
      if (!r.alive()) continue;
      for (int p = 0; p < n(); ++p) {
        if (p == r.index || !regions[p].alive() || !network.Connected(r.index, p)) continue;
        // Without `pending` (every step of Sync's drain), the inline test.
        if (pending == nullptr ? r.repl->Behind(p) : r.repl->Behind(p, pending)) return false;
      }
    }
    return true;
  }

  SimConfig config;
  Rng rng;
  EventLoop loop;
  Network network;
  LoopTimers timers;
  std::vector<Region> regions;
  // regions[i].repl, side by side (set once: a region keeps its replicator through crashes
  // and restarts): a delivery reads its two regions' from one line, not from two Regions.
  std::vector<Replicator*> repls;
  std::vector<std::unique_ptr<RegionClient>> clients;
  std::function<void(const std::string&)> trace;
  std::optional<SimTime> last_heal;
  std::optional<SimTime> converged_after_heal;
  bool watching_convergence = false;  // a heal happened; quiescence not reached since

  // Called after every delivered message while watching: records when the regions
  // became quiescent after the last heal (a wait may pass that moment, a sync too).
  void CheckConvergence() {
    if (watching_convergence) [[unlikely]] {
      CheckQuiescent();
    }
  }
  // Out of line, so that Quiescent is never inlined into Deliver (every delivery would
  // then save one more register), while Sync, which calls it in a loop, keeps it inline.
  [[gnu::noinline]] void CheckQuiescent() {
    if (Quiescent(nullptr)) {
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
void Simulation::BeginBatch(int r) { impl_->regions[r].repl->BeginBatch(); }
void Simulation::EndBatch(int r) {
  impl_->LogHeld(impl_->regions[r]);
  impl_->regions[r].repl->EndBatch();
}
uint64_t Simulation::KeyVersion(int r, std::string_view key) const {
  const auto& reg = impl_->regions[r];
  return reg.alive() ? reg.store->KeyVersion(key) : 0;
}
std::string Simulation::StreamLastId(int r, std::string_view key) const {
  const auto& reg = impl_->regions[r];
  return reg.alive() ? reg.store->StreamLastId(key) : "0-0";
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
  SimTime deadline = SaturatedAdd(start, limit);
  while (!impl_->Quiescent(nullptr)) {
    // The next event, if it is due by the deadline and the budget allows it.
    if (impl_->loop.RunOne(deadline)) continue;
    // None: nothing is pending, the next event comes after the deadline, or the budget is
    // spent (RunUntil then runs nothing).
    impl_->Quiescent(&res.pending);
    if (impl_->loop.NextTime()) impl_->loop.RunUntil(deadline);
    res.took = Now() - start;
    return res;
  }
  res.done = true;
  res.took = Now() - start;
  impl_->CheckConvergence();  // a heal with nothing to exchange is converged at once
  return res;
}

bool Simulation::Quiescent(std::string* pending) const { return impl_->Quiescent(pending); }

uint64_t Simulation::Crash(int r) { return impl_->Crash(r); }
void Simulation::Restart(int r) { impl_->Restart(r); }
bool Simulation::alive(int r) const { return impl_->regions[r].alive(); }
std::string Simulation::CannotCrash(int r) const {
  return alive(r) ? "" : "region '" + region_name(r) + "' is already down";
}
std::string Simulation::CannotRestart(int r) const {
  return alive(r) ? "region '" + region_name(r) + "' is not down" : "";
}

std::string Simulation::Dump(int r, std::string_view key) const {
  const Region& reg = impl_->regions[r];
  return reg.alive() ? reg.store->Dump(key) : "(down)";
}
std::string Simulation::DumpAll(int r) const {
  const Region& reg = impl_->regions[r];
  return reg.alive() ? reg.store->DumpAll() : "(down)\n";
}
std::vector<std::string> Simulation::Keys(int r) const {
  const Region& reg = impl_->regions[r];
  return reg.alive() ? reg.store->Keys() : std::vector<std::string>();
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
  m.alive = r.alive();
  m.incarnation = r.incarnation();
  m.local_writes = r.repl->local_writes();
  m.lost_writes = r.lost_writes;
  m.crashes = r.crashes;
  m.store_failures = r.repl->store_failures();
  m.backlog_bytes = r.repl->backlog_bytes();
  m.backlog_limit = r.repl->backlog_limit();
  m.memory_bytes = r.alive() ? r.store->MemoryBytes() : 0;
  bool first = true;
  for (int p = 0; p < region_count(); ++p) {
    if (p == ri) continue;
    PeerMetrics pm;
    static_cast<ReplPeerStats&>(pm) = r.repl->Metrics(p);
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
