#!/usr/bin/env bash
# reheap run --track --only/--except: the chosen libraries' leaks exactly,
# one loaded later by dlopen (by its bare name, through the program's
# RUNPATH) and dlclose'd before the report, named all the same; the other
# modules' calls untracked; the output unchanged; bad input refused.
# usage: test_only.sh BUILD_DIR ONLY_MAIN
set -uo pipefail
bin="$1/bin/reheap"
prog="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS

want_out=$("$prog" 5000)
for heap in reheap system; do
  r="$tmp/$heap.txt"
  out=$("$bin" run --heap=$heap --track --only 'libonly_(leak|late)\.so' --report "$r" -- "$prog" 5000) ||
    fail "$heap: exit $?"
  [ "$out" = "$want_out" ] || fail "$heap: output changed: '$out'"
  # libonly_leak: 3 blocks of 1000 lost, a string kept; libonly_late: 5 of
  # 128 lost and its kept string too (its globals went with dlclose)
  grep -q "^reheap track: allocations 19, frees 8, reallocs 0, bytes allocated 4694, .* frees of blocks not tracked 1," "$r" ||
    fail "$heap: counts: $(head -1 "$r")"
  grep -q "leaked 3667 bytes in 9 blocks from 3 call stacks" "$r" || fail "$heap: leak total: $(sed -n 2p "$r")"
  # the kept string, and the block only the program's own (untracked) block names
  grep -q "still reachable 227 bytes in 2 blocks" "$r" || fail "$heap: the kept blocks: $(sed -n 3p "$r")"
  grep -A1 "^leak 1: 3000 bytes in 3 blocks$" "$r" | grep -q "only_leak_now+0x[0-9a-f]* (.*libonly_leak.so) .*only_lib.c:" ||
    fail "$heap: leak 1 is not only_leak_now's: $(grep -A1 '^leak 1' "$r")"
  # the dlclose'd library's frames keep their names
  grep -A1 "^leak 2: 640 bytes in 5 blocks$" "$r" | grep -q "only_late_now+0x[0-9a-f]* (.*libonly_late.so)" ||
    fail "$heap: leak 2 is not only_late_now's: $(grep -A1 '^leak 2' "$r")"
  grep -A1 "^reheap track: leaked by library:" "$r" | grep -Eq "^    3000 bytes in 3 blocks  /.*/libonly_leak.so$" ||
    fail "$heap: by library: $(grep -A3 'by library' "$r")"
  grep -Eq "^    667 bytes in 6 blocks  /.*/libonly_late.so$" "$r" || fail "$heap: libonly_late's line"
  # the program's own leak and the hot library are not tracked
  grep -Eq "main\.c:1[0-9] |only_hot|777 bytes" "$r" && fail "$heap: an untracked module reported"
done

# the JSON says the same by library
"$bin" run --track --only 'libonly_(leak|late)\.so' --format json --report "$tmp/r.json" -- "$prog" 100 >/dev/null ||
  fail "json: exit $?"
/usr/bin/python3 - "$tmp/r.json" <<'PY' || fail "json by_library"
import json, sys
d = json.load(open(sys.argv[1]))
got = [(m["module"].rsplit("/", 1)[-1], m["bytes"], m["blocks"]) for m in d["by_library"]]
assert got == [("libonly_leak.so", 3000, 3), ("libonly_late.so", 667, 6)], got
assert d["summary"]["leaked_bytes"] == 3667 and d["summary"]["unknown_frees"] == 1, d["summary"]
PY

# --except: every module but those; the program's own 777 bytes then count
"$bin" run --track --except 'libonly_hot|libc\.so|libstdc' --report "$tmp/ex.txt" -- "$prog" 100 >/dev/null ||
  fail "--except: exit $?"
grep -q "leaked 4444 bytes in 10 blocks" "$tmp/ex.txt" || fail "--except: $(sed -n 2p "$tmp/ex.txt")"
grep -q "still reachable 235 bytes in 3 blocks" "$tmp/ex.txt" || fail "--except: kept: $(sed -n 3p "$tmp/ex.txt")"
grep -Eq "^    777 bytes in 1 block  /.*/only_main$" "$tmp/ex.txt" || fail "--except: the program's line"
# a module kept loaded is tracked by its GOT to the end: the same leaks
ONLY_KEEP_LATE=1 "$bin" run --track --only 'libonly_late' --report "$tmp/keep.txt" -- "$prog" 100 >/dev/null
grep -q "leaked 640 bytes in 5 blocks" "$tmp/keep.txt" || fail "kept late: $(sed -n 2p "$tmp/keep.txt")"

# refusals: one line, exit 2, the program not run
expect_refusal() { # WHAT PATTERN ARGS...
  local what="$1" pat="$2"
  shift 2
  err=$("$bin" run "$@" -- "$prog" 1 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] || fail "$what: exit $rc"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && printf '%s' "$err" | grep -q "$pat" || fail "$what: '$err'"
}
expect_refusal "bad regex" "Unmatched ( or" --track --only '('
expect_refusal "no --track" "go with --track" --only libfoo
expect_refusal "empty regex" "needs a regular expression" --track --only ''
expect_refusal "with a takeover" "do not go with a takeover" --track --only libfoo --hook 'x malloc(size)'

[ $fails -eq 0 ] && echo "track --only: ok"
exit $((fails > 0))
