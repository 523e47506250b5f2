// Redis 7.0's geohash arithmetic (geohash.h). The order of every floating-point operation
// follows Redis's, so that results agree to the last bit.
#include "geohash.h"

#include <cmath>
#include <cstdio>

namespace cluster_sim {
namespace geo {

namespace {

constexpr double kEarthRadiusMeters = 6372797.560856;
constexpr double kMercatorMax = 20037726.37;
constexpr double kDegToRad = M_PI / 180.0;

struct Range {
  double min, max;
};
struct Area {
  Range lon, lat;
};
constexpr Range kLonRange{kLonMin, kLonMax};
constexpr Range kLatRange{kLatMin, kLatMax};

double Rad(double degrees) { return degrees * kDegToRad; }
double Deg(double radians) { return radians / kDegToRad; }

// Bit i of `even` goes to bit 2i, bit i of `odd` to bit 2i + 1.
uint64_t Interleave(uint32_t even, uint32_t odd) {
  uint64_t out = 0;
  for (int i = 0; i < 32; ++i) {
    out |= static_cast<uint64_t>((even >> i) & 1u) << (2 * i);
    out |= static_cast<uint64_t>((odd >> i) & 1u) << (2 * i + 1);
  }
  return out;
}

// The inverse: the even bits in the low 32 bits of the result, the odd bits above.
uint64_t Deinterleave(uint64_t v) {
  uint64_t even = 0, odd = 0;
  for (int i = 0; i < 32; ++i) {
    even |= ((v >> (2 * i)) & 1u) << i;
    odd |= ((v >> (2 * i + 1)) & 1u) << i;
  }
  return even | (odd << 32);
}

// False (and *cell untouched) outside the Mercator limits or the given ranges.
bool Encode(Range lon_r, Range lat_r, double lon, double lat, uint8_t step, Cell* cell) {
  if (!ValidPosition(lon, lat)) return false;
  if (lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max) return false;
  double lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min);
  double lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min);
  lat_offset *= static_cast<double>(1ull << step);
  lon_offset *= static_cast<double>(1ull << step);
  cell->bits = Interleave(static_cast<uint32_t>(lat_offset), static_cast<uint32_t>(lon_offset));
  cell->step = step;
  return true;
}

Area Decode(Cell cell) {
  const uint64_t sep = Deinterleave(cell.bits);
  const uint32_t ilat = static_cast<uint32_t>(sep);
  const uint32_t ilon = static_cast<uint32_t>(sep >> 32);
  const double cells = static_cast<double>(1ull << cell.step);
  const double lat_scale = kLatRange.max - kLatRange.min;
  const double lon_scale = kLonRange.max - kLonRange.min;
  const uint32_t ilat_next = ilat + 1u, ilon_next = ilon + 1u;  // wraps, as in Redis
  Area a;
  a.lat.min = kLatRange.min + (ilat * 1.0 / cells) * lat_scale;
  a.lat.max = kLatRange.min + (ilat_next * 1.0 / cells) * lat_scale;
  a.lon.min = kLonRange.min + (ilon * 1.0 / cells) * lon_scale;
  a.lon.max = kLonRange.min + (ilon_next * 1.0 / cells) * lon_scale;
  return a;
}

constexpr uint64_t kLonBits = 0xaaaaaaaaaaaaaaaaull;  // odd bits
constexpr uint64_t kLatBits = 0x5555555555555555ull;  // even bits

// Moves a cell one step along the axis of `axis` bits (kLonBits: east for d > 0, west
// for d < 0; kLatBits: north, south), wrapping around: the other axis's bits are set
// so that the carry (or borrow) crosses them.
Cell Move(Cell c, int d, uint64_t axis) {
  const uint64_t other = ~axis;
  const int shift = 64 - c.step * 2;
  const uint64_t fill = other >> shift;
  uint64_t v = c.bits & axis;
  v = d > 0 ? v + (fill + 1) : (v | fill) - (fill + 1);
  v &= axis >> shift;
  c.bits = v | (c.bits & other);
  return c;
}

double LatDistance(double lat1, double lat2) {
  return kEarthRadiusMeters * std::fabs(Rad(lat2) - Rad(lat1));
}

// The grid step whose cells are about as large as a search of `meters` at `lat`.
int StepFor(double meters, double lat) {
  if (meters == 0) return kStepMax;
  int step = 1;
  while (meters < kMercatorMax) {
    meters *= 2;
    ++step;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    --step;
    if (lat > 80 || lat < -80) --step;
  }
  if (step < 1) step = 1;
  if (step > kStepMax) step = kStepMax;
  return step;
}

// Center, N, S, E, W, NE, NW, SE, SW.
void Neighbourhood(Cell center, Cell out[9]) {
  out[0] = center;
  out[1] = Move(center, 1, kLatBits);
  out[2] = Move(center, -1, kLatBits);
  out[3] = Move(center, 1, kLonBits);
  out[4] = Move(center, -1, kLonBits);
  out[5] = Move(out[3], 1, kLatBits);
  out[6] = Move(out[4], 1, kLatBits);
  out[7] = Move(out[3], -1, kLatBits);
  out[8] = Move(out[4], -1, kLatBits);
}

// The bits of an IEEE double converted to uint64_t as x86-64 code compiled from C does
// (Redis's `(uint64_t)score`), defined for every value: negative values wrap, values from
// 2^63 subtract it first, and what does not fit (NaN, infinities, >= 2^64) gives what the
// hardware conversion (cvttsd2si) gives. Sorted sets hold no NaN.
uint64_t ScoreBits(double score) {
  constexpr double kTwo63 = 9223372036854775808.0;
  constexpr uint64_t kIndefinite = 0x8000000000000000ull;
  auto truncate = [](double v) -> uint64_t {  // cvttsd2si
    if (!(v >= -kTwo63 && v < kTwo63)) return kIndefinite;
    return static_cast<uint64_t>(static_cast<int64_t>(v));
  };
  if (!(score >= kTwo63)) return truncate(score);
  return truncate(score - kTwo63) ^ kIndefinite;
}

}  // namespace

