#include "cluster_sim/explore.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster_sim/parallel.h"
#include "cluster_sim/rng.h"

namespace cluster_sim {
namespace {

bool IsStepFault(FaultKind k) { return k == FaultKind::kPartition || k == FaultKind::kCrash; }

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

Step MakeStep(Step::Kind kind, const SourceMark& mark) {
  Step s;
  s.kind = kind;
  s.mark = mark;
  return s;
}

}  // namespace

std::string DescribeFault(const Fault& f) {
  char buf[64];
  auto when = [&] {
    std::string w = "before step " + std::to_string(f.start + 1);
    if (f.offset.count() > 0)
      w = FormatDuration(f.offset) + " into step " + std::to_string(f.start + 1);
    return w + " until step " + std::to_string(f.end + 1);
  };
  switch (f.kind) {
    case FaultKind::kPartition: {
      std::vector<std::string> groups;
      for (const auto& g : f.groups) groups.push_back(Join(g, ","));
      return "partition " + Join(groups, " | ") + " " + when();
    }
    case FaultKind::kCrash:
      return "crash " + f.region + " " + when();
    case FaultKind::kLoss:
      std::snprintf(buf, sizeof(buf), "loss %.2f on every link", f.probability);
      return buf;
    case FaultKind::kDuplicate:
      std::snprintf(buf, sizeof(buf), "duplicate %.2f on every link", f.probability);
      return buf;
    case FaultKind::kDelay:
      return "delay: every link " + std::to_string(f.factor) + "x slower, jitter half of it";
    case FaultKind::kClockSkew:
      return "clock-skew " + f.region + " " + (f.skew.count() < 0 ? "-" : "+") +
             FormatDuration(f.skew.count() < 0 ? -f.skew : f.skew);
  }
  return "";
}

std::vector<std::string> ExploreChecks(const Scenario& base, const RunOptions& options) {
  std::vector<std::string> checks;
  std::set<std::string> seen;
  for (const Step& step : base.steps) {
    if (step.kind != Step::Kind::kService || !seen.insert(step.service).second) continue;
    auto f = options.services.find(step.service);
    if (f == options.services.end()) continue;
    for (const std::string& c : f->second()->CheckNames()) checks.push_back(c);
  }
  return checks;
}

Scenario ApplySchedule(const Scenario& base, const Schedule& schedule,
                       const std::vector<std::string>& checks) {
  Scenario s = base;
  s.steps.clear();
  const size_t keep = std::min(schedule.steps, base.steps.size());
  const int n = static_cast<int>(base.regions.size());

  // Link and clock faults: from the start, every link written out.
  bool links = false;
  for (const Fault& f : schedule.faults) {
    links = links || f.kind == FaultKind::kLoss || f.kind == FaultKind::kDuplicate ||
            f.kind == FaultKind::kDelay;
    if (f.kind == FaultKind::kClockSkew) {
      int r = base.RegionIndex(f.region);
      if (r >= 0) s.regions[static_cast<size_t>(r)].clock_skew = f.skew;
    }
  }
  if (links) {
    s.links.clear();
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        if (a == b) continue;
        LinkParams p = LinkFor(base, a, b);
        for (const Fault& f : schedule.faults) {
          if (f.kind == FaultKind::kLoss) p.loss = std::max(p.loss, f.probability);
          if (f.kind == FaultKind::kDuplicate) p.duplicate = std::max(p.duplicate, f.probability);
          if (f.kind == FaultKind::kDelay) {
            p.latency = std::min(p.latency * f.factor, kMaxFileDuration);
            p.jitter = std::max(p.jitter, p.latency / 2);
          }
        }
        LinkRule rule;
        rule.from = base.regions[static_cast<size_t>(a)].name;
        rule.to = base.regions[static_cast<size_t>(b)].name;
        rule.both_ways = false;
        rule.spec = LinkSpec{p.latency, p.jitter, p.loss, p.duplicate};
        s.links.push_back(std::move(rule));
      }
    }
  }

  // Step faults: what to insert before each step (and after the last), with the offset
  // into that step when it is a wait.
  struct Insert {
    SimTime offset;
    size_t order;  // fault order, then start before end
    Step step;
  };
  std::vector<std::vector<Insert>> before(keep + 1);
  size_t order = 0;
  for (const Fault& f : schedule.faults) {
    if (!IsStepFault(f.kind) || f.start >= keep) continue;
    const SourceMark mark = base.steps[f.start].mark;
    const bool in_wait = base.steps[f.start].kind == Step::Kind::kWait;
    const SimTime offset = in_wait ? std::min(f.offset, base.steps[f.start].duration) : SimTime(0);
    Step on =
        MakeStep(f.kind == FaultKind::kCrash ? Step::Kind::kCrash : Step::Kind::kPartition, mark);
    Step off =
        MakeStep(f.kind == FaultKind::kCrash ? Step::Kind::kRestart : Step::Kind::kHeal, mark);
    on.region = off.region = f.region;
    on.groups = off.groups = f.groups;
    before[f.start].push_back({offset, order++, std::move(on)});
    if (f.end < keep) before[f.end].push_back({SimTime(0), order++, std::move(off)});
  }
  // Emits the inserts of position i; a crash of a region already down and a restart of one
  // that is up (or that the file itself crashed) are left out.
  std::set<std::string> down, crashed_here;
  auto emit = [&](const Step& step) {
    if (step.kind == Step::Kind::kCrash) {
      if (down.count(step.region)) return;
      down.insert(step.region);
      crashed_here.insert(step.region);
    } else if (step.kind == Step::Kind::kRestart) {
      if (!down.count(step.region) || !crashed_here.count(step.region)) return;
      down.erase(step.region);
      crashed_here.erase(step.region);
    }
    s.steps.push_back(step);
  };
  for (size_t i = 0; i <= keep; ++i) {
    std::vector<Insert>& ins = before[i];
    std::stable_sort(ins.begin(), ins.end(), [](const Insert& a, const Insert& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.order < b.order;
    });
    SimTime waited{0};
    for (const Insert& in : ins) {
      if (in.offset > waited) {
        Step w = MakeStep(Step::Kind::kWait, in.step.mark);
        w.duration = in.offset - waited;
        s.steps.push_back(std::move(w));
        waited = in.offset;
      }
      emit(in.step);
    }
    if (i == keep) break;
    Step step = base.steps[i];
    if (!schedule.expectations) {
      // A `check:` expecting broken invariants is an expectation; one expecting none stays.
      const bool expects_broken =
          step.kind == Step::Kind::kCheck && step.expect && !step.expect->items.empty();
      if (step.kind == Step::Kind::kConverged || expects_broken) continue;
      if (step.kind != Step::Kind::kCheck) step.expect.reset();
      step.output.reset();
    }
    if (step.kind == Step::Kind::kCrash) down.insert(step.region);
    if (step.kind == Step::Kind::kRestart) down.erase(step.region);
    if (step.kind == Step::Kind::kWait) step.duration -= waited;
    // The faults' delays may make the steps before an `at:` overrun its instant: the file
    // did not break, so it runs at once (`if_past: now`).
    if (step.kind == Step::Kind::kAt) step.past_runs_now = true;
    if (step.kind != Step::Kind::kWait || step.duration.count() > 0 || waited.count() == 0) {
      s.steps.push_back(std::move(step));
    }
  }

  // The final checks.
  const SourceMark end = base.steps.empty() ? SourceMark{} : base.steps.back().mark;
  Step heal = MakeStep(Step::Kind::kHeal, end);
  heal.all = true;
  s.steps.push_back(heal);
  for (const RegionSpec& r : base.regions) {
    Step restart = MakeStep(Step::Kind::kRestart, end);
    restart.region = r.name;
    emit(restart);
  }
  s.steps.push_back(MakeStep(Step::Kind::kSync, end));
  s.steps.push_back(MakeStep(Step::Kind::kConverged, end));
  for (const std::string& c : checks) {
    Step check = MakeStep(Step::Kind::kCheck, end);
    check.service = c;
    s.steps.push_back(std::move(check));
  }
  return s;
}

