// Independent runs spread over CPU threads (docs/design.md: the driver's scheduling, not a backend
// primitive). One run alone shares its steps over a thread team of the CPU executor's instead
// (src/cpu/thread_team.hpp); an executor made here, with the library at one thread, keeps none.
// Each thread takes whole runs with the BLAS library set to one thread: independent
// runs parallelise perfectly, one run's BLAS and LAPACK calls on small or square matrices do not
// (two BLAS threads made a 2N = 512 LSTM run only 1.3× faster on a 2-core machine;
// bench/RESULTS.md). A run's arithmetic is then that of a serial run with a single-threaded BLAS,
// bit for bit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "executor.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap::detail {

/// Most threads for independent runs (OpenBLAS keeps a fixed number of buffers for concurrent
/// callers).
constexpr int kMaxRunThreads = 16;

/// The BLAS library held at one thread while any run_in_threads, or any CPU executor of a run,
/// is active in this process (the Python module releases the GIL, so two may overlap): the first
/// to start saves the count, the last to finish restores it; every start sets one thread again.
/// A library whose count cannot be read (or is 1) is left alone.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    const std::lock_guard<std::mutex> lock(mutex());
    if (depth()++ == 0) saved() = cpu::blas_threads();
    if (saved() > 1) cpu::set_blas_threads(1);
  }
  /// The library's own count: what it was before the first guard of those active took it to one
  /// (0 if it cannot tell).
  static int library_threads() {
    const std::lock_guard<std::mutex> lock(mutex());
    return depth() > 0 ? saved() : cpu::blas_threads();
  }
  /// Whether a guard is active (the library is held at one thread).
  static bool held() {
    const std::lock_guard<std::mutex> lock(mutex());
    return depth() > 0;
  }
  ~SingleThreadedBlas() {
    const std::lock_guard<std::mutex> lock(mutex());
    if (--depth() == 0 && saved() > 1) cpu::set_blas_threads(saved());
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static int& depth() {
    static int d = 0;
    return d;
  }
  static int& saved() {
    static int s = 0;
    return s;
  }
};

/// Threads for independent CPU runs: `requested` (--threads) when positive, else the BLAS
/// library's own count, else the hardware's; at most kMaxRunThreads.
inline int cpu_run_threads(int requested) {
  int t = requested > 0 ? requested : SingleThreadedBlas::library_threads();
  if (t <= 0) t = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(t, 1, kMaxRunThreads);
}

/// The threads of one run on the CPU (its executor's team, src/cpu/cpu_executor.cpp):
/// `requested` (--threads) when positive, else the BLAS library's own count, else one.
inline int run_threads(int requested) {
  const int t = requested > 0 ? requested : SingleThreadedBlas::library_threads();
  return std::max(t, 1);
}

/// Runs fn(i, observers_i, stopped) for i < count on up to `threads` threads (the caller's among
/// them), the BLAS library single-threaded meanwhile, and returns the results in order.
/// observers_i.progress takes run i's own (done, total); `observers.progress` sees their sum out
/// of count·total, from one thread at a time. `stopped()` turns true once a run has failed, so
/// that long runs can give up early; the first exception is rethrown after every thread is done.
/// If a thread cannot be started, the ones that did (and the caller) do all the runs.
template <class R, class F>
std::vector<R> run_in_threads(int count, int threads, const Observers& observers, F fn) {
  const SingleThreadedBlas blas;
  std::vector<R> out(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards error, done and the progress observer
  std::exception_ptr error;
  std::vector<std::int64_t> done(static_cast<std::size_t>(count), 0);
  std::int64_t done_sum = 0;
  const std::function<bool()> stopped = [&failed] { return failed.load(); };
  auto work = [&]() {
    try {
      for (int i = next++; i < count && !failed; i = next++) {
        Observers obs;
        if (observers.progress)
          obs.progress = [&, i](Phase p, std::int64_t d, std::int64_t total) {
            const std::lock_guard<std::mutex> lock(mutex);
            done_sum += d - done[i];
            done[i] = d;
            observers.progress(p, done_sum, static_cast<std::int64_t>(count) * total);
          };
        out[i] = fn(i, obs, stopped);
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min(threads, count); ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: those running (and this one) share the runs
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace rnnlyap::detail
