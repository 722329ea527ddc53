// The CUDA backend against the CPU backend, the reference (src/cpu/cpu_backend.cpp): the first
// steps and one re-orthonormalisation agree to rounding, whole runs agree within their standard
// errors (chaotic) or to 1e-9 (below onset, where the spectrum is a fixed point of the algorithm).
// Every test skips when no CUDA device is present, so CPU-only CI stays green.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/elementwise.hpp"
#include "core/random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

bool have_cuda() {
  static const bool present = !cuda_devices().empty();
  return present;
}

#define SKIP_WITHOUT_CUDA() \
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device"

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

// As rel_diff for n×k column-major bases, allowing each column its own sign (a QR determines Q
// up to the signs of R's diagonal).
double rel_diff_up_to_column_signs(const std::vector<double>& a, const std::vector<double>& b,
                                   int n) {
  EXPECT_EQ(a.size(), b.size());
  const std::size_t rows = static_cast<std::size_t>(n);
  const std::size_t cols = a.size() / rows;
  double num = 0, den = 0;
  for (std::size_t c = 0; c < cols; ++c) {
    double dot = 0;
    for (std::size_t r = 0; r < rows; ++r) dot += a[c * rows + r] * b[c * rows + r];
    const double sign = dot < 0 ? -1.0 : 1.0;
    for (std::size_t r = 0; r < rows; ++r) {
      num = std::max(num, std::fabs(sign * a[c * rows + r] - b[c * rows + r]));
      den = std::max(den, std::fabs(b[c * rows + r]));
    }
  }
  return den > 0 ? num / den : num;
}

// A network with a nonzero bias, so that the bias path is exercised too.
Network test_network(int n, double g, std::uint64_t seed) {
  Network net = gaussian_network(n, g, seed);
  for (int i = 0; i < n; ++i)
    net.bias[static_cast<std::size_t>(i)] =
        0.1 * detail::normal_at(detail::mix_seed(seed + 1), 7, static_cast<std::uint64_t>(i), 0);
  return net;
}

const char* precision_name(Precision p) {
  return p == Precision::fp64 ? "fp64" : "fp32";
}

// --- (a) whole runs, CPU vs CUDA -----------------------------------------------------------------

struct RunCase {
  const char* name;
  Model model;
  Integrator integrator;
  double g;
  double input_std;
};

SpectrumOptions run_options(const RunCase& c, BackendKind backend) {
  SpectrumOptions o;
  o.backend = backend;
  o.model = c.model;
  o.integrator = c.integrator;
  o.n = 96;
  o.k = 24;
  o.g = c.g;
  o.input_std = c.input_std;
  o.seed = 11;
  if (c.model == Model::map) {
    o.t_warmup = 200;  // steps
    o.t_ons_warmup = 200;
    o.t_sim = 2000;
    o.t_ons = 1;
  } else {
    o.dt = 0.1;
    o.t_warmup = 50;  // τ
    o.t_ons_warmup = 50;
    o.t_sim = 400;
    o.t_ons = 1;
  }
  return o;
}

TEST(CudaBackend, ChaoticRunsAgreeWithCpuWithinStandardErrors) {
  SKIP_WITHOUT_CUDA();
  const RunCase cases[] = {
      {"rate euler", Model::rate, Integrator::euler, 3.0, 0.0},
      {"rate euler + noise", Model::rate, Integrator::euler, 3.0, 0.3},
      {"rate rk4", Model::rate, Integrator::rk4, 3.0, 0.0},
      {"rate rk4 + noise", Model::rate, Integrator::rk4, 3.0, 0.3},
      {"map", Model::map, Integrator::euler, 2.0, 0.0},
      {"map + noise", Model::map, Integrator::euler, 2.0, 0.3},
  };
  for (const RunCase& c : cases) {
    SCOPED_TRACE(c.name);
    const SpectrumResult cpu = compute_spectrum(run_options(c, BackendKind::cpu));
    const SpectrumResult gpu = compute_spectrum(run_options(c, BackendKind::cuda));
    EXPECT_EQ(gpu.backend, "cuda");
    ASSERT_EQ(cpu.exponents.size(), gpu.exponents.size());
    // The trajectories separate after a while (chaos), so the two estimates are two samples of
    // the same quantity: their difference has variance σ_cpu² + σ_gpu².
    for (std::size_t i = 0; i < cpu.exponents.size(); ++i) {
      const double tol = 6 * std::hypot(cpu.stderr_[i], gpu.stderr_[i]) + 1e-6;
      EXPECT_NEAR(gpu.exponents[i], cpu.exponents[i], tol) << "exponent " << i;
    }
  }
}

