// RedisStore (redis_store.h): a KeyspaceStore whose working crdt::Keyspace is committed to
// a redis-server by one EVALSHA of kCommitScript per change (or per batch of merges).
#include "cluster_sim/redis_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>

#include "cluster_sim/host_port.h"
#include "cluster_sim/strings.h"
#include "crdt/encoding.h"
#include "crdt/keyspace.h"
#include "crdt/keyspace_header.h"

namespace cluster_sim {
namespace {

// The commit script. Writes one consistent snapshot of every key changed since the last
// call, atomically with the causal context and the replication bookkeeping. Strings go in
// one MSET and metadata in one HSET per bucket, so a batch costs few redis.call()s.
//   ARGV[1] prefix        ARGV[2] causal context (encoded; "" = leave as is)
//   ARGV[3] E, then E x (log seq, effect): local effects, in seq order -> XADD <prefix>:log
//   then P, then P x (origin, contiguous seq)             -> HSET <prefix>:progress
//   then S, then S x (key, value): string keys            -> MSET
//   then O, then O x (key, kind, N, N items): other keys (kind n: deleted, S: set, h: hash,
//        z: sorted set, l: list, x: replicated stream; items: members, or field, value, ...,
//        or score, member, ..., or elements, or the stream's last id, G, G x (group, id),
//        then per entry id, F, F fields) -> DEL, SADD / HSET / ZADD / RPUSH / XADD, XSETID,
//        XGROUP CREATE
//   (a HyperLogLog is a string key holding Redis's dense HLL format, so PFCOUNT reads it)
//   then T, then T x (key, ms): keys with a TTL, the time left -> PEXPIRE (what TTL shows)
//   then M, then M x (bucket, key, metadata), grouped by bucket ("" = no metadata)
// Returns the number of keys written.
constexpr std::string_view kCommitScript = R"lua(
local p = ARGV[1]
local step = 1000
local function chunked(cmd, key, first, last)
  for j = first, last, step do
    if key then
      redis.call(cmd, key, unpack(ARGV, j, math.min(j + step - 1, last)))
    else
      redis.call(cmd, unpack(ARGV, j, math.min(j + step - 1, last)))
    end
  end
end
if ARGV[2] ~= '' then redis.call('SET', p .. ':cc', ARGV[2]) end
local i = 4
local n = tonumber(ARGV[3])
for _ = 1, n do
  redis.call('XADD', p .. ':log', ARGV[i] .. '-0', 'e', ARGV[i + 1])
  i = i + 2
end
if n > 0 then redis.call('HSET', p .. ':meta', 'seq', ARGV[i - 2]) end
n = tonumber(ARGV[i])
i = i + 1
if n > 0 then chunked('HSET', p .. ':progress', i, i + 2 * n - 1) end
i = i + 2 * n
n = tonumber(ARGV[i])
if n > 0 then chunked('MSET', nil, i + 1, i + 2 * n) end
local written = n
i = i + 1 + 2 * n
n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  local key, kind, count = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  redis.call('DEL', key)
  if count > 0 then
    if kind == 'S' then chunked('SADD', key, i, i + count - 1) end
    if kind == 'h' then chunked('HSET', key, i, i + count - 1) end
    if kind == 'z' then chunked('ZADD', key, i, i + count - 1) end
    if kind == 'l' then chunked('RPUSH', key, i, i + count - 1) end
    if kind == 'x' then
      local j, stop = i + 2, i + count - 1
      local groups, made = j, false
      j = j + 2 * tonumber(ARGV[i + 1])
      while j <= stop do
        local nf = tonumber(ARGV[j + 1])
        redis.call('XADD', key, ARGV[j], unpack(ARGV, j + 2, j + 1 + nf))
        made = true
        j = j + 2 + nf
      end
      if not made then
        redis.call('XGROUP', 'CREATE', key, 'aasim', '0', 'MKSTREAM')
        redis.call('XGROUP', 'DESTROY', key, 'aasim')
      end
      redis.call('XSETID', key, ARGV[i])
      for g = groups, i + 1 + 2 * tonumber(ARGV[i + 1]), 2 do
        redis.call('XGROUP', 'CREATE', key, ARGV[g], ARGV[g + 1])
      end
    end
  end
  i = i + count
  written = written + 1
end
n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('PEXPIRE', ARGV[i], ARGV[i + 1])
  i = i + 2
end
n = tonumber(ARGV[i])
i = i + 1
local last = i + 3 * n - 1
while i <= last do
  local bucket = ARGV[i]
  local m = p .. ':m:' .. bucket
  local set, del = {}, {}
  while i <= last and ARGV[i] == bucket do
    if ARGV[i + 2] == '' then
      del[#del + 1] = ARGV[i + 1]
    else
      set[#set + 1] = ARGV[i + 1]
      set[#set + 1] = ARGV[i + 2]
    end
    i = i + 3
  end
  if #set > 0 then redis.call('HSET', m, unpack(set)) end
  if #del > 0 then redis.call('HDEL', m, unpack(del)) end
end
return written
)lua";

// XADD with a `*` id, given the id from the simulator's clock: the id the memory store
// (LocalStreams) generates, `<ms>-<seq>` with ms = max(now, last ms) and seq counting on
// within one ms, computed in the same script as the XADD so the two are atomic.
//   KEYS[1] the stream   ARGV[1] now in ms (decimal)   ARGV[2] the id's index in the
//   command   ARGV[3..] the XADD command itself
// Redis's own `<ms>-*` does the rest (and gives its own errors: WRONGTYPE, ...).
constexpr std::string_view kXAddScript = R"lua(
local key, ms, pos = KEYS[1], ARGV[1], tonumber(ARGV[2])
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
if redis.call('TYPE', key)['ok'] == 'stream' then
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local last_ms, last_seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
      if #last_ms > #ms or (#last_ms == #ms and last_ms >= ms) then
        if last_seq == '18446744073709551615' then
          return redis.error_reply(
            'ERR The stream has exhausted the last possible ID, unable to add more items')
        end
        ms = last_ms
      end
    end
  end
end
args[pos] = ms .. '-*'
return redis.pcall(unpack(args))
)lua";

using ReplyPtr = std::unique_ptr<redisReply, void (*)(void*)>;

// Write-behind: local writes (and, apart, merged messages) committed by one call of the
// commit script.
constexpr size_t kWritesPerCall = 256;

ReplyPtr Wrap(void* r) { return ReplyPtr(static_cast<redisReply*>(r), freeReplyObject); }

Reply FromRedis(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return Reply::Bulk(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> e;
      e.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) e.push_back(FromRedis(r->element[i]));
      return Reply::Array(std::move(e));
    }
    default:
      return Reply::Nil();
  }
}

// hiredis reads RESP2's null array (`*-1`) as a nil, as it reads `$-1`: gives back the
// null arrays of the stream commands' replies where Redis sends them (XREAD and
// XREADGROUP with nothing to read, XRANGE COUNT 0, the deleted entries of an XREADGROUP
// history, the consumers of an empty XPENDING summary), as the memory store answers.
Reply StreamNullArrays(std::string_view name, Reply r) {
  using T = Reply::Type;
  const bool reads = name == "xread" || name == "xreadgroup";
  if (r.type == T::kNil && (reads || name == "xrange" || name == "xrevrange")) {
    return Reply::NilArray();
  }
  if (r.type != T::kArray) return r;
  if (name == "xpending" && r.elements.size() == 4 && r.elements[0].type == T::kInteger &&
      r.elements[3].type == T::kNil) {
    r.elements[3] = Reply::NilArray();
  }
  if (name == "xreadgroup") {
    for (Reply& stream : r.elements) {
      if (stream.type != T::kArray || stream.elements.size() != 2) continue;
      for (Reply& entry : stream.elements[1].elements) {
        if (entry.elements.size() == 2 && entry.elements[1].type == T::kNil) {
          entry.elements[1] = Reply::NilArray();
        }
      }
    }
  }
  return r;
}

uint32_t Fnv32(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Reply ReplyFromHiredis(const redisReply* r) { return FromRedis(r); }

std::string RedisAddress::ToString() const {
  std::string s = JoinHostPort(host, port);
  if (db != 0) s += "/" + std::to_string(db);
  return s;
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad Redis URL '" + std::string(url) + "': " + why +
                                   " (expected redis://[:password@]host:port/db)");
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad("it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress a;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    size_t colon = user_info.find(':');
    a.password =
        std::string(colon == std::string_view::npos ? user_info : user_info.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  std::string_view db;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string port;
  Status split = SplitHostPort(rest, &a.host, &port);
  if (!split.ok()) return bad(split.message());
  if (a.host.empty()) return bad("no host");
  uint64_t v = 0;
  if (!port.empty()) {
    if (!ParseU64(port, &v) || v == 0 || v > 65535) return bad("port must be 1..65535");
    a.port = static_cast<int>(v);
  }
  if (!db.empty()) {
    if (!ParseU64(db, &v) || v > 1000000) return bad("db must be a number");
    a.db = static_cast<int>(v);
  }
  return a;
}

Status PingRedis(const RedisAddress& address) {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout(address.host.c_str(), address.port, tv);
  if (c == nullptr || c->err != 0) {
    std::string why = c ? c->errstr : "out of memory";
    if (c != nullptr) redisFree(c);
    return Status::Unavailable("cannot connect to redis " + address.ToString() + ": " + why);
  }
  std::vector<std::vector<std::string>> cmds;
  if (!address.password.empty()) cmds.push_back({"AUTH", address.password});
  if (address.db != 0) cmds.push_back({"SELECT", std::to_string(address.db)});
  cmds.push_back({"PING"});
  Status result;
  for (const auto& args : cmds) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr r = Wrap(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      std::string why = r ? std::string(r->str, r->len) : std::string(c->errstr);
      result = Status::Unavailable("redis " + address.ToString() + ": " + args[0] + ": " + why);
      break;
    }
  }
  redisFree(c);
  return result;
}

struct RedisStore::Impl {
  Impl(RedisStore& store, RedisStoreOptions o)
      : owner(store), opt(std::move(o)), ks(store.keyspace()) {}
  ~Impl() {
    // Write-behind: the last commits; a failure is reported (on_write_behind_failure).
    if (opt.write_behind > 0 && Commit() && behind > 0) Drain();
    if (ctx != nullptr) redisFree(ctx);
  }

  RedisStore& owner;
  RedisStoreOptions opt;
  crdt::Keyspace& ks;  // the store's working copy (KeyspaceStore::keyspace())
  redisContext* ctx = nullptr;
  std::string sha;
  bool up = false;
  std::string down_reason;
  uint64_t reconnect_count = 0;
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  size_t behind = 0;           // write-behind: replies the server still owes us
  bool behind_failed = false;  // a write-behind commit failed: down for good

  std::set<std::string> pending_keys;                             // changed, not yet committed
  std::map<std::string, uint64_t, std::less<>> pending_progress;  // origin -> contiguous
  std::vector<std::pair<uint64_t, std::string>> pending_effects;  // local (seq, effect)
  size_t flushes_pending = 0;  // write-behind: Flush calls since the last commit
  uint64_t trim_to = 0;        // write-behind: the log up to here goes after the next commit
  uint32_t incarnation = 0;    // recorded by SaveIncarnation (0: none)
  uint64_t log_seq = 0;        // last local effect (committed)
  // The last local effect's seq, committed or pending.
  uint64_t LastSeq() const {
    return pending_effects.empty() ? log_seq : pending_effects.back().first;
  }
  std::map<std::string, uint64_t, std::less<>> progress;  // committed

  std::string Where() const { return "region " + opt.region + ": redis " + opt.address.ToString(); }
  std::string DownError() const {
    return "CLUSTERDOWN " + Where() + " unavailable: " + down_reason;
  }

  // ---- connection ----

  // Why the last exchange failed (the connection's error, else why the store is down).
  std::string LastError() const {
    if (ctx != nullptr && ctx->errstr[0] != 0) return ctx->errstr;
    return down_reason.empty() ? "connection lost" : down_reason;
  }

  // One request and its reply (null on a failure: LastError() says why). Write-behind:
  // what is pending is committed and the owed replies read first, so a request sees
  // every earlier write.
  ReplyPtr Command(const std::vector<std::string>& args) {
    if (opt.write_behind > 0 && !Commit()) return ReplyPtr(nullptr, freeReplyObject);
    if ((behind > 0 && !Drain()) || ctx == nullptr) return ReplyPtr(nullptr, freeReplyObject);
    Append(args);
    void* r = nullptr;
    if (redisGetReply(ctx, &r) != REDIS_OK) return ReplyPtr(nullptr, freeReplyObject);
    return Wrap(r);
  }

  // A command that must succeed; on failure sets *error.
  ReplyPtr Must(const std::vector<std::string>& args, std::string* error) {
    ReplyPtr r = Command(args);
    if (!r) {
      *error = LastError();
    } else if (r->type == REDIS_REPLY_ERROR) {
      *error = args[0] + ": " + std::string(r->str, r->len);
      return ReplyPtr(nullptr, freeReplyObject);
    }
    return r;
  }

  void Disconnect(std::string reason) {
    if (ctx != nullptr) redisFree(ctx);
    ctx = nullptr;
    behind = 0;
    up = false;
    down_reason = std::move(reason);
    pending_keys.clear();
    pending_progress.clear();
    pending_effects.clear();
    trim_to = 0;
  }

  // One attempt: connect, authenticate, select, load the script and the working copy.
  Status ConnectOnce() {
    if (ctx != nullptr) redisFree(ctx);
    timeval tv{1, 0};
    ctx = redisConnectWithTimeout(opt.address.host.c_str(), opt.address.port, tv);
    if (ctx == nullptr || ctx->err != 0) {
      std::string why = ctx ? ctx->errstr : "out of memory";
      if (ctx != nullptr) redisFree(ctx);
      ctx = nullptr;
      return Status::Unavailable(why);
    }
    timeval io{5, 0};
    redisSetTimeout(ctx, io);
    std::string error;
    if (!opt.address.password.empty() && !Must({"AUTH", opt.address.password}, &error)) {
      return Status::Unavailable(error);
    }
    if (opt.address.db != 0 && !Must({"SELECT", std::to_string(opt.address.db)}, &error)) {
      return Status::Unavailable(error);
    }
    if (!Must({"PING"}, &error)) return Status::Unavailable(error);
    if (Status s = LoadScript(); !s.ok()) return s;
    return Load();
  }

  Status LoadScript() {
    std::string error;
    ReplyPtr r = Must({"SCRIPT", "LOAD", std::string(kCommitScript)}, &error);
    if (!r) return Status::Unavailable(error);
    sha.assign(r->str, r->len);
    return Status::Ok();
  }

  // Rebuilds the working copy and the bookkeeping from Redis (the source of truth).
  Status Load() {
    std::string error;
    std::vector<std::pair<std::string, std::string>> entries;  // key -> metadata
    std::string cursor = "0";
    do {
      ReplyPtr r = Must({"SCAN", cursor, "MATCH", opt.prefix + ":m:*", "COUNT", "1000"}, &error);
      if (!r) return Status::Unavailable(error);
      cursor.assign(r->element[0]->str, r->element[0]->len);
      const redisReply* names = r->element[1];
      for (size_t i = 0; i < names->elements; ++i) {
        ReplyPtr h =
            Must({"HGETALL", std::string(names->element[i]->str, names->element[i]->len)}, &error);
        if (!h) return Status::Unavailable(error);
        for (size_t j = 0; j + 1 < h->elements; j += 2) {
          entries.emplace_back(std::string(h->element[j]->str, h->element[j]->len),
                               std::string(h->element[j + 1]->str, h->element[j + 1]->len));
        }
      }
    } while (cursor != "0");
    std::sort(entries.begin(), entries.end());
    ReplyPtr cc = Must({"GET", opt.prefix + ":cc"}, &error);
    if (!cc) return Status::Unavailable(error);
    // A full state whose key values carry every part; metadata written by an older aasim
    // carries fewer (before streams and hash float counters; before expiry; before bounded
    // counters): the first set of parts that decodes is the one.
    std::string rest;
    PutVarint(&rest, entries.size());
    for (const auto& [key, meta] : entries) {
      PutVarint(&rest, key.size());
      rest += key;
      rest += meta;
    }
    if (cc->type == REDIS_REPLY_STRING) {
      rest.append(cc->str, cc->len);
    } else {
      crdt::Encoder enc;
      crdt::CausalContext().Encode(&enc);  // no data yet: an empty context
      rest += enc.Release();
    }
    using KV = crdt::KeyValue;
    std::string why;
    std::optional<crdt::Keyspace> loaded;
    for (KV::Parts16 parts :
         {KV::Parts16{KV::kKnownParts},
          static_cast<KV::Parts16>(KV::kKnownParts & ~(KV::kPartStream | KV::kPartHashFloat)),
          KV::Parts16{KV::kPartBoundedCounter}, KV::Parts16{0}}) {
      crdt::Encoder header;
      crdt::PutKeyspaceHeader(&header, /*key_complete=*/false, parts);
      loaded =
          crdt::Keyspace::Decode(header.Release() + rest, ks.self(), why.empty() ? &why : nullptr);
      if (loaded) break;
    }
    if (!loaded) {
      return Status::InvalidArgument(Where() + ": malformed aasim data under '" + opt.prefix +
                                     ":': " + why);
    }
    ks = std::move(*loaded);
    ReplyPtr seq = Must({"HGET", opt.prefix + ":meta", "seq"}, &error);
    if (!seq) return Status::Unavailable(error);
    log_seq = 0;
    if (seq->type == REDIS_REPLY_STRING) ParseU64(std::string_view(seq->str, seq->len), &log_seq);
    ReplyPtr inc = Must({"HGET", opt.prefix + ":meta", "incarnation"}, &error);
    if (!inc) return Status::Unavailable(error);
    uint64_t saved = 0;
    if (inc->type == REDIS_REPLY_STRING) ParseU64(std::string_view(inc->str, inc->len), &saved);
    incarnation = saved <= 0xFFFF ? static_cast<uint32_t>(saved) : 0;
    ReplyPtr prog = Must({"HGETALL", opt.prefix + ":progress"}, &error);
    if (!prog) return Status::Unavailable(error);
    progress.clear();
    for (size_t j = 0; j + 1 < prog->elements; j += 2) {
      uint64_t v = 0;
      ParseU64(std::string_view(prog->element[j + 1]->str, prog->element[j + 1]->len), &v);
      progress[std::string(prog->element[j]->str, prog->element[j]->len)] = v;
    }
    pending_keys.clear();
    pending_progress.clear();
    pending_effects.clear();
    trim_to = 0;
    owner.BumpAllVersions();
    return Status::Ok();
  }

  // One attempt to come back: true if connected (and reloaded), else down_reason says why.
  bool TryReconnect() {
    if (behind_failed) return false;  // reloading would drop writes Redis never stored
    Status s = ConnectOnce();
    if (!s.ok()) {
      down_reason = s.message();
      return false;
    }
    up = true;
    reconnect_count++;
    backoff = std::chrono::milliseconds(0);
    return true;
  }

  // After a failure: reconnect with bounded exponential backoff (10ms, 20ms, ...).
  bool Reconnect() {
    auto delay = std::chrono::milliseconds(10);
    for (int i = 0; i < opt.reconnect_attempts; ++i) {
      std::this_thread::sleep_for(delay);
      delay *= 2;
      if (TryReconnect()) return true;
    }
    backoff = std::chrono::milliseconds(100);
    next_attempt = std::chrono::steady_clock::now() + backoff;
    return false;
  }

  // Before an operation: true if connected; while down, retries at most once per backoff
  // period (doubling up to 2 s), so a dead Redis costs little per command.
  bool EnsureUp() {
    if (up) return true;
    if (behind_failed) return false;
    auto now = std::chrono::steady_clock::now();
    if (now < next_attempt) return false;
    if (TryReconnect()) return true;
    backoff = std::min(std::chrono::milliseconds(2000),
                       std::max(std::chrono::milliseconds(100), backoff * 2));
    next_attempt = now + backoff;
    return false;
  }

  // ---- committing ----

  // Write-behind: reads every owed reply. False, and the store down for good, if one
  // failed (an error reply, a failed call inside EXEC, a lost connection).
  bool Drain() {
    std::string error;
    while (behind > 0) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK) {
        error = LastError();
        break;
      }
      --behind;
      ReplyPtr r = Wrap(raw);
      if (!error.empty()) continue;
      if (r->type == REDIS_REPLY_ERROR) error = std::string(r->str, r->len);
      if (r->type == REDIS_REPLY_ARRAY) {  // EXEC of a multi-call commit
        for (size_t j = 0; j < r->elements && error.empty(); ++j) {
          const redisReply* x = r->element[j];
          if (x->type == REDIS_REPLY_ERROR) error = std::string(x->str, x->len);
        }
      }
    }
    if (error.empty()) return true;
    behind_failed = true;
    Disconnect(
        "a write-behind commit failed, so writes answered before it may be missing "
        "from Redis: " +
        error);
    if (opt.on_write_behind_failure) opt.on_write_behind_failure(DownError());
    return false;
  }

