// Tests of the lending service (lending.h) step by step as the book's chapter 5 describes
// it, the WATCH retry the original lacks, crash-resume, the invariant checker, and a
// randomized run whose invariants must hold after every request.
//
// Written over a store factory and cluster_sim::Client (a Session per service instance),
// so the same suite can be instantiated on any Store (the Redis backend adds itself with
// INSTANTIATE_TEST_SUITE_P(Redis, LendingTest, ...)). AASIM_SEED=n replays one seed of
// the randomized test.
#include "lending/lending.h"

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/client.h"
#include "cluster_sim/rng.h"
#include "cluster_sim/session.h"
#include "cluster_sim/store.h"
#include "crdt/dot.h"
#ifdef AASIM_LENDING_REDIS_TESTS
#include "cluster_sim/redis_server.h"
#include "cluster_sim/redis_store.h"
#endif

namespace lending {
namespace {

using cluster_sim::Client;
using cluster_sim::Reply;
using cluster_sim::Session;
using cluster_sim::Store;
using Lines = std::vector<std::string>;

struct StoreFactory {
  std::string name;
  // A fresh, empty store; nullptr (and *why) when the backend cannot be had.
  std::function<std::unique_ptr<Store>(std::string* why)> make;
};
void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

class LendingTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    std::string why;
    store_ = GetParam().make(&why);
    if (!store_) {
      // Under CI (CI or AASIM_REDIS_URL set) a backend that cannot start is a failure.
      if (std::getenv("CI") != nullptr || std::getenv("AASIM_REDIS_URL") != nullptr) {
        FAIL() << GetParam().name << " store unavailable: " << why;
      }
      GTEST_SKIP() << GetParam().name << " store unavailable: " << why;
    }
    admin_ = Connect();
  }

  std::unique_ptr<Session> Connect() {
    return std::make_unique<Session>(
        cluster_sim::StoreBackend(*store_, [this] { return now_us_; }));
  }
  Reply Do(const std::vector<std::string>& argv) { return admin_->Execute(argv); }

  // One worker over its own connection.
  struct Instance {
    std::unique_ptr<Session> client;
    std::unique_ptr<LendingWorker> worker;
  };
  Instance StartWorker(const std::string& name, Lines* out) {
    Instance i{Connect(), nullptr};
    i.worker = std::make_unique<LendingWorker>(name, *i.client);
    std::string error;
    Lines ready = i.worker->Start(&error);
    EXPECT_EQ(error, "");
    out->insert(out->end(), ready.begin(), ready.end());
    return i;
  }
  void StartShelving() {
    shelving_client_ = Connect();
    shelving_ = std::make_unique<ShelvingWorker>("shelving-1", *shelving_client_);
    std::string error;
    ASSERT_TRUE(shelving_->Start(&error)) << error;
  }
  std::string Submit(bool is_return, const std::string& user, const Lines& books) {
    std::string error;
    std::string id = SubmitRequest(*admin_, is_return, user, books, &error);
    EXPECT_EQ(error, "");
    return id;
  }
  // Polls until nothing is left; returns what finished.
  std::vector<EntryResult> Drain(LendingWorker& w, Lines* out) {
    std::vector<EntryResult> done;
    for (int i = 0; i < 100; ++i) {
      PollResult p = w.Poll(out);
      EXPECT_EQ(p.error, "");
      for (auto& f : p.finished) done.push_back(std::move(f));
      bool shelved = shelving_ && shelving_->Poll().progressed;
      if (!p.progressed && !shelved) break;
    }
    return done;
  }

  std::unique_ptr<Store> store_;
  int64_t now_us_ = 0;
  std::unique_ptr<Session> admin_;  // the test's own connection
  std::unique_ptr<Session> shelving_client_;
  std::unique_ptr<ShelvingWorker> shelving_;
};

using Lending = LendingTest;

