// Command-line pieces several tools share, declared once so that a flag has one name, one help text and one
// meaning everywhere: the device, where clips come from, the rate pair and the modality of a trained model.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/data/clip_set.h"
#include "mome/model/avsr_pipeline.h"

namespace mome::tools {

inline void AddDeviceOption(CliParser& cli) {
  cli.AddDeviceOption();
}
inline c10::Device DeviceFrom(const CliParser& cli) {
  return ParseDevice(cli.GetString("--device"));
}

// --prepared DIR | --data DIR [--split S] | --manifest FILE | CLIP files.
inline void AddClipSourceOptions(CliParser& cli) {
  cli.AddOption("--data", "DIR", "LRS3-layout folder: SPEAKER/CLIP.mp4 with CLIP.txt, or a corpus root of splits")
      .AddOption("--split", "NAME", "with --data a corpus root: the split folder (default test)")
      .AddOption("--manifest", "FILE", "JSONL manifest: key, video and/or audio, text")
      .AddOption("--prepared", "DIR", "prepared corpus (mome_prepare --out)")
      .AddFlag("--allow-outside-root", "manifest paths may lead outside the manifest's folder (.., absolute)")
      .AllowPositionals("CLIP", "media files");
}
inline data::ClipSet OpenClipSet(const CliParser& cli) {
  data::ClipSetRequest r;
  auto value = [&](const char* name) { return cli.Has(name) ? cli.GetString(name) : std::string(); };
  r.prepared = value("--prepared");
  r.data = value("--data");
  r.split = value("--split");
  r.manifest = value("--manifest");
  r.files = cli.Positionals();
  r.allow_outside_root = cli.GetFlag("--allow-outside-root");
  return data::ClipSet::Open(r);
}

// An output file that is one of the inputs (a manifest, a prepared corpus's manifest, a media file) would be
// overwritten while, or before, it is read: refused.
inline void RefuseOverwritingInputs(const std::string& output, const CliParser& cli) {
  namespace fs = std::filesystem;
  std::vector<std::string> inputs = cli.Positionals();
  if (cli.Has("--manifest")) inputs.push_back(cli.GetString("--manifest"));
  if (cli.Has("--prepared")) inputs.push_back(cli.GetString("--prepared") + "/manifest.jsonl");
  std::error_code ec;
  if (output.empty() || !fs::exists(output, ec)) return;
  for (const auto& input : inputs)
    MOME_CHECK(!fs::equivalent(output, input, ec), ErrorCode::kInvalidArgument, "--output ", output,
               " is one of the inputs; choose another file");
}

// --audio-rate K / --video-rate K: default the checkpoint's first (finest) trained pair.
inline void AddRatePairOptions(CliParser& cli) {
  cli.AddOption("--audio-rate", "K", "audio compression rate (default: the checkpoint's first)")
      .AddOption("--video-rate", "K", "video compression rate (default: the checkpoint's first)");
}
inline model::RatePair RatePairFrom(const CliParser& cli, const model::AVSRModelImpl& model) {
  model::RatePair pair = model.rate_pairs().front();
  if (cli.Has("--audio-rate")) pair.audio = cli.GetInt("--audio-rate");
  if (cli.Has("--video-rate")) pair.video = cli.GetInt("--video-rate");
  model.ScaleOf(pair);  // refuses an untrained pair, listing the trained ones
  return pair;
}

// --modality M: optional; when given it must be the checkpoint's.
inline void AddModalityOption(CliParser& cli) {
  cli.AddOption("--modality", "M", "asr | vsr | avsr (default and only choice: the checkpoint's)");
}
inline std::string ModalityFrom(const CliParser& cli, const model::AVSRPipeline& pipeline, const std::string& dir) {
  const std::string& trained = pipeline.config().model.modality;
  if (!cli.Has("--modality")) return trained;
  const std::string asked = cli.GetString("--modality");
  ParseEnum(model::kModalityNames, asked, "--modality");
  MOME_CHECK(asked == trained, ErrorCode::kInvalidArgument, "--modality ", asked, ": the checkpoint ", dir,
             " was trained for ", trained);
  return trained;
}

}  // namespace mome::tools
