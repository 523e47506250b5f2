#include "lending/lending.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/plural.h"

namespace lending {

using cluster_sim::Client;
using cluster_sim::Reply;

namespace {

constexpr int kMaxWatchRetries = 1000;  // a livelock guard, far above any real contention

std::vector<std::string> SplitBooks(std::string_view text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string book(text.substr(begin, end - begin));
    if (!book.empty() && std::find(out.begin(), out.end(), book) == out.end()) {
      out.push_back(std::move(book));
    }
    begin = end + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(items[i]);
  }
  return out;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The text of an error reply, or of an unexpected reply type.
std::string Describe(const Reply& r) {
  if (r.type == Reply::Type::kError) return r.str;
  return "unexpected reply type " + std::to_string(static_cast<int>(r.type));
}

}  // namespace

std::string CountKey(std::string_view user) { return "user:" + std::string(user) + ":count"; }
std::string RequestTempKey(std::string_view id) { return "request:" + std::string(id) + ":temp"; }
std::string ReturnTempKey(std::string_view id) { return "return:" + std::string(id) + ":temp"; }

// ------------------------------------------------------------------ LendingWorker

LendingWorker::LendingWorker(std::string name, Client& client)
    : name_(std::move(name)), client_(client) {}

Reply LendingWorker::Run(std::vector<std::string> argv) { return client_.Execute(argv); }

// Leaves no open transaction or watch behind (each may already be gone: errors ignored).
void LendingWorker::Abandon() {
  client_.Execute({"DISCARD"});
  client_.Execute({"UNWATCH"});
}

std::vector<std::string> LendingWorker::Start(std::string* error) {
  for (std::string_view stream : {kRequestStream, kReturnStream}) {
    Reply r =
        Run({"XGROUP", "CREATE", std::string(stream), std::string(kLendingGroup), "0", "MKSTREAM"});
    if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) {
      *error = r.str;
      return {};
    }
  }
  drain_pending_ = true;
  return {"Ready to process events..."};
}

LendingWorker::TxOutcome LendingWorker::Transact(const std::vector<std::vector<std::string>>& tx,
                                                 Reply* bad) {
  Reply m = Run({"MULTI"});
  if (m.is_error()) {
    *bad = std::move(m);
    return TxOutcome::kRefused;
  }
  for (const auto& argv : tx) {
    Reply q = client_.Execute(argv);
    if (q.is_error()) {
      *bad = std::move(q);
      return TxOutcome::kRefused;
    }
  }
  if (before_exec_) before_exec_();
  Reply done = Run({"EXEC"});
  if (done.is_nil()) return TxOutcome::kConflict;
  if (done.type != Reply::Type::kArray) {
    *bad = std::move(done);
    return TxOutcome::kRefused;
  }
  for (Reply& each : done.elements) {
    if (each.is_error()) {
      *bad = std::move(each);
      return TxOutcome::kCommandFailed;
    }
  }
  return TxOutcome::kCommitted;
}

bool LendingWorker::CrashHere(CrashPoint::Where where, int n) {
  if (!crash_ || crash_->where != where) return false;
  if (where == CrashPoint::Where::kAfterReserve && crash_->n != n) return false;
  crash_.reset();
  return true;
}

bool LendingWorker::ReadEntries(bool pending, std::vector<Entry>* entries, std::string* error) {
  std::string id = pending ? "0" : ">";
  Reply r = Run({"XREADGROUP", "GROUP", std::string(kLendingGroup), name_, "COUNT", "1", "STREAMS",
                 std::string(kRequestStream), std::string(kReturnStream), id, id});
  if (r.is_nil()) return true;
  if (r.type != Reply::Type::kArray) {
    *error = Describe(r);
    return false;
  }
  for (const Reply& stream : r.elements) {
    if (stream.elements.size() != 2) continue;
    for (const Reply& item : stream.elements[1].elements) {
      if (item.elements.size() != 2) continue;
      Entry e{stream.elements[0].str, item.elements[0].str, {}};
      const auto& kv = item.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) e.fields[kv[i].str] = kv[i + 1].str;
      entries->push_back(std::move(e));
    }
  }
  return true;
}

PollResult LendingWorker::Poll(std::vector<std::string>* out) {
  PollResult r;
  std::vector<Entry> entries;
  if (drain_pending_) {
    if (!ReadEntries(true, &entries, &r.error)) return r;
    if (entries.empty()) drain_pending_ = false;
  }
  if (entries.empty() && !ReadEntries(false, &entries, &r.error)) return r;
  for (const Entry& e : entries) {
    r.progressed = true;
    if (!Process(e, out, &r)) return r;
  }
  return r;
}

