#include "mome/train/trainer.h"
#include "mome/train/fused_adamw.h"

#include <ATen/ATen.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "mome/core/atomic_file.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/core/progress.h"
#include "mome/data/batch_sampler.h"
#include "mome/data/prepared.h"
#include "mome/decode/transcribe.h"
#include "mome/eval/wer.h"
#include "mome/io/media.h"
#include "mome/io/safetensors.h"
#include "mome/model/avsr_pipeline.h"
#include "mome/train/checkpoint.h"
#include "mome/train/losses.h"
#include "mome/train/plots.h"
#include "mome/train/schedule.h"

namespace mome::train {
namespace fs = std::filesystem;
namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void OnStopSignal(int signal) {
  g_stop_signal = signal;
}

// Seeds derived from (seed, step, slot): the same step always sees the same augmentation and pair subset.
uint64_t DerivedSeed(int64_t seed, int64_t step, int64_t slot) {
  uint64_t x = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull ^
               static_cast<uint64_t>(step) * 0xBF58476D1CE4E5B9ull ^
               static_cast<uint64_t>(slot) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x * 0xD6E8FEB86659FD93ull;
}

std::string PairName(const model::RatePair& p) {
  return "a" + std::to_string(p.audio) + "_v" + std::to_string(p.video);
}

std::string CheckpointName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

std::vector<std::string> CheckpointsOf(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.find('.') == std::string::npos && fs::exists(e.path() / "checkpoint.json"))
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Paths in the config made absolute, so a checkpoint names its base model wherever it is used from.
void AbsolutePaths(model::ModelConfig* c) {
  for (std::string* p : {&c->llm.path, &c->audio_encoder.path, &c->video_encoder.path})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal().string();
}

// Keeps the metrics lines of steps <= `step` (a resumed run continues the file exactly).
void TruncateMetrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in.good()) return;
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) kept << line << '\n';
    } catch (const std::exception&) {  // a line cut by a crash: dropped
    }
  }
  WriteFileAtomic(path, kept.str());
}

struct StepTerms {
  double ce = 0, load_balancing = 0, decorrelation = 0, loss = 0, tokens = 0, clips = 0;
};

class TrainingRun {
 public:
  TrainingRun(const TrainConfig& config, const TrainerOptions& options) : config_(config), options_(options) {
    const auto& t = config_.train;
    rank_ = options.sync ? options.sync->rank() : 0;
    world_ = options.sync ? options.sync->world_size() : 1;
    if (t.threads > 0) at::set_num_threads(static_cast<int>(t.threads));
    AbsolutePaths(&config_.model);
    MOME_CHECK(!t.data.empty(), ErrorCode::kInvalidArgument, "train.data: the prepared training corpus is not set");
    corpus_ = std::make_unique<data::PreparedCorpus>(data::PreparedCorpus::Open(t.data));
    MOME_CHECK(corpus_->size() > 0, ErrorCode::kInvalidArgument, t.data, ": the training corpus has no clips");
    if (!t.val_data.empty()) val_ = std::make_unique<data::PreparedCorpus>(data::PreparedCorpus::Open(t.val_data));

    model::PipelineOptions po;
    po.device = ParseDevice(t.device);
    const bool bf16 = t.precision == "bf16" || (t.precision == "auto" && po.device.is_cuda());
    po.dtype = bf16 ? at::kBFloat16 : at::kFloat;
    po.seed = static_cast<uint64_t>(t.seed);
    pipeline_ = std::make_unique<model::AVSRPipeline>(config_.model, po);
    config_.model = pipeline_->config();  // with the encoder widths resolved

    if (!t.init_from.empty()) InitFrom(t.init_from);
    for (auto& p : pipeline_->trainable().named_parameters())
      if (p.value().requires_grad()) params_.push_back(p.value()), param_names_.push_back(p.key());
    for (auto& b : pipeline_->trainable().buffers())
      if (b.is_floating_point()) buffers_.push_back(b);
    MOME_CHECK(!params_.empty(), ErrorCode::kInvalidArgument, "nothing to train: every parameter is frozen");
    optimizer_ = std::make_unique<FusedAdamW>(
        params_, torch::optim::AdamWOptions(t.lr).betas({t.betas[0], t.betas[1]}).weight_decay(t.weight_decay));
    schedule_ = CosineSchedule{t.lr, t.min_lr, t.warmup_steps, t.max_steps};

    std::vector<int64_t> frames;
    for (const auto& e : corpus_->entries())
      frames.push_back(e.n_frames > 0 ? e.n_frames : std::max<int64_t>(1, e.n_samples / 640));
    data::BatchSamplerOptions so;
    so.max_frames = t.max_frames;
    so.seed = static_cast<uint64_t>(t.seed);
    so.rank = rank_;
    so.world_size = world_;
    sampler_ = std::make_unique<data::BatchSampler>(frames, so);
    fingerprint_ = pipeline_->BaseFingerprint();
    SetUpAugmentation();
  }

