// Scenario: the parsed, validated form of one scenario file (the contract is docs/scenarios.md:
// top level, regions, links, steps, expectations). The loader is strict: an
// unknown key, a duration without a unit, an unknown region, a malformed expectation... is an
// InvalidArgument Status whose message is exactly `FILE:LINE:COL: message` (1-based line and
// column of the offending YAML node), and nothing is run. Nothing throws out of this API.
//
// What the loader guarantees to its users (the simulator and the CLI):
//   - every region name matches [A-Za-z0-9_-]+, is unique and is not a step kind or "expect";
//     there are 1 to kMaxRegions regions;
//   - every region named by a link rule or a step is one of `regions`;
//   - durations are exact (integer microseconds); latency, jitter, wait and at are >= 0,
//     jitter <= latency, loss is in [0, 1], route_factor >= 1;
//   - a command step has a non-empty argv; partition/heal lists have >= 2 disjoint groups;
//   - `ports` names known regions, each port in 0..65535 (0: any free one), no other twice.
// It does not check what only a run can tell (an `at` in the past, unsupported commands).
//
// Plain value types; no I/O except LoadScenarioFile. Deterministic: same text, same result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/status.h"
#include "cluster_sim/strict_yaml.h"  // SourceMark
#include "cluster_sim/time.h"
#include "crdt/stream.h"

namespace cluster_sim {

struct RegionSpec {
  std::string name;
  std::optional<double> lat;  // degrees, [-90, 90]; given together with lon
  std::optional<double> lon;  // degrees, [-180, 180]
  SimTime clock_skew{0};      // offset of this region's wall clock; may be negative
  SourceMark mark;            // the region's name
};

// Behaviour of one direction of a link.
struct LinkSpec {
  SimTime latency{0};    // one-way, >= 0
  SimTime jitter{0};     // uniform +/- jitter, 0 <= jitter <= latency
  double loss = 0;       // probability in [0, 1] that a message is dropped (and re-sent)
  double duplicate = 0;  // probability in [0, 1] that a message arrives twice (extension)
};

// One explicit pair: `A <-> B` (both_ways) or `A -> B`.
struct LinkRule {
  std::string from, to;
  bool both_ways = true;
  LinkSpec spec;    // latency is required in the file; jitter and loss default to 0
  SourceMark mark;  // the pair's key
};

// From `links: default:`. `spec` is set when latency is given there (jitter and loss then
// default to 0); it applies to every pair without a LinkRule. Without it, a pair of regions
// with coordinates gets great-circle latency times route_factor, any other pair 50ms.
struct LinkDefaults {
  std::optional<LinkSpec> spec;
  double route_factor = 1.5;  // >= 1
};

// The `expect:` of a command step.
struct Expectation {
  enum class Kind {
    kScalar,  // `expect: 25`: the reply's text equals `text` (as written in the file)
    kNull,    // `expect: null` or `~` (unquoted): a nil reply
    kList,    // `expect: [a, b]`: an array reply with these `items`
    kError,   // `expect: {error: TEXT}`: an error reply containing `text`
  };
  Kind kind = Kind::kScalar;
  std::string text;
  std::vector<std::string> items;
  SourceMark mark;  // the expectation's value
};

// `replication:` (extension): the syncer's knobs. Sizes are written "64KB", "1MB", "512B"
// (powers of 1024).
struct ReplicationSpec {
  std::optional<uint64_t> backlog_bytes;    // `backlog`: per region, 0: auto (the default)
  std::optional<uint64_t> max_batch_bytes;  // `max_batch`: effects per replayed message
  std::optional<SimTime> max_rto;           // `max_retry`: retransmission backoff cap
  bool causal = false;                      // `causal`: causal delivery (replicator.h)
};

// `bounded_counters:` (extension): the background policy that moves bounded-counter rights
// between regions (bc_policy.h): `policy: none | proportional | on-demand`, `period` (the
// proportional policy's interval, default 100ms).
struct BoundedCountersSpec {
  std::string policy = "none";  // as written; the loader accepts only ParseBcPolicy's names
  SimTime period{100'000};
};

// `streams:` (extension): `replicate: true` makes streams replicated (one part per region,
// read merged; README, "Streams"), with XADD's `id_mode: strict | semi-strict | liberal`
// (default strict). Without the key (or `replicate: false`) streams stay region-local,
// as before replicated streams existed, so older files keep their output.
struct StreamsSpec {
  bool replicate = false;
  crdt::StreamIdMode id_mode = crdt::StreamIdMode::kStrict;
};

// `load:` (extension): generated client traffic, spread evenly over `duration`, which the
// step advances virtual time by. Commands act on key pools per type (load:counter:N,
// load:string:N, load:set:N) so they never meet a WRONGTYPE.
struct LoadSpec {
  std::vector<std::string> regions;  // round-robin over these regions
  uint64_t ops = 0;                  // total operations, >= 1
  SimTime duration{0};
  uint64_t keys = 100;                // keys per pool, >= 1
  std::vector<std::string> commands;  // of kLoadCommands; default INCR, SADD, SET
};
inline constexpr std::string_view kLoadCommands[] = {"INCR", "SET", "SADD", "SREM", "DEL"};

struct Step {
  // To add a step kind: a Kind here, one entry in kStepKinds and one parse function in
  // scenario.cc.
  enum class Kind {
    kCommand,    // `REGION: COMMAND` (+ optional `expect:`)
    kPartition,  // `partition: [A, B]` or `[[A, B], [C, D]]`
    kHeal,       // `heal: [A, B]`, `[[A, B], [C]]` or `all`
    kWait,       // `wait: DUR`
    kAt,         // `at: DUR` or `at: {time: DUR, if_past: now}`
    kSync,       // `- sync`
    kConverged,  // `converged: [keys]`
    kCrash,      // `crash: REGION`
    kRestart,    // `restart: REGION`
    kNote,       // `note: text`
    kLoad,       // `load: {regions: [A, B], ops: 1000, duration: 10s, ...}` (extension)
    kService,    // `lending@A: TEXT` or `lending@A from B: TEXT` (+ `expect:`, `output:`)
    kCheck,      // `check: NAME` (+ optional `expect: [broken invariants]`)
  };
  Kind kind = Kind::kNote;
  SourceMark mark;  // the step (its first key)

