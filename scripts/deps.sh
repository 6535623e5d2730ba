#!/usr/bin/env bash
# Installs, from Debian's archive, whatever reheap's build, tests and benchmarks
# need and the machine lacks. Idempotent: prints nothing when all is present.
set -euo pipefail

pkgs=(
  cmake make gcc g++ libc6-dev # build (libc6-dev: also the static libc a test links)
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
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Debian ships Zydis for 64-bit only: the 32-bit tests build it from its
# source package, which needs a deb-src entry for the same archive.
src_list=/etc/apt/sources.list.d/reheap-src.sources
need_src=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  need_src=1
fi
[ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages (${missing[*]}) or a deb-src entry; run 'sudo scripts/deps.sh'" >&2
  exit 1
fi
if [ $need_src -eq 1 ]; then
  echo "deps: adding Debian's source archive ($src_list)" >&2
  cat >"$src_list" <<EOS
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if [ ${#missing[@]} -ne 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
