// Encoding: primitives, round trips of states and deltas of every type, and hostile input:
// random bytes, every truncation and bit flips of valid encodings, huge counts and lengths.
// Decoding must never crash (this suite runs under ASan/UBSan in CI) and either fail with a
// message or produce a value whose re-encoding decodes to the same value.
#include "crdt/encoding.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "all_types.h"
#include "crdt/aw_or_set.h"
#include "crdt/dot.h"
#include "crdt/keyspace.h"
#include "crdt/lww_register.h"
#include "crdt/or_map.h"
#include "crdt/pn_counter.h"
#include "crdt/string_value.h"
#include "properties.h"
#include "test_util.h"

namespace crdt_test {
namespace {

using crdt::Decoder;
using crdt::Dot;
using crdt::Encoder;
using crdt::PnCounter;
using crdt::RegisterStore;

constexpr crdt::ReplicaId kA = crdt::MakeReplicaId(1, 1);

// ---- primitives ----

TEST(EncoderTest, VarintsRoundTrip) {
  const uint64_t values[] = {0,          1,
                             127,        128,
                             16383,      16384,
                             255,        1000,
                             UINT32_MAX, uint64_t{1} << 35,
                             INT64_MAX,  uint64_t{1} << 63,
                             UINT64_MAX};
  const int64_t signed_values[] = {0, 1, -1, 63, -64, 64, -65, INT64_MAX, INT64_MIN, -1000000};
  Encoder enc;
  for (uint64_t v : values) enc.PutVarint(v);
  for (int64_t v : signed_values) enc.PutSigned(v);
  enc.PutBytes("");
  enc.PutBytes(std::string("\0\xff", 2));
  enc.PutDot(Dot{kA, 9});
  enc.PutByte(0xAB);
  Decoder dec(enc.str());
  for (uint64_t v : values) {
    uint64_t got = 0;
    ASSERT_TRUE(dec.GetVarint(&got));
    EXPECT_EQ(got, v);
  }
  for (int64_t v : signed_values) {
    int64_t got = 0;
    ASSERT_TRUE(dec.GetSigned(&got));
    EXPECT_EQ(got, v);
  }
  std::string_view s;
  ASSERT_TRUE(dec.GetBytes(&s));
  EXPECT_EQ(s, "");
  ASSERT_TRUE(dec.GetBytes(&s));
  EXPECT_EQ(s, std::string_view("\0\xff", 2));
  Dot d;
  ASSERT_TRUE(dec.GetDot(&d));
  EXPECT_EQ(d, (Dot{kA, 9}));
  uint8_t b = 0;
  ASSERT_TRUE(dec.GetByte(&b));
  EXPECT_EQ(b, 0xAB);
  EXPECT_TRUE(dec.done());
  EXPECT_TRUE(dec.error().empty());
  // Small values take one byte; the largest ten.
  Encoder one, ten;
  one.PutVarint(127);
  ten.PutVarint(UINT64_MAX);
  EXPECT_EQ(one.str().size(), 1u);
  EXPECT_EQ(ten.str().size(), 10u);
}

// n bytes of letters, a to z again and again.
std::string Letters(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + i % 26));
  return s;
}

void PutBytes(Encoder* enc, std::string_view bytes) {
  for (char c : bytes) enc->PutByte(static_cast<uint8_t>(c));
}

// enc->AppendTo into a string holding `head`, reserved with `room` bytes first.
std::string AppendedTo(Encoder* enc, size_t room, const std::string& head) {
  std::string out;
  out.reserve(room);
  out = head;
  enc->AppendTo(&out);
  return out;
}

// AppendTo puts exactly the bytes written after the string's, whether they are few (the
// inline buffer) or many (the heap), into a string empty or not, with room or without; the
// encoder is empty afterwards and writes again from the start.
TEST(EncoderTest, AppendToPutsTheBytesAfterTheString) {
  for (size_t n : {size_t{0}, size_t{3}, size_t{255}, size_t{256}, size_t{257}, size_t{5000}}) {
    const std::string want = Letters(n);
    for (size_t room : {size_t{0}, size_t{4}, size_t{10000}}) {
      for (const char* head : {"", "head"}) {
        SCOPED_TRACE(testing::Message()
                     << n << " bytes, room " << room << ", head '" << head << "'");
        Encoder enc;
        enc.PutByte(9);
        enc.Release();  // a previous use, as an encoder that writes again
        PutBytes(&enc, want);
        EXPECT_EQ(enc.size(), n);
        const std::string out = AppendedTo(&enc, room, head);
        EXPECT_EQ(out, head + want);
        EXPECT_EQ(enc.size(), 0u);
        enc.PutVarint(300);
        EXPECT_EQ(enc.str(), "\xac\x02");
      }
    }
  }
}

