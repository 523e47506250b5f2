// Transaction: the MULTI/EXEC/DISCARD/WATCH/UNWATCH state of one client connection.
//
// MULTI starts queueing; commands are checked when queued (unknown command, wrong number
// of arguments: an error reply, and EXEC then fails with EXECABORT, as Redis 7 does);
// EXEC runs the queue through Backend::ExecuteBatch as one atomic unit whose effects
// replicate together. WATCH records the keys' canonical values (Backend::Dump); EXEC
// returns a nil array, running nothing, if any of them changed since, whether by a local
// client or by an effect from a peer. Limitation: a value changed and changed back between
// WATCH and EXEC is not noticed (Redis would abort).
//
// This is the one place the connection keeps transaction state, so that the
// cluster_sim::Session of issue 5 can replace it: swap this class's body for a Session
// and keep the five entry points.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "server/backend.h"

namespace server {

class Transaction {
 public:
  bool active() const { return active_; }

  // MULTI. REQUIRES: !active() (the caller replies "ERR MULTI calls can not be nested").
  void Begin() {
    active_ = true;
    aborted_ = false;
    queue_.clear();
  }
  // Queues a command (REQUIRES: active()); `error` non-empty marks the transaction aborted
  // and is the reply the caller sends instead of QUEUED.
  void Queue(std::vector<std::string> argv, const std::string& error) {
    if (!error.empty()) {
      aborted_ = true;
      return;
    }
    queue_.push_back(std::move(argv));
  }
  // WATCH key... (REQUIRES: !active()).
  void Watch(Backend& backend, const std::vector<std::string>& keys) {
    for (const auto& k : keys) watched_.emplace_back(k, backend.Dump(k));
  }
  void Unwatch() { watched_.clear(); }
  // EXEC (REQUIRES: active()): the reply to send. Ends the transaction and unwatches.
  cluster_sim::Reply Exec(Backend& backend);
  // DISCARD (REQUIRES: active()).
  void Discard() {
    active_ = false;
    queue_.clear();
    watched_.clear();
  }

 private:
  bool active_ = false;
  bool aborted_ = false;
  std::vector<std::vector<std::string>> queue_;
  std::vector<std::pair<std::string, std::string>> watched_;  // key, value when watched
};

}  // namespace server
