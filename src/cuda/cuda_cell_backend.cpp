// CUDA propagator for trained cells (vanilla RNN, GRU, LSTM; PyTorch conventions). It does the CPU
// propagator's arithmetic (src/cpu/cell_backend.cpp, the reference) in the CPU's order, so both
// trajectories agree to rounding: the input drive W_ih x_t + b_ih of every step is formed once in
// upload() (fp64, rounded once to T); each step forms gh = W_hh h + b_hh with a fixed-order sum,
// the gates and the per-row coefficients c0..c5; the tangent step is Q' = E Q_h + D Q with the
// per-step matrix E (dim × N) formed from W_hh and the coefficients — one GEMM of 2·dim·N·k flops,
// half of W_hh Q_h's for the LSTM, a third for the GRU; the dense Jacobian is never formed.
//
// Everything lives on the device for the whole run: W_hh, b_hh, the drive of every step, h (two
// buffers, ping-pong) and c, the per-row coefficients, E, the basis Q and its successor Q', and
// the QR's buffers (cuda::Orthonormalizer). All work goes to one non-blocking stream, to which the
// cuBLAS and cuSOLVER handles are bound; several propagators (a batch of sequences) overlap on the
// device through their own streams.
//
// Launches per step:
//   advance_state:   1 — kernels::cell_step (gh, gates, state update h_in → h_out, c in place);
//   advance_tangent: 4 (3 for rnn and the h-only LSTM) — cell_step (also writing the
//                    coefficients), kernels::cell_form_e, kernels::cell_diagonal (Q' = D Q) and the
//                    GEMM Q' = E Q_h + β Q'; then Q ↔ Q' (a pointer swap on the host).
// The state update is fused into the first kernel: it needs only its own unit's gates, and the
// ping-pong h keeps the other blocks' reads of the old h intact. The coefficients depend on the
// old state only, so updating it before E is formed changes nothing.
//
// Re-orthonormalisation: cuda::Orthonormalizer — CholeskyQR2 with the Householder fallback for
// `cholesky2` and `auto` (three BLAS-3 calls, far faster than cuSOLVER's geqrf + orgqr of a square
// basis on a GPU; one synchronisation for the fallback verdict), Householder QR for `householder`.
//
// Device memory of one upload (checked against cudaMemGetInfo before anything is allocated; the
// InvalidInput names what the run needs and what the device has free):
//   sizeof(T)·(G·N·N + G·N·(steps + 1) + dim·N + N·(2 + [lstm] + 6) + 2·dim·k)
//   + cuda::Orthonormalizer::bytes + 8·(G·N·I + G·N + steps·I) + 64 MiB kept for cuBLAS/cuSOLVER,
// the fp64 terms with I being the staging buffers of the drive (freed at the end of upload()).
//
// The host waits for the device only
//   - in state(), basis() and take_log_sums(), which read results back;
//   - once per CholeskyQR2 re-orthonormalisation (the fallback verdict), in its second half
//     (reorthonormalize_end), so that a batch queues every member's first half before waiting;
//   - in upload(), which synchronises before freeing an earlier upload's buffers and before
//     freeing the fp64 staging buffers of the drive, and whose copies — like those of
//     set_state()/set_basis() — come from pageable host memory (cudaMemcpyAsync returns once the
//     data is staged).
#include <cuda_runtime_api.h>

#include <algorithm>
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

