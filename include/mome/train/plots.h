// PNG plots of a run's metrics.jsonl through gnuplot (Debian gnuplot-nox, pngcairo): loss terms and validation
// WER per rate pair against the step. Plotting is a convenience: when gnuplot is missing it only warns.
#pragma once

#include <string>

namespace mome::train {

// Writes OUT_DIR/loss.png and (when the metrics hold WER) OUT_DIR/wer.png. Returns false (after a warning) when
// gnuplot is not available or failed.
bool PlotMetrics(const std::string& metrics_jsonl, const std::string& out_dir);

}  // namespace mome::train
