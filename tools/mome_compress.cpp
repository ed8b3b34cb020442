// mome_compress: MoBE data-free compression of MoE expert weights (SPEC.md §6), with per-expert SVD and MoLAE
// baselines at the same parameter budget.
//   mome_compress --input FILE|DIR --arch qwen3_moe|mixtral|deepseek_v3|mome --rank R --bases M --activation silu|tanh
//                 --out OUT.safetensors [--layers LIST] [--steps N] [--lr X] [--device cpu|cuda] [--seed S]
//                 [--dense-out FILE] [--report FILE.json]
//   mome_compress --bench-layer [--rank R --bases M --steps N --device cpu|cuda]   (seconds per Qwen3-30B-A3B layer)
// Layers are done one at a time; each finished layer is kept in OUT.safetensors.parts/ with its settings and input
// fingerprint, so a re-run skips it (or recomputes it, saying why, when either differs). --out and --dense-out are
// written one tensor at a time, so no step holds more than one layer.
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mome/compress/compressed_format.h"
#include "mome/compress/safetensors_stream.h"
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

// A baseline's entry; a baseline that cannot fit MoBE's budget at rank 1 (likely for MoME experts, where p is
// tiny and d large: per-expert SVD pays n·(p + d) per rank) is reported as skipped instead of failing the layer.
nlohmann::json BaselineEntry(const torch::Tensor& w, const std::function<BaselineResult()>& run) {
  try {
    const auto b = run();
    return {{"rel_sq_error", RelativeSquaredError(w, b.reconstruction)}, {"params", b.params}, {"rank", b.rank}};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
    return {{"rel_sq_error", nullptr}, {"skipped", e.what()}};
  }
}

// Errors of MoBE and both baselines at MoBE's budget, for one matrix kind.
nlohmann::json Score(const torch::Tensor& w, const MobeFactors& f, int64_t bases) {
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2), r = f.a.size(2);
  const int64_t budget = MobeMatrixParams(n, p, d, r, bases, true);
  return {{"dense_params", n * p * d},
          {"mobe",
           {{"rel_sq_error", RelativeSquaredError(w, ReconstructMobe(f).to(w.device()))},
            {"params", budget},
            {"init_mse", f.init_mse},
            {"best_mse", f.best_mse}}},
          {"svd", BaselineEntry(w, [&] { return TruncatedSvdBaseline(w, budget); })},
          {"molae", BaselineEntry(w, [&] { return MolaeBaseline(w, bases, budget); })}};
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

// The shortest decimal that reads back as x, so that "--lr 0.07" and "--lr 0.070" are the same setting.
std::string ShortestDouble(double x) {
  for (int precision = 1; precision < 17; ++precision) {
    std::ostringstream out;
    out << std::setprecision(precision) << x;
    if (std::stod(out.str()) == x) return out.str();
  }
  std::ostringstream out;
  out << std::setprecision(17) << x;
  return out.str();
}

// Why a part file cannot stand for this layer under `want` (its settings and input fingerprint), or "" when it can.
std::string StaleReason(const std::string& part, const std::map<std::string, std::string>& want) {
  std::shared_ptr<const io::SafetensorsFile> f;
  try {
    f = io::SafetensorsFile::Open(part);
  } catch (const Error& e) {
    return std::string("unreadable: ") + e.what();
  }
  std::string why;
  auto add = [&](const std::string& text) { why += (why.empty() ? "" : ", ") + text; };
  const auto& meta = f->Metadata();
  for (const auto& [key, value] : want) {
    const auto it = meta.find(key);
    if (it == meta.end())
      add(key + " not recorded");
    else if (it->second != value)
      add(key + " " + it->second + " -> " + value);
  }
  if (!meta.count("report")) add("no report");
  return why;
}

// Writes `out` from the per-layer part files one tensor at a time: the header comes from the parts' headers, the
// data straight from their mappings, each part open only while its tensors are copied — memory stays bounded by
// the page cache's clean pages, not by the model.
void MergeParts(const std::string& out, const std::vector<std::string>& parts,
                const std::map<std::string, std::string>& metadata) {
  std::vector<PlannedTensor> plan;
  for (const auto& part : parts) {
    const auto f = io::SafetensorsFile::Open(part);
    for (const auto& name : f->Names()) plan.push_back({name, f->Info(name).dtype, f->Info(name).shape});
  }
  SafetensorsStreamWriter writer(out, std::move(plan), metadata);
  for (const auto& part : parts) {
    const auto f = io::SafetensorsFile::Open(part);
    for (const auto& name : f->Names()) writer.Write(name, f->Get(name));
  }
  writer.Commit();
}