TEST_P(Lending, BookDemoRequestThenReturn) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  EXPECT_EQ(out, Lines{"Ready to process events..."});
  out.clear();
  std::string id = Submit(false, "Salvatore", {"ofmiceandmen"});
  EXPECT_EQ(id, "0-1");
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by Salvatore ACCEPTED.", "Books:", "\t1) ofmiceandmen"}));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, "ACCEPTED");
  EXPECT_EQ(Do({"HGET", "lent_books", "ofmiceandmen"}), Reply::Bulk("Salvatore"));
  EXPECT_EQ(Do({"GET", "user:Salvatore:count"}), Reply::Bulk("1"));
  EXPECT_EQ(Do({"HGET", "shelving_service_state", "ofmiceandmen"}), Reply::Bulk("0-1"));
  EXPECT_EQ(Do({"EXISTS", "request:0-1:temp"}), Reply::Integer(0));
  EXPECT_EQ(Do({"XPENDING", std::string(kRequestStream), "lending_service"}),
            Reply::Array({Reply::Integer(0), Reply::Nil(), Reply::Nil(), Reply::NilArray()}));
  out.clear();
  now_us_ = 2'000;
  EXPECT_EQ(Submit(true, "Salvatore", {"ofmiceandmen"}), "2-0");
  Drain(*a.worker, &out);
  EXPECT_EQ(out, Lines{"Book Return [2-0] PROCESSED"});
  EXPECT_EQ(Do({"HLEN", "lent_books"}), Reply::Integer(0));
  EXPECT_EQ(Do({"GET", "user:Salvatore:count"}), Reply::Bulk("0"));
  EXPECT_EQ(Do({"SMEMBERS", "automated_book_storage"}), Reply::BulkArray({"ofmiceandmen"}));
  EXPECT_EQ(CheckRegionInvariants(*admin_), Lines{});
}

TEST_P(Lending, StepOneDuplicateIdsAreRequestedOnce) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  out.clear();
  Submit(false, "u", {"b1", "b1", "b2"});
  Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u ACCEPTED.", "Books:", "\t1) b1", "\t2) b2"}));
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("2"));
}

TEST_P(Lending, StepTwoSkipsLentBooksTakesStorageThenShelves) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  Do({"HSET", "lent_books", "lent", "someone"});
  Do({"INCR", "user:someone:count"});
  Do({"SADD", "automated_book_storage", "stored"});
  Do({"HSET", "shelving_service_state", "stored", "earlier", "taken", "other-request"});
  out.clear();
  Submit(false, "u", {"lent", "stored", "shelf", "taken"});
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u ACCEPTED.", "Books:", "\t1) stored", "\t2) shelf"}));
  EXPECT_EQ(Do({"SCARD", "automated_book_storage"}), Reply::Integer(0));  // SMOVEd out
  EXPECT_EQ(Do({"HGET", "shelving_service_state", "shelf"}), Reply::Bulk("0-1"));
  EXPECT_EQ(Do({"HGET", "shelving_service_state", "taken"}), Reply::Bulk("other-request"));
  EXPECT_EQ(Do({"HGET", "lent_books", "lent"}), Reply::Bulk("someone"));
}

TEST_P(Lending, StepTwoShelvingIsIdempotentForTheSameRequest) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  // A previous run of request 0-1 took the book off the shelves, then crashed before
  // adding it to its reservation: the retry must still get it.
  Do({"HSET", "shelving_service_state", "b", "0-1"});
  out.clear();
  EXPECT_EQ(Submit(false, "u", {"b"}), "0-1");
  Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u ACCEPTED.", "Books:", "\t1) b"}));
}

TEST_P(Lending, StepThreeNothingAvailable) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  Do({"HSET", "lent_books", "b1", "x", "b2", "x"});
  Do({"SET", "user:x:count", "2"});
  out.clear();
  Submit(false, "u", {"b1", "b2"});
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u DENIED.",
                        "\tCause: none of the requested books is available."}));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, "DENIED");
  EXPECT_EQ(Do({"XPENDING", std::string(kRequestStream), "lending_service"}).elements[0],
            Reply::Integer(0));
  EXPECT_EQ(Do({"EXISTS", "user:u:count"}), Reply::Integer(0));
}

TEST_P(Lending, StepFourOverTheLimitCompensatesIntoStorageThenShelvingStream) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  StartShelving();
  Do({"HSET", "lent_books", "h1", "u", "h2", "u", "h3", "u", "h4", "u"});
  Do({"SET", "user:u:count", "4"});
  // 18 stocked books: room for 2 of the 3 reserved ones.
  for (int i = 0; i < 18; ++i) {
    std::string b = "s" + std::to_string(i);
    Do({"SADD", "automated_book_storage", b});
    Do({"HSET", "shelving_service_state", b, "stocked"});
  }
  out.clear();
  Submit(false, "u", {"x1", "x2", "x3", "nope"});
  Do({"HSET", "lent_books", "nope", "v"});  // lent before the worker looks
  Do({"INCR", "user:v:count"});
  Drain(*a.worker, &out);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u DENIED.",
                        "\tCause: too many books (user has 4 books, requested 4 of which 3 were "
                        "found)."}));
  EXPECT_EQ(Do({"SCARD", "automated_book_storage"}), Reply::Integer(20));
  EXPECT_EQ(Do({"SMISMEMBER", "automated_book_storage", "x1", "x2", "x3"}),
            Reply::Array({Reply::Integer(1), Reply::Integer(1), Reply::Integer(0)}));
  EXPECT_EQ(
      Do({"XRANGE", std::string(kShelvingStream), "-", "+"}),
      Reply::Array({Reply::Array({Reply::Bulk("0-1"), Reply::BulkArray({"book_ids", "x3"})})}));
  // The Shelving service put x3 back on the shelves.
  EXPECT_EQ(Do({"HEXISTS", "shelving_service_state", "x3"}), Reply::Integer(0));
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("4"));
  EXPECT_EQ(Do({"EXISTS", "request:0-1:temp"}), Reply::Integer(0));
  EXPECT_EQ(CheckRegionInvariants(*admin_), Lines{});
}

