// A SentencePiece .model (Llama 2 style) behind the Tokenizer interface, through libmome_spm.so.
#pragma once

#include <memory>
#include <string>

#include "mome/text/tokenizer.h"
#include "text/added_vocabulary.h"
#include "text/spm_library.h"

namespace mome::text {

class SpmTokenizer final : public Tokenizer {
 public:
  // Loads the shim (see spm_library.h) and the model; errors name `path`.
  static std::unique_ptr<SpmTokenizer> FromFile(const std::string& path);
  ~SpmTokenizer() override;
  SpmTokenizer(const SpmTokenizer&) = delete;
  SpmTokenizer& operator=(const SpmTokenizer&) = delete;

  // Text between added tokens goes to sentencepiece's Encode (each stretch gets its own dummy
  // prefix, like HF's legacy LlamaTokenizer); add_special_tokens prepends BOS (HF add_bos_token=true).
  std::vector<int64_t> Encode(const std::string& text, bool add_special_tokens) const override;
  // Runs of ordinary ids go to sentencepiece's Decode. Control and unknown pieces and added special
  // tokens are dropped with skip_special_tokens, otherwise written as their piece text.
  std::string Decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override;
  int64_t VocabSize() const override;
  std::optional<int64_t> TokenToId(const std::string& token) const override;
  std::string IdToToken(int64_t id) const override;
  int64_t AddSpecialToken(const std::string& token) override;
  std::optional<int64_t> BosId() const override { return OptionalId(api_.bos_id(spm_)); }
  std::optional<int64_t> EosId() const override { return OptionalId(api_.eos_id(spm_)); }
  std::string Kind() const override { return "sentencepiece"; }

 private:
  SpmTokenizer(const SpmApi& api, MomeSpm* spm, std::string path);
  static std::optional<int64_t> OptionalId(int32_t id) { return id >= 0 ? std::optional<int64_t>(id) : std::nullopt; }
  void EncodePlain(std::string_view text, std::vector<int64_t>* ids) const;
  std::string DecodePlain(const std::vector<int32_t>& ids) const;
  std::string Piece(int32_t id) const;

  const SpmApi& api_;
  MomeSpm* spm_;
  int32_t piece_size_;
  AddedVocabulary added_;  // tokens added with AddSpecialToken, ids from piece_size_ upward
  std::string path_;
};

}  // namespace mome::text
