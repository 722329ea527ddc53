"""Below the onset of chaos: the computed spectrum against the exact one from the eigenvalues of J
(map: log|μ|; rate: the Euler or RK4 propagator of ḣ = (J − 1) h)."""
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt

from .runner import add_common, fmt, model_args, model_label, run_rnnlyap, save, shown_command, unit


def exact(a):
    n = a.n
    rng = np.random.default_rng(a.seed)
    J = rng.normal(0.0, a.g / np.sqrt(n), size=(n, n))
    mu = np.linalg.eigvals(J)
    if a.model == "map":
        lam_exact = np.log(np.abs(mu))
        formula = "log|μ|"
    elif a.integrator == "euler":
        lam_exact = np.log(np.abs(1 - a.dt + a.dt * mu)) / a.dt
        formula = "log|1 − dt + dt μ| / dt"
    else:  # RK4 propagator of ḣ = (J − 1) h: R(z) = 1 + z + z²/2 + z³/6 + z⁴/24, z = dt (μ − 1)
        z = a.dt * (mu - 1)
        lam_exact = np.log(np.abs(1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24)) / a.dt
        formula = "log|R_RK4(dt(μ−1))| / dt"
    lam_exact = np.sort(lam_exact)[::-1]
    with tempfile.TemporaryDirectory(prefix="rnnlyap-exact-") as td:
        path = os.path.join(td, "J.npy")
        np.save(path, J)
        args = model_args(a) + ["--weights", "file", "--weights-file", path, "--seed", a.seed]
        r, wall = run_rnnlyap(a.exe, "spectrum", args)
    ex = np.array(r["exponents"])
    se = np.array(r["stderr"])
    order = np.argsort(-ex)
    ex, se = ex[order], se[order]
    diff = ex - lam_exact
    x = np.arange(1, n + 1) / n
    max_err = float(np.max(np.abs(diff)))
    worst_z = float(np.max(np.abs(diff) / np.maximum(se, 1e-300)))

    fig, ax = plt.subplots(1, 2, figsize=(11.5, 4.2))
    ax[0].plot(x, lam_exact, "-", color="k", lw=2.2, alpha=0.5, label=f"exact: {formula}, μ = eig(J)")
    ax[0].plot(x, ex, ".", color="C0", ms=3.5, label="rnnlyap (sorted)")
    ax[0].set_xlabel("i / N")
    ax[0].set_ylabel(f"λ_i  ({unit(a)})")
    ax[0].set_title(f"(a) N = {n}, g = {fmt(a.g)} (below onset), {model_label(a)}")
    ax[0].legend(loc="lower left")
    ax[1].fill_between(x, -2 * se, 2 * se, color="C0", alpha=0.25, lw=0, label="± 2 s.e. (rnnlyap)")
    ax[1].plot(x, diff, ".-", color="C0", ms=3, lw=0.8, label="rnnlyap − exact")
    ax[1].axhline(0, color="k", lw=0.7)
    ax[1].set_xlabel("i / N")
    ax[1].set_ylabel(f"difference  ({unit(a)})")
    ax[1].set_title(f"(b) max |difference| = {max_err:.2e} ({unit(a)})")
    ax[1].legend(loc="lower left")
    ax[1].ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    t_unit = "τ" if a.model == "rate" else "steps"
    fig.suptitle(f"Exact spectrum below onset: t_sim = {fmt(a.t_sim)} {t_unit}, "
                 f"t_ons_warmup = {fmt(a.t_ons_warmup)} {t_unit}", y=1.01)
    fig.tight_layout()
    data = {"analysis": "exact", "model": a.model, "n": n, "g": a.g, "dt": a.dt if a.model == "rate" else None,
            "exact": lam_exact, "computed_sorted": ex, "stderr_sorted": se, "max_abs_error": max_err,
            "max_error_in_stderr": worst_z, "command": shown_command("spectrum", args).replace(path, "J.npy"),
            "seconds": wall}
    save(fig, a, data)
    return (f"exact ({a.model}{'/' + a.integrator if a.model == 'rate' else ''}): N={n} g={fmt(a.g)}: "
            f"max |λ − exact| = {max_err:.2e}, RMS {np.sqrt(np.mean(diff ** 2)):.2e} "
            f"(λ range {lam_exact[-1]:.3f}..{lam_exact[0]:.3f}); {wall:.1f} s")


def prepare(a, ap, argv):
    """The outputs are named after the model: exact-rate.png, exact-rate-rk4.png, exact-map.png."""
    a.name_suffix = "-" + a.model + ("" if a.model == "map" or a.integrator == "euler" else "-rk4")
    return a


def add_parser(sub):
    p = sub.add_parser("exact", help="below onset: computed against exact spectrum from eig(J)")
    add_common(p, "exact", rate_times=(100, 100, 1000), map_times=(500, 200, 5000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=0.7, help="%(default)s")
    p.set_defaults(func=exact, prepare=prepare)
