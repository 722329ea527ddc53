// Random and file networks: the state step and the tangent step, written once with the executor's
// primitives (docs/design.md, the models table).
//   rate/Euler: h ← (1−dt) h + dt (J φ(h) + b) + σ√dt ξ,  D_t = (1−dt) I + dt J diag φ'(h)
//   map:        h ← J φ(h) + b + σ ξ,                     D_t = J diag φ'(h)
//   rate/RK4:   classic RK4 of τ dh/dt = −h + J φ(h) + b, and RK4 of the variational equation
//               dQ/dt = (−I + J diag φ'(y)) Q along the same stage points (4 products per step).
#include "random_network.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

template <class T>
RandomNetworkModel<T>::RandomNetworkModel(const std::vector<const Network*>& nets,
                                          const Dynamics& dyn,
                                          const std::vector<std::uint64_t>& keys)
    : dyn_(dyn), key_values_(keys) {
  if (nets.empty() || keys.size() != nets.size())
    throw InvalidInput("a batch needs one noise key per network");
  n_ = nets[0]->n;
  for (const Network* net : nets) {
    const std::size_t n = static_cast<std::size_t>(n_);
    nets_.push_back({net->n, net->bias, [net, n](int c0, int c1, double* out) {
                       std::copy(net->j.begin() + static_cast<std::ptrdiff_t>(n * c0),
                                 net->j.begin() + static_cast<std::ptrdiff_t>(n * c1), out);
                     }});
    given_.push_back(net);
  }
  rk4_ = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
  map_ = dyn.model == Model::map;
}

template <class T>
RandomNetworkModel<T>::RandomNetworkModel(const NetworkColumns& net, const Dynamics& dyn,
                                          std::uint64_t key)
    : nets_{net}, dyn_(dyn), key_values_{key}, n_(net.n) {
  if (!net.bias.empty() && net.bias.size() != static_cast<std::size_t>(n_))
    throw InvalidInput("the bias has the wrong size");
  rk4_ = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
  map_ = dyn.model == Model::map;
}

double network_model_bytes(int batch, int n, int k, const Dynamics& dyn, Precision precision,
                           const Memory* layout) {
  // Per member: J; the bases (Q, S; RK4 also K and the accumulator); the vectors (bias, h,
  // x[2 or 4], RK4's stage points and slopes); the noise key. The matrices as `layout` holds them
  // (a distributed executor: its rank's blocks).
  const bool rk4 = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
  const double nn = layout ? static_cast<double>(layout->matrix_values(n, n)) : double(n) * n;
  const double nk = layout ? static_cast<double>(layout->matrix_values(n, k)) : double(n) * k;
  const double scalar = precision == Precision::fp32 ? 4 : 8;
  const double per = nn + nk * (rk4 ? 4 : 2) + double(n) * (rk4 ? 2 + 4 + 4 + 4 : 2 + 2);
  return batch * (per * scalar + sizeof(std::uint64_t));
}

template <class T>
double RandomNetworkModel<T>::bytes_needed(const Memory& ex, int k) const {
  return network_model_bytes(batch(), n_, k, dyn_,
                             sizeof(T) == 4 ? Precision::fp32 : Precision::fp64, &ex);
}

template <class T>
void RandomNetworkModel<T>::upload(Executor<T>& ex, int k) {
  ex_ = &ex;
  kern_ = &ex.template kernels<RandomNetworkKernels<T>>();
  k_ = k;
  const std::size_t b = nets_.size(), n = static_cast<std::size_t>(n_);
  // The matrices as the executor holds them (all of each, or a distributed executor's blocks).
  jn_ = ex.matrix_values(n_, n_);
  qn_ = ex.matrix_values(n_, k);
  j_ = Buffer<T>(ex, b * jn_);
  bias_ = Buffer<T>(ex, b * n);
  for (std::size_t m = 0; m < given_.size(); ++m) {  // checked here: after the memory check
    const Network& net = *given_[m];
    if (net.n != n_ || net.j.size() != n * n || (!net.bias.empty() && net.bias.size() != n))
      throw InvalidInput("network " + std::to_string(m) + " has weights of the wrong size");
  }
  for (std::size_t m = 0; m < b; ++m) {
    const NetworkColumns& net = nets_[m];
    // A few columns at a time (a distributed executor: only those of its blocks), so that an
    // fp32 run never holds a second full copy of J on the host.
    ex.matrix_in_fp64(j_.get() + m * jn_, n_, n_, net.columns);
    if (!net.bias.empty()) {
      const std::vector<T> v(net.bias.begin(), net.bias.end());
      ex.copy_in(bias_.get() + m * n, v.data(), n * sizeof(T));
    }
  }
  keys_ = Buffer<std::uint64_t>(ex, b);
  ex.copy_in(keys_.get(), key_values_.data(), b * sizeof(std::uint64_t));
  h_ = Buffer<T>(ex, b * n);
  for (int i = 0; i < 4; ++i) {
    if (i < 2 || rk4_) x_[i] = Buffer<T>(ex, b * n);  // zero = φ(h) for h = 0
    if (rk4_) {
      y_[i] = Buffer<T>(ex, b * n);
      f_[i] = Buffer<T>(ex, b * n);
    }
  }
  q_ = Buffer<T>(ex, b * qn_);
  s_ = Buffer<T>(ex, b * qn_);
  if (rk4_) {
    kbuf_ = Buffer<T>(ex, b * qn_);
    acc_ = Buffer<T>(ex, b * qn_);
  }
  x_cur_ = 0;
}

