// Identities of docs/design.md checked on chaotic networks:
// - the sum rule: Σλ_i of the full spectrum equals the time average of log|det D_t|, with
//   log|det D_t| computed here independently of the QR propagation (LU, and cosh for φ');
// - the discrete-time formula λ_1 ≈ ½ ln(g² ⟨φ'(h)²⟩) (Molgedey, Schuchhardt & Schuster, PRL 1992).
#include <gtest/gtest.h>

#include <cmath>

#include "backends.hpp"
#include "core/loop.hpp"
#include "linalg_truth.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

// log φ'(h) = -2 log cosh h, evaluated in long double so that it is independent of the library's
// formula.
double log_dphi_reference(double h) {
  const long double a = std::fabs(static_cast<long double>(h));
  // log cosh a = a + log1p(e^{-2a}) - log 2
  return static_cast<double>(-2.0L * (a + std::log1p(std::exp(-2.0L * a)) - std::log(2.0L)));
}

class Identities : public testing::TestWithParam<BackendKind> {};

// map: log|det D_t| = log|det J| + Σ_i log φ'(h_i(t)). The sum of logs of R_ii telescopes to this
// exactly, so the only error is rounding: 1e-6 relative is very loose for it.
TEST_P(Identities, SumRuleMap) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::map;
  o.n = 120;
  o.g = 2.5;
  o.t_warmup = 100;
  o.t_ons_warmup = 50;
  o.t_sim = 400;
  o.t_ons = 2;
  const Network net = gaussian_network(o.n, o.g, 3);
  const double log_det_j = test::log_abs_det(net.j, net.n);
  double sum_log_det = 0;
  std::int64_t steps = 0;
  detail::LoopObservers obs;
  obs.state = [&](std::int64_t, std::span<const double> h) {
    double s = log_det_j;
    for (double v : h) s += log_dphi_reference(v);
    sum_log_det += s;
    ++steps;
  };
  const SpectrumResult r = detail::observed_spectrum(o, net, obs);
  ASSERT_EQ(steps, r.schedule.ons_sim * r.schedule.steps_per_ons);
  const double expected = sum_log_det / r.schedule.averaged_time();
  EXPECT_NEAR(r.summary.sum, expected, 1e-6 * std::fabs(expected));
  EXPECT_GT(r.summary.max_exponent, 0.0) << "the test network should be chaotic";
}

// rate/Euler: log|det((1-dt) I + dt J diag(φ'(h)))| by LU at every averaged step.
TEST_P(Identities, SumRuleRateEuler) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o;
  o.backend = GetParam();
  o.n = 24;
  o.g = 4;
  o.dt = 0.1;
  o.t_warmup = 50;
  o.t_ons_warmup = 20;
  o.t_sim = 200;
  const Network net = gaussian_network(o.n, o.g, 5);
  const int n = net.n;
  double sum_log_det = 0;
  detail::LoopObservers obs;
  obs.state = [&](std::int64_t, std::span<const double> h) {
    std::vector<double> d(static_cast<std::size_t>(n) * n);
    for (int c = 0; c < n; ++c) {
      const double dphi = std::exp(log_dphi_reference(h[c]));
      for (int r = 0; r < n; ++r) d[static_cast<std::size_t>(c) * n + r] = o.dt * net(r, c) * dphi;
      d[static_cast<std::size_t>(c) * n + c] += 1 - o.dt;
    }
    sum_log_det += test::log_abs_det(d, n);
  };
  const SpectrumResult r = detail::observed_spectrum(o, net, obs);
  const double expected = sum_log_det / r.schedule.averaged_time();
  EXPECT_NEAR(r.summary.sum, expected, 1e-6 * std::fabs(expected));
}

// λ_1 of the discrete-time map against the mean-field formula, with ⟨φ'²⟩ measured on the same
// trajectory. Tolerance: 4 standard errors of λ_1 plus the finite-size correction of the mean-field
// formula, which falls like 1/N: with g = 1.5 and 3 we measured |λ_1 - formula| × N ≈ 3.3 at
// N = 250 and ≤ 2.2 at N = 500, 1000, 2000, so we allow 3/N (0.003 at N = 1000).
TEST_P(Identities, DiscreteTimeLambda1) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  for (const double g : {1.5, 3.0}) {
    SpectrumOptions o;
    o.backend = GetParam();
    o.model = Model::map;
    // The formula is a large-N result (tolerance 3/N); smaller on the emulated device.
    o.n = test::size_for(GetParam(), 1000, 250);
    o.g = g;
    o.k = 1;
    o.t_warmup = 200;
    o.t_ons_warmup = 100;
    o.t_sim = 2000;
    double sum_dphi2 = 0;
    std::int64_t count = 0;
    detail::LoopObservers obs;
    obs.state = [&](std::int64_t, std::span<const double> h) {
      for (double v : h) {
        const double d = std::exp(log_dphi_reference(v));
        sum_dphi2 += d * d;
      }
      count += static_cast<std::int64_t>(h.size());
    };
    const SpectrumResult r = detail::observed_spectrum(o, obs);
    const double predicted = 0.5 * std::log(g * g * sum_dphi2 / static_cast<double>(count));
    const double tol = 4 * r.stderr_[0] + 3.0 / static_cast<double>(o.n);
    std::printf("[ info ] g=%.1f: lambda_1 = %.4f +- %.4f, formula %.4f\n", g, r.exponents[0],
                r.stderr_[0], predicted);
    EXPECT_NEAR(r.exponents[0], predicted, tol) << "g = " << g;
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Identities);

}  // namespace
}  // namespace rnnlyap
