// CPU propagator for trained cells (vanilla RNN, GRU, LSTM; PyTorch conventions). The tangent map
// is applied analytically through its structure. Every gate derivative is a per-row factor, so the
// parts of the Jacobian that act on δh collapse, in O(G·N²) per step, into one dim × N matrix
//   rnn:  E = diag(c0) W_hh
//   gru:  E = diag(c0) W_hr + diag(c1) W_hz + diag(c2) W_hn                  (+ diag(z) on δh)
//   lstm: M = diag(c0) W_hi + diag(c1) W_hf + diag(c2) W_hg, P = diag(c4) W_ho + diag(c5) M,
//         E = [P; M]                                       (+ diag(c5 f; f) on δc; h-only: E = P)
// and the step is Q' = E Q_h + D Q: one GEMM of 2·dim·N·k flops. Against the product W_hh Q_h
// (2·G·N²·k) that is 3× fewer flops for the GRU and 2× fewer for the full LSTM; the dense
// dim × dim Jacobian (what a dense-Jacobian loop multiplies, 2·dim²·k) is never formed.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/elementwise.hpp"
#include "blas_lapack.hpp"
#include "orthonormalize.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::detail {
namespace {

template <class T>
class CpuCellBackend final : public CellBackend {
 public:
  explicit CpuCellBackend(QrMethod qr) : qr_(qr) {}

  std::string name() const override { return "cpu"; }
  std::string device() const override { return "CPU"; }

  void upload(const CellNetwork& net, std::span<const double> inputs, int steps, int k,
              bool lstm_h_only) override {
    type_ = net.type;
    n_ = net.hidden;
    gn_ = net.gates() * n_;
    steps_ = steps;
    h_only_ = lstm_h_only;
    dim_ = (type_ == Model::lstm && !h_only_) ? 2 * n_ : n_;
    k_ = k;
    const std::size_t gn = static_cast<std::size_t>(gn_), n = static_cast<std::size_t>(n_);
    const std::size_t need =
        sizeof(T) * (gn * n + gn * static_cast<std::size_t>(steps) +
                     static_cast<std::size_t>(dim_) * n + 2 * static_cast<std::size_t>(dim_) * k);
    const std::size_t have = host_memory_bytes();
    if (have != 0 && need > have)
      throw InvalidInput("the run needs " + std::to_string(need >> 20) +
                         " MiB of memory; this machine has " + std::to_string(have >> 20) + " MiB");
    // W_hh column-major (G·N × N) for BLAS; the input drive W_ih x_t + b_ih for every step at once.
    whh_.assign(gn * n, T(0));
    for (std::size_t r = 0; r < gn; ++r)
      for (std::size_t c = 0; c < n; ++c) whh_[c * gn + r] = static_cast<T>(net.w_hh[r * n + c]);
    bhh_.assign(gn, T(0));
    for (std::size_t r = 0; r < net.b_hh.size(); ++r) bhh_[r] = static_cast<T>(net.b_hh[r]);
    const std::size_t in = static_cast<std::size_t>(net.input_size);
    drive_in_.assign(gn * static_cast<std::size_t>(steps), T(0));
    for (std::size_t t = 0; t < static_cast<std::size_t>(steps); ++t)
      for (std::size_t r = 0; r < gn; ++r) {
        double a = net.b_ih.empty() ? 0.0 : net.b_ih[r];
        for (std::size_t j = 0; j < in; ++j) a += net.w_ih[r * in + j] * inputs[t * in + j];
        drive_in_[t * gn + r] = static_cast<T>(a);
      }
    h_.assign(n, T(0));
    c_.assign(type_ == Model::lstm ? n : 0, T(0));
    gh_.assign(gn, T(0));
    q_.assign(static_cast<std::size_t>(dim_) * k, T(0));
    qn_ = q_;
    e_.assign(static_cast<std::size_t>(dim_) * n, T(0));
    logs_.assign(k, 0.0);
    qr_engine_.resize(dim_, k, qr_);
  }