bool LendingWorker::Process(const Entry& e, std::vector<std::string>* out, PollResult* r) {
  if (CrashHere(CrashPoint::Where::kAfterRead, 0)) {
    r->crashed = true;
    return false;
  }
  return e.stream == kRequestStream ? Borrow(e, out, r) : Return(e, out, r);
}

std::string LendingWorker::Field(const Entry& e, const char* name) {
  auto it = e.fields.find(name);
  return it == e.fields.end() ? std::string() : it->second;
}

bool LendingWorker::Fail(std::string_view what, const Entry& e, const Reply& reply, PollResult* r) {
  r->error = std::string(what) + " " + e.id + ": " + Describe(reply);
  Abandon();
  return false;
}

LendingWorker::Settled LendingWorker::Settle(const std::vector<std::vector<std::string>>& tx,
                                             std::string_view what, const Entry& e,
                                             EntryResult* result, PollResult* r) {
  Reply bad;
  switch (Transact(tx, &bad)) {
    case TxOutcome::kCommitted:
      return Settled::kDone;
    case TxOutcome::kConflict:
      result->watch_retries++;
      return Settled::kRetry;
    case TxOutcome::kRefused:
      Fail(what, e, bad, r);
      return Settled::kFailed;
    case TxOutcome::kCommandFailed:
      r->error = std::string(what) + " " + e.id + ": " + bad.str;
      return Settled::kFailed;
  }
  return Settled::kFailed;
}

bool LendingWorker::Borrow(const Entry& e, std::vector<std::string>* out, PollResult* r) {
  auto fail = [&](const Reply& reply) { return Fail("request", e, reply, r); };
  const std::string user = Field(e, "user_id");
  const std::vector<std::string> requested = SplitBooks(Field(e, "book_ids"));
  const std::string temp = RequestTempKey(e.id);
  const std::string stream(kRequestStream);

  // 1. Reservations a crashed predecessor made.
  Reply members = Run({"SMEMBERS", temp});
  if (members.type != Reply::Type::kArray) return fail(members);
  std::set<std::string> reserved;
  for (const Reply& m : members.elements) reserved.insert(m.str);
  if (!reserved.empty()) out->push_back("[WARN] Found partially-processed transaction, resuming.");

  // 2. Reserve what is free: automated storage first, then the shelves.
  int reserved_now = 0;
  for (const std::string& book : requested) {
    if (reserved.count(book)) continue;
    Reply lent = Run({"HEXISTS", std::string(kLentBooks), book});
    if (lent.is_error()) return fail(lent);
    if (lent.integer == 1) continue;
    Reply moved = Run({"SMOVE", std::string(kStorage), temp, book});
    if (moved.is_error()) return fail(moved);
    bool got = moved.integer == 1;
    if (!got) {
      // The Shelving service: the book is ours if it is off no-one's list, or already
      // taken off the shelves for this very request (a retry after a crash).
      Reply taken = Run({"HSETNX", std::string(kShelvingState), book, e.id});
      if (taken.is_error()) return fail(taken);
      if (taken.integer == 0) {
        Reply holder = Run({"HGET", std::string(kShelvingState), book});
        if (holder.is_error()) return fail(holder);
        got = holder.type == Reply::Type::kBulk && holder.str == e.id;
      } else {
        got = true;
      }
      if (got) {
        Reply added = Run({"SADD", temp, book});
        if (added.is_error()) return fail(added);
      }
    }
    if (!got) continue;
    reserved.insert(book);
    if (CrashHere(CrashPoint::Where::kAfterReserve, ++reserved_now)) {
      r->crashed = true;
      return false;
    }
  }
  // Reserved books in request order (then any a predecessor reserved that are not listed).
  std::vector<std::string> books;
  for (const std::string& b : requested) {
    if (reserved.count(b)) books.push_back(b);
  }
  for (const std::string& b : reserved) {
    if (std::find(books.begin(), books.end(), b) == books.end()) books.push_back(b);
  }

  EntryResult result{EntryResult::Kind::kRequest, e.id, user, "", {}, 0};
  // 3. Nothing available.
  if (books.empty()) {
    Reply ack = Run({"XACK", stream, std::string(kLendingGroup), e.id});
    if (ack.is_error()) return fail(ack);
    out->push_back("Request: [" + e.id + "] by " + user + " DENIED.");
    out->push_back("\tCause: none of the requested books is available.");
    result.outcome = "DENIED";
    r->finished.push_back(std::move(result));
    return true;
  }
  if (CrashHere(CrashPoint::Where::kBeforeCommit, 0)) {
    r->crashed = true;
    return false;
  }
  // 4. Optimistically locked on the user's count (and on the storage, whose free room the
  // compensation uses); retried on conflict.
  const std::string count_key = CountKey(user);
  for (int attempt = 0;; ++attempt) {
    if (attempt > kMaxWatchRetries) {
      r->error =
          "request " + e.id + ": gave up after " + std::to_string(attempt) + " WATCH conflicts";
      return false;
    }
    Reply w = Run({"WATCH", count_key, std::string(kStorage)});
    if (w.is_error()) return fail(w);
    Reply held_reply = Run({"GET", count_key});
    int64_t held = 0;
    if (held_reply.is_error()) return fail(held_reply);
    if (held_reply.type == Reply::Type::kBulk && !ParseInt(held_reply.str, &held)) {
      Run({"UNWATCH"});
      r->error = "request " + e.id + ": " + count_key + " is not an integer";
      return false;
    }
    const int64_t found = static_cast<int64_t>(books.size());
    const bool deny = found + held > kMaxBooksPerUser;
    std::vector<std::vector<std::string>> tx;
    if (deny) {
      Reply card = Run({"SCARD", std::string(kStorage)});
      if (card.is_error()) return fail(card);
      int64_t room = std::max<int64_t>(0, kStorageCapacity - card.integer);
      std::vector<std::string> back, rest;
      for (const std::string& b : books) {
        (static_cast<int64_t>(back.size()) < room ? back : rest).push_back(b);
      }
      if (!back.empty()) {
        std::vector<std::string> sadd = {"SADD", std::string(kStorage)};
        sadd.insert(sadd.end(), back.begin(), back.end());
        tx.push_back(std::move(sadd));
      }
      if (!rest.empty()) {
        tx.push_back({"XADD", std::string(kShelvingStream), "*", "book_ids", Join(rest, ",")});
      }
    } else {
      tx.push_back({"INCRBY", count_key, std::to_string(found)});
      std::vector<std::string> hset = {"HSET", std::string(kLentBooks)};
      for (const std::string& b : books) {
        hset.push_back(b);
        hset.push_back(user);
      }
      tx.push_back(std::move(hset));
    }
    tx.push_back({"UNLINK", temp});
    tx.push_back({"XACK", stream, std::string(kLendingGroup), e.id});
    const Settled settled = Settle(tx, "request", e, &result, r);
    if (settled == Settled::kRetry) continue;
    if (settled == Settled::kFailed) return false;
    out->push_back("Request: [" + e.id + "] by " + user + (deny ? " DENIED." : " ACCEPTED."));
    if (deny) {
      out->push_back("\tCause: too many books (user has " + std::to_string(held) +
                     " books, requested " + std::to_string(requested.size()) + " of which " +
                     std::to_string(found) + " were found).");
      result.outcome = "DENIED";
    } else {
      out->push_back("Books:");
      for (size_t i = 0; i < books.size(); ++i) {
        out->push_back("\t" + std::to_string(i + 1) + ") " + books[i]);
      }
      result.outcome = "ACCEPTED";
      result.books = books;
    }
    r->finished.push_back(std::move(result));
    return true;
  }
}

