#!/usr/bin/env bash
# reheap run --track on a program with known leaks, on both heaps.
# usage: test_track.sh BUILD_DIR LEAKY_PROGRAM BADFREE_PROGRAM SLOW_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
leaky="$2"
badfree="$3"
slow="$4"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for heap in reheap system; do
  "$bin" run --heap=$heap --track --report "$tmp/$heap.txt" -- "$leaky"; rc=$?
  [ $rc -eq 0 ] || fail "$heap: exit $rc"
  r="$tmp/$heap.txt"
  [ "$(stat -c %a "$r")" = 600 ] || fail "$heap: report mode $(stat -c %a "$r")"
  grep -q "leaked 5300 bytes in 4 blocks" "$r" || fail "$heap: wrong leak total: $(head -2 "$r")"
  grep -q "allocations 2004, frees 2000, reallocs 1000" "$r" || fail "$heap: wrong counts: $(head -1 "$r")"
  # the biggest leak first, at its function
  awk '/^leak 1:/{getline; print; exit}' "$r" | grep -q "leak_big" || fail "$heap: leak 1 is not leak_big"
  grep -q "^leak 1: 5000 bytes in 1 block$" "$r" || fail "$heap: leak_big not 5000 bytes in 1 block"
  # leak_small's three blocks: 300 bytes, whatever their call sites in main
  small=$(awk '/^leak [0-9]+:/{b=$3; n=$6} /leak_small/{s+=b; c+=n} END{print s, c}' "$r")
  [ "$small" = "300 3" ] || fail "$heap: leak_small gives '$small', want '300 3'"
  grep -q freed_fine "$r" && fail "$heap: freed blocks reported as leaks"
done

# JSON: parses, and says the same as the text
"$bin" run --track --format json --report "$tmp/r.json" -- "$leaky" || fail "json run"
/usr/bin/python3 - "$tmp/r.json" <<'PY' || fail "json report"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert r["format"] == "reheap-track" and r["version"] == 1, r
assert (s["leaked_bytes"], s["leaked_blocks"], s["allocations"], s["frees"]) == (5300, 4, 2004, 2000), s
first = r["leaks"][0]
assert (first["bytes"], first["blocks"]) == (5000, 1), first
assert first["frames"][0]["function"] == "leak_big", first["frames"][0]
assert sum(l["bytes"] for l in r["leaks"] if l["frames"][0]["function"] == "leak_small") == 300
PY
# folded: one line per stack, outermost frame first, leaked bytes last
"$bin" run --track --format folded --report "$tmp/r.folded" -- "$leaky" || fail "folded run"
grep -Eq '(^|;)main;leak_big 5000$' "$tmp/r.folded" || fail "folded: no main;leak_big 5000: $(cat "$tmp/r.folded")"
[ "$(awk '{s += $NF} END {print s}' "$tmp/r.folded")" = 5300 ] || fail "folded bytes do not add up"
"$bin" run --track --format xml -- true 2>/dev/null; [ $? -eq 2 ] || fail "--format xml accepted"

# without stacks: the same totals, one group
"$bin" run --track=nostacks --report "$tmp/nostacks.txt" -- "$leaky" || fail "nostacks run"
grep -q "leaked 5300 bytes in 4 blocks from 1 call stacks" "$tmp/nostacks.txt" || fail "nostacks totals"

# a symlink planted at the report's name is not followed
ln -s "$tmp/victim" "$tmp/planted"
"$bin" run --track --report "$tmp/planted" -- "$leaky" 2>"$tmp/err" || fail "run with planted link"
[ -e "$tmp/victim" ] && fail "the report followed a planted symlink"
grep -q "must not be a symbolic link" "$tmp/err" || fail "no word about the planted link"
grep -q "leaked 5300 bytes" "$tmp/err" || fail "report not on stderr after refusing the link"

