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
#include "mome/data/featurizer.h"
#include "mome/data/prepared.h"
#include "mome/llm/llama_loader.h"
#include "mome/model/trained_model.h"
#include "mome/text/tokenizer.h"
#include "tool_main.h"
#include "tool_options.h"

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
  auto trained = model::LoadTrainedModel(model_dir, device, at::kFloat);
  auto& pipeline = *trained.pipeline;
  tools::ModalityFrom(cli, pipeline, trained.dir);  // a --modality other than the checkpoint's is refused
  const data::ClipSet clips = tools::OpenClipSet(cli);
  const int64_t index = cli.GetInt("--index");
  MOME_CHECK(index >= 0 && index < static_cast<int64_t>(clips.size()), ErrorCode::kInvalidArgument, "--index ", index,
             " outside the ", clips.size(), " clips given");
  data::ClipSourceOptions source;  // mouth crops as prepared (--roi precropped)
  source.audio = pipeline.uses_audio();
  source.video = pipeline.uses_video();
  const data::PreparedClip clip = clips.Load(static_cast<size_t>(index), source);
  const model::RatePair pair = tools::RatePairFrom(cli, *pipeline.model());
  const adapters::BoundAdapters hooks = pipeline.model()->AdaptersFor(pair);

  torch::NoGradGuard no_grad;
  pipeline.SetTraining(false);
  data::FeaturizeOptions fo;
  fo.with_transcripts = !clip.text.empty();
  const model::ModelInputs inputs = data::Featurize(pipeline, {clip}, fo);
  const model::PromptBatch prompt =
      pipeline.model()->BuildPrompt(inputs, pair, model::PaddingSide::kRight, fo.with_transcripts);
  Analysed a;
  pipeline.llm()->forward(prompt.embeds, prompt.positions, prompt.valid, nullptr,
                          {&hooks, &a.trace.layer_outputs, &a.trace.attention_probs, &a.trace.mlp_outputs});
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
      .AddOption("--index", "N", "which of the clips given (trained checkpoint)", "0")
      .AddOption("--heatmap-layers", "LIST", "layers (1-based) whose attention maps are drawn; default first, last")
      .AddRequired("--out", "DIR", "output folder: report.json and PNG figures");
  tools::AddClipSourceOptions(cli);  // the clip to analyse (trained checkpoint)
  tools::AddModalityOption(cli);
  tools::AddRatePairOptions(cli);
  tools::AddDeviceOption(cli);
  if (!cli.Parse(argc, argv)) return 0;
  const std::string model_dir = cli.GetString("--model"), out = cli.GetString("--out");
  const c10::Device device = tools::DeviceFrom(cli);
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