  // Write-behind: sends the calls (several inside MULTI/EXEC) without waiting for their
  // replies, unless write_behind of them are now owed. False if the store went down.
  bool SendBehind(std::vector<std::vector<std::string>> calls) {
    if (ctx == nullptr) return false;
    const bool multi = calls.size() > 1;
    if (multi) Append({"MULTI"});
    for (auto& c : calls) {
      c[1] = sha;
      Append(c);
    }
    if (multi) Append({"EXEC"});
    behind += calls.size() + (multi ? 2 : 0);
    if (behind >= opt.write_behind) return Drain();
    // Hand what is buffered to the server now, so it works while we go on.
    int done = 0;
    if (redisBufferWrite(ctx, &done) != REDIS_OK) return Drain();  // fails: says why
    return true;
  }

  void Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx, static_cast<int>(args.size()), argv.data(), lens.data());
  }

  // A replicated stream as the commit script's kind 'x': its last id, its groups (name,
  // the id up to which the group is acknowledged, replicated: the largest over the parts,
  // else the group's start) and its entries (id, field count, fields). Redis holds one
  // entry per id: of entries sharing an id (possible outside the strict id mode) the
  // first is written.
  static void AppendStream(const std::string& key, const crdt::StreamStore& stream,
                           std::vector<std::string>* out) {
    std::vector<std::string> items;
    const std::vector<std::string> groups = stream.Groups();
    items.push_back(std::to_string(groups.size()));
    for (const std::string& g : groups) {
      crdt::StreamId at = stream.GroupStart(g);
      for (const auto& [part, id] : stream.GroupFrontier(g)) at = std::max(at, id);
      items.push_back(g);
      items.push_back(at.ToString());
    }
    crdt::StreamId top = stream.LastId();
    std::optional<crdt::StreamId> prev;
    stream.ForEach([&](const crdt::StreamStore::Key& k, const crdt::StreamStore::Fields& f) {
      if (k.first == crdt::StreamId{} || (prev && *prev == k.first)) return;
      prev = k.first;
      top = std::max(top, k.first);
      items.push_back(k.first.ToString());
      items.push_back(std::to_string(f.size()));
      items.insert(items.end(), f.begin(), f.end());
    });
    out->push_back(key);
    out->push_back("x");
    out->push_back(std::to_string(items.size() + 1));
    out->push_back(top.ToString());
    for (auto& x : items) out->push_back(std::move(x));
  }

  // The arguments of one commit call for `keys` (see kCommitScript).
  std::vector<std::string> Call(const std::vector<const std::string*>& keys) const {
    std::vector<std::string> strings, others, meta, ttls;
    std::vector<std::pair<uint32_t, const std::string*>> by_bucket;
    size_t string_count = 0, other_count = 0;
    for (const std::string* key : keys) {
      by_bucket.emplace_back(MetadataBucket(*key, opt.buckets), key);
      // A key under the prefix has its metadata and no native value, which would overwrite
      // (or delete) aasim's own keys: only a peer that does not refuse it (a node on the
      // in-memory store, or with another prefix) can write one (MayWrite refuses it here).
      if (Reserved(*key)) continue;
      const crdt::KeyValue* kv = ks.Find(*key);
      switch (ks.TypeOf(*key)) {
        case crdt::Keyspace::Type::kString:
        case crdt::Keyspace::Type::kBoundedCounter:  // its value, as GET shows it
          strings.push_back(*key);
          strings.push_back(ks.Dump(*key));
          ++string_count;
          break;
        case crdt::Keyspace::Type::kSet: {
          std::vector<std::string> members = ks.Members(*key);
          others.push_back(*key);
          others.push_back("S");
          others.push_back(std::to_string(members.size()));
          for (auto& m : members) others.push_back(std::move(m));
          ++other_count;
          break;
        }
        case crdt::Keyspace::Type::kHash: {
          auto items = kv->hash().Items();
          others.push_back(*key);
          others.push_back("h");
          others.push_back(std::to_string(2 * items.size()));
          for (auto& [f, v] : items) {
            others.push_back(f);
            others.push_back(v);
          }
          ++other_count;
          break;
        }
        case crdt::Keyspace::Type::kZset: {
          others.push_back(*key);
          others.push_back("z");
          others.push_back(std::to_string(2 * kv->zset.size()));
          for (const crdt::ZsetStore::Item& item : kv->zset.index()) {
            others.push_back(crdt::FormatScore(item.score));
            others.push_back(*item.member);
          }
          ++other_count;
          break;
        }
        case crdt::Keyspace::Type::kHll:
          strings.push_back(*key);
          strings.push_back(kv->hll().RedisDense());
          ++string_count;
          break;
        case crdt::Keyspace::Type::kList: {
          std::vector<std::string> values = kv->list().Values();
          others.push_back(*key);
          others.push_back("l");
          others.push_back(std::to_string(values.size()));
          for (auto& v : values) others.push_back(std::move(v));
          ++other_count;
          break;
        }
        case crdt::Keyspace::Type::kStream:
          AppendStream(*key, kv->stream(), &others);
          ++other_count;
          break;
        case crdt::Keyspace::Type::kNone:
          others.push_back(*key);
          others.push_back("n");
          others.push_back("0");
          ++other_count;
          break;
      }
      if (ks.TypeOf(*key) != crdt::Keyspace::Type::kNone) {
        if (std::optional<int64_t> deadline = ks.Deadline(*key)) {
          // The time left on this region's clock; a due key (to be deleted) lives 1 ms.
          int64_t now_ms = owner.wall_clock_ms();
          int64_t left = *deadline > now_ms ? *deadline - now_ms : 1;
          ttls.push_back(*key);
          ttls.push_back(std::to_string(left));
        }
      }
    }
    std::stable_sort(by_bucket.begin(), by_bucket.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> args = {"EVALSHA", sha, "0", opt.prefix, "", "0", "0"};
    args.reserve(args.size() + strings.size() + others.size() + 3 * by_bucket.size() + 3);
    args.push_back(std::to_string(string_count));
    for (auto& x : strings) args.push_back(std::move(x));
    args.push_back(std::to_string(other_count));
    for (auto& x : others) args.push_back(std::move(x));
    args.push_back(std::to_string(ttls.size() / 2));
    for (auto& x : ttls) args.push_back(std::move(x));
    args.push_back(std::to_string(by_bucket.size()));
    for (const auto& [bucket, key] : by_bucket) {
      args.push_back(std::to_string(bucket));
      args.push_back(*key);
      const crdt::KeyValue* kv = ks.Find(*key);
      std::string blob;
      if (kv != nullptr) {
        crdt::Encoder enc;
        kv->Encode(&enc, crdt::KeyValue::kKnownParts);
        blob = enc.Release();
      }
      args.push_back(std::move(blob));
    }
    return args;
  }

  // The commit calls for everything pending (local effects included): one call, or
  // several (batch_keys keys each) whose last one carries the context and bookkeeping.
  std::vector<std::vector<std::string>> BuildCalls() {
    std::vector<std::vector<std::string>> calls;
    std::vector<const std::string*> keys;
    for (const std::string& key : pending_keys) {
      keys.push_back(&key);
      if (keys.size() == opt.batch_keys) {
        calls.push_back(Call(keys));
        keys.clear();
      }
    }
    if (!keys.empty() || calls.empty()) calls.push_back(Call(keys));
    std::vector<std::string>& last = calls.back();
    last[4] = EncodeContext();
    // [5] E, the effects, [6] P, the progress (see kCommitScript); inserted back to front.
    std::vector<std::string> prog;
    for (const auto& [origin, c] : pending_progress) {
      prog.push_back(origin);
      prog.push_back(std::to_string(c));
    }
    last[6] = std::to_string(pending_progress.size());
    last.insert(last.begin() + 7, std::make_move_iterator(prog.begin()),
                std::make_move_iterator(prog.end()));
    std::vector<std::string> effects;
    for (const auto& [seq, effect] : pending_effects) {
      effects.push_back(std::to_string(seq));
      effects.push_back(effect);
    }
    last[5] = std::to_string(pending_effects.size());
    last.insert(last.begin() + 6, std::make_move_iterator(effects.begin()),
                std::make_move_iterator(effects.end()));
    return calls;
  }

  std::string EncodeContext() const {
    crdt::Encoder enc;
    ks.context().Encode(&enc);
    return enc.Release();
  }

  // Sends the calls (pipelined; several inside MULTI/EXEC so they apply as one) and
  // reads every reply. NOSCRIPT (a Redis that lost its script cache) reloads the script
  // and sends again. On a connection failure, disconnects and returns false.
  bool Send(std::vector<std::vector<std::string>> calls) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool multi = calls.size() > 1;
      if (multi) Append({"MULTI"});
      for (auto& c : calls) {
        c[1] = sha;
        Append(c);
      }
      if (multi) Append({"EXEC"});
      size_t expected = calls.size() + (multi ? 2 : 0);
      bool noscript = false;
      std::string error;
      for (size_t i = 0; i < expected; ++i) {
        void* raw = nullptr;
        if (redisGetReply(ctx, &raw) != REDIS_OK) {
          Disconnect(LastError());
          return false;
        }
        ReplyPtr r = Wrap(raw);
        auto check = [&](const redisReply* x) {
          if (x->type != REDIS_REPLY_ERROR) return;
          std::string_view text(x->str, x->len);
          if (text.substr(0, 8) == "NOSCRIPT") {
            noscript = true;
          } else if (error.empty()) {
            error = std::string(text);
          }
        };
        check(r.get());
        if (multi && i + 1 == expected && r->type == REDIS_REPLY_ARRAY) {
          for (size_t j = 0; j < r->elements; ++j) check(r->element[j]);
        }
      }
      if (!error.empty() && !(noscript && error.substr(0, 9) == "EXECABORT")) {
        Disconnect("commit failed: " + error);
        return false;
      }
      if (!noscript) return true;
      // Redis lost the script (SCRIPT FLUSH, a restart): load it and send every call
      // again. Safe even if some calls ran: each writes current values, no key is in
      // two calls, and the context and bookkeeping are in the last one.
      if (!LoadScript().ok()) {
        Disconnect("SCRIPT LOAD failed");
        return false;
      }
    }
    Disconnect("NOSCRIPT after SCRIPT LOAD");
    return false;
  }

  // Commits pending changes (local effects included). True once Redis has stored them
  // (write-behind: once sent; Drain reads the replies), false if the store went down.
  bool Commit() {
    const bool data =
        !pending_keys.empty() || !pending_progress.empty() || !pending_effects.empty();
    if (data) {
      auto calls = BuildCalls();
      if (!(opt.write_behind > 0 ? SendBehind(std::move(calls)) : Send(std::move(calls)))) {
        return false;
      }
      if (!pending_effects.empty()) log_seq = pending_effects.back().first;
      pending_effects.clear();
      flushes_pending = 0;
      for (auto& [origin, c] : pending_progress) progress[origin] = c;
      pending_keys.clear();
      pending_progress.clear();
    }
    if (trim_to > 0 && ctx != nullptr) {  // write-behind only
      Append({"XTRIM", opt.prefix + ":log", "MINID", std::to_string(trim_to + 1) + "-0"});
      trim_to = 0;
      if (++behind >= opt.write_behind) return Drain();
    }
    return true;
  }

  Reply Forward(const std::vector<std::string>& argv) {
    ReplyPtr r = Command(argv);
    if (!r) {
      if (!behind_failed) Disconnect(LastError());
      Reconnect();
      return Reply::Error(DownError());
    }
    return FromRedis(r.get());
  }

  // ---- streams ----

  // A region-local stream command (LocalStreams::Handles), run by the redis-server so the
  // streams live (and survive a crash) there, with the memory store's replies: XADD `*`
  // ids from the simulator's clock (kXAddScript), XREAD's and XREADGROUP's BLOCK never
  // waits (a blocking endpoint waits itself: Store::StreamLastId fixes XREAD's `$`), the
  // memory store's errors for what it refuses, and the WATCH versions of the keys whose
  // stream or groups changed bumped as LocalStreams reports them.
  // REQUIRES: the arity is checked (KeyspaceStore does).
  Reply StreamCommand(const std::vector<std::string>& argv, int64_t wall_clock_us) {
    std::string name = AsciiLower(argv[0]);
    if (!EnsureUp()) return Reply::Error(DownError());
    int64_t now_ms = std::max<int64_t>(wall_clock_us, 0) / 1000;
    if (name == "xadd") return XAdd(argv, now_ms);
    if (name == "xreadgroup") return StreamNullArrays(name, XReadGroup(argv));
    if (name == "xread") return StreamNullArrays(name, Forward(WithoutBlock(argv)));
    Reply r = StreamNullArrays(name, Forward(argv));
    if (name == "xgroup" && !r.is_error() &&
        ((r.type == Reply::Type::kStatus) || (r.type == Reply::Type::kInteger && r.integer > 0))) {
      BumpVersion(argv[2]);
    } else if (name == "xack" && r.type == Reply::Type::kInteger && r.integer > 0) {
      BumpVersion(argv[1]);
    }
    return r;
  }

  void BumpVersion(const std::string& key) { owner.BumpVersion(key); }

  Reply XAdd(const std::vector<std::string>& argv, int64_t now_ms) {
    size_t i = 2;
    for (; i < argv.size(); ++i) {
      std::string option = AsciiLower(argv[i]);
      if (option == "maxlen" || option == "minid") {
        return Reply::Error("ERR unsupported XADD option '" + option +
                            "': aasim streams are not trimmed");
      }
      if (option != "nomkstream") break;
    }
    size_t fields = i < argv.size() ? argv.size() - i - 1 : 0;
    if (i >= argv.size() || fields < 2 || fields % 2 == 1) {
      return Reply::Error("ERR wrong number of arguments for 'xadd' command");
    }
    Reply r;
    if (argv[i] != "*") {
      r = Forward(argv);
    } else {
      std::vector<std::string> eval = {"EVAL",  std::string(kXAddScript), "1",
                                       argv[1], std::to_string(now_ms),   std::to_string(i + 1)};
      eval.insert(eval.end(), argv.begin(), argv.end());
      r = Forward(eval);
    }
    if (r.type == Reply::Type::kBulk) BumpVersion(argv[1]);
    return r;
  }

  // XREADGROUP without its BLOCK option (WithoutBlock), so it answers at once as the
  // memory store does.
  Reply XReadGroup(const std::vector<std::string>& argv) {
    size_t streams_at = 0;
    std::vector<std::string> args = WithoutBlock(argv, &streams_at);
    Reply r = Forward(args);
    // As LocalStreams: a stream changed when '>' delivered entries from it.
    if (r.type == Reply::Type::kArray && streams_at > 0) {
      size_t n = (args.size() - streams_at) / 2;
      for (const Reply& stream : r.elements) {
        if (stream.elements.size() != 2 || stream.elements[1].elements.empty()) continue;
        for (size_t k = 0; k < n; ++k) {
          if (args[streams_at + k] == stream.elements[0].str && args[streams_at + n + k] == ">") {
            BumpVersion(args[streams_at + k]);
          }
        }
      }
    }
    return r;
  }

  // An XREAD or XREADGROUP without its BLOCK option before STREAMS (a valid one: an
  // invalid one is left for Redis to refuse), so that the store's one connection to Redis
  // never waits. *streams_at (if non-null) gets the index in the result of the first key
  // after STREAMS, 0 if there is none.
  static std::vector<std::string> WithoutBlock(const std::vector<std::string>& argv,
                                               size_t* streams_at = nullptr) {
    std::vector<std::string> args;
    if (streams_at != nullptr) *streams_at = 0;
    for (size_t i = 0; i < argv.size(); ++i) {
      std::string word = AsciiLower(argv[i]);
      if (i > 0 && word == "block" && i + 1 < argv.size()) {
        int64_t ms = 0;
        auto [p, ec] =
            std::from_chars(argv[i + 1].data(), argv[i + 1].data() + argv[i + 1].size(), ms);
        if (ec == std::errc() && p == argv[i + 1].data() + argv[i + 1].size() && ms >= 0) {
          ++i;
          continue;
        }
      }
      if (i > 0 && word == "group" && i + 2 < argv.size()) {
        args.insert(args.end(), argv.begin() + static_cast<ptrdiff_t>(i),
                    argv.begin() + static_cast<ptrdiff_t>(i) + 3);
        i += 2;
        continue;
      }
      args.push_back(argv[i]);
      if (i > 0 && word == "streams" && i + 1 < argv.size()) {
        if (streams_at != nullptr) *streams_at = args.size();
        args.insert(args.end(), argv.begin() + static_cast<ptrdiff_t>(i) + 1, argv.end());
        break;
      }
    }
    return args;
  }

  // RedisStore::StreamLastId for region-local streams.
  std::string ServerStreamLastId(std::string_view key) {
    if (!EnsureUp()) return "0-0";
    Reply r = Forward({"XINFO", "STREAM", std::string(key)});
    if (r.type != Reply::Type::kArray) return "0-0";
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      if (r.elements[i].str == "last-generated-id" &&
          r.elements[i + 1].type == Reply::Type::kBulk) {
        return r.elements[i + 1].str;
      }
    }
    return "0-0";
  }

  // True if `key` is under the metadata prefix (user commands may not write it).
  bool Reserved(std::string_view key) const {
    return key.size() > opt.prefix.size() && key.substr(0, opt.prefix.size()) == opt.prefix &&
           key[opt.prefix.size()] == ':';
  }
  // What a write to a reserved key answers.
  Status ReservedError(std::string_view key) const {
    std::string text = "ERR key '";
    text.append(key).append("' is reserved for aasim's metadata (prefix '");
    text.append(opt.prefix).append(":')");
    return Status::InvalidArgument(std::move(text));
  }

  // Runs a write (one command or a MULTI batch: `apply`, see KeyspaceStore::CommitWrite)
  // and commits it. If the commit fails and a reconnection repairs the connection, the
  // working copy is reloaded from Redis: if the write is there (the script ran, its reply
  // was lost) it is done, else it runs again once. (A write to a key under the metadata
  // prefix never gets here: MayWrite refused the command before it ran. One a peer wrote,
  // merged here, may be changed by a command that does not name it, FLUSHALL or an
  // expiry: that is committed as any write, its metadata only; see Call.)
  Result<std::string> CommitWrite(const std::function<std::string()>& apply) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!EnsureUp()) break;
      std::string e = apply();
      if (e.empty()) return e;
      std::vector<std::string> keys;
      EncodedKeys(e, &keys);
      for (auto& k : keys) pending_keys.insert(std::move(k));
      const uint64_t seq = LastSeq() + 1;
      pending_effects.emplace_back(seq, e);
      // Write-behind: local writes are committed together, a batch per call.
      if (opt.write_behind > 0 && pending_effects.size() < kWritesPerCall) return e;
      if (Commit()) return e;
      if (opt.write_behind > 0) break;  // failed for good (Drain said why)
      if (!Reconnect()) break;
      if (log_seq >= seq) return e;  // it was stored before the connection dropped
    }
    return Status::Unavailable(DownError());
  }
};

