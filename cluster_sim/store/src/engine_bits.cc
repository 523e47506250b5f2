// Bitmap commands on strings (Redis 7.0's bitops.c replies and errors): SETBIT, GETBIT,
// BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. Bit 0 is the most significant bit of the
// first byte, as in Redis. Active/Active meaning: a bitmap write (SETBIT, BITFIELD with SET
// or INCRBY, BITOP's destination) writes the whole new string: it is a write of the string
// register, last write wins as every string write (concurrent SETBITs of different bits in
// two regions keep one region's string, not both bits). SETBIT and BITFIELD keep the key's
// TTL, as in Redis; BITOP replaces its destination (and its TTL) as SET does.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster_sim/strings.h"
#include "crdt/keyspace.h"
#include "engine.h"

namespace cluster_sim {
namespace engine {
namespace {

constexpr std::string_view kBadOffset = "ERR bit offset is not an integer or out of range";
constexpr std::string_view kBadBit = "ERR bit is not an integer or out of range";
constexpr std::string_view kBadType =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";

// The string at `key` for a bit command: the error reply if it holds another type (a
// bounded counter included); else its value (empty when absent) and *exists.
std::optional<Reply> ReadBits(const Ctx& c, std::string_view key, std::string* value,
                              bool* exists) {
  if (!TypeIs(c, key, Type::kString)) return Err(kWrongType);
  std::optional<std::string> v = c.ks.Get(key);
  *exists = v.has_value();
  *value = v ? std::move(*v) : std::string();
  return std::nullopt;
}

// As getBitOffsetFromArgument: a bit offset below 512 MB * 8; "#n" (when `bits` > 0) is
// n * bits.
bool ParseBitOffset(std::string_view s, int bits, uint64_t* offset) {
  const bool hash = bits > 0 && !s.empty() && s[0] == '#';
  int64_t v = 0;
  if (!crdt::ParseRedisInteger(s.substr(hash ? 1 : 0), &v)) return false;
  if (hash) {
    if (__builtin_mul_overflow(v, int64_t{bits}, &v)) return false;
  }
  if (v < 0 || (v >> 3) >= kMaxStringBytes) return false;
  *offset = static_cast<uint64_t>(v);
  return true;
}

int BitAt(std::string_view s, uint64_t offset) {
  const uint64_t byte = offset >> 3;
  if (byte >= s.size()) return 0;
  return (static_cast<unsigned char>(s[byte]) >> (7 - (offset & 7))) & 1;
}

void SetBitAt(std::string* s, uint64_t offset, int bit) {
  unsigned char& b = reinterpret_cast<unsigned char&>((*s)[offset >> 3]);
  const unsigned mask = 1u << (7 - (offset & 7));
  b = static_cast<unsigned char>(bit ? (b | mask) : (b & ~mask));
}

// Writes a bitmap back as the key's string, keeping its TTL.
void WriteBits(Ctx& c, const std::string& key, const std::string& value) {
  c.ks.Set(key, value, c.now_us, c.delta, /*keep_ttl=*/true);
  c.wrote = true;
}

int64_t Popcount(std::string_view s) {
  int64_t n = 0;
  for (unsigned char ch : s) n += __builtin_popcount(ch);
  return n;
}

// The range arguments of BITCOUNT and BITPOS, resolved as Redis does: [start, end] in
// bytes, with the masks of the bits outside the range in the first and last bytes (BIT).
struct BitRange {
  int64_t start = 0, end = -1;
  unsigned char first_mask = 0, last_mask = 0;  // bits to ignore
};

void ResolveRange(int64_t len, bool isbit, BitRange* r) {
  int64_t total = isbit ? len << 3 : len;
  if (r->start < 0) r->start += total;
  if (r->end < 0) r->end += total;
  if (r->start < 0) r->start = 0;
  if (r->end < 0) r->end = 0;
  if (r->end >= total) r->end = total - 1;
  if (isbit && r->start <= r->end) {
    r->first_mask = static_cast<unsigned char>(~((1 << (8 - (r->start & 7))) - 1) & 0xFF);
    r->last_mask = static_cast<unsigned char>((1 << (7 - (r->end & 7))) - 1);
    r->start >>= 3;
    r->end >>= 3;
  }
}

// BYTE or BIT (any case); false otherwise.
bool ParseUnit(std::string_view s, bool* isbit) {
  if (IEquals(s, "bit")) {
    *isbit = true;
  } else if (IEquals(s, "byte")) {
    *isbit = false;
  } else {
    return false;
  }
  return true;
}

// Redis's redisBitpos over bytes: the first `bit` in s, -1 if bit is 1 and none is set,
// s.size() * 8 if bit is 0 and none is clear.
int64_t FirstBit(std::string_view s, int bit) {
  const unsigned char skip = bit ? 0 : 0xFF;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b == skip) continue;
    for (int k = 7; k >= 0; --k) {
      if (((b >> k) & 1) == bit) return static_cast<int64_t>(i * 8) + (7 - k);
    }
  }
  return bit ? -1 : static_cast<int64_t>(s.size() * 8);
}

// ---- BITFIELD ----

enum class Overflow { kWrap, kSat, kFail };

struct FieldOp {
  enum Kind { kGet, kSet, kIncrBy } kind;
  bool sign;
  int bits;
  uint64_t offset;
  int64_t value;
  Overflow overflow;
};

uint64_t GetUnsigned(const std::string& s, uint64_t offset, int bits) {
  uint64_t v = 0;
  for (int j = 0; j < bits; ++j) v = (v << 1) | static_cast<uint64_t>(BitAt(s, offset + j));
  return v;
}

int64_t GetSigned(const std::string& s, uint64_t offset, int bits) {
  uint64_t v = GetUnsigned(s, offset, bits);
  if (bits < 64 && (v & (uint64_t{1} << (bits - 1)))) v |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(v);
}

void SetField(std::string* s, uint64_t offset, int bits, uint64_t v) {
  for (int j = 0; j < bits; ++j) SetBitAt(s, offset + j, (v >> (bits - 1 - j)) & 1);
}

// As checkUnsignedBitfieldOverflow / checkSignedBitfieldOverflow: true on overflow, with
// *limit the value to store under WRAP or SAT.
bool UnsignedOverflow(uint64_t value, int64_t incr, int bits, Overflow ow, uint64_t* limit) {
  const uint64_t max = (uint64_t{1} << bits) - 1;  // bits <= 63
  const int64_t maxincr = static_cast<int64_t>(max - value);
  const int64_t minincr = static_cast<int64_t>(0 - value);
  const bool over = value > max || (incr > 0 && incr > maxincr);
  const bool under = !over && incr < 0 && incr < minincr;
  if (!over && !under) return false;
  if (ow == Overflow::kWrap) {
    *limit = (value + static_cast<uint64_t>(incr)) & max;
  } else if (ow == Overflow::kSat) {
    *limit = over ? max : 0;
  }
  return true;
}

bool SignedOverflow(int64_t value, int64_t incr, int bits, Overflow ow, int64_t* limit) {
  const int64_t max = bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -max - 1;
  const int64_t maxincr =
      static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
  const int64_t minincr =
      static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
  const bool over =
      value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
  const bool under = !over && (value < min || (bits != 64 && incr < minincr) ||
                               (value < 0 && incr < 0 && incr < minincr));
  if (!over && !under) return false;
  if (ow == Overflow::kWrap) {
    uint64_t sum = static_cast<uint64_t>(value) + static_cast<uint64_t>(incr);
    if (bits < 64) {
      const uint64_t mask = ~uint64_t{0} << bits;
      sum = (sum & (uint64_t{1} << (bits - 1))) ? (sum | mask) : (sum & ~mask);
    }
    *limit = static_cast<int64_t>(sum);
  } else if (ow == Overflow::kSat) {
    *limit = over ? max : min;
  }
  return true;
}

Reply BitField(Ctx& c, bool read_only) {
  std::vector<FieldOp> ops;
  Overflow overflow = Overflow::kWrap;
  bool writes = false;
  uint64_t highest = 0;
  for (size_t j = 2; j < c.argv.size(); ++j) {
    const size_t left = c.argv.size() - j - 1;
    const std::string& sub = c.argv[j];
    FieldOp op{};
    if (IEquals(sub, "get") && left >= 2) {
      op.kind = FieldOp::kGet;
    } else if (IEquals(sub, "set") && left >= 3) {
      op.kind = FieldOp::kSet;
    } else if (IEquals(sub, "incrby") && left >= 3) {
      op.kind = FieldOp::kIncrBy;
    } else if (IEquals(sub, "overflow") && left >= 1) {
      const std::string& t = c.argv[++j];
      if (IEquals(t, "wrap")) {
        overflow = Overflow::kWrap;
      } else if (IEquals(t, "sat")) {
        overflow = Overflow::kSat;
      } else if (IEquals(t, "fail")) {
        overflow = Overflow::kFail;
      } else {
        return Err("ERR Invalid OVERFLOW type specified");
      }
      continue;
    } else {
      return Err(kSyntax);
    }
    // The type: i1..i64 or u1..u63 (Redis reads it as a C string: up to a NUL).
    std::string_view type = c.argv[j + 1];
    type = type.substr(0, type.find('\0'));
    int64_t bits = 0;
    if (type.empty() || (type[0] != 'i' && type[0] != 'u') ||
        !crdt::ParseRedisInteger(type.substr(1), &bits) || bits < 1 ||
        bits > (type[0] == 'i' ? 64 : 63)) {
      return Err(kBadType);
    }
    op.sign = type[0] == 'i';
    op.bits = static_cast<int>(bits);
    if (!ParseBitOffset(c.argv[j + 2], op.bits, &op.offset)) return Err(kBadOffset);
    if (op.kind != FieldOp::kGet) {
      writes = true;
      highest = std::max(highest, op.offset + static_cast<uint64_t>(op.bits) - 1);
      if (!crdt::ParseRedisInteger(c.argv[j + 3], &op.value)) return Err(kNotInteger);
    }
    op.overflow = overflow;
    ops.push_back(op);
    j += op.kind == FieldOp::kGet ? 2 : 3;
  }
  const std::string& key = c.argv[1];
  std::string s;
  bool exists = false;
  if (writes && read_only) return Err("ERR BITFIELD_RO only supports the GET subcommand");
  if (auto e = ReadBits(c, key, &s, &exists)) return *e;
  bool dirty = false;
  if (writes && s.size() < (highest >> 3) + 1) {
    s.resize((highest >> 3) + 1, '\0');
    dirty = true;
  }
  dirty |= writes && !exists;
  bool changed = false;
  std::vector<Reply> out;
  for (const FieldOp& op : ops) {
    if (op.kind == FieldOp::kGet) {
      out.push_back(Reply::Integer(op.sign
                                       ? GetSigned(s, op.offset, op.bits)
                                       : static_cast<int64_t>(GetUnsigned(s, op.offset, op.bits))));
      continue;
    }
    bool over = false;
    uint64_t old_bits = 0, new_bits = 0;
    int64_t ret = 0;
    if (op.sign) {
      const int64_t old = GetSigned(s, op.offset, op.bits);
      int64_t limit = 0, next = 0;
      if (op.kind == FieldOp::kIncrBy) {
        over = SignedOverflow(old, op.value, op.bits, op.overflow, &limit);
        next = over ? limit
                    : static_cast<int64_t>(static_cast<uint64_t>(old) +
                                           static_cast<uint64_t>(op.value));
        ret = next;
      } else {
        over = SignedOverflow(op.value, 0, op.bits, op.overflow, &limit);
        next = over ? limit : op.value;
        ret = old;
      }
      old_bits = static_cast<uint64_t>(old);
      new_bits = static_cast<uint64_t>(next);
    } else {
      const uint64_t old = GetUnsigned(s, op.offset, op.bits);
      uint64_t limit = 0, next = 0;
      if (op.kind == FieldOp::kIncrBy) {
        over = UnsignedOverflow(old, op.value, op.bits, op.overflow, &limit);
        next = over ? limit : old + static_cast<uint64_t>(op.value);
        ret = static_cast<int64_t>(next);
      } else {
        over = UnsignedOverflow(static_cast<uint64_t>(op.value), 0, op.bits, op.overflow, &limit);
        next = over ? limit : static_cast<uint64_t>(op.value);
        ret = static_cast<int64_t>(old);
      }
      old_bits = old;
      new_bits = next;
    }
    if (over && op.overflow == Overflow::kFail) {
      out.push_back(Reply::Nil());
      continue;
    }
    out.push_back(Reply::Integer(ret));
    SetField(&s, op.offset, op.bits, new_bits);
    changed |= dirty || old_bits != new_bits;
  }
  // Redis creates (or grows) the string even when every write failed under FAIL.
  if (changed || dirty) WriteBits(c, key, s);
  return Reply::Array(std::move(out));
}

}  // namespace