TEST(CudaBackend, BelowOnsetRunsAgreeWithCpuTo1em9) {
  SKIP_WITHOUT_CUDA();
  const RunCase cases[] = {
      {"rate euler", Model::rate, Integrator::euler, 0.5, 0.0},
      {"rate rk4", Model::rate, Integrator::rk4, 0.5, 0.0},
      {"map", Model::map, Integrator::euler, 0.5, 0.0},
  };
  for (const RunCase& c : cases) {
    SCOPED_TRACE(c.name);
    const SpectrumResult cpu = compute_spectrum(run_options(c, BackendKind::cpu));
    const SpectrumResult gpu = compute_spectrum(run_options(c, BackendKind::cuda));
    ASSERT_EQ(cpu.exponents.size(), gpu.exponents.size());
    for (std::size_t i = 0; i < cpu.exponents.size(); ++i)
      EXPECT_NEAR(gpu.exponents[i], cpu.exponents[i], 1e-9) << "exponent " << i;
  }
}

// --- (b) the first steps, primitive by primitive
// --------------------------------------------------

struct StepCase {
  const char* name;
  Model model;
  Integrator integrator;
};

TEST(CudaBackend, FirstStepsMatchCpuToRounding) {
  SKIP_WITHOUT_CUDA();
  const int n = 97, k = 24;  // not a multiple of 16: exercises the row kernels' tail loops
  const std::uint64_t seed = 3;
  const Network net = test_network(n, 2.5, seed);
  const StepCase cases[] = {{"rate euler", Model::rate, Integrator::euler},
                            {"rate rk4", Model::rate, Integrator::rk4},
                            {"map", Model::map, Integrator::euler}};
  for (Precision p : {Precision::fp64, Precision::fp32}) {
    const double tol = p == Precision::fp64 ? 1e-12 : 1e-4;
    for (const StepCase& c : cases) {
      for (double sigma : {0.0, 0.3}) {
        SCOPED_TRACE(std::string(c.name) + ", " + precision_name(p) +
                     ", sigma = " + std::to_string(sigma));
        detail::Dynamics dyn;
        dyn.model = c.model;
        dyn.integrator = c.integrator;
        dyn.dt = c.model == Model::map ? 1.0 : 0.1;
        dyn.input_std = sigma;
        dyn.noise_key = detail::mix_seed(seed ^ 0x55);
        auto cpu = detail::make_cpu_backend(p, QrMethod::householder);
        auto gpu = detail::make_cuda_backend(p, QrMethod::householder, 0);
        EXPECT_EQ(gpu->name(), "cuda");
        for (auto* b : {cpu.get(), gpu.get()}) {
          b->upload(net, dyn, k);
          b->set_state(detail::initial_state(n, seed));
          b->set_basis(detail::initial_basis(n, k, seed));
          b->advance_state(0, 3);
        }
        EXPECT_LT(rel_diff(gpu->state(), cpu->state()), tol) << "after 3 state steps";
        for (auto* b : {cpu.get(), gpu.get()}) b->advance_tangent(3, 5);
        EXPECT_LT(rel_diff(gpu->state(), cpu->state()), tol) << "after 5 tangent steps";
        EXPECT_LT(rel_diff(gpu->basis(), cpu->basis()), tol) << "after 5 tangent steps";
      }
    }
  }
}

TEST(CudaBackend, StateTrajectoryDoesNotDependOnK) {
  SKIP_WITHOUT_CUDA();
  const int n = 70;
  const Network net = test_network(n, 3.0, 5);
  detail::Dynamics dyn;
  dyn.input_std = 0.2;
  dyn.noise_key = 99;
  std::vector<std::vector<double>> states;
  for (int k : {1, 5, 70}) {
    auto gpu = detail::make_cuda_backend(Precision::fp64, QrMethod::householder, 0);
    gpu->upload(net, dyn, k);
    gpu->set_state(detail::initial_state(n, 5));
    gpu->set_basis(detail::initial_basis(n, k, 5));
    gpu->advance_tangent(0, 10);
    gpu->reorthonormalize(true);
    gpu->advance_tangent(10, 10);
    states.push_back(gpu->state());
  }
  EXPECT_EQ(states[0], states[1]);
  EXPECT_EQ(states[0], states[2]);
}

