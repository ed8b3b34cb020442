// AVHubertConfig presets and JSON (the "config" metadata of files written by tools/convert_avhubert.py).
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/encoders/avhubert.h"
#include "mome/io/json.h"

namespace mome::encoders {

using nlohmann::json;

AVHubertConfig AVHubertConfig::Large() {
  return AVHubertConfig{};
}

AVHubertConfig AVHubertConfig::Tiny() {
  AVHubertConfig c;
  c.encoder_embed_dim = 48;
  c.encoder_layers = 2;
  c.encoder_attention_heads = 4;
  c.encoder_ffn_embed_dim = 96;
  c.conv_pos = 16;
  c.conv_pos_groups = 4;
  c.resnet.width = 8;
  return c;
}

AVHubertConfig AVHubertConfig::FromJson(const std::string& text, const std::string& where) {
  const json j = io::ParseJsonObject(text, where + " (AV-HuBERT config)");
  AVHubertConfig c;
  c.encoder_embed_dim = io::OptionalInt(j, "encoder_embed_dim", c.encoder_embed_dim, where);
  c.encoder_layers = io::OptionalInt(j, "encoder_layers", c.encoder_layers, where);
  c.encoder_attention_heads = io::OptionalInt(j, "encoder_attention_heads", c.encoder_attention_heads, where);
  c.encoder_ffn_embed_dim = io::OptionalInt(j, "encoder_ffn_embed_dim", c.encoder_ffn_embed_dim, where);
  c.conv_pos = io::OptionalInt(j, "conv_pos", c.conv_pos, where);
  c.conv_pos_groups = io::OptionalInt(j, "conv_pos_groups", c.conv_pos_groups, where);
  c.audio_feat_dim = io::OptionalInt(j, "audio_feat_dim", c.audio_feat_dim, where);
  c.resnet.width = io::OptionalInt(j, "resnet_width", c.resnet.width, where);
  if (j.contains("layer_norm_first")) {
    MOME_CHECK(j["layer_norm_first"].is_boolean(), ErrorCode::kCorruptFile, where,
               ": 'layer_norm_first' must be true or false");
    c.layer_norm_first = j["layer_norm_first"].get<bool>();
  }
  if (j.contains("modality_fuse")) {
    MOME_CHECK(j["modality_fuse"].is_string(), ErrorCode::kCorruptFile, where, ": 'modality_fuse' must be a string");
    c.modality_fuse = j["modality_fuse"].get<std::string>();
  }
  if (j.contains("resnet_relu_type")) {
    const auto type = j["resnet_relu_type"].is_string() ? j["resnet_relu_type"].get<std::string>() : "";
    MOME_CHECK(type == "prelu" || type == "relu", ErrorCode::kUnsupported, where, ": resnet_relu_type ",
               io::Describe(j["resnet_relu_type"]), " (only \"prelu\" and \"relu\")");
    c.resnet.prelu = type == "prelu";
  }
  if (j.contains("resnet_layers")) {
    MOME_CHECK(j["resnet_layers"].is_array(), ErrorCode::kCorruptFile, where, ": 'resnet_layers' must be a list");
    c.resnet.layers.clear();
    for (const auto& v : j["resnet_layers"]) {
      MOME_CHECK(v.is_number_integer(), ErrorCode::kCorruptFile, where, ": 'resnet_layers' must hold integers");
      c.resnet.layers.push_back(v.get<int64_t>());
    }
  }
  if (j.contains("activation_fn"))
    MOME_CHECK(j["activation_fn"] == "gelu", ErrorCode::kUnsupported, where, ": activation_fn ",
               io::Describe(j["activation_fn"]), " (only \"gelu\")");
  c.Validate(where);
  return c;
}

std::string AVHubertConfig::ToJson() const {
  json j;
  j["encoder_embed_dim"] = encoder_embed_dim;
  j["encoder_layers"] = encoder_layers;
  j["encoder_attention_heads"] = encoder_attention_heads;
  j["encoder_ffn_embed_dim"] = encoder_ffn_embed_dim;
  j["conv_pos"] = conv_pos;
  j["conv_pos_groups"] = conv_pos_groups;
  j["audio_feat_dim"] = audio_feat_dim;
  j["layer_norm_first"] = layer_norm_first;
  j["modality_fuse"] = modality_fuse;
  j["resnet_width"] = resnet.width;
  j["resnet_layers"] = resnet.layers;
  j["resnet_relu_type"] = resnet.prelu ? "prelu" : "relu";
  j["activation_fn"] = "gelu";
  return j.dump();
}

void AVHubertConfig::Validate(const std::string& where) const {
  MOME_CHECK(encoder_embed_dim > 0 && encoder_attention_heads > 0 && encoder_embed_dim % encoder_attention_heads == 0,
             ErrorCode::kInvalidArgument, where, ": encoder_embed_dim ", encoder_embed_dim,
             " is not divisible by encoder_attention_heads ", encoder_attention_heads);
  MOME_CHECK(conv_pos > 0 && conv_pos_groups > 0 && encoder_embed_dim % conv_pos_groups == 0,
             ErrorCode::kInvalidArgument, where, ": encoder_embed_dim ", encoder_embed_dim,
             " is not divisible by conv_pos_groups ", conv_pos_groups, " (or conv_pos ", conv_pos, " <= 0)");
  MOME_CHECK(encoder_layers >= 0 && encoder_ffn_embed_dim > 0 && audio_feat_dim > 0 && resnet.width > 0,
             ErrorCode::kInvalidArgument, where, ": non-positive AV-HuBERT size in config");
  MOME_CHECK(resnet.layers.size() >= 1 && resnet.layers.size() <= 8, ErrorCode::kInvalidArgument, where,
             ": resnet_layers must list 1 to 8 stages, got ", resnet.layers.size());
  for (int64_t n : resnet.layers)
    MOME_CHECK(n >= 1, ErrorCode::kInvalidArgument, where, ": resnet_layers entries must be >= 1");
  MOME_CHECK(modality_fuse == "concat" || modality_fuse == "add", ErrorCode::kUnsupported, where, ": modality_fuse '",
             modality_fuse, "' (only \"concat\" and \"add\")");
}

}  // namespace mome::encoders
