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
inline constexpr int64_t kMaxStringBytes = int64_t{512} << 20;  // Redis's proto-max-bulk-len

// Everything a command handler sees.
struct Ctx {
  crdt::Keyspace& ks;
  const std::vector<std::string>& argv;
  int64_t now_us;
  crdt::Keyspace* delta;                    // where this command's effect goes; null: not recorded
  const std::vector<std::string>& regions;  // names in site order (may be empty)
  bool wrote = false;                       // set by handlers that changed this region's view
  crdt::StreamIdMode stream_id_mode = crdt::StreamIdMode::kStrict;  // XADD's id rules
};

inline Reply Err(std::string_view text) { return Reply::Error(std::string(text)); }
inline Reply Ok() { return Reply::Status("OK"); }

// True if `key` may be used as `want`: absent, or visibly of that type.
inline bool TypeIs(const Ctx& c, std::string_view key, Type want) {
  Type t = c.ks.TypeOf(key);
  return t == Type::kNone || t == want;
}
// The same for a key found once for the whole command (Keyspace::Locate).
inline bool TypeIs(const Ctx& c, const crdt::Keyspace::Located& key, Type want) {
  Type t = c.ks.TypeOf(key);
  return t == Type::kNone || t == want;
}

inline const crdt::HashStore* HashOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv ? &kv->hash() : nullptr;
}

inline std::optional<std::string> HashGet(const Ctx& c, std::string_view key,
                                          std::string_view field) {
  const crdt::HashStore* h = HashOf(c, key);
  return h ? h->Get(field) : std::nullopt;
}

// The error of a SRANDMEMBER/HRANDFIELD count that is not in [-LONG_MAX, LONG_MAX]
// (getRangeLongFromObjectOrReply): an integer out of it, or not an integer.
inline Reply RandCountError(std::string_view text) {
  int64_t v = 0;
  return crdt::ParseRedisInteger(text, &v)
             ? Err("ERR value is out of range, value must between -9223372036854775807 and "
                   "9223372036854775807")
             : Err(kNotInteger);
}

inline Reply OptionalBulk(std::optional<std::string> v) {
  return v ? Reply::Bulk(std::move(*v)) : Reply::Nil();
}

using Handler = Reply (*)(Ctx&);

// A deterministic stand-in for Redis's random draws (SPOP, SRANDMEMBER, HRANDFIELD,
// RANDOMKEY): a SplitMix64 sequence seeded with FNV-1a(`seed_text`) xor the writer's wall
// clock (microseconds). Same state, text and clock: same draws.
class Draws {
 public:
  Draws(std::string_view seed_text, int64_t now_us) {
    for (unsigned char ch : seed_text) state_ = (state_ ^ ch) * 1099511628211ull;
    state_ ^= static_cast<uint64_t>(now_us);
  }
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }  // REQUIRES: n > 0
  // Redis's SRANDMEMBER/HRANDFIELD count rule: count < 0, -count draws that may repeat;
  // count >= the size, every item (in their order); else count distinct items.
  template <typename T>
  std::vector<T> Sample(std::vector<T> items, int64_t count) {
    std::vector<T> out;
    if (items.empty() || count == 0) return out;
    if (count >= static_cast<int64_t>(items.size())) return items;
    for (int64_t i = 0; i < -count; ++i) out.push_back(items[Below(items.size())]);
    while (static_cast<int64_t>(out.size()) < count) {
      size_t i = Below(items.size());
      out.push_back(std::move(items[i]));
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
    }
    return out;
  }

 private:
  uint64_t state_ = 1469598103934665603ull;
};

// ---- handlers defined in engine_<family>.cc files (one section per file) ----

