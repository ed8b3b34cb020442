// Compressed MoBE checkpoint layout and the MoE block that runs from it.
#include "mome/compress/compressed_format.h"

#include "mome/core/error.h"

namespace mome::compress {

namespace {
std::string StripWeight(const std::string& suffix) {
  const std::string w = ".weight";
  return suffix.size() > w.size() && suffix.compare(suffix.size() - w.size(), w.size(), w) == 0
             ? suffix.substr(0, suffix.size() - w.size())
             : suffix;
}

void AppendFactors(const std::string& stem, const MobeFactors& f, std::vector<std::pair<std::string, at::Tensor>>* out) {
  out->emplace_back(stem + ".a", f.a.contiguous().cpu());
  out->emplace_back(stem + ".b", f.b.contiguous().cpu());
  out->emplace_back(stem + ".logits", f.logits.contiguous().cpu());
  out->emplace_back(stem + ".sigma", torch::full({1}, f.sigma, torch::kFloat64));
}

MobeFactors ReadFactors(const io::SafetensorsFile& file, const std::string& stem, Activation activation) {
  auto get = [&](const std::string& name) {
    MOME_CHECK(file.Has(name), ErrorCode::kNotFound, file.path(), ": missing tensor ", name);
    return file.Get(name).clone();
  };
  MobeFactors f;
  f.a = get(stem + ".a");
  f.b = get(stem + ".b");
  f.logits = get(stem + ".logits");
  f.sigma = get(stem + ".sigma").item<double>();
  f.activation = activation;
  MOME_CHECK(f.a.dim() == 3 && f.b.dim() == 3 && f.logits.dim() == 2 && f.a.size(2) == f.b.size(1) &&
                 f.logits.size(0) == f.a.size(0) && f.logits.size(1) == f.b.size(0),
             ErrorCode::kShapeMismatch, file.path(), ": inconsistent MoBE factors under ", stem, ": a ", f.a.sizes(),
             ", b ", f.b.sizes(), ", logits ", f.logits.sizes());
  return f;
}
}  // namespace

std::string FactorStem(const ExpertNaming& naming, int64_t layer, const std::string& kind_suffix) {
  return naming.Prefix(layer) + "mobe" + StripWeight(kind_suffix);
}

void AppendLayerTensors(const ExpertNaming& naming, const CompressedLayer& layer,
                        std::vector<std::pair<std::string, at::Tensor>>* out) {
  AppendFactors(FactorStem(naming, layer.layer, naming.gate_suffix), layer.gate, out);
  AppendFactors(FactorStem(naming, layer.layer, naming.up_suffix), layer.up, out);
  for (int64_t i = 0; i < layer.down.size(0); ++i)
    out->emplace_back(naming.DownName(layer.layer, i), layer.down[i].contiguous().cpu());
}

CompressedLayer ReadCompressedLayer(const io::SafetensorsFile& file, const ExpertNaming& naming, int64_t layer,
                                    Activation activation) {
  CompressedLayer out;
  out.layer = layer;
  out.gate = ReadFactors(file, FactorStem(naming, layer, naming.gate_suffix), activation);
  out.up = ReadFactors(file, FactorStem(naming, layer, naming.up_suffix), activation);
  std::vector<torch::Tensor> downs;
  for (int64_t i = 0; i < out.gate.a.size(0); ++i) {
    const auto name = naming.DownName(layer, i);
    MOME_CHECK(file.Has(name), ErrorCode::kNotFound, file.path(), ": missing tensor ", name);
    downs.push_back(file.Get(name).clone());
  }
  out.down = torch::stack(downs);
  return out;
}

CompressedMoe::CompressedMoe(CompressedLayer layer, bool reconstruct_at_load) : layer_(std::move(layer)) {
  if (reconstruct_at_load) {
    gate_dense_ = ReconstructMobe(layer_.gate);
    up_dense_ = ReconstructMobe(layer_.up);
  }
}

std::pair<torch::Tensor, torch::Tensor> CompressedMoe::GateUp(int64_t expert) const {
  if (gate_dense_.defined()) return {gate_dense_[expert], up_dense_[expert]};
  return {ReconstructMobeExpert(layer_.gate, expert), ReconstructMobeExpert(layer_.up, expert)};
}

torch::Tensor CompressedMoe::Forward(const torch::Tensor& x, const torch::Tensor& experts,
                                     const torch::Tensor& weights) const {
  torch::NoGradGuard no_grad;
  MOME_CHECK(x.dim() == 2 && experts.sizes() == weights.sizes() && experts.dim() == 2 && experts.size(0) == x.size(0),
             ErrorCode::kShapeMismatch, "CompressedMoe: x ", x.sizes(), ", experts ", experts.sizes(), ", weights ",
             weights.sizes());
  auto y = torch::zeros_like(x);
  const auto ex = experts.to(torch::kCPU);
  // Each routed expert is visited once, with all of its tokens: the on-the-fly path reconstructs it only then.
  for (int64_t e = 0; e < num_experts(); ++e) {
    auto hit = (ex == e).nonzero();  // [h, 2]: (token, slot)
    if (hit.size(0) == 0) continue;
    auto tokens = hit.select(1, 0).to(x.device()), slots = hit.select(1, 1).to(x.device());
    auto [gate, up] = GateUp(e);
    auto xt = x.index_select(0, tokens);
    auto h = torch::silu(torch::mm(xt, gate.to(x.dtype()).t())) * torch::mm(xt, up.to(x.dtype()).t());
    auto out = torch::mm(h, layer_.down[e].to(x.device(), x.dtype()).t());
    auto w = weights.index({tokens, slots}).unsqueeze(1).to(x.dtype());
    y.index_add_(0, tokens, out * w);
  }
  return y;
}

}  // namespace mome::compress
