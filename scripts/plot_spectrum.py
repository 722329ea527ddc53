#!/usr/bin/env python3
"""Plot a Lyapunov spectrum (result JSON of `rnnlyap spectrum`) and, when given, the convergence
of its leading exponents (the --trace CSV).

    plot_spectrum.py RESULT.json [--trace TRACE.csv] [--out spectrum.png] [--leading 5]

Left panel: λ_i against i/N (the axis on which spectra of different N collapse, docs/design.md),
with the standard errors as a band. Right panel: running estimates of the leading exponents over
the averaging time.
"""
import argparse
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_trace(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"plot_spectrum: {path}: no data rows")
    data = np.array(rows[1:], dtype=float)
    return data[:, 0], data[:, 1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result")
    ap.add_argument("--trace")
    ap.add_argument("--out", default="spectrum.png")
    ap.add_argument("--leading", type=int, default=5, help="exponents shown in the convergence panel")
    args = ap.parse_args()

    with open(args.result) as f:
        r = json.load(f)
    lam = np.asarray(r["exponents"], dtype=float)
    err = np.asarray([np.nan if e is None else e for e in r["stderr"]], dtype=float)
    p, s = r["params"], r["summary"]
    n = p["n"]
    x = np.arange(1, lam.size + 1) / n

    panels = 2 if args.trace else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    ax.plot(x, lam, ".-", ms=3, lw=0.8, color="C0")
    if np.isfinite(err).any():
        ax.fill_between(x, lam - 2 * err, lam + 2 * err, color="C0", alpha=0.25, lw=0, label="±2 s.e.")
        ax.legend(loc="lower left", frameon=False)
    ax.axhline(0, color="k", lw=0.6)
    unit = "1/τ" if p["model"] == "rate" else "1/step"
    ax.set_xlabel("i / N")
    ax.set_ylabel(f"λ_i  [{unit}]")
    ky = s["ky_dimension"]
    ax.set_title(
        f"{p['model']} N={n} g={p['g']:g}: λ_max={s['max_exponent']:.3g}, "
        f"D/N={ky / n:.3g}, H={s['ks_entropy']:.3g}",
        fontsize=9,
    )

    if args.trace:
        t, est = read_trace(args.trace)
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

    fig.tight_layout()
    fig.savefig(args.out, dpi=130)
    print(f"plot_spectrum: wrote {args.out}")


if __name__ == "__main__":
    main()