// The hand-overs at the edges of heap mode: a heap buffer reserved large with a few bytes in
// it (fewer than an empty string's inline room: copied; more: the buffer handed over, trimmed
// to them), AppendTo right after str() trimmed the heap buffer, and an encoder that writes
// again after each: the bytes are exactly those written.
TEST(EncoderTest, HeapHandOversGiveExactlyTheBytesWritten) {
  for (const std::string& few : {std::string("abc"), std::string(20, 'f')}) {
    for (size_t room : {size_t{0}, size_t{10000}}) {
      for (const std::string& head : {std::string(), std::string("head")}) {
        SCOPED_TRACE(testing::Message()
                     << few.size() << " bytes, room " << room << ", head '" << head << "'");
        Encoder enc;
        enc.Reserve(1000);  // heap mode with a few bytes in it
        PutBytes(&enc, few);
        const std::string out = AppendedTo(&enc, room, head);
        EXPECT_EQ(out, head + few);
        EXPECT_EQ(enc.size(), 0u);
        // Written again after the hand-over (the heap buffer kept or given away).
        const std::string want = Letters(300);
        PutBytes(&enc, want);
        EXPECT_EQ(enc.str(), want);
        // AppendTo right after a heap-mode str().
        std::string out2 = head;
        enc.AppendTo(&out2);
        EXPECT_EQ(out2, head + want);
        EXPECT_EQ(out, head + few);  // the first string untouched
        enc.PutVarint(300);
        EXPECT_EQ(enc.str(), "\xac\x02");
        enc.PutByte(1);
        EXPECT_EQ(enc.Release(), "\xac\x02\x01");
      }
    }
  }
}

// The encoder writes into room past what it holds: str() and Release() give exactly the
// bytes written, whatever was reserved, read mid-way or grown, and writing goes on after
// str().
TEST(EncoderTest, RoomNeverShowsInTheOutput) {
  std::string want;
  Encoder enc;
  EXPECT_EQ(enc.str(), "");
  enc.PutByte(7);
  want.push_back(7);
  EXPECT_EQ(enc.str(), want);  // read mid-way, then written again
  enc.Reserve(3);              // smaller than what may be held: a hint only
  for (int i = 0; i < 300; ++i) {
    enc.PutVarint(uint64_t{1} << (i % 64));
    Encoder one;
    one.PutVarint(uint64_t{1} << (i % 64));
    want += one.Release();
    if (i % 37 == 0) {
      const std::string big(static_cast<size_t>(i) * 3, static_cast<char>('a' + i % 26));
      enc.PutBytes(big);
      Encoder len;
      len.PutVarint(big.size());
      want += len.str() + big;
      EXPECT_EQ(enc.str(), want) << i;
    }
    if (i == 100) enc.Reserve(want.size() + 1000);
  }
  enc.PutBytes("");
  want.push_back(0);
  EXPECT_EQ(enc.str(), want);
  std::string out = enc.Release();
  EXPECT_EQ(out, want);
  EXPECT_EQ(enc.str(), "");  // released: empty, and usable again
  enc.PutByte(1);
  EXPECT_EQ(enc.str(), std::string(1, '\x01'));
}

// The varint format written by hand (encoding.h), for checking the encoder's writers.
std::string VarintBytes(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
  return out;
}

// Unchecked runs (Room, the *At writers, Commit) write the format's bytes, between checked
// Put calls, from the inline buffer into the heap (a run that needs more than the room
// left, the first time and again), and after str() trimmed the heap buffer to its bytes.
TEST(EncoderTest, UncheckedRunsWriteTheFormatsBytesWhereverTheRoomIs) {
  std::string want;
  Encoder enc;
  crdt_test::Rng rng(0x600d);
  for (int i = 0; i < 400; ++i) {
    SCOPED_TRACE(testing::Message() << "run " << i);
    const uint64_t v = uint64_t{1} << rng.Uniform(64);
    const int64_t sv = rng.OneIn(2) ? -static_cast<int64_t>(rng.Uniform(1000000)) : INT64_MIN;
    const Dot d{static_cast<crdt::ReplicaId>(rng.Uniform(UINT32_MAX)), v | 1};
    const std::string bytes = Letters(rng.OneIn(10) ? rng.Uniform(700) : rng.Uniform(20));
    // The run's bytes, built first: Room gets exactly their size, so a writer that wrote
    // more than its bytes would overrun (a debug build's Commit check, or ASan at a growth).
    const std::string run =
        VarintBytes(v) +
        VarintBytes((static_cast<uint64_t>(sv) << 1) ^ (sv < 0 ? ~uint64_t{0} : 0)) +
        VarintBytes(d.replica) + VarintBytes(d.counter) + VarintBytes(bytes.size()) + bytes;
    char* p = enc.Room(run.size());
    p = Encoder::VarintAt(p, v);
    p = Encoder::SignedAt(p, sv);
    p = Encoder::DotAt(p, d);
    p = Encoder::BytesAt(p, bytes);
    enc.Commit(p);
    want += run;
    enc.PutVarint(v);  // a checked write right after the run
    want += VarintBytes(v);
    if (rng.OneIn(7)) {
      ASSERT_EQ(enc.str(), want);  // trims the heap buffer: no room left
    }
  }
  EXPECT_EQ(enc.Release(), want);
  // An empty run adds nothing.
  enc.Commit(enc.Room(0));
  EXPECT_EQ(enc.str(), "");
}

