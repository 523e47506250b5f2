#include "crdt/expiry.h"

namespace crdt {

void ExpiryStore::Expire(ReplicaId r, int64_t deadline_ms, CausalContext* cc, ExpiryStore* delta,
                         CausalContext* delta_cc) {
  reg_.Assign(r, deadline_ms, "", cc, delta ? &delta->reg_ : nullptr, delta_cc);
}

void ExpiryStore::Persist(ReplicaId r, CausalContext* cc, ExpiryStore* delta,
                          CausalContext* delta_cc) {
  reg_.Assign(r, 0, kPersistValue, cc, delta ? &delta->reg_ : nullptr, delta_cc);
}

bool ExpiryStore::Clear(ExpiryStore* delta, CausalContext* delta_cc) {
  return reg_.Clear(delta ? &delta->reg_ : nullptr, delta_cc);
}

const RegisterStore::Write* ExpiryStore::Winner() const {
  const RegisterStore::Write* best = nullptr;
  for (const RegisterStore::Write& w : reg_.writes()) {
    if (!w.value.empty()) return nullptr;  // CASE 1: a PERSIST wins over every expiry
    if (best == nullptr || RegisterStore::Beats(w, *best)) best = &w;  // CASE 2: longest TTL
  }
  return best;
}

std::optional<int64_t> ExpiryStore::Deadline() const {
  const RegisterStore::Write* w = Winner();
  if (w == nullptr) return std::nullopt;
  return w->timestamp_us;  // the deadline, in milliseconds (see the header)
}

}  // namespace crdt
