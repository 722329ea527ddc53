// Below onset (no input, state decaying to h = 0) the tangent map is the constant one-step matrix
// M of the linearisation at 0, and the spectrum is exact (docs/design.md), with μ_i the
// eigenvalues of J (LAPACK dgeev: independent of the QR propagation):
//   rate/Euler  M = (1 − dt) I + dt J      λ_i = log|1 − dt + dt μ_i| / dt
//   rate/RK4    M = P(dt (J − I))          λ_i = log|P(dt(μ_i − 1))| / dt,
//               P(z) = 1 + z + z²/2 + z³/6 + z⁴/24
//   map         M = J                      λ_i = log|μ_i|
//
// Each case checks three things, none of them with the program's own standard error:
//
// 1. Against the same estimator written independently here (reference_benettin: M^s by dgemm,
//    QR by dgeqrf, from the program's initial basis and the schedule of the options): for a
//    constant map the program's finite-T estimate is that number, up to rounding (1e-9 absolute:
//    thousands of log|R_ii| of relative rounding 1e-15). A wrong time scale or averaging time
//    (one interval of a thousand: 0.1 %), warm-up logs averaged, a dropped or swapped exponent, a
//    wrong RK4 stage or a skipped re-orthonormalisation fails here.
// 2. Against the exact exponents, in QR order (never sorted: exponents whose moduli differ must
//    come out in descending order), exponent i within C_i/T. Theory: for a constant map the
//    Benettin partial sums Σ_{l≤j} log|R_ll| are the log-volume growth of the leading
//    j-dimensional subspace, t Σ_{l≤j} λ_l + a_j(t) with a_j bounded, so the averaged estimate's
//    error is (a_i(t₁) − a_i(t₀) − a_{i−1}(t₁) + a_{i−1}(t₀)) / T: O(1/T). a_j changes
//    (i) where j splits a complex-conjugate pair (equal moduli): it oscillates with the pair's
//        rotation by at most log κ, κ the condition number of the pair's real Jordan basis in
//        the quotient by the leading invariant subspace (pair_oscillation, computed from the
//        eigenvectors);
//    (ii) while the basis still aligns with the leading subspaces, slow where moduli nearly
//        coincide: by the log of the random start's misalignment, of order log N
//        (random_alignment).
//    So C_i = log κ_i + log N + 1. At T = 600 that is a few hundredths: a wrong sort or a
//    pair of exponents swapped fails where they are apart.
// 3. The reported standard errors are finite and no larger than that theory allows: a block of
//    length T_b = T/B deviates from the estimate by at most 2C/T_b, so the batch-means error is
//    at most 2C·B/(T√(B − 1)).
//
// Normal matrices (J = O diag(μ) Oᵀ, moduli apart by a factor ≥ 1.2) have no oscillation and align
// like 0.83^t: after the basis warm-up the estimate equals the exact exponents to rounding, so the
// averaging time itself is checked to a part in 10⁶ against theory, not only against the
// reference.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <functional>
#include <numeric>
#include <string>

#include "backends.hpp"
#include "compare.hpp"
#include "core/random.hpp"
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

// The alignment term of a random start: a random unit vector's component along a given direction
// is of order N^{-1/2}, and an exponent's error involves two such logs (its own partial sum and
// the one before): log N, and 1 for the constants.
double random_alignment(int n) {
  return std::log(static_cast<double>(n)) + 1;
}

std::complex<double> rk4_polynomial(std::complex<double> z) {
  return 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
}

// The exact exponents of the map with coupling matrix `j` (column-major n × n).
std::vector<double> exact_spectrum(Model model, Integrator integrator, const std::vector<double>& j,
                                   int n, double dt) {
  std::vector<double> lam;
  for (const auto& m : test::eigenvalues(j, n)) {
    if (model == Model::map)
      lam.push_back(std::log(std::abs(m)));
    else if (integrator == Integrator::euler)
      lam.push_back(std::log(std::abs(1.0 - dt + dt * m)) / dt);
    else
      lam.push_back(std::log(std::abs(rk4_polynomial(dt * (m - 1.0)))) / dt);
  }
  return sorted_desc(lam);
}

