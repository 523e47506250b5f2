// Helpers shared by the event queues' tests (event_queue_test.cc, latency_queue_test.cc).
#pragma once

#include <cstdint>
#include <vector>

namespace cluster_sim::test_util {

// Pops every event of q (one with Pop(uint32_t*)), in the order it gives them.
template <typename Queue>
std::vector<uint32_t> Drain(Queue& q) {
  std::vector<uint32_t> out;
  uint32_t v;
  while (q.Pop(&v)) out.push_back(v);
  return out;
}

}  // namespace cluster_sim::test_util