bool ValidPosition(double lon, double lat) {
  return !(lon > kLonMax || lon < kLonMin || lat > kLatMax || lat < kLatMin);
}

double ScoreOf(double lon, double lat) {
  Cell c;
  Encode(kLonRange, kLatRange, lon, lat, kStepMax, &c);
  return static_cast<double>(c.bits);
}

void PositionOf(double score, double* lon, double* lat) {
  const Area a = Decode(Cell{ScoreBits(score), kStepMax});
  *lon = (a.lon.min + a.lon.max) / 2;
  if (*lon > kLonMax) *lon = kLonMax;
  if (*lon < kLonMin) *lon = kLonMin;
  *lat = (a.lat.min + a.lat.max) / 2;
  if (*lat > kLatMax) *lat = kLatMax;
  if (*lat < kLatMin) *lat = kLatMin;
}

double DistanceMeters(double lon1, double lat1, double lon2, double lat2) {
  const double v = std::sin((Rad(lon2) - Rad(lon1)) / 2);
  if (v == 0.0) return LatDistance(lat1, lat2);
  const double lat1r = Rad(lat1), lat2r = Rad(lat2);
  const double u = std::sin((lat2r - lat1r) / 2);
  const double a = u * u + std::cos(lat1r) * std::cos(lat2r) * v * v;
  return 2.0 * kEarthRadiusMeters * std::asin(std::sqrt(a));
}

std::string GeohashText(double score) {
  static constexpr char kAlphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
  double lon = 0, lat = 0;
  PositionOf(score, &lon, &lat);
  Cell c;
  Encode(Range{-180, 180}, Range{-90, 90}, lon, lat, kStepMax, &c);
  std::string out(11, '0');
  for (int i = 0; i < 10; ++i) out[i] = kAlphabet[(c.bits >> (52 - (i + 1) * 5)) & 0x1f];
  return out;  // 52 bits make 10 characters and 2 bits; the 11th is '0', as Redis's
}

