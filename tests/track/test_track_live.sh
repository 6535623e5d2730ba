#!/usr/bin/env bash
# The tracker in the situations a program gets itself into: frees of
# addresses that are no block's start, blocks freed by another thread, a
# report asked of a running program (`reheap dump`), and endings that skip
# the exit handlers (_exit, abort, a signal).
# usage: test_track_live.sh BUILD_DIR BADFREE SLOW NOFP
set -u
bin="$1/bin/reheap"
badfree="$2"
slow="$3"
nofp="$4"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for heap in reheap system; do
  # interior and misaligned frees, and a realloc of an interior address:
  # each reported with where it happened and where the block came from
  r="$tmp/inside-$heap.txt"
  out=$("$bin" run --heap=$heap --track --report "$r" -- "$badfree" inside); rc=$?
  [ $rc -eq 0 ] && [ "$out" = "badfree: still running" ] || fail "$heap: inside: exit $rc, '$out'"
  grep -q "invalid free of 0x[0-9a-f]* (32 bytes into a block of 100 bytes at 0x" "$r" ||
    fail "$heap: the free 32 bytes in is not reported: $(cat "$r")"
  grep -q "invalid free of 0x[0-9a-f]* (3 bytes into a block of 100 bytes" "$r" ||
    fail "$heap: the misaligned free is not reported"
  grep -q "invalid free of 0x[0-9a-f]* (48 bytes into a block of 100 bytes" "$r" ||
    fail "$heap: the realloc 48 bytes in is not reported"
  [ "$(grep -c 'the block was allocated at:' "$r")" = 3 ] || fail "$heap: not every report has the block's stack"
  awk '/freed at:/{f=1} /allocated at:/{f=0} f' "$r" | grep -q free_inside ||
    fail "$heap: the freeing stack does not name free_inside"
  awk '/freed at:/{f=1} /allocated at:/{f=0} f' "$r" | grep -q realloc_inside ||
    fail "$heap: the reallocating stack does not name realloc_inside"
  awk '/allocated at:/{a=1} a' "$r" | grep -q make_big_block ||
    fail "$heap: the block's stack does not name make_big_block"
  grep -q "double frees 0, invalid frees 3" "$r" || fail "$heap: invalid frees not counted: $(head -1 "$r")"
  # the block itself was freed well afterwards: not a leak, not unknown
  # (stdout's buffer is the one block left)
  awk '/^leak [0-9]+:/{l=1} l' "$r" | grep -q make_big_block && fail "$heap: inside: the block leaked"
  grep -q "frees of blocks never seen 0" "$r" || fail "$heap: inside: a free went unrecognised"

  # blocks freed by another thread are found and forgotten
  r="$tmp/threads-$heap.txt"
  out=$("$bin" run --heap=$heap --track=nostacks --report "$r" -- "$badfree" threads); rc=$?
  [ $rc -eq 0 ] || fail "$heap: threads: exit $rc"
  # (two blocks of the C library's stay: stdout's buffer, the thread's)
  grep -q "frees of blocks never seen 0, double frees 0, invalid frees 0" "$r" &&
    awk '/^reheap track: allocations/{f = $6 + 0} /^reheap track: leaked/{b = $7 + 0}
         END {exit !(f >= 10000 && b <= 2)}' "$r" || fail "$heap: cross-thread frees: $(head -2 "$r")"
done

# code without frame pointers: the DWARF unwinder still finds the whole
# stack, with file:line
for heap in reheap system; do
  "$bin" run --heap=$heap --track=dwarf --report "$tmp/dwarf.txt" -- "$nofp" >/dev/null || fail "$heap: nofp exit $?"
  stack=$(awk '/^leak [0-9]+: 1001 bytes in 1 block/{l=1; next} /^leak/{l=0} l' "$tmp/dwarf.txt")
  for f in inner middle outer main; do
    grep -q " $f+0x[0-9a-f]* .*nofp.c:[0-9]" <<<"$stack" || fail "$heap: --track=dwarf misses $f: $stack"
  done
done
"$bin" run --track=dwarves -- "$nofp" 2>/dev/null; [ $? -eq 2 ] || fail "--track=dwarves: not exit 2"

