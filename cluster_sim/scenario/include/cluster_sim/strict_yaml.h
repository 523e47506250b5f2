// StrictYaml: the one strict reading of YAML files (yaml-cpp) shared by every loader of this
// project (scenario files, latency files). A loader walks yaml-cpp nodes and asks StrictYaml
// for what a strict file format needs:
//   - maps read in file order, keys plain and unique (Entries), keys among a known set
//     (Options, UnknownKey);
//   - typed scalars: text, durations with a unit (time.h), bounded numbers and integers;
//   - names from a list (KnownRegion: "unknown region 'X' (regions are: A, B)");
//   - one error shape: an InvalidArgument Status whose message is exactly
//     `FILE:LINE:COL: message`, with the 1-based line and column of the offending node
//     (yaml-cpp's marks are 0-based; an unknown mark prints as 1:1);
//   - no exception leaves Guard(): yaml-cpp's and the standard library's become that Status.
// Messages name the field with a `what` prefix ("links.default.loss: expected a number in
// [0, 1], got \"x\""); values are quoted through Printable, so a message stays one line,
// and Error escapes what a message holds of bytes that are not UTF-8 (a key in a `what`
// prefix too), with the same AppendEscaped.
//
// Value type over the text of one file, which must outlive it (it keeps views of the
// lines). Deterministic, single-threaded, no I/O except ReadFileText.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "cluster_sim/status.h"
#include "cluster_sim/time.h"

namespace cluster_sim {

// Where a node was in a file: 1-based; 0 means unknown.
struct SourceMark {
  int line = 0;
  int column = 0;
};

// One key/value of a YAML map, with the key as text.
struct YamlEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

namespace strict_yaml {

// The one escaping of file text for messages. Appends the first at most `max_bytes` bytes
// of `text` to *out, never splitting a UTF-8 sequence: valid UTF-8 as it is, every byte
// that does not belong to a valid sequence as \xNN, and with `controls` also newline and
// tab as \n and \t and other control characters (below 0x20, 0x7F) as \xNN. Returns how
// many bytes of `text` it took.
size_t AppendEscaped(std::string_view text, size_t max_bytes, bool controls, std::string* out);

// File text as it appears inside a one-line message: AppendEscaped with control
// characters escaped, text longer than 60 bytes shortened and marked "...".
std::string Printable(std::string_view text);

// How a node is named in "got ..." messages: "\"text\"", "a list", "an empty map", "nothing".
std::string Describe(const YAML::Node& node);

// "a, b, c".
template <typename Container>
std::string Join(const Container& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

template <typename Container>
bool Contains(const Container& items, std::string_view value) {
  for (const auto& item : items) {
    if (item == value) return true;
  }
  return false;
}

// [A-Za-z0-9_-]+: the names a file may give to regions.
bool IsPlainName(std::string_view name);

// Reads a whole file. An unreadable file gives "PATH: cannot read file: <strerror>".
// A file larger than kMaxFileBytes (16 MiB; also /dev/zero) is refused, not read for ever.
inline constexpr size_t kMaxFileBytes = size_t{16} << 20;
Result<std::string> ReadFileText(const std::string& path);

}  // namespace strict_yaml

class StrictYaml {
 public:
  // Where an entry whose value is null points (ValueMark). yaml-cpp gives an implicit null
  // (`key:` and nothing) the mark of the next token, so both policies point at the key then.
  enum class NullMarks {
    kExplicitAtValue,  // `key: ~` / `key: null` point at the value (scenario files)
    kAlwaysAtKey,      // every null points at the key (latency files)
  };

  // `file` prefixes every message; `text` is the file's text (for explicit nulls and
  // CheckOneDocument). REQUIRES: `text` outlives *this.
  StrictYaml(std::string file, std::string_view text,
             NullMarks null_marks = NullMarks::kExplicitAtValue);

  const std::string& file() const { return file_; }

  // InvalidArgument "FILE:LINE:COL: message".
  Status Error(const YAML::Mark& mark, std::string_view message) const;
  static SourceMark ToSourceMark(const YAML::Mark& mark);
  // The text at a 0-based mark, empty if out of range.
  std::string_view TextAt(const YAML::Mark& mark) const;
  // True for a null written out (`~`, `null`, `Null`, `NULL`), false for an empty value.
  bool IsExplicitNull(const YAML::Node& node) const;
  // Where to point for a problem with entry.value (see NullMarks).
  YAML::Mark ValueMark(const YamlEntry& entry) const;

