#include "mome/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "mome/core/atomic_file.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/core/progress.h"
#include "mome/data/batch_sampler.h"
#include "mome/data/clip_sequence.h"
#include "mome/data/featurizer.h"
#include "mome/data/prepared.h"
#include "mome/io/checkpoint.h"
#include "mome/io/media.h"
#include "mome/io/safetensors.h"
#include "mome/model/avsr_pipeline.h"
#include "mome/train/fused_adamw.h"
#include "mome/train/matryoshka_loss.h"
#include "mome/train/plots.h"
#include "mome/train/schedule.h"
#include "mome/train/training_state.h"
#include "train/run_files.h"

namespace mome::train {
namespace fs = std::filesystem;
namespace {

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

// Paths in the config made absolute, so a checkpoint names its base model wherever it is used from.
void AbsolutePaths(model::ModelConfig* c) {
  for (std::string* p : {&c->llm.path, &c->audio_encoder.path, &c->video_encoder.path})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal().string();
}

// The logged terms of one step (means over rate pairs and micro-batches; tokens and clips: sums).
struct StepTerms {
  double ce = 0, load_balancing = 0, decorrelation = 0, loss = 0, tokens = 0, clips = 0;
  void Add(const StepTerms& o) {
    ce += o.ce, load_balancing += o.load_balancing, decorrelation += o.decorrelation, loss += o.loss;
    tokens += o.tokens, clips += o.clips;
  }
};

// Terms summed over the steps since the last logged line.
struct LogWindow {
  StepTerms sum;
  int64_t steps = 0;
  double seconds = 0;
  nlohmann::json Line(int64_t step, int64_t epoch, double lr, double grad_norm) const {
    const double n = static_cast<double>(steps);
    return {{"step", step},
            {"epoch", epoch},
            {"loss", sum.loss / n},
            {"ce", sum.ce / n},
            {"load_balancing", sum.load_balancing / n},
            {"decorrelation", sum.decorrelation / n},
            {"lr", lr},
            {"grad_norm", grad_norm},
            {"tokens_per_s", sum.tokens / seconds},
            {"clips_per_s", sum.clips / seconds}};
  }
};

// Noise for augmentation: the recordings of train.noise (a file or a folder of them), decoded once.
std::vector<at::Tensor> NoiseRecordings(const std::string& path) {
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  MOME_CHECK(!files.empty(), ErrorCode::kNotFound, "train.noise: ", path, " holds no files");
  io::MediaDecodeOptions mo;
  mo.video = false;
  mo.require_audio = true;
  std::vector<at::Tensor> pool;
  for (const auto& f : files) pool.push_back(io::DecodeMedia(f, mo).audio);
  return pool;
}

data::AugmentOptions AugmentOptionsOf(const TrainSection& t) {
  MOME_CHECK(t.noise_prob >= 0 && t.noise_prob <= 1 && t.snr_min <= t.snr_max, ErrorCode::kInvalidArgument,
             "train.noise_prob must be in [0, 1] and train.snr_min <= train.snr_max");
  data::AugmentOptions a;
  a.noise_prob = t.noise_prob;
  a.snr_min = t.snr_min;
  a.snr_max = t.snr_max;
  a.audio_masks = t.audio_time_masks;
  a.audio_mask_max_seconds = t.audio_mask_seconds;
  a.video_masks = t.video_time_masks;
  a.video_mask_max_frames = t.video_mask_frames;
  a.audio_drop_prob = t.audio_drop_prob;
  return a;
}

class TrainingRun {
 public:
  TrainingRun(const TrainConfig& config, const TrainerOptions& options);
  TrainResult Run();

 private:
  void OpenCorpus();
  void BuildModel();
  void InitFrom(const std::vector<std::string>& sources);
  void BuildOptimizer();
  void BuildSampler();
  void SetUpNoisePool();
  int64_t Resume();
  StepTerms Step(int64_t step, double* grad_norm);
  StepTerms Accumulate(int64_t step, int64_t slot);
  std::vector<model::RatePair> PairsOfStep(int64_t step, int64_t global_slot) const;
  void SyncTerms(StepTerms* terms) const;
  void SyncGradients();
  double Clip(int64_t step) const;
  void Evaluate(nlohmann::json* line, TrainResult* result, int64_t step);
  io::CheckpointInfo Info(int64_t step) const;
  void Save(int64_t step);
  void CheckRanksInSync(TrainResult* result) const;
  bool StopRequested() const { return options_.stop && options_.stop->load(); }
  int64_t CountTrainable() const;

