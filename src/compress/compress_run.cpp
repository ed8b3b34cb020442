#include "mome/compress/compress_run.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mome/compress/compressed_format.h"
#include "mome/compress/expert_source.h"
#include "mome/compress/safetensors_stream.h"
#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/json.h"
#include "mome/io/safetensors.h"

namespace mome::compress {
namespace {
namespace fs = std::filesystem;

// A killed run's half-written FILE.tmp.PID next to `file` (its writer is gone); nothing for an unset output.
void RemoveDeadTempsOf(const std::string& file) {
  if (file.empty()) return;
  const fs::path path(file);
  RemoveDeadTempFiles(path.has_parent_path() ? path.parent_path().string() : ".", path.filename().string());
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

// Everything a part depends on; a part is reused only when all of it matches (plus its layer's input fingerprint).
std::map<std::string, std::string> PartSettings(const ExpertNaming& naming, const MobeOptions& o) {
  return {{"format", "mome.mobe.v1"},
          {"arch", naming.arch},
          {"activation", ActivationName(o.activation)},
          {"rank", std::to_string(o.rank)},
          {"bases", std::to_string(o.bases)},
          {"steps", std::to_string(o.steps)},
          {"lr", ShortestDouble(o.lr)},
          {"seed", std::to_string(o.seed)}};
}

// The report's error cell of one method ("n/a" for a skipped baseline).
std::string ErrorOf(const nlohmann::json& kind_entry, const char* method) {
  const auto& v = kind_entry[method]["rel_sq_error"];
  return v.is_null() ? std::string("n/a") : v.dump();
}

// Fits MoBE to every factorised kind of layer `l`, writes its part file (with `meta`: the settings and input
// fingerprint) and returns its report entry; `summary` gets the errors on one line.
nlohmann::json CompressLayer(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t l,
                             const CompressRequest& r, std::map<std::string, std::string> meta, const std::string& part,
                             std::string* summary) {
  const MobeOptions& o = r.mobe;
  const auto start = std::chrono::steady_clock::now();
  const auto layer = ReadExpertLayer(ckpt, naming, l);
  CompressedLayer c;
  c.layer = l;
  c.dense = layer.dense;
  nlohmann::json entry = {{"layer", l}, {"experts", layer.experts}};
  int64_t dense_params = 0, mobe_params = 0;
  for (size_t k = 0; k < naming.factorised.size(); ++k) {
    const auto& kind = naming.factorised[k];
    const auto w = layer.factorised[k].to(r.device);
    c.factors.push_back(FitMobe(w, o, naming.KindNames(l, layer.experts, kind)[0]));
    entry[kind.tag] = Score(w, c.factors.back(), o.bases);
    dense_params += w.numel();
    mobe_params += MobeMatrixParams(w.size(0), w.size(1), w.size(2), o.rank, o.bases, true);
    *summary += ", " + kind.tag + " rel err MoBE " + ErrorOf(entry[kind.tag], "mobe") + " / SVD " +
                ErrorOf(entry[kind.tag], "svd") + " / MoLAE " + ErrorOf(entry[kind.tag], "molae");
  }
  for (const auto& dense : layer.dense) {
    dense_params += dense.second.numel();
    mobe_params += dense.second.numel();
  }
  entry["layer_params"] = {{"dense", dense_params},
                           {"mobe", mobe_params},
                           {"compression_ratio", static_cast<double>(mobe_params) / dense_params}};
  entry["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  AppendLayerTensors(naming, c, &tensors);
  meta["layer"] = std::to_string(l);
  meta["report"] = entry.dump();
  io::SaveSafetensors(part, tensors, meta);
  return entry;
}

// An output that is one of the input's files would be overwritten while it is still being read.
void RefuseInputAsOutput(const io::CheckpointReader& ckpt, const std::string& path, const char* flag) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return;
  std::set<std::string> files;
  for (const auto& name : ckpt.Names()) files.insert(ckpt.FileOf(name));
  for (const auto& file : files)
    MOME_CHECK(!fs::equivalent(file, path, ec), ErrorCode::kInvalidArgument, flag, " ", path,
               " is one of the input files; choose another path");
}

}  // namespace

size_t CompressCheckpoint(const CompressRequest& r, const std::function<void(const std::string&)>& progress) {
  NamingFor(r.arch);  // an unknown --arch is reported before the input is opened
  const auto ckpt = io::CheckpointReader::Open(r.input);
  const auto naming = NamingFor(r.arch, ckpt);
  const auto layers = r.layers.empty() ? ExpertLayers(ckpt, naming) : r.layers;
  MOME_CHECK(!layers.empty(), ErrorCode::kInvalidArgument, r.input, ": no layer with experts to compress");
  RefuseInputAsOutput(ckpt, r.out, "--out");
  RefuseInputAsOutput(ckpt, r.dense_out, "--dense-out");
  RefuseInputAsOutput(ckpt, r.report, "--report");
  const std::string parts = r.out + ".parts";
  std::error_code ec;
  fs::create_directories(parts, ec);
  MOME_CHECK(!ec, ErrorCode::kIo, parts, ": cannot create (", ec.message(), ")");
  RemoveDeadTempFiles(parts);  // what a killed run was writing; its finished parts are checked and reused
  for (const std::string& file : {r.out, r.dense_out, r.report}) RemoveDeadTempsOf(file);  // half-written outputs
  const auto config = PartSettings(naming, r.mobe);
  nlohmann::json report = {{"config", config}, {"layers", nlohmann::json::array()}};
  std::vector<std::string> part_paths;
  for (size_t li = 0; li < layers.size(); ++li) {
    const int64_t l = layers[li];
    const std::string part = parts + "/layer_" + std::to_string(l) + ".safetensors";
    const std::string where =
        "layer " + std::to_string(l) + " (" + std::to_string(li + 1) + "/" + std::to_string(layers.size()) + ")";
    part_paths.push_back(part);
    auto settings = config;
    settings["input_fingerprint"] = LayerFingerprint(ckpt, naming, l);
    if (fs::exists(part)) {
      const std::string stale = StaleReason(part, settings);
      if (stale.empty()) {
        progress(where + " already done");
        report["layers"].push_back(
            io::ParseJson(io::SafetensorsFile::Open(part)->Metadata().at("report"), part + " (report)"));
        continue;
      }
      progress(where + ": " + part + " was made with other settings (" + stale + "); recomputing");
    }
    std::string summary;
    const nlohmann::json entry = CompressLayer(ckpt, naming, l, r, settings, part, &summary);
    report["layers"].push_back(entry);
    progress(where + summary + ", " + entry["seconds"].dump() + " s");
  }
  std::string layer_list;
  for (size_t li = 0; li < layers.size(); ++li) layer_list += (li ? "," : "") + std::to_string(layers[li]);
  auto meta = config;
  meta["layers"] = layer_list;
  MergeParts(r.out, part_paths, meta);
  if (!r.dense_out.empty()) WriteDenseOut(r.dense_out, r.out, ckpt, naming, layers, part_paths, r.mobe.activation);
  if (!r.report.empty()) WriteFileAtomic(r.report, report.dump(2) + "\n");
  return layers.size();
}

}  // namespace mome::compress
