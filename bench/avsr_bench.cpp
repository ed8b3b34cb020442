// avsr_bench: the whole AVSR model (Whisper + AV-HuBERT + Matryoshka compressors/projectors + Llama with MoME
// adapters) in the two workloads users pay for, with random weights of the real shapes:
//   --workload train   one training step of the MoME config on a batch of clips: featurize (frozen encoders), the
//                      Matryoshka loss (mean over every (audio, video) rate pair of CE + lb_weight * load balancing),
//                      backward, gradient clipping and an AdamW step on what trains; as src/train/trainer.cpp does it
//   --workload decode  clip (16 kHz audio + 96x96 mouth frames) -> log-mel, both encoders, compression, projectors,
//                      prompt, prefill and greedy decoding at each rate pair (batch 1), as decode::Transcriber does it
//
//   avsr_bench --dir DIR --llm LLAMA_DIR --device cuda --dtype bf16 [--workload train|decode|all]
//   avsr_bench --dir DIR --tiny                        (tiny shapes: a CPU smoke test)
//
// Everything it uses is written to DIR first, so that bench/reference/avsr_reference.py runs the very same model:
// llm/ (config.json + model.safetensors, linked from --llm or written from --llm-config, plus a tokenizer),
// whisper/ (HF WhisperEncoder config.json + encoder.* tensors), avhubert.safetensors, trainable.safetensors
// (projectors, adapters, special embeddings: "avsr.*"), io.safetensors (the clips and token ids) and check.json
// (libmome's fp32 loss and fp32 greedy tokens, which the reference compares with its own).
// Every weight is rounded to a bf16 value, so the fp32 check and the bf16 timing run the same numbers.
// Training uses the centre crop and no augmentation (a random crop costs the same and would make the inputs
// irreproducible in Python). Timings: medians after two warm-up runs (median_timing.h). JSON lines on stdout.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernel_profile.h"
#include "median_timing.h"
#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/data/featurizer.h"
#include "mome/decode/generate.h"
#include "mome/io/module_loader.h"
#include "mome/io/safetensors.h"
#include "mome/llm/llama.h"
#include "mome/model/avsr_pipeline.h"
#include "mome/train/fused_adamw.h"
#include "mome/train/losses.h"
#include "mome/train/matryoshka_loss.h"
#include "tool_main.h"

