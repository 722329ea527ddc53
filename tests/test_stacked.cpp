// Stacked trained layers, the relu RNN and the random networks' bias, against independent truth
// (docs/trained.md):
// - the tangent map of 2- and 3-layer rnn (tanh, relu), gru, lstm and h-only lstm against central
//   finite differences of the reference cell_step, Q' against (f(s + εq) − f(s − εq)) / 2ε, and
//   the state step against cell_step, on every backend;
// - PyTorch's nn.RNN/GRU/LSTM(num_layers=L): one step and torch.autograd's Jacobian (when
//   /usr/bin/python3 has torch), including relu′(0) = 0;
// - exact spectra: at the zero fixed point a stack's Jacobian is block lower-triangular, so its
//   spectrum is the union of its layers'; a relu RNN at a fixed point with units switched off
//   (their −∞ exponents kept, not refused); map and rate (Euler, RK4) with --bias-std at their
//   nonzero fixed point;
// - reading stacked state_dicts, the command line (options table, params) and the example of
//   docs/trained.md.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "backends.hpp"
#include "cell_test_util.hpp"
#include "compare.hpp"
#include "core/elementwise.hpp"
#include "core/loop.hpp"
#include "core/models/cell_reference.hpp"
#include "core/propagator.hpp"
#include "exact_spectrum.hpp"
#include "linalg_truth.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "require_torch.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

detail::Placement placement(BackendKind backend) {
  return {backend, 0, Precision::fp64, QrMethod::householder};
}

std::vector<double> normals(std::size_t count, double scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> v(count);
  for (double& x : v) x = scale * n01(rng);
  return v;
}

// One propagator step from `state` with input x: the new state and D·Q (Q: dim × k).
struct OneStep {
  std::vector<double> state, basis;
};
OneStep one_step(const CellNetwork& net, const std::vector<double>& state,
                 const std::vector<double>& x, const std::vector<double>& q, int k, bool h_only,
                 BackendKind backend) {
  InputSequences one;
  one.batch = 1;
  one.steps = 1;
  one.input_size = net.input_size;
  one.data = x;
  auto p = detail::make_cell_propagator(placement(backend), net, one, 0, 1, k, h_only);
  p->set_state(state);
  p->set_basis(q);
  p->advance_tangent(0, 1);
  return {p->state_blocking(), p->basis_blocking()};
}

// The state index of tangent row r (layer blocks of d rows; the h-only LSTM's rows are each
// layer's h, its c held fixed).
int state_index(const CellNetwork& net, bool h_only, int r) {
  const int d = net.layer_tangent_rows(h_only);
  return (r / d) * net.layer_state_size() + r % d;
}

struct CellCase {
  Model type;
  Nonlinearity f;
  bool h_only;
  int layers;
  std::string name() const {
    return std::string(to_string(type)) + (f == Nonlinearity::relu ? "-relu" : "") +
           (h_only ? "-h-only" : "") + " L=" + std::to_string(layers);
  }
};

const CellCase kCases[] = {
    {Model::rnn, Nonlinearity::tanh, false, 2},  {Model::rnn, Nonlinearity::tanh, false, 3},
    {Model::rnn, Nonlinearity::relu, false, 3},  {Model::gru, Nonlinearity::tanh, false, 2},
    {Model::gru, Nonlinearity::tanh, false, 3},  {Model::lstm, Nonlinearity::tanh, false, 2},
    {Model::lstm, Nonlinearity::tanh, false, 3}, {Model::lstm, Nonlinearity::tanh, true, 3},
};

class Stacked : public testing::TestWithParam<BackendKind> {};

// Q' = D Q against central differences of cell_step along each column of a random Q, and the
// state step against cell_step. ε = 1e-6: truncation ~ε², rounding ~1e-16/ε; a missing or wrong
// input term is O(0.1).
TEST_P(Stacked, TangentMapMatchesFiniteDifferencesOfTheReferenceStep) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  std::uint64_t seed = 40;
  for (const CellCase& c : kCases) {
    SCOPED_TRACE(c.name());
    CellNetwork net = test::random_stacked_cell(c.type, c.layers, 7, 3, 1.6, ++seed);
    net.nonlinearity = c.f;
    const int dim = net.tangent_rows(c.h_only), k = dim - 2;
    const std::vector<double> state =
        normals(static_cast<std::size_t>(net.state_size()), 0.6, seed + 100);
    const std::vector<double> x = normals(3, 1.0, seed + 200);
    const std::vector<double> q =
        normals(static_cast<std::size_t>(dim) * static_cast<std::size_t>(k), 1.0, seed + 300);
    const OneStep got = one_step(net, state, x, q, k, c.h_only, GetParam());
    const std::vector<double> next = detail::cell_step(net, state, x);
    ASSERT_EQ(got.state.size(), next.size());
    for (std::size_t i = 0; i < next.size(); ++i)
      EXPECT_NEAR(got.state[i], next[i], 1e-13) << "state " << i;
    const double eps = 1e-6;
    double worst = 0;
    for (int j = 0; j < k; ++j) {
      std::vector<double> plus = state, minus = state;
      for (int r = 0; r < dim; ++r) {
        const double v = q[static_cast<std::size_t>(j) * dim + r];
        plus[state_index(net, c.h_only, r)] += eps * v;
        minus[state_index(net, c.h_only, r)] -= eps * v;
      }
      const std::vector<double> fp = detail::cell_step(net, plus, x),
                                fm = detail::cell_step(net, minus, x);
      for (int r = 0; r < dim; ++r) {
        const int s = state_index(net, c.h_only, r);
        const double fd = (fp[s] - fm[s]) / (2 * eps);
        const double err = std::fabs(got.basis[static_cast<std::size_t>(j) * dim + r] - fd);
        worst = test::nan_max(worst, err);
        ASSERT_LT(err, 1e-7 * std::max(1.0, std::fabs(fd))) << "row " << r << ", column " << j;
      }
    }
    std::printf("[ info ] %s: worst |DQ - finite difference| = %.2e\n", c.name().c_str(), worst);
  }
}

