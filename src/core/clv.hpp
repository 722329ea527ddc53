// Covariant Lyapunov vectors by Ginelli et al.'s method (PRL 99, 130601, 2007), written once for
// every model and backend on the host: the Benettin loop (run/clv_recording.cpp) hands over the R
// factor of every re-orthonormalisation of a window and the orthonormal bases Q at the instants
// asked for; finish() iterates a random upper-triangular C backwards, C ← R⁻¹C with unit columns,
// and the covariant vectors at instant i are V_i = Q_i C_i. Memory is bounded by the window
// (plan.bytes).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "memory_limit.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

/// Statistics (--clv-stats) are taken at up to this many instants, evenly spread.
inline constexpr std::int64_t kClvSamples = 100;

/// Backward passes from independent random starts over the same R factors: the first gives the
/// vectors, the others their convergence estimate (ClvResult::convergence): the largest angle
/// between the first pass's vector and the others'. Why: every start converges onto the same
/// covariant vectors, each with its own error along the slowest-decaying direction (for vector j,
/// covariant vector j − 1, at the rate of the gap λ_{j−1} − λ_j), so the passes' differences have
/// the size of the error itself — at the same instant, unlike the change of one pass's vectors
/// over the last part of the transient, which mixes the vectors' own motion along the trajectory
/// into it. The errors' coefficients are ratios of Gaussians (heavy-tailed): with one other start
/// the estimate is below a third of the error in about 14 % of cases; the largest over two others
/// is, in 4 %, below a tenth in under 1 % (numpy simulation: 1500 sequences of random R factors,
/// gap 0.05, 30 backward steps; median ratio 1.8, so it errs toward warning). Cost: the backward
/// pass (k³/3 flops per t_ons per start) beside the forward one (2N²k per step).
inline constexpr int kClvStarts = 3;

/// A vector whose convergence estimate exceeds this (radians) is named in a warning.
inline constexpr double kClvConvergenceTolerance = 0.01;

/// Which instants of the window are kept. Instant i is the basis after the i-th
/// re-orthonormalisation of the averaging phase (0: the basis it starts from); R_i (i = 1 …
/// window) maps the basis of instant i − 1 to that of instant i: M Q_{i−1} = Q_i R_i.
struct ClvPlan {
  std::int64_t window = 0;     ///< R factors kept; 0: no covariant vectors
  std::int64_t transient = 0;  ///< backward steps before the first instant used
  double ons_time = 0;
  std::vector<std::int64_t> vector_instants;  ///< sorted: V is returned at these
  std::vector<std::int64_t> sample_instants;  ///< sorted: statistics; empty without them
  bool stats = false;
  bool window_is_all = false;  ///< no --clv-window: the window is the whole averaging time

  /// The last instant with `transient` backward steps after it.
  std::int64_t last_usable() const { return window - transient; }
  /// Host bytes of the R factors and the bases kept (rows × k each), with the working copies of
  /// the forward reads, the backward pass and the statistics.
  double bytes(int rows, int k) const;
  /// The distinct instants whose basis is kept.
  std::vector<std::int64_t> basis_instants() const;
};

/// The plan the options ask for, on the schedule (the window defaults to the whole averaging time,
/// the transient to the basis warm-up; the vectors are kept at instant window / 2). Throws
/// InvalidInput when the window cannot hold the backward transient (window ≥ 2·transient) or is
/// longer than the averaging time. window = 0 when no covariant vectors are asked for.
ClvPlan make_clv_plan(const SpectrumOptions& opt, const Schedule& sched);

/// The plan's R factors and bases as a series kept in memory (memory_limit.hpp), naming
/// --clv-window as the remedy.
KeptSeries clv_kept_series(const ClvPlan& plan, int rows, int k, bool window_given);

/// Refuses (InvalidInput, naming --clv-window) a plan whose memory exceeds `available` bytes (0:
/// unknown, nothing refused): check_kept_memory of clv_kept_series alone. A run checks it with its
/// other series (check_run_memory).
void check_clv_memory(const ClvPlan& plan, int rows, int k, double available, bool window_given);

/// Collects a window's R factors and bases, then computes the covariant vectors.
class ClvRecorder {
 public:
  /// `seed` draws the backward iteration's starting C.
  ClvRecorder(ClvPlan plan, int rows, int k, std::uint64_t seed);

  const ClvPlan& plan() const { return plan_; }
  /// R factors kept so far; the next add_r() is R_{kept()+1}.
  std::int64_t kept() const { return static_cast<std::int64_t>(r_.size() / kk()); }
  bool complete() const { return kept() == plan_.window; }
  /// True when the basis of `instant` is to be kept.
  bool wants_basis(std::int64_t instant) const { return bases_.count(instant) != 0; }
  /// The basis (rows × k, column-major, orthonormal) of `instant`.
  void add_basis(std::int64_t instant, std::vector<double> q);
  /// The next R (k × k upper triangular, column-major).
  void add_r(const std::vector<double>& r);

  /// The backward pass and what it gives: vectors at plan.vector_instants[0] (when any) and the
  /// statistics (plan.stats). `exponents` and `stderr_` are the Benettin estimates (they sort the
  /// vectors into unstable, neutral and stable). `vectors`, when given, receives V at every
  /// instant of plan.vector_instants, in order. Throws Error when an R is singular or the
  /// iteration goes non-finite.
  /// `warnings`, when given, receives convergence_warnings() of the result.
  ClvResult finish(const std::vector<double>& exponents, const std::vector<double>& stderr_,
                   std::vector<std::vector<double>>* vectors = nullptr,
                   std::vector<std::string>* warnings = nullptr) const;

 private:
  std::size_t kk() const { return static_cast<std::size_t>(k_) * static_cast<std::size_t>(k_); }

  ClvPlan plan_;
  int rows_, k_;
  std::uint64_t seed_;
  std::vector<double> r_;                              // R_1 … R_kept, k² each
  std::map<std::int64_t, std::vector<double>> bases_;  // instant → Q (empty until added)
};

/// The warnings about the vectors' convergence (ClvResult::convergence, radians per vector): the
/// vectors beyond kClvConvergenceTolerance, with the backward time they had (`back_steps` ·
/// `ons_time`) and the --clv-transient (`stats`) or --clv-window that the exponents' gaps say
/// would bring them within it; and the vectors whose exponent equals the one above within 3
/// standard errors (`exponents`, `stderr_`: Benettin's), which are not identifiable on their own.
/// `window_is_all`: the window is the whole averaging time, so a longer one means a longer --t-sim.
std::vector<std::string> convergence_warnings(const std::vector<double>& convergence,
                                              const std::vector<double>& exponents,
                                              const std::vector<double>& stderr_,
                                              std::int64_t back_steps, double ons_time, bool stats,
                                              bool window_is_all = false);

/// The smallest principal angle (radians) between the column spans of a (rows × p) and b (rows ×
/// q), both column-major with independent columns: asin of the smallest singular value of
/// (I − P_b) Â, Â an orthonormal basis of span(a).
double smallest_principal_angle(const std::vector<double>& a, int p, const std::vector<double>& b,
                                int q, int rows);

}  // namespace rnnlyap::detail
