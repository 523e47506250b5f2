#include "cluster_sim/session.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_engine.h"
#include "cluster_sim/local_streams.h"
#include "cluster_sim/store.h"

namespace cluster_sim {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

Reply ArityError(std::string_view lower) {
  return Reply::Error("ERR wrong number of arguments for '" + std::string(lower) + "' command");
}

// Redis 7.0's unknown-command text (server.c processCommand), as the engine writes it.
Reply UnknownCommand(const std::vector<std::string>& argv) {
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    args.append("'").append(std::string_view(argv[i]).substr(0, 128 - args.size())).append("' ");
  }
  std::string text = "ERR unknown command '" +
                     std::string(std::string_view(argv[0]).substr(0, 128)) +
                     "', with args beginning with: " + args;
  for (char& ch : text) {
    if (ch == '\r' || ch == '\n') ch = ' ';
  }
  return Reply::Error(std::move(text));
}

int Arity(std::string_view lower) {
  if (int a = CommandEngine::Arity(lower); a != 0) return a;
  return LocalStreams::Arity(lower);
}

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
  std::string name = Lower(argv[0]);
  const size_t argc = argv.size();
  if (name == "multi") {
    if (argc != 1) return in_multi_ ? Queue(argv) : ArityError(name);
    if (in_multi_) return Reply::Error("ERR MULTI calls can not be nested");
    in_multi_ = true;
    dirty_ = false;
    queue_.clear();
    return Reply::Status("OK");
  }
  if (name == "exec") {
    if (argc != 1) return in_multi_ ? Queue(argv) : ArityError(name);
    if (!in_multi_) return Reply::Error("ERR EXEC without MULTI");
    return Exec();
  }
  if (name == "discard") {
    if (argc != 1) return in_multi_ ? Queue(argv) : ArityError(name);
    if (!in_multi_) return Reply::Error("ERR DISCARD without MULTI");
    in_multi_ = false;
    queue_.clear();
    watched_.clear();
    return Reply::Status("OK");
  }
  if (name == "watch") {
    if (argc < 2) return in_multi_ ? Queue(argv) : ArityError(name);
    if (in_multi_) return Reply::Error("ERR WATCH inside MULTI is not allowed");
    for (size_t i = 1; i < argc; ++i) {
      bool already = false;
      for (const auto& [k, v] : watched_) already = already || k == argv[i];
      if (!already) watched_.emplace_back(argv[i], backend_->KeyVersion(argv[i]));
    }
    return Reply::Status("OK");
  }
  if (in_multi_) return Queue(argv);
  if (name == "unwatch") {
    if (argc != 1) return ArityError(name);
    watched_.clear();
    return Reply::Status("OK");
  }
  return backend_->Execute(argv);
}

// As Redis's processCommand inside MULTI: unknown commands and arity errors are refused
// (and mark the transaction), everything else is queued.
Reply Session::Queue(const std::vector<std::string>& argv) {
  std::string name = Lower(argv[0]);
  int arity = 0;
  if (name == "multi" || name == "exec" || name == "discard" || name == "unwatch") {
    arity = 1;
  } else if (name == "watch") {
    arity = -2;
  } else {
    arity = Arity(name);
    if (arity == 0) arity = backend_->ExtraArity(name);
  }
  if (arity == 0) {
    dirty_ = true;
    return UnknownCommand(argv);
  }
  int argc = static_cast<int>(argv.size());
  if ((arity > 0 && argc != arity) || (arity < 0 && argc < -arity)) {
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
    if (backend_->KeyVersion(key) != version) return Reply::Nil();
  }
  // UNWATCH queued inside the transaction replies OK and does nothing else now.
  std::vector<std::vector<std::string>> run;
  std::vector<int> unwatch_at;
  for (size_t i = 0; i < queue.size(); ++i) {
    if (Lower(queue[i][0]) == "unwatch") {
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
