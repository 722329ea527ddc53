#!/usr/bin/env bash
# End-to-end tests of a run spread over processes (README, "Many processes"):
#   run.sh shards RNNLYAP PYTHON   --shard I/N and rnnlyap merge (no MPI needed)
#   run.sh mpi RNNLYAP PYTHON MPIEXEC   mpirun with 2-3 ranks, oversubscribed: the same result as
#                                       one process, a killed rank, SIGTERM, refused input
# The reference for every comparison is one process with --threads 1 (the arithmetic of one
# single-threaded member, as every rank's); results must agree exactly, member by member.
set -euo pipefail
mode=$1 rnnlyap=$2 python=$3
mpiexec=${4:-mpirun}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rnnlyap_distributed.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$python" -c "import numpy" 2>/dev/null || { echo "numpy is missing: skipped"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# same A B KIND [warnings]: the two results agree exactly in every number but the timings (and
# the warnings, when a fourth argument says so).
same() {
  "$python" - "$1" "$2" "$3" "${4:-}" <<'EOF'
import json, sys
a, b, kind = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
skip = ("seconds", "timing", "device", "threads") + (("warnings",) if sys.argv[4] else ())
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in skip}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
if kind == "sweep":
    assert len(a["grid"]) == len(b["grid"]) > 0
    for p, q in zip(a["grid"], b["grid"]):
        assert p["members"] == q["members"], (p["g"], p["n"])
assert strip(a) == strip(b), "results differ"
EOF
}

# An Open MPI run as root needs its consent; oversubscription lets 3 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export RNNLYAP_PROGRESS_SECONDS=3600
sweep_args=(sweep --model map --g 0.8:1.2:0.2 --n 20,30 --ensemble 3 --t-warmup 100 --t-ons-warmup 20 --t-sim 200)
ens_args=(spectrum --model map --n 30 --ensemble 5 --t-warmup 100 --t-ons-warmup 20 --t-sim 200)

# A small GRU and a batch of 4 input sequences (state_dict layout, as the README's export).
"$python" - <<'EOF'
import numpy as np
r = np.random.default_rng(3)
n, i = 6, 2
np.savez("gru.npz", weight_ih_l0=r.normal(0, 0.5, (3 * n, i)), weight_hh_l0=r.normal(0, 0.6, (3 * n, n)),
         bias_ih_l0=r.normal(0, 0.1, 3 * n), bias_hh_l0=r.normal(0, 0.1, 3 * n))
np.save("x.npy", r.normal(0, 1, (4, 300, i)))
EOF
gru_args=(spectrum --model gru --weights-file gru.npz --inputs x.npy --t-warmup 50 --t-ons-warmup 20)

"$rnnlyap" "${sweep_args[@]}" --threads 1 --out one.json --quiet
"$rnnlyap" "${ens_args[@]}" --threads 1 --out ens1.json --quiet
"$rnnlyap" "${gru_args[@]}" --threads 1 --out gru1.json --quiet

if [ "$mode" = shards ]; then
  # Three shards of a sweep, merged: the one-process result.
  for i in 1 2 3; do "$rnnlyap" "${sweep_args[@]}" --shard "$i/3" --out "s$i.units" --quiet; done
  "$rnnlyap" merge s1.units s2.units s3.units --out merged.json --npz merged.npz --quiet
  same one.json merged.json sweep || fail "merged sweep differs from one process"
  [ -f merged.csv ] && [ -f merged.npz ] || fail "merge wrote no CSV or .npz"
  pass "three sweep shards merged = one process"
  # Each unit is in exactly one shard, and each shard has a share of every size.
  "$python" - <<'EOF' || fail "shards overlap or miss units"
import json
units = []
for i in (1, 2, 3):
    lines = open(f"s{i}.units").read().splitlines()[1:]
    keys = [json.dumps(json.loads(l)["unit"], sort_keys=True) for l in lines]
    assert {json.loads(k)["n"] for k in keys} == {20, 30}, i
    units += keys
