#include "cluster_sim/scripting.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lua.hpp>

#include "cluster_sim/command_table.h"
#include "cluster_sim/resp3.h"
#include "cluster_sim/strings.h"

extern "C" {
int luaopen_cjson(lua_State* L);  // Debian's lua-cjson (liblua5.1-cjson)
int luaopen_bit(lua_State* L);    // Debian's lua-bitop (liblua5.1-bitop)
}

namespace cluster_sim {
namespace {

constexpr int kHookEvery = 1000;  // instructions between two budget checks
constexpr int kMaxDepth = 1000;   // nesting of replies converted either way

// Registry keys.
constexpr const char* kScriptsKey = "aasim.scripts";  // sha -> compiled function
constexpr const char* kRealGlobalsKey = "aasim.globals";
constexpr const char* kToStringKey = "aasim.tostring";

std::string ErrorScriptSuffix(std::string_view sha, std::string_view source, int line) {
  std::string s = " script: ";
  s.append(sha).append(", on ").append(source).append(":").append(std::to_string(line));
  return s.append(".");
}

// As Redis's luaPushErrorBuff: "-CODE msg" keeps CODE, anything else gets "ERR ".
std::string NormalizeError(std::string_view text) {
  std::string code = "ERR";
  std::string_view msg = text;
  if (!text.empty() && text[0] == '-') {
    size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      msg = text.substr(1);
    } else {
      code = std::string(text.substr(1, space - 1));
      msg = text.substr(space + 1);
    }
  }
  while (!msg.empty() && (msg.back() == '\r' || msg.back() == '\n')) msg.remove_suffix(1);
  return code + " " + std::string(msg);
}

int64_t LuaNumberToInteger(lua_Number n) {
  // As the C cast on x86-64 (what Redis does): out of range and NaN give INT64_MIN.
  if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0)) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(n);
}

}  // namespace

// ---- SHA-1 (FIPS 180-1) ----

std::string Scripts::Sha1Hex(std::string_view data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(data);
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  auto rol = [](uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d), k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d, k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint32_t v : h) {
    for (int i = 28; i >= 0; i -= 4) out.push_back(kHex[(v >> i) & 0xf]);
  }
  return out;
}

// ---- the interpreter ----

struct Scripts::Lua {
  lua_State* L = nullptr;
  size_t memory = 0;
  uint64_t budget;
  std::set<std::string> shas;  // the cache's keys (the functions live in the registry)
  const LogSink* log = nullptr;

  // The current run.
  const Call* call = nullptr;
  bool read_only = false;
  int resp = 2;  // redis.setresp: how redis.call's replies become Lua values
  uint64_t executed = 0;
  bool over_budget = false;
  std::string call_error;  // the last error redis.call raised (a string, raised as is)
  uint64_t rand_state = 0;

  explicit Lua(uint64_t instruction_budget);
  ~Lua() {
    if (L != nullptr) lua_close(L);
  }

  static Lua* Of(lua_State* L) { return static_cast<Lua*>(lua_touserdata(L, lua_upvalueindex(1))); }
  void Register(const char* name, lua_CFunction fn) {  // on the table at the top
    lua_pushlightuserdata(L, this);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
  }

  // Compiles `body` into the cache; "" or the compile error.
  std::string Compile(const std::string& sha, std::string_view body);
  Reply Eval(const std::string& sha, const std::vector<std::string>& argv, size_t numkeys);
  void Flush();
};

namespace {

void* Alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* m = static_cast<Scripts::Lua*>(ud);
  if (nsize == 0) {
    std::free(ptr);
    m->memory -= osize;
    return nullptr;
  }
  if (nsize > osize && m->memory + (nsize - osize) > Scripts::kMemoryLimitBytes) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p != nullptr) m->memory = m->memory - osize + nsize;
  return p;
}

int Panic(lua_State* L) {
  std::fprintf(stderr, "aasim: Lua panic: %s\n", lua_tostring(L, -1));
  std::abort();
}

