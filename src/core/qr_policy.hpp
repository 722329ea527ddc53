// The rules of CholeskyQR with a Householder fallback, shared by every executor's
// re-orthonormaliser (src/cpu/orthonormalize.hpp, src/cuda/cuda_reorthonormalizer.cpp), so that
// the backends switch and fall back at the same conditions.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace rnnlyap::detail::qr_policy {

/// CholeskyQR falls back to Householder when max/min diag(R₁) exceeds this (Yamamoto et al. 2015:
/// beyond cond ~ ε^(-1/2) one pass loses orthogonality).
inline constexpr double kMaxCondFp64 = 1e6, kMaxCondFp32 = 3e2;
/// `auto` stops after one CholeskyQR pass when max/min diag(R₁) is at most this. The ratio bounds
/// the basis's condition κ from below only (measured: κ 3–120 times the ratio on random networks),
/// so the orthogonality error, about κ²ε, can reach 1e-6; the exponents feel it only through the
/// column lengths and stay within ~1e-11 of Householder's (README, "Precision and QR").
inline constexpr double kOnePassCondFp64 = 1e3, kOnePassCondFp32 = 10;
/// The second pass falls back too when max/min diag(R₂) exceeds √3. R₂ᵀR₂ = Q₁ᵀQ₁ for the first
/// pass's Q₁ = A R₁⁻¹, so that ratio squared is at most (1 + δ)/(1 − δ) with δ = ‖Q₁ᵀQ₁ − I‖₂:
/// above √3, δ > 1/2 for certain, the basis was beyond CholeskyQR2's reach (κ(A)²u of order 1)
/// and its Q may be far from orthonormal although both factorisations succeeded. The first pass's
/// ratio bounds κ(A) from below only: a basis with unit-diagonal ill-conditioning (A = U D (I −
/// 2N), κ ≈ 3⁴⁰) passes it with a ratio of 34 in fp32 (8e3 in fp64), and then, with OpenBLAS
/// 0.3.21, for some seeds both factorisations succeeded, R₂'s ratio read about 3.4 and Q was up
/// to 0.5 from orthonormal, in fp32 and fp64 alike (tests/test_reorthonormalizer.cpp, "Ill-
/// conditioned beyond what the first factor shows").
inline constexpr double kMaxSecondPassRatio = 1.7320508075688772;
/// After a fallback, this many re-orthonormalisations of that member go straight to Householder;
/// when the first CholeskyQR tried after them falls back too, the next skip is twice as long, up
/// to kMaxSkipAfterFallback (a basis that stays ill-conditioned, as full LSTM spectra often do,
/// then pays a failed Cholesky once in 240 re-orthonormalisations, not once in 16). A CholeskyQR
/// that succeeds brings the skip back to kSkipAfterFallback.
inline constexpr int kSkipAfterFallback = 15, kMaxSkipAfterFallback = 240;

/// One member's skip (kSkipAfterFallback), kept by each executor's re-orthonormaliser.
class FallbackSkip {
 public:
  /// Whether this re-orthonormalisation goes straight to Householder (counted).
  bool skip_now() {
    if (remaining_ == 0) return false;
    --remaining_;
    return true;
  }
  /// CholeskyQR was tried and fell back (either pass).
  void fell_back() {
    remaining_ = next_;
    next_ = next_ * 2 > kMaxSkipAfterFallback ? kMaxSkipAfterFallback : next_ * 2;
  }
  /// CholeskyQR was tried and succeeded.
  void succeeded() { next_ = kSkipAfterFallback; }

 private:
  int remaining_ = 0, next_ = kSkipAfterFallback;
};

/// What one CholeskyQR pass's factor decides.
enum class Pass {
  fall_back,  ///< to Householder (a second pass that fails restores the basis it was given)
  last,       ///< this pass ends it
  another,    ///< a second pass follows
};

template <class T>
Pass judge_pass(int pass, int info, const double* abs_diag, int k, bool one_pass_allowed);

/// kMaxCond in working precision T.
template <class T>
inline constexpr double max_cond = std::is_same_v<T, double> ? kMaxCondFp64 : kMaxCondFp32;
/// kOnePassCond in working precision T.
template <class T>
inline constexpr double one_pass_cond =
    std::is_same_v<T, double> ? kOnePassCondFp64 : kOnePassCondFp32;

/// The verdict of pass `pass` (0 or 1) of CholeskyQR from its factorisation's info and |diag R|
/// of that pass (k values): fall back when the factorisation failed (info, or a diagonal that is
/// not finite: some LAPACKs return info 0 on a Gram matrix that overflowed) or, after the first
/// pass, when max/min diag exceeds max_cond, after the second when it exceeds kMaxSecondPassRatio;
/// else the second pass is the last, and so is the first under `auto` (one_pass_allowed) when
/// max/min diag is at most one_pass_cond. Host code of the CPU's and the distributed executor's
/// re-orthonormalisers; the CUDA kernel cholesky_check applies the same rules on the device.
template <class T>
Pass judge_pass(int pass, int info, const double* abs_diag, int k, bool one_pass_allowed) {
  double dmin = INFINITY, dmax = 0;
  bool finite = true;
  for (int i = 0; i < k; ++i) {
    finite = finite && std::isfinite(abs_diag[i]);
    dmin = std::min(dmin, abs_diag[i]);
    dmax = std::max(dmax, abs_diag[i]);
  }
  if (info != 0 || !finite) return Pass::fall_back;
  if (pass == 0 && !(dmax <= max_cond<T> * dmin)) return Pass::fall_back;
  if (pass == 1 && !(dmax <= kMaxSecondPassRatio * dmin)) return Pass::fall_back;
  return pass == 1 || (one_pass_allowed && dmax <= one_pass_cond<T> * dmin) ? Pass::last
                                                                            : Pass::another;
}

}  // namespace rnnlyap::detail::qr_policy