// The unchecked writers' callers at their longest forms: a counter's slots (a replica id
// and epoch of 32 bits, totals and bases of 64) and a register's writes (64-bit dot
// counters, the most negative timestamp, a value past the inline buffer) decode from bytes
// built here with the checked writers and encode to the same bytes; a debug build's Commit
// also checks that no run wrote past the room its caller asked for.
TEST(EncoderTest, LongestFormsOfCountersAndRegistersEncodeWithinTheirRoom) {
  constexpr uint64_t kMax = UINT64_MAX;
  Encoder counter;
  counter.PutVarint(4);  // two slots, each with its epoch entry
  for (const uint64_t replica_step : {uint64_t{1}, uint64_t{UINT32_MAX} - 1}) {
    counter.PutVarint(replica_step);
    for (int i = 0; i < 4; ++i) counter.PutVarint(kMax);  // p, n, p - base, n - base
    counter.PutVarint(0);
    counter.PutVarint(UINT32_MAX);  // the epoch
  }
  std::string error;
  const std::optional<PnCounter> c = PnCounter::Decode(counter.str(), &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_EQ(c->Encode(), counter.str());
  Encoder slot;
  c->EncodeSlotOf(&slot, UINT32_MAX);
  Encoder want_slot;
  want_slot.PutVarint(2);
  want_slot.PutVarint(UINT32_MAX);
  for (int i = 0; i < 4; ++i) want_slot.PutVarint(kMax);
  want_slot.PutVarint(0);
  want_slot.PutVarint(UINT32_MAX);
  EXPECT_EQ(slot.str(), want_slot.str());

  Encoder reg;
  reg.PutVarint(3);
  const std::string long_value(300, 'v');
  const Dot dots[] = {{1, kMax}, {UINT32_MAX - 1, kMax}, {UINT32_MAX, kMax}};
  const int64_t stamps[] = {INT64_MIN, INT64_MAX, -1};
  for (int i = 0; i < 3; ++i) {
    reg.PutDot(dots[i]);
    reg.PutSigned(stamps[i]);
    reg.PutBytes(i == 1 ? std::string_view(long_value) : std::string_view());
  }
  Decoder dec(reg.str());
  RegisterStore store;
  ASSERT_TRUE(store.Decode(&dec) && dec.done()) << dec.error();
  Encoder again;
  store.Encode(&again);
  EXPECT_EQ(again.str(), reg.str());
}

TEST(DecoderTest, RewindReturnsToAPositionAndForgetsTheFailure) {
  Encoder enc;
  enc.PutVarint(5);
  enc.PutVarint(300);  // two bytes
  enc.PutBytes("abc");
  Decoder dec(enc.str());
  uint64_t v = 0;
  ASSERT_TRUE(dec.GetVarint(&v));
  const size_t at = dec.position();
  EXPECT_EQ(at, 1u);
  ASSERT_TRUE(dec.GetVarint(&v));
  EXPECT_EQ(v, 300u);
  EXPECT_FALSE(dec.GetCount(&v, 5));  // 3 items of 5 bytes in the 3 bytes left
  EXPECT_FALSE(dec.error().empty());
  EXPECT_TRUE(dec.done());
  dec.Rewind(at);
  EXPECT_TRUE(dec.error().empty());
  EXPECT_EQ(dec.position(), at);
  ASSERT_TRUE(dec.GetVarint(&v));
  EXPECT_EQ(v, 300u);
  std::string_view s;
  ASSERT_TRUE(dec.GetBytes(&s));
  EXPECT_EQ(s, "abc");
  EXPECT_TRUE(dec.done());
  // A failure after the rewind is reported from its own position.
  dec.Rewind(at);
  ASSERT_TRUE(dec.GetVarint(&v));
  EXPECT_FALSE(dec.GetCount(&v, 5));
  EXPECT_NE(dec.error().find("at byte 4"), std::string::npos) << dec.error();
}

// GetVarint (one byte inline; two or three bytes unrolled when three remain) reads what
// a byte-by-byte LEB128 reader reads: every input of 1 to 4 bytes drawn from bytes that
// cover each 7-bit group's edges and the "more" bit, then a second varint after it.
TEST(DecoderTest, VarintsOfEveryShortFormReadAsByteByByte) {
  // The reference: 7 bits per byte, at most 10 bytes, the 10th holding one bit.
  auto reference = [](std::string_view in, size_t* pos, uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (*pos >= in.size()) return false;
      const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
      if (shift == 63 && (b & 0x7E) != 0) return false;
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  };
  const uint8_t bytes[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF};
  std::vector<std::string> inputs = {""};
  for (int len = 1; len <= 4; ++len) {
    std::vector<std::string> longer;
    for (const std::string& in : inputs) {
      if (static_cast<int>(in.size()) != len - 1) continue;
      for (uint8_t b : bytes) longer.push_back(in + static_cast<char>(b));
    }
    inputs.insert(inputs.end(), longer.begin(), longer.end());
  }
  for (const std::string& in : inputs) {
    SCOPED_TRACE(testing::Message() << "input of " << in.size() << " bytes, first "
                                    << (in.empty() ? -1 : static_cast<uint8_t>(in[0])));
    Decoder dec(in);
    size_t pos = 0;
    for (int k = 0; k < 2; ++k) {
      uint64_t want = 0, got = 0;
      const bool ok = reference(in, &pos, &want);
      ASSERT_EQ(dec.GetVarint(&got), ok);
      if (!ok) break;
      EXPECT_EQ(got, want);
      EXPECT_EQ(dec.position(), pos);
    }
  }
}

// GetDot's short form (two varints of at most three bytes read at once) reads what two
// checked reads read (a replica id of 32 bits, then a counter other than 0): random inputs
// of up to 10 edge bytes, compared on the result, the dot, the position and the error.
TEST(DecoderTest, DotsReadAsTwoCheckedVarints) {
  const uint8_t bytes[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF, 0x0F};
  for (uint64_t seed : TestSeeds(4, 0xd07)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int k = 0; k < 5000; ++k) {
      std::string in;
      const uint64_t len = rng.Uniform(11);
      for (uint64_t i = 0; i < len; ++i) in.push_back(static_cast<char>(bytes[rng.Uniform(7)]));
      SCOPED_TRACE(testing::Message() << "case " << k);
      Decoder want_dec(in);
      Dot want;
      uint64_t counter = 0;
      bool want_ok = want_dec.GetVarint32(&want.replica) && want_dec.GetVarint(&counter);
      want.counter = counter;
      if (want_ok && counter == 0) want_ok = want_dec.Fail("dot counter 0");
      Decoder dec(in);
      Dot got;
      ASSERT_EQ(dec.GetDot(&got), want_ok);
      EXPECT_EQ(dec.position(), want_dec.position());
      EXPECT_EQ(dec.error(), want_dec.error());
      if (want_ok) {
        EXPECT_EQ(got, want);
      }
    }
  }
}

