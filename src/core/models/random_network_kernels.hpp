// The per-element kernels of the random networks (random_network.cpp): declared here, beside the
// model, and implemented once per backend (src/cpu/random_network_kernels.cpp,
// src/cuda/cuda_executor.cpp over state_kernels.cu). The model finds them once, in upload(), with
// Executor::kernels<RandomNetworkKernels<T>>(), and calls them once per step on the whole batch.
//
// J is B blocks of n×n, bias/h/x B·n values, q/s/kbuf/acc B blocks of n×k, keys B noise keys; the
// pointers are the executor's memory, the calls asynchronous on a GPU (executor.hpp).
#pragma once

#include <cstdint>

#include "../executor.hpp"

namespace rnnlyap::detail {

/// The state buffers of the RK4 state step, each B·n values.
template <class T>
struct Rk4Buffers {
  T* h = nullptr;  ///< the state; the last stage moves it
  T* x[4] = {};    ///< x[s] = φ(y_s); x[0] = φ(h) holds between steps
  T* y[4] = {};    ///< stage points y_s (y_0 = h before the step)
  T* f[4] = {};    ///< f(y_s) = -y_s + J φ(y_s) + b
};

template <class T>
class RandomNetworkKernels : public Kernels {
 public:
  /// x = φ(h), `count` values.
  virtual void phi_into(long long count, const T* h, T* x) = 0;
  /// One Euler (rate) or map state step: drive = J x_in (each row summed over columns 0..n-1 in
  /// order), h ← (1-dt) h + dt (drive + b) + σ ξ (rate) or drive + b + σ ξ (map), x_out = φ(h).
  /// Needs x_in = φ(h); x_out is another buffer.
  virtual void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                                       const T* x_in, T* x_out, T dt, T noise_scale,
                                       const std::uint64_t* keys, std::int64_t step) = 0;
  /// Stage `stage` (0..3) of classic RK4 of the state: f_s = -y_s + J x_s + b; stages 0..2 also
  /// y_{s+1} = h + c_next f_s and x_{s+1} = φ(y_{s+1}); stage 3 moves h by dt/6 (f0 + 2f1 + 2f2 +
  /// f3), adds the noise and sets x_0 = φ(h). Stage 0 copies h into y_0.
  virtual void rk4_stage(int batch, int n, int stage, const T* j, const T* bias,
                         const Rk4Buffers<T>& b, T c_next, T dt_over_6, T noise_scale,
                         const std::uint64_t* keys, std::int64_t step) = 0;
  /// s = diag(φ'(h)) q.
  virtual void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) = 0;
  /// The pass after RK4 tangent product `stage`: K ← K − Q; A ← (stage 0 ? Q : A) + w K; for
  /// stage < 3 also S ← diag(φ'(y_next)) (Q + c_next K).
  virtual void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next,
                                   const T* y_next, T* kbuf, const T* q, T* acc, T* s) = 0;
};

}  // namespace rnnlyap::detail
