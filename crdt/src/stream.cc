#include "crdt/stream.h"

#include <algorithm>
#include <limits>

namespace crdt {

const char* StreamIdModeName(StreamIdMode mode) {
  switch (mode) {
    case StreamIdMode::kSemiStrict:
      return "semi-strict";
    case StreamIdMode::kLiberal:
      return "liberal";
    case StreamIdMode::kStrict:
      break;
  }
  return "strict";
}

std::optional<StreamIdMode> ParseStreamIdMode(std::string_view text) {
  if (text == "strict") return StreamIdMode::kStrict;
  if (text == "semi-strict") return StreamIdMode::kSemiStrict;
  if (text == "liberal") return StreamIdMode::kLiberal;
  return std::nullopt;
}

std::optional<StreamId> StrictStreamId(uint64_t ms, StreamId last, uint16_t site, uint32_t stride) {
  const uint64_t first = uint64_t{site} + 1;
  if (ms > last.ms) return StreamId{ms, first};
  if (ms < last.ms) return std::nullopt;
  if (last.seq < first) return StreamId{ms, first};
  // The smallest first + k * stride above last.seq.
  const uint64_t k = (last.seq - first) / stride + 1;
  if (k > (std::numeric_limits<uint64_t>::max() - first) / stride) return std::nullopt;
  return StreamId{ms, first + k * stride};
}

// ---- MaxVector ----

uint64_t MaxVector::Get(ReplicaId r) const {
  auto it = std::lower_bound(v_.begin(), v_.end(), r,
                             [](const Dot& d, ReplicaId x) { return d.replica < x; });
  return it != v_.end() && it->replica == r ? it->counter : 0;
}

void MaxVector::Raise(ReplicaId r, uint64_t counter) {
  if (counter == 0) return;
  auto it = std::lower_bound(v_.begin(), v_.end(), r,
                             [](const Dot& d, ReplicaId x) { return d.replica < x; });
  if (it != v_.end() && it->replica == r) {
    it->counter = std::max(it->counter, counter);
  } else {
    v_.insert(it, Dot{r, counter});
  }
}

void MaxVector::Join(const MaxVector& other) {
  for (const Dot& d : other.v_) Raise(d.replica, d.counter);
}

bool MaxVector::Covers(const MaxVector& other) const {
  for (const Dot& d : other.v_) {
    if (Get(d.replica) < d.counter) return false;
  }
  return true;
}

MaxVector MaxVector::Of(const CausalContext& cc) {
  MaxVector out;
  for (const auto& e : cc.vector()) out.v_.push_back(Dot{e.replica, e.max});
  return out;
}

void MaxVector::Encode(Encoder* enc) const {
  enc->PutVarint(v_.size());
  for (const Dot& d : v_) enc->PutDot(d);
}

bool MaxVector::Decode(Decoder* dec) {
  v_.clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 2)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Dot d;
    if (!dec->GetDot(&d)) return false;
    if (!v_.empty() && !(v_.back().replica < d.replica)) {
      return dec->Fail("version vector not sorted");
    }
    v_.push_back(d);
  }
  return true;
}

// ---- StreamStore ----

