#!/usr/bin/env python3
"""Scientific checks of rnnlyap, one subcommand per analysis; each writes a PNG and the JSON it was
drawn from, and prints a one-line summary. Every analysis calls the `rnnlyap` program.

    analyses.py size-invariance [--n 50,100,200,400] [--g 3] [--preset paper-cpu|paper-gpu] [--results DIR]
    analyses.py symmetry        [--n 200] [--g 3] [--dt 0.05]
    analyses.py input           [--n 200] [--g 3] [--sigma 0,0.25,0.5,1,2] [--ensemble 3]
    analyses.py lambda1         [--n 1000] [--g 1.2,1.5,2,2.5,3]          (map model)
    analyses.py exact           [--n 200] [--g 0.7] [--model rate|map]
    analyses.py transition      [--g 0.1:2.5:0.1] [--n 100,200] [--alpha 1,1.5,2] [--ensemble 3]
    analyses.py clv             [--n 200] [--g 3] [--k 40]              (covariant Lyapunov vectors)
    analyses.py all             every analysis with its defaults (exact: rate and map)

Common options: --rnnlyap PATH (default: build/src/cli/rnnlyap under the repository root),
--out PNG (default docs/img/<name>.png), --json FILE (default out/analyses/<name>.json), and the
model options --model, --integrator, --dt, --t-warmup, --t-ons-warmup, --t-sim, --t-ons, --seed,
--backend, --threads. Times are in tau for the rate model and in steps for the map.
The page docs/analyses.md shows the figures and the commands that made them.
Needs numpy and matplotlib.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError as e:  # pragma: no cover
    sys.exit(f"analyses.py: error: needs numpy and matplotlib ({e})")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EXE = REPO / "build" / "src" / "cli" / "rnnlyap"
IMG_DIR = REPO / "docs" / "img"
JSON_DIR = REPO / "out" / "analyses"

plt.rcParams.update({"font.size": 10, "axes.titlesize": 10.5, "legend.fontsize": 8.5,
                     "figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3})


# ----------------------------------------------------------------------------------------------
# running the program
# ----------------------------------------------------------------------------------------------

class Failure(Exception):
    def __init__(self, msg, code=1):
        super().__init__(msg)
        self.code = code


def fmt(x):
    """Number as a short command-line string (3 -> '3', 0.25 -> '0.25')."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


def check_exe(path):
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        raise Failure(f"the rnnlyap program was not found (or is not executable) at {p}; build it "
                      f"(cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j) or pass "
                      f"--rnnlyap PATH", 2)
    return str(p)


_WARNED = set()


def run_rnnlyap(exe, sub, args, trace=False):
    """Run `rnnlyap SUB ARGS --quiet --out TMP.json` and return (result dict, wall seconds). With
    trace=True, the running estimates (`--trace`) come back too, as (times, T x k array), in the
    result's key "_trace"."""
    with tempfile.TemporaryDirectory(prefix="rnnlyap-analyses-") as td:
        out = os.path.join(td, "result.json")
        cmd = [exe, sub] + [str(a) for a in args] + ["--quiet", "--out", out]
        if sub == "sweep":
            cmd += ["--csv", os.path.join(td, "result.csv")]
        if trace:
            cmd += ["--trace", os.path.join(td, "trace.csv")]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as e:
            raise Failure(f"cannot run {exe}: {e}", 2)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            msg = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise Failure(f"rnnlyap exited with status {p.returncode}: {msg}\n  command: "
                          + " ".join(cmd[:1] + [c for c in cmd[1:]]))
        for line in p.stderr.splitlines():
            if "warning" in line and line not in _WARNED:
                _WARNED.add(line)
                print(f"  ({' '.join(str(a) for a in args[-6:])}) {line}", file=sys.stderr)
        with open(out) as f:
            r = json.load(f)
        if trace:
            t = np.loadtxt(os.path.join(td, "trace.csv"), delimiter=",", skiprows=1, ndmin=2)
            r["_trace"] = (t[:, 0], t[:, 1:])
        return r, wall


