// HyperLogLog commands (Redis 7.0's hyperloglog.c replies and errors) on the keyspace's
// HllStore: registers merge by maximum, a DEL wins over a concurrent PFADD (hll.h).
#include "engine.h"

namespace cluster_sim {
namespace engine {

namespace {

// The reply for a key that cannot be used as a HyperLogLog, if any. A string that is not
// one gets Redis's own HyperLogLog error.
std::optional<Reply> CheckHll(const Ctx& c, std::string_view key) {
  const Type t = c.ks.TypeOf(key);
  if (t == Type::kNone || t == Type::kHll) return std::nullopt;
  if (t == Type::kString) return Err("WRONGTYPE Key is not a valid HyperLogLog string value.");
  return Err(kWrongType);
}

const crdt::HllStore* HllOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv && kv->hll().Present() ? &kv->hll() : nullptr;
}

}  // namespace

Reply PfAdd(Ctx& c) {
  if (auto e = CheckHll(c, c.argv[1])) return *e;
  std::vector<std::string_view> elements(c.argv.begin() + 2, c.argv.end());
  const bool changed = c.ks.PfAdd(c.argv[1], elements, c.delta);
  c.wrote = changed;
  return Reply::Integer(changed ? 1 : 0);
}

Reply PfCount(Ctx& c) {
  for (size_t i = 1; i < c.argv.size(); ++i) {
    if (auto e = CheckHll(c, c.argv[i])) return *e;
  }
  if (c.argv.size() == 2) {
    const crdt::HllStore* h = HllOf(c, c.argv[1]);
    return Reply::Integer(h ? static_cast<int64_t>(h->Count()) : 0);
  }
  crdt::HllStore merged;
  for (size_t i = 1; i < c.argv.size(); ++i) {
    if (const crdt::HllStore* h = HllOf(c, c.argv[i])) merged.MergeFrom(*h, nullptr);
  }
  return Reply::Integer(static_cast<int64_t>(merged.Count()));
}

Reply PfMerge(Ctx& c) {
  for (size_t i = 1; i < c.argv.size(); ++i) {
    if (auto e = CheckHll(c, c.argv[i])) return *e;
  }
  crdt::HllStore merged;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    if (const crdt::HllStore* h = HllOf(c, c.argv[i])) merged.MergeFrom(*h, nullptr);
  }
  c.wrote = c.ks.PfMergeInto(c.argv[1], merged, c.delta);
  return Ok();
}

}  // namespace engine
}  // namespace cluster_sim
