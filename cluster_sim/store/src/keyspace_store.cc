#include "cluster_sim/keyspace_store.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/local_streams.h"
#include "crdt/causal_context.h"
#include "crdt/encoding.h"
#include "crdt/keyspace_header.h"
#include "engine.h"

namespace cluster_sim {

bool KeyspaceStore::EncodedKeys(std::string_view encoded, std::vector<std::string>* keys,
                                bool* full) {
  crdt::Decoder dec(encoded);
  while (!dec.done()) {
    bool delta = false;
    crdt::KeyValue::Parts16 parts = 0;
    uint64_t n = 0;
    if (!crdt::GetKeyspaceHeader(&dec, &delta, &parts) || !dec.GetCount(&n, 4)) return false;
    if (!delta && full != nullptr) *full = true;
    crdt::KeyValue value;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view key;
      if (!dec.GetBytes(&key) || !value.Decode(&dec, parts)) return false;
      keys->emplace_back(key);
    }
    crdt::CausalContext cc;
    if (!cc.Decode(&dec)) return false;
  }
  return true;
}

namespace {

void AppendEffect(std::string encoded, std::string* effect) {
  if (effect == nullptr) return;
  if (effect->empty()) {
    *effect = std::move(encoded);
  } else {
    effect->append(encoded);
  }
}

// The command table's row of argv's command: null for an empty argv or a name not in it.
const CommandSpec* RowOf(const std::vector<std::string>& argv) {
  return argv.empty() ? nullptr : FindStoreCommand(argv[0]);
}

}  // namespace

template <typename Run>
std::string KeyspaceStore::Record(Run run) {
  ks_.ResetDelta(&delta_);
  if (!run(&delta_)) return "";
  std::string encoded = delta_.Encode();
  if (tracking_) Touch(encoded);
  return encoded;
}

Reply KeyspaceStore::Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                             std::string* effect) {
  std::string unused;
  bool wrote = false;
  return ExecuteOne(argv, wall_clock_us, effect != nullptr ? effect : &unused, nullptr, &wrote);
}

bool KeyspaceStore::ExecuteHeld(const std::vector<std::string>& argv, int64_t wall_clock_us,
                                Reply* reply, bool* wrote) {
  if (durable() || tracking_) return false;
  if (!held_) held_.emplace(ks_.NewDelta());
  *reply = ExecuteOne(argv, wall_clock_us, nullptr, &*held_, wrote);
  return true;
}

void KeyspaceStore::TakeHeld(std::string* effect) {
  if (!held_) return;
  if (!held_->empty()) AppendEffect(held_->Encode(), effect);
  held_.reset();
}

Reply KeyspaceStore::ExecuteWithoutEffect(const std::vector<std::string>& argv,
                                          int64_t wall_clock_us, bool* wrote) {
  if (durable() || tracking_) return Store::ExecuteWithoutEffect(argv, wall_clock_us, wrote);
  return ExecuteOne(argv, wall_clock_us, nullptr, nullptr, wrote);
}

Reply KeyspaceStore::ExecuteOne(const std::vector<std::string>& argv, int64_t wall_clock_us,
                                std::string* effect, crdt::Keyspace* held, bool* wrote) {
  *wrote = false;
  wall_clock_us_ = wall_clock_us;
  // Looked up once, for the routes below and the engine.
  const CommandSpec* spec = RowOf(argv);
  if (std::optional<Reply> refused = Refused(argv, spec)) return std::move(*refused);
  if (LocalStream(spec)) return Stream(argv, spec, wall_clock_us);
  if (std::optional<Reply> reply = BeforeEngine(argv)) return std::move(*reply);
  // ExecuteHeld and ExecuteWithoutEffect (no effect) run only on a store that is not
  // durable, which has nothing to commit: the one store that overrides CommitWrite, the
  // Redis store, is durable.
  if (effect == nullptr) return RunOne(argv, spec, wall_clock_us, held, wrote);
  return durable() ? CommitOne(argv, spec, wall_clock_us, effect, wrote)
                   : RecordOne(argv, spec, wall_clock_us, effect, wrote);
}

