// mome_train: trains an AVSR model from a YAML config (model sections + `train:`).
//   mome_train --config FILE [--set key=value ...] --out DIR [--resume] [--nproc N]
//   mome_train --config FILE [--set key=value ...] --dry-run [--json]
// --dry-run builds the model from the config alone (meta tensors: no weight file is read, no memory is used)
// and prints its parameter table. --nproc N starts N data-parallel processes on this machine (c10d; the
// torchrun variables RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set by hand work the same across machines).
#include <ATen/Parallel.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/core/device.h"
#include "mome/core/log.h"
#include "mome/encoders/avhubert.h"
#include "mome/encoders/whisper.h"
#include "mome/eval/validation.h"
#include "mome/model/avsr_model.h"
#include "mome/model/avsr_pipeline.h"
#include "mome/model/model_config.h"
#include "mome/train/distributed.h"
#include "mome/train/train_config.h"
#include "mome/train/trainer.h"
#include "tool_main.h"

namespace mome {
namespace {

// SIGINT/SIGTERM: the trainer finishes its step, writes a checkpoint and returns (the tool's business, not the
// library's: it only reads the flag).
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) {
  g_stop = true;
}

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
  // Encoders of the config's presets/sizes, also on the meta device (a path is not read: the preset says the size).
  const bool audio = config.model.modality != "vsr", video = config.model.modality != "asr";
  const int64_t audio_enc =
      audio ? CountParameters(*encoders::WhisperEncoder(model::WhisperConfigFor(config.audio_encoder), meta)) : 0;
  const int64_t video_enc =
      video ? CountParameters(*encoders::AVHubertVisualEncoder(model::AVHubertConfigFor(config.video_encoder), meta))
            : 0;
  const auto enc_state = [](const model::EncoderSection& s) { return s.trainable ? "trainable" : "frozen"; };
  const int64_t enc_trainable =
      (config.audio_encoder.trainable ? audio_enc : 0) + (config.video_encoder.trainable ? video_enc : 0);
  const int64_t audio_proj = CountParameters(*avsr, "audio_projector");
  const int64_t video_proj = CountParameters(*avsr, "video_projector");
  const int64_t adapter_total = CountParameters(*avsr->adapter_set());
  const int64_t special = avsr->special_embeddings.numel();
  const int64_t llm_trainable = config.llm.trainable ? llm_params : 0;
  const int64_t trainable = audio_proj + video_proj + adapter_total + special + enc_trainable + llm_trainable;
  const int64_t total = llm_params + audio_enc + video_enc + audio_proj + video_proj + adapter_total + special;
  std::vector<int64_t> active;
  for (size_t s = 0; s < avsr->rate_pairs().size(); ++s)
    active.push_back(avsr->adapter_set()->ActiveParameters(static_cast<int64_t>(s)));
  const int64_t adapter_active = *std::max_element(active.begin(), active.end());

  std::fprintf(stderr, "parameters of %s\n", llm_config.ToString().c_str());
  PrintRow("llm", llm_params, config.llm.trainable ? "trainable" : "frozen");
  if (audio) PrintRow("audio encoder (Whisper)", audio_enc, enc_state(config.audio_encoder));
  if (video) PrintRow("video encoder (AV-HuBERT)", video_enc, enc_state(config.video_encoder));
  PrintRow("audio projectors", audio_proj, "trainable");
  PrintRow("video projectors", video_proj, "trainable");
  PrintRow("adapters", adapter_total, "trainable");
  PrintRow("special token embeddings", special, "trainable");
  PrintRow("total", total, "");
  PrintRow("frozen", total - trainable, "");
  PrintRow("trainable", trainable, "");
  for (size_t s = 0; s < active.size(); ++s) {
    const auto& pair = avsr->rate_pairs()[s];
    const std::string label =
        "adapter active/token (" + std::to_string(pair.audio) + "," + std::to_string(pair.video) + ")";
    PrintRow(label.c_str(), active[s], "");
  }
  if (json) {
    nlohmann::json out = {{"total", total},
                          {"frozen", total - trainable},
                          {"trainable", trainable},
                          {"llm", llm_params},
                          {"audio_encoder", audio_enc},
                          {"video_encoder", video_enc},
                          {"encoders_counted", true},
                          {"projectors", audio_proj + video_proj},
                          {"special_embeddings", special},
                          {"adapter_total", adapter_total},
                          {"adapter_active", adapter_active},
                          {"adapter_active_per_pair", active}};
    std::cout << out.dump() << std::endl;
  }
  return 0;
}