TEST_P(Lending, ReturnKeepsOnlyBooksTheUserHolds) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  Submit(false, "u", {"b1", "b2"});
  Submit(false, "v", {"b3"});
  Drain(*a.worker, &out);
  out.clear();
  Submit(true, "u", {"b1", "b3", "never"});
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  EXPECT_EQ(out, Lines{"Book Return [0-1] PROCESSED"});
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].books, Lines{"b1"});
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("1"));
  EXPECT_EQ(Do({"HGET", "lent_books", "b3"}), Reply::Bulk("v"));
  EXPECT_EQ(CheckRegionInvariants(*admin_), Lines{});
}

TEST_P(Lending, ReturnOverflowsToTheShelvingStreamWhenStorageIsFull) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  StartShelving();
  Submit(false, "u", {"b1", "b2"});
  Drain(*a.worker, &out);
  for (int i = 0; i < 19; ++i) Do({"SADD", "automated_book_storage", "s" + std::to_string(i)});
  Submit(true, "u", {"b1", "b2"});
  Drain(*a.worker, &out);
  EXPECT_EQ(Do({"SCARD", "automated_book_storage"}), Reply::Integer(20));
  EXPECT_EQ(Do({"SISMEMBER", "automated_book_storage", "b1"}), Reply::Integer(1));
  EXPECT_EQ(Do({"HEXISTS", "shelving_service_state", "b2"}), Reply::Integer(0));
  EXPECT_EQ(Do({"HGET", "shelving_service_state", "b1"}), Reply::Bulk("0-1"));
}

// The original crashes when another client changes the count between WATCH and EXEC; the
// port retries with fresh reads, so the decision uses the new count.
TEST_P(Lending, WatchConflictIsRetriedWithFreshReads) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  auto other = Connect();
  int calls = 0;
  a.worker->SetBeforeExec([&] {
    if (calls++ == 0) other->Execute({"SET", "user:u:count", "4"});
  });
  out.clear();
  Submit(false, "u", {"b1", "b2"});
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].watch_retries, 1);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(out, (Lines{"Request: [0-1] by u DENIED.",
                        "\tCause: too many books (user has 4 books, requested 2 of which 2 were "
                        "found)."}));
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("4"));
  EXPECT_EQ(Do({"HLEN", "lent_books"}), Reply::Integer(0));
}

TEST_P(Lending, ReturnWatchConflictIsRetried) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  Submit(false, "u", {"b1"});
  Drain(*a.worker, &out);
  auto other = Connect();
  int calls = 0;
  a.worker->SetBeforeExec([&] {
    if (calls++ == 0) other->Execute({"SADD", "automated_book_storage", "filler"});
  });
  Submit(true, "u", {"b1"});
  std::vector<EntryResult> done = Drain(*a.worker, &out);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].watch_retries, 1);
  EXPECT_EQ(Do({"SMEMBERS", "automated_book_storage"}), Reply::BulkArray({"b1", "filler"}));
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("0"));
}

TEST_P(Lending, CrashAfterReserveResumesFromPendingAndLendsOnce) {
  Lines out;
  Instance a1 = StartWorker("A-1", &out);
  Instance a2 = StartWorker("A-2", &out);
  Do({"SADD", "automated_book_storage", "dune"});
  Do({"HSET", "shelving_service_state", "dune", "stocked"});
  a1.worker->ArmCrash(CrashPoint{CrashPoint::Where::kAfterReserve, 2});
  out.clear();
  Submit(false, "u", {"dune", "emma", "ulysses"});
  PollResult p = a1.worker->Poll(&out);
  EXPECT_TRUE(p.crashed);
  EXPECT_EQ(out, Lines{});
  EXPECT_EQ(Do({"SMEMBERS", "request:0-1:temp"}), Reply::BulkArray({"dune", "emma"}));
  // The other instance does not take A-1's entry.
  EXPECT_FALSE(a2.worker->Poll(&out).progressed);
  // A-1 restarts under the same name, on a new connection.
  a1.worker.reset();
  a1 = StartWorker("A-1", &out);
  std::vector<EntryResult> done = Drain(*a1.worker, &out);
  EXPECT_EQ(out, (Lines{"Ready to process events...",
                        "[WARN] Found partially-processed transaction, resuming.",
                        "Request: [0-1] by u ACCEPTED.", "Books:", "\t1) dune", "\t2) emma",
                        "\t3) ulysses"}));
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("3"));
  EXPECT_EQ(Do({"HLEN", "lent_books"}), Reply::Integer(3));
  EXPECT_EQ(Do({"EXISTS", "request:0-1:temp"}), Reply::Integer(0));
  EXPECT_EQ(CheckRegionInvariants(*admin_), Lines{});
}

