#!/usr/bin/env bash
# End-to-end tests of one network over a grid of MPI ranks (README, "One network over many ranks"):
#   network.sh RNNLYAP PYTHON MPIEXEC
# - below onset the spectrum of a network from a file equals the exact one (log|eig| of the
#   constant tangent map at the fixed point 0) within the estimator's error, on grids 1x2 and 2x2;
# - on the same network, seeds and schedule, grids 1x2, 2x1, 2x2 and 1x3 (block sizes that do not
#   divide N = 70) give one process's spectrum to rounding: rate (Euler, RK4), map, every QR method,
#   fp32, levy and file weights, noise and bias, k < N;
# - checkpoints: SIGTERM to every rank stops the run with exit 130 and a checkpoint, resumed on the
#   same grid, another grid or one process; SIGKILL ends the job and its last checkpoint resumes;
# - refused input (a grid that is not the job's ranks, covariant vectors, ensembles, a bad grid)
#   exits 2 with one line before anything is computed; a run that goes non-finite exits 1 with one
#   line and writes no result.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rnnlyap=$1 python=$2 mpiexec=${3:-mpirun}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rnnlyap_network.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
source "$here/common.sh"
"$python" -c "import numpy" 2>/dev/null || { echo "numpy is missing: skipped"; exit 77; }

"$rnnlyap" info >info.txt
grep -q "^ScaLAPACK (--distribute-network): ScaLAPACK" info.txt || fail "rnnlyap info does not name ScaLAPACK"

