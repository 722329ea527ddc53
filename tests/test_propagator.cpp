// The one propagator (src/core/propagator.hpp): every model × every executor × B ∈ {1, 3} members,
// against independent truth.
// - One step: the state against the reference step written in propagator_cases.hpp (the
//   formulas of docs/design.md for the random networks, the reference cell_step
//   (core/models/cell_reference.hpp) for the cells), the tangent map (Q = I) against central finite
//   differences of that reference step.
// - Exact spectra where the tangent map is constant: below onset (random networks, the state decays
//   to 0) λ_i = log|1 − dt + dt μ_i|/dt (rate/Euler), log|P(dt(μ_i − 1))|/dt with P RK4's stability
//   polynomial (rate/RK4), log|μ_i| (map), μ_i eigenvalues of J (LAPACK dgeev, not the QR
//   propagation); at the zero fixed point of a cell with zero inputs and biases, the eigenvalues
//   of its known Jacobian: rnn W_hh; gru ½I + ¼W_hn; lstm [[¼W_hg, ¼I], [½W_hg, ½I]] ((h, c)
//   order); h-only lstm ¼W_hg.
// - The sum rule, step by step: with k = N and a re-orthonormalisation after every step, Σ_i
//   log|R_ii| = log|det D_t| with D_t = J diag φ'(h_t) (map) or (1 − dt) I + dt J diag φ'(h_t)
//   (rate/Euler), the determinant computed here in long double by elimination.
// - A batch of B members equals B propagators of one member each (bit for bit on the CPU, to
//   rounding on CUDA).
// - Bad calls: wrong sizes, k out of range, steps beyond the inputs, runs that do not fit.
// The CUDA instances skip without a device and fail instead with RNNLYAP_REQUIRE_CUDA=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "core/executor.hpp"
#include "core/loop.hpp"
#include "exact_spectrum.hpp"
#include "linalg_truth.hpp"
#include "propagator_cases.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

using test::is_network;
using test::Kind;
using test::make_members;
using test::Members;

struct Case {
  Kind kind;
  BackendKind backend;
  int batch;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << test::kind_name(c.kind) << "/" << to_string(c.backend) << "/B" << c.batch;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return test::kind_name(info.param.kind) + "_" + std::string(to_string(info.param.backend)) +
         "_B" + std::to_string(info.param.batch);
}

std::vector<Case> cases(std::initializer_list<Kind> kinds, std::initializer_list<int> batches) {
  std::vector<Case> out;
  for (Kind k : kinds)
    for (BackendKind b : test::kBackends)
      for (int batch : batches) out.push_back({k, b, batch});
  return out;
}

std::vector<Case> all_cases(std::initializer_list<int> batches) {
  std::vector<Case> out;
  for (Kind k : test::kAllKinds)
    for (BackendKind b : test::kBackends)
      for (int batch : batches) out.push_back({k, b, batch});
  return out;
}

class PropagatorTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam().backend); }
  detail::Placement where(Precision p = Precision::fp64,
                          QrMethod qr = QrMethod::householder) const {
    return {GetParam().backend, 0, p, qr};
  }
};

// --- one step against the reference and finite differences ---------------------------------------

using PropagatorStep = PropagatorTest;