assert len(units) == len(set(units)) == 3 * 2 * 3, len(units)
EOF
  pass "shards partition the units"
  # A shard missing: refused (exit 2) with the count, nothing written.
  set +e
  "$rnnlyap" merge s1.units s3.units --out part.json 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "units are missing" err.txt && [ ! -e part.json ] ||
    fail "a missing shard: rc=$rc $(cat err.txt)"
  pass "a missing shard is refused"
  # A shard of another run is refused.
  "$rnnlyap" sweep --model map --g 0.8:1.2:0.2 --n 20,30 --ensemble 3 --t-warmup 100 \
    --t-ons-warmup 20 --t-sim 100 --shard 2/3 --out other.units --quiet
  set +e
  "$rnnlyap" merge s1.units other.units s3.units --out part.json 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "another run" err.txt || fail "a foreign shard: rc=$rc $(cat err.txt)"
  pass "a shard of another run is refused"
  # A shard run again computes nothing new; an ensemble's and a trained batch's shards merge too.
  "$rnnlyap" "${sweep_args[@]}" --shard 2/3 --out s2.units 2>err.txt
  grep -q "0 units computed" err.txt || fail "a finished shard recomputed: $(cat err.txt)"
  for i in 1 2; do "$rnnlyap" "${ens_args[@]}" --shard "$i/2" --out "e$i.units" --quiet; done
  "$rnnlyap" merge e1.units e2.units --out ens.json --quiet
  same ens1.json ens.json spectrum || fail "merged ensemble differs"
  for i in 1 2 3 4 5; do "$rnnlyap" "${gru_args[@]}" --shard "$i/5" --out "g$i.units" --quiet; done
  "$rnnlyap" merge g*.units --out gru.json --quiet
  same gru1.json gru.json spectrum || fail "merged sequences differ"
  pass "ensemble and trained-batch shards merged = one process (a fifth shard with no unit)"
  # Lines of another run put into a shard's file (cat): ignored with a warning, never used.
  cat s1.units s2.units >cat.units
  tail -n +2 other.units >>cat.units
  set +e
  "$rnnlyap" merge cat.units s3.units --out cat.json 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 0 ] && grep -q "of another run (other options) ignored" err.txt ||
    fail "lines of another run: rc=$rc $(cat err.txt)"
  same one.json cat.json sweep warnings || fail "a merge with another run's lines differs"
  # An edited line: merge says so (and that its unit is missing).
  sed '2s/"max_exponent":/"max_exponent":1/' s2.units >s2e.units
  set +e
  "$rnnlyap" merge s1.units s2e.units s3.units --out e.json 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "whose check failed" err.txt && grep -q "1 of 18 units are missing" err.txt ||
    fail "an edited line: rc=$rc $(cat err.txt)"
  pass "lines of another run and edited lines are named and not used"
  # Gains equal to 12 digits are one point: refused, not computed twice.
  set +e
  "$rnnlyap" sweep --model map --g 1,1.0000000000001 --n 10 --t-sim 50 --out near.json 2>err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "given twice" err.txt && [ ! -e near.json ] || fail "near-equal gains: rc=$rc"
  pass "near-equal grid values are refused"
  # Bad shard specifications.
  for bad in 0/3 4/3 3 a/b 1/0; do
    set +e
    "$rnnlyap" "${ens_args[@]}" --shard "$bad" --out bad.units 2>err.txt
    rc=$?
    set -e
    [ $rc -eq 2 ] && grep -q "shard" err.txt && [ ! -e bad.units ] || fail "--shard $bad: rc=$rc"
  done
  pass "bad --shard values exit 2"
  exit 0
fi

[ "$mode" = mpi ] || fail "unknown mode $mode"
run() { "$mpiexec" -n "$1" "${@:2}"; }

run 2 "$rnnlyap" "${sweep_args[@]}" --out two.json --quiet
same one.json two.json sweep || fail "2-rank sweep differs from one process"
run 3 "$rnnlyap" "${sweep_args[@]}" --out three.json --quiet
same one.json three.json sweep || fail "3-rank sweep differs"
pass "sweep on 2 and 3 ranks = one process"
run 3 "$rnnlyap" "${ens_args[@]}" --out ens3.json 2>err.txt
same ens1.json ens3.json spectrum || fail "3-rank ensemble differs"
[ "$(grep -c "5 networks" err.txt)" -eq 1 ] || fail "the summary must be said once: $(cat err.txt)"
run 2 "$rnnlyap" "${gru_args[@]}" --out gru2.json --quiet
same gru1.json gru2.json spectrum || fail "2-rank trained batch differs"
pass "ensemble (3 ranks) and trained batch (2 ranks) = one process, summary said once"

# Refused input: exit 2, one line (rank 0's), nothing written.
set +e
run 3 "$rnnlyap" "${sweep_args[@]}" --k 25 --out bad.json 2>err.txt
rc=$?
set -e
[ $rc -eq 2 ] || fail "refused sweep under MPI: rc=$rc"
[ "$(grep -c "^rnnlyap: error" err.txt)" -eq 1 ] || fail "one error line expected: $(cat err.txt)"
[ ! -e bad.json ] && [ ! -e bad.json.partial.jsonl ] || fail "a refused run wrote files"
pass "refused input under MPI: exit 2, one line"

