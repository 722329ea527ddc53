#!/usr/bin/env python3
"""Plants one bug at a time in a copy of the core algorithm and models (src/core, src/cpu, and the
program's signal handling) and reports whether the tests catch it (tests/mutations/README.md):

    python3 tests/mutations/run.py [--quick] [--only NAME ...] [--list] [--work DIR] [--jobs N]

The copy and its build (CPU only, Python module included when pybind11 is found) live in DIR
(default /tmp/rnnlyap-mutations-core). Each mutation is judged by the tests named for it: gtest
filters of the CPU test binary and, for a few, the Python module's tests. Exits 1 when a mutation
survives that is not marked equivalent, when one does not compile, or when a test fails unmutated.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine  # noqa: E402
from engine import Mutation, gtest, python_tests  # noqa: E402

# Test groups (gtest filters; the CPU instances of the parameterised suites).
EXACT_FAST = "Models/PropagatorExact.*cpu*"              # constant tangent maps, every model: ~5 s
EXACT_MAP = "Backends/ExactBelowOnset.Map/cpu"           # ~30 s (RateEuler ~3 min, RateRk4 ~1.5)
SUM_RULES = "Backends/Identities.SumRule*/cpu:Models/PropagatorSumRule.*cpu*"
FTLE = "Backends/Ftle.*/cpu:FtleOptions.*"
CLV = "Backends/Clv*/cpu:ClvPlan.*"
ERROR_BARS = "ErrorBars.*:Backends/Consistency.StandardErrorsAreFiniteAndSmall/cpu"
STEP = "Models/PropagatorStep.*cpu*"                     # one step against the reference + FD
SEEDS = "Seeds.*:SeedsCli.*:GivenState.*"


def m(name, cls, path, text, repl, *checks, quick=False, equivalent=None):
    return Mutation(name, cls, path, text, repl, checks=list(checks), quick=quick,
                    equivalent=equivalent)


DRIVER = "src/core/driver.cpp"
RUN = "src/core/run/benettin_run.cpp"
NONFINITE = "src/core/run/nonfinite.cpp"
CHECKPOINTS = "src/core/run/checkpoints.cpp"
WINDOWS = "src/core/run/ftle_windows.cpp"
MEANS = "src/core/batch_means.cpp"
QR = "src/cpu/orthonormalize.hpp"
TRIANGULAR = "src/cpu/triangular.hpp"
NETWORK = "src/core/network.cpp"
MODEL = "src/core/models/random_network.cpp"
ELEMENTWISE = "src/core/elementwise.hpp"

# (name, class, file, text occurring once, replacement, tests...). The first test named is the
# one meant to catch the bug; the later ones are backstops, run only while nothing has failed.
MUTATIONS = [
    # --- error bars ---------------------------------------------------------------------------
    m("batch means: weights w instead of w^2", "error bar", MEANS,
      "v += w * w * d * d;", "v += w * d * d;",
      gtest(ERROR_BARS + ":" + CLV + ":EnsembleStatistics.*:Sweep.*"), quick=True),
    m("batch means: standard error halved", "error bar", MEANS,
      "return std::sqrt(v * n / (n - 1));", "return 0.5 * std::sqrt(v * n / (n - 1));",
      gtest(ERROR_BARS + ":" + CLV + ":EnsembleStatistics.*:Sweep.*"), quick=True),
    m("ensemble: standard error std/B instead of std/sqrt(B)", "error bar", "src/core/ensemble.cpp",
      "return {mean, std::sqrt(ss / (b - 1) / b)};", "return {mean, std::sqrt(ss / (b - 1)) / b};",
      gtest("EnsembleStatistics.*:ErrorBars.*:EnsembleJson.*:Sweep.*"), quick=True),
    m("D_KY's standard error: the lambda_(j+1) term of its gradient dropped", "error bar", MEANS,
      "g[order[j]] = partial / (next * next);", "g[order[j]] = 0;",
      gtest(ERROR_BARS + ":Sweep.*")),
    m("skipped re-orthonormalisation: every other averaged one, logs still taken",
      "skipped re-orthonormalisation", RUN,
      "    backend_.reorthonormalize(true);\n    ++run_.ons_done;",
      "    if (run_.ons_done % 2 == 0) backend_.reorthonormalize(true);\n    ++run_.ons_done;",
      gtest(ERROR_BARS + ":" + CLV + ":Backends/Consistency.*/cpu:"
            "Backends/PrecisionAndQr.Cholesky2*/cpu:Checkpoint.ResumeAnywhereEqualsUninterruptedRun")),

    # --- stopping ------------------------------------------------------------------------------
    m("stop request ignored by the loop", "stop request", CHECKPOINTS,
      "run.backend().any_rank(control_.stop_requested && control_.stop_requested());",
      "run.backend().any_rank(false);",
      gtest("Checkpoint.*:CheckpointCli.*:Sweep.ResumesWhereItStopped"),
      python_tests("Interrupts.test_spectrum")),
    m("program: SIGINT/SIGTERM during a checkpointed run ignored", "stop request",
      "src/cli/process.cpp", "    g_stop_requested = 1;\n    return;", "    return;",
      gtest("CheckpointCli.*:Outputs.TemporariesNeverAccumulate"), quick=True),

    # --- the averages --------------------------------------------------------------------------
    m("basis warm-up logs counted in the average", "averaging", RUN,
      "    backend_.reorthonormalize(false);\n    ++run_.ons_warmup_done;",
      "    backend_.reorthonormalize(true);\n    ++run_.ons_warmup_done;",
      gtest(EXACT_FAST + ":" + EXACT_MAP + ":Seeds.EnsembleOfInitialConditionsOfOneNetwork"),
      python_tests("Spectrum.test_given_map_below_onset_is_exact"),
      gtest(SUM_RULES + ":" + FTLE + ":Checkpoint.ResumeAnywhereEqualsUninterruptedRun"),
      quick=True),
    m("lambda_1 and lambda_2 swapped in the result", "order", RUN,
      "  res.stderr_ = batch_means_stderr(res.exponents, blocks);\n",
      "  res.stderr_ = batch_means_stderr(res.exponents, blocks);\n"
      "  if (per_ >= 2) {\n    std::swap(res.exponents[0], res.exponents[1]);\n"
      "    std::swap(res.stderr_[0], res.stderr_[1]);\n  }\n",
      gtest(EXACT_FAST + ":" + EXACT_MAP),
      gtest(FTLE + ":" + CLV + ":Summary.*:Sweep.*"), quick=True),
    m("averaging time one interval too long", "averaging", RUN,
      "const double t_avg = sched_.averaged_time();",
      "const double t_avg = sched_.averaged_time() + ons_time_;",
      gtest(EXACT_FAST + ":" + EXACT_MAP), gtest(SUM_RULES + ":" + FTLE), quick=True),
    m("dropped log: the first averaged interval's logs not accumulated", "dropped log", RUN,
      "    backend_.reorthonormalize(true);\n    ++run_.ons_done;",
      "    backend_.reorthonormalize(run_.ons_done > 0);\n    ++run_.ons_done;",
      gtest(EXACT_FAST + ":" + EXACT_MAP), gtest(SUM_RULES + ":" + FTLE), quick=True),
    m("dropped log: Householder leaves out the last exponent's log|R_kk|", "dropped log", QR,
      "for (int i = 0; i < k_; ++i)\n        diag_log_[i] =\n",
      "for (int i = 0; i < k_ - 1; ++i)\n        diag_log_[i] =\n",
      gtest("Backends/Reorthonormalizers.*/cpu:" + SUM_RULES + ":" + EXACT_FAST)),
    m("dropped log: one CholeskyQR pass (auto, the default) leaves out log|R_kk|", "dropped log",
      QR, "for (int i = 0; i < k_; ++i) diag_log_[i] = std::log(diag1_[i]);",
      "for (int i = 0; i < k_ - 1; ++i) diag_log_[i] = std::log(diag1_[i]);",
      gtest("Backends/Reorthonormalizers.*/cpu:" + SUM_RULES + ":" + EXACT_FAST)),
    m("triangular solve: the coupling block added instead of subtracted", "QR", TRIANGULAR,
      "gemm('N', 'N', m, k2, k1, T(-1)", "gemm('N', 'N', m, k2, k1, T(1)",
      gtest("Triangular.*:Backends/Reorthonormalizers.*/cpu:" + SUM_RULES)),
    m("thread team: Householder's panel applied as H, not Hᵀ, to the columns on its right", "QR",
      QR, "apply_panel('T', q, j, jb);", "apply_panel('N', q, j, jb);",
      gtest("ReorthonormalizersCpuTeam.*")),
    m("Householder by panels: Q's rows above each panel left as they were", "QR", QR,
      "      for (int c = j; c < j + jb; ++c) std::fill(", "      for (int c = j; c < j; ++c) std::fill(",
      gtest("ReorthonormalizersCpuTeam.*:Backends/Reorthonormalizers.*/cpu")),
    m("thread team: the shared Gram matrix without the blocks above the diagonal", "QR",
      TRIANGULAR, "    if (c0 > 0)\n      gemm('T', 'N', c0, c1 - c0, m, alpha, a, lda, ac",
      "    if (c0 < 0)\n      gemm('T', 'N', c0, c1 - c0, m, alpha, a, lda, ac",
      gtest("Triangular.*:ReorthonormalizersCpuTeam.*")),
    m("thread team: every thread's share of the state's matvec starts at row 0", "tangent map",
      "src/cpu/random_network_kernels.cpp", "if (r1 > r0) rows(r0, r1);", "if (r1 > r0) rows(0, r1);",
      gtest("ConsistencyCpu.ThreadCountsAgree*")),
    m("basis warning: single re-orthonormalisations' ratios not kept", "missing warning", QR,
      "if (std::isfinite(ratio)) max_ratio_[i] = std::max(max_ratio_[i], ratio);", "",
      gtest("Backends/PrecisionAndQr.SingleReorthonormalisation*/cpu:"
            "Backends/PrecisionAndQr.ConditionWarningFollowsThePrecision/cpu")),
    m("saturation: a map's state checked only when a log is not finite", "missing error",
      NONFINITE, "  if (phi_only_) {\n    const std::vector<double> state",
      "  if (phi_only_ && (nan_or_inf || minus_inf)) {\n    const std::vector<double> state",
      gtest("Backends/SaturatedState.*/cpu:NonFinite.Saturated*")),
    m("wrong time scale: rates per step, not per unit of model time", "time scale", RUN,
      "const double t_avg = sched_.averaged_time();",
      "const double t_avg = static_cast<double>(sched_.ons_sim * sched_.steps_per_ons);",
      gtest(EXACT_FAST + ":" + SUM_RULES)),
    m("finite-time exponents: window time one interval too long", "time scale", WINDOWS,
      "const double wt = static_cast<double>(window_ons_) * run.ons_time();",
      "const double wt = static_cast<double>(window_ons_ + 1) * run.ons_time();",
      gtest(FTLE)),
    m("checkpoint: the logs taken for a checkpoint are lost on resume", "checkpoint",
      CHECKPOINTS,
      "    if (state.ons_warmup_done == run.schedule().ons_warmup && state.basis_started)\n"
      "      run.add_logs(logs);\n", "",
      gtest("Checkpoint.*:CheckpointCli.*")),
    m("Kaplan-Yorke dimension divides by |lambda_j|, not |lambda_(j+1)|", "summary",
      "src/core/analysis.cpp", "partial / std::abs(l[j]);", "partial / std::abs(l[j > 0 ? j - 1 : j]);",
      gtest("Summary.*:ErrorBars.*:Sweep.*")),

    # --- seeds and options ---------------------------------------------------------------------
    m("ignored seed: the initial basis drawn from --seed, not --basis-seed", "ignored seed", RUN,
      "const std::uint64_t seed = opt_.basis_seed_used();",
      "const std::uint64_t seed = opt_.seed;",
      gtest(SEEDS), python_tests("Spectrum.test_initial_state_and_part_seeds")),
    m("ignored seed: the initial state drawn from --seed, not --state-seed", "ignored seed", DRIVER,
      "detail::initial_state(n, opt.state_seed_used())", "detail::initial_state(n, opt.seed)",
      gtest(SEEDS)),
    m("ignored option: --zero-diagonal", "ignored option", NETWORK,
      "  if (opt.zero_diagonal)\n    for (int i = 0;", "  if (false && opt.zero_diagonal)\n    for (int i = 0;",
      gtest("LevyNetwork.*:OptionsApply.*")),
    m("ignored option: --bias-std", "ignored option", NETWORK,
      "if (opt.bias_std == 0) return bias;", "if (true) return bias;",
      gtest("Backends/Stacked.BiasBelowOnsetIsExactAtTheNonzeroFixedPoint/cpu:StackedCli.*")),
    m("rate model's input noise sigma*dt instead of sigma*sqrt(dt)", "ignored option", MODEL,
      "dyn_.input_std * std::sqrt(dyn_.dt)", "dyn_.input_std * dyn_.dt",
      gtest("Models/PropagatorNoise.*cpu*")),
    m("Levy weights scaled N^(-1/2) instead of N^(-1/alpha)", "scale", NETWORK,
      "std::pow(static_cast<double>(n), -1.0 / alpha)", "std::pow(static_cast<double>(n), -0.5)",
      gtest("LevyNetwork.*:LevySpectrum.*")),

    # --- the tangent map and the integrators ----------------------------------------------------
    m("RK4 state: third stage evaluated at dt instead of dt/2", "RK4 stage", MODEL,
      "  const T c[4] = {T(0), dt / 2, dt / 2, dt};\n  const Rk4Buffers<T> b",
      "  const T c[4] = {T(0), dt / 2, dt, dt};\n  const Rk4Buffers<T> b",
      gtest(STEP + ":" + EXACT_FAST)),
    m("RK4 tangent: third stage weighted dt/6 instead of dt/3", "RK4 stage", MODEL,
      "const T w[4] = {dt / 6, dt / 3, dt / 3, dt / 6};",
      "const T w[4] = {dt / 6, dt / 3, dt / 6, dt / 6};",
      gtest(STEP + ":" + EXACT_FAST)),
    m("Euler tangent map: (1 - dt) I dropped to I", "tangent map", MODEL,
      "const T beta = map_ ? T(0) : static_cast<T>(1 - dyn_.dt);",
      "const T beta = map_ ? T(0) : static_cast<T>(1);",
      gtest(STEP + ":" + EXACT_FAST + ":" + SUM_RULES)),
    m("tangent map taken at the next state (the state stepped first)", "tangent map", MODEL,
      "    kern_->scale_rows_by_dphi(batch(), n_, k_, h_.get(), q_.get(), s_.get());\n"
      "    const T alpha",
      "    state_step(step);\n"
      "    kern_->scale_rows_by_dphi(batch(), n_, k_, h_.get(), q_.get(), s_.get());\n"
      "    const T alpha",
      gtest(STEP + ":" + SUM_RULES)),
    m("tanh's derivative 1 - tanh instead of 1 - tanh^2", "tangent map", ELEMENTWISE,
      "return T(4) * e / (d * d);", "return T(1) - phi(x);",
      gtest("Elementwise.*:" + STEP + ":" + SUM_RULES)),
    m("GRU: z-gate tangent coefficient of the wrong sign", "tangent map", ELEMENTWISE,
      "coef[GruCoef::z * stride] = dsigmoid(az) * (h - phi(an));",
      "coef[GruCoef::z * stride] = dsigmoid(az) * (phi(an) - h);",
      gtest(STEP + ":Backends/Stacked.*/cpu:TrainedTorch.*")),
    m("stacked layers: the input term of the tangent map dropped", "tangent map",
      "src/core/models/cell.cpp", "    if (l == 0) continue;", "    continue;",
      gtest("Backends/Stacked.*/cpu:StackedTorch.*:" + STEP)),

    # --- re-orthonormalisation -----------------------------------------------------------------
    m("CholeskyQR: the fallback to Householder never taken", "QR", "src/core/qr_policy.hpp",
      "  if (pass == 0 && !(dmax <= max_cond<T> * dmin)) return Pass::fall_back;\n", "",
      gtest("Backends/PrecisionAndQr.Cholesky2*/cpu:Backends/Reorthonormalizers.*/cpu")),
]

CONFIG = engine.Config(
    description=__doc__.splitlines()[0],
    default_work="/tmp/rnnlyap-mutations-core",
    cmake_args=["-DCMAKE_BUILD_TYPE=Release", "-DRNNLYAP_ENABLE_CUDA=OFF",
                "-DRNNLYAP_BUILD_BENCH=OFF", "-DRNNLYAP_ENABLE_MPI=OFF", "-DRNNLYAP_WERROR=OFF",
                "-DPython_EXECUTABLE=" + ("/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                                          else sys.executable)],
    default_targets=["rnnlyap_tests"],  # the library, the program (a dependency) and the tests
    # The copy has no CUDA code: its CUDA instances skip even where the caller requires a device.
    env={"RNNLYAP_REQUIRE_CUDA": "0"},
    has_quick=True,
)

if __name__ == "__main__":
    sys.exit(engine.main(CONFIG, MUTATIONS))