void Hook(lua_State* L, lua_Debug* ar) {
  (void)ar;
  lua_getfield(L, LUA_REGISTRYINDEX, "aasim.self");
  auto* m = static_cast<Scripts::Lua*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  m->executed += m->over_budget ? 1 : kHookEvery;
  if (m->executed > m->budget || m->over_budget) {
    if (!m->over_budget) {
      m->over_budget = true;
      lua_sethook(L, Hook, LUA_MASKCOUNT, 1);  // every instruction now: pcall cannot hide it
    }
    luaL_error(L, "instruction budget exceeded");
  }
}

// Globals: reading an unset one fails, writing any fails (Redis 7.0's sandbox).
int GlobalIndex(lua_State* L) {
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    name ? name : "?");
}

int ReadonlyError(lua_State* L) { return luaL_error(L, "Attempt to modify a readonly table"); }

// Replaces the table at the top by an empty proxy that reads through to it and refuses
// writes; `index` (if not 0) is the __index function to use instead.
void MakeReadonly(lua_State* L, lua_CFunction index) {
  lua_newtable(L);  // proxy
  lua_newtable(L);  // its metatable
  if (index != nullptr) {
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, index, 1);
  } else {
    lua_pushvalue(L, -3);
  }
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyError);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_remove(L, -2);
}

// Redis's math.random: a 48-bit LCG (drand48's) seeded 0 at every script run.
uint32_t NextRand(uint64_t* x) {
  *x = (0x5DEECE66DULL * *x + 0xB) & ((uint64_t{1} << 48) - 1);
  return static_cast<uint32_t>(*x >> 17);
}
uint64_t SeedRand(int32_t seed) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(seed)) << 16) | 0x330E;
}

int MathRandom(lua_State* L) {
  Scripts::Lua* m = Scripts::Lua::Of(L);
  constexpr uint32_t kMax = 2147483647;
  lua_Number r = static_cast<lua_Number>(NextRand(&m->rand_state) % kMax) / kMax;
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, r);
      break;
    case 1: {
      int u = luaL_checkint(L, 1);
      luaL_argcheck(L, 1 <= u, 1, "interval is empty");
      lua_pushnumber(L, std::floor(r * u) + 1);
      break;
    }
    case 2: {
      int l = luaL_checkint(L, 1);
      int u = luaL_checkint(L, 2);
      luaL_argcheck(L, l <= u, 2, "interval is empty");
      lua_pushnumber(L, std::floor(r * (u - l + 1)) + l);
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  return 1;
}

int MathRandomSeed(lua_State* L) {
  Scripts::Lua::Of(L)->rand_state = SeedRand(luaL_checkint(L, 1));
  return 0;
}

// Pushes {err=text} (a Redis error as a Lua value).
void PushErrorTable(lua_State* L, std::string_view text) {
  lua_newtable(L);
  lua_pushlstring(L, text.data(), text.size());
  lua_setfield(L, -2, "err");
}

// Redis reply -> Lua value (RESP2 rules). False if the Lua stack cannot grow.
bool PushReply(lua_State* L, const Reply& r, int depth) {
  if (depth > kMaxDepth || !lua_checkstack(L, 4)) return false;
  switch (r.type) {
    case Reply::Type::kStatus:
      lua_newtable(L);
      lua_pushlstring(L, r.str.data(), r.str.size());
      lua_setfield(L, -2, "ok");
      return true;
    case Reply::Type::kError:
      PushErrorTable(L, r.str);
      return true;
    case Reply::Type::kInteger:
      lua_pushnumber(L, static_cast<lua_Number>(r.integer));
      return true;
    case Reply::Type::kBulk:
    case Reply::Type::kDouble:  // (only scripts make the RESP3 kinds: as RESP2 reads them)
      lua_pushlstring(L, r.str.data(), r.str.size());
      return true;
    case Reply::Type::kBool:
      lua_pushnumber(L, static_cast<lua_Number>(r.integer));
      return true;
    case Reply::Type::kNil:
    case Reply::Type::kNilArray:
      lua_pushboolean(L, 0);
      return true;
    case Reply::Type::kArray:
    case Reply::Type::kMap:
    case Reply::Type::kSet:
      lua_createtable(L, static_cast<int>(r.elements.size()), 0);
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (!PushReply(L, r.elements[i], depth + 1)) return false;
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      return true;
  }
  lua_pushboolean(L, 0);
  return true;
}

