// Replicator: one region's side of the Active/Active replication protocol, written once and
// run over two transports: the simulator's links (simulation.cc, virtual time) and the TCP
// links between `aasim node` processes (server/src/node.cc, the steady clock). Like
// FoundationDB's Sim2/Net2, the state machine sees only two seams: a Transport that sends a
// message to a peer (and may lose it), and Timers (the current time and a callback at an
// instant). Whoever owns the transport calls OnMessage for every message that arrives.
//
// Protocol (one log per region incarnation, one cursor per peer; modelled on the Redis
// Enterprise syncer):
//   - every local write appends (seq, effect) to the log and is sent at once to every peer;
//     the log is a bounded backlog (bytes, ReplicationConfig::backlog_bytes), oldest entries
//     dropped first;
//   - a receiver applies each effect once (duplicates are counted as filtered), in its
//     origin's order (an effect behind a gap waits for the gap's resend; with causal
//     delivery, also until every effect it depends on is applied), and acknowledges the
//     contiguous prefix it applied;
//   - a server may batch what one read of its sockets brings (BeginBatch/EndBatch): the
//     writes of a batch travel in one message per peer, and the effects it received are
//     acknowledged once per peer;
//   - a retransmission timer per peer (RTT-based, exponential backoff, reset when a link
//     comes back) replays unacknowledged effects: a *partial sync*. A peer whose next needed
//     effect has left the backlog gets the full state instead: a *full sync*. While a peer
//     stays silent, every other retry is a cheap probe;
//   - a region that lost its memory restarts as a new incarnation (a new replica id, so no
//     dot is ever reused), asks every peer for its full state and pushes its merged state to
//     the others once, so writes of its previous life that only some peers hold reach all;
//   - with a durable store (Redis) the region keeps its incarnation, data, log and progress:
//     merges are acknowledged only once the store kept them (Flush) with the per-origin
//     progress, and the store's log is trimmed of what every peer acknowledged.
//   - with causal delivery (ReplicationConfig::causal) every effect and full state starts with
//     its writer's applied vector, and a receiver holds an effect back until it has applied
//     the writer's own earlier effects and everything the writer had applied of other logs.
//     Effects are not relayed: an effect whose dependency sits behind a cut link waits for
//     the heal. A durable log replayed after a process restart carries no vector (its
//     effects are applied in their origin's order only).
//   - incarnations only grow. A message from an older incarnation than one already seen is
//     refused and reported (Anomalies()): it is either a stale message or a region that came
//     back with an incarnation its peers already know, whose writes would otherwise be
//     dropped as duplicates.
//
// Determinism: no clock but Timers, no randomness; single-threaded.
#pragma once

#include <cassert>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/effect_arena.h"
#include "cluster_sim/store.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

struct ReplicationConfig {
  // The backlog of each region, in bytes of effects. 0 (the default) sizes it as Redis
  // Enterprise does ("auto"): 1% of the region's data (Store::MemoryBytes), from
  // kMinAutoBacklog to kMaxAutoBacklog, measured again as the data grows. Any other value
  // is a fixed size.
  static constexpr size_t kMinAutoBacklog = size_t{1} << 20;
  static constexpr size_t kMaxAutoBacklog = size_t{250} << 20;
  size_t backlog_bytes = 0;
  size_t max_batch_bytes = 64 << 10;  // effects per retransmitted message
  SimTime max_rto{2'000'000};         // retransmission backoff cap
  // Causal consistency (Redis Enterprise's option): each effect carries what its writer had
  // applied of every log, and a region applies it only after all of that. Costs a vector of
  // (incarnation, seq) per effect and per full state, and effects waiting at the receiver.
  bool causal = false;
  // A region with no peer and no durable store logs its writes' effects anyway, so that its
  // backlog figures read as a region's with peers (`aasim run` reports them). False: nobody
  // will ever read those effects, so none is kept (Replicator::needs_effects), and the
  // writer may skip making them (`aasim serve`, whose regions are fixed by its file).
  bool log_without_peers = true;
};

