// Redis's geohash (not installed): how the geo commands (engine_geo.cc) turn a position
// into a sorted-set score and back, measure distances, and choose the score ranges a
// search reads. Every number is computed as Redis 7.0 computes it (geohash.c,
// geohash_helper.c), so scores, coordinates, distances and search results match a
// redis-server bit for bit.
//
// The score of a position is a 52-bit integer: latitude and longitude are each scaled
// to 26 bits over their ranges (Web Mercator's: latitude +/-85.05112878, longitude
// +/-180) and interleaved, latitude on the even bits:
//
//   bit   51   50   49   48  ...   1    0
//        lon  lat  lon  lat  ...  lon  lat      (the most significant pair first)
//
// A prefix of 2*step bits is a cell (a "box") of the grid of step `step`; the members of
// a box are one score range [prefix << (52 - 2*step), (prefix + 1) << (52 - 2*step)).
// A search covers its shape with a box and its eight neighbours, reads those ranges and
// keeps the points inside the shape. Distances are haversine on a sphere of radius
// 6372797.560856 m. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace cluster_sim {
namespace geo {

inline constexpr double kLatMin = -85.05112878;
inline constexpr double kLatMax = 85.05112878;
inline constexpr double kLonMin = -180;
inline constexpr double kLonMax = 180;
inline constexpr int kStepMax = 26;  // 26 * 2 = 52 bits: a score is an exact double

struct Cell {
  uint64_t bits = 0;
  uint8_t step = 0;  // bits holds 2 * step bits; step 0 with bits 0: no cell
  bool None() const { return bits == 0 && step == 0; }
};

// True if Redis accepts (lon, lat) as a position (GEOADD, FROMLONLAT).
bool ValidPosition(double lon, double lat);

// The score of a valid position. REQUIRES: ValidPosition(lon, lat).
double ScoreOf(double lon, double lat);

// The position a score stands for (the centre of its cell, clamped to the ranges), as
// Redis decodes any score, geo or not (a score that is no geohash gives some position).
void PositionOf(double score, double* lon, double* lat);

// Great-circle distance in meters (Redis's haversine, with its shortcut for equal
// longitudes).
double DistanceMeters(double lon1, double lat1, double lon2, double lat2);

// The 11-character standard geohash (latitude over +/-90) of a score, as GEOHASH.
std::string GeohashText(double score);

// A search shape: a circle of `radius`, or an axis-aligned box of `width` x `height`
// (each in the unit whose meters are `to_meters`), centred at (lon, lat).
struct Shape {
  bool box = false;
  double lon = 0, lat = 0;
  double to_meters = 1;
  double radius = 0;
  double width = 0, height = 0;
  double bounds[4] = {0, 0, 0, 0};  // min lon, min lat, max lon, max lat (set by Cover)
};

// The nine cells (centre, N, S, E, W, NE, NW, SE, SW; some None) whose score ranges
// cover `shape`, as Redis chooses them; sets shape->bounds.
void Cover(Shape* shape, Cell cells[9]);

// The score range [*min, *max) of the members of `cell`.
void ScoreRange(Cell cell, double* min, double* max);

// If the point of `score` is inside `shape`: true, its position and its distance to the
// centre in meters.
bool Inside(const Shape& shape, double score, double* lon, double* lat, double* meters);

// Redis's reply text of a coordinate: "%.17Lf" of the value, trailing zeros (and a
// trailing dot) removed, "-0" as "0".
std::string CoordinateText(double v);
// Redis's reply text of a distance: rounded to 4 decimals, always 4 digits after the dot.
std::string DistanceText(double v);

}  // namespace geo
}  // namespace cluster_sim
