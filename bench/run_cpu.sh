#!/usr/bin/env bash
# CPU benchmarks, run side by side on this machine (results go to bench/RESULTS.md by hand):
#  1. micro-benchmarks: dgemm ceiling, tangent step, QR (Google Benchmark);
#  2. full spectrum: `rnnlyap spectrum` against the plain numpy loop with the same schedule.
#   bash bench/run_cpu.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
PY=/usr/bin/python3; "$PY" -c "import numpy" 2>/dev/null || PY=python3
OUT=${OUT_DIR:-$ROOT/out/bench}
mkdir -p "$OUT"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
"$BUILD/src/cli/rnnlyap" info | grep BLAS
"$BUILD/bench/rnnlyap_bench_cpu" --benchmark_filter='Dgemm|TangentStep|Reorth' \
  --benchmark_out="$OUT/micro.json" --benchmark_out_format=json --benchmark_min_time=0.5 | tee "$OUT/micro.txt"
"$PY" - "$OUT/micro.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["benchmarks"]
rate = {x["name"].split("/")[1]: x["GFLOP/s"] for x in b if x["name"].startswith("BM_Dgemm/")}
print("\ntangent step (Euler, k = N) as a fraction of dgemm at the same N:")
for x in b:
    p = x["name"].split("/")
    if p[0] == "BM_TangentStepEuler" and p[1] == p[2] and p[1] in rate:
        print(f"  N={p[1]:>5}: {x['GFLOP/s']:6.1f} GFLOP/s = {x['GFLOP/s'] / rate[p[1]]:.0%} of dgemm ({rate[p[1]]:.1f} GFLOP/s)")
PY

for cfg in "500 100 100 400" "1000 50 20 100"; do
  read -r n tw tow ts <<<"$cfg"
  args=(--n "$n" --g 3 --dt 0.1 --t-ons 1 --t-warmup "$tw" --t-ons-warmup "$tow" --t-sim "$ts")
  echo "== full spectrum ${args[*]}"
  "$BUILD/src/cli/rnnlyap" spectrum "${args[@]}" --backend cpu --quiet --out "$OUT/rnnlyap_$n.json"
  "$PY" "$ROOT/bench/numpy_baseline.py" "${args[@]}" >"$OUT/numpy_$n.json"
  "$PY" - "$OUT/rnnlyap_$n.json" "$OUT/numpy_$n.json" <<'PY'
import json, sys
r, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s = r["timing"]["seconds"]
print(f"  rnnlyap {s:7.2f} s (lambda_max {r['summary']['max_exponent']:.4f})   "
      f"numpy {b['seconds']:7.2f} s (lambda_max {b['max_exponent']:.4f})   numpy/rnnlyap = {b['seconds'] / s:.2f}x")
PY
done
