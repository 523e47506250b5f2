#include "crdt/zset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crdt/page_arena.h"

namespace crdt {

namespace {

// A score as RegisterStore's value bytes: its IEEE-754 bits, little-endian.
void PutScoreBytes(Encoder* enc, double score) {
  uint64_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  char out[8];
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
  enc->PutBytes(std::string_view(out, sizeof(out)));
}

// REQUIRES: s.size() == 8.
double ScoreOfBytes(std::string_view s) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * i);
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

void PutDouble(Encoder* enc, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  enc->PutVarint(bits);
}

bool GetDouble(Decoder* dec, double* d) {
  uint64_t bits = 0;
  if (!dec->GetVarint(&bits)) return false;
  std::memcpy(d, &bits, sizeof(bits));
  if (std::isnan(*d)) return dec->Fail("score is NaN");
  return true;
}

// A counter term: p - bp, 0 when they are equal (so inf - inf cancels to 0, not NaN).
double Term(double total, double cancelled) { return total == cancelled ? 0 : total - cancelled; }

}  // namespace

// ---- ScoreCounter ----

void ScoreCounter::JoinSlot(const Slot& s) { JoinCounterSlot(&slots_, s); }

void ScoreCounter::Add(ReplicaId r, double by, ScoreCounter* delta) {
  if (by == 0) return;
  Slot s{r, 0, 0, 0, 0};
  for (const Slot& x : slots_) {
    if (x.replica == r) s = x;
  }
  if (by > 0) {
    s.p += by;
  } else {
    s.n -= by;
  }
  JoinSlot(s);
  if (delta) delta->JoinSlot(s);
}

void ScoreCounter::ResetInto(ScoreCounter* delta) {
  // Every slot goes into the delta, cancelled or not: a receiver may not have seen the
  // earlier ZREM or ZADD that cancelled it (effects are not delivered causally), and this
  // reset observed that cancellation.
  for (Slot& s : slots_) {
    s.bp = s.p;
    s.bn = s.n;
    if (delta) delta->JoinSlot(s);
  }
}

void ScoreCounter::Merge(const ScoreCounter& other) {
  for (const Slot& s : other.slots_) JoinSlot(s);
}

double ScoreCounter::Value() const {
  double v = 0;
  for (const Slot& s : slots_) v += Term(s.p, s.bp) - Term(s.n, s.bn);
  return v;
}

bool ScoreCounter::Live() const {
  for (const Slot& s : slots_) {
    if (s.p != s.bp || s.n != s.bn) return true;
  }
  return false;
}

void ScoreCounter::Encode(Encoder* enc) const {
  enc->PutVarint(slots_.size());
  for (const Slot& s : slots_) {
    enc->PutVarint(s.replica);
    PutDouble(enc, s.p);
    PutDouble(enc, s.n);
    PutDouble(enc, s.bp);
    PutDouble(enc, s.bn);
  }
}

bool ScoreCounter::Decode(Decoder* dec) {
  slots_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 5)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Slot s{};
    if (!dec->GetVarint32(&s.replica) || !GetDouble(dec, &s.p) || !GetDouble(dec, &s.n) ||
        !GetDouble(dec, &s.bp) || !GetDouble(dec, &s.bn)) {
      return false;
    }
    if (!(s.p >= 0 && s.n >= 0 && s.bp >= 0 && s.bn >= 0 && s.bp <= s.p && s.bn <= s.n)) {
      return dec->Fail("counter slot out of range");
    }
    if (!slots_.empty() && !(slots_.back().replica < s.replica)) {
      return dec->Fail("counter slots not sorted");
    }
    slots_.push_back(s);
  }
  return true;
}

// ---- ScoreRegister ----

void ScoreRegister::Assign(ReplicaId r, int64_t timestamp_us, double score, CausalContext* cc,
                           ScoreRegister* delta, CausalContext* delta_cc) {
  register_rule::Assign<&Write::score>(&writes_, r, timestamp_us, score, cc,
                                       delta ? &delta->writes_ : nullptr, delta_cc);
}

bool ScoreRegister::Clear(ScoreRegister* delta, CausalContext* delta_cc) {
  return register_rule::Clear(&writes_, delta ? &delta->writes_ : nullptr, delta_cc);
}

