#include "mome/frontend/landmarks.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "mome/core/config.h"
#include "mome/core/error.h"
#include "mome/io/json.h"

namespace mome::frontend {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

void AppendMissing(std::vector<float>& out) {
  out.insert(out.end(), kLandmarkPoints * 2, kMissing);
}

void AppendJsonFrame(const nlohmann::json& frame, std::vector<float>& out, const std::string& path, size_t index) {
  if (frame.is_null() || (frame.is_array() && frame.empty())) return AppendMissing(out);
  MOME_CHECK(frame.is_array() && frame.size() == static_cast<size_t>(kLandmarkPoints), ErrorCode::kCorruptFile, path,
             ": frame ", index, " must hold 68 [x, y] points or null, got ",
             frame.is_array() ? std::to_string(frame.size()) + " entries" : std::string(frame.type_name()));
  for (const auto& point : frame) {
    MOME_CHECK(point.is_array() && point.size() == 2 && point[0].is_number() && point[1].is_number(),
               ErrorCode::kCorruptFile, path, ": frame ", index,
               " has a point that is not [x, y]: ", io::Describe(point));
    out.push_back(point[0].get<float>());
    out.push_back(point[1].get<float>());
  }
}

LandmarkTrack ParseJson(const std::string& text, const std::string& path) {
  const nlohmann::json doc = io::ParseJson(text, path);
  LandmarkTrack track;
  const nlohmann::json* frames = &doc;
  if (doc.is_object()) {
    MOME_CHECK(doc.contains("frames") && doc["frames"].is_array(), ErrorCode::kCorruptFile, path,
               ": a landmark JSON object needs a \"frames\" array");
    frames = &doc["frames"];
    if (doc.contains("fps")) {
      MOME_CHECK(doc["fps"].is_number() && doc["fps"].get<double>() > 0, ErrorCode::kCorruptFile, path,
                 ": \"fps\" must be a positive number");
      track.fps = doc["fps"].get<double>();
    }
  }
  MOME_CHECK(frames->is_array(), ErrorCode::kCorruptFile, path, ": expected an array of frames");
  std::vector<float> values;
  for (size_t i = 0; i < frames->size(); ++i) AppendJsonFrame((*frames)[i], values, path, i);
  const auto n = static_cast<int64_t>(frames->size());
  track.points = at::from_blob(values.data(), {n, kLandmarkPoints, 2}, at::kFloat).clone();
  return track;
}

LandmarkTrack ParseText(const std::string& text, const std::string& path) {
  std::vector<float> values;
  std::istringstream lines(text);
  std::string line;
  int64_t n = 0, line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    ++n;
    if (line.compare(first, 1, "-") == 0 && line.find_first_not_of(" \t\r", first + 1) == std::string::npos) {
      AppendMissing(values);
      continue;
    }
    std::istringstream fields(line);
    std::vector<float> frame;
    std::string field;
    while (fields >> field) {
      char* end = nullptr;
      const float v = std::strtof(field.c_str(), &end);
      MOME_CHECK(end && *end == '\0', ErrorCode::kCorruptFile, path, ":", line_number, ": '", field,
                 "' is not a number");
      frame.push_back(v);
    }
    MOME_CHECK(frame.size() == static_cast<size_t>(2 * kLandmarkPoints), ErrorCode::kCorruptFile, path, ":",
               line_number, ": expected 136 numbers (68 x, y pairs) or '-', got ", frame.size());
    values.insert(values.end(), frame.begin(), frame.end());
  }
  LandmarkTrack track;
  track.points = at::from_blob(values.data(), {n, kLandmarkPoints, 2}, at::kFloat).clone();
  return track;
}

at::Tensor ValidRows(const at::Tensor& points) {
  return points.isfinite().flatten(1).all(1);
}

}  // namespace

LandmarkTrack ReadLandmarks(const std::string& path) {
  const std::string text = detail::ReadTextFile(path);
  const size_t first = text.find_first_not_of(" \t\r\n");
  MOME_CHECK(first != std::string::npos, ErrorCode::kCorruptFile, path, ": empty landmark file");
  LandmarkTrack track = (text[first] == '[' || text[first] == '{') ? ParseJson(text, path) : ParseText(text, path);
  MOME_CHECK(track.points.size(0) > 0, ErrorCode::kCorruptFile, path, ": no frames");
  return track;
}