  // train.init_from: copies every trainable tensor (parameters and buffers) that the other run also has, with the
  // same shape; the rest keep their fresh initialisation. A later --resume overrides all of it.
  void InitFrom(const std::string& from) {
    const std::string model_dir = ResolveModelDir(from);
    const auto file = io::SafetensorsFile::Open(model_dir + "/trainable.safetensors");
    int64_t copied = 0, absent = 0, reshaped = 0;
    torch::NoGradGuard no_grad;
    auto take = [&](const std::string& name, at::Tensor& target) {
      if (!file->Has(name)) return void(++absent);
      const at::Tensor source = file->Get(name);
      if (source.sizes() != target.sizes()) return void(++reshaped);
      target.copy_(source.to(target.device(), target.scalar_type()));
      ++copied;
    };
    for (auto& p : pipeline_->trainable().named_parameters()) take(p.key(), p.value());
    for (auto& b : pipeline_->trainable().named_buffers()) take(b.key(), b.value());
    MOME_CHECK(copied > 0, ErrorCode::kInvalidArgument, "train.init_from: ", model_dir,
               " has no tensor of this model (names and shapes differ everywhere)");
    log::Info("initialised ", copied, " tensors from ", model_dir, " (", absent, " not in it, ", reshaped,
              " of another shape keep their initialisation)");
  }

