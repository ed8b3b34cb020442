// mome_lm: runs a Hugging Face Llama checkpoint folder on a prompt — dumps its logits and/or generates.
//   mome_lm --model DIR (--ids 1,2,3 | --text "...") [--dump-logits F.safetensors] [--max-new-tokens N]
//           [--beam-size K] [--device cpu|cuda] [--dtype f32|bf16]
// Generation prints one JSON line {"ids": [generated ids], "text": "..."} on stdout.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/log.h"
#include "mome/decode/generate.h"
#include "mome/io/safetensors.h"
#include "mome/llm/llama_loader.h"
#include "mome/text/tokenizer.h"
#include "tool_main.h"

namespace mome {
namespace {

bool HasTokenizer(const std::string& dir) {
  namespace fs = std::filesystem;
  return fs::exists(fs::path(dir) / "tokenizer.json") || fs::exists(fs::path(dir) / "tokenizer.model");
}

void DumpLogits(const llm::LlamaForCausalLMImpl& model, const std::vector<int64_t>& ids, const std::string& path) {
  torch::NoGradGuard no_grad;
  const auto device = model.options().device();
  const int64_t t = static_cast<int64_t>(ids.size());
  const at::Tensor input = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(device).unsqueeze(0);
  const at::Tensor positions = at::arange(t, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0);
  const at::Tensor logits = model.forward(model.model->Embed(input), positions, {}, nullptr)[0];
  io::SaveSafetensors(path, {{"logits", logits.to(at::kFloat)}});
  log::Info("wrote logits [", t, ", ", logits.size(1), "] to ", path);
}

int Main(int argc, char** argv) {
  CliParser cli("mome_lm", "Runs a Hugging Face Llama checkpoint folder: logits and greedy/beam generation.");
  cli.AddRequired("--model", "DIR", "checkpoint folder: config.json + model.safetensors (or sharded index)")
      .AddOption("--ids", "1,2,3", "prompt token ids (used as given: no BOS is added)")
      .AddOption("--text", "STR", "prompt text, tokenised with the folder's tokenizer (adds BOS like HF)")
      .AddOption("--dump-logits", "FILE", "write float32 logits [T, vocab] of the prompt as tensor 'logits'")
      .AddOption("--max-new-tokens", "N", "tokens to generate (default 32; with --dump-logits only if given)")
      .AddOption("--beam-size", "K", "1 = greedy, K > 1 = beam search with HF semantics", "1")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|f16|auto", "compute dtype (auto: f32 on CPU, bf16 on CUDA)", "auto")
      .AddOption("--log-level", "LEVEL", "trace|debug|info|warn|error|off", "warn");
  if (!cli.Parse(argc, argv)) return 0;
  log::SetLevel(log::ParseLevel(cli.GetString("--log-level")));
  MOME_CHECK(cli.Has("--ids") != cli.Has("--text"), ErrorCode::kInvalidArgument,
             "give exactly one of --ids and --text");

  const std::string dir = cli.GetString("--model");
  MOME_CHECK(std::filesystem::is_directory(dir), ErrorCode::kNotFound, dir, ": no such model folder");
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const llm::LlamaForCausalLM model = llm::LoadLlama(dir, device, dtype);
  const llm::LlamaConfig& config = model->config();

  std::unique_ptr<text::Tokenizer> tokenizer;
  if (cli.Has("--text") || HasTokenizer(dir)) {
    MOME_CHECK(HasTokenizer(dir), ErrorCode::kNotFound, dir, ": --text needs tokenizer.json or tokenizer.model");
    tokenizer = text::LoadTokenizer(dir);
  }
  std::vector<int64_t> ids = cli.Has("--ids") ? cli.GetList("--ids") : tokenizer->Encode(cli.GetString("--text"), true);
  MOME_CHECK(!ids.empty(), ErrorCode::kInvalidArgument, "the prompt is empty");
  for (int64_t id : ids)
    MOME_CHECK(id >= 0 && id < config.vocab_size, ErrorCode::kInvalidArgument, "token id ", id,
               " is outside the vocabulary [0, ", config.vocab_size, ") of ", dir);

  if (cli.Has("--dump-logits")) DumpLogits(*model, ids, cli.GetString("--dump-logits"));
  if (cli.Has("--dump-logits") && !cli.Has("--max-new-tokens")) return 0;

  const llm::GenerationDefaults defaults = llm::LoadGenerationDefaults(dir, config);
  decode::GenerateOptions options;
  options.max_new_tokens = cli.Has("--max-new-tokens") ? cli.GetInt("--max-new-tokens") : 32;
  options.beam_size = cli.GetInt("--beam-size");
  options.eos_token_ids = defaults.eos_token_ids;
  options.pad_token_id = defaults.pad_token_id.value_or(0);
  const decode::Hypothesis best = decode::GenerateFromIds(*model, {ids}, options)[0];

  nlohmann::json line;
  line["ids"] = best.ids;
  if (tokenizer) line["text"] = tokenizer->Decode(best.ids, /*skip_special_tokens=*/true);
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_lm", [&] { return mome::Main(argc, argv); });
}
