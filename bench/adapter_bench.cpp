// adapter_bench: forward+backward cost of the frozen Llama with no adapters, LoRA (SS) and MoME, as in a
// training step (issue 4's overhead target: MoME <= 1.10x LoRA).
//   adapter_bench --config llama/config.json --device cuda --dtype bf16 --batch 8 --tokens 300 --repeat 10
// Random weights of the config's shapes; loss = cross-entropy on random labels; medians after a warm-up.
#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "kernel_profile.h"
#include "median_timing.h"
#include "mome/adapters/adapter_set.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/llm/llama.h"
#include "mome/train/losses.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("adapter_bench", "Times forward+backward of the frozen Llama with LoRA and MoME adapters.");
  cli.AddRequired("--config", "FILE", "Llama config.json (shapes only; weights are random)")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "compute dtype", "auto")
      .AddOption("--batch", "N", "sequences", "8")
      .AddOption("--tokens", "N", "tokens per sequence", "300")
      .AddOption("--repeat", "N", "timed steps (median reported)", "10")
      .AddOption("--profile", "PREFIX", "also write a Chrome trace of one step per variant to PREFIX<variant>.json",
                 "");
  if (!cli.Parse(argc, argv)) return 0;
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const llm::LlamaConfig config = llm::LlamaConfig::FromJsonFile(cli.GetString("--config"));
  llm::LlamaForCausalLM model(config, options);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 0.02);
  }
  const int64_t b = cli.GetInt("--batch"), t = cli.GetInt("--tokens"), repeat = cli.GetInt("--repeat");
  const at::Tensor embeds = at::randn({b, t, config.hidden_size}, options);
  const at::Tensor positions = at::arange(t, options.dtype(at::kLong)).unsqueeze(0).expand({b, t});
  const at::Tensor labels = at::randint(0, config.vocab_size, {b, t}, options.dtype(at::kLong));

  const std::string profile = cli.Has("--profile") ? cli.GetString("--profile") : "";
  auto time_steps = [&](adapters::AdapterSet& set, const std::string& name) {
    std::vector<torch::Tensor> trainable = set->parameters();
    std::vector<adapters::RouterStats> stats;  // as in training: the load-balancing loss reads them
    auto step = [&] {
      stats.clear();
      const adapters::BoundAdapters hooks = set->At(0, &stats);
      llm::ForwardExtras extras;
      extras.hooks = &hooks;
      const at::Tensor logits = model->forward(embeds, positions, {}, nullptr, extras);
      const at::Tensor loss = train::CrossEntropy(logits, labels);
      loss.backward();
      for (auto& p : trainable) p.mutable_grad() = at::Tensor();
    };
    const double ms = bench::MedianMs(repeat, device, step);
    if (!profile.empty()) bench::ProfileToTrace(profile + name + ".json", device.is_cuda(), step);
    return ms;
  };

  adapters::AdapterOptions lora;
  lora.kind = adapters::AdapterKind::kLoRA;
  lora.lora_variant = adapters::LoRAVariant::kSS;
  lora.lora_reduction = 32;
  lora.num_scales = 4;
  adapters::AdapterSet lora_set(lora, config, options);
  adapters::AdapterOptions mome;
  mome.kind = adapters::AdapterKind::kMoME;
  mome.placement = adapters::Placement::kLayer;
  mome.num_scales = 4;
  mome.mome.num_experts = 23;
  mome.mome.top_k = {4};
  mome.mome.num_shared = 1;
  mome.mome.bottleneck = 12;
  std::printf("%-28s %10s %12s\n", "adapters", "ms/step", "vs LoRA");
  const double lora_ms = time_steps(lora_set, "lora");
  std::printf("%-28s %10.2f %12.3f\n", "LoRA SS (r=d/32)", lora_ms, 1.0);
  for (const char* dispatch : {"dense", "sorted"}) {  // the two ways tokens reach experts (MoMEOptions::dispatch)
    mome.mome.dispatch = dispatch;
    adapters::AdapterSet mome_set(mome, config, options);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : mome_set->parameters()) p.normal_(0.0, 0.02);
    }
    const double mome_ms = time_steps(mome_set, std::string("mome_") + dispatch);
    const std::string label = std::string("MoME-23/4 LAYER, ") + dispatch;
    std::printf("%-28s %10.2f %12.3f\n", label.c_str(), mome_ms, mome_ms / lora_ms);
  }
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("adapter_bench", [&] { return mome::Main(argc, argv); });
}
