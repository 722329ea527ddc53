// The random networks' per-element kernels on the CPU (core/models/random_network_kernels.hpp):
// plain loops. The state's matrix-vector products are our own loops in a fixed order (column by
// column), so a trajectory depends neither on k nor on the BLAS thread count; every loop does the
// arithmetic of the CUDA kernels in the same order (core/elementwise.hpp is shared), so CPU and GPU
// trajectories agree to rounding. With a team of threads (thread_team.hpp) the loops over a
// basis's columns are shared by columns and the matrix-vector product by rows (each row's sum in
// the same order: the trajectory does not depend on the thread count either).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/elementwise.hpp"
#include "../core/models/random_network_kernels.hpp"
#include "kernels.hpp"
#include "thread_team.hpp"

namespace rnnlyap::detail {
namespace {

template <class T>
class CpuRandomNetworkKernels final : public RandomNetworkKernels<T> {
 public:
  explicit CpuRandomNetworkKernels(cpu::ThreadTeam* team) : team_(cpu::parallel(team)) {}

  void phi_into(long long count, const T* h, T* x) override {
    for (long long i = 0; i < count; ++i) x[i] = phi(h[i]);
  }

  void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                               const T* x_in, T* x_out, T dt, T noise_scale,
                               const std::uint64_t* keys, std::int64_t step) override {
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n);
      matvec(n, j + vo * n, x_in + vo);
      euler_or_map_update(n, map, drive_.data(), bias + vo, h + vo, x_out + vo, dt, noise_scale,
                          keys[b], step);
    }
  }
  void rk4_stage(int batch, int n, int s, const T* j, const T* bias, const Rk4Buffers<T>& st,
                 T c_next, T dt6, T noise_scale, const std::uint64_t* keys,
                 std::int64_t step) override {
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n);
      matvec(n, j + vo * n, st.x[s] + vo);
      rk4_stage_update(n, s, drive_.data(), bias + vo, offset(st, vo), c_next, dt6, noise_scale,
                       keys[b], step);
    }
  }
  void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) override {
    d_.resize(static_cast<std::size_t>(n));
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n), bo = vo * k;
      for (int i = 0; i < n; ++i) d_[i] = dphi(h[vo + i]);
      by_columns(n, k, [&](int c0, int c1) {
        for (int c = c0; c < c1; ++c) {
          const std::size_t o = bo + static_cast<std::size_t>(c) * n;
          for (int r = 0; r < n; ++r) s[o + r] = d_[r] * q[o + r];
        }
      });
    }
  }

  void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                           T* kbuf, const T* q, T* acc, T* s) override {
    d_.resize(static_cast<std::size_t>(n));
    for (int b = 0; b < batch; ++b) {
      const std::size_t vo = vector_offset(b, n), bo = vo * k;
      if (stage < 3)
        for (int i = 0; i < n; ++i) d_[i] = dphi(y_next[vo + i]);
      by_columns(n, k, [&](int c0, int c1) {
        for (int col = c0; col < c1; ++col) {
          const std::size_t o = bo + static_cast<std::size_t>(col) * n;
          T* kc = kbuf + o;
          T* ac = acc + o;
          T* sc = s + o;
          const T* qc = q + o;
          for (int r = 0; r < n; ++r) {
            const T kv = kc[r] - qc[r];
            kc[r] = kv;
            ac[r] = (stage == 0 ? qc[r] : ac[r]) + w * kv;
            if (stage < 3) sc[r] = d_[r] * (qc[r] + c_next * kv);
          }
        }
      });
    }
  }

 private:
  static std::size_t vector_offset(int b, int n) {
    return static_cast<std::size_t>(b) * static_cast<std::size_t>(n);
  }

  static Rk4Buffers<T> offset(const Rk4Buffers<T>& st, std::size_t vo) {
    Rk4Buffers<T> o;
    o.h = st.h + vo;
    for (int i = 0; i < 4; ++i) {
      o.x[i] = st.x[i] + vo;
      o.y[i] = st.y[i] + vo;
      o.f[i] = st.f[i] + vo;
    }
    return o;
  }
  // Below this many elements (n·k, n²) a loop stays on one thread: sharing it costs more.
  static constexpr long long kShareElements = 1 << 14;

  // fn(c0, c1) over the columns [0, k) of an n-row block: shared over the team, or all at once.
  template <class F>
  void by_columns(int n, int k, F fn) {
    if (!team_ || static_cast<long long>(k) * n < kShareElements) {
      fn(0, k);
      return;
    }
    team_->run([&](int p) {
      const auto [c0, c1] = cpu::share(k, team_->size(), p);
      if (c1 > c0) fn(c0, c1);
    });
  }

  // drive_ = J x, column by column: each row summed over columns 0..n-1 in order (with a team,
  // each thread its rows, in the same order).
  void matvec(int n, const T* j, const T* x) {
    drive_.assign(static_cast<std::size_t>(n), T(0));
    const auto rows = [&](int r0, int r1) {
      for (int c = 0; c < n; ++c) {
        const T xc = x[c];
        const T* col = j + static_cast<std::size_t>(c) * n;
        for (int r = r0; r < r1; ++r) drive_[r] += col[r] * xc;
      }
    };
    if (!team_ || static_cast<long long>(n) * n < kShareElements) return rows(0, n);
    team_->run([&](int p) {
      const auto [r0, r1] = cpu::share(n, team_->size(), p, 8);
      if (r1 > r0) rows(r0, r1);
    });
  }

  cpu::ThreadTeam* team_;     // two or more threads, or null
  std::vector<T> drive_, d_;  // scratch
};

}  // namespace

template <class T>
std::unique_ptr<RandomNetworkKernels<T>> make_cpu_random_network_kernels(cpu::ThreadTeam* team) {
  return std::make_unique<CpuRandomNetworkKernels<T>>(team);
}

template std::unique_ptr<RandomNetworkKernels<float>> make_cpu_random_network_kernels<float>(
    cpu::ThreadTeam*);
template std::unique_ptr<RandomNetworkKernels<double>> make_cpu_random_network_kernels<double>(
    cpu::ThreadTeam*);

}  // namespace rnnlyap::detail
