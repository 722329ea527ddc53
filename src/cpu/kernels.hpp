// The CPU backend's implementations of the model families' kernels (core/models/*_kernels.hpp),
// each in its own file here; the CPU executor (cpu_executor.cpp) owns one of each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "../core/elementwise.hpp"

#include "../core/models/cell_kernels.hpp"
#include "../core/models/random_network_kernels.hpp"

namespace rnnlyap::cpu {
class ThreadTeam;
}

namespace rnnlyap::detail {

/// random_network_kernels.cpp; the loops over a basis's columns and the state's matrix-vector
/// product shared over `team` when it has two or more threads.
template <class T>
std::unique_ptr<RandomNetworkKernels<T>> make_cpu_random_network_kernels(cpu::ThreadTeam* team);
/// The white-noise input ξ_i of `step` for noise key `key`.
template <class T>
T noise_at(std::uint64_t key, std::int64_t step, int i) {
  return static_cast<T>(normal_at(key, kStreamNoise, static_cast<std::uint64_t>(step),
                                  static_cast<std::uint32_t>(i)));
}

/// One member's Euler or map state step after its product drive = J φ(h) (n values): h ← (1−dt) h
/// + dt (drive + b) + σ ξ (rate) or drive + b + σ ξ (map), x_out = φ(h). Shared by the CPU kernels
/// and the distributed executor's (which computes drive over its process grid).
template <class T>
void euler_or_map_update(int n, bool map, const T* drive, const T* bias, T* h, T* x_out, T dt,
                         T noise_scale, std::uint64_t key, std::int64_t step) {
  for (int i = 0; i < n; ++i) {
    const T xi = noise_scale != T(0) ? noise_at<T>(key, step, i) : T(0);
    h[i] = map ? drive[i] + bias[i] + (noise_scale != T(0) ? noise_scale * xi : T(0))
               : euler_update(h[i], drive[i], bias[i], dt, noise_scale, xi);
    x_out[i] = phi(h[i]);
  }
}

/// One member's RK4 stage `s` after its product drive = J x_s (n values; Rk4Buffers of that
/// member): stage 0 first copies h into y_0; f_s = −y_s + drive + b; stages 0..2 then y_{s+1} = h +
/// c_next f_s and x_{s+1} = φ(y_{s+1}); stage 3 moves h by dt/6 (f0 + 2f1 + 2f2 + f3), adds the
/// noise and sets x_0 = φ(h).
template <class T>
void rk4_stage_update(int n, int s, const T* drive, const T* bias, const Rk4Buffers<T>& st,
                      T c_next, T dt6, T noise_scale, std::uint64_t key, std::int64_t step) {
  T* h = st.h;
  if (s == 0) std::copy(h, h + n, st.y[0]);
  const T* y = st.y[s];
  T* f = st.f[s];
  for (int i = 0; i < n; ++i) f[i] = -y[i] + drive[i] + bias[i];  // f(y)
  if (s < 3) {
    for (int i = 0; i < n; ++i) {
      const T yn = h[i] + c_next * f[i];  // y_{s+1} = h + c_{s+1} f_s
      st.y[s + 1][i] = yn;
      st.x[s + 1][i] = phi(yn);
    }
    return;
  }
  const T *f0 = st.f[0], *f1 = st.f[1], *f2 = st.f[2];
  for (int i = 0; i < n; ++i) {
    h[i] += dt6 * (f0[i] + 2 * f1[i] + 2 * f2[i] + f[i]);
    if (noise_scale != T(0)) h[i] += noise_scale * noise_at<T>(key, step, i);
    st.x[0][i] = phi(h[i]);
  }
}

/// cell_kernels.cpp.
template <class T>
std::unique_ptr<CellKernels<T>> make_cpu_cell_kernels();

}  // namespace rnnlyap::detail
