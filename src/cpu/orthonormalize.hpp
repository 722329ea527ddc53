// Re-orthonormalisation of a tangent basis on the CPU: Householder QR (LAPACK geqrf + orgqr), or
// CholeskyQR (two passes, or one where the first pass's condition allows it) with a Householder
// fallback. The rules and their constants are core/qr_policy.hpp's, the CUDA executor's too. With
// a team of threads (thread_team.hpp), CholeskyQR's steps are shared as triangular.hpp's overloads
// share them, and Householder runs by panels whose block-reflector updates are shared by columns
// (the panels themselves stay on the calling thread); on one thread, narrow bases run by panels
// too, where LAPACK's geqrf would run unblocked (by_panels).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/qr_policy.hpp"
#include "blas_lapack.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/options.hpp"
#include "thread_team.hpp"
#include "triangular.hpp"

namespace rnnlyap::cpu {

using detail::qr_policy::FallbackSkip;

/// The R of a member's last re-orthonormalisation, as the factorisation left it: r1 (Householder's
/// R, or CholeskyQR's first factor), times r2 on the left after a second CholeskyQR pass. Only the
/// upper triangles (k×k, column-major) are meaningful.
template <class T>
struct RFactors {
  std::vector<T> r1, r2;
  bool two_pass = false;

  /// R = r2 r1 (or r1): k×k upper triangular, column-major, zeros below the diagonal.
  std::vector<double> product(int k_int) const {
    const std::size_t k = static_cast<std::size_t>(k_int);
    std::vector<double> r(k * k, 0.0);
    if (r1.size() != k * k) return r;  // nothing factorised yet
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t i = 0; i <= j; ++i) {
        if (!two_pass) {
          r[j * k + i] = static_cast<double>(r1[j * k + i]);
          continue;
        }
        double s = 0;  // (R₂R₁)_ij = Σ_{i ≤ l ≤ j} R₂_il R₁_lj
        for (std::size_t l = i; l <= j; ++l)
          s += static_cast<double>(r2[l * k + i]) * static_cast<double>(r1[j * k + l]);
        r[j * k + i] = s;
      }
    return r;
  }
};

template <class T>
class Orthonormalizer {
 public:
  /// Householder by panels (factor_by_panels): with a team, and on one thread where LAPACK's
  /// geqrf runs unblocked (k below its crossover of 128) yet the basis is wide enough for block
  /// updates to pay (k ≥ kPanelsFrom). Panels are kNarrowPanel wide below k = 128, else kPanel
  /// (LAPACK's own block size for geqrf). On one thread against geqrf + orgqr: 100 × 100 2.1×,
  /// 1000 × 125 2.3× faster (bench/RESULTS.md, "Threads of our own").
  static constexpr int kPanel = 32, kNarrowPanel = 8, kPanelsFrom = 48, kLapackBlocked = 128;
  static constexpr double kShareWork = 1 << 17;  // 120 × 40 and larger bases are shared
  static int panel_width(int k) { return k < kLapackBlocked ? kNarrowPanel : kPanel; }
  static bool by_panels(int k, bool team) {
    return team || (k >= kPanelsFrom && k < kLapackBlocked);
  }

