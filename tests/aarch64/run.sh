#!/usr/bin/env bash
# One CTest test of the native build for the aarch64 line (issue 16):
# cross-builds reheap with clang over Debian's aarch64 cross libraries and
# the arm64 libraries scripts/arm64-libs.sh unpacks
# (cmake/aarch64-linux-gnu.cmake), and runs the tests ported so far under
# qemu-aarch64, which the toolchain file makes CTest put in front of each.
# A program that starts another (reheap run) starts it through
# binfmt_misc, with tests/aarch64/binfmt_qemu.c as its interpreter,
# registered for the run and taken out after.
# usage: run.sh SOURCE_DIR OUT
set -euo pipefail
src="$1"
out="$2"
for tool in clang clang++ aarch64-linux-gnu-ld qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "aarch64 tests: $tool is missing; run scripts/deps.sh" >&2; exit 1; }
done
[ -d /usr/aarch64-linux-gnu/lib ] || { echo "aarch64 tests: the aarch64 C library is missing; run scripts/deps.sh" >&2; exit 1; }
[ -f /opt/reheap-arm64/.packages ] || { echo "aarch64 tests: the arm64 libraries are missing; run scripts/deps.sh" >&2; exit 1; }
# a build folder made with another toolchain (its compiler gone) starts afresh
if [ -f "$out/CMakeCache.txt" ]; then
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$out/CMakeCache.txt")
  command -v "$cc" >/dev/null || rm -rf "$out"
fi
gen=()
command -v ninja >/dev/null && [ ! -f "$out/CMakeCache.txt" ] && gen=(-G Ninja)
cmake -S "$src" -B "$out" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" \
  -DRH_SKIP_DIRS="bench;examples" -DRH_TEST_DIRS="alloc;hook;front;programs;track;only;cli" >"$out.configure.log" 2>&1 ||
  { cat "$out.configure.log"; exit 1; }
cmake --build "$out" -j "$(nproc)" >"$out.build.log" 2>&1 || { tail -40 "$out.build.log"; exit 1; }
readelf -h "$out/bin/alloc_test_api_edges" | grep -q "Machine: *AArch64" ||
  { echo "aarch64 tests: not an aarch64 build"; exit 1; }
# aarch64 programs started by aarch64 programs: through qemu too
binfmt=/proc/sys/fs/binfmt_misc
entry=$binfmt/reheap-aarch64
if [ ! -w "$binfmt/register" ]; then
  mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null ||
    { echo "aarch64 tests: binfmt_misc cannot be mounted (run as root): reheap run's tests need it" >&2; exit 1; }
fi
gcc -static -O1 -Wall -Wextra -Werror "$src/tests/aarch64/binfmt_qemu.c" -o "$out/binfmt_qemu"
[ -e "$entry" ] && echo -1 >"$entry"
printf '%s' ':reheap-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$out/binfmt_qemu"':P' \
  >"$binfmt/register"
trap '[ -e "$entry" ] && echo -1 >"$entry"' EXIT
# The tests ported: the heap's, the hook engine's, the takeover's, the
# preload library's (through reheap run), the spec parser's, the
# tracker's and reheap report's. Left out: those running programs of this
# machine's (python3, tclsh, sqlite3, git) and cli_contract (x86-64 program
# kinds, Debian's x86-64 heaps); track_reach, as under qemu-user a
# thread's registers and stack pointer (/proc/PID/task/TID/syscall) are the
# emulator's. The tests' own programs besides their builds (sh, true, cat,
# sort) are Debian's arm64 ones, first on the PATH; RH_CROSS tells the
# scripts the few checks qemu-user cannot pass.
export PATH="/opt/reheap-arm64/guest-bin:$PATH" RH_CROSS=aarch64
ctest --test-dir "$out" --output-on-failure -j "$(nproc)" \
  -R '^(alloc_|hook_|front_hook_spec$|front_takeover$|programs_preload_|track_|cli_report$)' -E '^track_reach$'
