// The CUDA executor against the CPU executor, the reference, on the same models, members, states
// and bases: every model × B ∈ {1, 3} × fp64/fp32.
// - Uploads are exact (both round the same doubles to T).
// - A few state and tangent steps agree to rounding. Each step's products differ between the two
//   BLAS by about √n·u per entry (summation order), and a step amplifies earlier differences by at
//   most ‖D_t‖ ≤ A (rate/Euler with dt = 0.1 and g = 3: 0.9 + 0.1·2g ≈ 1.5; map with g = 2:
//   ‖J‖ ≈ 2g = 4; RK4 ≈ Euler; cells with W_hh scale 1: ≈ 2): after s steps 8·√n·u·Σ_{j<s} A^j
//   relative to the largest entry (a factor 4 over two implementations' worst case), but no less
//   than 1e-12 (fp64) / 1e-5 (fp32).
// - One re-orthonormalisation of a random basis (κ ≈ 3) agrees to the same rounding level; one of
//   a propagated basis (k = 5) within its sensitivity, (δ + ε) ‖A‖ max_{j≤i} 1/R_jj (16×).
// - Whole short runs agree within their standard errors.
// Every test needs a device: it skips without one, and fails with RNNLYAP_REQUIRE_CUDA=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "core/executor.hpp"
#include "core/loop.hpp"
#include "core/models/random_network_kernels.hpp"
#include "propagator_cases.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/spectrum.hpp"
#ifdef RNNLYAP_HAVE_CUDA
#include "cuda/cuda_common.hpp"
#endif

