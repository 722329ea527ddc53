"""White-noise input: the entropy rate H, the Kaplan–Yorke dimension, the mean and the largest
exponent against the input's standard deviation σ (an ensemble of networks per σ)."""
import numpy as np
import matplotlib.pyplot as plt

from .runner import add_common, floats, fmt, model_args, model_label, run_rnnlyap, save, shown_command, tunit, unit


def run_sigmas(a, sigmas):
    """One `rnnlyap spectrum` per σ: rows of the summary with standard errors and the members'
    summaries; the seconds in all."""
    rows = []
    total = 0.0
    for s in sigmas:
        args = model_args(a) + ["--n", a.n, "--g", fmt(a.g), "--seed", a.seed, "--input-std", fmt(s)]
        if a.ensemble > 1:
            args += ["--ensemble", a.ensemble]
        r, wall = run_rnnlyap(a.exe, "spectrum", args)
        total += wall
        se = r.get("summary_stderr", {})
        row = {"sigma": s, "command": shown_command("spectrum", args), "seconds": wall}
        for key in ("ks_entropy", "ky_dimension", "mean_exponent", "max_exponent", "n_positive"):
            row[key] = r["summary"][key]
            row[key + "_stderr"] = se.get(key)
        if a.ensemble <= 1:
            row["max_exponent_stderr"] = r["stderr"][0]
        row["members"] = [m["summary"] for m in r.get("members", [])]
        rows.append(row)
    return rows, total


def column(rows, key):
    """A summary value over σ and its standard errors (0 where there is none)."""
    v = np.array([rw[key] for rw in rows], float)
    e = np.array([rw.get(key + "_stderr") if rw.get(key + "_stderr") is not None else np.nan
                  for rw in rows], float)
    return v, np.nan_to_num(e)


def plot(a, sigmas, rows):
    """The four panels against σ: means ± s.e., the members as dots."""
    sig = np.array(sigmas)
    fig, ax = plt.subplots(1, 4, figsize=(15, 3.9))
    panels = [("ks_entropy", f"H = Σ_(λ>0) λ_i  ({unit(a)})", "(a) entropy rate", "C0"),
              ("ky_dimension", "D_KY", "(b) Kaplan–Yorke dimension", "C1"),
              ("mean_exponent", f"mean exponent  ({unit(a)})", "(c) mean exponent", "C2"),
              ("max_exponent", f"λ_max  ({unit(a)})", "(d) largest exponent", "C3")]
    for axi, (key, ylabel, title, c) in zip(ax, panels):
        v, e = column(rows, key)
        axi.errorbar(sig, v, yerr=e, fmt="o-", color=c, capsize=3)
        for rw in rows:
            for m in rw["members"]:
                axi.plot(rw["sigma"], m[key], ".", color=c, alpha=0.35, ms=4)
        axi.set_xlabel("input σ  (--input-std)")
        axi.set_ylabel(ylabel)
        axi.set_title(title)
        if key in ("ks_entropy", "ky_dimension"):
            axi.set_ylim(bottom=0)
        if key == "max_exponent":
            axi.axhline(0, color="k", lw=0.7)
    m0, _ = column(rows, "mean_exponent")
    if a.model == "rate":
        ref = np.log(1 - a.dt) / a.dt if a.integrator == "euler" else -1.0
        ax[2].axhline(ref, color="k", ls="--", lw=0.9,
                      label=("ln(1−dt)/dt" if a.integrator == "euler" else "−1/τ") + f" = {ref:.4f}")
        ax[2].legend(loc="lower left")
    span = max(0.02, 3 * float(np.ptp(m0)))
    ax[2].set_ylim(float(np.mean(m0)) - span, float(np.mean(m0)) + span)
    ens = f"ensemble of {a.ensemble} networks (mean ± s.e.; dots: members)" if a.ensemble > 1 else "one network"
    fig.suptitle(f"White-noise input: N = {a.n}, g = {fmt(a.g)}, {model_label(a)}, t_sim = {fmt(a.t_sim)} {tunit(a)}, {ens}",
                 y=1.02)
    fig.tight_layout()
    return fig


def input_analysis(a):
    sigmas = floats(a.sigma)
    rows, total = run_sigmas(a, sigmas)
    fig = plot(a, sigmas, rows)
    m0, _ = column(rows, "mean_exponent")
    H, _ = column(rows, "ks_entropy")
    D, _ = column(rows, "ky_dimension")
    data = {"analysis": "input", "n": a.n, "g": a.g, "sigma": sigmas, "rows": rows, "seconds": total}
    save(fig, a, data)
    return (f"input: N={a.n} g={fmt(a.g)} σ={a.sigma}: H {H[0]:.3f} → {H[-1]:.3f}, D_KY {D[0]:.2f} → {D[-1]:.2f}, "
            f"mean exponent {m0[0]:.4f} → {m0[-1]:.4f} (range {np.ptp(m0):.4f}); {total:.1f} s")


def add_parser(sub):
    p = sub.add_parser("input", help="H, D_KY and the mean exponent against the input σ")
    add_common(p, "input", rate_times=(100, 100, 400), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=3.0, help="%(default)s")
    p.add_argument("--sigma", default="0,0.25,0.5,1,2", help="input standard deviations (%(default)s)")
    p.add_argument("--ensemble", type=int, default=3, help="networks per σ (%(default)s)")
    p.set_defaults(func=input_analysis)
