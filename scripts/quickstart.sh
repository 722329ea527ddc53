#!/usr/bin/env bash
# One command: install the dependencies, build, compute a spectrum and plot it.
#   bash scripts/quickstart.sh [any `rnnlyap spectrum` options, e.g. --n 1000 --g 3]
# Writes out/spectrum.json, out/trace.csv and out/spectrum.png.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_deps
configure_and_build
mkdir -p "$ROOT/out"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--n 300 --g 3)
echo "== rnnlyap spectrum ${args[*]}"
"$BUILD/src/cli/rnnlyap" spectrum "${args[@]}" --out "$ROOT/out/spectrum.json" --trace "$ROOT/out/trace.csv"
"$(python_with_numpy)" "$ROOT/scripts/plot_spectrum.py" "$ROOT/out/spectrum.json" \
  --trace "$ROOT/out/trace.csv" --out "$ROOT/out/spectrum.png"
