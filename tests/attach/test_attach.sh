#!/usr/bin/env bash
# reheap attach and detach on running programs: a threaded C program under
# load (which forks children all along) and python3 allocating through
# malloc, CYCLES attach/detach cycles each (100 unless REHEAP_ATTACH_CYCLES
# says): no crash, their output unchanged, a leak made after an attach
# reported with its stack, and nothing else reported though the report is
# taken while they run; then the refusals, one line and exit 2 each.
# usage: test_attach.sh BUILD_DIR ATTACH_LOAD TRACER STATIC_PROGRAM LEAK_LIBRARY
set -uo pipefail
build="$1"
load="$2"
tracer="$3"
static="$4"
leaklib="$5"
bin="$build/bin/reheap"
cycles="${REHEAP_ATTACH_CYCLES:-100}"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset DEBUGINFOD_URLS

wait_file() { # PATH: up to 20 s
  for _ in $(seq 2000); do [ -e "$1" ] && return 0; sleep 0.01; done
  return 1
}

# Waits until PID runs the program PATH (a child started with & runs the
# shell until its exec).
wait_exec() {
  for _ in $(seq 500); do [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] && return 0; sleep 0.01; done
  return 1
}

# cycles NAME PID DIR LEAK_FUNCTION BYTES BLOCKS
cycles() {
  local name="$1" pid="$2" d="$3" fn="$4" want="$5 bytes in $6 blocks" out
  for i in $(seq "$cycles"); do
    out=$("$bin" attach "$pid" 2>&1) || { fail "$name: attach $i: $out"; return; }
    if [ $((i % 10)) -eq 0 ]; then
      "$bin" stat "$pid" >"$tmp/stat" 2>&1 || fail "$name: stat in cycle $i: $(cat "$tmp/stat")"
    fi
    if [ "$i" -eq $(((cycles + 1) / 2)) ]; then
      touch "$d/trigger"
      wait_file "$d/ack" || fail "$name: the program did not leak"
      "$bin" dump --output "$tmp/$name.txt" "$pid" || fail "$name: dump"
      grep -q "^reheap track: leaked $want from 1 call stacks$" "$tmp/$name.txt" ||
        fail "$name: more reported than the leak: $(grep -v '^    #[1-9]' "$tmp/$name.txt" | head -20)"
      grep -A1 "^leak [0-9]*: $want$" "$tmp/$name.txt" | grep -q "#0 0x[0-9a-f]* $fn+" ||
        fail "$name: the leak after the attach is not reported: $(grep -A1 '^leak' "$tmp/$name.txt" | head -20)"
      grep -q "^reheap track: allocations [1-9]" "$tmp/$name.txt" || fail "$name: no allocations counted"
      # the blocks from before the attach freed since: counted, not reported
      grep -q "frees of blocks from before the attach or not tracked [1-9]" "$tmp/$name.txt" ||
        fail "$name: no frees of blocks from before: $(head -1 "$tmp/$name.txt")"
    fi
    out=$("$bin" detach "$pid" 2>&1) || { fail "$name: detach $i: $out"; return; }
  done
  kill -0 "$pid" 2>/dev/null || fail "$name: the program died"
  out=$("$bin" stat "$pid" 2>&1)
  [ $? -eq 1 ] && printf '%s' "$out" | grep -q "not tracked now" || fail "$name: stat after detach: $out"
}

# program NAME OUTPUT LEAK_FUNCTION BYTES BLOCKS COMMAND...: started, its
# cycles run, stopped, its status and output checked
program() {
  local name="$1" want="$2" fn="$3" bytes="$4" blocks="$5" pid rc
  shift 5
  mkdir "$tmp/$name"
  "$@" "$tmp/$name" >"$tmp/$name.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_file "$tmp/$name/ready" || fail "$name did not start"
  cycles "$name" "$pid" "$tmp/$name" "$fn" "$bytes" "$blocks"
  touch "$tmp/$name/stop"
  wait "$pid"
  rc=$?
  [ $rc -eq 0 ] || fail "$name: exit $rc"
  grep -qx "$want" "$tmp/$name.out" || fail "$name's output: $(cat "$tmp/$name.out")"
}

# the threaded program; python3, its objects through malloc
program c "attach_load: 4 workers, leaked, corrupt blocks 0, failed children 0" attach_leak_now 12288 3 "$load"
program python3 "attach_py: leaked sum ok" only_leak_now 3000 3 \
  env PYTHONMALLOC=malloc python3 "$(dirname "${BASH_SOURCE[0]}")/attach_py.py" "$leaklib"

# refusals: one line, exit 2
refused() { # WHAT PATTERN ARGS...
  local what="$1" pat="$2" err rc
  shift 2
  err=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] || fail "$what: exit $rc ($err)"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && printf '%s' "$err" | grep -q "$pat" || fail "$what: '$err'"
}
sleep 60 &
spid=$!
pids+=("$spid")
wait_exec "$spid" "$(command -v sleep)" || fail "sleep did not start"
refused "no pid" "no process id given" attach
refused "not a pid" "is not a process id" attach 12x
refused "no such process" "no process 999999999" attach 999999999
refused "bad regex" "Unmatched" attach --only '(' "$spid"
refused "detach, never attached" "has no tracker" detach "$spid"
REHEAP_PTRACE_SCOPE_FILE=<(echo 3) refused "ptrace_scope 3" "kernel.yama.ptrace_scope = 3" attach "$spid"
"$bin" attach "$spid" >/dev/null || fail "attach to sleep"
refused "attached twice" "tracked already" attach "$spid"
"$bin" detach "$spid" >/dev/null || fail "detach from sleep"
refused "detached twice" "not attached now" detach "$spid"
"$tracer" "$spid" >"$tmp/tracer.out" &
tpid=$!
pids+=("$tpid")
wait_file "$tmp/tracer.out" && sleep 0.2
refused "under a debugger" "is traced by process $tpid" attach "$spid"
kill "$tpid"
"$static" sleep &
stpid=$!
pids+=("$stpid")
wait_exec "$stpid" "$static" || fail "the static program did not start"
refused "static program" "statically linked" attach "$stpid"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups sleep 60 &
  opid=$!
  pids+=("$opid")
  wait_exec "$opid" "$(command -v sleep)" || fail "another user's sleep did not start"
  refused "another user's process" "belongs to user 65534" attach "$opid"
fi
"$bin" run --track --report /dev/null -- sleep 60 &
rpid=$!
pids+=("$rpid")
for _ in $(seq 100); do kid=$(pgrep -P "$rpid" | head -1); [ -n "$kid" ] && grep -q libreheap_track.so "/proc/$kid/maps" 2>/dev/null && break; sleep 0.05; done
pids+=("$kid")
refused "tracked by run" "tracked already, by 'reheap run --track'" attach "$kid"

[ $fails -eq 0 ] && echo "attach: ok ($cycles cycles each)"
exit $((fails > 0))
