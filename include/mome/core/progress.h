// Progress of long work on stderr: a live bar with rate and ETA on a terminal, a plain log line every few
// percent otherwise (CI logs, files). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace mome {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "items");
  ~ProgressBar();  // ends the bar's line
  // Sets the count of finished items; `status` is shown after the counts (e.g. "loss 2.31 lr 1e-3").
  void Update(int64_t done, const std::string& status = "");
  void Advance(int64_t n = 1, const std::string& status = "");
  // Work resumed at `done`: rate and ETA count only what this process does from here.
  void Resume(int64_t done);
  double ElapsedSeconds() const;

 private:
  void Draw(const std::string& status, bool force);
  std::string label_, unit_;
  int64_t total_, done_ = 0, start_done_ = 0;
  bool tty_;
  int64_t last_logged_percent_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

// "1h02m", "3m05s", "12s".
std::string FormatDuration(double seconds);

}  // namespace mome