# a double free is reported with both stacks, skipped, and the program goes on
for heap in reheap system; do
  out=$("$bin" run --heap=$heap --track --report "$tmp/bad.txt" -- "$badfree"); rc=$?
  [ $rc -eq 0 ] || fail "$heap: badfree exit $rc"
  [ "$out" = "badfree: still running" ] || fail "$heap: badfree did not go on: '$out'"
  grep -q "double free of 0x[0-9a-f]* (77 bytes)" "$tmp/bad.txt" || fail "$heap: no double free report"
  awk '/freed again at:/{f=1} /allocated at:/{f=0} f' "$tmp/bad.txt" | grep -q free_twice ||
    fail "$heap: the freeing stack does not name free_twice"
  awk '/allocated at:/{a=1} a' "$tmp/bad.txt" | grep -q make_block ||
    fail "$heap: the allocating stack does not name make_block"
  grep -q "double frees 1" "$tmp/bad.txt" || fail "$heap: double free not counted"
done

# a program that leaves without its exit handlers: one line says why there
# is no report, and its status passes through
"$bin" run --track -- /usr/bin/python3 -c 'import os; os._exit(3)' 2>"$tmp/err"; rc=$?
[ $rc -eq 3 ] || fail "_exit status $rc"
grep -q "no track report: .* ended without running its exit handlers" "$tmp/err" || fail "_exit: no line"
"$bin" run --track -- /usr/bin/python3 -c 'import os; os.abort()' 2>"$tmp/err"; rc=$?
[ $rc -eq 134 ] || fail "abort status $rc"
grep -q "no track report: .* killed by signal 6" "$tmp/err" || fail "abort: no line: $(cat "$tmp/err")"
"$bin" run --track --report "$tmp/ok.txt" -- "$leaky" 2>"$tmp/err" || fail "leaky run"
grep -q "no track report" "$tmp/err" && fail "a line about a missing report that is there"

# reheap stat reads a running program's live counters
"$bin" run --track --report "$tmp/slow.txt" -- "$slow" 3 "$tmp/ready" &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$slow 3 $tmp/ready" || true)
if [ -z "$pid" ]; then
  fail "slow program not found"
else
  out=$("$bin" stat "$pid"); rc=$?
  [ $rc -eq 0 ] || fail "stat exit $rc"
  # 150 blocks of the program and the FILE of its fopen, 50 freed and the FILE
  grep -q "allocations 151, frees 51," <<<"$out" && grep -q "live 100 blocks" <<<"$out" ||
    fail "stat counters: $out"
  shm=$(ls /dev/shm/reheap."$pid".counters /tmp/reheap."$pid".counters 2>/dev/null | head -1)
  [ -n "$shm" ] && [ "$(stat -c %a "$shm")" = 600 ] || fail "counters file missing or not 0600"
fi
wait $runner || fail "slow program failed"
[ -z "${shm:-}" ] || [ ! -e "$shm" ] || fail "counters file left behind after exit"
"$bin" stat 999999 2>"$tmp/err"; [ $? -eq 1 ] || fail "stat of no such process"
grep -q "no live counters for process 999999" "$tmp/err" || fail "stat: no clear line"
"$bin" stat 2>/dev/null; [ $? -eq 2 ] || fail "stat without PID"
"$bin" stat abc 2>/dev/null; [ $? -eq 2 ] || fail "stat abc"

# a device as the report (/dev/null) is written as it is, its rights untouched
mode=$(stat -c %a /dev/null)
"$bin" run --track --report /dev/null -- "$leaky" || fail "report to /dev/null"
[ "$(stat -c %a /dev/null)" = "$mode" ] || fail "/dev/null's mode changed to $(stat -c %a /dev/null)"

# usage errors
"$bin" run --track=sometimes -- true 2>/dev/null; [ $? -eq 2 ] || fail "--track=sometimes accepted"
"$bin" run --depth 3 -- true 2>/dev/null; [ $? -eq 2 ] || fail "--depth without --track accepted"
"$bin" run --track --depth 0 -- true 2>/dev/null; [ $? -eq 2 ] || fail "--depth 0 accepted"
# the program's status passes through
"$bin" run --track -- sh -c 'exit 9' 2>/dev/null; [ $? -eq 9 ] || fail "status not passed through"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "track: all checks passed"
