#!/usr/bin/env python3
"""Plants one bug at a time in a copy of the CUDA executor and reports whether the emulated device's
tests catch it (tests/emulation/README.md, "Mutations"). Run by hand, never in the product:

    python3 tests/emulation/mutations.py [--work DIR] [--only NAME ...] [--list]

The copy of the tree (tracked and untracked files, no build folders) and its emulated build live in
DIR (default /tmp/rnnlyap-mutations); each mutation edits one file there, rebuilds what changed, runs
the tests named for it, and restores the file. A mutation is "caught" when a test fails (a wrong
number, or the emulator's contract report) or it does not compile; "survived" when every test
passes. The copy, rebuild and verdicts are tests/mutations/engine.py's, shared with the mutations
of the core algorithm (tests/mutations/run.py).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "mutations"))
import engine  # noqa: E402  (tests/mutations/engine.py: copy, rebuild, run, restore)

# The CUDA tests a mutation is judged by: the emulator's kernel tests and the CUDA instances that
# take seconds on the emulated device (gtest filters of the two binaries).
FAST = ("*/CudaAgainstCpu.StepsAndReorthonormalisationsAgree/*:CudaAgainstCpuShapes.*:"
        "*/Reorthonormalizers.*/cuda:*/PropagatorStep.*cuda*:*/PropagatorBatch.*cuda*:"
        "*/ClvRFactor.*/cuda:*/PrecisionAndQr.Cholesky2FallsBack*/cuda:"
        "*/PrecisionAndQr.Cholesky2PathIsChosen*/cuda:*/Stacked.*/cuda:Checkpoint.*Cuda*:"
        "CudaExecutor.*")
FAST_KERNELS = "EmulatedKernels.*"

# (name, class, file, text, replacement). Each text must occur exactly once in its file.
MUTATIONS = [
    ("block_row_dot: first barrier removed", "missing barrier", "src/cuda/device_math.cuh",
     "    __syncthreads();  // the previous tile is summed (or the previous call is done with it)\n",
     ""),
    ("block_row_dot: second barrier removed", "missing barrier", "src/cuda/device_math.cuh",
     "    if (t < kDotCols) xs[t] = xr;\n    __syncthreads();\n",
     "    if (t < kDotCols) xs[t] = xr;\n"),
    ("form_q: barrier after the column update removed", "missing barrier", "src/cuda/qr_kernels.cu",
     "      __syncthreads();  // every column has read v_j\n", ""),
    ("cholesky_check: reduction barrier removed", "missing barrier", "src/cuda/qr_kernels.cu",
     "    }\n    __syncthreads();\n  }\n  const bool fail", "    }\n  }\n  const bool fail"),
    ("block_row_dot: tile column off by one", "off-by-one tile index", "src/cuda/device_math.cuh",
     "const int c = c0 + warp + kWarps * u;", "const int c = c0 + warp + kWarps * u + 1;"),
    ("block_row_dot: last partial tile one column short", "off-by-one tile index",
     "src/cuda/device_math.cuh", "const int m = n - c0 < kDotCols ? n - c0 : kDotCols;",
     "const int m = n - c0 < kDotCols ? n - c0 - 1 : kDotCols;"),
    ("RowBlock: rows per block off by one", "off-by-one tile index", "src/cuda/device_math.cuh",
     "rows = n - r0 < kDotRows ? n - r0 : kDotRows;", "rows = n - r0 < kDotRows ? n - r0 - 1 : kDotRows;"),
    ("form_q: shuffle mask leaves out lane 31", "wrong mask", "src/cuda/qr_kernels.cu",
     "__shfl_down_sync(0xffffffffu, dot, off)", "__shfl_down_sync(0x7fffffffu, dot, off)"),
    ("form_q: broadcast from lane 1", "wrong shuffle source", "src/cuda/qr_kernels.cu",
     "__shfl_sync(0xffffffffu, dot, 0)", "__shfl_sync(0xffffffffu, dot, 1)"),
    ("geqrf: leading dimension k instead of m", "wrong leading dimension", "src/cuda/cuda_linalg.hpp",
     "cusolverDnDgeqrf, cusolverDnSgeqrf, h, m, k, a, m, tau",
     "cusolverDnDgeqrf, cusolverDnSgeqrf, h, m, k, a, k, tau"),
    ("trsm: leading dimension of B one short", "wrong leading dimension", "src/cuda/cuda_linalg.hpp",
     "CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, k, &one, r, k, b, m);",
     "CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, k, &one, r, k, b, m - 1);"),
    ("gemm: product's leading dimension of C too small", "wrong leading dimension",
     "src/cuda/cuda_executor.cpp", "beta, c, ldc, stride_c, batch);", "beta, c, ldc - 1, stride_c, batch);"),
    ("householder_logs: pinned host verdicts as the sticky word", "host pointer for a device pointer",
     "src/cuda/cuda_reorthonormalizer.cpp",
     "max_ratio_.get() + o, slot(kInfoGeqrf), slot(kStickyGeqrf), s);",
     "max_ratio_.get() + o, slot(kInfoGeqrf), skip_.data(), s);"),
    ("copy_out_blocking: device-to-host named host-to-device", "wrong copy direction",
     "src/cuda/cuda_executor.cpp", "cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream())",
     "cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream())"),
    ("copy_out_blocking: stream sync removed", "missing stream sync", "src/cuda/cuda_executor.cpp",
     "    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream()));\n"
     "    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));\n",
     "    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream()));\n"),
    ("CholeskyQR: verdicts read without the event sync", "missing stream sync",
     "src/cuda/cuda_reorthonormalizer.cpp",
     "    RNNLYAP_CUDA_CHECK(cudaEventSynchronize(verdicts_ready_.get()));\n", ""),
    ("take_log_sums: logs read without the stream sync", "missing stream sync",
     "src/cuda/cuda_reorthonormalizer.cpp",
     "                                       cudaMemcpyDeviceToHost, ctx_.stream()));\n"
     "    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));\n    zero(logs_);",
     "                                       cudaMemcpyDeviceToHost, ctx_.stream()));\n    zero(logs_);"),
    ("free_bytes: freed without waiting for the stream", "free under queued work",
     "src/cuda/cuda_executor.cpp", "    ctx_.quiesce();  // the stream's work may still use it\n", ""),
    ("potrf: lower triangle instead of upper", "wrong fill mode", "src/cuda/cuda_linalg.hpp",
     "cusolverDnDpotrf, cusolverDnSpotrf, h, CUBLAS_FILL_MODE_UPPER,",
     "cusolverDnDpotrf, cusolverDnSpotrf, h, CUBLAS_FILL_MODE_LOWER,"),
    ("geqrf/orgqr: workspace one element short", "workspace smaller than its query",
     "src/cuda/cuda_linalg.hpp", "h, m, k, a, m, tau, work,\n             lwork, info);",
     "h, m, k, a, m, tau, work,\n             lwork - 1, info);"),
    ("batched QR: tau pointers point at the bases", "wrong pointer array",
     "src/cuda/cuda_reorthonormalizer.cpp",
     "la::geqrf_batched(ctx_.blas(), p_.rows, p_.k, ptrs(0), ptrs(1), p_.batch);",
     "la::geqrf_batched(ctx_.blas(), p_.rows, p_.k, ptrs(0), ptrs(0), p_.batch);"),
    ("scale_rows: phi' applied twice", "element-wise kernel", "src/cuda/state_kernels.cu",
     "s[o] = d * q[o];", "s[o] = d * d * q[o];"),
    ("rk4_combine: stage weight doubled", "element-wise kernel", "src/cuda/state_kernels.cu",
     "acc[o] = (stage == 0 ? qv : acc[o]) + w * kv;",
     "acc[o] = (stage == 0 ? qv : acc[o]) + (w + w) * kv;"),
    ("cell_form_e: GRU's z-gate column off by one unit", "element-wise kernel",
     "src/cuda/cell_kernels.cu", "slot(GruCoef::z) * w[un + i] + cn * w[2 * un + i];",
     "slot(GruCoef::z) * w[un + i + 1] + cn * w[2 * un + i];"),
    ("cell_diagonal: LSTM c-row factor dropped", "element-wise kernel", "src/cuda/cell_kernels.cu",
     "qn[o + un] = keep * q[o + un];", "qn[o + un] = q[o + un];"),
    ("column_grid: y over 65535 allowed", "grid limit", "src/cuda/device_math.cuh",
     "return dim3(row_blocks, cols > 65535u ? 65535u : cols);",
     "return dim3(row_blocks, cols > 65535u ? 65535u : cols + 70000u);"),
]


def annotate(log_text):
    return " (emulator report)" if "contract violation" in log_text else " (test assertion)"


CONFIG = engine.Config(
    description=__doc__.splitlines()[0],
    default_work="/tmp/rnnlyap-mutations",
    cmake_args=["-DCMAKE_BUILD_TYPE=Release", "-DRNNLYAP_CUDA_EMULATION=ON",
                "-DRNNLYAP_BUILD_BENCH=OFF", "-DRNNLYAP_BUILD_PYTHON=OFF"],
    default_targets=["rnnlyap_tests", "rnnlyap_emulation_tests"],
    default_checks=[engine.gtest(FAST, "tests/rnnlyap_tests"),
                    engine.gtest(FAST_KERNELS, "tests/emulation/rnnlyap_emulation_tests")],
    env={"RNNLYAP_REQUIRE_CUDA": "1"},
    build_failure_caught=True,
    annotate=annotate,
    timeout=600,
    rebuild_at_end=True,
)

if __name__ == "__main__":
    sys.exit(engine.main(CONFIG, [engine.Mutation(*t) for t in MUTATIONS]))