// --- (c) one re-orthonormalisation ------------------------------------------------------------

struct QrResult {
  std::vector<double> logs, basis, logs_after_take;
};

QrResult orthonormalize_once(detail::Backend& b, const std::vector<double>& q, int n, int k) {
  detail::Dynamics dyn;
  b.upload(test_network(n, 1.0, 1), dyn, k);
  b.set_basis(q);
  b.reorthonormalize(true);
  QrResult r;
  r.logs = b.take_log_sums();
  r.basis = b.basis();
  r.logs_after_take = b.take_log_sums();
  return r;
}

// Number of columns whose new direction points against the old one: R_cc = q_out_c · q_in_c < 0.
// CholeskyQR2 gives R_cc > 0 always; Householder QR (LAPACK, cuSOLVER) flips about half the signs,
// so the signs tell which method ran.
int negative_diagonals(const std::vector<double>& q_in, const std::vector<double>& q_out, int n,
                       int k) {
  int neg = 0;
  for (int c = 0; c < k; ++c) {
    double dot = 0;
    for (int r = 0; r < n; ++r)
      dot += q_in[static_cast<std::size_t>(c) * n + r] * q_out[static_cast<std::size_t>(c) * n + r];
    neg += dot < 0;
  }
  return neg;
}

void expect_logs_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "log|R_ii| " << i;
}

TEST(CudaBackend, ReorthonormalizeMatchesCpu) {
  SKIP_WITHOUT_CUDA();
  const int n = 120, k = 40;
  const std::vector<double> q = detail::initial_basis(n, k, 9);
  for (Precision p : {Precision::fp64, Precision::fp32}) {
    const double tol = p == Precision::fp64 ? 1e-12 : 1e-5;
    for (QrMethod m : {QrMethod::householder, QrMethod::cholesky2}) {
      SCOPED_TRACE(std::string(precision_name(p)) + ", " + std::string(to_string(m)));
      auto cpu = detail::make_cpu_backend(p, m);
      auto gpu = detail::make_cuda_backend(p, m, 0);
      const QrResult a = orthonormalize_once(*cpu, q, n, k);
      const QrResult b = orthonormalize_once(*gpu, q, n, k);
      expect_logs_near(b.logs, a.logs, tol);
      EXPECT_LT(rel_diff_up_to_column_signs(b.basis, a.basis, n), tol * 10);
      if (m == QrMethod::cholesky2) {
        EXPECT_EQ(negative_diagonals(q, b.basis, n, k), 0)
            << "CholeskyQR2 ran (no fallback) on a well-conditioned basis";
      }
      for (double v : b.logs_after_take) EXPECT_EQ(v, 0.0) << "take_log_sums must zero the sums";
    }
  }
}

// Columns scaled over 8 decades: R₁'s diagonal spans ~1e8 > 1e6, so CholeskyQR2 must fall back to
// Householder on both backends (and `auto` is CholeskyQR2 with that fallback on the GPU).
TEST(CudaBackend, CholeskyQr2FallsBackToHouseholderLikeCpu) {
  SKIP_WITHOUT_CUDA();
  const int n = 120, k = 40;
  std::vector<double> q = detail::initial_basis(n, k, 13);
  for (int c = 0; c < k; ++c)
    for (int r = 0; r < n; ++r)
      q[static_cast<std::size_t>(c) * n + r] *= std::pow(10.0, -8.0 * c / (k - 1));
  auto cpu = detail::make_cpu_backend(Precision::fp64, QrMethod::householder);
  const QrResult want = orthonormalize_once(*cpu, q, n, k);
  for (QrMethod m : {QrMethod::cholesky2, QrMethod::auto_select}) {
    SCOPED_TRACE(std::string(to_string(m)));
    auto gpu = detail::make_cuda_backend(Precision::fp64, m, 0);
    const QrResult got = orthonormalize_once(*gpu, q, n, k);
    expect_logs_near(got.logs, want.logs, 1e-12);
    EXPECT_LT(rel_diff_up_to_column_signs(got.basis, want.basis, n), 1e-11);
    EXPECT_GT(negative_diagonals(q, got.basis, n, k), 0) << "Householder signs: the fallback ran";
  }
}

