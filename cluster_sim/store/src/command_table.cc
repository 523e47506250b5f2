#include "cluster_sim/command_table.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/strings.h"

namespace cluster_sim {

static_assert(std::is_sorted(std::begin(kStoreCommands), std::end(kStoreCommands),
                             [](const CommandSpec& a, const CommandSpec& b) {
                               return a.name < b.name;
                             }),
              "kStoreCommands must be sorted by name");

namespace {

const CommandSpec* FindLower(std::string_view lower) {
  auto it = std::lower_bound(std::begin(kStoreCommands), std::end(kStoreCommands), lower,
                             [](const CommandSpec& s, std::string_view n) { return s.name < n; });
  return it != std::end(kStoreCommands) && it->name == lower ? &*it : nullptr;
}

}  // namespace

const CommandSpec* FindStoreCommand(std::string_view name) {
  char buf[16];  // the usual short names are lowered without building a string
  if (name.size() > sizeof(buf)) return FindLower(AsciiLower(name));
  for (size_t i = 0; i < name.size(); ++i) buf[i] = AsciiLower(name[i]);
  return FindLower(std::string_view(buf, name.size()));
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
