// mome_compress: MoBE data-free compression of MoE expert weights (SPEC.md §6), with per-expert SVD and MoLAE
// baselines at the same parameter budget.
//   mome_compress --input FILE|DIR --arch qwen3_moe|mixtral|deepseek_v3 --rank R --bases M --activation silu|tanh
//                 --out OUT.safetensors [--layers LIST] [--steps N] [--lr X] [--device cpu|cuda] [--seed S]
//                 [--dense-out FILE] [--report FILE.json]
//   mome_compress --bench-layer [--rank R --bases M --steps N --device cpu|cuda]   (seconds per Qwen3-30B-A3B layer)
// Layers are done one at a time; each finished layer is kept in OUT.safetensors.parts/ so a re-run skips it.
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/compress/compressed_format.h"
#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "tool_main.h"

namespace mome {
namespace {

using namespace compress;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

torch::Device ParseDevice(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    MOME_CHECK(torch::cuda::is_available(), ErrorCode::kUnsupported, "--device cuda: no CUDA device available");
    return torch::kCUDA;
  }
  MOME_FAIL(ErrorCode::kInvalidArgument, "--device must be cpu or cuda, got '", name, "'");
}

// Errors of MoBE and both baselines at MoBE's budget, for one matrix kind.
nlohmann::json Score(const torch::Tensor& w, const MobeFactors& f, int64_t bases) {
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2), r = f.a.size(2);
  const int64_t budget = MobeMatrixParams(n, p, d, r, bases, true);
  const auto svd = TruncatedSvdBaseline(w, budget);
  const auto molae = MolaeBaseline(w, bases, budget);
  return {{"dense_params", n * p * d},
          {"mobe", {{"rel_sq_error", RelativeSquaredError(w, ReconstructMobe(f).to(w.device()))},
                    {"params", budget}, {"init_mse", f.init_mse}, {"best_mse", f.best_mse}}},
          {"svd", {{"rel_sq_error", RelativeSquaredError(w, svd.reconstruction)}, {"params", svd.params},
                   {"rank", svd.rank}}},
          {"molae", {{"rel_sq_error", RelativeSquaredError(w, molae.reconstruction)}, {"params", molae.params},
                     {"rank", molae.rank}}}};
}

