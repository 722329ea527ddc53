#!/usr/bin/env python3
"""Baseline: the rate-network spectrum as a plain PyTorch loop on the GPU, fp64, the way one would
write it by hand (cf. bench/numpy_baseline.py on the CPU): every Euler step

    Q <- (1 - dt) Q + dt J (phi'(h)[:, None] * Q),   h <- (1 - dt) h + dt J tanh(h),

with phi'(h) = 1/cosh(h)^2, torch.linalg.qr every t_ons and log|diag R| accumulated on the device
after the basis warm-up. Same model and schedule as `rnnlyap spectrum` (rate model, Euler, gaussian
J with variance g^2/N), so the two can be timed side by side on one GPU. The weights come from
torch's generator, not rnnlyap's, so the exponents agree statistically, not digit for digit.
Prints one JSON object: seconds (device synchronised around the timed region) and the exponents.
With --max-seconds the loop stops after the first re-orthonormalisation past that time (the device
is then synchronised at every one) and reports the steps it did ("completed": false), so that a
per-step time can be had from a schedule too long for the time at hand.

    torch_baseline.py --n 4096 --g 3 --dt 0.25 --t-ons 0.5 --t-warmup 100 --t-ons-warmup 200 \
        --t-sim 2000 --device cuda
"""
import argparse
import json
import math
import time

import torch


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def emit(a, result):
    """Prints the result object, and writes it to --out-json when given."""
    line = json.dumps(result)
    print(line)
    if a.out_json:
        with open(a.out_json, "w") as f:
            f.write(line + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--g", type=float, default=3.0)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--t-ons", type=float, default=1.0)
    ap.add_argument("--t-warmup", type=float, default=100.0)
    ap.add_argument("--t-ons-warmup", type=float, default=100.0)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="stop after this many seconds of the timed loop (per-step timing)")
    ap.add_argument("--out-json", default=None,
                    help="also write the result object to this file")
    a = ap.parse_args()

    device = torch.device(a.device)
    dtype = torch.float64
    n, k, dt = a.n, a.k or a.n, a.dt
    # The schedule of src/core/options.cpp (make_schedule): steps = round(t / dt).
    steps_per_ons = max(1, round(a.t_ons / dt))
    ons_time = steps_per_ons * dt
    warmup_steps = round(a.t_warmup / dt)
    ons_warmup = round(a.t_ons_warmup / ons_time)
    ons_sim = max(1, round(a.t_sim / ons_time))

    gen = torch.Generator(device=device).manual_seed(a.seed)
    J = a.g / math.sqrt(n) * torch.randn(n, n, generator=gen, device=device, dtype=dtype)
    h = torch.randn(n, generator=gen, device=device, dtype=dtype)
    Q0 = torch.randn(n, k, generator=gen, device=device, dtype=dtype)

    # Library initialisation (cuBLAS/cuSOLVER handles, kernel loading) is not timed.
    _ = torch.linalg.qr(torch.randn(64, 32, generator=gen, device=device, dtype=dtype))
    _ = J[:64, :64] @ J[:64, :64]
    sync(device)

    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(warmup_steps):
            h = (1 - dt) * h + dt * (J @ torch.tanh(h))
        Q, _ = torch.linalg.qr(Q0)
        logs = torch.zeros(k, device=device, dtype=dtype)
        done = 0
        for ons in range(ons_warmup + ons_sim):
            for _ in range(steps_per_ons):
                dphi = 1.0 / torch.cosh(h) ** 2
                Q = (1 - dt) * Q + dt * (J @ (dphi[:, None] * Q))
                h = (1 - dt) * h + dt * (J @ torch.tanh(h))
            Q, R = torch.linalg.qr(Q)
            if ons >= ons_warmup:
                logs += torch.log(torch.abs(torch.diagonal(R)))
            done = ons + 1
            if a.max_seconds is not None:
                sync(device)
                if time.perf_counter() - t0 > a.max_seconds:
                    break
        averaged = max(0, done - ons_warmup)
        lam = (logs / (max(1, averaged) * steps_per_ons * dt)).cpu()
        if averaged == 0:
            lam = torch.full((k,), float("nan"), dtype=dtype)
    sync(device)
    seconds = time.perf_counter() - t0

    emit(a, {
        "seconds": seconds,
        "n": n,
        "k": k,
        "tangent_steps": done * steps_per_ons,
        "qr_count": done + 1,
        "state_warmup_steps": warmup_steps,
        "completed": done == ons_warmup + ons_sim,
        "seconds_per_step": seconds / max(1, done * steps_per_ons),
        "max_exponent": float(lam.max()),
        "mean_exponent": float(lam.mean()),
        "exponents_head": lam[:5].tolist(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    })


if __name__ == "__main__":
    main()