// GetCount and GetBytes read a one-byte count or length that the input holds inline, and
// anything else through the checked reads: random inputs of up to 10 edge bytes, read as a
// sequence of counts (each size of item) and byte strings, against GetVarint followed by
// the checks of each, compared on the result, the value, the position and the error.
TEST(DecoderTest, CountsAndBytesReadAsAVarintAndItsCheck) {
  const uint8_t bytes[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x7F, 0x80, 0x81, 0xFF};
  for (uint64_t seed : TestSeeds(4, 0xc0b)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int k = 0; k < 5000; ++k) {
      std::string in;
      const uint64_t len = rng.Uniform(11);
      for (uint64_t i = 0; i < len; ++i) in.push_back(static_cast<char>(bytes[rng.Uniform(9)]));
      SCOPED_TRACE(testing::Message() << "case " << k);
      Decoder want_dec(in);
      Decoder dec(in);
      for (int read = 0; read < 4; ++read) {
        if (rng.OneIn(2)) {
          const size_t each = static_cast<size_t>(rng.Uniform(5));  // 0 reads as 1
          uint64_t want = 0, got = 0;
          bool want_ok = want_dec.GetVarint(&want);
          if (want_ok && want > want_dec.remaining() / (each == 0 ? 1 : each)) {
            want_ok = want_dec.Fail("item count larger than the input can hold");
          }
          ASSERT_EQ(dec.GetCount(&got, each), want_ok) << "count, each " << each;
          if (!want_ok) break;
          EXPECT_EQ(got, want);
        } else {
          uint64_t n = 0;
          std::string_view want, got;
          bool want_ok = want_dec.GetVarint(&n);
          if (want_ok && n > want_dec.remaining()) {
            want_ok = want_dec.Fail("byte string longer than the input");
          } else if (want_ok) {
            want = std::string_view(in).substr(want_dec.position(), n);
            want_dec.Rewind(want_dec.position() + n);
          }
          ASSERT_EQ(dec.GetBytes(&got), want_ok) << "bytes";
          if (want_ok) {
            EXPECT_EQ(got, want);
            EXPECT_EQ(got.data(), want.data());
          }
          if (!want_ok) break;
        }
        ASSERT_EQ(dec.position(), want_dec.position());
      }
      EXPECT_EQ(dec.position(), want_dec.position());
      EXPECT_EQ(dec.error(), want_dec.error());
    }
  }
}

