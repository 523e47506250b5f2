// StreamStore: the value of a Redis stream key in an Active/Active database, as Redis
// Enterprise replicates streams: one logical stream made of one part per writing region
// (each region appends only to its own part), read as the merge of the parts in entry-id
// order. A dot store sharing the keyspace's causal context (like ListStore).
//
//   entries  (id, dot) -> fields     the dot names the XADD; dot.replica is the part
//   markers  dot -> top id           the stream exists; its last id (XADD validation)
//   deleted  replica -> counter      the newest DEL of the key made by each replica
//   groups   name -> { adds      dot -> (start id, context of the creator)
//                      records   dot -> (part -> acknowledged id, context of the writer)
//                      deleted   replica -> counter of its newest XGROUP DESTROY }
//
// Semantics (Redis Enterprise's rules; README, "Streams"):
// - Entries are observed-remove: XDEL, XTRIM and DEL remove the entries their region had
//   seen, so an entry added concurrently elsewhere survives a DEL and brings the stream
//   back. Concurrent entries with the same id (possible outside the strict id mode) are
//   both kept, ordered by their dots.
// - The stream exists while it holds a marker: XADD (and XGROUP CREATE MKSTREAM) leave one
//   holding the stream's last id, replacing the markers they observed; DEL removes the
//   observed ones; XDEL and XTRIM keep them (an emptied stream still exists, as in Redis).
// - Consumer groups are delete-wins: a group is visible iff one of its creations (XGROUP
//   CREATE) had observed every XGROUP DESTROY of it and every DEL of the key. So a DESTROY
//   or a DEL beats a concurrent CREATE, and a CREATE after them starts a new group. A
//   delete is kept as the newest counter per replica (a version vector), compared with the
//   context each creation records; a creation that lost is dropped at once.
// - Acknowledgements: a record holds, per part, an id up to which the group's region had
//   delivered and acknowledged every entry of that part; the group's replicated frontier
//   is the pointwise maximum of its live records (delete-wins like creations). A region
//   writes one when the frontier it computes from its pending list moves (XACK once the
//   entries read before are acknowledged), so another region that takes over the group's
//   traffic resumes after it and re-delivers only what was read but not acknowledged.
// - Regional state, never replicated, encoded, joined or compared: the consumers, the
//   pending entries list and the per-part delivery position of each group in this region
//   (Regional). It is dropped when its group stops being visible here.
//
// Tombstones: a removed entry or marker leaves only its dot in the causal context. DEL
// and XGROUP DESTROY leave one counter per replica that ran them, kept with the key (a
// deleted stream key stays as that metadata), so that a creation arriving late still loses.
// Deltas are key-complete: a delta lists every entry, marker, creation and record whose dot
// it removed, as a "removed" item (no value), so joining one costs O(delta log n).
//
// Cost per entry: its id (16 B), dot (16 B) and fields; markers: one per region that
// wrote since the last DEL. Value type; not thread-safe; every iteration and encoding is
// in key order (deterministic).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/causal_context.h"
#include "crdt/dot.h"
#include "crdt/encoding.h"

namespace crdt {

// A stream entry id, `<ms>-<seq>` (Redis streamID).
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  friend constexpr auto operator<=>(const StreamId&, const StreamId&) = default;
  std::string ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }
};

// How XADD may choose ids (Redis Enterprise's crdt_xadd_id_uniqueness_mode):
// - kStrict: `*` or a millisecond-only id; the sequence comes from the region (StrictId),
//   so two regions never make the same id. A full id (ms-seq) is refused.
// - kSemiStrict: as strict, but a full id is accepted (duplicates become possible).
// - kLiberal: open-source Redis's rules (a millisecond-only id gets sequence 0).
enum class StreamIdMode { kStrict, kSemiStrict, kLiberal };

// "strict", "semi-strict", "liberal"; the parse accepts exactly those.
const char* StreamIdModeName(StreamIdMode mode);
std::optional<StreamIdMode> ParseStreamIdMode(std::string_view text);

