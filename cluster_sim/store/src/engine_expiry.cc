// TTL commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME,
// PERSIST, SETEX, PSETEX, GETEX, with Redis 7.0's replies (expire.c, t_string.c) and the
// Active/Active rules of crdt/expiry.h: each TTL write is an entry of the key's expiry part;
// concurrent ones resolve to PERSIST, else the longest TTL. A due key reads as absent here
// (Keyspace::HideDue, set by the engine for every command); the region whose entry won
// deletes it (Store::ExpireDue).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "cluster_sim/command_table.h"
#include "cluster_sim/strings.h"
#include "crdt/string_value.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Reply InvalidExpireTime(std::string_view command) {
  return Reply::Error("ERR invalid expire time in '" + AsciiLower(command) + "' command");
}

Reply RefuseBoundedCounter(const std::string& key) {
  return Reply::Error("ERR bounded counter '" + key + "' cannot expire");
}

// EXPIRE family: `base_ms` is added to the argument (now for EXPIRE/PEXPIRE, 0 for the
// *AT forms), `seconds` says its unit. As expire.c expireGenericCommand.
Reply ExpireGeneric(Ctx& c, int64_t base_ms, bool seconds) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    const std::string& opt = c.argv[i];
    if (IEquals(opt, "nx")) {
      nx = true;
    } else if (IEquals(opt, "xx")) {
      xx = true;
    } else if (IEquals(opt, "gt")) {
      gt = true;
    } else if (IEquals(opt, "lt")) {
      lt = true;
    } else {
      return Reply::Error("ERR Unsupported option " + opt);
    }
  }
  if (nx && (xx || gt || lt)) {
    return Err("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return Err("ERR GT and LT options at the same time are not compatible");
  int64_t when = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &when)) return Err(kNotInteger);
  if (seconds) {
    if (when > kMax / 1000 || when < kMin / 1000) return InvalidExpireTime(c.argv[0]);
    when *= 1000;
  }
  // As Redis (whose base is never negative; a region's clock may be, with clock_skew).
  if (base_ms > 0 ? when > kMax - base_ms : when < kMin - base_ms) {
    return InvalidExpireTime(c.argv[0]);
  }
  when += base_ms;
  const std::string& key = c.argv[1];
  if (c.ks.TypeOf(key) == Type::kNone) return Reply::Integer(0);
  if (c.ks.TypeOf(key) == Type::kBoundedCounter) return RefuseBoundedCounter(key);
  std::optional<int64_t> current = c.ks.Deadline(key);
  if (nx && current) return Reply::Integer(0);
  if (xx && !current) return Reply::Integer(0);
  if (gt && (!current || when <= *current)) return Reply::Integer(0);
  if (lt && current && when >= *current) return Reply::Integer(0);
  if (when <= NowMs(c)) {
    c.ks.Del(key, c.delta);  // already expired: deleted now, as Redis (observed-remove)
  } else {
    c.ks.Expire(key, when, c.delta);
  }
  c.wrote = true;
  return Reply::Integer(1);
}

// TTL family (expire.c ttlGenericCommand): -2 absent, -1 no TTL, else the time left (or
// the deadline), never negative; seconds are rounded to the nearest.
Reply TtlGeneric(Ctx& c, bool ms, bool absolute) {
  const std::string& key = c.argv[1];
  if (c.ks.TypeOf(key) == Type::kNone) return Reply::Integer(-2);
  std::optional<int64_t> deadline = c.ks.Deadline(key);
  if (!deadline) return Reply::Integer(-1);
  int64_t ttl = absolute ? *deadline : *deadline - NowMs(c);
  if (ttl < 0) ttl = 0;
  return Reply::Integer(ms ? ttl : (ttl + 500) / 1000);
}

// SETEX / PSETEX key time value: SET with EX / PX.
Reply SetExGeneric(Ctx& c, std::string_view option) {
  int64_t when = 0;
  if (auto refused = ExpireDeadline(c, option, c.argv[2], c.argv[0], &when)) {
    return std::move(*refused);
  }
  const std::string& key = c.argv[1];
  if (c.ks.TypeOf(key) == Type::kBoundedCounter) return Err(kWrongType);
  c.ks.Set(key, c.argv[3], c.now_us, c.delta);
  c.ks.Expire(key, when, c.delta);
  c.wrote = true;
  return Ok();
}

}  // namespace

