// The CPU executor: BLAS for the products, LAPACK for the QR (orthonormalize.hpp), and the model
// families' per-element kernels in plain loops (random_network_kernels.cpp, cell_kernels.cpp).
// A run's threads are its own (thread_team.hpp, CpuThreads below): an executor of T ≥ 2 threads
// (the run's --threads, else the BLAS library's own count) keeps a team of T, holds the library at
// one thread while it lives, and shares each product, re-orthonormalisation and random-network
// loop over the team. One of one thread (each member of an ensemble that runs its members on
// threads, core/parallel.hpp) does everything on the caller's thread.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "../core/backends.hpp"
#include "../core/executor.hpp"
#include "../core/parallel.hpp"
#include "blas_lapack.hpp"
#include "kernels.hpp"
#include "orthonormalize.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "thread_team.hpp"

namespace rnnlyap::detail {
namespace {

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  return "CPU";
}

template <class T>
class CpuReorthonormalizer final : public Reorthonormalizer<T> {
 public:
  CpuReorthonormalizer(int batch, int rows, int k, QrMethod method, cpu::ThreadTeam* team)
      : batch_(batch),
        rows_(rows),
        k_(k),
        skip_(batch),
        paths_(batch),
        r_(batch),
        logs_(static_cast<std::size_t>(batch) * k, 0.0),
        max_ratio_(logs_.size(), 0.0) {
    engine_.resize(rows, k, method, team);
  }
  void reorthonormalize(T* q, bool accumulate) override {
    const std::size_t block = static_cast<std::size_t>(rows_) * k_;
    for (int b = 0; b < batch_; ++b)
      engine_.apply(q + b * block, accumulate, logs_.data() + static_cast<std::size_t>(b) * k_,
                    max_ratio_.data() + static_cast<std::size_t>(b) * k_, skip_[b],
                    keep_ ? &r_[b] : nullptr, paths_[b]);
  }
  LogSums take_logs_blocking() override {
    LogSums out{std::vector<double>(logs_.size(), 0.0), std::vector<double>(max_ratio_.size(), 0.0),
                std::vector<QrPaths>(paths_.size())};
    std::swap(out.sums, logs_);
    std::swap(out.max_ratio, max_ratio_);
    std::swap(out.paths, paths_);
    return out;
  }
  // Turning it on forgets any earlier R: until the next re-orthonormalisation R reads as zeros,
  // never as the factors of one that ran while R was not kept (the CUDA executor does the same).
  void keep_r(bool on) override {
    if (on && !keep_) r_.assign(r_.size(), cpu::RFactors<T>{});
    keep_ = on;
  }
  std::vector<double> last_r_blocking() override {
    if (!keep_)
      throw Error(
          "last_r_blocking: R is not being kept (call keep_r(true) before re-orthonormalising)");
    std::vector<double> out;
    for (int b = 0; b < batch_; ++b) {
      const std::vector<double> r = r_[b].product(k_);
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  }

 private:
  int batch_, rows_, k_;
  std::vector<detail::qr_policy::FallbackSkip> skip_;
  std::vector<QrPaths> paths_;       // per member, since the last take
  std::vector<cpu::RFactors<T>> r_;  // per member: the last R's factors (with keep_)
  bool keep_ = false;
  std::vector<double> logs_, max_ratio_;
  cpu::Orthonormalizer<T> engine_;
};

// A run's threads (run_threads: --threads, else the BLAS library's own count). Up to
// kMaxRunThreads: the library held at one thread while the executor lives (the guard first: it
// is released last) and, from two, a team of that many. Beyond kMaxRunThreads the library's own
// threading, as before the team (its buffers for concurrent callers are limited: parallel.hpp),
// set for the executor's life unless another run holds the library at one thread.
class CpuThreads {
 public:
  explicit CpuThreads(int requested) {
    const int t = run_threads(requested);
    if (t > kMaxRunThreads) {
      if (!SingleThreadedBlas::held() && cpu::blas_threads() > 0) {
        restore_ = cpu::blas_threads();
        cpu::set_blas_threads(t);
      }
      return;
    }
    blas_.emplace();
    if (t < 2) return;
    team_ = std::make_unique<cpu::ThreadTeam>(t);
    if (team_->size() != t)  // a smaller team would compute another thread count's results
      throw Error("could not start " + std::to_string(t) + " CPU threads (" +
                  std::to_string(team_->size()) + " started): use fewer (--threads)");
  }
  ~CpuThreads() {
    team_.reset();
    if (restore_ > 0) cpu::set_blas_threads(restore_);
  }
  CpuThreads(const CpuThreads&) = delete;
  CpuThreads& operator=(const CpuThreads&) = delete;

  /// Two or more threads, or null.
  cpu::ThreadTeam* team() const { return team_.get(); }

 private:
  std::optional<SingleThreadedBlas> blas_;
  std::unique_ptr<cpu::ThreadTeam> team_;
  int restore_ = 0;  // beyond kMaxRunThreads: the library's count to give back
};

template <class T>
class CpuExecutor final : public Executor<T> {
 public:
  explicit CpuExecutor(int threads) : threads_(threads) {}
  BackendKind kind() const override { return BackendKind::cpu; }
  std::string device() const override { return cpu_model(); }
  std::size_t bytes_available() const override { return host_memory_bytes(); }

