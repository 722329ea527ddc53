"""Covariant Lyapunov vectors: their growth rates against the exponents, their localisation (N·IPR) and
the angle between the unstable and stable subspaces."""
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt

from .runner import add_common, fmt, model_args, model_label, run_rnnlyap, save, shown_command, tunit, unit


def clv(a):
    with tempfile.TemporaryDirectory(prefix="rnnlyap-clv-") as td:
        vpath = os.path.join(td, "v.npy")
        args = model_args(a) + ["--n", a.n, "--g", fmt(a.g), "--k", a.k, "--seed", a.seed,
                                "--clv", vpath, "--clv-stats"]
        r, wall = run_rnnlyap(a.exe, "spectrum", args)
        V = np.load(vpath)
    c = r["clv"]
    k = len(r["exponents"])
    i = np.arange(1, k + 1)
    lam, se = np.array(r["exponents"]), np.array(r["stderr"])
    gr, gse = np.array(c["exponents"]), np.array(c["stderr"])
    n_ipr = np.array(c["n_ipr"])
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    ax[0].errorbar(i, lam, yerr=2 * se, fmt="o", ms=3.5, capsize=2, label="Benettin λ_i (±2 s.e.)")
    ax[0].errorbar(i + 0.3, gr, yerr=2 * gse, fmt="s", ms=3, capsize=2, mfc="none",
                   label="growth rate of covariant vector v_i")
    ax[0].axhline(0, color="k", lw=0.7)
    ax[0].set_xlabel("i")
    ax[0].set_ylabel(f"({unit(a)})")
    ax[0].set_title("(a) exponents: two estimates")
    ax[0].legend()
    ax[1].plot(i, n_ipr, "o-", ms=3.5)
    ax[1].axhline(3, color="k", lw=0.8, ls="--", label="gaussian random vector: N·IPR = 3")
    ax[1].set_xlabel("i")
    ax[1].set_ylabel("N · IPR(v_i)   (1: spread evenly, N: one neuron)")
    ax[1].set_ylim(bottom=0)
    ax[1].set_title(f"(b) localisation, mean over {c['instants']} instants")
    ax[1].legend()
    ang = c.get("angle")
    if ang:
        q = ang["quantiles"]
        ax[2].bxp([{"whislo": q[0], "q1": q[1], "med": q[2], "q3": q[3], "whishi": q[4], "fliers": [ang["min"]],
                    "label": f"{c['n_unstable']} unstable vs {c['n_stable']} stable"}], showfliers=True)
        ax[2].set_ylim(0, max(0.1, 1.2 * q[4]))
        ax[2].set_ylabel("smallest principal angle (rad)")
        ax[2].set_title("(c) unstable–stable angle: 5/25/50/75/95 %, min")
    else:
        ax[2].text(0.5, 0.5, "no unstable or no stable subspace", ha="center", transform=ax[2].transAxes)
    fig.suptitle(f"Covariant Lyapunov vectors: {model_label(a)}, N = {a.n}, g = {fmt(a.g)}, k = {k}, "
                 f"t_sim = {fmt(a.t_sim)} {tunit(a)} (Ginelli et al. 2007)", y=1.01)
    fig.tight_layout()
    z = np.abs(gr - lam) / np.hypot(se, gse)
    data = {"analysis": "clv", "n": a.n, "g": a.g, "k": k, "command": shown_command("spectrum", args),
            "seconds": wall, "exponents": lam, "stderr": se, "growth_rates": gr, "growth_stderr": gse,
            "n_ipr": n_ipr, "angle": ang, "max_z": float(np.max(z)), "vectors_shape": list(V.shape),
            "column_norms_max_dev": float(np.max(np.abs(np.linalg.norm(V, axis=0) - 1)))}
    save(fig, a, data)
    return (f"clv: N={a.n}, g={fmt(a.g)}, k={k}: growth rates within {np.max(z):.2f} combined s.e. of the "
            f"exponents; N·IPR {n_ipr[0]:.2f} (v_1) … {n_ipr[-1]:.2f} (v_k); "
            + (f"angle median {ang['quantiles'][2]:.3f} rad, min {ang['min']:.3f}" if ang else "no angle")
            + f"; {wall:.1f} s")


def add_parser(sub):
    p = sub.add_parser("clv", help="covariant Lyapunov vectors: growth rates, localisation, angles")
    add_common(p, "clv", models=("rate", "map"), rate_times=(100, 100, 1000), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="neurons (%(default)s)")
    p.add_argument("--g", type=float, default=3.0, help="gain (%(default)s)")
    p.add_argument("--k", type=int, default=40, help="exponents and vectors (%(default)s)")
    p.set_defaults(func=clv)
