#!/usr/bin/env python3
"""Plot an rnnlyap result: a spectrum (`rnnlyap spectrum`, random, file or trained networks,
single runs and ensembles) or a sweep (`rnnlyap sweep`). The JSON or the --npz file may be given.

    plot_spectrum.py RESULT.json|RESULT.npz [--trace TRACE.csv] [--out spectrum.png] [--leading 5]
    plot_spectrum.py SWEEP.json|SWEEP.npz [--out sweep.png]

Spectrum, left panel: λ_i against i/D, D the dimension of the tangent space (N, or 2N for a full
LSTM spectrum), the axis on which spectra of different sizes collapse; the ±2 standard-error band
is outlined so that it stays visible when it is narrow, and an ensemble's members are drawn thinly
behind their mean. Right panel (with a trace, from --trace or the .npz): the running estimates of
the leading exponents over the averaging time.

Sweep: λ_max and D_KY/N against g with ±2 s.e. error bars, one curve per (N, α), the zero line,
each curve's first zero crossing, the gain from which λ_max stays significantly positive and the
neutral window before it.
"""
import argparse
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def floats(values):
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def read_trace(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"plot_spectrum: {path}: no data rows")
    data = np.array(rows[1:], dtype=float)
    return data[:, 0], data[:, 1:]


def load(path):
    """The result as a dict, and the trace (times, estimates) when the file holds one."""
    if path.endswith(".npz"):
        f = np.load(path)
        key = "sweep_json" if "sweep_json" in f.files else "result_json"
        r = json.loads(str(f[key]))
        trace = (f["trace_time"], f["trace"]) if "trace" in f.files else None
        return r, trace
    with open(path) as f:
        return json.load(f), None


def title_of(r):
    """What the run was, without options that do not apply (no g for file or trained weights)."""
    p = r["params"]
    parts = [p["model"]]
    if p["model"] in ("rnn", "gru", "lstm"):
        parts.append(f"N={p['n']}")
        if p.get("lstm_h_only"):
            parts.append("h only")
        sequences = len(r.get("members", [])) or 1
        parts.append(f"{sequences} sequence{'s' if sequences > 1 else ''}")
    else:
        parts.append(f"N={p['n']}")
        if "g" in p:
            parts.append(f"g={p['g']:g}")
        if p.get("weights") == "levy":
            parts.append(f"α={p['alpha']:g}")
        if p.get("weights") == "file":
            parts.append("weights from file")
        if p.get("ensemble", 1) > 1:
            parts.append(f"{p['ensemble']} networks")
    return " ".join(parts)


def tangent_dimension(p):
    layers = p.get("layers", 1)
    if p["model"] == "lstm" and not p.get("lstm_h_only"):
        return 2 * p["n"] * layers
    return p["n"] * layers