// A reply typed for RESP3 -> Lua value (redis.setresp(3)): null is nil, a map
// {map={k=v, ...}}, a set {set={m=true, ...}}, a double {double=n}. False if the Lua
// stack cannot grow.
bool PushResp3(lua_State* L, const Resp3Value& v, int depth) {
  using K = Resp3Value::Kind;
  if (depth > kMaxDepth || !lua_checkstack(L, 4)) return false;
  const char* field = v.kind == K::kMap ? "map" : v.kind == K::kSet ? "set" : "double";
  switch (v.kind) {
    case K::kNull:
      lua_pushnil(L);
      return true;
    case K::kPlain:
      return PushReply(L, *v.plain, depth);
    case K::kBool:
      lua_pushboolean(L, v.plain->integer != 0);
      return true;
    case K::kArray:
      lua_createtable(L, static_cast<int>(v.items.size()), 0);
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (!PushResp3(L, v.items[i], depth + 1)) return false;
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      return true;
    case K::kDouble:
      lua_newtable(L);
      lua_pushnumber(L, std::strtod(std::string(v.text).c_str(), nullptr));
      break;
    case K::kMap:
    case K::kSet:
      lua_newtable(L);
      lua_newtable(L);
      for (size_t i = 0; i < v.items.size(); i += v.kind == K::kMap ? 2 : 1) {
        if (!PushResp3(L, v.items[i], depth + 1)) return false;
        if (v.kind == K::kSet) {
          lua_pushboolean(L, 1);
        } else if (!PushResp3(L, v.items[i + 1], depth + 1)) {
          return false;
        }
        if (lua_isnil(L, -2)) {
          lua_pop(L, 2);
        } else {
          lua_rawset(L, -3);
        }
      }
      break;
  }
  lua_setfield(L, -2, field);
  return true;
}

// The field `name` of the table at `idx`, pushed; its Lua type.
int RawField(lua_State* L, int idx, const char* name) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  lua_pushstring(L, name);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

// Lua value at `idx` -> Redis reply. `resp` is the script's redis.setresp.
Reply ToReply(lua_State* L, int idx, int depth, int resp) {
  if (depth > kMaxDepth || !lua_checkstack(L, 4)) {
    return Reply::Error("ERR reached lua stack limit");
  }
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      return Reply::Bulk(std::string(s, len));
    }
    case LUA_TBOOLEAN:
      if (resp == 3) return Reply::Bool(lua_toboolean(L, idx));
      return lua_toboolean(L, idx) ? Reply::Integer(1) : Reply::Nil();
    case LUA_TNUMBER:
      return Reply::Integer(LuaNumberToInteger(lua_tonumber(L, idx)));
    case LUA_TTABLE: {
      lua_pushstring(L, "err");
      lua_rawget(L, idx);
      if (lua_type(L, -1) == LUA_TSTRING) {
        std::string text = OneLine(lua_tostring(L, -1));
        lua_pop(L, 1);
        return Reply::Error(std::move(text));
      }
      lua_pop(L, 1);
      lua_pushstring(L, "ok");
      lua_rawget(L, idx);
      if (lua_type(L, -1) == LUA_TSTRING) {
        std::string text = OneLine(lua_tostring(L, -1));
        lua_pop(L, 1);
        return Reply::Status(std::move(text));
      }
      lua_pop(L, 1);
      // RESP3 values: a double (its text as Redis's addReplyDouble writes it), a map, a
      // set; a big number and a verbatim string become bulks (what a RESP2 client reads).
      if (RawField(L, idx, "double") == LUA_TNUMBER) {
        const double d = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (std::isinf(d)) return Reply::Double(d > 0 ? "inf" : "-inf");
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%.17g", d);
        return Reply::Double(buf);
      }
      lua_pop(L, 1);
      if (RawField(L, idx, "big_number") == LUA_TSTRING) {
        std::string text = OneLine(lua_tostring(L, -1));
        lua_pop(L, 1);
        return Reply::Bulk(std::move(text));
      }
      lua_pop(L, 1);
      if (RawField(L, idx, "verbatim_string") == LUA_TTABLE) {
        const bool format = RawField(L, -1, "format") == LUA_TSTRING;
        lua_pop(L, 1);
        if (format && RawField(L, -1, "string") == LUA_TSTRING) {
          size_t len = 0;
          const char* str = lua_tolstring(L, -1, &len);
          Reply r = Reply::Bulk(std::string(str, len));
          lua_pop(L, 2);
          return r;
        }
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      for (const char* aggregate : {"map", "set"}) {
        if (RawField(L, idx, aggregate) != LUA_TTABLE) {
          lua_pop(L, 1);
          continue;
        }
        const bool map = aggregate[0] == 'm';
        std::vector<Reply> elements;
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
          elements.push_back(ToReply(L, -2, depth + 1, resp));
          if (map) elements.push_back(ToReply(L, -1, depth + 1, resp));
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
        return map ? Reply::Map(std::move(elements)) : Reply::Set(std::move(elements));
      }
      std::vector<Reply> elements;
      for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          break;
        }
        elements.push_back(ToReply(L, -1, depth + 1, resp));
        lua_pop(L, 1);
      }
      return Reply::Array(std::move(elements));
    }
    default:
      return Reply::Nil();
  }
}

