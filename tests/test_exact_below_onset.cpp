// Below onset (gaussian, g < 1, no input) the state decays to h = 0, the tangent map is the
// constant matrix D = D(J), and the spectrum is exact (docs/design.md):
//   rate/Euler  λ_i = log|1 - dt + dt μ_i| / dt
//   rate/RK4    λ_i = log|P(dt(μ_i - 1))| / dt,  P(z) = 1 + z + z²/2 + z³/6 + z⁴/24
//   map         λ_i = log|μ_i|
// with μ_i the eigenvalues of J (LAPACK dgeev: independent of the QR propagation).
//
// Tolerance. For a constant linear map the Benettin partial sums are log-volume growth rates; the
// constant (initial-projection) terms cancel between the start and the end of averaging, so what
// remains is (a) the bounded oscillation of log|R_ii| where the index i splits a complex-conjugate
// pair (equal moduli), which shows up in the batch-means standard error and decays like 1/T, and
// (b) incomplete alignment with the leading subspaces, which decays like (|μ_{i+1}|/|μ_i|)^t.
// We allow 4 standard errors plus 10/T for (b): 10/T = 0.01 at T = 1000, several times the
// adjacent-exponent spacing of these spectra, so a wrong time scale or integrator fails.
#include <gtest/gtest.h>

#include <complex>
#include <functional>

#include "backends.hpp"
#include "compare.hpp"
#include "linalg_truth.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

using test::sorted_desc;

struct ExactCase {
  Model model;
  Integrator integrator;
  int n;
  double g;
};

std::vector<double> exact_spectrum(const ExactCase& c, const Network& net, double dt) {
  const auto mu = test::eigenvalues(net.j, net.n);
  std::vector<double> lam;
  for (const auto& m : mu) {
    if (c.model == Model::map) {
      lam.push_back(std::log(std::abs(m)));
    } else if (c.integrator == Integrator::euler) {
      lam.push_back(std::log(std::abs(1.0 - dt + dt * m)) / dt);
    } else {
      const std::complex<double> z = dt * (m - 1.0);
      const std::complex<double> p = 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
      lam.push_back(std::log(std::abs(p)) / dt);
    }
  }
  return sorted_desc(lam);
}

class ExactBelowOnset : public testing::TestWithParam<BackendKind> {};

void check_case(BackendKind backend, const ExactCase& c) {
  SpectrumOptions o;
  o.backend = backend;
  o.model = c.model;
  o.integrator = c.integrator;
  o.n = c.n;
  o.g = c.g;
  o.seed = 7;
  o.t_warmup = 300;  // h decays like e^{-(1-g)t}: far below 1e-8 before averaging starts
  const Network net = gaussian_network(o.n, o.g, o.seed);
  const SpectrumResult r = compute_spectrum(o, net);
  const std::vector<double> exact = exact_spectrum(c, net, r.schedule.step_time);
  const std::vector<double> got = sorted_desc(r.exponents);
  // Standard errors follow their exponents through the sort.
  std::vector<std::size_t> idx(got.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(),
            [&](auto a, auto b) { return r.exponents[a] > r.exponents[b]; });
  const double t = r.schedule.averaged_time();
  double worst = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const double tol = 4 * r.stderr_[idx[i]] + 10.0 / t;
    const double err = std::fabs(got[i] - exact[i]);
    worst = test::nan_max(worst, err / tol);
    ASSERT_AT_MOST(err, tol) << "exponent " << i + 1 << " of " << exact.size() << ": got " << got[i]
                             << ", exact " << exact[i];
  }
  testing::Test::RecordProperty("worst_error_over_tolerance", std::to_string(worst));
  std::printf("[ info ] %s n=%d g=%.2f: worst error / tolerance = %.3f\n",
              std::string(to_string(c.model)).c_str(), c.n, c.g, worst);
}

// The emulated device (test::cuda_emulated) runs every GPU thread as a fiber on the CPU: its CUDA
// instances take smaller networks (the spectra are exact at any N).
TEST_P(ExactBelowOnset, RateEuler) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::rate, Integrator::euler, test::size_for(b, 200, 48), 0.7});
  check_case(b, {Model::rate, Integrator::euler, test::size_for(b, 400, 80), 0.9});
}

TEST_P(ExactBelowOnset, RateRk4) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::rate, Integrator::rk4, test::size_for(b, 100, 32), 0.5});
  check_case(b, {Model::rate, Integrator::rk4, test::size_for(b, 200, 48), 0.8});
}

TEST_P(ExactBelowOnset, Map) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::map, Integrator::euler, test::size_for(b, 200, 48), 0.5});
  check_case(b, {Model::map, Integrator::euler, test::size_for(b, 400, 80), 0.9});
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(ExactBelowOnset);

}  // namespace
}  // namespace rnnlyap
