// Mouth crops with OpenCV: Haar face detection (detect) and similarity alignment to a reference face (landmarks).
#include <ATen/ATen.h>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "frontend/roi_backend.h"
#include "mome/core/error.h"
#include "mome/frontend/landmarks.h"

namespace mome::frontend {

bool MouthRoiAvailable() {
  return true;
}

namespace detail {
namespace {

constexpr int kCrop = static_cast<int>(kMouthCropSize);
constexpr int kAlignedSize = 256;       // the reference face's frame (auto_avsr's STD_SIZE)
constexpr double kDetectMaxSide = 360;  // frames are detected at most this large: Haar cost grows with area

std::string CascadePath(const MouthRoiOptions& options) {
  if (!options.cascade_path.empty()) return options.cascade_path;
  if (const char* env = std::getenv("MOME_FACE_CASCADE")) return env;
  for (const char* dir :
       {"/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades", "/usr/local/share/opencv4/haarcascades"}) {
    const std::string path = std::string(dir) + "/haarcascade_frontalface_alt2.xml";
    if (std::filesystem::exists(path)) return path;
  }
  MOME_FAIL(ErrorCode::kNotFound,
            "no face detector: haarcascade_frontalface_alt2.xml not found (install Debian's opencv-data, or set "
            "MOME_FACE_CASCADE to a Haar cascade file)");
}

// A CascadeClassifier is not safe to share between threads while detecting; mome_prepare runs one clip per thread,
// so each thread keeps its own, loaded once.
cv::CascadeClassifier& Cascade(const std::string& path) {
  thread_local std::map<std::string, cv::CascadeClassifier> cache;
  auto it = cache.find(path);
  if (it == cache.end()) {
    cv::CascadeClassifier classifier;
    MOME_CHECK(std::filesystem::exists(path) && classifier.load(path), ErrorCode::kCorruptFile, path,
               ": not a readable OpenCV cascade file");
    it = cache.emplace(path, std::move(classifier)).first;
  }
  return it->second;
}

struct Box {
  double cx = 0, cy = 0, side = 0;  // centre and side of the square face box, in frame pixels
};

cv::Mat FrameMat(const at::Tensor& frames, int64_t t) {
  return cv::Mat(static_cast<int>(frames.size(1)), static_cast<int>(frames.size(2)), CV_8UC1,
                 frames[t].data_ptr<uint8_t>());
}

// Faces in `frame` (or in `region` of it), detected at most kDetectMaxSide large, with sides in [min_side, max_side]
// frame pixels (max_side 0 = no limit); boxes in frame pixels.
std::vector<Box> Detect(const cv::Mat& frame, const cv::Rect& region, cv::CascadeClassifier& cascade, double min_side,
                        double max_side) {
  const cv::Mat view = frame(region);
  const double scale = std::min(1.0, kDetectMaxSide / std::max(view.cols, view.rows));
  // Never equalise in place: `frame` views the caller's decoded video.
  cv::Mat small, equalised;
  if (scale < 1.0)
    cv::resize(view, small, cv::Size(), scale, scale, cv::INTER_AREA);
  else
    small = view;
  cv::equalizeHist(small, equalised);
  std::vector<cv::Rect> faces;
  const int lo = std::max(24, static_cast<int>(min_side * scale));
  const int hi = max_side > 0 ? static_cast<int>(max_side * scale) : 0;
  if (hi > 0 && hi < lo) return {};
  cascade.detectMultiScale(equalised, faces, 1.1, 4, 0, cv::Size(lo, lo), cv::Size(hi, hi));
  std::vector<Box> boxes;
  for (const auto& r : faces)
    boxes.push_back(
        {region.x + (r.x + r.width / 2.0) / scale, region.y + (r.y + r.height / 2.0) / scale, r.width / scale});
  return boxes;
}

// Tracking: near the previous frame's face, search only a window around it at similar sizes (several times
// cheaper than a full-frame search); fall back to the whole frame when that finds nothing. Among several faces,
// the one nearest the previous face (one speaker per clip), or on the first frame the largest.
std::optional<Box> DetectFace(const cv::Mat& frame, cv::CascadeClassifier& cascade,
                              const std::optional<Box>& previous) {
  std::vector<Box> faces;
  if (previous) {
    const double half = 1.1 * previous->side;
    const cv::Rect window = cv::Rect(static_cast<int>(previous->cx - half), static_cast<int>(previous->cy - half),
                                     static_cast<int>(2 * half), static_cast<int>(2 * half)) &
                            cv::Rect(0, 0, frame.cols, frame.rows);
    if (window.width >= 24 && window.height >= 24)
      faces = Detect(frame, window, cascade, 0.75 * previous->side, 1.35 * previous->side);
  }
  if (faces.empty())
    faces = Detect(frame, cv::Rect(0, 0, frame.cols, frame.rows), cascade, std::min(frame.cols, frame.rows) / 8.0, 0);
  if (faces.empty()) return std::nullopt;
  auto score = [&](const Box& b) {
    if (!previous) return -b.side;
    const double dx = b.cx - previous->cx, dy = b.cy - previous->cy;
    return dx * dx + dy * dy;
  };
  return *std::min_element(faces.begin(), faces.end(), [&](const Box& a, const Box& b) { return score(a) < score(b); });
}

// Frames where no face was found take the box interpolated from their neighbours (frontend/landmarks.h); then a
// centred moving average (shrinking at the ends) removes the detector's frame-to-frame jitter.
std::vector<Box> FillAndSmooth(const std::vector<std::optional<Box>>& found, int64_t window,
                               const std::string& source) {
  const auto n = static_cast<int64_t>(found.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  at::Tensor rows = at::full({n, 3}, nan);
  for (int64_t t = 0; t < n; ++t)
    if (const auto& b = found[static_cast<size_t>(t)])
      rows[t].copy_(at::tensor({static_cast<float>(b->cx), static_cast<float>(b->cy), static_cast<float>(b->side)}));
  const at::Tensor filled = InterpolateMissingFrames(
      rows, source,
      "no face found in any of its " + std::to_string(n) +
          " frames (--roi detect); give landmarks (--roi landmarks) or mouth crops (--roi precropped)");
  const int64_t half = std::max<int64_t>(0, window / 2);
  std::vector<Box> smooth(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    const int64_t m = std::min({half, t, n - 1 - t});
    const at::Tensor mean = filled.slice(0, t - m, t + m + 1).to(at::kDouble).mean(0);
    const auto* v = mean.data_ptr<double>();
    smooth[static_cast<size_t>(t)] = {v[0], v[1], v[2]};
  }
  return smooth;
}

// Maps the square of side `side` centred at (cx, cy) onto the 96x96 output; pixels outside the frame repeat the
// edge (a mouth near the border must not turn into a black bar the encoder has never seen).
void CropSquare(const cv::Mat& frame, double cx, double cy, double side, uint8_t* out) {
  const double k = kCrop / side;
  const cv::Matx23d m(k, 0, kCrop / 2.0 - k * cx, 0, k, kCrop / 2.0 - k * cy);
  cv::Mat dst(kCrop, kCrop, CV_8UC1, out);
  cv::warpAffine(frame, dst, m, dst.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
}

std::vector<cv::Point2f> Points(const at::Tensor& xy) {  // [N, 2] float
  const at::Tensor c = xy.contiguous();
  const float* p = c.data_ptr<float>();
  std::vector<cv::Point2f> out;
  for (int64_t i = 0; i < c.size(0); ++i) out.emplace_back(p[2 * i], p[2 * i + 1]);
  return out;
}

}  // namespace

void CheckBackend(const MouthRoiOptions& options) {
  if (options.mode == "detect") Cascade(CascadePath(options));
}

at::Tensor CropMouthsByDetection(const at::Tensor& frames, const MouthRoiOptions& options, const std::string& source) {
  cv::CascadeClassifier& cascade = Cascade(CascadePath(options));
  const int64_t n = frames.size(0);
  std::vector<std::optional<Box>> found(static_cast<size_t>(n));
  std::optional<Box> previous;
  for (int64_t t = 0; t < n; ++t) {
    found[static_cast<size_t>(t)] = DetectFace(FrameMat(frames, t), cascade, previous);
    if (found[static_cast<size_t>(t)]) previous = found[static_cast<size_t>(t)];
  }
  const std::vector<Box> boxes = FillAndSmooth(found, options.smooth_frames, source);
  at::Tensor out = at::empty({n, kMouthCropSize, kMouthCropSize}, at::kByte);
  for (int64_t t = 0; t < n; ++t) {
    const Box& b = boxes[static_cast<size_t>(t)];
    const double mouth_y = b.cy + (options.mouth_center_y - 0.5) * b.side;
    CropSquare(FrameMat(frames, t), b.cx, mouth_y, options.crop_fraction * b.side, out[t].data_ptr<uint8_t>());
  }
  return out;
}

at::Tensor CropMouthsByLandmarks(const at::Tensor& frames, const at::Tensor& landmarks,
                                 const at::Tensor& stable_reference, const std::string& source) {
  const std::vector<cv::Point2f> reference = Points(stable_reference);
  const at::Tensor stable_index = at::tensor(at::ArrayRef<int64_t>(kStablePoints), at::kLong);
  const int64_t n = frames.size(0);
  at::Tensor out = at::empty({n, kMouthCropSize, kMouthCropSize}, at::kByte);
  cv::Mat previous_transform;
  for (int64_t t = 0; t < n; ++t) {
    const at::Tensor points = landmarks[t];
    cv::Mat transform =
        cv::estimateAffinePartial2D(Points(points.index_select(0, stable_index)), reference, cv::noArray(), cv::LMEDS);
    if (transform.empty()) transform = previous_transform;  // degenerate points: keep the last good alignment
    MOME_CHECK(!transform.empty(), ErrorCode::kInvalidArgument, source, ": frame ", t,
               ": the landmarks are degenerate (no similarity transform to the reference face)");
    previous_transform = transform;
    cv::Mat aligned;
    cv::warpAffine(FrameMat(frames, t), aligned, transform, cv::Size(kAlignedSize, kAlignedSize), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT, cv::Scalar(0));
    // The patch is centred on the aligned mouth points 48..67, kept inside the aligned frame.
    std::vector<cv::Point2f> mouth;
    cv::transform(Points(points.slice(0, 48, 68)), mouth, transform);
    cv::Point2f centre(0, 0);
    for (const auto& p : mouth) centre += p;
    centre *= 1.0f / static_cast<float>(mouth.size());
    const int half = kCrop / 2;
    const int x0 = std::clamp(static_cast<int>(std::lround(centre.x)), half, kAlignedSize - half) - half;
    const int y0 = std::clamp(static_cast<int>(std::lround(centre.y)), half, kAlignedSize - half) - half;
    cv::Mat dst(kCrop, kCrop, CV_8UC1, out[t].data_ptr<uint8_t>());
    aligned(cv::Rect(x0, y0, kCrop, kCrop)).copyTo(dst);
  }
  return out;
}

}  // namespace detail
}  // namespace mome::frontend
