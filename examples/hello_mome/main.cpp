// Loads a Hugging Face Llama folder with libmome and greedily continues the prompt [1, 2, 3].
#include <iostream>

#include <mome/core/error.h>
#include <mome/decode/generate.h>
#include <mome/llm/llama_loader.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: hello_mome MODEL_DIR\n";
    return 2;
  }
  try {
    auto model = mome::llm::LoadLlama(argv[1], c10::Device(c10::kCPU), c10::kFloat);
    mome::decode::GenerateOptions options;
    options.max_new_tokens = 5;
    const auto hyps = mome::decode::GenerateFromIds(*model, {{1, 2, 3}}, options);
    std::cout << "{\"ids\": [";
    for (size_t i = 0; i < hyps[0].ids.size(); ++i) std::cout << (i ? ", " : "") << hyps[0].ids[i];
    std::cout << "]}\n";
  } catch (const std::exception& e) {
    std::cerr << "hello_mome: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
