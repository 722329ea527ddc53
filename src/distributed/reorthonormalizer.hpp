// Re-orthonormalisation of one rows × k basis over the process grid (grid.hpp), written once for
// both distributed executors: Householder, or CholeskyQR with the Householder fallback under
// core/qr_policy.hpp's rules (the CPU's re-orthonormaliser, src/cpu/orthonormalize.hpp, takes the
// same decisions). The decisions are made from diagonals that every rank has whole (each entry
// sent by the one rank holding it), so every rank takes the same path and sums the same logs.
//
// `Ops` is the distributed linear algebra of one executor: ScaLAPACK's (distributed_executor.cpp)
// or cuBLASMp/cuSOLVERMp's (distributed_cuda_executor.cpp). It provides, on the basis `q` (this
// rank's blocks) and a k × k Gram matrix of its own:
//   void gram(const T* q)                         G ← QᵀQ (its upper triangle)
//   int potrf()                                   G = RᵀR in place; info, the same on every rank
//   std::vector<double> gram_abs_diagonal()       |R_ii| whole on every rank
//   void save(const T* q), restore(T* q)          a copy of the basis, and back
//   void solve(T* q)                              Q ← Q R⁻¹
//   void geqrf(T* q)                              Householder QR in place (V and R)
//   std::vector<double> r_abs_diagonal(const T* q) |R_ii| of geqrf's R, whole on every rank
//   void orgqr(T* q)                              Q from geqrf's reflectors, in place
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "../core/executor.hpp"
#include "../core/qr_policy.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap::distributed {

template <class T, class Ops>
class GridReorthonormalizer final : public detail::Reorthonormalizer<T> {
 public:
  GridReorthonormalizer(int k, QrMethod method, Ops ops)
      : k_(k),
        cholesky_(method != QrMethod::householder),
        one_pass_(method == QrMethod::auto_select),
        ops_(std::move(ops)),
        logs_(static_cast<std::size_t>(k), 0.0),
        max_ratio_(logs_.size(), 0.0) {}

  void reorthonormalize(T* q, bool accumulate) override {
    if (cholesky_ && !skip_.skip_now()) {
      if (cholesky_qr(q, accumulate)) {
        skip_.succeeded();
        ++(two_passes_ ? paths_.cholesky_two_passes : paths_.cholesky_one_pass);
        return;
      }
      skip_.fell_back();
    }
    householder(q, accumulate);
    ++paths_.householder;
  }
  detail::LogSums take_logs_blocking() override {
    detail::LogSums out{
        std::vector<double>(logs_.size(), 0.0), std::vector<double>(logs_.size(), 0.0), {paths_}};
    std::swap(out.sums, logs_);
    std::swap(out.max_ratio, max_ratio_);
    paths_ = {};
    return out;
  }
  void keep_r(bool on) override {
    if (on) throw InvalidInput("the distributed executor does not keep R (covariant vectors)");
  }
  std::vector<double> last_r_blocking() override {
    throw InvalidInput("the distributed executor does not keep R (covariant vectors)");
  }

 private:
  void add_logs(const std::vector<double>& log_diag) {
    for (int i = 0; i < k_; ++i) {
      logs_[i] += log_diag[i];
      const double ratio = log_diag[0] - log_diag[i];
      if (std::isfinite(ratio)) max_ratio_[i] = std::max(max_ratio_[i], ratio);
    }
  }

  void householder(T* q, bool accumulate) {
    ops_.geqrf(q);
    if (accumulate) {
      std::vector<double> d = ops_.r_abs_diagonal(q);
      for (double& v : d) v = std::log(v);
      add_logs(d);
    }
    ops_.orgqr(q);
  }

  // CholeskyQR2 with `auto`'s one-pass exit, as cpu::Orthonormalizer::cholesky_qr (both decide
  // with qr_policy::judge_pass): false, with Q as it was given, when it falls back.
  bool cholesky_qr(T* q, bool accumulate) {
    using detail::qr_policy::Pass;
    std::vector<double> diag1;
    for (int pass = 0; pass < 2; ++pass) {
      ops_.gram(q);
      const int info = ops_.potrf();
      const std::vector<double> d = ops_.gram_abs_diagonal();
      const Pass verdict = detail::qr_policy::judge_pass<T>(pass, info, d.data(), k_, one_pass_);
      if (verdict == Pass::fall_back) {
        if (pass == 1) ops_.restore(q);  // undo the first solve
        return false;
      }
      const bool last = verdict == Pass::last;
      if (!last) ops_.save(q);
      ops_.solve(q);
      if (pass == 0) {
        two_passes_ = !last;
        diag1 = d;
      }
      if (last) {
        if (accumulate) {
          std::vector<double> logd(static_cast<std::size_t>(k_));
          for (int i = 0; i < k_; ++i)
            logd[i] = pass == 0 ? std::log(d[i]) : std::log(diag1[i]) + std::log(d[i]);
          add_logs(logd);
        }
        return true;
      }
    }
    return true;
  }

  int k_;
  bool cholesky_, one_pass_, two_passes_ = false;
  Ops ops_;
  detail::qr_policy::FallbackSkip skip_;
  QrPaths paths_;
  std::vector<double> logs_, max_ratio_;
};

}  // namespace rnnlyap::distributed