namespace rnnlyap {
namespace {

using test::is_network;
using test::Kind;
using test::make_members;
using test::Members;
using test::rel_diff;

struct CudaCase {
  Kind kind;
  int batch;
};

void PrintTo(const CudaCase& c, std::ostream* os) {
  *os << test::kind_name(c.kind) << "/B" << c.batch;
}

std::vector<CudaCase> cuda_cases() {
  std::vector<CudaCase> out;
  for (Kind k : test::kAllKinds)
    for (int b : {1, 3}) out.push_back({k, b});
  return out;
}

class CudaAgainstCpu : public testing::TestWithParam<CudaCase> {
 protected:
  void SetUp() override { RNNLYAP_REQUIRE_CUDA_OR_SKIP(); }
};

double growth_per_step(Kind kind) {
  switch (kind) {
    case Kind::map:
      return 4.0;
    case Kind::rate_euler:
    case Kind::rate_rk4:
      return 1.5;
    default:
      return 2.0;
  }
}

double step_tolerance(Precision p, Kind kind, int n, int steps) {
  double sum = 0, a = 1;
  for (int j = 0; j < steps; ++j, a *= growth_per_step(kind)) sum += a;
  const double bound = 8 * std::sqrt(static_cast<double>(n)) * test::unit_roundoff(p) * sum;
  return std::max(bound, p == Precision::fp64 ? 1e-12 : 1e-5);
}

// Member b's column i of two rows × k bases, up to its sign: max |±a − b| over the column.
double column_diff(const std::vector<double>& a, const std::vector<double>& b, std::size_t from,
                   std::size_t rows, std::size_t i) {
  const std::size_t o = from + i * rows;
  double dot = 0;
  for (std::size_t r = 0; r < rows; ++r) dot += a[o + r] * b[o + r];
  const double sign = dot < 0 ? -1.0 : 1.0;
  return test::max_abs_of(rows, [&](std::size_t r) { return sign * a[o + r] - b[o + r]; });
}

TEST_P(CudaAgainstCpu, StepsAndReorthonormalisationsAgree) {
  const auto [kind, batch] = GetParam();
  const bool net = is_network(kind);
  const int n = net ? 97 : 37;  // not multiples of 16 or 32: the kernels' tail loops
  for (Precision p : {Precision::fp64, Precision::fp32}) {
    SCOPED_TRACE(test::precision_name(p));
    const double u = test::unit_roundoff(p);
    const Members m =
        make_members(kind, batch, n, net ? (kind == Kind::map ? 2.0 : 3.0) : 1.0, 0.3, 31);
    const std::size_t rows = static_cast<std::size_t>(m.rows);
    const std::size_t ss = static_cast<std::size_t>(m.state_size);
    for (int k : {std::min(m.rows, 24), 5}) {
      SCOPED_TRACE("k = " + std::to_string(k));
      const std::size_t rk = rows * static_cast<std::size_t>(k);
      auto cpu = m.propagator({BackendKind::cpu, 0, p, QrMethod::householder}, k);
      auto gpu = m.propagator({BackendKind::cuda, 0, p, QrMethod::householder}, k);
      EXPECT_EQ(gpu->name(), "cuda");
      const std::vector<double> h0 = test::gaussian_values(batch * ss, 0.5, 32);
      const std::vector<double> q0 = test::gaussian_values(batch * rk, 1.0, 33);
      for (detail::Propagator* x : {cpu.get(), gpu.get()}) {
        x->set_state(h0);
        x->set_basis(q0);
      }
      EXPECT_EQ(gpu->state_blocking(), cpu->state_blocking()) << "the same rounding to T";
      EXPECT_EQ(gpu->basis_blocking(), cpu->basis_blocking()) << "the same rounding to T";

      // (1) A random basis, κ ≈ 3: the logs and Q agree to rounding.
      for (detail::Propagator* x : {cpu.get(), gpu.get()}) x->reorthonormalize(true);
      {
        const std::vector<double> lc = cpu->take_log_sums_blocking(),
                                  lg = gpu->take_log_sums_blocking();
        const std::vector<double> qc = cpu->basis_blocking(), qg = gpu->basis_blocking();
        ASSERT_EQ(lg.size(), static_cast<std::size_t>(batch) * k);
        const double tol = step_tolerance(p, kind, m.rows, 1);
        for (std::size_t i = 0; i < lc.size(); ++i)
          EXPECT_NEAR(lg[i], lc[i], tol * std::max(1.0, std::fabs(lc[i]))) << "log " << i;
        for (int b = 0; b < batch; ++b)
          for (int i = 0; i < k; ++i)
            EXPECT_AT_MOST(column_diff(qg, qc, b * rk, rows, i), 10 * tol)
                << "member " << b << ", column " << i;
      }

      // (2) State steps, then tangent steps: state and basis to rounding, per member.
      for (detail::Propagator* x : {cpu.get(), gpu.get()}) x->advance_state(0, 2);
      const std::vector<double> hc2 = cpu->state_blocking(), hg2 = gpu->state_blocking();
      for (int b = 0; b < batch; ++b)
        EXPECT_AT_MOST(rel_diff(hg2, hc2, b * ss, ss), step_tolerance(p, kind, n, 2))
            << "member " << b << ", state after 2 state steps";
      for (detail::Propagator* x : {cpu.get(), gpu.get()}) x->advance_tangent(2, 3);
      const std::vector<double> hc = cpu->state_blocking(), hg = gpu->state_blocking();
      const std::vector<double> qc = cpu->basis_blocking(), qg = gpu->basis_blocking();
      std::vector<double> delta(static_cast<std::size_t>(batch));
      for (int b = 0; b < batch; ++b) {
        EXPECT_AT_MOST(rel_diff(hg, hc, b * ss, ss), step_tolerance(p, kind, n, 5))
            << "member " << b << ", state after 3 tangent steps";
        delta[b] = rel_diff(qg, qc, b * rk, rk);
        EXPECT_AT_MOST(delta[b], step_tolerance(p, kind, m.rows, 3))
            << "member " << b << ", basis after 3 tangent steps";
      }

      // (3) Re-orthonormalising the propagated basis: within its sensitivity. The two QR inputs
      // differ by δ (relative), the two QRs round differently (ε): log|R_ii| and q_i may differ by
      // (δ + ε) ‖A‖ max_{j≤i} 1/R_jj, where ‖A‖ is the largest column norm.
      if (k == 5) {
        for (detail::Propagator* x : {cpu.get(), gpu.get()}) x->reorthonormalize(true);
        const std::vector<double> lc = cpu->take_log_sums_blocking(),
                                  lg = gpu->take_log_sums_blocking();
        const std::vector<double> oc = cpu->basis_blocking(), og = gpu->basis_blocking();
        const double floor = step_tolerance(p, kind, m.rows, 3);
        for (int b = 0; b < batch; ++b) {
          double max_col = 0;
          for (int i = 0; i < k; ++i) {
            double s = 0;
            for (std::size_t r = 0; r < rows; ++r) {
              const double v = qc[b * rk + static_cast<std::size_t>(i) * rows + r];
              s += v * v;
            }
            max_col = test::nan_max(max_col, std::sqrt(s));
          }
          double max_inv_r = 0;
          for (int i = 0; i < k; ++i) {
            const std::size_t li = static_cast<std::size_t>(b) * k + i;
            max_inv_r = test::nan_max(max_inv_r, std::exp(-lc[li]));
            const double sens = 16 * (delta[b] + u) * max_col * max_inv_r;
            EXPECT_NEAR(lg[li], lc[li], std::max(floor * std::max(1.0, std::fabs(lc[li])), sens))
                << "member " << b << ", log " << i;
            EXPECT_AT_MOST(column_diff(og, oc, b * rk, rows, i), std::max(10 * floor, sens))
                << "member " << b << ", column " << i;
          }
        }
        // Without accumulation nothing is added; taking zeroes the sums.
        for (detail::Propagator* x : {cpu.get(), gpu.get()}) {
          x->advance_tangent(5, 1);
          x->reorthonormalize(false);
        }
        EXPECT_EQ(gpu->take_log_sums_blocking(),
                  std::vector<double>(static_cast<std::size_t>(batch) * k, 0.0));
        const std::vector<double> h6c = cpu->state_blocking(), h6g = gpu->state_blocking();
        for (int b = 0; b < batch; ++b)
          EXPECT_AT_MOST(rel_diff(h6g, h6c, b * ss, ss), step_tolerance(p, kind, n, 6))
              << "member " << b << ", state after 6 steps";
      }
    }
  }
}

// Whole short runs through run_benettin (random networks, one lockstep batch) or run_sequences
// (cells): chaotic networks' trajectories separate, so the two estimates are two samples of one
// quantity (6 combined standard errors); the cells follow one input-driven trajectory and agree
// far inside 4.
TEST_P(CudaAgainstCpu, ShortRunsAgreeWithinStandardErrors) {
  const auto [kind, batch] = GetParam();
  for (Precision p : {Precision::fp64, Precision::fp32}) {
    SCOPED_TRACE(test::precision_name(p));
    std::vector<SpectrumResult> runs[2];
    const BackendKind backends[2] = {BackendKind::cpu, BackendKind::cuda};
    double sigmas = 4;
    if (is_network(kind)) {
      sigmas = 6;
      const int n = 64, k = 16;
      const Members m = make_members(kind, batch, n, kind == Kind::map ? 2.0 : 3.0, 0.2, 41);
      SpectrumOptions o;
      o.model = test::model_of(kind);
      o.integrator = m.dyn.integrator;
      o.dt = m.dyn.dt;
      o.n = n;
      o.k = k;
      o.precision = p;
      o.t_warmup = kind == Kind::map ? 200 : 50;
      o.t_ons_warmup = kind == Kind::map ? 100 : 20;
      o.t_sim = kind == Kind::map ? 1500 : 300;
      for (int i = 0; i < 2; ++i) {
        o.backend = backends[i];
        const detail::LoopSetup setup = test::network_setup(o, batch, n, k, 50, 60);
        auto prop = m.propagator({backends[i], 0, p, QrMethod::householder}, k);
        runs[i] = detail::run_benettin(*prop, setup, {}, {});
      }
    } else {
      // Smaller and half as long on the emulated device (backends.hpp), whose batched QR costs a
      // warp shuffle per pair of columns; the tolerance is in standard errors.
      const int steps = test::cuda_emulated() ? 600 : 1200;
      const int hidden = test::cuda_emulated() ? 24 : 37;
      const Members m = make_members(kind, batch, hidden, 1.0, 0.0, 42, true, steps);
      SpectrumOptions o;
      o.model = m.cell.type;
      o.n = m.cell.hidden;
      o.k = m.rows;
      o.lstm_h_only = m.h_only;
      o.precision = p;
      o.t_warmup = 100;
      o.t_ons_warmup = 100;
      o.t_sim = 0;  // the rest: 1000 steps (400 emulated)
      for (int i = 0; i < 2; ++i) {
        o.backend = backends[i];
        runs[i] = detail::run_sequences(o, cell_schedule(o, steps), m.cell, m.inputs, 0, batch,
                                        {backends[i], 0, p, QrMethod::householder}, {});
      }
    }
    ASSERT_EQ(runs[0].size(), static_cast<std::size_t>(batch));
    ASSERT_EQ(runs[1].size(), static_cast<std::size_t>(batch));
    for (int b = 0; b < batch; ++b) {
      const SpectrumResult& c = runs[0][b];
      const SpectrumResult& g = runs[1][b];
      ASSERT_EQ(c.exponents.size(), g.exponents.size());
      for (std::size_t i = 0; i < c.exponents.size(); ++i) {
        const double se = std::hypot(c.stderr_[i], g.stderr_[i]);
        ASSERT_TRUE(std::isfinite(se)) << "member " << b << ", exponent " << i;
        EXPECT_AT_MOST(std::fabs(g.exponents[i] - c.exponents[i]), sigmas * se + 1e-6)
            << "member " << b << ", exponent " << i << " (cpu " << c.exponents[i] << " ± "
            << c.stderr_[i] << ", cuda " << g.exponents[i] << " ± " << g.stderr_[i] << ")";
      }
    }
  }
}

std::string cuda_case_name(const testing::TestParamInfo<CudaCase>& p) {
  return test::kind_name(p.param.kind) + "_B" + std::to_string(p.param.batch);
}

INSTANTIATE_TEST_SUITE_P(Models, CudaAgainstCpu, testing::ValuesIn(cuda_cases()), cuda_case_name);

// Shapes that need several blocks in every kernel and the QRs' large paths: n = 301 (> 256, not a
// multiple of 32), k = 260 (> 256), two members, every QR method.
TEST(CudaAgainstCpuShapes, LargeShapesAgree) {
  RNNLYAP_REQUIRE_CUDA_OR_SKIP();
  const int n = 301, k = 260, batch = 2;
  const Members m = make_members(Kind::rate_euler, batch, n, 2.0, 0.2, 51);
  const std::size_t nk = static_cast<std::size_t>(n) * k;
  for (QrMethod qr : {QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select}) {
    SCOPED_TRACE(std::string(to_string(qr)));
    auto cpu = m.propagator({BackendKind::cpu, 0, Precision::fp64, qr}, k);
    auto gpu = m.propagator({BackendKind::cuda, 0, Precision::fp64, qr}, k);
    for (detail::Propagator* x : {cpu.get(), gpu.get()}) {
      x->set_state(test::gaussian_values(static_cast<std::size_t>(batch) * n, 1, 52));
      x->set_basis(test::gaussian_values(batch * nk, 1, 53));
      x->advance_tangent(0, 2);
    }
    EXPECT_AT_MOST(rel_diff(gpu->state_blocking(), cpu->state_blocking(), 0,
                            static_cast<std::size_t>(batch) * n),
                   1e-12);
    EXPECT_AT_MOST(rel_diff(gpu->basis_blocking(), cpu->basis_blocking(), 0, batch * nk), 1e-12);
    // A Gaussian 301 × 260 basis has κ ≈ (√301 + √260)/(√301 − √260) ≈ 28, two Euler steps
    // (‖D‖ ‖D⁻¹‖ ≲ 1.5 each) keep it below 100: logs to 100·n·u ≈ 3e-12, Q to 1e-10.
    for (detail::Propagator* x : {cpu.get(), gpu.get()}) x->reorthonormalize(true);
    const std::vector<double> lc = cpu->take_log_sums_blocking(),
                              lg = gpu->take_log_sums_blocking();
    ASSERT_EQ(lg.size(), lc.size());
    for (std::size_t i = 0; i < lc.size(); ++i)
      EXPECT_NEAR(lg[i], lc[i], 1e-11 * std::max(1.0, std::fabs(lc[i]))) << "log " << i;
    const std::vector<double> qc = cpu->basis_blocking(), qg = gpu->basis_blocking();
    double worst = 0;
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < k; ++i) worst = test::nan_max(worst, column_diff(qg, qc, b * nk, n, i));
    EXPECT_AT_MOST(worst, 1e-10) << "Q up to column signs";
  }
}

TEST(CudaDevices, AreDescribed) {
  RNNLYAP_REQUIRE_CUDA_OR_SKIP();
  const std::vector<DeviceInfo> devices = cuda_devices();
  for (const DeviceInfo& d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.cc_major, 5);
    EXPECT_GT(d.multiprocessors, 0);
    EXPECT_GT(d.total_memory, 0u);
    EXPECT_LE(d.free_memory, d.total_memory);
  }
  auto ex = detail::make_cuda_executor<double>(0);
  EXPECT_EQ(ex->name(), "cuda");
  EXPECT_EQ(ex->device(), devices[0].name);
  EXPECT_GT(ex->bytes_available(), 0u);
  EXPECT_LE(ex->bytes_available(), devices[0].total_memory);
}

