#include "server/node.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <iostream>
#include <optional>
#include <system_error>

#include <boost/asio.hpp>

#include "cluster_sim/host_port.h"
#include "cluster_sim/plural.h"
#include "cluster_sim/replicator.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "server/repl_wire.h"

namespace server {

namespace asio = boost::asio;
using asio::ip::tcp;
using cluster_sim::Replicator;
using cluster_sim::ReplMessage;
using cluster_sim::Reply;
using cluster_sim::SimTime;
using cluster_sim::Status;

namespace {

constexpr std::string_view kRepl = "AASIM.REPL";
// The error code a node answers replication messages with while AASIM DISCONNECT cuts the
// link they came over.
constexpr std::string_view kCut = "LINKCUT";
constexpr auto kMinBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

using cluster_sim::IEquals;

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

// The node is the Replicator's transport (TCP links) and timers (the steady clock).
struct Node::Impl : public Backend,
                    public cluster_sim::ReplTransport,
                    public cluster_sim::ReplTimers {
  // This node's link to a peer: carries our messages; reads the peer's one-line answers.
  struct Out {
    enum class Expect { kAuth, kHello, kMsg };
    PeerAddress addr;
    int index = 0;  // the peer's region index
    std::unique_ptr<tcp::socket> socket;
    std::unique_ptr<asio::steady_timer> retry;
    std::chrono::milliseconds backoff = kMinBackoff;
    bool up = false;  // HELLO accepted: messages flow
    bool writing = false;
    std::string out, writing_buf;
    std::string in;  // answers not yet parsed
    std::deque<Expect> expecting;
    uint64_t generation = 0;  // bumps on every (re)connection: stale handlers ignore
    uint64_t connects = 0;
    uint64_t dropped = 0;  // messages sent while the link was down (the protocol resends)
    std::optional<uint32_t> join_answer;  // while joining: the incarnation it has seen of us
    uint32_t hello_incarnation = 0;       // what our last HELLO on this link said
    std::string refused;                  // its last refusal of our HELLO
    // AASIM DISCONNECT cuts both directions: until then, this node also refuses what the
    // peer sends it (answering kCut), so neither side's messages cross.
    std::chrono::steady_clock::time_point deaf_until{};
  };

  Impl(asio::io_context& io_context, NodeConfig c)
      : io(io_context),
        config(std::move(c)),
        server(io_context, *this, config.server),
        start(std::chrono::steady_clock::now()),
        token(std::make_shared<bool>(true)) {}

  // ---- Backend ----
  const std::string& region() const override { return config.region; }

  Reply Execute(const std::vector<std::string>& argv) override {
    Batch();
    if (!argv.empty() && IEquals(argv[0], kRepl)) return Repl(argv);
    if (!repl) return Joining();
    std::string effect;
    Reply reply = store->Execute(argv, WallClockUs(), &effect);
    if (!effect.empty()) repl->OnLocalWrite(std::move(effect));
    ArmExpiry();
    return reply;
  }
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override {
    if (!repl) return std::vector<Reply>(cmds.size(), Joining());
    Batch();
    std::string effect;
    auto replies = store->ExecuteBatch(cmds, WallClockUs(), &effect);
    if (!effect.empty()) repl->OnLocalWrite(std::move(effect));
    ArmExpiry();
    return replies;
  }

  // What one read from a client or a peer brings is one batch (Replicator::BeginBatch): its
  // writes reach each peer in one message, the effects it carried are acknowledged once
  // per peer. It ends after the read's commands (AfterCommands), or at the latest once the
  // current handler returns.
  void Batch() {
    if (!repl || repl->batching()) return;
    repl->BeginBatch();
    if (batch_end_posted) return;
    batch_end_posted = true;
    std::weak_ptr<bool> alive = token;
    asio::post(io, [this, alive] {
      if (alive.expired()) return;
      batch_end_posted = false;
      if (repl) repl->EndBatch();
    });
  }
  void AfterCommands() override {
    if (repl) repl->EndBatch();
  }

  // Key expiry (Store::NextExpiry): one timer, set for the next due deletion after every
  // local write and merge; it runs Store::ExpireDue at the wall clock and replicates it.
  void ArmExpiry() {
    if (!repl || stopped) return;
    int64_t next = store->NextExpiry();
    if (next < 0 || (expiry_armed && expiry_due_us <= next)) return;
    expiry_armed = true;
    expiry_due_us = next;
    expiry_timer.expires_after(
        std::chrono::microseconds(std::max<int64_t>(0, next - WallClockUs())));
    std::weak_ptr<bool> alive = token;
    expiry_timer.async_wait([this, alive](boost::system::error_code ec) {
      if (ec || alive.expired()) return;
      expiry_armed = false;
      if (!repl || stopped) return;
      std::string effect;
      Status s = store->ExpireDue(WallClockUs(), &effect);
      if (!s.ok())
        std::cerr << "aasim node " << config.region << ": expiry: " << s.message() << std::endl;
      if (!effect.empty()) repl->OnLocalWrite(std::move(effect));
      ArmExpiry();
    });
  }
  uint64_t KeyVersion(std::string_view key) override { return store->KeyVersion(key); }
  std::string StreamLastId(std::string_view key) override { return store->StreamLastId(key); }
  void SetDeliver(Deliver d) override { deliver = std::move(d); }
  // A PUBLISH goes to every peer whose link is up, once, unacknowledged (pub/sub keeps
  // nothing: a peer that is cut off misses the message).
  void Publish(const std::string& channel, const std::string& message) override {
    for (auto& o : outs) {
      if (!o || !o->up) continue;
      AppendCommand({kRepl, "PUB", config.region, channel, message}, &o->out);
      o->expecting.push_back(Out::Expect::kMsg);
      Flush(*o);
    }
  }
  Reply Admin(const std::vector<std::string>& argv) override;
  std::string InfoActiveActive() override;

  Reply Joining() const {
    return Reply::Error("LOADING region " + config.region +
                        " is joining its peers (choosing its incarnation)");
  }

  // ---- ReplTransport ----
  void Send(int peer, const ReplMessage& m, std::shared_ptr<const void>&& body, size_t,
            std::string&&) override {
    Out& o = *outs[peer];
    if (!o.up) {
      ++o.dropped;
      return;
    }
    std::string kind = std::to_string(static_cast<int>(m.kind));
    std::string sender_epoch = std::to_string(m.sender_epoch);
    std::string epoch = std::to_string(m.epoch);
    std::string seq = std::to_string(m.kind == ReplMessage::Kind::kEffects ? m.first_seq : m.seq);
    std::string count = std::to_string(m.count);
    std::string flags = std::to_string((m.full_ack ? 1 : 0) | (m.causal ? 2 : 0));
    std::vector<std::string_view> argv = {kRepl, "MSG", config.region, kind, sender_epoch,
                                          epoch, seq,   flags,         count};
    ReplMessage view = m;
    view.body = body.get();
    for (uint32_t i = 0; i < m.count; ++i) argv.push_back(view.payload(i));
    AppendCommand(argv, &o.out);
    o.expecting.push_back(Out::Expect::kMsg);
    Flush(o);
  }
  SimTime Rtt(int) const override { return std::chrono::duration_cast<SimTime>(config.rto); }

  // ---- ReplTimers ----
  SimTime Now() const override {
    return std::chrono::duration_cast<SimTime>(std::chrono::steady_clock::now() - start);
  }
  void At(SimTime at, std::function<void()> cb) override {
    auto timer = std::make_shared<asio::steady_timer>(io, start + at);
    std::weak_ptr<bool> alive = token;
    timer->async_wait([timer, alive, cb = std::move(cb)](boost::system::error_code ec) {
      if (!ec && !alive.expired()) cb();
    });
  }

  // ---- receiving (AASIM.REPL commands) ----
  Reply Repl(const std::vector<std::string>& argv) {
    if (argv.size() < 3) return Reply::Error("ERR AASIM.REPL: missing arguments");
    int from = RegionIndex(argv[2]);
    if (from < 0 || from == self) {
      return Reply::Error("ERR AASIM.REPL: '" + argv[2] + "' is not a peer of region " +
                          config.region);
    }
    if (outs[from] && std::chrono::steady_clock::now() < outs[from]->deaf_until) {
      return Reply::Error(std::string(kCut) + " the link from " + argv[2] + " to " + config.region +
                          " is cut (AASIM DISCONNECT)");
    }
    if (IEquals(argv[1], "HELLO")) return Hello(from, argv);
    if (IEquals(argv[1], "MSG")) return Message(from, argv);
    if (IEquals(argv[1], "PUB")) {  // AASIM.REPL PUB FROM CHANNEL MESSAGE: a peer's PUBLISH
      if (argv.size() != 5)
        return Reply::Error("ERR AASIM.REPL: expected PUB FROM CHANNEL MESSAGE");
      if (deliver) deliver(argv[3], argv[4]);
      return Reply::Status("OK");
    }
    return Reply::Error("ERR AASIM.REPL: unknown message '" + argv[1] + "'");
  }

  // A peer's link starts: it names its incarnation (0 while it is choosing one) and log head.
  Reply Hello(int from, const std::vector<std::string>& argv) {
    uint64_t incarnation = 0, head = 0;
    std::string bad = DecodeReplHello(argv, &incarnation, &head);
    if (!bad.empty()) return Reply::Error(bad);
    if (!repl) {
      // Joining ourselves: we know nothing yet of the peer's incarnations; a peer that has
      // one waits until we are ready to take its messages.
      if (incarnation == 0) return Reply::Integer(0);
      return Joining();
    }
    uint32_t seen = repl->InboundEpoch(from);
    std::string why;
    if (incarnation != 0 && incarnation < seen) {
      why = "incarnation " + std::to_string(incarnation) + " of " + argv[2] + " is older than " +
            std::to_string(seen) + ", which " + config.region + " has seen";
    } else if (incarnation != 0 && incarnation == seen && head < repl->Contiguous(from)) {
      why = argv[2] + " reuses incarnation " + std::to_string(incarnation) + " with a log of " +
            cluster_sim::Plural(head, "write") + ", but " + config.region + " holds " +
            std::to_string(repl->Contiguous(from)) + " of it (its store was wiped?)";
    }
    if (!why.empty()) {
      repl->ReportAnomaly(why);
      std::cerr << "aasim node " << config.region << ": refused " << argv[2] << ": " << why
                << "; restart it without --incarnation" << std::endl;
      return Reply::Error("ERR AASIM.REPL refused: " + why + "; restart it without --incarnation");
    }
    return Reply::Integer(seen);
  }

  Reply Message(int from, const std::vector<std::string>& argv) {
    std::string bad = DecodeReplMsg(argv, nullptr);
    if (!bad.empty()) return Reply::Error(bad);
    if (!repl) return Reply::Status("OK");  // not ready: lost, as on a down link
    DecodedRepl decoded;
    DecodeReplMsg(argv, &decoded);
    const ReplMessage& m = decoded.msg;
    repl->OnMessage(from, m);
    ArmExpiry();
    return Reply::Status("OK");
  }

  int RegionIndex(std::string_view name) const {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  }

  // ---- our links to peers ----
  void Connect(Out& o) {
    ++o.generation;
    o.socket = std::make_unique<tcp::socket>(io);
    o.up = false;
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
      // Connecting to a port nothing listens on can connect the socket to itself when the
      // kernel picks that port as the source (TCP simultaneous open): the peer could then
      // not bind its own port. Such a link is dropped at once and retried.
      boost::system::error_code lerr, rerr;
      if (o.socket->local_endpoint(lerr) == o.socket->remote_endpoint(rerr) && !lerr && !rerr)
        return Retry(o);
      o.socket->set_option(tcp::no_delay(true), ignored);
      ++o.connects;
      const std::string& auth = config.server.requirepass;
      if (!auth.empty()) {
        AppendCommand({"AUTH", auth}, &o.out);
        o.expecting.push_back(Out::Expect::kAuth);
      }
      o.hello_incarnation = repl ? repl->incarnation() : 0;
      std::string inc = std::to_string(o.hello_incarnation);
      std::string head = std::to_string(repl ? repl->head() : 0);
      AppendCommand({kRepl, "HELLO", config.region, inc, head}, &o.out);
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
    o.up = false;
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
                                if (!OnAnswers(o)) return Retry(o);
                                Read(o);
                              });
  }
  // Every answer is one line: +OK, :N or -ERR ...
  bool OnAnswers(Out& o) {
    size_t pos = 0;
    bool ok = true;
    for (size_t eol; ok && (eol = o.in.find("\r\n", pos)) != std::string::npos; pos = eol + 2) {
      std::string_view line = std::string_view(o.in).substr(pos, eol - pos);
      if (o.expecting.empty()) {
        ok = false;
        break;
      }
      Out::Expect e = o.expecting.front();
      o.expecting.pop_front();
      if (e == Out::Expect::kHello) {
        ok = OnHelloAnswer(o, line);
      } else if (line.substr(1, kCut.size()) == kCut) {
        ok = false;  // the peer cut the link (AASIM DISCONNECT): reconnect after backoff
      } else if (line.empty() || line[0] == '-') {
        std::cerr << "aasim node " << config.region << ": " << o.addr.region << " answered " << line
                  << std::endl;
        ok = false;  // reconnect; the protocol resends what was lost
      }
    }
    o.in.erase(0, pos);
    return ok;
  }
  bool OnHelloAnswer(Out& o, std::string_view line) {
    uint64_t seen = 0;
    if (line.substr(0, 8) == "-LOADING") return false;      // the peer is joining: retry soon
    if (line.substr(1, kCut.size()) == kCut) return false;  // cut by the peer: retry later
    if (line.size() < 2 || line[0] != ':' || !ParseU64(line.substr(1), &seen)) {
      o.refused = std::string(line.substr(line.empty() || line[0] != '-' ? 0 : 1));
      if (repl) repl->ReportAnomaly(o.addr.region + " refused us: " + o.refused);
      std::cerr << "aasim node " << config.region << ": " << o.addr.region
                << " refused the link: " << o.refused << std::endl;
      return false;
    }
    o.refused.clear();
    o.backoff = kMinBackoff;
    if (!repl) {
      o.join_answer = static_cast<uint32_t>(std::min<uint64_t>(seen, 0xFFFF));
      return true;
    }
    if (o.hello_incarnation == 0 && seen >= repl->incarnation()) {
      // We chose our incarnation without this peer's answer, and it has seen this one (or a
      // later one) already: our writes would be taken for an earlier life's.
      o.refused = o.addr.region + " has seen incarnation " + std::to_string(seen) + " of " +
                  config.region + ", which runs as " + std::to_string(repl->incarnation()) +
                  ": its writes are refused; restart this node (it will join as " +
                  std::to_string(seen + 1) + ")";
      repl->ReportAnomaly(o.refused);
      return false;
    }
    o.up = true;
    repl->OnLinkUp(o.index);
    return true;
  }