// What travels between regions. Effects carry consecutive sequence numbers of the sender's
// log; the epoch is the sender's incarnation. The payloads are carried beside the header:
// none, one (a std::string: a full state, or an effect decoded from a wire), or several
// (Payloads); with `blocks`, the effects of a log (effect_arena.h): one EffectBlock, or
// several (Blocks). The fields before first_seq are 16 bytes with no padding, which the
// simulator copies as they are into a packet's header (kHeaderBytes).
struct ReplMessage {
  enum class Kind : uint8_t { kEffects, kAck, kFullState, kSyncRequest, kProbe };
  using Payloads = std::vector<std::shared_ptr<const std::string>>;
  using Blocks = std::vector<std::shared_ptr<const EffectBlock>>;
  static constexpr size_t kHeaderBytes = 16;  // kind .. count
  Kind kind = Kind::kEffects;
  bool full_ack = false;       // kAck: acknowledges a full state
  bool causal = false;         // kEffects, kFullState: each payload starts with an applied vector
  bool blocks = false;         // the body is an EffectBlock or Blocks (else strings)
  uint32_t sender_epoch = 0;   // incarnation of the sender when it sent this
  uint32_t epoch = 0;          // kAck: the epoch of the log being acknowledged
  uint32_t count = 0;          // kEffects, kFullState: number of payloads
  uint64_t first_seq = 0;      // kEffects: seq of payload 0
  uint64_t seq = 0;            // kAck: contiguous prefix held; kFullState: log head it covers
  const void* body = nullptr;  // while being delivered: the payload(s), as `blocks` says

  // On a wire a message is this many bytes of header, its payloads, and 4 bytes of framing
  // per payload (the links' counters: Replicator::WireBytes).
  static constexpr size_t kWireHeaderBytes = 24;
  // An ack's header: the sender, of incarnation `sender_epoch`, holds the contiguous prefix
  // up to `seq` of the log of incarnation `epoch` (and, when `full`, a full state of it).
  static ReplMessage Ack(uint32_t sender_epoch, uint32_t epoch, uint64_t seq, bool full) {
    ReplMessage m;
    m.kind = Kind::kAck;
    m.sender_epoch = sender_epoch;
    m.epoch = epoch;
    m.seq = seq;
    m.full_ack = full;
    return m;
  }

  std::string_view payload(size_t i) const {
    if (blocks) {
      if (count == 1) return static_cast<const EffectBlock*>(body)->bytes();
      return (*static_cast<const Blocks*>(body))[i]->bytes();
    }
    if (count == 1) return *static_cast<const std::string*>(body);
    return *(*static_cast<const Payloads*>(body))[i];
  }
  static const char* KindName(Kind k);
};

class ReplTransport {
 public:
  virtual ~ReplTransport() = default;
  // Sends m (its payloads in `body`, as ReplMessage::payload reads them) to
  // `peer`. `wire_bytes` is its size for the link's counters; `what` describes it for traces
  // and is empty unless tracing(). The transport may lose the message: the protocol resends.
  // It moves `body` and `what` out or leaves them as they are, nothing else (a sender may
  // hand the same objects to its next send).
  virtual void Send(int peer, const ReplMessage& m, std::shared_ptr<const void>&& body,
                    size_t wire_bytes, std::string&& what) = 0;
  // Sends an ack with no description: Send of ReplMessage::Ack(sender_epoch, epoch, seq,
  // full) with a null body, kWireHeaderBytes and an empty `what` (this default does just
  // that). Its fields come as they are, so a transport may pack its own header from them
  // without a ReplMessage in between (the simulator's does: every delivered effect is acked).
  // Called only while !tracing(): a traced ack goes through Send, with its description.
  virtual void SendAck(int peer, uint32_t sender_epoch, uint32_t epoch, uint64_t seq, bool full);
  // Whether senders describe messages (`what`). Asked on every send, so a flag the transport
  // keeps current rather than a virtual call; false for a transport built with no flag.
  bool tracing() const { return *tracing_; }
  // The round trip to `peer` that the first retransmission timeout waits.
  virtual SimTime Rtt(int peer) const = 0;

 protected:
  ReplTransport() = default;
  // tracing() reads *tracing. REQUIRES: the flag outlives the transport.
  explicit ReplTransport(const bool* tracing) : tracing_(tracing) {}

