#include "crdt/encoding.h"

#include <algorithm>
#include <string>

namespace crdt {

void Encoder::Grow(size_t n) {
  if (out_.size() - size_ >= n) return;
  const size_t need = size_ + n;
  out_.resize(need <= out_.capacity() ? out_.capacity() : std::max(need, 2 * out_.capacity()));
}

bool Decoder::GetVarintSlow(uint64_t* v) {
  // CASE 1: two or three bytes (replica ids, which hold the site in their high 16 bits;
  // dot counters past 127) when three bytes remain, without the loop's checks per byte.
  // The same values as the loop (which also takes overlong forms such as 0x80 0x00).
  if (in_.size() - pos_ >= 3) {
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
    if ((p[1] & 0x80) == 0) {
      *v = (p[0] & 0x7Fu) | (uint64_t{p[1]} << 7);
      pos_ += 2;
      return true;
    }
    if ((p[2] & 0x80) == 0) {
      *v = (p[0] & 0x7Fu) | (uint64_t{p[1] & 0x7Fu} << 7) | (uint64_t{p[2]} << 14);
      pos_ += 3;
      return true;
    }
  }
  // CASE 2: longer, truncated or past 10 bytes.
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size()) return Fail("truncated varint");
    uint8_t b = static_cast<uint8_t>(in_[pos_++]);
    if (shift == 63 && (b & 0x7E) != 0) return Fail("varint overflows 64 bits");
    result |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return Fail("varint longer than 10 bytes");
}

bool Decoder::Fail(const char* why) {
  if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(pos_);
  pos_ = in_.size();
  return false;
}

}  // namespace crdt
