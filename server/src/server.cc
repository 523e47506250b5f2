#include "server/server.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio.hpp>
#include <unistd.h>

#include "cluster_sim/command_engine.h"
#include "cluster_sim/host_port.h"
#include "cluster_sim/session.h"
#include "cluster_sim/strings.h"
#include "command_table.h"
#include "crdt/string_value.h"

namespace server {

namespace asio = boost::asio;
using asio::ip::tcp;
using cluster_sim::Reply;
using cluster_sim::Status;

namespace {

constexpr size_t kReadChunk = 16 * 1024;

using cluster_sim::AsciiLower;
using cluster_sim::IEquals;

std::string ArityError(std::string_view name) { return cluster_sim::ArityError(name).str; }

// Splits "a b c" into its words.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Reply CommandInfoReply(const CommandInfo& c) {
  std::vector<Reply> flags;
  for (auto w : Words(c.flags)) flags.push_back(Reply::Status(std::string(w)));
  return Reply::Array({Reply::Bulk(std::string(c.name)), Reply::Integer(c.arity),
                       Reply::Array(std::move(flags)), Reply::Integer(c.first_key),
                       Reply::Integer(c.last_key), Reply::Integer(c.step), Reply::Array({}),
                       Reply::Array({}), Reply::Array({}), Reply::Array({})});
}

// Redis's glob for CONFIG GET patterns: only '*' matters for the names we answer.
bool SimpleGlob(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (SimpleGlob(pattern.substr(1), text.substr(i))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (AsciiLower(pattern[0]) != AsciiLower(text[0]) && pattern[0] != '?') {
    return false;
  }
  return SimpleGlob(pattern.substr(1), text.substr(1));
}

}  // namespace

class Connection;
struct ServerState;

// Where XREAD's or XREADGROUP's BLOCK option is (its index), if it has a valid one (a
// non-negative integer) before STREAMS; 0 if none. *ms gets the timeout.
size_t FindBlock(const std::vector<std::string>& argv, int64_t* ms) {
  if (argv.empty() || !(IEquals(argv[0], "XREADGROUP") || IEquals(argv[0], "XREAD"))) return 0;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (IEquals(argv[i], "STREAMS")) return 0;
    if (IEquals(argv[i], "BLOCK")) {
      const std::string& t = argv[i + 1];
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *ms);
      if (ec != std::errc() || end != t.data() + t.size() || *ms < 0) return 0;
      return i;
    }
  }
  return 0;
}

// A blocking list or sorted-set pop (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
// BZPOPMAX, BZMPOP) with a valid timeout: the keys it waits on and the timeout in ms (0:
// forever). False for anything else; a malformed one runs in the store, which replies the
// error (the store runs the non-blocking form).
bool ListBlock(const std::vector<std::string>& argv, std::vector<std::string>* keys, int64_t* ms) {
  if (argv.size() < 3) return false;
  const std::string* timeout = nullptr;
  if (IEquals(argv[0], "BLPOP") || IEquals(argv[0], "BRPOP") || IEquals(argv[0], "BZPOPMIN") ||
      IEquals(argv[0], "BZPOPMAX")) {
    timeout = &argv.back();
    keys->assign(argv.begin() + 1, argv.end() - 1);
  } else if ((IEquals(argv[0], "BLMOVE") && argv.size() == 6) ||
             (IEquals(argv[0], "BRPOPLPUSH") && argv.size() == 4)) {
    timeout = &argv.back();
    keys->assign(1, argv[1]);
  } else if ((IEquals(argv[0], "BLMPOP") || IEquals(argv[0], "BZMPOP")) && argv.size() >= 5) {
    timeout = &argv[1];
    uint64_t n = 0;
    const std::string& t = argv[2];
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || end != t.data() + t.size() || n < 1 || n > argv.size() - 4) {
      return false;
    }
    keys->assign(argv.begin() + 3, argv.begin() + 3 + static_cast<std::ptrdiff_t>(n));
  } else {
    return false;
  }
  char* end = nullptr;
  double seconds = std::strtod(timeout->c_str(), &end);
  // Any timeout whose milliseconds fit in 64 bits waits (a long one as long as it says, as
  // in Redis: never nil at once); a larger one runs in the store, which replies the error.
  if (timeout->empty() || end != timeout->c_str() + timeout->size() || !std::isfinite(seconds) ||
      seconds < 0 || !(seconds * 1000 < 0x1p63)) {
    return false;
  }
  *ms = static_cast<int64_t>(std::ceil(seconds * 1000));
  return true;
}

// The longest timer a blocked client gets (about 31 years): a steady_timer counts
// nanoseconds in 64 bits, so a longer one (BLOCK 9223372036854775) would wrap and fire at
// once. A timeout beyond it waits as BLOCK 0 does, for ever, which no client can tell apart.
constexpr int64_t kLongestBlockMs = 1'000'000'000'000;

// The endpoint does the waiting: a valid BLOCK never reaches the store (a Redis store
// forwards stream commands, and a BLOCK there would stall the whole region). An invalid
// one does, for the store's error reply.
std::vector<std::string> WithoutBlock(const std::vector<std::string>& argv) {
  int64_t ms = 0;
  size_t at = FindBlock(argv, &ms);
  if (at == 0) return argv;
  std::vector<std::string> out(argv.begin(), argv.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), argv.begin() + static_cast<std::ptrdiff_t>(at) + 2, argv.end());
  return out;
}

// What a connection's cluster_sim::Session runs on: the endpoint's Backend (which keeps the
// simulation current, replicates, and wakes blocked readers), plus the endpoint's own
// commands a MULTI may queue (PING, ECHO answered at EXEC; the others get an error there).
// An XADD that succeeded is noted in ServerState::ready_keys, so readers blocked on that
// stream are served.
class SessionBackend final : public cluster_sim::Session::Backend {
 public:
  SessionBackend(server::Backend& backend, ServerState& state) : backend_(backend), state_(state) {}
  Reply Execute(const std::vector<std::string>& argv) override;
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override;
  uint64_t KeyVersion(std::string_view key) override { return backend_.KeyVersion(key); }
  int ExtraArity(std::string_view lower) override {
    const CommandInfo* c = FindCommand(lower);
    return c != nullptr && c->op != Op::kStore ? c->arity : 0;
  }

 private:
  void NoteWrite(const std::vector<std::string>& argv, const Reply& reply);

  server::Backend& backend_;
  ServerState& state_;
};

// The reply of an endpoint command queued in a MULTI.
Reply QueuedEndpointReply(const std::vector<std::string>& argv, Op op) {
  if (op == Op::kPing) return argv.size() == 1 ? Reply::Status("PONG") : Reply::Bulk(argv[1]);
  if (op == Op::kEcho) return Reply::Bulk(argv[1]);
  return Reply::Error("ERR '" + AsciiLower(argv[0]) +
                      "' inside MULTI/EXEC is not supported by aasim (run it outside)");
}

