// Owners of the CUDA resources the executor holds: device and pinned host buffers, one
// non-blocking stream, an event, and the cuBLAS / cuSOLVER handles bound to the stream (RAFT binds
// its handles to its resources' stream the same way). Destructors never throw.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <cstddef>
#include <string>
#include <utility>

#include "cuda_check.hpp"

namespace rnnlyap::cuda {

/// cudaMalloc of `bytes`; OutOfDeviceMemory naming the size when the device has not that much free
/// (the run then goes to the CPU under `auto`, a batch of trained sequences is halved), another
/// failure VendorError.
inline void* device_malloc(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t st = cudaMalloc(&p, bytes);
  if (st == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // not sticky: leave no error behind for the next call to report
    throw OutOfDeviceMemory("out of GPU memory: cudaMalloc of " +
                            std::to_string((bytes + (std::size_t{1} << 20) - 1) >> 20) +
                            " MiB failed (cudaErrorMemoryAllocation: other processes may be using "
                            "the GPU, or the run does not fit)");
  }
  if (st != cudaSuccess) throw_cuda(st, "cudaMalloc", __FILE__, __LINE__);
  return p;
}

/// `count` elements of T in device memory (cudaMalloc, or cudaMallocHost when kPinned); move-only.
template <class T, bool kPinned = false>
class Allocation {
 public:
  Allocation() = default;
  explicit Allocation(std::size_t count) {
    if (count == 0) return;
    void* p = nullptr;
    if constexpr (kPinned)
      RNNLYAP_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
    else
      p = device_malloc(count * sizeof(T));
    ptr_ = static_cast<T*>(p);
    count_ = count;
  }
  ~Allocation() { reset(); }
  Allocation(Allocation&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  Allocation& operator=(Allocation&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }

  /// Frees the memory (cudaFree synchronises with the device).
  void reset() noexcept {
    if (ptr_ == nullptr) return;
    if constexpr (kPinned)
      RNNLYAP_CUDA_CHECK_NOTHROW(cudaFreeHost(ptr_));
    else
      RNNLYAP_CUDA_CHECK_NOTHROW(cudaFree(ptr_));
    ptr_ = nullptr;
    count_ = 0;
  }
  /// The first element (null when empty).
  T* get() const noexcept { return ptr_; }
  /// The number of elements.
  std::size_t size() const noexcept { return count_; }
  /// The size in bytes.
  std::size_t bytes() const noexcept { return count_ * sizeof(T); }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

/// Device memory.
template <class T>
using DeviceBuffer = Allocation<T, false>;
/// Page-locked host memory, the target of small asynchronous reads.
template <class T>
using PinnedBuffer = Allocation<T, true>;

/// A non-blocking stream: it does not synchronise with the legacy default stream.
class Stream {
 public:
  Stream() { RNNLYAP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { RNNLYAP_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  /// The stream.
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

/// An event without timing: a point in a stream the host can wait for.
class Event {
 public:
  Event() { RNNLYAP_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~Event() { RNNLYAP_CUDA_CHECK_NOTHROW(cudaEventDestroy(event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  /// The event.
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

/// A cuBLAS handle whose work goes to `stream`.
class CublasHandle {
 public:
  explicit CublasHandle(cudaStream_t stream) {
    RNNLYAP_CUBLAS_CHECK(cublasCreate(&handle_));
    const cublasStatus_t st = cublasSetStream(handle_, stream);
    if (st != CUBLAS_STATUS_SUCCESS) {
      RNNLYAP_CUBLAS_CHECK_NOTHROW(cublasDestroy(handle_));
      throw_cublas(st, "cublasSetStream", __FILE__, __LINE__);
    }
  }
  ~CublasHandle() { RNNLYAP_CUBLAS_CHECK_NOTHROW(cublasDestroy(handle_)); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  /// The handle.
  cublasHandle_t get() const noexcept { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

/// A cuSOLVER dense handle whose work goes to `stream`.
class CusolverHandle {
 public:
  explicit CusolverHandle(cudaStream_t stream) {
    RNNLYAP_CUSOLVER_CHECK(cusolverDnCreate(&handle_));
    const cusolverStatus_t st = cusolverDnSetStream(handle_, stream);
    if (st != CUSOLVER_STATUS_SUCCESS) {
      RNNLYAP_CUSOLVER_CHECK_NOTHROW(cusolverDnDestroy(handle_));
      throw_cusolver(st, "cusolverDnSetStream", __FILE__, __LINE__);
    }
  }
  ~CusolverHandle() { RNNLYAP_CUSOLVER_CHECK_NOTHROW(cusolverDnDestroy(handle_)); }
  CusolverHandle(const CusolverHandle&) = delete;
  CusolverHandle& operator=(const CusolverHandle&) = delete;
  /// The handle.
  cusolverDnHandle_t get() const noexcept { return handle_; }

 private:
  cusolverDnHandle_t handle_ = nullptr;
};

}  // namespace rnnlyap::cuda
