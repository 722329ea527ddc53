// The CUDA propagator for trained cells against the CPU one, the reference
// (src/cpu/cell_backend.cpp): both get the same network, inputs, state and basis; the first steps
// agree to rounding, the re-orthonormalisations agree to rounding times their conditioning, and
// whole spectra agree within their standard errors. Every test that needs a device skips without
// one, so CPU-only CI stays green.
//
// Tolerances. State and (unnormalised) basis after 10 tangent steps: relative to the largest entry,
// 1e-12 (fp64) and 1e-4 (fp32). A QR of a basis propagated over 10 steps with k = dim is hopelessly
// ill-conditioned (the finite-time exponents span ~40 e-folds: a 1-ulp perturbation moves the
// smallest log|R_ii| by O(1), on the CPU against itself), so log|R_ii| and the columns of Q are
// compared with floor + 16·dim·u·Σ_s κ_i(s), where u is the unit roundoff, κ_i(s) = exp(max_j r_j −
// r_i) is column i's conditioning in QR s from the reference's own log|R_jj|, and floor is 1e-12
// (fp64) or 1e-4 (fp32). 16·dim·u bounds the rounding of one step's product and QR with a wide
// margin: injecting 2·√dim·u·max|q| noise per entry into the CPU propagator after every step and
// every QR (several times what a GEMM of inner dimension N typically rounds) uses under half of
// it. For k = 5, κ_i = O(1) and the bound is the floor. For k = dim a single QR after 10 steps has
// no reproducible digits in its weakest columns and is not compared; the check there is the
// Benettin-style run with a re-orthonormalisation after every step, where κ_i stays below ~1e3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cell_test_util.hpp"
#include "core/backend.hpp"
#include "core/loop.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap {
namespace {

bool have_cuda() {
  static const bool present = !cuda_devices().empty();
  return present;
}

#define SKIP_WITHOUT_CUDA() \
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device"

constexpr int kHidden = 37;  // not a multiple of 32: partial warps and blocks
constexpr int kInputs = 5;
constexpr int kSteps = 50;
// Rounding of the products and QRs of one step, in units of u per unit of conditioning, per row.
constexpr double kRoundingPerRow = 16;

std::vector<double> gaussian(std::size_t count, double scale, std::mt19937_64& rng) {
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> v(count);
  for (double& x : v) x = scale * n01(rng);
  return v;
}

// Weights as PyTorch initialises their scale (1/√fan-in), biases on both sides.
CellNetwork random_cell(Model type, int n, int in, std::uint64_t seed) {
  return test::random_cell(type, n, in, 1.0, seed);
}

InputSequences random_inputs(int batch, int steps, std::uint64_t seed) {
  return test::random_inputs(batch, steps, kInputs, seed);
}

int basis_rows(Model type, bool h_only) {
  return type == Model::lstm && !h_only ? 2 * kHidden : kHidden;
}

// max_i |a_i - b_i| / max_i |b_i|: relative to the vector's scale, so entries near zero do not
// dominate.
double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return den > 0 ? num / den : num;
}

struct Tolerance {
  double floor;  // the rounding-level agreement of a well-conditioned quantity
  double unit;   // unit roundoff of the working precision
};

Tolerance tolerance(Precision p) {
  if (p == Precision::fp64) return {1e-12, std::numeric_limits<double>::epsilon() / 2};
  return {1e-4, static_cast<double>(std::numeric_limits<float>::epsilon()) / 2};
}

// Summed log|R_ii| of both propagators over a series of re-orthonormalisations, and Σ κ_i from
// the reference's per-QR diagonal.
struct QrRecord {
  explicit QrRecord(int k)
      : ref(static_cast<std::size_t>(k), 0.0),
        got(static_cast<std::size_t>(k), 0.0),
        kappa(static_cast<std::size_t>(k), 0.0) {}
  std::vector<double> ref, got, kappa;
};

