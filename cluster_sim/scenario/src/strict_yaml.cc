#include "cluster_sim/strict_yaml.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace cluster_sim {
namespace strict_yaml {

namespace {

// The length of the valid UTF-8 sequence that starts at text[i] (RFC 3629: no overlong
// form, no surrogate, nothing above U+10FFFF), or 0 if the bytes there are not one.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  if (text.size() - i < n || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

size_t AppendEscaped(std::string_view text, size_t max_bytes, bool controls, std::string* out) {
  constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = Utf8Length(text, i);
    if (i + std::max<size_t>(n, 1) > max_bytes) break;
    if (n == 0 || (controls && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t')) {
      out->append("\\x").push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    } else if (controls && c == '\n') {
      out->append("\\n");
    } else if (controls && c == '\t') {
      out->append("\\t");
    } else {
      out->append(text.substr(i, n));
    }
    i += std::max<size_t>(n, 1);
  }
  return i;
}

std::string Printable(std::string_view text) {
  constexpr size_t kMaxBytes = 60;
  std::string out;
  size_t used = AppendEscaped(text, text.size() > kMaxBytes ? kMaxBytes : text.size(), true, &out);
  if (used < text.size()) out += "...";
  return out;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "\"" + Printable(node.Scalar()) + "\"";
    case YAML::NodeType::Sequence:
      return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Map:
      return node.size() == 0 ? "an empty map" : "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

bool IsPlainName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ReadFileText(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::InvalidArgument(path + ": cannot read file: " + std::strerror(errno));
  }
  std::string text;
  char buffer[1 << 16];
  size_t n;
  bool too_big = false;
  while (!too_big && (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
    text.append(buffer, n);
    too_big = text.size() > kMaxFileBytes;
  }
  if (too_big) {
    std::fclose(f);
    return Status::InvalidArgument(path + ": cannot read file: larger than 16 MiB");
  }
  const bool failed = std::ferror(f) != 0;
  const int saved_errno = errno;
  std::fclose(f);
  if (failed) {
    return Status::InvalidArgument(path + ": cannot read file: " + std::strerror(saved_errno));
  }
  return text;
}

}  // namespace strict_yaml

namespace {

using strict_yaml::Contains;
using strict_yaml::Describe;
using strict_yaml::Join;
using strict_yaml::Printable;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Records what a document's events look like, without building nodes.
class DocumentShape : public YAML::EventHandler {
 public:
  bool only_null() const { return only_null_; }
  const YAML::Mark& mark() const { return mark_; }  // of the first node

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { Node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    Node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    Node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    Node(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark, bool is_null) {
    if (!seen_) mark_ = mark;
    seen_ = true;
    only_null_ = only_null_ && is_null;
  }

  bool seen_ = false;
  bool only_null_ = true;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

}  // namespace

StrictYaml::StrictYaml(std::string file, std::string_view text, NullMarks null_marks)
    : file_(std::move(file)), null_marks_(null_marks) {
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    lines_.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

Status StrictYaml::Error(const YAML::Mark& mark, std::string_view message) const {
  const SourceMark m = ToSourceMark(mark);
  const int line = m.line > 0 ? m.line : 1;
  const int column = m.column > 0 ? m.column : 1;
  // Whatever file text a message quotes, its bytes that are not UTF-8 come out as \xNN.
  std::string text = file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  strict_yaml::AppendEscaped(message, message.size(), false, &text);
  return Status::InvalidArgument(std::move(text));
}

SourceMark StrictYaml::ToSourceMark(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return SourceMark{};
  return SourceMark{mark.line + 1, mark.column + 1};
}

std::string_view StrictYaml::TextAt(const YAML::Mark& mark) const {
  if (mark.line < 0 || static_cast<size_t>(mark.line) >= lines_.size()) return {};
  std::string_view line = lines_[static_cast<size_t>(mark.line)];
  if (mark.column < 0 || static_cast<size_t>(mark.column) >= line.size()) return {};
  return line.substr(static_cast<size_t>(mark.column));
}

bool StrictYaml::IsExplicitNull(const YAML::Node& node) const {
  if (!node.IsNull()) return false;
  std::string_view rest = TextAt(node.Mark());
  for (std::string_view word : {"~", "null", "Null", "NULL"}) {
    if (!rest.starts_with(word)) continue;
    if (rest.size() == word.size()) return true;
    const char next = rest[word.size()];
    if (IsSpace(next) || next == ',' || next == ']' || next == '}' || next == '#') return true;
  }
  return false;
}

YAML::Mark StrictYaml::ValueMark(const YamlEntry& entry) const {
  if (entry.value.IsNull() &&
      (null_marks_ == NullMarks::kAlwaysAtKey || !IsExplicitNull(entry.value))) {
    return entry.key_node.Mark();
  }
  return entry.value.Mark();
}

// Not YAML::LoadAll(): in yaml-cpp 0.7 a stray ',' outside a flow collection (",a: 1",
// "[a], b") makes the parser return empty documents without consuming the comma, and LoadAll
// loops forever allocating (jbeder/yaml-cpp#1040, fixed upstream by PR #1319). So count
// documents with a handler that builds nothing; the caller then lets YAML::Load build the
// only one.
Status StrictYaml::CheckOneDocument(const std::string& text, std::string_view empty,
                                    std::string_view second) const {
  std::istringstream in(text);
  YAML::Parser parser(in);
  auto stray_comma = [&](const DocumentShape& doc) {
    return doc.only_null() && TextAt(doc.mark()).starts_with(',');
  };
  DocumentShape first;
  if (!parser.HandleNextDocument(first)) return Error(YAML::Mark::null_mark(), empty);
  if (stray_comma(first)) return Error(first.mark(), "invalid YAML: unexpected ','");
  DocumentShape next;
  if (!parser.HandleNextDocument(next)) return Status::Ok();
  if (stray_comma(next)) return Error(next.mark(), "invalid YAML: unexpected ','");
  return Error(next.mark(), second);
}

Status StrictYaml::Entries(const YAML::Node& map, std::string_view what,
                           std::vector<YamlEntry>* out) const {
  const std::string prefix = what.empty() ? "" : std::string(what) + ": ";
  std::map<std::string, int, std::less<>> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies: the iterator's pair is a temporary, references into it would dangle.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return Error(key.Mark(), prefix + "expected a plain key, got " + Describe(key));
    }
    const std::string& text = key.Scalar();
    auto [pos, inserted] = first_line.emplace(text, ToSourceMark(key.Mark()).line);
    if (!inserted) {
      return Error(key.Mark(), prefix + "duplicate key '" + Printable(text) +
                                   "' (first given at line " + std::to_string(pos->second) + ")");
    }
    out->push_back(YamlEntry{text, key, value});
  }
  return Status::Ok();
}

Status StrictYaml::UnknownKey(const YamlEntry& entry, std::string_view what,
                              std::span<const std::string_view> allowed,
                              std::string_view noun) const {
  if (Contains(allowed, entry.key)) return Status::Ok();
  const std::string prefix = what.empty() ? "" : std::string(what) + ": ";
  return Error(entry.key_node.Mark(), prefix + "unknown " + std::string(noun) + " '" +
                                          Printable(entry.key) +
                                          "' (expected one of: " + Join(allowed) + ")");
}

Status StrictYaml::MapOf(const YamlEntry& entry, std::string_view what,
                         std::span<const std::string_view> allowed,
                         std::vector<YamlEntry>* out) const {
  if (!entry.value.IsMap()) {
    return Error(ValueMark(entry), std::string(what) + ": expected a map of " + Join(allowed) +
                                       ", got " + Describe(entry.value));
  }
  return Entries(entry.value, what, out);
}

Status StrictYaml::Options(const YamlEntry& entry, std::string_view what,
                           std::span<const std::string_view> allowed, std::string_view noun,
                           std::vector<YamlEntry>* out) const {
  AASIM_RETURN_IF_ERROR(MapOf(entry, what, allowed, out));
  for (const YamlEntry& e : *out) AASIM_RETURN_IF_ERROR(UnknownKey(e, what, allowed, noun));
  return Status::Ok();
}

Status StrictYaml::TopLevel(const YAML::Node& root, std::span<const std::string_view> allowed,
                            std::vector<YamlEntry>* entries,
                            std::map<std::string_view, const YamlEntry*>* found) const {
  AASIM_RETURN_IF_ERROR(Entries(root, "", entries));
  for (const YamlEntry& e : *entries) {
    AASIM_RETURN_IF_ERROR(UnknownKey(e, "", allowed, "key"));
    (*found)[e.key] = &e;
  }
  return Status::Ok();
}

Status StrictYaml::Text(const YamlEntry& entry, std::string_view what, std::string* out) const {
  if (!entry.value.IsScalar()) {
    return Error(ValueMark(entry),
                 std::string(what) + ": expected text, got " + Describe(entry.value));
  }
  *out = entry.value.Scalar();
  return Status::Ok();
}

Status StrictYaml::Bool(const YamlEntry& entry, std::string_view what, bool* out) const {
  if (entry.value.IsScalar() &&
      (entry.value.Scalar() == "true" || entry.value.Scalar() == "false")) {
    *out = entry.value.Scalar() == "true";
    return Status::Ok();
  }
  return Error(ValueMark(entry),
               std::string(what) + ": expected true or false, got " + Describe(entry.value));
}

Status StrictYaml::Duration(const YamlEntry& entry, std::string_view what, Sign sign,
                            SimTime* out) const {
  std::optional<SimTime> parsed;
  if (entry.value.IsScalar()) {
    parsed = ParseDuration(entry.value.Scalar(), /*allow_negative=*/sign != Sign::kNoSign);
  }
  if (!parsed) {
    return Error(ValueMark(entry), std::string(what) + ": expected a duration like \"40ms\", got " +
                                       Describe(entry.value));
  }
  if (sign == Sign::kNonNegative && parsed->count() < 0) {
    return Error(ValueMark(entry),
                 std::string(what) + ": must not be negative, got " + Describe(entry.value));
  }
  if (*parsed > kMaxFileDuration || *parsed < -kMaxFileDuration) {
    return Error(ValueMark(entry), std::string(what) + ": must be at most 1000h" +
                                       (sign == Sign::kAny ? " either way" : "") + ", got " +
                                       Describe(entry.value));
  }
  *out = *parsed;
  return Status::Ok();
}

Status StrictYaml::Number(const YamlEntry& entry, std::string_view what, double lo, double hi,
                          std::string_view range, double* out) const {
  bool ok = false;
  double value = 0;
  if (entry.value.IsScalar()) {
    const std::string& text = entry.value.Scalar();
    const char* begin = text.data();
    const char* end = begin + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    ok = !text.empty() && ec == std::errc() && ptr == end && std::isfinite(value) && value >= lo &&
         value <= hi;
  }
  if (!ok) {
    return Error(ValueMark(entry), std::string(what) + ": expected a number " + std::string(range) +
                                       ", got " + Describe(entry.value));
  }
  *out = value;
  return Status::Ok();
}

Status StrictYaml::Integer(const YamlEntry& entry, std::string_view what, uint64_t lo, uint64_t hi,
                           std::string_view expected, uint64_t* out) const {
  bool ok = entry.value.IsScalar() && !entry.value.Scalar().empty();
  uint64_t value = 0;
  if (ok) {
    const std::string& text = entry.value.Scalar();
    for (char c : text) ok = ok && c >= '0' && c <= '9';
    if (ok) {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      ok = ec == std::errc() && ptr == text.data() + text.size() && value >= lo && value <= hi;
    }
  }
  if (!ok) {
    return Error(ValueMark(entry), std::string(what) + ": expected " + std::string(expected) +
                                       ", got " + Describe(entry.value));
  }
  *out = value;
  return Status::Ok();
}

std::string StrictYaml::UnknownRegion(std::string_view what, std::string_view name,
                                      const std::vector<std::string_view>& names) {
  return std::string(what) + ": unknown region '" + Printable(name) +
         "' (regions are: " + Join(names) + ")";
}

Status StrictYaml::KnownRegion(const YAML::Node& node, const YAML::Mark& mark,
                               std::string_view what, const std::vector<std::string_view>& names,
                               int* index) const {
  if (!node.IsScalar()) {
    return Error(mark, std::string(what) + ": expected a region name, got " + Describe(node));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == node.Scalar()) {
      *index = static_cast<int>(i);
      return Status::Ok();
    }
  }
  return Error(mark, UnknownRegion(what, node.Scalar(), names));
}

}  // namespace cluster_sim
