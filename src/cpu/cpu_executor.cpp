// The CPU executor: BLAS for the products, LAPACK for the QR, plain loops for the per-element
// kernels. The state's matrix-vector products are our own loops in a fixed order (column by
// column), so a trajectory depends neither on k nor on the BLAS thread count; every loop does the
// arithmetic of the CUDA kernels in the same order (elementwise.hpp is shared), so CPU and GPU
// trajectories agree to rounding.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../core/elementwise.hpp"
#include "../core/executor.hpp"
#include "blas_lapack.hpp"
#include "orthonormalize.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::detail {
namespace {

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  return "CPU";
}

template <class T>
class CpuReorthonormalizer final : public Reorthonormalizer<T> {
 public:
  CpuReorthonormalizer(int batch, int rows, int k, QrMethod method)
      : batch_(batch),
        rows_(rows),
        k_(k),
        skip_(batch, 0),
        r_(batch),
        logs_(static_cast<std::size_t>(batch) * k, 0.0),
        max_ratio_(logs_.size(), 0.0) {
    engine_.resize(rows, k, method);
  }
  void reorthonormalize(T* q, bool accumulate) override {
    const std::size_t block = static_cast<std::size_t>(rows_) * k_;
    for (int b = 0; b < batch_; ++b)
      engine_.apply(q + b * block, accumulate, logs_.data() + static_cast<std::size_t>(b) * k_,
                    max_ratio_.data() + static_cast<std::size_t>(b) * k_, skip_[b],
                    keep_ ? &r_[b] : nullptr);
  }
  LogSums take_logs_blocking() override {
    LogSums out{std::vector<double>(logs_.size(), 0.0),
                std::vector<double>(max_ratio_.size(), 0.0)};
    std::swap(out.sums, logs_);
    std::swap(out.max_ratio, max_ratio_);
    return out;
  }
  // Turning it on forgets any earlier R: until the next re-orthonormalisation R reads as zeros,
  // never as the factors of one that ran while R was not kept (the CUDA executor does the same).
  void keep_r(bool on) override {
    if (on && !keep_) r_.assign(r_.size(), cpu::RFactors<T>{});
    keep_ = on;
  }
  std::vector<double> last_r_blocking() override {
    if (!keep_)
      throw Error(
          "last_r_blocking: R is not being kept (call keep_r(true) before re-orthonormalising)");
    std::vector<double> out;
    for (int b = 0; b < batch_; ++b) {
      const std::vector<double> r = r_[b].product(k_);
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  }

 private:
  int batch_, rows_, k_;
  std::vector<int> skip_;
  std::vector<cpu::RFactors<T>> r_;  // per member: the last R's factors (with keep_)
  bool keep_ = false;
  std::vector<double> logs_, max_ratio_;
  cpu::Orthonormalizer<T> engine_;
};

template <class T>
class CpuExecutor final : public Executor<T> {
 public:
  std::string name() const override { return "cpu"; }
  std::string device() const override { return cpu_model(); }
  std::size_t bytes_available() const override { return host_memory_bytes(); }

  void* allocate_bytes(std::size_t bytes) override {
    void* p = std::calloc(bytes, 1);
    if (p == nullptr)
      throw InvalidInput("cannot allocate " + std::to_string(bytes >> 20) + " MiB of memory");
    return p;
  }
  void free_bytes(void* p) noexcept override { std::free(p); }
  void copy_in(void* dst, const void* src, std::size_t bytes) override {
    if (bytes != 0) std::memcpy(dst, src, bytes);
  }
  void copy_out_blocking(void* dst, const void* src, std::size_t bytes) override {
    if (bytes != 0) std::memcpy(dst, src, bytes);
  }

  void gemm_batched(int m, int n, int kk, T alpha, const T* a, int lda, long long stride_a,
                    const T* b, int ldb, long long stride_b, T beta, T* c, int ldc,
                    long long stride_c, int batch) override {
    for (long long i = 0; i < batch; ++i)
      cpu::gemm('N', 'N', m, n, kk, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                c + i * stride_c, ldc);
  }

  std::size_t reorthonormalizer_bytes(int batch, int rows, int k, QrMethod method,
                                      bool keep_r) const override {
    const std::size_t kk = static_cast<std::size_t>(k), b = static_cast<std::size_t>(batch);
    const std::size_t r = keep_r ? 2 * b * kk * kk : 0;  // each member's R₁ and R₂
    // CholeskyQR keeps a copy of the basis it works on, for a second pass that fails.
    const std::size_t saved =
        method == QrMethod::householder ? 0 : static_cast<std::size_t>(rows) * kk;
    return sizeof(T) * (kk * kk + kk + static_cast<std::size_t>(rows) * 64 + r + saved) +
           sizeof(double) * kk * (2 * b + 2);  // logs and maxima; diag R₁ and log|R_ii|
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    return std::make_unique<CpuReorthonormalizer<T>>(batch, rows, k, method);
  }