namespace {

// The dot of an item of each dot map.
const Dot& DotOf(const StreamStore::Key& k) { return k.second; }
const Dot& DotOf(const Dot& d) { return d; }

// A removed item of a delta: the key only.
template <typename V>
V RemovedItem() {
  V v{};
  v.removed = true;
  return v;
}

// Live-item counts: the entries and markers of a store are counted as they change (a
// recount per XADD made appending to a stream of n entries cost O(n)). A null count is
// not kept (the maps of a group).
void CountLive(size_t* live, bool was_live, bool is_live) {
  if (live == nullptr || was_live == is_live) return;
  if (is_live) {
    ++*live;
  } else {
    --*live;
  }
}

// Sets (*m)[k] = v, keeping *live, the number of m's items that are not removed.
template <typename K, typename V, typename C>
void PutItem(std::map<K, V, C>* m, const K& k, V v, size_t* live) {
  auto [it, fresh] = m->try_emplace(k);
  CountLive(live, !fresh && !it->second.removed, !v.removed);
  it->second = std::move(v);
}

// The join of two dot maps whose items are immutable per dot (Almeida et al. 2018, the
// DotFun join), with a delta's removed items: an item survives if both sides hold it, or
// if one holds it and the other has not observed its dot. keep_empty keeps removed items.
// O(|other|) for a complete (delta) other, O(|mine| + |other|) otherwise.
template <typename K, typename V, typename C>
void JoinDots(std::map<K, V, C>* mine, const std::map<K, V, C>& other, const CausalContext& my_cc,
              const CausalContext& other_cc, bool other_complete, bool keep_empty,
              size_t* live = nullptr) {
  for (const auto& [k, ov] : other) {
    auto it = mine->find(k);
    if (ov.removed) {
      if (it != mine->end()) {
        CountLive(live, !it->second.removed, false);
        if (keep_empty) {
          it->second = RemovedItem<V>();
        } else {
          mine->erase(it);
        }
      } else if (keep_empty) {
        mine->emplace(k, RemovedItem<V>());
      }
      continue;
    }
    if (it == mine->end() && !my_cc.Contains(DotOf(k))) {
      mine->emplace(k, ov);
      CountLive(live, false, true);
    }
  }
  if (other_complete) return;
  for (auto it = mine->begin(); it != mine->end();) {
    if (!it->second.removed && other.find(it->first) == other.end() &&
        other_cc.Contains(DotOf(it->first))) {
      CountLive(live, true, false);
      if (keep_empty) {
        it->second = RemovedItem<V>();
      } else {
        it = mine->erase(it);
        continue;
      }
    }
    ++it;
  }
}

// Removes every live item of `m` (all observed), recording them into *delta / *delta_cc;
// *live (m's count) becomes 0, *delta_live follows *delta.
template <typename K, typename V, typename C>
void RemoveAll(std::map<K, V, C>* m, size_t* live, std::map<K, V, C>* delta, size_t* delta_live,
               CausalContext* delta_cc) {
  for (const auto& [k, v] : *m) {
    if (v.removed) continue;
    if (delta) PutItem(delta, k, RemovedItem<V>(), delta_live);
    if (delta_cc) delta_cc->Add(DotOf(k));
  }
  m->clear();
  *live = 0;
}

void PutId(Encoder* enc, const StreamId& id) {
  enc->PutVarint(id.ms);
  enc->PutVarint(id.seq);
}

bool GetId(Decoder* dec, StreamId* id) {
  return dec->GetVarint(&id->ms) && dec->GetVarint(&id->seq);
}

bool GetRemoved(Decoder* dec, bool* removed) {
  uint8_t b = 0;
  if (!dec->GetByte(&b)) return false;
  if (b > 1) return dec->Fail("bad stream item flag");
  *removed = b == 1;
  return true;
}

void PutPositions(Encoder* enc, const StreamStore::Positions& p) {
  enc->PutVarint(p.size());
  for (const auto& [r, id] : p) {
    enc->PutVarint(r);
    PutId(enc, id);
  }
}

bool GetPositions(Decoder* dec, StreamStore::Positions* p) {
  p->clear();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 3)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    ReplicaId r = 0;
    StreamId id;
    if (!dec->GetVarint32(&r) || !GetId(dec, &id)) return false;
    if (!p->empty() && !(p->rbegin()->first < r)) return dec->Fail("positions not sorted");
    p->emplace(r, id);
  }
  return true;
}

void RaiseAll(StreamStore::Positions* into, const StreamStore::Positions& from) {
  for (const auto& [r, id] : from) {
    StreamId& mine = (*into)[r];
    mine = std::max(mine, id);
  }
}

}  // namespace

StreamId StreamStore::LastId() const {
  StreamId top;
  for (const auto& [d, m] : markers_) {
    if (!m.removed) top = std::max(top, m.top);
  }
  return top;
}

const StreamStore::Fields* StreamStore::Find(const Key& k) const {
  auto it = entries_.find(k);
  return it == entries_.end() || it->second.removed ? nullptr : &it->second.fields;
}

const StreamStore::Group* StreamStore::LiveGroup(std::string_view name) const {
  auto it = groups_.find(name);
  if (it == groups_.end()) return nullptr;
  for (const auto& [d, a] : it->second.adds) {
    if (!a.removed && !Dead(it->second, a.seen)) return &it->second;
  }
  return nullptr;
}