RedisStore::RedisStore(crdt::ReplicaId self, RedisStoreOptions options)
    : KeyspaceStore(self), impl_(std::make_unique<Impl>(*this, std::move(options))) {
  CheckWrites();  // MayWrite: the metadata keys
}
RedisStore::~RedisStore() = default;

Result<std::unique_ptr<RedisStore>> RedisStore::Open(crdt::ReplicaId self,
                                                     RedisStoreOptions options) {
  if (options.buckets == 0) options.buckets = 1;
  options.batch_keys = std::clamp<size_t>(options.batch_keys, 1, 2000);  // Lua unpack() limits
  std::unique_ptr<RedisStore> store(new RedisStore(self, std::move(options)));
  Impl& impl = *store->impl_;
  Status s = impl.ConnectOnce();
  if (!s.ok()) {
    return Status(s.code(), impl.Where() + ": " + s.message());
  }
  if (impl.opt.flush_db) {
    std::string error;
    if (!impl.Must({"FLUSHDB"}, &error)) return Status::Unavailable(impl.Where() + ": " + error);
    if (!impl.LoadScript().ok() || !impl.Load().ok()) {
      return Status::Unavailable(impl.Where() + ": reload after FLUSHDB failed");
    }
  }
  impl.up = true;
  return store;
}