TEST_P(Lending, CrashBeforeCommitLeavesNothingLent) {
  Lines out;
  Instance a = StartWorker("A-1", &out);
  a.worker->ArmCrash(CrashPoint{CrashPoint::Where::kBeforeCommit, 0});
  Submit(false, "u", {"b1"});
  EXPECT_TRUE(a.worker->Poll(&out).crashed);
  EXPECT_EQ(Do({"HLEN", "lent_books"}), Reply::Integer(0));
  EXPECT_EQ(Do({"EXISTS", "user:u:count"}), Reply::Integer(0));
  a = StartWorker("A-1", &out);
  out.clear();
  Drain(*a.worker, &out);
  EXPECT_EQ(out[0], "[WARN] Found partially-processed transaction, resuming.");
  EXPECT_EQ(Do({"GET", "user:u:count"}), Reply::Bulk("1"));
}

TEST_P(Lending, InvariantCheckerReportsEachBrokenInvariant) {
  Do({"HSET", "lent_books", "b1", "u", "b2", "u", "b3", "v"});
  Do({"SET", "user:u:count", "6"});
  Do({"SET", "user:w:count", "1"});
  Do({"SADD", "automated_book_storage", "b3"});
  EXPECT_EQ(CheckRegionInvariants(*admin_),
            (Lines{"user:u:count = 6: u holds more than 5 books",
                   "user:u:count = 6 but lent_books gives u 2 books",
                   "user:v:count = 0 but lent_books gives v 1 book",
                   "user:w:count = 1 but lent_books gives w 0 books",
                   "book b3 is both in automated_book_storage and lent to v (lent_books)"}));
}

TEST(LedgerTest, ABookGrantedTwiceWithoutReturnIsReported) {
  Ledger ledger;
  EntryResult a{EntryResult::Kind::kRequest, "0-1", "ann", "ACCEPTED", {"moby"}, 0};
  EntryResult b{EntryResult::Kind::kRequest, "0-1", "bob", "ACCEPTED", {"moby"}, 0};
  EntryResult back{EntryResult::Kind::kReturn, "0-2", "ann", "PROCESSED", {"moby"}, 0};
  ledger.Record("A", a);
  ledger.Record("A", back);
  ledger.Record("B", b);
  EXPECT_EQ(ledger.Check(), Lines{});
  ledger.Record("A", a);
  EXPECT_EQ(ledger.Check(), Lines{"lent_books: book moby lent twice: to bob (request 0-1 in B) "
                                  "and to ann (request 0-1 in A)"});
}

// With replicated streams an entry added in A can be finished in A and again in B; with
// region-local streams the same id in two regions is two entries.
TEST(LedgerTest, AnEntryFinishedInTwoRegionsIsReported) {
  Ledger ledger;
  EntryResult a{EntryResult::Kind::kRequest, "5-1", "ann", "ACCEPTED", {"moby"}, 0};
  EntryResult denied{EntryResult::Kind::kRequest, "5-1", "ann", "DENIED", {}, 0};
  ledger.Record("B", denied);  // region-local: B's own entry 5-1
  EXPECT_EQ(ledger.Check(), Lines{});
  ledger.Record("A", a, "A");
  ledger.Record("B", denied, "A");
  EXPECT_EQ(ledger.Check(), Lines{"stream entry 5-1 (a request by ann, added in A) handled "
                                  "twice: in A (ACCEPTED), then in B (DENIED)"});
}

