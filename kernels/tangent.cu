// Tangent-basis kernels: the φ' row scaling before each product and the fused pass after each RK4
// product. One thread per row (φ' computed once per row), each thread walking a strided set of
// columns; consecutive threads touch consecutive rows, so every access is coalesced.
#include <algorithm>

#include "cuda/cuda_check.hpp"
#include "device_math.cuh"
#include "launch.cuh"

namespace rnnlyap::cuda::kernels {
namespace {

using rnnlyap::detail::dphi;

// Grid for an n×k element-wise pass: blocks of rows × a column stride chosen so that the grid has
// a few thousand blocks (enough to fill any GPU) without recomputing φ' more than needed.
struct Geometry {
  dim3 grid, block;
};

Geometry matrix_geometry(int n, int k) {
  const int threads = std::min(256, std::max(32, (n + 31) / 32 * 32));
  const unsigned row_blocks = blocks_for(n, threads);
  const unsigned target = 2048;
  const unsigned col_blocks =
      std::min<unsigned>({static_cast<unsigned>(k), 65535u, std::max(1u, target / row_blocks)});
  return {dim3(row_blocks, col_blocks), dim3(static_cast<unsigned>(threads))};
}

// S = diag(φ'(h)) Q (CpuBackend::scale_rows with x = φ'(h)).
template <class T>
__global__ void scale_rows_kernel(int n, int k, const T* __restrict__ h, const T* __restrict__ q,
                                  T* __restrict__ s) {
  const int r = global_row();
  if (r >= n) return;
  const T d = dphi(h[r]);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = static_cast<std::size_t>(c) * static_cast<std::size_t>(n) + r;
    s[o] = d * q[o];
  }
}

// The pass after product `stage` of CpuBackend::tangent_step_rk4, element for element.
template <class T>
__global__ void rk4_combine_kernel(int n, int k, int stage, T w, T cn, const T* __restrict__ y_next,
                                   T* __restrict__ kb, const T* __restrict__ q, T* __restrict__ acc,
                                   T* __restrict__ s) {
  const int r = global_row();
  if (r >= n) return;
  const T d = stage < 3 ? dphi(y_next[r]) : T(0);
  for (int c = static_cast<int>(blockIdx.y); c < k; c += static_cast<int>(gridDim.y)) {
    const std::size_t o = static_cast<std::size_t>(c) * static_cast<std::size_t>(n) + r;
    const T qv = q[o];
    const T kv = kb[o] - qv;  // K_s = J S - c_s K_{s-1} - Q
    kb[o] = kv;
    acc[o] = (stage == 0 ? qv : acc[o]) + w * kv;
    if (stage < 3) s[o] = d * (qv + cn * kv);
  }
}

}  // namespace

template <class T>
void scale_rows_by_dphi(int n, int k, const T* h, const T* q, T* s, cudaStream_t stream) {
  const Geometry g = matrix_geometry(n, k);
  scale_rows_kernel<T><<<g.grid, g.block, 0, stream>>>(n, k, h, q, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(scale_rows_kernel);
}

template <class T>
void rk4_tangent_combine(int n, int k, int stage, T w, T c_next, const T* y_next, T* kbuf,
                         const T* q, T* acc, T* s, cudaStream_t stream) {
  const Geometry g = matrix_geometry(n, k);
  rk4_combine_kernel<T>
      <<<g.grid, g.block, 0, stream>>>(n, k, stage, w, c_next, y_next, kbuf, q, acc, s);
  RNNLYAP_CUDA_CHECK_LAUNCH(rk4_combine_kernel);
}

#define RNNLYAP_INSTANTIATE(T)                                                              \
  template void scale_rows_by_dphi<T>(int, int, const T*, const T*, T*, cudaStream_t);      \
  template void rk4_tangent_combine<T>(int, int, int, T, T, const T*, T*, const T*, T*, T*, \
                                       cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
