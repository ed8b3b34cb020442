// Writing audio-visual clips: gray video frames and mono 16-bit audio encoded in-process (libx264 + FFmpeg's AAC)
// into an mp4, as LRS3 distributes them. mome_synth writes its corpus through it: one encoder per clip in this
// process instead of an ffmpeg program per clip (whose start-up alone took half of the corpus's CPU time).
// The file appears complete or not at all (temp file, fsync, rename). Without FFmpeg (MOME_WITH_MEDIA=OFF) Create
// throws one clear error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mome::io {

struct Mp4Spec {
  int width = 96, height = 96;  // even (4:2:0 chroma)
  double fps = 25.0;
  int sample_rate = 16000;  // of the mono audio; 0: no audio stream
  int crf = 18;             // x264 quality (lower is better; 18 is visually lossless)
  std::string preset = "veryfast";
  int64_t audio_bit_rate = 96000;
};

class Mp4Writer {
 public:
  // Throws mome::Error naming `path` (folder missing, encoder missing, bad spec).
  static std::unique_ptr<Mp4Writer> Create(const std::string& path, const Mp4Spec& spec);
  virtual ~Mp4Writer() = default;                    // without Finish the temp file is removed and `path` is untouched
  virtual void WriteFrame(const uint8_t* gray) = 0;  // width x height bytes, row after row
  virtual void WriteAudio(const int16_t* samples, int64_t count) = 0;  // appended to the audio stream
  virtual void Finish() = 0;  // drains the encoders, writes the index, then moves the file into place
};

}  // namespace mome::io