 private:
  static constexpr bool kNeverTracing = false;
  const bool* tracing_ = &kNeverTracing;
};

class ReplTimers {
 public:
  virtual ~ReplTimers() = default;
  virtual SimTime Now() const = 0;
  // Calls cb at `at` (>= Now()); timers at the same instant run in the order they were set.
  virtual void At(SimTime at, std::function<void()> cb) = 0;
};

// Per-peer figures of one region (as seen from it).
struct ReplPeerStats {
  std::string peer;
  uint64_t ops_lag = 0;           // local writes this peer has not acknowledged
  uint64_t effects_sent = 0;      // effects sent to it, retransmissions included
  uint64_t effects_received = 0;  // effects from it applied here
  uint64_t effects_filtered = 0;  // duplicates from it dropped here
  uint64_t partial_syncs = 0;     // catch-ups by replay of the backlog
  uint64_t full_syncs = 0;        // catch-ups by a full state transfer
  uint64_t effects_held = 0;      // effects from it that waited (an earlier one, or causal deps)
};

class Replicator {
 public:
  struct Options {
    int self = 0;                    // this region's index among `names`
    std::vector<std::string> names;  // every region, in index order
    uint32_t incarnation = 1;
    // Each peer's incarnation as known at the start (empty: 1 for every peer; 0 for one
    // means unknown until its first message).
    std::vector<uint32_t> peer_epochs;
    ReplicationConfig config;
    std::function<void(const std::string&)> trace;  // protocol events, when set
  };
  // REQUIRES: store, transport and timers outlive the replicator.
  Replicator(Options options, Store* store, ReplTransport* transport, ReplTimers* timers);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // A durable store may hold a previous run's replication state (a process restarted on the
  // same Redis): take its log and progress and carry on. `peer_acked[p]`, when known, is
  // what peer p durably holds of this log; unknown peers are asked first (a probe).
  // REQUIRES: called once, before anything else (the log is empty).
  void Resume(const std::vector<std::optional<uint64_t>>& peer_acked);

  // A region starting with no memory of a previous life that its peers know of (a new
  // incarnation after a wipe): ask every peer for its full state, then push the merged state
  // to the others once, as a restart does. Call once, before anything else.
  void Rebuild();

  // A write of this region: its effect goes to the log and to every peer (in a batch: at
  // EndBatch). Without needs_effects() it is only counted (the effect may be empty).
  // `writes` > 1: one effect joining that many writes (Store::TakeHeld), counted as that
  // many in local_writes but one entry (one seq) of the log.
  // The effect is handed over as an rvalue reference (its bytes are copied into the log;
  // causal delivery prefixes it in place): the caller's string may be left changed or empty.
  void OnLocalWrite(std::string&& effect, uint64_t writes = 1);
  // False when no one can ever receive this region's effects: it has no peer, its store is
  // not durable, and ReplicationConfig::log_without_peers is off. A writer may then skip
  // making them and report each write by OnLocalWrite(""): it counts (local_writes, head,
  // and so the writes a crash loses) and keeps no backlog.
  bool needs_effects() const { return needs_effects_; }
  // Batching, for a server that handles what one read brought (pipelined commands, a peer's
  // messages) at one instant. Until EndBatch, local writes are logged but not sent, and
  // the effects received are not acknowledged; EndBatch sends every write of the batch in
  // one message per peer (split at max_batch_bytes) and one ack per peer that sent
  // effects. Without a batch every write is sent, and every message acknowledged, at once
  // (the simulator's scenarios never batch). BeginBatch in a batch does nothing; Stop ends
  // one (what it held is lost with the region).
  void BeginBatch() { batching_ = true; }
  void EndBatch();
  bool batching() const { return batching_; }
  // A message from peer `from`. Ignored while stopped. Inline: its transport's delivery
  // (every message) folds the dispatch in.
  void OnMessage(int from, const ReplMessage& m) {
    if (!alive_ || from == self_ || from < 0 || from >= n()) return;
    OnPeerMessage(from, m);
  }
  // OnMessage for a transport that has checked what OnMessage checks first (the simulator's
  // delivery, once per message). REQUIRES: alive(); `from` is another region's index.
  void OnPeerMessage(int from, const ReplMessage& m) {
    assert(alive_ && from != self_ && from >= 0 && from < n());
    // The common case, the incarnation already known, needs no call.
    if (m.sender_epoch != in_[from].epoch && !AcceptEpoch(from, m)) return;
    // Effects and acks (nearly every message) by two tests, not a jump table.
    if (m.kind == ReplMessage::Kind::kEffects) return OnEffects(from, m);
    if (m.kind == ReplMessage::Kind::kAck) return OnAck(from, m);
    OnControl(from, m);
  }
  // The link to `peer` came back (a heal, a reconnection): retry now, with a fresh backoff.
  void OnLinkUp(int peer);
  // `peer` restarted: if it is behind, replay to it at once (its syncer reconnected).
  void OnPeerRestarted(int peer);

