// Where a checkpoint keeps its MoE expert weights, per architecture, and reading one layer's experts at a time
// (so compression never holds more than one layer in memory).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mome/io/safetensors.h"

namespace mome::compress {

// One matrix kind of an expert: a short tag for reports ("gate") and the name suffix that selects it.
struct ExpertKind {
  std::string tag;
  std::string suffix;
};

// Tensor names of the experts of layer l, by architecture:
//   qwen3_moe, deepseek_v3: model.layers.{l}.mlp.experts.{i}.{gate,up,down}_proj.weight, one [p, d] / [d, p] per expert
//   mixtral:                model.layers.{l}.block_sparse_moe.experts.{i}.{w1,w3,w2}.weight (w1 gate, w3 up, w2 down)
//   mome (libmome's MoMEAdapter): <prefix>layer{l}_mome.down_weight [E, b, d] and <prefix>layer{l}_mome.up_weight
//                           [d, E, b], every expert of the layer stacked in one tensor (src/adapters/mome.cpp);
//                           <prefix> is what the saving module put in front, e.g. "adapters." or "avsr.adapters.".
// MoBE factorises the matrices that read the layer's input (gate and up; MoME's down_weight, its Linear(d, b)) and
// keeps the output projection (down; MoME's up_weight) dense and bit-identical.
struct ExpertNaming {
  std::string arch;
  bool stacked = false;                // mome: one tensor per kind and layer instead of one per expert
  std::string layer_infix;             // per-expert archs: "mlp" or "block_sparse_moe"
  std::string prefix;                  // mome: text before "layer{l}_mome."
  std::vector<ExpertKind> factorised;  // per-expert archs: {gate, up}; mome: {down}
  ExpertKind dense;                    // per-expert archs: down; mome: up

  // Per-expert archs: "model.layers.{l}.<infix>.experts."; mome: "<prefix>layer{l}_mome.".
  std::string Prefix(int64_t layer) const;
  // Per-expert archs only (kInternal for mome): expert i's tensor of a kind.
  std::string ExpertName(int64_t layer, int64_t expert, const ExpertKind& kind) const;
  std::string GateName(int64_t layer, int64_t expert) const { return ExpertName(layer, expert, factorised.at(0)); }
  std::string UpName(int64_t layer, int64_t expert) const { return ExpertName(layer, expert, factorised.at(1)); }
  std::string DownName(int64_t layer, int64_t expert) const { return ExpertName(layer, expert, dense); }
  // A kind's tensors in layer l with n experts: n per-expert names, or the one stacked name for mome.
  std::vector<std::string> KindNames(int64_t layer, int64_t experts, const ExpertKind& kind) const;
};

// The naming of an architecture, with mome's prefix defaulting to "adapters." (an AvsrModel's own names).
ExpertNaming NamingFor(const std::string& arch);
// The same, with mome's prefix taken from the checkpoint: the one text that precedes every
// "layer{l}_mome.down_weight" in it (kNotFound when there is none, kInvalidArgument when several differ).
ExpertNaming NamingFor(const std::string& arch, const io::CheckpointReader& ckpt);

// One layer's experts.
struct ExpertLayer {
  int64_t layer = 0;
  int64_t experts = 0;
  // One per naming.factorised kind, in that order: stacked [n, p, d] (expert i's matrix is [i]), float32, CPU.
  std::vector<torch::Tensor> factorised;
  // The dense kind's tensors exactly as stored (dtype and layout), under their names: n per-expert matrices, or
  // mome's one stacked up_weight.
  std::vector<std::pair<std::string, torch::Tensor>> dense;
};

// Layers that hold experts under this naming, ascending; and for one layer, the expert count (per-expert archs:
// 0, 1, ..., n−1 must all be present; mome: E of down_weight). Throw kNotFound when there are none.
std::vector<int64_t> ExpertLayers(const io::CheckpointReader& ckpt, const ExpertNaming& naming);
int64_t ExpertCount(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer);

// Reads one layer; every expert's matrix of a kind must have the shape of expert 0's, and mome's up_weight must be
// [d, E, b] for a down_weight [E, b, d] (kShapeMismatch names the tensor and the shapes otherwise).
ExpertLayer ReadExpertLayer(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer);

// A hex digest of every expert tensor of the layer (names, dtypes, shapes and all bytes): a resumed run compares it
// to tell a part file made from other weights. Reads the whole layer once.
std::string LayerFingerprint(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer);

}  // namespace mome::compress
