#include "mome/data/clip_source.h"

#include <filesystem>

#include "mome/core/error.h"
#include "mome/frontend/landmarks.h"
#include "mome/io/media.h"

namespace mome::data {

CorpusItem ItemForFile(const std::string& path) {
  CorpusItem item;
  item.key = std::filesystem::path(path).stem().string();
  const std::string ext = std::filesystem::path(path).extension().string();
  const bool audio_only = ext == ".wav" || ext == ".flac" || ext == ".mp3";
  (audio_only ? item.audio : item.video) = path;
  return item;
}

std::string LandmarkFileFor(const CorpusItem& item) {
  if (!item.landmarks.empty()) return item.landmarks;
  if (item.video.empty()) return "";
  for (const char* ext : {".landmarks.json", ".landmarks.txt"}) {
    const std::string path = std::filesystem::path(item.video).replace_extension(ext).string();
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

PreparedClip LoadClip(const CorpusItem& item, const ClipSourceOptions& o) {
  PreparedClip clip;
  clip.key = item.key;
  clip.text = item.text;
  clip.words = item.words;
  const std::string video_path = item.video;
  const std::string audio_path = item.audio.empty() ? item.video : item.audio;
  if (o.video) {
    MOME_CHECK(!video_path.empty(), ErrorCode::kInvalidArgument, "clip '", item.key,
               "' has no video file, which this modality needs");
    io::MediaDecodeOptions mo;
    mo.audio = o.audio && audio_path == video_path;
    mo.require_audio = mo.audio;
    mo.require_video = true;
    io::DecodedMedia media = io::DecodeMedia(video_path, mo);
    MOME_CHECK(media.video.size(0) > 0, ErrorCode::kCorruptFile, video_path, ": no video frames");
    at::Tensor landmarks;
    if (o.roi.mode == "landmarks") {
      const std::string file = LandmarkFileFor(item);
      MOME_CHECK(!file.empty(), ErrorCode::kNotFound, video_path,
                 ": --roi landmarks needs a landmark file (the manifest's \"landmarks\", or ",
                 std::filesystem::path(video_path).replace_extension(".landmarks.json").string(), ")");
      landmarks =
          frontend::AlignLandmarks(frontend::ReadLandmarks(file), media.video.size(0), mo.fps, media.source_fps, file);
    }
    media.video = frontend::CropMouths(media.video, o.roi, video_path, landmarks);
    clip.video = media.video;
    if (mo.audio) clip.audio = media.audio;
  }
  if (o.audio && !clip.audio.defined()) {
    io::MediaDecodeOptions mo;
    mo.video = false;
    mo.require_audio = true;
    clip.audio = io::DecodeMedia(audio_path, mo).audio;
  }
  if (o.audio)
    MOME_CHECK(clip.audio.defined() && clip.audio.numel() > 0, ErrorCode::kCorruptFile, audio_path,
               ": no audio samples");
  return clip;
}

}  // namespace mome::data
