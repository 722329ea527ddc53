// Device helpers shared by the kernels: arithmetic with explicit rounding (no FMA contraction, so
// that a sum is formed exactly as the CPU executor forms it), the blocked matrix-vector row sums of
// the state steps, the input noise, and launch geometry. Per-element model math (φ, φ', σ, the
// Euler update, the Philox normal generator) comes from core/elementwise.hpp, shared with the CPU.
#pragma once

#include "device_api.cuh"

#include <cstddef>
#include <cstdint>

#include "core/elementwise.hpp"

namespace rnnlyap::cuda::kernels {

// a*b and a+b each rounded once (the CPU's loops are compiled without FMA).
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

/// Threads of a row-sum block, rows per block (one warp's lanes sum them), columns per tile.
constexpr int kDotThreads = 256, kDotRows = 32, kDotCols = 64;

/// For lane r < rows of warp 0: init + Σ_c mat[r + c ld] x[c], summed in the fixed order c = 0, 1,
/// …, n-1 from init, as the CPU's loops do, so a trajectory does not depend on the launch geometry.
/// Every thread of the kDotThreads-thread block must call it. The block streams tiles of 32 rows ×
/// 64 columns (and 64 values of x) through shared memory: each of its 8 warps loads 8 coalesced
/// column segments per tile, the loads of the next tile are in flight while warp 0 sums the current
/// one, so one row's sequential sum no longer leaves the memory system idle.
template <class T>
__device__ T block_row_dot(int n, std::size_t ld, const T* __restrict__ mat, int rows,
                           const T* __restrict__ x, T init) {
  __shared__ T tile[kDotCols][kDotRows];
  __shared__ T xs[kDotCols];
  constexpr int kWarps = kDotThreads / 32, kPerThread = kDotCols / kWarps;
  const int t = static_cast<int>(threadIdx.x), lane = t & 31, warp = t >> 5;
  T reg[kPerThread];
  T xr = T(0);
  const auto load = [&](int c0) {
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int c = c0 + warp + kWarps * u;
      reg[u] = lane < rows && c < n ? mat[lane + static_cast<std::size_t>(c) * ld] : T(0);
    }
    if (t < kDotCols && c0 + t < n) xr = x[c0 + t];
  };
  T acc = init;
  load(0);
  for (int c0 = 0; c0 < n; c0 += kDotCols) {
    __syncthreads();  // the previous tile is summed (or the previous call is done with it)
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) tile[warp + kWarps * u][lane] = reg[u];
    if (t < kDotCols) xs[t] = xr;
    __syncthreads();
    if (c0 + kDotCols < n) load(c0 + kDotCols);
    if (t < 32) {
      const int m = n - c0 < kDotCols ? n - c0 : kDotCols;
      for (int c = 0; c < m; ++c) acc = add_rn(acc, mul_rn(tile[c][lane], xs[c]));
    }
  }
  return acc;
}

/// The member and rows of this block of a row-sum kernel: blockIdx.x numbers the kDotRows-row
/// groups of every member, member-major (row_blocks() of them).
struct RowBlock {
  int b, r0, rows;  ///< member, first row, rows in this block (≤ kDotRows)
  __device__ explicit RowBlock(int n) {
    const int per = (n + kDotRows - 1) / kDotRows;
    b = static_cast<int>(blockIdx.x) / per;
    r0 = (static_cast<int>(blockIdx.x) % per) * kDotRows;
    rows = n - r0 < kDotRows ? n - r0 : kDotRows;
  }
};

/// Blocks of a row-sum kernel over `batch` members of n rows.
inline unsigned row_blocks(int batch, int n) {
  return static_cast<unsigned>(batch) * static_cast<unsigned>((n + kDotRows - 1) / kDotRows);
}

/// ξ for neuron i at global step `step`: the same counter-based number the CPU draws.
template <class T>
__device__ __forceinline__ T input_noise(std::uint64_t key, std::int64_t step, int i) {
  return static_cast<T>(rnnlyap::detail::normal_at(key, rnnlyap::detail::kStreamNoise,
                                                   static_cast<std::uint64_t>(step),
                                                   static_cast<std::uint32_t>(i)));
}

/// This thread's index in a flattened 1-D grid (64-bit: B·n near INT_MAX cannot wrap).
__device__ __forceinline__ long long global_index() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

/// Blocks of `threads` covering `items` (at least one).
inline unsigned blocks_for(long long items, int threads) {
  return static_cast<unsigned>(items > 0 ? (items + threads - 1) / threads : 1);
}

/// Threads per block of an element-wise pass over `rows` rows: `max_threads`, or fewer (whole
/// warps) when there are fewer rows, so that small B·n launch no idle warps.
inline int row_threads(long long rows, int max_threads) {
  const long long warps = (rows + 31) / 32;
  return warps * 32 < max_threads ? static_cast<int>(warps > 0 ? warps * 32 : 32) : max_threads;
}

/// Grid of an element-wise pass over `rows` rows (flattened over members) × k columns: one thread
/// per row, blockIdx.y striding over the columns, a few thousand blocks in all.
inline dim3 column_grid(long long rows, int k, int threads) {
  const unsigned row_blocks = blocks_for(rows, threads);
  unsigned cols = 2048 / row_blocks;
  cols = cols < 1 ? 1 : cols;
  cols = cols > static_cast<unsigned>(k) ? static_cast<unsigned>(k) : cols;
  return dim3(row_blocks, cols > 65535u ? 65535u : cols);
}

}  // namespace rnnlyap::cuda::kernels
