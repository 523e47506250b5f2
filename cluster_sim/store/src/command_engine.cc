#include "cluster_sim/command_engine.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "crdt/or_map.h"
#include "crdt/string_value.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

// ---------------------------------------------------------------- connection

Reply Ping(Ctx& c) {
  if (c.argv.size() > 2) return ArityError("ping");
  return c.argv.size() == 2 ? Reply::Bulk(c.argv[1]) : Reply::Status("PONG");
}

Reply Echo(Ctx& c) { return Reply::Bulk(c.argv[1]); }

// ---------------------------------------------------------------- strings

bool IsBoundedCounter(const Ctx& c, std::string_view key) {
  return c.ks.TypeOf(key) == Type::kBoundedCounter;
}

// GET (and MGET) read a bounded counter's value as a string, as the Redis backend keeps it.
Reply Get(Ctx& c) {
  if (IsBoundedCounter(c, c.argv[1])) return Reply::Bulk(c.ks.Dump(c.argv[1]));
  if (!TypeIs(c, c.argv[1], Type::kString)) return Err(kWrongType);
  return OptionalBulk(c.ks.Get(c.argv[1]));
}

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]. Options are
// parsed as Redis 7.0 parses them (t_string.c parseExtendedStringArgumentsOrReply: one kind
// of expire option, the same one again replaces it), so a malformed line gets Redis's
// error. Without KEEPTTL the key's TTL entries are removed (engine_expiry.cc).
Reply Set(Ctx& c) {
  bool nx = false, xx = false, get = false, keepttl = false;
  std::string_view expire_option;
  std::string_view expire_value;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    std::string_view opt = c.argv[i];
    bool has_next = i + 1 < c.argv.size();
    if (IEquals(opt, "nx") && !xx) {
      nx = true;
    } else if (IEquals(opt, "xx") && !nx) {
      xx = true;
    } else if (IEquals(opt, "get")) {
      get = true;
    } else if (IEquals(opt, "keepttl") && expire_option.empty()) {
      keepttl = true;
    } else if ((IEquals(opt, "ex") || IEquals(opt, "px") || IEquals(opt, "exat") ||
                IEquals(opt, "pxat")) &&
               !keepttl && (expire_option.empty() || IEquals(expire_option, opt)) && has_next) {
      expire_option = opt;
      expire_value = c.argv[++i];
    } else {
      return Err(kSyntax);
    }
  }
  int64_t deadline_ms = 0;
  if (!expire_option.empty()) {
    if (auto refused = ExpireDeadline(c, expire_option, expire_value, "set", &deadline_ms)) {
      return std::move(*refused);
    }
  }
  const std::string& key = c.argv[1];
  const crdt::Keyspace::Located ref = c.ks.Locate(key);  // hashed and found once
  std::optional<std::string> old;
  if (get) {
    if (!TypeIs(c, ref, Type::kString)) return Err(kWrongType);
    old = c.ks.Get(key);
  }
  const Type type = c.ks.TypeOf(ref);
  const bool exists = type != Type::kNone;
  if ((nx && exists) || (xx && !exists)) return get ? OptionalBulk(std::move(old)) : Reply::Nil();
  if (type == Type::kBoundedCounter) return Err(kWrongType);  // never overwritten
  c.ks.Set(ref, c.argv[2], c.now_us, c.delta, keepttl);
  if (!expire_option.empty()) c.ks.Expire(key, deadline_ms, c.delta);
  c.wrote = true;
  return get ? OptionalBulk(std::move(old)) : Ok();
}

Reply SetNx(Ctx& c) {
  if (c.ks.TypeOf(c.argv[1]) != Type::kNone) return Reply::Integer(0);
  c.ks.Set(c.argv[1], c.argv[2], c.now_us, c.delta);
  c.wrote = true;
  return Reply::Integer(1);
}

Reply MSet(Ctx& c) {
  if (c.argv.size() % 2 == 0) return ArityError("mset");
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) {
    if (IsBoundedCounter(c, c.argv[i])) return Err(kWrongType);
  }
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) {
    c.ks.Set(c.argv[i], c.argv[i + 1], c.now_us, c.delta);
  }
  c.wrote = true;
  return Ok();
}

Reply MGet(Ctx& c) {
  std::vector<Reply> out;
  out.reserve(c.argv.size() - 1);
  for (size_t i = 1; i < c.argv.size(); ++i) {
    // As Redis: a key of another type reads as nil, not WRONGTYPE.
    Type t = c.ks.TypeOf(c.argv[i]);
    out.push_back(t == Type::kString           ? OptionalBulk(c.ks.Get(c.argv[i]))
                  : t == Type::kBoundedCounter ? Reply::Bulk(c.ks.Dump(c.argv[i]))
                                               : Reply::Nil());
  }
  return Reply::Array(std::move(out));
}