  // Fails unless `text` holds exactly one YAML document. `empty` is the message for a file
  // without one, `second` for a file with two (pointing at the second).
  Status CheckOneDocument(const std::string& text, std::string_view empty,
                          std::string_view second) const;

  // Parses with `parse` (which may throw) and turns any exception into the Status:
  // "invalid YAML: ..." (at yaml-cpp's mark; its message through Printable, as it may quote
  // a raw byte of the file) or "cannot parse: ...".
  template <typename T, typename Parse>
  Result<T> Guard(Parse&& parse) const {
    try {
      return parse();
    } catch (const YAML::DeepRecursion& e) {
      return Error(e.mark, "invalid YAML: nested too deeply");
    } catch (const YAML::Exception& e) {
      return Error(e.mark, "invalid YAML: " + strict_yaml::Printable(e.msg));
    } catch (const std::exception& e) {
      return Error(YAML::Mark::null_mark(), std::string("cannot parse: ") + e.what());
    } catch (...) {
      return Error(YAML::Mark::null_mark(), "cannot parse: unknown error");
    }
  }

  // The entries of `map` in file order. Keys must be scalars ("WHAT: expected a plain key")
  // and unique ("WHAT: duplicate key 'k' (first given at line N)"). An empty `what` gives
  // messages without the "WHAT: " prefix (the top level).
  Status Entries(const YAML::Node& map, std::string_view what, std::vector<YamlEntry>* out) const;
  // "WHAT: unknown NOUN 'k' (expected one of: a, b)" at the key, unless entry.key is allowed.
  Status UnknownKey(const YamlEntry& entry, std::string_view what,
                    std::span<const std::string_view> allowed, std::string_view noun) const;
  // The Entries of entry.value, which must be a map ("WHAT: expected a map of a, b, got ...");
  // the keys are left to the caller (UnknownKey when it meets one it does not know).
  Status MapOf(const YamlEntry& entry, std::string_view what,
               std::span<const std::string_view> allowed, std::vector<YamlEntry>* out) const;
  // The top level's entries (`root` must be a map: the caller says so), each key allowed,
  // by key into *found (pointing into *entries).
  Status TopLevel(const YAML::Node& root, std::span<const std::string_view> allowed,
                  std::vector<YamlEntry>* entries,
                  std::map<std::string_view, const YamlEntry*>* found) const;
  // MapOf, then UnknownKey for every key.
  Status Options(const YamlEntry& entry, std::string_view what,
                 std::span<const std::string_view> allowed, std::string_view noun,
                 std::vector<YamlEntry>* out) const;

  // Typed values of entry.value; every error points at ValueMark(entry) and reads
  // "WHAT: expected ..., got <Describe(value)>".
  Status Text(const YamlEntry& entry, std::string_view what, std::string* out) const;
  // `true` or `false` (exactly; YAML 1.1's yes/no/on/off are refused as ambiguous).
  Status Bool(const YamlEntry& entry, std::string_view what, bool* out) const;
  // A duration with a unit. kNonNegative: a negative one is "WHAT: must not be negative";
  // kNoSign: a sign is not a duration at all.
  enum class Sign { kAny, kNonNegative, kNoSign };
  Status Duration(const YamlEntry& entry, std::string_view what, Sign sign, SimTime* out) const;
  // A finite number in [lo, hi]; `range` words the bounds ("in [0, 1]").
  Status Number(const YamlEntry& entry, std::string_view what, double lo, double hi,
                std::string_view range, double* out) const;
  // Decimal digits only, in [lo, hi]; `expected` words the bounds ("a positive integer").
  Status Integer(const YamlEntry& entry, std::string_view what, uint64_t lo, uint64_t hi,
                 std::string_view expected, uint64_t* out) const;
  // A scalar among `names` (its index in *index): "WHAT: expected a region name, got ..." or
  // UnknownRegion(...) at `mark`.
  Status KnownRegion(const YAML::Node& node, const YAML::Mark& mark, std::string_view what,
                     const std::vector<std::string_view>& names, int* index) const;
  // "WHAT: unknown region 'X' (regions are: A, B)".
  static std::string UnknownRegion(std::string_view what, std::string_view name,
                                   const std::vector<std::string_view>& names);

 private:
  std::string file_;
  std::vector<std::string_view> lines_;
  NullMarks null_marks_;
};

}  // namespace cluster_sim
