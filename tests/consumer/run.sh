#!/usr/bin/env bash
# ctest install_consumer: installs the built tree into a temporary prefix and builds and runs the
# consumer project (main.cpp) against it, once through the CMake package (find_package(rnnlyap))
# and once through rnnlyap.pc with the plain compiler. Nothing of the library is rebuilt.
#   run.sh BUILD_DIR WORK_DIR CMAKE CXX GENERATOR [PKG_CONFIG]
# Exit status 0: both passed; 77 (skipped): the CMake part passed but pkg-config is not installed;
# anything else: failure.
set -euo pipefail
build=$1 work=$2 cmake=$3 cxx=$4 generator=$5 pkgconfig=${6:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "install_consumer: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
# Installed into one directory and moved to another: both packages must be relocatable.
echo "== cmake --install $build --prefix $work/stage"
"$cmake" --install "$build" --prefix "$work/stage" >"$work/install.log"
mv "$work/stage" "$work/prefix"
prefix=$work/prefix

config=$(find "$prefix" -path '*/cmake/rnnlyap/rnnlyapConfig.cmake' | head -n1)
pc=$(find "$prefix" -path '*/pkgconfig/rnnlyap.pc' | head -n1)
[ -n "$config" ] || fail "no rnnlyapConfig.cmake installed under $prefix"
[ -n "$pc" ] || fail "no rnnlyap.pc installed under $prefix"
[ -f "$(dirname "$config")/rnnlyapConfigVersion.cmake" ] || fail "no rnnlyapConfigVersion.cmake"
ls "$prefix"/include/rnnlyap/*.hpp >/dev/null 2>&1 || fail "no header under $prefix/include/rnnlyap"

# The public headers carry no dependency's header and nothing of src/.
if grep -rnE --include='*.hpp' \
  '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](cuda|cublas|cusolver|cblas|lapack|openblas|mkl|nlohmann|zlib|core/|cpu/|cli/)' \
  "$prefix/include/rnnlyap"; then
  fail "a public header includes a dependency's or an internal header (above)"
fi
# The exported targets name no build-only target, and neither the build nor the source tree.
src=$(cd "$here/../.." && pwd)
if grep -nF -e rnnlyap_warnings -e nlohmann -e "$build" -e "$src" "$(dirname "$config")"/rnnlyapTargets*.cmake; then
  fail "the exported targets refer to build-only targets or the build tree (above)"
fi

echo "== CMake: find_package(rnnlyap) with CMAKE_PREFIX_PATH=$prefix"
"$cmake" -S "$here" -B "$work/cmake-build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/cmake-configure.log" 2>&1 ||
  { cat "$work/cmake-configure.log"; fail "configuring the consumer failed"; }
found=$(sed -n 's/^rnnlyap_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
[ "$(cd "$found" && pwd -P)" = "$(cd "$(dirname "$config")" && pwd -P)" ] ||
  fail "find_package found rnnlyap in $found, not in the fresh install"
"$cmake" --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 ||
  { cat "$work/cmake-build.log"; fail "building the consumer with CMake failed"; }
"$work/cmake-build/consumer"

echo "== pkg-config: $cxx -std=c++20 main.cpp \$(pkg-config --cflags --libs rnnlyap)"
if [ -z "$pkgconfig" ] || ! command -v "$pkgconfig" >/dev/null; then
  echo "install_consumer: pkg-config not found: the CMake package passed, rnnlyap.pc is unchecked" >&2
  exit 77
fi
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
[ "$("$pkgconfig" --variable=pcfiledir rnnlyap)" = "$(dirname "$pc")" ] ||
  fail "pkg-config found another rnnlyap.pc"
version=$("$pkgconfig" --modversion rnnlyap)
flags=$("$pkgconfig" --cflags --libs rnnlyap)
echo "   $flags"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror -DEXPECTED_VERSION="\"$version\"" \
  "$here/main.cpp" $flags -o "$work/consumer-pc" || fail "building the consumer with pkg-config failed"
"$work/consumer-pc"
echo "install_consumer: passed"
