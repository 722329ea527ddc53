# shellcheck shell=bash
# Shared by network.sh and network_cuda.sh (one network over a grid of MPI ranks, its ScaLAPACK and
# GPU variants): sourced after `set -euo pipefail`, with $python set and the working directory a
# scratch folder of the test's own.
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export RNNLYAP_PROGRESS_SECONDS=3600

# below_onset_network T: j.npy, a network of N = 40 below onset (J = 0.6 W/√N, dt = 0.1), whose
# fixed point 0 is stable and tangent map the constant D = (1−dt) I + dt J, so λ_i = log|μ_i(D)|/dt
# (exact.npy). The estimator's error after averaging over T: about log κ(V)/T for the eigenvector
# matrix V (the basis's transient), taken four times over (tol).
below_onset_network() {
  "$python" - "$1" <<'EOF'
import sys
import numpy as np
r = np.random.default_rng(7)
n, dt, t = 40, 0.1, float(sys.argv[1])
j = 0.6 * r.normal(0, 1, (n, n)) / np.sqrt(n)
np.save("j.npy", j)
mu, v = np.linalg.eig((1 - dt) * np.eye(n) + dt * j)
np.save("exact.npy", np.sort(np.log(np.abs(mu)) / dt)[::-1])
open("tol", "w").write(repr(4 * np.log(np.linalg.cond(v)) / t))
EOF
}

# exact_below_onset RESULT: the result's exponents are below_onset_network's within tol, and their
# sum the exact sum to 1e-9.
exact_below_onset() {
  "$python" - "$1" <<'EOF'
import json, sys
import numpy as np
lam = np.array(json.load(open(sys.argv[1]))["exponents"])
exact, tol = np.load("exact.npy"), float(open("tol").read())
d = np.max(np.abs(lam - exact))
assert d <= tol, f"{sys.argv[1]}: {d:.3g} from the exact spectrum (tolerance {tol:.3g})"
s = abs(lam.sum() - exact.sum())
assert s <= 1e-9 * abs(exact.sum()) + 1e-9, f"sum rule off by {s:.3g}"
EOF
}

# rank_pids: the pids of the running job's ranks (its checkpoint's path is in this folder, $dir).
rank_pids() {
  for p in $(pgrep -f -- "--checkpoint $dir/" || true); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q "^OMPI_COMM_WORLD_RANK=" && echo "$p"
  done
}

# check_grids RUN NAME TOL GRID... -- ARGS...: one process's spectrum (CPU, one thread) against
# `RUN GRID spectrum ARGS...` (the test's function running a grid) on each GRID, compared by the
# test's `close A B TOL`.
check_grids() {
  local run=$1 name=$2 tol=$3
  shift 3
  local grids=()
  while [ "$1" != "--" ]; do grids+=("$1"); shift; done
  shift
  "$rnnlyap" spectrum "$@" --backend cpu --threads 1 --quiet --out one.json
  for grid in "${grids[@]}"; do
    "$run" "$grid" spectrum "$@" --out grid.json
    close one.json grid.json "$tol" || fail "$name on $grid"
  done
  pass "$name: grids ${grids[*]} agree with one process within $tol"
}
