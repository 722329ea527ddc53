// NVIDIA's distributed libraries for the GPU variant of the distributed executor
// (distributed_cuda_executor.cpp): cuBLASMp, cuSOLVERMp and the NCCL communicator both need. The
// program does not link them: libcublasmp needs the GPU driver (libcuda.so.1), which a machine
// without a GPU lacks, and the program must start there. They are loaded (dlopen) when a run
// asks for them, and their entry points taken by name with the types of NVIDIA's headers. In the
// test-only emulated build (tests/emulation) the entry points are the emulation's, linked in.
#pragma once

#include <cublasmp.h>
#include <cusolverMp.h>
#include <nccl.h>

#include <string>

namespace rnnlyap::distributed::mp {

// Every entry point the executor calls.
#define RNNLYAP_MP_ENTRY_POINTS(X)   \
  X(ncclGetUniqueId)                 \
  X(ncclCommInitRank)                \
  X(ncclCommDestroy)                 \
  X(ncclCommAbort)                   \
  X(ncclGetErrorString)              \
  X(cublasMpCreate)                  \
  X(cublasMpDestroy)                 \
  X(cublasMpGridCreate)              \
  X(cublasMpGridDestroy)             \
  X(cublasMpMatrixDescriptorCreate)  \
  X(cublasMpMatrixDescriptorDestroy) \
  X(cublasMpGemm_bufferSize)         \
  X(cublasMpGemm)                    \
  X(cublasMpSyrk_bufferSize)         \
  X(cublasMpSyrk)                    \
  X(cublasMpTrsm_bufferSize)         \
  X(cublasMpTrsm)                    \
  X(cusolverMpCreate)                \
  X(cusolverMpDestroy)               \
  X(cusolverMpCreateDeviceGrid)      \
  X(cusolverMpDestroyGrid)           \
  X(cusolverMpCreateMatrixDesc)      \
  X(cusolverMpDestroyMatrixDesc)     \
  X(cusolverMpPotrf_bufferSize)      \
  X(cusolverMpPotrf)                 \
  X(cusolverMpGeqrf_bufferSize)      \
  X(cusolverMpGeqrf)                 \
  X(cusolverMpOrgqr_bufferSize)      \
  X(cusolverMpOrgqr)

struct Api {
#define RNNLYAP_MP_MEMBER(f) decltype(&::f) f = nullptr;
  RNNLYAP_MP_ENTRY_POINTS(RNNLYAP_MP_MEMBER)
#undef RNNLYAP_MP_MEMBER
};

/// The entry points, the libraries loaded on the first call. Throws BackendUnavailable (exit 2)
/// naming the library that could not be loaded and why, or the entry point it lacks.
const Api& api();

/// Where the libraries were loaded from ("libcublasmp.so.0 (/path), ..."), or why they cannot be
/// (`loaded` false): for `rnnlyap info`. Loads them if that was not done yet.
std::string describe(bool& loaded);

}  // namespace rnnlyap::distributed::mp
