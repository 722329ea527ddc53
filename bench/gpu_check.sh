#!/usr/bin/env bash
# Everything to check on a GPU machine, in two parts that each fit one device call.
#
# Part 1 ("quick", within 8 minutes on an H200; most telling first):
#   1. `rnnlyap info` (the device as rnnlyap sees it) and nvidia-smi;
#   2. compute-sanitizer memcheck (when installed) on a few small CUDA tests;
#   3. the CUDA tests (gtest filter '*Cuda*:*cuda*') with RNNLYAP_REQUIRE_CUDA=1, so that a test
#      that does not find the device fails instead of skipping;
#   4. the reference job (README, "Performance"): rate network, N = 4096, g = 3, dt = 0.25, t_ons = 0.5,
#      t_warmup = 100, t_ons_warmup = 200, t_sim = 2000, full spectrum, fp64, --qr auto;
#   5. the plain PyTorch fp64 loop (bench/torch_baseline.py) on the same network with a shortened
#      schedule, against rnnlyap on that schedule (--qr auto and householder): seconds per step;
#   6. ensemble throughput: 1000 networks of N = 100 as one batch against separate runs;
#   6b. the GPU variant of --distribute-network on a 1x1 grid against the CUDA backend (when its
#      libraries load and mpirun exists).
# Part 2 ("extra", the time left):
#   7. N = 16384, full spectrum, a short schedule: seconds and peak GPU memory;
#      then size invariance at the sizes of [EWA23]: full spectra for N = 1024, 2048, 4096, 8192
#      into $OUT/size-invariance (plotted with scripts/analyses.py size-invariance --results);
#   8. the scaling profiler (N = 256 … 16384, k = N and N/8, Householder and CholeskyQR2);
#   9. the trained LSTM (N = 512, 10 sequences of 1000 steps, full (h, c) spectrum, QR every step)
#      against bench/torch_lstm_baseline.py;
#  10. the accuracy report of fp32 and CholeskyQR2 on the GPU.
#
#   bash bench/gpu_check.sh [quick|extra|all]        (default: all)
#
# Every step has its own timeout, cut further so that a part ends by its deadline
# (GPU_CHECK_QUICK_SECONDS, default 450; GPU_CHECK_EXTRA_SECONDS, default 480); a step with under
# 15 s left is skipped; the size-invariance block of part 2 also stops by GPU_CHECK_SIZE_SECONDS
# (default 200) after it starts. Logs and results go to $OUT (default out/gpu_check); a summary is printed
# last and written to $OUT/summary.txt. Run from the repository root:
#   source .gpu/env.sh && bash bench/gpu_check.sh quick
# Binaries come from $RNNLYAP_BIN (default .gpu/bin, made by bench/gpu_bundle.sh), else from PATH.
# Exit status: 1 when a test failed, the sanitizer found an error or the reference job failed;
# 0 otherwise (every step runs regardless).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RNNLYAP_BIN:-$ROOT/.gpu/bin}
OUT=${OUT:-$ROOT/out/gpu_check}
mkdir -p "$OUT"

find_bin() {
  if [ -x "$BIN/$1" ]; then echo "$BIN/$1"; elif command -v "$1" >/dev/null; then command -v "$1"; fi
}
RNNLYAP=$(find_bin rnnlyap)
TESTS=$(find_bin rnnlyap_tests)
PROFILE=$(find_bin rnnlyap_profile)
ACCURACY=$(find_bin rnnlyap_accuracy)
ENSEMBLE=$(find_bin rnnlyap_ensemble_bench)
PY=${PYTHON:-python3}
[ -n "$RNNLYAP" ] || { echo "gpu_check: no rnnlyap in $BIN or on PATH" >&2; exit 1; }
# Tests that call the program find it here (the path compiled into rnnlyap_tests is the build
# machine's).
export RNNLYAP_CLI_PATH="$RNNLYAP"

PART=${1:-all}
case "$PART" in quick | extra | all) ;; *) echo "usage: gpu_check.sh [quick|extra|all]" >&2; exit 2 ;; esac
status=0
STEPS="$OUT/steps.tsv"  # step, rc, seconds: read by the summary
: >"$STEPS"
now() { date +%s; }
deadline=0

