#!/usr/bin/env bash
# Installs, from Debian's archive, whatever reheap's build, tests and benchmarks
# need and the machine lacks. Idempotent: prints nothing when all is present.
set -euo pipefail

pkgs=(
  cmake ninja-build make gcc g++ libc6-dev # build (libc6-dev: also the static libc a test links)
  libzydis-dev                # x86 decoder for the hook engine
  clang libclang-rt-14-dev    # libFuzzer for the relocator's fuzz target
  gcc-multilib qemu-user      # 32-bit x86 hook tests, run under qemu-i386
  dpkg-dev                    # apt-get source: Zydis for -m32 (tests/hook/i386/build.sh)
  libmimalloc2.0              # comparison heaps for run --heap and make bench
  libjemalloc2
  libtcmalloc-minimal4
  python3 libpython3.11-testsuite   # demo program and its regression tests
  sqlite3 git                 # real programs the tests run under reheap
  libdw-dev                   # the tracker's file:line names (elfutils)
  libunwind-dev               # the tracker's DWARF unwinder (--track=dwarf)
  libjansson-dev              # `reheap report FILE` reads saved JSON reports
  zlib1g-dev                  # the tracker's pprof profiles are gzipped
  chromium                    # the tracker's flame graph's script is tested headless
  heaptrack valgrind          # the tracker's benchmark compares against them
  strace                      # rh-legacy-bench counts OS map calls with it
  tcl8.6 time                 # a second real program taken over (profiles/tcl8.6), its bench
  gcc-mingw-w64-x86-64 gcc-mingw-w64-i686   # the Windows builds (tests/windows, the NVSE plugin)
  binutils-mingw-w64-x86-64 binutils-mingw-w64-i686
  wine64                      # runs the x86-64 Windows tests
  libcapstone-dev             # the aarch64 relocator's fuzz target checks its decoder against Capstone
  libc6-dev-arm64-cross libgcc-12-dev-arm64-cross libstdc++-12-dev-arm64-cross binutils-aarch64-linux-gnu
                              # the aarch64 build (tests/aarch64: clang over these; qemu-user runs it)
)

apt_etc=${REHEAP_APT_ETC:-/etc/apt} # (another folder: the test's own sources)

# The deb-src twin of every enabled 'deb' entry: deb822 stanzas (*.sources)
# with their Types set to deb-src, one-line entries (sources.list, *.list)
# with 'deb' turned to 'deb-src'; comments and disabled stanzas left out.
derive_src() {
  local f
  for f in "$apt_etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() { if (isdeb && !off && body != "") printf "Types: deb-src\n%s\n", body; body = ""; isdeb = 0; off = 0 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1; next }
      /^Enabled:[ \t]*no/ { off = 1 }
      { body = body $0 "\n" }
      END { flush() }' "$f"
  done
  for f in "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[ \t]*deb[ \t]/deb-src /p' "$f"
  done
}

# scripts/deps.sh --print-src: only print the deb-src entries it would add
if [ "${1:-}" = --print-src ]; then
  derive_src
  exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Debian ships Zydis for 64-bit only: the 32-bit tests build it from its
# source package, which needs a deb-src entry for the same archive.
src_list=$apt_etc/sources.list.d/reheap-src.sources
need_src=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' "$apt_etc"/sources.list "$apt_etc"/sources.list.d/; then
  need_src=1
fi
here=$(cd "$(dirname "$0")" && pwd)
# and the aarch64 build's libraries, unpacked from Debian's arm64 archive
[ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ] && exec bash "$here/arm64-libs.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages (${missing[*]}) or a deb-src entry; run 'sudo scripts/deps.sh'" >&2
  exit 1
fi
if [ $need_src -eq 1 ]; then
  # the machine's own archives (its mirror, suites, keys), as deb-src
  if ! derive_src >"$src_list.new" || [ ! -s "$src_list.new" ]; then
    rm -f "$src_list.new"
    echo "deps: no 'deb' entry in /etc/apt/sources.list{,.d} to take a deb-src entry from; add one for Debian's archive" >&2
    exit 1
  fi
  mv "$src_list.new" "$src_list"
  echo "deps: added deb-src entries for the machine's own archives ($src_list)" >&2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if [ ${#missing[@]} -ne 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec bash "$here/arm64-libs.sh"
