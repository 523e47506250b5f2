// Fuzz target: the effect and keyspace decoders (crdt::Keyspace::Decode, MergeEncoded) on
// any bytes. Checks: no crash; MergeEncoded accepts exactly what Decode accepts, with the
// same error, and leaves a keyspace it refuses unchanged; what decodes re-encodes to bytes
// that decode to an equal keyspace and encode the same; MergeEncoded equals Merge of the
// decoded keyspace, into an empty keyspace and into one holding data; merging twice is
// merging once; merging a decoded state and one holding data commutes (when they share no
// dot: one dot with two values keeps the receiver's, by design); every key's held
// bytes are exact (Keyspace::HeldExact).
//
// The same bytes also go to the counter and context decoders alone (PnCounter::Decode,
// CausalContext::Decode), as two values one after the other. Inside a keyspace a fuzzer
// seldom reaches a counter's second slot or a context's second entry with a chosen replica
// delta (a delta near 2^64 once wrapped to a smaller id there, and nothing here checked
// that a decoded value is well formed). Checks on what they accept: sorted, unique
// replicas; bp <= p and bn <= n; a counter's bytes are canonical (its encoding is the bytes
// it was decoded from, but for overlong varints, which Decoder accepts; a context's are
// not: Decode folds the cloud dots a hostile vector covers, so its result must be compact
// instead: every cloud dot above its replica's maximum + 1); encode(decode(x)) decodes to
// an equal value and encodes the same; merge is idempotent and commutative.
#include <algorithm>
#include <string>
#include <string_view>

#include "crdt/causal_context.h"
#include "crdt/keyspace.h"
#include "crdt/pn_counter.h"
#include "fuzz_util.h"

namespace {

// What a decoded counter must be; `bytes`: what it was decoded from.
void CheckCounter(const crdt::PnCounter& c, std::string_view bytes) {
  const auto slots = c.slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    const crdt::PnCounter::Slot& s = slots[i];
    FUZZ_CHECK(i == 0 || slots[i - 1].replica < s.replica, "counter slots not sorted");
    FUZZ_CHECK(s.bp <= s.p && s.bn <= s.n, "counter base above total");
  }
  const std::string encoded = c.Encode();
  // Canonical: Decoder accepts overlong varints (a longer input then), but bytes as long as
  // the encoding, varint for varint, are exactly it.
  FUZZ_CHECK(encoded.size() < bytes.size() || encoded == bytes,
             "a counter decoded from non-canonical bytes");
  std::string error;
  auto again = crdt::PnCounter::Decode(encoded, &error);
  FUZZ_CHECK(again && *again == c, "a decoded counter's encoding: " + error);
}

std::string EncodeContext(const crdt::CausalContext& c) {
  crdt::Encoder enc;
  c.Encode(&enc);
  return enc.Release();
}

// What a decoded context must be: sorted, compact, and its encoding decodes to itself.
void CheckContext(const crdt::CausalContext& c) {
  const auto& vv = c.vector();
  for (size_t i = 0; i < vv.size(); ++i) {
    FUZZ_CHECK(i == 0 || vv[i - 1].replica < vv[i].replica, "context vector not sorted");
    FUZZ_CHECK(vv[i].max != 0, "context vector entry 0");
    FUZZ_CHECK(c.Contains(crdt::Dot{vv[i].replica, vv[i].max}), "context lost a vector dot");
  }
  const auto& cloud = c.cloud();
  for (size_t i = 0; i < cloud.size(); ++i) {
    FUZZ_CHECK(i == 0 || cloud[i - 1] < cloud[i], "context cloud not sorted");
    const uint64_t max = c.Max(cloud[i].replica);
    FUZZ_CHECK(cloud[i].counter > max && cloud[i].counter - max > 1, "context cloud not compact");
    FUZZ_CHECK(c.Contains(cloud[i]), "context lost a cloud dot");
  }
  const std::string encoded = EncodeContext(c);
  crdt::Decoder dec(encoded);
  crdt::CausalContext again;
  FUZZ_CHECK(again.Decode(&dec) && dec.done(), "a decoded context's encoding: " + dec.error());
  FUZZ_CHECK(again == c && EncodeContext(again) == encoded, "decode(encode(x)) != x");
}

// Two values of T decoded one after the other from `bytes` (the second empty if the rest
// does not decode), each checked with the bytes it came from (check(value, bytes)), then
// joined both ways (join(&into, from)): the joins must commute and be idempotent (the same
// value and the same encoding), and what they make passes the check with its own encoding.
// `what` names the join in the failures ("counter merge").
template <typename T, typename Check, typename Join, typename Encode>
void FuzzPair(std::string_view bytes, const std::string& what, Check check, Join join,
              Encode encode) {
  crdt::Decoder dec(bytes);
  T a, b;
  if (!a.Decode(&dec)) return;
  const size_t end_a = dec.position();
  check(a, bytes.substr(0, end_a));
  if (b.Decode(&dec)) {
    check(b, bytes.substr(end_a, dec.position() - end_a));
  } else {
    b = T();
  }
  T ab = a, ba = b;
  join(&ab, b);
  join(&ba, a);
  FUZZ_CHECK(ab == ba && encode(ab) == encode(ba), what + " is not commutative");
  check(ab, encode(ab));  // sorted and bounded, and a round trip (its own bytes)
  T twice = ab;
  join(&twice, b);
  join(&twice, a);
  FUZZ_CHECK(twice == ab && encode(twice) == encode(ab), what + " is not idempotent");
}