// The executor's contract: a buffer may be freed while work that uses it is still queued (a
// model's buffers go when the propagator does, whatever the stream still holds), and a blocking
// copy sees every earlier kernel's result. On the emulated device a free under queued work stops
// the test.
TEST(CudaExecutor, FreesAndReadsWhileWorkIsQueued) {
  RNNLYAP_REQUIRE_CUDA_OR_SKIP();
  auto ex = detail::make_cuda_executor<double>(0);
  const std::vector<double> h = {0.25, -0.5, 1.0};
  void* a = ex->allocate_bytes(h.size() * sizeof(double));
  void* b = ex->allocate_bytes(h.size() * sizeof(double));
  ex->copy_in(a, h.data(), h.size() * sizeof(double));
  auto& kernels = ex->kernels<detail::RandomNetworkKernels<double>>();
  kernels.phi_into(3, static_cast<const double*>(a), static_cast<double*>(b));
  kernels.phi_into(3, static_cast<const double*>(b), static_cast<double*>(a));
  ex->free_bytes(b);  // queued work still reads and writes it
  std::vector<double> out(3, 0.0);
  ex->copy_out_blocking(out.data(), a, out.size() * sizeof(double));
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_NEAR(out[i], std::tanh(std::tanh(h[i])), 1e-15);
  ex->free_bytes(a);
}