std::string Verdict(const Scenario& scenario, const RunOptions& options, std::string* failure,
                    uint64_t* events) {
  const RunReport report = RunScenario(scenario, options);
  if (events != nullptr) *events = report.events;
  for (const StepReport& sr : report.steps) {
    if (sr.verdict != StepReport::Verdict::kFail) continue;
    if (failure != nullptr) {
      // Without "FILE:LINE:COL: ".
      size_t colon = sr.failure.find(": ", scenario.file.size());
      *failure = colon == std::string::npos ? sr.failure : sr.failure.substr(colon + 2);
    }
    return (sr.region.empty() ? "" : sr.region + ": ") + sr.operation;
  }
  return "";
}

Schedule DrawSchedule(const Scenario& base, const ExploreOptions& options, uint64_t run) {
  Rng rng = Rng(options.seed).Fork("explore:" + std::to_string(run));
  Schedule schedule;
  schedule.steps = base.steps.size();
  schedule.expectations = options.expectations;
  const uint64_t steps = base.steps.size();
  const uint64_t regions = base.regions.size();
  // Regions the file crashes or restarts itself are never crashed by a fault.
  std::vector<std::string> crashable;
  for (const RegionSpec& r : base.regions) {
    bool own = false;
    for (const Step& s : base.steps) {
      own = own || ((s.kind == Step::Kind::kCrash || s.kind == Step::Kind::kRestart) &&
                    s.region == r.name);
    }
    if (!own) crashable.push_back(r.name);
  }
  const uint64_t count = 1 + rng.Uniform(static_cast<uint64_t>(options.max_faults));
  for (uint64_t i = 0; i < count; ++i) {
    Fault f;
    f.kind = options.faults[rng.Uniform(options.faults.size())];
    if (IsStepFault(f.kind)) {
      f.start = rng.Uniform(steps);
      f.end = f.start + 1 + rng.Uniform(steps - f.start);
      const Step& at = base.steps[f.start];
      if (at.kind == Step::Kind::kWait && at.duration.count() > 0) {
        f.offset = SimTime(
            static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(at.duration.count()) + 1)));
      }
    }
    switch (f.kind) {
      case FaultKind::kPartition: {
        if (regions < 2) continue;
        // A random split into two non-empty groups, each in region order.
        const uint64_t bits = std::min<uint64_t>(regions, 30);
        const uint64_t mask = 1 + rng.Uniform((uint64_t{1} << bits) - 2);
        f.groups.resize(2);
        for (uint64_t r = 0; r < regions; ++r) {
          const bool one = r < bits && ((mask >> r) & 1);
          f.groups[one ? 1 : 0].push_back(base.regions[r].name);
        }
        if (f.groups[0].empty() || f.groups[0][0] != base.regions[0].name) {
          std::swap(f.groups[0], f.groups[1]);
        }
        break;
      }
      case FaultKind::kCrash:
        if (crashable.empty()) continue;
        f.region = crashable[rng.Uniform(crashable.size())];
        break;
      case FaultKind::kLoss:
      case FaultKind::kDuplicate:
        f.probability = static_cast<double>(1 + rng.Uniform(8)) * 0.05;
        break;
      case FaultKind::kDelay:
        f.factor = 2 + static_cast<int>(rng.Uniform(9));
        break;
      case FaultKind::kClockSkew: {
        f.region = base.regions[rng.Uniform(regions)].name;
        const int64_t ms = 1 + static_cast<int64_t>(rng.Uniform(5000));
        f.skew = SimTime((rng.OneIn(2) ? -ms : ms) * 1000);
        break;
      }
    }
    schedule.faults.push_back(std::move(f));
  }
  return schedule;
}