std::vector<Reply> SessionBackend::ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) {
  std::vector<Reply> out(cmds.size());
  std::vector<std::vector<std::string>> store;
  std::vector<size_t> at;
  for (size_t i = 0; i < cmds.size(); ++i) {
    const CommandInfo* c = FindCommand(cmds[i][0]);
    if (c != nullptr && c->op != Op::kStore) {
      out[i] = QueuedEndpointReply(cmds[i], c->op);
    } else {
      store.push_back(WithoutBlock(cmds[i]));
      at.push_back(i);
    }
  }
  if (!store.empty()) {
    std::vector<Reply> replies = backend_.ExecuteBatch(store);
    for (size_t j = 0; j < at.size() && j < replies.size(); ++j) {
      NoteWrite(store[j], replies[j]);
      out[at[j]] = std::move(replies[j]);
    }
  }
  return out;
}

struct ServerState {
  ServerState(asio::io_context& io_context, Backend& b, ServerOptions o)
      : io(io_context),
        acceptor(io_context),
        accept_retry(io_context),
        backend(&b),
        options(std::move(o)) {}

  void Accept();

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  Backend* backend;  // null once the server is destroyed
  ServerOptions options;
  std::map<uint64_t, std::weak_ptr<Connection>> connections;  // by client id
  // Clients blocked in XREADGROUP, by stream key, in the order they blocked (Redis serves
  // them first come, first served).
  std::map<std::string, std::vector<std::pair<uint64_t, std::weak_ptr<Connection>>>> blocked;
  std::vector<std::string> ready_keys;  // streams XADDed to since blocked clients were served
  bool serving_ready = false;
  // Pub/sub: subscribers (client ids, in the order they subscribed) by channel and by
  // pattern.
  std::map<std::string, std::vector<uint64_t>> channel_subs;
  std::map<std::string, std::vector<uint64_t>> pattern_subs;
  // Gives a message to this region's subscribers (by channel, then by matching pattern, as
  // Redis does); returns how many deliveries were made.
  int64_t Deliver(const std::string& channel, const std::string& message);
  // Serves the clients blocked on ready_keys (after every command, as Redis does).
  void ServeReadyKeys();
  uint64_t next_id = 1;
  uint64_t total_connections = 0;
  uint64_t total_commands = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::weak_ptr<ServerState> self;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerState> server, tcp::socket socket, uint64_t id)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        parser_(server_->options.limits),
        id_(id),
        authed_(server_->options.requirepass.empty()),
        session_(std::make_unique<cluster_sim::Session>(
            std::make_unique<SessionBackend>(*server_->backend, *server_))) {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_ = cluster_sim::JoinHostPort(ep.address().to_string(), ep.port());
    auto local = socket_.local_endpoint(ec);
    if (!ec) local_ = cluster_sim::JoinHostPort(local.address().to_string(), local.port());
    fd_ = static_cast<int64_t>(socket_.native_handle());
  }
  ~Connection() {
    Unblock();
    DropSubscriptions();
    server_->connections.erase(id_);
  }

  void Start() { DoRead(); }
  void Close() {
    Unblock();
    DropSubscriptions();
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    closed_ = true;
  }
  uint64_t id() const { return id_; }
  // One line of CLIENT LIST / CLIENT INFO, with every field of Redis 7.0's in its order
  // (client libraries parse them all: redis-py's client_info() reads qbuf-free, tot-mem,
  // ...). Buffers and memory are not measured: they read 0.
  std::string Describe() const {
    using std::chrono::duration_cast;
    using std::chrono::seconds;
    const auto now = std::chrono::steady_clock::now();
    std::string flags;
    if (subscriptions() > 0) flags += 'P';  // in Redis's order
    if (session_->in_multi()) flags += 'x';
    if (block_) flags += 'b';
    if (no_evict_) flags += 'e';
    if (flags.empty()) flags = "N";
    return "id=" + std::to_string(id_) + " addr=" + peer_ + " laddr=" + local_ +
           " fd=" + std::to_string(fd_) + " name=" + name_ +
           " age=" + std::to_string(duration_cast<seconds>(now - created_).count()) +
           " idle=" + std::to_string(duration_cast<seconds>(now - last_command_).count()) +
           " flags=" + flags + " db=0 sub=" + std::to_string(channels_.size()) +
           " psub=" + std::to_string(patterns_.size()) +
           " ssub=0 multi=" + (session_->in_multi() ? std::to_string(session_->queued()) : "-1") +
           " qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
           "tot-mem=0 events=r cmd=" +
           last_cmd_ + " user=default redir=-1 resp=" + (resp3_ ? "3" : "2");
  }

 private:
  void DoRead() {
    // A client blocked in XREADGROUP is still read (what it pipelines waits in the parser),
    // so its disconnection is noticed; one parked otherwise is not.
    if (reading_ || closed_ || closing_ || (parked_ && !block_)) return;
    if (block_ && parser_.buffered() > server_->options.limits.max_request_bytes) return;
    if (out_.size() + writing_.size() > server_->options.max_output_bytes) return;
    reading_ = true;
    char* p = parser_.Prepare(kReadChunk);
    socket_.async_read_some(asio::buffer(p, kReadChunk),
                            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                              self->reading_ = false;
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->parser_.Commit(n);
                              self->Process();
                            });
  }

  // Runs every complete command in the buffer, then sends the replies in one write.
  void Process() {
    std::string error;
    while (!parked_ && !closing_ && !closed_) {
      parser_.RequireAuth(!authed_);  // AUTH may have run just before
      auto r = parser_.Next(&argv_, &error);
      if (r == RespParser::Result::kNeedMore) break;
      if (r == RespParser::Result::kError) {
        WriteError("ERR " + error, &out_);
        closing_ = true;
        break;
      }
      Dispatch();
    }
    if (server_->backend) server_->backend->AfterCommands();
    Flush();
    DoRead();
  }

  void Flush() {
    if (closed_ || writing_active_) return;
    if (out_.empty()) {
      if (closing_) Close();
      return;
    }
    writing_.swap(out_);
    out_.clear();
    writing_active_ = true;
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        self->writing_active_ = false;
                        self->writing_.clear();
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Flush();
                        self->DoRead();
                      });
  }

  uint16_t LocalPort() const {
    boost::system::error_code ec;
    auto ep = server_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
  }
  void Dispatch();
  void DispatchCommand(Op op, const std::vector<std::string>& argv);
  void RunInSession(Op op, const std::vector<std::string>& argv);
  void Client(const std::vector<std::string>& argv);
  void Command(const std::vector<std::string>& argv);
  void Config(const std::vector<std::string>& argv);
  void Info(const std::vector<std::string>& argv);
  void Hello(const std::vector<std::string>& argv);
  // AUTH's and HELLO AUTH's check: the only user is "default"; without requirepass it takes
  // any password (Redis's nopass), with it only that one. True (and authenticated) if the
  // pair is accepted.
  bool Authenticate(std::string_view user, std::string_view password);
  // Writes a reply to `argv` in the connection's protocol (RESP2, or RESP3 after HELLO 3).
  void Write(const Reply& reply, const std::vector<std::string>& argv) {
    if (resp3_) return WriteReply3(reply, Resp3ShapeOf(argv), &out_);
    WriteReply(reply, &out_);
  }
  // Redis's null array (EXEC aborted by WATCH, a read with nothing, a block timed out).
  void WriteNullArray() { out_.append(resp3_ ? "_\r\n" : "*-1\r\n"); }
  void Resumed(Reply reply) {
    if (closed_) return;
    parked_ = false;
    WriteReply(reply, &out_);
    Process();  // runs what was pipelined behind the parked command
  }

  std::shared_ptr<ServerState> server_;
  tcp::socket socket_;
  RespParser parser_;
  std::vector<std::string> argv_;
  std::string out_;      // replies not yet handed to the socket
  std::string writing_;  // replies being written
  uint64_t id_;
  bool authed_;
  bool reading_ = false;
  bool writing_active_ = false;
  bool closing_ = false;  // close once the replies are out
  bool closed_ = false;
  bool parked_ = false;
  std::string name_;
  std::string peer_;
  std::string local_;  // laddr
  int64_t fd_ = -1;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_command_ = created_;
  // CLIENT LIST's cmd: Redis's full name of the last command (lastcmd->fullname): lower
  // case, `name|sub` for a container command's subcommand (kSubcommands); "NULL" before
  // the first, and after a command or a container's subcommand the tables do not know.
  std::string last_cmd_ = "NULL";
  bool resp3_ = false;     // HELLO 3
  bool no_evict_ = false;  // CLIENT NO-EVICT on (flag `e`; a region evicts nothing anyway)
  // RESP3: the commands the open MULTI queued, to type EXEC's replies as each command's.
  std::vector<std::vector<std::string>> queued_;
  // MULTI/EXEC/WATCH state, and the path of every store command (one implementation of
  // transactions in the project: cluster_sim::Session).
  std::unique_ptr<cluster_sim::Session> session_;

 public:
  // ---- XREADGROUP ... BLOCK ms ----
  // Runs `argv` (an XREADGROUP, not inside MULTI); if the store has nothing for the group
  // and BLOCK was given, parks the connection until an XADD to one of its streams serves
  // it, or the timeout (nil); BLOCK 0 waits forever. Returns false if it is no blocking
  // read (the caller runs the command normally).
  bool MaybeBlock(const std::vector<std::string>& argv);
  // A stream the client waits on got an entry: run the read again.
  void KeyReady();

  // ---- pub/sub ----
  // Sends `items` to this client now: a RESP3 push, or a RESP2 array.
  void Push(std::vector<Reply> items);
  size_t subscriptions() const { return channels_.size() + patterns_.size(); }

 private:
  struct Block {
    std::vector<std::string> argv;
    std::vector<std::string> keys;
  };
  void Unblock();
  void FinishBlock(const Reply& reply);
  std::optional<Block> block_;
  std::unique_ptr<asio::steady_timer> block_timer_;
  // A blocked list pop or XREADGROUP also watches its keys' versions: a push or an entry
  // replicated from a peer region (replicated streams) serves it too (local writes wake it
  // at once through ready_keys).
  void PollBlockedKeys(uint64_t gen, std::vector<uint64_t> versions);
  std::unique_ptr<asio::steady_timer> poll_timer_;
  uint64_t block_gen_ = 0;

  void Subscribe(bool pattern, const std::vector<std::string>& argv);
  void Unsubscribe(bool pattern, const std::vector<std::string>& argv);
  void Pubsub(const std::vector<std::string>& argv);
  void DropSubscriptions();
  std::set<std::string> channels_;
  std::set<std::string> patterns_;
};

