// The lending service of the book's chapter 5 (behaviour: README, "The lending service"),
// written against cluster_sim::Client only, so the same code runs on the simulator's
// memory store, on a real Redis, or on any Redis-speaking store.
//
// LendingWorker is one instance of the Lending service (consumer `name` of group
// `lending_service` on the two request streams); ShelvingWorker one instance of the
// Shelving service. A worker needs a Client with its own transaction state (a
// cluster_sim::Session): it uses WATCH/MULTI/EXEC. Each Poll() reads at most one entry
// per stream and processes it; a worker first drains its own pending entries (read but
// never acknowledged, e.g. by a crashed predecessor of the same name).
//
// Keys, limits and output lines are the book's; one deliberate fix: a WATCH conflict
// on the user's count is retried (the original crashes there).
//
// Deterministic given the store; single-threaded; the Client must outlive the worker.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"

namespace lending {

inline constexpr std::string_view kRequestStream = "lending_requests_event_stream";
inline constexpr std::string_view kReturnStream = "book_return_requests_event_stream";
inline constexpr std::string_view kShelvingStream = "books_for_shelving_event_stream";
inline constexpr std::string_view kStorage = "automated_book_storage";
inline constexpr std::string_view kLentBooks = "lent_books";
inline constexpr std::string_view kShelvingState = "shelving_service_state";
inline constexpr std::string_view kLendingGroup = "lending_service";
inline constexpr std::string_view kShelvingGroup = "shelving_service";
inline constexpr int64_t kMaxBooksPerUser = 5;
inline constexpr int64_t kStorageCapacity = 20;

std::string CountKey(std::string_view user);      // user:<user>:count
std::string RequestTempKey(std::string_view id);  // request:<id>:temp
std::string ReturnTempKey(std::string_view id);   // return:<id>:temp

// What became of one stream entry.
struct EntryResult {
  enum class Kind { kRequest, kReturn };
  Kind kind = Kind::kRequest;
  std::string id;
  std::string user;
  std::string outcome;             // "ACCEPTED", "DENIED", "PROCESSED"
  std::vector<std::string> books;  // lent (ACCEPTED) or taken back (PROCESSED)
  int watch_retries = 0;           // EXECs that found the watched keys changed
};

// Where an instance may be made to crash, for crash-resume tests: after reading an entry,
// after reserving its n-th book (1-based, counted in this run of the entry), or just
// before the final transaction.
struct CrashPoint {
  enum class Where { kAfterRead, kAfterReserve, kBeforeCommit };
  Where where = Where::kAfterRead;
  int n = 1;  // kAfterReserve only
};

struct PollResult {
  bool progressed = false;            // read at least one entry
  bool crashed = false;               // stopped at the armed crash point (entry left pending)
  std::string error;                  // a store error stopped processing (entry left pending)
  std::vector<EntryResult> finished;  // entries processed and acknowledged
};

class LendingWorker {
 public:
  LendingWorker(std::string name, cluster_sim::Client& client);

  // Creates the consumer groups (MKSTREAM; an existing group is fine) and returns the
  // start-up line "Ready to process events...". On a store error returns the error text
  // in *error and no line.
  std::vector<std::string> Start(std::string* error);
  // Processes what is there: pending entries first, then at most one new entry per stream.
  // Output lines are appended to *out.
  PollResult Poll(std::vector<std::string>* out);

  void ArmCrash(CrashPoint p) { crash_ = p; }
  // Called just before each EXEC of the final transaction (tests use it to interfere).
  void SetBeforeExec(std::function<void()> hook) { before_exec_ = std::move(hook); }
  const std::string& name() const { return name_; }

 private:
  struct Entry {
    std::string stream, id;
    std::map<std::string, std::string> fields;
  };
  // Returns false when processing stopped (crash or error; *r says which).
  bool Process(const Entry& e, std::vector<std::string>* out, PollResult* r);
  bool Borrow(const Entry& e, std::vector<std::string>* out, PollResult* r);
  bool Return(const Entry& e, std::vector<std::string>* out, PollResult* r);
  bool ReadEntries(bool pending, std::vector<Entry>* entries, std::string* error);
  bool CrashHere(CrashPoint::Where where, int n);
  cluster_sim::Reply Run(std::vector<std::string> argv);
  // MULTI, the commands of `tx`, EXEC (after the before-EXEC hook). kConflict: a watched key
  // changed, nothing ran (retry). kRefused: MULTI, a queued command or EXEC itself was
  // refused (*bad). kCommandFailed: a command inside EXEC failed (*bad; the others ran).
  enum class TxOutcome { kCommitted, kConflict, kRefused, kCommandFailed };
  TxOutcome Transact(const std::vector<std::vector<std::string>>& tx, cluster_sim::Reply* bad);
  // Runs an entry's transaction: kRetry after a WATCH conflict (counted in *result),
  // kFailed with *r saying why (a refused transaction also gives the entry up), or kDone.
  enum class Settled { kDone, kRetry, kFailed };
  Settled Settle(const std::vector<std::vector<std::string>>& tx, std::string_view what,
                 const Entry& e, EntryResult* result, PollResult* r);
  void Abandon();
  // A field of a stream entry ("" if absent).
  static std::string Field(const Entry& e, const char* name);
  // A command of entry `what` failed: the worker gives the entry up (a successor resumes it).
  bool Fail(std::string_view what, const Entry& e, const cluster_sim::Reply& reply, PollResult* r);

  std::string name_;
  cluster_sim::Client& client_;
  bool drain_pending_ = true;
  std::optional<CrashPoint> crash_;
  std::function<void()> before_exec_;
};

class ShelvingWorker {
 public:
  ShelvingWorker(std::string name, cluster_sim::Client& client);
  bool Start(std::string* error);
  PollResult Poll();

 private:
  std::string name_;
  cluster_sim::Client& client_;
  bool drain_pending_ = true;
};

// Adds a borrow (or return) request to the region's stream, as the book's client does:
// XADD <stream> * user_id <user> book_ids <b1,b2,...>. Returns the entry id, or the
// error reply's text in *error.
std::string SubmitRequest(cluster_sim::Client& client, bool is_return, std::string_view user,
                          const std::vector<std::string>& books, std::string* error);

// Invariants of one region's data (the book's rules): a user holds at most 5 books;
// user:<u>:count equals the number of lent_books entries naming u; a book is not both in
// automated storage and lent; storage holds at most 20 books. One line per broken
// invariant, naming the keys.
std::vector<std::string> CheckRegionInvariants(cluster_sim::Client& client);

// The entries the services finished, in processing order, across regions: a book granted
// to a second user before its first holder returned it was lent twice (Active/Active can
// do that: both regions found it free); an entry finished in two regions was handled twice
// (with replicated streams every region's group reads every region's entries, and a
// region taking over a group re-delivers what the other had read but whose
// acknowledgement had not replicated). `origin` is the region whose stream the entry was
// added to ("": `region`), so that region-local streams, whose ids may repeat across
// regions, never look handled twice.
class Ledger {
 public:
  void Record(std::string_view region, const EntryResult& r, std::string_view origin = {});
  // "lent_books: book b lent twice: ...", "stream entry ... handled twice: ...".
  std::vector<std::string> Check() const;

 private:
  struct Event {
    std::string region;
    std::string origin;
    EntryResult result;
  };
  std::vector<Event> events_;
};

}  // namespace lending
