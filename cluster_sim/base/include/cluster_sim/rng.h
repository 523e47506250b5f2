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
  // A bound n > 0 of Uniform, with its rejection limit computed once (for a bound drawn
  // from again and again).
  struct Bound {
    explicit Bound(uint64_t bound) : n(bound), limit(UINT64_MAX - UINT64_MAX % bound) {}
    uint64_t n;
    uint64_t limit;
  };
  // Uniform in [0, n); n > 0. Unbiased (rejection of the short last interval).
  uint64_t Uniform(uint64_t n) { return Uniform(Bound(n)); }
  uint64_t Uniform(const Bound& b) {
    uint64_t x;
    do {
      x = Next();
    } while (x >= b.limit);
    return x % b.n;
  }
  // Uniform in [lo, hi], inclusive.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1), 53 random bits.
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
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