// SETBIT key offset 0|1: the bit's previous value.
Reply SetBit(Ctx& c) {
  uint64_t offset = 0;
  if (!ParseBitOffset(c.argv[2], 0, &offset)) return Err(kBadOffset);
  int64_t on = 0;
  if (!crdt::ParseRedisInteger(c.argv[3], &on) || (on & ~int64_t{1}) != 0) return Err(kBadBit);
  std::string s;
  bool exists = false;
  if (auto e = ReadBits(c, c.argv[1], &s, &exists)) return *e;
  const bool grows = s.size() < (offset >> 3) + 1;
  if (grows) s.resize((offset >> 3) + 1, '\0');
  const int old = BitAt(s, offset);
  if (!exists || grows || old != on) {
    SetBitAt(&s, offset, static_cast<int>(on));
    WriteBits(c, c.argv[1], s);
  }
  return Reply::Integer(old);
}

// GETBIT key offset.
Reply GetBit(Ctx& c) {
  uint64_t offset = 0;
  if (!ParseBitOffset(c.argv[2], 0, &offset)) return Err(kBadOffset);
  std::string s;
  bool exists = false;
  if (auto e = ReadBits(c, c.argv[1], &s, &exists)) return *e;
  return Reply::Integer(BitAt(s, offset));
}