template <class T>
void RandomNetworkModel<T>::set_state(const std::vector<double>& all) {
  const std::vector<T> v(all.begin(), all.end());
  ex_->copy_in(h_.get(), v.data(), v.size() * sizeof(T));
  x_cur_ = 0;
  kern_->phi_into(static_cast<long long>(v.size()), h_.get(), x_[0].get());
}

template <class T>
std::vector<double> RandomNetworkModel<T>::state_blocking() {
  std::vector<T> v(h_.size());
  ex_->copy_out_blocking(v.data(), h_.get(), v.size() * sizeof(T));
  return {v.begin(), v.end()};
}

template <class T>
T RandomNetworkModel<T>::noise_scale() const {
  return static_cast<T>(map_ ? dyn_.input_std : dyn_.input_std * std::sqrt(dyn_.dt));
}

template <class T>
Rk4Buffers<T> RandomNetworkModel<T>::rk4_buffers() const {
  Rk4Buffers<T> b;
  b.h = h_.get();
  for (int i = 0; i < 4; ++i) {
    b.x[i] = x_[i].get();
    b.y[i] = y_[i].get();
    b.f[i] = f_[i].get();
  }
  return b;
}

template <class T>
void RandomNetworkModel<T>::rk4_state(std::int64_t step) {
  const T dt = static_cast<T>(dyn_.dt);
  const T c[4] = {T(0), dt / 2, dt / 2, dt};
  const Rk4Buffers<T> b = rk4_buffers();
  for (int s = 0; s < 4; ++s)
    kern_->rk4_stage(batch(), n_, s, j_.get(), bias_.get(), b, s < 3 ? c[s + 1] : T(0), dt / 6,
                     noise_scale(), keys_.get(), step);
}

template <class T>
void RandomNetworkModel<T>::state_step(std::int64_t step) {
  if (rk4_) {
    rk4_state(step);
    return;
  }
  kern_->euler_or_map_state_step(batch(), n_, map_, j_.get(), bias_.get(), h_.get(),
                                 x_[x_cur_].get(), x_[1 - x_cur_].get(), static_cast<T>(dyn_.dt),
                                 noise_scale(), keys_.get(), step);
  x_cur_ = 1 - x_cur_;
}

template <class T>
void RandomNetworkModel<T>::tangent_step(std::int64_t step) {
  const long long nn = static_cast<long long>(jn_), nk = static_cast<long long>(qn_);
  if (!rk4_) {
    // S = diag(φ'(h)) Q, then Q ← α J S + β Q in one product: α = dt, β = 1 − dt (rate/Euler);
    // α = 1, β = 0 (map).
    kern_->scale_rows_by_dphi(batch(), n_, k_, h_.get(), q_.get(), s_.get());
    const T alpha = map_ ? T(1) : static_cast<T>(dyn_.dt);
    const T beta = map_ ? T(0) : static_cast<T>(1 - dyn_.dt);
    ex_->gemm_batched(n_, k_, n_, alpha, j_.get(), n_, nn, s_.get(), n_, nk, beta, q_.get(), n_, nk,
                      batch());
    state_step(step);
    return;
  }
  // RK4 of the variational equation along the RK4 stage points y_s of the state:
  // K_s = −Y_s + J diag(φ'(y_s)) Y_s with Y_s = Q + c_s K_{s−1}; Q ← Q + Σ w_s K_s.
  const T dt = static_cast<T>(dyn_.dt);
  rk4_state(step);  // fills the stage points y_s and moves h
  const T c[4] = {T(0), dt / 2, dt / 2, dt};
  const T w[4] = {dt / 6, dt / 3, dt / 3, dt / 6};
  kern_->scale_rows_by_dphi(batch(), n_, k_, y_[0].get(), q_.get(), s_.get());
  for (int s = 0; s < 4; ++s) {
    // K = J S − c_s K_{s−1} (on the first stage c_0 = 0: K is not read)
    ex_->gemm_batched(n_, k_, n_, T(1), j_.get(), n_, nn, s_.get(), n_, nk, -c[s], kbuf_.get(), n_,
                      nk, batch());
    kern_->rk4_tangent_combine(batch(), n_, k_, s, w[s], s < 3 ? c[s + 1] : T(0),
                               s < 3 ? y_[s + 1].get() : nullptr, kbuf_.get(), q_.get(), acc_.get(),
                               s_.get());
  }
  swap(q_, acc_);
}

template class RandomNetworkModel<float>;
template class RandomNetworkModel<double>;

}  // namespace rnnlyap::detail
