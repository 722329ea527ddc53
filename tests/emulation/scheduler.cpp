// The emulated device's kernel scheduler (test-only). A launch is checked (grid and block limits of
// compute capability 9.0, pointer arguments in device memory) and queued on its stream; when the
// stream runs it, its blocks run one after another in a seeded random order, and each block's
// threads run as cooperative fibers (Boost.Context) that switch only at __syncthreads and at warp
// shuffles, the next thread picked at random each time. Stricter than a GPU: a barrier that not
// every thread of the block reaches (or reaches at another line), a shuffle whose mask names an
// exited, absent or differently-shuffling lane, or a source lane outside the mask, stops the
// process with the offending threads named. Under ThreadSanitizer every GPU thread is a TSan fiber,
// switches carry no synchronisation, and only barriers (per block) and shuffles (per warp) create
// happens-before, so a race that a barrier phase would hide on a GPU is reported here. Blocks run
// in sequence and their shared memory is reused, so races between blocks are not reported.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "device.hpp"

#if defined(__SANITIZE_THREAD__) || defined(RNNLYAP_EMULATION_TSAN)
#include <sanitizer/tsan_interface.h>
#define RNNLYAP_EMU_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define RNNLYAP_EMU_ASAN 1
#endif

namespace rnnlyap::emu {

void set_last_error(cudaError_t e);  // runtime.cpp

namespace {

namespace bc = boost::context;

#if defined(RNNLYAP_EMU_TSAN) || defined(RNNLYAP_EMU_ASAN)
constexpr std::size_t kStackBytes = 512 * 1024;
#else
constexpr std::size_t kStackBytes = 128 * 1024;
#endif

// Fixed-size stacks with a guard page, reused from block to block (a block has at most 1024
// threads alive at once).
class StackPool {
 public:
  bc::stack_context allocate() {
    void* base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) violation("kernel launch", "cannot map a fiber stack");
      ::mprotect(base, static_cast<std::size_t>(::getpagesize()), PROT_NONE);
    }
    bc::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(base) + kStackBytes;
    return sc;
  }
  void deallocate(bc::stack_context& sc) noexcept {
    free_.push_back(static_cast<char*>(sc.sp) - kStackBytes);
  }

 private:
  std::vector<void*> free_;
};

thread_local StackPool t_stacks;
thread_local bc::stack_context t_last_stack;  // the stack the last fiber was given

struct PooledStack {
  bc::stack_context allocate() { return t_last_stack = t_stacks.allocate(); }
  void deallocate(bc::stack_context& sc) noexcept { t_stacks.deallocate(sc); }
};

enum class State { unstarted, ready, barrier, shuffle, done };

struct GpuThread;

// A fiber that runs GPU threads: one after another while they run to the end without waiting,
// so that a kernel without barriers costs no fiber per thread. A thread that waits keeps its
// worker until it ends. Under ThreadSanitizer each worker runs one thread (each GPU thread must
// be a TSan fiber of its own).
struct Worker {
  bc::fiber fiber;            // the suspended worker (scheduler side)
  bc::fiber* sink = nullptr;  // the scheduler's continuation (worker side)
  GpuThread* thread = nullptr;
#ifdef RNNLYAP_EMU_ASAN
  void* fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
#endif
};

struct GpuThread {
  uint3 idx{};
  int linear = 0;
  State state = State::unstarted;
  Worker* worker = nullptr;
  const char* file = nullptr;  // where it waits
  int line = 0;
  unsigned mask = 0;  // its shuffle
  std::uint64_t bits = 0, result = 0;
  Shuffle kind = Shuffle::index;
  int arg = 0, width = 32;
#ifdef RNNLYAP_EMU_TSAN
  void* tsan = nullptr;
#endif
};

struct BlockRun {
  dim3 grid, block;
  uint3 block_idx{};
  const std::function<void()>* body = nullptr;
  std::vector<GpuThread> threads;
  std::vector<int> runnable;
  int finished = 0, at_barrier = 0;
  unsigned generation = 0;
  char barrier_sync[2] = {};          // TSan release/acquire addresses, by generation parity
  std::vector<char> warp_sync;        // two per warp
  std::vector<unsigned> warp_rounds;  // shuffles completed per warp
  std::vector<int> warp_waiting;      // lanes waiting in a shuffle, per warp
  char block_end = 0;
};

