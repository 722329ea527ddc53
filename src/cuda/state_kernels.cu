// Kernels of the random networks (models/random_network.cpp) for B members at once: the state
// steps (a block per 32 rows of one member, block_row_dot's sums, then the per-row update by warp
// 0) and the element-wise passes of the tangent steps (one thread per (member, row), flattened over
// B·n so that a warp's loads stay coalesced, blockIdx.y striding over the k columns). Each does
// the CPU executor's per-element arithmetic in its order.
#include "cuda_check.hpp"
#include "device_api.cuh"
#include "device_math.cuh"
#include "kernels.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda::kernels {
namespace {

using detail::dphi;
using detail::euler_update;
using detail::phi;

constexpr int kThreads = 256;

template <class T>
__global__ void phi_kernel(long long count, const T* __restrict__ h, T* __restrict__ x) {
  const long long t = global_index();
  if (t < count) x[t] = phi(h[t]);
}

// Euler (rate) or map state step of row r0 + lane of member b.
template <class T, bool kMap>
__global__ void __launch_bounds__(kDotThreads)
    state_kernel(int n, const T* __restrict__ j, const T* __restrict__ bias, T* __restrict__ h,
                 const T* __restrict__ x_in, T* __restrict__ x_out, T dt, T sc,
                 const std::uint64_t* __restrict__ keys, std::int64_t step,
                 const T* __restrict__ given) {
  const RowBlock rb(n);
  const std::size_t vo = static_cast<std::size_t>(rb.b) * static_cast<std::size_t>(n);
  // `given` is the same for the whole launch: every thread of a block reaches the barriers or none.
  const T dot = given ? T(0)
                      : block_row_dot(n, static_cast<std::size_t>(n), j + vo * n + rb.r0, rb.rows,
                                      x_in + vo, T(0));
  const int r = rb.r0 + static_cast<int>(threadIdx.x);
  if (static_cast<int>(threadIdx.x) >= rb.rows) return;
  const std::size_t t = vo + static_cast<std::size_t>(r);
  const T drive = given ? given[t] : dot;
  const T xi = sc != T(0) ? input_noise<T>(keys[rb.b], step, r) : T(0);
  T hn;
  if constexpr (kMap)  // h = J φ(h) + b + σ ξ
    hn = add_rn(add_rn(drive, bias[t]), sc != T(0) ? mul_rn(sc, xi) : T(0));
  else
    hn = euler_update(h[t], drive, bias[t], dt, sc, xi);
  h[t] = hn;
  x_out[t] = phi(hn);
}

// Stage s of classic RK4 of the state, row r0 + lane of member b.
template <class T, int s>
__global__ void __launch_bounds__(kDotThreads)
    rk4_kernel(int n, const T* __restrict__ j, const T* __restrict__ bias, Rk4Buffers<T> st,
               T c_next, T dt6, T sc, const std::uint64_t* __restrict__ keys, std::int64_t step,
               const T* __restrict__ given) {
  const RowBlock rb(n);
  const std::size_t vo = static_cast<std::size_t>(rb.b) * static_cast<std::size_t>(n);
  const T dot = given ? T(0)
                      : block_row_dot(n, static_cast<std::size_t>(n), j + vo * n + rb.r0, rb.rows,
                                      st.x[s] + vo, T(0));
  const int r = rb.r0 + static_cast<int>(threadIdx.x);
  if (static_cast<int>(threadIdx.x) >= rb.rows) return;
  const std::size_t t = vo + static_cast<std::size_t>(r);
  const T drive = given ? given[t] : dot;
  const T hr = st.h[t];
  const T y = s == 0 ? hr : st.y[s][t];
  if (s == 0) st.y[0][t] = y;
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
    if (sc != T(0)) hn = add_rn(hn, mul_rn(sc, input_noise<T>(keys[rb.b], step, r)));
    st.h[t] = hn;
    st.x[0][t] = phi(hn);
  }
}

// Offset of row t (flattened over members) in column 0 of its member's n×k block.
__device__ __forceinline__ std::size_t block_row(long long t, int n, int k) {
  return static_cast<std::size_t>(t / n) * static_cast<std::size_t>(n) * k +
         static_cast<std::size_t>(t % n);
}

template <class T>
__global__ void scale_rows_kernel(long long rows, int n, int k, const T* __restrict__ h,
                                  const T* __restrict__ q, T* __restrict__ s) {
  const long long t = global_index();
  if (t >= rows) return;
  const std::size_t base = block_row(t, n, k);
  const T d = dphi(h[t]);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = base + static_cast<std::size_t>(c) * n;
    s[o] = d * q[o];
  }
}