Reply StrLen(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kString)) return Err(kWrongType);
  std::optional<std::string> v = c.ks.Get(c.argv[1]);
  return Reply::Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

// INCR/INCRBY/DECR/DECRBY: a PN-counter under the string (every region's increments add
// up). Redis checks the type, then that the value is an integer, then overflow. Redis
// Enterprise Active/Active keeps counters within 59 bits: the Keyspace refuses a step that
// takes this region's view outside +/-2^59 (or farther out, crdt/pn_counter.h) and we report
// it with the text Redis uses for a 64-bit overflow. A zero step is an increment like any
// other (it creates "0" on a missing key and survives a concurrent SET or DEL likewise).
Reply IncrDecr(Ctx& c, int64_t by) {
  const crdt::Keyspace::Located key = c.ks.Locate(c.argv[1]);  // hashed and found once
  if (!TypeIs(c, key, Type::kString)) return Err(kWrongType);
  int64_t value = 0;
  switch (c.ks.IncrBy(key, by, &value, c.delta)) {
    case crdt::IncrStatus::kOk:
      c.wrote = true;
      return Reply::Integer(value);
    case crdt::IncrStatus::kNotInteger:
      return Err(kNotInteger);
    case crdt::IncrStatus::kOutOfRange:
      break;
  }
  return Err(kOverflow);
}

Reply Incr(Ctx& c) { return IncrDecr(c, 1); }
Reply Decr(Ctx& c) { return IncrDecr(c, -1); }

Reply IncrBy(Ctx& c) {
  int64_t by = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &by)) return Err(kNotInteger);
  return IncrDecr(c, by);
}

Reply DecrBy(Ctx& c) {
  int64_t by = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &by)) return Err(kNotInteger);
  if (by == std::numeric_limits<int64_t>::min()) return Err("ERR decrement would overflow");
  return IncrDecr(c, -by);
}

// ---------------------------------------------------------------- sets

Reply SAdd(Ctx& c) {
  crdt::Keyspace::Located key = c.ks.Locate(c.argv[1]);  // hashed and found once
  if (!TypeIs(c, key, Type::kSet)) return Err(kWrongType);
  int64_t added = 0;
  for (size_t i = 2; i < c.argv.size(); ++i) added += c.ks.SAdd(&key, c.argv[i], c.delta) ? 1 : 0;
  // Even a member already present gets a new tag, so the add survives a concurrent SREM
  // elsewhere (add wins): always an effect.
  c.wrote = true;
  return Reply::Integer(added);
}

Reply SRem(Ctx& c) {
  crdt::Keyspace::Located key = c.ks.Locate(c.argv[1]);  // hashed and found once
  if (!TypeIs(c, key, Type::kSet)) return Err(kWrongType);
  int64_t removed = 0;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    if (c.ks.IsMember(key, c.argv[i]) && c.ks.SRem(&key, c.argv[i], c.delta)) ++removed;
  }
  c.wrote = removed > 0;
  return Reply::Integer(removed);
}

Reply SMembers(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kSet)) return Err(kWrongType);
  return Reply::BulkArray(c.ks.Members(c.argv[1]));  // sorted, for determinism
}

Reply SIsMember(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kSet)) return Err(kWrongType);
  return Reply::Integer(c.ks.IsMember(c.argv[1], c.argv[2]) ? 1 : 0);
}

Reply SMIsMember(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kSet)) return Err(kWrongType);
  std::vector<Reply> out;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    out.push_back(Reply::Integer(c.ks.IsMember(c.argv[1], c.argv[i]) ? 1 : 0));
  }
  return Reply::Array(std::move(out));
}

// SMOVE source destination member: the removal from source and the addition to
// destination it made replicate (one delta); a member absent from source moves nothing.
Reply SMove(Ctx& c) {
  const std::string& src = c.argv[1];
  const std::string& dst = c.argv[2];
  const std::string& member = c.argv[3];
  if (c.ks.TypeOf(src) == Type::kNone) return Reply::Integer(0);  // Redis checks this first
  if (!TypeIs(c, src, Type::kSet) || !TypeIs(c, dst, Type::kSet)) return Err(kWrongType);
  if (!c.ks.IsMember(src, member)) return Reply::Integer(0);
  if (src == dst) return Reply::Integer(1);  // as Redis: nothing to do
  c.ks.SRem(src, member, c.delta);
  c.ks.SAdd(dst, member, c.delta);
  c.wrote = true;
  return Reply::Integer(1);
}