// The state step is the reference's arithmetic up to summation order: n·u relative per product
// sum, far below 1e-12. Central differences with ε = 1e-5 have truncation error ε²/6 |f'''| ≈ 1e-10
// and rounding u/ε ≈ 1e-11 on entries of order 0.1–1: 1e-7 absolute is safe and still sharp (a
// wrong gate derivative or time step moves entries by ≥ 1e-3).
TEST_P(PropagatorStep, StateMatchesReferenceAndTangentMatchesFiniteDifferences) {
  const auto [kind, backend, batch] = GetParam();
  const bool net = is_network(kind);
  const int n = net ? 24 : 12;
  const double gain = net ? (kind == Kind::map ? 2.0 : 3.0) : 1.5;
  const Members m = make_members(kind, batch, n, gain, 0.0, 42);
  const int rows = m.rows, ss = m.state_size;
  auto p = m.propagator(where(), rows);
  EXPECT_EQ(p->name(), std::string(to_string(backend)));
  EXPECT_EQ(p->batch(), batch);
  const std::vector<double> states =
      test::gaussian_values(static_cast<std::size_t>(batch) * ss, 0.8, 7);
  p->set_state(states);
  p->set_basis(test::identities(batch, rows));
  EXPECT_EQ(p->state_blocking(), states) << "set_state then state_blocking is the identity";
  const std::int64_t t = 2;  // not the first step: the input index and noise counter matter
  p->advance_tangent(t, 1);
  const std::vector<double> next = p->state_blocking(), d = p->basis_blocking();
  ASSERT_EQ(next.size(), states.size());
  ASSERT_EQ(d.size(), static_cast<std::size_t>(batch) * rows * rows);
  const double eps = 1e-5;
  for (int b = 0; b < batch; ++b) {
    SCOPED_TRACE("member " + std::to_string(b));
    const std::span<const double> s(states.data() + static_cast<std::size_t>(b) * ss,
                                    static_cast<std::size_t>(ss));
    const std::vector<double> want = m.reference_step(b, s, t);
    for (int i = 0; i < ss; ++i)
      EXPECT_NEAR(next[static_cast<std::size_t>(b) * ss + i], want[i],
                  1e-12 * std::max(1.0, std::fabs(want[i])))
          << "state " << i;
    double worst = 0;
    int wi = -1, wj = -1;
    for (int j = 0; j < rows; ++j) {
      std::vector<double> plus(s.begin(), s.end()), minus(s.begin(), s.end());
      plus[j] += eps;
      minus[j] -= eps;
      const std::vector<double> fp = m.reference_step(b, plus, t),
                                fm = m.reference_step(b, minus, t);
      for (int i = 0; i < rows; ++i) {
        const double fd = (fp[i] - fm[i]) / (2 * eps);
        const double got =
            d[static_cast<std::size_t>(b) * rows * rows + static_cast<std::size_t>(j) * rows + i];
        if (!std::isnan(worst) && !(std::fabs(got - fd) <= worst)) {  // keeps the first NaN
          worst = std::fabs(got - fd);
          wi = i;
          wj = j;
        }
      }
    }
    EXPECT_AT_MOST(worst, 1e-7) << "worst tangent entry (" << wi << ", " << wj << ")";
  }
}

// The state never reads the basis: its trajectory is the same, bit for bit, for any k, with
// re-orthonormalisations in between, and equals advance_state's.
TEST_P(PropagatorStep, StateDoesNotDependOnTheBasis) {
  const auto [kind, backend, batch] = GetParam();
  const Members m = make_members(kind, batch, 23, 2.0, 0.2, 13);
  const std::vector<double> h0 =
      test::gaussian_values(static_cast<std::size_t>(batch) * m.state_size, 0.5, 14);
  std::vector<std::vector<double>> states;
  for (int k : {1, 5, m.rows}) {
    auto p = m.propagator(where(), k);
    p->set_state(h0);
    p->set_basis(test::gaussian_values(static_cast<std::size_t>(batch) * m.rows * k, 1, 15));
    p->advance_tangent(0, 10);
    p->reorthonormalize(true);
    p->advance_tangent(10, 10);
    states.push_back(p->state_blocking());
  }
  auto p = m.propagator(where(), 2);
  p->set_state(h0);
  p->advance_state(0, 20);
  states.push_back(p->state_blocking());
  EXPECT_EQ(states[1], states[0]);
  EXPECT_EQ(states[2], states[0]);
  EXPECT_EQ(states[3], states[0]) << "advance_state";
  EXPECT_NE(states[0], h0);
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorStep, testing::ValuesIn(all_cases({1, 3})), case_name);

using PropagatorNoise = PropagatorTest;

