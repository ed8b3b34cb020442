// The post-processor of a tokenizer.json, for single sequences: the special tokens that
// encode(..., add_special_tokens=True) puts around the text (Llama 3: <|begin_of_text|> before it).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace mome::text {

class PostProcessor {
 public:
  // Parses "post_processor": null, ByteLevel (offsets only: nothing to do for ids),
  // TemplateProcessing, or a Sequence of those.
  static PostProcessor FromJson(const nlohmann::json& config, const std::string& file);

  // Wraps ids in the template's special tokens.
  std::vector<int64_t> Apply(const std::vector<int64_t>& ids) const;

 private:
  static void Parse(const nlohmann::json& config, const std::string& file, PostProcessor* out);

  std::vector<int64_t> before_;
  std::vector<int64_t> after_;
};

}  // namespace mome::text
