// A recurrent network: coupling matrix and bias, in the layout every backend uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rnnlyap/options.hpp"

namespace rnnlyap {

/// J is n×n in column-major order (J(i, j) = j[i + j*n], the BLAS convention); bias has n entries.
struct Network {
  int n = 0;
  std::vector<double> j;
  std::vector<double> bias;

  double& operator()(int row, int col) { return j[static_cast<std::size_t>(col) * n + row]; }
  double operator()(int row, int col) const { return j[static_cast<std::size_t>(col) * n + row]; }
};

/// Builds the network the options describe: draws gaussian or levy weights from the seed, or
/// loads the .npy file (which sets n). Applies zero_diagonal, and draws the bias b_i ~
/// N(0, bias_std²) from the seed (zero without --bias-std). Throws InvalidInput on bad files.
Network make_network(const SpectrumOptions& opt);

/// J_ij ~ N(0, g²/n), reproducible from the seed on every platform (counter-based generator).
Network gaussian_network(int n, double g, std::uint64_t seed);

/// J_ij = g n^(−1/α) S_α with S_α symmetric α-stable, scale 1 in scipy's default (S1)
/// parameterization (E e^{itS} = e^{−|t|^α}; α = 2 gives N(0, 2), α = 1 the standard Cauchy),
/// drawn by Chambers–Mallows–Stuck; reproducible from the seed on every platform, with the same
/// (row, column) counters as gaussian_network (docs/design.md). Throws InvalidInput unless 0 < α
/// ≤ 2.
Network levy_network(int n, double g, double alpha, std::uint64_t seed);

/// Mean and standard error (of the mean; NaN for samples = 1) of the log scale
/// Ξ = (1/α) ln((1/n) Σ_j |z_j|^α), z_j ~ S_α(1) i.i.d., over `samples` independent draws of n
/// values (a stream of its own, independent of the weights of the same seed). Behind the
/// finite-size transition of heavy-tailed networks (Xie, Mihalas & Kuśmierz, "Slow transition to
/// low-dimensional chaos in heavy-tailed RNNs", 2025; docs/design.md). For α = 2,
/// ⟨Ξ⟩ = ½ (2 ln 2 + ψ(n/2) − ln n) exactly. Throws InvalidInput for α outside (0, 2], n < 1 or
/// samples < 1.
std::pair<double, double> levy_log_scale_stats(int n, double alpha, std::uint64_t seed,
                                               int samples);

/// The finite-size transition gain predicted for levy weights, g* = exp(−⟨Ξ⟩) with ⟨Ξ⟩ the mean
/// of levy_log_scale_stats (Xie, Mihalas & Kuśmierz 2025; docs/design.md). For α = 2 it tends to
/// 1/√2 as n → ∞ (S_2 has variance 2: the Gaussian onset g√2 = 1). For α < 2, E|z|^α is infinite
/// and g* drifts to 0 only slowly, roughly as (ln n)^(−1/α).
double levy_transition_gain(int n, double alpha, std::uint64_t seed, int samples);

}  // namespace rnnlyap
