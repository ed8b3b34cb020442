// From a media file (or a corpus item) to a PreparedClip: FFmpeg decoding (io/media.h), 16 kHz mono audio and
// 25 fps 96x96 gray mouth crops. Used by mome_prepare and by mome_decode on raw clips.
#pragma once

#include <string>

#include "mome/data/corpus.h"
#include "mome/data/prepared.h"

namespace mome::data {

struct ClipSourceOptions {
  bool audio = true;
  bool video = true;
  std::string roi = "precropped";  // precropped | detect | landmarks
};

// Throws mome::Error naming the file when it cannot be decoded or lacks a needed stream.
PreparedClip LoadClip(const CorpusItem& item, const ClipSourceOptions& options);

// A clip given on the command line: key = file name without extension, no reference text.
CorpusItem ItemForFile(const std::string& path);

}  // namespace mome::data
