// RespServer: a RESP2 endpoint (what redis-cli, redis-benchmark and Redis libraries talk to)
// in front of one Backend (backend.h), on a Boost.Asio io_context.
//
// Protocol: RESP2 multibulk and inline requests (resp.h), pipelined: every complete command
// in what a read brought is run in order and the replies leave in one write. A protocol
// error is answered `-ERR Protocol error: ...` and the connection is closed after the
// reply, as Redis does; other clients never notice. A client that does not read its replies
// stops being read once `max_output_bytes` are pending (flow control instead of unbounded
// memory).
//
// Protocol versions: RESP2, and RESP3 after HELLO 3 (replies reshaped as Redis 7 types
// them: resp.h Resp3ShapeOf).
//
// Commands handled here: PING, ECHO, SELECT 0, AUTH (with `requirepass`), QUIT, HELLO 2|3,
// CLIENT ID/SETNAME/GETNAME/INFO/LIST, COMMAND (COUNT/INFO/DOCS/LIST), CONFIG GET,
// INFO, RESET, and pub/sub (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
// PUBSUB): the endpoint keeps the subscribers; a PUBLISH reaches them at once and goes to
// Backend::Publish for the other regions, whose messages come back through the `deliver`
// function the server gives its backend (Backend::SetDeliver); MULTI/EXEC/DISCARD/WATCH/UNWATCH and
// the store commands go through one cluster_sim::Session per connection (WATCH compares
// Store::KeyVersion, as Redis does). `AASIM
// ...` goes to Backend::Admin; everything else to Backend::Execute.
//
// Blocking commands: a command may *park* its connection (Backend::MaybePark): no further
// command of that connection runs, and nothing more is read, until the backend resumes it
// with the reply. Other connections are unaffected. `XREADGROUP ... BLOCK ms` (outside
// MULTI) parks here when the group has nothing new, as Redis 7: an XADD to one of its
// streams through this endpoint re-runs it (blocked clients served first come, first
// served, right after the XADD's command), the timeout replies a null array, BLOCK 0 (or a
// timeout beyond about 31 years) waits forever; the blocked client is still read, so a
// disconnection frees it.
//
// Threading: everything runs on the io_context's thread; run that io_context from one
// thread. Lifetime: the server may be destroyed before the io_context; connections still
// pending then are closed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cluster_sim/client.h"
#include "cluster_sim/status.h"
#include "server/backend.h"
#include "server/resp.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace server {

struct ServerOptions {
  std::string requirepass;                     // empty: no AUTH needed
  RespLimits limits;                           // request size limits
  size_t max_output_bytes = size_t{64} << 20;  // pending replies before reading pauses
  std::string version = "0.1.0";               // aasim_version in INFO
};

struct ServerState;  // shared by the server and its connections (server.cc)

class RespServer {
 public:
  // REQUIRES: `io` and `backend` outlive the server.
  RespServer(boost::asio::io_context& io, Backend& backend, ServerOptions options);
  ~RespServer();
  RespServer(const RespServer&) = delete;
  RespServer& operator=(const RespServer&) = delete;

  // Binds and listens on host:port (port 0: a free port), and starts accepting.
  cluster_sim::Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  // Stops accepting and closes every connection.
  void Close();
  size_t connection_count() const;

 private:
  std::shared_ptr<ServerState> impl_;
};

// Splits "HOST:PORT" (also "[v6]:PORT"). Error message names the text.
cluster_sim::Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

}  // namespace server
