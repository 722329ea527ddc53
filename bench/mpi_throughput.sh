#!/usr/bin/env bash
# Throughput of a sweep spread over MPI ranks (docs/cluster.md) against one process, on this
# machine's CPU: one process (members on threads), mpirun -n 1 and -n 2. Prints seconds and units
# per second, and checks that every result equals the one-process one.
#   bash bench/mpi_throughput.sh [RNNLYAP] [MPIRUN]
set -euo pipefail
rnnlyap=${1:-build/src/cli/rnnlyap}
mpirun=${2:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=(sweep --model map --g 0.8:1.4:0.2 --n 100,150 --ensemble 4 --t-warmup 100 --t-ons-warmup 50
      --t-sim 1000 --quiet)
units=32
time_it() {  # time_it NAME COMMAND...: seconds of wall time
  local t0 t1
  t0=$(date +%s.%N)
  "${@:2}"
  t1=$(date +%s.%N)
  python3 -c "import sys; t=$t1-$t0; print(f'{sys.argv[1]:<34} {t:7.2f} s  {$units/t:6.2f} units/s')" "$1"
}
echo "sweep: map, N = 100 and 150, 4 gains, 4 members each ($units units), t_sim = 1000; $(nproc) cores"
time_it "one process (members on threads)" "$rnnlyap" "${args[@]}" --out "$dir/one.json"
time_it "mpirun -n 1" "$mpirun" -n 1 "$rnnlyap" "${args[@]}" --out "$dir/r1.json"
time_it "mpirun -n 2" "$mpirun" -n 2 "$rnnlyap" "${args[@]}" --out "$dir/r2.json"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
one = json.load(open(f"{d}/one.json"))
for f in ("r1", "r2"):
    r = json.load(open(f"{d}/{f}.json"))
    assert all(p["members"] == q["members"] for p, q in zip(one["grid"], r["grid"])), f
print("every result equals the one-process result, member by member")
PY