def shown_command(sub, args):
    """The rnnlyap command line as a user would type it (for the JSON provenance)."""
    return "rnnlyap " + sub + " " + " ".join(str(a) for a in args)


# ----------------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------------

def floats(s):
    return [float(x) for x in s.split(",") if x.strip()]


def ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


def add_common(p, name, *, model="rate", models=("rate", "map"), dt=0.1, rate_times=(100, 100, 1000),
               map_times=(500, 200, 2000), t_ons=1.0):
    p.add_argument("--rnnlyap", default=str(DEFAULT_EXE), help="path of the rnnlyap program (%(default)s)")
    p.add_argument("--out", default=None, help=f"PNG to write (docs/img/{name}.png)")
    p.add_argument("--json", default=None, help=f"JSON of the computed data (out/analyses/{name}.json)")
    p.add_argument("--model", default=model, choices=list(models), help="%(default)s")
    p.add_argument("--integrator", default="euler", choices=["euler", "rk4"], help="rate model (%(default)s)")
    p.add_argument("--dt", type=float, default=dt, help="rate-model step in tau (%(default)s)")
    p.add_argument("--t-warmup", type=float, default=None,
                   help=f"state warm-up (rate: {rate_times[0]} tau, map: {map_times[0]} steps)")
    p.add_argument("--t-ons-warmup", type=float, default=None,
                   help=f"basis warm-up (rate: {rate_times[1]} tau, map: {map_times[1]} steps)")
    p.add_argument("--t-sim", type=float, default=None,
                   help=f"averaging time (rate: {rate_times[2]} tau, map: {map_times[2]} steps)")
    p.add_argument("--t-ons", type=float, default=t_ons, help="time between QRs (%(default)s)")
    p.add_argument("--seed", type=int, default=1, help="first seed (%(default)s)")
    p.add_argument("--backend", default=None, help="auto|cpu|cuda (the program's default)")
    p.add_argument("--threads", type=int, default=None, help="CPU BLAS threads (the program's default)")
    p.set_defaults(name=name, rate_times=rate_times, map_times=map_times)


def resolve(a):
    """Fill the model-dependent defaults and the output paths."""
    times = a.rate_times if a.model == "rate" else a.map_times
    if a.t_warmup is None:
        a.t_warmup = times[0]
    if a.t_ons_warmup is None:
        a.t_ons_warmup = times[1]
    if a.t_sim is None:
        a.t_sim = times[2]
    suffix = getattr(a, "name_suffix", "")
    if a.out is None:
        a.out = str(IMG_DIR / f"{a.name}{suffix}.png")
    if a.json is None:
        a.json = str(JSON_DIR / f"{a.name}{suffix}.json")
    a.exe = None if getattr(a, "results", None) else check_exe(a.rnnlyap)
    return a


def model_args(a):
    o = ["--model", a.model]
    if a.model == "rate":
        o += ["--integrator", a.integrator, "--dt", fmt(a.dt)]
    o += ["--t-warmup", fmt(a.t_warmup), "--t-ons-warmup", fmt(a.t_ons_warmup), "--t-sim", fmt(a.t_sim),
          "--t-ons", fmt(a.t_ons)]
    if a.backend:
        o += ["--backend", a.backend]
    if a.threads:
        o += ["--threads", str(a.threads)]
    return o


def unit(a):
    return "1/τ" if a.model == "rate" else "1/step"


