// MoBE factorisation and the equal-budget baselines (SPEC.md §6).
#include "mome/compress/mobe.h"

#include <algorithm>
#include <limits>

#include "mome/core/error.h"

namespace mome::compress {

namespace {

// silu has its minimum at x* ≈ -1.27846 with value ≈ -0.278465; it is increasing on [x*, ∞).
constexpr double kSiluArgMin = -1.2784645;
constexpr double kSiluMin = -0.2784645;

// f⁻¹ on the increasing branch of f, elementwise; v must lie in f's range there (the caller scales it so).
torch::Tensor InverseActivation(const torch::Tensor& v, Activation a) {
  if (a == Activation::kTanh) return torch::atanh(v);
  // No closed form for silu⁻¹: bisection, 60 halvings of a bracket a few units wide is far below float eps.
  auto lo = torch::full_like(v, kSiluArgMin);
  auto hi = torch::full_like(v, std::max(2.0, 2.0 * v.abs().max().item<double>() + 2.0));
  for (int it = 0; it < 60; ++it) {
    auto mid = (lo + hi) * 0.5;
    auto above = torch::silu(mid) > v;
    hi = torch::where(above, mid, hi);
    lo = torch::where(above, lo, mid);
  }
  return (lo + hi) * 0.5;
}

// Largest c ≤ 1 with c·v inside the part of f's range where f⁻¹ is well conditioned.
double SafeScale(const torch::Tensor& v, Activation a) {
  if (a == Activation::kTanh) {
    const double mx = v.abs().max().item<double>();
    return mx > 0.9 ? 0.9 / mx : 1.0;
  }
  const double neg = -v.min().item<double>();
  const double limit = 0.9 * -kSiluMin;
  return neg > limit ? limit / neg : 1.0;
}

torch::Tensor Mix(const torch::Tensor& logits, const torch::Tensor& b) {
  // [n, m] × [m, r, d] → [n, r, d]
  return torch::einsum("nm,mrd->nrd", {torch::softmax(logits, 1), b});
}

// Mixing logit for an expert's own group at init: large enough that softmax is one-hot to ~e^-12.
constexpr double kOwnGroupLogit = 12.0;

}  // namespace

Activation ParseActivation(const std::string& name) {
  if (name == "silu") return Activation::kSilu;
  if (name == "tanh") return Activation::kTanh;
  MOME_FAIL(ErrorCode::kInvalidArgument, "unknown activation '", name, "' (expected silu or tanh)");
}

const char* ActivationName(Activation a) { return a == Activation::kTanh ? "tanh" : "silu"; }

torch::Tensor ApplyActivation(const torch::Tensor& x, Activation a) {
  return a == Activation::kTanh ? torch::tanh(x) : torch::silu(x);
}

int64_t MobeMatrixParams(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m, bool with_logits) {
  return n * p * r + m * r * d + (with_logits ? n * m : 0);
}

int64_t MobeLayerParams(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m, bool with_logits) {
  return n * d * p + 2 * MobeMatrixParams(n, p, d, r, m, with_logits);
}

int64_t GroupOf(int64_t expert, int64_t n, int64_t m) { return expert * m / n; }

void ValidateMobeProblem(const torch::Tensor& w, const MobeOptions& o, const std::string& what) {
  MOME_CHECK(w.dim() == 3, ErrorCode::kShapeMismatch, what, ": expected stacked experts [n, p, d], got shape ",
             w.sizes());
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2);
  MOME_CHECK(n >= 1 && p >= 1 && d >= 1, ErrorCode::kShapeMismatch, what, ": empty expert matrices, shape ",
             w.sizes());
  MOME_CHECK(o.rank >= 1 && o.rank <= std::min(p, d), ErrorCode::kInvalidArgument, what, ": rank ", o.rank,
             " must be in [1, min(p, d)] = [1, ", std::min(p, d), "] for experts of shape [", p, ", ", d, "]");
  MOME_CHECK(o.bases >= 1 && o.bases <= n, ErrorCode::kInvalidArgument, what, ": bases ", o.bases,
             " must be in [1, number of experts] = [1, ", n, "]");
  MOME_CHECK(o.steps >= 0, ErrorCode::kInvalidArgument, what, ": steps must be >= 0, got ", o.steps);
  MOME_CHECK(o.lr > 0, ErrorCode::kInvalidArgument, what, ": lr must be > 0, got ", o.lr);
}

