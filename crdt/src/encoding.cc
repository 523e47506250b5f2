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
