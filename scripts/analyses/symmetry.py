"""Point symmetry: pair sums λ_i + λ_(N+1−i) of one spectrum against i/N, with 2 × the mean exponent
(and for the rate model the continuous-time value −2/τ and the Euler value 2 ln(1−dt)/dt)."""
import numpy as np
import matplotlib.pyplot as plt

from .runner import add_common, fmt, model_args, model_label, run_rnnlyap, save, shown_command, tunit, unit


def symmetry(a):
    args = model_args(a) + ["--n", a.n, "--g", fmt(a.g), "--seed", a.seed]
    r, wall = run_rnnlyap(a.exe, "spectrum", args)
    ex = np.array(r["exponents"])
    n = len(ex)
    se = np.array(r["stderr"])
    x = np.arange(1, n + 1) / n
    pair = ex + ex[::-1]
    pair_se = np.sqrt(se ** 2 + se[::-1] ** 2)
    mean = float(r["summary"]["mean_exponent"])
    dev = pair - 2 * mean
    half = slice(0, n // 2)
    max_dev = float(np.max(np.abs(dev[half])))
    rms_dev = float(np.sqrt(np.mean(dev[half] ** 2)))
    spread = float(ex[0] - ex[-1])
    euler = 2 * np.log(1 - a.dt) / a.dt if (a.model == "rate" and a.integrator == "euler") else None

    fig, ax = plt.subplots(1, 2, figsize=(11.5, 4.2))
    ax[0].plot(x, ex, "-", color="C0", lw=1.6, label="λ_i")
    ax[0].plot(x, 2 * mean - ex[::-1], "--", color="C3", lw=1.4, label="2⟨λ⟩ − λ_(N+1−i)  (reflected)")
    ax[0].axhline(mean, color="gray", lw=0.8, ls=":", label=f"mean exponent ⟨λ⟩ = {mean:.4f}")
    ax[0].axhline(0, color="k", lw=0.7)
    ax[0].set_xlabel("i / N")
    ax[0].set_ylabel(f"λ_i  ({unit(a)})")
    ax[0].set_title("(a) spectrum and its point reflection through (½, ⟨λ⟩)")
    ax[0].legend(loc="lower left")
    ax[1].fill_between(x[half], (pair - 2 * pair_se)[half], (pair + 2 * pair_se)[half], color="C0", alpha=0.25,
                       lw=0, label="± 2 s.e.")
    ax[1].plot(x[half], pair[half], "-", color="C0", lw=1.4, label="λ_i + λ_(N+1−i)")
    ax[1].axhline(2 * mean, color="C3", lw=1.3, label=f"2 × mean exponent = {2 * mean:.4f}")
    if a.model == "rate":
        ax[1].axhline(-2.0, color="k", lw=1.0, ls="--", label="−2/τ (continuous time)")
        if euler is not None:
            ax[1].axhline(euler, color="C2", lw=1.0, ls=":", label=f"2 ln(1−dt)/dt = {euler:.4f} (Euler)")
    ax[1].set_xlabel("i / N  (pairs i ≤ N/2)")
    ax[1].set_ylabel(f"λ_i + λ_(N+1−i)  ({unit(a)})")
    ax[1].set_title(f"(b) pair sums: max |dev| = {max_dev:.3f}, RMS = {rms_dev:.3f}")
    lo = min(float(np.min(pair[half])), 2 * mean, -2.0 if a.model == "rate" else 2 * mean)
    hi = max(float(np.max(pair[half])), 2 * mean)
    pad = max(0.05, 0.3 * (hi - lo))
    ax[1].set_ylim(lo - pad, hi + pad)
    ax[1].legend(loc="lower left")
    fig.suptitle(f"Point symmetry: N = {n}, g = {fmt(a.g)}, {model_label(a)}, t_sim = {fmt(a.t_sim)} {tunit(a)} "
                 f"(spectrum width λ_1 − λ_N = {spread:.2f})", y=1.01)
    fig.tight_layout()
    data = {"analysis": "symmetry", "n": n, "g": a.g, "dt": a.dt, "mean_exponent": mean,
            "pair_sums": pair, "max_abs_deviation": max_dev, "rms_deviation": rms_dev,
            "spectrum_width": spread, "euler_value": euler, "command": shown_command("spectrum", args),
            "seconds": wall, "result": r}
    save(fig, a, data)
    return (f"symmetry: N={n} g={fmt(a.g)} {model_label(a)}: 2×mean = {2 * mean:.4f}"
            + (f" (Euler 2ln(1-dt)/dt = {euler:.4f}, continuous −2)" if euler is not None else "")
            + f"; pair sums deviate from it by max {max_dev:.4f}, RMS {rms_dev:.4f} "
              f"(spectrum width {spread:.2f}); {wall:.1f} s")


def add_parser(sub):
    p = sub.add_parser("symmetry", help="pair sums λ_i + λ_(N+1−i) against i/N")
    add_common(p, "symmetry", dt=0.05, rate_times=(100, 100, 500), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=3.0, help="%(default)s")
    p.set_defaults(func=symmetry)
