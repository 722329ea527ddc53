#!/usr/bin/env bash
# The GPU variant of --distribute-network loads cuBLASMp, cuSOLVERMp and NCCL when a run asks for
# them (src/distributed/cuda_mp.cpp), by soname and entry-point name. On a machine without a GPU
# this checks those names against the real libraries (the wheels scripts/common.sh fetches): with
# the CUDA toolkit's stub driver (libcuda.so.1, which the libraries need to load and which
# answers every call with an error), `rnnlyap info` must report all three loaded, every entry
# point found, and a run must then stop with exit 2 and one line for want of a GPU.
#   gpu_libraries.sh RNNLYAP CUDA_STUB_LIBCUDA MPIEXEC
# Skips (77) when the stub or the libraries are not there.
set -euo pipefail
rnnlyap=$1 stub=$2 mpiexec=${3:-mpirun}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$stub" ] || { echo "no stub driver at $stub: skipped"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/rnnlyap_gpu_libraries.XXXXXX")
trap 'rm -rf "$dir"' EXIT
ln -s "$stub" "$dir/libcuda.so.1"
export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

line=$("$rnnlyap" info | grep "^GPU variant (--distribute-network --backend cuda): ") ||
  fail "rnnlyap info has no line for the GPU variant"
case "$line" in
  *"not compiled in"*) echo "the GPU variant is not built in: skipped"; exit 77 ;;
  *"cannot be loaded: lib"*"cannot open shared object file"*)
    echo "the libraries are not installed ($line): skipped"; exit 77 ;;
esac
for lib in libcublasmp.so.0 libcusolverMp.so.0 libnccl.so.2; do
  [[ "$line" == *"$lib ("* ]] || fail "$lib not loaded: $line"
done
echo "ok: $line"

set +e
"$mpiexec" -x LD_LIBRARY_PATH -n 2 "$rnnlyap" spectrum --n 50 --distribute-network 1x2 \
  --backend cuda --out "$dir/never.json" >"$dir/out.txt" 2>"$dir/err.txt"
rc=$?
set -e
[ $rc -eq 2 ] || { cat "$dir/err.txt"; fail "a run without a GPU: exit $rc, not 2"; }
[ "$(grep -c '^rnnlyap' "$dir/err.txt")" -eq 1 ] && grep -q "sees no GPU" "$dir/err.txt" ||
  { cat "$dir/err.txt"; fail "a run without a GPU: not one line saying so"; }
[ ! -e "$dir/never.json" ] || fail "a run without a GPU wrote a result"
echo "ok: every entry point found; a run without a GPU exits 2 with one line"
