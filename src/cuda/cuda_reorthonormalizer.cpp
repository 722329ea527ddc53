// Re-orthonormalisation of B tangent bases on the GPU (the CPU's counterpart is
// src/cpu/orthonormalize.hpp, whose rules and constants these are):
//   householder: B = 1, or bases of more than kMaxBatchedRows rows: cuSOLVER geqrf + orgqr per
//     member; otherwise cublas<t>geqrfBatched and our own kernel forming Q (kernels::form_q).
//   cholesky2 / auto: CholeskyQR2 (Fukaya et al., ScalA 2014) batched over the members: Gram
//     matrices QᵀQ in one strided-batched GEMM, Cholesky (potrfBatched), a verdict per member,
//     Q ← Q R₁⁻¹ (trsmBatched), and for the members that need it a second pass; log|R_ii| = log
//     R₁_ii + log R₂_ii. A member falls back to Householder (per member, Q untouched by the solve:
//     its R is replaced by the identity) when its first Cholesky fails (devInfo, or a diagonal
//     that is not finite) or max/min diag R₁ exceeds kMaxCond; `auto` stops after one pass when
//     that ratio is at most kOnePassCond (orthogonality error ≈ κ²ε, κ ≥ the ratio). A member whose
//     second Cholesky fails likewise falls back, on its basis as it was before the first solve (the
//     batch is saved before that solve). After a fallback, the member's next re-orthonormalisations
//     go straight to Householder (FallbackSkip, core/qr_policy.hpp: 15, doubling while it keeps
//     falling back).
// Each member's R (Q_before = Q_after R) is kept for last_r_blocking(): geqrf's upper triangle is
// copied out before Q is formed; CholeskyQR's first factor is copied after the verdicts, and after
// a second pass R = R₂R₁ is formed on the host when it is read (the second factor of a member
// without a second pass is the identity there).
// The host waits for the device once per CholeskyQR re-orthonormalisation, for the B verdicts
// (which members need Householder, and whether any needs a second pass): one event, after which
// the first solve is already queued; when a second pass runs it waits once more, for that pass's
// verdicts (which members fall back after all), the second solve already queued. cuSOLVER's
// devInfo words of geqrf and orgqr stay on the device in sticky words that
// take_logs_blocking() reads back with the logs and turns into VendorError.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/qr_policy.hpp"
#include "cuda_common.hpp"
#include "cuda_linalg.hpp"
#include "kernels.hpp"

