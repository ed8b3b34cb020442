// mome_decode: transcribes clips with a trained checkpoint at a chosen (audio rate, video rate) pair.
//   mome_decode --model DIR (--data DIR [--split S] | --manifest FILE | --prepared DIR | CLIP ...) [--modality M]
//               [--audio-rate K] [--video-rate K] [--beam-size N] [--max-new-tokens N] [--batch-size N]
//               [--device cpu|cuda] [--snr DB [--noise FILE]] [--snr-sweep] [--output FILE.jsonl]
// One JSON line per clip on stdout (or --output); a summary (WER, RTF, tokens/s, latency) on stderr; sclite trn
// files next to --output. A clip that cannot be read becomes a line with an `error` field; decoding goes on.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/core/gnuplot.h"
#include "mome/core/log.h"
#include "mome/core/progress.h"
#include "mome/data/clip_source.h"
#include "mome/data/corpus.h"
#include "mome/data/noise.h"
#include "mome/data/prepared.h"
#include "mome/decode/transcribe.h"
#include "mome/decode/transcript_formats.h"
#include "mome/eval/wer.h"
#include "mome/frontend/vad.h"
#include "mome/io/media.h"
#include "mome/model/trained_model.h"
#include "tool_main.h"
#include "tool_options.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

using data::ClipSet;

struct DecodeStats {
  eval::EditCounts counts;
  bool scored = false;
  double audio_seconds = 0, decode_seconds = 0;
  int64_t tokens = 0, errors = 0, clips = 0;
  std::vector<double> latencies_ms;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(v.size() - 1, q * (v.size() - 1) + 0.5))];
}

// Where results go besides the JSON lines: one file per input (--output-dir) or stdout, in --format.
class FormatWriter {
 public:
  FormatWriter(const CliParser& cli, size_t clips, bool timestamps) : format_(cli.GetString("--format")) {
    static const char* kFormats[] = {"jsonl", "txt", "srt", "vtt", "ctm", "trn"};
    MOME_CHECK(std::find(std::begin(kFormats), std::end(kFormats), format_) != std::end(kFormats),
               ErrorCode::kInvalidArgument, "--format '", format_, "' is not one of jsonl, txt, srt, vtt, ctm, trn");
    MOME_CHECK(timestamps || (format_ != "srt" && format_ != "vtt" && format_ != "ctm"), ErrorCode::kInvalidArgument,
               "--format ", format_, " needs word times: add --timestamps");
    if (cli.Has("--output-dir")) dir_ = cli.GetString("--output-dir");
    MOME_CHECK(!dir_.empty() || format_ == "jsonl" || format_ == "ctm" || format_ == "trn" || clips == 1,
               ErrorCode::kInvalidArgument, "--format ", format_, " writes one file per input: give --output-dir DIR");
  }
  bool jsonl_on_stdout() const { return format_ == "jsonl" && dir_.empty(); }

  void Write(const decode::Transcription& r, const nlohmann::json& line) const {
    if (jsonl_on_stdout()) return;
    std::string body;
    if (format_ == "jsonl")
      body = line.dump() + "\n";
    else if (format_ == "txt")
      body = r.text + "\n";
    else if (format_ == "trn")
      body = decode::ToTrn(r.key, r.text);
    else if (format_ == "ctm")
      body = decode::ToCtm(r.key, r.words);
    else if (format_ == "srt")
      body = decode::ToSrt(decode::MakeCues(r.words));
    else
      body = decode::ToVtt(decode::MakeCues(r.words));
    if (dir_.empty()) {
      std::cout << body << std::flush;
      return;
    }
    const fs::path path = fs::path(dir_) / (r.key + "." + format_);  // keys may hold folders: SPLIT/SPEAKER/CLIP
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    MOME_CHECK(!ec, ErrorCode::kIo, path.parent_path().string(), ": cannot create (", ec.message(), ")");
    WriteFileAtomic(path.string(), body);
  }

 private:
  std::string format_, dir_;
};