void ScoreRegister::Join(const ScoreRegister& other, const CausalContext& my_cc,
                         const CausalContext& other_cc) {
  register_rule::Join(&writes_, other.writes_, my_cc, other_cc);
}

void ScoreRegister::Encode(Encoder* enc) const {  // RegisterStore::Encode's bytes
  enc->PutVarint(writes_.size());
  for (const Write& w : writes_) {
    enc->PutDot(w.dot);
    enc->PutSigned(w.timestamp_us);
    PutScoreBytes(enc, w.score);
  }
}

bool ScoreRegister::Decode(Decoder* dec) {
  writes_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 4)) return false;
  bool bad_score = false;  // reported after the whole register, as RegisterStore's reader did
  for (uint64_t i = 0; i < n; ++i) {
    Write w{};
    std::string_view v;
    if (!dec->GetDot(&w.dot) || !dec->GetSigned(&w.timestamp_us) || !dec->GetBytes(&v)) {
      return false;
    }
    if (!writes_.empty() && !(writes_.back().dot < w.dot)) {
      return dec->Fail("register writes not sorted");
    }
    if (v.size() != 8 || std::isnan(ScoreOfBytes(v))) {
      bad_score = true;
    } else {
      w.score = ScoreOfBytes(v);
    }
    writes_.push_back(w);
  }
  if (bad_score) return dec->Fail("sorted set score is not 8 bytes of a number");
  return true;
}

// ---- ZsetMember ----

ZsetMember::ZsetMember(const ZsetMember& o)
    : base(o.base),
      incr(o.HasIncr() ? std::make_unique<ScoreCounter>(*o.incr) : nullptr),
      present(o.present),
      score(o.score) {}

ZsetMember& ZsetMember::operator=(const ZsetMember& o) {
  if (this != &o) *this = ZsetMember(o);
  return *this;
}

ScoreCounter* ZsetMember::Incr() {
  if (!incr) incr = std::make_unique<ScoreCounter>();
  return incr.get();
}

void ZsetMember::ResetIncr(ZsetMember* delta) {
  if (!HasIncr()) return;
  incr->ResetInto(delta ? delta->Incr() : nullptr);
}

bool ZsetMember::SameState(const ZsetMember& o) const {
  if (!(base == o.base)) return false;
  if (HasIncr() != o.HasIncr()) return false;
  return !HasIncr() || *incr == *o.incr;
}

bool ZsetMember::Refresh() {
  const ScoreRegister::Write* w = base.Winner();
  const bool live = incr && incr->Live();
  const bool now_present = w != nullptr || live;
  double now_score = 0;
  if (now_present) {
    now_score = w ? w->score : 0;
    if (live) now_score += incr->Value();
    if (std::isnan(now_score)) now_score = 0;
    if (now_score == 0) now_score = 0;  // -0 reads as 0
  }
  const bool changed = now_present != present || (now_present && now_score != score);
  present = now_present;
  score = now_present ? now_score : 0;
  return changed;
}

// ---- ZsetStore ----

ZsetStore::Table::~Table() {
  index.clear();  // before the names its items point at
  for (size_t i = 0; i < used; ++i) At(i).~Entry();
  for (Entry* c : chunk) ::operator delete(c);
}

void ZsetStore::CopyFrom(const ZsetStore& other) {
  t_.reset();
  if (!other.t_) return;
  for (size_t i = 0; i < other.t_->used; ++i) {
    const Entry& o = other.t_->At(i);
    if (o.v.hole) continue;
    Entry& e = At(FindOrAdd(o.name));
    e.v = o.v;
    if (e.v.present) t_->index.insert(Item{e.v.score, &e.name});
  }
}

ZsetStore::ZsetStore(const ZsetStore& other) { CopyFrom(other); }

ZsetStore& ZsetStore::operator=(const ZsetStore& other) {
  if (this != &other) CopyFrom(other);
  return *this;
}

// Entries never move: the index stays valid with the table.
ZsetStore::ZsetStore(ZsetStore&& other) noexcept : t_(std::move(other.t_)) {}

ZsetStore& ZsetStore::operator=(ZsetStore&& other) noexcept {
  if (this != &other) t_ = std::move(other.t_);
  return *this;
}

