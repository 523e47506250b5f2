// The strict scenario loader: YAML (yaml-cpp) -> Scenario. Every rejection is an
// InvalidArgument `FILE:LINE:COL: message` pointing at the offending node; yaml-cpp marks are
// 0-based, ours 1-based. No exception leaves this file.
#include "cluster_sim/scenario.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "cluster_sim/bc_policy.h"
#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/strict_yaml.h"

// The streaming loader below builds yaml-cpp nodes from parser events, as YAML::Load's own
// builder does, and must give them their marks as that builder does. Node lets every
// iterator_base specialization at its internals; this one only sets a mark.
namespace cluster_sim {
struct SetYamlMark {};
}  // namespace cluster_sim
template <>
class YAML::detail::iterator_base<cluster_sim::SetYamlMark> {
 public:
  static void Set(YAML::Node& node, const YAML::Mark& mark) { node.m_pNode->set_mark(mark); }
};

namespace cluster_sim {
namespace {

using strict_yaml::Contains;
using strict_yaml::Describe;
using strict_yaml::Join;
using strict_yaml::Printable;
using Sign = StrictYaml::Sign;
using MapEntry = YamlEntry;

constexpr std::string_view kTopLevelKeys[] = {
    "name",        "source", "seed",     "regions",          "links",  "steps",
    "replication", "ports",  "backends", "bounded_counters", "streams"};
constexpr std::string_view kBoundedCounterOptions[] = {"policy", "period"};
constexpr std::string_view kStreamsOptions[] = {"replicate", "id_mode"};
constexpr std::string_view kReplicationOptions[] = {"backlog", "max_batch", "max_retry", "causal"};
constexpr std::string_view kAtOptions[] = {"time", "if_past"};
constexpr std::string_view kLoadOptions[] = {"regions", "ops", "duration", "keys", "commands"};
constexpr std::string_view kRegionOptions[] = {"lat", "lon", "clock_skew"};
constexpr std::string_view kLinkOptions[] = {"latency", "jitter", "loss", "duplicate"};
constexpr std::string_view kLinkDefaultOptions[] = {"latency", "jitter", "loss", "duplicate",
                                                    "route_factor"};
constexpr std::string_view kExpectKey = "expect";

// ---- streaming the steps ----
//
// YAML::Load builds the whole tree first: about 1.2KB of yaml-cpp nodes per `- A: INCR k`,
// alive beside the steps built from it. When `steps:` is the last key of the top-level map
// (as files write it), the loader instead builds the tree of everything before it, checks
// that part as before, then parses each step as soon as its item is complete and drops the
// item's nodes: memory holds the steps, not the tree. A document of another shape (found
// out on the way: a key after the steps, no steps list, an alias anywhere) is loaded again
// with YAML::Load; both ways give the same Scenario and the same first error (a YAML
// syntax error anywhere before any other, as the events stop there). An alias is left to
// YAML::Load: yaml-cpp merges the memory of every node it is inserted into, so an alias
// used in each of n streamed items (each with memory of its own) would copy all earlier
// items' nodes into the next, O(n^2) and none freed; and an anchor is known only from the
// node's start, so `&a [*a]` needs yaml-cpp's own builder.

// Thrown out of the event handler when the document turns out not to be streamable.
struct NotStreamable {};

// Builds yaml-cpp nodes from the events as YAML::Load does (marks, tags, styles, anchors,
// duplicate keys kept), except the items of the top-level `steps` list: `start(root, key,
// list)` is called when that list starts (with the top level so far, the empty list in
// it), then `item(node)` for each of its items, whose nodes are dropped afterwards. A
// top-level key after that list, or an alias anywhere, throws NotStreamable (an anchor
// alone names nothing that is used).
class StreamingBuilder : public YAML::EventHandler {
 public:
  bool steps_started() const { return steps_started_; }
  using Start =
      std::function<void(const YAML::Node& root, const YAML::Node& key, const YAML::Node& list)>;
  using Item = std::function<void(const YAML::Node& item)>;
  StreamingBuilder(Start start, Item item) : start_(std::move(start)), item_(std::move(item)) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    YAML::Node node(YAML::NodeType::Null);
    Add(Marked(node, mark));
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { throw NotStreamable(); }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    YAML::Node node(value);
    node.SetTag(tag);
    Add(Marked(node, mark));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value style) override {
    Open(YAML::NodeType::Sequence, mark, tag, style);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value style) override {
    Open(YAML::NodeType::Map, mark, tag, style);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YAML::Node node;
    std::optional<YAML::Node> key;  // a map's key waiting for its value
    bool steps = false;             // the top-level `steps` list: items go to item_
  };

  static YAML::Node& Marked(YAML::Node& node, const YAML::Mark& mark) {
    YAML::detail::iterator_base<SetYamlMark>::Set(node, mark);
    return node;
  }
  void Open(YAML::NodeType::value type, const YAML::Mark& mark, const std::string& tag,
            YAML::EmitterStyle::value style) {
    if (stack_.size() == 1 && steps_started_ && !stack_[0].key) throw NotStreamable();
    Frame f;
    f.node = YAML::Node(type);
    Marked(f.node, mark);
    f.node.SetTag(tag);
    f.node.SetStyle(style);
    // The value of the top-level `steps` key.
    if (type == YAML::NodeType::Sequence && stack_.size() == 1 && stack_[0].key &&
        stack_[0].key->IsScalar() && stack_[0].key->Scalar() == "steps" && !steps_started_) {
      f.steps = true;
      steps_started_ = true;
      stack_[0].node.force_insert(*stack_[0].key, f.node);
      start_(stack_[0].node, *stack_[0].key, f.node);
      stack_[0].key.reset();
    }
    stack_.push_back(std::move(f));
  }
  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.steps) return;  // already in the top level
    Add(f.node);
  }
  void Add(const YAML::Node& node) {
    if (stack_.empty()) return;  // the root: the caller holds it from start_
    Frame& top = stack_.back();
    if (top.node.IsSequence()) {
      if (top.steps) {
        item_(node);
      } else {
        top.node.push_back(node);
      }
    } else if (!top.key) {
      if (stack_.size() == 1 && steps_started_) throw NotStreamable();  // a key after steps
      top.key = node;
    } else {
      top.node.force_insert(*top.key, node);
      top.key.reset();
    }
  }

  Start start_;
  Item item_;
  bool steps_started_ = false;
  std::vector<Frame> stack_;
};

constexpr std::string_view kLinkDefaultKey = "default";
constexpr std::string_view kGroupsForm =
    "a list of regions like [A, B] or groups like [[A, B], [C]]";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

class Parser;
using StepParseFn = Status (Parser::*)(const MapEntry& entry, Step* step);