// The theory's oscillation term, exponent by exponent in descending order: 0 for a real eigenvalue,
// log κ for each member of a complex pair, κ the condition number of the pair's real Jordan basis
// in the quotient by the leading invariant subspace (the span of the eigenvectors of larger
// modulus). With the eigenvectors as columns in the order of the exponents (a pair as u, v), that
// basis is the pair's 2×2 diagonal block of R in their QR factorisation.
std::vector<double> pair_oscillation(Model model, Integrator integrator,
                                     const std::vector<double>& j, int n, double dt) {
  const test::EigenSystem e = test::eigensystem(j, n);
  auto rate = [&](std::complex<double> m) {
    if (model == Model::map) return std::log(std::abs(m));
    if (integrator == Integrator::euler) return std::log(std::abs(1.0 - dt + dt * m)) / dt;
    return std::log(std::abs(rk4_polynomial(dt * (m - 1.0)))) / dt;
  };
  struct Unit {
    double rate;
    int first, columns;
  };
  std::vector<Unit> units;
  for (int i = 0; i < n; ++i) {
    const bool pair = e.values[i].imag() != 0;
    units.push_back({rate(e.values[i]), i, pair ? 2 : 1});
    if (pair) ++i;  // dgeev stores the conjugate next
  }
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& a, const Unit& b) { return a.rate > b.rate; });
  std::vector<double> basis;
  for (const Unit& u : units)
    basis.insert(basis.end(), e.vectors.begin() + static_cast<std::ptrdiff_t>(u.first) * n,
                 e.vectors.begin() + static_cast<std::ptrdiff_t>(u.first + u.columns) * n);
  const std::vector<double> r = test::qr_r(basis, n, n);
  auto at = [&](int row, int col) { return r[static_cast<std::size_t>(col) * n + row]; };
  std::vector<double> out;
  int p = 0;
  for (const Unit& u : units) {
    if (u.columns == 1) {
      out.push_back(0);
    } else {
      const double a = at(p, p), b = at(p, p + 1), d = at(p + 1, p + 1);
      const double frob2 = a * a + b * b + d * d, det = std::fabs(a * d);
      const double s1 = std::sqrt(0.5 * (frob2 + std::sqrt(frob2 * frob2 - 4 * det * det)));
      const double kappa = s1 * s1 / det;  // σ₁/σ₂ = σ₁²/(σ₁σ₂)
      out.push_back(std::log(kappa));
      out.push_back(std::log(kappa));
    }
    p += u.columns;
  }
  return out;
}

// M, the one-step tangent matrix at h = 0.
std::vector<double> one_step_matrix(Model model, Integrator integrator,
                                    const std::vector<double>& j, int n, double dt) {
  if (model == Model::map) return j;
  std::vector<double> a = j;  // A = J − I: the rate model's Jacobian at 0
  for (int i = 0; i < n; ++i) a[static_cast<std::size_t>(i) * n + i] -= 1.0;
  std::vector<double> m(a.size(), 0.0), term(a.size(), 0.0);
  for (int i = 0; i < n; ++i) m[static_cast<std::size_t>(i) * n + i] = term[i * (n + 1)] = 1.0;
  const int order = integrator == Integrator::euler ? 1 : 4;
  for (int p = 1; p <= order; ++p) {  // Σ_{p ≤ order} (dt A)^p / p!
    term = test::matmul(term, a, n, n, n);
    for (double& v : term) v *= dt / p;
    for (std::size_t i = 0; i < m.size(); ++i) m[i] += term[i];
  }
  return m;
}

