// Trained cells: the state step and the structured tangent step (cell.hpp), written once with the
// executor's primitives.
#include "cell.hpp"

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

template <class T>
CellModel<T>::CellModel(const CellNetwork& net, const InputSequences& inputs, int first, int count,
                        bool lstm_h_only)
    : net_(net),
      inputs_(inputs),
      kind_(static_cast<CellKind>(net.gates())),
      first_(first),
      count_(count),
      n_(net.hidden),
      gn_(net.gates() * net.hidden),
      dim_(net.tangent_rows(lstm_h_only)),
      steps_(inputs.steps),
      h_only_(lstm_h_only) {}

template <class T>
double CellModel<T>::bytes_needed(int k) const {
  // Shared: W_hh and b_hh. Per member: the input drive of every step, h twice, c, the
  // coefficients, E and two bases.
  const double n = n_, gn = gn_, dim = dim_;
  const double per = gn * steps_ + 3 * n + 6 * n + dim * n + 2 * dim * k;
  return (gn * n + gn + count_ * per) * sizeof(T);
}

template <class T>
void CellModel<T>::upload(Executor<T>& ex, int k) {
  ex_ = &ex;
  k_ = k;
  const std::size_t gn = static_cast<std::size_t>(gn_), n = static_cast<std::size_t>(n_);
  const std::size_t b = static_cast<std::size_t>(count_);
  const std::size_t steps = static_cast<std::size_t>(steps_);
  const std::size_t in = static_cast<std::size_t>(net_.input_size);
  // W_hh column-major (G·N × N), as BLAS and the kernels read it.
  std::vector<T> v(gn * n);
  for (std::size_t r = 0; r < gn; ++r)
    for (std::size_t c = 0; c < n; ++c) v[c * gn + r] = static_cast<T>(net_.w_hh[r * n + c]);
  whh_ = Buffer<T>(ex, gn * n);
  ex.copy_in(whh_.get(), v.data(), v.size() * sizeof(T));
  v.assign(gn, T(0));
  for (std::size_t r = 0; r < net_.b_hh.size(); ++r) v[r] = static_cast<T>(net_.b_hh[r]);
  bhh_ = Buffer<T>(ex, gn);
  ex.copy_in(bhh_.get(), v.data(), gn * sizeof(T));
  // The input drive W_ih x_t + b_ih of every step of every member, summed in fp64 from the bias in
  // the order j = 0 .. I−1 and rounded once.
  drive_ = Buffer<T>(ex, b * steps * gn);
  v.assign(steps * gn, T(0));
  for (std::size_t m = 0; m < b; ++m) {
    const std::span<const double> x = inputs_.sequence(first_ + static_cast<int>(m));
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t r = 0; r < gn; ++r) {
        double a = net_.b_ih.empty() ? 0.0 : net_.b_ih[r];
        for (std::size_t j = 0; j < in; ++j) a += net_.w_ih[r * in + j] * x[t * in + j];
        v[t * gn + r] = static_cast<T>(a);
      }
    ex.copy_in(drive_.get() + m * steps * gn, v.data(), v.size() * sizeof(T));
  }
  for (auto& h : h_) h = Buffer<T>(ex, b * n);
  if (kind_ == CellKind::lstm) c_ = Buffer<T>(ex, b * n);
  coef_ = Buffer<T>(ex, b * 6 * n);
  const std::size_t dim = static_cast<std::size_t>(dim_);
  e_ = Buffer<T>(ex, b * dim * n);
  q_ = Buffer<T>(ex, b * dim * static_cast<std::size_t>(k));
  qn_ = Buffer<T>(ex, b * dim * static_cast<std::size_t>(k));
  h_cur_ = 0;
}

template <class T>
void CellModel<T>::set_state(const std::vector<double>& all) {
  // Host layout: per member h then (lstm) c; executor layout: all h, then all c.
  const std::size_t n = static_cast<std::size_t>(n_), per = static_cast<std::size_t>(state_size());
  std::vector<T> h(count_ * n), c(c_.size());
  for (std::size_t m = 0; m < static_cast<std::size_t>(count_); ++m)
    for (std::size_t i = 0; i < n; ++i) {
      h[m * n + i] = static_cast<T>(all[m * per + i]);
      if (!c.empty()) c[m * n + i] = static_cast<T>(all[m * per + n + i]);
    }
  h_cur_ = 0;
  ex_->copy_in(h_[0].get(), h.data(), h.size() * sizeof(T));
  if (!c.empty()) ex_->copy_in(c_.get(), c.data(), c.size() * sizeof(T));
}

template <class T>
std::vector<double> CellModel<T>::state_blocking() {
  const std::size_t n = static_cast<std::size_t>(n_), per = static_cast<std::size_t>(state_size());
  std::vector<T> h(count_ * n), c(c_.size());
  ex_->copy_out_blocking(h.data(), h_[h_cur_].get(), h.size() * sizeof(T));
  if (!c.empty()) ex_->copy_out_blocking(c.data(), c_.get(), c.size() * sizeof(T));
  std::vector<double> all(count_ * per);
  for (std::size_t m = 0; m < static_cast<std::size_t>(count_); ++m)
    for (std::size_t i = 0; i < n; ++i) {
      all[m * per + i] = h[m * n + i];
      if (!c.empty()) all[m * per + n + i] = c[m * n + i];
    }
  return all;
}

// One cell step from the current state at input step t (and, with coef, the tangent coefficients).
template <class T>
void CellModel<T>::step(std::int64_t t, T* coef) {
  if (t < 0 || t >= steps_)
    throw Error("cell propagator: step " + std::to_string(t) + " beyond the input sequence of " +
                std::to_string(steps_) + " steps");
  const long long gn = gn_;
  ex_->cell_step(kind_, count_, n_, whh_.get(), bhh_.get(), drive_.get() + t * gn,
                 static_cast<long long>(steps_) * gn, h_[h_cur_].get(), h_[1 - h_cur_].get(),
                 c_.get(), coef);
  h_cur_ = 1 - h_cur_;
}

template <class T>
void CellModel<T>::state_step(std::int64_t t) {
  step(t, nullptr);
}

template <class T>
void CellModel<T>::tangent_step(std::int64_t t) {
  step(t, coef_.get());  // the coefficients come from the state before the step
  ex_->cell_form_e(kind_, h_only_, count_, n_, dim_, coef_.get(), whh_.get(), e_.get());
  // Q' = D Q (the diagonal parts), then Q' += E Q_h (Q_h: the first N rows of each column).
  const bool diagonal =
      ex_->cell_diagonal(kind_, h_only_, count_, n_, dim_, k_, coef_.get(), q_.get(), qn_.get());
  const long long dn = static_cast<long long>(dim_) * n_, dk = static_cast<long long>(dim_) * k_;
  ex_->gemm_batched(dim_, k_, n_, T(1), e_.get(), dim_, dn, q_.get(), dim_, dk,
                    diagonal ? T(1) : T(0), qn_.get(), dim_, dk, count_);
  swap(q_, qn_);
}

template class CellModel<float>;
template class CellModel<double>;

}  // namespace rnnlyap::detail
