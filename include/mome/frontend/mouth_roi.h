// Mouth regions of interest (SPEC.md §1): from a video's frames to 96x96 gray mouth crops, as auto_avsr writes them.
// Three modes:
//   precropped  the frames already are 96x96 mouth crops (auto_avsr's prepared corpora); passed through.
//   detect      raw face video: OpenCV Haar face detection (cascades from Debian's opencv-data) on every frame, the
//               box interpolated over frames without a face and smoothed in time, the mouth square taken from the
//               smoothed box at a fixed geometry (below), resized to 96x96. An approximation of a landmark crop
//               that needs no extra model.
//   landmarks   68-point landmarks per frame (iBUG 300-W order) from a file (frontend/landmarks.h): missing frames
//               interpolated, landmarks smoothed over +-6 frames, each frame similarity-aligned (rotation, uniform
//               scale, translation; LMEDS fit) so that the 8 stable points 28, 33, 36, 39, 42, 45, 48, 54 land on a
//               reference face in a 256x256 frame, and the 96x96 patch centred on the mean of the mouth points
//               48..67 cut out — auto_avsr's procedure. The reference is libmome's own template (kDefaultReference)
//               or a 68-point file (`reference_path`, e.g. auto_avsr's mean face converted with
//               tools/convert_landmarks.py) for crops that match auto_avsr's exactly.
// detect and landmarks need OpenCV (MOME_WITH_MEDIA); without it they throw kUnsupported.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace mome::frontend {

constexpr int64_t kMouthCropSize = 96;

struct MouthRoiOptions {
  std::string mode = "precropped";  // precropped | detect | landmarks
  // detect: the Haar cascade file; empty = $MOME_FACE_CASCADE, else opencv-data's haarcascade_frontalface_alt2.xml.
  std::string cascade_path;
  // detect: mouth centre and crop side as fractions of the (square) Haar face box, which spans brows to chin.
  double mouth_center_y = 0.78;
  double crop_fraction = 0.62;
  int64_t smooth_frames = 13;  // detect: centred moving-average window over boxes (odd)
  // landmarks: 68 [x, y] points in a 256x256 frame; empty = the built-in template.
  std::string reference_path;
  int64_t landmark_margin = 6;  // landmarks: smoothing half-window (auto_avsr's window_margin 12 / 2)
};

// Throws mome::Error naming `source` when the mode is unknown, the frames have the wrong shape, no face is found in
// any frame (detect), or the landmarks do not cover the video (landmarks).
//   frames: [T, H, W] uint8 gray.  landmarks: [T, 68, 2] float (landmarks mode only; NaN rows = missing frames).
//   returns [T, 96, 96] uint8 gray.
at::Tensor CropMouths(const at::Tensor& frames, const MouthRoiOptions& options, const std::string& source,
                      const at::Tensor& landmarks = {});

// Checks the settings once before a run (mode known and available, cascade and reference files readable), so a
// bad setting is one error up front rather than one per clip.
void ValidateMouthRoi(const MouthRoiOptions& options);

// True when detect and landmarks modes are available (OpenCV linked).
bool MouthRoiAvailable();

// For tests and tools: the 8 stable points of the built-in reference face, [8, 2] float, in a 256x256 frame.
at::Tensor DefaultStableReference();

}  // namespace mome::frontend
