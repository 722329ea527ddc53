// What the CUDA executor and its re-orthonormalizers share: size arithmetic for the memory
// estimates, the device check, and the context (device, stream, library handles) all work goes to.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include "core/executor.hpp"

#include "cuda_check.hpp"
#include "cuda_resources.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda {

inline constexpr std::size_t kMiB = std::size_t{1} << 20;
// cuBLAS and cuSOLVER allocate workspaces of their own on first use (cuBLAS up to 32 MiB per
// stream on Hopper); this much is kept free on top of the buffers a memory check counts.
inline constexpr std::size_t kLibraryReserve = 64 * kMiB;

// Saturating size arithmetic: a size that does not fit in size_t certainly does not fit on a GPU.
inline std::size_t sat_mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
    return std::numeric_limits<std::size_t>::max();
  return a * b;
}
inline std::size_t sat_add(std::size_t a, std::size_t b) {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

/// Throws BackendUnavailable (exit 2) unless `device` exists.
inline void require_device(int device) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw BackendUnavailable(std::string("--backend cuda: no CUDA device found (") +
                             cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ")");
  }
  if (device < 0 || device >= count)
    throw BackendUnavailable("--backend cuda: no CUDA device found (device " +
                             std::to_string(device) + " requested, " + std::to_string(count) +
                             " present)");
}

// Makes `device` current; a member so that it runs before the stream and handles are created.
struct SelectDevice {
  explicit SelectDevice(int device) { RNNLYAP_CUDA_CHECK(cudaSetDevice(device)); }
};

/// One device, one non-blocking stream, and the cuBLAS and cuSOLVER handles bound to it. The
/// executor owns it; its re-orthonormalizers borrow it (they are destroyed first).
class Context {
 public:
  explicit Context(int device)
      : device_(device), select_(device), cublas_(stream_.get()), cusolver_(stream_.get()) {}

  /// Makes the device current (every call into the executor does this first).
  void use() const { RNNLYAP_CUDA_CHECK(cudaSetDevice(device_)); }
  /// Waits for the stream without throwing (destructors, frees).
  void quiesce() const noexcept {
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaSetDevice(device_));
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_.get()));
  }
  /// The stream every call is queued on.
  cudaStream_t stream() const { return stream_.get(); }
  /// The cuBLAS handle bound to stream().
  cublasHandle_t blas() const { return cublas_.get(); }
  /// The cuSOLVER handle bound to stream().
  cusolverDnHandle_t solver() const { return cusolver_.get(); }
  /// The CUDA device index.
  int device() const { return device_; }

 private:
  // Declaration order is construction order: device first, then the stream, then its handles.
  int device_;
  SelectDevice select_;
  Stream stream_;
  CublasHandle cublas_;
  CusolverHandle cusolver_;
};

/// Device bytes of a re-orthonormalizer of B bases of rows × k (cuda_reorthonormalizer.cpp).
template <class T>
std::size_t reorthonormalizer_bytes(const Context& ctx, int batch, int rows, int k,
                                    QrMethod method);
/// A re-orthonormalizer of B bases of rows × k on ctx's stream; ctx must outlive it.
template <class T>
std::unique_ptr<detail::Reorthonormalizer<T>> make_reorthonormalizer(const Context& ctx, int batch,
                                                                     int rows, int k,
                                                                     QrMethod method);

}  // namespace rnnlyap::cuda