// BITCOUNT key [start end [BYTE|BIT]]: an absent key counts 0 before the arguments are
// checked, as in Redis.
Reply BitCount(Ctx& c) {
  std::string s;
  bool exists = false;
  if (auto e = ReadBits(c, c.argv[1], &s, &exists)) return *e;
  if (!exists) return Reply::Integer(0);
  BitRange r;
  r.end = static_cast<int64_t>(s.size()) - 1;
  if (c.argv.size() == 4 || c.argv.size() == 5) {
    if (!crdt::ParseRedisInteger(c.argv[2], &r.start) ||
        !crdt::ParseRedisInteger(c.argv[3], &r.end)) {
      return Err(kNotInteger);
    }
    if (r.start < 0 && r.end < 0 && r.start > r.end) return Reply::Integer(0);
    bool isbit = false;
    if (c.argv.size() == 5 && !ParseUnit(c.argv[4], &isbit)) return Err(kSyntax);
    ResolveRange(static_cast<int64_t>(s.size()), isbit, &r);
  } else if (c.argv.size() != 2) {
    return Err(kSyntax);
  }
  if (r.start > r.end) return Reply::Integer(0);
  const std::string_view bytes(s.data() + r.start, static_cast<size_t>(r.end - r.start + 1));
  int64_t n = Popcount(bytes);
  if (r.first_mask) n -= __builtin_popcount(static_cast<unsigned char>(s[r.start]) & r.first_mask);
  if (r.last_mask) n -= __builtin_popcount(static_cast<unsigned char>(s[r.end]) & r.last_mask);
  return Reply::Integer(n);
}