namespace mome {
namespace {

namespace fs = std::filesystem;
using Named = std::vector<std::pair<std::string, at::Tensor>>;

constexpr int64_t kSampleRate = 16000, kFps = 25, kCrop = 96;

struct BenchSetup {
  std::string dir;
  model::ModelConfig config;
  int64_t batch = 8, samples = 0, frames = 0, transcript_tokens = 32;
  double seconds = 10;
};

// Rounds every floating tensor of `m` to a bf16 value in place and returns bf16 copies named prefix + name: the
// weights then mean exactly the same at fp32 and at bf16, for libmome and for the reference.
Named RoundToBf16(torch::nn::Module& m, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  Named out;
  auto add = [&](const std::string& name, at::Tensor& t) {
    if (!t.is_floating_point()) {  // BatchNorm's num_batches_tracked: the loader expects every buffer
      out.emplace_back(prefix + name, t.cpu());
      return;
    }
    t.copy_(t.to(at::kBFloat16));
    out.emplace_back(prefix + name, t.to(at::kBFloat16).cpu());
  };
  for (auto& p : m.named_parameters()) add(p.key(), p.value());
  for (auto& b : m.named_buffers()) add(b.key(), b.value());
  return out;
}

// The Llama folder the pipeline reads: config.json + weights linked from an existing HF folder (the decode
// bench's random Llama-3.2-1B, so no second copy is written), or random weights (HF's init: N(0, 0.02), norms
// 1) of a config.json's shapes; plus a tokenizer, which the pipeline needs for the instruction. The tokenizer's
// ids only have to lie inside the vocabulary: the prompt's text is the same in libmome and in the reference.
void PrepareLlm(const CliParser& cli, const BenchSetup& s, c10::Device device) {
  const fs::path out = fs::path(s.dir) / "llm";
  fs::create_directories(out);
  for (const char* name : {"config.json", "model.safetensors"}) fs::remove(out / name);
  if (cli.Has("--llm")) {
    const fs::path src = fs::absolute(cli.GetString("--llm"));
    for (const char* name : {"config.json", "model.safetensors"}) {
      MOME_CHECK(fs::exists(src / name), ErrorCode::kNotFound, (src / name).string(), ": missing (--llm needs an HF ",
                 "Llama folder with config.json and model.safetensors)");
      fs::create_symlink(src / name, out / name);
    }
  } else {
    llm::LlamaConfig c;
    if (cli.GetFlag("--tiny")) {
      const auto tokenizer = text::LoadTokenizer(cli.GetString("--tokenizer"));
      c.vocab_size = tokenizer->VocabSize();
      c.hidden_size = 64, c.intermediate_size = 176, c.num_hidden_layers = 2;
      c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 16;
      c.rms_norm_eps = 1e-5, c.tie_word_embeddings = true, c.rope.theta = 500000.0;
      c.bos_token_id = tokenizer->BosId();
      if (auto eos = tokenizer->EosId()) c.eos_token_ids = {*eos};
    } else {
      c = llm::LlamaConfig::FromJsonFile(cli.GetString("--llm-config"));
    }
    c.torch_dtype = "bfloat16";
    c.Validate("avsr_bench llm");
    torch::manual_seed(21);
    llm::LlamaForCausalLM lm(c, at::TensorOptions().device(device).dtype(at::kFloat));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : lm->named_parameters())
        p.key().find("norm") != std::string::npos ? p.value().fill_(1.0) : p.value().normal_(0.0, 0.02);
    }
    io::SaveSafetensors((out / "model.safetensors").string(), RoundToBf16(*lm, ""), {{"format", "pt"}});
    WriteFileAtomic((out / "config.json").string(), c.ToJsonString());
  }
  const fs::path tokenizer = cli.GetString("--tokenizer");
  fs::copy_file(tokenizer, out / "tokenizer.json", fs::copy_options::overwrite_existing);
}

// Random frozen encoders written in the formats their loaders read (and the reference loads).
void PrepareEncoders(const BenchSetup& s, c10::Device device) {
  const auto& a = s.config.audio_encoder;
  const encoders::WhisperEncoderConfig wc = model::WhisperConfigFor(a);
  {
    auto whisper = encoders::RandomWhisperEncoder(wc, device, at::kFloat, 31);
    fs::create_directories(fs::path(a.path));
    io::SaveSafetensors(a.path + "/model.safetensors", RoundToBf16(*whisper, "encoder."), {{"format", "pt"}});
    const nlohmann::json j = {{"model_type", "whisper"},
                              {"d_model", wc.d_model},
                              {"encoder_layers", wc.encoder_layers},
                              {"encoder_attention_heads", wc.encoder_attention_heads},
                              {"encoder_ffn_dim", wc.encoder_ffn_dim},
                              {"num_mel_bins", wc.num_mel_bins},
                              {"max_source_positions", wc.max_source_positions},
                              {"activation_function", "gelu"}};
    WriteFileAtomic(a.path + "/config.json", j.dump(2) + "\n");
  }
  const encoders::AVHubertConfig vc = model::AVHubertConfigFor(s.config.video_encoder);
  auto avhubert = encoders::RandomAVHubertEncoder(vc, device, at::kFloat, 32);
  io::SaveSafetensors(s.config.video_encoder.path, RoundToBf16(*avhubert, ""), {{"config", vc.ToJson()}});
}

