#!/usr/bin/env bash
# The reheap command's contract: usage errors, exit statuses, heaps, --stats.
# usage: test_cli.sh BUILD_DIR
set -uo pipefail
bin="$1/bin/reheap"
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_usage DESCRIPTION ARGS...: exit 2, exactly one line on stderr, nothing on stdout
expect_usage() {
  local what="$1"; shift
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr has $(wc -l <"$tmp/err") lines, want 1: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && fail "$what: wrote to stdout"
  grep -q "$EXPECT" "$tmp/err" || fail "$what: stderr lacks '$EXPECT': $(cat "$tmp/err")"
}

EXPECT="no command" expect_usage "no arguments"
EXPECT="unknown command 'frobnicate'" expect_usage "unknown command" frobnicate
EXPECT="unknown option '--bogus'" expect_usage "bad top option" --bogus
EXPECT="unknown option '--bogus'" expect_usage "bad run option" run --bogus -- true
EXPECT="unknown heap 'ptmalloc9'" expect_usage "unknown heap" run --heap=ptmalloc9 -- true
EXPECT="needs a name" expect_usage "heap without name" run --heap
EXPECT="no program given" expect_usage "no program" run
EXPECT="no program given" expect_usage "no program after --" run --stats --
EXPECT="'no-such-program-xyz' not found" expect_usage "missing program" run -- no-such-program-xyz
EXPECT="not found" expect_usage "missing path" run -- "$tmp/nothing/here"
touch "$tmp/plain"; chmod 644 "$tmp/plain"
EXPECT="not executable" expect_usage "not executable" run -- "$tmp/plain"
EXPECT="libreheap.so not found" REHEAP_LIB="$tmp/missing.so" expect_usage "missing library" run -- true

# programs LD_PRELOAD cannot reach are refused, not run on their own heap
printf 'int main(void) { return 0; }\n' >"$tmp/st.c"
cc -static -o "$tmp/static" "$tmp/st.c" || fail "cannot build a static test program"
EXPECT="statically linked" expect_usage "static program" run -- "$tmp/static"
"$bin" run --heap=system -- "$tmp/static" || fail "static program on --heap=system"
printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000' >"$tmp/elf32"
chmod +x "$tmp/elf32"
EXPECT="not an x86-64 program" expect_usage "32-bit program" run -- "$tmp/elf32"
printf '#!/bin/sh\nexit 4\n' >"$tmp/script"; chmod +x "$tmp/script"
"$bin" run -- "$tmp/script"; rc=$?; [ "$rc" -eq 4 ] || fail "script came back as $rc"

# help and version
"$bin" --help >"$tmp/out" 2>&1 && grep -q "usage: reheap" "$tmp/out" || fail "--help"
"$bin" run --help >"$tmp/out" 2>&1 && grep -q -- "--heap=NAME" "$tmp/out" || fail "run --help"
"$bin" --version | grep -Eq '^reheap [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

# exit statuses pass through; a signal gives 128+N
"$bin" run -- sh -c 'exit 7'; rc=$?; [ "$rc" -eq 7 ] || fail "exit 7 came back as $rc"
"$bin" run -- true; rc=$?; [ "$rc" -eq 0 ] || fail "true came back as $rc"
"$bin" run -- sh -c 'kill -TERM $$'; rc=$?; [ "$rc" -eq 143 ] || fail "SIGTERM came back as $rc"
# without --, the first word that is not an option is the program
"$bin" run sh -c 'exit 3'; rc=$?; [ "$rc" -eq 3 ] || fail "run without -- gave $rc"

# the program's own output and arguments are untouched
out=$("$bin" run -- printf '%s|' a 'b c' '') || fail "printf under reheap"
[ "$out" = "a|b c||" ] || fail "arguments mangled: '$out'"

# every heap really is the one in the process
for heap in reheap system mimalloc jemalloc tcmalloc; do
  case $heap in
    reheap) want=libreheap.so ;;
    system) want= ;;
    mimalloc) want=libmimalloc ;;
    jemalloc) want=libjemalloc ;;
    tcmalloc) want=libtcmalloc ;;
  esac
  maps=$("$bin" run --heap=$heap -- cat /proc/self/maps) || fail "cat under --heap=$heap"
  if [ -n "$want" ]; then
    grep -q "$want" <<<"$maps" || fail "--heap=$heap: $want not mapped"
  fi
  for other in libreheap.so libmimalloc libjemalloc libtcmalloc; do
    [ "$other" = "$want" ] && continue
    grep -q "$other" <<<"$maps" && fail "--heap=$heap: $other mapped too"
  done
done

# the user's own LD_PRELOAD is kept, after reheap's
maps=$(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$bin" run -- cat /proc/self/maps)
grep -q libreheap.so <<<"$maps" && grep -q libjemalloc <<<"$maps" || fail "user LD_PRELOAD dropped"

# --stats: a summary on stderr with real counts; stdout untouched
stats_of() { # HEAP -> stderr of a run that allocates 20000 blocks in a C++ program... in sort
  "$bin" run --heap="$1" --stats -- sort -n "$tmp/numbers" >"$tmp/sorted" 2>"$tmp/stats"
}
seq 20000 -1 1 >"$tmp/numbers"
for heap in reheap system mimalloc; do
  stats_of $heap || fail "--stats run on $heap failed"
  cmp -s "$tmp/sorted" <(seq 1 20000) || fail "--heap=$heap: sort output differs"
  for key in allocations frees "peak live" "peak resident" "OS map calls"; do
    grep -q "reheap:   $key" "$tmp/stats" || fail "--heap=$heap --stats lacks '$key': $(cat "$tmp/stats")"
  done
  allocs=$(awk '/reheap:   allocations/ {print $3}' "$tmp/stats")
  [[ "$allocs" =~ ^[0-9]+$ ]] && [ "$allocs" -ge 20 ] || fail "--heap=$heap: allocations '$allocs'"
done
grep -Eq 'OS map calls +[1-9]' <("$bin" run --stats -- sort -n "$tmp/numbers" 2>&1 >/dev/null) ||
  fail "reheap heap: no OS map calls counted"

# --stats when the program leaves by _exit: the summary says why counts are missing
"$bin" run --stats -- "${bin%/*}/rh_test_ender" _exit 5 2>"$tmp/stats"; rc=$?
[ "$rc" -eq 5 ] || fail "_exit status $rc"
grep -q "counters are missing" "$tmp/stats" || fail "_exit: no explanation: $(cat "$tmp/stats")"

# --stats counts the program itself, not the processes it starts
"$bin" run --stats -- sh -c 'sort -n "$1" >/dev/null; sort -n "$1" >/dev/null' sh "$tmp/numbers" \
  2>"$tmp/stats" || fail "sh under --stats"
[ "$(grep -c 'reheap:   allocations' "$tmp/stats")" -eq 1 ] || fail "several summaries: $(cat "$tmp/stats")"

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "cli: all checks passed"