  TrainResult Run() {
    const auto& t = config_.train;
    const std::string& dir = options_.out_dir;
    std::error_code ec;
    fs::create_directories(dir + "/checkpoints", ec);
    MOME_CHECK(!ec, ErrorCode::kIo, dir, ": cannot create the output folder (", ec.message(), ")");
    const std::string metrics_path = dir + "/metrics.jsonl";
    int64_t step = 0;
    if (options_.resume) {
      const std::string latest = LatestCheckpoint(dir);
      if (latest.empty()) {
        log::Warn(dir, ": --resume but no checkpoint yet; starting from step 0");
      } else {
        const CheckpointInfo info = LoadCheckpoint(latest, pipeline_->trainable(), *optimizer_, fingerprint_);
        step = info.step;
        RestoreExtra(info);
        log::Info("resumed from ", latest, " at step ", step);
      }
    }
    if (rank_ == 0) {
      if (step == 0) RemoveTree(metrics_path);
      TruncateMetrics(metrics_path, step);
      WriteFileAtomic(dir + "/config.yaml", ConfigToString(config_));
    }
    std::signal(SIGINT, OnStopSignal);
    std::signal(SIGTERM, OnStopSignal);
    g_stop_signal = 0;

    log::Info("training ", params_.size(), " tensors (", CountTrainable(), " parameters) on ", corpus_->size(),
              " clips, ", world_, " process(es), steps ", step, " -> ", t.max_steps);
    ProgressBar bar("train", t.max_steps, "steps");
    bar.Resume(step);
    std::ofstream metrics;
    if (rank_ == 0) metrics.open(metrics_path, std::ios::app);
    TrainResult result;
    int64_t last_saved = step;
    StepTerms window;
    int64_t window_steps = 0;
    double window_seconds = 0;
    while (step < t.max_steps) {
      const auto started = std::chrono::steady_clock::now();
      const double lr = schedule_.LearningRate(step);
      for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      optimizer_->zero_grad();
      StepTerms terms;
      for (int64_t a = 0; a < t.accumulation; ++a) Accumulate(step, a, &terms);
      if (options_.sync) {  // logged terms: the mean over processes; tokens and clips: the sum
        at::Tensor v = at::tensor(
            {terms.ce, terms.load_balancing, terms.decorrelation, terms.loss, terms.tokens, terms.clips}, at::kDouble);
        options_.sync->AllReduceSum(v);
        const auto* d = v.data_ptr<double>();
        const double w = static_cast<double>(world_);
        terms.ce = d[0] / w, terms.load_balancing = d[1] / w, terms.decorrelation = d[2] / w, terms.loss = d[3] / w;
        terms.tokens = d[4], terms.clips = d[5];
      }
      std::vector<at::Tensor> grads;
      for (auto& p : params_) {
        if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
        grads.push_back(p.grad());
      }
      if (options_.sync) options_.sync->AllReduceMean(grads);
      const double grad_norm = ClipGradients(t.grad_clip, step + 1);
      optimizer_->step();
      if (options_.sync && !buffers_.empty()) {
        // BatchNorm running statistics saw only this process's batches: average them so every process (and the
        // checkpoint) holds the same model, as DDP's buffer broadcast does.
        torch::NoGradGuard no_grad;
        options_.sync->AllReduceMean(buffers_);
      }
      ++step;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      window.ce += terms.ce, window.load_balancing += terms.load_balancing;
      window.decorrelation += terms.decorrelation, window.loss += terms.loss;
      window.tokens += terms.tokens, window.clips += terms.clips;
      ++window_steps;
      window_seconds += seconds;

      const bool checkpoint = step % t.checkpoint_every == 0 || step == t.max_steps || g_stop_signal != 0;
      const int64_t eval_every = t.eval_every > 0 ? t.eval_every : t.checkpoint_every;
      const bool evaluate = val_ && (step % eval_every == 0 || step == t.max_steps);
      nlohmann::json line;
      if (step % t.log_every == 0 || evaluate || checkpoint) {
        line = {{"step", step},
                {"epoch", sampler_->position().epoch},
                {"loss", window.loss / window_steps},
                {"ce", window.ce / window_steps},
                {"load_balancing", window.load_balancing / window_steps},
                {"decorrelation", window.decorrelation / window_steps},
                {"lr", lr},
                {"grad_norm", grad_norm},
                {"tokens_per_s", window.tokens / window_seconds},
                {"clips_per_s", window.clips / window_seconds}};
        window = StepTerms();
        window_steps = 0;
        window_seconds = 0;
      }
      if (evaluate) Evaluate(&line, &result, step);
      if (rank_ == 0 && !line.is_null()) {
        metrics << line.dump() << '\n';
        metrics.flush();
      }
      char status[160];
      std::snprintf(status, sizeof status, "| loss %.4f lr %.2e", terms.loss, lr);
      if (rank_ == 0) bar.Update(step, status);
      if (checkpoint) {
        Save(step);
        last_saved = step;
      }
      if (g_stop_signal != 0) {
        log::Warn("signal ", g_stop_signal.load(), ": checkpoint written at step ", step, "; stopping");
        result.interrupted = true;
        break;
      }
    }
    if (last_saved != step) Save(step);
    if (options_.sync) CheckRanksInSync(&result);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    result.steps_done = step;
    if (rank_ == 0) {
      metrics.close();
      PlotMetrics(metrics_path, dir);
    }
    return result;
  }

 private:
  // Noise for augmentation: the recordings of train.noise, or (empty) babble from up to 64 training utterances
  // chosen by the seed, so every process builds the same pool.
  void SetUpAugmentation() {
    const auto& t = config_.train;
    augment_.noise_prob = t.noise_prob;
    augment_.snr_min = t.snr_min;
    augment_.snr_max = t.snr_max;
    augment_.audio_masks = t.audio_time_masks;
    augment_.audio_mask_max_seconds = t.audio_mask_seconds;
    augment_.video_masks = t.video_time_masks;
    augment_.video_mask_max_frames = t.video_mask_frames;
    MOME_CHECK(t.noise_prob >= 0 && t.noise_prob <= 1 && t.snr_min <= t.snr_max, ErrorCode::kInvalidArgument,
               "train.noise_prob must be in [0, 1] and train.snr_min <= train.snr_max");
    if (t.noise_prob <= 0) return;
    if (!t.noise.empty()) {
      std::vector<std::string> files;
      if (fs::is_directory(t.noise)) {
        for (const auto& e : fs::directory_iterator(t.noise))
          if (e.is_regular_file()) files.push_back(e.path().string());
        std::sort(files.begin(), files.end());
      } else {
        files.push_back(t.noise);
      }
      MOME_CHECK(!files.empty(), ErrorCode::kNotFound, "train.noise: ", t.noise, " holds no files");
      io::MediaDecodeOptions mo;
      mo.video = false;
      mo.require_audio = true;
      for (const auto& f : files) noise_pool_.push_back(io::DecodeMedia(f, mo).audio);
      pool_is_noise_ = true;
      return;
    }
    std::mt19937_64 rng(DerivedSeed(t.seed, -1, 0));
    for (int i = 0; i < 64 && static_cast<size_t>(i) < corpus_->size(); ++i) {
      const auto clip = corpus_->Load(static_cast<size_t>(rng() % corpus_->size()));
      if (clip.audio.defined() && clip.audio.numel() > 0) noise_pool_.push_back(clip.audio.to(at::kFloat));
    }
  }