// The model configuration: configs/paper/mome_23-4_mhsa.yaml (or --config) over the files just written.
model::ModelConfig MakeConfig(const CliParser& cli, const std::string& dir) {
  auto c = LoadConfigFile<model::ModelConfig>(cli.GetString("--config"), cli.GetAll("--set"));
  c.llm.preset.clear();
  c.llm.path = dir + "/llm";
  c.audio_encoder.path = dir + "/whisper";
  c.video_encoder.path = dir + "/avhubert.safetensors";
  if (cli.GetFlag("--tiny")) {  // small enough for a 2-core CPU; the code paths are those of the real shapes
    c.audio_encoder.preset = "whisper-tiny";
    c.audio_encoder.dim = 64, c.audio_encoder.layers = 2, c.audio_encoder.heads = 4;
    c.video_encoder.preset = "avhubert-tiny";
    c.model.projector_hidden = 64;
  }
  // The presets name the architecture written to disk; the loaders then read it back from the files.
  c.audio_encoder.dim = model::WhisperConfigFor(c.audio_encoder).d_model;
  c.video_encoder.dim = model::AVHubertConfigFor(c.video_encoder).encoder_embed_dim;
  return c;
}

std::unique_ptr<model::AVSRPipeline> BuildPipeline(const BenchSetup& s, c10::Device device, c10::ScalarType dtype) {
  model::PipelineOptions po;
  po.device = device;
  po.dtype = dtype;
  po.seed = 41;
  auto p = std::make_unique<model::AVSRPipeline>(s.config, po);
  const std::string trainable = s.dir + "/trainable.safetensors";
  if (fs::exists(trainable)) {
    io::LoadModuleWeights(p->trainable(), io::CheckpointReader::Open(trainable));
  } else {
    // MoME's up-projections start at zero (training starts from the frozen model); random values make the
    // adapters change the loss and the tokens, so the comparison with the reference covers them.
    torch::NoGradGuard no_grad;
    torch::manual_seed(43);
    for (auto& item : p->trainable().named_parameters()) {
      const std::string& name = item.key();
      if (name.find("up_weight") != std::string::npos || name.find("up_bias") != std::string::npos ||
          name.find("down_bias") != std::string::npos || name.find("special_embeddings") != std::string::npos)
        item.value().normal_(0.0, 0.02);
    }
    io::SaveSafetensors(trainable, RoundToBf16(p->trainable(), ""), {{"format", "pt"}});
  }
  return p;
}

struct Inputs {
  std::vector<data::PreparedClip> clips;
  std::vector<std::vector<int64_t>> transcripts;
};

// Clips of `seconds`: a few tones plus noise, random mouth frames, random transcript tokens.
Inputs MakeInputs(const BenchSetup& s, model::AVSRPipeline& p) {
  torch::manual_seed(7);
  Inputs in;
  const int64_t vocab = p.llm()->config().vocab_size;
  const at::Tensor t = at::arange(s.samples, at::kFloat) / static_cast<double>(kSampleRate);
  for (int64_t i = 0; i < s.batch; ++i) {
    data::PreparedClip c;
    c.key = "clip" + std::to_string(i);
    c.audio = 0.1 * at::sin(2 * M_PI * (220.0 + 40.0 * i) * t) + 0.05 * at::sin(2 * M_PI * 1250.0 * t) +
              0.02 * at::randn({s.samples});
    c.video = at::randint(0, 256, {s.frames, kCrop, kCrop}, at::kByte);
    const at::Tensor ids = at::randint(10, std::min<int64_t>(vocab, 128000) - 10, {s.transcript_tokens}, at::kLong);
    in.transcripts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    in.clips.push_back(std::move(c));
  }
  return in;
}

