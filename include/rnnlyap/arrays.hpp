// Results as NumPy .npz archives for analysis pipelines (README, "Outputs for analysis"): every
// array of a result (exponents, standard errors, the members' spectra, the running estimates) and
// the result JSON itself, so np.load gives everything without parsing JSON.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "rnnlyap/result.hpp"
#include "rnnlyap/sweep.hpp"

namespace rnnlyap {

/// The running estimates of a run as Observers::trace reports them: one row per averaged
/// re-orthonormalisation, `time[r]` and `estimates[r·k … r·k + k − 1]`.
struct Trace {
  int k = 0;
  std::vector<double> time;
  std::vector<double> estimates;
  /// The observer that fills this trace.
  void add(double t, std::span<const double> estimate) {
    k = static_cast<int>(estimate.size());
    time.push_back(t);
    estimates.insert(estimates.end(), estimate.begin(), estimate.end());
  }
};

/// One run: exponents (k), stderr (k), the summary as 0-d arrays (max_exponent, mean_exponent, sum,
/// n_positive, ky_dimension, ks_entropy), trace_time (T) and trace (T × k) when a trace is given,
/// and result_json (the result JSON, a string).
std::string to_npz(const SpectrumResult& result, const Trace* trace = nullptr);

/// An ensemble or a batch of input sequences: as one run for the means (exponents, stderr: the
/// standard error of the mean over members; summary means and <name>_stderr), plus members (B × k),
/// members_stderr (B × k), seeds (B, uint64) or sequences (B, int64) for trained networks.
std::string to_npz(const EnsembleResult& result);

/// A sweep, laid out by (n, alpha, g): the axes g, alpha (empty for gaussian weights, whose axis
/// then has length 1) and n; each grid quantity (max_exponent, ky_dimension, ks_entropy,
/// fraction_positive, mean_exponent and their _stderr, k, seconds) as an (n, alpha, g) array;
/// members (n, alpha, g, member, i), NaN beyond a point's k; and sweep_json (the sweep JSON, a
/// string).
std::string sweep_npz(const SweepResult& result);

}  // namespace rnnlyap
