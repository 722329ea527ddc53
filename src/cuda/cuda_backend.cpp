// CUDA backend: cuBLAS for the tangent products, cuSOLVER for the QR, our own kernels
// (kernels/*.cu) for the element-wise work, the state's matrix-vector product and the log|R_ii|
// accumulation. It does the CPU backend's arithmetic (src/cpu/cpu_backend.cpp) in the CPU's order,
// so both trajectories agree to rounding.
//
// Everything lives on the device for the whole run: J, bias, state, the tangent basis and the fp64
// log accumulator. All work goes to one non-blocking stream, to which the cuBLAS and cuSOLVER
// handles are bound. The host waits for the device only
//   - in state(), basis() and take_log_sums(), which read results back;
//   - once per CholeskyQR2 re-orthonormalisation, for the fallback verdict
//   (cuda_orthonormalize.hpp);
//   - implicitly, in upload()/set_state()/set_basis(), whose copies come from pageable host memory
//     (set-up only; cudaMemcpyAsync returns once the data is staged).
// The QR's buffers, the log accumulator and cuSOLVER's status words live in cuda::Orthonormalizer.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/backend.hpp"
#include "cuda_check.hpp"
#include "cuda_common.hpp"
#include "cuda_linalg.hpp"
#include "cuda_orthonormalize.hpp"
#include "cuda_resources.hpp"
#include "launch.cuh"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap {
namespace detail {
namespace {

using cuda::kLibraryReserve;
using cuda::kMiB;
using cuda::mib_ceil;
using cuda::sat_add;
using cuda::sat_mul;

using cuda::DeviceBuffer;
namespace kernels = cuda::kernels;
namespace la = cuda::la;

template <class T>
class CudaBackend final : public Backend, private cuda::DeviceContext {
 public:
  CudaBackend(QrMethod qr, int device) : cuda::DeviceContext(device), qr_(qr) {}