// What a command argument in a script may be: a string, or a number (written as Redis
// writes it: the shortest form that reads back the same).
bool ArgString(lua_State* L, int idx, std::string* out) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len = 0;
    const char* s = lua_tolstring(L, idx, &len);
    out->assign(s, len);
    return true;
  }
  if (lua_type(L, idx) != LUA_TNUMBER) return false;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), static_cast<double>(lua_tonumber(L, idx)));
  out->assign(buf, res.ptr);
  return true;
}

bool HasBlockOption(const std::vector<std::string>& argv) {
  for (size_t i = 1; i < argv.size(); ++i) {
    if (IEquals(argv[i], "block")) return true;
    if (IEquals(argv[i], "streams")) return false;
  }
  return false;
}

// redis.call (raise) and redis.pcall: the reply, or the error text (on *error).
// Returns the number of values pushed; with `raise`, -1 means "error text pushed, raise it".
int CallImpl(lua_State* L, bool raise) {
  Scripts::Lua* m = Scripts::Lua::Of(L);
  std::string error;
  Reply reply;
  const int argc = lua_gettop(L);
  std::vector<std::string> argv(static_cast<size_t>(argc));
  if (argc == 0) {
    error = "ERR Please specify at least one argument for this redis lib call";
  } else {
    for (int i = 1; i <= argc && error.empty(); ++i) {
      if (!ArgString(L, i, &argv[static_cast<size_t>(i - 1)])) {
        error = "ERR Lua redis lib command arguments must be strings or integers";
      }
    }
    const CommandSpec* spec = error.empty() ? FindStoreCommand(argv[0]) : nullptr;
    if (!error.empty()) {
    } else if (spec == nullptr) {
      error = "ERR Unknown Redis command called from script";
    } else if (!spec->AcceptsArgc(argv.size())) {
      error = "ERR Wrong number of args calling Redis command from script";
    } else if (spec->HasFlag("noscript")) {
      error = "ERR This Redis command is not allowed from script";
    } else if (m->read_only && spec->HasFlag("write")) {
      error = "ERR Write commands are not allowed from read-only scripts.";
    } else if (spec->HasFlag("blocking") && HasBlockOption(argv)) {
      // As Redis's xreadCommand: argv[0] as the script wrote it.
      error = "ERR " + std::string(ErrorArg(argv[0], argv[0].size())) +
              " command is not allowed with BLOCK option from scripts";
    } else {
      reply = (*m->call)(argv);
      if (reply.is_error()) error = reply.str;
    }
  }
  if (!error.empty()) {
    if (raise) {
      m->call_error = error;
      lua_pushlstring(L, error.data(), error.size());
      return -1;
    }
    PushErrorTable(L, error);
    return 1;
  }
  if (m->resp == 3 ? !PushResp3(L, TypeResp3(reply, Resp3ShapeOf(argv)), 0)
                   : !PushReply(L, reply, 0)) {
    lua_settop(L, argc);
    m->call_error = "ERR reached lua stack limit";
    lua_pushstring(L, m->call_error.c_str());
    return -1;
  }
  return 1;
}

