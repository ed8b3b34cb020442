// mobe_runtime_bench: running a MoE expert block from MoBE-compressed weights (mome/compress/compressed_format.h)
// each way CompressedMoe offers: every expert reconstructed at load, each routed expert reconstructed at each call,
// or each routed expert's factors applied without forming Ŵ_i. Prints a markdown table: load time, expert weight
// memory, and forward ms per token count.
//   mobe_runtime_bench [--experts 64 --hidden 1024 --intermediate 384 --rank 32 --bases 8 --top-k 8]
//                      [--tokens 1,16,128] [--device cpu|cuda] [--dtype f32|bf16|auto] [--repeat 5]
//   mobe_runtime_bench --fit-layer [--rank 64 --bases 8 --steps N --device cuda]: seconds to fit one such layer
//   a Qwen3-30B-A3B layer: --experts 128 --hidden 2048 --intermediate 768 --rank 64 --bases 8 --top-k 8
// The default is that layer at half width and half the experts, so a CPU run takes seconds. Factors are random
// (the time does not depend on their values); routing is uniform random top-k, fixed by the seed.
#include <ATen/ATen.h>

#include <torch/cuda.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "median_timing.h"
#include "mome/compress/compressed_format.h"
#include "mome/compress/mobe.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "tool_main.h"

namespace mome {
namespace {

using compress::MoeRuntime;

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

compress::MobeFactors RandomFactors(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m) {
  compress::MobeFactors f;
  f.a = at::randn({n, p, r}) / std::sqrt(static_cast<double>(r));
  f.b = at::randn({m, r, d});
  f.logits = at::randn({n, m});
  f.sigma = 0.02;
  return f;
}

// --fit-layer: seconds to fit MoBE to one random Qwen3-30B-A3B layer (128 experts, gate and up each [768, 2048]),
// both kinds, as mome_compress does per layer.
int FitLayer(const CliParser& cli) {
  const auto device = ParseDevice(cli.GetString("--device"));
  compress::MobeOptions o;
  o.rank = cli.GetInt("--rank");
  o.bases = cli.GetInt("--bases");
  o.steps = cli.GetInt("--steps");
  o.lr = cli.GetDouble("--lr");
  at::manual_seed(0);
  // Qwen3-30B-A3B: 128 experts, moe_intermediate_size 768, hidden 2048; gate and up each [768, 2048].
  auto w = at::randn({128, 768, 2048}, at::TensorOptions().device(device)) * 0.02;
  for (int rep = 0; rep < 2; ++rep) {  // the first run includes warm-up (CUDA context, kernels); report both
    const auto start = std::chrono::steady_clock::now();
    for (int kind = 0; kind < 2; ++kind) compress::FitMobe(w, o, kind ? "up" : "gate");
    if (device.is_cuda()) torch::cuda::synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << nlohmann::json{{"bench", "qwen3_30b_a3b_layer"},
                                {"device", cli.GetString("--device")},
                                {"rank", o.rank},
                                {"bases", o.bases},
                                {"steps", o.steps},
                                {"warm", rep > 0},
                                {"seconds_per_layer", s}}
                     .dump()
              << std::endl;
  }
  return 0;
}

int Main(int argc, char** argv) {
  CliParser cli("mobe_runtime_bench", "Times a MoE layer run from MoBE factors: reconstruct at load vs per expert.");
  cli.AddOption("--experts", "N", "experts n", "64")
      .AddOption("--hidden", "D", "hidden size d", "1024")
      .AddOption("--intermediate", "P", "expert intermediate size p (gate/up are [p, d])", "384")
      .AddOption("--rank", "R", "MoBE rank r", "32")
      .AddOption("--bases", "M", "MoBE bases m", "8")
      .AddOption("--top-k", "K", "experts per token", "8")
      .AddOption("--tokens", "LIST", "tokens per forward (1 = one decode step)", "1,16,128")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "compute dtype", "auto")
      .AddOption("--repeat", "N", "timed runs per point (median reported)", "5")
      .AddFlag("--fit-layer", "instead: seconds to fit one Qwen3-30B-A3B layer (uses --rank, --bases, --steps, --lr)")
      .AddOption("--steps", "N", "--fit-layer: Adam steps", "1000")
      .AddOption("--lr", "X", "--fit-layer: Adam learning rate", "0.07");
  if (!cli.Parse(argc, argv)) return 0;
  if (cli.GetFlag("--fit-layer")) return FitLayer(cli);
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const int64_t n = cli.GetInt("--experts"), d = cli.GetInt("--hidden"), p = cli.GetInt("--intermediate");
  const int64_t r = cli.GetInt("--rank"), m = cli.GetInt("--bases"), k = cli.GetInt("--top-k");
  const int64_t repeat = cli.GetInt("--repeat");
  MOME_CHECK(
      n >= 1 && d >= 1 && p >= 1 && r >= 1 && r <= std::min(p, d) && m >= 1 && m <= n && k >= 1 && k <= n &&
          repeat >= 1,
      ErrorCode::kInvalidArgument,
      "need positive sizes, 1 <= rank <= min(intermediate, hidden), bases and top-k in [1, experts], repeat >= 1");
  const auto tokens = cli.GetList("--tokens");
  const auto options = at::TensorOptions().device(device).dtype(dtype);

