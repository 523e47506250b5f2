#include "lending/lending_service.h"

#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/service.h"
#include "cluster_sim/status.h"
#include "cluster_sim/time.h"
#include "lending/lending.h"

namespace lending {
namespace {

using cluster_sim::Client;
using cluster_sim::ServiceHost;
using cluster_sim::ServiceResult;
using cluster_sim::Status;

constexpr int kMaxInstances = 64;
constexpr int kMaxRounds = 1'000'000;  // guard against a livelock between instances

struct Command {
  enum class Verb { kRequest, kReturn, kStart, kCrash, kRestart };
  Verb verb = Verb::kRequest;
  std::string user;
  std::vector<std::string> books;
  int count = 0;
  std::string instance;
  CrashPoint point;
};

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ParseCount(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

Status ParseCommand(std::string_view text, Command* c) {
  const char* kUsage =
      "expected 'request USER BOOK[,BOOK...]', 'return USER BOOK[,BOOK...]', 'start N', "
      "'crash INSTANCE after read|after reserve N|before commit' or 'restart INSTANCE'";
  std::vector<std::string> w = Words(text);
  if (w.empty()) return Status::InvalidArgument(std::string("empty step: ") + kUsage);
  const std::string& verb = w[0];
  if (verb == "request" || verb == "return") {
    c->verb = verb == "request" ? Command::Verb::kRequest : Command::Verb::kReturn;
    if (w.size() < 3) {
      return Status::InvalidArgument(verb + ": expected " + verb + " USER BOOK[,BOOK...], got " +
                                     std::to_string(w.size() - 1) +
                                     (w.size() == 2 ? " argument" : " arguments"));
    }
    c->user = w[1];
    for (size_t i = 2; i < w.size(); ++i) {
      size_t b = 0;
      const std::string& t = w[i];
      while (b <= t.size()) {
        size_t e = t.find(',', b);
        if (e == std::string::npos) e = t.size();
        if (e == b) return Status::InvalidArgument(verb + ": empty book id in '" + t + "'");
        c->books.push_back(t.substr(b, e - b));
        b = e + 1;
      }
    }
    return Status::Ok();
  }
  if (verb == "start") {
    c->verb = Command::Verb::kStart;
    if (w.size() != 2 || !ParseCount(w[1], 1, kMaxInstances, &c->count)) {
      return Status::InvalidArgument("start: expected a number of instances from 1 to " +
                                     std::to_string(kMaxInstances));
    }
    return Status::Ok();
  }
  if (verb == "restart") {
    c->verb = Command::Verb::kRestart;
    if (w.size() != 2) return Status::InvalidArgument("restart: expected restart INSTANCE");
    c->instance = w[1];
    return Status::Ok();
  }
  if (verb == "crash") {
    c->verb = Command::Verb::kCrash;
    const char* usage =
        "crash: expected crash INSTANCE after read | after reserve N | before commit";
    if (w.size() < 4) return Status::InvalidArgument(usage);
    c->instance = w[1];
    if (w.size() == 4 && w[2] == "after" && w[3] == "read") {
      c->point = CrashPoint{CrashPoint::Where::kAfterRead, 0};
    } else if (w.size() == 4 && w[2] == "before" && w[3] == "commit") {
      c->point = CrashPoint{CrashPoint::Where::kBeforeCommit, 0};
    } else if (w.size() == 5 && w[2] == "after" && w[3] == "reserve") {
      c->point = CrashPoint{CrashPoint::Where::kAfterReserve, 0};
      if (!ParseCount(w[4], 1, 1'000'000, &c->point.n)) {
        return Status::InvalidArgument("crash: after reserve N: N must be a positive integer");
      }
    } else {
      return Status::InvalidArgument(usage);
    }
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown lending command '" + verb + "': " + kUsage);
}

std::string FormatMs(cluster_sim::SimTime t) {
  int64_t us = t.count();
  std::string out = std::to_string(us / 1000);
  if (us % 1000 != 0) {
    std::string frac = std::to_string(1000 + us % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + "ms";
}

class LendingService final : public cluster_sim::Service {
 public:
  Status Validate(std::string_view text) const override {
    Command c;
    return ParseCommand(text, &c);
  }

  ServiceResult Run(ServiceHost& host, int region, int from, std::string_view text) override {
    ServiceResult result;
    Command c;
    Status s = ParseCommand(text, &c);
    if (!s.ok()) {
      result.error = s.message();
      return result;
    }
    RegionState& rs = State(region);
    const std::string rname = host.region_name(region);
    if (from != region) {
      cluster_sim::SimTime rtt = host.RoundTrip(from, region);
      routed_ += rtt;
      routed_requests_++;
      result.notes.push_back("routed from " + host.region_name(from) + " to " + rname + ": +" +
                             FormatMs(rtt) + " round trip; " + std::to_string(routed_requests_) +
                             " routed so far, " + FormatMs(routed_) + " in all");
    }
    if (!host.alive(region)) {
      result.outcome = "ERROR";
      result.notes.push_back("region " + rname + " is down: the service cannot run");
      return result;
    }
    switch (c.verb) {
      case Command::Verb::kStart:
        while (static_cast<int>(rs.instances.size()) < c.count) StartNew(host, region, &result);
        break;
      case Command::Verb::kCrash: {
        Instance* inst = Find(rs, c.instance, rname, &result);
        if (inst == nullptr) return result;
        if (!inst->running) {
          result.error = "instance " + c.instance + " is not running";
          return result;
        }
        inst->worker->ArmCrash(c.point);
        result.notes.push_back("crash armed on " + c.instance);
        break;
      }
      case Command::Verb::kRestart: {
        Instance* inst = Find(rs, c.instance, rname, &result);
        if (inst == nullptr) return result;
        if (inst->running) {
          result.error = "instance " + c.instance + " is running (crash it first)";
          return result;
        }
        Launch(host, region, inst, &result);
        break;
      }
      case Command::Verb::kRequest:
      case Command::Verb::kReturn:
        break;
    }
    if (rs.instances.empty()) StartNew(host, region, &result);
    std::string entry;
    if (c.verb == Command::Verb::kRequest || c.verb == Command::Verb::kReturn) {
      std::string error;
      entry =
          SubmitRequest(*rs.producer, c.verb == Command::Verb::kReturn, c.user, c.books, &error);
      if (entry.empty()) {
        result.outcome = "ERROR";
        result.notes.push_back("XADD failed: " + error);
        return result;
      }
      rs.added.insert(entry);
    }
    std::vector<EntryResult> finished = Pump(host, region, &result);
    if (!entry.empty()) {
      result.outcome = "PENDING";
      for (const EntryResult& f : finished) {
        if (f.id == entry) result.outcome = f.outcome;
      }
    } else {
      for (const EntryResult& f : finished) {
        result.outcome += (result.outcome.empty() ? "" : " ") + f.outcome;
      }
    }
    return result;
  }

  std::vector<std::string> CheckNames() const override { return {"lending-invariants"}; }

  std::vector<std::string> Check(ServiceHost& host, std::string_view name) override {
    if (name != "lending-invariants") return {"unknown check '" + std::string(name) + "'"};
    std::vector<std::string> out = ledger_.Check();
    // The same broken invariant in several regions is one line naming them all.
    std::vector<std::pair<std::string, std::string>> lines;  // text, regions
    for (int r = 0; r < host.region_count(); ++r) {
      if (!host.alive(r)) continue;
      std::unique_ptr<Client> conn = host.Connect(r);
      for (std::string& line : CheckRegionInvariants(*conn)) {
        bool merged = false;
        for (auto& [text, regions] : lines) {
          if (text == line) {
            regions += ", " + host.region_name(r);
            merged = true;
          }
        }
        if (!merged) lines.emplace_back(std::move(line), host.region_name(r));
      }
    }
    for (const auto& [text, regions] : lines) out.push_back(regions + ": " + text);
    return out;
  }

 private:
  struct Instance {
    std::string name;
    std::unique_ptr<Client> client;
    std::unique_ptr<LendingWorker> worker;
    bool running = false;
  };
  struct RegionState {
    std::vector<std::unique_ptr<Instance>> instances;
    std::unique_ptr<Client> shelving_client;
    std::unique_ptr<ShelvingWorker> shelving;
    std::unique_ptr<Client> producer;
    size_t next = 0;              // the instance the next round of polling starts with
    std::set<std::string> added;  // the ids of the entries added to this region's streams
  };

  // The region an entry finished in `region` was added in: `region` if it added that id,
  // else the first region that did (replicated streams carry entries between regions).
  std::string Origin(ServiceHost& host, int region, const std::string& id) {
    if (regions_[region].added.count(id) > 0) return host.region_name(region);
    for (const auto& [r, rs] : regions_) {
      if (rs.added.count(id) > 0) return host.region_name(r);
    }
    return host.region_name(region);
  }

  RegionState& State(int region) { return regions_[region]; }

  Instance* Find(RegionState& rs, const std::string& name, const std::string& rname,
                 ServiceResult* result) {
    for (auto& inst : rs.instances) {
      if (inst->name == name) return inst.get();
    }
    std::string names;
    for (auto& inst : rs.instances) names += (names.empty() ? "" : ", ") + inst->name;
    result->error = "no lending instance '" + name + "' in region " + rname +
                    (names.empty() ? " (none started)" : " (instances: " + names + ")");
    return nullptr;
  }

  void StartNew(ServiceHost& host, int region, ServiceResult* result) {
    RegionState& rs = State(region);
    if (!rs.producer) rs.producer = host.Connect(region);
    if (!rs.shelving) {
      rs.shelving_client = host.Connect(region);
      rs.shelving = std::make_unique<ShelvingWorker>(host.region_name(region) + "-shelving",
                                                     *rs.shelving_client);
      std::string error;
      if (!rs.shelving->Start(&error)) result->notes.push_back("shelving: " + error);
    }
    auto inst = std::make_unique<Instance>();
    inst->name = host.region_name(region) + "-" + std::to_string(rs.instances.size() + 1);
    rs.instances.push_back(std::move(inst));
    Launch(host, region, rs.instances.back().get(), result);
  }

  // (Re)starts an instance on a fresh connection: a new process with the same name.
  void Launch(ServiceHost& host, int region, Instance* inst, ServiceResult* result) {
    inst->client = host.Connect(region);
    inst->worker = std::make_unique<LendingWorker>(inst->name, *inst->client);
    std::string error;
    std::vector<std::string> lines = inst->worker->Start(&error);
    if (!error.empty()) {
      result->notes.push_back(inst->name + ": cannot start: " + error);
      return;
    }
    inst->running = true;
    for (std::string& l : lines) result->lines.push_back(std::move(l));
    result->notes.push_back(inst->name + " started");
  }

  std::vector<EntryResult> Pump(ServiceHost& host, int region, ServiceResult* result) {
    const std::string rname = host.region_name(region);
    RegionState& rs = State(region);
    std::vector<EntryResult> finished;
    for (int round = 0; round < kMaxRounds; ++round) {
      bool progress = false;
      // Round robin, starting after the instance that last got work, so that the
      // instances of a region share the load as consumers of one group do.
      const size_t n = rs.instances.size();
      const size_t first = rs.next % n;
      for (size_t k = 0; k < n; ++k) {
        const size_t i = (first + k) % n;
        Instance* inst = rs.instances[i].get();
        if (!inst->running) continue;
        PollResult p = inst->worker->Poll(&result->lines);
        if (p.error.rfind("NOGROUP", 0) == 0) {
          // The region crashed and restarted: its streams and groups were in memory and
          // are gone. The instance re-creates the groups (as on start) and reads again.
          std::string error;
          inst->worker->Start(&error);
          result->notes.push_back(inst->name + ": consumer group lost with its region, re-created");
          p = inst->worker->Poll(&result->lines);
        }
        progress = progress || p.progressed;
        if (p.progressed) rs.next = i + 1;
        for (EntryResult& f : p.finished) {
          if (f.watch_retries > 0) {
            result->notes.push_back(inst->name + ": entry " + f.id + " retried " +
                                    std::to_string(f.watch_retries) + "x after a WATCH conflict");
          }
          ledger_.Record(rname, f, Origin(host, region, f.id));
          finished.push_back(std::move(f));
        }
        if (p.crashed) {
          inst->running = false;
          result->notes.push_back(inst->name + " crashed (its entry stays pending)");
        }
        if (!p.error.empty()) {
          inst->running = false;
          result->notes.push_back(inst->name + " stopped: " + p.error);
        }
      }
      if (rs.shelving) {
        PollResult p = rs.shelving->Poll();
        if (p.error.rfind("NOGROUP", 0) == 0) {
          std::string error;
          rs.shelving->Start(&error);
          p = rs.shelving->Poll();
        }
        progress = progress || p.progressed;
        if (!p.error.empty()) result->notes.push_back("shelving: " + p.error);
      }
      if (!progress) return finished;
    }
    result->error = "the instances did not settle";
    return finished;
  }

  std::map<int, RegionState> regions_;
  Ledger ledger_;
  cluster_sim::SimTime routed_{0};
  int routed_requests_ = 0;
};

}  // namespace

std::unique_ptr<cluster_sim::Service> NewLendingService() {
  return std::make_unique<LendingService>();
}

}  // namespace lending