// One step kind besides `REGION: COMMAND`. To add a kind: a Step::Kind, an entry in
// kStepKinds (below Parser) and its parse function.
struct StepKindInfo {
  std::string_view name;  // the step's key
  Step::Kind kind;
  StepParseFn parse;           // fills the kind's fields of *step from entry.value
  bool region_suffix = false;  // the key is `name@REGION` (a service in a region); sets region
  bool bare = false;           // may be a bare scalar (`- sync`), parsed with a null value
  bool allows_expect = false;  // `expect:` may accompany it
};

// The scenario grammar over the strict YAML reading (StrictYaml: entries, typed values,
// FILE:LINE:COL errors).
class Parser : public StrictYaml {
 public:
  Parser(std::string_view text, const std::string& file) : StrictYaml(file, text) {}

  // REQUIRES: `text` is the text given to the constructor. May throw YAML::Exception.
  Result<Scenario> Parse(const std::string& text);
  ParseOptions parse_options;

  // Step parsers, named in kStepKinds.
  Status ParsePartition(const MapEntry& entry, Step* step);
  Status ParseHeal(const MapEntry& entry, Step* step);
  Status ParseWait(const MapEntry& entry, Step* step);
  Status ParseAt(const MapEntry& entry, Step* step);
  Status ParseSync(const MapEntry& entry, Step* step);
  Status ParseConverged(const MapEntry& entry, Step* step);
  Status ParseCrash(const MapEntry& entry, Step* step);
  Status ParseRestart(const MapEntry& entry, Step* step);
  Status ParseNote(const MapEntry& entry, Step* step);
  Status ParseLoad(const MapEntry& entry, Step* step);
  Status ParseService(const MapEntry& entry, Step* step);
  Status ParseCheck(const MapEntry& entry, Step* step);

 private:
  std::vector<std::string_view> RegionNames() const;
  Status KnownRegion(const YAML::Node& node, const YAML::Mark& mark, std::string_view what,
                     std::string* out) const;
  std::string UnknownRegion(std::string_view what, std::string_view name) const;

  // Checks the top level and parses everything but the steps; then the steps, unless
  // `steps_streamed` (ParseStreaming parses them as they come).
  Status ParseTop(const YAML::Node& root, bool steps_streamed = false);
  // Parse without the whole YAML tree (StreamingBuilder), for a document whose last
  // top-level key is `steps:` with a list: then *streamed, and the status and scenario_
  // are Parse's. For a document of another shape, *streamed is false.
  Status ParseStreaming(const std::string& text, bool* streamed);
  Status ParseReplication(const MapEntry& entry);
  Status ParseBoundedCounters(const MapEntry& entry);
  Status ParseStreams(const MapEntry& entry);
  Status ParsePorts(const MapEntry& entry);
  Status Size(const MapEntry& entry, std::string_view what, uint64_t* out) const;
  Status Count(const MapEntry& entry, std::string_view what, uint64_t* out) const;
  Status ParseRegions(const MapEntry& entry);
  Status AddRegion(const YAML::Node& name_node, const YAML::Node& options);
  Status ParseLinks(const MapEntry& entry);
  Status ParseLinkDefault(const MapEntry& entry);
  Status ParseLinkRule(const MapEntry& entry);
  // Parses latency/jitter/loss of `options` (a map at `where`) into *spec. Without a latency,
  // fails with `what: missing_latency`.
  Status ParseLinkSpec(const YAML::Node& where, const std::vector<MapEntry>& options,
                       std::string_view what, std::string_view missing_latency, LinkSpec* spec);
  Status ParseSteps(const MapEntry& entry);
  Status ParseStep(const YAML::Node& node, Step* step);
  Status ParseCommand(const MapEntry& entry, Step* step);
  Status ParseExpect(const MapEntry& entry, Expectation* out);
  Status ParseGroups(const MapEntry& entry, std::string_view what, Step* step);
  Status ParseRegionStep(const MapEntry& entry, Step* step);
  std::string UnknownStep(std::string_view key) const;

  Scenario scenario_;
};

// In the order they are listed in messages. A service step such as `lending@A: BORROW b1 m1`
// would be {.name = "lending", .kind = Step::Kind::kLending, .parse = &Parser::ParseLending,
// .region_suffix = true, .allows_expect = true}.
constexpr StepKindInfo kStepKinds[] = {
    {"partition", Step::Kind::kPartition, &Parser::ParsePartition},
    {"heal", Step::Kind::kHeal, &Parser::ParseHeal},
    {"wait", Step::Kind::kWait, &Parser::ParseWait},
    {"at", Step::Kind::kAt, &Parser::ParseAt},
    {.name = "sync", .kind = Step::Kind::kSync, .parse = &Parser::ParseSync, .bare = true},
    {"converged", Step::Kind::kConverged, &Parser::ParseConverged},
    {"crash", Step::Kind::kCrash, &Parser::ParseCrash},
    {"restart", Step::Kind::kRestart, &Parser::ParseRestart},
    {"note", Step::Kind::kNote, &Parser::ParseNote},
    {"load", Step::Kind::kLoad, &Parser::ParseLoad},
    {.name = "check",
     .kind = Step::Kind::kCheck,
     .parse = &Parser::ParseCheck,
     .allows_expect = true},
    {.name = "lending",
     .kind = Step::Kind::kService,
     .parse = &Parser::ParseService,
     .region_suffix = true,
     .allows_expect = true},
};

// The key that gives a service step's expected output lines (beside `expect:`).
constexpr std::string_view kOutputKey = "output";

// The step kind a key names, or nullptr. For a `name@REGION` kind, *region is the suffix.
const StepKindInfo* FindStepKind(std::string_view key, std::string* region) {
  for (const StepKindInfo& info : kStepKinds) {
    if (!info.region_suffix && key == info.name) return &info;
    if (info.region_suffix && key.size() > info.name.size() + 1 && key.starts_with(info.name) &&
        key[info.name.size()] == '@') {
      *region = std::string(key.substr(info.name.size() + 1));
      return &info;
    }
  }
  return nullptr;
}

std::string StepKindNames() {
  std::string out;
  for (const StepKindInfo& info : kStepKinds) {
    if (!out.empty()) out += ", ";
    out += info.name;
    if (info.region_suffix) out += "@REGION";
  }
  return out;
}

bool IsReservedName(std::string_view name) {
  std::string unused;
  return name == kExpectKey || FindStepKind(name, &unused) != nullptr;
}

// ---- helpers ----

std::vector<std::string_view> Parser::RegionNames() const {
  std::vector<std::string_view> names;
  for (const RegionSpec& r : scenario_.regions) names.push_back(r.name);
  return names;
}