  // The global gradient norm, summed in double (a float sum of squares overflows long before the norm does),
  // then clipping to `max_norm` (<= 0: none). A non-finite norm is logged with the tensors responsible.
  double ClipGradients(double max_norm, int64_t step) const {
    // Per-tensor norms on the device, one host read for the total (a read per tensor costs a GPU round trip each).
    std::vector<at::Tensor> per_tensor;
    for (const auto& p : params_) per_tensor.push_back(p.grad().to(at::kDouble).norm());
    const at::Tensor norms = at::stack(per_tensor);
    const double total = norms.pow(2).sum().sqrt().item<double>();
    if (!std::isfinite(total)) {
      const at::Tensor host = norms.cpu();
      std::string names;
      for (size_t i = 0, shown = 0; i < params_.size() && shown < 5; ++i)
        if (!std::isfinite(host[static_cast<int64_t>(i)].item<double>())) names += " " + param_names_[i], ++shown;
      log::Warn("step ", step, ": non-finite gradient norm; tensors with NaN/inf gradients:", names);
      return total;
    }
    if (max_norm > 0 && total > max_norm) {
      torch::NoGradGuard no_grad;
      for (const auto& p : params_) p.grad().mul_(max_norm / (total + 1e-6));
    }
    return total;
  }

  int64_t CountTrainable() const {
    int64_t n = 0;
    for (const auto& p : params_) n += p.numel();
    return n;
  }

  // Every process must hold the same parameters after the same steps; a per-tensor checksum summed over the
  // processes equals world x the local one exactly when they agree.
  void CheckRanksInSync(TrainResult* result) {
    std::vector<double> local;
    for (const auto& p : params_) local.push_back(p.detach().to(at::kDouble).abs().sum().item<double>());
    at::Tensor sums = at::tensor(local, at::kDouble);
    options_.sync->AllReduceSum(sums);
    const double diff =
        (sums - at::tensor(local, at::kDouble) * static_cast<double>(world_)).abs().max().item<double>();
    result->ranks_in_sync = diff <= 1e-9 * (1.0 + sums.abs().max().item<double>());
    if (!result->ranks_in_sync) log::Err("rank ", rank_, ": parameters differ from the other processes' (", diff, ")");
  }

  void RestoreExtra(const CheckpointInfo& info) {
    const auto it = info.extra.find("sampler");
    MOME_CHECK(it != info.extra.end(), ErrorCode::kCorruptFile, "checkpoint lacks the sampler position");
    data::BatchSampler::Position p;
    MOME_CHECK(std::sscanf(it->second.c_str(), "%lld:%lld", reinterpret_cast<long long*>(&p.epoch),
                           reinterpret_cast<long long*>(&p.batch)) == 2,
               ErrorCode::kCorruptFile, "checkpoint sampler position '", it->second, "' is malformed");
    sampler_->Restore(p);
    const auto best = info.extra.find("best_wer");
    if (best != info.extra.end()) best_wer_ = std::stod(best->second);
  }