# run_step NAME CAP_SECONDS LOG COMMAND...: runs COMMAND with timeout min(CAP, time to the deadline),
# its output into LOG and onto the console; records rc (124: timed out, 125: skipped) and seconds.
run_step() {
  local name=$1 cap=$2 log=$3
  shift 3
  local left=$((deadline - $(now)))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 15 ]; then
    echo "-- $name: skipped (only ${left} s left in this part)" | tee "$log"
    printf '%s\t125\t0\n' "$name" >>"$STEPS"
    return 125
  fi
  echo "-- $name (timeout ${limit} s; log $(basename "$log"))"
  local t0 rc
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  tail -n "${TAIL_LINES:-15}" "$log"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "-- $name: TIMED OUT after ${secs} s"; fi
  printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >>"$STEPS"
  return "$rc"
}
# failed RC: a step that ran and failed (not skipped for lack of time) fails the check.
failed() { [ "$1" -ne 0 ] && [ "$1" -ne 125 ]; }

have_torch_cuda() {
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null
}

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), part $PART, results in $OUT"

# ------------------------------------------------------------------------------------------------
quick() {
  deadline=$(($(now) + ${GPU_CHECK_QUICK_SECONDS:-450}))
  (cd "$OUT" && rm -f info.* cuda_tests.* sanitizer* n4096.* torch_short.* short_*.* ensemble.txt \
    distributed_gpu*)
  echo "== part 1 (quick): by $(date -u -d "@$deadline" +%H:%M:%S)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 |
      tee "$OUT/nvidia-smi.csv"
  fi
  TAIL_LINES=20 run_step info 30 "$OUT/info.txt" "$RNNLYAP" info
  "$RNNLYAP" info --json >"$OUT/info.json" 2>/dev/null || true

  # The CUDA tests, listed once; the sanitizer takes a few small ones unless
  # GPU_CHECK_SANITIZE_FILTER names them (GPU_CHECK_SANITIZE_COUNT: how many, default 10).
  local cuda_filter='*Cuda*:*cuda*'
  if [ -n "$TESTS" ]; then
    "$TESTS" --gtest_list_tests --gtest_filter="$cuda_filter" >"$OUT/cuda_tests.txt" 2>&1
    local sanitize_filter=${GPU_CHECK_SANITIZE_FILTER:-}
    if [ -z "$sanitize_filter" ]; then
      # Per suite its first test for the suites of single steps, the re-orthonormalisers and the
      # CPU comparisons; then per such suite a batched cell case (lstm/gru ... B3); then the first
      # test of the other suites; up to the count. Whole runs and slow tests are left out.
      sanitize_filter=$(awk -v max="${GPU_CHECK_SANITIZE_COUNT:-10}" '
        function add(list, t) { return list (list == "" ? "" : ":") t }
        /^[^ ]/ { suite = $1; next }
        /^  / {
          name = $1; full = suite name
          if (full ~ /Large|Chaotic|StandardError|Spectra|Memory|Ensemble|Sweep|Checkpoint|Resume|Cli|Trained|Without|Placement|Devices|Consistency/) next
          if (!(suite in seen)) {
            seen[suite] = 1
            if (suite ~ /Propagator|Reorthonormal|CudaAgainstCpu/) early[++ne] = full; else late[++nl] = full
          } else if (name ~ /(lstm|gru).*B3/ && !(suite in cell)) {
            cell[suite] = 1; extra[++nx] = full
          }
        }
        END {
          for (i = 1; i <= ne; i++) all[++n] = early[i]
          for (i = 1; i <= nx; i++) all[++n] = extra[i]
          for (i = 1; i <= nl; i++) all[++n] = late[i]
          for (i = 1; i <= n && i <= max; i++) list = add(list, all[i])
          print list
        }' "$OUT/cuda_tests.txt")
    fi
    echo "$sanitize_filter" >"$OUT/sanitizer_filter.txt"
    if command -v compute-sanitizer >/dev/null && [ -n "$sanitize_filter" ]; then
      RNNLYAP_REQUIRE_CUDA=1 run_step sanitizer 100 "$OUT/sanitizer.log" \
        compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
        "$TESTS" --gtest_filter="$sanitize_filter"
      # 99: memcheck found errors; 1: a test failed under it (a timeout fails nothing).
      case $? in 99 | 1) status=1 ;; esac
    else
      echo "-- sanitizer: skipped ($(command -v compute-sanitizer >/dev/null && echo 'no small CUDA test found' || echo 'no compute-sanitizer'))" |
        tee "$OUT/sanitizer.log"
    fi
    RNNLYAP_REQUIRE_CUDA=1 TAIL_LINES=25 run_step cuda_tests 150 "$OUT/cuda_tests.log" \
      "$TESTS" --gtest_filter="$cuda_filter" --gtest_output=xml:"$OUT/cuda_tests.xml"
    failed $? && status=1
  else
    echo "gpu_check: no rnnlyap_tests in $BIN or on PATH" | tee "$OUT/cuda_tests.log"
    status=1
  fi

  # The reference job (t_warmup is the default 100 τ).
  local ref=(--n 4096 --g 3 --dt 0.25 --t-ons 0.5 --t-warmup 100 --t-ons-warmup 200 --t-sim 2000)
  run_step reference 200 "$OUT/n4096.log" \
    "$RNNLYAP" spectrum --backend cuda --qr auto --precision fp64 "${ref[@]}" --quiet \
    --out "$OUT/n4096.json"
  failed $? && status=1

  # The PyTorch loop on the same network, schedule shortened (440 re-orthonormalisations instead of
  # 4400) and cut at 45 s, and rnnlyap on the same schedule: seconds per tangent step each.
  local short=(--n 4096 --g 3 --dt 0.25 --t-ons 0.5 --t-warmup 100 --t-ons-warmup 20 --t-sim 200)
  if have_torch_cuda; then
    run_step torch_short 80 "$OUT/torch_short.log" \
      "$PY" "$ROOT/bench/torch_baseline.py" "${short[@]}" --device cuda --max-seconds 45 \
      --out-json "$OUT/torch_short.json"
  else
    echo "-- torch_short: skipped (torch with CUDA not importable by $PY)" | tee "$OUT/torch_short.log"
  fi
  run_step rnnlyap_short_auto 60 "$OUT/short_auto.log" \
    "$RNNLYAP" spectrum --backend cuda --qr auto "${short[@]}" --quiet --out "$OUT/short_auto.json"
  run_step rnnlyap_short_householder 80 "$OUT/short_householder.log" \
    "$RNNLYAP" spectrum --backend cuda --qr householder "${short[@]}" --quiet \
    --out "$OUT/short_householder.json"

  if [ -n "$ENSEMBLE" ]; then
    run_step ensemble 100 "$OUT/ensemble.txt" \
      "$ENSEMBLE" --backend cuda --n 100 --ensemble 1000 --separate 20
  fi

  # The GPU variant of --distribute-network (cuBLASMp/cuSOLVERMp) on a 1x1 grid, against the CUDA
  # backend on the same network: it needs the libraries (bench/gpu_bundle.sh carries them when
  # GPU_BUNDLE_CUDAMP=1; RNNLYAP_CUDAMP_LIBRARY_PATH) and an MPI launcher on the machine.
  if grep -q "^GPU variant.*: cuBLASMp" "$OUT/info.txt" 2>/dev/null && command -v mpirun >/dev/null; then
    local dn=(spectrum --n 1024 --g 3 --dt 0.25 --t-ons 0.5 --t-warmup 2 --t-ons-warmup 2 --t-sim 10
      --quiet)
    run_step distributed_gpu_1x1 60 "$OUT/distributed_gpu.log" \
      mpirun -n 1 "$RNNLYAP" "${dn[@]}" --distribute-network 1x1 --backend cuda \
      --out "$OUT/distributed_gpu.json"
    run_step distributed_gpu_reference 40 "$OUT/distributed_gpu_ref.log" \
      "$RNNLYAP" "${dn[@]}" --backend cuda --out "$OUT/distributed_gpu_ref.json"
  else
    echo "-- distributed_gpu_1x1: not run ($(grep '^GPU variant' "$OUT/info.txt" 2>/dev/null ||
      echo 'no rnnlyap info'); mpirun: $(command -v mpirun || echo none))" |
      tee "$OUT/distributed_gpu.log"
  fi
}