Reply RedisStore::RunStream(const std::vector<std::string>& argv, int64_t wall_clock_us) {
  return impl_->StreamCommand(argv, wall_clock_us);
}

std::optional<Reply> RedisStore::BeforeEngine(const std::vector<std::string>& argv) {
  Impl& m = *impl_;
  // TYPE of a stream key (not in the replicated keyspace): "stream", as the memory store.
  if (argv.size() == 2 && IEquals(argv[0], "type") &&
      m.ks.TypeOf(argv[1]) == crdt::Keyspace::Type::kNone && !m.Reserved(argv[1])) {
    if (!m.EnsureUp()) return Reply::Error(m.DownError());
    Reply r = m.Forward(argv);
    if (r.type == Reply::Type::kStatus && r.str == "stream") return r;
  }
  // Other X... commands (region-local streams the memory store does not know) go to Redis
  // as they are; with replicated streams the engine answers (an unknown command). The
  // command table's stream writes were refused on a metadata key before this (MayWrite);
  // the ones it lacks (XSETID, XCLAIM, XAUTOCLAIM: their key is argv[1]) are refused here,
  // so that none can change the replication log (an XSETID past its last id would fail
  // every later commit). XINFO only reads (its key is argv[2]).
  if (!argv.empty() && ForwardsAsIs(argv[0], replicates_streams())) {
    if (argv.size() > 1 && !IEquals(argv[0], "xinfo") && m.Reserved(argv[1])) {
      return Reply::Error(m.ReservedError(argv[1]).message());
    }
    if (!m.EnsureUp()) return Reply::Error(m.DownError());
    return m.Forward(argv);
  }
  return std::nullopt;
}