// The clips and token ids for the reference, which takes the instruction's ids as they are.
void SaveInputs(const BenchSetup& s, const Inputs& in, const std::vector<int64_t>& instruction) {
  std::vector<at::Tensor> audio, video, transcripts;
  for (size_t i = 0; i < in.clips.size(); ++i) {
    audio.push_back(in.clips[i].audio);
    video.push_back(in.clips[i].video);
    transcripts.push_back(at::tensor(in.transcripts[i], at::kLong));
  }
  io::SaveSafetensors(s.dir + "/io.safetensors",
                      {{"audio", at::stack(audio)},
                       {"video", at::stack(video)},
                       {"transcript_ids", at::stack(transcripts)},
                       {"instruction_ids", at::tensor(instruction, at::kLong)}},
                      {{"seconds", std::to_string(s.seconds)}});
}

// What the reference needs to rebuild the model around the weights: rates, projectors, adapters, loss weight,
// the LLM's BOS/EOS ids (the prompt's text tokens come in io.safetensors).
void SaveModelJson(const BenchSetup& s, model::AVSRPipeline& p) {
  const model::ModelConfig& c = p.config();
  const auto& a = c.adapters;
  const auto& llm = p.llm()->config();
  const nlohmann::json j = {{"modality", c.model.modality},
                            {"audio_rates", c.model.modality == "vsr" ? std::vector<int64_t>{} : c.model.audio_rates},
                            {"video_rates", c.model.modality == "asr" ? std::vector<int64_t>{} : c.model.video_rates},
                            {"compression", c.model.compression},
                            {"audio_dim", c.audio_encoder.dim},
                            {"video_dim", c.video_encoder.dim},
                            {"projector_hidden", c.model.projector_hidden},
                            {"projector_layer_norm", c.model.projector_layer_norm},
                            {"adapter_kind", a.kind},
                            {"placement", a.placement},
                            {"layers", a.layers},
                            {"num_experts", a.num_experts},
                            {"num_shared", a.num_shared},
                            {"bottleneck", a.bottleneck},
                            {"top_k", a.top_k},
                            {"shared_router", a.shared_router},
                            {"num_scales", p.model()->rate_pairs().size()},
                            {"load_balancing", a.kind == "mome" ? c.loss.load_balancing : 0.0},
                            {"bos", llm.bos_token_id.value_or(0)},
                            {"eos", llm.eos_token_ids.empty() ? 0 : llm.eos_token_ids[0]}};
  WriteFileAtomic(s.dir + "/model.json", j.dump(1) + "\n");
}

// One batch's Matryoshka loss through the trainer's own function: centre crops without augmentation (inputs the
// reference reproduces exactly), then every rate pair.
train::MatryoshkaTerms BatchLoss(const model::AVSRPipeline& p, const Inputs& in, bool labelled_logits_only) {
  model::ModelInputs inputs = data::Featurize(p, in.clips);
  inputs.transcript_ids = in.transcripts;
  return train::MatryoshkaLoss(*p.model(), inputs, p.model()->rate_pairs(), p.config().loss, labelled_logits_only);
}

// The per-pair terms as the trainer logs them: kept on the device, read once after backward().
struct TermValues {
  std::vector<double> ce, lb;
};
TermValues ReadTerms(const train::MatryoshkaTerms& t) {
  std::vector<at::Tensor> all;
  for (const auto* list : {&t.ce, &t.load_balancing})
    for (const auto& v : *list) all.push_back(v.reshape({1}));
  const at::Tensor host = at::cat(all).to(at::kDouble).cpu();
  TermValues out;
  for (size_t i = 0; i < all.size(); ++i)
    (i < t.ce.size() ? out.ce : out.lb).push_back(host[static_cast<int64_t>(i)].item<double>());
  return out;
}

struct DecodeRun {
  std::vector<int64_t> ids;
  int64_t prompt_tokens = 0;
};