const ZsetStore::Index& ZsetStore::EmptyIndex() {
  static const Index* const kEmpty = new Index();
  return *kEmpty;
}

int64_t ZsetStore::Find(std::string_view member, uint32_t h) const {
  if (!t_) return -1;
  const Table& t = *t_;
  if (t.hash.size() == 0) {
    for (size_t i = 0; i < t.used; ++i) {
      const Entry& e = t.At(i);
      if (!e.v.hole && SameBytes(e.name, member)) return static_cast<int64_t>(i);
    }
    return -1;
  }
  return t.hash.Find(h, [&](size_t i) { return SameBytes(t.At(i).name, member); });
}

size_t ZsetStore::FindOrAdd(std::string_view member, uint32_t h) {
  size_t slot = FlatIndex::kNoSlot;  // where the hash index's probe for h stopped
  if (t_ && t_->hash.size() > 0) {
    const Table& ct = *t_;
    const int64_t found = ct.hash.FindOrSlot(
        h, [&](size_t i) { return SameBytes(ct.At(i).name, member); }, &slot);
    if (found >= 0) return static_cast<size_t>(found);
  } else {
    const int64_t found = Find(member, h);
    if (found >= 0) return static_cast<size_t>(found);
  }
  if (!t_) t_ = std::make_unique<Table>();
  Table& t = *t_;
  size_t i;
  if (t.free != 0) {  // reuse a hole
    i = t.free - 1;
    Entry& e = t.At(i);
    t.free = e.v.next_hole;
    e.v.hole = false;
    e.v.next_hole = 0;
    e.name.assign(member.data(), member.size());
    --t.holes;
  } else {
    i = t.used;
    if (i == UINT32_MAX - 1) std::abort();  // 2^32 - 1 members in one sorted set
    size_t c, off;
    Table::Locate(i, &c, &off);
    if (c == t.chunk.size()) {  // the first entry of a chunk not yet allocated
      const size_t bytes = sizeof(Entry) * Table::ChunkSize(c);
      t.chunk.push_back(static_cast<Entry*>(::operator new(bytes)));
      // A full-size chunk (458 KB) will be written entry after entry: fault its pages in
      // with one system call, not one trap per page (bench/RESULTS.md, zset3m).
      if (c >= Table::kDoublings) PrefaultForWrite(t.chunk.back(), bytes);
    }
    new (&t.chunk[c][off]) Entry{std::string(member), ZsetMember()};  // built in place
    ++t.used;
  }
  const size_t n = t.used - t.holes;
  if (t.hash.size() > 0) {
    t.hash.InsertAt(slot, h, i);   // nothing changed the hash index since the probe
  } else if (n > Table::kSmall) {  // index every entry, i included
    for (size_t k = 0; k < t.used; ++k) {
      const Entry& e = t.At(k);
      if (!e.v.hole) t.hash.Insert(HashOf(e.name), k);
    }
  }
  return i;
}

void ZsetStore::Drop(size_t i) {
  Table& t = *t_;
  Entry& e = t.At(i);
  if (t.hash.size() > 0) t.hash.Erase(HashOf(e.name), i);
  if (t.used - t.holes == 1) {
    t_.reset();  // the last member: start afresh
    return;
  }
  if (i + 1 == t.used) {
    e.~Entry();  // the last entry: no hole needed
    --t.used;
    return;
  }
  e.name = std::string();
  e.v = ZsetMember();
  e.v.hole = true;
  e.v.next_hole = static_cast<uint32_t>(t.free);  // at most 2^32 - 1 entries
  t.free = i + 1;
  ++t.holes;
}

std::optional<double> ZsetStore::Score(std::string_view member) const {
  const int64_t i = Find(member);
  if (i < 0 || !t_->At(i).v.present) return std::nullopt;
  return t_->At(i).v.score;
}

size_t ZsetStore::Rank(std::string_view member) const {
  const Entry& e = t_->At(Find(member));
  return t_->index.order_of_key(Item{e.v.score, &e.name});
}

void ZsetStore::Reindex(Entry& e, bool was_present, double was_score, const Index::Hint* hint) {
  if (!e.v.Refresh() && was_present == e.v.present) return;
  Place(e, was_present, was_score, hint);
}