// As test_propagator.cpp: 4 standard errors + 10/T; exact values below −20 (−∞: the full LSTM's
// blocks at 0 have rank N) only need to be below −20.
void expect_spectrum(const SpectrumResult& r, const std::vector<double>& exact, double t) {
  test::expect_exact_spectrum(r.exponents, exact, t);
}

std::vector<double> log_abs_eigenvalues(const std::vector<double>& a, int n) {
  std::vector<double> out;
  for (const std::complex<double>& mu : test::eigenvalues(a, n))
    out.push_back(std::log(std::abs(mu)));
  return out;
}

// Zero inputs and biases keep every layer at h = 0; the Jacobian is then constant and block
// lower-triangular (layer l's block row: W_ih_l on layer l − 1, its own block on the diagonal), so
// the spectrum is the union of the diagonal blocks' log|eigenvalues|. The layers' gains differ, so
// their spectra interleave: a block applied to the wrong rows, or the layers' order, fails.
TEST_P(Stacked, ZeroFixedPointSpectrumIsTheUnionOfTheLayers) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const int n = 8, steps = 1200;
  for (const CellCase& c : kCases) {
    if (c.f == Nonlinearity::relu) continue;  // relu: below
    SCOPED_TRACE(c.name());
    CellNetwork net = test::random_stacked_cell(c.type, c.layers, n, 2, 0.6, 90, false);
    for (int l = 1; l < c.layers; ++l)
      for (double& w : net.layer(l).w_hh) w *= 1 + 0.5 * l;
    InputSequences x = test::random_inputs(1, steps, 2, 3);
    std::fill(x.data.begin(), x.data.end(), 0.0);
    std::vector<double> exact;
    const int d = net.layer_tangent_rows(c.h_only);
    for (int l = 0; l < c.layers; ++l)
      for (double v : log_abs_eigenvalues(test::layer_block_at_zero(net, l, c.h_only), d))
        exact.push_back(v);
    SpectrumOptions o;
    o.backend = GetParam();
    o.model = c.type;
    o.n = n;
    o.k = net.tangent_rows(c.h_only);
    o.lstm_h_only = c.h_only;
    o.t_warmup = 10;
    o.t_ons_warmup = 100;
    o.t_sim = 0;
    const Schedule sched = cell_schedule(o, steps);
    const std::vector<SpectrumResult> r =
        detail::run_sequences(o, sched, net, x, 0, 1, placement(GetParam()), {});
    expect_spectrum(r.front(), exact, sched.averaged_time());
  }
}