  TrainConfig config_;
  TrainerOptions options_;
  int64_t rank_ = 0, world_ = 1;
  std::unique_ptr<data::PreparedCorpus> corpus_;
  std::unique_ptr<model::AVSRPipeline> pipeline_;
  std::vector<at::Tensor> params_;
  std::vector<std::string> param_names_;
  std::vector<at::Tensor> buffers_;  // floating-point buffers of trainable modules (BatchNorm running stats)
  data::AugmentOptions augment_;
  data::SequenceOptions sequences_;
  std::vector<at::Tensor> noise_pool_;
  bool pool_is_noise_ = false;
  std::unique_ptr<FusedAdamW> optimizer_;
  CosineSchedule schedule_;
  std::unique_ptr<data::BatchSampler> sampler_;
  std::string fingerprint_;
  double best_wer_ = -1;
  CheckpointManager checkpoints_;
};

TrainingRun::TrainingRun(const TrainConfig& config, const TrainerOptions& options)
    : config_(config), options_(options), checkpoints_(options.out_dir, config.train.keep_last) {
  rank_ = options.sync ? options.sync->rank() : 0;
  world_ = options.sync ? options.sync->world_size() : 1;
  AbsolutePaths(&config_.model);
  OpenCorpus();
  BuildModel();
  if (!config_.train.init_from.empty()) InitFrom(config_.train.init_from);
  BuildOptimizer();
  BuildSampler();
  fingerprint_ = pipeline_->BaseFingerprint();
  augment_ = AugmentOptionsOf(config_.train);
  sequences_ = {config_.train.join_prob, config_.train.pause_max_seconds, config_.train.pad_max_seconds,
                config_.train.join_max_seconds, config_.train.join_in_batch};
  SetUpNoisePool();
}

void TrainingRun::OpenCorpus() {
  const auto& t = config_.train;
  MOME_CHECK(!t.data.empty(), ErrorCode::kInvalidArgument, "train.data: the prepared training corpus is not set");
  corpus_ = std::make_unique<data::PreparedCorpus>(data::PreparedCorpus::Open(t.data));
  MOME_CHECK(corpus_->size() > 0, ErrorCode::kInvalidArgument, t.data, ": the training corpus has no clips");
  if (!t.val_data.empty() && !options_.validator)
    log::Warn("train.val_data is set but no validator was given: training without validation");
}

void TrainingRun::BuildModel() {
  const auto& t = config_.train;
  model::PipelineOptions po;
  po.device = ParseDevice(t.device);
  const bool bf16 = t.precision == "bf16" || (t.precision == "auto" && po.device.is_cuda());
  po.dtype = bf16 ? at::kBFloat16 : at::kFloat;
  po.seed = static_cast<uint64_t>(t.seed);
  pipeline_ = std::make_unique<model::AVSRPipeline>(config_.model, po);
  config_.model = pipeline_->config();  // with the encoder widths resolved
}

// train.init_from: copies every trainable tensor (parameters and buffers) that one of the other runs also has, with
// the same shape, from the first run in the list that has it; the rest keep their fresh initialisation. A run saves
// only what it trained, so a stage that froze a module (the demo's lip-reading stage freezes the audio encoder) has
// to be followed by a list that names where that module was trained. A later --resume overrides all of it.
void TrainingRun::InitFrom(const std::vector<std::string>& sources) {
  std::vector<std::string> dirs;
  std::vector<std::shared_ptr<const io::SafetensorsFile>> files;
  for (const auto& from : sources) {
    dirs.push_back(io::ResolveModelDir(from));
    files.push_back(io::SafetensorsFile::Open(dirs.back() + "/trainable.safetensors"));
  }
  std::vector<int64_t> copied(files.size(), 0);
  int64_t absent = 0, reshaped = 0;
  torch::NoGradGuard no_grad;
  auto take = [&](const std::string& name, at::Tensor& target) {
    bool other_shape = false;
    for (size_t i = 0; i < files.size(); ++i) {
      if (!files[i]->Has(name)) continue;
      const at::Tensor source = files[i]->Get(name);
      if (source.sizes() != target.sizes()) {
        other_shape = true;
        continue;
      }
      target.copy_(source.to(target.device(), target.scalar_type()));
      return void(++copied[i]);
    }
    ++(other_shape ? reshaped : absent);
  };
  for (auto& p : pipeline_->trainable().named_parameters()) take(p.key(), p.value());
  for (auto& b : pipeline_->trainable().named_buffers()) take(b.key(), b.value());
  for (size_t i = 0; i < files.size(); ++i)
    MOME_CHECK(copied[i] > 0, ErrorCode::kInvalidArgument, "train.init_from: ", sources[i],
               i == 0 ? " has no tensor of this model (names and shapes differ everywhere)"
                      : " adds no tensor that the folders before it lack");
  for (size_t i = 0; i < files.size(); ++i) log::Info("initialised ", copied[i], " tensors from ", dirs[i]);
  log::Info("init_from: ", absent, " tensors in none of them, ", reshaped,
            " of another shape keep their initialisation");
}

void TrainingRun::BuildOptimizer() {
  const auto& t = config_.train;
  for (auto& p : pipeline_->trainable().named_parameters())
    if (p.value().requires_grad()) params_.push_back(p.value()), param_names_.push_back(p.key());
  for (auto& b : pipeline_->trainable().buffers())
    if (b.is_floating_point()) buffers_.push_back(b);
  MOME_CHECK(!params_.empty(), ErrorCode::kInvalidArgument, "nothing to train: every parameter is frozen");
  optimizer_ = std::make_unique<FusedAdamW>(
      params_, torch::optim::AdamWOptions(t.lr).betas({t.betas[0], t.betas[1]}).weight_decay(t.weight_decay));
  schedule_ = CosineSchedule{t.lr, t.min_lr, t.warmup_steps, t.max_steps};
}

void TrainingRun::BuildSampler() {
  const auto& t = config_.train;
  std::vector<int64_t> frames;
  for (const auto& e : corpus_->entries())
    frames.push_back(e.n_frames > 0 ? e.n_frames : std::max<int64_t>(1, e.n_samples / 640));
  data::BatchSamplerOptions so;
  so.max_frames = t.max_frames;
  so.seed = static_cast<uint64_t>(t.seed);
  so.rank = rank_;
  so.world_size = world_;
  sampler_ = std::make_unique<data::BatchSampler>(frames, so);
}

// The recordings of train.noise, or (empty) babble from up to 64 training utterances chosen by the seed, so
// every process builds the same pool.
void TrainingRun::SetUpNoisePool() {
  const auto& t = config_.train;
  if (t.noise_prob <= 0) return;
  if (!t.noise.empty()) {
    noise_pool_ = NoiseRecordings(t.noise);
    pool_is_noise_ = true;
    return;
  }
  std::mt19937_64 rng(DerivedSeed(t.seed, -1, 0));
  for (int i = 0; i < 64 && static_cast<size_t>(i) < corpus_->size(); ++i) {
    const auto clip = corpus_->Load(static_cast<size_t>(rng() % corpus_->size()));
    if (clip.audio.defined() && clip.audio.numel() > 0) noise_pool_.push_back(clip.audio.to(at::kFloat));
  }
}

// The step to continue from: that of the latest checkpoint with --resume, else 0.
int64_t TrainingRun::Resume() {
  if (!options_.resume) return 0;
  const std::string latest = checkpoints_.Latest();
  if (latest.empty()) {
    log::Warn(options_.out_dir, ": --resume but no checkpoint yet; starting from step 0");
    return 0;
  }
  const io::CheckpointInfo info = io::LoadCheckpoint(latest, pipeline_->trainable(), *optimizer_, fingerprint_);
  const TrainingState state = ReadTrainingState(info, latest);
  sampler_->Restore(state.sampler);
  best_wer_ = state.best_wer;
  log::Info("resumed from ", latest, " at step ", state.step);
  return state.step;
}

TrainResult TrainingRun::Run() {
  const auto& t = config_.train;
  const std::string& dir = options_.out_dir;
  if (rank_ == 0) {  // (the other ranks would see rank 0's new files)
    CheckRunFolder(dir, options_.resume);
    io::RemoveCheckpointLeftovers(dir);
    RemoveDeadTempFiles(dir);
  }
  std::error_code ec;
  fs::create_directories(dir + "/checkpoints", ec);
  MOME_CHECK(!ec, ErrorCode::kIo, dir, ": cannot create the output folder (", ec.message(), ")");
  int64_t step = Resume();
  MetricsWriter metrics(dir, step, rank_ == 0);
  if (rank_ == 0) WriteConfigFile(dir + "/config.yaml", config_);
  log::Info("training ", params_.size(), " tensors (", CountTrainable(), " parameters) on ", corpus_->size(),
            " clips, ", world_, " process(es), steps ", step, " -> ", t.max_steps);
  ProgressBar bar("train", t.max_steps, "steps");
  bar.Resume(step);
  TrainResult result;
  int64_t last_saved = step;
  LogWindow window;
  while (step < t.max_steps) {
    const auto started = std::chrono::steady_clock::now();
    const double lr = schedule_.LearningRate(step);
    double grad_norm = 0;
    const StepTerms terms = Step(step, &grad_norm);
    ++step;
    window.sum.Add(terms);
    ++window.steps;
    window.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const bool stop = StopRequested();
    const bool checkpoint = step % t.checkpoint_every == 0 || step == t.max_steps || stop;
    const int64_t eval_every = t.eval_every > 0 ? t.eval_every : t.checkpoint_every;
    const bool evaluate = options_.validator && (step % eval_every == 0 || step == t.max_steps);
    nlohmann::json line;
    if (step % t.log_every == 0 || evaluate || checkpoint) {
      line = window.Line(step, sampler_->position().epoch, lr, grad_norm);
      window = LogWindow();
    }
    if (evaluate) Evaluate(&line, &result, step);
    if (!line.is_null()) metrics.Append(line);
    char status[160];
    std::snprintf(status, sizeof status, "| loss %.4f lr %.2e", terms.loss, lr);
    if (rank_ == 0) bar.Update(step, status);
    if (checkpoint) Save(step), last_saved = step;
    if (stop) {
      log::Warn("stop requested: checkpoint written at step ", step, "; stopping");
      result.interrupted = true;
      break;
    }
  }
  if (last_saved != step) Save(step);
  if (options_.sync) CheckRanksInSync(&result);
  result.steps_done = step;
  metrics.Close();
  if (rank_ == 0) PlotMetrics(metrics.path(), dir);
  return result;
}

// One optimiser step: accumulated micro-batches, gradients averaged over processes, clipped, AdamW.
StepTerms TrainingRun::Step(int64_t step, double* grad_norm) {
  const auto& t = config_.train;
  const double lr = schedule_.LearningRate(step);
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  optimizer_->zero_grad();
  StepTerms terms;
  for (int64_t a = 0; a < t.accumulation; ++a) terms.Add(Accumulate(step, a));
  SyncTerms(&terms);
  SyncGradients();
  *grad_norm = Clip(step + 1);
  optimizer_->step();
  if (options_.sync && !buffers_.empty()) {
    // BatchNorm running statistics saw only this process's batches: average them so every process (and the
    // checkpoint) holds the same model, as DDP's buffer broadcast does.
    torch::NoGradGuard no_grad;
    options_.sync->AllReduceMean(buffers_);
  }
  return terms;
}

// Logged terms: the mean over processes; tokens and clips: the sum.
void TrainingRun::SyncTerms(StepTerms* terms) const {
  if (!options_.sync) return;
  at::Tensor v = at::tensor(
      {terms->ce, terms->load_balancing, terms->decorrelation, terms->loss, terms->tokens, terms->clips}, at::kDouble);
  options_.sync->AllReduceSum(v);
  const auto* d = v.data_ptr<double>();
  const double w = static_cast<double>(world_);
  terms->ce = d[0] / w, terms->load_balancing = d[1] / w, terms->decorrelation = d[2] / w, terms->loss = d[3] / w;
  terms->tokens = d[4], terms->clips = d[5];
}

void TrainingRun::SyncGradients() {
  std::vector<at::Tensor> grads;
  for (auto& p : params_) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  if (options_.sync) options_.sync->AllReduceMean(grads);
}

// Clipping (matryoshka_loss.h); a non-finite norm is logged with the tensors responsible.
double TrainingRun::Clip(int64_t step) const {
  const double total = ClipGradients(params_, config_.train.grad_clip);
  if (std::isfinite(total)) return total;
  std::string names;
  for (size_t i = 0, shown = 0; i < params_.size() && shown < 5; ++i)
    if (!at::isfinite(params_[i].grad()).all().item<bool>()) names += " " + param_names_[i], ++shown;
  log::Warn("step ", step, ": non-finite gradient norm; tensors with NaN/inf gradients:", names);
  return total;
}

// The rate pairs of one micro-batch: all, or train.pairs_per_step of them drawn from the step's seed.
std::vector<model::RatePair> TrainingRun::PairsOfStep(int64_t step, int64_t global_slot) const {
  const auto& t = config_.train;
  std::vector<model::RatePair> pairs = pipeline_->model()->rate_pairs();
  if (t.pairs_per_step > 0 && t.pairs_per_step < static_cast<int64_t>(pairs.size())) {
    std::mt19937_64 rng(DerivedSeed(t.seed, step, global_slot * 2 + 1));
    std::shuffle(pairs.begin(), pairs.end(), rng);
    pairs.resize(static_cast<size_t>(t.pairs_per_step));
  }
  return pairs;
}

StepTerms TrainingRun::Accumulate(int64_t step, int64_t slot) {
  const auto& t = config_.train;
  std::vector<int64_t> indices;
  sampler_->Next(&indices);
  std::vector<data::PreparedClip> clips;
  for (int64_t i : indices) clips.push_back(corpus_->Load(static_cast<size_t>(i)));
  // The global micro-batch index: N processes with accumulation A see the same augmentation as one process
  // with accumulation N*A (process r's micro-batch a is the global one a*N + r, as the sampler deals them).
  const int64_t global_slot = slot * world_ + rank_;
  if (sequences_.any()) {  // its own random stream: runs without it draw exactly what they drew before
    constexpr uint64_t kSequenceStream = 0x5E9E4CE5ULL;  // apart from the pairs' stream of the same slot
    std::mt19937_64 rng(DerivedSeed(t.seed, step, global_slot * 2 + 1) ^ kSequenceStream);
    data::AugmentSequences(
        &clips, sequences_,
        [&](std::mt19937_64& pick) { return corpus_->Load(static_cast<size_t>(pick() % corpus_->size())); }, rng);
  }
  data::FeaturizeOptions fo;
  fo.training = true;
  fo.augment_seed = DerivedSeed(t.seed, step, global_slot * 2);
  fo.with_transcripts = true;
  fo.augment = &augment_;
  fo.noise_pool = &noise_pool_;
  fo.pool_is_noise = pool_is_noise_;
  pipeline_->SetTraining(true);
  const model::ModelInputs inputs = data::Featurize(*pipeline_, clips, fo);
  const std::vector<model::RatePair> pairs = PairsOfStep(step, global_slot);
  const MatryoshkaTerms m = MatryoshkaLoss(*pipeline_->model(), inputs, pairs, config_.model.loss);
  (m.loss / static_cast<double>(t.accumulation)).backward();
  // The logged terms stay on the device until backward() has queued the step's work, then one host read: a read
  // per term would stall the GPU between the rate pairs.
  std::vector<at::Tensor> logged = {m.loss.detach().reshape({1})};
  for (const auto* terms_of : {&m.ce, &m.load_balancing, &m.decorrelation})
    for (const auto& v : *terms_of) logged.push_back(v.reshape({1}));
  const at::Tensor host = at::cat(logged).to(at::kDouble).cpu();
  const double* v = host.data_ptr<double>();
  double sums[3] = {0, 0, 0};
  size_t next = 1;
  int which = 0;
  for (const auto* terms_of : {&m.ce, &m.load_balancing, &m.decorrelation}) {
    for (size_t i = 0; i < terms_of->size(); ++i) sums[which] += v[next++];
    ++which;
  }
  const double n = static_cast<double>(pairs.size()) * t.accumulation;
  StepTerms terms;
  terms.ce = sums[0] / n, terms.load_balancing = sums[1] / n, terms.decorrelation = sums[2] / n;
  terms.loss = v[0] / t.accumulation;
  terms.tokens = m.tokens;
  terms.clips = static_cast<double>(clips.size());
  return terms;
}

void TrainingRun::Evaluate(nlohmann::json* line, TrainResult* result, int64_t step) {
  const auto& pairs = pipeline_->model()->rate_pairs();
  pipeline_->SetTraining(false);
  nlohmann::json wer = nlohmann::json::object();
  double sum = 0;
  for (const auto& pair : pairs) {
    const ValidationCounts c = options_.validator->Score(*pipeline_, pair, rank_, world_);
    at::Tensor counts = at::tensor({static_cast<double>(c.errors), static_cast<double>(c.words)}, at::kDouble);
    if (options_.sync) options_.sync->AllReduceSum(counts);
    const double w = counts[1].item<double>() > 0 ? 100.0 * counts[0].item<double>() / counts[1].item<double>() : 0;
    wer[PairName(pair)] = w;
    sum += w;
  }
  pipeline_->SetTraining(true);
  const double mean = sum / static_cast<double>(pairs.size());
  (*line)["wer"] = wer;
  (*line)["wer_mean"] = mean;
  log::Info("step ", step, ": validation WER ", wer.dump(), " (mean ", mean, "%)");
  if (best_wer_ < 0 || mean < best_wer_) {
    best_wer_ = mean;
    if (rank_ == 0)
      checkpoints_.SaveBest(pipeline_->trainable(), *optimizer_, Info(step),
                            nlohmann::json{{"step", step}, {"wer_mean", mean}, {"wer", wer}});
  }
  result->best_wer = best_wer_;
}

io::CheckpointInfo TrainingRun::Info(int64_t step) const {
  io::CheckpointInfo info;
  info.config_yaml = ConfigToString(config_);
  info.base_fingerprint = fingerprint_;
  StoreTrainingState({step, sampler_->position(), best_wer_}, &info);
  return info;
}

void TrainingRun::Save(int64_t step) {
  if (options_.sync) options_.sync->Barrier();
  if (rank_ == 0) checkpoints_.Save(pipeline_->trainable(), *optimizer_, Info(step));
}

int64_t TrainingRun::CountTrainable() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  return n;
}

// Every process must hold the same parameters after the same steps; a per-tensor checksum summed over the
// processes equals world x the local one exactly when they agree.
void TrainingRun::CheckRanksInSync(TrainResult* result) const {
  std::vector<double> local;
  for (const auto& p : params_) local.push_back(p.detach().to(at::kDouble).abs().sum().item<double>());
  at::Tensor sums = at::tensor(local, at::kDouble);
  options_.sync->AllReduceSum(sums);
  const double diff = (sums - at::tensor(local, at::kDouble) * static_cast<double>(world_)).abs().max().item<double>();
  result->ranks_in_sync = diff <= 1e-9 * (1.0 + sums.abs().max().item<double>());
  if (!result->ranks_in_sync) log::Err("rank ", rank_, ": parameters differ from the other processes' (", diff, ")");
}

}  // namespace

void CheckRunFolder(const std::string& dir, bool resume) {
  MOME_CHECK(resume || (!fs::exists(dir + "/metrics.jsonl") && io::LatestCheckpoint(dir).empty()),
             ErrorCode::kInvalidArgument, dir,
             ": already holds a training run; pass --resume to continue it, or choose another --out");
}

TrainResult RunTraining(const TrainConfig& config, const TrainerOptions& options) {
  TrainingRun run(config, options);
  return run.Run();
}

}  // namespace mome::train