  void set_state(std::span<const double> s) override {
    for (int i = 0; i < n_; ++i) h_[i] = static_cast<T>(s[i]);
    for (std::size_t i = 0; i < c_.size(); ++i) c_[i] = static_cast<T>(s[n_ + i]);
  }
  std::vector<double> state() override {
    std::vector<double> s(h_.begin(), h_.end());
    s.insert(s.end(), c_.begin(), c_.end());
    return s;
  }
  void set_basis(std::span<const double> q) override {
    for (std::size_t i = 0; i < q_.size(); ++i) q_[i] = static_cast<T>(q[i]);
  }
  std::vector<double> basis() override { return {q_.begin(), q_.end()}; }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) {
      gates(step0 + s);
      update_state();
    }
  }

  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) {
      gates(step0 + s);
      tangent();
      std::swap(q_, qn_);
      update_state();
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
  // gh = W_hh h + b_hh (fixed summation order), and the pre-activations of this step.
  void gates(std::int64_t step) {
    if (step < 0 || step >= steps_) throw Error("cell propagator: step beyond the input sequence");
    std::copy(bhh_.begin(), bhh_.end(), gh_.begin());
    for (int c = 0; c < n_; ++c) {
      const T hc = h_[c];
      const T* col = whh_.data() + static_cast<std::size_t>(c) * gn_;
      for (int r = 0; r < gn_; ++r) gh_[r] += col[r] * hc;
    }
    gi_ = drive_in_.data() + static_cast<std::size_t>(step) * gn_;
  }

  void update_state() {
    const int n = n_;
    switch (type_) {
      case Model::rnn:
        for (int i = 0; i < n; ++i) h_[i] = phi(gi_[i] + gh_[i]);
        break;
      case Model::gru:
        for (int i = 0; i < n; ++i) {
          const T r = sigmoid(gi_[i] + gh_[i]);
          const T z = sigmoid(gi_[n + i] + gh_[n + i]);
          const T nn = phi(gi_[2 * n + i] + r * gh_[2 * n + i]);
          h_[i] = (T(1) - z) * nn + z * h_[i];
        }
        break;
      default:  // lstm
        for (int i = 0; i < n; ++i) {
          const T ig = sigmoid(gi_[i] + gh_[i]);
          const T fg = sigmoid(gi_[n + i] + gh_[n + i]);
          const T gg = phi(gi_[2 * n + i] + gh_[2 * n + i]);
          const T og = sigmoid(gi_[3 * n + i] + gh_[3 * n + i]);
          c_[i] = fg * c_[i] + ig * gg;
          h_[i] = og * phi(c_[i]);
        }
    }
  }

  // qn = D_t q from the gates of the current (not yet updated) state. The gate derivatives depend
  // on the row only: they are computed once per step into per-row coefficients c0..c5, which
  // form E and D (see the top).
  void tangent() {
    const int n = n_;
    coef_.resize(static_cast<std::size_t>(6) * n);
    T* c0 = coef_.data();
    T* c1 = c0 + n;
    T* c2 = c1 + n;
    T* c3 = c2 + n;
    T* c4 = c3 + n;
    T* c5 = c4 + n;
    switch (type_) {
      case Model::rnn:
        // h' = tanh(a): dh' = φ'(a) (W_hh dh)
        for (int i = 0; i < n; ++i) c0[i] = dphi(gi_[i] + gh_[i]);
        break;
      case Model::gru:
        // dr = σ'(a_r) W_hr dh, dz = σ'(a_z) W_hz dh, dn = φ'(a_n) (dr gh_n + r W_hn dh),
        // dh' = dz (h − n) + (1 − z) dn + z dh
        //     = c0 (W_hr dh) + c1 (W_hz dh) + c2 (W_hn dh) + c3 dh
        for (int i = 0; i < n; ++i) {
          const T ar = gi_[i] + gh_[i], az = gi_[n + i] + gh_[n + i];
          const T r = sigmoid(ar), z = sigmoid(az);
          const T an = gi_[2 * n + i] + r * gh_[2 * n + i];
          const T dn = dphi(an) * (T(1) - z);
          c0[i] = dn * dsigmoid(ar) * gh_[2 * n + i];
          c1[i] = dsigmoid(az) * (h_[i] - phi(an));
          c2[i] = dn * r;
          c3[i] = z;
        }
        break;
      default:  // lstm: dc' = df c + f dc + di g + i dg, dh' = do tanh(c') + o φ'(c') dc'
        // dc' = c0 (W_hi dh) + c1 (W_hf dh) + c2 (W_hg dh) + c3 dc;  dh' = c4 (W_ho dh) + c5 dc'
        for (int i = 0; i < n; ++i) {
          const T ai = gi_[i] + gh_[i], af = gi_[n + i] + gh_[n + i];
          const T ag = gi_[2 * n + i] + gh_[2 * n + i], ao = gi_[3 * n + i] + gh_[3 * n + i];
          const T ig = sigmoid(ai), fg = sigmoid(af), gg = phi(ag), og = sigmoid(ao);
          const T cn = fg * c_[i] + ig * gg;
          c0[i] = dsigmoid(ai) * gg;
          c1[i] = dsigmoid(af) * c_[i];
          c2[i] = ig * dphi(ag);
          c3[i] = fg;
          c4[i] = dsigmoid(ao) * phi(cn);
          c5[i] = og * dphi(cn);
        }
    }
    form_e();
    // Q' = D Q (the diagonal parts), then Q' += E Q_h (the h rows: the first N of each column).
    T beta = T(1);
    for (int col = 0; col < k_; ++col) {
      const T* q = q_.data() + static_cast<std::size_t>(col) * dim_;
      T* out = qn_.data() + static_cast<std::size_t>(col) * dim_;
      if (type_ == Model::gru) {
        for (int i = 0; i < n; ++i) out[i] = c3[i] * q[i];
      } else if (type_ == Model::lstm && !h_only_) {
        for (int i = 0; i < n; ++i) {
          out[i] = c5[i] * c3[i] * q[n + i];
          out[n + i] = c3[i] * q[n + i];
        }
      } else {
        beta = T(0);  // rnn, h-only lstm: no diagonal part
        break;
      }
    }
    cpu::gemm('N', 'N', dim_, k_, n_, T(1), e_.data(), dim_, q_.data(), dim_, beta, qn_.data(),
              dim_);
  }

  // E (dim × N, column-major) from W_hh and the coefficients of this step (see the top).
  void form_e() {
    const int n = n_;
    const T* c0 = coef_.data();
    const T *c1 = c0 + n, *c2 = c1 + n, *c4 = c2 + 2 * n, *c5 = c4 + n;
    for (int col = 0; col < n; ++col) {
      const T* w = whh_.data() + static_cast<std::size_t>(col) * gn_;
      T* e = e_.data() + static_cast<std::size_t>(col) * dim_;
      switch (type_) {
        case Model::rnn:
          for (int i = 0; i < n; ++i) e[i] = c0[i] * w[i];
          break;
        case Model::gru:
          for (int i = 0; i < n; ++i) e[i] = c0[i] * w[i] + c1[i] * w[n + i] + c2[i] * w[2 * n + i];
          break;
        default:
          for (int i = 0; i < n; ++i) {
            const T m = c0[i] * w[i] + c1[i] * w[n + i] + c2[i] * w[2 * n + i];
            e[i] = c4[i] * w[3 * n + i] + c5[i] * m;
            if (!h_only_) e[n + i] = m;
          }
      }
    }
  }

  QrMethod qr_;
  Model type_ = Model::rnn;
  int n_ = 0, gn_ = 0, dim_ = 0, k_ = 0, steps_ = 0;
  bool h_only_ = false;
  std::vector<T> whh_, bhh_, drive_in_, h_, c_, gh_, q_, qn_, e_, coef_;
  const T* gi_ = nullptr;
  cpu::Orthonormalizer<T> qr_engine_;
  std::vector<double> logs_;
};

}  // namespace

std::unique_ptr<CellBackend> make_cpu_cell_backend(Precision precision, QrMethod qr) {
  const QrMethod m = qr == QrMethod::auto_select ? QrMethod::householder : qr;
  if (precision == Precision::fp32) return std::make_unique<CpuCellBackend<float>>(m);
  return std::make_unique<CpuCellBackend<double>>(m);
}

}  // namespace rnnlyap::detail
