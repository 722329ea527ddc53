#!/usr/bin/env bash
# One command: install the dependencies, build (CUDA too when nvcc exists) and run every test.
# Tests that need a GPU skip themselves without one. Fails if no test ran.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# python3-torch: the test that checks the trained cells against PyTorch's autograd.
install_deps python3-torch
configure_and_build
# CI (.ci/run) sets RNNLYAP_REQUIRE_CUDA_BUILD=1: a build without the CUDA code (no nvcc found, or
# CMake's CUDA check failed) is then an error, not a quietly smaller build.
if [ "${RNNLYAP_REQUIRE_CUDA_BUILD:-0}" = 1 ] &&
  ! grep -q "rnnlyap: CUDA backend ON" "$ROOT/.cmake-configure.log"; then
  echo "test.sh: the CUDA code was not built (see $ROOT/.cmake-configure.log)" >&2
  exit 1
fi
echo "== ctest"
pin_test_kernels
cd "$BUILD"
set +e
ctest --output-on-failure --no-tests=error -j"$(nproc)" -LE mutations 2>&1 | tee "$BUILD/ctest.log"
status=${PIPESTATUS[0]}
set -e
if grep -qE "No tests were found|^100% tests passed, 0 tests failed out of 0" "$BUILD/ctest.log"; then
  echo "test.sh: ctest ran no tests" >&2
  exit 1
fi
exit "$status"
