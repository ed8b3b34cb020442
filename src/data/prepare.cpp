#include "mome/data/prepare.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/core/utf8.h"
#include "mome/data/prepared.h"
#include "mome/io/json.h"

namespace mome::data {
namespace fs = std::filesystem;
namespace {

std::string ShardName(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shards/%06zu", i);
  return buf;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string FirstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

nlohmann::json ProblemLine(const std::string& key, const std::string& reason) {
  // Keys come from file names: bytes that are not UTF-8 would make the line unwritable.
  return {{"key", IsValidUtf8(key) ? key : "(key not UTF-8)"}, {"reason", reason}};
}

// OUT/prepare.json: the settings of this folder; a re-run with other settings would mix two corpora.
void CheckSettings(const PrepareOptions& o, size_t clips, const std::string& out) {
  nlohmann::json settings = {{"corpus", o.corpus},         {"root", fs::absolute(o.root).string()},
                             {"split", o.split},           {"roi", o.source.roi.mode},
                             {"shard_size", o.shard_size}, {"clips", clips}};
  if (!o.source.roi.reference_path.empty())  // only when set, so folders prepared before the flag existed resume
    settings["roi_reference"] = fs::absolute(o.source.roi.reference_path).string();
  const std::string path = out + "/prepare.json";
  if (!fs::exists(path)) return WriteFileAtomic(path, settings.dump(2) + "\n");
  nlohmann::json old;
  try {
    old = io::ParseJson(ReadFile(path), path);
  } catch (const Error&) {  // unreadable: treated as different settings
  }
  MOME_CHECK(old == settings, ErrorCode::kInvalidArgument, out,
             ": was prepared with other settings or another corpus listing (", path,
             "); use a new --out folder or remove it");
}

// One clip, or the reason it cannot be used.
PreparedClip LoadChecked(const CorpusItem& item, const ClipSourceOptions& source) {
  MOME_CHECK(IsValidUtf8(item.text), ErrorCode::kCorruptFile, "transcript is not valid UTF-8");
  MOME_CHECK(IsValidUtf8(item.key), ErrorCode::kCorruptFile, "the clip's name is not valid UTF-8");
  for (const auto& w : item.words)
    MOME_CHECK(IsValidUtf8(w.word), ErrorCode::kCorruptFile, "a word of the transcript's table is not valid UTF-8");
  return LoadClip(item, source);
}

// Decodes clips [begin, end) on `threads` threads; errors[i] is empty for a good clip.
void DecodeRange(const CorpusListing& listing, size_t begin, size_t end, const PrepareOptions& o,
                 std::vector<PreparedClip>* clips, std::vector<std::string>* errors,
                 const std::function<void()>& one_done) {
  clips->assign(end - begin, PreparedClip());
  errors->assign(end - begin, std::string());
  std::atomic<size_t> next{begin};
  std::vector<std::thread> workers;
  for (int64_t t = 0; t < o.threads; ++t)
    workers.emplace_back([&] {
      for (size_t i = next++; i < end; i = next++) {
        try {
          (*clips)[i - begin] = LoadChecked(listing.items[i], o.source);
        } catch (const std::exception& e) {
          (*errors)[i - begin] = FirstLine(e.what());
        }
        one_done();
      }
    });
  for (auto& w : workers) w.join();
}

// Shard s: its good clips in SHARD.safetensors, its entries in SHARD.jsonl (written last: the done mark) and its
// bad clips in SHARD.problems.
void PrepareShard(const CorpusListing& listing, size_t s, const PrepareOptions& o, const std::string& out,
                  const std::function<void()>& one_done) {
  const size_t begin = s * o.shard_size, end = std::min(listing.items.size(), begin + o.shard_size);
  std::vector<PreparedClip> clips;
  std::vector<std::string> errors;
  DecodeRange(listing, begin, end, o, &clips, &errors, one_done);
  std::vector<PreparedClip> good;
  std::ostringstream problems;
  for (size_t i = 0; i < clips.size(); ++i) {
    if (errors[i].empty()) {
      good.push_back(std::move(clips[i]));
      continue;
    }
    log::Warn("skipped ", listing.items[begin + i].key, ": ", errors[i]);
    problems << ProblemLine(listing.items[begin + i].key, errors[i]).dump() << '\n';
  }
  std::ostringstream entries;
  for (const auto& e : WritePreparedShard(out, ShardName(s) + ".safetensors", good))
    entries << PreparedEntryToJson(e) << '\n';
  WriteFileAtomic(out + "/" + ShardName(s) + ".problems", problems.str());
  WriteFileAtomic(out + "/" + ShardName(s) + ".jsonl", entries.str());
}

// The manifest and the problem list, assembled from every shard's files.
void AssembleManifest(const CorpusListing& listing, size_t shards, const std::string& out, PrepareResult* r) {
  std::ostringstream manifest, problems;
  for (const auto& p : listing.problems) problems << ProblemLine(p.where, p.reason).dump() << '\n';
  r->skipped = static_cast<int64_t>(listing.problems.size());
  for (size_t s = 0; s < shards; ++s) {
    const std::string e = ReadFile(out + "/" + ShardName(s) + ".jsonl");
    const std::string p = ReadFile(out + "/" + ShardName(s) + ".problems");
    r->clips += std::count(e.begin(), e.end(), '\n');
    r->skipped += std::count(p.begin(), p.end(), '\n');
    manifest << e;
    problems << p;
  }
  WriteFileAtomic(out + "/problems.jsonl", problems.str());
  WriteFileAtomic(out + "/manifest.jsonl", manifest.str());
}

}  // namespace

CorpusListing ListCorpus(const std::string& corpus, const std::string& root, const std::string& split,
                         bool allow_outside_root) {
  MOME_CHECK(fs::exists(root), ErrorCode::kNotFound, root, ": no such corpus root");
  CorpusListing listing;
  if (corpus == "lrs3")
    listing = ListLrs3(root, split.empty() ? "test" : split);
  else if (corpus == "lrs2")
    listing = ListLrs2(root, split.empty() ? "test" : split);
  else if (corpus == "manifest")
    listing = ListManifest(root, allow_outside_root);
  else if (corpus == "autoavsr") {
    MOME_CHECK(!split.empty(), ErrorCode::kInvalidArgument, "--corpus autoavsr needs --split LABELS.csv");
    listing = ListAutoAvsr(root, split, allow_outside_root);
  } else {
    MOME_FAIL(ErrorCode::kInvalidArgument, "--corpus '", corpus, "' is not one of lrs3, lrs2, autoavsr, manifest");
  }
  std::sort(listing.items.begin(), listing.items.end(),
            [](const CorpusItem& a, const CorpusItem& b) { return a.key < b.key; });
  return listing;
}

PrepareResult PrepareCorpus(const PrepareOptions& o, const std::string& out,
                            const std::function<void(int64_t, int64_t)>& progress) {
  MOME_CHECK(o.threads >= 1 && o.threads <= 256, ErrorCode::kInvalidArgument, "--threads must be in [1, 256], got ",
             o.threads);
  MOME_CHECK(o.shard_size > 0, ErrorCode::kInvalidArgument, "--shard-size must be positive, got ", o.shard_size);
  const CorpusListing listing = ListCorpus(o.corpus, o.root, o.split, o.allow_outside_root);
  for (const auto& p : listing.problems) log::Warn("skipped ", p.where, ": ", p.reason);
  std::error_code ec;
  fs::create_directories(out + "/shards", ec);
  MOME_CHECK(!ec, ErrorCode::kIo, out, ": cannot create the output folder (", ec.message(), ")");
  RemoveDeadTempFiles(out);  // what a killed run was writing; its finished shards are kept and reused
  RemoveDeadTempFiles(out + "/shards");
  CheckSettings(o, listing.items.size(), out);
  PrepareResult r;
  r.shards = (listing.items.size() + o.shard_size - 1) / o.shard_size;
  const auto total = static_cast<int64_t>(listing.items.size());
  std::atomic<int64_t> done{0};
  auto one_done = [&] {
    const int64_t d = ++done;
    if (progress) progress(d, total);
  };
  for (size_t s = 0; s < r.shards; ++s) {
    if (fs::exists(out + "/" + ShardName(s) + ".jsonl")) {  // finished by an earlier run
      done += static_cast<int64_t>(std::min<size_t>(o.shard_size, listing.items.size() - s * o.shard_size));
      ++r.resumed;
      continue;
    }
    PrepareShard(listing, s, o, out, one_done);
  }
  AssembleManifest(listing, r.shards, out, &r);
  return r;
}

}  // namespace mome::data