void Connection::Dispatch() {
  ++server_->total_commands;
  const std::vector<std::string>& argv = argv_;
  if (server_->backend == nullptr) {
    closing_ = true;
    return;
  }
  const CommandInfo* info = FindCommand(argv[0]);
  Op op = info ? info->op : Op::kStore;
  last_command_ = std::chrono::steady_clock::now();
  last_cmd_ = info ? std::string(info->name) : "NULL";
  if (info && argv.size() > 1 && cluster_sim::HasSubcommands(info->name)) {
    const cluster_sim::SubcommandSpec* sub = cluster_sim::FindSubcommand(info->name, argv[1]);
    last_cmd_ = sub ? last_cmd_ + "|" + std::string(sub->name) : "NULL";
  }
  if (op == Op::kQuit) {
    WriteStatus("OK", &out_);
    closing_ = true;
    return;
  }
  if (!authed_ && op != Op::kAuth && op != Op::kHello && op != Op::kReset) {
    WriteError("NOAUTH Authentication required.", &out_);
    return;
  }
  if (!resp3_ && subscriptions() > 0 && op != Op::kSubscribe && op != Op::kUnsubscribe &&
      op != Op::kPsubscribe && op != Op::kPunsubscribe && op != Op::kPing && op != Op::kReset) {
    // RESP2: a subscribed connection only carries pub/sub (Redis 7's words).
    WriteError("ERR Can't execute '" + AsciiLower(argv[0]) +
                   "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                   "allowed in this context",
               &out_);
    return;
  }
  if (op == Op::kStore && !session_->in_multi() && MaybeBlock(argv)) return;
  // The store's commands and the transaction commands run in the session; inside MULTI
  // the endpoint's own are queued there too (or refused), except RESET, which runs at
  // once (as Redis does).
  const bool transaction = info != nullptr && info->runner == cluster_sim::CommandRunner::kSession;
  if (op == Op::kStore || transaction || (op != Op::kReset && session_->in_multi())) {
    return RunInSession(op, argv);
  }
  // Redis checks every command's arity before running it (processCommand): the endpoint's
  // own handlers may then read the arguments their arity promises (PUBSUB's subcommand).
  if (info != nullptr && !info->AcceptsArgc(argv.size())) {
    return WriteError(ArityError(info->name), &out_);
  }
  DispatchCommand(op, argv);
}

void Connection::RunInSession(Op op, const std::vector<std::string>& argv) {
  Reply r = session_->Execute(argv);
  server_->ServeReadyKeys();  // an XADD (or an EXEC with one) serves blocked readers
  if (resp3_) {
    if (op == Op::kMulti) queued_.clear();
    if (session_->in_multi() && r.type == Reply::Type::kStatus && r.str == "QUEUED") {
      queued_.push_back(argv);
    }
  }
  if (resp3_ && op == Op::kExec && r.type == Reply::Type::kArray &&
      r.elements.size() == queued_.size()) {
    WriteArrayHeader(r.elements.size(), &out_);
    for (size_t i = 0; i < r.elements.size(); ++i) {
      WriteReply3(r.elements[i], Resp3ShapeOf(queued_[i]), &out_);
    }
  } else {
    Write(r, argv);
  }
  if (op == Op::kExec || op == Op::kDiscard) queued_.clear();
}