// GetCountOfReads then its n reads (each item of at least min_bytes_each bytes, as the
// one-key merge reads a register's write, a set's element or a context's dot): a
// TryDecoder, which reads the count without GetCount's bound test, accepts exactly what a
// Decoder with GetCount accepts, and stops at the same place.
TEST(TryDecoderTest, CountThenItsReadsAcceptWhatDecoderAccepts) {
  const uint8_t bytes[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x7F, 0x80, 0x81, 0x0F, 0x10};
  size_t accepted = 0, refused = 0;
  for (uint64_t seed : TestSeeds(4, 0x7d4)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int k = 0; k < 20000; ++k) {
      std::string in;
      const uint64_t len = rng.Uniform(20);
      for (uint64_t i = 0; i < len; ++i) {
        in.push_back(static_cast<char>(rng.OneIn(8) ? 0x80 | rng.Uniform(128)
                                                    : bytes[rng.Uniform(std::size(bytes))]));
      }
      const uint64_t shape = rng.Uniform(3);
      auto read = [&](auto* dec) {
        const size_t each = shape == 2 ? 4 : 2;
        uint64_t n = 0;
        if (!GetCountOfReads(dec, &n, each)) return false;
        for (uint64_t i = 0; i < n; ++i) {
          Dot d;
          int64_t ts = 0;
          std::string_view b;
          uint64_t v = 0;
          const bool ok = shape == 0 ? dec->GetDot(&d)
                          : shape == 1
                              ? dec->GetBytes(&b) && dec->GetVarint(&v)
                              : dec->GetDot(&d) && dec->GetSigned(&ts) && dec->GetBytes(&b);
          if (!ok) return false;
        }
        return true;
      };
      Decoder want(in);
      crdt::TryDecoder got(in);
      const bool want_ok = read(&want);
      ASSERT_EQ(read(&got), want_ok) << "case " << k << ", shape " << shape;
      if (want_ok) {
        EXPECT_EQ(got.position(), want.position()) << "case " << k;
      }
      (want_ok ? accepted : refused) += 1;
    }
  }
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(refused, 1000u);
}

// TryDecoder accepts exactly what Decoder accepts, read for read, with the same values and
// positions: random inputs of up to 24 edge bytes (varints of every length, overlong and
// overflowing ones, ids past 32 bits, dot counters 0, counts and lengths past the input,
// the last bytes of the input), read as a random sequence of each reader.
TEST(TryDecoderTest, ReadsWhatDecoderReads) {
  const uint8_t bytes[] = {0x00, 0x01, 0x02, 0x05, 0x7F, 0x80, 0x81, 0xFF, 0x0F, 0x10};
  for (uint64_t seed : TestSeeds(4, 0x7d3)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int k = 0; k < 20000; ++k) {
      std::string in;
      const uint64_t len = rng.Uniform(25);
      for (uint64_t i = 0; i < len; ++i) {
        // Runs of "more" bytes make the long varints.
        in.push_back(static_cast<char>(rng.OneIn(3) ? 0x80 | rng.Uniform(128)
                                                    : bytes[rng.Uniform(std::size(bytes))]));
      }
      SCOPED_TRACE(testing::Message() << "case " << k);
      Decoder want(in);
      crdt::TryDecoder got(in);
      for (int read = 0; read < 6; ++read) {
        bool want_ok = false, got_ok = false;
        switch (rng.Uniform(6)) {
          case 0: {
            uint64_t a = 0, b = 0;
            want_ok = want.GetVarint(&a);
            got_ok = got.GetVarint(&b);
            if (want_ok && got_ok) {
              EXPECT_EQ(b, a) << "varint";
            }
            break;
          }
          case 1: {
            int64_t a = 0, b = 0;
            want_ok = want.GetSigned(&a);
            got_ok = got.GetSigned(&b);
            if (want_ok && got_ok) {
              EXPECT_EQ(b, a) << "signed";
            }
            break;
          }
          case 2: {
            uint8_t a = 0, b = 0;
            want_ok = want.GetByte(&a);
            got_ok = got.GetByte(&b);
            if (want_ok && got_ok) {
              EXPECT_EQ(b, a) << "byte";
            }
            break;
          }
          case 3: {
            std::string_view a, b;
            want_ok = want.GetBytes(&a);
            got_ok = got.GetBytes(&b);
            if (want_ok && got_ok) {
              EXPECT_EQ(b.data(), a.data()) << "bytes";
            }
            if (want_ok && got_ok) {
              EXPECT_EQ(b.size(), a.size()) << "bytes";
            }
            break;
          }
          case 4: {
            Dot a, b;
            want_ok = want.GetDot(&a);
            got_ok = got.GetDot(&b);
            if (want_ok && got_ok) {
              EXPECT_EQ(b, a) << "dot";
            }
            break;
          }
          default: {
            const size_t each = static_cast<size_t>(rng.Uniform(7));  // 0 reads as 1
            uint64_t a = 0, b = 0;
            want_ok = want.GetCount(&a, each);
            got_ok = got.GetCount(&b, each);
            if (want_ok && got_ok) {
              EXPECT_EQ(b, a) << "count, each " << each;
            }
            break;
          }
        }
        ASSERT_EQ(got_ok, want_ok) << "read " << read << ": " << want.error();
        if (!want_ok) break;
        ASSERT_EQ(got.position(), want.position());
        ASSERT_EQ(got.remaining(), want.remaining());
        ASSERT_EQ(got.done(), want.done());
      }
    }
  }
}