void Cover(Shape* s, Cell cells[9]) {
  const double half_h = s->to_meters * (s->box ? s->height / 2 : s->radius);
  const double half_w = s->to_meters * (s->box ? s->width / 2 : s->radius);
  const double lat_delta = Deg(half_h / kEarthRadiusMeters);
  const double lon_delta_top = Deg(half_w / kEarthRadiusMeters / std::cos(Rad(s->lat + lat_delta)));
  const double lon_delta_bottom =
      Deg(half_w / kEarthRadiusMeters / std::cos(Rad(s->lat - lat_delta)));
  const bool south = s->lat < 0;  // the box is widest at the edge nearer a pole
  s->bounds[0] = south ? s->lon - lon_delta_bottom : s->lon - lon_delta_top;
  s->bounds[2] = south ? s->lon + lon_delta_bottom : s->lon + lon_delta_top;
  s->bounds[1] = s->lat - lat_delta;
  s->bounds[3] = s->lat + lat_delta;
  const double min_lon = s->bounds[0], min_lat = s->bounds[1];
  const double max_lon = s->bounds[2], max_lat = s->bounds[3];

  double meters =
      s->box ? std::sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2))
             : s->radius;
  meters *= s->to_meters;
  int step = StepFor(meters, s->lat);
  Cell center;
  Encode(kLonRange, kLatRange, s->lon, s->lat, static_cast<uint8_t>(step), &center);
  Neighbourhood(center, cells);
  // A cell too coarse near the shape's edge: one step coarser.
  if (step > 1 && (Decode(cells[1]).lat.max < max_lat || Decode(cells[2]).lat.min > min_lat ||
                   Decode(cells[3]).lon.max < max_lon || Decode(cells[4]).lon.min > min_lon)) {
    --step;
    Encode(kLonRange, kLatRange, s->lon, s->lat, static_cast<uint8_t>(step), &center);
    Neighbourhood(center, cells);
  }
  // Drop the neighbours the shape does not reach.
  if (step >= 2) {
    const Area a = Decode(center);
    auto drop = [cells](int i, int j, int k) { cells[i] = cells[j] = cells[k] = Cell{}; };
    if (a.lat.min < min_lat) drop(2, 8, 7);
    if (a.lat.max > max_lat) drop(1, 5, 6);
    if (a.lon.min < min_lon) drop(4, 8, 6);
    if (a.lon.max > max_lon) drop(3, 7, 5);
  }
}

void ScoreRange(Cell cell, double* min, double* max) {
  const int shift = 52 - cell.step * 2;
  *min = static_cast<double>(cell.bits << shift);
  *max = static_cast<double>((cell.bits + 1) << shift);
}

bool Inside(const Shape& s, double score, double* lon, double* lat, double* meters) {
  PositionOf(score, lon, lat);
  if (!s.box) {
    *meters = DistanceMeters(s.lon, s.lat, *lon, *lat);
    return !(*meters > s.radius * s.to_meters);
  }
  const double width_m = s.width * s.to_meters, height_m = s.height * s.to_meters;
  if (LatDistance(*lat, s.lat) > height_m / 2) return false;
  if (DistanceMeters(*lon, *lat, s.lon, *lat) > width_m / 2) return false;
  *meters = DistanceMeters(s.lon, s.lat, *lon, *lat);
  return true;
}

std::string CoordinateText(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[512];
  const int n = std::snprintf(buf, sizeof(buf), "%.17Lf", static_cast<long double>(v));
  std::string out(buf, static_cast<size_t>(n > 0 ? n : 0));
  if (out.find('.') != std::string::npos) {
    while (!out.empty() && out.back() == '0') out.pop_back();
    if (!out.empty() && out.back() == '.') out.pop_back();
  }
  return out == "-0" ? "0" : out;
}

std::string DistanceText(double v) {
  if (v == 0) return "0.0000";
  const long long scaled = std::llrint(v * 10000.0);
  const unsigned long long mag =
      scaled < 0 ? 0ull - static_cast<unsigned long long>(scaled) : scaled;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%llu.%04llu", scaled < 0 ? "-" : "", mag / 10000, mag % 10000);
  return buf;
}

}  // namespace geo
}  // namespace cluster_sim