  // ---- starting ----
  // A node without a recorded incarnation becomes the one after everything its peers saw.
  Status Join(uint32_t* incarnation, bool* lived_before) {
    auto deadline = std::chrono::steady_clock::now() + config.join_timeout;
    auto all_answered = [&] {
      return std::all_of(outs.begin(), outs.end(),
                         [](const auto& o) { return !o || o->join_answer.has_value(); });
    };
    while (!all_answered() && std::chrono::steady_clock::now() < deadline) {
      io.run_one_until(deadline);
    }
    io.restart();
    uint32_t seen = 0;
    std::string who;
    for (const auto& o : outs) {
      if (o && o->join_answer && *o->join_answer > seen) {
        seen = *o->join_answer;
        who = o->addr.region;
      }
    }
    *lived_before = seen > 0;
    if (config.incarnation != 0) {
      if (config.incarnation <= seen) {
        return Status::InvalidArgument("--incarnation " + std::to_string(config.incarnation) +
                                       ": peer " + who + " has already seen incarnation " +
                                       std::to_string(seen) + " of region " + config.region +
                                       " (give a higher one, or none)");
      }
      *incarnation = config.incarnation;
    } else {
      if (seen >= 0xFFFF) {
        return Status::InvalidArgument("region " + config.region +
                                       " has used every incarnation (65535)");
      }
      *incarnation = seen + 1;
    }
    for (auto& o : outs) {
      if (o && !o->join_answer && o->socket) {
        std::cerr << "aasim node " << config.region << ": " << o->addr.region
                  << " did not answer within the join timeout; incarnation " << *incarnation
                  << " chosen without it" << std::endl;
      }
    }
    return Status::Ok();
  }