thread_local BlockRun* t_run = nullptr;
thread_local GpuThread* t_thread = nullptr;
#ifdef RNNLYAP_EMU_TSAN
thread_local void* t_scheduler_tsan = nullptr;
#endif
#ifdef RNNLYAP_EMU_ASAN
thread_local const void* t_sched_bottom = nullptr;
thread_local std::size_t t_sched_size = 0;
#endif

// xorshift64*: cheap enough to draw at every switch (std::shuffle takes it too).
struct Rng {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 1; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
  }
  std::uint64_t state;
};

// RNNLYAP_EMULATION_SEED sets the order of blocks and threads (a violation's report is then
// reproducible); the default is fixed.
Rng& rng() {
  static Rng gen = [] {
    const std::uint64_t seed = env_number("RNNLYAP_EMULATION_SEED", 20261206u);
    return Rng{seed * 0x9E3779B97F4A7C15ull | 1u};
  }();
  return gen;
}

std::string where(const GpuThread& th) {
  return "thread (" + std::to_string(th.idx.x) + "," + std::to_string(th.idx.y) + "," +
         std::to_string(th.idx.z) + ") of block (" + std::to_string(t_run->block_idx.x) + "," +
         std::to_string(t_run->block_idx.y) + "," + std::to_string(t_run->block_idx.z) + ")";
}

GpuThread& current(const char* what) {
  if (t_thread == nullptr) violation(what, "called outside a kernel");
  return *t_thread;
}

// Worker side: back to the scheduler until it resumes this worker.
void yield(Worker& w) {
#ifdef RNNLYAP_EMU_TSAN
  __tsan_switch_to_fiber(t_scheduler_tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef RNNLYAP_EMU_ASAN
  __sanitizer_start_switch_fiber(&w.fake_stack, t_sched_bottom, t_sched_size);
#endif
  *w.sink = std::move(*w.sink).resume();
#ifdef RNNLYAP_EMU_ASAN
  __sanitizer_finish_switch_fiber(w.fake_stack, &t_sched_bottom, &t_sched_size);
#endif
}

void describe_and_stop(const char* what) {
  std::string states;
  for (const GpuThread& th : t_run->threads) {
    if (th.state != State::barrier && th.state != State::shuffle) continue;
    states +=
        "\n  " + where(th) +
        (th.state == State::barrier ? " waits at __syncthreads" : " waits in a warp shuffle") +
        " at " + th.file + ":" + std::to_string(th.line);
    if (states.size() > 2000) break;
  }
  violation("kernel", std::string(what) + " (" + std::to_string(t_run->finished) + " of " +
                          std::to_string(t_run->threads.size()) + " threads exited)" + states);
}

// Releases the barrier when every live thread waits at it.
void try_release_barrier() {
  BlockRun& r = *t_run;
  const int live = static_cast<int>(r.threads.size()) - r.finished;
  if (r.at_barrier == 0 || r.at_barrier < live) return;
  if (r.finished > 0)
    describe_and_stop("__syncthreads() reached after some threads of the block exited");
  const GpuThread* first = nullptr;
  for (GpuThread& th : r.threads) {
    if (first == nullptr) first = &th;
    if (th.line != first->line ||
        (th.file != first->file && std::string_view(th.file) != first->file))
      describe_and_stop("threads of one block wait at different __syncthreads()");
  }
  for (GpuThread& th : r.threads) {
    th.state = State::ready;
    r.runnable.push_back(static_cast<int>(&th - r.threads.data()));
  }
  r.at_barrier = 0;
  ++r.generation;
}

// Completes the shuffle of the lanes of warp w named by `mask` when every one of them has reached
// it (lanes of one warp may shuffle in separate groups with disjoint masks).
void try_complete_group(int w, const GpuThread& first) {
  BlockRun& r = *t_run;
  const int n = static_cast<int>(r.threads.size());
  const int lanes = n - 32 * w < 32 ? n - 32 * w : 32;
  const unsigned mask = first.mask;
  for (int l = 0; l < 32; ++l) {
    if ((mask >> l & 1u) == 0) continue;
    if (l >= lanes)
      violation("warp shuffle", where(first) + ": the mask at " + first.file + ":" +
                                    std::to_string(first.line) + " names lane " +
                                    std::to_string(l) + " of a warp of " + std::to_string(lanes) +
                                    " threads");
    const GpuThread& th = r.threads[static_cast<std::size_t>(32 * w + l)];
    if (th.state == State::done)
      describe_and_stop("a warp shuffle's mask names a lane that has exited");
    if (th.state != State::shuffle) return;  // not there yet
    if (th.mask != mask || th.line != first.line || th.kind != first.kind)
      describe_and_stop("lanes of one mask execute different shuffles");
  }
  for (int l = 0; l < 32; ++l) {
    if ((mask >> l & 1u) == 0) continue;
    GpuThread& th = r.threads[static_cast<std::size_t>(32 * w + l)];
    const int seg = l - l % th.width;
    int src = l;
    if (th.kind == Shuffle::index)
      src = seg + ((th.arg % th.width) + th.width) % th.width;
    else if (l % th.width + th.arg < th.width)
      src = l + th.arg;
    if ((mask >> src & 1u) == 0)
      violation("warp shuffle", where(th) + " reads lane " + std::to_string(src) +
                                    ", which the mask does not name (its value is undefined)");
    th.result = r.threads[static_cast<std::size_t>(32 * w + src)].bits;
  }
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1u) {
      r.threads[static_cast<std::size_t>(32 * w + l)].state = State::ready;
      r.runnable.push_back(32 * w + l);
      --r.warp_waiting[static_cast<std::size_t>(w)];
    }
  ++r.warp_rounds[static_cast<std::size_t>(w)];
}

