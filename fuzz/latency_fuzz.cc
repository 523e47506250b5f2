// Fuzz target: the latency-file loader (ParseLatencyConfig, IsLatencyText) on any text. It
// must never crash or hang, and an error is `fuzz.yaml:...: message`.
#include <string>
#include <string_view>

#include "cluster_sim/latency.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cluster_sim::IsLatencyText(text);
  auto config = cluster_sim::ParseLatencyConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    const std::string& m = config.status().message();
    FUZZ_CHECK(m.rfind("fuzz.yaml:", 0) == 0, m);
    return 0;
  }
  for (int d = 0; d < static_cast<int>(config->deployments.size()); ++d) {
    config->DeploymentName(d);
  }
  return 0;
}