// SPOP key [count]: removes members and replicates the removal it made (an SREM), never
// the command. Which members: Redis draws at random; aasim must be deterministic without
// a global generator, so the members come from Draws (engine.h) seeded with the key and
// the writer's wall clock, each draw an index into the members in byte order.
Reply SPop(Ctx& c) {
  const std::string& key = c.argv[1];
  if (c.argv.size() > 3) return Err(kSyntax);
  int64_t count = 1;
  bool with_count = c.argv.size() == 3;
  if (with_count) {
    if (!crdt::ParseRedisInteger(c.argv[2], &count) || count < 0) {
      return Err("ERR value is out of range, must be positive");
    }
  }
  if (!TypeIs(c, key, Type::kSet)) return Err(kWrongType);
  std::vector<std::string> members = c.ks.Members(key);
  if (members.empty()) return with_count ? Reply::Array({}) : Reply::Nil();
  Draws draws(key, c.now_us);
  std::vector<std::string> popped;
  while (!members.empty() && static_cast<int64_t>(popped.size()) < count) {
    size_t i = draws.Below(members.size());
    popped.push_back(std::move(members[i]));
    members.erase(members.begin() + static_cast<ptrdiff_t>(i));
  }
  for (const std::string& m : popped) c.ks.SRem(key, m, c.delta);
  c.wrote = !popped.empty();
  if (!with_count) return Reply::Bulk(std::move(popped.front()));
  return Reply::BulkArray(popped);
}

Reply SCard(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kSet)) return Err(kWrongType);
  return Reply::Integer(static_cast<int64_t>(c.ks.Card(c.argv[1])));
}

// ---------------------------------------------------------------- keys

// DEL and UNLINK: observed-remove; a concurrent write elsewhere survives. A bounded counter
// cannot be deleted (regions spend its rights without asking): the command is refused.
Reply Del(Ctx& c) {
  for (size_t i = 1; i < c.argv.size(); ++i) {
    if (IsBoundedCounter(c, c.argv[i])) {
      return Reply::Error("ERR bounded counter '" + c.argv[i] + "' cannot be deleted");
    }
  }
  int64_t deleted = 0;
  for (size_t i = 1; i < c.argv.size(); ++i) deleted += c.ks.Del(c.argv[i], c.delta) ? 1 : 0;
  c.wrote = deleted > 0;
  return Reply::Integer(deleted);
}

Reply Exists(Ctx& c) {
  int64_t n = 0;  // a key named twice counts twice, as in Redis
  for (size_t i = 1; i < c.argv.size(); ++i) n += c.ks.TypeOf(c.argv[i]) != Type::kNone ? 1 : 0;
  return Reply::Integer(n);
}

Reply TypeCmd(Ctx& c) { return Reply::Status(crdt::TypeName(c.ks.TypeOf(c.argv[1]))); }

Reply DbSize(Ctx& c) { return Reply::Integer(static_cast<int64_t>(c.ks.KeyCount())); }

Reply Keys(Ctx& c) {
  std::vector<std::string> out;
  for (std::string& k : c.ks.Keys()) {  // sorted
    if (GlobMatch(c.argv[1], k)) out.push_back(std::move(k));
  }
  return Reply::BulkArray(out);
}

// ---------------------------------------------------------------- hashes

Reply HSetPairs(Ctx& c, bool reply_ok, std::string_view name) {
  if (c.argv.size() % 2 == 1) {
    return ArityError(name);
  }
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  int64_t created = 0;
  for (size_t i = 2; i + 1 < c.argv.size(); i += 2) {
    created += c.ks.HSet(key, c.argv[i], c.argv[i + 1], c.now_us, c.delta) ? 1 : 0;
  }
  c.wrote = true;
  return reply_ok ? Ok() : Reply::Integer(created);
}

Reply HSet(Ctx& c) { return HSetPairs(c, /*reply_ok=*/false, "hset"); }
Reply HMSet(Ctx& c) { return HSetPairs(c, /*reply_ok=*/true, "hmset"); }

Reply HSetNx(Ctx& c) {
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  if (HashGet(c, key, c.argv[2])) return Reply::Integer(0);
  c.ks.HSet(key, c.argv[2], c.argv[3], c.now_us, c.delta);
  c.wrote = true;
  return Reply::Integer(1);
}

Reply HGet(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  return OptionalBulk(HashGet(c, c.argv[1], c.argv[2]));
}

Reply HMGet(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  std::vector<Reply> out;
  for (size_t i = 2; i < c.argv.size(); ++i)
    out.push_back(OptionalBulk(HashGet(c, c.argv[1], c.argv[i])));
  return Reply::Array(std::move(out));
}

Reply HDel(Ctx& c) {
  const std::string& key = c.argv[1];
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  int64_t removed = 0;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    if (HashGet(c, key, c.argv[i]) && c.ks.HDel(key, c.argv[i], c.delta)) ++removed;
  }
  c.wrote = removed > 0;
  return Reply::Integer(removed);
}

