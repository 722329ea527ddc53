// Batch-means standard errors (batch_means.hpp).
#include "batch_means.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

namespace rnnlyap::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The standard error of Σ_i g_i λ_i: the batch-means formula applied to Σ_i g_i λ_{b,i}.
double linear_stderr(const std::vector<double>& g, const std::vector<double>& estimate,
                     const Blocks& blocks) {
  const std::size_t nb = blocks.rates.size();
  if (nb < 2) return kNaN;
  double total = 0;
  for (double t : blocks.times) total += t;
  double v = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    const double w = blocks.times[b] / total;
    double d = 0;
    for (std::size_t i = 0; i < g.size(); ++i)
      if (g[i] != 0) d += g[i] * (blocks.rates[b][blocks.offset + i] - estimate[i]);
    v += w * w * d * d;
  }
  const double n = static_cast<double>(nb);
  return std::sqrt(v * n / (n - 1));
}

}  // namespace

std::vector<double> batch_means_stderr(const std::vector<double>& estimate, const Blocks& blocks) {
  std::vector<double> out(estimate.size(), kNaN);
  std::vector<double> g(estimate.size(), 0.0);
  for (std::size_t i = 0; i < estimate.size(); ++i) {
    g[i] = 1;
    out[i] = linear_stderr(g, estimate, blocks);
    g[i] = 0;
  }
  return out;
}

SpectrumSummary summary_stderr(const std::vector<double>& estimate, const Blocks& blocks) {
  SpectrumSummary se;
  const std::size_t k = estimate.size();
  if (k == 0) return se;
  // The exponents in descending order (the summary's order), as indices into `estimate`.
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return estimate[a] > estimate[b]; });
  std::vector<double> g(k, 0.0);
  g[order.front()] = 1;
  se.max_exponent = linear_stderr(g, estimate, blocks);
  std::fill(g.begin(), g.end(), 1.0);
  se.sum = linear_stderr(g, estimate, blocks);
  std::fill(g.begin(), g.end(), 1.0 / static_cast<double>(k));
  se.mean_exponent = linear_stderr(g, estimate, blocks);
  for (std::size_t i = 0; i < k; ++i) g[i] = estimate[i] > 0 ? 1.0 : 0.0;
  se.ks_entropy = linear_stderr(g, estimate, blocks);
  // D = j + P/|λ_(j+1)| with P = Σ_{i≤j} λ_(i) ≥ 0 > P + λ_(j+1): ∂D/∂λ_(i) = 1/|λ_(j+1)| for
  // i ≤ j and P/λ_(j+1)² for i = j + 1 (j fixed near the estimate). D = 0 (j = 0, λ_(1) < 0) has
  // zero gradient: its error is 0.
  double partial = 0;
  std::size_t j = 0;
  while (j < k && partial + estimate[order[j]] >= 0) partial += estimate[order[j++]];
  if (j == k) {
    se.ky_dimension = kNaN;
  } else {
    std::fill(g.begin(), g.end(), 0.0);
    const double next = estimate[order[j]];
    for (std::size_t i = 0; i < j; ++i) g[order[i]] = 1.0 / std::abs(next);
    g[order[j]] = partial / (next * next);
    se.ky_dimension = j == 0 ? 0.0 : linear_stderr(g, estimate, blocks);
    if (blocks.rates.size() < 2) se.ky_dimension = kNaN;
  }
  return se;
}

}  // namespace rnnlyap::detail