namespace rnnlyap::detail {
namespace {

using cuda::kLibraryReserve;
using cuda::kMiB;
using cuda::mib_ceil;
using cuda::sat_add;
using cuda::sat_mul;

using cuda::DeviceBuffer;
namespace kernels = cuda::kernels;
namespace la = cuda::la;

// Coefficient rows of the tangent pass: c0..c5 (the LSTM uses all six).
constexpr std::size_t kCoefficients = 6;

kernels::CellKind cell_kind(Model m) {
  switch (m) {
    case Model::rnn:
      return kernels::CellKind::rnn;
    case Model::gru:
      return kernels::CellKind::gru;
    case Model::lstm:
      return kernels::CellKind::lstm;
    default:
      throw InvalidInput("the CUDA cell propagator needs an rnn, gru or lstm network");
  }
}

// The sizes of one upload, checked and widened once.
struct CellShape {
  std::size_t n = 0, gn = 0, in = 0, steps = 0, dim = 0, k = 0;
};

template <class T>
class CudaCellBackend final : public CellBackend, private cuda::DeviceContext {
 public:
  CudaCellBackend(QrMethod qr, int device)
      : cuda::DeviceContext(device), cholesky_(qr != QrMethod::householder) {}

  ~CudaCellBackend() override {
    quiesce();  // before the buffers go; the stream and handles are the base's
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override { return name_; }

  void upload(const CellNetwork& net, std::span<const double> inputs, int steps, int k,
              bool lstm_h_only) override {
    use_device();
    const CellShape s = validate(net, inputs, steps, k, lstm_h_only);
    // Free what an earlier upload holds, so that the free memory below counts it.
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
    release();
    try {
      allocate(net, inputs, s, lstm_h_only);
    } catch (...) {
      release();  // n_ = 0 again: no half-built propagator is left behind
      throw;
    }
  }

  void set_state(std::span<const double> s) override {
    use_device();
    require_uploaded();
    const std::size_t n = static_cast<std::size_t>(n_);
    if (s.size() != n + c_.size())
      throw InvalidInput("state has " + std::to_string(s.size()) + " entries, expected " +
                         std::to_string(n + c_.size()) + (c_.size() != 0 ? " (h, then c)" : ""));
    copy_to_device(h_[cur_].get(), s.first(n));
    if (c_.size() != 0) copy_to_device(c_.get(), s.subspan(n));
  }

  std::vector<double> state() override {
    use_device();
    require_uploaded();
    const std::size_t n = static_cast<std::size_t>(n_);
    std::vector<T> tmp(n + c_.size());
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(tmp.data(), h_[cur_].get(), n * sizeof(T),
                                       cudaMemcpyDeviceToHost, stream()));
    if (c_.size() != 0)
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(tmp.data() + n, c_.get(), c_.bytes(), cudaMemcpyDeviceToHost, stream()));
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return {tmp.begin(), tmp.end()};
  }

  void set_basis(std::span<const double> q) override {
    use_device();
    require_uploaded();
    if (q.size() != q_.size())
      throw InvalidInput("basis has " + std::to_string(q.size()) +
                         " entries, expected dim*k = " + std::to_string(q_.size()));
    copy_to_device(q_.get(), q);
  }