  void* allocate_bytes(std::size_t bytes) override {
    void* p = std::calloc(bytes, 1);
    if (p == nullptr)
      throw InvalidInput("cannot allocate " + std::to_string(bytes >> 20) + " MiB of memory");
    return p;
  }
  void free_bytes(void* p) noexcept override { std::free(p); }
  void copy_in(void* dst, const void* src, std::size_t bytes) override {
    if (bytes != 0) std::memcpy(dst, src, bytes);
  }
  void copy_out_blocking(void* dst, const void* src, std::size_t bytes) override {
    if (bytes != 0) std::memcpy(dst, src, bytes);
  }

  // With a team: the members of a batch at least as large as the team shared out whole, else
  // each member's columns; products under kShareFlops multiply-adds stay on the calling thread.
  void gemm_batched(int m, int n, int kk, T alpha, const T* a, int lda, long long stride_a,
                    const T* b, int ldb, long long stride_b, T beta, T* c, int ldc,
                    long long stride_c, int batch) override {
    const auto one = [&](long long i, int c0, int c1) {
      cpu::gemm('N', 'N', m, c1 - c0, kk, alpha, a + i * stride_a, lda,
                b + i * stride_b + static_cast<long long>(c0) * ldb, ldb, beta,
                c + i * stride_c + static_cast<long long>(c0) * ldc, ldc);
    };
    cpu::ThreadTeam* team = cpu::parallel(threads_.team());
    if (static_cast<double>(m) * n * kk * batch < kShareFlops) team = nullptr;
    if (!team) {
      for (long long i = 0; i < batch; ++i) one(i, 0, n);
    } else if (batch >= team->size()) {
      team->run([&](int p) {
        const auto [i0, i1] = cpu::share(batch, team->size(), p);
        for (int i = i0; i < i1; ++i) one(i, 0, n);
      });
    } else {
      for (long long i = 0; i < batch; ++i)
        team->run([&](int p) {
          const auto [c0, c1] = cpu::share(n, team->size(), p, 8);
          if (c1 > c0) one(i, c0, c1);
        });
    }
  }

  std::size_t reorthonormalizer_bytes(int batch, int rows, int k, QrMethod method,
                                      bool keep_r) const override {
    const std::size_t kk = static_cast<std::size_t>(k), b = static_cast<std::size_t>(batch);
    const std::size_t r = keep_r ? 2 * b * kk * kk : 0;  // each member's R₁ and R₂
    // CholeskyQR keeps a copy of the basis it works on, for a second pass that fails.
    const std::size_t saved =
        method == QrMethod::householder ? 0 : static_cast<std::size_t>(rows) * kk;
    // Householder by panels: the block reflector's T and V, each thread's two workspaces.
    const std::size_t panel = static_cast<std::size_t>(cpu::Orthonormalizer<T>::panel_width(k));
    const std::size_t threads =
        threads_.team() ? static_cast<std::size_t>(threads_.team()->size()) : 1;
    const std::size_t team =
        cpu::Orthonormalizer<T>::by_panels(k, threads > 1)
            ? panel * (panel + static_cast<std::size_t>(rows) + 2 * threads * kk)
            : 0;
    return sizeof(T) * (kk * kk + kk + static_cast<std::size_t>(rows) * 64 + r + saved + team) +
           sizeof(double) * kk * (2 * b + 2);  // logs and maxima; diag R₁ and log|R_ii|
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    return std::make_unique<CpuReorthonormalizer<T>>(batch, rows, k, method, threads_.team());
  }

 protected:
  // The model families' kernels (cpu/kernels.hpp).
  Kernels* family_kernels(const std::type_info& family) override {
    if (family == typeid(RandomNetworkKernels<T>)) return random_network_.get();
    if (family == typeid(CellKernels<T>)) return cell_.get();
    return nullptr;
  }

 private:
  // A fork and join of the team costs about a microsecond: a product must be worth more.
  static constexpr double kShareFlops = 1 << 16;

  CpuThreads threads_;
  std::unique_ptr<RandomNetworkKernels<T>> random_network_ =
      make_cpu_random_network_kernels<T>(threads_.team());
  std::unique_ptr<CellKernels<T>> cell_ = make_cpu_cell_kernels<T>();
};

}  // namespace

template <class T>
std::unique_ptr<Executor<T>> make_cpu_executor(int threads) {
  return std::make_unique<CpuExecutor<T>>(threads);
}
template std::unique_ptr<Executor<float>> make_cpu_executor<float>(int);
template std::unique_ptr<Executor<double>> make_cpu_executor<double>(int);

const Backend& cpu_backend() {
  static const Backend entry{
      BackendKind::cpu,
      true,
      false,
      [](int, int threads) { return make_cpu_executor<float>(threads); },
      [](int, int threads) { return make_cpu_executor<double>(threads); },
      [](int) { return std::string(); },
      [](int) { return true; },
  };
  return entry;
}

}  // namespace rnnlyap::detail
