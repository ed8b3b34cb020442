// Llama's RMSNorm, rotary embedding and SwiGLU product as single autograd nodes, for training through the frozen
// LLM (adapters, projectors and special tokens upstream need the gradient that flows through it).
// Why: composed from ATen operators, these are ~20 recorded operators and 14 autograd nodes per layer, and the
// slices of the packed gate|up output each materialise a zero-filled full-width gradient; eager training on the
// GPU waits on exactly this host work. Forward: the fused CUDA kernels (kernels/fused_kernels.h) on CUDA, the
// composed ops elsewhere, so the forward values are unchanged; backward: the closed-form gradients below. Only for
// frozen weights (the RMSNorm weight must not need a gradient).
#pragma once

#include <ATen/ATen.h>

namespace mome::llm {

// Whether the Llama uses these nodes when a gradient is wanted; kAuto: on CUDA only (the CPU path stays the plain
// autograd one the tests compare against).
enum class FusedTraining { kAuto, kOn, kOff };
void SetFusedTraining(FusedTraining mode);
bool UseFusedTraining(const at::Tensor& x);

// HF's LlamaRMSNorm: weight * T(float(x) * rsqrt(mean(float(x)^2) + eps)).
at::Tensor RmsNormNode(const at::Tensor& x, const at::Tensor& weight, double eps);
// x * cos + swap_halves(x) * signed_sin on [B, T, H, D] (signed_sin = [-sin, sin] as llama.cpp makes it).
at::Tensor RotaryNode(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin);
// silu(gate) * up from the packed [..., 2n] gate|up projection.
at::Tensor SiluMulNode(const at::Tensor& gate_up);

// The composed forms (also the CPU forward of the nodes).
at::Tensor RmsNormComposed(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor RotaryComposed(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin);
at::Tensor SiluMulComposed(const at::Tensor& gate_up);

}  // namespace mome::llm
