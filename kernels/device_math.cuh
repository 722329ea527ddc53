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

/// (J x)_r = Σ_c J[r + c n] x[c], summed in the fixed order c = 0, 1, ..., n-1 as
/// CpuBackend::matvec does, so the state trajectory never depends on k or on the launch geometry.
/// Threads of a warp hold consecutive rows: each load of a column segment is coalesced, x[c] is a
/// broadcast. The loads of a chunk are issued before its (sequentially dependent) additions.
template <class T>
__device__ __forceinline__ T row_dot(int n, const T* __restrict__ j, const T* __restrict__ x,
                                     int r) {
  constexpr int kChunk = 16;
  const std::size_t ld = static_cast<std::size_t>(n);
  const T* col = j + r;
  T acc = T(0);
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