void reorthonormalize_both(detail::CellBackend& ref, detail::CellBackend& got, QrRecord& rec) {
  ref.reorthonormalize(true);
  got.reorthonormalize(true);
  const std::vector<double> r = ref.take_log_sums();
  const std::vector<double> g = got.take_log_sums();
  ASSERT_EQ(r.size(), rec.ref.size());
  ASSERT_EQ(g.size(), rec.ref.size());
  const double rmax = *std::max_element(r.begin(), r.end());
  for (std::size_t i = 0; i < r.size(); ++i) {
    rec.ref[i] += r[i];
    rec.got[i] += g[i];
    rec.kappa[i] += std::exp(rmax - r[i]);
  }
}

// The summed logs, and Q column by column up to its sign (a QR fixes Q up to the signs of R's
// diagonal), each within floor + 16·dim·u·Σκ_i.
void expect_qr_agrees(detail::CellBackend& ref, detail::CellBackend& got, const QrRecord& rec,
                      int rows, const Tolerance& tol, const std::string& what) {
  const std::vector<double> a = got.basis(), b = ref.basis();
  ASSERT_EQ(a.size(), b.size()) << what;
  const std::size_t n = static_cast<std::size_t>(rows);
  for (std::size_t c = 0; c < rec.ref.size(); ++c) {
    const double slack = kRoundingPerRow * rows * tol.unit * rec.kappa[c];
    EXPECT_LE(std::fabs(rec.got[c] - rec.ref[c]),
              tol.floor * std::max(1.0, std::fabs(rec.ref[c])) + slack)
        << what << ": log sum " << c << " (cpu " << rec.ref[c] << ", cuda " << rec.got[c] << ")";
    double dot = 0, err = 0;
    for (std::size_t r = 0; r < n; ++r) dot += a[c * n + r] * b[c * n + r];
    const double sign = dot < 0 ? -1.0 : 1.0;
    for (std::size_t r = 0; r < n; ++r)
      err = std::max(err, std::fabs(sign * a[c * n + r] - b[c * n + r]));
    EXPECT_LE(err, tol.floor + slack) << what << ": column " << c << " of Q";
  }
}

struct CellCase {
  const char* name;
  Model type;
  bool h_only;
  Precision precision;
  bool full_k;  // k = dim, else k = 5
};

void PrintTo(const CellCase& c, std::ostream* os) {
  *os << c.name;
}

class CudaCellAgreement : public testing::TestWithParam<CellCase> {};

