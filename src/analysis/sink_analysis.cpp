#include "mome/analysis/sink_analysis.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "mome/core/error.h"

namespace mome::analysis {
namespace {

std::vector<double> ToVector(const at::Tensor& t) {
  const auto c = t.to(at::kDouble).contiguous().cpu();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

double Median(const at::Tensor& t) {  // the lower median, as torch.median
  return t.reshape({-1}).to(at::kDouble).median().item<double>();
}

}  // namespace

SinkReport AnalyzeSinks(const ForwardTrace& trace, int64_t row, int64_t begin, int64_t length,
                        std::vector<std::string> roles, const SinkAnalysisOptions& o) {
  const size_t L = trace.layer_outputs.size();
  MOME_CHECK(L > 0, ErrorCode::kInvalidArgument, "sink analysis: no layer outputs were collected");
  MOME_CHECK(trace.attention_probs.size() == L && trace.mlp_outputs.size() == L, ErrorCode::kInvalidArgument,
             "sink analysis: ", L, " layer outputs but ", trace.attention_probs.size(), " attention maps and ",
             trace.mlp_outputs.size(), " MLP outputs");
  MOME_CHECK(length > 0 && begin >= 0 && begin + length <= trace.layer_outputs[0].size(1), ErrorCode::kInvalidArgument,
             "sink analysis: positions [", begin, ", ", begin + length, ") outside the sequence of ",
             trace.layer_outputs[0].size(1));
  if (roles.empty()) {
    roles.assign(static_cast<size_t>(length), "text");
    roles[0] = "bos";
  }
  MOME_CHECK(static_cast<int64_t>(roles.size()) == length, ErrorCode::kInvalidArgument, "sink analysis: ",
             roles.size(), " roles for ", length, " tokens");
  SinkReport report;
  report.roles = roles;
  for (size_t l = 0; l < L; ++l) {
    LayerSinkStats s;
    s.layer = static_cast<int64_t>(l) + 1;
    const at::Tensor h = trace.layer_outputs[l][row].narrow(0, begin, length).to(at::kDouble).cpu();  // [T, d]
    const at::Tensor a = h.abs();
    s.hidden_max_abs = a.max().item<double>();
    s.hidden_median_abs = Median(a);
    // Massive activations: |h| > massive_abs and >= massive_ratio x the median |h| of that token's vector.
    const at::Tensor token_median = std::get<0>(a.median(1, /*keepdim=*/true));
    const at::Tensor hits = ((a > o.massive_abs) & (a >= o.massive_ratio * token_median)).nonzero();
    for (int64_t i = 0; i < std::min<int64_t>(hits.size(0), o.max_massive_per_layer); ++i) {
      const int64_t t = hits[i][0].item<int64_t>(), f = hits[i][1].item<int64_t>();
      s.massive.push_back({t, f, h[t][f].item<double>()});
    }
    s.cos_to_bos = ToVector(at::cosine_similarity(h, h[0].unsqueeze(0).expand_as(h), 1, 1e-12));
    // Attention: [H, T, T] over this row's own positions (padding keys hold zero probability).
    const at::Tensor p = trace.attention_probs[l][row].narrow(1, begin, length).narrow(2, begin, length)
                             .to(at::kDouble).cpu();
    const int64_t heads = p.size(0);
    s.bos_sink_score = ToVector(p.select(2, 0).mean(1));
    // alpha[h, k] = (1 / (T - k)) sum_{t >= k} A[t, k]; causal attention makes A[t, k] = 0 for t < k.
    const at::Tensor counts = at::arange(length, 0, -1, at::kDouble);
    const at::Tensor alpha = p.sum(1) / counts;  // [H, T]
    for (int64_t hd = 0; hd < heads; ++hd) s.sink_score.push_back(ToVector(alpha[hd]));
    s.token_sink_score = ToVector(alpha.mean(0));
    const at::Tensor is_sink = (alpha > o.sink_threshold).any(0);
    for (int64_t k = 0; k < length; ++k)
      if (is_sink[k].item<bool>()) s.sinks.push_back(k);
    const at::Tensor m = trace.mlp_outputs[l][row].narrow(0, begin, length).to(at::kDouble).abs().cpu();
    s.mlp_out_max_abs = m.max().item<double>();
    s.mlp_out_median_abs = Median(m);
    s.mlp_out_max_abs_per_token = ToVector(std::get<0>(m.max(1)));
    report.layers.push_back(std::move(s));
  }
  return report;
}

std::string SinkReport::ToJson() const {
  nlohmann::json j;
  j["ids"] = ids;
  j["roles"] = roles;
  j["definitions"] = {
      {"layer", "residual-stream output of decoder layer l (1-based), before the final norm"},
      {"massive", "|h| > 100 and |h| >= 1000 x the median |h| of that token's vector"},
      {"bos_sink_score", "per head: mean over query positions t of A[t, 0]"},
      {"sink_score", "per head and key k: (1 / (T - k)) sum_{t >= k} A[t, k]"},
      {"cos_to_bos", "per token t: cos(h_t, h_0)"}};
  nlohmann::json layers_json = nlohmann::json::array();
  for (const auto& s : layers) {
    nlohmann::json massive = nlohmann::json::array();
    for (const auto& m : s.massive) massive.push_back({{"token", m.token}, {"feature", m.feature}, {"value", m.value}});
    layers_json.push_back({{"layer", s.layer},
                           {"hidden_max_abs", s.hidden_max_abs},
                           {"hidden_median_abs", s.hidden_median_abs},
                           {"massive", massive},
                           {"bos_sink_score", s.bos_sink_score},
                           {"sink_score", s.sink_score},
                           {"token_sink_score", s.token_sink_score},
                           {"sinks", s.sinks},
                           {"cos_to_bos", s.cos_to_bos},
                           {"mlp_out_max_abs", s.mlp_out_max_abs},
                           {"mlp_out_median_abs", s.mlp_out_median_abs},
                           {"mlp_out_max_abs_per_token", s.mlp_out_max_abs_per_token}});
  }
  j["layers"] = layers_json;
  return j.dump(1);
}

}  // namespace mome::analysis
