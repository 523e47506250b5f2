// The embedded in-memory store: one crdt::Keyspace driven by the CommandEngine. Effects
// are encoded Keyspace deltas; full states are encoded Keyspaces; both merge alike.
// Beside the keyspace, region-local streams (local_streams.h): never replicated.
//
// KeyVersion: per-key counters, bumped by every local write and merged delta that lists
// the key; a merged full state bumps every key (it may drop keys it does not list). To
// cost nothing to runs that never WATCH, tracking starts at the first KeyVersion call:
// before it every key reads version 0, which is all a later comparison needs.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/command_engine.h"
#include "cluster_sim/local_streams.h"
#include "cluster_sim/status.h"
#include "cluster_sim/store.h"
#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"
#include "crdt/keyspace.h"

namespace cluster_sim {
namespace {

// The keys an encoded keyspace lists (a delta: the keys its writes touched). Sets *full
// for a full state. False if malformed.
bool EncodedKeys(std::string_view bytes, std::vector<std::string>* keys, bool* full) {
  crdt::Decoder dec(bytes);
  while (!dec.done()) {
    uint8_t flags = 0;
    uint64_t n = 0;
    if (!dec.GetByte(&flags) || !dec.GetCount(&n, 4)) return false;
    if (flags == 0) *full = true;
    crdt::KeyValue value;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view key;
      if (!dec.GetBytes(&key) || !value.Decode(&dec)) return false;
      keys->emplace_back(key);
    }
    crdt::CausalContext cc;
    if (!cc.Decode(&dec)) return false;
  }
  return true;
}

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(crdt::ReplicaId self) : ks_(self) {}

  Reply Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                std::string* effect) override {
    if (!argv.empty() && LocalStreams::Handles(argv[0])) return ExecuteStream(argv, wall_clock_us);
    if (argv.size() == 2 && EqualsType(argv[0]) && streams_.Exists(argv[1]) &&
        ks_.TypeOf(argv[1]) == crdt::Keyspace::Type::kNone) {
      return Reply::Status("stream");
    }
    crdt::Keyspace delta = ks_.NewDelta();
    bool wrote = false;
    Reply reply = engine_.Execute(ks_, argv, wall_clock_us, &delta, &wrote);
    if (wrote) AppendEffect(delta, effect);
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
      if (!argv.empty() && LocalStreams::Handles(argv[0])) {
        replies.push_back(ExecuteStream(argv, wall_clock_us));
        continue;
      }
      bool wrote = false;
      replies.push_back(engine_.Execute(ks_, argv, wall_clock_us, &delta, &wrote));
      any_wrote = any_wrote || wrote;
    }
    if (any_wrote) AppendEffect(delta, effect);
    return replies;
  }

  Status Merge(std::string_view encoded) override {
    std::string error;
    if (!ks_.MergeEncoded(encoded, &error, &merge_scratch_)) {
      return Status::InvalidArgument("malformed effect or state: " + error);
    }
    if (tracking_) Touch(encoded);
    return Status::Ok();
  }

  uint64_t KeyVersion(std::string_view key) const override {
    tracking_ = true;
    auto it = versions_.find(key);
    return it == versions_.end() ? floor_ : std::max(floor_, it->second);
  }

  std::string FullState() const override { return ks_.Encode(); }
  std::string Dump(std::string_view key) const override { return ks_.Dump(key); }
  std::string DumpAll() const override { return ks_.DumpAll(); }
  std::vector<std::string> Keys() const override { return ks_.Keys(); }

  void Wipe(crdt::ReplicaId self) override {
    ks_ = crdt::Keyspace(self);
    streams_.Clear();
    versions_.clear();
    floor_ = ++clock_;  // every key changed; versions never repeat across a crash
  }
  bool durable() const override { return false; }
  crdt::ReplicaId self() const override { return ks_.self(); }
  size_t MemoryBytes() const override { return sizeof(*this) + ks_.MemoryBytes(); }

 private:
  static bool EqualsType(std::string_view name) {
    return name.size() == 4 && (name[0] | 0x20) == 't' && (name[1] | 0x20) == 'y' &&
           (name[2] | 0x20) == 'p' && (name[3] | 0x20) == 'e';
  }

  Reply ExecuteStream(const std::vector<std::string>& argv, int64_t wall_clock_us) {
    std::vector<std::string> touched;
    Reply reply = streams_.Execute(
        argv, wall_clock_us,
        [this](std::string_view key) { return ks_.TypeOf(key) != crdt::Keyspace::Type::kNone; },
        &touched);
    if (tracking_) {
      ++clock_;
      for (std::string& k : touched) versions_[std::move(k)] = clock_;
    }
    return reply;
  }

  // Bumps the version of every key an encoded keyspace lists (all keys for a full state).
  void Touch(std::string_view encoded) {
    std::vector<std::string> keys;
    bool full = false;
    ++clock_;
    if (!EncodedKeys(encoded, &keys, &full) || full) {
      floor_ = clock_;
      return;
    }
    for (std::string& k : keys) versions_[std::move(k)] = clock_;
  }

  // Records a write: its effect (if wanted) and the versions of the keys it touched.
  void AppendEffect(const crdt::Keyspace& delta, std::string* effect) {
    if (effect == nullptr && !tracking_) return;
    std::string encoded = delta.Encode();
    if (tracking_) Touch(encoded);
    if (effect == nullptr) return;
    if (effect->empty()) {
      *effect = std::move(encoded);
    } else {
      effect->append(encoded);
    }
  }

  crdt::Keyspace ks_;
  LocalStreams streams_;
  mutable bool tracking_ = false;
  uint64_t clock_ = 0;
  uint64_t floor_ = 0;
  std::map<std::string, uint64_t, std::less<>> versions_;
  CommandEngine engine_;
  crdt::Keyspace::MergeScratch merge_scratch_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(crdt::ReplicaId self) {
  return std::make_unique<MemoryStore>(self);
}

}  // namespace cluster_sim
