#include "mome/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mome/core/config.h"
#include "mome/core/error.h"
#include "mome/data/lrs_transcript.h"
#include "mome/io/json.h"

namespace mome::data {
namespace fs = std::filesystem;
namespace {

std::vector<fs::path> SortedEntries(const fs::path& dir, bool directories) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (directories ? e.is_directory() : e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Adds the clip at `video` (with its .txt transcript beside it) under `key`, or records why it cannot be used.
void AddLrsClip(const fs::path& video, const std::string& key, CorpusListing* listing) {
  fs::path transcript = video;
  transcript.replace_extension(".txt");
  std::error_code ec;
  if (!fs::exists(video, ec)) {
    listing->problems.push_back({key, "no video file " + video.string()});
    return;
  }
  if (!fs::exists(transcript, ec)) {
    listing->problems.push_back({key, "no transcript " + transcript.string()});
    return;
  }
  try {
    CorpusItem item;
    item.key = key;
    item.video = video.string();
    LrsTranscript parsed = ParseLrsTranscript(transcript.string());
    item.text = std::move(parsed.text);
    item.words = std::move(parsed.words);
    listing->items.push_back(std::move(item));
  } catch (const Error& e) {
    listing->problems.push_back({key, e.what()});
  }
}

// A key names one clip: later items with a key already listed are reported and left out.
void DropDuplicateKeys(CorpusListing* listing) {
  std::set<std::string> seen;
  std::vector<CorpusItem> kept;
  for (auto& item : listing->items) {
    if (seen.insert(item.key).second) {
      kept.push_back(std::move(item));
      continue;
    }
    listing->problems.push_back({item.key, "duplicate key (the first one is kept)"});
  }
  listing->items = std::move(kept);
}

bool ParseTokenIds(const std::string& text, std::vector<int64_t>* ids) {
  std::istringstream in(text);
  for (std::string word; in >> word;) {
    int64_t id = 0;
    if (!ParseInt64(word, &id) || id < 0) return false;
    ids->push_back(id);
  }
  return true;
}

void RequireFolder(const std::string& path, const char* what) {
  std::error_code ec;
  MOME_CHECK(fs::is_directory(path, ec), ErrorCode::kNotFound, path, ": no such ", what, " folder");
}

std::string Resolve(const fs::path& base, const std::string& p) {
  if (p.empty()) return p;
  const fs::path path(p);
  return path.is_absolute() ? p : (base / path).string();
}

// Whether `path` (absolute, or relative to the working folder) lies inside `root`, judged on the normalised text.
bool InsideRoot(const fs::path& root, const std::string& path) {
  if (path.empty()) return true;
  const fs::path r = fs::absolute(root).lexically_normal(), p = fs::absolute(path).lexically_normal();
  const auto rel = p.lexically_relative(r);
  return !rel.empty() && *rel.begin() != "..";
}

// The item's first path outside `root`, or "".
std::string PathOutside(const fs::path& root, const CorpusItem& item) {
  for (const std::string* p : {&item.video, &item.audio, &item.landmarks})
    if (!InsideRoot(root, *p)) return *p;
  return "";
}

std::string OutsideReason(const std::string& path) {
  return "path '" + path + "' leads outside the data root (--allow-outside-root permits it)";
}

}  // namespace

CorpusListing ListLrs3(const std::string& root, const std::string& split) {
  const fs::path dir = fs::path(root) / split;
  RequireFolder(dir.string(), "LRS3 split");
  CorpusListing listing;
  for (const auto& speaker : SortedEntries(dir, true))
    for (const auto& file : SortedEntries(speaker, false))
      if (file.extension() == ".mp4")
        AddLrsClip(file, split + "/" + speaker.filename().string() + "/" + file.stem().string(), &listing);
  return listing;
}

CorpusListing ListLrs2(const std::string& root, const std::string& split) {
  RequireFolder(root, "LRS2 root");
  const fs::path list = fs::path(root) / (split + ".txt");
  std::ifstream in(list);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, list.string(), ": no LRS2 list for split '", split, "'");
  const fs::path media = fs::path(root) / (split == "pretrain" ? "pretrain" : "main");
  CorpusListing listing;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id;
    if (!(fields >> id)) continue;  // blank line; a flag such as NF/MV may follow the id
    AddLrsClip(media / (id + ".mp4"), split + "/" + id, &listing);
  }
  return listing;
}

CorpusListing ListAutoAvsr(const std::string& root, const std::string& csv_path, bool allow_outside_root) {
  std::ifstream in(csv_path);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, csv_path, ": cannot open label CSV");
  CorpusListing listing;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    // The transcript (5th field) may itself contain commas: split the first four fields only.
    std::vector<std::string> fields;
    size_t start = 0;
    for (int f = 0; f < 4; ++f) {
      const size_t comma = line.find(',', start);
      if (comma == std::string::npos) {
        fields.push_back(line.substr(start));
        start = std::string::npos;
        break;
      }
      fields.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    const std::string where = csv_path + ":" + std::to_string(number);
    if (fields.size() < 4) {
      listing.problems.push_back({where, "expected dataset,rel_path,n_frames,token_ids[,transcript]"});
      continue;
    }
    CorpusItem item;
    fs::path rel(fields[1]);
    item.key = (fs::path(fields[0]) / rel).replace_extension("").string();
    item.video = (fs::path(root) / fields[0] / rel).string();
    item.audio = fs::path(item.video).replace_extension(".wav").string();
    if (!ParseInt64(fields[2], &item.n_frames) || item.n_frames < 0) {
      listing.problems.push_back({where, "n_frames is not a count: '" + fields[2] + "'"});
      continue;
    }
    if (!ParseTokenIds(fields[3], &item.token_ids)) {
      listing.problems.push_back({where, "token_ids must be non-negative integers separated by spaces"});
      continue;
    }
    if (start != std::string::npos) item.text = line.substr(start);
    if (const auto outside = PathOutside(root, item); !allow_outside_root && !outside.empty()) {
      listing.problems.push_back({where, OutsideReason(outside)});
      continue;
    }
    listing.items.push_back(std::move(item));
  }
  DropDuplicateKeys(&listing);
  return listing;
}

CorpusListing ListManifest(const std::string& manifest_path, bool allow_outside_root) {
  std::ifstream in(manifest_path);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, manifest_path, ": cannot open manifest");
  const fs::path base = fs::path(manifest_path).parent_path();
  CorpusListing listing;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = manifest_path + ":" + std::to_string(number);
    nlohmann::json j;
    try {
      j = io::ParseJson(line, where);
    } catch (const Error& e) {
      listing.problems.push_back({where, e.what()});
      continue;
    }
    auto text_of = [&](const char* key) {
      return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
    };
    CorpusItem item;
    item.key = text_of("key");
    item.video = Resolve(base, text_of("video"));
    item.audio = Resolve(base, text_of("audio"));
    item.text = text_of("text");
    item.landmarks = Resolve(base, text_of("landmarks"));
    if (item.key.empty())
      listing.problems.push_back({where, "no \"key\""});
    else if (item.video.empty() && item.audio.empty())
      listing.problems.push_back({item.key, "neither video nor audio"});
    else if (const auto outside = PathOutside(base, item); !allow_outside_root && !outside.empty())
      listing.problems.push_back({item.key, OutsideReason(outside)});
    else
      listing.items.push_back(std::move(item));
  }
  DropDuplicateKeys(&listing);
  return listing;
}

}  // namespace mome::data
