// The CUDA language for the host compiler, for the emulated device (test-only). The kernels of
// src/cuda compile unchanged as C++: __global__ and __device__ functions are plain functions,
// __shared__ arrays are per-block storage (static thread_local: one block runs at a time on the
// thread that synchronises), and threadIdx, blockIdx, blockDim, gridDim, __syncthreads, the warp
// shuffles and atomicCAS are answered by the fiber scheduler (scheduler.cpp), which runs each
// block's threads as cooperative fibers in a seeded random order and checks barrier and shuffle
// contracts. Static shared memory sizes are not checked here: ptxas refuses a kernel whose static
// shared data exceeds the per-block limit when the real build compiles it.
#pragma once

#include <cuda_runtime_api.h>  // dim3, uint3, cudaStream_t: the toolkit's own types

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "emu_runtime.hpp"

#undef __shared__
#define __shared__ static thread_local
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

namespace rnnlyap::emu {

/// The calling GPU thread's indices and its launch's dimensions.
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();

/// __syncthreads(): every thread of the block must reach the same barrier (file:line) while none
/// has exited.
void sync_threads(const char* file, int line);

enum class Shuffle { index, down };
/// A warp shuffle of `bits` (the value's bytes): every lane named in `mask` must execute the same
/// shuffle with the same mask, the caller among them, and the source lane must be one of them.
std::uint64_t shuffle(unsigned mask, std::uint64_t bits, Shuffle kind, int arg, int width,
                      const char* file, int line);

/// Checks a launch's configuration (a failure is returned by cudaGetLastError, as on a GPU), that
/// every pointer argument is null or device memory, and queues the grid on `stream`.
void launch_grid(dim3 grid, dim3 block, cudaStream_t stream, std::function<void()> body,
                 std::vector<const void*> pointer_args);

template <class T>
void collect_pointer(const T& arg, std::vector<const void*>& out) {
  if constexpr (std::is_pointer_v<T>) out.push_back(static_cast<const void*>(arg));
}

/// kernel<<<grid, block, 0, stream>>>(args...): the arguments are copied now, as CUDA copies them.
template <class... P>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t stream, P... args) {
  std::vector<const void*> pointers;
  (collect_pointer(args, pointers), ...);
  launch_grid(
      grid, block, stream, [kernel, args...]() { kernel(args...); }, std::move(pointers));
}

template <class T>
T shuffle_value(unsigned mask, T v, Shuffle kind, int arg, int width, const char* file, int line) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  bits = shuffle(mask, bits, kind, arg, width, file, line);
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace rnnlyap::emu

#define threadIdx (::rnnlyap::emu::thread_idx())
#define blockIdx (::rnnlyap::emu::block_idx())
#define blockDim (::rnnlyap::emu::block_dim())
#define gridDim (::rnnlyap::emu::grid_dim())
#define __syncthreads() ::rnnlyap::emu::sync_threads(__FILE__, __LINE__)
#define __shfl_sync(mask, v, src, ...)                                                        \
  ::rnnlyap::emu::shuffle_value(mask, v, ::rnnlyap::emu::Shuffle::index, src,                 \
                                ::rnnlyap::emu::shuffle_width(__VA_ARGS__ __VA_OPT__(, ) 32), \
                                __FILE__, __LINE__)
#define __shfl_down_sync(mask, v, delta, ...)                                                 \
  ::rnnlyap::emu::shuffle_value(mask, v, ::rnnlyap::emu::Shuffle::down, delta,                \
                                ::rnnlyap::emu::shuffle_width(__VA_ARGS__ __VA_OPT__(, ) 32), \
                                __FILE__, __LINE__)

namespace rnnlyap::emu {
/// The optional width argument of a shuffle (32 when absent).
constexpr int shuffle_width(int width, int = 32) {
  return width;
}
}  // namespace rnnlyap::emu

// Atomics: the fibers of a block never run at once, so a compare-and-swap is one step; the GCC
// builtin keeps ThreadSanitizer from reporting it as a race.
inline int atomicCAS(int* address, int compare, int val) {
  int expected = compare;
  __atomic_compare_exchange_n(address, &expected, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;
}

// The rounding intrinsics: one IEEE operation each (the emulated build compiles without FMA
// contraction, -ffp-contract=off).
inline double __dmul_rn(double a, double b) {
  return a * b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline double __dadd_rn(double a, double b) {
  return a + b;
}
inline float __fadd_rn(float a, float b) {
  return a + b;
}