void Connection::DispatchCommand(Op op, const std::vector<std::string>& argv) {
  Backend& backend = *server_->backend;
  std::string_view cmd = argv[0];
  size_t argc = argv.size();
  switch (op) {
    case Op::kPing:
      if (!resp3_ && subscriptions() > 0 && argc <= 2) {  // Redis: a pub/sub-shaped pong
        return WriteReply(
            Reply::Array({Reply::Bulk("pong"), Reply::Bulk(argc == 2 ? argv[1] : "")}), &out_);
      }
      if (argc == 1) return WriteStatus("PONG", &out_);
      if (argc == 2) return WriteBulk(argv[1], &out_);
      return WriteError(ArityError(cmd), &out_);
    case Op::kEcho:
      if (argc != 2) return WriteError(ArityError(cmd), &out_);
      return WriteBulk(argv[1], &out_);
    case Op::kAuth: {
      // Redis 7.0 (authCommand): AUTH <password> is refused when the default user has no
      // password; AUTH <user> <password> is checked as HELLO AUTH's pair is.
      if (argc < 2) return WriteError(ArityError(cmd), &out_);
      if (argc > 3) return WriteError("ERR syntax error", &out_);
      if (argc == 2 && server_->options.requirepass.empty()) {
        return WriteError(
            "ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?",
            &out_);
      }
      if (!Authenticate(argc == 2 ? std::string_view("default") : argv[1], argv[argc - 1])) {
        return WriteError("WRONGPASS invalid username-password pair or user is disabled.", &out_);
      }
      return WriteStatus("OK", &out_);
    }
    case Op::kHello:
      return Hello(argv);
    case Op::kSelect: {
      if (argc != 2) return WriteError(ArityError(cmd), &out_);
      int64_t db = -1;
      auto [end, ec] = std::from_chars(argv[1].data(), argv[1].data() + argv[1].size(), db);
      if (ec != std::errc() || end != argv[1].data() + argv[1].size()) {
        return WriteError("ERR value is not an integer or out of range", &out_);
      }
      // Like Redis Enterprise (and Redis Cluster): one database per region.
      if (db != 0) return WriteError("ERR DB index is out of range", &out_);
      return WriteStatus("OK", &out_);
    }
    case Op::kClient:
      return Client(argv);
    case Op::kCommand:
      return Command(argv);
    case Op::kConfig:
      return Config(argv);
    case Op::kInfo:
      return Info(argv);
    case Op::kReset:
      session_ = std::make_unique<cluster_sim::Session>(
          std::make_unique<SessionBackend>(backend, *server_));
      DropSubscriptions();
      queued_.clear();
      resp3_ = false;
      name_.clear();
      // (CLIENT NO-EVICT stays on: Redis's RESET keeps it.)
      authed_ = server_->options.requirepass.empty();
      return WriteStatus("RESET", &out_);
    case Op::kAasim:
      // The continuation keeps the connection alive while it waits (no read is pending).
      if (backend.MaybePark(
              argv, [self = shared_from_this()](Reply r) { self->Resumed(std::move(r)); })) {
        parked_ = true;
        return;
      }
      return WriteReply(backend.Admin(argv), &out_);
    case Op::kSubscribe:
    case Op::kPsubscribe:
      return Subscribe(op == Op::kPsubscribe, argv);
    case Op::kUnsubscribe:
    case Op::kPunsubscribe:
      return Unsubscribe(op == Op::kPunsubscribe, argv);
    case Op::kPublish: {
      if (argc != 3) return WriteError(ArityError(cmd), &out_);
      int64_t n = server_->Deliver(argv[1], argv[2]);
      backend.Publish(argv[1], argv[2]);
      return WriteInteger(n, &out_);
    }
    case Op::kPubsub:
      return Pubsub(argv);
    case Op::kStore:
    case Op::kMulti:
    case Op::kExec:
    case Op::kDiscard:
    case Op::kWatch:
    case Op::kUnwatch:
    case Op::kQuit:
      break;  // handled in Dispatch
  }
}

bool Connection::Authenticate(std::string_view user, std::string_view password) {
  const std::string& pass = server_->options.requirepass;
  if (user != "default" || (!pass.empty() && password != pass)) return false;
  authed_ = true;
  return true;
}

void Connection::Hello(const std::vector<std::string>& argv) {
  size_t i = 1;
  int64_t proto = resp3_ ? 3 : 2;
  if (argv.size() >= 2) {
    auto [end, ec] = std::from_chars(argv[1].data(), argv[1].data() + argv[1].size(), proto);
    if (ec != std::errc() || end != argv[1].data() + argv[1].size()) {
      return WriteError("ERR Protocol version is not an integer or out of range", &out_);
    }
    if (proto < 2 || proto > 3) return WriteError("NOPROTO unsupported protocol version", &out_);
    i = 2;
  }
  for (; i < argv.size(); ++i) {
    if (IEquals(argv[i], "AUTH") && i + 2 < argv.size()) {
      if (!Authenticate(argv[i + 1], argv[i + 2])) {
        return WriteError("WRONGPASS invalid username-password pair or user is disabled.", &out_);
      }
      i += 2;
    } else if (IEquals(argv[i], "SETNAME") && i + 1 < argv.size()) {
      name_ = argv[++i];
    } else {
      return WriteError("ERR Syntax error in HELLO option '" +
                            std::string(cluster_sim::ErrorArg(argv[i], argv[i].size())) + "'",
                        &out_);
    }
  }
  if (!authed_)
    return WriteError(
        "NOAUTH HELLO must be called with the client already "
        "authenticated, otherwise the HELLO <proto> AUTH <user> <pass> "
        "option can be used to authenticate the client and select the "
        "RESP protocol version at the same time",
        &out_);
  resp3_ = proto == 3;
  Reply r = Reply::Array({Reply::Bulk("server"), Reply::Bulk("redis"), Reply::Bulk("version"),
                          Reply::Bulk("7.0.15"), Reply::Bulk("proto"), Reply::Integer(proto),
                          Reply::Bulk("id"), Reply::Integer(static_cast<int64_t>(id_)),
                          Reply::Bulk("mode"), Reply::Bulk("standalone"), Reply::Bulk("role"),
                          Reply::Bulk("master"), Reply::Bulk("modules"), Reply::Array({})});
  if (resp3_) return WriteReply3(r, Resp3Shape::kMap, &out_);
  WriteReply(r, &out_);
}

