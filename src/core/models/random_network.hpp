// Random and file networks (docs/design.md, the models table): rate (Euler or classic RK4) and map,
// B networks of the same size in lockstep, each with its own weights, bias and noise key.
#pragma once

#include <cstdint>
#include <vector>

#include "../propagator.hpp"
#include "model.hpp"
#include "random_network_kernels.hpp"

namespace rnnlyap::detail {

template <class T>
class RandomNetworkModel final : public TangentModel<T> {
 public:
  /// The networks are read by upload() (and must live until then).
  RandomNetworkModel(const std::vector<const Network*>& nets, const Dynamics& dyn,
                     const std::vector<std::uint64_t>& keys);
  /// One network given by columns (read by upload()).
  RandomNetworkModel(const NetworkColumns& net, const Dynamics& dyn, std::uint64_t key);

  int batch() const override { return static_cast<int>(nets_.size()); }
  int state_size() const override { return n_; }
  int tangent_rows() const override { return n_; }
  double bytes_needed(const Memory& ex, int k) const override;
  int buffer_count() const override { return rk4_ ? 20 : 8; }  // upload()'s
  void upload(Executor<T>& ex, int k) override;
  void set_state(const std::vector<double>& all) override;
  std::vector<double> state_blocking() override;
  T* basis() override { return q_.get(); }
  void state_step(std::int64_t step) override;
  void tangent_step(std::int64_t step) override;

 private:
  void rk4_state(std::int64_t step);
  Rk4Buffers<T> rk4_buffers() const;
  T noise_scale() const;

  std::vector<NetworkColumns> nets_;
  std::vector<const Network*> given_;  // the networks given whole (their sizes checked in upload)
  Dynamics dyn_;
  std::vector<std::uint64_t> key_values_;
  int n_ = 0, k_ = 0;
  std::size_t jn_ = 0, qn_ = 0;  // values of J and of a basis on the executor (matrix_values)
  bool rk4_ = false, map_ = false;
  Executor<T>* ex_ = nullptr;
  RandomNetworkKernels<T>* kern_ = nullptr;  // ex_'s, found in upload()
  Buffer<T> j_, bias_, h_, x_[4], y_[4], f_[4], q_, s_, kbuf_, acc_;
  Buffer<std::uint64_t> keys_;
  int x_cur_ = 0;  // Euler/map: x_[x_cur_] = φ(h)
};

}  // namespace rnnlyap::detail
