#!/usr/bin/env bash
# Cross-builds reheap for Windows with mingw-w64 (cmake/mingw-ARCH.cmake)
# into OUT/ARCH, with Zydis's decoder built from Debian's source package
# (fetched once into OUT, never committed: Debian ships Zydis for Linux
# only). usage: build.sh SOURCE_DIR OUT ARCH   (ARCH: x86_64 or i686)
set -euo pipefail
src="$1"
out="$2"
arch="$3"
mkdir -p "$out"
if ! command -v "$arch-w64-mingw32-gcc-win32" >/dev/null; then
  echo "windows build: $arch-w64-mingw32-gcc-win32 is missing; run scripts/deps.sh" >&2
  exit 1
fi
# both architectures build at once: one fetch, under a lock
exec 9>"$out/.zydis.lock"
flock 9
zdir=$(find "$out/zydis-src" -maxdepth 1 -mindepth 1 -type d -name '*zydis*' 2>/dev/null | head -1 || true)
if [ -z "$zdir" ]; then
  rm -rf "$out/zydis-src"
  mkdir -p "$out/zydis-src"
  (cd "$out/zydis-src" && apt-get source -qq --download-only zydis >/dev/null 2>&1) || {
    echo "windows build: cannot fetch Zydis's source (apt-get source zydis); run scripts/deps.sh" >&2
    exit 1
  }
  tar -C "$out/zydis-src" -xzf "$out"/zydis-src/zydis_*.orig.tar.gz
  zdir=$(find "$out/zydis-src" -maxdepth 1 -mindepth 1 -type d -name '*zydis*' | head -1)
fi
flock -u 9
# Zycore's headers (libzycore-dev, Linux's) are plain C: seen through a
# folder of their own, not the whole of /usr/include
mkdir -p "$out/zycore-include"
ln -sfn /usr/include/Zycore "$out/zycore-include/Zycore"
cmake -S "$src" -B "$out/$arch" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-$arch.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DRH_ZYDIS_SRC="$zdir" -DRH_ZYCORE_INCLUDE="$out/zycore-include" >/dev/null
cmake --build "$out/$arch" -j "$(nproc)" 2>&1 | grep -v "^\[\|^gmake\|Linking\|Built target\|Scanning\|Consolidate" || true
cmake --build "$out/$arch" -j "$(nproc)" >/dev/null
