// Standard errors of a run's estimates from batch means (docs/design.md, "Error bars"). The
// averaging time T is cut into B consecutive blocks of times T_b; block b's rates λ_b are its log
// sums over T_b, so the estimate is λ̂ = Σ_b w_b λ_b with w_b = T_b / T. Blocks long against the
// correlation time are nearly independent, and
//   var(λ̂) ≈ B/(B − 1) Σ_b w_b² (λ_b − λ̂)²
// (equal blocks: the sample variance of the block rates over B). A smooth function f of the
// exponents (the Kaplan–Yorke dimension, the mean, the entropy) gets the same formula applied to
// ∇f(λ̂)·λ_b, its linearisation at the estimate (the delta method).
#pragma once

#include <cstddef>
#include <vector>

#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

/// The blocks of one run: rates[b][offset + i] is exponent i's rate in block b (offset selects a
/// member of a batch), times[b] the block's model time.
struct Blocks {
  const std::vector<std::vector<double>>& rates;
  const std::vector<double>& times;
  std::size_t offset = 0;
};

/// Standard error of each of the k exponents `estimate` (NaN for fewer than two blocks).
std::vector<double> batch_means_stderr(const std::vector<double>& estimate, const Blocks& blocks);

/// Standard errors of the summary's quantities (max_exponent, mean_exponent, sum, ky_dimension,
/// ks_entropy) of `estimate`, each linearised at the estimate; n_positive and ky_is_lower_bound are
/// left 0. The Kaplan–Yorke dimension's is NaN when it is only a lower bound (all partial sums
/// non-negative); all are NaN for fewer than two blocks.
SpectrumSummary summary_stderr(const std::vector<double>& estimate, const Blocks& blocks);

}  // namespace rnnlyap::detail