// A relu RNN driven by a constant input settles at a fixed point h*: units 0 … 6 on (pre-activation
// > 0, h* > 0), units 7 … 9 off (pre-activation < 0, h* = 0). Its Jacobian diag(relu′(a*)) W_hh has
// the rows of the off units zero: 3 exponents are −∞ (exact, kept, not refused as an overflow) and
// the others are log|eig| of the on units' block of W_hh. The off units are the last rows, so the
// tangent vectors' zero rows reach Householder's QR as exact zeros and R_ii = 0 exactly.
TEST_P(Stacked, ReluFixedPointWithUnitsOffKeepsMinusInfinity) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const int n = 10, on = 7, steps = 800;
  CellNetwork net = test::random_cell(Model::rnn, n, 1, 0.4, 12);
  net.nonlinearity = Nonlinearity::relu;
  for (int i = 0; i < n; ++i) {
    net.layer(0).b_ih[static_cast<std::size_t>(i)] = i < on ? 1.0 : -3.0;
    net.layer(0).b_hh[static_cast<std::size_t>(i)] = 0.0;
  }
  InputSequences x = test::random_inputs(1, steps, 1, 4);
  std::fill(x.data.begin(), x.data.end(), 0.0);
  // The fixed point, by iteration of the reference step, and the design's margins.
  std::vector<double> h(n, 0.0);
  const std::vector<double> zero(1, 0.0);
  for (int t = 0; t < 500; ++t) h = detail::cell_step(net, h, zero);
  const std::vector<double> again = detail::cell_step(net, h, zero);
  for (int i = 0; i < n; ++i) {
    ASSERT_NEAR(again[i], h[i], 1e-14);
    double a = net.layer(0).b_ih[i];
    for (int j = 0; j < n; ++j) a += net.layer(0).w_hh[static_cast<std::size_t>(i) * n + j] * h[j];
    if (i < on) {
      ASSERT_GT(a, 0.2) << "unit " << i << " is on";
    } else {
      ASSERT_LT(a, -0.2) << "unit " << i << " is off";
    }
  }
  std::vector<double> block(static_cast<std::size_t>(on) * on);
  for (int r = 0; r < on; ++r)
    for (int c = 0; c < on; ++c)
      block[static_cast<std::size_t>(c) * on + r] =
          net.layer(0).w_hh[static_cast<std::size_t>(r) * n + c];
  std::vector<double> exact = log_abs_eigenvalues(block, on);
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::rnn;
  o.nonlinearity = Nonlinearity::relu;
  o.t_warmup = 100;
  o.t_ons_warmup = 100;
  o.t_sim = 0;
  const EnsembleResult e = compute_trained_spectra(o, net, x);  // no throw: −∞ is an answer
  const SpectrumResult& r = e.members.front();
  ASSERT_EQ(r.exponents.size(), static_cast<std::size_t>(n));
  std::vector<double> finite;
  int minus_inf = 0;
  for (double v : r.exponents) {
    if (GetParam() == BackendKind::cpu ? v == kMinusInf : v < -30) {
      ++minus_inf;
    } else {
      finite.push_back(v);
    }
  }
  EXPECT_EQ(minus_inf, n - on) << "the off units' exponents";
  ASSERT_EQ(finite.size(), static_cast<std::size_t>(on));
  exact = test::sorted_desc(exact);
  finite = test::sorted_desc(finite);
  for (int i = 0; i < on; ++i) EXPECT_NEAR(finite[i], exact[i], 10.0 / r.schedule.averaged_time());
  EXPECT_EQ(r.options.nonlinearity, Nonlinearity::relu);
  EXPECT_TRUE(std::isfinite(r.summary.max_exponent));
  EXPECT_FALSE(std::isnan(r.summary.mean_exponent));
  EXPECT_TRUE(std::isfinite(r.summary.ky_dimension));
  EXPECT_TRUE(std::isfinite(r.summary.ks_entropy));
  // tanh in its place: a finite spectrum (tanh′ > 0), so relu was applied.
  net.nonlinearity = Nonlinearity::tanh;
  o.nonlinearity = Nonlinearity::tanh;
  const EnsembleResult tanh_run = compute_trained_spectra(o, net, x);
  for (double v : tanh_run.members.front().exponents) EXPECT_GT(v, -30.0);
}

// A stacked relu RNN with every unit on at its fixed point: the block lower-triangular Jacobian's
// diagonal blocks are the layers' W_hh, so the spectrum is the union of log|eig(W_hh_l)|.
TEST_P(Stacked, ReluStackWithEveryUnitOnIsTheUnionOfItsLayers) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const int n = 8, layers = 2, steps = 1000;
  CellNetwork net = test::random_stacked_cell(Model::rnn, layers, n, 1, 0.35, 21);
  net.nonlinearity = Nonlinearity::relu;
  for (int l = 0; l < layers; ++l) {
    std::vector<double>& bih = l == 0 ? net.layer(0).b_ih : net.layer(1).b_ih;
    std::vector<double>& bhh = l == 0 ? net.layer(0).b_hh : net.layer(1).b_hh;
    std::fill(bih.begin(), bih.end(), l == 0 ? 1.5 : 4.0);
    std::fill(bhh.begin(), bhh.end(), 0.0);
  }
  for (double& w : net.layer(1).w_hh) w *= 2.0;  // the layers' spectra interleave
  InputSequences x = test::random_inputs(1, steps, 1, 4);
  std::fill(x.data.begin(), x.data.end(), 0.0);
  std::vector<double> s(static_cast<std::size_t>(net.state_size()), 0.0);
  const std::vector<double> zero(1, 0.0);
  for (int t = 0; t < 1000; ++t) s = detail::cell_step(net, s, zero);
  for (double v : s) ASSERT_GT(v, 0.2) << "every unit is on";
  std::vector<double> exact;
  for (int l = 0; l < layers; ++l) {
    std::vector<double> w(static_cast<std::size_t>(n) * n);
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c)
        w[static_cast<std::size_t>(c) * n + r] =
            net.layer(l).w_hh[static_cast<std::size_t>(r) * n + c];
    for (double v : log_abs_eigenvalues(w, n)) exact.push_back(v);
  }
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::rnn;
  o.nonlinearity = Nonlinearity::relu;
  o.t_warmup = 200;
  o.t_ons_warmup = 100;
  o.t_sim = 0;
  const EnsembleResult e = compute_trained_spectra(o, net, x);
  expect_spectrum(e.members.front(), exact, e.members.front().schedule.averaged_time());
}