# A rank killed mid-run: the job fails, the finished units are kept, the same command finishes
# the rest and gives the one-process result.
long_args=(sweep --model map --g 0.8:1.2:0.2 --n 40 --ensemble 4 --t-warmup 100 --t-ons-warmup 20 --t-sim 3000)
"$rnnlyap" "${long_args[@]}" --threads 1 --out long1.json --quiet
rank_pid() {  # the pid of rank $1 of the running job (of command $2, default sweep)
  for p in $(pgrep -f "rnnlyap ${2:-sweep}" || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$p"
      return
    fi
  done
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
stop_job() {  # stop_job SIGNAL WHO OUT: start the job, wait for two finished units, signal WHO
  run 3 "$rnnlyap" "${long_args[@]}" --out "$3" --quiet >"$3.log" 2>&1 &
  local job=$!
  for _ in $(seq 600); do
    [ "$(lines "$3.partial.jsonl")" -ge 3 ] && break
    sleep 0.05
  done
  [ "$(lines "$3.partial.jsonl")" -ge 3 ] || fail "no unit finished in 30 s"
  if [ "$2" = all ]; then
    for r in 0 1 2; do p=$(rank_pid $r); [ -n "$p" ] && kill "-$1" "$p"; done
  else
    p=$(rank_pid "$2")
    [ -n "$p" ] || fail "rank $2 not found"
    kill "-$1" "$p"
  fi
  set +e
  wait $job
  rc=$?
  set -e
  [ $rc -ne 0 ] || fail "a job whose rank got SIG$1 exited 0"
  [ -f "$3.partial.jsonl" ] || fail "no partial file after SIG$1"
  kept=$(($(lines "$3.partial.jsonl") - 1))
  [ "$kept" -ge 2 ] && [ "$kept" -lt 12 ] || fail "SIG$1: $kept units kept"
  run 2 "$rnnlyap" "${long_args[@]}" --out "$3" 2>"$3.rerun"
  grep -q "$kept of 12 units taken from" "$3.rerun" || fail "rerun did not resume: $(cat "$3.rerun")"
  same long1.json "$3" sweep || fail "resumed after SIG$1 differs"
  [ ! -e "$3.partial.jsonl" ] || fail "partial file left after the rerun"
  echo "   (SIG$1 to rank $2: exit $rc, $kept of 12 units kept)"
}
# A unit that goes non-finite on some rank: exit 1, a message naming the rank, no hang.
set +e
timeout 120 "$mpiexec" -n 3 "$rnnlyap" sweep --model map --g 0.5,1e200 --n 10 --ensemble 2 \
  --t-warmup 50 --t-ons-warmup 20 --t-sim 100 --out nf.json --quiet 2>err.txt
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "failed: rank [0-9]" err.txt || fail "a failing unit: rc=$rc $(cat err.txt)"
pass "a failing unit stops the job with exit 1 naming the rank"

stop_job KILL 1 killed.json
pass "a killed rank: the job fails, the rerun computes only the rest = one process"
stop_job TERM all term.json
grep -q "units finished and kept in" term.json.log ||
  fail "SIGTERM: rank 0 did not say what it kept: $(cat term.json.log)"
pass "SIGTERM to every rank (a time limit): finished units kept, the rerun completes"
stop_job TERM 0 term0.json
[ "$rc" -eq 130 ] || fail "SIGTERM to rank 0 alone: exit $rc, not 130"
pass "SIGTERM to rank 0 alone stops every rank with 130"

# A stopped ensemble continued by one process (no mpirun): the same result.
ens_long=(spectrum --model map --n 30 --ensemble 40 --t-warmup 100 --t-ons-warmup 20 --t-sim 2000)
"$rnnlyap" "${ens_long[@]}" --threads 1 --out el1.json --quiet
run 2 "$rnnlyap" "${ens_long[@]}" --out el.json --quiet >el.log 2>&1 &
job=$!
for _ in $(seq 600); do [ "$(lines el.json.partial.jsonl)" -ge 3 ] && break; sleep 0.05; done
for r in 0 1; do p=$(rank_pid $r spectrum); [ -n "$p" ] && kill -TERM "$p"; done
set +e
wait $job
set -e
[ -f el.json.partial.jsonl ] || fail "the stopped ensemble kept nothing"
"$rnnlyap" "${ens_long[@]}" --out el.json 2>err.txt
grep -q "continuing the run kept in el.json.partial.jsonl" err.txt && grep -q "units taken from" err.txt ||
  fail "one process did not continue the ensemble: $(cat err.txt)"
same el1.json el.json spectrum || fail "the continued ensemble differs"
[ ! -e el.json.partial.jsonl ] || fail "partial file left"
pass "a stopped MPI ensemble is continued by one process = one process"
