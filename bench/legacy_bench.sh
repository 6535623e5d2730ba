#!/usr/bin/env bash
# rh-legacy-bench: the takeover, before and after, on examples/legacy-game.
# The same binary runs on its own managers (before), under `reheap run`
# with malloc swapped only (its managers still serve), and under `reheap
# run --profile profiles/legacy-game` (after: its managers are reheap's).
# usage: rh-legacy-bench [REPS | --reps=N] [--quick] [--help]
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and printf must agree on the decimal point

me=rh-legacy-bench
usage() {
  cat <<'EOF'
usage: rh-legacy-bench [REPS | --reps=N] [--quick] [--help]

Runs `legacy-game --bench` alone, under `reheap run` (malloc swapped only)
and under `reheap run --profile profiles/legacy-game`, REPS times each
(interleaved), and prints a markdown table of medians: pool and heap
manager operations per second, large-buffer MB/s, frame p50/p99, memory
efficiency, and OS map calls per second (counted in one more run of each
under strace).

  REPS, --reps=N  runs per configuration, median reported (default 5)
  --quick         1 run of 300 frames: checks that every configuration works
                  (strace missing is then a note, not an error)
  --help          this text

Exit status: 0 when every run succeeded, 1 when a run failed (non-zero
exit, a corrupted byte, a frame count that differs, or the wrong managers
serving), 2 for a bad option.
EOF
}

reps='' quick=0 argn=0
for arg in "$@"; do
  argn=$((argn + 1))
  case $arg in
    --help | -h) usage; exit 0 ;;
    --quick) quick=1 ;;
    --reps=*) reps=${arg#--reps=} ;;
    -*) echo "$me: unknown option '$arg' (see --help)" >&2; exit 2 ;;
    *)
      [ $argn -eq 1 ] || { echo "$me: unexpected argument '$arg' (see --help)" >&2; exit 2; }
      reps=$arg ;;
  esac
done
if [ -z "$reps" ]; then
  reps=$((quick ? 1 : 5))
elif ! [[ $reps =~ ^[1-9][0-9]{0,2}$ ]]; then
  echo "$me: REPS must be a whole number from 1 to 999, not '$reps'" >&2; exit 2
fi
frames=$((quick ? 300 : 3000))

here=$(cd "$(dirname "$0")" && pwd)
reheap="$here/reheap"
game="$here/legacy-game"
# CMake writes the source tree in here; run from bench/ itself, it is ..
src='@CMAKE_SOURCE_DIR@'
[[ $src == @* ]] && src="$here/.."
profile="$src/profiles/legacy-game"
for f in "$reheap" "$game"; do
  [ -x "$f" ] || { echo "$me: $f is missing; build first (make build)" >&2; exit 1; }
done
[ -r "$profile" ] || { echo "$me: $profile is missing" >&2; exit 1; }

have_strace=1
if ! command -v strace >/dev/null; then
  if [ $quick -eq 0 ]; then
    echo "$me: strace is not installed; scripts/deps.sh installs it (Debian package strace)" >&2
    exit 1
  fi
  echo "$me: note: strace is not installed, the OS map calls column is left empty (--quick)" >&2
  have_strace=0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

configs=(alone malloc profile)
declare -A label=(
  [alone]='alone (its own managers)'
  [malloc]='`reheap run` (malloc swapped only)'
  [profile]='`reheap run --profile profiles/legacy-game`'
)
cmd() { # CONFIG -> the command line, in the array c
  case $1 in
    alone) c=("$game" --bench "$frames") ;;
    malloc) c=("$reheap" run -- "$game" --bench "$frames") ;;
    profile) c=("$reheap" run --profile "$profile" -- "$game" --bench "$frames") ;;
  esac
}

