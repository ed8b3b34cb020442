// Tokenizers: ids identical to HF `tokenizers` (fixtures from tests/fixtures/make_tokenizer_fixtures.py) and to
// SentencePiece (tests/fixtures/make_spm_fixture.sh), plus fixture-free checks of the pieces HF behaviour rests
// on: the split patterns, the byte-level alphabet, lossy UTF-8, the merge loop and the error paths.
// The SentencePiece tests load the shim in this process, which also holds LibTorch (PLATFORM.md trap 1).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/text/tokenizer.h"
#include "test_helpers.h"
#include "text/byte_level.h"
#include "text/split_patterns.h"
#include "text/utf8.h"

namespace mome {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::DataPath;
using testing::ReadJson;
using text::LoadTokenizer;
using text::SplitPattern;
using Ids = std::vector<int64_t>;

std::vector<std::string> Split(const std::string& s, SplitPattern pattern) {
  std::vector<std::string> out;
  for (auto piece : text::SplitWithPattern(s, pattern)) out.emplace_back(piece);
  return out;
}

// Runs f, expecting a mome::Error with `code` whose message contains every one of `parts`.
template <typename F>
void ExpectError(F f, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no mome::Error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message << " lacks " << part;
  }
}

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// A hand-made byte-level BPE tokenizer.json: the 256 byte characters, a few merges, options on top.
json TinyByteLevelJson() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[text::ByteLevelEncode(std::string(1, static_cast<char>(b)))] = b;
  json merges = json::array();
  int next = 256;
  for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"a", "b"}, {"ab", "c"}, {"b", "c"}, {"Ġ", "w"}, {"Ġw", "o"}, {"l", "l"}}) {
    merges.push_back(json::array({a, b}));
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
  }
  json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] =
      json::array({{{"id", next}, {"content", "<|begin_of_text|>"}, {"special", true}, {"normalized", false}}});
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  root["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {next}}}}}}};
  root["decoder"] = {{"type", "ByteLevel"}};
  root["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", false}};
  return root;
}

std::unique_ptr<text::Tokenizer> LoadJson(const std::string& name, const json& root) {
  return LoadTokenizer(WriteTemp(name, root.dump()));
}

// ---------------------------------------------------------------------------------------------------------------
// Split patterns, checked by hand against the regex semantics.

TEST(SplitPatterns, Llama3FollowsLeftmostFirstAlternation) {
  EXPECT_EQ(Split("Hello world's  \n\n 12345 ...", SplitPattern::kLlama3),
            (std::vector<std::string>{"Hello", " world", "'s", "  \n\n", " ", "123", "45", " ..."}));
  // \s+(?!\S) leaves the last space to prefix the next word; at the end the whole run is one piece.
  EXPECT_EQ(Split("a  b   ", SplitPattern::kLlama3), (std::vector<std::string>{"a", " ", " b", "   "}));
  EXPECT_EQ(Split("x\n\ny\r\n", SplitPattern::kLlama3), (std::vector<std::string>{"x", "\n\n", "y", "\r\n"}));
  // Contractions ignore case; one non-letter (not a newline) may lead a word; digits go by three.
  EXPECT_EQ(Split("DON'T I'LL", SplitPattern::kLlama3), (std::vector<std::string>{"DON", "'T", " I", "'LL"}));
  EXPECT_EQ(Split("a\xF0\x9F\x98\x80"
                  "b\t1234567",
                  SplitPattern::kLlama3),
            (std::vector<std::string>{"a",
                                      "\xF0\x9F\x98\x80"
                                      "b",
                                      "\t", "123", "456", "7"}));
  EXPECT_EQ(Split("\xE6\x97\xA5\xE6\x9C\xAC ok!!\n\nx", SplitPattern::kLlama3),
            (std::vector<std::string>{"\xE6\x97\xA5\xE6\x9C\xAC", " ok", "!!\n\n", "x"}));
}

