// The argument parsing both stream implementations share: the replicated streams
// (engine_stream.cc) and the region-local ones (local_streams.cc). Private to the store.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "crdt/stream.h"

namespace cluster_sim {
namespace engine {

// "NOGROUP No such key 'KEY' or consumer group 'GROUP'" + suffix.
std::string NoGroupError(std::string_view key, std::string_view group, std::string_view suffix);
// "NOGROUP No such consumer group 'GROUP' for key name 'KEY'" (XGROUP CREATECONSUMER).
// Both: each name as Redis's %s writes it, up to its first NUL (ErrorArg).
std::string NoConsumerGroupError(std::string_view key, std::string_view group);

// XGROUP's subcommand (lower case) after the checks Redis makes before it looks at the key:
// a known subcommand, its arity, CREATE's MKSTREAM. Else the reply to send instead: an
// error, or XGROUP HELP's text.
struct XGroupArgs {
  std::string sub;  // "create", "destroy" or "createconsumer"
  bool mkstream = false;
};
std::optional<Reply> ParseXGroup(const std::vector<std::string>& argv, XGroupArgs* out);

// XPENDING key group [[IDLE min-idle] start end count [consumer]], as Redis 7.0 parses it.
struct XPendingArgs {
  bool extended = false;  // the form with a range
  int64_t min_idle = 0;
  crdt::StreamId start, end;
  int64_t count = 0;     // a negative count is 0
  std::string consumer;  // "": every consumer
};
std::optional<Reply> ParseXPending(const std::vector<std::string>& argv, XPendingArgs* out);

// XPENDING's summary form of a pending list (entries in id order, each with a `consumer`):
// the count, the first and last ids (id_of(entry)) and each consumer's count, by name.
template <typename Pending, typename IdOf>
Reply XPendingSummary(const Pending& pending, IdOf id_of) {
  if (pending.empty()) {
    return Reply::Array({Reply::Integer(0), Reply::Nil(), Reply::Nil(), Reply::NilArray()});
  }
  std::map<std::string, int64_t> per_consumer;
  for (const auto& [entry, p] : pending) per_consumer[p.consumer]++;
  std::vector<Reply> consumers;
  for (const auto& [name, n] : per_consumer) {
    consumers.push_back(Reply::Array({Reply::Bulk(name), Reply::Bulk(std::to_string(n))}));
  }
  return Reply::Array({Reply::Integer(static_cast<int64_t>(pending.size())),
                       Reply::Bulk(id_of(pending.begin()->first).ToString()),
                       Reply::Bulk(id_of(pending.rbegin()->first).ToString()),
                       Reply::Array(std::move(consumers))});
}

}  // namespace engine
}  // namespace cluster_sim
