// Causal metadata atoms: replica ids and dots.
//
// A ReplicaId names one incarnation of one site (region): the high 16 bits are the site
// number, the low 16 bits its incarnation. A site that loses its state (a crash with an
// in-memory store) comes back as a new incarnation, so dots it made before the crash are
// never reused. Sites must be numbered in the byte order of their names: last-write-wins
// ties go to the lower site number, i.e. the name that sorts first.
//
// A Dot (replica, counter) names one event (one write) uniquely; counters start at 1.
#pragma once

#include <compare>
#include <cstdint>

namespace crdt {

using ReplicaId = uint32_t;

constexpr ReplicaId MakeReplicaId(uint16_t site, uint16_t incarnation) {
  return (static_cast<ReplicaId>(site) << 16) | incarnation;
}
constexpr uint16_t SiteOf(ReplicaId r) { return static_cast<uint16_t>(r >> 16); }
constexpr uint16_t IncarnationOf(ReplicaId r) { return static_cast<uint16_t>(r & 0xFFFF); }

struct Dot {
  ReplicaId replica = 0;
  uint64_t counter = 0;  // >= 1 for a real dot

  friend constexpr auto operator<=>(const Dot&, const Dot&) = default;
};

}  // namespace crdt