void FuzzCounters(std::string_view bytes) {
  FuzzPair<crdt::PnCounter>(
      bytes, "counter merge", CheckCounter,
      [](crdt::PnCounter* into, const crdt::PnCounter& from) { into->Merge(from); },
      [](const crdt::PnCounter& c) { return c.Encode(); });
}

void FuzzContexts(std::string_view bytes) {
  // A context's bytes need not be its encoding (Decode folds a cloud), so its check takes
  // none of them.
  FuzzPair<crdt::CausalContext>(
      bytes, "context join",
      [](const crdt::CausalContext& c, std::string_view) { CheckContext(c); },
      [](crdt::CausalContext* into, const crdt::CausalContext& from) { into->Join(from); },
      EncodeContext);
}

// A keyspace of replica `self` holding a little of every common type.
crdt::Keyspace Base(crdt::ReplicaId self) {
  crdt::Keyspace ks(self);
  crdt::Keyspace delta = ks.NewDelta();
  ks.Set("s", "v", 1000, &delta);
  int64_t n = 0;
  ks.IncrBy("c", 5, &n, &delta);
  ks.SAdd("set", "m", &delta);
  ks.HSet("h", "f", "v", 1000, &delta);
  ks.ZAdd("z", "m", 1.5, 1000, &delta);
  ks.Expire("s", 1'700'000'000'000, &delta);
  return ks;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the receiving replica (site 0..3, incarnation 1 or 2).
  crdt::ReplicaId self = crdt::MakeReplicaId(data[0] & 3, 1 + ((data[0] >> 2) & 1));
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  FuzzCounters(bytes);
  FuzzContexts(bytes);

  std::string error;
  auto decoded = crdt::Keyspace::Decode(bytes, self, &error);
  crdt::Keyspace empty(self);
  crdt::Keyspace merged(self);
  std::string merge_error;
  crdt::Keyspace::MergeScratch scratch;
  bool merge_ok = merged.MergeEncoded(bytes, &merge_error, &scratch);
  FUZZ_CHECK(merge_ok == decoded.has_value(), error + " | " + merge_error);
  const crdt::Keyspace base = Base(self);
  crdt::Keyspace on_base = base;
  bool base_ok = on_base.MergeEncoded(bytes, &merge_error, &scratch);
  FUZZ_CHECK(base_ok == merge_ok, merge_error);
  if (!decoded) {
    FUZZ_CHECK(error == merge_error, error + " | " + merge_error);
    FUZZ_CHECK(merged == empty, "a refused MergeEncoded changed the keyspace");
    FUZZ_CHECK(on_base == base, "a refused MergeEncoded changed the keyspace");
    return 0;
  }

  // Decode, re-encode, decode: equal.
  std::string encoded = decoded->Encode();
  std::string error2;
  auto again = crdt::Keyspace::Decode(encoded, self, &error2);
  FUZZ_CHECK(again.has_value(), "re-encoded bytes do not decode: " + error2);
  FUZZ_CHECK(*again == *decoded, "decode(encode(x)) != x");
  FUZZ_CHECK(again->Encode() == encoded, "encode is not stable");
  // Not checked: that canonical bytes re-encode as themselves. Keyspace::Decode accepts a
  // header naming parts no key holds (and unused header bits), which re-encode shorter or
  // as long but different (header 0x04 and nothing: 04 00 00 00 vs 00 00 00 00); the state
  // decoded is the same, so nothing wrong is accepted, only a longer spelling of it.
  decoded->DumpAll();
  decoded->KeyCount();
  FUZZ_CHECK(decoded->HeldExact(), "a decoded keyspace's held bytes");
  FUZZ_CHECK(merged.HeldExact() && on_base.HeldExact(), "a merged keyspace's held bytes");

  // MergeEncoded == Merge(Decode), on empty and non-empty keyspaces.
  crdt::Keyspace by_merge(self);
  by_merge.Merge(*decoded);
  FUZZ_CHECK(by_merge == merged, "MergeEncoded != Merge(Decode) on an empty keyspace");
  crdt::Keyspace base_by_merge = base;
  base_by_merge.Merge(*decoded);
  FUZZ_CHECK(base_by_merge == on_base, "MergeEncoded != Merge(Decode) on a keyspace with data");
  FUZZ_CHECK(base_by_merge.DumpAll() == on_base.DumpAll(), "dumps differ");
  // Commutative, for two states (a key-complete delta speaks for its own keys only: merged
  // into a state it removes nothing of the others, but a state merged into it does) that
  // share no dot. One dot is one write in a real run, so a join that finds a dot on both
  // sides keeps its own copy (the registers' rule); but the bytes may give one of Base's
  // dots (self's, 1 to its maximum: Base has only local writes) another value, and then
  // which copy stays depends on the order, by design.
  const crdt::CausalContext& dcc = decoded->context();
  const bool shares_a_dot =
      dcc.Max(self) != 0 || std::any_of(dcc.cloud().begin(), dcc.cloud().end(),
                                        [&](const crdt::Dot& d) { return d.replica == self; });
  if (!decoded->is_delta() && !shares_a_dot) {
    crdt::Keyspace decoded_by_base = *decoded;
    decoded_by_base.Merge(base);
    FUZZ_CHECK(decoded_by_base == on_base && decoded_by_base.Encode() == on_base.Encode(),
               "merge is not commutative");
  }

  // Idempotence.
  FUZZ_CHECK(on_base.MergeEncoded(bytes, &merge_error, &scratch), merge_error);
  FUZZ_CHECK(on_base == base_by_merge, "merging twice differs from merging once");
  std::string state = on_base.Encode();
  auto state_again = crdt::Keyspace::Decode(state, self, &error2);
  FUZZ_CHECK(state_again.has_value() && *state_again == on_base, "merged state: " + error2);
  return 0;
}