def plot_spectrum(r, trace, args):
    lam, err = floats(r["exponents"]), floats(r["stderr"])
    p, s = r["params"], r["summary"]
    dim = tangent_dimension(p)
    x = np.arange(1, lam.size + 1) / dim

    panels = 2 if trace is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    for m in r.get("members", [])[:50]:
        ax.plot(x, floats(m["exponents"]), lw=0.5, color="0.7", zorder=1)
    ax.plot(x, lam, ".-", ms=3, lw=0.8, color="C0", zorder=3,
            label=("mean over sequences" if p["model"] in ("rnn", "gru", "lstm") else
                   "mean over networks") if r.get("members") else "λ_i")
    ok = np.isfinite(err) & np.isfinite(lam)
    if ok.any():
        lo, hi = lam - 2 * err, lam + 2 * err
        ax.fill_between(x, lo, hi, where=ok, color="C1", alpha=0.35, lw=0, zorder=2)
        ax.plot(x[ok], lo[ok], color="C1", lw=0.6, zorder=2)
        ax.plot(x[ok], hi[ok], color="C1", lw=0.6, zorder=2,
                label=f"±2 s.e. (at most {2 * np.nanmax(err[ok]):.2g})")
    ax.legend(loc="lower left", frameon=False, fontsize=8)
    ax.axhline(0, color="k", lw=0.6)
    unit = "1/τ" if p["model"] == "rate" else "1/step"
    ax.set_xlabel("i / N" if dim == p["n"] else "i / 2N  (h and c)")
    ax.set_ylabel(f"λ_i  [{unit}]")
    ky = s["ky_dimension"]
    ax.set_title(
        f"{title_of(r)}: λ_max={s['max_exponent']:.3g}, D/{'N' if dim == p['n'] else '2N'}="
        f"{ky / dim:.3g}, H={s['ks_entropy']:.3g}",
        fontsize=9,
    )

    if trace is not None:
        t, est = trace
        ax2 = axes[0, 1]
        m = min(args.leading, est.shape[1])
        for i in range(m):
            ax2.plot(t, est[:, i], lw=1, label=f"λ_{i + 1}")
        ax2.axhline(0, color="k", lw=0.6)
        ax2.set_xscale("log")
        ax2.set_xlabel("averaging time" + (" [τ]" if p["model"] == "rate" else " [steps]"))
        ax2.set_ylabel("running estimate")
        ax2.set_title("convergence of the leading exponents", fontsize=9)
        ax2.legend(frameon=False, fontsize=8)
    return fig


def plot_sweep(r):
    grid = r["grid"]
    curves = {}
    for q in grid:
        curves.setdefault((q["n"], q["alpha"]), []).append(q)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for c, ((n, alpha), points) in enumerate(sorted(curves.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))):
        points.sort(key=lambda q: q["g"])
        g = np.array([q["g"] for q in points])
        label = f"N={n}" + (f" α={alpha:g}" if alpha is not None else "")
        for ax, key, scale in ((axes[0], "max_exponent", 1.0), (axes[1], "ky_dimension", 1.0 / n)):
            y = floats([q[key] for q in points]) * scale
            e = floats([q[key + "_stderr"] for q in points]) * scale
            ax.errorbar(g, y, yerr=np.where(np.isfinite(e), 2 * e, 0), fmt=".-", ms=4, lw=0.9,
                        capsize=2, color=f"C{c}", label=label)
        for t in r.get("transition", []):
            if t["n"] != n or t["alpha"] != alpha:
                continue
            if t["g_cross"] is not None:
                axes[0].axvline(t["g_cross"], color=f"C{c}", lw=0.6, ls="--")
            if t.get("g_significant") is not None:
                axes[0].axvline(t["g_significant"], color=f"C{c}", lw=0.9, ls=":")
            if t.get("neutral_window") is not None:
                axes[0].axvspan(*t["neutral_window"], color=f"C{c}", alpha=0.08, lw=0)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].set_ylabel("λ_max  [" + ("1/τ" if r["params"]["model"] == "rate" else "1/step") + "]")
    axes[1].set_ylabel("D_KY / N")
    for ax in axes:
        ax.set_xlabel("g")
        ax.legend(frameon=False, fontsize=8)
    p = r["params"]
    axes[0].set_title(f"{p['model']} sweep, ensemble {p.get('ensemble', 1)}: ±2 s.e.; "
                      "dashed: first crossing; dotted: > 3 s.e. from here; shaded: consistent with 0",
                      fontsize=8)
    axes[1].set_title("Kaplan–Yorke dimension per neuron", fontsize=9)
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result", help="a spectrum or sweep result, .json or .npz")
    ap.add_argument("--trace", help="the --trace CSV of a spectrum run")
    ap.add_argument("--out", default="spectrum.png")
    ap.add_argument("--leading", type=int, default=5, help="exponents shown in the convergence panel")
    args = ap.parse_args()

    r, trace = load(args.result)
    if args.trace:
        trace = read_trace(args.trace)
    fig = plot_sweep(r) if "grid" in r else plot_spectrum(r, trace, args)
    fig.tight_layout()
    fig.savefig(args.out, dpi=130)
    print(f"plot_spectrum: wrote {args.out}")


if __name__ == "__main__":
    main()