  // Crash: stop (timers and messages are ignored until Restart).
  void Stop();
  // Restart. With an in-memory store the region lost everything: it continues as
  // `incarnation` (a new one: the store must have been wiped with the matching replica id)
  // and rebuilds from every peer; `peer_epochs[p]` is peer p's current incarnation when
  // known (0: learnt from its first message). With a durable store it resumes: it probes
  // every peer for its cursor and replays what they lack.
  void Restart(uint32_t incarnation, const std::vector<uint32_t>& peer_epochs);

  bool alive() const { return alive_; }
  uint32_t incarnation() const { return incarnation_; }
  uint64_t head() const { return head_; }
  // True while `peer` lacks some of this region's writes, or this region waits for its
  // full state (every ack asks: inline); *why, when given, says what is outstanding.
  bool Behind(int peer) const {
    return out_[peer].needs_full || out_[peer].acked < head_ || in_[peer].need_full;
  }
  bool Behind(int peer, std::string* why) const;
  // What this region holds of `origin`'s log of incarnation `epoch`: true if seq is held.
  uint32_t InboundEpoch(int origin) const { return in_[origin].epoch; }
  bool Holds(int origin, uint64_t seq) const;
  uint64_t Contiguous(int origin) const { return in_[origin].contiguous; }

  uint64_t local_writes() const { return local_writes_; }
  uint64_t store_failures() const { return store_failures_; }
  uint64_t backlog_bytes() const { return log_bytes_; }
  // What the backlog may hold now (the fixed size, or the automatic one last measured).
  size_t backlog_limit() const { return backlog_limit_; }
  // Messages refused because their incarnation went backwards, with the last reason.
  uint64_t anomalies() const { return anomalies_; }
  const std::string& last_anomaly() const { return last_anomaly_; }
  // Records an anomaly found by the transport (e.g. a handshake naming a used incarnation).
  void ReportAnomaly(std::string what);
  ReplPeerStats Metrics(int peer) const;

  // The name a store records another region's progress under: its name and incarnation.
  static std::string Origin(std::string_view region, uint32_t epoch);