# ------------------------------------------------------------------------------------------------
extra() {
  deadline=$(($(now) + ${GPU_CHECK_EXTRA_SECONDS:-480}))
  (cd "$OUT" && rm -f n16384.* mem16384.txt scaling_* lstm*.json lstm*.log torch_lstm* accuracy_* &&
    rm -rf size-invariance)
  echo "== part 2 (extra): by $(date -u -d "@$deadline" +%H:%M:%S)"

  (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) \
    >"$OUT/mem16384.txt" 2>/dev/null &
  local sampler=$!
  run_step n16384 150 "$OUT/n16384.log" \
    "$RNNLYAP" spectrum --backend cuda --qr auto --n 16384 --g 3 --dt 0.25 --t-ons 0.5 \
    --t-warmup 5 --t-ons-warmup 2 --t-sim 5 --quiet --out "$OUT/n16384.json"
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  echo "peak GPU memory used during N = 16384: $(sort -n "$OUT/mem16384.txt" | tail -1) MiB" |
    tee -a "$OUT/n16384.log"

  # Size invariance at the sizes of [EWA23] (docs/analyses.md, "Size invariance at the paper's
  # sizes"): rate network, g = 3, full spectra, fp64, --qr auto, the schedule of
  # `scripts/analyses.py size-invariance --preset paper-gpu` (dt = 0.25, t_ons = 0.5, t_warmup = 100,
  # t_ons_warmup = 50, t_sim = 500; t_sim = 200 for N = 8192), one network per size. Expected from
  # the reference job's target (N = 4096: 8800 steps in <= 35 s, 4 ms/step; 8x per step at 8192):
  # about 2, 2, 9 and 35 s (N = 1024 ... 8192), about 1 minute in all; each size has its own cap,
  # the block at most GPU_CHECK_SIZE_SECONDS (default 200) and the part's deadline.
  # Results: $OUT/size-invariance/spectrum_n<N>.json, plotted by
  #   python3 scripts/analyses.py size-invariance --preset paper-gpu --results DIR
  local si="$OUT/size-invariance" si_end=$(($(now) + ${GPU_CHECK_SIZE_SECONDS:-200}))
  mkdir -p "$si"
  local si_n si_sim si_cap
  for si_n in 1024 2048 4096 8192; do
    case $si_n in 8192) si_sim=200 si_cap=120 ;; 4096) si_sim=500 si_cap=60 ;; *) si_sim=500 si_cap=30 ;; esac
    local si_left=$((si_end - $(now)))
    [ "$si_left" -lt "$si_cap" ] && si_cap=$si_left
    run_step "size_n$si_n" "$si_cap" "$si/n$si_n.log" \
      "$RNNLYAP" spectrum --backend cuda --qr auto --precision fp64 --n "$si_n" --g 3 --dt 0.25 \
      --t-ons 0.5 --t-warmup 100 --t-ons-warmup 50 --t-sim "$si_sim" --quiet \
      --out "$si/spectrum_n$si_n.json"
  done
  if "$PY" -c "import numpy, matplotlib" 2>/dev/null; then
    "$PY" "$ROOT/scripts/analyses.py" size-invariance --preset paper-gpu --results "$si" \
      --out "$si/size-invariance-gpu.png" --json "$si/size-invariance-gpu.json" 2>&1 |
      tee "$si/analyses.log"
  fi

  if [ -n "$PROFILE" ]; then
    TAIL_LINES=40 run_step profile_cholesky2 100 "$OUT/scaling_cholesky2.txt" \
      "$PROFILE" --backend cuda --qr cholesky2 --out "$OUT/scaling_cholesky2.csv"
    TAIL_LINES=40 run_step profile_householder 120 "$OUT/scaling_householder.txt" \
      "$PROFILE" --backend cuda --out "$OUT/scaling_householder.csv"
    "$PY" "$ROOT/bench/plot_scaling.py" "$OUT"/scaling_*.csv --out "$OUT/scaling.png" \
      >/dev/null 2>&1 || true
  fi

  if "$PY" -c "import torch, numpy" 2>/dev/null; then
    "$PY" - "$OUT" <<'PY'
