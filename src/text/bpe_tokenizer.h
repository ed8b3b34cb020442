// A HF tokenizer.json with a BPE model (byte-level as in Llama 3 and GPT-2).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "mome/text/tokenizer.h"
#include "text/added_vocabulary.h"
#include "text/bpe_model.h"
#include "text/post_processor.h"
#include "text/pre_tokenizer.h"

namespace mome::text {

class BpeTokenizer final : public Tokenizer {
 public:
  // Reads and checks tokenizer.json; errors name `path`.
  static std::unique_ptr<BpeTokenizer> FromFile(const std::string& path);

  std::vector<int64_t> Encode(const std::string& text, bool add_special_tokens) const override;
  std::string Decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override;
  int64_t VocabSize() const override;
  std::optional<int64_t> TokenToId(const std::string& token) const override;
  std::string IdToToken(int64_t id) const override;
  int64_t AddSpecialToken(const std::string& token) override;
  std::optional<int64_t> BosId() const override { return bos_; }
  std::optional<int64_t> EosId() const override { return eos_; }
  std::string Kind() const override { return "bpe"; }

  void SetBosEos(std::optional<int64_t> bos, std::optional<int64_t> eos) { bos_ = bos, eos_ = eos; }

 private:
  BpeTokenizer(BpeModel model, AddedVocabulary added, PreTokenizer pre, PostProcessor post, bool byte_level_decoder,
               std::string path);

  BpeModel model_;
  AddedVocabulary added_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  bool byte_level_decoder_;  // false: no decoder, tokens are joined with spaces as HF does
  std::string path_;
  std::optional<int64_t> bos_, eos_;
};

}  // namespace mome::text