void Connection::Client(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return WriteError(ArityError("client"), &out_);
  const std::string& sub = argv[1];
  // Redis 7.0's subcommand and arity check; one aasim does not provide (KILL, PAUSE,
  // TRACKING, ...) gets the same reply as a subcommand Redis does not know (below).
  if (auto error = cluster_sim::CheckSubcommand("client", argv)) return WriteReply(*error, &out_);
  if (IEquals(sub, "HELP")) {
    WriteReply(cluster_sim::SubcommandHelp(
                   "client",
                   {"GETNAME", "    Return the name of the current connection.", "ID",
                    "    Return the ID of the current connection.", "INFO",
                    "    Return information about the current client connection.",
                    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)|ID <id> [<id> ...]]",
                    "    Return information about client connections of this region.",
                    "NO-EVICT (ON|OFF)", "    Accepted; a region evicts nothing.", "SETNAME <name>",
                    "    Assign the name <name> to the current "
                    "connection."}),
               &out_);
  } else if (IEquals(sub, "SETNAME")) {
    for (char c : argv[2]) {
      if (c <= ' ' || c > '~') {
        return WriteError(
            "ERR Client names cannot contain spaces, newlines or special "
            "characters.",
            &out_);
      }
    }
    name_ = argv[2];
    WriteStatus("OK", &out_);
  } else if (IEquals(sub, "GETNAME")) {
    if (name_.empty()) return WriteNil(&out_);
    WriteBulk(name_, &out_);
  } else if (IEquals(sub, "ID")) {
    WriteInteger(static_cast<int64_t>(id_), &out_);
  } else if (IEquals(sub, "INFO")) {
    WriteBulk(Describe() + "\n", &out_);
  } else if (IEquals(sub, "LIST")) {
    // CLIENT LIST, CLIENT LIST TYPE normal|master|replica|pubsub, or CLIENT LIST ID id ...
    // (one or the other, as Redis 7.0's clientCommand): every client of an endpoint is a
    // normal one, or a pubsub one while subscribed. The ids are listed in argument order,
    // a repeated one again; an integer that is no client's id lists nothing.
    std::string all;
    if (argv.size() == 4 && IEquals(argv[2], "TYPE")) {
      const std::string type = AsciiLower(argv[3]);
      if (type != "normal" && type != "master" && type != "replica" && type != "slave" &&
          type != "pubsub") {
        // WriteError writes CR and LF as spaces (Redis's addReplyErrorFormat).
        return WriteError("ERR Unknown client type '" +
                              std::string(cluster_sim::ErrorArg(argv[3], argv[3].size())) + "'",
                          &out_);
      }
      for (const auto& [id, weak] : server_->connections) {
        auto c = weak.lock();
        if (c && type == (c->subscriptions() > 0 ? "pubsub" : "normal")) {
          all += c->Describe() + "\n";
        }
      }
    } else if (argv.size() > 3 && IEquals(argv[2], "ID")) {
      for (size_t i = 3; i < argv.size(); ++i) {
        int64_t id = 0;
        if (!crdt::ParseRedisInteger(argv[i], &id)) {  // Redis's string2ll: no "007", "-0"
          return WriteError("ERR Invalid client ID", &out_);
        }
        auto it = id > 0 ? server_->connections.find(static_cast<uint64_t>(id))
                         : server_->connections.end();
        if (it == server_->connections.end()) continue;
        if (auto c = it->second.lock()) all += c->Describe() + "\n";
      }
    } else if (argv.size() != 2) {
      return WriteError("ERR syntax error", &out_);
    } else {
      for (const auto& [id, weak] : server_->connections) {
        if (auto c = weak.lock()) all += c->Describe() + "\n";
      }
    }
    WriteBulk(all, &out_);
  } else if (IEquals(sub, "NO-EVICT")) {
    if (!IEquals(argv[2], "on") && !IEquals(argv[2], "off")) {
      return WriteError("ERR syntax error", &out_);
    }
    no_evict_ = IEquals(argv[2], "on");
    WriteStatus("OK", &out_);
  } else {
    WriteReply(cluster_sim::UnknownSubcommand(sub, "CLIENT"), &out_);
  }
}

void Connection::Command(const std::vector<std::string>& argv) {
  const auto& table = CommandTable();
  if (argv.size() == 1) {
    std::vector<Reply> all;
    for (const auto& c : table) all.push_back(CommandInfoReply(c));
    return WriteReply(Reply::Array(std::move(all)), &out_);
  }
  if (auto error = cluster_sim::CheckSubcommand("command", argv)) return WriteReply(*error, &out_);
  std::string_view sub = argv[1];
  if (IEquals(sub, "COUNT") && argv.size() == 2) {
    WriteInteger(static_cast<int64_t>(table.size()), &out_);
  } else if (IEquals(sub, "LIST") && argv.size() == 2) {
    std::vector<std::string> names;
    for (const auto& c : table) names.emplace_back(c.name);
    WriteReply(Reply::BulkArray(names), &out_);
  } else if (IEquals(sub, "INFO")) {
    std::vector<Reply> out;
    if (argv.size() == 2) {
      for (const auto& c : table) out.push_back(CommandInfoReply(c));
    }
    for (size_t i = 2; i < argv.size(); ++i) {
      const CommandInfo* c = FindCommand(argv[i]);
      out.push_back(c ? CommandInfoReply(*c) : Reply::Nil());
    }
    WriteReply(Reply::Array(std::move(out)), &out_);
  } else if (IEquals(sub, "DOCS")) {
    // name -> map of docs; redis-cli reads "summary", "since", "group" (and "arguments",
    // optional) for its hints. We give the summary and group.
    std::vector<Reply> out;
    auto add = [&](const CommandInfo& c) {
      out.push_back(Reply::Bulk(std::string(c.name)));
      out.push_back(
          Reply::Array({Reply::Bulk("summary"),
                        Reply::Bulk("served by aasim region " + server_->backend->region()),
                        Reply::Bulk("since"), Reply::Bulk("1.0.0"), Reply::Bulk("group"),
                        Reply::Bulk("generic")}));
    };
    if (argv.size() == 2) {
      for (const auto& c : table) add(c);
    }
    for (size_t i = 2; i < argv.size(); ++i) {
      if (const CommandInfo* c = FindCommand(argv[i])) add(*c);
    }
    WriteReply(Reply::Array(std::move(out)), &out_);
  } else if (IEquals(sub, "GETKEYS")) {
    const CommandInfo* c = FindCommand(argv[2]);
    if (c == nullptr) return WriteError("ERR Invalid command specified", &out_);
    const std::vector<std::string> line(argv.begin() + 2, argv.end());  // the command's argv
    if (c->first_key > 0 && !c->AcceptsArgc(line.size())) {
      return WriteError("ERR Invalid number of arguments specified for command", &out_);
    }
    std::vector<std::string> keys;
    cluster_sim::ForEachRangeKey(*c, line, [&](const std::string& key) { keys.push_back(key); });
    if (keys.empty()) return WriteError("ERR The command has no key arguments", &out_);
    WriteReply(Reply::BulkArray(keys), &out_);
  } else if (IEquals(sub, "HELP") && argv.size() == 2) {
    WriteReply(
        cluster_sim::SubcommandHelp(
            "command",
            {"(no subcommand)", "    Return details about all commands.", "COUNT",
             "    Return the total number of commands.", "DOCS [<command-name> ...]",
             "    Return a summary of the given commands, or of all.", "GETKEYS <full-command>",
             "    Return the keys from a full command.", "INFO [<command-name> ...]",
             "    Return details about the given commands, or about all.", "LIST",
             "    Return the names of all commands."}),
        &out_);
  } else {
    WriteReply(cluster_sim::UnknownSubcommand(sub, "COMMAND"), &out_);
  }
}

