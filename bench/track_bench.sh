#!/usr/bin/env bash
# rh-track-bench: the tracker's cost. 4 threads x 2,500 malloc+free (the
# published test) and 4 threads x 2,000,000 (the issue's size), untracked,
# tracked without stacks, with frame-pointer stacks, with DWARF-unwound
# stacks and sampled (--track=sample, 512 KiB), on the
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
    sample) args=(--track=sample --report /dev/null) ;;
  esac
  "$reheap" run --heap="$heap" "${args[@]}" -- "$wl" "$th" "$ops" | sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p'
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }

echo "## Tracking: operations per second (median of $reps runs, 2 cores)"
echo
echo "| heap | threads x ops | untracked | no stacks | fp stacks | dwarf stacks | sampled | no stacks / untracked time | fp stacks / untracked time | dwarf / untracked time | sampled / untracked time |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A result
for heap in system reheap; do
  for size in "4 2500" "4 2000000"; do
    set -- $size
    # the modes take turns within each repetition, so that the machine's
    # drift (other load, heat) falls on all of them rather than on one
    declare -A vals=()
    for r in $(seq "$reps"); do
      for mode in untracked nostacks stacks dwarf sample; do vals[$mode]+="$(run $heap $mode "$1" "$2")"$'\n'; done
    done
    for mode in untracked nostacks stacks dwarf sample; do
      result[$heap,$2,$mode]=$(printf '%s' "${vals[$mode]}" | median)
    done
    u=${result[$heap,$2,untracked]} n=${result[$heap,$2,nostacks]} s=${result[$heap,$2,stacks]}
    w=${result[$heap,$2,dwarf]} m=${result[$heap,$2,sample]}
    printf '| %s | %s x %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f |\n' "$heap" "$1" "$2" "$u" "$n" \
      "$s" "$w" "$m" "$(div "$u" "$n")" "$(div "$u" "$s")" "$(div "$u" "$w")" "$(div "$u" "$m")"
  done
done
echo
n=${result[reheap,2000000,nostacks]} u=${result[reheap,2000000,untracked]} s=${result[reheap,2000000,stacks]}
m=${result[reheap,2000000,sample]} gu=${result[system,2000000,untracked]} gn=${result[system,2000000,nostacks]}
echo "### Targets (4 x 2,000,000)"
echo
echo "| target | measured | goal | status |"
echo "|---|---:|---:|---|"
st() { awk -v m="$1" -v g="$2" -v dir="$3" 'BEGIN { ok = dir == "ge" ? m >= g : m <= g; print ok ? "met" : "MISSED" }'; }
r1=$(div "$u" "$n"); r2=$(div "$u" "$s"); r3=$(div "$gu" "$gn"); r4=$(div "$u" "$m")
printf '| tracked/untracked time, reheap, no stacks | %.2f | <= 1.3 | %s |\n' "$r1" "$(st "$r1" 1.3 le)"
printf '| tracked/untracked time, reheap, fp stacks | %.2f | <= 2.5 | %s |\n' "$r2" "$(st "$r2" 2.5 le)"
printf '| tracked/untracked time, glibc, no stacks | %.2f | <= 1.5 | %s |\n' "$r3" "$(st "$r3" 1.5 le)"
printf '| sampled/untracked time, reheap | %.2f | <= 1.05 | %s |\n' "$r4" "$(st "$r4" 1.05 le)"