std::string Parser::UnknownRegion(std::string_view what, std::string_view name) const {
  return StrictYaml::UnknownRegion(what, name, RegionNames());
}

Status Parser::KnownRegion(const YAML::Node& node, const YAML::Mark& mark, std::string_view what,
                           std::string* out) const {
  int index = -1;
  AASIM_RETURN_IF_ERROR(StrictYaml::KnownRegion(node, mark, what, RegionNames(), &index));
  *out = node.Scalar();
  return Status::Ok();
}

// ---- top level ----

Result<Scenario> Parser::Parse(const std::string& text) {
  scenario_.file = file();
  AASIM_RETURN_IF_ERROR(
      CheckOneDocument(text, "empty file: expected a map with name, regions and steps",
                       "expected one YAML document (one scenario), found a second one"));
  bool streamed = false;
  Status status = parse_options.stream_steps ? ParseStreaming(text, &streamed) : Status::Ok();
  if (streamed) {
    AASIM_RETURN_IF_ERROR(status);
    return std::move(scenario_);
  }
  scenario_ = Scenario();
  scenario_.file = file();
  AASIM_RETURN_IF_ERROR(ParseTop(YAML::Load(text)));
  return std::move(scenario_);
}

Status Parser::ParseStreaming(const std::string& text, bool* streamed) {
  // The first error, as the whole tree would give it, once the document is known to be
  // streamable; until then an exception of the step parsers waits too.
  Status status;
  std::exception_ptr thrown;
  MapEntry steps_entry;
  size_t seen = 0;
  auto guarded = [&](auto&& parse) {
    if (!status.ok() || thrown) return;
    try {
      status = parse();
    } catch (...) {
      thrown = std::current_exception();
    }
  };
  StreamingBuilder builder(
      [&](const YAML::Node& root, const YAML::Node& key, const YAML::Node& list) {
        steps_entry = MapEntry{key.Scalar(), key, list};
        guarded([&] { return ParseTop(root, /*steps_streamed=*/true); });
      },
      [&](const YAML::Node& item) {
        ++seen;
        guarded([&] { return ParseStep(item, &scenario_.steps.emplace_back()); });
      });
  std::istringstream in(text);
  YAML::Parser parser(in);
  try {
    parser.HandleNextDocument(builder);
  } catch (const NotStreamable&) {
    return Status::Ok();
  }
  if (!builder.steps_started()) return Status::Ok();
  *streamed = true;
  if (thrown) std::rethrow_exception(thrown);
  AASIM_RETURN_IF_ERROR(status);
  if (seen == 0 && !parse_options.steps_optional) {
    return Error(ValueMark(steps_entry), "steps: expected at least one step");
  }
  return Status::Ok();
}

Status Parser::ParseTop(const YAML::Node& root, bool steps_streamed) {
  if (!root.IsMap()) {
    return Error(root.Mark(), "expected a map with name, regions and steps at the top level, got " +
                                  Describe(root));
  }
  if (root["deployments"]) {
    return Error(root.Mark(),
                 "this is a latency file (it has `deployments:`), not a scenario file: run it "
                 "with `aasim latency` or `aasim run`");
  }
  std::vector<MapEntry> entries;
  std::map<std::string_view, const MapEntry*> found;
  AASIM_RETURN_IF_ERROR(TopLevel(root, kTopLevelKeys, &entries, &found));
  for (std::string_view required : {"name", "regions", "steps"}) {
    if (required == "steps" && parse_options.steps_optional) continue;
    if (found.count(required) == 0) {
      return Error(root.Mark(), "missing required key '" + std::string(required) + "'");
    }
  }

  AASIM_RETURN_IF_ERROR(Text(*found["name"], "name", &scenario_.name));
  if (Trim(scenario_.name).empty()) {
    return Error(ValueMark(*found["name"]), "name: must not be empty");
  }
  if (found.count("source")) {
    AASIM_RETURN_IF_ERROR(Text(*found["source"], "source", &scenario_.source));
  }
  if (found.count("backends")) {
    const MapEntry& e = *found["backends"];
    if (!e.value.IsSequence() || e.value.size() == 0) {
      return Error(ValueMark(e),
                   "backends: expected a list like [memory], got " + Describe(e.value));
    }
    for (const YAML::Node& b : e.value) {
      if (!b.IsScalar() || !Contains(kBackends, b.Scalar())) {
        return Error(b.Mark(),
                     "backends: expected one of " + Join(kBackends) + ", got " + Describe(b));
      }
      scenario_.backends.push_back(b.Scalar());
    }
  }
  if (found.count("seed")) {
    uint64_t seed = 0;
    AASIM_RETURN_IF_ERROR(
        Integer(*found["seed"], "seed", 0, UINT64_MAX, "a non-negative integer", &seed));
    scenario_.seed = seed;
  }
  AASIM_RETURN_IF_ERROR(ParseRegions(*found["regions"]));
  if (found.count("links")) AASIM_RETURN_IF_ERROR(ParseLinks(*found["links"]));
  if (found.count("replication")) AASIM_RETURN_IF_ERROR(ParseReplication(*found["replication"]));
  if (found.count("ports")) AASIM_RETURN_IF_ERROR(ParsePorts(*found["ports"]));
  if (found.count("bounded_counters")) {
    AASIM_RETURN_IF_ERROR(ParseBoundedCounters(*found["bounded_counters"]));
  }
  if (found.count("streams")) AASIM_RETURN_IF_ERROR(ParseStreams(*found["streams"]));
  if (found.count("steps") == 0 || steps_streamed) return Status::Ok();
  return ParseSteps(*found["steps"]);
}

// ---- regions ----

Status Parser::ParseRegions(const MapEntry& entry) {
  const YAML::Node& value = entry.value;
  if (value.IsSequence()) {
    for (const YAML::Node& item : value) {
      AASIM_RETURN_IF_ERROR(AddRegion(item, YAML::Node()));
    }
  } else if (value.IsMap()) {
    std::vector<MapEntry> entries;
    AASIM_RETURN_IF_ERROR(Entries(value, "regions", &entries));
    for (const MapEntry& e : entries) AASIM_RETURN_IF_ERROR(AddRegion(e.key_node, e.value));
  } else {
    return Error(ValueMark(entry),
                 "regions: expected a list of region names or a map of name -> options, got " +
                     Describe(value));
  }
  if (scenario_.regions.empty()) {
    return Error(ValueMark(entry), "regions: expected at least one region");
  }
  if (scenario_.regions.size() > kMaxRegions) {
    return Error(ValueMark(entry), "regions: at most " + std::to_string(kMaxRegions) +
                                       " regions, got " + std::to_string(scenario_.regions.size()));
  }
  return Status::Ok();
}