// Runs this same binary `n` times with the torchrun variables set; returns the first failing exit code.
int LaunchLocal(int n, int argc, char** argv) {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  const std::string port = std::to_string(20000 + rng() % 20000);
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;
      continue;
    }
    if (a.rfind("--nproc=", 0) == 0) continue;
    args.push_back(a);
  }
  std::vector<pid_t> children;
  for (int rank = 0; rank < n; ++rank) {
    const pid_t pid = ::fork();
    MOME_CHECK(pid >= 0, ErrorCode::kIo, "--nproc: cannot start process ", rank);
    if (pid == 0) {
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv("/proc/self/exe", cargs.data());
      std::perror("mome_train: exec");
      ::_exit(127);
    }
    children.push_back(pid);
  }
  int result = 0;
  for (size_t left = children.size(); left > 0; --left) {
    int status = 0;
    const pid_t pid = ::wait(&status);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && result == 0) {
      result = code;
      for (pid_t c : children)
        if (c != pid) ::kill(c, SIGTERM);  // the others would wait forever in a collective
    }
  }
  return result;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_train", "Trains an AVSR model (MoME / LoRA adapters in a frozen Llama) from a YAML config.");
  cli.AddRequired("--config", "FILE", "model + training YAML (see configs/)")
      .AddRepeated("--set", "KEY=VALUE", "override a config key, e.g. adapters.top_k=[2] or train.max_steps=100")
      .AddOption("--out", "DIR", "run folder: checkpoints/, best/, metrics.jsonl, config.yaml, loss.png, wer.png")
      .AddFlag("--resume", "continue from the latest checkpoint in --out (exactly: same losses as without the stop)")
      .AddOption("--nproc", "N", "data-parallel processes on this machine (c10d: Gloo on CPU, NCCL on CUDA)", "1")
      .AddFlag("--dry-run", "build the model from the config alone (no weights read) and print its parameters")
      .AddFlag("--json", "with --dry-run: the last stdout line is a JSON object of the counts")
      .AddHelpSection("config keys", ConfigHelp<train::TrainConfig>());
  if (!cli.Parse(argc, argv)) return 0;
  auto config = LoadConfigFile<train::TrainConfig>(cli.GetString("--config"), cli.GetAll("--set"));
  if (cli.GetFlag("--dry-run")) return DryRun(config.model, cli.GetFlag("--json"));
  MOME_CHECK(cli.Has("--out"), ErrorCode::kInvalidArgument, "--out DIR is required to train");
  const int64_t nproc = cli.GetInt("--nproc");
  MOME_CHECK(nproc >= 1 && nproc <= 256, ErrorCode::kInvalidArgument, "--nproc must be in [1, 256], got ", nproc);
  const auto env = train::DistributedEnv::FromEnvironment();
  // Before any process starts; rank 0 writes the folder, so only it (or the launcher) may look.
  if (env.rank == 0) train::CheckRunFolder(cli.GetString("--out"), cli.GetFlag("--resume"));
  if (nproc > 1) return LaunchLocal(static_cast<int>(nproc), argc, argv);

  if (config.train.threads > 0) at::set_num_threads(static_cast<int>(config.train.threads));
  train::TrainerOptions options;
  options.out_dir = cli.GetString("--out");
  options.resume = cli.GetFlag("--resume");
  options.validator = eval::ValidatorFor(config.train);
  options.stop = &g_stop;
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  if (env.world_size > 1) {
    if (env.rank != 0) log::SetLevel(log::Level::kWarn);
    c10::Device device = ParseDevice(config.train.device);
    if (device.is_cuda() && !device.has_index()) {  // one GPU per process
      device = c10::Device(c10::kCUDA, static_cast<int8_t>(env.local_rank));
      config.train.device = device.str();
    }
    options.sync = train::CreateGradientSync(env, device);
  }
  const auto result = train::RunTraining(config, options);
  if (env.rank != 0 && result.ranks_in_sync) return 0;  // one summary line per training, from rank 0
  std::cerr << "mome_train: " << (result.interrupted ? "stopped" : "finished") << " at step " << result.steps_done;
  if (result.best_wer >= 0) std::cerr << ", best validation WER " << result.best_wer << "%";
  if (options.sync) std::cerr << (result.ranks_in_sync ? ", processes in sync" : ", PROCESSES OUT OF SYNC");
  std::cerr << "; run folder " << options.out_dir << std::endl;
  return result.ranks_in_sync ? 0 : 1;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_train", [&] { return mome::Main(argc, argv); });
}
