#include "cluster_sim/command_table.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/name_index.h"
#include "cluster_sim/strings.h"
#include "crdt/string_value.h"

namespace cluster_sim {

static_assert(std::is_sorted(std::begin(kStoreCommands), std::end(kStoreCommands),
                             [](const CommandSpec& a, const CommandSpec& b) {
                               return a.name < b.name;
                             }),
              "kStoreCommands must be sorted by name");

static_assert(std::is_sorted(std::begin(kSubcommands), std::end(kSubcommands),
                             [](const SubcommandSpec& a, const SubcommandSpec& b) {
                               return a.command != b.command ? a.command < b.command
                                                             : a.name < b.name;
                             }),
              "kSubcommands must be sorted by command, then name");

const SubcommandSpec* FindSubcommand(std::string_view command, std::string_view sub) {
  for (const SubcommandSpec& spec : kSubcommands) {
    if (spec.command == command && IEquals(sub, spec.name)) return &spec;
  }
  return nullptr;
}

bool HasSubcommands(std::string_view command) {
  for (const SubcommandSpec& spec : kSubcommands) {
    if (spec.command == command) return true;
  }
  return false;
}

std::optional<Reply> CheckSubcommand(std::string_view command,
                                     const std::vector<std::string>& argv) {
  const SubcommandSpec* spec = FindSubcommand(command, argv[1]);
  if (spec == nullptr) {
    std::string upper(command);
    for (char& ch : upper) {
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return UnknownSubcommand(argv[1], upper);
  }
  if (!ArityAllows(spec->arity, argv.size())) {
    return ArityError(std::string(command) + "|" + std::string(spec->name));
  }
  return std::nullopt;
}

const CommandSpec* FindStoreCommand(std::string_view name) {
  static const NameIndex kIndex = [] {
    std::vector<std::string_view> names;
    for (const CommandSpec& spec : kStoreCommands) names.push_back(spec.name);
    return NameIndex(names);
  }();
  int i = kIndex.Find(name);
  return i < 0 ? nullptr : &kStoreCommands[i];
}

namespace {

// The keys of a movable pop: argv[at] is numkeys, the keys follow it. None if numkeys is not
// a positive count of keys that leaves an argument (the direction) after them: the
// command's own error, when it runs.
void NumkeysKeys(const std::vector<std::string>& argv, size_t at, std::vector<size_t>* out) {
  int64_t n = 0;
  if (at >= argv.size() || !crdt::ParseRedisInteger(argv[at], &n) || n <= 0 ||
      static_cast<uint64_t>(n) >= argv.size() - at - 1) {
    return;
  }
  for (size_t i = at + 1; i <= at + static_cast<size_t>(n); ++i) out->push_back(i);
}

}  // namespace

std::vector<size_t> WrittenKeys(const CommandSpec& spec, const std::vector<std::string>& argv) {
  std::vector<size_t> keys;
  const std::string_view name = spec.name;
  if (name == "xgroup") {
    if (argv.size() > 2) keys.push_back(2);
    return keys;
  }
  if (!spec.HasFlag("write")) return keys;
  if (name == "lmpop" || name == "zmpop") {
    NumkeysKeys(argv, 1, &keys);
  } else if (name == "blmpop" || name == "bzmpop") {
    NumkeysKeys(argv, 2, &keys);  // after the timeout
  } else if (name == "xreadgroup") {
    // XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k1 .. kn id1 .. idn
    for (size_t i = 4; i < argv.size(); ++i) {
      if (!IEquals(argv[i], "streams")) continue;
      const size_t rest = argv.size() - i - 1;
      if (rest % 2 == 0) {
        for (size_t k = i + 1; k <= i + rest / 2; ++k) keys.push_back(k);
      }
      break;
    }
  } else if (name == "sort" || name == "georadius" || name == "georadiusbymember") {
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (IEquals(argv[i], "store") || IEquals(argv[i], "storedist")) keys.push_back(i + 1);
    }
  } else if (name == "bitop") {
    keys.push_back(2);  // BITOP op dest src...
  } else if (name == "copy") {
    keys.push_back(2);  // COPY src dest
  } else if (name == "sunionstore" || name == "sinterstore" || name == "sdiffstore" ||
             name == "zrangestore" || name == "geosearchstore" || name == "pfmerge") {
    keys.push_back(1);  // dest src...
  } else {
    ForEachRangeKey(spec, argv, [&](const std::string& key) {
      keys.push_back(static_cast<size_t>(&key - argv.data()));
    });
  }
  return keys;
}

Reply ArityError(std::string_view name) {
  std::string text = "ERR wrong number of arguments for '";
  text.append(AsciiLower(name)).append("' command");
  return Reply::Error(std::move(text));
}

std::string_view ErrorArg(std::string_view arg, size_t max) {
  arg = arg.substr(0, max);
  return arg.substr(0, arg.find('\0'));
}

std::string OneLine(std::string_view text) {
  std::string s(text);
  for (char& ch : s) {
    if (ch == '\r' || ch == '\n') ch = ' ';
  }
  return s;
}

Reply UnknownCommand(const std::vector<std::string>& argv) {
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    const std::string_view arg = ErrorArg(argv[i], 128 - args.size());  // before the quote
    args.append("'").append(arg).append("' ");
  }
  std::string text = "ERR unknown command '";
  text.append(ErrorArg(argv[0])).append("', with args beginning with: ").append(args);
  return Reply::Error(OneLine(text));
}

Reply UnknownSubcommand(std::string_view sub, std::string_view command) {
  std::string text = "ERR unknown subcommand '";
  text.append(ErrorArg(sub)).append("'. Try ").append(command).append(" HELP.");
  return Reply::Error(OneLine(text));
}

Reply SubcommandHelp(std::string_view command, std::initializer_list<std::string_view> lines) {
  std::vector<Reply> out;
  std::string first(command);
  for (char& ch : first) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  first.append(" <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  out.push_back(Reply::Status(std::move(first)));
  for (std::string_view line : lines) out.push_back(Reply::Status(std::string(line)));
  out.push_back(Reply::Status("HELP"));
  out.push_back(Reply::Status("    Prints this help."));
  return Reply::Array(std::move(out));
}

Reply SubcommandSyntaxError(std::string_view sub, std::string_view command) {
  std::string text = "ERR unknown subcommand or wrong number of arguments for '";
  text.append(ErrorArg(sub)).append("'. Try ").append(command).append(" HELP.");
  return Reply::Error(OneLine(text));
}

}  // namespace cluster_sim
