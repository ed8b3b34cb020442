#include "mome/adapters/adapter_set.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "mome/core/error.h"

namespace mome::adapters {
namespace {

int64_t Count(const at::Tensor& t) {
  return t.numel();
}

}  // namespace

AdapterSetImpl::AdapterSetImpl(const AdapterOptions& o, const llm::LlamaConfig& llm, const at::TensorOptions& t,
                               at::Generator init)
    : options_(o) {
  MOME_CHECK(o.num_scales > 0, ErrorCode::kInvalidArgument, "adapters need num_scales > 0");
  const int64_t layers = llm.num_hidden_layers;
  std::vector<int64_t> chosen = o.layers;
  if (chosen.empty())
    for (int64_t l = 0; l < layers; ++l) chosen.push_back(l);
  slot_of_layer_.assign(layers, -1);
  if (o.kind == AdapterKind::kNone) return;
  for (int64_t l : chosen) {
    MOME_CHECK(l >= 0 && l < layers, ErrorCode::kInvalidArgument, "adapter layer ", l, " outside [0, ", layers, ")");
    MOME_CHECK(slot_of_layer_[l] < 0, ErrorCode::kInvalidArgument, "adapter layer ", l, " listed twice");
    slot_of_layer_[l] = static_cast<int64_t>(std::max(mome_.size(), lora_q_.size()));
    if (o.kind == AdapterKind::kLoRA) {
      AddLoRA(l, llm, t, init);
      continue;
    }
    MoMEOptions m = o.mome;
    m.dim = llm.hidden_size;
    m.num_scales = o.num_scales;
    mome_.push_back(register_module("layer" + std::to_string(l) + "_mome", MoMEAdapter(m, t, init)));
  }
}

void AdapterSetImpl::AddLoRA(int64_t layer, const llm::LlamaConfig& llm, const at::TensorOptions& t,
                             const at::Generator& init) {
  const AdapterOptions& o = options_;
  MOME_CHECK(o.lora_reduction > 0 && llm.hidden_size % o.lora_reduction == 0, ErrorCode::kInvalidArgument,
             "lora reduction ", o.lora_reduction, " must divide the hidden size ", llm.hidden_size);
  const int64_t rank = llm.hidden_size / o.lora_reduction;
  const double scaling = o.lora_alpha / static_cast<double>(o.lora_reduction);
  const int64_t q_out = llm.num_attention_heads * llm.head_dim, v_out = llm.num_key_value_heads * llm.head_dim;
  const std::string prefix = "layer" + std::to_string(layer) + "_";
  std::vector<LoRA> q, v;
  auto add = [&](const std::string& tag) {
    q.push_back(register_module(prefix + "lora_q_" + tag, LoRA(llm.hidden_size, q_out, rank, scaling, t, init)));
    v.push_back(register_module(prefix + "lora_v_" + tag, LoRA(llm.hidden_size, v_out, rank, scaling, t, init)));
  };
  if (o.lora_variant != LoRAVariant::kMS)
    for (int64_t s = 0; s < o.num_scales; ++s) add("scale" + std::to_string(s));
  if (o.lora_variant != LoRAVariant::kSS) add("shared");
  lora_q_.push_back(q);
  lora_v_.push_back(v);
}

BoundAdapters AdapterSetImpl::At(int64_t scale, std::vector<RouterStats>* router_stats) const {
  MOME_CHECK(scale >= 0 && scale < options_.num_scales, ErrorCode::kInvalidArgument, "Matryoshka scale ", scale,
             " outside [0, ", options_.num_scales, ")");
  return BoundAdapters(*this, scale, router_stats);
}

int64_t AdapterSetImpl::SlotOf(int64_t layer) const {
  return layer >= 0 && layer < static_cast<int64_t>(slot_of_layer_.size()) ? slot_of_layer_[layer] : -1;
}

at::Tensor AdapterSetImpl::MoMEAt(int64_t layer, const at::Tensor& x, int64_t scale,
                                  std::vector<RouterStats>* stats) const {
  const int64_t slot = SlotOf(layer);
  if (slot < 0 || mome_.empty()) return {};
  return mome_[slot]->forward(x, scale, stats);
}

at::Tensor AdapterSetImpl::MoMEIf(Placement placement, int64_t layer, const at::Tensor& x, int64_t scale,
                                  std::vector<RouterStats>* stats) const {
  return options_.placement == placement ? MoMEAt(layer, x, scale, stats) : at::Tensor();
}

at::Tensor AdapterSetImpl::LoRAAt(int64_t layer, const at::Tensor& x, bool value, int64_t scale) const {
  const int64_t slot = SlotOf(layer);
  if (slot < 0 || lora_q_.empty()) return {};
  const auto& list = value ? lora_v_[slot] : lora_q_[slot];
  at::Tensor out;
  auto add = [&](const LoRA& l) { out = out.defined() ? out + l->forward(x) : l->forward(x); };
  if (options_.lora_variant != LoRAVariant::kMS) add(list[scale]);
  if (options_.lora_variant != LoRAVariant::kSS) add(list.back());
  return out;
}

bool AdapterSetImpl::AnySortedDispatch() const {
  for (const auto& m : mome_)
    if (m->options().dispatch == "sorted") return true;
  return false;
}

int64_t AdapterSetImpl::ActiveParameters(int64_t scale) const {
  int64_t total = 0;
  for (const auto& m : mome_) {
    const MoMEOptions& o = m->options();
    const int64_t experts = o.num_experts + o.num_shared;
    const int64_t per_expert =
        (Count(m->down_weight) + Count(m->down_bias) + Count(m->up_weight) + Count(m->up_bias)) / experts;
    total += (m->TopK(scale) + o.num_shared) * per_expert + Count(m->router_weights[o.shared_router ? 0 : scale]);
  }
  for (size_t slot = 0; slot < lora_q_.size(); ++slot) {
    for (const auto* list : {&lora_q_[slot], &lora_v_[slot]}) {
      auto count = [](const LoRA& l) { return Count(l->down) + Count(l->up); };
      if (options_.lora_variant != LoRAVariant::kMS) total += count((*list)[scale]);
      if (options_.lora_variant != LoRAVariant::kSS) total += count(list->back());
    }
  }
  return total;
}

// ---------------------------------------------------------------- one forward's view

BoundAdapters::BoundAdapters(const AdapterSetImpl& set, int64_t scale, std::vector<RouterStats>* router_stats)
    : set_(&set), scale_(scale), router_stats_(router_stats) {}

at::Tensor BoundAdapters::QueryDelta(int64_t layer, const at::Tensor& x) const {
  return set_->LoRAAt(layer, x, false, scale_);
}
at::Tensor BoundAdapters::ValueDelta(int64_t layer, const at::Tensor& x) const {
  return set_->LoRAAt(layer, x, true, scale_);
}
at::Tensor BoundAdapters::AttentionParallel(int64_t layer, const at::Tensor& normed) const {
  return set_->MoMEIf(Placement::kMHSA, layer, normed, scale_, router_stats_);
}
at::Tensor BoundAdapters::MlpParallel(int64_t layer, const at::Tensor& normed) const {
  return set_->MoMEIf(Placement::kFFN, layer, normed, scale_, router_stats_);
}
at::Tensor BoundAdapters::LayerParallel(int64_t layer, const at::Tensor& normed) const {
  return set_->MoMEIf(Placement::kLayer, layer, normed, scale_, router_stats_);
}

bool BoundAdapters::GraphCapturable() const {
  if (set_->mome_.empty()) return true;
  return router_stats_ == nullptr && !set_->AnySortedDispatch();
}

}  // namespace mome::adapters