std::vector<std::string> StreamStore::Groups() const {
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_) {
    if (LiveGroup(name)) out.push_back(name);
  }
  return out;
}

bool StreamStore::HasGroup(std::string_view name) const { return LiveGroup(name) != nullptr; }

StreamId StreamStore::GroupStart(std::string_view name) const {
  const Group* g = LiveGroup(name);
  std::optional<StreamId> start;
  for (const auto& [d, a] : g->adds) {
    if (!a.removed && !Dead(*g, a.seen) && (!start || a.start < *start)) start = a.start;
  }
  return start.value_or(StreamId{});
}

Dot StreamStore::GroupCreation(std::string_view name) const {
  const Group* g = LiveGroup(name);
  Dot best;
  for (const auto& [d, a] : g->adds) {
    if (!a.removed && !Dead(*g, a.seen)) best = std::max(best, d);
  }
  return best;
}

StreamStore::Positions StreamStore::GroupFrontier(std::string_view name) const {
  Positions out;
  const Group* g = LiveGroup(name);
  if (g == nullptr) return out;
  for (const auto& [d, rec] : g->records) {
    if (!rec.removed && !Dead(*g, rec.seen)) RaiseAll(&out, rec.acked);
  }
  return out;
}

void StreamStore::Add(StreamId id, Fields fields, ReplicaId r, CausalContext* cc,
                      StreamStore* delta, CausalContext* delta_cc) {
  RemoveAll(&markers_, &live_markers_, delta ? &delta->markers_ : nullptr,
            delta ? &delta->live_markers_ : nullptr, delta_cc);
  // Two events: the entry and the marker. They must not share a dot: a later XADD that
  // replaces the marker puts its dot in its delta's context, which would also remove the
  // entry from a region that had not received it yet.
  const Dot d = cc->Next(r);
  const Dot m = cc->Next(r);
  if (delta) {
    PutItem(&delta->entries_, Key{id, d}, EntryItem{false, fields}, &delta->live_entries_);
    PutItem(&delta->markers_, m, Marker{false, id}, &delta->live_markers_);
    delta_cc->Add(d);
    delta_cc->Add(m);
  }
  PutItem(&entries_, Key{id, d}, EntryItem{false, std::move(fields)}, &live_entries_);
  PutItem(&markers_, m, Marker{false, id}, &live_markers_);
  Normalize(false);
  if (delta) delta->Normalize(true);
}

void StreamStore::MakeExist(ReplicaId r, CausalContext* cc, StreamStore* delta,
                            CausalContext* delta_cc) {
  const StreamId top = LastId();
  RemoveAll(&markers_, &live_markers_, delta ? &delta->markers_ : nullptr,
            delta ? &delta->live_markers_ : nullptr, delta_cc);
  const Dot d = cc->Next(r);
  PutItem(&markers_, d, Marker{false, top}, &live_markers_);
  if (delta) {
    PutItem(&delta->markers_, d, Marker{false, top}, &delta->live_markers_);
    delta_cc->Add(d);
    delta->Normalize(true);
  }
  Normalize(false);
}

void StreamStore::Remove(const Key& key, StreamStore* delta, CausalContext* delta_cc) {
  const Key k = key;  // `key` may live in the entry erased below
  auto it = entries_.find(k);
  if (it == entries_.end() || it->second.removed) return;
  entries_.erase(it);
  --live_entries_;
  if (delta) {
    PutItem(&delta->entries_, k, RemovedItem<EntryItem>(), &delta->live_entries_);
    delta_cc->Add(k.second);
    delta->Normalize(true);
  }
  Normalize(false);
}

void StreamStore::RemoveGroupItems(Group* g, Group* delta) {
  // The caller adds the dots to the delta's context.
  for (const auto& [d, a] : g->adds) {
    if (!a.removed && delta) delta->adds[d] = RemovedItem<Creation>();
  }
  for (const auto& [d, rec] : g->records) {
    if (!rec.removed && delta) delta->records[d] = RemovedItem<Record>();
  }
  g->adds.clear();
  g->records.clear();
}