std::string RedisStore::StreamLastId(std::string_view key) const {
  if (replicates_streams()) return KeyspaceStore::StreamLastId(key);
  return impl_->ServerStreamLastId(key);
}

Status RedisStore::MayWrite(std::string_view key) const {
  return impl_->Reserved(key) ? impl_->ReservedError(key) : Status::Ok();
}

Result<std::string> RedisStore::CommitWrite(const std::function<std::string()>& apply) {
  return impl_->CommitWrite(apply);
}

Status RedisStore::CanMerge() {
  if (!impl_->EnsureUp()) return Status::Unavailable(impl_->DownError());
  return Status::Ok();
}

void RedisStore::Merged(std::string_view origin, uint64_t seq, std::string_view encoded) {
  Impl& m = *impl_;
  std::vector<std::string> keys;
  EncodedKeys(encoded, &keys);
  for (auto& k : keys) m.pending_keys.insert(std::move(k));
  if (!origin.empty()) {
    auto it = m.pending_progress.find(origin);
    if (it == m.pending_progress.end()) {
      m.pending_progress.emplace(std::string(origin), seq);
    } else {
      it->second = std::max(it->second, seq);
    }
  }
}

Status RedisStore::Flush() {
  Impl& m = *impl_;
  if (!m.up) return Status::Unavailable(m.DownError());
  // Write-behind: merges too are committed together, a batch of messages per call.
  if (m.opt.write_behind > 0 && ++m.flushes_pending < kWritesPerCall) return Status::Ok();
  if (m.Commit()) return Status::Ok();
  // What was merged since the last flush may not be stored: reload (Redis is the truth)
  // and let the senders retransmit.
  std::string why = m.DownError();
  m.Reconnect();
  return Status::Unavailable(why);
}

