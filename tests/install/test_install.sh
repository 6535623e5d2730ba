#!/usr/bin/env bash
# make install into a temporary prefix, moved afterwards (an install must
# not depend on where it was first put), then: programs built against it
# with pkg-config and with find_package(reheap), the installed reheap
# running a program on its own libraries and tracking it, the man pages
# rendering without a warning, and the bash completion's answers.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/pfx"
pfx=$tmp/pfx
for f in bin/reheap lib/libreheap.so lib/libreheap_track.so lib/libreheap_track_got.so lib/libreheap.a lib/libreheap_hook.a \
  include/reheap/alloc.h lib/pkgconfig/reheap.pc lib/cmake/reheap/reheapConfig.cmake \
  share/man/man1/reheap.1 share/man/man5/reheap-profile.5 share/bash-completion/completions/reheap \
  share/reheap/profiles/tcl8.6; do
  [ -e "$pfx/$f" ] || fail "make install did not put $f"
done

# pkg-config
export PKG_CONFIG_PATH=$pfx/lib/pkgconfig
c=$src/tests/install/consumer
mkdir "$tmp/pc"
# shellcheck disable=SC2046
cc -o "$tmp/pc/use_shared" "$c/use_shared.c" $(pkg-config --cflags --libs reheap)
cc -o "$tmp/pc/use_static" "$c/use_static.c" $(pkg-config --cflags --libs reheap-static)
cc -o "$tmp/pc/use_hook" "$c/use_hook.c" $(pkg-config --cflags --libs reheap-hook)
[ "$(LD_LIBRARY_PATH=$pfx/lib "$tmp/pc/use_shared")" = "shared ok" ] || fail "pkg-config reheap: use_shared"
[ "$("$tmp/pc/use_static")" = "static ok" ] || fail "pkg-config reheap-static: use_static"
[ "$("$tmp/pc/use_hook")" = "hook ok" ] || fail "pkg-config reheap-hook: use_hook"
readelf -d "$tmp/pc/use_shared" | grep -q 'NEEDED.*\[libreheap.so\]' || fail "use_shared does not need libreheap.so"

# find_package(reheap)
cmake -S "$c" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$pfx" >/dev/null || fail "find_package(reheap) failed"
cmake --build "$tmp/cm" >/dev/null || fail "the find_package consumer does not build"
[ "$("$tmp/cm/use_shared")" = "shared ok" ] || fail "reheap::reheap: use_shared"
[ "$("$tmp/cm/use_static")" = "static ok" ] || fail "reheap::reheap_static: use_static"
[ "$("$tmp/cm/use_hook")" = "hook ok" ] || fail "reheap::hook: use_hook"
# a version newer than the one installed is refused
mkdir "$tmp/v"
cat >"$tmp/v/CMakeLists.txt" <<'EOS'
cmake_minimum_required(VERSION 3.25)
project(v C)
find_package(reheap 99 REQUIRED)
EOS
if cmake -S "$tmp/v" -B "$tmp/v/b" -DCMAKE_PREFIX_PATH="$pfx" >/dev/null 2>&1; then
  fail "find_package(reheap 99) accepted version $(sed -n 's/.*PACKAGE_VERSION "\(.*\)".*/\1/p' \
    "$pfx/lib/cmake/reheap/reheapConfigVersion.cmake")"
fi

# the installed reheap uses the installed libraries, wherever they were moved
maps=$("$pfx/bin/reheap" run -- cat /proc/self/maps)
grep -q "$pfx/lib/libreheap.so" <<<"$maps" || fail "reheap run did not load $pfx/lib/libreheap.so"
"$pfx/bin/reheap" run --track --report "$tmp/leaks.txt" -- sh -c 'exit 0' || fail "installed reheap run --track"
grep -q "leaked" "$tmp/leaks.txt" || fail "the installed tracker wrote no report"
"$pfx/bin/reheap" run --hook 'nothing_here mallocx(size)' -- true 2>"$tmp/err" && fail "a bad spec was accepted"
[ -s "$tmp/err" ] || fail "a bad spec gave no message"

# man pages: rendered, no warning
for m in "$pfx/share/man/man1/reheap.1" "$pfx/share/man/man5/reheap-profile.5"; do
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" 2>&1 >/dev/null)
  [ -z "$out" ] || fail "man $m: $out"
  LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$m" 2>/dev/null | grep -q "SEE ALSO" || fail "man $m renders empty"
done

# bash completion
# shellcheck disable=SC1091
source "$pfx/share/bash-completion/completions/reheap"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _reheap; echo "${COMPREPLY[*]}"; }
[ "$(complete_words reheap r)" = "run report" ] && [ "$(complete_words reheap de)" = "detach" ] || fail "completion of 'reheap r': $(complete_words reheap r)"
[ "$(complete_words reheap run --heap = j)" = "jemalloc" ] || fail "completion of --heap=j"
[ "$(complete_words reheap report --format f)" = "folded folded-allocated" ] || fail "completion of report --format"
[[ " $(complete_words reheap run --st) " == *" --stats "* ]] || fail "completion of run --st"
echo "install: ok ($pfx moved from its first prefix)"
