// mome_bench: decode speed of the Llama decoder (prefill ms and ms/token) at several batch sizes and beams.
//   mome_bench --model DIR [--random-init] --device cuda --dtype bf16 --prompt-len 300 --new-tokens 32
//              --batch 1,8 --beams 1 --repeat 5
// ms/token = (T(new_tokens) - T(1)) / (new_tokens - 1), the median of --repeat runs after a warm-up, the same
// method as bench/reference/hf_llama_decode.py. No EOS: every run generates exactly new_tokens tokens.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kernel_profile.h"
#include "median_timing.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/decode/generate.h"
#include "mome/llm/llama_loader.h"
#include "tool_main.h"

namespace mome {
namespace {

// A Generator keeps its KV cache and CUDA graph between calls, as a server decoding batch after batch does.
double TimeGenerate(decode::Generator& generator, const at::Tensor& embeds) {
  if (embeds.is_cuda()) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  generator.Generate(embeds, {});  // returns host vectors: the device work is finished
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int Main(int argc, char** argv) {
  CliParser cli("mome_bench", "Times Llama prefill and decoding (ms/token) with libmome.");
  cli.AddRequired("--model", "DIR", "HF Llama folder (with --random-init only config.json is read)")
      .AddFlag("--random-init", "random weights of the config's shapes instead of loading safetensors")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "compute dtype", "auto")
      .AddOption("--prompt-len", "N", "prompt tokens", "300")
      .AddOption("--new-tokens", "N", "generated tokens per run", "32")
      .AddOption("--batch", "LIST", "batch sizes", "1,8")
      .AddOption("--beams", "LIST", "beam sizes (1 = greedy)", "1")
      .AddOption("--repeat", "N", "timed runs per point (median, min and max reported)", "5")
      .AddFlag("--json", "print JSON lines instead of a table")
      .AddOption("--profile", "TRACE",
                 "also write a Chrome trace of one timed run per point to TRACE (BATCHxBEAMS.json "
                 "appended); never part of the timings",
                 "");
  if (!cli.Parse(argc, argv)) return 0;
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const std::string dir = cli.GetString("--model");
  llm::LlamaForCausalLM model{nullptr};
  if (cli.GetFlag("--random-init")) {
    model = llm::LlamaForCausalLM(llm::LlamaConfig::FromJsonFile(dir), at::TensorOptions().device(device).dtype(dtype));
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 0.02);
    model->PackProjections();  // as LoadLlama does
  } else {
    model = llm::LoadLlama(dir, device, dtype);
  }
  const int64_t prompt_len = cli.GetInt("--prompt-len"), new_tokens = cli.GetInt("--new-tokens");
  const int64_t repeat = cli.GetInt("--repeat");
  MOME_CHECK(new_tokens >= 2 && repeat >= 1 && prompt_len >= 1, ErrorCode::kInvalidArgument,
             "need --new-tokens >= 2, --repeat >= 1, --prompt-len >= 1");
  const bool json = cli.GetFlag("--json");
  if (!json) std::printf("%-14s %6s %6s %12s %12s\n", "workload", "batch", "beams", "prefill_ms", "ms/token");
  torch::NoGradGuard no_grad;
  for (int64_t beams : cli.GetList("--beams")) {
    for (int64_t batch : cli.GetList("--batch")) {
      at::manual_seed(0);
      const at::Tensor ids = at::randint(10, model->config().vocab_size - 10, {batch, prompt_len},
                                         at::TensorOptions().dtype(at::kLong).device(device));
      const at::Tensor embeds = model->model->Embed(ids);
      decode::GenerateOptions options;
      options.beam_size = beams;
      options.max_new_tokens = 1;
      decode::Generator prefill_only(*model, options);
      options.max_new_tokens = new_tokens;
      decode::Generator full_run(*model, options);
      TimeGenerate(prefill_only, embeds);  // warm-up: allocator, kernels, cuBLAS handles, graph capture
      TimeGenerate(full_run, embeds);
      std::vector<double> one, full;
      for (int64_t r = 0; r < repeat; ++r) one.push_back(TimeGenerate(prefill_only, embeds));
      for (int64_t r = 0; r < repeat; ++r) full.push_back(TimeGenerate(full_run, embeds));
      const auto prefill = bench::Summarise(one), whole = bench::Summarise(full);
      if (cli.Has("--profile"))
        bench::ProfileToTrace(
            cli.GetString("--profile") + "." + std::to_string(batch) + "x" + std::to_string(beams) + ".json",
            device.is_cuda(), [&] { TimeGenerate(full_run, embeds); });
      // The range of ms/token: the fastest and slowest full run, less the median prefill.
      const auto per_token = [&](double full_ms) { return (full_ms - prefill.median) / (new_tokens - 1.0); };
      if (json) {
        std::cout << nlohmann::json{{"impl", "libmome"},
                                    {"workload", "llama_decode"},
                                    {"batch", batch},
                                    {"beams", beams},
                                    {"prefill_ms", prefill.median},
                                    {"prefill_min_ms", prefill.min},
                                    {"prefill_max_ms", prefill.max},
                                    {"ms_per_token", per_token(whole.median)},
                                    {"ms_per_token_min", per_token(whole.min)},
                                    {"ms_per_token_max", per_token(whole.max)}}
                         .dump()
                  << std::endl;
      } else {
        std::printf("%-14s %6ld %6ld %12.3f %12.3f\n", "llama_decode", static_cast<long>(batch),
                    static_cast<long>(beams), prefill.median, per_token(whole.median));
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_bench", [&] { return mome::Main(argc, argv); });
}
