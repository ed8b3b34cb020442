// A training config as mome_train reads it: YAML text, then `--set key=value` overrides (one per line after the
// first line that is exactly "--"), then validation; what loads must print and re-load to the same config.
#include <sstream>

#include "fuzz_harness.h"
#include "mome/core/config.h"
#include "mome/train/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mome::fuzz::SplitInput(data, size, "\n--\n");  // (structured bindings cannot be captured in C++17)
  const std::string& yaml = parts.first;
  const std::string& override_text = parts.second;
  std::vector<std::string> overrides;
  std::istringstream lines(override_text);
  for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  return mome::fuzz::Guarded([&] {
    using mome::train::TrainConfig;
    const auto config = mome::LoadConfigString<TrainConfig>(yaml, "config.yaml", overrides);
    const std::string printed = mome::ConfigToYaml(config, mome::ConfigFormat::kBlockWithHelp);
    const auto again = mome::LoadConfigString<TrainConfig>(printed, "printed config");
    if (mome::ConfigToYaml(again, mome::ConfigFormat::kBlockWithHelp) != printed) {
      std::fprintf(stderr, "finding: a loaded config does not re-load to itself\n");
      std::abort();
    }
  });
}
