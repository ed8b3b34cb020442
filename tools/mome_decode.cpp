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
#include "mome/eval/wer.h"
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

class Decoder {
 public:
  Decoder(const CliParser& cli, model::TrainedModel& model, const ClipSet& clips)
      : model_(model), clips_(clips), batch_size_(static_cast<size_t>(cli.GetInt("--batch-size"))) {
    const auto& pipeline = *model.pipeline;
    MOME_CHECK(batch_size_ >= 1 && batch_size_ <= 4096, ErrorCode::kInvalidArgument,
               "--batch-size must be in [1, 4096], got ", cli.GetInt("--batch-size"));
    modality_ = tools::ModalityFrom(cli, pipeline, model.dir);
    pair_ = tools::RatePairFrom(cli, *pipeline.model());
    source_.audio = pipeline.uses_audio();
    source_.video = pipeline.uses_video();
    source_.roi.mode = cli.GetString("--roi");
    frontend::ValidateMouthRoi(source_.roi);
    gen_ = decode::PipelineGenerateOptions(pipeline, cli.GetInt("--beam-size"), cli.GetInt("--max-new-tokens"));
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
    decode::Transcriber transcriber(*model_.pipeline, pair_, gen_);
    std::mt19937_64 rng(1234);
    std::vector<at::Tensor> babble_pool;
    ProgressBar bar("decode", static_cast<int64_t>(clips_.size()), "clips");
    size_t done = 0;
    for (size_t begin = 0; begin < clips_.size(); begin += batch_size_) {
      std::vector<data::PreparedClip> batch;
      for (size_t i = begin; i < std::min(clips_.size(), begin + batch_size_); ++i) {
        try {
          batch.push_back(clips_.Load(i, source_));
        } catch (const std::exception& e) {
          ++stats.errors;
          if (out) *out << nlohmann::json{{"key", clips_.key(i)}, {"error", tools::FirstLine(e.what())}}.dump() << '\n';
        }
      }
      if (!std::isnan(snr_db)) AddNoise(&batch, snr_db, rng, &babble_pool);
      if (!batch.empty()) {
        const auto started = std::chrono::steady_clock::now();
        const auto results = transcriber.Run(batch);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        stats.decode_seconds += ms / 1000.0;
        for (const auto& r : results) {
          stats.latencies_ms.push_back(ms);
          stats.audio_seconds += r.audio_seconds;
          stats.tokens += static_cast<int64_t>(r.ids.size());
          ++stats.clips;
          if (!r.ref.empty()) (*refs)[r.key] = r.ref;
          (*hyps)[r.key] = r.text;
          if (out) {
            nlohmann::json j = {{"key", r.key},
                                {"text", r.text},
                                {"ids", r.ids},
                                {"logprobs", r.logprobs},
                                {"modality", modality_},
                                {"audio_rate", pair_.audio},
                                {"video_rate", pair_.video},
                                {"audio_seconds", r.audio_seconds},
                                {"decode_ms", ms / results.size()}};
            if (!r.ref.empty()) j["ref"] = r.ref;
            if (!std::isnan(snr_db)) j["snr_db"] = snr_db;
            *out << j.dump() << '\n';
          }
        }
        if (out) out->flush();
      }
      done = std::min(clips_.size(), begin + batch_size_);
      bar.Update(static_cast<int64_t>(done));
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
      .AddOption("--output", "FILE", "JSON lines here instead of stdout; sclite trn files beside it");
  if (!cli.Parse(argc, argv)) return 0;
  const ClipSet clips = tools::OpenClipSet(cli);
  for (const auto& p : clips.problems()) log::Warn("skipped ", p.where, ": ", p.reason);
  MOME_CHECK(clips.size() > 0, ErrorCode::kNotFound, "no clips to decode",
             clips.problems().empty() ? "" : " (every listed clip was skipped, see above)");
  const c10::Device device = tools::DeviceFrom(cli);
  model::TrainedModel model = model::LoadTrainedModel(cli.GetString("--model"), device, at::kFloat);
  Decoder decoder(cli, model, clips);
  const std::string output = cli.Has("--output") ? cli.GetString("--output") : "";
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
