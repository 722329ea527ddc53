// The CUDA language the kernels are written in: the toolkit's <cuda_runtime.h> under nvcc, or, in
// the test-only emulated build (RNNLYAP_CUDA_EMULATION, tests/emulation), the same names defined
// for the host compiler: thread and block indices, barriers, warp shuffles, atomics and the
// rounding intrinsics, with every kernel launch checked and queued on an emulated stream.
#pragma once

#ifdef RNNLYAP_CUDA_EMULATION
#include "emulation/device.hpp"
#else
#include <cuda_runtime.h>
#endif

#include <utility>

namespace rnnlyap::cuda::kernels {

/// Queues kernel<<<grid, block, 0, stream>>>(args...). Every launch site goes through here so that
/// the emulated build can run the same kernels.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t stream, A&&... args) {
#ifdef RNNLYAP_CUDA_EMULATION
  ::rnnlyap::emu::launch(kernel, grid, block, stream, static_cast<P>(std::forward<A>(args))...);
#else
  // clang-format reads this header as C++ and would split the launch brackets.
  // clang-format off
  kernel<<<grid, block, 0, stream>>>(std::forward<A>(args)...);
  // clang-format on
#endif
}

}  // namespace rnnlyap::cuda::kernels
