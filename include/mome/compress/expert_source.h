// Where a checkpoint keeps its MoE expert weights, per architecture, and reading one layer's experts at a time
// (so compression never holds more than one layer in memory).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mome/io/safetensors.h"

namespace mome::compress {

// Tensor names of expert i of layer l for the three matrix kinds, by architecture:
//   qwen3_moe, deepseek_v3: model.layers.{l}.mlp.experts.{i}.{gate,up,down}_proj.weight
//   mixtral:                model.layers.{l}.block_sparse_moe.experts.{i}.{w1,w3,w2}.weight (w1 gate, w3 up, w2 down)
// "mome" (libmome's own adapters) is not supported yet: ExpertNaming throws kUnsupported for it.
struct ExpertNaming {
  std::string arch;
  std::string GateName(int64_t layer, int64_t expert) const;
  std::string UpName(int64_t layer, int64_t expert) const;
  std::string DownName(int64_t layer, int64_t expert) const;
  std::string Prefix(int64_t layer) const;  // up to and including "experts."
  std::string gate_suffix, up_suffix, down_suffix;
  std::string layer_infix;  // "mlp" or "block_sparse_moe"
};
ExpertNaming NamingFor(const std::string& arch);

// One layer's experts: the layer index, and for each kind the stacked [n, p, d] weights (float32, CPU).
struct ExpertLayer {
  int64_t layer = 0;
  int64_t experts = 0;
  torch::Tensor gate, up, down;
};

// Layers that hold experts under this naming, ascending; and for one layer, the expert count (0, 1, ..., n−1 must
// all be present). Throws kNotFound when the checkpoint has no experts at all.
std::vector<int64_t> ExpertLayers(const io::CheckpointReader& ckpt, const ExpertNaming& naming);
int64_t ExpertCount(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer);

// Reads and stacks one layer; every expert's gate/up/down must have the shape of expert 0's (kShapeMismatch names the
// tensor and both shapes otherwise).
ExpertLayer ReadExpertLayer(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer);

}  // namespace mome::compress
