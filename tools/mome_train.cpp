// mome_train: trains an AVSR model from a YAML config.
//   mome_train --config FILE [--set key=value ...] --dry-run [--json]
// --dry-run builds the model from the config alone (meta tensors: no weight file is read, no memory is used)
// and prints its parameter table. Training itself is issue 6 and not here yet.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/model/avsr_model.h"
#include "mome/model/model_config.h"
#include "tool_main.h"

namespace mome {
namespace {

int64_t CountParameters(const torch::nn::Module& module, const std::string& name_part = "") {
  int64_t total = 0;
  for (const auto& p : module.named_parameters())
    if (name_part.empty() || p.key().find(name_part) != std::string::npos) total += p.value().numel();
  return total;
}

void PrintRow(const char* what, int64_t count, const char* trainable) {
  std::fprintf(stderr, "  %-30s %16lld  %s\n", what, static_cast<long long>(count), trainable);
}

int DryRun(const model::ModelConfig& config, bool json) {
  const auto meta = at::TensorOptions().device(at::kMeta).dtype(at::kBFloat16);
  const llm::LlamaConfig llm_config = model::ResolveLlmConfig(config.llm);
  llm::LlamaForCausalLM llm(llm_config, meta);
  model::AVSRModel avsr(model::ToModelOptions(config), llm, meta);
  const int64_t llm_params = CountParameters(*llm);
  const int64_t audio_proj = CountParameters(*avsr, "audio_projector");
  const int64_t video_proj = CountParameters(*avsr, "video_projector");
  const int64_t adapter_total = CountParameters(*avsr->adapter_set());
  const int64_t special = avsr->special_embeddings.numel();
  const int64_t trainable = audio_proj + video_proj + adapter_total + special;
  std::vector<int64_t> active;
  for (size_t s = 0; s < avsr->rate_pairs().size(); ++s)
    active.push_back(avsr->adapter_set()->ActiveParameters(static_cast<int64_t>(s)));
  const int64_t adapter_active = *std::max_element(active.begin(), active.end());

  std::fprintf(stderr, "parameters of %s (encoders are not counted: they are not built yet, issue 3)\n",
               llm_config.ToString().c_str());
  PrintRow("llm (frozen)", llm_params, "frozen");
  PrintRow("audio projectors", audio_proj, "trainable");
  PrintRow("video projectors", video_proj, "trainable");
  PrintRow("adapters", adapter_total, "trainable");
  PrintRow("special token embeddings", special, "trainable");
  PrintRow("total", llm_params + trainable, "");
  PrintRow("trainable", trainable, "");
  for (size_t s = 0; s < active.size(); ++s) {
    const auto& pair = avsr->rate_pairs()[s];
    const std::string label = "adapter active/token (" + std::to_string(pair.audio) + "," +
                              std::to_string(pair.video) + ")";
    PrintRow(label.c_str(), active[s], "");
  }
  if (json) {
    nlohmann::json out = {{"total", llm_params + trainable},
                          {"frozen", llm_params},
                          {"trainable", trainable},
                          {"llm", llm_params},
                          {"encoders_counted", false},
                          {"projectors", audio_proj + video_proj},
                          {"special_embeddings", special},
                          {"adapter_total", adapter_total},
                          {"adapter_active", adapter_active},
                          {"adapter_active_per_pair", active}};
    std::cout << out.dump() << std::endl;
  }
  return 0;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_train", "Trains an AVSR model (MoME / LoRA adapters in a frozen Llama) from a YAML config.");
  cli.AddRequired("--config", "FILE", "model + training YAML (see configs/)")
      .AddRepeated("--set", "KEY=VALUE", "override a config key, e.g. adapters.top_k=[2]")
      .AddOption("--out", "DIR", "output folder")
      .AddFlag("--dry-run", "build the model from the config alone (no weights read) and print its parameters")
      .AddFlag("--json", "with --dry-run: the last stdout line is a JSON object of the counts")
      .AddHelpSection("config keys", ConfigHelp<model::ModelConfig>());
  if (!cli.Parse(argc, argv)) return 0;
  const auto config = LoadConfigFile<model::ModelConfig>(cli.GetString("--config"), cli.GetAll("--set"));
  MOME_CHECK(cli.GetFlag("--dry-run"), ErrorCode::kUnsupported,
             "training is not implemented yet (issue 6); only --dry-run is available");
  return DryRun(config, cli.GetFlag("--json"));
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_train", [&] { return mome::Main(argc, argv); });
}
