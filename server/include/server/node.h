// Node: one Active/Active region per OS process. It serves RESP clients (server.h) on its
// listen address and exchanges the effects of its writes with its peers over TCP.
//
// Replication: the simulator's protocol itself (cluster_sim::Replicator, replicator.h: log
// per incarnation, acks, retransmission with backoff and probes, partial and full sync,
// restart push, durable trim), over a transport of TCP links to the peers and timers on the
// steady clock. This file holds only that wiring, and the handshake:
//   - Incarnations. A node resuming a durable store (`--redis`) keeps the incarnation the
//     store recorded (its data, log and progress survived). A node without one (in memory,
//     or on a new or wiped Redis) joins: it asks every peer which incarnation of its region
//     it has seen (waiting up to --join-timeout for those that do not answer) and becomes
//     the next one, so no event id is ever reused. If a peer had seen it, it lost a previous
//     life: it rebuilds from every peer's full state and pushes its merged state once.
//   - Every connection starts with a HELLO naming the sender's incarnation and log head. A
//     peer refuses (and reports, in AASIM STATUS, INFO and on stderr) an incarnation older
//     than one it has seen, or the same one with a shorter log than it holds of it: a
//     region that came back with a used incarnation, whose writes would otherwise be
//     dropped as duplicates.
// A message sent while a link is down is lost, as on a cut simulated link; the protocol's
// retransmission recovers it, at once when the link comes back.
//
// Wire format: RESP commands on the peer's ordinary listen port, on one connection per
// direction (this node's link to each peer):
//   AASIM.REPL HELLO <from> <incarnation|0 while joining> <log head>
//                                     -> :<highest incarnation of <from> seen>, or -ERR why
//   AASIM.REPL MSG <from> <kind> <sender epoch> <epoch> <seq> <flags> <count> <payload>...
//                                     -> +OK (the answer to a message is another message)
//     flags: 1 the ack is for a full state, 2 the payloads start with the writer's
//     applied vector (causal delivery)
//
// Admin: `AASIM STATUS` (text), `AASIM DUMP` (the store's DumpAll text, as `aasim run`'s
// final_state: compares a node's data with the simulator's), `AASIM DISCONNECT [PEER|ALL
// [MS]]` (drop the links to the peers; they reconnect after MS, default 500ms, and resume:
// a way to see a partial or a full sync, or to keep a pair cut).
//
// Sites: every node must be given the same set of regions (itself and its peers); sites are
// numbered in name order, as in the simulator (last-write-wins ties). Timestamps for
// last-write-wins come from the system clock.
//
// Threading: the io_context's thread only.
#pragma once

#include <chrono>
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
  size_t backlog_bytes = 0;  // cluster_sim::ReplicationConfig::backlog_bytes (0: auto)
  bool causal = false;       // causal delivery (cluster_sim::ReplicationConfig::causal)
  // 0: the store's recorded one, else the next after every peer's knowledge. Given, it must
  // be above what every peer has seen of this region (else Start fails).
  uint16_t incarnation = 0;
  // How long a node without an incarnation waits for silent peers before choosing one.
  std::chrono::milliseconds join_timeout{1000};
  // The first retransmission timeout (the protocol's round-trip estimate for a TCP link).
  std::chrono::milliseconds rto{200};
  ServerOptions server;
};

class Node {
 public:
  Node(boost::asio::io_context& io, NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Validates the configuration, listens, connects to the peers and settles this node's
  // incarnation (running `io` meanwhile, up to the join timeout).
  cluster_sim::Status Start();
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace server