void StreamStore::Clear(ReplicaId r, CausalContext* cc, StreamStore* delta,
                        CausalContext* delta_cc) {
  RemoveAll(&entries_, &live_entries_, delta ? &delta->entries_ : nullptr,
            delta ? &delta->live_entries_ : nullptr, delta_cc);
  RemoveAll(&markers_, &live_markers_, delta ? &delta->markers_ : nullptr,
            delta ? &delta->live_markers_ : nullptr, delta_cc);
  for (auto& [name, g] : groups_) {
    if (delta_cc) {
      for (const auto& [d, a] : g.adds) delta_cc->Add(d);
      for (const auto& [d, rec] : g.records) delta_cc->Add(d);
    }
    RemoveGroupItems(&g, delta ? &delta->groups_[name] : nullptr);
  }
  const Dot d = cc->Next(r);
  deleted_.Raise(r, d.counter);
  if (delta) {
    delta->deleted_.Raise(r, d.counter);
    delta_cc->Add(d);
    delta->Normalize(true);
  }
  Normalize(false);
}

void StreamStore::CreateGroup(std::string_view name, StreamId start, ReplicaId r, CausalContext* cc,
                              StreamStore* delta, CausalContext* delta_cc) {
  const Dot d = cc->Next(r);
  const Creation add{false, start, MaxVector::Of(*cc)};
  groups_[std::string(name)].adds[d] = add;
  if (delta) {
    delta->groups_[std::string(name)].adds[d] = add;
    delta_cc->Add(d);
    delta->Normalize(true);
  }
  Normalize(false);
}

bool StreamStore::DestroyGroup(std::string_view name, ReplicaId r, CausalContext* cc,
                               StreamStore* delta, CausalContext* delta_cc) {
  if (!HasGroup(name)) return false;
  Group& g = groups_.find(name)->second;
  Group* dg = delta ? &delta->groups_[std::string(name)] : nullptr;
  if (delta_cc) {
    for (const auto& [d, a] : g.adds) delta_cc->Add(d);
    for (const auto& [d, rec] : g.records) delta_cc->Add(d);
  }
  RemoveGroupItems(&g, dg);
  const Dot d = cc->Next(r);
  g.deleted.Raise(r, d.counter);
  if (dg) {
    dg->deleted.Raise(r, d.counter);
    delta_cc->Add(d);
    delta->Normalize(true);
  }
  Normalize(false);
  return true;
}

void StreamStore::WriteFrontier(std::string_view name, const Positions& acked, ReplicaId r,
                                CausalContext* cc, StreamStore* delta, CausalContext* delta_cc) {
  Positions merged = GroupFrontier(name);
  RaiseAll(&merged, acked);
  Group& g = groups_.find(name)->second;
  Group* dg = delta ? &delta->groups_[std::string(name)] : nullptr;
  for (const auto& [d, rec] : g.records) {
    if (rec.removed) continue;
    if (dg) dg->records[d] = RemovedItem<Record>();
    if (delta_cc) delta_cc->Add(d);
  }
  g.records.clear();
  const Dot d = cc->Next(r);
  const Record rec{false, merged, MaxVector::Of(*cc)};
  g.records[d] = rec;
  if (dg) {
    dg->records[d] = rec;
    delta_cc->Add(d);
    delta->Normalize(true);
  }
  Normalize(false);
}

StreamStore::RegionalGroup& StreamStore::Regional(std::string_view name) {
  auto it = regional_.find(name);
  if (it == regional_.end()) {
    it = regional_.emplace(std::string(name), RegionalGroup()).first;
    it->second.created_by = GroupCreation(name);
  }
  return it->second;
}

const StreamStore::RegionalGroup* StreamStore::FindRegional(std::string_view name) const {
  auto it = regional_.find(name);
  return it == regional_.end() ? nullptr : &it->second;
}

void StreamStore::Recount() {
  live_entries_ = 0;
  for (const auto& [k, e] : entries_) live_entries_ += e.removed ? 0 : 1;
  live_markers_ = 0;
  for (const auto& [d, m] : markers_) live_markers_ += m.removed ? 0 : 1;
}

