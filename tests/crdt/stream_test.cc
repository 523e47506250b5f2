// Replicated streams (crdt/stream.h): the Redis Enterprise examples, the strict id mode,
// the encoding (round trips and hostile input), the lattice laws, and a randomized
// comparison with an independent model that decides every read from the causal history
// (which events each region had seen), under shuffled per-region delivery and full syncs.
#include "crdt/stream.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crdt/keyspace.h"
#include "test_util.h"

namespace crdt {
namespace {

using crdt_test::Rng;
using crdt_test::TestSeeds;

constexpr ReplicaId kA = MakeReplicaId(0, 1);
constexpr ReplicaId kB = MakeReplicaId(1, 1);
constexpr ReplicaId kC = MakeReplicaId(2, 1);

std::vector<std::string> Ids(const Keyspace& ks, std::string_view key = "s") {
  std::vector<std::string> out;
  if (const StreamStore* s = ks.Stream(key)) {
    s->ForEach([&](const StreamStore::Key& k, const StreamStore::Fields&) {
      out.push_back(k.first.ToString());
    });
  }
  return out;
}

// Runs `op` on ks recording a delta, merges the delta into every peer.
template <typename Op>
void Everywhere(Keyspace& ks, std::vector<Keyspace*> peers, Op op) {
  Keyspace d = ks.NewDelta();
  op(&d);
  for (Keyspace* p : peers) p->Merge(d);
}

TEST(StreamIdTest, StrictIdsNeverCollideAcrossSites) {
  std::set<StreamId> seen;
  for (uint16_t site = 0; site < 3; ++site) {
    StreamId last;
    for (int i = 0; i < 50; ++i) {
      std::optional<StreamId> id = StrictStreamId(100, last, site, 3);
      ASSERT_TRUE(id);
      EXPECT_LT(last, *id);
      EXPECT_EQ((id->seq - 1) % 3, site);
      EXPECT_TRUE(seen.insert(*id).second) << id->ToString();
      last = *id;
    }
  }
  EXPECT_EQ(StrictStreamId(100, StreamId{}, 0, 2)->ToString(), "100-1");
  EXPECT_EQ(StrictStreamId(100, StreamId{}, 1, 2)->ToString(), "100-2");
  EXPECT_EQ(StrictStreamId(100, StreamId{100, 2}, 0, 2)->ToString(), "100-3");
  EXPECT_FALSE(StrictStreamId(99, StreamId{100, 2}, 0, 2));
  EXPECT_FALSE(StrictStreamId(100, StreamId{100, UINT64_MAX}, 0, 2));
  EXPECT_EQ(ParseStreamIdMode("semi-strict"), StreamIdMode::kSemiStrict);
  EXPECT_FALSE(ParseStreamIdMode("Strict"));
}

// Redis Enterprise: concurrent XADDs in two regions; both see both after the sync.
TEST(StreamTest, ConcurrentAppendsMerge) {
  Keyspace a(kA), b(kB);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.XAdd("s", {1589929244828, 1}, {"text", "hello"}, &da);
  b.XAdd("s", {1589929246795, 2}, {"text", "goodbye"}, &db);
  EXPECT_EQ(Ids(a), std::vector<std::string>{"1589929244828-1"});
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Ids(a), (std::vector<std::string>{"1589929244828-1", "1589929246795-2"}));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Stream("s")->LastId().ToString(), "1589929246795-2");
}

// DEL is observed-remove: an entry added concurrently survives and keeps the stream.
TEST(StreamTest, DelConcurrentWithXAddKeepsTheUnseenEntry) {
  Keyspace a(kA), b(kB);
  Everywhere(a, {&b}, [&](Keyspace* d) { a.XAdd("s", {100, 1}, {"f", "v"}, d); });
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  EXPECT_TRUE(a.Del("s", &da));
  b.XAdd("s", {100, 2}, {"f", "v"}, &db);
  EXPECT_EQ(a.TypeOf("s"), Keyspace::Type::kNone);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Ids(a), std::vector<std::string>{"100-2"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.TypeOf("s"), Keyspace::Type::kStream);
}

