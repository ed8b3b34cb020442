// A rendered lower face (96x96 gray, as auto_avsr's mouth crops) whose mouth follows the phonemes: each phoneme has
// a viseme target (jaw opening, lip width, rounding, teeth and tongue visibility); the targets are smoothed in time
// (coarticulation) and drawn with OpenCV. Appearance (skin, lip thickness, mouth size and position) depends on the
// speaker, so lip reading must generalise across faces as well as voices.
#pragma once

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "synth/speech.h"

namespace mome::synth {

struct Viseme {
  double open = 0.03, width = 0.55, round = 0, teeth = 0, tongue = 0;
};

// espeak-ng phoneme mnemonics (stress marks stripped) to viseme targets.
inline Viseme VisemeFor(std::string p) {
  p.erase(std::remove_if(p.begin(), p.end(), [](char c) { return c == '\'' || c == ',' || c == '%' || c == '='; }),
          p.end());
  if (p.empty() || p[0] == '_') return {};
  const char c = p[0];
  const std::string two = p.substr(0, 2);
  if (c == 'p' || c == 'b' || c == 'm') return {0.0, 0.5, 0, 0, 0};
  if (c == 'f' || c == 'v') return {0.08, 0.6, 0, 1.0, 0};
  if (c == 'T' || c == 'D') return {0.2, 0.6, 0, 0.6, 1.0};
  if (c == 'w') return {0.12, 0.1, 1.0, 0, 0};
  if (c == 'r') return {0.22, 0.35, 0.5, 0.2, 0};
  if (two == "tS" || two == "dZ" || c == 'S' || c == 'Z') return {0.18, 0.35, 0.6, 1.0, 0};
  if (c == 'l') return {0.25, 0.7, 0, 0.7, 0.8};
  if (c == 's' || c == 'z' || c == 't' || c == 'd' || c == 'n' || c == 'j') return {0.12, 0.75, 0, 1.0, 0.2};
  if (c == 'k' || c == 'g' || c == 'N' || c == 'h') return {0.32, 0.6, 0, 0.3, 0.3};
  if (c == 'a' || c == 'A') return {0.9, 0.62, 0, 0.3, 0.2};
  if (c == 'E' || c == 'e') return {0.55, 0.8, 0, 0.5, 0.2};
  if (c == 'I' || c == 'i') return {0.3, 1.0, 0, 0.8, 0.1};
  if (c == 'O' || c == 'o' || c == '0') return {0.62, 0.3, 0.8, 0.1, 0.1};
  if (c == 'U' || c == 'u') return {0.28, 0.12, 1.0, 0, 0};
  if (c == '@' || c == '3' || c == 'V') return {0.45, 0.58, 0.1, 0.3, 0.2};
  return {0.3, 0.6, 0, 0.3, 0.1};
}

struct FaceStyle {
  double skin = 160, lip = 105, lip_thickness = 5, mouth_width = 22, mouth_height = 18, cx = 48, cy = 52;
  static FaceStyle ForSpeaker(uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto u = [&](double a, double b) { return a + (b - a) * static_cast<double>(rng() % 10000) / 10000.0; };
    FaceStyle s;
    s.skin = u(110, 200);
    s.lip = s.skin - u(35, 65);
    s.lip_thickness = u(3.5, 6.5);
    // A mouth-centred crop, as auto_avsr's: the lips span about half the frame's width.
    s.mouth_width = u(24, 32);
    s.mouth_height = u(24, 34);
    s.cx = u(44, 52);
    s.cy = u(48, 56);
    return s;
  }
};

// Viseme parameters per video frame: targets held from each phoneme's start, then a first-order lag (30 ms) so the
// mouth moves continuously and anticipates nothing it could not see.
inline std::vector<Viseme> VisemeTrack(const std::vector<TimedPhoneme>& phonemes, double seconds, double fps) {
  const int64_t frames = static_cast<int64_t>(std::ceil(seconds * fps));
  std::vector<Viseme> out;
  Viseme state, target;
  size_t next = 0;
  const double dt = 0.001, tau = 0.03, a = dt / tau;
  double t = 0;
  for (int64_t f = 0; f < frames; ++f) {
    const double frame_time = (static_cast<double>(f) + 0.5) / fps;
    for (; t < frame_time; t += dt) {
      while (next < phonemes.size() && phonemes[next].start <= t) target = VisemeFor(phonemes[next++].name);
      state.open += a * (target.open - state.open);
      state.width += a * (target.width - state.width);
      state.round += a * (target.round - state.round);
      state.teeth += a * (target.teeth - state.teeth);
      state.tongue += a * (target.tongue - state.tongue);
    }
    out.push_back(state);
  }
  return out;
}

// One 96x96 gray frame. `rng` adds the small head motion and sensor noise of real video.
inline cv::Mat RenderMouth(const Viseme& v, const FaceStyle& s, std::mt19937_64& rng) {
  std::normal_distribution<double> jitter(0.0, 0.6), noise(0.0, 3.0);
  cv::Mat img(96, 96, CV_8UC1);
  for (int y = 0; y < 96; ++y)  // skin with soft vertical shading
    img.row(y).setTo(cv::Scalar(std::clamp(s.skin - 0.25 * std::abs(y - 40.0), 0.0, 255.0)));
  const cv::Point2d c(s.cx + jitter(rng), s.cy + jitter(rng) + 6.0 * v.open);  // the jaw drops as it opens
  const double w = s.mouth_width * (0.72 + 0.45 * v.width) * (1.0 - 0.25 * v.round);
  const double h = std::max(0.5, s.mouth_height * v.open);
  const double lip = s.lip_thickness * (1.0 + 0.5 * v.round);
  auto pt = [](double x, double y) { return cv::Point(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))); };
  auto size = [](double a, double b) {
    return cv::Size(std::max(1, static_cast<int>(std::lround(a))), std::max(1, static_cast<int>(std::lround(b))));
  };
  // Nostrils and a chin line: fixed landmarks that let a model see the jaw move relative to the face.
  cv::circle(img, pt(s.cx - 7, s.cy - 26), 2, cv::Scalar(s.skin - 70), -1, cv::LINE_AA);
  cv::circle(img, pt(s.cx + 7, s.cy - 26), 2, cv::Scalar(s.skin - 70), -1, cv::LINE_AA);
  cv::ellipse(img, pt(c.x, c.y + 26 + 4 * v.open), size(30, 10), 0, 20, 160, cv::Scalar(s.skin - 40), 2, cv::LINE_AA);
  // Lips, then the mouth cavity with teeth (top) and tongue (bottom) inside it.
  cv::ellipse(img, pt(c.x, c.y), size(w + lip, h / 2 + lip), 0, 0, 360, cv::Scalar(s.lip), -1, cv::LINE_AA);
  if (h > 1.0) {
    cv::Mat cavity = cv::Mat::zeros(96, 96, CV_8UC1);
    cv::ellipse(cavity, pt(c.x, c.y), size(w, h / 2), 0, 0, 360, cv::Scalar(255), -1, cv::LINE_AA);
    cv::Mat inner(96, 96, CV_8UC1, cv::Scalar(25));
    if (v.teeth > 0.05)
      cv::rectangle(inner, pt(c.x - w, c.y - h / 2), pt(c.x + w, c.y - h / 2 + std::max(2.0, 0.35 * h)),
                    cv::Scalar(25 + 200 * std::min(1.0, v.teeth)), -1);
    if (v.tongue > 0.05)
      cv::ellipse(inner, pt(c.x, c.y + h / 2), size(0.6 * w, 0.45 * h), 0, 180, 360,
                  cv::Scalar(25 + 100 * std::min(1.0, v.tongue)), -1, cv::LINE_AA);
    inner.copyTo(img, cavity);
  } else {
    cv::line(img, pt(c.x - w, c.y), pt(c.x + w, c.y), cv::Scalar(s.lip - 40), 1, cv::LINE_AA);
  }
  cv::Mat n(96, 96, CV_16SC1);
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x) n.at<int16_t>(y, x) = static_cast<int16_t>(std::lround(noise(rng)));
  cv::Mat out;
  img.convertTo(out, CV_16SC1);
  out += n;
  out.convertTo(img, CV_8UC1);  // saturates to 0..255
  return img;
}

}  // namespace mome::synth
