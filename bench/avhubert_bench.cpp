// avhubert_bench: the AV-HuBERT visual encoder's forward time on mouth-ROI video (88x88 frames at 25 fps), with
// random weights of the Large (or Tiny) shapes. With --save DIR it also writes the weights (as
// tools/convert_avhubert.py would), the input and libmome's output, so bench/reference/avhubert_reference.py can
// check an independent PyTorch implementation against it and time that on the same input.
//   avhubert_bench --device cuda --dtype bf16 --seconds 10 --batch 1,8 [--save DIR] [--tiny]
// Prints one JSON line per batch size: {"workload", "batch", "seconds", "ms", "peak_mb"}; medians after warm-up.
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "median_timing.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/encoders/avhubert.h"
#include "mome/io/safetensors.h"
#include "tool_main.h"

namespace mome {
namespace {

using bench::MedianMs;
using bench::PeakMb;
using bench::ResetPeak;

int Main(int argc, char** argv) {
  CliParser cli("avhubert_bench", "Times the AV-HuBERT visual encoder (random weights) on mouth-ROI video.");
  cli.AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "compute dtype", "auto")
      .AddOption("--seconds", "S", "video length (25 fps)", "10")
      .AddOption("--batch", "LIST", "batch sizes", "1")
      .AddOption("--repeat", "N", "timed runs (median reported)", "10")
      .AddFlag("--tiny", "the Tiny test shapes instead of Large")
      .AddOption("--weights", "FILE", "an AV-HuBERT file (tools/convert_avhubert.py) instead of random weights", "")
      .AddOption("--save", "DIR", "write weights, input and output (batch 1) for the Python reference", "");
  if (!cli.Parse(argc, argv)) return 0;
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const auto encoder = cli.Has("--weights")
                           ? encoders::LoadAVHubertEncoder(cli.GetString("--weights"), device, dtype)
                           : encoders::RandomAVHubertEncoder(cli.GetFlag("--tiny") ? encoders::AVHubertConfig::Tiny()
                                                                                   : encoders::AVHubertConfig::Large(),
                                                             device, dtype, 11);
  const auto& config = encoder->config();
  const auto frames = static_cast<int64_t>(cli.GetDouble("--seconds") * 25.0);
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  const auto clip = torch::randn({1, frames, 88, 88});

  if (cli.Has("--save")) {
    const std::string dir = cli.GetString("--save");
    std::filesystem::create_directories(dir);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& p : encoder->named_parameters()) tensors.emplace_back(p.key(), p.value().to(at::kFloat));
    for (const auto& b : encoder->named_buffers()) tensors.emplace_back(b.key(), b.value().to(at::kFloat));
    io::SaveSafetensors(dir + "/avhubert.safetensors", tensors, {{"config", config.ToJson()}});
    const auto out = encoder->forward(clip.to(device)).to(at::kFloat).cpu();
    io::SaveSafetensors(dir + "/io.safetensors", {{"video", clip}, {"output", out}},
                        {{"dtype", dtype == at::kBFloat16 ? "bf16" : "f32"}});
  }
  for (int64_t batch : cli.GetList("--batch")) {
    const auto video = clip.expand({batch, frames, 88, 88}).contiguous().to(device, dtype);
    ResetPeak(device);
    const auto t = bench::TimeRuns(cli.GetInt("--repeat"), device, [&] { encoder->forward(video); });
    std::printf(
        "{\"workload\": \"avhubert_%s\", \"batch\": %lld, \"seconds\": %.1f, \"ms\": %.3f, \"min_ms\": %.3f, "
        "\"max_ms\": %.3f, \"peak_mb\": %.1f}\n",
        cli.GetFlag("--tiny") ? "tiny" : "large", static_cast<long long>(batch), frames / 25.0, t.median, t.min, t.max,
        PeakMb(device));
  }
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("avhubert_bench", [&] { return mome::Main(argc, argv); });
}
