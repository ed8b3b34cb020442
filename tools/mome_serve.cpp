// mome_serve: an OpenAI-compatible transcription server for audio and video over one loaded libmome model.
//   mome_serve --model RUN_OR_CHECKPOINT [--host 127.0.0.1] [--port 8080] [--device cpu|cuda] [--max-upload-mb 200]
//              [--max-seconds 600] [--max-queue 256] [--api-key KEY] [--roi precropped|detect|landmarks]
//              [--threads N]
// POST /v1/audio/transcriptions, GET /v1/models, /health, /metrics (serve/http_server.h). SIGINT/SIGTERM: stop
// accepting, finish the requests in flight, exit 0.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "mome/serve/http_server.h"
#include "tool_main.h"

namespace mome {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnStop(int) {
  g_stop = true;
}

int Main(int argc, char** argv) {
  CliParser cli("mome_serve", "OpenAI-compatible transcription server (audio and video) over one loaded model.");
  cli.AddRequired("--model", "DIR", "checkpoint folder or run folder (mome_train --out)")
      .AddOption("--host", "ADDR", "address to listen on (beyond loopback only with --api-key)", "127.0.0.1")
      .AddOption("--port", "N", "port", "8080")
      .AddDeviceOption()
      .AddOption("--max-upload-mb", "N", "largest upload accepted (413 beyond)", "200")
      .AddOption("--max-seconds", "S", "longest media accepted (400 beyond)", "600")
      .AddOption("--max-queue", "N", "requests in flight at most (503 with Retry-After beyond)", "256")
      .AddOption("--api-key", "KEY", "require Authorization: Bearer KEY (default: $MOME_API_KEY)")
      .AddOption("--roi", "MODE", "uploaded video's mouth crops: precropped | detect | landmarks", "precropped")
      .AddOption("--threads", "N", "HTTP worker threads", "8")
      .AddOption("--max-batch", "N", "requests decoded together at most", "16")
      .AddOption("--max-wait-ms", "MS", "how long a request waits for others to share its batch", "10");
  if (!cli.Parse(argc, argv)) return 0;
  serve::HttpOptions http;
  http.host = cli.GetString("--host");
  http.port = static_cast<int>(cli.GetInt("--port"));
  MOME_CHECK(http.port >= 1 && http.port <= 65535, ErrorCode::kInvalidArgument, "--port must be in [1, 65535]");
  const char* env_key = std::getenv("MOME_API_KEY");
  http.api_key = cli.Has("--api-key") ? cli.GetString("--api-key") : (env_key ? env_key : "");
  http.max_upload_mb = cli.GetInt("--max-upload-mb");
  http.max_queue = cli.GetInt("--max-queue");
  http.threads = static_cast<int>(cli.GetInt("--threads"));
  serve::ServiceOptions service;
  service.model = cli.GetString("--model");
  service.device = cli.GetString("--device");
  service.roi = cli.GetString("--roi");
  service.max_seconds = cli.GetDouble("--max-seconds");
  service.max_batch = cli.GetInt("--max-batch");
  service.max_wait_ms = cli.GetInt("--max-wait-ms");
  MOME_CHECK(service.max_seconds > 0, ErrorCode::kInvalidArgument, "--max-seconds must be positive");

  serve::HttpServer server(http);
  const int port = server.Bind();
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);
  std::thread watcher([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    server.Stop();
  });
  std::thread http_thread([&] { server.Serve(); });
  std::cerr << "mome_serve: listening on http://" << http.host << ":" << port << " (loading " << service.model << ")"
            << std::endl;
  try {
    server.SetService(std::make_shared<const serve::TranscriptionService>(service));  // /health: 503 until here
  } catch (...) {
    g_stop = true;
    watcher.join();
    http_thread.join();
    throw;
  }
  std::cerr << "mome_serve: ready" << std::endl;
  http_thread.join();
  g_stop = true;
  watcher.join();
  std::cerr << "mome_serve: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_serve", [&] { return mome::Main(argc, argv); });
}
