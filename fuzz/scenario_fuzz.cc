// Fuzz target: the scenario loader (ParseScenario) on any text. It must never crash or
// hang; an error is `fuzz.yaml:LINE:COL: message`; a scenario it accepts is written back
// (FormatScenario) as a text it reads back to the same scenario. Loaded with the steps
// streamed (the default) and as a whole tree, it gives the same scenario or error.
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
    cluster_sim::ParseOptions tree_options = options;
    tree_options.stream_steps = false;
    auto tree = cluster_sim::ParseScenario(text, "fuzz.yaml", tree_options);
    FUZZ_CHECK(scenario.ok() == tree.ok(),
               scenario.ok() ? tree.status().message() : scenario.status().message());
    if (!scenario.ok()) {
      FUZZ_CHECK(scenario.status().message() == tree.status().message(),
                 scenario.status().message() + "\n" + tree.status().message());
      CheckError(scenario.status());
      continue;
    }
    for (auto backend : cluster_sim::kBackends) cluster_sim::NotApplicable(*scenario, backend);
    std::string formatted = cluster_sim::FormatScenario(*scenario);
    FUZZ_CHECK(cluster_sim::FormatScenario(*tree) == formatted, formatted);
    auto again = cluster_sim::ParseScenario(formatted, "fuzz.yaml", options);
    FUZZ_CHECK(again.ok(), again.status().message() + "\n" + formatted);
    FUZZ_CHECK(cluster_sim::FormatScenario(*again) == formatted, formatted);
  }
  return 0;
}