// Benettin's estimator on the constant map M, written from its definition: start from the
// initial basis, re-orthonormalise it, discard ons_warmup intervals of `steps` steps, then average
// log|R_ii| over ons_sim intervals of model time steps·dt each.
std::vector<double> reference_benettin(const std::vector<double>& m, int n, int k,
                                       std::uint64_t basis_seed, std::int64_t steps,
                                       std::int64_t ons_warmup, std::int64_t ons_sim, double dt) {
  std::vector<double> ms = m;  // M^steps
  for (std::int64_t s = 1; s < steps; ++s) ms = test::matmul(ms, m, n, n, n);
  std::vector<double> q = detail::initial_basis(n, k, basis_seed);
  test::qr_in_place(q, n, k);
  for (std::int64_t w = 0; w < ons_warmup; ++w) {
    q = test::matmul(ms, q, n, n, k);
    test::qr_in_place(q, n, k);
  }
  std::vector<double> sum(static_cast<std::size_t>(k), 0.0);
  for (std::int64_t w = 0; w < ons_sim; ++w) {
    q = test::matmul(ms, q, n, n, k);
    const std::vector<double> logs = test::qr_in_place(q, n, k);
    for (int i = 0; i < k; ++i)
      sum[static_cast<std::size_t>(i)] += logs[static_cast<std::size_t>(i)];
  }
  const double t = static_cast<double>(ons_sim * steps) * dt;
  for (double& v : sum) v /= t;
  return sum;
}

SpectrumOptions options_for(BackendKind backend, Model model, Integrator integrator, int n) {
  SpectrumOptions o;
  o.backend = backend;
  o.model = model;
  o.integrator = integrator;
  o.n = n;
  o.seed = 7;
  o.t_warmup = 300;  // h decays like e^{-(1-g)t}: far below 1e-8 before the tangent starts
  o.t_ons_warmup = 100;
  o.t_sim = 600;
  return o;
}

// Checks 1–3 (file comment) of one run of `net` against its exact spectrum, exponent i within
// (oscillation_i + alignment) / T.
void check_run(const SpectrumOptions& o, const Network& net, double alignment,
               double reference_tol) {
  const SpectrumResult r = compute_spectrum(o, net);
  const Schedule& s = r.schedule;
  const double dt = o.step_time();
  const int n = net.n, k = o.num_exponents();
  // The schedule from the options: T = t_sim exactly, in whole intervals of t_ons.
  ASSERT_EQ(s.steps_per_ons, std::llround(o.t_ons / dt));
  ASSERT_EQ(s.ons_sim, std::llround(o.t_sim / o.t_ons));
  ASSERT_EQ(s.ons_warmup, std::llround(o.t_ons_warmup / o.t_ons));
  const double t = o.t_sim;
  ASSERT_NEAR(s.averaged_time(), t, 1e-9 * t);
  const std::vector<double> exact = exact_spectrum(o.model, o.integrator, net.j, n, dt);
  const std::vector<double> ref =
      reference_benettin(one_step_matrix(o.model, o.integrator, net.j, n, dt), n, k,
                         o.basis_seed_used(), s.steps_per_ons, s.ons_warmup, s.ons_sim, dt);
  ASSERT_EQ(r.exponents.size(), static_cast<std::size_t>(k));
  // 1. The estimator, independently computed.
  EXPECT_MAX_ABS_DIFF_LE(r.exponents, ref, reference_tol);
  // 2. Exact exponents in QR order, within C_i / T; descending wherever the exact ones are apart.
  double worst = 0, c_max = 0;
  const std::vector<double> osc = pair_oscillation(o.model, o.integrator, net.j, n, dt);
  for (int i = 0; i < k; ++i) {
    const double c_i = osc[i] + alignment;
    c_max = std::max(c_max, c_i);
    const double tol = c_i / t;
    const double err = std::fabs(r.exponents[i] - exact[i]);
    worst = test::nan_max(worst, err * t / c_i);
    EXPECT_AT_MOST(err, tol) << "exponent " << i + 1 << " of " << k << ": got " << r.exponents[i]
                             << ", exact " << exact[i] << " (reference " << ref[i] << ")";
    if (i + 1 < k && exact[i] - exact[i + 1] > (c_i + osc[i + 1] + alignment) / t) {
      EXPECT_GT(r.exponents[i], r.exponents[i + 1]) << "exponents " << i + 1 << " and " << i + 2;
    }
  }
  // 3. Error bars: finite, and within what a deviation of at most c/T allows.
  const double b = static_cast<double>(std::min<std::int64_t>(s.ons_sim, 40));
  const double se_bound = 2 * c_max * b / (t * std::sqrt(b - 1));
  for (int i = 0; i < k; ++i) {
    EXPECT_TRUE(std::isfinite(r.stderr_[i])) << "stderr of exponent " << i + 1;
    EXPECT_AT_MOST(r.stderr_[i], se_bound) << "stderr of exponent " << i + 1;
  }
  testing::Test::RecordProperty("worst_error_over_bound", std::to_string(worst));
  std::printf("[ info ] %s/%s n=%d: worst |error| / bound = %.3g, |program − reference| = %.2g\n",
              std::string(to_string(o.model)).c_str(), std::string(to_string(o.integrator)).c_str(),
              n, worst, test::max_abs_diff(r.exponents, ref));
}

