// The command engine's private seam (not installed): what every command handler sees, the
// Redis error texts handlers share, and the small helpers they use. Handlers of one family of
// commands may live in a file of their own (engine_<family>.cc) declaring them below;
// command_engine.cc keeps the one handler table (kHandlers) that names them all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "crdt/keyspace.h"

namespace cluster_sim {
namespace engine {

using Type = crdt::Keyspace::Type;

// Redis 7's error texts (server.c shared objects, t_string.c, t_hash.c).
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kHashNotInteger = "ERR hash value is not an integer";
inline constexpr std::string_view kSyntax = "ERR syntax error";

inline constexpr std::string_view kNotPositive = "ERR value is out of range, must be positive";

// Everything a command handler sees.
struct Ctx {
  crdt::Keyspace& ks;
  const std::vector<std::string>& argv;
  int64_t now_us;
  crdt::Keyspace* delta;                    // where this command's effect goes; null: not recorded
  const std::vector<std::string>& regions;  // names in site order (may be empty)
  bool wrote = false;                       // set by handlers that changed this region's view
};

inline Reply Err(std::string_view text) { return Reply::Error(std::string(text)); }
inline Reply Ok() { return Reply::Status("OK"); }

// True if `key` may be used as `want`: absent, or visibly of that type.
inline bool TypeIs(const Ctx& c, std::string_view key, Type want) {
  Type t = c.ks.TypeOf(key);
  return t == Type::kNone || t == want;
}

inline const crdt::HashStore* HashOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv ? &kv->hash : nullptr;
}

inline std::optional<std::string> HashGet(const Ctx& c, std::string_view key,
                                          std::string_view field) {
  const crdt::HashStore* h = HashOf(c, key);
  return h ? h->Get(field) : std::nullopt;
}

inline Reply OptionalBulk(std::optional<std::string> v) {
  return v ? Reply::Bulk(std::move(*v)) : Reply::Nil();
}

using Handler = Reply (*)(Ctx&);

// ---- handlers defined in engine_<family>.cc files (one section per file) ----

// engine_expiry.cc: TTLs (crdt/expiry.h for the Active/Active rules). Times are Unix
// milliseconds of the region's wall clock (Ctx::now_us).
int64_t FloorMs(int64_t us);  // microseconds to milliseconds, rounding down
inline int64_t NowMs(const Ctx& c) { return FloorMs(c.now_us); }
// The deadline of an expire option of `command` (EX, PX: relative; EXAT, PXAT: absolute;
// any case) with argument `value`, checked as Redis's getExpireMillisecondsOrReply: the
// error reply, or nullopt and *deadline_ms set.
std::optional<Reply> ExpireDeadline(const Ctx& c, std::string_view option, std::string_view value,
                                    std::string_view command, int64_t* deadline_ms);
Reply Expire(Ctx& c);
Reply ExpireAt(Ctx& c);
Reply ExpireTime(Ctx& c);
Reply GetEx(Ctx& c);
Reply Persist(Ctx& c);
Reply PExpire(Ctx& c);
Reply PExpireAt(Ctx& c);
Reply PExpireTime(Ctx& c);
Reply PSetEx(Ctx& c);
Reply PTtl(Ctx& c);
Reply SetEx(Ctx& c);
Reply Ttl(Ctx& c);

}  // namespace engine
}  // namespace cluster_sim
