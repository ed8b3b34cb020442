// Audio and video decoding through FFmpeg: any container and codec FFmpeg reads (mp4/h264/aac as in LRS2/LRS3,
// mkv, webm, avi, mov; wav, flac, mp3).
//   audio -> mono float at `sample_rate` (libswresample: proper resampling, channels mixed down)
//   video -> uint8 frames at exactly `fps`, resampled by timestamp (30, 29.97 fps and variable frame rate sources:
//            output frame n shows the source frame on screen at time n / fps), gray or RGB, with timestamps.
// Both streams are aligned to the container's start time, so at 16 kHz and 25 fps video frame n covers audio
// samples [640 n, 640 (n + 1)). Packets are decoded one at a time; DecodeMedia holds the decoded output, MediaReader
// only the current chunk.
// Without FFmpeg (MOME_WITH_MEDIA=OFF, as on the GPU machine) WAV audio still decodes (io/wav.h, no resampling);
// anything else is one clear error.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace mome::io {

struct MediaDecodeOptions {
  bool audio = true;            // decode the audio stream
  bool video = true;            // decode the video stream
  bool require_audio = false;   // a missing audio stream is an error (else `audio` stays undefined)
  bool require_video = false;   // a missing video stream is an error
  int64_t sample_rate = 16000;  // output audio rate
  double fps = 25.0;            // output video rate
  bool rgb = false;             // RGB24 frames [T, H, W, 3] instead of gray [T, H, W]
  // Limits on untrusted files, checked while decoding (a few kB can claim hours or huge frames): exceeding one is a
  // mome::Error naming the file and the limit, before the memory is spent.
  double max_seconds = 24 * 3600;          // decoded audio or video beyond this (also a timestamp this far in)
  int64_t max_frame_pixels = 7680 * 4320;  // width x height of a video frame (8K)
  int64_t max_streams = 64;                // streams in the container
};

struct DecodedMedia {
  at::Tensor audio;                 // [N] float32 in [-1, 1], CPU; undefined when not decoded or absent
  at::Tensor video;                 // [T, H, W] (or [T, H, W, 3]) uint8, CPU; undefined when not decoded or absent
  std::vector<double> frame_times;  // seconds of each output frame (n / fps)
  double duration_seconds = 0;      // container duration (or the longest decoded stream)
  double source_fps = 0;            // the video stream's average frame rate, as the container states it
};

// Throws mome::Error with one line naming the file: missing, unreadable, corrupt, or lacking a required stream.
DecodedMedia DecodeMedia(const std::string& path, const MediaDecodeOptions& options = {});
// The same from bytes in memory (an upload; any container FFmpeg reads); `name` names it in errors. Without FFmpeg,
// WAV bytes only.
DecodedMedia DecodeMediaFromMemory(std::shared_ptr<const std::string> bytes, const std::string& name,
                                   const MediaDecodeOptions& options = {});

// A long file decoded in a stream: each Read returns the next `seconds` of output, audio and video of the same span
// (at 16 kHz / 25 fps: 640 samples per frame; chunk ends accumulate, so nothing drifts), and decodes only as far as
// that needs — memory holds about one chunk. Concatenating the chunks gives exactly what DecodeMedia returns.
// frame_times are seconds since the start of the file. After the end, Read returns empty tensors and done() is true.
class MediaReader {
 public:
  static std::unique_ptr<MediaReader> Open(const std::string& path, const MediaDecodeOptions& options = {});
  virtual ~MediaReader() = default;
  virtual DecodedMedia Read(double seconds) = 0;
  virtual bool done() const = 0;
};

// True when libmome was built with FFmpeg (MOME_WITH_MEDIA).
bool MediaDecodingAvailable();

}  // namespace mome::io