// engine_keys.cc: whole-key and keyspace commands.
Reply Copy(Ctx& c);
Reply FlushAll(Ctx& c);
Reply Object(Ctx& c);
Reply RandomKey(Ctx& c);
Reply Rename(Ctx& c);
Reply RenameNx(Ctx& c);
Reply Scan(Ctx& c);
Reply Time(Ctx& c);
Reply Wait(Ctx& c);
// The SCAN cursor scheme shared by SCAN, SSCAN and HSCAN (engine_keys.cc). `names` are the
// candidates (keys, members or fields); argv[first_option..] are MATCH/COUNT (and TYPE when
// `type_of` is set). Replies [next-cursor, [names...]]; `with_values` (HSCAN) appends each
// name's value from `value_of`.
Reply ScanNames(Ctx& c, std::string_view cursor_text, size_t first_option,
                const std::vector<std::string>& names,
                std::string (*type_of)(const Ctx&, const std::string&),
                std::optional<std::string> (*value_of)(const Ctx&, const std::string&));

// engine_string_ops.cc: string commands beyond GET/SET/INCR.
Reply Append(Ctx& c);
Reply GetDel(Ctx& c);
Reply GetRange(Ctx& c);
Reply GetSet(Ctx& c);
Reply IncrByFloat(Ctx& c);
Reply Lcs(Ctx& c);
Reply MSetNx(Ctx& c);
Reply SetRange(Ctx& c);

// engine_set_ops.cc: set algebra, random members, SSCAN.
Reply SDiff(Ctx& c);
Reply SDiffStore(Ctx& c);
Reply SInter(Ctx& c);
Reply SInterCard(Ctx& c);
Reply SInterStore(Ctx& c);
Reply SRandMember(Ctx& c);
Reply SScan(Ctx& c);
Reply SUnion(Ctx& c);
Reply SUnionStore(Ctx& c);

// engine_bits.cc: bitmaps on strings.
Reply BitCount(Ctx& c);
Reply BitFieldCmd(Ctx& c);
Reply BitFieldRo(Ctx& c);
Reply BitOp(Ctx& c);
Reply BitPos(Ctx& c);
Reply GetBit(Ctx& c);
Reply SetBit(Ctx& c);

// engine_sort.cc: SORT and SORT_RO.
Reply Sort(Ctx& c);
Reply SortRo(Ctx& c);

// engine_hash_ops.cc: hash commands beyond HSET/HGET/HINCRBY.
Reply HIncrByFloat(Ctx& c);
Reply HRandField(Ctx& c);
Reply HScan(Ctx& c);
Reply HStrLen(Ctx& c);
// engine_hll.cc: HyperLogLog.
Reply PfAdd(Ctx& c);
Reply PfCount(Ctx& c);
Reply PfMerge(Ctx& c);

// engine_zset.cc: sorted sets.
Reply BZMPop(Ctx& c);
Reply BZPopMax(Ctx& c);
Reply BZPopMin(Ctx& c);
Reply ZAdd(Ctx& c);
Reply ZCard(Ctx& c);
Reply ZCount(Ctx& c);
Reply ZDiff(Ctx& c);
Reply ZDiffStore(Ctx& c);
Reply ZIncrBy(Ctx& c);
Reply ZInter(Ctx& c);
Reply ZInterCard(Ctx& c);
Reply ZInterStore(Ctx& c);
Reply ZLexCount(Ctx& c);
Reply ZMPop(Ctx& c);
Reply ZMScore(Ctx& c);
Reply ZPopMax(Ctx& c);
Reply ZPopMin(Ctx& c);
Reply ZRandMember(Ctx& c);
Reply ZRange(Ctx& c);
Reply ZRangeByLex(Ctx& c);
Reply ZRangeByScore(Ctx& c);
Reply ZRangeStore(Ctx& c);
Reply ZRank(Ctx& c);
Reply ZRem(Ctx& c);
Reply ZRemRangeByLex(Ctx& c);
Reply ZRemRangeByRank(Ctx& c);
Reply ZRemRangeByScore(Ctx& c);
Reply ZRevRange(Ctx& c);
Reply ZRevRangeByLex(Ctx& c);
Reply ZRevRangeByScore(Ctx& c);
Reply ZRevRank(Ctx& c);
Reply ZScan(Ctx& c);
Reply ZScore(Ctx& c);
Reply ZUnion(Ctx& c);
Reply ZUnionStore(Ctx& c);
// Replaces `dst` with the given items (DEL + ZADDs, one effect); returns the count.
int64_t ZStoreItems(Ctx& c, const std::string& dst,
                    const std::vector<crdt::ZsetStore::Item>& items);

