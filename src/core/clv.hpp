// Covariant Lyapunov vectors by Ginelli et al.'s method (PRL 99, 130601, 2007), written once for
// every model and backend on the host: the Benettin loop (driver.cpp) hands over the R factor of
// every re-orthonormalisation of a window and the orthonormal bases Q at the instants asked for;
// finish() iterates a random upper-triangular C backwards, C ← R⁻¹C with unit columns, and the
// covariant vectors at instant i are V_i = Q_i C_i. Memory is bounded by the window (plan.bytes).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

/// Statistics (--clv-stats) are taken at up to this many instants, evenly spread.
inline constexpr std::int64_t kClvSamples = 100;

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

/// Refuses (InvalidInput, naming --clv-window) a plan whose memory exceeds `available` bytes (0:
/// unknown, nothing refused).
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
  ClvResult finish(const std::vector<double>& exponents, const std::vector<double>& stderr_,
                   std::vector<std::vector<double>>* vectors = nullptr) const;

 private:
  std::size_t kk() const { return static_cast<std::size_t>(k_) * static_cast<std::size_t>(k_); }

  ClvPlan plan_;
  int rows_, k_;
  std::uint64_t seed_;
  std::vector<double> r_;                              // R_1 … R_kept, k² each
  std::map<std::int64_t, std::vector<double>> bases_;  // instant → Q (empty until added)
};

/// The smallest principal angle (radians) between the column spans of a (rows × p) and b (rows ×
/// q), both column-major with independent columns: asin of the smallest singular value of
/// (I − P_b) Â, Â an orthonormal basis of span(a).
double smallest_principal_angle(const std::vector<double>& a, int p, const std::vector<double>& b,
                                int q, int rows);

}  // namespace rnnlyap::detail
