// The benchmarks' timing rule: two warm-up calls, then the median of `repeat` timed calls, synchronising the GPU
// around each so that queued kernels are counted.
#pragma once

#include <c10/core/Device.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace mome::bench {

template <typename F>
double MedianMs(int64_t repeat, c10::Device device, F&& f) {
  f();
  f();
  if (device.is_cuda()) torch::cuda::synchronize();
  std::vector<double> ms;
  for (int64_t i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    if (device.is_cuda()) torch::cuda::synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace mome::bench
