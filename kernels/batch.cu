// Kernels of the batched CUDA propagator (src/cuda/cuda_batch_backend.cpp): B networks of the same
// size n run in lockstep. Vectors are member-major (B·n values, member b at offset b·n), bases are
// B blocks of n×k column-major (member b at offset b·n·k, leading dimension n), weight matrices B
// blocks of n×n. Every kernel does, for each member, exactly the arithmetic of its single-network
// counterpart in state.cu / tangent.cu / orthonormalize.cu, which is CpuBackend's arithmetic in
// CpuBackend's order; only the indexing differs. Element-wise kernels use one thread per
// (member, row) pair, flattened over B·n so that a warp's loads stay coalesced within a member.
#include <algorithm>
#include <string>

#include "cuda/cuda_check.hpp"
#include "device_math.cuh"
#include "launch.cuh"

namespace rnnlyap::cuda::kernels {
namespace {

using rnnlyap::detail::dphi;
using rnnlyap::detail::euler_update;
using rnnlyap::detail::phi;

constexpr int kStateThreads = 64;  // as state.cu: few rows per block, many blocks streaming J
constexpr int kVectorThreads = 256;
constexpr int kFormQThreads = 256;  // a multiple of 32: one warp per column in batch_form_q_kernel

// Flattened (member, row) index of this thread: 64-bit, so that B·n near INT_MAX cannot wrap.
__device__ __forceinline__ long long global_index() {
  return static_cast<long long>(blockIdx.x) * static_cast<long long>(blockDim.x) +
         static_cast<long long>(threadIdx.x);
}

// Blocks for `items` flattened items, `threads` per block.
unsigned blocks_for_items(long long items, int threads) {
  return static_cast<unsigned>((items + threads - 1) / threads);
}

// Grid for an element-wise pass over B blocks of n×k: one thread per (member, row), a column
// stride chosen as in tangent.cu so that the grid has a few thousand blocks.
struct Geometry {
  dim3 grid, block;
};

Geometry basis_geometry(long long rows, int k) {
  constexpr int threads = 256;
  const unsigned row_blocks = blocks_for_items(rows, threads);
  const unsigned target = 2048;
  const unsigned col_blocks =
      std::min<unsigned>({static_cast<unsigned>(k), 65535u, std::max(1u, target / row_blocks)});
  return {dim3(row_blocks, col_blocks), dim3(static_cast<unsigned>(threads))};
}

template <class T>
__global__ void batch_pointers_kernel(int batch, T* base, long long stride, T** out) {
  const long long b = global_index();
  if (b < batch) out[b] = base + b * stride;
}

// CpuBackend::state_step for rate/Euler and map, member b = t / n, row r = t % n.
template <class T, bool kMap>
__global__ void __launch_bounds__(kStateThreads)
    batch_euler_or_map_state_kernel(int batch, int n, const T* __restrict__ j,
                                    const T* __restrict__ bias, T* __restrict__ h,
                                    const T* __restrict__ x_in, T* __restrict__ x_out, T dt, T sc,
                                    const std::uint64_t* __restrict__ keys, std::int64_t step) {
  const long long t = global_index();
  if (t >= static_cast<long long>(batch) * n) return;
  const int b = static_cast<int>(t / n);
  const int r = static_cast<int>(t % n);
  const std::size_t vo = static_cast<std::size_t>(b) * static_cast<std::size_t>(n);
  const T* jb = j + vo * static_cast<std::size_t>(n);
  const T drive = row_dot(n, jb, x_in + vo, r);
  const T xi = sc != T(0) ? input_noise<T>(keys[b], step, r) : T(0);
  T hn;
  if constexpr (kMap) {
    // h = J φ(h) + b + σ ξ
    hn = add_rn(add_rn(drive, bias[t]), sc != T(0) ? mul_rn(sc, xi) : T(0));
  } else {
    hn = euler_update(h[t], drive, bias[t], dt, sc, xi);
  }
  h[t] = hn;
  x_out[t] = phi(hn);
}

// One stage of CpuBackend::rk4_state for every member (state.cu's rk4_stage_kernel, batched).
template <class T, int s>
__global__ void __launch_bounds__(kStateThreads)
    batch_rk4_stage_kernel(int batch, int n, const T* __restrict__ j, const T* __restrict__ bias,
                           Rk4State<T> st, T c_next, T dt6, T sc,
                           const std::uint64_t* __restrict__ keys, std::int64_t step) {
  const long long t = global_index();
  if (t >= static_cast<long long>(batch) * n) return;
  const int b = static_cast<int>(t / n);
  const int r = static_cast<int>(t % n);
  const std::size_t vo = static_cast<std::size_t>(b) * static_cast<std::size_t>(n);
  const T hr = st.h[t];
  T y;
  if constexpr (s == 0) {
    y = hr;
    st.y[0][t] = y;
  } else {
    y = st.y[s][t];
  }
  const T drive = row_dot(n, j + vo * static_cast<std::size_t>(n), st.x[s] + vo, r);
  const T f = -y + drive + bias[t];  // f(y) = -y + J φ(y) + b
  st.f[s][t] = f;
  if constexpr (s < 3) {
    const T yn = add_rn(hr, mul_rn(c_next, f));  // y_{s+1} = h + c_{s+1} f_s
    st.y[s + 1][t] = yn;
    st.x[s + 1][t] = phi(yn);
  } else {
    // h += dt/6 (f0 + 2 f1 + 2 f2 + f3), then the noise, in the CPU's order.
    const T sum =
        add_rn(add_rn(add_rn(st.f[0][t], mul_rn(T(2), st.f[1][t])), mul_rn(T(2), st.f[2][t])), f);
    T hn = add_rn(hr, mul_rn(dt6, sum));
    if (sc != T(0)) hn = add_rn(hn, mul_rn(sc, input_noise<T>(keys[b], step, r)));
    st.h[t] = hn;
    st.x[0][t] = phi(hn);
  }
}

// S = diag(φ'(h)) Q per member (tangent.cu's scale_rows_kernel, batched).
template <class T>
__global__ void batch_scale_rows_kernel(long long rows, int n, int k, const T* __restrict__ h,
                                        const T* __restrict__ q, T* __restrict__ s) {
  const long long t = global_index();
  if (t >= rows) return;
  const std::size_t b = static_cast<std::size_t>(t / n);
  const std::size_t r = static_cast<std::size_t>(t % n);
  const std::size_t ld = static_cast<std::size_t>(n);
  const std::size_t base = b * ld * static_cast<std::size_t>(k) + r;
  const T d = dphi(h[t]);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = base + static_cast<std::size_t>(c) * ld;
    s[o] = d * q[o];
  }
}

// The pass after RK4 tangent product `stage` (tangent.cu's rk4_combine_kernel, batched).
template <class T>
__global__ void batch_rk4_combine_kernel(long long rows, int n, int k, int stage, T w, T cn,
                                         const T* __restrict__ y_next, T* __restrict__ kb,
                                         const T* __restrict__ q, T* __restrict__ acc,
                                         T* __restrict__ s) {
  const long long t = global_index();
  if (t >= rows) return;
  const std::size_t b = static_cast<std::size_t>(t / n);
  const std::size_t r = static_cast<std::size_t>(t % n);
  const std::size_t ld = static_cast<std::size_t>(n);
  const std::size_t base = b * ld * static_cast<std::size_t>(k) + r;
  const T d = stage < 3 ? dphi(y_next[t]) : T(0);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = base + static_cast<std::size_t>(c) * ld;
    const T qv = q[o];
    const T kv = kb[o] - qv;  // K_s = J S - c_s K_{s-1} - Q
    kb[o] = kv;
    acc[o] = (stage == 0 ? qv : acc[o]) + w * kv;
    if (stage < 3) s[o] = d * (qv + cn * kv);
  }
}

