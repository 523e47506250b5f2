// Geo commands (Redis 7.0's geo.c replies and errors). A geo set is a sorted set whose
// scores are 52-bit geohashes (geohash.h), so everything Active/Active about it is the
// sorted set's: GEOADD is a ZADD (concurrent GEOADDs of one member: last write wins by
// wall clock, so one of the two positions), a ZREM concurrent with a GEOADD leaves the
// member (add wins), and GEOSEARCHSTORE / GEORADIUS STORE replicate as DEL + ZADDs.
#include <algorithm>
#include <cstdio>

#include "cluster_sim/strings.h"
#include "engine.h"
#include "geohash.h"

namespace cluster_sim {
namespace engine {

namespace {

using crdt::ZsetStore;

constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kNoMember = "ERR could not decode requested zset member";

const ZsetStore* ZsetOf(const Ctx& c, std::string_view key) {
  const crdt::KeyValue* kv = c.ks.Find(key);
  return kv && kv->VisibleType() == Type::kZset ? &kv->zset : nullptr;
}

// (lon, lat) from two arguments, as extractLongLatOrReply: the error reply, if any.
std::optional<Reply> ParsePosition(const std::string& lon_text, const std::string& lat_text,
                                   double* lon, double* lat) {
  if (!crdt::ParseScore(lon_text, lon) || !crdt::ParseScore(lat_text, lat)) return Err(kNotFloat);
  if (!geo::ValidPosition(*lon, *lat)) {
    char buf[1024];
    std::snprintf(buf, sizeof(buf), "ERR invalid longitude,latitude pair %f,%f", *lon, *lat);
    return Err(buf);
  }
  return std::nullopt;
}

// Meters per unit (m, km, ft, mi; any case), or the error reply.
std::optional<Reply> ParseUnit(const std::string& unit, double* to_meters) {
  if (IEquals(unit, "m")) {
    *to_meters = 1;
  } else if (IEquals(unit, "km")) {
    *to_meters = 1000;
  } else if (IEquals(unit, "ft")) {
    *to_meters = 0.3048;
  } else if (IEquals(unit, "mi")) {
    *to_meters = 1609.34;
  } else {
    return Err("ERR unsupported unit provided. please use M, KM, FT, MI");
  }
  return std::nullopt;
}

// A non-negative length argument; `what` names it in the error ("radius", "width").
std::optional<Reply> ParseLength(const std::string& text, std::string_view what, double* out) {
  if (!crdt::ParseScore(text, out)) return Reply::Error("ERR need numeric " + std::string(what));
  return std::nullopt;
}

// The position of a member, if the set holds it.
bool MemberPosition(const ZsetStore* z, const std::string& member, double* lon, double* lat) {
  std::optional<double> score = z ? z->Score(member) : std::nullopt;
  if (!score) return false;
  geo::PositionOf(*score, lon, lat);
  return true;
}

Reply PositionReply(double lon, double lat) {
  std::vector<Reply> xy;
  xy.push_back(Reply::Bulk(geo::CoordinateText(lon)));
  xy.push_back(Reply::Bulk(geo::CoordinateText(lat)));
  return Reply::Array(std::move(xy));
}

// One point found by a search.
struct Hit {
  const std::string* member;
  double score;
  double lon, lat;
  double meters;
};

// The points of `z` inside `shape`, in Redis's order: the covering cells in turn (centre,
// N, S, E, W, NE, NW, SE, SW; a cell equal to the one read before it is skipped), each in
// score order. limit > 0 (COUNT ANY): stop once that many were found.
std::vector<Hit> Search(const ZsetStore& z, geo::Shape* shape, size_t limit) {
  geo::Cell cells[9];
  geo::Cover(shape, cells);
  std::vector<Hit> hits;
  static const std::string kLeast;
  int last = 0;
  for (int i = 0; i < 9; ++i) {
    if (cells[i].None()) continue;
    if (last != 0 && cells[i].bits == cells[last].bits && cells[i].step == cells[last].step) {
      continue;
    }
    if (limit > 0 && hits.size() >= limit) break;
    double min = 0, max = 0;
    geo::ScoreRange(cells[i], &min, &max);
    for (auto it = z.index().lower_bound(ZsetStore::Item{min, &kLeast});
         it != z.index().end() && it->score < max; ++it) {
      Hit h{it->member, it->score, 0, 0, 0};
      if (geo::Inside(*shape, it->score, &h.lon, &h.lat, &h.meters)) hits.push_back(h);
      if (limit > 0 && hits.size() >= limit) break;
    }
    last = i;
  }
  return hits;
}

// -1, 0, 1 as a's distance is below, equal to or above b's (negated for DESC).
int CompareDistance(const Hit& a, const Hit& b, bool desc) {
  const int c = a.meters > b.meters ? 1 : a.meters == b.meters ? 0 : -1;
  return desc ? -c : c;
}

// Redis's pqsort (a Bentley-McIlroy quicksort that only recurses into the parts that
// overlap the ranks [lo, hi]) on hits[a, a + n): it leaves ranks lo..hi sorted, and
// members at an equal distance in the order Redis leaves them, which a stable or
// introspective sort would not.
void PartialSort(std::vector<Hit>* hits, size_t a, size_t n, size_t lo, size_t hi, bool desc) {
  std::vector<Hit>& h = *hits;
  auto cmp = [&h, desc](size_t i, size_t j) { return CompareDistance(h[i], h[j], desc); };
  auto swap = [&h](size_t i, size_t j) { std::swap(h[i], h[j]); };
  auto swap_runs = [&swap](size_t i, size_t j, size_t k) {
    for (size_t t = 0; t < k; ++t) swap(i + t, j + t);
  };
  auto median = [&cmp](size_t x, size_t y, size_t z) {
    return cmp(x, y) < 0 ? (cmp(y, z) < 0 ? y : (cmp(x, z) < 0 ? z : x))
                         : (cmp(y, z) > 0 ? y : (cmp(x, z) < 0 ? x : z));
  };
  for (;;) {
    if (n < 7) {  // insertion sort
      for (size_t m = a + 1; m < a + n; ++m) {
        for (size_t l = m; l > a && cmp(l - 1, l) > 0; --l) swap(l, l - 1);
      }
      return;
    }
    size_t pm = a + n / 2;
    if (n > 7) {
      size_t pl = a, pn = a + n - 1;
      if (n > 40) {
        const size_t d = n / 8;
        pl = median(pl, pl + d, pl + 2 * d);
        pm = median(pm - d, pm, pm + d);
        pn = median(pn - 2 * d, pn - d, pn);
      }
      pm = median(pl, pm, pn);
    }
    swap(a, pm);
    // [a, pa): equal to the pivot; [pa, pb): below; (pc, pd]: above; (pd, end): equal.
    size_t pa = a + 1, pb = a + 1, pc = a + n - 1, pd = a + n - 1;
    for (;;) {
      int r = 0;
      while (pb <= pc && (r = cmp(pb, a)) <= 0) {
        if (r == 0) swap(pa++, pb);
        ++pb;
      }
      while (pb <= pc && (r = cmp(pc, a)) >= 0) {
        if (r == 0) swap(pc, pd--);
        --pc;
      }
      if (pb > pc) break;
      swap(pb++, pc--);
    }
    const size_t end = a + n;
    size_t r = std::min(pa - a, pb - pa);
    swap_runs(a, pb - r, r);
    r = std::min(pd - pc, end - pd - 1);
    swap_runs(pb, end - r, r);
    auto overlaps = [lo, hi](size_t first, size_t count) {
      return hi >= first && lo <= first + count - 1;
    };
    if ((r = pb - pa) > 1 && overlaps(a, r)) PartialSort(hits, a, r, lo, hi, desc);
    if ((r = pd - pc) <= 1 || !overlaps(end - r, r)) return;
    a = end - r;  // iterate on the upper part
    n = r;
  }
}

enum SearchFlags {
  kFromCoords = 1,   // GEORADIUS: key lon lat radius unit
  kFromMember = 2,   // GEORADIUSBYMEMBER: key member radius unit
  kNoStore = 4,      // the _RO forms: no STORE / STOREDIST
  kGeoSearch = 8,    // GEOSEARCH: FROMMEMBER / FROMLONLAT, BYRADIUS / BYBOX
  kSearchStore = 16  // GEOSEARCHSTORE dst src ...: STOREDIST
};

// The one search engine behind GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE (as geo.c
// georadiusGeneric, with its order of checks and errors). argv[src] is the set.
Reply SearchGeneric(Ctx& c, size_t src, int flags) {
  const std::string& key = c.argv[src];
  if (!TypeIs(c, key, Type::kZset)) return Err(kWrongType);
  const ZsetStore* z = ZsetOf(c, key);
  geo::Shape shape;
  const std::string* store_key = nullptr;
  bool store_dist = false;
  size_t base = 0;
  if (flags & kFromCoords) {
    base = 6;
    if (auto e = ParsePosition(c.argv[2], c.argv[3], &shape.lon, &shape.lat)) return *e;
  } else if (flags & kFromMember) {
    base = 5;
    if (z != nullptr && !MemberPosition(z, c.argv[2], &shape.lon, &shape.lat)) {
      return Err(kNoMember);
    }
  } else {
    base = (flags & kSearchStore) ? 3 : 2;
    if (flags & kSearchStore) store_key = &c.argv[1];
  }
  if ((flags & kFromCoords) || ((flags & kFromMember) && z != nullptr)) {
    if (auto e = ParseLength(c.argv[base - 2], "radius", &shape.radius)) return *e;
    if (shape.radius < 0) return Err("ERR radius cannot be negative");
    if (auto e = ParseUnit(c.argv[base - 1], &shape.to_meters)) return *e;
  }
  bool withdist = false, withhash = false, withcoord = false, any = false;
  bool from_member = false, from_lonlat = false, by_radius = false, by_box = false;
  enum { kNone, kAsc, kDesc } sort = kNone;
  int64_t count = 0;
  const bool search = flags & kGeoSearch;
  const size_t argc = c.argv.size();
  for (size_t i = base; i < argc; ++i) {
    const std::string& a = c.argv[i];
    const size_t left = argc - i - 1;
    if (IEquals(a, "withdist")) {
      withdist = true;
    } else if (IEquals(a, "withhash")) {
      withhash = true;
    } else if (IEquals(a, "withcoord")) {
      withcoord = true;
    } else if (IEquals(a, "any")) {
      any = true;
    } else if (IEquals(a, "asc")) {
      sort = kAsc;
    } else if (IEquals(a, "desc")) {
      sort = kDesc;
    } else if (IEquals(a, "count") && left >= 1) {
      if (!crdt::ParseRedisInteger(c.argv[i + 1], &count)) return Err(kNotInteger);
      if (count <= 0) return Err("ERR COUNT must be > 0");
      ++i;
    } else if ((IEquals(a, "store") || IEquals(a, "storedist")) && left >= 1 &&
               !(flags & kNoStore) && !search) {
      store_key = &c.argv[i + 1];
      store_dist = IEquals(a, "storedist");
      ++i;
    } else if (IEquals(a, "storedist") && (flags & kSearchStore)) {
      store_dist = true;
    } else if (IEquals(a, "frommember") && left >= 1 && search && !from_lonlat) {
      if (z != nullptr && !MemberPosition(z, c.argv[i + 1], &shape.lon, &shape.lat)) {
        return Err(kNoMember);
      }
      from_member = true;
      ++i;
    } else if (IEquals(a, "fromlonlat") && left >= 2 && search && !from_member) {
      if (auto e = ParsePosition(c.argv[i + 1], c.argv[i + 2], &shape.lon, &shape.lat)) {
        return *e;
      }
      from_lonlat = true;
      i += 2;
    } else if (IEquals(a, "byradius") && left >= 2 && search && !by_box) {
      if (auto e = ParseLength(c.argv[i + 1], "radius", &shape.radius)) return *e;
      if (shape.radius < 0) return Err("ERR radius cannot be negative");
      if (auto e = ParseUnit(c.argv[i + 2], &shape.to_meters)) return *e;
      shape.box = false;
      by_radius = true;
      i += 2;
    } else if (IEquals(a, "bybox") && left >= 3 && search && !by_radius) {
      if (auto e = ParseLength(c.argv[i + 1], "width", &shape.width)) return *e;
      if (auto e = ParseLength(c.argv[i + 2], "height", &shape.height)) return *e;
      if (shape.width < 0 || shape.height < 0) {
        return Err("ERR height or width cannot be negative");
      }
      if (auto e = ParseUnit(c.argv[i + 3], &shape.to_meters)) return *e;
      shape.box = true;
      by_box = true;
      i += 3;
    } else {
      return Err(kSyntax);
    }
  }
  if (store_key != nullptr && (withdist || withhash || withcoord)) {
    return Reply::Error(std::string("ERR ") +
                        ((flags & kSearchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS") +
                        " is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
  }
  if (search && !from_member && !from_lonlat) {
    return Reply::Error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " +
                        c.argv[0]);
  }
  if (search && !by_radius && !by_box) {
    return Reply::Error("ERR exactly one of BYRADIUS and BYBOX can be specified for " + c.argv[0]);
  }
  if (any && count == 0) return Err("ERR the ANY argument requires COUNT argument");

  std::vector<Hit> hits;
  if (z != nullptr) {
    if (count != 0 && sort == kNone && !any) sort = kAsc;  // the nearest COUNT
    hits = Search(*z, &shape, any ? static_cast<size_t>(count) : 0);
    const size_t returned = count != 0 && hits.size() > static_cast<size_t>(count)
                                ? static_cast<size_t>(count)
                                : hits.size();
    if (sort != kNone && returned == hits.size()) {
      // All of them: glibc's qsort (a merge sort at these sizes) keeps equal distances in
      // the order found.
      std::stable_sort(hits.begin(), hits.end(), [sort](const Hit& a, const Hit& b) {
        return CompareDistance(a, b, sort == kDesc) < 0;
      });
    } else if (sort != kNone) {
      PartialSort(&hits, 0, hits.size(), 0, returned - 1, sort == kDesc);
    }
    hits.resize(returned);
  }
  if (store_key != nullptr) {
    std::vector<ZsetStore::Item> items;
    items.reserve(hits.size());
    for (const Hit& h : hits) {
      items.push_back(ZsetStore::Item{store_dist ? h.meters / shape.to_meters : h.score, h.member});
    }
    return Reply::Integer(ZStoreItems(c, *store_key, items));
  }
  std::vector<Reply> out;
  out.reserve(hits.size());
  for (const Hit& h : hits) {
    if (!withdist && !withhash && !withcoord) {
      out.push_back(Reply::Bulk(*h.member));
      continue;
    }
    std::vector<Reply> item;
    item.push_back(Reply::Bulk(*h.member));
    if (withdist) item.push_back(Reply::Bulk(geo::DistanceText(h.meters / shape.to_meters)));
    if (withhash) item.push_back(Reply::Integer(static_cast<int64_t>(h.score)));
    if (withcoord) item.push_back(PositionReply(h.lon, h.lat));
    out.push_back(Reply::Array(std::move(item)));
  }
  return Reply::Array(std::move(out));
}

}  // namespace

// GEOADD key [NX|XX] [CH] lon lat member ...: the ZADD of the members' geohashes.
Reply GeoAdd(Ctx& c) {
  size_t first = 2;
  bool nx = false, xx = false;
  for (; first < c.argv.size(); ++first) {
    const std::string& a = c.argv[first];
    if (IEquals(a, "nx")) {
      nx = true;
    } else if (IEquals(a, "xx")) {
      xx = true;
    } else if (!IEquals(a, "ch")) {
      break;
    }
  }
  if ((c.argv.size() - first) % 3 != 0 || (nx && xx)) return Err(kSyntax);
  std::vector<std::string> zadd(c.argv.begin(), c.argv.begin() + static_cast<ptrdiff_t>(first));
  zadd[0] = "zadd";
  for (size_t i = first; i < c.argv.size(); i += 3) {
    double lon = 0, lat = 0;
    if (auto e = ParsePosition(c.argv[i], c.argv[i + 1], &lon, &lat)) return *e;
    char score[32];
    std::snprintf(score, sizeof(score), "%.0f", geo::ScoreOf(lon, lat));
    zadd.push_back(score);
    zadd.push_back(c.argv[i + 2]);
  }
  Ctx as_zadd{c.ks, zadd, c.now_us, c.delta, c.regions};
  Reply r = ZAdd(as_zadd);
  c.wrote = as_zadd.wrote;
  return r;
}

// GEOPOS key member ...: [lon, lat] of each member, a null array for the missing.
Reply GeoPos(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kZset)) return Err(kWrongType);
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::vector<Reply> out;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    double lon = 0, lat = 0;
    out.push_back(MemberPosition(z, c.argv[i], &lon, &lat) ? PositionReply(lon, lat)
                                                           : Reply::NilArray());
  }
  return Reply::Array(std::move(out));
}

// GEODIST key a b [unit]: the distance (4 decimals), nil if either is missing.
Reply GeoDist(Ctx& c) {
  double to_meters = 1;
  if (c.argv.size() == 5) {
    if (auto e = ParseUnit(c.argv[4], &to_meters)) return *e;
  } else if (c.argv.size() > 5) {
    return Err(kSyntax);
  }
  if (!TypeIs(c, c.argv[1], Type::kZset)) return Err(kWrongType);
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  double lon1 = 0, lat1 = 0, lon2 = 0, lat2 = 0;
  if (!MemberPosition(z, c.argv[2], &lon1, &lat1) || !MemberPosition(z, c.argv[3], &lon2, &lat2)) {
    return Reply::Nil();
  }
  return Reply::Bulk(geo::DistanceText(geo::DistanceMeters(lon1, lat1, lon2, lat2) / to_meters));
}

// GEOHASH key member ...: 11-character standard geohashes, nil for the missing.
Reply GeoHash(Ctx& c) {
  if (!TypeIs(c, c.argv[1], Type::kZset)) return Err(kWrongType);
  const ZsetStore* z = ZsetOf(c, c.argv[1]);
  std::vector<Reply> out;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    std::optional<double> score = z ? z->Score(c.argv[i]) : std::nullopt;
    out.push_back(score ? Reply::Bulk(geo::GeohashText(*score)) : Reply::Nil());
  }
  return Reply::Array(std::move(out));
}

Reply GeoRadius(Ctx& c) { return SearchGeneric(c, 1, kFromCoords); }
Reply GeoRadiusRo(Ctx& c) { return SearchGeneric(c, 1, kFromCoords | kNoStore); }
Reply GeoRadiusByMember(Ctx& c) { return SearchGeneric(c, 1, kFromMember); }
Reply GeoRadiusByMemberRo(Ctx& c) { return SearchGeneric(c, 1, kFromMember | kNoStore); }
Reply GeoSearch(Ctx& c) { return SearchGeneric(c, 1, kGeoSearch); }
Reply GeoSearchStore(Ctx& c) { return SearchGeneric(c, 2, kGeoSearch | kSearchStore); }

}  // namespace engine
}  // namespace cluster_sim
