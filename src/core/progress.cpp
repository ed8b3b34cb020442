#include "mome/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "mome/core/log.h"

namespace mome {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tty_ && done_ > 0) std::fputc('\n', stderr);
}

void ProgressBar::Resume(int64_t done) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = start_done_ = done;
  start_ = std::chrono::steady_clock::now();
}

double ProgressBar::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::Advance(int64_t n, const std::string& status) {
  int64_t done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done = done_ + n;
  }
  Update(done, status);
}

void ProgressBar::Update(int64_t done, const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = done;
  Draw(status, done_ >= total_);
}

void ProgressBar::Draw(const std::string& status, bool force) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? (done_ - start_done_) / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : NAN;
  const int64_t percent = total_ > 0 ? done_ * 100 / total_ : 100;
  char counts[160];
  std::snprintf(counts, sizeof counts, "%lld/%lld %s | %.2f %s/s | ETA %s", static_cast<long long>(done_),
                static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(), FormatDuration(eta).c_str());
  if (tty_) {
    if (!force && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3lld%% %s %s", label_.c_str(), bar.c_str(),
                 static_cast<long long>(percent), counts, status.c_str());
    std::fflush(stderr);
  } else if (force || percent / 5 > last_logged_percent_ / 5) {
    last_logged_percent_ = percent;
    log::Info(label_, ": ", percent, "% ", counts, status.empty() ? "" : " | ", status);
  }
}

}  // namespace mome
