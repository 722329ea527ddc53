#!/usr/bin/env bash
# One network over a grid of MPI ranks (--distribute-network) against one process, side by side in
# one run: time per tangent step (the run's seconds over its tangent steps, re-orthonormalisations
# included) of a full spectrum (k = N) of the rate model, for one process on 1 and 2 threads and
# for grids 1x1, 1x2, 2x1 and 2x2 (one thread per rank), with each grid's largest difference from
# the one-process exponents.
#
#   bash bench/distributed_network.sh [BUILD_DIR] [N]        (defaults: build, 2048)
#
# On a machine with fewer cores than ranks the grid is oversubscribed (the 2x2 grid on two cores
# measures the cost of the exchange, not a speed-up). Results: bench/RESULTS.md.
set -euo pipefail
build=${1:-build} n=${2:-2048}
rnnlyap=$build/src/cli/rnnlyap
[ -x "$rnnlyap" ] || { echo "build first: $rnnlyap is missing" >&2; exit 1; }
"$rnnlyap" info | grep -q "^ScaLAPACK (--distribute-network): ScaLAPACK" ||
  { echo "this rnnlyap is built without ScaLAPACK" >&2; exit 1; }
python=$(command -v /usr/bin/python3 || command -v python3)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rnnlyap_bench_network.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# 20 averaged tangent steps and 2 re-orthonormalisations after a short warm-up (one QR per 10 steps).
args=(spectrum --n "$n" --g 3 --dt 0.1 --t-ons 1 --t-warmup 0.5 --t-ons-warmup 1 --t-sim 2 --quiet)

report() {  # report LABEL RESULT.json
  "$python" - "$1" "$2" "$dir/one1.json" "$n" <<'EOF'
import json, sys
label, path, ref, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r, a = json.load(open(path)), json.load(open(ref))
t = r["timing"]
per = t["seconds"] / t["tangent_steps"]
flops = 2.0 * n ** 3  # one N x N by N x N product per step
d = max(abs(x - y) for x, y in zip(r["exponents"], a["exponents"]))
print(f"{label:28s} {t['seconds']:8.2f} s  {per * 1e3:8.1f} ms/step  "
      f"{flops / per * 1e-9:6.1f} GFLOP/s (products)  max |diff| {d:.1e}")
EOF
}

echo "N = $n, full spectrum, $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$rnnlyap" "${args[@]}" --threads 1 --out "$dir/one1.json"
report "one process, 1 thread" "$dir/one1.json"
"$rnnlyap" "${args[@]}" --threads 2 --out "$dir/one2.json"
report "one process, 2 threads" "$dir/one2.json"
for grid in 1x1 1x2 2x1 2x2; do
  ranks=$((${grid%x*} * ${grid#*x}))
  mpirun -n "$ranks" "$rnnlyap" "${args[@]}" --threads 1 --distribute-network "$grid" \
    --out "$dir/grid$grid.json"
  report "grid $grid ($ranks ranks)" "$dir/grid$grid.json"
done