  asio::io_context& io;
  NodeConfig config;
  // Hands a peer's published message to this node's subscribers (set by `server`, so
  // declared before it).
  Deliver deliver;
  RespServer server;
  std::chrono::steady_clock::time_point start;
  std::shared_ptr<bool> token;  // timers fire only while it lives
  asio::steady_timer expiry_timer{io};
  bool expiry_armed = false;
  int64_t expiry_due_us = 0;       // wall clock of the armed expiry timer
  bool batch_end_posted = false;   // Batch: the end of the batch is posted
  std::vector<std::string> names;  // every region, in site (name) order
  int self = 0;
  std::unique_ptr<cluster_sim::Store> store;
  std::unique_ptr<Replicator> repl;  // null while joining
  bool stopped = false;
  std::vector<std::unique_ptr<Out>> outs;  // by region index; null for this node
};

Reply Node::Impl::Admin(const std::vector<std::string>& argv) {
  if (argv.size() == 2 && IEquals(argv[1], "STATUS")) {
    if (!repl) return Joining();
    std::string s = "region: " + config.region + " (node, incarnation " +
                    std::to_string(repl->incarnation()) +
                    ")\nwrites=" + std::to_string(repl->local_writes()) +
                    " log_seq=" + std::to_string(repl->head()) +
                    " anomalies=" + std::to_string(repl->anomalies()) + "\n";
    if (repl->anomalies() != 0) s += "last anomaly: " + repl->last_anomaly() + "\n";
    for (const auto& o : outs) {
      if (!o) continue;
      auto pm = repl->Metrics(o->index);
      s += "  -> " + o->addr.region + ": " + (o->up ? "up" : "down") +
           " ops_lag=" + std::to_string(pm.ops_lag) + " sent=" + std::to_string(pm.effects_sent) +
           " received=" + std::to_string(pm.effects_received) +
           " partial_syncs=" + std::to_string(pm.partial_syncs) +
           " full_syncs=" + std::to_string(pm.full_syncs) +
           (o->refused.empty() ? "" : " refused: " + o->refused) + "\n";
    }
    return Reply::Bulk(s);
  }
  if (argv.size() == 2 && IEquals(argv[1], "DUMP")) {
    if (!repl) return Joining();
    return Reply::Bulk(store->DumpAll());  // the canonical text `aasim run` calls final_state
  }
  if (argv.size() >= 2 && argv.size() <= 4 && IEquals(argv[1], "DISCONNECT")) {
    // AASIM DISCONNECT [PEER|ALL [MS]]: cuts this node's links with its peers (or one),
    // both directions: our links drop and reconnect after MS milliseconds (default 500),
    // and for as long we refuse the peers' messages; then each side resumes from what the
    // other holds.
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
      if (!o || (!all && o->addr.region != argv[2])) continue;
      o->backoff = std::chrono::milliseconds(ms);
      o->deaf_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      Retry(*o);
      ++n;
    }
    if (n == 0) return Reply::Error("ERR unknown peer '" + argv[2] + "'");
    return Reply::Integer(n);
  }
  for (std::string_view known : {"STATUS", "DUMP", "DISCONNECT"}) {
    if (argv.size() >= 2 && IEquals(argv[1], known)) {  // known, with extra arguments
      return Reply::Error("ERR wrong number of arguments for 'aasim|" +
                          cluster_sim::AsciiLower(argv[1]) + "' command");
    }
  }
  return Reply::Error(
      "ERR unknown AASIM subcommand for a node (STATUS, DUMP, DISCONNECT [PEER|ALL [MS]])");
}