// One clip -> tokens at one rate pair: decode::Transcriber::Run's steps (featurize, left-padded prompt, the
// pair's scale, generation), without turning ids into text (the bench's tokenizer does not cover the random
// Llama's vocabulary).
DecodeRun DecodeClip(const model::AVSRPipeline& p, decode::Generator& generator, const data::PreparedClip& clip,
                     const model::RatePair& pair) {
  torch::NoGradGuard no_grad;
  const model::ModelInputs inputs = data::Featurize(p, {clip});
  const model::PromptBatch prompt = p.model()->BuildPrompt(inputs, pair, model::PaddingSide::kLeft, false);
  DecodeRun run;
  run.ids = generator.Generate(prompt.embeds, prompt.valid)[0].ids;
  run.prompt_tokens = prompt.embeds.size(1);
  return run;
}

// `hooks`: the adapters bound to the pair being decoded (they must outlive the generator).
decode::GenerateOptions DecodeOptions(const model::AVSRPipeline& p, const llm::LayerHooks* hooks, int64_t new_tokens,
                                      bool cuda_graphs = true) {
  decode::GenerateOptions o;
  o.max_new_tokens = new_tokens;
  o.use_cuda_graphs = cuda_graphs;
  o.eos_token_ids = p.llm()->config().eos_token_ids;
  o.pad_token_id = o.eos_token_ids.empty() ? 0 : o.eos_token_ids[0];
  o.hooks = hooks;
  return o;
}

// "4:2,16:5" -> the (audio rate, video rate) pairs to decode at.
std::vector<model::RatePair> ParsePairs(const std::string& text) {
  std::vector<model::RatePair> pairs;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    model::RatePair p;
    char colon = 0;
    std::stringstream one(item);
    MOME_CHECK((one >> p.audio >> colon >> p.video) && colon == ':' && one.peek() == EOF, ErrorCode::kInvalidArgument,
               "--decode-pairs: '", item, "' is not AUDIO_RATE:VIDEO_RATE");
    pairs.push_back(p);
  }
  MOME_CHECK(!pairs.empty(), ErrorCode::kInvalidArgument, "--decode-pairs is empty");
  return pairs;
}

const char* DtypeName(c10::ScalarType t) {
  return t == at::kBFloat16 ? "bf16" : t == at::kHalf ? "f16" : "f32";
}

void Emit(nlohmann::json line) {
  line["impl"] = "libmome";
  std::cout << line.dump() << std::endl;
}

// Everything the bench's stages share: the options, the model on disk, the inputs.
struct BenchRun {
  explicit BenchRun(const CliParser& options) : cli(options) {}
  const CliParser& cli;
  BenchSetup s;
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = at::kFloat;
  int64_t repeat = 10, new_tokens = 32;
  bool train = true, decode_clips = true;
  std::vector<model::RatePair> pairs, decode_pairs;
  Inputs inputs;
};

// The options, checked, and the model written to DIR (fresh every run: the seeds make it the same model each time).
BenchRun Setup(const CliParser& cli) {
  BenchRun b(cli);
  b.device = ParseDevice(cli.GetString("--device"));
  b.dtype = ParseDtype(cli.GetString("--dtype"), b.device);
  const std::string workload = cli.GetString("--workload");
  MOME_CHECK(workload == "train" || workload == "decode" || workload == "all", ErrorCode::kInvalidArgument,
             "--workload must be train, decode or all, got '", workload, "'");
  const bool tiny = cli.GetFlag("--tiny");
  BenchSetup& s = b.s;
  s.dir = fs::absolute(cli.GetString("--dir")).string();
  fs::create_directories(s.dir);
  s.seconds = cli.Has("--seconds") ? cli.GetDouble("--seconds") : (tiny ? 2.0 : 10.0);
  s.batch = cli.Has("--batch") ? cli.GetInt("--batch") : (tiny ? 2 : 8);
  s.samples = static_cast<int64_t>(s.seconds * kSampleRate);
  s.frames = static_cast<int64_t>(s.seconds * kFps);
  s.transcript_tokens = cli.GetInt("--transcript-tokens");
  b.repeat = cli.GetInt("--repeat"), b.new_tokens = cli.GetInt("--new-tokens");
  MOME_CHECK(s.seconds > 0 && s.seconds <= 30 && s.batch >= 1 && b.repeat >= 1 && b.new_tokens >= 1 &&
                 s.transcript_tokens >= 1,
             ErrorCode::kInvalidArgument, "need 0 < --seconds <= 30, --batch, --repeat, --new-tokens, ",
             "--transcript-tokens >= 1");
  s.config = MakeConfig(cli, s.dir);

  // 1. The model on disk (fresh every run: the seeds make it the same model each time).
  fs::remove(s.dir + "/trainable.safetensors");
  PrepareLlm(cli, s, b.device);
  PrepareEncoders(s, b.device);
  b.train = workload != "decode", b.decode_clips = workload != "train";
  b.decode_pairs = ParsePairs(cli.GetString("--decode-pairs"));

  return b;
}