namespace rnnlyap::cuda {
namespace {

// The CPU's rules (core/qr_policy.hpp): when CholeskyQR falls back, when one pass suffices, and
// how long a member stays on Householder after a fallback.
using detail::qr_policy::FallbackSkip;
// Batched Householder QR (one block per member forms Q) up to this many rows. Beyond it each
// member takes cuSOLVER geqrf + orgqr (4 launches with the logs' kernel): cuBLAS's geqrfBatched
// has no size limit, but forming Q has no batched library call (no orgqrBatched) and our kernel
// holds a member's columns in one block, and geqrfBatched is documented for small matrices. With
// more than 256 rows a member's QR is large enough that its own launches matter little.
constexpr int kMaxBatchedRows = 256;
// cuSOLVER's potrfBatched and cuBLAS's trsmBatched have no documented size limit, but are made
// for small matrices (cuBLAS: "for bigger sizes, it might be advantageous to call batchCount times
// the regular trsm"; others found the batched solve impractically slow beyond 32 x 32): beyond
// this k, one potrf and one trsm per member, each a large-matrix routine that fills the GPU. The
// threshold is a performance choice to measure on a GPU (bench/), not a correctness limit.
constexpr int kMaxBatchedCholesky = 64;

// Status words on the device, then four per member: the first and second potrf's info, the
// verdict and the second pass's verdict. (kStickyPotrf is no longer set: a failed second pass
// falls back.)
enum Slot : int { kInfoGeqrf, kInfoOrgqr, kStickyGeqrf, kStickyOrgqr, kStickyPotrf, kSlots };

using kernels::Verdict;

// The layout every path shares, and its device bytes.
template <class T>
struct Plan {
  Plan(const Context& ctx, int batch_, int rows_, int k_, QrMethod method, T* probe)
      : batch(batch_),
        rows(rows_),
        k(k_),
        cholesky(method != QrMethod::householder),
        one_pass(method == QrMethod::auto_select),
        batched_householder(batch_ > 1 && rows_ <= kMaxBatchedRows),
        batched_cholesky(cholesky && batch_ > 1 && k_ <= kMaxBatchedCholesky) {
    // cuSOLVER geqrf/orgqr run per member unless batched Householder QR covers every step; potrf
    // needs a workspace only per member.
    if (!batched_householder || cholesky) {
      int ws = 0;
      if (la::workspace(ctx.solver(), rows, k, cholesky && !batched_cholesky, probe, probe, ws) !=
          CUSOLVER_STATUS_SUCCESS)
        ws = static_cast<int>(std::min<std::size_t>(sat_mul(rows + std::size_t(k), 256), 1 << 30));
      lwork = ws;
    }
  }
  // The device buffers of the re-orthonormalizer, each rounded up to the allocation granularity:
  // tau, the workspace, the logs, the status words, the pointer arrays, cuSOLVER's probe while it
  // is made; with CholeskyQR the Gram matrices, diag R₁ and diag R₂, the saved bases (B rows k)
  // and, for potrfBatched, an allowance of the Gram matrices' size again for its internal
  // scratch (no query reports it; what it keeps beyond that is the libraries' own,
  // kLibraryReserve); with keep_r the R factors (B k²).
  std::size_t bytes(bool keep_r) const {
    const std::size_t b = static_cast<std::size_t>(batch), bk = b * static_cast<std::size_t>(k);
    const std::size_t bkk = sat_mul(bk, static_cast<std::size_t>(k));
    std::size_t elems = sat_add(bk, static_cast<std::size_t>(lwork));  // tau, workspace
    if (cholesky) elems = sat_add(elems, bkk);                         // Gram
    if (cholesky) elems = sat_add(elems, sat_mul(bk, static_cast<std::size_t>(rows)));  // saved
    if (batched_cholesky) elems = sat_add(elems, bkk);  // potrfBatched's scratch
    if (keep_r) elems = sat_add(elems, bkk);            // R
    std::size_t out = sat_mul(elems, sizeof(T));
    // logs, their maxima, diag R₁, R₂
    out = sat_add(out, sat_mul(bk, sizeof(double) * (cholesky ? 4 : 2)));
    out = sat_add(out, (kSlots + 4 * b) * sizeof(int));
    out = sat_add(out, 3 * b * sizeof(T*));
    const std::size_t buffers = 7 + (cholesky ? 4 : 0) + (keep_r ? 1 : 0);
    return sat_add(out, buffers * kAllocationGranularity);
  }
  int batch, rows, k;
  bool cholesky, one_pass, batched_householder, batched_cholesky;
  int lwork = 0;
};

template <class T>
class CudaReorthonormalizer final : public detail::Reorthonormalizer<T> {
 public:
  CudaReorthonormalizer(const Context& ctx, const Plan<T>& plan)
      : ctx_(ctx),
        p_(plan),
        logs_(block(p_.k)),
        max_ratio_(block(p_.k)),
        status_(kSlots + 4 * block(1)),
        tau_(block(p_.k)),
        work_(static_cast<std::size_t>(p_.lwork)),
        paths_(static_cast<std::size_t>(p_.batch)) {
    zero(logs_);
    zero(max_ratio_);
    zero(status_);
    if (p_.batch > 1) {
      ptrs_ = DeviceBuffer<T*>(3 * block(1));
      kernels::pointers(p_.batch, tau_.get(), p_.k, ptrs(1), ctx_.stream());
    }
    if (!p_.cholesky) return;
    gram_ = DeviceBuffer<T>(block(static_cast<std::size_t>(p_.k) * p_.k));
    diag1_ = DeviceBuffer<double>(block(p_.k));
    diag2_ = DeviceBuffer<double>(block(p_.k));
    saved_ = DeviceBuffer<T>(block(static_cast<std::size_t>(p_.rows) * p_.k));
    verdicts_ = PinnedBuffer<int>(block(2));
    skip_.assign(block(1), FallbackSkip{});
    if (p_.batch > 1)
      kernels::pointers(p_.batch, gram_.get(), static_cast<long long>(p_.k) * p_.k, ptrs(2),
                        ctx_.stream());
  }
  ~CudaReorthonormalizer() override { ctx_.quiesce(); }  // before the buffers go

