// ThreadTeam (thread_team.hpp): workers wait for the next run() by spinning briefly (a step of a
// run follows the last within microseconds), then sleeping on the generation counter, so that a
// team between runs, or in a serial stretch of a long one, leaves the cores to others.
#include "thread_team.hpp"

#include <chrono>
#include <system_error>

#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RNNLYAP_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RNNLYAP_PAUSE() __asm__ __volatile__("yield")
#else
#define RNNLYAP_PAUSE() ((void)0)
#endif

namespace rnnlyap::cpu {
namespace {

// How long a waiting thread spins before it sleeps. A pause instruction takes 10 to 140 cycles
// depending on the core, so the spin is timed, not counted.
constexpr auto kSpin = std::chrono::microseconds(50);

// Waits until `a` differs from `old` (spinning, then sleeping) and returns its new value.
template <class A, class V>
V wait_change(const A& a, V old) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    const V v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    RNNLYAP_PAUSE();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
  }
  V v = a.load(std::memory_order_acquire);
  while (v == old) {
    a.wait(old, std::memory_order_acquire);
    v = a.load(std::memory_order_acquire);
  }
  return v;
}

}  // namespace

ThreadTeam::ThreadTeam(int size) {
  workers_.reserve(static_cast<std::size_t>(std::max(size - 1, 0)));  // no reallocation below
  for (int p = 1; p < size; ++p) {
    try {
      workers_.emplace_back([this, p] { work(p); });
    } catch (const std::system_error&) {
      break;  // no more threads: the team is those that started
    }
  }
}

ThreadTeam::~ThreadTeam() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadTeam::call_catching(int p) {
  try {
    call_(fn_, p);
  } catch (...) {
    const std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadTeam::run_erased(void* fn, Call call) {
  if (running_) throw std::logic_error("ThreadTeam::run called from within a run");
  running_ = true;
  fn_ = fn;
  call_ = call;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);  // publishes fn_, call_ and pending_
  generation_.notify_all();
  call_catching(0);
  for (int left = pending_.load(std::memory_order_acquire); left != 0;)
    left = wait_change(pending_, left);
  running_ = false;
  if (error_) {
    std::exception_ptr e;
    std::swap(e, error_);
    std::rethrow_exception(e);
  }
}

void ThreadTeam::work(int p) {
  unsigned seen = 0;
  for (;;) {
    seen = wait_change(generation_, seen);
    if (stop_.load(std::memory_order_relaxed)) return;
    call_catching(p);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace rnnlyap::cpu
