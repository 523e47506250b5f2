#include "crdt/zset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace crdt {

namespace {

std::string ScoreBytes(double score) {
  uint64_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
  return out;
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

// ---- ZsetMember ----

bool ZsetMember::Refresh() {
  const RegisterStore::Write* w = base.Winner();
  const bool live = incr.Live();
  const bool now_present = w != nullptr || live;
  double now_score = 0;
  if (now_present) {
    now_score = w ? ScoreOfBytes(w->value) : 0;
    if (live) now_score += incr.Value();
    if (std::isnan(now_score)) now_score = 0;
    if (now_score == 0) now_score = 0;  // -0 reads as 0
  }
  const bool changed = now_present != present || (now_present && now_score != score);
  present = now_present;
  score = now_present ? now_score : 0;
  return changed;
}

// ---- ZsetStore ----

ZsetStore::ZsetStore(const ZsetStore& other) : members_(other.members_) { RebuildIndex(); }

ZsetStore& ZsetStore::operator=(const ZsetStore& other) {
  if (this != &other) {
    members_ = other.members_;
    RebuildIndex();
  }
  return *this;
}

ZsetStore::ZsetStore(ZsetStore&& other) noexcept {
  members_.swap(other.members_);  // nodes keep their addresses: the index stays valid
  index_.swap(other.index_);
}

ZsetStore::Index& ZsetStore::MutableIndex() {
  if (!index_) index_ = std::make_unique<Index>();
  return *index_;
}

const ZsetStore::Index& ZsetStore::EmptyIndex() {
  static const Index* const kEmpty = new Index();
  return *kEmpty;
}

ZsetStore& ZsetStore::operator=(ZsetStore&& other) noexcept {
  if (this != &other) {
    members_.swap(other.members_);
    index_.swap(other.index_);
    other.members_.clear();
    other.index_.reset();
  }
  return *this;
}

void ZsetStore::RebuildIndex() {
  index_.reset();
  for (const auto& [m, v] : members_) {
    if (v.present) MutableIndex().insert(Item{v.score, &m});
  }
}

std::optional<double> ZsetStore::Score(std::string_view member) const {
  auto it = members_.find(member);
  if (it == members_.end() || !it->second.present) return std::nullopt;
  return it->second.score;
}

size_t ZsetStore::Rank(std::string_view member) const {
  auto it = members_.find(member);
  return index_->order_of_key(Item{it->second.score, &it->first});
}

ZsetStore::Members::iterator ZsetStore::FindOrAdd(std::string_view member) {
  // A name that fits a std::string's inline buffer costs no allocation to build: then hash
  // and probe once.
  static const size_t kInline = std::string().capacity();
  if (member.size() <= kInline) return members_.try_emplace(std::string(member)).first;
  auto it = members_.find(member);
  if (it == members_.end()) it = members_.emplace(std::string(member), ZsetMember()).first;
  return it;
}

void ZsetStore::Reindex(Members::iterator it, bool was_present, double was_score) {
  ZsetMember& v = it->second;
  if (!v.Refresh() && was_present == v.present) return;
  if (was_present) index_->erase(Item{was_score, &it->first});
  if (v.present) MutableIndex().insert(Item{v.score, &it->first});
}

void ZsetStore::Drop(Members::iterator it) { members_.erase(it); }

bool ZsetStore::Add(std::string_view member, double score, ReplicaId r, int64_t timestamp_us,
                    CausalContext* cc, ZsetStore* delta, CausalContext* delta_cc) {
  auto it = FindOrAdd(member);
  ZsetMember& v = it->second;
  const bool was_present = v.present;
  const double was_score = v.score;
  ZsetMember* d = delta ? &delta->FindOrAdd(member)->second : nullptr;
  v.base.Assign(r, timestamp_us, ScoreBytes(score), cc, d ? &d->base : nullptr, delta_cc);
  v.incr.ResetInto(d ? &d->incr : nullptr);
  Reindex(it, was_present, was_score);
  if (d) delta->Reindex(delta->members_.find(member), d->present, d->score);
  return !was_present;
}

double ZsetStore::IncrBy(std::string_view member, double by, ReplicaId r, ZsetStore* delta) {
  auto it = FindOrAdd(member);
  ZsetMember& v = it->second;
  const bool was_present = v.present;
  const double was_score = v.score;
  ZsetMember* d = delta ? &delta->FindOrAdd(member)->second : nullptr;
  v.incr.Add(r, by, d ? &d->incr : nullptr);
  Reindex(it, was_present, was_score);
  if (d) delta->Reindex(delta->members_.find(member), d->present, d->score);
  return v.score;
}

bool ZsetStore::Remove(std::string_view member, ZsetStore* delta, CausalContext* delta_cc) {
  auto it = members_.find(member);
  if (it == members_.end() || !it->second.present) return false;
  ZsetMember& v = it->second;
  const double was_score = v.score;
  ZsetMember* d = delta ? &delta->FindOrAdd(member)->second : nullptr;
  v.base.Clear(d ? &d->base : nullptr, delta_cc);
  v.incr.ResetInto(d ? &d->incr : nullptr);
  Reindex(it, true, was_score);
  if (d) delta->Reindex(delta->members_.find(member), d->present, d->score);
  if (v.Empty()) Drop(it);
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
  auto it = FindOrAdd(member);
  ZsetMember& v = it->second;
  const bool was_present = v.present;
  const double was_score = v.score;
  v.base.Join(other.base, my_cc, other_cc);
  v.incr.Merge(other.incr);
  Reindex(it, was_present, was_score);
  if (v.Empty() && !keep_empty) Drop(it);
}

void ZsetStore::Join(const ZsetStore& other, const CausalContext& my_cc,
                     const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  for (const auto& [m, v] : other.members_) JoinMember(m, v, my_cc, other_cc, keep_empty);
  if (other_complete) return;
  // A full state: members only we hold lose the writes the other side observed.
  static const ZsetMember kEmpty{};
  std::vector<std::string> mine;
  for (const auto& [m, v] : members_) {
    if (other.members_.find(m) == other.members_.end()) mine.push_back(m);
  }
  for (const std::string& m : mine) JoinMember(m, kEmpty, my_cc, other_cc, keep_empty);
}

size_t ZsetStore::MemoryBytes() const {
  // Hash node (key, member, next, cached hash) + bucket, and the index's nodes.
  size_t n = members_.bucket_count() * sizeof(void*);
  for (const auto& [m, v] : members_) {
    n += sizeof(std::string) + sizeof(ZsetMember) + 2 * sizeof(void*);
    n += m.capacity() > 15 ? m.capacity() + 1 : 0;
    n += v.base.HeapBytes() + v.incr.HeapBytes();
  }
  if (index_) n += sizeof(Index) + index_->MemoryBytes();
  return n;
}

void ZsetStore::Encode(Encoder* enc) const {
  std::vector<const std::pair<const std::string, ZsetMember>*> order;
  order.reserve(members_.size());
  for (const auto& kv : members_) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  enc->PutVarint(order.size());
  for (const auto* kv : order) {
    enc->PutBytes(kv->first);
    kv->second.base.Encode(enc);
    kv->second.incr.Encode(enc);
  }
}

bool ZsetStore::Decode(Decoder* dec) {
  members_.clear();
  index_.reset();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 3)) return false;
  std::string prev;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view m;
    if (!dec->GetBytes(&m)) return false;
    if (i > 0 && !(prev < m)) return dec->Fail("sorted set members not sorted");
    ZsetMember v;
    if (!v.base.Decode(dec) || !v.incr.Decode(dec)) return false;
    for (const auto& w : v.base.writes()) {
      if (w.value.size() != 8 || std::isnan(ScoreOfBytes(w.value))) {
        return dec->Fail("sorted set score is not 8 bytes of a number");
      }
    }
    prev.assign(m.data(), m.size());
    v.Refresh();
    auto it = members_.emplace(prev, std::move(v)).first;
    if (it->second.present) MutableIndex().insert(Item{it->second.score, &it->first});
  }
  return true;
}

bool operator==(const ZsetStore& a, const ZsetStore& b) {
  auto non_empty = [](const ZsetStore& z) {
    size_t n = 0;
    for (const auto& [m, v] : z.members_) n += v.Empty() ? 0 : 1;
    return n;
  };
  if (non_empty(a) != non_empty(b)) return false;
  for (const auto& [m, v] : a.members_) {
    if (v.Empty()) continue;
    auto it = b.members_.find(m);
    if (it == b.members_.end() || !(v.base == it->second.base) || !(v.incr == it->second.incr)) {
      return false;
    }
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