nlohmann::json WordsJson(const std::vector<decode::WordTiming>& words) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : words)
    out.push_back({{"word", w.word}, {"start", w.start}, {"end", w.end}, {"confidence", w.confidence}});
  return out;
}

nlohmann::json SegmentsJson(const std::vector<decode::TranscriptSegment>& segments, bool timestamps) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    nlohmann::json j = {
        {"id", i}, {"start", s.start}, {"end", s.end}, {"text", s.text}, {"avg_logprob", s.avg_logprob}};
    if (timestamps) j["words"] = WordsJson(s.words);
    out.push_back(j);
  }
  return out;
}

class Decoder {
 public:
  Decoder(const CliParser& cli, model::TrainedModel& model, const ClipSet& clips)
      : model_(model),
        clips_(clips),
        batch_size_(static_cast<size_t>(cli.GetInt("--batch-size"))),
        max_segment_seconds_(cli.GetDouble("--max-segment-seconds")),
        timestamps_(cli.GetFlag("--timestamps")),
        writer_(cli, clips.size(), timestamps_),
        json_lines_(writer_.jsonl_on_stdout() || cli.Has("--output")) {
    const auto& pipeline = *model.pipeline;
    MOME_CHECK(batch_size_ >= 1 && batch_size_ <= 4096, ErrorCode::kInvalidArgument,
               "--batch-size must be in [1, 4096], got ", cli.GetInt("--batch-size"));
    MOME_CHECK(max_segment_seconds_ >= 1 && max_segment_seconds_ <= 30, ErrorCode::kInvalidArgument,
               "--max-segment-seconds must be in [1, 30] (Whisper's window), got ", max_segment_seconds_);
    modality_ = tools::ModalityFrom(cli, pipeline, model.dir);
    pair_ = tools::RatePairFrom(cli, *pipeline.model());
    source_.audio = pipeline.uses_audio();
    source_.video = pipeline.uses_video();
    source_.roi.mode = cli.GetString("--roi");
    frontend::ValidateMouthRoi(source_.roi);
    gen_ = decode::PipelineGenerateOptions(pipeline, cli.GetInt("--beam-size"), cli.GetInt("--max-new-tokens"));
    if (timestamps_) {
      MOME_CHECK(decode::HasAlignmentConfig(model.dir), ErrorCode::kNotFound, "--timestamps: the model ", model.dir,
                 " has no alignment heads (", decode::kAlignmentFile,
                 "); choose them once with mome_align "
                 "--select-heads --model ",
                 model.dir, " --prepared VALIDATION_CORPUS");
      alignment_ = decode::LoadAlignmentConfig(model.dir);
    }
    if (cli.Has("--noise")) {
      io::MediaDecodeOptions mo;
      mo.video = false;
      mo.require_audio = true;
      noise_ = io::DecodeMedia(cli.GetString("--noise"), mo).audio;
    }
  }

  // Decodes every clip at `snr_db` (NaN: clean); writes JSON lines to `out` when given.
  DecodeStats Run(double snr_db, std::ostream* out, std::map<std::string, std::string>* refs,
                  std::map<std::string, std::string>* hyps) {
    DecodeStats stats;
    decode::Transcriber transcriber(*model_.pipeline, pair_, gen_, timestamps_ ? &alignment_ : nullptr);
    std::mt19937_64 rng(1234);
    std::vector<at::Tensor> babble_pool;
    ProgressBar bar("decode", static_cast<int64_t>(clips_.size()), "clips");
    for (size_t begin = 0; begin < clips_.size(); begin += batch_size_) {
      std::vector<data::PreparedClip> batch = LoadBatch(begin, out, &stats);
      if (!std::isnan(snr_db)) AddNoise(&batch, snr_db, rng, &babble_pool);
      const auto started = std::chrono::steady_clock::now();
      const auto results = Transcribe(transcriber, batch);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      stats.decode_seconds += ms / 1000.0;
      for (const auto& r : results)
        Record(r, ms / static_cast<double>(results.size()), snr_db, out, &stats, refs, hyps);
      if (out) out->flush();
      bar.Update(static_cast<int64_t>(std::min(clips_.size(), begin + batch_size_)));
    }
    if (!refs->empty()) {
      stats.counts = eval::ScoreCorpus(*refs, *hyps).total;
      stats.scored = true;
    }
    return stats;
  }