def save(fig, a, data):
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, bbox_inches="tight")
    plt.close(fig)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(data, f, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def tunit(a):
    return "τ" if a.model == "rate" else "steps"


def model_label(a):
    if a.model == "map":
        return "map h ← J tanh(h)"
    return f"rate, {a.integrator}, dt={fmt(a.dt)}"


# ----------------------------------------------------------------------------------------------
# 1. size invariance
# ----------------------------------------------------------------------------------------------

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


def read_results(a):
    """--results DIR: the runs from DIR/spectrum_n<N>.json (`rnnlyap spectrum --out`), for the sizes of --n
    (or of the preset), else for every such file in DIR. Model labels come from the files' params."""
    d = Path(a.results)
    if not d.is_dir():
        raise Failure(f"--results: {d} is not a directory", 2)
    if a.n is not None and not getattr(a, "n_from_preset", False):
        ns = sorted(ints(a.n))
    else:
        ns = sorted(int(f.stem[len("spectrum_n"):]) for f in d.glob("spectrum_n*.json")
                    if f.stem[len("spectrum_n"):].isdigit())
    if len(ns) < 2:
        raise Failure(f"--results: need spectrum_n<N>.json for at least two sizes in {d} (found {ns})", 2)
    runs = []
    for n in ns:
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
        runs.append({"n": n, "ensemble": max(1, b), "file": str(f),
                     "seconds": float(r.get("timing", {}).get("seconds", float("nan"))), "result": r})
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


def size_invariance(a):
    runs = []
    total = 0.0
    if a.results:
        ns, runs = read_results(a)
        ens = [r["ensemble"] for r in runs]
        total = sum(r["seconds"] for r in runs)
    else:
        ns = sorted(ints(a.n))
        if a.ensemble == "auto":  # about 800 neurons in all per size: more networks where N is small
            ens = [max(1, int(round(800 / n))) for n in ns]
        else:
            ens = ints(a.ensemble)
            ens = ens * len(ns) if len(ens) == 1 else ens
            if len(ens) != len(ns):
                raise Failure("--ensemble: give one number, one per size, or 'auto'", 2)
    for n, b in ([] if a.results else zip(ns, ens)):
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

    # collapse: every spectrum interpolated onto a common i/N grid, RMS difference to the largest N
    ref = np.array(runs[-1]["result"]["exponents"])
    grid = np.linspace(1.0 / ns[0], 1.0, 400)

    def on_grid(ex):
        n = len(ex)
        return np.interp(grid, np.arange(1, n + 1) / n, ex)

    ref_g = on_grid(ref)
    rms = {str(r["n"]): float(np.sqrt(np.mean((on_grid(np.array(r["result"]["exponents"])) - ref_g) ** 2)))
           for r in runs[:-1]}
    # what the RMS difference would be from the statistical errors alone (the runs' per-exponent
    # standard errors, on the same grid): a collapse RMS near it is converged to within the noise
    def se_grid(r):
        se = r["result"].get("stderr")
        return on_grid(np.nan_to_num(np.array(se, float))) if se and len(se) == r["n"] else np.full(grid.shape, np.nan)

    ref_se = se_grid(runs[-1])
    noise = {str(r["n"]): float(np.sqrt(np.mean(se_grid(r) ** 2 + ref_se ** 2))) for r in runs[:-1]}

    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    cmap = plt.get_cmap("viridis")
    for j, r in enumerate(runs):
        ex = np.array(r["result"]["exponents"])
        n = len(ex)
        ax[0].plot(np.arange(1, n + 1) / n, ex, "-", color=cmap(j / max(1, len(runs) - 1) * 0.9),
                   lw=1.4, label=f"N = {n} ({r['ensemble']} nets)" + (f" (RMS diff {rms[str(n)]:.3f}; noise {noise[str(n)]:.3f})"
                                                            if str(n) in rms else ""))
    ax[0].axhline(0, color="k", lw=0.7)
    ax[0].set_xlabel("i / N")
    ax[0].set_ylabel(f"λ_i  ({unit(a)})")
    ax[0].set_title(f"(a) full spectra, g = {fmt(a.g)}")
    ax[0].legend(title=f"RMS vs N = {ns[-1]}", loc="lower left")
    axin = ax[0].inset_axes([0.56, 0.5, 0.41, 0.36])
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

    def summ(r, key):
        s = r["result"]["summary"][key]
        e = r["result"].get("summary_stderr", {}).get(key)
        return s, (e if e is not None else np.nan)

    nn = np.array(ns, float)
    ens_n = [r["ensemble"] for r in runs]
    d = np.array([summ(r, "ky_dimension") for r in runs])
    h = np.array([summ(r, "ks_entropy") for r in runs])
    lm = np.array([summ(r, "max_exponent") for r in runs])
    for j, r in enumerate(runs):  # single network: the standard error of λ_max from the run's own blocks
        if r["ensemble"] <= 1:
            lm[j, 1] = r["result"]["stderr"][0]
            be = r.get("block_stderr") or {}  # and of D, H from blocks of its trace (when run here)
            d[j, 1] = be.get("ky_dimension", np.nan)
            h[j, 1] = be.get("ks_entropy", np.nan)
    ax[1].errorbar(nn, d[:, 0] / nn, yerr=np.nan_to_num(d[:, 1]) / nn, fmt="o-", capsize=3, label="D_KY / N")
    ax[1].errorbar(nn, h[:, 0] / nn, yerr=np.nan_to_num(h[:, 1]) / nn, fmt="s-", capsize=3,
                   label=f"H / N  ({unit(a)})")
    ax[1].set_xscale("log")
    ax[1].set_xticks(ns)
    ax[1].set_xticklabels([str(n) for n in ns])
    ax[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax[1].set_ylim(bottom=0)
    ax[1].set_xlabel("N")
    ax[1].set_title("(b) dimension and entropy rate per neuron")
    ax[1].legend()
    ax[2].errorbar(nn, lm[:, 0], yerr=np.nan_to_num(lm[:, 1]), fmt="o-", color="C3", capsize=3)
    ax[2].set_xscale("log")
    ax[2].set_xticks(ns)
    ax[2].set_xticklabels([str(n) for n in ns])
    ax[2].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax[2].set_xlabel("N")
    ax[2].set_ylabel(f"λ_max  ({unit(a)})")
    ax[2].set_title("(c) largest exponent")
    ens = ", networks per N: " + ", ".join(f"{b}" for b in ens) + " (mean ± s.e. across networks)"
    if any(b <= 1 for b in ens_n):
        ens += ("\n(one network: λ_max ± its run's s.e." + ("; no error bar on D/N, H/N)" if a.results else
                                                             "; D/N, H/N ± s.e. of 5 blocks of its run)"))
    tsim = getattr(a, "t_sim_label", None) or fmt(a.t_sim)
    src = f"; from {a.results} ({a.results_backend})" if a.results else ""
    fig.suptitle(f"Size invariance: {model_label(a)}, t_sim = {tsim} {tunit(a)}{ens}{src}", y=1.01 if not
                 (a.results or any(b <= 1 for b in ens_n)) else 1.05)
    fig.tight_layout()
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


# ----------------------------------------------------------------------------------------------
# 2. point symmetry
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# 3. input
# ----------------------------------------------------------------------------------------------

def input_analysis(a):
    sigmas = floats(a.sigma)
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

    sig = np.array(sigmas)

    def col(key):
        v = np.array([rw[key] for rw in rows], float)
        e = np.array([rw.get(key + "_stderr") if rw.get(key + "_stderr") is not None else np.nan
                      for rw in rows], float)
        return v, np.nan_to_num(e)

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.9))
    panels = [("ks_entropy", f"H = Σ_(λ>0) λ_i  ({unit(a)})", "(a) entropy rate", "C0"),
              ("ky_dimension", "D_KY", "(b) Kaplan–Yorke dimension", "C1"),
              ("mean_exponent", f"mean exponent  ({unit(a)})", "(c) mean exponent", "C2"),
              ("max_exponent", f"λ_max  ({unit(a)})", "(d) largest exponent", "C3")]
    for axi, (key, ylabel, title, c) in zip(ax, panels):
        v, e = col(key)
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
    m0, _ = col("mean_exponent")
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
    H, _ = col("ks_entropy")
    D, _ = col("ky_dimension")
    data = {"analysis": "input", "n": a.n, "g": a.g, "sigma": sigmas, "rows": rows, "seconds": total}
    save(fig, a, data)
    return (f"input: N={a.n} g={fmt(a.g)} σ={a.sigma}: H {H[0]:.3f} → {H[-1]:.3f}, D_KY {D[0]:.2f} → {D[-1]:.2f}, "
            f"mean exponent {m0[0]:.4f} → {m0[-1]:.4f} (range {np.ptp(m0):.4f}); {total:.1f} s")


