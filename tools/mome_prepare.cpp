// mome_prepare: decodes a corpus once into prepared shards that training and decoding read without FFmpeg.
//   mome_prepare --corpus lrs3|lrs2|autoavsr|manifest --root DIR [--split NAME] [--roi precropped|detect|landmarks]
//                [--roi-reference FACE.json] --out DIR [--threads N] [--shard-size N]
// --roi detect finds faces in raw face video; --roi landmarks aligns on 68-point landmark files (the manifest's
// "landmarks", or each video's path with ".landmarks.json" / ".landmarks.txt"): frontend/mouth_roi.h.
// Clips are sorted by key and cut into shards of --shard-size; each shard is written whole (temp + rename) with a
// small done-file, so a killed run resumes at the first unfinished shard and never leaves a corrupt one. Bad clips
// are logged with the reason and listed in OUT/problems.jsonl; they never stop the run.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/core/progress.h"
#include "mome/data/clip_source.h"
#include "mome/data/corpus.h"
#include "mome/data/prepared.h"
#include "tool_main.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

data::CorpusListing List(const std::string& corpus, const std::string& root, const std::string& split) {
  MOME_CHECK(fs::exists(root), ErrorCode::kNotFound, root, ": no such corpus root");
  if (corpus == "lrs3") return data::ListLrs3(root, split.empty() ? "test" : split);
  if (corpus == "lrs2") return data::ListLrs2(root, split.empty() ? "test" : split);
  if (corpus == "autoavsr") {
    MOME_CHECK(!split.empty(), ErrorCode::kInvalidArgument, "--corpus autoavsr needs --split LABELS.csv");
    return data::ListAutoAvsr(root, split);
  }
  if (corpus == "manifest") return data::ListManifest(root);
  MOME_FAIL(ErrorCode::kInvalidArgument, "--corpus '", corpus, "' is not one of lrs3, lrs2, autoavsr, manifest");
}

