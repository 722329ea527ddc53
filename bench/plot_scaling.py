#!/usr/bin/env python3
"""Plot the scaling profiler's CSV: seconds per call against N on log axes, one line per
(backend, op, k/N), with an N³ reference slope.  plot_scaling.py scaling.csv [more.csv ...] --out scaling.png"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("csv", nargs="+")
ap.add_argument("--out", default="scaling.png")
a = ap.parse_args()
rows = [r for f in a.csv for r in csv.DictReader(open(f))]
series = {}
for r in rows:
    n, k = int(r["n"]), int(r["k"])
    key = (r["backend"], r["precision"], r["op"], "k=N" if k == n else "k=N/8")
    series.setdefault(key, []).append((n, float(r["seconds"])))
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for (backend, prec, op, kk), pts in sorted(series.items()):
    pts.sort()
    n, s = np.array(pts).T
    ax.plot(n, s, "o-" if op == "tangent_step" else "s--", ms=4, label=f"{backend} {prec} {op} {kk}")
allx = np.array(sorted({p[0] for v in series.values() for p in v}), dtype=float)
if allx.size:
    ymax = max(p[1] for v in series.values() for p in v)
    ax.plot(allx, ymax * (allx / allx[-1]) ** 3, "k:", lw=1, label="∝ N³")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("N")
ax.set_ylabel("seconds per call")
ax.legend(fontsize=7, frameon=False)
fig.tight_layout()
fig.savefig(a.out, dpi=130)
print(f"plot_scaling: wrote {a.out}")