void Connection::Config(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return WriteError(ArityError("config"), &out_);
  if (auto error = cluster_sim::CheckSubcommand("config", argv)) return WriteReply(*error, &out_);
  std::string_view sub = argv[1];
  if (IEquals(sub, "GET")) {
    if (argv.size() < 3) return WriteError(ArityError("config|get"), &out_);
    // What clients ask for (redis-benchmark: save, appendonly), answered truthfully: the
    // in-memory store does not persist.
    const std::pair<std::string_view, std::string> params[] = {
        {"appendonly", "no"},
        {"cluster-enabled", "no"},
        {"databases", "1"},
        {"maxclients", "10000"},
        {"maxmemory", "0"},
        {"maxmemory-policy", "noeviction"},
        {"notify-keyspace-events", ""},
        {"port", std::to_string(0)},
        {"proto-max-bulk-len", std::to_string(server_->options.limits.max_bulk_bytes)},
        {"requirepass", server_->options.requirepass},
        {"save", ""},
        {"timeout", "0"},
    };
    std::vector<Reply> out;
    for (const auto& [name, value] : params) {
      bool match = false;
      for (size_t i = 2; i < argv.size() && !match; ++i) match = SimpleGlob(argv[i], name);
      if (!match) continue;
      out.push_back(Reply::Bulk(std::string(name)));
      std::string v = value;
      if (name == "port") v = std::to_string(LocalPort());
      out.push_back(Reply::Bulk(v));
    }
    Write(Reply::Array(std::move(out)), argv);
  } else if (IEquals(sub, "SET")) {
    WriteError("ERR CONFIG SET is not supported by aasim (use the scenario file or options)",
               &out_);
  } else if (IEquals(sub, "RESETSTAT")) {
    WriteStatus("OK", &out_);
  } else if (IEquals(sub, "HELP") && argv.size() == 2) {
    WriteReply(cluster_sim::SubcommandHelp(
                   "config", {"GET <pattern>",
                              "    Return parameters matching the glob-like "
                              "<pattern> and their values.",
                              "RESETSTAT", "    Accepted; a region keeps no statistics to reset.",
                              "SET <directive> <value>",
                              "    Refused: a region's settings come from the scenario file."}),
               &out_);
  } else {
    WriteReply(cluster_sim::UnknownSubcommand(sub, "CONFIG"), &out_);
  }
}

void Connection::Info(const std::vector<std::string>& argv) {
  auto wanted = [&](std::string_view section) {
    if (argv.size() == 1) return true;
    for (size_t i = 1; i < argv.size(); ++i) {
      if (IEquals(argv[i], section) || IEquals(argv[i], "all") || IEquals(argv[i], "everything") ||
          IEquals(argv[i], "default")) {
        return true;
      }
    }
    return false;
  };
  auto& s = *server_;
  std::string out;
  if (wanted("server")) {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - s.started)
                      .count();
    out += "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\naasim_version:" +
           s.options.version + "\r\naasim_region:" + s.backend->region() +
           "\r\nprocess_id:" + std::to_string(::getpid()) +
           "\r\ntcp_port:" + std::to_string(LocalPort()) +
           "\r\nuptime_in_seconds:" + std::to_string(uptime) + "\r\n\r\n";
  }
  if (wanted("clients")) {
    std::set<uint64_t> blocked;  // a client blocked on several streams counts once
    for (const auto& [key, waiting] : s.blocked) {
      for (const auto& w : waiting) blocked.insert(w.first);
    }
    out += "# Clients\r\nconnected_clients:" + std::to_string(s.connections.size()) +
           "\r\nblocked_clients:" + std::to_string(blocked.size()) + "\r\n\r\n";
  }
  // What clients and monitoring read of these sections, as a region is: memory is not
  // measured (0), nothing persists, no eviction, a primary without replicas of its own
  // (its peers are regions, shown under activeactive), no cluster.
  if (wanted("memory")) {
    out +=
        "# Memory\r\nused_memory:0\r\nused_memory_human:0B\r\nmaxmemory:0\r\n"
        "maxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n\r\n";
  }
  if (wanted("persistence")) {
    out += "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:0\r\naof_enabled:0\r\n\r\n";
  }
  if (wanted("stats")) {
    out += "# Stats\r\ntotal_connections_received:" + std::to_string(s.total_connections) +
           "\r\ntotal_commands_processed:" + std::to_string(s.total_commands) + "\r\n\r\n";
  }
  if (wanted("replication")) out += "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n";
  if (wanted("cluster")) out += "# Cluster\r\ncluster_enabled:0\r\n\r\n";
  if (wanted("activeactive")) out += s.backend->InfoActiveActive() + "\r\n";
  if (wanted("keyspace")) {
    Reply n = s.backend->Execute({"DBSIZE"});
    out += "# Keyspace\r\n";
    if (n.type == Reply::Type::kInteger && n.integer > 0) {
      out += "db0:keys=" + std::to_string(n.integer) + ",expires=0,avg_ttl=0\r\n";
    }
  }
  while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0) {
    out.resize(out.size() - 2);
  }
  WriteBulk(out, &out_);
}

// ---- blocking reads ----

Reply SessionBackend::Execute(const std::vector<std::string>& argv) {
  int64_t ms = 0;  // a copy without BLOCK only for an XREADGROUP that has one
  Reply r =
      FindBlock(argv, &ms) == 0 ? backend_.Execute(argv) : backend_.Execute(WithoutBlock(argv));
  NoteWrite(argv, r);
  return r;
}

void SessionBackend::NoteWrite(const std::vector<std::string>& argv, const Reply& reply) {
  if (argv.size() < 2 || reply.type == Reply::Type::kError || state_.blocked.empty()) return;
  auto note = [&](const std::string& key) {
    if (state_.blocked.count(key) != 0) state_.ready_keys.push_back(key);
  };
  for (const char* push :
       {"XADD", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LINSERT", "ZADD", "ZINCRBY", "ZUNIONSTORE",
        "ZINTERSTORE", "ZDIFFSTORE", "ZRANGESTORE", "GEOADD"}) {
    if (IEquals(argv[0], push)) note(argv[1]);
  }
  for (const char* move : {"LMOVE", "RPOPLPUSH", "BLMOVE", "BRPOPLPUSH"}) {
    if (IEquals(argv[0], move) && argv.size() > 2 && !reply.is_nil()) {
      note(argv[2]);
    }
  }
}

void ServerState::ServeReadyKeys() {
  if (serving_ready) return;  // a served client's pipelined XADD: the loop below sees it
  serving_ready = true;
  while (!ready_keys.empty()) {
    std::vector<std::string> keys = std::move(ready_keys);
    ready_keys.clear();
    for (const auto& key : keys) {
      auto it = blocked.find(key);
      if (it == blocked.end()) continue;
      auto waiting = it->second;  // serving one unblocks it (erases it from the map)
      for (auto& [id, weak] : waiting) {
        if (auto c = weak.lock()) c->KeyReady();
      }
    }
  }
  serving_ready = false;
}

