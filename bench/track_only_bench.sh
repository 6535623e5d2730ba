#!/usr/bin/env bash
# reheap run --track --only: the overhead when the program's hot allocator
# traffic is in a library that is not tracked (issue 15's target: <= 1.05x
# untracked), against the whole-process tracker on the same program. The
# runs of the configurations take turns (one of each, REPS times), as the
# time of one configuration moves by some 10% with the address layout;
# medians. usage: track_only_bench.sh BUILD_DIR [ROUNDS] [REPS]
set -euo pipefail
build="$1"
rounds="${2:-100000000}"
reps="${3:-9}"
bin="$build/bin/reheap"
prog="$build/bin/only_main"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names=("untracked (reheap heap)" "--track --only libonly_leak" "--track=nostacks (whole process)"
       "--track (whole process)")
run_config() {
  case $1 in
  0) "$bin" run -- "$prog" "$rounds" ;;
  1) "$bin" run --track --only 'libonly_leak' -- "$prog" "$rounds" ;;
  2) "$bin" run --track=nostacks -- "$prog" "$rounds" ;;
  3) "$bin" run --track -- "$prog" "$rounds" ;;
  esac
}

echo "track --only: $rounds rounds of malloc+free in libonly_hot.so (untracked), leaks in libonly_leak.so"
echo "  (medians of $reps runs each, taking turns; $(nproc) cores, $(date -u +%Y-%m-%d))"
for _ in $(seq "$reps"); do
  for c in 0 1 2 3; do
    s=$(date +%s.%N)
    run_config $c >/dev/null 2>"$tmp/err$c"
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN{print e - s}' >>"$tmp/t$c"
  done
done
grep -q "leaked 3000 bytes in 3 blocks" "$tmp/err1" ||
  { echo "track_only_bench: the --only report is wrong:"; cat "$tmp/err1"; exit 1; }
median() { sort -g "$1" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
base=$(median "$tmp/t0")
printf '| %-34s | %8s | %10s | %s |\n' "run" "seconds" "/untracked" "target"
for c in 0 1 2 3; do
  m=$(median "$tmp/t$c")
  target=""
  [ $c -eq 1 ] && target="<= 1.05"
  printf '| %-34s | %8.3f | %10s | %s |\n' "${names[$c]}" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.3f", a / b}')" "$target"
done