Reply HExists(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  return Reply::Integer(HashGet(c, c.argv[1], c.argv[2]) ? 1 : 0);
}

Reply HLen(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  const crdt::HashStore* h = HashOf(c, c.argv[1]);
  return Reply::Integer(h ? static_cast<int64_t>(h->size()) : 0);
}

// HGETALL, HKEYS, HVALS: sorted by field (Redis's order is its hash table's).
Reply HItems(Ctx& c, bool fields, bool values) {
  if (!TypeIs(c, c.argv[1], Type::kHash)) return Err(kWrongType);
  std::vector<std::string> out;
  if (const crdt::HashStore* h = HashOf(c, c.argv[1])) {
    for (auto& [f, v] : h->Items()) {
      if (fields) out.push_back(std::move(f));
      if (values) out.push_back(std::move(v));
    }
  }
  return Reply::BulkArray(out);
}

Reply HGetAll(Ctx& c) { return HItems(c, true, true); }
Reply HKeys(Ctx& c) { return HItems(c, true, false); }
Reply HVals(Ctx& c) { return HItems(c, false, true); }

// HINCRBY: the field becomes a PN-counter (increments add up across regions), with the
// same 59-bit bound and the same zero step as INCRBY.
Reply HIncrBy(Ctx& c) {
  const std::string& key = c.argv[1];
  int64_t by = 0;
  if (!crdt::ParseRedisInteger(c.argv[3], &by)) return Err(kNotInteger);
  if (!TypeIs(c, key, Type::kHash)) return Err(kWrongType);
  int64_t value = 0;
  switch (c.ks.HIncrBy(key, c.argv[2], by, &value, c.delta)) {
    case crdt::IncrStatus::kOk:
      c.wrote = true;
      return Reply::Integer(value);
    case crdt::IncrStatus::kNotInteger:
      return Err(kHashNotInteger);
    case crdt::IncrStatus::kOutOfRange:
      break;
  }
  return Err(kOverflow);
}

// ---------------------------------------------------------------- bounded counters

// BC.*: the bounded counter of bounded_counter.h. Rights are per replica (a region's
// incarnation); a region is named by the store's region names (site order), or site<N>
// when the store was not told them.
std::string RegionName(const Ctx& c, uint16_t site) {
  return site < c.regions.size() ? c.regions[site] : "site" + std::to_string(site);
}

const crdt::BoundedCounter* CounterOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv ? &kv->bc() : nullptr;
}

// The newest incarnation of `site` this replica knows of (in the key's counter or as a
// writer in the causal context); 1 if none. Rights sent to a lost incarnation are stranded.
crdt::ReplicaId NewestReplica(const Ctx& c, const crdt::BoundedCounter* bc, uint16_t site) {
  crdt::ReplicaId best = crdt::MakeReplicaId(site, 1);
  auto consider = [&](crdt::ReplicaId r) {
    if (crdt::SiteOf(r) == site && r > best) best = r;
  };
  consider(c.ks.self());
  if (bc) {
    for (crdt::ReplicaId r : bc->Replicas()) consider(r);
  }
  for (const auto& e : c.ks.context().vector()) consider(e.replica);
  return crdt::SiteOf(c.ks.self()) == site ? c.ks.self() : best;
}

// The sites to show: every named region, and any other site the counter mentions.
std::vector<uint16_t> Sites(const Ctx& c, const crdt::BoundedCounter* bc) {
  std::vector<uint16_t> sites;
  for (size_t s = 0; s < c.regions.size(); ++s) sites.push_back(static_cast<uint16_t>(s));
  sites.push_back(crdt::SiteOf(c.ks.self()));
  if (bc) {
    for (crdt::ReplicaId r : bc->Replicas()) sites.push_back(crdt::SiteOf(r));
  }
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  return sites;
}

// The amount argument argv[2]: a positive integer, or the reply to give instead.
std::optional<Reply> ParseAmount(const Ctx& c, int64_t* n) {
  if (!crdt::ParseRedisInteger(c.argv[2], n)) return Err(kNotInteger);
  if (*n <= 0) return Err(kNotPositive);
  if (!TypeIs(c, c.argv[1], Type::kBoundedCounter)) return Err(kWrongType);
  return std::nullopt;
}

Reply InsufficientRights(const Ctx& c, int64_t n) {
  const crdt::BoundedCounter* bc = CounterOf(c, c.argv[1]);
  const crdt::Int128 held = bc ? bc->Rights(c.ks.self()) : 0;
  return Reply::Error("ERR insufficient rights: region " +
                      RegionName(c, crdt::SiteOf(c.ks.self())) + " holds " +
                      crdt::FormatInt128(held) + " of " + std::to_string(n));
}

