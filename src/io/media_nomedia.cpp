// DecodeMedia without FFmpeg: WAV audio only (the GPU machine builds with MOME_WITH_MEDIA=OFF).
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>

#include "mome/core/error.h"
#include "mome/io/media.h"
#include "mome/io/media_writer.h"
#include "mome/io/wav.h"

namespace mome::io {

bool MediaDecodingAvailable() {
  return false;
}

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

DecodedMedia DecodeMediaFromMemory(std::shared_ptr<const std::string> bytes, const std::string& name,
                                   const MediaDecodeOptions& options) {
  MOME_FAIL(ErrorCode::kUnsupported, name, ": this libmome was built without FFmpeg (MOME_WITH_MEDIA=OFF) and cannot ",
            "decode media from memory");
}

namespace {

// Without FFmpeg only WAV files open; they are read whole (no video) and handed out in chunks.
class WavReader : public MediaReader {
 public:
  WavReader(const std::string& path, const MediaDecodeOptions& options)
      : media_(DecodeMedia(path, options)), rate_(options.sample_rate) {}
  DecodedMedia Read(double seconds) override {
    DecodedMedia out;
    out.duration_seconds = media_.duration_seconds;
    if (!media_.audio.defined()) return out;
    end_ = std::isinf(seconds) ? seconds : end_ + seconds;
    const int64_t total = media_.audio.numel();
    const int64_t stop =
        std::isinf(end_) ? total : std::min<int64_t>(total, std::llround(end_ * static_cast<double>(rate_)));
    out.audio = media_.audio.slice(0, std::min(taken_, stop), stop).clone();
    taken_ = std::max(taken_, stop);
    return out;
  }
  bool done() const override { return !media_.audio.defined() || taken_ >= media_.audio.numel(); }

 private:
  DecodedMedia media_;
  int64_t rate_;
  double end_ = 0;
  int64_t taken_ = 0;
};

}  // namespace

std::unique_ptr<MediaReader> MediaReader::Open(const std::string& path, const MediaDecodeOptions& options) {
  return std::make_unique<WavReader>(path, options);
}

std::unique_ptr<Mp4Writer> Mp4Writer::Create(const std::string& path, const Mp4Spec&) {
  MOME_FAIL(ErrorCode::kUnsupported, path, ": this libmome was built without FFmpeg (MOME_WITH_MEDIA=OFF) and cannot ",
            "write mp4 files");
}

}  // namespace mome::io
