#!/usr/bin/env bash
# Everything to check on a GPU machine, in one run (well under 10 minutes on an H100):
#   1. `rnnlyap info` (the device as rnnlyap sees it);
#   2. the whole test suite (the CUDA tests skip without a device; here they must run);
#   3. the timing target: full spectrum of N = 4096 on the GPU (Householder and CholeskyQR2), and
#      the same schedule as a plain PyTorch fp64 loop (bench/torch_baseline.py) when torch is
#      importable;
#   4. N = 16384, full spectrum, a short schedule: seconds per step and peak GPU memory;
#   5. the scaling profiler (N = 256 … 16384, k = N and N/8, both QRs) and the accuracy report of
#      fp32 and CholeskyQR2 on the GPU.
#   6. the trained-network target (issue 5): full (h, c) spectrum of an N = 512 LSTM over 1000 input
#      steps for 10 sequences, QR every step — rnnlyap (a lockstep batch, CholeskyQR2, and with
#      Householder QR) against bench/torch_lstm_baseline.py on the GPU (dense Jacobians, one sequence
#      at a time and all 10 batched).
# Steps 4–5 are skipped with GPU_CHECK_QUICK=1. Everything together exceeds one 10-minute device
# call: `bash bench/gpu_check.sh tests`, `... timing`, `... extra` and `... trained` run the parts
# separately (default: all).
# Logs and results go to $OUT; a summary table is printed last. Run from the repository root:
#   source .gpu/env.sh && bash bench/gpu_check.sh
# Binaries come from $RNNLYAP_BIN (default .gpu/bin), else from PATH. Exit status: 0 when the
# tests passed and the timing run succeeded, 1 otherwise (every step runs regardless).
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
PY=${PYTHON:-python3}
[ -n "$RNNLYAP" ] || { echo "gpu_check: no rnnlyap in $BIN or on PATH" >&2; exit 1; }
# Tests that call the program find it here (the path compiled into rnnlyap_tests is the build
# machine's).
export RNNLYAP_CLI_PATH="$RNNLYAP"

PART=${1:-all}
want() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }
status=0
stamp() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 |
    tee "$OUT/nvidia-smi.csv"
fi

echo "== rnnlyap info"
"$RNNLYAP" info | tee "$OUT/info.txt"
"$RNNLYAP" info --json >"$OUT/info.json" 2>/dev/null || true

echo "== test suite (log: $OUT/tests.log)"
t0=$(stamp)
tests_rc=127
if ! want tests; then
  tests_rc=0
  echo "(skipped: part $PART)"
elif [ -n "$TESTS" ]; then
  timeout 300 "$TESTS" --gtest_output=xml:"$OUT/tests.xml" >"$OUT/tests.log" 2>&1
  tests_rc=$?
  # The totals and the failures (skipped tests are listed in the log).
  grep -E "test suites ran|^\[  PASSED  \]|^\[  SKIPPED \] [0-9]+ test|^\[  FAILED  \]" "$OUT/tests.log" |
    grep -v " ms)$" | tail -40
else
  echo "gpu_check: no rnnlyap_tests in $BIN or on PATH" | tee "$OUT/tests.log"
fi
tests_s=$(elapsed "$t0" "$(stamp)")
[ "$tests_rc" -eq 0 ] || status=1

# The timing target (DESIGN.md §1 schedule; t_warmup is the default 100 τ).
SCHED=(--n 4096 --g 3 --dt 0.25 --t-ons 0.5 --t-warmup 100 --t-ons-warmup 200 --t-sim 2000)
rnn_rc=0; rnn_wall=0; torch_rc=127
if want timing; then
echo "== rnnlyap spectrum --backend cuda ${SCHED[*]}"
t0=$(stamp)
timeout 240 "$RNNLYAP" spectrum --backend cuda "${SCHED[@]}" --quiet --out "$OUT/n4096.json" \
  >"$OUT/n4096.log" 2>&1
rnn_rc=$?
rnn_wall=$(elapsed "$t0" "$(stamp)")
cat "$OUT/n4096.log"
[ "$rnn_rc" -eq 0 ] || status=1

echo "== rnnlyap spectrum --backend cuda --qr auto (CholeskyQR2 with fallback) ${SCHED[*]}"
timeout 240 "$RNNLYAP" spectrum --backend cuda --qr auto "${SCHED[@]}" --quiet --out "$OUT/n4096_chol.json" \
  >"$OUT/n4096_chol.log" 2>&1 || status=1
