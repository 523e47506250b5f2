// Session: one client connection to a region (or to a bare Store), with Redis 7's
// transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Everything else is passed
// to the backend, or queued while a MULTI is open.
//
// Semantics (Redis 7, multi.c):
// - MULTI opens a transaction; commands then reply `QUEUED`. An unknown command or a wrong
//   number of arguments (both by the store's command table, command_table.h, and the
//   backend's ExtraArity) while queueing replies the error and marks the transaction, whose
//   EXEC then replies `EXECABORT Transaction discarded because of previous errors.`.
// - EXEC runs the queue as ONE atomic batch (Backend::ExecuteBatch): one replicated
//   effect, nothing of another client in between. If a WATCHed key changed (its
//   KeyVersion moved) since WATCH, EXEC runs nothing and replies nil. EXEC and DISCARD
//   always forget the watched keys.
// - Errors: "ERR MULTI calls can not be nested", "ERR EXEC without MULTI",
//   "ERR DISCARD without MULTI", "ERR WATCH inside MULTI is not allowed". UNWATCH inside
//   MULTI is queued (as Redis does).
// A Session is a Client, so services written against Client get transactions for free.
// Not thread-safe; owns only its queue and watch list; the backend must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"

namespace cluster_sim {

class Store;

class Session final : public Client {
 public:
  // What a Session needs from a store: single commands, atomic batches, key versions.
  class Backend {
   public:
    virtual ~Backend() = default;
    virtual Reply Execute(const std::vector<std::string>& argv) = 0;
    virtual std::vector<Reply> ExecuteBatch(
        const std::vector<std::vector<std::string>>& commands) = 0;
    virtual uint64_t KeyVersion(std::string_view key) = 0;
    // The arity (as Redis's command table: N exactly, -N at least) of a command this
    // backend runs beyond the store's own (e.g. a RESP endpoint's PING), so MULTI queues
    // it instead of refusing it as unknown; 0 if it runs none. `lower` is lowercase.
    virtual int ExtraArity(std::string_view lower) {
      (void)lower;
      return 0;
    }
  };

  explicit Session(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

  Reply Execute(const std::vector<std::string>& argv) override;

  bool in_multi() const { return in_multi_; }
  size_t queued() const { return queue_.size(); }

 private:
  Reply Queue(const std::vector<std::string>& argv);
  Reply Exec();

  std::unique_ptr<Backend> backend_;
  bool in_multi_ = false;
  bool dirty_ = false;  // an error while queueing: EXEC aborts
  std::vector<std::vector<std::string>> queue_;
  std::vector<std::pair<std::string, uint64_t>> watched_;  // key, version at WATCH
};

// A backend for a bare Store; `wall_clock_us` gives the writer's clock for each command.
// Effects are handed to `on_effect` (if set), e.g. to replicate them.
std::unique_ptr<Session::Backend> StoreBackend(Store& store, std::function<int64_t()> wall_clock_us,
                                               std::function<void(std::string)> on_effect = {});

}  // namespace cluster_sim
