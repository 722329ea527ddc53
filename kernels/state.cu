// State kernels: one thread per neuron, the matrix-vector product and the update fused in one
// launch per step (per RK4 stage). φ(h) of the next step is produced by the step itself, so no
// kernel needs values that another block of the same launch writes.
#include <string>

#include "cuda/cuda_check.hpp"
#include "device_math.cuh"
#include "launch.cuh"

namespace rnnlyap::cuda::kernels {
namespace {

using rnnlyap::detail::euler_update;
using rnnlyap::detail::phi;

// Few rows per block: n/64 blocks keep many SMs streaming J even for n of a few thousand.
constexpr int kStateThreads = 64;
constexpr int kVectorThreads = 256;

template <class T>
__global__ void phi_kernel(int n, const T* __restrict__ h, T* __restrict__ x) {
  const int r = global_row();
  if (r < n) x[r] = phi(h[r]);
}

// CpuBackend::state_step for rate/Euler and map.
template <class T, bool kMap>
__global__ void __launch_bounds__(kStateThreads)
    euler_or_map_state_kernel(int n, const T* __restrict__ j, const T* __restrict__ bias,
                              T* __restrict__ h, const T* __restrict__ x_in, T* __restrict__ x_out,
                              T dt, T sc, std::uint64_t key, std::int64_t step) {
  const int r = global_row();
  if (r >= n) return;
  const T drive = row_dot(n, j, x_in, r);
  const T xi = sc != T(0) ? input_noise<T>(key, step, r) : T(0);
  T hn;
  if constexpr (kMap) {
    // h = J φ(h) + b + σ ξ
    hn = add_rn(add_rn(drive, bias[r]), sc != T(0) ? mul_rn(sc, xi) : T(0));
  } else {
    hn = euler_update(h[r], drive, bias[r], dt, sc, xi);
  }
  h[r] = hn;
  x_out[r] = phi(hn);
}

// One stage of CpuBackend::rk4_state. Reads x[s] of every row, writes only its own row's entries
// of the other buffers (x[s] is never written by stage s).
// The stage is a template parameter: indexing the parameter struct's arrays with a run-time
// value would move them to local memory.
template <class T, int s>
__global__ void __launch_bounds__(kStateThreads)
    rk4_stage_kernel(int n, const T* __restrict__ j, const T* __restrict__ bias, Rk4State<T> b,
                     T c_next, T dt6, T sc, std::uint64_t key, std::int64_t step) {
  const int r = global_row();
  if (r >= n) return;
  const T hr = b.h[r];
  T y;
  if constexpr (s == 0) {
    y = hr;
    b.y[0][r] = y;
  } else {
    y = b.y[s][r];
  }
  const T drive = row_dot(n, j, b.x[s], r);
  const T f = -y + drive + bias[r];  // f(y) = -y + J φ(y) + b
  b.f[s][r] = f;
  if constexpr (s < 3) {
    const T yn = add_rn(hr, mul_rn(c_next, f));  // y_{s+1} = h + c_{s+1} f_s
    b.y[s + 1][r] = yn;
    b.x[s + 1][r] = phi(yn);
  } else {
    // h += dt/6 (f0 + 2 f1 + 2 f2 + f3), then the noise, in the CPU's order.
    const T sum =
        add_rn(add_rn(add_rn(b.f[0][r], mul_rn(T(2), b.f[1][r])), mul_rn(T(2), b.f[2][r])), f);
    T hn = add_rn(hr, mul_rn(dt6, sum));
    if (sc != T(0)) hn = add_rn(hn, mul_rn(sc, input_noise<T>(key, step, r)));
    b.h[r] = hn;
    b.x[0][r] = phi(hn);
  }
}

}  // namespace

template <class T>
void phi_into(int n, const T* h, T* x, cudaStream_t stream) {
  phi_kernel<T><<<blocks_for(n, kVectorThreads), kVectorThreads, 0, stream>>>(n, h, x);
  RNNLYAP_CUDA_CHECK_LAUNCH(phi_kernel);
}

template <class T>
void euler_or_map_state_step(int n, bool map, const T* j, const T* bias, T* h, const T* x_in,
                             T* x_out, T dt, T noise_scale, std::uint64_t noise_key,
                             std::int64_t step, cudaStream_t stream) {
  const unsigned blocks = blocks_for(n, kStateThreads);
  if (map) {
    euler_or_map_state_kernel<T, true><<<blocks, kStateThreads, 0, stream>>>(
        n, j, bias, h, x_in, x_out, dt, noise_scale, noise_key, step);
  } else {
    euler_or_map_state_kernel<T, false><<<blocks, kStateThreads, 0, stream>>>(
        n, j, bias, h, x_in, x_out, dt, noise_scale, noise_key, step);
  }
  RNNLYAP_CUDA_CHECK_LAUNCH(euler_or_map_state_kernel);
}

template <class T>
void rk4_stage(int n, int stage, const T* j, const T* bias, const Rk4State<T>& b, T c_next,
               T dt_over_6, T noise_scale, std::uint64_t noise_key, std::int64_t step,
               cudaStream_t stream) {
  const unsigned blocks = blocks_for(n, kStateThreads);
  switch (stage) {
    case 0:
      rk4_stage_kernel<T, 0><<<blocks, kStateThreads, 0, stream>>>(n, j, bias, b, c_next, dt_over_6,
                                                                   noise_scale, noise_key, step);
      break;
    case 1:
      rk4_stage_kernel<T, 1><<<blocks, kStateThreads, 0, stream>>>(n, j, bias, b, c_next, dt_over_6,
                                                                   noise_scale, noise_key, step);
      break;
    case 2:
      rk4_stage_kernel<T, 2><<<blocks, kStateThreads, 0, stream>>>(n, j, bias, b, c_next, dt_over_6,
                                                                   noise_scale, noise_key, step);
      break;
    case 3:
      rk4_stage_kernel<T, 3><<<blocks, kStateThreads, 0, stream>>>(n, j, bias, b, c_next, dt_over_6,
                                                                   noise_scale, noise_key, step);
      break;
    default:
      throw Error("rk4_stage: stage " + std::to_string(stage) + " out of range");
  }
  RNNLYAP_CUDA_CHECK_LAUNCH(rk4_stage_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                                    \
  template void phi_into<T>(int, const T*, T*, cudaStream_t);                                     \
  template void euler_or_map_state_step<T>(int, bool, const T*, const T*, T*, const T*, T*, T, T, \
                                           std::uint64_t, std::int64_t, cudaStream_t);            \
  template void rk4_stage<T>(int, int, const T*, const T*, const Rk4State<T>&, T, T, T,           \
                             std::uint64_t, std::int64_t, cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
