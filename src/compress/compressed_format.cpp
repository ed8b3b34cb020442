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

void AppendFactors(const std::string& stem, const MobeFactors& f,
                   std::vector<std::pair<std::string, at::Tensor>>* out) {
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

std::string FactorStem(const ExpertNaming& naming, int64_t layer, const ExpertKind& kind) {
  // mome: "<prefix>layer{l}_mome." + "mobe." + "down_weight"; per-expert: "...experts." + "mobe" + ".gate_proj".
  if (naming.stacked) return naming.Prefix(layer) + "mobe." + kind.suffix;
  return naming.Prefix(layer) + "mobe" + StripWeight(kind.suffix);
}

void AppendLayerTensors(const ExpertNaming& naming, const CompressedLayer& layer,
                        std::vector<std::pair<std::string, at::Tensor>>* out) {
  MOME_CHECK(layer.factors.size() == naming.factorised.size(), ErrorCode::kInternal, "layer ", layer.layer, " has ",
             layer.factors.size(), " factorised kinds, --arch ", naming.arch, " has ", naming.factorised.size());
  for (size_t k = 0; k < layer.factors.size(); ++k)
    AppendFactors(FactorStem(naming, layer.layer, naming.factorised[k]), layer.factors[k], out);
  for (const auto& [name, tensor] : layer.dense) out->emplace_back(name, tensor.contiguous().cpu());
}

CompressedLayer ReadCompressedLayer(const io::SafetensorsFile& file, const ExpertNaming& naming, int64_t layer,
                                    Activation activation) {
  CompressedLayer out;
  out.layer = layer;
  for (const auto& kind : naming.factorised)
    out.factors.push_back(ReadFactors(file, FactorStem(naming, layer, kind), activation));
  for (const auto& name : naming.KindNames(layer, out.factors[0].a.size(0), naming.dense)) {
    MOME_CHECK(file.Has(name), ErrorCode::kNotFound, file.path(), ": missing tensor ", name);
    out.dense.emplace_back(name, file.Get(name).clone());
  }
  return out;
}

const char* MoeRuntimeName(MoeRuntime runtime) {
  switch (runtime) {
    case MoeRuntime::kReconstructAtLoad: return "reconstruct at load";
    case MoeRuntime::kReconstructPerExpert: return "reconstruct per routed expert";
    case MoeRuntime::kFactored: return "factored per routed expert";
  }
  return "?";
}

CompressedMoe::CompressedMoe(const CompressedLayer& layer, MoeRuntime runtime, const at::TensorOptions& options)
    : runtime_(runtime), options_(options) {
  torch::NoGradGuard no_grad;
  const int64_t n = layer.factors.empty() ? 0 : layer.factors[0].a.size(0);
  MOME_CHECK(
      layer.factors.size() == 2 && static_cast<int64_t>(layer.dense.size()) == n && n > 0, ErrorCode::kUnsupported,
      "CompressedMoe runs SwiGLU experts (factorised gate and up, one dense down per "
      "expert); layer ",
      layer.layer, " has ", layer.factors.size(), " factorised kinds and ", layer.dense.size(), " dense tensors");
  const auto factor_options = options_.dtype(torch::kFloat32);
  for (int k = 0; k < 2; ++k) {
    factors_[k] = layer.factors[k];
    factors_[k].a = factors_[k].a.to(factor_options);
    factors_[k].b = factors_[k].b.to(factor_options);
    factors_[k].logits = factors_[k].logits.to(factor_options);
  }
  std::vector<torch::Tensor> downs;
  for (const auto& entry : layer.dense) downs.push_back(entry.second);
  down_ = torch::stack(downs).to(options_);
  if (runtime_ == MoeRuntime::kReconstructAtLoad)
    for (int k = 0; k < 2; ++k) dense_[k] = ReconstructMobe(factors_[k]).to(options_);
}

int64_t CompressedMoe::WeightBytes() const {
  int64_t bytes = down_.nbytes();
  for (int k = 0; k < 2; ++k) {
    if (dense_[k].defined()) {
      bytes += dense_[k].nbytes();
    } else {
      bytes += factors_[k].a.nbytes() + factors_[k].b.nbytes() + factors_[k].logits.nbytes();
    }
  }
  return bytes;
}

torch::Tensor CompressedMoe::Project(int kind, int64_t expert, const torch::Tensor& xt) const {
  const MobeFactors& f = factors_[kind];
  switch (runtime_) {
    case MoeRuntime::kReconstructAtLoad: return torch::mm(xt, dense_[kind][expert].t());
    case MoeRuntime::kReconstructPerExpert:
      return torch::mm(xt, ReconstructMobeExpert(f, expert).to(xt.scalar_type()).t());
    case MoeRuntime::kFactored: {
      // x·Ŵ_iᵀ = σ·(x·f(M_i)ᵀ)·A_iᵀ with M_i = Σ_j softmax(w_i)_j B_j: r·(p + d) per token instead of p·d.
      auto mixed = torch::tensordot(torch::softmax(f.logits[expert], 0), f.b, {0}, {0});  // [r, d]
      auto basis = ApplyActivation(mixed, f.activation).to(xt.scalar_type());
      return torch::mm(torch::mm(xt, basis.t()), f.a[expert].to(xt.scalar_type()).t()) * f.sigma;
    }
  }
  MOME_FAIL(ErrorCode::kInternal, "unknown MoeRuntime");
}

torch::Tensor CompressedMoe::Forward(const torch::Tensor& x_in, const torch::Tensor& experts,
                                     const torch::Tensor& weights) const {
  torch::NoGradGuard no_grad;
  MOME_CHECK(x_in.dim() == 2 && x_in.size(1) == down_.size(1) && experts.sizes() == weights.sizes() &&
                 experts.dim() == 2 && experts.size(0) == x_in.size(0),
             ErrorCode::kShapeMismatch, "CompressedMoe: x ", x_in.sizes(), " (hidden size ", down_.size(1),
             "), experts ", experts.sizes(), ", weights ", weights.sizes());
  const auto x = x_in.to(options_);
  auto y = torch::zeros_like(x);
  const auto ex = experts.to(torch::kCPU);
  const auto gate_weights = weights.to(x.options());
  // Each routed expert is visited once, with all of its tokens: the per-expert paths do their work only then.
  for (int64_t e = 0; e < num_experts(); ++e) {
    auto hit = (ex == e).nonzero();  // [h, 2]: (token, slot)
    if (hit.size(0) == 0) continue;
    auto tokens = hit.select(1, 0).to(x.device()), slots = hit.select(1, 1).to(x.device());
    auto xt = x.index_select(0, tokens);
    auto h = torch::silu(Project(0, e, xt)) * Project(1, e, xt);
    auto out = torch::mm(h, down_[e].t());
    y.index_add_(0, tokens, out * gate_weights.index({tokens, slots}).unsqueeze(1));
  }
  return y.to(x_in.scalar_type());
}

}  // namespace mome::compress
