// mome_analyze: attention sinks and massive activations of one input (SPEC.md §7), as JSON and figures.
//   mome_analyze --model HF_LLAMA_DIR (--ids 1,2,3 | --text STR) --out DIR
//   mome_analyze --model RUN_OR_CHECKPOINT (--prepared DIR | --data DIR | CLIP) [--index N] [--modality M]
//                [--audio-rate K] [--video-rate K] --out DIR
// With a trained libmome checkpoint the real multimodal prompt is built from the clip (BOS, <audio> tokens,
// </audio>, <video> ... </video>, instruction, and the reference transcript + EOS when it is known), adapters at
// the chosen rate pair. Writes DIR/report.json (see mome/analysis/sink_analysis.h) and PNG figures.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "mome/analysis/sink_analysis.h"
#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/data/clip_source.h"
#include "mome/data/corpus.h"
#include "mome/data/prepared.h"
#include "mome/llm/llama_loader.h"
#include "mome/text/tokenizer.h"
#include "mome/train/trained_model.h"
#include "tool_main.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

struct Analysed {
  analysis::ForwardTrace trace;
  analysis::SinkReport report;
};

Analysed AnalyzeIds(const std::string& model_dir, const CliParser& cli, c10::Device device) {
  const auto llm = llm::LoadLlama(model_dir, device, at::kFloat);
  std::vector<int64_t> ids;
  if (cli.Has("--ids")) {
    ids = cli.GetList("--ids");
  } else {
    MOME_CHECK(cli.Has("--text"), ErrorCode::kInvalidArgument, "give --ids 1,2,3 or --text STR for an LLM folder");
    ids = text::LoadTokenizer(model_dir)->Encode(cli.GetString("--text"), /*add_special_tokens=*/true);
  }
  MOME_CHECK(!ids.empty(), ErrorCode::kInvalidArgument, "no tokens to analyse");
  for (int64_t id : ids)
    MOME_CHECK(id >= 0 && id < llm->config().vocab_size, ErrorCode::kInvalidArgument, "--ids: token ", id,
               " outside the vocabulary 0..", llm->config().vocab_size - 1);
  torch::NoGradGuard no_grad;
  const auto t = static_cast<int64_t>(ids.size());
  const at::Tensor embeds = llm->model->Embed(at::tensor(ids, at::kLong).view({1, t}).to(device));
  const at::Tensor positions = at::arange(t, at::TensorOptions().dtype(at::kLong).device(device)).view({1, t});
  Analysed a;
  llm->forward(embeds, positions, {}, nullptr,
               {nullptr, &a.trace.layer_outputs, &a.trace.attention_probs, &a.trace.mlp_outputs});
  a.report = analysis::AnalyzeSinks(a.trace, 0, 0, t);
  a.report.ids = ids;
  return a;
}