// An exact counter amount: an integer, or (past 64 bits, which only concurrent increments
// in many regions reach) its decimal text.
Reply AmountReply(crdt::Int128 v) {
  if (v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max())
    return Reply::Integer(static_cast<int64_t>(v));
  return Reply::Bulk(crdt::FormatInt128(v));
}

// The reply of a counter update: `ok` on success, else the status's error.
Reply BcReply(Ctx& c, crdt::BoundedStatus s, int64_t n, Reply ok) {
  switch (s) {
    case crdt::BoundedStatus::kOk:
      c.wrote = true;
      return ok;
    case crdt::BoundedStatus::kInsufficientRights:
      return InsufficientRights(c, n);
    case crdt::BoundedStatus::kOutOfRange:
      return Err(kOverflow);
    case crdt::BoundedStatus::kInvalid:
      break;
  }
  return Err(kNotPositive);
}

Reply BcValue(const Ctx& c) {
  const crdt::BoundedCounter* bc = CounterOf(c, c.argv[1]);
  return AmountReply(bc ? bc->Value() : 0);
}

// BC.INCRBY key n: adds n, and the rights to spend it, in the local region.
Reply BcIncrBy(Ctx& c) {
  int64_t n = 0;
  if (auto refused = ParseAmount(c, &n)) return std::move(*refused);
  crdt::BoundedStatus s = c.ks.BcIncrBy(c.argv[1], n, c.delta);
  return BcReply(c, s, n, BcValue(c));
}

// BC.DECRBY key n: subtracts n if the local region holds n rights; never waits.
Reply BcDecrBy(Ctx& c) {
  int64_t n = 0;
  if (auto refused = ParseAmount(c, &n)) return std::move(*refused);
  crdt::BoundedStatus s = c.ks.BcDecrBy(c.argv[1], n, c.delta);
  return BcReply(c, s, n, BcValue(c));
}

// BC.TRANSFER key n region: gives n of the local rights to `region`; replies with the
// rights the local region keeps.
Reply BcTransfer(Ctx& c) {
  int64_t n = 0;
  if (auto refused = ParseAmount(c, &n)) return std::move(*refused);
  const crdt::BoundedCounter* bc = CounterOf(c, c.argv[1]);
  const std::string& region = c.argv[3];
  std::optional<uint16_t> site;
  for (uint16_t s : Sites(c, bc)) {
    if (RegionName(c, s) == region) site = s;
  }
  if (!site) return Reply::Error("ERR unknown region '" + region + "'");
  if (*site == crdt::SiteOf(c.ks.self())) {
    return Err("ERR cannot transfer rights to the local region");
  }
  crdt::BoundedStatus s = c.ks.BcTransfer(c.argv[1], n, NewestReplica(c, bc, *site), c.delta);
  bc = CounterOf(c, c.argv[1]);
  return BcReply(c, s, n, AmountReply(bc ? bc->Rights(c.ks.self()) : 0));
}

// BC.GET key: the value, or nil.
Reply BcGet(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kBoundedCounter)) return Err(kWrongType);
  const crdt::BoundedCounter* bc = CounterOf(c, c.argv[1]);
  return bc && !bc->empty() ? AmountReply(bc->Value()) : Reply::Nil();
}

// BC.RIGHTS key: region, rights, region, rights, ... in site order (each region's newest
// incarnation); empty for an absent key.
Reply BcRights(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kBoundedCounter)) return Err(kWrongType);
  const crdt::BoundedCounter* bc = CounterOf(c, c.argv[1]);
  std::vector<Reply> out;
  if (bc == nullptr || bc->empty()) return Reply::Array(std::move(out));
  for (uint16_t site : Sites(c, bc)) {
    out.push_back(Reply::Bulk(RegionName(c, site)));
    out.push_back(AmountReply(bc->Rights(NewestReplica(c, bc, site))));
  }
  return Reply::Array(std::move(out));
}

// ---------------------------------------------------------------- dispatch

struct NamedHandler {
  std::string_view name;
  Handler run;
};