# ranks GRID ARGS...: the run on a PRxPC grid of PR*PC ranks.
ranks() {
  local grid=$1
  shift
  "$mpiexec" -n $((${grid%x*} * ${grid#*x})) "$rnnlyap" "$@" --distribute-network "$grid" --quiet
}

# close A B TOL: the exponents of two results agree within TOL (absolute), and B ran on a grid.
close() {
  "$python" - "$@" <<'EOF'
import json, sys
a, b, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
x, y = a["exponents"], b["exponents"]
assert len(x) == len(y) > 0
d = max(abs(p - q) for p, q in zip(x, y))
assert d <= tol, f"exponents differ by {d:.3g} > {tol:.3g}"
assert "ScaLAPACK" in b["device"], b["device"]
assert a["params"] == b["params"], "the recorded options differ"
EOF
}

# --- below onset: the exact spectrum (common.sh) ------------------------------------------------
below_onset_network 400
below=(spectrum --weights-file j.npy --dt 0.1 --t-warmup 50 --t-ons-warmup 50 --t-sim 400)
for grid in 1x2 2x2; do
  ranks $grid "${below[@]}" --out below$grid.json
  exact_below_onset below$grid.json
  pass "below onset on $grid: the exact spectrum within the estimator's error ($(cat tol)), its sum to 1e-9"
done

# --- one process and the grids: the same spectrum to rounding ------------------------------------
# Chaos magnifies rounding by about e^{λ_1 t} over the run (t = 60 here, λ_1 ≈ 0.1 for the rate
# model at g = 3): 1e-16 · e^6 ≈ 4e-14; the tolerance leaves a factor of 25 000 above that. The map
# (λ_1 ≈ 0.25 per step, 60 steps) is taken at g = 1.5, where λ_1 is smaller still.
short=(--n 70 --t-warmup 20 --t-ons-warmup 10 --t-sim 30)
check() { check_grids ranks "$@"; }  # check NAME TOL GRID... -- ARGS...
check "rate, Euler, --qr auto" 1e-9 1x2 2x1 2x2 1x3 -- "${short[@]}" --g 3
check "rate, RK4" 1e-9 2x2 -- "${short[@]}" --g 3 --integrator rk4
check "rate, --qr householder" 1e-9 2x2 1x3 -- "${short[@]}" --g 3 --qr householder
check "rate, --qr cholesky2" 1e-9 2x1 -- "${short[@]}" --g 3 --qr cholesky2
check "map" 1e-9 1x3 -- --model map --n 70 --g 1.5 --t-warmup 20 --t-ons-warmup 10 --t-sim 30
check "levy weights, noise, bias, k < N" 1e-9 2x2 -- "${short[@]}" --g 3 --weights levy \
  --alpha 1.5 --input-std 0.3 --bias-std 0.2 --k 9
check "a weights file" 1e-9 2x1 -- --weights-file j.npy --t-sim 50
# fp32: rounding of 6e-8 magnified as above, and CholeskyQR's error in fp32: 1e-4.
check "fp32" 1e-4 1x2 -- "${short[@]}" --g 3 --precision fp32

# --- checkpoints: SIGTERM to every rank, resumed on the same grid, on another, in one process ----
# The trajectory of a grid with one process column is that of one process bit for bit (each row of
# J φ(h) summed in the same order), so a run resumed on 2x1 or in one process continues the same
# trajectory; a grid with two process columns (1x2) follows another trajectory (rounding, grown by
# the chaos over t = 1500), so its checkpoint is compared with its own uninterrupted run.
long=(spectrum --n 150 --g 3 --t-warmup 10 --t-ons-warmup 10 --t-sim 1500 --quiet)
stopped() {  # stopped GRID SIGNAL CHECKPOINT: the run on GRID, SIGNAL to its ranks after a checkpoint
  rm -f "$3"
  "$mpiexec" -n 2 "$rnnlyap" "${long[@]}" --distribute-network "$1" --checkpoint "$dir/$3" \
    --checkpoint-every 0.1 --out never.json >stop.out 2>stop.err &
  local job=$!
  for _ in $(seq 2400); do [ -s "$3" ] && break; sleep 0.05; done
  [ -s "$3" ] || fail "no checkpoint within 120 s"
  for p in $(rank_pids); do kill "-$2" "$p"; done
  set +e
  wait $job
  rc=$?
  set -e
  [ ! -e never.json ] || fail "a stopped run wrote its result"
}
"$rnnlyap" "${long[@]}" --threads 1 --out long1.json
ranks 1x2 "${long[@]}" --out long12.json
stopped 1x2 TERM c12.ckpt
[ $rc -eq 130 ] || { cat stop.err; fail "SIGTERM to every rank: exit $rc, not 130"; }
[ "$(grep -c '^rnnlyap' stop.err)" -eq 1 ] && grep -q "interrupted; resume with --resume $dir/c12.ckpt" stop.err ||
  { cat stop.err; fail "SIGTERM: not one line naming the checkpoint"; }
cp c12.ckpt c12b.ckpt
ranks 1x2 spectrum --resume c12.ckpt --out resumed12.json
close long12.json resumed12.json 1e-11 || fail "resumed on 1x2 differs from the uninterrupted 1x2 run"
pass "SIGTERM to every rank: exit 130, one line; resumed on the same grid = uninterrupted (1e-11)"
cp c12b.ckpt c12c.ckpt
ranks 2x1 spectrum --resume c12b.ckpt --out resumed21.json
"$rnnlyap" spectrum --resume c12c.ckpt --threads 1 --out resumed1.json --quiet
close resumed1.json resumed21.json 1e-11 || fail "a 1x2 checkpoint resumed on 2x1 and in one process differ"
pass "a 1x2 checkpoint resumed on 2x1 and in one process: the same exponents (1e-11)"
rm -f c1.ckpt
"$rnnlyap" "${long[@]}" --threads 1 --checkpoint c1.ckpt --checkpoint-every 0.1 --out never.json &
job=$!
for _ in $(seq 2400); do [ -s c1.ckpt ] && break; sleep 0.05; done
kill -TERM $job
set +e
wait $job
set -e
[ -s c1.ckpt ] || fail "one process wrote no checkpoint"
ranks 2x1 spectrum --resume c1.ckpt --out resumed1on21.json
close long1.json resumed1on21.json 1e-11 || fail "one process's checkpoint resumed on 2x1 differs"
pass "one process's checkpoint resumed on 2x1 = the uninterrupted run (1e-11)"
stopped 1x2 KILL ck.ckpt
[ $rc -ne 0 ] || fail "a job whose ranks were killed exited 0"
ranks 1x2 spectrum --resume ck.ckpt --out resumedkill.json
close long12.json resumedkill.json 1e-11 || fail "resumed after SIGKILL differs"
pass "ranks killed (SIGKILL): the job fails, its last checkpoint resumes to the uninterrupted run"

# --- refused input: exit 2 and one line, before anything is computed ----------------------------
refused() {  # refused WHAT EXPECTED-TEXT COMMAND...
  local what=$1 text=$2
  shift 2
  set +e
  "$@" >out.txt 2>err.txt
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "$what: exit $rc, not 2"
  [ "$(grep -c '^rnnlyap' err.txt)" -eq 1 ] || { cat err.txt; fail "$what: not one line"; }
  grep -q -- "$text" err.txt || { cat err.txt; fail "$what: says '$(grep '^rnnlyap' err.txt)'"; }
  [ ! -e never.json ] || fail "$what: wrote a result"
  ! grep -q MPI_ABORT err.txt || fail "$what: a rank aborted the job (one rank failed alone)"
  pass "$what: exit 2, one line"
}
refused "a 2x2 grid on 3 ranks" "needs 4 MPI ranks" \
  "$mpiexec" -n 3 "$rnnlyap" spectrum --n 50 --distribute-network 2x2 --out never.json
refused "covariant vectors" "cannot compute covariant vectors" \
  "$mpiexec" -n 2 "$rnnlyap" spectrum --n 50 --distribute-network 2x1 --clv-stats --out never.json
refused "an ensemble" "spreads one network" \
  "$mpiexec" -n 2 "$rnnlyap" spectrum --n 50 --ensemble 3 --distribute-network 1x2 --out never.json
refused "a grid that is not PRxPC" "must be PRxPC" \
  "$rnnlyap" spectrum --n 50 --distribute-network 2by2 --out never.json
refused "a grid without MPI ranks" "needs 4 MPI ranks" \
  "$rnnlyap" spectrum --n 50 --distribute-network 2x2 --out never.json
refused "--shard with a grid" "cannot be combined with --shard" \
  "$rnnlyap" spectrum --n 50 --distribute-network 1x1 --shard 1/2 --out never.json
# Each rank holds half of J (N = 200000: 149 GiB per rank), far beyond any rank's share here.
refused "a network that fits on no rank" "MiB of memory per rank" \
  "$mpiexec" -n 2 "$rnnlyap" spectrum --n 200000 --distribute-network 1x2 --out never.json
# A NaN in the columns of rank 1 alone (N = 70 on 1x2: blocks of 18 columns, rank 1 holds 18-35):
# every rank refuses it, rank 0 with rank 1's message.
"$python" -c "
import numpy as np
j = np.load('j.npy'); w = np.zeros((70, 70)); w[:40, :40] = j; w[5, 20] = np.nan
np.save('nan.npy', w)"
refused "a weights file with a NaN in another rank's columns" "NaN at row 5, column 20" \
  "$mpiexec" -n 2 "$rnnlyap" spectrum --weights-file nan.npy --distribute-network 1x2 --out never.json

# --- the trace: written by rank 0, the rows of one process -------------------------------------
"$rnnlyap" spectrum "${short[@]}" --g 3 --threads 1 --quiet --trace t1.csv --out one.json
ranks 2x1 spectrum "${short[@]}" --g 3 --trace t21.csv --out grid.json
"$python" -c "
import numpy as np
a = np.loadtxt('t1.csv', delimiter=',', skiprows=1)
b = np.loadtxt('t21.csv', delimiter=',', skiprows=1)
assert a.shape == b.shape and a.shape[0] > 10, (a.shape, b.shape)
assert np.max(np.abs(a - b)) < 1e-9, np.max(np.abs(a - b))" || fail "the trace on 2x1 differs"
pass "--trace on a grid: rank 0 writes one process's rows (1e-9)"

# --- a run that goes non-finite: exit 1, one line, no result ------------------------------------
set +e
"$mpiexec" -n 2 "$rnnlyap" spectrum --model map --n 50 --g 1e300 --t-sim 10 \
  --distribute-network 2x1 --trace never.csv --out never.json >out.txt 2>err.txt
rc=$?
set -e
[ $rc -eq 1 ] || fail "a non-finite run: exit $rc, not 1"
[ "$(grep -c '^rnnlyap' err.txt)" -eq 1 ] || { cat err.txt; fail "a non-finite run: not one line"; }
[ ! -e never.json ] && [ ! -e never.csv ] || fail "a non-finite run wrote a result"
! grep -q MPI_ABORT err.txt || fail "a non-finite run: a rank aborted the job (it failed alone)"
pass "a run that saturates (with --trace): exit 1, one line, no result"
