#!/usr/bin/env bash
# The CUDA executor on the emulated device (tests/emulation/README.md), on a machine without a GPU:
#   1. builds the test-only emulated configuration in build-emu and runs every CUDA test instance
#      there, none skipped (RNNLYAP_REQUIRE_CUDA=1 turns a skip into a failure), the kernel
#      tests of the emulator itself, and the GPU variant of --distribute-network under mpirun;
#   2. builds those kernel tests, and the CPU thread team's (test_thread_team.cpp), under
#      ThreadSanitizer (build-tsan) and runs them.
# Set RNNLYAP_EMULATION_TSAN=0 to leave out the second part.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_deps libboost-context-dev

BUILD_DIR=$ROOT/build-emu
BUILD=$BUILD_DIR
configure_and_build -DRNNLYAP_CUDA_EMULATION=ON -DRNNLYAP_BUILD_BENCH=OFF -DRNNLYAP_BUILD_PYTHON=OFF
grep -q "rnnlyap: CUDA emulation ON" "$ROOT/.cmake-configure.log" ||
  { echo "test_emulated.sh: the emulated configuration was not built" >&2; exit 1; }
# The GPU variant of --distribute-network runs here only (tests/distributed/network_cuda.sh): its
# headers (fetched by configure_and_build) must have been found.
grep -q "rnnlyap: cuBLASMp/cuSOLVERMp headers: yes" "$ROOT/.cmake-configure.log" ||
  { echo "test_emulated.sh: the cuBLASMp/cuSOLVERMp headers were not found (see $ROOT/.cmake-configure.log)" >&2; exit 1; }

echo "== ctest: every CUDA test instance on the emulated device"
pin_test_kernels
cd "$BUILD"
set +e
# PropagatorWithoutCuda and Cli.CudaBackendWithoutDevice* are the no-device cases: they skip
# wherever a device exists.
RNNLYAP_REQUIRE_CUDA=1 ctest --output-on-failure --no-tests=error -j"$(nproc)" \
  -R '[Cc]uda|^emulation\.' -E 'PropagatorWithoutCuda|CudaBackendWithoutDevice' 2>&1 | tee "$BUILD/ctest-emulated.log"
status=${PIPESTATUS[0]}
set -e
if grep -qE "No tests were found|tests passed, 0 tests failed out of 0$" "$BUILD/ctest-emulated.log"; then
  echo "test_emulated.sh: ctest ran no tests" >&2
  exit 1
fi
if grep -qE "\*\*\*Skipped|Not Run" "$BUILD/ctest-emulated.log"; then
  echo "test_emulated.sh: a CUDA test instance was skipped on the emulated device" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

if [ "${RNNLYAP_EMULATION_TSAN:-1}" = 1 ]; then
  echo "== ThreadSanitizer: the kernels' barriers and shuffles, the CPU thread team (build-tsan)"
  TSAN=$ROOT/build-tsan
  cmake -S "$ROOT" -B "$TSAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNLYAP_CUDA_EMULATION=ON \
    -DRNNLYAP_EMULATION_SANITIZER=thread -DRNNLYAP_BUILD_BENCH=OFF -DRNNLYAP_BUILD_PYTHON=OFF >"$TSAN.configure.log" 2>&1 ||
    { cat "$TSAN.configure.log"; exit 1; }
  cmake --build "$TSAN" -j"$(nproc)" --target rnnlyap_emulation_tests rnnlyap_team_tsan_tests
  # halt_on_error: a race fails the run; death tests fork, which TSan only warns about.
  cd "$TSAN"
  TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" \
    ctest --output-on-failure --no-tests=error -R '^(emulation\.EmulatedKernels|tsan\.ThreadTeam)\.'
fi
