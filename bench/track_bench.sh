#!/usr/bin/env bash
# rh-track-bench: the tracker's cost. 4 threads x 2,500 malloc+free (the
# published test) and 4 threads x 1,000,000 for stable numbers, untracked,
# tracked without stacks, with frame-pointer stacks and with DWARF-unwound
# stacks, on the
# system heap and on reheap's; medians of REPS runs; ratios against the
# issue's targets. usage: rh-track-bench [REPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reheap="$here/reheap"
wl="$here/rh-wl-track-ops"
reps="${1:-7}"

run() { # HEAP MODE THREADS OPS -> ops/s
  local heap=$1 mode=$2 th=$3 ops=$4 args=()
  case $mode in
    untracked) args=() ;;
    nostacks) args=(--track=nostacks --report /dev/null) ;;
    stacks) args=(--track --report /dev/null) ;;
    dwarf) args=(--track=dwarf --report /dev/null) ;;
  esac
  "$reheap" run --heap="$heap" "${args[@]}" -- "$wl" "$th" "$ops" | sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p'
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }

echo "## Tracking: operations per second (median of $reps runs, 2 cores)"
echo
echo "| heap | threads x ops | untracked | no stacks | fp stacks | dwarf stacks | no stacks / untracked time | fp stacks / untracked time | dwarf / untracked time |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
declare -A result
for heap in system reheap; do
  for size in "4 2500" "4 1000000"; do
    set -- $size
    for mode in untracked nostacks stacks dwarf; do
      vals=""
      for r in $(seq "$reps"); do vals+="$(run $heap $mode "$1" "$2")"$'\n'; done
      result[$heap,$2,$mode]=$(printf '%s' "$vals" | median)
    done
    u=${result[$heap,$2,untracked]} n=${result[$heap,$2,nostacks]} s=${result[$heap,$2,stacks]}
    w=${result[$heap,$2,dwarf]}
    printf '| %s | %s x %s | %s | %s | %s | %s | %.2f | %.2f | %.2f |\n' "$heap" "$1" "$2" "$u" "$n" "$s" \
      "$w" "$(div "$u" "$n")" "$(div "$u" "$s")" "$(div "$u" "$w")"
  done
done
echo
n=${result[reheap,1000000,nostacks]} u=${result[reheap,1000000,untracked]} s=${result[reheap,1000000,stacks]}
echo "### Targets (reheap's heap, 4 x 1,000,000)"
echo
echo "| target | measured | goal | status |"
echo "|---|---:|---:|---|"
st() { awk -v m="$1" -v g="$2" -v dir="$3" 'BEGIN { ok = dir == "ge" ? m >= g : m <= g; print ok ? "met" : "MISSED" }'; }
printf '| tracked ops/s without stacks | %s | >= 20000000 | %s |\n' "$n" "$(st "$n" 20000000 ge)"
r1=$(div "$u" "$n"); r2=$(div "$u" "$s")
printf '| tracked/untracked time, no stacks | %.2f | <= 1.5 | %s |\n' "$r1" "$(st "$r1" 1.5 le)"
printf '| tracked/untracked time, fp stacks | %.2f | <= 3 | %s |\n' "$r2" "$(st "$r2" 3 le)"
