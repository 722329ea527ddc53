// The kernels of src/cuda on the emulated device, each against a host computation of its own, at
// sizes that leave partial warps, partial row blocks and several members. Small and fast, so that
// the same binary also runs under ThreadSanitizer (fiber-annotated barriers and shuffles) and
// AddressSanitizer (tests/emulation/README.md). The emulator's own contract checks are exercised
// by death tests.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda/kernels.hpp"
#include "emu_runtime.hpp"
#include "lapack_decls.hpp"

namespace {

using rnnlyap::cuda::kernels::Verdict;
namespace k = rnnlyap::cuda::kernels;

template <class T>
struct Dev {
  explicit Dev(std::size_t n) : n_(n) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)) != cudaSuccess) std::abort();
  }
  Dev(const std::vector<T>& v, cudaStream_t s) : Dev(v.size()) { put(v, s); }
  ~Dev() { cudaFree(p); }
  void put(const std::vector<T>& v, cudaStream_t s) {
    cudaMemcpyAsync(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, s);
  }
  std::vector<T> get(cudaStream_t s) const {
    std::vector<T> v(n_);
    cudaMemcpyAsync(v.data(), p, n_ * sizeof(T), cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    return v;
  }
  T* p = nullptr;
  std::size_t n_;
};

class EmulatedKernels : public ::testing::Test {
 protected:
  void SetUp() override { cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); }
  void TearDown() override {
    cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
  }
  std::vector<double> random(std::size_t n, double scale = 1.0) {
    std::normal_distribution<double> d(0.0, scale);
    std::vector<double> v(n);
    for (auto& x : v) x = d(gen);
    return v;
  }
  cudaStream_t s = nullptr;
  std::mt19937_64 gen{7};
};

// Fails on NaN: |a - b| <= tol is false for NaN.
void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_TRUE(std::fabs(a[i] - b[i]) <= tol) << "at " << i << ": " << a[i] << " vs " << b[i];
}

// The row sums of the state step (block_row_dot: barriers, shared tiles) over 3 members of
// n = 70 rows (a partial 32-row block) and 70 columns (a partial 64-column tile).
TEST_F(EmulatedKernels, MapStateStepIsJPhi) {
  const int b = 3, n = 70;
  const auto j = random(std::size_t(b) * n * n, 0.3), bias = random(std::size_t(b) * n, 0.1),
             x = random(std::size_t(b) * n, 0.5);
  Dev<double> dj(j, s), dbias(bias, s), dx(x, s), dh(std::size_t(b) * n), dxo(std::size_t(b) * n);
  const std::vector<std::uint64_t> keys(b, 1);
  Dev<std::uint64_t> dkeys(keys, s);
  k::euler_or_map_state_step<double>(b, n, true, dj.p, dbias.p, dh.p, dx.p, dxo.p, 0.1, 0.0,
                                     dkeys.p, 0, s);
  const auto h = dh.get(s);
  std::vector<double> want(h.size());
  for (int m = 0; m < b; ++m)
    for (int r = 0; r < n; ++r) {
      double acc = 0;
      for (int c = 0; c < n; ++c)
        acc += j[std::size_t(m) * n * n + std::size_t(c) * n + r] * x[std::size_t(m) * n + c];
      want[std::size_t(m) * n + r] = acc + bias[std::size_t(m) * n + r];
    }
  expect_close(h, want, 1e-12);
}

// Q from batched geqrf's reflectors (form_q: warp shuffles and barriers) against LAPACK's dorgqr.
TEST_F(EmulatedKernels, FormQIsOrgqr) {
  const int b = 3, rows = 45, kk = 7;
  auto a = random(std::size_t(b) * rows * kk);
  std::vector<double> tau(std::size_t(b) * kk), want = a;
  int lwork = 64 * kk, info = 0;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  for (int m = 0; m < b; ++m) {
    double* am = a.data() + std::size_t(m) * rows * kk;
    dgeqrf_(&rows, &kk, am, &rows, tau.data() + m * kk, work.data(), &lwork, &info);
    ASSERT_EQ(info, 0);
    double* wm = want.data() + std::size_t(m) * rows * kk;
    std::copy(am, am + std::size_t(rows) * kk, wm);
    dorgqr_(&rows, &kk, &kk, wm, &rows, tau.data() + m * kk, work.data(), &lwork, &info);
    ASSERT_EQ(info, 0);
  }
  Dev<double> da(a, s), dtau(tau, s);
  k::form_q<double>(b, rows, kk, da.p, dtau.p, s);
  expect_close(da.get(s), want, 1e-13);
}