void try_complete_shuffle(int w) {
  BlockRun& r = *t_run;
  const int n = static_cast<int>(r.threads.size());
  for (int l = 0; l < 32 && 32 * w + l < n; ++l) {
    const GpuThread& th = r.threads[static_cast<std::size_t>(32 * w + l)];
    if (th.state == State::shuffle) try_complete_group(w, th);
  }
}

// Every worker this OS thread made (kept for the next launch), and those without a thread.
thread_local std::vector<std::unique_ptr<Worker>> t_workers;
thread_local std::vector<Worker*> t_idle;

// Bookkeeping after `th` stopped: it ended, or waits at a barrier or a shuffle.
void stopped(GpuThread& th) {
  BlockRun& r = *t_run;
  switch (th.state) {
    case State::done:
      ++r.finished;
      try_release_barrier();
      if (r.warp_waiting[static_cast<std::size_t>(th.linear / 32)] > 0)
        try_complete_shuffle(th.linear / 32);  // a lane of its mask exited?
      break;
    case State::barrier:
      ++r.at_barrier;
      try_release_barrier();
      break;
    case State::shuffle:
      // Only when as many lanes wait as its mask names can its group be complete.
      if (++r.warp_waiting[static_cast<std::size_t>(th.linear / 32)] >= __builtin_popcount(th.mask))
        try_complete_group(th.linear / 32, th);
      break;
    default:
      violation("kernel", "a GPU thread stopped outside a barrier or shuffle");
  }
}

// Takes a random runnable thread, or -1.
int take_runnable(BlockRun& r) {
  if (r.runnable.empty()) return -1;
  const std::size_t pick = rng()() % r.runnable.size();
  const int t = r.runnable[pick];
  r.runnable[pick] = r.runnable.back();
  r.runnable.pop_back();
  return t;
}

// The worker's loop: run its thread; when that ends, take the next thread at random and run it
// here too if it has not started, else give the worker back to the scheduler.
bc::fiber work(Worker& w, bc::fiber&& sink) {
#ifdef RNNLYAP_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &t_sched_bottom, &t_sched_size);
#endif
  w.sink = &sink;
  for (;;) {
    GpuThread& th = *w.thread;
    t_thread = &th;
    (*t_run->body)();
    th.state = State::done;
#ifdef RNNLYAP_EMU_TSAN
    __tsan_release(&t_run->block_end);
#endif
    th.worker = nullptr;
    w.thread = nullptr;
    stopped(th);
#ifndef RNNLYAP_EMU_TSAN
    BlockRun& r = *t_run;
    if (const int next = take_runnable(r); next >= 0) {
      GpuThread& nt = r.threads[static_cast<std::size_t>(next)];
      if (nt.state == State::unstarted) {
        nt.state = State::ready;
        nt.worker = &w;
        w.thread = &nt;
        continue;
      }
      r.runnable.push_back(next);  // a waiting thread: the scheduler resumes its own worker
    }
#endif
    yield(w);  // idle until the scheduler gives it a thread
  }
}

