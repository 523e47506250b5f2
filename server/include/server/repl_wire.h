// The replication messages of `aasim node` as they arrive: the arguments of the RESP
// command `AASIM.REPL ...` (node.h describes the wire format) decoded into the
// Replicator's ReplMessage. Kept apart from the node so that tests and fuzzers can feed it
// any argument vector without a network.
//
// Contract: total on any input (no argument count, number or payload crashes it); an
// invalid message gives the error text the node answers with and leaves nothing half set.
// Value types; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/replicator.h"

namespace server {

// A whole decimal uint64 (no sign, no space, no overflow): true and *v set, else false.
bool ParseU64(std::string_view s, uint64_t* v);

// A decoded `AASIM.REPL MSG`: `msg.body` points at `one` or `many` (so a DecodedRepl is
// neither copied nor moved once decoded).
struct DecodedRepl {
  DecodedRepl() = default;
  DecodedRepl(const DecodedRepl&) = delete;
  DecodedRepl& operator=(const DecodedRepl&) = delete;

  cluster_sim::ReplMessage msg;
  std::string one;
  cluster_sim::ReplMessage::Payloads many;
};

// Checks argv = AASIM.REPL MSG FROM KIND SENDER_EPOCH EPOCH SEQ FLAGS COUNT PAYLOAD...
// (argv[0] to argv[2] are the caller's to check; a full state, kind 2, has exactly one
// payload). Returns "" if it is well formed, else
// the error text ("ERR AASIM.REPL: ..."). With `out` non-null, a well-formed message is
// decoded into *out (payloads copied).
std::string DecodeReplMsg(const std::vector<std::string>& argv, DecodedRepl* out);

// Checks argv = AASIM.REPL HELLO FROM INCARNATION HEAD: "" and the two numbers, or the
// error text.
std::string DecodeReplHello(const std::vector<std::string>& argv, uint64_t* incarnation,
                            uint64_t* head);

}  // namespace server
