// Fuzz target: the effect and keyspace decoders (crdt::Keyspace::Decode, MergeEncoded) on
// any bytes. Checks: no crash; MergeEncoded accepts exactly what Decode accepts, with the
// same error, and leaves a keyspace it refuses unchanged; what decodes re-encodes to bytes
// that decode to an equal keyspace and encode the same; MergeEncoded equals Merge of the
// decoded keyspace, into an empty keyspace and into one holding data; merging twice is
// merging once.
#include <string>
#include <string_view>

#include "crdt/keyspace.h"
#include "fuzz_util.h"

namespace {

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
  decoded->DumpAll();
  decoded->KeyCount();

  // MergeEncoded == Merge(Decode), on empty and non-empty keyspaces.
  crdt::Keyspace by_merge(self);
  by_merge.Merge(*decoded);
  FUZZ_CHECK(by_merge == merged, "MergeEncoded != Merge(Decode) on an empty keyspace");
  crdt::Keyspace base_by_merge = base;
  base_by_merge.Merge(*decoded);
  FUZZ_CHECK(base_by_merge == on_base, "MergeEncoded != Merge(Decode) on a keyspace with data");
  FUZZ_CHECK(base_by_merge.DumpAll() == on_base.DumpAll(), "dumps differ");

  // Idempotence.
  FUZZ_CHECK(on_base.MergeEncoded(bytes, &merge_error, &scratch), merge_error);
  FUZZ_CHECK(on_base == base_by_merge, "merging twice differs from merging once");
  std::string state = on_base.Encode();
  auto state_again = crdt::Keyspace::Decode(state, self, &error2);
  FUZZ_CHECK(state_again.has_value() && *state_again == on_base, "merged state: " + error2);
  return 0;
}
