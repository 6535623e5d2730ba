#!/usr/bin/env bash
# Installs, from Debian's archive, whatever reheap's build, tests and benchmarks
# need and the machine lacks. Idempotent: prints nothing when all is present.
set -euo pipefail

pkgs=(
  cmake make gcc g++ libc6-dev # build (libc6-dev: also the static libc a test links)
  libzydis-dev                # x86 decoder for the hook engine
  clang libclang-rt-14-dev    # libFuzzer for the relocator's fuzz target
  libmimalloc2.0              # comparison heaps for run --heap and make bench
  libjemalloc2
  libtcmalloc-minimal4
  python3 libpython3.11-testsuite   # demo program and its regression tests
  sqlite3 git                 # real programs the tests run under reheap
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}; run 'sudo scripts/deps.sh' or install them with apt-get" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