void check_agreement(const CellCase& c, QrMethod qr) {
  const Tolerance tol = tolerance(c.precision);
  const CellNetwork net = random_cell(c.type, kHidden, kInputs, 101);
  std::mt19937_64 rng(202);
  const std::vector<double> x = gaussian(static_cast<std::size_t>(kSteps) * kInputs, 1.0, rng);
  const int dim = basis_rows(c.type, c.h_only);
  const int k = c.full_k ? dim : 5;
  const std::vector<double> s0 = gaussian(static_cast<std::size_t>(net.state_size()), 0.5, rng);
  const std::vector<double> q0 =
      gaussian(static_cast<std::size_t>(dim) * static_cast<std::size_t>(k), 1.0, rng);

  auto ref = detail::make_cpu_cell_backend(c.precision, qr);
  auto got = detail::make_cuda_cell_backend(c.precision, qr, 0);
  EXPECT_EQ(got->name(), "cuda");
  EXPECT_FALSE(got->device().empty());
  for (detail::CellBackend* b : {ref.get(), got.get()}) {
    b->upload(net, x, kSteps, k, c.h_only);
    b->set_state(s0);
    b->set_basis(q0);
  }
  // Both round the same doubles to the same T.
  EXPECT_EQ(got->state(), ref->state());
  EXPECT_EQ(got->basis(), ref->basis());

  // (1) Ten tangent steps from a random basis: state and basis to rounding.
  ref->advance_tangent(0, 10);
  got->advance_tangent(0, 10);
  EXPECT_LT(rel_diff(got->state(), ref->state()), tol.floor) << "state after 10 tangent steps";
  EXPECT_LT(rel_diff(got->basis(), ref->basis()), tol.floor) << "basis after 10 tangent steps";

  // (2) One re-orthonormalisation of that basis: well-conditioned for k = 5 only (see the top);
  // with k = dim the weakest columns carry no reproducible digits, and (4) checks instead.
  if (!c.full_k) {
    QrRecord rec(k);
    reorthonormalize_both(*ref, *got, rec);
    expect_qr_agrees(*ref, *got, rec, dim, tol, "QR after 10 steps");
  }

  // (3) The state alone.
  ref->advance_state(10, 5);
  got->advance_state(10, 5);
  EXPECT_LT(rel_diff(got->state(), ref->state()), tol.floor) << "state after 5 state steps";

  // (4) As the Benettin loop runs it: a re-orthonormalisation after every tangent step.
  ref->set_basis(q0);
  got->set_basis(q0);
  QrRecord rec(k);
  for (int s = 0; s < 10; ++s) {
    ref->advance_tangent(15 + s, 1);
    got->advance_tangent(15 + s, 1);
    reorthonormalize_both(*ref, *got, rec);
  }
  expect_qr_agrees(*ref, *got, rec, dim, tol, "10 steps, QR after each");
  EXPECT_LT(rel_diff(got->state(), ref->state()), tol.floor) << "state after 25 steps";
}