# ----------------------------------------------------------------------------------------------
# 4. discrete-time λ_1 formula
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# 5. exact spectrum below onset
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# 6. transition (gain sweep, heavy tails)
# ----------------------------------------------------------------------------------------------

def transition(a):
    ns = ints(a.n)
    gauss = a.alpha.strip().lower() in ("", "gaussian", "none")
    sweeps = []
    total = 0.0
    if a.replot:  # redraw from the JSON of an earlier run
        with open(a.json) as f:
            old = json.load(f)
        sweeps, total = old["sweeps"], old["seconds"]
        ns = [s["n"] for s in sweeps]
    # one sweep per N so that a partial spectrum can use the same fraction k/N at every size
    for n in ([] if a.replot else ns):
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
    grid = [row for s in sweeps for row in s["result"]["grid"]]
    trans = [t for s in sweeps for t in s["result"]["transition"]]
    alphas = sorted({row["alpha"] for row in grid}, key=lambda x: -1 if x is None else x)
    k_frac = {s["n"]: s["k"] / s["n"] for s in sweeps}

    gauss = all(row["alpha"] is None for row in grid)
    fig, axs = plt.subplots(2, 2, figsize=(13, 9))
    ax = axs.ravel()
    markers = ["o", "s", "^", "D", "v"]
    styles = ["-", "--", ":", "-."]
    colors = {al: f"C{i}" for i, al in enumerate(alphas)}

    def lab(al):
        return "Gaussian" if al is None else f"α = {fmt(al)}"

    def err(rows, key):
        return np.array([r.get(key + "_stderr") if r.get(key + "_stderr") is not None else np.nan for r in rows], float)

    for al in alphas:
        for jn, n in enumerate(ns):
            rows = sorted([r for r in grid if r["alpha"] == al and r["n"] == n], key=lambda r: r["g"])
            if not rows:
                continue
            g = np.array([r["g"] for r in rows])
            c, m, ls = colors[al], markers[jn % len(markers)], styles[jn % len(styles)]
            kw = dict(color=c, marker=m, ls=ls, ms=4, capsize=2, lw=1.2, label=f"{lab(al)}, N = {n}")
            ax[0].errorbar(g, [r["max_exponent"] for r in rows], yerr=np.nan_to_num(err(rows, "max_exponent")), **kw)
            ax[1].errorbar(g, [r["ky_dimension"] / n for r in rows],
                           yerr=np.nan_to_num(err(rows, "ky_dimension")) / n, **kw)
            ax[2].errorbar(g, [r["ks_entropy"] / n for r in rows],
                           yerr=np.nan_to_num(err(rows, "ks_entropy")) / n, **kw)
            kn = k_frac[n]  # the program's fraction is among the k computed exponents: scale to N
            ax[3].errorbar(g, [r["fraction_positive"] * kn for r in rows],
                           yerr=np.nan_to_num(err(rows, "fraction_positive")) * kn, **kw)
    ymin, ymax = ax[0].get_ylim()
    for t in trans:
        al, n = t["alpha"], t["n"]
        jn = ns.index(n)
        c = colors[al]
        if t.get("g_star_predicted") is not None:
            for axi in ax:
                axi.axvline(t["g_star_predicted"], color=c, ls=":", lw=1.3, alpha=0.9)
        if t.get("g_cross") is not None:
            ax[0].axvline(t["g_cross"], color=c, ls=styles[jn % len(styles)], lw=0.8, alpha=0.5)
            ax[0].errorbar([t["g_cross"]], [0.0], xerr=[t["g_cross_stderr"] or 0.0], fmt=markers[jn % len(markers)],
                           color=c, ms=9, mfc="white", mew=1.5, capsize=4, zorder=5)
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
    handles, labels = ax[0].get_legend_handles_labels()
    from matplotlib.lines import Line2D
    handles += [Line2D([], [], color="gray", ls=":", lw=1.3),
                Line2D([], [], color="gray", marker="o", mfc="white", ls="-", lw=0.8, ms=8)]
    labels += ["g* predicted, exp(−⟨Ξ⟩) (color: α)" if not gauss else "g* = 1 (N → ∞ onset)",
               "g_cross ± s.e.: first upward zero crossing of mean λ_max (panel a)"]
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.06), frameon=False)
    kdesc = ", ".join(f"k = {int(round(f * n))} of {n}" for n, f in k_frac.items())
    wt = "Gaussian J_ij ~ N(0, g²/N)" if gauss else "Lévy J_ij = g N^(−1/α) S_α"
    fig.suptitle(f"Transition to chaos: {wt}, {model_label(a)}, t_sim = {fmt(a.t_sim)} {tunit(a)}, "
                 f"ensemble {a.ensemble} (mean ± s.e.), {kdesc}", y=1.0)
    fig.tight_layout()
    warn = [r for r in grid if r["ky_dimension"] > 0.9 * k_frac[r["n"]] * r["n"]]
    data = {"analysis": "transition", "transition": trans, "grid": grid, "seconds": total, "sweeps": sweeps,
            "ky_dimension_near_k": len(warn)}
    save(fig, a, data)
    parts = []
    for t in trans:
        gc = "none" if t.get("g_cross") is None else f"{t['g_cross']:.3f}±{(t.get('g_cross_stderr') or 0):.3f}"
        parts.append(f"{lab(t['alpha'])} N={t['n']}: g_cross {gc} vs g* {t['g_star_predicted']:.3f}")
    msg = "transition: " + "; ".join(parts) + f"; {total:.1f} s"
    if warn:
        msg += f" (warning: D_KY close to k at {len(warn)} grid points; raise --k-frac)"
    return msg


