#!/usr/bin/env bash
# rh-track-compare: what tracking costs under reheap, heaptrack and valgrind's
# memcheck, on the bench/ workloads. Each tool's wall time is divided by the
# untracked run on the same heap: heaptrack and memcheck watch glibc's malloc,
# so they are compared with the system-heap run, as is reheap's target
# ("with stacks at least 5 x faster than heaptrack").
# usage: rh-track-compare [REPS | --reps=N] [--quick] [--help]
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and printf must agree on the decimal point

me=rh-track-compare
usage() {
  cat <<'EOF'
usage: rh-track-compare [REPS | --reps=N] [--quick] [--help]

Times every bench/ workload untracked, under reheap's tracker (without
stacks, with frame-pointer stacks, on the system heap and on reheap's, and
with DWARF-unwound stacks on the system heap),
under heaptrack (recording only) and under valgrind's memcheck
(--leak-check=full), and prints markdown tables of slowdowns against
the untracked run on the same heap, with reheap's target.

  REPS, --reps=N  runs per tool and workload, median reported (default 3);
                  memcheck runs once, being 20-100 x slower
  --quick         tiny scales and 1 run: checks that every tool works
                  (heaptrack or valgrind missing is then a note, not an error)
  --help          this text

Exit status: 0 when every run succeeded (whether or not the target is
met), 1 when a run or a tool failed, 2 for a bad option.
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
      [ $argn -eq 1 ] || { echo "$me: unexpected argument '$arg' (only REPS, first, is positional; see --help)" >&2; exit 2; }
      reps=$arg ;;
  esac
done
if [ -z "$reps" ]; then
  reps=$((quick ? 1 : 3))
elif ! [[ $reps =~ ^[1-9][0-9]{0,2}$ ]]; then
  echo "$me: REPS must be a whole number from 1 to 999, not '$reps'" >&2; exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
reheap="$here/reheap"
# the real program of the issue 14 target: CPython on the C library's
# malloc (PYTHONMALLOC=malloc, so every object goes through malloc), about
# 2 million allocations at this scale
pyscript='@CMAKE_SOURCE_DIR@/bench/py_alloc_bench.py'
pyscale=0.15

# name:scale. Scales make the untracked run take ~0.2-0.4 s on 2 cores and
# keep memcheck, the slowest tool, within ~20 s per workload (larson and
# pair are its worst: it runs threads one at a time, and pair is nothing
# but malloc+free). --quick runs everything at 0.01.
workloads=(churn:0.25 larson:0.25 xmalloc:0.4 mstress:0.6 cache-scratch:2
  realloc:0.35 aligned:0.35 large:0.4 frame:0.35 pair:0.25)
names=()
for entry in "${workloads[@]}"; do names+=("${entry%:*}"); done

for f in "$reheap" "${names[@]/#/$here/rh-wl-}"; do
  [ -x "$f" ] || { echo "$me: $f is missing; build first (make build)" >&2; exit 1; }
done

# A missing comparison tool would silently turn the comparison into a table
# of reheap alone, so outside --quick (the smoke test) it is an error.
have_heaptrack=1 have_memcheck=1
for t in heaptrack valgrind; do
  command -v "$t" >/dev/null && continue
  if [ $quick -eq 0 ]; then
    echo "$me: $t is not installed; scripts/deps.sh installs it (Debian package $t)" >&2
    exit 1
  fi
  echo "$me: note: $t is not installed, its column is left empty (--quick)" >&2
  if [ "$t" = heaptrack ]; then have_heaptrack=0; else have_memcheck=0; fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rh-track-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# memcheck's own code for "it found errors", distinct from the workload's.
memcheck_errors=97
# Generous: the slowest expected run (memcheck) takes ~20 s; a hang must
# still end the benchmark rather than stall it.
run_timeout=300