TEST(DecoderTest, RejectsMalformedPrimitives) {
  auto varint_fails = [](const std::string& in, const std::string& why) {
    Decoder dec(in);
    uint64_t v = 0;
    EXPECT_FALSE(dec.GetVarint(&v)) << why;
    EXPECT_NE(dec.error().find(why), std::string::npos) << dec.error();
    EXPECT_TRUE(dec.done());  // a failed decoder consumed everything
  };
  varint_fails("", "truncated varint");
  varint_fails("\x80\x80", "truncated varint");
  varint_fails(std::string(10, '\x80') + '\x01', "varint longer than 10 bytes");
  varint_fails(std::string(9, '\xff') + '\x02', "varint overflows 64 bits");
  {
    Encoder enc;
    enc.PutVarint(uint64_t{1} << 32);
    Decoder dec(enc.str());
    uint32_t v = 0;
    EXPECT_FALSE(dec.GetVarint32(&v));
  }
  {
    Encoder enc;
    enc.PutVarint(5);                         // a 5-byte string with 2 bytes of input
    const std::string in = enc.str() + "ab";  // the decoder keeps a view: keep the bytes alive
    Decoder dec(in);
    std::string_view s;
    EXPECT_FALSE(dec.GetBytes(&s));
    EXPECT_NE(dec.error().find("longer than the input"), std::string::npos);
  }
  {
    Encoder enc;
    enc.PutDot(Dot{kA, 0});
    Decoder dec(enc.str());
    Dot d;
    EXPECT_FALSE(dec.GetDot(&d));
  }
  {
    Encoder enc;
    enc.PutVarint(UINT64_MAX);
    const std::string huge = enc.str() + "abcd",
                      four =
                          "\x04"
                          "abcd",
                      three =
                          "\x03"
                          "abcd";
    Decoder dec(huge);
    uint64_t n = 0;
    EXPECT_FALSE(dec.GetCount(&n, 1));
    Decoder ok(four);
    EXPECT_TRUE(ok.GetCount(&n, 1));
    EXPECT_EQ(n, 4u);
    Decoder too_many(three);
    EXPECT_FALSE(too_many.GetCount(&n, 2));  // 3 items of >= 2 bytes need 6
  }
  {
    Decoder dec("");
    uint8_t b = 0;
    EXPECT_FALSE(dec.GetByte(&b));
    dec.Fail("second failure");  // the first message is kept
    EXPECT_NE(dec.error().find("truncated byte"), std::string::npos);
  }
}

// ---- every type ----

// States and deltas (and delta groups) of one random run on 3 replicas.
template <typename Traits>
std::vector<typename Traits::Crdt> RandomValues(uint64_t seed) {
  using T = typename Traits::Crdt;
  Rng rng(seed);
  SemanticsModel model(3);
  std::vector<T> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(Traits::Make(ReplicaOf(i)));
  std::vector<std::pair<T, int>> deltas;
  std::vector<T> out;
  for (int step = 0; step < 30; ++step) {
    const int who = rng.Index(3);
    if (rng.Uniform(3) > 0 || deltas.empty()) {
      OpContext ctx{rng, model, who, rng.Range(-2'000'000, 2'000'000)};
      OpResult<T> res = Traits::RandomOp(replicas[who], ctx);
      if (!res.delta) continue;
      if (!out.empty() && rng.OneIn(4)) {
        T group = out.back();
        group.Merge(*res.delta);
        out.push_back(std::move(group));
      }
      deltas.emplace_back(*res.delta, res.op);
      out.push_back(*res.delta);
    } else {
      const auto& [d, op] = rng.Pick(deltas);
      replicas[who].Merge(d);
      model.Deliver(op, who);
    }
  }
  replicas[0].Merge(replicas[1]);
  for (const T& r : replicas) out.push_back(r);
  return out;
}

template <typename Traits>
class EncodingTest : public testing::Test {};

TYPED_TEST_SUITE(EncodingTest, AllTypes, TypeNames);

TYPED_TEST(EncodingTest, StatesAndDeltasRoundTrip) {
  for (uint64_t seed : TestSeeds(40, 100)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    for (const auto& v : RandomValues<TypeParam>(seed)) {
      const std::string bytes = TypeParam::Encode(v);
      std::string error;
      auto back = TypeParam::Decode(bytes, &error);
      ASSERT_TRUE(back) << error << "\n  " << Hex(bytes);
      ASSERT_TRUE(*back == v) << Hex(bytes);
      ASSERT_EQ(TypeParam::Encode(*back), bytes);
      ASSERT_EQ(TypeParam::Visible(*back), TypeParam::Visible(v));
      // A decoded value behaves like the original: same merges.
      auto merged_orig = Joined(v, v), merged_back = Joined(*back, v);
      ASSERT_EQ(TypeParam::Encode(merged_orig), TypeParam::Encode(merged_back));
    }
  }
}