// The random networks' bias: b_i ~ N(0, S²) (--bias-std) moves the fixed point below onset from 0
// to h* = J φ(h*) + b, and the spectrum is that of the constant tangent map there, with
// A = J diag(φ'(h*)): map log|eig A|, rate/Euler log|1 − dt + dt μ| / dt with μ the eigenvalues of
// A, rate/RK4 log|P(dt(μ − 1))| / dt (test_exact_below_onset.cpp). h* comes from iterating the
// map in the test; the bias is large enough that the spectrum without it is far outside the
// tolerance.
TEST_P(Stacked, BiasBelowOnsetIsExactAtTheNonzeroFixedPoint) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  struct Case {
    Model model;
    Integrator integrator;
  };
  for (const Case c : {Case{Model::map, Integrator::euler}, Case{Model::rate, Integrator::euler},
                       Case{Model::rate, Integrator::rk4}}) {
    SCOPED_TRACE(std::string(to_string(c.model)) + " " + std::string(to_string(c.integrator)));
    SpectrumOptions o;
    o.backend = GetParam();
    o.model = c.model;
    o.integrator = c.integrator;
    o.n = 40;
    o.g = 0.4;
    o.bias_std = 0.8;
    o.seed = 5;
    o.dt = 0.2;
    o.t_warmup = c.model == Model::map ? 200 : 150;
    o.t_ons_warmup = c.model == Model::map ? 200 : 100;
    o.t_sim = c.model == Model::map ? 1000 : 500;
    const Network net = make_network(o);
    const int n = net.n;
    ASSERT_EQ(net.bias.size(), static_cast<std::size_t>(n));
    double bias_ss = 0;
    for (double b : net.bias) bias_ss += b * b;
    EXPECT_NEAR(std::sqrt(bias_ss / n), 0.8, 0.3) << "b ~ N(0, 0.8²)";
    std::vector<double> h(n, 0.0);
    for (int t = 0; t < 3000; ++t) {
      std::vector<double> next = net.bias;
      for (int col = 0; col < n; ++col)
        for (int r = 0; r < n; ++r) next[r] += net(r, col) * std::tanh(h[col]);
      h = next;
    }
    auto spectrum_at = [&](const std::vector<double>& point) {
      std::vector<double> a(static_cast<std::size_t>(n) * n);
      for (int col = 0; col < n; ++col)
        for (int r = 0; r < n; ++r)
          a[static_cast<std::size_t>(col) * n + r] = net(r, col) * detail::dphi(point[col]);
      std::vector<double> lam;
      const double dt = o.step_time();
      for (const std::complex<double>& mu : test::eigenvalues(a, n)) {
        if (c.model == Model::map) {
          lam.push_back(std::log(std::abs(mu)));
        } else if (c.integrator == Integrator::euler) {
          lam.push_back(std::log(std::abs(1.0 - dt + dt * mu)) / dt);
        } else {
          const std::complex<double> z = dt * (mu - 1.0);
          const std::complex<double> p =
              1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
          lam.push_back(std::log(std::abs(p)) / dt);
        }
      }
      return test::sorted_desc(lam);
    };
    const std::vector<double> exact = spectrum_at(h);
    const SpectrumResult r = compute_spectrum(o);
    EXPECT_EQ(r.options.bias_std, 0.8);
    const double t = r.schedule.averaged_time();
    expect_spectrum(r, exact, t);
    // Without the bias (h = 0) the exponents would be those of J: the test can tell them apart.
    const std::vector<double> unbiased = spectrum_at(std::vector<double>(n, 0.0));
    const double far = test::max_abs_diff(unbiased, exact);
    EXPECT_GT(far, 5 * (10.0 / t)) << "the bias must matter";
    std::printf("[ info ] bias moves the exact exponents by up to %.3f (tolerance ~%.3f)\n", far,
                10.0 / t);
  }
}

// Sequences of a stack in lockstep (the GPU's path) equal separate runs, bit for bit on the CPU.
TEST_P(Stacked, LockstepSequencesEqualSeparateRuns) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const CellNetwork net = test::random_stacked_cell(Model::lstm, 2, 6, 3, 1.8, 8);
  const InputSequences x = test::random_inputs(3, 200, 3, 9);
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::lstm;
  o.n = net.hidden;
  o.t_warmup = 20;
  o.t_ons_warmup = 30;
  o.t_ons = 2;
  o.t_sim = 0;
  o.k = 17;
  const Schedule sched = cell_schedule(o, x.steps);
  const std::vector<SpectrumResult> batch =
      detail::run_sequences(o, sched, net, x, 0, 3, placement(GetParam()), {});
  for (int b = 0; b < 3; ++b) {
    const SpectrumResult one =
        detail::run_sequences(o, sched, net, x, b, 1, placement(GetParam()), {}).front();
    ASSERT_EQ(batch[b].exponents.size(), 17u);
    for (int i = 0; i < 17; ++i) {
      if (GetParam() == BackendKind::cpu)
        ASSERT_EQ(batch[b].exponents[i], one.exponents[i]) << b << ", " << i;
      else
        ASSERT_NEAR(batch[b].exponents[i], one.exponents[i], 1e-10) << b << ", " << i;
    }
  }
  EXPECT_NE(batch[0].exponents[0], batch[1].exponents[0]);
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Stacked);

