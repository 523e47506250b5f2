// Simulated time. SimTime counts integer microseconds from the start of a run; only the
// event loop advances it (a Clock). Durations in files are parsed strictly: a number with
// a unit (us, ms, s; also min and h on input), e.g. "250us", "1.5ms", "2s", "1h"; a bare
// number is an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cluster_sim {

using SimTime = std::chrono::duration<int64_t, std::micro>;

// The longest duration a file may give (wait, at, latency, a load's duration, ...): 1000h,
// about six weeks. Far from the 64-bit limit, so sums of such durations never overflow.
inline constexpr SimTime kMaxFileDuration = std::chrono::hours(1000);

// a + b, saturated at SimTime::max() and SimTime::min() instead of wrapping.
inline SimTime SaturatedAdd(SimTime a, SimTime b) {
  int64_t sum;
  if (__builtin_add_overflow(a.count(), b.count(), &sum)) {
    return b.count() > 0 ? SimTime::max() : SimTime::min();
  }
  return SimTime(sum);
}

// Read-only view of the current simulated time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SimTime Now() const = 0;
};

// Parses "250us", "1.5ms", "2s", "1.5min", "1h", "-40ms" (sign only when allow_negative).
// Returns nullopt on anything else (no unit, unknown unit, junk, overflow, sub-microsecond
// fractions are rounded to the nearest microsecond).
std::optional<SimTime> ParseDuration(std::string_view text, bool allow_negative = false);

// Formats a time for people: "0ms", "80ms", "1.5ms", "2s", "3.000012s" (exact, shortest).
std::string FormatDuration(SimTime t);

}  // namespace cluster_sim
