// One checking macro per vendor API (CUDA runtime, cuBLAS, cuSOLVER). A failure throws
// rnnlyap::VendorError carrying the function's name, the numeric status, the vendor's readable
// status string, file and line (docs/design.md); an allocation failure throws OutOfDeviceMemory
// with the same text. The *_NOTHROW variants are for destructors and other cleanup paths: they
// report on stderr and carry on (as cuCollections' error.hpp does for frees). Host-only header:
// include it from .cpp and .cu files, never from a public header.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda {

/// The called function's name from the stringised call: "cudaMalloc(&p, n)" → "cudaMalloc".
inline std::string api_name(std::string_view call) {
  const std::size_t paren = call.find('(');
  std::string_view name = call.substr(0, paren);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return std::string(name);
}

/// cuSOLVER has no status-to-string function; the names follow cusolver_common.h.
inline const char* cusolver_status_string(cusolverStatus_t s) noexcept {
  switch (s) {
    case CUSOLVER_STATUS_SUCCESS:
      return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED:
      return "CUSOLVER_STATUS_NOT_INITIALIZED: library not initialized";
    case CUSOLVER_STATUS_ALLOC_FAILED:
      return "CUSOLVER_STATUS_ALLOC_FAILED: resource allocation failed";
    case CUSOLVER_STATUS_INVALID_VALUE:
      return "CUSOLVER_STATUS_INVALID_VALUE: invalid parameter";
    case CUSOLVER_STATUS_ARCH_MISMATCH:
      return "CUSOLVER_STATUS_ARCH_MISMATCH: feature not supported by the device";
    case CUSOLVER_STATUS_MAPPING_ERROR:
      return "CUSOLVER_STATUS_MAPPING_ERROR";
    case CUSOLVER_STATUS_EXECUTION_FAILED:
      return "CUSOLVER_STATUS_EXECUTION_FAILED: kernel failed to launch";
    case CUSOLVER_STATUS_INTERNAL_ERROR:
      return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSOLVER_STATUS_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_ZERO_PIVOT:
      return "CUSOLVER_STATUS_ZERO_PIVOT";
    case CUSOLVER_STATUS_INVALID_LICENSE:
      return "CUSOLVER_STATUS_INVALID_LICENSE";
    case CUSOLVER_STATUS_INVALID_WORKSPACE:
      return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default:
      return "unknown cuSOLVER status";
  }
}

/// An allocation failure is OutOfDeviceMemory (a DoesNotFit: `auto` then goes to the CPU, a batch
/// of trained sequences is halved), carrying what VendorError would say; others are VendorError.
[[noreturn]] inline void throw_vendor(bool out_of_memory, const std::string& api, int status,
                                      const std::string& what, const char* file, int line) {
  if (out_of_memory)
    throw OutOfDeviceMemory(std::string("out of GPU memory: ") +
                            VendorError(api, status, what, file, line).what());
  throw VendorError(api, status, what, file, line);
}

[[noreturn]] inline void throw_cuda(cudaError_t status, const char* call, const char* file,
                                    int line) {
  if (status == cudaErrorMemoryAllocation)
    (void)cudaGetLastError();  // not sticky: leave no error behind for the next call to report
  throw_vendor(status == cudaErrorMemoryAllocation, "CUDA runtime " + api_name(call),
               static_cast<int>(status),
               std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status), file,
               line);
}

[[noreturn]] inline void throw_cublas(cublasStatus_t status, const char* call, const char* file,
                                      int line) {
  throw_vendor(
      status == CUBLAS_STATUS_ALLOC_FAILED, "cuBLAS " + api_name(call), static_cast<int>(status),
      std::string(cublasGetStatusName(status)) + ": " + cublasGetStatusString(status), file, line);
}

[[noreturn]] inline void throw_cusolver(cusolverStatus_t status, const char* call, const char* file,
                                        int line) {
  throw_vendor(status == CUSOLVER_STATUS_ALLOC_FAILED, "cuSOLVER " + api_name(call),
               static_cast<int>(status), cusolver_status_string(status), file, line);
}

