// What the CUDA executor and its re-orthonormalizers share: size arithmetic for the memory
// estimates, the device check, and the context (device, stream, library handles) all work goes to,
// pooled per device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/executor.hpp"

#include "cuda_check.hpp"
#include "cuda_resources.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda {

inline constexpr std::size_t kMiB = std::size_t{1} << 20;
// cuBLAS and cuSOLVER allocate workspaces of their own on first use (cuBLAS up to 32 MiB per
// stream on Hopper, cuSOLVER's batched Cholesky and QR their internal scratch, which no query
// reports); this much is kept free on top of the buffers a memory check counts. Kept as it is:
// the contexts are pooled (one per live executor), so it is one context's workspaces.
inline constexpr std::size_t kLibraryReserve = 64 * kMiB;
// cudaMalloc hands out memory in units of at least this many bytes (small allocations; large ones
// in pages the driver may share): the memory check counts it once per buffer.
inline constexpr std::size_t kAllocationGranularity = 512;

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

/// Whether code built for `archs` (CMAKE_CUDA_ARCHITECTURES with commas: "75-real,...,120") runs
/// on a device of compute capability major.minor: SASS of the same major and a minor at most its
/// own ("NN-real" or "NN"; "NNa" only on exactly NN), or PTX the driver compiles for it
/// ("NN-virtual" or "NN", NN at most its capability). `oldest` gets the smallest NN. A list this
/// cannot read ("native", "all") is taken to run.
inline bool build_runs_on(std::string_view archs, int major, int minor, int& oldest) {
  const int cc = 10 * major + minor;
  bool runs = false;
  oldest = 0;
  while (!archs.empty()) {
    const std::size_t comma = archs.find(',');
    std::string_view a = archs.substr(0, comma);
    archs = comma == std::string_view::npos ? std::string_view() : archs.substr(comma + 1);
    int nn = 0;
    std::size_t i = 0;
    for (; i < a.size() && a[i] >= '0' && a[i] <= '9'; ++i) nn = 10 * nn + (a[i] - '0');
    if (i == 0) return true;  // all, all-major, native: nothing to check against
    const std::string_view rest = a.substr(i);
    const bool specific = !rest.empty() && rest[0] != '-';  // 90a, 100f: not portable PTX
    const bool exact = !rest.empty() && rest[0] == 'a';
    const bool sass = rest.find("-virtual") == std::string_view::npos;
    const bool ptx = rest.find("-real") == std::string_view::npos && !specific;
    if (oldest == 0 || nn < oldest) oldest = nn;
    if (sass && nn / 10 == major && (exact ? nn % 10 == minor : nn % 10 <= minor)) runs = true;
    if (ptx && nn <= cc) runs = true;
  }
  return runs;
}

inline std::string cc_text(int nn) {
  return std::to_string(nn / 10) + "." + std::to_string(nn % 10);
}

/// Why device `device` cannot run this build's kernels, in one line: a driver of an older CUDA
/// major version than the runtime this build links (minor versions are compatible), or a compute
/// capability this build has no code for (its first kernel launch would fail with
/// cudaErrorNoKernelImageForDevice). Empty when it can, or when the device does not exist
/// (require_device says so). Creates no context; never throws.
inline std::string device_unusable(int device) {
  int driver = 0, runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
    (void)cudaGetLastError();
    return "no CUDA device found (no NVIDIA driver is installed)";
  }
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess && driver / 1000 < runtime / 1000)
    return "the NVIDIA driver supports CUDA " + std::to_string(driver / 1000) + "." +
           std::to_string(driver % 1000 / 10) + ", older than the CUDA " +
           std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) +
           " this build of rnnlyap uses: update the driver";
  (void)cudaGetLastError();
#ifdef RNNLYAP_CUDA_ARCHITECTURES
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return "";
  }
  const int cc = 10 * prop.major + prop.minor;
  int oldest = 0;
  if (build_runs_on(RNNLYAP_CUDA_ARCHITECTURES, prop.major, prop.minor, oldest)) return "";
  std::string why = "device " + std::to_string(device) + " (" + prop.name +
                    ") has compute capability " + cc_text(cc) +
                    ", for which this build of rnnlyap has no GPU code (";
  if (cc < oldest) why += "its oldest is for " + cc_text(oldest) + "; ";
  return why + "CMAKE_CUDA_ARCHITECTURES " + RNNLYAP_CUDA_ARCHITECTURES +
         "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(cc);
#else
  (void)device;
#endif
  return "";
}

