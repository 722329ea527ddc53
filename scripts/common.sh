# shellcheck shell=bash
# Shared by quickstart.sh and test.sh: install what is missing, then configure and build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}

DEB_PACKAGES=(cmake g++ make libopenblas-dev liblapack-dev libcli11-dev nlohmann-json3-dev
              libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy python3-matplotlib
              zlib1g-dev pybind11-dev python3-dev pkg-config openmpi-bin libopenmpi-dev
              libscalapack-openmpi-dev)

# install_deps [EXTRA_PACKAGE ...]
install_deps() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The tests run on OpenBLAS's Haswell kernels on every x86-64 machine (unless OPENBLAS_CORETYPE is
# set): a few tests build edge cases from exact rounding (a rank-one map whose R_ii are exactly 0, a
# basis chosen so that CholeskyQR's second pass fails), and OpenBLAS picks other kernels on
# AVX-512 CPUs (SkylakeX, Cooperlake), whose rounding differs; CI machines differ in that. The
# program itself uses whatever kernels the CPU gets.
pin_test_kernels() {
  if [ "$(uname -m)" = x86_64 ] && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
}

# The Debian python3 carries numpy and matplotlib even when another python3 comes first on PATH.
python_with_numpy() {
  for py in /usr/bin/python3 python3; do
    if "$py" -c "import numpy, matplotlib" 2>/dev/null; then echo "$py"; return; fi
  done
  echo "no python3 with numpy and matplotlib found" >&2
  return 1
}

# cuBLASMp and cuSOLVERMp (PyPI wheels, pinned to the versions the code was written against) and
# the NCCL they need, for the GPU variant of --distribute-network, into RNNLYAP_CUDAMP_ROOT (default
# ~/.cache/rnnlyap/cudamp), when the CUDA toolkit is there. Only the headers are used at build
# time; the program loads the libraries from there (or the system's) when a run asks for them, and
# a test loads them under the toolkit's stub driver (tests/distributed/gpu_libraries.sh). Without
# a network or pip it says so and the build leaves the variant out.
fetch_cudamp() {
  [ -n "${CUDACXX:-}" ] || command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || return 0
  export RNNLYAP_CUDAMP_ROOT=${RNNLYAP_CUDAMP_ROOT:-$HOME/.cache/rnnlyap/cudamp}
  [ -f "$RNNLYAP_CUDAMP_ROOT/nvidia/cublasmp/cu13/include/cublasmp.h" ] &&
    [ -f "$RNNLYAP_CUDAMP_ROOT/nvidia/cu13/include/cusolverMp.h" ] &&
    [ -f "$RNNLYAP_CUDAMP_ROOT/nvidia/nccl/lib/libnccl.so.2" ] && return 0
  echo "== fetching the cuBLASMp/cuSOLVERMp/NCCL wheels into $RNNLYAP_CUDAMP_ROOT"
  local tmp pip=()
  tmp=$(mktemp -d)
  if command -v pip >/dev/null; then pip=(pip); else pip=(python3 -m pip); fi
  if "${pip[@]}" download -q --no-deps --only-binary=:all: -d "$tmp" \
      "nvidia-cublasmp-cu13==0.10.*" "nvidia-cusolvermp-cu13==0.9.*" \
      "nvidia-nccl-cu13>=2.29.2,<3" >/dev/null 2>&1; then
    mkdir -p "$RNNLYAP_CUDAMP_ROOT"
    python3 - "$RNNLYAP_CUDAMP_ROOT" "$tmp"/*.whl <<'EOF'
import sys, zipfile
for wheel in sys.argv[2:]:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(sys.argv[1], [m for m in z.namelist() if m.startswith("nvidia/")])
EOF
  else
    echo "   (not fetched: no pip or no network; --distribute-network --backend cuda is left out)"
  fi
  rm -rf "$tmp"
}

# Intel MKL instead of OpenBLAS, when RNNLYAP_BLAS=mkl (README, "A faster BLAS: MKL"): the `mkl`
# wheel from PyPI (pinned to the version measured, 2025.3) unpacked into RNNLYAP_MKL_ROOT (default
# ~/.cache/rnnlyap/mkl) as lib/ with the names the linker looks for: the GNU interface, the OpenMP
# layer, the core and the per-CPU kernels it loads (about 320 MB). Fails when it cannot be fetched:
# it was asked for.
fetch_mkl() {
  export RNNLYAP_MKL_ROOT=${RNNLYAP_MKL_ROOT:-$HOME/.cache/rnnlyap/mkl}
  local parts=(gf_lp64 gnu_thread core def mc3 avx2 avx512) part
  [ -e "$RNNLYAP_MKL_ROOT/lib/libmkl_avx512.so" ] && return 0
  echo "== fetching the mkl wheel into $RNNLYAP_MKL_ROOT"
  local tmp pip=()
  tmp=$(mktemp -d)
  if command -v pip >/dev/null; then pip=(pip); else pip=(python3 -m pip); fi
  "${pip[@]}" download -q --no-deps --only-binary=:all: -d "$tmp" "mkl==2025.3.*" >/dev/null ||
    { echo "fetch_mkl: could not download the mkl wheel (pip, network?)" >&2; rm -rf "$tmp"; return 1; }
  mkdir -p "$RNNLYAP_MKL_ROOT/lib"
  python3 - "$RNNLYAP_MKL_ROOT/lib" "$tmp"/mkl-*.whl "${parts[@]}" <<'PY'
import os, sys, zipfile
dest, wheel, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for part in parts:
        name = f"libmkl_{part}.so.2"
        [member] = [m for m in z.namelist() if m.endswith("/lib/" + name)]
        with z.open(member) as src, open(os.path.join(dest, name), "wb") as out:
            out.write(src.read())
PY
  for part in "${parts[@]}"; do ln -sf "libmkl_$part.so.2" "$RNNLYAP_MKL_ROOT/lib/libmkl_$part.so"; done
  rm -rf "$tmp"
}

configure_and_build() {
  # The CUDA toolkit is optional: when nvcc exists the CUDA backend is compiled too.
  if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
  fetch_cudamp
  local blas=()
  case "${RNNLYAP_BLAS:-openblas}" in
    openblas) ;;
    mkl) fetch_mkl; blas=(-DRNNLYAP_MKL_ROOT="$RNNLYAP_MKL_ROOT") ;;
    *) echo "RNNLYAP_BLAS=$RNNLYAP_BLAS: openblas (the default) or mkl" >&2; return 2 ;;
  esac
  # RNNLYAP_CMAKE_ARGS: more options for cmake, split at spaces (-DRNNLYAP_ENABLE_CUDA=OFF, say).
  local extra=()
  read -r -a extra <<<"${RNNLYAP_CMAKE_ARGS:-}"
  # The Python module and its test use the Debian python3, which carries numpy (another python3 may
  # come first on PATH).
  local py=()
  [ -x /usr/bin/python3 ] && py=(-DPython_EXECUTABLE=/usr/bin/python3)
  echo "== configuring in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${py[@]}" "${blas[@]}" \
    "${extra[@]}" "$@" >"$ROOT/.cmake-configure.log" 2>&1 ||
    { cat "$ROOT/.cmake-configure.log"; exit 1; }
  grep -E "rnnlyap: (CUDA backend|Python module|MPI|cuBLASMp|BLAS/LAPACK)" "$ROOT/.cmake-configure.log" || true
  echo "== building"
  cmake --build "$BUILD" -j"$(nproc)"
}
