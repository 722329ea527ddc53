// The rules of CholeskyQR with a Householder fallback, shared by every executor's
// re-orthonormaliser (src/cpu/orthonormalize.hpp, src/cuda/cuda_reorthonormalizer.cpp), so that
// the backends switch and fall back at the same conditions.
#pragma once

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

/// kMaxCond in working precision T.
template <class T>
inline constexpr double max_cond = std::is_same_v<T, double> ? kMaxCondFp64 : kMaxCondFp32;
/// kOnePassCond in working precision T.
template <class T>
inline constexpr double one_pass_cond =
    std::is_same_v<T, double> ? kOnePassCondFp64 : kOnePassCondFp32;

}  // namespace rnnlyap::detail::qr_policy