Worker* new_worker() {
  t_workers.push_back(std::make_unique<Worker>());
  Worker* w = t_workers.back().get();
  w->fiber = bc::fiber(std::allocator_arg, PooledStack{},
                       [w](bc::fiber&& sink) { return work(*w, std::move(sink)); });
#ifdef RNNLYAP_EMU_ASAN
  w->stack_size = t_last_stack.size;
  w->stack_bottom = static_cast<char*>(t_last_stack.sp) - t_last_stack.size;
#endif
  return w;
}

void run_block(BlockRun& r) {
  const int n = static_cast<int>(r.block.x * r.block.y * r.block.z);
  r.threads.clear();
  r.threads.resize(static_cast<std::size_t>(n));
  r.runnable.clear();
  r.finished = r.at_barrier = 0;
  r.generation = 0;
  r.warp_sync.assign(static_cast<std::size_t>((n + 31) / 32) * 2, 0);
  r.warp_rounds.assign(static_cast<std::size_t>((n + 31) / 32), 0);
  r.warp_waiting.assign(static_cast<std::size_t>((n + 31) / 32), 0);
  for (int t = 0; t < n; ++t) {
    GpuThread& th = r.threads[static_cast<std::size_t>(t)];
    th.linear = t;
    th.idx = uint3{static_cast<unsigned>(t) % r.block.x,
                   static_cast<unsigned>(t) / r.block.x % r.block.y,
                   static_cast<unsigned>(t) / (r.block.x * r.block.y)};
    r.runnable.push_back(t);
  }
#ifdef RNNLYAP_EMU_TSAN
  t_scheduler_tsan = __tsan_get_current_fiber();
#endif
  while (r.finished < n) {
    const int t = take_runnable(r);
    if (t < 0)
      describe_and_stop("deadlock: no thread can go on (a barrier or shuffle some never reach)");
    GpuThread& th = r.threads[static_cast<std::size_t>(t)];
    if (th.state == State::unstarted) {
      th.state = State::ready;
#ifdef RNNLYAP_EMU_TSAN
      th.tsan = __tsan_create_fiber(0);
#endif
      if (t_idle.empty()) t_idle.push_back(new_worker());
      th.worker = t_idle.back();
      t_idle.pop_back();
      th.worker->thread = &th;
    }
    Worker& w = *th.worker;
    t_thread = &th;
#ifdef RNNLYAP_EMU_TSAN
    void* tsan = th.tsan;
    __tsan_switch_to_fiber(tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef RNNLYAP_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, w.stack_bottom, w.stack_size);
#endif
    w.fiber = std::move(w.fiber).resume();
#ifdef RNNLYAP_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    t_thread = nullptr;
#ifdef RNNLYAP_EMU_TSAN
    if (th.state == State::done) {  // (one thread per worker under TSan)
      __tsan_destroy_fiber(tsan);
      th.tsan = nullptr;
    }
#endif
    if (w.thread != nullptr) {  // the thread it now runs waits at a barrier or shuffle
      stopped(*w.thread);
      continue;
    }
    t_idle.push_back(&w);  // its threads ended: idle again
  }
#ifdef RNNLYAP_EMU_TSAN
  __tsan_acquire(&r.block_end);
#endif
}

// Launch limits of compute capability 9.0 (CUDA C++ Programming Guide, "Features and Technical
// Specifications"): 1024 threads a block, block (1024, 1024, 64), grid (2^31 - 1, 65535, 65535).
std::string config_error(dim3 grid, dim3 block) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return "a grid dimension is 0";
  if (block.x == 0 || block.y == 0 || block.z == 0) return "a block dimension is 0";
  if (grid.x > 0x7fffffffu) return "gridDim.x > 2^31 - 1";
  if (grid.y > 65535u || grid.z > 65535u) return "gridDim.y or gridDim.z > 65535";
  if (block.x > 1024u || block.y > 1024u || block.z > 64u)
    return "a block dimension over its limit";
  if (static_cast<unsigned long long>(block.x) * block.y * block.z > 1024u)
    return "more than 1024 threads in a block";
  return {};
}

}  // namespace

