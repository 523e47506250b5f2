#include "cluster_sim/local_streams.h"

#include <algorithm>
#include <charconv>
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
#include "engine.h"
#include "stream_args.h"

namespace cluster_sim {
namespace {

// Redis 7's texts, the engine's (engine.h).
using engine::Err;
using engine::kNotInteger;
using engine::kSyntax;
using engine::kWrongType;
constexpr std::string_view kInvalidId = engine::kInvalidStreamId;

bool ParseI64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

using Id = LocalStreams::Id;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::optional<Id> ParseId(std::string_view s, uint64_t missing_seq, bool allow_min_max) {
  return engine::ParseStreamId(s, missing_seq, allow_min_max);
}

Reply EntryReply(const Id& id, const std::vector<std::string>& fields) {
  return Reply::Array({Reply::Bulk(id.ToString()), Reply::BulkArray(fields)});
}

}  // namespace

struct LocalStreams::Call {
  const std::vector<std::string>& argv;
  int64_t now_ms;
  const std::function<bool(std::string_view)>& taken;
  std::vector<std::string>* touched;
  void Touch(const std::string& key) {
    if (touched) touched->push_back(key);
  }
};

LocalStreams::Stream* LocalStreams::Find(std::string_view key) {
  auto it = streams_.find(key);
  return it == streams_.end() ? nullptr : &it->second;
}

Reply LocalStreams::Execute(const std::vector<std::string>& argv, int64_t wall_clock_us,
                            const std::function<bool(std::string_view)>& taken,
                            std::vector<std::string>* touched) {
  std::string name = AsciiLower(argv[0]);
  if (!FindStoreCommand(name)->AcceptsArgc(argv.size())) return ArityError(name);
  Call c{argv, std::max<int64_t>(wall_clock_us, 0) / 1000, taken, touched};
  if (name == "xadd") return XAdd(c);
  if (name == "xlen") return XLen(c);
  if (name == "xrange") return XRange(c);
  if (name == "xgroup") return XGroup(c);
  if (name == "xreadgroup") return XReadGroup(c);
  if (name == "xack") return XAck(c);
  if (name == "xpending") return XPending(c);
  return Reply::Error("ERR '" + name +
                      "' needs replicated streams (scenario key `streams: { replicate: true }`)");
}

// XADD key [NOMKSTREAM] <* | ms-* | ms-seq | ms> field value [field value ...]
Reply LocalStreams::XAdd(Call& c) {
  const std::string& key = c.argv[1];
  size_t i = 2;
  bool nomkstream = false;
  for (; i < c.argv.size(); ++i) {
    if (IEquals(c.argv[i], "nomkstream")) {
      nomkstream = true;
    } else if (IEquals(c.argv[i], "maxlen") || IEquals(c.argv[i], "minid")) {
      return Reply::Error("ERR unsupported XADD option '" + AsciiLower(c.argv[i]) +
                          "': aasim streams are not trimmed");
    } else {
      break;
    }
  }
  size_t fields = c.argv.size() - i - 1;  // after the id
  if (i >= c.argv.size() || fields < 2 || fields % 2 == 1) {
    return Err("ERR wrong number of arguments for 'xadd' command");
  }
  std::string_view id_text = c.argv[i];
  std::optional<Id> explicit_id;
  bool seq_given = true;
  if (id_text != "*") {
    if (id_text.size() > 2 && id_text.ends_with("-*")) {
      seq_given = false;
      explicit_id = ParseId(id_text.substr(0, id_text.size() - 2), 0, false);
    } else {
      explicit_id = ParseId(id_text, 0, false);
    }
    if (!explicit_id) return Err(kInvalidId);
    if (seq_given && explicit_id->ms == 0 && explicit_id->seq == 0) {
      return Err("ERR The ID specified in XADD must be greater than 0-0");
    }
  }
  if (c.taken(key)) return Err(kWrongType);
  Stream* s = Find(key);
  if (s == nullptr && nomkstream) return Reply::Nil();
  Id last = s ? s->last_id : Id{};
  Id id;
  if (!explicit_id) {
    uint64_t ms = static_cast<uint64_t>(c.now_ms);
    if (ms > last.ms) {
      id = Id{ms, 0};
    } else {
      if (last.seq == kMax)
        return Err("ERR The stream has exhausted the last possible ID, unable to add more items");
      id = Id{last.ms, last.seq + 1};
    }
  } else if (!seq_given) {
    if (explicit_id->ms > last.ms) {
      id = Id{explicit_id->ms, 0};
    } else if (explicit_id->ms == last.ms && last.seq != kMax && !(last == Id{})) {
      id = Id{last.ms, last.seq + 1};
    } else if (explicit_id->ms == 0 && last == Id{}) {
      id = Id{0, 1};
    } else {
      return Err(
          "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    }
  } else {
    id = *explicit_id;
    if (!(last < id)) {
      return Err(
          "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    }
  }
  if (s == nullptr) s = &streams_[key];
  s->entries[id] =
      std::vector<std::string>(c.argv.begin() + static_cast<ptrdiff_t>(i) + 1, c.argv.end());
  s->last_id = id;
  c.Touch(key);
  return Reply::Bulk(id.ToString());
}

Reply LocalStreams::XLen(Call& c) {
  if (c.taken(c.argv[1])) return Err(kWrongType);
  Stream* s = Find(c.argv[1]);
  return Reply::Integer(s ? static_cast<int64_t>(s->entries.size()) : 0);
}

// XRANGE key start end [COUNT n]; `(id` excludes the bound, as Redis 6.2+.
Reply LocalStreams::XRange(Call& c) {
  auto bound = [](std::string_view text, bool start) -> std::optional<Id> {
    bool exclusive = text.size() > 1 && text[0] == '(';
    if (exclusive) text.remove_prefix(1);
    std::optional<Id> id = ParseId(text, start ? 0 : kMax, !exclusive);
    if (!id || !exclusive) return id;
    if (start) {
      if (id->seq == kMax && id->ms == kMax) return std::nullopt;
      return id->seq == kMax ? Id{id->ms + 1, 0} : Id{id->ms, id->seq + 1};
    }
    if (id->seq == 0 && id->ms == 0) return std::nullopt;
    return id->seq == 0 ? Id{id->ms - 1, kMax} : Id{id->ms, id->seq - 1};
  };
  std::optional<Id> start = bound(c.argv[2], true);
  std::optional<Id> end = bound(c.argv[3], false);
  if (!start || !end) return Err(kInvalidId);
  int64_t count = -1;
  if (c.argv.size() == 6 && IEquals(c.argv[4], "count")) {
    if (!ParseI64(c.argv[5], &count)) return Err(kNotInteger);
    if (count < 0) count = 0;
  } else if (c.argv.size() != 4) {
    return Err(kSyntax);
  }
  if (c.taken(c.argv[1])) return Err(kWrongType);
  std::vector<Reply> out;
  Stream* s = Find(c.argv[1]);
  if (s != nullptr && !(*end < *start) && count != 0) {
    for (auto it = s->entries.lower_bound(*start); it != s->entries.end() && !(*end < it->first);
         ++it) {
      out.push_back(EntryReply(it->first, it->second));
      if (count > 0 && static_cast<int64_t>(out.size()) == count) break;
    }
  }
  return Reply::Array(std::move(out));
}

// XGROUP CREATE key group <id | $> [MKSTREAM] | DESTROY key group |
// CREATECONSUMER key group consumer.
Reply LocalStreams::XGroup(Call& c) {
  engine::XGroupArgs a;
  if (std::optional<Reply> error = engine::ParseXGroup(c.argv, &a)) return std::move(*error);
  const std::string& sub = a.sub;
  const std::string& key = c.argv[2];
  const std::string& group = c.argv[3];
  const bool mkstream = a.mkstream;
  if (c.taken(key)) return Err(kWrongType);
  Stream* s = Find(key);
  if (s == nullptr && !(sub == "create" && mkstream)) {
    return Err(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
        "to use the MKSTREAM option to create an empty stream automatically.");
  }
  if (sub == "create") {
    Id start;
    if (c.argv[4] == "$") {
      start = s ? s->last_id : Id{};
    } else {
      std::optional<Id> id = ParseId(c.argv[4], 0, false);
      if (!id) return Err(kInvalidId);
      start = *id;
    }
    if (s == nullptr) s = &streams_[key];
    if (s->groups.count(group)) return Err("BUSYGROUP Consumer Group name already exists");
    s->groups[group].last_delivered = start;
    c.Touch(key);
    return Reply::Status("OK");
  }
  auto g = s->groups.find(group);
  if (sub == "destroy") {
    if (g == s->groups.end()) return Reply::Integer(0);
    s->groups.erase(g);
    c.Touch(key);
    return Reply::Integer(1);
  }
  if (g == s->groups.end()) {
    return Reply::Error(engine::NoConsumerGroupError(key, group));
  }
  bool created = g->second.consumers.emplace(c.argv[4], c.now_ms).second;
  if (created) c.Touch(key);
  return Reply::Integer(created ? 1 : 0);
}

// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...
Reply LocalStreams::XReadGroup(Call& c) {
  std::string group, consumer;
  bool have_group = false, noack = false;
  int64_t count = 0;
  size_t streams_at = 0;
  for (size_t i = 1; i < c.argv.size(); ++i) {
    bool more = i + 1 < c.argv.size();
    if (IEquals(c.argv[i], "block") && more) {
      int64_t ms = 0;
      if (!ParseI64(c.argv[++i], &ms)) return Err("ERR timeout is not an integer or out of range");
      if (ms < 0) return Err("ERR timeout is negative");
    } else if (IEquals(c.argv[i], "count") && more) {
      if (!ParseI64(c.argv[++i], &count)) return Err(kNotInteger);
      if (count < 0) count = 0;
    } else if (IEquals(c.argv[i], "streams") && more) {
      streams_at = i + 1;
      break;
    } else if (IEquals(c.argv[i], "group") && i + 2 < c.argv.size()) {
      group = c.argv[i + 1];
      consumer = c.argv[i + 2];
      have_group = true;
      i += 2;
    } else if (IEquals(c.argv[i], "noack")) {
      noack = true;
    } else {
      return Err(kSyntax);
    }
  }
  if (streams_at == 0) return Err(kSyntax);
  size_t n = c.argv.size() - streams_at;
  if (n % 2 != 0) {
    return Err(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
        "specified.");
  }
  if (!have_group) return Err("ERR Missing GROUP option for XREADGROUP");
  n /= 2;
  // Check everything first, as Redis does, so an error reads nothing.
  std::vector<std::optional<Id>> from(n);  // nullopt: '>'
  for (size_t k = 0; k < n; ++k) {
    const std::string& key = c.argv[streams_at + k];
    const std::string& id = c.argv[streams_at + n + k];
    if (c.taken(key)) return Err(kWrongType);
    Stream* s = Find(key);
    if (s == nullptr || s->groups.count(group) == 0) {
      return Reply::Error(engine::NoGroupError(key, group, " in XREADGROUP with GROUP option"));
    }
    if (id != ">") {
      from[k] = ParseId(id, 0, false);
      if (!from[k]) return Err(kInvalidId);
    }
  }
  std::vector<Reply> out;
  for (size_t k = 0; k < n; ++k) {
    const std::string& key = c.argv[streams_at + k];
    Stream& s = *Find(key);
    Group& g = s.groups.find(group)->second;
    g.consumers[consumer] = c.now_ms;
    std::vector<Reply> items;
    if (!from[k]) {
      for (auto it = s.entries.upper_bound(g.last_delivered); it != s.entries.end(); ++it) {
        items.push_back(EntryReply(it->first, it->second));
        g.last_delivered = it->first;
        if (!noack) g.pel[it->first] = Pending{consumer, c.now_ms, 1};
        if (count > 0 && static_cast<int64_t>(items.size()) == count) break;
      }
      if (items.empty()) continue;  // '>' with nothing new: the stream is left out
      c.Touch(key);
    } else {
      // History: this consumer's pending entries after the id (deleted data reads as nil).
      // As Redis 7.0, an entry served again counts as one more delivery, made now.
      for (auto it = g.pel.upper_bound(*from[k]); it != g.pel.end(); ++it) {
        if (it->second.consumer != consumer) continue;
        auto e = s.entries.find(it->first);
        if (e != s.entries.end()) {
          it->second.delivery_ms = c.now_ms;
          ++it->second.deliveries;
        }
        items.push_back(e == s.entries.end()
                            ? Reply::Array({Reply::Bulk(it->first.ToString()), Reply::NilArray()})
                            : EntryReply(it->first, e->second));
        if (count > 0 && static_cast<int64_t>(items.size()) == count) break;
      }
    }
    out.push_back(Reply::Array({Reply::Bulk(key), Reply::Array(std::move(items))}));
  }
  // Nothing at all: a nil reply (BLOCK would wait in Redis; the simulator cannot).
  if (out.empty()) return Reply::NilArray();
  return Reply::Array(std::move(out));
}

Reply LocalStreams::XAck(Call& c) {
  std::vector<Id> ids;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    std::optional<Id> id = ParseId(c.argv[i], 0, false);
    if (!id) return Err(kInvalidId);
    ids.push_back(*id);
  }
  if (c.taken(c.argv[1])) return Err(kWrongType);
  Stream* s = Find(c.argv[1]);
  if (s == nullptr) return Reply::Integer(0);
  auto g = s->groups.find(c.argv[2]);
  if (g == s->groups.end()) return Reply::Integer(0);
  int64_t acked = 0;
  for (const Id& id : ids) acked += static_cast<int64_t>(g->second.pel.erase(id));
  if (acked > 0) c.Touch(c.argv[1]);
  return Reply::Integer(acked);
}

// XPENDING key group [[IDLE min-idle] start end count [consumer]]
Reply LocalStreams::XPending(Call& c) {
  const std::string& key = c.argv[1];
  const std::string& group = c.argv[2];
  engine::XPendingArgs a;
  if (std::optional<Reply> error = engine::ParseXPending(c.argv, &a)) return std::move(*error);
  if (c.taken(key)) return Err(kWrongType);
  Stream* s = Find(key);
  auto g = s ? s->groups.find(group) : decltype(s->groups.end()){};
  if (s == nullptr || g == s->groups.end())
    return Reply::Error(engine::NoGroupError(key, group, ""));
  const Group& grp = g->second;
  if (!a.extended) return engine::XPendingSummary(grp.pel, [](const Id& id) { return id; });
  std::vector<Reply> out;
  for (auto it = grp.pel.lower_bound(a.start);
       it != grp.pel.end() && !(a.end < it->first) && static_cast<int64_t>(out.size()) < a.count;
       ++it) {
    if (!a.consumer.empty() && it->second.consumer != a.consumer) continue;
    int64_t idle = c.now_ms - it->second.delivery_ms;
    if (idle < a.min_idle) continue;
    out.push_back(Reply::Array({Reply::Bulk(it->first.ToString()), Reply::Bulk(it->second.consumer),
                                Reply::Integer(idle),
                                Reply::Integer(static_cast<int64_t>(it->second.deliveries))}));
  }
  return Reply::Array(std::move(out));
}

}  // namespace cluster_sim