Reply KeyspaceStore::RecordOne(const std::vector<std::string>& argv, const CommandSpec* spec,
                               int64_t wall_clock_us, std::string* effect, bool* wrote) {
  // Nothing to commit (CommitWrite's default, as above): the delta's bytes go straight
  // after *effect's, Record's work without its string's moves; and a command's one write
  // into it (SET, INCRBY, SADD or SREM of one member) writes its bytes there itself,
  // without building the delta (ResetDelta's `out`). Not a script's commands: each runs
  // as a command of its own on the delta (CommandEngine::Execute), which may read it.
  const size_t from = effect->size();
  ks_.ResetDelta(&delta_, spec != nullptr && !Scripts::Handles(spec) ? effect : nullptr);
  Reply reply = RunOne(argv, spec, wall_clock_us, &delta_, wrote);
  if (*wrote) {
    delta_.TakeEncoding(effect);
    if (tracking_) Touch(std::string_view(*effect).substr(from));
  } else if (!delta_.empty()) {
    // Defensive: a command that did not write leaves the delta empty (the engine empties
    // it already), so this is not reached today; a write not taken would be cut here.
    ks_.ResetDelta(&delta_);
  }
  return reply;
}

Reply KeyspaceStore::CommitOne(const std::vector<std::string>& argv, const CommandSpec* spec,
                               int64_t wall_clock_us, std::string* effect, bool* wrote) {
  Reply reply;
  auto apply = [&]() -> std::string {
    return Record([&](crdt::Keyspace* delta) {
      reply = RunOne(argv, spec, wall_clock_us, delta, wrote);
      return *wrote;
    });
  };
  Result<std::string> e = CommitWrite(std::ref(apply));  // a reference: no allocation
  if (!e.ok()) {
    *wrote = false;
    return Reply::Error(e.status().message());
  }
  AppendEffect(std::move(e).value(), effect);
  return reply;
}

std::vector<Reply> KeyspaceStore::ExecuteBatch(
    const std::vector<std::vector<std::string>>& commands, int64_t wall_clock_us,
    std::string* effect) {
  wall_clock_us_ = wall_clock_us;
  std::vector<Reply> replies;
  // A stream command runs once, even when CommitWrite applies the batch again.
  std::vector<std::optional<Reply>> stream_replies(commands.size());
  auto apply = [&] {
    return Record([&](crdt::Keyspace* delta) {
      replies.clear();
      replies.reserve(commands.size());
      bool any = false;
      for (size_t i = 0; i < commands.size(); ++i) {
        const std::vector<std::string>& argv = commands[i];
        const CommandSpec* spec = RowOf(argv);
        if (std::optional<Reply> refused = Refused(argv, spec)) {
          replies.push_back(std::move(*refused));
          continue;
        }
        if (LocalStream(spec)) {
          if (!stream_replies[i]) stream_replies[i] = Stream(argv, spec, wall_clock_us);
          replies.push_back(*stream_replies[i]);
          continue;
        }
        bool wrote = false;
        replies.push_back(RunOne(argv, spec, wall_clock_us, delta, &wrote));
        any = any || wrote;
      }
      return any;
    });
  };
  Result<std::string> e = CommitWrite(std::ref(apply));
  if (!e.ok()) {
    Reply error = Reply::Error(e.status().message());
    replies.resize(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      replies[i] = stream_replies[i] ? *stream_replies[i] : error;
    }
    return replies;
  }
  AppendEffect(std::move(e).value(), effect);
  return replies;
}

Reply KeyspaceStore::RunOne(const std::vector<std::string>& argv, const CommandSpec* spec,
                            int64_t wall_clock_us, crdt::Keyspace* delta, bool* wrote) {
  if (argv.empty()) return engine_.Execute(ks_, argv, wall_clock_us, delta, wrote);  // its error
  if (!Scripts::Handles(spec)) {
    return engine_.Execute(ks_, argv, wall_clock_us, delta, wrote, spec);
  }
  *wrote = false;
  if (!spec->AcceptsArgc(argv.size())) return ArityError(argv[0]);
  if (scripts_ == nullptr) scripts_ = std::make_unique<Scripts>();
  return scripts_->Run(argv, [&](const std::vector<std::string>& cmd) {
    // Scripts::Call: cmd's name is in the table and its arity checked.
    const CommandSpec* cmd_spec = FindStoreCommand(cmd[0]);
    if (std::optional<Reply> refused = Refused(cmd, cmd_spec)) return std::move(*refused);
    if (LocalStream(cmd_spec)) return RunStream(cmd, wall_clock_us);
    if (std::optional<Reply> reply = BeforeEngine(cmd)) return std::move(*reply);
    bool w = false;
    Reply reply = engine_.Execute(ks_, cmd, wall_clock_us, delta, &w, cmd_spec);
    *wrote = *wrote || w;
    return reply;
  });
}