// engine_geo.cc: geo commands on sorted sets (scores are geohashes, geohash.h).
Reply GeoAdd(Ctx& c);
Reply GeoDist(Ctx& c);
Reply GeoHash(Ctx& c);
Reply GeoPos(Ctx& c);
Reply GeoRadius(Ctx& c);
Reply GeoRadiusByMember(Ctx& c);
Reply GeoRadiusByMemberRo(Ctx& c);
Reply GeoRadiusRo(Ctx& c);
Reply GeoSearch(Ctx& c);
Reply GeoSearchStore(Ctx& c);

// engine_list.cc: lists.
// A blocking command's timeout, checked as Redis's getTimeoutFromObjectOrReply (seconds,
// as a float; only validated: an endpoint does the waiting): the error reply, if any.
std::optional<Reply> BadTimeout(const std::string& s);
// The arguments of LMPOP/BLMPOP and ZMPOP/BZMPOP from `at` (numkeys): numkeys, the keys,
// a word at *where that `is_where` accepts (LEFT|RIGHT, MIN|MAX), [COUNT n] (*count, 1
// without); at == 2 (the blocking forms) checks the timeout argv[1] last, as Redis does.
// The error reply, if any.
std::optional<Reply> ParseMPop(const Ctx& c, size_t at, bool (*is_where)(std::string_view),
                               size_t* where, int64_t* count);
Reply BLMove(Ctx& c);
Reply BLMPop(Ctx& c);
Reply BLPop(Ctx& c);
Reply BRPop(Ctx& c);
Reply BRPopLPush(Ctx& c);
Reply LIndex(Ctx& c);
Reply LInsert(Ctx& c);
Reply LLen(Ctx& c);
Reply LMove(Ctx& c);
Reply LMPop(Ctx& c);
Reply LPop(Ctx& c);
Reply LPos(Ctx& c);
Reply LPush(Ctx& c);
Reply LPushX(Ctx& c);
Reply LRange(Ctx& c);
Reply LRem(Ctx& c);
Reply LSet(Ctx& c);
Reply LTrim(Ctx& c);
Reply RPop(Ctx& c);
Reply RPopLPush(Ctx& c);
Reply RPush(Ctx& c);
Reply RPushX(Ctx& c);

// engine_expiry.cc: TTLs (crdt/expiry.h for the Active/Active rules). Times are Unix
// milliseconds of the region's wall clock (Ctx::now_us).
// Microseconds to milliseconds, rounding down. Inline: every command asks it (Execute).
inline int64_t FloorMs(int64_t us) { return us >= 0 ? us / 1000 : -((-(us + 1)) / 1000) - 1; }
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

// engine_stream.cc: replicated streams (crdt/stream.h for the Active/Active rules), the
// kStreams rows when the store replicates streams. The id syntax is shared with the
// region-local streams (local_streams.cc).
inline constexpr std::string_view kInvalidStreamId =
    "ERR Invalid stream ID specified as stream command argument";
// XGROUP CREATE's ENTRIESREAD option (aasim's groups keep no count of the entries read).
inline constexpr std::string_view kXGroupEntriesRead =
    "ERR unsupported XGROUP CREATE option 'ENTRIESREAD': aasim's consumer groups keep no "
    "count of the entries read";
// "ms-seq", or "ms" (seq = missing_seq); "-" and "+" when allow_min_max (Redis streamParseID).
std::optional<crdt::StreamId> ParseStreamId(std::string_view s, uint64_t missing_seq,
                                            bool allow_min_max);
// The handler of a kStreams row, or null.
Handler FindStreamHandler(std::string_view lower_name);

}  // namespace engine
}  // namespace cluster_sim
