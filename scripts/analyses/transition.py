"""The transition to chaos: `rnnlyap sweep` over the gain for Gaussian or heavy-tailed (Lévy) weights:
λ_max, D_KY/N, H/N and the fraction of positive exponents against g, with the zero crossing of λ_max
against the predicted g*."""
import json

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from .runner import add_common, fmt, ints, model_args, model_label, run_rnnlyap, save, shown_command, tunit, unit

MARKERS = ["o", "s", "^", "D", "v"]
STYLES = ["-", "--", ":", "-."]


def run_sweeps(a, ns, gauss):
    """One sweep per N, so that a partial spectrum can use the same fraction k/N at every size; the
    sweeps and seconds."""
    sweeps = []
    total = 0.0
    for n in ns:
        args = model_args(a) + ["--g", a.g, "--n", n, "--seed", a.seed]
        if not gauss:
            args += ["--alpha", a.alpha]
        if a.ensemble > 1:
            args += ["--ensemble", a.ensemble]
        k = n if a.k_frac >= 1 else max(1, int(round(a.k_frac * n)))
        if k < n:
            args += ["--k", k]
        r, wall = run_rnnlyap(a.exe, "sweep", args)
        total += wall
        sweeps.append({"n": n, "k": k, "command": shown_command("sweep", args), "seconds": wall, "result": r})
    return sweeps, total


def label(al):
    return "Gaussian" if al is None else f"α = {fmt(al)}"


def stderrs(rows, key):
    return np.array([r.get(key + "_stderr") if r.get(key + "_stderr") is not None else np.nan for r in rows], float)


def plot_grid(ax, grid, alphas, ns, k_frac, colors):
    """The four panels' curves: one per α and N, mean ± s.e. against g."""
    for al in alphas:
        for jn, n in enumerate(ns):
            rows = sorted([r for r in grid if r["alpha"] == al and r["n"] == n], key=lambda r: r["g"])
            if not rows:
                continue
            g = np.array([r["g"] for r in rows])
            c, m, ls = colors[al], MARKERS[jn % len(MARKERS)], STYLES[jn % len(STYLES)]
            kw = dict(color=c, marker=m, ls=ls, ms=4, capsize=2, lw=1.2, label=f"{label(al)}, N = {n}")
            ax[0].errorbar(g, [r["max_exponent"] for r in rows], yerr=np.nan_to_num(stderrs(rows, "max_exponent")), **kw)
            ax[1].errorbar(g, [r["ky_dimension"] / n for r in rows],
                           yerr=np.nan_to_num(stderrs(rows, "ky_dimension")) / n, **kw)
            ax[2].errorbar(g, [r["ks_entropy"] / n for r in rows],
                           yerr=np.nan_to_num(stderrs(rows, "ks_entropy")) / n, **kw)
            kn = k_frac[n]  # the program's fraction is among the k computed exponents: scale to N
            ax[3].errorbar(g, [r["fraction_positive"] * kn for r in rows],
                           yerr=np.nan_to_num(stderrs(rows, "fraction_positive")) * kn, **kw)


def plot_transitions(ax, trans, ns, colors):
    """The predicted g* in every panel, and the zero crossing g_cross ± s.e. of λ_max in (a)."""
    ymin, ymax = ax[0].get_ylim()
    for t in trans:
        al, n = t["alpha"], t["n"]
        jn = ns.index(n)
        c = colors[al]
        if t.get("g_star_predicted") is not None:
            for axi in ax:
                axi.axvline(t["g_star_predicted"], color=c, ls=":", lw=1.3, alpha=0.9)
        if t.get("g_cross") is not None:
            ax[0].axvline(t["g_cross"], color=c, ls=STYLES[jn % len(STYLES)], lw=0.8, alpha=0.5)
            ax[0].errorbar([t["g_cross"]], [0.0], xerr=[t["g_cross_stderr"] or 0.0], fmt=MARKERS[jn % len(MARKERS)],
                           color=c, ms=9, mfc="white", mew=1.5, capsize=4, zorder=5)


def label_axes(ax, a):
    ax[0].axhline(0, color="k", lw=0.7)
    ax[0].set_ylabel(f"λ_max  ({unit(a)})")
    lo = ax[0].get_ylim()[0]
    if lo < -1.05:  # magnify the part near zero; the quiescent branch at small g leaves the frame
        ax[0].set_ylim(bottom=-1.05)
    ax[0].set_title("(a) largest exponent (mean ± s.e.)" + ("; clipped at −1" if lo < -1.05 else ""))
    ax[1].set_ylabel("D_KY / N")
    ax[1].set_title("(b) Kaplan–Yorke dimension per neuron")
    ax[2].set_ylabel(f"H / N  ({unit(a)})")
    ax[2].set_title("(c) entropy rate per neuron")
    ax[3].set_ylabel("(number of λ_i > 0) / N")
    ax[3].set_title("(d) fraction of positive exponents")
    for axi in ax:
        axi.set_xlabel("g")
    for axi in ax[1:]:
        axi.set_ylim(bottom=0)


