// The embedded in-memory store: a KeyspaceStore (keyspace_store.h) whose data lives only in
// its keyspace, beside region-local streams (local_streams.h) that are never replicated.
// Effects are encoded Keyspace deltas; full states are encoded Keyspaces; both merge alike.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/keyspace_store.h"
#include "cluster_sim/local_streams.h"
#include "cluster_sim/store.h"
#include "cluster_sim/strings.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace cluster_sim {
namespace {

class MemoryStore final : public KeyspaceStore {
 public:
  explicit MemoryStore(crdt::ReplicaId self) : KeyspaceStore(self) {}

  bool durable() const override { return false; }
  size_t MemoryBytes() const override { return sizeof(*this) + keyspace().MemoryBytes(); }

 private:
  Reply RunStream(const std::vector<std::string>& argv, int64_t wall_clock_us) override {
    std::vector<std::string> touched;
    Reply reply = streams_.Execute(
        argv, wall_clock_us,
        [this](std::string_view key) {
          return keyspace().TypeOf(key) != crdt::Keyspace::Type::kNone;
        },
        &touched);
    for (std::string& k : touched) BumpVersion(std::move(k));
    return reply;
  }

  // TYPE of a stream key (streams are not in the keyspace): "stream".
  std::optional<Reply> BeforeEngine(const std::vector<std::string>& argv) override {
    if (argv.size() != 2) return std::nullopt;  // asked for every command: no frame for most
    return TypeOfStream(argv);
  }
  [[gnu::noinline]] std::optional<Reply> TypeOfStream(const std::vector<std::string>& argv) {
    if (IEquals(argv[0], "type") && streams_.Exists(argv[1]) &&
        keyspace().TypeOf(argv[1]) == crdt::Keyspace::Type::kNone) {
      return Reply::Status("stream");
    }
    return std::nullopt;
  }

  void Wiped() override { streams_.Clear(); }

  LocalStreams streams_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(crdt::ReplicaId self) {
  return std::make_unique<MemoryStore>(self);
}

}  // namespace cluster_sim