TEST(SplitPatterns, Gpt2) {
  EXPECT_EQ(Split("Hello world's  \n\n 12345 ...", SplitPattern::kGpt2),
            (std::vector<std::string>{"Hello", " world", "'s", "  \n\n", " 12345", " ..."}));
  // Contractions are case-sensitive here: 'T is punctuation then a word.
  EXPECT_EQ(Split("DON'T x  y", SplitPattern::kGpt2), (std::vector<std::string>{"DON", "'", "T", " x", " ", " y"}));
}

TEST(SplitPatterns, AcceptsInvalidUtf8AndCoversTheInput) {
  const std::string bad =
      "ok\xC3(\xFF\xFE"
      "a\xE2\x82 end\x80";
  for (auto pattern : {SplitPattern::kLlama3, SplitPattern::kGpt2}) {
    std::string joined;
    for (const auto& piece : Split(bad, pattern)) joined += piece;
    EXPECT_EQ(joined, bad);
  }
}

TEST(SplitPatterns, RecognizesOnlyTheKnownRegexes) {
  EXPECT_EQ(
      text::RecognizeSplitPattern("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"),
      SplitPattern::kGpt2);
  EXPECT_FALSE(text::RecognizeSplitPattern("\\s+").has_value());
}

// ---------------------------------------------------------------------------------------------------------------
// Byte level and UTF-8.

TEST(ByteLevel, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string mapped = text::ByteLevelEncode(all);
  EXPECT_EQ(text::ByteLevelEncode(" "), "\xC4\xA0");   // Ġ
  EXPECT_EQ(text::ByteLevelEncode("\n"), "\xC4\x8A");  // Ċ
  EXPECT_EQ(text::ByteLevelEncode("A~"), "A~");
  std::string back;
  text::AppendByteLevelDecoded(mapped, &back);
  EXPECT_EQ(back, all);
  // A token with a character outside the alphabet (here a space) decodes to its own bytes.
  back.clear();
  text::AppendByteLevelDecoded("<a b>", &back);
  EXPECT_EQ(back, "<a b>");
}