void StreamStore::Normalize(bool keep_empty) {
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    std::erase_if(g.adds,
                  [&](const auto& a) { return !a.second.removed && Dead(g, a.second.seen); });
    std::erase_if(g.records,
                  [&](const auto& rec) { return !rec.second.removed && Dead(g, rec.second.seen); });
    it = (!keep_empty && g.Empty()) ? groups_.erase(it) : std::next(it);
  }
  for (auto it = regional_.begin(); it != regional_.end();) {
    const Group* g = LiveGroup(it->first);
    bool keep = false;
    if (g != nullptr) {
      auto a = g->adds.find(it->second.created_by);
      keep = a != g->adds.end() && !a->second.removed;
    }
    it = keep ? std::next(it) : regional_.erase(it);
  }
}

void StreamStore::Join(const StreamStore& other, const CausalContext& my_cc,
                       const CausalContext& other_cc, bool other_complete, bool keep_empty) {
  if (this == &other) return;
  JoinDots(&entries_, other.entries_, my_cc, other_cc, other_complete, keep_empty, &live_entries_);
  JoinDots(&markers_, other.markers_, my_cc, other_cc, other_complete, keep_empty, &live_markers_);
  deleted_.Join(other.deleted_);
  for (const auto& [name, og] : other.groups_) {
    Group& g = groups_[name];
    JoinDots(&g.adds, og.adds, my_cc, other_cc, other_complete, keep_empty);
    JoinDots(&g.records, og.records, my_cc, other_cc, other_complete, keep_empty);
    g.deleted.Join(og.deleted);
  }
  if (!other_complete) {
    static const Group kEmpty{};
    for (auto& [name, g] : groups_) {
      if (other.groups_.count(name)) continue;
      JoinDots(&g.adds, kEmpty.adds, my_cc, other_cc, false, keep_empty);
      JoinDots(&g.records, kEmpty.records, my_cc, other_cc, false, keep_empty);
    }
  }
  Normalize(keep_empty);
}

bool StreamStore::HasRemoved() const {
  for (const auto& [k, e] : entries_) {
    if (e.removed) return true;
  }
  for (const auto& [d, m] : markers_) {
    if (m.removed) return true;
  }
  for (const auto& [name, g] : groups_) {
    for (const auto& [d, a] : g.adds) {
      if (a.removed) return true;
    }
    for (const auto& [d, rec] : g.records) {
      if (rec.removed) return true;
    }
  }
  return false;
}

size_t StreamStore::HeapBytes() const {
  // Red-black tree nodes: 4 words of links and color, then the value.
  constexpr size_t kNode = 4 * sizeof(void*);
  size_t n = 0;
  for (const auto& [k, e] : entries_) {
    n += kNode + sizeof(Key) + sizeof(EntryItem);
    for (const std::string& f : e.fields) {
      n += sizeof(std::string) + (f.capacity() > 15 ? f.capacity() + 1 : 0);
    }
  }
  n += markers_.size() * (kNode + sizeof(Dot) + sizeof(Marker));
  n += deleted_.items().size() * sizeof(Dot);
  for (const auto& [name, g] : groups_) {
    n += kNode + sizeof(std::string) + sizeof(Group) + name.size();
    n += g.adds.size() * (kNode + sizeof(Dot) + sizeof(Creation));
    n += g.records.size() * (kNode + sizeof(Dot) + sizeof(Record));
  }
  return n;
}

