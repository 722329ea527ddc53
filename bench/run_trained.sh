#!/usr/bin/env bash
# Trained-network benchmark: full (h, c) spectrum of an LSTM over a batch of input sequences, QR
# every step, rnnlyap against bench/torch_lstm_baseline.py (autograd and analytic dense Jacobians)
# on the same machine, network and inputs.
#   bash bench/run_trained.sh [HIDDEN] [STEPS] [BATCH] [BUILD_DIR]     (the issue's target: 512 1000 10)
#   BASELINES="analytic" bash bench/run_trained.sh ...                 (fewer torch loops)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-512}; T=${2:-1000}; B=${3:-10}; BUILD=${4:-$ROOT/build}
PY=/usr/bin/python3; "$PY" -c "import torch, numpy" 2>/dev/null || PY=python3
OUT=${OUT_DIR:-$ROOT/out/bench_trained}; mkdir -p "$OUT"
"$PY" - "$OUT" "$N" "$T" "$B" <<'PY'
import sys, numpy as np, torch
out, n, t, b = sys.argv[1], *map(int, sys.argv[2:])
torch.manual_seed(0)
m = torch.nn.LSTM(4, n, batch_first=True)
np.savez(f"{out}/W.npz", **{k: v.detach().double().numpy() for k, v in m.state_dict().items()})
np.save(f"{out}/X.npy", np.random.default_rng(0).standard_normal((b, t, 4)))
PY
echo "== LSTM N=$N, $T steps, $B sequences, full spectrum (2N=$((2*N))), QR every step"
"$BUILD/src/cli/rnnlyap" spectrum --model lstm --weights-file "$OUT/W.npz" --inputs "$OUT/X.npy" \
  --t-warmup 100 --t-ons-warmup 100 --backend cpu --quiet --out "$OUT/rnnlyap.json"
# BASELINES picks the torch loops (default all three; each takes longer than rnnlyap).
BASELINES=${BASELINES:-analytic autograd batched}
for jac in $BASELINES; do
  if [ "$jac" = batched ]; then
    "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/W.npz" --inputs "$OUT/X.npy" \
      --jacobian analytic --batched >"$OUT/torch_batched.json"
  else
    "$PY" "$ROOT/bench/torch_lstm_baseline.py" --weights "$OUT/W.npz" --inputs "$OUT/X.npy" \
      --jacobian "$jac" >"$OUT/torch_$jac.json"
  fi
done
"$PY" - "$OUT" $BASELINES <<'PY'
import json, sys
out, baselines = sys.argv[1], sys.argv[2:]
r = json.load(open(f"{out}/rnnlyap.json"))
s = r["timing"]["seconds"]
print(f"  rnnlyap           {s:8.2f} s  lambda_max {r['summary']['max_exponent']:+.5f}  mean {r['summary']['mean_exponent']:+.5f}")
for jac in baselines:
    t = json.load(open(f"{out}/torch_{jac}.json"))
    print(f"  torch {jac:<10}  {t['seconds']:8.2f} s  lambda_max {t['max_exponent']:+.5f}  mean {t['mean_exponent']:+.5f}"
          f"   torch/rnnlyap = {t['seconds'] / s:.1f}x")
PY
