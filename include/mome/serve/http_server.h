// mome_serve's HTTP side (cpp-httplib, Debian libcpp-httplib-dev: a maintained single-header server with multipart
// parsing, payload limits and a thread pool — all a loopback service needs, without Boost): OpenAI's
// POST /v1/audio/transcriptions, GET /v1/models, GET /health (503 until the model is loaded), GET /metrics
// (Prometheus text). Listens on 127.0.0.1 unless told otherwise, and on any other address only with an API key,
// which every endpoint but /health then requires as "Authorization: Bearer KEY". Every request is one line on stderr.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "mome/serve/transcription_service.h"

namespace httplib {
class Server;
}

namespace mome::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (tests)
  std::string api_key;  // empty: no authentication (loopback only)
  int64_t max_upload_mb = 200;
  int64_t max_queue = 256;  // requests in flight at most; more get 503 with Retry-After
  int threads = 8;          // HTTP worker threads
};

class HttpServer {
 public:
  explicit HttpServer(const HttpOptions& options);  // refuses a non-loopback host without an API key
  ~HttpServer();
  int Bind();    // binds the socket; returns the port
  void Serve();  // blocks until Stop(): serves requests on the bound port
  void Stop();   // stops accepting; requests in flight finish
  void SetService(std::shared_ptr<const TranscriptionService> service);  // until then /health says 503
  std::string MetricsText() const;
  // Answers one raw HTTP/1.1 request (bytes as a client would send them) through the same routes, limits and
  // parsers as the socket, without one; returns the raw response. For the fuzz target and tests.
  std::string ProcessRaw(const std::string& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopback(const std::string& host);

}  // namespace mome::serve
