#include "mome/frontend/mouth_roi.h"

#include <ATen/ATen.h>

#include "frontend/roi_backend.h"
#include "mome/core/error.h"
#include "mome/frontend/landmarks.h"

namespace mome::frontend {
namespace {

void CheckMode(const MouthRoiOptions& options) {
  MOME_CHECK(options.mode == "precropped" || options.mode == "detect" || options.mode == "landmarks",
             ErrorCode::kInvalidArgument, "mouth ROI mode (--roi) '", options.mode,
             "' is not one of precropped, detect, landmarks");
}

}  // namespace

at::Tensor DefaultStableReference() {
  // libmome's own frontal template in a 256x256 frame: eyes level at y ~ 100 (outer corners 96 px apart), nose tip
  // at y 150, mouth corners 56 px apart at y 180 — so the lips span a little over half of the 96-pixel crop, as in
  // auto_avsr's crops.
  const float points[8][2] = {{128, 112}, {128, 150}, {80, 100},  {110, 102},
                              {146, 102}, {176, 100}, {100, 180}, {156, 180}};
  return at::from_blob(const_cast<float*>(&points[0][0]), {8, 2}, at::kFloat).clone();
}

void ValidateMouthRoi(const MouthRoiOptions& options) {
  CheckMode(options);
  detail::CheckBackend(options);
  if (options.mode == "landmarks" && !options.reference_path.empty()) ReadReferenceFace(options.reference_path);
  MOME_CHECK(options.crop_fraction > 0 && options.smooth_frames >= 1 && options.landmark_margin >= 0,
             ErrorCode::kInvalidArgument,
             "mouth ROI: crop_fraction, smooth_frames and landmark_margin must be positive");
}

at::Tensor CropMouths(const at::Tensor& frames, const MouthRoiOptions& options, const std::string& source,
                      const at::Tensor& landmarks) {
  CheckMode(options);
  MOME_CHECK(frames.defined() && frames.dim() == 3 && frames.scalar_type() == at::kByte, ErrorCode::kShapeMismatch,
             source, ": mouth ROI expects gray uint8 frames [T, H, W], got ",
             frames.defined() ? frames.sizes() : at::IntArrayRef{});
  MOME_CHECK(frames.size(0) > 0, ErrorCode::kCorruptFile, source, ": no video frames");
  if (options.mode == "precropped") {
    MOME_CHECK(frames.size(1) == kMouthCropSize && frames.size(2) == kMouthCropSize, ErrorCode::kShapeMismatch, source,
               ": --roi precropped expects 96x96 mouth crops, got ", frames.sizes(),
               " (use --roi detect or --roi landmarks for face videos)");
    return frames;
  }
  MOME_CHECK(frames.size(1) >= 32 && frames.size(2) >= 32, ErrorCode::kShapeMismatch, source, ": frames of ",
             frames.sizes(), " are too small to find a face in");
  const at::Tensor contiguous = frames.contiguous();
  if (options.mode == "detect") return detail::CropMouthsByDetection(contiguous, options, source);

  MOME_CHECK(landmarks.defined() && landmarks.dim() == 3 && landmarks.size(0) == frames.size(0) &&
                 landmarks.size(1) == kLandmarkPoints && landmarks.size(2) == 2,
             ErrorCode::kShapeMismatch, source, ": --roi landmarks needs [", frames.size(0),
             ", 68, 2] landmarks for its ", frames.size(0), " frames, got ",
             landmarks.defined() ? landmarks.sizes() : at::IntArrayRef{});
  const at::Tensor reference =
      options.reference_path.empty()
          ? DefaultStableReference()
          : ReadReferenceFace(options.reference_path)
                .index_select(0, at::tensor(at::ArrayRef<int64_t>(detail::kStablePoints), at::kLong));
  const at::Tensor smooth = SmoothLandmarks(InterpolateLandmarks(landmarks, source), options.landmark_margin);
  return detail::CropMouthsByLandmarks(contiguous, smooth, reference, source);
}

}  // namespace mome::frontend