// Layout (varints; a flag byte 0 live, 1 removed):
//   stream  := count { id dot flag [count(fields) bytes...] }       entries, key order
//              count { dot flag [id] }                               markers
//              maxvec                                                DEL
//              count { bytes(name) maxvec count { dot flag [id maxvec] }
//                                         count { dot flag [positions maxvec] } }
//   id      := varint(ms) varint(seq)
//   maxvec  := count { dot }                  sorted by replica
//   positions := count { varint(replica) id } sorted by replica
void StreamStore::Encode(Encoder* enc) const {
  enc->PutVarint(entries_.size());
  for (const auto& [k, e] : entries_) {
    PutId(enc, k.first);
    enc->PutDot(k.second);
    enc->PutByte(e.removed ? 1 : 0);
    if (e.removed) continue;
    enc->PutVarint(e.fields.size());
    for (const std::string& f : e.fields) enc->PutBytes(f);
  }
  enc->PutVarint(markers_.size());
  for (const auto& [d, m] : markers_) {
    enc->PutDot(d);
    enc->PutByte(m.removed ? 1 : 0);
    if (!m.removed) PutId(enc, m.top);
  }
  deleted_.Encode(enc);
  enc->PutVarint(groups_.size());
  for (const auto& [name, g] : groups_) {
    enc->PutBytes(name);
    g.deleted.Encode(enc);
    enc->PutVarint(g.adds.size());
    for (const auto& [d, a] : g.adds) {
      enc->PutDot(d);
      enc->PutByte(a.removed ? 1 : 0);
      if (a.removed) continue;
      PutId(enc, a.start);
      a.seen.Encode(enc);
    }
    enc->PutVarint(g.records.size());
    for (const auto& [d, rec] : g.records) {
      enc->PutDot(d);
      enc->PutByte(rec.removed ? 1 : 0);
      if (rec.removed) continue;
      PutPositions(enc, rec.acked);
      rec.seen.Encode(enc);
    }
  }
}

bool StreamStore::Decode(Decoder* dec) {
  *this = StreamStore();
  uint64_t n = 0;
  if (!dec->GetCount(&n, 5)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Key k;
    EntryItem e;
    if (!GetId(dec, &k.first) || !dec->GetDot(&k.second) || !GetRemoved(dec, &e.removed)) {
      return false;
    }
    if (!entries_.empty() && !(entries_.rbegin()->first < k)) {
      return dec->Fail("stream entries not sorted");
    }
    if (!e.removed) {
      uint64_t f = 0;
      if (!dec->GetCount(&f, 1)) return false;
      if (f < 2 || f % 2 != 0) return dec->Fail("stream entry without field-value pairs");
      for (uint64_t j = 0; j < f; ++j) {
        std::string_view s;
        if (!dec->GetBytes(&s)) return false;
        e.fields.emplace_back(s);
      }
    }
    entries_.emplace_hint(entries_.end(), k, std::move(e));
  }
  if (!dec->GetCount(&n, 3)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Dot d;
    Marker m;
    if (!dec->GetDot(&d) || !GetRemoved(dec, &m.removed)) return false;
    if (!m.removed && !GetId(dec, &m.top)) return false;
    if (!markers_.empty() && !(markers_.rbegin()->first < d)) {
      return dec->Fail("stream markers not sorted");
    }
    markers_.emplace_hint(markers_.end(), d, m);
  }
  if (!deleted_.Decode(dec) || !dec->GetCount(&n, 4)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!dec->GetBytes(&name)) return false;
    if (!groups_.empty() && !(groups_.rbegin()->first < name)) {
      return dec->Fail("stream groups not sorted");
    }
    Group g;
    uint64_t m = 0;
    if (!g.deleted.Decode(dec) || !dec->GetCount(&m, 3)) return false;
    for (uint64_t j = 0; j < m; ++j) {
      Dot d;
      Creation a;
      if (!dec->GetDot(&d) || !GetRemoved(dec, &a.removed)) return false;
      if (!a.removed && (!GetId(dec, &a.start) || !a.seen.Decode(dec))) return false;
      if (!g.adds.empty() && !(g.adds.rbegin()->first < d)) {
        return dec->Fail("group creations not sorted");
      }
      g.adds.emplace_hint(g.adds.end(), d, std::move(a));
    }
    if (!dec->GetCount(&m, 3)) return false;
    for (uint64_t j = 0; j < m; ++j) {
      Dot d;
      Record rec;
      if (!dec->GetDot(&d) || !GetRemoved(dec, &rec.removed)) return false;
      if (!rec.removed && (!GetPositions(dec, &rec.acked) || !rec.seen.Decode(dec))) return false;
      if (!g.records.empty() && !(g.records.rbegin()->first < d)) {
        return dec->Fail("group records not sorted");
      }
      g.records.emplace_hint(g.records.end(), d, std::move(rec));
    }
    groups_.emplace_hint(groups_.end(), std::string(name), std::move(g));
  }
  Recount();
  Normalize(true);
  return true;
}

}  // namespace crdt
