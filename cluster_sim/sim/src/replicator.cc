#include "cluster_sim/replicator.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "cluster_sim/status.h"
#include "crdt/encoding.h"

namespace cluster_sim {

const char* ReplMessage::KindName(Kind k) {
  switch (k) {
    case Kind::kEffects:
      return "EFFECTS";
    case Kind::kAck:
      return "ACK";
    case Kind::kFullState:
      return "STATE";
    case Kind::kSyncRequest:
      return "SYNC";
    case Kind::kProbe:
      return "PROBE";
  }
  return "?";
}

namespace {

// A message's description for traces, `prefix` then `seq`. Out of line: senders build one
// only when tracing, and the formatting kept inline would cost every send its registers.
[[gnu::noinline]] std::string Describe(const char* prefix, uint64_t seq) {
  return prefix + std::to_string(seq);
}
// A batch's: "effect #N" for one, "effects #A..#B" for several.
[[gnu::noinline]] std::string DescribeEffects(uint64_t first, uint64_t last) {
  if (first == last) return Describe("effect #", first);
  return "effects #" + std::to_string(first) + "..#" + std::to_string(last);
}

}  // namespace

std::string Replicator::Origin(std::string_view region, uint32_t epoch) {
  return std::string(region) + "#" + std::to_string(epoch);
}

Replicator::Replicator(Options options, Store* store, ReplTransport* transport, ReplTimers* timers)
    : opts_(std::move(options)),
      names_(opts_.names),
      self_(opts_.self),
      store_(store),
      transport_(transport),
      timers_(timers),
      incarnation_(opts_.incarnation),
      durable_(store_->durable()),
      effects_(EffectArena::New()),
      backlog_limit_(opts_.config.backlog_bytes != 0 ? opts_.config.backlog_bytes
                                                     : ReplicationConfig::kMinAutoBacklog),
      needs_effects_(names_.size() > 1 || durable_ || opts_.config.log_without_peers) {
  out_.resize(names_.size());
  in_.resize(names_.size());
  ack_due_.resize(names_.size());
  for (size_t p = 0; p < in_.size(); ++p) {
    in_[p].epoch = opts_.peer_epochs.empty() ? 1 : opts_.peer_epochs[p];
  }
}

void Replicator::Rebuild() {
  for (int p = 0; p < n(); ++p) {
    if (p == self_) continue;
    out_[p].rto = transport_->Rtt(p);
    in_[p].need_full = true;
    ArmTimer(p, timers_->Now());
  }
}

void Replicator::ReportAnomaly(std::string what) {
  anomalies_++;
  last_anomaly_ = std::move(what);
  Trace(FormatDuration(timers_->Now()) + " " + names_[self_] + " " + last_anomaly_);
}

Replicator::~Replicator() {
  log_.clear();
  effects_->Release();  // the messages still in flight keep their blocks
}

void Replicator::Trace(const std::string& line) const {
  if (opts_.trace) opts_.trace(line);
}
std::string Replicator::Arrow(int peer) const { return names_[self_] + "->" + names_[peer]; }
std::string Replicator::ArrowFrom(int peer) const { return names_[peer] + "->" + names_[self_]; }

void Replicator::Resume(const std::vector<std::optional<uint64_t>>& peer_acked) {
  if (!durable_) return;
  assert(log_.empty() && "Resume comes first, before the replicator logs anything");
  head_ = store_->LogHead();
  for (int p = 0; p < n(); ++p) {
    if (p == self_) continue;
    in_[p].contiguous = store_->Progress(Origin(names_[p], in_[p].epoch));
    out_[p].acked = std::min(head_, peer_acked[p].value_or(0));
    out_[p].acked_known = peer_acked[p].has_value();
  }
  if (head_ == 0) return;
  uint64_t min_acked = head_;
  for (int p = 0; p < n(); ++p) {
    if (p != self_) min_acked = std::min(min_acked, out_[p].acked);
  }
  auto entries = store_->ReadLog(min_acked + 1, head_);
  AASIM_CHECK(entries.ok()) << "region" << names_[self_] << entries.status().message();
  uint64_t last = 0;  // the seq of log_.back()
  for (auto& [seq, effect] : *entries) {
    if (!log_.empty() && seq != last + 1) log_.clear();  // keep a suffix
    // Causal: the store's log kept the effect without its writer's vector (an empty one:
    // the effect waits only for its origin's earlier effects).
    if (opts_.config.causal) effect.insert(0, 1, '\0');
    log_.push_back(
        LogEntry{SimTime(0), effects_->Make(effect), static_cast<uint32_t>(effect.size())});
    last = seq;
  }
  if (!log_.empty() && last != head_) log_.clear();  // log_first() counts back from head_
  log_bytes_ = 0;
  for (const LogEntry& e : log_) log_bytes_ += e.bytes;
  log_trimmed_ = log_first() - 1;
  for (int p = 0; p < n(); ++p) {
    if (p == self_ || out_[p].acked >= head_) continue;
    out_[p].rto = transport_->Rtt(p);
    if (out_[p].acked_known) {
      ArmTimer(p, SimTime(0));
    } else {
      SendProbe(p);
      ArmTimer(p, timers_->Now() + out_[p].rto);
    }
  }
}

// ---- sending ----

void ReplTransport::SendAck(int peer, uint32_t sender_epoch, uint32_t epoch, uint64_t seq,
                            bool full) {
  Send(peer, ReplMessage::Ack(sender_epoch, epoch, seq, full), nullptr,
       ReplMessage::kWireHeaderBytes, std::string());
}

// body: null, one payload (a std::string) or several (ReplMessage::Payloads).
void Replicator::SendMsg(int to, const ReplMessage& m, std::shared_ptr<const void>&& body,
                         size_t payload_bytes, std::string&& what) {
  transport_->Send(to, m, std::move(body), WireBytes(m, payload_bytes), std::move(what));
}

ReplMessage Replicator::EffectsHeader(uint64_t first, uint64_t last) const {
  ReplMessage m;
  m.kind = ReplMessage::Kind::kEffects;
  m.sender_epoch = incarnation_;
  m.causal = opts_.config.causal;
  m.first_seq = first;
  m.count = static_cast<uint32_t>(last - first + 1);
  m.blocks = true;
  return m;
}

void Replicator::SendEffects(int peer, uint64_t first, uint64_t last) {
  const ReplMessage m = EffectsHeader(first, last);
  uint64_t base = log_first();
  size_t payload_bytes = 0;
  std::shared_ptr<const void> body;
  if (first == last) {
    const LogEntry& e = log_[first - base];
    payload_bytes = e.bytes;  // the log's size, not the piece's (long out of cache)
    body = e.effect;
  } else {
    auto payloads = std::make_shared<ReplMessage::Blocks>();
    payloads->reserve(m.count);
    for (uint64_t s = first; s <= last; ++s) {
      const LogEntry& e = log_[s - base];
      payloads->push_back(e.effect);
      payload_bytes += e.bytes;
    }
    body = std::move(payloads);
  }
  out_[peer].m.effects_sent += m.count;
  std::string what;
  if (transport_->tracing()) what = DescribeEffects(first, last);
  SendMsg(peer, m, std::move(body), payload_bytes, std::move(what));
}

void Replicator::SendFullState(int peer) {
  OutPeer& o = out_[peer];
  ReplMessage m;
  m.kind = ReplMessage::Kind::kFullState;
  m.sender_epoch = incarnation_;
  m.causal = opts_.config.causal;
  m.seq = head_;
  m.count = 1;
  auto state = std::make_shared<const std::string>(m.causal ? EncodeApplied() + store_->FullState()
                                                            : store_->FullState());
  size_t payload_bytes = state->size();
  o.full_as_of = head_;
  o.full_in_flight = true;
  SendMsg(peer, m, std::move(state), payload_bytes,
          transport_->tracing() ? "full state up to #" + std::to_string(head_) : "");
}

void Replicator::SendSyncRequest(int peer) {
  ReplMessage m;
  m.kind = ReplMessage::Kind::kSyncRequest;
  m.sender_epoch = incarnation_;
  SendMsg(peer, m, nullptr, 0, transport_->tracing() ? "sync request (restarted)" : "");
}

void Replicator::SendAck(int origin, bool full) {
  if (transport_->tracing()) [[unlikely]] {
    const ReplMessage m = AckHeader(origin, full);
    return SendMsg(origin, m, nullptr, 0, Describe("ack #", m.seq));
  }
  SendAckUntraced(origin, full);
}

void Replicator::SendProbe(int peer) {
  out_[peer].probe_outstanding = true;
  ReplMessage m;
  m.kind = ReplMessage::Kind::kProbe;
  m.sender_epoch = incarnation_;
  SendMsg(peer, m, nullptr, 0, transport_->tracing() ? "probe" : "");
}

uint64_t Replicator::ChunkEnd(uint64_t first) const {
  uint64_t last = first;
  size_t bytes = 0;
  uint64_t base = log_first();
  while (last <= head_) {
    bytes += log_[last - base].bytes;
    if (bytes > opts_.config.max_batch_bytes && last > first) break;
    ++last;
  }
  return last - 1;
}

void Replicator::SendChunk(int peer) {
  OutPeer& o = out_[peer];
  uint64_t first = o.acked + 1;
  o.chunk_end = ChunkEnd(first);
  SendEffects(peer, first, o.chunk_end);
}

void Replicator::EndBatch() {
  if (!batching_) return;
  batching_ = false;
  if (unsent_from_ != 0) {
    // What the backlog already dropped (a batch larger than it) goes by a full sync.
    for (uint64_t first = std::max(unsent_from_, log_first()), last; first <= head_;
         first = last + 1) {
      last = ChunkEnd(first);
      for (int p = 0; p < n(); ++p) {
        if (p != self_) SendEffects(p, first, last);
      }
    }
    unsent_from_ = 0;
  }
  for (int p = 0; p < n(); ++p) {
    if (!ack_due_[p]) continue;
    ack_due_[p] = 0;
    SendAck(p, false);
  }
}

// Sends the next piece of a catch-up: the full state, or the next replay chunk.
void Replicator::SendNext(int peer) {
  OutPeer& o = out_[peer];
  o.awaiting_response = true;
  if (o.needs_full) {
    SendFullState(peer);
  } else {
    SendChunk(peer);
  }
}

// ---- timers ----

void Replicator::ArmTimerEvent(int peer, SimTime at) {
  OutPeer& o = out_[peer];
  o.timer_at = at;
  uint64_t gen = ++o.timer_gen;
  uint32_t inc = incarnation_;
  timers_->At(at, [this, peer, gen, inc] {
    OutPeer& op = out_[peer];
    if (op.timer_gen != gen || incarnation_ != inc || !alive_) return;
    op.timer_at = SimTime(-1);
    OnTimer(peer);
  });
}

bool Replicator::Behind(int peer, std::string* why) const {
  if (!Behind(peer)) return false;
  if (why != nullptr) {
    const OutPeer& o = out_[peer];
    *why = Arrow(peer) + ": " +
           (in_[peer].need_full ? "waiting for the peer's full state"
            : o.needs_full      ? "full sync in progress"
                                : std::to_string(head_ - o.acked) + " effects not acknowledged");
  }
  return true;
}

void Replicator::OnTimer(int peer) {
  OutPeer& o = out_[peer];
  if (o.rto.count() == 0) o.rto = transport_->Rtt(peer);
  if (!Behind(peer)) {
    o.in_episode = false;
    o.rto = transport_->Rtt(peer);
    return;
  }
  SimTime now = timers_->Now();
  // Our own restart: keep asking this peer for its state.
  if (in_[peer].need_full) SendSyncRequest(peer);
  if (!o.acked_known) {
    // Where the peer stands is not known yet (we resumed from a durable log): ask before
    // deciding between a replay and a full state.
    SendProbe(peer);
  } else if (o.acked < head_ || o.needs_full) {
    if (o.acked < head_ && !o.needs_full && o.acked + 1 < log_first()) {
      // The peer needs effects that have left the backlog: full sync.
      o.needs_full = true;
      o.m.full_syncs++;
      Trace(FormatDuration(now) + " " + Arrow(peer) + " backlog overflow: full sync");
    }
    // Overdue? The oldest unacknowledged effect was sent at least one RTO ago.
    bool overdue = o.needs_full || o.resend_now;
    bool healed = o.resend_now;
    o.resend_now = false;
    if (!overdue) {
      const LogEntry& e = log_[o.acked + 1 - log_first()];
      overdue = e.created + o.rto <= now;
      if (!overdue) {
        ArmTimer(peer, e.created + o.rto);
        return;
      }
    }
    if (!o.in_episode) {
      o.in_episode = true;
      if (!o.needs_full) o.m.partial_syncs++;
    }
    if (o.awaiting_response && !healed && o.probe_next) {
      // Data already re-sent and no answer: the peer or the link may be down. Every other
      // retry is a cheap probe; its answer (an ack) resumes the catch-up, so a long
      // partition costs probes, not repeated full states, while a merely lossy link still
      // gets data on every second try.
      SendProbe(peer);
      o.probe_next = false;
    } else {
      SendNext(peer);
      o.probe_next = o.needs_full || o.acked + 1 <= o.chunk_end;
    }
  }
  SimTime next = o.rto;
  o.rto = std::min(o.rto * 2, std::max(opts_.config.max_rto, transport_->Rtt(peer)));
  ArmTimer(peer, now + next);
}

// A durable store's log keeps what some peer may still need: nothing every peer
// acknowledged, nothing the in-memory backlog dropped (those peers get a full sync).
void Replicator::TrimDurableLog() {
  assert(durable_);
  uint64_t upto = log_first() - 1;
  uint64_t min_acked = head_;
  for (int p = 0; p < n(); ++p) {
    if (p == self_) continue;
    if (!out_[p].acked_known) return;  // not heard from since we resumed
    min_acked = std::min(min_acked, out_[p].acked);
  }
  upto = std::max(upto, min_acked);
  if (upto <= log_trimmed_) return;
  if (store_->TrimLog(upto).ok()) log_trimmed_ = upto;
}

// ---- local writes ----

void Replicator::TrimBacklog() {
  const size_t fixed = opts_.config.backlog_bytes;
  if (fixed == 0 && log_bytes_ > backlog_limit_ &&
      grown_bytes_ >= std::max(data_bytes_, ReplicationConfig::kMinAutoBacklog)) {
    // Redis Enterprise's automatic size: 1% of the data, within bounds.
    data_bytes_ = store_->MemoryBytes();
    grown_bytes_ = 0;
    backlog_limit_ = std::clamp(data_bytes_ / 100, ReplicationConfig::kMinAutoBacklog,
                                ReplicationConfig::kMaxAutoBacklog);
  }
  while (log_bytes_ > backlog_limit_ && log_.size() > 1) {
    log_bytes_ -= log_.front().bytes;
    log_.pop_front();
  }
}

void Replicator::OnLocalWrite(std::string&& effect, uint64_t writes) {
  if (!needs_effects_) {
    local_writes_ += writes;
    head_ += writes;
    return;
  }
  if (opts_.config.causal) effect.insert(0, EncodeApplied());
  local_writes_ += writes;
  // A durable store numbered the write in its own log, atomically with the data: the
  // number after its last, which is head_ + 1 while this replicator appends every write it
  // commits. Were it ever further on, the log would hold a gap (an entry's seq is its place,
  // LogEntry): the entries before it are dropped, as Resume keeps only a gapless suffix, and
  // a peer that needs them gets a full sync.
  const uint64_t seq = durable_ ? std::max(head_ + 1, store_->LogHead()) : head_ + 1;
  if (seq != head_ + 1) [[unlikely]] {
    log_.clear();
    log_bytes_ = 0;
  }
  head_ = seq;
  std::shared_ptr<const EffectBlock> e = effects_->Make(effect);
  log_bytes_ += effect.size();
  Grew(effect.size());
  const SimTime now = timers_->Now();
  log_.push_back(LogEntry{now, std::move(e), static_cast<uint32_t>(effect.size())});
  TrimBacklog();
  if (batching_ && unsent_from_ == 0) unsent_from_ = head_;
  // Outside a batch the new effect goes to every peer: one message built once (what
  // SendEffects(p, head_, head_) sends to each).
  const ReplMessage m = EffectsHeader(head_, head_);
  const std::shared_ptr<const EffectBlock>& sent = log_.back().effect;
  const bool tracing = !batching_ && transport_->tracing();
  // The body handed to each send: a transport that keeps it moves it out, one that shares
  // the copy already in flight (Network's copy records) leaves it, and the next peer gets
  // the same reference (no count taken and dropped per peer).
  std::shared_ptr<const void> body;
  // Read once, not after every send: a send changes none of them (out_ keeps its size).
  const int peers = n();
  const int self = self_;
  const bool sending = !batching_;
  const size_t bytes = log_.back().bytes;
  OutPeer* const out = out_.data();
  for (int p = 0; p < peers; ++p) {
    if (p == self) continue;
    OutPeer& o = out[p];
    if (sending) {
      o.m.effects_sent++;
      if (body == nullptr) body = sent;
      if (tracing) [[unlikely]] {
        SendMsg(p, m, std::move(body), bytes, Describe("effect #", head_));
      } else {
        SendUndescribed(p, m, std::move(body), bytes);
      }
    }
    if (o.rto.count() == 0) o.rto = transport_->Rtt(p);
    ArmTimer(p, now + o.rto);
  }
}

// ---- receiving ----

void Replicator::OnControl(int from, const ReplMessage& m) {
  switch (m.kind) {
    case ReplMessage::Kind::kEffects:
    case ReplMessage::Kind::kAck:
      return;  // OnPeerMessage handled them
    case ReplMessage::Kind::kFullState:
      return OnFullState(from, m);
    case ReplMessage::Kind::kSyncRequest:
      return OnSyncRequest(from, m);
    case ReplMessage::Kind::kProbe:
      return SendAck(from, false);
  }
}

bool Replicator::AcceptEpoch(int from, const ReplMessage& m) {
  InPeer& in = in_[from];
  if (m.sender_epoch > in.epoch) {
    ResetInbound(from, m.sender_epoch);
  } else if (m.sender_epoch < in.epoch) {
    // Incarnations only grow: this is a message of an earlier life, or the peer came back
    // with an incarnation already used. Applying it would mix two logs under one name.
    ReportAnomaly(names_[from] + " sent incarnation " + std::to_string(m.sender_epoch) + " after " +
                  std::to_string(in.epoch) + ": refused (" + ReplMessage::KindName(m.kind) + ")");
    return false;
  }
  return true;
}

void Replicator::ResetInbound(int from, uint32_t epoch) {
  InPeer& in = in_[from];
  in.epoch = epoch;
  in.held.clear();
  // A durable store remembers what it holds of that incarnation's log.
  in.contiguous = durable_ ? store_->Progress(Origin(names_[from], epoch)) : 0;
}

bool Replicator::Holds(int origin, uint64_t seq) const {
  const InPeer& in = in_[origin];
  // Held effects count only while no gap precedes them: one behind a gap is never applied
  // if its origin dies before resending the gap.
  uint64_t next = in.contiguous + 1;
  for (auto it = in.held.begin(); it != in.held.end() && it->first == next && next <= seq; ++it) {
    ++next;
  }
  return seq < next;
}

// A durable store that could not keep a merge (its Redis is down): the message is treated
// as never received (progress rolled back, no ack), so its sender retransmits. Bytes the
// store refuses (malformed: a faulty or hostile peer of `aasim node`) are dropped the same
// way and reported as an anomaly; the region carries on.
bool Replicator::Refused(int from, const Status& s) {
  if (s.code() != StatusCode::kUnavailable) {
    ReportAnomaly(names_[from] + " sent what the store refused (" + s.message() + "): dropped");
    return true;
  }
  store_failures_++;
  Trace(FormatDuration(timers_->Now()) + " " + ArrowFrom(from) + " not stored: " + s.message());
  return true;
}

void Replicator::OnEffectsOther(int from, const ReplMessage& m) {
  if (opts_.config.causal || m.causal) return OnEffectsCausal(from, m);
  // An origin's effects are applied in its order, as over Redis Enterprise's replication
  // stream: one that arrives after a gap (its predecessor lost or overtaken) waits in `held`
  // for the gap to be resent. So a stream's entries, or a DEL and the ZADD it observed,
  // never appear out of their origin's order; across origins there is no such promise.
  InPeer& in = in_[from];
  if (durable_) {
    for (size_t i = 0; i < m.count; ++i) Receive(from, m.first_seq + i, m.payload(i));
    if (DrainAndAck(from)) Ack(from);
    return;
  }
  for (size_t i = 0; i < m.count; ++i) {
    uint64_t seq = m.first_seq + i;
    if (seq != in.contiguous + 1 || !in.held.empty()) {
      Receive(from, seq, m.payload(i));
      continue;
    }
    // The common case, in order with nothing waiting.
    if (!ApplyNext(from, in, m.payload(i))) return;  // no ack: the sender resends from here
  }
  if (!in.held.empty() && !DrainAndAck(from)) return;
  Ack(from);
}

void Replicator::Receive(int from, uint64_t seq, std::string_view effect) {
  InPeer& in = in_[from];
  if (seq <= in.contiguous || in.held.count(seq) != 0) {
    in.filtered++;
    return;
  }
  if (seq != in.contiguous + 1) in.held_count++;
  in.held.emplace(seq, std::make_pair(std::string(effect), std::vector<Dep>()));
}

void Replicator::OnAckOther(int from, const ReplMessage& m) {
  OutPeer& o = out_[from];
  bool answered_probe = o.probe_outstanding;
  bool was_known = o.acked_known;
  o.awaiting_response = false;
  o.probe_outstanding = false;
  o.acked_known = true;
  bool progress = m.seq > o.acked;
  if (progress) o.acked = std::min(m.seq, head_);
  if (m.full_ack && o.full_in_flight && m.seq >= o.full_as_of) {
    if (o.full_stale) {
      o.full_stale = false;
    } else {
      o.full_in_flight = false;
      o.needs_full = false;
      progress = true;
    }
  }
  const bool fresh = progress || !was_known;
  // Before AckSettled's fresh backoff, which does not depend on it (OnAck's usual path runs
  // AckSettled on a store known not durable, so the test stays here): most stores are not
  // durable, no call.
  if (fresh && durable_) TrimDurableLog();
  AckSettled(from, fresh, answered_probe, was_known);
}

void Replicator::OnAckBehind(int from, bool answered_probe, bool was_known) {
  OutPeer& o = out_[from];
  if (!was_known) {
    // First word from the peer since we resumed: catch it up now.
    o.resend_now = true;
    ArmTimer(from, timers_->Now());
    return;
  }
  if (!o.in_episode) return;
  // Behind only because we wait for the peer's full state: nothing of ours to send (an
  // empty chunk would be acked, and that ack answered by another: a storm, which a
  // duplicating link multiplies). The timer keeps asking for the state.
  if (!o.needs_full && o.acked >= head_) return;
  if (!o.needs_full && o.acked + 1 < log_first()) {
    o.needs_full = true;
    o.m.full_syncs++;
  }
  // Catching up: send the next chunk as soon as the previous one landed, or resume after
  // the peer answered a probe (what was sent before it was lost).
  if (o.needs_full ? (!o.full_in_flight || answered_probe)
                   : (o.acked >= o.chunk_end || answered_probe)) {
    SendNext(from);
  }
}

void Replicator::OnFullState(int from, const ReplMessage& m) {
  InPeer& in = in_[from];
  std::string_view state = m.payload(0);
  std::vector<Dep> deps;
  if (m.causal && !DecodeDeps(&state, static_cast<size_t>(n()), &deps)) {
    return ReportAnomaly(names_[from] + " sent a full state with a malformed vector: dropped");
  }
  if (durable_) {
    uint64_t c = std::max(in.contiguous, m.seq);
    Status s = store_->MergeFrom(Origin(names_[from], in.epoch), c, state);
    if (s.ok()) s = store_->Flush();
    if (StoreFailed(from, s)) return;
  } else if (!Apply(from, state)) {
    return;
  }
  Grew(state.size());
  if (opts_.config.causal) {
    // The state holds what its sender had applied of every other log.
    for (int q = 0; q < n() && q < static_cast<int>(deps.size()); ++q) {
      Dep& f = in_[q].floor;
      if (q == self_ || q == from) continue;
      if (deps[q].epoch > f.epoch || (deps[q].epoch == f.epoch && deps[q].seq > f.seq)) {
        f = deps[q];
      }
    }
  }
  in.held.erase(in.held.begin(), in.held.upper_bound(std::max(in.contiguous, m.seq)));
  in.received++;
  if (m.seq > in.contiguous) {
    in.contiguous = m.seq;
  }
  bool was_recovering = in.need_full;
  in.need_full = false;
  if (!DrainAndAck(from)) return;  // effects that waited for what the state covered
  SendAck(from, true);
  if (was_recovering) {
    // Push what we now hold (it may include writes of our previous life that only this
    // peer had) to every other peer.
    for (int q = 0; q < n(); ++q) {
      if (q == self_ || q == from) continue;
      OutPeer& o = out_[q];
      if (!o.needs_full) o.m.full_syncs++;
      o.needs_full = true;
      // A full state still in flight lacks what we just merged: the ack of that one must
      // not end this push, which goes now (not after a probe).
      if (o.full_in_flight) o.full_stale = true;
      o.resend_now = true;
      ArmTimer(q, timers_->Now());
    }
  }
}

void Replicator::OnSyncRequest(int from, const ReplMessage&) {
  OutPeer& o = out_[from];
  if (!o.needs_full || !o.full_in_flight) {
    if (!o.needs_full) o.m.full_syncs++;
    o.needs_full = true;
    o.acked = 0;
    o.acked_known = true;
    o.in_episode = true;
    SendFullState(from);
    o.rto = transport_->Rtt(from);
    ArmTimer(from, timers_->Now() + o.rto);
  }
}

// ---- links and faults ----

void Replicator::OnLinkUp(int peer) {
  if (!alive_) return;
  out_[peer].rto = transport_->Rtt(peer);
  if (Behind(peer)) {
    out_[peer].resend_now = true;
    ArmTimer(peer, timers_->Now());
  }
}

void Replicator::OnPeerRestarted(int peer) {
  if (!alive_ || !Behind(peer)) return;
  out_[peer].resend_now = true;
  out_[peer].rto = transport_->Rtt(peer);
  ArmTimer(peer, timers_->Now());
}

void Replicator::Stop() {
  alive_ = false;
  batching_ = false;
  unsent_from_ = 0;
  std::fill(ack_due_.begin(), ack_due_.end(), 0);
}

void Replicator::Restart(uint32_t incarnation, const std::vector<uint32_t>& peer_epochs) {
  alive_ = true;
  bool durable = durable_;
  if (!durable) {
    AASIM_CHECK(incarnation > incarnation_)
        << "region" << names_[self_] << "restarted with incarnation" << incarnation << "after"
        << incarnation_;
    incarnation_ = incarnation;
    log_.clear();
    log_bytes_ = 0;
    head_ = 0;
    data_bytes_ = 0;  // the store was wiped
    grown_bytes_ = 0;
    if (opts_.config.backlog_bytes == 0) backlog_limit_ = ReplicationConfig::kMinAutoBacklog;
  }
  for (int p = 0; p < n(); ++p) {
    if (p == self_) continue;
    OutPeer fresh;
    fresh.m = out_[p].m;
    fresh.timer_gen = out_[p].timer_gen + 1;
    out_[p] = fresh;
    InPeer& in = in_[p];
    uint64_t received = in.received, filtered = in.filtered;
    in = InPeer();
    in.epoch = peer_epochs[p];
    in.received = received;
    in.filtered = filtered;
    out_[p].rto = transport_->Rtt(p);
    if (durable) {
      // The data, the log and the progress survived: resume. Ask each peer where it stands
      // (a probe; its ack sets our cursor) before replaying our log.
      in.contiguous = store_->Progress(Origin(names_[p], in.epoch));
      SendProbe(p);
      ArmTimer(p, timers_->Now() + out_[p].rto);
    } else {
      in.need_full = true;  // rebuild from every peer
      ArmTimer(p, timers_->Now());
    }
  }
  Trace(FormatDuration(timers_->Now()) + " " + names_[self_] + " restarted as incarnation " +
        std::to_string(incarnation_));
}

// ---- causal delivery ----

std::string Replicator::EncodeApplied() const {
  crdt::Encoder e;
  e.PutVarint(static_cast<uint64_t>(n()));
  for (int p = 0; p < n(); ++p) {
    if (p == self_) {
      e.PutVarint(incarnation_);
      e.PutVarint(head_);
    } else {
      e.PutVarint(in_[p].epoch);
      e.PutVarint(Applied(p, in_[p].epoch));
    }
  }
  return e.Release();
}

bool Replicator::DecodeDeps(std::string_view* payload, size_t n, std::vector<Dep>* deps) {
  crdt::Decoder d(*payload);
  uint64_t count = 0;
  if (!d.GetCount(&count, 2) || (count != 0 && count != n)) return false;
  deps->assign(count, Dep{});
  for (Dep& dep : *deps) {
    if (!d.GetVarint32(&dep.epoch) || !d.GetVarint(&dep.seq)) return false;
  }
  payload->remove_prefix(payload->size() - d.remaining());
  return true;
}

uint64_t Replicator::Applied(int origin, uint32_t epoch) const {
  const InPeer& in = in_[origin];
  if (in.epoch != epoch) return 0;
  return in.floor.epoch == epoch ? std::max(in.contiguous, in.floor.seq) : in.contiguous;
}

bool Replicator::Satisfied(int from, const std::vector<Dep>& deps) const {
  for (int q = 0; q < n() && q < static_cast<int>(deps.size()); ++q) {
    const Dep& d = deps[q];
    if (q == self_ || q == from || d.seq == 0) continue;
    uint32_t known = in_[q].epoch;
    if (d.epoch < known) continue;  // an earlier life of q: what survives came in full states
    if (d.epoch > known || Applied(q, known) < d.seq) return false;
  }
  return true;
}

bool Replicator::MergeDurable(int from, uint64_t seq, std::string_view effect) {
  return !StoreFailed(from, store_->MergeFrom(Origin(names_[from], in_[from].epoch), seq, effect));
}

bool Replicator::Drain() {
  for (bool progress = true; progress;) {
    progress = false;
    for (int q = 0; q < n(); ++q) {
      InPeer& in = in_[q];
      while (q != self_ && !in.held.empty() && in.held.begin()->first <= in.contiguous + 1) {
        auto it = in.held.begin();
        if (it->first > in.contiguous) {
          if (!Satisfied(q, it->second.second)) break;
          if (!ApplyFrom(q, it->first, it->second.first)) return false;
          in.contiguous = it->first;
          in.received++;
          drained_.insert(q);
          progress = true;
        }
        in.held.erase(it);
      }
    }
  }
  return true;
}

bool Replicator::DrainAndAck(int from) {
  drained_.clear();
  std::vector<InPeer> before;
  if (durable_) before = in_;
  bool ok = Drain();
  if (ok && durable_) ok = !StoreFailed(from, store_->Flush());
  if (!ok) {
    // Not kept: as if never received, so nothing is acknowledged and the senders resend.
    if (durable_) in_ = std::move(before);
    return false;
  }
  for (int q : drained_) {
    if (q != from) Ack(q);
  }
  return true;
}

void Replicator::OnEffectsCausal(int from, const ReplMessage& m) {
  InPeer& in = in_[from];
  for (size_t i = 0; i < m.count; ++i) {
    uint64_t seq = m.first_seq + i;
    std::string_view effect = m.payload(i);
    std::vector<Dep> deps;
    if (m.causal && !DecodeDeps(&effect, static_cast<size_t>(n()), &deps)) {
      ReportAnomaly(names_[from] + " sent an effect with a malformed vector: dropped");
      return;
    }
    if (seq <= in.contiguous || in.held.count(seq) != 0) {
      in.filtered++;
      continue;
    }
    if (!opts_.config.causal) deps.clear();  // a causal sender, a receiver that is not
    if (seq != in.contiguous + 1 || !Satisfied(from, deps)) in.held_count++;
    in.held.emplace(seq, std::make_pair(std::string(effect), std::move(deps)));
  }
  if (DrainAndAck(from)) Ack(from);
}

ReplPeerStats Replicator::Metrics(int peer) const {
  ReplPeerStats pm = out_[peer].m;
  pm.peer = names_[peer];
  pm.ops_lag = head_ - std::min(head_, out_[peer].acked);
  pm.effects_received = in_[peer].received;
  pm.effects_filtered = in_[peer].filtered;
  pm.effects_held = in_[peer].held_count;
  return pm;
}

}  // namespace cluster_sim