import sys, numpy as np, torch
torch.manual_seed(0)
m = torch.nn.LSTM(4, 512, batch_first=True)
np.savez(f"{sys.argv[1]}/lstm_W.npz", **{k: v.detach().double().numpy() for k, v in m.state_dict().items()})
np.save(f"{sys.argv[1]}/lstm_X.npy", np.random.default_rng(0).standard_normal((10, 1000, 4)))
PY
    local lstm=(--model lstm --weights-file "$OUT/lstm_W.npz" --inputs "$OUT/lstm_X.npy"
      --t-warmup 100 --t-ons-warmup 100)
    run_step lstm 120 "$OUT/lstm.log" \
      "$RNNLYAP" spectrum --backend cuda "${lstm[@]}" --quiet --out "$OUT/lstm.json"
    # The torch loop handles one sequence after another: 3 of the 10 are timed and scaled.
    if have_torch_cuda; then
      run_step torch_lstm_batched 150 "$OUT/torch_lstm_batched.log" \
        "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/lstm_W.npz" \
        --inputs "$OUT/lstm_X.npy" --jacobian analytic --batched --device cuda \
        --out-json "$OUT/torch_lstm_batched.json"
      run_step torch_lstm 120 "$OUT/torch_lstm.log" \
        "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/lstm_W.npz" \
        --inputs "$OUT/lstm_X.npy" --jacobian analytic --sequences 3 --device cuda \
        --out-json "$OUT/torch_lstm.json"
    fi
    run_step lstm_householder 90 "$OUT/lstm_householder.log" \
      "$RNNLYAP" spectrum --backend cuda --qr householder "${lstm[@]}" --quiet \
      --out "$OUT/lstm_householder.json"
  else
    echo "-- lstm: skipped (torch or numpy not importable by $PY)"
  fi

  if [ -n "$ACCURACY" ]; then
    run_step accuracy 120 "$OUT/accuracy_cuda.md" "$ACCURACY" cuda
  fi
}