  at::manual_seed(0);
  compress::CompressedLayer layer;
  layer.factors = {RandomFactors(n, p, d, r, m), RandomFactors(n, p, d, r, m)};
  const at::Tensor down = at::randn({n, d, p}) * 0.02;
  for (int64_t i = 0; i < n; ++i) layer.dense.emplace_back("down." + std::to_string(i), down[i]);
  struct Batch {
    at::Tensor x, experts, weights;
  };
  std::vector<Batch> batches;
  for (int64_t t : tokens) {
    MOME_CHECK(t >= 1, ErrorCode::kInvalidArgument, "--tokens must be positive, got ", t);
    batches.push_back(
        {at::randn({t, d}, options), std::get<1>(at::rand({t, n}).topk(k, 1)), at::softmax(at::randn({t, k}), 1)});
  }

  std::printf("MoE layer: %ld experts, gate/up [%ld, %ld], top-%ld; MoBE rank %ld, %ld bases; %s %s; median of %ld\n\n",
              static_cast<long>(n), static_cast<long>(p), static_cast<long>(d), static_cast<long>(k),
              static_cast<long>(r), static_cast<long>(m), device.str().c_str(), DtypeName(dtype).c_str(),
              static_cast<long>(repeat));
  std::string header = "| runtime | load ms | expert weights MiB |", rule = "|---|---|---|";
  for (int64_t t : tokens) {
    header += " " + std::to_string(t) + " token" + (t == 1 ? "" : "s") + " ms |";
    rule += "---|";
  }
  std::printf("%s\n%s\n", header.c_str(), rule.c_str());
  torch::NoGradGuard no_grad;
  for (auto runtime : {MoeRuntime::kReconstructAtLoad, MoeRuntime::kReconstructPerExpert, MoeRuntime::kFactored}) {
    const double load_ms = bench::MedianMs(repeat, device, [&] { compress::CompressedMoe(layer, runtime, options); });
    const compress::CompressedMoe moe(layer, runtime, options);
    std::string row = std::string("| ") + compress::MoeRuntimeName(runtime) + " | " + Fixed(load_ms, 2) + " | " +
                      Fixed(static_cast<double>(moe.WeightBytes()) / (1 << 20), 1) + " |";
    for (const auto& b : batches) {
      const double ms = bench::MedianMs(repeat, device, [&] { moe.Forward(b.x, b.experts, b.weights); });
      row += " " + Fixed(ms, 3) + " |";
    }
    std::printf("%s\n", row.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mobe_runtime_bench", [&] { return mome::Main(argc, argv); });
}