  std::vector<double> basis() override {
    use_device();
    require_uploaded();
    std::vector<T> tmp(q_.size());
    RNNLYAP_CUDA_CHECK(
        cudaMemcpyAsync(tmp.data(), q_.get(), q_.bytes(), cudaMemcpyDeviceToHost, stream()));
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return {tmp.begin(), tmp.end()};
  }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) step(step0 + s, nullptr);
  }

  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) {
      step(step0 + s, coef_.get());  // coefficients from the old state, then the state moves
      kernels::cell_form_e(kind_, h_only_, n_, dim_, coef_.get(), whh_.get(), e_.get(), stream());
      const bool diagonal = kernels::cell_diagonal(kind_, h_only_, n_, dim_, k_, coef_.get(),
                                                   q_.get(), qn_.get(), stream());
      // Q' = E Q_h + β Q': Q_h are the first N rows of each column (leading dimension dim).
      la::gemm(cublas_.get(), dim_, k_, n_, T(1), e_.get(), dim_, q_.get(), dim_,
               diagonal ? T(1) : T(0), qn_.get(), dim_);
      swap(q_, qn_);
    }
  }

  void reorthonormalize(bool accumulate) override {
    reorthonormalize_begin(accumulate);
    reorthonormalize_end();
  }

  void reorthonormalize_begin(bool accumulate) override {
    use_device();
    require_uploaded();
    qr_engine_.begin(cublas_.get(), cusolver_.get(), q_.get(), accumulate, stream());
  }

  void reorthonormalize_end() override {
    use_device();
    require_uploaded();
    qr_engine_.finish(cublas_.get(), cusolver_.get(), q_.get(), stream());
  }

  std::vector<double> take_log_sums() override {
    use_device();
    require_uploaded();
    return qr_engine_.take_logs(stream());
  }

 private:
  // Host-side checks of an upload, before anything on the device is touched.
  static CellShape validate(const CellNetwork& net, std::span<const double> inputs, int steps,
                            int k, bool h_only) {
    cell_kind(net.type);
    if (net.hidden < 1) throw InvalidInput("the cell has no hidden units");
    if (net.input_size < 0) throw InvalidInput("the cell has a negative input_size");
    if (steps < 0) throw InvalidInput("the input sequence has a negative number of steps");
    CellShape s;
    s.n = static_cast<std::size_t>(net.hidden);
    s.gn = static_cast<std::size_t>(net.gates()) * s.n;
    s.in = static_cast<std::size_t>(net.input_size);
    s.steps = static_cast<std::size_t>(steps);
    s.dim = (net.type == Model::lstm && !h_only) ? 2 * s.n : s.n;
    if (s.gn > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw InvalidInput("G*N = " + std::to_string(s.gn) + " exceeds cuBLAS's 32-bit sizes");
    if (k < 1 || static_cast<std::size_t>(k) > s.dim)
      throw InvalidInput("k = " + std::to_string(k) + " must be in [1, " + std::to_string(s.dim) +
                         "]");
    s.k = static_cast<std::size_t>(k);
    auto expect = [](const std::vector<double>& v, std::size_t size, const char* what,
                     bool may_be_empty) {
      if (v.size() != size && !(may_be_empty && v.empty()))
        throw InvalidInput(std::string(what) + " has " + std::to_string(v.size()) +
                           " entries, expected " + std::to_string(size));
    };
    expect(net.w_hh, sat_mul(s.gn, s.n), "weight_hh", false);
    expect(net.w_ih, sat_mul(s.gn, s.in), "weight_ih", false);
    expect(net.b_ih, s.gn, "bias_ih", true);
    expect(net.b_hh, s.gn, "bias_hh", true);
    if (inputs.size() < sat_mul(s.steps, s.in))
      throw InvalidInput("the inputs have " + std::to_string(inputs.size()) + " values, expected " +
                         std::to_string(s.steps) + " steps x " + std::to_string(s.in) +
                         " features");
    return s;
  }

  // Bytes of one upload: the persistent buffers (T: W_hh, b_hh, the drive, h twice, c, the
  // coefficients, E, Q and Q'; the QR's own, with `ws` workspace elements) plus the fp64 staging
  // buffers of the drive that coexist with them during upload() (W_ih, b_ih, the inputs), plus
  // the libraries' own workspaces:
  //   sizeof(T)·(G·N·N + G·N·(steps + 1) + dim·N + N·(2 + [lstm] + 6) + 2·dim·k)
  //   + cuda::Orthonormalizer::bytes + 8·(G·N·I + G·N + steps·I) + 64 MiB.
  std::size_t bytes_needed(const CellShape& s, bool lstm, std::size_t ws) const {
    std::size_t elems = sat_mul(s.gn, s.n);
    elems = sat_add(elems, sat_mul(s.gn, sat_add(s.steps, 1)));
    elems = sat_add(elems, sat_mul(s.dim, s.n));
    elems = sat_add(elems, sat_mul(s.n, 2 + (lstm ? 1 : 0) + kCoefficients));
    elems = sat_add(elems, sat_mul(sat_mul(s.dim, s.k), 2));
    std::size_t doubles = sat_add(sat_mul(s.gn, s.in), s.gn);
    doubles = sat_add(doubles, sat_mul(s.steps, s.in));
    std::size_t bytes = sat_add(sat_mul(elems, sizeof(T)), sat_mul(doubles, sizeof(double)));
    bytes = sat_add(bytes, cuda::Orthonormalizer<T>::bytes(s.k, cholesky_, ws));
    return sat_add(bytes, kLibraryReserve);
  }

  [[noreturn]] void throw_does_not_fit(const CellShape& s, std::size_t need,
                                       std::size_t free_bytes) const {
    throw InvalidInput("the run needs " + std::to_string(mib_ceil(need)) + " MiB of GPU memory; " +
                       name_ + " has " + std::to_string(free_bytes / kMiB) +
                       " MiB free (N = " + std::to_string(s.n) + ", k = " + std::to_string(s.k) +
                       ", " + std::to_string(s.steps) + " input steps, " +
                       (std::is_same_v<T, double> ? "fp64" : "fp32") + ")");
  }

  // Checks that the run fits, then allocates and initialises every buffer (upload()).
  void allocate(const CellNetwork& net, std::span<const double> inputs, const CellShape& s,
                bool h_only) {
    const bool lstm = net.type == Model::lstm;
    const int dim = static_cast<int>(s.dim), k = static_cast<int>(s.k);

    // Does the run fit? First without the QR workspace (whose query may refuse null buffers: then
    // an estimate), then with the workspace the real query asks for.
    std::size_t free_bytes = 0, total_bytes = 0;
    RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (bytes_needed(s, lstm, 0) > free_bytes)
      throw_does_not_fit(s, bytes_needed(s, lstm, 0), free_bytes);
    const std::size_t ws =
        cuda::Orthonormalizer<T>::estimate_workspace(cusolver_.get(), dim, k, cholesky_);
    if (bytes_needed(s, lstm, ws) > free_bytes)
      throw_does_not_fit(s, bytes_needed(s, lstm, ws), free_bytes);

    kind_ = cell_kind(net.type);
    h_only_ = h_only;
    n_ = net.hidden;
    gn_ = static_cast<int>(s.gn);
    dim_ = dim;
    k_ = k;
    steps_ = static_cast<std::int64_t>(s.steps);

    // W_hh column-major (G·N × N) for the GEMM and for coalesced row sums.
    whh_ = DeviceBuffer<T>(s.gn * s.n);
    {
      std::vector<T> col_major(s.gn * s.n);
      for (std::size_t r = 0; r < s.gn; ++r)
        for (std::size_t c = 0; c < s.n; ++c)
          col_major[c * s.gn + r] = static_cast<T>(net.w_hh[r * s.n + c]);
      // From pageable memory the copy returns once the data is staged: col_major may go.
      RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(whh_.get(), col_major.data(), whh_.bytes(),
                                         cudaMemcpyHostToDevice, stream()));
    }
    bhh_ = DeviceBuffer<T>(s.gn);
    if (net.b_hh.empty())
      zero(bhh_);
    else
      copy_to_device(bhh_.get(), net.b_hh);
    upload_drive(net, inputs, s);

    for (auto& h : h_) {
      h = DeviceBuffer<T>(s.n);
      zero(h);
    }
    cur_ = 0;
    if (lstm) {
      c_ = DeviceBuffer<T>(s.n);
      zero(c_);
    }
    coef_ = DeviceBuffer<T>(kCoefficients * s.n);
    zero(coef_);
    e_ = DeviceBuffer<T>(s.dim * s.n);
    q_ = DeviceBuffer<T>(s.dim * s.k);
    qn_ = DeviceBuffer<T>(s.dim * s.k);
    zero(e_);
    zero(q_);
    zero(qn_);
    qr_engine_.allocate(dim_, k_, cholesky_, stream());
    qr_engine_.reserve_workspace(cusolver_.get(), q_.get(), [&](std::size_t real_ws) {
      throw_does_not_fit(s, bytes_needed(s, lstm, real_ws), free_bytes);
    });
  }

  // The drive W_ih x_t + b_ih of every step, formed on the device in fp64 from staged copies of
  // W_ih (transposed), b_ih and the inputs, which are freed afterwards.
  void upload_drive(const CellNetwork& net, std::span<const double> inputs, const CellShape& s) {
    drive_ = DeviceBuffer<T>(s.gn * s.steps);
    if (s.steps == 0) return;
    DeviceBuffer<double> w_t(s.gn * s.in), b_ih(net.b_ih.size()), x(s.steps * s.in);
    if (s.in != 0) {
      std::vector<double> t(s.gn * s.in);
      for (std::size_t r = 0; r < s.gn; ++r)
        for (std::size_t j = 0; j < s.in; ++j) t[j * s.gn + r] = net.w_ih[r * s.in + j];
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(w_t.get(), t.data(), w_t.bytes(), cudaMemcpyHostToDevice, stream()));
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(x.get(), inputs.data(), x.bytes(), cudaMemcpyHostToDevice, stream()));
    }
    if (b_ih.size() != 0)
      RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(b_ih.get(), net.b_ih.data(), b_ih.bytes(),
                                         cudaMemcpyHostToDevice, stream()));
    kernels::cell_input_drive(gn_, static_cast<int>(s.in), static_cast<long long>(s.steps),
                              w_t.get(), b_ih.get(), x.get(), drive_.get(), stream());
    // The staging buffers are freed on return: wait for the kernel that reads them (set-up only).
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  // One step from global index t (the CPU's check, step by step): gates, the coefficients (when
  // coef is not null) and the state update h_[cur_] → h_[1 - cur_].
  void step(std::int64_t t, T* coef) {
    if (t < 0 || t >= steps_) throw Error("cell propagator: step beyond the input sequence");
    const T* gi = drive_.get() + static_cast<std::size_t>(t) * static_cast<std::size_t>(gn_);
    kernels::cell_step(kind_, n_, whh_.get(), bhh_.get(), gi, h_[cur_].get(), h_[1 - cur_].get(),
                       c_.get(), coef, stream());
    cur_ = 1 - cur_;
  }

  void require_uploaded() const {
    if (n_ == 0) throw Error("CUDA cell propagator: upload() must be called first");
  }

  void release() {
    whh_.reset();
    bhh_.reset();
    drive_.reset();
    for (auto& h : h_) h.reset();
    c_.reset();
    coef_.reset();
    e_.reset();
    q_.reset();
    qn_.reset();
    qr_engine_.release();
    n_ = gn_ = dim_ = k_ = 0;
    steps_ = 0;
    cur_ = 0;
  }

  bool cholesky_;

  kernels::CellKind kind_ = kernels::CellKind::rnn;
  bool h_only_ = false;
  int n_ = 0, gn_ = 0, dim_ = 0, k_ = 0;
  std::int64_t steps_ = 0;
  int cur_ = 0;  // h_[cur_] is the state
  DeviceBuffer<T> whh_, bhh_, drive_;
  DeviceBuffer<T> h_[2], c_, coef_;
  DeviceBuffer<T> e_, q_, qn_;
  cuda::Orthonormalizer<T> qr_engine_;
};

}  // namespace

std::unique_ptr<CellBackend> make_cuda_cell_backend(Precision precision, QrMethod qr, int device) {
  cuda::require_device(device);
  // `auto` is CholeskyQR2 with the Householder fallback, as for the single-network backend.
  if (precision == Precision::fp32) return std::make_unique<CudaCellBackend<float>>(qr, device);
  return std::make_unique<CudaCellBackend<double>>(qr, device);
}

}  // namespace rnnlyap::detail
