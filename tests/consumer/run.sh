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

# The minimal program of docs/cpp.md, as written there: its ```cpp block with main() is app.cpp,
# its ```cmake block (find_package + target_link_libraries) the CMakeLists.txt of a project of its
# own, configured with CMAKE_PREFIX_PATH set to the fresh install as its ```sh block says. It must
# build without warnings and exit 0 (it runs on the CPU backend; keep it small, a second or two).
doc=$src/docs/cpp.md
echo "== docs/cpp.md: its example program, built with its CMakeLists.txt"
# fenced_blocks LANG PATTERN: the ```LANG blocks of docs/cpp.md that contain PATTERN, in order.
fenced_blocks() {
  awk -v lang="$1" -v pat="$2" '
    !inside && $0 ~ "^```" lang "[[:space:]]*$" { inside = 1; block = ""; next }
    inside && /^```[[:space:]]*$/ { inside = 0; if (index(block, pat)) { printf "%s", block; found++ }; next }
    inside { block = block $0 "\n" }
    END { exit found ? 0 : 1 }' "$doc"
}
example=$work/doc-example
mkdir -p "$example"
fenced_blocks cpp 'int main(' >"$example/app.cpp" || fail "docs/cpp.md has no \`\`\`cpp block with main()"
fenced_blocks cmake 'find_package(rnnlyap' >"$example/CMakeLists.txt" ||
  fail "docs/cpp.md has no \`\`\`cmake block with find_package(rnnlyap)"
grep -q 'target_link_libraries(.*rnnlyap::rnnlyap' "$example/CMakeLists.txt" ||
  fail "the CMakeLists.txt of docs/cpp.md does not link rnnlyap::rnnlyap"
"$cmake" -S "$example" -B "$example/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic" -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
  >"$example/configure.log" 2>&1 ||
  { cat "$example/configure.log"; fail "configuring the example of docs/cpp.md failed"; }
"$cmake" --build "$example/build" >"$example/build.log" 2>&1 ||
  { cat "$example/build.log"; fail "building the example of docs/cpp.md failed"; }
app=$(find "$example/build" -maxdepth 1 -type f -perm -u+x -name app | head -n1)
[ -n "$app" ] || fail "the example of docs/cpp.md built no program 'app'"
start=$(date +%s%N)
status=0
"$app" >"$example/output.txt" || status=$?
[ "$status" -eq 0 ] ||
  { cat "$example/output.txt"; fail "the example of docs/cpp.md exited with status $status"; }
echo "   $(head -n 1 "$example/output.txt")   ($(( ($(date +%s%N) - start) / 1000000 )) ms)"

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