void ZsetStore::Place(Entry& e, bool was_present, double was_score, const Index::Hint* hint) {
  const ZsetMember& v = e.v;
  if (was_present) t_->index.erase(Item{was_score, &e.name});  // makes the hint stale
  if (!v.present) return;
  if (hint) {
    t_->index.insert(Item{v.score, &e.name}, *hint);
  } else {
    t_->index.insert(Item{v.score, &e.name});
  }
}

bool ZsetStore::Add(std::string_view member, double score, ReplicaId r, int64_t timestamp_us,
                    CausalContext* cc, ZsetStore* delta, CausalContext* delta_cc) {
  const uint32_t h = HashOf(member);
  Index::Hint hint;
  if (t_) {
    // At 1M members the hash slot and the B+-tree leaf are both cache misses: start both
    // loads before the work that waits for the first. The leaf found is where the insert
    // starts (a member's name is not in the table yet, so the walk uses the first name).
    static const std::string kFirst;  // sorts first among members of one score
    t_->hash.Prefetch(h);
    t_->index.Locate(Item{score, &kFirst}, &hint);
  }
  Entry& e = At(FindOrAdd(member, h));
  ZsetMember& v = e.v;
  const bool was_present = v.present;
  const double was_score = v.score;
  Entry* d = delta ? &delta->At(delta->FindOrAdd(member)) : nullptr;
  v.base.Assign(r, timestamp_us, score, cc, d ? &d->v.base : nullptr, delta_cc);
  if (v.incr == nullptr) {
    // Refresh's result, known here: the register holds this one write and there is no
    // counter, so the member is present with this score (NaN and -0 read as 0).
    v.present = true;
    v.score = std::isnan(score) || score == 0 ? 0 : score;
    if (!was_present || v.score != was_score) Place(e, was_present, was_score, &hint);
  } else {
    v.ResetIncr(d ? &d->v : nullptr);
    Reindex(e, was_present, was_score, &hint);
  }
  if (d) delta->Reindex(*d, d->v.present, d->v.score);
  return !was_present;
}

double ZsetStore::IncrBy(std::string_view member, double by, ReplicaId r, ZsetStore* delta) {
  Entry& e = At(FindOrAdd(member));
  ZsetMember& v = e.v;
  const bool was_present = v.present;
  const double was_score = v.score;
  Entry* d = delta ? &delta->At(delta->FindOrAdd(member)) : nullptr;
  if (by != 0) v.Incr()->Add(r, by, d ? d->v.Incr() : nullptr);
  Reindex(e, was_present, was_score);
  if (d) delta->Reindex(*d, d->v.present, d->v.score);
  return v.score;
}

bool ZsetStore::Remove(std::string_view member, ZsetStore* delta, CausalContext* delta_cc) {
  const int64_t i = Find(member);
  if (i < 0 || !t_->At(i).v.present) return false;
  Entry& e = t_->At(i);
  ZsetMember& v = e.v;
  const double was_score = v.score;
  Entry* d = delta ? &delta->At(delta->FindOrAdd(member)) : nullptr;
  v.base.Clear(d ? &d->v.base : nullptr, delta_cc);
  v.ResetIncr(d ? &d->v : nullptr);
  Reindex(e, true, was_score);
  if (d) delta->Reindex(*d, d->v.present, d->v.score);
  if (v.Empty()) Drop(static_cast<size_t>(i));
  return true;
}

size_t ZsetStore::Clear(ZsetStore* delta, CausalContext* delta_cc) {
  std::vector<std::string> present;
  present.reserve(size());
  for (const Item& item : index()) present.push_back(*item.member);
  for (const std::string& m : present) Remove(m, delta, delta_cc);
  return present.size();
}

void ZsetStore::JoinMember(std::string_view member, const ZsetMember& other,
                           const CausalContext& my_cc, const CausalContext& other_cc,
                           bool keep_empty) {
  const size_t i = FindOrAdd(member);
  Entry& e = t_->At(i);
  ZsetMember& v = e.v;
  const bool was_present = v.present;
  const double was_score = v.score;
  v.base.Join(other.base, my_cc, other_cc);
  if (other.HasIncr()) v.Incr()->Merge(*other.incr);
  Reindex(e, was_present, was_score);
  if (v.Empty() && !keep_empty) Drop(i);
}

