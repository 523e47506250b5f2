// What Redis defines about command lines and keys, used wherever aasim reads them: how
// redis-cli splits a typed command line (scenario steps, RESP inline commands) and which
// Redis Cluster hash slot a key lives in (the hot-key model, the CLI).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/status.h"

namespace cluster_sim {

// Splits a command line with redis-cli's rules (sdssplitargs): arguments are separated by
// whitespace; "double quotes" understand \" \\ \n \r \t \b \a and \xHH; 'single quotes' are
// literal except \'; a closing quote must be followed by whitespace or the end. On failure the
// Status message is the bare reason ("unbalanced quotes", ...), without a location.
Result<std::vector<std::string>> SplitCommand(std::string_view line);

inline constexpr int kHashSlots = 16384;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection; the checksum of
// Redis Cluster (src/crc16.c). Crc16("123456789") == 0x31C3.
uint16_t Crc16(std::string_view data);

// Redis Cluster's hash slot of `key` (cluster.c keyHashSlot): if the key has a '{' and a
// '}' after it with at least one character between them, only the characters between the
// first '{' and the first '}' after it are hashed, else the whole key ("foo{}{bar}" hashes
// whole). KeySlot("foo") == 12182.
int KeySlot(std::string_view key);

}  // namespace cluster_sim