# ------------------------------------------------------------------------------------------------
# part_done NAME START: records the part's seconds.
part_done() { printf 'part_%s\t0\t%s\n' "$1" "$(($(now) - $2))" >>"$STEPS"; }
if [ "$PART" != extra ]; then
  t_part=$(now)
  quick
  part_done quick "$t_part"
fi
if [ "$PART" != quick ]; then
  t_part=$(now)
  extra
  part_done extra "$t_part"
fi

echo
echo "== summary ($OUT)"
"$PY" - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import csv, json, os, re, sys
import xml.etree.ElementTree as ET
out = sys.argv[1]

def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None

def text(name):
    try:
        with open(os.path.join(out, name), errors="replace") as f:
            return f.read()
    except Exception:
        return ""

steps = {}
with open(os.path.join(out, "steps.tsv")) as f:
    for row in csv.reader(f, delimiter="\t"):
        if len(row) == 3:
            steps[row[0]] = (int(row[1]), float(row[2]))

def state(name):
    if name not in steps:
        return None
    rc, s = steps[name]
    if rc == 125:
        return "skipped (no time left)"
    if rc in (124, 137):
        return f"TIMED OUT after {s:.0f} s"
    return f"rc {rc}, {s:.1f} s"

rows = []
def row(k, v):
    rows.append((k, v))