# ----------------------------------------------------------------------------------------------

SUBPARSERS = {}


# ----------------------------------------------------------------------------------------------
# 7. covariant Lyapunov vectors
# ----------------------------------------------------------------------------------------------

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


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("size-invariance", help="spectra for several N against i/N; D/N, H/N, λ_max against N")
    add_common(p, "size-invariance", models=("rate", "map"), rate_times=(100, 100, 500), map_times=(500, 200, 2000))
    p.add_argument("--n", default=None, help="sizes (50,100,200,400; with --results: every "
                   "spectrum_n<N>.json found)")
    p.add_argument("--g", type=float, default=3.0, help="gain (%(default)s)")
    p.add_argument("--ensemble", default="auto",
                   help="networks per size: B, B1,B2,... (one per size) or auto = round(800/N) (%(default)s)")
    p.add_argument("--preset", default=None, choices=sorted(SIZE_PRESETS),
                   help="the sizes of [EWA23] with a named schedule; explicit options override it. " + "; ".join(
                       f"{k}: " + " ".join(f"--{o.replace('_', '-')} {fmt(v) if not isinstance(v, str) else v}"
                                           for o, v in d.items() if o != "name_suffix")
                       + f" (writes docs/img/size-invariance{d['name_suffix']}.png)" for k, d in SIZE_PRESETS.items()))
    p.add_argument("--results", default=None, metavar="DIR",
                   help="plot DIR/spectrum_n<N>.json (the output of `rnnlyap spectrum --out`, e.g. from "
                        "bench/gpu_check.sh extra) instead of running rnnlyap; the model options are read "
                        "from the files")
    p.set_defaults(func=size_invariance)
    SUBPARSERS["size-invariance"] = p

    p = sub.add_parser("symmetry", help="pair sums λ_i + λ_(N+1−i) against i/N")
    add_common(p, "symmetry", dt=0.05, rate_times=(100, 100, 500), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=3.0, help="%(default)s")
    p.set_defaults(func=symmetry)

    p = sub.add_parser("input", help="H, D_KY and the mean exponent against the input σ")
    add_common(p, "input", rate_times=(100, 100, 400), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=3.0, help="%(default)s")
    p.add_argument("--sigma", default="0,0.25,0.5,1,2", help="input standard deviations (%(default)s)")
    p.add_argument("--ensemble", type=int, default=3, help="networks per σ (%(default)s)")
    p.set_defaults(func=input_analysis)

    p = sub.add_parser("lambda1", help="map model: λ_1 against ½ ln(g²⟨φ′²⟩)")
    add_common(p, "lambda1", model="map", models=("map",), map_times=(500, 200, 5000))
    p.add_argument("--n", type=int, default=1000, help="%(default)s")
    p.add_argument("--g", default="1.2,1.5,2,2.5,3", help="gains (%(default)s)")
    p.add_argument("--np-warmup", type=int, default=500, help="numpy warm-up steps for ⟨φ′²⟩ (%(default)s)")
    p.add_argument("--np-steps", type=int, default=2000, help="numpy steps averaged for ⟨φ′²⟩ (%(default)s)")
    p.set_defaults(func=lambda1)

    p = sub.add_parser("exact", help="below onset: computed against exact spectrum from eig(J)")
    add_common(p, "exact", rate_times=(100, 100, 1000), map_times=(500, 200, 5000))
    p.add_argument("--n", type=int, default=200, help="%(default)s")
    p.add_argument("--g", type=float, default=0.7, help="%(default)s")
    p.set_defaults(func=exact)

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

    p = sub.add_parser("clv", help="covariant Lyapunov vectors: growth rates, localisation, angles")
    add_common(p, "clv", models=("rate", "map"), rate_times=(100, 100, 1000), map_times=(500, 200, 2000))
    p.add_argument("--n", type=int, default=200, help="neurons (%(default)s)")
    p.add_argument("--g", type=float, default=3.0, help="gain (%(default)s)")
    p.add_argument("--k", type=int, default=40, help="exponents and vectors (%(default)s)")
    p.set_defaults(func=clv)

    p = sub.add_parser("all", help="every analysis with its defaults")
    p.add_argument("--rnnlyap", default=str(DEFAULT_EXE), help="path of the rnnlyap program (%(default)s)")
    p.add_argument("--backend", default=None, help="auto|cpu|cuda")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=None)
    return ap


