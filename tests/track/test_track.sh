#!/usr/bin/env bash
# reheap run --track on a program with known leaks, on both heaps.
# usage: test_track.sh BUILD_DIR LEAKY_PROGRAM BADFREE_PROGRAM SLOW_PROGRAM NOWHERE_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
leaky="$2"
badfree="$3"
slow="$4"
nowhere="$5"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# the reports name frames from local files only
unset DEBUGINFOD_URLS

# the lines the reports must name, from the SITE comments in leaky.c
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/leaky.c"
site() { grep -n "SITE $1 \*/" "$src" | cut -d: -f1; }
L_small=$(site leak_small) L_big=$(site leak_big) L_main_small=$(site main_small)
L_main_big=$(site main_big) L_fine_malloc=$(site fine_malloc) L_fine_realloc=$(site fine_realloc)
for v in L_small L_big L_main_small L_main_big L_fine_malloc L_fine_realloc; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "FAIL: no single SITE line for $v in $src"; exit 1; }
done
at() { echo " (.*) .*tests/track/leaky\.c:$1\$"; } # a frame's module, then its file:line

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
  grep -q "invalid frees 0$" "$r" || fail "$heap: no invalid frees count: $(head -1 "$r")"
  grep -q "suppressed" "$r" && fail "$heap: a suppressed line without suppressions"
  # (under qemu-user, RH_CROSS, the emulator's own threads are the
  # process's too and cannot be scanned: that line is right there)
  lines="still reachable|not scanned"
  [ -n "${RH_CROSS:-}" ] && lines="still reachable"
  grep -Eq "$lines" "$r" &&
    fail "$heap: leaky's lost blocks called reachable: $(head -4 "$r")"
  # file:line from the debug information, for the allocation and its caller
  awk '/^leak 1:/{getline; print; exit}' "$r" | grep -Eq "^    #0 0x[0-9a-f]+ leak_big\+0x[0-9a-f]+$(at "$L_big")" ||
    fail "$heap: leak_big's frame lacks leaky.c:$L_big: $(grep -A1 '^leak 1:' "$r")"
  awk '/^leak 1:/{getline; getline; print; exit}' "$r" | grep -Eq "^    #1 0x[0-9a-f]+ main\+0x[0-9a-f]+$(at "$L_main_big")" ||
    fail "$heap: main's frame lacks leaky.c:$L_main_big: $(grep -A2 '^leak 1:' "$r")"
  [ "$(grep -Ec "#0 0x[0-9a-f]+ leak_small\+0x[0-9a-f]+$(at "$L_small")" "$r")" = \
    "$(grep -c "#0 .* leak_small+" "$r")" ] && grep -q "leak_small+" "$r" ||
    fail "$heap: leak_small's frames lack leaky.c:$L_small"
  grep -A2 "#0 .* leak_small+" "$r" | grep "#1 " | grep -Evq "main\+0x[0-9a-f]+$(at "$L_main_small")" &&
    fail "$heap: leak_small's callers lack leaky.c:$L_main_small"
done

# JSON version 2: parses, has the documented shape, and says the same as
# the text, file:line included; "allocated" has every allocating stack
"$bin" run --track --format json --report "$tmp/r.json" -- "$leaky" || fail "json run"
lines="$L_small $L_big $L_main_small $L_main_big $L_fine_malloc $L_fine_realloc"
/usr/bin/python3 - "$tmp/r.json" $lines <<'PY' || fail "json report"
import json, os, sys
r = json.load(open(sys.argv[1]))
small, big, main_small, main_big, fine_malloc, fine_realloc = map(int, sys.argv[2:])
assert list(r) == ["format", "version", "summary", "leaks", "allocated", "reachable"], list(r)
assert r["format"] == "reheap-track" and r["version"] == 2, r
s = r["summary"]
assert list(s) == ["allocations", "frees", "reallocs", "bytes_allocated", "peak_live_bytes",
                   "unknown_frees", "double_frees", "invalid_frees", "leaked_bytes",
                   "leaked_blocks", "leak_stacks", "suppressed_bytes", "suppressed_blocks",
                   "reachable_bytes", "reachable_blocks", "threads_not_scanned"], list(s)
assert all(type(v) is int for v in s.values()), s
assert (s["leaked_bytes"], s["leaked_blocks"], s["allocations"], s["frees"]) == (5300, 4, 2004, 2000), s
assert (s["bytes_allocated"], s["invalid_frees"], s["suppressed_bytes"], s["suppressed_blocks"]) == (1105300, 0, 0, 0), s
assert s["leak_stacks"] == len(r["leaks"]) and sum(l["bytes"] for l in r["leaks"]) == 5300, s
# leaky drops every pointer it had (its globals are set to NULL): nothing
# live at exit is reachable, and no thread is running then (but
# qemu-user's own, under RH_CROSS)
assert (s["reachable_bytes"], s["reachable_blocks"]) == (0, 0), s
assert s["threads_not_scanned"] == 0 or os.environ.get("RH_CROSS"), s
assert r["reachable"] == [], r["reachable"]
for group in r["leaks"] + r["allocated"] + r["reachable"]:
    assert list(group) == ["bytes", "blocks", "frames"], group
    for f in group["frames"]:
        assert list(f) == ["address", "function", "offset", "module", "file", "line"], f
        assert [type(f[k]) for k in f] == [int, str, int, str, str, int], f
for part in (r["leaks"], r["allocated"]):
    assert [g["bytes"] for g in part] == sorted((g["bytes"] for g in part), reverse=True), part
def site(f):
    return (f["function"], f["file"].endswith("tests/track/leaky.c"), f["line"])
first = r["leaks"][0]
assert (first["bytes"], first["blocks"]) == (5000, 1), first
assert site(first["frames"][0]) == ("leak_big", True, big), first["frames"][0]
assert site(first["frames"][1]) == ("main", True, main_big), first["frames"][1]
assert first["frames"][0]["module"].endswith("track_leaky"), first["frames"][0]
smalls = [l for l in r["leaks"] if l["frames"][0]["function"] == "leak_small"]
assert sum(l["bytes"] for l in smalls) == 300 and sum(l["blocks"] for l in smalls) == 3, smalls
for l in smalls:
    assert site(l["frames"][0]) == ("leak_small", True, small), l["frames"][0]
    assert site(l["frames"][1]) == ("main", True, main_small), l["frames"][1]
# allocated over the run: freed_fine's malloc(i + 1) and realloc(p, i + 100), i < 1000
n = 1000
by_line = {}
for g in r["allocated"]:
    f = g["frames"][0]
    by_line.setdefault((f["function"], f["line"]), []).append((g["bytes"], g["blocks"]))
assert by_line[("freed_fine", fine_malloc)] == [(n * (n + 1) // 2, n)], by_line
assert by_line[("freed_fine", fine_realloc)] == [(n * (n - 1) // 2 + 100 * n, n)], by_line
assert by_line[("leak_big", big)] == [(5000, 1)], by_line
assert sorted(by_line[("leak_small", small)]) == sorted((l["bytes"], l["blocks"]) for l in smalls), by_line
assert set(by_line) == {("freed_fine", fine_malloc), ("freed_fine", fine_realloc),
                        ("leak_big", big), ("leak_small", small)}, by_line
assert sum(g["bytes"] for g in r["allocated"]) == s["bytes_allocated"]
assert sum(g["blocks"] for g in r["allocated"]) == s["allocations"]
PY
# without stacks, no allocated groups, and the leaks' one group has no frames
"$bin" run --track=nostacks --format json --report "$tmp/n.json" -- "$leaky" || fail "json nostacks run"
/usr/bin/python3 - "$tmp/n.json" <<'PY' || fail "json nostacks report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["allocated"] == [] and r["leaks"] == [{"bytes": 5300, "blocks": 4, "frames": []}], r
PY
# folded: one line per stack, outermost frame first, leaked bytes last
"$bin" run --track --format folded --report "$tmp/r.folded" -- "$leaky" || fail "folded run"
grep -Eq '(^|;)main;leak_big 5000$' "$tmp/r.folded" || fail "folded: no main;leak_big 5000: $(cat "$tmp/r.folded")"
[ "$(awk '{s += $NF} END {print s}' "$tmp/r.folded")" = 5300 ] || fail "folded bytes do not add up"
"$bin" run --track --format xml -- true 2>/dev/null; [ $? -eq 2 ] || fail "--format xml accepted"
"$bin" run --track=nostacks --format folded --report "$tmp/n.folded" -- "$leaky" || fail "folded nostacks"
[ "$(cat "$tmp/n.folded")" = "[no stack] 5300" ] || fail "folded nostacks: $(cat "$tmp/n.folded")"

# folded-allocated: every allocating stack with all the bytes it allocated
# over the run, exact: freed_fine's two sites are malloc(i + 1) and
# realloc(p, i + 100) for i < 1000
"$bin" run --track --format folded-allocated --report "$tmp/a.folded" -- "$leaky" || fail "folded-allocated run"
a="$tmp/a.folded"
n=1000
grep -Eq "(^|;)main;freed_fine $((n * (n + 1) / 2))\$" "$a" || fail "folded-allocated: no freed_fine malloc total: $(cat "$a")"
grep -Eq "(^|;)main;freed_fine $((n * (n - 1) / 2 + 100 * n))\$" "$a" || fail "folded-allocated: no freed_fine realloc total"
grep -Eq '(^|;)main;leak_big 5000$' "$a" || fail "folded-allocated: no leak_big 5000"
[ "$(awk '/;leak_small /{s += $NF} END {print s}' "$a")" = 300 ] || fail "folded-allocated: leak_small not 300"
grep -Evq '(^|;)main;(freed_fine|leak_big|leak_small) [0-9]+$' "$a" && fail "folded-allocated: other lines: $(cat "$a")"
[ "$(awk '{s += $NF} END {print s}' "$a")" = 1105300 ] || fail "folded-allocated bytes do not add up to bytes allocated"
"$bin" run --track=nostacks --format folded-allocated --report "$tmp/na.folded" -- "$leaky" || fail "folded-allocated nostacks"
[ -s "$tmp/na.folded" ] && fail "folded-allocated without stacks is not empty"

# suppressions (LeakSanitizer's form) hide exactly the groups a frame of
# which they match, and count them; "allocated" is not filtered
printf '# known: leak_small leaks\n\n   \nleak:leak_small\n' >"$tmp/s1"
"$bin" run --track --suppress "$tmp/s1" --report "$tmp/s1.txt" -- "$leaky" || fail "suppress run"
grep -q "^reheap track: leaked 5000 bytes in 1 blocks from 1 call stacks$" "$tmp/s1.txt" ||
  fail "suppress: leaked line: $(sed -n 2p "$tmp/s1.txt")"
grep -q "^reheap track: suppressed 300 bytes in 3 blocks$" "$tmp/s1.txt" || fail "suppress: no suppressed line"
grep -q "^leak 1: 5000 bytes in 1 block$" "$tmp/s1.txt" || fail "suppress: leak_big gone"
grep -q "leak_small" "$tmp/s1.txt" && fail "suppress: leak_small still reported"
"$bin" run --track --suppress "$tmp/s1" --format json --report "$tmp/s1.json" -- "$leaky" || fail "suppress json run"
/usr/bin/python3 - "$tmp/s1.json" <<'PY' || fail "suppress json"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert (s["leaked_bytes"], s["leaked_blocks"], s["leak_stacks"]) == (5000, 1, 1), s
assert (s["suppressed_bytes"], s["suppressed_blocks"]) == (300, 3), s
assert [l["frames"][0]["function"] for l in r["leaks"]] == ["leak_big"], r["leaks"]
assert sum(g["bytes"] for g in r["allocated"] if g["frames"][0]["function"] == "leak_small") == 300
PY
"$bin" run --track --suppress "$tmp/s1" --format folded --report "$tmp/s1.folded" -- "$leaky" || fail "suppress folded run"
grep -Eq '(^|;)main;leak_big 5000$' "$tmp/s1.folded" && [ "$(wc -l <"$tmp/s1.folded")" = 1 ] ||
  fail "suppress folded: $(cat "$tmp/s1.folded")"
# each pattern against the text's totals: "leaked ..." and "suppressed ..."
supp_case() { # PATTERN_LINE LEAKED SUPPRESSED(or "none")
  printf '%s\n' "$1" >"$tmp/sc"
  "$bin" run --track --suppress "$tmp/sc" --report "$tmp/sc.txt" -- "$leaky" || fail "suppress '$1': run"
  grep -q "^reheap track: leaked $2 bytes" "$tmp/sc.txt" || fail "suppress '$1': $(sed -n 2p "$tmp/sc.txt")"
  if [ "$3" = none ]; then
    grep -q "suppressed" "$tmp/sc.txt" && fail "suppress '$1': something suppressed"
  else
    grep -q "^reheap track: suppressed $3 bytes" "$tmp/sc.txt" || fail "suppress '$1': $(sed -n 3p "$tmp/sc.txt")"
  fi
}
supp_case 'leak:^leak_$' 5300 none           # anchored both ends: whole names only
supp_case '^leak_big$' 300 5000              # a bare pattern
supp_case 'leak:leak_*g' 300 5000            # a star
supp_case 'leak:^eak_big' 5300 none          # anchored start
supp_case 'leak:*/tests/track/leaky.c$' 0 5300   # the source file: in every stack
supp_case 'leak:track_leaky$' 0 5300         # the module
supp_case 'leak:^/no/such/module' 5300 none
# the file is passed on by absolute path: a program that changes directory
# before it starts still finds it
(cd "$tmp" && "$bin" run --track --suppress s1 --report "$tmp/rel.txt" -- sh -c 'cd / && exec "$0"' "$leaky") ||
  fail "suppress relative run"
grep -q "^reheap track: suppressed 300 bytes in 3 blocks$" "$tmp/rel.txt" || fail "suppress by relative path: $(head -3 "$tmp/rel.txt")"
# a bad file stops the run before the program starts: one line, exit 2
printf 'leak:fine\nrace:foo\n' >"$tmp/bad.supp"
"$bin" run --track --suppress "$tmp/bad.supp" -- sh -c "touch $tmp/started" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] || fail "bad suppressions: exit $rc"
[ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "bad.supp, line 2: unknown kind" "$tmp/err" ||
  fail "bad suppressions: not one clear line: $(cat "$tmp/err")"
[ -e "$tmp/started" ] && fail "bad suppressions: the program started"
"$bin" run --track --suppress "$tmp/missing.supp" -- true 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "cannot read .*missing.supp" "$tmp/err" ||
  fail "missing suppressions file: exit $rc, $(cat "$tmp/err")"
"$bin" run --track --suppress "$tmp" -- true 2>/dev/null; [ $? -eq 2 ] || fail "a directory as suppressions file accepted"
"$bin" run --suppress "$tmp/s1" -- true 2>/dev/null; [ $? -eq 2 ] || fail "--suppress without --track accepted"
"$bin" run --track --suppress 2>/dev/null; [ $? -eq 2 ] || fail "--suppress without a file accepted"
# set by hand to a bad file, the tracker says so in one line and reports all
printf 'race:x\n' >"$tmp/bad2.supp"
REHEAP_TRACK_SUPPRESS="$tmp/bad2.supp" REHEAP_TRACK_REPORT="$tmp/env.txt" \
  LD_PRELOAD="$1/lib/libreheap_track.so" "$leaky" 2>"$tmp/err" || fail "preload with a bad file"
grep -q "^reheap: suppressions: .*bad2.supp, line 1: unknown kind .*; every leak is reported$" "$tmp/err" ||
  fail "tracker on a bad file: $(cat "$tmp/err")"
grep -q "leaked 5300 bytes" "$tmp/env.txt" || fail "tracker on a bad file: no full report"

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
  # naming the frames (libdw) leaves the program's own counts alone
  grep -q "frees of blocks never seen 0," "$tmp/bad.txt" || fail "$heap: badfree: $(grep allocations "$tmp/bad.txt")"
done

# the free of an address in no block at all (frees inside a block are in
# test_track_live.sh)
out=$("$bin" run --track --report "$tmp/nowhere.txt" -- "$nowhere"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "nowhere: still running" ] || fail "nowhere: exit $rc, '$out'"
grep -Eq "^reheap track: invalid free of 0x[0-9a-f]+ \(not inside any block reheap tracks\); the free is skipped and the program goes on$" "$tmp/nowhere.txt" ||
  fail "nowhere: $(head -3 "$tmp/nowhere.txt")"
awk '/^  freed at:/{f=1; next} f' "$tmp/nowhere.txt" | head -1 | grep -q "#0 0x[0-9a-f]* free_nowhere+" ||
  fail "nowhere: the freeing stack does not start at free_nowhere"
grep -q "allocated at" "$tmp/nowhere.txt" && fail "nowhere: an allocating stack for no block"
grep -q "invalid frees 1$" "$tmp/nowhere.txt" || fail "nowhere: not counted"

# a death the tracker cannot see coming (a raw exit_group) leaves one line
# saying why there is no report (_exit, abort and signals: test_track_live.sh)
"$bin" run --track -- "${bin%/*}/rh_test_ender" exit_group 5 2>"$tmp/err"; rc=$?
[ $rc -eq 5 ] || fail "exit_group status $rc"
grep -q "no track report: .* ended without running its exit handlers" "$tmp/err" || fail "exit_group: no line: $(cat "$tmp/err")"
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