/// Reports a failure where throwing is not allowed (destructors).
inline void report_nothrow(const char* api, const char* call, int status, const char* what,
                           const char* file, int line) noexcept {
  std::fprintf(stderr, "rnnlyap: warning: %s %s failed with status %d (%s) at %s:%d\n", api, call,
               status, what, file, line);
}

}  // namespace rnnlyap::cuda

/// Throws VendorError when a CUDA runtime call does not return cudaSuccess.
#define RNNLYAP_CUDA_CHECK(call)                                                    \
  do {                                                                              \
    const cudaError_t rnnlyap_cuda_status_ = (call);                                \
    if (rnnlyap_cuda_status_ != cudaSuccess)                                        \
      ::rnnlyap::cuda::throw_cuda(rnnlyap_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Checks the launch of `kernel` (launch-configuration errors and earlier asynchronous faults).
#define RNNLYAP_CUDA_CHECK_LAUNCH(kernel)                                                          \
  do {                                                                                             \
    const cudaError_t rnnlyap_cuda_status_ = cudaGetLastError();                                   \
    if (rnnlyap_cuda_status_ != cudaSuccess)                                                       \
      ::rnnlyap::cuda::throw_cuda(rnnlyap_cuda_status_, "launch of " #kernel, __FILE__, __LINE__); \
  } while (0)

/// Throws VendorError when a cuBLAS call does not return CUBLAS_STATUS_SUCCESS.
#define RNNLYAP_CUBLAS_CHECK(call)                                                      \
  do {                                                                                  \
    const cublasStatus_t rnnlyap_cublas_status_ = (call);                               \
    if (rnnlyap_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                \
      ::rnnlyap::cuda::throw_cublas(rnnlyap_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Throws VendorError when a cuSOLVER call does not return CUSOLVER_STATUS_SUCCESS.
#define RNNLYAP_CUSOLVER_CHECK(call)                                                        \
  do {                                                                                      \
    const cusolverStatus_t rnnlyap_cusolver_status_ = (call);                               \
    if (rnnlyap_cusolver_status_ != CUSOLVER_STATUS_SUCCESS)                                \
      ::rnnlyap::cuda::throw_cusolver(rnnlyap_cusolver_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// No-throw variants for destructors: report on stderr and continue.
#define RNNLYAP_CUDA_CHECK_NOTHROW(call)                                 \
  do {                                                                   \
    const cudaError_t rnnlyap_cuda_status_ = (call);                     \
    if (rnnlyap_cuda_status_ != cudaSuccess)                             \
      ::rnnlyap::cuda::report_nothrow(                                   \
          "CUDA runtime", #call, static_cast<int>(rnnlyap_cuda_status_), \
          cudaGetErrorString(rnnlyap_cuda_status_), __FILE__, __LINE__); \
  } while (0)

#define RNNLYAP_CUBLAS_CHECK_NOTHROW(call)                                                       \
  do {                                                                                           \
    const cublasStatus_t rnnlyap_cublas_status_ = (call);                                        \
    if (rnnlyap_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::rnnlyap::cuda::report_nothrow("cuBLAS", #call, static_cast<int>(rnnlyap_cublas_status_), \
                                      cublasGetStatusString(rnnlyap_cublas_status_), __FILE__,   \
                                      __LINE__);                                                 \
  } while (0)

#define RNNLYAP_CUSOLVER_CHECK_NOTHROW(call)                                                      \
  do {                                                                                            \
    const cusolverStatus_t rnnlyap_cusolver_status_ = (call);                                     \
    if (rnnlyap_cusolver_status_ != CUSOLVER_STATUS_SUCCESS)                                      \
      ::rnnlyap::cuda::report_nothrow(                                                            \
          "cuSOLVER", #call, static_cast<int>(rnnlyap_cusolver_status_),                          \
          ::rnnlyap::cuda::cusolver_status_string(rnnlyap_cusolver_status_), __FILE__, __LINE__); \
  } while (0)