// PyTorch's stacked modules: one step of nn.RNN (tanh, 3 layers; relu, 2 layers), nn.GRU (2) and
// nn.LSTM (3) in float64, and torch.autograd.functional.jacobian of it with respect to the
// state (every layer's h, or h and c, layer 0 first). The relu network has a unit whose
// pre-activation is exactly 0 with a nonzero weight: PyTorch's relu′(0) is 0.
TEST(StackedTorch, MatchesPyTorchModulesAndAutograd) {
  RNNLYAP_REQUIRE_TORCH_OR_SKIP();
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  const std::string script = R"PY(
import sys, numpy as np, torch
torch.manual_seed(5); torch.set_default_dtype(torch.float64)
out = sys.argv[1]
N, I = 6, 3
for name, cls, kw, L in [("rnn", torch.nn.RNN, {}, 3),
                         ("rnn_relu", torch.nn.RNN, {"nonlinearity": "relu"}, 2),
                         ("gru", torch.nn.GRU, {}, 2), ("lstm", torch.nn.LSTM, {}, 3)]:
    m = cls(input_size=I, hidden_size=N, num_layers=L, **kw)
    with torch.no_grad():
        for p in m.parameters(): p.mul_(2.0)
    x = torch.randn(I); h0 = 0.5 * torch.randn(L, N); c0 = 0.5 * torch.randn(L, N)
    if name == "rnn_relu":
        with torch.no_grad():  # unit 1 of layer 0: pre-activation 0.7 * h0[0, 0] = 0 exactly
            m.weight_ih_l0[1].zero_(); m.weight_hh_l0[1].zero_(); m.weight_hh_l0[1, 0] = 0.7
            m.bias_ih_l0[1] = 0.0; m.bias_hh_l0[1] = 0.0
        h0[0, 0] = 0.0
    lstm = name == "lstm"
    def f(s):
        if lstm:
            st = s.view(L, 2, N)
            _, (h1, c1) = m(x.view(1, 1, I), (st[:, 0].reshape(L, 1, N).contiguous(),
                                               st[:, 1].reshape(L, 1, N).contiguous()))
            return torch.stack([h1[:, 0], c1[:, 0]], 1).reshape(-1)
        _, h1 = m(x.view(1, 1, I), s.view(L, 1, N))
        return h1.reshape(-1)
    s0 = torch.stack([h0, c0], 1).reshape(-1) if lstm else h0.reshape(-1)
    sd = {"model." + k: v.detach().numpy() for k, v in m.state_dict().items()}
    sd.update({"x": x.numpy(), "state": s0.numpy(), "next": f(s0).detach().numpy(),
               "jacobian": torch.autograd.functional.jacobian(f, s0).numpy()})
    np.savez(f"{out}/{name}.npz", **sd)
)PY";
  std::ofstream(dir / "gen.py") << script;
  const test::CliRun gen =
      test::run_program("/usr/bin/python3", {(dir / "gen.py").string(), dir.string()});
  ASSERT_EQ(gen.status, 0) << gen.err;
  struct Case {
    const char* file;
    Model type;
    Nonlinearity f;
    int layers;
  };
  for (const Case c : {Case{"rnn", Model::rnn, Nonlinearity::tanh, 3},
                       Case{"rnn_relu", Model::rnn, Nonlinearity::relu, 2},
                       Case{"gru", Model::gru, Nonlinearity::tanh, 2},
                       Case{"lstm", Model::lstm, Nonlinearity::tanh, 3}}) {
    SCOPED_TRACE(c.file);
    const auto arrays = read_npz((dir / (std::string(c.file) + ".npz")).string());
    CellNetwork net = cell_from_arrays(c.type, arrays, "torch");
    net.nonlinearity = c.f;
    ASSERT_EQ(net.num_layers(), c.layers);
    const std::vector<double>& x = arrays.at("x").data;
    const std::vector<double>& s = arrays.at("state").data;
    const std::vector<double>& want = arrays.at("next").data;
    const std::vector<double>& jac = arrays.at("jacobian").data;  // jac[i·dim + j] = ∂next_i/∂s_j
    const std::vector<double> next = detail::cell_step(net, s, x);
    ASSERT_EQ(next.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(next[i], want[i], 1e-12) << i;
    for (const bool h_only : {false, true}) {
      if (h_only && c.type != Model::lstm) continue;
      SCOPED_TRACE(h_only ? "h-only" : "full");
      // The h-only map is ∂h'/∂h with every c held fixed: the h rows and columns of the Jacobian.
      const int dim = net.tangent_rows(h_only), full = static_cast<int>(want.size());
      std::vector<double> eye(static_cast<std::size_t>(dim) * dim, 0.0);
      for (int i = 0; i < dim; ++i) eye[static_cast<std::size_t>(i) * dim + i] = 1;
      const OneStep got = one_step(net, s, x, eye, dim, h_only, BackendKind::cpu);
      for (int i = 0; i < dim; ++i)
        for (int j = 0; j < dim; ++j) {
          const int si = state_index(net, h_only, i), sj = state_index(net, h_only, j);
          EXPECT_NEAR(got.basis[static_cast<std::size_t>(j) * dim + i],
                      jac[static_cast<std::size_t>(si) * full + sj], 1e-12)
              << "(" << i << ", " << j << ")";
        }
    }
    if (c.f == Nonlinearity::relu) {
      const std::size_t full = want.size();
      EXPECT_EQ(jac[1 * full + 0], 0.0) << "PyTorch's relu'(0) is 0";
      EXPECT_EQ(next[1], 0.0);
    }
  }
}