int RedisCall(lua_State* L) {
  int n = CallImpl(L, true);
  return n < 0 ? lua_error(L) : n;
}

int RedisPCall(lua_State* L) { return CallImpl(L, false); }

// Raises `text` as a Redis error (as redis.call does).
int RaiseRedisError(lua_State* L, const char* text) {
  Scripts::Lua* m = Scripts::Lua::Of(L);
  m->call_error = text;
  lua_pushstring(L, text);
  return lua_error(L);
}

// redis.error_reply (error) and redis.status_reply: {err=...} or {ok=...} of one string.
int ReplyTable(lua_State* L, bool error) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    PushErrorTable(L, "ERR wrong number or type of arguments");
  } else if (error) {
    // As Redis 7: the text gets its '-', so its first word is the code ("my err" is error
    // code "my"; one word alone is an ERR message).
    std::string text = lua_tostring(L, 1);
    if (text.empty() || text[0] != '-') text.insert(0, 1, '-');
    PushErrorTable(L, NormalizeError(text));
  } else {
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
  }
  return 1;
}

int RedisErrorReply(lua_State* L) { return ReplyTable(L, true); }
int RedisStatusReply(lua_State* L) { return ReplyTable(L, false); }

// redis.setresp(2|3): the protocol redis.call's replies are read in, for this run.
int RedisSetResp(lua_State* L) {
  if (lua_gettop(L) != 1) return RaiseRedisError(L, "ERR redis.setresp() requires one argument.");
  const int resp = static_cast<int>(lua_tonumber(L, 1));
  if (resp != 2 && resp != 3) return RaiseRedisError(L, "ERR RESP version must be 2 or 3.");
  Scripts::Lua::Of(L)->resp = resp;
  return 0;
}

int RedisSha1Hex(lua_State* L) {
  if (lua_gettop(L) != 1) return RaiseRedisError(L, "ERR wrong number of arguments");
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  std::string hex = Scripts::Sha1Hex(std::string_view(s ? s : "", s ? len : 0));
  lua_pushlstring(L, hex.data(), hex.size());
  return 1;
}

int RedisLog(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc < 2) return RaiseRedisError(L, "ERR redis.log() requires two arguments or more.");
  if (!lua_isnumber(L, 1)) return RaiseRedisError(L, "ERR First argument must be a number");
  const lua_Number level = lua_tonumber(L, 1);
  if (level < 0 || level > 3) return RaiseRedisError(L, "ERR Invalid debug level.");
  Scripts::Lua* m = Scripts::Lua::Of(L);
  if (m->log != nullptr && *m->log) {
    std::string line;
    for (int i = 2; i <= argc; ++i) {
      size_t len = 0;
      const char* s = lua_tolstring(L, i, &len);
      if (s == nullptr) continue;
      if (i != 2) line.push_back(' ');
      line.append(s, len);
    }
    (*m->log)(static_cast<int>(level), line);
  }
  return 0;
}

int RedisTrue(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}
int RedisFalse(lua_State* L) {
  lua_pushboolean(L, 0);
  return 1;
}
int RedisNothing(lua_State* L) {
  (void)L;
  return 0;
}