def spectrum_row(label, step, name):
    r = load(name)
    if r:
        s, t = r["summary"], r["timing"]
        steps_ = max(1, t.get("tangent_steps", 0))
        row(label, f"{t['seconds']:.2f} s ({t['seconds'] / steps_ * 1e3:.2f} ms/step, "
            f"{t.get('tangent_steps', '?')} steps, {t.get('qr_count', '?')} QRs"
            + (" [1/2/H " + "/".join(str(t["qr_paths"][p]) for p in
                                     ("cholesky_one_pass", "cholesky_two_passes", "householder"))
               + "]" if "qr_paths" in t else "")
            + "), lambda_max "
            f"{s['max_exponent']:+.4f}, mean {s['mean_exponent']:+.4f}, D_KY "
            f"{s['ky_dimension']:.1f}, {r.get('backend', '?')} {r.get('device', '')}"
            + (f"; wall {steps[step][1]:.1f} s" if step in steps else ""))
    elif state(step):
        row(label, f"no result: {state(step)}")
    return r

info = text("info.txt").strip().splitlines()
if info:
    row("info", " | ".join(l for l in info if "CUDA device" in l or "backends" in l) or info[0])

if "sanitizer" in steps:
    log = text("sanitizer.log")
    m = re.search(r"ERROR SUMMARY: (\d+) error", log)
    tests = len(text("sanitizer_filter.txt").strip().split(":"))
    row("sanitizer memcheck", (f"{m.group(1)} errors" if m else "no summary") +
        f" in {tests} tests; {state('sanitizer')}")
elif text("sanitizer.log"):
    row("sanitizer memcheck", text("sanitizer.log").strip().replace("-- sanitizer: ", ""))

try:
    root = ET.parse(os.path.join(out, "cuda_tests.xml")).getroot()
    total = int(root.get("tests", 0))
    failed = int(root.get("failures", 0)) + int(root.get("errors", 0))
    skipped = sum(1 for c in root.iter("testcase")
                  if c.find("skipped") is not None or c.get("result") == "skipped")
    names = [f"{c.get('classname')}.{c.get('name')}" for c in root.iter("testcase")
             if c.find("failure") is not None]
    row("CUDA tests", f"{total - failed - skipped} passed, {failed} failed, {skipped} skipped; "
        f"{state('cuda_tests')}" + (f"; failed: {', '.join(names[:8])}" if names else ""))
except Exception:
    if state("cuda_tests"):
        row("CUDA tests", f"no XML: {state('cuda_tests')}; see cuda_tests.log")

spectrum_row("reference N=4096 qr auto", "reference", "n4096.json")
a = spectrum_row("short N=4096 qr auto", "rnnlyap_short_auto", "short_auto.json")
h = spectrum_row("short N=4096 householder", "rnnlyap_short_householder", "short_householder.json")
t = load("torch_short.json")
if t:
    row("torch fp64 loop (short)", f"{t['seconds']:.2f} s for {t['tangent_steps']} steps "
        f"({t['seconds_per_step'] * 1e3:.2f} ms/step{'' if t['completed'] else ', cut at the time limit'})"
        f", lambda_max {t['max_exponent']:+.4f}, torch {t['torch']}")
    for label, r in (("qr auto", a), ("householder", h)):
        if r:
            ours = r["timing"]["seconds"] / max(1, r["timing"]["tangent_steps"])
            row(f"per-step torch / rnnlyap ({label})", f"{t['seconds_per_step'] / ours:.2f}x")
elif state("torch_short"):
    row("torch fp64 loop (short)", f"no result: {state('torch_short')}")

ens = text("ensemble.txt")
m = re.search(r"throughput ratio.*?: ([0-9.]+)x", ens)
if m:
    rates = re.findall(r"([0-9.]+) networks/s", ens)
    row("ensemble 1000 x N=100", f"batched / separate = {m.group(1)}x ({' vs '.join(rates[::-1])} networks/s)")
elif state("ensemble"):
    row("ensemble 1000 x N=100", f"no result: {state('ensemble')}")