Status Parser::AddRegion(const YAML::Node& name_node, const YAML::Node& options) {
  if (!name_node.IsScalar()) {
    return Error(name_node.Mark(), "regions: expected a region name, got " + Describe(name_node));
  }
  RegionSpec region;
  region.name = name_node.Scalar();
  region.mark = ToSourceMark(name_node.Mark());
  if (!strict_yaml::IsPlainName(region.name)) {
    return Error(name_node.Mark(), "regions: invalid region name '" + Printable(region.name) +
                                       "' (use letters, digits, '-' and '_')");
  }
  if (IsReservedName(region.name)) {
    return Error(name_node.Mark(),
                 "regions: '" + region.name + "' cannot be a region name (it is a step keyword)");
  }
  if (scenario_.RegionIndex(region.name) >= 0) {
    return Error(name_node.Mark(), "regions: duplicate region '" + region.name + "'");
  }
  const std::string what = "regions." + region.name;
  if (options.IsMap()) {
    std::vector<MapEntry> entries;
    AASIM_RETURN_IF_ERROR(Entries(options, what, &entries));
    for (const MapEntry& e : entries) {
      double number = 0;
      if (e.key == "lat") {
        AASIM_RETURN_IF_ERROR(Number(e, what + ".lat", -90, 90, "in [-90, 90]", &number));
        region.lat = number;
      } else if (e.key == "lon") {
        AASIM_RETURN_IF_ERROR(Number(e, what + ".lon", -180, 180, "in [-180, 180]", &number));
        region.lon = number;
      } else if (e.key == "clock_skew") {
        AASIM_RETURN_IF_ERROR(Duration(e, what + ".clock_skew", Sign::kAny, &region.clock_skew));
      } else {
        return UnknownKey(e, what, kRegionOptions, "option");
      }
    }
    if (region.lat.has_value() != region.lon.has_value()) {
      return Error(options.Mark(), what + ": lat and lon come together (" +
                                       (region.lat ? "lon" : "lat") + " is missing)");
    }
  } else if (options.IsDefined() && !options.IsNull()) {
    return Error(options.Mark(), what + ": expected a map of options (" + Join(kRegionOptions) +
                                     "), got " + Describe(options));
  }
  scenario_.regions.push_back(std::move(region));
  return Status::Ok();
}

// ---- links ----

Status Parser::ParseLinks(const MapEntry& entry) {
  if (entry.value.IsNull()) return Status::Ok();
  if (!entry.value.IsMap()) {
    return Error(ValueMark(entry),
                 "links: expected a map of \"A <-> B\" -> options, got " + Describe(entry.value));
  }
  std::vector<MapEntry> entries;
  AASIM_RETURN_IF_ERROR(Entries(entry.value, "links", &entries));
  for (const MapEntry& e : entries) {
    if (e.key == kLinkDefaultKey) {
      AASIM_RETURN_IF_ERROR(ParseLinkDefault(e));
    } else {
      AASIM_RETURN_IF_ERROR(ParseLinkRule(e));
    }
  }
  return Status::Ok();
}

Status Parser::ParseLinkSpec(const YAML::Node& where, const std::vector<MapEntry>& options,
                             std::string_view what, std::string_view missing_latency,
                             LinkSpec* spec) {
  bool has_latency = false;
  const MapEntry* jitter = nullptr;
  for (const MapEntry& e : options) {
    const std::string field = std::string(what) + "." + e.key;
    if (e.key == "latency") {
      AASIM_RETURN_IF_ERROR(Duration(e, field, Sign::kNonNegative, &spec->latency));
      has_latency = true;
    } else if (e.key == "jitter") {
      AASIM_RETURN_IF_ERROR(Duration(e, field, Sign::kNonNegative, &spec->jitter));
      jitter = &e;
    } else if (e.key == "loss") {
      AASIM_RETURN_IF_ERROR(Number(e, field, 0, 1, "in [0, 1]", &spec->loss));
    } else if (e.key == "duplicate") {
      AASIM_RETURN_IF_ERROR(Number(e, field, 0, 1, "in [0, 1]", &spec->duplicate));
    }
  }
  if (!has_latency)
    return Error(where.Mark(), std::string(what) + ": " + std::string(missing_latency));
  if (jitter != nullptr && spec->jitter > spec->latency) {
    return Error(ValueMark(*jitter), std::string(what) + ".jitter: must not exceed latency (" +
                                         FormatDuration(spec->latency) + "), got " +
                                         Describe(jitter->value));
  }
  return Status::Ok();
}

Status Parser::ParseLinkDefault(const MapEntry& entry) {
  const std::string what = "links.default";
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(Options(entry, what, kLinkDefaultOptions, "option", &options));
  bool has_spec_field = false;
  for (const MapEntry& e : options) {
    if (e.key == "route_factor") {
      AASIM_RETURN_IF_ERROR(Number(e, what + ".route_factor", 1,
                                   std::numeric_limits<double>::infinity(), ">= 1",
                                   &scenario_.link_defaults.route_factor));
    } else {
      has_spec_field = true;
    }
  }
  if (!has_spec_field) return Status::Ok();
  LinkSpec spec;
  AASIM_RETURN_IF_ERROR(ParseLinkSpec(entry.value, options, what,
                                      "latency is required when jitter or loss is given", &spec));
  scenario_.link_defaults.spec = spec;
  return Status::Ok();
}

Status Parser::ParseLinkRule(const MapEntry& entry) {
  // CASE 1: "A <-> B" (both ways). CASE 2: "A -> B" (one way). Region names cannot contain
  // '<' or '>', so the first arrow found is the separator.
  LinkRule rule;
  size_t arrow = entry.key.find("<->");
  size_t arrow_size = 3;
  if (arrow == std::string::npos) {
    rule.both_ways = false;
    arrow = entry.key.find("->");
    arrow_size = 2;
  }
  const YAML::Mark key_mark = entry.key_node.Mark();
  if (arrow != std::string::npos) {
    rule.from = std::string(Trim(std::string_view(entry.key).substr(0, arrow)));
    rule.to = std::string(Trim(std::string_view(entry.key).substr(arrow + arrow_size)));
  }
  if (rule.from.empty() || rule.to.empty()) {
    return Error(key_mark,
                 "links: expected \"default\" or a pair like \"A <-> B\" or \"A -> B\", "
                 "got \"" +
                     Printable(entry.key) + "\"");
  }
  for (const std::string& name : {rule.from, rule.to}) {
    if (scenario_.RegionIndex(name) < 0) return Error(key_mark, UnknownRegion("links", name));
  }
  const std::string label = rule.from + (rule.both_ways ? " <-> " : " -> ") + rule.to;
  const std::string what = "links[" + label + "]";
  if (rule.from == rule.to) {
    return Error(key_mark, what + ": a region cannot be linked to itself");
  }
  for (const LinkRule& other : scenario_.links) {
    const bool same = other.from == rule.from && other.to == rule.to;
    const bool reverse = other.to == rule.from && other.from == rule.to;
    if (same || (reverse && (other.both_ways || rule.both_ways))) {
      return Error(key_mark, what + ": duplicate link, '" + other.from +
                                 (other.both_ways ? " <-> " : " -> ") + other.to + "' at line " +
                                 std::to_string(other.mark.line) + " already sets it");
    }
  }
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(Options(entry, what, kLinkOptions, "option", &options));
  AASIM_RETURN_IF_ERROR(
      ParseLinkSpec(entry.value, options, what, "latency is required", &rule.spec));
  rule.mark = ToSourceMark(key_mark);
  scenario_.links.push_back(std::move(rule));
  return Status::Ok();
}