  void Accumulate(int64_t step, int64_t slot, StepTerms* terms) {
    const auto& t = config_.train;
    const auto& loss_cfg = config_.model.loss;
    std::vector<int64_t> indices;
    sampler_->Next(&indices);
    std::vector<data::PreparedClip> clips;
    for (int64_t i : indices) clips.push_back(corpus_->Load(static_cast<size_t>(i)));
    model::FeaturizeOptions fo;
    fo.training = true;
    // The global micro-batch index: N processes with accumulation A see the same augmentation as one process
    // with accumulation N*A (process r's micro-batch a is the global one a*N + r, as the sampler deals them).
    const int64_t global_slot = slot * world_ + rank_;
    fo.augment_seed = DerivedSeed(t.seed, step, global_slot * 2);
    fo.with_transcripts = true;
    fo.augment = &augment_;
    fo.noise_pool = &noise_pool_;
    fo.pool_is_noise = pool_is_noise_;
    auto& m = pipeline_->model();
    pipeline_->SetTraining(true);
    const model::ModelInputs inputs = pipeline_->Featurize(clips, fo);

    std::vector<model::RatePair> pairs = m->rate_pairs();
    if (t.pairs_per_step > 0 && t.pairs_per_step < static_cast<int64_t>(pairs.size())) {
      std::mt19937_64 rng(DerivedSeed(t.seed, step, global_slot * 2 + 1));
      std::shuffle(pairs.begin(), pairs.end(), rng);
      pairs.resize(static_cast<size_t>(t.pairs_per_step));
    }
    const bool mome = config_.model.adapters.kind == "mome";
    const bool decorrelate = loss_cfg.decorrelation > 0;
    // The logged terms stay on the device and are read once, after backward() has queued the step's work: a
    // host read per term would stall the GPU between the rate pairs.
    std::vector<at::Tensor> losses, ce_terms, lb_terms, dec_terms;
    double tokens = 0;
    for (const auto& pair : pairs) {
      m->adapter_set()->ClearStats();
      const model::ModelOutput out = m->Forward(inputs, pair, decorrelate, /*labelled_logits_only=*/true);
      const at::Tensor ce = CrossEntropy(out.logits, out.labels);
      at::Tensor loss = ce;
      ce_terms.push_back(ce.detach());
      if (mome && loss_cfg.load_balancing > 0) {
        const at::Tensor lb = LoadBalancingLoss(m->adapter_set()->router_stats(), out.prompt.valid.reshape({-1}));
        lb_terms.push_back(lb.detach());
        loss = loss + loss_cfg.load_balancing * lb;
      }
      if (decorrelate) {
        const at::Tensor dec = DecorrelationLoss(out.layer_outputs, out.prompt.bos_index, out.prompt.counted,
                                                 loss_cfg.decorrelation, loss_cfg.decorrelation_layers);
        dec_terms.push_back(dec.detach());
        loss = loss + dec;
      }
      tokens += out.prompt.roles.ne(static_cast<int8_t>(model::TokenRole::kPad)).sum().item<double>();  // host
      losses.push_back(loss);
    }
    m->adapter_set()->ClearStats();
    const at::Tensor loss = MatryoshkaMean(losses);
    (loss / static_cast<double>(t.accumulation)).backward();
    std::vector<at::Tensor> logged = {loss.detach().reshape({1})};
    for (const auto* terms_of : {&ce_terms, &lb_terms, &dec_terms})
      for (const auto& v : *terms_of) logged.push_back(v.reshape({1}));
    const at::Tensor host = at::cat(logged).to(at::kDouble).cpu();
    const double* v = host.data_ptr<double>();
    double ce_sum = 0, lb_sum = 0, dec_sum = 0;
    size_t next = 1;
    for (size_t i = 0; i < ce_terms.size(); ++i) ce_sum += v[next++];
    for (size_t i = 0; i < lb_terms.size(); ++i) lb_sum += v[next++];
    for (size_t i = 0; i < dec_terms.size(); ++i) dec_sum += v[next++];
    const double n = static_cast<double>(pairs.size()) * t.accumulation;
    terms->ce += ce_sum / n;
    terms->load_balancing += lb_sum / n;
    terms->decorrelation += dec_sum / n;
    terms->loss += v[0] / t.accumulation;
    terms->tokens += tokens;
    terms->clips += static_cast<double>(clips.size());
  }