FoundFailure Shrink(const Scenario& base, const Schedule& schedule, const std::string& check,
                    const std::vector<std::string>& checks, const RunOptions& options) {
  int budget = 400;  // runs spent shrinking, at most
  uint64_t events_left = options.max_events == 0 || options.max_events > UINT64_MAX / 10
                             ? UINT64_MAX
                             : 10 * options.max_events;
  auto breaks = [&](const Schedule& s) {
    if (budget <= 0 || events_left == 0) return false;
    --budget;
    uint64_t events = 0;
    const bool broke = Verdict(ApplySchedule(base, s, checks), options, nullptr, &events) == check;
    events_left -= std::min(events_left, events);
    return broke;
  };
  Schedule cur = schedule;
  for (bool changed = true; changed && budget > 0 && events_left > 0;) {
    changed = false;
    // Fewer faults.
    for (size_t i = cur.faults.size(); i-- > 0;) {
      Schedule c = cur;
      c.faults.erase(c.faults.begin() + static_cast<std::ptrdiff_t>(i));
      if (breaks(c)) {
        cur = std::move(c);
        changed = true;
      }
    }
    // Shorter: the fewest of the file's steps that still break it.
    for (size_t k = 0; k < cur.steps; ++k) {
      Schedule c = cur;
      c.steps = k;
      std::vector<Fault> kept;
      for (Fault f : c.faults) {
        if (IsStepFault(f.kind) && f.start >= k) continue;
        f.end = std::min(f.end, k);
        kept.push_back(std::move(f));
      }
      c.faults = std::move(kept);
      if (breaks(c)) {
        cur = std::move(c);
        changed = true;
        break;
      }
    }
    // Later: each fault as late as it still breaks it.
    for (size_t j = 0; j < cur.faults.size(); ++j) {
      if (!IsStepFault(cur.faults[j].kind)) continue;
      while (cur.faults[j].start + 1 < cur.faults[j].end) {
        Schedule c = cur;
        c.faults[j].start++;
        c.faults[j].offset = SimTime(0);
        if (!breaks(c)) break;
        cur = std::move(c);
        changed = true;
      }
    }
  }
  FoundFailure out;
  out.check = check;
  out.minimal = cur;
  for (const Fault& f : cur.faults) out.faults.push_back(DescribeFault(f));
  Scenario minimal = ApplySchedule(base, cur, checks);
  minimal.seed = options.seed ? *options.seed : base.seed.value_or(kDefaultSeed);
  Verdict(minimal, options, &out.failure);
  out.file = FormatScenario(minimal);
  Result<Scenario> replay = ParseScenario(out.file, base.file);
  out.replays = replay.ok() && Verdict(*replay, options) == check;
  return out;
}