void RedisStore::Wiped() {
  Impl& m = *impl_;
  m.pending_keys.clear();
  m.pending_progress.clear();
  m.pending_effects.clear();
  m.progress.clear();
  m.log_seq = 0;
  m.incarnation = 0;
  std::string error;
  if (m.EnsureUp() && !m.Must({"FLUSHDB"}, &error)) m.Disconnect(error);
}

size_t RedisStore::MemoryBytes() const { return sizeof(*this) + keyspace().MemoryBytes(); }

uint64_t RedisStore::LogHead() const { return impl_->LastSeq(); }

uint32_t RedisStore::SavedIncarnation() const { return impl_->incarnation; }

Status RedisStore::SaveIncarnation(uint32_t incarnation) {
  Impl& m = *impl_;
  if (!m.EnsureUp()) return Status::Unavailable(m.DownError());
  std::string error;
  if (!m.Must({"HSET", m.opt.prefix + ":meta", "incarnation", std::to_string(incarnation)},
              &error)) {
    return Status::Unavailable(m.Where() + ": " + error);
  }
  m.incarnation = incarnation;
  return Status::Ok();
}

uint64_t RedisStore::Progress(std::string_view origin) const {
  auto it = impl_->progress.find(origin);
  return it == impl_->progress.end() ? 0 : it->second;
}

