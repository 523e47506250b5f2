// Compact binary encoding shared by every CRDT: LEB128 varints, zigzag for signed values,
// length-prefixed byte strings. The Decoder never reads past its input and never trusts a
// length: any malformed, truncated or oversized input makes it fail with a message, and
// every Decode* function of the library then returns false. No exceptions, no UB.
//
//   varint   := 7 bits per byte, low group first, high bit = "more" (at most 10 bytes)
//   svarint  := varint(zigzag(v))
//   bytes    := varint(len) raw[len]
//   dot      := varint(replica) varint(counter)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/dot.h"

namespace crdt {

class Encoder {
 public:
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void PutSigned(int64_t v) {
    PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void PutByte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void PutBytes(std::string_view s) {
    PutVarint(s.size());
    out_.append(s.data(), s.size());
  }
  void PutDot(const Dot& d) {
    PutVarint(d.replica);
    PutVarint(d.counter);
  }
  // Room for n bytes in all (a hint: one allocation instead of a few as the output grows).
  void Reserve(size_t n) { out_.reserve(n); }
  const std::string& str() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  bool GetVarint(uint64_t* v) {
    // CASE 1: one byte (most counts, lengths, replica ids and counters): inline.
    if (pos_ < in_.size() && (static_cast<uint8_t>(in_[pos_]) & 0x80) == 0) {
      *v = static_cast<uint8_t>(in_[pos_++]);
      return true;
    }
    return GetVarintSlow(v);  // CASE 2: longer, truncated or overlong
  }
  bool GetVarint32(uint32_t* v) {
    uint64_t x = 0;
    if (!GetVarint(&x)) return false;
    if (x > UINT32_MAX) return Fail("value does not fit 32 bits");
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool GetSigned(int64_t* v) {
    uint64_t u = 0;
    if (!GetVarint(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool GetByte(uint8_t* b) {
    if (pos_ >= in_.size()) return Fail("truncated byte");
    *b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool GetBytes(std::string_view* s) {
    uint64_t n = 0;
    if (!GetVarint(&n)) return false;
    if (n > in_.size() - pos_) return Fail("byte string longer than the input");
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetDot(Dot* d) {
    if (!GetVarint32(&d->replica) || !GetVarint(&d->counter)) return false;
    if (d->counter == 0) return Fail("dot counter 0");
    return true;
  }
  // A count of items that each take at least min_bytes_each bytes: rejects counts the
  // remaining input cannot hold, so a hostile length never drives a huge allocation.
  bool GetCount(uint64_t* n, size_t min_bytes_each = 1) {
    if (!GetVarint(n)) return false;
    if (*n > (in_.size() - pos_) / (min_bytes_each ? min_bytes_each : 1)) {
      return Fail("item count larger than the input can hold");
    }
    return true;
  }

  // Records why (the first failure only, with the position) and stops the input. Out of
  // line: the inlined readers keep only the call.
  bool Fail(const char* why);
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  const std::string& error() const { return error_; }
  // The read position, and a return to one taken earlier that also forgets a failure
  // since (a reader that tries one shape, then another from the same place).
  size_t position() const { return pos_; }
  void Rewind(size_t pos) {
    pos_ = pos;
    error_.clear();
  }

 private:
  bool GetVarintSlow(uint64_t* v);

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace crdt
