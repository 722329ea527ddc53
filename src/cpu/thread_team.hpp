// One run's CPU threads: a fixed team that takes each parallel step of the CPU executor (the
// tangent product by column blocks, CholeskyQR's Gram matrix and solve, Householder's trailing
// updates, the per-element loops), each member calling the single-threaded BLAS on its share.
// The BLAS library's own threading did worse at moderate N (bench/RESULTS.md, "Threads of our
// own"): its idle workers spin between calls, and the per-element loops and small LAPACK steps ran
// on one thread. A share depends only on the sizes and the team's size, so a run's results are the
// same for a given thread count, as they were with the BLAS threading.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace rnnlyap::cpu {

/// [begin, end) of part `p` of `parts` nearly equal shares of [0, n), the boundaries multiples of
/// `align` (the last share takes the remainder).
inline std::pair<int, int> share(int n, int parts, int p, int align = 1) {
  const auto bound = [&](int i) {
    if (i >= parts) return n;
    const long long b = static_cast<long long>(n) * i / parts;
    return std::min(n, static_cast<int>((b + align / 2) / align * align));
  };
  return {bound(p), bound(p + 1)};
}

/// Like share(), for work that grows as the square of the index (the columns of a triangle):
/// boundaries at n·√(p/parts).
inline std::pair<int, int> triangle_share(int n, int parts, int p, int align = 1) {
  const auto bound = [&](int i) {
    if (i >= parts) return n;
    const double b = n * std::sqrt(static_cast<double>(i) / parts);
    return std::min(n, static_cast<int>(std::lround(b / align)) * align);
  };
  return {bound(p), bound(p + 1)};
}

class ThreadTeam {
 public:
  /// A team of `size` (≥ 1): the caller and size − 1 threads started here. If a thread cannot be
  /// started, the team is as large as the threads that were.
  explicit ThreadTeam(int size);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// fn(p) for every p < size(), p = 0 on the calling thread; returns when all are done and
  /// rethrows an exception one of them threw (the first to be caught). Not re-entrant: fn must
  /// not call run() on the same team (std::logic_error).
  template <class F>
  void run(F&& fn) {
    if (workers_.empty()) {
      fn(0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_erased(const_cast<void*>(static_cast<const void*>(&fn)),
               [](void* f, int p) { (*static_cast<Fn*>(f))(p); });
  }

 private:
  using Call = void (*)(void*, int);
  void run_erased(void* fn, Call call);
  void work(int p);
  void call_catching(int p);

  std::vector<std::thread> workers_;
  void* fn_ = nullptr;
  Call call_ = nullptr;
  bool running_ = false;  // inside run(): a part that called run() again would clobber fn_
  // What the workers spin on, and what the caller spins on, each on a cache line of its own.
  alignas(64) std::atomic<unsigned> generation_{0};  // one more for every run()
  alignas(64) std::atomic<int> pending_{0};          // workers still running the current fn
  std::atomic<bool> stop_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

/// The team when there is one of two or more, else nullptr: what the parallel steps test.
inline ThreadTeam* parallel(ThreadTeam* team) {
  return team != nullptr && team->size() > 1 ? team : nullptr;
}

}  // namespace rnnlyap::cpu