// The error handler of a script run (Redis's __redis__err__handler): makes the error a
// table {err=..., source=..., line=...}, the line being the script's.
int ErrorHandler(lua_State* L) {
  Scripts::Lua* m = Scripts::Lua::Of(L);
  if (!lua_istable(L, 1)) {
    bool from_call = lua_type(L, 1) == LUA_TSTRING && m->call_error == lua_tostring(L, 1);
    lua_newtable(L);
    if (from_call) {
      lua_pushvalue(L, 1);
    } else {
      lua_pushstring(L, "ERR ");
      lua_getfield(L, LUA_REGISTRYINDEX, kToStringKey);
      lua_pushvalue(L, 1);
      lua_call(L, 1, 1);
      lua_concat(L, 2);
    }
    lua_setfield(L, -2, "err");
    lua_replace(L, 1);
  }
  lua_settop(L, 1);
  lua_Debug ar;
  bool found = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
  if (found && std::strcmp(ar.what, "C") == 0) {
    found = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
  }
  if (found) {
    lua_pushstring(L, ar.source);
    lua_setfield(L, 1, "source");
    lua_pushinteger(L, ar.currentline);
    lua_setfield(L, 1, "line");
  }
  return 1;
}

}  // namespace

Scripts::Lua::Lua(uint64_t instruction_budget) : budget(instruction_budget) {
  L = lua_newstate(Alloc, this);
  if (L == nullptr) {
    std::fprintf(stderr, "aasim: cannot create a Lua state\n");
    std::abort();
  }
  lua_atpanic(L, Panic);
  lua_pushlightuserdata(L, this);
  lua_setfield(L, LUA_REGISTRYINDEX, "aasim.self");
  const std::pair<const char*, lua_CFunction> libs[] = {
      {"", luaopen_base},
      {LUA_TABLIBNAME, luaopen_table},
      {LUA_STRLIBNAME, luaopen_string},
      {LUA_MATHLIBNAME, luaopen_math},
  };
  for (const auto& [name, open] : libs) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
  }
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  lua_setglobal(L, "cjson");
  lua_pushcfunction(L, luaopen_bit);
  lua_call(L, 0, 1);
  lua_setglobal(L, "bit");
  for (const char* name : {"print", "dofile", "loadfile", "getfenv", "setfenv", "require", "module",
                           "newproxy", "gcinfo", "package"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  lua_getglobal(L, "tostring");
  lua_setfield(L, LUA_REGISTRYINDEX, kToStringKey);

  lua_getglobal(L, LUA_MATHLIBNAME);
  Register("random", MathRandom);
  Register("randomseed", MathRandomSeed);
  lua_pop(L, 1);

  lua_newtable(L);  // redis
  Register("call", RedisCall);
  Register("pcall", RedisPCall);
  Register("error_reply", RedisErrorReply);
  Register("status_reply", RedisStatusReply);
  Register("setresp", RedisSetResp);
  Register("sha1hex", RedisSha1Hex);
  Register("log", RedisLog);
  Register("replicate_commands", RedisTrue);
  Register("set_repl", RedisNothing);
  Register("breakpoint", RedisFalse);
  Register("debug", RedisNothing);
  const std::pair<const char*, int> constants[] = {
      {"LOG_DEBUG", 0},   {"LOG_VERBOSE", 1},  {"LOG_NOTICE", 2},
      {"LOG_WARNING", 3}, {"REPL_NONE", 0},    {"REPL_AOF", 1},
      {"REPL_SLAVE", 2},  {"REPL_REPLICA", 2}, {"REPL_ALL", 3},
  };
  for (const auto& [name, value] : constants) {
    lua_pushinteger(L, value);
    lua_setfield(L, -2, name);
  }
  lua_setglobal(L, "redis");

  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kScriptsKey);

  // The sandbox: library tables and the globals become read-only proxies.
  for (const char* lib :
       {"redis", LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, "cjson", "bit", LUA_COLIBNAME}) {
    lua_getglobal(L, lib);
    if (lua_istable(L, -1)) {
      MakeReadonly(L, nullptr);
      lua_setglobal(L, lib);
    } else {
      lua_pop(L, 1);
    }
  }
  // Move every global into a hidden table the empty globals table reads through.
  lua_newtable(L);  // real
  lua_pushnil(L);
  while (lua_next(L, LUA_GLOBALSINDEX) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  std::vector<std::string> names;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) names.emplace_back(lua_tostring(L, -1));
  }
  for (const std::string& n : names) {
    lua_pushnil(L);
    lua_setfield(L, LUA_GLOBALSINDEX, n.c_str());
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, kRealGlobalsKey);
  lua_newtable(L);  // metatable of the globals
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, GlobalIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyError);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, LUA_GLOBALSINDEX);
  lua_pop(L, 1);
}