std::string ShardName(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shards/%06zu", i);
  return buf;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int Main(int argc, char** argv) {
  CliParser cli("mome_prepare", "Decodes a corpus into prepared shards (uint8 96x96 mouth crops, 16 kHz audio).");
  cli.AddRequired("--corpus", "KIND", "lrs3 | lrs2 | autoavsr | manifest")
      .AddRequired("--root", "DIR", "corpus root (manifest: the .jsonl file)")
      .AddOption("--split", "NAME", "lrs3/lrs2: split folder or list (default test); autoavsr: the label CSV")
      .AddOption("--roi", "MODE", "mouth crops: precropped | detect | landmarks", "precropped")
      .AddOption("--roi-reference", "FILE", "--roi landmarks: a 68-point reference face (default: built in)")
      .AddRequired("--out", "DIR", "output folder (manifest.jsonl, shards/, problems.jsonl)")
      .AddOption("--threads", "N", "clips decoded in parallel", "2")
      .AddOption("--shard-size", "N", "clips per shard", "256");
  if (!cli.Parse(argc, argv)) return 0;
  const std::string out = cli.GetString("--out");
  const std::string roi = cli.GetString("--roi");
  data::ClipSourceOptions source;
  source.roi.mode = roi;
  if (cli.Has("--roi-reference")) source.roi.reference_path = cli.GetString("--roi-reference");
  frontend::ValidateMouthRoi(source.roi);
  const int64_t threads = std::max<int64_t>(1, cli.GetInt("--threads"));
  const int64_t shard_size = cli.GetInt("--shard-size");
  MOME_CHECK(shard_size > 0, ErrorCode::kInvalidArgument, "--shard-size must be positive");

  const std::string split = cli.Has("--split") ? cli.GetString("--split") : "";
  data::CorpusListing listing = List(cli.GetString("--corpus"), cli.GetString("--root"), split);
  std::sort(listing.items.begin(), listing.items.end(),
            [](const data::CorpusItem& a, const data::CorpusItem& b) { return a.key < b.key; });
  for (const auto& p : listing.problems) log::Warn("skipped ", p.where, ": ", p.reason);

  std::error_code ec;
  fs::create_directories(out + "/shards", ec);
  MOME_CHECK(!ec, ErrorCode::kIo, out, ": cannot create the output folder (", ec.message(), ")");
  // The settings of this folder: a re-run with other settings would mix two corpora.
  nlohmann::json settings = {{"corpus", cli.GetString("--corpus")},
                             {"root", fs::absolute(cli.GetString("--root")).string()},
                             {"split", split},
                             {"roi", roi},
                             {"shard_size", shard_size},
                             {"clips", listing.items.size()}};
  if (!source.roi.reference_path.empty())  // only when set, so folders prepared before the flag existed still resume
    settings["roi_reference"] = fs::absolute(source.roi.reference_path).string();
  const std::string settings_path = out + "/prepare.json";
  if (fs::exists(settings_path)) {
    nlohmann::json old;
    try {
      old = nlohmann::json::parse(ReadFile(settings_path));
    } catch (const std::exception&) {
    }
    MOME_CHECK(old == settings, ErrorCode::kInvalidArgument, out,
               ": was prepared with other settings or another corpus listing (", settings_path,
               "); use a new --out folder or remove it");
  } else {
    WriteFileAtomic(settings_path, settings.dump(2) + "\n");
  }

  const size_t n_shards = (listing.items.size() + shard_size - 1) / shard_size;
  ProgressBar bar("prepare", static_cast<int64_t>(listing.items.size()), "clips");
  std::atomic<int64_t> done{0};
  size_t resumed = 0;
  for (size_t s = 0; s < n_shards; ++s) {
    const size_t begin = s * shard_size, end = std::min(listing.items.size(), begin + shard_size);
    const std::string done_file = out + "/" + ShardName(s) + ".jsonl";
    if (fs::exists(done_file)) {  // finished by an earlier run
      done += static_cast<int64_t>(end - begin);
      ++resumed;
      continue;
    }
    std::vector<data::PreparedClip> clips(end - begin);
    std::vector<std::string> errors(end - begin);
    std::atomic<size_t> next{begin};
    std::vector<std::thread> workers;
    for (int64_t t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        for (size_t i = next++; i < end; i = next++) {
          try {
            clips[i - begin] = data::LoadClip(listing.items[i], source);
          } catch (const std::exception& e) {
            errors[i - begin] = tools::FirstLine(e.what());
          }
          bar.Update(++done);
        }
      });
    for (auto& w : workers) w.join();
    std::vector<data::PreparedClip> good;
    std::ostringstream problems;
    for (size_t i = 0; i < clips.size(); ++i) {
      if (errors[i].empty()) {
        good.push_back(std::move(clips[i]));
      } else {
        log::Warn("skipped ", listing.items[begin + i].key, ": ", errors[i]);
        problems << nlohmann::json{{"key", listing.items[begin + i].key}, {"reason", errors[i]}}.dump() << '\n';
      }
    }
    std::ostringstream entries;
    for (const auto& e : data::WritePreparedShard(out, ShardName(s) + ".safetensors", good))
      entries << data::PreparedEntryToJson(e) << '\n';
    WriteFileAtomic(out + "/" + ShardName(s) + ".problems", problems.str());
    WriteFileAtomic(done_file, entries.str());  // last: marks the shard finished
  }
  // The manifest and the problem list, assembled from every shard's files.
  std::ostringstream manifest, problems;
  for (const auto& p : listing.problems)
    problems << nlohmann::json{{"key", p.where}, {"reason", p.reason}}.dump() << '\n';
  int64_t clips = 0, bad = static_cast<int64_t>(listing.problems.size());
  for (size_t s = 0; s < n_shards; ++s) {
    const std::string e = ReadFile(out + "/" + ShardName(s) + ".jsonl");
    const std::string p = ReadFile(out + "/" + ShardName(s) + ".problems");
    clips += std::count(e.begin(), e.end(), '\n');
    bad += std::count(p.begin(), p.end(), '\n');
    manifest << e;
    problems << p;
  }
  WriteFileAtomic(out + "/problems.jsonl", problems.str());
  WriteFileAtomic(out + "/manifest.jsonl", manifest.str());
  std::cerr << "mome_prepare: " << clips << " clips in " << n_shards << " shards (" << resumed
            << " from an earlier run), " << bad << " skipped (see " << out << "/problems.jsonl)" << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_prepare", [&] { return mome::Main(argc, argv); });
}