  void reorthonormalize(T* q, bool accumulate) override {
    ctx_.use();
    if (p_.batch > 1) kernels::pointers(p_.batch, q, member(q, 1) - q, ptrs(0), ctx_.stream());
    two_pass_ = false;
    if (!p_.cholesky || !cholesky_qr(q, accumulate)) {
      householder_all(q, accumulate);
      for (QrPaths& p : paths_) ++p.householder;
    }
  }

  // R is kept only for covariant vectors: its buffer (B k², in the memory plan of a run placed
  // with keep_r) is allocated when first asked for. Turning it on forgets any earlier R: until the
  // next re-orthonormalisation R reads as zeros (as on the CPU), never as the factors of one that
  // ran while R was not kept.
  void keep_r(bool on) override {
    ctx_.use();
    if (on && !keep_) {
      if (r1_.size() == 0) r1_ = DeviceBuffer<T>(block(static_cast<std::size_t>(p_.k) * p_.k));
      zero(r1_);
      two_pass_ = false;
    }
    keep_ = on;
  }

  std::vector<double> last_r_blocking() override {
    ctx_.use();
    if (!keep_)
      throw Error(
          "last_r_blocking: R is not being kept (call keep_r(true) before re-orthonormalising)");
    const std::size_t k = static_cast<std::size_t>(p_.k), kk = k * k;
    std::vector<T> r1(r1_.size()), r2(two_pass_ ? r1_.size() : 0);
    RNNLYAP_CUDA_CHECK(
        cudaMemcpyAsync(r1.data(), r1_.get(), r1_.bytes(), cudaMemcpyDeviceToHost, ctx_.stream()));
    if (two_pass_)
      RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(r2.data(), gram_.get(), r1_.bytes(),
                                         cudaMemcpyDeviceToHost, ctx_.stream()));
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));
    std::vector<double> out(r1.size(), 0.0);
    for (std::size_t b = 0; b < static_cast<std::size_t>(p_.batch); ++b)
      for (std::size_t j = 0; j < k; ++j)
        for (std::size_t i = 0; i <= j; ++i) {
          const std::size_t at = b * kk + j * k + i;
          if (!two_pass_) {
            out[at] = static_cast<double>(r1[at]);
            continue;
          }
          double sum = 0;  // (R₂R₁)_ij over the upper triangles
          for (std::size_t l = i; l <= j; ++l)
            sum += static_cast<double>(r2[b * kk + l * k + i]) *
                   static_cast<double>(r1[b * kk + j * k + l]);
          out[at] = sum;
        }
    return out;
  }

  // The maxima start at 0 (log|R_11/R_11|), which a memset can write: a ratio below 0 never
  // matters to the condition it measures.
  detail::LogSums take_logs_blocking() override {
    ctx_.use();
    detail::LogSums out{std::vector<double>(logs_.size()), std::vector<double>(logs_.size()),
                        std::vector<QrPaths>(paths_.size())};
    std::swap(out.paths, paths_);
    int sticky[3] = {0, 0, 0};
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(out.sums.data(), logs_.get(), logs_.bytes(),
                                       cudaMemcpyDeviceToHost, ctx_.stream()));
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(out.max_ratio.data(), max_ratio_.get(), max_ratio_.bytes(),
                                       cudaMemcpyDeviceToHost, ctx_.stream()));
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(sticky, status_.get() + kStickyGeqrf, sizeof sticky,
                                       cudaMemcpyDeviceToHost, ctx_.stream()));
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));
    zero(logs_);
    zero(max_ratio_);
    RNNLYAP_CUDA_CHECK(
        cudaMemsetAsync(slot(kStickyGeqrf), 0, sizeof sticky, ctx_.stream()));  // reported once
    const char* what[3] = {"cuSOLVER cusolverDn<t>geqrf", "cuSOLVER cusolverDn<t>orgqr",
                           "cuSOLVER cusolverDn<t>potrf"};
    for (int i = 0; i < 3; ++i)
      if (sticky[i] != 0)
        throw VendorError(what[i], sticky[i],
                          i < 2 ? "devInfo: illegal argument (checked lazily)"
                                : "devInfo: second CholeskyQR pass not positive definite",
                          __FILE__, __LINE__);
    return out;
  }

 private:
  std::size_t block(std::size_t per_member) const { return per_member * p_.batch; }
  T* member(T* base, int b) const {
    return base + static_cast<std::size_t>(b) * p_.rows * static_cast<std::size_t>(p_.k);
  }
  // The pointer arrays: 0 the bases, 1 tau, 2 the Gram blocks.
  T** ptrs(int which) const { return ptrs_.get() + block(static_cast<std::size_t>(which)); }
  int* slot(int s) const { return status_.get() + s; }
  // Per-member words: which 0 the first potrf's info, 1 the second's, 2 the verdicts, 3 the
  // second pass's verdicts.
  int* per_member(int which) const { return slot(kSlots) + block(static_cast<std::size_t>(which)); }
  template <class U>
  void zero(DeviceBuffer<U>& buf) const {
    if (buf.size() != 0)
      RNNLYAP_CUDA_CHECK(cudaMemsetAsync(buf.get(), 0, buf.bytes(), ctx_.stream()));
  }

  void householder_all(T* q, bool accumulate) {
    if (!p_.batched_householder) {
      for (int b = 0; b < p_.batch; ++b) householder(q, b, accumulate);
      return;
    }
    la::geqrf_batched(ctx_.blas(), p_.rows, p_.k, ptrs(0), ptrs(1), p_.batch);
    keep_r(q, 0, p_.batch);
    kernels::householder_logs(p_.batch, p_.rows, p_.k, q, accumulate, logs_.get(), max_ratio_.get(),
                              nullptr, nullptr, ctx_.stream());
    kernels::form_q(p_.batch, p_.rows, p_.k, q, tau_.get(), ctx_.stream());
  }

  // cuSOLVER geqrf + orgqr of member b, log|R_ii| from geqrf's diagonal.
  void householder(T* q, int b, bool accumulate) {
    T* qb = member(q, b);
    T* tau = tau_.get() + static_cast<std::size_t>(b) * p_.k;
    const cudaStream_t s = ctx_.stream();
    la::geqrf(ctx_.solver(), p_.rows, p_.k, qb, tau, work_.get(), p_.lwork, slot(kInfoGeqrf));
    keep_r(q, b, 1);
    const std::size_t o = static_cast<std::size_t>(b) * p_.k;
    kernels::householder_logs(1, p_.rows, p_.k, qb, accumulate, logs_.get() + o,
                              max_ratio_.get() + o, slot(kInfoGeqrf), slot(kStickyGeqrf), s);
    la::orgqr(ctx_.solver(), p_.rows, p_.k, qb, tau, work_.get(), p_.lwork, slot(kInfoOrgqr));
    kernels::record_info(slot(kInfoOrgqr), slot(kStickyOrgqr), s);
  }

  // The top k×k blocks of members first … first + count − 1 of q (geqrf's R above the diagonal)
  // into their blocks of r1_: the members' columns one after another form one matrix of
  // leading dimension rows.
  void keep_r(const T* q, int first, int count) {
    if (!keep_) return;
    const std::size_t k = static_cast<std::size_t>(p_.k);
    RNNLYAP_CUDA_CHECK(cudaMemcpy2DAsync(
        r1_.get() + static_cast<std::size_t>(first) * k * k, k * sizeof(T),
        q + static_cast<std::size_t>(first) * p_.rows * k,
        static_cast<std::size_t>(p_.rows) * sizeof(T), k * sizeof(T),
        static_cast<std::size_t>(count) * k, cudaMemcpyDeviceToDevice, ctx_.stream()));
  }

  // One CholeskyQR pass's Gram matrices and Cholesky factors (info: 0 first pass, 1 second).
  void gram_and_factor(T* q, int info) {
    const long long rk = static_cast<long long>(p_.rows) * p_.k,
                    kk = static_cast<long long>(p_.k) * p_.k;
    la::gemm(ctx_.blas(), CUBLAS_OP_T, p_.k, p_.k, p_.rows, T(1), q, p_.rows, rk, q, p_.rows, rk,
             T(0), gram_.get(), p_.k, kk, p_.batch);
    if (p_.batched_cholesky) {
      la::potrf_batched(ctx_.solver(), p_.k, ptrs(2), per_member(info), p_.batch);
      return;
    }
    for (int b = 0; b < p_.batch; ++b)
      la::potrf(ctx_.solver(), p_.k, gram_.get() + static_cast<std::size_t>(b) * kk, work_.get(),
                p_.lwork, per_member(info) + b);
  }
  // Q ← Q R⁻¹ for every member.
  void solve(T* q) {
    if (p_.batched_cholesky) {
      la::trsm_batched(ctx_.blas(), p_.rows, p_.k, ptrs(2), ptrs(0), p_.batch);
      return;
    }
    const std::size_t kk = static_cast<std::size_t>(p_.k) * p_.k;
    for (int b = 0; b < p_.batch; ++b)
      la::trsm(ctx_.blas(), p_.rows, p_.k, gram_.get() + b * kk, member(q, b));
  }

  // CholeskyQR for the members not skipping it, Householder for the others. False, doing
  // nothing, when every member skips it.
  bool cholesky_qr(T* q, bool accumulate) {
    int* verdict = verdicts_.get();
    bool any = false;
    for (int b = 0; b < p_.batch; ++b) {
      verdict[b] = skip_[b].skip_now() ? kernels::kSkipped : kernels::kTwoPasses;
      any = any || verdict[b] != kernels::kSkipped;
    }
    if (!any) return false;
    const cudaStream_t s = ctx_.stream();
    const std::size_t vbytes = block(sizeof(int));
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(per_member(2), verdict, vbytes, cudaMemcpyHostToDevice, s));
    gram_and_factor(q, 0);
    const double one_pass = !p_.one_pass ? 0 : detail::qr_policy::one_pass_cond<T>;
    kernels::cholesky_check(p_.batch, p_.k, gram_.get(), per_member(0),
                            detail::qr_policy::max_cond<T>, one_pass, diag1_.get(), per_member(2),
                            s);
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(verdict, per_member(2), vbytes, cudaMemcpyDeviceToHost, s));
    RNNLYAP_CUDA_CHECK(cudaEventRecord(verdicts_ready_.get(), s));
    // The bases as they were, for a member whose second pass fails.
    RNNLYAP_CUDA_CHECK(
        cudaMemcpyAsync(saved_.get(), q, saved_.bytes(), cudaMemcpyDeviceToDevice, s));
    solve(q);  // queued before the wait
    RNNLYAP_CUDA_CHECK(cudaEventSynchronize(verdicts_ready_.get()));
    const bool second = std::count(verdict, verdict + p_.batch, kernels::kTwoPasses) > 0;
    // R₁ (the identity for a member falling back; its Householder R replaces it below).
    if (keep_)
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(r1_.get(), gram_.get(), r1_.bytes(), cudaMemcpyDeviceToDevice, s));
    two_pass_ = second;
    // The second pass's verdicts: kTwoPasses (0), or kFallback when its Cholesky failed (devInfo
    // or a diagonal that is not finite) or its diagonal ratio exceeds kMaxSecondPassRatio (the
    // first pass left Q far from orthonormal: qr_policy.hpp), for the members taking it; kSkipped
    // for the others. They are the finish's `info`: nonzero for a member that falls back after all.
    int* verdict2 = verdict + p_.batch;
    if (second) {
      for (int b = 0; b < p_.batch; ++b)
        verdict2[b] = verdict[b] == kernels::kTwoPasses ? kernels::kTwoPasses : kernels::kSkipped;
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(per_member(3), verdict2, vbytes, cudaMemcpyHostToDevice, s));
      gram_and_factor(q, 1);
      kernels::cholesky_check(p_.batch, p_.k, gram_.get(), per_member(1),
                              detail::qr_policy::kMaxSecondPassRatio, 0.0, diag2_.get(),
                              per_member(3), s);
      RNNLYAP_CUDA_CHECK(
          cudaMemcpyAsync(verdict2, per_member(3), vbytes, cudaMemcpyDeviceToHost, s));
      RNNLYAP_CUDA_CHECK(cudaEventRecord(second_verdicts_ready_.get(), s));
    }
    kernels::cholesky_finish(p_.batch, p_.k, gram_.get(), per_member(second ? 3 : 1), second,
                             per_member(2), diag1_.get(), accumulate, logs_.get(), max_ratio_.get(),
                             slot(kStickyPotrf), s);
    if (second) {
      solve(q);  // queued before the wait
      RNNLYAP_CUDA_CHECK(cudaEventSynchronize(second_verdicts_ready_.get()));
    }
    const std::size_t member_bytes = static_cast<std::size_t>(p_.rows) * p_.k * sizeof(T);
    for (int b = 0; b < p_.batch; ++b) {
      const bool second_failed =
          second && verdict[b] == kernels::kTwoPasses && verdict2[b] != kernels::kTwoPasses;
      if (second_failed)  // back to the basis as it was before the first solve
        RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(member(q, b), member(saved_.get(), b), member_bytes,
                                           cudaMemcpyDeviceToDevice, s));
      if (verdict[b] == kernels::kFallback || second_failed)
        skip_[b].fell_back();
      else if (verdict[b] != kernels::kSkipped)
        skip_[b].succeeded();
      if (verdict[b] == kernels::kFallback || verdict[b] == kernels::kSkipped || second_failed) {
        householder(q, b, accumulate);
        ++paths_[b].householder;
      } else {
        ++(verdict[b] == kernels::kTwoPasses ? paths_[b].cholesky_two_passes
                                             : paths_[b].cholesky_one_pass);
      }
    }
    return true;
  }

  const Context& ctx_;
  Plan<T> p_;
  DeviceBuffer<double> logs_;
  DeviceBuffer<double> max_ratio_;  // LogSums::max_ratio, from 0
  DeviceBuffer<int> status_;
  DeviceBuffer<T> tau_, work_, gram_;
  DeviceBuffer<T> r1_;  // the last R, or its first CholeskyQR factor (two_pass_); with keep_
  bool keep_ = false;
  bool two_pass_ = false;  // the last re-orthonormalisation's R is R₂ (in gram_) times r1_
  DeviceBuffer<T*> ptrs_;
  DeviceBuffer<double> diag1_, diag2_;
  DeviceBuffer<T> saved_;       // the bases before the first solve (CholeskyQR)
  PinnedBuffer<int> verdicts_;  // the host's copy of the verdicts, then of the second pass's
  Event verdicts_ready_, second_verdicts_ready_;
  std::vector<FallbackSkip> skip_;  // per member: CholeskyQR skipped after a fallback
  std::vector<QrPaths> paths_;      // per member: the paths taken since the last take
};

}  // namespace