// Duplicate ids (semi-strict or liberal): both entries are kept, in dot order.
TEST(StreamTest, DuplicateIdsAreBothKept) {
  Keyspace a(kA), b(kB);
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.XAdd("s", {100, 1}, {"f", "a"}, &da);
  b.XAdd("s", {100, 1}, {"f", "b"}, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(Ids(a), (std::vector<std::string>{"100-1", "100-1"}));
  EXPECT_EQ(a, b);
}

// An emptied stream still exists (XDEL keeps its markers), as in Redis.
TEST(StreamTest, XDelOfEveryEntryKeepsTheStream) {
  Keyspace a(kA);
  a.XAdd("s", {5, 1}, {"f", "v"}, nullptr);
  const StreamStore::Key k = a.Stream("s")->entries().begin()->first;
  a.XRemove("s", k, nullptr);
  EXPECT_EQ(a.TypeOf("s"), Keyspace::Type::kStream);
  EXPECT_EQ(a.Stream("s")->size(), 0u);
  EXPECT_EQ(a.Stream("s")->LastId().ToString(), "5-1");
}

// Delete wins: DEL in A concurrent with XGROUP CREATE group2 in B deletes both groups.
TEST(StreamTest, DelBeatsAConcurrentGroupCreate) {
  Keyspace a(kA), b(kB);
  Everywhere(a, {&b}, [&](Keyspace* d) {
    a.XAdd("s", {1, 1}, {"f", "v"}, d);
    a.XCreateGroup("s", "group1", {}, d);
  });
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.Del("s", &da);
  b.XCreateGroup("s", "group2", {}, &db);
  EXPECT_TRUE(b.Stream("s")->HasGroup("group2"));
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.TypeOf("s"), Keyspace::Type::kNone);
  EXPECT_EQ(b.TypeOf("s"), Keyspace::Type::kNone);
}

// Delete wins: DESTROY in B beats a concurrent CREATE of the same name in C; a CREATE
// made after the DESTROY was seen starts a new group.
TEST(StreamTest, DestroyBeatsAConcurrentCreateOfTheSameGroup) {
  Keyspace a(kA), b(kB), c(kC);
  Everywhere(a, {&b, &c}, [&](Keyspace* d) { a.XAdd("s", {1, 1}, {"f", "v"}, d); });
  Everywhere(a, {&b}, [&](Keyspace* d) { a.XCreateGroup("s", "g", {}, d); });
  Keyspace db = b.NewDelta(), dc = c.NewDelta();
  EXPECT_TRUE(b.XDestroyGroup("s", "g", &db));
  c.XCreateGroup("s", "g", {}, &dc);
  for (Keyspace* k : {&a, &b, &c}) {
    k->Merge(db);
    k->Merge(dc);
  }
  for (Keyspace* k : {&a, &b, &c}) EXPECT_FALSE(k->Stream("s")->HasGroup("g"));
  Everywhere(c, {&a, &b}, [&](Keyspace* d) { c.XCreateGroup("s", "g", {7, 0}, d); });
  for (Keyspace* k : {&a, &b, &c}) {
    ASSERT_TRUE(k->Stream("s")->HasGroup("g"));
    EXPECT_EQ(k->Stream("s")->GroupStart("g").ToString(), "7-0");
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
}

// Acknowledgement records: the frontier is the pointwise max; a DESTROY drops them.
TEST(StreamTest, FrontierRecordsJoinByMaximum) {
  Keyspace a(kA), b(kB);
  Everywhere(a, {&b}, [&](Keyspace* d) {
    a.XAdd("s", {1, 1}, {"f", "v"}, d);
    a.XCreateGroup("s", "g", {}, d);
  });
  Keyspace da = a.NewDelta(), db = b.NewDelta();
  a.XWriteFrontier("s", "g", {{kA, {10, 1}}}, &da);
  b.XWriteFrontier("s", "g", {{kA, {5, 1}}, {kB, {3, 2}}}, &db);
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a, b);
  StreamStore::Positions f = a.Stream("s")->GroupFrontier("g");
  EXPECT_EQ(f[kA].ToString(), "10-1");
  EXPECT_EQ(f[kB].ToString(), "3-2");
  Everywhere(a, {&b}, [&](Keyspace* d) { a.XDestroyGroup("s", "g", d); });
  Everywhere(a, {&b}, [&](Keyspace* d) { a.XCreateGroup("s", "g", {}, d); });
  EXPECT_TRUE(b.Stream("s")->GroupFrontier("g").empty());
}