Analysed AnalyzeClip(const std::string& model_dir, const CliParser& cli, c10::Device device) {
  auto trained = train::LoadTrainedModel(model_dir, device, at::kFloat);
  auto& pipeline = *trained.pipeline;
  const std::string modality = pipeline.config().model.modality;
  MOME_CHECK(!cli.Has("--modality") || cli.GetString("--modality") == modality, ErrorCode::kInvalidArgument,
             "--modality ", cli.GetString("--modality"), ": the checkpoint was trained for ", modality);
  data::PreparedClip clip;
  const int64_t index = cli.GetInt("--index");
  if (cli.Has("--prepared")) {
    const auto corpus = data::PreparedCorpus::Open(cli.GetString("--prepared"));
    MOME_CHECK(index >= 0 && index < static_cast<int64_t>(corpus.size()), ErrorCode::kInvalidArgument, "--index ",
               index, " outside the corpus of ", corpus.size(), " clips");
    clip = corpus.Load(static_cast<size_t>(index));
  } else {
    data::CorpusItem item;
    if (cli.Has("--data")) {
      const fs::path dir = cli.GetString("--data");
      const fs::path clean = dir.filename().empty() ? dir.parent_path() : dir;  // "split/" names the split too
      const auto listing = data::ListLrs3(clean.parent_path().string(), clean.filename().string());
      MOME_CHECK(index >= 0 && index < static_cast<int64_t>(listing.items.size()), ErrorCode::kInvalidArgument,
                 "--index ", index, " outside the ", listing.items.size(), " clips of ", cli.GetString("--data"));
      item = listing.items[static_cast<size_t>(index)];
    } else {
      MOME_CHECK(cli.Positionals().size() == 1, ErrorCode::kInvalidArgument,
                 "give one of --ids, --text, --prepared DIR, --data DIR or one clip file");
      item = data::ItemForFile(cli.Positionals()[0]);
    }
    data::ClipSourceOptions source;  // mouth crops as prepared (--roi precropped)
    source.audio = modality != "vsr";
    source.video = modality != "asr";
    clip = data::LoadClip(item, source);
  }
  const auto& pairs = pipeline.model()->rate_pairs();
  model::RatePair pair = pairs.front();
  if (cli.Has("--audio-rate")) pair.audio = cli.GetInt("--audio-rate");
  if (cli.Has("--video-rate")) pair.video = cli.GetInt("--video-rate");
  const int64_t scale = pipeline.model()->ScaleOf(pair);  // refuses an untrained pair, listing the trained ones

  torch::NoGradGuard no_grad;
  pipeline.SetTraining(false);
  model::FeaturizeOptions fo;
  fo.with_transcripts = !clip.text.empty();
  const model::ModelInputs inputs = pipeline.Featurize({clip}, fo);
  const model::PromptBatch prompt =
      pipeline.model()->BuildPrompt(inputs, pair, model::PaddingSide::kRight, fo.with_transcripts);
  auto& adapters = pipeline.model()->adapter_set();
  adapters->SetScale(scale);
  Analysed a;
  pipeline.llm()->forward(prompt.embeds, prompt.positions, prompt.valid, nullptr,
                          {adapters.get(), &a.trace.layer_outputs, &a.trace.attention_probs, &a.trace.mlp_outputs});
  const int64_t length = prompt.valid[0].sum().item<int64_t>();
  std::vector<std::string> roles;
  for (int64_t t = 0; t < length; ++t)
    roles.push_back(model::TokenRoleName(static_cast<model::TokenRole>(prompt.roles[0][t].item<int8_t>())));
  a.report = analysis::AnalyzeSinks(a.trace, 0, 0, length, roles);
  std::cerr << "mome_analyze: clip " << clip.key << " at rates (" << pair.audio << ", " << pair.video << "), " << length
            << " tokens" << std::endl;
  return a;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_analyze", "Attention sinks and massive activations of one input: report.json + figures.");
  cli.AddRequired("--model", "DIR", "an HF Llama folder, or a trained libmome run/checkpoint")
      .AddOption("--ids", "1,2,3", "token ids (LLM folder)")
      .AddOption("--text", "STR", "text, tokenised with BOS (LLM folder)")
      .AddOption("--prepared", "DIR", "prepared corpus (trained checkpoint)")
      .AddOption("--data", "DIR", "LRS3-layout split folder (trained checkpoint)")
      .AddOption("--index", "N", "which clip of --prepared / --data", "0")
      .AddOption("--modality", "M", "asr | vsr | avsr (must be the checkpoint's)")
      .AddOption("--audio-rate", "K", "audio rate (default: the checkpoint's first pair)")
      .AddOption("--video-rate", "K", "video rate (default: the checkpoint's first pair)")
      .AddOption("--heatmap-layers", "LIST", "layers (1-based) whose attention maps are drawn; default first, last")
      .AddOption("--device", "D", "cpu | cuda", "cpu")
      .AddRequired("--out", "DIR", "output folder: report.json and PNG figures")
      .AllowPositionals("CLIP", "a media file (trained checkpoint)");
  if (!cli.Parse(argc, argv)) return 0;
  const std::string model_dir = cli.GetString("--model"), out = cli.GetString("--out");
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  MOME_CHECK(fs::exists(model_dir), ErrorCode::kNotFound, model_dir, ": no such model folder");
  const bool llm_folder = fs::exists(fs::path(model_dir) / "config.json");
  Analysed a = llm_folder ? AnalyzeIds(model_dir, cli, device) : AnalyzeClip(model_dir, cli, device);
  std::error_code ec;
  fs::create_directories(out, ec);
  MOME_CHECK(!ec, ErrorCode::kIo, out, ": cannot create (", ec.message(), ")");
  WriteFileAtomic(out + "/report.json", a.report.ToJson() + "\n");
  const auto layers = static_cast<int64_t>(a.report.layers.size());
  std::vector<int64_t> heat =
      cli.Has("--heatmap-layers") ? cli.GetList("--heatmap-layers") : std::vector<int64_t>{1, layers};
  if (heat.size() == 2 && heat[0] == heat[1]) heat.pop_back();
  analysis::PlotSinkReport(a.report, a.trace, 0, 0, heat, out);
  // A one-line summary per layer on stdout.
  for (const auto& s : a.report.layers) {
    double bos = 0;
    for (double v : s.bos_sink_score) bos = std::max(bos, v);
    std::printf(
        "{\"layer\": %lld, \"hidden_max_abs\": %.4g, \"hidden_median_abs\": %.4g, \"massive\": %zu, "
        "\"max_bos_sink_score\": %.4f, \"sinks\": %zu}\n",
        static_cast<long long>(s.layer), s.hidden_max_abs, s.hidden_median_abs, s.massive.size(), bos, s.sinks.size());
  }
  std::cerr << "mome_analyze: wrote " << out << "/report.json and figures" << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_analyze", [&] { return mome::Main(argc, argv); });
}
