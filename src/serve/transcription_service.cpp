#include "mome/serve/transcription_service.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "mome/core/config.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/decode/transcribe.h"
#include "mome/decode/transcript_formats.h"
#include "mome/io/media.h"

namespace mome::serve {
namespace {

int64_t IntField(const TranscriptionRequest& r, const char* key, int64_t fallback) {
  const auto it = r.fields.find(key);
  if (it == r.fields.end() || it->second.empty()) return fallback;
  int64_t value = 0;
  MOME_CHECK(ParseInt64(it->second, &value), ErrorCode::kInvalidArgument, key, ": expected an integer, got '",
             it->second, "'");
  return value;
}

std::string Field(const TranscriptionRequest& r, const char* key, const std::string& fallback = "") {
  const auto it = r.fields.find(key);
  return it == r.fields.end() || it->second.empty() ? fallback : it->second;
}

nlohmann::json WordsJson(const std::vector<decode::WordTiming>& words) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : words)
    out.push_back({{"word", w.word}, {"start", w.start}, {"end", w.end}, {"probability", w.confidence}});
  return out;
}

// OpenAI's verbose_json: task, language, duration, text, segments (and words with the "word" granularity).
std::string VerboseJson(const decode::Transcription& t, bool words, bool segments) {
  nlohmann::json j = {{"task", "transcribe"}, {"language", "english"}, {"duration", t.audio_seconds}, {"text", t.text}};
  if (segments) {
    nlohmann::json list = nlohmann::json::array();
    auto add = [&](double start, double end, const std::string& text, double avg_logprob) {
      list.push_back({{"id", list.size()},
                      {"seek", 0},
                      {"start", start},
                      {"end", end},
                      {"text", text},
                      {"temperature", 0.0},
                      {"avg_logprob", avg_logprob},
                      {"no_speech_prob", 0.0}});
    };
    if (t.segments.empty() && !t.text.empty()) {
      double sum = 0;
      for (float lp : t.logprobs) sum += lp;
      add(0.0, t.audio_seconds, t.text, t.logprobs.empty() ? 0.0 : sum / static_cast<double>(t.logprobs.size()));
    }
    for (const auto& s : t.segments) add(s.start, s.end, s.text, s.avg_logprob);
    j["segments"] = list;
  }
  if (words) j["words"] = WordsJson(t.words);
  return j.dump();
}

}  // namespace

ServiceResponse ErrorResponse(int status, const std::string& message, const std::string& param,
                              const std::string& code) {
  const char* type =
      status >= 500 ? "server_error" : (status == 401 ? "authentication_error" : "invalid_request_error");
  nlohmann::json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  return {status, "application/json", nlohmann::json{{"error", error}}.dump()};
}

TranscriptionService::TranscriptionService(const ServiceOptions& o)
    : options_(o), model_(model::LoadTrainedModel(o.model, ParseDevice(o.device), at::kFloat)) {
  roi_.mode = o.roi;
  frontend::ValidateMouthRoi(roi_);
  if (decode::HasAlignmentConfig(model_.dir)) alignment_ = decode::LoadAlignmentConfig(model_.dir);
  batcher_ =
      std::make_unique<BatchingQueue>(*model_.pipeline, o.max_batch, o.max_wait_ms, o.max_new_tokens, &alignment_);
  batcher_->OnBatch([this](size_t n) {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    ++batch_sizes_[n];
  });
}

std::string TranscriptionService::MetricsText() const {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  std::ostringstream out;
  out << "# TYPE mome_batches_total counter\n";
  for (const auto& [size, n] : batch_sizes_) out << "mome_batches_total{size=\"" << size << "\"} " << n << "\n";
  out << "# TYPE mome_audio_seconds_total counter\nmome_audio_seconds_total " << audio_seconds_ << "\n";
  return out.str();
}

std::string TranscriptionService::ModelId(const model::RatePair& pair) const {
  std::string id = "mome-" + model_.config.model.modality;
  if (pair.audio > 0) id += "-a" + std::to_string(pair.audio);
  if (pair.video > 0) id += "-v" + std::to_string(pair.video);
  return id;
}

ServiceResponse TranscriptionService::Models() const {
  nlohmann::json data = nlohmann::json::array();
  const auto& m = *model_.pipeline->model();
  for (size_t s = 0; s < m.rate_pairs().size(); ++s) {
    const auto& pair = m.rate_pairs()[s];
    data.push_back({{"id", ModelId(pair)},
                    {"object", "model"},
                    {"owned_by", "libmome"},
                    {"audio_rate", pair.audio},
                    {"video_rate", pair.video},
                    {"active_adapter_parameters", m.adapter_set()->ActiveParameters(static_cast<int64_t>(s))},
                    {"word_timestamps", !alignment_.heads.empty()}});  // whether this model has alignment heads
  }
  return {200, "application/json", nlohmann::json{{"object", "list"}, {"data", data}}.dump()};
}