  /// Prepares for rows×k bases (LAPACK workspace query), the work shared over `team` if it has
  /// two or more threads.
  void resize(int rows, int k, QrMethod method, ThreadTeam* team = nullptr) {
    if (k < 1 || rows < k)
      throw Error("Orthonormalizer: a basis of " + std::to_string(rows) + " rows and " +
                  std::to_string(k) + " columns (k must be in [1, rows])");
    rows_ = rows;
    k_ = k;
    // A basis too small to pay for sharing (rows·k² multiply-adds per Gram matrix or solve) stays
    // on one thread: a team's fork and join costs microseconds.
    team_ = static_cast<double>(rows) * k * k > kShareWork ? parallel(team) : nullptr;
    panels_ = by_panels(k, team_ != nullptr);
    panel_ = panel_width(k);
    if (panels_) {
      tmat_.assign(static_cast<std::size_t>(panel_) * panel_, T(0));
      vfull_.assign(static_cast<std::size_t>(rows) * panel_, T(0));
      team_work_.assign(static_cast<std::size_t>(team_ ? team_->size() : 1) * 2 * k * panel_, T(0));
    }
    cholesky_ = method != QrMethod::householder;
    one_pass_ = method == QrMethod::auto_select;
    tau_.assign(k, T(0));
    diag_log_.assign(k, 0.0);
    diag1_.assign(k, 0.0);
    gram_.assign(cholesky_ ? static_cast<std::size_t>(k) * k : 0, T(0));
    saved_.reserve(cholesky_ ? static_cast<std::size_t>(rows) * k : 0);
    std::vector<T> probe(static_cast<std::size_t>(rows) * k);
    T q1 = 0, q2 = 0;
    int info = 0;
    geqrf(rows, k, probe.data(), rows, tau_.data(), &q1, -1, info);
    orgqr(rows, k, k, probe.data(), rows, tau_.data(), &q2, -1, info);
    work_.assign(static_cast<std::size_t>(std::max(q1, q2)) + 1, T(0));
  }

  /// Q (rows×k, leading dimension rows) ← Q' with Q = Q'R; when accumulate, adds log|R_ii| to
  /// logs[0..k) and raises max_ratio[0..k) to log|R_11| − log|R_ii| where that is finite (see
  /// LogSums, core/executor.hpp); keeps R's factors in `r`. `skip` is the member's skip of
  /// CholeskyQR after a fallback (qr_policy.hpp).
  void apply(T* q, bool accumulate, double* logs, double* max_ratio, FallbackSkip& skip,
             RFactors<T>* r, QrPaths& paths) {
    logs_ = logs;
    max_ratio_ = max_ratio;
    if (cholesky_ && !skip.skip_now()) {
      if (cholesky_qr(q, accumulate, r)) {
        skip.succeeded();
        ++(two_passes_ ? paths.cholesky_two_passes : paths.cholesky_one_pass);
        return;
      }
      skip.fell_back();
    }
    householder(q, accumulate, r);
    ++paths.householder;
  }

 private:
  // logs += log|R_ii| (diag_log_), and the maxima of log|R_11| − log|R_ii|: a difference that is
  // not finite (R_ii or R_11 exactly zero: a singular map, exact; NaN: check_logs' business) is
  // left out. The CUDA kernels (qr_kernels.cu) do the same.
  void add_logs() {
    const double first = diag_log_[0];
    for (int i = 0; i < k_; ++i) {
      logs_[i] += diag_log_[i];
      const double ratio = first - diag_log_[i];
      if (std::isfinite(ratio)) max_ratio_[i] = std::max(max_ratio_[i], ratio);
    }
  }

  // The upper triangle of the k×k (leading dimension ld) `a` into `r` (ld k).
  void keep_upper(const T* a, int ld, std::vector<T>* r) const {
    if (!r) return;  // R not kept
    r->resize(static_cast<std::size_t>(k_) * k_);
    for (int j = 0; j < k_; ++j)
      for (int i = 0; i <= j; ++i)
        (*r)[static_cast<std::size_t>(j) * k_ + i] = a[static_cast<std::size_t>(j) * ld + i];
  }

  void householder(T* q, bool accumulate, RFactors<T>* r) {
    int info = 0;
    const int lwork = static_cast<int>(work_.size());
    if (panels_)
      factor_by_panels(q);
    else
      geqrf(rows_, k_, q, rows_, tau_.data(), work_.data(), lwork, info);
    if (info != 0) throw VendorError("LAPACK geqrf", info, "illegal argument", __FILE__, __LINE__);
    if (r) {
      keep_upper(q, rows_, &r->r1);
      r->two_pass = false;
    }
    if (accumulate) {
      for (int i = 0; i < k_; ++i)
        diag_log_[i] =
            std::log(std::fabs(static_cast<double>(q[static_cast<std::size_t>(i) * rows_ + i])));
      add_logs();
    }
    if (panels_)
      form_q_by_panels(q);
    else
      orgqr(rows_, k_, k_, q, rows_, tau_.data(), work_.data(), lwork, info);
    if (info != 0) throw VendorError("LAPACK orgqr", info, "illegal argument", __FILE__, __LINE__);
  }