#ifdef RNNLYAP_HAVE_CUDA
// Which devices a build runs on, from its CMAKE_CUDA_ARCHITECTURES (no device needed): SASS runs on
// its major version from its minor on ("a": that version only), PTX on every later capability.
TEST(CudaArchitectures, DevicesThisBuildRunsOn) {
  const auto runs = [](const char* archs, int major, int minor) {
    int oldest = 0;
    return cuda::build_runs_on(archs, major, minor, oldest);
  };
  const char* fallback = "75-real,80-real,86-real,89-real,90-real,100-real,120";  // CMakeLists.txt
  const int yes[][2] = {{7, 5},  {8, 0},  {8, 6},  {8, 7},  {8, 9}, {9, 0},
                        {10, 0}, {10, 3}, {12, 0}, {12, 1}, {13, 0}};
  for (const auto& cc : yes) EXPECT_TRUE(runs(fallback, cc[0], cc[1])) << cc[0] << "." << cc[1];
  const int no[][2] = {{6, 1}, {7, 0}, {11, 0}};
  for (const auto& cc : no) EXPECT_FALSE(runs(fallback, cc[0], cc[1])) << cc[0] << "." << cc[1];
  int oldest = 0;
  cuda::build_runs_on(fallback, 9, 0, oldest);
  EXPECT_EQ(oldest, 75);
  EXPECT_TRUE(runs("90-real", 9, 0));
  EXPECT_FALSE(runs("90-real", 8, 0));
  EXPECT_FALSE(runs("90-real", 10, 0)) << "SASS of 9.0 does not run on 10.0";
  EXPECT_TRUE(runs("90", 10, 0)) << "its PTX does";
  EXPECT_FALSE(runs("90", 8, 9));
  EXPECT_TRUE(runs("90a-real", 9, 0));
  EXPECT_FALSE(runs("90a", 10, 0)) << "arch-specific PTX is not portable";
  EXPECT_TRUE(runs("80-virtual", 9, 0));
  EXPECT_FALSE(runs("80-virtual", 7, 5));
  EXPECT_TRUE(runs("100f-real", 10, 3));
  EXPECT_TRUE(runs("native", 7, 0)) << "a list it cannot read is taken to run";
  EXPECT_TRUE(runs("all-major", 7, 0));
}
#endif

}  // namespace
}  // namespace rnnlyap