model::RatePair TranscriptionService::PairFor(const TranscriptionRequest& r) const {
  const auto& m = *model_.pipeline->model();
  const std::string id = Field(r, "model");
  model::RatePair pair = m.rate_pairs().front();
  bool known = id.empty() || id == "whisper-1";  // OpenAI's default name: the checkpoint's first pair
  for (const auto& p : m.rate_pairs())
    if (ModelId(p) == id) pair = p, known = true;
  MOME_CHECK(known, ErrorCode::kInvalidArgument, "model: '", id, "' is not one of /v1/models");
  pair.audio = IntField(r, "audio_rate", pair.audio);
  pair.video = IntField(r, "video_rate", pair.video);
  m.ScaleOf(pair);  // an untrained pair: the trained ones listed
  const std::string modality = Field(r, "modality", model_.config.model.modality);
  MOME_CHECK(modality == model_.config.model.modality, ErrorCode::kInvalidArgument, "modality: this model serves ",
             model_.config.model.modality, ", not ", modality);
  return pair;
}

ServiceResponse TranscriptionService::Transcribe(const TranscriptionRequest& r) const {
  MOME_CHECK(r.file && !r.file->empty(), ErrorCode::kInvalidArgument, "file: no media uploaded");
  const std::string format = Field(r, "response_format", "json");
  MOME_CHECK(format == "json" || format == "text" || format == "srt" || format == "vtt" || format == "verbose_json",
             ErrorCode::kInvalidArgument, "response_format: '", format,
             "' is not json, text, srt, vtt or verbose_json");
  bool want_words = format == "srt" || format == "vtt", want_segments = format == "verbose_json";
  for (const auto& g : r.timestamp_granularities) {
    MOME_CHECK(g == "word" || g == "segment", ErrorCode::kInvalidArgument, "timestamp_granularities: '", g,
               "' is not word or segment");
    want_words = want_words || g == "word";
  }
  MOME_CHECK(!want_words || !alignment_.heads.empty(), ErrorCode::kInvalidArgument,
             "word timestamps: this model has no alignment heads (run mome_align --select-heads on it)");
  const model::RatePair pair = PairFor(r);
  const int64_t beam = IntField(r, "beam_size", 1);
  MOME_CHECK(beam >= 1 && beam <= options_.max_beam, ErrorCode::kInvalidArgument, "beam_size: must be in [1, ",
             options_.max_beam, "]");
  const auto& p = *model_.pipeline;
  io::MediaDecodeOptions mo;
  mo.audio = p.uses_audio();
  mo.video = p.uses_video();
  mo.require_audio = mo.audio;
  mo.require_video = mo.video;
  mo.max_seconds = options_.max_seconds + 1;  // stops a decompression bomb early; the check below words the refusal
  io::DecodedMedia media = io::DecodeMediaFromMemory(r.file, r.filename, mo);
  MOME_CHECK(media.duration_seconds <= options_.max_seconds, ErrorCode::kInvalidArgument,
             "file: ", media.duration_seconds, " s of media; this server takes at most ", options_.max_seconds, " s");
  data::PreparedClip clip;
  clip.key = r.filename;
  clip.audio = media.audio;
  if (mo.video) clip.video = frontend::CropMouths(media.video, roi_, r.filename, {});
  torch::NoGradGuard no_grad;
  decode::Transcription t;
  if (decode::NeedsPieces(clip, options_.max_segment_seconds)) {  // long or without speech: on its own
    decode::Transcriber transcriber(p, pair, decode::PipelineGenerateOptions(p, beam, options_.max_new_tokens),
                                    want_words ? &alignment_ : nullptr);
    t = transcriber.RunLong(clip, options_.max_segment_seconds, 8);
  } else {
    t = batcher_->Submit(clip, {pair.audio, pair.video, beam, want_words});
  }
  {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    audio_seconds_ += t.audio_seconds;
  }
  if (format == "text") return {200, "text/plain; charset=utf-8", t.text + "\n"};
  if (format == "srt") return {200, "text/plain; charset=utf-8", decode::ToSrt(decode::MakeCues(t.words))};
  if (format == "vtt") return {200, "text/vtt; charset=utf-8", decode::ToVtt(decode::MakeCues(t.words))};
  if (format == "verbose_json") return {200, "application/json", VerboseJson(t, want_words, want_segments)};
  nlohmann::json j = {{"text", t.text}};
  if (want_words) j["words"] = WordsJson(t.words);
  return {200, "application/json", j.dump()};
}

}  // namespace mome::serve
