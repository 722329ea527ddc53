// Trained cells: the state step and the structured tangent step (cell.hpp), one layer after the
// other, written once with the executor's primitives.
#include "cell.hpp"

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

CellKind kind_of(const CellNetwork& net) {
  switch (net.type) {
    case Model::gru:
      return CellKind::gru;
    case Model::lstm:
      return CellKind::lstm;
    default:
      return net.nonlinearity == Nonlinearity::relu ? CellKind::rnn_relu : CellKind::rnn_tanh;
  }
}

}  // namespace

template <class T>
CellModel<T>::CellModel(const CellNetwork& net, const InputSequences& inputs, int first, int count,
                        bool lstm_h_only)
    : net_(net),
      inputs_(inputs),
      kind_(kind_of(net)),
      first_(first),
      count_(count),
      n_(net.hidden),
      gn_(cell_gates(kind_) * net.hidden),
      layers_(net.num_layers()),
      d_(net.layer_tangent_rows(lstm_h_only)),
      dim_(net.tangent_rows(lstm_h_only)),
      steps_(inputs.steps),
      h_only_(lstm_h_only) {}

template <class T>
double CellModel<T>::bytes_needed(int k) const {
  // Shared: W_hh and b_hh of every layer, W_ih and b_ih of the layers above the first. Per member:
  // the input drive of every step, an upper layer's drive, h twice and c for every layer, the
  // coefficients, E and two bases.
  const double n = n_, gn = gn_, d = d_, dim = dim_, l = layers_;
  const double shared = l * (gn * n + gn) + (l - 1) * (gn * n + gn);
  const double per =
      gn * steps_ + (l > 1 ? gn : 0) + 3 * l * n + kCoefSlots * n + d * n + 2 * dim * k;
  return (shared + count_ * per) * sizeof(T);
}

template <class T>
void CellModel<T>::upload(Executor<T>& ex, int k) {
  ex_ = &ex;
  kern_ = &ex.template kernels<CellKernels<T>>();
  k_ = k;
  const std::size_t gn = static_cast<std::size_t>(gn_), n = static_cast<std::size_t>(n_);
  const std::size_t b = static_cast<std::size_t>(count_);
  const std::size_t steps = static_cast<std::size_t>(steps_);
  const std::size_t in = static_cast<std::size_t>(net_.input_size);
  const std::size_t layers = static_cast<std::size_t>(layers_);
  std::vector<T> v;
  // A G·N × N row-major matrix (PyTorch's layout) → column-major, as BLAS and the kernels read it.
  const auto matrix = [&](const std::vector<double>& w) {
    v.assign(gn * n, T(0));
    for (std::size_t r = 0; r < gn; ++r)
      for (std::size_t c = 0; c < n; ++c) v[c * gn + r] = static_cast<T>(w[r * n + c]);
    Buffer<T> buf(ex, gn * n);
    ex.copy_in(buf.get(), v.data(), v.size() * sizeof(T));
    return buf;
  };
  // A bias (zero when the network has none).
  const auto vector = [&](const std::vector<double>& bias) {
    v.assign(gn, T(0));
    for (std::size_t r = 0; r < bias.size(); ++r) v[r] = static_cast<T>(bias[r]);
    Buffer<T> buf(ex, gn);
    ex.copy_in(buf.get(), v.data(), gn * sizeof(T));
    return buf;
  };
  whh_.clear();
  bhh_.clear();
  wih_.clear();
  bih_.clear();
  for (int l = 0; l < layers_; ++l) {
    const CellLayer& w = net_.layer(l);
    whh_.push_back(matrix(w.w_hh));
    bhh_.push_back(vector(w.b_hh));
    wih_.push_back(l == 0 ? Buffer<T>() : matrix(w.w_ih));
    bih_.push_back(l == 0 ? Buffer<T>() : vector(w.b_ih));
  }
  // Layer 0's input drive W_ih x_t + b_ih of every step of every member, summed in fp64 from the
  // bias in the order j = 0 .. I−1 and rounded once.
  const CellLayer& l0 = net_.layer(0);
  drive_ = Buffer<T>(ex, b * steps * gn);
  v.assign(steps * gn, T(0));
  for (std::size_t m = 0; m < b; ++m) {
    const std::span<const double> x = inputs_.sequence(first_ + static_cast<int>(m));
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t r = 0; r < gn; ++r) {
        double a = l0.b_ih.empty() ? 0.0 : l0.b_ih[r];
        for (std::size_t j = 0; j < in; ++j) a += l0.w_ih[r * in + j] * x[t * in + j];
        v[t * gn + r] = static_cast<T>(a);
      }
    ex.copy_in(drive_.get() + m * steps * gn, v.data(), v.size() * sizeof(T));
  }
  gi_ = layers_ > 1 ? Buffer<T>(ex, b * gn) : Buffer<T>();
  for (auto& h : h_) h = Buffer<T>(ex, layers * b * n);
  if (kind_ == CellKind::lstm) c_ = Buffer<T>(ex, layers * b * n);
  coef_ = Buffer<T>(ex, b * kCoefSlots * n);
  e_ = Buffer<T>(ex, b * static_cast<std::size_t>(d_) * n);
  const std::size_t dim = static_cast<std::size_t>(dim_);
  q_ = Buffer<T>(ex, b * dim * static_cast<std::size_t>(k));
  qn_ = Buffer<T>(ex, b * dim * static_cast<std::size_t>(k));
  h_cur_ = 0;
}