std::optional<Reply> ExpireDeadline(const Ctx& c, std::string_view option, std::string_view value,
                                    std::string_view command, int64_t* deadline_ms) {
  int64_t v = 0;
  if (!crdt::ParseRedisInteger(value, &v)) return Err(kNotInteger);
  bool seconds = IEquals(option, "ex") || IEquals(option, "exat");
  bool relative = IEquals(option, "ex") || IEquals(option, "px");
  if (v <= 0 || (seconds && v > kMax / 1000)) return InvalidExpireTime(command);
  if (seconds) v *= 1000;
  if (relative) {
    int64_t now = NowMs(c);
    if (now > 0 && v > kMax - now) return InvalidExpireTime(command);
    v += now;  // may be <= 0 on a clock that clock_skew puts before 1970: still valid
  }
  *deadline_ms = v;
  return std::nullopt;
}

Reply Expire(Ctx& c) { return ExpireGeneric(c, NowMs(c), /*seconds=*/true); }
Reply PExpire(Ctx& c) { return ExpireGeneric(c, NowMs(c), /*seconds=*/false); }
Reply ExpireAt(Ctx& c) { return ExpireGeneric(c, 0, /*seconds=*/true); }
Reply PExpireAt(Ctx& c) { return ExpireGeneric(c, 0, /*seconds=*/false); }

Reply Ttl(Ctx& c) { return TtlGeneric(c, /*ms=*/false, /*absolute=*/false); }
Reply PTtl(Ctx& c) { return TtlGeneric(c, /*ms=*/true, /*absolute=*/false); }
Reply ExpireTime(Ctx& c) { return TtlGeneric(c, /*ms=*/false, /*absolute=*/true); }
Reply PExpireTime(Ctx& c) { return TtlGeneric(c, /*ms=*/true, /*absolute=*/true); }

// PERSIST: a PERSIST entry, which wins over every concurrent expiry; 0 (and nothing
// written) when the key is absent or has no TTL here.
Reply Persist(Ctx& c) {
  const std::string& key = c.argv[1];
  if (c.ks.TypeOf(key) == Type::kNone || !c.ks.Deadline(key)) return Reply::Integer(0);
  c.ks.Persist(key, c.delta);
  c.wrote = true;
  return Reply::Integer(1);
}

Reply SetEx(Ctx& c) { return SetExGeneric(c, "ex"); }
Reply PSetEx(Ctx& c) { return SetExGeneric(c, "px"); }

// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST] (t_string.c getexCommand).
Reply GetEx(Ctx& c) {
  std::string_view option;  // ex, px, exat, pxat or persist; empty: none
  std::string_view value;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    std::string_view opt = c.argv[i];
    bool has_next = i + 1 < c.argv.size();
    bool timed =
        IEquals(opt, "ex") || IEquals(opt, "px") || IEquals(opt, "exat") || IEquals(opt, "pxat");
    // As Redis: one kind of option; the same one again replaces the first.
    bool compatible = option.empty() || IEquals(option, opt);
    if (IEquals(opt, "persist") && compatible) {
      option = opt;
    } else if (timed && compatible && has_next) {
      option = opt;
      value = c.argv[++i];
    } else {
      return Err(kSyntax);
    }
  }
  bool persist = IEquals(option, "persist");
  int64_t when = 0;
  if (!option.empty() && !persist) {
    if (auto refused = ExpireDeadline(c, option, value, "getex", &when)) {
      return std::move(*refused);
    }
  }
  const std::string& key = c.argv[1];
  Type t = c.ks.TypeOf(key);
  if (t == Type::kNone) return Reply::Nil();
  if (t != Type::kString) return Err(kWrongType);
  Reply reply = OptionalBulk(c.ks.Get(key));
  bool absolute = IEquals(option, "exat") || IEquals(option, "pxat");
  if (!option.empty() && !persist) {
    if (absolute && when <= NowMs(c)) {
      c.ks.Del(key, c.delta);
    } else {
      c.ks.Expire(key, when, c.delta);
    }
    c.wrote = true;
  } else if (persist && c.ks.Deadline(key)) {
    c.ks.Persist(key, c.delta);
    c.wrote = true;
  }
  return reply;
}

}  // namespace engine
}  // namespace cluster_sim
