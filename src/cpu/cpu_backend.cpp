// CPU backend: BLAS for the tangent products, LAPACK for the QR, our own loops for the
// element-wise work and the state's matrix-vector product (a fixed summation order, so the state
// trajectory does not depend on k or on the BLAS thread count).
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/backend.hpp"
#include "../core/elementwise.hpp"
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
class CpuBackend final : public Backend {
 public:
  CpuBackend(QrMethod qr) : qr_(qr) {}

  std::string name() const override { return "cpu"; }
  std::string device() const override { return cpu_model(); }

  void upload(const Network& net, const Dynamics& dyn, int k) override {
    n_ = net.n;
    k_ = k;
    dyn_ = dyn;
    const std::size_t nn = static_cast<std::size_t>(n_) * n_;
    const std::size_t nk = static_cast<std::size_t>(n_) * k_;
    const bool rk4 = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
    const std::size_t need =
        sizeof(T) * (nn + nk * (rk4 ? 4 : 2) + static_cast<std::size_t>(k_) * k_ * 2 + 16 * n_);
    const std::size_t have = host_memory_bytes();
    if (have != 0 && need > have)
      throw InvalidInput("the run needs " + std::to_string(need >> 20) +
                         " MiB of memory; this machine has " + std::to_string(have >> 20) + " MiB");
    j_.assign(net.j.begin(), net.j.end());
    bias_.assign(n_, T(0));
    for (std::size_t i = 0; i < net.bias.size(); ++i) bias_[i] = static_cast<T>(net.bias[i]);
    h_.assign(n_, T(0));
    x_.assign(n_, T(0));
    drive_.assign(n_, T(0));
    for (auto& v : stage_h_) v.assign(rk4 ? n_ : 0, T(0));
    for (auto& v : stage_f_) v.assign(rk4 ? n_ : 0, T(0));
    q_.assign(nk, T(0));
    s_.assign(nk, T(0));
    kbuf_.assign(rk4 ? nk : 0, T(0));
    acc_.assign(rk4 ? nk : 0, T(0));
    logs_.assign(k_, 0.0);
    qr_engine_.resize(n_, k_, qr_);
  }

