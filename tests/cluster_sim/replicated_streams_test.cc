// Replicated streams (engine_stream.cc on crdt/stream.h) through memory stores told to
// replicate them (Store::SetStreamOptions): Redis Enterprise's documented examples (XREAD
// can skip, XREADGROUP does not, XACK replicates once the entries read before it are
// acknowledged, DEL and XGROUP DESTROY rules), the id modes, and the region-local default.
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#include "crdt/stream.h"
#include "split_words.h"

namespace cluster_sim {
namespace {

// One region: a memory store and the effects it made, for a peer to merge.
struct Region {
  std::unique_ptr<Store> store;
  std::vector<std::string> effects;
  size_t sent = 0;

  Region(uint16_t site, crdt::StreamIdMode mode, bool replicate = true)
      : store(NewMemoryStore(crdt::MakeReplicaId(site, 1))) {
    store->SetRegionNames({"A", "B"});
    store->SetStreamOptions(replicate, mode);
  }
  // Runs a command at wall clock `ms` (milliseconds); returns the reply's text.
  std::string Run(const std::string& line, int64_t ms = 1000) {
    std::string effect;
    Reply r = store->Execute(test_util::Split(line), ms * 1000, &effect);
    if (!effect.empty()) effects.push_back(effect);
    return r.ToString();
  }
  size_t Pending() const { return effects.size() - sent; }
};

// Delivers every effect each region made since the last sync to the other.
void Sync(Region& a, Region& b) {
  for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    for (; from->sent < from->effects.size(); ++from->sent) {
      ASSERT_TRUE(to->store->Merge(from->effects[from->sent]).ok());
    }
  }
}

TEST(ReplicatedStreamsTest, ConcurrentAppendsGetDistinctIdsAndMerge) {
  Region a(0, crdt::StreamIdMode::kStrict), b(1, crdt::StreamIdMode::kStrict);
  EXPECT_EQ(a.Run("XADD messages * text hello", 1589929244828), "1589929244828-1");
  EXPECT_EQ(b.Run("XADD messages * text goodbye", 1589929244828), "1589929244828-2");
  EXPECT_EQ(a.Run("XADD messages * text again", 1589929244828), "1589929244828-3");
  Sync(a, b);
  const std::string all = a.Run("XRANGE messages - +");
  EXPECT_EQ(all, b.Run("XRANGE messages - +"));
  EXPECT_NE(all.find("1589929244828-2"), std::string::npos);
  EXPECT_EQ(a.Run("XLEN messages"), "3");
  EXPECT_EQ(a.Run("TYPE messages"), "stream");
  EXPECT_EQ(b.Run("OBJECT ENCODING messages"), "stream");  // a key like any other
  EXPECT_EQ(b.Run("EXISTS messages"), "1");
  EXPECT_EQ(a.store->DumpAll(), b.store->DumpAll());
}

TEST(ReplicatedStreamsTest, IdModes) {
  Region strict(0, crdt::StreamIdMode::kStrict);
  EXPECT_EQ(strict.Run("XADD s 100 f v"), "100-1");
  EXPECT_EQ(strict.Run("XADD s 100 f v"), "100-3");  // A's sequences: 1, 3, 5 ...
  EXPECT_NE(strict.Run("XADD s 200-7 f v").find("ERR strict stream ID mode"), std::string::npos);
  EXPECT_NE(strict.Run("XADD s 99 f v").find("equal or smaller"), std::string::npos);
  Region semi(1, crdt::StreamIdMode::kSemiStrict);
  EXPECT_EQ(semi.Run("XADD s 100 f v"), "100-2");
  EXPECT_EQ(semi.Run("XADD s 100-9 f v"), "100-9");
  Region liberal(1, crdt::StreamIdMode::kLiberal);
  EXPECT_EQ(liberal.Run("XADD s 100 f v"), "100-0");
  EXPECT_EQ(liberal.Run("XADD s 100-* f v"), "100-1");
  EXPECT_NE(liberal.Run("XADD s 0-0 f v").find("greater than 0-0"), std::string::npos);
}

// Redis Enterprise's "Iterating a stream with XREAD": XREAD skips 115-2.
TEST(ReplicatedStreamsTest, XReadCanSkipXReadGroupDoesNot) {
  Region a(0, crdt::StreamIdMode::kStrict), b(1, crdt::StreamIdMode::kStrict);
  EXPECT_EQ(a.Run("XADD x 110 f1 v1"), "110-1");
  EXPECT_EQ(b.Run("XADD x 115 f1 v1"), "115-2");
  EXPECT_EQ(a.Run("XADD x 120 f1 v1"), "120-1");
  EXPECT_EQ(a.Run("XADD x 130 f1 v1"), "130-1");
  EXPECT_EQ(a.Run("XGROUP CREATE x g 0"), "OK");
  EXPECT_EQ(a.Run("XREAD COUNT 2 STREAMS x 0"), "[[x, [[110-1, [f1, v1]], [120-1, [f1, v1]]]]]");
  EXPECT_EQ(a.Run("XREADGROUP GROUP g alice COUNT 2 STREAMS x >"),
            "[[x, [[110-1, [f1, v1]], [120-1, [f1, v1]]]]]");
  Sync(a, b);
  EXPECT_EQ(a.Run("XREAD COUNT 2 STREAMS x 120-1"),
            "[[x, [[130-1, [f1, v1]]]]]");  // 115-2 skipped
  EXPECT_EQ(a.Run("XREADGROUP GROUP g alice STREAMS x >"),
            "[[x, [[115-2, [f1, v1]], [130-1, [f1, v1]]]]]");
  EXPECT_EQ(a.Run("XREAD STREAMS x 0"), b.Run("XREAD STREAMS x 0"));
  EXPECT_EQ(a.Run("XREAD STREAMS x $"), "(nil)");
}

// Redis Enterprise's "Replication performance optimizations": XACK replicates once the
// entries read before it are acknowledged; a region taking over resumes after them.
TEST(ReplicatedStreamsTest, XAckReplicatesOnceEarlierEntriesAreAcknowledged) {
  Region a(0, crdt::StreamIdMode::kSemiStrict), b(1, crdt::StreamIdMode::kSemiStrict);
  a.Run("XADD x 110-0 f1 v1");
  a.Run("XADD x 120-0 f1 v1");
  a.Run("XADD x 130-0 f1 v1");
  a.Run("XGROUP CREATE x group1 0");
  EXPECT_NE(a.Run("XREADGROUP GROUP group1 Alice STREAMS x >").find("130-0"), std::string::npos);
  Sync(a, b);
  EXPECT_EQ(a.Run("XACK x group1 110-0"), "1");
  EXPECT_EQ(a.Pending(), 1u);  // replicated: 110-0 and everything before it acknowledged
  Sync(a, b);
  EXPECT_EQ(a.Run("XACK x group1 130-0"), "1");
  EXPECT_EQ(a.Pending(), 0u);  // not replicated: 120-0 is still pending
  // A failover now: B re-delivers what A read but had not acknowledged in order.
  EXPECT_EQ(b.Run("XREADGROUP GROUP group1 Bob STREAMS x >"),
            "[[x, [[120-0, [f1, v1]], [130-0, [f1, v1]]]]]");
  EXPECT_EQ(a.Run("XACK x group1 120-0"), "1");
  EXPECT_EQ(a.Pending(), 1u);  // now all of them
  Sync(a, b);
  EXPECT_EQ(a.Run("XPENDING x group1"), "[0, (nil), (nil), (nil)]");
  EXPECT_EQ(b.Run("XPENDING x group1 - + 10"),
            "[[120-0, Bob, 0, 1], [130-0, Bob, 0, 1]]");  // regional lists
  Region c(1, crdt::StreamIdMode::kSemiStrict);
  for (const std::string& e : a.effects) ASSERT_TRUE(c.store->Merge(e).ok());
  EXPECT_EQ(c.Run("XREADGROUP GROUP group1 Carol STREAMS x >"), "(nil)");  // all acknowledged
}

TEST(ReplicatedStreamsTest, DelIsObservedRemoveAndDeletesGroups) {
  Region a(0, crdt::StreamIdMode::kStrict), b(1, crdt::StreamIdMode::kStrict);
  a.Run("XADD messages * text hello");
  a.Run("XGROUP CREATE messages group1 0");
  Sync(a, b);
  EXPECT_EQ(a.Run("DEL messages"), "1");
  EXPECT_EQ(b.Run("XADD messages * text goodbye", 2000), "2000-2");
  EXPECT_EQ(b.Run("XGROUP CREATE messages group2 0"), "OK");
  Sync(a, b);
  EXPECT_EQ(a.Run("XRANGE messages - +"), "[[2000-2, [text, goodbye]]]");
  EXPECT_NE(b.Run("XREADGROUP GROUP group2 c STREAMS messages >").find("NOGROUP"),
            std::string::npos);  // delete wins over the concurrent CREATE
  EXPECT_EQ(a.store->DumpAll(), b.store->DumpAll());
}

TEST(ReplicatedStreamsTest, DestroyWinsOverAConcurrentCreate) {
  Region a(0, crdt::StreamIdMode::kStrict), b(1, crdt::StreamIdMode::kStrict);
  a.Run("XADD x * f v");
  a.Run("XGROUP CREATE x g $");
  Sync(a, b);
  EXPECT_EQ(a.Run("XGROUP DESTROY x g"), "1");
  EXPECT_EQ(b.Run("XGROUP DESTROY x g"), "1");
  EXPECT_EQ(b.Run("XGROUP CREATE x g 0"), "OK");
  EXPECT_EQ(a.Run("XGROUP CREATE x g2 0"), "OK");
  Sync(a, b);
  for (Region* r : {&a, &b}) {
    EXPECT_NE(r->Run("XPENDING x g").find("NOGROUP"), std::string::npos);
    EXPECT_EQ(r->Run("XPENDING x g2"), "[0, (nil), (nil), (nil)]");
  }
}

TEST(ReplicatedStreamsTest, DelTrimAndReverseRanges) {
  Region a(0, crdt::StreamIdMode::kLiberal), b(1, crdt::StreamIdMode::kLiberal);
  for (int i = 1; i <= 5; ++i) a.Run("XADD s " + std::to_string(i) + "-1 n " + std::to_string(i));
  Sync(a, b);
  EXPECT_EQ(b.Run("XDEL s 2-1 9-9"), "1");
  EXPECT_EQ(b.Run("XTRIM s MAXLEN 2"), "2");
  EXPECT_EQ(a.Run("XADD s 6-1 n 6"), "6-1");
  Sync(a, b);
  EXPECT_EQ(a.Run("XREVRANGE s + - COUNT 2"), "[[6-1, [n, 6]], [5-1, [n, 5]]]");
  EXPECT_EQ(a.Run("XLEN s"), "3");
  EXPECT_EQ(a.Run("XRANGE s (4-1 +"), b.Run("XRANGE s (4-1 +"));
  EXPECT_EQ(a.Run("SET s x"), "OK");
  EXPECT_EQ(a.Run("XLEN s"),
            "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
}

TEST(ReplicatedStreamsTest, RegionLocalStreamsStayTheDefault) {
  std::unique_ptr<Store> s = NewMemoryStore(crdt::MakeReplicaId(0, 1));
  std::string effect;
  s->Execute({"XADD", "s", "5-1", "f", "v"}, 0, &effect);
  EXPECT_TRUE(effect.empty());  // region-local: no effect
  EXPECT_NE(s->Execute({"XDEL", "s", "5-1"}, 0, &effect).ToString().find("replicated streams"),
            std::string::npos);
}

}  // namespace
}  // namespace cluster_sim