// logs[b k + i] += log|R_b(i, i)| after a batched geqrf (Orthonormalizer::householder's sum).
template <class T>
__global__ void batch_diag_logs_kernel(int batch, int n, int k, const T* __restrict__ qr,
                                       double* __restrict__ logs) {
  const long long t = global_index();
  if (t >= static_cast<long long>(batch) * k) return;
  const std::size_t b = static_cast<std::size_t>(t / k);
  const std::size_t i = static_cast<std::size_t>(t % k);
  const std::size_t ld = static_cast<std::size_t>(n);
  const double rii = static_cast<double>(qr[b * ld * static_cast<std::size_t>(k) + i * ld + i]);
  logs[t] += log(fabs(rii));
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
__global__ void __launch_bounds__(kFormQThreads)
    batch_form_q_kernel(int batch, int n, int k, T* __restrict__ a, const T* __restrict__ tau) {
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
        for (int i = j + lane; i < n; i += 32) {
          const T vi = i == j ? T(1) : v[i];
          dot = add_rn(dot, mul_rn(vi, qc[i]));
        }
        for (int off = 16; off > 0; off >>= 1)
          dot = add_rn(dot, __shfl_down_sync(0xffffffffu, dot, off));
        const T wc = mul_rn(tj, __shfl_sync(0xffffffffu, dot, 0));  // tau_j v_jᵀ q_c
        for (int i = j + lane; i < n; i += 32) {
          const T vi = i == j ? T(1) : v[i];
          qc[i] = qc[i] - mul_rn(wc, vi);
        }
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

}  // namespace

template <class T>
void batch_pointers(int batch, T* base, long long stride, T** out, cudaStream_t stream) {
  batch_pointers_kernel<T><<<blocks_for_items(batch, kVectorThreads), kVectorThreads, 0, stream>>>(
      batch, base, stride, out);
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_pointers_kernel);
}

