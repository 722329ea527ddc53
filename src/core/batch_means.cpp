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

// The batch-means standard error of a quantity whose deviation from its estimate in block b is
// deviation(b): sqrt(B/(B − 1) Σ_b w_b² deviation(b)²), NaN for fewer than two blocks.
template <class Deviation>
double weighted_stderr(const Blocks& blocks, Deviation deviation) {
  const std::size_t nb = blocks.rates.size();
  if (nb < 2) return kNaN;
  double total = 0;
  for (double t : blocks.times) total += t;
  double v = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    const double w = blocks.times[b] / total;
    const double d = deviation(b);
    v += w * w * d * d;
  }
  const double n = static_cast<double>(nb);
  return std::sqrt(v * n / (n - 1));
}

// The standard error of Σ_i g_i λ_i (terms with g_i = 0 skipped: a −∞ exponent's NaN deviation
// does not reach the quantities that do not depend on it).
double linear_stderr(const std::vector<double>& g, const std::vector<double>& estimate,
                     const Blocks& blocks) {
  return weighted_stderr(blocks, [&](std::size_t b) {
    double d = 0;
    for (std::size_t i = 0; i < g.size(); ++i)
      if (g[i] != 0) d += g[i] * (blocks.rates[b][blocks.offset + i] - estimate[i]);
    return d;
  });
}

}  // namespace

std::vector<double> batch_means_stderr(const std::vector<double>& estimate, const Blocks& blocks) {
  std::vector<double> out(estimate.size());
  for (std::size_t i = 0; i < estimate.size(); ++i)
    out[i] = weighted_stderr(
        blocks, [&](std::size_t b) { return blocks.rates[b][blocks.offset + i] - estimate[i]; });
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
  // zero gradient, so its error is 0.
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
    se.ky_dimension = linear_stderr(g, estimate, blocks);
  }
  return se;
}

}  // namespace rnnlyap::detail