// BITPOS key bit [start [end [BYTE|BIT]]]: an absent key is all clear bits, before the
// range is checked, as in Redis.
Reply BitPos(Ctx& c) {
  int64_t bit = 0;
  if (!crdt::ParseRedisInteger(c.argv[2], &bit)) return Err(kNotInteger);
  if (bit != 0 && bit != 1) return Err("ERR The bit argument must be 1 or 0.");
  std::string s;
  bool exists = false;
  if (auto e = ReadBits(c, c.argv[1], &s, &exists)) return *e;
  if (!exists) return Reply::Integer(bit ? -1 : 0);
  BitRange r;
  r.end = static_cast<int64_t>(s.size()) - 1;
  bool end_given = false;
  if (c.argv.size() >= 4 && c.argv.size() <= 6) {
    if (!crdt::ParseRedisInteger(c.argv[3], &r.start)) return Err(kNotInteger);
    bool isbit = false;
    if (c.argv.size() == 6 && !ParseUnit(c.argv[5], &isbit)) return Err(kSyntax);
    if (c.argv.size() >= 5) {
      if (!crdt::ParseRedisInteger(c.argv[4], &r.end)) return Err(kNotInteger);
      end_given = true;
    }
    ResolveRange(static_cast<int64_t>(s.size()), isbit, &r);
  } else if (c.argv.size() != 3) {
    return Err(kSyntax);
  }
  if (r.start > r.end) return Reply::Integer(-1);
  // The range's bytes, the bits outside it set to the opposite of `bit`, then searched.
  std::string bytes =
      s.substr(static_cast<size_t>(r.start), static_cast<size_t>(r.end - r.start + 1));
  auto mask = [bit](char* b, unsigned char outside) {
    unsigned char v = static_cast<unsigned char>(*b);
    *b = static_cast<char>(bit ? (v & ~outside) : (v | outside));
  };
  if (r.first_mask) mask(&bytes.front(), r.first_mask);
  if (r.last_mask) mask(&bytes.back(), r.last_mask);
  int64_t pos = FirstBit(bytes, static_cast<int>(bit));
  // A clear bit looked for within an explicit end is not found past that end.
  if (end_given && bit == 0 && pos == static_cast<int64_t>(bytes.size() * 8)) {
    return Reply::Integer(-1);
  }
  if (pos != -1) pos += r.start << 3;
  return Reply::Integer(pos);
}

