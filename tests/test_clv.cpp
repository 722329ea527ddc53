// Covariant Lyapunov vectors (--clv, --clv-stats; src/core/clv.cpp), against independent truth:
//   - The R factor a propagator reports is that of its last re-orthonormalisation: Q_after R
//     rebuilds the basis before it, for every QR method and path (Householder, one and two
//     CholeskyQR passes, the fallback), for each member of a batch.
//   - At a fixed point the tangent map is one constant matrix M (map: J at h = 0; rate/Euler:
//     (1 − dt)I + dt J, to the power of the steps per t_ons), and the covariant vectors are its
//     eigenvectors, in the order of |eigenvalue| (J = S D S⁻¹ with a random, non-normal S: they are
//     not the Gram–Schmidt vectors). Each vector's growth rate is log|eigenvalue| exactly, and the
//     smallest principal angle between the unstable and stable subspaces is that of the
//     eigenvector spans (computed here from a 2 × 2 eigenproblem, not the library's Jacobi SVD).
//   - Covariance: V_{t+1} ∝ M_t V_t column by column in a chaotic map, M_t applied by a fresh
//     propagator from the state at instant t (this holds exactly, converged or not).
//   - In a chaotic network each vector's growth rate agrees with its Benettin exponent within
//     their standard errors.
//   - The program: --clv writes an N × k float64 .npy of unit columns; bad input and a window that
//     does not fit in memory exit 2 with one line before anything runs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "core/clv.hpp"
#include "core/propagator.hpp"
#include "core/random.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

using Matrix = std::vector<double>;  // column-major

Matrix multiply(const Matrix& a, const Matrix& b, int n, int inner, int m) {
  Matrix c(static_cast<std::size_t>(n) * m, 0.0);
  for (int j = 0; j < m; ++j)
    for (int l = 0; l < inner; ++l)
      for (int i = 0; i < n; ++i)
        c[static_cast<std::size_t>(j) * n + i] +=
            a[static_cast<std::size_t>(l) * n + i] * b[static_cast<std::size_t>(j) * inner + l];
  return c;
}

// Gauss–Jordan with partial pivoting.
Matrix inverse(Matrix a, int n) {
  Matrix inv(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) inv[static_cast<std::size_t>(i) * n + i] = 1;
  auto at = [n](Matrix& m, int r, int c) -> double& {
    return m[static_cast<std::size_t>(c) * n + r];
  };
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(at(a, r, c)) > std::fabs(at(a, p, c))) p = r;
    for (int j = 0; j < n; ++j) {
      std::swap(at(a, c, j), at(a, p, j));
      std::swap(at(inv, c, j), at(inv, p, j));
    }
    const double d = at(a, c, c);
    for (int j = 0; j < n; ++j) {
      at(a, c, j) /= d;
      at(inv, c, j) /= d;
    }
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = at(a, r, c);
      for (int j = 0; j < n; ++j) {
        at(a, r, j) -= f * at(a, c, j);
        at(inv, r, j) -= f * at(inv, c, j);
      }
    }
  }
  return inv;
}

double column_norm(const double* v, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += v[i] * v[i];
  return std::sqrt(s);
}

// ‖a/‖a‖ − ±b/‖b‖‖ for the sign that makes it smallest.
double direction_error(const double* a, const double* b, int n) {
  const double na = column_norm(a, n), nb = column_norm(b, n);
  double plus = 0, minus = 0;
  for (int i = 0; i < n; ++i) {
    plus += std::pow(a[i] / na - b[i] / nb, 2);
    minus += std::pow(a[i] / na + b[i] / nb, 2);
  }
  return std::sqrt(std::min(plus, minus));
}

// Classical Gram–Schmidt, twice: an orthonormal basis of the columns' span.
Matrix orthonormal_basis(Matrix a, int rows, int cols) {
  for (int pass = 0; pass < 2; ++pass)
    for (int j = 0; j < cols; ++j) {
      double* aj = a.data() + static_cast<std::size_t>(j) * rows;
      for (int l = 0; l < j; ++l) {
        const double* al = a.data() + static_cast<std::size_t>(l) * rows;
        double d = 0;
        for (int i = 0; i < rows; ++i) d += al[i] * aj[i];
        for (int i = 0; i < rows; ++i) aj[i] -= d * al[i];
      }
      const double nj = column_norm(aj, rows);
      for (int i = 0; i < rows; ++i) aj[i] /= nj;
    }
  return a;
}

// --- the R factor ------------------------------------------------------------------------------

class ClvRFactor : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

