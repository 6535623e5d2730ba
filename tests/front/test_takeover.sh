#!/usr/bin/env bash
# Taking over a program's own allocator (x86-64): a profile sends every
# function of the test's legacy heap to reheap's, blocks made before the
# takeover stay with their heap, and a profile that cannot be applied
# changes nothing.
# usage: test_takeover.sh BUILD_DIR PROGRAM PROFILE
set -u
bin="$1/bin/reheap"
prog="$2"
profile="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# without reheap, and with reheap swapping malloc only: its own heap serves
out=$("$prog" own) || fail "alone: $out"
out=$("$bin" run -- "$prog" own) || fail "reheap run without a profile: $out"

# the takeover: every block from reheap's heap, the early ones its own
out=$("$bin" run --profile "$profile" -- "$prog" takeover 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] || fail "takeover: exit $rc: $out $(cat "$tmp/err")"
grep -q "ok, 2000 of 2000 from reheap, 0 own allocs, 10 own frees" <<<"$out" || fail "takeover: $out"
[ -s "$tmp/err" ] && fail "takeover said something: $(cat "$tmp/err")"
# at exit, with none of reheap's blocks live, every function is put back
# as it was built (the library checks, from its destructor, which runs
# after reheap's)
out=$(LH_REPORT_AT_EXIT=1 "$bin" run --profile "$profile" -- "$prog" takeover 2>"$tmp/err") ||
  fail "takeover, exit check: $out $(cat "$tmp/err")"
[ "$(cat "$tmp/err")" = "liblegacy_heap at exit: 6 of 6 functions as built, 2 of 2 pointers as set" ] ||
  fail "takeover: not put back at exit: $(cat "$tmp/err")"
# with a block of reheap's live that the library frees in its own teardown,
# they stay patched, and that free is served
out=$(LH_KEEP_ONE=1 LH_REPORT_AT_EXIT=1 "$bin" run --profile "$profile" -- "$prog" takeover 2>"$tmp/err") ||
  fail "takeover, block kept for exit: $out $(cat "$tmp/err")"
[ "$(cat "$tmp/err")" = "liblegacy_heap at exit: 0 of 6 functions as built, 2 of 2 pointers as set" ] ||
  fail "takeover with a live block: $(cat "$tmp/err")"
# under --track the program's own allocator is tracked too (the tracker
# holds the takeover), with stacks from the program's own caller
out=$("$bin" run --track --format folded-allocated --report "$tmp/alloc.folded" --profile "$profile" -- \
  "$prog" takeover) || fail "tracked takeover: $out"
grep -q "ok, 2000 of 2000 from reheap" <<<"$out" || fail "tracked takeover: $out"
bytes=$(awk '$1 ~ /(^|;)main$/ {s += $NF} END {print s + 0}' "$tmp/alloc.folded")
[ "$bytes" -gt 2900000 ] || fail "tracked takeover: $bytes bytes from main through the entries: $(cat "$tmp/alloc.folded")"
"$bin" run --track --report "$tmp/track.txt" --profile "$profile" -- "$prog" takeover >/dev/null
grep -q "frees of blocks never seen 0, double frees 0, invalid frees 0" "$tmp/track.txt" &&
  grep -q "leaked 0 bytes in 0 blocks" "$tmp/track.txt" || fail "tracked takeover report: $(head -2 "$tmp/track.txt")"

# on the system heap, through the tracker: the same blocks, served by
# glibc's malloc and tracked, with stacks from the program's own caller
# (the entries are in the tracker's library, whose frames it leaves out)
out=$("$bin" run --heap=system --track --format folded-allocated --report "$tmp/sys.folded" \
  --profile "$profile" -- "$prog" takeover 2>"$tmp/err") || fail "system heap takeover: $out $(cat "$tmp/err")"
grep -q "ok, 2000 of 2000 from reheap, 0 own allocs, 10 own frees" <<<"$out" || fail "system heap takeover: $out"
bytes=$(awk '$1 ~ /(^|;)main$/ {s += $NF} END {print s + 0}' "$tmp/sys.folded")
[ "$bytes" -gt 2900000 ] || fail "system heap takeover: $bytes bytes from main: $(cat "$tmp/sys.folded")"
"$bin" run --heap=system --track --report "$tmp/sys.txt" --profile "$profile" -- "$prog" takeover >/dev/null
grep -q "frees of blocks never seen 0, double frees 0, invalid frees 0" "$tmp/sys.txt" ||
  fail "system heap takeover report: $(head -1 "$tmp/sys.txt")"
