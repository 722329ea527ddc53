// Kernels of the re-orthonormalisation (cuda_reorthonormalizer.cpp): log|R_ii| accumulation in
// fp64 for every working precision, Q formed from batched geqrf's reflectors, the CholeskyQR
// verdicts, and the lazy devInfo bookkeeping.
#include "cuda_check.hpp"
#include "device_api.cuh"
#include "device_math.cuh"
#include "kernels.hpp"

namespace rnnlyap::cuda::kernels {
namespace {

constexpr int kThreads = 256;  // a power of two (the reductions halve it) and a multiple of 32

// Keeps the first nonzero devInfo of a cuSOLVER call; read back in take_logs_blocking().
__device__ __forceinline__ void fold_info(const int* info, int* sticky) {
  const int v = *info;
  if (v != 0) atomicCAS(sticky, 0, v);
}

template <class T>
__global__ void pointers_kernel(int batch, T* base, long long stride, T** out) {
  const long long b = global_index();
  if (b < batch) out[b] = base + b * stride;
}

// logs[o] += log|R_ii| = l, and max_ratio[o] raised to log|R_11| − l = first − l when that is
// finite (an exactly zero R_ii or R_11 is exact; NaN is check_logs' business): the CPU's add_logs
// (src/cpu/orthonormalize.hpp). Each entry has one thread.
__device__ __forceinline__ void add_log(double l, double first, double* logs, double* max_ratio) {
  *logs += l;
  const double ratio = first - l;
  if (ratio > *max_ratio && ratio <= 1.7976931348623157e308) *max_ratio = ratio;
}

template <class T>
__global__ void householder_logs_kernel(int batch, int rows, int k, const T* __restrict__ qr,
                                        int accumulate, double* __restrict__ logs,
                                        double* __restrict__ max_ratio, const int* info,
                                        int* sticky) {
  const long long t = global_index();
  if (t == 0 && info != nullptr) fold_info(info, sticky);
  if (accumulate == 0 || t >= static_cast<long long>(batch) * k) return;
  const std::size_t b = static_cast<std::size_t>(t / k), i = static_cast<std::size_t>(t % k);
  const std::size_t ld = static_cast<std::size_t>(rows);
  const T* r = qr + b * ld * k;
  add_log(log(fabs(static_cast<double>(r[i * ld + i]))), log(fabs(static_cast<double>(r[0]))),
          logs + t, max_ratio + t);
}

__global__ void record_info_kernel(const int* info, int* sticky) {
  fold_info(info, sticky);
}

// Q = H_0 H_1 … H_{k-1} [I_k; 0] formed in place from geqrf's reflectors, LAPACK's dorg2r for
// every member: for j = k-1 down to 0, apply H_j = I - tau_j v_j v_jᵀ (v_j = [0…0, 1,
// A(j+1:n, j)]) from the left to the columns j+1..k-1 already formed, then form column j itself
// (-tau_j v_j with 1 - tau_j on the diagonal, zeros above). One block per member; one warp per
// column, the warp's lanes striding over the rows; the dot product is reduced in a fixed order
// (lane-strided partial sums, then a shuffle tree), so the result does not depend on scheduling.
// Column j's reflector is only read while the other columns are updated and only overwritten
// after the block's barrier.
template <class T>
__global__ void __launch_bounds__(kThreads)
    form_q_kernel(int batch, int n, int k, T* __restrict__ a, const T* __restrict__ tau) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int warps = static_cast<int>(blockDim.x) >> 5;
  const std::size_t ld = static_cast<std::size_t>(n);
  for (long long b = blockIdx.x; b < batch; b += gridDim.x) {
    T* ab = a + static_cast<std::size_t>(b) * ld * static_cast<std::size_t>(k);
    const T* tb = tau + static_cast<std::size_t>(b) * static_cast<std::size_t>(k);
    for (int j = k - 1; j >= 0; --j) {
      const T tj = tb[j];
      const T* v = ab + static_cast<std::size_t>(j) * ld;
      for (int c = j + 1 + warp; c < k; c += warps) {
        T* qc = ab + static_cast<std::size_t>(c) * ld;
        T dot = T(0);
        for (int i = j + lane; i < n; i += 32)
          dot = add_rn(dot, mul_rn(i == j ? T(1) : v[i], qc[i]));
        for (int off = 16; off > 0; off >>= 1)
          dot = add_rn(dot, __shfl_down_sync(0xffffffffu, dot, off));
        const T wc = mul_rn(tj, __shfl_sync(0xffffffffu, dot, 0));  // tau_j v_jᵀ q_c
        for (int i = j + lane; i < n; i += 32) qc[i] = qc[i] - mul_rn(wc, i == j ? T(1) : v[i]);
      }
      __syncthreads();  // every column has read v_j
      for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x)) {
        T& e = ab[static_cast<std::size_t>(j) * ld + static_cast<std::size_t>(i)];
        e = i < j ? T(0) : (i == j ? T(1) - tj : -tj * e);
      }
      __syncthreads();  // column j is formed before H_{j-1} reads it
    }
  }
}

