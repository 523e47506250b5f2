// The header of an encoded crdt::Keyspace (keyspace.h, Keyspace::Encode): bit 0 says
// key-complete (a delta), the other bits which optional parts (KeyValue::Part) the key
// values carry; bit 6 (KeyValue::kPartsMore) says a second byte holds parts 8 to 15.
// For whoever assembles an encoded keyspace from stored key values (a backend's saved
// metadata) or walks one without decoding it; Keyspace's own encoder and decoder use these.
#pragma once

#include "crdt/encoding.h"
#include "crdt/keyspace.h"

namespace crdt {

void PutKeyspaceHeader(Encoder* enc, bool key_complete, KeyValue::Parts16 parts);
// False on a truncated header, an empty second byte or an unknown part.
bool GetKeyspaceHeader(Decoder* dec, bool* key_complete, KeyValue::Parts16* parts);

}  // namespace crdt