def run_one(ap, argv):
    a = ap.parse_args(argv)
    if a.cmd == "exact":
        a.name_suffix = "-" + a.model + ("" if a.model == "map" or a.integrator == "euler" else "-rk4")
    if a.cmd == "size-invariance":
        if a.preset:  # the preset's values become the defaults; options given explicitly still win
            n_given = a.n is not None
            p = SUBPARSERS["size-invariance"]
            saved = {k: p.get_default(k) for k in SIZE_PRESETS[a.preset]}
            p.set_defaults(**SIZE_PRESETS[a.preset])
            try:
                a = ap.parse_args(argv)
            finally:
                p.set_defaults(**saved)
            a.n_from_preset = not n_given  # with --results: the files present, not the preset's sizes
        elif a.n is None and not a.results:
            a.n = "50,100,200,400"
    resolve(a)
    t0 = time.perf_counter()
    line = a.func(a)
    print(line + f"  [{time.perf_counter() - t0:.1f} s wall] -> {os.path.relpath(a.out)}", flush=True)


def main(argv=None):
    ap = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = ap.parse_args(argv)
        if a.cmd != "all":
            run_one(ap, argv)
            return 0
        check_exe(a.rnnlyap)
        common = ["--rnnlyap", a.rnnlyap]
        if a.backend:
            common += ["--backend", a.backend]
        if a.threads:
            common += ["--threads", str(a.threads)]
        t0 = time.perf_counter()
        for cmd in (["size-invariance"], ["symmetry"], ["input"], ["lambda1"], ["exact", "--model", "rate"],
                    ["exact", "--model", "map"], ["transition"], ["clv"]):
            run_one(ap, cmd + common)
        print(f"all: {time.perf_counter() - t0:.1f} s")
        return 0
    except Failure as e:
        print(f"analyses.py: error: {e}", file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