  void set_state(std::span<const double> h) override {
    for (int i = 0; i < n_; ++i) h_[i] = static_cast<T>(h[i]);
  }
  std::vector<double> state() override { return {h_.begin(), h_.end()}; }
  void set_basis(std::span<const double> q) override {
    for (std::size_t i = 0; i < q_.size(); ++i) q_[i] = static_cast<T>(q[i]);
  }
  std::vector<double> basis() override { return {q_.begin(), q_.end()}; }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) state_step(step0 + s);
  }

  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) {
      if (dyn_.model == Model::rate && dyn_.integrator == Integrator::rk4)
        tangent_step_rk4(step0 + s);
      else
        tangent_step_euler_or_map(step0 + s);
    }
  }

  void reorthonormalize(bool accumulate) override {
    qr_engine_.apply(q_.data(), accumulate, logs_);
  }

  std::vector<double> take_log_sums() override {
    std::vector<double> out(k_, 0.0);
    std::swap(out, logs_);
    return out;
  }

 private:
  // drive = J x, column by column (a fixed order: deterministic for any k and thread count).
  void matvec(const std::vector<T>& x, std::vector<T>& y) const {
    std::fill(y.begin(), y.end(), T(0));
    for (int c = 0; c < n_; ++c) {
      const T xc = x[c];
      const T* col = j_.data() + static_cast<std::size_t>(c) * n_;
      for (int r = 0; r < n_; ++r) y[r] += col[r] * xc;
    }
  }

  T noise(std::int64_t step, int i) const {
    return static_cast<T>(normal_at(dyn_.noise_key, kStreamNoise, static_cast<std::uint64_t>(step),
                                    static_cast<std::uint32_t>(i)));
  }
  T noise_scale() const {
    return static_cast<T>(dyn_.model == Model::map ? dyn_.input_std
                                                   : dyn_.input_std * std::sqrt(dyn_.dt));
  }

  // f(y) = -y + J φ(y) + b, the right-hand side of τ dh/dt (rate model).
  void rate_rhs(const std::vector<T>& y, std::vector<T>& f) {
    for (int i = 0; i < n_; ++i) x_[i] = phi(y[i]);
    matvec(x_, drive_);
    for (int i = 0; i < n_; ++i) f[i] = -y[i] + drive_[i] + bias_[i];
  }

  // Classic RK4 of the state; leaves the stage points in stage_h_ for the tangent stages.
  void rk4_state(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    for (int s = 0; s < 4; ++s) {
      for (int i = 0; i < n_; ++i)
        stage_h_[s][i] = s == 0 ? h_[i] : h_[i] + c[s] * stage_f_[s - 1][i];
      rate_rhs(stage_h_[s], stage_f_[s]);
    }
    const T sc = noise_scale();
    for (int i = 0; i < n_; ++i) {
      h_[i] += dt / 6 * (stage_f_[0][i] + 2 * stage_f_[1][i] + 2 * stage_f_[2][i] + stage_f_[3][i]);
      if (sc != T(0)) h_[i] += sc * noise(step, i);
    }
  }

  void state_step(std::int64_t step) {
    if (dyn_.model == Model::rate && dyn_.integrator == Integrator::rk4) {
      rk4_state(step);
      return;
    }
    for (int i = 0; i < n_; ++i) x_[i] = phi(h_[i]);
    matvec(x_, drive_);
    const T sc = noise_scale();
    if (dyn_.model == Model::map) {
      for (int i = 0; i < n_; ++i)
        h_[i] = drive_[i] + bias_[i] + (sc != T(0) ? sc * noise(step, i) : T(0));
    } else {
      const T dt = static_cast<T>(dyn_.dt);
      for (int i = 0; i < n_; ++i)
        h_[i] =
            euler_update(h_[i], drive_[i], bias_[i], dt, sc, sc != T(0) ? noise(step, i) : T(0));
    }
  }

  // D_t = (1-dt) I + dt J diag(φ'(h)) (rate/Euler) or J diag(φ'(h)) (map): S = diag(φ')Q, then
  // Q ← dt J S + (1-dt) Q in one GEMM.
  void tangent_step_euler_or_map(std::int64_t step) {
    for (int i = 0; i < n_; ++i) x_[i] = dphi(h_[i]);
    scale_rows(x_, q_, s_);
    const bool map = dyn_.model == Model::map;
    const T alpha = map ? T(1) : static_cast<T>(dyn_.dt);
    const T beta = map ? T(0) : static_cast<T>(1 - dyn_.dt);
    cpu::gemm('N', 'N', n_, k_, n_, alpha, j_.data(), n_, s_.data(), n_, beta, q_.data(), n_);
    state_step(step);
  }

  // RK4 of the variational equation dQ/dt = (-I + J diag(φ'(y))) Q along the RK4 stage points
  // y_s of the state: K_s = -Y_s + J diag(φ'(y_s)) Y_s with Y_s = Q + c_s K_{s-1}.
  void tangent_step_rk4(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    rk4_state(step);  // fills stage_h_ and moves h_
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    const T w[4] = {dt / 6, dt / 3, dt / 3, dt / 6};
    for (int i = 0; i < n_; ++i) x_[i] = dphi(stage_h_[0][i]);
    scale_rows(x_, q_, s_);
    for (int s = 0; s < 4; ++s) {
      // K = J S - c_s K_{s-1}  (beta = 0 on the first stage: K is not read)
      cpu::gemm('N', 'N', n_, k_, n_, T(1), j_.data(), n_, s_.data(), n_, -c[s], kbuf_.data(), n_);
      if (s < 3)
        for (int i = 0; i < n_; ++i) x_[i] = dphi(stage_h_[s + 1][i]);
      const T cn = s < 3 ? c[s + 1] : T(0);
      // One pass: K_s = K - Q, Acc += w_s K_s, and the next stage's S = diag(φ'(y_{s+1})) (Q + c
      // K_s).
      for (int col = 0; col < k_; ++col) {
        const std::size_t o = static_cast<std::size_t>(col) * n_;
        T* kc = kbuf_.data() + o;
        T* ac = acc_.data() + o;
        T* sc = s_.data() + o;
        const T* qc = q_.data() + o;
        for (int r = 0; r < n_; ++r) {
          const T kv = kc[r] - qc[r];
          kc[r] = kv;
          ac[r] = (s == 0 ? qc[r] : ac[r]) + w[s] * kv;
          if (s < 3) sc[r] = x_[r] * (qc[r] + cn * kv);
        }
      }
    }
    std::swap(q_, acc_);
  }

  // out = diag(d) in, n×k column-major.
  void scale_rows(const std::vector<T>& d, const std::vector<T>& in, std::vector<T>& out) const {
    for (int c = 0; c < k_; ++c) {
      const std::size_t o = static_cast<std::size_t>(c) * n_;
      for (int r = 0; r < n_; ++r) out[o + r] = d[r] * in[o + r];
    }
  }

  QrMethod qr_;
  int n_ = 0, k_ = 0;
  Dynamics dyn_;
  std::vector<T> j_, bias_, h_, x_, drive_;
  std::vector<T> stage_h_[4], stage_f_[4];
  std::vector<T> q_, s_, kbuf_, acc_;
  cpu::Orthonormalizer<T> qr_engine_;
  std::vector<double> logs_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(Precision precision, QrMethod qr) {
  // On the CPU LAPACK's Householder QR is fast: `auto` means Householder here.
  const QrMethod m = qr == QrMethod::auto_select ? QrMethod::householder : qr;
  if (precision == Precision::fp32) return std::make_unique<CpuBackend<float>>(m);
  return std::make_unique<CpuBackend<double>>(m);
}

}  // namespace rnnlyap::detail
