#include "mome/data/noise.h"

#include <ATen/ATen.h>

#include <cmath>

#include "mome/core/error.h"

namespace mome::data {
namespace {
double Power(const at::Tensor& x) { return x.to(at::kDouble).pow(2).mean().item<double>(); }

at::Tensor FitLength(const at::Tensor& x, int64_t n, int64_t offset) {
  const int64_t len = x.numel();
  const at::Tensor idx = (at::arange(n, at::kLong) + offset) % len;
  return x.reshape({-1}).index_select(0, idx);
}
}  // namespace

at::Tensor MixAtSnr(const at::Tensor& speech, const at::Tensor& noise, double snr_db) {
  MOME_CHECK(noise.defined() && noise.numel() > 0, ErrorCode::kInvalidArgument, "noise is empty");
  const at::Tensor s = speech.to(at::kFloat).reshape({-1});
  const at::Tensor n = FitLength(noise.to(at::kFloat), s.numel(), 0);
  const double ps = Power(s), pn = Power(n);
  if (ps <= 0 || pn <= 0) return s.clone();
  const double gain = std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0)));
  return s + n * gain;
}

at::Tensor MakeBabble(const std::vector<at::Tensor>& pool, int64_t samples, int64_t talkers, std::mt19937_64& rng) {
  MOME_CHECK(!pool.empty(), ErrorCode::kInvalidArgument, "babble needs at least one other utterance");
  at::Tensor out = at::zeros({samples}, at::kFloat);
  for (int64_t t = 0; t < talkers; ++t) {
    const at::Tensor& u = pool[rng() % pool.size()];
    if (u.numel() == 0) continue;
    const double p = Power(u);
    if (p <= 0) continue;
    out += FitLength(u.to(at::kFloat), samples, static_cast<int64_t>(rng() % u.numel())) / std::sqrt(p);
  }
  return out;
}

double MeasureSnr(const at::Tensor& speech, const at::Tensor& mixture) {
  const at::Tensor s = speech.to(at::kDouble).reshape({-1});
  const double pn = Power(mixture.to(at::kDouble).reshape({-1}) - s);
  return 10.0 * std::log10(Power(s) / pn);
}

}  // namespace mome::data
