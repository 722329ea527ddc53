#!/usr/bin/env bash
# One command: install the dependencies, build (CUDA too when nvcc exists) and run every test.
# Tests that need a GPU skip themselves without one. Fails if no test ran.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# python3-torch: the test that checks the trained cells against PyTorch's autograd.
install_deps python3-torch
configure_and_build
echo "== ctest"
cd "$BUILD"
set +e
ctest --output-on-failure -j"$(nproc)" 2>&1 | tee "$BUILD/ctest.log"
status=${PIPESTATUS[0]}
set -e
if grep -qE "No tests were found|^100% tests passed, 0 tests failed out of 0" "$BUILD/ctest.log"; then
  echo "test.sh: ctest ran no tests" >&2
  exit 1
fi
exit "$status"