 private:
  struct Dep {
    uint32_t epoch = 0;
    uint64_t seq = 0;
  };
  // An entry of the log, which holds seqs log_first()..head_ in order with no gap (a write
  // is numbered head_ + 1 as it is appended; OnLocalWrite drops the entries before a jump
  // in a durable store's numbering): an entry's seq is its place, not a field.
  // 32 bytes, half a line: the backlog holds tens of thousands per region, written once
  // and dropped a backlog later (each byte more is memory the stores' lines lose the cache
  // to).
  struct LogEntry {
    SimTime created;
    // Shared with the messages that carry it; never changed.
    std::shared_ptr<const EffectBlock> effect;
    // effect->bytes().size(): the backlog's trimming drops the entry without reading the
    // effect's piece, written a backlog ago and long out of cache.
    uint32_t bytes;
  };
  static_assert(sizeof(LogEntry) == 32, "a log entry is half a cache line");
  struct OutPeer {
    uint64_t acked = 0;      // contiguous prefix of our log the peer holds (this epoch)
    uint64_t chunk_end = 0;  // last seq of the replay chunk in flight
    bool needs_full = false;
    uint64_t full_as_of = 0;         // head covered by the last full state sent
    bool full_in_flight = false;     // a full state was sent and is not acknowledged
    bool in_episode = false;         // catching up (partial or full sync)
    bool resend_now = false;         // the link just came back: replay without waiting
    bool awaiting_response = false;  // data was re-sent and the peer has not answered since
    bool probe_outstanding = false;  // a probe was sent and not answered
    bool probe_next = false;         // alternate probes and data while the peer is silent
    bool acked_known = true;         // false: ask (probe) before deciding how to catch up
    SimTime rto{0};
    uint64_t timer_gen = 0;  // invalidates superseded timer events
    SimTime timer_at{-1};    // when the armed timer fires (-1: not armed)
    ReplPeerStats m;
    // The full state in flight predates a state merged since (a restart's push): its ack
    // does not end the full sync.
    bool full_stale = false;
  };
  struct InPeer {
    uint32_t epoch = 0;
    uint64_t contiguous = 0;
    bool need_full = false;  // we restarted and wait for this peer's full state
    // Effects received but not applied, by seq: behind a gap in this origin's log, or (causal)
    // waiting for their dependencies.
    std::map<uint64_t, std::pair<std::string, std::vector<Dep>>> held;
    Dep floor;  // causal: a full state merged here covered this origin's log up to here
    uint64_t held_count = 0;  // effects that could not be applied on arrival
    uint64_t received = 0;
    uint64_t filtered = 0;
  };

  int n() const { return static_cast<int>(names_.size()); }
  // The first seq the log holds (head_ + 1 when it is empty).
  uint64_t log_first() const { return head_ + 1 - log_.size(); }
  void Trace(const std::string& line) const;
  std::string Arrow(int peer) const;      // "A->B"
  std::string ArrowFrom(int peer) const;  // "B->A"

  // A message's size for the links' counters: a 24-byte header, its payloads and 4 bytes
  // of framing per payload.
  static size_t WireBytes(const ReplMessage& m, size_t payload_bytes) {
    return ReplMessage::kWireHeaderBytes + payload_bytes + 4 * size_t{m.count};
  }
  // `what` (for traces) is empty unless transport_->tracing().
  void SendMsg(int to, const ReplMessage& m, std::shared_ptr<const void>&& body,
               size_t payload_bytes, std::string&& what);
  // SendMsg while not tracing: the description is no_what_, not a string built per message.
  void SendUndescribed(int to, const ReplMessage& m, std::shared_ptr<const void>&& body,
                       size_t payload_bytes) {
    no_what_.clear();
    transport_->Send(to, m, std::move(body), WireBytes(m, payload_bytes), std::move(no_what_));
  }
  // What an ack to `origin` says: this incarnation holds `origin`'s log of `epoch` up to
  // `seq`. The one place that chooses those fields, for both ways an ack leaves (AckHeader's
  // message, traced; SendAckUntraced's fields).
  struct AckFields {
    uint32_t sender_epoch;
    uint32_t epoch;
    uint64_t seq;
  };
  AckFields AckOf(int origin) const {
    const InPeer& in = in_[origin];
    return AckFields{incarnation_, in.epoch, in.contiguous};
  }
  // The header of an ack to `origin` of what this region holds of its log.
  ReplMessage AckHeader(int origin, bool full) const {
    const AckFields a = AckOf(origin);
    return ReplMessage::Ack(a.sender_epoch, a.epoch, a.seq, full);
  }
  // The header of an effects message carrying log entries first..last.
  ReplMessage EffectsHeader(uint64_t first, uint64_t last) const;
  void SendEffects(int peer, uint64_t first, uint64_t last);
  void SendFullState(int peer);
  void SendSyncRequest(int peer);
  void SendAck(int origin, bool full);
  // SendAck's path when not tracing (no description): AckHeader's fields, handed to the
  // transport as they are. Inline: Ack runs it per delivered effect.
  void SendAckUntraced(int origin, bool full) {
    const AckFields a = AckOf(origin);
    transport_->SendAck(origin, a.sender_epoch, a.epoch, a.seq, full);
  }
  // Acknowledges effects received from `origin`: at once, or once at EndBatch. Inline:
  // every delivered effect asks.
  void Ack(int origin) {
    if (batching_) {
      ack_due_[origin] = 1;
    } else if (transport_->tracing()) [[unlikely]] {
      SendAck(origin, false);
    } else {
      SendAckUntraced(origin, false);
    }
  }
  void SendProbe(int peer);
  // The last seq of a message of at most max_batch_bytes (or one effect) from `first`.
  uint64_t ChunkEnd(uint64_t first) const;
  void SendChunk(int peer);
  void SendNext(int peer);