out=$("$bin" run --heap=system --profile "$profile" -- "$prog" own 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "add --track" <<<"$out" || fail "system heap without --track: exit $rc: $out"

# reheap stat on it: active, patched, the functions' names, blocks
"$bin" run --profile "$profile" -- "$prog" takeover "$tmp/ready" >/dev/null &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$prog takeover $tmp/ready" || true)
if [ -z "$pid" ]; then
  fail "lingering program not found"
else
  out=$("$bin" stat "$pid"); rc=$?
  [ $rc -eq 0 ] || fail "stat exit $rc: $out"
  grep -q "^reheap stat $pid: active on reheap's heap, patched 6 functions (liblegacy_heap.so!lh_alloc, liblegacy_heap.so!lh_free, lh_size, lh_realloc, lh_heap_alloc, lh_heap_free), allocations [0-9]*, frees [0-9]*" <<<"$out" ||
    fail "stat: $out"
  n=$(sed -n 's/.*allocations \([0-9]*\),.*/\1/p' <<<"$out")
  [ "${n:-0}" -ge 2000 ] || fail "stat: allocations $n below the program's 2000"
fi
wait $runner || fail "lingering takeover failed"
# a run that swaps malloc only: active, not patched
"$bin" run -- "$prog" own "$tmp/ready2" >/dev/null &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready2" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$prog own $tmp/ready2" || true)
out=$("$bin" stat "$pid" 2>&1)
grep -q "^reheap stat $pid: active on reheap's heap, not patched" <<<"$out" || fail "stat, not patched: $out"
wait $runner || fail "lingering own run failed"

# a refused profile: reheap stat says so, and why
"$bin" run --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- "$prog" own "$tmp/ready4" \
  >/dev/null 2>&1 &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready4" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$prog own $tmp/ready4" || true)
out=$("$bin" stat "$pid" 2>&1)
grep -q "^reheap stat $pid: active on reheap's heap, refused: line 2, lh_free: its first bytes differ" <<<"$out" ||
  fail "stat, refused: $out"
wait $runner || fail "lingering refused run failed"

# tracked, on the system heap: the tracker's status page says so, and
# which functions are patched, before its counters
"$bin" run --heap=system --track --report /dev/null --profile "$profile" -- "$prog" takeover "$tmp/ready3" >/dev/null &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready3" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$prog takeover $tmp/ready3" || true)
out=$("$bin" stat "$pid" 2>&1)
grep -q "^reheap stat $pid: active on the system heap, patched 6 functions (liblegacy_heap.so!lh_alloc, .*lh_heap_free)$" <<<"$out" &&
  grep -q "^reheap stat $pid: allocations [0-9]*, frees" <<<"$out" || fail "stat, system heap tracked: $out"
wait $runner || fail "lingering tracked system-heap run failed"

# the allocator's table switched instead of its code (*TARGET): calls
# through the pointers are reheap's, its code untouched; at exit the
# pointers are as the library set them
out=$(LH_REPORT_AT_EXIT=1 "$bin" run --hook '*lh_alloc_ptr malloc(size)' --hook '*liblegacy_heap.so!lh_free_ptr free(ptr)' \
  -- "$prog" pointers 2>"$tmp/err") || fail "pointer slots: $out $(cat "$tmp/err")"
grep -q "pointers: ok, 500 of 500 from reheap, 0 own allocs, code untouched" <<<"$out" || fail "pointer slots: $out"
[ "$(cat "$tmp/err")" = "liblegacy_heap at exit: 6 of 6 functions as built, 2 of 2 pointers as set" ] ||
  fail "pointer slots at exit: $(cat "$tmp/err")"
# a slot must be writable and hold a function
"$bin" run --hook '*lh_alloc malloc(size)' --hook 'lh_free free(ptr)' -- "$prog" own >/dev/null 2>"$tmp/err" ||
  fail "slot in code: the program failed"
grep -q "line 1, \*lh_alloc: .* is not an aligned, writable place for a function pointer" "$tmp/err" ||
  fail "slot in code: $(cat "$tmp/err")"