bool Connection::MaybeBlock(const std::vector<std::string>& argv) {
  // The blocking commands: ListBlock's, whose names start with 'b', XREAD and XREADGROUP.
  const char first = AsciiLower(argv[0].empty() ? '\0' : argv[0][0]);
  if (first != 'b' && first != 'x') return false;
  int64_t ms = 0;
  std::vector<std::string> keys;
  size_t streams_at = 0;
  if (!ListBlock(argv, &keys, &ms)) {
    if (!IEquals(argv[0], "XREADGROUP") && !IEquals(argv[0], "XREAD")) return false;
    // XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id... (XREAD: [COUNT
    // n] [BLOCK ms] STREAMS key... id...): find BLOCK and the keys; anything malformed runs
    // normally (the store replies the error).
    if (FindBlock(argv, &ms) == 0) return false;
    for (size_t i = 1; i < argv.size(); ++i) {
      if (IEquals(argv[i], "STREAMS")) {
        streams_at = i + 1;
        break;
      }
    }
    if (streams_at == 0 || (argv.size() - streams_at) % 2 != 0) return false;
    keys.assign(
        argv.begin() + static_cast<std::ptrdiff_t>(streams_at),
        argv.begin() + static_cast<std::ptrdiff_t>(streams_at + (argv.size() - streams_at) / 2));
  }
  Block b{argv, {}};
  if (IEquals(argv[0], "XREAD")) {
    // As Redis: '$' is the stream's last id (Backend::StreamLastId, the store's XREAD's own
    // '$') when the read begins, fixed before the first read (else, read again when an
    // entry arrives, it would again mean "after the newest" and never serve it, nor one
    // merged from a peer between the first read and the fixing).
    const size_t n = (argv.size() - streams_at) / 2;
    for (size_t k = 0; k < n; ++k) {
      std::string& id = b.argv[streams_at + n + k];
      if (id == "$") id = server_->backend->StreamLastId(keys[k]);
    }
  }
  Reply r = session_->Execute(b.argv);
  server_->ServeReadyKeys();
  if (!r.is_nil()) {
    Write(r, argv);
    return true;
  }
  for (const std::string& key : keys) {
    if (std::find(b.keys.begin(), b.keys.end(), key) == b.keys.end()) b.keys.push_back(key);
  }
  std::vector<uint64_t> versions;
  for (const std::string& key : b.keys) versions.push_back(server_->backend->KeyVersion(key));
  for (const auto& key : b.keys) server_->blocked[key].emplace_back(id_, weak_from_this());
  block_ = std::move(b);
  parked_ = true;
  if (ms > 0 && ms <= kLongestBlockMs) {
    block_timer_ = std::make_unique<asio::steady_timer>(server_->io);
    block_timer_->expires_after(std::chrono::milliseconds(ms));
    // The generation: a timeout already queued when an XADD served this block must not
    // end a later block of the same connection.
    uint64_t gen = ++block_gen_;
    block_timer_->async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (ec || gen != self->block_gen_ || !self->block_ || self->closed_) return;
      self->FinishBlock(Reply::NilArray());  // timed out
    });
  }
  PollBlockedKeys(block_gen_, std::move(versions));
  return true;
}

void Connection::PollBlockedKeys(uint64_t gen, std::vector<uint64_t> versions) {
  if (!poll_timer_) poll_timer_ = std::make_unique<asio::steady_timer>(server_->io);
  poll_timer_->expires_after(std::chrono::milliseconds(5));
  poll_timer_->async_wait([self = shared_from_this(), gen,
                           versions = std::move(versions)](boost::system::error_code ec) mutable {
    if (ec || gen != self->block_gen_ || !self->block_ || self->closed_ ||
        self->server_->backend == nullptr) {
      return;
    }
    bool changed = false;
    for (size_t i = 0; i < self->block_->keys.size(); ++i) {
      uint64_t v = self->server_->backend->KeyVersion(self->block_->keys[i]);
      changed |= v != versions[i];
      versions[i] = v;
    }
    if (changed) self->KeyReady();
    if (gen == self->block_gen_ && self->block_) self->PollBlockedKeys(gen, std::move(versions));
  });
}

void Connection::KeyReady() {
  if (!block_ || closed_ || server_->backend == nullptr) return;
  Reply r = session_->Execute(block_->argv);
  if (r.is_nil()) return;  // another reader of the group took it: wait on
  FinishBlock(r);
}

void Connection::Unblock() {
  if (!block_) return;
  for (const auto& key : block_->keys) {
    auto it = server_->blocked.find(key);
    if (it == server_->blocked.end()) continue;
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& e) { return e.first == id_; }),
            v.end());
    if (v.empty()) server_->blocked.erase(it);
  }
  block_.reset();
  ++block_gen_;
  if (block_timer_) block_timer_->cancel();
}

void Connection::FinishBlock(const Reply& reply) {
  // The blocked command, whose RESP3 shape the reply takes (BZPOPMIN's is not XREAD's).
  std::vector<std::string> argv = block_ ? std::move(block_->argv) : std::vector<std::string>{};
  Unblock();
  parked_ = false;
  if (reply.is_nil()) {
    WriteNullArray();
  } else {
    Write(reply, argv);
  }
  Process();  // runs what was pipelined behind the blocked command
}

// ---- pub/sub ----

void Connection::Push(std::vector<Reply> items) {
  if (closed_) return;
  if (resp3_) {
    WritePush(items, &out_);
  } else {
    WriteReply(Reply::Array(std::move(items)), &out_);
  }
  Flush();
}

void Connection::Subscribe(bool pattern, const std::vector<std::string>& argv) {
  auto& mine = pattern ? patterns_ : channels_;
  auto& all = pattern ? server_->pattern_subs : server_->channel_subs;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (mine.insert(argv[i]).second) all[argv[i]].push_back(id_);
    Push({Reply::Bulk(pattern ? "psubscribe" : "subscribe"), Reply::Bulk(argv[i]),
          Reply::Integer(static_cast<int64_t>(subscriptions()))});
  }
}

void Connection::Unsubscribe(bool pattern, const std::vector<std::string>& argv) {
  auto& mine = pattern ? patterns_ : channels_;
  auto& all = pattern ? server_->pattern_subs : server_->channel_subs;
  const char* kind = pattern ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names(argv.begin() + 1, argv.end());
  if (names.empty()) names.assign(mine.begin(), mine.end());
  if (names.empty()) {
    Push({Reply::Bulk(kind), Reply::Nil(), Reply::Integer(static_cast<int64_t>(subscriptions()))});
    return;
  }
  for (const std::string& name : names) {
    if (mine.erase(name) != 0) {
      auto it = all.find(name);
      if (it != all.end()) {
        auto& ids = it->second;
        ids.erase(std::remove(ids.begin(), ids.end(), id_), ids.end());
        if (ids.empty()) all.erase(it);
      }
    }
    Push({Reply::Bulk(kind), Reply::Bulk(name),
          Reply::Integer(static_cast<int64_t>(subscriptions()))});
  }
}

