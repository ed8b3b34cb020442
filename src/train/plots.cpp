#include "mome/train/plots.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "mome/core/atomic_file.h"
#include "mome/core/gnuplot.h"
#include "mome/core/log.h"

namespace mome::train {

namespace {
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}
}  // namespace

bool PlotMetrics(const std::string& metrics_jsonl, const std::string& out_dir) {
  std::ifstream in(metrics_jsonl);
  if (!in.good()) return false;
  std::ostringstream loss, wer;
  std::vector<std::string> pairs;
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      continue;
    }
    const int64_t step = j.value("step", int64_t{0});
    loss << step << ' ' << j.value("loss", 0.0) << ' ' << j.value("ce", 0.0) << ' ' << j.value("load_balancing", 0.0)
         << ' ' << j.value("decorrelation", 0.0) << '\n';
    if (j.contains("wer") && j["wer"].is_object()) {
      if (pairs.empty())
        for (const auto& item : j["wer"].items()) pairs.push_back(item.key());
      wer << step;
      for (const auto& p : pairs) wer << ' ' << j["wer"].value(p, 0.0);
      wer << '\n';
    }
  }
  const std::string tmp = out_dir + "/.plot." + std::to_string(::getpid());
  WriteFileAtomic(tmp + ".loss", loss.str());
  std::ostringstream script;
  script << "set terminal pngcairo size 900,540\nset grid\nset key outside right\nset xlabel 'step'\n"
         << "set output " << Quote(out_dir + "/loss.png.tmp") << "\nset title 'training loss'\n"
         << "set logscale y\nplot " << Quote(tmp + ".loss") << " using 1:2 with lines lw 2 title 'loss', '' using 1:3 "
         << "with lines title 'cross-entropy'\nunset logscale y\n";
  if (!pairs.empty()) {
    WriteFileAtomic(tmp + ".wer", wer.str());
    script << "set output " << Quote(out_dir + "/wer.png.tmp") << "\nset title 'validation WER (%)'\nplot ";
    for (size_t i = 0; i < pairs.size(); ++i)
      script << (i ? ", " : "") << Quote(tmp + ".wer") << " using 1:" << i + 2 << " with linespoints title "
             << Quote(pairs[i]);
    script << "\n";
  }
  script << "unset output\n";
  const bool ok = RunGnuplot(script.str(), metrics_jsonl);
  if (ok) {
    std::rename((out_dir + "/loss.png.tmp").c_str(), (out_dir + "/loss.png").c_str());
    if (!pairs.empty()) std::rename((out_dir + "/wer.png.tmp").c_str(), (out_dir + "/wer.png").c_str());
  }
  RemoveTree(tmp + ".loss");
  RemoveTree(tmp + ".wer");
  RemoveTree(out_dir + "/loss.png.tmp");
  RemoveTree(out_dir + "/wer.png.tmp");
  return ok;
}

}  // namespace mome::train
