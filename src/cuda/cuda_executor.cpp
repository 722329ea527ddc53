// The CUDA executor: the primitives of core/executor.hpp on one GPU. cuBLAS for the products,
// cuSOLVER and cuBLAS for the re-orthonormalisation (cuda_reorthonormalizer.cpp), and the model
// families' kernels (model_kernels.cpp over our kernels, kernels.hpp) for the per-element work and
// the state's matrix-vector products, which do per member the CPU executor's arithmetic in its
// order, so CPU and GPU trajectories agree to rounding.
// All work goes to one non-blocking stream, to which the library handles are bound (borrowed with
// them from a per-device pool, cuda_common.hpp). The host waits for the device only in
// copy_out_blocking, free_bytes, the re-orthonormalizer's take_logs_blocking and its one
// CholeskyQR verdict per re-orthonormalisation.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/backends.hpp"
#include "core/executor.hpp"
#include "cuda_common.hpp"
#include "cuda_linalg.hpp"
#include "model_kernels.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap {
namespace detail {
namespace {

template <class T>
class CudaExecutor final : public Executor<T> {
 public:
  explicit CudaExecutor(int device) : pooled_(device), ctx_(*pooled_) {
    cudaDeviceProp prop{};
    RNNLYAP_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    name_ = prop.name;
  }
  ~CudaExecutor() override { ctx_.quiesce(); }

  BackendKind kind() const override { return BackendKind::cuda; }
  std::string device() const override { return name_; }
  std::size_t bytes_available() const override { return cuda::bytes_available(ctx_); }
  void* allocate_bytes(std::size_t bytes) override { return cuda::allocate_zeroed(ctx_, bytes); }
  void free_bytes(void* p) noexcept override { cuda::free_when_idle(ctx_, p); }
  void copy_in(void* dst, const void* src, std::size_t bytes) override {
    cuda::copy_to_device(ctx_, dst, src, bytes);
  }
  void copy_out_blocking(void* dst, const void* src, std::size_t bytes) override {
    cuda::copy_to_host_blocking(ctx_, dst, src, bytes);
  }

  void gemm_batched(int m, int n, int kk, T alpha, const T* a, int lda, long long stride_a,
                    const T* b, int ldb, long long stride_b, T beta, T* c, int ldc,
                    long long stride_c, int batch) override {
    ctx_.use();
    cuda::la::gemm(ctx_.blas(), CUBLAS_OP_N, m, n, kk, alpha, a, lda, stride_a, b, ldb, stride_b,
                   beta, c, ldc, stride_c, batch);
  }
  std::size_t allocation_granularity() const override { return cuda::kAllocationGranularity; }
  std::size_t reorthonormalizer_bytes(int batch, int rows, int k, QrMethod method,
                                      bool keep_r) const override {
    ctx_.use();
    return cuda::reorthonormalizer_bytes<T>(ctx_, batch, rows, k, method, keep_r);
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    return cuda::make_reorthonormalizer<T>(ctx_, batch, rows, k, method);
  }

 protected:
  // The model families' kernels (model_kernels.cpp).
  Kernels* family_kernels(const std::type_info& family) override {
    if (family == typeid(RandomNetworkKernels<T>)) return random_network_.get();
    if (family == typeid(CellKernels<T>)) return cell_.get();
    return nullptr;
  }

 private:
  cuda::PooledContext pooled_;  // this executor's stream and handles, returned to the pool after
  const cuda::Context& ctx_;    // *pooled_
  std::string name_;
  std::unique_ptr<RandomNetworkKernels<T>> random_network_ =
      cuda::make_random_network_kernels<T>(ctx_);
  std::unique_ptr<CellKernels<T>> cell_ = cuda::make_cell_kernels<T>(ctx_);
};

}  // namespace

template <class T>
std::unique_ptr<Executor<T>> make_cuda_executor(int device) {
  cuda::require_device(device);
  return std::make_unique<CudaExecutor<T>>(device);
}

std::string cuda_device_unusable(int device) {
  try {
    return cuda::device_unusable(device);
  } catch (...) {  // std::bad_alloc of the message
    return "CUDA device " + std::to_string(device) + " could not be checked";
  }
}

template std::unique_ptr<Executor<float>> make_cuda_executor<float>(int);
template std::unique_ptr<Executor<double>> make_cuda_executor<double>(int);

// `auto` takes a GPU present and usable; the test-only emulated device is not a GPU.
const Backend& cuda_backend() {
  static const Backend entry{
      BackendKind::cuda,
      true,
      true,
      [](int device, int) { return make_cuda_executor<float>(device); },
      [](int device, int) { return make_cuda_executor<double>(device); },
      &cuda_device_unusable,
      [](int device) {
        const auto devices = cuda_devices();
        return std::any_of(devices.begin(), devices.end(),
                           [](const DeviceInfo& d) { return !d.emulated; }) &&
               cuda_device_unusable(device).empty();
      },
  };
  return entry;
}

}  // namespace detail

std::vector<DeviceInfo> cuda_devices() {
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
      (void)cudaGetLastError();
      return {};
    }
    // Properties only: cudaSetDevice and cudaMemGetInfo would make a context on every GPU (memory
    // the run's fit check cannot see, and a failure on nodes in exclusive-process mode where
    // another process holds a GPU). Free memory is asked of the device a run uses, when placed
    // (bytes_available); here it stays 0, unknown.
    std::vector<DeviceInfo> out;
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp prop{};
      if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
      DeviceInfo d;
      d.index = i;
      d.name = prop.name;
      d.cc_major = prop.major;
      d.cc_minor = prop.minor;
      d.total_memory = prop.totalGlobalMem;
      d.multiprocessors = prop.multiProcessorCount;
#ifdef RNNLYAP_CUDA_EMULATION
      d.emulated = true;
#endif
      out.push_back(std::move(d));
    }
    (void)cudaGetLastError();  // leave no error behind for the next runtime call to report
    return out;
  } catch (...) {
    return {};
  }
}

}  // namespace rnnlyap