std::string Node::Impl::InfoActiveActive() {
  if (!repl) return "# ActiveActive\r\nregion:" + config.region + "\r\nmode:node\r\njoining:1\r\n";
  uint64_t in_total = 0, out_total = 0, filtered = 0, partial = 0, full = 0;
  uint64_t max_lag = 0, min_lag = UINT64_MAX;
  std::string peers;
  int i = 0;
  for (const auto& o : outs) {
    if (!o) continue;
    auto pm = repl->Metrics(o->index);
    max_lag = std::max(max_lag, pm.ops_lag);
    min_lag = std::min(min_lag, pm.ops_lag);
    in_total += pm.effects_received;
    out_total += pm.effects_sent;
    filtered += pm.effects_filtered;
    partial += pm.partial_syncs;
    full += pm.full_syncs;
    peers += "peer" + std::to_string(i++) + ":name=" + o->addr.region +
             ",addr=" + cluster_sim::JoinHostPort(o->addr.host, o->addr.port) +
             ",status=" + (o->up ? "up" : "down") + ",ops_lag=" + std::to_string(pm.ops_lag) +
             ",effects_out=" + std::to_string(pm.effects_sent) +
             ",effects_in=" + std::to_string(pm.effects_received) +
             ",filtered=" + std::to_string(pm.effects_filtered) +
             ",partial_syncs=" + std::to_string(pm.partial_syncs) +
             ",full_syncs=" + std::to_string(pm.full_syncs) + "\r\n";
  }
  if (i == 0) min_lag = 0;
  return "# ActiveActive\r\nregion:" + config.region +
         "\r\nmode:node\r\nincarnation:" + std::to_string(repl->incarnation()) +
         "\r\nlocal_writes:" + std::to_string(repl->local_writes()) +
         "\r\nmax_ops_lag:" + std::to_string(max_lag) +
         "\r\nmin_ops_lag:" + std::to_string(min_lag) +
         "\r\neffects_in:" + std::to_string(in_total) +
         "\r\neffects_out:" + std::to_string(out_total) +
         "\r\neffects_filtered:" + std::to_string(filtered) +
         "\r\npartial_syncs:" + std::to_string(partial) + "\r\nfull_syncs:" + std::to_string(full) +
         "\r\nbacklog_bytes:" + std::to_string(repl->backlog_bytes()) +
         "\r\nbacklog_limit:" + std::to_string(repl->backlog_limit()) +
         "\r\nincarnation_anomalies:" + std::to_string(repl->anomalies()) +
         "\r\npeers:" + std::to_string(i) + "\r\n" + peers;
}

