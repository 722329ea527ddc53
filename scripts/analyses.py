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
import os
import sys

# The analyses live in the package scripts/analyses/ beside this file (a package comes before a
# module of the same name, so `import analyses` finds it, not this file); this folder is put first
# on the path also where Python would leave it out (python3 -P, PYTHONSAFEPATH).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyses.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__))
