#!/usr/bin/env bash
# Leaks told from blocks still reachable at exit, on both heaps: reach.c
# allocates each kind at a site of its own (see its comment), and every
# site must come out whole on its side, with exact totals.
# usage: test_track_reach.sh BUILD_DIR REACH_PROGRAM
set -uo pipefail
bin="$1/bin/reheap"
reach="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS REHEAP_TRACK_REACHABLE

# check.py REPORT.json MODE [ON_REPORT.json]: MODE is exit, spin, wait (a
# dump while the program waits) or off (REHEAP_TRACK_REACHABLE=0, whose
# totals must be the ON report's leaked plus reachable). Prints
# "LEAKED_BYTES LEAKED_BLOCKS LEAK_STACKS REACHABLE_BYTES REACHABLE_BLOCKS".
cat >"$tmp/check.py" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mode = sys.argv[2]
s = r["summary"]
# site: (bytes, blocks, reachable?)
sites = {
    "keep_global": (1000, 1, True), "make_node": (4800, 100, True),
    "keep_interior": (700, 1, True), "thread_block": (900, 1, True),
    "tls_block": (1300, 1, True), "thread_tls_block": (1500, 1, True),
    "lost_parent": (200, 1, False), "lost_child": (300, 1, False),
    "lost_small": (192, 3, False),
}
if mode in ("exit", "spin", "off"):
    sites.update({"keep_on_stack": (800, 1, True), "lost_tail": (5000, 1, False)})
if mode == "spin":
    sites["spin_block"] = (333, 1, False)  # only on the stack of a thread never scanned
if mode == "wait":
    sites["wait_block"] = (1100, 1, True)  # only on main's stack, main asleep
def site(g):
    return g["frames"][0]["function"] if g["frames"] else ""
seen = {"leaks": {}, "reachable": {}}
foreign = {"leaks": [], "reachable": []}
for part in ("leaks", "reachable"):
    for g in r[part]:
        name = site(g)
        if name in sites:
            b, n = seen[part].get(name, (0, 0))
            seen[part][name] = (b + g["bytes"], n + g["blocks"])
        else:
            foreign[part].append((name, g["bytes"], g["blocks"]))
for name, (b, n, reachable) in sites.items():
    side, other = ("reachable", "leaks") if reachable and mode != "off" else ("leaks", "reachable")
    assert seen[side].get(name) == (b, n), (mode, name, side, seen, foreign)
    assert name not in seen[other], (mode, name, "also in", other, seen)
for part in ("leaks", "reachable"):
    extra = set(seen[part]) - set(sites)
    assert not extra, extra
# the sums in the summary are those of the groups
sum_of = lambda part, k: sum(g[k] for g in r[part])
assert (s["leaked_bytes"], s["leaked_blocks"], s["leak_stacks"]) == \
    (sum_of("leaks", "bytes"), sum_of("leaks", "blocks"), len(r["leaks"])), s
assert (s["reachable_bytes"], s["reachable_blocks"]) == \
    (sum_of("reachable", "bytes"), sum_of("reachable", "blocks")), s
assert [g["bytes"] for g in r["reachable"]] == sorted((g["bytes"] for g in r["reachable"]), reverse=True)
mine_lost = sum(b for b, n, k in sites.values() if not k)
mine_reach = sum(b for b, n, k in sites.values() if k)
if mode == "off":
    assert r["reachable"] == [] and (s["reachable_bytes"], s["reachable_blocks"], s["threads_not_scanned"]) == (0, 0, 0), s
    on = json.load(open(sys.argv[3]))["summary"]
    assert s["leaked_bytes"] == on["leaked_bytes"] + on["reachable_bytes"], (s, on)
    assert s["leaked_blocks"] == on["leaked_blocks"] + on["reachable_blocks"], (s, on)
    assert s["leaked_bytes"] == mine_lost + mine_reach + sum(b for _, b, _ in foreign["leaks"]), (s, foreign)
else:
    # what the C library and the loader allocated for themselves (stdio's
    # buffer, each thread's TLS vector, the joined thread's included) is
    # reachable
    assert any(name == "_IO_file_doallocate" for name, _, _ in foreign["reachable"]), foreign
    lost = foreign["leaks"]
    assert lost == [], lost
    assert s["leaked_bytes"] == mine_lost + sum(b for _, b, _ in lost), (s, lost)
    assert s["reachable_bytes"] == mine_reach + sum(b for _, b, _ in foreign["reachable"]), s
    assert s["threads_not_scanned"] == (1 if mode == "spin" else 0), s
print(s["leaked_bytes"], s["leaked_blocks"], s["leak_stacks"], s["reachable_bytes"], s["reachable_blocks"])
PY

reach_line() { echo "reheap track: still reachable $1 bytes in $2 blocks (not leaks: referenced from globals, stacks or other reachable blocks)"; }
threads_line="reheap track: 1 threads were running and not scanned; blocks only they reference are counted as leaked"