// ---- steps ----

std::string Parser::UnknownStep(std::string_view key) const {
  return "unknown step '" + Printable(key) +
         "' (not a region of this scenario nor a step kind: " + StepKindNames() + ")";
}

Status Parser::ParseSteps(const MapEntry& entry) {
  if (!entry.value.IsSequence()) {
    return Error(ValueMark(entry), "steps: expected a list of steps, got " + Describe(entry.value));
  }
  if (entry.value.size() == 0 && !parse_options.steps_optional) {
    return Error(ValueMark(entry), "steps: expected at least one step");
  }
  // Exactly as many as the file lists: a vector grown by doubling would hold up to twice
  // that, and both its old and new arrays while it grows, beside the YAML tree.
  scenario_.steps.reserve(entry.value.size());
  for (const YAML::Node& node : entry.value) {
    Step& step = scenario_.steps.emplace_back();
    AASIM_RETURN_IF_ERROR(ParseStep(node, &step));
  }
  return Status::Ok();
}

Status Parser::ParseStep(const YAML::Node& node, Step* step) {
  step->mark = ToSourceMark(node.Mark());
  std::string suffix_region;
  // A bare scalar: `- sync`.
  if (node.IsScalar()) {
    const std::string& key = node.Scalar();
    const StepKindInfo* info = FindStepKind(key, &suffix_region);
    if (info != nullptr && info->bare) {
      step->kind = info->kind;
      return (this->*info->parse)(MapEntry{key, node, YAML::Node(YAML::NodeType::Null)}, step);
    }
    if (info != nullptr) {
      return Error(node.Mark(), "step '" + key + "' needs a value (write '- " + key + ": ...')");
    }
    if (scenario_.RegionIndex(key) >= 0) {
      return Error(node.Mark(),
                   "step '" + key + "' needs a command (write '- " + key + ": COMMAND')");
    }
    return Error(node.Mark(), UnknownStep(key));
  }
  if (!node.IsMap()) {
    return Error(node.Mark(), "expected a step (REGION: COMMAND or one of: " + StepKindNames() +
                                  "), got " + Describe(node));
  }

  std::vector<MapEntry> entries;
  AASIM_RETURN_IF_ERROR(Entries(node, "step", &entries));
  const MapEntry* kind_entry = nullptr;
  const StepKindInfo* kind_info = nullptr;  // nullptr with a kind_entry: a command
  const MapEntry* expect_entry = nullptr;
  const MapEntry* output_entry = nullptr;
  for (const MapEntry& e : entries) {
    if (e.key == kExpectKey) {
      expect_entry = &e;
      continue;
    }
    if (e.key == kOutputKey && scenario_.RegionIndex(e.key) < 0) {
      output_entry = &e;
      continue;
    }
    std::string region;
    const StepKindInfo* info = FindStepKind(e.key, &region);
    if (info == nullptr && scenario_.RegionIndex(e.key) < 0) {
      return Error(e.key_node.Mark(), UnknownStep(e.key));
    }
    if (kind_entry != nullptr) {
      return Error(e.key_node.Mark(), "step has both '" + kind_entry->key + "' and '" + e.key +
                                          "' (write one step per list item)");
    }
    kind_entry = &e;
    kind_info = info;
    suffix_region = region;
  }
  if (kind_entry == nullptr) {
    if (output_entry != nullptr) {
      return Error(output_entry->key_node.Mark(),
                   "output: only allowed on a service step (lending@REGION: ...)");
    }
    if (expect_entry != nullptr) {
      return Error(expect_entry->key_node.Mark(),
                   "expect: only allowed on a command step (REGION: COMMAND), and this step has "
                   "no command");
    }
    return Error(node.Mark(),
                 "empty step (expected REGION: COMMAND or one of: " + StepKindNames() + ")");
  }
  if (expect_entry != nullptr && kind_info != nullptr && !kind_info->allows_expect) {
    return Error(expect_entry->key_node.Mark(),
                 "expect: only allowed on a command step (REGION: COMMAND), not on '" +
                     kind_entry->key + "'");
  }

  if (output_entry != nullptr &&
      (kind_info == nullptr || kind_info->kind != Step::Kind::kService)) {
    return Error(output_entry->key_node.Mark(),
                 "output: only allowed on a service step (lending@REGION: ...), not on '" +
                     kind_entry->key + "'");
  }
  if (kind_info == nullptr) {
    step->kind = Step::Kind::kCommand;
    step->region = kind_entry->key;
    AASIM_RETURN_IF_ERROR(ParseCommand(*kind_entry, step));
  } else {
    step->kind = kind_info->kind;
    if (kind_info->region_suffix) {
      // `lending@B from A`: a request from a client in A, routed to B.
      if (size_t at = suffix_region.find(" from "); at != std::string::npos) {
        std::string from(Trim(std::string_view(suffix_region).substr(at + 6)));
        std::string to(Trim(std::string_view(suffix_region).substr(0, at)));
        suffix_region = std::move(to);
        if (scenario_.RegionIndex(from) < 0) {
          return Error(kind_entry->key_node.Mark(),
                       UnknownRegion(Printable(kind_entry->key) + ": from", from));
        }
        step->from_region = from;
      }
      if (scenario_.RegionIndex(suffix_region) < 0) {
        return Error(kind_entry->key_node.Mark(),
                     UnknownRegion(Printable(kind_entry->key), suffix_region));
      }
      step->region = suffix_region;
    }
    AASIM_RETURN_IF_ERROR((this->*kind_info->parse)(*kind_entry, step));
  }
  if (expect_entry != nullptr) {
    Expectation expect;
    AASIM_RETURN_IF_ERROR(ParseExpect(*expect_entry, &expect));
    if (step->kind == Step::Kind::kService && expect.kind != Expectation::Kind::kScalar) {
      return Error(ValueMark(*expect_entry),
                   "expect: on a service step, expected an outcome like ACCEPTED, DENIED, "
                   "PROCESSED or PENDING, got " +
                       Describe(expect_entry->value));
    }
    if (step->kind == Step::Kind::kCheck && expect.kind != Expectation::Kind::kList) {
      return Error(ValueMark(*expect_entry),
                   "expect: on a check, expected the list of broken invariants ([] for none), "
                   "got " +
                       Describe(expect_entry->value));
    }
    step->expect = std::move(expect);
  }
  if (output_entry != nullptr) {
    const YAML::Node& v = output_entry->value;
    if (!v.IsSequence()) {
      return Error(ValueMark(*output_entry),
                   "output: expected the list of lines the service prints, got " + Describe(v));
    }
    std::vector<std::string> lines;
    for (const YAML::Node& line : v) {
      if (!line.IsScalar()) {
        return Error(line.Mark(), "output: expected a line of text, got " + Describe(line));
      }
      lines.push_back(line.Scalar());
    }
    step->output = std::move(lines);
  }
  return Status::Ok();
}

