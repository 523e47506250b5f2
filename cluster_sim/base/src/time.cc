// ParseDuration and FormatDuration: the strict text form of SimTime (see time.h).
#include "cluster_sim/time.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace cluster_sim {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Microseconds per unit and the number of decimal digits that are exact in that unit.
struct Unit {
  std::string_view name;
  uint64_t micros;
  int exact_digits;  // log10(micros)
};
constexpr Unit kUnits[] = {{"s", 1000000, 6}, {"ms", 1000, 3}, {"us", 1, 0}};
// Accepted on input only (long partitions read better as "1h"); exact_digits = -1: the
// fraction is converted by multiplication instead of digit by digit.
constexpr Unit kLongUnits[] = {{"min", 60000000, -1}, {"h", 3600000000, -1}};

// Appends `value` (a magnitude in microseconds) written in `unit`, with the shortest exact
// decimal fraction.
void AppendInUnit(uint64_t value, const Unit& unit, std::string* out) {
  *out += std::to_string(value / unit.micros);
  uint64_t frac = value % unit.micros;
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, static_cast<size_t>(unit.exact_digits) - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    *out += '.';
    *out += digits;
  }
  *out += unit.name;
}

}  // namespace

std::optional<SimTime> ParseDuration(std::string_view text, bool allow_negative) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    if (!allow_negative) return std::nullopt;
    negative = true;
    ++i;
  }
  const size_t int_begin = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  std::string_view int_digits = text.substr(int_begin, i - int_begin);
  if (int_digits.empty()) return std::nullopt;
  std::string_view frac_digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t frac_begin = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    frac_digits = text.substr(frac_begin, i - frac_begin);
    if (frac_digits.empty()) return std::nullopt;
  }
  std::string_view unit_name = text.substr(i);
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit_name) unit = &u;
  }
  for (const Unit& u : kLongUnits) {
    if (u.name == unit_name) unit = &u;
  }
  if (unit == nullptr) return std::nullopt;

  // Magnitude in microseconds, computed exactly in unsigned 64-bit arithmetic.
  uint64_t whole = 0;
  for (char c : int_digits) {
    if (__builtin_mul_overflow(whole, uint64_t{10}, &whole) ||
        __builtin_add_overflow(whole, static_cast<uint64_t>(c - '0'), &whole)) {
      return std::nullopt;
    }
  }
  uint64_t magnitude = 0;
  if (__builtin_mul_overflow(whole, unit->micros, &magnitude)) return std::nullopt;
  uint64_t frac = 0;
  if (unit->exact_digits < 0) {
    // min, h: up to 9 fraction digits, rounded half away from zero to a microsecond.
    if (frac_digits.size() > 9) return std::nullopt;
    uint64_t digits = 0, scale = 1;
    for (char c : frac_digits) {
      digits = digits * 10 + static_cast<uint64_t>(c - '0');
      scale *= 10;
    }
    frac = (digits * unit->micros + scale / 2) / scale;  // < 1e9 * 3.6e9: no overflow
    if (__builtin_add_overflow(magnitude, frac, &magnitude)) return std::nullopt;
    if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return SimTime(negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude));
  }
  // The first exact_digits fraction digits are whole microseconds; the next one rounds
  // (half away from zero).
  for (int d = 0; d < unit->exact_digits; ++d) {
    const size_t pos = static_cast<size_t>(d);
    frac =
        frac * 10 + (pos < frac_digits.size() ? static_cast<uint64_t>(frac_digits[pos] - '0') : 0);
  }
  const size_t round_pos = static_cast<size_t>(unit->exact_digits);
  if (round_pos < frac_digits.size() && frac_digits[round_pos] >= '5') ++frac;
  if (__builtin_add_overflow(magnitude, frac, &magnitude)) return std::nullopt;

  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!negative) {
    if (magnitude > kMaxPositive) return std::nullopt;
    return SimTime(static_cast<int64_t>(magnitude));
  }
  if (magnitude > kMaxPositive + 1) return std::nullopt;
  if (magnitude == kMaxPositive + 1) return SimTime(std::numeric_limits<int64_t>::min());
  return SimTime(-static_cast<int64_t>(magnitude));
}

std::string FormatDuration(SimTime t) {
  const int64_t count = t.count();
  if (count == 0) return "0ms";
  std::string out;
  uint64_t magnitude;
  if (count < 0) {
    out += '-';
    // Two's complement negation in unsigned arithmetic also handles INT64_MIN.
    magnitude = ~static_cast<uint64_t>(count) + 1;
  } else {
    magnitude = static_cast<uint64_t>(count);
  }
  // The largest unit with a non-zero integer part: never longer than a smaller unit and
  // never "0.x" ("100ms", not "0.1s").
  for (const Unit& unit : kUnits) {
    if (magnitude >= unit.micros) {
      AppendInUnit(magnitude, unit, &out);
      return out;
    }
  }
  return out;  // Unreachable: every non-zero magnitude is >= 1us.
}

}  // namespace cluster_sim
