// The embedded in-memory store: one crdt::Keyspace driven by the CommandEngine. Effects
// are encoded Keyspace deltas; full states are encoded Keyspaces; both merge alike.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "command_engine.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"

namespace cluster_sim {
namespace {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(crdt::ReplicaId self) : ks_(self) {}

  Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                std::string* effect) override {
    crdt::Keyspace delta = ks_.NewDelta();
    bool wrote = false;
    Reply reply = engine_.Execute(ks_, argv, wall_clock_us, &delta, &wrote);
    if (wrote && effect != nullptr) AppendEffect(delta, effect);
    return reply;
  }

  // Like Redis EXEC: every command runs, an error reply does not stop the others, and
  // the writes replicate as one unit (one delta).
  std::vector<Reply> ExecuteBatch(const std::vector<std::vector<std::string>>& commands,
                                  int64_t wall_clock_us, std::string* effect) override {
    crdt::Keyspace delta = ks_.NewDelta();
    bool any_wrote = false;
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (const auto& argv : commands) {
      bool wrote = false;
      replies.push_back(engine_.Execute(ks_, argv, wall_clock_us, &delta, &wrote));
      any_wrote = any_wrote || wrote;
    }
    if (any_wrote && effect != nullptr) AppendEffect(delta, effect);
    return replies;
  }

  Status Merge(std::string_view encoded) override {
    std::string error;
    if (!ks_.MergeEncoded(encoded, &error, &merge_scratch_)) {
      return Status::InvalidArgument("malformed effect or state: " + error);
    }
    return Status::Ok();
  }

  std::string FullState() const override { return ks_.Encode(); }
  std::string Dump(std::string_view key) const override { return ks_.Dump(key); }
  std::string DumpAll() const override { return ks_.DumpAll(); }
  std::vector<std::string> Keys() const override { return ks_.Keys(); }

  void Wipe(crdt::ReplicaId self) override { ks_ = crdt::Keyspace(self); }
  bool durable() const override { return false; }
  crdt::ReplicaId self() const override { return ks_.self(); }
  size_t MemoryBytes() const override { return sizeof(*this) + ks_.MemoryBytes(); }

 private:
  static void AppendEffect(const crdt::Keyspace& delta, std::string* effect) {
    if (effect->empty()) {
      *effect = delta.Encode();
    } else {
      effect->append(delta.Encode());
    }
  }

  crdt::Keyspace ks_;
  CommandEngine engine_;
  crdt::Keyspace::MergeScratch merge_scratch_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(crdt::ReplicaId self) {
  return std::make_unique<MemoryStore>(self);
}

}  // namespace cluster_sim