# endings without exit handlers still leave the report, and the status
# passes through
ender="${bin%/*}/rh_test_ender"
"$bin" run --track --report "$tmp/exit.txt" -- "$ender" _exit 3; rc=$?
[ $rc -eq 3 ] || fail "_exit status $rc"
grep -q "^reheap track: leaked [0-9]* bytes" "$tmp/exit.txt" || fail "_exit: no report"
"$bin" run --track --report "$tmp/abort.txt" -- "$ender" abort; rc=$?
[ $rc -eq 134 ] || fail "abort status $rc"
grep -q "^reheap track: leaked [0-9]* bytes" "$tmp/abort.txt" || fail "abort: no report"
"$bin" run --track --report "$tmp/term.txt" -- "$ender" signal TERM; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM status $rc"
grep -q "^reheap track: leaked [0-9]* bytes" "$tmp/term.txt" || fail "SIGTERM: no report"
# the tracker's handlers are out of the program's sight: a program finds
# SIGINT at its default and puts in its own, which is then called
out=$("$bin" run --track --report "$tmp/int.txt" -- "$ender" sigint); rc=$?
[ $rc -eq 0 ] && [ "$out" = interrupted ] || fail "a program's SIGINT under the tracker: exit $rc, '$out'"
# and Python's: Ctrl-C is KeyboardInterrupt (python3 is a program of the
# machine's: not in a cross build's tests)
if [ -z "${RH_CROSS:-}" ]; then
  out=$("$bin" run --track --report "$tmp/py.txt" -- /usr/bin/python3 -c '
import os, signal, time
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
except KeyboardInterrupt:
    print("interrupted")'); rc=$?
  [ $rc -eq 0 ] && [ "$out" = interrupted ] || fail "Python's SIGINT under the tracker: exit $rc, '$out'"
fi
# SIGKILL cannot be caught: a line says so
"$bin" run --track --report "$tmp/kill.txt" -- "$ender" signal KILL 2>"$tmp/err"; rc=$?
[ $rc -eq 137 ] || fail "SIGKILL status $rc"
grep -q "no track report: .* killed by signal 9" "$tmp/err" || fail "SIGKILL: no line: $(cat "$tmp/err")"

# reheap dump: the report of a running program, which goes on unharmed
"$bin" run --track --report "$tmp/slow.txt" -- "$slow" 4 "$tmp/ready" &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$slow 4 $tmp/ready" || true)
if [ -z "$pid" ]; then
  fail "slow program not found"
else
  # the size histogram: 150 blocks of 1000 bytes are in [512, 1024)
  "$bin" stat "$pid" | grep -q "^reheap stat sizes: .*512 B+ 150" || fail "stat sizes: $("$bin" stat "$pid")"
  out=$("$bin" dump "$pid"); rc=$?
  [ $rc -eq 0 ] || fail "dump exit $rc"
  # the program keeps its 100 blocks in a static array: reachable, not lost
  grep -q "leaked 0 bytes in 0 blocks" <<<"$out" &&
    grep -q "still reachable 100000 bytes in 100 blocks" <<<"$out" || fail "dump: $out"
  "$bin" dump --format json --output "$tmp/dump.json" "$pid" || fail "dump --output exit $?"
  [ "$(stat -c %a "$tmp/dump.json")" = 600 ] || fail "dump file mode $(stat -c %a "$tmp/dump.json")"
  python3 - "$tmp/dump.json" <<'EOF' || fail "dump json"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
assert s["leaked_blocks"] == 0 and s["reachable_blocks"] == 100 and s["reachable_bytes"] == 100000, s
g = d["reachable"][0]
assert g["blocks"] == 100 and any(f["function"] == "main" for f in g["frames"]), g
EOF
  # a planted symbolic link is refused, and its target left alone
  echo keep >"$tmp/target"
  ln -s "$tmp/target" "$tmp/planted"
  "$bin" dump --output "$tmp/planted" "$pid" 2>"$tmp/err" && fail "dump through a symlink succeeded"
  [ "$(cat "$tmp/target")" = keep ] || fail "dump wrote through a planted symlink"
  grep -q "could not create" "$tmp/err" || fail "dump symlink: no line: $(cat "$tmp/err")"
  # usage errors
  "$bin" dump 2>/dev/null; [ $? -eq 2 ] || fail "dump without PID: not exit 2"
  "$bin" dump --format xml "$pid" 2>/dev/null; [ $? -eq 2 ] || fail "dump --format xml: not exit 2"
  "$bin" dump 1 2>"$tmp/err"; [ $? -eq 1 ] && grep -q "no live counters for process 1" "$tmp/err" ||
    fail "dump of an untracked process: $(cat "$tmp/err")"
fi
wait $runner || fail "slow program failed after the dumps"
grep -q "leaked 0 bytes in 0 blocks" "$tmp/slow.txt" || fail "slow program's exit report: $(head -2 "$tmp/slow.txt")"
grep -q "frees of blocks never seen 0" "$tmp/slow.txt" || fail "the dumps disturbed the counts: $(head -1 "$tmp/slow.txt")"

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "track live: all checks passed"