uint3 thread_idx() {
  return current("threadIdx").idx;
}
uint3 block_idx() {
  current("blockIdx");
  return t_run->block_idx;
}
dim3 block_dim() {
  current("blockDim");
  return t_run->block;
}
dim3 grid_dim() {
  current("gridDim");
  return t_run->grid;
}

void sync_threads(const char* file, int line) {
  GpuThread& th = current("__syncthreads");
  BlockRun& r = *t_run;
  const unsigned parity = r.generation & 1u;
  th.state = State::barrier;
  th.file = file;
  th.line = line;
#ifdef RNNLYAP_EMU_TSAN
  __tsan_release(&r.barrier_sync[parity]);
#endif
  yield(*th.worker);
#ifdef RNNLYAP_EMU_TSAN
  __tsan_acquire(&r.barrier_sync[parity]);
#endif
  (void)parity;
}

std::uint64_t shuffle(unsigned mask, std::uint64_t bits, Shuffle kind, int arg, int width,
                      const char* file, int line) {
  GpuThread& th = current("warp shuffle");
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    violation("warp shuffle", "width " + std::to_string(width) + " is not a power of 2 up to 32");
  if ((mask >> (th.linear % 32) & 1u) == 0)
    violation("warp shuffle", where(th) +
                                  " calls a shuffle whose mask does not name its lane, at " + file +
                                  ":" + std::to_string(line));
  BlockRun& r = *t_run;
  const std::size_t w = static_cast<std::size_t>(th.linear / 32);
  char* sync = &r.warp_sync[2 * w + (r.warp_rounds[w] & 1u)];
  th.state = State::shuffle;
  th.file = file;
  th.line = line;
  th.mask = mask;
  th.bits = bits;
  th.kind = kind;
  th.arg = arg;
  th.width = width;
#ifdef RNNLYAP_EMU_TSAN
  __tsan_release(sync);
#endif
  yield(*th.worker);
#ifdef RNNLYAP_EMU_TSAN
  __tsan_acquire(sync);
#endif
  (void)sync;
  return th.result;
}

void launch_grid(dim3 grid, dim3 block, cudaStream_t stream, std::function<void()> body,
                 std::vector<const void*> pointer_args) {
  if (const std::string e = config_error(grid, block); !e.empty()) {
    set_last_error(cudaErrorInvalidConfiguration);
    violation("kernel launch", "invalid configuration: " + e + " (grid " + std::to_string(grid.x) +
                                   "x" + std::to_string(grid.y) + "x" + std::to_string(grid.z) +
                                   ", block " + std::to_string(block.x) + "x" +
                                   std::to_string(block.y) + "x" + std::to_string(block.z) + ")");
  }
  for (std::size_t i = 0; i < pointer_args.size(); ++i)
    if (pointer_args[i] != nullptr && space_of(pointer_args[i]) != Space::device)
      violation("kernel launch", "pointer argument " + std::to_string(i + 1) +
                                     " is not device memory (a GPU would fault on it)");
  auto run = [grid, block, body = std::move(body)]() {
    BlockRun r;
    r.grid = grid;
    r.block = block;
    r.body = &body;
    const std::uint64_t blocks = std::uint64_t{grid.x} * grid.y * grid.z;
    std::vector<std::uint64_t> order(blocks);
    for (std::uint64_t b = 0; b < blocks; ++b) order[b] = b;
    std::shuffle(order.begin(), order.end(), rng());
    BlockRun* outer = t_run;
    t_run = &r;
    for (const std::uint64_t b : order) {
      r.block_idx =
          uint3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                static_cast<unsigned>(b / (std::uint64_t{grid.x} * grid.y))};
      run_block(r);
    }
    t_run = outer;
  };
  enqueue(stream, "kernel", std::move(run), std::move(pointer_args));
}

}  // namespace rnnlyap::emu
