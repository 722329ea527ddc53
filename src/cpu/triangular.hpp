// The triangular steps of CholeskyQR on the CPU, recursive so that most of their flops run in
// gemm and syrk: the triangular solve B ← B R⁻¹ and the Cholesky factorisation A = RᵀR. The
// library routines (OpenBLAS's dtrsm, dpotrf) run these at about half the dgemm rate on one
// thread (bench/RESULTS.md, "CholeskyQR on the CPU"); splitting the triangle in two leaves a gemm
// (or syrk) of half the size for the coupling block and two triangles of half the size, down to
// blocks of kSolveBlock or kCholeskyBlock that the library's own routine takes. Same flops as the
// library's, the same results to rounding (a different grouping of the same sums). The overloads
// with a ThreadTeam share each step over its threads (thread_team.hpp): the solve by rows, the
// Cholesky factorisation's off-diagonal solve by columns and its update like the Gram matrix.
#pragma once

#include <cstddef>

#include "blas_lapack.hpp"
#include "thread_team.hpp"

namespace rnnlyap::cpu {

/// Below these orders the library's dtrsm (kSolveBlock) and dpotrf (kCholeskyBlock) take the
/// triangle: the best of 32, 64, 128 and 256 at N = 800 and 2000, one and two threads
/// (bench/RESULTS.md, "CholeskyQR on the CPU").
inline constexpr int kSolveBlock = 32, kCholeskyBlock = 64;

namespace triangular_detail {

// Where to split an order-n triangle: about half, a multiple of 16 (the BLAS's panel widths).
inline int split(int n) {
  const int half = (n / 2 + 15) / 16 * 16;
  return half < n ? half : n / 2;
}

inline std::size_t at(int row, int col, int ld) {
  return static_cast<std::size_t>(col) * static_cast<std::size_t>(ld) +
         static_cast<std::size_t>(row);
}

}  // namespace triangular_detail

/// B ← B R⁻¹: B m×k (leading dimension ldb), R k×k upper triangular (ldr), in place.
/// [X₁ X₂] [R₁₁ R₁₂; 0 R₂₂] = [B₁ B₂]: X₁ = B₁R₁₁⁻¹, then X₂ = (B₂ − X₁R₁₂)R₂₂⁻¹.
template <class T>
void solve_right_upper(int m, int k, const T* r, int ldr, T* b, int ldb) {
  using triangular_detail::at;
  if (k <= kSolveBlock) {
    trsm_right_upper(m, k, r, ldr, b, ldb);
    return;
  }
  const int k1 = triangular_detail::split(k), k2 = k - k1;
  solve_right_upper(m, k1, r, ldr, b, ldb);
  gemm('N', 'N', m, k2, k1, T(-1), b, ldb, r + at(0, k1, ldr), ldr, T(1), b + at(0, k1, ldb), ldb);
  solve_right_upper(m, k2, r + at(k1, k1, ldr), ldr, b + at(0, k1, ldb), ldb);
}

/// A ← R⁻ᵀA: A m×n (lda), R m×m upper triangular (ldr), in place (the off-diagonal block of a
/// Cholesky factorisation). [R₁₁ᵀ 0; R₁₂ᵀ R₂₂ᵀ] [X₁; X₂] = [A₁; A₂]: X₁ = R₁₁⁻ᵀA₁, then
/// X₂ = R₂₂⁻ᵀ(A₂ − R₁₂ᵀX₁).
template <class T>
void solve_left_upper_transposed(int m, int n, const T* r, int ldr, T* a, int lda) {
  using triangular_detail::at;
  if (m <= kSolveBlock) {
    trsm_left_upper_transposed(m, n, r, ldr, a, lda);
    return;
  }
  const int m1 = triangular_detail::split(m), m2 = m - m1;
  solve_left_upper_transposed(m1, n, r, ldr, a, lda);
  gemm('T', 'N', m2, n, m1, T(-1), r + at(0, m1, ldr), ldr, a, lda, T(1), a + m1, lda);
  solve_left_upper_transposed(m2, n, r + at(m1, m1, ldr), ldr, a + m1, lda);
}

/// C ← αAᵀA + βC in C's upper triangle, A m×n (lda), C n×n (ldc), shared over the team by
/// columns of C in equal parts of the triangle (each its diagonal block by syrk, the block above
/// it by gemm).
template <class T>
void syrk_t(int n, int m, T alpha, const T* a, int lda, T beta, T* c, int ldc, ThreadTeam* team) {
  using triangular_detail::at;
  if (!parallel(team)) {
    syrk_t(n, m, alpha, a, lda, beta, c, ldc);
    return;
  }
  team->run([&](int p) {
    const auto [c0, c1] = triangle_share(n, team->size(), p, 8);
    if (c1 <= c0) return;
    const T* ac = a + at(0, c0, lda);
    syrk_t(c1 - c0, m, alpha, ac, lda, beta, c + at(c0, c0, ldc), ldc);
    if (c0 > 0)
      gemm('T', 'N', c0, c1 - c0, m, alpha, a, lda, ac, lda, beta, c + at(0, c0, ldc), ldc);
  });
}

/// solve_right_upper with the rows of B shared over the team.
template <class T>
void solve_right_upper(int m, int k, const T* r, int ldr, T* b, int ldb, ThreadTeam* team) {
  if (!parallel(team)) {
    solve_right_upper(m, k, r, ldr, b, ldb);
    return;
  }
  team->run([&](int p) {
    const auto [r0, r1] = share(m, team->size(), p, 8);
    if (r1 > r0) solve_right_upper(r1 - r0, k, r, ldr, b + r0, ldb);
  });
}

/// A = RᵀR with R upper triangular, in A's upper triangle (the lower one is not read). Returns
/// LAPACK's info: 0, or the order of the leading minor that is not positive definite (A's upper
/// triangle then partly overwritten). With a team of two or more, each level above order
/// 2·kCholeskyBlock shares its off-diagonal solve (by columns) and its update (syrk_t above).
template <class T>
int cholesky_upper(int n, T* a, int lda, ThreadTeam* team = nullptr) {
  using triangular_detail::at;
  if (n <= kCholeskyBlock) {
    int info = 0;
    potrf_upper(n, a, lda, info);
    return info;
  }
  ThreadTeam* shared = n > 2 * kCholeskyBlock ? parallel(team) : nullptr;
  const int n1 = triangular_detail::split(n), n2 = n - n1;
  if (const int info = cholesky_upper(n1, a, lda, team); info != 0) return info;
  T* a12 = a + at(0, n1, lda);
  T* a22 = a + at(n1, n1, lda);
  if (!shared) {
    solve_left_upper_transposed(n1, n2, a, lda, a12, lda);  // R₁₂ = R₁₁⁻ᵀA₁₂
  } else {
    shared->run([&](int p) {
      const auto [c0, c1] = share(n2, shared->size(), p, 8);
      if (c1 > c0) solve_left_upper_transposed(n1, c1 - c0, a, lda, a12 + at(0, c0, lda), lda);
    });
  }
  syrk_t(n2, n1, T(-1), a12, lda, T(1), a22, lda, shared);  // A₂₂ − R₁₂ᵀR₁₂
  const int info = cholesky_upper(n2, a22, lda, team);
  return info == 0 ? 0 : n1 + info;
}

}  // namespace rnnlyap::cpu
