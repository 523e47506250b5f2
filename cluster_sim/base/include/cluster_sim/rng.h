// Rng: the simulator's only source of randomness. SplitMix64 (Steele, Lea, Flood 2014)
// with our own distributions, so a seed gives the same numbers with any compiler and
// standard library (std::*_distribution does not). Each component takes its own Fork,
// derived from the seed and the component's name, so adding a component or drawing
// more numbers in one never changes the numbers of another.
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace cluster_sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed), state_(seed) {}

  uint64_t seed() const { return seed_; }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // A bound n > 0 of Uniform, with its rejection limit and a reciprocal computed once (for
  // a bound drawn from again and again): x % n then costs three multiplications instead of
  // a 64-bit division, with the same result for every x (Lemire, Kaser, Kurz 2019, "Faster
  // remainder by direct computation": a 128-bit fraction is exact for 64-bit operands).
  struct Bound {
    __extension__ using U128 = unsigned __int128;
    explicit Bound(uint64_t bound)
        : n(bound), limit(UINT64_MAX - UINT64_MAX % bound), inverse(~U128{0} / bound + 1) {}
    // x % n.
    uint64_t Mod(uint64_t x) const {
      const U128 fraction = inverse * x;  // mod 2^128
      const U128 low = static_cast<U128>(static_cast<uint64_t>(fraction)) * n;
      const U128 high = (fraction >> 64) * n;
      return static_cast<uint64_t>((high + (low >> 64)) >> 64);
    }
    uint64_t n;
    uint64_t limit;
    U128 inverse;  // ceil(2^128 / n), 0 (mod 2^128) for n = 1
  };
  // Uniform in [0, n); n > 0. Unbiased (rejection of the short last interval).
  uint64_t Uniform(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % n;
  }
  // The same numbers as Uniform(b.n).
  uint64_t Uniform(const Bound& b) {
    uint64_t x;
    do {
      x = Next();
    } while (x >= b.limit);
    return b.Mod(x);
  }
  // Uniform in [lo, hi], inclusive.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1), 53 random bits.
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // The 53 bits behind UniformDouble(), for a comparison with Below53: UniformDouble() < p
  // exactly when Next53() < Below53(p) (scaling by 2^53 is exact), with no conversion to
  // double in the draw.
  uint64_t Next53() { return Next() >> 11; }
  static uint64_t Below53(double p) {
    if (!(p > 0)) return 0;
    if (p >= 1) return uint64_t{1} << 53;
    const double scaled = p * 0x1.0p53;
    const uint64_t floor = static_cast<uint64_t>(scaled);
    return floor + (static_cast<double>(floor) < scaled ? 1 : 0);  // ceil
  }
  bool Chance(double p) { return p > 0 && (p >= 1 || UniformDouble() < p); }
  bool OneIn(uint64_t n) { return Uniform(n) == 0; }

  // An independent generator for the named component.
  Rng Fork(std::string_view name) const {
    uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a of the name, mixed with the seed
    for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
    Rng mix(seed_ ^ h);
    return Rng(mix.Next());
  }

 private:
  uint64_t seed_;
  uint64_t state_;
};

}  // namespace cluster_sim