void Connection::DropSubscriptions() {
  auto drop = [this](std::set<std::string>* mine,
                     std::map<std::string, std::vector<uint64_t>>* all) {
    for (const std::string& name : *mine) {
      auto it = all->find(name);
      if (it == all->end()) continue;
      auto& ids = it->second;
      ids.erase(std::remove(ids.begin(), ids.end(), id_), ids.end());
      if (ids.empty()) all->erase(it);
    }
    mine->clear();
  };
  drop(&channels_, &server_->channel_subs);
  drop(&patterns_, &server_->pattern_subs);
}

void Connection::Pubsub(const std::vector<std::string>& argv) {
  if (auto error = cluster_sim::CheckSubcommand("pubsub", argv)) return WriteReply(*error, &out_);
  std::string_view sub = argv[1];
  const auto& channels = server_->channel_subs;
  if (IEquals(sub, "CHANNELS") && argv.size() <= 3) {
    std::vector<std::string> names;
    for (const auto& [name, ids] : channels) {
      if (argv.size() == 2 || cluster_sim::GlobMatch(argv[2], name)) names.push_back(name);
    }
    return Write(Reply::BulkArray(names), argv);
  }
  if (IEquals(sub, "NUMSUB")) {
    std::vector<Reply> out;
    for (size_t i = 2; i < argv.size(); ++i) {
      auto it = channels.find(argv[i]);
      out.push_back(Reply::Bulk(argv[i]));
      out.push_back(
          Reply::Integer(it == channels.end() ? 0 : static_cast<int64_t>(it->second.size())));
    }
    return Write(Reply::Array(std::move(out)), argv);
  }
  if (IEquals(sub, "NUMPAT") && argv.size() == 2) {
    return WriteInteger(static_cast<int64_t>(server_->pattern_subs.size()), &out_);
  }
  if (IEquals(sub, "HELP") && argv.size() == 2) {
    return WriteReply(
        cluster_sim::SubcommandHelp(
            "pubsub",
            {"CHANNELS [<pattern>]",
             "    Return the currently active channels matching a <pattern> (default: '*').",
             "NUMPAT", "    Return number of subscriptions to patterns.", "NUMSUB [<channel> ...]",
             "    Return the number of subscribers for the specified channels, excluding",
             "    pattern subscriptions(default: no channels).", "SHARDCHANNELS [<pattern>]",
             "    None: a region has no shard channels.", "SHARDNUMSUB [<shardchannel> ...]",
             "    0 for each: no shard channels."}),
        &out_);
  }
  if (IEquals(sub, "SHARDCHANNELS") && argv.size() <= 3) return Write(Reply::Array({}), argv);
  if (IEquals(sub, "SHARDNUMSUB")) {
    std::vector<Reply> out;
    for (size_t i = 2; i < argv.size(); ++i) {
      out.push_back(Reply::Bulk(argv[i]));
      out.push_back(Reply::Integer(0));
    }
    return Write(Reply::Array(std::move(out)), argv);
  }
  // Redis 7.0: a known subcommand (CheckSubcommand passed) whose arguments do not fit.
  WriteReply(cluster_sim::SubcommandSyntaxError(sub, "PUBSUB"), &out_);
}

int64_t ServerState::Deliver(const std::string& channel, const std::string& message) {
  int64_t n = 0;
  auto send = [&](uint64_t id, std::vector<Reply> items) {
    auto it = connections.find(id);
    if (it == connections.end()) return;
    if (auto c = it->second.lock()) {
      c->Push(std::move(items));
      ++n;
    }
  };
  if (auto it = channel_subs.find(channel); it != channel_subs.end()) {
    const std::vector<uint64_t> ids = it->second;  // a push may close a connection
    for (uint64_t id : ids) {
      send(id, {Reply::Bulk("message"), Reply::Bulk(channel), Reply::Bulk(message)});
    }
  }
  const auto patterns = pattern_subs;
  for (const auto& [pattern, ids] : patterns) {
    if (!cluster_sim::GlobMatch(pattern, channel)) continue;
    for (uint64_t id : ids) {
      send(id, {Reply::Bulk("pmessage"), Reply::Bulk(pattern), Reply::Bulk(channel),
                Reply::Bulk(message)});
    }
  }
  return n;
}

// ---- the server ----

void ServerState::Accept() {
  // The handler keeps the Impl alive (connections hold it too).
  acceptor.async_accept([impl = self.lock()](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !impl->acceptor.is_open()) return;
    if (!ec && impl->backend != nullptr) {
      uint64_t id = impl->next_id++;
      ++impl->total_connections;
      auto conn = std::make_shared<Connection>(impl, std::move(socket), id);
      impl->connections[id] = conn;
      conn->Start();
    }
    if (ec) {
      // Out of file descriptors or the like: try again shortly instead of spinning; the
      // connected clients keep being served meanwhile.
      impl->accept_retry.expires_after(std::chrono::milliseconds(100));
      impl->accept_retry.async_wait([impl](boost::system::error_code tec) {
        if (!tec && impl->acceptor.is_open()) impl->Accept();
      });
      return;
    }
    impl->Accept();
  });
}

RespServer::RespServer(asio::io_context& io, Backend& backend, ServerOptions options)
    : impl_(std::make_shared<ServerState>(io, backend, std::move(options))) {
  impl_->self = impl_;
  backend.SetDeliver([weak = std::weak_ptr<ServerState>(impl_)](const std::string& channel,
                                                                const std::string& message) {
    if (auto state = weak.lock()) state->Deliver(channel, message);
  });
}

RespServer::~RespServer() {
  Close();
  if (impl_->backend != nullptr) impl_->backend->SetDeliver(nullptr);
  impl_->backend = nullptr;
}

Status RespServer::Listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("'" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    a.close();
    return Status::Unavailable("cannot listen on " + cluster_sim::JoinHostPort(host, port) + ": " +
                               ec.message());
  }
  impl_->Accept();
  return Status::Ok();
}

uint16_t RespServer::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void RespServer::Close() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_retry.cancel();
  for (auto& [id, weak] : impl_->connections) {
    if (auto c = weak.lock()) c->Close();
  }
}

size_t RespServer::connection_count() const { return impl_->connections.size(); }

Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  std::string h, digits;
  Status split = cluster_sim::SplitHostPort(text, &h, &digits);
  if (!split.ok()) return split;
  if (digits.empty() || h.empty()) {
    return Status::InvalidArgument(
        "expected HOST:PORT (an IPv6 host in brackets, [::1]:PORT), "
        "got '" +
        text + "'");
  }
  if (h == "localhost") h = "127.0.0.1";
  int64_t p = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
  if (ec != std::errc() || end != digits.data() + digits.size() || p < 0 || p > 65535) {
    return Status::InvalidArgument("expected a port 0..65535 in '" + text + "'");
  }
  boost::system::error_code aec;
  asio::ip::make_address(h, aec);
  if (aec) return Status::InvalidArgument("'" + h + "' is not an IP address (in '" + text + "')");
  *host = h;
  *port = static_cast<uint16_t>(p);
  return Status::Ok();
}

}  // namespace server
