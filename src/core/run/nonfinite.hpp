// Why a run's logs are not finite (nonfinite.cpp): the checks of the logs taken and of the state
// behind them, with messages that name the cause and the remedy.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "core/propagator.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

/// The working precision's machine epsilon.
inline double epsilon_of(Precision p) {
  return p == Precision::fp32 ? std::numeric_limits<float>::epsilon()
                              : std::numeric_limits<double>::epsilon();
}

/// Checks the logs of a run's re-orthonormalisations as they are taken. NaN propagates into them
/// from a state or basis that overflowed: NaN or +inf means the state overflowed (φ of ±inf is
/// NaN after one more step) or the basis did between re-orthonormalisations (κ = e^{(λ_1 − λ_k)
/// t_ons} beyond the working precision). −inf is allowed for an exactly singular tangent map (a
/// zero column of J, g = 0) but not when it comes from a saturated state.
class NonfiniteCheck {
 public:
  NonfiniteCheck(const SpectrumOptions& opt, const Schedule& sched, int batch);

  /// Throws Error naming the cause when `logs` (B·k, just taken from `backend`) are not finite, or
  /// when the state of a network whose saturated units would give wrong exponents saturated.
  void check_logs(const std::vector<double>& logs, Propagator& backend) const;

 private:
  // Throws when a member's state is not finite or has units beyond |h| > limit; `minus_inf`:
  // the check of a −∞ log.
  void check_state(const std::vector<double>& state, double limit, bool minus_inf) const;
  // The state of a map whose units saturate, checked whenever the logs are taken.
  void check_saturation(const std::vector<double>& state, bool minus_inf) const;
  // What a non-finite log means when the state check passed.
  void diagnose(Propagator& backend, bool nan_or_inf) const;

  Model model_;
  Nonlinearity nonlinearity_;
  Precision precision_;
  std::int64_t steps_per_ons_;
  int batch_;
  bool fp32_, phi_only_;
  double saturated_;
  std::string precision_hint_, scale_hint_, bias_hint_;
};

}  // namespace rnnlyap::detail