bool LendingWorker::Return(const Entry& e, std::vector<std::string>* out, PollResult* r) {
  auto fail = [&](const Reply& reply) { return Fail("return", e, reply, r); };
  const std::string user = Field(e, "user_id");
  const std::vector<std::string> books = SplitBooks(Field(e, "book_ids"));
  const std::string count_key = CountKey(user);
  EntryResult result{EntryResult::Kind::kReturn, e.id, user, "PROCESSED", {}, 0};
  for (int attempt = 0;; ++attempt) {
    if (attempt > kMaxWatchRetries) {
      r->error =
          "return " + e.id + ": gave up after " + std::to_string(attempt) + " WATCH conflicts";
      return false;
    }
    Reply w = Run({"WATCH", std::string(kLentBooks), count_key, std::string(kStorage)});
    if (w.is_error()) return fail(w);
    std::vector<std::string> held;
    for (const std::string& b : books) {
      Reply holder = Run({"HGET", std::string(kLentBooks), b});
      if (holder.is_error()) return fail(holder);
      if (holder.type == Reply::Type::kBulk && holder.str == user) held.push_back(b);
    }
    std::vector<std::vector<std::string>> tx;
    if (!held.empty()) {
      Reply card = Run({"SCARD", std::string(kStorage)});
      if (card.is_error()) return fail(card);
      int64_t room = std::max<int64_t>(0, kStorageCapacity - card.integer);
      std::vector<std::string> back, rest;
      for (const std::string& b : held) {
        (static_cast<int64_t>(back.size()) < room ? back : rest).push_back(b);
      }
      std::vector<std::string> hdel = {"HDEL", std::string(kLentBooks)};
      hdel.insert(hdel.end(), held.begin(), held.end());
      tx.push_back(std::move(hdel));
      tx.push_back({"DECRBY", count_key, std::to_string(held.size())});
      if (!back.empty()) {
        std::vector<std::string> sadd = {"SADD", std::string(kStorage)};
        sadd.insert(sadd.end(), back.begin(), back.end());
        tx.push_back(std::move(sadd));
      }
      if (!rest.empty()) {
        tx.push_back({"XADD", std::string(kShelvingStream), "*", "book_ids", Join(rest, ",")});
      }
    }
    tx.push_back({"XACK", std::string(kReturnStream), std::string(kLendingGroup), e.id});
    const Settled settled = Settle(tx, "return", e, &result, r);
    if (settled == Settled::kRetry) continue;
    if (settled == Settled::kFailed) return false;
    out->push_back("Book Return [" + e.id + "] PROCESSED");
    result.books = held;
    r->finished.push_back(std::move(result));
    return true;
  }
}