Status Parser::ParseService(const MapEntry& entry, Step* step) {
  step->service = entry.key.substr(0, entry.key.find('@'));
  step->value_mark = ToSourceMark(ValueMark(entry));
  if (entry.value.IsNull()) {
    return Error(ValueMark(entry), Printable(entry.key) + ": empty step (write e.g. '" +
                                       step->service + "@A: request Salvatore ofmiceandmen')");
  }
  AASIM_RETURN_IF_ERROR(Text(entry, Printable(entry.key), &step->text));
  if (Trim(step->text).empty()) {
    return Error(ValueMark(entry), Printable(entry.key) + ": empty step");
  }
  return Status::Ok();
}

Status Parser::ParseCheck(const MapEntry& entry, Step* step) {
  step->value_mark = ToSourceMark(ValueMark(entry));
  AASIM_RETURN_IF_ERROR(Text(entry, "check", &step->service));
  if (Trim(step->service).empty()) {
    return Error(ValueMark(entry), "check: expected a check name like lending-invariants");
  }
  return Status::Ok();
}

Status Parser::ParseCommand(const MapEntry& entry, Step* step) {
  const std::string& region = entry.key;
  if (entry.value.IsNull()) return Error(ValueMark(entry), region + ": empty command");
  if (!entry.value.IsScalar()) {
    return Error(ValueMark(entry),
                 region + ": expected a command like \"INCR foo\", got " + Describe(entry.value));
  }
  step->text = entry.value.Scalar();
  step->value_mark = ToSourceMark(ValueMark(entry));
  Result<std::vector<std::string>> argv = SplitCommand(step->text);
  if (!argv.ok()) {
    return Error(ValueMark(entry), region + ": cannot split command: " + argv.status().message());
  }
  if (argv->empty()) return Error(ValueMark(entry), region + ": empty command");
  step->argv = std::move(argv).value();
  return Status::Ok();
}

Status Parser::ParseExpect(const MapEntry& entry, Expectation* out) {
  const YAML::Node& value = entry.value;
  out->mark = ToSourceMark(ValueMark(entry));
  switch (value.Type()) {
    case YAML::NodeType::Scalar:
      out->kind = Expectation::Kind::kScalar;
      out->text = value.Scalar();
      return Status::Ok();
    case YAML::NodeType::Sequence: {
      out->kind = Expectation::Kind::kList;
      size_t index = 0;
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) {
          return Error(item.Mark(), "expect[" + std::to_string(index) +
                                        "]: expected a scalar, got " + Describe(item));
        }
        out->items.push_back(item.Scalar());
        ++index;
      }
      return Status::Ok();
    }
    case YAML::NodeType::Map: {
      std::vector<MapEntry> entries;
      AASIM_RETURN_IF_ERROR(Entries(value, "expect", &entries));
      if (entries.size() != 1 || entries[0].key != "error") {
        const YAML::Mark mark = entries.empty() ? value.Mark() : entries.back().key_node.Mark();
        const std::string got =
            entries.empty() ? "an empty map" : "key '" + Printable(entries.back().key) + "'";
        return Error(mark, "expect: expected a reply, null, a list or {error: TEXT}, got " + got);
      }
      if (!entries[0].value.IsScalar()) {
        return Error(ValueMark(entries[0]), "expect.error: expected the text of the error, got " +
                                                Describe(entries[0].value));
      }
      out->kind = Expectation::Kind::kError;
      out->text = entries[0].value.Scalar();
      return Status::Ok();
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  if (IsExplicitNull(value)) {
    out->kind = Expectation::Kind::kNull;
    return Status::Ok();
  }
  return Error(entry.key_node.Mark(),
               "expect: expected a value (write 'expect: null' for a nil reply)");
}

Status Parser::ParseGroups(const MapEntry& entry, std::string_view what, Step* step) {
  const std::string w(what);
  const YAML::Node& value = entry.value;
  if (!value.IsSequence()) {
    return Error(ValueMark(entry),
                 w + ": expected " + std::string(kGroupsForm) + ", got " + Describe(value));
  }
  std::vector<std::string> seen;
  for (const YAML::Node& item : value) {
    std::vector<YAML::Node> members;
    if (item.IsSequence()) {
      if (item.size() == 0) return Error(item.Mark(), w + ": empty group");
      for (const YAML::Node& member : item) members.push_back(member);
    } else {
      members.push_back(item);
    }
    std::vector<std::string> group;
    for (const YAML::Node& member : members) {
      std::string region;
      AASIM_RETURN_IF_ERROR(KnownRegion(member, member.Mark(), w, &region));
      if (Contains(seen, region)) {
        return Error(member.Mark(), w + ": region '" + region + "' appears twice");
      }
      seen.push_back(region);
      group.push_back(std::move(region));
    }
    step->groups.push_back(std::move(group));
  }
  if (step->groups.size() < 2) {
    return Error(value.Mark(), w + ": expected at least two groups (like [A, B]), got " +
                                   std::to_string(step->groups.size()));
  }
  return Status::Ok();
}

Status Parser::ParsePartition(const MapEntry& entry, Step* step) {
  return ParseGroups(entry, "partition", step);
}

Status Parser::ParseHeal(const MapEntry& entry, Step* step) {
  if (entry.value.IsScalar() && entry.value.Scalar() == "all") {
    step->all = true;
    return Status::Ok();
  }
  if (!entry.value.IsSequence()) {
    return Error(ValueMark(entry), "heal: expected all, " + std::string(kGroupsForm) + ", got " +
                                       Describe(entry.value));
  }
  return ParseGroups(entry, "heal", step);
}

