#!/usr/bin/env bash
# The takeover on Windows, before and after: examples/legacy-game built for
# x86-64 Windows (mingw-w64), run under wine64 on its own managers and with
# reheap_takeover.dll taking them over (profiles/legacy-game, through
# rh-win-run), alternately, RUNS times each; medians, and their ratios in
# the same run. usage: legacy_bench.sh SOURCE_DIR OUT [--quick]
set -euo pipefail
src="$1"
out="$2"
frames=3000
runs=5
if [ "${3:-}" = --quick ]; then frames=300; runs=1; fi
bash "$src/tests/windows/build.sh" "$src" "$out" x86_64
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
export WINEPREFIX="$out/wineprefix" WINEDEBUG=-all
[ -d "$WINEPREFIX/drive_c" ] || "$wine" wineboot --init >/dev/null 2>&1
bin="$out/x86_64/bin"
profile="Z:$(realpath "$src/profiles/legacy-game" | tr / '\\')"
keys=(pool_ops_per_s shared_pool_ops_per_s heap_ops_per_s large_mb_per_s frame_p50_us frame_p99_us rss_bytes)
declare -A vals
for ((r = 0; r < runs; r++)); do
  for cfg in own reheap; do
    if [ $cfg = own ]; then
      line=$(cd "$bin" && bash "$src/tests/windows/wine_run.sh" "$wine" ./legacy-game.exe --bench $frames)
    else
      line=$(cd "$bin" && bash "$src/tests/windows/wine_run.sh" "$wine" ./rh-win-run.exe "$profile" reheap_takeover.dll legacy-game.exe --bench $frames)
    fi
    grep -q " ok=1 " <<<"$line" || { echo "legacy_bench (windows): $cfg: $line" >&2; exit 1; }
    if [ $cfg = reheap ] && ! grep -q "own_heap=0/0 own_pool=0/0 own_shared=0/0 own_assets=0/0 own_simd=0/0" <<<"$line"; then
      echo "legacy_bench (windows): the profile did not take every manager over: $line" >&2
      exit 1
    fi
    for k in "${keys[@]}"; do vals[$cfg.$k]+="$(sed -n "s/.* $k=\([0-9.]*\).*/\1/p" <<<"$line") "; done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "legacy-game on Windows x86-64 (wine64), $frames frames, median of $runs runs each; ratio = reheap / own"
printf '%-24s %14s %14s %8s  %s\n' measure own reheap ratio better
for k in "${keys[@]}"; do
  a=$(median "${vals[own.$k]}")
  b=$(median "${vals[reheap.$k]}")
  case $k in frame_*|rss_*) better=lower ;; *) better=higher ;; esac
  printf '%-24s %14s %14s %8s  %s\n' "$k" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2fx", (a > 0 ? b / a : 0)}')" "$better"
done
