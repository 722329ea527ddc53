// Device helpers shared by the kernels: arithmetic with explicit rounding (no FMA contraction, so
// that a sum is formed exactly as the CPU backend forms it), the state's matrix-vector row, the
// input noise, and launch-geometry helpers. Per-element model math (φ, φ', the Euler update, the
// Philox normal generator) comes from src/core/elementwise.hpp, shared with the CPU.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/elementwise.hpp"

namespace rnnlyap::cuda::kernels {

// a*b and a+b each rounded once. nvcc contracts a*b+c into an FMA by default; the CPU backend's
// loops (compiled without FMA) round the product and the sum separately.
__device__ __forceinline__ double mul_rn(double a, double b) {
  return __dmul_rn(a, b);
}
__device__ __forceinline__ float mul_rn(float a, float b) {
  return __fmul_rn(a, b);
}
__device__ __forceinline__ double add_rn(double a, double b) {
  return __dadd_rn(a, b);
}
__device__ __forceinline__ float add_rn(float a, float b) {
  return __fadd_rn(a, b);
}

/// init + Σ_c mat[r + c ld] x[c], summed in the fixed order c = 0, 1, ..., n-1 starting from init,
/// as the CPU propagators' loops do, so a trajectory never depends on k or on the launch geometry.
/// Threads of a warp hold consecutive rows: each load of a column segment is coalesced, x[c] is a
/// broadcast. The loads of a chunk are issued before its (sequentially dependent) additions.
template <class T>
__device__ __forceinline__ T strided_row_dot(int n, std::size_t ld, const T* __restrict__ mat,
                                             const T* __restrict__ x, int r, T init) {
  constexpr int kChunk = 16;
  const T* col = mat + r;
  T acc = init;
  int c = 0;
  for (; c + kChunk <= n; c += kChunk) {
    T a[kChunk];
#pragma unroll
    for (int u = 0; u < kChunk; ++u) a[u] = __ldg(col + static_cast<std::size_t>(c + u) * ld);
#pragma unroll
    for (int u = 0; u < kChunk; ++u) acc = add_rn(acc, mul_rn(a[u], __ldg(x + c + u)));
  }
  for (; c < n; ++c)
    acc = add_rn(acc, mul_rn(__ldg(col + static_cast<std::size_t>(c) * ld), __ldg(x + c)));
  return acc;
}

/// (J x)_r = Σ_c J[r + c n] x[c] for the square n×n J (CpuBackend::matvec's order).
template <class T>
__device__ __forceinline__ T row_dot(int n, const T* __restrict__ j, const T* __restrict__ x,
                                     int r) {
  return strided_row_dot(n, static_cast<std::size_t>(n), j, x, r, T(0));
}

/// ξ for neuron i at global step `step`: the same counter-based number the CPU draws.
template <class T>
__device__ __forceinline__ T input_noise(std::uint64_t key, std::int64_t step, int i) {
  return static_cast<T>(rnnlyap::detail::normal_at(key, rnnlyap::detail::kStreamNoise,
                                                   static_cast<std::uint64_t>(step),
                                                   static_cast<std::uint32_t>(i)));
}

/// Global row index of this thread.
__device__ __forceinline__ int global_row() {
  return static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
}

/// Blocks of `threads` covering n items.
inline unsigned blocks_for(long long n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace rnnlyap::cuda::kernels
