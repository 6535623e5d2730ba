#!/usr/bin/env bash
# One CTest test of the Linux build per Windows architecture: cross-builds
# reheap for it (build.sh) and, for x86-64, runs the Windows build's own
# tests under wine64 (its CTest, wine64 as the emulator). i686 is built
# and checked statically only (the NVSE structures' sizes, the plugin
# DLL's exports and imports): this kernel runs no 32-bit code.
# usage: run.sh SOURCE_DIR OUT ARCH
set -euo pipefail
src="$1"
out="$2"
arch="$3"
here=$(dirname "$0")
bash "$here/build.sh" "$src" "$out" "$arch"
if [ "$arch" = i686 ]; then
  bash "$here/check_dll.sh" "$out/i686/nvse/reheap_nvse.dll"
  exit 0
fi
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
if [ ! -x "$wine" ]; then
  echo "windows tests: wine64 is missing; run scripts/deps.sh" >&2
  exit 1
fi
export WINEPREFIX="$out/wineprefix" WINEDEBUG=-all
# the prefix made once, before tests start wine side by side
[ -d "$WINEPREFIX/drive_c" ] || "$wine" wineboot --init >/dev/null 2>&1
ctest --test-dir "$out/$arch" --output-on-failure -j "$(nproc)"
