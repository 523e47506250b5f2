// Helpers shared by the fuzz targets (fuzz/*_fuzz.cc): a check that aborts with a message
// (libFuzzer and the replay driver report an abort as a crash, with its input), and a
// reader that takes structured values from the fuzzer's bytes. Each target defines
// LLVMFuzzerTestOneInput; it is linked either with libFuzzer (-DAASIM_FUZZ=ON, clang) or
// with replay_main.cc (any compiler), which runs saved inputs as a test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fuzz {

// Consumes the fuzzer's bytes front to back; past the end every read gives 0 or "".
class Input {
 public:
  Input(const uint8_t* data, size_t size) : s_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return s_.empty(); }
  uint8_t Byte() {
    if (s_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return b;
  }
  std::string_view Bytes(size_t n) {
    std::string_view out = s_.substr(0, n);
    s_.remove_prefix(out.size());
    return out;
  }
  // A length-prefixed string: one byte L < 255 then L bytes, or 255, two bytes of length
  // (little-endian) then that many bytes.
  std::string_view Str() {
    size_t n = Byte();
    if (n == 255) n = Byte() | (size_t{Byte()} << 8);
    return Bytes(n);
  }

 private:
  std::string_view s_;
};

// The encoding Input::Str reads (for seed files).
inline void PutStr(std::string_view s, std::string* out) {
  if (s.size() < 255) {
    out->push_back(static_cast<char>(s.size()));
  } else {
    out->push_back(static_cast<char>(255));
    out->push_back(static_cast<char>(s.size() & 0xFF));
    out->push_back(static_cast<char>((s.size() >> 8) & 0xFF));
  }
  out->append(s.substr(0, 0xFFFF));
}

}  // namespace fuzz