cat "$OUT/n4096_chol.log"

echo "== torch baseline (same schedule)"
torch_rc=127
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  timeout 240 "$PY" "$ROOT/bench/torch_baseline.py" "${SCHED[@]}" --device cuda \
    >"$OUT/torch_n4096.json" 2>"$OUT/torch_n4096.log"
  torch_rc=$?
  cat "$OUT/torch_n4096.log"
else
  echo "torch with CUDA not importable by $PY: baseline skipped" | tee "$OUT/torch_n4096.log"
fi

fi  # timing

if want extra && [ "${GPU_CHECK_QUICK:-0}" != 1 ]; then
  echo "== N = 16384 full spectrum, short schedule (memory sampled every 0.5 s)"
  (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) >"$OUT/mem16384.txt" 2>/dev/null &
  sampler=$!
  timeout 200 "$RNNLYAP" spectrum --backend cuda --qr auto --n 16384 --g 3 --dt 0.25 --t-ons 0.5 \
    --t-warmup 5 --t-ons-warmup 2 --t-sim 5 --quiet --out "$OUT/n16384.json" >"$OUT/n16384.log" 2>&1 || status=1
  kill "$sampler" 2>/dev/null
  cat "$OUT/n16384.log"
  echo "peak GPU memory used: $(sort -n "$OUT/mem16384.txt" | tail -1) MiB"

  PROFILE=$(find_bin rnnlyap_profile)
  ACCURACY=$(find_bin rnnlyap_accuracy)
  if [ -n "$PROFILE" ]; then
    echo "== scaling profiler"
    timeout 150 "$PROFILE" --backend cuda --out "$OUT/scaling_householder.csv" | tee "$OUT/scaling_householder.txt"
    timeout 100 "$PROFILE" --backend cuda --qr cholesky2 --out "$OUT/scaling_cholesky2.csv" | tee "$OUT/scaling_cholesky2.txt"
    "$PY" "$ROOT/bench/plot_scaling.py" "$OUT"/scaling_*.csv --out "$OUT/scaling.png" 2>/dev/null || true
  fi
  ENSEMBLE=$(find_bin rnnlyap_ensemble_bench)
  if [ -n "$ENSEMBLE" ]; then
    echo "== ensemble throughput: 1000 networks of N = 100 batched vs separate runs"
    timeout 150 "$ENSEMBLE" --backend cuda --n 100 --ensemble 1000 --separate 20 | tee "$OUT/ensemble.txt"
  fi
  if [ -n "$ACCURACY" ]; then
    echo "== accuracy of fp32 and CholeskyQR2 on the GPU"
    timeout 120 "$ACCURACY" cuda | tee "$OUT/accuracy_cuda.md"
  fi
fi

if want trained; then
  echo "== trained LSTM, N = 512, 1000 steps, 10 sequences, full spectrum, QR every step (issue 5)"
  if "$PY" -c "import torch, numpy" 2>/dev/null; then
    "$PY" - "$OUT" <<'PY'
import sys, numpy as np, torch
torch.manual_seed(0)
m = torch.nn.LSTM(4, 512, batch_first=True)
np.savez(f"{sys.argv[1]}/lstm_W.npz", **{k: v.detach().double().numpy() for k, v in m.state_dict().items()})
np.save(f"{sys.argv[1]}/lstm_X.npy", np.random.default_rng(0).standard_normal((10, 1000, 4)))
PY
    LSTM=(--model lstm --weights-file "$OUT/lstm_W.npz" --inputs "$OUT/lstm_X.npy" --t-warmup 100 --t-ons-warmup 100)
    # Most important first: the call's 10 minutes may run out. The torch loop handles one sequence
    # after another, so 3 of the 10 are timed and scaled; the batched loop runs all 10.
    timeout 120 "$RNNLYAP" spectrum --backend cuda "${LSTM[@]}" --quiet --out "$OUT/lstm.json" || status=1
    timeout 240 "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/lstm_W.npz" --inputs "$OUT/lstm_X.npy" \
      --jacobian analytic --batched --device cuda >"$OUT/torch_lstm_batched.json" || true
    timeout 150 "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/lstm_W.npz" --inputs "$OUT/lstm_X.npy" \
      --jacobian analytic --sequences 3 --device cuda >"$OUT/torch_lstm.json" || true
    timeout 90 "$RNNLYAP" spectrum --backend cuda --qr householder "${LSTM[@]}" --quiet \
      --out "$OUT/lstm_householder.json" || status=1
    "$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(f"{out}/{name}"))
    except Exception:
        return None
