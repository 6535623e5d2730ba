#!/usr/bin/env bash
# rh-py-bench: CPython on reheap, with and without its profiles.
# bench/py_alloc_bench.py timed on plain python3, under `reheap run` with
# malloc swapped only (pymalloc still serves small objects), under
# profiles/python3.11 (pymalloc's entry points taken over), under
# profiles/python3.11-debian12 (its allocator tables' pointers switched)
# and with PYTHONMALLOC=malloc under `reheap run` (every small object
# through malloc).
# usage: rh-py-bench [REPS | --reps=N] [--quick] [--help]
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and printf must agree on the decimal point

me=rh-py-bench
usage() {
  cat <<'EOF'
usage: rh-py-bench [REPS | --reps=N] [--quick] [--help]

Times bench/py_alloc_bench.py on plain python3, under `reheap run`, under
`reheap run --profile profiles/python3.11`, under `reheap run --profile
profiles/python3.11-debian12` and with PYTHONMALLOC=malloc under
`reheap run`, REPS times each (interleaved), and prints a markdown
table of median wall times and their ratio to plain python3.

  REPS, --reps=N  runs per configuration, median reported (default 5)
  --quick         1 run at a tenth of the work: checks every configuration
  --help          this text

The interpreter is /usr/bin/python3 (Debian's, which the profile is
written for), or $PYTHON. It must be CPython 3.11; any other version is
skipped with a note (exit status 0).

Exit status: 0 when every run succeeded, 1 when a run failed or the
checksums differ, 2 for a bad option.
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
scale=$([ $quick -eq 1 ] && echo 0.1 || echo 1)

here=$(cd "$(dirname "$0")" && pwd)
reheap="$here/reheap"
# CMake writes the source tree in here; run from bench/ itself, it is ..
src='@CMAKE_SOURCE_DIR@'
[[ $src == @* ]] && src="$here/.."
profile="$src/profiles/python3.11"
tables="$src/profiles/python3.11-debian12"
script="$src/bench/py_alloc_bench.py"
[ -x "$reheap" ] || { echo "$me: $reheap is missing; build first (make build)" >&2; exit 1; }
for f in "$profile" "$tables" "$script"; do
  [ -r "$f" ] || { echo "$me: $f is missing" >&2; exit 1; }
done

# A wrapper (pyenv's shim, a script) would put a shell between reheap and
# CPython, and the profile's functions are not in a shell: the real binary.
py=${PYTHON:-/usr/bin/python3}
command -v "$py" >/dev/null || { echo "$me: note: $py not found; skipped"; exit 0; }
py=$("$py" -c 'import sys; print(sys.executable)')
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != 3.11 ]; then
  echo "$me: note: $py is Python $version; profiles/python3.11 is for 3.11, skipped"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

configs=(plain malloc profile tables pymalloc_off)
declare -A label=(
  [plain]="plain python3"
  [malloc]='`reheap run` (malloc swapped only, pymalloc on)'
  [profile]='`reheap run --profile profiles/python3.11`'
  [tables]='`reheap run --profile profiles/python3.11-debian12`'
  [pymalloc_off]='`PYTHONMALLOC=malloc reheap run`'
)
cmd() { # CONFIG -> the command line, in the array c
  case $1 in
    plain) c=(env -u PYTHONMALLOC "$py" "$script" "$scale") ;;
    malloc) c=(env -u PYTHONMALLOC "$reheap" run -- "$py" "$script" "$scale") ;;
    profile) c=(env -u PYTHONMALLOC "$reheap" run --profile "$profile" -- "$py" "$script" "$scale") ;;
    tables) c=(env -u PYTHONMALLOC "$reheap" run --profile "$tables" -- "$py" "$script" "$scale") ;;
    pymalloc_off) c=(env PYTHONMALLOC=malloc "$reheap" run -- "$py" "$script" "$scale") ;;
  esac
}

fail() { echo "$me: $*" >&2; exit 1; }

sum=''
run_once() { # CONFIG
  local c out t0 t1
  cmd "$1"
  t0=$EPOCHREALTIME
  out=$("${c[@]}" 2>"$tmp/err") || fail "${label[$1]}: exit status $?: $(head -c 300 "$tmp/err")"
  t1=$EPOCHREALTIME
  local got work
  got=$(sed -n 's/^py_alloc_bench: checksum \([0-9]*\)$/\1/p' <<<"$out")
  work=$(sed -n 's/^py_alloc_bench: work \([0-9.]*\) s$/\1/p' <<<"$out")
  [ -n "$got" ] && [ -n "$work" ] || fail "${label[$1]}: no checksum or no work line: $out"
  [ -z "$sum" ] && sum=$got
  [ "$got" = "$sum" ] || fail "${label[$1]}: checksum $got, another run gave $sum"
  echo "$work" >>"$tmp/$1.work"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$tmp/$1.wall"
}

for r in $(seq "$reps"); do
  # the order turns each repetition, so no configuration always runs first
  for k in 0 1 2 3 4; do run_once "${configs[$(((k + r) % 5))]}"; done
done

# One more run of each reheap configuration with --stats: how many blocks
# reheap's heap handed out, which tells how much of CPython each reaches.
declare -A allocs=([plain]='-')
for cf in "${configs[@]}"; do
  [ "$cf" = plain ] && continue
  cmd "$cf"
  c2=()
  for w in "${c[@]}"; do
    c2+=("$w")
    [ "$w" = run ] && c2+=(--stats)
  done
  n=$("${c2[@]}" 2>&1 >/dev/null | sed -n 's/^reheap: *allocations *\([0-9]*\).*/\1/p')
  [ -n "$n" ] || fail "${label[$cf]}: no allocation count under --stats"
  allocs[$cf]=$n
done

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A work wall
for cf in "${configs[@]}"; do
  work[$cf]=$(median <"$tmp/$cf.work") wall[$cf]=$(median <"$tmp/$cf.wall")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "## CPython $version: bench/py_alloc_bench.py (scale $scale, median of $reps runs, $(nproc) cores)"
echo
echo "| configuration | median s | time / plain | whole command, median s | time / plain | allocations on reheap's heap |"
echo "|---|---:|---:|---:|---:|---:|"
for cf in "${configs[@]}"; do
  printf '| %s | %s | %s | %s | %s | %s |\n' "${label[$cf]}" "${work[$cf]}" "$(ratio "${work[$cf]}" "${work[plain]}")" \
    "${wall[$cf]}" "$(ratio "${wall[$cf]}" "${wall[plain]}")" "${allocs[$cf]}"
done
echo
cat <<EOF
Interpreter: $py; checksum $sum in every run.
Median s: the script's work as it times itself (time.perf_counter),
without the interpreter's start-up or reheap's; whole command: wall time
from the start of the command to its exit, start-ups included (the
profile's takeover among them). Allocations: blocks reheap's heap handed
out in one more run under reheap run --stats. Without
PYTHONMALLOC, CPython's small objects come from pymalloc's arenas, not
malloc. profiles/python3.11 sends the calls that enter PyObject_Malloc,
_Calloc, _Realloc and _Free at their first instruction to reheap's heap
(calls the compiler entered past it stay with pymalloc;
docs/hook-spec.md); profiles/python3.11-debian12 switches the pointers of
the object and memory domains' allocator tables, which Debian's build
calls through, so that every pymalloc call goes to reheap's heap (that
build only: another is refused, and runs as plain python3).
EOF