  const model::RatePair& pair() const { return pair_; }
  const std::string& modality() const { return modality_; }

 private:
  std::vector<data::PreparedClip> LoadBatch(size_t begin, std::ostream* out, DecodeStats* stats) const {
    std::vector<data::PreparedClip> batch;
    for (size_t i = begin; i < std::min(clips_.size(), begin + batch_size_); ++i) {
      try {
        batch.push_back(clips_.Load(i, source_));
      } catch (const std::exception& e) {
        ++stats->errors;
        if (out) *out << nlohmann::json{{"key", clips_.key(i)}, {"error", tools::FirstLine(e.what())}}.dump() << '\n';
      }
    }
    return batch;
  }

  // Clips up to --max-segment-seconds are decoded together; longer ones piece by piece (Transcriber::RunLong).
  // A media file whose audio holds no speech gives an empty transcript without being decoded.
  std::vector<decode::Transcription> Transcribe(decode::Transcriber& transcriber,
                                                const std::vector<data::PreparedClip>& batch) const {
    std::vector<decode::Transcription> results(batch.size());
    std::vector<data::PreparedClip> short_clips;
    std::vector<size_t> short_index;
    for (size_t i = 0; i < batch.size(); ++i) {
      const data::PreparedClip& clip = batch[i];
      // Prepared corpora are decoded as they are; media files as recordings (no speech: nothing decoded).
      const bool pieces = clips_.prepared() ? decode::ClipSeconds(clip) > max_segment_seconds_
                                            : decode::NeedsPieces(clip, max_segment_seconds_);
      if (pieces) {
        results[i] = transcriber.RunLong(clip, max_segment_seconds_, static_cast<int64_t>(batch_size_));
        continue;
      }
      short_clips.push_back(clip);
      short_index.push_back(i);
    }
    if (!short_clips.empty()) {
      auto decoded = transcriber.Run(short_clips);
      for (size_t k = 0; k < decoded.size(); ++k) results[short_index[k]] = std::move(decoded[k]);
    }
    return results;
  }

  void Record(const decode::Transcription& r, double ms, double snr_db, std::ostream* out, DecodeStats* stats,
              std::map<std::string, std::string>* refs, std::map<std::string, std::string>* hyps) const {
    stats->latencies_ms.push_back(ms);
    stats->audio_seconds += r.audio_seconds;
    stats->tokens += static_cast<int64_t>(r.ids.size());
    ++stats->clips;
    if (!r.ref.empty()) (*refs)[r.key] = r.ref;
    (*hyps)[r.key] = r.text;
    nlohmann::json j = {{"key", r.key},
                        {"text", r.text},
                        {"ids", r.ids},
                        {"logprobs", r.logprobs},
                        {"modality", modality_},
                        {"audio_rate", pair_.audio},
                        {"video_rate", pair_.video},
                        {"audio_seconds", r.audio_seconds},
                        {"decode_ms", ms}};
    if (!r.ref.empty()) j["ref"] = r.ref;
    if (!std::isnan(snr_db)) j["snr_db"] = snr_db;
    if (timestamps_) j["words"] = WordsJson(r.words);
    if (!r.segments.empty()) j["segments"] = SegmentsJson(r.segments, timestamps_);
    if (out && json_lines_) *out << j.dump() << '\n';
    writer_.Write(r, j);
  }

