#include "cluster_sim/network.h"

#include <cmath>

#include "cluster_sim/status.h"

namespace cluster_sim {

double GreatCircleKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusKm = 6371.0088;  // IUGG mean radius
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * kRad;
  double dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(lat1 * kRad) *
                                                           std::cos(lat2 * kRad) *
                                                           std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

SimTime FibreLatency(double km, double route_factor) {
  constexpr double kFibreKmPerUs = 0.2;  // 200,000 km/s
  return SimTime(static_cast<int64_t>(std::llround(km * route_factor / kFibreKmPerUs)));
}

Network::Network(EventLoop& loop, const Rng& rng, std::vector<std::string> names)
    : loop_(loop), n_(static_cast<int>(names.size())), names_(std::move(names)) {
  links_.resize(static_cast<size_t>(n_ * n_));
  for (int a = 0; a < n_; ++a) {
    for (int b = 0; b < n_; ++b) {
      links_[Index(a, b)].rng = rng.Fork("link:" + names_[a] + "->" + names_[b]);
    }
  }
}

void Network::SetLink(int from, int to, const LinkParams& p) { links_[Index(from, to)].params = p; }

void Network::Cut(int a, int b) {
  links_[Index(a, b)].cut = true;
  links_[Index(b, a)].cut = true;
}

void Network::Restore(int a, int b) {
  links_[Index(a, b)].cut = false;
  links_[Index(b, a)].cut = false;
}

void Network::TraceLine(int from, int to, const char* event, const std::string& what,
                        size_t bytes) {
  if (!trace_) return;
  trace_(FormatDuration(loop_.Now()) + " " + names_[from] + "->" + names_[to] + " " + event + " " +
         what + " (" + std::to_string(bytes) + " B)");
}

void Network::Send(int from, int to, std::shared_ptr<const void> msg, size_t bytes,
                   std::string what) {
  AASIM_CHECK(from != to && from >= 0 && to >= 0 && from < n_ && to < n_);
  Link& link = links_[Index(from, to)];
  link.stats.messages_sent++;
  link.stats.bytes_sent += bytes;
  if (link.cut) {
    link.stats.dropped_cut++;
    TraceLine(from, to, "dropped (link cut)", what, bytes);
    return;
  }
  if (link.rng.Chance(link.params.loss)) {
    link.stats.dropped_loss++;
    TraceLine(from, to, "dropped (loss)", what, bytes);
    return;
  }
  int copies = 1;
  if (link.rng.Chance(link.params.duplicate)) {
    copies = 2;
    link.stats.duplicated++;
  }
  for (int copy = 0; copy < copies; ++copy) {
    SimTime delay = link.params.latency;
    if (link.params.jitter.count() > 0) {
      delay += SimTime(link.rng.Range(-link.params.jitter.count(), link.params.jitter.count()));
    }
    if (delay.count() < 0) delay = SimTime(0);
    TraceLine(from, to, copy == 0 ? "sent" : "duplicated", what, bytes);
    loop_.After(delay, [this, from, to, msg, bytes, what] {
      Link& l = links_[Index(from, to)];
      if (l.cut) {
        l.stats.dropped_cut++;
        TraceLine(from, to, "dropped in flight (link cut)", what, bytes);
        return;
      }
      l.stats.messages_delivered++;
      l.stats.bytes_delivered += bytes;
      TraceLine(from, to, "delivered", what, bytes);
      deliver_(from, to, msg);
    });
  }
}

}  // namespace cluster_sim
