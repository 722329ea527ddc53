// Pieces every CUDA propagator shares: size arithmetic for the memory checks, device selection and
// description, the device-availability check, host↔device copies with fp32 conversion, and the
// device context (stream, library handles) each propagator derives from.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

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
inline std::size_t mib_ceil(std::size_t bytes) {
  return bytes / kMiB + (bytes % kMiB != 0 ? 1 : 0);
}

inline std::string device_name(int device) {
  cudaDeviceProp prop{};
  RNNLYAP_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

// Makes `device` current; a member so that it runs before the stream and handles are created.
struct SelectDevice {
  explicit SelectDevice(int device) { RNNLYAP_CUDA_CHECK(cudaSetDevice(device)); }
};

/// Throws BackendUnavailable (exit 2) unless `device` exists.
inline void require_device(int device) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw BackendUnavailable(std::string("--backend cuda: no CUDA device found (") +
                             cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ")");
  }
  if (count == 0)
    throw BackendUnavailable(
        "--backend cuda: no CUDA device found (the CUDA runtime reports 0 devices)");
  if (device < 0 || device >= count)
    throw BackendUnavailable("--backend cuda: no CUDA device found (device " +
                             std::to_string(device) + " requested, " + std::to_string(count) +
                             " present)");
}

template <class U>
void zero_async(DeviceBuffer<U>& b, cudaStream_t stream) {
  if (b.size() != 0) RNNLYAP_CUDA_CHECK(cudaMemsetAsync(b.get(), 0, b.bytes(), stream));
}

/// Host doubles → device T on `stream`. The source is pageable, so cudaMemcpyAsync returns once
/// the data is staged: the fp32 conversion buffer (64 MiB pieces, never a second full copy) may be
/// reused right after.
template <class T>
void upload_async(T* dst, std::span<const double> src, cudaStream_t stream) {
  if (src.empty()) return;
  if constexpr (std::is_same_v<T, double>) {
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(dst, src.data(), src.size() * sizeof(double),
                                       cudaMemcpyHostToDevice, stream));
  } else {
    constexpr std::size_t kChunk = std::size_t{16} << 20;
    std::vector<T> tmp(std::min(kChunk, src.size()));
    for (std::size_t at = 0; at < src.size(); at += kChunk) {
      const std::size_t m = std::min(kChunk, src.size() - at);
      for (std::size_t i = 0; i < m; ++i) tmp[i] = static_cast<T>(src[at + i]);
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(dst + at, tmp.data(), m * sizeof(T), cudaMemcpyHostToDevice, stream));
    }
  }
}

/// Device T → host doubles after everything queued on `stream` before (a read-back: synchronises).
template <class T>
std::vector<double> download(const T* src, std::size_t count, cudaStream_t stream) {
  std::vector<T> tmp(count);
  RNNLYAP_CUDA_CHECK(
      cudaMemcpyAsync(tmp.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream));
  if constexpr (std::is_same_v<T, double>)
    return tmp;
  else
    return std::vector<double>(tmp.begin(), tmp.end());
}

/// cuSOLVER's devInfo, checked lazily (the CPU backend throws at the call itself): `sticky` holds
/// the first nonzero devInfo of geqrf, orgqr and (count = 3) the second CholeskyQR potrf.
inline void throw_if_solver_failed(const int* sticky, int count) {
  if (sticky[0] != 0)
    throw VendorError("cuSOLVER cusolverDn<t>geqrf", sticky[0],
                      "devInfo: illegal argument (checked lazily)", __FILE__, __LINE__);
  if (count > 1 && sticky[1] != 0)
    throw VendorError("cuSOLVER cusolverDn<t>orgqr", sticky[1],
                      "devInfo: illegal argument (checked lazily)", __FILE__, __LINE__);
  if (count > 2 && sticky[2] != 0)
    throw VendorError("cuSOLVER cusolverDn<t>potrf", sticky[2],
                      "devInfo: second CholeskyQR pass not positive definite (checked lazily)",
                      __FILE__, __LINE__);
}

/// take_log_sums() of every CUDA propagator: reads the fp64 log sums and the `count` sticky solver
/// words starting at `sticky_dev` (one synchronisation), zeroes the sums, and throws on a failure.
inline std::vector<double> take_logs(DeviceBuffer<double>& logs, const int* sticky_dev, int count,
                                     cudaStream_t stream) {
  std::vector<double> out(logs.size());
  int sticky[3] = {0, 0, 0};
  RNNLYAP_CUDA_CHECK(
      cudaMemcpyAsync(out.data(), logs.get(), logs.bytes(), cudaMemcpyDeviceToHost, stream));
  RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(sticky, sticky_dev,
                                     static_cast<std::size_t>(count) * sizeof(int),
                                     cudaMemcpyDeviceToHost, stream));
  RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream));
  RNNLYAP_CUDA_CHECK(cudaMemsetAsync(logs.get(), 0, logs.bytes(), stream));
  throw_if_solver_failed(sticky, count);
  return out;
}

/// What every CUDA propagator holds: its device (made current first), the device's name, one
/// non-blocking stream with the cuBLAS and cuSOLVER handles bound to it, and the copies and fills
/// on that stream. Propagators derive from it privately: as a base it is built before their
/// device buffers and destroyed after them.
class DeviceContext {
 protected:
  explicit DeviceContext(int device)
      : device_(device),
        select_(device),
        name_(device_name(device)),
        cublas_(stream_.get()),
        cusolver_(stream_.get()) {}

  /// Waits for the stream: a propagator's destructor calls it before its buffers go.
  void quiesce() const noexcept {
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaSetDevice(device_));
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_.get()));
  }
  cudaStream_t stream() const { return stream_.get(); }
  void use_device() const { RNNLYAP_CUDA_CHECK(cudaSetDevice(device_)); }
  template <class U>
  void zero(DeviceBuffer<U>& b) const {
    zero_async(b, stream());
  }
  template <class T>
  void copy_to_device(T* dst, std::span<const double> src) const {
    upload_async(dst, src, stream());
  }
  template <class T>
  std::vector<double> copy_to_host(const T* src, std::size_t count) const {
    return download(src, count, stream());
  }

  // Declaration order is construction order: device first, then stream, then the handles bound
  // to it.
  int device_;
  SelectDevice select_;
  std::string name_;
  Stream stream_;
  CublasHandle cublas_;
  CusolverHandle cusolver_;
};

}  // namespace rnnlyap::cuda
