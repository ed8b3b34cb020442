// 68-point facial landmarks per video frame (iBUG 300-W order, pixel coordinates), the input of the `landmarks`
// mouth-ROI mode (frontend/mouth_roi.h). Two file formats (tools/convert_landmarks.py writes the first from
// auto_avsr's landmark pickles):
//   JSON   {"fps": 25, "frames": [ [[x0, y0], ..., [x67, y67]], null, ... ]}   (a bare array of frames also works;
//          null or [] marks a frame where no face was found; "fps" is optional)
//   text   one line per frame: 136 numbers "x0 y0 x1 y1 ... x67 y67", or "-" for a frame without a face; lines
//          starting with '#' are comments.
// Pure tensor code: no OpenCV needed.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace mome::frontend {

constexpr int64_t kLandmarkPoints = 68;

struct LandmarkTrack {
  at::Tensor points;  // [T, 68, 2] float32; rows of NaN for frames without landmarks
  double fps = 0;     // as the file states it; 0 = not stated
};

// Reads either format (JSON when the first non-blank character is '[' or '{'). Throws mome::Error naming the file
// and frame on a malformed file (wrong point count, non-numbers).
LandmarkTrack ReadLandmarks(const std::string& path);

// Per-frame values [T, ...] with NaN in the frames that have none (landmarks, face boxes): those frames get the
// linear interpolation of their nearest valued neighbours (a copy of the nearest at the ends). Throws
// "<source>: <none>" when no frame has a value.
at::Tensor InterpolateMissingFrames(const at::Tensor& rows, const std::string& source, const std::string& none);

// Frames without landmarks get them by linear interpolation between the nearest frames that have them (copied
// from the nearest one at the ends). Throws naming `source` when no frame has landmarks.
at::Tensor InterpolateLandmarks(const at::Tensor& points, const std::string& source);

// auto_avsr's temporal smoothing: frame t gets the mean over frames [t - m, t + m] with
// m = min(margin, t, T - 1 - t), shifted so that its centroid stays the frame's own centroid.
at::Tensor SmoothLandmarks(const at::Tensor& points, int64_t margin);

// Maps a track to `n_frames` output frames at `out_fps`: identity when the counts agree; otherwise landmark frame k
// is taken to start at k / rate (rate = the file's fps, else the video's source rate) and output frame n gets the
// one the media decoder shows in slot n (the last k with k * out_fps / rate < n + 0.5). Throws naming `source` when the
// track is more than 2 frames short of the video.
at::Tensor AlignLandmarks(const LandmarkTrack& track, int64_t n_frames, double out_fps, double source_fps,
                          const std::string& source);

// A reference face for alignment: 68 points in a 256x256 frame, from a landmark file holding one frame.
at::Tensor ReadReferenceFace(const std::string& path);

}  // namespace mome::frontend