// The regional state is never replicated and goes with its group.
TEST(StreamTest, RegionalStateStaysRegional) {
  Keyspace a(kA), b(kB);
  Everywhere(a, {&b}, [&](Keyspace* d) {
    a.XAdd("s", {1, 1}, {"f", "v"}, d);
    a.XCreateGroup("s", "g", {}, d);
  });
  a.MutableStream("s")->Regional("g").consumers["alice"] = 1;
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.Stream("s")->FindRegional("g"), nullptr);
  Everywhere(b, {&a}, [&](Keyspace* d) { b.XDestroyGroup("s", "g", d); });
  EXPECT_EQ(a.Stream("s")->FindRegional("g"), nullptr);
}

// ---- encoding ----

Keyspace SampleState(bool with_delete) {
  Keyspace a(kA), b(kB);
  Everywhere(a, {&b}, [&](Keyspace* d) {
    a.XAdd("s", {1, 1}, {"f", "v", "g", "w"}, d);
    a.XAdd("s", {2, 1}, {"f", "v"}, d);
    a.XCreateGroup("s", "g1", {1, 0}, d);
  });
  Everywhere(b, {&a}, [&](Keyspace* d) {
    b.XAdd("s", {3, 2}, {"x", ""}, d);
    b.XWriteFrontier("s", "g1", {{kA, {1, 1}}}, d);
    b.XCreateGroup("s", "g2", {}, d);
    b.XDestroyGroup("s", "g2", d);
  });
  if (with_delete) Everywhere(a, {&b}, [&](Keyspace* d) { a.Del("t", d); });
  return a;
}

TEST(StreamEncodingTest, StatesAndDeltasRoundTrip) {
  Keyspace a = SampleState(false);
  std::string error;
  std::optional<Keyspace> back = Keyspace::Decode(a.Encode(), kA, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, a);
  EXPECT_EQ(back->Encode(), a.Encode());
  Keyspace d = a.NewDelta();
  a.XRemove("s", a.Stream("s")->entries().begin()->first, &d);
  a.Del("s", &d);
  back = Keyspace::Decode(d.Encode(), kA, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->Encode(), d.Encode());
  Keyspace b = SampleState(false);
  ASSERT_TRUE(b.MergeEncoded(d.Encode(), &error)) << error;
  EXPECT_EQ(b.TypeOf("s"), Keyspace::Type::kNone);
}

TEST(StreamEncodingTest, HostileInputIsRefusedWithoutHarm) {
  const std::string good = SampleState(false).Encode();
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n) {
    std::string error;
    EXPECT_FALSE(Keyspace::Decode(good.substr(0, n), kA, &error)) << n;
    EXPECT_FALSE(error.empty());
  }
  // Random corruptions decode or fail, never crash; a decoded value re-encodes to itself.
  for (uint64_t seed : TestSeeds(200, 0x57e4a)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::string bad = good;
    for (int i = 0, n = 1 + rng.Index(4); i < n; ++i) {
      bad[rng.Uniform(bad.size())] = static_cast<char>(rng.Uniform(256));
    }
    std::string error;
    std::optional<Keyspace> ks = Keyspace::Decode(bad, kA, &error);
    if (ks) {
      std::optional<Keyspace> again = Keyspace::Decode(ks->Encode(), kA, &error);
      ASSERT_TRUE(again) << error;
      EXPECT_EQ(*again, *ks);
    }
    Keyspace target = SampleState(true);
    const std::string before = target.Encode();
    if (!target.MergeEncoded(bad, &error)) {
      EXPECT_EQ(target.Encode(), before);
    }
  }
}