// state_dicts of stacked networks: layers l0 … l{L−1}, shapes per layer, biases in every layer or
// none, one module prefix; gaps, wrong shapes and partial biases are refused with one clear line.
TEST(StackedArrays, LayersAreReadAndBadOnesRefused) {
  const CellNetwork c = test::random_stacked_cell(Model::gru, 3, 4, 2, 1.0, 3);
  auto arrays_of = [](const CellNetwork& net, const std::string& prefix) {
    std::map<std::string, NpyArray> a;
    const std::size_t gn = static_cast<std::size_t>(net.gates() * net.hidden);
    for (int l = 0; l < net.num_layers(); ++l) {
      const std::string s = "_l" + std::to_string(l);
      const std::size_t in = l == 0 ? static_cast<std::size_t>(net.input_size) : 4;
      a[prefix + "weight_ih" + s] = {{gn, in}, net.layer(l).w_ih};
      a[prefix + "weight_hh" + s] = {{gn, 4}, net.layer(l).w_hh};
      a[prefix + "bias_ih" + s] = {{gn}, net.layer(l).b_ih};
      a[prefix + "bias_hh" + s] = {{gn}, net.layer(l).b_hh};
    }
    return a;
  };
  auto message = [](const std::map<std::string, NpyArray>& a) -> std::string {
    try {
      cell_from_arrays(Model::gru, a, "W.npz");
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "";
  };
  for (const std::string prefix : {"", "gru."}) {
    const auto good = arrays_of(c, prefix);
    const CellNetwork back = cell_from_arrays(Model::gru, good, "W.npz");
    EXPECT_EQ(back.num_layers(), 3);
    EXPECT_EQ(back.layer(2).w_ih, c.layer(2).w_ih);
    EXPECT_EQ(back.layer(1).b_hh, c.layer(1).b_hh);
    EXPECT_EQ(back.tangent_rows(false), 12);
    auto gap = good;
    for (const char* part : {"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"})
      gap.erase(prefix + part);
    EXPECT_NE(message(gap).find("layer 1 is missing"), std::string::npos) << message(gap);
    auto half = good;
    half.erase(prefix + "weight_hh_l2");
    EXPECT_NE(message(half).find("missing weight_hh_l2"), std::string::npos) << message(half);
    auto shape = good;
    shape[prefix + "weight_ih_l1"] = good.at(prefix + "weight_ih_l0");  // 12 × 2, not 12 × 4
    EXPECT_NE(message(shape).find("weight_ih_l1 has shape (12, 2)"), std::string::npos)
        << message(shape);
    auto bias = good;
    bias.erase(prefix + "bias_ih_l2");
    bias.erase(prefix + "bias_hh_l2");
    EXPECT_NE(message(bias).find("missing bias_ih_l2"), std::string::npos) << message(bias);
    auto rev = good;
    rev[prefix + "weight_hh_l1_reverse"] = good.at(prefix + "weight_hh_l1");
    EXPECT_NE(message(rev).find("reverse"), std::string::npos) << message(rev);
    auto proj = good;
    proj[prefix + "weight_hr_l1"] = {{2, 4}, std::vector<double>(8, 0.1)};
    EXPECT_NE(message(proj).find("projection"), std::string::npos) << message(proj);
    auto moved = good;
    moved["other.bias_hh_l2"] = moved.at(prefix + "bias_hh_l2");
    moved.erase(prefix + "bias_hh_l2");
    EXPECT_NE(message(moved).find("module prefixes"), std::string::npos) << message(moved);
  }
  // bias=False: no layer has biases.
  const CellNetwork nb = test::random_stacked_cell(Model::gru, 2, 4, 2, 1.0, 3, false);
  auto none = arrays_of(nb, "");
  for (const char* k : {"bias_ih_l0", "bias_hh_l0", "bias_ih_l1", "bias_hh_l1"}) none.erase(k);
  EXPECT_EQ(cell_from_arrays(Model::gru, none, "W.npz").num_layers(), 2);
}

// The nonlinearity of the options and of the network must agree (the CLI sets the network's).
TEST(StackedArrays, OptionsAndNetworkNonlinearityMustAgree) {
  CellNetwork net = test::random_cell(Model::rnn, 4, 2, 1.0, 3);
  const InputSequences x = test::random_inputs(1, 300, 2, 4);
  SpectrumOptions o;
  o.t_sim = 0;
  o.nonlinearity = Nonlinearity::relu;
  EXPECT_THROW(compute_trained_spectra(o, net, x), InvalidInput);
  net.nonlinearity = Nonlinearity::relu;
  EXPECT_EQ(compute_trained_spectra(o, net, x).members.front().options.nonlinearity,
            Nonlinearity::relu);
  net = test::random_cell(Model::gru, 4, 2, 1.0, 3);  // relu is the vanilla RNN's only
  net.nonlinearity = Nonlinearity::relu;
  EXPECT_THROW(compute_trained_spectra(o, net, x), InvalidInput);
}

// --- the command line ---------------------------------------------------------------------------

class StackedCli : public test::TempDirTest {
 protected:
  void expect_refused(const std::string& args, const std::vector<std::string>& needles) {
    const test::CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    for (const std::string& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << args << ": no '" << n << "' in " << r.err;
  }

  // The network's state_dict as an .npz (every layer) and `steps` steps of the given input value.
  std::string files(const CellNetwork& c, int steps, double input = 0.3) {
    std::vector<test::ZipMember> members;
    const std::size_t gn = static_cast<std::size_t>(c.gates() * c.hidden);
    const std::size_t n = static_cast<std::size_t>(c.hidden);
    for (int l = 0; l < c.num_layers(); ++l) {
      const std::string s = "_l" + std::to_string(l) + ".npy";
      const std::size_t in = l == 0 ? static_cast<std::size_t>(c.input_size) : n;
      const auto add = [&](const std::string& name, const std::vector<double>& v,
                           std::vector<std::size_t> shape) {
        test::ZipMember m;
        m.name = name + s;
        m.data = test::make_npy_array_bytes(v, shape, false, false);
        members.push_back(m);
      };
      add("weight_ih", c.layer(l).w_ih, {gn, in});
      add("weight_hh", c.layer(l).w_hh, {gn, n});
      if (!c.layer(0).b_ih.empty()) {
        add("bias_ih", c.layer(l).b_ih, {gn});
        add("bias_hh", c.layer(l).b_hh, {gn});
      }
    }
    test::write_file(path("w.npz"), test::make_zip(members));
    std::vector<double> x(static_cast<std::size_t>(steps) * c.input_size);
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = input * std::sin(0.37 * static_cast<double>(i));
    test::write_file(
        path("x.npy"),
        test::make_npy_array_bytes(
            x, {static_cast<std::size_t>(steps), static_cast<std::size_t>(c.input_size)}, false,
            false));
    return "--weights-file " + path("w.npz") + " --inputs " + path("x.npy");
  }
};

const char* kQuick = " --quiet --t-warmup 5 --t-ons-warmup 5 --t-sim 20";

TEST_F(StackedCli, NonlinearityAndBiasStdFollowTheOptionsTable) {
  const std::string rnn = files(test::random_cell(Model::rnn, 4, 2, 0.8, 3), 100);
  auto params = [&](const std::string& args) {
    const test::CliRun r = run("spectrum" + std::string(kQuick) + " " + args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out).at("params") : nlohmann::json::object();
  };
  EXPECT_EQ(params("--model rnn " + rnn).at("nonlinearity"), "tanh");
  EXPECT_EQ(params("--model rnn --nonlinearity relu " + rnn).at("nonlinearity"), "relu");
  const auto map = params("--model map --n 6 --bias-std 0.25");
  EXPECT_EQ(map.at("bias_std"), 0.25);
  EXPECT_FALSE(map.contains("nonlinearity")) << map;
  EXPECT_FALSE(params("--model rate --n 6").contains("bias_std")) << "no bias: no key";
  for (const std::string model : {"rate", "map"})
    expect_refused("spectrum --model " + model + " --n 5 --nonlinearity relu" + kQuick,
                   {"--nonlinearity", "does not apply to --model " + model});
  for (const Model m : {Model::gru, Model::lstm}) {
    const std::string f = files(test::random_cell(m, 4, 2, 0.8, 3), 100);
    const std::string name(to_string(m));
    expect_refused("spectrum --model " + name + " --nonlinearity tanh " + f + kQuick,
                   {"--nonlinearity", "does not apply to --model " + name});
    expect_refused("spectrum --model " + name + " --bias-std 0.1 " + f + kQuick,
                   {"--bias-std", "does not apply to --model " + name});
  }
  expect_refused("spectrum --model rnn --bias-std 0.1 " + rnn + kQuick,
                 {"--bias-std", "does not apply to --model rnn"});
  expect_refused("spectrum --model rnn --nonlinearity sigmoid " + rnn + kQuick,
                 {"--nonlinearity", "sigmoid"});
  expect_refused("spectrum --model map --n 5 --bias-std -1" + std::string(kQuick), {"--bias-std"});
  expect_refused("spectrum --model map --n 5 --bias-std nan" + std::string(kQuick), {"--bias-std"});
  // The same seed draws the same bias: two runs agree, and the bias changes the spectrum.
  const auto a = run("spectrum --model map --n 8 --bias-std 0.7" + std::string(kQuick));
  const auto b = run("spectrum --model map --n 8 --bias-std 0.7" + std::string(kQuick));
  const auto z = run("spectrum --model map --n 8" + std::string(kQuick));
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out).at("exponents"),
            nlohmann::json::parse(b.out).at("exponents"));
  EXPECT_NE(nlohmann::json::parse(a.out).at("exponents"),
            nlohmann::json::parse(z.out).at("exponents"));
}

