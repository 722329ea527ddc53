// The CUDA batch propagator (src/cuda/cuda_batch_backend.cpp) against the CPU batch
// (src/cpu/cpu_batch_backend.cpp, B CPU backends): the first tangent steps and one
// re-orthonormalisation agree to rounding for every member, for every model, with noise (each
// member its own key). Every test skips when no CUDA device is present, so CPU-only CI stays green.
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

namespace rnnlyap {
namespace {

bool have_cuda() {
  static const bool present = !cuda_devices().empty();
  return present;
}

#define SKIP_WITHOUT_CUDA() \
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device"

// max_i |a_i - b_i| / max_i |b_i| over one member's slice [from, from + count).
double rel_diff(const std::vector<double>& a, const std::vector<double>& b, std::size_t from,
                std::size_t count) {
  double num = 0, den = 0;
  for (std::size_t i = from; i < from + count; ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return den > 0 ? num / den : num;
}

const char* precision_name(Precision p) {
  return p == Precision::fp64 ? "fp64" : "fp32";
}

struct StepCase {
  const char* name;
  Model model;
  Integrator integrator;
};

// B networks gaussian_network(n, g, 1..B) with a small bias each (the bias path too), their
// initial states and bases one after another, and one noise key per member.
struct Batch {
  std::vector<Network> nets;
  std::vector<std::uint64_t> keys;
  std::vector<double> state, basis;
};

Batch make_batch(int members, int n, int k, double g) {
  Batch b;
  for (int m = 0; m < members; ++m) {
    const std::uint64_t seed = static_cast<std::uint64_t>(m + 1);
    Network net = gaussian_network(n, g, seed);
    for (int i = 0; i < n; ++i)
      net.bias[static_cast<std::size_t>(i)] =
          0.1 * detail::normal_at(detail::mix_seed(seed + 1), 7, static_cast<std::uint64_t>(i), 0);
    b.nets.push_back(std::move(net));
    b.keys.push_back(detail::noise_key(seed));
    const std::vector<double> h = detail::initial_state(n, seed);
    const std::vector<double> q = detail::initial_basis(n, k, seed);
    b.state.insert(b.state.end(), h.begin(), h.end());
    b.basis.insert(b.basis.end(), q.begin(), q.end());
  }
  return b;
}

// Unit roundoff-sized machine epsilon of the working precision.
double machine_eps(Precision p) {
  return p == Precision::fp64 ? 0x1p-52 : 0x1p-23;
}

// The largest column norm of one member's n×k block.
double max_column_norm(const std::vector<double>& q, std::size_t from, int n, int k) {
  double worst = 0;
  for (std::size_t c = 0; c < static_cast<std::size_t>(k); ++c) {
    double s = 0;
    for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r) {
      const double v = q[from + c * static_cast<std::size_t>(n) + r];
      s += v * v;
    }
    worst = std::max(worst, std::sqrt(s));
  }
  return worst;
}

// Runs both batches through: upload, set state and basis, 3 state steps, 5 tangent steps (state
// and basis compared), one re-orthonormalisation with accumulation (logs and bases compared),
// then one more tangent step and re-orthonormalisation without accumulation.
//
// The QR comparison is exact to `tol` where the QR is well conditioned, and no stricter than the
// QR's own sensitivity where it is not. The two QR inputs differ by δ (the relative basis
// difference after the steps) and the two QRs round differently (ε), so log|R_ii| and q_i may
// differ by about (δ + ε) ‖A‖ max_{j≤i} 1/R_jj, and no implementation can do better. That bound
// matters: the map's basis after 5 steps with k = N = 40 has R_ii down to ~1e-14 (J diag φ'(h)
// with saturated units is nearly singular), where a one-ulp perturbation of the input already
// changes log|R_ii| by 0.08 on the CPU alone; rate with k = N has R_ii ≥ 0.05 and k = 10 R_ii >
// 0.7. Measured with LAPACK on the CPU, one-ulp input perturbations stay below 3.5 (δ + ε) ‖A‖ /R;
// the test allows 16.
void compare_batches(const StepCase& c, Precision p, QrMethod gpu_qr, int members, int n, int k,
                     double sigma) {
  const double tol = p == Precision::fp64 ? 1e-12 : 1e-4;
  const Batch batch = make_batch(members, n, k, c.model == Model::map ? 2.0 : 2.5);
  detail::Dynamics dyn;
  dyn.model = c.model;
  dyn.integrator = c.integrator;
  dyn.dt = c.model == Model::map ? 1.0 : 0.1;
  dyn.input_std = sigma;
  dyn.noise_key = 12345;  // must be ignored: each member uses its own key
  auto cpu = detail::make_cpu_batch_backend(p, QrMethod::householder);
  auto gpu = detail::make_cuda_batch_backend(p, gpu_qr, 0);
  EXPECT_EQ(gpu->name(), "cuda");
  for (detail::BatchBackend* b : {cpu.get(), gpu.get()}) {
    b->upload(batch.nets, dyn, batch.keys, k);
    b->set_state(batch.state);
    b->set_basis(batch.basis);
    b->advance_state(0, 3);
    b->advance_tangent(3, 5);
  }
  const std::size_t nn = static_cast<std::size_t>(n);
  const std::size_t nk = nn * static_cast<std::size_t>(k);
  const std::vector<double> hs_cpu = cpu->state(), hs_gpu = gpu->state();
  const std::vector<double> qs_cpu = cpu->basis(), qs_gpu = gpu->basis();
  ASSERT_EQ(hs_gpu.size(), nn * members);
  ASSERT_EQ(hs_cpu.size(), hs_gpu.size());
  ASSERT_EQ(qs_gpu.size(), nk * members);
  ASSERT_EQ(qs_cpu.size(), qs_gpu.size());
  std::vector<double> delta(static_cast<std::size_t>(members));
  for (int m = 0; m < members; ++m) {
    SCOPED_TRACE("member " + std::to_string(m));
    EXPECT_LT(rel_diff(hs_gpu, hs_cpu, m * nn, nn), tol) << "state after 5 tangent steps";
    delta[m] = rel_diff(qs_gpu, qs_cpu, m * nk, nk);
    EXPECT_LT(delta[m], tol) << "basis after 5 tangent steps";
  }
  // The members are different networks with different noise: their states differ.
  if (members > 1) {
    EXPECT_FALSE(std::equal(hs_gpu.begin(), hs_gpu.begin() + static_cast<std::ptrdiff_t>(nn),
                            hs_gpu.begin() + static_cast<std::ptrdiff_t>(nn)));
  }

  for (detail::BatchBackend* b : {cpu.get(), gpu.get()}) b->reorthonormalize(true);
  const std::vector<double> logs_cpu = cpu->take_log_sums(), logs_gpu = gpu->take_log_sums();
  const std::vector<double> q_cpu = cpu->basis(), q_gpu = gpu->basis();
  ASSERT_EQ(logs_gpu.size(), static_cast<std::size_t>(members) * k);
  ASSERT_EQ(logs_cpu.size(), logs_gpu.size());
  ASSERT_EQ(q_gpu.size(), q_cpu.size());
  const double eps = machine_eps(p);
  for (int m = 0; m < members; ++m) {
    SCOPED_TRACE("member " + std::to_string(m));
    const std::size_t from = m * nk;
    const double sensitivity = 16 * (delta[m] + eps) * max_column_norm(qs_cpu, from, n, k);
    double max_inv_r = 0;  // max_{j≤i} 1/R_jj
    for (int i = 0; i < k; ++i) {
      const std::size_t li = static_cast<std::size_t>(m) * k + i;
      max_inv_r = std::max(max_inv_r, std::exp(-logs_cpu[li]));
      const double allowed =
          std::max(tol * std::max(1.0, std::fabs(logs_cpu[li])), sensitivity * max_inv_r);
      EXPECT_NEAR(logs_gpu[li], logs_cpu[li], allowed) << "log|R_ii|, i = " << i;
      // Column i up to its sign (a QR determines Q up to the signs of R's diagonal).
      const std::size_t o = from + static_cast<std::size_t>(i) * nn;
      double dot = 0;
      for (std::size_t r = 0; r < nn; ++r) dot += q_gpu[o + r] * q_cpu[o + r];
      const double sign = dot < 0 ? -1.0 : 1.0;
      double diff = 0;
      for (std::size_t r = 0; r < nn; ++r)
        diff = std::max(diff, std::fabs(sign * q_gpu[o + r] - q_cpu[o + r]));
      EXPECT_LE(diff, std::max(10 * tol, sensitivity * max_inv_r)) << "basis column " << i;
    }
    // Orthonormal columns: QᵀQ = I.
    double worst = 0;
    for (int a = 0; a < k; ++a)
      for (int b = 0; b <= a; ++b) {
        double dot = 0;
        for (std::size_t r = 0; r < nn; ++r)
          dot += q_gpu[from + static_cast<std::size_t>(a) * nn + r] *
                 q_gpu[from + static_cast<std::size_t>(b) * nn + r];
        worst = std::max(worst, std::fabs(dot - (a == b ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 64 * n * eps) << "QᵀQ = I";
  }
  for (double v : gpu->take_log_sums()) EXPECT_EQ(v, 0.0) << "take_log_sums must zero the sums";

  // Without accumulation the logs stay zero, and the state still follows the CPU's.
  for (detail::BatchBackend* b : {cpu.get(), gpu.get()}) {
    b->advance_tangent(8, 1);
    b->reorthonormalize(false);
  }
  for (double v : gpu->take_log_sums()) EXPECT_EQ(v, 0.0) << "reorthonormalize(false) adds no logs";
  const std::vector<double> h_cpu = cpu->state(), h_gpu = gpu->state();
  for (int m = 0; m < members; ++m)
    EXPECT_LT(rel_diff(h_gpu, h_cpu, m * nn, nn), tol) << "state of member " << m;
}

const StepCase kCases[] = {{"rate euler", Model::rate, Integrator::euler},
                           {"rate rk4", Model::rate, Integrator::rk4},
                           {"map", Model::map, Integrator::euler}};

TEST(CudaBatch, StepsAndQrMatchCpuBatch) {
  SKIP_WITHOUT_CUDA();
  for (Precision p : {Precision::fp64, Precision::fp32})
    for (const StepCase& c : kCases)
      for (int k : {40, 10}) {
        SCOPED_TRACE(std::string(c.name) + ", " + precision_name(p) + ", k = " + std::to_string(k));
        compare_batches(c, p, QrMethod::householder, 5, 40, k, 0.3);
      }
}

TEST(CudaBatch, WithoutNoiseAndForEveryQrMethod) {
  SKIP_WITHOUT_CUDA();
  for (QrMethod m : {QrMethod::cholesky2, QrMethod::auto_select})
    for (const StepCase& c : kCases) {
      SCOPED_TRACE(std::string(c.name) + ", " + std::string(to_string(m)));
      compare_batches(c, Precision::fp64, m, 3, 33, 7, 0.0);
    }
}

// n > 256: the per-member cuSOLVER QR; n not a multiple of 16 or 32 (the kernels' tail loops).
TEST(CudaBatch, LargerNetworksUseThePerMemberQrAndMatchCpu) {
  SKIP_WITHOUT_CUDA();
  for (const StepCase& c : kCases) {
    SCOPED_TRACE(c.name);
    compare_batches(c, Precision::fp64, QrMethod::householder, 2, 301, 24, 0.3);
  }
}

// The largest batched-QR size, with k = n (the last reflector of a square block).
TEST(CudaBatch, BatchedQrAtItsLargestSize) {
  SKIP_WITHOUT_CUDA();
  compare_batches(kCases[0], Precision::fp64, QrMethod::householder, 2, 256, 256, 0.0);
}

// A batch of one is the single-network CUDA backend.
TEST(CudaBatch, BatchOfOneMatchesSingleCudaBackend) {
  SKIP_WITHOUT_CUDA();
  const int n = 50, k = 12;
  const Batch batch = make_batch(1, n, k, 2.0);
  detail::Dynamics dyn;
  dyn.input_std = 0.2;
  dyn.noise_key = batch.keys[0];
  auto single = detail::make_cuda_backend(Precision::fp64, QrMethod::householder, 0);
  auto batched = detail::make_cuda_batch_backend(Precision::fp64, QrMethod::householder, 0);
  single->upload(batch.nets[0], dyn, k);
  batched->upload(batch.nets, dyn, batch.keys, k);
  single->set_state(batch.state);
  batched->set_state(batch.state);
  single->set_basis(batch.basis);
  batched->set_basis(batch.basis);
  single->advance_tangent(0, 7);
  batched->advance_tangent(0, 7);
  EXPECT_EQ(batched->state(), single->state()) << "the same kernels' arithmetic, bit for bit";
  EXPECT_LT(rel_diff(batched->basis(), single->basis(), 0, static_cast<std::size_t>(n) * k), 1e-12);
}

TEST(CudaBatch, InvalidUploadsThrowInvalidInput) {
  SKIP_WITHOUT_CUDA();
  auto gpu = detail::make_cuda_batch_backend(Precision::fp64, QrMethod::householder, 0);
  Batch batch = make_batch(2, 20, 5, 1.0);
  detail::Dynamics dyn;
  EXPECT_THROW(gpu->upload(batch.nets, dyn, {1}, 5), InvalidInput) << "one key per network";
  EXPECT_THROW(gpu->upload(batch.nets, dyn, batch.keys, 21), InvalidInput) << "k > N";
  EXPECT_THROW(gpu->upload({}, dyn, {}, 5), InvalidInput) << "no networks";
  std::vector<Network> mixed = batch.nets;
  mixed[1] = gaussian_network(21, 1.0, 3);
  EXPECT_THROW(gpu->upload(mixed, dyn, batch.keys, 5), InvalidInput) << "different sizes";
  EXPECT_THROW(gpu->state(), Error) << "nothing uploaded";
  gpu->upload(batch.nets, dyn, batch.keys, 5);
  EXPECT_THROW(gpu->set_state(std::vector<double>(20)), InvalidInput) << "one member's state";
  EXPECT_THROW(gpu->set_basis(std::vector<double>(100)), InvalidInput) << "one member's basis";
}

TEST(CudaBatch, RunLargerThanDeviceMemoryIsInvalidInput) {
  SKIP_WITHOUT_CUDA();
  const std::vector<DeviceInfo> devices = cuda_devices();
  auto gpu = detail::make_cuda_batch_backend(Precision::fp64, QrMethod::householder, 0);
  EXPECT_EQ(gpu->device(), devices[0].name);
  const int members = 4;
  Network big;  // J itself is never touched: the size check comes first
  big.n = 200000;
  const std::vector<Network> nets(members, big);
  const std::vector<std::uint64_t> keys(members, 1);
  const std::size_t j_mib =
      static_cast<std::size_t>(members) * big.n * big.n * sizeof(double) >> 20;
  try {
    gpu->upload(nets, detail::Dynamics{}, keys, 10);
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
  // The backend is still usable after the failed upload.
  const Batch batch = make_batch(2, 16, 4, 1.0);
  gpu->upload(batch.nets, detail::Dynamics{}, batch.keys, 4);
  gpu->set_basis(batch.basis);
  gpu->reorthonormalize(true);
  EXPECT_EQ(gpu->take_log_sums().size(), 8u);
}

TEST(CudaBatch, UnknownDeviceIsUnavailable) {
  SKIP_WITHOUT_CUDA();
  const int count = static_cast<int>(cuda_devices().size());
  EXPECT_THROW(detail::make_cuda_batch_backend(Precision::fp64, QrMethod::householder, count + 7),
               BackendUnavailable);
}

}  // namespace
}  // namespace rnnlyap
