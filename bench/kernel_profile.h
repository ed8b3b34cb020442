// Where a benchmark's time goes: records calls with the Kineto profiler (CPU operators and CUDA kernels) and
// writes a Chrome trace (open it in Perfetto, or print the kernels that take the time with
// bench/summarize_trace.py). Used by the benchmarks' --profile flag; never by the timed runs.
#pragma once

#include <torch/csrc/autograd/profiler_kineto.h>

#include <set>
#include <string>

namespace mome::bench {

template <typename F>
void ProfileToTrace(const std::string& path, bool cuda, F&& f) {
  namespace prof = torch::profiler::impl;
  std::set<prof::ActivityType> activities = {prof::ActivityType::CPU};
  if (cuda) activities.insert(prof::ActivityType::CUDA);
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  f();
  torch::autograd::profiler::disableProfiler()->save(path);
}

}  // namespace mome::bench
