"""Size invariance: full spectra for several N against i/N (with the RMS difference to the largest
N), and D_KY/N, H/N and λ_max against N; either computed here or read from `rnnlyap spectrum`
results (--results DIR)."""
import json
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt
import matplotlib.ticker

from .runner import (Failure, add_common, fmt, ints, model_args, model_label, run_rnnlyap, save, shown_command,
                     tunit, unit)

# Named schedules of `size-invariance --preset` (explicit options still override them). The sizes of
# [EWA23]: paper-cpu fits about 10 minutes on the project's 2-core machine (docs/analyses.md,
# "Size invariance at the paper's sizes"); paper-gpu is the block of bench/gpu_check.sh (extra),
# normally plotted from its results with --results DIR.
SIZE_PRESETS = {
    "paper-cpu": dict(n="250,500,1000,2000", ensemble="4,2,1,1", dt=0.25, t_ons=0.5, t_warmup=100.0,
                      t_ons_warmup=5.0, t_sim=60.0, name_suffix="-large"),
    "paper-gpu": dict(n="1024,2048,4096,8192", ensemble="1", dt=0.25, t_ons=0.5, t_warmup=100.0,
                      t_ons_warmup=50.0, t_sim=500.0, name_suffix="-gpu"),
}


PARSER = None  # the subcommand's parser, whose defaults a preset replaces (prepare)


def result_sizes(a, d):
    """The sizes to read from DIR: those of --n, else of every DIR/spectrum_n<N>.json."""
    if a.n is not None and not getattr(a, "n_from_preset", False):
        return sorted(ints(a.n))
    return sorted(int(f.stem[len("spectrum_n"):]) for f in d.glob("spectrum_n*.json")
                  if f.stem[len("spectrum_n"):].isdigit())


def read_run(d, n):
    """One size's run from DIR/spectrum_n<N>.json: its result, ensemble size and the program's seconds."""
    f = d / f"spectrum_n{n}.json"
    try:
        with open(f) as fh:
            r = json.load(fh)
    except (OSError, ValueError) as e:
        raise Failure(f"--results: cannot read {f}: {e}", 2)
    if len(r.get("exponents", [])) != n:
        raise Failure(f"--results: {f} holds {len(r.get('exponents', []))} exponents, not the full "
                      f"spectrum of N = {n}", 2)
    pr = r.get("params", {})
    members = r.get("members")
    b = len(members) if isinstance(members, list) else int(pr.get("ensemble", 1) or 1)
    return {"n": n, "ensemble": max(1, b), "file": str(f),
            "seconds": float(r.get("timing", {}).get("seconds", float("nan"))), "result": r}


def labels_from_results(a, runs):
    """The model options of the labels, from the largest size's params; the averaging times of all."""
    pr = runs[-1]["result"].get("params", {})
    a.model = pr.get("model", a.model)
    a.integrator = pr.get("integrator", a.integrator)
    a.dt = pr.get("dt", a.dt)
    a.t_sim = pr.get("t_sim", a.t_sim)
    a.g = pr.get("g", a.g)
    sims = sorted({r["result"].get("params", {}).get("t_sim") for r in runs}, key=lambda x: (x is None, x))
    if len(sims) > 1:
        a.t_sim_label = "/".join(fmt(x) for x in sims if x is not None)
    a.results_backend = ", ".join(sorted({f"{r['result'].get('backend', '?')} {r['result'].get('device', '')}".strip()
                                          for r in runs}))


def read_results(a):
    """--results DIR: the runs from DIR/spectrum_n<N>.json (`rnnlyap spectrum --out`), for the sizes of --n
    (or of the preset), else for every such file in DIR. Model labels come from the files' params."""
    d = Path(a.results)
    if not d.is_dir():
        raise Failure(f"--results: {d} is not a directory", 2)
    ns = result_sizes(a, d)
    if len(ns) < 2:
        raise Failure(f"--results: need spectrum_n<N>.json for at least two sizes in {d} (found {ns})", 2)
    runs = [read_run(d, n) for n in ns]
    labels_from_results(a, runs)
    return ns, runs


def ky_and_ks(ex):
    """Kaplan–Yorke dimension and Σ of the positive exponents of a spectrum."""
    ex = np.sort(np.asarray(ex, float))[::-1]
    c = np.cumsum(ex)
    k = int(np.sum(c >= 0))
    d = 0.0 if k == 0 else float(len(ex)) if k == len(ex) else k + c[k - 1] / abs(ex[k])
    return d, float(np.sum(ex[ex > 0]))