# the same from --hook specs, from another directory (the profile path is made absolute)
out=$(cd / && "$bin" run --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr)' \
  --hook 'lh_size usable_size(ptr)' --hook 'lh_realloc realloc(ptr,size)' \
  --hook 'lh_heap_alloc malloc(_,size)' --hook 'lh_heap_free free(_,ptr)' -- "$prog" takeover) ||
  fail "--hook takeover: $out"

# a wrong expected byte: nothing patched, one line, the program on its own heap
out=$("$bin" run --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- "$prog" own \
  2>"$tmp/err") || fail "wrong bytes: the program failed: $out $(cat "$tmp/err")"
grep -q "profile refused, nothing patched" "$tmp/err" && grep -q "line 2, lh_free: its first bytes differ" "$tmp/err" ||
  fail "wrong bytes: $(cat "$tmp/err")"
# a symbol that is not there: refused with its name
out=$("$bin" run --hook 'no_such_fn malloc(size)' --hook 'lh_free free(ptr)' -- "$prog" own 2>"$tmp/err") ||
  fail "missing symbol: the program failed: $out"
grep -q "line 1, no_such_fn: no loaded module defines it" "$tmp/err" || fail "missing symbol: $(cat "$tmp/err")"
# a module that is not loaded
"$bin" run --hook 'libnothere.so!f malloc(size)' --hook 'lh_free free(ptr)' -- "$prog" own >/dev/null 2>"$tmp/err" ||
  fail "missing module: the program failed"
grep -q "module libnothere.so is not loaded" "$tmp/err" || fail "missing module: $(cat "$tmp/err")"

# the summary says it was refused, and why
"$bin" run --stats --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- "$prog" own \
  >/dev/null 2>"$tmp/err" || fail "refused, --stats: the program failed"
grep -q "takeover        refused: line 2, lh_free: its first bytes differ" "$tmp/err" ||
  fail "refused, --stats: the summary does not say so: $(cat "$tmp/err")"
# --strict (or REHEAP_STRICT=1): a refusal ends the program before its main, status 2
for how in --strict REHEAP_STRICT=1; do
  if [ "$how" = --strict ]; then
    "$bin" run --strict --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- "$prog" own \
      >"$tmp/out" 2>"$tmp/err"
  else
    REHEAP_STRICT=1 "$bin" run --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- \
      "$prog" own >"$tmp/out" 2>"$tmp/err"
  fi
  rc=$?
  [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "line 2, lh_free: its first bytes differ.*--strict" "$tmp/err" ||
    fail "$how: status $rc, out '$(cat "$tmp/out")', err '$(cat "$tmp/err")'"
done
# and --stats still says why, though the process ended before any destructor
"$bin" run --strict --stats --hook 'lh_alloc malloc(size)' --hook 'lh_free free(ptr) expect=00 11 22' -- \
  "$prog" own >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "takeover        refused: line 2, lh_free: its first bytes differ" "$tmp/err" ||
  fail "--strict --stats: status $rc, $(cat "$tmp/err")"
# a profile that applies runs as ever under --strict
out=$("$bin" run --strict --profile "$profile" -- "$prog" takeover 2>&1) && grep -q "takeover_prog: ok" <<<"$out" ||
  fail "--strict, a good profile: $out"

# mistakes in a profile stop the run before the program starts: file, line, column
printf 'lh_alloc malloc(size)\nlh_free fre(ptr)\n' >"$tmp/bad.profile"
"$bin" run --profile "$tmp/bad.profile" -- "$prog" own >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] || fail "bad profile: exit $rc"
grep -q "^reheap: $tmp/bad.profile:2:9: 'fre' is not a role" "$tmp/err" || fail "bad profile: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "bad profile: the program ran"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "bad profile: more than one line"
"$bin" run --hook 'lh_alloc malloc(size) thiscall' -- "$prog" own 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "reheap: --hook:1:23: thiscall is a 32-bit x86 convention" "$tmp/err" ||
  fail "thiscall on x86-64: exit $rc, $(cat "$tmp/err")"
"$bin" run --profile /nonexistent -- "$prog" own 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot read the profile /nonexistent" "$tmp/err" || fail "missing profile: $(cat "$tmp/err")"
"$bin" run --hook 'lh_alloc malloc(size)' -- "$prog" own 2>"$tmp/err"; rc=$?
grep -q "allocates but has no free" "$tmp/err" || fail "malloc without free: $(cat "$tmp/err")"

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "takeover: all checks passed"