// The handler of every kEngine row of the command table, sorted by name.
constexpr NamedHandler kHandlers[] = {
    {"append", Append},
    {"bc.decrby", BcDecrBy},
    {"bc.get", BcGet},
    {"bc.incrby", BcIncrBy},
    {"bc.rights", BcRights},
    {"bc.transfer", BcTransfer},
    {"bitcount", BitCount},
    {"bitfield", BitFieldCmd},
    {"bitfield_ro", BitFieldRo},
    {"bitop", BitOp},
    {"bitpos", BitPos},
    {"blmove", BLMove},
    {"blmpop", BLMPop},
    {"blpop", BLPop},
    {"brpop", BRPop},
    {"brpoplpush", BRPopLPush},
    {"bzmpop", BZMPop},
    {"bzpopmax", BZPopMax},
    {"bzpopmin", BZPopMin},
    {"copy", Copy},
    {"dbsize", DbSize},
    {"decr", Decr},
    {"decrby", DecrBy},
    {"del", Del},
    {"echo", Echo},
    {"exists", Exists},
    {"expire", Expire},
    {"expireat", ExpireAt},
    {"expiretime", ExpireTime},
    {"flushall", FlushAll},
    {"flushdb", FlushAll},
    {"geoadd", GeoAdd},
    {"geodist", GeoDist},
    {"geohash", GeoHash},
    {"geopos", GeoPos},
    {"georadius", GeoRadius},
    {"georadius_ro", GeoRadiusRo},
    {"georadiusbymember", GeoRadiusByMember},
    {"georadiusbymember_ro", GeoRadiusByMemberRo},
    {"geosearch", GeoSearch},
    {"geosearchstore", GeoSearchStore},
    {"get", Get},
    {"getbit", GetBit},
    {"getdel", GetDel},
    {"getex", GetEx},
    {"getrange", GetRange},
    {"getset", GetSet},
    {"hdel", HDel},
    {"hexists", HExists},
    {"hget", HGet},
    {"hgetall", HGetAll},
    {"hincrby", HIncrBy},
    {"hincrbyfloat", HIncrByFloat},
    {"hkeys", HKeys},
    {"hlen", HLen},
    {"hmget", HMGet},
    {"hmset", HMSet},
    {"hrandfield", HRandField},
    {"hscan", HScan},
    {"hset", HSet},
    {"hsetnx", HSetNx},
    {"hstrlen", HStrLen},
    {"hvals", HVals},
    {"incr", Incr},
    {"incrby", IncrBy},
    {"incrbyfloat", IncrByFloat},
    {"keys", Keys},
    {"lcs", Lcs},
    {"lindex", LIndex},
    {"linsert", LInsert},
    {"llen", LLen},
    {"lmove", LMove},
    {"lmpop", LMPop},
    {"lpop", LPop},
    {"lpos", LPos},
    {"lpush", LPush},
    {"lpushx", LPushX},
    {"lrange", LRange},
    {"lrem", LRem},
    {"lset", LSet},
    {"ltrim", LTrim},
    {"mget", MGet},
    {"mset", MSet},
    {"msetnx", MSetNx},
    {"object", Object},
    {"persist", Persist},
    {"pexpire", PExpire},
    {"pexpireat", PExpireAt},
    {"pexpiretime", PExpireTime},
    {"pfadd", PfAdd},
    {"pfcount", PfCount},
    {"pfmerge", PfMerge},
    {"ping", Ping},
    {"psetex", PSetEx},
    {"pttl", PTtl},
    {"randomkey", RandomKey},
    {"rename", Rename},
    {"renamenx", RenameNx},
    {"rpop", RPop},
    {"rpoplpush", RPopLPush},
    {"rpush", RPush},
    {"rpushx", RPushX},
    {"sadd", SAdd},
    {"scan", Scan},
    {"scard", SCard},
    {"sdiff", SDiff},
    {"sdiffstore", SDiffStore},
    {"set", Set},
    {"setbit", SetBit},
    {"setex", SetEx},
    {"setnx", SetNx},
    {"setrange", SetRange},
    {"sinter", SInter},
    {"sintercard", SInterCard},
    {"sinterstore", SInterStore},
    {"sismember", SIsMember},
    {"smembers", SMembers},
    {"smismember", SMIsMember},
    {"smove", SMove},
    {"sort", Sort},
    {"sort_ro", SortRo},
    {"spop", SPop},
    {"srandmember", SRandMember},
    {"srem", SRem},
    {"sscan", SScan},
    {"strlen", StrLen},
    {"substr", GetRange},
    {"sunion", SUnion},
    {"sunionstore", SUnionStore},
    {"time", Time},
    {"touch", Exists},
    {"ttl", Ttl},
    {"type", TypeCmd},
    {"unlink", Del},
    {"wait", Wait},
    {"zadd", ZAdd},
    {"zcard", ZCard},
    {"zcount", ZCount},
    {"zdiff", ZDiff},
    {"zdiffstore", ZDiffStore},
    {"zincrby", ZIncrBy},
    {"zinter", ZInter},
    {"zintercard", ZInterCard},
    {"zinterstore", ZInterStore},
    {"zlexcount", ZLexCount},
    {"zmpop", ZMPop},
    {"zmscore", ZMScore},
    {"zpopmax", ZPopMax},
    {"zpopmin", ZPopMin},
    {"zrandmember", ZRandMember},
    {"zrange", ZRange},
    {"zrangebylex", ZRangeByLex},
    {"zrangebyscore", ZRangeByScore},
    {"zrangestore", ZRangeStore},
    {"zrank", ZRank},
    {"zrem", ZRem},
    {"zremrangebylex", ZRemRangeByLex},
    {"zremrangebyrank", ZRemRangeByRank},
    {"zremrangebyscore", ZRemRangeByScore},
    {"zrevrange", ZRevRange},
    {"zrevrangebylex", ZRevRangeByLex},
    {"zrevrangebyscore", ZRevRangeByScore},
    {"zrevrank", ZRevRank},
    {"zscan", ZScan},
    {"zscore", ZScore},
    {"zunion", ZUnion},
    {"zunionstore", ZUnionStore},
};

