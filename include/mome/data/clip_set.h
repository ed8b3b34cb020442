// The clips a tool was asked for, from one of four sources: a prepared corpus (already decoded), an LRS3-layout
// folder (SPEAKER/CLIP.mp4 + CLIP.txt), a JSONL manifest, or media files named one by one. Shared by mome_decode,
// mome_analyze and anything else that takes "the usual clip options".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mome/data/clip_source.h"
#include "mome/data/corpus.h"
#include "mome/data/prepared.h"

namespace mome::data {

struct ClipSetRequest {
  std::string prepared;            // a prepared corpus folder
  std::string data;                // an LRS3-layout folder: a split (DIR/SPEAKER/CLIP.mp4) or a root of splits
  std::string split;               // with `data` a root: which split folder (default: "test" when it exists)
  std::string manifest;            // a JSONL manifest
  std::vector<std::string> files;  // media files
  bool allow_outside_root = false;  // manifest paths may leave the manifest's folder (data/corpus.h)
};

class ClipSet {
 public:
  // Exactly one source must be given; a folder that holds no clip is an error naming the layout expected.
  static ClipSet Open(const ClipSetRequest& request);

  size_t size() const { return prepared_ ? prepared_->size() : items_.size(); }
  bool prepared() const { return prepared_ != nullptr; }  // a prepared corpus (else media files)
  std::string key(size_t i) const { return prepared_ ? prepared_->entry(i).key : items_[i].key; }
  // A prepared clip as stored; a media file decoded as `options` says (throws naming the file).
  PreparedClip Load(size_t i, const ClipSourceOptions& options) const;
  // Entries skipped while listing (no transcript, unreadable manifest line, ...).
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::shared_ptr<PreparedCorpus> prepared_;
  std::vector<CorpusItem> items_;
  std::vector<Problem> problems_;
};

}  // namespace mome::data