// Sets the k×k block r to the identity (the block's threads together).
template <class T>
__device__ void set_identity(int k, T* r) {
  const std::size_t kk = static_cast<std::size_t>(k) * k;
  for (std::size_t e = threadIdx.x; e < kk; e += blockDim.x) r[e] = e % (k + 1) == 0 ? T(1) : T(0);
}

// One block per member. dmin/dmax exactly as the CPU's std::min/std::max (a NaN never wins).
template <class T>
__global__ void __launch_bounds__(kThreads)
    cholesky_check_kernel(int k, T* __restrict__ r_all, const int* __restrict__ info,
                          double max_cond, double one_pass_cond, double* __restrict__ diag1,
                          int* __restrict__ verdict) {
  __shared__ double smin[kThreads], smax[kThreads];
  const int b = static_cast<int>(blockIdx.x), t = static_cast<int>(threadIdx.x);
  T* r = r_all + static_cast<std::size_t>(b) * k * k;
  if (verdict[b] == kSkipped) {
    set_identity(k, r);
    return;
  }
  double dmin = INFINITY, dmax = 0;
  for (int i = t; i < k; i += kThreads) {
    const double d = fabs(static_cast<double>(r[static_cast<std::size_t>(i) * (k + 1)]));
    diag1[static_cast<std::size_t>(b) * k + i] = d;
    // A diagonal that is not finite (a factorisation that failed without saying so, as some
    // LAPACKs do on a Gram matrix that overflowed) fails the ratio test for any max_cond.
    const bool finite = d <= 1.7976931348623157e308;
    dmin = !finite ? 0.0 : (d < dmin ? d : dmin);
    dmax = !finite ? INFINITY : (dmax < d ? d : dmax);
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
  const bool fail = info[b] != 0 || !(smax[0] <= max_cond * smin[0]);
  if (fail) set_identity(k, r);
  if (t == 0)
    verdict[b] =
        fail ? kFallback
             : (one_pass_cond > 0 && smax[0] <= one_pass_cond * smin[0] ? kOnePass : kTwoPasses);
}

// log|R_ii| of R = R₂R₁ (two: R₂ in r) or of R₁, from diag R₁ (d1) and the member's r.
template <class T>
__device__ __forceinline__ double cholesky_log(bool two, int k, const double* d1, const T* r,
                                               int i) {
  return two ? log(d1[i]) + log(fabs(static_cast<double>(r[static_cast<std::size_t>(i) * (k + 1)])))
             : log(d1[i]);
}

// One block per member.
template <class T>
__global__ void cholesky_finish_kernel(int k, T* __restrict__ r_all, const int* __restrict__ info,
                                       int second, const int* __restrict__ verdict,
                                       const double* __restrict__ diag1, int accumulate,
                                       double* __restrict__ logs, double* __restrict__ max_ratio,
                                       int* /*sticky*/) {
  const int b = static_cast<int>(blockIdx.x);
  T* r = r_all + static_cast<std::size_t>(b) * k * k;
  const int v = verdict[b];
  // info[b] nonzero: member b's second factorisation failed; it falls back to Householder QR
  // (cuda_reorthonormalizer.cpp), so it adds no logs here and nothing is reported.
  const bool two = second != 0 && v == kTwoPasses;
  const bool failed = two && info[b] != 0;
  if (second != 0 && (!two || failed)) set_identity(k, r);  // the second solve leaves Q as it is
  if (accumulate == 0 || failed || (v != kTwoPasses && v != kOnePass)) return;
  const double* d1 = diag1 + static_cast<std::size_t>(b) * k;
  const double first = cholesky_log(two, k, d1, r, 0);
  for (int i = static_cast<int>(threadIdx.x); i < k; i += static_cast<int>(blockDim.x)) {
    const std::size_t o = static_cast<std::size_t>(b) * k + i;
    add_log(cholesky_log(two, k, d1, r, i), first, logs + o, max_ratio + o);
  }
}

}  // namespace