// 2. fp32: the values the reference must reproduce (written to DIR/check.json), and the inputs.
void WriteCheckValues(BenchRun& b) {
  const CliParser& cli = b.cli;
  const BenchSetup& s = b.s;
  const c10::Device device = b.device;
  const int64_t new_tokens = b.new_tokens;
  const bool train = b.train, decode_clips = b.decode_clips;
  const auto& decode_pairs = b.decode_pairs;
  auto& pairs = b.pairs;
  auto& inputs = b.inputs;
  auto p = BuildPipeline(s, device, at::kFloat);
  pairs = p->model()->rate_pairs();
  MOME_CHECK(p->config().adapters.kind == "mome" && p->config().model.modality == "avsr" &&
                 p->config().loss.decorrelation == 0,
             ErrorCode::kInvalidArgument, "avsr_bench times the MoME AVSR configuration without the ",
             "decorrelation loss (the reference implements that one)");
  for (const auto& pair : decode_pairs) p->model()->ScaleOf(pair);  // an untrained pair: one clear error
  SaveModelJson(s, *p);
  inputs = MakeInputs(s, *p);
  SaveInputs(s, inputs, p->instruction_ids());
  nlohmann::json check = {{"dtype", "f32"}};
  if (!cli.GetFlag("--no-check")) {
    if (train) {
      torch::NoGradGuard no_grad;
      const train::MatryoshkaTerms m = BatchLoss(*p, inputs, true);
      const double loss = m.loss.item<double>();
      const TermValues terms = ReadTerms(m);
      check["loss"] = loss;
      check["ce"] = terms.ce;
      check["lb"] = terms.lb;
      Emit({{"workload", "avsr_train_check"}, {"dtype", "f32"}, {"loss", loss}, {"ce", terms.ce}, {"lb", terms.lb}});
    }
    if (decode_clips) {
      for (const auto& pair : decode_pairs) {
        const adapters::BoundAdapters hooks = p->model()->AdaptersFor(pair);
        decode::Generator generator(*p->llm(), DecodeOptions(*p, &hooks, new_tokens));
        const DecodeRun run = DecodeClip(*p, generator, inputs.clips[0], pair);
        const std::string key = "ids_a" + std::to_string(pair.audio) + "_v" + std::to_string(pair.video);
        check[key] = run.ids;
        Emit({{"workload", "avsr_decode_check"},
              {"dtype", "f32"},
              {"audio_rate", pair.audio},
              {"video_rate", pair.video},
              {"ids", run.ids}});
      }
    }
  }
  WriteFileAtomic(s.dir + "/check.json", check.dump(1) + "\n");
}