// ------------------------------------------------------------------ ShelvingWorker

ShelvingWorker::ShelvingWorker(std::string name, Client& client)
    : name_(std::move(name)), client_(client) {}

bool ShelvingWorker::Start(std::string* error) {
  Reply r = client_.Execute({"XGROUP", "CREATE", std::string(kShelvingStream),
                             std::string(kShelvingGroup), "0", "MKSTREAM"});
  if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) {
    *error = r.str;
    return false;
  }
  drain_pending_ = true;
  return true;
}

PollResult ShelvingWorker::Poll() {
  PollResult result;
  for (int pass = 0; pass < 2; ++pass) {
    std::string id = drain_pending_ ? "0" : ">";
    Reply r = client_.Execute({"XREADGROUP", "GROUP", std::string(kShelvingGroup), name_, "COUNT",
                               "1", "STREAMS", std::string(kShelvingStream), id});
    if (r.is_error()) {
      result.error = r.str;
      return result;
    }
    bool any = false;
    if (r.type == Reply::Type::kArray) {
      for (const Reply& stream : r.elements) {
        if (stream.elements.size() != 2) continue;
        for (const Reply& item : stream.elements[1].elements) {
          if (item.elements.size() != 2) continue;
          any = true;
          const std::string& id_text = item.elements[0].str;
          std::vector<std::string> books;
          const auto& kv = item.elements[1].elements;
          for (size_t i = 0; i + 1 < kv.size(); i += 2) {
            if (kv[i].str == "book_ids") books = SplitBooks(kv[i + 1].str);
          }
          client_.Execute({"MULTI"});
          if (!books.empty()) {
            std::vector<std::string> hdel = {"HDEL", std::string(kShelvingState)};
            hdel.insert(hdel.end(), books.begin(), books.end());
            client_.Execute(hdel);
          }
          client_.Execute(
              {"XACK", std::string(kShelvingStream), std::string(kShelvingGroup), id_text});
          Reply done = client_.Execute({"EXEC"});
          if (done.type != Reply::Type::kArray) {
            result.error = "shelving " + id_text + ": " + Describe(done);
            return result;
          }
        }
      }
    }
    result.progressed = result.progressed || any;
    if (any) return result;
    if (!drain_pending_) return result;
    drain_pending_ = false;
  }
  return result;
}

// ------------------------------------------------------------------ requests, checks

std::string SubmitRequest(Client& client, bool is_return, std::string_view user,
                          const std::vector<std::string>& books, std::string* error) {
  Reply r = client.Execute({"XADD", std::string(is_return ? kReturnStream : kRequestStream), "*",
                            "user_id", std::string(user), "book_ids", Join(books, ",")});
  if (r.type != Reply::Type::kBulk) {
    *error = Describe(r);
    return "";
  }
  return r.str;
}

