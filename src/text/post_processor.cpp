#include "text/post_processor.h"

#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/io/json.h"
#include "text/tokenizer_json.h"

namespace mome::text {

PostProcessor PostProcessor::FromJson(const nlohmann::json& config, const std::string& file) {
  PostProcessor processor;
  if (!config.is_null()) Parse(config, file, &processor);
  return processor;
}

void PostProcessor::Parse(const nlohmann::json& config, const std::string& file, PostProcessor* out) {
  const std::string type = ComponentType(config);
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const auto& inner : RequireMember(config, "processors", file, "post_processor Sequence")) {
      Parse(inner, file, out);
    }
    return;
  }
  MOME_CHECK(type == "TemplateProcessing", ErrorCode::kUnsupported, file, ": post_processor '",
             DescribeComponent(config), "' is not supported (TemplateProcessing, ByteLevel and Sequence are)");
  // Each processor of a Sequence sees the previous one's output, so templates nest outside in.
  std::vector<int64_t> before, after;
  bool seen_sequence = false;
  const auto& specials = RequireMember(config, "special_tokens", file, "post_processor TemplateProcessing");
  for (const auto& piece : RequireMember(config, "single", file, "post_processor TemplateProcessing")) {
    if (piece.contains("Sequence")) {
      const std::string id = RequireMember(piece.at("Sequence"), "id", file, "template Sequence").get<std::string>();
      MOME_CHECK(id == "A" && !seen_sequence, ErrorCode::kUnsupported, file,
                 ": post_processor single template must use $A exactly once");
      seen_sequence = true;
      continue;
    }
    const std::string name =
        RequireMember(RequireMember(piece, "SpecialToken", file, "template piece"), "id", file, "template SpecialToken")
            .get<std::string>();
    const auto& entry = RequireMember(specials, name.c_str(), file, "post_processor special_tokens");
    for (const auto& id : RequireMember(entry, "ids", file, "special token " + name)) {
      (seen_sequence ? after : before).push_back(io::IntValue(id, file + ": special token " + name + "'s id"));
    }
  }
  MOME_CHECK(seen_sequence, ErrorCode::kCorruptFile, file, ": post_processor single template has no $A");
  out->before_.insert(out->before_.begin(), before.begin(), before.end());
  out->after_.insert(out->after_.end(), after.begin(), after.end());
}

std::vector<int64_t> PostProcessor::Apply(const std::vector<int64_t>& ids) const {
  std::vector<int64_t> out;
  out.reserve(before_.size() + ids.size() + after_.size());
  out.insert(out.end(), before_.begin(), before_.end());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), after_.begin(), after_.end());
  return out;
}

}  // namespace mome::text
