"""The command line of scripts/analyses.py: one subcommand per analysis module, and `all`."""
import argparse
import os
import sys
import time

from . import clv, exact, input_noise, lambda1, size_invariance, symmetry, transition
from .runner import DEFAULT_EXE, Failure, check_exe, resolve

# The subcommands in the order of --help; `all` runs them in this order too (exact for rate and map).
ANALYSES = (size_invariance, symmetry, input_noise, lambda1, exact, transition, clv)
ALL = (["size-invariance"], ["symmetry"], ["input"], ["lambda1"], ["exact", "--model", "rate"],
       ["exact", "--model", "map"], ["transition"], ["clv"])


def build_parser(description):
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for analysis in ANALYSES:
        analysis.add_parser(sub)
    p = sub.add_parser("all", help="every analysis with its defaults")
    p.add_argument("--rnnlyap", default=str(DEFAULT_EXE), help="path of the rnnlyap program (%(default)s)")
    p.add_argument("--backend", default=None, help="auto|cpu|cuda")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=None)
    return ap


def run_one(ap, argv):
    a = ap.parse_args(argv)
    if getattr(a, "prepare", None):  # defaults that depend on other options (exact, size-invariance)
        a = a.prepare(a, ap, argv)
    resolve(a)
    t0 = time.perf_counter()
    line = a.func(a)
    print(line + f"  [{time.perf_counter() - t0:.1f} s wall] -> {os.path.relpath(a.out)}", flush=True)


def run_all(ap, a):
    check_exe(a.rnnlyap)
    common = ["--rnnlyap", a.rnnlyap]
    if a.backend:
        common += ["--backend", a.backend]
    if a.threads:
        common += ["--threads", str(a.threads)]
    t0 = time.perf_counter()
    for cmd in ALL:
        run_one(ap, cmd + common)
    print(f"all: {time.perf_counter() - t0:.1f} s")


def main(description, argv=None):
    ap = build_parser(description)
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = ap.parse_args(argv)
        if a.cmd != "all":
            run_one(ap, argv)
        else:
            run_all(ap, a)
        return 0
    except Failure as e:
        print(f"analyses.py: error: {e}", file=sys.stderr)
        return e.code
