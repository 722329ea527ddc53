#!/usr/bin/env python3
"""Baseline: the rate-network spectrum as a plain numpy loop, the way the published Python demos
do it (state update, tangent product, np.linalg.qr every t_ons). Same model and schedule as
`rnnlyap spectrum` (rate model, Euler, full or partial spectrum), so the two can be timed side by
side on the same machine and BLAS. Prints one JSON object: seconds and the leading exponents.

    numpy_baseline.py --n 500 --g 3 --dt 0.1 --t-ons 1 --t-warmup 100 --t-ons-warmup 100 --t-sim 400
"""
import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--g", type=float, default=3.0)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--t-ons", type=float, default=1.0)
    ap.add_argument("--t-warmup", type=float, default=100.0)
    ap.add_argument("--t-ons-warmup", type=float, default=100.0)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n, k, dt = a.n, a.k or a.n, a.dt
    steps_per_ons = max(1, round(a.t_ons / dt))
    ons_warmup = round(a.t_ons_warmup / (steps_per_ons * dt))
    ons_sim = max(1, round(a.t_sim / (steps_per_ons * dt)))

    rng = np.random.default_rng(a.seed)
    J = a.g * rng.standard_normal((n, n)) / np.sqrt(n)
    h = rng.standard_normal(n)
    t0 = time.perf_counter()
    for _ in range(round(a.t_warmup / dt)):
        h = (1 - dt) * h + dt * (J @ np.tanh(h))
    Q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    logs = np.zeros(k)
    for ons in range(ons_warmup + ons_sim):
        for _ in range(steps_per_ons):
            dphi = 1.0 / np.cosh(h) ** 2
            Q = (1 - dt) * Q + dt * (J @ (dphi[:, None] * Q))
            h = (1 - dt) * h + dt * (J @ np.tanh(h))
        Q, R = np.linalg.qr(Q)
        if ons >= ons_warmup:
            logs += np.log(np.abs(np.diag(R)))
    seconds = time.perf_counter() - t0
    lam = logs / (ons_sim * steps_per_ons * dt)
    print(json.dumps({"seconds": seconds, "n": n, "k": k, "tangent_steps": (ons_warmup + ons_sim) * steps_per_ons,
                      "max_exponent": float(lam.max()), "mean_exponent": float(lam.mean()),
                      "exponents_head": lam[:5].tolist()}))


if __name__ == "__main__":
    main()