void ZsetStore::Join(const ZsetStore& other, const CausalContext& my_cc,
                     const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  if (other.t_) {
    for (size_t i = 0; i < other.t_->used; ++i) {
      const Entry& o = other.t_->At(i);
      if (!o.v.hole) JoinMember(o.name, o.v, my_cc, other_cc, keep_empty);
    }
  }
  if (other_complete || !t_) return;
  // A full state: members only we hold lose the writes the other side observed.
  static const ZsetMember kEmpty{};
  std::vector<std::string> mine;
  for (size_t i = 0; i < t_->used; ++i) {
    const Entry& e = t_->At(i);
    if (!e.v.hole && other.Find(e.name) < 0) mine.push_back(e.name);
  }
  for (const std::string& m : mine) JoinMember(m, kEmpty, my_cc, other_cc, keep_empty);
}

size_t ZsetStore::MemoryBytes() const {
  if (!t_) return 0;
  const Table& t = *t_;
  size_t n = sizeof(Table) + t.hash.MemoryBytes() + t.index.MemoryBytes() +
             t.chunk.capacity() * sizeof(Entry*);
  for (size_t c = 0; c < t.chunk.size(); ++c) n += sizeof(Entry) * Table::ChunkSize(c);
  for (size_t i = 0; i < t.used; ++i) {
    const Entry& e = t.At(i);
    n += e.name.capacity() > 15 ? e.name.capacity() + 1 : 0;
    n += e.v.base.HeapBytes();
    if (e.v.incr) n += sizeof(ScoreCounter) + e.v.incr->HeapBytes();
  }
  return n;
}

void ZsetStore::Encode(Encoder* enc) const {
  std::vector<const Entry*> order;
  if (t_) {
    order.reserve(t_->used - t_->holes);
    for (size_t i = 0; i < t_->used; ++i) {
      if (!t_->At(i).v.hole) order.push_back(&t_->At(i));
    }
  }
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });
  enc->PutVarint(order.size());
  for (const Entry* e : order) {
    enc->PutBytes(e->name);
    e->v.base.Encode(enc);
    if (e->v.incr) {
      e->v.incr->Encode(enc);
    } else {
      ScoreCounter().Encode(enc);  // an empty counter's bytes
    }
  }
}

bool ZsetStore::Decode(Decoder* dec) {
  t_.reset();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 3)) return false;
  std::string_view prev;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view m;
    if (!dec->GetBytes(&m)) return false;
    if (i > 0 && !(prev < m)) return dec->Fail("sorted set members not sorted");
    prev = m;
    ZsetMember v;
    ScoreCounter incr;
    if (!v.base.Decode(dec) || !incr.Decode(dec)) return false;
    if (!incr.empty()) v.incr = std::make_unique<ScoreCounter>(std::move(incr));
    v.Refresh();
    Entry& e = At(FindOrAdd(m));
    e.v = std::move(v);
    if (e.v.present) t_->index.insert(Item{e.v.score, &e.name});
  }
  return true;
}

bool operator==(const ZsetStore& a, const ZsetStore& b) {
  auto non_empty = [](const ZsetStore& z) {
    size_t n = 0;
    for (size_t i = 0; z.t_ && i < z.t_->used; ++i) n += z.t_->At(i).v.Empty() ? 0 : 1;
    return n;
  };
  if (non_empty(a) != non_empty(b)) return false;
  for (size_t i = 0; a.t_ && i < a.t_->used; ++i) {
    const ZsetStore::Entry& e = a.t_->At(i);
    if (e.v.Empty()) continue;  // holes too
    const int64_t j = b.Find(e.name);
    if (j < 0) return false;
    const ZsetMember& o = b.t_->At(j).v;
    if (!e.v.SameState(o)) return false;
  }
  return true;
}

// ---- text ----

std::string FormatScore(double score) {
  if (std::isinf(score)) return score > 0 ? "inf" : "-inf";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%.17g", score);
  return std::string(buf, static_cast<size_t>(n));
}

bool ParseScore(std::string_view text, double* out) {
  if (text.empty() || text.size() > 400) return false;
  std::string s(text);  // strtod needs a terminator
  if (std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) return false;
  if (std::isnan(v)) return false;
  *out = v == 0 ? 0 : v;
  return true;
}

}  // namespace crdt