// Decodes hostile bytes. Returns "" when the decoder behaved: it failed with a message, or it
// produced a value whose re-encoding decodes to an equal value with the same encoding, and
// which merges with a valid value (either way) without error.
template <typename Traits>
std::string HostileDecode(const std::string& bytes, const typename Traits::Crdt& valid) {
  using T = typename Traits::Crdt;
  std::string error;
  std::optional<T> v = Traits::Decode(bytes, &error);
  if (!v) return error.empty() ? "failed without a message" : "";
  const std::string again = Traits::Encode(*v);
  std::optional<T> w = Traits::Decode(again, &error);
  if (!w) return "the re-encoding of a decoded value does not decode: " + error + " " + Hex(again);
  if (!(*w == *v)) return "decode(encode(decode(bytes))) != decode(bytes)";
  if (Traits::Encode(*w) != again) return "re-encoding is not stable";
  T x = valid;
  x.Merge(*v);
  T y = *v;
  y.Merge(valid);
  (void)Traits::Visible(x);
  (void)Traits::Visible(y);
  (void)Traits::Encode(x);
  return "";
}

TYPED_TEST(EncodingTest, HostileBytesNeverCrash) {
  size_t decoded = 0;
  for (uint64_t seed : TestSeeds(8, 700)) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    const auto values = RandomValues<TypeParam>(seed);
    const auto& valid = values.back();
    for (const auto& v : values) {
      const std::string bytes = TypeParam::Encode(v);
      for (size_t len = 0; len < bytes.size(); ++len) {  // every truncation
        const std::string cut = bytes.substr(0, len);
        std::string error;
        EXPECT_FALSE(TypeParam::Decode(cut, &error)) << "truncation to " << len << " decodes";
        ASSERT_EQ(HostileDecode<TypeParam>(cut, valid), "") << "truncated: " << Hex(cut);
      }
      for (size_t i = 0; i < bytes.size(); ++i) {  // one flipped bit at every position
        std::string flipped = bytes;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << rng.Uniform(8)));
        ASSERT_EQ(HostileDecode<TypeParam>(flipped, valid), "") << "flipped: " << Hex(flipped);
        decoded += TypeParam::Decode(flipped, nullptr).has_value();
      }
      for (int k = 0; k < 10 && !bytes.empty(); ++k) {  // random bytes overwritten/inserted
        std::string bad = bytes;
        for (int j = 0, n = static_cast<int>(rng.Range(1, 3)); j < n; ++j) {
          size_t at = rng.Uniform(bad.size());
          if (rng.OneIn(2)) {
            bad[at] = static_cast<char>(rng.Uniform(256));
          } else {
            bad.insert(at, 1, static_cast<char>(rng.Uniform(256)));
          }
        }
        ASSERT_EQ(HostileDecode<TypeParam>(bad, valid), "") << "corrupted: " << Hex(bad);
      }
    }
    for (int k = 0; k < 300; ++k) {  // random bytes, often starting like a real encoding
      std::string bytes;
      const int len = static_cast<int>(rng.Uniform(48));
      for (int j = 0; j < len; ++j) {
        bytes.push_back(static_cast<char>(rng.OneIn(2) ? rng.Uniform(4) : rng.Uniform(256)));
      }
      ASSERT_EQ(HostileDecode<TypeParam>(bytes, valid), "") << "random: " << Hex(bytes);
    }
  }
  // Some flipped encodings must still decode (a flipped value byte), or the test is vacuous.
  EXPECT_GT(decoded, 0u);
}

// ---- hostile counts and lengths ----

std::string Huge(std::initializer_list<std::string> prefix, uint64_t count) {
  Encoder enc;
  std::string out;
  for (const std::string& p : prefix) out += p;
  enc.PutVarint(count);
  return out + enc.str() + std::string(16, '\x01');
}
std::string V(uint64_t v) {
  Encoder enc;
  enc.PutVarint(v);
  return enc.str();
}

// A count or length the input cannot hold fails at once, before any allocation sized by
// it (under ASan a 2^62-element allocation would abort the test).
TEST(DecoderTest, HugeCountsAndLengthsFailWithoutAllocating) {
  const std::string flag(1, '\0');
  for (uint64_t count : {uint64_t{1} << 62, UINT64_MAX, uint64_t{1} << 20}) {
    SCOPED_TRACE(count);
    struct Case {
      const char* what;
      std::string bytes;
      std::function<bool(const std::string&, std::string*)> decode;
    };
    auto pn = [](const std::string& b, std::string* e) {
      return crdt::PnCounter::Decode(b, e).has_value();
    };
    auto lww = [](const std::string& b, std::string* e) {
      return crdt::LwwRegister::Decode(b, e).has_value();
    };
    auto sv = [](const std::string& b, std::string* e) {
      return crdt::StringValue::Decode(b, e).has_value();
    };
    auto set = [](const std::string& b, std::string* e) {
      return crdt::AwOrSet::Decode(b, e).has_value();
    };
    auto map = [](const std::string& b, std::string* e) {
      return crdt::OrMap::Decode(b, e).has_value();
    };
    auto ks = [](const std::string& b, std::string* e) {
      return crdt::Keyspace::Decode(b, kA, e).has_value();
    };
    const std::vector<Case> cases = {
        {"counter slots", Huge({}, count), pn},
        {"register writes", Huge({}, count), lww},
        {"register value length", Huge({V(1), V(kA), V(1), V(0)}, count), lww},
        {"context vector", Huge({V(0)}, count), lww},
        {"context cloud", Huge({V(0), V(0)}, count), lww},
        {"string counter", Huge({V(0)}, count), sv},
        {"set elements", Huge({flag}, count), set},
        {"set element length", Huge({flag, V(1)}, count), set},
        {"set element dots", Huge({flag, V(1), V(1), "x"}, count), set},
        {"hash fields", Huge({flag}, count), map},
        {"hash field length", Huge({flag, V(1)}, count), map},
        {"keys", Huge({flag}, count), ks},
        {"key length", Huge({flag, V(1)}, count), ks},
        {"key's set", Huge({flag, V(1), V(1), "k", V(0), V(0)}, count), ks},
        {"key's hash", Huge({flag, V(1), V(1), "k", V(0), V(0), V(0)}, count), ks},
    };
    for (const Case& c : cases) {
      std::string error;
      EXPECT_FALSE(c.decode(c.bytes, &error)) << c.what;
      EXPECT_FALSE(error.empty()) << c.what;
    }
  }
}