// Bases of condition ≈ s^-(k-1) (singular values 1, s, s², … mixed by random rotations): it picks
// CholeskyQR's path, by max/min diag R₁: one pass (auto, ≤ 1e3 in fp64), two passes (≤ 1e6), the
// Householder fallback (beyond). Two passes leave R₂ = I + O(ε κ²), so an R without it is caught.
// One member (the covariant vectors' case: cuSOLVER per member on a GPU) and two (batched paths).
TEST_P(ClvRFactor, QAfterTimesRIsTheBasisBefore) {
  const int n = 24, k = 6;
  struct Case {
    QrMethod qr;
    double scale;
  };
  for (const Case c : {Case{QrMethod::householder, 0.3}, Case{QrMethod::auto_select, 0.7},
                       Case{QrMethod::auto_select, 0.1}, Case{QrMethod::cholesky2, 0.1},
                       Case{QrMethod::cholesky2, 0.01}}) {
    for (const auto& [precision, members] :
         {std::pair{Precision::fp64, 1}, std::pair{Precision::fp64, 2},
          std::pair{Precision::fp32, 1}, std::pair{Precision::fp32, 2}}) {
      SpectrumOptions o;
      o.n = n;
      o.g = 1.5;
      Network a = make_network(o);
      o.seed = 2;
      Network b = make_network(o);
      std::vector<const Network*> nets = {&a, &b};
      std::vector<std::uint64_t> keys = {1, 2};
      nets.resize(static_cast<std::size_t>(members));
      keys.resize(static_cast<std::size_t>(members));
      auto p = detail::make_network_propagator({GetParam(), 0, precision, c.qr}, nets,
                                               detail::dynamics_of(o), keys, k);
      // Each member's block: G diag(1, s, …, s^(k−1)) W, G and W random.
      Matrix basis;
      for (int m = 0; m < members; ++m) {
        Matrix g = detail::initial_basis(n, k, 5 + m);
        for (int j = 0; j < k; ++j)
          for (int i = 0; i < n; ++i)
            g[static_cast<std::size_t>(j) * n + i] *= std::pow(c.scale, j);
        const Matrix block = multiply(g, detail::initial_basis(k, k, 9 + m), n, k, k);
        basis.insert(basis.end(), block.begin(), block.end());
      }
      p->set_basis(basis);
      const Matrix before = p->basis_blocking();  // in the working precision
      p->keep_r(true);
      p->reorthonormalize(false);
      const Matrix q = p->basis_blocking(), r = p->last_r_blocking();
      ASSERT_EQ(r.size(), static_cast<std::size_t>(members * k * k));
      const double eps = precision == Precision::fp64 ? 1.1e-16 : 6e-8;
      auto scale_of = [&](int m) {  // the largest column norm of member m's basis
        double s = 0;
        for (int j = 0; j < k; ++j)
          s = test::nan_max(
              s, column_norm(before.data() + static_cast<std::size_t>(m * k + j) * n, n));
        return s;
      };
      for (int m = 0; m < members; ++m) {
        const Matrix qm(q.begin() + m * n * k, q.begin() + (m + 1) * n * k);
        const Matrix rm(r.begin() + m * k * k, r.begin() + (m + 1) * k * k);
        for (int j = 0; j < k; ++j)
          for (int i = j + 1; i < k; ++i) EXPECT_EQ(rm[j * k + i], 0.0) << "upper triangular";
        const Matrix rebuilt = multiply(qm, rm, n, k, k);
        for (int j = 0; j < k; ++j) {
          const double* want = before.data() + static_cast<std::size_t>(m * k + j) * n;
          const double err = test::max_abs_of(static_cast<std::size_t>(n), [&](std::size_t i) {
            return rebuilt[static_cast<std::size_t>(j) * n + i] - want[i];
          });
          // Backward stable: error ≲ n ε ‖A‖ (100 n ε allowed); a wrong or partial R is off by
          // O(‖A‖).
          EXPECT_AT_MOST(err, 100 * n * eps * scale_of(m))
              << "qr " << to_string(c.qr) << " scale " << c.scale << " member " << m << " of "
              << members << " column " << j << " " << to_string(precision);
        }
      }
    }
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(ClvRFactor);

// --- fixed points ------------------------------------------------------------------------------

// J = S D S⁻¹: real, well separated eigenvalues, two of them unstable for the map (|μ| > 1) and
// for the rate model (μ > 1); S random, hence non-normal J.
struct FixedPoint {
  int n = 6;
  std::vector<double> mu;
  Matrix s, j;
  explicit FixedPoint(std::vector<double> eigenvalues = {2.0, 1.4, -0.9, 0.6, -0.35, 0.15})
      : mu(std::move(eigenvalues)) {
    std::mt19937_64 gen(42);
    std::normal_distribution<double> normal;
    s.resize(static_cast<std::size_t>(n) * n);
    for (double& x : s) x = normal(gen);
    Matrix sd = s;
    for (int c = 0; c < n; ++c)
      for (int r = 0; r < n; ++r) sd[static_cast<std::size_t>(c) * n + r] *= mu[c];
    j = multiply(sd, inverse(s, n), n, n, n);
  }
};

class ClvFixedPoint : public test::WithTempDir<testing::TestWithParam<BackendKind>> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

// Tolerances: the forward basis and the backward iteration converge like the largest ratio of
// successive |eigenvalues| of M per t_ons (≤ 0.7 here) to the power of the basis warm-up and of the
// backward steps (100 each): ≤ 0.7^100 ≈ 3e-16. What remains is rounding, amplified at most by the
// eigenvector basis's condition number (≈ 10² for this S): 1e-9 leaves a wide margin, while a
// Gram–Schmidt vector (what one gets without the backward pass) is off by O(1).
TEST_P(ClvFixedPoint, VectorsAreTheEigenvectorsOfTheTangentMap) {
  const FixedPoint fp;
  const int n = fp.n;
  for (Model model : {Model::map, Model::rate}) {
    SpectrumOptions o;
    o.backend = GetParam();
    o.model = model;
    o.t_warmup = 0;
    o.t_ons_warmup = 100;
    o.t_sim = 200;
    o.clv = true;
    o.clv_stats = true;
    o.initial_state_file = (dir_ / "zero.npy").string();
    test::write_file(o.initial_state_file,
                     test::make_npy_bytes(Matrix(n, 0.0), n, 1, false, false));
    Network net;
    net.n = n;
    net.j = fp.j;
    // The eigenvalues of the tangent map per step, and the steps per t_ons.
    const double dt = model == Model::map ? 1.0 : o.dt;
    std::vector<int> order(n);
    std::vector<double> lam(n);
    for (int i = 0; i < n; ++i) {
      order[i] = i;
      const double step_eig = model == Model::map ? fp.mu[i] : 1 - dt + dt * fp.mu[i];
      lam[i] = std::log(std::fabs(step_eig)) / dt;
    }
    std::sort(order.begin(), order.end(), [&](int a, int b) { return lam[a] > lam[b]; });
    const SpectrumResult r = compute_spectrum(o, net);
    ASSERT_TRUE(r.clv.has_value());
    const ClvResult& c = *r.clv;
    ASSERT_EQ(c.rows, n);
    ASSERT_EQ(c.vectors.size(), static_cast<std::size_t>(n * n));
    EXPECT_EQ(c.window, 200);
    EXPECT_EQ(c.instant, c.window / 2);
    for (int j = 0; j < n; ++j) {
      const int e = order[j];
      EXPECT_LT(direction_error(c.vectors.data() + j * n, fp.s.data() + e * n, n), 1e-9)
          << to_string(model) << " vector " << j << " (eigenvalue " << fp.mu[e] << ")";
      EXPECT_NEAR(column_norm(c.vectors.data() + j * n, n), 1.0, 1e-12);
      // Converged (the gaps' e^{−100·0.36} and less): the starts agree to rounding, no warning.
      EXPECT_LT(c.convergence[j], 1e-9) << to_string(model) << " vector " << j;
      // Each vector grows by exactly its eigenvalue every step.
      EXPECT_NEAR(c.exponents[j], lam[e], 1e-9) << to_string(model) << " vector " << j;
      EXPECT_NEAR(
          c.ipr[j],
          [&] {
            const double nv = column_norm(fp.s.data() + e * n, n);
            double s4 = 0;
            for (int i = 0; i < n; ++i) s4 += std::pow(fp.s[e * n + i] / nv, 4);
            return s4;
          }(),
          1e-9);
    }
    // Unstable: the two eigenvalues beyond 1 in modulus (map) or above 1 (rate); stable: the rest.
    ASSERT_EQ(c.n_unstable, 2);
    ASSERT_EQ(c.n_stable, n - 2);
    Matrix u, s;
    for (int j = 0; j < n; ++j) {
      const double* col = fp.s.data() + order[j] * n;
      (j < 2 ? u : s).insert((j < 2 ? u : s).end(), col, col + n);
    }
    const Matrix qu = orthonormal_basis(u, n, 2), qs = orthonormal_basis(s, n, n - 2);
    // cos θ_min = σ_max(Q_sᵀ Q_u): the largest eigenvalue of the 2 × 2 matrix G =
    // (Q_sᵀQ_u)ᵀ(Q_sᵀQ_u).
    const Matrix x = [&] {
      Matrix t(static_cast<std::size_t>(n - 2) * 2);
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < n - 2; ++b) {
          double d = 0;
          for (int i = 0; i < n; ++i) d += qs[b * n + i] * qu[a * n + i];
          t[a * (n - 2) + b] = d;
        }
      return t;
    }();
    double g00 = 0, g01 = 0, g11 = 0;
    for (int b = 0; b < n - 2; ++b) {
      g00 += x[b] * x[b];
      g01 += x[b] * x[(n - 2) + b];
      g11 += x[(n - 2) + b] * x[(n - 2) + b];
    }
    const double top = 0.5 * (g00 + g11) + std::sqrt(0.25 * (g00 - g11) * (g00 - g11) + g01 * g01);
    const double theta = std::acos(std::sqrt(top));
    ASSERT_EQ(c.angle_quantiles.size(), 5u);
    for (double q : c.angle_quantiles) EXPECT_NEAR(q, theta, 1e-7) << to_string(model);
    EXPECT_NEAR(c.angle_min, theta, 1e-7);
    for (const auto& w : r.warnings) EXPECT_EQ(w.find("covariant vector"), std::string::npos) << w;
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(ClvFixedPoint);

// --- chaos -------------------------------------------------------------------------------------

class ClvChaos : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

// Both are estimates of the same exponents over overlapping stretches of one trajectory (the
// vectors' over the window less the backward transient): their difference is within a few
// standard errors of each (4 of the combined error; the estimates are positively correlated, so
// this is conservative), and the O(1/T) end effects are far below it.
TEST_P(ClvChaos, GrowthRatesAreTheExponents) {
  for (Model model : {Model::map, Model::rate}) {
    SpectrumOptions o;
    o.backend = GetParam();
    o.model = model;
    // Chaotic at these sizes (a small rate network at g = 3 may settle on a fixed point or cycle).
    o.n = model == Model::map ? 40 : 80;
    o.k = 12;
    o.g = model == Model::map ? 3 : 5;
    o.t_warmup = 100;
    o.t_ons_warmup = 100;
    o.t_sim = 2000;
    o.clv_stats = true;
    const SpectrumResult r = compute_spectrum(o);
    ASSERT_TRUE(r.clv.has_value());
    const ClvResult& c = *r.clv;
    EXPECT_EQ(c.window, 2000);
    EXPECT_EQ(c.transient, 100);
    EXPECT_EQ(c.instants, detail::kClvSamples);
    EXPECT_TRUE(c.vectors.empty()) << "vectors only with --clv";
    ASSERT_GT(c.n_unstable, 0) << "g = 3 is chaotic";
    for (int j = 0; j < 12; ++j) {
      // The growth rates' own errors come from the same kind of batch means over a slightly
      // shorter stretch: not inflated (an inflated error would loosen the check below).
      EXPECT_LT(c.stderr_[j], 2 * r.stderr_[j]) << to_string(model) << " exponent " << j;
      const double se = std::hypot(r.stderr_[j], c.stderr_[j]);
      ASSERT_TRUE(std::isfinite(se) && se > 0);
      EXPECT_NEAR(c.exponents[j], r.exponents[j], 4 * se)
          << to_string(model) << " exponent " << j << " (standard errors " << r.stderr_[j] << ", "
          << c.stderr_[j] << ")";
      // A unit vector's IPR lies in [1/N, 1].
      EXPECT_GE(c.ipr[j], 1.0 / o.n - 1e-12);
      EXPECT_LE(c.ipr[j], 1.0);
    }
    // The angles are angles, and ordered.
    ASSERT_EQ(c.angle_quantiles.size(), 5u);
    EXPECT_GE(c.angle_min, 0);
    EXPECT_LE(c.angle_min, c.angle_quantiles[0]);
    EXPECT_TRUE(std::is_sorted(c.angle_quantiles.begin(), c.angle_quantiles.end()));
    EXPECT_LE(c.angle_quantiles[4], std::numbers::pi / 2 + 1e-12);
  }
}

// The vectors at instants t and t + 1 from the recorder (the driver's forward pass done here), and
// M_t V_t from a fresh propagator started at the state of instant t: the same directions.
TEST_P(ClvChaos, NextVectorsAreTheTangentImageOfThese) {
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::map;
  o.n = 30;
  o.g = 3;
  o.input_std = 0.1;  // a driven map: the noise is keyed by step, so it replays
  const int n = 30, k = 10;
  const Network net = make_network(o);
  const detail::Placement where{GetParam(), 0, Precision::fp64, QrMethod::householder};
  const detail::Dynamics dyn = detail::dynamics_of(o);
  auto p = detail::make_network_propagator(where, {&net}, dyn, {detail::noise_key(1)}, k);
  std::int64_t step = 0;
  p->set_state(detail::initial_state(n, 1));
  p->advance_state(step, 200);
  step += 200;
  p->set_basis(detail::initial_basis(n, k, 1));
  p->reorthonormalize(false);
  for (int i = 0; i < 50; ++i, ++step) {
    p->advance_tangent(step, 1);
    p->reorthonormalize(false);
  }
  detail::ClvPlan plan;
  plan.window = 80;
  plan.transient = 30;
  plan.ons_time = 1;
  const std::int64_t t = 25;
  plan.vector_instants = {t, t + 1};
  detail::ClvRecorder rec(plan, n, k, 7);
  p->keep_r(true);
  std::vector<double> state_t;
  std::int64_t step_t = 0;
  for (std::int64_t i = 0; i <= plan.window; ++i) {
    if (i > 0) {
      p->advance_tangent(step, 1);
      ++step;
      p->reorthonormalize(true);
      rec.add_r(p->last_r_blocking());
    }
    if (rec.wants_basis(i)) rec.add_basis(i, p->basis_blocking());
    if (i == t) {
      state_t = p->state_blocking();
      step_t = step;
    }
  }
  std::vector<std::vector<double>> v;
  rec.finish(std::vector<double>(k, 0.0), std::vector<double>(k, 0.0), &v);
  ASSERT_EQ(v.size(), 2u);
  auto image = detail::make_network_propagator(where, {&net}, dyn, {detail::noise_key(1)}, k);
  image->set_state(state_t);
  image->set_basis(v[0]);
  image->advance_tangent(step_t, 1);
  const Matrix mv = image->basis_blocking();
  for (int j = 0; j < k; ++j) {
    // Exact up to rounding: M_t V_t's column j is V_{t+1}'s times the growth factor.
    EXPECT_LT(direction_error(mv.data() + j * n, v[1].data() + j * n, n), 1e-9) << "vector " << j;
    // ... and not trivially: V_t itself points elsewhere.
    EXPECT_GT(direction_error(v[0].data() + j * n, v[1].data() + j * n, n), 1e-3) << "vector " << j;
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(ClvChaos);

// --- convergence -------------------------------------------------------------------------------

// Synthetic R factors R_i = D_i (I + U_i): D_i = diag(e^{λ + 0.1 ξ}), U_i strictly upper with
// N(0, 0.3²) entries, λ = (0.5, 0, −0.05, −1). The exponents are λ, and vector j's error after t
// backward steps decays like e^{−(λ_{j−1} − λ_j) t}: vectors 2 and 4 are converged after 30 steps
// (e^{−15}, e^{−28}), vector 3 is not (e^{−1.5} ≈ 0.2 times a random coefficient).
const std::vector<double> kSyntheticExponents{0.5, 0.0, -0.05, -1.0};

std::vector<Matrix> synthetic_r(int count, std::uint64_t seed) {
  const int k = 4;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<Matrix> rs;
  for (int s = 0; s < count; ++s) {
    Matrix r(k * k, 0.0);
    for (int j = 0; j < k; ++j) {
      const double d = std::exp(kSyntheticExponents[j] + 0.1 * normal(gen));
      r[j * k + j] = d;
      for (int i = 0; i < j; ++i) r[j * k + i] = 0.3 * normal(gen);
    }
    // D (I + U): row i scaled by d_i.
    for (int j = 0; j < k; ++j)
      for (int i = 0; i < j; ++i) r[j * k + i] *= r[i * k + i];
    rs.push_back(r);
  }
  return rs;
}

// The vectors at `instant` from the first `window` R factors (bases: the identity, so V = C).
ClvResult synthetic_clv(const std::vector<Matrix>& rs, std::int64_t window, std::int64_t instant,
                        std::vector<std::string>* warnings = nullptr) {
  const int k = 4;
  detail::ClvPlan plan;
  plan.window = window;
  plan.transient = window - instant;
  plan.ons_time = 1;
  plan.vector_instants = {instant};
  detail::ClvRecorder rec(plan, k, k, 7);
  Matrix eye(k * k, 0.0);
  for (int i = 0; i < k; ++i) eye[i * k + i] = 1;
  rec.add_basis(instant, eye);
  for (std::int64_t i = 0; i < window; ++i) rec.add_r(rs[static_cast<std::size_t>(i)]);
  return rec.finish(kSyntheticExponents, std::vector<double>(k, 0.005), nullptr, warnings);
}

// The estimate against the true error (the angle to the vectors of a window of 400, 370 backward
// steps: converged to e^{−18}) at the same instant. The estimate is the largest of the differences
// to two other random starts, a − b and a − c for the error a: a ratio of random coefficients,
// heavy-tailed both ways. In an independent simulation (numpy, 1500 sequences of these R's) its
// ratio to the true error has median 1.8, is ≥ 1/3 in 96 % and ≥ 1/10 in 99 % of cases. Over
// 20 sequences: the median within [0.7, 5], at least 16 at ≥ 1/3 and 19 at ≥ 1/10; every vector
// whose true error exceeds 0.1 (10 times the tolerance) is warned about; converged vectors are
// neither estimated nor warned as unconverged.
TEST(ClvConvergence, EstimateIsTheSizeOfTheTrueError) {
  std::vector<double> ratios;
  int warned_big = 0, big = 0;
  for (std::uint64_t seq = 0; seq < 20; ++seq) {
    const std::vector<Matrix> rs = synthetic_r(400, 100 + seq);
    std::vector<std::string> warnings;
    const ClvResult shortw = synthetic_clv(rs, 60, 30, &warnings);
    std::vector<std::string> none;
    const ClvResult longw = synthetic_clv(rs, 400, 30, &none);
    ASSERT_EQ(shortw.convergence.size(), 4u);
    EXPECT_EQ(shortw.convergence_tolerance, detail::kClvConvergenceTolerance);
    EXPECT_EQ(shortw.convergence[0], 0.0) << "vector 1 is exact";
    for (int j : {1, 3}) {
      EXPECT_LT(direction_error(shortw.vectors.data() + j * 4, longw.vectors.data() + j * 4, 4),
                1e-4);
      EXPECT_LT(shortw.convergence[j], 1e-4) << "vector " << j + 1 << " sequence " << seq;
    }
    for (double a : longw.convergence) EXPECT_LT(a, 1e-6) << "sequence " << seq;
    EXPECT_TRUE(none.empty()) << none.front();
    // The true error of vector 3: the sign-free angle to the converged one.
    const double d = direction_error(shortw.vectors.data() + 8, longw.vectors.data() + 8, 4);
    const double truth = 2 * std::asin(d / 2);
    ratios.push_back(shortw.convergence[2] / truth);
    const bool warned =
        warnings.size() == 1 &&
        warnings[0].find("covariant vector 3 may not have converged") != std::string::npos;
    EXPECT_EQ(warned, shortw.convergence[2] > detail::kClvConvergenceTolerance)
        << (warnings.empty() ? "" : warnings[0]);
    if (warned) {
      EXPECT_NE(warnings[0].find("--clv-window"), std::string::npos) << warnings[0];
    }
    if (truth > 0.1) {
      ++big;
      warned_big += warned ? 1 : 0;
    }
  }
  std::vector<double> sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  const double median = (sorted[9] + sorted[10]) / 2;
  EXPECT_GE(median, 0.7);
  EXPECT_LE(median, 5.0);
  EXPECT_GE(std::count_if(ratios.begin(), ratios.end(), [](double r) { return r >= 1.0 / 3; }), 16);
  EXPECT_GE(std::count_if(ratios.begin(), ratios.end(), [](double r) { return r >= 0.1; }), 19);
  EXPECT_GE(big, 5) << "the sequences should give vector 3 true errors beyond 0.1";
  EXPECT_EQ(warned_big, big);
}

// A map at its fixed point with two close eigenvalue moduli, 0.9 and 0.85 (exponent gap 0.057 per
// step): with a window of 80 the vectors (at its middle) had 40 backward steps, so vector 4's error
// is ~e^{−2.3} times a random coefficient (amplified by the non-normal eigenvector basis). The true
// error is its angle to the eigenvector (the forward basis is converged: 400 warm-up steps,
// e^{−23}); the estimate must be within the simulation's 99 % range of it (1/10 … 30, above) and
// the run must warn, naming vector 4 and a
// --clv-window long enough by the gap. With the default window (instant 200: e^{−11}) nothing is
// warned.
TEST(ClvConvergence, CloseExponentsAndAShortWindowAreWarned) {
  const FixedPoint fp({2.0, 1.4, -0.9, 0.85, -0.35, 0.15});
  const int n = fp.n;
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.model = Model::map;
  o.t_warmup = 0;
  o.t_ons_warmup = 400;
  o.t_sim = 400;
  o.clv = true;
  o.clv_window = 80;
  o.clv_transient = 10;
  o.initial_state_file = (dir / "zero.npy").string();
  test::write_file(o.initial_state_file, test::make_npy_bytes(Matrix(n, 0.0), n, 1, false, false));
  Network net;
  net.n = n;
  net.j = fp.j;
  const SpectrumResult r = compute_spectrum(o, net);
  ASSERT_TRUE(r.clv.has_value());
  const ClvResult& c = *r.clv;
  ASSERT_EQ(c.convergence.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(c.instant, 40);
  // Vector 4 is the eigenvector of 0.85 (index 3 of mu).
  const double d = direction_error(c.vectors.data() + 3 * n, fp.s.data() + 3 * n, n);
  const double truth = 2 * std::asin(d / 2);
  EXPECT_GT(truth, 0.05) << "the case should leave vector 4 unconverged";
  // Every vector's estimate against its true error (rounding aside), within the simulation's
  // 99 % range; vector 1 is exact.
  EXPECT_EQ(c.convergence[0], 0.0);
  for (int v = 1; v < n; ++v) {
    const double t =
        2 * std::asin(direction_error(c.vectors.data() + v * n, fp.s.data() + v * n, n) / 2);
    if (t < 1e-10) continue;
    EXPECT_GE(c.convergence[v], t / 10) << "vector " << v + 1;
    EXPECT_LE(c.convergence[v], t * 30) << "vector " << v + 1;
  }
  std::string warning;
  for (const auto& w : r.warnings)
    if (w.find("may not have converged") != std::string::npos) warning = w;
  EXPECT_NE(warning.find("covariant vector 4 "), std::string::npos) << warning;
  EXPECT_NE(warning.find("--clv-window"), std::string::npos) << warning;
  EXPECT_NE(warning.find("40 time units"), std::string::npos) << warning;
  // The other vectors' gaps (≥ 0.36 per step over 40 steps) leave them converged: not named.
  for (int v : {0, 1, 2, 4, 5})
    EXPECT_LT(c.convergence[v], detail::kClvConvergenceTolerance) << "vector " << v + 1;
  // The JSON carries the estimates and the tolerance.
  const auto j = nlohmann::json::parse(to_json(r));
  ASSERT_EQ(j["clv"]["convergence"].size(), static_cast<std::size_t>(n));
  EXPECT_DOUBLE_EQ(j["clv"]["convergence"][3].get<double>(), c.convergence[3]);
  EXPECT_EQ(j["clv"]["convergence_tolerance"].get<double>(), detail::kClvConvergenceTolerance);
  // The default window: 200 backward steps to the vectors.
  o.clv_window = 0;
  const SpectrumResult long_run = compute_spectrum(o, net);
  for (int jj = 0; jj < n; ++jj)
    EXPECT_LT(long_run.clv->convergence[jj], detail::kClvConvergenceTolerance) << jj;
  for (const auto& w : long_run.warnings)
    EXPECT_EQ(w.find("covariant vector"), std::string::npos) << w;
}

// Equal exponents (eigenvalues 0.6 and −0.6: one modulus) span a plane in which no single vector is
// covariant: the run says so, naming the pair, instead of asking for a longer transient.
TEST(ClvConvergence, DegenerateExponentsAreNotIdentifiable) {
  std::vector<std::string> w = detail::convergence_warnings(
      {0.0, 0.3, 0.5, 1e-5}, {0.5, -0.51, -0.51, -2.0}, {0.01, 0.01, 0.01, 0.01}, 30, 1.0, true);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("covariant vector 2 may not have converged"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("--clv-transient"), std::string::npos) << w[0];
  EXPECT_NE(w[1].find("covariant vectors 2 and 3"), std::string::npos) << w[1];
  EXPECT_NE(w[1].find("only their span"), std::string::npos) << w[1];
  // Vector 2 needs ln(0.3 / 0.01) / 1.01 ≈ 3.4 more time units: 34 in whole t_ons.
  EXPECT_NE(w[0].find("--clv-transient 34 "), std::string::npos) << w[0];
  // Converged vectors and well-separated exponents: nothing.
  EXPECT_TRUE(detail::convergence_warnings({0.0, 1e-3, 1e-6}, {0.5, 0.0, -1.0}, {0.01, 0.01, 0.01},
                                           30, 1.0, false)
                  .empty());
}

// The advice can be followed: with --clv alone the vectors sit at the window's middle, and where no
// --clv-window was given the window is the whole averaging time, so the remedy is a longer --t-sim
// (a --clv-window beyond --t-sim is refused).
TEST(ClvConvergence, AdviceNamesWhatSetsTheWindow) {
  const std::vector<double> conv = {0.0, 0.3}, ex = {0.5, -0.5}, se = {0.01, 0.01};
  const std::string given = detail::convergence_warnings(conv, ex, se, 30, 1.0, false).at(0);
  EXPECT_NE(given.find("give a --clv-window of"), std::string::npos) << given;
  const std::string all = detail::convergence_warnings(conv, ex, se, 30, 1.0, false, true).at(0);
  EXPECT_NE(all.find("give a --t-sim of"), std::string::npos) << all;
  EXPECT_EQ(all.find("--clv-window"), std::string::npos) << all;
  const std::string stats = detail::convergence_warnings(conv, ex, se, 30, 1.0, true, true).at(0);
  EXPECT_NE(stats.find("and a --t-sim of at least twice that"), std::string::npos) << stats;
  // The plan knows which: no --clv-window, the whole averaging time.
  SpectrumOptions o;
  o.clv = true;
  o.t_sim = 1000;
  EXPECT_TRUE(detail::make_clv_plan(o, make_schedule(o)).window_is_all);
  o.clv_window = 500;
  EXPECT_FALSE(detail::make_clv_plan(o, make_schedule(o)).window_is_all);
}

// --- the plan and its memory -------------------------------------------------------------------

TEST(ClvPlan, WindowTransientInstantsAndBytes) {
  SpectrumOptions o;
  o.t_ons_warmup = 30;
  o.t_sim = 300;
  o.t_ons = 2;
  o.clv = true;
  o.clv_stats = true;
  validate(o);
  const Schedule s = make_schedule(o);
  detail::ClvPlan p = detail::make_clv_plan(o, s);
  EXPECT_EQ(p.window, 150);
  EXPECT_EQ(p.transient, 15);
  EXPECT_EQ(p.vector_instants, std::vector<std::int64_t>{75});
  EXPECT_EQ(p.sample_instants.size(), static_cast<std::size_t>(detail::kClvSamples));
  EXPECT_EQ(p.sample_instants.front(), 0);
  EXPECT_EQ(p.sample_instants.back(), 135);
  // 150 R's of 10², 100 or 101 bases of 50 × 10, and 8 working k × k matrices (3 starts' C's).
  const std::size_t bases = p.basis_instants().size();
  EXPECT_DOUBLE_EQ(p.bytes(50, 10),
                   8.0 * (150 * 100 + static_cast<double>(bases) * 500 + 4 * 500 + 8 * 100));
  EXPECT_NO_THROW(detail::check_clv_memory(p, 50, 10, p.bytes(50, 10), false));
  try {
    detail::check_clv_memory(p, 50, 10, p.bytes(50, 10) - 1, false);
    ADD_FAILURE() << "not refused";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("--clv-window"), std::string::npos) << e.what();
  }
  o.clv_window = 40;
  o.clv_transient = 20;
  p = detail::make_clv_plan(o, s);
  EXPECT_EQ(p.window, 20);
  EXPECT_EQ(p.transient, 10);
  o.clv_transient = 22;  // 11 backward steps: more than half the window
  EXPECT_THROW(detail::make_clv_plan(o, s), InvalidInput);
}

// Without a backward transient (--clv-transient 0, or --t-ons-warmup 0 without it) the vectors
// still carry the backward pass's random start: the run says so, and only then.
TEST(ClvWarning, OnlyWithoutABackwardTransient) {
  const std::string needle = "covariant vectors without a backward transient";
  struct Case {
    double t_ons_warmup;
    std::optional<double> clv_transient;
    bool warned;
  };
  const Case cases[] = {{10, 0.0, true},           {0, std::nullopt, true}, {0, 0.0, true},
                        {10, std::nullopt, false}, {10, 5.0, false},        {0, 5.0, false}};
  for (const Case& c : cases) {
    SpectrumOptions o;
    o.backend = BackendKind::cpu;
    o.model = Model::map;
    o.n = 8;
    o.g = 2;
    o.t_warmup = 10;
    o.t_ons_warmup = c.t_ons_warmup;
    o.t_sim = 40;
    o.clv_stats = true;
    o.clv_transient = c.clv_transient;
    const SpectrumResult r = compute_spectrum(o);
    ASSERT_TRUE(r.clv.has_value());
    const std::string what =
        "t_ons_warmup " + std::to_string(c.t_ons_warmup) + ", clv_transient " +
        (c.clv_transient ? std::to_string(*c.clv_transient) : std::string("not given"));
    EXPECT_EQ(r.clv->transient == 0, c.warned) << what;
    const auto warned = std::count_if(r.warnings.begin(), r.warnings.end(), [&](const auto& w) {
      return w.find(needle) != std::string::npos;
    });
    EXPECT_EQ(warned, c.warned ? 1 : 0) << what;
  }
}

// --- the program -------------------------------------------------------------------------------

class ClvCli : public test::TempDirTest {
 protected:
  void expect_rejected(const std::string& args, const std::string& needle) {
    const test::CliRun r =
        run("spectrum --quiet --backend cpu --out " + (dir_ / "r.json").string() + " " + args);
    EXPECT_EQ(r.status, 2) << args << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "r.json")) << args;
    EXPECT_FALSE(fs::exists(dir_ / "v.npy")) << args;
  }
};

TEST_F(ClvCli, WritesUnitColumnsOfTheStateDimension) {
  const fs::path npy = dir_ / "v.npy", out = dir_ / "r.json";
  const test::CliRun r =
      run("spectrum --quiet --backend cpu --model map --n 20 --k 7 --g 3 --t-warmup 50 "
          "--t-ons-warmup 40 --t-sim 100 --clv " +
          npy.string() + " --clv-stats --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const NpyMatrix v = read_npy_matrix(npy.string());
  ASSERT_EQ(v.rows, 20u);
  ASSERT_EQ(v.cols, 7u);
  for (std::size_t j = 0; j < 7; ++j)
    EXPECT_NEAR(column_norm(v.data.data() + j * 20, 20), 1, 1e-12);
  const auto j = nlohmann::json::parse(test::slurp(out));
  ASSERT_TRUE(j.contains("clv"));
  EXPECT_EQ(j["clv"]["window"], 100);
  EXPECT_EQ(j["clv"]["transient"], 40);
  EXPECT_EQ(j["clv"]["instant"], 50);
  EXPECT_EQ(j["clv"]["rows"], 20);
  for (const char* key : {"ipr", "n_ipr", "exponents", "stderr"})
    EXPECT_EQ(j["clv"][key].size(), 7u) << key;
  EXPECT_TRUE(j["clv"].contains("angle"));
  EXPECT_EQ(j["params"]["clv"], true);
  EXPECT_EQ(j["params"]["clv_stats"], true);
}

// The program prints the warning on stderr and keeps it in the JSON's warnings.
TEST_F(ClvCli, WarnsWithoutABackwardTransient) {
  const std::string needle = "covariant vectors without a backward transient";
  for (const std::string transient : {"0", "10"}) {
    const fs::path out = dir_ / "r.json";
    const test::CliRun r = run(
        "spectrum --quiet --backend cpu --model map --n 8 --g 2 --t-warmup 10 --t-ons-warmup 10 "
        "--t-sim 40 --clv-stats --clv-transient " +
        transient + " --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.err;
    const bool want = transient == "0";
    EXPECT_EQ(r.err.find("rnnlyap: warning: " + needle) != std::string::npos, want)
        << "--clv-transient " << transient << ", stderr: " << r.err;
    const auto j = nlohmann::json::parse(test::slurp(out));
    const auto& w = j.at("warnings");
    EXPECT_EQ(std::count_if(w.begin(), w.end(),
                            [&](const nlohmann::json& x) {
                              return x.get<std::string>().find(needle) != std::string::npos;
                            }),
              want ? 1 : 0)
        << "--clv-transient " << transient << ": " << w;
  }
}

// A trained LSTM's state is (h, c): 2N rows; with --lstm-h-only N. Its vectors' growth rates are
// its exponents (within 4 combined standard errors) here too.
TEST_F(ClvCli, LstmVectorsHaveTwoNRows) {
  const int h = 6, in = 2, steps = 2000;
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal;
  auto draw = [&](std::size_t count, double scale) {
    std::vector<double> v(count);
    for (double& x : v) x = scale * normal(gen);
    return v;
  };
  const std::vector<NpzMember> weights = {
      npz_float64("weight_ih_l0", {4 * h, in}, draw(4 * h * in, 0.5)),
      npz_float64("weight_hh_l0", {4 * h, h}, draw(4 * h * h, 0.8)),
      npz_float64("bias_ih_l0", {4 * h}, draw(4 * h, 0.1)),
      npz_float64("bias_hh_l0", {4 * h}, draw(4 * h, 0.1))};
  test::write_file((dir_ / "w.npz").string(), npz_bytes(weights));
  test::write_file((dir_ / "x.npy").string(),
                   test::make_npy_bytes(draw(steps * in, 1.0), steps, in, false, false));
  for (bool h_only : {false, true}) {
    const fs::path npy = dir_ / "v.npy", out = dir_ / "r.json";
    const test::CliRun r = run(
        "spectrum --quiet --backend cpu --model lstm --weights-file " + (dir_ / "w.npz").string() +
        " --inputs " + (dir_ / "x.npy").string() + (h_only ? " --lstm-h-only" : "") +
        " --t-ons-warmup 100 --clv " + npy.string() + " --clv-stats --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.err;
    const int rows = h_only ? h : 2 * h;
    const NpyMatrix v = read_npy_matrix(npy.string());
    EXPECT_EQ(v.rows, static_cast<std::size_t>(rows));
    EXPECT_EQ(v.cols, static_cast<std::size_t>(rows));
    const auto j = nlohmann::json::parse(test::slurp(out));
    EXPECT_EQ(j["clv"]["rows"], rows);
    for (int i = 0; i < rows; ++i) {
      const double lam = j["exponents"][i], se = j["stderr"][i];
      const double clv = j["clv"]["exponents"][i], clv_se = j["clv"]["stderr"][i];
      EXPECT_NEAR(clv, lam, 4 * std::hypot(se, clv_se)) << "exponent " << i;
    }
  }
}

TEST_F(ClvCli, BadInputExitsTwoBeforeRunning) {
  const std::string npy = "--clv " + (dir_ / "v.npy").string();
  const std::string small = " --n 10 --t-sim 100 --t-ons-warmup 20 ";
  expect_rejected(small + npy + " --ensemble 2", "single runs");
  expect_rejected(small + "--clv-stats --checkpoint " + (dir_ / "c.ckpt").string(), "checkpoints");
  expect_rejected(small + npy + " --resume " + (dir_ / "c.ckpt").string(), "checkpoints");
  expect_rejected(small + npy + " --clv-window 2.5", "whole number of --t-ons");
  expect_rejected(small + npy + " --clv-window 200", "longer than --t-sim");
  expect_rejected(small + "--clv-window 50", "applies with --clv or --clv-stats only");
  expect_rejected(small + "--clv-transient 50", "applies with --clv or --clv-stats only");
  expect_rejected(small + npy + " --clv-window 30", "at least twice the backward transient");
  expect_rejected(small + "--clv " + dir_.string(), "--clv");  // a directory
  expect_rejected(small + "--clv " + (dir_ / "missing" / "v.npy").string(), "--clv");
  expect_rejected(small + "--clv ''", "--clv");
}

// 500² doubles per R, 10⁷ of them: 20 TB, beyond any machine: refused before the run, naming the
// option that bounds it.
TEST_F(ClvCli, WindowBeyondMemoryExitsTwo) {
  if (host_memory_bytes() == 0) GTEST_SKIP() << "this machine's memory is unknown";
  expect_rejected("--model map --n 500 --t-warmup 0 --t-ons-warmup 0 --t-sim 10000000 --clv-stats",
                  "--clv-window");
}

}  // namespace
}  // namespace rnnlyap
