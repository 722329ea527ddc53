// The result of a spectrum run and the quantities derived from a spectrum (docs/design.md; README).
#pragma once

#include <cstdint>
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

/// Wall time and work counts of a run.
struct Timing {
  double seconds = 0;
  std::int64_t tangent_steps = 0;
  std::int64_t qr_count = 0;
};

/// A computed spectrum with its error estimate and everything needed to reproduce it.
struct SpectrumResult {
  std::vector<double> exponents;  ///< λ_1..λ_k in QR order
  std::vector<double> stderr_;    ///< standard error of each exponent (batch means)
  SpectrumSummary summary;
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
