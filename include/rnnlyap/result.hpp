// The result of a spectrum run and the quantities derived from a spectrum (docs/design.md; README).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rnnlyap/options.hpp"

namespace rnnlyap {

/// Scalar summaries of a Lyapunov spectrum.
struct SpectrumSummary {
  double max_exponent = 0;
  double mean_exponent = 0;
  double sum = 0;
  int n_positive = 0;
  /// Kaplan–Yorke dimension j + (Σ_{i≤j} λ_i)/|λ_{j+1}|. When every partial sum of the k computed
  /// exponents is non-negative it is only known to be ≥ k: then it is k and ky_is_lower_bound is
  /// set.
  double ky_dimension = 0;
  bool ky_is_lower_bound = false;
  /// Kolmogorov–Sinai entropy rate by Pesin's identity: the sum of the positive exponents.
  double ks_entropy = 0;
};

/// Computes the summary of a spectrum (any order; sorted internally for the KY dimension).
SpectrumSummary summarize(const std::vector<double>& exponents);

/// How the re-orthonormalisations went (README, "Precision and QR"): one CholeskyQR pass, two, or
/// Householder (`--qr householder`, a fallback, or a skip after one). Counted in this process: a
/// resumed run counts from where it resumed.
struct QrPaths {
  std::int64_t cholesky_one_pass = 0;
  std::int64_t cholesky_two_passes = 0;
  std::int64_t householder = 0;
  QrPaths& operator+=(const QrPaths& o) {
    cholesky_one_pass += o.cholesky_one_pass;
    cholesky_two_passes += o.cholesky_two_passes;
    householder += o.householder;
    return *this;
  }
};

/// Wall time and work counts of a run.
struct Timing {
  double seconds = 0;
  std::int64_t tangent_steps = 0;
  std::int64_t qr_count = 0;
  QrPaths qr_paths;
};

/// Covariant Lyapunov vectors (Ginelli et al., PRL 99, 130601, 2007; README, "Covariant Lyapunov
/// vectors") over a window of the averaging phase: its first `window` re-orthonormalisations.
/// Instant i is the basis after the i-th re-orthonormalisation of the averaging phase (0: the
/// basis it starts from), at model time i·t_ons after the averaging phase began. The backward
/// iteration runs from instant `window` down to 0; instants 0 … window − transient are reported.
struct ClvResult {
  std::int64_t window = 0;     ///< re-orthonormalisations kept
  std::int64_t transient = 0;  ///< backward steps before the first instant reported
  double ons_time = 0;         ///< model time between instants (t_ons)
  int rows = 0;                ///< the state dimension (tangent rows): N, 2N for a full LSTM
  /// options.clv: the vectors at instant `instant` (window / 2), rows × k column-major, unit
  /// columns in the order of the exponents (each up to its sign).
  std::int64_t instant = -1;
  std::vector<double> vectors;
  /// Each vector's convergence: the largest angle (radians, sign-free) between it and the same
  /// vector from backward passes started at other random C's, over the instants reported (the
  /// vectors' and the statistics'). An estimate of its error, which decays like
  /// e^{−(λ_{j−1} − λ_j) t} with the backward time t; vectors beyond `convergence_tolerance` are
  /// named in the run's warnings. Vector 1 is exact (0).
  std::vector<double> convergence;
  double convergence_tolerance = 0;
  /// options.clv_stats: statistics over `instants` instants evenly spread over 0 … window −
  /// transient.
  bool has_stats = false;
  std::int64_t instants = 0;
  /// Mean over the instants of each vector's inverse participation ratio Σ_i v_i⁴ (1/rows for a
  /// fully spread vector, 1 for one on a single coordinate).
  std::vector<double> ipr;
  /// Each vector's own growth rate, mean of log(|M v| / |v|) per t_ons over the window − transient
  /// steps, and its batch-means standard error: the exponents again, from the vectors.
  std::vector<double> exponents, stderr_;
  /// The vectors whose (Benettin) exponent is positive, negative, or within 3 standard errors of
  /// zero (neutral; in neither subspace).
  int n_unstable = 0, n_stable = 0, n_neutral = 0;
  /// The smallest principal angle (radians) between the unstable and stable subspaces over the
  /// instants: quantiles 5, 25, 50, 75, 95 % and the minimum; empty / NaN when either is empty.
  std::vector<double> angle_quantiles;
  double angle_min = 0;
};

/// The vectors of `c` as a rows × k array in C (row-major) order, as an .npy file holds them.
std::vector<double> clv_vectors_c_order(const ClvResult& c);

/// A computed spectrum with its error estimate and everything needed to reproduce it.
struct SpectrumResult {
  std::vector<double> exponents;  ///< λ_1..λ_k in QR order
  std::vector<double> stderr_;    ///< standard error of each exponent (batch means)
  SpectrumSummary summary;
  /// Standard error of each summary quantity (batch means of the quantity linearised at the
  /// estimate); n_positive and ky_is_lower_bound unused, ky_dimension NaN when it is a lower bound.
  SpectrumSummary summary_stderr;
  SpectrumOptions options;  ///< as used (n set, k resolved, backend resolved)
  Schedule schedule;
  std::string backend;  ///< "cpu" or "cuda"
  std::string device;   ///< CPU model / GPU name
  Timing timing;
  std::vector<std::string> warnings;  ///< conditions that make part of the result unreliable
  int sequence = -1;  ///< trained networks: index of the input sequence (−1 otherwise)
  /// With options.ftle_window: the finite-time estimate of every exponent over each window,
  /// windows × k, row w the window [w T, (w + 1) T) of the averaging time. Their mean over
  /// windows is `exponents` when the windows tile the averaging time.
  std::vector<std::vector<double>> ftle;
  /// With options.clv or options.clv_stats (single runs).
  std::optional<ClvResult> clv;
};

/// B networks with seeds seed, seed+1, …: each member's result, and across-member statistics.
struct EnsembleResult {
  std::vector<SpectrumResult> members;
  std::vector<double> mean_exponents;    ///< mean of λ_i over members
  std::vector<double> stderr_exponents;  ///< standard error of that mean (std / √B); NaN for B = 1
  SpectrumSummary mean_summary;          ///< mean of each summary quantity over members
  SpectrumSummary stderr_summary;  ///< standard error of each (n_positive and the flag unused)
  double stderr_n_positive = 0;    ///< standard error of the mean number of positive exponents
  double mean_n_positive = 0;      ///< mean number of positive exponents
  Timing timing;                   ///< summed over members
};

/// Across-member statistics of the members' results (fills everything but `members`).
EnsembleResult ensemble_statistics(std::vector<SpectrumResult> members);

}  // namespace rnnlyap