Node::Node(asio::io_context& io, NodeConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {}

Node::~Node() { Stop(); }

Status Node::Start() {
  Impl& n = *impl_;
  const NodeConfig& c = n.config;
  // Sites in name order, the same in every process given the same regions.
  n.names = {c.region};
  for (const auto& p : c.peers) {
    if (p.region == c.region) return Status::InvalidArgument("--peer " + p.region + ": itself");
    if (std::find(n.names.begin(), n.names.end(), p.region) != n.names.end()) {
      return Status::InvalidArgument("--peer " + p.region + ": given twice");
    }
    boost::system::error_code ec;
    asio::ip::make_address(p.host, ec);
    if (ec) return Status::InvalidArgument("--peer " + p.region + ": bad address " + p.host);
    n.names.push_back(p.region);
  }
  std::sort(n.names.begin(), n.names.end());
  n.self = n.RegionIndex(c.region);
  auto site = static_cast<uint16_t>(n.self);
  auto open = [&](uint32_t incarnation) {
    crdt::ReplicaId id = crdt::MakeReplicaId(site, static_cast<uint16_t>(incarnation));
    n.store = nullptr;  // one store on a Redis at a time
    n.store = c.store_factory ? c.store_factory(site, id) : cluster_sim::NewMemoryStore(id);
    n.store->SetRegionNames(n.names);  // in site order (BC.TRANSFER names regions)
  };
  open(1);
  // A durable store records its incarnation; data from before that record is incarnation 1.
  uint32_t saved = n.store->SavedIncarnation();
  if (saved == 0 && n.store->durable() && (n.store->LogHead() > 0 || !n.store->Keys().empty())) {
    saved = 1;
  }
  if (saved != 0 && c.incarnation != 0 && c.incarnation != saved) {
    return Status::InvalidArgument("--incarnation " + std::to_string(c.incarnation) +
                                   ": this node's store holds incarnation " +
                                   std::to_string(saved) + "'s data (omit --incarnation)");
  }
  Status st = n.server.Listen(c.listen_host, c.listen_port);
  if (!st.ok()) return st;
  n.outs.resize(n.names.size());
  for (const auto& p : c.peers) {
    auto o = std::make_unique<Impl::Out>();
    o->addr = p;
    o->index = n.RegionIndex(p.region);
    o->retry = std::make_unique<asio::steady_timer>(n.io);
    n.outs[o->index] = std::move(o);
  }
  for (auto& o : n.outs) {
    if (o) n.Connect(*o);
  }
  uint32_t incarnation = saved;
  bool lived_before = false;
  if (saved == 0) {
    st = n.Join(&incarnation, &lived_before);
    if (!st.ok()) return st;
  }
  if (incarnation != 1) open(incarnation);
  if (saved == 0) {
    st = n.store->SaveIncarnation(incarnation);
    if (!st.ok()) return st;
  }
  Replicator::Options opts;
  opts.self = n.self;
  opts.names = n.names;
  opts.incarnation = incarnation;
  opts.peer_epochs.assign(n.names.size(), 0);  // learnt from each peer's messages
  opts.config.backlog_bytes = c.backlog_bytes;
  opts.config.causal = c.causal;
  opts.trace = [region = c.region](const std::string& line) {
    std::cerr << "aasim node " << region << ": " << line << std::endl;
  };
  n.repl = std::make_unique<Replicator>(std::move(opts), n.store.get(), &n, &n);
  if (saved != 0) {
    // Resume where the previous run stopped: its log (replayed to peers that lack it, once
    // each answers where it stands) and, per peer, what it held.
    n.repl->Resume(std::vector<std::optional<uint64_t>>(n.names.size()));
  } else if (lived_before) {
    n.repl->Rebuild();
  }
  n.ArmExpiry();  // a durable store may hold keys with a TTL
  // Links that answered while we were joining carry messages from now on.
  for (auto& o : n.outs) {
    if (o && o->join_answer) {
      o->join_answer.reset();
      o->up = true;
      n.repl->OnLinkUp(o->index);
    }
  }
  return Status::Ok();
}

uint16_t Node::port() const { return impl_->server.port(); }

void Node::Stop() {
  Impl& n = *impl_;
  if (n.stopped) return;
  n.stopped = true;
  n.token.reset();
  n.server.Close();
  for (auto& o : n.outs) {
    if (!o) continue;
    ++o->generation;
    boost::system::error_code ec;
    if (o->socket) o->socket->close(ec);
    if (o->retry) o->retry->cancel();
  }
}

}  // namespace server