// Input noise is additive: the tangent map of a step does not see it, the state does, as σ√dt ξ
// (rate) or σ ξ (map) with ξ ~ N(0, 1) drawn from each member's own key.
TEST_P(PropagatorNoise, MovesTheStateOnlyWithEachMembersKey) {
  const auto [kind, backend, batch] = GetParam();
  const int n = 40;
  const double sigma = 0.3;
  const Members clean = make_members(kind, batch, n, 2.0, 0.0, 5);
  Members noisy = clean;
  noisy.dyn.input_std = sigma;
  const std::vector<double> h0 = test::gaussian_values(static_cast<std::size_t>(batch) * n, 1, 3);
  std::vector<double> states[2], bases[2];
  for (int i = 0; i < 2; ++i) {
    auto p = (i == 0 ? clean : noisy).propagator(where(), 4);
    p->set_state(h0);
    p->set_basis(test::gaussian_values(static_cast<std::size_t>(batch) * n * 4, 1, 4));
    p->advance_tangent(9, 1);
    states[i] = p->state_blocking();
    bases[i] = p->basis_blocking();
  }
  if (backend == BackendKind::cpu)
    EXPECT_EQ(bases[1], bases[0]) << "noise must not enter the tangent step";
  else
    EXPECT_AT_MOST(test::rel_diff(bases[1], bases[0], 0, bases[0].size()), 1e-14);
  const double scale = sigma * std::sqrt(clean.dyn.dt);
  for (int b = 0; b < batch; ++b) {
    // B·n = 40 draws per member: the sample standard deviation of ξ lies in [0.6, 1.45] except
    // with probability below 1e-3 (χ² with 40 degrees of freedom); the seeds are fixed.
    double ss = 0;
    for (int i = 0; i < n; ++i) {
      const std::size_t at = static_cast<std::size_t>(b) * n + i;
      const double xi = (states[1][at] - states[0][at]) / scale;
      ss += xi * xi;
    }
    const double sd = std::sqrt(ss / n);
    EXPECT_GT(sd, 0.6) << "member " << b;
    EXPECT_LT(sd, 1.45) << "member " << b;
  }
  if (batch > 1) {
    // Each member its own key: the noise increments of members 0 and 1 differ.
    EXPECT_NE(states[1][0] - states[0][0], states[1][n] - states[0][n]);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorNoise,
                         testing::ValuesIn(cases({Kind::rate_euler, Kind::rate_rk4, Kind::map},
                                                 {1, 3})),
                         case_name);

// --- exact spectra -------------------------------------------------------------------------------

using PropagatorExact = PropagatorTest;

std::vector<double> exact_network_spectrum(Kind kind, const Network& net, double dt) {
  std::vector<double> lam;
  for (const std::complex<double>& mu : test::eigenvalues(net.j, net.n)) {
    if (kind == Kind::map) {
      lam.push_back(std::log(std::abs(mu)));
    } else if (kind == Kind::rate_euler) {
      lam.push_back(std::log(std::abs(1.0 - dt + dt * mu)) / dt);
    } else {
      const std::complex<double> z = dt * (mu - 1.0);
      const std::complex<double> p = 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
      lam.push_back(std::log(std::abs(p)) / dt);
    }
  }
  return test::sorted_desc(lam);
}

// The LSTM's full Jacobian at 0 has rank N (its block rows are proportional): N exponents are −∞,
// which dgeev and the propagation resolve only as rounding-level values near log ε (below −20).
void expect_spectrum(const SpectrumResult& r, const std::vector<double>& exact, double t) {
  test::expect_exact_spectrum(r.exponents, exact, t);
}

TEST_P(PropagatorExact, SpectrumWhereTheTangentMapIsConstant) {
  const auto [kind, backend, batch] = GetParam();
  if (is_network(kind)) {
    // Below onset, no bias and no input: h decays like e^{−(1−g)t}, far below 1e-8 after the
    // warm-up.
    // Smaller on the emulated device, whose batched QR runs a warp shuffle per (column, column).
    const int n = test::size_for(backend, 40, 20);
    const double g = kind == Kind::rate_euler ? 0.7 : 0.5;
    const Members m = make_members(kind, batch, n, g, 0.0, 7, /*bias=*/false);
    SpectrumOptions o;
    o.backend = backend;
    o.model = test::model_of(kind);
    o.integrator = m.dyn.integrator;
    o.dt = m.dyn.dt;
    o.n = n;
    o.k = n;
    o.g = g;
    o.seed = 7;
    const bool rate = kind != Kind::map;
    o.t_warmup = rate ? 100 : 200;
    o.t_ons_warmup = rate ? 100 : 200;
    o.t_sim = rate ? 500 : 1000;
    const detail::LoopSetup setup = test::network_setup(o, batch, n, n, 100, 200);
    auto p = m.propagator(where(), n);
    const std::vector<SpectrumResult> r = detail::run_benettin(*p, setup, {}, {});
    ASSERT_EQ(r.size(), static_cast<std::size_t>(batch));
    for (int b = 0; b < batch; ++b) {
      SCOPED_TRACE("member " + std::to_string(b));
      expect_spectrum(r[b], exact_network_spectrum(kind, m.nets[b], setup.schedule.step_time),
                      setup.schedule.averaged_time());
    }
    if (batch > 1) {
      EXPECT_NE(r[0].exponents[0], r[1].exponents[0]) << "members are other networks";
    }
    return;
  }
  // Zero inputs, zero biases: the state stays at 0 and the tangent map is constant.
  const int n = 20, steps = test::size_for(backend, 1200, 600);  // shorter on the emulated device
  const Members m = make_members(kind, batch, n, 0.6, 0.0, 11, /*bias=*/false, steps,
                                 /*zero_inputs=*/true);
  std::vector<double> exact;
  for (const auto& mu : test::eigenvalues(test::layer_block_at_zero(m.cell, 0, m.h_only), m.rows))
    exact.push_back(std::log(std::abs(mu)));
  exact = test::sorted_desc(exact);
  SpectrumOptions o;
  o.backend = backend;
  o.model = m.cell.type;
  o.n = n;
  o.k = m.rows;
  o.lstm_h_only = m.h_only;
  o.t_warmup = 10;
  o.t_ons_warmup = 100;
  o.t_sim = 0;  // the rest: 1090 steps
  const Schedule sched = cell_schedule(o, steps);
  const std::vector<SpectrumResult> r =
      detail::run_sequences(o, sched, m.cell, m.inputs, 0, batch, where(), {});
  ASSERT_EQ(r.size(), static_cast<std::size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    SCOPED_TRACE("member " + std::to_string(b));
    EXPECT_EQ(r[b].sequence, b);
    EXPECT_EQ(r[b].backend, std::string(to_string(backend)));
    expect_spectrum(r[b], exact, sched.averaged_time());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorExact, testing::ValuesIn(all_cases({1, 3})), case_name);

// --- the sum rule, step by step
// -------------------------------------------------------------------

using PropagatorSumRule = PropagatorTest;

// log|det a| and ‖a‖_F ‖a⁻¹‖_F of an n×n column-major matrix, by Gauss–Jordan elimination with
// partial pivoting in long double (independent of LAPACK and of the propagation).
std::pair<double, double> log_det_and_condition(const std::vector<double>& a, int n) {
  const std::size_t nn = static_cast<std::size_t>(n);
  std::vector<long double> m(nn * 2 * nn, 0.0L);  // row-major [a | I]
  long double norm_a = 0;
  for (std::size_t r = 0; r < nn; ++r) {
    for (std::size_t c = 0; c < nn; ++c) {
      m[r * 2 * nn + c] = a[c * nn + r];
      norm_a += m[r * 2 * nn + c] * m[r * 2 * nn + c];
    }
    m[r * 2 * nn + nn + r] = 1;
  }
  long double log_det = 0;
  for (std::size_t c = 0; c < nn; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < nn; ++r)
      if (std::fabs(m[r * 2 * nn + c]) > std::fabs(m[piv * 2 * nn + c])) piv = r;
    if (piv != c)
      for (std::size_t j = 0; j < 2 * nn; ++j) std::swap(m[c * 2 * nn + j], m[piv * 2 * nn + j]);
    const long double p = m[c * 2 * nn + c];
    log_det += std::log(std::fabs(p));
    for (std::size_t j = 0; j < 2 * nn; ++j) m[c * 2 * nn + j] /= p;
    for (std::size_t r = 0; r < nn; ++r) {
      if (r == c) continue;
      const long double f = m[r * 2 * nn + c];
      if (f == 0) continue;
      for (std::size_t j = 0; j < 2 * nn; ++j) m[r * 2 * nn + j] -= f * m[c * 2 * nn + j];
    }
  }
  long double norm_inv = 0;
  for (std::size_t r = 0; r < nn; ++r)
    for (std::size_t c = nn; c < 2 * nn; ++c) norm_inv += m[r * 2 * nn + c] * m[r * 2 * nn + c];
  return {static_cast<double>(log_det), static_cast<double>(std::sqrt(norm_a * norm_inv))};
}

// With k = N and a re-orthonormalisation after every step, each step's Σ_i log|R_ii| is
// log|det(D_t Q_t)| = log|det D_t| (Q_t orthonormal). Rounding: the QR is backward stable,
// D_t Q_t + δ with ‖δ‖_F ≤ c N u ‖D_t‖_F, which moves log|det| by at most ‖D_t⁻¹‖_F ‖δ‖_F; we
// allow 4 N² u κ_F(D_t) per step (c N ≤ 4 N² with a wide margin), summed over the steps. A wrong
// tangent map is off by O(1) per step.
TEST_P(PropagatorSumRule, LogSumsEqualLogDeterminantsStepByStep) {
  const auto [kind, backend, batch] = GetParam();
  const int n = 30, steps = kind == Kind::map ? 60 : 150;
  const double u = std::numeric_limits<double>::epsilon() / 2;
  const Members m = make_members(kind, batch, n, kind == Kind::map ? 2.0 : 3.0, 0.2, 21);
  auto p = m.propagator(where(), n);
  p->set_state(test::gaussian_values(static_cast<std::size_t>(batch) * n, 1, 8));
  p->set_basis(test::gaussian_values(static_cast<std::size_t>(batch) * n * n, 1, 9));
  p->reorthonormalize(false);
  p->advance_state(0, 50);
  ASSERT_EQ(p->take_log_sums_blocking(),
            std::vector<double>(static_cast<std::size_t>(batch) * n, 0.0))
      << "reorthonormalize(false) accumulates nothing";
  std::vector<double> want(batch, 0.0), tol(batch, 0.0), got(batch, 0.0);
  const double dt = m.dyn.dt;
  for (int s = 0; s < steps; ++s) {
    const std::vector<double> h = p->state_blocking();
    for (int b = 0; b < batch; ++b) {
      const Network& net = m.nets[b];
      std::vector<double> d(static_cast<std::size_t>(n) * n);
      for (int c = 0; c < n; ++c) {
        // φ'(h) = 1 − tanh²h, in long double (independent of the library's formula)
        const long double th =
            std::tanh(static_cast<long double>(h[static_cast<std::size_t>(b) * n + c]));
        const double dphi = static_cast<double>(1 - th * th);
        for (int r = 0; r < n; ++r)
          d[static_cast<std::size_t>(c) * n + r] =
              (kind == Kind::map ? 1.0 : dt) * net(r, c) * dphi;
        if (kind != Kind::map) d[static_cast<std::size_t>(c) * n + c] += 1 - dt;
      }
      const auto [log_det, kappa] = log_det_and_condition(d, n);
      want[b] += log_det;
      tol[b] += 4.0 * n * n * u * kappa;
    }
    p->advance_tangent(50 + s, 1);
    p->reorthonormalize(true);
    const std::vector<double> logs = p->take_log_sums_blocking();
    ASSERT_EQ(logs.size(), static_cast<std::size_t>(batch) * n);
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < n; ++i) got[b] += logs[static_cast<std::size_t>(b) * n + i];
  }
  for (int b = 0; b < batch; ++b) {
    EXPECT_NEAR(got[b], want[b], tol[b]) << "member " << b << " (sum over " << steps << " steps)";
    EXPECT_LT(tol[b], 1e-3 * steps) << "the bound must stay sharp enough to see a wrong map";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorSumRule,
                         testing::ValuesIn(cases({Kind::rate_euler, Kind::map}, {1, 3})),
                         case_name);

// --- a batch equals its members run one by one
// -----------------------------------------------------

using PropagatorBatch = PropagatorTest;

// Each member of a batch does its own arithmetic: on the CPU bit for bit that of a propagator of
// that member alone; on CUDA to rounding (strided-batched products may pick another kernel than a
// single product: u-level differences, amplified over 12 chaotic steps by ≲ e^{12 λ_1 Δt} ≪ 1e3).
// k = 6 < N keeps the QRs well conditioned, so their logs inherit that agreement.
TEST_P(PropagatorBatch, MembersEqualRunsOfOneMember) {
  const auto [kind, backend, batch] = GetParam();
  const bool net = is_network(kind);
  const int n = net ? 40 : 16, k = 6;
  const Members m =
      make_members(kind, batch, n, net ? (kind == Kind::map ? 2.0 : 3.0) : 1.8, 0.3, 17);
  const std::size_t ss = static_cast<std::size_t>(m.state_size);
  const std::size_t rk = static_cast<std::size_t>(m.rows) * k;
  const std::vector<double> h0 = test::gaussian_values(batch * ss, 0.8, 18);
  const std::vector<double> q0 = test::gaussian_values(batch * rk, 1, 19);
  struct Out {
    std::vector<double> state, basis, logs;
  };
  auto run = [&](detail::Propagator& p, std::size_t first, std::size_t count) {
    p.set_state(std::span<const double>(h0).subspan(first * ss, count * ss));
    p.set_basis(std::span<const double>(q0).subspan(first * rk, count * rk));
    p.advance_state(0, 3);
    p.advance_tangent(3, 5);
    p.reorthonormalize(true);
    p.advance_tangent(8, 4);
    p.reorthonormalize(true);
    return Out{p.state_blocking(), p.basis_blocking(), p.take_log_sums_blocking()};
  };
  auto all = m.propagator(where(), k);
  const Out together = run(*all, 0, batch);
  ASSERT_EQ(together.state.size(), batch * ss);
  ASSERT_EQ(together.basis.size(), batch * rk);
  ASSERT_EQ(together.logs.size(), static_cast<std::size_t>(batch) * k);
  for (int b = 0; b < batch; ++b) {
    SCOPED_TRACE("member " + std::to_string(b));
    auto one = m.propagator(where(), b, 1, k);
    const Out alone = run(*one, b, 1);
    const auto slice = [](const std::vector<double>& v, std::size_t from, std::size_t count) {
      return std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(from),
                                 v.begin() + static_cast<std::ptrdiff_t>(from + count));
    };
    const std::vector<double> st = slice(together.state, b * ss, ss),
                              ba = slice(together.basis, b * rk, rk),
                              lg = slice(together.logs, static_cast<std::size_t>(b) * k, k);
    if (backend == BackendKind::cpu) {
      EXPECT_EQ(st, alone.state);
      EXPECT_EQ(ba, alone.basis);
      EXPECT_EQ(lg, alone.logs);
    } else {
      EXPECT_AT_MOST(test::rel_diff(st, alone.state, 0, ss), 1e-12);
      EXPECT_AT_MOST(test::rel_diff(ba, alone.basis, 0, rk), 1e-12);
      for (int i = 0; i < k; ++i)
        EXPECT_NEAR(lg[i], alone.logs[i], 1e-12 * std::max(1.0, std::fabs(alone.logs[i])));
    }
  }
  // The members are other networks (or sequences) with other noise: a batch that ran member 0
  // three times would fail here.
  EXPECT_NE(together.state[0], together.state[ss]);
  EXPECT_NE(together.logs[0], together.logs[k]);
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorBatch, testing::ValuesIn(all_cases({3})), case_name);

