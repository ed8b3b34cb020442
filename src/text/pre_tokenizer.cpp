#include "text/pre_tokenizer.h"

#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "text/byte_level.h"
#include "text/tokenizer_json.h"

namespace mome::text {

PreTokenizer PreTokenizer::FromJson(const nlohmann::json& config, const std::string& file) {
  PreTokenizer pre;
  if (!config.is_null()) Parse(config, file, &pre.steps_);
  return pre;
}

void PreTokenizer::Parse(const nlohmann::json& config, const std::string& file, std::vector<Step>* steps) {
  const std::string type = ComponentType(config);
  if (type == "Sequence") {
    for (const auto& inner : RequireMember(config, "pretokenizers", file, "pre_tokenizer Sequence")) {
      Parse(inner, file, steps);
    }
    return;
  }
  Step step;
  if (type == "ByteLevel") {
    step.byte_level = true;
    step.add_prefix_space = BoolOr(config, "add_prefix_space", true);  // HF's defaults
    step.split = BoolOr(config, "use_regex", true);
  } else if (type == "Split") {
    const auto& pattern = RequireMember(config, "pattern", file, "pre_tokenizer Split");
    MOME_CHECK(pattern.is_object() && pattern.contains("Regex"), ErrorCode::kUnsupported, file,
               ": pre_tokenizer Split with a plain string pattern is not supported");
    const auto known = RecognizeSplitPattern(pattern.at("Regex").get<std::string>());
    MOME_CHECK(known.has_value(), ErrorCode::kUnsupported, file, ": pre_tokenizer Split regex ",
               pattern.at("Regex").dump(), " is not supported (only the Llama 3 and GPT-2 patterns are)");
    const std::string behavior = config.value("behavior", std::string("Isolated"));
    MOME_CHECK(behavior == "Isolated", ErrorCode::kUnsupported, file, ": pre_tokenizer Split behavior '", behavior,
               "' is not supported (only Isolated is)");
    MOME_CHECK(!BoolOr(config, "invert", false), ErrorCode::kUnsupported, file,
               ": pre_tokenizer Split with invert=true is not supported");
    step.pattern = *known;
  } else {
    MOME_FAIL(ErrorCode::kUnsupported, file, ": pre_tokenizer '", DescribeComponent(config),
              "' is not supported (ByteLevel, Split and Sequence are)");
  }
  steps->push_back(step);
}

void PreTokenizer::Run(std::string_view text, std::vector<std::string>* pieces) const {
  std::vector<std::string> current{std::string(text)};
  std::vector<std::string> next;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string& piece : current) {
      if (piece.empty()) continue;  // HF drops empty splits
      if (step.byte_level) {
        // HF adds the prefix space to every piece this step sees, not only the first one.
        if (step.add_prefix_space && piece.front() != ' ') piece.insert(piece.begin(), ' ');
        if (step.split) {
          for (std::string_view part : SplitWithPattern(piece, SplitPattern::kGpt2))
            next.push_back(ByteLevelEncode(part));
        } else {
          next.push_back(ByteLevelEncode(piece));
        }
      } else {
        for (std::string_view part : SplitWithPattern(piece, step.pattern)) next.emplace_back(part);
      }
    }
    current.swap(next);
  }
  for (std::string& piece : current) {
    if (!piece.empty()) pieces->push_back(std::move(piece));
  }
}

}  // namespace mome::text