template <class T>
void pointers(int batch, T* base, long long stride, T** out, cudaStream_t stream) {
  launch(pointers_kernel<T>, blocks_for(batch, kThreads), kThreads, stream, batch, base, stride,
         out);
  RNNLYAP_CUDA_CHECK_LAUNCH(pointers_kernel);
}

template <class T>
void householder_logs(int batch, int rows, int k, const T* qr, bool accumulate, double* logs,
                      double* max_ratio, const int* info, int* sticky, cudaStream_t stream) {
  launch(householder_logs_kernel<T>, blocks_for(static_cast<long long>(batch) * k, kThreads),
         kThreads, stream, batch, rows, k, qr, accumulate ? 1 : 0, logs, max_ratio, info, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(householder_logs_kernel);
}

void record_info(const int* info, int* sticky, cudaStream_t stream) {
  launch(record_info_kernel, 1, 1, stream, info, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(record_info_kernel);
}

template <class T>
void form_q(int batch, int rows, int k, T* qr, const T* tau, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(batch < (1 << 30) ? batch : (1 << 30));
  launch(form_q_kernel<T>, blocks, kThreads, stream, batch, rows, k, qr, tau);
  RNNLYAP_CUDA_CHECK_LAUNCH(form_q_kernel);
}

template <class T>
void cholesky_check(int batch, int k, T* r, const int* info, double max_cond, double one_pass_cond,
                    double* diag1, int* verdict, cudaStream_t stream) {
  launch(cholesky_check_kernel<T>, static_cast<unsigned>(batch), kThreads, stream, k, r, info,
         max_cond, one_pass_cond, diag1, verdict);
  RNNLYAP_CUDA_CHECK_LAUNCH(cholesky_check_kernel);
}

template <class T>
void cholesky_finish(int batch, int k, T* r, const int* info, bool second, const int* verdict,
                     const double* diag1, bool accumulate, double* logs, double* max_ratio,
                     int* sticky, cudaStream_t stream) {
  launch(cholesky_finish_kernel<T>, static_cast<unsigned>(batch), kThreads, stream, k, r, info,
         second ? 1 : 0, verdict, diag1, accumulate ? 1 : 0, logs, max_ratio, sticky);
  RNNLYAP_CUDA_CHECK_LAUNCH(cholesky_finish_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                                   \
  template void pointers<T>(int, T*, long long, T**, cudaStream_t);                              \
  template void householder_logs<T>(int, int, int, const T*, bool, double*, double*, const int*, \
                                    int*, cudaStream_t);                                         \
  template void form_q<T>(int, int, int, T*, const T*, cudaStream_t);                            \
  template void cholesky_check<T>(int, int, T*, const int*, double, double, double*, int*,       \
                                  cudaStream_t);                                                 \
  template void cholesky_finish<T>(int, int, T*, const int*, bool, const int*, const double*,    \
                                   bool, double*, double*, int*, cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