template <class T>
std::size_t reorthonormalizer_bytes(const Context& ctx, int batch, int rows, int k, QrMethod method,
                                    bool keep_r) {
  return Plan<T>(ctx, batch, rows, k, method, nullptr).bytes(keep_r);
}

template <class T>
std::unique_ptr<detail::Reorthonormalizer<T>> make_reorthonormalizer(const Context& ctx, int batch,
                                                                     int rows, int k,
                                                                     QrMethod method) {
  ctx.use();
  DeviceBuffer<T> probe(1);  // a device pointer for cuSOLVER's workspace queries
  return std::make_unique<CudaReorthonormalizer<T>>(
      ctx, Plan<T>(ctx, batch, rows, k, method, probe.get()));
}

template std::size_t reorthonormalizer_bytes<float>(const Context&, int, int, int, QrMethod, bool);
template std::size_t reorthonormalizer_bytes<double>(const Context&, int, int, int, QrMethod, bool);
template std::unique_ptr<detail::Reorthonormalizer<float>> make_reorthonormalizer<float>(
    const Context&, int, int, int, QrMethod);
template std::unique_ptr<detail::Reorthonormalizer<double>> make_reorthonormalizer<double>(
    const Context&, int, int, int, QrMethod);

}  // namespace rnnlyap::cuda
