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

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "crdt/dot.h"

namespace crdt {

// svarint's zigzag (above): small magnitudes of either sign in few bytes.
constexpr uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// Writes into a buffer of its own: first kInline bytes inside the encoder (most encodings are
// an effect of a few dozen bytes, written with no allocation), then a heap string kept larger
// than what it holds (grown as std::string grows). A byte or a varint is stored with one
// pointer update, without the per-byte size and capacity updates of std::string::push_back.
// Not copyable or movable: it points into itself.
class Encoder {
 public:
  Encoder() = default;
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  void PutVarint(uint64_t v) {
    // Short of room for the longest varint: grown by no more than v needs.
    if (end_ - pos_ < static_cast<ptrdiff_t>(kMaxVarint)) Grow(VarintLength(v));
    pos_ = VarintAt(pos_, v);
  }
  void PutSigned(int64_t v) { PutVarint(ZigZagEncode(v)); }
  void PutByte(uint8_t b) {
    if (pos_ == end_) Grow(1);
    *pos_++ = static_cast<char>(b);
  }
  void PutBytes(std::string_view s) { Commit(BytesAt(Room(kMaxVarint + s.size()), s)); }
  void PutDot(const Dot& d) { Commit(DotAt(Room(kMaxDot), d)); }
  // Room for n bytes in all (a hint: one allocation instead of a few as the output grows).
  void Reserve(size_t n) {
    if (n > static_cast<size_t>(end_ - begin_)) Grow(n - size());
  }
  size_t size() const { return static_cast<size_t>(pos_ - begin_); }  // the bytes written

