#!/usr/bin/env bash
# One CTest test of the native build for the aarch64 line (issue 16):
# cross-builds the parts of reheap ported so far with clang over Debian's
# aarch64 cross libraries (cmake/aarch64-linux-gnu.cmake) and runs their
# own tests under qemu-aarch64, which the toolchain file makes CTest put in
# front of each. So far: the OS layer and the heap, with the heap's own
# tests (its internal checks on, under UBSan).
# usage: run.sh SOURCE_DIR OUT
set -euo pipefail
src="$1"
out="$2"
for tool in clang clang++ aarch64-linux-gnu-ld qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "aarch64 tests: $tool is missing; run scripts/deps.sh" >&2; exit 1; }
done
[ -d /usr/aarch64-linux-gnu/lib ] || { echo "aarch64 tests: the aarch64 C library is missing; run scripts/deps.sh" >&2; exit 1; }
# a build folder made with another toolchain (its compiler gone) starts afresh
if [ -f "$out/CMakeCache.txt" ]; then
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$out/CMakeCache.txt")
  command -v "$cc" >/dev/null || rm -rf "$out"
fi
gen=()
command -v ninja >/dev/null && [ ! -f "$out/CMakeCache.txt" ] && gen=(-G Ninja)
cmake -S "$src" -B "$out" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" \
  -DRH_SKIP_DIRS="src/track;src/front;src/cli;bench;examples" -DRH_TEST_DIRS="alloc;hook" >"$out.configure.log" 2>&1 ||
  { cat "$out.configure.log"; exit 1; }
cmake --build "$out" -j "$(nproc)" >"$out.build.log" 2>&1 || { tail -40 "$out.build.log"; exit 1; }
readelf -h "$out/bin/alloc_test_api_edges" | grep -q "Machine: *AArch64" ||
  { echo "aarch64 tests: not an aarch64 build"; exit 1; }
ctest --test-dir "$out" --output-on-failure -j "$(nproc)"