int BenchLayer(const CliParser& cli) {
  const auto device = ParseDevice(cli.GetString("--device"));
  MobeOptions o;
  o.rank = cli.Has("--rank") ? cli.GetInt("--rank") : 64;
  o.bases = cli.Has("--bases") ? cli.GetInt("--bases") : 8;
  o.steps = cli.GetInt("--steps");
  o.lr = cli.GetDouble("--lr");
  torch::manual_seed(0);
  // Qwen3-30B-A3B: 128 experts, moe_intermediate_size 768, hidden 2048; gate and up each [768, 2048].
  auto w = torch::randn({128, 768, 2048}, torch::TensorOptions().device(device)) * 0.02;
  for (int rep = 0; rep < 2; ++rep) {  // the first run includes warm-up (CUDA context, kernels); report both
    const auto start = std::chrono::steady_clock::now();
    for (int kind = 0; kind < 2; ++kind) FitMobe(w, o, kind ? "up" : "gate");
    if (device.is_cuda()) torch::cuda::synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << nlohmann::json{{"bench", "qwen3_30b_a3b_layer"}, {"device", cli.GetString("--device")},
                                {"rank", o.rank}, {"bases", o.bases}, {"steps", o.steps}, {"warm", rep > 0},
                                {"seconds_per_layer", s}}
                     .dump()
              << std::endl;
  }
  return 0;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_compress", "MoBE compression of MoE expert gate/up weights (down stays dense).");
  cli.AddOption("--input", "FILE|DIR", "checkpoint: .safetensors file or folder (sharded with index.json is fine)")
      .AddOption("--arch", "NAME", "expert naming: qwen3_moe, mixtral, deepseek_v3 (mome: not supported yet)")
      .AddOption("--layers", "LIST", "layer indices to compress, e.g. 0,1,5 (default: all layers with experts)")
      .AddOption("--rank", "R", "rank r of A_i / B_j")
      .AddOption("--bases", "M", "number of shared bases m per layer and matrix kind")
      .AddOption("--activation", "NAME", "f applied to the mixed basis: silu or tanh", "silu")
      .AddOption("--steps", "N", "Adam steps (full batch)", "1000")
      .AddOption("--lr", "X", "Adam learning rate", "0.07")
      .AddOption("--seed", "S", "random seed", "0")
      .AddOption("--device", "NAME", "cpu or cuda", "cpu")
      .AddOption("--out", "FILE", "compressed safetensors (factors + dense down_proj + metadata)")
      .AddOption("--dense-out", "FILE", "reconstructed dense experts under the original tensor names")
      .AddOption("--report", "FILE", "per-layer JSON report: MoBE vs per-expert SVD vs MoLAE")
      .AddFlag("--bench-layer", "time one random Qwen3-30B-A3B-shaped layer (128 x 768 x 2048) and exit");
  if (!cli.Parse(argc, argv)) return 0;
  if (cli.GetFlag("--bench-layer")) return BenchLayer(cli);
  for (const char* need : {"--input", "--arch", "--rank", "--bases", "--out"})
    MOME_CHECK(cli.Has(need), ErrorCode::kInvalidArgument, "missing required option ", need);

  const auto naming = NamingFor(cli.GetString("--arch"));
  const auto device = ParseDevice(cli.GetString("--device"));
  MobeOptions o;
  o.rank = cli.GetInt("--rank");
  o.bases = cli.GetInt("--bases");
  o.activation = ParseActivation(cli.GetString("--activation"));
  o.steps = cli.GetInt("--steps");
  o.lr = cli.GetDouble("--lr");
  o.seed = static_cast<uint64_t>(cli.GetInt("--seed"));
  const auto ckpt = io::CheckpointReader::Open(cli.GetString("--input"));
  auto layers = cli.Has("--layers") ? cli.GetList("--layers") : ExpertLayers(ckpt, naming);
  MOME_CHECK(!layers.empty(), ErrorCode::kInvalidArgument, "--layers is empty");

  const std::string out = cli.GetString("--out");
  const std::string parts = out + ".parts";
  ::mkdir(parts.c_str(), 0755);
  // A part is reused only when it was made with the same settings.
  const std::map<std::string, std::string> config = {
      {"format", "mome.mobe.v1"},        {"arch", naming.arch},
      {"activation", ActivationName(o.activation)}, {"rank", std::to_string(o.rank)},
      {"bases", std::to_string(o.bases)}, {"steps", std::to_string(o.steps)},
      {"lr", cli.GetString("--lr")},     {"seed", std::to_string(o.seed)}};
  nlohmann::json report = {{"config", config}, {"layers", nlohmann::json::array()}};
  std::vector<std::string> part_paths;
  for (size_t li = 0; li < layers.size(); ++li) {
    const int64_t l = layers[li];
    const std::string part = parts + "/layer_" + std::to_string(l) + ".safetensors";
    part_paths.push_back(part);
    if (Exists(part)) {
      const auto f = io::SafetensorsFile::Open(part);
      bool same = true;
      for (const auto& [k, v] : config) same = same && f->Metadata().count(k) && f->Metadata().at(k) == v;
      if (same && f->Metadata().count("report")) {
        std::cerr << "mome_compress: layer " << l << " (" << li + 1 << "/" << layers.size() << ") already done"
                  << std::endl;
        report["layers"].push_back(nlohmann::json::parse(f->Metadata().at("report")));
        continue;
      }
    }
    const auto start = std::chrono::steady_clock::now();
    auto layer = ReadExpertLayer(ckpt, naming, l);
    CompressedLayer c;
    c.layer = l;
    c.down = layer.down;
    auto gate = layer.gate.to(device), up = layer.up.to(device);
    c.gate = FitMobe(gate, o, naming.GateName(l, 0));
    c.up = FitMobe(up, o, naming.UpName(l, 0));
    nlohmann::json entry = {{"layer", l},
                            {"experts", layer.experts},
                            {"gate", Score(gate, c.gate, o.bases)},
                            {"up", Score(up, c.up, o.bases)}};
    const int64_t n = layer.experts, p = gate.size(1), d = gate.size(2);
    const int64_t dense = 3 * n * p * d, compressed = MobeLayerParams(n, p, d, o.rank, o.bases, true);
    entry["layer_params"] = {{"dense", dense}, {"mobe", compressed},
                             {"compression_ratio", static_cast<double>(compressed) / dense}};
    entry["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    AppendLayerTensors(naming, c, &tensors);
    auto meta = config;
    meta["report"] = entry.dump();
    io::SaveSafetensors(part, tensors, meta);
    report["layers"].push_back(entry);
    std::cerr << "mome_compress: layer " << l << " (" << li + 1 << "/" << layers.size() << ") gate rel err MoBE "
              << entry["gate"]["mobe"]["rel_sq_error"] << " / SVD " << entry["gate"]["svd"]["rel_sq_error"]
              << " / MoLAE " << entry["gate"]["molae"]["rel_sq_error"] << ", " << entry["seconds"] << " s"
              << std::endl;
  }

  // Merge the parts into --out (atomic write), then the optional dense reconstruction and report.
  std::vector<std::pair<std::string, at::Tensor>> all, dense;
  std::string layer_list;
  for (size_t li = 0; li < layers.size(); ++li) {
    const auto f = io::SafetensorsFile::Open(part_paths[li]);
    for (const auto& name : f->Names()) all.emplace_back(name, f->Get(name));
    layer_list += (li ? "," : "") + std::to_string(layers[li]);
    if (cli.Has("--dense-out")) {
      const auto c = ReadCompressedLayer(*f, naming, layers[li], o.activation);
      const auto g = ReconstructMobe(c.gate), u = ReconstructMobe(c.up);
      for (int64_t i = 0; i < c.down.size(0); ++i) {
        const auto dtype = ckpt.Info(naming.GateName(layers[li], i)).dtype;
        dense.emplace_back(naming.GateName(layers[li], i), g[i].to(dtype));
        dense.emplace_back(naming.UpName(layers[li], i), u[i].to(ckpt.Info(naming.UpName(layers[li], i)).dtype));
        dense.emplace_back(naming.DownName(layers[li], i), ckpt.Get(naming.DownName(layers[li], i)));
      }
    }
  }
  auto meta = config;
  meta["layers"] = layer_list;
  io::SaveSafetensors(out, all, meta);
  if (cli.Has("--dense-out")) io::SaveSafetensors(cli.GetString("--dense-out"), dense, {{"source", out}});
  if (cli.Has("--report")) WriteFileAtomic(cli.GetString("--report"), report.dump(2) + "\n");
  std::cout << nlohmann::json{{"out", out}, {"layers", layers.size()}}.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_compress", [&] { return mome::Main(argc, argv); });
}