/// Throws BackendUnavailable (exit 2) unless `device` exists and can run this build's kernels
/// (device_unusable). Creates no context.
inline void require_device(int device) {
  if (const std::string why = device_unusable(device); !why.empty())
    throw BackendUnavailable("--backend cuda: " + why + " (or use --backend cpu)");
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
/// executor borrows one from the pool (PooledContext); its re-orthonormalizers use the executor's
/// (they are destroyed first).
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

/// The Context of one executor, borrowed from a process-wide pool per device for as long as it
/// lives and then returned: a stream and its cuBLAS and cuSOLVER handles (each with workspaces of
/// its own, kLibraryReserve) are made once per device and per executor alive at the same time,
/// not once per executor (a sweep makes one per unit). A context is never lent to two leases at
/// once, so an executor's stream is its own while it lives and executors on other threads never
/// share one; it comes back idle (its stream synchronised) with the handles' settings unchanged
/// (nothing here changes them after construction).
class PooledContext {
 public:
  explicit PooledContext(int device) : ctx_(take(device)) {}
  ~PooledContext() { give_back(std::move(ctx_)); }
  PooledContext(const PooledContext&) = delete;
  PooledContext& operator=(const PooledContext&) = delete;
  /// The borrowed context (its address is stable while the lease lives).
  const Context& operator*() const noexcept { return *ctx_; }

 private:
  struct Pool {
    std::mutex mutex;
    std::map<int, std::vector<std::unique_ptr<Context>>> idle;  // by device
  };
  // Leaked on purpose, never destroyed: a static pool would destroy its streams and handles during
  // static destruction at exit, in an order unrelated to the CUDA runtime's and the libraries' own
  // teardown (they may be unloaded by then: undefined behaviour, crashes at exit). The driver
  // frees everything of the process when it ends.
  static Pool& pool() {
    static Pool* const p = new Pool;
    return *p;
  }
  static std::unique_ptr<Context> take(int device) {
    {
      const std::lock_guard<std::mutex> lock(pool().mutex);
      std::vector<std::unique_ptr<Context>>& idle = pool().idle[device];
      if (!idle.empty()) {
        std::unique_ptr<Context> c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return std::make_unique<Context>(device);  // outside the lock: slow, and it may throw
  }
  static void give_back(std::unique_ptr<Context> c) noexcept {
    if (!c) return;
    c->quiesce();
    try {
      const std::lock_guard<std::mutex> lock(pool().mutex);
      pool().idle[c->device()].push_back(std::move(c));
    } catch (...) {  // no memory for the pool's list: this context is destroyed instead
    }
  }

  std::unique_ptr<Context> ctx_;
};

/// The memory primitives of an executor on ctx's device and stream (core/executor.hpp's
/// bytes_available, allocate_bytes, free_bytes, copy_in, copy_out_blocking), for the CUDA executor
/// and the distributed executor's GPU variant.
/// Free device memory less what the libraries keep for themselves.
inline std::size_t bytes_available(const Context& ctx) {
  ctx.use();
  std::size_t free_bytes = 0, total = 0;
  RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes > kLibraryReserve ? free_bytes - kLibraryReserve : 0;
}
/// Zeroed device memory (OutOfDeviceMemory when it does not fit).
inline void* allocate_zeroed(const Context& ctx, std::size_t bytes) {
  ctx.use();
  void* p = device_malloc(bytes);
  const cudaError_t st = cudaMemsetAsync(p, 0, bytes, ctx.stream());
  if (st != cudaSuccess) {
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaFree(p));
    throw_cuda(st, "cudaMemsetAsync", __FILE__, __LINE__);
  }
  return p;
}
/// Frees once the stream's work, which may still use it, is done.
inline void free_when_idle(const Context& ctx, void* p) noexcept {
  ctx.quiesce();
  RNNLYAP_CUDA_CHECK_NOTHROW(cudaFree(p));
}
/// Host to device on the stream. From pageable memory cudaMemcpyAsync returns once `src` is
/// staged: it may be reused.
inline void copy_to_device(const Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  ctx.use();
  RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
}
/// Device to host after the stream's work, waiting for it.
inline void copy_to_host_blocking(const Context& ctx, void* dst, const void* src,
                                  std::size_t bytes) {
  if (bytes == 0) return;
  ctx.use();
  RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
  RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
}

/// Device bytes of a re-orthonormalizer of B bases of rows × k (cuda_reorthonormalizer.cpp), with
/// its R factors when they will be kept.
template <class T>
std::size_t reorthonormalizer_bytes(const Context& ctx, int batch, int rows, int k, QrMethod method,
                                    bool keep_r);
/// A re-orthonormalizer of B bases of rows × k on ctx's stream; ctx must outlive it.
template <class T>
std::unique_ptr<detail::Reorthonormalizer<T>> make_reorthonormalizer(const Context& ctx, int batch,
                                                                     int rows, int k,
                                                                     QrMethod method);

}  // namespace rnnlyap::cuda