  static std::size_t at(int row, int col, int ld) { return triangular_detail::at(row, col, ld); }

  // C ← H C or HᵀC for the block reflector H = I − VTVᵀ of the panel at (j, j), jb wide, on the
  // columns [j + jb, k_) of rows [j, rows_), shared by column blocks over the team if there is
  // one. LAPACK's larfb does this with triangular products (trmm), which OpenBLAS serves from
  // buffers behind a process-wide lock that ensembles' threads then wait on; here V (unit lower
  // trapezoidal) and T (upper triangular) are written out whole once per panel, so that the three
  // products are gemms: W = VᵀC, W ← TW (or TᵀW), C −= VW. The same flops, but for the triangles'
  // zeros (jb² of m·jb).
  void apply_panel(char trans, T* q, int j, int jb) {
    const int rest = k_ - j - jb, m = rows_ - j;
    if (rest <= 0) return;
    T* v = vfull_.data();
    T* t = tmat_.data();
    larft(m, jb, q + at(j, j, rows_), rows_, tau_.data() + j, t, jb);
    for (int c = 0; c < jb; ++c) {
      std::fill(t + at(c + 1, c, jb), t + at(jb, c, jb), T(0));
      std::fill(v + at(0, c, m), v + at(c, c, m), T(0));
      v[at(c, c, m)] = T(1);
      std::copy(q + at(j + c + 1, j + c, rows_), q + at(rows_, j + c, rows_), v + at(c + 1, c, m));
    }
    const auto update = [&](int p, int c0, int c1) {
      if (c1 <= c0) return;
      const int n = c1 - c0;
      T* c = q + at(j, j + jb + c0, rows_);
      T* w = team_work_.data() + static_cast<std::size_t>(p) * 2 * k_ * panel_;
      T* tw = w + static_cast<std::size_t>(k_) * panel_;
      gemm('T', 'N', jb, n, m, T(1), v, m, c, rows_, T(0), w, jb);
      gemm(trans == 'T' ? 'T' : 'N', 'N', jb, n, jb, T(1), t, jb, w, jb, T(0), tw, jb);
      gemm('N', 'N', m, n, jb, T(-1), v, m, tw, jb, T(1), c, rows_);
    };
    if (!team_) return update(0, 0, rest);
    team_->run([&](int p) {
      const auto [c0, c1] = share(rest, team_->size(), p, 8);
      update(p, c0, c1);
    });
  }

  // geqrf by panels (the panel by LAPACK's unblocked code, on this thread; the update of the
  // columns to its right by block reflector, shared over the team if there is one).
  void factor_by_panels(T* q) {
    int info = 0;
    for (int j = 0; j < k_; j += panel_) {
      const int jb = std::min(panel_, k_ - j);
      geqrf(rows_ - j, jb, q + at(j, j, rows_), rows_, tau_.data() + j, work_.data(),
            static_cast<int>(work_.size()), info);
      if (info != 0)
        throw VendorError("LAPACK geqrf", info, "illegal argument", __FILE__, __LINE__);
      apply_panel('T', q, j, jb);
    }
  }

  // orgqr by the same panels, last to first: each panel's reflectors applied to the columns
  // already formed to its right (shared over the team), then its own columns formed (LAPACK's
  // orgqr on the panel) with zeros above them.
  void form_q_by_panels(T* q) {
    int info = 0;
    for (int j = (k_ - 1) / panel_ * panel_; j >= 0; j -= panel_) {
      const int jb = std::min(panel_, k_ - j);
      apply_panel('N', q, j, jb);
      orgqr(rows_ - j, jb, jb, q + at(j, j, rows_), rows_, tau_.data() + j, work_.data(),
            static_cast<int>(work_.size()), info);
      if (info != 0)
        throw VendorError("LAPACK orgqr", info, "illegal argument", __FILE__, __LINE__);
      for (int c = j; c < j + jb; ++c) std::fill(q + at(0, c, rows_), q + at(j, c, rows_), T(0));
    }
  }