runs = [(f, load(f)) for f in ("lstm.json", "lstm_householder.json")]
base = [(f, load(f)) for f in ("torch_lstm.json", "torch_lstm_batched.json")]
for f, r in runs:
    if r:
        print(f"  rnnlyap {f:<24} {r['timing']['seconds']:8.2f} s  lambda_max {r['summary']['max_exponent']:+.5f}")
    else:
        print(f"  rnnlyap {f:<24} failed")
for f, t in base:
    if not t:
        print(f"  torch   {f:<24} failed")
        continue
    seconds = t['seconds'] * 10 / t['batch']  # the loop timed on fewer sequences: scaled to 10
    line = f"  torch   {f:<24} {seconds:8.2f} s  lambda_max {t['max_exponent']:+.5f}"
    if t['batch'] != 10:
        line += f" ({t['seconds']:.1f} s for {t['batch']} sequences, x{10 / t['batch']:.2f})"
    if runs[0][1]:
        line += f"   torch / rnnlyap = {seconds / runs[0][1]['timing']['seconds']:.1f}x"
    print(line)
PY
  else
    echo "torch or numpy not importable by $PY: trained target skipped"
  fi
fi

echo
echo "== summary ($OUT)"
"$PY" - "$OUT" "$tests_rc" "$tests_s" "$rnn_rc" "$rnn_wall" "$torch_rc" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
out, tests_rc, tests_s, rnn_rc, rnn_wall, torch_rc = sys.argv[1:]

def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None

rows = []
try:
    root = ET.parse(os.path.join(out, "tests.xml")).getroot()
    total, failed = int(root.get("tests", 0)), int(root.get("failures", 0)) + int(root.get("errors", 0))
    skipped = sum(1 for c in root.iter("testcase") if c.find("skipped") is not None
                  or c.get("result") == "skipped")
    cuda_run = sum(1 for c in root.iter("testcase")
                   if ("Cuda" in c.get("classname", "") or c.get("name", "").endswith("/cuda")
                       or "/cuda" in c.get("name", "")) and c.find("skipped") is None
                   and c.get("result") != "skipped")
    rows.append(("tests", f"{total - failed - skipped} passed, {failed} failed, {skipped} skipped "
                 f"({cuda_run} CUDA tests ran), rc {tests_rc}, {tests_s} s"))
except Exception as e:
    rows.append(("tests", f"no tests.xml ({e}), rc {tests_rc}"))

r = load("n4096.json")
if r:
    s = r["summary"]
    rows.append(("rnnlyap cuda N=4096", f"{r['timing']['seconds']:.2f} s ({rnn_wall} s wall), "
                 f"lambda_max {s['max_exponent']:.4f}, mean {s['mean_exponent']:.4f}, "
                 f"D_KY {s['ky_dimension']:.1f}, {r['timing']['tangent_steps']} steps, "
                 f"{r['timing']['qr_count']} QRs, {r.get('device', '?')}"))
else:
    rows.append(("rnnlyap cuda N=4096", f"failed (rc {rnn_rc}); see n4096.log"))

c = load("n4096_chol.json")
if c:
    rows.append(("rnnlyap cuda N=4096 qr auto", f"{c['timing']['seconds']:.2f} s, lambda_max "
                 f"{c['summary']['max_exponent']:.4f}, D_KY {c['summary']['ky_dimension']:.1f}"))
big = load("n16384.json")
if big:
    tm = big["timing"]
    rows.append(("rnnlyap cuda N=16384", f"{tm['seconds']:.1f} s for {tm['tangent_steps']} steps and "
                 f"{tm['qr_count']} QRs (incl. set-up)"))
t = load("torch_n4096.json")
if t:
    rows.append(("torch fp64 N=4096", f"{t['seconds']:.2f} s, lambda_max {t['max_exponent']:.4f}, "
                 f"mean {t['mean_exponent']:.4f}, torch {t['torch']}"))
    if r:
        rows.append(("speed-up", f"torch / rnnlyap = {t['seconds'] / r['timing']['seconds']:.2f}x"))
else:
    rows.append(("torch fp64 N=4096", f"not run (rc {torch_rc}); see torch_n4096.log"))

width = max(len(k) for k, _ in rows)
for k, v in rows:
    print(f"{k:<{width}}  {v}")
PY
exit "$status"
