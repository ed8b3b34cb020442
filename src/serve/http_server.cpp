#include "mome/serve/http_server.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "mome/core/error.h"
#include "mome/core/log.h"

namespace mome::serve {

// The page served at GET / (src/serve/web/index.html, embedded by CMakeLists.txt).
extern const unsigned char kWebPage[];
extern const size_t kWebPageSize;

namespace {

const std::set<std::string> kKnownFields = {"file",       "model",      "response_format", "timestamp_granularities[]",
                                            "language",   "prompt",     "temperature",     "modality",
                                            "audio_rate", "video_rate", "beam_size"};
constexpr double kLatencyBuckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void Send(httplib::Response& res, const ServiceResponse& r) {
  res.status = r.status;
  res.set_content(r.body, r.content_type.c_str());
}

// Why httplib refused a request on its own, for the JSON error body.
std::string HttpErrorMessage(int status) {
  switch (status) {
    case 400: return "malformed HTTP request";
    case 404: return "no such endpoint (see /v1/models, /v1/audio/transcriptions, /health, /metrics)";
    case 405: return "method not allowed on this endpoint";
    case 413: return "request body larger than the server's --max-upload-mb";
    case 414: return "request URI too long";
    default: return "HTTP error " + std::to_string(status);
  }
}

// The request's form fields; unknown fields are refused (a typo would otherwise be silently ignored).
TranscriptionRequest ParseForm(const httplib::Request& req) {
  TranscriptionRequest r;
  for (const auto& [name, part] : req.files) {
    MOME_CHECK(kKnownFields.count(name), ErrorCode::kInvalidArgument, name, ": unknown field");
    if (name == "file") {
      r.file = std::make_shared<const std::string>(part.content);
      if (!part.filename.empty()) r.filename = part.filename;
    } else if (name == "timestamp_granularities[]") {
      r.timestamp_granularities.push_back(part.content);
    } else {
      r.fields[name] = part.content;
    }
  }
  return r;
}

// One request's bytes in, the response's bytes out: httplib's Stream over memory.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(const std::string& in) : in_(in) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - read_);
    std::memcpy(ptr, in_.data() + read_, n);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 0; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 0; }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& written() const { return out_; }

 private:
  const std::string& in_;
  size_t read_ = 0;
  std::string out_;
};

// httplib's Server with its per-connection request handling reachable for one in-memory request.
class RawCapableServer : public httplib::Server {
 public:
  std::string ProcessRaw(const std::string& request) {
    MemoryStream stream(request);
    bool closed = false;
    process_request(stream, true, closed, nullptr);
    return stream.written();
  }
};

}  // namespace

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

class HttpServer::Impl {
 public:
  explicit Impl(const HttpOptions& o) : options_(o) {
    MOME_CHECK(IsLoopback(o.host) || !o.api_key.empty(), ErrorCode::kInvalidArgument, "--host ", o.host,
               ": listening beyond this machine needs --api-key KEY (or MOME_API_KEY)");
    MOME_CHECK(o.max_upload_mb >= 1 && o.max_queue >= 1 && o.threads >= 1, ErrorCode::kInvalidArgument,
               "--max-upload-mb, --max-queue and --threads must be positive");
    server_.new_task_queue = [n = o.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    server_.set_payload_max_length(static_cast<size_t>(o.max_upload_mb) * 1024 * 1024);
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { Log(req, res); });
    // What httplib refuses itself (unknown path, oversized or malformed request) gets an OpenAI error body too.
    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      Send(res, ErrorResponse(res.status, HttpErrorMessage(res.status)));
      return httplib::Server::HandlerResponse::Handled;
    }));
    Routes();
  }

  int Bind() {
    if (options_.port == 0) return port_ = server_.bind_to_any_port(options_.host);
    MOME_CHECK(server_.bind_to_port(options_.host, options_.port), ErrorCode::kIo, "cannot listen on ", options_.host,
               ":", options_.port, " (in use?)");
    return port_ = options_.port;
  }
  void Serve() {
    serve_started_ = true;
    if (!stop_requested_) server_.listen_after_bind();
    serving_done_ = true;
  }
  // httplib's stop() does nothing before its accept loop runs, so a Stop() that comes first (the model failed to
  // load at once) would leave Serve() listening for ever: repeat it until Serve() has returned.
  void Stop() {
    stop_requested_ = true;
    while (serve_started_ && !serving_done_) {
      server_.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void SetService(std::shared_ptr<const TranscriptionService> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    service_ = std::move(s);
  }
  std::string MetricsText() const;
  std::string ProcessRaw(const std::string& request) { return server_.ProcessRaw(request); }

 private:
  std::shared_ptr<const TranscriptionService> Service() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return service_;
  }
  bool Authorised(const httplib::Request& req, httplib::Response& res) const {
    if (options_.api_key.empty() || req.get_header_value("Authorization") == "Bearer " + options_.api_key) return true;
    Send(res, ErrorResponse(401, "missing or wrong API key (Authorization: Bearer KEY)", "", "invalid_api_key"));
    return false;
  }
  void Routes();
  void Transcribe(const httplib::Request& req, httplib::Response& res);
  void Log(const httplib::Request& req, const httplib::Response& res);

  HttpOptions options_;
  RawCapableServer server_;
  int port_ = 0;
  mutable std::mutex mutex_;  // service_ and the metrics
  std::shared_ptr<const TranscriptionService> service_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> serve_started_{false}, stop_requested_{false}, serving_done_{false};
  std::map<int, int64_t> requests_by_status_;
  std::vector<int64_t> latency_counts_ = std::vector<int64_t>(std::size(kLatencyBuckets) + 1, 0);
  double latency_sum_ = 0;
};