// ---- dots outside the causal context ----

// A state whose store holds a dot its context does not contain is malformed: merged, the
// write could be resurrected or lost, and a later local write could reuse the dot.
TEST(DecoderTest, DotsOutsideTheContextAreRejected) {
  const Dot outside{kA, 5};
  auto write = [&](Encoder* enc) {  // a register with one write at `outside`
    enc->PutVarint(1);
    enc->PutDot(outside);
    enc->PutSigned(1);
    enc->PutBytes("v");
  };
  auto empty_context = [](Encoder* enc) {
    enc->PutVarint(0);
    enc->PutVarint(0);
  };
  std::string error;
  {
    Encoder enc;
    write(&enc);
    enc.PutVarint(0);  // counter
    empty_context(&enc);
    EXPECT_FALSE(crdt::StringValue::Decode(enc.str(), &error)) << "string value";
  }
  {
    Encoder enc;
    enc.PutByte(0);
    enc.PutVarint(1);
    enc.PutBytes("x");
    enc.PutVarint(1);
    enc.PutDot(outside);
    empty_context(&enc);
    EXPECT_FALSE(crdt::AwOrSet::Decode(enc.str(), &error)) << "set";
  }
  {
    Encoder enc;  // hash field write
    enc.PutByte(0);
    enc.PutVarint(1);
    enc.PutBytes("f");
    write(&enc);
    enc.PutVarint(0);
    empty_context(&enc);
    EXPECT_FALSE(crdt::OrMap::Decode(enc.str(), &error)) << "hash field";
  }
  for (int part = 0; part < 3; ++part) {
    SCOPED_TRACE(part);  // the key's string, set or hash holds the outside dot
    Encoder enc;
    enc.PutByte(0);
    enc.PutVarint(1);
    enc.PutBytes("k");
    if (part == 0) {
      write(&enc);
    } else {
      enc.PutVarint(0);
    }
    enc.PutVarint(0);  // string counter
    if (part == 1) {
      enc.PutVarint(1);
      enc.PutBytes("x");
      enc.PutVarint(1);
      enc.PutDot(outside);
    } else {
      enc.PutVarint(0);
    }
    if (part == 2) {
      enc.PutVarint(1);
      enc.PutBytes("f");
      write(&enc);
      enc.PutVarint(0);
    } else {
      enc.PutVarint(0);
    }
    empty_context(&enc);
    EXPECT_FALSE(crdt::Keyspace::Decode(enc.str(), kA, &error)) << "keyspace";
  }
}

// The header's bit 6 announces a second byte of parts: it must be there, non-zero, and
// name only parts this build knows; else the keyspace is rejected, whether a state or a delta.
TEST(DecoderTest, SecondHeaderByteIsCheckedLikeTheFirst) {
  crdt::Keyspace ks(kA);
  crdt::Keyspace delta(kA);
  ks.SAdd("s", "m", &delta);
  const std::string good = delta.Encode();
  ASSERT_EQ(good[0] & crdt::KeyValue::kPartsMore, 0);
  std::string error;
  ASSERT_TRUE(crdt::Keyspace::Decode(good, kA, &error)) << error;
  for (int complete = 0; complete < 2; ++complete) {
    const char low = static_cast<char>(crdt::KeyValue::kPartsMore | complete);
    const std::string missing(1, low);  // bit 6, then nothing
    const std::string zero = std::string(1, low) + '\0' + good.substr(1);
    std::string unknown_high = std::string(1, low) + '\x80' + good.substr(1);
    for (const std::string& bad : {missing, zero, unknown_high}) {
      EXPECT_FALSE(crdt::Keyspace::Decode(bad, kA, &error));
      crdt::Keyspace target(kA);
      EXPECT_FALSE(target.MergeEncoded(bad, &error, nullptr));
      EXPECT_FALSE(error.empty());
    }
  }
}

}  // namespace
}  // namespace crdt_test