// kHandlerOfRow[i]: the index in kHandlers of the handler of kStoreCommands[i] (-1 for rows
// the engine does not run), matched by name. Checked by names only: comparing the address
// of a handler defined in another file with null is not a constant expression for GCC
// under the sanitizers.
constexpr size_t kRows = std::size(kStoreCommands);
constexpr std::array<int, kRows> kHandlerOfRow = [] {
  std::array<int, kRows> out{};
  size_t h = 0;
  for (size_t i = 0; i < kRows; ++i) {
    out[i] = -1;
    if (kStoreCommands[i].runner != CommandRunner::kEngine) continue;
    if (h < std::size(kHandlers) && kHandlers[h].name == kStoreCommands[i].name) {
      out[i] = static_cast<int>(h++);
    }
  }
  return out;
}();
constexpr bool EveryEngineRowHasItsHandler() {
  size_t used = 0;
  for (size_t i = 0; i < kRows; ++i) {
    if (kStoreCommands[i].runner != CommandRunner::kEngine) continue;
    if (kHandlerOfRow[i] < 0) return false;
    ++used;
  }
  return used == std::size(kHandlers);
}
static_assert(EveryEngineRowHasItsHandler(),
              "kHandlers must list, in order, one handler for each kEngine row of kStoreCommands");

// Deletes the hidden (due) keys among a write's key arguments (Keyspace::DropHidden); true
// if it wrote. The caller ORs that into the command's `wrote` after the handler ran, since
// handlers set `wrote` from their own change only (SREM of a missing member: false), and
// a lazy-expiry delete that is not recorded is applied here but never replicated.
bool DropHiddenKeys(Ctx& c, const CommandSpec& spec) {
  bool dropped = false;
  ForEachRangeKey(spec, c.argv,
                  [&](const std::string& key) { dropped |= c.ks.DropHidden(key, c.delta); });
  return dropped;
}

// Port of Redis 7.0 util.c stringmatchlen_impl (case-sensitive). A pattern byte past the
// end reads as NUL, as Redis reads the terminator of its sds string.
constexpr int kMaxGlobNesting = 1000;

bool GlobImpl(const char* p, int64_t plen, const char* s, int64_t slen, bool* skip_longer,
              int nesting) {
  if (nesting > kMaxGlobNesting) return false;
  auto pc = [&p, &plen](int64_t i) { return i < plen ? p[i] : '\0'; };
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (GlobImpl(p + 1, plen - 1, s, slen, skip_longer, nesting + 1)) return true;
          if (*skip_longer) return false;
          ++s;
          --slen;
        }
        // No match for the rest anywhere in the rest of the string: a longer match for an
        // earlier '*' cannot help either.
        *skip_longer = true;
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        bool negate = pc(0) == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        while (true) {
          if (pc(0) == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) match = true;
          } else if (pc(0) == ']') {
            break;
          } else if (plen <= 0) {
            --p;
            ++plen;
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = p[0];
            int end = p[2];
            int ch = s[0];
            if (start > end) std::swap(start, end);
            p += 2;
            plen -= 2;
            if (ch >= start && ch <= end) match = true;
          } else if (p[0] == s[0]) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (p[0] != s[0]) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (pc(0) == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace
}  // namespace engine

using namespace engine;  // NOLINT: this file is the engine

bool GlobMatch(std::string_view pattern, std::string_view text) {
  bool skip_longer = false;
  return GlobImpl(pattern.data(), static_cast<int64_t>(pattern.size()), text.data(),
                  static_cast<int64_t>(text.size()), &skip_longer, 0);
}

