// The benchmarks' timing rule: two warm-up calls, then the median (with min and max) of `repeat` timed calls,
// synchronising the GPU around each so that queued kernels are counted. Also the peak GPU memory they report.
#pragma once

#include <c10/core/Device.h>
#include <torch/cuda.h>
#if MOME_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace mome::bench {

struct Timing {
  double median = 0, min = 0, max = 0;  // ms
};

inline Timing Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

// "12.34 ms (12.01-13.20)": the median, then the range of the timed runs.
inline std::string FormatTiming(const Timing& t) {
  char text[96];
  std::snprintf(text, sizeof text, "%8.2f ms (%.2f-%.2f)", t.median, t.min, t.max);
  return text;
}

template <typename F>
Timing TimeRuns(int64_t repeat, c10::Device device, F&& f) {
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
  return Summarise(std::move(ms));
}

template <typename F>
double MedianMs(int64_t repeat, c10::Device device, F&& f) {
  return TimeRuns(repeat, device, std::forward<F>(f)).median;
}

// Peak bytes allocated by tensors on `device` since the last ResetPeak, in MiB (0 off the GPU).
inline double PeakMb(c10::Device device) {
#if MOME_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);
  }
#endif
  return 0;
}

inline void ResetPeak(c10::Device device) {
#if MOME_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#endif
}

// Hands cached blocks back to the driver, so that a model freed before the next measurement is really gone.
inline void ReleaseCachedMemory(c10::Device device) {
#if MOME_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

}  // namespace mome::bench