std::optional<Reply> KeyspaceStore::RefusedByMayWrite(const std::vector<std::string>& argv,
                                                      const CommandSpec* spec) const {
  if (spec == nullptr || !spec->AcceptsArgc(argv.size())) return std::nullopt;  // its own error
  Status refused;
  if (FindWrittenKey(*spec, argv, [&](std::string_view key) {
        refused = MayWrite(key);
        return !refused.ok();
      }) == nullptr) {
    return std::nullopt;
  }
  return Reply::Error(refused.message());
}

namespace {
constexpr int64_t kGraceMs = Store::kExpiryGraceUs / 1000;
}  // namespace

int64_t KeyspaceStore::wall_clock_ms() const { return engine::FloorMs(wall_clock_us_); }

int64_t KeyspaceStore::NextExpiry() const {
  if (!ks_.HasExpiring()) return -1;  // asked after every write and merge: most have no TTL
  std::optional<int64_t> ms = ks_.NextExpiry(kGraceMs);
  if (!ms) return -1;
  return *ms > INT64_MAX / 1000 ? INT64_MAX : (*ms < INT64_MIN / 1000 ? INT64_MIN : *ms * 1000);
}

Status KeyspaceStore::ExpireDue(int64_t wall_clock_us, std::string* effect) {
  wall_clock_us_ = wall_clock_us;
  const int64_t now_ms = engine::FloorMs(wall_clock_us);
  auto apply = [&] {
    return Record([&](crdt::Keyspace* delta) { return ks_.ExpireDue(now_ms, kGraceMs, delta); });
  };
  Result<std::string> e = CommitWrite(std::ref(apply));
  if (!e.ok()) return e.status();
  AppendEffect(std::move(e).value(), effect);
  return Status::Ok();
}

bool KeyspaceStore::LocalStream(const CommandSpec* spec) const {
  return !replicate_streams_ && LocalStreams::Handles(spec);
}

Reply KeyspaceStore::Stream(const std::vector<std::string>& argv, const CommandSpec* spec,
                            int64_t wall_clock_us) {
  if (!spec->AcceptsArgc(argv.size())) return ArityError(argv[0]);
  return RunStream(argv, wall_clock_us);
}

namespace {

// The error of a merge that failed: the same merge again, for its message (a failed merge
// changes nothing). Out of line and rare: MergeFrom's frame then holds no string.
[[gnu::noinline, gnu::cold]] Status MalformedEffect(crdt::Keyspace* ks, std::string_view encoded,
                                                    crdt::Keyspace::MergeScratch* scratch) {
  std::string error;
  (void)ks->MergeEncoded(encoded, &error, scratch);
  return Status::InvalidArgument("malformed effect or state: " + error);
}

}  // namespace

Status KeyspaceStore::MergeFrom(std::string_view origin, uint64_t seq, std::string_view encoded) {
  if (Status s = CanMerge(); !s.ok()) return s;
  if (!ks_.MergeEncoded(encoded, nullptr, &merge_scratch_)) {
    return MalformedEffect(&ks_, encoded, &merge_scratch_);
  }
  if (tracking_) Touch(encoded);
  Merged(origin, seq, encoded);
  return Status::Ok();
}

uint64_t KeyspaceStore::KeyVersion(std::string_view key) const {
  tracking_ = true;
  auto it = versions_.find(key);
  return it == versions_.end() ? floor_ : std::max(floor_, it->second);
}

void KeyspaceStore::Wipe(crdt::ReplicaId self) {
  ks_ = crdt::Keyspace(self);
  held_.reset();
  scripts_.reset();   // a crash loses the script cache too
  BumpAllVersions();  // every key changed; versions never repeat across a crash
  Wiped();
}

void KeyspaceStore::BumpVersion(std::string key) {
  if (tracking_) versions_[std::move(key)] = ++clock_;
}

void KeyspaceStore::BumpAllVersions() {
  versions_.clear();
  floor_ = ++clock_;
}

void KeyspaceStore::Touch(std::string_view encoded) {
  std::vector<std::string> keys;
  bool full = false;
  ++clock_;
  if (!EncodedKeys(encoded, &keys, &full) || full) {
    floor_ = clock_;
    return;
  }
  for (std::string& k : keys) versions_[std::move(k)] = clock_;
}

}  // namespace cluster_sim
