// The OpenAI-compatible transcription service without the HTTP: one loaded model, requests in, responses out.
// Every request chooses its own rate pair (`model` id or audio_rate/video_rate), beam and response format; many
// requests run at once on the one model (per-request state lives in each request's Transcriber). HTTP binding:
// serve/http_server.h.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mome/decode/word_timing.h"
#include "mome/frontend/mouth_roi.h"
#include "mome/model/trained_model.h"
#include "mome/serve/batching_queue.h"

namespace mome::serve {

struct ServiceOptions {
  std::string model;  // run or checkpoint folder
  std::string device = "cpu";
  std::string roi = "precropped";  // how uploaded video becomes mouth crops
  double max_seconds = 600;        // media duration accepted
  double max_segment_seconds = 20;
  int64_t max_beam = 16;
  int64_t max_new_tokens = 64;
  int64_t max_batch = 16;    // requests decoded together at most (serve/batching_queue.h)
  int64_t max_wait_ms = 10;  // how long a request waits for others to share its batch
};

// A request as its form fields arrive (multipart/form-data), the upload's bytes in `file`.
struct TranscriptionRequest {
  std::shared_ptr<const std::string> file;
  std::string filename = "upload";
  std::map<std::string, std::string> fields;         // model, response_format, modality, audio_rate, ...
  std::vector<std::string> timestamp_granularities;  // word | segment
};

struct ServiceResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// An error as OpenAI's API gives it: {"error": {"message", "type", "param", "code"}}.
ServiceResponse ErrorResponse(int status, const std::string& message, const std::string& param = "",
                              const std::string& code = "");

class TranscriptionService {
 public:
  explicit TranscriptionService(const ServiceOptions& options);

  ServiceResponse Models() const;  // GET /v1/models: one entry per trained modality x rate pair
  ServiceResponse Transcribe(const TranscriptionRequest& request) const;  // POST /v1/audio/transcriptions
  // One id per trained pair, e.g. "mome-avsr-a4-v2".
  std::string ModelId(const model::RatePair& pair) const;
  const model::AVSRPipeline& pipeline() const { return *model_.pipeline; }
  // Prometheus lines: batch sizes and audio seconds transcribed.
  std::string MetricsText() const;

 private:
  model::RatePair PairFor(const TranscriptionRequest& r) const;  // throws mome::Error naming the field
  ServiceOptions options_;
  model::TrainedModel model_;
  frontend::MouthRoiOptions roi_;
  decode::AlignmentConfig alignment_;  // empty heads: no word timestamps
  std::unique_ptr<BatchingQueue> batcher_;
  mutable std::mutex metrics_mutex_;
  mutable std::map<size_t, int64_t> batch_sizes_;
  mutable double audio_seconds_ = 0;
};

}  // namespace mome::serve