  // Unchecked writes, for an encoding whose longest form is known before it is written:
  // Room(n) makes room for n more bytes and returns where they go; the caller writes at
  // most n bytes there through the *At functions, each returning the position after what
  // it wrote, then Commit(end) adds them. The cursor lives in the caller (a register), not
  // in the encoder, whose position the Put functions store and load again around every
  // call they sit between: one room test and one store for the whole run of writes.
  // REQUIRES: nothing else uses the encoder between Room and Commit (a write, str(),
  // Release or AppendTo may move or trim its buffer). Ask for room per item of a list, not
  // for the whole list's longest form: Room grows the buffer for bytes it may never get.
  // A debug build checks that a run wrote no more than it asked room for (the buffer
  // usually has more room than asked, so an overrun would otherwise go unseen).
  char* Room(size_t n) {
    if (static_cast<size_t>(end_ - pos_) < n) Grow(n);
#ifndef NDEBUG
    room_end_ = pos_ + n;
#endif
    return pos_;
  }
  void Commit(char* end) {
    assert(end >= pos_ && end <= end_);
#ifndef NDEBUG
    assert(end <= room_end_ && "a run wrote more than it asked Room for");
#endif
    pos_ = end;
  }
  static constexpr size_t kMaxVarint = 10;  // the longest varint's bytes
  static constexpr size_t kMaxDot = 2 * kMaxVarint;
  [[gnu::always_inline]] static char* VarintAt(char* p, uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
  }
  [[gnu::always_inline]] static char* SignedAt(char* p, int64_t v) {
    return VarintAt(p, ZigZagEncode(v));
  }
  [[gnu::always_inline]] static char* DotAt(char* p, const Dot& d) {
    return VarintAt(VarintAt(p, d.replica), d.counter);
  }
  // PutBytes's bytes: REQUIRES room for kMaxVarint + s.size().
  [[gnu::always_inline]] static char* BytesAt(char* p, std::string_view s) {
    p = VarintAt(p, s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return p + s.size();
  }
  // The bytes written, as a string held by the encoder until its next write or release.
  // Const, yet it changes the encoder's buffer (trims or fills its string): not for use from
  // two threads at once, even to read.
  const std::string& str() const;
  // The bytes written; the encoder is empty again.
  std::string Release();
  // Appends the bytes written to *out (into its room, or handing it the heap buffer when
  // *out is empty and has less room); the encoder is empty again.
  // REQUIRES: out is not the string str() returned (the encoder's own buffer).
  void AppendTo(std::string* out);

 private:
  static constexpr size_t kInline = 256;

  static size_t VarintLength(uint64_t v) {
    size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
  }
  // Makes room for n more bytes: first the capacity heap_ already has, else double it (as
  // std::string grows), or more if n needs it; the bytes leave the inline buffer the first
  // time. Out of line: rare.
  void Grow(size_t n);
  // Empty, writing into the inline buffer again (heap_ keeps its capacity, unless AppendTo handed
  // its buffer over and took the caller's).
  void Reset() {
    begin_ = pos_ = inline_;
    end_ = inline_ + kInline;
  }

  // Bytes [begin_, pos_) written, [pos_, end_) room: in inline_, or in heap_ (its size the
  // bytes and the room). str() trims heap_ to the bytes (end_ = pos_, all three taken again
  // from heap_), or copies the inline bytes into it.
  mutable char* begin_ = inline_;
  mutable char* pos_ = inline_;
  mutable char* end_ = inline_ + kInline;
  mutable std::string heap_;
#ifndef NDEBUG
  char* room_end_ = nullptr;  // the end of the room the last Room gave (Commit's check)
#endif
  char inline_[kInline];
};

// The inverse of ZigZagEncode: both decoders' GetSigned.
constexpr int64_t ZigZagDecode(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  [[gnu::always_inline]] bool GetVarint(uint64_t* v) {
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
    *v = ZigZagDecode(u);
    return true;
  }
  bool GetByte(uint8_t* b) {
    if (pos_ >= in_.size()) return Fail("truncated byte");
    *b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  [[gnu::always_inline]] bool GetBytes(std::string_view* s) {
    // CASE 1: a length of one byte that the input holds (most keys, values and members):
    // inline, the same bytes and position as CASE 2.
    if (pos_ < in_.size()) {
      const uint8_t n = static_cast<uint8_t>(in_[pos_]);
      if (n < 0x80 && n < in_.size() - pos_) {
        // The view built directly: the test above is substr's bounds check, and substr's
        // own (with its throw) is not always inlined, a call per string read.
        *s = std::string_view(in_.data() + pos_ + 1, n);
        pos_ += size_t{1} + n;
        return true;
      }
    }
    return GetBytesSlow(s);  // CASE 2: longer, truncated or malformed
  }
  // Out of line (encoding.cc): a short dot's two varints read at once.
  bool GetDot(Dot* d);
  // A count of items that each take at least min_bytes_each bytes: rejects counts the
  // remaining input cannot hold, so a hostile length never drives a huge allocation.
  [[gnu::always_inline]] bool GetCount(uint64_t* n, size_t min_bytes_each = 1) {
    // CASE 1: a count of one byte that the rest can hold (n * each <= rest exactly when
    // n <= rest / each): inline, as CASE 2 reads it. The product needs no division because
    // it cannot wrap: b < 0x80 and callers pass an item size of a few bytes (1 to 6), a
    // constant once inlined; the assert keeps a future caller within that.
    assert(min_bytes_each <= SIZE_MAX / 0x80);
    if (pos_ < in_.size()) {
      const uint8_t b = static_cast<uint8_t>(in_[pos_]);
      if (b < 0x80 && b * (min_bytes_each ? min_bytes_each : 1) <= in_.size() - pos_ - 1) {
        *n = b;
        ++pos_;
        return true;
      }
    }
    return GetCountSlow(n, min_bytes_each);  // CASE 2: longer, too large or truncated
  }

  // Records why (the first failure only, with the position) and stops the input. Out of
  // line: the inlined readers keep only the call.
  bool Fail(const char* why);
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  const std::string& error() const { return error_; }
  // The read position, and a return to one taken earlier that also forgets any failure
  // (a reader that tries one shape, then another from the same place).
  // REQUIRES: pos is a position over the same bytes (position() of a Decoder, or of a
  // TryDecoder, over this input; pos <= the input's size).
  size_t position() const { return pos_; }
  void Rewind(size_t pos) {
    pos_ = pos <= in_.size() ? pos : in_.size();
    error_.clear();
  }

 private:
  bool GetVarintSlow(uint64_t* v);
  bool GetBytesSlow(std::string_view* s);
  bool GetDotSlow(Dot* d);
  bool GetCountSlow(uint64_t* n, size_t min_bytes_each);

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

// Decoder's reads without its error messages, for a caller that tries one expected shape
// first and, on any other shape and on malformed bytes, reads the same bytes again with a
// Decoder (which reports the error): a one-key effect's merge (Keyspace::MergeEncoded).
// Each reader accepts exactly the inputs Decoder's reader of that name accepts, with the
// same value and the same bytes consumed; after a false the position is unspecified and
// the reader is not used again. All of it inline and nothing of it in memory that a call
// could see, so the compiler keeps its cursor in registers: a Decoder's position is stored
// and loaded again around each of its out-of-line readers and failures. Value type.
class TryDecoder {
 public:
  explicit TryDecoder(std::string_view in)
      : begin_(reinterpret_cast<const uint8_t*>(in.data())), p_(begin_), end_(begin_ + in.size()) {}

  [[gnu::always_inline]] bool GetVarint(uint64_t* v) {
    if (p_ < end_ && *p_ < 0x80) {  // CASE 1: one byte: most counts, lengths and ids
      *v = *p_++;
      return true;
    }
    if (end_ - p_ >= 3) {
      // CASE 2: two or three bytes (replica ids, which hold the site in their high 16
      // bits; dot counters past 127), without the loop's tests per byte. The forms of
      // Decoder's ReadShortVarint (encoding.cc), but one length test for both and no second
      // test of the first byte (CASE 1 did it): kept apart for the merge's instructions;
      // the input's last two bytes go to the loop, which reads the same values.
      if (p_[1] < 0x80) {
        *v = (p_[0] & 0x7Fu) | (uint64_t{p_[1]} << 7);
        p_ += 2;
        return true;
      }
      if (p_[2] < 0x80) {
        *v = (p_[0] & 0x7Fu) | (uint64_t{p_[1] & 0x7Fu} << 7) | (uint64_t{p_[2]} << 14);
        p_ += 3;
        return true;
      }
    }
    // CASE 3: Decoder::GetVarintSlow's loop (its short forms read the same values). A
    // copy: the loop shared as an inline function over (p, end) cost the merge about 20
    // instructions per op in the simulator (callgrind), so each decoder keeps its own.
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      if (shift == 63 && (b & 0x7E) != 0) return false;
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  [[gnu::always_inline]] bool GetSigned(int64_t* v) {
    uint64_t u = 0;
    if (!GetVarint(&u)) return false;
    *v = ZigZagDecode(u);
    return true;
  }
  [[gnu::always_inline]] bool GetByte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = *p_++;
    return true;
  }
  [[gnu::always_inline]] bool GetBytes(std::string_view* s) {
    uint64_t n = 0;
    if (!GetVarint(&n) || n > static_cast<size_t>(end_ - p_)) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  [[gnu::always_inline]] bool GetDot(Dot* d) {
    uint64_t replica = 0, counter = 0;
    if (!GetVarint(&replica) || replica > UINT32_MAX || !GetVarint(&counter) || counter == 0) {
      return false;
    }
    d->replica = static_cast<ReplicaId>(replica);
    d->counter = counter;
    return true;
  }
  // Decoder::GetCount's test (the same inputs pass) by a product, not a division (a real
  // one where the item size is not a constant): n <= rest first, so n * each cannot wrap
  // for an item size within the assert. The merge's readers call GetCountOfReads instead.
  [[gnu::always_inline]] bool GetCount(uint64_t* n, size_t min_bytes_each = 1) {
    assert(min_bytes_each <= 0xFFFF);
    if (!GetVarint(n)) return false;
    const size_t rest = static_cast<size_t>(end_ - p_);
    const size_t each = min_bytes_each ? min_bytes_each : 1;
    return *n <= rest && *n * each <= rest;
  }
  // Decoder::Fail's part that matters here: false (no message is kept).
  bool Fail(const char*) { return false; }
  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  size_t position() const { return static_cast<size_t>(p_ - begin_); }

 private:
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
};

// A count of n items that the caller then reads, every one, each read taking at least
// min_bytes_each bytes, failing if any read fails. Those reads need the bytes that
// GetCount's bound test asks for, so a reader that only has to refuse what a Decoder
// refuses (a TryDecoder, whose every false sends the caller back to a Decoder) reads the
// count as a plain varint: the same inputs pass the count and its reads together. A
// Decoder keeps GetCount (its failure names the count). Always inline, as the readers.
template <typename Dec>
[[gnu::always_inline]] inline bool GetCountOfReads(Dec* dec, uint64_t* n, size_t min_bytes_each) {
  if constexpr (std::is_same_v<Dec, TryDecoder>) {
    return dec->GetVarint(n);
  } else {
    return dec->GetCount(n, min_bytes_each);
  }
}

}  // namespace crdt