// 3a. Timed decoding of one clip per rate pair, in the compute dtype.
void TimeDecoding(const BenchRun& b, const model::AVSRPipeline* p) {
  const CliParser& cli = b.cli;
  const BenchSetup& s = b.s;
  const c10::Device device = b.device;
  const c10::ScalarType dtype = b.dtype;
  const int64_t repeat = b.repeat, new_tokens = b.new_tokens;
  const auto& decode_pairs = b.decode_pairs;
  const auto& inputs = b.inputs;
  {
    auto time_decode = [&](const model::RatePair& pair, bool cuda_graphs, const char* variant) {
      const adapters::BoundAdapters hooks = p->model()->AdaptersFor(pair);  // no router statistics: capturable
      decode::Generator generator(*p->llm(), DecodeOptions(*p, &hooks, new_tokens, cuda_graphs));  // cache kept
      DecodeRun run;
      bench::ResetPeak(device);
      const double ms = bench::MedianMs(std::max<int64_t>(repeat / 2, 3), device,
                                        [&] { run = DecodeClip(*p, generator, inputs.clips[0], pair); });
      nlohmann::json line = {{"workload", "avsr_decode"},
                             {"dtype", DtypeName(dtype)},
                             {"audio_rate", pair.audio},
                             {"video_rate", pair.video},
                             {"seconds", s.seconds},
                             {"prompt_tokens", run.prompt_tokens},
                             {"new_tokens", run.ids.size()},
                             {"ms", ms},
                             {"rtf", ms / (1000.0 * s.seconds)},
                             {"peak_mb", bench::PeakMb(device)},
                             {"ids", run.ids}};
      if (variant) line["variant"] = variant;
      Emit(line);
    };
    for (const auto& pair : decode_pairs) time_decode(pair, true, nullptr);
    if (cli.GetFlag("--variants") && device.is_cuda())
      for (const auto& pair : decode_pairs) time_decode(pair, false, "eager decoding (no CUDA graph)");
  }
}

// 3b. Timed training steps (and their parts with --breakdown), in the compute dtype.
void TimeTraining(const BenchRun& b, model::AVSRPipeline* p) {
  const CliParser& cli = b.cli;
  const BenchSetup& s = b.s;
  const c10::Device device = b.device;
  const c10::ScalarType dtype = b.dtype;
  const int64_t repeat = b.repeat;
  const auto& pairs = b.pairs;
  const auto& inputs = b.inputs;
  {
    p->SetTraining(true);
    std::vector<at::Tensor> params;
    for (auto& t : p->trainable().parameters())
      if (t.requires_grad()) params.push_back(t);
    train::FusedAdamW optimizer(params, torch::optim::AdamWOptions(1e-3).betas({0.9, 0.98}).weight_decay(0.1));
    const double clip = cli.GetDouble("--grad-clip");
    int64_t trainable = 0;
    for (const auto& t : params) trainable += t.numel();
    // One step as the trainer takes it; `labelled_logits_only` false is the LM head on every position.
    auto time_step = [&](bool labelled_logits_only, const char* variant) {
      double tokens = 0, loss_value = 0;
      bench::ResetPeak(device);
      auto step = [&] {
        optimizer.zero_grad();
        const train::MatryoshkaTerms m = BatchLoss(*p, inputs, labelled_logits_only);
        const at::Tensor loss = m.loss;
        loss.backward();
        ReadTerms(m);
        tokens = m.tokens;
        for (auto& t : params)
          if (!t.grad().defined()) t.mutable_grad() = at::zeros_like(t);
        train::ClipGradients(params, clip);
        optimizer.step();
        loss_value = loss.item<double>();
      };
      const double ms = bench::MedianMs(repeat, device, step);
      if (!variant && cli.Has("--profile")) bench::ProfileToTrace(cli.GetString("--profile"), device.is_cuda(), step);
      nlohmann::json line = {{"workload", "avsr_train_step"},
                             {"dtype", DtypeName(dtype)},
                             {"batch", s.batch},
                             {"seconds", s.seconds},
                             {"pairs", pairs.size()},
                             {"llm_tokens", tokens},
                             {"trainable_params", trainable},
                             {"ms", ms},
                             {"tokens_per_s", tokens / (ms / 1000.0)},
                             {"clips_per_s", static_cast<double>(s.batch) / (ms / 1000.0)},
                             {"peak_mb", bench::PeakMb(device)},
                             {"loss", loss_value}};
      if (variant) line["variant"] = variant;
      Emit(line);
    };
    time_step(true, nullptr);
    if (cli.GetFlag("--variants")) time_step(false, "logits at every position");
    if (cli.GetFlag("--breakdown")) {
      // Cumulative parts of a step, without the optimizer: where the time goes.
      nlohmann::json line = {{"workload", "avsr_train_breakdown"}, {"dtype", DtypeName(dtype)}};
      {
        torch::NoGradGuard no_grad;
        line["featurize_ms"] = bench::MedianMs(repeat, device, [&] { data::Featurize(*p, inputs.clips); });
      }
      line["featurize_forward_ms"] = bench::MedianMs(repeat, device, [&] { BatchLoss(*p, inputs, true); });
      line["featurize_forward_backward_ms"] = bench::MedianMs(repeat, device, [&] {
        BatchLoss(*p, inputs, true).loss.backward();
        optimizer.zero_grad();
      });
      Emit(line);
    }
  }
}

