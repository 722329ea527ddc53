#!/usr/bin/env python3
"""Each reference job's whole-run time as a multiple of its flop floor, for 1 … T threads.

The floor of a job is its flop count divided by this machine's dgemm rate at the job's size and
thread count (`rnnlyap_bench_cpu`'s BM_Dgemm, the BLAS call the CPU executor makes, with the BLAS's
own threads; the best of three readings): the time the run would take if every flop ran at
square-dgemm speed. Flops counted (fp64, k exponents, N units):
  tangent step, rate Euler / map:  2N²k  (one N×N by N×k product; element-wise work left out)
  tangent step, LSTM (2N state):   8N²k  (the 4N×N recurrent weights by the N×k h-part of the basis)
  Householder QR and forming Q:    2(2Nk² − 2k³/3)  (geqrf + orgqr; the rows are 2N for the LSTM)
  one CholeskyQR pass:             2Nk² + k³/3      (syrk, potrf, triangular solve)
The counts of tangent steps are those the run reports (timing.tangent_steps).
Each QR is counted as it was taken (the result's timing.qr_paths: one CholeskyQR pass, two, or
Householder); a failed Cholesky before a fallback is not counted, and shows as time above the floor.

Peers, timed in the same run on the same BLAS and threads: the rate N = 400 job against the paper
authors' demo-style numpy loop (bench/numpy_baseline.py, same model and schedule; its own timer,
which leaves out Python's start-up) and the LSTM job against the plain PyTorch loop
(bench/torch_lstm_baseline.py, analytic Jacobian, one sequence at a time; the faster of its two).

    /usr/bin/python3 bench/flop_floor.py [--build build] [--threads 1,2] [--quick] [--only NAME]
                                         [--qr METHOD] [--no-peers] [--baseline EXE] [--out F.json]

--baseline EXE runs another `rnnlyap` program (an earlier build, say) on every job right after
ours, same arguments and threads, and prints its time beside ours: side by side on a shared machine.

Prints one table (job, threads, seconds, floor, time/floor, peer) and writes the numbers as JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# name, size for the dgemm rate, CLI arguments, flops(result) -> tangent flops per step and QR flops
# per QR, members. Schedules keep each job to about 10–40 s on one thread of a 2.6 GHz core.
JOBS = [
    ("rate N=400 full", 400, "--n 400 --g 3 --dt 0.1 --t-ons 1 --t-warmup 30 --t-ons-warmup 30 --t-sim 300"),
    ("rate N=1000 full", 1000, "--n 1000 --g 3 --dt 0.1 --t-ons 1 --t-warmup 10 --t-ons-warmup 5 --t-sim 50"),
    ("rate N=2000 full", 2000, "--n 2000 --g 3 --dt 0.1 --t-ons 1 --t-warmup 2 --t-ons-warmup 1 --t-sim 10"),
    ("rate N=800 QR every step", 800,
     "--n 800 --g 3 --dt 0.1 --t-ons 0.1 --t-warmup 10 --t-ons-warmup 1 --t-sim 20"),
    ("map ensemble 64 x N=100", 100,
     "--model map --n 100 --g 3 --ensemble 64 --t-warmup 100 --t-ons-warmup 100 --t-sim 1000"),
    ("trained LSTM N=512, 10 sequences", 1024, "LSTM"),
]
QUICK = {"rate N=2000 full": "--n 2000 --g 3 --dt 0.1 --t-ons 1 --t-warmup 1 --t-ons-warmup 1 --t-sim 3"}


def qr_flops(rows, k, paths):
    """The flops of the QRs a run took, from its timing.qr_paths."""
    householder = 2.0 * (2.0 * rows * k * k - 2.0 * k ** 3 / 3.0)
    one_pass = 2.0 * rows * k * k + k ** 3 / 3.0
    return (paths["householder"] * householder + paths["cholesky_one_pass"] * one_pass +
            paths["cholesky_two_passes"] * 2 * one_pass)


def dgemm_rates(bench, threads, repetitions=3):
    """{n: GFLOP/s} from BM_Dgemm with `threads` BLAS threads: the best of `repetitions` (on a
    shared machine single readings of the two-thread rate varied by ±15 %; the best is the rate
    the machine can give, so the floor does not move with the neighbours)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([bench, "--benchmark_filter=^BM_Dgemm/", "--benchmark_min_time=0.3",
                        f"--benchmark_repetitions={repetitions}",
                        f"--benchmark_out={f.name}", "--benchmark_out_format=json"],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = json.load(open(f.name))["benchmarks"]
    rates = {}
    for x in b:
        if x.get("run_type", "iteration") != "iteration":
            continue  # the aggregates (mean, median, stddev)
        n = int(x["name"].split("/")[1])
        rates[n] = max(rates.get(n, 0.0), x["GFLOP/s"])
    return rates


def lstm_files(d, hidden=512, steps=30, batch=10):
    import torch
    torch.manual_seed(0)
    m = torch.nn.LSTM(4, hidden, batch_first=True)
    np.savez(f"{d}/W.npz", **{k: v.detach().double().numpy() for k, v in m.state_dict().items()})
    np.save(f"{d}/X.npy", np.random.default_rng(0).standard_normal((batch, steps, 4)))
    return (f"--model lstm --weights-file {d}/W.npz --inputs {d}/X.npy "
            "--t-warmup 5 --t-ons-warmup 5")


def run_job(exe, args, threads):
    """The result and the whole run's wall time (start-up, weights and warm-up included)."""
    t0 = time.perf_counter()
    out = subprocess.run([exe, "spectrum", *args.split(), "--backend", "cpu", "--threads",
                          str(threads), "--quiet"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout), time.perf_counter() - t0


def flops_of(r, lstm):
    """Tangent and QR flops of a result; timing counts the steps and QRs of every member (an
    ensemble's networks, a batch's sequences)."""
    k = len(r["exponents"])
    steps, paths = r["timing"]["tangent_steps"], r["timing"]["qr_paths"]
    if lstm:
        n = k // 2
        return steps * 8.0 * n * n * k + qr_flops(2 * n, k, paths)
    n = r["params"]["n"]
    return steps * 2.0 * n * n * k + qr_flops(n, k, paths)


def peer_seconds(name, args, threads, lstm_dir):
    """The peer's time for this job (None where it has none): its own timer's seconds."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if name.startswith("rate N=400"):
        cmd = [sys.executable, os.path.join(here, "numpy_baseline.py"),
               *args.split()]
    elif name.startswith("trained LSTM"):
        cmd = [sys.executable, os.path.join(here, "torch_lstm_baseline.py"), "--weights",
               f"{lstm_dir}/W.npz", "--inputs", f"{lstm_dir}/X.npy", "--t-warmup", "5",
               "--t-ons-warmup", "5", "--jacobian", "analytic"]
    else:
        return None
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true", help="a shorter N = 2000 job")
    ap.add_argument("--only", default="", help="run the jobs whose name contains this")
    ap.add_argument("--qr", default="", help="pass --qr METHOD to every job (default: the program's)")
    ap.add_argument("--no-peers", action="store_true", help="leave out the numpy and torch loops")
    ap.add_argument("--baseline", default="",
                    help="another rnnlyap program run on every job right after this build's")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    exe = os.path.join(a.build, "src", "cli", "rnnlyap")
    bench = os.path.join(a.build, "bench", "rnnlyap_bench_cpu")
    for p in (exe, bench) + ((a.baseline,) if a.baseline else ()):
        if not os.access(p, os.X_OK):
            sys.exit(f"flop_floor.py: {p} is not built (cmake --build {a.build})")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        lstm_args = None
        for threads in (int(t) for t in a.threads.split(",")):
            rates = dgemm_rates(bench, threads)
            print(f"== {threads} thread(s): dgemm GFLOP/s " +
                  ", ".join(f"N={n} {g:.1f}" for n, g in sorted(rates.items())), flush=True)
            for name, size, args in JOBS:
                if a.only and a.only not in name:
                    continue
                lstm = args == "LSTM"
                if lstm:
                    lstm_args = lstm_args or lstm_files(d)
                    args = lstm_args
                if a.quick:
                    args = QUICK.get(name, args)
                job_args = args + (f" --qr {a.qr}" if a.qr else "")
                r, seconds = run_job(exe, job_args, threads)
                base = run_job(a.baseline, job_args, threads)[1] if a.baseline else None
                flops = flops_of(r, lstm)
                floor = flops / (rates[size] * 1e9)
                peer = None if a.no_peers else peer_seconds(name, args, threads, d)
                rows.append(dict(job=name, threads=threads, seconds=seconds, flops=flops,
                                 dgemm_gflops=rates[size], floor=floor, ratio=seconds / floor,
                                 qr=r["params"]["qr"], qr_paths=r["timing"]["qr_paths"],
                                 peer_seconds=peer, baseline_seconds=base))
                print(f"  {name:34s} {seconds:8.2f} s  floor {floor:8.2f} s  "
                      f"({flops / 1e9:9.1f} GFLOP at {rates[size]:6.1f} GFLOP/s)  "
                      f"time/floor {seconds / floor:5.2f}  QRs 1/2/H " +
                      "/".join(str(r["timing"]["qr_paths"][p]) for p in
                               ("cholesky_one_pass", "cholesky_two_passes", "householder")) +
                      (f"  peer {peer:8.2f} s ({peer / seconds:4.2f}x)" if peer else "") +
                      (f"  baseline {base:8.2f} s ({base / seconds:4.2f}x)" if base else ""),
                      flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