// Writes --dense-out: reconstructed factorised experts under their original names, dtypes and layout, with the dense
// kind copied from the input. Per-expert architectures get the expert tensors of the compressed layers; mome (an
// adapter file, small, which a loader wants complete) gets every tensor of the input, the compressed layers'
// down_weight replaced. One layer's reconstruction is held at a time.
void WriteDenseOut(const std::string& path, const std::string& source, const io::CheckpointReader& ckpt,
                   const ExpertNaming& naming, const std::vector<int64_t>& layers,
                   const std::vector<std::string>& parts, Activation activation) {
  struct Slot {
    size_t layer_index;
    size_t kind;
    int64_t expert;  // -1: the whole stacked tensor
  };
  std::map<std::string, Slot> reconstructed;
  std::vector<std::string> names;
  for (size_t li = 0; li < layers.size(); ++li) {
    const int64_t n = ExpertCount(ckpt, naming, layers[li]);
    for (size_t k = 0; k < naming.factorised.size(); ++k) {
      const auto kind_names = naming.KindNames(layers[li], n, naming.factorised[k]);
      for (size_t i = 0; i < kind_names.size(); ++i)
        reconstructed[kind_names[i]] = {li, k, naming.stacked ? -1 : static_cast<int64_t>(i)};
      names.insert(names.end(), kind_names.begin(), kind_names.end());
    }
    const auto dense_names = naming.KindNames(layers[li], n, naming.dense);
    names.insert(names.end(), dense_names.begin(), dense_names.end());
  }
  std::map<std::string, std::string> metadata = {{"source", source}};
  if (naming.stacked) {
    names = ckpt.Names();
    std::set<std::string> files;
    for (const auto& name : names) files.insert(ckpt.FileOf(name));
    if (files.size() == 1) {
      metadata = io::SafetensorsFile::Open(*files.begin())->Metadata();
      metadata.emplace("mobe_source", source);
    }
  }
  std::vector<PlannedTensor> plan;
  for (const auto& name : names) plan.push_back({name, ckpt.Info(name).dtype, ckpt.Info(name).shape});
  SafetensorsStreamWriter writer(path, std::move(plan), metadata);
  size_t cached_layer = layers.size();
  std::vector<torch::Tensor> cache;  // the cached layer's Ŵ per factorised kind, [n, p, d]
  for (const auto& name : names) {
    const auto it = reconstructed.find(name);
    if (it == reconstructed.end()) {
      writer.Write(name, ckpt.Get(name));  // the bytes as stored: bit-identical
      continue;
    }
    const Slot& slot = it->second;
    if (slot.layer_index != cached_layer) {
      cache.clear();
      const auto part = io::SafetensorsFile::Open(parts[slot.layer_index]);
      const auto c = ReadCompressedLayer(*part, naming, layers[slot.layer_index], activation);
      for (const auto& f : c.factors) cache.push_back(ReconstructMobe(f));
      cached_layer = slot.layer_index;
    }
    const auto& w = cache[slot.kind];
    writer.Write(name, (slot.expert < 0 ? w : w[slot.expert]).to(ckpt.Info(name).dtype));
  }
  writer.Commit();
}

