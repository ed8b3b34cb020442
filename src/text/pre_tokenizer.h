// The pre-tokenizer of a byte-level BPE tokenizer.json: regex splits and the byte-level mapping.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "text/split_patterns.h"

namespace mome::text {

class PreTokenizer {
 public:
  // Parses "pre_tokenizer": null, ByteLevel, Split (one of the known regexes, behavior Isolated,
  // not inverted), or a Sequence of those. Anything else is kUnsupported naming the file.
  static PreTokenizer FromJson(const nlohmann::json& config, const std::string& file);

  // Appends the pre-tokens of `text` (a stretch between added tokens) to `pieces`.
  void Run(std::string_view text, std::vector<std::string>* pieces) const;

 private:
  struct Step {
    bool byte_level = false;  // false: a Split step
    SplitPattern pattern = SplitPattern::kGpt2;
    bool split = true;  // ByteLevel's use_regex
    bool add_prefix_space = false;
  };
  static void Parse(const nlohmann::json& config, const std::string& file, std::vector<Step>* steps);

  std::vector<Step> steps_;
};

}  // namespace mome::text