std::string Scripts::Lua::Compile(const std::string& sha, std::string_view body) {
  if (shas.count(sha) != 0) return "";
  const int top = lua_gettop(L);
  if (luaL_loadbuffer(L, body.data(), body.size(), "@user_script") != 0) {
    std::string error = "ERR Error compiling script (new function): ";
    const char* msg = lua_tostring(L, -1);
    error.append(msg ? msg : "(no message)");
    lua_settop(L, top);
    return OneLine(error);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, kScriptsKey);
  lua_pushlstring(L, sha.data(), sha.size());
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_settop(L, top);
  shas.insert(sha);
  return "";
}

void Scripts::Lua::Flush() {
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kScriptsKey);
  shas.clear();
  lua_gc(L, LUA_GCCOLLECT, 0);
}

Reply Scripts::Lua::Eval(const std::string& sha, const std::vector<std::string>& argv,
                         size_t numkeys) {
  const int top = lua_gettop(L);
  // KEYS and ARGV.
  lua_getfield(L, LUA_REGISTRYINDEX, kRealGlobalsKey);
  const size_t first = 3;
  for (int part = 0; part < 2; ++part) {
    const size_t from = part == 0 ? first : first + numkeys;
    const size_t to = part == 0 ? first + numkeys : argv.size();
    lua_createtable(L, static_cast<int>(to - from), 0);
    for (size_t i = from; i < to; ++i) {
      lua_pushlstring(L, argv[i].data(), argv[i].size());
      lua_rawseti(L, -2, static_cast<int>(i - from + 1));
    }
    lua_setfield(L, -2, part == 0 ? "KEYS" : "ARGV");
  }
  lua_pop(L, 1);

  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, ErrorHandler, 1);
  const int handler = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, kScriptsKey);
  lua_pushlstring(L, sha.data(), sha.size());
  lua_rawget(L, -2);
  lua_remove(L, -2);

  executed = 0;
  over_budget = false;
  call_error.clear();
  rand_state = SeedRand(0);
  resp = 2;
  lua_sethook(L, Hook, LUA_MASKCOUNT, kHookEvery);
  const int status = lua_pcall(L, 0, 1, handler);
  lua_sethook(L, nullptr, 0, 0);

  Reply reply;
  if (status == 0) {
    reply = ToReply(L, -1, 0, resp);
  } else if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "err");
    std::string msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_getfield(L, -2, "source");
    std::string source = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_getfield(L, -3, "line");
    const int line = lua_isnumber(L, -1) ? static_cast<int>(lua_tointeger(L, -1)) : 0;
    if (over_budget) {
      msg = "BUSY Script exceeded the instruction budget of " + std::to_string(budget) +
            " Lua instructions and was stopped";
    }
    if (line != 0 && !source.empty()) msg += ErrorScriptSuffix(sha, source, line);
    reply = Reply::Error(OneLine(msg));
  } else {
    const char* msg = lua_tostring(L, -1);
    std::string text = msg ? msg : "execution failure";
    reply = Reply::Error(OneLine("ERR Error running script " + sha + ", " + text.substr(0, 100)));
  }
  lua_settop(L, top);
  call = nullptr;
  return reply;
}

// ---- Scripts ----

Scripts::Scripts(uint64_t instruction_budget) : lua_(std::make_unique<Lua>(instruction_budget)) {}

Scripts::~Scripts() = default;

size_t Scripts::cached_scripts() const { return lua_->shas.size(); }

static_assert(std::all_of(std::begin(kStoreCommands), std::end(kStoreCommands),
                          [](const CommandSpec& s) {
                            return s.runner != CommandRunner::kScript || s.name[0] == 'e' ||
                                   s.name[0] == 's';
                          }),
              "a script command's name must start with 'e' or 's' (Scripts::Handles)");

