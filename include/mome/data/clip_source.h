// From a media file (or a corpus item) to a PreparedClip: FFmpeg decoding (io/media.h), 16 kHz mono audio and
// 25 fps 96x96 gray mouth crops (frontend/mouth_roi.h: precropped, detect or landmarks). Used by mome_prepare and by
// mome_decode / mome_encode on raw clips. In landmarks mode the landmark file is the item's `landmarks` (manifest),
// else the video's path with its extension replaced by ".landmarks.json" or ".landmarks.txt".
#pragma once

#include <string>

#include "mome/data/corpus.h"
#include "mome/data/prepared.h"
#include "mome/frontend/mouth_roi.h"

namespace mome::data {

struct ClipSourceOptions {
  bool audio = true;
  bool video = true;
  frontend::MouthRoiOptions roi;  // mode precropped | detect | landmarks, and their settings
};

// Throws mome::Error naming the file when it cannot be decoded or lacks a needed stream.
PreparedClip LoadClip(const CorpusItem& item, const ClipSourceOptions& options);

// The landmark file LoadClip uses for `item` in landmarks mode ("" when none exists).
std::string LandmarkFileFor(const CorpusItem& item);

// A clip given on the command line: key = file name without extension, no reference text.
CorpusItem ItemForFile(const std::string& path);

}  // namespace mome::data