  // Arms peer's retransmission timer for `at`, unless one is armed no later (every local
  // write asks, for every peer: that check stays inline).
  void ArmTimer(int peer, SimTime at) {
    const SimTime armed = out_[peer].timer_at;
    if (armed.count() >= 0 && armed <= at) return;
    ArmTimerEvent(peer, at);
  }
  void ArmTimerEvent(int peer, SimTime at);
  void OnTimer(int peer);
  void TrimDurableLog();  // REQUIRES: durable_ (the caller tests it: most stores are not)
  // Automatic backlog: counts bytes written or merged, and measures the data again once
  // they reach what it held at the last measurement (so the cost stays O(1) per byte).
  void Grew(size_t bytes) { grown_bytes_ += bytes; }
  void TrimBacklog();

  // Effects from `from`. The usual message (one effect, next in its origin's order, nothing
  // waiting, no causal vector, a store that is not durable) inline, as every delivered
  // effect runs it; the others in OnEffectsOther, which does what this does and more.
  void OnEffects(int from, const ReplMessage& m) {
    InPeer& in = in_[from];
    if (m.count != 1 || m.first_seq != in.contiguous + 1 || !in.held.empty() || m.causal ||
        opts_.config.causal || durable_) [[unlikely]] {
      return OnEffectsOther(from, m);
    }
    // A store's refusal: no ack, the sender resends it.
    if (!ApplyNext(from, in, m.payload(0))) return;
    Ack(from);
  }
  void OnEffectsOther(int from, const ReplMessage& m);
  // Applies `effect`, the next of `from` in its origin's order (in.contiguous + 1; `in` is
  // in_[from], which the caller holds already) with nothing held, without a copy, and counts
  // it received; false (nothing counted) if the store did not keep it. Inline: OnEffects
  // runs it per effect, and OnEffectsOther's in-order step. REQUIRES: !durable_ (both
  // callers tested it; a durable store receives through `held`). The sequence number is
  // not kept across the merge (++contiguous after it): holding it cost 7.4 instructions
  // per op in OnEffects.
  bool ApplyNext(int from, InPeer& in, std::string_view effect) {
    assert(!durable_);
    if (!ApplyFrom(from, in.contiguous + 1, effect)) return false;
    ++in.contiguous;
    in.received++;
    return true;
  }
  void OnEffectsCausal(int from, const ReplMessage& m);
  // An ack. The usual one (progress on a known cursor, no probe or full state answered, a
  // store that is not durable) inline, as every delivered effect's ack runs it; the others
  // in OnAckOther, which does what the inline path does and more.
  void OnAck(int from, const ReplMessage& m) {
    if (m.epoch != incarnation_) return;  // acknowledges a previous life
    OutPeer& o = out_[from];
    if (m.seq <= o.acked || m.full_ack || !o.acked_known || o.probe_outstanding || durable_)
        [[unlikely]] {
      return OnAckOther(from, m);
    }
    o.awaiting_response = false;
    o.acked = std::min(m.seq, head_);
    AckSettled(from, /*fresh=*/true, /*answered_probe=*/false, /*was_known=*/true);
  }
  // The rest of OnAck. REQUIRES: m.epoch == incarnation_ (OnAck tested it: an ack of a
  // previous life is dropped there).
  void OnAckOther(int from, const ReplMessage& m);
  // What every ack does once `from`'s cursor holds what it acknowledged: `fresh` (progress,
  // or the peer's first word since we resumed) restarts the backoff; then a peer caught up
  // ends its episode, and one still behind is caught up as the ack allows. Inline: OnAck's
  // usual path runs it, and OnAckOther's end.
  void AckSettled(int from, bool fresh, bool answered_probe, bool was_known) {
    OutPeer& o = out_[from];
    if (fresh) o.rto = transport_->Rtt(from);
    if (!Behind(from)) {
      o.in_episode = false;
    } else if (!was_known || o.in_episode) [[unlikely]] {  // OnAckBehind's own first tests
      OnAckBehind(from, answered_probe, was_known);
    }  // else newer writes are in flight: nothing to do
  }
  // What an ack does while `from` is still behind: catch it up as the ack allows.
  void OnAckBehind(int from, bool answered_probe, bool was_known);
  // OnPeerMessage's messages other than effects and acks: full states, sync requests and
  // probes (out of line: rare).
  void OnControl(int from, const ReplMessage& m);
  void OnFullState(int from, const ReplMessage& m);
  void OnSyncRequest(int from, const ReplMessage& m);
  // False (and reported) if m's incarnation is older than one already seen from `from`.
  bool AcceptEpoch(int from, const ReplMessage& m);
  void ResetInbound(int from, uint32_t epoch);
  // Causal delivery.
  std::string EncodeApplied() const;  // what this region has applied of every log
  static bool DecodeDeps(std::string_view* payload, size_t n, std::vector<Dep>* deps);
  uint64_t Applied(int origin, uint32_t epoch) const;
  bool Satisfied(int from, const std::vector<Dep>& deps) const;
  // Applies every held effect whose dependencies are met; false if a store failed.
  bool Drain();
  // Drains, makes it durable, and acknowledges to every origin that advanced but `from`.
  bool DrainAndAck(int from);
  // Merges effect `seq` of `from` into the store and counts its bytes as kept; false if
  // the store did not keep it (StoreFailed). Inline: OnEffects runs it per effect.
  bool ApplyFrom(int from, uint64_t seq, std::string_view effect) {
    const bool ok = durable_ ? MergeDurable(from, seq, effect) : Apply(from, effect);
    if (ok) Grew(effect.size());
    return ok;
  }
  // ApplyFrom's merge on a durable store (MergeFrom, with the origin's epoch).
  bool MergeDurable(int from, uint64_t seq, std::string_view effect);
  // Keeps an effect that cannot be applied yet in `held` (or counts a duplicate).
  void Receive(int from, uint64_t seq, std::string_view effect);
  // Merges `bytes` from `from` into the store; false if it was not kept (StoreFailed).
  bool Apply(int from, std::string_view bytes) { return !StoreFailed(from, store_->Merge(bytes)); }
  bool StoreFailed(int from, const Status& s) { return !s.ok() && Refused(from, s); }
  // StoreFailed for a status that is not ok: counts or reports it; true.
  bool Refused(int from, const Status& s);