template <class T>
void CellModel<T>::set_state(const std::vector<double>& all) {
  // Host layout: per member, per layer h then (lstm) c; executor layout: per layer all h (all c).
  const std::size_t n = static_cast<std::size_t>(n_), per = static_cast<std::size_t>(state_size());
  const std::size_t lper = static_cast<std::size_t>(net_.layer_state_size());
  const std::size_t b = static_cast<std::size_t>(count_);
  std::vector<T> h(layers_ * b * n), c(c_.size());
  for (std::size_t m = 0; m < b; ++m)
    for (std::size_t l = 0; l < static_cast<std::size_t>(layers_); ++l)
      for (std::size_t i = 0; i < n; ++i) {
        h[(l * b + m) * n + i] = static_cast<T>(all[m * per + l * lper + i]);
        if (!c.empty()) c[(l * b + m) * n + i] = static_cast<T>(all[m * per + l * lper + n + i]);
      }
  h_cur_ = 0;
  ex_->copy_in(h_[0].get(), h.data(), h.size() * sizeof(T));
  if (!c.empty()) ex_->copy_in(c_.get(), c.data(), c.size() * sizeof(T));
}

template <class T>
std::vector<double> CellModel<T>::state_blocking() {
  const std::size_t n = static_cast<std::size_t>(n_), per = static_cast<std::size_t>(state_size());
  const std::size_t lper = static_cast<std::size_t>(net_.layer_state_size());
  const std::size_t b = static_cast<std::size_t>(count_);
  std::vector<T> h(layers_ * b * n), c(c_.size());
  ex_->copy_out_blocking(h.data(), h_[h_cur_].get(), h.size() * sizeof(T));
  if (!c.empty()) ex_->copy_out_blocking(c.data(), c_.get(), c.size() * sizeof(T));
  std::vector<double> all(b * per);
  for (std::size_t m = 0; m < b; ++m)
    for (std::size_t l = 0; l < static_cast<std::size_t>(layers_); ++l)
      for (std::size_t i = 0; i < n; ++i) {
        all[m * per + l * lper + i] = h[(l * b + m) * n + i];
        if (!c.empty()) all[m * per + l * lper + n + i] = c[(l * b + m) * n + i];
      }
  return all;
}

template <class T>
void CellModel<T>::check_step(std::int64_t t) const {
  if (t < 0 || t >= steps_)
    throw Error("cell propagator: step " + std::to_string(t) + " beyond the input sequence of " +
                std::to_string(steps_) + " steps");
}

template <class T>
void CellModel<T>::layer_step(int l, std::int64_t t, T* coef) {
  const std::size_t bn = static_cast<std::size_t>(count_) * static_cast<std::size_t>(n_);
  const std::size_t at = static_cast<std::size_t>(l) * bn;
  T* const h_new = h_[1 - h_cur_].get();
  const T* gi = drive_.get() + t * gn_;
  long long gi_stride = static_cast<long long>(steps_) * gn_;
  if (l > 0) {
    // W_ih_l (new h of layer l − 1) + b_ih_l
    kern_->input_drive(count_, gn_, n_, wih_[l].get(), bih_[l].get(), h_new + at - bn, gi_.get());
    gi = gi_.get();
    gi_stride = gn_;
  }
  kern_->step(kind_, count_, n_, whh_[l].get(), bhh_[l].get(), gi, gi_stride, h_[h_cur_].get() + at,
              h_new + at, c_.get() ? c_.get() + at : nullptr, coef);
}

template <class T>
void CellModel<T>::state_step(std::int64_t t) {
  check_step(t);
  for (int l = 0; l < layers_; ++l) layer_step(l, t, nullptr);
  h_cur_ = 1 - h_cur_;
}

template <class T>
void CellModel<T>::tangent_step(std::int64_t t) {
  check_step(t);
  // Each member's basis is dim × k (leading dimension dim); layer l's rows start at l·d.
  const long long dn = static_cast<long long>(d_) * n_, dk = static_cast<long long>(dim_) * k_;
  for (int l = 0; l < layers_; ++l) {
    const long long row = static_cast<long long>(l) * d_;
    layer_step(l, t, coef_.get());  // the coefficients come from the layer's state before the step
    kern_->form_e(kind_, h_only_, false, count_, n_, d_, coef_.get(), whh_[l].get(), e_.get());
    // Q_l' = D Q_l (the diagonal parts), then Q_l' += E Q_{h,l} (the layer's first N rows).
    const bool diagonal = kern_->diagonal(kind_, h_only_, count_, n_, dim_, k_, coef_.get(),
                                          q_.get() + row, qn_.get() + row);
    ex_->gemm_batched(d_, k_, n_, T(1), e_.get(), d_, dn, q_.get() + row, dim_, dk,
                      diagonal ? T(1) : T(0), qn_.get() + row, dim_, dk, count_);
    if (l == 0) continue;
    // The input term: Q_l' += E_in Q'_{h,l−1}, the rows layer l − 1 has just been moved to (rows
    // of the same buffer that this product does not write).
    kern_->form_e(kind_, h_only_, true, count_, n_, d_, coef_.get(), wih_[l].get(), e_.get());
    ex_->gemm_batched(d_, k_, n_, T(1), e_.get(), d_, dn, qn_.get() + row - d_, dim_, dk, T(1),
                      qn_.get() + row, dim_, dk, count_);
  }
  h_cur_ = 1 - h_cur_;
  swap(q_, qn_);
}

template class CellModel<float>;
template class CellModel<double>;

}  // namespace rnnlyap::detail