int Main(int argc, char** argv) {
  CliParser cli("mome_compress", "MoBE compression of MoE expert weights (the output projection stays dense).");
  cli.AddOption("--input", "FILE|DIR", "checkpoint: .safetensors file or folder (sharded with index.json is fine)")
      .AddOption("--arch", "NAME",
                 "expert naming: qwen3_moe, deepseek_v3, mixtral, or mome (libmome's MoME adapters: "
                 "*layer{l}_mome.down_weight is factorised, up_weight stays dense)")
      .AddOption("--layers", "LIST", "layer indices to compress, e.g. 0,1,5 (default: all layers with experts)")
      .AddOption("--rank", "R", "rank r of A_i / B_j")
      .AddOption("--bases", "M", "number of shared bases m per layer and matrix kind")
      .AddOption("--activation", "NAME", "f applied to the mixed basis: silu or tanh", "silu")
      .AddOption("--steps", "N", "Adam steps (full batch)", "1000")
      .AddOption("--lr", "X", "Adam learning rate", "0.07")
      .AddOption("--seed", "S", "random seed", "0")
      .AddOption("--device", "NAME", "cpu or cuda", "cpu")
      .AddOption("--out", "FILE", "compressed safetensors (factors + dense output projections + metadata)")
      .AddOption("--dense-out", "FILE",
                 "reconstructed dense experts under the original tensor names (mome: the whole input file)")
      .AddOption("--report", "FILE", "per-layer JSON report: MoBE vs per-expert SVD vs MoLAE")
      .AddFlag("--bench-layer", "time one random Qwen3-30B-A3B-shaped layer (128 x 768 x 2048) and exit");
  if (!cli.Parse(argc, argv)) return 0;
  if (cli.GetFlag("--bench-layer")) return BenchLayer(cli);
  for (const char* need : {"--input", "--arch", "--rank", "--bases", "--out"})
    MOME_CHECK(cli.Has(need), ErrorCode::kInvalidArgument, "missing required option ", need);

  NamingFor(cli.GetString("--arch"));  // an unknown --arch is reported before the input is opened
  const auto device = ParseDevice(cli.GetString("--device"));
  MobeOptions o;
  o.rank = cli.GetInt("--rank");
  o.bases = cli.GetInt("--bases");
  o.activation = ParseActivation(cli.GetString("--activation"));
  o.steps = cli.GetInt("--steps");
  o.lr = cli.GetDouble("--lr");
  o.seed = static_cast<uint64_t>(cli.GetInt("--seed"));
  const auto ckpt = io::CheckpointReader::Open(cli.GetString("--input"));
  const auto naming = NamingFor(cli.GetString("--arch"), ckpt);
  auto layers = cli.Has("--layers") ? cli.GetList("--layers") : ExpertLayers(ckpt, naming);
  MOME_CHECK(!layers.empty(), ErrorCode::kInvalidArgument, "--layers is empty");

  const std::string out = cli.GetString("--out");
  const std::string parts = out + ".parts";
  ::mkdir(parts.c_str(), 0755);
  // Everything a part depends on; a part is reused only when all of it matches (plus its layer's input fingerprint).
  const std::map<std::string, std::string> config = {{"format", "mome.mobe.v1"},
                                                     {"arch", naming.arch},
                                                     {"activation", ActivationName(o.activation)},
                                                     {"rank", std::to_string(o.rank)},
                                                     {"bases", std::to_string(o.bases)},
                                                     {"steps", std::to_string(o.steps)},
                                                     {"lr", ShortestDouble(o.lr)},
                                                     {"seed", std::to_string(o.seed)}};
  nlohmann::json report = {{"config", config}, {"layers", nlohmann::json::array()}};
  std::vector<std::string> part_paths;
  for (size_t li = 0; li < layers.size(); ++li) {
    const int64_t l = layers[li];
    const std::string part = parts + "/layer_" + std::to_string(l) + ".safetensors";
    const std::string progress = "mome_compress: layer " + std::to_string(l) + " (" + std::to_string(li + 1) + "/" +
                                 std::to_string(layers.size()) + ")";
    part_paths.push_back(part);
    auto settings = config;
    settings["input_fingerprint"] = LayerFingerprint(ckpt, naming, l);
    if (Exists(part)) {
      const std::string stale = StaleReason(part, settings);
      if (stale.empty()) {
        std::cerr << progress << " already done" << std::endl;
        report["layers"].push_back(nlohmann::json::parse(io::SafetensorsFile::Open(part)->Metadata().at("report")));
        continue;
      }
      std::cerr << progress << ": " << part << " was made with other settings (" << stale << "); recomputing"
                << std::endl;
    }
    const auto start = std::chrono::steady_clock::now();
    auto layer = ReadExpertLayer(ckpt, naming, l);
    CompressedLayer c;
    c.layer = l;
    c.dense = layer.dense;
    nlohmann::json entry = {{"layer", l}, {"experts", layer.experts}};
    int64_t dense_params = 0, mobe_params = 0;
    std::string summary;
    for (size_t k = 0; k < naming.factorised.size(); ++k) {
      const auto& kind = naming.factorised[k];
      const auto w = layer.factorised[k].to(device);
      c.factors.push_back(FitMobe(w, o, naming.KindNames(l, layer.experts, kind)[0]));
      entry[kind.tag] = Score(w, c.factors.back(), o.bases);
      dense_params += w.numel();
      mobe_params += MobeMatrixParams(w.size(0), w.size(1), w.size(2), o.rank, o.bases, true);
      const auto& e = entry[kind.tag];
      auto error_of = [&](const char* method) {
        const auto& v = e[method]["rel_sq_error"];
        return v.is_null() ? std::string("n/a") : v.dump();
      };
      summary += ", " + kind.tag + " rel err MoBE " + error_of("mobe") + " / SVD " + error_of("svd") + " / MoLAE " +
                 error_of("molae");
    }
    for (const auto& entry_dense : layer.dense) {
      dense_params += entry_dense.second.numel();
      mobe_params += entry_dense.second.numel();
    }
    entry["layer_params"] = {{"dense", dense_params},
                             {"mobe", mobe_params},
                             {"compression_ratio", static_cast<double>(mobe_params) / dense_params}};
    entry["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    AppendLayerTensors(naming, c, &tensors);
    auto meta = settings;
    meta["layer"] = std::to_string(l);
    meta["report"] = entry.dump();
    io::SaveSafetensors(part, tensors, meta);
    report["layers"].push_back(entry);
    std::cerr << progress << summary << ", " << entry["seconds"] << " s" << std::endl;
  }

  std::string layer_list;
  for (size_t li = 0; li < layers.size(); ++li) layer_list += (li ? "," : "") + std::to_string(layers[li]);
  auto meta = config;
  meta["layers"] = layer_list;
  MergeParts(out, part_paths, meta);
  if (cli.Has("--dense-out"))
    WriteDenseOut(cli.GetString("--dense-out"), out, ckpt, naming, layers, part_paths, o.activation);
  if (cli.Has("--report")) WriteFileAtomic(cli.GetString("--report"), report.dump(2) + "\n");
  std::cout << nlohmann::json{{"out", out}, {"layers", layers.size()}}.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_compress", [&] { return mome::Main(argc, argv); });
}
