#include "text/spm_tokenizer.h"

#include <fstream>

#include "mome/core/error.h"

namespace mome::text {
namespace {

// Owns a malloc'd buffer returned by the shim.
template <typename T>
class ShimBuffer {
 public:
  explicit ShimBuffer(const SpmApi& api) : api_(api) {}
  ~ShimBuffer() { api_.free_buffer(data_); }
  ShimBuffer(const ShimBuffer&) = delete;
  ShimBuffer& operator=(const ShimBuffer&) = delete;
  T** out() { return &data_; }
  const T* data() const { return data_; }

 private:
  const SpmApi& api_;
  T* data_ = nullptr;
};

constexpr size_t kErrorSize = 512;

}  // namespace

std::unique_ptr<SpmTokenizer> SpmTokenizer::FromFile(const std::string& path) {
  // Checked here so that a missing file is kNotFound whatever the shim's own message says.
  MOME_CHECK(std::ifstream(path).good(), ErrorCode::kNotFound, path, ": cannot open SentencePiece model");
  const SpmApi* api = nullptr;
  try {
    api = &GetSpmApi();
  } catch (const Error& e) {
    MOME_FAIL(e.code(), path, ": ", e.what());
  }
  char error[kErrorSize] = {0};
  MomeSpm* spm = api->load(path.c_str(), error, sizeof(error));
  MOME_CHECK(spm != nullptr, ErrorCode::kCorruptFile, path, ": not a SentencePiece model (", error, ")");
  return std::unique_ptr<SpmTokenizer>(new SpmTokenizer(*api, spm, path));
}

SpmTokenizer::SpmTokenizer(const SpmApi& api, MomeSpm* spm, std::string path)
    : api_(api), spm_(spm), piece_size_(api.piece_size(spm)), path_(std::move(path)) {}

SpmTokenizer::~SpmTokenizer() {
  api_.free(spm_);
}

void SpmTokenizer::EncodePlain(std::string_view text, std::vector<int64_t>* ids) const {
  char error[kErrorSize] = {0};
  ShimBuffer<int32_t> buffer(api_);
  const long n = api_.encode(spm_, text.data(), text.size(), buffer.out(), error, sizeof(error));
  MOME_CHECK(n >= 0, ErrorCode::kInvalidArgument, path_, ": sentencepiece cannot encode the text (", error, ")");
  ids->insert(ids->end(), buffer.data(), buffer.data() + n);
}

std::vector<int64_t> SpmTokenizer::Encode(const std::string& text, bool add_special_tokens) const {
  std::vector<int64_t> ids;
  if (add_special_tokens) {
    if (auto bos = BosId()) ids.push_back(*bos);
  }
  for (const TextSegment& segment : added_.Split(text)) {
    if (segment.added_id >= 0) {
      ids.push_back(segment.added_id);
    } else {
      EncodePlain(segment.text, &ids);
    }
  }
  return ids;
}

std::string SpmTokenizer::DecodePlain(const std::vector<int32_t>& ids) const {
  if (ids.empty()) return "";
  char error[kErrorSize] = {0};
  ShimBuffer<char> buffer(api_);
  const long n = api_.decode(spm_, ids.data(), ids.size(), buffer.out(), error, sizeof(error));
  MOME_CHECK(n >= 0, ErrorCode::kInvalidArgument, path_, ": sentencepiece cannot decode the ids (", error, ")");
  return std::string(buffer.data(), static_cast<size_t>(n));
}

std::string SpmTokenizer::Decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string text;
  std::vector<int32_t> run;  // ordinary pieces, decoded together so spaces come out right
  for (int64_t id : ids) {
    MOME_CHECK(id >= 0 && id < VocabSize(), ErrorCode::kInvalidArgument, path_, ": cannot decode token id ", id,
               " (the vocabulary has ids 0..", VocabSize() - 1, ")");
    std::string special;
    if (const AddedToken* added = added_.FindById(id)) {
      special = added->content;
    } else if (id >= piece_size_) {
      MOME_FAIL(ErrorCode::kInvalidArgument, path_, ": cannot decode token id ", id, " (no token has it)");
    } else if (api_.piece_flags(spm_, static_cast<int32_t>(id)) & (MOME_SPM_CONTROL | MOME_SPM_UNKNOWN)) {
      special = Piece(static_cast<int32_t>(id));
    } else {
      run.push_back(static_cast<int32_t>(id));
      continue;
    }
    if (skip_special_tokens) continue;
    text += DecodePlain(run);
    run.clear();
    text += special;
  }
  return text + DecodePlain(run);
}

int64_t SpmTokenizer::VocabSize() const {
  return std::max<int64_t>(piece_size_, added_.MaxId() + 1);
}

std::optional<int64_t> SpmTokenizer::TokenToId(const std::string& token) const {
  if (const AddedToken* added = added_.FindByContent(token)) return added->id;
  const int32_t id = api_.piece_to_id(spm_, token.data(), token.size());
  // PieceToId answers unk_id for pieces it does not know; only the unk piece itself maps there.
  if (id < 0 || (id == api_.unk_id(spm_) && Piece(id) != token)) return std::nullopt;
  return id;
}

std::string SpmTokenizer::Piece(int32_t id) const {
  char error[kErrorSize] = {0};
  ShimBuffer<char> buffer(api_);
  const long n = api_.id_to_piece(spm_, id, buffer.out(), error, sizeof(error));
  MOME_CHECK(n >= 0, ErrorCode::kInvalidArgument, path_, ": no token has id ", id, " (", error, ")");
  return std::string(buffer.data(), static_cast<size_t>(n));
}

std::string SpmTokenizer::IdToToken(int64_t id) const {
  if (const AddedToken* added = added_.FindById(id)) return added->content;
  MOME_CHECK(id >= 0 && id < piece_size_, ErrorCode::kInvalidArgument, path_, ": no token has id ", id);
  return Piece(static_cast<int32_t>(id));
}

int64_t SpmTokenizer::AddSpecialToken(const std::string& content) {
  MOME_CHECK(!content.empty(), ErrorCode::kInvalidArgument, path_, ": cannot add an empty special token");
  AddedToken token;
  token.content = content;
  token.special = true;
  token.id = TokenToId(content).value_or(VocabSize());
  added_.Add(token);
  return token.id;
}

}  // namespace mome::text
