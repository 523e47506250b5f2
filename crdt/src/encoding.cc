#include "crdt/encoding.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

namespace crdt {

void Encoder::Grow(size_t n) {
  const size_t written = size();
  if (static_cast<size_t>(end_ - pos_) >= n) return;
  const size_t need = written + n;
  if (begin_ == inline_) {
    // CASE 1: the first growth: the bytes move to heap_ (which may hold an old str() copy).
    heap_.resize(std::max({need, 2 * kInline, heap_.capacity()}));
    std::memcpy(heap_.data(), inline_, written);
  } else {
    // CASE 2: heap_ holds the bytes.
    heap_.resize(need <= heap_.capacity() ? heap_.capacity()
                                          : std::max(need, 2 * heap_.capacity()));
  }
  begin_ = heap_.data();
  pos_ = begin_ + written;
  end_ = begin_ + heap_.size();
}

const std::string& Encoder::str() const {
  if (begin_ == inline_) {
    heap_.assign(begin_, size());
  } else {
    // The room goes (the next write makes it again). A shrinking resize may reallocate:
    // the pointers are taken again from the string.
    const size_t written = size();
    heap_.resize(written);
    begin_ = heap_.data();
    pos_ = end_ = begin_ + written;
  }
  return heap_;
}

std::string Encoder::Release() {
  std::string out;
  AppendTo(&out);
  return out;
}

void Encoder::AppendTo(std::string* out) {
  assert(out != &heap_);
  if (begin_ != inline_ && out->empty() && out->capacity() < size()) {
    // The heap buffer becomes *out: no copy (a large encoding into a new string).
    heap_.resize(size());
    out->swap(heap_);
    heap_.clear();
  } else {
    out->append(begin_, size());
  }
  Reset();
}

namespace {

// A varint of one to three bytes among the `avail` bytes at p: its length, or 0 if it is
// longer or runs past them. The same value as the checked loop below (which also takes
// overlong forms such as 0x80 0x00).
size_t ReadShortVarint(const uint8_t* p, size_t avail, uint64_t* v) {
  if (avail >= 1 && (p[0] & 0x80) == 0) {
    *v = p[0];
    return 1;
  }
  if (avail >= 2 && (p[1] & 0x80) == 0) {
    *v = (p[0] & 0x7Fu) | (uint64_t{p[1]} << 7);
    return 2;
  }
  if (avail >= 3 && (p[2] & 0x80) == 0) {
    *v = (p[0] & 0x7Fu) | (uint64_t{p[1] & 0x7Fu} << 7) | (uint64_t{p[2]} << 14);
    return 3;
  }
  return 0;
}

}  // namespace

bool Decoder::GetVarintSlow(uint64_t* v) {
  // CASE 1: two or three bytes (replica ids of sites below 32, which hold the site in
  // their high 16 bits; dot counters past 127), the last bytes of the input included,
  // without the loop's checks per byte.
  const size_t n =
      ReadShortVarint(reinterpret_cast<const uint8_t*>(in_.data() + pos_), in_.size() - pos_, v);
  if (n != 0) {
    pos_ += n;
    return true;
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

bool Decoder::GetDot(Dot* d) {
  // CASE 1: a replica id and a counter of at most three bytes each (below 2^21: no 32-bit
  // check), the input's last dot included: most dots, read without the checks of each
  // varint.
  const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
  const size_t avail = in_.size() - pos_;
  uint64_t replica = 0, counter = 0;
  const size_t n = ReadShortVarint(p, avail, &replica);
  const size_t m = n != 0 ? ReadShortVarint(p + n, avail - n, &counter) : 0;
  if (m != 0 && counter != 0) {
    d->replica = static_cast<ReplicaId>(replica);
    d->counter = counter;
    pos_ += n + m;
    return true;
  }
  return GetDotSlow(d);  // CASE 2: any other dot, and every malformed one
}

// Out of line: GetDot's case 1 then needs no stack frame (a call per dot read).
[[gnu::noinline]] bool Decoder::GetDotSlow(Dot* d) {
  // The errors of the readers.
  if (!GetVarint32(&d->replica) || !GetVarint(&d->counter)) return false;
  if (d->counter == 0) return Fail("dot counter 0");
  return true;
}

bool Decoder::GetBytesSlow(std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(&n)) return false;
  if (n > in_.size() - pos_) return Fail("byte string longer than the input");
  *s = std::string_view(in_.data() + pos_, n);  // checked above
  pos_ += n;
  return true;
}

bool Decoder::GetCountSlow(uint64_t* n, size_t min_bytes_each) {
  if (!GetVarint(n)) return false;
  if (*n > (in_.size() - pos_) / (min_bytes_each ? min_bytes_each : 1)) {
    return Fail("item count larger than the input can hold");
  }
  return true;
}

bool Decoder::Fail(const char* why) {
  if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(pos_);
  pos_ = in_.size();
  return false;
}

}  // namespace crdt
