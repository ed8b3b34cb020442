// mome_compress: MoBE data-free compression of MoE expert weights (SPEC.md §6), with per-expert SVD and MoLAE
// baselines at the same parameter budget.
//   mome_compress --input FILE|DIR --arch qwen3_moe|mixtral|deepseek_v3|mome --rank R --bases M --activation silu|tanh
//                 --out OUT.safetensors [--layers LIST] [--steps N] [--lr X] [--device cpu|cuda] [--seed S]
//                 [--dense-out FILE] [--report FILE.json]
// The work (part files, resumption, merging) is compress::CompressCheckpoint (compress/compress_run.h); the
// seconds-per-layer benchmark is bench/mobe_runtime_bench --fit-layer.
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/compress/compress_run.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("mome_compress", "MoBE compression of MoE expert weights (the output projection stays dense).");
  cli.AddRequired("--input", "FILE|DIR", "checkpoint: .safetensors file or folder (sharded with index.json is fine)")
      .AddRequired("--arch", "NAME",
                   "expert naming: qwen3_moe, deepseek_v3, mixtral, or mome (libmome's MoME adapters: "
                   "*layer{l}_mome.down_weight is factorised, up_weight stays dense)")
      .AddOption("--layers", "LIST", "layer indices to compress, e.g. 0,1,5 (default: all layers with experts)")
      .AddRequired("--rank", "R", "rank r of A_i / B_j")
      .AddRequired("--bases", "M", "number of shared bases m per layer and matrix kind")
      .AddOption("--activation", "NAME", "f applied to the mixed basis: silu or tanh", "silu")
      .AddOption("--steps", "N", "Adam steps (full batch)", "1000")
      .AddOption("--lr", "X", "Adam learning rate", "0.07")
      .AddOption("--seed", "S", "random seed", "0")
      .AddDeviceOption()
      .AddRequired("--out", "FILE", "compressed safetensors (factors + dense output projections + metadata)")
      .AddOption("--dense-out", "FILE",
                 "reconstructed dense experts under the original tensor names (mome: the whole input file)")
      .AddOption("--report", "FILE", "per-layer JSON report: MoBE vs per-expert SVD vs MoLAE");
  if (!cli.Parse(argc, argv)) return 0;
  compress::CompressRequest r;
  r.input = cli.GetString("--input");
  r.arch = cli.GetString("--arch");
  r.layers = cli.Has("--layers") ? cli.GetList("--layers") : std::vector<int64_t>{};
  MOME_CHECK(!cli.Has("--layers") || !r.layers.empty(), ErrorCode::kInvalidArgument, "--layers is empty");
  r.mobe.rank = cli.GetInt("--rank");
  r.mobe.bases = cli.GetInt("--bases");
  r.mobe.activation = compress::ParseActivation(cli.GetString("--activation"));
  r.mobe.steps = cli.GetInt("--steps");
  r.mobe.lr = cli.GetDouble("--lr");
  r.mobe.seed = static_cast<uint64_t>(cli.GetInt("--seed"));
  r.device = ParseDevice(cli.GetString("--device"));
  r.out = cli.GetString("--out");
  r.dense_out = cli.Has("--dense-out") ? cli.GetString("--dense-out") : "";
  r.report = cli.Has("--report") ? cli.GetString("--report") : "";
  const size_t layers = compress::CompressCheckpoint(
      r, [](const std::string& line) { std::cerr << "mome_compress: " << line << std::endl; });
  std::cout << nlohmann::json{{"out", r.out}, {"layers", layers}}.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_compress", [&] { return mome::Main(argc, argv); });
}
