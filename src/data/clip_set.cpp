#include "mome/data/clip_set.h"

#include <filesystem>

#include "mome/core/error.h"

namespace mome::data {
namespace fs = std::filesystem;
namespace {

bool HoldsFolders(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory()) return true;
  return false;
}

// DIR/SPEAKER/CLIP.*: DIR is a split. DIR/SPLIT/SPEAKER/CLIP.*: DIR is a root, the split named or "test".
CorpusListing ListLrs3Folder(const std::string& data, const std::string& split) {
  const fs::path dir = fs::path(data).lexically_normal();
  const fs::path clean = dir.filename().empty() ? dir.parent_path() : dir;
  MOME_CHECK(fs::is_directory(clean), ErrorCode::kNotFound, clean.string(), ": no such folder");
  const std::string chosen = split.empty() && fs::is_directory(clean / "test") ? "test" : split;
  if (!chosen.empty()) {
    MOME_CHECK(fs::is_directory(clean / chosen), ErrorCode::kNotFound, (clean / chosen).string(),
               ": no such split folder (--split names a folder of ", clean.string(), ")");
    return ListLrs3(clean.string(), chosen);
  }
  CorpusListing listing = ListLrs3(clean.parent_path().string(), clean.filename().string());
  MOME_CHECK(!listing.items.empty() || !HoldsFolders(clean) || !listing.problems.empty(), ErrorCode::kNotFound,
             clean.string(),
             ": no clips found; expected DIR/SPEAKER/CLIP.mp4 (with CLIP.txt), or a corpus root "
             "DIR/SPLIT/SPEAKER/CLIP.mp4 with --split SPLIT");
  return listing;
}

}  // namespace

ClipSet ClipSet::Open(const ClipSetRequest& r) {
  const int sources = !r.prepared.empty() + !r.data.empty() + !r.manifest.empty() + !r.files.empty();
  MOME_CHECK(sources == 1, ErrorCode::kInvalidArgument,
             "give exactly one of --data DIR, --manifest FILE, --prepared DIR or clip files");
  MOME_CHECK(r.split.empty() || !r.data.empty(), ErrorCode::kInvalidArgument, "--split goes with --data DIR");
  ClipSet set;
  if (!r.prepared.empty()) {
    set.prepared_ = std::make_shared<PreparedCorpus>(PreparedCorpus::Open(r.prepared));
    return set;
  }
  CorpusListing listing;
  if (!r.data.empty()) {
    listing = ListLrs3Folder(r.data, r.split);
  } else if (!r.manifest.empty()) {
    listing = ListManifest(r.manifest, r.allow_outside_root);
  } else {
    for (const auto& path : r.files) listing.items.push_back(ItemForFile(path));
  }
  set.items_ = std::move(listing.items);
  set.problems_ = std::move(listing.problems);
  return set;
}

PreparedClip ClipSet::Load(size_t i, const ClipSourceOptions& options) const {
  return prepared_ ? prepared_->Load(i) : LoadClip(items_[i], options);
}

}  // namespace mome::data