// Hand-made malformed stream parts: each is refused with its reason.
TEST(StreamEncodingTest, MalformedPartsAreRefused) {
  auto decode = [](const std::string& part) {
    Encoder enc;
    enc.PutByte(1 | KeyValue::kPartsMore);  // a delta, second header byte follows
    enc.PutByte(KeyValue::kPartStream >> 8);
    enc.PutVarint(1);
    enc.PutBytes("s");
    KeyValue empty;
    Encoder body;
    empty.str().Encode(&body);
    empty.set().Encode(&body);
    empty.hash().Encode(&body);
    std::string bytes = enc.Release() + body.Release() + part;
    CausalContext cc;
    cc.Add(Dot{kA, 1});
    cc.Add(Dot{kA, 2});
    Encoder tail;
    cc.Encode(&tail);
    bytes += tail.Release();
    std::string error;
    std::optional<Keyspace> ks = Keyspace::Decode(bytes, kB, &error);
    return ks ? std::string("ok") : error;
  };
  auto entry = [](uint64_t ms, uint64_t counter, int flag, std::vector<std::string> fields) {
    Encoder e;
    e.PutVarint(ms);
    e.PutVarint(0);
    e.PutDot(Dot{kA, counter});
    e.PutByte(static_cast<uint8_t>(flag));
    if (flag == 0) {
      e.PutVarint(fields.size());
      for (const auto& f : fields) e.PutBytes(f);
    }
    return e.Release();
  };
  const std::string rest = std::string("\0\0\0", 3);  // no markers, no DEL, no groups
  EXPECT_EQ(decode(std::string("\1") + entry(1, 1, 0, {"f", "v"}) + rest), "ok");
  EXPECT_NE(decode(std::string("\1") + entry(1, 1, 0, {"f"}) + rest).find("field-value"),
            std::string::npos);
  EXPECT_NE(decode(std::string("\1") + entry(1, 1, 2, {}) + rest).find("flag"), std::string::npos);
  EXPECT_NE(
      decode(std::string("\2") + entry(2, 1, 0, {"f", "v"}) + entry(1, 2, 0, {"f", "v"}) + rest)
          .find("not sorted"),
      std::string::npos);
  EXPECT_NE(decode(std::string("\1") + entry(1, 9, 0, {"f", "v"}) + rest).find("causal context"),
            std::string::npos);
  // A huge count is refused before any allocation.
  EXPECT_NE(decode(std::string("\xff\xff\xff\xff\x0f") + rest).find("count"), std::string::npos);
}

// ---- lattice laws and the model ----

// An independent model: every event with the set of events its region had seen; each
// read is decided from the events a region has seen, following the README's rules.
struct Model {
  enum Kind { kXAdd, kXDel, kDel, kCreate, kDestroy, kFrontier };
  struct Event {
    Kind kind;
    int id;
    std::set<int> past;          // the events seen when it was made (itself excluded)
    StreamStore::Key entry;      // kXAdd: the entry made; kXDel: the entry removed
    std::string group;           // kCreate, kDestroy, kFrontier
    StreamId start;              // kCreate
    StreamStore::Positions pos;  // kFrontier
  };
  std::vector<Event> events;
  std::vector<std::set<int>> known;  // per region