at::Tensor InterpolateMissingFrames(const at::Tensor& rows, const std::string& source, const std::string& none) {
  at::Tensor out = rows.to(at::kFloat).contiguous().clone();
  const at::Tensor valid = out.isfinite().flatten(1).all(1);
  std::vector<int64_t> known;
  const auto* v = valid.data_ptr<bool>();
  for (int64_t t = 0; t < out.size(0); ++t)
    if (v[t]) known.push_back(t);
  MOME_CHECK(!known.empty(), ErrorCode::kInvalidArgument, source, ": ", none);
  for (int64_t t = 0; t < out.size(0); ++t) {
    if (v[t]) continue;
    const auto next = std::lower_bound(known.begin(), known.end(), t);
    if (next == known.begin()) {
      out[t].copy_(out[*next]);
    } else if (next == known.end()) {
      out[t].copy_(out[known.back()]);
    } else {
      const int64_t a = *(next - 1), b = *next;
      const double w = static_cast<double>(t - a) / static_cast<double>(b - a);
      out[t].copy_(out[a] * (1.0 - w) + out[b] * w);
    }
  }
  return out;
}

at::Tensor InterpolateLandmarks(const at::Tensor& points, const std::string& source) {
  MOME_CHECK(points.dim() == 3 && points.size(1) == kLandmarkPoints && points.size(2) == 2, ErrorCode::kShapeMismatch,
             source, ": landmarks must be [T, 68, 2], got ", points.sizes());
  return InterpolateMissingFrames(points, source, "no frame has landmarks (no face found)");
}

at::Tensor SmoothLandmarks(const at::Tensor& points, int64_t margin) {
  const int64_t n = points.size(0);
  at::Tensor out = at::empty_like(points);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t m = std::min({margin, t, n - 1 - t});
    at::Tensor mean = points.slice(0, t - m, t + m + 1).mean(0);
    // Keep the frame's own centroid: smoothing removes jitter of the shape, not the motion of the head.
    mean += points[t].mean(0, true) - mean.mean(0, true);
    out[t].copy_(mean);
  }
  return out;
}

at::Tensor AlignLandmarks(const LandmarkTrack& track, int64_t n_frames, double out_fps, double source_fps,
                          const std::string& source) {
  const int64_t have = track.points.size(0);
  if (have == n_frames) return track.points;
  const double rate = track.fps > 0 ? track.fps : source_fps;
  MOME_CHECK(rate > 0, ErrorCode::kInvalidArgument, source, ": landmarks have ", have, " frames, the video ", n_frames,
             ", and no frame rate says how they match");
  const double video_seconds = static_cast<double>(n_frames) / out_fps;
  const double covered = static_cast<double>(have) / rate;
  MOME_CHECK(covered + 2.0 / out_fps >= video_seconds, ErrorCode::kInvalidArgument, source, ": landmarks cover ", have,
             " frames at ", rate, " fps (", covered, " s) but the video is ", n_frames, " frames at ", out_fps,
             " fps (", video_seconds, " s)");
  std::vector<int64_t> index(static_cast<size_t>(n_frames));
  // The decoder's rule (io/media.h): output frame n shows the last source frame k whose start k / rate rounds to
  // a slot <= n, i.e. k * out_fps / rate < n + 0.5.
  for (int64_t n = 0; n < n_frames; ++n) {
    const double bound = (static_cast<double>(n) + 0.5) * rate / out_fps;
    index[static_cast<size_t>(n)] = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(bound - 1e-9)) - 1, 0, have - 1);
  }
  return track.points.index_select(0, at::tensor(index, at::kLong));
}

at::Tensor ReadReferenceFace(const std::string& path) {
  const LandmarkTrack track = ReadLandmarks(path);
  MOME_CHECK(track.points.size(0) == 1 && ValidRows(track.points).all().item<bool>(), ErrorCode::kCorruptFile, path,
             ": a reference face file must hold exactly one frame of 68 points");
  return track.points[0];
}

}  // namespace mome::frontend