def block_errors(times, trace, blocks=5):
    """Standard errors of D_KY, H and λ_max of one run from its running estimates: the averaging time
    cut into `blocks` equal blocks (each block's mean spectrum from the running sums), s.d./√blocks."""
    s = trace * times[:, None]  # running sums
    s = np.vstack([np.zeros(trace.shape[1]), s])
    t = np.concatenate([[0.0], times])
    edges = np.linspace(0, len(times), blocks + 1).round().astype(int)
    vals = []
    for i0, i1 in zip(edges[:-1], edges[1:]):
        if i1 > i0:
            ex = (s[i1] - s[i0]) / (t[i1] - t[i0])
            vals.append(ky_and_ks(ex) + (float(np.max(ex)),))
    v = np.array(vals)
    if len(v) < 2:
        return {}
    se = v.std(axis=0, ddof=1) / np.sqrt(len(v))
    return {"ky_dimension": float(se[0]), "ks_entropy": float(se[1]), "max_exponent": float(se[2]),
            "blocks": len(v)}


def ensembles(a, ns):
    """Networks per size: --ensemble auto (about 800 neurons in all per size), one number, or one per size."""
    if a.ensemble == "auto":  # about 800 neurons in all per size: more networks where N is small
        return [max(1, int(round(800 / n))) for n in ns]
    ens = ints(a.ensemble)
    ens = ens * len(ns) if len(ens) == 1 else ens
    if len(ens) != len(ns):
        raise Failure("--ensemble: give one number, one per size, or 'auto'", 2)
    return ens


def run_sizes(a, ns, ens):
    """One `rnnlyap spectrum` per size (with the trace for a single network); the runs and seconds."""
    runs = []
    total = 0.0
    for n, b in zip(ns, ens):
        args = model_args(a) + ["--n", n, "--g", fmt(a.g), "--seed", a.seed]
        if b > 1:
            args += ["--ensemble", b]
        r, wall = run_rnnlyap(a.exe, "spectrum", args, trace=b <= 1)
        total += wall
        run = {"n": n, "ensemble": b, "command": shown_command("spectrum", args), "seconds": wall, "result": r}
        if "_trace" in r:  # one network: errors of D and H from blocks of its own run
            run["block_stderr"] = block_errors(*r.pop("_trace"))
        runs.append(run)
        if a.preset:
            print(f"  N = {n} ({b} net{'s' if b > 1 else ''}): {wall:.1f} s", flush=True)
    return runs, total


def collapse(runs, ns):
    """Every spectrum interpolated onto a common i/N grid: the RMS difference to the largest N, and
    what it would be from the statistical errors alone (the runs' per-exponent standard errors, on
    the same grid): a collapse RMS near it is converged to within the noise."""
    ref = np.array(runs[-1]["result"]["exponents"])
    grid = np.linspace(1.0 / ns[0], 1.0, 400)

    def on_grid(ex):
        n = len(ex)
        return np.interp(grid, np.arange(1, n + 1) / n, ex)

    ref_g = on_grid(ref)
    rms = {str(r["n"]): float(np.sqrt(np.mean((on_grid(np.array(r["result"]["exponents"])) - ref_g) ** 2)))
           for r in runs[:-1]}

    def se_grid(r):
        se = r["result"].get("stderr")
        return on_grid(np.nan_to_num(np.array(se, float))) if se and len(se) == r["n"] else np.full(grid.shape, np.nan)

    ref_se = se_grid(runs[-1])
    noise = {str(r["n"]): float(np.sqrt(np.mean(se_grid(r) ** 2 + ref_se ** 2))) for r in runs[:-1]}
    return rms, noise


