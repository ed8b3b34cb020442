#include "text/bpe_tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/io/json.h"
#include "text/byte_level.h"
#include "text/tokenizer_json.h"
#include "text/utf8.h"

namespace mome::text {
namespace {

using nlohmann::json;

void CheckSupportedTopLevel(const json& root, const std::string& path) {
  MOME_CHECK(root.is_object(), ErrorCode::kCorruptFile, path, ": tokenizer.json must hold a JSON object");
  const json normalizer = root.value("normalizer", json());
  MOME_CHECK(normalizer.is_null(), ErrorCode::kUnsupported, path, ": normalizer '", DescribeComponent(normalizer),
             "' is not supported (only null is)");
  // Both would change what encode() returns for a single text; no Llama tokenizer sets them.
  for (const char* key : {"truncation", "padding"}) {
    MOME_CHECK(root.value(key, json()).is_null(), ErrorCode::kUnsupported, path, ": '", key,
               "' must be null (set it on the caller's side)");
  }
}

BpeModel::Merges ParseMerges(const json& merges, const std::string& path) {
  MOME_CHECK(merges.is_array(), ErrorCode::kCorruptFile, path, ": model.merges must be a list");
  BpeModel::Merges out;
  out.reserve(merges.size());
  for (const json& merge : merges) {
    if (merge.is_string()) {  // the older "a b" form
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      MOME_CHECK(space != std::string::npos, ErrorCode::kCorruptFile, path, ": merge '", text,
                 "' is not two tokens separated by a space");
      out.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else {  // the newer ["a", "b"] form
      MOME_CHECK(merge.is_array() && merge.size() == 2, ErrorCode::kCorruptFile, path, ": merge ", merge.dump(),
                 " is not a pair of tokens");
      out.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    }
  }
  return out;
}

std::string OptionalString(const json& object, const char* key) {
  const json value = object.value(key, json());
  return value.is_null() ? std::string() : value.get<std::string>();
}

BpeModel ParseModel(const json& model, const std::string& path) {
  const std::string type = ComponentType(model);
  MOME_CHECK(type == "BPE" || (type.empty() && model.contains("merges")), ErrorCode::kUnsupported, path, ": model '",
             DescribeComponent(model), "' is not supported (only BPE is)");
  const json dropout = model.value("dropout", json());
  MOME_CHECK(dropout.is_null() || dropout.get<double>() == 0.0, ErrorCode::kUnsupported, path,
             ": BPE dropout is not supported (tokenization would be random)");
  BpeOptions options;
  if (const json unk = model.value("unk_token", json()); !unk.is_null()) options.unk_token = unk.get<std::string>();
  options.continuing_subword_prefix = OptionalString(model, "continuing_subword_prefix");
  options.end_of_word_suffix = OptionalString(model, "end_of_word_suffix");
  options.fuse_unk = BoolOr(model, "fuse_unk", false);
  options.byte_fallback = BoolOr(model, "byte_fallback", false);
  options.ignore_merges = BoolOr(model, "ignore_merges", false);

  const json& vocab_json = RequireMember(model, "vocab", path, "model");
  MOME_CHECK(vocab_json.is_object(), ErrorCode::kCorruptFile, path, ": model.vocab must map tokens to ids");
  BpeModel::Vocab vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id] : vocab_json.items()) {
    MOME_CHECK(id.is_number_integer(), ErrorCode::kCorruptFile, path, ": model.vocab gives token ",
               nlohmann::json(token).dump(), " the id ", id.dump(), ", not an integer");
    vocab.emplace(token, id.get<int64_t>());
  }
  return BpeModel(std::move(vocab), ParseMerges(RequireMember(model, "merges", path, "model"), path),
                  std::move(options), path);
}

AddedVocabulary ParseAddedTokens(const json& root, const std::string& path) {
  AddedVocabulary added;
  const json list = root.value("added_tokens", json::array());
  MOME_CHECK(list.is_array(), ErrorCode::kCorruptFile, path, ": added_tokens must be a list");
  for (const json& entry : list) {
    AddedToken token;
    token.id = io::IntValue(RequireMember(entry, "id", path, "added token"), path + ": an added token's id");
    token.content = RequireMember(entry, "content", path, "added token").get<std::string>();
    MOME_CHECK(token.id >= 0, ErrorCode::kCorruptFile, path, ": added token '", token.content, "' has id ", token.id);
    token.special = BoolOr(entry, "special", false);
    token.single_word = BoolOr(entry, "single_word", false);
    token.lstrip = BoolOr(entry, "lstrip", false);
    token.rstrip = BoolOr(entry, "rstrip", false);
    token.normalized = BoolOr(entry, "normalized", !token.special);
    added.Add(token);
  }
  return added;
}

bool ParseDecoder(const json& decoder, const std::string& path) {
  if (decoder.is_null()) return false;
  const std::string type = ComponentType(decoder);
  MOME_CHECK(type == "ByteLevel", ErrorCode::kUnsupported, path, ": decoder '", DescribeComponent(decoder),
             "' is not supported (only ByteLevel and null are)");
  return true;
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeModel model, AddedVocabulary added, PreTokenizer pre, PostProcessor post,
                           bool byte_level_decoder, std::string path)
    : model_(std::move(model)),
      added_(std::move(added)),
      pre_tokenizer_(std::move(pre)),
      post_processor_(std::move(post)),
      byte_level_decoder_(byte_level_decoder),
      path_(std::move(path)) {}

std::unique_ptr<BpeTokenizer> BpeTokenizer::FromFile(const std::string& path) {
  const json root = io::ReadJsonFile(path);
  try {
    CheckSupportedTopLevel(root, path);
    BpeModel model = ParseModel(RequireMember(root, "model", path, "tokenizer.json"), path);
    AddedVocabulary added = ParseAddedTokens(root, path);
    // Added tokens extend the vocabulary (HF appends them) or reuse its ids; an id past both leaves a gap of ids
    // that decode to nothing and that no embedding table sized from the vocabulary has.
    const int64_t id_limit = model.IdLimit() + static_cast<int64_t>(root.value("added_tokens", json::array()).size());
    MOME_CHECK(added.MaxId() < id_limit, ErrorCode::kCorruptFile, path, ": an added token has id ", added.MaxId(),
               ", beyond the vocabulary's ", model.IdLimit(), " ids and the added tokens that may follow them");
    PreTokenizer pre = PreTokenizer::FromJson(root.value("pre_tokenizer", json()), path);
    PostProcessor post = PostProcessor::FromJson(root.value("post_processor", json()), path);
    const bool byte_level = ParseDecoder(root.value("decoder", json()), path);
    return std::unique_ptr<BpeTokenizer>(
        new BpeTokenizer(std::move(model), std::move(added), std::move(pre), std::move(post), byte_level, path));
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    MOME_FAIL(ErrorCode::kCorruptFile, path, ": ", e.what());
  }
}

std::vector<int64_t> BpeTokenizer::Encode(const std::string& text, bool add_special_tokens) const {
  std::vector<int64_t> ids;
  std::vector<std::string> pieces;
  for (const TextSegment& segment : added_.Split(text)) {
    if (segment.added_id >= 0) {
      ids.push_back(segment.added_id);
      continue;
    }
    pieces.clear();
    pre_tokenizer_.Run(segment.text, &pieces);
    for (const std::string& piece : pieces) model_.Tokenize(piece, &ids);
  }
  return add_special_tokens ? post_processor_.Apply(ids) : ids;
}

std::string BpeTokenizer::Decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string bytes;   // byte-level decoder: the bytes the tokens stand for
  std::string joined;  // no decoder: HF joins the tokens with spaces
  bool first = true;
  for (int64_t id : ids) {
    MOME_CHECK(id >= 0 && id < VocabSize(), ErrorCode::kInvalidArgument, path_, ": cannot decode token id ", id,
               " (the vocabulary has ids 0..", VocabSize() - 1, ")");
    const std::string* token = nullptr;
    if (const AddedToken* added = added_.FindById(id)) {
      if (skip_special_tokens && added->special) continue;
      token = &added->content;
    } else {
      token = model_.IdToToken(id);
      MOME_CHECK(token != nullptr, ErrorCode::kInvalidArgument, path_, ": cannot decode token id ", id,
                 " (no token has it)");
    }
    if (byte_level_decoder_) {
      AppendByteLevelDecoded(*token, &bytes);
    } else {
      if (!first) joined += ' ';
      joined += *token;
      first = false;
    }
  }
  return byte_level_decoder_ ? Utf8Lossy(bytes) : joined;
}

int64_t BpeTokenizer::VocabSize() const {
  return std::max(model_.IdLimit(), added_.MaxId() + 1);
}

std::optional<int64_t> BpeTokenizer::TokenToId(const std::string& token) const {
  if (const AddedToken* added = added_.FindByContent(token)) return added->id;
  return model_.TokenToId(token);
}

std::string BpeTokenizer::IdToToken(int64_t id) const {
  if (const AddedToken* added = added_.FindById(id)) return added->content;
  const std::string* token = model_.IdToToken(id);
  MOME_CHECK(token != nullptr, ErrorCode::kInvalidArgument, path_, ": no token has id ", id);
  return *token;
}

int64_t BpeTokenizer::AddSpecialToken(const std::string& content) {
  MOME_CHECK(!content.empty(), ErrorCode::kInvalidArgument, path_, ": cannot add an empty special token");
  // Like HF add_special_tokens: a token the tokenizer already knows keeps its id but is from now
  // on matched as a whole and counted as special.
  AddedToken token;
  token.content = content;
  token.special = true;
  token.normalized = false;
  token.id = TokenToId(content).value_or(VocabSize());
  added_.Add(token);
  return token.id;
}

}  // namespace mome::text