  const Event& E(int i) const { return events[static_cast<size_t>(i)]; }
  bool Removed(int region, const Event& add) const {
    for (int j : known[static_cast<size_t>(region)]) {
      const Event& r = E(j);
      if ((r.kind == kDel || (r.kind == kXDel && r.entry == add.entry)) && r.past.count(add.id)) {
        return true;
      }
    }
    return false;
  }
  std::vector<StreamStore::Key> Entries(int region) const {
    std::vector<StreamStore::Key> out;
    for (int i : known[static_cast<size_t>(region)]) {
      if (E(i).kind == kXAdd && !Removed(region, E(i))) out.push_back(E(i).entry);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Markers: every XADD not removed by a DEL that had seen it.
  bool Visible(int region) const {
    for (int i : known[static_cast<size_t>(region)]) {
      if (E(i).kind == kXAdd && !DelSaw(region, i)) return true;
    }
    return false;
  }
  StreamId LastId(int region) const {
    StreamId top;
    for (int i : known[static_cast<size_t>(region)]) {
      if (E(i).kind == kXAdd && !DelSaw(region, i)) top = std::max(top, E(i).entry.first);
    }
    return top;
  }
  bool DelSaw(int region, int i) const {
    for (int j : known[static_cast<size_t>(region)]) {
      if (E(j).kind == kDel && E(j).past.count(i)) return true;
    }
    return false;
  }
  // True if every DESTROY of g and every DEL the region knows is in the past of e.
  bool Survives(int region, const Event& e) const {
    for (int j : known[static_cast<size_t>(region)]) {
      const Event& d = E(j);
      if ((d.kind == kDel || (d.kind == kDestroy && d.group == e.group)) && !e.past.count(j)) {
        return false;
      }
    }
    return true;
  }
  std::optional<StreamId> GroupStart(int region, const std::string& g) const {
    std::optional<StreamId> start;
    for (int i : known[static_cast<size_t>(region)]) {
      const Event& c = E(i);
      if (c.kind == kCreate && c.group == g && Survives(region, c) && (!start || c.start < *start))
        start = c.start;
    }
    return start;
  }
  StreamStore::Positions Frontier(int region, const std::string& g) const {
    StreamStore::Positions out;
    for (int i : known[static_cast<size_t>(region)]) {
      const Event& f = E(i);
      if (f.kind != kFrontier || f.group != g || !Survives(region, f)) continue;
      for (const auto& [r, id] : f.pos) out[r] = std::max(out[r], id);
    }
    return out;
  }
};

struct Harness {
  std::vector<Keyspace> ks;
  Model model;
  // Per origin, its deltas with the model events each carries.
  std::vector<std::vector<std::pair<std::string, int>>> log;
  std::vector<std::vector<size_t>> next;  // next[to][from]: next delta of `from` to deliver

  explicit Harness(int n) {
    for (int i = 0; i < n; ++i) ks.emplace_back(MakeReplicaId(static_cast<uint16_t>(i), 1));
    model.known.resize(static_cast<size_t>(n));
    log.resize(static_cast<size_t>(n));
    next.assign(static_cast<size_t>(n), std::vector<size_t>(static_cast<size_t>(n), 0));
  }
  Model::Event& NewEvent(int region, Model::Kind kind) {
    Model::Event e;
    e.kind = kind;
    e.id = static_cast<int>(model.events.size());
    e.past = model.known[static_cast<size_t>(region)];
    model.events.push_back(e);
    model.known[static_cast<size_t>(region)].insert(e.id);
    return model.events.back();
  }
  void Deliver(int to, int from) {
    size_t& i = next[static_cast<size_t>(to)][static_cast<size_t>(from)];
    const auto& [bytes, event] = log[static_cast<size_t>(from)][i++];
    std::string error;
    ASSERT_TRUE(ks[static_cast<size_t>(to)].MergeEncoded(bytes, &error)) << error;
    model.known[static_cast<size_t>(to)].insert(event);
  }
  void FullSync(int to, int from) {
    ks[static_cast<size_t>(to)].Merge(ks[static_cast<size_t>(from)]);
    for (int e : model.known[static_cast<size_t>(from)])
      model.known[static_cast<size_t>(to)].insert(e);
  }
  void Check(int r, crdt_test::Trace* trace) {
    const Keyspace& k = ks[static_cast<size_t>(r)];
    const StreamStore* s = k.Stream("s");
    std::vector<StreamStore::Key> got;
    if (s)
      s->ForEach(
          [&](const StreamStore::Key& key, const StreamStore::Fields&) { got.push_back(key); });
    ASSERT_EQ(got, model.Entries(r)) << "region " << r << "\n" << trace->ToString();
    ASSERT_EQ(k.TypeOf("s") == Keyspace::Type::kStream, model.Visible(r)) << "region " << r << "\n"
                                                                          << trace->ToString();
    ASSERT_EQ(s ? s->LastId() : StreamId{}, model.LastId(r)) << trace->ToString();
    for (const std::string g : {"g1", "g2"}) {
      std::optional<StreamId> start = model.GroupStart(r, g);
      ASSERT_EQ(s != nullptr && s->HasGroup(g), start.has_value())
          << "region " << r << " group " << g << "\n"
          << trace->ToString();
      if (!start) continue;
      ASSERT_EQ(s->GroupStart(g), *start) << trace->ToString();
      ASSERT_EQ(s->GroupFrontier(g), model.Frontier(r, g)) << trace->ToString();
    }
  }
};

TEST(StreamModelTest, EveryRegionReadsWhatItsCausalHistorySays) {
  for (uint64_t seed : TestSeeds(40, 0x57e4b)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    const int n = 3;
    Harness h(n);
    crdt_test::Trace trace;
    for (int step = 0; step < 120; ++step) {
      const int r = rng.Index(n);
      Keyspace& k = h.ks[static_cast<size_t>(r)];
      const ReplicaId self = k.self();
      const int what = rng.Index(10);
      if (what < 4) {  // deliver or sync
        const int from = rng.Index(n);
        if (from == r) continue;
        if (rng.OneIn(6)) {
          h.FullSync(r, from);
          trace.Add("sync " + std::to_string(from) + " -> " + std::to_string(r));
        } else if (h.next[static_cast<size_t>(r)][static_cast<size_t>(from)] <
                   h.log[static_cast<size_t>(from)].size()) {
          h.Deliver(r, from);
          trace.Add("deliver " + std::to_string(from) + " -> " + std::to_string(r));
        }
        h.Check(r, &trace);
        continue;
      }
      Keyspace d = k.NewDelta();
      const StreamStore* s = k.Stream("s");
      std::string group = rng.OneIn(2) ? "g1" : "g2";
      int event = -1;
      if (what < 6 || s == nullptr) {
        std::optional<StreamId> id = StrictStreamId(static_cast<uint64_t>(step / 4),
                                                    s ? s->LastId() : StreamId{}, SiteOf(self), n);
        if (!id) id = StrictStreamId(s->LastId().ms, s->LastId(), SiteOf(self), n);
        k.XAdd("s", *id, {"f", std::to_string(step)}, &d);
        Model::Event& e = h.NewEvent(r, Model::kXAdd);
        e.entry = {*id, Dot{self, k.context().Max(self) - 1}};  // then the marker's dot
        event = e.id;
        trace.Add(std::to_string(r) + ": XADD " + id->ToString());
      } else if (what == 6 && s->size() > 0) {
        std::vector<StreamStore::Key> keys;
        s->ForEach(
            [&](const StreamStore::Key& key, const StreamStore::Fields&) { keys.push_back(key); });
        StreamStore::Key victim = rng.Pick(keys);
        k.XRemove("s", victim, &d);
        Model::Event& e = h.NewEvent(r, Model::kXDel);
        e.entry = victim;
        event = e.id;
        trace.Add(std::to_string(r) + ": XDEL " + victim.first.ToString());
      } else if (what == 7 && rng.OneIn(3) && k.TypeOf("s") == Keyspace::Type::kStream) {
        k.Del("s", &d);
        event = h.NewEvent(r, Model::kDel).id;
        trace.Add(std::to_string(r) + ": DEL");
      } else if (what == 7 || what == 8) {
        if (s->HasGroup(group)) {
          k.XDestroyGroup("s", group, &d);
          Model::Event& e = h.NewEvent(r, Model::kDestroy);
          e.group = group;
          event = e.id;
          trace.Add(std::to_string(r) + ": DESTROY " + group);
        } else {
          StreamId start{static_cast<uint64_t>(rng.Index(5)), 0};
          k.XCreateGroup("s", group, start, &d);
          Model::Event& e = h.NewEvent(r, Model::kCreate);
          e.group = group;
          e.start = start;
          event = e.id;
          trace.Add(std::to_string(r) + ": CREATE " + group + " " + start.ToString());
        }
      } else if (s->HasGroup(group)) {
        StreamStore::Positions acked{{MakeReplicaId(static_cast<uint16_t>(rng.Index(n)), 1),
                                      StreamId{static_cast<uint64_t>(rng.Index(40)), 1}}};
        StreamStore::Positions written = s->GroupFrontier(group);
        for (const auto& [rep, id] : acked) written[rep] = std::max(written[rep], id);
        k.XWriteFrontier("s", group, acked, &d);
        Model::Event& e = h.NewEvent(r, Model::kFrontier);
        e.group = group;
        e.pos = written;
        event = e.id;
        trace.Add(std::to_string(r) + ": FRONTIER " + group);
      } else {
        continue;
      }
      h.log[static_cast<size_t>(r)].push_back({d.Encode(), event});
      h.Check(r, &trace);
    }
    // Deliver everything: every region converges to the same state and the model's reads.
    for (int to = 0; to < n; ++to) {
      for (int from = 0; from < n; ++from) {
        while (from != to && h.next[static_cast<size_t>(to)][static_cast<size_t>(from)] <
                                 h.log[static_cast<size_t>(from)].size()) {
          h.Deliver(to, from);
        }
      }
    }
    for (int r = 0; r < n; ++r) h.Check(r, &trace);
    EXPECT_EQ(h.ks[0], h.ks[1]) << trace.ToString();
    EXPECT_EQ(h.ks[1], h.ks[2]) << trace.ToString();
    EXPECT_EQ(h.ks[0].DumpAll(), h.ks[2].DumpAll());
  }
}

// Join of full states is commutative, associative and idempotent.
TEST(StreamLatticeTest, JoinOfStatesIsASemilattice) {
  for (uint64_t seed : TestSeeds(40, 0x57e4c)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<Keyspace> r;
    for (uint16_t i = 0; i < 3; ++i) r.emplace_back(MakeReplicaId(i, 1));
    for (int step = 0; step < 60; ++step) {
      Keyspace& k = r[static_cast<size_t>(rng.Index(3))];
      const StreamStore* s = k.Stream("s");
      const int what = rng.Index(8);
      if (what == 0) {
        k.Merge(r[static_cast<size_t>(rng.Index(3))]);
      } else if (what < 4 || s == nullptr) {
        std::optional<StreamId> id = StrictStreamId(
            static_cast<uint64_t>(step), s ? s->LastId() : StreamId{}, SiteOf(k.self()), 3);
        if (id) k.XAdd("s", *id, {"f", "v"}, nullptr);
      } else if (what == 4 && s->size() > 0) {
        k.XRemove("s", s->entries().begin()->first, nullptr);
      } else if (what == 5 && rng.OneIn(3) && k.TypeOf("s") == Keyspace::Type::kStream) {
        k.Del("s", nullptr);
      } else if (what == 6) {
        if (s->HasGroup("g")) {
          k.XDestroyGroup("s", "g", nullptr);
        } else {
          k.XCreateGroup("s", "g", {}, nullptr);
        }
      } else if (s->HasGroup("g")) {
        k.XWriteFrontier("s", "g", {{k.self(), {static_cast<uint64_t>(step), 1}}}, nullptr);
      }
    }
    auto join = [](Keyspace x, const Keyspace& y) {
      x.Merge(y);
      return x;
    };
    const Keyspace &a = r[0], &b = r[1], &c = r[2];
    EXPECT_EQ(join(a, b), join(b, a));
    EXPECT_EQ(join(join(a, b), c), join(a, join(b, c)));
    EXPECT_EQ(join(a, a), a);
    EXPECT_EQ(join(join(a, b), b), join(a, b));
  }
}

}  // namespace
}  // namespace crdt