def plot_spectra(ax, a, runs, ns, rms, noise):
    """Panel (a): the spectra against i/N, with an inset of the leading 20 %."""
    cmap = plt.get_cmap("viridis")
    for j, r in enumerate(runs):
        ex = np.array(r["result"]["exponents"])
        n = len(ex)
        ax.plot(np.arange(1, n + 1) / n, ex, "-", color=cmap(j / max(1, len(runs) - 1) * 0.9),
                lw=1.4, label=f"N = {n} ({r['ensemble']} nets)" + (f" (RMS diff {rms[str(n)]:.3f}; noise {noise[str(n)]:.3f})"
                                                       if str(n) in rms else ""))
    ax.axhline(0, color="k", lw=0.7)
    ax.set_xlabel("i / N")
    ax.set_ylabel(f"λ_i  ({unit(a)})")
    ax.set_title(f"(a) full spectra, g = {fmt(a.g)}")
    ax.legend(title=f"RMS vs N = {ns[-1]}", loc="lower left")
    axin = ax.inset_axes([0.56, 0.5, 0.41, 0.36])
    for j, r in enumerate(runs):
        ex = np.array(r["result"]["exponents"])
        n = len(ex)
        axin.plot(np.arange(1, n + 1) / n, ex, ".-", ms=3, lw=1,
                  color=cmap(j / max(1, len(runs) - 1) * 0.9))
    axin.axhline(0, color="k", lw=0.7)
    axin.set_xlim(0, 0.2)
    top = max(float(np.max(r["result"]["exponents"])) for r in runs)
    axin.set_ylim(-0.35, top * 1.15 + 0.02)
    axin.set_title("leading 20 %", fontsize=8)
    axin.tick_params(labelsize=7)


def summaries(runs):
    """D_KY, H and λ_max per size as (value, standard error) rows. A single network's λ_max error is
    its run's own, and those of D and H come from blocks of its trace (when run here)."""
    def summ(r, key):
        s = r["result"]["summary"][key]
        e = r["result"].get("summary_stderr", {}).get(key)
        return s, (e if e is not None else np.nan)

    d = np.array([summ(r, "ky_dimension") for r in runs])
    h = np.array([summ(r, "ks_entropy") for r in runs])
    lm = np.array([summ(r, "max_exponent") for r in runs])
    for j, r in enumerate(runs):  # single network: the standard error of λ_max from the run's own blocks
        if r["ensemble"] <= 1:
            lm[j, 1] = r["result"]["stderr"][0]
            be = r.get("block_stderr") or {}  # and of D, H from blocks of its trace (when run here)
            d[j, 1] = be.get("ky_dimension", np.nan)
            h[j, 1] = be.get("ks_entropy", np.nan)
    return d, h, lm


def log_n_axis(ax, ns):
    ax.set_xscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def plot_summaries(ax, a, ns, d, h, lm):
    """Panels (b) D/N and H/N and (c) λ_max against N."""
    nn = np.array(ns, float)
    ax[0].errorbar(nn, d[:, 0] / nn, yerr=np.nan_to_num(d[:, 1]) / nn, fmt="o-", capsize=3, label="D_KY / N")
    ax[0].errorbar(nn, h[:, 0] / nn, yerr=np.nan_to_num(h[:, 1]) / nn, fmt="s-", capsize=3,
                   label=f"H / N  ({unit(a)})")
    log_n_axis(ax[0], ns)
    ax[0].set_ylim(bottom=0)
    ax[0].set_xlabel("N")
    ax[0].set_title("(b) dimension and entropy rate per neuron")
    ax[0].legend()
    ax[1].errorbar(nn, lm[:, 0], yerr=np.nan_to_num(lm[:, 1]), fmt="o-", color="C3", capsize=3)
    log_n_axis(ax[1], ns)
    ax[1].set_xlabel("N")
    ax[1].set_ylabel(f"λ_max  ({unit(a)})")
    ax[1].set_title("(c) largest exponent")


def title(fig, a, ens, ens_n):
    ens = ", networks per N: " + ", ".join(f"{b}" for b in ens) + " (mean ± s.e. across networks)"
    if any(b <= 1 for b in ens_n):
        ens += ("\n(one network: λ_max ± its run's s.e." + ("; no error bar on D/N, H/N)" if a.results else
                                                             "; D/N, H/N ± s.e. of 5 blocks of its run)"))
    tsim = getattr(a, "t_sim_label", None) or fmt(a.t_sim)
    src = f"; from {a.results} ({a.results_backend})" if a.results else ""
    fig.suptitle(f"Size invariance: {model_label(a)}, t_sim = {tsim} {tunit(a)}{ens}{src}", y=1.01 if not
                 (a.results or any(b <= 1 for b in ens_n)) else 1.05)


