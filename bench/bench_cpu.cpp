// CPU micro-benchmarks: the machine's dgemm rate (the ceiling), one tangent step of the rate
// model (one n×n by n×k product plus O(nk) element-wise work and a matrix-vector product), and a
// Householder re-orthonormalisation. Each reports GFLOP/s; bench/run_cpu.sh divides the tangent
// step's rate by the dgemm rate at the same n.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/backend.hpp"
#include "core/random.hpp"
#include "cpu/blas_lapack.hpp"
#include "rnnlyap/network.hpp"

namespace {

using namespace rnnlyap;

void BM_Dgemm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<double> a = gaussian_network(n, 1.0, 1).j, b = gaussian_network(n, 1.0, 2).j,
                      c(static_cast<std::size_t>(n) * n);
  for (auto _ : state) {
    cpu::gemm('N', 'N', n, n, n, 1.0, a.data(), n, b.data(), n, 0.0, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * n * n * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::unique_ptr<detail::Backend> ready_backend(int n, int k, Integrator integ) {
  auto be = detail::make_cpu_backend(Precision::fp64, QrMethod::householder);
  detail::Dynamics dyn;
  dyn.integrator = integ;
  dyn.dt = 0.1;
  be->upload(gaussian_network(n, 3.0, 1), dyn, k);
  be->set_state(detail::initial_state(n, 1));
  be->set_basis(detail::initial_basis(n, k, 1));
  be->reorthonormalize(false);
  return be;
}

void tangent(benchmark::State& state, Integrator integ) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  auto be = ready_backend(n, k, integ);
  std::int64_t step = 0;
  // The basis grows like e^{λ_1 t} between iterations; at 0.1τ per step it stays far from overflow
  // for the few thousand steps a benchmark runs.
  for (auto _ : state) be->advance_tangent(step++, 1);
  const double products = integ == Integrator::rk4 ? 4 : 1;
  const double flops = products * 2.0 * n * n * static_cast<double>(k);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TangentStepEuler(benchmark::State& s) {
  tangent(s, Integrator::euler);
}
void BM_TangentStepRk4(benchmark::State& s) {
  tangent(s, Integrator::rk4);
}

void BM_Reorthonormalize(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  auto be = ready_backend(n, k, Integrator::euler);
  for (auto _ : state) be->reorthonormalize(true);
  // Householder QR of n×k plus forming Q: 2(2nk² - 2k³/3) flops (Golub & Van Loan).
  const double flops =
      2.0 * (2.0 * n * k * static_cast<double>(k) - 2.0 * k * k * static_cast<double>(k) / 3.0);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Dgemm)
    ->Arg(64)
    ->Arg(250)
    ->Arg(500)
    ->Arg(1000)
    ->Arg(2000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TangentStepEuler)
    ->Args({64, 64})
    ->Args({250, 250})
    ->Args({500, 500})
    ->Args({1000, 1000})
    ->Args({2000, 2000})
    ->Args({1000, 125})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TangentStepRk4)
    ->Args({64, 64})
    ->Args({500, 500})
    ->Args({1000, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Reorthonormalize)
    ->Args({64, 64})
    ->Args({500, 500})
    ->Args({1000, 1000})
    ->Args({2000, 2000})
    ->Args({1000, 125})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
