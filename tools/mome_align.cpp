// mome_align: word timestamps of a trained model — choosing its alignment heads, and scoring its timestamps.
//   mome_align --model RUN --prepared VAL_DIR --select-heads [--clips N] [--heads K]
//       chooses the attention heads that time words best on clips with reference word tables and stores them as
//       alignment_heads.json in the checkpoint folder (what mome_decode --timestamps uses)
//   mome_align --model RUN --prepared TEST_DIR [--audio-rate K] [--video-rate K] [--beam-size N]
//       decodes with timestamps and prints one JSON object: start/end errors of the correctly recognised words
//       (mean, median, share within 100 / 200 ms), confidence AUC, WER, at that rate pair.
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "mome/core/progress.h"
#include "mome/decode/transcribe.h"
#include "mome/eval/alignment_heads.h"
#include "mome/eval/timing_score.h"
#include "mome/eval/wer.h"
#include "mome/model/trained_model.h"
#include "tool_main.h"
#include "tool_options.h"

namespace mome {
namespace {

std::vector<data::PreparedClip> ClipsWithWords(const data::ClipSet& set, const data::ClipSourceOptions& source,
                                               int64_t limit) {
  std::vector<data::PreparedClip> clips;
  for (size_t i = 0; i < set.size() && static_cast<int64_t>(clips.size()) < limit; ++i) {
    data::PreparedClip clip = set.Load(i, source);
    if (!clip.words.empty()) clips.push_back(std::move(clip));
  }
  MOME_CHECK(!clips.empty(), ErrorCode::kInvalidArgument,
             "none of the clips has a reference word table (WORD START END rows in its .txt, kept by mome_prepare)");
  return clips;
}

int SelectHeads(const CliParser& cli, model::TrainedModel& m, const std::vector<data::PreparedClip>& clips) {
  eval::HeadSelectionOptions o;
  o.heads = cli.GetInt("--heads");
  ProgressBar bar("heads", static_cast<int64_t>(clips.size()), "clips");
  const decode::AlignmentConfig config =
      eval::SelectAlignmentHeads(*m.pipeline, clips, o, [&](size_t done) { bar.Update(static_cast<int64_t>(done)); });
  decode::SaveAlignmentConfig(m.dir, config);
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& h : config.heads) heads.push_back({h.layer, h.head});
  std::cout << nlohmann::json{{"model", m.dir},
                              {"heads", heads},
                              {"clips", config.selection_clips},
                              {"best_head_median_start_error_ms", 1000 * config.selection_median_error}}
                   .dump()
            << std::endl;
  return 0;
}

int Score(const CliParser& cli, model::TrainedModel& m, const std::vector<data::PreparedClip>& clips) {
  const auto& pipeline = *m.pipeline;
  MOME_CHECK(decode::HasAlignmentConfig(m.dir), ErrorCode::kNotFound, m.dir,
             " has no alignment heads: run mome_align --select-heads first");
  const decode::AlignmentConfig alignment = decode::LoadAlignmentConfig(m.dir);
  const model::RatePair pair = tools::RatePairFrom(cli, *pipeline.model());
  decode::Transcriber transcriber(
      pipeline, pair,
      decode::PipelineGenerateOptions(pipeline, cli.GetInt("--beam-size"), cli.GetInt("--max-new-tokens")), &alignment);
  eval::TimingScore score;
  std::map<std::string, std::string> refs, hyps;
  ProgressBar bar("align", static_cast<int64_t>(clips.size()), "clips");
  for (size_t i = 0; i < clips.size(); ++i) {
    const auto r = transcriber.Run({clips[i]})[0];
    score.Add(clips[i].words, r.words);
    refs[r.key] = r.ref;
    hyps[r.key] = r.text;
    bar.Update(static_cast<int64_t>(i + 1));
  }
  nlohmann::json out = nlohmann::json::parse(score.ToJson());
  out["modality"] = pipeline.config().model.modality;
  out["audio_rate"] = pair.audio;
  out["video_rate"] = pair.video;
  out["clips"] = clips.size();
  out["wer"] = eval::ScoreCorpus(refs, hyps).total.wer_percent();
  std::cout << out.dump() << std::endl;
  return 0;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_align", "Chooses a model's alignment heads, or scores its word timestamps.");
  cli.AddRequired("--model", "DIR", "checkpoint folder or run folder (mome_train --out)")
      .AddFlag("--select-heads", "choose the alignment heads on these clips and store them with the checkpoint")
      .AddOption("--heads", "K", "--select-heads: heads to keep", "4")
      .AddOption("--clips", "N", "use at most N clips with word tables", "200")
      .AddOption("--beam-size", "N", "beam width for scoring", "4")
      .AddOption("--max-new-tokens", "N", "generated tokens per clip at most", "32");
  tools::AddClipSourceOptions(cli);
  tools::AddModalityOption(cli);
  tools::AddRatePairOptions(cli);
  tools::AddDeviceOption(cli);
  if (!cli.Parse(argc, argv)) return 0;
  const data::ClipSet set = tools::OpenClipSet(cli);
  model::TrainedModel m = model::LoadTrainedModel(cli.GetString("--model"), tools::DeviceFrom(cli), at::kFloat);
  tools::ModalityFrom(cli, *m.pipeline, m.dir);
  data::ClipSourceOptions source;
  source.audio = m.pipeline->uses_audio();
  source.video = m.pipeline->uses_video();
  const auto clips = ClipsWithWords(set, source, cli.GetInt("--clips"));
  return cli.GetFlag("--select-heads") ? SelectHeads(cli, m, clips) : Score(cli, m, clips);
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_align", [&] { return mome::Main(argc, argv); });
}
