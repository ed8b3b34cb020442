// The sink report's figures, drawn by gnuplot (pngcairo) from small data files written next to them.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "mome/analysis/sink_analysis.h"
#include "mome/core/error.h"
#include "mome/core/gnuplot.h"

namespace mome::analysis {
namespace {

std::ofstream OpenData(const std::string& path) {
  std::ofstream out(path);
  MOME_CHECK(out.good(), ErrorCode::kIo, path, ": cannot write");
  return out;
}

// Each figure's data files under `data` and its part of the gnuplot script; T tokens from `begin`.

// 1. Attention heat maps (mean over heads) of the chosen layers.
std::string AttentionHeatmaps(const ForwardTrace& trace, int64_t row, int64_t begin, int64_t T,
                              const std::vector<int64_t>& heatmap_layers, const std::string& data,
                              const std::string& out_dir) {
  std::string script;
  for (int64_t layer : heatmap_layers) {
    MOME_CHECK(layer >= 1 && layer <= static_cast<int64_t>(trace.attention_probs.size()), ErrorCode::kInvalidArgument,
               "--heatmap-layers: layer ", layer, " outside 1..", trace.attention_probs.size());
    const at::Tensor a =
        trace.attention_probs[layer - 1][row].narrow(1, begin, T).narrow(2, begin, T).mean(0).to(at::kDouble).cpu();
    const std::string file = data + "/attention_l" + std::to_string(layer) + ".dat";
    auto out = OpenData(file);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t k = 0; k < T; ++k) out << a[t][k].item<double>() << (k + 1 < T ? ' ' : '\n');
    }
    script += "set output '" + out_dir + "/attention_layer" + std::to_string(layer) + ".png'\n" +
              "set title 'attention, layer " + std::to_string(layer) + " (mean over heads)'\n" +
              "set xlabel 'key position'\nset ylabel 'query position'\nset yrange [] reverse\n"
              "plot '" +
              file + "' matrix with image notitle\nset yrange [*:*] noreverse\n";
  }
  return script;
}

// 2. Sink score per layer by role (the mean over a role's tokens; BOS alone).
std::string SinkScoreByRole(const SinkReport& report, int64_t T, const std::string& data, const std::string& out_dir) {
  std::string script;
  const std::vector<std::string> order = {"bos", "delimiter", "audio", "video", "prompt", "text", "eos"};
  std::set<std::string> present(report.roles.begin(), report.roles.end());
  auto out = OpenData(data + "/sink_by_role.dat");
  for (const auto& s : report.layers) {
    out << s.layer;
    for (const auto& role : order) {
      if (!present.count(role)) continue;
      double sum = 0;
      int n = 0;
      for (int64_t k = 0; k < T; ++k)
        if (report.roles[k] == role) sum += s.token_sink_score[k], ++n;
      out << ' ' << (n ? sum / n : 0.0);
    }
    out << '\n';
  }
  script += "set output '" + out_dir +
            "/sink_score.png'\nset title 'sink score per layer (mean over heads)'\n"
            "set xlabel 'layer'\nset ylabel 'sink score'\nplot ";
  int column = 2;
  for (const auto& role : order) {
    if (!present.count(role)) continue;
    if (column > 2) script += ", ";
    script +=
        "'" + data + "/sink_by_role.dat' using 1:" + std::to_string(column) + " with linespoints title '" + role + "'";
    ++column;
  }
  script += "\n";

  return script;
}

// 3. Top |h| vs median |h| per layer, log scale.
std::string Magnitudes(const SinkReport& report, const std::string& data, const std::string& out_dir) {
  std::string script;
  auto out = OpenData(data + "/magnitude.dat");
  for (const auto& s : report.layers)
    out << s.layer << ' ' << s.hidden_max_abs << ' ' << std::max(s.hidden_median_abs, 1e-12) << ' '
        << std::max(s.mlp_out_max_abs, 1e-12) << '\n';
  script += "set output '" + out_dir +
            "/massive_activations.png'\nset title 'hidden-state magnitude per layer'\n"
            "set logscale y\nset xlabel 'layer'\nset ylabel '|h|'\nplot '" +
            data +
            "/magnitude.dat' using 1:2 with linespoints title 'max |h|', '' using 1:3 with linespoints title "
            "'median |h|', '' using 1:4 with linespoints title 'max |MLP output|'\nunset logscale y\n";

  return script;
}

// 4. cos(h_t, h_BOS) per layer: the mean over tokens that are sinks in some layer (BOS excluded) and the others.
std::string CosineToBos(const SinkReport& report, int64_t T, const std::string& data, const std::string& out_dir) {
  std::string script;
  std::set<int64_t> sink_tokens;
  for (const auto& s : report.layers)
    for (int64_t k : s.sinks)
      if (k != 0) sink_tokens.insert(k);
  auto out = OpenData(data + "/cos_to_bos.dat");
  for (const auto& s : report.layers) {
    double sink_sum = 0, other_sum = 0;
    int sink_n = 0, other_n = 0;
    for (int64_t t = 1; t < T; ++t) {
      if (sink_tokens.count(t))
        sink_sum += s.cos_to_bos[t], ++sink_n;
      else
        other_sum += s.cos_to_bos[t], ++other_n;
    }
    out << s.layer << ' ' << (sink_n ? sink_sum / sink_n : 0.0) << ' ' << (other_n ? other_sum / other_n : 0.0) << '\n';
  }
  script += "set output '" + out_dir +
            "/cos_to_bos.png'\nset title 'cos(h_t, h_{BOS}) per layer'\n"
            "set xlabel 'layer'\nset ylabel 'cosine'\nplot '" +
            data +
            "/cos_to_bos.dat' using 1:2 with linespoints "
            "title 'sink tokens (" +
            std::to_string(sink_tokens.size()) +
            ")', '' using 1:3 with linespoints "
            "title 'other tokens'\n";
  return script;
}

}  // namespace

bool PlotSinkReport(const SinkReport& report, const ForwardTrace& trace, int64_t row, int64_t begin,
                    const std::vector<int64_t>& heatmap_layers, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const std::string data = out_dir + "/plot_data";
  fs::create_directories(data);
  const int64_t T = static_cast<int64_t>(report.roles.size());
  std::string script = "set terminal pngcairo size 900,600\nset grid\n";
  script += AttentionHeatmaps(trace, row, begin, T, heatmap_layers, data, out_dir);
  script += SinkScoreByRole(report, T, data, out_dir);
  script += Magnitudes(report, data, out_dir);
  script += CosineToBos(report, T, data, out_dir);
  return RunGnuplot(script, out_dir + " figures");
}

}  // namespace mome::analysis