  void Evaluate(nlohmann::json* line, TrainResult* result, int64_t step) {
    const auto& t = config_.train;
    auto& m = pipeline_->model();
    pipeline_->SetTraining(false);
    const size_t n = std::min(val_->size(), static_cast<size_t>(t.eval_max_clips));
    nlohmann::json wer = nlohmann::json::object();
    double sum = 0;
    for (const auto& pair : m->rate_pairs()) {
      decode::Transcriber transcriber(
          *pipeline_, pair, decode::PipelineGenerateOptions(*pipeline_, t.eval_beam_size, t.eval_max_new_tokens));
      std::map<std::string, std::string> refs, hyps;
      for (size_t begin = rank_ * t.eval_batch_size; begin < n; begin += t.eval_batch_size * world_) {
        std::vector<data::PreparedClip> clips;
        for (size_t i = begin; i < std::min(n, begin + t.eval_batch_size); ++i) clips.push_back(val_->Load(i));
        for (auto& r : transcriber.Run(clips)) {
          refs[r.key] = r.ref;
          hyps[r.key] = r.text;
        }
      }
      const auto score = eval::ScoreCorpus(refs, hyps);
      at::Tensor counts =
          at::tensor({static_cast<double>(score.total.errors()), static_cast<double>(score.total.words)}, at::kDouble);
      if (options_.sync) options_.sync->AllReduceSum(counts);
      const double w = counts[1].item<double>() > 0 ? 100.0 * counts[0].item<double>() / counts[1].item<double>() : 0;
      wer[PairName(pair)] = w;
      sum += w;
    }
    pipeline_->SetTraining(true);
    const double mean = sum / static_cast<double>(m->rate_pairs().size());
    (*line)["wer"] = wer;
    (*line)["wer_mean"] = mean;
    log::Info("step ", step, ": validation WER ", wer.dump(), " (mean ", mean, "%)");
    if (best_wer_ < 0 || mean < best_wer_) {
      best_wer_ = mean;
      if (rank_ == 0) {
        SaveCheckpoint(options_.out_dir + "/best", pipeline_->trainable(), *optimizer_, Info(step));
        WriteFileAtomic(options_.out_dir + "/best.json",
                        nlohmann::json{{"step", step}, {"wer_mean", mean}, {"wer", wer}}.dump(2) + "\n");
      }
    }
    result->best_wer = best_wer_;
  }

  CheckpointInfo Info(int64_t step) const {
    CheckpointInfo info;
    info.config_yaml = ConfigToString(config_);
    info.base_fingerprint = fingerprint_;
    info.step = step;
    const auto p = sampler_->position();
    info.extra["sampler"] = std::to_string(p.epoch) + ":" + std::to_string(p.batch);
    if (best_wer_ >= 0) info.extra["best_wer"] = std::to_string(best_wer_);
    return info;
  }

  void Save(int64_t step) {
    if (options_.sync) options_.sync->Barrier();
    if (rank_ != 0) return;
    const std::string dir = options_.out_dir + "/checkpoints/" + CheckpointName(step);
    SaveCheckpoint(dir, pipeline_->trainable(), *optimizer_, Info(step));
    auto all = CheckpointsOf(options_.out_dir);
    while (static_cast<int64_t>(all.size()) > config_.train.keep_last) {
      RemoveTree(all.front());
      all.erase(all.begin());
    }
  }

  TrainConfig config_;
  TrainerOptions options_;
  int64_t rank_ = 0, world_ = 1;
  std::unique_ptr<data::PreparedCorpus> corpus_, val_;
  std::unique_ptr<model::AVSRPipeline> pipeline_;
  std::vector<at::Tensor> params_;
  std::vector<std::string> param_names_;
  std::vector<at::Tensor> buffers_;
  data::AugmentOptions augment_;
  std::vector<at::Tensor> noise_pool_;
  bool pool_is_noise_ = false;  // floating-point buffers of trainable modules (BatchNorm running stats)
  std::unique_ptr<FusedAdamW> optimizer_;
  CosineSchedule schedule_;
  std::unique_ptr<data::BatchSampler> sampler_;
  std::string fingerprint_;
  double best_wer_ = -1;
};

}  // namespace

std::string LatestCheckpoint(const std::string& run_dir) {
  const auto all = CheckpointsOf(run_dir);
  return all.empty() ? std::string() : all.back();
}

std::string ResolveModelDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir + "/checkpoint.json", ec)) return dir;
  if (fs::exists(dir + "/best/checkpoint.json", ec)) return dir + "/best";
  const std::string latest = LatestCheckpoint(dir);
  MOME_CHECK(!latest.empty(), ErrorCode::kNotFound, dir,
             ": no model here (expected checkpoint.json, best/ or checkpoints/step-*)");
  return latest;
}

TrainResult RunTraining(const TrainConfig& config, const TrainerOptions& options) {
  TrainingRun run(config, options);
  return run.Run();
}

}  // namespace mome::train