Result<std::vector<std::pair<uint64_t, std::string>>> RedisStore::ReadLog(uint64_t first,
                                                                          uint64_t last) {
  Impl& m = *impl_;
  if (!m.EnsureUp()) return Status::Unavailable(m.DownError());
  std::vector<std::pair<uint64_t, std::string>> out;
  if (first > last) return out;
  std::string error;
  ReplyPtr r = m.Must(
      {"XRANGE", m.opt.prefix + ":log", std::to_string(first) + "-0", std::to_string(last) + "-0"},
      &error);
  if (!r) return Status::Unavailable(m.Where() + ": " + error);
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* entry = r->element[i];
    std::string_view id(entry->element[0]->str, entry->element[0]->len);
    uint64_t seq = 0;
    ParseU64(id.substr(0, id.find('-')), &seq);
    const redisReply* fields = entry->element[1];
    if (fields->elements < 2) continue;
    out.emplace_back(seq, std::string(fields->element[1]->str, fields->element[1]->len));
  }
  return out;
}

Status RedisStore::TrimLog(uint64_t seq) {
  Impl& m = *impl_;
  if (!m.EnsureUp()) return Status::Unavailable(m.DownError());
  if (m.opt.write_behind > 0) {  // sent after the next commit, so after the entries' XADDs
    m.trim_to = std::max(m.trim_to, seq);
    return Status::Ok();
  }
  std::string error;
  if (!m.Must({"XTRIM", m.opt.prefix + ":log", "MINID", std::to_string(seq + 1) + "-0"}, &error)) {
    return Status::Unavailable(m.Where() + ": " + error);
  }
  return Status::Ok();
}

uint32_t RedisStore::MetadataBucket(std::string_view key, uint32_t buckets) {
  return Fnv32(key) % buckets;
}

bool RedisStore::available() const { return impl_->up; }
const RedisAddress& RedisStore::address() const { return impl_->opt.address; }
uint64_t RedisStore::reconnects() const { return impl_->reconnect_count; }

}  // namespace cluster_sim