MobeFactors FitMobe(const torch::Tensor& w_in, const MobeOptions& o, const std::string& what) {
  ValidateMobeProblem(w_in, o, what);
  torch::NoGradGuard outer_no_grad;
  torch::manual_seed(o.seed);
  const auto w = w_in.to(torch::kFloat32);
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2), r = o.rank, m = o.bases;
  MobeFactors f;
  f.activation = o.activation;
  f.sigma = w.std().item<double>();
  if (!(f.sigma > 0)) f.sigma = 1.0;  // all-zero experts: any scale reproduces them
  const auto target = w / f.sigma;

  // Grouped-SVD init. f is nonlinear, so B_g = V_rᵀ would not give back the SVD reconstruction; instead B_g =
  // f⁻¹(c·V_rᵀ) and A_i = (rows of U_r Σ_r)/c, with c ≤ 1 keeping c·V_rᵀ where f⁻¹ exists. With one-hot mixing this
  // reproduces the grouped SVD exactly; the own-group logit kOwnGroupLogit (others 0) makes softmax one-hot to
  // ~(m−1)·e^-12, so the init equals the grouped-SVD reconstruction up to that.
  auto a = torch::empty({n, p, r}, w.options());
  auto b = torch::empty({m, r, d}, w.options());
  auto logits = torch::zeros({n, m}, w.options());
  for (int64_t g = 0; g < m; ++g) {
    int64_t first = -1, last = -1;
    for (int64_t i = 0; i < n; ++i)
      if (GroupOf(i, n, m) == g) {
        if (first < 0) first = i;
        last = i;
      }
    const int64_t count = last - first + 1;
    auto stacked = target.narrow(0, first, count).reshape({count * p, d});
    auto [us, vt] = TruncatedSvd(stacked, std::min(r, std::min(count * p, d)));
    if (vt.size(0) < r) {  // fewer stacked rows than r: pad with zero directions
      vt = torch::cat({vt, torch::zeros({r - vt.size(0), d}, w.options())});
      us = torch::cat({us, torch::zeros({count * p, r - us.size(1)}, w.options())}, 1);
    }
    const double c = SafeScale(vt, o.activation);
    b[g] = InverseActivation(vt * c, o.activation);
    a.narrow(0, first, count).copy_(us.reshape({count, p, r}) / c);
    logits.narrow(0, first, count).select(1, g).fill_(kOwnGroupLogit);
  }

  a.set_requires_grad(true);
  b.set_requires_grad(true);
  logits.set_requires_grad(true);
  torch::optim::Adam adam({a, b, logits}, torch::optim::AdamOptions(o.lr));
  auto loss_of = [&]() {
    auto w_hat = torch::bmm(a, ApplyActivation(Mix(logits, b), o.activation));
    return torch::mse_loss(w_hat, target);
  };
  double best = std::numeric_limits<double>::infinity();
  torch::Tensor best_a, best_b, best_logits;
  for (int64_t step = 0; step <= o.steps; ++step) {
    torch::Tensor loss;
    {
      torch::AutoGradMode grad_on(true);
      adam.zero_grad();
      loss = loss_of();
      if (step < o.steps) loss.backward();
    }
    // The loss is of the iterate before this step's update, so the snapshot taken here is the one that scored it.
    const double value = loss.item<double>();
    if (step == 0) f.init_mse = value;
    if (value < best) {
      best = value;
      best_a = a.detach().clone();
      best_b = b.detach().clone();
      best_logits = logits.detach().clone();
    }
    if (step < o.steps) adam.step();
  }
  f.a = best_a;
  f.b = best_b;
  f.logits = best_logits;
  f.best_mse = best;
  return f;
}

torch::Tensor ReconstructMobe(const MobeFactors& f) {
  torch::NoGradGuard no_grad;
  return torch::bmm(f.a, ApplyActivation(Mix(f.logits, f.b), f.activation)) * f.sigma;
}

torch::Tensor ReconstructMobeExpert(const MobeFactors& f, int64_t expert) {
  torch::NoGradGuard no_grad;
  MOME_CHECK(expert >= 0 && expert < f.a.size(0), ErrorCode::kInvalidArgument, "expert ", expert,
             " out of range [0, ", f.a.size(0), ")");
  auto alpha = torch::softmax(f.logits[expert], 0);                   // [m]
  auto mixed = torch::tensordot(alpha, f.b, {0}, {0});                // [r, d]
  return torch::mm(f.a[expert], ApplyActivation(mixed, f.activation)) * f.sigma;
}