Status Parser::ParseWait(const MapEntry& entry, Step* step) {
  return Duration(entry, "wait", Sign::kNonNegative, &step->duration);
}

Status Parser::ParseAt(const MapEntry& entry, Step* step) {
  if (!entry.value.IsMap()) return Duration(entry, "at", Sign::kNonNegative, &step->duration);
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(MapOf(entry, "at", kAtOptions, &options));
  bool has_time = false;
  for (const MapEntry& e : options) {
    if (e.key == "time") {
      AASIM_RETURN_IF_ERROR(Duration(e, "at.time", Sign::kNonNegative, &step->duration));
      has_time = true;
    } else if (e.key == "if_past") {
      const std::string v = e.value.IsScalar() ? e.value.Scalar() : "";
      if (v != "fail" && v != "now") {
        return Error(ValueMark(e), "at.if_past: expected fail or now, got " + Describe(e.value));
      }
      step->past_runs_now = v == "now";
    } else {
      return UnknownKey(e, "at", kAtOptions, "option");
    }
  }
  if (!has_time) return Error(entry.value.Mark(), "at: missing required option 'time'");
  return Status::Ok();
}

Status Parser::ParseSync(const MapEntry& entry, Step* /*step*/) {
  if (entry.value.IsNull() || (entry.value.IsMap() && entry.value.size() == 0)) {
    return Status::Ok();
  }
  return Error(ValueMark(entry), "sync: takes no value, got " + Describe(entry.value));
}

Status Parser::ParseConverged(const MapEntry& entry, Step* step) {
  if (!entry.value.IsSequence()) {
    return Error(ValueMark(entry), "converged: expected a list of keys ([] for all keys), got " +
                                       Describe(entry.value));
  }
  for (const YAML::Node& key : entry.value) {
    if (!key.IsScalar()) {
      return Error(key.Mark(), "converged: expected a key, got " + Describe(key));
    }
    step->keys.push_back(key.Scalar());
  }
  return Status::Ok();
}

Status Parser::ParseRegionStep(const MapEntry& entry, Step* step) {
  return KnownRegion(entry.value, ValueMark(entry), entry.key, &step->region);
}

Status Parser::ParseCrash(const MapEntry& entry, Step* step) {
  return ParseRegionStep(entry, step);
}

Status Parser::ParseRestart(const MapEntry& entry, Step* step) {
  return ParseRegionStep(entry, step);
}

Status Parser::ParseNote(const MapEntry& entry, Step* step) {
  return Text(entry, "note", &step->text);
}

Status Parser::Count(const MapEntry& entry, std::string_view what, uint64_t* out) const {
  return Integer(entry, what, 1, UINT64_MAX, "a positive integer", out);
}

Status Parser::Size(const MapEntry& entry, std::string_view what, uint64_t* out) const {
  bool ok = entry.value.IsScalar();
  uint64_t v = 0;
  if (ok) {
    std::string_view text = entry.value.Scalar();
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    std::string_view unit = text.substr(digits);
    uint64_t scale = unit == "B"    ? 1
                     : unit == "KB" ? 1024
                     : unit == "MB" ? 1 << 20
                     : unit == "GB" ? uint64_t{1} << 30
                                    : 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, v);
    ok = digits > 0 && scale != 0 && ec == std::errc() && ptr == text.data() + digits && v >= 1 &&
         !__builtin_mul_overflow(v, scale, &v);
  }
  if (!ok) {
    return Error(ValueMark(entry), std::string(what) + ": expected a size like \"64KB\" (B, KB, " +
                                       "MB or GB), got " + Describe(entry.value));
  }
  *out = v;
  return Status::Ok();
}

// `ports: {A: 7001, B: 7002}`: fixed RESP ports for `aasim serve` (0: any free port).
Status Parser::ParsePorts(const MapEntry& entry) {
  if (!entry.value.IsMap()) {
    return Error(ValueMark(entry),
                 "ports: expected a map of region -> port, got " + Describe(entry.value));
  }
  std::vector<MapEntry> items;
  AASIM_RETURN_IF_ERROR(Entries(entry.value, "ports", &items));
  for (const MapEntry& e : items) {
    if (scenario_.RegionIndex(e.key) < 0) {
      return Error(e.key_node.Mark(), "ports: unknown region '" + Printable(e.key) + "'");
    }
    std::string text = e.value.IsScalar() ? e.value.Scalar() : "";
    int port = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 0 ||
        port > 65535) {
      return Error(ValueMark(e), "ports." + Printable(e.key) +
                                     ": expected a port number 0..65535, got " + Describe(e.value));
    }
    // Two regions on one port: serve would fail to listen on the second, and a node of
    // either would take the other's address for its own and link to itself.
    for (const auto& [region, taken] : scenario_.ports) {
      if (port != 0 && taken == port) {
        return Error(ValueMark(e), "ports." + Printable(e.key) + ": port " + std::to_string(port) +
                                       " is region " + region + "'s too");
      }
    }
    scenario_.ports.emplace_back(std::string(e.key), static_cast<uint16_t>(port));
  }
  return Status::Ok();
}

Status Parser::ParseReplication(const MapEntry& entry) {
  const std::string what = "replication";
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(MapOf(entry, what, kReplicationOptions, &options));
  ReplicationSpec& r = scenario_.replication;
  for (const MapEntry& e : options) {
    uint64_t bytes = 0;
    SimTime t{0};
    if (e.key == "backlog") {
      // "auto" (the default): 1% of the region's data, within bounds (ReplicationConfig).
      if (!e.value.IsScalar() || e.value.Scalar() != "auto") {
        AASIM_RETURN_IF_ERROR(Size(e, what + ".backlog", &bytes));
      }
      r.backlog_bytes = bytes;
    } else if (e.key == "max_batch") {
      AASIM_RETURN_IF_ERROR(Size(e, what + ".max_batch", &bytes));
      r.max_batch_bytes = bytes;
    } else if (e.key == "max_retry") {
      AASIM_RETURN_IF_ERROR(Duration(e, what + ".max_retry", Sign::kNonNegative, &t));
      if (t.count() == 0) return Error(ValueMark(e), what + ".max_retry: must be positive");
      r.max_rto = t;
    } else if (e.key == "causal") {
      bool causal = false;
      AASIM_RETURN_IF_ERROR(Bool(e, what + ".causal", &causal));
      r.causal = causal;
    } else {
      return UnknownKey(e, what, kReplicationOptions, "option");
    }
  }
  return Status::Ok();
}

