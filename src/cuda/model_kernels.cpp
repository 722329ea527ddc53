// The model families' kernels on the GPU (core/models/random_network_kernels.hpp,
// core/models/cell_kernels.hpp): each call queues the launcher of the same name (kernels.hpp) on
// the executor's stream and returns without waiting.
#include "model_kernels.hpp"

#include <cstdint>
#include <memory>

#include "kernels.hpp"

namespace rnnlyap::cuda {
namespace {

using detail::CellKernels;
using detail::CellKind;
using detail::RandomNetworkKernels;
using detail::Rk4Buffers;

template <class T>
class CudaRandomNetworkKernels final : public RandomNetworkKernels<T> {
 public:
  explicit CudaRandomNetworkKernels(const Context& ctx) : ctx_(ctx) {}

  void phi_into(long long count, const T* h, T* x) override {
    ctx_.use();
    kernels::phi_into(count, h, x, ctx_.stream());
  }
  void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                               const T* x_in, T* x_out, T dt, T noise_scale,
                               const std::uint64_t* keys, std::int64_t step) override {
    ctx_.use();
    kernels::euler_or_map_state_step(batch, n, map, j, bias, h, x_in, x_out, dt, noise_scale, keys,
                                     step, ctx_.stream());
  }
  void rk4_stage(int batch, int n, int stage, const T* j, const T* bias, const Rk4Buffers<T>& b,
                 T c_next, T dt_over_6, T noise_scale, const std::uint64_t* keys,
                 std::int64_t step) override {
    ctx_.use();
    kernels::rk4_stage(batch, n, stage, j, bias, b, c_next, dt_over_6, noise_scale, keys, step,
                       ctx_.stream());
  }
  void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) override {
    ctx_.use();
    kernels::scale_rows_by_dphi(batch, n, k, h, q, s, ctx_.stream());
  }
  void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                           T* kbuf, const T* q, T* acc, T* s) override {
    ctx_.use();
    kernels::rk4_tangent_combine(batch, n, k, stage, w, c_next, y_next, kbuf, q, acc, s,
                                 ctx_.stream());
  }

 private:
  const Context& ctx_;
};

template <class T>
class CudaCellKernels final : public CellKernels<T> {
 public:
  explicit CudaCellKernels(const Context& ctx) : ctx_(ctx) {}

  void input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x, T* y) override {
    ctx_.use();
    kernels::cell_input_drive(batch, m, n, a, bias, x, y, ctx_.stream());
  }
  void step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
            long long gi_stride, const T* h_in, T* h_out, T* c, T* coef) override {
    ctx_.use();
    kernels::cell_step(kind, batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef,
                       ctx_.stream());
  }
  void form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim, const T* coef,
              const T* whh, T* e) override {
    ctx_.use();
    kernels::cell_form_e(kind, h_only, input, batch, n, dim, coef, whh, e, ctx_.stream());
  }
  bool diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                const T* q, T* qn) override {
    ctx_.use();
    return kernels::cell_diagonal(kind, h_only, batch, n, dim, k, coef, q, qn, ctx_.stream());
  }

 private:
  const Context& ctx_;
};

}  // namespace

template <class T>
std::unique_ptr<RandomNetworkKernels<T>> make_random_network_kernels(const Context& ctx) {
  return std::make_unique<CudaRandomNetworkKernels<T>>(ctx);
}
template <class T>
std::unique_ptr<CellKernels<T>> make_cell_kernels(const Context& ctx) {
  return std::make_unique<CudaCellKernels<T>>(ctx);
}

template std::unique_ptr<RandomNetworkKernels<float>> make_random_network_kernels<float>(
    const Context&);
template std::unique_ptr<RandomNetworkKernels<double>> make_random_network_kernels<double>(
    const Context&);
template std::unique_ptr<CellKernels<float>> make_cell_kernels<float>(const Context&);
template std::unique_ptr<CellKernels<double>> make_cell_kernels<double>(const Context&);

}  // namespace rnnlyap::cuda
