// CPU micro-benchmarks: the machine's dgemm rate (the ceiling), one tangent step of the rate
// model (one n×n by n×k product plus O(nk) element-wise work and a matrix-vector product), and a
// re-orthonormalisation by each method. Each reports GFLOP/s of its own flops; bench/run_cpu.sh
// divides the tangent step's rate by the dgemm rate at the same n.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "core/executor.hpp"
#include "core/propagator.hpp"
#include "core/random.hpp"
#include "cpu/blas_lapack.hpp"
#include "cpu/triangular.hpp"
#include "rnnlyap/network.hpp"

namespace {

using namespace rnnlyap;

void BM_Dgemm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  // Through the CPU executor's GEMM (the BLAS call the propagator makes), batch of one.
  const auto ex = detail::make_cpu_executor<double>();
  std::vector<double> a = gaussian_network(n, 1.0, 1).j, b = gaussian_network(n, 1.0, 2).j,
                      c(static_cast<std::size_t>(n) * n);
  for (auto _ : state) {
    ex->gemm_batched(n, n, n, 1.0, a.data(), n, 0, b.data(), n, 0, 0.0, c.data(), n, 0, 1);
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * n * n * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One rate network (g = 3, seed 1) on the CPU, fp64, basis orthonormalised.
std::unique_ptr<detail::Propagator> ready_propagator(int n, int k, Integrator integ,
                                                     QrMethod qr = QrMethod::householder) {
  detail::Placement where;
  where.backend = BackendKind::cpu;
  where.precision = Precision::fp64;
  where.qr = qr;
  detail::Dynamics dyn;
  dyn.integrator = integ;
  dyn.dt = 0.1;
  const Network net = gaussian_network(n, 3.0, 1);
  auto p = detail::make_network_propagator(where, {&net}, dyn, {detail::noise_key(1)}, k);
  p->set_state(detail::initial_state(n, 1));
  p->set_basis(detail::initial_basis(n, k, 1));
  p->reorthonormalize(false);
  return p;
}

void tangent(benchmark::State& state, Integrator integ) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  auto prop = ready_propagator(n, k, integ);
  std::int64_t step = 0;
  // The basis grows like e^{λ_1 t} between iterations; at 0.1τ per step it stays far from overflow
  // for the few thousand steps a benchmark runs.
  for (auto _ : state) prop->advance_tangent(step++, 1);
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

// Re-orthonormalising an orthonormal basis, by method (range(2): 0 householder, 1 cholesky2,
// 2 auto, which takes one CholeskyQR pass here). Flops: Householder QR and forming Q
// 2(2nk² − 2k³/3) (Golub & Van Loan); a CholeskyQR pass nk² (syrk) + k³/3 (potrf) + nk² (trsm).
void BM_Reorthonormalize(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const QrMethod methods[] = {QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select};
  const QrMethod method = methods[state.range(2)];
  auto prop = ready_propagator(n, k, Integrator::euler, method);
  for (auto _ : state) prop->reorthonormalize(true);
  const double nk2 = static_cast<double>(n) * k * k, k3 = static_cast<double>(k) * k * k;
  const double pass = 2.0 * nk2 + k3 / 3.0;
  const double flops = method == QrMethod::householder ? 2.0 * (2.0 * nk2 - 2.0 * k3 / 3.0)
                       : method == QrMethod::cholesky2 ? 2.0 * pass
                                                       : pass;
  state.SetLabel(std::string(to_string(method)));
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One CholeskyQR pass's triangular steps on an n×k basis, range(2): 0 the library's own dpotrf and
// dtrsm, 1 the recursive ones the CPU executor uses (cpu/triangular.hpp). The Gram matrix (syrk)
// is the same for both and left out. Flops k³/3 (potrf) + nk² (trsm).
void BM_CholeskyTriangles(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const bool recursive = state.range(2) == 1;
  std::vector<double> q = detail::initial_basis(n, k, 3), gram(static_cast<std::size_t>(k) * k);
  cpu::syrk_t(k, n, 1.0, q.data(), n, 0.0, gram.data(), k);
  std::vector<double> r = gram, b = q;
  for (auto _ : state) {
    state.PauseTiming();
    r = gram;
    b = q;
    state.ResumeTiming();
    int info = 0;
    if (recursive) {
      info = cpu::cholesky_upper(k, r.data(), k);
      cpu::solve_right_upper(n, k, r.data(), k, b.data(), n);
    } else {
      cpu::potrf_upper(k, r.data(), k, info);
      cpu::trsm_right_upper(n, k, r.data(), k, b.data(), n);
    }
    if (info != 0) state.SkipWithError("Cholesky failed");
    benchmark::DoNotOptimize(b.data());
  }
  state.SetLabel(recursive ? "recursive" : "library");
  const double flops = static_cast<double>(k) * k * k / 3.0 + static_cast<double>(n) * k * k;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Dgemm)
    ->Arg(64)
    ->Arg(100)  // bench/flop_floor.py's reference jobs: 100, 400, 800, 1000, 1024, 2000
    ->Arg(250)
    ->Arg(400)
    ->Arg(500)
    ->Arg(800)
    ->Arg(1000)
    ->Arg(1024)
    ->Arg(2000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TangentStepEuler)
    ->Args({64, 64})
    ->Args({250, 250})
    ->Args({400, 400})  // the rate N = 400 reference job
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
    ->ArgsProduct({{64}, {64}, {0, 1, 2}})  // bench_cpu_smoke's size
    ->ArgsProduct({{100}, {100}, {0, 1, 2}})
    ->ArgsProduct({{400}, {400}, {0, 1, 2}})
    ->ArgsProduct({{800}, {800}, {0, 1, 2}})
    ->ArgsProduct({{1000}, {1000}, {0, 1, 2}})
    ->ArgsProduct({{2000}, {2000}, {0, 2}})
    ->ArgsProduct({{1000}, {125}, {0, 1, 2}})
    ->ArgsProduct({{4000}, {100}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_CholeskyTriangles)
    ->ArgsProduct({{64}, {64}, {0, 1}})
    ->ArgsProduct({{400}, {400}, {0, 1}})
    ->ArgsProduct({{800}, {800}, {0, 1}})
    ->ArgsProduct({{1000}, {1000}, {0, 1}})
    ->ArgsProduct({{2000}, {2000}, {0, 1}})
    ->ArgsProduct({{1000}, {125}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