std::vector<std::string> CheckRegionInvariants(Client& client) {
  std::vector<std::string> out;
  Reply lent = client.Execute({"HGETALL", std::string(kLentBooks)});
  if (lent.type != Reply::Type::kArray) return {"lent_books: cannot read: " + Describe(lent)};
  std::map<std::string, std::string> holder;      // book -> user
  std::map<std::string, int64_t> books_per_user;  // from lent_books
  for (size_t i = 0; i + 1 < lent.elements.size(); i += 2) {
    holder[lent.elements[i].str] = lent.elements[i + 1].str;
    books_per_user[lent.elements[i + 1].str]++;
  }
  Reply keys = client.Execute({"KEYS", "user:*:count"});
  std::map<std::string, int64_t> counts;  // user -> count
  if (keys.type == Reply::Type::kArray) {
    for (const Reply& k : keys.elements) {
      std::string user = k.str.substr(5, k.str.size() - 5 - 6);
      Reply v = client.Execute({"GET", k.str});
      int64_t n = 0;
      if (v.type != Reply::Type::kBulk || !ParseInt(v.str, &n)) {
        out.push_back(k.str + " is not an integer");
        continue;
      }
      counts[user] = n;
    }
  }
  std::set<std::string> users;
  for (const auto& [u, n] : counts) users.insert(u);
  for (const auto& [u, n] : books_per_user) users.insert(u);
  for (const std::string& u : users) {
    int64_t count = counts.count(u) ? counts[u] : 0;
    int64_t listed = books_per_user.count(u) ? books_per_user[u] : 0;
    if (count > kMaxBooksPerUser) {
      out.push_back(CountKey(u) + " = " + std::to_string(count) + ": " + u + " holds more than " +
                    std::to_string(kMaxBooksPerUser) + " books");
    }
    if (listed > kMaxBooksPerUser) {
      out.push_back("lent_books gives " + u + " " + std::to_string(listed) + " books: more than " +
                    std::to_string(kMaxBooksPerUser));
    }
    if (count != listed) {
      out.push_back(CountKey(u) + " = " + std::to_string(count) + " but lent_books gives " + u +
                    " " + cluster_sim::Plural(listed, "book"));
    }
  }
  Reply storage = client.Execute({"SMEMBERS", std::string(kStorage)});
  if (storage.type == Reply::Type::kArray) {
    if (static_cast<int64_t>(storage.elements.size()) > kStorageCapacity) {
      out.push_back(std::string(kStorage) + " holds " + std::to_string(storage.elements.size()) +
                    " books: more than its capacity " + std::to_string(kStorageCapacity));
    }
    for (const Reply& b : storage.elements) {
      auto it = holder.find(b.str);
      if (it != holder.end()) {
        out.push_back("book " + b.str + " is both in " + std::string(kStorage) + " and lent to " +
                      it->second + " (lent_books)");
      }
    }
  }
  return out;
}

void Ledger::Record(std::string_view region, const EntryResult& r, std::string_view origin) {
  events_.push_back(Event{std::string(region), std::string(origin.empty() ? region : origin), r});
}

std::vector<std::string> Ledger::Check() const {
  struct Loan {
    std::string user, id, region;
  };
  std::map<std::string, std::vector<Loan>> holders;  // book -> current loans
  std::vector<std::string> out;
  for (const Event& ev : events_) {
    const EntryResult& r = ev.result;
    for (const std::string& book : r.books) {
      std::vector<Loan>& loans = holders[book];
      if (r.kind == EntryResult::Kind::kReturn) {
        auto it = std::find_if(loans.begin(), loans.end(),
                               [&](const Loan& l) { return l.user == r.user; });
        if (it != loans.end()) loans.erase(it);
        continue;
      }
      for (const Loan& l : loans) {
        out.push_back("lent_books: book " + book + " lent twice: to " + l.user + " (request " +
                      l.id + " in " + l.region + ") and to " + r.user + " (request " + r.id +
                      " in " + ev.region + ")");
      }
      loans.push_back(Loan{r.user, r.id, ev.region});
    }
  }
  // Entries finished more than once: (origin, kind, id) -> the events that finished it.
  std::map<std::tuple<std::string, EntryResult::Kind, std::string>, std::vector<const Event*>>
      handled;
  for (const Event& ev : events_) {
    handled[{ev.origin, ev.result.kind, ev.result.id}].push_back(&ev);
  }
  for (const Event& ev : events_) {
    const std::vector<const Event*>& all = handled[{ev.origin, ev.result.kind, ev.result.id}];
    // Once, at its first handling, if another region finished it too.
    if (all.front() != &ev || std::all_of(all.begin(), all.end(),
                                          [&](const Event* e) { return e->region == ev.region; })) {
      continue;
    }
    const EntryResult& r = ev.result;
    std::string line = "stream entry " + r.id + " (a " +
                       (r.kind == EntryResult::Kind::kReturn ? "return" : "request") + " by " +
                       r.user + ", added in " + ev.origin + ") handled " +
                       (all.size() == 2 ? "twice" : std::to_string(all.size()) + " times") + ":";
    for (size_t i = 0; i < all.size(); ++i) {
      line +=
          (i == 0 ? " in " : ", then in ") + all[i]->region + " (" + all[i]->result.outcome + ")";
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace lending