// The strict mode's id at millisecond `ms` for the region at `site` among `stride` sites
// (sequence numbers site+1, site+1+stride, ...): the smallest such id above `last`.
// nullopt if ms < last.ms or no sequence is left at last.ms.
// REQUIRES: site < stride.
std::optional<StreamId> StrictStreamId(uint64_t ms, StreamId last, uint16_t site, uint32_t stride);

// A pointwise-maximum vector of counters per replica (sorted by replica, no zeros).
class MaxVector {
 public:
  uint64_t Get(ReplicaId r) const;
  void Raise(ReplicaId r, uint64_t counter);
  void Join(const MaxVector& other);
  // True if every counter of `other` is <= ours: all those events are in our past.
  bool Covers(const MaxVector& other) const;
  bool empty() const { return v_.empty(); }
  const std::vector<Dot>& items() const { return v_; }
  // The contiguous prefix of a context, per replica.
  static MaxVector Of(const CausalContext& cc);
  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);
  friend bool operator==(const MaxVector&, const MaxVector&) = default;

 private:
  std::vector<Dot> v_;  // (replica, counter), sorted by replica, counter > 0
};

class StreamStore {
 public:
  // Entries are ordered by id, then by dot (duplicate ids in the order of their dots).
  using Key = std::pair<StreamId, Dot>;
  using Fields = std::vector<std::string>;          // field, value, field, value, ...
  using Positions = std::map<ReplicaId, StreamId>;  // part -> id
  // An entry; `removed` (no fields) only in a delta.
  struct EntryItem {
    bool removed = false;
    Fields fields;
    friend bool operator==(const EntryItem&, const EntryItem&) = default;
  };

  // Regional (never replicated) state of a consumer group in this region.
  struct Pending {
    std::string consumer;
    int64_t delivery_ms = 0;
    uint64_t deliveries = 0;
  };
  struct RegionalGroup {
    Dot created_by;       // the creation the state belongs to (a live add dot)
    Positions delivered;  // per part: the last entry id delivered here
    std::map<Key, Pending> pending;
    std::map<std::string, int64_t, std::less<>> consumers;  // name -> last seen (ms)
    Positions written;  // the last frontier this region replicated
  };

  // ---- reads (of a state) ----
  bool Visible() const { return live_markers_ > 0 || live_entries_ > 0; }
  size_t size() const { return live_entries_; }
  // No metadata at all (may be dropped).
  bool Empty() const {
    return entries_.empty() && markers_.empty() && deleted_.empty() && groups_.empty();
  }
  StreamId LastId() const;  // the greatest top of the markers (0-0 when none)
  // Live entries, in order; a delta's removed entries are skipped.
  template <typename F>  // F(const Key&, const Fields&)
  void ForEach(F&& f) const {
    for (const auto& [k, item] : entries_) {
      if (!item.removed) f(k, item.fields);
    }
  }
  const std::map<Key, EntryItem>& entries() const { return entries_; }
  const Fields* Find(const Key& k) const;
  // Visible groups, sorted by name.
  std::vector<std::string> Groups() const;
  bool HasGroup(std::string_view name) const;
  // REQUIRES: HasGroup(name). The smallest start id of its live creations, the live
  // creation dot the regional state belongs to, and the replicated frontier.
  StreamId GroupStart(std::string_view name) const;
  Dot GroupCreation(std::string_view name) const;
  Positions GroupFrontier(std::string_view name) const;

  // ---- writes (REQUIRE a state; record into *delta / *delta_cc when non-null) ----
  // XADD: appends an entry with a new dot of r, and a marker of top `id` (a second dot).
  void Add(StreamId id, Fields fields, ReplicaId r, CausalContext* cc, StreamStore* delta,
           CausalContext* delta_cc);
  // XGROUP CREATE MKSTREAM of an absent stream: a marker of top 0-0.
  void MakeExist(ReplicaId r, CausalContext* cc, StreamStore* delta, CausalContext* delta_cc);
  // Removes the entry `k` (XDEL, XTRIM). REQUIRES: live.
  void Remove(const Key& k, StreamStore* delta, CausalContext* delta_cc);
  // DEL: removes every entry and marker, and deletes every group (delete wins, so the
  // groups a concurrent CREATE makes elsewhere are deleted too). Takes a new dot of r.
  void Clear(ReplicaId r, CausalContext* cc, StreamStore* delta, CausalContext* delta_cc);
  // XGROUP CREATE (REQUIRES: !HasGroup(name)) and DESTROY (true if it was visible).
  void CreateGroup(std::string_view name, StreamId start, ReplicaId r, CausalContext* cc,
                   StreamStore* delta, CausalContext* delta_cc);
  bool DestroyGroup(std::string_view name, ReplicaId r, CausalContext* cc, StreamStore* delta,
                    CausalContext* delta_cc);
  // A record of acknowledged positions (joined with the group's current frontier) that
  // replaces the records this region observed. REQUIRES: HasGroup(name).
  void WriteFrontier(std::string_view name, const Positions& acked, ReplicaId r, CausalContext* cc,
                     StreamStore* delta, CausalContext* delta_cc);

