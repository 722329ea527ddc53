// Move-only owners of the CUDA resources the backend holds: device and pinned host buffers, one
// non-default stream, and the cuBLAS / cuSOLVER handles bound to that stream (RAFT binds its
// handles to its resources' stream the same way). Destructors never throw.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <cstddef>
#include <limits>
#include <utility>

#include "cuda_check.hpp"

namespace rnnlyap::cuda {

/// `count` elements of T in device memory (cudaMalloc; never managed memory).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) {
    if (count == 0) return;
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw VendorError("CUDA runtime cudaMalloc", static_cast<int>(cudaErrorMemoryAllocation),
                        "size overflows size_t", __FILE__, __LINE__);
    void* p = nullptr;
    RNNLYAP_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
    ptr_ = static_cast<T*>(p);
    count_ = count;
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }

  /// Frees the memory (cudaFree synchronises with the device).
  void reset() noexcept {
    if (ptr_ != nullptr) RNNLYAP_CUDA_CHECK_NOTHROW(cudaFree(ptr_));
    ptr_ = nullptr;
    count_ = 0;
  }
  T* get() const noexcept { return ptr_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(T); }

  friend void swap(DeviceBuffer& a, DeviceBuffer& b) noexcept {
    std::swap(a.ptr_, b.ptr_);
    std::swap(a.count_, b.count_);
  }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

/// `count` elements of T in page-locked host memory, the target of small asynchronous reads.
template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t count) {
    if (count == 0) return;
    void* p = nullptr;
    RNNLYAP_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
    ptr_ = static_cast<T*>(p);
    count_ = count;
  }
  ~PinnedBuffer() {
    if (ptr_ != nullptr) RNNLYAP_CUDA_CHECK_NOTHROW(cudaFreeHost(ptr_));
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_ != nullptr) RNNLYAP_CUDA_CHECK_NOTHROW(cudaFreeHost(ptr_));
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  T* get() const noexcept { return ptr_; }
  std::size_t size() const noexcept { return count_; }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

/// A non-blocking stream: it does not synchronise with the legacy default stream.
class Stream {
 public:
  Stream() { RNNLYAP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (stream_ != nullptr) RNNLYAP_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_));
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (stream_ != nullptr) RNNLYAP_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_));
      stream_ = std::exchange(o.stream_, nullptr);
    }
    return *this;
  }
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

/// A cuBLAS handle whose work goes to `stream`.
class CublasHandle {
 public:
  explicit CublasHandle(cudaStream_t stream) {
    RNNLYAP_CUBLAS_CHECK(cublasCreate(&handle_));
    try {
      RNNLYAP_CUBLAS_CHECK(cublasSetStream(handle_, stream));
    } catch (...) {
      RNNLYAP_CUBLAS_CHECK_NOTHROW(cublasDestroy(handle_));
      throw;
    }
  }
  ~CublasHandle() {
    if (handle_ != nullptr) RNNLYAP_CUBLAS_CHECK_NOTHROW(cublasDestroy(handle_));
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  CublasHandle(CublasHandle&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& o) noexcept {
    if (this != &o) {
      if (handle_ != nullptr) RNNLYAP_CUBLAS_CHECK_NOTHROW(cublasDestroy(handle_));
      handle_ = std::exchange(o.handle_, nullptr);
    }
    return *this;
  }
  cublasHandle_t get() const noexcept { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

/// A cuSOLVER dense handle whose work goes to `stream`.
class CusolverHandle {
 public:
  explicit CusolverHandle(cudaStream_t stream) {
    RNNLYAP_CUSOLVER_CHECK(cusolverDnCreate(&handle_));
    try {
      RNNLYAP_CUSOLVER_CHECK(cusolverDnSetStream(handle_, stream));
    } catch (...) {
      RNNLYAP_CUSOLVER_CHECK_NOTHROW(cusolverDnDestroy(handle_));
      throw;
    }
  }
  ~CusolverHandle() {
    if (handle_ != nullptr) RNNLYAP_CUSOLVER_CHECK_NOTHROW(cusolverDnDestroy(handle_));
  }
  CusolverHandle(const CusolverHandle&) = delete;
  CusolverHandle& operator=(const CusolverHandle&) = delete;
  CusolverHandle(CusolverHandle&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  CusolverHandle& operator=(CusolverHandle&& o) noexcept {
    if (this != &o) {
      if (handle_ != nullptr) RNNLYAP_CUSOLVER_CHECK_NOTHROW(cusolverDnDestroy(handle_));
      handle_ = std::exchange(o.handle_, nullptr);
    }
    return *this;
  }
  cusolverDnHandle_t get() const noexcept { return handle_; }

 private:
  cusolverDnHandle_t handle_ = nullptr;
};

}  // namespace rnnlyap::cuda
