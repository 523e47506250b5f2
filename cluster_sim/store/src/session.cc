#include "cluster_sim/session.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"

namespace cluster_sim {
namespace {

class BareStoreBackend final : public Session::Backend {
 public:
  BareStoreBackend(Store& store, std::function<int64_t()> clock,
                   std::function<void(std::string)> on_effect)
      : store_(store), clock_(std::move(clock)), on_effect_(std::move(on_effect)) {}
  Reply Execute(const std::vector<std::string>& argv) override {
    std::string effect;
    Reply r = store_.Execute(argv, clock_(), &effect);
    if (!effect.empty() && on_effect_) on_effect_(std::move(effect));
    return r;
  }
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& cmds) override {
    std::string effect;
    std::vector<Reply> r = store_.ExecuteBatch(cmds, clock_(), &effect);
    if (!effect.empty() && on_effect_) on_effect_(std::move(effect));
    return r;
  }
  uint64_t KeyVersion(std::string_view key) override { return store_.KeyVersion(key); }

 private:
  Store& store_;
  std::function<int64_t()> clock_;
  std::function<void(std::string)> on_effect_;
};

}  // namespace

Reply Session::Execute(const std::vector<std::string>& argv) {
  if (argv.empty()) return Reply::Error("ERR empty command");
  const CommandSpec* spec = FindStoreCommand(argv[0]);
  if (spec == nullptr || spec->runner != CommandRunner::kSession) {
    // Every other command: queued inside MULTI, else run (most requests end here).
    return in_multi_ ? Queue(argv) : backend_->Execute(argv);
  }
  const std::string_view name = spec->name;  // lowercase
  const size_t argc = argv.size();
  const bool bad_argc = !spec->AcceptsArgc(argc);
  if (name == "multi") {
    if (bad_argc) return in_multi_ ? Queue(argv) : ArityError(name);
    if (in_multi_) return Reply::Error("ERR MULTI calls can not be nested");
    in_multi_ = true;
    dirty_ = false;
    queue_.clear();
    return Reply::Status("OK");
  }
  if (name == "exec") {
    if (bad_argc) return in_multi_ ? Queue(argv) : ArityError(name);
    if (!in_multi_) return Reply::Error("ERR EXEC without MULTI");
    return Exec();
  }
  if (name == "discard") {
    if (bad_argc) return in_multi_ ? Queue(argv) : ArityError(name);
    if (!in_multi_) return Reply::Error("ERR DISCARD without MULTI");
    in_multi_ = false;
    queue_.clear();
    watched_.clear();
    return Reply::Status("OK");
  }
  if (name == "watch") {
    if (bad_argc) return in_multi_ ? Queue(argv) : ArityError(name);
    if (in_multi_) return Reply::Error("ERR WATCH inside MULTI is not allowed");
    for (size_t i = 1; i < argc; ++i) {
      bool already = false;
      for (const auto& [k, v] : watched_) already = already || k == argv[i];
      if (!already) watched_.emplace_back(argv[i], backend_->KeyVersion(argv[i]));
    }
    return Reply::Status("OK");
  }
  if (in_multi_) return Queue(argv);
  // UNWATCH, the one transaction command left.
  if (bad_argc) return ArityError(name);
  watched_.clear();
  return Reply::Status("OK");
}

// As Redis's processCommand inside MULTI: unknown commands and arity errors are refused
// (and mark the transaction), everything else is queued.
Reply Session::Queue(const std::vector<std::string>& argv) {
  std::string name = AsciiLower(argv[0]);
  const CommandSpec* spec = FindStoreCommand(name);
  const int arity = spec != nullptr ? spec->arity : backend_->ExtraArity(name);
  if (arity == 0) {
    dirty_ = true;
    return UnknownCommand(argv);
  }
  if (!ArityAllows(arity, argv.size())) {
    dirty_ = true;
    return ArityError(name);
  }
  queue_.push_back(argv);
  return Reply::Status("QUEUED");
}

Reply Session::Exec() {
  in_multi_ = false;
  std::vector<std::vector<std::string>> queue = std::move(queue_);
  queue_.clear();
  std::vector<std::pair<std::string, uint64_t>> watched = std::move(watched_);
  watched_.clear();
  if (dirty_) {
    dirty_ = false;
    return Reply::Error("EXECABORT Transaction discarded because of previous errors.");
  }
  for (const auto& [key, version] : watched) {
    if (backend_->KeyVersion(key) != version) return Reply::NilArray();
  }
  // UNWATCH queued inside the transaction replies OK and does nothing else now.
  std::vector<std::vector<std::string>> run;
  std::vector<int> unwatch_at;
  for (size_t i = 0; i < queue.size(); ++i) {
    if (IEquals(queue[i][0], "unwatch")) {
      unwatch_at.push_back(static_cast<int>(i));
    } else {
      run.push_back(std::move(queue[i]));
    }
  }
  std::vector<Reply> replies = run.empty() ? std::vector<Reply>{} : backend_->ExecuteBatch(run);
  for (int i : unwatch_at) {
    replies.insert(replies.begin() + i, Reply::Status("OK"));
  }
  return Reply::Array(std::move(replies));
}

std::unique_ptr<Session::Backend> StoreBackend(Store& store, std::function<int64_t()> wall_clock_us,
                                               std::function<void(std::string)> on_effect) {
  return std::make_unique<BareStoreBackend>(store, std::move(wall_clock_us), std::move(on_effect));
}

}  // namespace cluster_sim
