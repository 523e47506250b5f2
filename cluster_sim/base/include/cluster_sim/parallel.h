// ParallelFor: runs independent pieces of work (whole simulations, each with its own
// seeded state) on a few threads. Which thread runs which piece is left to chance, so a
// caller that wants the same output whatever the thread count stores each result at its
// index and reads them in index order afterwards. The simulations themselves stay
// single-threaded; nothing here touches their time or randomness.
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace cluster_sim {

// Calls f(i) once for every i in [0, n), on min(jobs, n) threads (the calling thread among
// them), and returns when every call has returned. f must be safe to call concurrently
// with itself for different i. REQUIRES: jobs >= 1.
template <typename F>
void ParallelFor(size_t n, int jobs, F f) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) f(i);
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs && static_cast<size_t>(t) < n; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
}

// The default number of threads: one per core (at least 1).
inline int DefaultJobs() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

}  // namespace cluster_sim
