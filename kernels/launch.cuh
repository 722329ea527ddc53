// Host-callable launchers of rnnlyap's CUDA kernels. This header is plain C++ (no kernel code, no
// CUDA language extensions): src/cuda/cuda_backend.cpp includes it through the host compiler.
// Every launcher enqueues its kernel on `stream`, checks the launch (cudaGetLastError) and
// returns without synchronising. Instantiated for T = float and T = double. All matrices are
// column-major with leading dimension = number of rows.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rnnlyap::cuda::kernels {

/// Device buffers of the RK4 state step (n-vectors). Mirrors CpuBackend::rk4_state.
template <class T>
struct Rk4State {
  T* h = nullptr;  ///< the state; the last stage updates it in place
  T* x[4] = {};    ///< x[s] = φ(y_s); x[0] = φ(h) holds between steps
  T* y[4] = {};    ///< stage points y_s (y_0 = h before the step)
  T* f[4] = {};    ///< f(y_s) = -y_s + J φ(y_s) + b
};

/// x = φ(h) (after the state is set from the host).
template <class T>
void phi_into(int n, const T* h, T* x, cudaStream_t stream);

/// One Euler (rate) or map state step, fused: drive = J x_in (one thread per row, columns summed
/// in order 0..n-1), h ← update(h, drive, noise), x_out = φ(h_new). Requires x_in = φ(h) on entry;
/// x_out must be a different buffer (other rows still read x_in).
template <class T>
void euler_or_map_state_step(int n, bool map, const T* j, const T* bias, T* h, const T* x_in,
                             T* x_out, T dt, T noise_scale, std::uint64_t noise_key,
                             std::int64_t step, cudaStream_t stream);

/// Stage `stage` (0..3) of the classic RK4 state step: f_s = -y_s + J x_s + b; for stages 0..2
/// also y_{s+1} = h + c_next f_s and x_{s+1} = φ(y_{s+1}); stage 3 moves h (plus noise) and sets
/// x_0 = φ(h). Stage 0 copies h into y_0.
template <class T>
void rk4_stage(int n, int stage, const T* j, const T* bias, const Rk4State<T>& b, T c_next,
               T dt_over_6, T noise_scale, std::uint64_t noise_key, std::int64_t step,
               cudaStream_t stream);

/// s = diag(φ'(h)) q for n×k q.
template <class T>
void scale_rows_by_dphi(int n, int k, const T* h, const T* q, T* s, cudaStream_t stream);

/// The fused pass after RK4 tangent product `stage` (CpuBackend::tangent_step_rk4):
/// K ← K - Q; A ← (stage == 0 ? Q : A) + w K; for stage < 3, S ← diag(φ'(y_next)) (Q + c_next K).
template <class T>
void rk4_tangent_combine(int n, int k, int stage, T w, T c_next, const T* y_next, T* kbuf,
                         const T* q, T* acc, T* s, cudaStream_t stream);

/// After geqrf of the n×k matrix qr: logs[i] += log|R_ii| when `accumulate`; folds geqrf's devInfo
/// into the sticky status word.
template <class T>
void householder_logs(int n, int k, const T* qr, bool accumulate, double* logs, const int* info,
                      int* sticky, cudaStream_t stream);

/// *sticky = *info when *info != 0 and *sticky is still 0 (lazy devInfo check).
void record_info(const int* info, int* sticky, cudaStream_t stream);

/// After the first CholeskyQR potrf of the k×k Gram matrix r: diag1[i] = |R1_ii| and *fail = 1
/// when potrf failed or max/min diag > max_cond (the Householder fallback), else 0.
template <class T>
void cholesky_check(int k, const T* r, const int* info, double max_cond, double* diag1, int* fail,
                    cudaStream_t stream);

/// After the second CholeskyQR potrf: logs[i] += log diag1[i] + log|R2_ii| when `accumulate`;
/// folds the second potrf's devInfo into the sticky status word.
template <class T>
void cholesky_logs(int k, const T* r, const int* info, const double* diag1, bool accumulate,
                   double* logs, int* sticky, cudaStream_t stream);

#define RNNLYAP_KERNELS_EXTERN(T)                                                                  \
  extern template void phi_into<T>(int, const T*, T*, cudaStream_t);                               \
  extern template void euler_or_map_state_step<T>(int, bool, const T*, const T*, T*, const T*, T*, \
                                                  T, T, std::uint64_t, std::int64_t,               \
                                                  cudaStream_t);                                   \
  extern template void rk4_stage<T>(int, int, const T*, const T*, const Rk4State<T>&, T, T, T,     \
                                    std::uint64_t, std::int64_t, cudaStream_t);                    \
  extern template void scale_rows_by_dphi<T>(int, int, const T*, const T*, T*, cudaStream_t);      \
  extern template void rk4_tangent_combine<T>(int, int, int, T, T, const T*, T*, const T*, T*, T*, \
                                              cudaStream_t);                                       \
  extern template void householder_logs<T>(int, int, const T*, bool, double*, const int*, int*,    \
                                           cudaStream_t);                                          \
  extern template void cholesky_check<T>(int, const T*, const int*, double, double*, int*,         \
                                         cudaStream_t);                                            \
  extern template void cholesky_logs<T>(int, const T*, const int*, const double*, bool, double*,   \
                                        int*, cudaStream_t);
RNNLYAP_KERNELS_EXTERN(float)
RNNLYAP_KERNELS_EXTERN(double)
#undef RNNLYAP_KERNELS_EXTERN

}  // namespace rnnlyap::cuda::kernels