  void AddNoise(std::vector<data::PreparedClip>* batch, double snr_db, std::mt19937_64& rng,
                std::vector<at::Tensor>* pool) {
    for (auto& clip : *batch) {
      if (!clip.audio.defined()) continue;
      at::Tensor noise = noise_;
      if (!noise.defined()) {
        if (pool->empty()) {  // babble from other clips of the set
          for (size_t i = 0; i < std::min<size_t>(clips_.size(), 32); ++i) {
            try {
              auto other = clips_.Load(i, data::ClipSourceOptions{true, false, source_.roi});
              if (other.audio.defined()) pool->push_back(other.audio);
            } catch (const std::exception&) {
            }
          }
          MOME_CHECK(!pool->empty(), ErrorCode::kInvalidArgument, "--snr: no audio to build babble from");
        }
        noise = data::MakeBabble(*pool, clip.audio.numel(), 3, rng);
      }
      clip.audio = data::MixAtSnr(clip.audio, noise, snr_db);
    }
  }

  model::TrainedModel& model_;
  const ClipSet& clips_;
  size_t batch_size_;
  double max_segment_seconds_;
  bool timestamps_;
  FormatWriter writer_;
  bool json_lines_;  // JSON lines on stdout (or --output) besides the --format files
  decode::AlignmentConfig alignment_;
  std::string modality_;
  model::RatePair pair_;
  data::ClipSourceOptions source_;
  decode::GenerateOptions gen_;
  at::Tensor noise_;
};

void WriteTrn(const std::string& path, const std::map<std::string, std::string>& texts) {
  std::ostringstream s;
  for (const auto& [key, text] : texts) s << text << " (" << key << ")\n";
  WriteFileAtomic(path, s.str());
}

void PrintSummary(const DecodeStats& s, const std::string& label) {
  std::fprintf(stderr, "%s", label.c_str());
  if (s.scored)
    std::fprintf(stderr, "WER %.2f%% (%lld errors / %lld words: sub %lld del %lld ins %lld) | ", s.counts.wer_percent(),
                 static_cast<long long>(s.counts.errors()), static_cast<long long>(s.counts.words),
                 static_cast<long long>(s.counts.sub), static_cast<long long>(s.counts.del),
                 static_cast<long long>(s.counts.ins));
  std::fprintf(stderr, "%lld clips, %lld unreadable | RTF %.4f | %.1f tokens/s | latency p50 %.1f ms p90 %.1f ms\n",
               static_cast<long long>(s.clips), static_cast<long long>(s.errors),
               s.audio_seconds > 0 ? s.decode_seconds / s.audio_seconds : 0.0,
               s.decode_seconds > 0 ? s.tokens / s.decode_seconds : 0.0, Percentile(s.latencies_ms, 0.5),
               Percentile(s.latencies_ms, 0.9));
}