TEST(Utf8, LossyReplacesMaximalSubpartsLikeRust) {
  EXPECT_EQ(text::Utf8Lossy("a\xE2\x82"
                            "b"),
            "a\xEF\xBF\xBD"
            "b");                                                                      // truncated 3-byte: one U+FFFD
  EXPECT_EQ(text::Utf8Lossy("\xF0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // F0 80 is not a prefix
  EXPECT_EQ(text::Utf8Lossy("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(text::Utf8Lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(text::Utf8Lossy("ok \xF0\x9F\x98\x80"), "ok \xF0\x9F\x98\x80");
}

// ---------------------------------------------------------------------------------------------------------------
// A hand-made tokenizer.json: merges, added tokens, errors.

TEST(BpeTokenizer, MergesByRankAndRoundTripsAnyText) {
  const auto tok = LoadJson("tiny_bpe.json", TinyByteLevelJson());
  EXPECT_EQ(tok->Kind(), "bpe");
  const auto id = [&](const std::string& t) { return *tok->TokenToId(t); };
  // "abc": a+b (rank 0) first, then ab+c; "bc" alone merges by rank 2.
  EXPECT_EQ(tok->Encode("abc", false), (Ids{id("abc")}));
  EXPECT_EQ(tok->Encode("bcab", false), (Ids{id("bc"), id("ab")}));
  EXPECT_EQ(tok->Encode(" wo ll", false), (Ids{id("Ġwo"), id("Ġ"), id("ll")}));
  EXPECT_EQ(tok->Encode("ab", true), (Ids{*tok->BosId(), id("ab")}));
  EXPECT_EQ(tok->Encode("", false), Ids{});
  EXPECT_EQ(tok->Encode("", true), (Ids{*tok->BosId()}));
  const std::string texts[] = {"Hello, wörld! 日本語 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \r\n\t  x",
                               "ab\xFF\xFE invalid \xC3 bytes", std::string("nul\0byte", 8)};
  for (const std::string& s : texts) {
    EXPECT_EQ(tok->Decode(tok->Encode(s, true), true), text::Utf8Lossy(s));
  }
}

TEST(BpeTokenizer, LongInputIsNotQuadratic) {
  const auto tok = LoadJson("tiny_bpe_long.json", TinyByteLevelJson());
  std::string word;
  for (int i = 0; i < 100000; ++i) word += "abc"[i % 3];  // one 100k-character pre-token
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tok->Encode(word, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids.size(), 33334u);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(tok->Decode(ids, false), word);
}

TEST(BpeTokenizer, SpecialTokensAreSplitOutAndSkippable) {
  auto tok = LoadJson("tiny_bpe_special.json", TinyByteLevelJson());
  const int64_t bos = *tok->BosId();
  EXPECT_EQ(tok->IdToToken(bos), "<|begin_of_text|>");
  const int64_t size = tok->VocabSize();
  const int64_t audio = tok->AddSpecialToken("<audio>");
  EXPECT_EQ(audio, size);
  EXPECT_EQ(tok->VocabSize(), size + 1);
  EXPECT_EQ(tok->AddSpecialToken("<audio>"), audio);
  EXPECT_EQ(tok->TokenToId("<audio>"), audio);
  EXPECT_EQ(tok->AddSpecialToken("ab"), *tok->TokenToId("ab"));  // known tokens keep their id
  const Ids ids = tok->Encode("c<audio><|begin_of_text|>c", false);
  const int64_t c = *tok->TokenToId("c");
  EXPECT_EQ(ids, (Ids{c, audio, bos, c}));
  EXPECT_EQ(tok->Decode(ids, true), "cc");
  EXPECT_EQ(tok->Decode(ids, false), "c<audio><|begin_of_text|>c");
}

TEST(BpeTokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const auto tok = LoadJson("tiny_bpe_oov.json", TinyByteLevelJson());
  ExpectError(
      [&] {
        tok->Decode({1, tok->VocabSize()}, false);
      },
      ErrorCode::kInvalidArgument, {std::to_string(tok->VocabSize()), "tiny_bpe_oov.json"});
  ExpectError([&] { tok->Decode({-1}, true); }, ErrorCode::kInvalidArgument, {"-1"});
  ExpectError([&] { tok->IdToToken(1 << 20); }, ErrorCode::kInvalidArgument, {"1048576"});
}

TEST(BpeTokenizer, BadFilesAreCleanErrorsNamingThePath) {
  const std::string truncated = WriteTemp("truncated_tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
  ExpectError([&] { LoadTokenizer(truncated); }, ErrorCode::kCorruptFile, {truncated, "JSON"});
  ExpectError([&] { LoadTokenizer("/no/such/tokenizer.json"); }, ErrorCode::kNotFound, {"/no/such/tokenizer.json"});
  ExpectError([&] { LoadTokenizer(::testing::TempDir() + "/no_such_folder/"); }, ErrorCode::kNotFound,
              {"no_such_folder"});

  json root = TinyByteLevelJson();
  root["model"]["vocab"]["a"] = "not a number";
  std::string path = WriteTemp("wrong_type.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kCorruptFile, {path});

  root = TinyByteLevelJson();
  root["model"]["merges"].push_back(json::array({"x", "never"}));
  path = WriteTemp("bad_merge.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kCorruptFile, {path, "never"});

  root = TinyByteLevelJson();
  root["normalizer"] = {{"type", "NFKC"}};
  path = WriteTemp("nfkc.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kUnsupported, {path, "NFKC"});

  root = TinyByteLevelJson();
  root["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}};
  path = WriteTemp("regex.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kUnsupported, {path, "\\\\w+"});

  root = TinyByteLevelJson();
  root["model"]["type"] = "WordPiece";
  path = WriteTemp("wordpiece.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kUnsupported, {path, "WordPiece"});

  root = TinyByteLevelJson();
  root["model"]["vocab"]["huge"] = 2000000000;
  path = WriteTemp("huge_id.json", root.dump());
  ExpectError([&] { LoadTokenizer(path); }, ErrorCode::kCorruptFile, {path});
}

TEST(BpeTokenizer, LegacyMergesUnkAndNoDecoder) {
  json root = TinyByteLevelJson();
  root["model"]["merges"] = json::array({"a b", "ab c"});
  root["model"]["unk_token"] = "<unk>";
  root["model"]["vocab"]["<unk>"] = 400;
  root["model"]["vocab"]["ab"] = 401;
  root["model"]["vocab"]["abc"] = 402;
  root["model"]["vocab"].erase("z");
  root["pre_tokenizer"] = nullptr;
  root["decoder"] = nullptr;
  const auto tok = LoadJson("legacy.json", root);
  // Without a pre-tokenizer or ByteLevel step, the model sees raw characters: z is unknown.
  EXPECT_EQ(tok->Encode("abcz", false), (Ids{402, 400}));
  EXPECT_EQ(tok->Decode({402, 400}, false), "abc <unk>");  // HF joins tokens with spaces without a decoder
}

// ---------------------------------------------------------------------------------------------------------------
// HF parity on the generated fixtures.

const char* kCases = "tokenizer/cases.json";

TEST(BpeTokenizer, IdsMatchHuggingFaceTokenizers) {
  if (!fs::exists(DataPath(kCases))) GTEST_SKIP() << "run tests/fixtures/make_tokenizer_fixtures.py first";
  const json all = ReadJson(DataPath(kCases));
  ASSERT_GE(all["tokenizers"].size(), 2u);
  for (const auto& [name, data] : all["tokenizers"].items()) {
    SCOPED_TRACE(name);
    const auto tok = LoadTokenizer(DataPath("tokenizer/" + name));
    EXPECT_EQ(tok->VocabSize(), data["vocab_size"].get<int64_t>());
    for (const auto& c : data["cases"]) {
      const std::string text = c["text"];
      SCOPED_TRACE(json(text).dump());
      const Ids plain = tok->Encode(text, false);
      const Ids special = tok->Encode(text, true);
      EXPECT_EQ(plain, c["ids"].get<Ids>());
      EXPECT_EQ(special, c["ids_with_special"].get<Ids>());
      EXPECT_EQ(tok->Decode(c["ids"].get<Ids>(), true), c["decoded"].get<std::string>());
      EXPECT_EQ(tok->Decode(c["ids_with_special"].get<Ids>(), false), c["decoded_with_special"].get<std::string>());
      EXPECT_EQ(tok->Decode(c["ids_with_special"].get<Ids>(), true), c["decoded_skip_special"].get<std::string>());
    }
    for (const auto& c : data["decode_cases"]) {
      const Ids ids = c["ids"].get<Ids>();
      EXPECT_EQ(tok->Decode(ids, true), c["skip_special"].get<std::string>()) << json(ids).dump();
      EXPECT_EQ(tok->Decode(ids, false), c["keep_special"].get<std::string>()) << json(ids).dump();
    }
  }
}

TEST(BpeTokenizer, BosEosComeFromTokenizerConfig) {
  if (!fs::exists(DataPath(kCases))) GTEST_SKIP() << "run tests/fixtures/make_tokenizer_fixtures.py first";
  // The folder form picks tokenizer.json; its tokenizer_config.json names <|eot_id|> as eos ({"content": ...}).
  const auto tok = LoadTokenizer(DataPath("tokenizer"));
  EXPECT_EQ(tok->Kind(), "bpe");
  EXPECT_EQ(tok->BosId(), tok->TokenToId("<|begin_of_text|>"));
  EXPECT_EQ(tok->EosId(), tok->TokenToId("<|eot_id|>"));
  EXPECT_NE(tok->EosId(), tok->TokenToId("<|end_of_text|>"));
  // Names the config does not know fall back to <s>/</s>.
  const auto prefix = LoadTokenizer(DataPath("tokenizer/gpt2_prefix_space.json"));
  EXPECT_EQ(prefix->BosId(), prefix->TokenToId("<s>"));
  EXPECT_EQ(prefix->EosId(), prefix->TokenToId("</s>"));
}

// ---------------------------------------------------------------------------------------------------------------
// SentencePiece through the dlopen'ed shim, in a process that holds LibTorch.

const char* kSpmModel = "spm/tiny.model";

TEST(SpmTokenizer, IdsMatchSpmEncodeInAProcessWithLibTorch) {
  MOME_SKIP_SENTENCEPIECE_IF_SANITIZED();
  const json expected = ReadJson(DataPath("spm/expected.json"));
  const auto tok = LoadTokenizer(DataPath(kSpmModel));
  EXPECT_EQ(tok->Kind(), "sentencepiece");
  EXPECT_EQ(tok->VocabSize(), expected["vocab_size"].get<int64_t>());
  EXPECT_EQ(tok->BosId(), expected["bos_id"].get<int64_t>());
  EXPECT_EQ(tok->EosId(), expected["eos_id"].get<int64_t>());
  EXPECT_EQ(tok->TokenToId("<s>"), expected["bos_id"].get<int64_t>());
  EXPECT_EQ(tok->TokenToId("<unk>"), expected["unk_id"].get<int64_t>());
  EXPECT_FALSE(tok->TokenToId("no such piece").has_value());
  for (const auto& c : expected["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE(text);
    const Ids ids = c["ids"].get<Ids>();
    EXPECT_EQ(tok->Encode(text, false), ids);
    Ids with_bos{*tok->BosId()};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    EXPECT_EQ(tok->Encode(text, true), with_bos);
    EXPECT_EQ(tok->Decode(ids, true), c["decoded"].get<std::string>());
    EXPECT_EQ(tok->Decode(with_bos, true), c["decoded"].get<std::string>());
  }
}

TEST(SpmTokenizer, AddedSpecialTokensAndDecodeErrors) {
  MOME_SKIP_SENTENCEPIECE_IF_SANITIZED();
  auto tok = LoadTokenizer(DataPath(kSpmModel));
  const int64_t size = tok->VocabSize();
  const int64_t audio = tok->AddSpecialToken("<audio>");
  EXPECT_EQ(audio, size);
  EXPECT_EQ(tok->AddSpecialToken("<audio>"), audio);
  EXPECT_EQ(tok->IdToToken(audio), "<audio>");
  EXPECT_EQ(tok->AddSpecialToken("<s>"), *tok->BosId());
  Ids expected = tok->Encode("Hello", false);
  expected.push_back(audio);
  const Ids world = tok->Encode("world", false);
  expected.insert(expected.end(), world.begin(), world.end());
  EXPECT_EQ(tok->Encode("Hello<audio>world", false), expected);
  // Ordinary pieces are decoded together, as HF LlamaTokenizer does after dropping the special ones.
  EXPECT_EQ(tok->Decode(expected, true), "Hello world");
  EXPECT_EQ(tok->Decode({*tok->BosId(), audio}, false), "<s><audio>");
  ExpectError([&] { tok->Decode({tok->VocabSize()}, true); }, ErrorCode::kInvalidArgument,
              {std::to_string(tok->VocabSize()), "tiny.model"});
}

TEST(SpmTokenizer, BadModelFilesAreCleanErrors) {
  MOME_SKIP_SENTENCEPIECE_IF_SANITIZED();
  const char bytes[] = "\x08\x96\x01 not a model at all";
  const std::string garbage = WriteTemp("garbage.model", std::string(bytes, sizeof(bytes) - 1));
  ExpectError([&] { LoadTokenizer(garbage); }, ErrorCode::kCorruptFile, {garbage});
  ExpectError([&] { LoadTokenizer("/no/such/tiny.model"); }, ErrorCode::kNotFound, {"/no/such/tiny.model"});
  // A folder with only tokenizer.model takes the SentencePiece path.
  const fs::path folder = fs::path(::testing::TempDir()) / "spm_folder";
  fs::create_directories(folder);
  fs::copy_file(DataPath(kSpmModel), folder / "tokenizer.model", fs::copy_options::overwrite_existing);
  EXPECT_EQ(LoadTokenizer(folder.string())->Kind(), "sentencepiece");
}

}  // namespace
}  // namespace mome
