"""What the analyses share: running the `rnnlyap` program, the common options (model, schedule,
outputs) and their model-dependent defaults, saving a figure with its JSON, and labels."""
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

REPO = Path(__file__).resolve().parent.parent.parent
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
    p.add_argument("--threads", type=int, default=None, help="CPU threads (the program's default)")
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

