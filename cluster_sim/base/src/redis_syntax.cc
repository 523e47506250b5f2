#include "cluster_sim/redis_syntax.h"

#include <array>

namespace cluster_sim {

namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::vector<std::string>> SplitCommand(std::string_view line) {
  // Mirrors sdssplitargs() in Redis's sds.c, which redis-cli uses.
  std::vector<std::string> args;
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return args;
    std::string current;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const bool at_end = i >= n;
      const char c = at_end ? '\0' : line[i];
      if (in_double) {
        if (at_end) return Status::InvalidArgument("unbalanced quotes");
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          current += static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3]));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n':
              current += '\n';
              break;
            case 'r':
              current += '\r';
              break;
            case 't':
              current += '\t';
              break;
            case 'b':
              current += '\b';
              break;
            case 'a':
              current += '\a';
              break;
            default:
              current += line[i];
              break;
          }
        } else if (c == '"') {
          if (i + 1 < n && !IsSpace(line[i + 1])) {
            return Status::InvalidArgument("closing quote must be followed by a space");
          }
          done = true;
        } else {
          current += c;
        }
      } else if (in_single) {
        if (at_end) return Status::InvalidArgument("unbalanced quotes");
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          current += '\'';
        } else if (c == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) {
            return Status::InvalidArgument("closing quote must be followed by a space");
          }
          done = true;
        } else {
          current += c;
        }
      } else if (at_end || IsSpace(c)) {
        done = true;
      } else if (c == '"') {
        in_double = true;
      } else if (c == '\'') {
        in_single = true;
      } else {
        current += c;
      }
      if (!at_end) ++i;
    }
    args.push_back(std::move(current));
  }
}

namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[static_cast<size_t>(i)] = crc;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

}  // namespace

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(c)) & 0xFF]);
  }
  return crc;
}

int KeySlot(std::string_view key) {
  // CASE 1: a non-empty {tag}: hash only the tag (the first '{', the first '}' after it).
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      return Crc16(key.substr(open + 1, close - open - 1)) & (kHashSlots - 1);
    }
  }
  // CASE 2: no '{', no '}' after it, or "{}": hash the whole key.
  return Crc16(key) & (kHashSlots - 1);
}

}  // namespace cluster_sim