// A stacked LSTM from the command line: 2·L·N exponents by default, L·N with --lstm-h-only; --k
// beyond them is refused. A relu RNN with units off exits 0 with −∞ exponents written as null.
TEST_F(StackedCli, StackedNetworksAndReluFromTheCommandLine) {
  const std::string lstm = files(test::random_stacked_cell(Model::lstm, 2, 3, 2, 1.0, 4), 100);
  auto exponents = [&](const std::string& args) {
    const test::CliRun r = run("spectrum" + std::string(kQuick) + " " + args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out).at("exponents") : nlohmann::json::array();
  };
  EXPECT_EQ(exponents("--model lstm " + lstm).size(), 12u);
  EXPECT_EQ(exponents("--model lstm --lstm-h-only " + lstm).size(), 6u);
  EXPECT_EQ(exponents("--model lstm --k 10 " + lstm).size(), 10u);
  expect_refused("spectrum --model lstm --k 13 " + lstm + kQuick, {"--k 13", "[1, 12]"});
  // relu: units 7 … 9 have a negative bias that keeps them off (the input is small).
  CellNetwork relu = test::random_cell(Model::rnn, 10, 2, 0.4, 12);
  for (int i = 0; i < 10; ++i) {
    relu.layer(0).b_ih[static_cast<std::size_t>(i)] = i < 7 ? 1.0 : -5.0;
    relu.layer(0).b_hh[static_cast<std::size_t>(i)] = 0.0;
  }
  const std::string f = files(relu, 100, 0.01);
  const test::CliRun r = run("spectrum --model rnn --nonlinearity relu" + std::string(kQuick) +
                             " " + f + " --backend cpu");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int nulls = 0;
  for (const auto& v : j.at("exponents")) nulls += v.is_null() ? 1 : 0;
  EXPECT_EQ(nulls, 3) << j.at("exponents");
  EXPECT_TRUE(j.at("summary").at("max_exponent").is_number()) << j.at("summary");
  EXPECT_TRUE(j.at("summary").at("ky_dimension").is_number()) << j.at("summary");
  // tanh in its place: no −∞.
  const test::CliRun t = run("spectrum --model rnn" + std::string(kQuick) + " " + f);
  ASSERT_EQ(t.status, 0) << t.err;
  for (const auto& v : nlohmann::json::parse(t.out).at("exponents")) EXPECT_TRUE(v.is_number());
}

