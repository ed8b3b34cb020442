// The OpenCV half of frontend/mouth_roi.h: src/frontend/roi/ (built with MOME_WITH_MEDIA) or roi_nomedia.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "mome/frontend/mouth_roi.h"

namespace mome::frontend::detail {

// iBUG 68-point indices of the points that move least with expression: nose bridge and tip, eye corners, mouth
// corners (auto_avsr aligns on the same eight).
constexpr int64_t kStablePoints[8] = {28, 33, 36, 39, 42, 45, 48, 54};

// Throws when `options.mode` cannot run here (no OpenCV, unreadable cascade).
void CheckBackend(const MouthRoiOptions& options);
// frames [T, H, W] uint8 contiguous; returns [T, 96, 96] uint8.
at::Tensor CropMouthsByDetection(const at::Tensor& frames, const MouthRoiOptions& options, const std::string& source);
// landmarks [T, 68, 2] float, complete (interpolated) and smoothed; stable_reference [8, 2] float.
at::Tensor CropMouthsByLandmarks(const at::Tensor& frames, const at::Tensor& landmarks,
                                 const at::Tensor& stable_reference, const std::string& source);

}  // namespace mome::frontend::detail