Status Parser::ParseBoundedCounters(const MapEntry& entry) {
  const std::string what = "bounded_counters";
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(MapOf(entry, what, kBoundedCounterOptions, &options));
  BoundedCountersSpec& b = scenario_.bounded_counters;
  for (const MapEntry& e : options) {
    if (e.key == "policy") {
      BcPolicy policy;
      if (!e.value.IsScalar() || !ParseBcPolicy(e.value.Scalar(), &policy)) {
        return Error(ValueMark(e), what + ".policy: expected none, proportional or on-demand");
      }
      b.policy = e.value.Scalar();
    } else if (e.key == "period") {
      AASIM_RETURN_IF_ERROR(Duration(e, what + ".period", Sign::kNonNegative, &b.period));
      if (b.period < SimTime(1000)) {
        return Error(ValueMark(e), what + ".period: must be at least 1ms");
      }
    } else {
      return UnknownKey(e, what, kBoundedCounterOptions, "option");
    }
  }
  return Status::Ok();
}

Status Parser::ParseStreams(const MapEntry& entry) {
  const std::string what = "streams";
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(MapOf(entry, what, kStreamsOptions, &options));
  StreamsSpec& s = scenario_.streams;
  for (const MapEntry& e : options) {
    if (e.key == "replicate") {
      AASIM_RETURN_IF_ERROR(Bool(e, what + ".replicate", &s.replicate));
    } else if (e.key == "id_mode") {
      std::optional<crdt::StreamIdMode> mode;
      if (e.value.IsScalar()) mode = crdt::ParseStreamIdMode(e.value.Scalar());
      if (!mode)
        return Error(ValueMark(e), what + ".id_mode: expected strict, semi-strict or liberal");
      s.id_mode = *mode;
    } else {
      return UnknownKey(e, what, kStreamsOptions, "option");
    }
  }
  return Status::Ok();
}

Status Parser::ParseLoad(const MapEntry& entry, Step* step) {
  const std::string what = "load";
  std::vector<MapEntry> options;
  AASIM_RETURN_IF_ERROR(MapOf(entry, what, kLoadOptions, &options));
  LoadSpec& load = step->load;
  bool has_regions = false, has_ops = false, has_duration = false;
  for (const MapEntry& e : options) {
    if (e.key == "regions") {
      std::vector<YAML::Node> items;
      if (e.value.IsSequence()) {
        for (const YAML::Node& item : e.value) items.push_back(item);
      } else {
        items.push_back(e.value);
      }
      if (items.empty())
        return Error(ValueMark(e), what + ".regions: expected at least one region");
      for (const YAML::Node& item : items) {
        std::string region;
        AASIM_RETURN_IF_ERROR(KnownRegion(item, item.Mark(), what + ".regions", &region));
        if (Contains(load.regions, region)) {
          return Error(item.Mark(), what + ".regions: region '" + region + "' appears twice");
        }
        load.regions.push_back(std::move(region));
      }
      has_regions = true;
    } else if (e.key == "ops") {
      AASIM_RETURN_IF_ERROR(Count(e, what + ".ops", &load.ops));
      if (load.ops > 100'000'000) {
        return Error(ValueMark(e),
                     what + ".ops: at most 100000000 per step, got " + Describe(e.value));
      }
      has_ops = true;
    } else if (e.key == "duration") {
      AASIM_RETURN_IF_ERROR(Duration(e, what + ".duration", Sign::kNonNegative, &load.duration));
      has_duration = true;
    } else if (e.key == "keys") {
      AASIM_RETURN_IF_ERROR(Count(e, what + ".keys", &load.keys));
    } else if (e.key == "commands") {
      if (!e.value.IsSequence() || e.value.size() == 0) {
        return Error(ValueMark(e), what + ".commands: expected a list like [INCR, SADD], got " +
                                       Describe(e.value));
      }
      for (const YAML::Node& c : e.value) {
        std::string name = c.IsScalar() ? c.Scalar() : "";
        for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (!Contains(kLoadCommands, name)) {
          return Error(c.Mark(), what + ".commands: expected one of " + Join(kLoadCommands) +
                                     ", got " + Describe(c));
        }
        load.commands.push_back(std::move(name));
      }
    } else {
      return UnknownKey(e, what, kLoadOptions, "option");
    }
  }
  for (auto [given, name] : {std::pair{has_regions, "regions"}, std::pair{has_ops, "ops"},
                             std::pair{has_duration, "duration"}}) {
    if (!given) return Error(entry.value.Mark(), what + ": missing required option '" + name + "'");
  }
  if (load.commands.empty()) load.commands = {"INCR", "SADD", "SET"};
  return Status::Ok();
}

#undef AASIM_RETURN_IF_ERROR

}  // namespace

int Scenario::RegionIndex(std::string_view region_name) const {
  for (size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].name == region_name) return static_cast<int>(i);
  }
  return -1;
}

std::string ScenarioKeys() {
  std::string out;
  for (std::string_view key : kTopLevelKeys) {
    out += (out.empty() ? "" : ", ") + std::string(key);
    if (key == "replication") out += " {" + Join(kReplicationOptions) + "}";
    if (key == "bounded_counters") out += " {" + Join(kBoundedCounterOptions) + "}";
    if (key == "streams") out += " {" + Join(kStreamsOptions) + "}";
  }
  return out;
}

Result<Scenario> ParseScenario(std::string_view yaml_text, const std::string& file_name,
                               const ParseOptions& options) {
  Parser parser(yaml_text, file_name);
  parser.parse_options = options;
  return parser.Guard<Scenario>([&] { return parser.Parse(std::string(yaml_text)); });
}

std::string NotApplicable(const Scenario& scenario, std::string_view backend) {
  if (scenario.backends.empty() || Contains(scenario.backends, backend)) return "";
  std::string list;
  for (const std::string& b : scenario.backends) list += (list.empty() ? "" : ", ") + b;
  std::string why = "written for the " + list +
                    (scenario.backends.size() > 1 ? " backends" : " backend") +
                    " only (`backends: [" + list + "]`), not " + std::string(backend);
  bool crashes = false;
  for (const Step& step : scenario.steps) crashes = crashes || step.kind == Step::Kind::kCrash;
  if (crashes && backend == "redis") {
    why += "; its crash steps lose in-memory data that a durable store keeps";
  }
  return why;
}

Result<Scenario> LoadScenarioFile(const std::string& path, const ParseOptions& options) {
  Result<std::string> text = strict_yaml::ReadFileText(path);
  if (!text.ok()) return text.status();
  return ParseScenario(*text, path, options);
}

}  // namespace cluster_sim
