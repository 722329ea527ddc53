#!/usr/bin/env python3
"""Plants one bug at a time in a copy of the CUDA executor and reports whether the emulated device's
tests catch it (tests/emulation/README.md, "Mutations"). Run by hand, never in the product:

    python3 tests/emulation/mutations.py [--work DIR] [--only NAME ...] [--list]

The copy of the tree (tracked and untracked files, no build folders) and its emulated build live in
DIR (default /tmp/rnnlyap-mutations); each mutation edits one file there, rebuilds what changed, runs
the tests named for it, and restores the file. A mutation is "caught" when a test fails (a wrong
number, or the emulator's contract report); "survived" when every test passes.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
     "logs_.get() + static_cast<std::size_t>(b) * p_.k, slot(kInfoGeqrf),\n                              slot(kStickyGeqrf), s);",
     "logs_.get() + static_cast<std::size_t>(b) * p_.k, slot(kInfoGeqrf),\n                              skip_.data(), s);"),
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
     "src/cuda/cell_kernels.cu", "coef[un + i] * w[un + i] + cn * w[2 * un + i];",
     "coef[un + i] * w[un + i + 1] + cn * w[2 * un + i];"),
    ("cell_diagonal: LSTM c-row factor dropped", "element-wise kernel", "src/cuda/cell_kernels.cu",
     "qn[o + un] = c3 * q[o + un];", "qn[o + un] = q[o + un];"),
    ("column_grid: y over 65535 allowed", "grid limit", "src/cuda/device_math.cuh",
     "return dim3(row_blocks, cols > 65535u ? 65535u : cols);",
     "return dim3(row_blocks, cols > 65535u ? 65535u : cols + 70000u);"),
]


def run(cmd, cwd, timeout=None, log=None):
    with open(log, "w") if log else open(os.devnull, "w") as out:
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return 124


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for f in files:
        if not os.path.isfile(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, f)) or dst, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/rnnlyap-mutations")
    ap.add_argument("--only", nargs="*", help="substrings of mutation names to run")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per mutation's test run")
    a = ap.parse_args()
    chosen = [m for m in MUTATIONS if not a.only or any(o in m[0] for o in a.only)]
    if a.list:
        for m in chosen:
            print(f"{m[1]:34} {m[0]}")
        return 0
    src, build = os.path.join(a.work, "src"), os.path.join(a.work, "build")
    shutil.rmtree(src, ignore_errors=True)
    copy_tree(src)
    for name, _, path, text, _ in chosen:  # every text still matches the source
        if open(os.path.join(src, path)).read().count(text) != 1:
            print(f"mutation '{name}': its text no longer occurs once in {path}", file=sys.stderr)
            return 2
    if run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
            "-DRNNLYAP_CUDA_EMULATION=ON", "-DRNNLYAP_BUILD_BENCH=OFF", "-DRNNLYAP_BUILD_PYTHON=OFF"],
           a.work, log=os.path.join(a.work, "configure.log")) != 0:
        print("configure failed: see configure.log", file=sys.stderr)
        return 1
    targets = ["--target", "rnnlyap_tests", "rnnlyap_emulation_tests"]
    jobs = str(os.cpu_count() or 2)
    if run(["cmake", "--build", build, "-j", jobs] + targets, a.work,
           log=os.path.join(a.work, "build.log")) != 0:
        print("the unmutated build failed: see build.log", file=sys.stderr)
        return 1
    tests = [os.path.join(build, "tests", "rnnlyap_tests"),
             os.path.join(build, "tests", "emulation", "rnnlyap_emulation_tests")]
    env = dict(os.environ, RNNLYAP_REQUIRE_CUDA="1")

    def suite(log):
        codes = []
        for exe, flt in zip(tests, (FAST, FAST_KERNELS)):
            with open(log, "a") as out:
                try:
                    codes.append(subprocess.run([exe, f"--gtest_filter={flt}"], env=env, stdout=out,
                                                stderr=subprocess.STDOUT, timeout=a.timeout).returncode)
                except subprocess.TimeoutExpired:
                    codes.append(124)
        return codes

    base = suite(os.path.join(a.work, "baseline.log"))
    if any(base):
        print("the unmutated tests fail: see baseline.log", file=sys.stderr)
        return 1
    results = []
    for i, (name, cls, path, text, repl) in enumerate(chosen):
        full = os.path.join(src, path)
        original = open(full).read()
        open(full, "w").write(original.replace(text, repl))
        log = os.path.join(a.work, f"mutation-{i:02d}.log")
        t0 = time.time()
        if run(["cmake", "--build", build, "-j", jobs] + targets, a.work, log=log) != 0:
            verdict = "caught (does not compile)"
        else:
            codes = suite(log)
            verdict = "caught" if any(codes) else "SURVIVED"
            if any(c == 124 for c in codes):
                verdict = "caught (timed out)"
        open(full, "w").write(original)
        how = ""
        if verdict == "caught":
            text_log = open(log, errors="replace").read()
            how = " (emulator report)" if "contract violation" in text_log else " (test assertion)"
        results.append((name, cls, verdict + how))
        print(f"[{i + 1}/{len(chosen)}] {verdict + how:36} {cls:34} {name}  ({time.time() - t0:.0f} s)",
              flush=True)
    run(["cmake", "--build", build, "-j", jobs] + targets, a.work)  # back to the unmutated build
    survived = [r for r in results if r[2].startswith("SURVIVED")]
    print(f"\n{len(results) - len(survived)} caught, {len(survived)} survived of {len(results)}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