TEST_P(CudaCellAgreement, StepsAndReorthonormalisationsMatchTheCpuPropagator) {
  SKIP_WITHOUT_CUDA();
  // Both QRs on both sides: Householder (geqrf/orgqr) and CholeskyQR2 (the GPU's `auto`).
  for (const QrMethod qr : {QrMethod::householder, QrMethod::cholesky2}) {
    SCOPED_TRACE(qr == QrMethod::householder ? "householder" : "cholesky2");
    check_agreement(GetParam(), qr);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cells, CudaCellAgreement,
    testing::Values(CellCase{"rnn_fp64_k5", Model::rnn, false, Precision::fp64, false},
                    CellCase{"rnn_fp64_kdim", Model::rnn, false, Precision::fp64, true},
                    CellCase{"gru_fp64_k5", Model::gru, false, Precision::fp64, false},
                    CellCase{"gru_fp64_kdim", Model::gru, false, Precision::fp64, true},
                    CellCase{"lstm_fp64_k5", Model::lstm, false, Precision::fp64, false},
                    CellCase{"lstm_fp64_kdim", Model::lstm, false, Precision::fp64, true},
                    CellCase{"lstm_h_only_fp64_k5", Model::lstm, true, Precision::fp64, false},
                    CellCase{"lstm_h_only_fp64_kdim", Model::lstm, true, Precision::fp64, true},
                    CellCase{"rnn_fp32_k5", Model::rnn, false, Precision::fp32, false},
                    CellCase{"rnn_fp32_kdim", Model::rnn, false, Precision::fp32, true},
                    CellCase{"gru_fp32_k5", Model::gru, false, Precision::fp32, false},
                    CellCase{"gru_fp32_kdim", Model::gru, false, Precision::fp32, true},
                    CellCase{"lstm_fp32_k5", Model::lstm, false, Precision::fp32, false},
                    CellCase{"lstm_fp32_kdim", Model::lstm, false, Precision::fp32, true},
                    CellCase{"lstm_h_only_fp32_k5", Model::lstm, true, Precision::fp32, false},
                    CellCase{"lstm_h_only_fp32_kdim", Model::lstm, true, Precision::fp32, true}),
    [](const testing::TestParamInfo<CellCase>& p) { return std::string(p.param.name); });

TEST(CudaCellBackend, RejectsBadCallsAsTheCpuPropagatorDoes) {
  SKIP_WITHOUT_CUDA();
  const CellNetwork net = random_cell(Model::gru, kHidden, kInputs, 7);
  std::mt19937_64 rng(8);
  const std::vector<double> x = gaussian(static_cast<std::size_t>(kSteps) * kInputs, 1.0, rng);
  auto be = detail::make_cuda_cell_backend(Precision::fp64, QrMethod::householder, 0);
  EXPECT_THROW(be->state(), Error);  // nothing uploaded yet
  EXPECT_THROW(be->upload(net, x, kSteps, 0, false), InvalidInput);
  EXPECT_THROW(be->upload(net, x, kSteps, kHidden + 1, false), InvalidInput);
  EXPECT_THROW(be->upload(net, std::span<const double>(x).first(x.size() - 1), kSteps, 5, false),
               InvalidInput);
  be->upload(net, x, kSteps, 5, false);
  EXPECT_THROW(be->set_state(std::vector<double>(kHidden + 1, 0.0)), InvalidInput);
  EXPECT_THROW(be->set_basis(std::vector<double>(kHidden * 4, 0.0)), InvalidInput);
  // Steps outside the input sequence, as CpuCellBackend::gates rejects them.
  EXPECT_THROW(be->advance_state(kSteps, 1), Error);
  EXPECT_THROW(be->advance_state(-1, 1), Error);
  EXPECT_THROW(be->advance_tangent(kSteps - 5, 10), Error);
  be->advance_tangent(0, kSteps);  // the whole sequence is fine
  EXPECT_EQ(be->take_log_sums(), std::vector<double>(5, 0.0));

  // A run that cannot fit: the message names what it needs and what the device has.
  CellNetwork no_inputs = net;
  no_inputs.input_size = 0;
  no_inputs.w_ih.clear();
  try {
    be->upload(no_inputs, {}, 2'000'000'000, 5, false);
    ADD_FAILURE() << "a run of 2e9 steps was accepted";
  } catch (const InvalidInput& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("MiB of GPU memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MiB free"), std::string::npos) << msg;
  }
  EXPECT_THROW(be->state(), Error);  // the failed upload left nothing behind
  EXPECT_THROW(detail::make_cuda_cell_backend(Precision::fp64, QrMethod::householder, 1 << 20),
               BackendUnavailable);
}

TEST(CudaCellBackend, IsUnavailableWithoutADevice) {
  if (have_cuda()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_THROW(detail::make_cuda_cell_backend(Precision::fp64, QrMethod::householder, 0),
               BackendUnavailable);
  const CellNetwork net = random_cell(Model::rnn, 8, 2, 3);
  InputSequences x;
  x.batch = 1;
  x.steps = 40;
  x.input_size = 2;
  x.data.assign(80, 0.5);
  SpectrumOptions o;
  o.backend = BackendKind::cuda;
  o.t_warmup = 10;
  o.t_ons_warmup = 10;
  o.t_sim = 0;
  EXPECT_THROW(compute_trained_spectra(o, net, x), BackendUnavailable);
}

// Whole runs through compute_trained_spectra: the two backends follow the same input-driven
// trajectory, so their exponents agree far inside 4 combined standard errors.
TEST(CudaCellSpectra, AgreeWithTheCpuWithinStandardErrors) {
  SKIP_WITHOUT_CUDA();
  struct Run {
    Model type;
    bool h_only;
  };
  for (const Precision precision : {Precision::fp64, Precision::fp32}) {
    for (const Run run : {Run{Model::rnn, false}, Run{Model::gru, false}, Run{Model::lstm, false},
                          Run{Model::lstm, true}}) {
      const std::string what = std::string(to_string(run.type)) + (run.h_only ? " h-only" : "") +
                               (precision == Precision::fp64 ? " fp64" : " fp32");
      const CellNetwork net = random_cell(run.type, kHidden, kInputs, 31);
      const InputSequences x = random_inputs(2, 1200, 32);
      SpectrumOptions o;
      o.precision = precision;
      o.lstm_h_only = run.h_only;
      o.t_warmup = 100;
      o.t_ons_warmup = 100;
      o.t_sim = 0;  // the rest: 1000 steps
      o.backend = BackendKind::cpu;
      const EnsembleResult cpu = compute_trained_spectra(o, net, x);
      o.backend = BackendKind::cuda;
      const EnsembleResult gpu = compute_trained_spectra(o, net, x);
      ASSERT_EQ(cpu.members.size(), gpu.members.size()) << what;
      for (std::size_t m = 0; m < cpu.members.size(); ++m) {
        const SpectrumResult& a = cpu.members[m];
        const SpectrumResult& b = gpu.members[m];
        EXPECT_EQ(a.backend, "cpu") << what;
        EXPECT_EQ(b.backend, "cuda") << what;
        ASSERT_EQ(a.exponents.size(), b.exponents.size()) << what;
        ASSERT_EQ(a.exponents.size(), static_cast<std::size_t>(basis_rows(run.type, run.h_only)))
            << what;
        for (std::size_t i = 0; i < a.exponents.size(); ++i) {
          const double se = std::hypot(a.stderr_[i], b.stderr_[i]);
          EXPECT_TRUE(std::isfinite(se)) << what << ": exponent " << i;
          EXPECT_LE(std::fabs(a.exponents[i] - b.exponents[i]), 4 * se)
              << what << ", sequence " << m << ", exponent " << i << " (cpu " << a.exponents[i]
              << " ± " << a.stderr_[i] << ", cuda " << b.exponents[i] << " ± " << b.stderr_[i]
              << ")";
        }
      }
    }
  }
}

// A batch of sequences runs in lockstep on the GPU, each sequence on its own propagator and stream:
// every member must equal the run of that sequence alone on the same device (same arithmetic; the
// 1e-12 relative margin only allows for a library choosing another kernel under concurrency).
TEST(CudaCellSpectra, ABatchOfSequencesEqualsOneByOneRuns) {
  SKIP_WITHOUT_CUDA();
  const CellNetwork net = random_cell(Model::lstm, kHidden, kInputs, 41);
  const InputSequences x = random_inputs(3, 400, 42);
  SpectrumOptions o;
  o.backend = BackendKind::cuda;
  o.t_warmup = 50;
  o.t_ons_warmup = 50;
  o.t_sim = 0;
  const EnsembleResult batch = compute_trained_spectra(o, net, x);  // one batch of 3
  ASSERT_EQ(batch.members.size(), 3u);
  o.model = Model::lstm;
  o.n = kHidden;
  o.k = 2 * kHidden;
  for (int b = 0; b < 3; ++b) {
    std::vector<std::unique_ptr<detail::CellBackend>> one;
    one.push_back(detail::make_cuda_cell_backend(o.precision, o.qr, 0));
    one.back()->upload(net, x.sequence(b), x.steps, 2 * kHidden, false);
    const std::vector<SpectrumResult> alone =
        detail::run_sequences(o, cell_schedule(o, x.steps), net, x, b, std::move(one), {});
    const SpectrumResult& m = batch.members[b];
    EXPECT_EQ(m.backend, "cuda");
    EXPECT_EQ(m.sequence, b);
    ASSERT_EQ(m.exponents.size(), alone[0].exponents.size());
    for (std::size_t i = 0; i < m.exponents.size(); ++i)
      EXPECT_NEAR(m.exponents[i], alone[0].exponents[i],
                  1e-12 * std::max(1.0, std::fabs(alone[0].exponents[i])))
          << "sequence " << b << ", exponent " << i;
  }
  EXPECT_NE(batch.members[0].exponents[0], batch.members[1].exponents[0]);
}

}  // namespace
}  // namespace rnnlyap