ExploreReport Explore(const Scenario& base, const ExploreOptions& options) {
  ExploreReport report;
  std::vector<uint64_t> owned;
  for (uint64_t run = options.shard_index; run < options.runs; run += options.shard_count) {
    owned.push_back(run);
  }
  const std::vector<std::string> checks = ExploreChecks(base, options.run);
  report.runs.resize(owned.size());
  const size_t batch = 64 * static_cast<size_t>(std::max(1, options.jobs));
  for (size_t begin = 0; begin < owned.size(); begin += batch) {
    const size_t n = std::min(batch, owned.size() - begin);
    ParallelFor(n, options.jobs, [&](size_t i) {
      RunVerdict& v = report.runs[begin + i];
      v.run = owned[begin + i];
      const Schedule s = DrawSchedule(base, options, v.run);
      v.faults = s.faults.size();
      v.check = Verdict(ApplySchedule(base, s, checks), options.run);
    });
    if (options.progress) options.progress(begin + n, owned.size());
  }
  // The first run of each distinct check, shrunk.
  std::map<std::string, uint64_t> first;
  for (const RunVerdict& v : report.runs) {
    if (!v.check.empty()) first.emplace(v.check, v.run);
  }
  std::vector<std::pair<uint64_t, std::string>> todo;
  for (const auto& [check, run] : first) todo.emplace_back(run, check);
  std::sort(todo.begin(), todo.end());
  report.failures.resize(todo.size());
  ParallelFor(todo.size(), options.jobs, [&](size_t i) {
    const auto& [run, check] = todo[i];
    report.failures[i] = Shrink(base, DrawSchedule(base, options, run), check, checks, options.run);
    report.failures[i].first_run = run;
  });
  return report;
}

}  // namespace cluster_sim