class ExactBelowOnset : public testing::TestWithParam<BackendKind> {};

void check_case(BackendKind backend, const ExactCase& c) {
  SpectrumOptions o = options_for(backend, c.model, c.integrator, c.n);
  o.g = c.g;
  check_run(o, gaussian_network(o.n, o.g, o.seed), random_alignment(o.n), 1e-9);
}

// The emulated device (test::cuda_emulated) runs every GPU thread as a fiber on the CPU: its CUDA
// instances take smaller networks (the spectra are exact at any N).
TEST_P(ExactBelowOnset, RateEuler) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::rate, Integrator::euler, test::size_for(b, 80, 40), 0.7});
  check_case(b, {Model::rate, Integrator::euler, test::size_for(b, 120, 56), 0.9});
}

TEST_P(ExactBelowOnset, RateRk4) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::rate, Integrator::rk4, test::size_for(b, 60, 32), 0.5});
  check_case(b, {Model::rate, Integrator::rk4, test::size_for(b, 100, 48), 0.8});
}

TEST_P(ExactBelowOnset, Map) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  check_case(b, {Model::map, Integrator::euler, test::size_for(b, 150, 48), 0.5});
  check_case(b, {Model::map, Integrator::euler, test::size_for(b, 200, 80), 0.9});
}

// J = O diag(μ) Oᵀ with O orthogonal (QR of a random matrix) and μ of both signs, moduli apart by
// a factor ≥ 1.2, largest 0.95: no complex pairs, orthogonal eigenvectors. After the basis
// warm-up (100 steps: misalignment × 0.83^100 ≈ 10⁻⁸) the estimate is exact to that, so the
// bound is c = 10⁻³ (an error of 1.7·10⁻⁶ at T = 600) and one averaging interval more or less
// (a relative error of 1/600) fails against theory.
TEST_P(ExactBelowOnset, NormalMatrixIsExactToRounding) {
  const BackendKind b = GetParam();
  RNNLYAP_SKIP_UNLESS_AVAILABLE(b);
  const std::vector<double> mu = {0.95, -0.79, 0.66, -0.55, 0.45, 0.38, -0.31, 0.26, -0.21, 0.17};
  const int n = static_cast<int>(mu.size());
  std::vector<double> o = detail::initial_basis(n, n, 99);
  test::qr_in_place(o, n, n);
  Network net;
  net.n = n;
  net.j.assign(static_cast<std::size_t>(n) * n, 0.0);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c)
      for (int i = 0; i < n; ++i)
        net.j[static_cast<std::size_t>(c) * n + r] +=
            o[static_cast<std::size_t>(i) * n + r] * mu[i] * o[static_cast<std::size_t>(i) * n + c];
  for (Model model : {Model::map, Model::rate})
    for (Integrator integrator : {Integrator::euler, Integrator::rk4}) {
      if (model == Model::map && integrator == Integrator::rk4) continue;
      SpectrumOptions opt = options_for(b, model, integrator, n);
      opt.t_ons_warmup = model == Model::map ? 100 : 250;  // rate: moduli closer per unit time
      check_run(opt, net, 1e-3, 1e-9);
    }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(ExactBelowOnset);

}  // namespace
}  // namespace rnnlyap
