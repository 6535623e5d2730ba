#!/usr/bin/env bash
# Tcl 8.6's own allocator taken over (profiles/tcl8.6): 22 files of Tcl's
# own test suite (from Debian's source package of the installed version,
# fetched once into the build tree) pass with it, with nothing refused
# (--strict), and the benchmark's script gives the same checksum as plain
# tclsh with millions of blocks on reheap's heap.
# usage: test_tcl.sh BUILD_DIR PROFILE SCRIPT
set -u
build=$(cd "$1" && pwd)
bin="$build/bin/reheap"
profile=$(realpath "$2")
script=$(realpath "$3")
src="$build/tcl-src"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

if [ ! -f "$src/tests/all.tcl" ]; then
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  (cd "$src.tmp" && apt-get source -qq --download-only tcl8.6 >/dev/null 2>&1) || {
    echo "test_tcl: cannot fetch Tcl's source (apt-get source tcl8.6); run scripts/deps.sh" >&2
    exit 1
  }
  tar -C "$src.tmp" -xzf "$src.tmp"/tcl8.6_*.orig.tar.gz || exit 1
  dir=$(find "$src.tmp" -maxdepth 1 -mindepth 1 -type d | head -1)
  rm -rf "$src" && mv "$dir" "$src" && rm -rf "$src.tmp"
fi
# the tests write scratch files beside themselves: a copy each run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests" "$work/tests"
files="dict.test list.test lindex.test lsearch.test string.test stringObj.test binary.test format.test
  split.test join.test regexp.test cmdIL.test incr.test append.test lrange.test lreplace.test obj.test
  var.test info.test proc.test namespace.test expr.test"
out=$(cd "$work/tests" && "$bin" run --strict --stats --profile "$profile" -- tclsh8.6 all.tcl -singleproc 1 \
  -file "$(echo $files)" 2>&1) || fail "Tcl's tests under the profile: exit status $?: $(tail -20 <<<"$out")"
grep -q "Total.*Failed[[:space:]]*0" <<<"$out" && grep -q "Sourced 22 Test Files" <<<"$out" ||
  fail "Tcl's tests under the profile: $(grep -E 'Total|Sourced|FAILED' <<<"$out" | head -20)"
allocs=$(sed -n 's/^reheap:   allocations *\([0-9]*\).*/\1/p' <<<"$out")
[ "${allocs:-0}" -gt 1000000 ] || fail "Tcl's tests put only ${allocs:-no} allocations on reheap's heap"

plain=$(tclsh8.6 "$script" 0.2) || fail "plain tclsh: $plain"
taken=$("$bin" run --strict --stats --profile "$profile" -- tclsh8.6 "$script" 0.2 2>&1) || fail "taken over: $taken"
[ "$(awk '/^tcl-bench:/ { print $3 }' <<<"$plain")" = "$(awk '/^tcl-bench:/ { print $3 }' <<<"$taken")" ] ||
  fail "checksums differ: '$plain' vs '$taken'"

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "tcl: all checks passed ($allocs allocations of Tcl's tests on reheap's heap)"
