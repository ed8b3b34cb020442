// mome_prepare: decodes a corpus once into prepared shards that training and decoding read without FFmpeg.
//   mome_prepare --corpus lrs3|lrs2|autoavsr|manifest --root DIR [--split NAME] [--roi precropped|detect|landmarks]
//                [--roi-reference FACE.json] --out DIR [--threads N] [--shard-size N]
// --roi detect finds faces in raw face video; --roi landmarks aligns on 68-point landmark files (the manifest's
// "landmarks", or each video's path with ".landmarks.json" / ".landmarks.txt"): frontend/mouth_roi.h.
// Clips are sorted by key and cut into shards of --shard-size; each shard is written whole (temp + rename) with a
// small done-file, so a killed run resumes at the first unfinished shard and never leaves a corrupt one. Bad clips
// are logged with the reason and listed in OUT/problems.jsonl; they never stop the run.
#include <iostream>
#include <memory>
#include <mutex>

#include "mome/core/cli.h"
#include "mome/core/progress.h"
#include "mome/data/prepare.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("mome_prepare", "Decodes a corpus into prepared shards (uint8 96x96 mouth crops, 16 kHz audio).");
  cli.AddRequired("--corpus", "KIND", "lrs3 | lrs2 | autoavsr | manifest")
      .AddRequired("--root", "DIR", "corpus root (manifest: the .jsonl file)")
      .AddOption("--split", "NAME", "lrs3/lrs2: split folder or list (default test); autoavsr: the label CSV")
      .AddOption("--roi", "MODE", "mouth crops: precropped | detect | landmarks", "precropped")
      .AddOption("--roi-reference", "FILE", "--roi landmarks: a 68-point reference face (default: built in)")
      .AddRequired("--out", "DIR", "output folder (manifest.jsonl, shards/, problems.jsonl)")
      .AddOption("--threads", "N", "clips decoded in parallel", "2")
      .AddOption("--shard-size", "N", "clips per shard", "256")
      .AddFlag("--allow-outside-root", "manifest/label paths may lead outside --root (.., absolute paths)");
  if (!cli.Parse(argc, argv)) return 0;
  data::PrepareOptions o;
  o.corpus = cli.GetString("--corpus");
  o.root = cli.GetString("--root");
  o.split = cli.Has("--split") ? cli.GetString("--split") : "";
  o.source.roi.mode = cli.GetString("--roi");
  if (cli.Has("--roi-reference")) o.source.roi.reference_path = cli.GetString("--roi-reference");
  frontend::ValidateMouthRoi(o.source.roi);
  o.threads = cli.GetInt("--threads");
  o.shard_size = cli.GetInt("--shard-size");
  o.allow_outside_root = cli.GetFlag("--allow-outside-root");
  const std::string out = cli.GetString("--out");
  std::unique_ptr<ProgressBar> bar;
  const data::PrepareResult r = data::PrepareCorpus(o, out, [&](int64_t done, int64_t total) {
    static std::mutex mutex;  // workers report concurrently
    std::lock_guard<std::mutex> lock(mutex);
    if (!bar) bar = std::make_unique<ProgressBar>("prepare", total, "clips");
    bar->Update(done);
  });
  bar.reset();
  std::cerr << "mome_prepare: " << r.clips << " clips in " << r.shards << " shards (" << r.resumed
            << " from an earlier run), " << r.skipped << " skipped (see " << out << "/problems.jsonl)" << std::endl;
  // Policy: a corpus of which nothing could be prepared fails, so that a script can tell.
  MOME_CHECK(r.clips > 0 || r.skipped == 0, ErrorCode::kInvalidArgument, "no clip could be prepared (all ", r.skipped,
             " skipped; see ", out, "/problems.jsonl)");
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_prepare", [&] { return mome::Main(argc, argv); });
}