  std::string region;                 // kCommand, kCrash, kRestart
  std::vector<std::string> argv;      // kCommand: tokenized like redis-cli, non-empty
  std::string text;                   // kCommand: the command as written; kNote: the note
  std::optional<Expectation> expect;  // kCommand only
  std::vector<std::vector<std::string>> groups;  // kPartition/kHeal: [A, B] => {{A}, {B}}
  bool all = false;                              // kHeal: `heal: all` (groups empty)
  SimTime duration{0};                           // kWait: amount; kAt: absolute instant
  std::vector<std::string> keys;                 // kConverged: empty = all keys
  LoadSpec load;                                 // kLoad
  std::string service;      // kService: the service name ("lending"); kCheck: the check name
  std::string from_region;  // kService: the client's region when routed (`from B`), else ""
  std::optional<std::vector<std::string>> output;  // kService: `output:`, the exact lines
  SourceMark value_mark;  // kCommand (the command), kService, kCheck: the step's value
  // kAt: `if_past: now`, an instant already past runs at once instead of failing.
  bool past_runs_now = false;
};

// The most regions a file (scenario or latency) or `aasim lending --regions` may name. The
// simulation keeps state per pair of regions (links, replication peers): 1,000 regions took
// 600 MB and 5,000 took 15 GB before a step ran. An Active/Active database has a handful of
// participating clusters; 64 is far beyond any.
inline constexpr size_t kMaxRegions = 64;

struct Scenario {
  std::string file;  // path as given to the loader
  std::string name;
  std::string source;               // empty when not given
  std::optional<uint64_t> seed;     // `--seed` on the command line overrides it
  std::vector<RegionSpec> regions;  // file order, 1 to kMaxRegions
  LinkDefaults link_defaults;
  std::vector<LinkRule> links;  // explicit pair rules, file order
  ReplicationSpec replication;
  BoundedCountersSpec bounded_counters;
  StreamsSpec streams;
  std::vector<Step> steps;  // file order, at least one (unless ParseOptions::steps_optional)
  // `backends: [memory]`: the stores the file is written for (kBackends); empty: any. A run
  // on another store is not applicable (NotApplicable), not a failure.
  std::vector<std::string> backends;
  // `ports: {A: 7001}` (extension): fixed RESP ports for `aasim serve`, file order; no
  // port but 0 twice (the loader refuses a file that gives two regions one port).
  std::vector<std::pair<std::string, uint16_t>> ports;

  // Index into `regions`, or -1 if there is no such region.
  int RegionIndex(std::string_view region_name) const;
};

// The stores a scenario may name in `backends:`: the in-memory one (a crash loses the
// region's data) and Redis (`--backend redis`: durable, a crash loses nothing).
inline constexpr std::string_view kBackends[] = {"memory", "redis"};

// "" if `scenario` is written for `backend` (one of kBackends), else why it is not
// applicable there, e.g. "written for the memory backend only (`backends: [memory]`); its
// crash steps lose in-memory data that a durable store keeps".
std::string NotApplicable(const Scenario& scenario, std::string_view backend);

// The text of a scenario file that ParseScenario reads back as `scenario` (the marks and
// `file` aside): every string quoted, every link and region option written out. Ports are
// left out (they only matter to `aasim serve`).
std::string FormatScenario(const Scenario& scenario);

// The top-level keys the loader accepts, in its order, each with its options when it takes
// a fixed set: "name, source, ..., replication {backlog, max_batch, max_retry, causal}, ...".
std::string ScenarioKeys();

struct ParseOptions {
  bool steps_optional = false;  // `steps` may be missing or empty (aasim serve)
  // Parse the steps as they are read, without the file's whole YAML tree, when `steps:` is
  // the last top-level key and no alias is used (the usual shape; memory then holds the
  // steps, not the tree). Same result and first error either way; false (tests comparing
  // the two) always builds the whole tree.
  bool stream_steps = true;
};

// Parses a scenario. `file_name` only prefixes error messages and fills Scenario::file.
Result<Scenario> ParseScenario(std::string_view yaml_text, const std::string& file_name,
                               const ParseOptions& options = {});

// Reads and parses `path`. An unreadable file gives "PATH: cannot read file: <strerror>".
Result<Scenario> LoadScenarioFile(const std::string& path, const ParseOptions& options = {});

}  // namespace cluster_sim
