"""Map model: the largest exponent λ_1 against ½ ln(g²⟨φ′²⟩), with ⟨φ′²⟩ from a numpy run of the same
matrix and from the N → ∞ mean field."""
import os
import tempfile
import time

import numpy as np
import matplotlib.pyplot as plt

from .runner import add_common, floats, fmt, model_args, run_rnnlyap, save, shown_command


def dphi(h):
    """φ'(h) = 1/cosh²(h), written without overflow or cancellation."""
    e = np.exp(-2.0 * np.abs(h))
    return 4.0 * e / (1.0 + e) ** 2


def map_phi_prime_sq(J, rng, warm, steps):
    """⟨φ'(h)²⟩ over neurons and time along a trajectory of h ← J tanh(h)."""
    n = J.shape[0]
    h = rng.standard_normal(n)
    for _ in range(warm):
        h = J @ np.tanh(h)
    acc = 0.0
    for _ in range(steps):
        h = J @ np.tanh(h)
        acc += float(np.mean(dphi(h) ** 2))
    return acc / steps


def mean_field_map(g, nodes=121):
    """N → ∞ (static mean field) of the map: Δ = g² ⟨tanh²(√Δ z)⟩, then ⟨φ'(√Δ z)²⟩."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    delta = max(g * g, 1.0)
    for _ in range(2000):
        new = g * g * float(np.sum(w * np.tanh(np.sqrt(delta) * z) ** 2))
        if abs(new - delta) < 1e-13:
            break
        delta = new
    return float(np.sum(w * dphi(np.sqrt(delta) * z) ** 2))


def lambda1(a):
    gs = floats(a.g)
    n = a.n
    rows = []
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="rnnlyap-lambda1-") as td:
        for j, g in enumerate(gs):
            rng = np.random.default_rng([a.seed, j])
            J = rng.normal(0.0, g / np.sqrt(n), size=(n, n))
            path = os.path.join(td, f"J_{j}.npy")
            np.save(path, J)
            args = model_args(a) + ["--weights", "file", "--weights-file", path, "--k", 1, "--seed", a.seed]
            r, wall = run_rnnlyap(a.exe, "spectrum", args)
            total += wall
            t0 = time.perf_counter()
            p2 = map_phi_prime_sq(J, rng, a.np_warmup, a.np_steps)
            total += time.perf_counter() - t0
            lam = float(r["exponents"][0])
            rows.append({"g": g, "lambda1": lam, "lambda1_stderr": float(r["stderr"][0]), "phi_prime_sq": p2,
                         "formula": 0.5 * np.log(g * g * p2),
                         "g_empirical": float(np.sqrt(np.sum(J * J) / n)),
                         "command": shown_command("spectrum", args).replace(path, "J.npy"), "seconds": wall})
    g = np.array(gs)
    lam = np.array([r["lambda1"] for r in rows])
    se = np.array([r["lambda1_stderr"] for r in rows])
    form = np.array([r["formula"] for r in rows])
    gg = np.linspace(1.0, max(gs) * 1.05, 120)
    mf = np.array([0.5 * np.log(x * x * mean_field_map(x)) for x in gg])

    fig, ax = plt.subplots(1, 2, figsize=(11.5, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    ax[0].plot(gg, mf, "-", color="gray", lw=1, label="½ ln(g²⟨φ′²⟩), ⟨φ′²⟩ from N→∞ mean field")
    ax[0].plot(g, form, "s", mfc="none", color="C1", ms=8, mew=1.5,
               label="½ ln(g²⟨φ′²⟩), ⟨φ′²⟩ from a numpy run of the same J")
    ax[0].errorbar(g, lam, yerr=2 * se, fmt="o", color="C0", capsize=3, label="rnnlyap λ_1 (--k 1), ± 2 s.e.")
    ax[0].axhline(0, color="k", lw=0.7)
    ax[0].set_xlabel("g")
    ax[0].set_ylabel("λ_1  (1/step)")
    ax[0].set_title(f"(a) map h ← J tanh(h), N = {n}, J_ij ~ N(0, g²/N)")
    ax[0].legend(loc="upper left")
    ax[1].errorbar(g, lam - form, yerr=2 * se, fmt="o-", color="C0", capsize=3)
    ax[1].axhline(0, color="k", lw=0.7)
    ax[1].set_xlabel("g")
    ax[1].set_ylabel("λ_1 − ½ ln(g²⟨φ′²⟩)  (1/step)")
    ax[1].set_title("(b) difference (± 2 s.e. of λ_1)")
    fig.suptitle(f"Discrete-time largest exponent: t_sim = {fmt(a.t_sim)} steps; ⟨φ′²⟩ over "
                 f"{a.np_steps} numpy steps after {a.np_warmup}", y=1.01)
    fig.tight_layout()
    data = {"analysis": "lambda1", "n": n, "rows": rows, "seconds": total,
            "mean_field": {"g": gg, "formula": mf}}
    save(fig, a, data)
    diffs = lam - form
    return ("lambda1: N=%d map: " % n
            + ", ".join(f"g={fmt(x)}: λ1={l:.4f}±{s:.4f} vs {f:.4f}" for x, l, s, f in zip(g, lam, se, form))
            + f"; max |diff| = {np.max(np.abs(diffs)):.4f} ({np.max(np.abs(diffs) / se):.1f} s.e.); {total:.1f} s")


def add_parser(sub):
    p = sub.add_parser("lambda1", help="map model: λ_1 against ½ ln(g²⟨φ′²⟩)")
    add_common(p, "lambda1", model="map", models=("map",), map_times=(500, 200, 5000))
    p.add_argument("--n", type=int, default=1000, help="%(default)s")
    p.add_argument("--g", default="1.2,1.5,2,2.5,3", help="gains (%(default)s)")
    p.add_argument("--np-warmup", type=int, default=500, help="numpy warm-up steps for ⟨φ′²⟩ (%(default)s)")
    p.add_argument("--np-steps", type=int, default=2000, help="numpy steps averaged for ⟨φ′²⟩ (%(default)s)")
    p.set_defaults(func=lambda1)