# run_one TOOL WL SCALE: one timed run; sets $secs. TOOL is HEAP-MODE for
# reheap (system-untracked, reheap-stacks, ...), or heaptrack, or memcheck.
# Any failure ends the script with a line naming the workload and tool.
run_one() {
  local tool=$1 wl=$2 scale=$3 prog="$here/rh-wl-$2" rc=0 t0 t1 why='' what ok='^ok'
  local report="$tmp/report" trace="$tmp/heaptrack" heap=${1%-*} cmd=() pre=()
  if [ "$wl" = python3 ]; then
    prog=/usr/bin/python3 scale="$pyscript $scale" ok='^py_alloc_bench: checksum'
    pre=(env PYTHONMALLOC=malloc)
  fi
  rm -f "$report" "$trace".*
  case $tool in
    *-untracked) what="reheap run --heap=$heap"
      cmd=("$reheap" run --heap="$heap" -- "$prog" $scale) ;;
    *-nostacks) what="reheap run --heap=$heap --track=nostacks"
      cmd=("$reheap" run --heap="$heap" --track=nostacks --report "$report" -- "$prog" $scale) ;;
    *-stacks) what="reheap run --heap=$heap --track=stacks"
      cmd=("$reheap" run --heap="$heap" --track=stacks --report "$report" -- "$prog" $scale) ;;
    *-dwarf) what="reheap run --heap=$heap --track=dwarf"
      cmd=("$reheap" run --heap="$heap" --track=dwarf --report "$report" -- "$prog" $scale) ;;
    heaptrack) what=heaptrack
      cmd=(heaptrack -o "$trace" "$prog" $scale) ;;
    memcheck) what="valgrind --tool=memcheck"
      # only definite leaks are errors: larson's detached threads may still
      # hold their thread blocks at exit ("possibly lost"), by timing
      cmd=(valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
           --error-exitcode="$memcheck_errors" -q "$prog" $scale) ;;
  esac
  t0=$EPOCHREALTIME
  "${pre[@]}" timeout -k 10 $run_timeout "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
  t1=$EPOCHREALTIME
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')

  if [ $rc -eq 124 ]; then
    why="timed out after $run_timeout s"
  elif [ "$tool" = memcheck ] && [ $rc -eq $memcheck_errors ]; then
    why="memcheck reported errors"
  elif [ $rc -gt 128 ]; then
    why="killed by signal $((rc - 128))" # by timeout's -k too, if TERM did not end it
  elif [ $rc -ne 0 ]; then
    why="exit status $rc"
  elif ! grep -q "$ok" "$tmp/out"; then
    why="no '$ok' line on stdout"
  elif [[ $tool == *stacks || $tool == *dwarf ]] && ! grep -q '^reheap track: allocations [1-9]' "$report" 2>/dev/null; then
    # A tracked run that wrote no report measured nothing.
    why="no tracking report with allocations in it"
  elif [ "$tool" = heaptrack ] && ! [ -s "$trace.zst" ] && ! [ -s "$trace.gz" ]; then
    why="heaptrack wrote no trace"
  fi
  if [ -n "$why" ]; then
    echo "$me: rh-wl-$wl $scale under '$what' failed: $why" >&2
    tail -n 5 "$tmp/err" | sed 's/^/    | /' >&2
    exit 1
  fi
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
geomean() { awk -v f="${1:-%.2f}" '{ s += log($1); n++ } END { if (n) printf f, exp(s / n) }'; }

modes=(system-untracked system-nostacks system-stacks system-dwarf reheap-untracked reheap-nostacks
       reheap-stacks)
if [ $have_heaptrack -eq 1 ]; then modes+=(heaptrack); fi

