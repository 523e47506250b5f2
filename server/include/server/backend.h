// Backend: what a RESP endpoint serves: one region, of a real-time simulation (SimHost)
// or of a node process (Node). The endpoint (server.h) owns the protocol, connections,
// AUTH, CLIENT, COMMAND and INFO's generic sections, and gives each connection a
// cluster_sim::Session (MULTI/EXEC/WATCH) running on this backend; everything about
// the data and the replication goes through this interface.
//
// Contract: called from the io_context's thread only (single-threaded, like Redis).
// Execute/ExecuteBatch run the store's commands with their Active/Active meaning
// (docs/active-active.md) and replicate their effects.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"

namespace server {

// A parked command's continuation: call it once with the reply (it keeps the connection
// alive until then; the reply is dropped if the client has gone meanwhile).
using Resume = std::function<void(cluster_sim::Reply)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // The region served ("A").
  virtual const std::string& region() const = 0;
  // One command of the store (GET, INCR, SADD, ...).
  virtual cluster_sim::Reply Execute(const std::vector<std::string>& argv) = 0;
  // Commands run as one atomic unit (EXEC): one replicated effect.
  virtual std::vector<cluster_sim::Reply> ExecuteBatch(
      const std::vector<std::vector<std::string>>& commands) = 0;
  // The key's version (Store::KeyVersion): moves on every change of the key, local or
  // merged from a peer, even one that restores the same value. WATCH compares it.
  virtual uint64_t KeyVersion(std::string_view key) = 0;
  // What XREAD's `$` stands for in `key` now (Store::StreamLastId, "5-1"): not a command,
  // so neither run through Execute nor recorded.
  virtual std::string StreamLastId(std::string_view key) = 0;
  // `AASIM ...` admin commands (argv[0] is "AASIM").
  virtual cluster_sim::Reply Admin(const std::vector<std::string>& argv) = 0;
  // INFO's "# ActiveActive" section, lines ending in "\r\n", header included.
  virtual std::string InfoActiveActive() = 0;
  // Called once after the commands of one read from a client have run (pipelining): the
  // place to schedule work the commands caused (timers, sends), batched.
  virtual void AfterCommands() {}
  // Blocking admin commands (AASIM WAITSYNC; XREADGROUP ... BLOCK is the endpoint's own,
  // woken by XADDs through this backend's endpoint): returns true if the backend
  // took the command and will call `resume` later (its connection waits meanwhile), false
  // to run it normally. Not called inside MULTI.
  virtual bool MaybePark(const std::vector<std::string>& argv, Resume resume) {
    (void)argv;
    (void)resume;
    return false;
  }

  // Pub/sub across regions, as Redis Enterprise carries it: PUBLISH reaches the publishing
  // region's subscribers at once (the endpoint does that), and every other region's after
  // the link's latency; a message is never stored, so one published while a link is cut or
  // a region is down is lost for that region. The endpoint hands the backend `deliver`
  // (how to give a message to this region's subscribers; null when the endpoint goes
  // away), and calls Publish after each PUBLISH.
  using Deliver = std::function<void(const std::string& channel, const std::string& message)>;
  virtual void SetDeliver(Deliver deliver) { (void)deliver; }
  virtual void Publish(const std::string& channel, const std::string& message) {
    (void)channel;
    (void)message;
  }
};

}  // namespace server
