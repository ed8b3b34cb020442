// DecodeMedia without FFmpeg: WAV audio only (the GPU machine builds with MOME_WITH_MEDIA=OFF).
#include <filesystem>

#include "mome/core/error.h"
#include "mome/io/media.h"
#include "mome/io/wav.h"

namespace mome::io {

bool MediaDecodingAvailable() { return false; }

DecodedMedia DecodeMedia(const std::string& path, const MediaDecodeOptions& options) {
  const std::string ext = std::filesystem::path(path).extension().string();
  MOME_CHECK(ext == ".wav" || ext == ".WAV", ErrorCode::kUnsupported, path,
             ": this libmome was built without FFmpeg (MOME_WITH_MEDIA=OFF) and reads only WAV files; "
             "prepare clips with mome_prepare on a machine with FFmpeg");
  MOME_CHECK(!options.require_video, ErrorCode::kUnsupported, path, ": a WAV file has no video stream");
  DecodedMedia media;
  if (options.audio) {
    media.audio = ReadWavMono(path, options.sample_rate);
    media.duration_seconds = static_cast<double>(media.audio.numel()) / static_cast<double>(options.sample_rate);
  }
  return media;
}

}  // namespace mome::io
