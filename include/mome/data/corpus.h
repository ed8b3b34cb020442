// Listing the clips of a corpus before any media is decoded (SPEC.md §5): LRS3 and LRS2 folder layouts,
// auto_avsr's prepared label CSV, and a JSONL manifest for users' own data. Clips that cannot be used (no
// transcript, an empty one) are reported with the reason, never fatal for the listing.
#pragma once

#include <string>
#include <vector>

#include "mome/data/lrs_transcript.h"

namespace mome::data {

struct CorpusItem {
  std::string key;                 // split/speaker/clip for LRS layouts
  std::string video;               // path or "" (audio-only)
  std::string audio;               // path or "" (take the audio track of `video`)
  std::string text;                // the transcript as written
  int64_t n_frames = -1;           // 25 fps video frames when known (auto_avsr CSV), else -1
  std::vector<int64_t> token_ids;  // auto_avsr CSV's token ids, when given
  std::string landmarks;           // landmark file (manifest), optional
  std::vector<TimedWord> words;    // the LRS word table, when the transcript has one
};

struct Problem {
  std::string where;  // key or path
  std::string reason;
};

struct CorpusListing {
  std::vector<CorpusItem> items;
  std::vector<Problem> problems;
};

// ROOT/SPLIT/SPEAKER/CLIP.mp4 with CLIP.txt beside it (LRS3; the same layout mome_synth writes).
CorpusListing ListLrs3(const std::string& root, const std::string& split);
// ROOT/{main,pretrain}/... named by ROOT/SPLIT.txt (train, val, test, pretrain); list lines may carry flags.
CorpusListing ListLrs2(const std::string& root, const std::string& split);
// auto_avsr label CSV: dataset,rel_path,n_frames,token_ids[,transcript]; media under ROOT/dataset/rel_path,
// audio beside the video as .wav.
// Paths in manifests and label files are untrusted: one that leads outside the data root (the corpus root, or the
// manifest's folder: "..", an absolute path) is listed as a problem, unless `allow_outside_root` (the tools'
// --allow-outside-root). The check is on the path as written (lexical), so symlinks inside the root still work.
CorpusListing ListAutoAvsr(const std::string& root, const std::string& csv_path, bool allow_outside_root = false);
// One JSON object a line: key, video and/or audio, text, optional landmarks; relative paths are relative to the
// manifest's folder.
CorpusListing ListManifest(const std::string& manifest_path, bool allow_outside_root = false);

}  // namespace mome::data
