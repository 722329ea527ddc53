// Non-finite logs and saturated states (nonfinite.hpp).
#include "nonfinite.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

NonfiniteCheck::NonfiniteCheck(const SpectrumOptions& opt, const Schedule& sched, int batch)
    : model_(opt.model),
      nonlinearity_(opt.nonlinearity),
      precision_(opt.precision),
      steps_per_ons_(sched.steps_per_ons),
      batch_(batch),
      fp32_(opt.precision == Precision::fp32) {
  precision_hint_ = fp32_ ? "; or use --precision fp64" : "";
  scale_hint_ = is_cell(opt.model) ? "lower the weights or the inputs (--inputs)"
                : opt.weights == WeightKind::file
                    ? "lower the weights' scale (--weights-file) or --input-std"
                : opt.weights == WeightKind::levy ? "lower --g or --input-std, or raise --alpha"
                                                  : "lower --g or --input-std";
  bias_hint_ = opt.bias_std > 0 ? " (or --bias-std)" : "";
  // Beyond this |h|, φ′(h) = 4e^{−2|h|}/(1 + e^{−2|h|})² (elementwise.hpp) is below the smallest
  // normal number of the precision (e^{−708.4} in fp64, e^{−87.3} in fp32) and soon exactly 0.
  saturated_ = fp32_ ? 44.0 : 354.0;
  // Where a saturated unit's φ′ is all its tangent map has — a map, or a rate network stepped by
  // Euler with dt = 1 (no leak 1 − dt) — an underflowed φ′ gives a wrong exponent (finite noise
  // or −∞ set by the precision, not log φ′(h) ≈ −2|h| per step). A rate network's leak keeps such
  // a unit's exponent at −1 (its φ′ term is below rounding), so there saturation is harmless.
  phi_only_ =
      opt.model == Model::map ||
      (opt.model == Model::rate && opt.integrator == Integrator::euler && sched.step_time == 1.0);
}

// The state of a map whose units saturate is checked whenever the logs are taken (one download
// of B·N values, after the wait that taking the logs has anyway): a unit that saturates only
// between two checks makes its R_ii rounding noise, which the basis warning (basis_warnings)
// then reports. Any rate/map state that overflowed is an error too. `limit`: the |h| beyond
// which a unit counts as saturated; `minus_inf`: the check of a −∞ log (check_saturation).
void NonfiniteCheck::check_state(const std::vector<double>& state, double limit,
                                 bool minus_inf) const {
  const std::size_t units = state.size() / static_cast<std::size_t>(batch_);
  for (int m = 0; m < batch_; ++m) {
    double largest = 0;
    std::size_t count = 0;
    for (std::size_t u = 0; u < units; ++u) {
      const double h = state[m * units + u];
      if (!std::isfinite(h))
        throw Error(
            "the network state overflowed to a non-finite value, so the exponents are "
            "not finite: " +
            scale_hint_ + bias_hint_ + precision_hint_);
      largest = std::max(largest, std::fabs(h));
      count += std::fabs(h) > limit ? 1 : 0;
    }
    if (count == 0) continue;
    char msg[400];
    std::snprintf(msg, sizeof msg,
                  "the network state saturated%s: %zu of N = %zu units at |h| > %.0f (largest "
                  "|h| %.3g), where %s in %s, so their exponents would be set by the precision, "
                  "not by the network: ",
                  batch_ > 1 ? (" (member " + std::to_string(m) + ")").c_str() : "", count, units,
                  limit, largest,
                  minus_inf
                      ? "phi'(h) is below the precision's rounding or its products underflow (a "
                        "log|R_ii| is -inf)"
                      : "phi'(h) underflows",
                  fp32_ ? "fp32" : "fp64");
    throw Error(msg + scale_hint_ + bias_hint_ + precision_hint_);
  }
}

void NonfiniteCheck::check_saturation(const std::vector<double>& state, bool minus_inf) const {
  check_state(state, saturated_, false);
  // A −∞ log is also what a product of such φ′ gives when it underflows to 0: over the
  // steps_per_ons steps of one interval, or of one step's φ′ (from |h| ≈ saturated / 2 on)
  // with the tiny basis entries a saturated unit's direction ends up with (a decoupled map
  // with a unit at |h| = 300, t_ons one step: finite for tens of re-orthonormalisations, then
  // −∞). Long before that, a unit whose φ′(h) ≈ 4e^{−2|h|} is below ε (|h| beyond
  // (log 4 + log 1/ε)/2: 18.7 in fp64, 8.7 in fp32) has a direction the QR resolves only to
  // rounding level, and rounding alone can make its R_ii exactly 0 (a coupled map with a unit
  // at |h| = 30: a −∞ after a few hundred steps, for a true exponent of −55). So a −∞ is taken
  // for exact (an exactly singular map) only when no unit is beyond either bound.
  const double below_rounding = 0.5 * (std::log(4.0) + std::log(1 / epsilon_of(precision_)));
  if (minus_inf)
    check_state(state,
                std::min(below_rounding, saturated_ / static_cast<double>(std::max<std::int64_t>(
                                                          2, steps_per_ons_))),
                true);
}

void NonfiniteCheck::check_logs(const std::vector<double>& logs, Propagator& backend) const {
  bool nan_or_inf = false, minus_inf = false;
  for (double v : logs) {
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) nan_or_inf = true;
    if (v == -std::numeric_limits<double>::infinity()) minus_inf = true;
  }
  if (phi_only_) {
    const std::vector<double> state = backend.state_blocking();
    check_saturation(state, minus_inf);
  }
  if (!nan_or_inf && !minus_inf) return;
  diagnose(backend, nan_or_inf);
}

void NonfiniteCheck::diagnose(Propagator& backend, bool nan_or_inf) const {
  // A rate network's or a cell's state is downloaded only here, to say what overflowed (a
  // cell's state holds no pre-activations: only its overflow is checked).
  if (!phi_only_)
    check_state(backend.state_blocking(),
                is_cell(model_) ? std::numeric_limits<double>::infinity() : saturated_, false);
  // A trained cell's pre-activations are not in its state: a −∞ there is a saturated gate
  // (|pre-activation| beyond what the precision resolves), not a singular network. A relu RNN
  // is exactly singular wherever a unit is off (relu′ = 0): its −∞ is exact, as for g = 0.
  const bool relu = model_ == Model::rnn && nonlinearity_ == Nonlinearity::relu;
  if (is_cell(model_) && !nan_or_inf && !relu)
    throw Error(std::string("the cell saturated: its Jacobian became exactly singular in ") +
                (fp32_ ? "fp32" : "fp64") +
                " (a log|R_ii| is -inf), so the exponents are not finite: " + scale_hint_ +
                precision_hint_);
  if (nan_or_inf)
    throw Error(
        "the tangent basis overflowed or degenerated between re-orthonormalisations (a "
        "non-finite log|R_ii|): shorten --t-ons, or " +
        scale_hint_ + precision_hint_);
}

}  // namespace rnnlyap::detail
