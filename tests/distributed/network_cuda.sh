#!/usr/bin/env bash
# End-to-end tests of the GPU variant of one network over a grid of MPI ranks (--distribute-network
# with --backend cuda: cuBLASMp and cuSOLVERMp, one GPU per rank; README, "One network over many
# ranks"):
#   network_cuda.sh RNNLYAP PYTHON MPIEXEC
# It needs the variant built in and a device for every rank: on a machine without a GPU it runs on
# the emulated device (scripts/test_emulated.sh; tests/emulation/README.md), where the libraries
# are emulated over ScaLAPACK. Without either it skips (77), or fails with RNNLYAP_REQUIRE_CUDA=1.
# - below onset, on 1x2 and 2x2: the exact spectrum within the estimator's error, its sum to 1e-9;
# - on the same network, seeds and schedule, grids 1x2, 2x1, 2x2 and 1x3 (blocks that do not divide
#   N = 70) give one process's spectrum (CPU) to rounding, with the same QR paths (CholeskyQR
#   passes and fallbacks): rate (Euler, RK4), map, every QR method, fp32, levy and file weights,
#   noise and bias, k < N;
# - a checkpoint written by the variant (SIGTERM to every rank: exit 130) resumes in one process
#   and on the ScaLAPACK variant to the same exponents;
# - a run that goes non-finite exits 1 with one line and writes no result.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rnnlyap=$1 python=$2 mpiexec=${3:-mpirun}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rnnlyap_network_cuda.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
source "$here/common.sh"
skip() {
  [ "${RNNLYAP_REQUIRE_CUDA:-0}" != 1 ] || fail "RNNLYAP_REQUIRE_CUDA=1 and $1"
  echo "$1: skipped"
  exit 77
}
"$python" -c "import numpy" 2>/dev/null || skip "numpy is missing"

"$rnnlyap" info >info.txt
line=$(grep "^GPU variant (--distribute-network --backend cuda): " info.txt) ||
  fail "rnnlyap info has no line for the GPU variant"
case "$line" in
  *"not compiled in"*) skip "the GPU variant is not built in" ;;
  *"not loadable"*) skip "cuBLASMp/cuSOLVERMp/NCCL cannot be loaded ($line)" ;;
esac
grep -q "^CUDA device 0:" info.txt || skip "no CUDA device"
pass "rnnlyap info: $line"