// The example of docs/trained.md, as written there: its Python (numpy only) writes W.npz and
// X.npy, its command computes the spectrum of the 2-layer GRU.
TEST_F(StackedCli, TheExampleOfDocsTrainedRuns) {
  if (!test::python_imports("numpy")) GTEST_SKIP() << "/usr/bin/python3 has no numpy";
  const std::string doc = test::slurp(fs::path(RNNLYAP_SOURCE_DIR) / "docs" / "trained.md");
  const std::string marker = "<!-- tested: tests/test_stacked.cpp -->";
  const std::size_t at = doc.find(marker);
  ASSERT_NE(at, std::string::npos) << "docs/trained.md has no tested example";
  auto block = [&](const std::string& fence, std::size_t from) {
    const std::size_t open = doc.find("```" + fence + "\n", from);
    const std::size_t start = open + fence.size() + 4;
    const std::size_t close = doc.find("\n```", start);
    EXPECT_NE(open, std::string::npos) << fence;
    return std::make_pair(doc.substr(start, close - start), close);
  };
  const auto [python, after] = block("python", at);
  const auto [shell, end] = block("sh", after);
  (void)end;
  std::ofstream(dir_ / "example.py") << python;
  const test::CliRun py =
      test::run_program("/usr/bin/python3", {"example.py"}, test::RunOptions().in(dir_));
  ASSERT_EQ(py.status, 0) << python << py.err;
  const std::string& cmd = shell;
  ASSERT_EQ(cmd.rfind("rnnlyap ", 0), 0u) << cmd;
  const test::CliRun r = run(cmd.substr(8) + " --quiet");
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.err;
  const auto j = nlohmann::json::parse(test::slurp(dir_ / "gru2.json"));
  EXPECT_EQ(j.at("exponents").size(), 32u) << "2 layers × 16 units";
  EXPECT_EQ(j.at("params").at("model"), "gru");
}

}  // namespace
}  // namespace rnnlyap