BaselineResult TruncatedSvdBaseline(const torch::Tensor& w_in, int64_t budget) {
  torch::NoGradGuard no_grad;
  const auto w = w_in.to(torch::kFloat32);
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2);
  const int64_t k = std::min(budget / (n * (p + d)), std::min(p, d));
  MOME_CHECK(k >= 1, ErrorCode::kInvalidArgument, "parameter budget ", budget,
             " is below one rank of per-expert SVD (", n * (p + d), ")");
  auto out = torch::empty_like(w);
  for (int64_t i = 0; i < n; ++i) {
    auto [us, vt] = TruncatedSvd(w[i], k);
    out[i] = torch::mm(us, vt);
  }
  return {out, k, n * k * (p + d)};
}

BaselineResult MolaeBaseline(const torch::Tensor& w_in, int64_t m, int64_t budget) {
  torch::NoGradGuard no_grad;
  const auto w = w_in.to(torch::kFloat32);
  const int64_t n = w.size(0), p = w.size(1), d = w.size(2);
  const int64_t k = std::min(budget / (n * p + m * d), std::min(p, d));
  MOME_CHECK(k >= 1, ErrorCode::kInvalidArgument, "parameter budget ", budget, " is below one rank of MoLAE (",
             n * p + m * d, ")");
  auto out = torch::empty_like(w);
  for (int64_t g = 0; g < m; ++g) {
    int64_t first = -1, count = 0;
    for (int64_t i = 0; i < n; ++i)
      if (GroupOf(i, n, m) == g) {
        if (first < 0) first = i;
        ++count;
      }
    auto stacked = w.narrow(0, first, count).reshape({count * p, d});
    auto [us, vt] = TruncatedSvd(stacked, std::min(k, count * p));
    out.narrow(0, first, count).copy_(torch::mm(us, vt).reshape({count, p, d}));
  }
  return {out, k, n * p * k + m * k * d};
}

std::pair<torch::Tensor, torch::Tensor> TruncatedSvd(const torch::Tensor& x, int64_t k, SvdMethod method) {
  torch::NoGradGuard no_grad;
  MOME_CHECK(x.dim() == 2 && k >= 1 && k <= std::min(x.size(0), x.size(1)), ErrorCode::kInvalidArgument,
             "truncated SVD: rank ", k, " is outside [1, min(rows, cols)] for a matrix of shape ", x.sizes());
  const int64_t rows = x.size(0), cols = x.size(1);
  const bool elongated = rows >= kGramAspect * cols || cols >= kGramAspect * rows;
  if (method == SvdMethod::kDirect || (method == SvdMethod::kAuto && !elongated)) {
    auto [u, s, vh] = torch::linalg_svd(x, /*full_matrices=*/false);
    return {u.narrow(1, 0, k) * s.narrow(0, 0, k).unsqueeze(0), vh.narrow(0, 0, k)};
  }
  const auto dtype = x.scalar_type();
  const auto x64 = x.to(torch::kFloat64);
  if (rows >= cols) {
    // XᵀX = V Σ² Vᵀ. eigh sorts eigenvalues ascending, so the top k are its last k columns, reversed; then
    // U_k Σ_k = X V_k.
    auto [evals, evecs] = torch::linalg_eigh(torch::mm(x64.t(), x64));
    auto v = evecs.narrow(1, cols - k, k).flip({1});
    return {torch::mm(x64, v).to(dtype), v.t().contiguous().to(dtype)};
  }
  // XXᵀ = U Σ² Uᵀ; then U_kᵀ X = Σ_k V_kᵀ, whose row norms are the singular values.
  auto [evals, evecs] = torch::linalg_eigh(torch::mm(x64, x64.t()));
  auto u = evecs.narrow(1, rows - k, k).flip({1});
  auto sv = torch::mm(u.t(), x64);
  auto sigma = sv.pow(2).sum(1, /*keepdim=*/true).sqrt();
  // A zero singular value has no direction of its own: a zero row there keeps U_k Σ_k V_kᵀ = U_k U_kᵀ X exact.
  auto nonzero = sigma > 0;
  auto vt = torch::where(nonzero, sv / torch::where(nonzero, sigma, torch::ones_like(sigma)), torch::zeros_like(sv));
  return {(u * sigma.t()).to(dtype), vt.to(dtype)};
}

double RelativeSquaredError(const torch::Tensor& w, const torch::Tensor& w_hat) {
  torch::NoGradGuard no_grad;
  const auto wf = w.to(torch::kFloat64);
  const double denom = wf.pow(2).sum().item<double>();
  const double num = (wf - w_hat.to(torch::kFloat64)).pow(2).sum().item<double>();
  return denom > 0 ? num / denom : (num > 0 ? std::numeric_limits<double>::infinity() : 0.0);
}

}  // namespace mome::compress
