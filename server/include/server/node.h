// Node: one Active/Active region per OS process. It serves RESP clients (server.h) on its
// listen address and exchanges the effects of its writes with its peers over TCP.
//
// Replication protocol: the simulator's (cluster_sim/src/simulation.cc) message semantics,
// re-implemented here over TCP rather than shared, since simulation.cc is a simulated
// network's state machine:
//   - every local write appends (seq, effect) to this node's log (seq from 1 per
//     incarnation, the *epoch*) and is sent at once to every connected peer; the log is a
//     bounded backlog (bytes), oldest entries dropped first;
//   - a receiver applies each effect once (a duplicate is counted as filtered) and
//     acknowledges the contiguous prefix of the sender's epoch it holds;
//   - on (re)connection the sender asks the receiver what it holds (HELLO) and resumes from
//     there: replaying its backlog is a *partial sync*; when the backlog no longer holds
//     what the receiver needs, or the receiver is a new incarnation (it restarted and lost
//     its memory), the sender's full state is sent instead: a *full sync*;
//   - a node restarted with an in-memory store is a new incarnation (new replica id: no
//     dot reused); after merging a peer's full state it relays its merged state once to
//     every peer, so writes of its previous life that reached only some peers reach all;
//   - a node on a durable store (a Redis, `aasim node --redis`) keeps its incarnation: a
//     local write is acknowledged once the store committed it with its log entry, a
//     peer's effect once the store holds it with the progress of that peer's log; after a
//     kill -9 the node resumes from the store's log (LogHead, ReadLog: partial syncs of
//     what peers lack, even entries no peer had received) and progress (Progress: what
//     it tells each peer it holds), and trims the log of what every peer acknowledged.
// Lost connections are retried with exponential backoff (50ms .. 1s); TCP retransmits
// inside a connection, the HELLO resume replaces the simulator's retransmission timer.
//
// Wire format: RESP commands on the peer's ordinary listen port, answered by RESP replies:
//   AASIM.REPL HELLO <from> <epoch>              -> *2 :<held> :<receiver's epoch>
//   AASIM.REPL EFFECT <from> <epoch> <seq> <e>   -> :<held>
//   AASIM.REPL STATE <from> <epoch> <seq> <s>    -> :<held>   (a full state covering seq)
//
// Admin: `AASIM STATUS` (text), `AASIM DISCONNECT [PEER]` (drop the links to the peers;
// they reconnect after 500ms and resume: a way to see a partial or a full sync).
//
// Sites: every node must be given the same set of regions (itself and its peers); sites are
// numbered in name order, as in the simulator (last-write-wins ties). Timestamps for
// last-write-wins come from the system clock.
//
// Threading: the io_context's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster_sim/simulation.h"
#include "cluster_sim/status.h"
#include "server/server.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace server {

struct PeerAddress {
  std::string region;
  std::string host;
  uint16_t port = 0;
};

struct NodeConfig {
  std::string region;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  std::vector<PeerAddress> peers;
  // The store (default: the in-memory store). `region` is this node's site number.
  cluster_sim::StoreFactory store_factory;
  // The factory's store is durable (a Redis): the node keeps incarnation 1 (unless given)
  // across restarts and resumes from the store's log and progress.
  bool durable = false;
  size_t backlog_bytes = 1 << 20;
  // 0: pick one from the clock (a restart must not reuse the previous incarnation's dots).
  uint16_t incarnation = 0;
  ServerOptions server;
};

class Node {
 public:
  Node(boost::asio::io_context& io, NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Validates the configuration, listens, and starts connecting to peers.
  cluster_sim::Status Start();
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace server