template <class T>
void batch_euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                                   const T* x_in, T* x_out, T dt, T noise_scale,
                                   const std::uint64_t* noise_keys, std::int64_t step,
                                   cudaStream_t stream) {
  const unsigned blocks = blocks_for_items(static_cast<long long>(batch) * n, kStateThreads);
  if (map) {
    batch_euler_or_map_state_kernel<T, true><<<blocks, kStateThreads, 0, stream>>>(
        batch, n, j, bias, h, x_in, x_out, dt, noise_scale, noise_keys, step);
  } else {
    batch_euler_or_map_state_kernel<T, false><<<blocks, kStateThreads, 0, stream>>>(
        batch, n, j, bias, h, x_in, x_out, dt, noise_scale, noise_keys, step);
  }
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_euler_or_map_state_kernel);
}

template <class T>
void batch_rk4_stage(int batch, int n, int stage, const T* j, const T* bias, const Rk4State<T>& b,
                     T c_next, T dt_over_6, T noise_scale, const std::uint64_t* noise_keys,
                     std::int64_t step, cudaStream_t stream) {
  const unsigned blocks = blocks_for_items(static_cast<long long>(batch) * n, kStateThreads);
  switch (stage) {
    case 0:
      batch_rk4_stage_kernel<T, 0><<<blocks, kStateThreads, 0, stream>>>(
          batch, n, j, bias, b, c_next, dt_over_6, noise_scale, noise_keys, step);
      break;
    case 1:
      batch_rk4_stage_kernel<T, 1><<<blocks, kStateThreads, 0, stream>>>(
          batch, n, j, bias, b, c_next, dt_over_6, noise_scale, noise_keys, step);
      break;
    case 2:
      batch_rk4_stage_kernel<T, 2><<<blocks, kStateThreads, 0, stream>>>(
          batch, n, j, bias, b, c_next, dt_over_6, noise_scale, noise_keys, step);
      break;
    case 3:
      batch_rk4_stage_kernel<T, 3><<<blocks, kStateThreads, 0, stream>>>(
          batch, n, j, bias, b, c_next, dt_over_6, noise_scale, noise_keys, step);
      break;
    default:
      throw Error("batch_rk4_stage: stage " + std::to_string(stage) + " out of range");
  }
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_rk4_stage_kernel);
}

template <class T>
void batch_scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s,
                              cudaStream_t stream) {
  const long long rows = static_cast<long long>(batch) * n;
  const Geometry g = basis_geometry(rows, k);
  batch_scale_rows_kernel<T><<<g.grid, g.block, 0, stream>>>(rows, n, k, h, q, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_scale_rows_kernel);
}

template <class T>
void batch_rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                               T* kbuf, const T* q, T* acc, T* s, cudaStream_t stream) {
  const long long rows = static_cast<long long>(batch) * n;
  const Geometry g = basis_geometry(rows, k);
  batch_rk4_combine_kernel<T>
      <<<g.grid, g.block, 0, stream>>>(rows, n, k, stage, w, c_next, y_next, kbuf, q, acc, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_rk4_combine_kernel);
}

template <class T>
void batch_diag_logs(int batch, int n, int k, const T* qr, double* logs, cudaStream_t stream) {
  batch_diag_logs_kernel<T><<<blocks_for_items(static_cast<long long>(batch) * k, kVectorThreads),
                              kVectorThreads, 0, stream>>>(batch, n, k, qr, logs);
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_diag_logs_kernel);
}

template <class T>
void batch_form_q(int batch, int n, int k, T* qr, const T* tau, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(std::min(batch, 1 << 30));
  batch_form_q_kernel<T><<<blocks, kFormQThreads, 0, stream>>>(batch, n, k, qr, tau);
  RNNLYAP_CUDA_CHECK_LAUNCH(batch_form_q_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                                     \
  template void batch_pointers<T>(int, T*, long long, T**, cudaStream_t);                          \
  template void batch_euler_or_map_state_step<T>(int, int, bool, const T*, const T*, T*, const T*, \
                                                 T*, T, T, const std::uint64_t*, std::int64_t,     \
                                                 cudaStream_t);                                    \
  template void batch_rk4_stage<T>(int, int, int, const T*, const T*, const Rk4State<T>&, T, T, T, \
                                   const std::uint64_t*, std::int64_t, cudaStream_t);              \
  template void batch_scale_rows_by_dphi<T>(int, int, int, const T*, const T*, T*, cudaStream_t);  \
  template void batch_rk4_tangent_combine<T>(int, int, int, int, T, T, const T*, T*, const T*, T*, \
                                             T*, cudaStream_t);                                    \
  template void batch_diag_logs<T>(int, int, int, const T*, double*, cudaStream_t);                \
  template void batch_form_q<T>(int, int, int, T*, const T*, cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
