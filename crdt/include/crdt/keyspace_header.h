// The header of an encoded crdt::Keyspace (keyspace.h, Keyspace::Encode): bit 0 says
// key-complete (a delta), the other bits which optional parts (KeyValue::Part) the key
// values carry; bit 6 (KeyValue::kPartsMore) says a second byte holds parts 8 to 15.
// For whoever assembles an encoded keyspace from stored key values (a backend's saved
// metadata) or walks one without decoding it; Keyspace's own encoder and decoder use these.
#pragma once

#include <cstdint>

#include "crdt/encoding.h"
#include "crdt/keyspace.h"

namespace crdt {

// The header's bit 0: the keyspace is key-complete (a delta).
inline constexpr uint8_t kHeaderKeyComplete = 1;

// The one byte of a delta's header (key-complete) whose key values carry no optional
// part: most effects' (a merge reads it first to try their shape, Keyspace::MergeEncoded).
inline constexpr uint8_t kPlainDeltaHeader = kHeaderKeyComplete;

// Inline: every effect's encoding and merge reads or writes one (parts 8 to 15 in a second
// byte, present and non-zero iff the first has kPartsMore).
inline void PutKeyspaceHeader(Encoder* enc, bool key_complete, KeyValue::Parts16 parts) {
  const uint8_t high = static_cast<uint8_t>(parts >> 8);
  enc->PutByte(static_cast<uint8_t>((key_complete ? kHeaderKeyComplete : 0) | (parts & 0xff) |
                                    (high != 0 ? KeyValue::kPartsMore : 0)));
  if (high != 0) enc->PutByte(high);
}

// False on a truncated header, an empty second byte or an unknown part.
inline bool GetKeyspaceHeader(Decoder* dec, bool* key_complete, KeyValue::Parts16* parts) {
  uint8_t low = 0;
  uint8_t high = 0;
  if (!dec->GetByte(&low)) return false;
  if ((low & KeyValue::kPartsMore) != 0 && (!dec->GetByte(&high) || high == 0)) return false;
  const KeyValue::Parts16 all = static_cast<KeyValue::Parts16>(
      (high << 8) | (low & ~(KeyValue::kPartsMore | kHeaderKeyComplete)));
  if ((all & ~KeyValue::kKnownParts) != 0) return false;
  *key_complete = (low & kHeaderKeyComplete) != 0;
  *parts = all;
  return true;
}

}  // namespace crdt
