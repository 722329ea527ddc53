// Small kernels around the re-orthonormalisation: log|R_ii| accumulation on the device (fp64 for
// every working precision), the CholeskyQR2 fallback test, and the lazy devInfo bookkeeping.
#include <cmath>

#include "cuda/cuda_check.hpp"
#include "device_math.cuh"
#include "launch.cuh"

namespace rnnlyap::cuda::kernels {
namespace {

constexpr int kThreads = 256;  // a power of two (the reduction below halves it)

// Keeps the first nonzero devInfo of a cuSOLVER call; read back in take_log_sums().
__device__ __forceinline__ void fold_info(const int* info, int* sticky) {
  const int v = *info;
  if (v != 0 && *sticky == 0) *sticky = v;
}

template <class T>
__global__ void householder_logs_kernel(int n, int k, const T* __restrict__ qr, int accumulate,
                                        double* __restrict__ logs, const int* info, int* sticky) {
  const int i = global_row();
  if (i == 0) fold_info(info, sticky);
  if (accumulate == 0 || i >= k) return;
  const double rii =
      static_cast<double>(qr[static_cast<std::size_t>(i) * static_cast<std::size_t>(n) + i]);
  logs[i] += log(fabs(rii));
}

__global__ void record_info_kernel(const int* info, int* sticky) {
  fold_info(info, sticky);
}

// dmin/dmax exactly as CpuBackend::cholesky_qr2's std::min/std::max (a NaN never wins).
template <class T>
__global__ void __launch_bounds__(kThreads)
    cholesky_check_kernel(int k, const T* __restrict__ r, const int* __restrict__ info,
                          double max_cond, double* __restrict__ diag1, int* __restrict__ fail) {
  __shared__ double smin[kThreads];
  __shared__ double smax[kThreads];
  const int t = static_cast<int>(threadIdx.x);
  double dmin = INFINITY, dmax = 0;
  for (int i = t; i < k; i += kThreads) {
    const double d =
        fabs(static_cast<double>(r[static_cast<std::size_t>(i) * static_cast<std::size_t>(k) + i]));
    diag1[i] = d;
    dmin = d < dmin ? d : dmin;
    dmax = dmax < d ? d : dmax;
  }
  smin[t] = dmin;
  smax[t] = dmax;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      smin[t] = smin[t + stride] < smin[t] ? smin[t + stride] : smin[t];
      smax[t] = smax[t] < smax[t + stride] ? smax[t + stride] : smax[t];
    }
    __syncthreads();
  }
  if (t == 0) *fail = (*info != 0 || !(smax[0] <= max_cond * smin[0])) ? 1 : 0;
}

template <class T>
__global__ void cholesky_logs_kernel(int k, const T* __restrict__ r, const int* info,
                                     const double* __restrict__ diag1, int accumulate,
                                     double* __restrict__ logs, int* sticky) {
  const int i = global_row();
  if (i == 0) fold_info(info, sticky);
  if (accumulate == 0 || i >= k) return;
  const double d =
      fabs(static_cast<double>(r[static_cast<std::size_t>(i) * static_cast<std::size_t>(k) + i]));
  logs[i] += log(diag1[i]) + log(d);  // log|R_ii| of R = R2 R1
}

}  // namespace

template <class T>
void householder_logs(int n, int k, const T* qr, bool accumulate, double* logs, const int* info,
                      int* sticky, cudaStream_t stream) {
  householder_logs_kernel<T><<<blocks_for(k, kThreads), kThreads, 0, stream>>>(
      n, k, qr, accumulate ? 1 : 0, logs, info, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(householder_logs_kernel);
}

void record_info(const int* info, int* sticky, cudaStream_t stream) {
  record_info_kernel<<<1, 1, 0, stream>>>(info, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(record_info_kernel);
}

template <class T>
void cholesky_check(int k, const T* r, const int* info, double max_cond, double* diag1, int* fail,
                    cudaStream_t stream) {
  cholesky_check_kernel<T><<<1, kThreads, 0, stream>>>(k, r, info, max_cond, diag1, fail);
  RNNLYAP_CUDA_CHECK_LAUNCH(cholesky_check_kernel);
}

template <class T>
void cholesky_logs(int k, const T* r, const int* info, const double* diag1, bool accumulate,
                   double* logs, int* sticky, cudaStream_t stream) {
  cholesky_logs_kernel<T><<<blocks_for(k, kThreads), kThreads, 0, stream>>>(
      k, r, info, diag1, accumulate ? 1 : 0, logs, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(cholesky_logs_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                                     \
  template void householder_logs<T>(int, int, const T*, bool, double*, const int*, int*,           \
                                    cudaStream_t);                                                 \
  template void cholesky_check<T>(int, const T*, const int*, double, double*, int*, cudaStream_t); \
  template void cholesky_logs<T>(int, const T*, const int*, const double*, bool, double*, int*,    \
                                 cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
