// Fuzz target: the scenario loader (ParseScenario) on any text. It must never crash or
// hang; an error is `fuzz.yaml:LINE:COL: message`; a scenario it accepts is written back
// (FormatScenario) as a text it reads back to the same scenario.
#include <string>
#include <string_view>

#include "cluster_sim/scenario.h"
#include "fuzz_util.h"

namespace {

void CheckError(const cluster_sim::Status& status) {
  const std::string& m = status.message();
  FUZZ_CHECK(m.rfind("fuzz.yaml:", 0) == 0, m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool steps_optional : {false, true}) {
    cluster_sim::ParseOptions options;
    options.steps_optional = steps_optional;
    auto scenario = cluster_sim::ParseScenario(text, "fuzz.yaml", options);
    if (!scenario.ok()) {
      CheckError(scenario.status());
      continue;
    }
    for (auto backend : cluster_sim::kBackends) cluster_sim::NotApplicable(*scenario, backend);
    std::string formatted = cluster_sim::FormatScenario(*scenario);
    auto again = cluster_sim::ParseScenario(formatted, "fuzz.yaml", options);
    FUZZ_CHECK(again.ok(), again.status().message() + "\n" + formatted);
    FUZZ_CHECK(cluster_sim::FormatScenario(*again) == formatted, formatted);
  }
  return 0;
}