declare -A times # "WL,TOOL" -> space-separated seconds
declare -A med   # "WL,TOOL" -> median seconds
start=$EPOCHREALTIME
for entry in "${workloads[@]}"; do
  wl=${entry%:*} scale=${entry#*:}
  if [ $quick -eq 1 ]; then scale=0.01; fi
  for ((r = 0; r < reps; r++)); do
    echo "$me: $wl (scale $scale): run $((r + 1))/$reps" >&2
    # Rotating the order each repetition spreads drift (heat, other load)
    # over all tools instead of charging it to whichever runs last.
    n=${#modes[@]}
    for ((i = 0; i < n; i++)); do
      tool=${modes[(i + r) % n]}
      run_one "$tool" "$wl" "$scale"
      times[$wl,$tool]+="$secs "
    done
  done
  if [ $have_memcheck -eq 1 ]; then
    echo "$me: $wl (scale $scale): memcheck" >&2
    run_one memcheck "$wl" "$scale"
    times[$wl,memcheck]=$secs
  fi
  for tool in "${modes[@]}" memcheck; do
    if [ -n "${times[$wl,$tool]:-}" ]; then med[$wl,$tool]=$(median <<<"${times[$wl,$tool]}"); fi
  done
done
# the real program, on the system heap (heaptrack's), with the same
# rotation of tools
py_modes=(system-untracked system-stacks system-dwarf)
if [ $have_heaptrack -eq 1 ]; then py_modes+=(heaptrack); fi
if [ $quick -eq 1 ]; then pyscale=0.01; fi
for ((r = 0; r < reps; r++)); do
  echo "$me: python3 (scale $pyscale): run $((r + 1))/$reps" >&2
  n=${#py_modes[@]}
  for ((i = 0; i < n; i++)); do
    tool=${py_modes[(i + r) % n]}
    run_one "$tool" python3 "$pyscale"
    times[python3,$tool]+="$secs "
  done
done
for tool in "${py_modes[@]}"; do med[python3,$tool]=$(median <<<"${times[python3,$tool]}"); done
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# over WL A B: A's median time over B's for WL (a slowdown when B is the
# untracked run), empty when A did not run.
over() {
  if [ -n "${med[$1,$2]:-}" ]; then ratio "${med[$1,$2]}" "${med[$1,$3]}"; fi
}
# geo CELL [FORMAT]: the geomean of a column (CELL WL gives one cell),
# empty if a cell is, so a tool that did not run never shows a partial one.
geo() {
  local vals=() v wl
  for wl in "${names[@]}"; do
    v=$("$1" "$wl")
    [ -n "$v" ] || return 0
    vals+=("$v")
  done
  printf '%s\n' "${vals[@]}" | geomean "${2:-}"
}
cell_sys_u() { printf '%.3f' "${med[$1,system-untracked]}"; }
cell_sys_n() { over "$1" system-nostacks system-untracked; }
cell_sys_s() { over "$1" system-stacks system-untracked; }
cell_sys_d() { over "$1" system-dwarf system-untracked; }
cell_ht() { over "$1" heaptrack system-untracked; }
cell_ht_vs_d() { over "$1" heaptrack system-dwarf; }
cell_mc() { over "$1" memcheck system-untracked; }
cell_ht_vs_s() { over "$1" heaptrack system-stacks; }
cell_rh_u() { printf '%.3f' "${med[$1,reheap-untracked]}"; }
cell_rh_vs_sys() { over "$1" reheap-untracked system-untracked; }
cell_rh_n() { over "$1" reheap-nostacks reheap-untracked; }
cell_rh_s() { over "$1" reheap-stacks reheap-untracked; }
cell_ht_vs_rh_s() { over "$1" heaptrack reheap-stacks; }
dash() { if [ -n "$1" ]; then printf '%s' "$1"; else printf '—'; fi; } # empty cell: a tool that did not run

versions=
if [ $have_heaptrack -eq 1 ]; then versions+=", $(heaptrack --version 2>&1 | head -n 1)"; fi
if [ $have_memcheck -eq 1 ]; then versions+=", $(valgrind --version 2>&1 | head -n 1)"; fi
echo "## Tracking cost: reheap, heaptrack, memcheck"
echo
echo "Median wall time of $reps run(s) per tool and workload (memcheck: 1 run), $(nproc) cores$versions."
echo "Slowdown = tool's time / untracked time on the same heap; heaptrack and memcheck"
echo "observe glibc's malloc and are compared with the system-heap run. Times include each"
echo "tool's start-up and, for heaptrack, writing its compressed trace (not heaptrack_print)."
echo "The workloads keep frame pointers, so reheap's frame-pointer stacks are as deep as"
echo "heaptrack's; 'dwarf' is reheap unwinding by DWARF tables (libunwind) as heaptrack does."
if [ $quick -eq 1 ]; then
  echo "Scale 0.01 for every workload (--quick)."
else
  echo "Workload scales: $(printf '%s, ' "${workloads[@]}" | sed 's/:/ /g; s/, $//')."
fi
echo
echo "### On the system heap (glibc malloc)"
echo
echo "| workload | untracked s | reheap nostacks (x) | reheap stacks (x) | reheap dwarf (x) | heaptrack (x) | memcheck (x) | heaptrack / reheap stacks | heaptrack / reheap dwarf |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for wl in "${names[@]}"; do
  echo "| $wl | $(cell_sys_u "$wl") | $(cell_sys_n "$wl") | $(cell_sys_s "$wl") | $(cell_sys_d "$wl") | $(dash "$(cell_ht "$wl")") | $(dash "$(cell_mc "$wl")") | $(dash "$(cell_ht_vs_s "$wl")") | $(dash "$(cell_ht_vs_d "$wl")") |"
done
g_ht_vs_s=$(geo cell_ht_vs_s)
g_ht_vs_d=$(geo cell_ht_vs_d)
echo "| **geomean** | $(geo cell_sys_u %.3f) | $(geo cell_sys_n) | $(geo cell_sys_s) | $(geo cell_sys_d) | $(dash "$(geo cell_ht)") | $(dash "$(geo cell_mc)") | $(dash "$g_ht_vs_s") | $(dash "$g_ht_vs_d") |"
echo
echo "### On reheap's heap"
echo
echo "| workload | untracked s | untracked vs system heap | reheap nostacks (x) | reheap stacks (x) | heaptrack time (system heap) / reheap stacks time |"
echo "|---|---:|---:|---:|---:|---:|"
for wl in "${names[@]}"; do
  echo "| $wl | $(cell_rh_u "$wl") | $(cell_rh_vs_sys "$wl") | $(cell_rh_n "$wl") | $(cell_rh_s "$wl") | $(dash "$(cell_ht_vs_rh_s "$wl")") |"
done
echo "| **geomean** | $(geo cell_rh_u %.3f) | $(geo cell_rh_vs_sys) | $(geo cell_rh_n) | $(geo cell_rh_s) | $(dash "$(geo cell_ht_vs_rh_s)") |"
echo
echo "### A real program: CPython $(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') on the system heap"
echo
echo "bench/py_alloc_bench.py at scale $pyscale with PYTHONMALLOC=malloc (every object through malloc)."
echo
echo "| program | untracked s | reheap stacks (x) | reheap dwarf (x) | heaptrack (x) | time added: reheap stacks / heaptrack | time added: reheap dwarf / heaptrack |"
echo "|---|---:|---:|---:|---:|---:|---:|"
# added A B U: (A - U) / (B - U), the time one tool adds over the other's
added() { awk -v a="$1" -v b="$2" -v u="$3" 'BEGIN { if (b - u > 0) printf "%.3f", (a - u) / (b - u) }'; }
py_u=${med[python3,system-untracked]} py_s=${med[python3,system-stacks]} py_d=${med[python3,system-dwarf]}
py_h=${med[python3,heaptrack]:-}
py_as='' py_ad=''
if [ -n "$py_h" ]; then py_as=$(added "$py_s" "$py_h" "$py_u"); py_ad=$(added "$py_d" "$py_h" "$py_u"); fi
echo "| python3 | $(printf '%.3f' "$py_u") | $(ratio "$py_s" "$py_u") | $(ratio "$py_d" "$py_u") | $(dash "$([ -n "$py_h" ] && ratio "$py_h" "$py_u")") | $(dash "$py_as") | $(dash "$py_ad") |"
echo
echo "### Targets"
echo
echo "Time added = tracked time - untracked time; over the workloads, from the geomean slowdowns"
echo "(geomean - 1, in untracked times)."
echo
echo "| target | measured | goal | status |"
echo "|---|---:|---:|---|"
le() { awk -v m="$1" -v g="$2" 'BEGIN { print (m != "" && m <= g ? "met" : "MISSED") }'; }
g_s=$(geo cell_sys_s) g_d=$(geo cell_sys_d) g_h=$(geo cell_ht)
if [ -n "$g_h" ]; then
  a_s=$(added "$g_s" "$g_h" 1) a_d=$(added "$g_d" "$g_h" 1)
  echo "| time added, reheap fp stacks / heaptrack (geomean of the workloads, system heap) | $a_s | <= 0.2 | $(le "$a_s" 0.2) |"
  echo "| the same, reheap unwinding by DWARF as heaptrack does | $a_d | <= 0.2 | $(le "$a_d" 0.2) |"
  echo "| time added, reheap fp stacks / heaptrack (python3) | $py_as | <= 0.2 | $(le "$py_as" 0.2) |"
  echo "| the same, reheap unwinding by DWARF (python3) | $py_ad | <= 0.2 | $(le "$py_ad" 0.2) |"
fi
if [ -n "$g_ht_vs_s" ]; then
  status=$(awk -v m="$g_ht_vs_s" 'BEGIN { print (m >= 5 ? "met" : "MISSED") }')
  echo "| reheap with stacks >= 5x faster than heaptrack (geomean, system heap) | ${g_ht_vs_s}x | >= 5x | $status |"
  status=$(awk -v m="$g_ht_vs_d" 'BEGIN { print (m >= 5 ? "met" : "MISSED") }')
  echo "| the same with reheap unwinding by DWARF, as heaptrack does | ${g_ht_vs_d}x | >= 5x | $status |"
else
  echo "| reheap with stacks >= 5x faster than heaptrack (geomean, system heap) | — | >= 5x | not measured (no heaptrack) |"
fi
if [ $quick -eq 1 ]; then
  echo
  echo "(--quick: tiny scales where start-up dominates; a check that every tool works, not a measurement.)"
fi
echo
echo "Total time: ${elapsed} s."