// BITOP AND|OR|XOR|NOT destkey key...: the result is as long as the longest input (missing
// bytes are zeros); an empty result deletes destkey. Replies the result's length.
Reply BitOp(Ctx& c) {
  const std::string& name = c.argv[1];
  enum { kAnd, kOr, kXor, kNot } op;
  if (IEquals(name, "and")) {
    op = kAnd;
  } else if (IEquals(name, "or")) {
    op = kOr;
  } else if (IEquals(name, "xor")) {
    op = kXor;
  } else if (IEquals(name, "not")) {
    op = kNot;
  } else {
    return Err(kSyntax);
  }
  if (op == kNot && c.argv.size() != 4) {
    return Err("ERR BITOP NOT must be called with a single source key.");
  }
  std::vector<std::string> inputs;
  size_t maxlen = 0;
  for (size_t j = 3; j < c.argv.size(); ++j) {
    std::string s;
    bool exists = false;
    if (auto e = ReadBits(c, c.argv[j], &s, &exists)) return *e;
    maxlen = std::max(maxlen, s.size());
    inputs.push_back(std::move(s));
  }
  std::string out(maxlen, '\0');
  for (size_t i = 0; i < maxlen; ++i) {
    auto byte = [&](size_t k) -> unsigned char {
      return i < inputs[k].size() ? static_cast<unsigned char>(inputs[k][i]) : 0;
    };
    unsigned char v = byte(0);
    if (op == kNot) v = static_cast<unsigned char>(~v);
    for (size_t k = 1; k < inputs.size(); ++k) {
      if (op == kAnd) v &= byte(k);
      if (op == kOr) v |= byte(k);
      if (op == kXor) v ^= byte(k);
    }
    out[i] = static_cast<char>(v);
  }
  const std::string& dst = c.argv[2];
  if (maxlen > 0) {
    if (c.ks.TypeOf(dst) == Type::kBoundedCounter) return Err(kWrongType);
    c.ks.Set(dst, out, c.now_us, c.delta);
    c.wrote = true;
  } else if (c.ks.TypeOf(dst) != Type::kNone) {
    c.wrote = c.ks.Del(dst, c.delta);
  }
  return Reply::Integer(static_cast<int64_t>(maxlen));
}

Reply BitFieldCmd(Ctx& c) { return BitField(c, false); }
Reply BitFieldRo(Ctx& c) { return BitField(c, true); }

}  // namespace engine
}  // namespace cluster_sim
