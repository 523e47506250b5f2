#include "cluster_sim/command_table.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/name_index.h"
#include "cluster_sim/strings.h"

namespace cluster_sim {

static_assert(std::is_sorted(std::begin(kStoreCommands), std::end(kStoreCommands),
                             [](const CommandSpec& a, const CommandSpec& b) {
                               return a.name < b.name;
                             }),
              "kStoreCommands must be sorted by name");

const CommandSpec* FindStoreCommand(std::string_view name) {
  static const NameIndex kIndex = [] {
    std::vector<std::string_view> names;
    for (const CommandSpec& spec : kStoreCommands) names.push_back(spec.name);
    return NameIndex(names);
  }();
  int i = kIndex.Find(name);
  return i < 0 ? nullptr : &kStoreCommands[i];
}

const std::string* FindWrittenKey(const CommandSpec& spec, const std::vector<std::string>& argv,
                                  const std::function<bool(std::string_view key)>& match) {
  if (spec.name == "xgroup") {
    return argv.size() > 2 && match(argv[2]) ? &argv[2] : nullptr;
  }
  if (!spec.HasFlag("write")) return nullptr;
  const std::string* found = nullptr;
  ForEachRangeKey(spec, argv, [&](const std::string& key) {
    if (found == nullptr && match(key)) found = &key;
  });
  if (found != nullptr || !spec.HasFlag("movablekeys")) return found;
  if (spec.name == "sort" || spec.name == "georadius" || spec.name == "georadiusbymember") {
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if ((IEquals(argv[i], "store") || IEquals(argv[i], "storedist")) && match(argv[i + 1])) {
        return &argv[i + 1];
      }
    }
  }
  return nullptr;
}

Reply ArityError(std::string_view name) {
  std::string text = "ERR wrong number of arguments for '";
  text.append(AsciiLower(name)).append("' command");
  return Reply::Error(std::move(text));
}

Reply UnknownCommand(const std::vector<std::string>& argv) {
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    std::string_view arg = std::string_view(argv[i]).substr(0, 128 - args.size());
    args.append("'").append(arg).append("' ");
  }
  std::string text = "ERR unknown command '";
  text.append(std::string_view(argv[0]).substr(0, 128))
      .append("', with args beginning with: ")
      .append(args);
  for (char& ch : text) {
    if (ch == '\r' || ch == '\n') ch = ' ';
  }
  return Reply::Error(std::move(text));
}

}  // namespace cluster_sim
