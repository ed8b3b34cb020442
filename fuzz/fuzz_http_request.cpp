// mome_serve's request handling: raw HTTP/1.1 bytes (request line, headers, chunked or sized bodies, multipart
// forms) through the server's routes, authentication and form parsing, without a socket. The first byte decides
// whether the server requires an API key. No model is loaded: transcription requests end at form validation (400)
// or "loading" (503); the service's own field checks and the media decoding have their tests and fuzz_media.
#include "fuzz_harness.h"
#include "mome/serve/http_server.h"

namespace {

mome::serve::HttpServer& Server(bool with_key) {
  static auto make = [](const std::string& key) {
    mome::serve::HttpOptions options;
    options.port = 0;
    options.api_key = key;
    options.max_upload_mb = 1;
    return std::make_unique<mome::serve::HttpServer>(options);
  };
  static auto open = make("");
  static auto keyed = make("fuzz-key");
  return with_key ? *keyed : *open;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string request(reinterpret_cast<const char*>(data) + 1, size - 1);
  return mome::fuzz::Guarded([&] {
    const std::string response = Server(data[0] & 1).ProcessRaw(request);
    // Whatever came in, what goes out is an HTTP response or nothing (a request too broken to answer).
    if (!response.empty() && response.rfind("HTTP/1.1 ", 0) != 0) {
      std::fprintf(stderr, "finding: the server wrote something that is not an HTTP response\n");
      std::abort();
    }
  });
}