// Many users and books, random requests and returns in one region by three instances;
// after every request the region's invariants and the ledger hold, and the data agrees
// with a trivial model of who holds what.
TEST_P(Lending, RandomizedInvariantsHoldAtEveryStep) {
  uint64_t seed = 20261126;
  if (const char* env = std::getenv("AASIM_SEED")) seed = std::strtoull(env, nullptr, 10);
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  cluster_sim::Rng rng(seed);
  Lines out;
  std::vector<Instance> instances;
  for (int i = 1; i <= 3; ++i) instances.push_back(StartWorker("A-" + std::to_string(i), &out));
  StartShelving();
  Ledger ledger;
  std::map<std::string, std::string> model;  // book -> holder
  constexpr int kUsers = 12, kBooks = 40, kSteps = 400;
  for (int step = 0; step < kSteps; ++step) {
    now_us_ += static_cast<int64_t>(rng.Uniform(3000));
    std::string user = "u" + std::to_string(rng.Uniform(kUsers));
    Lines books;
    int n = 1 + static_cast<int>(rng.Uniform(4));
    for (int i = 0; i < n; ++i) books.push_back("b" + std::to_string(rng.Uniform(kBooks)));
    bool is_return = rng.Uniform(3) == 0;
    if (is_return) {  // mostly books the user holds
      books.clear();
      for (const auto& [b, u] : model) {
        if (u == user && rng.Uniform(2) == 0) books.push_back(b);
      }
      books.push_back("b" + std::to_string(rng.Uniform(kBooks)));
    }
    std::string id = Submit(is_return, user, books);
    Instance& inst = instances[rng.Uniform(instances.size())];
    if (rng.Uniform(20) == 0)
      inst.worker->ArmCrash(CrashPoint{CrashPoint::Where::kAfterReserve, 1});
    std::vector<EntryResult> done;
    for (int round = 0; round < 50; ++round) {
      bool progress = false;
      for (size_t k = 0; k < instances.size(); ++k) {
        Instance& i = instances[(k + static_cast<size_t>(step)) % instances.size()];
        PollResult p = i.worker->Poll(&out);
        ASSERT_EQ(p.error, "");
        progress = progress || p.progressed;
        for (auto& f : p.finished) done.push_back(std::move(f));
        if (p.crashed) {  // restart it at once under the same name
          std::string name = i.worker->name();
          i.worker.reset();
          i = StartWorker(name, &out);
          progress = true;
        }
      }
      progress = shelving_->Poll().progressed || progress;
      if (!progress) break;
    }
    ASSERT_EQ(done.size(), 1u) << "step " << step;
    EXPECT_EQ(done[0].id, id);
    for (const EntryResult& r : done) {
      ledger.Record("A", r);
      for (const std::string& b : r.books) {
        if (r.kind == EntryResult::Kind::kRequest) {
          model[b] = r.user;
        } else {
          model.erase(b);
        }
      }
    }
    ASSERT_EQ(CheckRegionInvariants(*admin_), Lines{}) << "step " << step;
    ASSERT_EQ(ledger.Check(), Lines{}) << "step " << step;
    Reply lent = Do({"HGETALL", "lent_books"});
    std::map<std::string, std::string> actual;
    for (size_t i = 0; i + 1 < lent.elements.size(); i += 2) {
      actual[lent.elements[i].str] = lent.elements[i + 1].str;
    }
    ASSERT_EQ(actual, model) << "step " << step;
  }
  EXPECT_GT(model.size(), 5u);  // the run did lend
}

StoreFactory MemoryStoreFactory() {
  return {"Memory", [](std::string*) -> std::unique_ptr<Store> {
            return cluster_sim::NewMemoryStore(crdt::MakeReplicaId(0, 1));
          }};
}

INSTANTIATE_TEST_SUITE_P(Memory, Lending, ::testing::Values(MemoryStoreFactory()),
                         [](const auto& p) { return p.param.name; });

#ifdef AASIM_LENDING_REDIS_TESTS
// The same suite on the Redis backend: one redis-server for the whole suite (started on
// first use, stopped at exit), each test on a freshly flushed database.
StoreFactory RedisStoreFactory() {
  return {"Redis", [](std::string* why) -> std::unique_ptr<Store> {
            static auto server = cluster_sim::RedisServer::Launch();
            if (!server.ok()) {
              *why = server.status().message();
              return nullptr;
            }
            cluster_sim::RedisStoreOptions o;
            o.address.port = server.value()->port();
            o.region = "A";
            o.flush_db = true;
            auto store = cluster_sim::RedisStore::Open(crdt::MakeReplicaId(0, 1), o);
            if (!store.ok()) {
              *why = store.status().message();
              return nullptr;
            }
            return std::move(store).value();
          }};
}

INSTANTIATE_TEST_SUITE_P(Redis, Lending, ::testing::Values(RedisStoreFactory()),
                         [](const auto& p) { return p.param.name; });
#endif

}  // namespace
}  // namespace lending
