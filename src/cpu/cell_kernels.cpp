// The trained cells' per-element kernels on the CPU (core/models/cell_kernels.hpp): plain loops,
// each row's sum in a fixed order (column by column), the per-unit math of core/elementwise.hpp,
// so that they do the CUDA kernels' arithmetic in the same order.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "../core/elementwise.hpp"
#include "../core/models/cell_kernels.hpp"
#include "kernels.hpp"

namespace rnnlyap::detail {
namespace {

template <class T>
class CpuCellKernels final : public CellKernels<T> {
 public:
  void input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x, T* y) override {
    const std::size_t um = static_cast<std::size_t>(m), un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      // Each row summed from the bias over the columns in order, as step()'s gh.
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

  void step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
            long long gi_stride, const T* h_in, T* h_out, T* c, T* coef) override {
    switch (kind) {
      case CellKind::rnn_tanh:
        return cell_step_k<CellKind::rnn_tanh>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c,
                                               coef);
      case CellKind::rnn_relu:
        return cell_step_k<CellKind::rnn_relu>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c,
                                               coef);
      case CellKind::gru:
        return cell_step_k<CellKind::gru>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
      case CellKind::lstm:
        return cell_step_k<CellKind::lstm>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef);
    }
  }

  void form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim, const T* coef,
              const T* whh, T* e) override {
    const std::size_t gn = static_cast<std::size_t>(cell_gates(kind)) * n;
    const std::size_t un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      const T* cb = coef + kCoefSlots * un * b;
      const auto slot = [&](int s) { return cb + s * un; };
      // The GRU's n gate: n_h = (1 − z) φ'(a_n) r on W_hn, n_x = (1 − z) φ'(a_n) on W_in.
      const T* cn = slot(input ? GruCoef::n_x : GruCoef::n_h);
      T* eb = e + static_cast<std::size_t>(dim) * un * b;
      for (int col = 0; col < n; ++col) {
        const T* w = whh + static_cast<std::size_t>(col) * gn;
        T* ec = eb + static_cast<std::size_t>(col) * dim;
        switch (kind) {
          case CellKind::rnn_tanh:
          case CellKind::rnn_relu: {
            const T* act = slot(RnnCoef::act);
            for (int i = 0; i < n; ++i) ec[i] = act[i] * w[i];
            break;
          }
          case CellKind::gru: {
            const T *r = slot(GruCoef::r), *z = slot(GruCoef::z);
            for (int i = 0; i < n; ++i)
              ec[i] = r[i] * w[i] + z[i] * w[n + i] + cn[i] * w[2 * n + i];
            break;
          }
          case CellKind::lstm: {
            const T *ci = slot(LstmCoef::i), *cf = slot(LstmCoef::f), *cg = slot(LstmCoef::g);
            const T *co = slot(LstmCoef::o), *c_to_h = slot(LstmCoef::c_to_h);
            for (int i = 0; i < n; ++i) {
              const T m = ci[i] * w[i] + cf[i] * w[n + i] + cg[i] * w[2 * n + i];
              ec[i] = co[i] * w[3 * n + i] + c_to_h[i] * m;
              if (!h_only) ec[n + i] = m;
            }
          }
        }
      }
    }
  }

  bool diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                const T* q, T* qn) override {
    if (kind == CellKind::rnn_tanh || kind == CellKind::rnn_relu ||
        (kind == CellKind::lstm && h_only))
      return false;
    const std::size_t un = static_cast<std::size_t>(n);
    for (int b = 0; b < batch; ++b) {
      const T* cb = coef + kCoefSlots * un * b;
      // keep: the GRU's z on δh, the LSTM's f on δc (and, through c_to_h, on δh).
      const T* keep = cb + (kind == CellKind::gru ? GruCoef::keep : LstmCoef::keep) * un;
      const T* c_to_h = cb + LstmCoef::c_to_h * un;
      for (int col = 0; col < k; ++col) {
        const std::size_t o = (static_cast<std::size_t>(b) * k + col) * dim;
        if (kind == CellKind::gru) {
          for (int i = 0; i < n; ++i) qn[o + i] = keep[i] * q[o + i];
        } else {
          for (int i = 0; i < n; ++i) {
            qn[o + i] = c_to_h[i] * keep[i] * q[o + n + i];
            qn[o + n + i] = keep[i] * q[o + n + i];
          }
        }
      }
    }
    return true;
  }

 private:
  template <CellKind K>
  void cell_step_k(int batch, int n, const T* whh, const T* bhh, const T* gi, long long gi_stride,
                   const T* h_in, T* h_out, T* c, T* coef) {
    constexpr int G = cell_gates(K);
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
      T* coefb = coef != nullptr ? coef + kCoefSlots * un * b : nullptr;
      for (std::size_t i = 0; i < un; ++i) {
        T a[G], g[G];
        for (int q = 0; q < G; ++q) {
          a[q] = gib[q * un + i];
          g[q] = drive_[q * un + i];
        }
        T ci = cb != nullptr ? cb[i] : T(0);
        h_out[un * b + i] = cell_unit<T, K>(a, g, h[i], ci, coefb ? coefb + i : nullptr, un);
        if (cb != nullptr) cb[i] = ci;
      }
    }
  }

  std::vector<T> drive_;  // scratch
};

}  // namespace

template <class T>
std::unique_ptr<CellKernels<T>> make_cpu_cell_kernels() {
  return std::make_unique<CpuCellKernels<T>>();
}

template std::unique_ptr<CellKernels<float>> make_cpu_cell_kernels<float>();
template std::unique_ptr<CellKernels<double>> make_cpu_cell_kernels<double>();

}  // namespace rnnlyap::detail
