// mome_tokenize: encodes text or decodes ids with a tokenizer.json (byte-level BPE) or SentencePiece .model.
//   mome_tokenize --tokenizer FILE --text STR      -> {"ids": [...]}
//   mome_tokenize --tokenizer FILE --decode 1,2,3  -> {"text": "..."}
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/cli.h"
#include "mome/text/tokenizer.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("mome_tokenize", "Encodes text to ids or decodes ids to text, exactly as HF tokenizers does.");
  cli.AddRequired("--tokenizer", "FILE", "tokenizer.json, a SentencePiece .model, or a folder holding one")
      .AddOption("--text", "STR", "text to encode")
      .AddOption("--decode", "1,2,3", "ids to decode")
      .AddFlag("--no-special", "encode without the post-processor's special tokens (e.g. no BOS)")
      .AddFlag("--skip-special", "decode without special tokens");
  if (!cli.Parse(argc, argv)) return 0;
  MOME_CHECK(cli.Has("--text") != cli.Has("--decode"), ErrorCode::kInvalidArgument,
             "give exactly one of --text and --decode");
  const auto tokenizer = text::LoadTokenizer(cli.GetString("--tokenizer"));
  nlohmann::json line;
  if (cli.Has("--text")) {
    line["ids"] = tokenizer->Encode(cli.GetString("--text"), !cli.GetFlag("--no-special"));
  } else {
    line["text"] = tokenizer->Decode(cli.GetList("--decode"), cli.GetFlag("--skip-special"));
  }
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_tokenize", [&] { return mome::Main(argc, argv); });
}