dg, dr = load("distributed_gpu.json"), load("distributed_gpu_ref.json")
if dg and dr:
    d = max(abs(a - b) for a, b in zip(dg["exponents"], dr["exponents"]))
    row("distributed GPU variant 1x1, N=1024", f"{dg['timing']['seconds']:.2f} s against "
        f"{dr['timing']['seconds']:.2f} s (CUDA backend); exponents differ by at most {d:.2g}")
elif state("distributed_gpu_1x1"):
    row("distributed GPU variant 1x1, N=1024", f"no result: {state('distributed_gpu_1x1')}")
else:
    row("distributed GPU variant 1x1", text("distributed_gpu.log").strip()[:200] or "not run")

big = load("n16384.json")
if big:
    mem = text("mem16384.txt").split()
    tm = big["timing"]
    row("N=16384 qr auto", f"{tm['seconds']:.1f} s for {tm['tangent_steps']} steps and "
        f"{tm['qr_count']} QRs (incl. set-up); peak GPU memory "
        f"{max(map(int, mem)) if mem else '?'} MiB")
elif state("n16384"):
    row("N=16384 qr auto", f"no result: {state('n16384')}")

si = []
for n in (1024, 2048, 4096, 8192):
    r = load(f"size-invariance/spectrum_n{n}.json")
    if r:
        tm, sm = r["timing"], r["summary"]
        si.append(f"{n}: {tm['seconds']:.1f} s ({tm['seconds'] / max(1, tm['tangent_steps']) * 1e3:.2f} ms/step), "
                  f"lambda_max {sm['max_exponent']:+.4f}, D/N {sm['ky_dimension'] / n:.4f}")
    elif state(f"size_n{n}"):
        si.append(f"{n}: no result ({state(f'size_n{n}')})")
if si:
    row("size invariance N", "; ".join(si))

for q in ("cholesky2", "householder"):
    try:
        with open(os.path.join(out, f"scaling_{q}.csv")) as f:
            rs = list(csv.DictReader(f))
        best = max(rs, key=lambda x: float(x["tflops"])) if rs else None
        if best:
            row(f"profile {q}", f"{len(rs)} rows up to N={max(int(x['n']) for x in rs)}; best "
                f"{float(best['tflops']):.1f} TFLOP/s ({best['op']}, N={best['n']}, k={best['k']})"
                + (f"; {state('profile_' + q)}" if state("profile_" + q) else ""))
    except Exception:
        if state("profile_" + q):
            row(f"profile {q}", f"no CSV: {state('profile_' + q)}")

lstm = load("lstm.json")
for name, label in (("lstm.json", "LSTM 512 x 10 seq qr auto"),
                    ("lstm_householder.json", "LSTM 512 x 10 seq householder")):
    r = load(name)
    if r:
        row(label, f"{r['timing']['seconds']:.2f} s, lambda_max {r['summary']['max_exponent']:+.5f}")
    elif state(name[:-5]):
        row(label, f"no result: {state(name[:-5])}")
for name, label in (("torch_lstm.json", "torch LSTM (3 seq, x10/3)"),
                    ("torch_lstm_batched.json", "torch LSTM batched")):
    t = load(name)
    if t:
        seconds = t["seconds"] * 10 / t["batch"]
        line = f"{seconds:.2f} s for 10 sequences, lambda_max {t['max_exponent']:+.5f}"
        if lstm:
            line += f"; torch / rnnlyap = {seconds / lstm['timing']['seconds']:.1f}x"
        row(label, line)
    elif state(name[:-5]):
        row(label, f"no result: {state(name[:-5])}")

if state("accuracy"):
    row("accuracy (cuda)", f"{state('accuracy')}; see accuracy_cuda.md")

for part in ("quick", "extra"):
    if f"part_{part}" in steps:
        row(f"part {part}", f"{steps[f'part_{part}'][1]:.0f} s in all")
bad = [f"{k} ({state(k)})" for k, (rc, _) in steps.items()
       if rc in (124, 125, 137) and not k.startswith("part_")]
if bad:
    row("cut short", ", ".join(bad))

width = max((len(k) for k, _ in rows), default=0)
for k, v in rows:
    print(f"{k:<{width}}  {v}")
PY
exit "$status"
