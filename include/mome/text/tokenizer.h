// Text tokenizers: HF tokenizer.json byte-level BPE (Llama 3, GPT-2 style) and SentencePiece
// .model files (Llama 2 style), behind one interface whose results match HF `tokenizers`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mome::text {

// Encode/Decode/TokenToId/... may run concurrently; AddSpecialToken must not run alongside them.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special_tokens=true applies the tokenizer's post-processor, like HF
  // tokenizer.encode(text, add_special_tokens=...): Llama 3 prepends <|begin_of_text|>,
  // SentencePiece (Llama 2 style) prepends the BOS id. Any bytes are accepted.
  virtual std::vector<int64_t> Encode(const std::string& text, bool add_special_tokens) const = 0;

  // Like HF decode(ids, skip_special_tokens=...). Throws mome::Error(kInvalidArgument) naming the
  // id for ids outside [0, VocabSize()). Invalid UTF-8 in the result becomes U+FFFD.
  virtual std::string Decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const = 0;

  virtual int64_t VocabSize() const = 0;  // including added tokens
  virtual std::optional<int64_t> TokenToId(const std::string& token) const = 0;
  // Throws mome::Error(kInvalidArgument) for an id without token.
  virtual std::string IdToToken(int64_t id) const = 0;

  // Adds a special token (e.g. "<audio>") matched as one id in text from then on; returns its id
  // (the existing id if the tokenizer already has that token).
  virtual int64_t AddSpecialToken(const std::string& token) = 0;

  virtual std::optional<int64_t> BosId() const = 0;  // Llama 3: <|begin_of_text|>; SentencePiece: bos piece
  virtual std::optional<int64_t> EosId() const = 0;  // Llama 3: <|end_of_text|> (or tokenizer_config.json's)
  virtual std::string Kind() const = 0;              // "bpe" or "sentencepiece"
};

// path: a tokenizer.json, a SentencePiece .model, or a folder holding tokenizer.json (preferred)
// or tokenizer.model. A tokenizer_config.json beside a tokenizer.json sets BosId/EosId from its
// bos_token/eos_token. Throws mome::Error naming the path for missing, corrupt or unsupported files.
std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& path);

}  // namespace mome::text
