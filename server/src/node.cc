#include "server/node.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <system_error>

#include <boost/asio.hpp>

#include "cluster_sim/strings.h"
#include "crdt/dot.h"

namespace server {

namespace asio = boost::asio;
using asio::ip::tcp;
using cluster_sim::Reply;
using cluster_sim::Status;

namespace {

constexpr std::string_view kRepl = "AASIM.REPL";
constexpr auto kMinBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
constexpr uint64_t kTrimStep = 256;  // trim a durable log by at least this many entries

using cluster_sim::IEquals;

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

void AppendCommand(const std::vector<std::string_view>& argv, std::string* out) {
  WriteArrayHeader(argv.size(), out);
  for (auto a : argv) WriteBulk(a, out);
}

int64_t WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Node::Impl : public Backend {
  // What this node holds of a peer's log.
  struct In {
    uint64_t epoch = 0;
    uint64_t held = 0;  // contiguous prefix of that epoch
    uint64_t received = 0, filtered = 0;
    bool relayed = false;  // merged a full state from it since we started
  };
  // This node's link to a peer: sends our effects, reads the peer's acknowledgements.
  struct Out {
    enum class Expect { kHello, kAck };
    PeerAddress addr;
    std::unique_ptr<tcp::socket> socket;
    std::unique_ptr<asio::steady_timer> retry;
    std::chrono::milliseconds backoff = kMinBackoff;
    bool connected = false;  // HELLO answered: streaming
    bool writing = false;
    std::string out, writing_buf;
    std::string in;  // replies not yet parsed
    std::deque<Expect> expecting;
    uint64_t acked = 0;      // contiguous prefix of our epoch the peer holds
    uint64_t sent_upto = 0;  // highest seq queued on this connection
    uint64_t peer_epoch = 0;
    uint64_t effects_sent = 0, partial_syncs = 0, full_syncs = 0, connects = 0;
    uint64_t generation = 0;  // bumps on every (re)connection: stale handlers ignore
  };

  Impl(asio::io_context& io_context, NodeConfig c)
      : io(io_context), config(std::move(c)), server(io_context, *this, config.server) {}

  // ---- Backend ----
  const std::string& region() const override { return config.region; }

  Reply Execute(const std::vector<std::string>& argv) override {
    if (argv.size() >= 2 && IEquals(argv[0], kRepl)) return Repl(argv);
    std::string effect;
    Reply reply = store->Execute(argv, WallClockUs(), &effect);
    if (!effect.empty()) OnLocalWrite(std::move(effect));
    return reply;
  }
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override {
    std::string effect;
    auto replies = store->ExecuteBatch(cmds, WallClockUs(), &effect);
    if (!effect.empty()) OnLocalWrite(std::move(effect));
    return replies;
  }
  uint64_t KeyVersion(std::string_view key) override { return store->KeyVersion(key); }
  Reply Admin(const std::vector<std::string>& argv) override;
  std::string InfoActiveActive() override;
  void AfterCommands() override {
    for (auto& o : outs) Flush(o);
  }

  // ---- the log ----
  // A client's write (or, with relay, this node's merged state passed on after a restart).
  void OnLocalWrite(std::string effect, bool relay = false) {
    // A durable store numbered the write in its own log, atomically with the data.
    last_seq = store->durable() ? store->LogHead() : last_seq + 1;
    (relay ? relays : local_writes)++;
    log_bytes += effect.size();
    log.push_back({last_seq, std::move(effect)});
    while (log_bytes > config.backlog_bytes && log.size() > 1) {
      log_bytes -= log.front().second.size();
      log.pop_front();
    }
    for (auto& o : outs) {
      if (o.connected && o.sent_upto + 1 == last_seq) SendEffect(o, log.back());
    }
  }
  void SendEffect(Out& o, const std::pair<uint64_t, std::string>& e) {
    std::string seq = std::to_string(e.first);
    AppendCommand({kRepl, "EFFECT", config.region, epoch_text, seq, e.second}, &o.out);
    o.expecting.push_back(Out::Expect::kAck);
    o.sent_upto = e.first;
    ++o.effects_sent;
  }
  void SendState(Out& o) {
    std::string seq = std::to_string(last_seq);
    AppendCommand({kRepl, "STATE", config.region, epoch_text, seq, store->FullState()}, &o.out);
    o.expecting.push_back(Out::Expect::kAck);
    o.sent_upto = last_seq;
    ++o.full_syncs;
  }

  // ---- receiving (AASIM.REPL commands) ----
  Reply Repl(const std::vector<std::string>& argv) {
    const std::string& kind = argv[1];
    if (argv.size() < 4) return Reply::Error("ERR AASIM.REPL: missing arguments");
    auto it = ins.find(argv[2]);
    if (it == ins.end()) {
      return Reply::Error("ERR AASIM.REPL: '" + argv[2] + "' is not a peer of region " +
                          config.region);
    }
    In& in = it->second;
    uint64_t epoch = 0;
    if (!ParseU64(argv[3], &epoch)) return Reply::Error("ERR AASIM.REPL: bad epoch");
    if (epoch != in.epoch) {  // a new incarnation of the sender: its log starts over
      in.epoch = epoch;
      // A durable store remembers what it holds of that incarnation's log (progress
      // committed with the data), so a restarted node resumes instead of starting over.
      in.held = store->durable() ? store->Progress(Origin(argv[2], epoch)) : 0;
    }
    if (IEquals(kind, "HELLO") && argv.size() == 4) {
      return Reply::Array({Reply::Integer(static_cast<int64_t>(in.held)),
                           Reply::Integer(static_cast<int64_t>(incarnation))});
    }
    uint64_t seq = 0;
    if (argv.size() != 6 || !ParseU64(argv[4], &seq)) {
      return Reply::Error("ERR AASIM.REPL: expected " + kind + " FROM EPOCH SEQ PAYLOAD");
    }
    if (IEquals(kind, "EFFECT")) {
      if (seq <= in.held) {
        ++in.filtered;
      } else if (seq == in.held + 1) {
        Status st = MergeAndStore(argv[2], epoch, seq, argv[5]);
        if (!st.ok()) return Reply::Error("ERR AASIM.REPL: " + st.message());
        in.held = seq;
        ++in.received;
      } else {
        return Reply::Error("ERR AASIM.REPL: gap, expected seq " + std::to_string(in.held + 1));
      }
      return Reply::Integer(static_cast<int64_t>(in.held));
    }
    if (IEquals(kind, "STATE")) {
      Status st = MergeAndStore(argv[2], epoch, std::max(in.held, seq), argv[5]);
      if (!st.ok()) return Reply::Error("ERR AASIM.REPL: " + st.message());
      in.held = std::max(in.held, seq);
      ++in.received;
      // A node that lost its memory relays what it learnt once, so writes of its previous
      // life that reached only this peer reach the others too.
      if (fresh && !store->durable() && !in.relayed) {
        in.relayed = true;
        OnLocalWrite(store->FullState(), /*relay=*/true);
      }
      return Reply::Integer(static_cast<int64_t>(in.held));
    }
    return Reply::Error("ERR AASIM.REPL: unknown message '" + kind + "'");
  }

  static std::string Origin(const std::string& region, uint64_t epoch) {
    return region + "#" + std::to_string(epoch);
  }
  // Merges a peer's effect (or full state) covering its log up to `seq`. A durable store
  // records that progress with the data, and the merge is on disk (Flush) before the
  // caller acknowledges it: an acknowledged effect survives a kill -9 of this node.
  Status MergeAndStore(const std::string& from, uint64_t epoch, uint64_t seq,
                       std::string_view payload) {
    if (!store->durable()) return store->Merge(payload);
    Status st = store->MergeFrom(Origin(from, epoch), seq, payload);
    return st.ok() ? store->Flush() : st;
  }
  // Drops from a durable store's log what every peer acknowledged, in steps (each trim is
  // a round trip to the store), once every peer has told us what it holds.
  void TrimDurableLog() {
    if (!store->durable()) return;
    uint64_t upto = last_seq;
    for (const auto& o : outs) {
      if (o.peer_epoch == 0) return;  // not heard from since we started
      upto = std::min(upto, o.acked);
    }
    if (upto < log_trimmed + kTrimStep) return;
    if (store->TrimLog(upto).ok()) log_trimmed = upto;
  }

  // ---- sending (our links to peers) ----
  void Connect(Out& o) {
    ++o.generation;
    o.socket = std::make_unique<tcp::socket>(io);
    o.connected = false;
    o.writing = false;
    o.out.clear();
    o.in.clear();
    o.expecting.clear();
    uint64_t gen = o.generation;
    tcp::endpoint ep(asio::ip::make_address(o.addr.host), o.addr.port);
    o.socket->async_connect(ep, [this, &o, gen](boost::system::error_code ec) {
      if (gen != o.generation || stopped) return;
      if (ec) return Retry(o);
      boost::system::error_code ignored;
      o.socket->set_option(tcp::no_delay(true), ignored);
      ++o.connects;
      std::string auth = config.server.requirepass;
      if (!auth.empty()) {
        AppendCommand({"AUTH", auth}, &o.out);
        o.expecting.push_back(Out::Expect::kAck);  // +OK, ignored
      }
      AppendCommand({kRepl, "HELLO", config.region, epoch_text}, &o.out);
      o.expecting.push_back(Out::Expect::kHello);
      Flush(o);
      Read(o);
    });
  }
  void Retry(Out& o) {
    ++o.generation;
    if (o.socket) {
      boost::system::error_code ignored;
      o.socket->close(ignored);
    }
    o.connected = false;
    if (stopped) return;
    uint64_t gen = o.generation;
    o.retry->expires_after(o.backoff);
    o.backoff = std::min(o.backoff * 2, std::chrono::milliseconds(kMaxBackoff));
    o.retry->async_wait([this, &o, gen](boost::system::error_code ec) {
      if (ec || gen != o.generation || stopped) return;
      Connect(o);
    });
  }
  void Flush(Out& o) {
    if (o.writing || o.out.empty() || !o.socket || !o.socket->is_open()) return;
    o.writing_buf.swap(o.out);
    o.out.clear();
    o.writing = true;
    uint64_t gen = o.generation;
    asio::async_write(*o.socket, asio::buffer(o.writing_buf),
                      [this, &o, gen](boost::system::error_code ec, size_t) {
                        if (gen != o.generation) return;
                        o.writing = false;
                        o.writing_buf.clear();
                        if (ec) return Retry(o);
                        Flush(o);
                      });
  }
  void Read(Out& o) {
    uint64_t gen = o.generation;
    auto buf = std::make_shared<std::array<char, 16384>>();
    o.socket->async_read_some(asio::buffer(*buf),
                              [this, &o, gen, buf](boost::system::error_code ec, size_t n) {
                                if (gen != o.generation) return;
                                if (ec) return Retry(o);
                                o.in.append(buf->data(), n);
                                if (!OnReplies(o)) return Retry(o);
                                Flush(o);
                                Read(o);
                              });
  }
  // Parses the integer replies (and HELLO's two-element array) received so far.
  bool OnReplies(Out& o) {
    size_t pos = 0;
    auto line = [&](std::string_view* l) {
      size_t eol = o.in.find("\r\n", pos);
      if (eol == std::string::npos) return false;
      *l = std::string_view(o.in).substr(pos, eol - pos);
      pos = eol + 2;
      return true;
    };
    bool ok = true;
    while (ok && !o.expecting.empty()) {
      size_t start = pos;
      std::string_view l;
      if (!line(&l)) break;
      Out::Expect e = o.expecting.front();
      if (e == Out::Expect::kHello) {
        std::string_view a, b;
        if (l != "*2") {
          ok = false;
          break;
        }
        if (!line(&a) || !line(&b)) {
          pos = start;
          break;
        }
        uint64_t held = 0, peer_epoch = 0;
        if (a.empty() || a[0] != ':' || b.empty() || b[0] != ':' || !ParseU64(a.substr(1), &held) ||
            !ParseU64(b.substr(1), &peer_epoch)) {
          ok = false;
          break;
        }
        o.expecting.pop_front();
        OnHello(o, held, peer_epoch);
      } else {
        o.expecting.pop_front();
        if (l.empty() || l[0] == '-') {
          ok = false;  // the peer refused: reconnect and resume from what it holds
          break;
        }
        uint64_t held = 0;
        if (l[0] == ':' && ParseU64(l.substr(1), &held)) o.acked = std::max(o.acked, held);
      }
    }
    o.in.erase(0, pos);
    TrimDurableLog();
    return ok;
  }
  void OnHello(Out& o, uint64_t held, uint64_t peer_epoch) {
    bool peer_restarted = o.peer_epoch != 0 && o.peer_epoch != peer_epoch;
    o.peer_epoch = peer_epoch;
    o.acked = held;
    o.connected = true;
    o.backoff = kMinBackoff;
    o.sent_upto = held;
    if (held >= last_seq && !peer_restarted) return;  // up to date
    uint64_t first = log.empty() ? last_seq + 1 : log.front().first;
    if (!peer_restarted && held + 1 < first && store->durable()) {
      // Not in memory (this node restarted, or the backlog dropped it): the durable log
      // may still hold it.
      auto entries = store->ReadLog(held + 1, last_seq);
      if (entries.ok() && !entries->empty() && entries->front().first == held + 1 &&
          entries->back().first == last_seq) {
        ++o.partial_syncs;
        for (const auto& e : *entries) SendEffect(o, e);
        return;
      }
    }
    if (peer_restarted || held + 1 < first) {
      SendState(o);  // CASE 1: the peer lost its memory, or our backlog lost what it needs
      return;
    }
    ++o.partial_syncs;  // CASE 2: replay the backlog from what the peer holds
    for (const auto& e : log) {
      if (e.first > held) SendEffect(o, e);
    }
  }

  asio::io_context& io;
  NodeConfig config;
  RespServer server;
  std::unique_ptr<cluster_sim::Store> store;
  uint16_t incarnation = 1;
  std::string epoch_text;
  bool fresh = true;  // started without data (always, with an in-memory store)
  bool stopped = false;
  std::deque<std::pair<uint64_t, std::string>> log;
  size_t log_bytes = 0;
  uint64_t last_seq = 0;
  uint64_t log_trimmed = 0;  // a durable store's log is trimmed up to here
  uint64_t local_writes = 0;
  uint64_t relays = 0;
  std::deque<Out> outs;  // peers, in region order (deque: stable addresses)
  std::map<std::string, In> ins;
};

Reply Node::Impl::Admin(const std::vector<std::string>& argv) {
  if (argv.size() == 2 && IEquals(argv[1], "STATUS")) {
    std::string s = "region: " + config.region + " (node, incarnation " +
                    std::to_string(incarnation) + ")\nwrites=" + std::to_string(local_writes) +
                    " relays=" + std::to_string(relays) + " log_seq=" + std::to_string(last_seq) +
                    "\n";
    for (const auto& o : outs) {
      const In& in = ins.at(o.addr.region);
      s += "  -> " + o.addr.region + ": " + (o.connected ? "up" : "down") +
           " ops_lag=" + std::to_string(last_seq - std::min(last_seq, o.acked)) +
           " sent=" + std::to_string(o.effects_sent) + " received=" + std::to_string(in.received) +
           " partial_syncs=" + std::to_string(o.partial_syncs) +
           " full_syncs=" + std::to_string(o.full_syncs) + "\n";
    }
    return Reply::Bulk(s);
  }
  if (argv.size() >= 2 && argv.size() <= 4 && IEquals(argv[1], "DISCONNECT")) {
    // AASIM DISCONNECT [PEER|ALL [MS]]: drops this node's links to its peers (or to one);
    // they reconnect after MS milliseconds (default 500) and resume from what each peer
    // holds.
    const bool all = argv.size() < 3 || IEquals(argv[2], "ALL");
    int64_t ms = 500;
    if (argv.size() == 4) {
      const std::string& t = argv[3];
      const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
      if (ec != std::errc() || ptr != t.data() + t.size() || ms < 0 || ms > 3'600'000) {
        return Reply::Error("ERR DISCONNECT: MS must be an integer from 0 to 3600000");
      }
    }
    int64_t n = 0;
    for (auto& o : outs) {
      if (!all && o.addr.region != argv[2]) continue;
      o.backoff = std::chrono::milliseconds(ms);
      Retry(o);
      ++n;
    }
    if (n == 0) return Reply::Error("ERR unknown peer '" + argv[2] + "'");
    return Reply::Integer(n);
  }
  return Reply::Error(
      "ERR unknown AASIM subcommand for a node (STATUS, DISCONNECT [PEER|ALL [MS]])");
}

std::string Node::Impl::InfoActiveActive() {
  uint64_t in_total = 0, out_total = 0, filtered = 0, partial = 0, full = 0;
  uint64_t max_lag = 0, min_lag = UINT64_MAX;
  std::string peers;
  int i = 0;
  for (const auto& o : outs) {
    const In& in = ins.at(o.addr.region);
    uint64_t lag = last_seq - std::min(last_seq, o.acked);
    max_lag = std::max(max_lag, lag);
    min_lag = std::min(min_lag, lag);
    in_total += in.received;
    out_total += o.effects_sent;
    filtered += in.filtered;
    partial += o.partial_syncs;
    full += o.full_syncs;
    peers += "peer" + std::to_string(i++) + ":name=" + o.addr.region + ",addr=" + o.addr.host +
             ":" + std::to_string(o.addr.port) + ",status=" + (o.connected ? "up" : "down") +
             ",ops_lag=" + std::to_string(lag) + ",effects_out=" + std::to_string(o.effects_sent) +
             ",effects_in=" + std::to_string(in.received) +
             ",filtered=" + std::to_string(in.filtered) +
             ",partial_syncs=" + std::to_string(o.partial_syncs) +
             ",full_syncs=" + std::to_string(o.full_syncs) + "\r\n";
  }
  if (outs.empty()) min_lag = 0;
  return "# ActiveActive\r\nregion:" + config.region +
         "\r\nmode:node\r\nincarnation:" + std::to_string(incarnation) +
         "\r\nlocal_writes:" + std::to_string(local_writes) +
         "\r\nmax_ops_lag:" + std::to_string(max_lag) +
         "\r\nmin_ops_lag:" + std::to_string(min_lag) +
         "\r\neffects_in:" + std::to_string(in_total) +
         "\r\neffects_out:" + std::to_string(out_total) +
         "\r\neffects_filtered:" + std::to_string(filtered) +
         "\r\npartial_syncs:" + std::to_string(partial) + "\r\nfull_syncs:" + std::to_string(full) +
         "\r\nbacklog_bytes:" + std::to_string(log_bytes) +
         "\r\npeers:" + std::to_string(outs.size()) + "\r\n" + peers;
}

Node::Node(asio::io_context& io, NodeConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {}

Node::~Node() { Stop(); }

Status Node::Start() {
  Impl& n = *impl_;
  const NodeConfig& c = n.config;
  // Sites in name order, the same in every process given the same regions.
  std::vector<std::string> names{c.region};
  for (const auto& p : c.peers) {
    if (p.region == c.region) return Status::InvalidArgument("--peer " + p.region + ": itself");
    if (std::find(names.begin(), names.end(), p.region) != names.end()) {
      return Status::InvalidArgument("--peer " + p.region + ": given twice");
    }
    names.push_back(p.region);
  }
  std::sort(names.begin(), names.end());
  auto site =
      static_cast<uint16_t>(std::find(names.begin(), names.end(), c.region) - names.begin());
  n.incarnation = c.incarnation;
  if (n.incarnation == 0 && c.durable) {
    // A durable store's data and log survive a restart: same incarnation, same log.
    n.incarnation = 1;
  }
  if (n.incarnation == 0) {
    // Milliseconds of the clock, folded into 16 bits: a restart gets another incarnation
    // unless it lands a multiple of 65.5 seconds later to the millisecond.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    n.incarnation = static_cast<uint16_t>(1 + ms % 65535);
  }
  n.epoch_text = std::to_string(n.incarnation);
  crdt::ReplicaId self = crdt::MakeReplicaId(site, n.incarnation);
  n.store = c.store_factory ? c.store_factory(site, self) : cluster_sim::NewMemoryStore(self);
  n.fresh = !n.store->durable() || n.store->Keys().empty();
  if (n.store->durable()) {
    // Resume where the previous run stopped: its log (replayed to peers that lack it, see
    // OnHello) and, per peer, what it held (Repl reads the progress).
    n.last_seq = n.store->LogHead();
  }
  Status st = n.server.Listen(c.listen_host, c.listen_port);
  if (!st.ok()) return st;
  for (const auto& p : c.peers) {
    n.ins[p.region] = Impl::In{};
    Impl::Out& o = n.outs.emplace_back();
    o.addr = p;
    o.retry = std::make_unique<asio::steady_timer>(n.io);
    boost::system::error_code ec;
    asio::ip::make_address(p.host, ec);
    if (ec) return Status::InvalidArgument("--peer " + p.region + ": bad address " + p.host);
  }
  for (auto& o : n.outs) n.Connect(o);
  return Status::Ok();
}

uint16_t Node::port() const { return impl_->server.port(); }

void Node::Stop() {
  Impl& n = *impl_;
  if (n.stopped) return;
  n.stopped = true;
  n.server.Close();
  for (auto& o : n.outs) {
    ++o.generation;
    boost::system::error_code ec;
    if (o.socket) o.socket->close(ec);
    if (o.retry) o.retry->cancel();
  }
}

}  // namespace server