fail() { echo "$me: $*" >&2; exit 1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# One run: the game's line, checked, and the wall time of the whole command.
# Checked: the game's own verdict, the frames it played, and who served:
# its managers must count their calls alone and with malloc swapped, and
# none under the profile.
run_once() { # CONFIG REP
  local c line t0 t1 heap
  cmd "$1"
  t0=$EPOCHREALTIME
  line=$("${c[@]}" 2>"$tmp/err") || fail "${label[$1]}: exit status $?: $(head -c 300 "$tmp/err") $line"
  t1=$EPOCHREALTIME
  line=$(grep '^legacy-game-bench:' <<<"$line") || fail "${label[$1]}: no result line"
  [ "$(field ok "$line")" = 1 ] || fail "${label[$1]}: the game found corrupted bytes: $line"
  [ "$(field frames "$line")" = "$frames" ] || fail "${label[$1]}: played $(field frames "$line") frames, not $frames"
  heap=$(field own_heap "$line")
  if [ "$1" = profile ]; then
    for k in own_heap own_pool own_shared own_assets own_simd; do
      [ "$(field $k "$line")" = 0/0 ] || fail "${label[$1]}: the game's own managers still served ($k): $line"
    done
  elif [ "${heap%/*}" -eq 0 ]; then
    fail "${label[$1]}: its own heap manager served nothing: $line"
  fi
  echo "$line wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >>"$tmp/$1"
}

# mmap, munmap, mremap and brk of the game's own process (the one that
# execs legacy-game), before and after the mark its main makes (prctl):
# start-up (the loader, reheap's library and the takeover) apart from the
# game's work, and under `reheap run` the launcher's calls in neither.
map_calls() { # CONFIG -> "startup work"
  local c
  cmd "$1"
  strace -f -qq -o "$tmp/strace" -e trace=execve,prctl,mmap,munmap,mremap,brk "${c[@]}" >/dev/null \
    2>"$tmp/err" || fail "${label[$1]}: under strace: $(head -c 300 "$tmp/err")"
  awk -v game="\"$game\"" '
    $2 ~ /^execve\(/ && index($2, game) == 8 && $NF == 0 { pid = $1; next }
    $1 != pid { next }
    $2 ~ /^prctl\(PR_SET_NAME,/ { main = 1; next }
    $2 ~ /^(mmap|munmap|mremap|brk)\(/ { n[main + 0]++ }
    END { if (pid == "" || !main) exit 1; print n[0] + 0, n[1] + 0 }' "$tmp/strace" ||
    fail "${label[$1]}: under strace, no execve of the game or no mark from its main"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
med() { # CONFIG KEY
  while read -r line; do field "$2" " $line"; done <"$tmp/$1" | median
}

for r in $(seq "$reps"); do
  # the order turns each repetition, so no configuration always runs first
  for k in 0 1 2; do run_once "${configs[$(((k + r) % 3))]}" "$r"; done
done

declare -A v
for cf in "${configs[@]}"; do
  for key in pool_ops_per_s shared_pool_ops_per_s heap_ops_per_s large_mb_per_s frame_p50_us frame_p99_us mem_efficiency rss_bytes \
    live_bytes main_s wall_s; do
    v[$cf,$key]=$(med "$cf" "$key")
  done
  v[$cf,startup]='' v[$cf,maps]='' v[$cf,map_rate]=''
  if [ $have_strace -eq 1 ]; then
    counts=$(map_calls "$cf") # a failure ends the script here (set -e)
    v[$cf,startup]=${counts% *} v[$cf,maps]=${counts#* }
    v[$cf,map_rate]=$(awk -v n="${v[$cf,maps]}" -v t="${v[$cf,main_s]}" 'BEGIN { printf "%.0f", n / t }')
  fi
done

mops() { awk -v x="$1" 'BEGIN { printf "%.1f", x / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'; }

echo "## legacy-game: its own managers, malloc swapped, taken over (median of $reps runs, $frames frames, $(nproc) cores)"
echo
echo "| configuration | pool Mops/s | shared pool Mops/s | heap manager Mops/s | large MB/s | frame p50 us | frame p99 us | memory efficiency | OS map calls/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for cf in "${configs[@]}"; do
  printf '| %s | %s | %s | %s | %s | %s | %s | %s (%s MiB resident) | %s |\n' "${label[$cf]}" \
    "$(mops "${v[$cf,pool_ops_per_s]}")" "$(mops "${v[$cf,shared_pool_ops_per_s]}")" \
    "$(mops "${v[$cf,heap_ops_per_s]}")" "${v[$cf,large_mb_per_s]}" \
    "${v[$cf,frame_p50_us]}" "${v[$cf,frame_p99_us]}" "${v[$cf,mem_efficiency]}" \
    "$(awk -v b="${v[$cf,rss_bytes]}" 'BEGIN { printf "%.1f", b / 1048576 }')" "${v[$cf,map_rate]}"
done
printf '| profile / alone | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
  "$(ratio "${v[profile,pool_ops_per_s]}" "${v[alone,pool_ops_per_s]}")" \
  "$(ratio "${v[profile,shared_pool_ops_per_s]}" "${v[alone,shared_pool_ops_per_s]}")" \
  "$(ratio "${v[profile,heap_ops_per_s]}" "${v[alone,heap_ops_per_s]}")" \
  "$(ratio "${v[profile,large_mb_per_s]}" "${v[alone,large_mb_per_s]}")" \
  "$(ratio "${v[profile,frame_p50_us]}" "${v[alone,frame_p50_us]}")" \
  "$(ratio "${v[profile,frame_p99_us]}" "${v[alone,frame_p99_us]}")" \
  "$(ratio "${v[profile,mem_efficiency]}" "${v[alone,mem_efficiency]}")" \
  "$(ratio "${v[profile,map_rate]}" "${v[alone,map_rate]}")"
echo
live=$(awk -v b="${v[alone,live_bytes]}" 'BEGIN { printf "%.1f", b / 1048576 }')
cat <<EOF
Each column is the median of its own over the runs. Pool: Pool_Alloc and
Pool_Free of 96-byte entities over 2048 slots at random; shared pool:
LockedPool_Alloc and LockedPool_Free (the same pool behind one lock) of
64-byte messages from 2 threads at once, each over 1024 slots of its own
at random, all threads' operations per second; heap manager:
Heap_Alloc, Heap_Free and Heap_Size over 1024 blocks of 16 B to 16 KB;
large: Asset_Alloc and Asset_Free of 256 KB to 4 MB buffers, 4 live, every
page written and read back, MB = 10^6 bytes asked for (Asset_Alloc is
calloc: it zeroes, on its own managers and under the profile alike).
Frames: the game's frame loop after those phases. Memory efficiency: the
bytes the game holds by its own count after the last frame ($live MiB)
over the process's resident memory (VmRSS) at that moment, which counts
whatever the phases before left mapped and touched. In the ratio row,
higher is better for the first three columns and memory efficiency, lower
for frame times and map calls.
EOF
if [ $have_strace -eq 1 ]; then
  cat <<EOF

OS map calls: mmap, munmap, mremap and brk made by the game's process
from the start of its main to its exit, counted with \`strace -f\` in one
more run of each configuration, divided by the median time of main in
the untraced runs (strace slows the program down). Counts: alone
${v[alone,maps]}, malloc swapped ${v[malloc,maps]}, profile ${v[profile,maps]}; median times of main
${v[alone,main_s]} s, ${v[malloc,main_s]} s, ${v[profile,main_s]} s. Left out, before main (the
loader; under \`reheap run\` reheap's library and the takeover too):
${v[alone,startup]}, ${v[malloc,startup]} and ${v[profile,startup]} calls. Median wall time of the
whole command: ${v[alone,wall_s]} s, ${v[malloc,wall_s]} s, ${v[profile,wall_s]} s.
EOF
fi