template <class T>
__global__ void rk4_combine_kernel(long long rows, int n, int k, int stage, T w, T cn,
                                   const T* __restrict__ y_next, T* __restrict__ kb,
                                   const T* __restrict__ q, T* __restrict__ acc,
                                   T* __restrict__ s) {
  const long long t = global_index();
  if (t >= rows) return;
  const std::size_t base = block_row(t, n, k);
  const T d = stage < 3 ? dphi(y_next[t]) : T(0);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = base + static_cast<std::size_t>(c) * n;
    const T qv = q[o];
    const T kv = kb[o] - qv;  // K_s = J S - c_s K_{s-1} - Q
    kb[o] = kv;
    acc[o] = (stage == 0 ? qv : acc[o]) + w * kv;
    if (stage < 3) s[o] = d * (qv + cn * kv);
  }
}

}  // namespace

template <class T>
void phi_into(long long count, const T* h, T* x, cudaStream_t stream) {
  launch(phi_kernel<T>, blocks_for(count, kThreads), kThreads, stream, count, h, x);
  RNNLYAP_CUDA_CHECK_LAUNCH(phi_kernel);
}

template <class T>
void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                             const T* x_in, T* x_out, T dt, T noise_scale,
                             const std::uint64_t* keys, std::int64_t step, cudaStream_t stream,
                             const T* drive) {
  const unsigned blocks = row_blocks(batch, n);
  if (map)
    launch(state_kernel<T, true>, blocks, kDotThreads, stream, n, j, bias, h, x_in, x_out, dt,
           noise_scale, keys, step, drive);
  else
    launch(state_kernel<T, false>, blocks, kDotThreads, stream, n, j, bias, h, x_in, x_out, dt,
           noise_scale, keys, step, drive);
  RNNLYAP_CUDA_CHECK_LAUNCH(state_kernel);
}

template <class T>
void rk4_stage(int batch, int n, int stage, const T* j, const T* bias, const Rk4Buffers<T>& b,
               T c_next, T dt_over_6, T noise_scale, const std::uint64_t* keys, std::int64_t step,
               cudaStream_t stream, const T* drive) {
  using Kernel = void (*)(int, const T*, const T*, Rk4Buffers<T>, T, T, T, const std::uint64_t*,
                          std::int64_t, const T*);
  constexpr Kernel stages[4] = {rk4_kernel<T, 0>, rk4_kernel<T, 1>, rk4_kernel<T, 2>,
                                rk4_kernel<T, 3>};
  if (stage < 0 || stage > 3) throw Error("rk4_stage: stage out of range");
  launch(stages[stage], row_blocks(batch, n), kDotThreads, stream, n, j, bias, b, c_next, dt_over_6,
         noise_scale, keys, step, drive);
  RNNLYAP_CUDA_CHECK_LAUNCH(rk4_kernel);
}

template <class T>
void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s,
                        cudaStream_t stream) {
  const long long rows = static_cast<long long>(batch) * n;
  const int threads = row_threads(rows, kThreads);
  launch(scale_rows_kernel<T>, column_grid(rows, k, threads), threads, stream, rows, n, k, h, q, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(scale_rows_kernel);
}

template <class T>
void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                         T* kbuf, const T* q, T* acc, T* s, cudaStream_t stream) {
  const long long rows = static_cast<long long>(batch) * n;
  const int threads = row_threads(rows, kThreads);
  launch(rk4_combine_kernel<T>, column_grid(rows, k, threads), threads, stream, rows, n, k, stage,
         w, c_next, y_next, kbuf, q, acc, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(rk4_combine_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                                     \
  template void phi_into<T>(long long, const T*, T*, cudaStream_t);                                \
  template void euler_or_map_state_step<T>(int, int, bool, const T*, const T*, T*, const T*, T*,   \
                                           T, T, const std::uint64_t*, std::int64_t, cudaStream_t, \
                                           const T*);                                              \
  template void rk4_stage<T>(int, int, int, const T*, const T*, const Rk4Buffers<T>&, T, T, T,     \
                             const std::uint64_t*, std::int64_t, cudaStream_t, const T*);          \
  template void scale_rows_by_dphi<T>(int, int, int, const T*, const T*, T*, cudaStream_t);        \
  template void rk4_tangent_combine<T>(int, int, int, int, T, T, const T*, T*, const T*, T*, T*,   \
                                       cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