# gpu GRID ARGS...: the run on a PRxPC grid of PR*PC ranks, one GPU each.
gpu() {
  local grid=$1
  shift
  "$mpiexec" -n $((${grid%x*} * ${grid#*x})) "$rnnlyap" "$@" --distribute-network "$grid" \
    --backend cuda --quiet
}
# close A B TOL: the exponents of two results agree within TOL (absolute); B ran on the variant.
close() {
  "$python" - "$@" <<'EOF'
import json, sys
a, b, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
x, y = a["exponents"], b["exponents"]
assert len(x) == len(y) > 0
d = max(abs(p - q) for p, q in zip(x, y))
assert d <= tol, f"exponents differ by {d:.3g} > {tol:.3g}"
assert "cuBLASMp/cuSOLVERMp" in b["device"], b["device"]
assert a["params"]["n"] == b["params"]["n"], "the networks differ"
# The same re-orthonormalisations: every CholeskyQR pass and fallback where one process took it.
pa, pb = a["timing"]["qr_paths"], b["timing"]["qr_paths"]
assert pa == pb, f"QR paths differ: one process {pa}, grid {pb}"
EOF
}

# --- below onset: the exact spectrum (common.sh) ------------------------------------------------
below_onset_network 200
for grid in 1x2 2x2; do
  gpu $grid spectrum --weights-file j.npy --dt 0.1 --t-warmup 30 --t-ons-warmup 30 --t-sim 200 \
    --out below$grid.json
  exact_below_onset below$grid.json
  pass "below onset on $grid: the exact spectrum within the estimator's error ($(cat tol)), its sum to 1e-9"
done

# --- one process (CPU) and the GPU grids: the same spectrum to rounding --------------------------
# Chaos magnifies rounding by about e^{λ_1 t} (t = 30 here): 1e-16 · e^3 ≈ 2e-15, far below 1e-9.
short=(--n 70 --t-warmup 10 --t-ons-warmup 10 --t-sim 20)
check() { check_grids gpu "$@"; }  # check NAME TOL GRID... -- ARGS...
check "rate, Euler, --qr auto" 1e-9 1x2 2x1 2x2 1x3 -- "${short[@]}" --g 3
check "rate, RK4" 1e-9 2x2 -- "${short[@]}" --g 3 --integrator rk4
check "rate, --qr householder" 1e-9 1x3 -- "${short[@]}" --g 3 --qr householder
check "rate, --qr householder, k < N" 1e-9 2x2 -- "${short[@]}" --g 3 --qr householder --k 9
check "rate, --qr cholesky2" 1e-9 2x1 -- "${short[@]}" --g 3 --qr cholesky2
check "map" 1e-9 2x2 -- --model map --n 70 --g 1.5 --t-warmup 10 --t-ons-warmup 10 --t-sim 20
# A saturated map: CholeskyQR fails (potrf's info > 0, or a first factor too ill-conditioned) and
# falls back to Householder, then is tried again; the QR paths (compared in close) must be one
# process's. Its near-singular R_ii carry relative rounding of ~1e-12, grown by the chaos
# (λ_1 ≈ 0.24 per step, 40 steps: e^9.6 ≈ 1.5e4): 1e-7 (the ScaLAPACK variant: 1.3e-10 here).
check "map, g = 3 (CholeskyQR fails and falls back)" 1e-7 1x2 -- --model map --n 70 --g 3 \
  --t-warmup 10 --t-ons-warmup 10 --t-sim 20
check "levy weights, noise, bias, k < N" 1e-9 2x2 -- "${short[@]}" --g 3 --weights levy \
  --alpha 1.5 --input-std 0.3 --bias-std 0.2 --k 9
check "a weights file" 1e-9 2x1 -- --weights-file j.npy --t-sim 30
check "fp32" 1e-4 1x2 -- "${short[@]}" --g 3 --precision fp32

# --- a checkpoint of the variant: SIGTERM to every rank, resumed elsewhere -----------------------
# On 2x1 (one process column) the trajectory is one process's bit for bit on the CPU variant; on
# the GPU the partial sums are cuBLAS's, so the resumed runs are compared with each other.
long=(spectrum --n 60 --g 3 --t-warmup 5 --t-ons-warmup 5 --t-sim 3000 --quiet)
"$mpiexec" -n 2 "$rnnlyap" "${long[@]}" --distribute-network 2x1 --backend cuda \
  --checkpoint "$dir/c.ckpt" --checkpoint-every 0.1 --out never.json >stop.out 2>stop.err &
job=$!
for _ in $(seq 2400); do [ -s c.ckpt ] && break; sleep 0.05; done
[ -s c.ckpt ] || fail "no checkpoint within 120 s"
for p in $(rank_pids); do kill -TERM "$p"; done
set +e
wait $job
rc=$?
set -e
[ $rc -eq 130 ] || { cat stop.err; fail "SIGTERM to every rank: exit $rc, not 130"; }
[ ! -e never.json ] || fail "a stopped run wrote its result"
cp c.ckpt c2.ckpt
"$rnnlyap" spectrum --resume c.ckpt --backend cpu --threads 1 --quiet --out resumed1.json
"$mpiexec" -n 2 "$rnnlyap" spectrum --resume c2.ckpt --distribute-network 2x1 --quiet \
  --out resumed21.json
"$python" - resumed1.json resumed21.json <<'EOF' || fail "a GPU grid's checkpoint resumed in one process and on ScaLAPACK differ"
import json, sys
a, b = (json.load(open(f))["exponents"] for f in sys.argv[1:])
d = max(abs(p - q) for p, q in zip(a, b))
assert len(a) == len(b) == 60 and d <= 1e-11, d
EOF
pass "SIGTERM: exit 130; the checkpoint resumes in one process = on the ScaLAPACK 2x1 grid (1e-11)"

# --- a run that goes non-finite: exit 1, one line, no result ------------------------------------
set +e
"$mpiexec" -n 2 "$rnnlyap" spectrum --model map --n 50 --g 1e300 --t-sim 10 \
  --distribute-network 2x1 --backend cuda --out never.json >out.txt 2>err.txt
rc=$?
set -e
[ $rc -eq 1 ] || { cat err.txt; fail "a non-finite run: exit $rc, not 1"; }
[ "$(grep -c '^rnnlyap' err.txt)" -eq 1 ] || { cat err.txt; fail "a non-finite run: not one line"; }
[ ! -e never.json ] || fail "a non-finite run wrote a result"
! grep -q MPI_ABORT err.txt || fail "a non-finite run: a rank aborted the job (it failed alone)"
pass "a run that saturates: exit 1, one line, no result"