// --- bad calls
// --------------------------------------------------------------------------------------

using PropagatorBadCalls = PropagatorTest;

TEST_P(PropagatorBadCalls, WrongSizesAndStepsThrow) {
  const auto [kind, backend, batch] = GetParam();
  const int n = 10, steps = 20, k = 4;
  const Members m = make_members(kind, batch, n, 1.5, 0.1, 3, true, steps);
  const std::size_t states = static_cast<std::size_t>(batch) * m.state_size;
  const std::size_t basis = static_cast<std::size_t>(batch) * m.rows * k;
  auto p = m.propagator(where(), k);
  EXPECT_THROW(p->set_state(std::vector<double>(states - 1)), InvalidInput);
  EXPECT_THROW(p->set_state(std::vector<double>(states + 1)), InvalidInput);
  EXPECT_THROW(p->set_basis(std::vector<double>(basis - 1)), InvalidInput);
  EXPECT_THROW(p->set_basis(std::vector<double>(basis + m.rows)), InvalidInput);
  if (batch > 1) {
    EXPECT_THROW(p->set_state(std::vector<double>(m.state_size)), InvalidInput)
        << "one member's state";
    EXPECT_THROW(p->set_basis(std::vector<double>(static_cast<std::size_t>(m.rows) * k)),
                 InvalidInput)
        << "one member's basis";
  }
  EXPECT_THROW(m.propagator(where(), 0), InvalidInput) << "k = 0";
  EXPECT_THROW(m.propagator(where(), m.rows + 1), InvalidInput) << "k > rows";
  if (is_network(kind)) {
    std::vector<const Network*> nets;
    for (const Network& net : m.nets) nets.push_back(&net);
    EXPECT_THROW(detail::make_network_propagator(where(), nets, m.dyn, {}, k), InvalidInput)
        << "no keys";
    EXPECT_THROW(detail::make_network_propagator(where(), {}, m.dyn, {}, k), InvalidInput)
        << "no networks";
    const Network other = gaussian_network(n + 1, 1.0, 9);
    nets.push_back(&other);
    std::vector<std::uint64_t> keys = m.keys;
    keys.push_back(1);
    EXPECT_THROW(detail::make_network_propagator(where(), nets, m.dyn, keys, k), InvalidInput)
        << "networks of different sizes";
  } else {
    // Steps outside the input sequence.
    EXPECT_THROW(p->advance_state(steps, 1), Error);
    EXPECT_THROW(p->advance_state(-1, 1), Error);
    EXPECT_THROW(p->advance_tangent(steps - 2, 5), Error);
    EXPECT_THROW(m.propagator(where(), 1, batch, k), InvalidInput) << "sequences beyond the batch";
    InputSequences wrong = m.inputs;
    wrong.input_size = 2;  // the cell has 3 inputs
    wrong.steps = static_cast<int>(wrong.data.size()) / (batch * 2);
    EXPECT_THROW(detail::make_cell_propagator(where(), m.cell, wrong, 0, batch, k, m.h_only),
                 InvalidInput);
  }
  // Still usable after the rejected calls; the whole input sequence is fine.
  auto q = m.propagator(where(), k);
  q->set_state(std::vector<double>(states, 0.1));
  q->set_basis(test::gaussian_values(basis, 1, 1));
  q->advance_tangent(0, steps);
  q->reorthonormalize(true);
  for (double v : q->take_log_sums_blocking()) EXPECT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(Models, PropagatorBadCalls, testing::ValuesIn(all_cases({1, 3})),
                         case_name);

// --- runs that do not fit, placement -----------------------------------------------------------

class PropagatorPlacement : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

// J alone of N = 200000 is 298 GiB: the memory check must refuse the run, naming MiB, before
// anything is allocated (the weights are never read: J here is empty).
TEST_P(PropagatorPlacement, RunsThatDoNotFitAreInvalidInputNamingMiB) {
  const detail::Placement where{GetParam(), 0, Precision::fp64, QrMethod::householder};
  const bool gpu = GetParam() == BackendKind::cuda;
  auto expect_refused = [&](auto&& make, const char* what) {
    try {
      make();
      ADD_FAILURE() << what << ": a run that cannot fit was accepted";
    } catch (const BackendUnavailable& e) {
      ADD_FAILURE() << what << ": " << e.what();
    } catch (const DoesNotFit& e) {  // an InvalidInput: exit 2; trained batches are halved on it
      const std::string msg = e.what();
      EXPECT_NE(msg.find("MiB"), std::string::npos) << what << ": " << msg;
      if (gpu) {
        EXPECT_NE(msg.find("GPU memory"), std::string::npos) << what << ": " << msg;
        EXPECT_NE(msg.find(cuda_devices()[0].name), std::string::npos) << what << ": " << msg;
      }
    }
  };
  Network big;
  big.n = 200000;
  for (int batch : {1, 3}) {
    const std::vector<const Network*> nets(static_cast<std::size_t>(batch), &big);
    const std::vector<std::uint64_t> keys(static_cast<std::size_t>(batch), 1);
    expect_refused([&] { detail::make_network_propagator(where, nets, {}, keys, big.n); },
                   "network, k = N = 200000");
  }
  // A cell whose input drive (G·N values per step and sequence) alone is 1 TB.
  CellNetwork cell;
  cell.type = Model::lstm;
  cell.hidden = 16;
  cell.input_size = 0;
  cell.layer(0).w_hh.assign(64 * 16, 0.01);
  InputSequences x;
  x.batch = 1;
  x.steps = 2'000'000'000;
  x.input_size = 0;
  expect_refused([&] { detail::make_cell_propagator(where, cell, x, 0, 1, 4, false); },
                 "cell, 2e9 steps");
}

TEST_P(PropagatorPlacement, NameAndDeviceDescribeTheExecutor) {
  const Network net = gaussian_network(8, 1.0, 1);
  auto p = detail::make_network_propagator({GetParam(), 0, Precision::fp64, QrMethod::householder},
                                           {&net}, {}, {1}, 2);
  EXPECT_EQ(p->name(), std::string(to_string(GetParam())));
  EXPECT_FALSE(p->device().empty());
  if (GetParam() == BackendKind::cuda) {
    EXPECT_EQ(p->device(), cuda_devices()[0].name);
    // `auto` means a real GPU; the test-only emulated device is never chosen.
    EXPECT_EQ(detail::placement_is_cuda({BackendKind::auto_select, 0}), !test::cuda_emulated());
    const int count = static_cast<int>(cuda_devices().size());
    EXPECT_THROW(
        detail::make_network_propagator({BackendKind::cuda, count + 7}, {&net}, {}, {1}, 2),
        BackendUnavailable);
    EXPECT_THROW(detail::make_cuda_executor<double>(count + 7), BackendUnavailable);
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(PropagatorPlacement);

// Without a device: CUDA is unavailable, and `auto` runs on the CPU.
TEST(PropagatorWithoutCuda, CudaIsUnavailableAndAutoIsTheCpu) {
  if (test::have_cuda()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_THROW(detail::make_cuda_executor<double>(0), BackendUnavailable);
  EXPECT_THROW(detail::make_cuda_executor<float>(0), BackendUnavailable);
  const Network net = gaussian_network(8, 1.0, 1);
  EXPECT_THROW(detail::make_network_propagator({BackendKind::cuda}, {&net}, {}, {1}, 2),
               BackendUnavailable);
  const CellNetwork cell = test::random_cell(Model::gru, 6, 2, 1.0, 3);
  const InputSequences x = test::random_inputs(1, 10, 2, 4);
  EXPECT_THROW(detail::make_cell_propagator({BackendKind::cuda}, cell, x, 0, 1, 3, false),
               BackendUnavailable);
  EXPECT_FALSE(detail::placement_is_cuda({BackendKind::auto_select}));
  EXPECT_EQ(detail::make_network_propagator({BackendKind::auto_select}, {&net}, {}, {1}, 2)->name(),
            "cpu");
}

}  // namespace
}  // namespace rnnlyap
