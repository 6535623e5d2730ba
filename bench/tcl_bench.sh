#!/usr/bin/env bash
# rh-tcl-bench: the takeover of a real program's own allocator, Tcl 8.6's
# (profiles/tcl8.6), before and after, on bench/tcl_alloc_bench.tcl:
# plain tclsh8.6, under `reheap run` (malloc swapped only: Tcl's
# allocator still serves) and under the profile (reheap's heap serves).
# usage: rh-tcl-bench [REPS | --reps=N] [--quick] [--help]
set -euo pipefail
export LC_ALL=C
me=rh-tcl-bench
usage() {
  cat <<'EOT'
usage: rh-tcl-bench [REPS | --reps=N] [--quick] [--help]

Runs bench/tcl_alloc_bench.tcl with plain tclsh8.6, under `reheap run`
and under `reheap run --profile profiles/tcl8.6`, REPS times each
(interleaved), and prints a markdown table of medians: the script's own
time, peak resident memory, and the allocations on reheap's heap.

  REPS, --reps=N  runs per configuration (default 5)
  --quick         1 run of each: checks that every configuration works
  --help          this text

Exit status: 0 when every run succeeded with the same checksum, 1 when
one failed or differed, 2 for a bad option.
EOT
}
reps='' quick=0
for arg in "$@"; do
  case $arg in
    --help | -h) usage; exit 0 ;;
    --quick) quick=1 ;;
    --reps=*) reps=${arg#--reps=} ;;
    -*) echo "$me: unknown option '$arg' (see --help)" >&2; exit 2 ;;
    *) [ -z "$reps" ] || { echo "$me: unexpected argument '$arg' (see --help)" >&2; exit 2; }; reps=$arg ;;
  esac
done
[ -n "$reps" ] || reps=$((quick ? 1 : 5))
[[ $reps =~ ^[1-9][0-9]{0,2}$ ]] || { echo "$me: REPS must be a whole number from 1 to 999, not '$reps'" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
reheap="$here/reheap"
src='@CMAKE_SOURCE_DIR@'
[[ $src == @* ]] && src="$here/.."
profile="$src/profiles/tcl8.6"
script="$src/bench/tcl_alloc_bench.tcl"
tclsh=$(command -v tclsh8.6) || { echo "$me: tclsh8.6 is missing; scripts/deps.sh installs it (Debian package tcl8.6)" >&2; exit 1; }
[ -x "$reheap" ] || { echo "$me: $reheap is missing; build first (make build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "$me: $*" >&2; exit 1; }

configs=(plain malloc profile)
declare -A label=([plain]='plain tclsh8.6' [malloc]='`reheap run` (malloc swapped only)'
  [profile]='`reheap run --profile profiles/tcl8.6`')
cmd() {
  case $1 in
    plain) c=("$tclsh" "$script") ;;
    malloc) c=("$reheap" run --stats --strict -- "$tclsh" "$script") ;;
    profile) c=("$reheap" run --stats --strict --profile "$profile" -- "$tclsh" "$script") ;;
  esac
}
sum=''
for r in $(seq "$reps"); do
  for k in 0 1 2; do
    cf=${configs[$(((k + r) % 3))]}
    cmd "$cf"
    /usr/bin/time -f 'rss_kb=%M' -o "$tmp/time" "${c[@]}" >"$tmp/out" 2>"$tmp/err" ||
      fail "${label[$cf]}: failed: $(head -c 400 "$tmp/err")"
    line=$(grep '^tcl-bench:' "$tmp/out") || fail "${label[$cf]}: no result line"
    s=$(awk '{ print $3 }' <<<"$line")
    [ -z "$sum" ] && sum=$s
    [ "$s" = "$sum" ] || fail "${label[$cf]}: checksum $s, not $sum"
    allocs=$(sed -n 's/^reheap:   allocations *\([0-9]*\).*/\1/p' "$tmp/err")
    echo "$(awk '{ print $5 }' <<<"$line") $(sed -n 's/rss_kb=//p' "$tmp/time") ${allocs:--}" >>"$tmp/$cf"
  done
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A t m a
for cf in "${configs[@]}"; do
  t[$cf]=$(awk '{ print $1 }' "$tmp/$cf" | median)
  m[$cf]=$(awk '{ print $2 }' "$tmp/$cf" | median)
  a[$cf]=$(awk '{ print $3 }' "$tmp/$cf" | tail -1)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "## Tcl 8.6: bench/tcl_alloc_bench.tcl (median of $reps runs, $(nproc) cores)"
echo
echo "| configuration | median s | time / plain | time / reheap run | peak RSS MiB | RSS / plain | allocations on reheap's heap |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for cf in "${configs[@]}"; do
  printf '| %s | %.3f | %s | %s | %.1f | %s | %s |\n' "${label[$cf]}" "${t[$cf]}" "$(ratio "${t[$cf]}" "${t[plain]}")" \
    "$(ratio "${t[$cf]}" "${t[malloc]}")" "$(awk -v k="${m[$cf]}" 'BEGIN { print k / 1024 }')" \
    "$(ratio "${m[$cf]}" "${m[plain]}")" "${a[$cf]}"
done
echo
echo "Checksum $sum in every run. Median s: the script's own time (clock"
echo "microseconds); peak RSS: /usr/bin/time's maximum resident set; allocations:"
echo "reheap run --stats (under the profile, Tcl's own allocations too)."