  Options opts_;
  const std::vector<std::string>& names_;
  int self_;
  Store* store_;
  ReplTransport* transport_;
  ReplTimers* timers_;
  uint32_t incarnation_;
  const bool durable_;  // store_->durable(), which never changes: read once
  bool alive_ = true;
  // The log's effects (released by the destructor: messages in flight may outlive it).
  EffectArena* effects_;
  std::deque<LogEntry> log_;
  size_t log_bytes_ = 0;
  size_t backlog_limit_;
  size_t data_bytes_ = 0;   // automatic backlog: the data at the last measurement
  size_t grown_bytes_ = 0;  // bytes written or merged since
  bool batching_ = false;
  bool needs_effects_;
  uint64_t unsent_from_ = 0;   // in a batch: first seq not yet sent (0: none)
  std::vector<char> ack_due_;  // in a batch: by origin, effects received and not acked
  uint64_t head_ = 0;
  uint64_t log_trimmed_ = 0;  // a durable store's log holds nothing up to this seq
  std::vector<OutPeer> out_;
  std::vector<InPeer> in_;
  uint64_t local_writes_ = 0;
  uint64_t store_failures_ = 0;
  std::set<int> drained_;  // origins whose contiguous prefix Drain advanced
  uint64_t anomalies_ = 0;
  std::string last_anomaly_;
  // An undescribed message's description (empty), moved from at every such send (cleared
  // first), so no message builds and destroys its own.
  std::string no_what_;
};

}  // namespace cluster_sim