namespace {

// Whether `run` may record straight into `delta` although it already holds writes (a
// batch, Store::ExecuteHeld): the plain SET, INCR/DECR/INCRBY/DECRBY and SADD, whose
// mutators join their effect into the delta's entry for the key (the register's new write
// replaces the ones it observed, SetStore::Add and Clear replace an element's dots, counters
// join slot by slot) and touch nothing when they do not write, on a key the delta already
// lists (no new entry to leave behind) with nothing but a string or set part.
bool JoinsInPlace(const crdt::Keyspace& delta, Handler run, const std::vector<std::string>& argv) {
  const bool set = run == Set && argv.size() == 3;
  if (!set && run != Incr && run != Decr && run != IncrBy && run != DecrBy && run != SAdd) {
    return false;
  }
  const crdt::KeyValue* d = delta.Find(argv[1]);
  return d != nullptr && d->Parts() == 0 && d->hash().Empty() &&
         (!set || d->set().entry_count() == 0);
}

// CommandEngine::Execute's two ways to run the handler, each with one return, of its one
// reply, so the reply is built where the caller keeps it (GCC elides no copy in a function
// that also returns other expressions, as Execute's refusals do).
// Straight into ctx.delta (null: not recorded): emptied again if the command did not write
// and the delta was empty before.
Reply RunInPlace(Ctx& ctx, Handler run, const CommandSpec& spec, bool lazy_expiry, bool was_empty,
                 bool* wrote) {
  const bool dropped = lazy_expiry && DropHiddenKeys(ctx, spec);
  Reply reply = run(ctx);
  if (ctx.wrote || dropped) {
    if (wrote) *wrote = true;
  } else if (was_empty && !ctx.delta->empty()) {
    ctx.ks.ResetDelta(ctx.delta);  // NewDelta()'s, its node and index kept for the next write
  }
  return reply;
}

// Into a scratch delta, joined into ctx.delta if the command wrote.
Reply RunInScratch(Ctx& ctx, Handler run, const CommandSpec& spec, bool lazy_expiry, bool* wrote) {
  crdt::Keyspace scratch = ctx.ks.NewDelta();
  crdt::Keyspace* delta = std::exchange(ctx.delta, &scratch);
  const bool dropped = lazy_expiry && DropHiddenKeys(ctx, spec);
  Reply reply = run(ctx);
  if (ctx.wrote || dropped) {
    delta->Merge(scratch);
    if (wrote) *wrote = true;
  }
  ctx.delta = delta;  // not left pointing at the scratch, which goes with this frame
  return reply;
}

}  // namespace

Reply CommandEngine::Execute(crdt::Keyspace& ks, const std::vector<std::string>& argv,
                             int64_t wall_clock_us, crdt::Keyspace* delta, bool* wrote) const {
  if (argv.empty()) {
    if (wrote) *wrote = false;
    return Err("ERR empty command");
  }
  return Execute(ks, argv, wall_clock_us, delta, wrote, FindStoreCommand(argv[0]));
}

Reply CommandEngine::Execute(crdt::Keyspace& ks, const std::vector<std::string>& argv,
                             int64_t wall_clock_us, crdt::Keyspace* delta, bool* wrote,
                             const CommandSpec* spec) const {
  assert(!argv.empty() && spec == FindStoreCommand(argv[0]));
  if (wrote) *wrote = false;
  const bool stream = spec != nullptr && spec->runner == CommandRunner::kStreams;
  if (spec == nullptr || (spec->runner != CommandRunner::kEngine && !stream)) {
    return UnknownCommand(argv);
  }
  if (!spec->AcceptsArgc(argv.size())) return ArityError(spec->name);
  Handler run =
      stream ? FindStreamHandler(spec->name)
             : kHandlers[kHandlerOfRow[static_cast<size_t>(spec - std::begin(kStoreCommands))]].run;
  // Due keys read as absent for the whole command (expiry.h); a write first deletes the
  // due keys it names (Redis's lazy expiry), so it starts from an absent key.
  struct ShowAllAfter {
    crdt::Keyspace& ks;
    ~ShowAllAfter() { ks.ShowAll(); }
  } show_all_after{ks};
  ks.HideDue(FloorMs(wall_clock_us));
  const bool lazy_expiry = ks.HasExpiring() && spec->flags.find("write") != std::string_view::npos;
  // Each command records into its own scratch delta, joined into *delta only if it wrote,
  // so a refused or no-op command leaves nothing (not even an empty key entry) behind.
  // An empty delta of ks (one command, the usual case) serves as its own scratch: joining
  // a delta into an empty one copies it, so recording straight into it, and emptying it
  // again if the command did not write, gives the same delta without the join. So does a
  // delta of ks holding earlier writes, for the commands JoinsInPlace names.
  const bool direct = delta != nullptr && delta->is_delta() && delta->self() == ks.self();
  const bool was_empty = direct && delta->empty();
  const bool in_place = direct && (was_empty || (!lazy_expiry && JoinsInPlace(*delta, run, argv)));
  Ctx ctx{ks, argv, wall_clock_us, delta, regions_};
  ctx.stream_id_mode = stream_id_mode_;
  if (delta != nullptr && !in_place) return RunInScratch(ctx, run, *spec, lazy_expiry, wrote);
  return RunInPlace(ctx, run, *spec, lazy_expiry, was_empty, wrote);
}

}  // namespace cluster_sim