bool Scripts::Handles(std::string_view name) {
  // The first letter turns away most names before the table's lookup.
  if (name.empty()) return false;
  const char c = AsciiLower(name[0]);
  if (c != 'e' && c != 's') return false;
  return Handles(FindStoreCommand(name));
}

namespace {

// SCRIPT's subcommands: the command table's (CheckSubcommand) answers an unknown one or a
// wrong count; every one Redis 7.0 knows is answered here. DEBUG: aasim has no Lua
// debugger, so NO (leave it off) is Redis's OK and YES and SYNC are refused.
Reply ScriptCommand(Scripts::Lua& m, const std::vector<std::string>& argv) {
  if (std::optional<Reply> error = CheckSubcommand("script", argv)) return std::move(*error);
  const std::string sub = AsciiLower(argv[1]);
  if (sub == "debug") {
    const std::string mode = AsciiLower(argv[2]);
    if (mode == "no") return Reply::Status("OK");
    if (mode == "yes" || mode == "sync") {
      return Reply::Error(std::string("ERR SCRIPT DEBUG ") + (mode == "yes" ? "YES" : "SYNC") +
                          " is not supported by aasim (it has no Lua debugger)");
    }
    return Reply::Error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
  }
  if (sub == "load") {
    std::string sha = Scripts::Sha1Hex(argv[2]);
    std::string error = m.Compile(sha, argv[2]);
    return error.empty() ? Reply::Bulk(sha) : Reply::Error(error);
  }
  if (sub == "exists") {
    std::vector<Reply> out;
    for (size_t i = 2; i < argv.size(); ++i) {
      out.push_back(Reply::Integer(m.shas.count(AsciiLower(argv[i])) ? 1 : 0));
    }
    return Reply::Array(std::move(out));
  }
  if (sub == "flush") {
    if (argv.size() == 3 && !IEquals(argv[2], "async") && !IEquals(argv[2], "sync")) {
      return Reply::Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    if (argv.size() > 3) return Reply::Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    m.Flush();
    return Reply::Status("OK");
  }
  if (sub == "kill") return Reply::Error("NOTBUSY No scripts in execution right now.");
  std::vector<std::string> help = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DEBUG NO",
      "    Leave the Lua debugger off (aasim has none: YES and SYNC are refused).",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help."};
  std::vector<Reply> out;
  for (std::string& line : help) out.push_back(Reply::Status(std::move(line)));
  return Reply::Array(std::move(out));
}

}  // namespace

Reply Scripts::Run(const std::vector<std::string>& argv, const Call& call) {
  Lua& m = *lua_;
  const std::string name = AsciiLower(argv[0]);
  if (name == "script") return ScriptCommand(m, argv);
  // EVAL script numkeys [key ...] [arg ...], and the others alike.
  int64_t numkeys = 0;
  auto [end, ec] = std::from_chars(argv[2].data(), argv[2].data() + argv[2].size(), numkeys);
  if (ec != std::errc() || end != argv[2].data() + argv[2].size()) {
    return Reply::Error("ERR value is not an integer or out of range");
  }
  if (numkeys > static_cast<int64_t>(argv.size()) - 3) {
    return Reply::Error("ERR Number of keys can't be greater than number of args");
  }
  if (numkeys < 0) return Reply::Error("ERR Number of keys can't be negative");
  const bool by_sha = name == "evalsha" || name == "evalsha_ro";
  std::string sha;
  if (by_sha) {
    sha = AsciiLower(argv[1]);
    if (sha.size() != 40 || m.shas.count(sha) == 0) {
      return Reply::Error("NOSCRIPT No matching script. Please use EVAL.");
    }
  } else {
    sha = Sha1Hex(argv[1]);
    std::string error = m.Compile(sha, argv[1]);
    if (!error.empty()) return Reply::Error(error);
  }
  m.call = &call;
  m.log = &log_;
  m.read_only = name == "eval_ro" || name == "evalsha_ro";
  return m.Eval(sha, argv, static_cast<size_t>(numkeys));
}

}  // namespace cluster_sim