int Main(int argc, char** argv) {
  CliParser cli("avsr_bench", "Times a MoME training step and end-to-end clip decoding (random weights).");
  cli.AddOption("--dir", "DIR", "where the model, inputs and check values are written", "/tmp/mome_avsr_bench")
      .AddOption("--workload", "train|decode|all", "what to time", "all")
      .AddOption("--llm", "DIR", "HF Llama folder (config.json + model.safetensors) to use as the frozen LLM")
      .AddOption("--llm-config", "FILE", "without --llm: random weights of this config.json's shapes",
                 "bench/configs/llama-3.2-1b.json")
      .AddOption("--tokenizer", "FILE", "tokenizer.json for the instruction", "tests/data/tokenizer/tokenizer.json")
      .AddOption("--config", "FILE", "model config (adapters, rates, encoders)", "configs/paper/mome_23-4_mhsa.yaml")
      .AddRepeated("--set", "KEY=VALUE", "override a model config key")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "compute dtype of the timed runs", "auto")
      .AddOption("--seconds", "S", "clip length (default 10; 2 with --tiny)")
      .AddOption("--batch", "N", "training batch in clips (default 8; 2 with --tiny)")
      .AddOption("--transcript-tokens", "N", "transcript tokens per clip (training target)", "32")
      .AddOption("--new-tokens", "N", "greedy tokens to generate per clip", "32")
      .AddOption("--decode-pairs", "LIST", "rate pairs to decode at, AUDIO:VIDEO,...", "4:2,16:5")
      .AddOption("--repeat", "N", "timed runs (median reported)", "10")
      .AddOption("--grad-clip", "X", "gradient clipping norm (SPEC.md section 3)", "10")
      .AddFlag("--no-check", "skip the fp32 loss and tokens for the reference check")
      .AddFlag("--variants", "also time the step with logits at every position and decoding without CUDA graphs")
      .AddOption("--profile", "FILE", "also write a Chrome trace of one training step to FILE", "")
      .AddFlag("--breakdown", "also time the step's parts: featurize, + forward, + backward")
      .AddFlag("--tiny", "tiny encoders and Llama, 2 s clips, batch 2 (a CPU smoke test)");
  if (!cli.Parse(argc, argv)) return 0;
  BenchRun b = Setup(cli);
  WriteCheckValues(b);
  bench::ReleaseCachedMemory(b.device);
  // Decode first: training changes the trainable weights.
  auto p = BuildPipeline(b.s, b.device, b.dtype);
  if (b.decode_clips) TimeDecoding(b, p.get());
  if (b.train) TimeTraining(b, p.get());
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("avsr_bench", [&] { return mome::Main(argc, argv); });
}
