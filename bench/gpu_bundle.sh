#!/usr/bin/env bash
# Builds for Hopper (sm_90) and bundles the programs the GPU check needs into .gpu/ (binaries plus
# their non-system libraries; see ../shared/tools/gpu-bundle). Then, on a GPU machine, from the
# repository root:   source .gpu/env.sh && bash bench/gpu_check.sh
#   bash bench/gpu_bundle.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
BUNDLER=${GPU_BUNDLE:-$ROOT/../shared/tools/gpu-bundle}
[ -x "$BUNDLER" ] || { echo "gpu_bundle: no bundler at $BUNDLER (set GPU_BUNDLE)" >&2; exit 2; }
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
rm -rf "$ROOT/.gpu"
# Stripped copies (the bundle travels to the GPU machine, 64 MiB at most); patchelf runs after.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for exe in "$BUILD/src/cli/rnnlyap" "$BUILD/tests/rnnlyap_tests" "$BUILD/bench/rnnlyap_profile" \
  "$BUILD/bench/rnnlyap_accuracy" "$BUILD/bench/rnnlyap_ensemble_bench"; do
  cp "$exe" "$stage/"
  strip --strip-unneeded "$stage/$(basename "$exe")"
done
"$BUNDLER" "$ROOT/.gpu" "$stage"/*
# With GPU_BUNDLE_CUDAMP=1, cuBLASMp and cuSOLVERMp too (38 MB: check the bundle's size), for the
# GPU variant of --distribute-network, which loads them at run time (RNNLYAP_CUDAMP_LIBRARY_PATH).
# NCCL is the GPU machine's (its PyTorch's nvidia-nccl-cu13).
if [ "${GPU_BUNDLE_CUDAMP:-0}" = 1 ]; then
  mp=${RNNLYAP_CUDAMP_ROOT:-$HOME/.cache/rnnlyap/cudamp}/nvidia
  mkdir -p "$ROOT/.gpu/cudamp"
  cp "$mp/cublasmp/cu13/lib/libcublasmp.so.0" "$mp/cu13/lib/libcusolverMp.so.0" "$ROOT/.gpu/cudamp/"
  # Appended to env.sh as written: evaluated on the GPU machine.
  cat >>"$ROOT/.gpu/env.sh" <<'EOF'
export RNNLYAP_CUDAMP_LIBRARY_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cudamp:$(python3 -c \
  "import nvidia.nccl, os; print(os.path.join(nvidia.nccl.__path__[0], 'lib'))" 2>/dev/null)"
EOF
fi
size_mib=$(du -sm "$ROOT/.gpu" | cut -f1)
if [ "$size_mib" -gt 60 ]; then
  echo "gpu_bundle: warning: .gpu is $size_mib MiB; a device call carries 64 MiB at most" >&2
fi
grep -qx '/.gpu/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >>"$ROOT/.git/info/exclude"
echo "gpu_bundle: done; on the GPU machine: source .gpu/env.sh && bash bench/gpu_check.sh"
