// Attention-sink and massive-activation statistics of one sequence (SPEC.md §7), from what a Llama forward pass
// with llm::ForwardExtras{layer_outputs, attention_probs, mlp_outputs} collected. Usable during training too:
//   std::vector<at::Tensor> hs, probs, mlp;
//   llm->forward(embeds, positions, valid, nullptr, {hooks, &hs, &probs, &mlp});
//   auto report = analysis::AnalyzeSinks({hs, probs, mlp}, /*row=*/0, begin, length, roles);
// Layer l (1-based) means the residual-stream output of decoder layer l, before the final norm.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace mome::analysis {

struct SinkAnalysisOptions {
  double massive_abs = 100.0;     // |h| above this ...
  double massive_ratio = 1000.0;  // ... and at least this many times the median |h| of that token's vector
  double sink_threshold = 0.3;    // a key position whose sink score (any head) exceeds this is a sink
  int64_t max_massive_per_layer = 256;
};

struct MassiveActivation {
  int64_t token = 0, feature = 0;
  double value = 0;
};

struct LayerSinkStats {
  int64_t layer = 0;  // 1..L
  double hidden_max_abs = 0, hidden_median_abs = 0;
  std::vector<MassiveActivation> massive;
  std::vector<double> bos_sink_score;               // per head: mean over queries t of A[t, 0]
  std::vector<std::vector<double>> sink_score;      // [head][k]: (1 / (T - k)) sum_{t >= k} A[t, k]
  std::vector<double> token_sink_score;             // per key k: the mean of sink_score over heads
  std::vector<int64_t> sinks;                       // keys whose sink score exceeds the threshold in some head
  std::vector<double> cos_to_bos;                   // per token t: cos(h_t, h_0)
  std::vector<double> mlp_out_max_abs_per_token;    // per token: max |MLP output| (where massive values come from)
  double mlp_out_max_abs = 0, mlp_out_median_abs = 0;
};

struct SinkReport {
  std::vector<int64_t> ids;         // token ids (-1 for modality features), when known
  std::vector<std::string> roles;   // bos, delimiter, audio, video, prompt, text, eos
  std::vector<LayerSinkStats> layers;
  std::string ToJson() const;       // report.json's content
};

// What one forward pass collected: per layer [B, T, d] outputs, [B, H, T, S] probabilities, [B, T, d] MLP outputs.
struct ForwardTrace {
  std::vector<at::Tensor> layer_outputs, attention_probs, mlp_outputs;
};

// Statistics of batch row `row`, positions [begin, begin + length) (the row's real tokens; BOS at `begin`).
// `roles` has `length` entries (or is empty: "text" for all but the first, "bos"). Throws on inconsistent shapes.
SinkReport AnalyzeSinks(const ForwardTrace& trace, int64_t row, int64_t begin, int64_t length,
                        std::vector<std::string> roles = {}, const SinkAnalysisOptions& options = {});

// PNG figures through gnuplot into out_dir: attention heat maps of the given layers (1-based), sink score per layer
// and role, top |h| vs median per layer (log scale), cos-to-BOS per layer for sink and non-sink tokens.
// Returns false (with a warning) when gnuplot is missing.
bool PlotSinkReport(const SinkReport& report, const ForwardTrace& trace, int64_t row, int64_t begin,
                    const std::vector<int64_t>& heatmap_layers, const std::string& out_dir);

}  // namespace mome::analysis
