// Test utilities for crdt_tests: a seeded SplitMix64 generator with our own distributions
// (no std::*_distribution, whose output differs between standard libraries), the seed list
// of a randomized test (AASIM_SEED=n replays one seed), and an operation trace printed when a
// property fails. Deterministic; not thread-safe.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace crdt_test {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). REQUIRES: n > 0. Rejection sampling, so no modulo bias.
  uint64_t Uniform(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = Next();
    while (x >= limit) x = Next();
    return x % n;
  }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }
  int Index(size_t n) { return static_cast<int>(Uniform(n)); }
  bool OneIn(uint64_t n) { return Uniform(n) == 0; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(v.size())];
  }
  // Fisher-Yates.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Uniform(i)]);
  }

 private:
  uint64_t state_;
};

// The seeds a randomized test runs: `count` fixed seeds derived from `base`, or only the
// seed in the environment variable AASIM_SEED when it is set (to replay a failure).
// Unoptimized builds (Debug, the sanitizer CI job) are ~40x slower and run the first third
// of the seeds, so the whole binary stays well under a minute there.
inline std::vector<uint64_t> TestSeeds(size_t count, uint64_t base) {
  if (const char* env = std::getenv("AASIM_SEED"); env != nullptr && *env != '\0') {
    return {std::strtoull(env, nullptr, 0)};
  }
#ifndef NDEBUG
  count = count / 3 > 0 ? count / 3 : 1;
#endif
  std::vector<uint64_t> seeds;
  seeds.reserve(count);
  for (size_t i = 0; i < count; ++i) seeds.push_back(base + i);
  return seeds;
}

// The operations of one randomized run, for the failure message.
class Trace {
 public:
  void Add(std::string line) { lines_.push_back(std::move(line)); }
  size_t size() const { return lines_.size(); }
  std::string ToString() const {
    std::string out = "operation trace (" + std::to_string(lines_.size()) + " lines):\n";
    for (size_t i = 0; i < lines_.size(); ++i) {
      out += "  " + std::to_string(i) + ": " + lines_[i] + "\n";
    }
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

// Printable form of binary encodings in failure messages.
inline std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// Runs check(seed, &why) for every seed; returns the first failing seed (and its
// explanation in *why), or nothing. Used alike for the real types and for the deliberately
// broken ones of negative_test.cc.
template <typename Check>
bool FirstFailingSeed(Check&& check, const std::vector<uint64_t>& seeds, uint64_t* failing_seed,
                      std::string* why) {
  for (uint64_t seed : seeds) {
    std::string w;
    if (!check(seed, &w)) {
      *failing_seed = seed;
      *why = "seed=" + std::to_string(seed) + ": " + w;
      return true;
    }
  }
  return false;
}

}  // namespace crdt_test