void HttpServer::Impl::Routes() {
  // The page is public like /health (it holds no data); its API calls carry the key the user types in.
  server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self' blob:; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
    res.set_content(reinterpret_cast<const char*>(kWebPage), kWebPageSize, "text/html; charset=utf-8");
  });
  server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (Service()) return Send(res, {200, "application/json", R"({"status":"ok"})"});
    Send(res, {503, "application/json", R"({"status":"loading"})"});
  });
  server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!Authorised(req, res)) return;
    const auto s = Service();
    Send(res, s ? s->Models() : ErrorResponse(503, "the model is loading"));
  });
  server_.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    if (Authorised(req, res)) res.set_content(MetricsText(), "text/plain; version=0.0.4");
  });
  server_.Post("/v1/audio/transcriptions",
               [this](const httplib::Request& req, httplib::Response& res) { Transcribe(req, res); });
}

void HttpServer::Impl::Transcribe(const httplib::Request& req, httplib::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  if (!Authorised(req, res)) return;
  if (!req.is_multipart_form_data())
    return Send(res, ErrorResponse(415, "expected multipart/form-data with a \"file\" field", "file"));
  TranscriptionRequest request;
  try {
    request = ParseForm(req);  // a malformed request is refused even while the model loads
  } catch (const Error& e) {
    return Send(res, ErrorResponse(400, e.what()));
  }
  const auto service = Service();
  if (!service) return Send(res, ErrorResponse(503, "the model is loading"));
  if (++in_flight_ > options_.max_queue) {
    --in_flight_;
    res.set_header("Retry-After", "1");
    return Send(res, ErrorResponse(503, "too many requests in flight; retry later", "", "overloaded"));
  }
  try {
    Send(res, service->Transcribe(request));
  } catch (const Error& e) {
    const bool client = e.code() != ErrorCode::kInternal && e.code() != ErrorCode::kIo;
    Send(res, ErrorResponse(client ? 400 : 500, e.what()));
  } catch (const std::exception& e) {
    Send(res, ErrorResponse(500, std::string("internal error: ") + e.what()));
  }
  --in_flight_;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard<std::mutex> lock(mutex_);
  size_t bucket = 0;
  while (bucket < std::size(kLatencyBuckets) && seconds > kLatencyBuckets[bucket]) ++bucket;
  ++latency_counts_[bucket];
  latency_sum_ += seconds;
}

void HttpServer::Impl::Log(const httplib::Request& req, const httplib::Response& res) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_by_status_[res.status];
  std::fprintf(stderr, "mome_serve: %s %s %d %zu bytes in, %zu out\n", req.method.c_str(), req.path.c_str(), res.status,
               req.body.size(), res.body.size());
}

std::string HttpServer::Impl::MetricsText() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# TYPE mome_requests_total counter\n";
  for (const auto& [status, n] : requests_by_status_)
    out << "mome_requests_total{status=\"" << status << "\"} " << n << "\n";
  out << "# TYPE mome_requests_in_flight gauge\nmome_requests_in_flight " << in_flight_.load() << "\n";
  // Transcription latency, seconds (a Prometheus histogram: cumulative buckets).
  out << "# TYPE mome_transcription_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t b = 0; b < std::size(kLatencyBuckets); ++b) {
    cumulative += latency_counts_[b];
    out << "mome_transcription_seconds_bucket{le=\"" << kLatencyBuckets[b] << "\"} " << cumulative << "\n";
  }
  cumulative += latency_counts_.back();
  out << "mome_transcription_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "mome_transcription_seconds_sum " << latency_sum_ << "\nmome_transcription_seconds_count " << cumulative
      << "\n";
  if (service_) out << service_->MetricsText();
  return out.str();
}

HttpServer::HttpServer(const HttpOptions& options) : impl_(std::make_unique<Impl>(options)) {}
HttpServer::~HttpServer() = default;
int HttpServer::Bind() {
  return impl_->Bind();
}
void HttpServer::Serve() {
  impl_->Serve();
}
void HttpServer::Stop() {
  impl_->Stop();
}
void HttpServer::SetService(std::shared_ptr<const TranscriptionService> s) {
  impl_->SetService(std::move(s));
}
std::string HttpServer::MetricsText() const {
  return impl_->MetricsText();
}
std::string HttpServer::ProcessRaw(const std::string& request) {
  return impl_->ProcessRaw(request);
}

}  // namespace mome::serve