def legend(fig, ax, gauss):
    handles, labels = ax[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="gray", ls=":", lw=1.3),
                Line2D([], [], color="gray", marker="o", mfc="white", ls="-", lw=0.8, ms=8)]
    labels += ["g* predicted, exp(−⟨Ξ⟩) (color: α)" if not gauss else "g* = 1 (N → ∞ onset)",
               "g_cross ± s.e.: first upward zero crossing of mean λ_max (panel a)"]
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.06), frameon=False)


def summary_line(trans, total, warn):
    parts = []
    for t in trans:
        gc = "none" if t.get("g_cross") is None else f"{t['g_cross']:.3f}±{(t.get('g_cross_stderr') or 0):.3f}"
        parts.append(f"{label(t['alpha'])} N={t['n']}: g_cross {gc} vs g* {t['g_star_predicted']:.3f}")
    msg = "transition: " + "; ".join(parts) + f"; {total:.1f} s"
    if warn:
        msg += f" (warning: D_KY close to k at {len(warn)} grid points; raise --k-frac)"
    return msg


def transition(a):
    ns = ints(a.n)
    if a.replot:  # redraw from the JSON of an earlier run
        with open(a.json) as f:
            old = json.load(f)
        sweeps, total = old["sweeps"], old["seconds"]
        ns = [s["n"] for s in sweeps]
    else:
        sweeps, total = run_sweeps(a, ns, a.alpha.strip().lower() in ("", "gaussian", "none"))
    grid = [row for s in sweeps for row in s["result"]["grid"]]
    trans = [t for s in sweeps for t in s["result"]["transition"]]
    alphas = sorted({row["alpha"] for row in grid}, key=lambda x: -1 if x is None else x)
    k_frac = {s["n"]: s["k"] / s["n"] for s in sweeps}

    gauss = all(row["alpha"] is None for row in grid)
    fig, axs = plt.subplots(2, 2, figsize=(13, 9))
    ax = axs.ravel()
    colors = {al: f"C{i}" for i, al in enumerate(alphas)}
    plot_grid(ax, grid, alphas, ns, k_frac, colors)
    plot_transitions(ax, trans, ns, colors)
    label_axes(ax, a)
    legend(fig, ax, gauss)
    kdesc = ", ".join(f"k = {int(round(f * n))} of {n}" for n, f in k_frac.items())
    wt = "Gaussian J_ij ~ N(0, g²/N)" if gauss else "Lévy J_ij = g N^(−1/α) S_α"
    fig.suptitle(f"Transition to chaos: {wt}, {model_label(a)}, t_sim = {fmt(a.t_sim)} {tunit(a)}, "
                 f"ensemble {a.ensemble} (mean ± s.e.), {kdesc}", y=1.0)
    fig.tight_layout()
    warn = [r for r in grid if r["ky_dimension"] > 0.9 * k_frac[r["n"]] * r["n"]]
    data = {"analysis": "transition", "transition": trans, "grid": grid, "seconds": total, "sweeps": sweeps,
            "ky_dimension_near_k": len(warn)}
    save(fig, a, data)
    return summary_line(trans, total, warn)


def add_parser(sub):
    p = sub.add_parser("transition", help="rnnlyap sweep: λ_max, D/N, H/N, fraction positive against g")
    add_common(p, "transition", model="map", rate_times=(50, 50, 200), map_times=(200, 100, 600), t_ons=2.0)
    p.add_argument("--g", default="0.1:2.5:0.1", help="gains START:STOP:STEP or a list (%(default)s)")
    p.add_argument("--n", default="100,200", help="sizes (%(default)s)")
    p.add_argument("--alpha", default="1,1.5,2", help="tail indices of Lévy weights, or 'gaussian' (%(default)s)")
    p.add_argument("--ensemble", type=int, default=3, help="networks per point (%(default)s)")
    p.add_argument("--k-frac", type=float, default=0.4,
                   help="exponents computed, as a fraction of N (%(default)s; 1 = full spectrum)")
    p.add_argument("--replot", action="store_true", help="redraw the figure from --json without computing (give the run's model options again)")
    p.set_defaults(func=transition)