// The CholeskyQR verdicts (a shared-memory min/max reduction per member).
TEST_F(EmulatedKernels, CholeskyVerdicts) {
  const int b = 3, kk = 5;
  std::vector<double> r(std::size_t(b) * kk * kk, 0.0);
  const double diag[3][5] = {{1, 2, 3, 4, 5}, {1, 1e7, 1, 1, 1}, {1, 1, 1, 1, 1}};
  for (int m = 0; m < b; ++m)
    for (int i = 0; i < kk; ++i)
      r[std::size_t(m) * kk * kk + std::size_t(i) * (kk + 1)] = diag[m][i];
  const std::vector<int> info{0, 0, 0},
      verdict{Verdict::kTwoPasses, Verdict::kTwoPasses, Verdict::kSkipped};
  Dev<double> dr(r, s), diag1(std::size_t(b) * kk);
  Dev<int> dinfo(info, s), dverdict(verdict, s);
  k::cholesky_check<double>(b, kk, dr.p, dinfo.p, 1e6, 10.0, diag1.p, dverdict.p, s);
  const auto v = dverdict.get(s);
  EXPECT_EQ(v[0], Verdict::kOnePass);   // max/min 5 <= 10
  EXPECT_EQ(v[1], Verdict::kFallback);  // 1e7 > 1e6
  EXPECT_EQ(v[2], Verdict::kSkipped);
  const auto d1 = diag1.get(s);
  EXPECT_EQ(d1[4], 5.0);
}

// log|R_ii| accumulated from geqrf's diagonal, and a devInfo folded into the sticky word.
TEST_F(EmulatedKernels, HouseholderLogs) {
  const int b = 2, rows = 4, kk = 3;
  std::vector<double> qr(std::size_t(b) * rows * kk, 0.0);
  for (int m = 0; m < b; ++m)
    for (int i = 0; i < kk; ++i)
      qr[std::size_t(m) * rows * kk + std::size_t(i) * rows + i] = -(i + 2.0 + m);
  Dev<double> dqr(qr, s), logs(std::vector<double>(std::size_t(b) * kk, 1.0), s);
  Dev<double> ratio(std::vector<double>(std::size_t(b) * kk, -1.0), s);
  Dev<int> info(std::vector<int>{-4}, s), sticky(std::vector<int>{0}, s);
  k::householder_logs<double>(b, rows, kk, dqr.p, true, logs.p, ratio.p, info.p, sticky.p, s);
  const auto l = logs.get(s), r = ratio.get(s);
  for (int m = 0; m < b; ++m)
    for (int i = 0; i < kk; ++i) {
      EXPECT_DOUBLE_EQ(l[std::size_t(m) * kk + i], 1.0 + std::log(i + 2.0 + m));
      // raised from −1 to log|R_11| − log|R_ii|
      EXPECT_DOUBLE_EQ(r[std::size_t(m) * kk + i], std::log(2.0 + m) - std::log(i + 2.0 + m));
    }
  EXPECT_EQ(sticky.get(s)[0], -4);
}

// What the emulator refuses, each a process-ending report.
using EmulatorContracts = EmulatedKernels;

TEST_F(EmulatorContracts, HostPointerToKernel) {
  std::vector<double> host(8);
  EXPECT_DEATH(k::phi_into<double>(8, host.data(), host.data(), s), "not device memory");
}

TEST_F(EmulatorContracts, CopyOverrunsAllocation) {
  Dev<double> d(4);
  std::vector<double> host(8);
  EXPECT_DEATH(cudaMemcpyAsync(d.p, host.data(), 8 * sizeof(double), cudaMemcpyHostToDevice, s),
               "overrun");
}

TEST_F(EmulatorContracts, WrongCopyDirection) {
  Dev<double> d(4);
  std::vector<double> host(4);
  EXPECT_DEATH(cudaMemcpyAsync(host.data(), d.p, 4 * sizeof(double), cudaMemcpyHostToDevice, s),
               "device memory is required");
}

TEST_F(EmulatorContracts, FreeUnderQueuedWork) {
  EXPECT_DEATH(
      {
        Dev<double> d(4);
        k::phi_into<double>(4, d.p, d.p, s);
      },
      "while queued work");
}

TEST_F(EmulatorContracts, UnsyncedReadIsStale) {
  Dev<double> d(std::vector<double>{0.5, 0.5}, s);
  std::vector<double> out(2, -1.0);
  k::phi_into<double>(2, d.p, d.p, s);
  cudaMemcpyAsync(out.data(), d.p, 2 * sizeof(double), cudaMemcpyDeviceToHost, s);
  EXPECT_EQ(out[0], -1.0);  // nothing ran: no synchronisation yet
  cudaStreamSynchronize(s);
  EXPECT_DOUBLE_EQ(out[0], std::tanh(0.5));
}

TEST_F(EmulatorContracts, FreshMemoryIsNaN) {
  Dev<double> d(3);
  const auto v = d.get(s);
  EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[2]));
}

}  // namespace