for heap in reheap system; do
  for mode in exit spin; do
    arg=(); [ $mode = spin ] && arg=(spin)
    j="$tmp/$heap-$mode.json"
    "$bin" run --heap=$heap --track --format json --report "$j" -- "$reach" "${arg[@]}" >"$tmp/out"; rc=$?
    [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "reach: ready" ] || fail "$heap $mode: exit $rc, $(cat "$tmp/out")"
    totals=$(/usr/bin/python3 "$tmp/check.py" "$j" $mode) || { fail "$heap $mode: json report"; continue; }
    read -r lb lk ls rb rk <<<"$totals"
    [ $mode = exit ] && [ "$lb $lk $ls" != "5692 6 4" ] && fail "$heap exit: leaked $lb bytes in $lk blocks from $ls stacks, want 5692 6 4"

    # the text says the same, line for line
    t="$tmp/$heap-$mode.txt"
    "$bin" run --heap=$heap --track --report "$t" -- "$reach" "${arg[@]}" >/dev/null || fail "$heap $mode: text run"
    sed -n 2p "$t" | grep -qx "reheap track: leaked $lb bytes in $lk blocks from $ls call stacks" ||
      fail "$heap $mode: leaked line: $(sed -n 2p "$t")"
    [ "$(sed -n 3p "$t")" = "$(reach_line "$rb" "$rk")" ] || fail "$heap $mode: reachable line: $(sed -n 3p "$t")"
    if [ $mode = spin ]; then
      [ "$(sed -n 4p "$t")" = "$threads_line" ] || fail "$heap spin: threads line: $(sed -n 4p "$t")"
    else
      grep -q "not scanned" "$t" && fail "$heap exit: a thread not scanned: $(head -4 "$t")"
    fi
    # the groups listed are the lost ones only
    grep -q "^leak [0-9]*: 5000 bytes in 1 block$" "$t" || fail "$heap $mode: lost_tail not listed"
    grep -Eq "#0 0x[0-9a-f]+ (keep_global|make_node|keep_on_stack|thread_block|tls_block)\+" "$t" &&
      fail "$heap $mode: a reachable block listed as a leak"
    # folded: lost bytes only
    "$bin" run --heap=$heap --track --format folded --report "$tmp/f" -- "$reach" "${arg[@]}" >/dev/null || fail "$heap $mode: folded run"
    [ "$(awk '{s += $NF} END {print s}' "$tmp/f")" = "$lb" ] || fail "$heap $mode: folded bytes: $(cat "$tmp/f")"
  done

  # REHEAP_TRACK_REACHABLE=0: every live block a leak, as before the scan
  REHEAP_TRACK_REACHABLE=0 "$bin" run --heap=$heap --track --format json --report "$tmp/off.json" -- "$reach" >/dev/null ||
    fail "$heap off: run"
  off=$(/usr/bin/python3 "$tmp/check.py" "$tmp/off.json" off "$tmp/$heap-exit.json") || fail "$heap off: json report"
  REHEAP_TRACK_REACHABLE=0 "$bin" run --heap=$heap --track --report "$tmp/off.txt" -- "$reach" >/dev/null || fail "$heap off: text run"
  read -r lb lk _ <<<"$off"
  grep -q "^reheap track: leaked $lb bytes in $lk blocks from" "$tmp/off.txt" || fail "$heap off: $(sed -n 2p "$tmp/off.txt")"
  grep -Eq "still reachable|not scanned" "$tmp/off.txt" && fail "$heap off: reachability lines: $(head -4 "$tmp/off.txt")"
done

# suppressions match lost blocks only: a reachable block is no leak to hide
printf 'leak:lost_small\nleak:keep_global\n' >"$tmp/supp"
"$bin" run --track --suppress "$tmp/supp" --report "$tmp/supp.txt" -- "$reach" >/dev/null || fail "suppress run"
read -r _ _ _ rb rk <<<"$(/usr/bin/python3 "$tmp/check.py" "$tmp/reheap-exit.json" exit)"
[ "$(sed -n 2,4p "$tmp/supp.txt")" = "reheap track: leaked 5500 bytes in 3 blocks from 3 call stacks
reheap track: suppressed 192 bytes in 3 blocks
$(reach_line "$rb" "$rk")" ] || fail "suppress: $(sed -n 2,4p "$tmp/supp.txt")"

# reheap dump: the report written by the tracker's own thread while main
# sleeps (its stack read through /proc, its TLS from where it was at start)
"$bin" run --track --report "$tmp/wait.txt" -- "$reach" wait 3 "$tmp/ready" >/dev/null &
runner=$!
for i in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
pid=$(pgrep -n -f "$reach wait 3 $tmp/ready" || true)
if [ -z "$pid" ]; then
  fail "the waiting program was not found"
else
  "$bin" dump --format json --output "$tmp/dump.json" "$pid" || fail "dump exit $?"
  /usr/bin/python3 "$tmp/check.py" "$tmp/dump.json" wait >/dev/null || fail "dump: json report"
  "$bin" dump "$pid" >"$tmp/dump.txt" || fail "dump text exit $?"
  grep -q "^reheap track: leaked 692 bytes in 5 blocks from 3 call stacks$" "$tmp/dump.txt" ||
    fail "dump: $(head -3 "$tmp/dump.txt")"
fi
wait $runner || fail "the waiting program failed"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "track reach: all checks passed"