  void phi_into(long long count, const T* h, T* x) override {
    for (long long i = 0; i < count; ++i) x[i] = phi(h[i]);
  }

  void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                               const T* x_in, T* x_out, T dt, T noise_scale,
                               const std::uint64_t* keys, std::int64_t step) override {
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n);
      matvec(n, j + vo * n, x_in + vo);
      T* hb = h + vo;
      const T* bb = bias + vo;
      for (int i = 0; i < n; ++i) {
        const T xi = noise_scale != T(0) ? noise(keys[b], step, i) : T(0);
        hb[i] = map ? drive_[i] + bb[i] + (noise_scale != T(0) ? noise_scale * xi : T(0))
                    : euler_update(hb[i], drive_[i], bb[i], dt, noise_scale, xi);
        x_out[vo + i] = phi(hb[i]);
      }
    }
  }

  void rk4_stage(int batch, int n, int s, const T* j, const T* bias, const Rk4Buffers<T>& st,
                 T c_next, T dt6, T noise_scale, const std::uint64_t* keys,
                 std::int64_t step) override {
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n);
      T* h = st.h + vo;
      T* y = st.y[s] + vo;
      if (s == 0) std::copy(h, h + n, y);
      matvec(n, j + vo * n, st.x[s] + vo);
      T* f = st.f[s] + vo;
      for (int i = 0; i < n; ++i) f[i] = -y[i] + drive_[i] + bias[vo + i];  // f(y)
      if (s < 3) {
        for (int i = 0; i < n; ++i) {
          const T yn = h[i] + c_next * f[i];  // y_{s+1} = h + c_{s+1} f_s
          st.y[s + 1][vo + i] = yn;
          st.x[s + 1][vo + i] = phi(yn);
        }
        continue;
      }
      const T *f0 = st.f[0] + vo, *f1 = st.f[1] + vo, *f2 = st.f[2] + vo;
      for (int i = 0; i < n; ++i) {
        h[i] += dt6 * (f0[i] + 2 * f1[i] + 2 * f2[i] + f[i]);
        if (noise_scale != T(0)) h[i] += noise_scale * noise(keys[b], step, i);
        st.x[0][vo + i] = phi(h[i]);
      }
    }
  }

  void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) override {
    d_.resize(static_cast<std::size_t>(n));
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n), bo = vo * k;
      for (int i = 0; i < n; ++i) d_[i] = dphi(h[vo + i]);
      for (int c = 0; c < k; ++c) {
        const std::size_t o = bo + static_cast<std::size_t>(c) * n;
        for (int r = 0; r < n; ++r) s[o + r] = d_[r] * q[o + r];
      }
    }
  }

  void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                           T* kbuf, const T* q, T* acc, T* s) override {
    d_.resize(static_cast<std::size_t>(n));
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n), bo = vo * k;
      if (stage < 3)
        for (int i = 0; i < n; ++i) d_[i] = dphi(y_next[vo + i]);
      for (int col = 0; col < k; ++col) {
        const std::size_t o = bo + static_cast<std::size_t>(col) * n;
        T* kc = kbuf + o;
        T* ac = acc + o;
        T* sc = s + o;
        const T* qc = q + o;
        for (int r = 0; r < n; ++r) {
          const T kv = kc[r] - qc[r];
          kc[r] = kv;
          ac[r] = (stage == 0 ? qc[r] : ac[r]) + w * kv;
          if (stage < 3) sc[r] = d_[r] * (qc[r] + c_next * kv);
        }
      }
    }
  }

  void cell_input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x,
                        T* y) override {
    const std::size_t um = static_cast<std::size_t>(m), un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      // Each row summed from the bias over the columns in order, as cell_step's gh.
      T* yb = y + um * b;
      std::copy(bias, bias + um, yb);
      const T* xb = x + un * b;
      for (std::size_t col = 0; col < un; ++col) {
        const T xc = xb[col];
        const T* w = a + col * um;
        for (std::size_t r = 0; r < um; ++r) yb[r] += w[r] * xc;
      }
    }
  }

  void cell_step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
                 long long gi_stride, const T* h_in, T* h_out, T* c, T* coef) override {
    switch (kind) {
      case CellKind::rnn:
        return cell_step_g<1>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
      case CellKind::rnn_relu:
        return cell_step_g<1, true>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
      case CellKind::gru:
        return cell_step_g<3>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
      case CellKind::lstm:
        return cell_step_g<4>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
    }
  }

  void cell_form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim, const T* coef,
                   const T* whh, T* e) override {
    const std::size_t gn = static_cast<std::size_t>(cell_gates(kind)) * n;
    const std::size_t un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      const T* c0 = coef + 6 * un * b;
      const T *c1 = c0 + un, *c2 = c1 + un, *c4 = c2 + 2 * un, *c5 = c4 + un;
      // The GRU's n gate: c2 = (1 − z) φ'(a_n) r on W_hn, c4 = (1 − z) φ'(a_n) on W_in.
      const T* cn = input ? c4 : c2;
      T* eb = e + static_cast<std::size_t>(dim) * un * b;
      for (int col = 0; col < n; ++col) {
        const T* w = whh + static_cast<std::size_t>(col) * gn;
        T* ec = eb + static_cast<std::size_t>(col) * dim;
        switch (kind) {
          case CellKind::rnn:
          case CellKind::rnn_relu:
            for (int i = 0; i < n; ++i) ec[i] = c0[i] * w[i];
            break;
          case CellKind::gru:
            for (int i = 0; i < n; ++i)
              ec[i] = c0[i] * w[i] + c1[i] * w[n + i] + cn[i] * w[2 * n + i];
            break;
          case CellKind::lstm:
            for (int i = 0; i < n; ++i) {
              const T m = c0[i] * w[i] + c1[i] * w[n + i] + c2[i] * w[2 * n + i];
              ec[i] = c4[i] * w[3 * n + i] + c5[i] * m;
              if (!h_only) ec[n + i] = m;
            }
        }
      }
    }
  }

  bool cell_diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                     const T* q, T* qn) override {
    if (kind == CellKind::rnn || kind == CellKind::rnn_relu || (kind == CellKind::lstm && h_only))
      return false;
    const std::size_t un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      const T* c3 = coef + 6 * un * b + 3 * un;
      const T* c5 = c3 + 2 * un;
      for (int col = 0; col < k; ++col) {
        const std::size_t o = (static_cast<std::size_t>(b) * k + col) * dim;
        if (kind == CellKind::gru) {
          for (int i = 0; i < n; ++i) qn[o + i] = c3[i] * q[o + i];
        } else {
          for (int i = 0; i < n; ++i) {
            qn[o + i] = c5[i] * c3[i] * q[o + n + i];
            qn[o + n + i] = c3[i] * q[o + n + i];
          }
        }
      }
    }
    return true;
  }

 private:
  static std::size_t vector_offset(int b, int n) {
    return static_cast<std::size_t>(b) * static_cast<std::size_t>(n);
  }

  static T noise(std::uint64_t key, std::int64_t step, int i) {
    return static_cast<T>(normal_at(key, kStreamNoise, static_cast<std::uint64_t>(step),
                                    static_cast<std::uint32_t>(i)));
  }

  // drive_ = J x, column by column: each row summed over columns 0..n-1 in order.
  void matvec(int n, const T* j, const T* x) {
    drive_.assign(static_cast<std::size_t>(n), T(0));
    for (int c = 0; c < n; ++c) {
      const T xc = x[c];
      const T* col = j + static_cast<std::size_t>(c) * n;
      for (int r = 0; r < n; ++r) drive_[r] += col[r] * xc;
    }
  }

  template <int G, bool kRelu = false>
  void cell_step_g(int batch, int n, const T* whh, const T* bhh, const T* gi, long long gi_stride,
                   const T* h_in, T* h_out, T* c, T* coef) {
    const std::size_t un = static_cast<std::size_t>(n), gn = G * un;
    drive_.resize(gn);
    for (int b = 0; b < batch; ++b) {
      // gh = W_hh h + b_hh, each row summed from the bias over the columns in order.
      std::copy(bhh, bhh + gn, drive_.begin());
      const T* h = h_in + un * b;
      for (std::size_t col = 0; col < un; ++col) {
        const T hc = h[col];
        const T* w = whh + col * gn;
        for (std::size_t r = 0; r < gn; ++r) drive_[r] += w[r] * hc;
      }
      const T* gib = gi + gi_stride * b;
      T* cb = c != nullptr ? c + un * b : nullptr;
      T* coefb = coef != nullptr ? coef + 6 * un * b : nullptr;
      for (std::size_t i = 0; i < un; ++i) {
        T a[G], g[G];
        for (int q = 0; q < G; ++q) {
          a[q] = gib[q * un + i];
          g[q] = drive_[q * un + i];
        }
        T ci = cb != nullptr ? cb[i] : T(0);
        h_out[un * b + i] = cell_unit<T, G, kRelu>(a, g, h[i], ci, coefb ? coefb + i : nullptr, un);
        if (cb != nullptr) cb[i] = ci;
      }
    }
  }

  std::vector<T> drive_, d_;  // scratch
};

}  // namespace

template <class T>
std::unique_ptr<Executor<T>> make_cpu_executor() {
  return std::make_unique<CpuExecutor<T>>();
}
template std::unique_ptr<Executor<float>> make_cpu_executor<float>();
template std::unique_ptr<Executor<double>> make_cpu_executor<double>();

}  // namespace rnnlyap::detail