  ~CudaBackend() override {
    quiesce();  // before the buffers go; the stream and handles are the base's
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override { return name_; }

  void upload(const Network& net, const Dynamics& dyn, int k) override {
    use_device();
    if (net.n < 1) throw InvalidInput("network has no neurons");
    if (k < 1 || k > net.n)
      throw InvalidInput("k = " + std::to_string(k) +
                         " must be in [1, N = " + std::to_string(net.n) + "]");
    // Free what an earlier upload holds, so that the free memory below counts it.
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
    release();
    try {
      allocate(net, dyn, k);
    } catch (...) {
      release();  // n_ = 0 again: no half-built backend is left behind
      throw;
    }
  }

  void set_state(std::span<const double> h) override {
    use_device();
    require_uploaded();
    if (h.size() != static_cast<std::size_t>(n_))
      throw InvalidInput("state has " + std::to_string(h.size()) +
                         " entries, expected N = " + std::to_string(n_));
    copy_to_device(h_.get(), h);
    x_cur_ = 0;
    kernels::phi_into(n_, h_.get(), x_[0].get(), stream());  // the state kernels' invariant
  }

  std::vector<double> state() override {
    use_device();
    require_uploaded();
    return copy_to_host(h_.get(), static_cast<std::size_t>(n_));
  }

  void set_basis(std::span<const double> q) override {
    use_device();
    require_uploaded();
    if (q.size() != q_.size())
      throw InvalidInput("basis has " + std::to_string(q.size()) +
                         " entries, expected N*k = " + std::to_string(q_.size()));
    copy_to_device(q_.get(), q);
  }

  std::vector<double> basis() override {
    use_device();
    require_uploaded();
    return copy_to_host(q_.get(), q_.size());
  }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) state_step(step0 + s);
  }

  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) {
      if (rk4_)
        tangent_step_rk4(step0 + s);
      else
        tangent_step_euler_or_map(step0 + s);
    }
  }

  void reorthonormalize(bool accumulate) override {
    use_device();
    require_uploaded();
    qr_engine_.apply(cublas_.get(), cusolver_.get(), q_.get(), accumulate, stream());
  }

  std::vector<double> take_log_sums() override {
    use_device();
    require_uploaded();
    return qr_engine_.take_logs(stream());
  }

 private:
  // Checks that the run fits, then allocates and initialises every buffer (upload()).
  void allocate(const Network& net, const Dynamics& dyn, int k) {
    n_ = net.n;
    k_ = k;
    dyn_ = dyn;
    rk4_ = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
    map_ = dyn.model == Model::map;
    cholesky_ = qr_ != QrMethod::householder;

    // Does the run fit? First without the QR workspace (whose query needs sizes cuSOLVER can
    // represent), then with it. cuSOLVER may refuse a query without buffers: then an estimate.
    std::size_t free_bytes = 0, total_bytes = 0;
    RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (bytes_needed(0) > free_bytes) throw_does_not_fit(bytes_needed(0), free_bytes);
    const std::size_t ws =
        cuda::Orthonormalizer<T>::estimate_workspace(cusolver_.get(), n_, k_, cholesky_);
    if (bytes_needed(ws) > free_bytes) throw_does_not_fit(bytes_needed(ws), free_bytes);

    const std::size_t n = static_cast<std::size_t>(n_);
    const std::size_t nk = n * static_cast<std::size_t>(k_);
    if (net.j.size() != n * n)
      throw InvalidInput("weight matrix has " + std::to_string(net.j.size()) +
                         " entries, expected N*N = " + std::to_string(n * n));
    if (!net.bias.empty() && net.bias.size() != n)
      throw InvalidInput("bias has " + std::to_string(net.bias.size()) +
                         " entries, expected N = " + std::to_string(n));

    j_ = DeviceBuffer<T>(n * n);
    copy_to_device(j_.get(), net.j);
    bias_ = DeviceBuffer<T>(n);
    if (net.bias.empty())
      zero(bias_);
    else
      copy_to_device(bias_.get(), net.bias);
    h_ = DeviceBuffer<T>(n);
    zero(h_);
    for (int i = 0; i < 4; ++i) {
      if (i < 2 || rk4_) {
        x_[i] = DeviceBuffer<T>(n);
        zero(x_[i]);  // = φ(h) for h = 0
      }
      if (rk4_) {
        y_[i] = DeviceBuffer<T>(n);
        f_[i] = DeviceBuffer<T>(n);
        zero(y_[i]);
        zero(f_[i]);
      }
    }
    x_cur_ = 0;
    q_ = DeviceBuffer<T>(nk);
    s_ = DeviceBuffer<T>(nk);
    zero(q_);
    zero(s_);
    if (rk4_) {
      kbuf_ = DeviceBuffer<T>(nk);
      acc_ = DeviceBuffer<T>(nk);
      zero(kbuf_);
      zero(acc_);
    }
    qr_engine_.allocate(n_, k_, cholesky_, stream());
    qr_engine_.reserve_workspace(cusolver_.get(), q_.get(), [&](std::size_t real_ws) {
      throw_does_not_fit(bytes_needed(real_ws), free_bytes);
    });
  }

  void require_uploaded() const {
    if (n_ == 0) throw Error("CUDA backend: upload() must be called first");
  }

  // Bytes the run needs on the device with `ws` QR workspace elements: J; the basis buffers (Q and
  // S, plus K and the RK4 accumulator); the n-vectors (bias, h, x[2 or 4], RK4 stage points and
  // slopes); the QR's own (cuda::Orthonormalizer::bytes); the libraries' own workspaces.
  std::size_t bytes_needed(std::size_t ws) const {
    const std::size_t n = static_cast<std::size_t>(n_), k = static_cast<std::size_t>(k_);
    std::size_t elems = sat_mul(n, n);
    elems = sat_add(elems, sat_mul(sat_mul(n, k), rk4_ ? 4 : 2));
    elems = sat_add(elems, sat_mul(n, rk4_ ? 2 + 4 + 4 + 4 : 2 + 2));
    std::size_t bytes = sat_mul(elems, sizeof(T));
    bytes = sat_add(bytes, cuda::Orthonormalizer<T>::bytes(k, cholesky_, ws));
    return sat_add(bytes, kLibraryReserve);
  }

  [[noreturn]] void throw_does_not_fit(std::size_t need, std::size_t free_bytes) const {
    throw InvalidInput("the run needs " + std::to_string(mib_ceil(need)) + " MiB of GPU memory; " +
                       name_ + " has " + std::to_string(free_bytes / kMiB) +
                       " MiB free (N = " + std::to_string(n_) + ", k = " + std::to_string(k_) +
                       ", " + (std::is_same_v<T, double> ? "fp64" : "fp32") + ")");
  }

  void release() {
    j_.reset();
    bias_.reset();
    h_.reset();
    for (int i = 0; i < 4; ++i) {
      x_[i].reset();
      y_[i].reset();
      f_[i].reset();
    }
    q_.reset();
    s_.reset();
    kbuf_.reset();
    acc_.reset();
    qr_engine_.release();
    n_ = k_ = 0;
  }

  T noise_scale() const {
    return static_cast<T>(map_ ? dyn_.input_std : dyn_.input_std * std::sqrt(dyn_.dt));
  }

  // Classic RK4 of the state (CpuBackend::rk4_state): 4 launches, leaving the stage points in y_.
  void rk4_state(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    kernels::Rk4State<T> b;
    b.h = h_.get();
    for (int i = 0; i < 4; ++i) {
      b.x[i] = x_[i].get();
      b.y[i] = y_[i].get();
      b.f[i] = f_[i].get();
    }
    for (int s = 0; s < 4; ++s)
      kernels::rk4_stage(n_, s, j_.get(), bias_.get(), b, s < 3 ? c[s + 1] : T(0), dt / 6,
                         noise_scale(), dyn_.noise_key, step, stream());
  }

  // CpuBackend::state_step: one fused launch for Euler/map (x = φ(h) ping-pongs between x_[0] and
  // x_[1]), four for RK4.
  void state_step(std::int64_t step) {
    if (rk4_) {
      rk4_state(step);
      return;
    }
    kernels::euler_or_map_state_step(n_, map_, j_.get(), bias_.get(), h_.get(), x_[x_cur_].get(),
                                     x_[1 - x_cur_].get(), static_cast<T>(dyn_.dt), noise_scale(),
                                     dyn_.noise_key, step, stream());
    x_cur_ = 1 - x_cur_;
  }

  // D_t Q for rate/Euler ((1-dt) I + dt J diag φ') and map (J diag φ'): S = diag(φ'(h)) Q, then
  // Q ← α J S + β Q in one GEMM, then the state step. Three launches.
  void tangent_step_euler_or_map(std::int64_t step) {
    kernels::scale_rows_by_dphi(n_, k_, h_.get(), q_.get(), s_.get(), stream());
    const T alpha = map_ ? T(1) : static_cast<T>(dyn_.dt);
    const T beta = map_ ? T(0) : static_cast<T>(1 - dyn_.dt);
    la::gemm(cublas_.get(), n_, k_, n_, alpha, j_.get(), n_, s_.get(), n_, beta, q_.get(), n_);
    state_step(step);
  }

  // RK4 of the variational equation along the RK4 stage points (CpuBackend::tangent_step_rk4):
  // K_s = -Y_s + J diag(φ'(y_s)) Y_s with Y_s = Q + c_s K_{s-1}; four GEMMs, each followed by
  // one fused pass.
  void tangent_step_rk4(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    rk4_state(step);  // fills y_ and moves h_
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    const T w[4] = {dt / 6, dt / 3, dt / 3, dt / 6};
    kernels::scale_rows_by_dphi(n_, k_, y_[0].get(), q_.get(), s_.get(), stream());
    for (int s = 0; s < 4; ++s) {
      // K = J S - c_s K_{s-1}  (beta = -0 on the first stage: K is not read)
      la::gemm(cublas_.get(), n_, k_, n_, T(1), j_.get(), n_, s_.get(), n_, -c[s], kbuf_.get(), n_);
      kernels::rk4_tangent_combine(n_, k_, s, w[s], s < 3 ? c[s + 1] : T(0),
                                   s < 3 ? y_[s + 1].get() : nullptr, kbuf_.get(), q_.get(),
                                   acc_.get(), s_.get(), stream());
    }
    swap(q_, acc_);
  }

  QrMethod qr_;

  int n_ = 0, k_ = 0;
  Dynamics dyn_;
  bool rk4_ = false, map_ = false, cholesky_ = false;
  DeviceBuffer<T> j_, bias_, h_;
  DeviceBuffer<T> x_[4], y_[4], f_[4];
  int x_cur_ = 0;  // Euler/map: x_[x_cur_] = φ(h)
  DeviceBuffer<T> q_, s_, kbuf_, acc_;
  cuda::Orthonormalizer<T> qr_engine_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(Precision precision, QrMethod qr, int device) {
  cuda::require_device(device);
  // On the GPU CholeskyQR2 (three BLAS-3 calls) is much faster than Householder QR: `auto` means
  // CholeskyQR2 with the Householder fallback.
  const QrMethod m = qr == QrMethod::auto_select ? QrMethod::cholesky2 : qr;
  if (precision == Precision::fp32) return std::make_unique<CudaBackend<float>>(m, device);
  return std::make_unique<CudaBackend<double>>(m, device);
}

}  // namespace detail

std::vector<DeviceInfo> cuda_devices() {
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
      (void)cudaGetLastError();
      return {};
    }
    int previous = 0;
    const bool restore = cudaGetDevice(&previous) == cudaSuccess;
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
      std::size_t free_bytes = 0, total_bytes = 0;
      if (cudaSetDevice(i) == cudaSuccess &&
          cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
        d.free_memory = free_bytes;
        d.total_memory = total_bytes;
      }
      out.push_back(std::move(d));
    }
    if (restore) (void)cudaSetDevice(previous);
    (void)cudaGetLastError();  // leave no error behind for the next runtime call to report
    return out;
  } catch (...) {
    return {};
  }
}

}  // namespace rnnlyap