def size_invariance(a):
    if a.results:
        ns, runs = read_results(a)
        ens = [r["ensemble"] for r in runs]
        total = sum(r["seconds"] for r in runs)
    else:
        ns = sorted(ints(a.n))
        ens = ensembles(a, ns)
        runs, total = run_sizes(a, ns, ens)
    rms, noise = collapse(runs, ns)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    plot_spectra(ax[0], a, runs, ns, rms, noise)
    d, h, lm = summaries(runs)
    plot_summaries(ax[1:], a, ns, d, h, lm)
    title(fig, a, ens, [r["ensemble"] for r in runs])
    fig.tight_layout()
    nn = np.array(ns, float)
    data = {"analysis": "size-invariance", "g": a.g, "n": ns, "collapse_rms_vs_largest_n": rms,
            "collapse_rms_expected_from_stderr": noise,
            "ky_dimension_per_n": (d[:, 0] / nn).tolist(), "ks_entropy_per_n": (h[:, 0] / nn).tolist(),
            "max_exponent": lm[:, 0].tolist(),
            "ky_dimension_per_n_stderr": (d[:, 1] / nn).tolist(), "ks_entropy_per_n_stderr": (h[:, 1] / nn).tolist(),
            "max_exponent_stderr": lm[:, 1].tolist(), "preset": a.preset, "results": a.results,
            "seconds": total, "runs": runs}
    save(fig, a, data)
    return (f"size-invariance: g={fmt(a.g)}, collapse RMS vs N={ns[-1]}: "
            + ", ".join(f"N={k}: {v:.4f}" for k, v in rms.items())
            + " (from the errors alone: " + ", ".join(f"{v:.4f}" for v in noise.values()) + ")"
            + f"; D/N = {', '.join(f'{x:.4f}' for x in d[:, 0] / nn)}; H/N = {', '.join(f'{x:.4f}' for x in h[:, 0] / nn)}"
            + f"; λ_max = {', '.join(f'{x:.4f}' for x in lm[:, 0])}; {total:.1f} s"
            + (" (rnnlyap's own timings)" if a.results else ""))


def prepare(a, ap, argv):
    """--preset: its values become the defaults and the arguments are read again, so that options given
    explicitly still win; without a preset or --results, the sizes 50,100,200,400."""
    if a.preset:
        n_given = a.n is not None
        saved = {k: PARSER.get_default(k) for k in SIZE_PRESETS[a.preset]}
        PARSER.set_defaults(**SIZE_PRESETS[a.preset])
        try:
            a = ap.parse_args(argv)
        finally:
            PARSER.set_defaults(**saved)
        a.n_from_preset = not n_given  # with --results: the files present, not the preset's sizes
    elif a.n is None and not a.results:
        a.n = "50,100,200,400"
    return a


def preset_help():
    return "the sizes of [EWA23] with a named schedule; explicit options override it. " + "; ".join(
        f"{k}: " + " ".join(f"--{o.replace('_', '-')} {fmt(v) if not isinstance(v, str) else v}"
                            for o, v in d.items() if o != "name_suffix")
        + f" (writes docs/img/size-invariance{d['name_suffix']}.png)" for k, d in SIZE_PRESETS.items())


def add_parser(sub):
    global PARSER
    p = sub.add_parser("size-invariance", help="spectra for several N against i/N; D/N, H/N, λ_max against N")
    add_common(p, "size-invariance", models=("rate", "map"), rate_times=(100, 100, 500), map_times=(500, 200, 2000))
    p.add_argument("--n", default=None, help="sizes (50,100,200,400; with --results: every "
                   "spectrum_n<N>.json found)")
    p.add_argument("--g", type=float, default=3.0, help="gain (%(default)s)")
    p.add_argument("--ensemble", default="auto",
                   help="networks per size: B, B1,B2,... (one per size) or auto = round(800/N) (%(default)s)")
    p.add_argument("--preset", default=None, choices=sorted(SIZE_PRESETS), help=preset_help())
    p.add_argument("--results", default=None, metavar="DIR",
                   help="plot DIR/spectrum_n<N>.json (the output of `rnnlyap spectrum --out`, e.g. from "
                        "bench/gpu_check.sh extra) instead of running rnnlyap; the model options are read "
                        "from the files")
    p.set_defaults(func=size_invariance, prepare=prepare)
    PARSER = p