int Main(int argc, char** argv) {
  CliParser cli("mome_decode", "Transcribes clips with a trained libmome checkpoint and scores them.");
  cli.AddRequired("--model", "DIR", "checkpoint folder or run folder (mome_train --out)");
  tools::AddClipSourceOptions(cli);
  tools::AddModalityOption(cli);
  tools::AddRatePairOptions(cli);
  tools::AddDeviceOption(cli);
  cli.AddOption("--beam-size", "N", "beam width (1 = greedy)", "15")
      .AddOption("--max-new-tokens", "N", "generated tokens per clip at most", "32")
      .AddOption("--batch-size", "N", "clips decoded together (results do not depend on it)", "8")
      .AddOption("--roi", "MODE", "raw clips' mouth crops: precropped | detect | landmarks", "precropped")
      .AddOption("--snr", "DB", "mix babble (or --noise) into the audio at this SNR")
      .AddOption("--noise", "FILE", "noise recording for --snr / --snr-sweep instead of babble")
      .AddFlag("--snr-sweep", "WER at SNR -5, 0, 5, 10, 15, 20 dB and clean: a table, and a PNG next to --output")
      .AddOption("--output", "FILE", "JSON lines here instead of stdout; sclite trn files beside it")
      .AddFlag("--timestamps",
               "word times and confidence: \"words\" in each JSON line (needs the model's alignment heads)")
      .AddOption("--format", "F", "jsonl | txt | srt | vtt | ctm | trn (srt, vtt and ctm need --timestamps)", "jsonl")
      .AddOption("--output-dir", "DIR", "one file per input in --format: DIR/KEY.EXT")
      .AddOption("--max-segment-seconds", "S", "longer recordings are cut at pauses into pieces of at most S s", "20");
  if (!cli.Parse(argc, argv)) return 0;
  const ClipSet clips = tools::OpenClipSet(cli);
  for (const auto& p : clips.problems()) log::Warn("skipped ", p.where, ": ", p.reason);
  MOME_CHECK(clips.size() > 0, ErrorCode::kNotFound, "no clips to decode",
             clips.problems().empty() ? "" : " (every listed clip was skipped, see above)");
  const c10::Device device = tools::DeviceFrom(cli);
  model::TrainedModel model = model::LoadTrainedModel(cli.GetString("--model"), device, at::kFloat);
  Decoder decoder(cli, model, clips);
  const std::string output = cli.Has("--output") ? cli.GetString("--output") : "";
  tools::RefuseOverwritingInputs(output, cli);
  std::unique_ptr<AtomicFile> file;
  std::ostringstream buffered;
  std::ostream* out = output.empty() ? &std::cout : &buffered;
  const std::string label = decoder.modality() + " (" + std::to_string(decoder.pair().audio) + "," +
                            std::to_string(decoder.pair().video) + ")";

  if (cli.GetFlag("--snr-sweep")) {
    const std::vector<double> snrs = {-5, 0, 5, 10, 15, 20, NAN};
    std::ostringstream table, dat;
    table << "| SNR (dB) | WER % |\n|---|---|\n";
    for (double snr : snrs) {
      std::map<std::string, std::string> refs, hyps;
      const DecodeStats s = decoder.Run(snr, nullptr, &refs, &hyps);
      MOME_CHECK(s.scored, ErrorCode::kInvalidArgument, "--snr-sweep needs clips with reference transcripts");
      const std::string name = std::isnan(snr) ? "clean" : std::to_string(static_cast<int>(snr));
      table << "| " << name << " | " << s.counts.wer_percent() << " |\n";
      if (!std::isnan(snr)) dat << snr << ' ' << s.counts.wer_percent() << '\n';
      PrintSummary(s, label + " SNR " + name + ": ");
    }
    std::cout << table.str();
    if (!output.empty()) {
      WriteFileAtomic(output, table.str());
      WriteFileAtomic(output + ".dat", dat.str());
      RunGnuplot("set terminal pngcairo size 800,500\nset output '" + output +
                     ".png'\nset grid\n"
                     "set xlabel 'SNR (dB)'\nset ylabel 'WER (%)'\nset title '" +
                     label +
                     " WER vs SNR'\n"
                     "plot '" +
                     output + ".dat' using 1:2 with linespoints lw 2 title 'babble'\n",
                 output + ".png");
    }
    return 0;
  }

  std::map<std::string, std::string> refs, hyps;
  const double snr = cli.Has("--snr") ? cli.GetDouble("--snr") : NAN;
  const DecodeStats stats = decoder.Run(snr, out, &refs, &hyps);
  // Policy: a run that decoded nothing (every clip unreadable) fails, so a script can tell; its lines say why.
  MOME_CHECK(stats.clips > 0, ErrorCode::kInvalidArgument, "none of the ", clips.size(), " clips could be decoded");
  if (!output.empty()) {
    WriteFileAtomic(output, buffered.str());
    const std::string stem =
        output.substr(0, output.rfind(".jsonl") == std::string::npos ? output.size() : output.rfind(".jsonl"));
    WriteTrn(stem + ".hyp.trn", hyps);
    if (!refs.empty()) WriteTrn(stem + ".ref.trn", refs);
  }
  PrintSummary(stats, "mome_decode: " + label + ": ");
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_decode", [&] { return mome::Main(argc, argv); });
}