  // CholeskyQR2 (Fukaya et al., "CholeskyQR2: a simple and communication-avoiding algorithm for
  // computing a tall-skinny QR factorization", 2014): Q ← Q R₁⁻¹, then once more; R = R₂R₁.
  // Returns false, leaving Q as it was given, when either pass's Cholesky factorisation fails
  // (potrf's info, or a diagonal that is not finite: some LAPACKs return info 0 on a Gram matrix
  // that overflowed) or the first factor shows Q too ill-conditioned (cond > ~1/√ε loses
  // orthogonality); before the first solve of a member that may take a second pass, Q is saved
  // so that a failing second pass can restore it. With one_pass_ (`auto`), a first factor whose
  // diagonal ratio is ≤ kOnePassCond ends it after one pass: the orthogonality error is then about
  // κ²ε, κ ≥ that ratio (README, "Precision and QR": the exponents stay within ~1e-11 of
  // Householder's).
  bool cholesky_qr(T* q, bool accumulate, RFactors<T>* r) {
    using detail::qr_policy::Pass;
    const std::size_t size = static_cast<std::size_t>(rows_) * k_;
    for (int pass = 0; pass < 2; ++pass) {
      syrk_t(k_, rows_, T(1), q, rows_, T(0), gram_.data(), k_, team_);
      const int info = cholesky_upper(k_, gram_.data(), k_, team_);
      // |diag R| of this pass: diag R₁ kept for the logs; R₂'s in diag_log_, made logs below.
      double* d = pass == 0 ? diag1_.data() : diag_log_.data();
      for (int i = 0; i < k_; ++i)
        d[i] = std::fabs(static_cast<double>(gram_[static_cast<std::size_t>(i) * k_ + i]));
      const Pass verdict = detail::qr_policy::judge_pass<T>(pass, info, d, k_, one_pass_);
      if (verdict == Pass::fall_back) {
        if (pass == 1) std::copy(saved_.begin(), saved_.end(), q);  // undo the first solve
        return false;
      }
      if (pass == 1)
        for (int i = 0; i < k_; ++i) diag_log_[i] = std::log(diag1_[i]) + std::log(diag_log_[i]);
      if (pass == 1 && accumulate) add_logs();
      if (r) {
        keep_upper(gram_.data(), k_, pass == 0 ? &r->r1 : &r->r2);
        r->two_pass = pass == 1;
      }
      const bool last = verdict == Pass::last;
      if (!last) saved_.assign(q, q + size);
      solve_right_upper(rows_, k_, gram_.data(), k_, q, rows_, team_);
      if (pass == 0) two_passes_ = !last;
      if (pass == 0 && last) {
        if (accumulate) {
          for (int i = 0; i < k_; ++i) diag_log_[i] = std::log(diag1_[i]);
          add_logs();
        }
        return true;
      }
    }
    return true;
  }

  int rows_ = 0, k_ = 0;
  bool cholesky_ = false, one_pass_ = false;
  bool two_passes_ = false;     // the last CholeskyQR took a second pass
  ThreadTeam* team_ = nullptr;  // two or more threads, or none
  bool panels_ = false;         // Householder by panels (by_panels), panel_ wide
  int panel_ = kPanel;
  std::vector<T> tau_, work_, gram_;
  std::vector<T> tmat_, vfull_;   // with panels: a panel's T and V, written out whole
  std::vector<T> team_work_;      // with panels: each thread's W and TW (2·k·panel_)
  std::vector<T> saved_;          // Q before the first solve, while a second pass may fail
  std::vector<double> diag_log_;  // log|R_ii| of the current re-orthonormalisation
  std::vector<double> diag1_;     // |diag R₁| of the current CholeskyQR
  double* logs_ = nullptr;        // the member's sums and maxima (apply's arguments)
  double* max_ratio_ = nullptr;
};

}  // namespace rnnlyap::cpu