  // The regional state of a visible group, made on first use. REQUIRES: HasGroup(name).
  RegionalGroup& Regional(std::string_view name);
  const RegionalGroup* FindRegional(std::string_view name) const;

  // Join with other. REQUIRES: my_cc / other_cc are the contexts of *this / other.
  // other_complete: other is a key-complete delta. keep_empty: *this is a delta (keep
  // removed items).
  void Join(const StreamStore& other, const CausalContext& my_cc, const CausalContext& other_cc,
            bool other_complete, bool keep_empty);

  template <typename F>  // F(const Dot&), every dot held (for decoders' context checks)
  void ForEachDot(F&& f) const {
    for (const auto& [k, item] : entries_) f(k.second);
    for (const auto& [d, m] : markers_) f(d);
    for (const auto& [name, g] : groups_) {
      for (const auto& [d, a] : g.adds) f(d);
      for (const auto& [d, rec] : g.records) f(d);
    }
  }
  bool HasRemoved() const;  // a removed item (only deltas hold them)
  size_t HeapBytes() const;

  void Encode(Encoder* enc) const;
  bool Decode(Decoder* dec);  // replaces *this; false on malformed input
  // Equality of the replicated state (the regional state is not compared).
  friend bool operator==(const StreamStore& a, const StreamStore& b) {
    return a.entries_ == b.entries_ && a.markers_ == b.markers_ && a.deleted_ == b.deleted_ &&
           a.groups_ == b.groups_;
  }

 private:
  struct Marker {
    bool removed = false;
    StreamId top;
    friend bool operator==(const Marker&, const Marker&) = default;
  };
  struct Creation {
    bool removed = false;
    StreamId start;
    MaxVector seen;  // the creator's context (contiguous prefix)
    friend bool operator==(const Creation&, const Creation&) = default;
  };
  struct Record {
    bool removed = false;
    Positions acked;
    MaxVector seen;
    friend bool operator==(const Record&, const Record&) = default;
  };
  struct Group {
    std::map<Dot, Creation> adds;
    std::map<Dot, Record> records;
    MaxVector deleted;  // XGROUP DESTROY
    bool Empty() const { return adds.empty() && records.empty() && deleted.empty(); }
    friend bool operator==(const Group&, const Group&) = default;
  };

  // True if an item made with context `seen` lost to a delete of `g` or of the key.
  bool Dead(const Group& g, const MaxVector& seen) const {
    return !seen.Covers(g.deleted) || !seen.Covers(deleted_);
  }
  const Group* LiveGroup(std::string_view name) const;
  // Drops the creations and records that lost, the groups left with no metadata (unless
  // keep_empty) and the regional state of groups no longer visible. O(groups): the live
  // counts below are kept by every change of entries_ and markers_, not recounted.
  void Normalize(bool keep_empty);
  void Recount();  // live_entries_ and live_markers_ from scratch (after Decode)
  // Moves every observed creation and record of `g` into *delta as removed, and drops them.
  static void RemoveGroupItems(Group* g, Group* delta);

  std::map<Key, EntryItem> entries_;
  std::map<Dot, Marker> markers_;
  MaxVector deleted_;  // DEL
  std::map<std::string, Group, std::less<>> groups_;
  size_t live_entries_ = 0;
  size_t live_markers_ = 0;
  std::map<std::string, RegionalGroup, std::less<>> regional_;
};

}  // namespace crdt