// Sizes that need several blocks in every kernel: a row tail (n = 1025), more column blocks than
// one grid row holds, and k > 256 for the diagonal kernels.
TEST(CudaBackend, LargeShapesMatchCpu) {
  SKIP_WITHOUT_CUDA();
  const int n = 1025, k = 450;
  const Network net = test_network(n, 2.0, 21);
  for (QrMethod m : {QrMethod::householder, QrMethod::cholesky2}) {
    SCOPED_TRACE(std::string(to_string(m)));
    auto cpu = detail::make_cpu_backend(Precision::fp64, m);
    auto gpu = detail::make_cuda_backend(Precision::fp64, m, 0);
    detail::Dynamics dyn;
    dyn.dt = 0.1;
    for (detail::Backend* b : {cpu.get(), gpu.get()}) {
      b->upload(net, dyn, k);
      b->set_state(detail::initial_state(n, 2));
      b->set_basis(detail::initial_basis(n, k, 2));
      b->reorthonormalize(false);
      b->advance_tangent(0, 3);
      b->reorthonormalize(true);
    }
    expect_logs_near(gpu->take_log_sums(), cpu->take_log_sums(), 1e-11);
    EXPECT_LT(rel_diff_up_to_column_signs(gpu->basis(), cpu->basis(), n), 1e-10);
  }
}

// --- (d) fp32 on the GPU against fp64 on the CPU ------------------------------------------------

TEST(CudaBackend, Fp32BelowOnsetMatchesFp64Cpu) {
  SKIP_WITHOUT_CUDA();
  for (QrMethod m : {QrMethod::householder, QrMethod::auto_select}) {
    SCOPED_TRACE(std::string(to_string(m)));
    const RunCase c{"rate euler", Model::rate, Integrator::euler, 0.5, 0.0};
    SpectrumOptions o = run_options(c, BackendKind::cpu);
    const SpectrumResult cpu = compute_spectrum(o);
    o.backend = BackendKind::cuda;
    o.precision = Precision::fp32;
    o.qr = m;
    const SpectrumResult gpu = compute_spectrum(o);
    ASSERT_EQ(cpu.exponents.size(), gpu.exponents.size());
    for (std::size_t i = 0; i < cpu.exponents.size(); ++i)
      EXPECT_NEAR(gpu.exponents[i], cpu.exponents[i], 1e-3) << "exponent " << i;
  }
}

// --- (e) sizes and devices ---------------------------------------------------------------------

TEST(CudaBackend, RunLargerThanDeviceMemoryIsInvalidInput) {
  SKIP_WITHOUT_CUDA();
  const std::vector<DeviceInfo> devices = cuda_devices();
  auto gpu = detail::make_cuda_backend(Precision::fp64, QrMethod::householder, 0);
  Network big;  // J itself is never touched: the size check comes first
  big.n = 200000;
  const std::size_t j_mib = static_cast<std::size_t>(big.n) * big.n * sizeof(double) >> 20;
  try {
    gpu->upload(big, detail::Dynamics{}, big.n);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        what, m, std::regex(R"(needs (\d+) MiB of GPU memory; .* has (\d+) MiB free)")))
        << what;
    EXPECT_GE(std::stoull(m[1].str()), j_mib) << what;
    EXPECT_LE(std::stoull(m[2].str()), devices[0].total_memory >> 20) << what;
    EXPECT_NE(what.find(devices[0].name), std::string::npos) << what;
  }
}

TEST(CudaBackend, DevicesAreDescribed) {
  SKIP_WITHOUT_CUDA();
  const std::vector<DeviceInfo> devices = cuda_devices();
  for (const DeviceInfo& d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.cc_major, 5);
    EXPECT_GT(d.multiprocessors, 0);
    EXPECT_GT(d.total_memory, 0u);
    EXPECT_LE(d.free_memory, d.total_memory);
  }
  auto gpu = detail::make_cuda_backend(Precision::fp64, QrMethod::householder, 0);
  EXPECT_EQ(gpu->name(), "cuda");
  EXPECT_EQ(gpu->device(), devices[0].name);
  EXPECT_THROW(detail::make_cuda_backend(Precision::fp64, QrMethod::householder,
                                         static_cast<int>(devices.size()) + 7),
               BackendUnavailable);
}

}  // namespace
}  // namespace rnnlyap
